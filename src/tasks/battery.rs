//! The logic and timing of each task: what is shown when, and what the right answer is.
//!
//! Follows Yang et al.'s `task.py` in its "random" mode, with docs/MODEL.md §3 as the spec where
//! they differ (one seeded generator for everything, multidm included). Timings are drawn in ms
//! and converted to steps piece by piece with `int(ms/dt)`, as Yang does, so the trial lengths
//! land exactly in Yang's ranges at dt = 20 ms.

use std::f64::consts::{PI, TAU};

use super::{Epoch, Task, TaskSettings};
use crate::rng::Rng;

/// One stimulus of a batch: shown on one input ring during [on, off), with a per-trial location
/// and strength.
#[derive(Clone, Debug)]
pub(super) struct Stimulus {
    /// 0 = ring 1, 1 = ring 2.
    pub ring: usize,
    pub on: usize,
    pub off: usize,
    /// Per trial, radians in [0, 2π).
    pub location: Vec<f32>,
    /// Per trial; 1 except in the decision tasks.
    pub strength: Vec<f32>,
}

/// Everything random about a batch, before it is coded into arrays.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    pub batch: usize,
    pub steps: usize,
    /// The fixation cue is on during [0, fixation_off); `steps` for "all trial".
    pub fixation_off: usize,
    /// First step of the response period.
    pub go: usize,
    pub stimuli: Vec<Stimulus>,
    /// Per trial, the answer at the end of the trial; `None` = keep fixating.
    pub target_angle: Vec<Option<f32>>,
    pub epochs: Vec<Epoch>,
}

/// Coherences of the simultaneous decision tasks (dm, contextdm, multidm).
const COHERENCES_SIMULTANEOUS: [f64; 4] = [0.01, 0.02, 0.04, 0.08];
/// Coherences of the delayed decision tasks.
const COHERENCES_DELAYED: [f64; 3] = [0.08, 0.16, 0.32];
/// Response period of every task except dmc/dnmc.
const RESPONSE_MS: f64 = 500.0;

/// Draw the plan of a batch. The task must be supported by the settings' encoding (checked by
/// the caller); nothing here depends on the encoding.
pub(super) fn plan(task: Task, settings: &TaskSettings, batch: usize, rng: &mut Rng) -> Plan {
    match task {
        Task::FdGo | Task::FdAnti => fixed_duration_go(task == Task::FdAnti, settings, batch, rng),
        Task::ReactGo | Task::ReactAnti => reaction_go(task == Task::ReactAnti, settings, batch, rng),
        Task::DelayGo | Task::DelayAnti => delayed_go(task == Task::DelayAnti, settings, batch, rng),
        Task::Dm1 => simultaneous_decision(Attend::Ring(0), Rings::One(0), settings, batch, rng),
        Task::Dm2 => simultaneous_decision(Attend::Ring(1), Rings::One(1), settings, batch, rng),
        Task::ContextDm1 => simultaneous_decision(Attend::Ring(0), Rings::Independent, settings, batch, rng),
        Task::ContextDm2 => simultaneous_decision(Attend::Ring(1), Rings::Independent, settings, batch, rng),
        Task::MultiDm => simultaneous_decision(Attend::Sum, Rings::Split, settings, batch, rng),
        Task::DelayDm1 => delayed_decision(Attend::Ring(0), Rings::One(0), settings, batch, rng),
        Task::DelayDm2 => delayed_decision(Attend::Ring(1), Rings::One(1), settings, batch, rng),
        Task::ContextDelayDm1 => delayed_decision(Attend::Ring(0), Rings::Independent, settings, batch, rng),
        Task::ContextDelayDm2 => delayed_decision(Attend::Ring(1), Rings::Independent, settings, batch, rng),
        Task::MultiDelayDm => delayed_decision(Attend::Sum, Rings::Split, settings, batch, rng),
        Task::DmsGo => matching(Matching::Location, true, settings, batch, rng),
        Task::DmsNogo => matching(Matching::Location, false, settings, batch, rng),
        Task::DmcGo => matching(Matching::Category, true, settings, batch, rng),
        Task::DmcNogo => matching(Matching::Category, false, settings, batch, rng),
    }
}

