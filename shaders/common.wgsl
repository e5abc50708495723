// Shared snippets, prepended to every kernel by src/gpu/kernels.rs (WGSL has no #include).

// Flat invocation index for 1-D work launched as a 2-D grid (x is capped at 65535 groups).
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>, wg_size: u32) -> u32 {
    return gid.x + gid.y * nwg.x * wg_size;
}

// Position in the full D-vector of entry j of part `part` (0 or 1).
// mask 0: halves (part 0 = first D/2 entries); mask 1: interleaved (part 0 = even indices).
fn part_index(mask: u32, half: u32, part: u32, j: u32) -> u32 {
    if (mask == 0u) {
        return part * half + j;
    }
    return 2u * j + part;
}

// Inverse of part_index: (part, j) of full-vector entry d.
fn part_of(mask: u32, half: u32, d: u32) -> vec2<u32> {
    if (mask == 0u) {
        return vec2<u32>(d / half, d % half);
    }
    return vec2<u32>(d % 2u, d / 2u);
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

// Uniform parameters of coupling_forward.wgsl and coupling_inverse.wgsl.
struct CouplingParams {
    batch: u32,
    dim: u32,
    half: u32,
    mask: u32,
    in_offset: u32,
    out_offset: u32,
    // Part (0/1) that this layer transforms.
    tpart: u32,
    // 0: additive, 1: affine.
    affine: u32,
    // Row stride of h (D/2 additive, D affine).
    h_ld: u32,
    // Forward only: offset (elements) of this layer's [batch, D/2] block in `log_scales`.
    s_offset: u32,
    scale_offset: u32,
    bound: f32,
}
