//! `modulab sweep …` through the real binary, on tiny configurations.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::Path;
use std::process::Output;

mod common;
use common::*;

/// 2 sizes × 2 task counts × 2 pathway sets = 8 cells of a few steps each.
const PACKING: &[&str] = &[
    "sweep",
    "packing",
    "--sizes",
    "8,12",
    "--task-counts",
    "1,2",
    "--pathways",
    "bias,gain+synaptic",
    "--budget-steps",
    "6",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.eval_every=3",
    "--set",
    "train.eval_trials=8",
    "--quiet",
];

fn packing(out: &Path, extra: &[&str]) -> Output {
    let mut args = PACKING.to_vec();
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    modulab(&args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn packing_writes_every_cell_and_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pack");
    check(&packing(&out, &["--jobs", "2"]));
    let table = read(&out.join("packing.csv"));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "size,k,pathways,seed,steps,stop,perf_min,perf_mean,score_min,met");
    assert_eq!(lines.len(), 1 + 8, "{table}");
    assert!(lines[1].starts_with("8,1,bias,0,6,budget,"), "{table}");
    assert!(lines[8].starts_with("12,2,gain+synaptic,0,"), "{table}");
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        let perf_min: f64 = fields[6].parse().unwrap();
        let perf_mean: f64 = fields[7].parse().unwrap();
        let score_min: f64 = fields[8].parse().unwrap();
        assert!((0.0..=1.0).contains(&perf_min) && perf_min <= perf_mean + 1e-9, "{line}");
        // a score is (perf − chance) / (1 − chance) ≤ perf; met exactly when the worst reaches 0.9
        assert!(score_min <= perf_min + 1e-9 && fields[9] == (score_min >= 0.9).to_string(), "{line}");
    }
    for figure in ["capacity.png", "capacity.svg", "packing_perf.png", "packing_perf.svg"] {
        assert!(std::fs::metadata(out.join(figure)).unwrap().len() > 1000, "{figure}");
    }
}

