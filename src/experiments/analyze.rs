//! `modulab analyze` (docs/MODEL.md §4C): the dynamics of one trained network, as tables and figures.
//!
//! Every analysis works on the same noise-free test trials (`trials` per trained task, drawn from
//! a fixed stream so the result depends only on the run and the options):
//! - PCA of the hidden rates pooled over every task, and each task's participation ratio;
//! - principal angles between the tasks' own top-k PCA subspaces;
//! - Yang et al. (2019)'s normalised task variance per unit, units clustered (k-means, silhouette);
//! - fixed and slow points under each task's context and the input of a chosen epoch (stimulus by default);
//! - the spectrum of the effective recurrent connectivity under each task's context.

use nalgebra::DMatrix;

use super::bifurcation;
use super::search_start::{TaskEpoch, epoch_input, sample_states};
use crate::analysis::cluster::cluster_by_silhouette;
use crate::analysis::dynamics::{FixedPoint, FixedPointOptions, StepMap, default_threads, find_fixed_points, parallel_map};
use crate::analysis::{Ambiguity, Covariance, Pca, PcaError};
use crate::config::Config;
use crate::figure::{HeatMaps, HeatPanel, LineChart, Series};
use crate::model::{ParamSet, Pathway};
use crate::tasks::Task;
use crate::train::TrainError;
use crate::train::probe::{ProbeTrials, TaskTrajectories, Trajectories, UnitKinds, run_probe};

/// Separates the analysis trials' random stream from training, evaluation and the app's probes.
const ANALYZE_STREAM: u64 = 0x616e_616c;
/// Principal axes kept from the pooled PCA (for the projections; pca.csv lists every axis).
const POOLED_COMPONENTS: usize = 10;
/// A unit whose summed variance over tasks is below this fraction of the largest unit's is
/// dropped from the task-variance table: it is silent, and normalising it would amplify noise.
pub const NEGLIGIBLE_VARIANCE: f64 = 1e-3;

#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Noise-free test trials per task.
    pub trials: usize,
    /// Initial states of the fixed-point search per task.
    pub fixed_point_starts: usize,
    /// k: each task's subspace is its top-k principal axes.
    pub subspace_dim: usize,
    pub lesioned: Vec<Pathway>,
    /// The task epoch whose input the fixed points are searched under.
    pub epoch: TaskEpoch,
    /// The bifurcation view: (from, to) task indices into `train.tasks` and the number of α
    /// values from 0 to 1 (`bifurcation.csv` and its figure); `None` = not computed.
    pub interpolate: Option<(usize, usize, usize)>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self { trials: 32, fixed_point_starts: 64, subspace_dim: 3, lesioned: Vec::new(), epoch: TaskEpoch::Stimulus, interpolate: None }
    }
}

