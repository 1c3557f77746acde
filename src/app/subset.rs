//! The Subset panel (docs/MODEL.md §7): train a small subset of a strongly coupled E/I network
//! and see whether the task activity stays in the trained units or spreads to the others, as
//! the coupling g changes. One network at a time, on a thread of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eframe::egui;
use egui_plot::{Legend, Line, LineStyle, Plot, PlotPoints, Points};

use super::export::{Curve, PlotData, PlotExport, export_menu_ui};
use super::widgets::task_color;
use super::{Level, Panel, PanelContext, heading_ui};
use crate::experiments::subset::{Measured, SubsetPlan, Training};
use crate::runner::LiveViews;
use crate::runner::queue::JobQueue;
use crate::runner::subset::{SubsetJob, SubsetOutput};

/// How often the panel looks for progress while a run is under way.
const TICK: Duration = Duration::from_millis(200);
/// Units drawn per group.
const SHOWN_UNITS: usize = 4;
/// Test trials per condition of an app run.
const APP_TEST_TRIALS: usize = 24;

/// One finished run, for the spread-against-g chart.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    g: f64,
    fraction: f64,
    training: Training,
    spread: f64,
}

pub struct SubsetPanel {
    g: f64,
    fraction: f64,
    training: Training,
    loops: usize,
    seed: u64,
    job: Option<(JobQueue<SubsetJob>, Arc<AtomicBool>)>,
    output: Option<Arc<SubsetOutput>>,
    history: Vec<Point>,
    rects: [egui::Rect; 4],
}

impl Default for SubsetPanel {
    fn default() -> Self {
        Self {
            g: 1.0,
            fraction: 0.1,
            training: Training::Clamp,
            loops: 20,
            seed: 0,
            job: None,
            output: None,
            history: Vec::new(),
            rects: [egui::Rect::NOTHING; 4],
        }
    }
}

impl SubsetPanel {
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The spread ratio of the last finished run.
    pub fn last_spread(&self) -> Option<f64> {
        self.output.as_ref().and_then(|o| o.measured.as_ref()).map(|m| m.row.spread_ratio)
    }

    /// Set the next run's coupling (tests).
    pub fn set_g(&mut self, g: f64) {
        self.g = g;
    }

    /// Cancel the run and wait for its thread (the app is closing).
    pub fn stop(&mut self) {
        self.job = None;
    }

    fn plan(&self) -> SubsetPlan {
        SubsetPlan {
            gains: vec![self.g],
            fractions: vec![self.fraction],
            seeds: 1,
            loops: self.loops,
            training: self.training,
            // the chaotic network's trial-to-trial noise needs more trials than the sweep's default
            test_trials: APP_TEST_TRIALS,
            ..SubsetPlan::default()
        }
    }

    fn start(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        let waker = ctx.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        match JobQueue::spawn("modulab-subset", move || waker.request_repaint()) {
            Ok(queue) => {
                queue.submit(0, SubsetJob::new(self.plan(), self.seed), cancel.clone());
                self.job = Some((queue, cancel));
                self.output = None;
            }
            Err(e) => cx.files.set_notice(Level::Error, format!("cannot start the subset thread: {e}")),
        }
    }

