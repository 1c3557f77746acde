//! The Subset panel (docs/MODEL.md §7): train a small subset of a strongly coupled E/I network
//! and see whether the task activity stays in the trained units or spreads to the others, as
//! the coupling g changes. One network at a time, on a thread of its own.

use std::sync::Arc;

use eframe::egui;
use egui_plot::{AxisHints, Legend, Plot};

use super::export::{Curve, PlotData, PlotExport};
use super::plot::{self, Shown};
use super::{Level, Panel, PanelContext, heading_ui};
use crate::experiments::subset::bptt as subset_bptt;
use crate::experiments::subset::{Measured, SubsetModel, SubsetPlan, Training};
use crate::figure::{self, palette::role};
use crate::lesson;
use crate::runner::subset::{SubsetJob, SubsetOutput};
use crate::runner::{JobHost, JobId, LiveViews};

/// Units drawn per group.
const SHOWN_UNITS: usize = 4;
/// Test trials per condition of an app run (BPTT: per each of its 32 conditions, 8 per task).
const APP_TEST_TRIALS: usize = 24;
const APP_BPTT_TEST_TRIALS: usize = 8;
/// The spiking network of an app run: N and K (the rate network's are `sweep subset`'s defaults).
const SPIKING_NEURONS: usize = 2000;
const SPIKING_K: usize = 200;
/// The rate network BPTT trains: N and K (smaller than the clamped and RLS rate network's, so
/// that 2 000 steps take about 40 s on 2 cores).
const BPTT_NEURONS: usize = 200;
const BPTT_K: usize = 20;
/// Loops each model and training starts with: RLS trials (the spiking network's error keeps
/// falling to about 100; a loop takes up to about 0.45 s there) or BPTT steps.
fn default_loops(model: SubsetModel, training: Training) -> usize {
    match (model, training) {
        (_, Training::Bptt) => subset_bptt::DEFAULT_STEPS,
        (SubsetModel::Rate, _) => SubsetPlan::default().loops,
        (SubsetModel::Spiking, _) => 60,
    }
}
/// Export rectangles: three rate plots, the history, two rasters, the live spread.
const HISTORY: usize = 3;
const RASTERS: usize = 4;
const LIVE: usize = 6;

/// One finished run, for the spread-against-g chart.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    g: f64,
    fraction: f64,
    training: Training,
    model: SubsetModel,
    spread: f64,
}

pub struct SubsetPanel {
    model: SubsetModel,
    g: f64,
    fraction: f64,
    training: Training,
    loops: usize,
    seed: u64,
    /// The run under way (a job on the subset lane).
    job: Option<JobId>,
    output: Option<Arc<SubsetOutput>>,
    history: Vec<Point>,
    rects: [egui::Rect; 7],
    /// A lesson pressed Run.
    run_requested: bool,
}

impl Default for SubsetPanel {
    fn default() -> Self {
        Self {
            model: SubsetModel::Rate,
            g: 1.0,
            fraction: 0.1,
            training: Training::Clamp,
            loops: default_loops(SubsetModel::Rate, Training::Clamp),
            seed: 0,
            job: None,
            output: None,
            history: Vec::new(),
            rects: [egui::Rect::NOTHING; 7],
            run_requested: false,
        }
    }
}

impl SubsetPanel {
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The spread ratio of the last finished run (`None` also when it was undetermined).
    pub fn last_spread(&self) -> Option<f64> {
        self.output.as_ref().and_then(|o| o.measured.as_ref()).and_then(|m| m.row.spread_ratio)
    }

    /// The next run's coupling.
    pub fn g(&self) -> f64 {
        self.g
    }

    /// Set the next run's coupling (tests; a lesson's `g = …`).
    pub fn set_g(&mut self, g: f64) {
        self.g = g;
    }

    /// Set the next run's training loops (tests).
    pub fn set_loops(&mut self, loops: usize) {
        self.loops = loops;
    }

    /// The last run's live probes (tests).
    pub fn live_probes(&self) -> usize {
        self.output.as_ref().map_or(0, |o| o.live_spread.len())
    }

    /// The last run's measures (tests).
    pub fn measured(&self) -> Option<&Measured> {
        self.output.as_ref().and_then(|o| o.measured.as_ref())
    }

