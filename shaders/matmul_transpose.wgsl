// First pass of the `TransposedSubgroup` weight gradient: writes opA^T of a TN product as a
// row-major matrix T[M, K] (row stride ldc = K rounded up to 4), so that C = T B runs on the
// NN kernels, which on lavapipe do 3x the FLOPs per second of the TN ones.
//   a: A stored [K, M - a_ones] with row stride lda.
//   c: T; T[r, k] = A[k, r], and with a_ones = 1 the last row r = M - 1 is all ones (the bias
//      trick); the columns k in K .. ldc are written as zeros (the NN kernel reads them as
//      vec4 and the scratch buffer is not zeroed between uses).
//   b, aux: not read (bound to keep the matmul bindings and snippets).
// One invocation per element of T, on a [ldc / 64, M] grid: no integer division.
#import common
#import matmul_common
#kernel matmul::MATMUL_TRANSPOSE

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    let r = gid.y;
    if (k >= p.ldc || r >= p.m) {
        return;
    }
    var v = 0.0;
    if (k < p.k) {
        if (p.a_ones == 1u && r == p.m - 1u) {
            v = 1.0;
        } else {
            v = a[k * p.lda + r];
        }
    }
    c[r * p.ldc + k] = v;
}
