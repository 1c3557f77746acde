//! The trained network as a dynamical system (docs/MODEL.md §4C): its one-step map F(s, u, c) on the
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
use crate::model::{Activation, Pathway, StateForm, SynapticForm, softplus};

/// The deterministic one-step map of a trained network under one fixed context.
#[derive(Clone, Debug)]
pub struct StepMap {
    /// α_i = dt/τ_i per unit (all equal with a single τ).
    pub alpha: DVector<f64>,
    pub activation: Activation,
    pub state_form: StateForm,
    /// W(c): the recurrent weights under the context, row i = inputs of unit i.
    pub w: DMatrix<f64>,
    /// [N, n_in]
    pub w_in: DMatrix<f64>,
    /// b + E c
    pub drive: DVector<f64>,
    /// g(c), ones without the gain pathway; ≥ 0 under Dale's law ([`crate::model::ModelConfig::gain_of`]).
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
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Softplus => 1.0 / (1.0 + (-x).exp()),
        Activation::Tanh => 1.0 - x.tanh().powi(2),
    }
}

impl StepMap {
    /// The map of `params` (trained with `config`) under context `c` (length K), with the
    /// `lesioned` pathways contributing what they give for c = 0.
    #[allow(clippy::expect_used, reason = "cannot fail: the parameters asked for are those the configuration has")]
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
        // zero on the units the pathway does not act on (cell-type-specific modulation)
        let context_mix = |name: &str, target| {
            let p = get(name).expect("parameter present");
            let mask = model.cell_mask(target);
            DVector::from_fn(n, |i, _| {
                let on = mask.as_ref().map_or(1.0, |m| m[i] as f64);
                on * (0..k).map(|t| c[t] as f64 * p.data[t * n + i] as f64).sum::<f64>()
            })
        };
        if active(Pathway::Bias) {
            drive += context_mix(params::CTX_BIAS, model.bias_cells);
        }
        if active(Pathway::Gain) {
            let gc = context_mix(params::CTX_GAIN, model.gain_cells);
            // ≥ 0 under Dale's law, as in the network
            gain = gc.map(|v| model.gain_of(v));
        }
        if active(Pathway::Synaptic) {
            let blocks = model.synaptic_block_mask();
            match model.synaptic_form {
                SynapticForm::Lowrank => {
                    let (u, v) = (matrix(params::SYN_U), matrix(params::SYN_V));
                    let r = model.synaptic_rank;
                    // column t·r + j belongs to task t
                    let scale = DVector::from_fn(k * r, |col, _| c[col / r] as f64);
                    let mut delta = u * DMatrix::from_diagonal(&scale) * v.transpose();
                    if let Some(mask) = &blocks {
                        delta.iter_mut().enumerate().for_each(|(index, d)| {
                            // column-major storage: index = j·n + i
                            *d *= mask[(index % n) * n + index / n] as f64
                        });
                    }
                    w += delta;
                }
                SynapticForm::Elementwise => {
                    let m = get(params::SYN_M).expect("syn_m");
                    for i in 0..n {
                        for j in 0..n {
                            let on = blocks.as_ref().map_or(1.0, |mask| mask[i * n + j] as f64);
                            let modulation: f64 = (0..k).map(|t| c[t] as f64 * m.data[t * n * n + i * n + j] as f64).sum();
                            w[(i, j)] *= 1.0 + on * modulation;
                        }
                    }
                }
            }
        }
        // Dale's law acts on the modulated W̃(c), as in the network
        model.apply_dale(&mut w, model.dale_signs());
        StepMap {
            alpha: DVector::from_iterator(n, params.unit_alphas(model, config.tasks.dt_ms).into_iter().map(f64::from)),
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
        let a = &self.alpha;
        // (1 − α_i) s_i + α_i target_i
        let leak = |target: DVector<f64>| s.zip_zip_map(&target, a, |s, x, a| s * (1.0 - a) + x * a);
        match self.state_form {
            StateForm::Rate => {
                let pre = (&self.w * s + d).component_mul(&self.gain);
                leak(pre.map(|x| phi(self.activation, x)))
            }
            StateForm::Voltage => {
                let rates = s.map(|x| phi(self.activation, x));
                leak((&self.w * rates + d).component_mul(&self.gain))
            }
        }
    }

