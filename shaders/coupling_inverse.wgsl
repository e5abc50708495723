// One coupling layer plus its scale, inverse: reads state x_{l+1} and h = m(x_a) (computed
// from the gathered, unscaled conditioning half), writes x_l.
//   c = x_{l+1} * exp(-s_l);  x_a = c_a;  additive: x_b = c_b - h;  affine: x_b = (c_b - t) * exp(-s)
#import common
#kernel coupling::COUPLING_INVERSE

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: CouplingParams;
@group(0) @binding(1) var<storage, read_write> states: array<f32>;
@group(0) @binding(2) var<storage, read> h: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.batch * p.dim) {
        return;
    }
    let row = i / p.dim;
    let d = i % p.dim;
    let pj = part_of(p.mask, p.half, d);
    var x = states[p.in_offset + i] * exp(-params[p.scale_offset + d]);
    if (pj.x == p.tpart) {
        let j = pj.y;
        if (p.coupling == COUPLING_AFFINE) {
            let raw = h[row * p.h_ld + j];
            let t = h[row * p.h_ld + p.half + j];
            let s = p.bound * tanh(raw / p.bound);
            x = (x - t) * exp(-s);
        } else {
            x = x - h[row * p.h_ld + j];
        }
    }
    states[p.out_offset + i] = x;
}
