//! Experiment A (docs/MODEL.md §4A): performance of frozen trained networks as their context becomes
//! ambiguous, over a list of levels; the table and the figure of `modulab sweep ambiguity`.

use std::collections::BTreeMap;
use std::path::Path;

use super::Stopped;
use crate::analysis::{Ambiguity, AmbiguityKind};
use crate::config::Config;
use crate::figure::{LineChart, Series};
use crate::io::{csv_field, csv_split, csv_table};
use crate::model::{ParamSet, Pathway};
use crate::tasks::Task;
use crate::train::TrainError;
use crate::train::checkpoint;
use crate::train::eval::{EvalOptions, evaluate_params};

/// A trained network loaded from a run directory.
pub struct TrainedRun {
    /// How the run is named in tables (its directory as given).
    pub name: String,
    pub config: Config,
    pub params: ParamSet,
    pub step: u64,
}

impl TrainedRun {
    /// Load `DIR/checkpoint`.
    pub fn load(dir: &Path) -> Result<TrainedRun, checkpoint::CheckpointError> {
        let ckpt = checkpoint::load_run_dir(dir)?;
        Ok(TrainedRun { name: dir.display().to_string(), config: ckpt.config, params: ckpt.params, step: ckpt.step })
    }

    pub fn pathways(&self) -> String {
        Pathway::set_label(&self.config.model.pathways)
    }
}

/// One row of `ambiguity.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct AmbiguityRow {
    pub run: String,
    pub pathways: String,
    pub seed: u64,
    pub kind: AmbiguityKind,
    pub level: f32,
    pub task: Task,
    pub perf: f32,
}

pub const AMBIGUITY_HEADER: &str = "run,pathways,seed,kind,level,task,perf";

impl AmbiguityRow {
    pub fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{:.6}",
            csv_field(&self.run),
            self.pathways,
            self.seed,
            self.kind.name(),
            self.level,
            self.task.name(),
            self.perf
        )
    }
}

/// Evaluate `run` at every level of `kind`. Noise draws a fresh context per trial, so its
/// levels are averaged over `draws` independent draws; the other kinds are deterministic and
/// evaluated once. Every level sees the same trials (common random numbers), so the curve's
/// shape is the ambiguity's effect, not trial-sampling noise. `progress` is called after each
/// level.
pub fn sweep_run(
    run: &TrainedRun,
    kind: AmbiguityKind,
    levels: &[f32],
    trials: Option<usize>,
    draws: usize,
    progress: &mut dyn FnMut(),
) -> Result<Vec<AmbiguityRow>, TrainError> {
    let mut rows = Vec::new();
    for &level in levels {
        let scores = score_level(&run.config, &run.params, run.step, &[], Ambiguity { kind, level }, trials, draws)?;
        rows.extend(scores.into_iter().map(|(task, perf)| AmbiguityRow {
            run: run.name.clone(),
            pathways: run.pathways(),
            seed: run.config.train.seed,
            kind,
            level,
            task,
            perf,
        }));
        progress();
    }
    Ok(rows)
}

/// Random stream of a sweep's first draw (the app's live ambiguity evaluation uses it too, so a
/// sweep level and the slider at that level see the same trials).
pub const SWEEP_STREAM: u64 = 0xA4B1;

