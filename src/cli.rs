//! The `modulab` command line: the same engine as the app, headless, for scripts and clusters.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::analysis::Ambiguity;
use crate::config::{self, BackendKind, Config, ConfigError};
use crate::io::write_atomic;
use crate::model::Pathway;
use crate::rng::Rng;
use crate::tasks::{self, Task};
use crate::train::checkpoint;
use crate::train::eval::{EvalOptions, Evaluation, evaluate_params};
use crate::train::metrics::{self, METRICS_FILE, MetricsRow};
use crate::train::{self, ProgressSink, RunEnd, StepReport, Trainer};

mod analyze;
mod drive;
mod exchange;
mod reproduce;
mod sweep;
pub use analyze::AnalyzeArgs;
pub use sweep::{PackingArgs, SweepCommand};

/// modulab: watch a recurrent network learn many tasks at once, and how neuromodulation
/// (neuronal excitability and synaptic strength) lets one network hold them.
/// A reconstruction of Vedovati & Ching (2024).
#[derive(Parser, Debug)]
#[command(name = "modulab", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a network and write config.toml, metrics.csv and checkpoint/ into --out.
    Train(TrainArgs),
    /// Evaluate a trained run, optionally under context ambiguity or with pathways lesioned.
    Eval(EvalArgs),
    /// The task battery: list the tasks or print sample trials.
    Tasks {
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// List the shipped presets, one line each.
    Presets,
    /// Experiments over many networks: ambiguity sweeps, task packing, cluster shards.
    Sweep {
        #[command(subcommand)]
        command: SweepCommand,
    },
    /// Analyse one trained run's dynamics (docs/MODEL.md §4C): PCA, subspace angles, task variance,
    /// fixed points and connectivity spectra, as CSV tables and figures in --out.
    Analyze(AnalyzeArgs),
    /// Answer the paper's questions with statistics: train every pathway set with several seeds,
    /// sweep every kind of context ambiguity, measure the dynamics, and write report.html and
    /// report.md (mean ± 95 % interval, paired tests against bias) with figures and tables.
    Reproduce(reproduce::ReproduceArgs),
    /// Write a trained network (every parameter, the configuration, optionally the probe trials'
    /// activity) to a NumPy .npz or .safetensors file for Python (docs/EXCHANGE.md).
    Export(exchange::ExportArgs),
    /// Make a run directory of a network trained elsewhere (an .npz or .safetensors file with the
    /// documented keys), for eval, analyze, sweep and the app (docs/EXCHANGE.md).
    Import(exchange::ImportArgs),
    /// Open the desktop app (also what `modulab` with no command does).
    Gui(GuiArgs),
    /// Open the desktop app on a lesson file (*.modulab.toml): its settings, tab and steps, with
    /// Back / Next in a side panel (also File → Open lesson… in the app).
    Lesson(LessonArgs),
}

#[derive(Args, Debug)]
pub struct LessonArgs {
    /// The lesson file, or the number of a built-in lesson (1 to 7; Help → Lessons in the app).
    pub file: PathBuf,
    /// Close the window after SECS seconds (for CI and screenshots).
    #[arg(long, value_name = "SECS")]
    pub quit_after: Option<f64>,
    /// Write a line per painted frame to FILE (the real-window test of scripts/gui-smoke).
    #[arg(long, value_name = "FILE", hide = true)]
    pub frame_log: Option<PathBuf>,
}

#[derive(Args, Debug, Default)]
pub struct GuiArgs {
    /// Start with this preset (default: quick).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["config", "run"])]
    pub preset: Option<String>,
    /// Start with this TOML config file.
    #[arg(long, value_name = "FILE", conflicts_with = "run")]
    pub config: Option<PathBuf>,
    /// Open a run directory written by `modulab train` (or by the app's Save checkpoint…):
    /// its network, optimiser state and metrics.csv history; Train continues it.
    #[arg(long, value_name = "DIR", conflicts_with = "sets")]
    pub run: Option<PathBuf>,
    /// Override one setting by its TOML path, as for `train`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Start training as soon as the window opens.
    #[arg(long)]
    pub train: bool,
    /// Close the window after SECS seconds (for CI and screenshots).
    #[arg(long, value_name = "SECS")]
    pub quit_after: Option<f64>,
    /// Open on this tab: training, ambiguity, trajectories, pca, dynamics, switching, packing or subset.
    #[arg(long, value_name = "NAME")]
    pub tab: Option<String>,
    /// Add this saved run to the Ambiguity tab's comparison at start, as Add run for
    /// comparison… does (e.g. several seeds of two presets, for Seed spread). Repeatable.
    #[arg(long = "compare", value_name = "DIR")]
    pub compare: Vec<PathBuf>,
    /// Write a line per painted frame to FILE (the real-window test of scripts/gui-smoke).
    #[arg(long, value_name = "FILE", hide = true)]
    pub frame_log: Option<PathBuf>,
}

