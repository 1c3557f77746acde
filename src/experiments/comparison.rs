//! Comparisons of pathway sets over seeds, as the study's report states them: each set against
//! the baseline (Holm's correction over the sets of one measure), and each combined set against
//! the better of its single pathways, seed by seed (synergy). Every test is the exact paired
//! sign-flip test ([`PairedTest`]); every "no significant difference" carries the smallest
//! difference the seeds could have detected.

use std::collections::BTreeMap;

use crate::analysis::stats::{ALPHA, PairedTest, holm};

/// Which way is better on a measure: what "the better single pathway" means for synergy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// A description of the dynamics: different, not better or worse (no synergy test).
    Neither,
}

/// One measure compared between sets: its per-run values by set and seed.
#[derive(Clone, Debug)]
pub struct Measure {
    /// e.g. "noise robustness (mean over levels 0.25–1)"
    pub name: String,
    /// Its row label in the at-a-glance table.
    pub short: String,
    /// What every other key is compared with (a set, e.g. `bias`).
    pub baseline: String,
    pub better: Better,
    /// key (a set, or a set and pathway) → seed → value
    pub values: BTreeMap<String, BTreeMap<u64, f64>>,
}

impl Measure {
    /// The values of `key` and `other` on the seeds both have, as (key's, other's).
    fn paired(&self, key: &str, other: &str) -> Option<(Vec<f64>, Vec<f64>)> {
        let (a, b) = (self.values.get(key)?, self.values.get(other)?);
        let pairs: (Vec<f64>, Vec<f64>) = a.iter().filter_map(|(seed, v)| b.get(seed).map(|w| (*v, *w))).unzip();
        (pairs.0.len() >= 2).then_some(pairs)
    }

    /// `key` − `other`, paired by seed; `None` with fewer than two common seeds.
    pub fn test(&self, key: &str, other: &str) -> Option<PairedTest> {
        self.paired(key, other).map(|(a, b)| PairedTest::of(&a, &b))
    }
}

/// `p = 0.012`, `p < 0.001`, `p = n/a`.
pub fn p_equals(p: f64) -> String {
    if p.is_nan() {
        "p = n/a".into()
    } else if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}

/// The p-value alone, for table cells: `0.012`, `< 0.001`.
pub fn p_cell(p: f64) -> String {
    p_equals(p).trim_start_matches("p = ").trim_start_matches("p ").to_string()
}

/// "the smallest difference 12 seeds detect with 80 % power here: 0.031" (or why none).
pub fn detectable_text(test: &PairedTest) -> String {
    if test.detectable.is_infinite() {
        format!("{} seeds cannot reach p < {ALPHA} in the exact test whatever they show", test.n)
    } else {
        format!("{} seeds would detect a difference of {:.3} with 80 % power", test.n, test.detectable)
    }
}

/// One key against the baseline on one measure.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub measure: String,
    pub baseline: String,
    pub set: String,
    pub test: PairedTest,
    /// Adjusted over the comparisons of the measure (one Holm family per measure).
    pub holm_p: f64,
}

impl Comparison {
    pub fn significant(&self) -> bool {
        self.holm_p < ALPHA
    }

    /// "+0.012 [−0.010, +0.034]", with ✱ when significant.
    pub fn cell(&self) -> String {
        format!("{}{}", self.test.diff.difference_text(), if self.significant() { " ✱" } else { "" })
    }

    pub fn statement(&self) -> String {
        let verdict = if self.significant() {
            "significant".to_string()
        } else {
            format!("no significant difference ({})", detectable_text(&self.test))
        };
        format!(
            "{} vs {}, {}: Δ = {}, d_z = {:.2}, {} (Holm {}; {} seeds): {verdict}",
            self.set,
            self.baseline,
            self.measure,
            self.test.diff.difference_text(),
            self.test.dz,
            p_equals(self.test.p),
            p_cell(self.holm_p),
            self.test.n
        )
    }
}

