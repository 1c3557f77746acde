//! Tests of the task battery: names, shapes, timing, mask, rules, scoring, determinism.

use std::f32::consts::{PI, TAU};

use super::battery::{self, Plan};
use super::render::RingCode;
use super::*;
use crate::rng::Rng;

const ALPHA: f32 = 0.2;

fn settings(encoding: Encoding) -> TaskSettings {
    TaskSettings { encoding, ..TaskSettings::default() }
}

fn noiseless(encoding: Encoding) -> TaskSettings {
    TaskSettings { encoding, input_noise: 0.0, ..TaskSettings::default() }
}

/// Every (task, encoding) pair the battery offers.
fn supported_pairs() -> Vec<(Task, Encoding)> {
    Encoding::ALL.into_iter().flat_map(|enc| Task::all_for(enc).into_iter().map(move |t| (t, enc))).collect()
}

fn gen_batch(task: Task, s: &TaskSettings, batch: usize, seed: u64) -> TrialBatch {
    generate(task, s, batch, ALPHA, &mut Rng::seed_from(seed)).unwrap()
}

fn assert_close(a: f32, b: f32, tol: f32, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
}

fn last_target_row(trials: &TrialBatch, b: usize) -> &[f32] {
    trials.target(b, trials.steps - 1)
}

/// Decode the angle and strength of a single stimulus on `ring` (0/1) from a noise-free input row.
fn decode_stimulus(enc: Encoding, s: &TaskSettings, row: &[f32], ring: usize) -> (f32, f32) {
    let width = enc.units_per_ring(s.ring_units);
    let units = &row[1 + ring * width..1 + (ring + 1) * width];
    match enc {
        Encoding::Ring => {
            // A Gaussian bump of std π/8 sampled every 2π/32 sums to 0.8·s·σ/h·sqrt(2π),
            // independently of where it sits relative to the grid (to ~1e-30).
            let h = TAU / units.len() as f32;
            let sum: f32 = units.iter().sum();
            let strength = sum / (BUMP_PEAK * BUMP_WIDTH / h * (2.0 * PI).sqrt());
            (response_angle(enc, units), strength)
        }
        Encoding::Compact => (response_angle(enc, units), (units[0] * units[0] + units[1] * units[1]).sqrt()),
    }
}

fn ring_energy(s: &TaskSettings, row: &[f32], ring: usize) -> f32 {
    let width = s.encoding.units_per_ring(s.ring_units);
    row[1 + ring * width..1 + (ring + 1) * width].iter().map(|x| x.abs()).sum()
}

fn epoch<'a>(trials: &'a TrialBatch, name: &str) -> &'a Epoch {
    trials.epochs.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("no epoch {name}"))
}

// ---------------------------------------------------------------------------------------------
// Names and encodings

#[test]
fn names_follow_yangs_order_and_round_trip() {
    let expected = "fdgo reactgo delaygo fdanti reactanti delayanti dm1 dm2 contextdm1 contextdm2 \
                    multidm delaydm1 delaydm2 contextdelaydm1 contextdelaydm2 multidelaydm dmsgo \
                    dmsnogo dmcgo dmcnogo";
    let names: Vec<&str> = Task::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(names, expected.split_whitespace().collect::<Vec<_>>());
    for (i, task) in Task::ALL.into_iter().enumerate() {
        assert_eq!(task.index(), i);
        assert_eq!(Task::from_name(task.name()).unwrap(), task);
        assert_eq!(Task::from_name(&task.name().to_uppercase()).unwrap(), task);
        let json = serde_json::to_string(&task).unwrap();
        assert_eq!(json, format!("\"{}\"", task.name()));
        assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), task);
        assert!(!task.description().is_empty() && !task.label().is_empty());
        assert!(["Go", "Anti", "Decision making", "Delayed decision making", "Matching"].contains(&task.family()));
    }
}

#[test]
fn unknown_name_lists_valid_names() {
    let err = Task::from_name("dm3").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("'dm3'"), "{msg}");
    for task in Task::ALL {
        assert!(msg.contains(task.name()), "{msg}");
    }
    assert!(!msg.contains('\n'));
}

