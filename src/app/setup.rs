//! The Setup panel: what network to train on which tasks, with which context pathways.

use eframe::egui;
use egui_plot::{Bar, BarChart, GridMark, Plot};

use super::lesson::Control;
use super::{Panel, PanelContext, guides, heading_ui};
use crate::config::{self, Config};
use crate::model::{Activation, Pathway, TauDistribution};
use crate::runner::{Command, RunState};
use crate::tasks::Task;

/// The task families in Yang's order.
const FAMILIES: [&str; 5] = ["Go", "Anti", "Decision making", "Delayed decision making", "Matching"];

#[derive(Default)]
pub struct SetupPanel {
    /// A preset that failed to load (shown under the picker).
    preset_error: Option<String>,
}

/// Plain words and the equation for each pathway.
pub fn pathway_tooltip(pathway: Pathway) -> &'static str {
    match pathway {
        Pathway::Bias => {
            "Bias (excitability, additive). Each task shifts every neuron's input by its own learned \
             amount, as if a neuromodulator made some neurons easier and others harder to excite. \
             This is Yang et al.'s 'rule input'.\n\nz_t = W r_{t-1} + W_in u_t + b + E c"
        }
        Pathway::Gain => {
            "Gain (excitability, multiplicative). Each task turns every neuron's sensitivity up or \
             down: the slope of its input-output curve changes, not its threshold.\n\n\
             pre_t = g(c) ⊙ z_t,   g(c) = 1 + G c\n\n\
             Under Dale's law the gain is max(0, 1 + G c): a negative gain would turn the sign of \
             every input a neuron receives around."
        }
        Pathway::Synaptic => {
            "Synaptic (connection strength). Each task adds its own small low-rank change to the \
             recurrent weights, so the wiring itself depends on the task.\n\n\
             W(c) = W_rec + Σ_k c_k U_k V_kᵀ   (rank r)"
        }
    }
}

fn activation_name(a: Activation) -> &'static str {
    match a {
        Activation::Relu => "relu",
        Activation::Softplus => "softplus",
        Activation::Tanh => "tanh",
    }
}

impl Panel for SetupPanel {
    fn title(&self) -> &'static str {
        "Setup"
    }

    fn help(&self) -> &'static str {
        "Choose the network and what it learns. The tasks are Yang et al.'s battery: on every \
         trial the network sees stimuli on two rings of inputs and a fixation cue, and must either \
         keep fixating or point at the right place. The network is told which task it is doing \
         only through its context pathways: a bias, a gain or a synaptic change per task. With no \
         pathway it cannot tell the tasks apart.\n\nChanging the network or the tasks needs a new \
         run; lesions apply at once to the current network."
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        ui.separator();
        if !cx.hides(Control::Preset) {
            self.preset_ui(ui, cx);
        }
        restart_ui(ui, cx);
        // the sections an open lesson does not hide, each after a separator
        if !cx.hides(Control::Network) {
            ui.separator();
            network_ui(ui, cx.draft);
            time_constants_ui(ui, cx);
        }
        if !cx.hides(Control::Pathways) {
            ui.separator();
            pathways_ui(ui, cx.draft);
        }
        if !cx.hides(Control::Lesions) {
            ui.separator();
            lesions_ui(ui, cx);
        }
        if !cx.hides(Control::Training) {
            ui.separator();
            training_settings_ui(ui, cx.draft);
        }
        if !cx.hides(Control::Tasks) {
            ui.separator();
            tasks_ui(ui, cx.draft);
        }
    }
}

impl SetupPanel {
    fn preset_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        ui.horizontal(|ui| {
            ui.label("Preset").on_hover_text("A ready-made configuration; pick one to load all its settings");
            let selected = if cx.preset.is_empty() { "custom" } else { cx.preset.as_str() };
            egui::ComboBox::from_id_salt("preset")
                .selected_text(selected.to_string())
                .show_ui(ui, |ui| {
                    for (name, text) in config::PRESETS {
                        let summary = config::preset_summary(text).split_once(": ").map_or("", |(_, d)| d);
                        if ui.selectable_label(cx.preset.as_str() == *name, *name).on_hover_text(summary).clicked() {
                            match Config::from_preset(name, &[]) {
                                Ok(config) => {
                                    *cx.draft = config;
                                    *cx.preset = name.to_string();
                                    self.preset_error = None;
                                }
                                Err(e) => self.preset_error = Some(e.to_string()),
                            }
                        }
                    }
                })
                .response
                .on_hover_text("Load a preset: quick is the first run (4 tasks, learns in about a minute)");
        });
        if let Some(error) = &self.preset_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if let Some(guide) = guides::preset_guide(cx.preset) {
            egui::CollapsingHeader::new(format!("What am I looking at? (preset {})", cx.preset))
                .id_salt("preset-guide")
                .default_open(cx.settings.help_open)
                .show(ui, |ui| {
                    ui.label(guide);
                })
                .header_response
                .on_hover_text("What this preset's network is, the biology behind it, and what to look for");
        }
    }
}

