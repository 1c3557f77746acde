//! The Training panel: run controls, the loss curve, per-task performance curves and a bar chart
//! of the latest evaluation.

use eframe::egui;
use egui_plot::{Corner, GridInput, GridMark, HoverPosition, Legend, Plot};

use super::export::{Curve, PlotData, PlotExport, export_menu_ui};
use super::plot::{self, Shown};
use super::widgets::{task_bars_plot, task_legend};
use super::{Panel, PanelContext, RunData, heading_ui};
use crate::figure::palette::role;
use crate::figure::ticks::{log_ticks, tick_label};
use crate::runner::{Command, RunState};
use crate::tasks::Task;

/// The loss plot's smoothed curve averages this many points (more on a run long enough that
/// its curve is thinned).
const SMOOTHING_STEPS: usize = 25;

/// Where each plot was drawn last frame (an exported PNG is cropped to it). The evaluation the
/// bars show is the app's ([`PanelContext::look_back`]), shared with the Trajectories and PCA tabs.
pub struct TrainingPanel {
    loss_rect: egui::Rect,
    performance_rect: egui::Rect,
    bars_rect: egui::Rect,
}

impl Default for TrainingPanel {
    fn default() -> Self {
        Self { loss_rect: egui::Rect::NOTHING, performance_rect: egui::Rect::NOTHING, bars_rect: egui::Rect::NOTHING }
    }
}

impl Panel for TrainingPanel {
    fn title(&self) -> &'static str {
        "Training"
    }

    fn help(&self) -> &'static str {
        "Each optimiser step shows the network one batch of trials of one task and nudges its \
         weights to reduce the error (the loss, top left; log scale, so steady progress looks \
         like a straight descent). Every few steps the network is tested on fresh trials of every \
         task: top right is the fraction of correct trials per task over time (click a legend \
         entry to hide a task), and the bars below are the latest test. A trial is correct when, \
         at its end, the network fixates if it should, or points within 0.2π of the target. \
         Lesioned bars show the same network tested with the lesioned pathways removed."
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        controls_ui(ui, cx);
        stats_ui(ui, cx.run);
        ui.separator();
        // two rows of plots, each with a caption line (with its Export menu) and the x-axis labels below it
        let caption = ui.text_style_height(&egui::TextStyle::Body).max(ui.spacing().interact_size.y) + 2.0 * ui.spacing().item_spacing.y;
        let plot_height = ((ui.available_height() - 2.0 * caption - 16.0) / 2.0).max(100.0);
        let Self { loss_rect, performance_rect, bars_rect } = self;
        ui.columns(2, |columns| {
            loss_plot_ui(&mut columns[0], cx, plot_height, loss_rect);
            performance_plot_ui(&mut columns[1], cx, plot_height, performance_rect);
        });
        bar_chart_ui(ui, cx, plot_height, bars_rect);
    }
}

fn controls_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
    let state = cx.run.state;
    ui.horizontal(|ui| {
        let can_train = matches!(state, RunState::Ready | RunState::Paused);
        if ui.add_enabled(can_train, egui::Button::new("Train")).on_hover_text("Start training, or go on after a pause").clicked() {
            cx.commands.push(Command::Start);
        }
        if ui
            .add_enabled(state == RunState::Running, egui::Button::new("Pause"))
            .on_hover_text("Stop after the current step; the network is kept and Train goes on from there")
            .clicked()
        {
            cx.commands.push(Command::Pause);
        }
        let can_step = matches!(state, RunState::Ready | RunState::Paused | RunState::Running);
        if ui
            .add_enabled(can_step, egui::Button::new("Step"))
            .on_hover_text("Pause and do exactly one optimiser step (one batch of one task)")
            .clicked()
        {
            cx.commands.push(Command::StepOnce);
        }
        if ui
            .button("Reset")
            .on_hover_text(
                "Throw the network away and start a fresh, untrained one with the Setup panel's settings: with the same \
                 seed it starts from the same initial weights, so a change of settings is compared from the same start \
                 (change the seed in Setup for other weights)",
            )
            .clicked()
        {
            cx.commands.push(Command::Reset(Box::new(cx.draft.clone())));
        }
        ui.separator();
        ui.checkbox(&mut cx.settings.loss_log_scale, "Log scale")
            .on_hover_text("Plot the loss on a logarithmic axis, so late progress (0.01 to 0.005) stays visible");
        ui.checkbox(&mut cx.settings.show_setup, "Setup panel").on_hover_text("Show or hide the Setup panel");
    });
}

