//! The Trajectories panel: one probe trial in detail — inputs, target and output over time with
//! the trial's epochs shaded, and the hidden units' activity.
//!
//! The worker runs a fixed set of probe trials through the network at every evaluation (and
//! after every lesion or ambiguity change) and puts them in the snapshot; this panel only draws.
//! Heat maps are textures rebuilt only when the data or the selection change.

use std::sync::Arc;

use eframe::egui;
use egui_plot::{HLine, Line, LineStyle, Plot, PlotImage, PlotPoint, PlotPoints, Span, Text, VLine};

use super::export::{PlotData, PlotExport, export_menu_with_ui};
use super::widgets::{self, colormap, task_color};
use super::{Panel, PanelContext, ProbeShown, heading_ui};
use crate::figure::palette::role;
use crate::runner::LiveViews;
use crate::tasks::Epoch;
use crate::train::probe::{TaskTrajectories, Trajectories, UnitKinds};

/// Hidden units drawn as lines when the heat map is off: the most variable ones.
const UNIT_LINES: usize = 8;

#[derive(Default)]
pub struct TrajectoriesPanel {
    /// Index of the task shown among the trained tasks.
    task: usize,
    /// Index of the probe trial shown.
    trial: usize,
    /// Order the hidden units by their time constant (networks with per-unit τ).
    by_tau: bool,
    /// Heat-map textures and what they were built from.
    textures: Vec<(HeatKey, egui::TextureHandle)>,
    /// Where each plot was drawn last frame (an exported PNG is cropped to it).
    rects: PlotRects,
}

/// The screen rects of the panel's three plots.
struct PlotRects {
    inputs: egui::Rect,
    outputs: egui::Rect,
    units: egui::Rect,
}

impl Default for PlotRects {
    fn default() -> Self {
        Self { inputs: egui::Rect::NOTHING, outputs: egui::Rect::NOTHING, units: egui::Rect::NOTHING }
    }
}

/// What a heat-map texture shows: which data (by address), task, trial and which map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HeatKey {
    data: usize,
    task: usize,
    trial: usize,
    map: HeatMap,
    by_tau: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeatMap {
    Inputs,
    TargetRing,
    OutputRing,
    Units,
}

impl Panel for TrajectoriesPanel {
    fn title(&self) -> &'static str {
        "Trial trajectories"
    }

    fn help(&self) -> &'static str {
        "One trial, step by step (time runs left to right; the shaded bands are the trial's \
         periods: fixation, stimulus, delay, response). Top: what the network sees — the fixation \
         cue (bottom row) and the two rings of stimulus units, bright where a stimulus is. \
         Then what it should do and what it does: the fixation output must stay high until the \
         go cue and drop in the response period, when the response ring must light up around the \
         right direction. Bottom: the hidden units, the network's internal activity that carries \
         the stimulus through the delay. The same test trials are re-run after every \
         evaluation, so you can watch this very trial being learnt; lesions and the ambiguity \
         setting apply here too."
    }

    fn live_views(&self) -> LiveViews {
        LiveViews { ambiguity: false, probe: true }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        let shown = cx.probe_shown();
        shown.caption_ui(ui);
        let Some(data) = shown.trajectories() else {
            if matches!(shown, ProbeShown::Latest { .. }) {
                ui.weak("Waiting for the first evaluation…");
            }
            return;
        };
        if data.tasks.is_empty() {
            return;
        }
        self.task = self.task.min(data.tasks.len() - 1);
        self.controls_ui(ui, cx, &data);
        let trajectory = &data.tasks[self.task];
        self.trial = self.trial.min(trajectory.trials.saturating_sub(1));
        ui.separator();
        self.plots_ui(ui, cx, &data);
    }
}

