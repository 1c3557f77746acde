//! Plastic synapses onto a trained subset of a spiking network, and their training by recursive
//! least squares, as Kim et al.'s code (SpikingNetwork/distributedActivity, `genPlasticWeights.jl`,
//! `runtrain.jl`) has them: docs/MODEL.md §7.
//!
//! Each trained neuron i receives plastic inputs from a few presynaptic neurons j (first its
//! excitatory ones, then its inhibitory ones). Each neuron's spikes are filtered with a unit-area
//! kernel of τ_p = 150 ms, r_j ← r_j(1 − dt/τ_p) + (spike)/τ_p, and the plastic input is
//! u_i = Σ_k w_ik r_pre(k). Kept incrementally (u decays like r, a spike of j adds w/τ_p to
//! every u it feeds) and recomputed exactly after each weight update, so u = w·r at all times
//! (the code filters Σ w·spikes instead, which keeps the old weights' history for τ_p after an
//! update).
//!
//! Plastic feed-forward inputs (the code's `Lffwd`, `wpWeightFfwd`, `penlamFF`), when added:
//! L Poisson inputs whose rates follow frozen Ornstein–Uhlenbeck time courses, one set per
//! condition ([`ou_rates`]), reach every trained neuron through weights of their own for each
//! condition (starting at 0), filtered like the recurrent ones: u_i = w_i·r + w^c_i·s, s the
//! inputs' traces. Only trained neurons receive them, so they add a trained, condition-specific
//! input to the trained subset and nothing to any other neuron.
//!
//! RLS, one P per trained neuron shared by both conditions: with r̃ = [r; s], k = P r̃,
//! c = 1/(1 + r̃ᵀk), P ← P − c k kᵀ, [w; w^c] ← [w; w^c] − c e k, where e is the neuron's total
//! input minus its target current. P₀ = (λI + μ(1_E1_Eᵀ + 1_I1_Iᵀ) ⊕ λ_ff I)⁻¹: an L2 penalty λ,
//! a penalty μ on the change of each population's summed plastic weight, and an L2 penalty λ_ff
//! on the feed-forward weights.

use crate::rng::Rng;

/// The code's L2 penalty (`penlamEE`) and row-sum penalty (`penmu`).
pub const L2_PENALTY: f64 = 0.04;
pub const ROW_SUM_PENALTY: f64 = 8.0;
/// The code's L2 penalty of the feed-forward weights (`penlamFF`, `lam_list[2]` in `main.jl`).
pub const FEEDFORWARD_PENALTY: f64 = 1.0;
/// The feed-forward inputs' mean rate (Hz), their Ornstein–Uhlenbeck relaxation rate (1/ms) and
/// noise (Hz/√ms), and the half-width of the moving average that smooths them (ms): the code's
/// `genffwdRate.jl` (`ffwdRate_mean`, `bou`, `sig`, `funMovAvg(…, 500)` at dt = 0.1 ms).
const FEEDFORWARD_HZ: f64 = 5.0;
const FEEDFORWARD_RELAX_PER_MS: f64 = 1.0 / 400.0;
const FEEDFORWARD_NOISE: f64 = 0.2;
const FEEDFORWARD_SMOOTH_MS: usize = 50;

/// Plastic inputs onto the trained neurons, with their RLS state.
pub struct PlasticInputs {
    /// The neurons that receive plastic inputs.
    pub trained: Vec<usize>,
    /// Presynaptic neurons of each trained neuron: `excitatory[t]` first, then inhibitory ones.
    pub pre: Vec<Vec<u32>>,
    pub excitatory: Vec<usize>,
    /// Weights, as `pre`.
    pub weights: Vec<Vec<f64>>,
    /// For each neuron, where its spikes go: (trained index, slot in `pre`).
    outgoing: Vec<Vec<(u32, u32)>>,
    /// Filtered spike train of every neuron (1/ms).
    trace: Vec<f64>,
    /// u_t = w_t · r_pre(t), per trained neuron.
    input: Vec<f64>,
    decay: f64,
    tau_ms: f64,
    /// P of each trained neuron (row-major, (pre + feed-forward)²), made at the first update.
    p: Vec<Vec<f64>>,
    /// Feed-forward weights [condition][trained neuron][input] (empty: no feed-forward inputs).
    pub feedforward: Vec<Vec<Vec<f64>>>,
    /// The feed-forward inputs' traces, and the condition whose weights are in use.
    feedforward_trace: Vec<f64>,
    condition: usize,
}