/// When the draft differs from the running network: say so and offer a restart.
fn restart_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
    let started = cx.run.step > 0 || !matches!(cx.run.state, RunState::Ready);
    let differs = cx.run.config.as_ref().is_some_and(|c| c != cx.draft);
    // an invalid draft is never applied: say why, trained or not
    let invalid = cx.draft.validate().is_err();
    if !(differs && (started || invalid)) {
        return;
    }
    ui.add_space(4.0);
    match cx.draft.validate() {
        Ok(()) => {
            ui.colored_label(ui.visuals().warn_fg_color, "These settings need a new network.");
            ui.horizontal(|ui| {
                if ui
                    .button("Restart with these settings")
                    .on_hover_text("Throw away the current network and start a fresh run with the settings below")
                    .clicked()
                {
                    cx.commands.push(Command::Reset(Box::new(cx.draft.clone())));
                }
                if ui.button("Undo changes").on_hover_text("Go back to the settings of the current run").clicked()
                    && let Some(config) = &cx.run.config
                {
                    *cx.draft = config.clone();
                }
            });
        }
        Err(problem) => {
            ui.colored_label(ui.visuals().error_fg_color, problem.to_string());
        }
    }
}

fn network_ui(ui: &mut egui::Ui, draft: &mut Config) {
    ui.strong("Network");
    egui::Grid::new("network").num_columns(2).show(ui, |ui| {
        ui.label("Units").on_hover_text(
            "Number of recurrent neurons N: more units hold more tasks (the Packing tab measures how many), and each step costs more",
        );
        ui.add(egui::DragValue::new(&mut draft.model.n_units).range(4..=1024).speed(1.0))
            .on_hover_text("Number of recurrent neurons N. More units hold more tasks but train more slowly.");
        ui.end_row();

        ui.label("Activation")
            .on_hover_text("The neurons' input-output function φ: it shapes which dynamics the network can form (relu as Yang et al.)");
        egui::ComboBox::from_id_salt("activation")
            .selected_text(activation_name(draft.model.activation))
            .show_ui(ui, |ui| {
                for a in [Activation::Relu, Activation::Softplus, Activation::Tanh] {
                    ui.selectable_value(&mut draft.model.activation, a, activation_name(a));
                }
            })
            .response
            .on_hover_text("φ: relu (Yang's default) max(0, x); softplus log(1 + eˣ); tanh");
        ui.end_row();
    });
    ui.checkbox(&mut draft.model.dale, "Dale's law (E and I cells)").on_hover_text(
        "Real neurons are either excitatory or inhibitory: all of a cell's synapses share one sign. With this on, \
         the first units are excitatory and the rest inhibitory, W_rec = max(0, W̃)·diag(±1), so each unit's \
         outgoing weights keep their sign through training, and the outputs are read from the excitatory units \
         (Song, Yang & Wang 2016).",
    );
    if !draft.model.dale {
        // cell-type-specific modulation needs cell types: back to every cell and synapse
        draft.model.bias_cells = crate::model::CellTarget::All;
        draft.model.gain_cells = crate::model::CellTarget::All;
        draft.model.synaptic_blocks = crate::model::SynapticBlock::ALL.to_vec();
    }
    if draft.model.dale {
        ui.horizontal(|ui| {
            ui.label("Excitatory fraction");
            let n = draft.model.n_units;
            ui.add(egui::Slider::new(&mut draft.model.excitatory_fraction, 0.05..=0.95).step_by(0.05)).on_hover_text(format!(
                "The share of excitatory cells (cortex: about 0.8, Song et al.'s 4:1). Now {} E and {} I of {n} units.",
                draft.model.n_excitatory(),
                n.saturating_sub(draft.model.n_excitatory())
            ));
        });
    }
}

fn tau_distribution_name(d: TauDistribution) -> &'static str {
    match d {
        TauDistribution::Single => "one τ for all",
        TauDistribution::LogUniform => "log-uniform",
        TauDistribution::Gamma => "Gamma (shape 3)",
    }
}

