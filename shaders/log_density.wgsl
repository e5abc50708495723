// The fused per-sample reduction: one workgroup per sample sums, in one pass,
//   log|det J| = sum_l sum_j s_l[b, j]  (affine couplings)  +  sum_l sum_d scale_l[d]
//   log p(x)   = -0.5 * sum_d z[b, d]^2 - (D/2) ln(2 pi) + log|det J|
// out[b] = log|det J|, out[batch + b] = log p(x).
#import common
#import reduce
#kernel density::LOG_DENSITY

override WG: u32 = 64u;

struct Params {
    batch: u32,
    dim: u32,
    half: u32,
    layers: u32,
    z_offset: u32,
    // COUPLING_ADDITIVE or COUPLING_AFFINE (only affine couplings have per-sample log-scales).
    coupling: u32,
    // Offset of scale_0 in params; the K scale vectors are contiguous.
    scales_offset: u32,
    // Samples per block of log_scales (its row count per layer).
    s_batch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> states: array<f32>;
@group(0) @binding(2) var<storage, read> log_scales: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;


@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    // Whole workgroups leave together, so the barriers below stay uniform.
    if (row >= p.batch) {
        return;
    }
    var sq = 0.0;
    var det = 0.0;
    for (var d = lid; d < p.dim; d += WG) {
        let z = states[p.z_offset + row * p.dim + d];
        sq = fma(z, z, sq);
    }
    for (var i = lid; i < p.layers * p.dim; i += WG) {
        det += params[p.scales_offset + i];
    }
    if (p.coupling == COUPLING_AFFINE) {
        for (var i = lid; i < p.layers * p.half; i += WG) {
            let l = i / p.half;
            let j = i % p.half;
            det += log_scales[(l * p.s_batch + row) * p.half + j];
        }
    }
    let sums = workgroup_sum2(lid, vec2<f32>(sq, det));
    if (lid == 0u) {
        let log_two_pi = 1.8378770664093453;
        out[row] = sums.y;
        out[p.batch + row] = -0.5 * sums.x - 0.5 * f32(p.dim) * log_two_pi + sums.y;
    }
}
