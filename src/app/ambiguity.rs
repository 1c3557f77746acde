//! The Context ambiguity panel (docs/MODEL.md §4A): score the current network while its task cue is
//! blurred, live, and sweep the blur to draw performance against ambiguity, beside the same
//! sweep of saved runs loaded for comparison ([`Comparisons`], swept by the runner on a thread of
//! its own).

use eframe::egui;
use egui_plot::{Bar, BarChart, Corner, Line, LineStyle, Plot, PlotPoints, Polygon};

use super::export::{Curve, FileJob, PlotData, PlotExport, export_menu_ui};
use super::widgets::{task_bars_plot, task_color, task_legend, task_line_style};
use super::{Level, Panel, PanelContext, heading_ui};
use crate::analysis::stats::Summary;
use crate::analysis::{Ambiguity, AmbiguityKind};
use crate::config::Config;
use crate::experiments::sweep::{self, AmbiguityRow, SweepJob, SweepResult};
use crate::lesson;
use crate::model::Pathway;
use crate::runner::compare::{ComparedRun, Comparisons, Notice};
use crate::runner::job::Stopped;
use crate::runner::{AmbiguityEval, Command, JobHost, JobId, LiveViews};

/// Levels in a sweep (evenly spaced over the kind's slider range).
const SWEEP_LEVELS: usize = 11;
/// The bars of the unambiguous (clear-cue) performance.
const CLEAR_GREY: egui::Color32 = egui::Color32::from_gray(120);

/// The name of the current run in the sweep's table (the `run` column of `ambiguity.csv`).
pub const CURRENT_RUN: &str = "current run";

/// The saved runs compared with the current one, and where each plot was drawn last frame (an
/// exported PNG is cropped to it).
pub struct AmbiguityPanel {
    compare: Comparisons,
    /// The current run's latest sweep (a job on its network).
    sweep: Option<JobId>,
    /// Draw compared runs of one pathway set as one curve with its seed spread.
    group_seeds: bool,
    bars_rect: egui::Rect,
    sweep_rect: egui::Rect,
}

impl Default for AmbiguityPanel {
    fn default() -> Self {
        Self {
            compare: Comparisons::default(),
            sweep: None,
            group_seeds: false,
            bars_rect: egui::Rect::NOTHING,
            sweep_rect: egui::Rect::NOTHING,
        }
    }
}

/// Compared runs with one pathway set (e.g. one preset trained from several seeds) summarised
/// together: at each level, the mean over runs of each run's mean task performance.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedGroup {
    /// The pathway set, e.g. `bias+synaptic`.
    pub set: String,
    /// Indices into the compared runs.
    pub runs: Vec<usize>,
    /// (level, summary over the runs swept at that level), in level order.
    pub points: Vec<(f32, Summary)>,
}

impl SeedGroup {
    /// The legend's name: the set and how many runs it summarises.
    pub fn label(&self) -> String {
        format!("{} ({} run{})", self.set, self.runs.len(), if self.runs.len() == 1 { "" } else { "s" })
    }
}

/// The compared runs grouped by pathway set, in the order each set first appears.
pub fn seed_groups(compared: &[ComparedRun]) -> Vec<SeedGroup> {
    let mut groups: Vec<SeedGroup> = Vec::new();
    for (i, run) in compared.iter().enumerate() {
        let set = Pathway::set_label(&run.run.config.model.pathways);
        match groups.iter_mut().find(|g| g.set == set) {
            Some(g) => g.runs.push(i),
            None => groups.push(SeedGroup { set, runs: vec![i], points: Vec::new() }),
        }
    }
    for group in &mut groups {
        let mut by_level: Vec<(f32, Vec<f64>)> = Vec::new();
        for &i in &group.runs {
            for (level, mean, _) in compared[i].summary() {
                match by_level.iter_mut().find(|(l, _)| *l == level) {
                    Some((_, values)) => values.push(mean as f64),
                    None => by_level.push((level, vec![mean as f64])),
                }
            }
        }
        by_level.sort_by(|a, b| a.0.total_cmp(&b.0));
        group.points = by_level.into_iter().map(|(level, values)| (level, Summary::of(&values))).collect();
    }
    groups
}