/// Each unit's time constant: one for all, or drawn per unit (and trained); with the τ histogram.
fn time_constants_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
    let dt = cx.draft.tasks.dt_ms;
    let model = &mut cx.draft.model;
    ui.horizontal(|ui| {
        ui.label("Time constants").on_hover_text(
            "How fast each unit forgets: its rate relaxes toward its input with time constant τ (α = dt/τ per step). \
             Real neurons differ widely; heterogeneous τ can help networks hold information over several time scales \
             (Perez-Nieves et al. 2021).",
        );
        egui::ComboBox::from_id_salt("tau-distribution")
            .selected_text(tau_distribution_name(model.tau_distribution))
            .show_ui(ui, |ui| {
                for d in TauDistribution::ALL {
                    let tip = match d {
                        TauDistribution::Single => "Every unit has the same τ (Yang et al.'s network)",
                        TauDistribution::LogUniform => {
                            "τ_i drawn so that every octave between the bounds has as many units: fast and slow cells"
                        }
                        TauDistribution::Gamma => "τ_i drawn around the mean τ, skewed toward slow cells (shape 3), clipped to the bounds",
                    };
                    ui.selectable_value(&mut model.tau_distribution, d, tau_distribution_name(d)).on_hover_text(tip);
                }
            })
            .response
            .on_hover_text("One τ for all units, or a τ_i per unit drawn from the seed");
        if model.tau_distribution != TauDistribution::LogUniform {
            let label = if model.tau_distribution == TauDistribution::Gamma { "mean τ" } else { "τ" };
            ui.label(label);
            ui.add(egui::DragValue::new(&mut model.tau_ms).range(dt..=5000.0).speed(1.0).suffix(" ms"))
                .on_hover_text(format!("The time constant in ms (at least dt = {dt} ms); Yang et al. used 100 ms"));
        }
    });
    if model.tau_distribution != TauDistribution::Single || model.tau_trainable {
        ui.horizontal(|ui| {
            ui.label("τ range");
            let hi = model.tau_max_ms;
            ui.add(egui::DragValue::new(&mut model.tau_min_ms).range(dt..=hi).speed(1.0).suffix(" ms"))
                .on_hover_text("The shortest τ_i (drawn and trained), at least dt");
            ui.label("to");
            let lo = model.tau_min_ms;
            ui.add(egui::DragValue::new(&mut model.tau_max_ms).range(lo..=10_000.0).speed(2.0).suffix(" ms"))
                .on_hover_text("The longest τ_i (drawn and trained)");
        });
    }
    ui.checkbox(&mut model.tau_trainable, "Train τ").on_hover_text(
        "Let training tune each unit's τ_i (as log τ, kept within the range): the network chooses its own fast and slow cells",
    );
    if !model.per_unit_tau() {
        return;
    }
    // the running network's τ_i when it is the network these settings describe; else a sample
    let network =
        cx.run.snapshot.as_ref().and_then(|s| s.unit_taus.clone()).filter(|_| cx.run.config.as_ref().is_some_and(|c| c.model == *model));
    let (taus, caption) = match network {
        Some(taus) => ((*taus).clone(), format!("The network's τ_i at step {}", cx.run.step)),
        None => {
            let mut rng = crate::rng::Rng::seed_from(cx.draft.train.seed);
            let draw = crate::model::params::draw_log_tau(model, model.n_units, &mut rng);
            (draw.iter().map(|l| l.exp()).collect(), "A draw of this distribution (the network's own appears once it is built)".to_string())
        }
    };
    tau_histogram_ui(ui, &taus, model.tau_min_ms, model.tau_max_ms, &caption);
}

