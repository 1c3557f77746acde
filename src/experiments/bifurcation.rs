//! Fixed points along a context interpolation (a bifurcation view, docs/MODEL.md §4A and §4C): under
//! c(α) = (1−α) e_i + α e_j, the mixture ambiguity of §4A with one fixed other task j at level
//! λ = α, how the fixed points of task i's dynamics (under one epoch's input) move, appear, merge and
//! change stability as α goes from 0 (task i's context) to 1 (task j's).
//!
//! Continuation: at each α of the grid the search starts from the previous α's points first
//! (so a point that moves smoothly keeps its identity) and then from fresh states sampled from
//! the trajectories (so points born on the way are found too). A point keeps the id of the
//! previous point it continues; a point first reached from a fresh start gets a new id.

use nalgebra::DVector;

use super::search_start::{TaskEpoch, epoch_input, sample_states};
use crate::analysis::Pca;
use crate::analysis::dynamics::{FixedPoint, FixedPointOptions, StepMap, find_fixed_points};
use crate::config::Config;
use crate::figure::{LineChart, Series};
use crate::model::{ParamSet, Pathway};
use crate::train::probe::TaskTrajectories;

/// The context c(α) = (1−α) e_from + α e_to over `k` tasks.
pub fn interpolated_context(k: usize, from: usize, to: usize, alpha: f64) -> Vec<f32> {
    let mut c = vec![0.0f32; k];
    c[from] += (1.0 - alpha) as f32;
    c[to] += alpha as f32;
    c
}

/// `count` evenly spaced values from 0 to 1 (just 0 for a count of 1).
pub fn alpha_grid(count: usize) -> Vec<f64> {
    match count {
        0 => Vec::new(),
        1 => vec![0.0],
        _ => (0..count).map(|i| i as f64 / (count - 1) as f64).collect(),
    }
}

/// The fixed points found at one α.
#[derive(Clone, Debug)]
pub struct Slice {
    pub alpha: f64,
    /// (id, point); ids follow a point from one α to the next. Sorted by id.
    pub points: Vec<(usize, FixedPoint)>,
}

impl Slice {
    pub fn stable_count(&self) -> usize {
        self.points.iter().filter(|(_, p)| p.is_stable()).count()
    }
}

/// Continue the fixed points along `alphas` (in the given order). `map_at(α)` gives the step map
/// and the constant drive at α; `fresh` are the states sampled from the trajectories, tried at
/// every α after the previous α's points. `on_slice` is called after each α (for progress).
pub fn continue_fixed_points(
    map_at: impl Fn(f64) -> (StepMap, DVector<f64>),
    alphas: &[f64],
    fresh: &[DVector<f64>],
    options: &FixedPointOptions,
    on_slice: &mut dyn FnMut(&Slice),
) -> Vec<Slice> {
    let mut continuation = Continuation::default();
    alphas
        .iter()
        .map(|&alpha| {
            let (map, drive) = map_at(alpha);
            let slice = continuation.next(alpha, &map, &drive, fresh, options);
            on_slice(&slice);
            slice
        })
        .collect()
}

/// The state carried from one α to the next: the last slice's points and the next new id.
#[derive(Clone, Debug, Default)]
pub struct Continuation {
    previous: Vec<(usize, FixedPoint)>,
    next_id: usize,
}

impl Continuation {
    /// The fixed points at `alpha` of `map` with the constant `drive`, searched from the
    /// previous slice's points, then from `fresh`.
    pub fn next(&mut self, alpha: f64, map: &StepMap, drive: &DVector<f64>, fresh: &[DVector<f64>], options: &FixedPointOptions) -> Slice {
        let starts: Vec<DVector<f64>> = self.previous.iter().map(|(_, p)| p.state.clone()).chain(fresh.iter().cloned()).collect();
        let found = find_fixed_points(map, drive, &starts, options);
        let mut points: Vec<(usize, FixedPoint)> = found
            .into_iter()
            .map(|p| {
                let id = match self.previous.get(p.first_start) {
                    Some((id, _)) => *id,
                    None => {
                        self.next_id += 1;
                        self.next_id - 1
                    }
                };
                (id, p)
            })
            .collect();
        points.sort_by_key(|(id, _)| *id);
        self.previous = points.clone();
        Slice { alpha, points }
    }
}