fn stats_ui(ui: &mut egui::Ui, run: &RunData) {
    ui.horizontal(|ui| {
        ui.label(format!("step {} / {}", run.step, run.total_steps())).on_hover_text("Optimiser steps done / steps in the run");
        ui.separator();
        ui.label(format!("{:.1} steps/s", run.steps_per_sec)).on_hover_text("Training speed over the last steps");
        ui.separator();
        ui.label(format!("{} trials", run.trials)).on_hover_text("Training trials the network has seen");
        ui.separator();
        ui.label(format_duration(run.train_secs)).on_hover_text("Time spent training (pauses excluded)");
        if let Some(e) = run.latest_evaluation() {
            ui.separator();
            ui.label(format!("mean {:.0}%  worst {:.0}%", 100.0 * e.perf_mean(), 100.0 * e.perf_min()))
                .on_hover_text("Mean and worst task performance in the latest evaluation");
        }
    });
}

/// `83.2` → `1 min 23 s`.
pub fn format_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

/// The loss axis's grid on a log scale (plotted values are log10 of the loss): the figure
/// engine's round 1-2-5 ticks, powers of ten drawn stronger, rather than egui_plot's default
/// steps of 0.1 in log10 that label 2.512, 1.995, 1.585 …
fn log_grid(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    log_ticks(lo, hi)
        .into_iter()
        .map(|value| {
            let decade = (value - value.round()).abs() < 1e-9;
            GridMark { value, step_size: if decade { 1.0 } else { 0.5 } }
        })
        .collect()
}

/// The mean of each point and the `window - 1` before it (y only), for a readable loss curve.
fn moving_average(points: &[[f64; 2]], window: usize) -> Vec<[f64; 2]> {
    let mut sum = 0.0;
    let mut out = Vec::with_capacity(points.len());
    for (i, [x, y]) in points.iter().enumerate() {
        sum += y;
        if i >= window {
            sum -= points[i - window][1];
        }
        out.push([*x, sum / (i + 1).min(window) as f64]);
    }
    out
}

/// The loss plot: every step (thin, grey), and its running mean.
fn loss_plot(run: &RunData, log_y: bool) -> PlotExport {
    let every: Vec<[f64; 2]> = run.loss.points().iter().copied().filter(|[_, y]| y.is_finite()).collect();
    // the window grows with the points each drawn point stands for, so the mean looks as smooth
    // on a long run as on a short one
    let window = SMOOTHING_STEPS * every.len().div_ceil(plot::MAX_CURVE_POINTS).max(1);
    let smoothed = moving_average(&every, window);
    let (every_name, mean_name) = match run.loss.steps_per_point() {
        1 => ("every step".to_string(), format!("mean of {window} steps")),
        k => (format!("every step (older steps as means of up to {k}, a long run)"), format!("running mean of {window} points")),
    };
    PlotExport {
        log_y,
        ..PlotExport::new(
            "loss",
            "Training loss",
            "step",
            "loss",
            PlotData::Lines(vec![Curve::new(every_name, every).color(role::OTHER).thin(), Curve::new(mean_name, smoothed)]),
        )
    }
}

/// The performance plot: one line per trained task, every evaluation.
fn performance_plot(run: &RunData) -> PlotExport {
    let tasks: Vec<Task> = run.config.as_ref().map(|c| c.train.tasks.clone()).unwrap_or_default();
    let series = tasks.iter().enumerate().map(|(i, task)| Curve::new(task.label(), performance_points(run, i, *task))).collect();
    PlotExport::new("performance", "Performance per task", "step", "fraction correct", PlotData::Lines(series))
}

/// The slider over every evaluation so far: back in time, or (at its right end) the latest.
fn look_back_ui(ui: &mut egui::Ui, run: &RunData, look_back: &mut Option<u64>) {
    let count = run.evaluations.len();
    if count < 2 {
        return;
    }
    ui.separator();
    let mut index = look_back.and_then(|step| run.evaluations.iter().position(|e| e.step == step)).unwrap_or(count - 1);
    let slider = egui::Slider::new(&mut index, 0..=count - 1).show_value(false).text(if look_back.is_some() {
        "look back"
    } else {
        "look back (latest)"
    });
    if ui
        .add(slider)
        .on_hover_text(
            "Slide left to see an earlier evaluation: its bars here (a grey line marks it on the performance curves), \
             and the network of that step in the Trajectories and PCA tabs. All the way right follows the latest again",
        )
        .changed()
    {
        *look_back = (index + 1 < count).then(|| run.evaluations[index].step);
    }
}

/// The bar chart: the evaluation at `step` (the latest when `None`), intact and (when set)
/// lesioned.
fn bars_plot(run: &RunData, step: Option<u64>) -> PlotExport {
    let latest = match step {
        Some(step) => run.evaluations.iter().find(|e| e.step == step),
        None => run.latest_evaluation(),
    };
    let categories = latest.map(|e| e.perf.iter().map(|(t, _)| t.label().to_string()).collect()).unwrap_or_default();
    let mut series = Vec::new();
    if let Some(e) = latest {
        series.push(("intact".to_string(), e.perf.iter().map(|(_, p)| *p as f64).collect()));
        if let Some((pathways, perf)) = &e.lesioned {
            let name = format!("{} lesioned", crate::model::Pathway::set_label(pathways));
            series.push((name, perf.iter().map(|(_, p)| *p as f64).collect()));
        }
    }
    let title = match (step, latest) {
        (Some(_), Some(e)) => format!("Evaluation at step {}", e.step),
        (None, Some(e)) => format!("Latest evaluation (step {})", e.step),
        _ => "Latest evaluation".to_string(),
    };
    PlotExport::task_bars("latest-evaluation", title, categories, series)
}

