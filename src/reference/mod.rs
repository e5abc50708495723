//! CPU reference implementation: the oracle every GPU kernel is tested against.
//!
//! Deliberately plain Rust that shares no code with the GPU kernels. Every computation is
//! done in `f64`; the `f32` entry points widen their inputs exactly and round their outputs
//! once. The `*_f64` entry points take any [`ParamView`] — the stored [`FlowParams`] or the
//! `f64` copy [`FlowParamsF64`] that finite differences perturb. Batches are row-major
//! `[batch, dim]` slices. Shape errors panic with a message (this is a test oracle).
//!
//! The model math is documented in [`flow`] (forward / inverse) and [`backward`] (gradients);
//! the optimiser in [`adam`]; the finite-difference Jacobian check in [`jacobian`].
//!
//! See `tests/reference.rs` for the checks that make it trustworthy.
//!
//! [`FlowParams`]: crate::model::params::FlowParams

pub mod adam;
pub mod backward;
pub mod classifier;
pub mod flow;
pub mod jacobian;
pub mod mlp;
pub mod preprocess;
pub mod view;

pub use adam::{adam_step, clip_factor, ema_step, global_grad_norm};
pub use backward::{
    backward_f64, coupling_backward_layer, grad_input, grad_input_f64, loss_and_grad,
    loss_and_grad_f64, loss_f64, Backward, LayerBackward,
};
pub use flow::{
    coupling_forward_layer, coupling_forward_layer_f64, forward, forward_f64, forward_trace_f64,
    gather_half, gather_part, half_part, inverse, inverse_f64, inverse_layer_f64,
    inverse_with_stages, inverse_with_stages_f64, log_density, log_likelihood, log_likelihood_f64,
    scatter_part, Half, LayerTrace,
};
pub use jacobian::{jacobian_fd, jacobian_logdet_fd, log_abs_det, JACOBIAN_FD_STEP};
pub use mlp::{
    linear, linear_backward, linear_backward_f64, linear_f64, mlp_backward_f64, mlp_forward,
    mlp_forward_f64, LinearGrad,
};
pub use view::{to_f32, to_f64, FlowParamsF64, LinearF64, LinearView, ParamView, Scalar};
