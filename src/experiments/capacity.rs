//! Experiment B inside `modulab reproduce` (docs/MODEL.md §4D): which of its tasks each run
//! holds. A task's *ceiling* is the best mean clear-cue performance any pathway set reaches on it
//! at the study's own (largest) size after the same training; a run holds a task when it reaches
//! [`HELD_FRACTION`] of that ceiling. Judging each task against its own ceiling measures the
//! network, not the task: a decision or matching task that plateaus below 0.9 at this budget
//! even in the largest networks is not counted as lost in every network.

use std::collections::BTreeMap;

use super::reproduce::{Plan, UnitResult};
use crate::analysis::AmbiguityKind;
use crate::io::csv_field;
use crate::tasks::Task;

/// A run holds a task when its clear-cue performance is at least this fraction of the task's ceiling.
pub const HELD_FRACTION: f64 = 0.9;

/// A task's ceiling: the best set's mean over seeds at the study's own size.
#[derive(Clone, Debug, PartialEq)]
pub struct Ceiling {
    pub task: Task,
    pub perf: f64,
    /// The set that reached it.
    pub set: String,
}

impl Ceiling {
    /// The performance a run must reach to hold the task.
    pub fn criterion(&self) -> f64 {
        HELD_FRACTION * self.perf
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
    pub ceiling: f64,
    pub held: bool,
}

pub const PACKING_HEADER: &str = "size,run,pathways,seed,task,perf,ceiling,held";

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

/// Every task's ceiling, in the plan's task order (tasks no run at the study's size measured are left out).
pub fn ceilings(plan: &Plan, results: &[UnitResult]) -> Vec<Ceiling> {
    let size = plan.base.model.n_units;
    let mut sums: BTreeMap<(Task, String), (f64, usize)> = BTreeMap::new();
    for (_, _, set, _, task, perf) in clear_cue(plan, results).into_iter().filter(|r| r.0 == size) {
        let e = sums.entry((task, set)).or_insert((0.0, 0));
        e.0 += perf;
        e.1 += 1;
    }
    plan.base
        .train
        .tasks
        .iter()
        .filter_map(|task| {
            // the first set in the study's order wins a tie
            let mut best: Option<Ceiling> = None;
            for set in &plan.sets {
                let set = set.to_string();
                let Some((sum, n)) = sums.get(&(*task, set.clone())) else { continue };
                let mean = sum / *n as f64;
                if best.as_ref().is_none_or(|b| mean > b.perf) {
                    best = Some(Ceiling { task: *task, perf: mean, set });
                }
            }
            best
        })
        .collect()
}

/// Every task of every run (full and packing runs), judged against its ceiling; by size, run, task.
pub fn rows(plan: &Plan, results: &[UnitResult], ceilings: &[Ceiling]) -> Vec<TaskRow> {
    let mut rows: Vec<TaskRow> = clear_cue(plan, results)
        .into_iter()
        .filter_map(|(size, run, pathways, seed, task, perf)| {
            let ceiling = ceilings.iter().find(|c| c.task == task)?;
            // a task nobody learned (ceiling 0) is held by nobody
            let held = ceiling.perf > 0.0 && perf >= ceiling.criterion();
            Some(TaskRow { size, run, pathways, seed, task, perf, ceiling: ceiling.perf, held })
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
            "{},{},{},{},{},{:.6},{:.6},{}\n",
            r.size,
            csv_field(&r.run),
            r.pathways,
            r.seed,
            r.task.name(),
            r.perf,
            r.ceiling,
            r.held
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::reproduce::{Plan, Scale, Unit};
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
        UnitResult { unit, ambiguity, switching: Vec::new(), dynamics: None }
    }

    #[test]
    fn each_task_is_judged_against_the_best_sets_mean_at_the_study_size() {
        let plan = Plan::new(Scale::Tiny);
        let (go, anti) = (Task::FdGo, Task::FdAnti);
        let results = vec![
            // at the study's size: bias averages 0.9 on fdgo, synaptic 0.6 on fdanti (bias 0.5)
            run("bias", 0, None, &[(go, 1.0), (anti, 0.5)]),
            run("bias", 1, None, &[(go, 0.8), (anti, 0.5)]),
            run("synaptic", 0, None, &[(go, 0.7), (anti, 0.6)]),
            run("synaptic", 1, None, &[(go, 0.7), (anti, 0.6)]),
            // small networks: held at ≥ 0.81 (fdgo) and ≥ 0.54 (fdanti)
            run("bias", 0, Some(8), &[(go, 0.82), (anti, 0.53)]),
            run("synaptic", 0, Some(8), &[(go, 0.2), (anti, 0.55)]),
        ];
        let ceilings = ceilings(&plan, &results);
        assert_eq!(ceilings.len(), 2);
        assert_eq!((ceilings[0].task, ceilings[0].set.as_str()), (go, "bias"));
        assert!((ceilings[0].perf - 0.9).abs() < 1e-6 && (ceilings[1].perf - 0.6).abs() < 1e-6);
        let rows = rows(&plan, &results, &ceilings);
        assert_eq!(rows.len(), 12);
        let capacity = capacity(&rows);
        let small = &capacity[&8];
        assert_eq!((small["bias"][&0], small["synaptic"][&0]), (1.0, 1.0));
        let full = &capacity[&plan.base.model.n_units];
        // bias holds fdgo (1.0, 0.8 < 0.81 for seed 1) but never fdanti; synaptic holds fdanti only
        assert_eq!((full["bias"][&0], full["bias"][&1], full["synaptic"][&0]), (1.0, 0.0, 1.0));
        let text = csv(&rows);
        assert!(text.starts_with(PACKING_HEADER) && text.contains("\n8,bias-n8-seed0,bias,0,fdgo,0.820000,0.900000,true\n"), "{text}");
    }
}