impl PlasticInputs {
    /// `pre[t]` lists trained neuron t's presynaptic neurons, its first `excitatory[t]` excitatory
    /// with initial weight `w_e`, the rest inhibitory with `w_i`; `n` neurons in all.
    pub fn new(
        n: usize,
        trained: Vec<usize>,
        pre: Vec<Vec<u32>>,
        excitatory: Vec<usize>,
        (w_e, w_i): (f64, f64),
        tau_ms: f64,
        dt_ms: f64,
    ) -> Self {
        let mut outgoing = vec![Vec::new(); n];
        for (t, list) in pre.iter().enumerate() {
            for (slot, j) in list.iter().enumerate() {
                outgoing[*j as usize].push((t as u32, slot as u32));
            }
        }
        let weights =
            pre.iter().zip(&excitatory).map(|(list, e)| (0..list.len()).map(|k| if k < *e { w_e } else { w_i }).collect()).collect();
        Self {
            input: vec![0.0; trained.len()],
            trained,
            pre,
            excitatory,
            weights,
            outgoing,
            trace: vec![0.0; n],
            decay: 1.0 - dt_ms / tau_ms,
            tau_ms,
            p: Vec::new(),
            feedforward: Vec::new(),
            feedforward_trace: Vec::new(),
            condition: 0,
        }
    }

    /// Give every trained neuron `inputs` plastic feed-forward inputs with weights (0 at first)
    /// for each of `conditions` conditions. Before the first RLS update (P includes them).
    pub fn add_feedforward(&mut self, inputs: usize, conditions: usize) {
        assert!(self.p.is_empty(), "feed-forward inputs are added before training");
        self.feedforward = vec![vec![vec![0.0; inputs]; self.trained.len()]; conditions];
        self.feedforward_trace = vec![0.0; inputs];
    }

    /// Feed-forward inputs per trained neuron (0 without them).
    pub fn feedforward_inputs(&self) -> usize {
        self.feedforward_trace.len()
    }

    /// Traces and inputs back to 0 (a new trial).
    pub fn reset(&mut self) {
        self.trace.fill(0.0);
        self.input.fill(0.0);
        self.feedforward_trace.fill(0.0);
    }

    /// Use the feed-forward weights of `condition` from now on (at a trial's start, when the
    /// traces are 0; the inputs are recomputed all the same).
    pub fn set_condition(&mut self, condition: usize) {
        if self.feedforward.is_empty() || condition == self.condition {
            return;
        }
        assert!(condition < self.feedforward.len(), "condition {condition} of {}", self.feedforward.len());
        self.condition = condition;
        for t in 0..self.trained.len() {
            let recurrent: f64 = self.pre[t].iter().zip(&self.weights[t]).map(|(j, w)| w * self.trace[*j as usize]).sum();
            self.input[t] = recurrent + dot(&self.feedforward[condition][t], &self.feedforward_trace);
        }
    }

    /// One step of decay.
    pub fn decay(&mut self) {
        let d = self.decay;
        self.trace.iter_mut().for_each(|r| *r *= d);
        self.input.iter_mut().for_each(|u| *u *= d);
        self.feedforward_trace.iter_mut().for_each(|s| *s *= d);
    }

    /// A spike of feed-forward input `j` arrives.
    pub fn feedforward_spike(&mut self, j: usize) {
        let a = 1.0 / self.tau_ms;
        self.feedforward_trace[j] += a;
        for (u, w) in self.input.iter_mut().zip(&self.feedforward[self.condition]) {
            *u += a * w[j];
        }
    }

