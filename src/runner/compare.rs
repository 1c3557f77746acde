//! Saved runs compared with the current one in the Ambiguity panel: each is read from disk and
//! swept by [`crate::experiments::sweep::sweep_run`] (the function behind `modulab sweep
//! ambiguity`) one level at a time, as a [`CompareJob`] on a thread of its own ([`JobQueue`]), so
//! a sweep stops within a level of being cancelled and the worker's training goes on meanwhile.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::job::{Job, JobError, Stopped};
use super::queue::JobQueue;
use super::sweep::SWEEP_TRIALS;
use super::wake::UiWaker;
use crate::analysis::AmbiguityKind;
use crate::experiments::sweep::{self, AmbiguityRow, TrainedRun};

/// What a comparison job has so far.
#[derive(Clone, Default)]
pub struct CompareOutput {
    /// The run, once read.
    pub run: Option<Arc<TrainedRun>>,
    /// The sweep's rows so far, level by level (every task of a level arrives at once).
    pub rows: Vec<AmbiguityRow>,
    pub stopped: Option<Stopped>,
}

/// Read a run (unless it is already loaded), then score it at each level of one ambiguity kind.
pub struct CompareJob {
    /// The directory to read the run from first.
    dir: Option<PathBuf>,
    kind: AmbiguityKind,
    levels: Vec<f32>,
    next: usize,
    output: CompareOutput,
}

impl CompareJob {
    /// Read the run in `dir`, then sweep it.
    pub fn load(dir: PathBuf, kind: AmbiguityKind, levels: Vec<f32>) -> Self {
        CompareJob { dir: Some(dir), kind, levels, next: 0, output: CompareOutput::default() }
    }

    /// Sweep a run already read.
    pub fn sweep(run: Arc<TrainedRun>, kind: AmbiguityKind, levels: Vec<f32>) -> Self {
        CompareJob { dir: None, kind, levels, next: 0, output: CompareOutput { run: Some(run), ..CompareOutput::default() } }
    }
}

impl Job for CompareJob {
    type Output = CompareOutput;

    fn name(&self) -> &'static str {
        "comparison"
    }

    fn unit(&mut self, _cancel: &AtomicBool) -> Result<bool, JobError> {
        let run = match (&self.output.run, self.dir.take()) {
            (Some(run), _) => run.clone(),
            (None, Some(dir)) => {
                let run = TrainedRun::load(&dir).map_err(|source| JobError::Load { dir: dir.display().to_string(), source })?;
                self.output.run = Some(Arc::new(run));
                return Ok(self.levels.is_empty());
            }
            (None, None) => return Ok(true),
        };
        // the same trials per task as the current run's sweep; one context draw per trial
        // (noise is fresh in every trial)
        let level = self.levels[self.next];
        self.output.rows.extend(sweep::sweep_run(&run, self.kind, &[level], Some(SWEEP_TRIALS), 1, &mut || {})?);
        self.next += 1;
        Ok(self.next >= self.levels.len())
    }

    fn output(&self) -> &CompareOutput {
        &self.output
    }

    fn stop(&mut self, why: Stopped) {
        self.output.stopped = Some(why);
    }
}

/// A saved run loaded for comparison, with its sweep so far.
pub struct ComparedRun {
    pub dir: PathBuf,
    /// How the plot names it: the directory's name and the run's pathways, `bias-s1 (bias)`.
    pub label: String,
    pub run: Arc<TrainedRun>,
    /// The kind and levels of the sweep under way or done (None: not swept yet).
    pub swept: Option<(AmbiguityKind, Vec<f32>)>,
    /// The sweep's rows so far, as `modulab sweep ambiguity` writes them.
    pub rows: Vec<AmbiguityRow>,
    /// Raised to stop this run's sweep (a new sweep, Cancel or Remove).
    cancel: Arc<AtomicBool>,
    /// The job id of this run's current sweep (updates of an older one are dropped).
    job: u64,
}

impl ComparedRun {
    /// A run not swept yet.
    pub fn new(dir: PathBuf, label: String, run: Arc<TrainedRun>) -> Self {
        ComparedRun { dir, label, run, swept: None, rows: Vec::new(), cancel: Arc::new(AtomicBool::new(false)), job: u64::MAX }
    }

    /// Its sweep was stopped (cancelled, failed or replaced) before every level was measured.
    pub fn is_stopped(&self) -> bool {
        let (done, total) = self.progress();
        done < total && self.cancel.load(Ordering::Relaxed)
    }

    /// (levels done, levels in the sweep).
    pub fn progress(&self) -> (usize, usize) {
        let total = self.swept.as_ref().map_or(0, |(_, levels)| levels.len());
        (self.summary().len(), total)
    }

    /// (level, mean, min) over tasks of every level measured.
    pub fn summary(&self) -> Vec<(f32, f32, f32)> {
        summarise(&self.rows)
    }
}

