//! One kind of background job, and one failure policy for all of them.
//!
//! Every computation the app runs in the background is a [`Job`]: it does one unit of work at
//! a time, it has an output that fills in as it goes, and it can be stopped. The app's
//! [`super::host::JobHost`] runs it either between training steps on the worker thread (an
//! ambiguity sweep, a task-switch test, a dynamics analysis: [`super::run`] interleaves their
//! units with steps, so neither starves) or on a thread of its own (compared runs, a packing
//! sweep, subset training), under the one failure policy ([`super::host::Running::turn`]): an
//! error or a panic ends that job — its output says it stopped and the message goes to the
//! status bar — and never the training run.

use std::sync::atomic::AtomicBool;

use crate::experiments::packing::PackingError;
use crate::experiments::subset::SubsetError;
use crate::train::TrainError;
use crate::train::checkpoint::CheckpointError;

/// Why a unit of work failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A run to compare could not be read.
    #[error("cannot load run {dir}: {source}")]
    Load { dir: String, source: CheckpointError },
    /// A packing cell could not be set up or trained.
    #[error(transparent)]
    Packing(#[from] PackingError),
    /// A subset-training network that cannot be built or trained.
    #[error(transparent)]
    Subset(#[from] SubsetError),
}

/// How a job ended before it was done (defined with the experiments, whose results record it).
pub use crate::experiments::Stopped;

/// A background computation done one unit at a time.
pub trait Job {
    /// What the job has found so far (published to the UI after every unit).
    type Output: Clone;

    /// What the job is, for messages ("ambiguity sweep").
    fn name(&self) -> &'static str;

    /// Do the next unit of work; `Ok(true)` once everything is done. A long unit may stop early
    /// when `cancel` is raised (the job is then stopped as cancelled).
    fn unit(&mut self, cancel: &AtomicBool) -> Result<bool, JobError>;

    /// The output so far.
    fn output(&self) -> &Self::Output;

    /// Record in the output that the job ended early, so the UI stops waiting for it.
    fn stop(&mut self, why: Stopped);
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// A job for the tests of the job machinery: counts units.
#[cfg(test)]
pub(crate) mod counter {
    use std::time::Duration;

    use super::*;

    /// Counts to `until` units of `unit_ms` each; fails at unit `fail_at` (panics if its flag is set).
    pub struct Counter {
        pub until: u32,
        pub unit_ms: u64,
        pub fail_at: Option<(u32, bool)>,
        /// (units done, how it stopped)
        pub out: (u32, Option<Stopped>),
    }

    impl Counter {
        pub fn new(until: u32, unit_ms: u64, fail_at: Option<(u32, bool)>) -> Self {
            Counter { until, unit_ms, fail_at, out: (0, None) }
        }
    }

    impl Job for Counter {
        type Output = (u32, Option<Stopped>);
        fn name(&self) -> &'static str {
            "counter"
        }
        fn unit(&mut self, _cancel: &AtomicBool) -> Result<bool, JobError> {
            std::thread::sleep(Duration::from_millis(self.unit_ms));
            self.out.0 += 1;
            match self.fail_at {
                Some((at, true)) if at == self.out.0 => panic!("boom at {at}"),
                Some((at, false)) if at == self.out.0 => Err(JobError::Packing(PackingError::InvalidPlan(format!("error at {at}")))),
                _ => Ok(self.out.0 >= self.until),
            }
        }
        fn output(&self) -> &Self::Output {
            &self.out
        }
        fn stop(&mut self, why: Stopped) {
            self.out.1 = Some(why);
        }
    }
}
