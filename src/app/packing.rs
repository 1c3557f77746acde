//! The Packing panel (docs/MODEL.md §4B): a small task-packing sweep run in the background, its
//! capacity curve and worst-task table filling in as cells finish.
//!
//! The cells are trained by the runner's [`PackingJob`] (the scheduler of `modulab sweep
//! packing`) on a thread of its own; the UI takes its results each frame. The sweep and the
//! training worker would share the same cores, so training is paused while the sweep runs and
//! resumed after it.

use std::time::{Duration, Instant};

use eframe::egui;
use egui_plot::{Corner, Legend, Line, MarkerShape, Plot, PlotPoints, Points};

use super::export::{Curve, ExportFormat, FileJob, PlotData, PlotExport, export_menu_ui, export_menu_with_ui};
use super::plot;
use super::widgets::colormap;
use super::{Level, Panel, PanelContext, heading_ui};
use crate::config::Config;
use crate::experiments::packing::{self, CellResult, PackingPlan, PathwaySet, TaskOrder};
use crate::lesson;
use crate::runner::packing::{PackingJob, PackingOutput};
use crate::runner::{Command, JobHost, JobId, JobState, RunState};

/// How often the progress line (elapsed time, ETA) is redrawn while nothing else happens.
const TICK: Duration = Duration::from_millis(500);

/// The sweep's settings as the user types them (text fields are parsed when Run is pressed).
#[derive(Clone, Debug, PartialEq)]
pub struct PackingForm {
    pub sizes: String,
    pub task_counts: String,
    pub pathways: String,
    pub seeds: u64,
    pub budget_steps: u64,
    pub plateau_steps: u64,
    pub criterion: f64,
    pub order: TaskOrder,
}

impl Default for PackingForm {
    /// 27 cells (3 sizes × 3 task counts × 3 pathway sets, one seed) on the `quick` preset, in
    /// the comparison order, each trained until it stops improving (2 000-step plateau window),
    /// at most 4 000 steps. Through the CLI (`sweep packing` with these settings, release build,
    /// 7 December 2026) it took 442 s of CPU in all (two cells at a time: under 4 minutes on an
    /// idle 2-core machine), and gave capacity 0 without a pathway at every size; 4, 4, 6 at
    /// N = 8, 16, 24 with bias; 4, 4, 4 with bias+synaptic (one seed: the difference a context
    /// pathway makes, not a comparison between the two — the reproduce study makes that).
    fn default() -> Self {
        PackingForm {
            sizes: "8,16,24".into(),
            task_counts: "2,4,6".into(),
            pathways: "none,bias,bias+synaptic".into(),
            seeds: 1,
            budget_steps: 4000,
            plateau_steps: packing::DEFAULT_PLATEAU_STEPS,
            criterion: 0.9,
            order: TaskOrder::Comparison,
        }
    }
}

/// A comma-separated list of positive whole numbers; `what` names it in the error.
fn parse_list(text: &str, what: &str) -> Result<Vec<usize>, String> {
    let values = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("{what}: '{s}' is not a whole number (e.g. 8,16,32)")))
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() {
        return Err(format!("{what}: give at least one value (e.g. 8,16,32)"));
    }
    Ok(values)
}

impl PackingForm {
    /// The plan these settings describe, on the `quick` preset (as `modulab sweep packing`
    /// without --preset); a clear message on the first problem.
    pub fn plan(&self) -> Result<PackingPlan, String> {
        let base = Config::from_preset("quick", &[]).map_err(|e| e.to_string())?;
        let sizes = parse_list(&self.sizes, "sizes")?;
        let task_counts = parse_list(&self.task_counts, "task counts")?;
        let pathway_sets = self
            .pathways
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<PathwaySet>().map_err(|e| format!("pathways: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if self.seeds == 0 {
            return Err("seeds: at least one".into());
        }
        let plan = PackingPlan {
            seeds: (0..self.seeds).map(|i| base.train.seed + i).collect(),
            base,
            sizes,
            task_counts,
            pathway_sets,
            budget_steps: self.budget_steps,
            plateau_steps: self.plateau_steps,
            criterion: self.criterion,
            order: self.order,
        };
        plan.validate().map(|()| plan).map_err(|e| {
            e.to_string()
                .replace("--budget-steps", "the step budget")
                .replace("--plateau-steps", "the plateau window")
                .replace("--criterion", "the criterion")
        })
    }
}

/// How the last sweep ended.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepEnd {
    Finished,
    Cancelled,
    Failed(String),
}

