// Weight gradient of a linear layer, workgroup-memory tiles (body: matmul_shared.wgsl):
//   C[M, N] = A^T . B,  with A stored [K, M] and B [K, N] (K = batch)
//   A: the layer's input activations, vec4 loads along M (row stride lda, zero padding).
//   B: the gradient at the layer's output, vec4 loads along N (row stride ldb).
//   a_ones = 1: opA^T has a row of ones after its M - 1 stored rows, so the last row of C
//   is the column sum of B (the bias gradient).
#import common
#import matmul_common
#import matmul_shared
#kernel matmul::shared::MATMUL_TN_SHARED

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

fn k_total() -> u32 {
    return p.k;
}

// opA^T[m .. m + 4, k] = A[k, m .. m + 4]: the stored columns of A (m < stored_m implies
// the vec4 lies inside the padded row), then the ones row, then zeros.
fn load_a(blk: SharedBlock, k0: u32) -> vec4<f32> {
    let pos = along_i(blk);
    let m = blk.row0 + pos.x;
    let k = k0 + pos.y;
    let stored_m = p.m - p.a_ones;
    var v = vec4<f32>();
    if (k < p.k) {
        if (m < stored_m) {
            v = a[k * (p.lda / 4u) + m / 4u];
        }
        let ones = vec4<u32>(m, m + 1u, m + 2u, m + 3u) == vec4<u32>(stored_m);
        v = select(v, vec4<f32>(1.0), ones & vec4<bool>(p.a_ones == 1u));
    }
    return v;
}

fn put_a(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    put_a_along_i(buf, blk, v);
}

// B[k, col .. col + 4]; rows past K and columns past N are zeros.
fn load_b(blk: SharedBlock, k0: u32) -> vec4<f32> {
    let pos = along_i(blk);
    let col = blk.col0 + pos.x;
    let k = k0 + pos.y;
    if (col < p.n && k < p.k) {
        return b[k * (p.ldb / 4u) + col / 4u];
    }
    return vec4<f32>();
}

fn put_b(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    put_b_along_i(buf, blk, v);
}