/// One level of a sweep: each task's performance at `ambiguity`, with `lesioned` removed. Every
/// sweep scores a level this way — `modulab sweep ambiguity`, the app's sweep of its network and
/// of a compared run — so one network gives one curve wherever it is swept. Noise is averaged
/// over `draws` draws of the context (streams [`SWEEP_STREAM`] + draw); the other kinds are
/// deterministic and scored once.
pub fn score_level(
    config: &Config,
    params: &ParamSet,
    step: u64,
    lesioned: &[Pathway],
    ambiguity: Ambiguity,
    trials: Option<usize>,
    draws: usize,
) -> Result<Vec<(Task, f32)>, TrainError> {
    let draws = if ambiguity.kind == AmbiguityKind::Noise { draws.max(1) } else { 1 };
    let mut sums: Vec<(Task, f64)> = Vec::new();
    for draw in 0..draws {
        let options =
            EvalOptions { trials, ambiguity, lesioned: lesioned.to_vec(), stream: SWEEP_STREAM + draw as u64, ..EvalOptions::default() };
        let eval = evaluate_params(config, params, step, &options)?;
        if sums.is_empty() {
            sums = eval.perf.iter().map(|(t, _)| (*t, 0.0)).collect();
        }
        for ((_, sum), (_, p)) in sums.iter_mut().zip(&eval.perf) {
            *sum += *p as f64;
        }
    }
    Ok(sums.into_iter().map(|(task, sum)| (task, (sum / draws as f64) as f32)).collect())
}

/// Read a table written by [`ambiguity_csv`]; `source` names it in errors.
pub fn parse_ambiguity_csv(text: &str, source: &str) -> Result<Vec<AmbiguityRow>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.trim() == AMBIGUITY_HEADER => {}
        Some((_, header)) => return Err(format!("{source}: unexpected header '{header}', expected '{AMBIGUITY_HEADER}'")),
        None => return Ok(Vec::new()),
    }
    lines
        .map(|(i, line)| {
            let bad = |what: &str| format!("{source} line {}: {what}", i + 1);
            let f = csv_split(line);
            let [run, pathways, seed, kind, level, task, perf] = f.as_slice() else { return Err(bad("expected 7 fields")) };
            Ok(AmbiguityRow {
                run: run.clone(),
                pathways: pathways.clone(),
                seed: seed.parse().map_err(|_| bad("bad seed"))?,
                kind: AmbiguityKind::ALL.into_iter().find(|k| k.name() == kind).ok_or_else(|| bad("unknown ambiguity kind"))?,
                level: level.parse().ok().filter(|l: &f32| l.is_finite()).ok_or_else(|| bad("bad level"))?,
                task: Task::from_name(task).map_err(|e| bad(&e.to_string()))?,
                perf: perf.parse().ok().filter(|p: &f32| p.is_finite()).ok_or_else(|| bad("bad performance"))?,
            })
        })
        .collect()
}

/// The CSV text of a table of rows.
pub fn ambiguity_csv(rows: &[AmbiguityRow]) -> String {
    csv_table(AMBIGUITY_HEADER, rows, AmbiguityRow::csv_line)
}

/// Performance vs level, one line per pathway set: the mean over tasks, averaged over the runs
/// (seeds) of that set, with the band spanning the seeds' minimum to maximum.
pub fn ambiguity_chart(rows: &[AmbiguityRow]) -> LineChart {
    // pathways → level → run → (sum, count) over tasks
    type PerRun<'a> = BTreeMap<&'a str, (f64, usize)>;
    let mut per_set: BTreeMap<&str, BTreeMap<OrderedLevel, PerRun>> = BTreeMap::new();
    for row in rows {
        let entry = per_set
            .entry(row.pathways.as_str())
            .or_default()
            .entry(OrderedLevel(row.level))
            .or_default()
            .entry(row.run.as_str())
            .or_insert((0.0, 0));
        entry.0 += row.perf as f64;
        entry.1 += 1;
    }
    let kind = rows.first().map_or("", |r| r.kind.name());
    let series = per_set
        .into_iter()
        .map(|(set, levels)| {
            let mut series = Series { name: set.to_string(), ..Series::default() };
            let mut seeds = 0;
            for (level, runs) in levels {
                let means: Vec<f64> = runs.values().map(|(sum, n)| sum / *n as f64).collect();
                seeds = seeds.max(means.len());
                let x = level.0 as f64;
                let mean = means.iter().sum::<f64>() / means.len() as f64;
                series.points.push((x, mean));
                let (lo, hi) = means.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), m| (lo.min(*m), hi.max(*m)));
                series.band.push((x, lo, hi));
            }
            if seeds > 1 {
                series.name = format!("{set} ({seeds} seeds)");
            } else {
                series.band.clear();
            }
            series
        })
        .collect();
    LineChart {
        title: format!("Context ambiguity ({kind}) — reconstruction of Vedovati & Ching (2024)"),
        x_label: format!("{kind} level"),
        y_label: "mean task performance".into(),
        y_range: Some((0.0, 1.0)),
        series,
        ..LineChart::default()
    }
}

