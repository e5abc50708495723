// Gradient of the per-layer log-scale s_l, a column sum over the batch:
//   dL/ds_l[d] = sum_b gy[b, d] * x_{l+1}[b, d] - 1      (-1: the log-det term, batch mean)
// with gy = dL/dx_{l+1} (dL/dz, seeded by loss.wgsl, for the last layer).
//
// A parallel reduction over the batch: one workgroup per block of COLS columns. Its WG
// invocations form ROWS = WG / COLS batch slices x COLS columns (neighbouring invocations
// read neighbouring columns of one row); slice r sums rows r, r + ROWS, r + 2 ROWS, ... in
// order, then the ROWS partial sums of each column are added as a fixed binary tree in
// workgroup memory. The summation order depends only on (WG, COLS): results are the same
// on every run.

override WG: u32 = 64u;
// Columns per workgroup; divides WG (checked on the host).
override COLS: u32 = 8u;

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

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = WG / COLS;
    let c = lid % COLS;
    let r = lid / COLS;
    let d = (wid.x + wid.y * nwg.x) * COLS + c;
    // No early return: every invocation reaches the barriers below.
    var acc = 0.0;
    if (d < p.dim) {
        for (var row = r; row < p.batch; row += rows) {
            let i = row * p.dim + d;
            acc = fma(gy[i], states[p.out_offset + i], acc);
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var stride = rows / 2u; stride > 0u; stride = stride / 2u) {
        if (r < stride) {
            partial[lid] += partial[lid + stride * COLS];
        }
        workgroupBarrier();
    }
    if (r == 0u && d < p.dim) {
        grads[p.grad_offset + d] = partial[c] - 1.0;
    }
}
