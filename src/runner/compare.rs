//! Saved runs compared with the current one in the Ambiguity panel: each is read from disk and
//! swept by [`crate::experiments::sweep::sweep_run`] (the function behind `modulab sweep
//! ambiguity`) one level at a time, as a [`CompareJob`] on a thread of its own (the job host's
//! comparison lane), so a sweep stops within a level of being cancelled and the worker's
//! training goes on meanwhile.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::host::{JobHost, JobId, JobState};
use super::job::{Job, JobError, Stopped};
use crate::analysis::AmbiguityKind;
use crate::experiments::sweep::{self, AmbiguityRow, SWEEP_TRIALS, TrainedRun};

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
    /// The job of this run's current sweep, while it runs.
    job: Option<JobId>,
    /// Its sweep ended before every level was measured (cancelled, failed or replaced).
    stopped: bool,
}

impl ComparedRun {
    /// A run not swept yet.
    pub fn new(dir: PathBuf, label: String, run: Arc<TrainedRun>) -> Self {
        ComparedRun { dir, label, run, swept: None, rows: Vec::new(), job: None, stopped: false }
    }

    /// Its sweep was stopped (cancelled, failed or replaced) before every level was measured.
    pub fn is_stopped(&self) -> bool {
        let (done, total) = self.progress();
        done < total && self.stopped
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
    job: JobId,
    dir: PathBuf,
    kind: AmbiguityKind,
    levels: Vec<f32>,
}

/// The lane of the job host the comparisons run on.
const LANE: &str = "modulab-compare";

/// The runs loaded for comparison, and those still loading (each a job on the comparison lane).
#[derive(Default)]
pub struct Comparisons {
    runs: Vec<ComparedRun>,
    /// Runs asked for and still loading.
    loading: Vec<Loading>,
}

impl Comparisons {
    pub fn runs(&self) -> &[ComparedRun] {
        &self.runs
    }

    /// Directories still loading.
    pub fn loading(&self) -> impl Iterator<Item = &Path> {
        self.loading.iter().map(|l| l.dir.as_path())
    }

    /// Read the run in `dir` and sweep it at `levels` of `kind` (on the comparison lane). A
    /// problem starting the thread is returned.
    pub fn add(&mut self, dir: PathBuf, kind: AmbiguityKind, levels: &[f32], jobs: &mut JobHost) -> Option<String> {
        match jobs.on_thread(LANE, CompareJob::load(dir.clone(), kind, levels.to_vec())) {
            Ok(job) => {
                self.loading.push(Loading { job, dir, kind, levels: levels.to_vec() });
                None
            }
            Err(e) => Some(e),
        }
    }

    pub fn remove(&mut self, index: usize, jobs: &JobHost) {
        if index < self.runs.len() {
            let run = self.runs.remove(index);
            if let Some(job) = run.job {
                jobs.forget(job);
            }
        }
    }

    /// Sweep every loaded run at these levels of `kind`, replacing sweeps under way.
    pub fn sweep_all(&mut self, kind: AmbiguityKind, levels: &[f32], jobs: &mut JobHost) -> Option<String> {
        let mut problem = None;
        for run in &mut self.runs {
            if let Some(old) = run.job.take() {
                jobs.forget(old);
            }
            match jobs.on_thread(LANE, CompareJob::sweep(run.run.clone(), kind, levels.to_vec())) {
                Ok(id) => {
                    (run.job, run.swept, run.stopped) = (Some(id), Some((kind, levels.to_vec())), false);
                    run.rows.clear();
                }
                Err(e) => problem = Some(e),
            }
        }
        problem
    }

    /// Stop every sweep under way (the levels measured so far stay: the next [`Comparisons::poll`]
    /// takes each job's last output when it has stopped).
    pub fn cancel(&mut self, jobs: &JobHost) {
        self.runs.iter().filter_map(|run| run.job).for_each(|job| jobs.cancel(job));
    }

    /// Whether a loaded run's sweep is under way.
    pub fn sweeping(&self) -> bool {
        self.runs.iter().any(|r| r.job.is_some())
    }

    /// Take the jobs' new outputs. Returns the messages for the status bar (a job's failure
    /// reaches it through the host).
    pub fn poll(&mut self, jobs: &JobHost) -> Vec<Notice> {
        let mut notices = Vec::new();
        let mut at = 0;
        while at < self.loading.len() {
            let id = self.loading[at].job;
            let (state, output) = jobs.snapshot::<CompareOutput>(id).unzip();
            let run = output.flatten().and_then(|o| o.run.clone());
            let Some(run) = run else {
                if state.is_none_or(|s| s.ended()) {
                    // it could not be read: the failure says why
                    self.loading.remove(at);
                    jobs.forget(id);
                } else {
                    at += 1;
                }
                continue;
            };
            let Loading { job, dir, kind, levels } = self.loading.remove(at);
            let mut label = run_label(&dir, &run.pathways());
            // two runs with one name would share a legend entry
            let same = self.runs.iter().filter(|r| r.label == label || r.label.starts_with(&format!("{label} #"))).count();
            if same > 0 {
                label = format!("{label} #{}", same + 1);
            }
            notices.push(Notice::Info(format!("loaded {} (step {}) for comparison", dir.display(), run.step)));
            self.runs.push(ComparedRun { swept: Some((kind, levels)), job: Some(job), ..ComparedRun::new(dir, label, run) });
        }
        for run in &mut self.runs {
            let Some(id) = run.job else { continue };
            let (state, output) = jobs.snapshot::<CompareOutput>(id).unzip();
            if let Some(output) = output.flatten() {
                run.rows.clone_from(&output.rows);
            }
            if state.as_ref().is_none_or(JobState::ended) {
                run.stopped = state != Some(JobState::Done);
                run.job = None;
                jobs.forget(id);
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
        let mut jobs = JobHost::new(crate::runner::UiWaker::none());
        let mut add = |compare: &mut Comparisons, dir: PathBuf| compare.add(dir, AmbiguityKind::Uniform, &levels, &mut jobs);
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
            notices.extend(compare.poll(&jobs));
            notices.extend(jobs.take_failures().into_iter().map(Notice::Error));
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
        assert!(compare.sweep_all(AmbiguityKind::Mixture, &[0.5, 0.6, 0.7, 0.8, 0.9], &mut jobs).is_none());
        assert!(compare.runs()[0].rows.is_empty() && compare.sweeping());
        compare.cancel(&jobs);
        let deadline = Instant::now() + Duration::from_secs(60);
        while compare.sweeping() {
            assert!(Instant::now() < deadline, "the cancelled sweep did not stop");
            compare.poll(&jobs);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(compare.runs()[0].is_stopped(), "{:?}", compare.runs()[0].progress());
        compare.remove(0, &jobs);
        assert!(compare.runs().is_empty());
    }
}