    fn poll(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        let Some((queue, _)) = &self.job else { return };
        let mut ended = false;
        for update in queue.updates() {
            if let Some(e) = &update.failure {
                cx.files.set_notice(Level::Error, e.clone());
            }
            ended |= update.ended;
            self.output = Some(update.output);
        }
        if !ended {
            ctx.request_repaint_after(TICK);
            return;
        }
        self.job = None;
        if let Some(m) = self.output.as_ref().and_then(|o| o.measured.as_ref()) {
            let row = &m.row;
            self.history.push(Point { g: row.g, fraction: row.fraction, training: row.training, spread: row.spread_ratio });
            cx.files.set_notice(Level::Info, format!("subset training at g = {}: spread ratio {:.3}", row.g, row.spread_ratio));
        }
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        let mut run = false;
        ui.horizontal(|ui| {
            ui.label("coupling g").on_hover_text("The strength of the fixed random connections, g·j/√K");
            let slider = ui.add(egui::Slider::new(&mut self.g, 0.1..=3.0).logarithmic(true).max_decimals(2)).on_hover_text(
                "Weak (0.1): each unit mostly follows its external drive, the connections barely matter. Strong (≥ 1): \
                 every unit's large excitatory and inhibitory inputs cancel, and what is left is set by the network: \
                 a change in the trained units reaches the others through the strong, untrained connections. \
                 Release the slider to run.",
            );
            run |= slider.drag_stopped() || (slider.changed() && !slider.dragged());
            ui.label("trained fraction f");
            ui.add(egui::Slider::new(&mut self.fraction, 0.05..=0.5).max_decimals(2))
                .on_hover_text("The share of the excitatory units that are trained (the rest keep their random connections)");
            egui::ComboBox::from_id_salt("subset-training")
                .selected_text(self.training.name())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.training, Training::Clamp, "clamp").on_hover_text(
                        "Hold the trained units on their targets: an ideally trained subset (what spreads depends only on the \
                         fixed connections)",
                    );
                    ui.selectable_value(&mut self.training, Training::Rls, "rls").on_hover_text(
                        "Train the subset's plastic inputs by recursive least squares, then test it free (settles at weak \
                         coupling only so far)",
                    );
                })
                .response
                .on_hover_text("How the subset learns its ramping targets");
            if self.training == Training::Rls {
                ui.add(egui::DragValue::new(&mut self.loops).range(1..=200).prefix("loops: "))
                    .on_hover_text("RLS training trials (the two conditions alternate)");
            }
            if self.running() {
                if ui.button("Cancel").on_hover_text("Stop this run").clicked()
                    && let Some((_, cancel)) = &self.job
                {
                    cancel.store(true, Ordering::Relaxed);
                }
            } else {
                run |= ui
                    .button("Run")
                    .on_hover_text("Build an 800-unit network with these settings, train or clamp the subset, measure")
                    .clicked();
            }
        });
        if run && !self.running() {
            self.start(ctx, cx);
        }
        match self.output.as_deref() {
            Some(SubsetOutput { measured: Some(m), .. }) => {
                let r = &m.row;
                ui.label(format!(
                    "Spread ratio {:.3}, untrained E {:.3}, inhibitory {:.3} (untrained / trained task variance; about 0, of \
                     either sign, when nothing spreads above the trial-to-trial noise); balance index {:.3}, rates E {:.2}, I {:.2}{}",
                    r.spread_ratio,
                    r.spread_e,
                    r.spread_i,
                    r.balance,
                    r.rate_e,
                    r.rate_i,
                    if r.training == Training::Rls { format!(", trained units' error {:.3}", r.target_error) } else { String::new() }
                ))
                .on_hover_text(
                    "Task variance: how much a unit's trial-averaged rate varies with the condition and over time. Balance index: \
                     |mean excitatory + mean inhibitory input| / mean excitatory input (0 = the drive is cancelled).",
                );
            }
            Some(o) if self.running() => {
                let text = if o.loops == 0 || o.loops_done == o.loops {
                    format!("measuring ({} test trials)…", 2 * APP_TEST_TRIALS)
                } else {
                    format!("RLS loop {} of {} (error {:.3})", o.loops_done, o.loops, o.errors.last().copied().unwrap_or(f64::NAN))
                };
                let done = if o.loops == 0 { 0.5 } else { o.loops_done as f32 / (o.loops + 1) as f32 };
                ui.add(egui::ProgressBar::new(done).text(text));
            }
            _ if self.running() => {
                ui.add(egui::ProgressBar::new(0.0).text("building the network…"));
            }
            _ => {
                ui.weak("Press Run (or release the g slider) to train a subset and measure how far its activity spreads.");
            }
        }
    }

    fn plots_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        let measured = self.output.as_ref().and_then(|o| o.measured.clone());
        let height = ((ui.available_height() - 60.0) / 2.0).max(120.0);
        if let Some(m) = &measured {
            let groups = unit_groups(m);
            let width = (ui.available_width() - 24.0) / 3.0;
            ui.horizontal_top(|ui| {
                for (index, (title, units)) in groups.iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.set_width(width);
                        ui.horizontal(|ui| {
                            ui.label(*title).on_hover_text("Trial-averaged rates: condition A solid, condition B dashed");
                            let rect = self.rects[index];
                            export_menu_ui(ui, cx.files, rect, || rates_export(m, title, units));
                        });
                        let shown = ui.scope(|ui| {
                            Plot::new(("subset-rates", index))
                                .height(height)
                                .width(width)
                                .x_axis_label("time (ms)")
                                .y_axis_label("rate")
                                .allow_scroll(false)
                                .show(ui, |plot_ui| {
                                    for (k, unit) in units.iter().enumerate() {
                                        for condition in 0..2 {
                                            let style = if condition == 0 { LineStyle::Solid } else { LineStyle::dashed_loose() };
                                            plot_ui.line(
                                                Line::new(format!("unit {unit}"), PlotPoints::from(trace(m, *unit, condition)))
                                                    .color(task_color(k))
                                                    .style(style),
                                            );
                                        }
                                    }
                                })
                        });
                        self.rects[index] = shown.response.rect;
                    });
                }
            });
        }
        ui.horizontal(|ui| {
            ui.label("Spread ratio against g (every run so far)").on_hover_text(
                "Each point is one run: the untrained units' task variance over the trained units'. Weak coupling keeps the \
                 task in the trained units; strong coupling spreads it (Kim et al. 2023)",
            );
            let rect = self.rects[3];
            let history = self.history.clone();
            export_menu_ui(ui, cx.files, rect, || history_export(&history));
        });
        let shown = ui.scope(|ui| {
            Plot::new("subset-history")
                .height(height)
                .x_axis_label("coupling g")
                .y_axis_label("spread ratio")
                .include_y(0.0)
                .include_x(0.0)
                .include_x(3.0)
                .legend(Legend::default())
                .show(ui, |plot_ui| {
                    for (index, (label, points)) in history_series(&self.history).into_iter().enumerate() {
                        plot_ui.points(Points::new(label, PlotPoints::from(points)).radius(4.0).color(task_color(index)));
                    }
                })
        });
        self.rects[3] = shown.response.rect;
    }
}

