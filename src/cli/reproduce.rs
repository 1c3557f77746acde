//! `modulab reproduce`: the study behind the README's "What modulab finds" — every pathway set
//! trained with several seeds, measured, and compared in a report with intervals and tests.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use super::UsageError;
use super::drive::{Names, drive};
use super::sweep::{SlurmOptions, create_out};
use crate::experiments::driver::parse_shard;
use crate::experiments::reproduce::{self, Plan, ReproduceSweep, Scale};
use crate::experiments::{report, slurm};
use crate::figure;
use crate::io::write_atomic;

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// Output directory: runs/ (one directory per run), the report, figures and tables. Runs
    /// already finished there are reused: an interrupted reproduce resumes.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// standard (the README's source: 8 tasks, N = 64 with packing at 8, 16 and 32, 12 seeds,
    /// every network trained to a plateau), quick (a first look: 5 seeds, packing at 16), or full
    /// (the comparison presets: N = 128, 12 seeds; a night, or a cluster with --shard).
    #[arg(long, default_value = "standard", value_parser = ["standard", "quick", "full", "tiny"], hide_possible_values = true)]
    pub scale: String,
    /// Runs trained at once (default: the number of cores); each gets cores/jobs threads.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only shard I of N (every N-th run, starting at I); then run once more without
    /// --shard on the shared OUT to write the report.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Instead of running, write a Slurm array-job script to FILE: --shards tasks, each running
    /// its shard of this study into OUT (which the nodes must share).
    #[arg(long = "slurm-script", value_name = "FILE", requires = "shards", conflicts_with = "shard")]
    pub slurm_script: Option<PathBuf>,
    /// Array tasks of the Slurm script (at most one per run: 336 at --scale standard and full).
    #[arg(long)]
    pub shards: Option<usize>,
    #[command(flatten)]
    pub slurm: SlurmOptions,
}

const PLAN_FILE: &str = "reproduce-plan.toml";

pub fn run(args: ReproduceArgs) -> Result<()> {
    let scale: Scale = args.scale.parse().map_err(UsageError)?;
    let plan = Plan::new(scale);
    let shard_of = args.shard.as_deref().map(parse_shard).transpose().map_err(|e| UsageError(e.to_string()))?;
    if let Some(script) = &args.slurm_script {
        return write_slurm_script(&args, script, &plan);
    }
    create_out(&args.out)?;
    check_plan_file(&args.out, &plan)?;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let out = args.out.as_path();
    let sweep = ReproduceSweep { plan: &plan, out };
    let names = Names { cells: "runs", work: "steps", place: out.display().to_string() };
    let (_, driven) = drive(&sweep, shard_of, args.jobs, args.quiet, &names)?;
    if let Some((i, n)) = shard_of {
        println!(
            "shard {i}/{n} done: {} runs in {}/runs; when every shard is done, run `modulab reproduce --out {} --scale {}` to write the report",
            driven.cells,
            out.display(),
            out.display(),
            scale.name()
        );
        return Ok(());
    }
    // the report is built from the files, as rounded there, so a study run in one go, resumed
    // or sharded gives the same report
    let units = plan.units();
    let results = units
        .iter()
        .map(|unit| reproduce::load_finished(out, unit)?.ok_or_else(|| anyhow::anyhow!("run {} has no results on disk", unit.name())))
        .collect::<Result<Vec<_>>>()?;
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let (trained, jobs) = (driven.cells - driven.resumed, driven.jobs);
    let timing = format!(
        "This invocation trained and measured {trained} runs in {minutes:.1} minutes on {cores} cores ({jobs} at a time){}.",
        if trained < units.len() { format!("; {} runs were finished earlier", units.len() - trained) } else { String::new() }
    );
    write_report(out, &report::build(&plan, &results, Some(timing)))?;
    Ok(())
}

/// The Slurm array job that runs this study's shards; the report is written by one more run
/// without --shard once they are done.
fn write_slurm_script(args: &ReproduceArgs, path: &Path, plan: &Plan) -> Result<()> {
    let shards = args.shards.unwrap_or(0);
    let runs = plan.units().len();
    if shards == 0 || shards > runs || args.slurm.cpus == 0 {
        return Err(UsageError(format!("--shards must be 1 to {runs} (one run per array task at most) and --cpus at least 1")).into());
    }
    let out = args.out.display().to_string();
    let study: Vec<String> = vec!["--out".into(), out.clone(), "--scale".into(), args.scale.clone(), "--quiet".into()];
    let finish = format!("modulab reproduce --out {} --scale {} (writes the report)", slurm::shell_quote(&out), args.scale);
    let job = slurm::ArrayJob {
        name: "reproduce",
        description: &format!("reproduce study ({} scale, {runs} runs)", args.scale),
        command: &["reproduce"],
        args: &study,
        finish,
        written_by: "reproduce --slurm-script",
    };
    args.slurm.write_script(path, &job, shards)?;
    println!(
        "wrote {}: sbatch it; when all {shards} array tasks are done, run `modulab reproduce --out {out} --scale {}` to write the report",
        path.display(),
        args.scale
    );
    Ok(())
}

/// Refuse a directory holding a study with other settings (its runs would not be comparable).
fn check_plan_file(out: &Path, plan: &Plan) -> Result<()> {
    let path = out.join(PLAN_FILE);
    let fingerprint = plan.fingerprint();
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == fingerprint => Ok(()),
        Ok(existing) if existing == plan.fingerprint_before_packing() => {
            println!("{}: a study from before task packing joined it; its runs are reused and its packing runs trained", out.display());
            write_atomic(&path, fingerprint.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
        }
        Ok(_) => Err(UsageError(format!(
            "{} holds a study with other settings ({PLAN_FILE}); use another --out, or the same --scale to resume",
            out.display()
        ))
        .into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomic(&path, fingerprint.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_report(out: &Path, report: &report::Report) -> Result<()> {
    for (stem, svg) in &report.figures {
        figure::write_figure(out, stem, svg)?;
    }
    for (name, text) in &report.tables {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    for (name, text) in [("report.md", &report.markdown), ("report.html", &report.html)] {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let significant = report.findings.iter().filter(|f| f.ends_with(": significant")).count();
    println!("{significant} of {} comparisons significant (Holm, α = 0.05):", report.findings.len());
    for finding in report.findings.iter().filter(|f| f.ends_with(": significant")) {
        println!("  {finding}");
    }
    println!("wrote report.html, report.md, figures and tables in {}", out.display());
    Ok(())
}
