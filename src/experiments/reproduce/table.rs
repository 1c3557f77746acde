//! Each run's result files: written by its run, read back to resume and for the report.

use std::path::{Path, PathBuf};

use crate::experiments::sweep::{self};
use crate::io::{csv_field, csv_split, csv_table};
use crate::model::Pathway;
use crate::tasks::Task;

use super::*;

/// A run's dynamics summary: one row of `dynamics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicsRow {
    pub run: String,
    pub pathways: String,
    pub seed: u64,
    /// Mean over tasks of each task's participation ratio (its states' effective dimension).
    pub participation_ratio: f64,
    /// Mean over pairs of tasks of the mean principal angle between their top-3 subspaces (degrees).
    pub subspace_angle_deg: f64,
    /// Mean over task contexts of the spectral radius of the effective connectivity diag(g(c))
    /// W(c): a description of the weights, not of the dynamics (one value for every task when
    /// only bias acts).
    pub spectral_radius: f64,
    /// Its largest minus smallest value over task contexts (0 by construction for bias alone).
    pub spectral_spread: f64,
    /// Mean over tasks of the Jacobian's spectral radius along the task's own trajectories
    /// ([`trajectory_radii`]): how close to marginal the dynamics each task runs on are.
    pub jacobian_radius: f64,
    /// Its largest minus smallest value over tasks: how different the tasks' dynamics are (any
    /// pathway, bias included, can move it).
    pub jacobian_spread: f64,
    /// Fixed points (q ≤ 10⁻¹⁰) per task context under its stimulus input, from the study's
    /// starts, on average.
    pub fixed_points: f64,
    /// Slow points ([`slow_point_tolerance`]) per task context, from the same starts.
    pub slow_points: f64,
    /// The same two counts from twice as many starts (the first half being the starts above).
    pub fixed_points_2x: f64,
    pub slow_points_2x: f64,
    /// The fraction of the fixed points that are stable (0 when none was found).
    pub stable_fraction: f64,
}

pub const DYNAMICS_HEADER: &str = "run,pathways,seed,participation_ratio,subspace_angle_deg,spectral_radius,spectral_spread,\
jacobian_radius,jacobian_spread,fixed_points,slow_points,fixed_points_2x,slow_points_2x,stable_fraction";

impl DynamicsRow {
    pub fn csv_line(&self) -> String {
        let values = [
            self.participation_ratio,
            self.subspace_angle_deg,
            self.spectral_radius,
            self.spectral_spread,
            self.jacobian_radius,
            self.jacobian_spread,
            self.fixed_points,
            self.slow_points,
            self.fixed_points_2x,
            self.slow_points_2x,
            self.stable_fraction,
        ];
        let values: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
        format!("{},{},{},{}", csv_field(&self.run), self.pathways, self.seed, values.join(","))
    }

    fn parse(line: &str) -> Result<DynamicsRow, String> {
        let f = csv_split(line);
        let [run, pathways, seed, values @ ..] = f.as_slice() else { return Err("expected 14 fields".into()) };
        let names = [
            "participation ratio",
            "angle",
            "spectral radius",
            "spectral spread",
            "Jacobian radius",
            "Jacobian spread",
            "fixed-point count",
            "slow-point count",
            "fixed-point count (2×)",
            "slow-point count (2×)",
            "stable fraction",
        ];
        if values.len() != names.len() {
            return Err(format!("expected {} fields", 3 + names.len()));
        }
        let v = values.iter().zip(names).map(|(v, name)| finite(v, name)).collect::<Result<Vec<f64>, String>>()?;
        Ok(DynamicsRow {
            run: run.clone(),
            pathways: pathways.clone(),
            seed: seed.parse().map_err(|_| format!("bad seed '{seed}'"))?,
            participation_ratio: v[0],
            subspace_angle_deg: v[1],
            spectral_radius: v[2],
            spectral_spread: v[3],
            jacobian_radius: v[4],
            jacobian_spread: v[5],
            fixed_points: v[6],
            slow_points: v[7],
            fixed_points_2x: v[8],
            slow_points_2x: v[9],
            stable_fraction: v[10],
        })
    }
}

