// The body of the workgroup-memory matmuls (imported by matmul_shared_{nn,tn,nt}.wgsl,
// which declare the bindings and how each kind reads its operands: `k_total()`,
// `load_a`/`load_b` and `put_a`/`put_b`).
//
// A square workgroup of WG_SIDE x WG_SIDE invocations owns a block of 4 WG_SIDE rows x
// 4 WG_SIDE columns of C; invocation (x, y) keeps rows 4y .. 4y + 4 and columns 4x .. 4x + 4
// of it in four vec4 accumulators. K is walked in tiles WG_SIDE deep; every invocation loads
// one vec4 of opA and one of opB per tile, so a tile of each is WG_SIDE^2 vec4. Workgroup
// memory holds two tiles of each operand, stored "K-rows": element (k, i) of a tile is
// component i % 4 of vec4 k * WG_SIDE + i / 4, so each invocation reads one vec4 of A (its
// 4 rows) and one of B (its 4 columns) per k. While tile t is multiplied, tile t + 1 is
// already loaded into registers; it is stored into the other half after, and one barrier per
// tile separates the stores from the next reads.
//
// Split-K: the grid's z dimension splits K into slices of whole tiles; slice z adds its
// part of the product into C + z * M * ldc (the host points C at the scratch buffer, builds
// this pass without an epilogue and adds the slices with matmul_split_k_reduce.wgsl). With
// one slice this is the whole product, written to C itself.
//
// Operands past M, N or K are zero-filled on load; rows and columns past M and N are
// skipped on store, so the padding of C is never written.

override WG_SIDE: u32;

var<workgroup> a_tiles: array<vec4<f32>, 2u * WG_SIDE * WG_SIDE>;
var<workgroup> b_tiles: array<vec4<f32>, 2u * WG_SIDE * WG_SIDE>;

// Where a workgroup works and which invocation this is.
struct SharedBlock {
    // First row and column of C this workgroup computes.
    row0: u32,
    col0: u32,
    // Flat index of the invocation, 0 .. WG_SIDE^2.
    tid: u32,
    lid: vec2<u32>,
}

// This workgroup's slice of K: its first k and its number of tiles (kept apart from
// SharedBlock so that the tile loop, which holds barriers, depends on uniform values only).
fn k_slice(wg: vec3<u32>, nwg: vec3<u32>) -> vec2<u32> {
    let tiles_total = (k_total() + WG_SIDE - 1u) / WG_SIDE;
    let tiles_per_slice = (tiles_total + nwg.z - 1u) / nwg.z;
    let first = min(wg.z * tiles_per_slice, tiles_total);
    let last = min(first + tiles_per_slice, tiles_total);
    return vec2<u32>(first * WG_SIDE, last - first);
}

// Tile index of element (k, i) of a tile whose vec4 hold 4 consecutive rows (A) or
// columns (B) at one k: vec4 `shared_slot(buf, k, i)`, component i % 4.
fn shared_slot(buf: u32, k: u32, i: u32) -> u32 {
    return buf * WG_SIDE * WG_SIDE + k * WG_SIDE + i / 4u;
}

// Stores of one loaded vec4 into tile `buf`. "Along i": the vec4 holds rows (A) or columns
// (B) 4 x .. 4 x + 4 at k = y (one slot). "Along k": it holds k = 4 (tid % (WG_SIDE / 4))
// .. + 4 of row (A) or column (B) i = tid / (WG_SIDE / 4), stored transposed (4 components).
fn put_a_along_i(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    a_tiles[shared_slot(buf, blk.lid.y, 4u * blk.lid.x)] = v;
}
fn put_b_along_i(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    b_tiles[shared_slot(buf, blk.lid.y, 4u * blk.lid.x)] = v;
}
fn put_a_along_k(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    let i = blk.tid / (WG_SIDE / 4u);
    let k = 4u * (blk.tid % (WG_SIDE / 4u));
    let c = i % 4u;
    a_tiles[shared_slot(buf, k, i)][c] = v.x;
    a_tiles[shared_slot(buf, k + 1u, i)][c] = v.y;
    a_tiles[shared_slot(buf, k + 2u, i)][c] = v.z;
    a_tiles[shared_slot(buf, k + 3u, i)][c] = v.w;
}
fn put_b_along_k(buf: u32, blk: SharedBlock, v: vec4<f32>) {
    let i = blk.tid / (WG_SIDE / 4u);
    let k = 4u * (blk.tid % (WG_SIDE / 4u));
    let c = i % 4u;
    b_tiles[shared_slot(buf, k, i)][c] = v.x;
    b_tiles[shared_slot(buf, k + 1u, i)][c] = v.y;
    b_tiles[shared_slot(buf, k + 2u, i)][c] = v.z;
    b_tiles[shared_slot(buf, k + 3u, i)][c] = v.w;
}

// Global position loaded by the two layouts (see the stores above), for the kind files:
// (row or column of the operand relative to the block, k relative to the tile).
fn along_i(blk: SharedBlock) -> vec2<u32> {
    return vec2<u32>(4u * blk.lid.x, blk.lid.y);
}
fn along_k(blk: SharedBlock) -> vec2<u32> {
    return vec2<u32>(blk.tid / (WG_SIDE / 4u), 4u * (blk.tid % (WG_SIDE / 4u)));
}

@compute @workgroup_size(WG_SIDE, WG_SIDE, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let blk = SharedBlock(wg.y * 4u * WG_SIDE, wg.x * 4u * WG_SIDE, lid.y * WG_SIDE + lid.x, lid.xy);
    let slice = k_slice(wg, nwg);
    let k0 = slice.x;
    let tiles = slice.y;
    // Tile 0 (zeros when the slice is empty).
    put_a(0u, blk, load_a(blk, k0));
    put_b(0u, blk, load_b(blk, k0));
    workgroupBarrier();
    var acc0 = vec4<f32>();
    var acc1 = vec4<f32>();
    var acc2 = vec4<f32>();
    var acc3 = vec4<f32>();
    for (var t = 0u; t < tiles; t++) {
        let buf = t % 2u;
        let more = t + 1u < tiles;
        var next_a = vec4<f32>();
        var next_b = vec4<f32>();
        if (more) {
            let k_next = k0 + (t + 1u) * WG_SIDE;
            next_a = load_a(blk, k_next);
            next_b = load_b(blk, k_next);
        }
        for (var k = 0u; k < WG_SIDE; k++) {
            let av = a_tiles[shared_slot(buf, k, 4u * blk.lid.y)];
            let bv = b_tiles[shared_slot(buf, k, 4u * blk.lid.x)];
            acc0 += av.x * bv;
            acc1 += av.y * bv;
            acc2 += av.z * bv;
            acc3 += av.w * bv;
        }
        if (more) {
            // The other half was last read before the previous barrier.
            put_a(1u - buf, blk, next_a);
            put_b(1u - buf, blk, next_b);
            workgroupBarrier();
        }
    }
    let row = blk.row0 + 4u * blk.lid.y;
    let col = blk.col0 + 4u * blk.lid.x;
    let base = wg.z * p.m * p.ldc;
    let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i++) {
        let r = row + i;
        if (r >= p.m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let cj = col + j;
            if (cj >= p.n) {
                break;
            }
            let at = r * p.ldc + cj;
            c[base + at] = matmul_epilogue(acc[i][j], at);
        }
    }
}
