//! The sample judge's own two kernels ([`crate::judge`]); its linear layers run on the
//! flow's matmuls and its optimiser on the flow's Adam. `classifier_input.wgsl` turns
//! GPU-resident 8-bit images into the classifier's input rows (randomly translated for
//! training), `softmax_cross_entropy.wgsl` is its loss and the loss's gradient.
//! Reference: `reference::classifier`.

use crate::error::Result;
use crate::gpu::kernel::{read, write, Kernel, KernelInfo, Workgroup};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::{groups_rows, shaders, u};

crate::gpu_params! {
    /// Mirror of `Params` in shaders/classifier_input.wgsl.
    pub struct ClassifierInputParams {
        pub batch: u32,
        pub side: u32,
        pub ld: u32,
        pub seed: u32,
        pub shift: u32,
        pub index_offset: u32,
        pub _pad: [u32; 2],
    }
}

pub const CLASSIFIER_INPUT: Kernel<ClassifierInputParams> = Kernel::new(KernelInfo {
    shader: &shaders::CLASSIFIER_INPUT,
    entry: "main",
    bindings: &[read("pixels"), read("indices"), write("x")],
    workgroup: Workgroup::Reduce,
    overrides: &[],
    features: wgpu::Features::empty(),
});

impl ClassifierInputParams {
    /// Rows `indices[index_offset..][..batch]` of `side x side` images into rows of stride
    /// `ld`, translated by up to `shift` pixels each way (0: as they are).
    pub fn new(batch: usize, side: usize, ld: usize, shift: u32) -> Self {
        assert!(ld >= side * side, "a row holds a whole image");
        Self {
            batch: u(batch),
            side: u(side),
            ld: u(ld),
            seed: 0,
            shift,
            index_offset: 0,
            _pad: [0; 2],
        }
    }
}

/// One workgroup per row; `x` holds `[batch, ld]`. The epoch's seed and the batch's place
/// in `indices` change through [`Dispatch::set_params`].
pub fn classifier_input(
    ctx: &GpuContext,
    params: ClassifierInputParams,
    pixels: &GpuTensor,
    indices: &GpuTensor,
    x: &GpuTensor,
) -> Result<Dispatch> {
    let batch = params.batch as usize;
    assert!(x.len() >= batch * params.ld as usize);
    assert!(indices.len() >= params.index_offset as usize + batch);
    ctx.dispatch(
        &CLASSIFIER_INPUT,
        &[],
        &params,
        &[pixels, indices, x],
        groups_rows(batch),
    )
}

crate::gpu_params! {
    /// Mirror of `Params` in shaders/softmax_cross_entropy.wgsl.
    pub struct SoftmaxCrossEntropyParams {
        pub batch: u32,
        pub classes: u32,
        pub ld: u32,
        pub index_offset: u32,
    }
}

pub const SOFTMAX_CROSS_ENTROPY: Kernel<SoftmaxCrossEntropyParams> = Kernel::new(KernelInfo {
    shader: &shaders::SOFTMAX_CROSS_ENTROPY,
    entry: "main",
    bindings: &[
        read("logits"),
        read("labels"),
        read("indices"),
        write("grad"),
        write("sums"),
    ],
    workgroup: Workgroup::Reduce,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// Elements of the loss sums: the sum of batch-mean losses, of batch accuracies, and the
/// number of batches.
pub const CROSS_ENTROPY_SUMS: usize = 3;

/// The buffers the loss reads and writes.
#[derive(Clone, Copy)]
pub struct CrossEntropyBuffers<'a> {
    /// `[batch, ld]`.
    pub logits: &'a GpuTensor,
    /// One `u32` label per image of the data set.
    pub labels: &'a GpuTensor,
    /// The batch's images are `indices[index_offset..][..batch]`.
    pub indices: &'a GpuTensor,
    /// Out: `[batch, ld]`, dL/dlogits (padding untouched).
    pub grad: &'a GpuTensor,
    /// In/out: [`CROSS_ENTROPY_SUMS`] running sums.
    pub sums: &'a GpuTensor,
}

/// One dispatch of one workgroup: the batch's loss, its gradient, and the running sums.
pub fn softmax_cross_entropy(
    ctx: &GpuContext,
    params: SoftmaxCrossEntropyParams,
    bufs: CrossEntropyBuffers<'_>,
) -> Result<Dispatch> {
    let (batch, ld) = (params.batch as usize, params.ld as usize);
    assert!(params.classes >= 1 && ld >= params.classes as usize);
    assert!(bufs.logits.len() >= batch * ld && bufs.grad.len() >= batch * ld);
    assert!(bufs.indices.len() >= params.index_offset as usize + batch);
    assert!(bufs.sums.len() >= CROSS_ENTROPY_SUMS);
    ctx.dispatch(
        &SOFTMAX_CROSS_ENTROPY,
        &[],
        &params,
        &[bufs.logits, bufs.labels, bufs.indices, bufs.grad, bufs.sums],
        [1, 1, 1],
    )
}