impl TrajectoriesPanel {
    fn controls_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, data: &Trajectories) {
        ui.horizontal(|ui| {
            ui.label("Task").on_hover_text("Which task's trials to show");
            egui::ComboBox::from_id_salt("trajectory-task")
                .selected_text(data.tasks[self.task].task.label())
                .show_ui(ui, |ui| {
                    for (i, t) in data.tasks.iter().enumerate() {
                        ui.selectable_value(&mut self.task, i, t.task.label()).on_hover_text(t.task.description());
                    }
                })
                .response
                .on_hover_text("Which task's trials to show");
            let trials = data.tasks[self.task].trials;
            let mut shown = self.trial + 1;
            ui.label("Trial").on_hover_text("Which of the test trials to show");
            ui.add(egui::DragValue::new(&mut shown).range(1..=trials.max(1)).suffix(format!(" of {trials}")))
                .on_hover_text("Which of the task's fixed test trials to show (stimulus places and strengths differ)");
            self.trial = shown.saturating_sub(1);
            let t = &data.tasks[self.task];
            let correct = t.correct.get(self.trial).copied().unwrap_or(0.0) > 0.5;
            let (text, color) = if correct { ("correct", widgets::color(role::GOOD)) } else { ("wrong", ui.visuals().error_fg_color) };
            ui.colored_label(color, text)
                .on_hover_text("Whether the network got this trial right (judged at the last step, as in the evaluation)");
            let right = t.correct.iter().filter(|c| **c > 0.5).count();
            ui.weak(format!("({right} of {trials} right)")).on_hover_text("Correct trials among this task's test trials");
            ui.separator();
            ui.checkbox(&mut cx.settings.units_heat_map, "All units as a heat map")
                .on_hover_text("On: every hidden unit as one row of a heat map. Off: lines for the most variable units of this trial.");
            if data.units.taus.is_some() {
                ui.checkbox(&mut self.by_tau, "Order by τ").on_hover_text(
                    "Rows from the fastest unit (smallest time constant, bottom) to the slowest (top), within each cell type \
                     under Dale's law: do the slow units carry the stimulus through the delay?",
                );
            }
            ui.separator();
            ui.weak(about_network(data)).on_hover_text("The network shown: its training step, and any ambiguity or lesions applied");
        });
    }

    fn plots_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, data: &Arc<Trajectories>) {
        let t = &data.tasks[self.task];
        let trial = self.trial;
        let (address, task, by_tau) = (Arc::as_ptr(data) as usize, self.task, self.by_tau);
        let key = move |map| HeatKey { data: address, task, trial, map, by_tau };
        let kinds = &data.units;
        let order = kinds.order(t.n_units, by_tau);
        let dt = t.dt_ms as f64;
        let duration = t.steps as f64 * dt;
        let ring = t.n_out - 1;
        let ring_heat = ring > 4; // the ring encoding; compact outputs are drawn as lines
        let caption = ui.text_style_height(&egui::TextStyle::Body).max(ui.spacing().interact_size.y) + 2.0 * ui.spacing().item_spacing.y;
        // three plots, each under a one-line caption with its Export menu
        let height = ((ui.available_height() - 3.0 * caption - 12.0) / 3.0).max(70.0);
        let link = egui::Id::unique("trajectory-time");
        let color = task_color(self.task);

        let inputs = self.texture(ui, key(HeatMap::Inputs), || heat_image(t, trial, HeatMap::Inputs, &order));
        let (target_ring, output_ring) = if ring_heat {
            (
                Some(self.texture(ui, key(HeatMap::TargetRing), || heat_image(t, trial, HeatMap::TargetRing, &order))),
                Some(self.texture(ui, key(HeatMap::OutputRing), || heat_image(t, trial, HeatMap::OutputRing, &order))),
            )
        } else {
            (None, None)
        };
        let units =
            cx.settings.units_heat_map.then(|| self.texture(ui, key(HeatMap::Units), || heat_image(t, trial, HeatMap::Units, &order)));

        let about = about_network(data);
        let rects = &mut self.rects;
        ui.horizontal(|ui| {
            ui.label("Inputs: fixation cue (bottom row), ring 1, ring 2")
                .on_hover_text("Brightness is the input's value at each time; a stimulus is a bright bump on a ring");
            export_menu_with_ui(ui, cx.files, rects.inputs, false, || inputs_export(t, trial, &about));
        });
        let n_in = t.n_in as f64;
        // each scope's rect holds its plot with axes and tick labels (the PNG export's crop)
        let shown = ui.scope(|ui| {
            time_plot("traj-inputs", link, height, duration).y_axis_label("input").show(ui, |plot_ui| {
                plot_ui.image(PlotImage::new(
                    "inputs",
                    inputs.id(),
                    PlotPoint::new(duration / 2.0, n_in / 2.0),
                    [duration as f32, n_in as f32],
                ));
                epochs_ui(plot_ui, &t.epochs, dt, false);
            })
        });
        rects.inputs = shown.response.rect;

        ui.horizontal(|ui| {
            ui.label("Fixation output and response").on_hover_text(
                "Left axis 0–1: the fixation output (solid) against its target (dashed). Above it, the response \
                 ring: the target (upper block) and the network's output (lower block)",
            );
            export_menu_with_ui(ui, cx.files, rects.outputs, !ring_heat, || outputs_export(t, trial, ring_heat, &about));
        });
        let shown = ui.scope(|ui| {
            time_plot("traj-outputs", link, height, duration).y_axis_label("output").show(ui, |plot_ui| {
                epochs_ui(plot_ui, &t.epochs, dt, true);
                let series = |of: &dyn Fn(usize) -> f32| -> Vec<[f64; 2]> {
                    (0..t.steps).map(|s| [s as f64 * dt + dt / 2.0, of(s) as f64]).collect()
                };
                plot_ui.line(
                    Line::new("fixation target", PlotPoints::from(series(&|s| t.target(trial, s)[0])))
                        .color(egui::Color32::GRAY)
                        .style(LineStyle::dashed_loose()),
                );
                plot_ui.line(Line::new("fixation output", PlotPoints::from(series(&|s| t.output(trial, s)[0]))).color(color).width(2.0));
                match (&target_ring, &output_ring) {
                    (Some(target), Some(output)) => {
                        // two blocks above the fixation trace: output on y ∈ [1.2, 2.2], target on [2.3, 3.3]
                        plot_ui.image(PlotImage::new(
                            "response output",
                            output.id(),
                            PlotPoint::new(duration / 2.0, 1.7),
                            [duration as f32, 1.0],
                        ));
                        plot_ui.image(PlotImage::new(
                            "response target",
                            target.id(),
                            PlotPoint::new(duration / 2.0, 2.8),
                            [duration as f32, 1.0],
                        ));
                        plot_ui.text(Text::new("", PlotPoint::new(0.0, 2.8), "target").anchor(egui::Align2::LEFT_CENTER));
                        plot_ui.text(Text::new("", PlotPoint::new(0.0, 1.7), "output").anchor(egui::Align2::LEFT_CENTER));
                    }
                    _ => {
                        // compact encoding: (cos, sin) of the response, output against target
                        for c in 1..t.n_out {
                            let name = if c == 1 { "cos" } else { "sin" };
                            plot_ui.line(
                                Line::new(format!("{name} target"), PlotPoints::from(series(&|s| t.target(trial, s)[c])))
                                    .color(egui::Color32::GRAY)
                                    .style(LineStyle::dashed_loose()),
                            );
                            plot_ui
                                .line(Line::new(format!("{name} output"), PlotPoints::from(series(&|s| t.output(trial, s)[c]))).width(1.5));
                        }
                    }
                }
            })
        });
        rects.outputs = shown.response.rect;

        let n = t.n_units as f64;
        let max_rate = (0..t.steps).flat_map(|s| t.rate(trial, s).iter().copied()).fold(0.0f32, f32::max);
        let heat = units.is_some();
        ui.horizontal(|ui| {
            let types = if kinds.n_excitatory.is_some() && !heat { ": red excitatory, blue inhibitory" } else { "" };
            ui.label(format!("Hidden units (largest rate in this trial {max_rate:.2}){types}")).on_hover_text(
                "The firing rate of the recurrent units over time: one row per unit (heat map, scaled to the largest \
                 rate of the trial), or the most variable units as lines",
            );
            export_menu_with_ui(ui, cx.files, rects.units, !heat, || units_export(t, trial, heat, &about, kinds, &order));
        });
        let y_label = match (heat, kinds.n_excitatory.is_some(), by_tau && kinds.taus.is_some()) {
            (false, _, _) => "rate",
            (true, true, true) => "unit (E below I, each fast to slow)",
            (true, true, false) => "unit (E below, I above)",
            (true, false, true) => "unit (fast to slow)",
            (true, false, false) => "unit",
        };
        let plot = time_plot("traj-units", link, height, duration).y_axis_label(y_label);
        let shown = ui.scope(|ui| {
            plot.show(ui, |plot_ui| match &units {
                Some(texture) => {
                    plot_ui.image(PlotImage::new(
                        "units",
                        texture.id(),
                        PlotPoint::new(duration / 2.0, n / 2.0),
                        [duration as f32, n as f32],
                    ));
                    epochs_ui(plot_ui, &t.epochs, dt, false);
                    if let Some(n_e) = kinds.n_excitatory {
                        // the excitatory units fill the rows below the line
                        let line = egui::Color32::WHITE;
                        plot_ui.hline(HLine::new("E | I", n_e as f64).color(line).width(1.5));
                        let label = |text: &str, y: f64| {
                            Text::new(text, PlotPoint::new(duration * 0.01, y), text).color(line).anchor(egui::Align2::LEFT_CENTER)
                        };
                        plot_ui.text(label("E", n_e as f64 / 2.0));
                        plot_ui.text(label("I", (n_e as f64 + n) / 2.0));
                    }
                }
                None => {
                    epochs_ui(plot_ui, &t.epochs, dt, true);
                    for unit in most_variable_units(t, trial, UNIT_LINES) {
                        let points: Vec<[f64; 2]> =
                            (0..t.steps).map(|s| [s as f64 * dt + dt / 2.0, t.rate(trial, s)[unit] as f64]).collect();
                        let mut line = Line::new(kinds.name(unit), PlotPoints::from(points)).width(1.5);
                        if let Some(excitatory) = kinds.excitatory(unit) {
                            line = line.color(cell_type_color(excitatory));
                        }
                        plot_ui.line(line);
                    }
                }
            })
        });
        rects.units = shown.response.rect;
    }

    /// The texture for `key`, rebuilt by `make` only when the key changed.
    fn texture(&mut self, ui: &egui::Ui, key: HeatKey, make: impl FnOnce() -> egui::ColorImage) -> egui::TextureHandle {
        if let Some((_, handle)) = self.textures.iter().find(|(k, _)| *k == key) {
            return handle.clone();
        }
        let image = make();
        if let Some(slot) = self.textures.iter_mut().find(|(k, _)| k.map == key.map) {
            slot.1.set(image, egui::TextureOptions::NEAREST);
            slot.0 = key;
            return slot.1.clone();
        }
        let name = format!("trajectory-{:?}", key.map);
        let handle = ui.ctx().load_texture(name, image, egui::TextureOptions::NEAREST);
        self.textures.push((key, handle.clone()));
        handle
    }
}

