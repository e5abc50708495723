// Forward linear layer:  C[M, N] = epilogue( A[M, K] . B[K, N] (+ bias) )
//   A: activations, scalar loads, row stride lda.
//   B: weights [K (+1 bias row), N] as vec4 rows, row stride ldb (a multiple of 4).
//   a_ones = 1: the bias trick, opA has an extra column of ones, so row K of B is added.
//
// Register-blocked without workgroup memory or barriers (barriers are very slow on software
// Vulkan): each invocation keeps a 4 x 16 block of C as four mat4x4 accumulators (column v of
// acc_i holds C[row0 + i, col0 + 4v .. col0 + 4v + 4]). Rows past M are clamped on load and
// skipped on store; columns past N fall in the zero padding of the row stride.
#import common
#import matmul_common
#import matmul_tiled
#kernel matmul::MATMUL_NN

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col0 = gid.x * 16u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    let a0 = min(row0, p.m - 1u) * p.lda;
    let a1 = min(row0 + 1u, p.m - 1u) * p.lda;
    let a2 = min(row0 + 2u, p.m - 1u) * p.lda;
    let a3 = min(row0 + 3u, p.m - 1u) * p.lda;
    var acc0 = mat4x4<f32>();
    var acc1 = mat4x4<f32>();
    var acc2 = mat4x4<f32>();
    var acc3 = mat4x4<f32>();
    for (var k = 0u; k < p.k; k++) {
        let bk = b_block_4x16(k, col0);
        acc0 += a[a0 + k] * bk;
        acc1 += a[a1 + k] * bk;
        acc2 += a[a2 + k] * bk;
        acc3 += a[a3 + k] * bk;
    }
    if (p.a_ones == 1u) {
        let bias = b_block_4x16(p.k, col0);
        acc0 += bias;
        acc1 += bias;
        acc2 += bias;
        acc3 += bias;
    }
    store_block_4x16(row0, col0, array<mat4x4<f32>, 4>(acc0, acc1, acc2, acc3));
}
