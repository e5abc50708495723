// Inverse of the data transform, for figures: logit space (or [0, 1) space) back to pixel
// intensities in [0, 1], v = (sigmoid(y) - a) / (1 - 2a), clamped.
#import common
#kernel transform::TO_PIXELS

override WG: u32 = 256u;

struct Params {
    count: u32,
    logit: u32,
    alpha: f32,
    in_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.count) {
        return;
    }
    var v = src[p.in_offset + i];
    if (p.logit == 1u) {
        v = (1.0 / (1.0 + exp(-v)) - p.alpha) / (1.0 - 2.0 * p.alpha);
    }
    dst[i] = clamp(v, 0.0, 1.0);
}
