//! The trained network as a dynamical system (MODEL.md §4C): its one-step map F(s, u, c) on the
//! host, fixed and slow points (minima of q(s) = ½‖F(s) − s‖²), the Jacobian's eigenvalues there,
//! and the spectrum of the effective recurrent connectivity under a context.
//!
//! The state s is what the network carries from step to step: the rates r in the default "rate"
//! form (r' = (1−α) r + α φ(g ⊙ (W(c) r + W_in u + b + E c))), the voltages x in the "voltage"
//! form (x' = (1−α) x + α g ⊙ (W(c) φ(x) + W_in u + b + E c)). Recurrent noise is left out: fixed
//! points are those of the noise-free system.

use nalgebra::{Complex, DMatrix, DVector, Schur};

use crate::config::Config;
use crate::model::params::{self, ParamSet};
use crate::model::{Activation, GainForm, Pathway, StateForm, SynapticForm};

/// The deterministic one-step map of a trained network under one fixed context.
#[derive(Clone, Debug)]
pub struct StepMap {
    pub alpha: f64,
    pub activation: Activation,
    pub state_form: StateForm,
    /// W(c): the recurrent weights under the context, row i = inputs of unit i.
    pub w: DMatrix<f64>,
    /// [N, n_in]
    pub w_in: DMatrix<f64>,
    /// b + E c
    pub drive: DVector<f64>,
    /// g(c), ones without the gain pathway.
    pub gain: DVector<f64>,
}

pub(crate) fn phi(kind: Activation, x: f64) -> f64 {
    match kind {
        Activation::Relu => x.max(0.0),
        Activation::Softplus => softplus(x),
        Activation::Tanh => x.tanh(),
    }
}

fn phi_prime(kind: Activation, x: f64) -> f64 {
    match kind {
        Activation::Relu => {
            if x > 0.0 { 1.0 } else { 0.0 }
        }
        Activation::Softplus => 1.0 / (1.0 + (-x).exp()),
        Activation::Tanh => 1.0 - x.tanh().powi(2),
    }
}

fn softplus(x: f64) -> f64 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}

impl StepMap {
    /// The map of `params` (trained with `config`) under context `c` (length K), with the
    /// `lesioned` pathways contributing what they give for c = 0.
    pub fn new(config: &Config, params: &ParamSet, c: &[f32], lesioned: &[Pathway]) -> StepMap {
        let model = &config.model;
        let get = |name: &str| params.get(name);
        let matrix = |name: &str| {
            let p = get(name).expect("parameter present");
            DMatrix::from_row_iterator(p.shape[0], p.shape[1], p.data.iter().map(|v| *v as f64))
        };
        let n = model.n_units;
        let k = c.len();
        let active = |p: Pathway| model.has(p) && !lesioned.contains(&p);
        let mut w = matrix(params::W_REC);
        let mut drive = DVector::from_iterator(n, get(params::B_REC).expect("b_rec").data.iter().map(|v| *v as f64));
        let mut gain = DVector::from_element(n, 1.0);
        // E and G are [K, N]: context k's row
        let context_mix = |name: &str| {
            let p = get(name).expect("parameter present");
            DVector::from_fn(n, |i, _| (0..k).map(|t| c[t] as f64 * p.data[t * n + i] as f64).sum())
        };
        if active(Pathway::Bias) {
            drive += context_mix(params::CTX_BIAS);
        }
        if active(Pathway::Gain) {
            let gc = context_mix(params::CTX_GAIN);
            gain = match model.gain_form {
                GainForm::Affine => gc.map(|v| 1.0 + v),
                GainForm::Softplus => {
                    let s0 = model.gain_softplus_offset as f64;
                    gc.map(|v| softplus(v + s0) / softplus(s0))
                }
            };
        }
        if active(Pathway::Synaptic) {
            match model.synaptic_form {
                SynapticForm::Lowrank => {
                    let (u, v) = (matrix(params::SYN_U), matrix(params::SYN_V));
                    let r = model.synaptic_rank;
                    // column t·r + j belongs to task t
                    let scale = DVector::from_fn(k * r, |col, _| c[col / r] as f64);
                    w += u * DMatrix::from_diagonal(&scale) * v.transpose();
                }
                SynapticForm::Elementwise => {
                    let m = get(params::SYN_M).expect("syn_m");
                    for i in 0..n {
                        for j in 0..n {
                            let modulation: f64 = (0..k).map(|t| c[t] as f64 * m.data[t * n * n + i * n + j] as f64).sum();
                            w[(i, j)] *= 1.0 + modulation;
                        }
                    }
                }
            }
        }
        StepMap {
            alpha: model.alpha(config.tasks.dt_ms) as f64,
            activation: model.activation,
            state_form: model.state_form,
            w,
            w_in: matrix(params::W_IN),
            drive,
            gain,
        }
    }