    /// A spike of `neuron` arrives.
    pub fn spike(&mut self, neuron: usize) {
        let a = 1.0 / self.tau_ms;
        self.trace[neuron] += a;
        for &(t, slot) in &self.outgoing[neuron] {
            self.input[t as usize] += a * self.weights[t as usize][slot as usize];
        }
    }

    /// The plastic input of trained neuron `t` (index into `trained`).
    pub fn input(&self, t: usize) -> f64 {
        self.input[t]
    }

    /// One RLS step for trained neuron `t` whose total input is `error` above its target.
    pub fn rls_update(&mut self, t: usize, error: f64) {
        let ff = self.feedforward_inputs();
        if self.p.is_empty() {
            self.p = self.pre.iter().zip(&self.excitatory).map(|(list, e)| initial_p(*e, list.len() - e, ff)).collect();
        }
        let recurrent = self.pre[t].len();
        let m = recurrent + ff;
        let mut r: Vec<f64> = self.pre[t].iter().map(|j| self.trace[*j as usize]).collect();
        r.extend_from_slice(&self.feedforward_trace);
        let p = &mut self.p[t];
        let k: Vec<f64> = (0..m).map(|row| dot(&p[row * m..(row + 1) * m], &r)).collect();
        let c = 1.0 / (1.0 + dot(&r, &k));
        for (row, k_row) in k.iter().enumerate() {
            let scale = c * k_row;
            p[row * m..(row + 1) * m].iter_mut().zip(&k).for_each(|(p, k)| *p -= scale * k);
        }
        self.weights[t].iter_mut().zip(&k).for_each(|(w, k)| *w -= c * error * k);
        self.input[t] = dot(&self.weights[t], &r[..recurrent]);
        if ff > 0 {
            let w = &mut self.feedforward[self.condition][t];
            w.iter_mut().zip(&k[recurrent..]).for_each(|(w, k)| *w -= c * error * k);
            self.input[t] += dot(w, &r[recurrent..]);
        }
    }

    /// Bytes the P matrices take once made.
    pub fn p_bytes(&self) -> usize {
        let ff = self.feedforward_inputs();
        self.pre.iter().map(|l| (l.len() + ff).pow(2) * size_of::<f64>()).sum()
    }
}

