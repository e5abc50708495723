// The workgroup reduction every summing kernel shares (`#import reduce`): a fixed binary
// tree in workgroup memory, so a sum's order depends only on the workgroup size and is the
// same on every run and device. The importing kernel declares `override WG: u32` (a power
// of two) and calls these in uniform control flow (they contain barriers).
//
// Partial sums are vec2 so that two sums (log_density's squared norm and log-det) share
// one tree; each component is added in exactly the order a scalar tree would use.

var<workgroup> reduce_partial: array<vec2<f32>, WG>;

// For each column c < cols: the sum of v over the invocations lid = c + r * cols,
// r = 0 .. WG / cols (cols divides WG, both powers of two), returned to every invocation
// of that column. Invocation r adds the partial of r + stride while r < stride, for
// stride = WG / cols / 2, ..., 1.
fn workgroup_column_sum2(lid: u32, v: vec2<f32>, cols: u32) -> vec2<f32> {
    reduce_partial[lid] = v;
    workgroupBarrier();
    let r = lid / cols;
    for (var stride = WG / cols / 2u; stride > 0u; stride = stride / 2u) {
        if (r < stride) {
            reduce_partial[lid] += reduce_partial[lid + stride * cols];
        }
        workgroupBarrier();
    }
    return reduce_partial[lid % cols];
}

// The sum of v over the whole workgroup, returned to every invocation.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
    return workgroup_column_sum2(lid, vec2<f32>(v, 0.0), 1u).x;
}

// Two sums over the whole workgroup at once.
fn workgroup_sum2(lid: u32, v: vec2<f32>) -> vec2<f32> {
    return workgroup_column_sum2(lid, v, 1u);
}
