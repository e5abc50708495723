//! flowgpu: a NICE / RealNVP style normalizing flow trained with hand-written WGSL compute
//! kernels on wgpu, checked against a plain-Rust CPU reference.
//!
//! The `native` feature (on by default) adds training, data, reports and the command line.
//! Without it the crate is the part that also builds for `wasm32-unknown-unknown` and runs on
//! a browser's WebGPU: the device, the kernels, the flow's inference and checkpoints
//! (see `web/`).

pub mod atomic_write;
pub mod checkpoint;
#[cfg(feature = "native")]
pub mod cli;
pub mod config;
pub mod conformance;
#[cfg(feature = "native")]
pub mod data;
pub mod error;
pub mod gpu;
#[cfg(feature = "native")]
pub mod judge;
pub mod kernels;
pub mod model;
pub mod reference;
#[cfg(feature = "native")]
pub mod report;
#[cfg(feature = "native")]
pub mod train;

/// README.md's library example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;

pub use config::{AdamConfig, CouplingKind, FlowConfig, MaskKind, Preprocess};
pub use error::{Error, Result};
pub use model::params::{FlowParams, Linear};
pub use model::Flow;