fn epoch(name: &'static str, start: usize, end: usize) -> Epoch {
    Epoch { name, start, end }
}

/// Wrap an angle into [0, 2π) and store it as f32 (guarding the f32 rounding up to 2π).
fn wrap_angle(theta: f64) -> f32 {
    let wrapped = theta.rem_euclid(TAU) as f32;
    if wrapped >= std::f32::consts::TAU { 0.0 } else { wrapped }
}

fn uniform_angles(batch: usize, rng: &mut Rng) -> Vec<f64> {
    (0..batch).map(|_| rng.uniform_range(0.0, TAU)).collect()
}

fn sign(rng: &mut Rng) -> f64 {
    if rng.coin() { 1.0 } else { -1.0 }
}

fn steps_from_choice(settings: &TaskSettings, rng: &mut Rng, choices_ms: &[f64]) -> usize {
    settings.steps(rng.choose(choices_ms))
}

fn steps_from_uniform(settings: &TaskSettings, rng: &mut Rng, lo_ms: f64, hi_ms: f64) -> usize {
    settings.steps(rng.uniform_range(lo_ms, hi_ms))
}

// ---------------------------------------------------------------------------------------------
// Go / Anti

/// Response to the stimulus (go) or to the opposite side (anti).
fn go_targets(locations: &[f64], anti: bool) -> Vec<Option<f32>> {
    let shift = if anti { PI } else { 0.0 };
    locations.iter().map(|&theta| Some(wrap_angle(theta + shift))).collect()
}

fn single_stimulus(ring: usize, on: usize, off: usize, locations: &[f64]) -> Stimulus {
    Stimulus { ring, on, off, location: locations.iter().map(|&theta| wrap_angle(theta)).collect(), strength: vec![1.0; locations.len()] }
}

/// fdgo / fdanti: the stimulus appears and stays on; the go cue (fixation off) comes later.
fn fixed_duration_go(anti: bool, settings: &TaskSettings, batch: usize, rng: &mut Rng) -> Plan {
    let ring = rng.below(2);
    let stim_on = steps_from_uniform(settings, rng, 300.0, 700.0);
    let go = stim_on + steps_from_uniform(settings, rng, 500.0, 1500.0);
    let steps = go + settings.steps(RESPONSE_MS);
    let locations = uniform_angles(batch, rng);
    Plan {
        batch,
        steps,
        fixation_off: go,
        go,
        stimuli: vec![single_stimulus(ring, stim_on, steps, &locations)],
        target_angle: go_targets(&locations, anti),
        epochs: vec![epoch("fixation", 0, stim_on), epoch("stimulus", stim_on, go), epoch("response", go, steps)],
    }
}

/// reactgo / reactanti: the fixation cue stays on; stimulus onset is the go signal.
fn reaction_go(anti: bool, settings: &TaskSettings, batch: usize, rng: &mut Rng) -> Plan {
    let ring = rng.below(2);
    let stim_on = steps_from_uniform(settings, rng, 500.0, 2500.0);
    let steps = stim_on + settings.steps(RESPONSE_MS);
    let locations = uniform_angles(batch, rng);
    Plan {
        batch,
        steps,
        fixation_off: steps,
        go: stim_on,
        stimuli: vec![single_stimulus(ring, stim_on, steps, &locations)],
        target_angle: go_targets(&locations, anti),
        epochs: vec![epoch("fixation", 0, stim_on), epoch("response", stim_on, steps)],
    }
}

