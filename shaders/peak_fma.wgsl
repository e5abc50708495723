// Benchmark only: the adapter's attainable f32 FMA rate. Every invocation runs sixteen
// independent FMA chains (four vec4s: enough to hide FMA latency) and stores one value so
// that nothing is optimised away. FLOPs = invocations * iterations * 16 chains * 2.
#import common
#kernel peak::PEAK_FMA

override WG: u32 = 256u;

struct Params {
    iterations: u32,
    count: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    var a = vec4<f32>(f32(i) * 1e-7, 0.5, 0.25, 0.125);
    var b = a + vec4<f32>(0.0625);
    var c = a + vec4<f32>(0.125);
    var d = a + vec4<f32>(0.25);
    let m = vec4<f32>(0.999999);
    let e = vec4<f32>(1e-6);
    for (var k = 0u; k < p.iterations; k++) {
        a = fma(a, m, e);
        b = fma(b, m, e);
        c = fma(c, m, e);
        d = fma(d, m, e);
    }
    if (i < p.count) {
        out[i] = dot(a + b + c + d, vec4<f32>(1.0));
    }
}
