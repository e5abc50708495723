// Shared helpers every kernel imports (`#import common`; build.rs inlines it).

// Flat invocation index for 1-D work launched as a 2-D grid (x is capped at 65535 groups).
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>, wg_size: u32) -> u32 {
    return gid.x + gid.y * nwg.x * wg_size;
}

// How a vector is split into the two parts of a coupling (src/kernels/coupling.rs mirrors
// these; a test checks both sides agree).
// Halves: part 0 is the first D/2 entries. Interleaved: part 0 is the even indices.
const MASK_HALVES: u32 = 0u;
const MASK_INTERLEAVED: u32 = 1u;
// Coupling kinds: y_b = x_b + t (additive, NICE) or y_b = x_b exp(s) + t (affine, RealNVP).
const COUPLING_ADDITIVE: u32 = 0u;
const COUPLING_AFFINE: u32 = 1u;

// Position in the full D-vector of entry j of part `part` (0 or 1).
fn part_index(mask: u32, half: u32, part: u32, j: u32) -> u32 {
    if (mask == MASK_HALVES) {
        return part * half + j;
    }
    return 2u * j + part;
}

// Inverse of part_index: (part, j) of full-vector entry d.
fn part_of(mask: u32, half: u32, d: u32) -> vec2<u32> {
    if (mask == MASK_HALVES) {
        return vec2<u32>(d / half, d % half);
    }
    return vec2<u32>(d % 2u, d / 2u);
}

// Pixel `flat` of 8-bit images packed four to a u32, given the word that holds it
// (`pixels[flat / 4u]`), as a float 0..255.
fn pixel_in(word: u32, flat: u32) -> f32 {
    return f32((word >> (8u * (flat % 4u))) & 255u);
}

// PCG hash (O'Neill; as in "Hash Functions for GPU Rendering", Jarzynski & Olano 2020).
fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// A uniform draw in [0, 1) from (seed, stream, index), with 24 bits of resolution.
// The CPU twin is src/reference/preprocess.rs::uniform01; they must agree bit for bit.
fn uniform01(seed: u32, stream: u32, index: u32) -> f32 {
    let h = pcg_hash(index ^ pcg_hash(stream ^ pcg_hash(seed)));
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

// Uniform parameters of coupling_forward.wgsl, coupling_inverse.wgsl and (inside its own)
// coupling_backward.wgsl.
struct CouplingParams {
    batch: u32,
    dim: u32,
    half: u32,
    // MASK_HALVES or MASK_INTERLEAVED.
    mask: u32,
    in_offset: u32,
    out_offset: u32,
    // Part (0/1) that this layer transforms.
    tpart: u32,
    // COUPLING_ADDITIVE or COUPLING_AFFINE.
    coupling: u32,
    // Row stride of h (D/2 additive, D affine).
    h_ld: u32,
    // Forward only: offset (elements) of this layer's [batch, D/2] block in `log_scales`.
    s_offset: u32,
    scale_offset: u32,
    bound: f32,
}
