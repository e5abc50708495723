// Prior draws for sampling: z = temperature * N(0, 1) by Box-Muller on two hashed uniforms.
#import common
#kernel transform::GAUSSIAN

override WG: u32 = 256u;

struct Params {
    count: u32,
    seed: u32,
    temperature: f32,
    out_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.count) {
        return;
    }
    // 1 - u lies in (0, 1], so the log is finite.
    let u1 = 1.0 - uniform01(p.seed, 0x9e3779b9u, i);
    let u2 = uniform01(p.seed, 0x7f4a7c15u, i);
    let r = sqrt(-2.0 * log(u1));
    dst[p.out_offset + i] = p.temperature * r * cos_turns(u2);
}

// cos(2 pi u) to about 1e-7, the same on every device. WGSL lets a built-in `cos` be off by
// 2^-11 absolute (SwiftShader in Chromium is, by 1e-4 here), which would make the same seed
// draw different samples on different GPUs.
fn cos_turns(u: f32) -> f32 {
    // cos is even with period 1 in turns: fold u to a in [0, 1/2], then to [0, 1/4] with
    // cos(2 pi a) = -cos(2 pi (1/2 - a)).
    let a = abs(u - round(u));
    let flip = a > 0.25;
    let x = 6.283185307179586 * select(a, 0.5 - a, flip);
    // Taylor series of cos on [0, pi/2] to x^14: truncation below 1e-10.
    let x2 = x * x;
    var c = -1.0 / 87178291200.0;
    c = c * x2 + 1.0 / 479001600.0;
    c = c * x2 - 1.0 / 3628800.0;
    c = c * x2 + 1.0 / 40320.0;
    c = c * x2 - 1.0 / 720.0;
    c = c * x2 + 1.0 / 24.0;
    c = c * x2 - 0.5;
    c = c * x2 + 1.0;
    return select(c, -c, flip);
}
