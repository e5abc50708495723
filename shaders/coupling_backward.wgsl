// Backward of one coupling layer plus its scale, for the loss L = mean_b -log p(x_b).
// Given gy = dL/dx_{l+1} (for the last layer dL/dz, seeded by loss.wgsl); the log-det's own
// seed dL/dlog|det J|_b = -1/B enters as the -1/B below:
//   dc = gy * exp(s_l)
//   conditioning half:  gx_a = dc_a     (the MLP's input gradient is added by scatter_add)
//   additive:           gx_b = dc_b,          gh = dc_b
//   affine:             gx_b = dc_b exp(s),   gh_t = dc_b,
//                       gh_raw = (dc_b x_b exp(s) - 1/B) (1 - (s/c)^2)    [-1/B: the log-det]

override WG: u32 = 256u;

struct Params {
    // The layer's geometry, as the forward kernel gets it (s_offset unused).
    layer: CouplingParams,
    inv_batch: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read> states: array<f32>;
@group(0) @binding(3) var<storage, read> h: array<f32>;
@group(0) @binding(4) var<storage, read> params: array<f32>;
@group(0) @binding(5) var<storage, read_write> gx: array<f32>;
@group(0) @binding(6) var<storage, read_write> gh: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.layer.batch * p.layer.dim) {
        return;
    }
    let row = i / p.layer.dim;
    let d = i % p.layer.dim;
    let dc = gy[i] * exp(params[p.layer.scale_offset + d]);
    let pj = part_of(p.layer.mask, p.layer.half, d);
    if (pj.x != p.layer.tpart) {
        gx[i] = dc;
        return;
    }
    let j = pj.y;
    if (p.layer.coupling == COUPLING_AFFINE) {
        let raw = h[row * p.layer.h_ld + j];
        let s = p.layer.bound * tanh(raw / p.layer.bound);
        let es = exp(s);
        let x = states[p.layer.in_offset + i];
        gx[i] = dc * es;
        gh[row * p.layer.h_ld + p.layer.half + j] = dc;
        let r = s / p.layer.bound;
        gh[row * p.layer.h_ld + j] = (dc * x * es - p.inv_batch) * (1.0 - r * r);
    } else {
        gx[i] = dc;
        gh[row * p.layer.h_ld + j] = dc;
    }
}