/// (step, performance) of trained task number `i` over every evaluation.
fn performance_points(run: &RunData, i: usize, task: Task) -> Vec<[f64; 2]> {
    run.evaluations.iter().filter_map(|e| e.perf.get(i).filter(|(t, _)| *t == task).map(|(_, p)| [e.step as f64, *p as f64])).collect()
}

fn loss_plot_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, height: f32, rect: &mut egui::Rect) {
    let def = loss_plot(cx.run, cx.settings.loss_log_scale);
    let shown = Shown {
        label: "Loss",
        hover: "Training loss (masked mean squared error): grey for every step (each step is one task, so it jumps), \
                coloured for the running mean",
        rect,
    };
    let mut plot =
        Plot::new("loss").height(height).x_axis_label("step").allow_scroll(false).legend(Legend::default().position(Corner::RightTop));
    if def.log_y {
        plot = plot.y_grid_spacer(log_grid).y_axis_formatter(|mark, _| tick_label(10f64.powf(mark.value))).label_formatter(|hover| {
            let point = match hover {
                HoverPosition::NearDataPoint { position, .. } | HoverPosition::Elsewhere { position } => position,
            };
            Some(format!("step {:.0}\nloss {:.3e}", point.x, 10f64.powf(point.y)))
        });
    }
    plot::show(ui, cx, shown, &def, plot, false, |_| {});
}

fn performance_plot_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, height: f32, rect: &mut egui::Rect) {
    let look_back = *cx.look_back;
    let def = performance_plot(cx.run);
    let tasks = match &def.data {
        PlotData::Lines(curves) => curves.len(),
        _ => 0,
    };
    let shown = Shown {
        label: "Performance per task",
        hover: "Fraction of correct test trials of each task; click a legend entry to hide it",
        rect,
    };
    let plot = Plot::new("performance")
        .height(height)
        .x_axis_label("step")
        .include_y(0.0)
        .include_y(1.0)
        .allow_scroll(false)
        .legend(task_legend(Corner::RightBottom, tasks));
    // a legend in a bottom corner stacks its entries bottom-up: the lines go in last task
    // first, so it reads in task order from the top
    plot::show(ui, cx, shown, &def, plot, true, |plot_ui| {
        if let Some(step) = look_back {
            plot_ui.vline(egui_plot::VLine::new("looking back", step as f64).color(egui::Color32::GRAY).width(1.0));
        }
    });
}

fn bar_chart_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, height: f32, rect: &mut egui::Rect) {
    let run = cx.run;
    let shown_step = *cx.look_back;
    let def = bars_plot(run, shown_step);
    let title = match shown_step {
        Some(_) => format!("{} (looking back)", def.title),
        None => def.title.clone(),
    };
    ui.horizontal(|ui| {
        ui.label(title).on_hover_text("Fraction of correct test trials of each task at the evaluation shown");
        export_menu_ui(ui, cx.files, *rect, || def.clone());
        look_back_ui(ui, run, cx.look_back);
    });
    let labels = match &def.data {
        PlotData::Bars { categories, .. } => categories.clone(),
        _ => Vec::new(),
    };
    let plot = task_bars_plot("latest", height, labels, ui.available_width());
    plot::body(ui, &def, plot, false, rect, |_| {});
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_labels_and_smoothing() {
        // round ticks on the log axis: an untrained run's loss from 1.1 to 3 is labelled 1.5, 2,
        // 2.5, 3, not 1.259, 1.585, 1.995, 2.512
        let marks = log_grid(GridInput { bounds: (1.1f64.log10(), 3f64.log10()), base_step_size: 0.01 });
        let labels: Vec<String> = marks.iter().map(|m| tick_label(10f64.powf(m.value))).collect();
        assert_eq!(labels, ["1.5", "2", "2.5", "3"]);
        let marks = log_grid(GridInput { bounds: (-2.5, 0.5), base_step_size: 0.01 });
        let labels: Vec<String> = marks.iter().map(|m| tick_label(10f64.powf(m.value))).collect();
        assert_eq!(labels, ["0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"]);
        assert!(marks.iter().filter(|m| m.step_size == 1.0).count() == 3, "decades drawn stronger");
        // window 2: (1)/1, (1+3)/2, (3+5)/2
        let avg = moving_average(&[[1.0, 1.0], [2.0, 3.0], [3.0, 5.0]], 2);
        assert_eq!(avg, vec![[1.0, 1.0], [2.0, 2.0], [3.0, 4.0]]);
        assert_eq!(format_duration(83.2), "1 min 23 s");
    }
}
