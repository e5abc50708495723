// Forward linear layer, workgroup-memory tiles (body: matmul_shared.wgsl):
//   C[M, N] = epilogue( A[M, K] . B[K, N] (+ bias) )
//   A: activations, vec4 loads along K (row stride lda, zero padding).
//   B: weights [K (+1 bias row), N], vec4 loads along N (row stride ldb).
//   a_ones = 1: the bias trick; opA has a column of ones after its K stored columns, so
//   opA's K is k + 1 and row k of B (the bias) is added like any other row.
#import common
#import matmul_common
#import matmul_shared
#kernel matmul::shared::MATMUL_NN_SHARED

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

fn k_total() -> u32 {
    return p.k + p.a_ones;
}

// opA[row, k .. k + 4]: the stored columns (k < p.k implies the vec4 lies inside the padded
// row), then the ones column, then zeros.
fn load_a(blk: SharedBlock, k0: u32) -> vec4<f32> {
    let pos = along_k(blk);
    let row = blk.row0 + pos.x;
    let k = k0 + pos.y;
    var v = vec4<f32>();
    if (row < p.m) {
        if (k < p.k) {
            v = a[row * (p.lda / 4u) + k / 4u];
        }
        let ones = vec4<u32>(k, k + 1u, k + 2u, k + 3u) == vec4<u32>(p.k);
        v = select(v, vec4<f32>(1.0), ones & vec4<bool>(p.a_ones == 1u));
    }
    return v;
}

fn put_a(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    put_a_along_k(buf, blk, v);
}

// B[k, col .. col + 4]; rows past opA's K and columns past N are zeros.
fn load_b(blk: SharedBlock, k0: u32) -> vec4<f32> {
    let pos = along_i(blk);
    let col = blk.col0 + pos.x;
    let k = k0 + pos.y;
    if (col < p.n && k < k_total()) {
        return b[k * (p.ldb / 4u) + col / 4u];
    }
    return vec4<f32>();
}

fn put_b(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    put_b_along_i(buf, blk, v);
}
