// The sample judge's training loss (src/judge/), in one workgroup: for row r of the logits
// ([batch, classes], row stride ld) and its label y = labels[indices[index_offset + r]],
//   loss_r = logsumexp(l_r) - l_r[y],   grad_r = (softmax(l_r) - onehot(y)) / batch,
// the gradient of the batch mean, written over the padding-free part of the row in `grad`.
// It adds the batch's mean loss into sums[0], its share of rows whose first largest logit is
// the label's into sums[1], and 1 into sums[2] (the host reads and clears them once per
// epoch). The CPU twin is src/reference/classifier.rs::softmax_cross_entropy.
#import reduce
#kernel classifier::SOFTMAX_CROSS_ENTROPY

override WG: u32 = 64u;

struct Params {
    batch: u32,
    classes: u32,
    ld: u32,
    index_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> indices: array<u32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
    var acc = vec2<f32>(0.0);
    for (var r = lid; r < p.batch; r += WG) {
        let row = r * p.ld;
        let y = labels[indices[p.index_offset + r]];
        var top = logits[row];
        var arg = 0u;
        for (var j = 1u; j < p.classes; j++) {
            if (logits[row + j] > top) {
                top = logits[row + j];
                arg = j;
            }
        }
        var total = 0.0;
        for (var j = 0u; j < p.classes; j++) {
            total += exp(logits[row + j] - top);
        }
        let lse = top + log(total);
        for (var j = 0u; j < p.classes; j++) {
            let prob = exp(logits[row + j] - lse);
            grad[row + j] = (prob - select(0.0, 1.0, j == y)) / f32(p.batch);
        }
        acc += vec2<f32>(lse - logits[row + y], select(0.0, 1.0, arg == y));
    }
    let total = workgroup_sum2(lid, acc);
    if (lid == 0u) {
        sums[0] += total.x / f32(p.batch);
        sums[1] += total.y / f32(p.batch);
        sums[2] += 1.0;
    }
}
