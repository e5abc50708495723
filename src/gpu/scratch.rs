//! One grow-only buffer per context for data that lives only between the passes of one
//! multi-pass kernel (the partial sums of a split-K matmul), so such kernels need no buffer
//! from their caller and launch functions keep their signatures.
//!
//! Sharing is safe because a kernel's passes are recorded back to back and WebGPU orders
//! the memory effects of dispatches (and of submissions on the queue): the next user of the
//! scratch starts after the previous one's last pass. A tensor handed out stays valid when a
//! larger request replaces the buffer: its dispatches keep the old buffer alive.

use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::tensor::GpuTensor;

/// The context's current scratch buffer (none until first asked for).
#[derive(Default)]
pub(crate) struct Scratch {
    current: Mutex<Option<GpuTensor>>,
}

impl GpuContext {
    /// A scratch tensor of `len` elements whose contents last only until the next kernel that
    /// asks for scratch runs (see the module docs); not zeroed between uses.
    pub fn scratch(&self, len: usize) -> Result<GpuTensor> {
        let mut current = self
            .scratch
            .current
            .lock()
            .map_err(|_| Error::Gpu("the scratch buffer was poisoned by a panic".into()))?;
        if let Some(t) = current.as_ref().filter(|t| t.len() >= len) {
            return Ok(t.view(0, &[len]));
        }
        // Grow at least 2x, so a run of growing requests makes few buffers.
        let old = current.as_ref().map_or(0, |t| t.len());
        let max_len = (self.max_binding_bytes() / 4) as usize;
        let grown = (2 * old).min(max_len).max(len);
        let t = self.zeros(&[grown], "scratch")?;
        *current = Some(t.clone());
        Ok(t.view(0, &[len]))
    }
}