/// The three groups drawn: the first trained units, and the untrained excitatory and the
/// inhibitory units with the largest task-locked variation.
fn unit_groups(m: &Measured) -> [(&'static str, Vec<usize>); 3] {
    let n = m.means[0][0].len();
    let spread = |i: usize| {
        let values: Vec<f64> = m.means.iter().flat_map(|c| c.iter().map(move |s| s[i])).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
    };
    let most_variable = |units: Vec<usize>| {
        let mut scored: Vec<(usize, f64)> = units.into_iter().map(|i| (i, spread(i))).collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.into_iter().take(SHOWN_UNITS).map(|(i, _)| i).collect::<Vec<_>>()
    };
    let untrained_e = (0..m.n_e).filter(|i| !m.trained.contains(i)).collect();
    [
        ("Trained units", m.trained.iter().copied().take(SHOWN_UNITS).collect()),
        ("Untrained excitatory units", most_variable(untrained_e)),
        ("Inhibitory units", most_variable((m.n_e..n).collect())),
    ]
}

/// One unit's trial-averaged rate in one condition: (time in ms, rate).
fn trace(m: &Measured, unit: usize, condition: usize) -> Vec<[f64; 2]> {
    m.means[condition].iter().enumerate().map(|(s, rates)| [m.first_ms + s as f64 * m.record_ms, rates[unit]]).collect()
}

fn rates_export(m: &Measured, title: &str, units: &[usize]) -> PlotExport {
    let curves = units
        .iter()
        .flat_map(|u| (0..2).map(move |c| Curve { name: format!("unit {u} condition {}", ["A", "B"][c]), points: trace(m, *u, c) }))
        .collect();
    PlotExport {
        name: format!("subset-{}", title.to_lowercase().replace(' ', "-")),
        title: format!("{title} (g = {}, f = {})", m.row.g, m.row.fraction),
        x_label: "time (ms)".into(),
        y_label: "rate".into(),
        log_y: false,
        unit_circle: false,
        note: "trial-averaged rates".into(),
        data: PlotData::Lines(curves),
    }
}

/// One series per (trained fraction, training).
fn history_series(history: &[Point]) -> Vec<(String, Vec<[f64; 2]>)> {
    let mut series: Vec<(String, Vec<[f64; 2]>)> = Vec::new();
    for p in history {
        let label = format!("f = {} ({})", p.fraction, p.training.name());
        match series.iter_mut().find(|(l, _)| *l == label) {
            Some((_, points)) => points.push([p.g, p.spread]),
            None => series.push((label, vec![[p.g, p.spread]])),
        }
    }
    series
}

fn history_export(history: &[Point]) -> PlotExport {
    PlotExport {
        name: "subset-spread".into(),
        title: "Spread ratio against coupling g".into(),
        x_label: "coupling g".into(),
        y_label: "spread ratio".into(),
        log_y: false,
        unit_circle: false,
        note: String::new(),
        data: PlotData::Scatter(history_series(history).into_iter().map(|(name, points)| Curve { name, points }).collect()),
    }
}

impl Panel for SubsetPanel {
    fn title(&self) -> &'static str {
        "Subset training"
    }

    fn help(&self) -> &'static str {
        "Only a few neurons of a cortical circuit may be shaped by learning, yet task activity shows up in many \
         (Kim, Finkelstein, Chow, Svoboda & Darshan 2023). Here 800 rate units (half excitatory, half inhibitory) \
         are wired at random; every unit gets 40 inputs from each population, of strength g. A fraction f of the \
         excitatory units is trained to ramp up or down depending on the condition (two conditions, like a mouse \
         preparing to lick left or right); nobody trains the others. The three plots show trained units, untrained \
         excitatory units and inhibitory units (condition A solid, B dashed): with weak coupling the untrained \
         units stay flat; with strong coupling the paper found they ramp too (modulab's rate network is chaotic \
         there and its fluctuations mostly hide it; its spiking network passes the ramp on, mostly to inhibitory \
         neurons: README). Why it can: in a strongly coupled network each unit's large \
         excitatory and inhibitory inputs cancel (the 'balanced' state), so the small remainder that drives it is \
         set by the network's activity, and a change in a few units is passed on and amplified instead of being \
         swamped by the external drive. The spread ratio is the untrained units' task variance over the trained \
         units'. 'clamp' holds the subset on its targets (an ideally trained subset); 'rls' trains it (settles at \
         weak coupling only so far). `modulab sweep subset` measures this over g, f and seeds."
    }

    fn logic(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        self.poll(ctx, cx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        let ctx = ui.ctx().clone();
        self.controls_ui(ui, &ctx, cx);
        ui.separator();
        self.plots_ui(ui, cx);
    }

    fn live_views(&self) -> LiveViews {
        LiveViews::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_groups_runs_by_fraction_and_training_and_exports_them() {
        let history = vec![
            Point { g: 0.1, fraction: 0.1, training: Training::Clamp, spread: 0.001 },
            Point { g: 1.0, fraction: 0.1, training: Training::Clamp, spread: 0.3 },
            Point { g: 1.0, fraction: 0.2, training: Training::Rls, spread: 0.2 },
        ];
        let series = history_series(&history);
        assert_eq!(series.len(), 2);
        assert_eq!(series[0], ("f = 0.1 (clamp)".to_string(), vec![[0.1, 0.001], [1.0, 0.3]]));
        let csv = history_export(&history).to_csv();
        assert!(csv.contains("f = 0.2 (rls),1,0.2"), "{csv}");
    }
}
