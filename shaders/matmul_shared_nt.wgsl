// Input gradient of a linear layer, workgroup-memory tiles (body: matmul_shared.wgsl):
//   C[M, N] = epilogue( A[M, K] . B[N, K]^T )
//   A: the gradient at the layer's output [batch, out], vec4 loads along K.
//   B: the weights [in, out] (the bias row is not read), vec4 loads along K.
//   EPILOGUE_RELU_GRAD multiplies by (aux > 0): the derivative of the ReLU whose output is aux.
#import common
#import matmul_common
#import matmul_shared
#kernel matmul::shared::MATMUL_NT_SHARED

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

fn k_total() -> u32 {
    return p.k;
}

// A[row, k .. k + 4] (k < K implies the vec4 lies inside the padded row); zeros past M or K.
fn load_a(blk: SharedBlock, k0: u32) -> vec4<f32> {
    let pos = along_k(blk);
    let row = blk.row0 + pos.x;
    let k = k0 + pos.y;
    if (row < p.m && k < p.k) {
        return a[row * (p.lda / 4u) + k / 4u];
    }
    return vec4<f32>();
}

fn put_a(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    put_a_along_k(buf, blk, v);
}

// B[col, k .. k + 4] = opB[k .. k + 4, col]; zeros past N or K.
fn load_b(blk: SharedBlock, k0: u32) -> vec4<f32> {
    let pos = along_k(blk);
    let col = blk.col0 + pos.x;
    let k = k0 + pos.y;
    if (col < p.n && k < p.k) {
        return b[col * (p.ldb / 4u) + k / 4u];
    }
    return vec4<f32>();
}

fn put_b(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    put_b_along_k(buf, blk, v);
}
