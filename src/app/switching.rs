//! The Switching panel (docs/MODEL.md §2 time scales): switch the task cue mid-trial and watch how
//! fast each pathway lets the network follow, as a function of each pathway's context time
//! constant τ. The test runs on the worker, on a frozen copy of the current network.

use std::sync::Arc;

use eframe::egui;
use egui_plot::{Corner, Legend, Plot};

use super::export::{Curve, PlotData, PlotExport};
use super::plot::{self, Shown};
use super::{Level, Panel, PanelContext, heading_ui};
use crate::config::Config;
use crate::experiments::switching::{DEFAULT_TAUS_MS, DEFAULT_TRIALS, SwitchJob, SwitchResult, SwitchSpec, parse_taus, pathway_color};
use crate::figure::{self, palette::role};
use crate::lesson;
use crate::model::{ContextTaus, Pathway};
use crate::runner::{JobHost, JobId};
use crate::tasks::Task;

/// The sliders' range of τ, in ms.
const TAU_SLIDER_MAX_MS: f32 = 2000.0;
/// The range of the switch time after stimulus onset, in ms.
const AFTER_ONSET_MAX_MS: f32 = 1500.0;

/// The panel's choices (kept while the app runs) and where its plots were drawn.
pub struct SwitchingPanel {
    from: Option<Task>,
    to: Option<Task>,
    /// The τ values to sweep, as typed (ms, comma-separated).
    taus_text: String,
    /// The sliders: one combination of the three time constants.
    combination: ContextTaus,
    /// The run whose `model.context_tau_ms` the sliders were last set from.
    sliders_from: Option<ContextTaus>,
    after_onset_ms: f32,
    /// The pathway whose transients are drawn.
    shown: Pathway,
    perf_rect: egui::Rect,
    transient_rect: egui::Rect,
    /// A lesson pressed Run switch test; it runs once the network is there.
    run_requested: bool,
    /// The latest switch test (a job on the network).
    job: Option<JobId>,
}

impl Default for SwitchingPanel {
    fn default() -> Self {
        Self {
            from: None,
            to: None,
            taus_text: DEFAULT_TAUS_MS.map(|t| t.to_string()).join(", "),
            combination: ContextTaus::INSTANT,
            sliders_from: None,
            after_onset_ms: 0.0,
            shown: Pathway::Bias,
            perf_rect: egui::Rect::NOTHING,
            transient_rect: egui::Rect::NOTHING,
            run_requested: false,
            job: None,
        }
    }
}

/// What τ means, for the sliders' tooltips.
fn tau_tooltip(pathway: Pathway, dt_ms: f32) -> String {
    let what = match pathway {
        Pathway::Bias => "each neuron's threshold (the bias E c)",
        Pathway::Gain => "each neuron's gain (the slope g(c))",
        Pathway::Synaptic => "the recurrent weights (W(c) = W_rec + Σ c_k U_k V_kᵀ)",
    };
    format!(
        "τ of the {} pathway: how slowly {what} follows a change of task cue.\n\n\
         The pathway sees its own copy of the cue, c_{0}, which moves toward the new cue as\n\
         τ dc_{0}/dt = −c_{0} + c(t): after τ ms it has covered 63% of the way, after 3τ 95%.\n\
         0 = at once (so is any τ ≤ dt = {dt_ms} ms at this time step). On ordinary trials the cue never\n\
         changes, so τ changes nothing there; it matters only when the task switches mid-trial.",
        pathway.name()
    )
}

impl Panel for SwitchingPanel {
    /// `run = "switching"`: press Run switch test as soon as the network is there.
    fn act(&mut self, action: &lesson::Action, _jobs: &mut JobHost) -> bool {
        let lesson::Action::Run(lesson::PanelRun::Switching) = action else { return false };
        self.run_requested = true;
        true
    }

