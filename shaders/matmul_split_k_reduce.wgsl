// Second pass of a split-K matmul: C = epilogue( sum over slices s = 0, 1, .. of P[s] ),
// adding the slices in that fixed order (the result does not depend on scheduling).
//   a: the partial sums, `k` slices of C's padded shape, `lda` elements apart (vec4 loads).
//   b: not read (bound to keep the matmul bindings and snippets).
//   c, aux: as in every matmul; columns past N (the padding) are not written.
// One invocation per vec4 of C's padded rows, 1-D work on a 2-D grid (flat_index).
#import common
#import matmul_common
#kernel matmul::shared::MATMUL_SPLIT_K_REDUCE

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    let ldc4 = p.ldc / 4u;
    if (i >= p.m * ldc4) {
        return;
    }
    var sum = vec4<f32>();
    for (var s = 0u; s < p.k; s++) {
        sum += a[s * (p.lda / 4u) + i];
    }
    let row = i / ldc4;
    let col = 4u * (i % ldc4);
    for (var j = 0u; j < 4u; j++) {
        if (col + j >= p.n) {
            break;
        }
        let at = row * p.ldc + col + j;
        c[at] = matmul_epilogue(sum[j], at);
    }
}
