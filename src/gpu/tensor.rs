//! Typed views over GPU buffers: a tensor is a range of `f32`s (or packed `u32`s) in a
//! buffer, so one allocation can hold many tensors (all parameters in one buffer lets Adam
//! update them in a single dispatch).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;

/// Alignment of every view inside a buffer, in elements (256 bytes covers every adapter's
/// `min_storage_buffer_offset_alignment`).
pub const VIEW_ALIGN: usize = 64;

pub fn align_up(n: usize) -> usize {
    n.div_ceil(VIEW_ALIGN) * VIEW_ALIGN
}

/// A range of 4-byte elements in a GPU buffer, with a logical shape.
#[derive(Clone, Debug)]
pub struct GpuTensor {
    buffer: Arc<wgpu::Buffer>,
    /// Offset in elements; a multiple of [`VIEW_ALIGN`].
    offset: usize,
    len: usize,
    shape: Vec<usize>,
}

impl GpuTensor {
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A sub-range `[offset, offset + len)` with a new shape; `offset` must be aligned.
    pub fn view(&self, offset: usize, shape: &[usize]) -> GpuTensor {
        let len = shape.iter().product();
        assert!(
            offset % VIEW_ALIGN == 0,
            "tensor views start at multiples of {VIEW_ALIGN} elements"
        );
        assert!(
            offset + len <= self.len,
            "view {offset}+{len} outside a tensor of {}",
            self.len
        );
        GpuTensor {
            buffer: self.buffer.clone(),
            offset: self.offset + offset,
            len,
            shape: shape.to_vec(),
        }
    }

    /// The same elements under another shape.
    pub fn reshaped(&self, shape: &[usize]) -> GpuTensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            self.len,
            "reshape keeps the element count"
        );
        GpuTensor {
            shape: shape.to_vec(),
            ..self.clone()
        }
    }

    /// A fresh zero-filled 1-D tensor (no limit checks: see [`GpuContext::zeros`]).
    pub(crate) fn new_zeroed(device: &wgpu::Device, len: usize, label: &str) -> GpuTensor {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (align_up(len.max(1)) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GpuTensor {
            buffer: Arc::new(buffer),
            offset: 0,
            len,
            shape: vec![len],
        }
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    pub fn byte_offset(&self) -> u64 {
        (self.offset * 4) as u64
    }

    pub fn byte_len(&self) -> u64 {
        (self.len.max(1) * 4) as u64
    }

    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: self.byte_offset(),
            size: std::num::NonZeroU64::new(self.byte_len()),
        })
    }
}

impl GpuContext {
    /// A zero-filled tensor. Fails with a clear message when it exceeds the adapter's limits.
    pub fn zeros(&self, shape: &[usize], label: &str) -> Result<GpuTensor> {
        // Checked: a shape made from user input must not wrap around to a small buffer.
        let bytes = shape
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .and_then(|len| len.max(1).checked_add(VIEW_ALIGN - 1))
            .map(|len| len / VIEW_ALIGN * VIEW_ALIGN)
            .and_then(|len| (len as u64).checked_mul(4))
            .unwrap_or(u64::MAX);
        let len: usize = shape.iter().product();
        if bytes > self.max_binding_bytes() {
            return Err(Error::Gpu(format!(
                "{label} {shape:?} needs {:.1} MiB but {} binds at most {:.1} MiB per buffer; use a smaller batch or model",
                bytes as f64 / 1048576.0,
                self.info().name,
                self.max_binding_bytes() as f64 / 1048576.0
            )));
        }
        let t = self.captured(
            || {
                format!(
                    "allocating {label} {shape:?} ({:.1} MiB)",
                    bytes as f64 / 1048576.0
                )
            },
            || GpuTensor::new_zeroed(self.device(), len, label),
        )?;
        Ok(t.reshaped(shape))
    }

    pub fn upload(&self, data: &[f32], shape: &[usize], label: &str) -> Result<GpuTensor> {
        self.upload_words(bytemuck::cast_slice(data), shape, label)
    }

    /// Uploads raw 4-byte words (e.g. packed `u8` pixels or `u32` indices).
    pub fn upload_words(&self, data: &[u32], shape: &[usize], label: &str) -> Result<GpuTensor> {
        let len: usize = shape.iter().product();
        if len != data.len() {
            return Err(Error::Gpu(format!(
                "{label}: shape {shape:?} holds {len} elements, data has {}",
                data.len()
            )));
        }
        let t = self.zeros(shape, label)?;
        self.write(&t, bytemuck::cast_slice(data));
        Ok(t)
    }