    fn title(&self) -> &'static str {
        "Task switching"
    }

    fn help(&self) -> &'static str {
        "In training the task cue (context) never changes within a trial. Here it does: each test \
         trial belongs to the task To (its stimuli, its right answer), but the cue says From until \
         the switch (at the first stimulus onset, plus the delay you set) and To afterwards. Each \
         pathway can follow the new cue at its own speed, set by its time constant τ (hover the \
         sliders). The test gives one pathway a τ while the others follow at once, for each τ in \
         the list, and measures two things: the performance on To after the switch (top plot: the \
         grey line is the performance with the right cue from the start), and how far the hidden \
         activity is from where it would be without the switch, step by step after it (bottom plot: \
         0 = caught up; 1 = as far off as the activity is large). A slow pathway keeps the old \
         task's settings for a while: a long transient, and wrong answers if the trial ends before \
         it settles. Compare which pathway the network relies on: the one whose slowness hurts most."
    }

    fn logic(&mut self, _ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        if self.run_requested
            && let Some(config) = cx.run.config.clone()
        {
            self.run_requested = false;
            self.follow_run(&config);
            if let Err(e) = self.start(cx, &config) {
                cx.files.set_notice(Level::Error, format!("switch test: {e}"));
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        let Some(config) = cx.run.config.clone() else {
            ui.label("Waiting for the network…");
            return;
        };
        self.follow_run(&config);
        self.controls_ui(ui, cx, &config);
        let result = self.result(cx.jobs);
        let result = result.as_deref();
        status_ui(ui, result);
        ui.separator();
        let caption = ui.text_style_height(&egui::TextStyle::Body).max(ui.spacing().interact_size.y) + 2.0 * ui.spacing().item_spacing.y;
        let plot_height = ((ui.available_height() - 2.0 * caption - 24.0) / 2.0).max(100.0);
        perf_plot_ui(ui, cx, result, plot_height, &mut self.perf_rect);
        ui.separator();
        // the transient plot shows a pathway the tested network has
        if let Some(r) = result
            && !r.pathways.iter().any(|s| s.pathway == self.shown)
            && let Some(first) = r.pathways.first()
        {
            self.shown = first.pathway;
        }
        transient_plot_ui(ui, cx, result, &mut self.shown, plot_height, &mut self.transient_rect);
    }
}

impl SwitchingPanel {
    /// Test the current network with the panel's choices.
    fn start(&mut self, cx: &mut PanelContext<'_>, config: &Config) -> Result<(), String> {
        if config.model.pathways.is_empty() {
            return Err("this network has no context pathway: a change of cue changes nothing".into());
        }
        let taus_ms = parse_taus(&self.taus_text)?;
        let (Some(from), Some(to)) = (self.from, self.to) else { return Err("pick the tasks first".into()) };
        let spec = SwitchSpec { from, to, trials: DEFAULT_TRIALS, switch_after_onset_ms: self.after_onset_ms };
        let combination = self.combination;
        cx.jobs.replace_on_network(&mut self.job, "switch test", move |net| {
            SwitchJob::new(net.config, net.params, net.step, &spec, taus_ms, Some(combination)).map_err(|e| e.to_string())
        });
        Ok(())
    }

    /// The latest switch test, as far as it got.
    pub fn result(&self, jobs: &JobHost) -> Option<Arc<SwitchResult>> {
        jobs.output(self.job?)
    }

    /// Keep the choices valid for the current run: tasks it trained, sliders at its configured τ.
    fn follow_run(&mut self, config: &Config) {
        let tasks = &config.train.tasks;
        let default = SwitchSpec::default_for(config);
        if !self.from.is_some_and(|t| tasks.contains(&t)) {
            self.from = Some(default.from);
        }
        if !self.to.is_some_and(|t| tasks.contains(&t)) {
            self.to = Some(default.to);
        }
        if self.sliders_from != Some(config.model.context_tau_ms) {
            self.combination = config.model.context_tau_ms;
            self.sliders_from = Some(config.model.context_tau_ms);
        }
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, config: &Config) {
        let tasks = config.train.tasks.clone();
        ui.horizontal(|ui| {
            task_combo_ui(ui, "From", "switch-from", &mut self.from, &tasks, "The task the cue names before the switch");
            task_combo_ui(ui, "To", "switch-to", &mut self.to, &tasks, "The task of the trials: their stimuli, their right answer, and the cue after the switch. Pick the same task as From for a control without a switch");
            ui.add(egui::Slider::new(&mut self.after_onset_ms, 0.0..=AFTER_ONSET_MAX_MS).text("switch after onset (ms)").step_by(config.tasks.dt_ms as f64))
                .on_hover_text(
                    "When the cue changes: this long after the first stimulus appears (0 = with the stimulus). \
                     A switch after the end of the trial is moved to its last step",
                );
        });
        let parsed = parse_taus(&self.taus_text);
        ui.horizontal(|ui| {
            ui.label("τ values (ms)")
                .on_hover_text("The time constants tried for each pathway, comma-separated; one point per value on the plots");
            ui.add(egui::TextEdit::singleline(&mut self.taus_text).desired_width(240.0).id_salt("switch-taus"))
                .on_hover_text("e.g. 0, 20, 50, 100, 200, 500 (ms). 0 = the pathway follows the new cue at once");
            if let Err(e) = &parsed {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
        ui.horizontal(|ui| {
            ui.label("Your combination").on_hover_text(
                "All three time constants at once, tested as one extra curve (dashed) on the transient plot. \
                 They start at the run's model.context_tau_ms",
            );
            for pathway in Pathway::ALL {
                let mut tau = self.combination.get(pathway);
                let has = config.model.has(pathway);
                let slider = egui::Slider::new(&mut tau, 0.0..=TAU_SLIDER_MAX_MS)
                    .logarithmic(true)
                    .smallest_positive(1.0)
                    .text(format!("τ {}", pathway.name()));
                ui.add_enabled(has, slider)
                    .on_hover_text(tau_tooltip(pathway, config.tasks.dt_ms))
                    .on_disabled_hover_text(format!("This network has no {} pathway (Setup)", pathway.name()));
                self.combination.set(pathway, tau);
            }
        });
        let running = self.result(cx.jobs).is_some_and(|r| r.in_progress());
        ui.horizontal(|ui| {
            let ready = parsed.is_ok() && !config.model.pathways.is_empty();
            let button = ui
                .add_enabled(ready, egui::Button::new("Run switch test"))
                .on_hover_text(format!(
                    "Test a frozen copy of the current network on {DEFAULT_TRIALS} switch trials per point: each pathway at each τ, \
                     then your combination. Training goes on meanwhile"
                ))
                .on_disabled_hover_text(if config.model.pathways.is_empty() {
                    "This network has no context pathway: a change of cue changes nothing"
                } else {
                    "Fix the τ values first"
                });
            if button.clicked()
                && let Err(e) = self.start(cx, config)
            {
                cx.files.set_notice(Level::Error, format!("switch test: {e}"));
            }
            if ui
                .add_enabled(running, egui::Button::new("Cancel switch test"))
                .on_hover_text("Stop; the points computed so far stay")
                .clicked()
            {
                if let Some(id) = self.job {
                    cx.jobs.cancel(id);
                }
                cx.files.set_notice(Level::Info, "switch test cancelled; the points computed so far stay on the plots");
            }
        });
    }
}

fn task_combo_ui(ui: &mut egui::Ui, label: &str, id: &str, value: &mut Option<Task>, tasks: &[Task], tip: &str) {
    ui.label(label).on_hover_text(tip);
    egui::ComboBox::from_id_salt(id)
        .selected_text(value.map_or("–", |t| t.label()))
        .show_ui(ui, |ui| {
            for task in tasks {
                ui.selectable_value(value, Some(*task), task.label()).on_hover_text(task.description());
            }
        })
        .response
        .on_hover_text(tip);
}

fn status_ui(ui: &mut egui::Ui, result: Option<&SwitchResult>) {
    ui.horizontal(|ui| {
        let Some(r) = result else {
            ui.label("No test yet: press Run switch test.");
            return;
        };
        let (done, total) = r.progress();
        let text = if done == total {
            format!("{} to {}, network at step {}", r.from.label(), r.to.label(), r.step)
        } else if r.stopped {
            format!("stopped at {done} / {total}")
        } else {
            format!("{done} / {total}")
        };
        ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(text).desired_width(260.0))
            .on_hover_text("One unit is one pathway at one τ (then your combination)");
        ui.label(format!(
            "switch at {:.0} ms of a {:.0} ms trial; correct without a switch {:.0}%",
            r.switch_step as f32 * r.dt_ms,
            r.steps as f32 * r.dt_ms,
            100.0 * r.perf_unswitched
        ));
        if let Some((taus, Some(o))) = &r.combination {
            ui.label(format!(
                "your combination (τ {:.0}/{:.0}/{:.0} ms): {:.0}% correct, mean distance {:.3}",
                taus.bias,
                taus.gain,
                taus.synaptic,
                100.0 * o.perf,
                o.mean_distance()
            ))
            .on_hover_text("τ of bias / gain / synaptic, and the outcome with all three at once");
        }
    });
}

/// Performance against τ: one line per pathway in its colour, then the no-switch level (dashed
/// grey: the ceiling).
fn perf_plot(result: Option<&SwitchResult>) -> PlotExport {
    let mut series = Vec::new();
    let mut title = "Performance after a switch against tau".to_string();
    if let Some(r) = result {
        title = format!("Performance after a switch from {} to {} against tau (network at step {})", r.from.name(), r.to.name(), r.step);
        for sweep in &r.pathways {
            let points = r.perf_points(sweep).into_iter().map(|(x, y)| [x, y]).collect();
            series.push(Curve::new(sweep.pathway.name(), points).color(pathway_color(sweep.pathway)));
        }
        let hi = r.taus_ms.iter().copied().fold(0.0f32, f32::max) as f64;
        series.push(Curve::new("no switch", vec![[0.0, r.perf_unswitched], [hi, r.perf_unswitched]]).color(role::OTHER).dashed());
    }
    PlotExport::new("switching-perf", title, "tau (ms)", "fraction correct", PlotData::Lines(series))
}

fn perf_plot_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, result: Option<&SwitchResult>, height: f32, rect: &mut egui::Rect) {
    let shown = Shown {
        label: "Performance after the switch against τ",
        hover: "One line per pathway: that pathway slow with time constant τ, the others instant. Grey dashed: the performance \
                with the right cue from the start (the ceiling)",
        rect,
    };
    let plot = Plot::new("switching-perf")
        .height(height)
        .include_x(0.0)
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label("τ (ms)")
        .y_axis_label("fraction correct")
        .allow_scroll(false)
        .legend(Legend::default().position(Corner::RightBottom).follow_insertion_order(true));
    plot::show(ui, cx, shown, &perf_plot(result), plot, false, |_| {});
}

/// One pathway's transients (one line per τ, from yellow for fast to violet for slow), then the
/// combination's (dashed).
fn transient_plot(result: Option<&SwitchResult>, shown: Pathway) -> PlotExport {
    let mut series = Vec::new();
    let mut title = "Distance from the unswitched trajectory after the switch".to_string();
    if let Some(r) = result {
        title = format!(
            "Switching transient of the {} pathway, {} to {} (network at step {})",
            shown.name(),
            r.from.name(),
            r.to.name(),
            r.step
        );
        if let Some(sweep) = r.pathways.iter().find(|s| s.pathway == shown) {
            let count = sweep.outcomes.len();
            for (i, (tau, outcome)) in r.taus_ms.iter().zip(&sweep.outcomes).enumerate() {
                if let Some(o) = outcome {
                    let points = r.transient_points(o).into_iter().map(|(x, y)| [x, y]).collect();
                    series.push(Curve::new(format!("tau {tau} ms"), points).color(tau_color(i, count)));
                }
            }
        }
        if let Some((_, Some(o))) = &r.combination {
            let points = r.transient_points(o).into_iter().map(|(x, y)| [x, y]).collect();
            series.push(Curve::new("your combination", points).color(role::OTHER).dashed());
        }
    }
    PlotExport::new(
        format!("switching-transient-{}", shown.name()),
        title,
        "time after the switch (ms)",
        "distance",
        PlotData::Lines(series),
    )
}

/// The colour (`#rrggbb`) of the `i`-th of `count` τ values: a ramp from yellow (fast) through
/// orange and pink to violet (slow), bright enough on both themes, so the order of the curves
/// reads at a glance.
fn tau_color(i: usize, count: usize) -> String {
    let t = if count > 1 { i as f64 / (count - 1) as f64 } else { 0.0 };
    let [r, g, b] = figure::palette::ramp(&figure::palette::ORDERED, t);
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn transient_plot_ui(
    ui: &mut egui::Ui,
    cx: &mut PanelContext<'_>,
    result: Option<&SwitchResult>,
    shown: &mut Pathway,
    height: f32,
    rect: &mut egui::Rect,
) {
    if let Some(r) = result {
        ui.horizontal(|ui| {
            ui.label("Show the pathway:");
            for sweep in &r.pathways {
                ui.selectable_value(shown, sweep.pathway, sweep.pathway.name())
                    .on_hover_text(format!("Show the transients with the {} pathway slow, one line per τ", sweep.pathway.name()));
            }
        });
    }
    let header = Shown {
        label: "Transient after the switch",
        hover: "Distance of the hidden activity from the same trials without a switch, from the switch on (averaged over trials, \
                divided by the activity's typical size): how long the network takes to settle into the new task. One line per \
                τ of the pathway shown, yellow fast to violet slow; dashed: your combination",
        rect,
    };
    let plot = Plot::new("switching-transient")
        .height(height)
        .include_x(0.0)
        .include_y(0.0)
        .x_axis_label("time after the switch (ms)")
        .y_axis_label("distance")
        .allow_scroll(false)
        .legend(Legend::default().position(Corner::RightTop).follow_insertion_order(true));
    plot::show(ui, cx, header, &transient_plot(result, *shown), plot, false, |_| {});
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::switching::{PathwaySweep, SwitchOutcome};

    #[test]
    fn tau_colours_run_from_the_first_stop_to_the_last() {
        assert_eq!(tau_color(0, 6), "#e6c814");
        assert_eq!(tau_color(5, 6), "#5f5ff0");
        assert_eq!(tau_color(0, 1), "#e6c814");
        // halfway is the middle stop
        assert_eq!(tau_color(2, 5), "#e14b73");
    }

    #[test]
    fn tau_lists_parse_or_say_what_is_wrong() {
        assert_eq!(parse_taus("0, 20,50 ,"), Ok(vec![0.0, 20.0, 50.0]));
        assert!(parse_taus("0, -1").unwrap_err().contains("'-1'"));
        assert!(parse_taus("fast").unwrap_err().contains("'fast'"));
        assert!(parse_taus(" ").unwrap_err().contains("at least one"));
    }

    #[test]
    fn exports_hold_every_computed_point() {
        let outcome = |perf: f64| Some(SwitchOutcome { perf, distance: vec![0.5, 0.25] });
        let result = SwitchResult {
            from: Task::FdGo,
            to: Task::FdAnti,
            step: 7,
            trials: 4,
            dt_ms: 20.0,
            steps: 10,
            switch_step: 8,
            taus_ms: vec![0.0, 100.0],
            perf_unswitched: 1.0,
            pathways: vec![PathwaySweep { pathway: Pathway::Gain, outcomes: vec![outcome(1.0), None] }],
            combination: Some((ContextTaus::only(Pathway::Gain, 30.0), outcome(0.5))),
            stopped: false,
        };
        let perf = perf_plot(Some(&result));
        assert!(perf.title.contains("from fdgo to fdanti"), "{}", perf.title);
        assert_eq!(perf.to_csv(), "series,tau (ms),fraction correct\ngain,0,1\nno switch,0,1\nno switch,100,1\n");
        let transient = transient_plot(Some(&result), Pathway::Gain);
        assert_eq!(
            transient.to_csv(),
            "series,time after the switch (ms),distance\ntau 0 ms,0,0.5\ntau 0 ms,20,0.25\nyour combination,0,0.5\nyour combination,20,0.25\n"
        );
        assert_eq!(perf_plot(None).to_csv(), "series,tau (ms),fraction correct\n");
    }
}
