//! How far task-related activity spreads beyond the trained units (Kim et al. 2023;
//! docs/MODEL.md §7).
//!
//! A unit's task variance is the variance over conditions and time of its trial-locked rate: the
//! part of its activity the task drives. Trial averages keep some trial-to-trial noise, and in a
//! chaotic network that noise is correlated in time, so subtracting its variance/n over- or
//! under-corrects. Instead the trials of each condition are split into two halves (even and odd
//! trials) and the task variance is the covariance, over conditions and time, of the two halves'
//! averages: noise independent between trials averages out of a covariance, whatever its time
//! course, so the estimate is unbiased (and, for a unit the task does not drive, near 0 of either
//! sign). A first version subtracted the noise variance per unit and floored each unit at 0: in
//! the chaotic rate network at g ≥ 1 that bias was the whole measured spread.
//!
//! The task variance counts a time course shared by all conditions (a common ramp) as task
//! activity. What tells the conditions apart is the *selective variance*: at each time the
//! variance of the trial-locked rate across conditions, averaged over the trial; with two
//! conditions A and B, ¼·mean_t (A(t) − B(t))², the mean square of the condition difference
//! (a constant offset between the conditions counts, a course they share does not). Estimated,
//! like the task variance, from the even and the odd trials' averages: ¼·mean_t (A_even −
//! B_even)(A_odd − B_odd), unbiased. The task variance is the selective variance plus the
//! variance over time of the condition-averaged rate. The spread ratio compares selective
//! variances (`Spread`).

/// rates[condition][trial][step][unit] (at least 2 trials per condition) → each unit's task
/// variance (unbiased; near 0, of either sign, for a unit without any).
pub fn task_variance(rates: &[Vec<Vec<Vec<f64>>>]) -> Vec<f64> {
    let n = rates.first().and_then(|c| c.first()).and_then(|t| t.first()).map_or(0, Vec::len);
    let [a, b] = halves(rates);
    let cells = a.iter().map(Vec::len).sum::<usize>().max(1) as f64;
    (0..n)
        .map(|i| {
            let values = |m: &[Vec<Vec<f64>>]| m.iter().flat_map(|c| c.iter().map(move |step| step[i])).collect::<Vec<f64>>();
            let (x, y) = (values(&a), values(&b));
            let (mx, my) = (x.iter().sum::<f64>() / cells, y.iter().sum::<f64>() / cells);
            x.iter().zip(&y).map(|(p, q)| (p - mx) * (q - my)).sum::<f64>() / cells
        })
        .collect()
}

/// rates[condition][trial][step][unit] (at least 2 trials per condition) → each unit's selective
/// variance: the variance across conditions of its trial-locked rate at each step, averaged over
/// the steps (two conditions: ¼·mean_t (A − B)²), from the product of the even and the odd
/// trials' deviations from their condition mean, so unbiased (near 0, of either sign, for a unit
/// that does not tell the conditions apart, whatever it shares across them).
pub fn selective_variance(rates: &[Vec<Vec<Vec<f64>>>]) -> Vec<f64> {
    let n = rates.first().and_then(|c| c.first()).and_then(|t| t.first()).map_or(0, Vec::len);
    let conditions = rates.len();
    let steps = rates.iter().map(|c| c.first().map_or(0, Vec::len)).min().unwrap_or(0);
    if conditions < 2 || steps == 0 {
        return vec![0.0; n];
    }
    let [a, b] = halves(rates);
    let mut sum = vec![0.0; n];
    for t in 0..steps {
        for (i, sum) in sum.iter_mut().enumerate() {
            let (ma, mb) = (0..conditions).fold((0.0, 0.0), |(x, y), c| (x + a[c][t][i], y + b[c][t][i]));
            let (ma, mb) = (ma / conditions as f64, mb / conditions as f64);
            *sum += (0..conditions).map(|c| (a[c][t][i] - ma) * (b[c][t][i] - mb)).sum::<f64>() / conditions as f64;
        }
    }
    sum.into_iter().map(|s| s / steps as f64).collect()
}

