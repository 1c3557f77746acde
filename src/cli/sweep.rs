//! `modulab sweep …`: the ambiguity and packing experiments, sharding for clusters, merging.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use super::UsageError;
use super::drive::{Names, bar, drive};
use crate::analysis::AmbiguityKind;
use crate::config::Config;
use crate::experiments::driver::parse_shard;
use crate::experiments::packing::{self, CellResult, PackingError, PackingPlan, PackingSweep, PathwaySet};
use crate::experiments::slurm;
use crate::experiments::sweep::{self, TrainedRun};
use crate::figure;
use crate::io::write_atomic;

#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// Evaluate trained runs over levels of context ambiguity (docs/MODEL.md §4A); writes
    /// OUT/ambiguity.csv, OUT/ambiguity.png and OUT/ambiguity.svg.
    Ambiguity(AmbiguityArgs),
    /// Train every (size, task count, pathway set, seed) cell to a step budget (docs/MODEL.md §4B);
    /// writes OUT/packing.csv (or a shard file), OUT/capacity.{png,svg}, OUT/packing_perf.{png,svg}.
    Packing(PackingArgs),
    /// Join the shard files of a packing sweep into OUT/packing.csv and draw its figures.
    Merge(MergeArgs),
    /// Write a Slurm array-job script that runs a packing sweep as shards.
    Slurm(SlurmArgs),
    /// Train (or clamp) a subset of the excitatory units of a strongly coupled E/I network and
    /// measure how much task activity the untrained units carry, over the coupling g and the
    /// trained fraction f (docs/MODEL.md §7); writes OUT/subset.csv (or a shard file) and
    /// OUT/spread.{png,svg}. Cells already in the table are skipped: a sweep resumes.
    Subset(SubsetArgs),
}