impl AmbiguityPanel {
    /// Every frame, shown or not: take run directories chosen for comparison and the comparison
    /// thread's results; problems go to the status bar.
    fn poll(&mut self, cx: &mut PanelContext<'_>) {
        // a run added is swept like the current run's latest sweep (or, before any, at the
        // selected kind)
        let (kind, levels) = match self.sweep(cx.jobs) {
            Some(s) => (s.kind, s.levels.clone()),
            None => (cx.ambiguity.kind, sweep_levels(cx.ambiguity.kind)),
        };
        for dir in cx.files.take_compare_runs() {
            if let Some(problem) = self.compare.add(dir, kind, &levels, cx.jobs) {
                cx.files.set_notice(Level::Error, problem);
            }
        }
        for notice in self.compare.poll(cx.jobs) {
            match notice {
                Notice::Info(text) => cx.files.set_notice(Level::Info, text),
                Notice::Error(text) => cx.files.set_notice(Level::Error, text),
            }
        }
    }

    /// The current run's latest sweep, as far as it got.
    pub fn sweep(&self, jobs: &JobHost) -> Option<std::sync::Arc<SweepResult>> {
        jobs.output(self.sweep?)
    }

    /// Sweep a frozen copy of the current network at every level of `kind`, replacing a sweep
    /// under way (Sweep, or a lesson's step).
    pub fn start_sweep(&mut self, kind: AmbiguityKind, jobs: &mut JobHost) {
        let levels = sweep_levels(kind);
        jobs.replace_on_network(&mut self.sweep, "ambiguity sweep", move |net| {
            SweepJob::new(net.config, net.params, net.step, net.lesioned, kind, levels).ok_or_else(|| "no levels to sweep".to_string())
        });
    }

    /// The runs loaded for comparison.
    pub fn compared_runs(&self) -> &[ComparedRun] {
        self.compare.runs()
    }
}

/// The slider range of each kind. Mixture stops at 0.5, where the cue is both tasks equally:
/// beyond it the cue names the other task more than the trial's own, which is then no longer
/// the task the cue asks for (the study's axis stops there too).
pub fn level_range(kind: AmbiguityKind) -> std::ops::RangeInclusive<f32> {
    match kind {
        AmbiguityKind::Mixture => 0.0..=0.5,
        AmbiguityKind::Uniform => 0.0..=1.0,
        AmbiguityKind::Noise => 0.0..=2.0,
        AmbiguityKind::Amplitude => 0.0..=2.0,
    }
}

/// What each kind does, in plain words and as a formula.
pub fn kind_tooltip(kind: AmbiguityKind) -> &'static str {
    match kind {
        AmbiguityKind::Mixture => {
            "Mixture: the cue is partly the right task and partly another one, as if two \
             instructions were given at once.\n\nc = (1 − λ) e_i + λ e_j  (j ≠ i, every other task in turn)\n\
             λ = 0: the right cue; 0.5: halfway between two tasks (the slider stops there: beyond it the \
             cue asks more for the other task than for the one the trial is scored on)."
        }
        AmbiguityKind::Noise => {
            "Noise: the right cue with random noise added to every entry, fresh for each trial.\n\n\
             c = e_i + σ·ξ,  ξ ~ N(0, I)\nσ = 0: the right cue; 1: noise as large as the cue itself."
        }
        AmbiguityKind::Uniform => {
            "Uniform: the cue is blended toward 'all tasks at once', so it says less and less about \
             which task is meant.\n\nc = (1 − λ) e_i + λ·(1/K, …, 1/K)\nλ = 0: the right cue; 1: no information at all."
        }
        AmbiguityKind::Amplitude => {
            "Amplitude: the right cue, but weaker or stronger than in training.\n\n\
             c = a·e_i\na = 1: as trained; 0: no cue at all; 2: twice as strong."
        }
    }
}

impl Panel for AmbiguityPanel {
    /// `sweep = KIND`: sweep the current network at every level of that kind.
    fn act(&mut self, action: &lesson::Action, jobs: &mut JobHost) -> bool {
        let lesson::Action::Sweep(kind) = action else { return false };
        self.start_sweep(*kind, jobs);
        true
    }