/// Trial-averaged rates [condition][step][unit].
pub fn trial_means(rates: &[Vec<Vec<Vec<f64>>>]) -> Vec<Vec<Vec<f64>>> {
    averages(rates, 0, 1)
}

/// The averages [condition][step][unit] of the even and of the odd trials: two independent
/// estimates, whose products are free of the trial noise's bias.
pub fn halves(rates: &[Vec<Vec<Vec<f64>>>]) -> [Vec<Vec<Vec<f64>>>; 2] {
    [averages(rates, 0, 2), averages(rates, 1, 2)]
}

/// Averages [condition][step][unit] over the trials `first`, `first + every`, … of each
/// condition (without copying them).
fn averages(rates: &[Vec<Vec<Vec<f64>>>], first: usize, every: usize) -> Vec<Vec<Vec<f64>>> {
    rates
        .iter()
        .map(|trials| {
            let chosen = || trials.iter().skip(first).step_by(every);
            let count = chosen().count().max(1) as f64;
            let steps = trials.first().map_or(0, Vec::len);
            (0..steps)
                .map(|t| {
                    let n = trials[0][t].len();
                    (0..n).map(|i| chosen().map(|trial| trial[t][i]).sum::<f64>() / count).collect()
                })
                .collect()
        })
        .collect()
}

/// The spread of one network: selective variance of untrained units relative to the trained
/// ones, the absolute selective variances, the task variance ratio, and the share of the
/// untrained units' task variance that follows the trained units' top mode.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    /// Mean selective variance of all untrained units / mean selective variance of the trained
    /// units; `None` (undetermined) when the trained units' is not above 0.
    pub ratio: Option<f64>,
    /// The same for the untrained excitatory and the inhibitory units.
    pub ratio_e: Option<f64>,
    pub ratio_i: Option<f64>,
    /// Mean selective variance of the trained units, of all untrained units, of the untrained
    /// excitatory and of the inhibitory units.
    pub selective_trained: f64,
    pub selective_untrained: f64,
    pub selective_e: f64,
    pub selective_i: f64,
    /// The untrained units' mean task variance (conditions × time: shared courses included) over
    /// the trained units' (0 when that is not above 0): the measure a first version reported.
    pub task_ratio: f64,
    /// The share of the untrained excitatory (inhibitory) units' task variance along the time
    /// course of the trained units' top principal component (the "ramping mode"), from
    /// independent halves of the trials (see [`mode_share`]).
    pub mode_share_e: f64,
    pub mode_share_i: f64,
    /// The trained units' mean task variance (the ratios' denominator: when it is not clearly
    /// above 0 the subset did not learn the task and the ratios mean nothing).
    pub trained_variance: f64,
}

/// `rates` [condition][trial][step][unit] (at least 2 trials per condition), `variance` their
/// [`task_variance`]; units `0..n_e` are excitatory, `trained` are the trained ones (excitatory).
pub fn spread(rates: &[Vec<Vec<Vec<f64>>>], variance: &[f64], trained: &[usize], n_e: usize) -> Spread {
    let n = variance.len();
    let selective = selective_variance(rates);
    let mean_of = |values: &[f64], units: &[usize]| {
        if units.is_empty() { 0.0 } else { units.iter().map(|i| values[*i]).sum::<f64>() / units.len() as f64 }
    };
    let is_trained = |i: &usize| trained.contains(i);
    let untrained_e: Vec<usize> = (0..n_e).filter(|i| !is_trained(i)).collect();
    let inhibitory: Vec<usize> = (n_e..n).collect();
    let all_untrained: Vec<usize> = (0..n).filter(|i| !is_trained(i)).collect();
    let trained_mean = mean_of(variance, trained);
    let selective_trained = mean_of(&selective, trained);
    let over_trained = |units: &[usize]| (selective_trained > 0.0).then(|| mean_of(&selective, units) / selective_trained);
    let [even, odd] = halves(rates);
    let direction = top_direction(&trial_means(rates), trained);
    let share = |units: &[usize]| match &direction {
        Some(d) => mode_share([&even, &odd], variance, units, trained, d),
        None => 0.0,
    };
    Spread {
        ratio: over_trained(&all_untrained),
        ratio_e: over_trained(&untrained_e),
        ratio_i: over_trained(&inhibitory),
        selective_trained,
        selective_untrained: mean_of(&selective, &all_untrained),
        selective_e: mean_of(&selective, &untrained_e),
        selective_i: mean_of(&selective, &inhibitory),
        task_ratio: if trained_mean > 0.0 { mean_of(variance, &all_untrained) / trained_mean } else { 0.0 },
        mode_share_e: share(&untrained_e),
        mode_share_i: share(&inhibitory),
        trained_variance: trained_mean,
    }
}

