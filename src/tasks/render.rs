//! Coding a [`Plan`] into input, target and mask arrays, in either encoding.

use super::battery::Plan;
use super::{
    BUMP_PEAK, BUMP_WIDTH, Encoding, FIXATION_TARGET, MASK_FIXATION_FACTOR, MASK_GRACE_MS, MASK_PRE_GO, MASK_RESPONSE, MASK_SETTLE_MS,
    RING_BASELINE, Task, TaskSettings, TrialBatch,
};
use crate::rng::Rng;

/// Codes an angle on one ring of units.
pub(super) struct RingCode {
    encoding: Encoding,
    /// Preferred angles 2πi/n of the ring units (ring encoding only).
    preferred: Vec<f32>,
}

impl RingCode {
    pub(super) fn new(encoding: Encoding, ring_units: usize) -> Self {
        let preferred = match encoding {
            Encoding::Ring => (0..ring_units).map(|i| (std::f64::consts::TAU * i as f64 / ring_units as f64) as f32).collect(),
            Encoding::Compact => Vec::new(),
        };
        Self { encoding, preferred }
    }

    /// Units per ring.
    pub(super) fn width(&self) -> usize {
        match self.encoding {
            Encoding::Ring => self.preferred.len(),
            Encoding::Compact => 2,
        }
    }

    /// Ring: `out[i] = 0.8·exp(-½(d_i/(π/8))²)` with d_i the circular distance from `theta` to
    /// unit i's preferred angle; compact: `out = (cos θ, sin θ)`. Both times `strength`.
    pub(super) fn encode(&self, theta: f32, strength: f32, out: &mut [f32]) {
        match self.encoding {
            Encoding::Ring => {
                for (o, &pref) in out.iter_mut().zip(&self.preferred) {
                    let d = super::circular_distance(theta, pref) / BUMP_WIDTH;
                    *o = strength * BUMP_PEAK * (-0.5 * d * d).exp();
                }
            }
            Encoding::Compact => {
                let (sin, cos) = theta.sin_cos();
                out[0] = strength * cos;
                out[1] = strength * sin;
            }
        }
    }

    /// Target of every output while no response is due (ring 0.05, compact 0).
    fn baseline(&self) -> f32 {
        match self.encoding {
            Encoding::Ring => RING_BASELINE,
            Encoding::Compact => 0.0,
        }
    }
}

pub(super) fn render(task: Task, settings: &TaskSettings, plan: &Plan, alpha: f32, rng: &mut Rng) -> TrialBatch {
    let encoding = settings.encoding;
    let code = RingCode::new(encoding, settings.ring_units);
    let width = code.width();
    let (batch, steps) = (plan.batch, plan.steps);
    let n_in = settings.n_inputs();
    let n_out = settings.n_outputs();
    debug_assert_eq!(n_in, 1 + 2 * width);
    debug_assert_eq!(n_out, 1 + width);

    // Inputs: start from the noise, then add the fixation cue and the stimuli on top.
    let mut inputs = vec![0.0f32; batch * steps * n_in];
    let noise_std = settings.input_noise_std(alpha);
    if noise_std > 0.0 {
        // Still most of a batch's generation time, but ~0.2 ms: on one thread, because
        // starting a second one costs as much on an idle machine and far more on a busy one.
        rng.fill_normal(&mut inputs, noise_std);
    }
    let trial_len = steps * n_in;
    for trial_inputs in inputs.chunks_exact_mut(trial_len) {
        for row in trial_inputs.chunks_exact_mut(n_in).take(plan.fixation_off) {
            row[0] += 1.0;
        }
    }
    let mut pattern = vec![0.0f32; width];
    for stimulus in &plan.stimuli {
        let first_unit = 1 + stimulus.ring * width;
        for (trial, trial_inputs) in inputs.chunks_exact_mut(trial_len).enumerate() {
            code.encode(stimulus.location[trial], stimulus.strength[trial], &mut pattern);
            let shown = &mut trial_inputs[stimulus.on * n_in..stimulus.off * n_in];
            for row in shown.chunks_exact_mut(n_in) {
                for (x, p) in row[first_unit..first_unit + width].iter_mut().zip(&pattern) {
                    *x += p;
                }
            }
        }
    }

    // Targets: fixate until go; then the response bump, or keep fixating (no-go trials).
    let baseline = code.baseline();
    let mut fixate_row = vec![baseline; n_out];
    fixate_row[0] = FIXATION_TARGET;
    let mut respond_row = vec![baseline; n_out];
    // Built by appending rows (every element is written once; no zero fill first).
    let mut targets = Vec::with_capacity(batch * steps * n_out);
    for &target_angle in &plan.target_angle {
        for _ in 0..plan.go {
            targets.extend_from_slice(&fixate_row);
        }
        let row_after_go = match target_angle {
            None => &fixate_row,
            Some(theta) => {
                code.encode(theta, 1.0, &mut respond_row[1..]);
                for v in &mut respond_row[1..] {
                    *v += baseline;
                }
                &respond_row
            }
        };
        for _ in plan.go..steps {
            targets.extend_from_slice(row_after_go);
        }
    }

    // Mask: the same for every trial, since the timing is shared.
    let settle = settings.steps(MASK_SETTLE_MS as f64);
    let grace_end = plan.go + settings.steps(MASK_GRACE_MS as f64);
    let mut trial_mask = vec![0.0f32; steps * n_out];
    for (step, row) in trial_mask.chunks_exact_mut(n_out).enumerate() {
        let weight = if step < settle {
            0.0
        } else if step < plan.go {
            MASK_PRE_GO
        } else if step < grace_end {
            0.0
        } else {
            MASK_RESPONSE
        };
        row.fill(weight);
        row[0] *= MASK_FIXATION_FACTOR;
    }
    let mut mask = Vec::with_capacity(batch * steps * n_out);
    for _ in 0..batch {
        mask.extend_from_slice(&trial_mask);
    }

    TrialBatch {
        task,
        encoding,
        batch,
        steps,
        n_in,
        n_out,
        dt_ms: settings.dt_ms,
        inputs,
        targets,
        mask,
        go_step: plan.go,
        target_angle: plan.target_angle.clone(),
        epochs: plan.epochs.clone(),
    }
}
