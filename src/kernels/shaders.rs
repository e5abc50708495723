//! The shader index `build.rs` writes: one [`Shader`] per module of `shaders/` (imports
//! inlined) and per generated subgroup matmul, with naga's reflection of it; [`SHADERS`],
//! every module; [`KERNELS`], every kernel declaration (from the shaders' `#kernel` lines);
//! [`SNIPPETS`], the constants of `shaders/shared/`. Nothing here is written by hand.

use crate::gpu::kernel::{assert_shader, Access, AnyKernel};
use crate::gpu::shader::{Shader, ShaderBinding, ShaderField, Snippet};

include!(concat!(env!("OUT_DIR"), "/shader_index.rs"));
