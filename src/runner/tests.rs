//! The worker thread end to end: lifecycle, analyses, jobs beside training, checkpoints,
//! failures, back-pressure.

use std::time::{Duration, Instant};

use super::*;
use crate::analysis::{Ambiguity, AmbiguityKind};
use crate::config::Config;
use crate::experiments::sweep::{SWEEP_TRIALS, SweepJob, SweepResult, score_level};
use crate::experiments::switching::{SwitchJob, SwitchResult, SwitchSpec};
use crate::model::{ContextTaus, Pathway};
use crate::tasks::Task;
use crate::train::RunEnd;
use crate::train::metrics::{self, METRICS_FILE};
use crate::train::probe::{ProbeTrials, run_probe};
use crate::train::{Trainer, checkpoint};

/// A network small enough to step in a few milliseconds.
fn tiny() -> Config {
    Config::from_preset(
        "quick",
        &[
            "model.n_units=16".into(),
            "train.batch_size=8".into(),
            "train.eval_every=3".into(),
            "train.eval_trials=8".into(),
            "train.steps=12".into(),
        ],
    )
    .expect("tiny config")
}

/// Wait for an event matching `want`, collecting everything seen.
fn wait_for(worker: &Worker, seen: &mut Vec<Event>, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        while let Some(event) = worker.try_recv() {
            seen.push(event.clone());
            if want(&event) {
                return event;
            }
        }
        assert!(Instant::now() < deadline, "timed out; seen {seen:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Send the jobs submitted to `jobs` to the worker.
fn send_jobs(worker: &Worker, jobs: &mut JobHost) {
    for job in jobs.take_network_jobs() {
        assert!(worker.send(Command::Job(job)));
    }
}

/// Wait until job `id`'s output satisfies `want`.
fn wait_job<O: Send + Sync + 'static>(jobs: &JobHost, id: JobId, want: impl Fn(&O) -> bool) -> std::sync::Arc<O> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(output) = jobs.output::<O>(id)
            && want(&output)
        {
            return output;
        }
        assert!(Instant::now() < deadline, "timed out waiting for job {id}: {:?}", jobs.state(id));
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A switch test of the network the worker has.
fn switch_test(jobs: &mut JobHost, spec: SwitchSpec, taus_ms: Vec<f32>, combination: Option<ContextTaus>) -> JobId {
    jobs.on_network("switch test", move |net| {
        SwitchJob::new(net.config, net.params, net.step, &spec, taus_ms, combination).map_err(|e| e.to_string())
    })
}

/// Wait until training has finished: it may have while something else was awaited.
fn wait_finished(worker: &Worker, seen: &mut Vec<Event>) {
    if !seen.iter().any(|e| matches!(e, Event::Finished { .. })) {
        wait_for(worker, seen, |e| matches!(e, Event::Finished { .. }));
    }
}

fn losses(events: &[Event]) -> Vec<(u64, f32)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Step { step, loss, .. } => Some((*step, *loss)),
            _ => None,
        })
        .collect()
}