    /// The rates r of a state: s itself in the rate form, φ(x) in the voltage form (so points
    /// found in either form can be placed in the PCA space of the recorded rates).
    pub fn rates_of(&self, s: &DVector<f64>) -> DVector<f64> {
        match self.state_form {
            StateForm::Rate => s.clone(),
            StateForm::Voltage => s.map(|x| phi(self.activation, x)),
        }
    }

    pub fn n_units(&self) -> usize {
        self.w.nrows()
    }

    /// The input-dependent part of the drive for a constant input u: b + E c + W_in u.
    pub fn drive_with_input(&self, u: &[f32]) -> DVector<f64> {
        &self.drive + &self.w_in * DVector::from_iterator(u.len(), u.iter().map(|v| *v as f64))
    }

    /// F(s) for the drive `d` (from [`StepMap::drive_with_input`]).
    pub fn step(&self, s: &DVector<f64>, d: &DVector<f64>) -> DVector<f64> {
        let a = self.alpha;
        match self.state_form {
            StateForm::Rate => {
                let pre = (&self.w * s + d).component_mul(&self.gain);
                s * (1.0 - a) + pre.map(|x| phi(self.activation, x)) * a
            }
            StateForm::Voltage => {
                let rates = s.map(|x| phi(self.activation, x));
                s * (1.0 - a) + (&self.w * rates + d).component_mul(&self.gain) * a
            }
        }
    }

    /// ∂F/∂s at s.
    pub fn jacobian(&self, s: &DVector<f64>, d: &DVector<f64>) -> DMatrix<f64> {
        let a = self.alpha;
        let n = self.n_units();
        let mut j = match self.state_form {
            StateForm::Rate => {
                let pre = (&self.w * s + d).component_mul(&self.gain);
                let row_scale = DVector::from_fn(n, |i, _| a * phi_prime(self.activation, pre[i]) * self.gain[i]);
                DMatrix::from_fn(n, n, |i, k| row_scale[i] * self.w[(i, k)])
            }
            StateForm::Voltage => {
                let col_scale = s.map(|x| phi_prime(self.activation, x));
                DMatrix::from_fn(n, n, |i, k| a * self.gain[i] * self.w[(i, k)] * col_scale[k])
            }
        };
        for i in 0..n {
            j[(i, i)] += 1.0 - a;
        }
        j
    }

    /// Eigenvalues of ∂F/∂s at s, largest modulus first.
    ///
    /// A unit whose activation slope is zero (a silent ReLU unit) contributes a row (rate form)
    /// or a column (voltage form) of the Jacobian that is (1−α) on the diagonal and zero
    /// elsewhere, so after a permutation the Jacobian is block triangular: its eigenvalues are
    /// 1−α once per silent unit plus those of the active units' block. Splitting them off is
    /// exact, smaller, and avoids the exactly-zero rows the general eigen-solver struggles with.
    pub fn jacobian_eigenvalues(&self, s: &DVector<f64>, d: &DVector<f64>) -> Vec<Complex<f64>> {
        let slope: Vec<f64> = match self.state_form {
            StateForm::Rate => {
                let pre = (&self.w * s + d).component_mul(&self.gain);
                (0..self.n_units()).map(|i| phi_prime(self.activation, pre[i]) * self.gain[i]).collect()
            }
            StateForm::Voltage => s.iter().map(|x| phi_prime(self.activation, *x)).collect(),
        };
        let active: Vec<usize> = (0..slope.len()).filter(|i| slope[*i] != 0.0).collect();
        let silent = slope.len() - active.len();
        let full = self.jacobian(s, d);
        let block = DMatrix::from_fn(active.len(), active.len(), |i, k| full[(active[i], active[k])]);
        let mut values = if active.is_empty() { Vec::new() } else { eigenvalues(block) };
        values.extend(std::iter::repeat_n(Complex::new(1.0 - self.alpha, 0.0), silent));
        sorted_by_modulus(values)
    }