/// (level, mean over tasks, worst task) of rows, one per level, in the order levels appear.
pub fn summarise(rows: &[AmbiguityRow]) -> Vec<(f32, f32, f32)> {
    let mut out: Vec<(f32, f32, f32, usize)> = Vec::new();
    for row in rows {
        match out.iter_mut().find(|(level, ..)| *level == row.level) {
            Some((_, sum, min, n)) => {
                *sum += row.perf;
                *min = min.min(row.perf);
                *n += 1;
            }
            None => out.push((row.level, row.perf, row.perf, 1)),
        }
    }
    out.into_iter().map(|(level, sum, min, n)| (level, sum / n as f32, min)).collect()
}

/// The label of a run directory: its last component and the run's pathways.
pub fn run_label(dir: &Path, pathways: &str) -> String {
    let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    format!("{name} ({pathways})")
}

/// A message for the status bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Info(String),
    Error(String),
}

/// A run being read, to be swept at `levels` of `kind` once it is.
struct Loading {
    job: u64,
    dir: PathBuf,
    cancel: Arc<AtomicBool>,
    kind: AmbiguityKind,
    levels: Vec<f32>,
}

/// The runs loaded for comparison and the thread that loads and sweeps them (started with the
/// first run; stopped and joined on drop).
#[derive(Default)]
pub struct Comparisons {
    runs: Vec<ComparedRun>,
    /// Runs asked for and still loading.
    loading: Vec<Loading>,
    next_id: u64,
    queue: Option<JobQueue<CompareJob>>,
}

impl Comparisons {
    pub fn runs(&self) -> &[ComparedRun] {
        &self.runs
    }

    /// Directories still loading.
    pub fn loading(&self) -> impl Iterator<Item = &Path> {
        self.loading.iter().map(|l| l.dir.as_path())
    }

    fn submit(&mut self, job: CompareJob, cancel: Arc<AtomicBool>, wake: Option<UiWaker>) -> Result<u64, String> {
        if self.queue.is_none() {
            let wake = wake.ok_or("the comparison thread is not running")?;
            let queue = JobQueue::spawn("modulab-compare", wake).map_err(|e| format!("cannot start the comparison thread: {e}"))?;
            self.queue = Some(queue);
        }
        let id = self.next_id;
        self.next_id += 1;
        let queue = self.queue.as_ref().ok_or("the comparison thread is not running")?;
        if queue.submit(id, job, cancel) { Ok(id) } else { Err("the comparison thread stopped; restart the app".into()) }
    }

    /// Read the run in `dir` and sweep it at `levels` of `kind` (on the thread); `wake` is
    /// called after each of its updates. A problem starting the thread is returned.
    pub fn add(&mut self, dir: PathBuf, kind: AmbiguityKind, levels: &[f32], wake: UiWaker) -> Option<String> {
        let cancel = Arc::new(AtomicBool::new(false));
        match self.submit(CompareJob::load(dir.clone(), kind, levels.to_vec()), cancel.clone(), Some(wake)) {
            Ok(job) => {
                self.loading.push(Loading { job, dir, cancel, kind, levels: levels.to_vec() });
                None
            }
            Err(e) => Some(e),
        }
    }