/// "step 40, mixture 0.50, bias lesioned": the network the trajectories come from.
fn about_network(data: &Trajectories) -> String {
    let mut about = format!("step {}", data.step);
    if data.ambiguity.level != data.ambiguity.kind.clean_level() {
        about += &format!(", cue {} {:.2}", data.ambiguity.kind.name(), data.ambiguity.level);
    }
    if !data.lesioned.is_empty() {
        about += &format!(", {} lesioned", crate::model::Pathway::set_label(&data.lesioned));
    }
    about
}

/// The middle of every step of the trial, in ms (where the plots draw each step's value).
fn step_times(t: &TaskTrajectories) -> Vec<f64> {
    let dt = t.dt_ms as f64;
    (0..t.steps).map(|s| s as f64 * dt + dt / 2.0).collect()
}

/// `what` for one trial: the file name stem ("units-dly-go-trial3") and the title.
fn export_named(what: &str, title: &str, t: &TaskTrajectories, trial: usize, about: &str, data: PlotData) -> PlotExport {
    let task = t.task.label().to_lowercase().replace(' ', "-");
    PlotExport::new(
        format!("{what}-{task}-trial{}", trial + 1),
        format!("{title}: {}, trial {} ({about})", t.task.label(), trial + 1),
        "time (ms)",
        if what == "units" { "rate" } else { "value" },
        data,
    )
}