#[test]
fn lifecycle_start_pause_resume_reset_and_drop() {
    let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
    let mut seen = Vec::new();
    wait_for(&worker, &mut seen, |e| matches!(e, Event::State(RunState::Ready)));

    // step once: one step, then paused
    worker.send(Command::StepOnce);
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Step { step: 1, .. }));

    // start, then pause somewhere before the end
    worker.send(Command::Start);
    wait_for(&worker, &mut seen, |e| matches!(e, Event::State(RunState::Running)));
    worker.send(Command::Pause);
    wait_for(&worker, &mut seen, |e| matches!(e, Event::State(RunState::Paused | RunState::Finished)));

    // resume to the end
    worker.send(Command::Start);
    let finished = wait_for(&worker, &mut seen, |e| matches!(e, Event::Finished { .. }));
    assert!(matches!(finished, Event::Finished { step: 12, end: RunEnd::Finished }), "{finished:?}");

    // every step exactly once, and evaluations at 3, 6, 9, 12
    let steps: Vec<u64> = losses(&seen).iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, (1..=12).collect::<Vec<_>>());
    let evals: Vec<u64> = seen.iter().filter_map(|e| if let Event::Evaluation(r) = e { Some(r.step) } else { None }).collect();
    assert_eq!(evals, vec![0, 3, 6, 9, 12]);
    let snapshot = worker.take_snapshot().expect("a snapshot after evaluations");
    assert_eq!(snapshot.step, 12);
    assert_eq!(snapshot.evaluation.map(|e| e.perf.len()), Some(4));

    // the same run as stepping a Trainer by hand: deterministic like the CLI
    let mut trainer = Trainer::new(tiny());
    let by_hand: Vec<(u64, f32)> = (0..12).map(|_| trainer.step().map(|r| (r.step, r.loss)).expect("step")).collect();
    assert_eq!(losses(&seen), by_hand);

    // lesions re-evaluate at once
    worker.send(Command::SetLesions(vec![Pathway::Bias]));
    let lesioned = wait_for(&worker, &mut seen, |e| matches!(e, Event::Evaluation(_)));
    match lesioned {
        Event::Evaluation(r) => assert_eq!(r.lesioned.map(|(p, perf)| (p, perf.len())), Some((vec![Pathway::Bias], 4))),
        other => panic!("{other:?}"),
    }

    // reset starts over, ready again
    let mut config = tiny();
    config.model.n_units = 12;
    worker.send(Command::Reset(Box::new(config)));
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Reset(c) if c.model.n_units == 12));
    wait_for(&worker, &mut seen, |e| matches!(e, Event::State(RunState::Ready)));

    // drop joins within a timeout, even while training
    worker.send(Command::Start);
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Step { .. }));
    let started = Instant::now();
    drop(worker);
    assert!(started.elapsed() < Duration::from_secs(10), "drop took {:?}", started.elapsed());
}

