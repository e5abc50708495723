//! Writing a whole file so that a reader, or the run after a crash, finds either the old
//! content or the new one, never a torn mix: every output that replaces a good file
//! (checkpoints, figures, the report, a rewritten metrics CSV) goes through [`write_atomic`].
//!
//! The bytes go to `<name>.tmp` in the same directory (so the rename stays on one
//! filesystem), the temporary file is flushed to disk, renamed over the target, and on unix
//! the directory is flushed too so that the rename itself survives a power cut.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Replaces `path` with `bytes` atomically, creating the parent directory if needed.
///
/// Errors name the file they happened on (the temporary file for the write, `path` for the
/// rename); a failed write leaves no temporary file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        )
    })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    // One temporary name per writer: two processes saving the same file (two runs filling
    // one tuning cache) must not rename each other's temporary away.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = name.to_owned();
    tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);

    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(tmp, e));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf))
}

/// Flushes a directory entry (the rename) to disk; a no-op where directories cannot be opened.
#[cfg(unix)]
fn sync_dir(dir: PathBuf) -> Result<()> {
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: PathBuf) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("flowgpu-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("nested").join("out.txt");
        write_atomic(&path, b"first").expect("first write creates the directory");
        write_atomic(&path, b"second").expect("second write replaces the file");
        assert_eq!(std::fs::read(&path).expect("read back"), b"second");
        let left: Vec<_> = std::fs::read_dir(dir.join("nested"))
            .expect("list the directory")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["out.txt"], "only the file itself is left");

        // Writers in parallel each rename their own temporary: every write succeeds.
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || write_atomic(&path, format!("w{i}").as_bytes()))
            })
            .collect();
        for w in writers {
            w.join().expect("writer thread").expect("a parallel write");
        }

        // A path under a regular file cannot be written: the error names the path.
        let blocked = path.join("child.txt");
        let err = write_atomic(&blocked, b"x").expect_err("parent is a file");
        assert!(err.to_string().contains("out.txt"), "{err}");
        assert!(write_atomic(Path::new("/"), b"x").is_err(), "no file name");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
