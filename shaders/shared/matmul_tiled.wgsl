// Shared by the tiled matmuls matmul_nn and matmul_tn (`#import matmul_tiled`, after
// `#import matmul_common`): loading a 4 x 16 block of B and storing one of C. They declare
// `b: array<vec4<f32>>` and `c: array<f32>`.

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