    fn plan(&self) -> SubsetPlan {
        let defaults = SubsetPlan::default();
        let (neurons, k) = match (self.model, self.training) {
            (SubsetModel::Rate, Training::Bptt) => (BPTT_NEURONS, BPTT_K),
            (SubsetModel::Rate, _) => (defaults.neurons, defaults.k),
            (SubsetModel::Spiking, _) => (SPIKING_NEURONS, SPIKING_K),
        };
        SubsetPlan {
            model: self.model,
            neurons,
            k,
            gains: vec![self.g],
            fractions: vec![self.fraction],
            seeds: 1,
            loops: self.loops,
            training: self.training,
            // the chaotic network's trial-to-trial noise needs more trials than the sweep's default
            test_trials: if self.training == Training::Bptt { APP_BPTT_TEST_TRIALS } else { APP_TEST_TRIALS },
            ..SubsetPlan::default()
        }
    }

    fn start(&mut self, cx: &mut PanelContext<'_>) {
        match cx.jobs.on_thread("modulab-subset", SubsetJob::new(self.plan(), self.seed)) {
            Ok(job) => {
                self.job = Some(job);
                self.output = None;
            }
            Err(e) => cx.files.set_notice(Level::Error, e),
        }
    }

    fn poll(&mut self, cx: &mut PanelContext<'_>) {
        let Some(job) = self.job else { return };
        let (state, output) = cx.jobs.snapshot::<SubsetOutput>(job).unzip();
        if let Some(output) = output.flatten() {
            self.output = Some(output);
        }
        let ended = state.is_none_or(|s| s.ended());
        // every new output wakes the UI (the host); a failure reaches the status bar through it
        if !ended {
            return;
        }
        cx.jobs.forget(job);
        self.job = None;
        if let Some(m) = self.output.as_ref().and_then(|o| o.measured.as_ref()) {
            let row = &m.row;
            match row.spread_ratio {
                Some(spread) => {
                    self.history.push(Point { g: row.g, fraction: row.fraction, training: row.training, model: row.model, spread });
                    cx.files.set_notice(Level::Info, format!("subset training at g = {}: spread ratio {spread:.3}", row.g));
                }
                None => cx.files.set_notice(
                    Level::Info,
                    format!("subset training at g = {}: spread ratio undetermined (the trained units tell the conditions apart no more than noise)", row.g),
                ),
            }
        }
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        let mut run = false;
        // wrapped: at the default window size the row does not fit on one line
        ui.horizontal_wrapped(|ui| {
            let before = (self.model, self.training);
            egui::ComboBox::from_id_salt("subset-model")
                .selected_text(self.model.name())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.model, SubsetModel::Rate, "rate").on_hover_text(
                        "800 rate units (400 E, 400 I), 40 inputs from each population: fast, but chaotic at strong coupling",
                    );
                    ui.selectable_value(&mut self.model, SubsetModel::Spiking, "spiking").on_hover_text(
                        "2 000 leaky integrate-and-fire neurons (1 000 E, 1 000 I), 200 inputs from each population, with the \
                         parameters of the paper's own code; RLS trains plastic synapses onto the subset (up to about 0.45 s a loop)",
                    );
                })
                .response
                .on_hover_text("Which network: a rate network or the paper's spiking network");
            if self.model == SubsetModel::Spiking && self.training == Training::Bptt {
                self.training = Training::Clamp;
            }
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
                        "Train the subset's plastic inputs by recursive least squares, then test it free (the rate network's \
                         settles at weak coupling only; the spiking network's subset reaches its targets at g = 1 and \
                         1.5 within 500 loops)",
                    );
                    if self.model == SubsetModel::Rate {
                        ui.selectable_value(&mut self.training, Training::Bptt, "bptt").on_hover_text(
                            "The engine's own network (200 units, 100 E and 100 I, 20 inputs from each population, wired for \
                             the balanced state) learns the quick preset's four tasks by backpropagation through time; only \
                             the trained units' incoming weights change, only they see the task and the context, only they \
                             are read out",
                        );
                    }
                })
                .response
                .on_hover_text("How the subset learns: ramping targets (clamp, rls) or the engine's tasks (bptt)");
            if (self.model, self.training) != before {
                self.loops = default_loops(self.model, self.training);
            }
            match self.training {
                Training::Rls => {
                    ui.add(egui::DragValue::new(&mut self.loops).range(1..=500).prefix("loops: "))
                        .on_hover_text("RLS training trials (the two conditions alternate)");
                }
                Training::Bptt => {
                    ui.add(egui::DragValue::new(&mut self.loops).range(10..=20_000).speed(10).prefix("steps: "))
                        .on_hover_text("Optimiser steps (one batch of one task each; about 50 a second)");
                }
                Training::Clamp => {}
            }
            if self.running() {
                if ui.button("Cancel").on_hover_text("Stop this run").clicked()
                    && let Some(job) = self.job
                {
                    cx.jobs.cancel(job);
                }
            } else {
                run |=
                    ui.button("Run").on_hover_text("Build the network with these settings, train or clamp the subset, measure").clicked();
            }
        });
        if run && !self.running() {
            self.start(cx);
        }
        match self.output.as_deref() {
            Some(SubsetOutput { measured: Some(m), .. }) => {
                let r = &m.row;
                let ratio = |v: Option<f64>| v.map_or_else(|| "undetermined".to_string(), |v| format!("{v:.3}"));
                ui.label(format!(
                    "Spread ratio {}, untrained E {}, inhibitory {} (untrained / trained selective variance; about 0, of \
                     either sign, when nothing spreads above the trial-to-trial noise); selective variance of the untrained \
                     units {:.3}, of the trained units {:.3}; balance index {:.3}, rates E {:.2}, I {:.2}{}",
                    ratio(r.spread_ratio),
                    ratio(r.spread_e),
                    ratio(r.spread_i),
                    r.selective_untrained,
                    r.selective_trained,
                    r.balance,
                    r.rate_e,
                    r.rate_i,
                    match r.training {
                        Training::Rls => format!(", trained units' error {:.0} % of their targets' variance", 100.0 * r.relative_error()),
                        Training::Bptt =>
                            format!(", task loss {:.3} ({:.0} % of the targets' variance)", r.target_error, 100.0 * r.relative_error()),
                        Training::Clamp => String::new(),
                    }
                ))
                .on_hover_text(
                    "Selective variance: how much a unit's trial-averaged rate differs between the conditions (a course shared by \
                     both does not count). Undetermined: the trained units themselves do not tell the conditions apart, so there \
                     is no ratio. Balance index: |mean excitatory + mean inhibitory input| / mean excitatory input (0 = the drive \
                     is cancelled).",
                );
            }
            Some(o) if self.running() => {
                let text = if o.loops == 0 || o.loops_done == o.loops {
                    "measuring the test trials…".to_string()
                } else {
                    let spread =
                        o.live_spread.last().and_then(|(_, s)| s.ratio).map_or(String::new(), |r| format!(", spread ratio so far {r:.2}"));
                    let (what, error) = if self.training == Training::Bptt { ("step", "loss") } else { ("RLS loop", "error") };
                    let last = o.errors.last().copied().unwrap_or(f64::NAN);
                    format!("{what} {} of {} ({error} {last:.3}{spread})", o.loops_done, o.loops)
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
        let rows = if measured.as_ref().is_some_and(|m| !m.raster.is_empty()) { 3.0 } else { 2.0 };
        let height = ((ui.available_height() - 30.0 * rows) / rows).max(110.0);
        if let Some(m) = measured.as_ref().filter(|m| !m.raster.is_empty()) {
            self.rasters_ui(ui, cx, m, height);
        }
        if let Some(m) = &measured {
            let groups = unit_groups(m);
            let width = (ui.available_width() - 24.0) / 3.0;
            ui.horizontal_top(|ui| {
                for (index, (title, units)) in groups.iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.set_width(width);
                        let shown = Shown {
                            label: title,
                            hover: "Trial-averaged rates (the spiking network's in Hz, smoothed over 50 ms): condition A solid, \
                                    condition B dashed. Untrained and inhibitory: the units with the most task variance.",
                            rect: &mut self.rects[index],
                        };
                        let plot = Plot::new(("subset-rates", index))
                            .height(height)
                            .width(width)
                            // narrow plots: tick labels closer than egui_plot's 60-point default
                            .custom_x_axes(vec![AxisHints::new_x().label("time (ms)").label_spacing(35.0..=50.0)])
                            .y_axis_label("rate")
                            .allow_scroll(false);
                        plot::show(ui, cx, shown, &rates_plot(m, title, units), plot, false, |_| {});
                    });
                }
            });
        }
        // the live plot only when there is or will be something in it (RLS, BPTT)
        let show_live = self.training != Training::Clamp || self.output.as_ref().is_some_and(|o| !o.live_spread.is_empty());
        let width = if show_live { (ui.available_width() - 16.0) / 2.0 } else { ui.available_width() };
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(width);
                let shown = Shown {
                    label: "Spread ratio against g (every run so far)",
                    hover: "Each point is one run: the untrained units' task variance over the trained units'. Weak coupling keeps \
                            the task in the trained units; strong coupling spreads it (Kim et al. 2023)",
                    rect: &mut self.rects[HISTORY],
                };
                let plot = Plot::new("subset-history")
                    .height(height)
                    .width(width)
                    .x_axis_label("coupling g")
                    .y_axis_label("spread ratio")
                    .include_y(0.0)
                    .include_x(0.0)
                    .include_x(3.0)
                    .legend(Legend::default());
                plot::show(ui, cx, shown, &history_plot(&self.history), plot, false, |_| {});
            });
            if !show_live {
                return;
            }
            ui.vertical(|ui| {
                ui.set_width(width);
                let shown = Shown {
                    label: "While it trains: selective variance, trained and untrained",
                    hover: "Every 10 RLS loops (100 BPTT steps) and after the last, 4 test trials per condition without learning: the \
                            mean selective variance of the trained and of the untrained units (a rough, noisy estimate; the \
                            measure after training uses all the test trials). The spread ratio is the second over the \
                            first: it means something once the trained units tell the conditions apart.",
                    rect: &mut self.rects[LIVE],
                };
                let plot = Plot::new("subset-live")
                    .height(height)
                    .width(width)
                    .x_axis_label("training loop (RLS trial or BPTT step)")
                    .y_axis_label("selective variance")
                    .include_y(0.0)
                    .include_x(0.0)
                    .legend(Legend::default());
                plot::show(ui, cx, shown, &live_plot(self.output.as_deref()), plot, false, |_| {});
            });
        });
    }

    /// The spiking network's first test trial of each condition: trained neurons on top, then
    /// untrained excitatory, then inhibitory ones.
    fn rasters_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, m: &Measured, height: f32) {
        let width = (ui.available_width() - 16.0) / 2.0;
        let rows = m.raster_neurons.len();
        ui.horizontal_top(|ui| {
            for condition in 0..m.raster.len().min(2) {
                ui.vertical(|ui| {
                    ui.set_width(width);
                    let label = format!("Spikes, condition {}", ["A", "B"][condition]);
                    let shown = Shown {
                        label: &label,
                        hover: "One test trial: each row is a neuron, each dot a spike. Top: trained neurons (red), middle: \
                                untrained excitatory (blue), bottom: inhibitory (grey). The cue lasts the first 50 ms.",
                        rect: &mut self.rects[RASTERS + condition],
                    };
                    let plot = Plot::new(("subset-raster", condition))
                        .height(height)
                        .width(width)
                        .x_axis_label("time after the cue's onset (ms)")
                        .y_axis_label("neuron")
                        .include_y(0.0)
                        .include_y(rows as f64)
                        .allow_scroll(false)
                        .legend(Legend::default());
                    plot::show(ui, cx, shown, &raster_plot(m, condition), plot, false, |_| {});
                });
            }
        });
    }
}

