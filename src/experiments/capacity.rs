//! Experiment B inside `modulab reproduce` (docs/MODEL.md §4D): which of its tasks each run
//! holds. A run holds a task when its clear-cue performance lies at least [`HELD_FRACTION`] of the
//! way from the task's *chance* (what a network that knows nothing scores: always fixating, or
//! answering at random) to its *ceiling* (the best mean any pathway set reaches on it at the
//! study's own, largest size). Judging each task against its own ceiling measures the network,
//! not the task: a task that plateaus low even in the largest networks is not counted as lost in
//! every network; judging from chance keeps a task that scores 0.5 by never answering (the
//! matching tasks) from counting as held. A run's ceiling comes from the *other* seeds' runs
//! (leave one seed out), never from the runs being judged, so the best set is not favoured by
//! its own lucky draws (the winner's curse).

use std::collections::BTreeMap;

use super::packing::score;
use super::reproduce::{Plan, UnitResult};
use crate::analysis::AmbiguityKind;
use crate::io::csv_field;
use crate::tasks::{Task, chance_performance};

/// A run holds a task when its clear-cue performance is at least this fraction of the way from
/// the task's chance to its ceiling.
pub const HELD_FRACTION: f64 = 0.9;

/// What each task is judged against.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskBaseline {
    pub task: Task,
    /// The score of a network that knows nothing ([`chance_performance`]).
    pub chance: f64,
    /// The best set's mean over every seed at the study's size (shown; each run is judged
    /// against the same maximum over the other seeds only).
    pub ceiling: f64,
    /// The set that reached it.
    pub set: String,
    /// The lowest and highest held-out ceiling a seed was judged against.
    pub held_out: (f64, f64),
}

impl TaskBaseline {
    /// The performance a run must reach to hold the task against `ceiling`.
    pub fn criterion(&self, ceiling: f64) -> f64 {
        self.chance + HELD_FRACTION * (ceiling - self.chance)
    }
}

/// One task of one run: a row of `packing.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    pub size: usize,
    pub run: String,
    pub pathways: String,
    pub seed: u64,
    pub task: Task,
    /// Fraction correct with the clear cue.
    pub perf: f64,
    pub chance: f64,
    /// The ceiling from the other seeds' runs.
    pub ceiling: f64,
    /// (perf − chance) / (ceiling − chance).
    pub score: f64,
    pub held: bool,
}

pub const PACKING_HEADER: &str = "size,run,pathways,seed,task,perf,chance,ceiling,score,held";

/// Each run's clear-cue performance per task (the mixture sweep's level 0, which every run of
/// the study measures on the same trials), as (size, run, set, seed, task, perf).
fn clear_cue(plan: &Plan, results: &[UnitResult]) -> Vec<(usize, String, String, u64, Task, f64)> {
    let clean = AmbiguityKind::Mixture.clean_level();
    results
        .iter()
        .flat_map(|r| {
            let size = plan.size_of(&r.unit);
            r.ambiguity
                .iter()
                .filter(move |row| row.kind == AmbiguityKind::Mixture && row.level == clean)
                .map(move |row| (size, row.run.clone(), row.pathways.clone(), row.seed, row.task, row.perf as f64))
        })
        .collect()
}

/// The clear-cue performance of the study-size runs: task → set → seed → perf.
type StudySize = BTreeMap<Task, BTreeMap<String, BTreeMap<u64, f64>>>;

fn study_size(plan: &Plan, results: &[UnitResult]) -> StudySize {
    let size = plan.base.model.n_units;
    let mut out = StudySize::new();
    for (_, _, set, seed, task, perf) in clear_cue(plan, results).into_iter().filter(|r| r.0 == size) {
        out.entry(task).or_default().entry(set).or_default().insert(seed, perf);
    }
    out
}

