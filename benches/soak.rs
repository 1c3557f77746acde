//! A long run of the app with a scripted user: does it stay flat in memory and smooth?
//!
//! `cargo bench --bench soak` (add `-- SECONDS` for another length than an hour; the figures in
//! the README are from a run of at least 3 600 s). The real `ModulabApp` runs frames at a 60 Hz
//! pace through egui_kittest (every panel's logic, ui and layout, plus kittest's accessibility
//! tree, so the UI work counted is if anything more than eframe's) while its worker trains the
//! quick preset without end. Round after round the user moves the ambiguity slider and runs the
//! ambiguity sweep, lesions and restores a pathway, looks at the Trajectories and PCA tabs, runs
//! the dynamics analysis, the switch test and a small packing sweep, saves a checkpoint, every
//! second round exports the network and every third loads the previous checkpoint and trains on.
//!
//! Measured and printed (and written to target/soak/):
//! - resident memory (VmRSS) every 5 s; after the warm-up (the first sixth of the run, at least
//!   5 minutes) the level of the last 10 minutes against the first 10 minutes: their medians and
//!   their largest samples (target: within 5 %; see `summarize` for why levels, not samples);
//! - every frame's UI-thread CPU time (the work the frame did) and wall clock: median, p99, max
//!   and the frames over 16 ms (target: none over 16 ms of UI work);
//! - every checkpoint written is loaded back, every export read back (target: all).
//!
//! `soak --summary DIR WARM_UP` prints the figures again from a finished soak's CSV files.
//!
//! Any step of the script that fails (a control not found, a job that does not finish in its
//! time) is counted and printed, not fatal: the soak goes on and reports it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark stops at its first failure, with the message")]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use modulab::app::{AppOptions, ModulabApp};
use modulab::config::Config;
use modulab::experiments::dynamics::DynamicsResult;
use modulab::experiments::sweep::SweepResult;
use modulab::experiments::switching::SwitchResult;
use modulab::runner::RunState;

const FRAME_INTERVAL: Duration = Duration::from_micros(16_667);
const FRAME_BUDGET_MS: f64 = 16.0;
const RSS_EVERY: Duration = Duration::from_secs(5);
const MAX_RSS_GROWTH: f64 = 0.05;

fn config() -> Config {
    // trains for the whole soak (the quick preset, an evaluation every 100 steps)
    Config::from_preset("quick", &["train.steps=1000000000".into()]).expect("quick preset")
}

struct Soak {
    harness: Harness<'static, ModulabApp>,
    started: Instant,
    next_frame: Instant,
    next_rss: Instant,
    // The measurements go straight to their CSV files (through small buffers), so the soak's own
    // records do not grow inside the memory it measures.
    /// Per frame: seconds since start, UI CPU ms, wall ms.
    frames: Csv,
    /// Every 5 s: seconds since start, resident bytes, and the bytes the allocator has handed out
    /// and not got back (against the resident memory, it tells growing live data from freed
    /// memory the allocator keeps).
    rss: Csv,
    /// Seconds since start, the control clicked: what the user was doing at a slow frame.
    clicks: Csv,
    frame_count: u64,
    last_rss: u64,
    problems: Vec<String>,
    dir: PathBuf,
    checkpoints: Vec<PathBuf>,
    exports: Vec<PathBuf>,
}

impl Soak {
    fn new(dir: PathBuf) -> Self {
        let options = AppOptions { config: config(), preset: Some("quick".into()), file_dialogs: false, ..AppOptions::default() };
        let app = ModulabApp::new(options, None);
        let harness = Harness::builder().with_size([1400.0, 900.0]).build_ui_state(
            |ui, app: &mut ModulabApp| {
                let ctx = ui.ctx().clone();
                app.logic_ctx(&ctx);
                app.show(ui);
            },
            app,
        );
        let now = Instant::now();
        Soak {
            harness,
            started: now,
            next_frame: now,
            next_rss: now,
            frames: Csv::create(&dir.join(FRAMES_CSV), "secs,ui_cpu_ms,wall_ms"),
            rss: Csv::create(&dir.join(RSS_CSV), "secs,resident_bytes,heap_in_use_bytes"),
            clicks: Csv::create(&dir.join(CLICKS_CSV), "secs,control"),
            frame_count: 0,
            last_rss: 0,
            problems: Vec::new(),
            dir,
            checkpoints: Vec::new(),
            exports: Vec::new(),
        }
    }

    fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// One frame at the 60 Hz pace, timed; the memory sampled when due.
    fn frame(&mut self) {
        let (wall, cpu) = (Instant::now(), thread_cpu_time());
        self.harness.step();
        let (cpu_ms, wall_ms) = (ms(thread_cpu_time().saturating_sub(cpu)), ms(wall.elapsed()));
        let secs = self.secs();
        self.frames.row(format_args!("{secs:.3},{cpu_ms:.3},{wall_ms:.3}"));
        self.frame_count += 1;
        if Instant::now() >= self.next_rss {
            self.last_rss = resident_bytes();
            self.rss.row(format_args!("{secs:.1},{},{}", self.last_rss, heap_in_use_bytes()));
            self.next_rss += RSS_EVERY;
        }
        self.next_frame += FRAME_INTERVAL;
        match self.next_frame.checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            None => self.next_frame = Instant::now(),
        }
    }

    fn frames_for(&mut self, secs: f64) {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            self.frame();
        }
    }

    /// Frames until `done`, at most `limit` seconds; a timeout is a problem, not a panic.
    fn until(&mut self, what: &str, limit: f64, done: impl Fn(&ModulabApp) -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs_f64(limit);
        while !done(self.harness.state()) {
            if Instant::now() >= end {
                self.problem(format!("{what}: not within {limit} s"));
                return false;
            }
            self.frame();
        }
        true
    }

    fn problem(&mut self, text: String) {
        eprintln!("soak: at {:.0} s: {text}", self.secs());
        self.problems.push(text);
    }

    /// Click the control labelled `label` (the topmost, for tab names shared with headings).
    fn click(&mut self, label: &str) -> bool {
        let node = self.harness.query_all_by_label(label).min_by(|a, b| a.rect().min.y.total_cmp(&b.rect().min.y));
        match node {
            Some(node) => {
                node.click();
                let secs = self.secs();
                self.clicks.row(format_args!("{secs:.3},{label}"));
                self.frame();
                self.frame();
                true
            }
            None => {
                self.problem(format!("no control labelled '{label}'"));
                false
            }
        }
    }

    fn tab(&mut self, name: &str, look_secs: f64) {
        if self.click(name) {
            self.frames_for(look_secs);
        }
    }

    fn file(&mut self, item: &str, path: &Path, action: &str, done: &str) -> bool {
        if !(self.click("File") && self.click(item)) {
            return false;
        }
        match self.harness.query_by_label("File path") {
            Some(field) => field.set_text_value_accesskit(path.to_str().expect("utf-8 path")),
            None => {
                self.problem(format!("{item}: no path field"));
                return false;
            }
        }
        self.frame();
        self.frame();
        if !self.click(action) {
            return false;
        }
        let done = done.to_string();
        self.until(&format!("{item} {}", path.display()), 60.0, move |app| app.file_notice().is_some_and(|m| m.text.contains(&done)))
    }

    /// Training goes on (the Train button is on the Training tab).
    fn train(&mut self) {
        if self.harness.state().run_data().state != RunState::Running && self.click("Training") && self.click("Train") {
            self.until("training to start", 30.0, |app| app.run_data().state == RunState::Running);
        }
    }

    fn round(&mut self, round: usize) {
        self.train();
        // the ambiguity slider, then the sweep over every level
        if self.click("Ambiguity") {
            let level = (round % 10) as f64 / 10.0;
            match self.harness.query_by_role(Role::Slider) {
                Some(slider) => slider.set_value_accesskit(level),
                None => self.problem("no ambiguity slider".into()),
            }
            self.frames_for(2.0);
            if self.click("Sweep") {
                self.until("the ambiguity sweep", 120.0, |app| app.job_output::<SweepResult>().is_some_and(|s| s.is_complete()));
            }
        }
        // a lesion on and, a round later, off
        self.click("Lesion bias");
        self.tab("Trajectories", 3.0);
        self.tab("PCA", 3.0);
        if self.click("Dynamics") && self.click("Compute") {
            self.until("the dynamics analysis", 180.0, |app| app.job_output::<DynamicsResult>().is_some_and(|d| d.is_complete()));
        }
        if self.click("Switching") && self.click("Run switch test") {
            self.until("the switch test", 180.0, |app| app.job_output::<SwitchResult>().is_some_and(|r| r.is_complete()));
        }
        if self.click("Packing") {
            {
                let form = self.harness.state_mut().packing_mut().form_mut();
                form.sizes = "8,16".into();
                form.task_counts = "1,2".into();
                form.pathways = "bias,synaptic".into();
                form.budget_steps = 200;
            }
            self.frame();
            if self.click("Run") {
                self.until("the packing sweep", 300.0, |app| app.packing().end().is_some());
            }
            // the sweep pauses training; it goes on afterwards
            self.train();
        }
        self.tab("Training", 3.0);
        let checkpoint = self.dir.join(format!("checkpoint-{round}"));
        if self.file("Save checkpoint…", &checkpoint, "Save", "saved the run") {
            self.checkpoints.push(checkpoint);
        }
        if round % 2 == 1 {
            let export = self.dir.join(format!("network-{round}.npz"));
            if self.file("Export network…", &export, "Export network", "exported the network") {
                self.exports.push(export);
            }
        }
        if round % 3 == 2 && self.checkpoints.len() >= 2 {
            let previous = self.checkpoints[self.checkpoints.len() - 2].clone();
            if self.file("Load checkpoint…", &previous, "Load", "loaded") {
                self.train();
            }
        }
    }
}

