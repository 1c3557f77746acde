//! The Context ambiguity panel (MODEL.md §4A): score the current network while its task cue is
//! blurred, live, and sweep the blur to draw performance against ambiguity.

use eframe::egui;
use egui_plot::{Bar, BarChart, Corner, GridMark, Legend, Line, LineStyle, Plot, PlotPoints};

use super::export::{PlotData, PlotExport, Series, export_menu_ui};
use super::{Panel, PanelContext, heading_ui, task_color};
use crate::analysis::{Ambiguity, AmbiguityKind};
use crate::train::worker::{AmbiguityEval, Command, SweepResult};

/// Levels in a sweep (evenly spaced over the kind's slider range).
const SWEEP_LEVELS: usize = 11;
/// Room for one task label under the bars, in points.
const LABEL_WIDTH: f32 = 90.0;
/// The bars of the unambiguous (clear-cue) performance.
const CLEAR_GREY: egui::Color32 = egui::Color32::from_gray(120);

/// Where each plot was drawn last frame (an exported PNG is cropped to it).
pub struct AmbiguityPanel {
    bars_rect: egui::Rect,
    sweep_rect: egui::Rect,
}

impl Default for AmbiguityPanel {
    fn default() -> Self {
        Self { bars_rect: egui::Rect::NOTHING, sweep_rect: egui::Rect::NOTHING }
    }
}

/// The slider range of each kind.
pub fn level_range(kind: AmbiguityKind) -> std::ops::RangeInclusive<f32> {
    match kind {
        AmbiguityKind::Mixture | AmbiguityKind::Uniform => 0.0..=1.0,
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
             λ = 0: the right cue; 0.5: halfway between two tasks; 1: the other task's cue."
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
         unclear instruction."
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        controls_ui(ui, cx);
        let latest = cx.run.snapshot.as_ref().and_then(|s| s.ambiguity.as_ref());
        status_ui(ui, latest, *cx.ambiguity);
        ui.separator();
        // each plot under a caption line with its Export menu
        let caption = ui.text_style_height(&egui::TextStyle::Body).max(ui.spacing().interact_size.y) + 2.0 * ui.spacing().item_spacing.y;
        let sweep_row = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
        let plot_height = ((ui.available_height() - 2.0 * caption - sweep_row - 24.0) / 2.0).max(100.0);
        bars_ui(ui, cx, latest, plot_height, &mut self.bars_rect);
        ui.separator();
        let sweep = cx.run.snapshot.as_ref().and_then(|s| s.sweep.as_deref());
        sweep_controls_ui(ui, cx, sweep);
        sweep_plot_ui(ui, cx, sweep, plot_height, &mut self.sweep_rect);
    }
}