const RASTER_GROUPS: [&str; 3] = ["trained", "untrained E", "inhibitory"];
const RASTER_COLORS: [&str; 3] = [role::TRAINED, role::UNTRAINED, role::OTHER];

/// One group's spikes in one condition's raster: (ms, row counted from the top).
fn raster_points(m: &Measured, condition: usize, group: &str) -> Vec<[f64; 2]> {
    let rows = m.raster_neurons.len();
    m.raster[condition]
        .iter()
        .filter(|(_, row)| raster_group(m, *row as usize) == group)
        .map(|(ms, row)| [*ms, (rows - *row as usize) as f64])
        .collect()
}

fn raster_group(m: &Measured, row: usize) -> &'static str {
    let neuron = m.raster_neurons[row];
    if m.trained.contains(&neuron) {
        RASTER_GROUPS[0]
    } else if neuron < m.n_e {
        RASTER_GROUPS[1]
    } else {
        RASTER_GROUPS[2]
    }
}

/// A condition's spikes: one dot per spike, trained neurons on top (red), then untrained
/// excitatory (blue) and inhibitory (grey) ones.
fn raster_plot(m: &Measured, condition: usize) -> PlotExport {
    PlotExport {
        note: "top: trained, middle: untrained excitatory, bottom: inhibitory".into(),
        ..PlotExport::new(
            format!("subset-raster-{}", ["a", "b"][condition]),
            format!("Spikes, condition {} (g = {}, f = {})", ["A", "B"][condition], m.row.g, m.row.fraction),
            "time after the cue's onset (ms)",
            "neuron",
            PlotData::Scatter(
                RASTER_GROUPS
                    .iter()
                    .zip(RASTER_COLORS)
                    .map(|(g, color)| Curve::new(*g, raster_points(m, condition, g)).color(color).thin())
                    .collect(),
            ),
        )
    }
}