/// One column per channel of `of(step)` over the trial.
fn channel(t: &TaskTrajectories, name: String, of: impl Fn(usize) -> f32) -> (String, Vec<f64>) {
    (name, (0..t.steps).map(|s| of(s) as f64).collect())
}

/// The inputs heat map's data: one row per step; fixation, then ring 1 and ring 2 unit by unit.
fn inputs_export(t: &TaskTrajectories, trial: usize, about: &str) -> PlotExport {
    let ring = t.n_in.saturating_sub(1) / 2;
    let name = |i: usize| match i {
        0 => "fixation".to_string(),
        i if i <= ring => format!("ring 1 unit {}", i - 1),
        i => format!("ring 2 unit {}", i - 1 - ring),
    };
    let columns = (0..t.n_in).map(|i| channel(t, name(i), |s| t.input(trial, s)[i])).collect();
    let data = PlotData::Columns { x: step_times(t), columns, heat: true };
    export_named("inputs", "Inputs", t, trial, about, data)
}

/// The outputs plot's data: the fixation target and output, then the response ring's target
/// and output unit by unit (`ring_heat`, drawn as heat maps), or the compact (cos, sin) lines.
fn outputs_export(t: &TaskTrajectories, trial: usize, ring_heat: bool, about: &str) -> PlotExport {
    let mut columns = vec![
        channel(t, "fixation target".into(), |s| t.target(trial, s)[0]),
        channel(t, "fixation output".into(), |s| t.output(trial, s)[0]),
    ];
    if ring_heat {
        columns.extend((1..t.n_out).map(|c| channel(t, format!("target ring unit {}", c - 1), |s| t.target(trial, s)[c])));
        columns.extend((1..t.n_out).map(|c| channel(t, format!("output ring unit {}", c - 1), |s| t.output(trial, s)[c])));
    } else {
        for c in 1..t.n_out {
            let name = if c == 1 { "cos" } else { "sin" };
            columns.push(channel(t, format!("{name} target"), |s| t.target(trial, s)[c]));
            columns.push(channel(t, format!("{name} output"), |s| t.output(trial, s)[c]));
        }
    }
    let data = PlotData::Columns { x: step_times(t), columns, heat: ring_heat };
    export_named("outputs", "Outputs and targets", t, trial, about, data)
}

