//! `modulab analyze`: PCA, subspace angles, task variance, fixed points and connectivity spectra
//! of one trained run (docs/MODEL.md §4C), and its task-switch transients (docs/MODEL.md §2 time scales).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::UsageError;
use crate::config::Config;
use crate::experiments::analyze::{self, AnalyzeOptions};
use crate::experiments::search_start::TaskEpoch;
use crate::experiments::sweep::TrainedRun;
use crate::experiments::switching::{self, SwitchJob, SwitchSpec};
use crate::figure;
use crate::io::write_atomic;
use crate::model::Pathway;
use crate::tasks::Task;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// A run directory written by `modulab train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Output directory.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// Noise-free test trials per task.
    #[arg(long, default_value_t = 32)]
    pub trials: usize,
    /// Initial states of the fixed-point search per task (the search dominates the run time).
    #[arg(long = "fixed-point-starts", default_value_t = 64)]
    pub fixed_point_starts: usize,
    /// k: the principal angles compare each task's top-k principal axes.
    #[arg(long = "subspace-dim", default_value_t = 3)]
    pub subspace_dim: usize,
    /// Analyse with this pathway lesioned (bias, gain or synaptic). Repeatable.
    #[arg(long = "lesion", value_name = "PATHWAY")]
    pub lesion: Vec<String>,
    /// Task-switch trials: trials of task TO whose context is FROM's until the switch (task
    /// names; FROM = TO is the no-switch control). Default: the first two trained tasks.
    #[arg(long = "switch", value_name = "FROM:TO")]
    pub switch: Option<String>,
    /// Context time constants τ (ms, comma-separated) swept for each pathway of the run.
    #[arg(long, value_name = "MS,...", default_value = "0,20,50,100,200,500")]
    pub taus: String,
    /// Switch trials per (pathway, τ).
    #[arg(long = "switch-trials", default_value_t = switching::DEFAULT_TRIALS)]
    pub switch_trials: usize,
    /// The switch comes this many ms after the first stimulus onset.
    #[arg(long = "switch-after-ms", default_value_t = 0.0)]
    pub switch_after_ms: f32,
    /// The task epoch whose input the fixed points (and the bifurcation view) are searched
    /// under: fixation, stimulus, delay or response (a task without that epoch uses its trial's
    /// middle step).
    #[arg(long, default_value = "stimulus", value_parser = parse_epoch)]
    pub epoch: TaskEpoch,
    /// The bifurcation view: fixed points of task FROM's dynamics (under its --epoch input) as the context
    /// moves from FROM to TO, c(α) = (1−α)·e_FROM + α·e_TO (two trained task names, e.g.
    /// `dm1:dm2`); writes bifurcation.csv and bifurcation.png/svg.
    #[arg(long, value_name = "FROM:TO")]
    pub interpolate: Option<String>,
    /// Values of α from 0 to 1 along the interpolation (at least 2).
    #[arg(long, default_value_t = 21)]
    pub alphas: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The switch test `--switch`, `--taus`, `--switch-trials` and `--switch-after-ms` ask for, or
/// `None` (with the reason) when the run has nothing to switch.
fn switch_request(args: &AnalyzeArgs, config: &Config) -> Result<Result<(SwitchSpec, Vec<f32>), &'static str>, UsageError> {
    let taus = switching::parse_taus(&args.taus).map_err(|e| UsageError(format!("--taus: {e}")))?;
    if args.switch_trials == 0 {
        return Err(UsageError("--switch-trials must be at least 1".into()));
    }
    if !(args.switch_after_ms.is_finite() && args.switch_after_ms >= 0.0) {
        return Err(UsageError("--switch-after-ms must be ≥ 0".into()));
    }
    let mut spec = SwitchSpec::default_for(config);
    spec.trials = args.switch_trials;
    spec.switch_after_onset_ms = args.switch_after_ms;
    match &args.switch {
        Some(text) => {
            let (from, to) =
                text.split_once(':').ok_or_else(|| UsageError(format!("--switch '{text}': expected FROM:TO, e.g. fdgo:fdanti")))?;
            let task = |name: &str| Task::from_name(name).map_err(|e| UsageError(format!("--switch: {e}")));
            (spec.from, spec.to) = (task(from)?, task(to)?);
        }
        None if config.train.tasks.len() < 2 => return Ok(Err("the run trained one task: give --switch FROM:TO to test a switch")),
        None => {}
    }
    if config.model.pathways.is_empty() {
        return Ok(Err("the run has no context pathway, so a context switch changes nothing"));
    }
    Ok(Ok((spec, taus)))
}

