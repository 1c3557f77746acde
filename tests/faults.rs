//! Faults: the binary killed with SIGKILL at random moments (and, for training, in the middle
//! of writing a checkpoint) during training, packing sweeps and reproduce runs. After every
//! kill what is on disk reads back whole and nothing finished is lost; run again, the work
//! resumes and ends with exactly the files of a run that was never interrupted.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use modulab::rng::Rng;
use modulab::train::{checkpoint, metrics};

mod common;

fn modulab(args: &[&str]) -> Command {
    let mut command = common::command(args);
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    command
}

fn run_to_end(args: &[&str]) {
    let o = modulab(args).output().expect("the binary runs");
    assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// How a run is stopped.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// SIGKILL after this long.
    After(Duration),
    /// SIGKILL as soon as a temporary file of an atomic write shows in this directory (a
    /// checkpoint being written: the file exists from its creation to its rename).
    MidWrite,
}

/// Start `args`, kill it as `kill` says; whether it was killed (false: it finished first).
fn run_and_kill(args: &[&str], kill: Kill, watch: &Path) -> bool {
    let mut child: Child = modulab(args).spawn().expect("the binary starts");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{args:?} failed on its own: {status}");
            return false;
        }
        let due = match kill {
            Kill::After(delay) => started.elapsed() >= delay,
            // this process's own (an earlier kill's leftover is not a write under way)
            Kill::MidWrite => temporaries_of(watch, &format!(".tmp{}-", child.id())) > 0,
        };
        if due {
            child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
            child.wait().expect("reaped");
            return true;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{args:?} ran for 5 minutes");
        std::thread::sleep(Duration::from_micros(if matches!(kill, Kill::MidWrite) { 100 } else { 2000 }));
    }
}

/// Kills before a run is left to finish.
const MAX_KILLS: usize = 10;

/// Run `args()` again and again, killed as `kill(attempt)` says, until it finishes on its own
/// (after [`MAX_KILLS`] kills it runs to the end); `check(kills, kill)` looks at what each kill
/// left. Returns the number of kills.
fn kill_until_done(
    args: impl Fn() -> Vec<String>,
    watch: &Path,
    mut kill: impl FnMut(usize) -> Kill,
    mut check: impl FnMut(usize, Kill),
) -> usize {
    for attempt in 0..MAX_KILLS {
        let how = kill(attempt);
        if !run_and_kill(&as_refs(&args()), how, watch) {
            return attempt;
        }
        check(attempt + 1, how);
    }
    run_to_end(&as_refs(&args()));
    MAX_KILLS
}

/// Temporary files of atomic writes (`.NAME.tmpPID-N`) in `dir`.
fn temporaries(dir: &Path) -> usize {
    temporaries_of(dir, ".tmp")
}

/// The files in `dir` whose name contains `marker`.
fn temporaries_of(dir: &Path, marker: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().contains(marker)).count())
        .unwrap_or(0)
}

/// A random moment early in a run that takes `whole` uninterrupted (2 % to 35 % of it, so a
/// resumed run, which has less left to do, is still hit), from the test's own seeded stream:
/// the same share of the work on a fast or a slow machine.
fn moment(rng: &mut Rng, whole: Duration) -> Duration {
    whole.mul_f64(0.02 + 0.33 * rng.uniform())
}

/// Run to the end; how long it took.
fn timed_run(args: &[&str]) -> Duration {
    let started = Instant::now();
    run_to_end(args);
    started.elapsed()
}

fn as_refs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// metrics.csv without the wall-clock column, which differs between runs.
fn metrics_without_time(dir: &Path) -> Vec<String> {
    read(&dir.join("metrics.csv"))
        .lines()
        .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 3).map(|(_, f)| f).collect::<Vec<_>>().join(","))
        .collect()
}

const TRAIN: &[&str] = &[
    "train",
    "--preset",
    "quick",
    "--seed",
    "5",
    "--steps",
    "200",
    "--quiet",
    "--set",
    "model.n_units=128",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.eval_every=10",
    "--set",
    "train.eval_trials=16",
    "--set",
    "train.checkpoint_every=3",
];

