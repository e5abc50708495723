// Coupling merge for the backward pass: adds the MLP's input gradient (dense [batch, D/2])
// into the conditioning half of the full-vector gradient. src is [batch, D/2], row stride src_ld.

override WG: u32 = 256u;

struct Params {
    batch: u32,
    dim: u32,
    half: u32,
    // MASK_HALVES or MASK_INTERLEAVED.
    mask: u32,
    part: u32,
    // Row stride of src.
    src_ld: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.batch * p.half) {
        return;
    }
    let row = i / p.half;
    let j = i % p.half;
    let d = part_index(p.mask, p.half, p.part, j);
    dst[row * p.dim + d] += src[row * p.src_ld + j];
}