/// Read `dynamics.csv` (header and rows).
pub fn parse_dynamics_csv(text: &str, source: &str) -> Result<Vec<DynamicsRow>, ReproduceError> {
    parse_table(text, source, DYNAMICS_HEADER, DynamicsRow::parse)
}

/// The rows of a table with this header, each read by `parse`; errors name the file and line.
fn parse_table<T>(text: &str, source: &str, header: &str, parse: fn(&str) -> Result<T, String>) -> Result<Vec<T>, ReproduceError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, first)) if first.trim() == header => {}
        _ => return Err(ReproduceError::Table(format!("{source}: expected the header '{header}'"))),
    }
    lines.map(|(i, line)| parse(line).map_err(|e| ReproduceError::Table(format!("{source} line {}: {e}", i + 1)))).collect()
}

/// A finite number, or what is wrong with it.
fn finite(s: &str, what: &str) -> Result<f64, String> {
    s.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or(format!("bad {what} '{s}'"))
}

pub fn dynamics_csv(rows: &[DynamicsRow]) -> String {
    csv_table(DYNAMICS_HEADER, rows, DynamicsRow::csv_line)
}

/// A run's task-switch test at one time constant of one pathway: one row of `switching.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchRow {
    pub run: String,
    pub pathways: String,
    pub seed: u64,
    /// The switch: the context before (task name) and the trials' task.
    pub from: String,
    pub to: String,
    /// The pathway slowed (the run's other pathways follow the context at once).
    pub pathway: Pathway,
    pub tau_ms: f32,
    /// Fraction of switched trials answered correctly.
    pub perf: f64,
    /// Mean normalised distance from the unswitched trajectory after the switch.
    pub transient: f64,
}

pub const SWITCH_HEADER: &str = "run,pathways,seed,from,to,pathway,tau_ms,perf,transient";

impl SwitchRow {
    fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{:.6},{:.6}",
            csv_field(&self.run),
            self.pathways,
            self.seed,
            self.from,
            self.to,
            self.pathway.name(),
            self.tau_ms,
            self.perf,
            self.transient
        )
    }

    fn parse(line: &str) -> Result<SwitchRow, String> {
        let f = csv_split(line);
        let [run, pathways, seed, from, to, pathway, tau, perf, transient] = f.as_slice() else {
            return Err("expected 9 fields".into());
        };
        Ok(SwitchRow {
            run: run.clone(),
            pathways: pathways.clone(),
            seed: seed.parse().map_err(|_| format!("bad seed '{seed}'"))?,
            from: Task::from_name(from).map_err(|e| e.to_string())?.name().to_string(),
            to: Task::from_name(to).map_err(|e| e.to_string())?.name().to_string(),
            pathway: Pathway::from_name(pathway).map_err(|e| e.to_string())?,
            tau_ms: finite(tau, "τ")? as f32,
            perf: finite(perf, "performance")?,
            transient: finite(transient, "transient")?,
        })
    }
}

pub fn switching_csv(rows: &[SwitchRow]) -> String {
    csv_table(SWITCH_HEADER, rows, SwitchRow::csv_line)
}

pub fn parse_switching_csv(text: &str, source: &str) -> Result<Vec<SwitchRow>, ReproduceError> {
    parse_table(text, source, SWITCH_HEADER, SwitchRow::parse)
}

/// How a run trained: one row of `training.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingRow {
    pub run: String,
    pub pathways: String,
    pub seed: u64,
    pub size: usize,
    /// Steps trained.
    pub steps: u64,
    /// Stopped by the plateau rule (else the step cap was reached).
    pub plateau: bool,
}

pub const TRAINING_HEADER: &str = "run,pathways,seed,size,steps,plateau";

