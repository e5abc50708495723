//! Everything that touches wgpu, and nothing about flows: the device ([`context`]), typed
//! buffers ([`tensor`]), how a kernel is declared ([`kernel`]) and checked against its
//! shader ([`reflect`]), pipelines built from declarations ([`pipeline`]), recorded
//! dispatches ([`program`]) and workgroup sizes ([`tiles`]). The flow's kernels are
//! declared in [`crate::kernels`].

pub mod context;
pub mod device_errors;
pub mod kernel;
pub mod pipeline;
pub mod program;
pub mod reflect;
pub mod tensor;
pub mod tiles;

pub use context::{AdapterChoice, GpuContext};
pub use program::Dispatch;
pub use tensor::GpuTensor;
pub use tiles::{MatmulVariant, MatmulVariants, TileConfig};