/// One fixed point at one α, placed in the shared PCA space.
#[derive(Clone, Debug, PartialEq)]
pub struct BifurcationPoint {
    pub alpha: f64,
    /// Follows the point along α (see the module's documentation).
    pub id: usize,
    /// Coordinates on the first (up to) three pooled principal axes.
    pub pcs: Vec<f64>,
    pub speed: f64,
    pub stable: bool,
    pub unstable_dims: usize,
    pub max_abs_eigenvalue: f64,
}

/// The step map and constant drive of trained task `from`'s `epoch` (its input, as in
/// `fixed_points.csv`) under c(α) = (1−α) e_from + α e_to.
pub fn map_at(
    config: &Config,
    params: &ParamSet,
    lesioned: &[Pathway],
    epoch: TaskEpoch,
    from: &TaskTrajectories,
    (from_index, to_index): (usize, usize),
    alpha: f64,
) -> (StepMap, DVector<f64>) {
    let k = config.train.tasks.len();
    let map = StepMap::new(config, params, &interpolated_context(k, from_index, to_index, alpha), lesioned);
    let drive = map.drive_with_input(epoch_input(from, epoch));
    (map, drive)
}

/// Fresh starts for the interpolation: `starts` states, half sampled from each task's trajectories.
pub fn fresh_starts(from: &TaskTrajectories, to: &TaskTrajectories, starts: usize) -> Vec<DVector<f64>> {
    let mut fresh = sample_states(from, starts.div_ceil(2));
    fresh.extend(sample_states(to, starts / 2));
    fresh
}

/// A slice's points placed in the PCA space by the rates of `map` (any α: the rates of a state
/// do not depend on the context).
pub fn place(slice: &Slice, map: &StepMap, pca: &Pca) -> Vec<BifurcationPoint> {
    slice
        .points
        .iter()
        .map(|(id, p)| {
            let rates: Vec<f32> = map.rates_of(&p.state).iter().map(|v| *v as f32).collect();
            let coords = pca.project(&rates);
            BifurcationPoint {
                alpha: slice.alpha,
                id: *id,
                pcs: coords.iter().take(3).map(|v| *v as f64).collect(),
                speed: p.speed,
                stable: p.is_stable(),
                unstable_dims: p.unstable_dimensions(),
                max_abs_eigenvalue: p.eigenvalues.first().map_or(0.0, |e| e.norm()),
            }
        })
        .collect()
}

