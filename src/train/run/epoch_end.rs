//! The end of an epoch: validation, the `train_epoch` and `valid` metrics rows, and the
//! last and best checkpoints.

use std::path::Path;
use std::time::Instant;

use super::TrainingRun;
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::report::metrics::{MetricKind, MetricRow};
use crate::train::evaluate::{evaluate, Likelihood};
use crate::train::run_files::{save_checkpoint, save_weights};
use crate::train::seeds::VALID_SEED;

impl TrainingRun {
    /// End of an epoch: the epoch's mean training loss, validation, `train_epoch` and `valid`
    /// rows, `last.safetensors`, and `best.safetensors` when validation improved.
    pub(super) fn end_epoch(&mut self, log: &mut dyn FnMut(&str)) -> Result<()> {
        let train_bpd = self
            .bits_per_dim(self.state.epoch_loss_sum / self.state.epoch_loss_steps.max(1) as f64);
        // With a weight average it is the average that is validated and saved as best; the
        // raw weights go back in place whatever happens, before the run trains on.
        self.step.swap_in_average(&self.flow);
        let checked = self.validate_and_keep_best();
        self.step.restore_weights(&self.flow);
        let (valid, improved) = checked?;
        self.write_epoch_rows(train_bpd, valid.bits_per_dim)?;
        self.save_checkpoints(improved)?;
        let state = &self.state;
        let message = format!(
            "epoch {}/{}: train {train_bpd:.4} bits/dim, valid {:.4} ± {:.4} bits/dim{}{} ({:.0} s)",
            state.epoch,
            self.opts.epochs,
            valid.bits_per_dim,
            valid.bits_per_dim_se,
            if self.step.has_ema() { " (weight average)" } else { "" },
            if improved { " (best)" } else { "" },
            state.elapsed_s
        );
        self.bar.suspend(|| log(&message));
        let steps_here = self.clock.samples / self.opts.batch as u64;
        let epochs_left = self.opts.epochs.saturating_sub(state.epoch);
        if let Some(note) = self
            .clock
            .pace_note(steps_here, epochs_left, self.steps_per_epoch)
        {
            self.bar.suspend(|| log(&note));
        }
        Ok(())
    }

    /// Validation of the weights in place, the epoch closed, and, for a run with a weight
    /// average (in place now), `best.safetensors` written when validation improved.
    fn validate_and_keep_best(&mut self) -> Result<(Likelihood, bool)> {
        let valid = evaluate(
            &self.flow,
            &self.valid_images,
            self.opts.preprocess(),
            1,
            VALID_SEED,
        )?;
        // Non-finite parameters after the epoch's last update show here first; saving them
        // would overwrite the last good checkpoint.
        if !valid.bits_per_dim.is_finite() {
            return Err(self.diverged("validation bits/dim", valid.bits_per_dim));
        }
        self.state.close_epoch(self.clock.elapsed_s());
        let improved = self.state.record_validation(valid.bits_per_dim);
        if improved && self.step.has_ema() {
            save_weights(&self.paths.best, &self.flow, &self.opts, &self.state)?;
        }
        Ok((valid, improved))
    }

    /// The `train_epoch` and `valid` rows of the epoch just closed.
    fn write_epoch_rows(&mut self, train_bpd: f64, valid_bpd: f64) -> Result<()> {
        let lr = self.schedule.lr(self.state.step);
        for (kind, bits_per_dim) in [
            (MetricKind::TrainEpoch, train_bpd),
            (MetricKind::Valid, valid_bpd),
        ] {
            self.metrics.write(&MetricRow {
                kind,
                step: self.state.step,
                epoch: self.state.epoch as f64,
                bits_per_dim,
                learning_rate: lr,
                elapsed_s: self.state.elapsed_s,
            })?;
        }
        Ok(())
    }

    /// Writes the resumable `last.safetensors` (atomically: a kill while writing leaves
    /// the previous one).
    pub(super) fn save_last(&mut self) -> Result<()> {
        let last = &self.paths.last;
        save_checkpoint(last, &self.flow, &self.step, &self.opts, &self.state)?;
        self.last_good = Some(last.clone());
        self.clock.last_save = Instant::now();
        Ok(())
    }

    /// `last.safetensors`, copied to `best.safetensors` when validation improved (a run
    /// with a weight average saved its best, the average, before the raw weights came back).
    fn save_checkpoints(&mut self, improved: bool) -> Result<()> {
        self.save_last()?;
        let last = &self.paths.last;
        if improved && !self.step.has_ema() {
            copy_atomic(last, &self.paths.best)?;
        }
        Ok(())
    }
}

/// `from` to `to` through [`write_atomic`]: a kill during the copy leaves the old `to`.
pub(super) fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
    write_atomic(to, &bytes)
}
