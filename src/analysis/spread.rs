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

/// The spread of one network: task variance of untrained units relative to the trained ones,
/// and the share of the untrained units' task variance that follows the trained units' top mode.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    /// Mean task variance of all untrained units / mean task variance of the trained units.
    pub ratio: f64,
    /// The same for the untrained excitatory and the inhibitory units.
    pub ratio_e: f64,
    pub ratio_i: f64,
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
    let mean_of = |units: &mut dyn Iterator<Item = usize>| {
        let (sum, count) = units.fold((0.0, 0usize), |(s, c), i| (s + variance[i], c + 1));
        if count == 0 { 0.0 } else { sum / count as f64 }
    };
    let is_trained = |i: &usize| trained.contains(i);
    let trained_mean = mean_of(&mut trained.iter().copied());
    let ratio_to_trained = |v: f64| if trained_mean > 0.0 { v / trained_mean } else { 0.0 };
    let untrained_e: Vec<usize> = (0..n_e).filter(|i| !is_trained(i)).collect();
    let inhibitory: Vec<usize> = (n_e..n).collect();
    let all_untrained: Vec<usize> = (0..n).filter(|i| !is_trained(i)).collect();
    let [even, odd] = halves(rates);
    let direction = top_direction(&trial_means(rates), trained);
    let share = |units: &[usize]| match &direction {
        Some(d) => mode_share([&even, &odd], variance, units, trained, d),
        None => 0.0,
    };
    Spread {
        ratio: ratio_to_trained(mean_of(&mut all_untrained.iter().copied())),
        ratio_e: ratio_to_trained(mean_of(&mut untrained_e.iter().copied())),
        ratio_i: ratio_to_trained(mean_of(&mut inhibitory.iter().copied())),
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
        let expected_e = (variance[0] / 2.0) / ((variance[0] + variance[1]) / 2.0);
        assert!((s.ratio_e - expected_e).abs() < 1e-9, "{s:?}");
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
        assert!(s.ratio < 1e-20 && s.ratio_e < 1e-20 && s.ratio_i < 1e-20, "{s:?}");
        let none = spread(&rates, &variance, &[], 4);
        assert_eq!(none, Spread::default());
    }
}
