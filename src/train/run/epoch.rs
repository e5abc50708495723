//! One epoch of steps: the fused GPU steps queued back to back, a loss readback every
//! `log_every` steps (the loop's only wait for the GPU), the interval checkpoint, and a
//! clean stop on `stop` or `max_steps`.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{EpochEnd, TrainingRun};
use crate::error::{Error, Result};
use crate::report::metrics::{MetricKind, MetricRow};
use crate::train::options::NanPolicy;
use crate::train::seeds::{epoch_order, noise_seed};

impl TrainingRun {
    /// Runs the rest of the current epoch (all of it, unless resumed in its middle), checking
    /// `stop` and `max_steps` before every step.
    pub(super) fn run_epoch(
        &mut self,
        stop: &AtomicBool,
        log: &mut dyn FnMut(&str),
    ) -> Result<EpochEnd> {
        let order = epoch_order(self.opts.seed, self.state.epoch, self.splits.train.len());
        self.step.set_order(&self.ctx, &order);
        let seed = noise_seed(self.opts.seed, self.state.epoch);
        while self.state.step_in_epoch < self.steps_per_epoch {
            let at_max = self.opts.max_steps.is_some_and(|m| self.state.step >= m);
            if at_max || stop.load(Ordering::SeqCst) {
                return Ok(EpochEnd::Stopped);
            }
            self.queue_step(seed);
            let t = self.state.step;
            if t % self.opts.log_every as u64 == 0
                || self.state.step_in_epoch == self.steps_per_epoch
            {
                self.log_train_loss(log)?;
                if self.checkpoint_due() {
                    self.state.elapsed_s = self.clock.elapsed_s();
                    self.save_last()?;
                }
            }
        }
        Ok(EpochEnd::Completed)
    }

    /// Queues the next optimizer step on the GPU (no wait) and counts it.
    fn queue_step(&mut self, noise_seed: u32) {
        let t = self.state.step + 1;
        let lr = self.schedule.lr(t);
        let offset = (self.state.step_in_epoch as usize) * self.opts.batch;
        self.step
            .step(&self.ctx, offset, noise_seed, t as u32, lr as f32);
        self.state.step = t;
        self.state.step_in_epoch += 1;
        self.clock.samples += self.opts.batch as u64;
    }

    /// Reads back the mean loss of the steps since the last readback (the loop's only wait for
    /// the GPU) with the fault counters, adds it to the epoch's mean, and writes a
    /// `train_step` row and the progress bar. A non-finite gradient norm (whose update Adam
    /// skipped) stops the run at the step it appeared, or with `--on-nan skip` is counted
    /// and passed over.
    fn log_train_loss(&mut self, log: &mut dyn FnMut(&str)) -> Result<()> {
        let t = self.state.step;
        let lr = self.schedule.lr(t);
        let readback = self.step.take_readback(&self.ctx)?;
        let (nats, steps, faults) = (readback.nats, readback.steps, readback.faults);
        if faults.non_finite > 0 {
            let first = faults.first_step(t).unwrap_or(t);
            if self.opts.on_nan == NanPolicy::Stop || faults.non_finite >= faults.steps {
                return Err(Error::Diverged {
                    step: first,
                    what: "gradient norm",
                    value: f64::NAN,
                    last_good: self.last_good.clone(),
                });
            }
            self.state.skipped_steps += faults.non_finite as u64;
            let message = format!(
                "skipped {} step(s) with a non-finite gradient norm, the first at step {first} ({} skipped in all)",
                faults.non_finite, self.state.skipped_steps
            );
            self.bar.suspend(|| log(&message));
            if !nats.is_finite() {
                // The interval's loss includes the skipped steps' non-finite ones.
                return Ok(());
            }
        }
        if !nats.is_finite() {
            return Err(self.diverged("train loss", nats));
        }
        self.state.epoch_loss_sum += nats * steps as f64;
        self.state.epoch_loss_steps += steps as u64;
        self.state.elapsed_s = self.clock.elapsed_s();
        let bpd = self.bits_per_dim(nats);
        let epoch =
            self.state.epoch as f64 + self.state.step_in_epoch as f64 / self.steps_per_epoch as f64;
        self.metrics.write(&MetricRow {
            kind: MetricKind::TrainStep,
            step: t,
            epoch,
            bits_per_dim: bpd,
            learning_rate: lr,
            elapsed_s: self.state.elapsed_s,
        })?;
        let rate = self.clock.samples_per_s();
        self.bar.set_position(t);
        self.bar.set_message(format!(
            "epoch {} | train {bpd:.3} bits/dim | {rate:.0} samples/s | lr {lr:.2e}",
            self.state.epoch + 1
        ));
        Ok(())
    }

    /// True when the interval checkpoint is due; only asked right after a loss readback
    /// (mid-interval the epoch's running loss lacks the steps not yet read).
    fn checkpoint_due(&self) -> bool {
        let every = self.opts.checkpoint_every_s;
        every > 0.0
            && self.state.step_in_epoch < self.steps_per_epoch
            && self.clock.last_save.elapsed().as_secs_f64() >= every
    }
}
