//! `modulab export` and `modulab import`: networks to and from NumPy / safetensors files.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::UsageError;
use crate::config::Config;
use crate::io::write_atomic;
use crate::train::exchange;
use crate::train::{AdamState, Trainer, checkpoint};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A run directory (written by `modulab train`, the app or `modulab import`).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// The file to write: FILE.npz (NumPy) or FILE.safetensors.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also write each task's probe trials run through the network: probe/TASK/inputs,
    /// targets, outputs and rates, each [trials, steps, width].
    #[arg(long)]
    pub trajectories: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub file: ImportFile,
    /// The network's settings as a TOML config file (sizes, tasks, pathways; docs/EXCHANGE.md).
    /// Without it (and without --preset), the file's own config_json is used: a modulab export.
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// The network's settings from a shipped preset (see `modulab presets`).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Override one setting of --config or --preset by its TOML path. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// The optimiser steps the network was trained for (default: the file's `step`, else 0).
    /// A run's evaluation trials are drawn for its step, so give the step to get its numbers.
    #[arg(long)]
    pub step: Option<u64>,
    /// The run directory to create (it must not hold a run already).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The file to import.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ImportFile {
    /// A NumPy .npz archive with the documented keys (np.savez or np.savez_compressed).
    #[arg(long, value_name = "FILE")]
    pub npz: Option<PathBuf>,
    /// A .safetensors file with the documented keys.
    #[arg(long, value_name = "FILE")]
    pub safetensors: Option<PathBuf>,
}

pub fn export_cmd(args: ExportArgs) -> Result<()> {
    exchange::Format::of(&args.out).map_err(|e| UsageError(e.to_string()))?;
    let ckpt = checkpoint::load_run_dir(&args.run)?;
    exchange::export_network(&args.out, &ckpt.config, &ckpt.params, ckpt.step, args.trajectories)?;
    let tasks = ckpt.config.train.tasks.len();
    let derived: Vec<&str> = exchange::derived_layout(&ckpt.config).into_iter().map(|(name, _)| name).collect();
    let runs = if derived.is_empty() { String::new() } else { format!(", what the network runs ({})", derived.join(", ")) };
    let probe = if args.trajectories { format!(" and the probe trials of {tasks} tasks") } else { String::new() };
    println!(
        "{} parameter arrays of {} at step {}{runs}{probe} written to {}",
        ckpt.params.tensors.len(),
        args.run.display(),
        ckpt.step,
        args.out.display()
    );
    Ok(())
}

#[allow(clippy::expect_used, reason = "cannot fail: clap requires one")]
pub fn import_cmd(args: ImportArgs) -> Result<()> {
    let file = args.file.npz.as_ref().or(args.file.safetensors.as_ref()).expect("clap requires one");
    let format = exchange::Format::of(file).map_err(|e| UsageError(e.to_string()))?;
    let flag = match format {
        exchange::Format::Npz => "--npz",
        exchange::Format::Safetensors => "--safetensors",
    };
    if args.file.npz.is_some() != (format == exchange::Format::Npz) {
        return Err(UsageError(format!("{} is given to the wrong flag: use {flag}", file.display())).into());
    }
    if args.out.join(checkpoint::RUN_CHECKPOINT_DIR).exists() {
        return Err(UsageError(format!("{} already holds a run; choose another --out", args.out.display())).into());
    }
    let config = match (&args.config, &args.preset) {
        (Some(path), _) => Config::from_file(path, &args.sets).map_err(UsageError::from)?,
        (None, Some(name)) => Config::from_preset(name, &args.sets).map_err(UsageError::from)?,
        (None, None) => {
            let text = exchange::read_config_json(file)?.ok_or_else(|| {
                UsageError(format!(
                    "{} carries no configuration: give --config FILE (or --preset NAME) with the network's sizes, tasks and pathways",
                    file.display()
                ))
            })?;
            let config: Config = serde_json::from_str(&text)
                .map_err(|e| UsageError(format!("the configuration in {} is not valid: {e}", file.display())))?;
            // through TOML, as every other source, for --set and the same checks
            Config::from_toml_with_overrides(&config.to_toml(), &format!("{}'s config_json", file.display()), &args.sets)
                .map_err(UsageError::from)?
        }
    };
    let imported = exchange::import(file, &config, args.step)?;
    // training on from here draws from the stream a fresh run of this seed would (it is forked
    // after the initial weights are drawn, so a fresh trainer is the one place that knows it)
    let fresh = Trainer::new(config.clone());
    let adam = AdamState::new(&imported.params);
    let trainer = Trainer::from_parts(config.clone(), imported.params, adam, fresh.rng, imported.step, 0, 0.0);
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create run directory {}", out.display()))?;
    checkpoint::save(&out.join(checkpoint::RUN_CHECKPOINT_DIR), &trainer)?;
    let config_path = out.join(checkpoint::RUN_CONFIG_FILE);
    write_atomic(&config_path, config.to_toml().as_bytes()).with_context(|| format!("cannot write {}", config_path.display()))?;
    println!(
        "{} ({} parameters, step {}) imported into {}; try `modulab eval --run {}`",
        file.display(),
        trainer.params.num_params(),
        trainer.step,
        out.display(),
        out.display()
    );
    Ok(())
}