    /// Uploads bytes (e.g. 8-bit pixels) packed four to a little-endian word, the last word
    /// zero-padded; the shader unpacks them (`common.wgsl`).
    pub fn upload_bytes(&self, bytes: &[u8], label: &str) -> Result<GpuTensor> {
        let words: Vec<u32> = bytes
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(w)
            })
            .collect();
        self.upload_words(&words, &[words.len()], label)
    }

    /// Overwrites a tensor's contents (queued; ordered before the next submit).
    pub fn write(&self, t: &GpuTensor, data: &[f32]) {
        assert_eq!(data.len(), t.len, "write must fill the whole tensor");
        if !data.is_empty() {
            self.queue()
                .write_buffer(&t.buffer, t.byte_offset(), bytemuck::cast_slice(data));
        }
    }

    pub fn write_words(&self, t: &GpuTensor, data: &[u32]) {
        self.write(t, bytemuck::cast_slice(data))
    }

    /// `dst = src` on the device (same length), queued as a submit of its own.
    pub fn copy(&self, src: &GpuTensor, dst: &GpuTensor) {
        assert_eq!(src.len, dst.len, "copy between tensors of one length");
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("copy"),
            });
        encoder.copy_buffer_to_buffer(
            &src.buffer,
            src.byte_offset(),
            &dst.buffer,
            dst.byte_offset(),
            (src.len * 4) as u64,
        );
        self.queue().submit(Some(encoder.finish()));
    }

    /// Reads tensors back to the host in one submit and one wait, through one staging
    /// buffer that is kept and grown as needed. Blocks until the device is done; on the web,
    /// where nothing may block, use [`GpuContext::read_many_async`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_many(&self, tensors: &[&GpuTensor]) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.read_many_async(tensors))
    }

    /// [`GpuContext::read_many`] as a future: on native it waits for the device inside,
    /// on the web it resolves when the browser has mapped the buffer.
    pub async fn read_many_async(&self, tensors: &[&GpuTensor]) -> Result<Vec<Vec<f32>>> {
        let total: u64 = tensors
            .iter()
            .map(|t| t.byte_len())
            .sum::<u64>()
            .max(8)
            .div_ceil(8)
            * 8;
        // Taken out of its slot while mapped (and put back after), so that no lock is held
        // across the await: a second read meanwhile makes its own buffer.
        let kept = self
            .staging
            .lock()
            .map_err(|_| Error::Gpu("the readback buffer was poisoned by a panic".into()))?
            .take();
        let staging = match kept {
            Some(b) if b.size() >= total => b,
            _ => Arc::new(self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size: total.next_power_of_two(),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })),
        };
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        let mut at = 0;
        for t in tensors {
            encoder.copy_buffer_to_buffer(&t.buffer, t.byte_offset(), &staging, at, t.byte_len());
            at += t.byte_len();
        }
        self.queue().submit(Some(encoder.finish()));
        let slice = staging.slice(..total);
        let view = self.map_for_reading_async(slice).await?;
        let words: &[f32] = bytemuck::cast_slice(&view);
        let mut out = Vec::with_capacity(tensors.len());
        let mut at = 0;
        for t in tensors {
            out.push(words[at..at + t.len].to_vec());
            at += t.byte_len() as usize / 4;
        }
        drop(view);
        staging.unmap();
        if let Ok(mut slot) = self.staging.lock() {
            *slot = Some(staging);
        }
        Ok(out)
    }

    /// Maps `slice` of a `MAP_READ` buffer whose copy has been submitted, waiting for the
    /// device; unmap the buffer after dropping the view.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn map_for_reading(&self, slice: wgpu::BufferSlice<'_>) -> Result<wgpu::BufferView> {
        pollster::block_on(self.map_for_reading_async(slice))
    }

    /// Maps `slice` for reading. On native, `wait` drives the device until the callback has
    /// run; on the web the browser calls it from its event loop while this future waits.
    /// Device errors kept since the last wait come back here either way.
    pub(crate) async fn map_for_reading_async(
        &self,
        slice: wgpu::BufferSlice<'_>,
    ) -> Result<wgpu::BufferView> {
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = sender.send(r);
        });
        self.wait()?;
        let mapped = receiver.receive().await;
        self.take_device_errors()?;
        match mapped {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                return Err(Error::Gpu(format!("mapping a readback buffer failed: {e}")))
            }
            None => return Err(Error::Gpu("the device dropped a readback request".into())),
        }
        slice
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading back: {e}")))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn read(&self, t: &GpuTensor) -> Result<Vec<f32>> {
        Ok(self.read_many(&[t])?.remove(0))
    }

    pub async fn read_async(&self, t: &GpuTensor) -> Result<Vec<f32>> {
        Ok(self.read_many_async(&[t]).await?.remove(0))
    }
}
