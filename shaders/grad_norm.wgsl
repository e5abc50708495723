// Global L2 norm of the gradient, deterministic and without atomics, in two dispatches:
// `partial_sums` (a fixed number of workgroups, each a grid-stride sum of squares) and
// `finish` (one workgroup adds the partials and writes the norm).

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

var<workgroup> partial: array<f32, WG>;

fn reduce_into(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    return partial[0];
}

@compute @workgroup_size(WG)
fn partial_sums(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc = 0.0;
    for (var i = wid.x * WG + lid; i < p.count; i += p.partials * WG) {
        let g = grads[i];
        acc = fma(g, g, acc);
    }
    let total = reduce_into(lid, acc);
    if (lid == 0u) {
        sums[wid.x] = total;
    }
}

// sums[partials] = sqrt(sum of sums[0..partials]).
@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.partials; i += WG) {
        acc += sums[i];
    }
    let total = reduce_into(lid, acc);
    if (lid == 0u) {
        sums[p.partials] = sqrt(total);
    }
}