    fn title(&self) -> &'static str {
        "Context ambiguity"
    }

    fn help(&self) -> &'static str {
        "In training the network is always told exactly which task it is doing: the context c is \
         a one-hot vector e_i. Here the trained network is tested with a blurred cue instead \
         (pick how to blur it and how much), and scored against the right task's answers. \
         The bars compare each task's performance with the clear cue (left) and the blurred cue \
         (right), on the same test trials; they update as you move the slider and as training \
         goes on. Sweep tests a whole range of blur levels on a frozen copy of the network and \
         draws performance against ambiguity: a network that degrades gracefully has a flat \
         curve. Compare pathways (Setup) to see which kind of modulation copes best with an \
         unclear instruction. Add run for comparison… loads saved runs (e.g. trained with other \
         pathways) and sweeps them the same way, each drawn as its own coloured curve beside the \
         current run's."
    }

    fn logic(&mut self, _ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        self.poll(cx);
    }

    fn live_views(&self) -> LiveViews {
        LiveViews { ambiguity: true, probe: false }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        controls_ui(ui, cx);
        let latest = cx.run.snapshot.as_ref().and_then(|s| s.ambiguity.as_ref());
        status_ui(ui, latest, *cx.ambiguity);
        ui.separator();
        // each plot under a caption line with its Export menu
        let caption = ui.text_style_height(&egui::TextStyle::Body).max(ui.spacing().interact_size.y) + 2.0 * ui.spacing().item_spacing.y;
        // the sweep's controls, and a row per compared run
        let rows = 1 + self.compare.runs().len() + self.compare.loading().count();
        let sweep_row = rows as f32 * (ui.spacing().interact_size.y + ui.spacing().item_spacing.y);
        let plot_height = ((ui.available_height() - 2.0 * caption - sweep_row - 24.0) / 2.0).max(100.0);
        bars_ui(ui, cx, latest, plot_height, &mut self.bars_rect);
        ui.separator();
        let sweep = self.sweep(cx.jobs);
        let groups = self.group_seeds.then(|| seed_groups(self.compare.runs()));
        match sweep_controls_ui(ui, cx, sweep.as_deref(), &mut self.compare, &mut self.group_seeds, groups.as_deref()) {
            Some(SweepClick::Start(kind)) => self.start_sweep(kind, cx.jobs),
            Some(SweepClick::Cancel) => {
                if let Some(id) = self.sweep {
                    cx.jobs.cancel(id);
                }
            }
            None => {}
        }
        sweep_plot_ui(ui, cx, sweep.as_deref(), self.compare.runs(), groups.as_deref(), plot_height, &mut self.sweep_rect);
    }
}

fn controls_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
    let before = *cx.ambiguity;
    ui.horizontal(|ui| {
        ui.label("Kind").on_hover_text("How the task cue is made ambiguous (hover each choice)");
        for kind in AmbiguityKind::ALL {
            if ui.selectable_label(cx.ambiguity.kind == kind, kind.name()).on_hover_text(kind_tooltip(kind)).clicked()
                && cx.ambiguity.kind != kind
            {
                let range = level_range(kind);
                *cx.ambiguity = Ambiguity { kind, level: cx.ambiguity.level.clamp(*range.start(), *range.end()) };
            }
        }
        ui.separator();
        let Ambiguity { kind, level } = cx.ambiguity;
        let symbol = match kind {
            AmbiguityKind::Mixture | AmbiguityKind::Uniform => "λ",
            AmbiguityKind::Noise => "σ",
            AmbiguityKind::Amplitude => "a",
        };
        ui.add(egui::Slider::new(level, level_range(*kind)).text(format!("level {symbol}")).step_by(0.01)).on_hover_text(format!(
            "How ambiguous the cue is; the network is re-tested at once as you move it.\n\n{}",
            kind_tooltip(*kind)
        ));
        if ui.button("Clear cue").on_hover_text("Back to the unambiguous cue (the level at which c = e_i)").clicked() {
            *level = kind.clean_level();
        }
    });
    if *cx.ambiguity != before {
        // the worker answers only the last of a burst of these
        cx.commands.push(Command::SetAmbiguity(*cx.ambiguity));
    }
}

fn status_ui(ui: &mut egui::Ui, latest: Option<&AmbiguityEval>, asked: Ambiguity) {
    ui.horizontal(|ui| match latest {
        None => {
            ui.weak("Waiting for the first evaluation…");
        }
        Some(e) => {
            let mean = |perf: &[(crate::tasks::Task, f32)]| perf.iter().map(|(_, p)| p).sum::<f32>() / perf.len().max(1) as f32;
            let min = |perf: &[(crate::tasks::Task, f32)]| perf.iter().map(|(_, p)| *p).fold(f32::INFINITY, f32::min);
            ui.label(format!(
                "{} {:.2}: mean {:.0}%, worst {:.0}%   (clear cue: mean {:.0}%, worst {:.0}%)",
                e.ambiguity.kind.name(),
                e.ambiguity.level,
                100.0 * mean(&e.ambiguous),
                100.0 * min(&e.ambiguous),
                100.0 * mean(&e.clean),
                100.0 * min(&e.clean),
            ))
            .on_hover_text("Mean and worst task performance under this ambiguity, and with the clear cue on the same trials");
            ui.separator();
            let lesions = if e.lesioned.is_empty() { String::new() } else { format!(", {} lesioned", Pathway::set_label(&e.lesioned)) };
            ui.weak(format!("step {}, {} trials per task{lesions}, {:.0} ms", e.step, e.trials, 1000.0 * e.secs))
                .on_hover_text("The network tested, test trials per task, and how long the worker took");
            if e.ambiguity != asked {
                ui.spinner().on_hover_text("Re-testing with the new setting");
            }
        }
    });
}