/// Excitatory units warm, inhibitory units cool.
fn cell_type_color(excitatory: bool) -> egui::Color32 {
    widgets::color(if excitatory { role::EXCITATORY } else { role::INHIBITORY })
}

/// The hidden units plot's data: every unit in display order (`heat`) or the most variable ones
/// drawn as lines, named with their cell type and τ where the network has them.
fn units_export(t: &TaskTrajectories, trial: usize, heat: bool, about: &str, kinds: &UnitKinds, order: &[usize]) -> PlotExport {
    let units: Vec<usize> = if heat { order.to_vec() } else { most_variable_units(t, trial, UNIT_LINES) };
    let columns = units.into_iter().map(|u| channel(t, kinds.name(u), |s| t.rate(trial, s)[u])).collect();
    let data = PlotData::Columns { x: step_times(t), columns, heat };
    export_named("units", "Hidden units", t, trial, about, data)
}

/// A plot with time (ms) on x, linked to the panel's other plots.
fn time_plot(id: &str, link: egui::Id, height: f32, duration: f64) -> Plot<'_> {
    Plot::new(id)
        .height(height)
        .link_axis(link, [true, false])
        .include_x(0.0)
        .include_x(duration)
        .x_axis_label("time (ms)")
        // the same y-axis width in every plot, so that their time axes line up
        .y_axis_min_width(40.0)
        .allow_scroll(false)
        .show_grid([false, true])
}

