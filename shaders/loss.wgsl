// The training loss, in one place. With L = mean_b nll[b] over the batch and, per sample,
//   nll[b] = -(log p(y_b) + log|dy/dv|_b) + D ln 256      (nats of the 8-bit image)
// (log p(y) from log_density.wgsl, log|dy/dv| the dequantize/logit Jacobian, D ln 256 the
// 8-bit bins: see src/model/likelihood.rs), `reduce` writes nll[b] and adds L into sums[0]
// and 1 into sums[1] (one workgroup; the host reads and clears the sums once per logging
// interval). The backward pass's seeds, dL/dz = z / B and dL/dlog|det J|_b = -1/B, are
// computed where they are used, in coupling_backward.wgsl.
#import common
#import reduce
#kernel loss::LOSS_REDUCE

override WG: u32 = 64u;

struct Params {
    batch: u32,
    dim: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> density: array<f32>;
@group(0) @binding(2) var<storage, read> pre_logdet: array<f32>;
@group(0) @binding(3) var<storage, read_write> nll: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_index) lid: u32) {
    let bins = f32(p.dim) * 5.545177444479562; // D ln 256
    var acc = 0.0;
    for (var b = lid; b < p.batch; b += WG) {
        let v = bins - (density[p.batch + b] + pre_logdet[b]);
        nll[b] = v;
        acc += v;
    }
    let total = workgroup_sum(lid, acc);
    if (lid == 0u) {
        sums[0] += total / f32(p.batch);
        sums[1] += 1.0;
    }
}