/// The name of the ambiguous bars' series: "mixture 0.80".
fn ambiguous_name(e: &AmbiguityEval) -> String {
    format!("{} {:.2}", e.ambiguity.kind.name(), e.ambiguity.level)
}

/// The bar chart's data: per task, performance with the clear cue and with the ambiguous one.
fn bars_export(latest: Option<&AmbiguityEval>) -> PlotExport {
    let categories = latest.map(|e| e.clean.iter().map(|(t, _)| t.label().to_string()).collect()).unwrap_or_default();
    let values = |perf: &[(crate::tasks::Task, f32)]| perf.iter().map(|(_, p)| *p as f64).collect::<Vec<_>>();
    let series =
        latest.map(|e| vec![("clear cue".to_string(), values(&e.clean)), (ambiguous_name(e), values(&e.ambiguous))]).unwrap_or_default();
    let about = latest.map_or(String::new(), |e| format!(" ({}, step {})", ambiguous_name(e), e.step));
    PlotExport::task_bars("ambiguity-bars", format!("Performance per task: clear and ambiguous cue{about}"), categories, series)
}

fn bars_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, latest: Option<&AmbiguityEval>, height: f32, rect: &mut egui::Rect) {
    ui.horizontal(|ui| {
        ui.label("Performance per task: clear cue and ambiguous cue")
            .on_hover_text("Fraction of correct test trials of each task, with the right cue (grey) and the ambiguous one (coloured)");
        export_menu_ui(ui, cx.files, *rect, || bars_export(latest));
    });
    let labels: Vec<String> = latest.map(|e| e.clean.iter().map(|(t, _)| t.label().to_string()).collect()).unwrap_or_default();
    // the scope's rect holds the plot with its axes and tick labels (the PNG export's crop)
    let shown = ui.scope(|ui| {
        task_bars_plot("ambiguity-bars", height, labels, ui.available_width()).show(ui, |plot_ui| {
            let Some(e) = latest else { return };
            let clean = e
                .clean
                .iter()
                .enumerate()
                .map(|(i, (t, p))| Bar::new(i as f64 - 0.2, *p as f64).width(0.4).name(t.label()).fill(CLEAR_GREY))
                .collect();
            plot_ui.bar_chart(BarChart::new("clear cue", clean).color(CLEAR_GREY));
            let ambiguous = e
                .ambiguous
                .iter()
                .enumerate()
                .map(|(i, (t, p))| Bar::new(i as f64 + 0.2, *p as f64).width(0.4).name(t.label()).fill(task_color(i)))
                .collect();
            plot_ui.bar_chart(BarChart::new(ambiguous_name(e), ambiguous).color(task_color(0)));
        })
    });
    *rect = shown.response.rect;
}

/// The levels a sweep of `kind` visits: evenly spaced over the slider's range.
pub fn sweep_levels(kind: AmbiguityKind) -> Vec<f32> {
    let range = level_range(kind);
    let (lo, hi) = (*range.start(), *range.end());
    (0..SWEEP_LEVELS).map(|i| lo + (hi - lo) * i as f32 / (SWEEP_LEVELS - 1) as f32).collect()
}

/// What the sweep row's buttons asked for.
enum SweepClick {
    Start(AmbiguityKind),
    Cancel,
}