/// The sweep in progress or the last one, and its results.
pub struct PackingPanel {
    form: PackingForm,
    /// The plan of `results` (the last sweep started).
    plan: Option<PackingPlan>,
    /// The sweep under way (a job on the packing lane).
    job: Option<JobId>,
    results: Vec<CellResult>,
    total_cells: usize,
    started: Option<Instant>,
    /// Seconds the last sweep took, once it ended.
    took_secs: Option<f64>,
    end: Option<SweepEnd>,
    /// Training was running when the sweep started (it was paused, and resumes after).
    resume_training: bool,
    capacity_rect: egui::Rect,
    table_rect: egui::Rect,
    /// A lesson pressed Run.
    run_requested: bool,
}

impl Default for PackingPanel {
    fn default() -> Self {
        PackingPanel {
            form: PackingForm::default(),
            plan: None,
            job: None,
            results: Vec::new(),
            total_cells: 0,
            started: None,
            took_secs: None,
            end: None,
            resume_training: false,
            capacity_rect: egui::Rect::NOTHING,
            table_rect: egui::Rect::NOTHING,
            run_requested: false,
        }
    }
}

impl PackingPanel {
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    pub fn results(&self) -> &[CellResult] {
        &self.results
    }

    pub fn end(&self) -> Option<&SweepEnd> {
        self.end.as_ref()
    }

    /// The settings of the next sweep (tests set a tiny one).
    pub fn form_mut(&mut self) -> &mut PackingForm {
        &mut self.form
    }

    /// The capacity curve of the results so far: per pathway set, (size, capacity) points.
    pub fn capacity(&self) -> Vec<(String, Vec<[f64; 2]>)> {
        let criterion = self.plan.as_ref().map_or(self.form.criterion, |p| p.criterion);
        packing::capacity_chart(&self.results, criterion)
            .series
            .into_iter()
            .map(|s| (s.name, s.points.into_iter().map(|(x, y)| [x, y]).collect()))
            .collect()
    }

    fn start(&mut self, cx: &mut PanelContext<'_>) {
        let plan = match self.form.plan() {
            Ok(plan) => plan,
            Err(e) => {
                cx.files.set_notice(Level::Error, format!("packing sweep: {e}"));
                return;
            }
        };
        match cx.jobs.on_thread("modulab-packing", PackingJob::new(plan.clone())) {
            Ok(job) => {
                self.total_cells = plan.cells().len();
                self.plan = Some(plan);
                self.results.clear();
                self.started = Some(Instant::now());
                self.took_secs = None;
                self.end = None;
                self.job = Some(job);
                // the sweep uses every core: training would halve its speed, and its own
                self.resume_training = cx.run.state == RunState::Running;
                if self.resume_training {
                    cx.commands.push(Command::Pause);
                }
            }
            Err(e) => cx.files.set_notice(Level::Error, e),
        }
    }