#[test]
fn shards_merged_equal_the_unsharded_sweep_and_resume_skips_finished_cells() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    check(&packing(&whole, &["--jobs", "1"]));
    let sharded = dir.path().join("sharded");
    for shard in ["0/3", "1/3", "2/3"] {
        check(&packing(&sharded, &["--jobs", "1", "--shard", shard]));
    }
    assert!(!sharded.join("packing.csv").exists(), "shards write their own files");
    check(&modulab(&["sweep", "merge", "--out", sharded.to_str().unwrap()]));
    assert_eq!(read(&sharded.join("packing.csv")), read(&whole.join("packing.csv")));
    assert!(sharded.join("capacity.png").exists());

    // resume: a finished cell (here with a recognisable made-up result) is kept, not re-run
    let table = read(&whole.join("packing.csv"));
    let mut lines: Vec<String> = table.lines().map(String::from).collect();
    lines[1] = "8,1,bias,0,3,plateau,0.999000,0.999000,0.998000,true".into();
    lines.truncate(4); // three finished cells
    std::fs::write(whole.join("packing.csv"), lines.join("\n") + "\n").unwrap();
    let o = packing(&whole, &["--jobs", "1"]);
    check(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("resuming: 3 of 8 cells"));
    let resumed = read(&whole.join("packing.csv"));
    assert_eq!(resumed.lines().count(), 9);
    assert!(resumed.contains("\n8,1,bias,0,3,plateau,0.999000,0.999000,0.998000,true\n"));
    assert_eq!(resumed.lines().skip(2).collect::<Vec<_>>(), table.lines().skip(2).collect::<Vec<_>>());

    // the same directory with other settings is refused, not mixed
    let o = packing(&whole, &["--criterion", "0.5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("other settings"), "{}", stderr(&o));
}

#[test]
fn slurm_script_is_written_and_checks_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("packing.sbatch");
    let o = modulab(&[
        "sweep",
        "slurm",
        "--shards",
        "8",
        "--cpus",
        "4",
        "--time",
        "01:00:00",
        "--sbatch=--partition=cpu",
        "--binary",
        "/opt/bin/modulab",
        "--script",
        script.to_str().unwrap(),
        "--",
        "--sizes",
        "8,16",
        "--task-counts",
        "2,4",
        "--pathways",
        "bias,gain",
        "--budget-steps",
        "500",
        "--out",
        "/scratch/pack",
    ]);
    check(&o);
    let text = read(&script);
    assert!(text.contains("#SBATCH --array=0-7\n") && text.contains("#SBATCH --partition=cpu\n"), "{text}");
    assert!(text.contains(
        "exec /opt/bin/modulab sweep packing --sizes 8,16 --task-counts 2,4 --pathways bias,gain --budget-steps 500 --out /scratch/pack --jobs 4 --shard \"${SLURM_ARRAY_TASK_ID}/8\""
    ), "{text}");

    // bad packing arguments fail now, with exit code 2, and write nothing
    let bad = dir.path().join("bad.sbatch");
    let o = modulab(&[
        "sweep",
        "slurm",
        "--shards",
        "2",
        "--script",
        bad.to_str().unwrap(),
        "--",
        "--sizes",
        "8",
        "--task-counts",
        "2",
        "--pathways",
        "bias+spin",
        "--budget-steps",
        "5",
        "--out",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown pathway 'spin'"), "{}", stderr(&o));
    assert!(!bad.exists());
}

#[test]
fn ambiguity_sweep_scores_every_run_level_and_task() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for (name, pathways) in [("bias", "[\"bias\"]"), ("gain", "[\"gain\"]")] {
        let run = dir.path().join(name);
        let set = format!("model.pathways={pathways}");
        check(&modulab(&[
            "train",
            "--preset",
            "quick",
            "--steps",
            "3",
            "--quiet",
            "--out",
            run.to_str().unwrap(),
            "--set",
            "model.n_units=16",
            "--set",
            "train.batch_size=8",
            "--set",
            "train.eval_trials=8",
            "--set",
            &set,
        ]));
        runs.push(run);
    }
    let out = dir.path().join("amb");
    let o = modulab(&[
        "sweep",
        "ambiguity",
        "--runs",
        runs[0].to_str().unwrap(),
        runs[1].to_str().unwrap(),
        "--kind",
        "mixture",
        "--levels",
        "0,0.5,1",
        "--trials",
        "8",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    check(&o);
    let table = read(&out.join("ambiguity.csv"));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "run,pathways,seed,kind,level,task,perf");
    assert_eq!(lines.len(), 1 + 2 * 3 * 4, "2 runs × 3 levels × 4 tasks");
    assert!(lines[1].contains(",bias,0,mixture,0,fdgo,"), "{}", lines[1]);
    assert!(lines.iter().any(|l| l.contains(",gain,0,mixture,1,fdanti,")));
    assert!(out.join("ambiguity.png").exists() && out.join("ambiguity.svg").exists());

    let o = modulab(&[
        "sweep",
        "ambiguity",
        "--runs",
        runs[0].to_str().unwrap(),
        "--kind",
        "fog",
        "--levels",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("valid kinds: mixture, noise, uniform, amplitude"));
}

/// `sweep subset` on a tiny grid: the documented table (one row per g, f, seed, `spread_ratio` in
/// its column, `undetermined` without trained units), the summary over seeds, more spread at
/// strong coupling than at weak, a second run that finds every cell done, a resume refused for
/// another plan or an old table, shards, RLS training, and the spiking network.
#[test]
fn subset_sweep_writes_the_spread_table_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("subset");
    let out_s = out.to_str().unwrap();
    let args = [
        "sweep",
        "subset",
        "--gains",
        "0.1,2",
        "--fractions",
        "0,0.2",
        "--seeds",
        "2",
        "--neurons",
        "120",
        "--k",
        "12",
        "--test-trials",
        "6",
        "--out",
        out_s,
        "--quiet",
    ];
    let o = modulab(&args);
    check(&o);
    let table = std::fs::read_to_string(out.join("subset.csv")).unwrap();
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "model,training,drive,g,fraction,seed,neurons,k,loops,feedforward,spread_ratio,spread_e,spread_i,selective_untrained,\
         selective_e,selective_i,selective_trained,task_ratio,trained_variance,mode_share_e,mode_share_i,rate_e,rate_i,balance,\
         target_error,target_variance"
    );
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    assert_eq!(rows.len(), 8, "{table}");
    assert!(rows.iter().all(|r| r[..3] == ["rate", "clamp", "scaled"] && r[8..10] == ["0", "0"]), "{table}");
    let cells = |g: &str, f: &str| rows.iter().filter(|r| r[3] == g && r[4] == f).collect::<Vec<_>>();
    assert!(cells("0.1", "0").iter().chain(&cells("2", "0")).all(|r| r[10] == "undetermined"), "no trained units, no ratio: {table}");
    let mean = |g: &str, column: usize| {
        let values: Vec<f64> = cells(g, "0.2").iter().map(|r| r[column].parse::<f64>().unwrap()).collect();
        values.iter().sum::<f64>() / values.len() as f64
    };
    // the untrained units' absolute selective variance, and the ratio
    assert!(mean("2", 13) > 10.0 * mean("0.1", 13).abs(), "strong coupling spreads: {table}");
    assert!(mean("2", 10) > 10.0 * mean("0.1", 10), "{table}");
    let summary = std::fs::read_to_string(out.join("subset-summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 4, "{summary}");
    assert!(summary.lines().filter(|l| l.starts_with("0.1,0,2,undetermined,")).count() == 1, "{summary}");
    assert!(stdout(&o).contains("| f | g | spread ratio |"), "the summary table is printed: {}", stdout(&o));
    assert!(std::fs::metadata(out.join("spread.png")).unwrap().len() > 1000);
    // resumed: nothing left to do, the table unchanged
    check(&modulab(&args));
    assert_eq!(std::fs::read_to_string(out.join("subset.csv")).unwrap(), table);
    // another plan into the same directory is refused, and so is a table of an earlier version
    let mut fixed = args.to_vec();
    fixed.extend(["--drive", "fixed"]);
    let refused = modulab(&fixed);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("holds cells of another plan") && stderr(&refused).contains("--drive scaled"),
        "{}",
        stderr(&refused)
    );
    let old = dir.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(
        old.join("subset.csv"),
        "model,training,g,fraction,seed,neurons,k,spread_ratio,spread_e,spread_i,mode_share_e,mode_share_i,rate_e,rate_i,balance,\
         target_error,trained_variance\nrate,clamp,0.1,0.2,0,120,12,0.001,0.001,0.001,0.9,0.9,4.5,3.7,0.49,0,0.1\n",
    )
    .unwrap();
    let mut resumed_old = args.to_vec();
    resumed_old[15] = old.to_str().unwrap();
    let refused = modulab(&resumed_old);
    assert!(stderr(&refused).contains("written by an earlier modulab"), "{}", stderr(&refused));
    // a shard writes its own file with its share of the cells; RLS runs and reports its error
    let shard = dir.path().join("shard");
    let mut shard_args = args.to_vec();
    shard_args[15] = shard.to_str().unwrap();
    shard_args.extend(["--shard", "1/3", "--training", "rls", "--loops", "2"]);
    check(&modulab(&shard_args));
    let shard_table = std::fs::read_to_string(shard.join("subset-shard-1-of-3.csv")).unwrap();
    assert_eq!(shard_table.lines().count(), 1 + 3, "cells 1, 4, 7 of 8: {shard_table}");
    assert!(shard_table.lines().skip(1).all(|l| l.starts_with("rate,rls,scaled,")));
    // the spiking network, its subset clamped or trained by RLS with feed-forward inputs; its rows say which
    let spiking = dir.path().join("spiking");
    let spiking_s = spiking.to_str().unwrap();
    let tiny =
        ["sweep", "subset", "--model", "spiking", "--gains", "1", "--fractions", "0.5", "--seeds", "1", "--neurons", "200", "--k", "20"];
    check(&modulab(&[&tiny[..], &["--test-trials", "2", "--out", spiking_s, "--quiet"]].concat()));
    let table = std::fs::read_to_string(spiking.join("subset.csv")).unwrap();
    assert!(table.lines().nth(1).is_some_and(|l| l.starts_with("spiking,clamp,scaled,1,0.5,0,200,20,0,0,")), "{table}");
    let trained = dir.path().join("spiking-rls");
    let trained_s = trained.to_str().unwrap();
    let rls = ["--training", "rls", "--loops", "2", "--feedforward", "10", "--test-trials", "2", "--out", trained_s, "--quiet"];
    check(&modulab(&[&tiny[..], &rls[..]].concat()));
    let table = std::fs::read_to_string(trained.join("subset.csv")).unwrap();
    let row: Vec<&str> = table.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[..10], ["spiking", "rls", "scaled", "1", "0.5", "0", "200", "20", "2", "10"], "{table}");
    assert!(row[13..].iter().all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)), "{table}");
    assert!(row[24].parse::<f64>().unwrap() > 0.0 && row[25].parse::<f64>().unwrap() > 0.0, "an error and a target variance: {table}");
}