/// The fixed points of trained task `from`'s `epoch` dynamics along c(α) = (1−α) e_from +
/// α e_to, for each α of `alphas`, continued from α to α; fresh starts from [`fresh_starts`].
/// `progress(done, total)` is called after each α.
#[allow(clippy::too_many_arguments)]
pub fn interpolate(
    config: &Config,
    params: &ParamSet,
    lesioned: &[Pathway],
    epoch: TaskEpoch,
    (from, to): (&TaskTrajectories, &TaskTrajectories),
    indices: (usize, usize),
    alphas: &[f64],
    starts: usize,
    pca: &Pca,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<BifurcationPoint> {
    let fresh = fresh_starts(from, to, starts);
    let placer = map_at(config, params, lesioned, epoch, from, indices, 0.0).0;
    let mut done = 0;
    let slices = continue_fixed_points(
        |alpha| map_at(config, params, lesioned, epoch, from, indices, alpha),
        alphas,
        &fresh,
        &FixedPointOptions::default(),
        &mut |_| {
            done += 1;
            progress(done, alphas.len());
        },
    );
    slices.iter().flat_map(|slice| place(slice, &placer, pca)).collect()
}

/// `alpha,point,pc1,pc2,pc3,speed,stable,unstable_dims,max_abs_eigenvalue`.
pub fn bifurcation_csv(points: &[BifurcationPoint]) -> String {
    let mut text = String::from("alpha,point,pc1,pc2,pc3,speed,stable,unstable_dims,max_abs_eigenvalue\n");
    for p in points {
        let pc = |i: usize| p.pcs.get(i).map_or(String::new(), |v| format!("{v:.6}"));
        text.push_str(&format!(
            "{:.4},{},{},{},{},{:.3e},{},{},{:.6}\n",
            p.alpha,
            p.id,
            pc(0),
            pc(1),
            pc(2),
            p.speed,
            p.stable,
            p.unstable_dims,
            p.max_abs_eigenvalue
        ));
    }
    text
}

/// PC1 of every fixed point against α: stable points filled, unstable hollow.
pub fn bifurcation_chart(points: &[BifurcationPoint], from: &str, to: &str) -> LineChart {
    let series = |stable: bool| Series {
        name: if stable { "stable".into() } else { "unstable".into() },
        color: if stable { "#4e79a7".into() } else { "#e15759".into() },
        points: points.iter().filter(|p| p.stable == stable).map(|p| (p.alpha, p.pcs.first().copied().unwrap_or(0.0))).collect(),
        markers_only: true,
        hollow: !stable,
        ..Series::default()
    };
    LineChart {
        title: format!("Fixed points of {from} as the context moves to {to}"),
        x_label: format!("α: context (1−α)·{from} + α·{to}"),
        y_label: "PC1 of the fixed point".into(),
        y_range: None,
        series: vec![series(true), series(false)],
        ..LineChart::default()
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;
    use crate::model::{Activation, StateForm};

    /// One tanh unit r ← (1−a) r + a tanh(2r + b(α)), b(α) = −1 + 2α: a saddle-node pair is born
    /// and dies where |b| = atanh(1/√2) − √2 ≈ 0.5328 (where 2·tanh′ = 1), so there are three
    /// fixed points (two stable) for α in (0.2336, 0.7664) and one stable point elsewhere.
    fn one_unit(alpha: f64) -> (StepMap, DVector<f64>) {
        let b = -1.0 + 2.0 * alpha;
        let map = StepMap {
            alpha: DVector::from_element(1, 0.2),
            activation: Activation::Tanh,
            state_form: StateForm::Rate,
            w: DMatrix::from_element(1, 1, 2.0),
            w_in: DMatrix::zeros(1, 1),
            drive: DVector::from_element(1, b),
            gain: DVector::from_element(1, 1.0),
        };
        let drive = map.drive.clone();
        (map, drive)
    }

    #[test]
    fn a_saddle_node_pair_appears_and_disappears_along_the_interpolation() {
        let fold = (0.5f64.sqrt().atanh() - 2.0f64.sqrt()).abs();
        let alphas = alpha_grid(41);
        let fresh: Vec<DVector<f64>> = (0..9).map(|i| DVector::from_element(1, -1.0 + 0.25 * i as f64)).collect();
        let mut seen = 0;
        let slices = continue_fixed_points(one_unit, &alphas, &fresh, &FixedPointOptions::default(), &mut |_| seen += 1);
        assert_eq!(seen, 41);
        for slice in &slices {
            let b = -1.0 + 2.0 * slice.alpha;
            // keep clear of the fold itself, where the pair is (nearly) one degenerate point
            if (b.abs() - fold).abs() < 0.03 {
                continue;
            }
            let (total, stable) = if b.abs() < fold { (3, 2) } else { (1, 1) };
            assert_eq!(slice.points.len(), total, "α = {}: {:?}", slice.alpha, slice.points);
            assert_eq!(slice.stable_count(), stable, "α = {}", slice.alpha);
            for (_, p) in &slice.points {
                let r = p.state[0];
                assert!((r - (2.0 * r + b).tanh()).abs() < 1e-6);
            }
        }
        // continuation: the low branch starts at α = 0 as point 0 and keeps its id until it dies
        let low = |s: &Slice| s.points.iter().find(|(_, p)| p.state[0] < -0.5).map(|(id, _)| *id);
        assert_eq!(low(&slices[0]), Some(0));
        for slice in slices.iter().filter(|s| -1.0 + 2.0 * s.alpha < -0.6) {
            assert_eq!(low(slice), Some(0), "α = {}", slice.alpha);
        }
        // the high branch is born on the way, so it has a new id, kept to α = 1
        let high = |s: &Slice| s.points.iter().find(|(_, p)| p.state[0] > 0.5).map(|(id, _)| *id);
        let born = high(slices.iter().find(|s| high(s).is_some()).unwrap()).unwrap();
        assert_ne!(born, 0);
        assert_eq!(high(slices.last().unwrap()), Some(born));
    }

    #[test]
    fn the_context_interpolates_between_two_tasks() {
        assert_eq!(interpolated_context(3, 0, 2, 0.25), vec![0.75, 0.0, 0.25]);
        assert_eq!(interpolated_context(2, 1, 0, 0.0), vec![0.0, 1.0]);
        assert_eq!(alpha_grid(5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(alpha_grid(1), vec![0.0]);
    }
}