fn sweep_controls_ui(
    ui: &mut egui::Ui,
    cx: &mut PanelContext<'_>,
    sweep: Option<&SweepResult>,
    compare: &mut Comparisons,
    group_seeds: &mut bool,
    groups: Option<&[SeedGroup]>,
) -> Option<SweepClick> {
    let mut click = None;
    ui.horizontal(|ui| {
        let kind = cx.ambiguity.kind;
        let running = sweep.is_some_and(SweepResult::is_running) || compare.sweeping();
        if ui
            .button("Sweep")
            .on_hover_text(format!(
                "Test a frozen copy of the current network at {SWEEP_LEVELS} levels of {} ambiguity ({}) and draw \
                 performance against the level. Training goes on meanwhile, one step between test batches. \
                 Runs added for comparison are swept the same way, on a thread of their own.",
                kind.name(),
                sweep_levels(kind).iter().map(|l| format!("{l:.1}")).collect::<Vec<_>>().join(", ")
            ))
            .clicked()
        {
            let levels = sweep_levels(kind);
            if let Some(problem) = compare.sweep_all(kind, &levels, cx.jobs) {
                cx.files.set_notice(Level::Error, problem);
            }
            click = Some(SweepClick::Start(kind));
        }
        if ui
            .add_enabled(running, egui::Button::new("Cancel sweep"))
            .on_hover_text("Stop the sweep (of the current run and of the runs added); the levels measured so far stay on the plot")
            .clicked()
        {
            click = Some(SweepClick::Cancel);
            compare.cancel(cx.jobs);
        }
        if let Some(s) = sweep {
            let (done, total) = s.progress();
            let text = if let Some(stopped) = &s.stopped {
                match stopped {
                    Stopped::Cancelled => format!("cancelled after {done} of {total}"),
                    Stopped::Failed(why) => format!("failed after {done} of {total}: {why}"),
                }
            } else if done == total {
                format!("done: {} at step {}", s.kind.name(), s.step)
            } else {
                format!("{done} / {total}")
            };
            ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(text).desired_width(260.0))
                .on_hover_text("Sweep progress of the current run: one unit is one level of one task");
        }
        ui.separator();
        if ui
            .button("Add run for comparison…")
            .on_hover_text(
                "Load a saved run (a run directory from `modulab train` or Save checkpoint…) and sweep it the same \
                 way, to draw its curve beside the current run's: e.g. a bias-only and a bias+synaptic network. \
                 Loaded runs are tested intact (lesions apply to the current run only).",
            )
            .clicked()
        {
            cx.files.begin(FileJob::CompareRun);
        }
        if compare.runs().len() >= 2 {
            ui.checkbox(group_seeds, "Seed spread").on_hover_text(
                "Draw the compared runs of one pathway set (e.g. one preset trained from several seeds) as one curve: the \
                 mean over the runs of each run's mean task performance, with a band for its 95 % interval over the runs \
                 (Student t; from 2 runs on). Two sets whose bands overlap widely cannot be told apart with these seeds: \
                 `modulab reproduce` tests such differences.",
            );
        }
    });
    let mut remove = None;
    for dir in compare.loading() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.weak(format!("loading {}…", dir.display()));
        });
    }
    for (i, run) in compare.runs().iter().enumerate() {
        ui.horizontal(|ui| {
            let (swatch, _) = ui.allocate_exact_size(egui::vec2(18.0, ui.spacing().interact_size.y), egui::Sense::hover());
            // grouped, a run wears its set's colour
            let color = groups.and_then(|g| g.iter().position(|g| g.runs.contains(&i))).map_or(compare_color(i), compare_color);
            ui.painter().hline(swatch.x_range(), swatch.center().y, egui::Stroke::new(3.0, color));
            ui.label(&run.label).on_hover_text(format!(
                "{}: trained {} steps on {} tasks, {} units",
                run.dir.display(),
                run.run.step,
                run.run.config.train.tasks.len(),
                run.run.config.model.n_units
            ));
            let (done, total) = run.progress();
            let text = match &run.swept {
                None => "not swept".to_string(),
                Some((kind, _)) if done == total => format!("done: {}", kind.name()),
                Some(_) if run.is_stopped() => format!("stopped after {done} of {total} levels"),
                Some(_) => format!("{done} / {total} levels"),
            };
            ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(text).desired_width(200.0))
                .on_hover_text("This run's sweep: one unit is one level (every task at once)");
            if ui.button("Remove").on_hover_text(format!("Take {} off the plot", run.label)).clicked() {
                remove = Some(i);
            }
        });
    }
    if let Some(i) = remove {
        compare.remove(i, cx.jobs);
    }
    click
}

/// The colour of the `i`-th run added for comparison (apart from the task colours' hues).
fn compare_color(i: usize) -> egui::Color32 {
    let compared = crate::figure::palette::COMPARED;
    super::widgets::color(compared[i % compared.len()])
}

/// A seed group's mean line and its 95 % band (one trapezoid per level interval, as the plot
/// fills convex shapes only), all under the group's legend entry.
fn seed_group_ui(plot_ui: &mut egui_plot::PlotUi<'_>, group: &SeedGroup, color: egui::Color32) {
    let name = group.label();
    // the line first: the legend takes the colour of the first item of a name
    let mean: Vec<[f64; 2]> = group.points.iter().map(|(l, s)| [*l as f64, s.mean]).collect();
    plot_ui.line(Line::new(name.clone(), PlotPoints::from(mean)).width(2.5).color(color));
    let band: Vec<(f64, f64, f64)> =
        group.points.iter().filter(|(_, s)| !s.low.is_nan()).map(|(l, s)| (*l as f64, s.low, s.high)).collect();
    for pair in band.windows(2) {
        let [(x0, lo0, hi0), (x1, lo1, hi1)] = [pair[0], pair[1]];
        plot_ui.polygon(
            Polygon::new(name.clone(), PlotPoints::from(vec![[x0, lo0], [x1, lo1], [x1, hi1], [x0, hi0]]))
                .fill_color(color.gamma_multiply(0.25))
                // no outline, but the colour the legend expects of the name
                .stroke(egui::Stroke::new(0.0, color)),
        );
    }
}

