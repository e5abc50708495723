// Input gradient of a linear layer:  C[M, N] = epilogue( A[M, K] . B[N, K]^T )
//   A: the gradient at the layer's output [batch, out], vec4 loads along K.
//   B: the weights [in, out] (the bias row is not read), vec4 loads along K.
//   EPILOGUE_RELU_GRAD multiplies by (aux > 0): the derivative of the ReLU whose output is aux.
//
// Each invocation keeps a 4 x 4 block of C in one mat4x4 (column i = C[row0 + i, col0..]);
// per 4 values of k it loads a 4x4 block of A and of B and adds transpose(A4) * B4.
// K runs over the padded row stride: the zero padding of A and B adds nothing.
#import common
#import matmul_common
#kernel matmul::MATMUL_NT

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col0 = gid.x * 4u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    let lda4 = p.lda / 4u;
    let ldb4 = p.ldb / 4u;
    let a0 = min(row0, p.m - 1u) * lda4;
    let a1 = min(row0 + 1u, p.m - 1u) * lda4;
    let a2 = min(row0 + 2u, p.m - 1u) * lda4;
    let a3 = min(row0 + 3u, p.m - 1u) * lda4;
    let b0 = min(col0, p.n - 1u) * ldb4;
    let b1 = min(col0 + 1u, p.n - 1u) * ldb4;
    let b2 = min(col0 + 2u, p.n - 1u) * ldb4;
    let b3 = min(col0 + 3u, p.n - 1u) * ldb4;
    var acc = mat4x4<f32>();
    for (var k4 = 0u; k4 < (p.k + 3u) / 4u; k4++) {
        let ak = mat4x4<f32>(a[a0 + k4], a[a1 + k4], a[a2 + k4], a[a3 + k4]);
        let bk = mat4x4<f32>(b[b0 + k4], b[b1 + k4], b[b2 + k4], b[b3 + k4]);
        acc += transpose(bk) * ak;
    }
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j;
        if (col >= p.n) {
            break;
        }
        for (var i = 0u; i < 4u; i++) {
            let r = row0 + i;
            if (r >= p.m) {
                break;
            }
            c[r * p.ldc + col] = matmul_epilogue(acc[i][j], r * p.ldc + col);
        }
    }
}
