//! Everything that touches wgpu: the device ([`context`]), the pipeline table ([`kernels`]),
//! tile sizes ([`tiles`]), buffers ([`tensor`]), recorded dispatches ([`program`]) and the
//! typed operations the model is built from ([`ops`]).

pub mod context;
pub mod kernels;
pub mod ops;
pub mod program;
pub mod tensor;
pub mod tiles;

pub use context::{AdapterChoice, GpuContext};
pub use program::Dispatch;
pub use tensor::GpuTensor;
pub use tiles::TileConfig;