/// (level, performance) of task number `t` at every level measured so far.
fn sweep_points(s: &SweepResult, t: usize) -> Vec<[f64; 2]> {
    s.levels.iter().zip(&s.perf).filter_map(|(level, row)| row[t].map(|p| [*level as f64, p as f64])).collect()
}

/// (level, mean) and (level, min) points of a summary.
fn mean_and_worst(summary: &[(f32, f32, f32)]) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    summary.iter().map(|(l, m, w)| ([*l as f64, *m as f64], [*l as f64, *w as f64])).unzip()
}

/// The sweep plot's data. The CSV is a `modulab sweep ambiguity` table (`ambiguity.csv`'s
/// columns): the current run's rows (run [`CURRENT_RUN`]), then each compared run's. The SVG draws
/// what the plot shows: every task's curve, the mean and the worst task of the current run, then
/// each compared run's mean and worst task, or with Seed spread each set's mean and 95 % band.
fn sweep_export(
    sweep: Option<&SweepResult>,
    config: Option<&Config>,
    compared: &[ComparedRun],
    groups: Option<&[SeedGroup]>,
) -> PlotExport {
    let mut lines = Vec::new();
    let mut rows = Vec::new();
    let mut title = "Performance against ambiguity".to_string();
    if let Some(s) = sweep {
        title = format!("Performance against {} ambiguity (network at step {})", s.kind.name(), s.step);
        lines.extend(s.tasks.iter().enumerate().map(|(t, task)| Curve::new(task.label(), sweep_points(s, t))));
        let (mean, worst) = mean_and_worst(&s.summary());
        lines.push(Curve::new(format!("{CURRENT_RUN} mean"), mean));
        lines.push(Curve::new(format!("{CURRENT_RUN} worst"), worst));
        rows.extend(current_rows(s, config));
    }
    for run in compared {
        rows.extend(run.rows.iter().cloned());
        if groups.is_none() {
            let (mean, worst) = mean_and_worst(&run.summary());
            lines.push(Curve::new(format!("{} mean", run.label), mean));
            lines.push(Curve::new(format!("{} worst", run.label), worst));
        }
    }
    for group in groups.unwrap_or_default() {
        let label = group.label();
        let curve = |what: &str, value: fn(&Summary) -> f64| {
            Curve::new(
                format!("{label} {what}"),
                group.points.iter().filter(|(_, s)| !value(s).is_nan()).map(|(l, s)| [*l as f64, value(s)]).collect(),
            )
        };
        lines.push(curve("mean", |s| s.mean));
        if group.points.iter().any(|(_, s)| !s.low.is_nan()) {
            lines.push(curve("95 % low", |s| s.low));
            lines.push(curve("95 % high", |s| s.high));
        }
    }
    PlotExport::new(
        "ambiguity",
        title,
        "level",
        "fraction correct",
        PlotData::Table { csv: sweep::ambiguity_csv(&rows), lines: Some(lines) },
    )
}