#[test]
fn encoding_sizes_and_names() {
    assert_eq!(Encoding::default(), Encoding::Ring);
    assert_eq!((Encoding::Ring.n_inputs(), Encoding::Ring.n_outputs()), (65, 33));
    assert_eq!((Encoding::Compact.n_inputs(), Encoding::Compact.n_outputs()), (5, 3));
    assert_eq!(serde_json::to_string(&Encoding::Compact).unwrap(), "\"compact\"");
    assert_eq!(Encoding::Ring.name(), "ring");
    let s = TaskSettings { ring_units: 16, ..TaskSettings::default() };
    assert_eq!((s.n_inputs(), s.n_outputs()), (33, 17));
    let c = TaskSettings { ring_units: 16, ..settings(Encoding::Compact) };
    assert_eq!((c.n_inputs(), c.n_outputs()), (5, 3));
}

#[test]
fn settings_serde_defaults_and_rejects_unknown_fields() {
    let s: TaskSettings = serde_json::from_str("{}").unwrap();
    assert_eq!(s, TaskSettings::default());
    assert_eq!((s.dt_ms, s.ring_units, s.input_noise, s.tolerance_pi), (20.0, 32, 0.01, 0.2));
    let c: TaskSettings = serde_json::from_str(r#"{"encoding":"compact"}"#).unwrap();
    assert_eq!(c.encoding, Encoding::Compact);
    assert!(serde_json::from_str::<TaskSettings>(r#"{"encodng":"compact"}"#).is_err());
    let bad = TaskSettings { dt_ms: 0.0, ..TaskSettings::default() };
    assert!(matches!(bad.validate(), Err(TaskError::InvalidSettings(_))));
}

#[test]
fn compact_refuses_the_five_simultaneous_decision_tasks() {
    let refused = [Task::Dm1, Task::Dm2, Task::ContextDm1, Task::ContextDm2, Task::MultiDm];
    assert_eq!(Task::all_for(Encoding::Ring).len(), 20);
    assert_eq!(Task::all_for(Encoding::Compact).len(), 15);
    for task in Task::ALL {
        assert!(task.supports(Encoding::Ring));
        assert_eq!(task.supports(Encoding::Compact), !refused.contains(&task));
    }
    let s = settings(Encoding::Compact);
    for task in refused {
        let err = generate(task, &s, 4, ALPHA, &mut Rng::seed_from(1)).unwrap_err();
        assert!(matches!(err, TaskError::Unsupported { .. }));
        let msg = err.to_string();
        assert_eq!(
            msg,
            format!(
                "task '{}' is not available in the compact encoding: two simultaneous stimuli \
                 on one ring add into one vector, so the decision is ill-posed; use encoding = \
                 \"ring\"",
                task.name()
            )
        );
    }
}

#[test]
fn bad_arguments_are_errors() {
    let s = TaskSettings::default();
    let mut rng = Rng::seed_from(0);
    assert!(generate(Task::FdGo, &s, 0, ALPHA, &mut rng).is_err());
    assert!(generate(Task::FdGo, &s, 4, 0.0, &mut rng).is_err());
}

// ---------------------------------------------------------------------------------------------
// Shapes, timing, mask, epochs

#[test]
fn shapes_for_every_task_and_encoding() {
    for (task, enc) in supported_pairs() {
        let s = settings(enc);
        let t = gen_batch(task, &s, 7, 3);
        assert_eq!((t.task, t.encoding, t.batch), (task, enc, 7));
        assert_eq!((t.n_in, t.n_out), (s.n_inputs(), s.n_outputs()));
        assert_eq!(t.inputs.len(), 7 * t.steps * t.n_in, "{task}");
        assert_eq!(t.targets.len(), 7 * t.steps * t.n_out);
        assert_eq!(t.mask.len(), 7 * t.steps * t.n_out);
        assert_eq!(t.target_angle.len(), 7);
        assert_eq!(t.dt_ms, 20.0);
        assert!(t.inputs.iter().chain(&t.targets).all(|x| x.is_finite()));
        for theta in t.target_angle.iter().flatten() {
            assert!((0.0..TAU).contains(theta), "{task}: {theta}");
        }
        // Epochs tile the trial and the response epoch starts at the go step.
        assert_eq!(t.epochs.first().unwrap().start, 0);
        assert_eq!(t.epochs.last().unwrap().end, t.steps);
        assert_eq!(t.epochs.last().unwrap().name, "response");
        assert_eq!(t.epochs.last().unwrap().start, t.go_step);
        for pair in t.epochs.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{task}");
            assert!(pair[0].start < pair[0].end, "{task}: empty epoch {:?}", pair[0]);
        }
    }
}

fn length_range(task: Task) -> (usize, usize) {
    match task.family() {
        "Go" | "Anti" => match task {
            Task::FdGo | Task::FdAnti => (65, 133),
            Task::ReactGo | Task::ReactAnti => (50, 149),
            _ => (60, 170),
        },
        "Decision making" => (50, 124),
        "Delayed decision making" => (70, 209),
        _ => match task {
            Task::DmsGo | Task::DmsNogo => (55, 165),
            _ => (40, 170),
        },
    }
}

#[test]
fn trial_lengths_stay_in_the_spec_ranges() {
    for (task, enc) in supported_pairs() {
        let s = settings(enc);
        let (lo, hi) = length_range(task);
        let (mut min, mut max) = (usize::MAX, 0);
        for seed in 0..400 {
            let t = gen_batch(task, &s, 1, seed);
            min = min.min(t.steps);
            max = max.max(t.steps);
        }
        assert!(lo <= min && max <= hi, "{task}/{enc}: lengths {min}..{max} outside {lo}..{hi}");
        // And the draws actually explore most of the range.
        assert!((max - min) * 10 >= (hi - lo) * 7, "{task}/{enc}: only {min}..{max}");
    }
}

#[test]
fn mask_layout() {
    for (task, enc) in supported_pairs() {
        let t = gen_batch(task, &settings(enc), 3, 11);
        let (settle, grace) = (5, 5); // 100 ms at dt = 20 ms
        assert!(t.go_step >= settle);
        for b in 0..t.batch {
            for step in 0..t.steps {
                let expected = if step < settle {
                    0.0
                } else if step < t.go_step {
                    1.0
                } else if step < t.go_step + grace {
                    0.0
                } else {
                    5.0
                };
                let row = t.mask_at(b, step);
                assert_eq!(row[0], 2.0 * expected, "{task} step {step}");
                assert!(row[1..].iter().all(|&m| m == expected), "{task} step {step}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs and targets

#[test]
fn input_noise_has_the_right_std_on_every_unit() {
    let noisy = settings(Encoding::Ring);
    let clean = noiseless(Encoding::Ring);
    let a = gen_batch(Task::DelayDm1, &noisy, 64, 5);
    let b = gen_batch(Task::DelayDm1, &clean, 64, 5);
    assert_eq!(a.steps, b.steps, "noise must not change the plan");
    let noise: Vec<f32> = a.inputs.iter().zip(&b.inputs).map(|(x, y)| x - y).collect();
    let expected = (2.0f32 / ALPHA).sqrt() * 0.01;
    let std = |xs: &mut dyn Iterator<Item = f32>| {
        let v: Vec<f32> = xs.collect();
        (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt()
    };
    assert_close(std(&mut noise.iter().copied()), expected, 0.02 * expected, "all units");
    let fixation = std(&mut noise.chunks_exact(a.n_in).map(|row| row[0]));
    assert_close(fixation, expected, 0.05 * expected, "fixation unit");
}

#[test]
fn render_matches_the_plan_exactly() {
    // Noise-free inputs are fixation cue + the sum of the plan's stimuli; targets follow the plan.
    for (task, enc) in supported_pairs() {
        let s = noiseless(enc);
        let plan: Plan = battery::plan(task, &s, 5, &mut Rng::seed_from(21));
        let t = gen_batch(task, &s, 5, 21);
        assert_eq!((t.steps, t.go_step), (plan.steps, plan.go), "{task}");
        assert_eq!(t.target_angle, plan.target_angle);
        let code = RingCode::new(enc, s.ring_units);
        let width = code.width();
        let mut pattern = vec![0.0; width];
        for b in 0..t.batch {
            for step in 0..t.steps {
                let mut expected = vec![0.0f32; t.n_in];
                expected[0] = if step < plan.fixation_off { 1.0 } else { 0.0 };
                for stim in plan.stimuli.iter().filter(|st| (st.on..st.off).contains(&step)) {
                    code.encode(stim.location[b], stim.strength[b], &mut pattern);
                    let first = 1 + stim.ring * width;
                    for (x, p) in expected[first..first + width].iter_mut().zip(&pattern) {
                        *x += p;
                    }
                }
                for (x, y) in t.input(b, step).iter().zip(&expected) {
                    assert_close(*x, *y, 1e-6, &format!("{task}/{enc} input b{b} t{step}"));
                }
            }
        }
    }
}

#[test]
fn targets_fixate_then_respond() {
    for (task, enc) in supported_pairs() {
        let t = gen_batch(task, &settings(enc), 16, 8);
        let baseline = if enc == Encoding::Ring { RING_BASELINE } else { 0.0 };
        for b in 0..t.batch {
            for step in 0..t.steps {
                let row = t.target(b, step);
                let responding = step >= t.go_step && t.target_angle[b].is_some();
                if responding {
                    assert_eq!(row[0], baseline, "{task}");
                } else {
                    assert_eq!(row[0], FIXATION_TARGET, "{task}");
                    assert!(row[1..].iter().all(|&y| y == baseline), "{task}");
                }
            }
            if let Some(theta) = t.target_angle[b] {
                let row = last_target_row(&t, b);
                let decoded = response_angle(enc, &row[1..]);
                assert!(circular_distance(decoded, theta) < 1e-3, "{task}: {decoded} vs {theta}");
                match enc {
                    Encoding::Ring => {
                        let peak = row[1..].iter().cloned().fold(f32::MIN, f32::max);
                        assert!(peak > baseline + 0.6 && peak <= baseline + 0.8 + 1e-6);
                    }
                    Encoding::Compact => {
                        assert_close(row[1], theta.cos(), 1e-6, "cos");
                        assert_close(row[2], theta.sin(), 1e-6, "sin");
                    }
                }
            }
        }
    }
}

#[test]
fn go_and_anti_respond_toward_and_away_from_the_stimulus() {
    let tasks =
        [(Task::FdGo, 0.0), (Task::ReactGo, 0.0), (Task::DelayGo, 0.0), (Task::FdAnti, PI), (Task::ReactAnti, PI), (Task::DelayAnti, PI)];
    for enc in Encoding::ALL {
        let s = noiseless(enc);
        for (task, shift) in tasks {
            let t = gen_batch(task, &s, 32, 13);
            let shown = epoch(&t, if task.name().starts_with("react") { "response" } else { "stimulus" });
            let ring = if ring_energy(&s, t.input(0, shown.start), 0) > 0.0 { 0 } else { 1 };
            for b in 0..t.batch {
                let (theta, strength) = decode_stimulus(enc, &s, t.input(b, shown.start), ring);
                assert_close(strength, 1.0, 1e-3, "strength");
                let target = t.target_angle[b].unwrap();
                let error = circular_distance(target, theta + shift);
                assert!(error < 1e-3, "{task}/{enc}: target {target}, stimulus {theta}");
            }
        }
    }
}

#[test]
fn reaction_tasks_go_at_stimulus_onset_with_fixation_cue_on_throughout() {
    for enc in Encoding::ALL {
        let s = noiseless(enc);
        for task in [Task::ReactGo, Task::ReactAnti] {
            for seed in 0..20 {
                let t = gen_batch(task, &s, 4, seed);
                for b in 0..t.batch {
                    for step in 0..t.steps {
                        let row = t.input(b, step);
                        assert_eq!(row[0], 1.0, "fixation cue must stay on");
                        let stim = ring_energy(&s, row, 0) + ring_energy(&s, row, 1);
                        assert_eq!(stim > 0.0, step >= t.go_step, "{task} step {step}");
                    }
                }
            }
        }
    }
}

#[test]
fn fixation_cue_goes_off_at_go_in_the_other_go_tasks() {
    for enc in Encoding::ALL {
        let s = noiseless(enc);
        for task in [Task::FdGo, Task::DelayGo, Task::DelayDm1, Task::MultiDelayDm] {
            let t = gen_batch(task, &s, 3, 4);
            for step in 0..t.steps {
                let expected = if step < t.go_step { 1.0 } else { 0.0 };
                assert_eq!(t.input(1, step)[0], expected, "{task} step {step}");
            }
        }
    }
    // fdgo: the stimulus stays on to the end; delaygo: it is off during the delay and response.
    let s = noiseless(Encoding::Ring);
    let t = gen_batch(Task::FdGo, &s, 2, 9);
    let last = t.input(0, t.steps - 1);
    assert!(ring_energy(&s, last, 0) + ring_energy(&s, last, 1) > 0.0);
    let t = gen_batch(Task::DelayGo, &s, 2, 9);
    let delay = epoch(&t, "delay");
    for step in delay.start..t.steps {
        let row = t.input(0, step);
        assert_eq!(ring_energy(&s, row, 0) + ring_energy(&s, row, 1), 0.0);
    }
}

#[test]
fn decision_tasks_pick_the_stronger_evidence() {
    let s = noiseless(Encoding::Ring);
    let mut disagreements = [0usize; 3];
    let mut trials = 0;
    for seed in 0..50 {
        for (i, task) in [Task::Dm1, Task::Dm2, Task::ContextDm1, Task::ContextDm2, Task::MultiDm].into_iter().enumerate() {
            let plan = battery::plan(task, &s, 16, &mut Rng::seed_from(seed));
            // Stimuli are listed ring by ring, [stimulus 1, stimulus 2] on each ring used.
            let on_ring = |ring: usize| -> Vec<_> { plan.stimuli.iter().filter(|st| st.ring == ring).collect() };
            for b in 0..16 {
                let strength = |ring: usize, k: usize| on_ring(ring).get(k).map_or(0.0, |st| st.strength[b] as f64);
                let location = plan.stimuli[0].location[b];
                let other = plan.stimuli[1].location[b];
                let sep = circular_distance(location, other);
                assert!(sep >= 0.5 * PI - 1e-4, "{task}: separation {sep}");
                let winner_by = |ev: [f64; 2]| if ev[0] > ev[1] { location } else { other };
                let ring1 = [strength(0, 0), strength(0, 1)];
                let ring2 = [strength(1, 0), strength(1, 1)];
                let expected = match task {
                    Task::Dm1 | Task::ContextDm1 => winner_by(ring1),
                    Task::Dm2 | Task::ContextDm2 => winner_by(ring2),
                    _ => winner_by([ring1[0] + ring2[0], ring1[1] + ring2[1]]),
                };
                assert_eq!(plan.target_angle[b], Some(expected), "{task}");
                match task {
                    Task::Dm1 => assert_eq!(on_ring(1).len(), 0),
                    Task::Dm2 => assert_eq!(on_ring(0).len(), 0),
                    _ => {}
                }
                let coherence = |ev: [f64; 2]| ((ev[0] - ev[1]) / 2.0).abs();
                let sign = |ev: [f64; 2]| ev[0] > ev[1];
                if matches!(task, Task::Dm1 | Task::ContextDm1 | Task::ContextDm2) {
                    let c = coherence(if task == Task::ContextDm2 { ring2 } else { ring1 });
                    assert!([0.01, 0.02, 0.04, 0.08].iter().any(|k| (c - k).abs() < 1e-5), "{task}: coherence {c}");
                }
                if matches!(task, Task::ContextDm1 | Task::ContextDm2) {
                    trials += 1;
                    if sign(ring1) != sign(ring2) {
                        disagreements[i - 2] += 1;
                    }
                }
                if task == Task::MultiDm {
                    for k in 0..2 {
                        let share = ring1[k] / (ring1[k] + ring2[k]);
                        let ok = (0.3..=0.45).contains(&share) || (0.55..=0.7).contains(&share);
                        assert!(ok, "multidm share {share}");
                    }
                    if sign(ring1) != sign([ring1[0] + ring2[0], ring1[1] + ring2[1]]) {
                        disagreements[2] += 1;
                    }
                }
            }
        }
    }
    // The unattended ring disagrees about half the time: reading the wrong ring must fail.
    let fraction = (disagreements[0] + disagreements[1]) as f64 / trials as f64;
    assert!((0.4..0.6).contains(&fraction), "contextdm disagreement fraction {fraction}");
    assert!(disagreements[2] > 0, "multidm: ring 1 alone should sometimes mislead");
}

#[test]
fn delayed_decisions_from_the_arrays() {
    // End to end: decode both stimuli from the noise-free inputs, check the target at the end.
    for enc in Encoding::ALL {
        let s = noiseless(enc);
        for task in Task::ALL.into_iter().filter(|t| t.family() == "Delayed decision making") {
            for seed in 0..10 {
                let t = gen_batch(task, &s, 16, seed);
                let first = epoch(&t, "stimulus").start;
                let second = epoch(&t, "stimulus 2").start;
                for b in 0..t.batch {
                    let evidence = |step: usize, ring: usize| {
                        let row = t.input(b, step);
                        if ring_energy(&s, row, ring) == 0.0 {
                            return (f32::NAN, 0.0);
                        }
                        decode_stimulus(enc, &s, row, ring)
                    };
                    let [(theta1, a1), (theta2, a2)] = [first, second].map(|st| evidence(st, 0));
                    let [(phi1, b1), (phi2, b2)] = [first, second].map(|st| evidence(st, 1));
                    let (s1, s2, loc1, loc2) = match task {
                        Task::DelayDm1 | Task::ContextDelayDm1 => (a1, a2, theta1, theta2),
                        Task::DelayDm2 | Task::ContextDelayDm2 => (b1, b2, phi1, phi2),
                        _ => (a1 + b1, a2 + b2, theta1, theta2),
                    };
                    let expected = if s1 > s2 { loc1 } else { loc2 };
                    let target = t.target_angle[b].unwrap();
                    assert!(circular_distance(target, expected) < 1e-3, "{task}/{enc}");
                    let coherence = (s1 - s2).abs() / if task == Task::MultiDelayDm { 4.0 } else { 2.0 };
                    assert!([0.08, 0.16, 0.32].iter().any(|k| (coherence - k).abs() < 2e-3), "{task}/{enc}: coherence {coherence}");
                    if matches!(task, Task::DelayDm1) {
                        assert_eq!((b1, b2), (0.0, 0.0), "delaydm1 uses ring 1 only");
                    }
                }
            }
        }
    }
}

#[test]
fn matching_tasks_respond_or_keep_fixating() {
    for enc in Encoding::ALL {
        let s = noiseless(enc);
        for task in [Task::DmsGo, Task::DmsNogo, Task::DmcGo, Task::DmcNogo] {
            let respond_on_match = matches!(task, Task::DmsGo | Task::DmcGo);
            let category = matches!(task, Task::DmcGo | Task::DmcNogo);
            let (mut matches, mut total) = (0, 0);
            for seed in 0..20 {
                let t = gen_batch(task, &s, 16, seed);
                let sample_step = epoch(&t, "stimulus").start;
                let response = epoch(&t, "response");
                assert_eq!(response.start, t.go_step, "test onset is the go signal");
                let response_ms = (t.steps - t.go_step) as f32 * t.dt_ms;
                if category {
                    assert!([200.0, 400.0, 600.0].contains(&response_ms), "{response_ms}");
                } else {
                    assert_eq!(response_ms, 500.0);
                }
                let ring_of = |row: &[f32]| if ring_energy(&s, row, 0) > 0.0 { 0 } else { 1 };
                for b in 0..t.batch {
                    for step in 0..t.steps {
                        assert_eq!(t.input(b, step)[0], 1.0, "fixation cue on all trial");
                    }
                    let sample_row = t.input(b, sample_step);
                    let test_row = t.input(b, t.steps - 1);
                    let (theta1, _) = decode_stimulus(enc, &s, sample_row, ring_of(sample_row));
                    let (theta2, _) = decode_stimulus(enc, &s, test_row, ring_of(test_row));
                    let is_match = if category {
                        for theta in [theta1, theta2] {
                            let k = theta / (0.1 * PI);
                            assert!((k - k.round()).abs() < 1e-3 && k.round() as i32 % 2 == 1);
                        }
                        (theta1 < PI) == (theta2 < PI)
                    } else {
                        let d = circular_distance(theta1, theta2);
                        assert!(!(1e-3..=PI / 9.0 - 1e-3).contains(&d), "non-match offset {d}");
                        d < 1e-3
                    };
                    total += 1;
                    matches += is_match as usize;
                    match t.target_angle[b] {
                        Some(target) => {
                            assert_eq!(is_match, respond_on_match, "{task}");
                            assert!(circular_distance(target, theta2) < 1e-3, "{task}");
                        }
                        None => {
                            assert_eq!(is_match, !respond_on_match, "{task}");
                            assert_eq!(last_target_row(&t, b)[0], FIXATION_TARGET);
                        }
                    }
                }
            }
            let fraction = matches as f64 / total as f64;
            assert!((0.35..0.65).contains(&fraction), "{task}: match fraction {fraction}");
        }
    }
}

#[test]
fn modality_is_shared_within_a_batch_and_varies_across_batches() {
    let s = noiseless(Encoding::Ring);
    let mut rings_seen = [false; 2];
    for seed in 0..20 {
        let t = gen_batch(Task::FdGo, &s, 8, seed);
        let step = t.steps - 1;
        let ring = if ring_energy(&s, t.input(0, step), 0) > 0.0 { 0 } else { 1 };
        rings_seen[ring] = true;
        for b in 0..t.batch {
            assert!(ring_energy(&s, t.input(b, step), ring) > 0.0);
            assert_eq!(ring_energy(&s, t.input(b, step), 1 - ring), 0.0);
        }
    }
    assert_eq!(rings_seen, [true, true]);
}

#[test]
fn same_seed_same_batch() {
    for (task, enc) in supported_pairs() {
        let s = settings(enc);
        let a = gen_batch(task, &s, 8, 42);
        let b = gen_batch(task, &s, 8, 42);
        assert_eq!(a, b, "{task}/{enc}");
        let c = gen_batch(task, &s, 8, 43);
        assert_ne!(a.inputs, c.inputs, "{task}/{enc}");
    }
}

// ---------------------------------------------------------------------------------------------
// Scoring

/// An output row that responds at `theta` (fixation low), in `enc`.
fn responding_row(enc: Encoding, s: &TaskSettings, theta: f32) -> Vec<f32> {
    let code = RingCode::new(enc, s.ring_units);
    let mut row = vec![0.05; s.n_outputs()];
    code.encode(theta, 1.0, &mut row[1..]);
    row[0] = 0.05;
    row
}

fn fixating_row(s: &TaskSettings) -> Vec<f32> {
    let mut row = vec![0.05; s.n_outputs()];
    row[0] = 0.8;
    row
}

#[test]
fn performance_on_hand_made_outputs() {
    for enc in Encoding::ALL {
        let s = settings(enc);
        let theta = 1.0f32;
        let cases: Vec<(Vec<f32>, Option<f32>, f32, &str)> = vec![
            (responding_row(enc, &s, theta), Some(theta), 1.0, "perfect response"),
            (responding_row(enc, &s, theta + 0.5 * PI), Some(theta), 0.0, "wrong angle"),
            (
                {
                    let mut row = responding_row(enc, &s, theta);
                    row[0] = 0.7;
                    row
                },
                Some(theta),
                0.0,
                "right angle but still fixating",
            ),
            (fixating_row(&s), None, 1.0, "fixating when it should"),
            (responding_row(enc, &s, theta), None, 0.0, "breaking fixation"),
            (fixating_row(&s), Some(theta), 0.0, "fixating when it should respond"),
        ];
        let outputs: Vec<f32> = cases.iter().flat_map(|c| c.0.clone()).collect();
        let targets: Vec<Option<f32>> = cases.iter().map(|c| c.1).collect();
        let perf = performance_last(&outputs, &targets, &s);
        for (case, p) in cases.iter().zip(&perf) {
            assert_eq!(*p, case.2, "{enc}: {}", case.3);
        }
    }
}

#[test]
fn tolerance_boundary() {
    for enc in Encoding::ALL {
        let target = 6.0f32; // near the wrap-around, to exercise the circular distance
        for (offset_pi, strict, lenient) in [(0.09, 1.0, 1.0), (0.15, 0.0, 1.0), (0.25, 0.0, 0.0)] {
            for direction in [1.0, -1.0] {
                let response = target + direction * offset_pi * PI;
                let lenient_settings = settings(enc);
                let strict_settings = TaskSettings { tolerance_pi: 0.1, ..settings(enc) };
                let row = responding_row(enc, &lenient_settings, response);
                let p_lenient = performance_last(&row, &[Some(target)], &lenient_settings)[0];
                let p_strict = performance_last(&row, &[Some(target)], &strict_settings)[0];
                assert_eq!((p_strict, p_lenient), (strict, lenient), "{enc} offset {offset_pi}π");
            }
        }
    }
}

#[test]
fn perfect_outputs_score_one_on_every_task() {
    // Feeding the targets back as outputs must score 1 on every trial of every task.
    for (task, enc) in supported_pairs() {
        let s = settings(enc);
        let t = gen_batch(task, &s, 32, 17);
        let perf = performance(&t.targets, &t, &s);
        assert!(perf.iter().all(|&p| p == 1.0), "{task}/{enc}: {perf:?}");
        // Outputs that keep fixating everywhere score 1 exactly on the no-go trials.
        let mut fixating = vec![0.05f32; t.targets.len()];
        for row in fixating.chunks_exact_mut(t.n_out) {
            row[0] = 0.8;
        }
        let perf = performance(&fixating, &t, &s);
        for (p, target) in perf.iter().zip(&t.target_angle) {
            assert_eq!(*p, if target.is_none() { 1.0 } else { 0.0 });
        }
    }
}

#[test]
fn response_angle_decodes_both_encodings() {
    let s = settings(Encoding::Ring);
    for k in 0..64 {
        let theta = TAU * k as f32 / 64.0 + 0.01;
        let ring = responding_row(Encoding::Ring, &s, theta);
        let decoded = response_angle(Encoding::Ring, &ring[1..]);
        assert!(circular_distance(decoded, theta) < 1e-4, "{theta} -> {decoded}");
        assert!((0.0..TAU).contains(&decoded));
        let compact = response_angle(Encoding::Compact, &[theta.cos(), theta.sin()]);
        assert!(circular_distance(compact, theta) < 1e-5);
    }
    assert_close(circular_distance(0.1, TAU - 0.1), 0.2, 1e-5, "wrap");
    assert_close(circular_distance(0.0, PI), PI, 1e-6, "opposite");
}

#[test]
fn matching_sample_and_test_modalities_are_drawn_independently() {
    let s = noiseless(Encoding::Compact);
    let mut combinations = std::collections::HashSet::new();
    for seed in 0..40 {
        let t = gen_batch(Task::DmsGo, &s, 4, seed);
        let sample = epoch(&t, "stimulus").start;
        let ring_at = |b: usize, step: usize| usize::from(ring_energy(&s, t.input(b, step), 0) == 0.0);
        let combination = (ring_at(0, sample), ring_at(0, t.steps - 1));
        for b in 1..t.batch {
            assert_eq!((ring_at(b, sample), ring_at(b, t.steps - 1)), combination);
        }
        combinations.insert(combination);
    }
    assert_eq!(combinations.len(), 4, "{combinations:?}");
}

#[test]
fn other_step_lengths_rescale_timing_and_mask() {
    let fine = TaskSettings { dt_ms: 10.0, ..settings(Encoding::Ring) };
    for seed in 0..20 {
        let t = gen_batch(Task::DelayGo, &fine, 2, seed);
        assert!((120..=340).contains(&t.steps), "{}", t.steps);
        assert_eq!(t.steps - t.go_step, 50, "500 ms response at 10 ms steps");
        assert_eq!(t.mask_at(0, 9)[1], 0.0);
        assert_eq!(t.mask_at(0, 10)[1], 1.0);
        assert_eq!(t.mask_at(0, t.go_step + 9)[1], 0.0);
        assert_eq!(t.mask_at(0, t.go_step + 10)[1], 5.0);
    }
}

#[test]
fn chance_is_what_a_network_that_knows_nothing_scores() {
    let s = settings(Encoding::Ring);
    let chance = |task| chance_performance(task, &s).unwrap();
    // half of the matching tasks' trials end in fixation
    for task in [Task::DmsGo, Task::DmsNogo, Task::DmcGo] {
        assert!((chance(task) - 0.5).abs() < 0.03, "{task:?}: {}", chance(task));
    }
    // a go task always answers: a random direction lands within ±0.2π of the target a fifth of the time
    for task in [Task::FdGo, Task::ReactAnti, Task::DelayGo] {
        assert!((chance(task) - 0.2).abs() < 0.02, "{task:?}: {}", chance(task));
    }
    assert_eq!(chance(Task::FdGo), chance(Task::FdGo), "deterministic");
    let compact = settings(Encoding::Compact);
    assert!((chance_performance(Task::FdGo, &compact).unwrap() - 0.2).abs() < 0.02);
}