/// A named CSV table and the figures, ready to be written.
#[derive(Clone, Debug)]
pub struct AnalyzeOutput {
    /// (file name, contents)
    pub tables: Vec<(&'static str, String)>,
    /// (file stem, SVG)
    pub figures: Vec<(&'static str, String)>,
}

/// The number of progress steps [`analyze`] reports: trajectories, PCA, angles, task variance,
/// then fixed points and spectrum once per task, then one per α of the interpolation.
pub fn progress_steps(tasks: usize, options: &AnalyzeOptions) -> u64 {
    4 + 2 * tasks as u64 + options.interpolate.map_or(0, |(_, _, alphas)| alphas as u64)
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("PCA failed: {0}")]
    Pca(#[from] PcaError),
    #[error("{0}")]
    Invalid(String),
}

/// Draw `trials` noise-free trials per trained task and run them through the network.
pub fn trajectories(config: &Config, params: &ParamSet, step: u64, options: &AnalyzeOptions) -> Result<Trajectories, TrainError> {
    let probe = ProbeTrials::draw_from(config, options.trials, ANALYZE_STREAM)?;
    run_probe(config, params, step, &probe, Ambiguity::none(), &options.lesioned)
}

/// Run every analysis. `progress` is called [`progress_steps`] times.
pub fn analyze(
    config: &Config,
    params: &ParamSet,
    step: u64,
    options: &AnalyzeOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<AnalyzeOutput, AnalyzeError> {
    if options.trials == 0 || options.subspace_dim == 0 {
        return Err(AnalyzeError::Invalid("trials and subspace dimension must be at least 1".into()));
    }
    if let Some((from, to, alphas)) = options.interpolate {
        let k = config.train.tasks.len();
        if from >= k || to >= k || from == to || alphas < 2 {
            return Err(AnalyzeError::Invalid(format!(
                "the interpolation needs two different trained tasks (of {k}) and at least 2 values of α"
            )));
        }
    }
    let traj = trajectories(config, params, step, options)?;
    progress("trajectories");
    let n = config.model.n_units;
    let names: Vec<&str> = traj.tasks.iter().map(|t| t.task.name()).collect();

    // 1. pooled PCA and participation ratios
    let mut pooled = Covariance::new(n);
    traj.tasks.iter().for_each(|t| pooled.add_rows(&t.rates));
    let pca = pooled.fit(POOLED_COMPONENTS.min(n))?;
    let subspaces = TaskSubspaces::new(&traj.tasks, n, options.subspace_dim)?;
    let mut tables = vec![("pca.csv", pca_csv(&pca.explained_variance_ratio()))];
    let mut participation = String::from("task,participation_ratio\n");
    for (name, p) in names.iter().zip(&subspaces.participation) {
        participation.push_str(&format!("{name},{p:.6}\n"));
    }
    participation.push_str(&format!("pooled,{:.6}\n", pca.participation_ratio()));
    tables.push(("participation.csv", participation));
    let mut figures = vec![("pca", pca_chart(&pca, &traj.tasks).to_svg())];
    progress("PCA");

    // 2. principal angles between task subspaces
    tables.push(("angles.csv", subspaces.angles_csv(&names)));
    progress("principal angles");

    // 3. normalised task variance
    let variance = TaskVariance::new(&traj.tasks);
    tables.push(("task_variance.csv", variance.csv(&names, &traj.units)));
    figures.push(("task_variance", variance.heat_maps(&names).to_svg()));
    progress("task variance");

    // 4. fixed points and 5. connectivity spectra, per task context
    let k = config.train.tasks.len();
    let fp_options = FixedPointOptions::default();
    let mut fixed = String::from("task,point,speed,stable,unstable_dims,max_abs_eigenvalue,hits,pc1,pc2,pc3\n");
    let mut spectrum = String::from("task,index,re,im,modulus\n");
    let mut scatter = Vec::new();
    for (index, t) in traj.tasks.iter().enumerate() {
        let mut c = vec![0.0f32; k];
        c[index] = 1.0;
        let map = StepMap::new(config, params, &c, &options.lesioned);
        let u = epoch_input(t, options.epoch);
        let drive = map.drive_with_input(u);
        let starts = sample_states(t, options.fixed_point_starts);
        let points = find_fixed_points(&map, &drive, &starts, &fp_options);
        for (i, p) in points.iter().enumerate() {
            fixed.push_str(&fixed_point_line(t.task, i, p, &map, &pca));
        }
        progress("fixed points");
        let eigenvalues = map.connectivity_spectrum();
        for (i, e) in eigenvalues.iter().enumerate() {
            spectrum.push_str(&format!("{},{i},{:.6},{:.6},{:.6}\n", t.task.name(), e.re, e.im, e.norm()));
        }
        scatter.push(Series {
            name: t.task.name().to_string(),
            points: eigenvalues.iter().map(|e| (e.re, e.im)).collect(),
            markers_only: true,
            ..Series::default()
        });
        progress("spectrum");
    }
    tables.push(("fixed_points.csv", fixed));
    tables.push(("spectrum.csv", spectrum));
    let spectra: Vec<&[(f64, f64)]> = scatter.iter().map(|s| s.points.as_slice()).collect();
    let chart = LineChart {
        title: "Effective connectivity eigenvalues per task context".into(),
        note: spectrum_note(&spectra),
        x_label: "Re λ".into(),
        y_label: "Im λ".into(),
        unit_circle: true,
        series: scatter,
        ..LineChart::default()
    };
    figures.push(("spectrum", chart.to_svg()));

    // 6. the bifurcation view along a context interpolation
    if let Some((from, to, alphas)) = options.interpolate {
        let points = bifurcation::interpolate(
            config,
            params,
            &options.lesioned,
            options.epoch,
            (&traj.tasks[from], &traj.tasks[to]),
            (from, to),
            &bifurcation::alpha_grid(alphas),
            options.fixed_point_starts,
            &pca,
            &mut |_, _| progress("bifurcation"),
        );
        tables.push(("bifurcation.csv", bifurcation::bifurcation_csv(&points)));
        figures.push(("bifurcation", bifurcation::bifurcation_chart(&points, names[from], names[to]).to_svg()));
    }
    Ok(AnalyzeOutput { tables, figures })
}

/// The note of a spectrum figure: when every context gives the same eigenvalues (only the bias
/// pathway acts, so W(c) and g(c) do not depend on the context) the tasks' points lie on top of
/// one another, and the reader must be told so; otherwise none.
pub fn spectrum_note<T: PartialEq>(spectra: &[T]) -> String {
    if spectra.len() > 1 && spectra.windows(2).all(|w| w[0] == w[1]) {
        format!(
            "All {} task contexts share one spectrum (only the bias pathway acts: W(c) and g(c) do not depend on the context), so their points overlap",
            spectra.len()
        )
    } else {
        String::new()
    }
}

/// `pc,variance_ratio,cumulative` for every axis.
fn pca_csv(ratios: &[f64]) -> String {
    let mut text = String::from("pc,variance_ratio,cumulative\n");
    let mut cumulative = 0.0;
    for (i, r) in ratios.iter().enumerate() {
        cumulative += r;
        text.push_str(&format!("{},{r:.6},{cumulative:.6}\n", i + 1));
    }
    text
}

/// Each task's trial-averaged trajectory on PC1–PC2 of the pooled fit.
fn pca_chart(pca: &Pca, tasks: &[TaskTrajectories]) -> LineChart {
    let k = pca.n_components();
    let series = tasks
        .iter()
        .map(|t| {
            let projected = pca.project(&t.mean_rates());
            let points = projected.chunks_exact(k).map(|c| (c[0] as f64, c.get(1).copied().unwrap_or(0.0) as f64)).collect();
            Series { name: t.task.name().to_string(), points, ..Series::default() }
        })
        .collect();
    LineChart {
        title: "Mean trajectories on the pooled principal axes".into(),
        x_label: "PC1".into(),
        y_label: "PC2".into(),
        y_range: None,
        series,
        ..LineChart::default()
    }
}

/// The fit's axes as the orthonormal columns of an [N, k] matrix.
fn basis(pca: &Pca) -> DMatrix<f64> {
    DMatrix::from_fn(pca.dim(), pca.n_components(), |i, j| pca.axis(j)[i])
}

/// Principal angles (degrees, smallest first) between the column spaces of two matrices with
/// orthonormal columns: the arc-cosines of the singular values of QaᵀQb.
pub fn principal_angles(qa: &DMatrix<f64>, qb: &DMatrix<f64>) -> Vec<f64> {
    let overlap = qa.transpose() * qb;
    let mut cosines: Vec<f64> = overlap.svd(false, false).singular_values.iter().copied().collect();
    // singular values come unsorted from nalgebra; largest cosine = smallest angle
    cosines.sort_by(|a, b| b.total_cmp(a));
    cosines.iter().map(|c| c.clamp(-1.0, 1.0).acos().to_degrees()).collect()
}

/// Each task's own principal subspace (its top `dim` axes): how many dimensions its activity
/// spans, and how it sits relative to every other task's (the pathway sets differ here).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskSubspaces {
    pub dim: usize,
    /// Participation ratio of each task's states (its whole spectrum).
    pub participation: Vec<f64>,
    /// angles[a][b]: principal angles (degrees, smallest first) between the subspaces of tasks
    /// a and b; empty on the diagonal.
    pub angles: Vec<Vec<Vec<f64>>>,
}

impl TaskSubspaces {
    pub fn new(tasks: &[TaskTrajectories], n: usize, dim: usize) -> Result<Self, PcaError> {
        let dim = dim.min(n);
        // one eigen-decomposition per task: in parallel (each fit is deterministic on its own)
        let pcas = parallel_map(tasks, default_threads(), |t| Pca::fit(&t.rates, n, dim)).into_iter().collect::<Result<Vec<_>, _>>()?;
        let bases: Vec<DMatrix<f64>> = pcas.iter().map(basis).collect();
        let angles = (0..bases.len())
            .map(|a| (0..bases.len()).map(|b| if a == b { Vec::new() } else { principal_angles(&bases[a], &bases[b]) }).collect())
            .collect();
        Ok(Self { dim, participation: pcas.iter().map(Pca::participation_ratio).collect(), angles })
    }

    /// The mean principal angle between tasks a and b (degrees; 0 on the diagonal).
    pub fn mean_angle(&self, a: usize, b: usize) -> f64 {
        let angles = &self.angles[a][b];
        if angles.is_empty() { 0.0 } else { angles.iter().sum::<f64>() / angles.len() as f64 }
    }

    /// `task_a,task_b,angle_1_deg,…`: one row per pair of tasks.
    pub fn angles_csv(&self, names: &[&str]) -> String {
        let k = self.dim;
        let mut text = String::from("task_a,task_b");
        (1..=k).for_each(|i| text.push_str(&format!(",angle_{i}_deg")));
        text.push('\n');
        for a in 0..self.angles.len() {
            for b in a + 1..self.angles.len() {
                text.push_str(&format!("{},{}", names[a], names[b]));
                // a task with fewer than k axes (tiny networks) leaves the missing angles empty
                (0..k).for_each(|i| text.push_str(&self.angles[a][b].get(i).map_or(",".to_string(), |v| format!(",{v:.4}"))));
                text.push('\n');
            }
        }
        text
    }
}

/// Yang et al. (2019)'s task variance: for each unit and task, the variance of the unit's rate
/// over every trial and step of the task; normalised by the unit's largest over tasks; units
/// clustered like theirs (k-means on the normalised rows, k chosen by the silhouette score).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskVariance {
    /// The kept units (summed variance above [`NEGLIGIBLE_VARIANCE`] of the largest), in
    /// display order: cluster by cluster (clusters ordered by the task their centre prefers),
    /// inside a cluster by preferred task, most selective first.
    pub units: Vec<usize>,
    /// normalised[i][t] for kept unit `units[i]`; each row's maximum is 1.
    pub normalised: Vec<Vec<f64>>,
    /// The cluster of each kept unit (numbered in display order, from 0).
    pub clusters: Vec<usize>,
    /// Mean silhouette of that clustering (0 when there is one cluster).
    pub silhouette: f64,
}

/// The task a row of normalised variances (or a cluster centre) peaks at; the first on ties.
fn preferred_task(row: &[f64]) -> usize {
    row.iter().enumerate().fold((0, f64::MIN), |a, (t, &v)| if v > a.1 { (t, v) } else { a }).0
}

/// The largest number of clusters tried (Yang et al. found ~10–15 in 20-task networks).
const MAX_CLUSTERS: usize = 20;

impl TaskVariance {
    pub fn new(tasks: &[TaskTrajectories]) -> Self {
        let n = tasks.first().map_or(0, |t| t.n_units);
        // raw[t][unit]
        let raw: Vec<Vec<f64>> = tasks
            .iter()
            .map(|t| {
                let mut cov = Covariance::new(n.max(1));
                cov.add_rows(&t.rates);
                let m = cov.matrix().unwrap_or_else(|_| vec![0.0; n * n]);
                (0..n).map(|i| m[i * n + i].max(0.0)).collect()
            })
            .collect();
        Self::from_raw(&raw, n)
    }

