// Global L2 norm of the gradient, deterministic and without atomics, in two dispatches:
// `partial_sums` (a fixed number of workgroups, each a grid-stride sum of squares) and
// `finish` (one workgroup adds the partials and writes the norm). `count` (floats) is a
// multiple of 4, as every parameter layout's length is (Adam reads the same buffer as vec4). `finish` also keeps the
// numerical-fault counters the host reads with the loss, so that a NaN or infinity is
// caught at the step it appears without a readback per step:
//   sums[partials + 1]  steps since the host last cleared the counters
//   sums[partials + 2]  how many of them had a non-finite norm (Adam skipped them)
//   sums[partials + 3]  which one was the first (1-based), 0 if none
#import common
#import reduce
#kernel optimizer::GRAD_NORM_PARTIAL
#kernel optimizer::GRAD_NORM_FINISH

override WG: u32 = 256u;

struct Params {
    count: u32,
    partials: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

// Each invocation walks the vec4s i, i + stride, .. (stride: every invocation of the
// grid), four of them per iteration into four accumulators: on lavapipe a loop iteration
// costs about as much as 60 FMAs and one vec4 load about what one f32 load does, so the
// scalar loop this replaces spent most of its time outside the FMAs (BENCHMARKS.md).
@compute @workgroup_size(WG)
fn partial_sums(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let n4 = p.count / 4u;
    let stride = p.partials * WG;
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var i = wid.x * WG + lid;
    for (; i + 3u * stride < n4; i += 4u * stride) {
        let g0 = grads[i];
        let g1 = grads[i + stride];
        let g2 = grads[i + 2u * stride];
        let g3 = grads[i + 3u * stride];
        a0 = fma(g0, g0, a0);
        a1 = fma(g1, g1, a1);
        a2 = fma(g2, g2, a2);
        a3 = fma(g3, g3, a3);
    }
    for (; i < n4; i += stride) {
        let g = grads[i];
        a0 = fma(g, g, a0);
    }
    let s = (a0 + a1) + (a2 + a3);
    let total = workgroup_sum(lid, (s.x + s.y) + (s.z + s.w));
    if (lid == 0u) {
        sums[wid.x] = total;
    }
}

// NaN and both infinities have every exponent bit set (a bit test, which no fast-math
// assumption can fold away).
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// sums[partials] = sqrt(sum of sums[0..partials]), and the fault counters.
@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.partials; i += WG) {
        acc += sums[i];
    }
    let total = workgroup_sum(lid, acc);
    if (lid == 0u) {
        let norm = sqrt(total);
        sums[p.partials] = norm;
        let steps = sums[p.partials + 1u] + 1.0;
        sums[p.partials + 1u] = steps;
        if (!is_finite(norm)) {
            sums[p.partials + 2u] += 1.0;
            if (sums[p.partials + 3u] == 0.0) {
                sums[p.partials + 3u] = steps;
            }
        }
    }
}
