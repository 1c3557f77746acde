//! `modulab reproduce` end to end at the test-only tiny scale: every section of the report, resume,
//! shards, and a directory of another study refused.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::Path;
use std::process::{Command, Output};

fn reproduce(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["reproduce", "--scale", "tiny", "--quiet", "--out", out.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_modulab")).args(&args).output().expect("the binary runs")
}

fn ok(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "status {}\n{text}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    text
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn reproduce_writes_every_section_resumes_and_shards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("study");
    ok(&reproduce(&out, &[]));

    // the report: every section, every kind, a test per set and measure
    let md = read(&out.join("report.md"));
    for heading in [
        "## At a glance",
        "## Learning: performance with the clear cue",
        "## A. Robustness to context ambiguity",
        "### mixture",
        "### noise",
        "### uniform",
        "### amplitude",
        "## B. Task packing",
        "## C. Dynamics",
        "## D. Task switching",
        "## E. The paper's claim: complementarity and synergy",
        "### Synergy: a combined set against the better of its single pathways",
        "### Complementarity",
        "### Time scales",
    ] {
        assert!(md.contains(heading), "report.md lacks {heading}");
    }
    // the report opens with the table of every measure × set, before the sections
    let glance = md.find("## At a glance").expect("glance");
    assert!(glance < md.find("## Learning").expect("learning"));
    assert!(md.contains("| measure | gain − bias | synaptic − bias |"), "the opening table names the sets");
    assert!(!md.contains("p = <"), "p < 0.001 reads as such");
    // 23 measures (2 of learning, 3 for each of 4 kinds, tasks held at 2 sizes, 7 of the
    // dynamics) × 6 sets against bias, the switch cost of the 10 (set, pathway) pairs against
    // bias's bias pathway, and the three verdicts of section E
    let comparisons = read(&out.join("comparisons.txt"));
    assert_eq!(comparisons.lines().count(), 23 * 6 + 9 + 3, "{comparisons}");
    for verdict in ["synergy: ", "complementarity: ", "time scales: "] {
        assert!(comparisons.lines().any(|l| l.starts_with(verdict)), "{verdict}");
    }
    // bias alone gives every task context one spectrum
    let dynamics = read(&out.join("dynamics.csv"));
    let bias_spread: Vec<&str> =
        dynamics.lines().filter(|l| l.starts_with("bias-seed")).map(|l| l.split(',').nth(6).unwrap_or("")).collect();
    assert_eq!(bias_spread, ["0.000000", "0.000000"], "{dynamics}");
    assert!(comparisons.contains("bias+gain+synaptic: synaptic slowed vs bias: bias slowed"), "{comparisons}");
    assert!(comparisons.lines().filter(|l| l.contains(" vs ")).all(|l| (l.contains("p = ") || l.contains("p < ")) && l.contains("d_z = ")));
    // self-contained HTML: the figures are inline, nothing is fetched
    let html = read(&out.join("report.html"));
    assert_eq!(html.matches("<svg").count(), 14, "8 ambiguity figures, packing, 4 dynamics figures and switching inline");
    assert!(!html.contains(" src="), "no external resources");
    for stem in [
        "ambiguity-mixture",
        "ambiguity-noise-worst",
        "ambiguity-uniform",
        "ambiguity-amplitude",
        "packing",
        "dynamics-jacobian-spread",
        "dynamics-jacobian-radius",
        "dynamics-participation",
        "dynamics-angles",
        "switching",
    ] {
        assert!(out.join(format!("{stem}.png")).exists() && out.join(format!("{stem}.svg")).exists(), "{stem}");
        assert!(md.contains(&format!("({stem}.png)")), "report.md shows {stem}");
    }
    // the tables: every run, every kind
    let ambiguity = read(&out.join("ambiguity.csv"));
    let runs: std::collections::BTreeSet<&str> = ambiguity.lines().skip(1).map(|l| l.split(',').next().unwrap_or("")).collect();
    assert_eq!(runs.len(), 14, "7 sets × 2 seeds");
    assert_eq!(read(&out.join("dynamics.csv")).lines().count(), 1 + 14);
    // the switch test: 2 τ for each pathway of each run (the set without pathways has none)
    assert_eq!(read(&out.join("switching.csv")).lines().count(), 1 + 2 * 2 * (1 + 1 + 1 + 2 + 2 + 3));
    // packing: each task of each run at N = 16 and at N = 8, judged from its chance against the
    // other seed's ceiling
    let packing = read(&out.join("packing.csv"));
    assert_eq!(packing.lines().count(), 1 + 2 * 14 * 2, "{packing}");
    assert!(packing.lines().any(|l| l.starts_with("8,bias-n8-seed1,bias,1,fdanti,")), "{packing}");
    for line in packing.lines().skip(1) {
        let f: Vec<f64> = line.split(',').skip(5).take(4).map(|v| v.parse().expect("number")).collect();
        let (perf, chance, ceiling, score) = (f[0], f[1], f[2], f[3]);
        assert!((chance - 0.2).abs() < 0.03, "{line}: a go or anti task's chance is a random direction's");
        if ceiling > chance {
            assert!((score - (perf - chance) / (ceiling - chance)).abs() < 1e-5, "{line}");
        }
        assert_eq!(line.ends_with(",true"), ceiling > chance && score >= 0.9, "{line}");
    }
    // every run says how long it trained
    assert_eq!(read(&out.join("training.csv")).lines().count(), 1 + 28);

    // resume: finished runs are reused untouched
    let marker = out.join("runs/synaptic-seed1/dynamics.csv");
    let modified = std::fs::metadata(&marker).and_then(|m| m.modified()).expect("mtime");
    let again = ok(&reproduce(&out, &[]));
    assert!(again.contains("resuming: 28 of 28 runs already finished"), "{again}");
    assert_eq!(std::fs::metadata(&marker).and_then(|m| m.modified()).expect("mtime"), modified);
    // a run whose measurements were lost is measured again from its checkpoint, identically
    let before = read(&out.join("runs/gain-seed0/ambiguity.csv"));
    std::fs::remove_file(out.join("runs/gain-seed0/dynamics.csv")).expect("remove");
    let partial = ok(&reproduce(&out, &[]));
    assert!(partial.contains("resuming: 27 of 28"), "{partial}");
    assert_eq!(read(&out.join("runs/gain-seed0/ambiguity.csv")), before);
    assert_eq!(read(&out.join("ambiguity.csv")), ambiguity, "the same study gives the same tables");

    // shards: two halves, then the report, equal to the study run in one go
    let sharded = dir.path().join("sharded");
    let first = ok(&reproduce(&sharded, &["--shard", "0/2"]));
    assert!(first.contains("shard 0/2 done: 14 runs"), "{first}");
    assert!(!sharded.join("report.md").exists(), "a shard writes no report");
    ok(&reproduce(&sharded, &["--shard", "1/2"]));
    let joined = ok(&reproduce(&sharded, &[]));
    assert!(joined.contains("resuming: 28 of 28"), "{joined}");
    assert_eq!(read(&sharded.join("ambiguity.csv")), ambiguity);
    assert_eq!(read(&sharded.join("packing.csv")), packing);

    // a study written before packing joined it: its full runs are reused, its packing runs trained
    let older = dir.path().join("older");
    std::fs::create_dir_all(older.join("runs")).expect("mkdir");
    for unit in ["bias-seed0", "synaptic-seed1"] {
        let copied = Command::new("cp").arg("-r").arg(out.join("runs").join(unit)).arg(older.join("runs")).status().expect("cp");
        assert!(copied.success());
    }
    let plan = read(&out.join("reproduce-plan.toml"));
    let legacy = plan
        .replace("packing_sizes = [8]\n", "")
        .replace("# every run's settings before its pathways, seed and size", "# every run's settings before its pathways and seed");
    assert_ne!(legacy, plan);
    std::fs::write(older.join("reproduce-plan.toml"), legacy).expect("write");
    let upgraded = ok(&reproduce(&older, &[]));
    assert!(upgraded.contains("from before task packing") && upgraded.contains("resuming: 2 of 28"), "{upgraded}");
    assert_eq!(read(&older.join("reproduce-plan.toml")), plan);
    assert_eq!(read(&older.join("packing.csv")), packing);
    assert_eq!(read(&sharded.join("comparisons.txt")), comparisons);
}

#[test]
fn a_directory_of_another_study_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("reproduce-plan.toml"), "scale = \"full\"\n").expect("write");
    let output = reproduce(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("holds a study with other settings"), "{stderr}");
    assert!(!dir.path().join("runs").exists(), "nothing trained");

    let bad = reproduce(dir.path(), &["--shard", "3/2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_slurm_script_runs_the_shards_of_the_study() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("study.sbatch");
    let out = dir.path().join("shared study");
    let args = ["--slurm-script", script.to_str().expect("utf-8"), "--shards", "7", "--cpus", "4", "--binary", "/opt/modulab"];
    let printed = ok(&reproduce(&out, &args));
    assert!(printed.contains("when all 7 array tasks are done"), "{printed}");
    let text = read(&script);
    assert!(text.contains("#SBATCH --array=0-6\n") && text.contains("#SBATCH --cpus-per-task=4\n"), "{text}");
    let exec = format!(
        "exec /opt/modulab reproduce --out '{}' --scale tiny --quiet --jobs 4 --shard \"${{SLURM_ARRAY_TASK_ID}}/7\"\n",
        out.display()
    );
    assert!(text.contains(&exec), "{text}");
    assert!(!out.exists(), "writing the script runs nothing");
    // more shards than runs is refused
    let too_many = reproduce(&out, &["--slurm-script", script.to_str().expect("utf-8"), "--shards", "29"]);
    assert_eq!(too_many.status.code(), Some(2));
}
