//! The app's task-switch test as a [`Job`]: the switching experiment's trials on a frozen copy
//! of the network, one (pathway, τ) point at a time (docs/MODEL.md §2, time scales).

use std::sync::atomic::AtomicBool;

use super::job::{Job, JobError, Stopped};
use crate::experiments::switching::{SwitchJob, SwitchResult};

impl Job for SwitchJob {
    type Output = SwitchResult;

    fn name(&self) -> &'static str {
        "switch test"
    }

    fn unit(&mut self, _cancel: &AtomicBool) -> Result<bool, JobError> {
        Ok(self.run_unit())
    }

    fn output(&self) -> &SwitchResult {
        &self.result
    }

    /// The result only records that it stopped; a failure's message goes to the status bar.
    fn stop(&mut self, _why: Stopped) {
        self.result.stopped = true;
    }
}
