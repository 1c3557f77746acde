//! Scoring network outputs: Yang's `get_perf`, read at the last time step.

use std::f32::consts::{PI, TAU};

use super::{Encoding, FIXATING_THRESHOLD, TaskSettings, TrialBatch};

/// Distance between two angles on the circle, in [0, π].
pub fn circular_distance(a: f32, b: f32) -> f32 {
    let d = (a - b).abs().rem_euclid(TAU);
    d.min(TAU - d)
}

/// The angle (radians, [0, 2π)) a response row codes, fixation unit excluded.
///
/// Ring: population vector, Σ yᵢ(cos, sin)(2πi/n) / Σ yᵢ with n = `row.len()`, as Yang's
/// `popvec` (the division only matters if the outputs sum to a negative number, which the
/// sigmoid readout cannot do). Compact: `atan2(row[1], row[0])`.
/// A row that codes no angle (all zeros) gives NaN, which scores as incorrect.
pub fn response_angle(encoding: Encoding, output_row_without_fixation: &[f32]) -> f32 {
    let row = output_row_without_fixation;
    let (sin, cos) = match encoding {
        Encoding::Ring => {
            let n = row.len() as f32;
            let (mut sum, mut sin, mut cos) = (0.0f32, 0.0f32, 0.0f32);
            for (i, &y) in row.iter().enumerate() {
                let (s, c) = (TAU * i as f32 / n).sin_cos();
                sum += y;
                sin += y * s;
                cos += y * c;
            }
            (sin / sum, cos / sum)
        }
        Encoding::Compact => (row[1], row[0]),
    };
    wrap(sin.atan2(cos))
}

/// Wrap an atan2 result into [0, 2π).
fn wrap(angle: f32) -> f32 {
    let wrapped = angle.rem_euclid(TAU);
    if wrapped >= TAU { 0.0 } else { wrapped }
}

/// Per-trial performance in {0, 1} from the outputs at the LAST time step.
///
/// `last_outputs` is `[batch, n_out]` (fixation first), `target_angle` has one entry per trial
/// (`None` = should keep fixating). Fixating = fixation output > 0.5; correct = response angle
/// within `tolerance_pi`·π of the target; perf = fixating if the trial should end fixating, else
/// correct and not fixating.
///
/// # Panics
/// If `last_outputs.len() != target_angle.len() * settings.n_outputs()`.
pub fn performance_last(last_outputs: &[f32], target_angle: &[Option<f32>], settings: &TaskSettings) -> Vec<f32> {
    let n_out = settings.n_outputs();
    assert_eq!(
        last_outputs.len(),
        target_angle.len() * n_out,
        "performance_last: expected [batch = {}, n_out = {n_out}] outputs",
        target_angle.len()
    );
    let tolerance = settings.tolerance_pi * PI;
    last_outputs
        .chunks_exact(n_out)
        .zip(target_angle)
        .map(|(row, target)| {
            let fixating = row[0] > FIXATING_THRESHOLD;
            let perf = match target {
                None => fixating,
                Some(theta) => {
                    let response = response_angle(settings.encoding, &row[1..]);
                    !fixating && circular_distance(response, *theta) < tolerance
                }
            };
            if perf { 1.0 } else { 0.0 }
        })
        .collect()
}

/// Per-trial performance from full outputs `[batch, steps, n_out]` of `trials`
/// (only the last step is read).
///
/// # Panics
/// If `outputs.len() != trials.batch * trials.steps * settings.n_outputs()`.
pub fn performance(outputs: &[f32], trials: &TrialBatch, settings: &TaskSettings) -> Vec<f32> {
    let n_out = settings.n_outputs();
    assert_eq!(
        outputs.len(),
        trials.batch * trials.steps * n_out,
        "performance: expected [batch = {}, steps = {}, n_out = {n_out}] outputs",
        trials.batch,
        trials.steps
    );
    let mut last = Vec::with_capacity(trials.batch * n_out);
    for trial_outputs in outputs.chunks_exact(trials.steps * n_out) {
        last.extend_from_slice(&trial_outputs[(trials.steps - 1) * n_out..]);
    }
    performance_last(&last, &trials.target_angle, settings)
}

/// The trials [`chance_performance`] scores per task (its standard error is below 0.008).
pub const CHANCE_TRIALS: usize = 4096;
/// Drawn in batches of this many (a long task's batch of 4096 trials would hold ~0.5 GB).
const CHANCE_BATCH: usize = 256;
/// The random stream of [`chance_performance`]'s trials: one for every caller, so every
/// network of a study is judged against the same chance.
const CHANCE_SEED: u64 = 0x6368_616e_6365;

/// What a network that knows nothing useful about `task` scores: the better of the two answers
/// that use neither the stimulus nor the rule — always keep fixating (right on every trial that
/// ends in fixation), and always break fixation towards a uniformly random direction (right when
/// it falls within the tolerance of a trial's target). Measured through [`performance_last`] on
/// [`CHANCE_TRIALS`] trials of a fixed random stream (deterministic). E.g. 0.5 for the
/// matching tasks (half their trials end in fixation), 0.2 for a go task (a random direction
/// within ±0.2π).
pub fn chance_performance(task: super::Task, settings: &TaskSettings) -> Result<f64, super::TaskError> {
    let mut rng = crate::rng::Rng::seed_from(CHANCE_SEED);
    let n_out = settings.n_outputs();
    let code = super::render::RingCode::new(settings.encoding, settings.ring_units);
    let (mut fixating_right, mut random_right) = (0.0f64, 0.0f64);
    for _ in 0..CHANCE_TRIALS / CHANCE_BATCH {
        let trials = super::generate(task, settings, CHANCE_BATCH, 0.2, &mut rng)?;
        let mut fixate = vec![0.0f32; trials.batch * n_out];
        let mut random = vec![0.0f32; trials.batch * n_out];
        for trial in 0..trials.batch {
            fixate[trial * n_out] = 1.0;
            // the response a trained network gives towards the angle: the task targets' own code
            let angle = (rng.uniform() * TAU as f64) as f32;
            code.encode(angle, 1.0, &mut random[trial * n_out + 1..(trial + 1) * n_out]);
        }
        let right = |outputs: &[f32]| performance_last(outputs, &trials.target_angle, settings).iter().map(|p| *p as f64).sum::<f64>();
        fixating_right += right(&fixate);
        random_right += right(&random);
    }
    Ok(fixating_right.max(random_right) / CHANCE_TRIALS as f64)
}
