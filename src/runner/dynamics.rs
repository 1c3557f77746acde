//! The app's dynamics analysis ([`crate::experiments::dynamics`]) as a [`Job`], run on a frozen
//! copy of the network between training steps.

use std::sync::atomic::AtomicBool;

use super::job::{Job, JobError, Stopped};
use crate::experiments::dynamics::{DynamicsJob, DynamicsResult};

impl Job for DynamicsJob {
    type Output = DynamicsResult;

    fn name(&self) -> &'static str {
        "dynamics analysis"
    }

    fn unit(&mut self, _cancel: &AtomicBool) -> Result<bool, JobError> {
        Ok(self.next_unit()?)
    }

    fn output(&self) -> &DynamicsResult {
        self.result()
    }

    fn stop(&mut self, why: Stopped) {
        DynamicsJob::stop(
            self,
            match why {
                Stopped::Cancelled => "cancelled".into(),
                Stopped::Failed(message) => message,
            },
        );
    }
}