fn sweep_plot_ui(
    ui: &mut egui::Ui,
    cx: &mut PanelContext<'_>,
    sweep: Option<&SweepResult>,
    compared: &[ComparedRun],
    groups: Option<&[SeedGroup]>,
    height: f32,
    rect: &mut egui::Rect,
) {
    let title = match sweep {
        Some(s) => {
            let lesions = if s.lesioned.is_empty() { String::new() } else { format!(", {} lesioned", Pathway::set_label(&s.lesioned)) };
            format!("Performance against {} ambiguity (network at step {}, {} trials per point{lesions})", s.kind.name(), s.step, s.trials)
        }
        None if !compared.is_empty() => "Performance against ambiguity (press Sweep for the current run)".to_string(),
        None => "Performance against ambiguity (press Sweep)".to_string(),
    };
    ui.horizontal(|ui| {
        ui.label(title).on_hover_text(
            "Current run: thick, the mean over tasks; dashed, the worst task; thin, each task. Each run added for \
             comparison, in its colour: the mean over its tasks; dashed, its worst task. Click a legend entry to hide it.",
        );
        let config = cx.run.config.as_ref();
        export_menu_ui(ui, cx.files, *rect, || sweep_export(sweep, config, compared, groups));
    });
    let strong = ui.visuals().strong_text_color();
    let kind = sweep.map(|s| s.kind).or_else(|| compared.iter().find_map(|r| r.swept.as_ref().map(|(k, _)| *k)));
    let range = level_range(kind.unwrap_or(AmbiguityKind::Mixture));
    let shown = ui.scope(|ui| {
        Plot::new("ambiguity-sweep")
            .height(height)
            .include_x(*range.start())
            .include_x(*range.end())
            .include_y(0.0)
            .include_y(1.0)
            .x_axis_label("level")
            .allow_scroll(false)
            .legend(task_legend(Corner::RightTop, sweep.map_or(0, |s| s.tasks.len() + 2) + 2 * compared.len()))
            .show(ui, |plot_ui| {
                if let Some(s) = sweep {
                    // faint beside compared runs, whose colours they would otherwise be mistaken for
                    let task_alpha = if compared.is_empty() { 1.0 } else { 0.3 };
                    for (t, task) in s.tasks.iter().enumerate() {
                        let points = sweep_points(s, t);
                        plot_ui.line(
                            Line::new(task.label(), PlotPoints::from(points))
                                .width(1.0)
                                .color(task_color(t).gamma_multiply(task_alpha))
                                .style(task_line_style(t)),
                        );
                    }
                    let (mean, worst) = mean_and_worst(&s.summary());
                    plot_ui.line(Line::new(format!("{CURRENT_RUN} mean"), PlotPoints::from(mean)).width(3.0).color(strong));
                    plot_ui.line(
                        Line::new(format!("{CURRENT_RUN} worst"), PlotPoints::from(worst))
                            .width(2.0)
                            .color(strong)
                            .style(LineStyle::dashed_loose()),
                    );
                }
                if let Some(groups) = groups {
                    for (g, group) in groups.iter().enumerate() {
                        seed_group_ui(plot_ui, group, compare_color(g));
                    }
                    return;
                }
                // one legend entry per compared run: its mean and worst lines share the name
                for (i, run) in compared.iter().enumerate() {
                    let (mean, worst) = mean_and_worst(&run.summary());
                    let color = compare_color(i);
                    plot_ui.line(Line::new(run.label.clone(), PlotPoints::from(mean)).width(2.5).color(color));
                    plot_ui.line(
                        Line::new(run.label.clone(), PlotPoints::from(worst)).width(1.5).color(color).style(LineStyle::dashed_loose()),
                    );
                }
            })
    });
    *rect = shown.response.rect;
}