/// Wait for a snapshot matching `want` (draining events meanwhile so the channel never fills).
fn wait_snapshot(worker: &Worker, seen: &mut Vec<Event>, want: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        while let Some(event) = worker.try_recv() {
            seen.push(event);
        }
        if let Some(snapshot) = worker.take_snapshot()
            && want(&snapshot)
        {
            return snapshot;
        }
        assert!(Instant::now() < deadline, "timed out waiting for a snapshot; seen {seen:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn hidden_live_analyses_are_skipped_and_caught_up_when_shown() {
    let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
    let mut seen = Vec::new();
    // nothing on screen needs the live analyses: training evaluates, the analyses wait
    worker.send(Command::SetLiveViews(LiveViews::NONE));
    worker.send(Command::Start);
    wait_finished(&worker, &mut seen);
    let hidden = wait_snapshot(&worker, &mut seen, |s| s.step == 12);
    assert_eq!(hidden.evaluation.as_ref().map(|e| e.step), Some(12), "evaluations go on");
    assert_eq!(hidden.ambiguity.as_ref().map(|a| a.step), Some(0), "only the untrained network's ambiguity score");
    assert_eq!(hidden.trajectories.as_ref().map(|t| t.step), Some(0));

    // shown again: both are redone for the current network, and the PCA axes (due after four
    // skipped evaluations) are re-fitted on it
    worker.send(Command::SetLiveViews(LiveViews::ALL));
    let shown = wait_snapshot(&worker, &mut seen, |s| {
        s.ambiguity.as_ref().is_some_and(|a| a.step == 12) && s.trajectories.as_ref().is_some_and(|t| t.step == 12)
    });
    let pca = shown.pca.expect("a PCA view");
    assert_eq!((pca.step, pca.fitted_step), (12, 12));
    // the trained network's own trajectories on this run's probe trials
    let mut trainer = Trainer::new(tiny());
    for _ in 0..12 {
        trainer.step().expect("step");
    }
    let probe = ProbeTrials::draw(&trainer.config).expect("probe trials");
    let expected = run_probe(&trainer.config, &trainer.params, 12, &probe, Ambiguity::none(), &[]).expect("probe run");
    let got = shown.trajectories.expect("trajectories");
    assert_eq!(got.tasks.len(), expected.tasks.len());
    for (got, expected) in got.tasks.iter().zip(&expected.tasks) {
        assert_eq!(got.rates, expected.rates, "{:?}", got.task);
    }
}

/// Looking back runs this run's probe trials through the network kept at that evaluation (what
/// a trainer stepped by hand to it gives), on axes fitted to that network, under the lesions
/// set; a step between evaluations gets the one kept before it; None goes back to the latest.
#[test]
fn looking_back_probes_the_network_kept_at_an_earlier_evaluation() {
    let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
    let mut seen = Vec::new();
    worker.send(Command::Start);
    wait_finished(&worker, &mut seen);
    worker.send(Command::LookBack(Some(3)));
    let back = wait_snapshot(&worker, &mut seen, |s| s.looked_back.as_ref().is_some_and(|b| b.asked == 3));
    assert_eq!(back.trajectories.as_ref().map(|t| t.step), Some(12), "the live view stays the latest network's");
    let back = back.looked_back.expect("looked back");
    assert_eq!(back.step, Some(3));
    let mut trainer = Trainer::new(tiny());
    for _ in 0..3 {
        trainer.step().expect("step");
    }
    let probe = ProbeTrials::draw(&trainer.config).expect("probe trials");
    let expected = run_probe(&trainer.config, &trainer.params, 3, &probe, Ambiguity::none(), &[]).expect("probe run");
    let got = back.trajectories.as_ref().expect("trajectories");
    assert_eq!(got.step, 3);
    for (got, expected) in got.tasks.iter().zip(&expected.tasks) {
        assert_eq!(got.rates, expected.rates, "{:?}", got.task);
    }
    let pca = back.pca.as_ref().expect("a PCA view");
    assert_eq!((pca.step, pca.fitted_step), (3, 3));

    // between evaluations: the one kept before; a lesion redoes it lesioned
    worker.send(Command::LookBack(Some(5)));
    worker.send(Command::SetLesions(vec![Pathway::Bias]));
    let lesioned = wait_snapshot(&worker, &mut seen, |s| {
        s.looked_back.as_ref().is_some_and(|b| b.asked == 5) && s.evaluation.as_ref().is_some_and(|e| e.lesioned.is_some())
    });
    let lesioned = lesioned.looked_back.expect("looked back");
    assert_eq!(lesioned.step, Some(3));
    let expected = run_probe(&trainer.config, &trainer.params, 3, &probe, Ambiguity::none(), &[Pathway::Bias]).expect("probe run");
    assert_eq!(lesioned.trajectories.as_ref().expect("trajectories").tasks[0].rates, expected.tasks[0].rates);

    // a reset while looking back at step 0: the new network's step 0 is shown
    worker.send(Command::LookBack(Some(0)));
    wait_snapshot(&worker, &mut seen, |s| s.looked_back.as_ref().is_some_and(|b| b.asked == 0));
    worker.send(Command::Reset(Box::new(tiny())));
    let after = wait_snapshot(&worker, &mut seen, |s| s.looked_back.as_ref().is_some_and(|b| b.asked == 0));
    assert_eq!(after.looked_back.expect("looked back").step, Some(0));

    worker.send(Command::LookBack(None));
    wait_snapshot(&worker, &mut seen, |s| s.looked_back.is_none());
}

#[test]
fn a_switch_test_runs_beside_training_on_a_frozen_copy() {
    let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
    let mut seen = Vec::new();
    let config = tiny();
    let spec = SwitchSpec { trials: 4, ..SwitchSpec::default_for(&config) };
    let combination = ContextTaus { bias: 50.0, gain: 0.0, synaptic: 0.0 };
    let mut jobs = JobHost::new(UiWaker::none());
    let id = switch_test(&mut jobs, spec.clone(), vec![0.0, 100.0], Some(combination));
    send_jobs(&worker, &mut jobs);
    worker.send(Command::Start);
    let result = wait_job::<SwitchResult>(&jobs, id, |r| r.is_complete());
    assert_eq!(jobs.state(id), Some(JobState::Done));
    // the quick preset has the bias pathway only; the network tested is the untrained one
    assert_eq!((result.step, result.pathways.len(), result.progress()), (0, 1, (3, 3)));
    let direct = SwitchJob::new(config.clone(), Trainer::new(config).params, 0, &spec, vec![0.0, 100.0], Some(combination))
        .expect("job")
        .run_all(&mut || {});
    assert_eq!(*result, direct);
    // training was not disturbed
    wait_finished(&worker, &mut seen);
    let mut by_hand = Trainer::new(tiny());
    let expected: Vec<(u64, f32)> = (0..12).map(|_| by_hand.step().map(|r| (r.step, r.loss)).expect("step")).collect();
    assert_eq!(losses(&seen), expected);
    // a request the network cannot answer fails on the board with its reason, and the run goes on
    let bad = switch_test(&mut jobs, SwitchSpec { from: Task::DmsGo, ..spec.clone() }, vec![0.0], None);
    send_jobs(&worker, &mut jobs);
    let deadline = Instant::now() + Duration::from_secs(60);
    while jobs.state(bad) == Some(JobState::Running) {
        assert!(Instant::now() < deadline, "the bad request was not refused");
        std::thread::sleep(Duration::from_millis(2));
    }
    let failures = jobs.take_failures();
    assert!(failures.len() == 1 && failures[0].starts_with("switch test not started") && failures[0].contains("dmsgo"), "{failures:?}");
    // a long test cancelled after it started: marked stopped, so the UI stops waiting for it
    let long = switch_test(&mut jobs, spec.clone(), (0..200).map(|i| i as f32).collect(), None);
    send_jobs(&worker, &mut jobs);
    wait_job::<SwitchResult>(&jobs, long, |r| r.progress().0 > 0);
    jobs.cancel(long);
    let result = wait_job::<SwitchResult>(&jobs, long, |r| r.stopped);
    assert_eq!(jobs.state(long), Some(JobState::Cancelled));
    assert!(!result.in_progress() && !result.is_complete(), "{:?}", result.progress());
    // a reset drops the old network's jobs from the board
    worker.send(Command::Reset(Box::new(tiny())));
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Reset(_)));
    let deadline = Instant::now() + Duration::from_secs(60);
    while jobs.state(id).is_some() {
        assert!(Instant::now() < deadline, "the reset kept the old network's jobs");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn analyses_follow_ambiguity_lesions_and_training() {
    let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
    let mut seen = Vec::new();
    // the reset's evaluation comes with every analysis
    let first = wait_snapshot(&worker, &mut seen, |s| s.trajectories.is_some() && s.pca.is_some() && s.ambiguity.is_some());
    let trajectories = first.trajectories.expect("trajectories");
    assert_eq!(trajectories.tasks.len(), 4);
    for t in &trajectories.tasks {
        assert_eq!(t.trials, crate::train::probe::PROBE_TRIALS);
        assert_eq!(t.rates.len(), t.trials * t.steps * 16);
        assert_eq!(t.outputs.len(), t.targets.len());
        assert!(!t.epochs.is_empty());
    }
    let pca = first.pca.expect("pca");
    assert_eq!((pca.fitted_step, pca.tasks.len()), (0, 4));
    assert!(pca.explained.iter().sum::<f64>() <= 1.0 + 1e-9 && pca.participation_ratio >= 1.0);

    // a burst of slider moves: the last one is answered (and the burst costs far less than
    // 50 re-evaluations; the worker re-evaluates once per burst it sees)
    for i in 0..50 {
        worker.send(Command::SetAmbiguity(Ambiguity { kind: AmbiguityKind::Mixture, level: i as f32 / 49.0 }));
    }
    let last = Ambiguity { kind: AmbiguityKind::Mixture, level: 1.0 };
    let answered = wait_snapshot(&worker, &mut seen, |s| s.ambiguity.as_ref().is_some_and(|a| a.ambiguity == last));
    let eval = answered.ambiguity.clone().expect("ambiguity");
    // the network is not training: the full count, as the lessons quote
    assert_eq!((eval.clean.len(), eval.ambiguous.len(), eval.trials), (4, 4, live::AMBIGUITY_TRIALS_IDLE));
    // then the trajectories and PCA are re-run under the new cue, on the same axes
    let under_last = |s: &Snapshot| s.trajectories.as_ref().is_some_and(|t| t.ambiguity == last);
    let projected = if under_last(&answered) { answered } else { wait_snapshot(&worker, &mut seen, under_last) };
    let pca = projected.pca.expect("pca");
    assert_eq!((pca.ambiguity, pca.fitted_step), (last, 0));

    // at the clean level the same trials give the same score
    let clean = Ambiguity { kind: AmbiguityKind::Amplitude, level: 1.0 };
    worker.send(Command::SetAmbiguity(clean));
    let answered = wait_snapshot(&worker, &mut seen, |s| s.ambiguity.as_ref().is_some_and(|a| a.ambiguity == clean));
    let eval = answered.ambiguity.expect("ambiguity");
    assert_eq!(eval.ambiguous, eval.clean);

    // a lesion re-projects on the same axes
    worker.send(Command::SetLesions(vec![Pathway::Bias]));
    let lesioned = wait_snapshot(&worker, &mut seen, |s| s.pca.as_ref().is_some_and(|p| p.lesioned == [Pathway::Bias]));
    assert_eq!(lesioned.pca.expect("pca").fitted_step, 0);
    assert_eq!(lesioned.ambiguity.expect("ambiguity").lesioned, vec![Pathway::Bias]);
    worker.send(Command::SetLesions(vec![]));

    // a sweep of the untrained network, then training alongside it
    let levels = vec![0.0, 0.5, 1.0];
    let mut jobs = JobHost::new(UiWaker::none());
    let (kind, sweep_levels) = (AmbiguityKind::Mixture, levels.clone());
    let id = jobs.on_network("ambiguity sweep", move |net| {
        SweepJob::new(net.config, net.params, net.step, net.lesioned, kind, sweep_levels).ok_or_else(|| "no levels".to_string())
    });
    send_jobs(&worker, &mut jobs);
    worker.send(Command::Start);
    let sweep = wait_job::<SweepResult>(&jobs, id, |w| w.is_complete());
    assert_eq!((sweep.step, sweep.levels.clone(), sweep.summary().len()), (0, levels.clone(), 3));
    // every point is what every other sweep of the same network gives (deterministic)
    let trainer = Trainer::new(tiny());
    for (l, level) in levels.iter().enumerate() {
        let ambiguity = Ambiguity { kind: AmbiguityKind::Mixture, level: *level };
        let direct = score_level(&trainer.config, &trainer.params, 0, &[], ambiguity, Some(SWEEP_TRIALS), 1).expect("eval");
        let direct: Vec<Option<f32>> = direct.iter().map(|(_, p)| Some(*p)).collect();
        assert_eq!(sweep.perf[l], direct, "level {level}");
    }

    // training went on and is unchanged by the sweep and the analyses; once it finished, the live
    // ambiguity evaluation is redone with the full count (the slot keeps the latest snapshot)
    wait_finished(&worker, &mut seen);
    let idle = |s: &Snapshot| s.ambiguity.as_ref().is_some_and(|a| a.step == 12 && a.trials == live::AMBIGUITY_TRIALS_IDLE);
    let finished = wait_snapshot(&worker, &mut seen, idle);
    let mut by_hand = Trainer::new(tiny());
    let expected: Vec<(u64, f32)> = (0..12).map(|_| by_hand.step().map(|r| (r.step, r.loss)).expect("step")).collect();
    assert_eq!(losses(&seen), expected);
    // axes fitted at reset (step 0), then every third periodic evaluation: 3, 6, 9 → re-fit at 9
    let pca = finished.pca;
    let pca = pca.expect("pca");
    assert_eq!((pca.fitted_step, pca.step), (9, 12));
}

#[test]
fn pca_axes_are_fitted_on_the_intact_network_with_the_clear_cue() {
    // the same training with and without a lesion and an ambiguous cue set all along: the
    // axes (fitted at reset and at step 9) are the same, only the projected activity differs
    let run = |lesions: Vec<Pathway>, ambiguity: Ambiguity| {
        let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
        worker.send(Command::SetLesions(lesions));
        worker.send(Command::SetAmbiguity(ambiguity));
        worker.send(Command::Start);
        let mut seen = Vec::new();
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Finished { .. }));
        let end = wait_snapshot(&worker, &mut seen, |s| s.step == 12 && s.pca.is_some());
        end.pca.expect("pca")
    };
    let plain = run(vec![], Ambiguity::none());
    let altered = run(vec![Pathway::Bias], Ambiguity { kind: AmbiguityKind::Uniform, level: 0.7 });
    assert_eq!((plain.fitted_step, altered.fitted_step), (9, 9));
    assert_eq!(plain.explained, altered.explained);
    assert_eq!(plain.participation_ratio, altered.participation_ratio);
    assert_ne!(plain.tasks, altered.tasks, "the lesioned, ambiguous activity is drawn");
    assert_eq!(altered.lesioned, vec![Pathway::Bias]);
}