    /// ∂F/∂s at s.
    pub fn jacobian(&self, s: &DVector<f64>, d: &DVector<f64>) -> DMatrix<f64> {
        let a = &self.alpha;
        let n = self.n_units();
        let mut j = match self.state_form {
            StateForm::Rate => {
                let pre = (&self.w * s + d).component_mul(&self.gain);
                let row_scale = DVector::from_fn(n, |i, _| a[i] * phi_prime(self.activation, pre[i]) * self.gain[i]);
                DMatrix::from_fn(n, n, |i, k| row_scale[i] * self.w[(i, k)])
            }
            StateForm::Voltage => {
                let col_scale = s.map(|x| phi_prime(self.activation, x));
                DMatrix::from_fn(n, n, |i, k| a[i] * self.gain[i] * self.w[(i, k)] * col_scale[k])
            }
        };
        for i in 0..n {
            j[(i, i)] += 1.0 - a[i];
        }
        j
    }

    /// Eigenvalues of ∂F/∂s at s, largest modulus first.
    ///
    /// A unit whose activation slope is zero (a silent ReLU unit) contributes a row (rate form)
    /// or a column (voltage form) of the Jacobian that is (1−α_i) on the diagonal and zero
    /// elsewhere, so after a permutation the Jacobian is block triangular: its eigenvalues are
    /// 1−α_i for each silent unit i plus those of the active units' block. Splitting them off is
    /// exact, smaller, and avoids the exactly-zero rows the general eigen-solver struggles with.
    pub fn jacobian_eigenvalues(&self, s: &DVector<f64>, d: &DVector<f64>) -> Vec<Complex<f64>> {
        let slope = self.slopes(s, d);
        let active: Vec<usize> = (0..slope.len()).filter(|i| slope[*i] != 0.0).collect();
        let full = self.jacobian(s, d);
        let block = DMatrix::from_fn(active.len(), active.len(), |i, k| full[(active[i], active[k])]);
        let mut values = if active.is_empty() { Vec::new() } else { eigenvalues(block) };
        values.extend((0..slope.len()).filter(|i| slope[*i] == 0.0).map(|i| Complex::new(1.0 - self.alpha[i], 0.0)));
        sorted_by_modulus(values)
    }

    /// The activation slope that scales each unit's row (rate form: φ′(pre) g) or column
    /// (voltage form: φ′(x)) of the Jacobian's recurrent part; zero for a silent ReLU unit.
    fn slopes(&self, s: &DVector<f64>, d: &DVector<f64>) -> Vec<f64> {
        match self.state_form {
            StateForm::Rate => {
                let pre = (&self.w * s + d).component_mul(&self.gain);
                (0..self.n_units()).map(|i| phi_prime(self.activation, pre[i]) * self.gain[i]).collect()
            }
            StateForm::Voltage => s.iter().map(|x| phi_prime(self.activation, *x)).collect(),
        }
    }