/// Where a configuration comes from.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct ConfigSource {
    /// A shipped preset (see `modulab presets`).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// A TOML config file (any subset of the settings; the rest take their defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub source: ConfigSource,
    /// Override one setting by its TOML path, e.g. --set model.n_units=64 or
    /// --set 'model.pathways=["gain","synaptic"]'. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Random seed (same as --set train.seed=N).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Total optimiser steps (same as --set train.steps=N).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Compute backend: flex (default) or ndarray, in a build with `--features ndarray` (same as --set runtime.backend=...).
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// The run directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Continue the run in --out from its checkpoint (the configuration must match; --steps may grow).
    #[arg(long)]
    pub resume: bool,
    /// No progress bar (a line per evaluation instead).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum BackendArg {
    Flex,
    Ndarray,
}

impl From<BackendArg> for BackendKind {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Flex => BackendKind::Flex,
            BackendArg::Ndarray => BackendKind::Ndarray,
        }
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A run directory written by `modulab train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Only these tasks (comma-separated; default: every trained task).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Option<Vec<String>>,
    /// Trials per task (default: the run's train.eval_trials).
    #[arg(long)]
    pub trials: Option<usize>,
    /// Context ambiguity KIND:LEVEL with KIND one of mixture, noise, uniform, amplitude.
    #[arg(long, value_name = "KIND:LEVEL")]
    pub ambiguity: Option<String>,
    /// Remove a pathway's contribution (bias, gain or synaptic). Repeatable.
    #[arg(long = "lesion", value_name = "PATHWAY")]
    pub lesions: Vec<String>,
    /// Compute backend (default: the run's).
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// Print {"perf": {...}, "perf_min": x, "perf_mean": x} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum TasksCommand {
    /// List the tasks with their family and a one-line description.
    List,
    /// Print sample trials of one task.
    Sample {
        /// Task name (see `modulab tasks list`).
        #[arg(long)]
        task: String,
        /// Random seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of trials.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Trial encoding: ring (default) or compact.
        #[arg(long, default_value = "ring")]
        encoding: String,
        /// Print as JSON (the only format).
        #[arg(long)]
        json: bool,
    },
}

/// A usage error: reported in one line with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl From<ConfigError> for UsageError {
    fn from(e: ConfigError) -> Self {
        UsageError(e.to_string())
    }
}

/// Run a parsed command line.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Train(args) => train_cmd(args),
        Command::Eval(args) => eval_cmd(args),
        Command::Tasks { command } => tasks_cmd(command),
        Command::Gui(args) => gui_cmd(args),
        Command::Lesson(args) => lesson_cmd(args),
        Command::Sweep { command } => sweep::run(command),
        Command::Analyze(args) => analyze::run(args),
        Command::Reproduce(args) => reproduce::run(args),
        Command::Export(args) => exchange::export_cmd(args),
        Command::Import(args) => exchange::import_cmd(args),
        Command::Presets => {
            for (name, text) in config::PRESETS {
                println!("{name:<14} {}", config::preset_summary(text).split_once(": ").map_or("", |(_, d)| d));
            }
            Ok(())
        }
    }
}

fn lesson_cmd(args: LessonArgs) -> Result<()> {
    // a lesson that cannot be opened is refused here; in the app, File → Open lesson… reports it
    // in the status bar and keeps the app as it was
    use crate::app::lesson::Lesson;
    let builtin = args.file.to_str().and_then(|s| s.parse::<usize>().ok());
    let lesson = match builtin {
        Some(number) => Lesson::builtin(number),
        None => Lesson::open(&args.file),
    }
    .map_err(|e| UsageError(e.to_string()))?;
    crate::app::run(crate::app::AppOptions {
        config: lesson.config.clone(),
        preset: lesson.preset.clone(),
        quit_after: quit_after(args.quit_after)?,
        lesson: Some(lesson),
        frame_log: args.frame_log,
        ..crate::app::AppOptions::default()
    })
}

fn quit_after(secs: Option<f64>) -> Result<Option<std::time::Duration>, UsageError> {
    match secs {
        Some(secs) if secs.is_finite() && secs >= 0.0 => Ok(Some(std::time::Duration::from_secs_f64(secs))),
        Some(secs) => Err(UsageError(format!("--quit-after must be a number of seconds ≥ 0, not {secs}"))),
        None => Ok(None),
    }
}

fn gui_cmd(args: GuiArgs) -> Result<()> {
    // before the app's worker and jobs start their threads
    crate::share_one_arena();
    let (config, preset) = match (&args.preset, &args.config) {
        (_, Some(path)) => (Config::from_file(path, &args.sets).map_err(UsageError::from)?, None),
        (preset, None) => {
            let name = preset.clone().unwrap_or_else(|| "quick".to_string());
            (Config::from_preset(&name, &args.sets).map_err(UsageError::from)?, Some(name))
        }
    };
    let quit_after = quit_after(args.quit_after)?;
    // a missing run is a usage error here; a corrupt one is reported inside the app
    for dir in args.run.iter().chain(&args.compare) {
        let located = checkpoint::locate(dir);
        if !located.checkpoint.join(checkpoint::STATE_FILE).is_file() {
            return Err(UsageError(format!(
                "no run at {}: expected a run directory with checkpoint/{} (written by `modulab train --out DIR`)",
                dir.display(),
                checkpoint::STATE_FILE
            ))
            .into());
        }
    }
    let tab = args.tab.as_deref().map(|name| crate::app::Tab::from_name(name).map_err(UsageError)).transpose()?;
    // a plain `modulab`: a newcomer, offered lesson 1 (until they untick it)
    let plain = args.preset.is_none()
        && args.config.is_none()
        && args.run.is_none()
        && args.sets.is_empty()
        && tab.is_none()
        && !args.train
        && args.compare.is_empty();
    crate::app::run(crate::app::AppOptions {
        config,
        preset: if args.run.is_some() { None } else { preset },
        quit_after,
        train: args.train,
        open_run: args.run,
        file_dialogs: true,
        tab,
        compare_runs: args.compare,
        lesson: None,
        offer_first_lesson: plain,
        frame_log: args.frame_log,
    })
}

fn resolve_config(
    source: &ConfigSource,
    sets: &[String],
    seed: Option<u64>,
    steps: Option<u64>,
    backend: Option<BackendArg>,
) -> Result<Config, UsageError> {
    let mut overrides = sets.to_vec();
    if let Some(seed) = seed {
        overrides.push(format!("train.seed={seed}"));
    }
    if let Some(steps) = steps {
        overrides.push(format!("train.steps={steps}"));
    }
    if let Some(b) = backend {
        overrides.push(format!("runtime.backend=\"{}\"", BackendKind::from(b).name()));
    }
    Ok(match (&source.preset, &source.config) {
        (Some(name), _) => Config::from_preset(name, &overrides)?,
        (None, Some(path)) => Config::from_file(path, &overrides)?,
        (None, None) => return Err(UsageError("give --preset NAME or --config FILE".into())),
    })
}

/// The lines where two configs differ, for a mismatch message.
/// metrics.csv, kept in memory and rewritten atomically after every evaluation.
struct MetricsLog {
    path: PathBuf,
    text: String,
}

impl MetricsLog {
    fn create(dir: &Path, tasks: &[Task]) -> Self {
        Self { path: dir.join(METRICS_FILE), text: metrics::header(tasks) + "\n" }
    }

    /// The existing log of a resumed run, cut back to the checkpoint's step.
    fn resume(dir: &Path, tasks: &[Task], step: u64) -> Result<Self> {
        let path = dir.join(METRICS_FILE);
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        let mut log = Self::create(dir, tasks);
        for line in existing.lines().skip(1) {
            let row_step: Option<u64> = line.split(',').next().and_then(|s| s.parse().ok());
            if row_step.is_some_and(|s| s <= step) {
                log.text.push_str(line);
                log.text.push('\n');
            }
        }
        Ok(log)
    }

    fn append(&mut self, row: &MetricsRow) -> std::io::Result<()> {
        self.text.push_str(&row.to_csv_line());
        self.text.push('\n');
        self.flush()
    }

    fn flush(&self) -> std::io::Result<()> {
        write_atomic(&self.path, self.text.as_bytes())
    }
}

/// The terminal's view of a training run.
struct CliSink {
    bar: ProgressBar,
    log: MetricsLog,
    session_start: Instant,
    session_first_step: u64,
    quiet: bool,
    last_perf: String,
    error: Option<std::io::Error>,
}

impl CliSink {
    fn steps_per_sec(&self, step: u64) -> f64 {
        (step - self.session_first_step) as f64 / self.session_start.elapsed().as_secs_f64().max(1e-9)
    }
}

impl ProgressSink for CliSink {
    fn on_step(&mut self, trainer: &Trainer, report: &StepReport) {
        self.bar.set_position(report.step);
        if report.step.is_multiple_of(10) {
            self.bar.set_message(format!("loss {:.4} | {} | {:.1} steps/s", report.loss, self.last_perf, self.steps_per_sec(trainer.step)));
        }
    }

    fn on_eval(&mut self, trainer: &Trainer, eval: &Evaluation, row: &MetricsRow) {
        self.last_perf = format!("perf min {:.2} mean {:.2}", eval.perf_min(), eval.perf_mean());
        if let Err(e) = self.log.append(row) {
            self.error.get_or_insert(e);
        }
        if self.quiet {
            println!(
                "step {} loss {:.5} perf_min {:.3} perf_mean {:.3} ({:.1} steps/s)",
                trainer.step,
                row.loss,
                eval.perf_min(),
                eval.perf_mean(),
                self.steps_per_sec(trainer.step)
            );
        }
    }
}

#[allow(clippy::expect_used, reason = "cannot fail: the progress bar template is a constant")]
fn train_cmd(args: TrainArgs) -> Result<()> {
    let config = resolve_config(&args.source, &args.sets, args.seed, args.steps, args.backend)?;
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create run directory {}", out.display()))?;
    // what a run killed in the middle of writing metrics.csv left
    crate::io::remove_stale_temporaries(out);
    let checkpoint_dir = out.join("checkpoint");
    let (mut trainer, log) = if args.resume {
        let ckpt = checkpoint::load(&checkpoint_dir)?;
        let mut expected = config.clone();
        expected.train.steps = ckpt.config.train.steps;
        expected.runtime = ckpt.config.runtime.clone();
        if expected != ckpt.config {
            return Err(UsageError(format!(
                "cannot resume {}: the configuration differs from the checkpoint's ({})",
                out.display(),
                config::difference(&ckpt.config, "checkpoint", &expected, "command line")
            ))
            .into());
        }
        let step = ckpt.step;
        // the step budget and runtime (backend, threads) may change on resume
        let trainer = ckpt.into_trainer().with_config(config.clone());
        (trainer, MetricsLog::resume(out, &config.train.tasks, step)?)
    } else {
        (Trainer::new(config.clone()), MetricsLog::create(out, &config.train.tasks))
    };
    write_atomic(&out.join("config.toml"), config.to_toml().as_bytes())
        .with_context(|| format!("cannot write {}", out.join("config.toml").display()))?;
    log.flush().with_context(|| format!("cannot write {}", log.path.display()))?;

    let total = config.train.steps;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}")
            .expect("valid template"),
    );
    bar.set_position(trainer.step);
    let mut sink = CliSink {
        bar,
        log,
        session_start: Instant::now(),
        session_first_step: trainer.step,
        quiet: args.quiet,
        last_perf: "no evaluation yet".into(),
        error: None,
    };
    let cancel = AtomicBool::new(false);
    let outcome = train::run(&mut trainer, &mut sink, &cancel, Some(&checkpoint_dir));
    sink.bar.finish_and_clear();
    if let Some(e) = sink.error {
        bail!("cannot write {}: {e}", sink.log.path.display());
    }
    let end = outcome?;
    let label = match end {
        RunEnd::Finished => "finished",
        RunEnd::Converged => "converged (every task reached train.stop_at_perf)",
        RunEnd::Plateau => "stopped at a plateau (train.plateau_window)",
        RunEnd::Cancelled => "cancelled",
    };
    println!("{label} at step {} in {:.1}s; {} written", trainer.step, trainer.elapsed_secs(), out.display());
    Ok(())
}

fn eval_cmd(args: EvalArgs) -> Result<()> {
    let ckpt = checkpoint::load_run_dir(&args.run)?;
    let mut config = ckpt.config;
    if let Some(b) = args.backend {
        config.runtime.backend = b.into();
    }
    let tasks = args
        .tasks
        .as_ref()
        .map(|names| {
            names
                .iter()
                .map(|n| {
                    let task = Task::from_name(n.trim()).map_err(|e| UsageError(e.to_string()))?;
                    if !config.train.tasks.contains(&task) {
                        let trained: Vec<&str> = config.train.tasks.iter().map(|t| t.name()).collect();
                        return Err(UsageError(format!(
                            "task '{}' was not trained in {}; trained tasks: {}",
                            task.name(),
                            args.run.display(),
                            trained.join(", ")
                        )));
                    }
                    Ok(task)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let ambiguity = match &args.ambiguity {
        Some(s) => s.parse::<Ambiguity>().map_err(|e| UsageError(e.to_string()))?,
        None => Ambiguity::none(),
    };
    let lesioned =
        args.lesions.iter().map(|l| Pathway::from_name(l).map_err(|e| UsageError(e.to_string()))).collect::<Result<Vec<_>, _>>()?;
    if args.trials == Some(0) {
        return Err(UsageError("--trials must be at least 1".into()).into());
    }
    let options = EvalOptions { tasks, trials: args.trials, ambiguity, lesioned, stream: 1 };
    let eval = evaluate_params(&config, &ckpt.params, ckpt.step, &options)?;
    if args.json {
        let perf: serde_json::Map<String, serde_json::Value> =
            eval.perf.iter().map(|(t, p)| (t.name().to_string(), serde_json::json!(p))).collect();
        let doc = serde_json::json!({ "perf": perf, "perf_min": eval.perf_min(), "perf_mean": eval.perf_mean() });
        println!("{doc}");
    } else {
        println!(
            "run {} at step {} ({}), ambiguity {}, lesioned [{}]",
            args.run.display(),
            ckpt.step,
            Pathway::set_label(&config.model.pathways),
            ambiguity,
            Pathway::set_label(&options.lesioned)
        );
        for (task, p) in &eval.perf {
            println!("  {:<16} {:.3}", task.name(), p);
        }
        println!("  {:<16} {:.3}\n  {:<16} {:.3}", "min", eval.perf_min(), "mean", eval.perf_mean());
    }
    Ok(())
}

#[allow(clippy::expect_used, reason = "cannot fail: supported task is in the battery")]
fn tasks_cmd(command: TasksCommand) -> Result<()> {
    match command {
        TasksCommand::List => {
            for task in Task::ALL {
                let compact = if task.supports(tasks::Encoding::Compact) { "" } else { "  [ring only]" };
                println!("{:<16} {:<24} {}{compact}", task.name(), task.family(), task.description());
            }
            Ok(())
        }
        TasksCommand::Sample { task, seed, batch, encoding, json: _ } => {
            let task = Task::from_name(&task).map_err(|e| UsageError(e.to_string()))?;
            let encoding: tasks::Encoding = toml::Value::String(encoding.clone())
                .try_into()
                .map_err(|_| UsageError(format!("unknown encoding '{encoding}'; valid encodings: ring, compact")))?;
            if batch == 0 {
                return Err(UsageError("--batch must be at least 1".into()).into());
            }
            let config = Config { tasks: tasks::TaskSettings { encoding, ..Default::default() }, ..Default::default() };
            let alpha = config.model.alpha(config.tasks.dt_ms);
            let trials =
                tasks::generate(task, &config.tasks, batch, alpha, &mut Rng::seed_from(seed)).map_err(|e| UsageError(e.to_string()))?;
            let battery = Task::all_for(encoding);
            let k = battery.len();
            let index = battery.iter().position(|t| *t == task).expect("supported task is in the battery");
            let nest = |data: &[f32], channels: usize| -> Vec<Vec<Vec<f32>>> {
                data.chunks(trials.steps * channels).map(|trial| trial.chunks(channels).map(<[f32]>::to_vec).collect()).collect()
            };
            let context: Vec<Vec<Vec<f32>>> = (0..batch)
                .map(|_| (0..trials.steps).map(|_| (0..k).map(|j| if j == index { 1.0 } else { 0.0 }).collect()).collect())
                .collect();
            let doc = serde_json::json!({
                "task": task.name(),
                "dt_ms": trials.dt_ms,
                "inputs": nest(&trials.inputs, trials.n_in),
                "targets": nest(&trials.targets, trials.n_out),
                "mask": nest(&trials.mask, trials.n_out),
                "context": context,
                "go_step": trials.go_step,
                "target_angle": trials.target_angle,
            });
            println!("{doc}");
            Ok(())
        }
    }
}