/// The current run's sweep as rows of `ambiguity.csv` (run [`CURRENT_RUN`]); levels not measured
/// for a task have no row.
pub fn current_rows(sweep: &SweepResult, config: Option<&Config>) -> Vec<AmbiguityRow> {
    let pathways = config.map_or(String::new(), |c| Pathway::set_label(&c.model.pathways));
    let seed = config.map_or(0, |c| c.train.seed);
    let mut rows = Vec::new();
    for (level, perf) in sweep.levels.iter().zip(&sweep.perf) {
        for (task, p) in sweep.tasks.iter().zip(perf) {
            if let Some(p) = p {
                rows.push(AmbiguityRow {
                    run: CURRENT_RUN.into(),
                    pathways: pathways.clone(),
                    seed,
                    kind: sweep.kind,
                    level: *level,
                    task: *task,
                    perf: *p,
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::Task;

    fn tiny() -> Config {
        Config::from_preset("quick", &["model.n_units=8".into(), r#"train.tasks=["fdgo","fdanti"]"#.into()]).expect("config")
    }

    fn row(run: &str, level: f32, task: Task, perf: f32) -> AmbiguityRow {
        AmbiguityRow { run: run.into(), pathways: "bias".into(), seed: 0, kind: AmbiguityKind::Mixture, level, task, perf }
    }

    #[test]
    fn sweep_export_is_an_ambiguity_table_of_the_current_and_compared_runs() {
        let sweep = SweepResult {
            kind: AmbiguityKind::Mixture,
            step: 12,
            lesioned: Vec::new(),
            levels: vec![0.0, 0.5],
            tasks: vec![Task::FdGo, Task::FdAnti],
            // the second level is measured for the first task only: no mean or worst there yet
            perf: vec![vec![Some(1.0), Some(0.5)], vec![Some(0.25), None]],
            trials: 32,
            stopped: None,
        };
        let config = tiny();
        let trainer = crate::train::Trainer::new(config.clone());
        let run = sweep::TrainedRun { name: "runs/gain-s1".into(), config: config.clone(), params: trainer.params.clone(), step: 40 };
        let mut compared = ComparedRun::new("runs/gain-s1".into(), "gain-s1 (bias)".into(), std::sync::Arc::new(run));
        compared.swept = Some((AmbiguityKind::Mixture, vec![0.0, 0.5]));
        compared.rows = vec![row("runs/gain-s1", 0.0, Task::FdGo, 0.75), row("runs/gain-s1", 0.0, Task::FdAnti, 0.25)];
        assert_eq!(compared.progress(), (1, 2));
        let export = sweep_export(Some(&sweep), Some(&config), std::slice::from_ref(&compared), None);
        assert_eq!(
            export.to_csv(),
            "run,pathways,seed,kind,level,task,perf\n\
             current run,bias,0,mixture,0,fdgo,1.000000\n\
             current run,bias,0,mixture,0,fdanti,0.500000\n\
             current run,bias,0,mixture,0.5,fdgo,0.250000\n\
             runs/gain-s1,bias,0,mixture,0,fdgo,0.750000\n\
             runs/gain-s1,bias,0,mixture,0,fdanti,0.250000\n"
        );
        assert!(export.title.contains("mixture") && export.title.contains("step 12"), "{}", export.title);
        // the SVG draws the plot's lines: 2 tasks, the current run's mean and worst, the compared run's
        let PlotData::Table { lines: Some(lines), .. } = &export.data else { panic!("a table with lines") };
        let names: Vec<&str> = lines.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Go", "Anti", "current run mean", "current run worst", "gain-s1 (bias) mean", "gain-s1 (bias) worst"]);
        assert_eq!(lines[4].points, vec![[0.0, 0.5]]);
        assert_eq!(lines[5].points, vec![[0.0, 0.25]]);
        assert_eq!(export.to_svg().expect("svg").matches("<polyline").count(), 6);
        // before any sweep: the header and nothing else
        assert_eq!(sweep_export(None, None, &[], None).to_csv(), "run,pathways,seed,kind,level,task,perf\n");
    }

    #[test]
    fn seed_groups_summarise_the_runs_of_one_set() {
        let config = tiny();
        let params = crate::train::Trainer::new(config.clone()).params;
        let run = |name: &str, pathways: &[Pathway], perfs: [(f32, f32); 2]| {
            let mut config = config.clone();
            config.model.pathways = pathways.to_vec();
            let trained = sweep::TrainedRun { name: name.into(), config, params: params.clone(), step: 40 };
            let mut compared = ComparedRun::new(name.into(), name.into(), std::sync::Arc::new(trained));
            // at level 0 and 0.5, two tasks each with these performances
            compared.rows = [0.0, 0.5]
                .iter()
                .zip(perfs)
                .flat_map(|(level, (a, b))| [row(name, *level, Task::FdGo, a), row(name, *level, Task::FdAnti, b)])
                .collect();
            compared
        };
        let runs = [
            run("b0", &[Pathway::Bias], [(1.0, 0.8), (0.6, 0.4)]),
            run("s0", &[Pathway::Synaptic], [(1.0, 1.0), (0.5, 0.5)]),
            run("b1", &[Pathway::Bias], [(0.8, 0.8), (0.4, 0.4)]),
        ];
        let groups = seed_groups(&runs);
        assert_eq!(groups.len(), 2);
        assert_eq!((groups[0].label(), groups[0].runs.clone()), ("bias (2 runs)".to_string(), vec![0, 2]));
        assert_eq!(groups[1].label(), "synaptic (1 run)");
        // bias at level 0: run means 0.9 and 0.8 → mean 0.85, t(1) interval ± 12.706·0.05
        let (level, s) = &groups[0].points[0];
        assert_eq!((*level, s.n), (0.0, 2));
        assert!((s.mean - 0.85).abs() < 1e-6 && (s.high - 0.85 - 12.706 * 0.05).abs() < 1e-3, "{s:?}");
        assert!((groups[0].points[1].1.mean - 0.45).abs() < 1e-6);
        assert!(groups[1].points[0].1.low.is_nan(), "one run: no band");
        // the exported figure draws what the plot shows: each group's mean and band
        let export = sweep_export(None, None, &runs, Some(&groups));
        let PlotData::Table { lines: Some(lines), .. } = &export.data else { panic!("a table with lines") };
        let names: Vec<&str> = lines.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["bias (2 runs) mean", "bias (2 runs) 95 % low", "bias (2 runs) 95 % high", "synaptic (1 run) mean"]);
    }
}
