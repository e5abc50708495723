//! wgpu reports validation and out-of-memory errors asynchronously, and by default panics on
//! any it was not asked to catch. Here they become values: resource creation runs inside
//! error scopes ([`GpuContext::captured`]) so a failure names the operation and its sizes,
//! and anything outside a scope (or a lost device) is kept and returned by the next wait
//! ([`GpuContext::wait`]), so a run ends with an error (and its last checkpoint) instead of
//! a panic or garbage.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;

/// The first device error not caught by a scope, or the device's loss, until taken.
#[derive(Clone, Default)]
pub struct DeviceErrors(Arc<Mutex<Option<String>>>);

impl DeviceErrors {
    /// Routes `device`'s uncaptured errors and its loss here.
    pub fn install(&self, device: &wgpu::Device) {
        let errors = self.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            errors.keep(format!("the device reported an error: {e}"));
        }));
        let errors = self.clone();
        device.set_device_lost_callback(move |reason, message| {
            if reason != wgpu::DeviceLostReason::Destroyed {
                errors.keep(format!("the device was lost ({reason:?}): {message}"));
            }
        });
    }

    fn keep(&self, message: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(message);
        }
    }

    /// The kept error, if any, as an `Error::Gpu`; clears it.
    pub fn take(&self) -> Result<()> {
        let kept = self.0.lock().ok().and_then(|mut slot| slot.take());
        match kept {
            Some(message) => Err(Error::Gpu(message)),
            None => Ok(()),
        }
    }
}

impl GpuContext {
    /// Runs `make` (creating buffers, bind groups, pipelines) inside out-of-memory and
    /// validation error scopes; a failure becomes an `Error::Gpu` that starts with `what()`
    /// (the operation and its sizes).
    pub fn captured<T>(
        &self,
        what: impl FnOnce() -> String,
        make: impl FnOnce() -> T,
    ) -> Result<T> {
        let (value, error) = scoped(
            self.device(),
            &[
                wgpu::ErrorFilter::OutOfMemory,
                wgpu::ErrorFilter::Validation,
            ],
            make,
        );
        match error {
            None => Ok(value),
            Some(e) => Err(Error::Gpu(format!("{} failed: {e}", what()))),
        }
    }
}

/// Runs `make` inside one error scope per filter and returns the first error caught, the
/// last filter's first. A scope's result only arrives as a future: native code blocks on
/// it; on the web nothing may block, so there no scope is pushed and an error reaches the
/// uncaptured handler instead, to be returned by the next read.
pub(crate) fn scoped<T>(
    device: &wgpu::Device,
    filters: &[wgpu::ErrorFilter],
    make: impl FnOnce() -> T,
) -> (T, Option<wgpu::Error>) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let scopes: Vec<_> = filters
            .iter()
            .map(|&f| device.push_error_scope(f))
            .collect();
        let value = make();
        let mut first = None;
        for scope in scopes.into_iter().rev() {
            let e = pollster::block_on(scope.pop());
            first = first.or(e);
        }
        (value, first)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (device, filters);
        (make(), None)
    }
}
