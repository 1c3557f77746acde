//! The report of `modulab reproduce`: from the finished runs, the mean of every measure per
//! pathway set with its 95 % interval over seeds, and every set against the baseline (bias) by a
//! paired t-test over seeds (effect size d_z, p, Holm-adjusted within each table), written as
//! `report.md`, a self-contained `report.html` (figures inline), the figures as SVG and PNG, and
//! the tables as CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::capacity::{self, Ceiling, TaskRow};
use super::reproduce::{BASELINE, DynamicsRow, Plan, SwitchRow, UnitResult, dynamics_csv, switching_csv};
use super::sweep::{AmbiguityRow, ambiguity_csv};
use crate::analysis::AmbiguityKind;
use crate::analysis::stats::{ALPHA, PairedTest, Summary, holm};
use crate::figure::{LineChart, Series};
use crate::model::Pathway;

/// A piece of the report, rendered to Markdown and to HTML alike.
#[derive(Clone, Debug)]
enum Block {
    Heading(u8, String),
    Para(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A figure by its file stem (`<stem>.svg` / `.png`).
    Figure {
        stem: String,
        caption: String,
    },
}

/// Everything `reproduce` writes after the runs.
pub struct Report {
    pub markdown: String,
    pub html: String,
    /// (file stem, SVG)
    pub figures: Vec<(String, String)>,
    /// (file name, CSV)
    pub tables: Vec<(&'static str, String)>,
    /// The report's statements, one line each (printed at the end of the command).
    pub findings: Vec<String>,
}

/// One measure compared between sets: its per-run values by set and seed.
struct Measure {
    /// e.g. "noise robustness (mean over levels 0.25–1)"
    name: String,
    /// What every other key is compared with (a set, e.g. `bias`).
    baseline: String,
    /// key (a set, or a set and pathway) → seed → value
    values: BTreeMap<String, BTreeMap<u64, f64>>,
}

impl Measure {
    /// A measure of the sets against the study's baseline set.
    fn of_sets(name: impl Into<String>, values: BTreeMap<String, BTreeMap<u64, f64>>) -> Measure {
        Measure { name: name.into(), baseline: BASELINE.into(), values }
    }
}

/// One set against the baseline on one measure.
struct Comparison {
    measure: String,
    baseline: String,
    set: String,
    test: PairedTest,
    holm_p: f64,
}

impl Comparison {
    fn significant(&self) -> bool {
        self.holm_p < ALPHA
    }

