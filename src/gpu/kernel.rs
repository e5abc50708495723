//! A typed way to declare a compute kernel: its shader module (from the build's shader
//! index), entry point, named bindings and the Rust mirror of its uniform `Params`. The
//! declaration is what the pipeline is built from, and [`check_declaration`] compares it
//! with naga's reflection of the shader while the crate compiles ([`Kernel::new`] is a
//! `const fn` that fails the build on a mismatch), so a binding added, removed, renamed or
//! given another access on one side only never reaches a device.
//!
//! Binding 0 of every kernel is its uniform `Params`; storage bindings follow in the order
//! of [`KernelInfo::bindings`].

use std::marker::PhantomData;

use crate::gpu::shader::{str_eq, Shader};

/// How a kernel uses a storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// A storage binding as the kernel's WGSL names it.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    pub name: &'static str,
    pub access: Access,
}

/// A read-only storage binding.
pub const fn read(name: &'static str) -> Binding {
    Binding {
        name,
        access: Access::Read,
    }
}

/// A read-write storage binding.
pub const fn write(name: &'static str) -> Binding {
    Binding {
        name,
        access: Access::ReadWrite,
    }
}

/// Which workgroup size of [`crate::gpu::TileConfig`] a kernel is built with (the WGSL
/// declares `override WG` or `override WG_X, WG_Y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workgroup {
    /// `WG_X`, `WG_Y`: the matmul tiles.
    Matmul,
    /// `WG`: the elementwise size.
    Elementwise,
    /// `WG`: the per-row reduction size (a power of two).
    Reduce,
    /// Written in the shader (e.g. one subgroup); no workgroup-size overrides.
    Fixed,
}

/// Everything about a kernel except its parameter type.
#[derive(Debug)]
pub struct KernelInfo {
    /// The module in the shader index (`crate::kernels::shaders`).
    pub shader: &'static Shader,
    pub entry: &'static str,
    pub bindings: &'static [Binding],
    pub workgroup: Workgroup,
    /// `override` constants chosen per dispatch (e.g. a matmul's epilogue), besides the
    /// workgroup size.
    pub overrides: &'static [&'static str],
    /// Device features the kernel needs (e.g. `SUBGROUP`).
    pub features: wgpu::Features,
}

impl KernelInfo {
    /// The shader's file name (`coupling_forward.wgsl`).
    pub fn file(&self) -> &'static str {
        self.shader.file
    }

    /// The WGSL the device compiles (imports inlined by the build).
    pub fn source(&self) -> &'static str {
        self.shader.source
    }

    /// `file:entry`, for messages and pipeline labels.
    pub fn label(&self) -> String {
        format!("{}:{}", self.shader.file, self.entry)
    }
}

/// One field of a uniform parameter struct: name, byte offset and byte size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
}

/// A `#[repr(C)]` struct that mirrors a WGSL uniform struct. Fields whose names start with
/// `_` are padding: only the total size covers them. Implemented by [`gpu_params!`](crate::gpu_params).
pub trait Params: bytemuck::Pod {
    const FIELDS: &'static [Field];
}

/// Declares a uniform parameter struct (`#[repr(C)]`, `Pod`) and its [`Params`] field table.
#[macro_export]
macro_rules! gpu_params {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        impl $crate::gpu::kernel::Params for $name {
            const FIELDS: &'static [$crate::gpu::kernel::Field] = &[$(
                $crate::gpu::kernel::Field {
                    name: stringify!($field),
                    offset: std::mem::offset_of!($name, $field),
                    size: std::mem::size_of::<$ty>(),
                }
            ),*];
        }
    };
}

/// A kernel whose uniform parameters are a `P`: dispatching it with any other type does not
/// compile.
pub struct Kernel<P> {
    pub info: KernelInfo,
    params: PhantomData<fn() -> P>,
}

impl<P: Params> Kernel<P> {
    /// Declares a kernel. Evaluated at compile time for every `const` declaration: a
    /// declaration that disagrees with its shader fails the build with the reason.
    pub const fn new(info: KernelInfo) -> Self {
        if let Err(reason) = check_declaration(&info, P::FIELDS, std::mem::size_of::<P>()) {
            panic!("{}", reason);
        }
        Self {
            info,
            params: PhantomData,
        }
    }
}