    /// Every frame, shown or not: take finished cells; when the sweep ends, resume training if it
    /// was paused for it, and say how it ended in the status bar.
    fn poll(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        let Some(job) = self.job else { return };
        let (state, output) = cx.jobs.snapshot::<PackingOutput>(job).unwrap_or((JobState::Cancelled, None));
        if let Some(output) = output {
            self.results.clone_from(&output.results);
        }
        if let JobState::Failed(e) = &state {
            // the host puts the message in the status bar
            self.end = Some(SweepEnd::Failed(e.clone()));
        }
        if !state.ended() {
            // the clock and the time left tick on between cells
            ctx.request_repaint_after(TICK);
            return;
        }
        let cancelled = state == JobState::Cancelled;
        cx.jobs.forget(job);
        self.job = None;
        self.took_secs = self.started.map(|t| t.elapsed().as_secs_f64());
        let done = self.results.len();
        let end = match self.end.take() {
            Some(failed @ SweepEnd::Failed(_)) => failed,
            _ if cancelled || done < self.total_cells => SweepEnd::Cancelled,
            _ => SweepEnd::Finished,
        };
        let text = match &end {
            SweepEnd::Finished => format!("packing sweep done: {done} cells in {:.0} s", self.took_secs.unwrap_or(0.0)),
            SweepEnd::Cancelled => format!("packing sweep cancelled after {done} of {} cells", self.total_cells),
            SweepEnd::Failed(_) => format!("packing sweep stopped after {done} of {} cells", self.total_cells),
        };
        if !matches!(end, SweepEnd::Failed(_)) {
            cx.files.set_notice(Level::Info, text);
        }
        self.end = Some(end);
        if std::mem::take(&mut self.resume_training) {
            cx.commands.push(Command::Start);
        }
    }
}

impl Panel for PackingPanel {
    /// `run = "packing"`: press Run (a sweep already running goes on).
    fn act(&mut self, action: &lesson::Action, _jobs: &mut JobHost) -> bool {
        let lesson::Action::Run(lesson::PanelRun::Packing) = action else { return false };
        self.run_requested = true;
        true
    }

    fn title(&self) -> &'static str {
        "Task packing"
    }

    fn help(&self) -> &'static str {
        "How many tasks fit into a network of N units? Each cell of the sweep trains a fresh network \
         of one size N, with one set of modulation pathways, on the first K tasks of a fixed order, \
         until it stops improving (the plateau window) or the step budget runs out, and is then \
         judged once on fresh trials: it holds its tasks when each scores at least the criterion of \
         the way from chance (always fixating or answering at random) to perfect. A network's \
         capacity is the largest K up to which every K held. The curve plots capacity against size, one line per pathway set: \
         the paper's claim is that combined pathways (e.g. bias+synaptic) pack more tasks into the \
         same number of units. The table shows each cell's worst task at the end. The defaults are \
         a small sweep of one seed (about 4 minutes on 2 cores): without a context pathway (none) \
         no two tasks fit; with one, 4 tasks fit at N = 8 and 16. One seed cannot compare pathway \
         sets: `modulab reproduce` does, with 12 seeds (README, What modulab finds). `modulab sweep \
         packing` runs large sweeps (same table, same figures), also on a cluster."
    }

    fn logic(&mut self, ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        self.poll(ctx, cx);
        if std::mem::take(&mut self.run_requested) && !self.running() {
            self.start(cx);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        self.controls_ui(ui, cx);
        self.progress_ui(ui, cx);
        ui.separator();
        let caption = ui.text_style_height(&egui::TextStyle::Body).max(ui.spacing().interact_size.y) + 2.0 * ui.spacing().item_spacing.y;
        let height = (ui.available_height() - 2.0 * caption - 12.0).max(120.0);
        let width = ui.available_width();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(width * 0.5);
                self.capacity_ui(ui, cx, height);
            });
            ui.separator();
            ui.vertical(|ui| self.table_ui(ui, cx));
        });
    }
}

