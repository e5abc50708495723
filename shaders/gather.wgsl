// Coupling split: copies the conditioning half of layer state `src` into a
// [batch, D/2] matrix (row stride dst_ld), the MLP's input. For the inverse direction it first undoes the
// layer's scale (unscale = 1: times exp(-s_l)), since the inverse reads the layer's output.
#import common
#kernel coupling::GATHER

override WG: u32 = 256u;

struct Params {
    batch: u32,
    dim: u32,
    half: u32,
    // MASK_HALVES or MASK_INTERLEAVED.
    mask: u32,
    // Offset (elements) of the layer state inside `states`.
    src_offset: u32,
    part: u32,
    unscale: u32,
    // Offset (elements) of s_l inside `params`.
    scale_offset: u32,
    // Row stride of dst (D/2 rounded up to a multiple of 4).
    dst_ld: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> states: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg, WG);
    if (i >= p.batch * p.half) {
        return;
    }
    let row = i / p.half;
    let j = i % p.half;
    let d = part_index(p.mask, p.half, p.part, j);
    var v = states[p.src_offset + row * p.dim + d];
    if (p.unscale == 1u) {
        v = v * exp(-params[p.scale_offset + d]);
    }
    dst[row * p.dst_ld + j] = v;
}
