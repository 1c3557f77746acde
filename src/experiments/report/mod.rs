//! The report of `modulab reproduce`: from the finished runs, the mean of every measure per
//! pathway set with its 95 % interval over seeds, every set against the baseline (bias) and every
//! combined set against its best single pathway by the exact paired sign-flip test over seeds
//! (Holm's correction within each measure), written as `report.md`, a self-contained
//! `report.html` (figures inline), the figures as SVG and PNG, and the tables as CSV. It opens
//! with one table of every measure × set, then the sections: learning, A ambiguity, B packing,
//! C dynamics, D switching, and the paper's claim (synergy, complementarity, time scales).

use std::collections::BTreeMap;

use super::capacity::{self, TaskBaseline, TaskRow};
use super::comparison::{Better, Comparison, Measure, Synergy, compare, p_cell, synergy};
use super::document::{Block, html, markdown};
use super::reproduce::{BASELINE, DynamicsRow, Plan, SwitchRow, TrainingRow, UnitResult, dynamics_csv, switching_csv, training_csv};
use super::sweep::{AmbiguityRow, ambiguity_csv};
use crate::analysis::AmbiguityKind;
use crate::analysis::stats::{ALPHA, PairedTest, Summary, holm};
use crate::figure::{LineChart, Series};
use crate::model::Pathway;

mod claim;
use claim::push_claim;

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

/// key → level or τ index → seed → value.
type PerIndex = BTreeMap<String, BTreeMap<usize, BTreeMap<u64, f64>>>;

/// The report as it is written: blocks, figures, statements, and the rows of the table it opens with.
struct Writer<'a> {
    plan: &'a Plan,
    sets: Vec<String>,
    blocks: Vec<Block>,
    figures: Vec<(String, String)>,
    findings: Vec<String>,
    /// measure, Δ against the baseline per compared set, the synergy cell
    glance: Vec<Vec<String>>,
    /// Every measure's synergy tests, for section E.
    synergy: Vec<(String, Vec<Synergy>)>,
}

impl Writer<'_> {
    /// The sets compared with the baseline, in the report's order, the control without a
    /// pathway last.
    fn compared(&self) -> Vec<String> {
        let (none, rest): (Vec<String>, Vec<String>) = self.sets.iter().filter(|s| **s != BASELINE).cloned().partition(|s| s == "none");
        rest.into_iter().chain(none).collect()
    }

    /// A measure of the sets: its mean ± CI per set, every set against the baseline, the
    /// combined sets against their best single pathway, and its row in the opening table.
    fn measure(&mut self, measure: &Measure, what: &str) {
        self.means(measure, what);
        self.test(measure);
    }

    /// [`Writer::measure`] without the table of means (shown elsewhere).
    fn test(&mut self, measure: &Measure) {
        let comparisons = self.comparisons(measure, &self.sets.clone());
        let synergies = synergy(measure, &self.sets);
        let mut row = vec![measure.short.clone()];
        row.extend(self.compared().iter().map(|set| comparisons.iter().find(|c| c.set == *set).map_or("–".into(), Comparison::cell)));
        row.push(synergy_cell(measure, &synergies));
        self.glance.push(row);
        if !synergies.is_empty() {
            self.synergy.push((measure.short.clone(), synergies));
        }
    }

    /// A table of the mean ± CI per key (a description: no tests).
    fn means(&mut self, measure: &Measure, what: &str) {
        let rows = measure
            .values
            .keys()
            .filter(|k| !self.sets.contains(k))
            .chain(self.sets.iter())
            .filter_map(|key| {
                let values: Vec<f64> = measure.values.get(key)?.values().copied().collect();
                let s = Summary::of(&values);
                Some(vec![key.clone(), s.text(3), s.n.to_string()])
            })
            .collect();
        self.blocks.push(Block::Table { header: vec!["".into(), format!("{what} (mean ± 95 % CI)"), "seeds".into()], rows });
    }

    /// Every key against the measure's baseline, as a table and as statements.
    fn comparisons(&mut self, measure: &Measure, keys: &[String]) -> Vec<Comparison> {
        let comparisons = compare(measure, keys);
        if comparisons.is_empty() {
            self.blocks.push(Block::Para(format!("{}: too few paired seeds to compare.", measure.name)));
            return comparisons;
        }
        self.blocks.push(Block::Para(format!("Compared with `{}`: {}", measure.baseline, measure.name)));
        let header = ["", &format!("Δ vs {} [95 % CI]", measure.baseline), "d_z", "p", "p (Holm)", "detectable (80 %)", "significant"];
        let rows = comparisons
            .iter()
            .map(|c| {
                vec![
                    c.set.clone(),
                    c.test.diff.difference_text(),
                    format!("{:.2}", c.test.dz),
                    p_cell(c.test.p),
                    p_cell(c.holm_p),
                    detectable_cell(&c.test),
                    if c.significant() { "yes".into() } else { "no".into() },
                ]
            })
            .collect();
        self.blocks.push(Block::Table { header: header.iter().map(|s| s.to_string()).collect(), rows });
        self.findings.extend(comparisons.iter().map(Comparison::statement));
        comparisons
    }

    fn figure(&mut self, stem: &str, chart: LineChart, caption: String) {
        self.figures.push((stem.to_string(), chart.to_svg()));
        self.blocks.push(Block::Figure { stem: stem.into(), caption });
    }
}