/// delaygo / delayanti: a brief stimulus, a memory delay, then the go cue.
fn delayed_go(anti: bool, settings: &TaskSettings, batch: usize, rng: &mut Rng) -> Plan {
    let ring = rng.below(2);
    let stim_on = steps_from_choice(settings, rng, &[300.0, 500.0, 700.0]);
    let stim_off = stim_on + steps_from_choice(settings, rng, &[200.0, 400.0, 600.0]);
    let go = stim_off + steps_from_choice(settings, rng, &[200.0, 400.0, 800.0, 1600.0]);
    let steps = go + settings.steps(RESPONSE_MS);
    let locations = uniform_angles(batch, rng);
    Plan {
        batch,
        steps,
        fixation_off: go,
        go,
        stimuli: vec![single_stimulus(ring, stim_on, stim_off, &locations)],
        target_angle: go_targets(&locations, anti),
        epochs: vec![
            epoch("fixation", 0, stim_on),
            epoch("stimulus", stim_on, stim_off),
            epoch("delay", stim_off, go),
            epoch("response", go, steps),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Decision making

/// Which strengths decide the answer.
#[derive(Clone, Copy)]
enum Attend {
    /// Only this ring's strengths count (dm1/dm2, contextdm1/2).
    Ring(usize),
    /// The strengths summed over both rings (multidm).
    Sum,
}

/// Which rings carry the two stimuli, and how their strengths relate.
#[derive(Clone, Copy)]
enum Rings {
    /// Only this ring (dm1 / dm2).
    One(usize),
    /// Both rings, each with its own mean, coherence and sign (contextdm).
    Independent,
    /// Both rings, each stimulus's total strength split between them (multidm).
    Split,
}

/// Per-trial strengths of the two stimuli on each ring: `[ring][stimulus][trial]`.
type Strengths = [[Vec<f64>; 2]; 2];

/// Yang's `contextdm_genstim`: mean ~ U(0.8, 1.2); the two stimuli are mean ± coherence with a
/// random sign.
fn strength_pair(batch: usize, coherences: &[f64], rng: &mut Rng) -> [Vec<f64>; 2] {
    let mut first = Vec::with_capacity(batch);
    let mut second = Vec::with_capacity(batch);
    for _ in 0..batch {
        let mean = rng.uniform_range(0.8, 1.2);
        let difference = rng.choose(coherences) * sign(rng);
        first.push(mean + difference);
        second.push(mean - difference);
    }
    [first, second]
}

/// Split each stimulus's total strength 2s between the rings: ring 1 gets the share
/// 0.5 ± U(0.05, 0.2), i.e. a share in [0.3, 0.45] ∪ [0.55, 0.7] (Yang's s·(1 ± U(0.2,0.8)/2)).
fn split_between_rings(totals: &[f64], rng: &mut Rng) -> [Vec<f64>; 2] {
    let mut ring1 = Vec::with_capacity(totals.len());
    let mut ring2 = Vec::with_capacity(totals.len());
    for &s in totals {
        let share = 0.5 + rng.uniform_range(0.05, 0.2) * sign(rng);
        ring1.push(2.0 * s * share);
        ring2.push(2.0 * s * (1.0 - share));
    }
    [ring1, ring2]
}

fn decision_strengths(rings: Rings, batch: usize, coherences: &[f64], rng: &mut Rng) -> Strengths {
    let zeros = || [vec![0.0; batch], vec![0.0; batch]];
    match rings {
        Rings::One(0) => [strength_pair(batch, coherences, rng), zeros()],
        Rings::One(_) => [zeros(), strength_pair(batch, coherences, rng)],
        Rings::Independent => {
            let ring1 = strength_pair(batch, coherences, rng);
            let ring2 = strength_pair(batch, coherences, rng);
            [ring1, ring2]
        }
        Rings::Split => {
            let [first, second] = strength_pair(batch, coherences, rng);
            let [first_ring1, first_ring2] = split_between_rings(&first, rng);
            let [second_ring1, second_ring2] = split_between_rings(&second, rng);
            [[first_ring1, second_ring1], [first_ring2, second_ring2]]
        }
    }
}

/// Two locations per trial, the second U(0.5π, 1.5π) away from the first in either direction.
fn decision_locations(batch: usize, rng: &mut Rng) -> [Vec<f64>; 2] {
    let mut first = Vec::with_capacity(batch);
    let mut second = Vec::with_capacity(batch);
    for _ in 0..batch {
        let separation = rng.uniform_range(0.5 * PI, 1.5 * PI) * sign(rng);
        let theta = rng.uniform_range(0.0, TAU);
        first.push(theta);
        second.push((theta + separation).rem_euclid(TAU));
    }
    [first, second]
}

/// The location of the stronger stimulus by the attended evidence.
fn decision_targets(attend: Attend, strengths: &Strengths, locations: &[Vec<f64>; 2]) -> Vec<Option<f32>> {
    (0..locations[0].len())
        .map(|trial| {
            let evidence = |stimulus: usize| match attend {
                Attend::Ring(ring) => strengths[ring][stimulus][trial],
                Attend::Sum => strengths[0][stimulus][trial] + strengths[1][stimulus][trial],
            };
            let winner = if evidence(0) > evidence(1) { 0 } else { 1 };
            Some(wrap_angle(locations[winner][trial]))
        })
        .collect()
}

/// The stimuli of a decision trial: stimulus k on every ring that carries it, during `windows[k]`.
fn decision_stimuli(rings: Rings, strengths: &Strengths, locations: &[Vec<f64>; 2], windows: [(usize, usize); 2]) -> Vec<Stimulus> {
    let used_rings: &[usize] = match rings {
        Rings::One(0) => &[0],
        Rings::One(_) => &[1],
        Rings::Independent | Rings::Split => &[0, 1],
    };
    let mut stimuli = Vec::new();
    for &ring in used_rings {
        for (stimulus, &(on, off)) in windows.iter().enumerate() {
            stimuli.push(Stimulus {
                ring,
                on,
                off,
                location: locations[stimulus].iter().map(|&t| wrap_angle(t)).collect(),
                strength: strengths[ring][stimulus].iter().map(|&s| s as f32).collect(),
            });
        }
    }
    stimuli
}

/// dm1, dm2, contextdm1, contextdm2, multidm: both stimuli at once, then the go cue.
fn simultaneous_decision(attend: Attend, rings: Rings, settings: &TaskSettings, batch: usize, rng: &mut Rng) -> Plan {
    let stim_on = steps_from_uniform(settings, rng, 100.0, 400.0);
    let go = stim_on + steps_from_choice(settings, rng, &[400.0, 800.0, 1600.0]);
    let steps = go + settings.steps(RESPONSE_MS);
    let locations = decision_locations(batch, rng);
    let strengths = decision_strengths(rings, batch, &COHERENCES_SIMULTANEOUS, rng);
    Plan {
        batch,
        steps,
        fixation_off: go,
        go,
        stimuli: decision_stimuli(rings, &strengths, &locations, [(stim_on, go); 2]),
        target_angle: decision_targets(attend, &strengths, &locations),
        epochs: vec![epoch("fixation", 0, stim_on), epoch("stimulus", stim_on, go), epoch("response", go, steps)],
    }
}

/// delaydm1/2, contextdelaydm1/2, multidelaydm: the two stimuli one after the other.
fn delayed_decision(attend: Attend, rings: Rings, settings: &TaskSettings, batch: usize, rng: &mut Rng) -> Plan {
    let stim1_on = steps_from_choice(settings, rng, &[200.0, 400.0, 600.0]);
    let stim1_off = stim1_on + steps_from_choice(settings, rng, &[200.0, 400.0, 600.0]);
    let stim2_on = stim1_off + steps_from_choice(settings, rng, &[200.0, 400.0, 800.0, 1600.0]);
    let stim2_off = stim2_on + steps_from_choice(settings, rng, &[200.0, 400.0, 600.0]);
    let go = stim2_off + steps_from_uniform(settings, rng, 100.0, 300.0);
    let steps = go + settings.steps(RESPONSE_MS);
    let locations = decision_locations(batch, rng);
    let strengths = decision_strengths(rings, batch, &COHERENCES_DELAYED, rng);
    let windows = [(stim1_on, stim1_off), (stim2_on, stim2_off)];
    Plan {
        batch,
        steps,
        fixation_off: go,
        go,
        stimuli: decision_stimuli(rings, &strengths, &locations, windows),
        target_angle: decision_targets(attend, &strengths, &locations),
        epochs: vec![
            epoch("fixation", 0, stim1_on),
            epoch("stimulus", stim1_on, stim1_off),
            epoch("delay", stim1_off, stim2_on),
            epoch("stimulus 2", stim2_on, stim2_off),
            epoch("delay 2", stim2_off, go),
            epoch("response", go, steps),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Matching

#[derive(Clone, Copy, PartialEq)]
enum Matching {
    /// dms / dnms: same location.
    Location,
    /// dmc / dnmc: same category (θ < π or not).
    Category,
}

/// The sample/test locations of the category tasks: {0.1, 0.3, ..., 1.9}·π, never on the
/// category boundary.
const CATEGORY_LOCATIONS_PI: [f64; 10] = [0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9];

/// dmsgo, dmsnogo, dmcgo, dmcnogo: sample, delay, test. The fixation cue stays on all trial and
/// test onset is the go signal; respond to the test on a (non-)match, else keep fixating.
fn matching(kind: Matching, respond_on_match: bool, settings: &TaskSettings, batch: usize, rng: &mut Rng) -> Plan {
    // The two stimuli's modalities are drawn independently, once per batch.
    let ring1 = rng.below(2);
    let ring2 = rng.below(2);
    let stim1_on = steps_from_choice(settings, rng, &[200.0, 400.0, 600.0]);
    let stim1_off = stim1_on + steps_from_choice(settings, rng, &[200.0, 400.0, 600.0]);
    let stim2_on = stim1_off + steps_from_choice(settings, rng, &[200.0, 400.0, 800.0, 1600.0]);
    let response = match kind {
        Matching::Location => settings.steps(RESPONSE_MS),
        Matching::Category => steps_from_choice(settings, rng, &[200.0, 400.0, 600.0]),
    };
    let steps = stim2_on + response;

    let mut sample = Vec::with_capacity(batch);
    let mut test = Vec::with_capacity(batch);
    let mut target_angle = Vec::with_capacity(batch);
    for _ in 0..batch {
        let (theta1, theta2, is_match) = match kind {
            Matching::Location => {
                let theta1 = rng.uniform_range(0.0, TAU);
                let is_match = rng.coin();
                let theta2 = if is_match {
                    theta1
                } else {
                    let offset = rng.uniform_range(PI / 9.0, 17.0 * PI / 9.0) * sign(rng);
                    (theta1 + offset).rem_euclid(TAU)
                };
                (theta1, theta2, is_match)
            }
            Matching::Category => {
                let theta1 = rng.choose(&CATEGORY_LOCATIONS_PI) * PI;
                let theta2 = rng.choose(&CATEGORY_LOCATIONS_PI) * PI;
                (theta1, theta2, (theta1 < PI) == (theta2 < PI))
            }
        };
        sample.push(theta1);
        test.push(theta2);
        target_angle.push((is_match == respond_on_match).then(|| wrap_angle(theta2)));
    }
    Plan {
        batch,
        steps,
        fixation_off: steps,
        go: stim2_on,
        stimuli: vec![single_stimulus(ring1, stim1_on, stim1_off, &sample), single_stimulus(ring2, stim2_on, steps, &test)],
        target_angle,
        epochs: vec![
            epoch("fixation", 0, stim1_on),
            epoch("stimulus", stim1_on, stim1_off),
            epoch("delay", stim1_off, stim2_on),
            epoch("response", stim2_on, steps),
        ],
    }
}
