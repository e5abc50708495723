// Training-loss bookkeeping without a readback per step: one workgroup adds the batch mean
// of -(log p(y) + log|dy/dv|) (nats, before the -D ln 256 of the 8-bit bins) into sums[0]
// and 1 into sums[1]; the host reads and clears both every logging interval.

override WG: u32 = 64u;

struct Params {
    batch: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> density: array<f32>;
@group(0) @binding(2) var<storage, read> pre_logdet: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var b = lid; b < p.batch; b += WG) {
        acc -= density[p.batch + b] + pre_logdet[b];
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        sums[0] += partial[0] / f32(p.batch);
        sums[1] += 1.0;
    }
}