/// A histogram of τ_i on a logarithmic axis between the bounds.
fn tau_histogram_ui(ui: &mut egui::Ui, taus: &[f32], lo: f32, hi: f32, caption: &str) {
    const BINS: usize = 16;
    let (a, b) = ((lo.max(1e-3) as f64).log10(), (hi.max(lo * 1.001) as f64).log10());
    let width = (b - a) / BINS as f64;
    let mut counts = [0usize; BINS];
    for t in taus {
        let bin = (((*t as f64).log10() - a) / width).floor().clamp(0.0, (BINS - 1) as f64) as usize;
        counts[bin] += 1;
    }
    ui.weak(caption).on_hover_text("How many units have each time constant (logarithmic axis)");
    let bars = counts.iter().enumerate().map(|(i, c)| Bar::new(a + (i as f64 + 0.5) * width, *c as f64).width(width * 0.9)).collect();
    Plot::new("tau-histogram")
        .height(90.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .include_y(0.0)
        .x_axis_label("τ (ms)")
        .y_axis_label("units")
        // ticks at round times, labelled in ms
        // ticks at the bounds and at round times between them, labelled in ms
        .x_grid_spacer(move |_| {
            let inside = |x: &f64| *x > a + 0.1 * (b - a) && *x < b - 0.1 * (b - a);
            let round = [10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0].map(|ms: f64| ms.log10());
            [a, b].into_iter().chain(round.into_iter().filter(inside)).map(|value| GridMark { value, step_size: 1.0 }).collect()
        })
        .x_axis_formatter(|mark, _| format!("{:.0}", 10f64.powf(mark.value)))
        .show(ui, |plot_ui| {
            plot_ui.bar_chart(BarChart::new("units", bars).color(super::widgets::color(crate::figure::palette::role::UNITS)))
        });
}

fn pathways_ui(ui: &mut egui::Ui, draft: &mut Config) {
    ui.strong("Context pathways").on_hover_text("How the network is told which task to do. Any combination, including none.");
    for pathway in Pathway::ALL {
        let mut on = draft.model.has(pathway);
        ui.horizontal(|ui| {
            if ui.checkbox(&mut on, pathway.name()).on_hover_text(pathway_tooltip(pathway)).changed() {
                if on {
                    draft.model.pathways.push(pathway);
                    draft.model.pathways.sort();
                } else {
                    draft.model.pathways.retain(|p| *p != pathway);
                }
            }
            if on && draft.model.dale {
                cell_target_ui(ui, &mut draft.model, pathway);
            }
        });
    }
    if draft.model.has(Pathway::Synaptic) {
        ui.horizontal(|ui| {
            ui.label("Synaptic rank").on_hover_text("The rank r of each task's change U_k V_kᵀ: a higher rank lets a task reshape the connections more freely, with more parameters");
            ui.add(egui::DragValue::new(&mut draft.model.synaptic_rank).range(1..=16))
                .on_hover_text("The rank r of each task's weight change U_k V_kᵀ: 1 is one direction per task");
        });
    }
    if draft.model.pathways.is_empty() {
        ui.weak("No pathway: the network cannot tell the tasks apart.");
    }
}

/// Under Dale's law, which cells a pathway acts on (bias, gain) or which synapses (synaptic).
fn cell_target_ui(ui: &mut egui::Ui, model: &mut crate::model::ModelConfig, pathway: Pathway) {
    use crate::model::{CellTarget, SynapticBlock};
    let tip = "Cell-type-specific neuromodulation (Rodriguez-Garcia, Mei & Ramaswamy 2024): neuromodulators act on \
               particular cell types. Restrict this pathway to excitatory (E) or inhibitory (I) cells and see which \
               tasks still learn.";
    let target = match pathway {
        Pathway::Bias => &mut model.bias_cells,
        Pathway::Gain => &mut model.gain_cells,
        Pathway::Synaptic => {
            ui.label("on").on_hover_text(tip);
            for (block, label) in SynapticBlock::ALL.into_iter().zip(["E->E", "E->I", "I->E", "I->I"]) {
                let mut on = model.synaptic_blocks.contains(&block);
                let changed = ui
                    .checkbox(&mut on, label)
                    .on_hover_text(format!("Let the context change the synapses {label} (presynaptic -> postsynaptic). {tip}"))
                    .changed();
                // at least one block stays on
                if changed && (on || model.synaptic_blocks.len() > 1) {
                    model.synaptic_blocks.retain(|b| *b != block);
                    if on {
                        model.synaptic_blocks.push(block);
                        model.synaptic_blocks.sort();
                    }
                }
            }
            return;
        }
    };
    egui::ComboBox::from_id_salt(("cells", pathway.name()))
        .selected_text(format!("on {} cells", target.name()))
        .show_ui(ui, |ui| {
            for t in [CellTarget::All, CellTarget::Excitatory, CellTarget::Inhibitory] {
                ui.selectable_value(target, t, t.name());
            }
        })
        .response
        .on_hover_text(tip);
}

fn lesions_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
    ui.strong("Lesions (test time)").on_hover_text(
        "Switch a trained pathway off when testing: its contribution is replaced by what it gives \
         for no context (c = 0). Training is not affected. Applies at once.",
    );
    let active: Vec<Pathway> = cx.run.config.as_ref().map(|c| c.model.pathways.clone()).unwrap_or_default();
    if active.is_empty() {
        ui.weak("The current network has no pathway to lesion.");
        return;
    }
    let mut changed = false;
    for pathway in active {
        let mut lesioned = cx.lesions.contains(&pathway);
        let label = format!("Lesion {}", pathway.name());
        let tip = format!(
            "Test the network with its {} pathway removed; the bar chart shows the result next to the intact network",
            pathway.name()
        );
        if ui.checkbox(&mut lesioned, label).on_hover_text(tip).changed() {
            changed = true;
            if lesioned {
                cx.lesions.push(pathway);
                cx.lesions.sort();
            } else {
                cx.lesions.retain(|p| *p != pathway);
            }
        }
    }
    if changed {
        cx.commands.push(Command::SetLesions(cx.lesions.clone()));
    }
}