/// The best set's mean on `task` over the seeds other than `without` (every seed with `None`):
/// (mean, set); the first set in the study's order wins a tie. `None` when no other seed ran.
fn best_mean(plan: &Plan, by_set: &BTreeMap<String, BTreeMap<u64, f64>>, without: Option<u64>) -> Option<(f64, String)> {
    let mut best: Option<(f64, String)> = None;
    for set in plan.sets.iter().map(|s| s.to_string()) {
        let Some(seeds) = by_set.get(&set) else { continue };
        let kept: Vec<f64> = seeds.iter().filter(|(seed, _)| Some(**seed) != without).map(|(_, v)| *v).collect();
        if kept.is_empty() {
            continue;
        }
        let mean = kept.iter().sum::<f64>() / kept.len() as f64;
        if best.as_ref().is_none_or(|(b, _)| mean > *b) {
            best = Some((mean, set));
        }
    }
    best
}

/// Every task's chance and ceiling, in the plan's task order (tasks no run at the study's size
/// measured are left out).
#[allow(clippy::expect_used, reason = "cannot fail: the study's tasks generate")]
pub fn baselines(plan: &Plan, results: &[UnitResult]) -> Vec<TaskBaseline> {
    let study = study_size(plan, results);
    plan.base
        .train
        .tasks
        .iter()
        .filter_map(|task| {
            let by_set = study.get(task)?;
            let (ceiling, set) = best_mean(plan, by_set, None)?;
            let seeds: std::collections::BTreeSet<u64> = by_set.values().flat_map(|s| s.keys().copied()).collect();
            let held_out = seeds
                .iter()
                .filter_map(|seed| best_mean(plan, by_set, Some(*seed)).map(|(c, _)| c))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| (lo.min(c), hi.max(c)));
            let chance = chance_performance(*task, &plan.base.tasks).expect("the study's tasks generate");
            Some(TaskBaseline { task: *task, chance, ceiling, set, held_out })
        })
        .collect()
}

/// Every task of every run (full and packing runs), judged against its chance and the ceiling
/// of the other seeds; by size, run, task. A run whose seed is the only one measured at the
/// study's size has no held-out ceiling and is left out.
pub fn rows(plan: &Plan, results: &[UnitResult], baselines: &[TaskBaseline]) -> Vec<TaskRow> {
    let study = study_size(plan, results);
    let mut rows: Vec<TaskRow> = clear_cue(plan, results)
        .into_iter()
        .filter_map(|(size, run, pathways, seed, task, perf)| {
            let baseline = baselines.iter().find(|b| b.task == task)?;
            let (ceiling, _) = best_mean(plan, study.get(&task)?, Some(seed))?;
            let chance = baseline.chance;
            let score = score(perf, chance, ceiling);
            // a task no set learned above chance is held by nobody (its score is 0)
            let held = ceiling > chance && score >= HELD_FRACTION;
            Some(TaskRow { size, run, pathways, seed, task, perf, chance, ceiling, score, held })
        })
        .collect();
    let order = |t: &Task| plan.base.train.tasks.iter().position(|u| u == t);
    rows.sort_by(|a, b| (a.size, &a.run, order(&a.task)).cmp(&(b.size, &b.run, order(&b.task))));
    rows
}

/// How many tasks each run holds: size → set → seed → count.
pub fn capacity(rows: &[TaskRow]) -> BTreeMap<usize, BTreeMap<String, BTreeMap<u64, f64>>> {
    let mut out: BTreeMap<usize, BTreeMap<String, BTreeMap<u64, f64>>> = BTreeMap::new();
    for row in rows {
        *out.entry(row.size).or_default().entry(row.pathways.clone()).or_default().entry(row.seed).or_insert(0.0) +=
            if row.held { 1.0 } else { 0.0 };
    }
    out
}

