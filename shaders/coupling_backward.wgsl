// Backward of one coupling layer plus its scale, for the loss L = mean_b -log p(x_b), in
// one dispatch per layer. Given gy = dL/dx_{l+1}; the log-det's own seed
// dL/dlog|det J|_b = -1/B enters as the -1/B and -1 below:
//   gy                  = z / B = x_{l+1} / B          for the last layer (seed): the loss's
//                         gradient, computed here from the layer's output; otherwise
//   gy                  = g[i] + add[b, j]   where d is entry j of part add_part (has_add):
//                         the next layer's conditioner input gradient, merged while reading
//   dL/ds_l[d]          = sum_b gy[b, d] x_{l+1}[b, d] - 1          (into grads)
//   dc = gy * exp(s_l)
//   conditioning half:  gx_a = dc_a     (its conditioner's input gradient is added by the
//                                        previous layer's dispatch, as add)
//   additive:           gx_b = dc_b,          gh = dc_b
//   affine:             gx_b = dc_b exp(s),   gh_t = dc_b,
//                       gh_raw = (dc_b x_b exp(s) - 1/B) (1 - (s/c)^2)    [-1/B: the log-det]
// gx overwrites gy in g: each element is read and written by the same invocation.
//
// The scale gradient is a column sum over the batch, so the kernel runs as a parallel
// reduction: one workgroup per block of COLS columns, its WG invocations ROWS = WG / COLS
// batch slices x COLS columns (neighbouring invocations handle neighbouring columns of one
// row). Slice r does rows r, r + ROWS, r + 2 ROWS, ... in order, elementwise work included,
// then the ROWS partial sums of each column are added as a fixed binary tree in workgroup
// memory (shared/reduce.wgsl). The summation order depends only on (WG, COLS): results are the same on every run.
#import common
#import reduce
#kernel coupling::COUPLING_BACKWARD

override WG: u32 = 64u;
// Columns per workgroup; divides WG (checked on the host).
override COLS: u32 = 8u;

struct Params {
    // The layer's geometry, as the forward kernel gets it (s_offset unused).
    layer: CouplingParams,
    inv_batch: f32,
    // Where dL/ds_l goes in grads.
    grad_offset: u32,
    // 1: add `add` (row stride add_ld) into part add_part of gy.
    has_add: u32,
    add_part: u32,
    add_ld: u32,
    // 1: gy = x_{l+1} / B (the last layer; g is only written).
    seed: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read> add: array<f32>;
@group(0) @binding(3) var<storage, read> states: array<f32>;
@group(0) @binding(4) var<storage, read> h: array<f32>;
@group(0) @binding(5) var<storage, read> params: array<f32>;
@group(0) @binding(6) var<storage, read_write> gh: array<f32>;
@group(0) @binding(7) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = WG / COLS;
    let c = lid % COLS;
    let r = lid / COLS;
    let d = (wid.x + wid.y * nwg.x) * COLS + c;
    let lp = p.layer;
    // No early return: every invocation reaches the barriers below.
    var acc = 0.0;
    if (d < lp.dim) {
        let pj = part_of(lp.mask, lp.half, d);
        let j = pj.y;
        let es_l = exp(params[lp.scale_offset + d]);
        let added = p.has_add == 1u && pj.x == p.add_part;
        let transformed = pj.x == lp.tpart;
        for (var row = r; row < lp.batch; row += rows) {
            let i = row * lp.dim + d;
            let y = states[lp.out_offset + i];
            var gy: f32;
            if (p.seed == 1u) {
                gy = y / f32(lp.batch);
            } else {
                gy = g[i];
                if (added) {
                    gy += add[row * p.add_ld + j];
                }
            }
            acc = fma(gy, y, acc);
            let dc = gy * es_l;
            if (!transformed) {
                g[i] = dc;
            } else if (lp.coupling == COUPLING_AFFINE) {
                let raw = h[row * lp.h_ld + j];
                let s = lp.bound * tanh(raw / lp.bound);
                let es = exp(s);
                let x = states[lp.in_offset + i];
                g[i] = dc * es;
                gh[row * lp.h_ld + lp.half + j] = dc;
                let q = s / lp.bound;
                gh[row * lp.h_ld + j] = (dc * x * es - p.inv_batch) * (1.0 - q * q);
            } else {
                g[i] = dc;
                gh[row * lp.h_ld + j] = dc;
            }
        }
    }
    let column = workgroup_column_sum2(lid, vec2<f32>(acc, 0.0), COLS).x;
    if (r == 0u && d < lp.dim) {
        grads[p.grad_offset + d] = column - 1.0;
    }
}
