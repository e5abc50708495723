// An exponential moving average of the weights, after each Adam step (`--ema DECAY`):
//   ema = decay * ema + (1 - decay) * params
// over the whole flat parameter buffer, four per invocation as vec4 (as adam.wgsl). A step
// that Adam skipped (non-finite gradient norm) leaves the average alone too, so a fault
// cannot leak into the weights that are evaluated and sampled. The CPU twin is
// src/reference/adam.rs::ema_step.
#import common
#kernel optimizer::EMA

override WG: u32 = 256u;

struct Params {
    count: u32,
    norm_index: u32,
    decay: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> ema: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> params: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> norm: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.count / 4u) {
        return;
    }
    if ((bitcast<u32>(norm[p.norm_index]) & 0x7f800000u) == 0x7f800000u) {
        return;
    }
    ema[i] = p.decay * ema[i] + (1.0 - p.decay) * params[i];
}
