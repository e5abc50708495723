// First pass of the `TransposedSubgroup` weight gradient: writes opA^T of a TN product as a
// row-major matrix T[M, K] (row stride ldc = K rounded up to 4), so that C = T B runs on the
// NN kernels, which on lavapipe do 3x the FLOPs per second of the TN ones.
//   a: A stored [K, M - a_ones] with row stride lda (a multiple of 4, zero padded).
//   c: T; T[r, k] = A[k, r], and with a_ones = 1 the last row r = M - 1 is all ones (the bias
//      trick); the columns k in K .. ldc are written as zeros (the NN kernel reads them as
//      vec4 and the scratch buffer is not zeroed between uses).
//   b, aux: not read (bound to keep the matmul bindings and snippets).
// One invocation per 4 x 4 tile: four vec4 loads along M (rows k0 .. k0 + 3 of A) and four
// vec4 stores along K (rows r0 .. r0 + 3 of T). On lavapipe every load and store is a loop
// over the lanes, so moving a vec4 per loop instead of one f32 quarters the loops.
// Grid: [ceil(ldc / 4 / 16), ceil(M / 4 / 4)] workgroups of 16 x 4.
#import common
#import matmul_common
#kernel matmul::MATMUL_TRANSPOSE

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

// Row k of A, columns r0 .. r0 + 3, with the ones row of the bias trick and zeros past K.
fn a_row(k: u32, r0: u32) -> vec4<f32> {
    if (k >= p.k) {
        return vec4<f32>(0.0);
    }
    let stored_m = p.m - p.a_ones;
    var v = vec4<f32>(0.0);
    // Columns past stored_m are A's zero padding while inside the row stride.
    if (r0 < p.lda) {
        v = a[(k * p.lda + r0) / 4u];
    }
    if (p.a_ones == 1u) {
        let ones = vec4<u32>(r0, r0 + 1u, r0 + 2u, r0 + 3u) == vec4<u32>(stored_m);
        v = select(v, vec4<f32>(1.0), ones);
    }
    return v;
}

@compute @workgroup_size(16, 4, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k0 = gid.x * 4u;
    let r0 = gid.y * 4u;
    if (k0 >= p.ldc || r0 >= p.m) {
        return;
    }
    let v0 = a_row(k0, r0);
    let v1 = a_row(k0 + 1u, r0);
    let v2 = a_row(k0 + 2u, r0);
    let v3 = a_row(k0 + 3u, r0);
    let ldc4 = p.ldc / 4u;
    let o = r0 * ldc4 + k0 / 4u;
    c[o] = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
    if (r0 + 1u < p.m) {
        c[o + ldc4] = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
    }
    if (r0 + 2u < p.m) {
        c[o + 2u * ldc4] = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
    }
    if (r0 + 3u < p.m) {
        c[o + 3u * ldc4] = vec4<f32>(v0.w, v1.w, v2.w, v3.w);
    }
}