#[test]
fn a_panic_becomes_a_failed_event_and_reset_recovers() {
    let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
    let mut seen = Vec::new();
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Evaluation(r) if r.step == 0));
    worker.send(Command::InjectPanic);
    let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::Failed(_)));
    assert!(matches!(&failed, Event::Failed(m) if m.contains("injected panic")), "{failed:?}");
    assert!(worker.is_alive(), "the worker survives a panic");
    worker.send(Command::Start);
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Warning(m) if m.contains("Reset")));
    worker.send(Command::Reset(Box::new(tiny())));
    worker.send(Command::StepOnce);
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Step { step: 1, .. }));
}

/// Step `n` times one step at a time (deterministic: no pause race).
fn step_n(worker: &Worker, seen: &mut Vec<Event>, n: u64) {
    for _ in 0..n {
        let before = losses(seen).last().map_or(0, |(s, _)| *s);
        worker.send(Command::StepOnce);
        wait_for(worker, seen, |e| matches!(e, Event::Step { step, .. } if *step == before + 1));
    }
}

#[test]
fn save_then_load_resumes_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("run");
    let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
    let mut seen = Vec::new();
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Evaluation(r) if r.step == 0));
    step_n(&worker, &mut seen, 6);
    worker.send(Command::SaveCheckpoint(run_dir.clone()));
    let saved = wait_for(&worker, &mut seen, |e| matches!(e, Event::CheckpointSaved { .. } | Event::FileFailed(_)));
    assert!(matches!(&saved, Event::CheckpointSaved { step: 6, dir } if *dir == run_dir), "{saved:?}");
    // a run directory like `modulab train` writes: evaluations at 3 and 6 in metrics.csv
    assert!(run_dir.join("checkpoint").join(checkpoint::STATE_FILE).is_file());
    assert!(run_dir.join("config.toml").is_file());
    let text = std::fs::read_to_string(run_dir.join(METRICS_FILE)).expect("metrics.csv");
    let rows = metrics::parse(&text, &tiny().train.tasks).expect("parses");
    assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), vec![3, 6]);

    // train on to the end: the reference for steps 7..=12
    worker.send(Command::Start);
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Finished { .. }));
    let reference: Vec<(u64, f32)> = losses(&seen).into_iter().filter(|(s, _)| *s > 6).collect();
    assert_eq!(reference.len(), 6);

    // load the saved run back (it replaces the finished one) and train on: the same losses
    let mut after = Vec::new();
    worker.send(Command::LoadCheckpoint(run_dir.clone()));
    let loaded = wait_for(&worker, &mut after, |e| matches!(e, Event::CheckpointLoaded(_) | Event::FileFailed(_)));
    match &loaded {
        Event::CheckpointLoaded(l) => {
            assert_eq!((l.step, l.state, l.history.len()), (6, RunState::Paused, 2), "{l:?}");
            assert_eq!(l.history, rows);
            assert_eq!(l.config, tiny());
            assert!(l.history_problem.is_none());
        }
        other => panic!("{other:?}"),
    }
    wait_for(&worker, &mut after, |e| matches!(e, Event::Evaluation(r) if r.step == 6));
    worker.send(Command::Start);
    wait_for(&worker, &mut after, |e| matches!(e, Event::Finished { step: 12, .. }));
    assert_eq!(losses(&after), reference, "a loaded run continues exactly where it was saved");

    // the checkpoint directory itself (and its state.bin) load too, with the history next to it
    for path in [run_dir.join("checkpoint"), run_dir.join("checkpoint").join(checkpoint::STATE_FILE)] {
        worker.send(Command::LoadCheckpoint(path));
        let loaded = wait_for(&worker, &mut after, |e| matches!(e, Event::CheckpointLoaded(_) | Event::FileFailed(_)));
        assert!(matches!(&loaded, Event::CheckpointLoaded(l) if l.step == 6 && l.history.len() == 2), "{loaded:?}");
    }
}