fn training_settings_ui(ui: &mut egui::Ui, draft: &mut Config) {
    ui.strong("Training");
    egui::Grid::new("training-settings").num_columns(2).show(ui, |ui| {
        ui.label("Learning rate")
            .on_hover_text("Adam's step size: larger learns faster but can overshoot and diverge (Yang et al. used 0.001)");
        ui.add(egui::DragValue::new(&mut draft.train.learning_rate).range(1e-5..=1e-1).speed(1e-4).max_decimals(5))
            .on_hover_text("Adam's step size: larger learns faster but may become unstable (try 1e-3 to 3e-3)");
        ui.end_row();

        ui.label("Batch size")
            .on_hover_text("Trials per optimiser step (all of one task): a larger batch gives a smoother gradient and costs more per step");
        ui.add(egui::DragValue::new(&mut draft.train.batch_size).range(1..=512))
            .on_hover_text("Trials per optimiser step; all trials of a batch belong to one task");
        ui.end_row();

        ui.label("Steps").on_hover_text("Optimiser steps in the run");
        ui.add(egui::DragValue::new(&mut draft.train.steps).range(1..=1_000_000).speed(10.0))
            .on_hover_text("Optimiser steps in the run (one batch of one task each)");
        ui.end_row();

        ui.label("Evaluate every")
            .on_hover_text("Steps between two evaluations on fresh test trials: more often draws finer curves and slows training a little");
        ui.add(egui::DragValue::new(&mut draft.train.eval_every).range(1..=100_000).suffix(" steps"))
            .on_hover_text("Steps between two evaluations on fresh trials of every task");
        ui.end_row();

        ui.label("Seed")
            .on_hover_text("The random seed: the same seed and settings give the same initial weights, trials and results, step for step");
        ui.add(egui::DragValue::new(&mut draft.train.seed))
            .on_hover_text("Seed of every random draw (weights, trials, noise): the same seed gives the same run");
        ui.end_row();
    });
}

fn tasks_ui(ui: &mut egui::Ui, draft: &mut Config) {
    ui.strong("Tasks").on_hover_text("The tasks trained together; each gets its own context vector");
    ui.horizontal(|ui| {
        let encoding = draft.tasks.encoding;
        if ui.small_button("All").on_hover_text("Train every task of the battery").clicked() {
            draft.train.tasks = Task::all_for(encoding);
        }
        if ui.small_button("Only the first").on_hover_text("Train only the first selected task").clicked() {
            draft.train.tasks.truncate(1);
        }
        ui.weak(format!("{} of {} selected", draft.train.tasks.len(), Task::all_for(encoding).len()));
    });
    for family in FAMILIES {
        let members: Vec<Task> = Task::ALL.into_iter().filter(|t| t.family() == family).collect();
        let selected = members.iter().filter(|t| draft.train.tasks.contains(t)).count();
        egui::CollapsingHeader::new(format!("{family} ({selected}/{})", members.len()))
            .id_salt(("family", family))
            .default_open(selected > 0)
            .show(ui, |ui| {
                for task in members {
                    let mut on = draft.train.tasks.contains(&task);
                    let supported = task.supports(draft.tasks.encoding);
                    let label = format!("{} ({})", task.label(), task.name());
                    let response = ui
                        .add_enabled(supported, egui::Checkbox::new(&mut on, label))
                        .on_hover_text(task.description())
                        .on_disabled_hover_text("Not well posed in the compact encoding");
                    if response.changed() {
                        if on {
                            draft.train.tasks.push(task);
                            draft.train.tasks.sort_by_key(|t| t.index());
                        } else if draft.train.tasks.len() > 1 {
                            draft.train.tasks.retain(|t| *t != task);
                        }
                    }
                }
            })
            .header_response
            .on_hover_text(format!("The {family} tasks; hover a task for what the network must do"));
    }
}