impl PackingPanel {
    fn controls_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        let running = self.running();
        let form = &mut self.form;
        ui.add_enabled_ui(!running, |ui| {
            let field_height = ui.spacing().interact_size.y;
            egui::Grid::new("packing-form").num_columns(4).spacing([12.0, 4.0]).show(ui, |ui| {
                let label = ui.label("Sizes N");
                ui.add_sized([220.0, field_height], egui::TextEdit::singleline(&mut form.sizes)).labelled_by(label.id).on_hover_text(
                    "Network sizes (recurrent units), comma-separated. Each size is trained separately.",
                );
                let label = ui.label("Task counts K");
                ui.add_sized([220.0, field_height], egui::TextEdit::singleline(&mut form.task_counts)).labelled_by(label.id).on_hover_text(
                    "How many tasks each cell learns at once, comma-separated: a cell with K tasks trains the first K of the order.",
                );
                ui.end_row();
                let label = ui.label("Pathway sets");
                ui.add_sized([220.0, field_height], egui::TextEdit::singleline(&mut form.pathways)).labelled_by(label.id).on_hover_text(
                    "Which modulation pathways carry the task context, comma-separated sets; join pathways with '+' \
                     (bias, gain, synaptic, e.g. bias,synaptic,bias+synaptic).",
                );
                ui.label("Order").on_hover_text("Which tasks a cell with K tasks trains: the first K of this order");
                ui.horizontal(|ui| {
                    for order in [TaskOrder::Families, TaskOrder::Yang, TaskOrder::Comparison] {
                        let tip = match order {
                            TaskOrder::Families => "One task of each family in turn (go, anti, decision, matching, …): small K already mixes different computations",
                            TaskOrder::Yang => "Yang et al.'s order: the go/anti tasks first, then decision making, then matching",
                            TaskOrder::Comparison => "The pathway presets' eight tasks, those a small network learns first: go and anti, reaction, delayed, then matching (which plateau lowest)",
                        };
                        ui.selectable_value(&mut form.order, order, order.name()).on_hover_text(tip);
                    }
                });
                ui.end_row();
                ui.label("Seeds").on_hover_text("Networks per cell, from different random seeds (the curve shows their mean)");
                ui.add(egui::DragValue::new(&mut form.seeds).range(1..=10)).on_hover_text("Networks per cell (different seeds): more seeds give the capacity as a mean with its spread, and take longer");
                ui.label("Step budget").on_hover_text("Training steps a cell gets at most; it stops earlier once it no longer improves (the plateau window)");
                ui.add(egui::DragValue::new(&mut form.budget_steps).range(1..=1_000_000).speed(10.0))
                    .on_hover_text("Training steps per cell at most (evaluated every 100 steps, as in the quick preset)");
                ui.end_row();
                ui.label("Plateau window").on_hover_text("A cell stops once its best mean performance over this many steps is less than 0.01 above its best before them: every cell trains until it has learned what it can, by one rule");
                ui.add(egui::DragValue::new(&mut form.plateau_steps).range(0..=100_000).speed(10.0))
                    .on_hover_text("Steps over which a cell must still improve by 0.01 to keep training (0 = always train the whole budget)");
                ui.end_row();
                ui.label("Criterion").on_hover_text("A cell counts as packed when, judged on fresh trials after training, every one of its tasks scores this far from chance to perfect");
                ui.add(egui::Slider::new(&mut form.criterion, 0.5..=1.0).step_by(0.01))
                    .on_hover_text("Score (perf − chance) / (1 − chance) every task must reach; chance is what always fixating or answering at random scores (0.5 on the matching tasks)");
                ui.end_row();
            });
        });
        let cells = self.form.plan().map(|p| p.cells().len());
        ui.horizontal(|ui| {
            let can_run = !running && cells.is_ok();
            let run_tip = match &cells {
                Ok(n) => format!(
                    "Train all {n} cells in the background on the quick preset's settings, using every core. \
                     Training is paused meanwhile and resumes when the sweep ends."
                ),
                Err(e) => format!("Fix the settings first: {e}"),
            };
            if ui
                .add_enabled(can_run, egui::Button::new("Run"))
                .on_hover_text(run_tip)
                .on_disabled_hover_text(match &cells {
                    Err(e) => format!("Fix the settings first: {e}"),
                    Ok(_) => "A sweep is running".into(),
                })
                .clicked()
            {
                self.start(cx);
            }
            if ui
                .add_enabled(running, egui::Button::new("Cancel"))
                .on_hover_text("Stop the sweep now; the cells finished so far stay in the curve and the table")
                .clicked()
                && let Some(job) = self.job
            {
                cx.jobs.cancel(job);
            }
            match &cells {
                Ok(n) => ui.weak(format!("{n} cells")),
                Err(e) => ui.colored_label(ui.visuals().warn_fg_color, e.as_str()),
            };
            ui.separator();
            let has_results = !self.results.is_empty();
            if ui
                .add_enabled(has_results, egui::Button::new("Save table…"))
                .on_hover_text(
                    "Write the finished cells as packing.csv, the same table as `modulab sweep packing` (size, k, \
                     pathways, seed, steps, stop, perf_min, perf_mean, score_min, met)",
                )
                .clicked()
            {
                let plot = Box::new(self.table_export());
                cx.files.begin(FileJob::Export { format: ExportFormat::Csv, plot, rect: self.table_rect });
            }
        });
    }

    fn progress_ui(&self, ui: &mut egui::Ui, cx: &PanelContext<'_>) {
        if self.total_cells == 0 {
            return;
        }
        ui.horizontal(|ui| {
            let done = self.results.len();
            let fraction = done as f32 / self.total_cells as f32;
            let elapsed = self.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
            let text = match (&self.end, self.running()) {
                (_, true) => format!(
                    "{done} / {} cells, {} elapsed, {}",
                    self.total_cells,
                    duration(elapsed),
                    eta_text(done, self.total_cells, elapsed)
                ),
                (Some(SweepEnd::Finished), _) => format!("done: {done} cells in {}", duration(self.took_secs.unwrap_or(0.0))),
                (Some(SweepEnd::Cancelled), _) => format!("cancelled after {done} of {} cells", self.total_cells),
                (Some(SweepEnd::Failed(e)), _) => format!("stopped after {done} of {} cells: {e}", self.total_cells),
                (None, false) => format!("{done} / {} cells", self.total_cells),
            };
            ui.add(egui::ProgressBar::new(fraction).text(text).desired_width(420.0))
                .on_hover_text("Cells finished of the sweep; the time left is estimated from the cells so far (larger cells take longer)");
            if self.running() {
                if self.resume_training {
                    ui.colored_label(ui.visuals().warn_fg_color, "Training is paused while the sweep runs; it resumes afterwards.")
                        .on_hover_text("The sweep uses every core; training at the same time would slow both down");
                } else if cx.run.state == RunState::Running {
                    ui.colored_label(ui.visuals().warn_fg_color, "Training runs too: both share the cores and go slower.")
                        .on_hover_text("Pause training (Training tab) to give the sweep every core");
                }
            }
        });
    }

    /// The capacity plot: one line per pathway set (the same numbers as `modulab sweep packing`'s
    /// capacity figure). The screen draws sets that share a line widest first.
    fn capacity_plot(&self) -> PlotExport {
        let criterion = self.plan.as_ref().map_or(self.form.criterion, |p| p.criterion);
        PlotExport::new(
            "capacity",
            format!("Capacity: the largest K up to which every task scored {criterion} or better"),
            "network size N",
            "capacity (tasks)",
            PlotData::Lines(self.capacity().into_iter().map(|(name, points)| Curve::new(name, points)).collect()),
        )
    }

    /// The finished cells as `packing.csv`.
    fn table_export(&self) -> PlotExport {
        PlotExport::new(
            "packing",
            "Task packing: every finished cell",
            "number of tasks K",
            "network size N",
            PlotData::Table { csv: packing::to_csv(&self.results), lines: None },
        )
    }

    fn capacity_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, height: f32) {
        let def = self.capacity_plot();
        ui.horizontal(|ui| {
            ui.label("Capacity against network size").on_hover_text(
                "Per pathway set: the largest K up to which every K's cell met the criterion, at each size (mean over \
                 seeds). While a size's cells are still running, its point is provisional. Sets with the same capacity share a \
                 line: the first set is drawn widest underneath, so each stays visible.",
            );
            export_menu_ui(ui, cx.files, self.capacity_rect, || def.clone());
        });
        // the axes span the whole sweep from the start, so they stay put as cells finish
        let plan = self.plan.clone().or_else(|| self.form.plan().ok());
        let max_k = plan.as_ref().and_then(|p| p.task_counts.iter().max().copied()).unwrap_or(1);
        let (min_n, max_n) = plan.as_ref().and_then(|p| Some((*p.sizes.iter().min()?, *p.sizes.iter().max()?))).unwrap_or((1, 1));
        let shown = ui.scope(|ui| {
            Plot::new("packing-capacity")
                .height(height)
                .x_axis_label("network size N (units)")
                .y_axis_label("capacity (tasks)")
                .include_y(0.0)
                .include_y(max_k as f64)
                .include_x(min_n as f64)
                .include_x(max_n as f64)
                .allow_scroll(false)
                .legend(Legend::default().position(Corner::LeftTop))
                .show(ui, |plot_ui| {
                    // capacities are small whole numbers, so sets often share a line: the first is
                    // drawn widest, each next one narrower on top, so that every set stays visible
                    let PlotData::Lines(capacity) = &def.data else { return };
                    let n = capacity.len();
                    for (i, curve) in capacity.iter().enumerate() {
                        let color = plot::curve_color(curve, i);
                        let wider = (n - 1 - i) as f32;
                        let (name, points) = (curve.name.as_str(), &curve.points);
                        plot_ui.line(Line::new(name, PlotPoints::from(points.clone())).width(2.0 + 3.0 * wider).color(color));
                        plot_ui.points(
                            Points::new(name, PlotPoints::from(points.clone()))
                                .radius(4.0 + 3.0 * wider)
                                .shape(MarkerShape::Circle)
                                .color(color),
                        );
                    }
                })
        });
        self.capacity_rect = shown.response.rect;
    }

    fn table_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        ui.horizontal(|ui| {
            ui.label("Worst task after training").on_hover_text(
                "Each finished cell's worst-task performance, judged on fresh trials after training (mean over seeds): \
                 rows are sizes N, columns task counts K, one table per pathway set. Framed, in bold: every seed's cell \
                 met the criterion (every task's score from chance to perfect reached it).",
            );
            let export = self.table_export();
            export_menu_with_ui(ui, cx.files, self.table_rect, false, || export);
        });
        let maps = packing::perf_heat_maps(&self.results);
        let shown = ui.scope(|ui| {
            if maps.panels.is_empty() {
                ui.weak(if self.running() { "waiting for the first cell…" } else { "press Run" });
            }
            egui::ScrollArea::vertical().id_salt("packing-tables").show(ui, |ui| {
                for panel in &maps.panels {
                    ui.strong(&panel.title);
                    egui::Grid::new(("packing-table", &panel.title)).spacing([2.0, 2.0]).show(ui, |ui| {
                        ui.weak("N \\ K");
                        for k in &maps.col_labels {
                            ui.weak(k);
                        }
                        ui.end_row();
                        for (row, size) in panel.values.iter().zip(&maps.row_labels) {
                            ui.weak(size);
                            for (value, k) in row.iter().zip(&maps.col_labels) {
                                match value {
                                    Some(v) => {
                                        let met = self.met(&panel.title, size, k);
                                        let fill = colormap(*v as f32);
                                        let text = egui::RichText::new(format!("{v:.2}")).color(if *v > 0.6 {
                                            egui::Color32::BLACK
                                        } else {
                                            egui::Color32::WHITE
                                        });
                                        // a met cell is framed (and its number bold)
                                        let text = if met { text.strong() } else { text };
                                        let stroke =
                                            if met { egui::Stroke::new(2.0, ui.visuals().strong_text_color()) } else { egui::Stroke::NONE };
                                        egui::Frame::new().fill(fill).stroke(stroke).inner_margin(egui::Margin::symmetric(6, 2)).show(
                                            ui,
                                            |ui| {
                                                ui.label(text).on_hover_text(format!(
                                                    "{} with N = {size}, K = {k}: worst task {v:.2}{}",
                                                    panel.title,
                                                    if met { ", criterion met" } else { "" }
                                                ));
                                            },
                                        );
                                    }
                                    None => {
                                        ui.weak("-").on_hover_text("not finished yet");
                                    }
                                }
                            }
                            ui.end_row();
                        }
                    });
                    ui.add_space(6.0);
                }
            });
        });
        self.table_rect = shown.response.rect;
    }

    /// Whether every seed of the cell (set, size, k) met the criterion.
    fn met(&self, set: &str, size: &str, k: &str) -> bool {
        let cells: Vec<&CellResult> = self
            .results
            .iter()
            .filter(|r| r.cell.pathways.to_string() == set && r.cell.size.to_string() == size && r.cell.k.to_string() == k)
            .collect();
        !cells.is_empty() && cells.iter().all(|r| r.met)
    }
}