fn detectable_cell(test: &PairedTest) -> String {
    if test.detectable.is_infinite() { "none (too few seeds)".into() } else { format!("±{:.3}", test.detectable) }
}

/// The opening table's synergy cell: the combined sets significantly better (or worse) than their
/// best single pathway on the measure.
fn synergy_cell(measure: &Measure, synergies: &[Synergy]) -> String {
    if measure.better == Better::Neither {
        return "(a description)".into();
    }
    let said: Vec<String> = synergies
        .iter()
        .filter(|s| s.holds() || s.fails())
        .map(|s| format!("{} {:+.3}{}", s.combined, s.test.diff.mean, if s.holds() { " ✱" } else { " (worse)" }))
        .collect();
    if said.is_empty() { "none significant".into() } else { said.join("; ") }
}

/// Per run at each (kind, level): the mean and the minimum over its tasks.
struct Levels {
    /// kind → set → level index → seed → mean over tasks
    mean: BTreeMap<&'static str, PerIndex>,
    /// … → the worst task's performance
    worst: BTreeMap<&'static str, PerIndex>,
}

fn per_level(plan: &Plan, rows: &[AmbiguityRow]) -> Levels {
    let mut by_run: BTreeMap<(&'static str, String, usize, u64), Vec<f64>> = BTreeMap::new();
    for row in rows {
        let levels = plan.scale.levels(row.kind);
        let Some(index) = levels.iter().position(|l| *l == row.level) else { continue };
        by_run.entry((row.kind.name(), row.pathways.clone(), index, row.seed)).or_default().push(row.perf as f64);
    }
    let mut out = Levels { mean: BTreeMap::new(), worst: BTreeMap::new() };
    for ((kind, set, index, seed), perfs) in by_run {
        let mean = perfs.iter().sum::<f64>() / perfs.len() as f64;
        let worst = perfs.iter().copied().fold(f64::INFINITY, f64::min);
        out.mean.entry(kind).or_default().entry(set.clone()).or_default().entry(index).or_default().insert(seed, mean);
        out.worst.entry(kind).or_default().entry(set).or_default().entry(index).or_default().insert(seed, worst);
    }
    out
}

/// Per set and seed: the mean over the ambiguous levels (index ≥ 1) of `data`.
fn over_ambiguous_levels(data: &PerIndex) -> BTreeMap<String, BTreeMap<u64, f64>> {
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
        .collect()
}

fn ambiguity_figure(kind: AmbiguityKind, levels: &[f32], sets: &[String], data: &PerIndex, what: &str) -> LineChart {
    let series = sets.iter().filter_map(|set| Some(seed_series(set, data.get(set)?, levels))).collect();
    LineChart {
        title: format!("Context ambiguity: {} — reconstruction of Vedovati & Ching (2024)", kind.name()),
        note: format!("{what}; line = mean over seeds, band = its 95 % interval"),
        x_label: format!("{} level", kind.name()),
        y_label: "task performance".into(),
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

/// A measure of the sets from one value per run.
fn of_runs<T>(name: &str, short: &str, better: Better, runs: &[&T], key: impl Fn(&T) -> (String, u64, f64)) -> Measure {
    let mut values: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
    for run in runs {
        let (set, seed, value) = key(run);
        values.entry(set).or_default().insert(seed, value);
    }
    Measure { name: name.into(), short: short.into(), baseline: BASELINE.into(), better, values }
}

/// How the study's networks were trained, in words: the plateau rule and its cap.
fn training_rule(plan: &Plan) -> String {
    let t = &plan.base.train;
    if t.plateau_window > 0 {
        format!(
            "each trains until its best mean performance over {} steps is less than {} above its best before them, at most {} steps",
            t.plateau_window, t.plateau_min_gain, t.steps
        )
    } else {
        format!("{} steps each", t.steps)
    }
}

/// Build the report from the finished runs (any subset of the plan's: what is missing is said).
pub fn build(plan: &Plan, results: &[UnitResult], timing: Option<String>) -> Report {
    let sets: Vec<String> = plan.sets.iter().map(|s| s.to_string()).collect();
    let mut w = Writer {
        plan,
        sets: sets.clone(),
        blocks: Vec::new(),
        figures: Vec::new(),
        findings: Vec::new(),
        glance: Vec::new(),
        synergy: Vec::new(),
    };
    let base = &plan.base;
    let tasks: Vec<&str> = base.train.tasks.iter().map(|t| t.name()).collect();
    // the runs at the study's own size, measured in full (the others are packing runs)
    let full: Vec<&UnitResult> = results.iter().filter(|r| r.unit.packing_size.is_none()).collect();
    w.blocks.push(Block::Heading(1, "What modulab finds — a reconstruction of Vedovati & Ching (2024)".into()));
    w.blocks.push(Block::Para(format!(
        "Scale `{}`: {} pathway sets × {} seeds ({} of {} runs finished, and {} packing runs at smaller sizes). Every run: \
         N = {} units, {} tasks ({}), batches of {}, learning rate {}; {}. The paper's own equations are not public; these \
         are modulab's measurements of its reconstruction (docs/MODEL.md). Intervals are 95 % t-intervals over seeds. Every \
         set is compared with `{BASELINE}` (Yang et al.'s rule input) seed by seed (same seed = same initialisation stream and \
         trials) by the exact paired sign-flip test (all 2ⁿ sign patterns of the n differences; no assumption of normality, \
         and counts with ties are handled), with the effect size d_z (mean difference / SD of the differences). **Holm's \
         correction runs over each table of comparisons: the six sets against `{BASELINE}` on one measure, the combined sets \
         against their best single pathway on one measure, or the pairs of section E's tables.** Where a difference is not \
         significant, the table gives the smallest true difference these seeds would detect with 80 % power at the observed \
         spread. {}",
        plan.scale.name(),
        sets.len(),
        plan.seeds.len(),
        full.len(),
        sets.len() * plan.seeds.len(),
        results.len() - full.len(),
        base.model.n_units,
        tasks.len(),
        tasks.join(", "),
        base.train.batch_size,
        base.train.learning_rate,
        training_rule(plan),
        timing.unwrap_or_default()
    )));
    let opening_at = w.blocks.len();
    let rows: Vec<AmbiguityRow> = full.iter().flat_map(|r| r.ambiguity.iter().cloned()).collect();
    let levels = per_level(plan, &rows);

    push_learning(&mut w, results, &levels);
    let robustness = push_ambiguity(&mut w, &levels);

    // B: packing
    let baselines = capacity::baselines(plan, results);
    let packing_rows = capacity::rows(plan, results, &baselines);
    push_packing(&mut w, &baselines, &packing_rows);

    // C: dynamics
    let dynamics: Vec<&DynamicsRow> = full.iter().filter_map(|r| r.dynamics.as_ref()).collect();
    push_dynamics(&mut w, &dynamics);

    // D: switching
    let switching: Vec<SwitchRow> = results.iter().flat_map(|r| r.switching.iter().cloned()).collect();
    let switch_cost = (!switching.is_empty()).then(|| push_switching(&mut w, &switching));

    // E: the paper's claim
    push_claim(&mut w, &robustness, switch_cost.as_ref());

    // the table the report opens with
    let mut header = vec!["measure".to_string()];
    header.extend(w.compared().iter().map(|s| format!("{s} − {BASELINE}")));
    header.push("synergy (combined − best single)".into());
    let opening = vec![
        Block::Heading(2, "At a glance".into()),
        Block::Para(format!(
            "Every measure (rows) for every pathway set against `{BASELINE}` (columns): the mean difference over {} seeds with \
             its 95 % interval, ✱ where significant after Holm's correction over the row. The last column names the combined \
             sets that are significantly better (✱) or worse than the better of their single pathways on that measure (section \
             E). The sections below give each measure's values, tests and what the seeds could detect.",
            plan.seeds.len()
        )),
        Block::Table { header, rows: w.glance.clone() },
    ];
    w.blocks.splice(opening_at..opening_at, opening);

    let training: Vec<TrainingRow> = results.iter().map(|r| r.training.clone()).collect();
    let tables = vec![
        ("ambiguity.csv", ambiguity_csv(&rows)),
        ("switching.csv", switching_csv(&switching)),
        ("dynamics.csv", dynamics_csv(&dynamics.iter().map(|r| (*r).clone()).collect::<Vec<_>>())),
        ("packing.csv", capacity::csv(&packing_rows)),
        ("training.csv", training_csv(&training)),
        ("comparisons.txt", w.findings.iter().map(|f| format!("{f}\n")).collect()),
    ];
    Report { markdown: markdown(&w.blocks), html: html(&w.blocks, &w.figures), figures: w.figures, tables, findings: w.findings }
}

/// Learning: how well and how fast each set learned.
fn push_learning(w: &mut Writer<'_>, results: &[UnitResult], levels: &Levels) {
    w.blocks.push(Block::Heading(2, "Learning: performance with the clear cue".into()));
    w.blocks.push(Block::Para(
        "Fraction of correct trials with the context e_i exactly, after training: the mean over tasks and the worst task. \
         A set that did not learn its tasks cannot be robust to ambiguity: read the robustness tables with these."
            .into(),
    ));
    let clean = |data: Option<&PerIndex>| -> BTreeMap<String, BTreeMap<u64, f64>> {
        data.map(|d| d.iter().filter_map(|(set, by_level)| Some((set.clone(), by_level.get(&0)?.clone()))).collect()).unwrap_or_default()
    };
    let mixture = AmbiguityKind::Mixture.name();
    for (values, name, short, what) in [
        (clean(levels.mean.get(mixture)), "performance with the clear cue (mean over tasks)", "performance, clear cue", "mean performance"),
        (clean(levels.worst.get(mixture)), "the worst task's performance with the clear cue", "worst task, clear cue", "worst task"),
    ] {
        if values.is_empty() {
            continue;
        }
        w.measure(&Measure { name: name.into(), short: short.into(), baseline: BASELINE.into(), better: Better::Higher, values }, what);
    }
    // how long each trained: the plateau rule stops each network when it stops improving
    let sizes: Vec<usize> = {
        let mut s: Vec<usize> = results.iter().map(|r| r.training.size).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let mut steps = PerIndex::new();
    for r in results {
        let Some(i) = sizes.iter().position(|n| *n == r.training.size) else { continue };
        steps.entry(r.training.pathways.clone()).or_default().entry(i).or_default().insert(r.training.seed, r.training.steps as f64);
    }
    let stopped = results.iter().filter(|r| r.training.plateau).count();
    w.blocks.push(Block::Para(format!(
        "Steps trained ({}): {} of {} runs stopped at their plateau, the others at the cap.",
        training_rule(w.plan),
        stopped,
        results.len()
    )));
    let sets = w.sets.clone();
    w.blocks.push(seed_table("steps trained: set".into(), sizes.iter().map(|n| format!("N = {n}")).collect(), &sets, &steps, 0));
}

/// The robustness measures of one ambiguity kind: absolute, drop from the run's own clear cue,
/// and the worst task.
struct Robustness {
    kind: AmbiguityKind,
    absolute: Measure,
    drop: Measure,
}

/// A: ambiguity, kind by kind. Returns each kind's robustness measures for section E.
#[allow(clippy::expect_used, reason = "cannot fail: the three measures are built above")]
fn push_ambiguity(w: &mut Writer<'_>, levels: &Levels) -> Vec<Robustness> {
    let mut out = Vec::new();
    w.blocks.push(Block::Heading(2, "A. Robustness to context ambiguity".into()));
    w.blocks.push(Block::Para(
        "Each run is scored at every level of each kind of ambiguity on the same trials. Three measures per kind: the \
         performance under ambiguity (the mean over the ambiguous levels), the drop from the run's own clear-cue performance \
         (so a set that learned less is not counted as less robust for that alone), and the worst task's performance under \
         ambiguity (the mean over the ambiguous levels of the lowest task: a mean over tasks can hide one task that breaks). \
         The mixture axis stops at 0.5, where the cue is both tasks equally; beyond it the cue names the other task more than \
         the trial's own, and the run would be scored against the task its cue says less of."
            .into(),
    ));
    let sets = w.sets.clone();
    for kind in AmbiguityKind::ALL {
        let (Some(mean), Some(worst)) = (levels.mean.get(kind.name()), levels.worst.get(kind.name())) else { continue };
        let kind_levels = w.plan.scale.levels(kind);
        let ambiguous = &kind_levels[1..];
        let range = format!("{}–{}", ambiguous.first().copied().unwrap_or(0.0), ambiguous.last().copied().unwrap_or(0.0));
        let list = kind_levels.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ");
        w.blocks.push(Block::Heading(3, format!("{} (levels {list})", kind.name())));
        w.figure(
            &format!("ambiguity-{}", kind.name()),
            ambiguity_figure(kind, &kind_levels, &sets, mean, "mean over tasks"),
            format!("Mean task performance against {} level, mean ± 95 % interval over seeds", kind.name()),
        );
        w.figure(
            &format!("ambiguity-{}-worst", kind.name()),
            ambiguity_figure(kind, &kind_levels, &sets, worst, "the worst task of each run"),
            format!("The worst task's performance against {} level, mean ± 95 % interval over seeds", kind.name()),
        );
        let columns = || kind_levels.iter().map(|l| format!("{} {l}", kind.name())).collect();
        w.blocks.push(seed_table("mean over tasks: set".into(), columns(), &sets, mean, 2));
        w.blocks.push(seed_table("worst task: set".into(), columns(), &sets, worst, 2));
        let absolute = over_ambiguous_levels(mean);
        let drop = absolute
            .iter()
            .map(|(set, seeds)| {
                let clear = mean.get(set).and_then(|l| l.get(&0)).cloned().unwrap_or_default();
                (set.clone(), seeds.iter().filter_map(|(seed, v)| clear.get(seed).map(|c| (*seed, c - v))).collect())
            })
            .collect();
        let k = kind.name();
        let measures = [
            (format!("{k}: performance under ambiguity (mean over levels {range})"), format!("{k}: performance"), Better::Higher, absolute),
            (format!("{k}: drop from the clear cue (clear − mean over levels {range})"), format!("{k}: drop"), Better::Lower, drop),
            (
                format!("{k}: the worst task under ambiguity (mean over levels {range})"),
                format!("{k}: worst task"),
                Better::Higher,
                over_ambiguous_levels(worst),
            ),
        ];
        let mut kept = Vec::new();
        for (name, short, better, values) in measures {
            let measure = Measure { name, short, baseline: BASELINE.into(), better, values };
            w.measure(&measure, "per run");
            kept.push(measure);
        }
        let mut kept = kept.into_iter();
        let (absolute, drop) = (kept.next().expect("three measures"), kept.next().expect("three measures"));
        out.push(Robustness { kind, absolute, drop });
    }
    out
}

/// B: how many of its tasks a network of each size holds, per set, against each task's chance and ceiling.
fn push_packing(w: &mut Writer<'_>, baselines: &[TaskBaseline], rows: &[TaskRow]) {
    let by_size = capacity::capacity(rows);
    if by_size.is_empty() {
        return;
    }
    let plan = w.plan;
    let sets = w.sets.clone();
    let sizes: Vec<usize> = by_size.keys().copied().collect();
    let tasks = plan.base.train.tasks.len();
    w.blocks.push(Block::Heading(2, "B. Task packing: how many tasks a network of N units holds".into()));
    w.blocks.push(Block::Para(format!(
        "Every set learns the same {tasks} tasks together in networks of N = {} units, with the same seeds and the same \
         training rule as the runs above ({}): only the number of units differs, so a task lost in a small network is lost \
         to its size, not to its training time. A run holds a task when its clear-cue performance lies at least {:.0} % of \
         the way from the task's chance (the better of always fixating and answering in a random direction, measured on \
         {} trials) to its ceiling: the best mean any set reaches on it at N = {}, taken over the other seeds only, so \
         that no run is judged against its own result. Each task is judged against its own ceiling so that a task that \
         plateaus low even in the largest networks does not count as lost everywhere, and from chance so that a matching \
         task scoring 0.5 by never answering does not count as held. A run's capacity is the number of tasks it holds \
         (0–{tasks}).",
        sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        training_rule(plan),
        capacity::HELD_FRACTION * 100.0,
        crate::tasks::CHANCE_TRIALS,
        plan.base.model.n_units
    )));
    w.blocks.push(Block::Table {
        header: vec![
            "task".into(),
            "chance".into(),
            format!("ceiling (N = {}, all seeds)", plan.base.model.n_units),
            "reached by".into(),
            "held-out ceilings".into(),
            "held at ≥ (all-seed ceiling)".into(),
        ],
        rows: baselines
            .iter()
            .map(|b| {
                vec![
                    b.task.name().to_string(),
                    format!("{:.3}", b.chance),
                    format!("{:.3}", b.ceiling),
                    b.set.clone(),
                    format!("{:.3}–{:.3}", b.held_out.0, b.held_out.1),
                    format!("{:.3}", b.criterion(b.ceiling)),
                ]
            })
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
            "held = clear-cue performance ≥ {:.0} % of the way from chance to the task's ceiling; line = mean over seeds, band = its 95 % interval",
            capacity::HELD_FRACTION * 100.0
        ),
        x_label: "network size N (units)".into(),
        y_label: format!("tasks held (of {tasks})"),
        y_range: Some((0.0, tasks as f64)),
        series: sets.iter().filter_map(|set| Some(seed_series(set, per_set.get(set)?, &xs))).collect(),
        ..LineChart::default()
    };
    w.figure("packing", chart, "Tasks held against network size, mean ± 95 % interval over seeds".into());
    w.blocks.push(seed_table("tasks held: set".into(), sizes.iter().map(|n| format!("N = {n}")).collect(), &sets, &per_set, 2));
    for size in &sizes {
        let measure = Measure {
            name: format!("tasks held at N = {size}"),
            short: format!("tasks held, N = {size}"),
            baseline: BASELINE.into(),
            better: Better::Higher,
            values: by_size[size].clone(),
        };
        w.test(&measure);
    }
    // which tasks each size loses
    for size in &sizes {
        let mut header = vec![format!("N = {size}: seeds holding the task")];
        header.extend(baselines.iter().map(|c| c.task.name().to_string()));
        let table = sets
            .iter()
            .filter_map(|set| {
                let runs: Vec<&TaskRow> = rows.iter().filter(|r| r.size == *size && r.pathways == *set).collect();
                if runs.is_empty() {
                    return None;
                }
                let mut row = vec![set.clone()];
                row.extend(baselines.iter().map(|c| {
                    let of_task: Vec<&&TaskRow> = runs.iter().filter(|r| r.task == c.task).collect();
                    format!("{}/{}", of_task.iter().filter(|r| r.held).count(), of_task.len())
                }));
                Some(row)
            })
            .collect();
        w.blocks.push(Block::Table { header, rows: table });
    }
}

/// C: dynamics. The connectivity spectrum is shown as a description only; the tests are on
/// what the dynamics do along each task (the Jacobian), its subspaces and its fixed and slow points.
fn push_dynamics(w: &mut Writer<'_>, dynamics: &[&DynamicsRow]) {
    let m = |name: &str, short: &str, value: fn(&DynamicsRow) -> f64| {
        of_runs(name, short, Better::Neither, dynamics, |r: &DynamicsRow| (r.pathways.clone(), r.seed, value(r)))
    };
    let jacobian_spread = m(
        "Jacobian spectral radius along each task's trials, largest minus smallest over tasks",
        "dynamics: Jacobian radius, spread over tasks",
        |r| r.jacobian_spread,
    );
    let jacobian_radius =
        m("Jacobian spectral radius along each task's trials (mean over tasks)", "dynamics: Jacobian radius", |r| r.jacobian_radius);
    let angle =
        m("mean principal angle between tasks' top-3 subspaces (degrees)", "dynamics: subspace angle (°)", |r| r.subspace_angle_deg);
    let participation = m("participation ratio (mean over tasks)", "dynamics: participation ratio", |r| r.participation_ratio);
    let fixed = m("fixed points per task context (stimulus input)", "dynamics: fixed points per task", |r| r.fixed_points);
    let slow = m("slow points per task context (stimulus input)", "dynamics: slow points per task", |r| r.slow_points);
    let stable = m("fraction of the fixed points that are stable", "dynamics: stable fraction", |r| r.stable_fraction);
    let starts = w.plan.scale.fixed_point_starts();
    w.blocks.push(Block::Heading(2, "C. Dynamics".into()));
    w.blocks.push(Block::Para(format!(
        "On noise-free test trials of every task. **What the dynamics do**: the spectral radius of the Jacobian \
         (1−α)I + α·diag(φ′(pre)·g(c))·W(c) at every 5th step of each task's trials, averaged per task; its spread over tasks \
         says how different the tasks' dynamics are. Unlike the connectivity, the Jacobian sees which units each task's \
         activity switches on, so every pathway, bias included, can move it. The principal angles between the tasks' top-3 \
         principal subspaces (90° = orthogonal: separate directions; small = shared) and each task's participation ratio \
         (its effective number of dimensions). Fixed points (q ≤ 10⁻¹⁰) and slow points (q below a tolerance at which the \
         state would drift less than 5 % of the task's own spread of states over a whole trial: on the trial's time scale \
         such a point acts as a fixed point) under each task's context and stimulus input, searched from {starts} of the \
         task's states; the same search from {} states (these {starts} and as many more) shows what more starts would add. \
         The spectrum of the connectivity diag(g(c))·W(c) is shown last, as a description of the weights only: it is the \
         same for every task when only bias acts, so it cannot test whether bias gives tasks their own dynamics (docs/MODEL.md §4C).",
        2 * starts
    )));
    let sets = w.sets.clone();
    for (measure, stem, title, y) in [
        (&jacobian_spread, "dynamics-jacobian-spread", "Jacobian radius: spread over tasks", "largest − smallest over tasks"),
        (&jacobian_radius, "dynamics-jacobian-radius", "Jacobian spectral radius along the tasks' trials", "spectral radius"),
        (&angle, "dynamics-angles", "Mean principal angle between tasks' subspaces", "degrees"),
        (&participation, "dynamics-participation", "Participation ratio of each task's states", "participation ratio"),
    ] {
        w.figure(stem, dynamics_figure(measure, &sets, title, y), format!("{title}: the bar is the mean over seeds, the points the seeds"));
        w.measure(measure, y);
    }
    for (measure, what) in [(&fixed, "points per task"), (&slow, "points per task"), (&stable, "stable fraction")] {
        w.measure(measure, what);
    }
    // do more starts find more points?
    let change = |one: fn(&DynamicsRow) -> f64, two: fn(&DynamicsRow) -> f64| {
        of_runs("", "", Better::Neither, dynamics, move |r: &DynamicsRow| (r.pathways.clone(), r.seed, two(r) - one(r)))
    };
    let (more_fixed, more_slow) = (change(|r| r.fixed_points, |r| r.fixed_points_2x), change(|r| r.slow_points, |r| r.slow_points_2x));
    let mut rows = Vec::new();
    let mut lower_bound = Vec::new();
    for set in &sets {
        let mut row = vec![set.clone()];
        for (counts, added, kind) in [(&fixed, &more_fixed, "fixed"), (&slow, &more_slow, "slow")] {
            let (Some(c), Some(a)) = (counts.values.get(set), added.values.get(set)) else { continue };
            let count = Summary::of(&c.values().copied().collect::<Vec<_>>());
            let add = Summary::of(&a.values().copied().collect::<Vec<_>>());
            row.push(count.text(2));
            row.push(add.text(2));
            let half = if count.low.is_nan() { 0.0 } else { (count.high - count.low) / 2.0 };
            if add.mean.abs() >= half && add.mean != 0.0 {
                lower_bound.push(format!("{set} ({kind})"));
            }
        }
        if row.len() == 5 {
            rows.push(row);
        }
    }
    w.blocks.push(Block::Table {
        header: vec![
            "".into(),
            format!("fixed points per task ({starts} starts)"),
            format!("added by {} starts", 2 * starts),
            format!("slow points per task ({starts} starts)"),
            format!("added by {} starts", 2 * starts),
        ],
        rows,
    });
    w.blocks.push(Block::Para(if lower_bound.is_empty() {
        format!("Doubling the starts to {} changes every set's mean counts by less than the half-width of their interval: {starts} starts are enough.", 2 * starts)
    } else {
        format!(
            "Doubling the starts to {} changes the mean count by at least the half-width of its interval for {}: those counts are lower bounds.",
            2 * starts,
            lower_bound.join(", ")
        )
    }));
    let radius = m("spectral radius of the connectivity diag(g(c)) W(c) (mean over task contexts)", "", |r| r.spectral_radius);
    let spread = m("its largest minus smallest value over task contexts", "", |r| r.spectral_spread);
    w.blocks.push(Block::Para("The connectivity's spectrum, a description of the weights (not tested):".into()));
    w.means(&radius, "connectivity spectral radius");
    w.means(&spread, "its spread over task contexts");
}

/// The switch-test key of a set with one of its pathways slowed, e.g. "bias+synaptic: synaptic slowed".
fn switch_key(set: &str, pathway: Pathway) -> String {
    format!("{set}: {} slowed", pathway.name())
}

/// D: performance and the transient after a task switch against each pathway's τ, and how much
/// slowing a pathway lengthens the transient. Returns that cost per (set, pathway slowed).
fn push_switching(w: &mut Writer<'_>, rows: &[SwitchRow]) -> Measure {
    let taus = w.plan.scale.switch_taus_ms();
    let slow = taus.last().copied().unwrap_or(0.0);
    let (mut perf, mut transient) = (PerIndex::new(), PerIndex::new());
    for row in rows {
        let Some(t) = taus.iter().position(|tau| *tau == row.tau_ms) else { continue };
        let key = switch_key(&row.pathways, row.pathway);
        perf.entry(key.clone()).or_default().entry(t).or_default().insert(row.seed, row.perf);
        transient.entry(key).or_default().entry(t).or_default().insert(row.seed, row.transient);
    }
    let keys: Vec<String> =
        w.sets.iter().flat_map(|set| Pathway::ALL.into_iter().map(move |p| switch_key(set, p))).filter(|k| perf.contains_key(k)).collect();
    let (from, to) = rows.first().map_or((String::new(), String::new()), |r| (r.from.clone(), r.to.clone()));
    w.blocks.push(Block::Heading(2, "D. Task switching against each pathway's time constant".into()));
    w.blocks.push(Block::Para(format!(
        "Trials of `{to}` whose context is `{from}`'s until stimulus onset and `{to}`'s from then on ({} trials). One pathway \
         at a time follows the context through a low-pass filter of time constant τ (the run's other pathways follow at once). \
         Measured: the fraction of switched trials answered correctly, and the transient: the mean distance of the hidden \
         state from the same trials' unswitched trajectory after the switch, relative to the state's size. The cost of \
         slowing a pathway is its transient at τ = {slow} ms minus at τ = 0.",
        w.plan.scale.switch_trials()
    )));
    let chart = LineChart {
        title: "Task switch: transient against the slowed pathway's τ".into(),
        note: "line = mean over seeds, band = its 95 % interval".into(),
        x_label: "τ (ms)".into(),
        y_label: "transient (relative distance)".into(),
        series: keys.iter().map(|key| seed_series(key, &transient[key], &taus)).collect(),
        ..LineChart::default()
    };
    w.figure("switching", chart, "The switch's transient against the slowed pathway's τ".into());
    let columns = || taus.iter().map(|t| format!("τ = {t} ms")).collect();
    w.blocks.push(seed_table("switched trials correct: set, pathway slowed".into(), columns(), &keys, &perf, 2));
    w.blocks.push(seed_table("transient: set, pathway slowed".into(), columns(), &keys, &transient, 2));
    let cost = Measure {
        name: format!("transient added by slowing the pathway to τ = {slow} ms"),
        short: String::new(),
        baseline: switch_key(BASELINE, Pathway::Bias),
        better: Better::Lower,
        values: keys
            .iter()
            .map(|key| {
                let at = |t: usize| transient[key].get(&t).cloned().unwrap_or_default();
                let (fast, slowed) = (at(0), at(taus.len() - 1));
                (key.clone(), slowed.iter().filter_map(|(seed, s)| fast.get(seed).map(|f| (*seed, s - f))).collect())
            })
            .collect(),
    };
    w.means(&cost, "added transient");
    w.comparisons(&cost, &keys);
    cost
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

/// A table of mean ± CI over seeds (`decimals`): a row per key that has data, a column per index.
fn seed_table(first: String, columns: Vec<String>, keys: &[String], data: &PerIndex, decimals: usize) -> Block {
    let width = columns.len();
    let mut header = vec![first];
    header.extend(columns);
    let rows = keys
        .iter()
        .filter_map(|key| {
            let by_index = data.get(key)?;
            let mut row = vec![key.clone()];
            row.extend((0..width).map(|i| {
                by_index.get(&i).map_or("–".into(), |seeds| Summary::of(&seeds.values().copied().collect::<Vec<_>>()).text(decimals))
            }));
            Some(row)
        })
        .collect();
    Block::Table { header, rows }
}
