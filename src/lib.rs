//! flowgpu: a NICE / RealNVP style normalizing flow trained with hand-written WGSL compute
//! kernels on wgpu, checked against a plain-Rust CPU reference.

pub mod atomic_write;
pub mod cli;
pub mod config;
pub mod data;
pub mod error;
pub mod gpu;
pub mod kernels;
pub mod model;
pub mod reference;
pub mod report;
pub mod train;

pub use config::{AdamConfig, CouplingKind, FlowConfig, MaskKind, Preprocess};
pub use error::{Error, Result};
pub use model::params::{FlowParams, Linear};
pub use model::Flow;
