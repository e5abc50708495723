//! Training: the options of a run ([`options`]), the GPU-resident dataset ([`gpu_data`]), one
//! fused training step ([`step`]), evaluation ([`evaluate`]), learning-rate schedules
//! ([`schedule`]), the run's seeds ([`seeds`]), its starting point ([`start`]), checkpoints
//! ([`crate::checkpoint`]) and the files a run writes ([`run_files`]), and the training loop ([`run`]).

pub mod evaluate;
pub mod gpu_data;
pub mod options;
pub mod profile;
pub mod run;
pub mod run_files;
pub mod schedule;
pub mod seeds;
pub mod start;
pub mod step;