fn controls_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
    let before = *cx.ambiguity;
    ui.horizontal(|ui| {
        ui.label("Kind").on_hover_text("How the task cue is made ambiguous (hover each choice)");
        for kind in AmbiguityKind::ALL {
            if ui
                .selectable_label(cx.ambiguity.kind == kind, kind.name())
                .on_hover_text(kind_tooltip(kind))
                .clicked()
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
        ui.add(egui::Slider::new(level, level_range(*kind)).text(format!("level {symbol}")).step_by(0.01))
            .on_hover_text(format!(
                "How ambiguous the cue is; the network is re-tested at once as you move it.\n\n{}",
                kind_tooltip(*kind)
            ));
        if ui
            .button("Clear cue")
            .on_hover_text("Back to the unambiguous cue (the level at which c = e_i)")
            .clicked()
        {
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
            let lesions = if e.lesioned.is_empty() {
                String::new()
            } else {
                format!(", {} lesioned", crate::model::Pathway::set_label(&e.lesioned))
            };
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
    let series = latest
        .map(|e| vec![("clear cue".to_string(), values(&e.clean)), (ambiguous_name(e), values(&e.ambiguous))])
        .unwrap_or_default();
    let about = latest.map_or(String::new(), |e| format!(" ({}, step {})", ambiguous_name(e), e.step));
    PlotExport {
        name: "ambiguity-bars".into(),
        title: format!("Performance per task: clear and ambiguous cue{about}"),
        x_label: "task".into(),
        y_label: "fraction correct".into(),
        log_y: false,
        data: PlotData::Bars { categories, series },
    }
}

fn bars_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, latest: Option<&AmbiguityEval>, height: f32, rect: &mut egui::Rect) {
    ui.horizontal(|ui| {
        ui.label("Performance per task: clear cue and ambiguous cue").on_hover_text(
            "Fraction of correct test trials of each task, with the right cue (grey) and the ambiguous one (coloured)",
        );
        export_menu_ui(ui, cx.files, *rect, || bars_export(latest));
    });
    let labels: Vec<&'static str> = latest.map(|e| e.clean.iter().map(|(t, _)| t.label()).collect()).unwrap_or_default();
    let n = labels.len();
    // one tick per task; with many tasks, label every few so the names do not overlap
    // (hovering a bar names its task)
    let every = (LABEL_WIDTH / (ui.available_width() / n.max(1) as f32)).ceil().max(1.0) as usize;
    // the scope's rect holds the plot with its axes and tick labels (the PNG export's crop)
    let shown = ui.scope(|ui| Plot::new("ambiguity-bars")
        .height(height)
        .x_grid_spacer(move |_| (0..n).map(|i| label_mark(i, every)).collect())
        .include_y(0.0)
        .include_y(1.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .legend(Legend::default().position(Corner::RightTop))
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 && (i as usize) % every == 0 {
                labels.get(i as usize).map_or(String::new(), |l| l.to_string())
            } else {
                String::new()
            }
        })
        .show(ui, |plot_ui| {
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
        }));
    *rect = shown.response.rect;
}

/// The grid mark of bar `i` when every `every`-th bar is labelled. egui_plot paints a tick label
/// only if marks of its step size are at least ~60 points apart, so labelled marks claim a step
/// of `every` bars and the others a step of one (they get a grid line but no label).
pub fn label_mark(i: usize, every: usize) -> GridMark {
    GridMark { value: i as f64, step_size: if i % every == 0 { every as f64 } else { 1.0 } }
}

/// The levels a sweep of `kind` visits: evenly spaced over the slider's range.
pub fn sweep_levels(kind: AmbiguityKind) -> Vec<f32> {
    let range = level_range(kind);
    let (lo, hi) = (*range.start(), *range.end());
    (0..SWEEP_LEVELS).map(|i| lo + (hi - lo) * i as f32 / (SWEEP_LEVELS - 1) as f32).collect()
}

fn sweep_controls_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, sweep: Option<&SweepResult>) {
    ui.horizontal(|ui| {
        let kind = cx.ambiguity.kind;
        let running = sweep.is_some_and(|s| !s.is_complete() && !s.cancelled);
        if ui
            .button("Sweep")
            .on_hover_text(format!(
                "Test a frozen copy of the current network at {SWEEP_LEVELS} levels of {} ambiguity ({}) and draw \
                 performance against the level. Training goes on meanwhile, one step between test batches.",
                kind.name(),
                sweep_levels(kind).iter().map(|l| format!("{l:.1}")).collect::<Vec<_>>().join(", ")
            ))
            .clicked()
        {
            cx.commands.push(Command::Sweep { kind, levels: sweep_levels(kind) });
        }
        if ui
            .add_enabled(running, egui::Button::new("Cancel sweep"))
            .on_hover_text("Stop the sweep; the levels measured so far stay on the plot")
            .clicked()
        {
            cx.commands.push(Command::CancelSweep);
        }
        if let Some(s) = sweep {
            let (done, total) = s.progress();
            let text = if s.cancelled {
                format!("cancelled after {done} of {total}")
            } else if done == total {
                format!("done: {} at step {}", s.kind.name(), s.step)
            } else {
                format!("{done} / {total}")
            };
            ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(text).desired_width(260.0))
                .on_hover_text("Sweep progress: one unit is one level of one task");
        }
    });
}

/// (level, performance) of task number `t` at every level measured so far.
fn sweep_points(s: &SweepResult, t: usize) -> Vec<[f64; 2]> {
    s.levels.iter().zip(&s.perf).filter_map(|(level, row)| row[t].map(|p| [*level as f64, p as f64])).collect()
}

