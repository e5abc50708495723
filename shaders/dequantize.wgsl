// Data transform, one workgroup per sample: gathers the batch's 8-bit images (packed four to
// a u32) from the dataset resident on the GPU, dequantizes them with fresh uniform noise,
//   v = (pixel + u) / 256,  u ~ U[0, 1) from a counter-based hash of (seed, image, pixel),
// optionally maps them to logit space, y = logit(a + (1 - 2a) v), and reduces the transform's
// per-sample log-Jacobian  sum_d [ln(1 - 2a) - ln q - ln(1 - q)],  q = a + (1 - 2a) v
// (0 without the logit). The 1/256 scaling is accounted for on the host (-D ln 256).
// With has_split = 1 it also writes part split_part of each row (mask, half as
// common.wgsl's part_of) into split_dst, row stride split_ld: the first coupling layer's
// conditioner input, the split that gather.wgsl would otherwise do in a dispatch of its own.
#import common
#import reduce
#kernel transform::DEQUANTIZE

override WG: u32 = 64u;

struct Params {
    batch: u32,
    dim: u32,
    seed: u32,
    // 1: u = 0.5 instead of noise (deterministic evaluation and figures).
    no_noise: u32,
    logit: u32,
    alpha: f32,
    out_offset: u32,
    // Row r of the batch is image indices[index_offset + r].
    index_offset: u32,
    has_split: u32,
    mask: u32,
    half: u32,
    split_part: u32,
    split_ld: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> states: array<f32>;
@group(0) @binding(4) var<storage, read_write> pre_logdet: array<f32>;
@group(0) @binding(5) var<storage, read_write> split_dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.batch) {
        return;
    }
    let image = indices[p.index_offset + row];
    var acc = 0.0;
    for (var d = lid; d < p.dim; d += WG) {
        let flat = image * p.dim + d;
        let pixel = pixel_in(pixels[flat / 4u], flat);
        var u = 0.5;
        if (p.no_noise == 0u) {
            u = uniform01(p.seed, image, d);
        }
        var v = (pixel + u) / 256.0;
        if (p.logit == 1u) {
            // 1 - q from 1 - v = (256 - pixel - u) / 256, not by subtraction from q ~ 1:
            // that would lose the small bright-pixel tail to f32 cancellation.
            let scale = 1.0 - 2.0 * p.alpha;
            let q = p.alpha + scale * v;
            let one_minus_q = p.alpha + scale * ((256.0 - pixel - u) / 256.0);
            v = log(q) - log(one_minus_q);
            acc += log(scale) - log(q) - log(one_minus_q);
        }
        states[p.out_offset + row * p.dim + d] = v;
        if (p.has_split == 1u) {
            let pj = part_of(p.mask, p.half, d);
            if (pj.x == p.split_part) {
                split_dst[row * p.split_ld + pj.y] = v;
            }
        }
    }
    let total = workgroup_sum(lid, acc);
    if (lid == 0u) {
        pre_logdet[row] = total;
    }
}
