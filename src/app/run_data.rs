//! What the app received from the worker about the current run, and the status messages.

use std::time::Instant;

use super::loss_curve::LossCurve;
use crate::config::Config;
use crate::runner::{EvalResult, Event, LoadedRun, RunState, Snapshot};
use crate::train::RunEnd;

/// How severe a status message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

/// Everything received from the worker about the current run.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The configuration the worker's network was built with.
    pub config: Option<Config>,
    pub state: RunState,
    pub step: u64,
    pub trials: u64,
    /// Seconds spent training (pauses excluded).
    pub train_secs: f64,
    pub steps_per_sec: f64,
    /// (step, loss) of every step received (merged into means of neighbours on long runs).
    pub loss: LossCurve,
    /// Every evaluation of this run, in order.
    pub evaluations: Vec<EvalResult>,
    /// The latest snapshot taken from the worker's slot.
    pub snapshot: Option<Snapshot>,
    pub last_message: Option<Message>,
    /// The first and the latest step event received, with when they arrived: the training
    /// speed the app actually achieved (`--quit-after` prints it on exit).
    pub steps_seen: Option<[(u64, Instant); 2]>,
}

impl Default for RunData {
    fn default() -> Self {
        Self {
            config: None,
            state: RunState::Ready,
            step: 0,
            trials: 0,
            train_secs: 0.0,
            steps_per_sec: 0.0,
            loss: LossCurve::default(),
            evaluations: Vec::new(),
            snapshot: None,
            last_message: None,
            steps_seen: None,
        }
    }
}

impl RunData {
    /// Steps per second between the first and the latest step event received, with the step
    /// count it was measured over; `None` before two steps.
    pub fn measured_steps_per_sec(&self) -> Option<(f64, u64)> {
        let [(first, at), (last, then)] = self.steps_seen?;
        let secs = (then - at).as_secs_f64();
        (last > first && secs > 0.0).then(|| ((last - first) as f64 / secs, last - first))
    }

    /// Take in one event from the worker.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Reset(config) => {
                let last_message = self.last_message.take();
                *self = RunData { config: Some(*config), last_message, ..RunData::default() };
            }
            Event::State(state) => {
                self.state = state;
                if state != RunState::Running {
                    self.steps_per_sec = 0.0;
                }
            }
            Event::Step { step, loss, steps_per_sec, trials, train_secs } => {
                self.step = step;
                self.trials = trials;
                self.train_secs = train_secs;
                self.steps_per_sec = steps_per_sec;
                self.loss.push(step as f64, loss as f64);
                let now = (step, Instant::now());
                self.steps_seen = Some([self.steps_seen.map_or(now, |[first, _]| first), now]);
            }
            Event::Evaluation(result) => {
                let text = format!(
                    "step {}: mean performance {:.0}%, worst task {:.0}%",
                    result.step,
                    100.0 * result.perf_mean(),
                    100.0 * result.perf_min()
                );
                // a lesion re-evaluation of the same step replaces the previous one
                if self.evaluations.last().is_some_and(|last| last.step == result.step) {
                    self.evaluations.pop();
                }
                self.evaluations.push(result);
                self.last_message = Some(Message { level: Level::Info, text });
            }
            Event::Warning(text) => self.last_message = Some(Message { level: Level::Warning, text }),
            Event::Failed(text) => self.last_message = Some(Message { level: Level::Error, text }),
            Event::Finished { step, end } => {
                let text = match end {
                    RunEnd::Converged => format!("every task reached the target performance at step {step}"),
                    RunEnd::Plateau => format!("stopped at step {step}: mean performance no longer improving (train.plateau_window)"),
                    RunEnd::Finished | RunEnd::Cancelled => format!("finished all {step} steps"),
                };
                self.last_message = Some(Message { level: Level::Info, text });
            }
            Event::CheckpointLoaded(loaded) => self.load(&loaded),
            // the app shows these next to the other file operations (see `ModulabApp::logic_ctx`)
            Event::CheckpointSaved { .. } | Event::NetworkExported { .. } | Event::FileFailed(_) => {}
        }
    }

    /// Start over with a run loaded from a checkpoint, its history included.
    fn load(&mut self, loaded: &LoadedRun) {
        let evaluations = loaded.history.iter().map(|row| EvalResult { step: row.step, perf: row.perf.clone(), lesioned: None }).collect();
        // metrics.csv has the mean loss since the previous evaluation: one point per row
        let loss =
            LossCurve::from(loaded.history.iter().filter(|r| r.loss.is_finite()).map(|r| [r.step as f64, r.loss]).collect::<Vec<_>>());
        *self = RunData {
            config: Some(loaded.config.clone()),
            state: loaded.state,
            step: loaded.step,
            trials: loaded.trials,
            train_secs: loaded.train_secs,
            loss,
            evaluations,
            ..RunData::default()
        };
    }

    /// The total number of steps of the run.
    pub fn total_steps(&self) -> u64 {
        self.config.as_ref().map_or(0, |c| c.train.steps)
    }

    /// The latest evaluation: the snapshot slot's (the newest the worker has), else the last event's.
    pub fn latest_evaluation(&self) -> Option<&EvalResult> {
        self.snapshot.as_ref().and_then(|s| s.evaluation.as_ref()).or(self.evaluations.last())
    }
}
