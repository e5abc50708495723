// One coupling layer plus its scale, forward: reads state x_l and the conditioner output
// h = m(x_a), writes x_{l+1} = (coupling(x_l)) * exp(s_l). For affine couplings it also
// stores the bounded log-scales s = c * tanh(raw / c), which the log-det reduction sums.
// With has_next = 1 it also writes the next layer's conditioning half of x_{l+1} (part
// next_part) into next_input, the next conditioner's input (row stride next_ld): the split
// that gather.wgsl would otherwise do in a dispatch of its own.
#import common
#kernel coupling::COUPLING_FORWARD

override WG: u32 = 256u;

struct Params {
    layer: CouplingParams,
    next_part: u32,
    next_ld: u32,
    has_next: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> fp: Params;
@group(0) @binding(1) var<storage, read_write> states: array<f32>;
@group(0) @binding(2) var<storage, read> h: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> log_scales: array<f32>;
@group(0) @binding(5) var<storage, read_write> next_input: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= fp.layer.batch * fp.layer.dim) {
        return;
    }
    let row = i / fp.layer.dim;
    let d = i % fp.layer.dim;
    let pj = part_of(fp.layer.mask, fp.layer.half, d);
    var y = states[fp.layer.in_offset + i];
    if (pj.x == fp.layer.tpart) {
        let j = pj.y;
        if (fp.layer.coupling == COUPLING_AFFINE) {
            let raw = h[row * fp.layer.h_ld + j];
            let t = h[row * fp.layer.h_ld + fp.layer.half + j];
            let s = fp.layer.bound * tanh(raw / fp.layer.bound);
            y = y * exp(s) + t;
            log_scales[fp.layer.s_offset + row * fp.layer.half + j] = s;
        } else {
            y = y + h[row * fp.layer.h_ld + j];
        }
    }
    let out = y * exp(params[fp.layer.scale_offset + d]);
    states[fp.layer.out_offset + i] = out;
    if (fp.has_next == 1u && pj.x == fp.next_part) {
        next_input[row * fp.next_ld + pj.y] = out;
    }
}
