// Prior draws for sampling: z = temperature * N(0, 1) by Box-Muller on two hashed uniforms.

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
    dst[p.out_offset + i] = p.temperature * r * cos(6.283185307179586 * u2);
}