    /// From raw variances `raw[task][unit]`.
    pub fn from_raw(raw: &[Vec<f64>], n: usize) -> Self {
        let totals: Vec<f64> = (0..n).map(|i| raw.iter().map(|t| t[i]).sum()).collect();
        let largest = totals.iter().copied().fold(0.0, f64::max);
        let kept: Vec<usize> = (0..n).filter(|&i| largest > 0.0 && totals[i] > NEGLIGIBLE_VARIANCE * largest).collect();
        let rows: Vec<Vec<f64>> = kept
            .iter()
            .map(|&i| {
                let max = raw.iter().map(|t| t[i]).fold(0.0, f64::max);
                raw.iter().map(|t| t[i] / max).collect()
            })
            .collect();
        let clustering = cluster_by_silhouette(&rows, 2..=MAX_CLUSTERS, 0);
        // the task a row (or a cluster centre) prefers, and its spread: a unit active in one
        // task only sums to 1, one active in all to K
        let preferred = preferred_task;
        let spread = |row: &[f64]| row.iter().sum::<f64>();
        let mut cluster_order: Vec<usize> = (0..clustering.k()).collect();
        cluster_order.sort_by(|&a, &b| {
            let (ca, cb) = (&clustering.centres[a], &clustering.centres[b]);
            preferred(ca).cmp(&preferred(cb)).then(spread(ca).total_cmp(&spread(cb))).then(a.cmp(&b))
        });
        let mut rank = vec![0; clustering.k()];
        for (position, &c) in cluster_order.iter().enumerate() {
            rank[c] = position;
        }
        let mut order: Vec<usize> = (0..kept.len()).collect();
        // deterministic: cluster, preferred task, most selective, unit index
        order.sort_by(|&a, &b| {
            rank[clustering.labels[a]]
                .cmp(&rank[clustering.labels[b]])
                .then(preferred(&rows[a]).cmp(&preferred(&rows[b])))
                .then(spread(&rows[a]).total_cmp(&spread(&rows[b])))
                .then(kept[a].cmp(&kept[b]))
        });
        Self {
            units: order.iter().map(|&i| kept[i]).collect(),
            normalised: order.iter().map(|&i| rows[i].clone()).collect(),
            clusters: order.iter().map(|&i| rank[clustering.labels[i]]).collect(),
            silhouette: clustering.silhouette,
        }
    }

