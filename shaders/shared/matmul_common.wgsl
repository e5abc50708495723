// Shared by every matmul kernel (`#import matmul_common`): their Params and epilogue.
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
    _pad0: u32,
}

// What is applied to each element of C before it is stored: a pipeline override, so each
// variant is compiled without the others' branches (src/kernels/matmul.rs mirrors the codes).
const EPILOGUE_NONE: u32 = 0u;
const EPILOGUE_RELU: u32 = 1u;
// Multiply by (aux > 0): the derivative of the ReLU whose output is aux (C's shape).
const EPILOGUE_RELU_GRAD: u32 = 2u;
override EPILOGUE: u32 = EPILOGUE_NONE;

// Every matmul kernel declares `p: MatmulParams` and `aux: array<f32>` (row stride ldc).
fn matmul_epilogue(v: f32, aux_index: u32) -> f32 {
    switch (EPILOGUE) {
        case EPILOGUE_RELU: {
            return max(v, 0.0);
        }
        case EPILOGUE_RELU_GRAD: {
            return select(0.0, v, aux[aux_index] > 0.0);
        }
        default: {
            return v;
        }
    }
}

// Row k, columns col0 .. col0 + 16 of B as four vec4 (the matrix's columns), for kernels
// that declare `b: array<vec4<f32>>` with a row stride ldb that is a multiple of 4.
fn b_block_4x16(k: u32, col0: u32) -> mat4x4<f32> {
    let i = (k * p.ldb + col0) / 4u;
    return mat4x4<f32>(b[i], b[i + 1u], b[i + 2u], b[i + 3u]);
}

// Stores the 4 x 16 block of C that matmul_nn / matmul_tn keep in four mat4x4 (column v of
// acc[i] holds C[row0 + i, col0 + 4v .. col0 + 4v + 4]), through the epilogue, skipping
// rows and columns outside C. Those kernels declare `c: array<f32>`.
fn store_block_4x16(row0: u32, col0: u32, acc: array<mat4x4<f32>, 4>) {
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + i;
        if (r >= p.m) {
            break;
        }
        for (var j = 0u; j < 16u; j++) {
            let col = col0 + j;
            if (col >= p.n) {
                break;
            }
            c[r * p.ldc + col] = matmul_epilogue(acc[i][j / 4u][j % 4u], r * p.ldc + col);
        }
    }
}
