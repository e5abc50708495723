// One coupling layer plus its scale, forward: reads state x_l and the conditioner output
// h = m(x_a), writes x_{l+1} = (coupling(x_l)) * exp(s_l). For affine couplings it also
// stores the bounded log-scales s = c * tanh(raw / c), which the log-det reduction sums.

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: CouplingParams;
@group(0) @binding(1) var<storage, read_write> states: array<f32>;
@group(0) @binding(2) var<storage, read> h: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> log_scales: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.batch * p.dim) {
        return;
    }
    let row = i / p.dim;
    let d = i % p.dim;
    let pj = part_of(p.mask, p.half, d);
    var y = states[p.in_offset + i];
    if (pj.x == p.tpart) {
        let j = pj.y;
        if (p.coupling == COUPLING_AFFINE) {
            let raw = h[row * p.h_ld + j];
            let t = h[row * p.h_ld + p.half + j];
            let s = p.bound * tanh(raw / p.bound);
            y = y * exp(s) + t;
            log_scales[p.s_offset + row * p.half + j] = s;
        } else {
            y = y + h[row * p.h_ld + j];
        }
    }
    states[p.out_offset + i] = y * exp(params[p.scale_offset + d]);
}