/// A level usable as a map key (levels are finite: parsed and checked by the caller).
#[derive(Clone, Copy, Debug, PartialEq)]
struct OrderedLevel(f32);
impl Eq for OrderedLevel {}
impl Ord for OrderedLevel {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl PartialOrd for OrderedLevel {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Parse `0,0.1,0.5` into levels; an empty list or a non-finite value is an error.
pub fn parse_levels(text: &str) -> Result<Vec<f32>, String> {
    let levels = text
        .split(',')
        .map(|s| {
            let s = s.trim();
            s.parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("bad ambiguity level '{s}': expected a number, e.g. --levels 0,0.25,0.5"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if levels.is_empty() {
        return Err("--levels needs at least one level".into());
    }
    Ok(levels)
}

/// Trials per task and level in an ambiguity sweep.
pub const SWEEP_TRIALS: usize = 32;

/// An ambiguity sweep: performance per level and task, filled in as it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepResult {
    pub kind: AmbiguityKind,
    /// The step of the network swept (a frozen copy: training goes on meanwhile).
    pub step: u64,
    pub lesioned: Vec<Pathway>,
    pub levels: Vec<f32>,
    pub tasks: Vec<Task>,
    /// perf[level][task]; `None` where not measured yet.
    pub perf: Vec<Vec<Option<f32>>>,
    pub trials: usize,
    /// Set when the sweep ended before every unit was measured.
    pub stopped: Option<Stopped>,
}

impl SweepResult {
    /// (levels × tasks scored, levels × tasks).
    pub fn progress(&self) -> (usize, usize) {
        let done = self.perf.iter().flatten().filter(|p| p.is_some()).count();
        (done, self.levels.len() * self.tasks.len())
    }

    pub fn is_complete(&self) -> bool {
        let (done, total) = self.progress();
        done == total
    }

    /// Still being computed: neither complete nor stopped.
    pub fn is_running(&self) -> bool {
        self.stopped.is_none() && !self.is_complete()
    }

    /// (level, mean, min) over tasks for every level measured for all tasks.
    pub fn summary(&self) -> Vec<(f32, f32, f32)> {
        self.levels
            .iter()
            .zip(&self.perf)
            .filter(|(_, row)| row.iter().all(Option::is_some))
            .map(|(level, row)| {
                let values: Vec<f32> = row.iter().flatten().copied().collect();
                let mean = values.iter().sum::<f32>() / values.len().max(1) as f32;
                let min = values.iter().copied().fold(f32::INFINITY, f32::min);
                (*level, mean, min)
            })
            .collect()
    }
}

/// The app's ambiguity sweep in progress, on a frozen copy of the network, one level (every
/// task) at a time (the app runs it between training steps, `runner/sweep.rs`).
pub struct SweepJob {
    config: Config,
    params: ParamSet,
    /// The next level to score.
    next: usize,
    result: SweepResult,
}

impl SweepJob {
    /// What the sweep measured so far.
    pub fn result(&self) -> &SweepResult {
        &self.result
    }

    /// Record that the sweep ended before every level was scored, and why.
    pub fn stop(&mut self, why: Stopped) {
        self.result.stopped = Some(why);
    }

    /// Score the next level (every task); `Ok(true)` once every level is done.
    pub fn next_level(&mut self) -> Result<bool, TrainError> {
        let r = &mut self.result;
        let ambiguity = Ambiguity { kind: r.kind, level: r.levels[self.next] };
        // one context draw per trial for noise, as a compared run's sweep
        let scores = score_level(&self.config, &self.params, r.step, &r.lesioned, ambiguity, Some(SWEEP_TRIALS), 1)?;
        for (slot, task) in r.perf[self.next].iter_mut().zip(&r.tasks) {
            *slot = scores.iter().find(|(t, _)| t == task).map(|(_, p)| *p);
        }
        self.next += 1;
        Ok(self.next >= r.levels.len())
    }

    /// A sweep of a copy of the network (`step`, scored with `lesioned` off) at the finite
    /// `levels` of `kind`; `None` when no level is finite.
    pub fn new(config: Config, params: ParamSet, step: u64, lesioned: Vec<Pathway>, kind: AmbiguityKind, levels: Vec<f32>) -> Option<Self> {
        let levels: Vec<f32> = levels.into_iter().filter(|l| l.is_finite()).collect();
        if levels.is_empty() {
            return None;
        }
        let tasks = config.train.tasks.clone();
        let result = SweepResult {
            kind,
            step,
            lesioned,
            perf: vec![vec![None; tasks.len()]; levels.len()],
            levels,
            tasks,
            trials: SWEEP_TRIALS,
            stopped: None,
        };
        Some(Self { config, params, next: 0, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: &str, pathways: &str, level: f32, task: Task, perf: f32) -> AmbiguityRow {
        AmbiguityRow { run: run.into(), pathways: pathways.into(), seed: 0, kind: AmbiguityKind::Mixture, level, task, perf }
    }

    #[test]
    fn chart_averages_tasks_then_seeds_and_spans_seeds() {
        let rows = vec![
            row("a", "bias", 0.0, Task::FdGo, 1.0),
            row("a", "bias", 0.0, Task::FdAnti, 0.8),
            row("b", "bias", 0.0, Task::FdGo, 0.6),
            row("b", "bias", 0.0, Task::FdAnti, 0.6),
            row("c", "gain", 0.0, Task::FdGo, 0.5),
            row("c", "gain", 0.0, Task::FdAnti, 0.5),
        ];
        let chart = ambiguity_chart(&rows);
        assert_eq!(chart.series.len(), 2);
        let bias = &chart.series[0];
        assert_eq!(bias.name, "bias (2 seeds)");
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(bias.points[0].1, 0.75)); // run a: (1 + 0.8) / 2 = 0.9, run b: 0.6
        let (x, lo, hi) = bias.band[0];
        assert!(x == 0.0 && close(lo, 0.6) && close(hi, 0.9), "{:?}", bias.band);
        assert!(chart.series[1].band.is_empty(), "one seed: no band");
    }

    #[test]
    fn levels_parse_and_reject_garbage() {
        assert_eq!(parse_levels("0, 0.5,1").unwrap(), vec![0.0, 0.5, 1.0]);
        assert!(parse_levels("0,x").unwrap_err().contains("'x'"));
        assert!(parse_levels("nan").is_err());
    }

    #[test]
    fn the_table_reads_back() {
        let rows = vec![row("runs/a,b", "bias+gain", 0.25, Task::DmsGo, 0.5), row("c", "none", 1.0, Task::FdGo, 0.125)];
        assert_eq!(parse_ambiguity_csv(&ambiguity_csv(&rows), "t.csv").unwrap(), rows);
        assert!(parse_ambiguity_csv("run,x\n", "t.csv").unwrap_err().contains("unexpected header"));
        let broken = format!("{AMBIGUITY_HEADER}\nc,none,0,mixture,0.5,fdgo,abc\n");
        assert!(parse_ambiguity_csv(&broken, "t.csv").unwrap_err().contains("line 2: bad performance"));
    }

    #[test]
    fn csv_quotes_paths_with_commas() {
        let mut r = row("runs/a,b", "bias+gain", 0.25, Task::DmsGo, 0.5);
        r.seed = 3;
        assert_eq!(r.csv_line(), "\"runs/a,b\",bias+gain,3,mixture,0.25,dmsgo,0.500000");
    }
}
