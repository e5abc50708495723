// Gradient of the per-layer log-scale s_l: one invocation per entry d sums over the batch,
//   dL/ds_l[d] = sum_b gy[b, d] * x_{l+1}[b, d] - 1      (-1: the log-det term, batch mean)
// with gy = dL/dz, seeded by loss.wgsl, for the last layer.

override WG: u32 = 256u;

struct Params {
    batch: u32,
    dim: u32,
    out_offset: u32,
    grad_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read> states: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let d = gid.x;
    if (d >= p.dim) {
        return;
    }
    var acc = 0.0;
    for (var row = 0u; row < p.batch; row++) {
        let y = states[p.out_offset + row * p.dim + d];
        acc = fma(gy[row * p.dim + d], y, acc);
    }
    grads[p.grad_offset + d] = acc - 1.0;
}
