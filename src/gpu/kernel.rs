//! A typed way to declare a compute kernel: its WGSL, entry point, named bindings and the
//! Rust mirror of its uniform `Params`. The declaration is what the pipeline is built from
//! and what [`crate::gpu::reflect`] checks against the shader, so a binding added, removed,
//! renamed or given another access on one side only is caught before anything runs.
//!
//! Binding 0 of every kernel is its uniform `Params`; storage bindings follow in the order
//! of [`KernelInfo::bindings`].

use std::marker::PhantomData;

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
    /// The file under `shaders/`.
    pub file: &'static str,
    pub source: &'static str,
    /// Shared WGSL prepended to `source` (WGSL has no `#include`).
    pub snippets: &'static [&'static str],
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
    /// The WGSL the device compiles: the shared snippets, then the file.
    pub fn full_source(&self) -> String {
        let mut s = String::new();
        for snippet in self.snippets {
            s.push_str(snippet);
            s.push('\n');
        }
        s.push_str(self.source);
        s
    }

    /// `file:entry`, for messages and pipeline labels.
    pub fn label(&self) -> String {
        format!("{}:{}", self.file, self.entry)
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
/// `_` are padding: only the total size covers them. Implemented by [`gpu_params!`].
pub trait Params: bytemuck::Pod {
    fn fields() -> Vec<Field>;
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
            fn fields() -> Vec<$crate::gpu::kernel::Field> {
                vec![$(
                    $crate::gpu::kernel::Field {
                        name: stringify!($field),
                        offset: std::mem::offset_of!($name, $field),
                        size: std::mem::size_of::<$ty>(),
                    }
                ),*]
            }
        }
    };
}

/// A kernel whose uniform parameters are a `P`: dispatching it with any other type does not
/// compile.
pub struct Kernel<P> {
    pub info: KernelInfo,
    params: PhantomData<fn() -> P>,
}

impl<P> Kernel<P> {
    pub const fn new(info: KernelInfo) -> Self {
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
    fn params_layout(&self) -> (Vec<Field>, usize);
}

impl<P: Params> AnyKernel for Kernel<P> {
    fn info(&self) -> &KernelInfo {
        &self.info
    }

    fn params_layout(&self) -> (Vec<Field>, usize) {
        (P::fields(), std::mem::size_of::<P>())
    }
}

/// A named `u32` constant that a WGSL snippet and the Rust host both use for a mode (e.g.
/// which mask a coupling uses); tests check the two sides agree.
#[derive(Clone, Copy, Debug)]
pub struct SharedConst {
    pub name: &'static str,
    pub value: u32,
}