#[derive(Args, Debug)]
pub struct SubsetArgs {
    /// rate (the E/I rate network) or spiking (the LIF network of the paper's code, with its
    /// plastic synapses onto the trained subset when trained by RLS).
    #[arg(long, default_value = "rate")]
    pub model: String,
    /// Coupling strengths g, comma-separated (weak 0.1 … strong 3).
    #[arg(long, value_delimiter = ',', required = true)]
    pub gains: Vec<f64>,
    /// Trained fractions f of the excitatory units, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub fractions: Vec<f64>,
    /// Seeds per (g, f): 0, 1, …
    #[arg(long, default_value_t = 3)]
    pub seeds: usize,
    /// scaled (the external drive grows with g like the connections, as the paper's code has it:
    /// the balanced rates stay the same at every strong g) or fixed (the drive of g = 1 at every
    /// g; rate and spiking networks only).
    #[arg(long, default_value = "scaled")]
    pub drive: String,
    /// Plastic feed-forward inputs per trained neuron of the spiking network trained by RLS (the
    /// paper's code: 100–400, it ran 300; each adds to every trained neuron's P matrix); 0: none.
    #[arg(long, default_value_t = crate::experiments::subset::DEFAULT_FEEDFORWARD)]
    pub feedforward: usize,
    /// Units (half excitatory, half inhibitory).
    #[arg(long, default_value_t = 800)]
    pub neurons: usize,
    /// Inputs each unit receives from each population.
    #[arg(long, default_value_t = 40)]
    pub k: usize,
    /// clamp (the subset held on its targets: an ideally trained subset), rls (recursive least
    /// squares in closed loop, then tested free: the rate network's settles at weak coupling only;
    /// the spiking network's trains its plastic synapses at every g) or bptt (rate model only: the
    /// engine's own network, balanced, learns the quick preset's four tasks by backpropagation
    /// through time with only the subset plastic; docs/MODEL.md §7).
    #[arg(long, default_value = "clamp")]
    pub training: String,
    /// Training loops: RLS trials (the conditions in turn; rate network default 20, spiking
    /// network default 500 as the paper trained) or BPTT optimiser steps (default 2 000).
    #[arg(long)]
    pub loops: Option<usize>,
    /// Test trials per condition.
    #[arg(long = "test-trials", default_value_t = 6)]
    pub test_trials: usize,
    /// Cells run at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only shard I of N (every N-th cell, starting at I), into its own file.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Output directory.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct AmbiguityArgs {
    /// Run directories written by `modulab train` (e.g. one per pathway set and seed).
    #[arg(long, value_name = "DIR", num_args = 1.., required = true)]
    pub runs: Vec<PathBuf>,
    /// mixture, noise, uniform or amplitude.
    #[arg(long)]
    pub kind: String,
    /// Comma-separated levels, e.g. 0,0.1,0.2,0.5,1.
    #[arg(long, value_name = "LEVELS")]
    pub levels: String,
    /// Trials per task and level (default: each run's train.eval_trials).
    #[arg(long)]
    pub trials: Option<usize>,
    /// Independent context draws averaged per level for the noise kind (others are deterministic).
    #[arg(long, default_value_t = 5)]
    pub draws: usize,
    /// Output directory.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Parser, Debug, Clone)]
#[command(name = "packing")]
pub struct PackingArgs {
    /// Network sizes N, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub sizes: Vec<usize>,
    /// Task counts K, comma-separated: a cell trains the first K tasks of --order.
    #[arg(long = "task-counts", value_delimiter = ',', required = true)]
    pub task_counts: Vec<usize>,
    /// Pathway sets, comma-separated; join pathways with '+', e.g. bias,gain,bias+synaptic,none.
    #[arg(long, value_delimiter = ',', required = true)]
    pub pathways: Vec<String>,
    /// Seeds per cell: the seeds are train.seed, train.seed + 1, ….
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// The most steps a cell trains (the plateau rule usually stops it before).
    #[arg(long = "budget-steps")]
    pub budget_steps: u64,
    /// The plateau rule: a cell stops once its best mean performance over the last this many
    /// steps is less than 0.01 above the best before them (0 = train the whole budget).
    #[arg(long = "plateau-steps", default_value_t = packing::DEFAULT_PLATEAU_STEPS)]
    pub plateau_steps: u64,
    /// A cell meets the criterion when, judged on fresh trials after training, every task's
    /// score (perf − chance) / (1 − chance) reaches it; chance is what always fixating or
    /// answering at random scores.
    #[arg(long, default_value_t = 0.9)]
    pub criterion: f64,
    /// Task order: families (one task of each family in turn; default), yang, or comparison (the
    /// pathway presets' eight tasks, the ones small networks learn first, matching tasks last).
    #[arg(long, default_value = "families")]
    pub order: String,
    /// Base settings of every cell: a preset (default: quick) …
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub preset: Option<String>,
    /// … or a TOML config file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override a base setting by its TOML path (e.g. train.learning_rate=0.001). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Cells trained at once (default: the number of cores); each gets cores/jobs threads.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only shard I of N (every N-th cell, starting at I; 0 ≤ I < N), into its own file.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Output directory (cells already in its table are skipped: a sweep resumes).
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The sweep's output directory: its packing.shard-*.csv files are joined into packing.csv.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// Further packing CSV files to join (e.g. shards copied from elsewhere).
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SlurmArgs {
    /// Number of shards (array tasks).
    #[arg(long)]
    pub shards: usize,
    #[command(flatten)]
    pub options: SlurmOptions,
    /// Where to write the script.
    #[arg(long, value_name = "FILE")]
    pub script: PathBuf,
    /// The `sweep packing` arguments, after `--` (without --shard and --jobs).
    #[arg(last = true, required = true, value_name = "PACKING ARGS")]
    pub packing: Vec<String>,
}

/// An array job's resources (`sweep slurm`, `reproduce --slurm-script`).
#[derive(Args, Debug)]
pub struct SlurmOptions {
    /// Cores per array task (each task trains this many networks at once).
    #[arg(long, default_value_t = 4)]
    pub cpus: usize,
    /// Wall-clock limit per array task (Slurm's --time).
    #[arg(long, default_value = "04:00:00")]
    pub time: String,
    /// An extra #SBATCH line, e.g. --sbatch=--partition=cpu. Repeatable.
    #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
    pub sbatch: Vec<String>,
    /// The modulab binary the cluster nodes run (default: this one).
    #[arg(long)]
    pub binary: Option<PathBuf>,
}

impl SlurmOptions {
    /// The script for `job` in `shards` array tasks, written to `path`.
    pub(super) fn write_script(&self, path: &Path, job: &slurm::ArrayJob, shards: usize) -> Result<()> {
        let binary = match &self.binary {
            Some(b) => b.clone(),
            None => std::env::current_exe().context("cannot find this program's path; give --binary")?,
        };
        let script = slurm::script(&binary.display().to_string(), job, shards, self.cpus, &self.time, &self.sbatch);
        write_atomic(path, script.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
    }
}

pub fn run(command: SweepCommand) -> Result<()> {
    match command {
        SweepCommand::Ambiguity(args) => ambiguity_cmd(args),
        SweepCommand::Packing(args) => packing_cmd(args),
        SweepCommand::Merge(args) => merge_cmd(args),
        SweepCommand::Slurm(args) => slurm_cmd(args),
        SweepCommand::Subset(args) => subset_cmd(args),
    }
}

fn subset_cmd(args: SubsetArgs) -> Result<()> {
    use crate::experiments::subset::bptt as subset_bptt;
    use crate::experiments::subset::{self, SubsetModel, SubsetPlan, SubsetSweep, Training};
    use crate::model::balanced::Drive;
    let training = Training::from_name(&args.training).map_err(|e| UsageError(e.to_string()))?;
    let model = SubsetModel::from_name(&args.model).map_err(|e| UsageError(e.to_string()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args.jobs.unwrap_or(cores).max(1);
    let default_loops = match (model, training) {
        (_, Training::Bptt) => subset_bptt::DEFAULT_STEPS,
        (SubsetModel::Spiking, _) => subset::SPIKING_LOOPS,
        (SubsetModel::Rate, _) => SubsetPlan::default().loops,
    };
    let plan = SubsetPlan {
        model,
        gains: args.gains,
        fractions: args.fractions,
        seeds: args.seeds,
        drive: Drive::from_name(&args.drive).map_err(UsageError)?,
        neurons: args.neurons,
        k: args.k,
        loops: args.loops.unwrap_or(default_loops),
        feedforward: args.feedforward,
        training,
        test_trials: args.test_trials,
        ..SubsetPlan::default()
    };
    plan.validate().map_err(|e| UsageError(e.to_string()))?;
    let shard = args.shard.as_deref().map(parse_shard).transpose().map_err(|e| UsageError(e.to_string()))?;
    let rls_bytes = plan.fractions.iter().map(|f| plan.rls_bytes(*f)).max().unwrap_or(0);
    if rls_bytes > 0 && !args.quiet {
        eprintln!("RLS: up to {:.0} MB of P matrices per cell, {jobs} cell(s) at once", rls_bytes as f64 / 1e6);
    }
    let sweep = SubsetSweep::open(&plan, &args.out, shard)?;
    let path = subset::table_path(&args.out, shard);
    let names = Names { cells: "cells", work: "cells", place: path.display().to_string() };
    let (rows, _) = drive(&sweep, shard, Some(jobs), args.quiet, &names)?;
    let rows = sweep.finish(rows)?;
    if shard.is_none() {
        println!("{}", subset::summary_texts(&rows).1);
    }
    println!(
        "{} cells; wrote {}{}",
        rows.len(),
        path.display(),
        if shard.is_none() { ", subset-summary.csv/.md, spread.png/.svg" } else { "" }
    );
    Ok(())
}

pub(super) fn create_out(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create output directory {}", out.display()))?;
    // what a run of this command killed in the middle of writing a table left
    crate::io::remove_stale_temporaries(out);
    Ok(())
}

fn ambiguity_cmd(args: AmbiguityArgs) -> Result<()> {
    let kind = AmbiguityKind::ALL
        .into_iter()
        .find(|k| k.name() == args.kind)
        .ok_or_else(|| UsageError(format!("unknown ambiguity kind '{}'; valid kinds: mixture, noise, uniform, amplitude", args.kind)))?;
    let levels = sweep::parse_levels(&args.levels).map_err(UsageError)?;
    if args.trials == Some(0) {
        return Err(UsageError("--trials must be at least 1".into()).into());
    }
    let runs = args
        .runs
        .iter()
        .map(|dir| TrainedRun::load(dir).with_context(|| format!("cannot load run {}", dir.display())))
        .collect::<Result<Vec<_>>>()?;
    create_out(&args.out)?;
    let progress = bar((runs.len() * levels.len()) as u64, args.quiet, "levels");
    let mut rows = Vec::new();
    for run in &runs {
        progress.set_message(format!("{} ({})", run.name, run.pathways()));
        rows.extend(sweep::sweep_run(run, kind, &levels, args.trials, args.draws, &mut || progress.inc(1))?);
    }
    progress.finish_and_clear();
    let csv_path = args.out.join("ambiguity.csv");
    write_atomic(&csv_path, sweep::ambiguity_csv(&rows).as_bytes()).with_context(|| format!("cannot write {}", csv_path.display()))?;
    figure::write_figure(&args.out, "ambiguity", &sweep::ambiguity_chart(&rows).to_svg())?;
    println!(
        "{} runs × {} levels evaluated; wrote ambiguity.csv, ambiguity.png, ambiguity.svg in {}",
        runs.len(),
        levels.len(),
        args.out.display()
    );
    Ok(())
}

const PACKING_FILE: &str = "packing.csv";

fn plan_from_args(args: &PackingArgs) -> Result<PackingPlan, UsageError> {
    let base = match (&args.preset, &args.config) {
        (_, Some(path)) => Config::from_file(path, &args.sets)?,
        (preset, None) => Config::from_preset(preset.as_deref().unwrap_or("quick"), &args.sets)?,
    };
    let pathway_sets =
        args.pathways.iter().map(|s| s.parse::<PathwaySet>()).collect::<Result<Vec<_>, _>>().map_err(|e| UsageError(e.to_string()))?;
    let plan = PackingPlan {
        seeds: (0..args.seeds).map(|i| base.train.seed + i).collect(),
        base,
        sizes: args.sizes.clone(),
        task_counts: args.task_counts.clone(),
        pathway_sets,
        budget_steps: args.budget_steps,
        plateau_steps: args.plateau_steps,
        criterion: args.criterion,
        order: args.order.parse().map_err(|e: PackingError| UsageError(e.to_string()))?,
    };
    plan.validate().map_err(|e| UsageError(e.to_string()))?;
    Ok(plan)
}

fn shard_file(index: usize, count: usize) -> String {
    format!("packing.shard-{index}-of-{count}.csv")
}

fn packing_cmd(args: PackingArgs) -> Result<()> {
    let plan = plan_from_args(&args)?;
    let shard = args.shard.as_deref().map(parse_shard).transpose().map_err(|e| UsageError(e.to_string()))?;
    let table_name = match shard {
        Some((i, n)) => shard_file(i, n),
        None => PACKING_FILE.to_string(),
    };
    create_out(&args.out)?;
    packing::claim_directory(&args.out, &plan).map_err(|e| match e {
        PackingError::OtherPlan(_) => anyhow::Error::new(UsageError(e.to_string())),
        e => e.into(),
    })?;
    let table_path = args.out.join(&table_name);
    let sweep = PackingSweep { plan: &plan, table: Some(table_path.clone()) };
    let names = Names { cells: "cells", work: "cells", place: table_path.display().to_string() };
    let (results, started) = drive(&sweep, shard, args.jobs, args.quiet, &names)?;
    let cells = started.cells;
    if shard.is_some() {
        println!(
            "shard done: {} cells in {}; when every shard is done: modulab sweep merge --out {}",
            cells,
            table_path.display(),
            args.out.display()
        );
    } else {
        write_packing_figures(&args.out, &results, plan.criterion)?;
        println!("{} cells; wrote {PACKING_FILE}, capacity.png/.svg, packing_perf.png/.svg in {}", cells, args.out.display());
    }
    Ok(())
}

fn write_packing_figures(out: &Path, results: &[CellResult], criterion: f64) -> Result<()> {
    figure::write_figure(out, "capacity", &packing::capacity_chart(results, criterion).to_svg())?;
    Ok(figure::write_figure(out, "packing_perf", &packing::perf_heat_maps(results).to_svg())?)
}

fn merge_cmd(args: MergeArgs) -> Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.out)
        .with_context(|| format!("cannot read {}", args.out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("packing.shard-") && n.ends_with(".csv")))
        .collect();
    files.sort();
    files.extend(args.files.iter().cloned());
    if files.is_empty() {
        return Err(UsageError(format!("no shard files (packing.shard-*.csv) in {} and none given", args.out.display())).into());
    }
    let tables = files.iter().map(|f| packing::read_table(f)).collect::<Result<Vec<_>, _>>()?;
    let results = packing::merge(tables)?;
    let plan = packing::read_plan_file(&args.out)?;
    if let Some(plan) = &plan {
        let expected = plan.sizes.len() * plan.task_counts.len() * plan.pathways.len() * plan.seeds.len();
        if results.len() < expected {
            eprintln!("note: {} of {expected} cells present; missing cells come from unfinished shards", results.len());
        }
    }
    let path = args.out.join(PACKING_FILE);
    write_atomic(&path, packing::to_csv(&results).as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    write_packing_figures(&args.out, &results, plan.map_or(0.9, |p| p.criterion))?;
    println!("merged {} files, {} cells into {}", files.len(), results.len(), path.display());
    Ok(())
}

fn slurm_cmd(args: SlurmArgs) -> Result<()> {
    if args.shards == 0 || args.options.cpus == 0 {
        return Err(UsageError("--shards and --cpus must be at least 1".into()).into());
    }
    // check the packing arguments now, not on the cluster
    let packing_args = PackingArgs::try_parse_from(std::iter::once("packing").chain(args.packing.iter().map(String::as_str)))
        .map_err(|e| UsageError(format!("bad packing arguments after --: {}", e.to_string().trim())))?;
    if packing_args.shard.is_some() || packing_args.jobs.is_some() {
        return Err(UsageError("leave --shard and --jobs out of the packing arguments: the script sets them per array task".into()).into());
    }
    plan_from_args(&packing_args)?;
    let job = slurm::ArrayJob {
        name: "packing",
        description: "task-packing sweep",
        command: &["sweep", "packing"],
        args: &args.packing,
        finish: format!("modulab sweep merge --out {}", slurm::shell_quote(&packing_args.out.display().to_string())),
        written_by: "sweep slurm",
    };
    args.options.write_script(&args.script, &job, args.shards)?;
    println!(
        "wrote {}: sbatch it, then run `modulab sweep merge --out {}` when all {} array tasks are done",
        args.script.display(),
        packing_args.out.display(),
        args.shards
    );
    Ok(())
}
