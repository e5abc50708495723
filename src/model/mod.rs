//! The model: host parameters ([`params`]), their GPU layout ([`layout`]), per-batch GPU
//! buffers and programs ([`workspace`]) and the public [`flow::Flow`].

pub mod backprop;
pub mod explore;
pub mod flow;
pub mod images;
pub mod layout;
pub mod likelihood;
pub mod params;
pub mod workspace;

pub use flow::Flow;
