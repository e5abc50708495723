//! The end of a run: finished (the test log-likelihood of the best model by validation,
//! `summary.json`), stopped (a resumable checkpoint), or failed on the device (the message
//! says which checkpoint is still good).

use super::{TrainOutcome, TrainingRun};
use crate::checkpoint;
use crate::error::{Error, Result};
use crate::train::evaluate::{evaluate, Likelihood};
use crate::train::gpu_data::GpuImages;
use crate::train::run_files::write_summary;
use crate::train::seeds::TEST_SEED;

impl TrainingRun {
    /// Stopped before the end: saves a resumable `last.safetensors`.
    pub(super) fn stop(mut self, log: &mut dyn FnMut(&str)) -> Result<TrainOutcome> {
        self.bar.finish_and_clear();
        let samples_per_s = self.clock.samples_per_s();
        self.state.elapsed_s = self.clock.elapsed_s();
        self.save_last()?;
        log(&format!(
            "saved {} at step {}: the run resumes from it",
            self.paths.last.display(),
            self.state.step
        ));
        Ok(self.outcome(true, None, samples_per_s))
    }

    /// All epochs done: the test log-likelihood of the best model by validation, and
    /// `summary.json`.
    pub(super) fn finish(self, log: &mut dyn FnMut(&str)) -> Result<TrainOutcome> {
        self.bar.finish_and_clear();
        let samples_per_s = self.clock.samples_per_s();
        let best = checkpoint::load(&self.paths.best, false)?;
        self.flow
            .write_params(best.params.as_ref().expect("load gives params"))?;
        let test_images = GpuImages::upload(&self.ctx, &self.splits.test, "test images")?;
        let test = evaluate(
            &self.flow,
            &test_images,
            self.opts.preprocess(),
            self.opts.test_draws.max(1),
            TEST_SEED,
        )?;
        log(&format!(
            "test log-likelihood (best epoch {}): {:.2} ± {:.2} nats/image, {:.4} ± {:.4} bits/dim over {} images, {} draws",
            self.state.best_epoch.unwrap_or(0),
            -test.nats,
            test.nats_se,
            test.bits_per_dim,
            test.bits_per_dim_se,
            test.images,
            test.draws
        ));
        let outcome = self.outcome(false, Some(test), samples_per_s);
        write_summary(&self.paths.dir, &self.opts, &outcome)?;
        Ok(outcome)
    }

    fn outcome(
        &self,
        interrupted: bool,
        test: Option<Likelihood>,
        samples_per_s: f64,
    ) -> TrainOutcome {
        TrainOutcome {
            run_dir: self.paths.dir.clone(),
            best_checkpoint: self.paths.best.clone(),
            last_checkpoint: self.paths.last.clone(),
            interrupted,
            state: self.state.clone(),
            test,
            samples_per_s,
            adapter: self.ctx.describe(),
        }
    }

    /// A device error (lost device, out of memory) ends the run; the message says at which
    /// step and which checkpoint is still good, since nothing is saved from a failed device.
    pub(super) fn device_fault(&self, e: Error) -> Error {
        match e {
            Error::Gpu(message) => Error::TrainingDeviceFault {
                message,
                step: self.state.step,
                last_good: self.last_good.clone(),
            },
            other => other,
        }
    }
}