/// The trained and the untrained units' mean selective variance after each loop.
fn live_plot(output: Option<&SubsetOutput>) -> PlotExport {
    let live = output.map_or(&[][..], |o| &o.live_spread[..]);
    let trained = live.iter().map(|(l, s)| [*l as f64, s.selective_trained]).collect();
    let untrained = live.iter().map(|(l, s)| [*l as f64, s.selective_untrained]).collect();
    PlotExport {
        note: "probes of 4 test trials per condition every 10 RLS loops or 100 BPTT steps".into(),
        ..PlotExport::new(
            "subset-live-variance",
            "Selective variance while training",
            "training loop (RLS trial or BPTT step)",
            "selective variance",
            PlotData::Lines(vec![
                Curve::new("trained", trained).color(RASTER_COLORS[0]),
                Curve::new("untrained", untrained).color(RASTER_COLORS[1]),
            ]),
        )
    }
}

/// The three groups drawn: the first trained units, and the untrained excitatory and the
/// inhibitory units with the largest task variance.
fn unit_groups(m: &Measured) -> [(&'static str, Vec<usize>); 3] {
    let n = m.variance.len();
    let most_variable = |units: Vec<usize>| {
        let mut scored: Vec<(usize, f64)> = units.into_iter().map(|i| (i, m.variance[i])).collect();
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

/// The spiking network's trial-averaged 10 ms bins are drawn averaged over this many bins.
const SPIKING_SMOOTH_BINS: usize = 5;

/// One unit's trial-averaged rate in one condition: (time in ms, rate); the spiking network's
/// as a 50 ms moving average.
fn trace(m: &Measured, unit: usize, condition: usize) -> Vec<[f64; 2]> {
    let values: Vec<f64> = m.means[condition].iter().map(|rates| rates[unit]).collect();
    let half = if m.raster.is_empty() { 0 } else { SPIKING_SMOOTH_BINS / 2 };
    (0..values.len())
        .map(|s| {
            let window = &values[s.saturating_sub(half)..(s + half + 1).min(values.len())];
            [m.first_ms + s as f64 * m.record_ms, window.iter().sum::<f64>() / window.len() as f64]
        })
        .collect()
}

/// Each unit's trial-averaged rate in its palette colour: condition A solid, B dashed.
fn rates_plot(m: &Measured, title: &str, units: &[usize]) -> PlotExport {
    let curve = |k: usize, unit: usize, c: usize| {
        let curve = Curve::new(format!("unit {unit} condition {}", ["A", "B"][c]), trace(m, unit, c)).color(figure::style(k).color);
        if c == 1 { curve.dashed() } else { curve }
    };
    let curves = units.iter().enumerate().flat_map(|(k, u)| (0..2).map(move |c| curve(k, *u, c))).collect();
    PlotExport {
        note: "trial-averaged rates".into(),
        ..PlotExport::new(
            format!("subset-{}", title.to_lowercase().replace(' ', "-")),
            format!("{title} (g = {}, f = {})", m.row.g, m.row.fraction),
            "time (ms)",
            "rate",
            PlotData::Lines(curves),
        )
    }
}

/// One series per (trained fraction, training).
fn history_series(history: &[Point]) -> Vec<(String, Vec<[f64; 2]>)> {
    let mut series: Vec<(String, Vec<[f64; 2]>)> = Vec::new();
    for p in history {
        let label = format!("{} f = {} ({})", p.model.name(), p.fraction, p.training.name());
        match series.iter_mut().find(|(l, _)| *l == label) {
            Some((_, points)) => points.push([p.g, p.spread]),
            None => series.push((label, vec![[p.g, p.spread]])),
        }
    }
    series
}

/// Every run so far as a point, one colour per (model, trained fraction, training).
fn history_plot(history: &[Point]) -> PlotExport {
    PlotExport::new(
        "subset-spread",
        "Spread ratio against coupling g",
        "coupling g",
        "spread ratio",
        PlotData::Scatter(history_series(history).into_iter().map(|(name, points)| Curve::new(name, points)).collect()),
    )
}

impl Panel for SubsetPanel {
    /// `g = NUMBER` sets the next run's coupling; `run = "subset"` presses Run (a run already
    /// going on goes on).
    fn act(&mut self, action: &lesson::Action, _jobs: &mut JobHost) -> bool {
        match action {
            lesson::Action::G(g) => self.set_g(*g),
            lesson::Action::Run(lesson::PanelRun::Subset) => self.run_requested = true,
            _ => return false,
        }
        true
    }

    fn title(&self) -> &'static str {
        "Subset training"
    }

    fn help(&self) -> &'static str {
        "Only a few neurons of a cortical circuit may be shaped by learning, yet task activity shows up in many \
         (Kim, Finkelstein, Chow, Svoboda & Darshan 2023). Here an E/I network is wired at random: 800 rate units with \
         40 inputs from each population, or the paper's spiking network (2 000 integrate-and-fire neurons, 200 inputs \
         from each population), of strength g. A fraction f of the excitatory units is trained to ramp up or down \
         depending on the condition (two conditions, like a mouse preparing to lick left or right); nobody trains the \
         others. The plots show trained units, untrained excitatory units and inhibitory units (condition A solid, B \
         dashed; for the spiking network also one trial's spikes): with weak coupling the untrained units stay flat; \
         with strong coupling they ramp too. Why they can: in a strongly coupled network each unit's large excitatory \
         and inhibitory inputs cancel (the 'balanced' state), so the small remainder that drives it is set by the \
         network's activity, and a change in a few units is passed on and amplified instead of being swamped by the \
         external drive. The spread ratio is the untrained units' selective variance (how much their rates differ between the conditions) over the trained units'. 'clamp' holds \
         the subset on its targets (an ideally trained subset); 'rls' trains its plastic inputs by recursive least \
         squares, as the paper did (the rate network's RLS settles at weak coupling only; modulab's rate network is \
         chaotic at strong coupling and its fluctuations hide the ramp: README); 'bptt' has the engine's own network, \
         wired the same way, learn the quick preset's four tasks by backpropagation through time with only the subset \
         plastic (conditions A and B are then two trials of the first task). `modulab sweep subset` measures this \
         over g, f and seeds."
    }

    fn logic(&mut self, _ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        self.poll(cx);
        if std::mem::take(&mut self.run_requested) && !self.running() {
            self.start(cx);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        self.controls_ui(ui, cx);
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
            Point { g: 0.1, fraction: 0.1, training: Training::Clamp, model: SubsetModel::Rate, spread: 0.001 },
            Point { g: 1.0, fraction: 0.1, training: Training::Clamp, model: SubsetModel::Rate, spread: 0.3 },
            Point { g: 1.0, fraction: 0.2, training: Training::Rls, model: SubsetModel::Spiking, spread: 0.2 },
        ];
        let series = history_series(&history);
        assert_eq!(series.len(), 2);
        assert_eq!(series[0], ("rate f = 0.1 (clamp)".to_string(), vec![[0.1, 0.001], [1.0, 0.3]]));
        let csv = history_plot(&history).to_csv();
        assert!(csv.contains("spiking f = 0.2 (rls),1,0.2"), "{csv}");
    }
}