pub fn csv(rows: &[TaskRow]) -> String {
    let mut text = format!("{PACKING_HEADER}\n");
    for r in rows {
        text.push_str(&format!(
            "{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{}\n",
            r.size,
            csv_field(&r.run),
            r.pathways,
            r.seed,
            r.task.name(),
            r.perf,
            r.chance,
            r.ceiling,
            r.score,
            r.held
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::reproduce::{Plan, Scale, TrainingRow, Unit};
    use crate::experiments::sweep::AmbiguityRow;

    /// A run of `set` and `seed` (at `size` units, `None` = the study's) with these clear-cue scores.
    fn run(set: &str, seed: u64, size: Option<usize>, perfs: &[(Task, f32)]) -> UnitResult {
        let unit = Unit { set: set.parse().unwrap(), seed, packing_size: size };
        let ambiguity = perfs
            .iter()
            .flat_map(|(task, perf)| {
                // an ambiguous level too: only the clear cue counts
                [(0.0, *perf), (0.5, 0.0)].map(|(level, perf)| AmbiguityRow {
                    run: unit.name(),
                    pathways: set.into(),
                    seed,
                    kind: AmbiguityKind::Mixture,
                    level,
                    task: *task,
                    perf,
                })
            })
            .collect();
        let training = TrainingRow { run: unit.name(), pathways: set.into(), seed, size: size.unwrap_or(16), steps: 30, plateau: false };
        UnitResult { unit, training, ambiguity, switching: Vec::new(), dynamics: None }
    }

    #[test]
    fn each_task_is_judged_from_chance_against_the_other_seeds_best_mean() {
        let plan = Plan::new(Scale::Tiny);
        let (go, anti) = (Task::FdGo, Task::FdAnti);
        let results = vec![
            // at the study's size: bias 1.0 / 0.8 on fdgo (mean 0.9), synaptic 0.6 on fdanti in both seeds
            run("bias", 0, None, &[(go, 1.0), (anti, 0.5)]),
            run("bias", 1, None, &[(go, 0.8), (anti, 0.5)]),
            run("synaptic", 0, None, &[(go, 0.7), (anti, 0.6)]),
            run("synaptic", 1, None, &[(go, 0.7), (anti, 0.6)]),
            // a small network of seed 0: judged against seed 1's best (fdgo 0.8, fdanti 0.6)
            run("bias", 0, Some(8), &[(go, 0.75), (anti, 0.55)]),
            run("synaptic", 0, Some(8), &[(go, 0.2), (anti, 0.59)]),
        ];
        let baselines = baselines(&plan, &results);
        assert_eq!(baselines.len(), 2);
        let (bgo, banti) = (&baselines[0], &baselines[1]);
        assert_eq!((bgo.task, bgo.set.as_str()), (go, "bias"));
        assert!((bgo.ceiling - 0.9).abs() < 1e-6 && (banti.ceiling - 0.6).abs() < 1e-6);
        // held-out ceilings of fdgo: without seed 0 → 0.8 (bias), without seed 1 → 1.0
        assert!((bgo.held_out.0 - 0.8).abs() < 1e-6 && (bgo.held_out.1 - 1.0).abs() < 1e-6, "{bgo:?}");
        // chance: fdgo 0.2 (a random direction), fdanti too
        assert!((bgo.chance - 0.2).abs() < 0.02 && (banti.chance - 0.2).abs() < 0.02, "{baselines:?}");
        let rows = rows(&plan, &results, &baselines);
        assert_eq!(rows.len(), 12);
        let row = |run: &str, task| rows.iter().find(|r| r.run == run && r.task == task).unwrap();
        // seed 0 at N = 8: fdgo 0.75 vs held-out ceiling 0.8: score (0.75 − c)/(0.8 − c) ≈ 0.92 → held
        let small = row("bias-n8-seed0", go);
        assert!((small.ceiling - 0.8).abs() < 1e-6 && small.held, "{small:?}");
        assert!((small.score - (0.75 - small.chance) / (0.8 - small.chance)).abs() < 1e-6);
        // the study-size bias seed 0 scores 1.0 against seed 1's 0.8: above its ceiling, held
        assert!(row("bias-seed0", go).held && row("bias-seed0", go).score > 1.0);
        // bias seed 1 (0.8) against seed 0's best (1.0): (0.8 − 0.2)/(1.0 − 0.2) = 0.75 → not held
        assert!(!row("bias-seed1", go).held);
        let capacity = capacity(&rows);
        let small = &capacity[&8];
        assert_eq!((small["bias"][&0], small["synaptic"][&0]), (1.0, 1.0));
        let full = &capacity[&plan.base.model.n_units];
        assert_eq!((full["bias"][&0], full["bias"][&1], full["synaptic"][&0]), (1.0, 0.0, 1.0));
        let text = csv(&rows);
        assert!(text.starts_with(PACKING_HEADER) && text.contains("\n8,bias-n8-seed0,bias,0,fdgo,0.750000,"), "{text}");
    }
}