/// Shade (line plots) or mark (heat maps) the trial's epochs, with their names.
fn epochs_ui(plot_ui: &mut egui_plot::PlotUi<'_>, epochs: &[Epoch], dt: f64, shade: bool) {
    for epoch in epochs {
        let (start, end) = (epoch.start as f64 * dt, epoch.end as f64 * dt);
        if shade {
            plot_ui.span(Span::new(epoch.name, start..=end).fill(widgets::color_alpha(epoch_color(epoch.name), 36)).border_width(0.0));
        } else {
            plot_ui.vline(VLine::new(epoch.name, start).color(egui::Color32::from_white_alpha(90)).width(1.0));
        }
    }
}

/// A colour per kind of epoch.
fn epoch_color(name: &str) -> &'static str {
    match name {
        "fixation" => role::FIXATION,
        n if n.starts_with("stimulus") => role::STIMULUS,
        n if n.starts_with("delay") => role::DELAY,
        "response" => role::RESPONSE,
        _ => role::EPOCH,
    }
}

/// The `count` units whose rate varies most over the trial.
fn most_variable_units(t: &TaskTrajectories, trial: usize, count: usize) -> Vec<usize> {
    let mut spread: Vec<(usize, f32)> = (0..t.n_units)
        .map(|u| {
            let values: Vec<f32> = (0..t.steps).map(|s| t.rate(trial, s)[u]).collect();
            let mean = values.iter().sum::<f32>() / values.len().max(1) as f32;
            (u, values.iter().map(|v| (v - mean).powi(2)).sum::<f32>())
        })
        .collect();
    spread.sort_by(|a, b| b.1.total_cmp(&a.1));
    spread.into_iter().take(count).map(|(u, _)| u).collect()
}

