//! A compiled shader module as `build.rs` leaves it in the shader index
//! (`crate::kernels::shaders`): the composed WGSL (imports inlined) and what naga reflected
//! from it at build time. Pipelines and bind group layouts are made from this, and every
//! kernel declaration is checked against it when the crate compiles.

use crate::gpu::kernel::Access;

/// A field of the shader's uniform `Params` (binding 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShaderField {
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
}

/// A storage binding as the WGSL declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShaderBinding {
    pub binding: u32,
    pub name: &'static str,
    pub access: Access,
    /// Bytes one element of the bound array takes: the smallest valid binding.
    pub min_size: u64,
}

/// One shader module of the index.
#[derive(Debug)]
pub struct Shader {
    /// File stem, e.g. `coupling_forward` or `matmul_nn_sg_64x4`.
    pub name: &'static str,
    /// `name.wgsl`: a file under `shaders/`, or a generated module's name.
    pub file: &'static str,
    /// Written by `build.rs` (the subgroup matmuls), not a file of `shaders/`.
    pub generated: bool,
    /// The WGSL the device compiles, imports inlined.
    pub source: &'static str,
    /// The `shaders/shared/` snippets it imports, in order.
    pub imports: &'static [&'static str],
    /// Compute entry points.
    pub entries: &'static [&'static str],
    pub params_size: usize,
    pub params: &'static [ShaderField],
    /// Storage bindings 1.. in binding order.
    pub storage: &'static [ShaderBinding],
    pub overrides: &'static [&'static str],
    /// Module-scope `const NAME: u32` values.
    pub constants: &'static [(&'static str, u32)],
    /// Paths (under `crate::kernels`) of the kernels declared on this module.
    pub kernels: &'static [&'static str],
}

/// A snippet of `shaders/shared/` and the `u32` constants it defines.
#[derive(Debug)]
pub struct Snippet {
    pub name: &'static str,
    pub constants: &'static [(&'static str, u32)],
}

/// `a == b` for `&str` in a `const fn`.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Shader {
    pub const fn has_entry(&self, entry: &str) -> bool {
        contains(self.entries, entry)
    }

    pub const fn has_override(&self, name: &str) -> bool {
        contains(self.overrides, name)
    }
}

pub(crate) const fn contains(list: &[&str], item: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if str_eq(list[i], item) {
            return true;
        }
        i += 1;
    }
    false
}
