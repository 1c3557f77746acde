//! Background work for the desktop app. One worker thread owns the training run
//! ([`run`]); the app talks to it through a [`Worker`] handle ([`handle`]) with the messages of
//! [`protocol`]. Everything else the app computes in the background is a [`job::Job`] submitted
//! to the app's one [`host::JobHost`]: on a frozen copy of the network, one unit at a time
//! between training steps ([`scheduler`]), or on a thread of its own; with one failure policy: a
//! failed job ends with its error shown, never the training run.

pub mod checkpointing;
pub mod compare;
pub mod dynamics;
pub mod handle;
pub mod history;
pub mod host;
pub mod job;
pub mod live;
pub mod outbox;
pub mod packing;
pub mod protocol;
pub mod run;
pub mod scheduler;
pub mod subset;
pub mod sweep;
pub mod switching;
pub mod wake;
#[cfg(test)]
mod tests;

pub use handle::Worker;
pub use host::{JobHost, JobId, JobState};
pub use live::AMBIGUITY_TRIALS;
pub use protocol::{AmbiguityEval, Command, EvalResult, Event, LiveViews, LoadedRun, LookedBack, RunState, Snapshot};
pub use wake::UiWaker;