    /// The Newton step δ solving (J − I) δ = −r at s, where r = F(s) − s; `None` if the system
    /// is singular.
    ///
    /// A silent unit's row (rate form) or column (voltage form) of J − I is −α_i on the diagonal
    /// and zero elsewhere, so the system is block triangular: only the active units' block is
    /// factorised (exactly the full Newton step, at a fraction of the cost when many units are
    /// silent). Rate form: δ_s = r_s / α_s, then A_aa δ_a = −r_a − A_as δ_s. Voltage form:
    /// A_aa δ_a = −r_a, then δ_s = (r_s + A_sa δ_a) / α_s.
    pub fn newton_step(&self, s: &DVector<f64>, d: &DVector<f64>, r: &DVector<f64>) -> Option<DVector<f64>> {
        let n = self.n_units();
        let a = &self.alpha;
        let slope = self.slopes(s, d);
        let active: Vec<usize> = (0..n).filter(|i| slope[*i] != 0.0).collect();
        let silent: Vec<usize> = (0..n).filter(|i| slope[*i] == 0.0).collect();
        // J − I = −diag(α) + diag(α)·(slope-scaled) W(c), restricted to the blocks needed
        let entry = |i: usize, k: usize| {
            let coupling = match self.state_form {
                StateForm::Rate => a[i] * slope[i] * self.w[(i, k)],
                StateForm::Voltage => a[i] * self.gain[i] * self.w[(i, k)] * slope[k],
            };
            coupling - if i == k { a[i] } else { 0.0 }
        };
        let mut delta = DVector::zeros(n);
        let solve_active = |rhs: DVector<f64>| -> Option<DVector<f64>> {
            if active.is_empty() {
                return Some(DVector::zeros(0));
            }
            let block = DMatrix::from_fn(active.len(), active.len(), |i, k| entry(active[i], active[k]));
            block.lu().solve(&rhs)
        };
        match self.state_form {
            StateForm::Rate => {
                silent.iter().for_each(|&i| delta[i] = r[i] / a[i]);
                let rhs = DVector::from_fn(active.len(), |i, _| {
                    let row = active[i];
                    -r[row] - silent.iter().map(|&k| entry(row, k) * delta[k]).sum::<f64>()
                });
                let da = solve_active(rhs)?;
                active.iter().zip(da.iter()).for_each(|(&i, v)| delta[i] = *v);
            }
            StateForm::Voltage => {
                let rhs = DVector::from_fn(active.len(), |i, _| -r[active[i]]);
                let da = solve_active(rhs)?;
                active.iter().zip(da.iter()).for_each(|(&i, v)| delta[i] = *v);
                for &i in &silent {
                    let coupled: f64 = active.iter().map(|&k| entry(i, k) * delta[k]).sum();
                    delta[i] = (r[i] + coupled) / a[i];
                }
            }
        }
        delta.iter().all(|v| v.is_finite()).then_some(delta)
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
/// about that much) and the convergence tolerance loosened, step by step (a trained synaptic
/// network's Jacobian along a trial once failed every try at machine precision). If every try
/// fails, every eigenvalue is NaN: no stability is claimed that was not computed.
fn eigenvalues(m: DMatrix<f64>) -> Vec<Complex<f64>> {
    let n = m.nrows();
    let tries = [(0.0, f64::EPSILON), (1e-12, f64::EPSILON), (1e-9, 1e-13), (1e-9, 1e-11), (1e-7, 1e-9)];
    for (perturbation, tolerance) in tries {
        // a fixed, asymmetric pattern so exact zeros and symmetries are broken deterministically
        let tried = DMatrix::from_fn(n, n, |i, j| m[(i, j)] + perturbation * (((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5));
        if let Some(schur) = Schur::try_new(tried, tolerance, 100 * n.max(10)) {
            return schur.complex_eigenvalues().iter().copied().collect();
        }
    }
    vec![Complex::new(f64::NAN, f64::NAN); n]
}

fn sorted_by_modulus(mut values: Vec<Complex<f64>>) -> Vec<Complex<f64>> {
    values.sort_by(|a, b| b.norm().total_cmp(&a.norm()));
    values
}

/// The spectral radius of the Jacobian ∂F/∂s = (1−α) I + α diag(φ′(pre) g(c)) W(c) at every
/// `stride`-th step of the noise-free trajectory the inputs drive from rest (s = 0, as the
/// network starts every trial); `inputs` holds one row per step. A step whose eigenvalues
/// could not be computed ([`eigenvalues`]) is skipped. Unlike the spectrum of the
/// connectivity diag(g(c)) W(c), this sees which units each task's activity switches on, so
/// the bias pathway changes it too: it measures what the dynamics do along each task.
pub fn trajectory_radii<'a>(map: &StepMap, inputs: impl IntoIterator<Item = &'a [f32]>, stride: usize) -> Vec<f64> {
    let mut s = DVector::zeros(map.n_units());
    let mut radii = Vec::new();
    for (t, u) in inputs.into_iter().enumerate() {
        let d = map.drive_with_input(u);
        if t % stride.max(1) == 0 {
            // a Jacobian whose eigenvalues could not be computed is left out, not averaged in
            if let Some(radius) = map.jacobian_eigenvalues(&s, &d).first().map(|e| e.norm()).filter(|r| r.is_finite()) {
                radii.push(radius);
            }
        }
        s = map.step(&s, &d);
    }
    radii
}

/// The speed q below which a point counts as *slow* on the time scale of a trial of `steps`
/// steps whose states spread over `spread` (RMS distance from their mean): at that speed the
/// state would drift less than [`SLOW_DRIFT`] of the spread over the whole trial,
/// `steps · √(2q) < SLOW_DRIFT · spread`, so within a trial the point acts as a fixed point
/// (Sussillo & Barak 2013's slow points, with a tolerance tied to the task's own scales).
pub fn slow_point_tolerance(spread: f64, steps: usize) -> f64 {
    let drift_per_step = SLOW_DRIFT * spread / steps.max(1) as f64;
    0.5 * drift_per_step * drift_per_step
}

/// See [`slow_point_tolerance`].
pub const SLOW_DRIFT: f64 = 0.05;

/// A fixed (q ≈ 0) or slow point.
#[derive(Clone, Debug)]
pub struct FixedPoint {
    pub state: DVector<f64>,
    /// q at the point: ≈ 0 for a fixed point, small but positive for a slow point.
    pub speed: f64,
    /// q at most the search's `speed_tolerance` (else a slow point: below `slow_tolerance`).
    pub fixed: bool,
    /// The Jacobian's eigenvalues, largest modulus first.
    pub eigenvalues: Vec<Complex<f64>>,
    /// How many starts ended here.
    pub hits: usize,
    /// The index of the first start (in the order given) that ended here.
    pub first_start: usize,
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
    /// Trust-region iterations per start (at most).
    pub max_iterations: usize,
    /// A point is a fixed point when q falls below this.
    pub speed_tolerance: f64,
    /// A search ending with q above `speed_tolerance` but at most this keeps a slow point (no
    /// slow points when it is not above `speed_tolerance`).
    pub slow_tolerance: f64,
    /// Points closer than this (Euclidean, in state units) are one point.
    pub merge_distance: f64,
    /// Threads that search from different starts at once (the result does not depend on it).
    pub threads: usize,
}

/// The threads the analyses use by default: the machine's cores, at most [`MAX_THREADS`].
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, MAX_THREADS)
}

/// At most this many threads per parallel analysis.
pub const MAX_THREADS: usize = 8;

impl Default for FixedPointOptions {
    fn default() -> Self {
        Self { max_iterations: 200, speed_tolerance: 1e-10, slow_tolerance: 0.0, merge_distance: 1e-3, threads: default_threads() }
    }
}

/// `f` applied to every item on up to `threads` scoped threads, results in the items' order.
/// Threads take the next item from a shared counter; since each result depends on its item
/// only, the output is the same whatever the number of threads.
#[allow(clippy::expect_used, reason = "a panic in an analysis thread is passed on")]
pub fn parallel_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("an analysis thread panicked")).collect()
    });
    let mut all: Vec<(usize, R)> = parts.drain(..).flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Minimise q from every start, keep the points with q below the tolerance, and merge
