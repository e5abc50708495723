//! Checking a dataset's files against the md5s of the official ones (their decompressed
//! contents: Debian recompressed Fashion-MNIST's `.gz` files).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::data::dataset::{find_file, DatasetName, FILE_NAMES};
use crate::data::idx::is_gzip;
use crate::data::sources::{expected_md5, fetch_instructions};
use crate::error::{Error, Result};

/// Checks the md5 of the decompressed contents of the four files in `data_dir` against the
/// official values. Slow-ish (reads ~55 MB); meant for a `--verify` flag or a test.
pub fn verify_dataset(name: DatasetName, data_dir: &Path) -> Result<()> {
    let mut files = Vec::new();
    for f in FILE_NAMES {
        let path = find_file(data_dir, f).ok_or_else(|| {
            Error::Data(format!(
                "{}: {} not found.\n{}",
                name.title(),
                data_dir.join(f).display(),
                fetch_instructions(name, data_dir)
            ))
        })?;
        files.push(path);
    }
    verify_files(name, data_dir, &files)
}

/// md5 (lower-case hex) of a file's contents, decompressed first if it is gzip.
pub fn content_md5(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 2];
    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
    let mut reader: Box<dyn Read> = if is_gzip(&head[..n]) {
        Box::new(flate2::read::MultiGzDecoder::new(
            io::Cursor::new(head).chain(file),
        ))
    } else {
        Box::new(io::Cursor::new(head[..n].to_vec()).chain(file))
    };
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let k = reader
            .read(&mut buf)
            .map_err(|e| Error::Data(format!("{}: reading failed: {e}", path.display())))?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks each fetched file's decompressed md5; the file name picks the expected value.
pub(super) fn verify_files(name: DatasetName, data_dir: &Path, files: &[PathBuf]) -> Result<()> {
    for path in files {
        let base = file_name(path);
        let base = base.trim_end_matches(".gz");
        let Some((_, want)) = expected_md5(name).into_iter().find(|(f, _)| *f == base) else {
            return Err(Error::Data(format!(
                "{}: unexpected file {}",
                name.title(),
                path.display()
            )));
        };
        let got = content_md5(path)?;
        if got != want {
            return Err(Error::Data(format!(
                "{}: {} has md5 {got}, expected {want} (the source package may have changed \
                 or the download is damaged; nothing was written to {}).\n{}",
                name.title(),
                path.display(),
                data_dir.display(),
                fetch_instructions(name, data_dir)
            )));
        }
    }
    Ok(())
}

/// The file name of `path`, or "" when it has none.
pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = r.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}