#[test]
fn training_killed_mid_checkpoint_and_at_random_resumes_to_the_same_network() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    let args = |out: &Path, resume: bool| {
        let mut a: Vec<String> = TRAIN.iter().map(|s| s.to_string()).collect();
        a.extend(["--out".into(), out.to_str().unwrap().into()]);
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let whole = timed_run(&as_refs(&args(&reference, false)));

    let out = dir.path().join("killed");
    let mut rng = Rng::seed_from(15);
    let (mut mid_write, mut last_step) = (0, 0);
    let resume = || out.join("checkpoint").join(checkpoint::STATE_FILE).exists();
    let kill = |attempt: usize| if attempt.is_multiple_of(2) { Kill::MidWrite } else { Kill::After(moment(&mut rng, whole)) };
    let kills = kill_until_done(
        || args(&out, resume()),
        &out.join("checkpoint"),
        kill,
        |kills, how| {
            if matches!(how, Kill::MidWrite) {
                mid_write += 1;
            }
            // what the kill left reads back whole, and no finished step was lost
            if resume() {
                let ckpt = checkpoint::load_run_dir(&out).unwrap_or_else(|e| panic!("after kill {kills} ({how:?}): {e}"));
                assert!(ckpt.step >= last_step, "the checkpoint went back from step {last_step} to {}", ckpt.step);
                last_step = ckpt.step;
            }
            if out.join("metrics.csv").exists() {
                let tasks = modulab::config::Config::from_preset("quick", &[]).unwrap().train.tasks;
                metrics::parse(&read(&out.join("metrics.csv")), &tasks).unwrap_or_else(|e| panic!("metrics.csv after kill {kills}: {e}"));
            }
        },
    );
    eprintln!("training: {kills} kills, {mid_write} in the middle of a checkpoint write, the last at step {last_step}");
    assert!(mid_write >= 3, "the checkpoint writes were hit ({mid_write} times)");

    // resumed to the end, it is the network of the run that was never interrupted
    let (a, b) = (checkpoint::load_run_dir(&reference).unwrap(), checkpoint::load_run_dir(&out).unwrap());
    assert_eq!((a.step, &a.params, &a.adam.m), (b.step, &b.params, &b.adam.m));
    assert_eq!(metrics_without_time(&reference), metrics_without_time(&out));
    assert_eq!((temporaries(&out), temporaries(&out.join("checkpoint"))), (0, 0), "the killed writes' temporary files are gone");
}

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
    "150",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.eval_every=5",
    "--set",
    "train.eval_trials=8",
    "--jobs",
    "2",
    "--quiet",
];

#[test]
fn a_packing_sweep_killed_at_random_keeps_its_cells_and_resumes_to_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let with_out = |out: &Path| {
        let mut a: Vec<&str> = PACKING.to_vec();
        a.extend(["--out", out.to_str().unwrap()]);
        a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let reference = dir.path().join("reference");
    let a = with_out(&reference);
    let whole = timed_run(&as_refs(&a));
    let table = read(&reference.join("packing.csv"));
    let reference_rows: Vec<&str> = table.lines().collect();

    let out = dir.path().join("killed");
    let mut rng = Rng::seed_from(16);
    let mut rows_before = Vec::<String>::new();
    let kills = kill_until_done(
        || with_out(&out),
        &out,
        |_| Kill::After(moment(&mut rng, whole)),
        |kills, _| {
            if let Ok(text) = std::fs::read_to_string(out.join("packing.csv")) {
                modulab::experiments::packing::parse_csv(&text, "after a kill")
                    .unwrap_or_else(|e| panic!("packing.csv after kill {kills}: {e}"));
                let rows: Vec<String> = text.lines().map(str::to_string).collect();
                for row in &rows {
                    assert!(reference_rows.contains(&row.as_str()), "a row the uninterrupted sweep does not have: {row}");
                }
                for row in &rows_before {
                    assert!(rows.contains(row), "a finished cell was lost: {row}");
                }
                rows_before = rows;
            }
        },
    );
    eprintln!("packing: {kills} kills, {} rows kept at the last", rows_before.len().saturating_sub(1));
    assert!(kills >= 2, "the sweep was interrupted ({kills} times)");
    assert_eq!(read(&out.join("packing.csv")), table, "resumed, the table is the uninterrupted sweep's");
    assert_eq!(temporaries(&out), 0, "the killed writes' temporary files are gone");
}

#[test]
fn a_reproduce_run_killed_at_random_resumes_to_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let study = |out: &Path| {
        vec!["reproduce".to_string(), "--scale".into(), "tiny".into(), "--quiet".into(), "--out".into(), out.to_str().unwrap().into()]
    };
    let reference = dir.path().join("reference");
    let a = study(&reference);
    let whole = timed_run(&as_refs(&a));

    let out = dir.path().join("killed");
    let mut rng = Rng::seed_from(17);
    let kills = kill_until_done(
        || study(&out),
        &out,
        |_| Kill::After(moment(&mut rng, whole)),
        |kills, _| {
            // every run the study kept reads back whole
            for run in std::fs::read_dir(out.join("runs")).into_iter().flatten().filter_map(Result::ok) {
                if run.path().join("checkpoint").join(checkpoint::STATE_FILE).exists() {
                    checkpoint::load_run_dir(&run.path()).unwrap_or_else(|e| panic!("after kill {kills}: {e}"));
                }
            }
        },
    );
    eprintln!("reproduce: {kills} kills");
    assert!(kills >= 2, "the study was interrupted ({kills} times)");
    for file in ["ambiguity.csv", "packing.csv", "dynamics.csv", "switching.csv", "comparisons.txt", "report.md"] {
        let (resumed, straight) = (without_invocation(&read(&out.join(file))), without_invocation(&read(&reference.join(file))));
        assert!(resumed == straight, "{file} differs after resuming");
    }
    assert_eq!(temporaries(&out), 0, "the killed writes' temporary files are gone");
}

/// The report without its sentence on this invocation (runs trained now and earlier, minutes).
fn without_invocation(text: &str) -> String {
    match text.find("This invocation") {
        Some(at) => format!("{}{}", &text[..at], &text[at..].split_once('\n').map_or("", |(_, rest)| rest)),
        None => text.to_string(),
    }
}