/// The trained units' top principal component of their trial-averaged rates over (condition,
/// step): its loadings (power iteration on their covariance); `None` without trained units or
/// variance.
fn top_direction(means: &[Vec<Vec<f64>>], trained: &[usize]) -> Option<Vec<f64>> {
    let m = trained.len();
    if m == 0 {
        return None;
    }
    let centred = centred_rows(means, trained);
    let mut covariance = vec![0.0; m * m];
    for r in &centred {
        for a in 0..m {
            for b in 0..m {
                covariance[a * m + b] += r[a] * r[b];
            }
        }
    }
    let mut v: Vec<f64> = (0..m).map(|k| 1.0 + k as f64 * 1e-3).collect();
    for _ in 0..200 {
        let next: Vec<f64> = (0..m).map(|a| (0..m).map(|b| covariance[a * m + b] * v[b]).sum()).collect();
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return None;
        }
        v = next.into_iter().map(|x| x / norm).collect();
    }
    Some(v)
}

/// The `units`' averages as rows over (condition, step), each unit centred.
fn centred_rows(means: &[Vec<Vec<f64>>], units: &[usize]) -> Vec<Vec<f64>> {
    let rows: Vec<Vec<f64>> = means.iter().flat_map(|c| c.iter().map(|step| units.iter().map(|i| step[*i]).collect())).collect();
    let count = rows.len().max(1) as f64;
    let centre: Vec<f64> = (0..units.len()).map(|k| rows.iter().map(|r| r[k]).sum::<f64>() / count).collect();
    rows.iter().map(|r| r.iter().zip(&centre).map(|(v, c)| v - c).collect()).collect()
}