/// Every key of `keys` except the baseline against it, paired by seed, Holm-adjusted as one family.
pub fn compare(measure: &Measure, keys: &[String]) -> Vec<Comparison> {
    let mut comparisons: Vec<Comparison> = keys
        .iter()
        .filter(|s| **s != measure.baseline)
        .filter_map(|set| {
            Some(Comparison {
                measure: measure.name.clone(),
                baseline: measure.baseline.clone(),
                set: set.clone(),
                test: measure.test(set, &measure.baseline)?,
                holm_p: f64::NAN,
            })
        })
        .collect();
    let adjusted = holm(&comparisons.iter().map(|c| c.test.p).collect::<Vec<_>>());
    for (c, p) in comparisons.iter_mut().zip(adjusted) {
        c.holm_p = p;
    }
    comparisons
}

/// A combined set against the better of its single pathways, seed by seed.
#[derive(Clone, Debug)]
pub struct Synergy {
    pub combined: String,
    pub singles: Vec<String>,
    /// combined − the better single at each seed (the measure's own units).
    pub test: PairedTest,
    /// Adjusted over the combined sets of the measure.
    pub holm_p: f64,
    pub better: Better,
}

impl Synergy {
    /// The combined set is significantly better than its best single pathway.
    pub fn holds(&self) -> bool {
        self.holm_p < ALPHA && self.improvement() > 0.0
    }

    /// Significantly worse than its best single pathway.
    pub fn fails(&self) -> bool {
        self.holm_p < ALPHA && self.improvement() < 0.0
    }

    /// The mean difference, positive when the combination is better.
    fn improvement(&self) -> f64 {
        if self.better == Better::Lower { -self.test.diff.mean } else { self.test.diff.mean }
    }

    pub fn verdict(&self) -> String {
        if self.holds() {
            "synergy: better than its best single pathway".into()
        } else if self.fails() {
            "worse than its best single pathway".into()
        } else {
            format!("no significant difference from its best single pathway ({})", detectable_text(&self.test))
        }
    }
}

