// Weight gradient of a linear layer:  C[M, N] = A^T . B,  with A stored [K, M] and B [K, N]
//   A: the layer's input activations [batch, in] (so K = batch, M = in (+1)), vec4 loads.
//   B: the gradient at the layer's output [batch, out], vec4 loads.
//   a_ones = 1: opA^T has an extra row of ones (row M - 1), so the last row of C is the
//   column sum of B: the bias gradient comes out of the same dispatch as the weights'.
//
// Each invocation keeps a 4 x 16 block of C (four mat4x4, as in matmul_nn.wgsl). Per k it
// loads one vec4 of A (4 consecutive rows of C) and a 4-vec4 block of B. Row strides are
// multiples of 4 and the padding is zero, so loads past M or N read zeros or clamped rows.
#import common
#import matmul_common
#import matmul_tiled
#kernel matmul::MATMUL_TN

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
    let col0 = gid.x * 16u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    // Rows of C (columns of the stored A) beyond the stored width read the ones row or zero.
    let stored_m = p.m - p.a_ones;
    let ones = select(vec4<f32>(0.0), vec4<f32>(1.0), (vec4<u32>(row0, row0 + 1u, row0 + 2u, row0 + 3u) == vec4<u32>(stored_m)) & vec4<bool>(p.a_ones == 1u));
    let a_in_range = row0 < stored_m;
    var acc0 = mat4x4<f32>();
    var acc1 = mat4x4<f32>();
    var acc2 = mat4x4<f32>();
    var acc3 = mat4x4<f32>();
    for (var k = 0u; k < p.k; k++) {
        var ak = ones;
        if (a_in_range) {
            ak += a[(k * p.lda + row0) / 4u];
        }
        let bk = b_block_4x16(k, col0);
        acc0 += ak.x * bk;
        acc1 += ak.y * bk;
        acc2 += ak.z * bk;
        acc3 += ak.w * bk;
    }
    store_block_4x16(row0, col0, array<mat4x4<f32>, 4>(acc0, acc1, acc2, acc3));
}