    /// q(s) = ½‖F(s) − s‖².
    pub fn speed(&self, s: &DVector<f64>, d: &DVector<f64>) -> f64 {
        0.5 * (self.step(s, d) - s).norm_squared()
    }

    /// Eigenvalues of the effective recurrent connectivity diag(g) W(c) (largest modulus first).
    pub fn connectivity_spectrum(&self) -> Vec<Complex<f64>> {
        let n = self.n_units();
        let effective = DMatrix::from_fn(n, n, |i, k| self.gain[i] * self.w[(i, k)]);
        sorted_by_modulus(eigenvalues(effective))
    }
}

/// Eigenvalues of a square matrix. nalgebra's `complex_eigenvalues` iterates its Schur
/// decomposition without a bound and never returns on some matrices (seen on ReLU Jacobians at
/// fixed points, whose rows of silent units are exactly zero), so the iterations are bounded; when
/// they do not converge, the matrix is perturbed by a tiny fixed amount (moving the eigenvalues by
/// about that much) and tried again. If that fails too, every eigenvalue is NaN: no stability is
/// claimed that was not computed.
fn eigenvalues(m: DMatrix<f64>) -> Vec<Complex<f64>> {
    let n = m.nrows();
    for perturbation in [0.0, 1e-12, 1e-9] {
        // a fixed, asymmetric pattern so exact zeros and symmetries are broken deterministically
        let tried = DMatrix::from_fn(n, n, |i, j| m[(i, j)] + perturbation * (((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5));
        if let Some(schur) = Schur::try_new(tried, f64::EPSILON, 100 * n.max(10)) {
            return schur.complex_eigenvalues().iter().copied().collect();
        }
    }
    vec![Complex::new(f64::NAN, f64::NAN); n]
}

fn sorted_by_modulus(mut values: Vec<Complex<f64>>) -> Vec<Complex<f64>> {
    values.sort_by(|a, b| b.norm().total_cmp(&a.norm()));
    values
}

/// A fixed (q ≈ 0) or slow point.
#[derive(Clone, Debug)]
pub struct FixedPoint {
    pub state: DVector<f64>,
    /// q at the point: ≈ 0 for a fixed point, small but positive for a slow point.
    pub speed: f64,
    /// The Jacobian's eigenvalues, largest modulus first.
    pub eigenvalues: Vec<Complex<f64>>,
    /// How many starts ended here.
    pub hits: usize,
}

impl FixedPoint {
    /// Stable when every eigenvalue of the (discrete-time) Jacobian lies inside the unit circle.
    pub fn is_stable(&self) -> bool {
        self.eigenvalues.first().is_none_or(|e| e.norm() < 1.0)
    }

    pub fn unstable_dimensions(&self) -> usize {
        self.eigenvalues.iter().filter(|e| e.norm() >= 1.0).count()
    }
}

/// Settings of the fixed-point search.
#[derive(Clone, Debug)]
pub struct FixedPointOptions {
    /// Levenberg–Marquardt iterations per start.
    pub max_iterations: usize,
    /// A point is kept when q falls below this (a slow point up to this speed).
    pub speed_tolerance: f64,
    /// Points closer than this (Euclidean, in state units) are one point.
    pub merge_distance: f64,
}

impl Default for FixedPointOptions {
    fn default() -> Self {
        Self { max_iterations: 200, speed_tolerance: 1e-10, merge_distance: 1e-3 }
    }
}

/// Minimise q from every start (Levenberg–Marquardt on F(s) − s, which converges to stable and
/// unstable points alike), keep the points with q below the tolerance, and merge duplicates.
/// Sorted: most hits first.
pub fn find_fixed_points(map: &StepMap, d: &DVector<f64>, starts: &[DVector<f64>], options: &FixedPointOptions) -> Vec<FixedPoint> {
    let n = map.n_units();
    let identity = DMatrix::<f64>::identity(n, n);
    let mut found: Vec<FixedPoint> = Vec::new();
    for start in starts {
        let mut s = start.clone();
        let mut residual = map.step(&s, d) - &s;
        let mut q = 0.5 * residual.norm_squared();
        let mut lambda = 1e-3;
        for _ in 0..options.max_iterations {
            if q < options.speed_tolerance * 1e-6 {
                break;
            }
            let a = map.jacobian(&s, d) - &identity;
            let gradient = a.transpose() * &residual;
            let normal = a.transpose() * &a;
            let mut improved = false;
            // raise the damping until a step lowers q (at most a few tries per iteration)
            for _ in 0..8 {
                let damped = &normal + &identity * lambda;
                let Some(delta) = damped.cholesky().map(|ch| ch.solve(&(-&gradient))) else {
                    lambda *= 10.0;
                    continue;
                };
                let candidate = &s + delta;
                let candidate_residual = map.step(&candidate, d) - &candidate;
                let candidate_q = 0.5 * candidate_residual.norm_squared();
                if candidate_q < q {
                    (s, residual, q) = (candidate, candidate_residual, candidate_q);
                    lambda = (lambda * 0.3).max(1e-12);
                    improved = true;
                    break;
                }
                lambda *= 10.0;
            }
            if !improved {
                break;
            }
        }
        if q > options.speed_tolerance {
            continue;
        }
        match found.iter_mut().find(|p| (&p.state - &s).norm() < options.merge_distance) {
            Some(point) => point.hits += 1,
            None => found.push(FixedPoint { eigenvalues: Vec::new(), speed: q, state: s, hits: 1 }),
        }
    }
    for point in &mut found {
        point.eigenvalues = map.jacobian_eigenvalues(&point.state, d);
    }
    found.sort_by(|a, b| b.hits.cmp(&a.hits));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn map(w: DMatrix<f64>, drive: DVector<f64>, activation: Activation, state_form: StateForm) -> StepMap {
        let n = w.nrows();
        StepMap { alpha: 0.2, activation, state_form, w, w_in: DMatrix::zeros(n, 1), drive, gain: DVector::from_element(n, 1.0) }
    }

    fn random_starts(n: usize, count: usize, scale: f64, seed: u64) -> Vec<DVector<f64>> {
        let mut rng = Rng::seed_from(seed);
        (0..count).map(|_| DVector::from_fn(n, |_, _| scale * (2.0 * rng.uniform() as f64 - 1.0))).collect()
    }

    #[test]
    fn a_linear_network_has_its_one_analytic_fixed_point() {
        // relu network whose fixed point lies where every unit is active, so the map is linear
        // there: r* = (I − W)⁻¹ b, and the Jacobian is (1−α) I + α W
        let n = 6;
        let mut rng = Rng::seed_from(3);
        let w = DMatrix::from_fn(n, n, |_, _| 0.1 * rng.uniform() as f64);
        let b = DVector::from_fn(n, |i, _| 1.0 + i as f64 * 0.1);
        let m = map(w.clone(), b.clone(), Activation::Relu, StateForm::Rate);
        let expected = (DMatrix::identity(n, n) - &w).try_inverse().unwrap() * &b;
        let points = find_fixed_points(&m, &m.drive, &random_starts(n, 20, 3.0, 1), &FixedPointOptions::default());
        assert_eq!(points.len(), 1, "{points:?}");
        assert!((&points[0].state - &expected).norm() < 1e-6);
        assert!(points[0].is_stable());
        let mut expected_eigen: Vec<f64> = (DMatrix::identity(n, n) * 0.8 + &w * 0.2).complex_eigenvalues().iter().map(|e| e.norm()).collect();
        expected_eigen.sort_by(|a, b| b.total_cmp(a));
        let found: Vec<f64> = points[0].eigenvalues.iter().map(|e| e.norm()).collect();
        assert!(expected_eigen.iter().zip(&found).all(|(a, b)| (a - b).abs() < 1e-9));
    }

    #[test]
    fn three_bistable_units_have_eight_stable_and_nineteen_unstable_points() {
        // like a 3-bit flip-flop: each unit r = tanh(2 r) has two stable states ±0.9575 and an
        // unstable one at 0; three independent units: 2³ = 8 stable points, 3³ − 8 unstable ones
        // the state is the rate r = tanh(2r) (±0.9575) or the voltage x = 2 tanh(x) (±1.9150)
        for (form, level) in [(StateForm::Rate, 0.957_504), (StateForm::Voltage, 1.915_008)] {
            let m = map(DMatrix::identity(3, 3) * 2.0, DVector::zeros(3), Activation::Tanh, form);
            let points = find_fixed_points(&m, &m.drive, &random_starts(3, 600, 1.3 * level, 7), &FixedPointOptions::default());
            assert_eq!(points.len(), 27, "{form:?}: {:?}", points.iter().map(|p| p.state.as_slice().to_vec()).collect::<Vec<_>>());
            let stable: Vec<&FixedPoint> = points.iter().filter(|p| p.is_stable()).collect();
            assert_eq!(stable.len(), 8);
            for p in &stable {
                assert!(p.state.iter().all(|x| (x.abs() - level).abs() < 1e-4), "{:?}", p.state);
            }
            let origin = points.iter().find(|p| p.state.norm() < 1e-6).expect("the origin");
            assert_eq!(origin.unstable_dimensions(), 3);
        }
    }

    #[test]
    fn silent_units_split_off_exactly() {
        // relu units 0 and 1 are silenced by a strong negative drive; the eigenvalues must be
        // 1−α twice plus those of the active 3×3 block, as for the full matrix
        let n = 5;
        let mut rng = Rng::seed_from(5);
        let w = DMatrix::from_fn(n, n, |_, _| rng.normal() as f64 * 0.3);
        let d = DVector::from_fn(n, |i, _| if i < 2 { -50.0 } else { 1.0 });
        for form in [StateForm::Rate, StateForm::Voltage] {
            let m = map(w.clone(), d.clone(), Activation::Relu, form);
            let s = match form {
                StateForm::Rate => DVector::from_fn(n, |i, _| if i < 2 { 0.0 } else { 0.5 }),
                StateForm::Voltage => DVector::from_fn(n, |i, _| if i < 2 { -1.0 } else { 0.5 }),
            };
            let split = m.jacobian_eigenvalues(&s, &d);
            let full = sorted_by_modulus(m.jacobian(&s, &d).complex_eigenvalues().iter().copied().collect());
            assert_eq!(split.len(), n);
            assert!(split.iter().filter(|e| (e.re - 0.8).abs() < 1e-12 && e.im == 0.0).count() >= 2);
            for (a, b) in split.iter().zip(&full) {
                assert!((a.norm() - b.norm()).abs() < 1e-9, "{form:?}: {split:?} vs {full:?}");
            }
        }
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        let n = 5;
        let mut rng = Rng::seed_from(11);
        let w = DMatrix::from_fn(n, n, |_, _| rng.normal() as f64 * 0.5);
        let d = DVector::from_fn(n, |_, _| rng.normal() as f64);
        for activation in [Activation::Softplus, Activation::Tanh] {
            for form in [StateForm::Rate, StateForm::Voltage] {
                let mut m = map(w.clone(), d.clone(), activation, form);
                m.gain = DVector::from_fn(n, |i, _| 0.5 + 0.2 * i as f64);
                let s = DVector::from_fn(n, |i, _| 0.3 * i as f64 - 0.4);
                let j = m.jacobian(&s, &d);
                let h = 1e-6;
                for k in 0..n {
                    let mut e = DVector::zeros(n);
                    e[k] = h;
                    let column = (m.step(&(&s + &e), &d) - m.step(&(&s - &e), &d)) / (2.0 * h);
                    assert!((column - j.column(k)).norm() < 1e-7, "{activation:?} {form:?} column {k}");
                }
            }
        }
    }
}
