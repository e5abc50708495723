//! The command-line front end shared by the `flowgpu` binary and `examples/train.rs`.

pub mod adapter_arg;
pub mod commands;
pub mod display_probe;
pub mod export_web;
pub mod flags;
pub mod judge;
pub mod resume_options;
pub mod train_args;
pub mod value_checks;
