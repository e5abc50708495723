// The sample judge's classifier input (src/judge/): row r is image indices[index_offset + r]
// of the GPU-resident 8-bit images (packed four to a u32) as intensities pixel / 255, row
// stride ld. With shift > 0 (training) each image is first translated by (dx, dy), both in
// [-shift, shift] pixels and drawn from a hash of (seed, image); pixels shifted in from
// outside the image are 0. Random translations are the augmentation that takes a plain MLP
// past 98% on MNIST. The CPU twin is src/reference/classifier.rs::classifier_input.
#import common
#kernel classifier::CLASSIFIER_INPUT

override WG: u32 = 64u;

struct Params {
    batch: u32,
    // Images are side x side pixels.
    side: u32,
    ld: u32,
    seed: u32,
    shift: u32,
    index_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

// The translation of `image` under `seed`: (dx, dy) in [-shift, shift]^2.
fn shift_of(seed: u32, image: u32, shift: u32) -> vec2<i32> {
    let span = 2u * shift + 1u;
    let h = pcg_hash(image ^ pcg_hash(seed ^ 0x5bd1e995u));
    return vec2<i32>(i32(h % span), i32((h / span) % span)) - vec2<i32>(i32(shift));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.batch) {
        return;
    }
    let image = indices[p.index_offset + row];
    var s = vec2<i32>(0);
    if (p.shift > 0u) {
        s = shift_of(p.seed, image, p.shift);
    }
    let side = i32(p.side);
    let dim = p.side * p.side;
    for (var d = lid; d < dim; d += WG) {
        let sx = i32(d % p.side) - s.x;
        let sy = i32(d / p.side) - s.y;
        var v = 0.0;
        if (sx >= 0 && sx < side && sy >= 0 && sy < side) {
            let flat = image * dim + u32(sy * side + sx);
            v = pixel_in(pixels[flat / 4u], flat) / 255.0;
        }
        x[row * p.ld + d] = v;
    }
}