/// `75` → `1 min 15 s`.
fn duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    if secs >= 60 { format!("{} min {:02} s", secs / 60, secs % 60) } else { format!("{secs} s") }
}

/// The time left, from the mean time of the cells so far.
fn eta_text(done: usize, total: usize, elapsed_secs: f64) -> String {
    match eta_secs(done, total, elapsed_secs) {
        Some(left) => format!("about {} left", duration(left)),
        None => "estimating the time left…".into(),
    }
}

/// Seconds left if the remaining cells take as long as the finished ones did on average.
pub fn eta_secs(done: usize, total: usize, elapsed_secs: f64) -> Option<f64> {
    (done > 0).then(|| elapsed_secs / done as f64 * total.saturating_sub(done) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::UiWaker;

    #[test]
    fn the_default_form_is_a_valid_27_cell_plan() {
        let plan = PackingForm::default().plan().expect("valid");
        assert_eq!(plan.cells().len(), 27);
        assert_eq!(plan.pathway_sets.iter().map(|s| s.to_string()).collect::<Vec<_>>(), ["none", "bias", "bias+synaptic"]);
        assert_eq!((plan.budget_steps, plan.criterion, plan.seeds.len()), (4000, 0.9, 1));
        assert_eq!(plan.order, TaskOrder::Comparison);
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let form = |edit: fn(&mut PackingForm)| {
            let mut f = PackingForm::default();
            edit(&mut f);
            f.plan().unwrap_err()
        };
        assert!(form(|f| f.sizes = "8,x".into()).contains("sizes: 'x'"));
        assert!(form(|f| f.sizes = " ".into()).contains("at least one"));
        assert!(form(|f| f.task_counts = "2,99".into()).contains("task count 99"));
        assert!(form(|f| f.pathways = "bias,spin".into()).contains("pathways"));
        assert!(form(|f| f.sizes = "0".into()).contains("size 0"));
        assert!(form(|f| f.budget_steps = 0).contains("step budget"));
        assert!(form(|f| f.seeds = 0).contains("seeds"));
    }

    #[test]
    fn eta_scales_the_mean_cell_time() {
        // 3 cells in 30 s: 10 s each, 7 left → 70 s
        assert_eq!(eta_secs(3, 10, 30.0), Some(70.0));
        assert_eq!(eta_secs(0, 10, 5.0), None);
        assert_eq!(eta_secs(10, 10, 5.0), Some(0.0));
        assert_eq!(duration(75.0), "1 min 15 s");
        assert_eq!(duration(9.4), "9 s");
    }

    #[test]
    fn a_tiny_sweep_runs_to_the_end_and_a_cancelled_one_stops_at_once() {
        let mut form = PackingForm {
            sizes: "8".into(),
            task_counts: "1,2".into(),
            pathways: "bias".into(),
            budget_steps: 4,
            ..PackingForm::default()
        };
        let plan = form.plan().expect("plan");
        let mut jobs = JobHost::new(UiWaker::none());
        let id = jobs.on_thread("test-packing", PackingJob::new(plan)).expect("thread");
        let deadline = Instant::now() + Duration::from_secs(120);
        while !jobs.state(id).is_some_and(|s| s.ended()) {
            assert!(Instant::now() < deadline, "the sweep did not end");
            std::thread::sleep(Duration::from_millis(10));
        }
        let output = jobs.output::<PackingOutput>(id).expect("output");
        assert_eq!((jobs.state(id), output.results.len(), output.total), (Some(JobState::Done), 2, 2));

        // a big budget, cancelled right away: the drop returns long before a cell could finish
        form.budget_steps = 1_000_000;
        jobs.on_thread("test-packing", PackingJob::new(form.plan().expect("plan"))).expect("thread");
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        drop(jobs);
        assert!(started.elapsed() < Duration::from_secs(10), "cancelled in {:?}", started.elapsed());
    }
}
