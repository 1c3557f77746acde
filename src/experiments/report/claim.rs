//! The report's last section, the paper's claim: synergy (each combined set against the better
//! of its two single pathways), complementarity (which single pathway is more robust to which
//! kind of ambiguity, and whether that reverses) and time scales (from the switching study).

use super::*;

/// One row of a table of paired tests: label, Δ [CI], p, Holm p, what could be detected.
fn test_row(label: String, test: &PairedTest, holm_p: f64) -> Vec<String> {
    vec![
        label,
        format!("{}{}", test.diff.difference_text(), if holm_p < ALPHA { " ✱" } else { "" }),
        p_cell(test.p),
        p_cell(holm_p),
        detectable_cell(test),
    ]
}

/// E: Vedovati & Ching's claim that excitability and synaptic modulation show "complementarity
/// and synergy … potentially over multiple time-scales", tested on the study's own measures.
pub(super) fn push_claim(w: &mut Writer<'_>, robustness: &[Robustness], switch_cost: Option<&Measure>) {
    w.blocks.push(Block::Heading(2, "E. The paper's claim: complementarity and synergy".into()));
    w.blocks.push(Block::Para(
        "Vedovati & Ching's abstract concludes that excitability (bias, gain) and synaptic modulation show \"complementarity \
         and synergy … potentially over multiple time-scales\". Three tests of that on this study's measures."
            .into(),
    ));

    // synergy
    w.blocks.push(Block::Heading(3, "Synergy: a combined set against the better of its single pathways".into()));
    w.blocks.push(Block::Para(
        "Seed by seed: combined − the better of its single pathways at that seed (for bias+gain+synaptic, the best of the \
         three). Taking the better single per seed favours the singles (the larger of two noisy values is biased upward), \
         so a synergy found here is found despite that. Holm's correction over the combined sets of each measure."
            .into(),
    ));
    let mut rows = Vec::new();
    let (mut holds, mut fails, mut tested) = (Vec::new(), Vec::new(), 0usize);
    for (measure, synergies) in &w.synergy {
        tested += 1;
        for s in synergies {
            let direction = if s.better == Better::Lower { " (lower is better)" } else { "" };
            rows.push(test_row(format!("{measure}{direction}: {} vs best of {}", s.combined, s.singles.join(", ")), &s.test, s.holm_p));
            if s.holds() {
                holds.push(format!("{} on {measure}", s.combined));
            } else if s.fails() {
                fails.push(format!("{} on {measure}", s.combined));
            }
        }
    }
    w.blocks.push(Block::Table {
        header: ["combined set vs its best single pathway", "Δ [95 % CI]", "p", "p (Holm)", "detectable (80 %)"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows,
    });
    let verdict = match (holds.is_empty(), fails.is_empty()) {
        (true, true) => format!(
            "**No synergy detected**: on none of the {tested} performance measures is a combined set significantly better (or \
             worse) than its best single pathway with {} seeds.",
            w.plan.seeds.len()
        ),
        _ => format!(
            "**Synergy where found**: better than the best single pathway — {}. Worse than it — {}. Every other combination and \
             measure: no significant difference ({tested} measures tested).",
            if holds.is_empty() { "none".into() } else { holds.join("; ") },
            if fails.is_empty() { "none".into() } else { fails.join("; ") }
        ),
    };
    w.findings.push(format!("synergy: {}", verdict.replace("**", "")));
    w.blocks.push(Block::Para(verdict));

    // complementarity
    w.blocks.push(Block::Heading(3, "Complementarity: which single pathway is more robust to which kind of ambiguity".into()));
    w.blocks.push(Block::Para(
        "The single pathways against each other, kind by kind, on performance under ambiguity and on its drop from the clear \
         cue (lower drop = more robust). Complementarity would show as a reversal: one pathway significantly more robust to \
         one kind, the other to another. Holm's correction over each table (every kind × pair)."
            .into(),
    ));
    let pairs = [("gain", "bias"), ("synaptic", "bias"), ("synaptic", "gain")];
    let mut reversals = Vec::new();
    for (label, pick, more_robust_if_positive) in
        [("performance under ambiguity", 0usize, true), ("drop from the clear cue", 1usize, false)]
    {
        let mut tests: Vec<(String, AmbiguityKind, (&str, &str), PairedTest)> = Vec::new();
        for r in robustness {
            let measure = if pick == 0 { &r.absolute } else { &r.drop };
            for (a, b) in pairs {
                if let Some(test) = measure.test(a, b) {
                    tests.push((format!("{}: {a} − {b}", r.kind.name()), r.kind, (a, b), test));
                }
            }
        }
        let adjusted = holm(&tests.iter().map(|t| t.3.p).collect::<Vec<_>>());
        w.blocks.push(Block::Table {
            header: [&format!("{label}: kind, pair"), "Δ [95 % CI]", "p", "p (Holm)", "detectable (80 %)"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows: tests.iter().zip(&adjusted).map(|((l, _, _, t), p)| test_row(l.clone(), t, *p)).collect(),
        });
        // which of each pair is significantly more robust, kind by kind
        for (a, b) in pairs {
            let winners: Vec<(AmbiguityKind, &str)> = tests
                .iter()
                .zip(&adjusted)
                .filter(|((_, _, pair, _), p)| *pair == (a, b) && **p < ALPHA)
                .map(|((_, kind, _, t), _)| (*kind, if (t.diff.mean > 0.0) == more_robust_if_positive { a } else { b }))
                .collect();
            let firsts: Vec<String> = winners.iter().filter(|(_, w)| *w == a).map(|(k, _)| k.name().to_string()).collect();
            let seconds: Vec<String> = winners.iter().filter(|(_, w)| *w == b).map(|(k, _)| k.name().to_string()).collect();
            if !firsts.is_empty() && !seconds.is_empty() {
                reversals.push(format!(
                    "{label}: {a} is more robust to {} ambiguity, {b} to {}",
                    firsts.join(" and "),
                    seconds.join(" and ")
                ));
            }
        }
    }
    let verdict = if reversals.is_empty() {
        "**No reversal detected**: no pair of single pathways swaps which is more robust between kinds of ambiguity (after \
         Holm's correction over each table); where one is significantly more robust, it is so for every kind where any \
         difference is significant."
            .to_string()
    } else {
        format!("**Complementarity**: {}.", reversals.join("; "))
    };
    w.findings.push(format!("complementarity: {}", verdict.replace("**", "")));
    w.blocks.push(Block::Para(verdict));

    // time scales
    let Some(cost) = switch_cost else { return };
    w.blocks.push(Block::Heading(3, "Time scales: does a second pathway cover for a slow one?".into()));
    w.blocks.push(Block::Para(
        "From section D: the transient added by slowing one pathway in a combined set, against slowing the same pathway when \
         it is the network's only one (Δ < 0: the combination's other pathways, following the context at once, cover for the \
         slow one). Holm's correction over the table."
            .into(),
    ));
    let mut tests = Vec::new();
    for key in cost.values.keys() {
        let Some((set, rest)) = key.split_once(": ") else { continue };
        let Some(pathway) = rest.strip_suffix(" slowed") else { continue };
        if set.contains('+')
            && let Some(test) = cost.test(key, &switch_key(pathway, Pathway::from_name(pathway).unwrap_or(Pathway::Bias)))
        {
            tests.push((key.clone(), pathway.to_string(), test));
        }
    }
    let adjusted = holm(&tests.iter().map(|t| t.2.p).collect::<Vec<_>>());
    w.blocks.push(Block::Table {
        header: ["slowed in a combined set vs alone", "Δ added transient [95 % CI]", "p", "p (Holm)", "detectable (80 %)"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: tests.iter().zip(&adjusted).map(|((k, p, t), h)| test_row(format!("{k} vs {p} alone"), t, *h)).collect(),
    });
    let covered: Vec<String> =
        tests.iter().zip(&adjusted).filter(|((_, _, t), p)| **p < ALPHA && t.diff.mean < 0.0).map(|((k, _, _), _)| k.clone()).collect();
    let verdict = if covered.is_empty() {
        format!(
            "**No covering detected** with {} seeds: slowing a pathway costs a combined set as much as a set with that pathway alone.",
            w.plan.seeds.len()
        )
    } else {
        format!("**A fast pathway covers for a slow one** in {} of {} cases: {}.", covered.len(), tests.len(), covered.join("; "))
    };
    w.findings.push(format!("time scales: {}", verdict.replace("**", "")));
    w.blocks.push(Block::Para(verdict));
    w.blocks.push(Block::Para(format!(
        "What the study cannot resolve: differences smaller than the detectable differences above ({} seeds); the paper's own \
         settings (not public); time scales of modulation other than the switch's low-pass filter.",
        w.plan.seeds.len()
    )));
}