/// A kernel with its parameter type erased, for tables of every kernel.
pub trait AnyKernel: Sync {
    fn info(&self) -> &KernelInfo;
    /// The Rust mirror of the WGSL `Params`: its fields and total size in bytes.
    fn params_layout(&self) -> (&'static [Field], usize);
}

impl<P: Params> AnyKernel for Kernel<P> {
    fn info(&self) -> &KernelInfo {
        &self.info
    }

    fn params_layout(&self) -> (&'static [Field], usize) {
        (P::FIELDS, std::mem::size_of::<P>())
    }
}

const fn is_padding(name: &str) -> bool {
    !name.is_empty() && name.as_bytes()[0] == b'_'
}

/// Compares a declaration with the shader index's reflection of its shader: the entry
/// point; the `Params` mirror (total size, and name, offset and size of every field not
/// named `_...`, in order); the storage bindings (count, and name and access of each,
/// numbered 1.. in declaration order); the declared overrides; and the workgroup class
/// (the overrides it sets must exist). A `const fn`, so [`Kernel::new`] runs it at compile
/// time; the tests run it on broken declarations.
pub const fn check_declaration(
    info: &KernelInfo,
    fields: &[Field],
    size: usize,
) -> Result<(), &'static str> {
    let shader = info.shader;
    if !shader.has_entry(info.entry) {
        return Err("the shader has no compute entry point of the declared name");
    }
    if size != shader.params_size {
        return Err("Params has another size in Rust than in WGSL");
    }
    let (mut r, mut w) = (0, 0);
    loop {
        while r < fields.len() && is_padding(fields[r].name) {
            r += 1;
        }
        while w < shader.params.len() && is_padding(shader.params[w].name) {
            w += 1;
        }
        match (r < fields.len(), w < shader.params.len()) {
            (false, false) => break,
            (true, true) => {}
            _ => return Err("Params has another number of fields in Rust than in WGSL"),
        }
        let (rf, wf) = (fields[r], shader.params[w]);
        if !str_eq(rf.name, wf.name) {
            return Err("a Params field has another name (or place) in Rust than in WGSL");
        }
        if rf.offset != wf.offset || rf.size != wf.size {
            return Err("a Params field has another offset or size in Rust than in WGSL");
        }
        r += 1;
        w += 1;
    }
    if info.bindings.len() != shader.storage.len() {
        return Err("another number of storage bindings is declared than the shader has");
    }
    let mut i = 0;
    while i < info.bindings.len() {
        let (d, s) = (info.bindings[i], shader.storage[i]);
        if !str_eq(d.name, s.name) {
            return Err("a storage binding is declared with another name than the shader's");
        }
        if d.access as u8 != s.access as u8 {
            return Err("a storage binding is declared with another access than the shader's");
        }
        i += 1;
    }
    let mut o = 0;
    while o < info.overrides.len() {
        if !shader.has_override(info.overrides[o]) {
            return Err("a declared override is not in the shader");
        }
        o += 1;
    }
    let sizes: &[&str] = match info.workgroup {
        Workgroup::Matmul => &["WG_X", "WG_Y"],
        Workgroup::Elementwise | Workgroup::Reduce => &["WG"],
        Workgroup::Fixed => &[],
    };
    let mut k = 0;
    while k < sizes.len() {
        if !shader.has_override(sizes[k]) {
            return Err("the workgroup class sets an override the shader lacks (WG or WG_X/WG_Y)");
        }
        k += 1;
    }
    Ok(())
}

/// Fails the build unless `info` is declared on the shader named `name` (the shader index
/// lists each declaration under the shader whose `#kernel` line names it).
pub const fn assert_shader(info: &KernelInfo, name: &str) {
    if !str_eq(info.shader.name, name) {
        panic!("a #kernel line names a declaration made on another shader");
    }
}

/// A named `u32` constant that a WGSL snippet and the Rust host both use for a mode (e.g.
/// which mask a coupling uses); tests check the two sides agree.
#[derive(Clone, Copy, Debug)]
pub struct SharedConst {
    pub name: &'static str,
    pub value: u32,
}
