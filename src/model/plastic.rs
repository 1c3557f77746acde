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
//! RLS, one P per trained neuron shared by both conditions: k = P r, c = 1/(1 + rᵀk),
//! P ← P − c k kᵀ, w ← w − c e k, where e is the neuron's total input minus its target current.
//! P₀ = (λI + μ(1_E1_Eᵀ + 1_I1_Iᵀ))⁻¹: an L2 penalty λ and a penalty μ on the change of each
//! population's summed plastic weight.

/// The code's L2 penalty (`penlamEE`) and row-sum penalty (`penmu`).
pub const L2_PENALTY: f64 = 0.04;
pub const ROW_SUM_PENALTY: f64 = 8.0;

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
    /// P of each trained neuron (row-major, pre × pre), made at the first update.
    p: Vec<Vec<f64>>,
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
        }
    }

    /// Traces and inputs back to 0 (a new trial).
    pub fn reset(&mut self) {
        self.trace.fill(0.0);
        self.input.fill(0.0);
    }

    /// One step of decay.
    pub fn decay(&mut self) {
        let d = self.decay;
        self.trace.iter_mut().for_each(|r| *r *= d);
        self.input.iter_mut().for_each(|u| *u *= d);
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
        if self.p.is_empty() {
            self.p = self.pre.iter().zip(&self.excitatory).map(|(list, e)| initial_p(*e, list.len() - e)).collect();
        }
        let m = self.pre[t].len();
        let r: Vec<f64> = self.pre[t].iter().map(|j| self.trace[*j as usize]).collect();
        let p = &mut self.p[t];
        let k: Vec<f64> = (0..m).map(|row| dot(&p[row * m..(row + 1) * m], &r)).collect();
        let c = 1.0 / (1.0 + dot(&r, &k));
        for (row, k_row) in k.iter().enumerate() {
            let scale = c * k_row;
            p[row * m..(row + 1) * m].iter_mut().zip(&k).for_each(|(p, k)| *p -= scale * k);
        }
        self.weights[t].iter_mut().zip(&k).for_each(|(w, k)| *w -= c * error * k);
        self.input[t] = dot(&self.weights[t], &r);
    }

    /// Bytes the P matrices take once made.
    pub fn p_bytes(&self) -> usize {
        self.pre.iter().map(|l| l.len() * l.len() * size_of::<f64>()).sum()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// (λI + μ(1_E1_Eᵀ + 1_I1_Iᵀ))⁻¹ for `e` excitatory and `i` inhibitory inputs: block diagonal,
/// each block (λI + μ11ᵀ)⁻¹ = (I − μ/(λ + μm)·11ᵀ)/λ (Sherman–Morrison).
fn initial_p(e: usize, i: usize) -> Vec<f64> {
    let m = e + i;
    let mut p = vec![0.0; m * m];
    for (start, len) in [(0, e), (e, i)] {
        let off = ROW_SUM_PENALTY / (L2_PENALTY + ROW_SUM_PENALTY * len as f64);
        for a in start..start + len {
            for b in start..start + len {
                p[a * m + b] = (f64::from(u8::from(a == b)) - off) / L2_PENALTY;
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P₀ times the penalty matrix is the identity.
    #[test]
    fn the_initial_p_inverts_the_penalties() {
        let (e, i) = (3, 2);
        let m = e + i;
        let p = initial_p(e, i);
        for a in 0..m {
            for b in 0..m {
                let same_block = (a < e) == (b < e);
                let penalty =
                    |x: usize, y: usize| f64::from(u8::from(x == y)) * L2_PENALTY + if (x < e) == (y < e) { ROW_SUM_PENALTY } else { 0.0 };
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
}