#[allow(clippy::expect_used, reason = "cannot fail: the progress bar template is a constant")]
pub fn run(args: AnalyzeArgs) -> Result<()> {
    if args.trials == 0 {
        return Err(UsageError("--trials must be at least 1".into()).into());
    }
    if args.subspace_dim == 0 {
        return Err(UsageError("--subspace-dim must be at least 1".into()).into());
    }
    let lesioned =
        args.lesion.iter().map(|l| Pathway::from_name(l).map_err(|e| UsageError(e.to_string()))).collect::<Result<Vec<_>, _>>()?;
    let run = TrainedRun::load(&args.run).with_context(|| format!("cannot load run {}", args.run.display()))?;
    let switch = switch_request(&args, &run.config)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create output directory {}", args.out.display()))?;
    let interpolate = match &args.interpolate {
        None => None,
        Some(text) => {
            let (from, to) = parse_interpolation(text, &run.config.train.tasks).map_err(UsageError)?;
            if args.alphas < 2 {
                return Err(UsageError("--alphas must be at least 2".into()).into());
            }
            Some((from, to, args.alphas))
        }
    };
    let options = AnalyzeOptions {
        trials: args.trials,
        fixed_point_starts: args.fixed_point_starts,
        subspace_dim: args.subspace_dim,
        lesioned,
        epoch: args.epoch,
        interpolate,
    };
    // a switch test's job is built (and its request checked) before the long analyses start
    let (switch_job, switch_note) = match switch {
        Ok((spec, taus)) => {
            let job = SwitchJob::new(run.config.clone(), run.params.clone(), run.step, &spec, taus, None)
                .map_err(|e| UsageError(format!("--switch: {e}")))?;
            (Some(job), None)
        }
        Err(reason) => (None, Some(reason)),
    };
    let switch_units = switch_job.as_ref().map_or(0, |job| job.result.progress().1 as u64);
    let steps = analyze::progress_steps(run.config.train.tasks.len(), &options) + switch_units;
    let progress = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(steps) };
    progress.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}").expect("valid template"),
    );
    let output = analyze::analyze(&run.config, &run.params, run.step, &options, &mut |what| {
        progress.set_message(what.to_string());
        progress.inc(1);
    })?;
    let mut tables: Vec<(String, String)> = output.tables.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
    let mut figures: Vec<(String, String)> = output.figures.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
    if let Some(job) = switch_job {
        let result = job.run_all(&mut || {
            progress.set_message("task switching");
            progress.inc(1);
        });
        tables.push(("switching.csv".into(), result.switching_csv()));
        tables.push(("transient.csv".into(), result.transient_csv()));
        figures.extend(result.figures());
    }
    progress.finish_and_clear();
    let mut written = Vec::new();
    for (name, text) in &tables {
        let path = args.out.join(name);
        write_atomic(&path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(name.to_string());
    }
    for (stem, svg) in &figures {
        figure::write_figure(&args.out, stem, svg)?;
        written.push(format!("{stem}.png, {stem}.svg"));
    }
    println!("analysed {} (step {}); wrote {} in {}", run.name, run.step, written.join(", "), args.out.display());
    if let Some(reason) = switch_note {
        println!("no task-switch test: {reason}");
    }
    Ok(())
}

fn parse_epoch(text: &str) -> Result<TaskEpoch, String> {
    text.parse().map_err(|e: crate::experiments::search_start::UnknownEpoch| e.to_string())
}

/// `FROM:TO` as indices into the run's trained tasks.
fn parse_interpolation(text: &str, tasks: &[Task]) -> Result<(usize, usize), String> {
    let (from, to) = text.split_once(':').ok_or_else(|| format!("--interpolate wants FROM:TO (two task names), got {text:?}"))?;
    let index = |name: &str| {
        let task = Task::from_name(name.trim()).map_err(|e| e.to_string())?;
        tasks.iter().position(|t| *t == task).ok_or_else(|| {
            let trained: Vec<&str> = tasks.iter().map(|t| t.name()).collect();
            format!("task {name:?} was not trained in this run (trained: {})", trained.join(", "))
        })
    };
    let (from, to) = (index(from)?, index(to)?);
    if from == to {
        return Err("--interpolate needs two different tasks".into());
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_names_two_trained_tasks() {
        let tasks = [Task::FdGo, Task::DelayGo, Task::Dm1];
        assert_eq!(parse_interpolation("fdgo:dm1", &tasks), Ok((0, 2)));
        assert!(parse_interpolation("fdgo", &tasks).unwrap_err().contains("FROM:TO"));
        assert!(parse_interpolation("fdgo:fdgo", &tasks).unwrap_err().contains("different"));
        assert!(parse_interpolation("fdgo:dm2", &tasks).unwrap_err().contains("not trained"));
        assert!(parse_interpolation("fdgo:nonsense", &tasks).is_err());
    }
}
