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