/// How much of the units' summed task variance lies along the mode's time course: Σ_i cov(r_i,
/// mode)² / var(mode) over Σ_i task variance_i. Estimated, like the task variance, from the two
/// independent halves of the trials (`halves`: averages of the even and of the odd trials), the
/// mode's time course in each half from the trained units' loadings `direction`: each squared
/// covariance as cov(odd r_i, even mode)·cov(even r_i, odd mode), var(mode) as cov(even mode,
/// odd mode); so the trial noise adds no positive bias (near 0, of either sign, for units the
/// mode does not drive; not capped, so noise can take it a little past 1). 0 when the units
/// carry no task variance or the mode has none.
fn mode_share(halves: [&[Vec<Vec<f64>>]; 2], variance: &[f64], units: &[usize], trained: &[usize], direction: &[f64]) -> f64 {
    let course = |half: &[Vec<Vec<f64>>]| -> Vec<f64> {
        centred_rows(half, trained).iter().map(|r| r.iter().zip(direction).map(|(a, b)| a * b).sum()).collect()
    };
    let (mode_even, mode_odd) = (course(halves[0]), course(halves[1]));
    let mode_variance: f64 = mode_even.iter().zip(&mode_odd).map(|(a, b)| a * b).sum();
    if units.is_empty() || mode_variance <= 0.0 {
        return 0.0;
    }
    let covariance = |half: &[Vec<Vec<f64>>], unit: usize, mode: &[f64]| -> f64 {
        half.iter().flat_map(|c| c.iter().map(move |step| step[unit])).zip(mode).map(|(r, m)| r * m).sum()
    };
    let rows = mode_even.len() as f64;
    let (mut along, mut total) = (0.0, 0.0);
    for &i in units {
        along += covariance(halves[1], i, &mode_even) * covariance(halves[0], i, &mode_odd) / mode_variance;
        total += variance[i] * rows;
    }
    if total <= 0.0 { 0.0 } else { along / total }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two conditions, `trials` trials, 20 steps, 6 units: units 0–1 trained (E), 2–3 untrained E
    /// (2 copies unit 0, 3 is constant), 4–5 inhibitory (4 is noise, 5 copies −unit 1).
    fn constructed(trials: usize) -> Vec<Vec<Vec<Vec<f64>>>> {
        let mut noise = crate::rng::Rng::seed_from(9);
        (0..2)
            .map(|c| {
                (0..trials)
                    .map(|_| {
                        (0..20)
                            .map(|t| {
                                let ramp = t as f64 / 20.0 * if c == 0 { 1.0 } else { -1.0 };
                                let u0 = 1.0 + ramp;
                                let u1 = 1.0 + 0.5 * ramp;
                                vec![u0, u1, u0, 0.7, noise.normal(), 2.0 - u1]
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn units_that_copy_trained_units_carry_their_variance_and_others_none() {
        let rates = constructed(40);
        let variance = task_variance(&rates);
        assert!((variance[2] - variance[0]).abs() < 1e-12, "a copy carries all the variance");
        assert!(variance[3].abs() < 1e-20, "a constant unit carries none");
        assert!(variance[4].abs() < 0.05 * variance[0], "noise is not task variance: {}", variance[4]);
        let s = spread(&rates, &variance, &[0, 1], 4);
        // untrained E: a copy of unit 0 and a constant unit; trained mean = (v0 + v1)/2
        let selective = selective_variance(&rates);
        let expected_e = (selective[0] / 2.0) / ((selective[0] + selective[1]) / 2.0);
        assert!((s.ratio_e.unwrap() - expected_e).abs() < 1e-9, "{s:?}");
        assert!((s.selective_e - selective[0] / 2.0).abs() < 1e-12);
        let expected_task = (variance[2..].iter().sum::<f64>() / 4.0) / ((variance[0] + variance[1]) / 2.0);
        assert!((s.task_ratio - expected_task).abs() < 1e-9, "{s:?}");
        assert!(s.mode_share_e > 0.999, "the copy lies on the ramping mode: {s:?}");
        assert!(s.mode_share_i > 0.9, "−unit 1 also ramps (the noise unit adds little): {s:?}");
    }

    /// The mode share from independent halves: a noisy unit that follows the ramping mode
    /// shares about all its task variance with it; 200 noisy units whose task activity is a
    /// hump the same in both conditions (orthogonal to the mode) about none (averages of all the
    /// trials, as a first version used, credited the mode with 0.32 of it: their noise).
    #[test]
    fn the_mode_share_is_unbiased_by_trial_noise() {
        let (humps, trials, steps) = (200, 60, 40);
        let mut noise = crate::rng::Rng::seed_from(4);
        let rates: Vec<Vec<Vec<Vec<f64>>>> = (0..2)
            .map(|c| {
                (0..trials)
                    .map(|_| {
                        (0..steps)
                            .map(|t| {
                                let ramp = t as f64 / steps as f64 * if c == 0 { 1.0 } else { -1.0 };
                                let hump = 0.1 * (std::f64::consts::PI * t as f64 / steps as f64).sin();
                                let mut units = vec![1.0 + ramp, 1.0 + 0.5 * ramp, 1.0 + ramp + noise.normal()];
                                units.extend((0..humps).map(|_| hump + noise.normal()));
                                units
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let variance = task_variance(&rates);
        let [even, odd] = halves(&rates);
        let direction = top_direction(&trial_means(&rates), &[0, 1]).unwrap();
        let share = |units: &[usize]| mode_share([&even, &odd], &variance, units, &[0, 1], &direction);
        let hump_units: Vec<usize> = (3..3 + humps).collect();
        assert!((share(&[2]) - 1.0).abs() < 0.15, "the noisy copy lies on the mode: {}", share(&[2]));
        assert!(share(&hump_units).abs() < 0.1, "the humps do not: {}", share(&hump_units));
    }

    #[test]
    fn disconnected_units_carry_nothing_and_no_training_gives_zero() {
        let rates: Vec<Vec<Vec<Vec<f64>>>> = constructed(30)
            .into_iter()
            .map(|c| {
                c.into_iter().map(|trial| trial.into_iter().map(|step| vec![step[0], step[1], 0.5, 0.5, 0.5, 0.5]).collect()).collect()
            })
            .collect();
        let variance = task_variance(&rates);
        let s = spread(&rates, &variance, &[0, 1], 4);
        assert!([s.ratio, s.ratio_e, s.ratio_i].iter().all(|r| r.is_some_and(|r| r.abs() < 1e-20)), "{s:?}");
        assert!(s.selective_untrained.abs() < 1e-20 && s.task_ratio < 1e-20, "{s:?}");
        let none = spread(&rates, &variance, &[], 4);
        assert_eq!((none.ratio, none.ratio_e, none.ratio_i, none.selective_trained), (None, None, None, 0.0), "undetermined");
    }

    /// Two conditions, 40 steps, 400 trials each; unit 0 ramps up in A and down in B (selective),
    /// unit 1 ramps up in both (a shared ramp: task variance, no selectivity), unit 2 sits 1
    /// higher in A than in B (a constant difference: selective, ¼·1² = 0.25), unit 3 is noise of
    /// s.d. 1 the same in both. Worked out: unit 0's selective variance is mean_t (t/40)² =
    /// (39·40·79/6)/40³ = 0.3209; unit 1's task variance is the variance of t/40 over t = 0.0833.
    #[test]
    fn the_selective_variance_counts_what_tells_the_conditions_apart() {
        let (trials, steps) = (400, 40);
        let mut noise = crate::rng::Rng::seed_from(11);
        let rates: Vec<Vec<Vec<Vec<f64>>>> = (0..2)
            .map(|c| {
                let sign = if c == 0 { 1.0 } else { -1.0 };
                (0..trials)
                    .map(|_| {
                        (0..steps)
                            .map(|t| {
                                let ramp = t as f64 / steps as f64;
                                vec![
                                    1.0 + sign * ramp + noise.normal(),
                                    1.0 + ramp + noise.normal(),
                                    0.5 * sign + noise.normal(),
                                    noise.normal(),
                                ]
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let selective = selective_variance(&rates);
        let variance = task_variance(&rates);
        // each half averages 200 trials: s.d. of a product of two such means 1/200 per step, /√80 over steps
        let close = |value: f64, expected: f64| (value - expected).abs() < 0.005;
        assert!(close(selective[0], 0.3209), "{selective:?}");
        assert!(close(selective[1], 0.0), "a shared ramp is not selective: {selective:?}");
        assert!(close(variance[1], 0.0833), "but it is task variance: {variance:?}");
        assert!(close(selective[2], 0.25), "a constant difference is: {selective:?}");
        assert!(close(selective[3], 0.0), "noise is not: {selective:?}");
        // the task variance is the selective variance plus the condition mean's variance over time
        assert!(close(variance[0], selective[0]) && close(variance[2], selective[2]), "{variance:?}");
        let s = spread(&rates, &variance, &[0], 2);
        assert!(close(s.ratio_e.unwrap(), 0.0), "the shared ramp does not spread: {s:?}");
        assert!(s.task_ratio > 0.2, "but the task variance ratio counted it: {s:?}");
    }
}