    /// Number of clusters.
    pub fn cluster_count(&self) -> usize {
        self.clusters.iter().max().map_or(0, |c| c + 1)
    }

    /// `unit,cluster,preferred_task,<one column per task>`, in display order.
    /// The table: unit, cluster, preferred task, then `cell_type` (E or I, under Dale's law) and
    /// `tau_ms` (with per-unit time constants) when the network has them, then one column per task.
    pub fn csv(&self, names: &[&str], kinds: &UnitKinds) -> String {
        let mut text = String::from("unit,cluster,preferred_task");
        if kinds.n_excitatory.is_some() {
            text.push_str(",cell_type");
        }
        if kinds.taus.is_some() {
            text.push_str(",tau_ms");
        }
        names.iter().for_each(|n| text.push_str(&format!(",{n}")));
        text.push('\n');
        for ((unit, row), cluster) in self.units.iter().zip(&self.normalised).zip(&self.clusters) {
            text.push_str(&format!("{unit},{cluster},{}", names[preferred_task(row)]));
            if let Some(excitatory) = kinds.excitatory(*unit) {
                text.push_str(if excitatory { ",E" } else { ",I" });
            }
            if let Some(taus) = &kinds.taus {
                text.push_str(&format!(",{:.2}", taus[*unit]));
            }
            row.iter().for_each(|v| text.push_str(&format!(",{v:.6}")));
            text.push('\n');
        }
        text
    }