#[test]
fn a_corrupt_mismatched_or_missing_checkpoint_keeps_the_current_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = Worker::spawn(tiny(), UiWaker::none()).expect("spawn");
    let mut seen = Vec::new();
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Evaluation(r) if r.step == 0));
    step_n(&worker, &mut seen, 2);

    // a truncated state.bin: corrupt
    worker.send(Command::SaveCheckpoint(dir.path().join("good")));
    wait_for(&worker, &mut seen, |e| matches!(e, Event::CheckpointSaved { .. }));
    let state = dir.path().join("good").join("checkpoint").join(checkpoint::STATE_FILE);
    let bytes = std::fs::read(&state).expect("read");
    let bad = dir.path().join("bad").join("checkpoint");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join(checkpoint::STATE_FILE), &bytes[..bytes.len() / 2]).expect("write");
    worker.send(Command::LoadCheckpoint(dir.path().join("bad")));
    let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::FileFailed(_) | Event::CheckpointLoaded(_)));
    assert!(matches!(&failed, Event::FileFailed(m) if m.contains("corrupt") && m.contains("kept")), "{failed:?}");

    // parameters that do not fit the configuration they claim: mismatched
    let mut other = Trainer::new({
        let mut c = tiny();
        c.model.n_units = 12;
        c
    });
    other.config = tiny();
    checkpoint::save(&dir.path().join("mismatched"), &other).expect("save");
    worker.send(Command::LoadCheckpoint(dir.path().join("mismatched")));
    let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::FileFailed(_) | Event::CheckpointLoaded(_)));
    assert!(matches!(&failed, Event::FileFailed(m) if m.contains("does not match")), "{failed:?}");

    // nothing there at all
    worker.send(Command::LoadCheckpoint(dir.path().join("nothing")));
    let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::FileFailed(_) | Event::CheckpointLoaded(_)));
    assert!(matches!(&failed, Event::FileFailed(m) if m.contains("no checkpoint")), "{failed:?}");

    // an unwritable place to save: an error, and the run goes on
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    worker.send(Command::SaveCheckpoint(blocker.join("run")));
    let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::FileFailed(_) | Event::CheckpointSaved { .. }));
    assert!(matches!(&failed, Event::FileFailed(m) if m.contains("could not save")), "{failed:?}");

    // the run is the same run: the next step is step 3
    worker.send(Command::StepOnce);
    wait_for(&worker, &mut seen, |e| matches!(e, Event::Step { step: 3, .. }));
}

#[test]
fn a_full_event_channel_never_blocks_drop() {
    // nobody drains: steps are dropped, the evaluation waits, and drop still joins
    let mut config = tiny();
    config.train.steps = 5000;
    config.train.eval_every = 1;
    let worker = Worker::spawn(config, UiWaker::none()).expect("spawn");
    worker.send(Command::Start);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    drop(worker);
    assert!(started.elapsed() < Duration::from_secs(10));
}