    pub fn remove(&mut self, index: usize) {
        if index < self.runs.len() {
            let run = self.runs.remove(index);
            run.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Sweep every loaded run at these levels of `kind`, replacing sweeps under way.
    pub fn sweep_all(&mut self, kind: AmbiguityKind, levels: &[f32]) -> Option<String> {
        let mut problem = None;
        for index in 0..self.runs.len() {
            let cancel = Arc::new(AtomicBool::new(false));
            let job = CompareJob::sweep(self.runs[index].run.clone(), kind, levels.to_vec());
            match self.submit(job, cancel.clone(), None) {
                Ok(id) => {
                    let run = &mut self.runs[index];
                    run.cancel.store(true, Ordering::Relaxed);
                    (run.cancel, run.job, run.swept) = (cancel, id, Some((kind, levels.to_vec())));
                    run.rows.clear();
                }
                Err(e) => problem = Some(e),
            }
        }
        problem
    }

    /// Stop every sweep under way (the levels measured so far stay).
    pub fn cancel(&mut self) {
        self.runs.iter().for_each(|run| run.cancel.store(true, Ordering::Relaxed));
    }

    /// Whether a loaded run's sweep is under way.
    pub fn sweeping(&self) -> bool {
        self.runs.iter().any(|r| {
            let (done, total) = r.progress();
            done < total && !r.is_stopped()
        })
    }

    /// Take the thread's updates. Returns the messages for the status bar.
    pub fn poll(&mut self) -> Vec<Notice> {
        let Some(queue) = &self.queue else { return Vec::new() };
        let mut notices = Vec::new();
        for update in queue.updates() {
            if let Some(failure) = update.failure {
                notices.push(Notice::Error(failure));
            }
            if let Some(at) = self.loading.iter().position(|l| l.job == update.id) {
                let Some(run) = update.output.run.clone() else {
                    if update.ended {
                        self.loading.remove(at); // it could not be read: the failure says why
                    }
                    continue;
                };
                let Loading { job, dir, cancel, kind, levels } = self.loading.remove(at);
                let mut label = run_label(&dir, &run.pathways());
                // two runs with one name would share a legend entry
                let same = self.runs.iter().filter(|r| r.label == label || r.label.starts_with(&format!("{label} #"))).count();
                if same > 0 {
                    label = format!("{label} #{}", same + 1);
                }
                notices.push(Notice::Info(format!("loaded {} (step {}) for comparison", dir.display(), run.step)));
                self.runs.push(ComparedRun { swept: Some((kind, levels)), cancel, job, ..ComparedRun::new(dir, label, run) });
            }
            // a removed run's updates, or a replaced sweep's, find no run
            if let Some(run) = self.runs.iter_mut().find(|r| r.job == update.id) {
                run.rows.clone_from(&update.output.rows);
                if update.ended {
                    run.cancel.store(true, Ordering::Relaxed);
                }
            }
        }
        notices
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::config::Config;
    use crate::tasks::Task;
    use crate::train::{Trainer, checkpoint};

    fn row(run: &str, level: f32, task: Task, perf: f32) -> AmbiguityRow {
        AmbiguityRow { run: run.into(), pathways: "bias".into(), seed: 0, kind: AmbiguityKind::Mixture, level, task, perf }
    }

    #[test]
    fn summaries_average_the_tasks_of_each_level_in_order() {
        let rows = vec![
            row("a", 0.5, Task::FdGo, 1.0),
            row("a", 0.5, Task::FdAnti, 0.5),
            row("a", 0.0, Task::FdGo, 0.25),
            row("a", 0.0, Task::FdAnti, 0.75),
        ];
        assert_eq!(summarise(&rows), vec![(0.5, 0.75, 0.5), (0.0, 0.5, 0.25)]);
        assert_eq!(run_label(Path::new("runs/bias-s0"), "bias+synaptic"), "bias-s0 (bias+synaptic)");
    }

    #[test]
    fn a_compared_run_loads_and_sweeps_and_a_bad_directory_is_an_error() {
        let tiny = Config::from_preset("quick", &["model.n_units=8".into(), r#"train.tasks=["fdgo","fdanti"]"#.into()]).expect("config");
        let dir = tempfile::tempdir().expect("tempdir");
        let run_dir = dir.path().join("saved");
        let mut trainer = Trainer::new(tiny);
        trainer.step = 3;
        checkpoint::save(&run_dir.join("checkpoint"), &trainer).expect("saved");
        let mut compare = Comparisons::default();
        let levels = [0.0, 1.0];
        let add = |compare: &mut Comparisons, dir: PathBuf| compare.add(dir, AmbiguityKind::Uniform, &levels, UiWaker::none());
        assert!(add(&mut compare, run_dir.clone()).is_none());
        assert!(add(&mut compare, dir.path().join("missing")).is_none());
        // a corrupt checkpoint: the saved one, truncated
        let corrupt = dir.path().join("corrupt");
        std::fs::create_dir_all(corrupt.join("checkpoint")).expect("dir");
        let bytes = std::fs::read(run_dir.join("checkpoint").join("state.bin")).expect("state.bin");
        std::fs::write(corrupt.join("checkpoint").join("state.bin"), &bytes[..bytes.len() / 2]).expect("write");
        assert!(add(&mut compare, corrupt).is_none());
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut notices = Vec::new();
        while compare.runs().first().is_none_or(|r| r.progress() != (2, 2)) || compare.loading().count() > 0 {
            assert!(Instant::now() < deadline, "timed out; {notices:?}");
            notices.extend(compare.poll());
            std::thread::sleep(Duration::from_millis(10));
        }
        let run = &compare.runs()[0];
        assert_eq!(run.label, "saved (bias)");
        assert_eq!(run.rows.len(), 4, "2 levels × 2 tasks");
        assert!(run.rows.iter().all(|r| r.kind == AmbiguityKind::Uniform && (0.0..=1.0).contains(&r.perf)));
        assert!(!run.is_stopped() && !compare.sweeping());
        let refused = |what: &str| {
            notices.iter().any(|n| matches!(n, Notice::Error(text) if text.contains("cannot load run") && text.contains(what)))
        };
        assert!(refused("missing") && refused("corrupt"), "{notices:?}");
        assert_eq!(compare.runs().len(), 1, "only the good run is added");
        // a new sweep replaces the rows; cancelling stops it; removing the run drops it
        assert!(compare.sweep_all(AmbiguityKind::Mixture, &[0.5, 0.6, 0.7, 0.8, 0.9]).is_none());
        assert!(compare.runs()[0].rows.is_empty() && compare.sweeping());
        compare.cancel();
        assert!(!compare.sweeping());
        compare.remove(0);
        assert!(compare.runs().is_empty());
    }
}
