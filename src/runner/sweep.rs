//! The app's ambiguity sweep ([`crate::experiments::sweep::SweepJob`]) as a [`Job`]: a frozen
//! copy of the network scored at each level of one ambiguity kind, one level (every task) per
//! unit, as every sweep scores a level (docs/MODEL.md §4A).

use std::sync::atomic::AtomicBool;

use super::job::{Job, JobError, Stopped};
use crate::experiments::sweep::{SweepJob, SweepResult};

impl Job for SweepJob {
    type Output = SweepResult;

    fn name(&self) -> &'static str {
        "ambiguity sweep"
    }

    /// Score one level (every task).
    fn unit(&mut self, _cancel: &AtomicBool) -> Result<bool, JobError> {
        Ok(self.next_level()?)
    }

    fn output(&self) -> &SweepResult {
        self.result()
    }

    fn stop(&mut self, why: Stopped) {
        SweepJob::stop(self, why);
    }
}
