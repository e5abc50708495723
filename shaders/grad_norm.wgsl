// Global L2 norm of the gradient, deterministic and without atomics, in two dispatches:
// `partial_sums` (a fixed number of workgroups, each a grid-stride sum of squares) and
// `finish` (one workgroup adds the partials and writes the norm). `finish` also keeps the
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
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WG)
fn partial_sums(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc = 0.0;
    for (var i = wid.x * WG + lid; i < p.count; i += p.partials * WG) {
        let g = grads[i];
        acc = fma(g, g, acc);
    }
    let total = workgroup_sum(lid, acc);
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