/// The sweep plot's data: every task's curve, then the mean and the worst task.
fn sweep_export(sweep: Option<&SweepResult>) -> PlotExport {
    let mut series = Vec::new();
    let mut title = "Performance against ambiguity".to_string();
    if let Some(s) = sweep {
        title = format!("Performance against {} ambiguity (network at step {})", s.kind.name(), s.step);
        series.extend(s.tasks.iter().enumerate().map(|(t, task)| Series { name: task.label().into(), points: sweep_points(s, t) }));
        let summary = s.summary();
        series.push(Series { name: "mean".into(), points: summary.iter().map(|(l, m, _)| [*l as f64, *m as f64]).collect() });
        series.push(Series { name: "worst".into(), points: summary.iter().map(|(l, _, m)| [*l as f64, *m as f64]).collect() });
    }
    PlotExport {
        name: "ambiguity-sweep".into(),
        title,
        x_label: "level".into(),
        y_label: "fraction correct".into(),
        log_y: false,
        data: PlotData::Lines(series),
    }
}

fn sweep_plot_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, sweep: Option<&SweepResult>, height: f32, rect: &mut egui::Rect) {
    let title = match sweep {
        Some(s) => {
            let lesions = if s.lesioned.is_empty() {
                String::new()
            } else {
                format!(", {} lesioned", crate::model::Pathway::set_label(&s.lesioned))
            };
            format!("Performance against {} ambiguity (network at step {}, {} trials per point{lesions})", s.kind.name(), s.step, s.trials)
        }
        None => "Performance against ambiguity (press Sweep)".to_string(),
    };
    ui.horizontal(|ui| {
        ui.label(title).on_hover_text(
            "Thick: mean over tasks; dashed: the worst task; thin: each task. Click a legend entry to hide it.",
        );
        export_menu_ui(ui, cx.files, *rect, || sweep_export(sweep));
    });
    let strong = ui.visuals().strong_text_color();
    let range = level_range(sweep.map_or(AmbiguityKind::Mixture, |s| s.kind));
    let shown = ui.scope(|ui| Plot::new("ambiguity-sweep")
        .height(height)
        .include_x(*range.start())
        .include_x(*range.end())
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label("level")
        .allow_scroll(false)
        .legend(Legend::default().position(Corner::RightTop))
        .show(ui, |plot_ui| {
            let Some(s) = sweep else { return };
            for (t, task) in s.tasks.iter().enumerate() {
                let points = sweep_points(s, t);
                plot_ui.line(Line::new(task.label(), PlotPoints::from(points)).width(1.0).color(task_color(t)));
            }
            let summary = s.summary();
            let mean: Vec<[f64; 2]> = summary.iter().map(|(l, m, _)| [*l as f64, *m as f64]).collect();
            let min: Vec<[f64; 2]> = summary.iter().map(|(l, _, m)| [*l as f64, *m as f64]).collect();
            plot_ui.line(Line::new("mean", PlotPoints::from(mean)).width(3.0).color(strong));
            plot_ui.line(Line::new("worst", PlotPoints::from(min)).width(2.0).color(strong).style(LineStyle::dashed_loose()));
        }));
    *rect = shown.response.rect;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::Task;

    #[test]
    fn sweep_export_has_each_measured_point_then_mean_and_worst() {
        let sweep = SweepResult {
            kind: AmbiguityKind::Mixture,
            step: 12,
            lesioned: Vec::new(),
            levels: vec![0.0, 0.5],
            tasks: vec![Task::FdGo, Task::FdAnti],
            // the second level is measured for the first task only: no mean or worst there yet
            perf: vec![vec![Some(1.0), Some(0.5)], vec![Some(0.25), None]],
            trials: 32,
            cancelled: false,
        };
        let export = sweep_export(Some(&sweep));
        assert_eq!(export.to_csv(), "series,level,fraction correct\nGo,0,1\nGo,0.5,0.25\nAnti,0,0.5\nmean,0,0.75\nworst,0,0.5\n");
        assert!(export.title.contains("mixture") && export.title.contains("step 12"), "{}", export.title);
        // before any sweep: a header and nothing else
        assert_eq!(sweep_export(None).to_csv(), "series,level,fraction correct\n");
    }
}
