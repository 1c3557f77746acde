//! The live analyses the app shows beside training, redone after every evaluation and whenever
//! the user moves the ambiguity slider or toggles a lesion: performance under the current
//! ambiguity beside the clear cue's, the probe trials' trajectories, and their projection on
//! principal axes — re-fitted every few evaluations on the intact network with the clear cue, so
//! lesions and ambiguity show as moves in a fixed space.

use std::time::Instant;

use super::protocol::AmbiguityEval;
use crate::analysis::{Ambiguity, Pca, PcaError};
use crate::config::Config;
use crate::model::{ParamSet, Pathway};
use crate::train::eval::{EvalOptions, evaluate};
use crate::train::probe::{PcaView, ProbeTrials, Trajectories, fit_pca, pca_view, run_probe};
use crate::train::{TrainError, Trainer};

/// Trials per task for the live ambiguity re-evaluation: fewer than a full evaluation, so a
/// slider move is answered within a fraction of a second even with 20 tasks and 256 units
/// (measured: 32 trials × 20 tasks took 1.3 s on a 2-core machine under a load of 7, so 16 take
/// about 0.65 s there and well under that on an idle one; see `probe::tests`). The sweep, which
/// is not interactive, uses more.
pub const AMBIGUITY_TRIALS: usize = 16;
/// Trials per task for the same evaluation while the network is not training (loaded, paused or
/// finished): the worker has the time, and it is the count the lessons quote their figures at, so
/// the tab shows the lesson's number (tests/lessons.rs measures them through
/// [`ambiguity_options`]).
pub const AMBIGUITY_TRIALS_IDLE: usize = 128;
/// The PCA axes are re-fitted every this many periodic evaluations (in between, and after a
/// lesion or ambiguity change, the new states are projected on the old axes).
pub const PCA_REFIT_EVERY: u32 = 3;
/// Random stream of the live ambiguity evaluation (apart from the periodic evaluation's stream
/// 0): the sweeps' own, so the slider and a sweep at one level draw their trials alike.
const AMBIGUITY_STREAM: u64 = crate::experiments::sweep::SWEEP_STREAM;

/// The live ambiguity evaluation's trials per task: few while training, the full count otherwise.
pub fn ambiguity_trials(training: bool) -> usize {
    if training { AMBIGUITY_TRIALS } else { AMBIGUITY_TRIALS_IDLE }
}

/// How the live ambiguity evaluation scores a network (its clear-cue half: add the ambiguity for
/// the other).
pub fn ambiguity_options(trials: usize, lesioned: &[Pathway]) -> EvalOptions {
    EvalOptions { trials: Some(trials), lesioned: lesioned.to_vec(), stream: AMBIGUITY_STREAM, ..EvalOptions::default() }
}

/// Whether an analysis pass may re-fit the PCA axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refit {
    /// A periodic evaluation: re-fit when due.
    WhenDue,
    /// The network is unchanged (lesions or ambiguity changed): project on the old axes.
    Never,
    /// Catching up after periodic evaluations were skipped (the view was hidden): re-fit if one
    /// was due meanwhile.
    IfStale,
}

/// What the live analyses keep between passes.
pub struct LiveAnalysis {
    /// The context ambiguity the user set.
    pub ambiguity: Ambiguity,
    /// This run's probe trials (drawn once per network).
    probe: Option<ProbeTrials>,
    /// The PCA axes and the step they were fitted at.
    pca: Option<(Pca, u64)>,
    /// Periodic evaluations since the axes were fitted.
    evals_since_fit: u32,
}

/// The probe trials through the network and their projection.
pub struct ProbeView {
    pub trajectories: Trajectories,
    pub pca: Option<PcaView>,
    /// Why the axes were not re-fitted when they were due (e.g. a diverging network's NaN rates).
    pub warning: Option<String>,
}

impl Default for LiveAnalysis {
    fn default() -> Self {
        LiveAnalysis { ambiguity: Ambiguity::none(), probe: None, pca: None, evals_since_fit: 0 }
    }
}

impl LiveAnalysis {
    /// Forget what belonged to the previous network (the ambiguity is the user's and stays).
    pub fn forget_network(&mut self) {
        *self = LiveAnalysis { ambiguity: self.ambiguity, ..LiveAnalysis::default() };
    }

    /// A periodic evaluation passed without the probe (its view was hidden): it counts towards
    /// the next re-fit all the same.
    pub fn skip_evaluation(&mut self) {
        self.evals_since_fit += 1;
    }

