// Benchmark only: the adapter's attainable f32 FMA rate. Every invocation runs independent
// FMA chains (CHAINS vec4s, the loop body repeated UNROLL times) and stores one value so
// that nothing is optimised away. The bench tries every entry point at several workgroup
// and dispatch sizes and keeps the best, so that "% of peak" means the adapter's ceiling
// and not one probe's shape. FLOPs = invocations * iterations * 4 CHAINS * UNROLL * 2.
#import common
#kernel peak::PEAK_FMA_4X1
#kernel peak::PEAK_FMA_4X4
#kernel peak::PEAK_FMA_8X1
#kernel peak::PEAK_FMA_8X4
#kernel peak::PEAK_FMA_2X8

override WG: u32 = 256u;

struct Params {
    iterations: u32,
    count: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const M = vec4<f32>(0.999999);
const E = vec4<f32>(1e-6);

fn start(i: u32, c: f32) -> vec4<f32> {
    return vec4<f32>(f32(i) * 1e-7, 0.5, 0.25, 0.125) + vec4<f32>(c);
}

fn finish(i: u32, v: vec4<f32>) {
    if (i < p.count) {
        out[i] = dot(v, vec4<f32>(1.0));
    }
}

// One FMA of each of four vec4 chains (lavapipe inlines every function call).
fn step4(a: ptr<function, vec4<f32>>, b: ptr<function, vec4<f32>>, c: ptr<function, vec4<f32>>, d: ptr<function, vec4<f32>>) {
    *a = fma(*a, M, E);
    *b = fma(*b, M, E);
    *c = fma(*c, M, E);
    *d = fma(*d, M, E);
}

// 4 vec4 chains, one FMA of each per iteration, or four with unroll4 (less loop overhead
// per FMA).
fn chains4(i: u32, unroll4: bool) {
    var a = start(i, 0.0);
    var b = start(i, 0.0625);
    var c = start(i, 0.125);
    var d = start(i, 0.25);
    for (var k = 0u; k < p.iterations; k++) {
        step4(&a, &b, &c, &d);
        if (unroll4) {
            step4(&a, &b, &c, &d);
            step4(&a, &b, &c, &d);
            step4(&a, &b, &c, &d);
        }
    }
    finish(i, a + b + c + d);
}

@compute @workgroup_size(WG)
fn chains4_unroll1(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    chains4(flat_index(gid, nwg, WG), false);
}

@compute @workgroup_size(WG)
fn chains4_unroll4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    chains4(flat_index(gid, nwg, WG), true);
}

// 8 vec4 chains (32 registers of lanes on a CPU adapter), one FMA of each per iteration,
// or four with UNROLL4.
fn chains8(i: u32, unroll4: bool) {
    var a = start(i, 0.0);
    var b = start(i, 0.0625);
    var c = start(i, 0.125);
    var d = start(i, 0.25);
    var e = start(i, 0.375);
    var f = start(i, 0.5);
    var g = start(i, 0.625);
    var h = start(i, 0.75);
    for (var k = 0u; k < p.iterations; k++) {
        step4(&a, &b, &c, &d);
        step4(&e, &f, &g, &h);
        if (unroll4) {
            step4(&a, &b, &c, &d);
            step4(&e, &f, &g, &h);
            step4(&a, &b, &c, &d);
            step4(&e, &f, &g, &h);
            step4(&a, &b, &c, &d);
            step4(&e, &f, &g, &h);
        }
    }
    finish(i, a + b + c + d + e + f + g + h);
}

@compute @workgroup_size(WG)
fn chains8_unroll1(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    chains8(flat_index(gid, nwg, WG), false);
}

@compute @workgroup_size(WG)
fn chains8_unroll4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    chains8(flat_index(gid, nwg, WG), true);
}

// 2 vec4 chains (8 registers: just enough to cover FMA latency on two ports), eight FMAs
// of each per iteration in an inner loop (which lavapipe keeps as a loop: a probe of that
// shape too).
@compute @workgroup_size(WG)
fn chains2_unroll8(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    var a = start(i, 0.0);
    var b = start(i, 0.0625);
    for (var k = 0u; k < p.iterations; k++) {
        for (var u = 0u; u < 8u; u++) {
            a = fma(a, M, E);
            b = fma(b, M, E);
        }
    }
    finish(i, a + b);
}
