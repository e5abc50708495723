//! Everything that touches wgpu, and nothing about flows: the device ([`context`]), typed
//! buffers ([`tensor`]), how a kernel is declared ([`kernel`]) and checked against its
//! shader ([`shader`], from the build's shader index), pipelines built from declarations ([`pipeline`]), recorded
//! dispatches ([`dispatch`]), scratch memory for multi-pass kernels ([`scratch`]),
//! per-kernel GPU time ([`profile`]) and workgroup sizes ([`tiles`]).
//! The flow's kernels are declared in [`crate::kernels`].

pub mod context;
pub mod device_errors;
pub mod dispatch;
pub mod kernel;
pub mod pipeline;
#[cfg(feature = "native")]
pub mod profile;
pub mod scratch;
pub mod shader;
pub mod tensor;
pub mod tiles;
#[cfg(feature = "native")]
pub mod timing;

pub use context::{AdapterChoice, GpuContext};
pub use dispatch::Dispatch;
pub use tensor::GpuTensor;
pub use tiles::TileConfig;