/// Each set of two or more pathways whose single pathways are all measured, against the better
/// of them at each seed (max, or min where lower is better): "combined − max(single₁, single₂)".
/// Taking the better single seed by seed favours the singles (the maximum of noisy values is
/// biased upward), so a synergy found is found despite that. Empty for descriptive measures.
pub fn synergy(measure: &Measure, keys: &[String]) -> Vec<Synergy> {
    if measure.better == Better::Neither {
        return Vec::new();
    }
    let mut found: Vec<Synergy> = keys
        .iter()
        .filter(|set| set.contains('+'))
        .filter_map(|set| {
            let singles: Vec<String> = set.split('+').map(str::to_string).collect();
            let combined = measure.values.get(set)?;
            let single_values: Vec<&BTreeMap<u64, f64>> = singles.iter().map(|s| measure.values.get(s)).collect::<Option<_>>()?;
            let (a, b): (Vec<f64>, Vec<f64>) = combined
                .iter()
                .filter_map(|(seed, v)| {
                    let at_seed: Vec<f64> = single_values.iter().map(|s| s.get(seed).copied()).collect::<Option<_>>()?;
                    let best = match measure.better {
                        Better::Lower => at_seed.iter().copied().fold(f64::INFINITY, f64::min),
                        _ => at_seed.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    };
                    Some((*v, best))
                })
                .unzip();
            (a.len() >= 2).then(|| Synergy {
                combined: set.clone(),
                singles,
                test: PairedTest::of(&a, &b),
                holm_p: f64::NAN,
                better: measure.better,
            })
        })
        .collect();
    let adjusted = holm(&found.iter().map(|s| s.test.p).collect::<Vec<_>>());
    for (s, p) in found.iter_mut().zip(adjusted) {
        s.holm_p = p;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(better: Better, values: &[(&str, &[f64])]) -> Measure {
        Measure {
            name: "m".into(),
            short: "m".into(),
            baseline: "bias".into(),
            better,
            values: values.iter().map(|(k, v)| (k.to_string(), v.iter().enumerate().map(|(i, v)| (i as u64, *v)).collect())).collect(),
        }
    }

    #[test]
    fn synergy_is_the_combination_against_its_best_single_seed_by_seed() {
        // bias is best on seeds 0–5, synaptic on 6–11; the combination beats both at every seed
        let bias: Vec<f64> = (0..12).map(|i| if i < 6 { 0.8 } else { 0.6 }).collect();
        let synaptic: Vec<f64> = (0..12).map(|i| if i < 6 { 0.6 } else { 0.8 }).collect();
        let combined: Vec<f64> = (0..12).map(|i| 0.85 + 0.001 * i as f64).collect();
        // the mean of the singles is 0.7 each: against the better seed by seed the gain is 0.05+
        let m = measure(Better::Higher, &[("bias", &bias), ("synaptic", &synaptic), ("bias+synaptic", &combined), ("gain", &bias)]);
        let keys: Vec<String> = ["bias", "synaptic", "gain", "bias+synaptic", "gain+synaptic"].iter().map(|s| s.to_string()).collect();
        let found = synergy(&m, &keys);
        assert_eq!(found.len(), 1, "gain+synaptic has no values");
        let s = &found[0];
        assert_eq!((s.combined.as_str(), s.singles.clone()), ("bias+synaptic", vec!["bias".to_string(), "synaptic".to_string()]));
        assert!((s.test.diff.mean - (0.05 + 0.0055)).abs() < 1e-9, "{s:?}");
        // twelve differences all positive: exact p = 2/4096
        assert_eq!(s.test.p, 2.0 / 4096.0);
        assert!(s.holds() && !s.fails() && s.verdict().starts_with("synergy"));
        // lower is better: the same numbers now say the combination is worse than the best (lowest) single
        let lower = synergy(&measure(Better::Lower, &[("bias", &bias), ("synaptic", &synaptic), ("bias+synaptic", &combined)]), &keys);
        assert!(lower[0].fails() && (lower[0].test.diff.mean - (0.25 + 0.0055)).abs() < 1e-9, "{lower:?}");
        assert!(synergy(&measure(Better::Neither, &[("bias", &bias)]), &keys).is_empty());
    }

    #[test]
    fn comparisons_say_what_could_have_been_detected() {
        let base: Vec<f64> = (0..12).map(|i| 0.5 + 0.01 * (i % 3) as f64).collect();
        let same: Vec<f64> = base.iter().enumerate().map(|(i, v)| v + if i % 2 == 0 { 0.01 } else { -0.01 }).collect();
        let m = measure(Better::Higher, &[("bias", &base), ("gain", &same)]);
        let c = compare(&m, &["bias".to_string(), "gain".to_string()]);
        assert_eq!(c.len(), 1);
        assert!(!c[0].significant());
        let text = c[0].statement();
        assert!(text.contains("no significant difference (12 seeds would detect a difference of 0."), "{text}");
        assert!(text.contains("p = 1.000") && !text.contains("p = <"), "{text}");
        assert_eq!(p_equals(0.0004), "p < 0.001");
        assert_eq!(p_cell(0.0004), "< 0.001");
        assert_eq!(p_cell(0.25), "0.250");
        let five = measure(Better::Higher, &[("bias", &[0.1, 0.2, 0.3, 0.4, 0.5]), ("gain", &[0.2, 0.3, 0.4, 0.5, 0.6])]);
        let c = compare(&five, &["bias".to_string(), "gain".to_string()]);
        assert_eq!(c[0].test.p, 0.0625);
        assert!(c[0].statement().contains("5 seeds cannot reach p < 0.05"), "{}", c[0].statement());
    }
}
