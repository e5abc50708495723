// Adam over the whole flat parameter buffer in one dispatch, with bias correction and
// optional global-norm clipping (the norm comes from grad_norm.wgsl):
//   g *= min(1, clip / ||g||);  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),   bc1 = 1 - b1^t, bc2 = 1 - b2^t
// Four parameters per invocation as vec4 (the same arithmetic per element): on lavapipe every
// storage load is a loop over the SIMD lanes, so one vec4 load costs what one float did.
// `count` (floats) is a multiple of 4, as every parameter layout's length is.
// A step whose gradient norm is not finite (NaN or infinity) changes nothing: the
// parameters and moments stay those of the last good step (grad_norm counts the fault).
#import common
#kernel optimizer::ADAM

override WG: u32 = 256u;

struct Params {
    count: u32,
    // Index of the norm in `norm` (written by grad_norm's `finish`).
    norm_index: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
    // 0: no clipping.
    clip: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> norm: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.count / 4u) {
        return;
    }
    let n = norm[p.norm_index];
    if ((bitcast<u32>(n) & 0x7f800000u) == 0x7f800000u) {
        return;
    }
    var g = grads[i];
    if (p.clip > 0.0 && n > p.clip) {
        g = g * (p.clip / n);
    }
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}
