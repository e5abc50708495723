// Shared by matmul_nn.wgsl, matmul_nt.wgsl and matmul_tn.wgsl (prepended by the host).
// Uniform parameters shared by the three matmul kernels (leading dimensions in f32 units;
// those read as vec4 are multiples of 4).
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    lda: u32,
    ldb: u32,
    ldc: u32,
    a_ones: u32,
    // 0: none, 1: ReLU, 2: multiply by (aux > 0), the ReLU derivative (aux has C's shape).
    epilogue: u32,
}

// Every matmul kernel declares `p: MatmulParams` and `aux: array<f32>` (row stride ldc).
fn matmul_epilogue(v: f32, aux_index: u32) -> f32 {
    switch (p.epilogue) {
        case 1u: {
            return max(v, 0.0);
        }
        case 2u: {
            return select(0.0, v, aux[aux_index] > 0.0);
        }
        default: {
            return v;
        }
    }
}