/// Frozen rates (Hz) of `inputs` feed-forward inputs for `ms` milliseconds, [ms][input], as the
/// code's `genffwdRate.jl` draws them: each an Ornstein–Uhlenbeck process around 5 Hz (relaxation
/// time 400 ms, stationary s.d. 0.2/√(2/400) = 2.8 Hz) starting at 5 Hz, smoothed by a centred
/// moving average of ±50 ms, negative rates set to 0. Stepped exactly at 1 ms.
pub fn ou_rates(inputs: usize, ms: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let keep = (-FEEDFORWARD_RELAX_PER_MS).exp();
    let kick = FEEDFORWARD_NOISE / (2.0 * FEEDFORWARD_RELAX_PER_MS).sqrt() * (1.0 - keep * keep).sqrt();
    let mut raw = vec![vec![FEEDFORWARD_HZ; inputs]; ms];
    for t in 1..ms {
        let (before, from_now) = raw.split_at_mut(t);
        for (now, previous) in from_now[0].iter_mut().zip(&before[t - 1]) {
            *now = FEEDFORWARD_HZ + keep * (previous - FEEDFORWARD_HZ) + kick * rng.normal();
        }
    }
    (0..ms)
        .map(|t| {
            let window = t.saturating_sub(FEEDFORWARD_SMOOTH_MS)..(t + FEEDFORWARD_SMOOTH_MS + 1).min(ms);
            let count = window.len() as f64;
            (0..inputs).map(|j| (raw[window.clone()].iter().map(|row| row[j]).sum::<f64>() / count).max(0.0)).collect()
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// (λI + μ(1_E1_Eᵀ + 1_I1_Iᵀ) ⊕ λ_ff I)⁻¹ for `e` excitatory, `i` inhibitory and `ff`
/// feed-forward inputs: block diagonal, each recurrent block (λI + μ11ᵀ)⁻¹ = (I − μ/(λ + μm)·11ᵀ)/λ
/// (Sherman–Morrison), the feed-forward block I/λ_ff.
fn initial_p(e: usize, i: usize, ff: usize) -> Vec<f64> {
    let m = e + i + ff;
    let mut p = vec![0.0; m * m];
    for (start, len) in [(0, e), (e, i)] {
        let off = ROW_SUM_PENALTY / (L2_PENALTY + ROW_SUM_PENALTY * len as f64);
        for a in start..start + len {
            for b in start..start + len {
                p[a * m + b] = (f64::from(u8::from(a == b)) - off) / L2_PENALTY;
            }
        }
    }
    (e + i..m).for_each(|a| p[a * m + a] = 1.0 / FEEDFORWARD_PENALTY);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P₀ times the penalty matrix is the identity.
    #[test]
    fn the_initial_p_inverts_the_penalties() {
        let (e, i, ff) = (3, 2, 2);
        let m = e + i + ff;
        let p = initial_p(e, i, ff);
        // 0 excitatory, 1 inhibitory, 2 feed-forward
        let block = |x: usize| usize::from(x >= e) + usize::from(x >= e + i);
        for a in 0..m {
            for b in 0..m {
                let same_block = block(a) == block(b);
                let penalty = |x: usize, y: usize| match (block(x), block(y)) {
                    (2, 2) => f64::from(u8::from(x == y)) * FEEDFORWARD_PENALTY,
                    (u, v) if u == v => f64::from(u8::from(x == y)) * L2_PENALTY + ROW_SUM_PENALTY,
                    _ => 0.0,
                };
                let product: f64 = (0..m).map(|c| p[a * m + c] * penalty(c, b)).sum();
                assert!((product - f64::from(u8::from(a == b))).abs() < 1e-9, "{a},{b}: {product} (same block {same_block})");
            }
        }
    }

    /// Spikes build u = w·r, and RLS drives a constant input error to 0 over repeated updates
    /// without touching another neuron's weights.
    #[test]
    fn rls_cancels_an_input_error() {
        let pre = vec![vec![2, 3, 4], vec![2, 4]];
        let mut plastic = PlasticInputs::new(5, vec![0, 1], pre, vec![2, 1], (0.5, -0.25), 150.0, 0.1);
        let before = plastic.weights[1].clone();
        let mut errors = Vec::new();
        for step in 0..200_000 {
            plastic.decay();
            // neuron 2 fires at 50 Hz, 3 at 20 Hz, 4 at 100 Hz
            for (neuron, every) in [(2, 200), (3, 500), (4, 100)] {
                if step % every == 0 {
                    plastic.spike(neuron);
                }
            }
            let r: Vec<f64> = plastic.pre[0].iter().map(|j| plastic.trace[*j as usize]).collect();
            let direct = dot(&plastic.weights[0], &r);
            assert!((plastic.input(0) - direct).abs() < 1e-9);
            if step >= 10_000 && step % 200 == 0 {
                // the neuron's input should be 0.3 above what the fixed part gives
                let error = plastic.input(0) - 0.3;
                errors.push(error);
                plastic.rls_update(0, error);
            }
        }
        // what is left is neuron 3's trace, sampled at a different phase of its 20 Hz sawtooth each time
        let last = errors[errors.len() - 50..].iter().map(|e| e.abs()).sum::<f64>() / 50.0;
        assert!(errors[0].abs() > 0.25 && last < 0.03, "first {}, last fifty {last} on average", errors[0]);
        assert_eq!(plastic.weights[1], before);
    }

    /// Feed-forward inputs let RLS follow a target that changes in time when the recurrent
    /// inputs fire steadily: input 0 fires at 500 Hz in the first 500 ms of each second, input
    /// 1 in the second 500 ms, and the target is 0.1 + 0.6·(s₀ − s₁) of their traces s (from
    /// −0.2 to +0.4, reachable exactly). Without them the error stays about 0.2 (a constant is
    /// all the steady traces give); with them it falls below 0.02 (the L2 penalty on the
    /// feed-forward weights keeps it from 0). Only the trained condition's
    /// feed-forward weights change; the other condition's input is the recurrent part alone.
    #[test]
    fn feedforward_inputs_follow_a_target_in_time_per_condition() {
        let run = |feedforward: bool| {
            let mut plastic = PlasticInputs::new(4, vec![0], vec![vec![2, 3]], vec![1], (0.5, -0.25), 150.0, 0.1);
            if feedforward {
                plastic.add_feedforward(2, 2);
            }
            // the traces the target follows, kept here whether or not the plastic inputs have them
            let (mut s0, mut s1) = (0.0, 0.0);
            let mut errors = Vec::new();
            for step in 0..200_000usize {
                plastic.decay();
                s0 *= 1.0 - 0.1 / 150.0;
                s1 *= 1.0 - 0.1 / 150.0;
                if step % 200 == 0 {
                    plastic.spike(2);
                }
                if step % 100 == 0 {
                    plastic.spike(3);
                }
                if step % 20 == 0 {
                    let first_half = step % 10_000 < 5_000;
                    if first_half {
                        s0 += 1.0 / 150.0
                    } else {
                        s1 += 1.0 / 150.0
                    }
                    if feedforward {
                        plastic.feedforward_spike(if first_half { 0 } else { 1 });
                    }
                }
                if step >= 10_000 && step % 200 == 0 {
                    let error = plastic.input(0) - (0.1 + 0.6 * (s0 - s1));
                    errors.push(error.abs());
                    plastic.rls_update(0, error);
                }
            }
            let last = errors[errors.len() - 200..].iter().sum::<f64>() / 200.0;
            (last, plastic)
        };
        let (without, _) = run(false);
        let (with, mut plastic) = run(true);
        assert!(without > 0.1 && with < 0.02, "error without feed-forward inputs {without}, with {with}");
        assert!(plastic.feedforward[0][0].iter().all(|w| *w != 0.0) && plastic.feedforward[1][0] == [0.0, 0.0]);
        assert_eq!(plastic.p_bytes(), 4 * 4 * 8, "P covers the 2 recurrent and the 2 feed-forward inputs");
        let recurrent: f64 = plastic.pre[0].iter().zip(&plastic.weights[0]).map(|(j, w)| w * plastic.trace[*j as usize]).sum();
        plastic.set_condition(1);
        assert!((plastic.input(0) - recurrent).abs() < 1e-12, "condition 1 has no feed-forward weights yet");
    }

    /// The code's feed-forward rates: positive, about 5 Hz on average, varying slowly (the
    /// Ornstein–Uhlenbeck s.d. is 2.8 Hz; smoothing over ±50 ms lowers it a little), and the
    /// same for the same stream.
    #[test]
    fn feedforward_rates_vary_slowly_around_5_hz() {
        let rates = ou_rates(200, 2000, &mut Rng::seed_from(5));
        assert_eq!((rates.len(), rates[0].len()), (2000, 200));
        let all: Vec<f64> = rates.iter().flatten().copied().collect();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let sd = (all.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
        assert!(all.iter().all(|r| *r >= 0.0) && (4.0..6.0).contains(&mean) && (1.0..3.0).contains(&sd), "mean {mean}, s.d. {sd}");
        let step: f64 = rates.windows(2).map(|w| (w[1][0] - w[0][0]).abs()).sum::<f64>() / 1999.0;
        assert!(step < 0.05, "1 ms apart the rates barely move: {step} Hz");
        assert_eq!(rates, ou_rates(200, 2000, &mut Rng::seed_from(5)));
    }
}
