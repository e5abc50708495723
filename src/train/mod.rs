//! Training: the GPU-resident dataset ([`gpu_data`]), one fused training step ([`step`]),
//! evaluation ([`evaluate`]), learning-rate schedules ([`schedule`]), checkpoints
//! ([`checkpoint`]) and the training loop with its options ([`run`]).

pub mod checkpoint;
pub mod evaluate;
pub mod gpu_data;
pub mod run;
pub mod schedule;
pub mod step;