    fn statement(&self) -> String {
        let d = &self.test.diff;
        let verdict = if self.significant() { "significant".to_string() } else { "no significant difference".to_string() };
        format!(
            "{} vs {}, {}: Δ = {:+.3} [{:+.3}, {:+.3}], d_z = {:.2}, p = {} (Holm {}; {} seeds): {verdict}",
            self.set,
            self.baseline,
            self.measure,
            d.mean,
            d.low,
            d.high,
            self.test.dz,
            p_text(self.test.p),
            p_text(self.holm_p),
            self.test.n
        )
    }
}

fn p_text(p: f64) -> String {
    if p.is_nan() {
        "n/a".into()
    } else if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// Every set except the baseline against it, paired by seed (seeds present in both), Holm-adjusted
/// as one family.
fn compare(measure: &Measure, sets: &[String]) -> Vec<Comparison> {
    let Some(base) = measure.values.get(&measure.baseline) else { return Vec::new() };
    let mut comparisons: Vec<Comparison> = sets
        .iter()
        .filter(|s| **s != measure.baseline)
        .filter_map(|set| {
            let values = measure.values.get(set)?;
            let (a, b): (Vec<f64>, Vec<f64>) = values.iter().filter_map(|(seed, v)| base.get(seed).map(|b| (*v, *b))).unzip();
            (a.len() >= 2).then(|| Comparison {
                measure: measure.name.clone(),
                baseline: measure.baseline.clone(),
                set: set.clone(),
                test: PairedTest::of(&a, &b),
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

fn summary(measure: &Measure, set: &str) -> Option<Summary> {
    let values: Vec<f64> = measure.values.get(set)?.values().copied().collect();
    (!values.is_empty()).then(|| Summary::of(&values))
}

fn comparison_rows(comparisons: &[Comparison]) -> Vec<Vec<String>> {
    comparisons
        .iter()
        .map(|c| {
            let d = &c.test.diff;
            vec![
                c.set.clone(),
                format!("{:+.3} [{:+.3}, {:+.3}]", d.mean, d.low, d.high),
                format!("{:.2}", c.test.dz),
                p_text(c.test.p),
                p_text(c.holm_p),
                if c.significant() { "yes".into() } else { "no".into() },
            ]
        })
        .collect()
}

fn comparison_header(baseline: &str) -> Vec<String> {
    ["", &format!("Δ vs {baseline} [95 % CI]"), "d_z", "p", "p (Holm)", "significant"].iter().map(|s| s.to_string()).collect()
}

/// Mean over tasks of each run at each (kind, level): kind → set → level index → seed → value.
type PerLevel = BTreeMap<&'static str, BTreeMap<String, BTreeMap<usize, BTreeMap<u64, f64>>>>;

fn per_level(plan: &Plan, rows: &[AmbiguityRow]) -> PerLevel {
    let mut sums: BTreeMap<(&'static str, String, usize, u64), (f64, usize)> = BTreeMap::new();
    for row in rows {
        let levels = plan.scale.levels(row.kind);
        let Some(index) = levels.iter().position(|l| *l == row.level) else { continue };
        let entry = sums.entry((row.kind.name(), row.pathways.clone(), index, row.seed)).or_insert((0.0, 0));
        entry.0 += row.perf as f64;
        entry.1 += 1;
    }
    let mut out = PerLevel::new();
    for ((kind, set, index, seed), (sum, n)) in sums {
        out.entry(kind).or_default().entry(set).or_default().entry(index).or_default().insert(seed, sum / n as f64);
    }
    out
}

fn ambiguity_figure(kind: AmbiguityKind, levels: &[f32], sets: &[String], data: &PerIndex) -> LineChart {
    let series = sets.iter().filter_map(|set| Some(seed_series(set, data.get(set)?, levels))).collect();
    LineChart {
        title: format!("Context ambiguity: {} — reconstruction of Vedovati & Ching (2024)", kind.name()),
        note: "mean over tasks; line = mean over seeds, band = its 95 % interval".into(),
        x_label: format!("{} level", kind.name()),
        y_label: "mean task performance".into(),
        y_range: Some((0.0, 1.0)),
        series,
        ..LineChart::default()
    }
}

fn dynamics_figure(measure: &Measure, sets: &[String], title: &str, y_label: &str) -> LineChart {
    let mut means = Series { name: "mean over seeds".into(), bars: true, ..Series::default() };
    let mut seeds = Series { name: "each seed".into(), markers_only: true, ..Series::default() };
    for (i, set) in sets.iter().enumerate() {
        if let Some(values) = measure.values.get(set) {
            let v: Vec<f64> = values.values().copied().collect();
            means.points.push((i as f64, Summary::of(&v).mean));
            seeds.points.extend(v.iter().map(|v| (i as f64, *v)));
        }
    }
    LineChart {
        title: title.into(),
        x_label: "pathway set".into(),
        y_label: y_label.into(),
        categories: sets.to_vec(),
        series: vec![means, seeds],
        ..LineChart::default()
    }
}

/// Build the report from the finished runs (any subset of the plan's: what is missing is said).
pub fn build(plan: &Plan, results: &[UnitResult], timing: Option<String>) -> Report {
    let sets: Vec<String> = plan.sets.iter().map(|s| s.to_string()).collect();
    let mut blocks = Vec::new();
    let mut figures = Vec::new();
    let mut findings = Vec::new();
    let base = &plan.base;
    let tasks: Vec<&str> = base.train.tasks.iter().map(|t| t.name()).collect();
    // the runs at the study's own size, measured in full (the others are packing runs)
    let full: Vec<&UnitResult> = results.iter().filter(|r| r.unit.packing_size.is_none()).collect();
    blocks.push(Block::Heading(1, "What modulab finds — a reconstruction of Vedovati & Ching (2024)".into()));
    blocks.push(Block::Para(format!(
        "Scale `{}`: {} pathway sets × {} seeds ({} of {} runs finished, and {} packing runs at smaller sizes). Every run: \
         N = {} units, {} tasks ({}), {} steps of batch {}, learning rate {}. The paper's own equations are not public; these are modulab's measurements \
         of its reconstruction (docs/MODEL.md). Intervals are 95 % t-intervals over seeds; every set is compared with `{BASELINE}` \
         (Yang et al.'s rule input) by a paired t-test over seeds (same seed = same initialisation stream and trials), with \
         the effect size d_z (mean difference / SD of the differences) and Holm's correction within each table. {}",
        plan.scale.name(),
        sets.len(),
        plan.seeds.len(),
        full.len(),
        sets.len() * plan.seeds.len(),
        results.len() - full.len(),
        base.model.n_units,
        tasks.len(),
        tasks.join(", "),
        base.train.steps,
        base.train.batch_size,
        base.train.learning_rate,
        timing.unwrap_or_default()
    )));
    let rows: Vec<AmbiguityRow> = full.iter().flat_map(|r| r.ambiguity.iter().cloned()).collect();
    let levels = per_level(plan, &rows);

    // the clear cue: how well each set learned
    if let Some(data) = levels.get(AmbiguityKind::Mixture.name()) {
        let clear = Measure::of_sets(
            "performance with the clear cue",
            data.iter().filter_map(|(set, by_level)| Some((set.clone(), by_level.get(&0)?.clone()))).collect(),
        );
        blocks.push(Block::Heading(2, "Learning: performance with the clear cue".into()));
        blocks.push(Block::Para(
            "Mean over tasks of the fraction of correct trials, context = e_i exactly, after training. A set that did not \
             learn its tasks cannot be robust to ambiguity: read the robustness tables with this one."
                .into(),
        ));
        push_measure_tables(&mut blocks, &mut findings, &clear, &sets, "mean performance");
    }

    // A: ambiguity, kind by kind
    blocks.push(Block::Heading(2, "A. Robustness to context ambiguity".into()));
    for kind in AmbiguityKind::ALL {
        let Some(data) = levels.get(kind.name()) else { continue };
        let kind_levels = plan.scale.levels(kind);
        let stem = format!("ambiguity-{}", kind.name());
        figures.push((stem.clone(), ambiguity_figure(kind, &kind_levels, &sets, data).to_svg()));
        let ambiguous = &kind_levels[1..];
        let range = format!("{}–{}", ambiguous.first().copied().unwrap_or(0.0), ambiguous.last().copied().unwrap_or(0.0));
        blocks.push(Block::Heading(
            3,
            format!("{} (levels {})", kind.name(), kind_levels.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")),
        ));
        blocks.push(Block::Figure {
            stem,
            caption: format!("Mean task performance against {} level, mean ± 95 % interval over seeds", kind.name()),
        });
        let columns = kind_levels.iter().map(|l| format!("{} {l}", kind.name())).collect();
        blocks.push(seed_table("set".into(), columns, &sets, data));
        // robustness of a run: its mean over the ambiguous levels
        let robustness = Measure::of_sets(
            format!("{} robustness (mean over levels {range})", kind.name()),
            data.iter()
                .map(|(set, by_level)| {
                    let mut per_seed: BTreeMap<u64, (f64, usize)> = BTreeMap::new();
                    for seeds in by_level.iter().filter(|(i, _)| **i > 0).map(|(_, seeds)| seeds) {
                        for (seed, v) in seeds {
                            let e = per_seed.entry(*seed).or_insert((0.0, 0));
                            e.0 += v;
                            e.1 += 1;
                        }
                    }
                    (set.clone(), per_seed.into_iter().map(|(seed, (sum, n))| (seed, sum / n as f64)).collect())
                })
                .collect(),
        );
        push_comparisons(&mut blocks, &mut findings, &robustness, &sets);
    }

    // B: packing
    let ceilings = capacity::ceilings(plan, results);
    let packing_rows = capacity::rows(plan, results, &ceilings);
    push_packing(&mut blocks, &mut figures, &mut findings, plan, &sets, &ceilings, &packing_rows);

    // C: dynamics
    let dynamics: Vec<&DynamicsRow> = full.iter().filter_map(|r| r.dynamics.as_ref()).collect();
    let measure = |name: &str, value: fn(&DynamicsRow) -> f64| {
        Measure::of_sets(
            name,
            dynamics.iter().fold(BTreeMap::new(), |mut map: BTreeMap<String, BTreeMap<u64, f64>>, row| {
                map.entry(row.pathways.clone()).or_default().insert(row.seed, value(row));
                map
            }),
        )
    };
    let participation = measure("participation ratio (mean over tasks)", |r| r.participation_ratio);
    let angle = measure("mean principal angle between tasks' top-3 subspaces (degrees)", |r| r.subspace_angle_deg);
    let radius = measure("spectral radius of the effective connectivity (mean over task contexts)", |r| r.spectral_radius);
    let spread = measure("spectral radius, largest minus smallest over task contexts", |r| r.spectral_spread);
    let points = measure("fixed and slow points per task context (stimulus input)", |r| r.fixed_points);
    let stable = measure("fraction of those points that are stable", |r| r.stable_fraction);
    blocks.push(Block::Heading(2, "C. Dynamics".into()));
    blocks.push(Block::Para(
        "On noise-free test trials of every task: the participation ratio of each task's hidden states (their effective \
         number of dimensions), and the principal angles between the tasks' top-3 principal subspaces (90° = orthogonal: \
         tasks use separate directions; small = shared). Under each task's context: the spectral radius of the effective \
         recurrent connectivity diag(g(c)) W(c) (bias alone leaves it the same for every task: spread 0), and the fixed and \
         slow points the network's dynamics has under that task's stimulus input, found from the task's own states \
         (docs/MODEL.md §4C)."
            .into(),
    ));
    for (m, stem, title, y) in [
        (&participation, "dynamics-participation", "Participation ratio of each task's states", "participation ratio"),
        (&angle, "dynamics-angles", "Mean principal angle between tasks' subspaces", "degrees"),
        (&radius, "dynamics-spectral-radius", "Spectral radius of the effective connectivity", "spectral radius"),
    ] {
        figures.push((stem.to_string(), dynamics_figure(m, &sets, title, y).to_svg()));
        blocks.push(Block::Figure { stem: stem.into(), caption: format!("{title}: the bar is the mean over seeds, the points the seeds") });
        push_measure_tables(&mut blocks, &mut findings, m, &sets, y);
    }
    for (m, what) in [(&spread, "spread over contexts"), (&points, "points per context"), (&stable, "stable fraction")] {
        push_measure_tables(&mut blocks, &mut findings, m, &sets, what);
    }

    // D: switching
    let switching: Vec<SwitchRow> = results.iter().flat_map(|r| r.switching.iter().cloned()).collect();
    if !switching.is_empty() {
        push_switching(&mut blocks, &mut figures, &mut findings, plan, &sets, &switching);
    }

    // what is significant, in one place
    let mut summary_blocks = vec![Block::Heading(2, "Findings".into())];
    let significant: Vec<&String> = findings.iter().filter(|f| f.ends_with(": significant")).collect();
    summary_blocks.push(Block::Para(if significant.is_empty() {
        format!("No comparison with `{BASELINE}` is significant at α = {ALPHA} after Holm's correction, with {} seeds.", plan.seeds.len())
    } else {
        format!(
            "{} of {} comparisons with `{BASELINE}` are significant at α = {ALPHA} after Holm's correction; the others show no \
             significant difference with {} seeds. Significant:",
            significant.len(),
            findings.len(),
            plan.seeds.len()
        )
    }));
    if !significant.is_empty() {
        summary_blocks
            .push(Block::Table { header: vec!["comparison".into()], rows: significant.iter().map(|s| vec![s.to_string()]).collect() });
    }
    blocks.splice(2..2, summary_blocks);

    let mut tables = vec![
        ("ambiguity.csv", ambiguity_csv(&rows)),
        ("switching.csv", switching_csv(&switching)),
        ("dynamics.csv", dynamics_csv(&dynamics.iter().map(|r| (*r).clone()).collect::<Vec<_>>())),
        ("packing.csv", capacity::csv(&packing_rows)),
    ];
    tables.push(("comparisons.txt", findings.iter().map(|f| format!("{f}\n")).collect()));
    Report { markdown: markdown(&blocks), html: html(&blocks, &figures), figures, tables, findings }
}

/// The switch-test key of a set with one of its pathways slowed, e.g. "bias+synaptic: synaptic slowed".
fn switch_key(set: &str, pathway: Pathway) -> String {
    format!("{set}: {} slowed", pathway.name())
}

/// key → level or τ index → seed → value.
type PerIndex = BTreeMap<String, BTreeMap<usize, BTreeMap<u64, f64>>>;

/// Section D: performance and the transient after a task switch against each pathway's τ, and
/// how much slowing a pathway lengthens the transient.
fn push_switching(
    blocks: &mut Vec<Block>,
    figures: &mut Vec<(String, String)>,
    findings: &mut Vec<String>,
    plan: &Plan,
    sets: &[String],
    rows: &[SwitchRow],
) {
    let taus = plan.scale.switch_taus_ms();
    let slow = taus.last().copied().unwrap_or(0.0);
    let (mut perf, mut transient) = (PerIndex::new(), PerIndex::new());
    for row in rows {
        let Some(t) = taus.iter().position(|tau| *tau == row.tau_ms) else { continue };
        let key = switch_key(&row.pathways, row.pathway);
        perf.entry(key.clone()).or_default().entry(t).or_default().insert(row.seed, row.perf);
        transient.entry(key).or_default().entry(t).or_default().insert(row.seed, row.transient);
    }
    let keys: Vec<String> =
        sets.iter().flat_map(|set| Pathway::ALL.into_iter().map(move |p| switch_key(set, p))).filter(|k| perf.contains_key(k)).collect();
    let (from, to) = rows.first().map_or((String::new(), String::new()), |r| (r.from.clone(), r.to.clone()));
    blocks.push(Block::Heading(2, "D. Task switching against each pathway's time constant".into()));
    blocks.push(Block::Para(format!(
        "Trials of `{to}` whose context is `{from}`'s until stimulus onset and `{to}`'s from then on ({} trials). One pathway \
         at a time follows the context through a low-pass filter of time constant τ (the run's other pathways follow at once). \
         Measured: the fraction of switched trials answered correctly, and the transient: the mean distance of the hidden \
         state from the same trials' unswitched trajectory after the switch, relative to the state's size. The cost of \
         slowing a pathway is its transient at τ = {slow} ms minus at τ = 0.",
        plan.scale.switch_trials()
    )));
    let chart = LineChart {
        title: "Task switch: transient against the slowed pathway's τ".into(),
        note: "line = mean over seeds, band = its 95 % interval".into(),
        x_label: "τ (ms)".into(),
        y_label: "transient (relative distance)".into(),
        series: keys.iter().map(|key| seed_series(key, &transient[key], &taus)).collect(),
        ..LineChart::default()
    };
    figures.push(("switching".into(), chart.to_svg()));
    blocks.push(Block::Figure { stem: "switching".into(), caption: "The switch's transient against the slowed pathway's τ".into() });
    let columns = || taus.iter().map(|t| format!("τ = {t} ms")).collect();
    blocks.push(seed_table("switched trials correct: set, pathway slowed".into(), columns(), &keys, &perf));
    blocks.push(seed_table("transient: set, pathway slowed".into(), columns(), &keys, &transient));
    let cost = Measure {
        name: format!("transient added by slowing the pathway to τ = {slow} ms"),
        baseline: switch_key(BASELINE, Pathway::Bias),
        values: keys
            .iter()
            .map(|key| {
                let at = |t: usize| transient[key].get(&t).cloned().unwrap_or_default();
                let (fast, slowed) = (at(0), at(taus.len() - 1));
                (key.clone(), slowed.iter().filter_map(|(seed, s)| fast.get(seed).map(|f| (*seed, s - f))).collect())
            })
            .collect(),
    };
    push_measure_tables(blocks, findings, &cost, &keys, "added transient");
}

/// Section B: how many of its tasks a network of each size holds, per set, against each task's ceiling.
fn push_packing(
    blocks: &mut Vec<Block>,
    figures: &mut Vec<(String, String)>,
    findings: &mut Vec<String>,
    plan: &Plan,
    sets: &[String],
    ceilings: &[Ceiling],
    rows: &[TaskRow],
) {
    let by_size = capacity::capacity(rows);
    if by_size.is_empty() {
        return;
    }
    let sizes: Vec<usize> = by_size.keys().copied().collect();
    let tasks = plan.base.train.tasks.len();
    blocks.push(Block::Heading(2, "B. Task packing: how many tasks a network of N units holds".into()));
    blocks.push(Block::Para(format!(
        "Every set learns the same {tasks} tasks together in networks of N = {} units, with the same seeds and the same \
         training ({} steps) as the runs above: only the number of units differs, so a task lost in a small network is lost \
         to its size, not to its training time. A run holds a task when its clear-cue performance reaches {:.0} % of the \
         task's ceiling: the best mean any set reaches on it at N = {} after the same training (the first set in the \
         study's order on a tie). Each task is judged against its own ceiling so that a task that plateaus low at this \
         budget even in the largest networks (e.g. the matching tasks) does not count as lost everywhere, which an \
         absolute criterion such as 0.9 would do. A run's capacity is the number of tasks it holds (0–{tasks}).",
        sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        plan.base.train.steps,
        capacity::HELD_FRACTION * 100.0,
        plan.base.model.n_units
    )));
    blocks.push(Block::Table {
        header: vec!["task".into(), format!("ceiling (N = {})", plan.base.model.n_units), "reached by".into(), "held at ≥".into()],
        rows: ceilings
            .iter()
            .map(|c| vec![c.task.name().to_string(), format!("{:.3}", c.perf), c.set.clone(), format!("{:.3}", c.criterion())])
            .collect(),
    });
    let xs: Vec<f32> = sizes.iter().map(|n| *n as f32).collect();
    let mut per_set = PerIndex::new();
    for (i, size) in sizes.iter().enumerate() {
        for (set, seeds) in &by_size[size] {
            per_set.entry(set.clone()).or_default().insert(i, seeds.clone());
        }
    }
    let chart = LineChart {
        title: "Task packing: tasks held against network size — reconstruction".into(),
        note: format!(
            "held = clear-cue performance ≥ {:.0} % of the task's ceiling; line = mean over seeds, band = its 95 % interval",
            capacity::HELD_FRACTION * 100.0
        ),
        x_label: "network size N (units)".into(),
        y_label: format!("tasks held (of {tasks})"),
        y_range: Some((0.0, tasks as f64)),
        series: sets.iter().filter_map(|set| Some(seed_series(set, per_set.get(set)?, &xs))).collect(),
        ..LineChart::default()
    };
    figures.push(("packing".into(), chart.to_svg()));
    blocks
        .push(Block::Figure {
            stem: "packing".into(), caption: "Tasks held against network size, mean ± 95 % interval over seeds".into()
        });
    blocks.push(seed_table("tasks held: set".into(), sizes.iter().map(|n| format!("N = {n}")).collect(), sets, &per_set));
    for size in &sizes {
        let measure = Measure::of_sets(format!("tasks held at N = {size}"), by_size[size].clone());
        push_comparisons(blocks, findings, &measure, sets);
    }
    // which tasks the smaller networks lose
    for size in sizes.iter().filter(|n| **n != plan.base.model.n_units) {
        let mut header = vec![format!("N = {size}: seeds holding the task")];
        header.extend(ceilings.iter().map(|c| c.task.name().to_string()));
        let table = sets
            .iter()
            .filter_map(|set| {
                let runs: Vec<&TaskRow> = rows.iter().filter(|r| r.size == *size && r.pathways == *set).collect();
                if runs.is_empty() {
                    return None;
                }
                let mut row = vec![set.clone()];
                row.extend(ceilings.iter().map(|c| {
                    let of_task: Vec<&&TaskRow> = runs.iter().filter(|r| r.task == c.task).collect();
                    format!("{}/{}", of_task.iter().filter(|r| r.held).count(), of_task.len())
                }));
                Some(row)
            })
            .collect();
        blocks.push(Block::Table { header, rows: table });
    }
}

/// A line of the mean over seeds at each x (`xs[index]`), with its 95 % band: an ambiguity
/// curve against level, a switch curve against τ.
fn seed_series(name: &str, by_index: &BTreeMap<usize, BTreeMap<u64, f64>>, xs: &[f32]) -> Series {
    let mut series = Series { name: name.to_string(), ..Series::default() };
    for (index, seeds) in by_index {
        let s = Summary::of(&seeds.values().copied().collect::<Vec<_>>());
        let x = xs[*index] as f64;
        series.points.push((x, s.mean));
        if !s.low.is_nan() {
            series.band.push((x, s.low, s.high));
        }
    }
    series
}

/// A table of mean ± CI over seeds: a row per key that has data, a column per index.
fn seed_table(first: String, columns: Vec<String>, keys: &[String], data: &PerIndex) -> Block {
    let width = columns.len();
    let mut header = vec![first];
    header.extend(columns);
    let rows =
        keys.iter()
            .filter_map(|key| {
                let by_index = data.get(key)?;
                let mut row = vec![key.clone()];
                row.extend((0..width).map(|i| {
                    by_index.get(&i).map_or("–".into(), |seeds| Summary::of(&seeds.values().copied().collect::<Vec<_>>()).text(2))
                }));
                Some(row)
            })
            .collect();
    Block::Table { header, rows }
}

/// Per-set mean ± CI, then the comparisons with the baseline.
fn push_measure_tables(blocks: &mut Vec<Block>, findings: &mut Vec<String>, measure: &Measure, sets: &[String], what: &str) {
    let rows = sets.iter().filter_map(|set| summary(measure, set).map(|s| vec![set.clone(), s.text(3), s.n.to_string()])).collect();
    blocks.push(Block::Table { header: vec!["".into(), format!("{what} (mean ± 95 % CI)"), "seeds".into()], rows });
    push_comparisons(blocks, findings, measure, sets);
}

fn push_comparisons(blocks: &mut Vec<Block>, findings: &mut Vec<String>, measure: &Measure, sets: &[String]) {
    let comparisons = compare(measure, sets);
    if comparisons.is_empty() {
        blocks.push(Block::Para(format!("{}: too few paired seeds to compare.", measure.name)));
        return;
    }
    blocks.push(Block::Para(format!("Compared with `{}`: {}", measure.baseline, measure.name)));
    blocks.push(Block::Table { header: comparison_header(&measure.baseline), rows: comparison_rows(&comparisons) });
    findings.extend(comparisons.iter().map(Comparison::statement));
}

fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {text}\n", "#".repeat(*level as usize));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::Table { header, rows } => {
                let _ = writeln!(out, "| {} |", header.join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                for row in rows {
                    let _ = writeln!(out, "| {} |", row.join(" | "));
                }
                out.push('\n');
            }
            Block::Figure { stem, caption } => {
                let _ = writeln!(out, "![{caption}]({stem}.png)\n");
            }
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Markdown's `code` spans as HTML.
fn inline(text: &str) -> String {
    let escaped = escape(text);
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn html(blocks: &[Block], figures: &[(String, String)]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>modulab reproduce</title>\n<style>\
         body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}\
         table{border-collapse:collapse;margin:0.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}\
         th{background:#f3f3f3}figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:90%}\
         code{background:#f3f3f3;padding:0 3px}</style></head><body>\n",
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", inline(text));
            }
            Block::Table { header, rows } => {
                out.push_str("<table><tr>");
                for h in header {
                    let _ = write!(out, "<th>{}</th>", inline(h));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let _ = write!(out, "<td>{}</td>", inline(cell));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Figure { stem, caption } => {
                // the SVG itself, so the page needs no other file
                let svg = figures.iter().find(|(s, _)| s == stem).map_or("", |(_, svg)| svg.as_str());
                let svg = svg.trim_start_matches(|c| c != '<').trim_start();
                let svg = if svg.starts_with("<?xml") { svg.split_once("?>").map_or(svg, |(_, rest)| rest.trim_start()) } else { svg };
                let _ = writeln!(out, "<figure>{svg}<figcaption>{}</figcaption></figure>", inline(caption));
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}
