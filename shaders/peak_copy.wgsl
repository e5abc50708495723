// Benchmark only: the adapter's attainable memory bandwidth as a shader sees it, the
// reference for the GB/s of the elementwise and reduction kernels. `copy_f32` moves one f32
// per invocation (as the elementwise kernels do); `copy_vec4` one vec4 (the best case).
// Bytes = 2 * 4 * elements (one read, one write).
#import common
#kernel peak::PEAK_COPY_F32
#kernel peak::PEAK_COPY_VEC4

override WG: u32 = 256u;

struct Params {
    // Elements (f32 for copy_f32, vec4 for copy_vec4).
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn copy_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i < p.count) {
        dst[i] = src[i];
    }
}

@compute @workgroup_size(WG)
fn copy_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i < p.count) {
        dst[i / 4u][i % 4u] = src[i / 4u][i % 4u];
    }
}