    pub fn heat_maps(&self, names: &[&str]) -> HeatMaps {
        HeatMaps {
            title: "Normalised task variance".into(),
            x_label: "task".into(),
            y_label: format!("unit ({} clusters, silhouette {:.2})", self.cluster_count(), self.silhouette),
            col_labels: names.iter().map(|s| s.to_string()).collect(),
            row_labels: self.units.iter().map(|u| u.to_string()).collect(),
            range: (0.0, 1.0),
            colorbar_label: "variance / unit's max".into(),
            panels: vec![HeatPanel {
                title: String::new(),
                values: self.normalised.iter().map(|row| row.iter().map(|v| Some(*v)).collect()).collect(),
            }],
        }
    }
}

fn fixed_point_line(task: Task, index: usize, p: &FixedPoint, map: &StepMap, pca: &Pca) -> String {
    let rates: Vec<f32> = map.rates_of(&p.state).iter().map(|v| *v as f32).collect();
    let coords = pca.project(&rates);
    let pc = |i: usize| coords.get(i).map_or(String::new(), |v| format!("{v:.6}"));
    format!(
        "{},{index},{:.3e},{},{},{:.6},{},{},{},{}\n",
        task.name(),
        p.speed,
        p.is_stable(),
        p.unstable_dimensions(),
        p.eigenvalues.first().map_or(0.0, |e| e.norm()),
        p.hits,
        pc(0),
        pc(1),
        pc(2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spectrum_shared_by_every_context_is_noted() {
        let same = vec![vec![(0.5, 0.0)]; 3];
        assert!(spectrum_note(&same).starts_with("All 3 task contexts share one spectrum"));
        let different = vec![vec![(0.5, 0.0)], vec![(0.6, 0.0)]];
        assert_eq!(spectrum_note(&different), "");
        assert_eq!(spectrum_note(&same[..1]), "", "one context has nothing to share");
    }

    fn columns(n: usize, cols: &[usize]) -> DMatrix<f64> {
        DMatrix::from_fn(n, cols.len(), |i, j| if i == cols[j] { 1.0 } else { 0.0 })
    }

    #[test]
    fn principal_angles_of_identical_and_orthogonal_subspaces() {
        let a = columns(6, &[0, 1, 2]);
        assert!(principal_angles(&a, &a).iter().all(|x| x.abs() < 1e-6));
        let b = columns(6, &[3, 4, 5]);
        assert!(principal_angles(&a, &b).iter().all(|x| (x - 90.0).abs() < 1e-6));
        // one shared axis, rotated within the plane: 0° then 90°
        let c = columns(6, &[1, 4]);
        let angles = principal_angles(&columns(6, &[0, 1]), &c);
        assert!(angles[0].abs() < 1e-6 && (angles[1] - 90.0).abs() < 1e-6, "{angles:?}");
        // a 45° rotation of one axis
        let s = 0.5f64.sqrt();
        let d = DMatrix::from_column_slice(3, 1, &[s, s, 0.0]);
        let e = DMatrix::from_column_slice(3, 1, &[1.0, 0.0, 0.0]);
        assert!((principal_angles(&d, &e)[0] - 45.0).abs() < 1e-6);
    }

    #[test]
    fn task_variance_is_normalised_per_unit_and_drops_silent_units() {
        // 3 tasks × 4 units; unit 3 is silent
        let raw = vec![vec![4.0, 0.5, 1.0, 0.0], vec![2.0, 1.0, 1.0, 0.0], vec![0.0, 0.25, 1.0, 0.0]];
        let tv = TaskVariance::from_raw(&raw, 4);
        let mut units = tv.units.clone();
        units.sort();
        assert_eq!(units, vec![0, 1, 2]);
        for row in &tv.normalised {
            let max = row.iter().copied().fold(0.0, f64::max);
            assert!((max - 1.0).abs() < 1e-12, "{row:?}");
        }
        let unit0 = tv.units.iter().position(|&u| u == 0).unwrap();
        assert_eq!(tv.normalised[unit0], vec![1.0, 0.5, 0.0]);
        let csv = tv.csv(&["a", "b", "c"], &UnitKinds::default());
        assert_eq!(csv.lines().next(), Some("unit,cluster,preferred_task,a,b,c"));
        assert!(csv.contains(&format!("\n0,{},a,1.000000,0.500000,0.000000\n", tv.clusters[unit0])), "{csv}");
    }

    #[test]
    fn units_with_the_same_task_profile_form_one_contiguous_cluster() {
        // 4 tasks × 30 units in three groups: task-0 specialists, task-2/3 units, generalists
        let profiles = [[1.0, 0.05, 0.05, 0.05], [0.05, 0.05, 1.0, 0.9], [1.0, 0.95, 0.9, 1.0]];
        let mut rng = crate::rng::Rng::seed_from(2);
        let group = |u: usize| (u * 7) % 3;
        let raw: Vec<Vec<f64>> =
            (0..4).map(|t| (0..30).map(|u| profiles[group(u)][t] * (2.0 + u as f64 * 0.1) + 0.01 * rng.uniform()).collect()).collect();
        let tv = TaskVariance::from_raw(&raw, 30);
        assert_eq!(tv.cluster_count(), 3, "silhouette {}", tv.silhouette);
        assert!(tv.silhouette > 0.7, "{}", tv.silhouette);
        for (i, &unit) in tv.units.iter().enumerate() {
            // display order = cluster order, and a cluster is exactly one group
            assert!(i == 0 || tv.clusters[i] >= tv.clusters[i - 1]);
            let same: Vec<usize> =
                tv.units.iter().zip(&tv.clusters).filter(|(_, c)| **c == tv.clusters[i]).map(|(u, _)| group(*u)).collect();
            assert!(same.iter().all(|g| *g == group(unit)));
        }
        // clusters ordered by the task their centre prefers: the task-0 groups come before task 2/3
        assert_eq!(group(tv.units[tv.units.len() - 1]), 1);
    }
}
