//! A data set's images on the GPU: [`GpuImages`] (in `model::images`, which the browser
//! shares) made from an [`ImageSet`].

use crate::data::ImageSet;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
pub use crate::model::images::GpuImages;

impl GpuImages {
    pub fn upload(ctx: &GpuContext, set: &ImageSet, label: &str) -> Result<Self> {
        if set.is_empty() {
            return Err(Error::Data(format!("the {label} set is empty")));
        }
        Self::from_pixels(ctx, &set.images, set.dim(), label)
    }
}