/// duplicates (in the starts' order, so the result does not depend on the threads). Sorted:
/// most hits first.
///
/// Each start is refined by a dogleg trust-region method (`minimise_speed`), in parallel over
/// starts on `options.threads` threads.
pub fn find_fixed_points(map: &StepMap, d: &DVector<f64>, starts: &[DVector<f64>], options: &FixedPointOptions) -> Vec<FixedPoint> {
    let ends = parallel_map(starts, options.threads, |start| minimise_speed(map, d, start.clone(), options));
    let mut found: Vec<FixedPoint> = Vec::new();
    for (index, end) in ends.into_iter().enumerate() {
        let Some((s, q)) = end else { continue };
        match found.iter_mut().find(|p| (&p.state - &s).norm() < options.merge_distance) {
            Some(point) => point.hits += 1,
            None => {
                let fixed = q <= options.speed_tolerance;
                found.push(FixedPoint { eigenvalues: Vec::new(), speed: q, fixed, state: s, hits: 1, first_start: index })
            }
        }
    }
    let eigenvalues = parallel_map(&found, options.threads, |p| map.jacobian_eigenvalues(&p.state, d));
    for (point, values) in found.iter_mut().zip(eigenvalues) {
        point.eigenvalues = values;
    }
    // stable sort: ties keep the order the points were found in
    found.sort_by_key(|p| std::cmp::Reverse(p.hits));
    found
}

