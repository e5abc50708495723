//! Resuming: the checkpoint a run continues from, the options it continues with, and the
//! checks that it is the same model.

use std::path::{Path, PathBuf};

use super::epoch_end::copy_atomic;
use super::{RunPaths, TrainState};
use crate::checkpoint::{self, Checkpoint};
use crate::error::{Error, Result};
use crate::train::options::{describe_model, TrainOptions};
use crate::train::run_files::{checkpoint_run_info, resolve_saved_paths, BEST};

/// A checkpoint to continue from, with the options and state saved in it.
pub(super) struct Resumed {
    pub(super) from: PathBuf,
    pub(super) checkpoint: Checkpoint,
    pub(super) saved_options: TrainOptions,
    pub(super) state: TrainState,
}

impl Resumed {
    /// A resumed run goes on with its checkpoint's options (paths resolved against the
    /// checkpoint's location), except how long it runs and whether it draws a progress
    /// bar, which the caller decides.
    pub(super) fn options(&self, given: &TrainOptions) -> TrainOptions {
        let mut saved = self.saved_options.clone();
        resolve_saved_paths(&mut saved, &self.from);
        TrainOptions {
            epochs: given.epochs,
            progress: given.progress,
            max_steps: given.max_steps,
            ..saved
        }
    }
}

/// Reads the checkpoint a run resumes from, with the state saved in it.
pub(super) fn read_resume_point(path: &Path, log: &mut dyn FnMut(&str)) -> Result<Resumed> {
    let checkpoint = checkpoint::load(path, true)?;
    let (saved_options, state) = checkpoint_run_info(&checkpoint.meta)?;
    log(&format!(
        "resuming {} from step {} (epoch {})",
        path.display(),
        state.step,
        state.epoch + 1
    ));
    Ok(Resumed {
        from: path.to_path_buf(),
        checkpoint,
        saved_options,
        state,
    })
}

/// A run resumed into another folder (`--name`, `--runs-dir`) takes its best checkpoint
/// along, so that it can end with the test likelihood of the best epoch.
pub(super) fn bring_best_along(from: &Path, paths: &RunPaths) -> Result<()> {
    let best = from.with_file_name(BEST);
    if paths.best.exists() || !best.is_file() {
        return Ok(());
    }
    copy_atomic(&best, &paths.best)
}

/// A resumed run keeps its model and data: the parts of `opts` that decide them must be the
/// checkpoint's (`saved`).
pub(super) fn check_same_model(
    opts: &TrainOptions,
    saved: &TrainOptions,
    from: &Path,
) -> Result<()> {
    let same = opts.flow == saved.flow
        && opts.logit_alpha == saved.logit_alpha
        && opts.dataset == saved.dataset
        && opts.train_limit == saved.train_limit;
    if same {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{} holds a {} (logit alpha {:?}, {:?}, {:?} training images); the options ask for a {} (logit alpha {:?}, {:?}, {:?}): a resumed run keeps its checkpoint's model",
        from.display(),
        describe_model(&saved.flow),
        saved.logit_alpha,
        saved.dataset,
        saved.train_limit,
        describe_model(&opts.flow),
        opts.logit_alpha,
        opts.dataset,
        opts.train_limit,
    )))
}