/// A heat map of one trial: columns are steps, rows are channels (the first at the bottom);
/// the hidden units' rows follow `unit_order`.
fn heat_image(t: &TaskTrajectories, trial: usize, map: HeatMap, unit_order: &[usize]) -> egui::ColorImage {
    let (rows, value): (usize, Box<dyn Fn(usize, usize) -> f32 + '_>) = match map {
        HeatMap::Inputs => (t.n_in, Box::new(|s, r| t.input(trial, s)[r])),
        HeatMap::TargetRing => (t.n_out - 1, Box::new(|s, r| t.target(trial, s)[1 + r])),
        HeatMap::OutputRing => (t.n_out - 1, Box::new(|s, r| t.output(trial, s)[1 + r])),
        HeatMap::Units => (t.n_units, Box::new(|s, r| t.rate(trial, s)[unit_order[r]])),
    };
    // inputs and sigmoid outputs live in [0, 1]; rates are scaled to the trial's largest
    let scale = match map {
        HeatMap::Units => (0..t.steps).flat_map(|s| t.rate(trial, s).iter().copied()).fold(0.0f32, f32::max).max(1e-6),
        _ => 1.0,
    };
    let mut pixels = Vec::with_capacity(rows * t.steps);
    for row in (0..rows).rev() {
        for step in 0..t.steps {
            pixels.push(colormap(value(step, row) / scale));
        }
    }
    egui::ColorImage::new([t.steps, rows.max(1)], pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One trial of two 20 ms steps: 5 inputs (fixation, two rings of 2), compact outputs
    /// (fixation, cos, sin), 2 units.
    fn tiny_trial() -> TaskTrajectories {
        TaskTrajectories {
            task: crate::tasks::Task::FdGo,
            trials: 1,
            steps: 2,
            n_in: 5,
            n_out: 3,
            n_units: 2,
            dt_ms: 20.0,
            epochs: Vec::new(),
            // binary fractions, so that the f32 → f64 values print short
            inputs: vec![1.0, 0.125, 0.25, 0.375, 0.5, 0.0, 0.625, 0.75, 0.875, 1.5],
            targets: vec![0.875, 0.0, 0.0, 0.0625, 1.0, 0.0],
            outputs: vec![0.5, 0.25, 0.125, 0.0625, 0.75, 0.375],
            rates: vec![0.5, 2.0, 0.25, 0.0],
            correct: vec![1.0],
        }
    }

    #[test]
    fn exports_have_a_row_per_step_and_a_column_per_channel() {
        let t = tiny_trial();
        let csv = inputs_export(&t, 0, "step 0").to_csv();
        let header = "time (ms),fixation,ring 1 unit 0,ring 1 unit 1,ring 2 unit 0,ring 2 unit 1";
        assert_eq!(csv, format!("{header}\n10,1,0.125,0.25,0.375,0.5\n30,0,0.625,0.75,0.875,1.5\n"));
        let outputs = outputs_export(&t, 0, false, "step 0");
        assert!(outputs.data.svg_supported(), "compact outputs are lines");
        let csv = outputs.to_csv();
        assert_eq!(csv.lines().next(), Some("time (ms),fixation target,fixation output,cos target,cos output,sin target,sin output"));
        assert_eq!(csv.lines().nth(2), Some("30,0.0625,0.0625,1,0.75,0,0.375"));
        let plain = UnitKinds::default();
        let units = units_export(&t, 0, true, "step 0", &plain, &[0, 1]);
        assert!(!units.data.svg_supported(), "the heat map has no SVG");
        assert_eq!(units.name, "units-go-trial1");
        assert_eq!(units.to_csv(), "time (ms),unit 0,unit 1\n10,0.5,2\n30,0.25,0\n");
        // as lines: the most variable unit first
        assert_eq!(units_export(&t, 0, false, "step 0", &plain, &[0, 1]).to_csv().lines().next(), Some("time (ms),unit 1,unit 0"));
    }

    /// Under Dale's law with per-unit τ: the units are named by type and τ, and ordered by τ
    /// within each type (E first), in the heat map and its export.
    #[test]
    fn units_are_grouped_by_cell_type_and_ordered_by_tau() {
        let kinds = UnitKinds { n_excitatory: Some(3), taus: Some(vec![300.0, 50.0, 120.0, 80.0, 60.0]) };
        assert_eq!(kinds.order(5, false), vec![0, 1, 2, 3, 4]);
        assert_eq!(kinds.order(5, true), vec![1, 2, 0, 4, 3], "E by τ, then I by τ");
        assert_eq!(kinds.name(0), "E unit 0 (τ 300 ms)");
        assert_eq!(kinds.name(4), "I unit 4 (τ 60 ms)");
        let no_types = UnitKinds { n_excitatory: None, taus: kinds.taus.clone() };
        assert_eq!(no_types.order(5, true), vec![1, 4, 3, 2, 0]);
        let t = tiny_trial();
        let two = UnitKinds { n_excitatory: Some(1), taus: Some(vec![200.0, 40.0]) };
        let csv = units_export(&t, 0, true, "step 0", &two, &[1, 0]).to_csv();
        assert_eq!(csv.lines().next(), Some("time (ms),I unit 1 (τ 40 ms),E unit 0 (τ 200 ms)"));
        // rows bottom-up follow the order: the first row of the image (top) is the last unit in order
        let image = heat_image(&t, 0, HeatMap::Units, &[1, 0]);
        assert_eq!(image.pixels[0], colormap(0.5 / 2.0), "top row: unit 0 at step 0 (rate 0.5 of largest 2)");
    }
}