/// A start is abandoned when q fell by less than 0.1 % over this many iterations.
const STALL_WINDOW: usize = 25;

/// Refine one start; the end point and its q if q is below the tolerance.
///
/// Powell's dogleg trust-region method on F(s) − s = 0 (as in MINPACK's `hybrd`): the step is
/// the Newton step when it fits in the trust region, else a blend of it with the steepest-descent
/// (Cauchy) step of q; the region grows or shrinks with how well the linear model predicted the
/// fall of q. It converges quadratically to stable and unstable points alike, needs one
/// factorisation per iteration (of the active units' block only, [`StepMap::newton_step`]), and
/// still makes progress where the Jacobian is singular.
fn minimise_speed(map: &StepMap, d: &DVector<f64>, start: DVector<f64>, options: &FixedPointOptions) -> Option<(DVector<f64>, f64)> {
    let n = map.n_units();
    let mut s = start;
    let mut residual = map.step(&s, d) - &s;
    let mut q = 0.5 * residual.norm_squared();
    let mut radius = s.norm().max(1.0);
    let done = options.speed_tolerance * 1e-6;
    // q at each iteration, to give up on a start that has stalled
    let mut history: Vec<f64> = Vec::with_capacity(options.max_iterations);
    for iteration in 0..options.max_iterations {
        if q < done || !q.is_finite() {
            break;
        }
        // stalled: less than 0.1 % lower than STALL_WINDOW iterations ago. Converging to a point
        // (quadratically; to a degenerate point, q still falls ×4 per step) never looks like
        // this; creeping along a minimum of q above zero (a slow point, or a ReLU kink) does
        if iteration >= STALL_WINDOW && q > history[iteration - STALL_WINDOW] * (1.0 - 1e-3) {
            break;
        }
        history.push(q);
        let mut a = map.jacobian(&s, d);
        (0..n).for_each(|i| a[(i, i)] -= 1.0);
        // ∇q = Aᵀr; the Cauchy point minimises the linear model along −∇q
        let gradient = a.tr_mul(&residual);
        let g_norm = gradient.norm();
        if g_norm == 0.0 {
            break;
        }
        let a_g = &a * &gradient;
        let cauchy = &gradient * -(g_norm * g_norm / a_g.norm_squared().max(f64::MIN_POSITIVE));
        let newton = map.newton_step(&s, d, &residual);
        // a full Newton step that lowers q is taken even beyond the region: with ReLU units q is
        // only piecewise smooth, and the trust region alone stalls at its kinks, while the
        // Newton step jumps to the fixed point of the next linear piece
        if let Some(full) = newton.as_ref().filter(|step| step.norm() > radius) {
            let candidate = &s + full;
            let candidate_residual = map.step(&candidate, d) - &candidate;
            let candidate_q = 0.5 * candidate_residual.norm_squared();
            if candidate_q < q {
                radius = full.norm();
                (s, residual, q) = (candidate, candidate_residual, candidate_q);
                continue;
            }
        }
        let step = match newton {
            Some(newton) if newton.norm() <= radius => newton,
            _ if cauchy.norm() >= radius => &gradient * (-radius / g_norm),
            None => cauchy,
            Some(newton) => {
                // the point where the segment cauchy → newton leaves the region: |c + τ(n − c)| = Δ
                let dir = &newton - &cauchy;
                let (aa, bb, cc) = (dir.norm_squared(), 2.0 * cauchy.dot(&dir), cauchy.norm_squared() - radius * radius);
                let tau = (-bb + (bb * bb - 4.0 * aa * cc).max(0.0).sqrt()) / (2.0 * aa);
                cauchy + dir * tau.clamp(0.0, 1.0)
            }
        };
        let predicted = q - 0.5 * (&residual + &a * &step).norm_squared();
        let candidate = &s + &step;
        let candidate_residual = map.step(&candidate, d) - &candidate;
        let candidate_q = 0.5 * candidate_residual.norm_squared();
        let ratio = if predicted > 0.0 { (q - candidate_q) / predicted } else { -1.0 };
        let step_norm = step.norm();
        if ratio < 0.25 {
            radius = 0.25 * step_norm;
        } else if ratio > 0.75 {
            radius = radius.max(2.0 * step_norm);
        }
        if ratio > 1e-4 && candidate_q < q {
            (s, residual, q) = (candidate, candidate_residual, candidate_q);
        }
        if radius < 1e-14 * (1.0 + s.norm()) {
            break;
        }
    }
    (q <= options.speed_tolerance.max(options.slow_tolerance)).then_some((s, q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn map(w: DMatrix<f64>, drive: DVector<f64>, activation: Activation, state_form: StateForm) -> StepMap {
        let n = w.nrows();
        StepMap {
            alpha: DVector::from_element(n, 0.2),
            activation,
            state_form,
            w,
            w_in: DMatrix::zeros(n, 1),
            drive,
            gain: DVector::from_element(n, 1.0),
        }
    }

    fn random_starts(n: usize, count: usize, scale: f64, seed: u64) -> Vec<DVector<f64>> {
        let mut rng = Rng::seed_from(seed);
        (0..count).map(|_| DVector::from_fn(n, |_, _| scale * (2.0 * rng.uniform() - 1.0))).collect()
    }

    #[test]
    fn a_linear_network_has_its_one_analytic_fixed_point() {
        // relu network whose fixed point lies where every unit is active, so the map is linear
        // there: r* = (I − W)⁻¹ b, and the Jacobian is (1−α) I + α W
        let n = 6;
        let mut rng = Rng::seed_from(3);
        let w = DMatrix::from_fn(n, n, |_, _| 0.1 * rng.uniform());
        let b = DVector::from_fn(n, |i, _| 1.0 + i as f64 * 0.1);
        let m = map(w.clone(), b.clone(), Activation::Relu, StateForm::Rate);
        let expected = (DMatrix::identity(n, n) - &w).try_inverse().unwrap() * &b;
        let points = find_fixed_points(&m, &m.drive, &random_starts(n, 20, 3.0, 1), &FixedPointOptions::default());
        assert_eq!(points.len(), 1, "{points:?}");
        assert!((&points[0].state - &expected).norm() < 1e-6);
        assert!(points[0].is_stable());
        let mut expected_eigen: Vec<f64> =
            (DMatrix::identity(n, n) * 0.8 + &w * 0.2).complex_eigenvalues().iter().map(|e| e.norm()).collect();
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
    fn the_newton_step_solves_the_full_system_with_silent_units() {
        // relu units 0 and 1 silent: the block solve must equal the dense solve of (J − I) δ = −r
        let n = 6;
        let mut rng = Rng::seed_from(9);
        let w = DMatrix::from_fn(n, n, |_, _| rng.normal() * 0.4);
        let d = DVector::from_fn(n, |i, _| if i < 2 { -40.0 } else { 0.8 });
        for form in [StateForm::Rate, StateForm::Voltage] {
            let mut m = map(w.clone(), d.clone(), Activation::Relu, form);
            m.gain = DVector::from_fn(n, |i, _| 0.7 + 0.1 * i as f64);
            let s = DVector::from_fn(n, |i, _| if i < 2 { if form == StateForm::Rate { 0.3 } else { -0.6 } } else { 0.2 * i as f64 });
            let r = m.step(&s, &d) - &s;
            let full = (m.jacobian(&s, &d) - DMatrix::identity(n, n)).lu().solve(&(-&r)).unwrap();
            let block = m.newton_step(&s, &d, &r).unwrap();
            assert!((&full - &block).norm() < 1e-10, "{form:?}: {full} vs {block}");
        }
    }

    #[test]
    fn the_search_does_not_depend_on_the_number_of_threads() {
        let n = 12;
        let mut rng = Rng::seed_from(21);
        let w = DMatrix::from_fn(n, n, |_, _| rng.normal() * 0.6);
        let d = DVector::from_fn(n, |_, _| rng.normal() * 0.3);
        // a multistable tanh network, and a relu one weak enough to have a fixed point
        for (activation, form, scale) in [(Activation::Tanh, StateForm::Rate, 2.0), (Activation::Relu, StateForm::Voltage, 0.25)] {
            let m = map(w.clone() * scale, d.clone(), activation, form);
            let starts = random_starts(n, 40, 1.5, 4);
            let run = |threads| find_fixed_points(&m, &m.drive, &starts, &FixedPointOptions { threads, ..FixedPointOptions::default() });
            let one = run(1);
            assert!(!one.is_empty(), "{activation:?} {form:?}");
            for threads in [2, 3, 8] {
                let other = run(threads);
                assert_eq!(one.len(), other.len());
                for (a, b) in one.iter().zip(&other) {
                    // the same bits: every start is refined alone, and merged in the starts' order
                    assert_eq!(a.state, b.state);
                    assert_eq!(a.hits, b.hits);
                    assert_eq!(a.speed.to_bits(), b.speed.to_bits());
                    assert_eq!(a.eigenvalues, b.eigenvalues);
                }
            }
        }
    }

    #[test]
    fn parallel_map_keeps_the_order() {
        let items: Vec<usize> = (0..37).collect();
        for threads in [1, 2, 5, 100] {
            assert_eq!(parallel_map(&items, threads, |i| i * i), items.iter().map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(parallel_map(&[] as &[usize], 4, |i| *i).is_empty());
    }

    #[test]
    fn silent_units_split_off_exactly() {
        // relu units 0 and 1 are silenced by a strong negative drive; the eigenvalues must be
        // 1−α twice plus those of the active 3×3 block, as for the full matrix
        let n = 5;
        let mut rng = Rng::seed_from(5);
        let w = DMatrix::from_fn(n, n, |_, _| rng.normal() * 0.3);
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
        let w = DMatrix::from_fn(n, n, |_, _| rng.normal() * 0.5);
        let d = DVector::from_fn(n, |_, _| rng.normal());
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

    #[test]
    fn trajectory_radii_follow_the_states_the_inputs_drive() {
        let n = 6;
        let mut rng = Rng::seed_from(21);
        let w = DMatrix::from_fn(n, n, |_, _| rng.normal() * 0.6);
        let mut m = map(w, DVector::from_element(n, 0.2), Activation::Relu, StateForm::Rate);
        m.w_in = DMatrix::from_fn(n, 2, |_, _| rng.normal());
        let inputs: Vec<[f32; 2]> = (0..12).map(|t| [if t < 6 { 1.0 } else { 0.0 }, 0.5]).collect();
        let radii = trajectory_radii(&m, inputs.iter().map(|u| &u[..]), 3);
        assert_eq!(radii.len(), 4);
        // by hand: step from rest, the radius at steps 0, 3, 6, 9 before each step
        let mut s = DVector::zeros(n);
        let mut expected = Vec::new();
        for (t, u) in inputs.iter().enumerate() {
            let d = m.drive_with_input(u);
            if t % 3 == 0 {
                let full = m.jacobian(&s, &d).complex_eigenvalues();
                expected.push(full.iter().map(|e| e.norm()).fold(0.0, f64::max));
            }
            s = m.step(&s, &d);
        }
        for (a, b) in radii.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-9, "{radii:?} vs {expected:?}");
        }
    }

    #[test]
    fn a_bias_alone_changes_the_trajectory_spectrum() {
        // the same W and gain, two context biases that switch different units on: the
        // connectivity spectrum is one, the Jacobian's along the trajectory is not
        let n = 8;
        let mut rng = Rng::seed_from(4);
        let w = DMatrix::from_fn(n, n, |_, _| rng.normal() * 0.7);
        let on_first = DVector::from_fn(n, |i, _| if i < 4 { 1.0 } else { -3.0 });
        let on_last = DVector::from_fn(n, |i, _| if i < 4 { -3.0 } else { 1.0 });
        let inputs = [[0.0f32]; 20];
        let radius = |drive: &DVector<f64>| {
            let m = map(w.clone(), drive.clone(), Activation::Relu, StateForm::Rate);
            let radii = trajectory_radii(&m, inputs.iter().map(|u| &u[..]), 1);
            radii[5..].iter().sum::<f64>() / (radii.len() - 5) as f64
        };
        let (a, b) = (radius(&on_first), radius(&on_last));
        assert!((a - b).abs() > 0.01, "{a} vs {b}");
        let connectivity = |drive: &DVector<f64>| map(w.clone(), drive.clone(), Activation::Relu, StateForm::Rate).connectivity_spectrum();
        assert_eq!(connectivity(&on_first), connectivity(&on_last));
    }

    #[test]
    fn slow_points_are_kept_apart_from_fixed_points() {
        // one tanh unit, s' = 0.8 s + 0.2 tanh(1.5 s + b): for b = 0 three fixed points (0,
        // ±0.86); past the saddle-node at b ≈ −0.2075 the upper two vanish and leave a "ghost",
        // a slow region near s ≈ 0.58 where q stays ≈ 6·10⁻⁸, beside the fixed point near −0.95
        let m = map(DMatrix::from_element(1, 1, 1.5), DVector::from_element(1, -0.21), Activation::Tanh, StateForm::Rate);
        let starts: Vec<DVector<f64>> = [-1.5, -0.5, 0.4, 0.5, 0.6, 0.7].iter().map(|v| DVector::from_element(1, *v)).collect();
        let strict = FixedPointOptions { threads: 1, ..FixedPointOptions::default() };
        let fixed = find_fixed_points(&m, &m.drive, &starts, &strict);
        assert!(!fixed.is_empty() && fixed.iter().all(|p| p.fixed && p.state[0] < -0.5), "{fixed:?}");
        let with_slow = find_fixed_points(&m, &m.drive, &starts, &FixedPointOptions { slow_tolerance: 1e-6, ..strict });
        let slow: Vec<&FixedPoint> = with_slow.iter().filter(|p| !p.fixed).collect();
        assert!(!slow.is_empty(), "{with_slow:?}");
        assert!(slow.iter().all(|p| p.speed > 1e-10 && p.speed <= 1e-6 && (p.state[0] - 0.58).abs() < 0.1), "{slow:?}");
        assert_eq!(with_slow.iter().filter(|p| p.fixed).count(), fixed.len());
        assert!((slow_point_tolerance(2.0, 100) - 0.5 * (0.05 * 2.0 / 100.0_f64).powi(2)).abs() < 1e-18);
    }
}