impl TrainingRow {
    fn csv_line(&self) -> String {
        format!("{},{},{},{},{},{}", csv_field(&self.run), self.pathways, self.seed, self.size, self.steps, self.plateau)
    }

    fn parse(line: &str) -> Result<TrainingRow, String> {
        let f = csv_split(line);
        let [run, pathways, seed, size, steps, plateau] = f.as_slice() else { return Err("expected 6 fields".into()) };
        Ok(TrainingRow {
            run: run.clone(),
            pathways: pathways.clone(),
            seed: seed.parse().map_err(|_| format!("bad seed '{seed}'"))?,
            size: size.parse().map_err(|_| format!("bad size '{size}'"))?,
            steps: steps.parse().map_err(|_| format!("bad steps '{steps}'"))?,
            plateau: plateau.parse().map_err(|_| format!("bad plateau '{plateau}': true or false"))?,
        })
    }
}

pub fn training_csv(rows: &[TrainingRow]) -> String {
    csv_table(TRAINING_HEADER, rows, TrainingRow::csv_line)
}

pub fn parse_training_csv(text: &str, source: &str) -> Result<Vec<TrainingRow>, ReproduceError> {
    parse_table(text, source, TRAINING_HEADER, TrainingRow::parse)
}

/// The directory of `unit`'s run under `out`.
pub fn unit_dir(out: &Path, unit: &Unit) -> PathBuf {
    out.join("runs").join(unit.name())
}

/// The results of `unit` if it finished earlier (its `dynamics.csv`, or a packing run's
/// `clear-cue.csv`, is the last file written).
pub fn load_finished(out: &Path, unit: &Unit) -> Result<Option<UnitResult>, ReproduceError> {
    let dir = unit_dir(out, unit);
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let source = |name: &str| dir.join(name).display().to_string();
    let training = |text: String| -> Result<TrainingRow, ReproduceError> {
        let rows = parse_training_csv(&text, &source(TRAINING_FILE))?;
        rows.into_iter().next().ok_or_else(|| ReproduceError::Table(format!("{} has no row", source(TRAINING_FILE))))
    };
    if unit.packing_size.is_some() {
        let Ok(clear) = read(CLEAR_CUE_FILE) else { return Ok(None) };
        let ambiguity = sweep::parse_ambiguity_csv(&clear, &source(CLEAR_CUE_FILE)).map_err(ReproduceError::Table)?;
        let training =
            training(read(TRAINING_FILE).map_err(|e| ReproduceError::Table(format!("cannot read {}: {e}", source(TRAINING_FILE))))?)?;
        return Ok(Some(UnitResult { unit: unit.clone(), training, ambiguity, switching: Vec::new(), dynamics: None }));
    }
    let Ok(dynamics) = read(DYNAMICS_FILE) else { return Ok(None) };
    let dynamics = parse_dynamics_csv(&dynamics, &source(DYNAMICS_FILE))?;
    let dynamics = dynamics.into_iter().next().ok_or_else(|| ReproduceError::Table(format!("{} has no row", source(DYNAMICS_FILE))))?;
    let ambiguity = read(AMBIGUITY_FILE).map_err(|e| ReproduceError::Table(format!("cannot read {}: {e}", source(AMBIGUITY_FILE))))?;
    let ambiguity = sweep::parse_ambiguity_csv(&ambiguity, &source(AMBIGUITY_FILE)).map_err(ReproduceError::Table)?;
    // a run finished before the switch test joined the study is measured again (not retrained)
    let Ok(switching) = read(SWITCHING_FILE) else { return Ok(None) };
    let switching = parse_switching_csv(&switching, &source(SWITCHING_FILE))?;
    let training =
        training(read(TRAINING_FILE).map_err(|e| ReproduceError::Table(format!("cannot read {}: {e}", source(TRAINING_FILE))))?)?;
    Ok(Some(UnitResult { unit: unit.clone(), training, ambiguity, switching, dynamics: Some(dynamics) }))
}