    /// Per-task performance under the current ambiguity, beside the clear cue's on the same
    /// trials (`trials` per task: [`ambiguity_trials`]). `previous`'s clear score is reused while
    /// only the ambiguity moved.
    pub fn ambiguity_eval(
        &self,
        trainer: &Trainer,
        lesioned: &[Pathway],
        trials: usize,
        previous: Option<&AmbiguityEval>,
    ) -> Result<AmbiguityEval, TrainError> {
        let started = Instant::now();
        let options = ambiguity_options(trials, lesioned);
        let clean = match previous {
            Some(previous) if previous.step == trainer.step && previous.lesioned == lesioned && previous.trials == trials => {
                previous.clean.clone()
            }
            _ => evaluate(trainer, &options)?.perf,
        };
        let ambiguous = if self.ambiguity.level == self.ambiguity.kind.clean_level() {
            clean.clone() // the context is exactly e_i: the same trials give the same score
        } else {
            evaluate(trainer, &EvalOptions { ambiguity: self.ambiguity, ..options })?.perf
        };
        Ok(AmbiguityEval {
            step: trainer.step,
            ambiguity: self.ambiguity,
            lesioned: lesioned.to_vec(),
            trials,
            clean,
            ambiguous,
            secs: started.elapsed().as_secs_f64(),
        })
    }

    /// The probe trials through the network (current ambiguity and lesions), and their PCA:
    /// re-fitted when due, else projected on the current axes.
    pub fn probe(&mut self, trainer: &Trainer, lesioned: &[Pathway], refit: Refit) -> Result<ProbeView, TrainError> {
        let probe = match &self.probe {
            Some(probe) => probe,
            None => self.probe.insert(ProbeTrials::draw(&trainer.config)?),
        };
        let trajectories = run_probe(&trainer.config, &trainer.params, trainer.step, probe, self.ambiguity, lesioned)?;
        let due = self.pca.is_none()
            || match refit {
                Refit::WhenDue => self.evals_since_fit + 1 >= PCA_REFIT_EVERY,
                Refit::IfStale => self.evals_since_fit >= PCA_REFIT_EVERY,
                Refit::Never => false,
            };
        let mut warning = None;
        if due {
            match self.fit_clear(&trainer.config, &trainer.params, trainer.step, &trajectories, lesioned)? {
                Ok(pca) => {
                    self.pca = Some((pca, trainer.step));
                    self.evals_since_fit = 0;
                }
                // keep the old axes and say why
                Err(e) => warning = Some(format!("PCA not updated: {e}")),
            }
        } else if refit == Refit::WhenDue {
            self.evals_since_fit += 1;
        }
        let pca = self.pca.as_ref().map(|(pca, fitted)| pca_view(pca, *fitted, &trajectories));
        Ok(ProbeView { trajectories, pca, warning })
    }

    /// The probe trials through an earlier network (`params` at `step`), under the current
    /// ambiguity and lesions, projected on axes fitted to that network; the live axes stay.
    pub fn probe_earlier(&mut self, config: &Config, params: &ParamSet, step: u64, lesioned: &[Pathway]) -> Result<ProbeView, TrainError> {
        let probe = match &self.probe {
            Some(probe) => probe,
            None => self.probe.insert(ProbeTrials::draw(config)?),
        };
        let trajectories = run_probe(config, params, step, probe, self.ambiguity, lesioned)?;
        let (pca, warning) = match self.fit_clear(config, params, step, &trajectories, lesioned)? {
            Ok(pca) => (Some(pca_view(&pca, step, &trajectories)), None),
            Err(e) => (None, Some(format!("no PCA of the network at step {step}: {e}"))),
        };
        Ok(ProbeView { trajectories, pca, warning })
    }

    /// Principal axes of the intact network with the clear cue: `trajectories` when they are
    /// that, else the clear intact states are computed for the fit.
    #[allow(clippy::expect_used, reason = "cannot fail: the probe trials are drawn before a fit")]
    fn fit_clear(
        &self,
        config: &Config,
        params: &ParamSet,
        step: u64,
        trajectories: &Trajectories,
        lesioned: &[Pathway],
    ) -> Result<Result<Pca, PcaError>, TrainError> {
        let clear = Ambiguity { kind: self.ambiguity.kind, level: self.ambiguity.kind.clean_level() };
        if lesioned.is_empty() && self.ambiguity == clear {
            return Ok(fit_pca(trajectories));
        }
        let probe = self.probe.as_ref().expect("the probe trials are drawn before a fit");
        Ok(fit_pca(&run_probe(config, params, step, probe, clear, &[])?))
    }
}