/// `sweep subset --training bptt`: the engine's balanced network learns the quick preset's tasks
/// with only its subset plastic; the rows say so, without trained units nothing spreads, strong
/// coupling spreads the subset's task activity and weak coupling keeps it; the spiking network
/// is refused (BPTT trains the rate network only).
#[test]
fn subset_sweep_trains_the_engines_network_by_bptt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bptt");
    let out_s = out.to_str().unwrap();
    let grid = ["--gains", "0.1,1", "--fractions", "0,0.5", "--seeds", "1", "--neurons", "60", "--k", "6", "--test-trials", "4"];
    check(&modulab(&[&["sweep", "subset", "--training", "bptt", "--loops", "20"][..], &grid, &["--out", out_s, "--quiet"]].concat()));
    let table = std::fs::read_to_string(out.join("subset.csv")).unwrap();
    let rows: Vec<Vec<&str>> = table.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "{table}");
    assert!(
        rows.iter().all(|r| r[..3] == ["rate", "bptt", "scaled"] && r[13..].iter().all(|v| v.parse::<f64>().is_ok_and(f64::is_finite))),
        "{table}"
    );
    let row = |g: &str, f: &str| rows.iter().find(|r| r[3] == g && r[4] == f).unwrap();
    assert!(row("0.1", "0")[10] == "undetermined" && row("1", "0")[10] == "undetermined", "no trained units, no ratio: {table}");
    let selective_untrained = |g: &str| -> f64 { row(g, "0.5")[13].parse().unwrap() };
    assert!(selective_untrained("1") > 20.0 * selective_untrained("0.1").abs(), "strong coupling spreads: {table}");
    assert!(row("1", "0.5")[25].parse::<f64>().unwrap() > 0.0, "the output targets' variance: {table}");
    let refused = modulab(&[&["sweep", "subset", "--model", "spiking", "--training", "bptt"][..], &grid, &["--out", out_s]].concat());
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("BPTT trains the rate network only"), "{}", stderr(&refused));
    let refused = modulab(&[&["sweep", "subset", "--training", "bptt", "--drive", "fixed"][..], &grid, &["--out", out_s]].concat());
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("always scales the drive"), "{}", stderr(&refused));
}