const FRAMES_CSV: &str = "frames.csv";
const RSS_CSV: &str = "rss.csv";
const CLICKS_CSV: &str = "clicks.csv";

/// A CSV file written row by row.
struct Csv(BufWriter<File>);

impl Csv {
    fn create(path: &Path, header: &str) -> Self {
        let mut file = BufWriter::new(File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
        writeln!(file, "{header}").expect("a soak CSV");
        Csv(file)
    }

    fn row(&mut self, row: std::fmt::Arguments) {
        writeln!(self.0, "{row}").expect("a soak CSV");
    }

    fn finish(mut self) {
        self.0.flush().expect("a soak CSV");
    }
}

/// A finished soak's measurements, read back from its CSV files.
struct Measured {
    rss: Vec<(f64, u64)>,
    heap: Vec<(f64, u64)>,
    frames: Vec<(f64, f64, f64)>,
    clicks: Vec<(f64, String)>,
}

impl Measured {
    fn read(dir: &Path) -> Self {
        let rows = |file: &str| -> Vec<Vec<f64>> {
            let text = std::fs::read_to_string(dir.join(file)).expect("the soak's CSV");
            text.lines().skip(1).map(|l| l.split(',').map(|f| f.parse().expect("a number")).collect()).collect()
        };
        let samples = rows(RSS_CSV);
        let rss = samples.iter().map(|r| (r[0], r[1] as u64)).collect();
        let heap = samples.iter().filter(|r| r.len() > 2).map(|r| (r[0], r[2] as u64)).collect();
        let frames = rows(FRAMES_CSV).iter().map(|r| (r[0], r[1], r[2])).collect();
        let clicks = std::fs::read_to_string(dir.join(CLICKS_CSV))
            .map(|t| t.lines().skip(1).filter_map(|l| l.split_once(',')).map(|(t, c)| (t.parse().expect("secs"), c.to_string())).collect())
            .unwrap_or_default();
        Measured { rss, heap, frames, clicks }
    }
}

/// The median and largest of the samples between `from` and `to` seconds, in MB.
fn stretch_mb(samples: &[(f64, u64)], from: f64, to: f64) -> (f64, f64) {
    let mut mb: Vec<f64> = samples.iter().filter(|(t, _)| *t >= from && *t <= to).map(|(_, b)| *b as f64 / 1e6).collect();
    mb.sort_by(f64::total_cmp);
    assert!(!mb.is_empty(), "memory samples between {from} and {to} s");
    (percentile(&mb, 0.5), *mb.last().expect("samples"))
}

/// A least-squares line through the samples between `from` and `to` seconds: its values at
/// `from` and at `to`, in MB.
fn line_mb(samples: &[(f64, u64)], from: f64, to: f64) -> (f64, f64) {
    let points: Vec<(f64, f64)> = samples.iter().filter(|(t, _)| *t >= from && *t <= to).map(|&(t, b)| (t, b as f64 / 1e6)).collect();
    assert!(points.len() >= 2, "memory samples between {from} and {to} s");
    let n = points.len() as f64;
    let (mean_t, mean_y) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let slope = points.iter().map(|(t, y)| (t - mean_t) * (y - mean_y)).sum::<f64>()
        / points.iter().map(|(t, _)| (t - mean_t).powi(2)).sum::<f64>();
    (mean_y + slope * (from - mean_t), mean_y + slope * (to - mean_t))
}

/// CPU time used by the calling thread so far.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID exists on Linux
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    assert!(ok, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// This process's resident memory (VmRSS), in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).expect("VmRSS in kB") * 1024
}

/// Bytes in use in the allocator's heap (glibc's mallinfo2: every arena's allocated chunks and
/// the large blocks it maps directly).
fn heap_in_use_bytes() -> u64 {
    // SAFETY: mallinfo2 only reads the allocator's statistics
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as u64
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `soak --summary DIR WARM_UP`: the figures again from a finished soak's CSV files
    if let Some(at) = args.iter().position(|a| a == "--summary") {
        let dir = Path::new(args.get(at + 1).expect("--summary DIR WARM_UP"));
        let warm_up: f64 = args.get(at + 2).and_then(|w| w.parse().ok()).expect("--summary DIR WARM_UP");
        summarize(&Measured::read(dir), warm_up);
        return;
    }
    // the app's allocator settings, as `modulab gui` sets them before its threads start
    modulab::tune_allocator();
    modulab::share_one_arena();
    // `cargo bench` passes --bench; a number is the soak's length in seconds
    let secs: f64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(3600.0);
    let warm_up = (secs / 6.0).max(300.0).min(secs / 2.0);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("soak");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("target/soak");
    println!("soak: {secs:.0} s of the app (warm-up {warm_up:.0} s), files in {}", out.display());

    let mut soak = Soak::new(out.clone());
    soak.until("the worker", 60.0, |app| app.run_data().config.is_some());
    let mut round = 0;
    while soak.secs() < secs {
        soak.round(round);
        round += 1;
        let (step, rss) = (soak.harness.state().run_data().step, soak.last_rss);
        println!("soak: round {round} done at {:.0} s, step {step}, resident {:.1} MB", soak.secs(), rss as f64 / 1e6);
    }
    let elapsed = soak.secs();
    let steps = soak.harness.state().run_data().step;

    // every file written reads back
    drop(soak.harness);
    let bad_checkpoints: Vec<String> = soak
        .checkpoints
        .iter()
        .filter_map(|c| modulab::train::checkpoint::load_run_dir(c).err().map(|e| format!("{}: {e}", c.display())))
        .collect();
    let quick = config();
    let bad_exports: Vec<String> = soak
        .exports
        .iter()
        .filter_map(|e| modulab::train::exchange::import(e, &quick, None).err().map(|err| format!("{}: {err}", e.display())))
        .collect();

    soak.frames.finish();
    soak.rss.finish();
    soak.clicks.finish();

    println!("\nsoak: {elapsed:.0} s, {round} rounds, {} frames, trained to step {steps}", soak.frame_count);
    summarize(&Measured::read(&out), warm_up);
    println!(
        "checkpoints written {}, loaded back {}; exports written {}, read back {} [target all: {}]",
        soak.checkpoints.len(),
        soak.checkpoints.len() - bad_checkpoints.len(),
        soak.exports.len(),
        soak.exports.len() - bad_exports.len(),
        if bad_checkpoints.is_empty() && bad_exports.is_empty() { "met" } else { "MISSED" }
    );
    for bad in bad_checkpoints.iter().chain(&bad_exports) {
        println!("  unreadable: {bad}");
    }
    println!("script problems: {}", soak.problems.len());
    for p in &soak.problems {
        println!("  {p}");
    }
}

/// Print the memory and frame figures and whether they meet their targets.
///
/// Memory: the jobs (a packing sweep's threads, the dynamics analysis) take working memory and
/// give it back, so single samples swing by tens of percent within a round; a leak shows as a
/// level that drifts. So the level is compared: the median and the largest sample of the first
/// and of the last stretch after the warm-up (10 minutes each, or a third of what is left).
fn summarize(measured: &Measured, warm_up: f64) {
    let Measured { rss, heap, frames, clicks } = measured;
    let end = rss.last().expect("memory samples").0;
    let window = ((end - warm_up) / 3.0).min(600.0);
    let stretch = |from: f64, to: f64| stretch_mb(rss, from, to);
    let (first_median, first_max) = stretch(warm_up, warm_up + window);
    let (last_median, last_max) = stretch(end - window, end);
    let (median_growth, max_growth) = (last_median / first_median - 1.0, last_max / first_max - 1.0);
    let all: Vec<f64> = rss.iter().filter(|(t, _)| *t >= warm_up).map(|(_, b)| *b as f64 / 1e6).collect();
    let met = median_growth <= MAX_RSS_GROWTH && max_growth <= MAX_RSS_GROWTH;
    println!(
        "resident memory after the warm-up ({warm_up:.0} s), first {w:.0} s: median {first_median:.1} MB, largest {first_max:.1} MB; last {w:.0} s: median {last_median:.1} MB ({:+.1} %), largest {last_max:.1} MB ({:+.1} %) [target within 5 %: {}]; every sample after the warm-up {:.1}–{:.1} MB",
        100.0 * median_growth,
        100.0 * max_growth,
        if met { "met" } else { "MISSED" },
        all.iter().copied().fold(f64::INFINITY, f64::min),
        all.iter().copied().fold(0.0, f64::max),
        w = window,
    );
    // the same question asked of every sample after the warm-up: a least-squares line through them
    // (less at the mercy of where two 10-minute stretches happen to fall), and 5-minute medians
    let (from, to) = line_mb(rss, warm_up, end);
    let trend = to / from - 1.0;
    let blocks: Vec<String> = (0..)
        .map(|i| warm_up + 300.0 * f64::from(i))
        .take_while(|t| t + 300.0 <= end + 1.0)
        .map(|t| format!("{:.0}", stretch_mb(rss, t, t + 300.0).0))
        .collect();
    println!(
        "resident memory trend after the warm-up: a least-squares line from {from:.1} MB to {to:.1} MB ({:+.1} %) [a rise within 5 %: {}]; 5-minute medians (MB): {}",
        100.0 * trend,
        if trend <= MAX_RSS_GROWTH { "yes" } else { "no" },
        blocks.join(", ")
    );
    if !heap.is_empty() {
        let ((first, _), (last, _)) = (stretch_mb(heap, warm_up, warm_up + window), stretch_mb(heap, end - window, end));
        println!(
            "heap in use (the allocator's live bytes), medians of the same stretches: {first:.1} MB, then {last:.1} MB ({:+.1} %)",
            100.0 * (last / first - 1.0)
        );
    }
    let mut cpu: Vec<f64> = frames.iter().map(|f| f.1).collect();
    let mut wall: Vec<f64> = frames.iter().map(|f| f.2).collect();
    cpu.sort_by(f64::total_cmp);
    wall.sort_by(f64::total_cmp);
    let over_cpu = cpu.iter().filter(|&&c| c > FRAME_BUDGET_MS).count();
    let over_wall = wall.iter().filter(|&&w| w > FRAME_BUDGET_MS).count();
    println!(
        "{} frames, UI CPU time: median {:.2} / p99 {:.2} / max {:.2} ms, {over_cpu} over 16 ms [target none: {}]",
        cpu.len(),
        percentile(&cpu, 0.5),
        percentile(&cpu, 0.99),
        cpu.last().expect("frames"),
        if over_cpu == 0 { "met" } else { "MISSED" }
    );
    println!(
        "frames, wall clock: median {:.2} / p99 {:.2} / max {:.2} ms, {over_wall} over 16 ms",
        percentile(&wall, 0.5),
        percentile(&wall, 0.99),
        wall.last().expect("frames")
    );
    // the slowest frames, with the control clicked last before each
    let mut slowest: Vec<&(f64, f64, f64)> = frames.iter().filter(|f| f.1 > FRAME_BUDGET_MS / 2.0 || f.2 > FRAME_BUDGET_MS).collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (at, cpu, wall) in slowest.into_iter().take(10) {
        let last = clicks
            .iter()
            .rev()
            .find(|(t, _)| t <= at)
            .map_or("(nothing yet)", |(t, c)| if at - t < 60.0 { c } else { "(nothing for a minute)" });
        println!("  slow frame at {at:.0} s: UI CPU {cpu:.1} ms, wall {wall:.1} ms; last click: {last}");
    }
}
