//! The Dynamics panel (docs/MODEL.md §4C): the trained network as a dynamical system. Which units
//! serve which task (normalised task variance), the spectrum of the effective connectivity under
//! each context, and the fixed points of one task's dynamics in a chosen epoch (stimulus by default) in the shared PCA
//! view, followed along the context interpolation toward another task (a bifurcation view: the
//! α slider is the mixture ambiguity level of the Ambiguity panel with one fixed other task).
//!
//! Everything is computed by the worker on a frozen copy of the network (a job on the network, [`crate::runner::JobHost::on_network`]),
//! one unit at a time between training steps; every α of the grid is computed in the background,
//! so the slider only picks.

use std::sync::Arc;

use eframe::egui;
use egui_plot::{
    Bar, BarChart, Corner, GridMark, HLine, Legend, Line, LineStyle, MarkerShape, Plot, PlotImage, PlotPoint, PlotPoints, Points, VLine,
};

use super::export::{Curve, PlotData, PlotExport, export_menu_ui, export_menu_with_ui};
use super::widgets::{colormap, task_bars_plot, task_color, task_line_style, task_marker};
use super::{Level, Panel, PanelContext, heading_ui};
use crate::analysis::AmbiguityKind;
use crate::experiments::analyze;
use crate::experiments::bifurcation::BifurcationPoint;
use crate::experiments::dynamics::{DynamicsJob, DynamicsRequest, DynamicsResult};
use crate::experiments::search_start::TaskEpoch;
use crate::lesson;
use crate::runner::{JobHost, JobId};
use crate::tasks::Task;

fn stable_color() -> egui::Color32 {
    super::widgets::color(crate::figure::palette::role::STABLE)
}

fn unstable_color() -> egui::Color32 {
    super::widgets::color(crate::figure::palette::role::UNSTABLE)
}

pub struct DynamicsPanel {
    task: usize,
    other: usize,
    epoch: TaskEpoch,
    alphas: usize,
    /// The α grid index the slider shows.
    alpha_index: usize,
    /// The slider follows the Ambiguity tab's mixture level.
    follow_cue: bool,
    /// What the fourth plot shows.
    cells: CellView,
    /// How the task-variance rows are ordered.
    rows: RowOrder,
    /// The heat map's texture, the result it was built from and what it shows.
    heat: Option<(Arc<DynamicsResult>, (CellView, RowOrder), egui::TextureHandle)>,
    rects: [egui::Rect; 4],
    /// A lesson pressed Compute (for this task and toward, if given).
    compute_requested: Option<Option<(Task, Task)>>,
    /// The latest analysis (a job on the network).
    job: Option<JobId>,
}

/// The order of the task-variance rows (units).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum RowOrder {
    /// Cluster by cluster, as the analysis ordered them.
    #[default]
    Clusters,
    /// Excitatory units first, then inhibitory (each in cluster order); Dale's law only.
    CellType,
    /// Fastest unit first; per-unit time constants only.
    Tau,
}

impl RowOrder {
    fn label(self) -> &'static str {
        match self {
            RowOrder::Clusters => "by cluster",
            RowOrder::CellType => "E, then I",
            RowOrder::Tau => "by τ",
        }
    }
}

/// The kept rows of the task-variance map (indices into `variance.units`) in the order asked for.
fn variance_rows(r: &DynamicsResult, order: RowOrder) -> Vec<usize> {
    let Some(variance) = &r.variance else { return Vec::new() };
    let mut rows: Vec<usize> = (0..variance.units.len()).collect();
    let unit = |row: usize| variance.units[row];
    match (order, &r.units.taus) {
        (RowOrder::CellType, _) => rows.sort_by_key(|row| r.units.excitatory(unit(*row)).map_or(0, |e| usize::from(!e))),
        (RowOrder::Tau, Some(taus)) => rows.sort_by(|a, b| taus[unit(*a)].total_cmp(&taus[unit(*b)])),
        _ => {}
    }
    rows
}

/// The fourth plot: which units serve which task, or how the tasks' subspaces relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CellView {
    TaskVariance,
    Angles,
    Participation,
}

impl Default for DynamicsPanel {
    fn default() -> Self {
        Self {
            task: 0,
            other: 1,
            epoch: TaskEpoch::Stimulus,
            alphas: 11,
            alpha_index: 0,
            follow_cue: false,
            cells: CellView::TaskVariance,
            rows: RowOrder::Clusters,
            heat: None,
            rects: [egui::Rect::NOTHING; 4],
            compute_requested: None,
            job: None,
        }
    }
}

impl Panel for DynamicsPanel {
    /// `run = "dynamics [TASK TOWARD]"`: press Compute as soon as the network is there, for that
    /// pair if given.
    fn act(&mut self, action: &lesson::Action, _jobs: &mut JobHost) -> bool {
        let lesson::Action::Run(lesson::PanelRun::Dynamics(pair)) = action else { return false };
        self.compute_requested = Some(*pair);
        true
    }

    fn title(&self) -> &'static str {
        "Dynamics: fixed points, spectra, task variance"
    }

    fn help(&self) -> &'static str {
        "A recurrent network is a dynamical system: at every step its state moves by a rule that \
         depends on the input and the task context. A fixed point is a state the rule leaves where \
         it is. A stable fixed point attracts nearby states (filled dots): the network settles \
         there and can hold a memory or a decision. An unstable one (hollow dots) pushes states \
         away along some directions: it separates the basins of the stable ones, like a ridge \
         between two valleys. Stability is read from the eigenvalues of the one-step map's \
         Jacobian at the point: all inside the unit circle = stable. The fixed points are searched \
         for from many states visited by the network, for the selected task's context and its \
         input in the chosen epoch of its trial (the stimulus, by default), and drawn in the same principal-component view as the trajectories. \
         Moving α blends the context toward another task, c = (1−α)·task + α·other: watch points \
         move, merge and change stability (a bifurcation). The spectrum shows the eigenvalues of \
         the effective recurrent weights under each context: eigenvalues near or outside the unit \
         circle mean slow or self-sustaining activity, so the context reshapes the dynamics by \
         moving them. The heat map shows, for each unit, how much its activity varies in each task \
         (1 = its most active task): units cluster into groups that serve a few tasks."
    }

    fn logic(&mut self, _ctx: &egui::Context, cx: &mut PanelContext<'_>) {
        let Some(config) = cx.run.config.as_ref() else { return };
        let Some(pair) = self.compute_requested.take() else { return };
        let tasks = &config.train.tasks;
        if let Some((task, toward)) = pair {
            match (tasks.iter().position(|t| *t == task), tasks.iter().position(|t| *t == toward)) {
                (Some(a), Some(b)) => (self.task, self.other) = (a, b),
                _ => {
                    let text = format!("dynamics: this network is not trained on both {task} and {toward}");
                    cx.files.set_notice(Level::Error, text);
                    return;
                }
            }
        }
        if tasks.len() >= 2 && self.task != self.other {
            self.compute(cx);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        let Some(config) = cx.run.config.as_ref() else {
            ui.weak("Waiting for the network…");
            return;
        };
        let names: Vec<&str> = config.train.tasks.iter().map(|t| t.label()).collect();
        let result = self.result(cx.jobs);
        self.controls_ui(ui, cx, &names, result.as_deref());
        ui.separator();
        let Some(result) = result else {
            ui.weak("Press Compute to analyse the current network (training goes on meanwhile).");
            return;
        };
        if let Some(error) = &result.error {
            ui.colored_label(ui.visuals().error_fg_color, format!("The analysis failed: {error}"));
        }
        if result.variance.is_none() {
            ui.weak("Computing the trajectories…");
            return;
        }
        self.alpha_index = self.alpha_index.min(result.alphas.len().saturating_sub(1));
        let height = ((ui.available_height() - 40.0) / 2.0).max(140.0);
        let width = ui.available_width();
        ui.columns(2, |columns| {
            columns[0].set_max_width(width / 2.0);
            self.pca_ui(&mut columns[0], cx, &result, height);
            self.spectrum_ui(&mut columns[0], cx, &result, height);
            self.bifurcation_ui(&mut columns[1], cx, &result, height);
            self.variance_ui(&mut columns[1], cx, &result, height);
        });
    }
}

impl DynamicsPanel {
    /// Analyse a frozen copy of the current network with the panel's choices.
    fn compute(&mut self, cx: &mut PanelContext<'_>) {
        let request = DynamicsRequest { task: self.task, other: self.other, alphas: self.alphas, epoch: self.epoch };
        cx.jobs.replace_on_network(&mut self.job, "dynamics analysis", move |net| {
            DynamicsJob::new(net.config, net.params, net.step, net.lesioned, request).map_err(|bad| bad.to_string())
        });
        self.alpha_index = 0;
    }

    /// The latest analysis, as far as it got.
    pub fn result(&self, jobs: &JobHost) -> Option<Arc<DynamicsResult>> {
        jobs.output(self.job?)
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, names: &[&str], result: Option<&DynamicsResult>) {
        let k = names.len();
        if k < 2 {
            ui.weak("The dynamics view needs a network trained on at least two tasks.");
            return;
        }
        self.task = self.task.min(k - 1);
        self.other = self.other.min(k - 1);
        ui.horizontal(|ui| {
            task_picker(
                ui,
                "dyn-task",
                "task",
                &mut self.task,
                names,
                "The task whose context and input (in the chosen epoch) define the dynamics",
            );
            task_picker(ui, "dyn-other", "toward", &mut self.other, names, "The task the context is blended toward as α goes from 0 to 1");
            egui::ComboBox::from_id_salt("dyn-epoch")
                .selected_text(format!("{} epoch", self.epoch.name()))
                .show_ui(ui, |ui| {
                    for epoch in TaskEpoch::ALL {
                        ui.selectable_value(&mut self.epoch, epoch, epoch.name());
                    }
                })
                .response
                .on_hover_text(
                    "Fixed points depend on the input: they are searched under the constant input mid-way through this epoch \
                     of the task's trial (fixation: before any stimulus; stimulus: while it is shown; delay: holding it in \
                     memory; response: after the go cue). A task without the epoch uses its trial's middle step",
                );
            ui.add(egui::DragValue::new(&mut self.alphas).range(2..=41).prefix("α values: "))
                .on_hover_text("How many values of α from 0 to 1 are computed (each one is a fixed-point search)");
            let valid = self.task != self.other;
            let busy = result.is_some_and(|r| !r.is_complete());
            let label = if busy { "Restart" } else { "Compute" };
            if ui
                .add_enabled(valid, egui::Button::new(label))
                .on_hover_text("Analyse a frozen copy of the current network (with the current lesions) in the background")
                .on_disabled_hover_text("Pick two different tasks")
                .clicked()
            {
                self.compute(cx);
            }
            if let Some(r) = result {
                let (done, total) = r.progress();
                if !r.is_complete() {
                    ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).desired_width(120.0).text(format!("{done}/{total}")))
                        .on_hover_text("Parts done: the trajectories, then one fixed-point search per value of α");
                } else {
                    ui.weak(format!("network at step {}", r.step));
                }
            }
        });
        if let Some(r) = result.filter(|r| r.alphas.len() > 1) {
            ui.horizontal(|ui| {
                let last = r.alphas.len() - 1;
                let computed = r.slices.len();
                let mixture = (cx.ambiguity.kind == AmbiguityKind::Mixture).then_some(cx.ambiguity.level as f64);
                if let (true, Some(level)) = (self.follow_cue, mixture) {
                    self.alpha_index = nearest(&r.alphas, level);
                }
                let shown = r.alphas[self.alpha_index.min(last)];
                ui.add(egui::Slider::new(&mut self.alpha_index, 0..=last).show_value(false).text(format!("α = {shown:.2}"))).on_hover_text(
                    "The context blend c = (1−α)·task + α·other (the mixture ambiguity level λ): the fixed points at this α \
                         are drawn in the PCA view and marked in the bifurcation plot",
                );
                ui.add_enabled(mixture.is_some(), egui::Checkbox::new(&mut self.follow_cue, "follow the cue ambiguity"))
                    .on_hover_text(
                        "Show the α nearest to the Ambiguity tab's mixture level: move that slider and see which fixed points \
                         the blurred cue gives the network",
                    )
                    .on_disabled_hover_text("Set the Ambiguity tab's kind to mixture to follow its level");
                if self.alpha_index >= computed {
                    ui.weak("(not computed yet)");
                }
                ui.weak(format!("{} toward {}", r.tasks[r.task].label(), r.tasks[r.other].label()));
            });
        }
    }

    fn pca_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, r: &DynamicsResult, height: f32) {
        let points = r.slices.get(self.alpha_index).cloned().unwrap_or_default();
        let alpha = r.alphas.get(self.alpha_index).copied().unwrap_or(0.0);
        let rect = self.rects[0];
        ui.horizontal(|ui| {
            ui.label(format!("Fixed points at α = {alpha:.2} ({} epoch) on PC1–PC2", r.epoch.name())).on_hover_text(
                "The two tasks' mean trajectories (lines) and the fixed points of the blended context (filled: stable, \
                 hollow: unstable) on the principal axes of every task's activity",
            );
            export_menu_with_ui(ui, cx.files, rect, false, || pca_export(r, &points, alpha));
        });
        let shown = ui.scope(|ui| {
            Plot::new("dyn-pca")
                .height(height - 30.0)
                .x_axis_label("PC1")
                .y_axis_label("PC2")
                .allow_scroll(false)
                .legend(Legend::default().position(Corner::RightTop))
                .show(ui, |plot_ui| {
                    for t in [r.task, r.other] {
                        let path: Vec<[f64; 2]> = r.trajectories[t].iter().map(|p| [p[0], p[1]]).collect();
                        plot_ui.line(
                            Line::new(r.tasks[t].label(), PlotPoints::from(path)).color(task_color(t)).style(task_line_style(t)).width(1.5),
                        );
                    }
                    let (stable, unstable): (Vec<&BifurcationPoint>, Vec<&BifurcationPoint>) = points.iter().partition(|p| p.stable);
                    let xy = |ps: &[&BifurcationPoint]| {
                        PlotPoints::from(ps.iter().map(|p| [p.pcs[0], p.pcs.get(1).copied().unwrap_or(0.0)]).collect::<Vec<_>>())
                    };
                    plot_ui.points(
                        Points::new("stable", xy(&stable)).shape(MarkerShape::Circle).radius(6.0).color(stable_color()).filled(true),
                    );
                    plot_ui.points(
                        Points::new("unstable", xy(&unstable)).shape(MarkerShape::Circle).radius(6.0).color(unstable_color()).filled(false),
                    );
                })
        });
        self.rects[0] = shown.response.rect;
    }

    fn bifurcation_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, r: &DynamicsResult, height: f32) {
        let alpha = r.alphas.get(self.alpha_index).copied().unwrap_or(0.0);
        let rect = self.rects[1];
        ui.horizontal(|ui| {
            ui.label("Bifurcation view: PC1 of the fixed points against α").on_hover_text(
                "Each dot is a fixed point at one α (filled: stable, hollow: unstable). A branch that ends where a stable \
                 and an unstable branch meet is a saddle-node bifurcation: the attractor the task relied on disappears",
            );
            export_menu_ui(ui, cx.files, rect, || bifurcation_export(r));
        });
        let all: Vec<&BifurcationPoint> = r.slices.iter().flatten().collect();
        let shown = ui.scope(|ui| {
            Plot::new("dyn-bifurcation")
                .height(height - 30.0)
                .x_axis_label("α")
                .y_axis_label("PC1")
                .include_x(0.0)
                .include_x(1.0)
                .allow_scroll(false)
                .legend(Legend::default().position(Corner::RightTop))
                .show(ui, |plot_ui| {
                    let pick = |stable: bool| {
                        PlotPoints::from(all.iter().filter(|p| p.stable == stable).map(|p| [p.alpha, p.pcs[0]]).collect::<Vec<_>>())
                    };
                    plot_ui.points(Points::new("stable", pick(true)).radius(4.0).color(stable_color()).filled(true));
                    plot_ui.points(Points::new("unstable", pick(false)).radius(4.0).color(unstable_color()).filled(false));
                    plot_ui.vline(VLine::new("α shown", alpha).color(egui::Color32::GRAY));
                })
        });
        self.rects[1] = shown.response.rect;
    }

    fn spectrum_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, r: &DynamicsResult, height: f32) {
        let rect = self.rects[2];
        let task = r.task;
        ui.horizontal(|ui| {
            ui.label(format!("Connectivity spectrum under the {} context", r.tasks[task].label())).on_hover_text(
                "Eigenvalues of the effective recurrent weights diag(g(c))·W(c) under this task's context, with the unit \
                 circle: eigenvalues near or beyond it give slow, lasting or self-exciting activity; the context pathways \
                 change the dynamics by moving them (compare the grey spectrum of the other task). The bias pathway only \
                 shifts the units' inputs, so with it alone every context has the same spectrum (the grey points hide \
                 under the coloured ones); gain and synaptic modulation move the eigenvalues",
            );
            export_menu_with_ui(ui, cx.files, rect, false, || spectrum_export(r));
        });
        let shown = ui.scope(|ui| {
            Plot::new("dyn-spectrum")
                .height(height - 30.0)
                .data_aspect(1.0)
                .x_axis_label("Re λ")
                .y_axis_label("Im λ")
                .allow_scroll(false)
                .legend(Legend::default().position(Corner::RightTop))
                .show(ui, |plot_ui| {
                    let circle: Vec<[f64; 2]> =
                        (0..=100).map(|i| std::f64::consts::TAU * i as f64 / 100.0).map(|t| [t.cos(), t.sin()]).collect();
                    plot_ui.line(Line::new("unit circle", PlotPoints::from(circle)).color(egui::Color32::GRAY).width(1.0));
                    plot_ui.points(
                        Points::new(r.tasks[r.other].label(), PlotPoints::from(r.spectra.get(r.other).cloned().unwrap_or_default()))
                            .radius(2.0)
                            .color(egui::Color32::from_gray(160)),
                    );
                    plot_ui.points(
                        Points::new(r.tasks[task].label(), PlotPoints::from(r.spectra.get(task).cloned().unwrap_or_default()))
                            .radius(2.5)
                            .shape(task_marker(task))
                            .color(task_color(task)),
                    );
                })
        });
        self.rects[2] = shown.response.rect;
    }

    fn variance_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, r: &Arc<DynamicsResult>, height: f32) {
        let Some(variance) = &r.variance else { return };
        let rect = self.rects[3];
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.cells, CellView::TaskVariance, format!("Task variance ({} units)", variance.units.len()))
                .on_hover_text(
                    "Rows: units, grouped into clusters (k-means on these rows, the number of clusters chosen by the silhouette \
                 score, as Yang et al. 2019 did); columns: tasks. A cell is the variance of the unit's activity in that \
                 task divided by its largest over tasks (yellow = 1). Blocks along the diagonal are clusters of \
                 task-specialised units; rows bright everywhere are shared units",
                );
            ui.selectable_value(&mut self.cells, CellView::Angles, "Subspace angles").on_hover_text(
                "Each task's activity spans a few directions (its own top 3 principal axes). A cell is the mean principal \
                 angle between two tasks' subspaces: 0° (dark) = the tasks use the same directions, 90° (yellow) = \
                 orthogonal, non-interfering directions. How a network packs tasks shows here, and it differs between \
                 pathway sets",
            );
            ui.selectable_value(&mut self.cells, CellView::Participation, "Participation").on_hover_text(
                "The participation ratio (Σλ)²/Σλ² of each task's activity: roughly how many dimensions it really uses \
                 (1 = a line). The dashed line is all tasks pooled: well above each task's own means the tasks use \
                 different directions",
            );
            let (view, order) = (self.cells, self.rows);
            export_menu_with_ui(ui, cx.files, rect, false, || match view {
                CellView::TaskVariance => variance_export(r, &variance_rows(r, order)),
                CellView::Angles => angles_export(r),
                CellView::Participation => participation_export(r),
            });
        });
        // on a line of its own: the row above is as wide as the column
        let mut height = height;
        if self.cells == CellView::TaskVariance && (r.units.n_excitatory.is_some() || r.units.taus.is_some()) {
            height -= ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
            ui.horizontal(|ui| {
                ui.label("Rows");
                let mut orders = vec![RowOrder::Clusters];
                orders.extend(r.units.n_excitatory.map(|_| RowOrder::CellType));
                orders.extend(r.units.taus.as_ref().map(|_| RowOrder::Tau));
                if !orders.contains(&self.rows) {
                    self.rows = RowOrder::Clusters;
                }
                egui::ComboBox::from_id_salt("variance-rows")
                    .selected_text(self.rows.label())
                    .show_ui(ui, |ui| {
                        for order in orders {
                            ui.selectable_value(&mut self.rows, order, order.label());
                        }
                    })
                    .response
                    .on_hover_text(
                        "Order the units: by cluster (as Yang et al.), excitatory before inhibitory (Dale's law: do the \
                             two cell types serve different tasks?), or from the fastest time constant to the slowest",
                    );
            });
        }
        let k = r.tasks.len();
        let names: Vec<String> = r.tasks.iter().map(|t| t.label().to_string()).collect();
        let subspaces = r.subspaces.clone().unwrap_or_default();
        if self.cells == CellView::Participation {
            let labels: Vec<String> = r.tasks.iter().map(|t| t.label().to_string()).collect();
            let shown = ui.scope(|ui| {
                task_bars_plot("dyn-participation", height - 30.0, labels, ui.available_width()).y_axis_label("participation ratio").show(
                    ui,
                    |plot_ui| {
                        let bars = subspaces
                            .participation
                            .iter()
                            .enumerate()
                            .map(|(i, p)| Bar::new(i as f64, *p).width(0.6).name(names[i].as_str()).fill(task_color(i)))
                            .collect();
                        plot_ui.bar_chart(BarChart::new("each task", bars));
                        plot_ui.hline(HLine::new("all tasks pooled", r.pooled_participation).style(LineStyle::dashed_loose()));
                    },
                )
            });
            self.rects[3] = shown.response.rect;
            return;
        }
        // heat maps: units × tasks, or tasks × tasks
        let rows = if self.cells == CellView::Angles { k } else { variance.units.len() };
        let order = variance_rows(r, self.rows);
        let shown_as = (self.cells, self.rows);
        // held, so a later result cannot be mistaken for this one (the worker publishes a new Arc)
        if self.heat.as_ref().is_none_or(|(built_from, view, _)| !Arc::ptr_eq(built_from, r) || *view != shown_as) {
            let value = |row: usize, col: usize| match self.cells {
                CellView::Angles => subspaces.angles.get(row).map_or(0.0, |_| subspaces.mean_angle(row, col) / 90.0),
                _ => order.get(row).and_then(|at| variance.normalised.get(*at)).and_then(|v| v.get(col)).copied().unwrap_or(0.0),
            };
            // image rows run top down: the first row on top
            let pixels = (0..rows.max(1))
                .flat_map(|row| (0..k).map(move |col| (row, col)))
                .map(|(row, col)| colormap(value(row, col) as f32))
                .collect();
            let image = egui::ColorImage::new([k, rows.max(1)], pixels);
            let handle = ui.ctx().load_texture("dyn-cells", image, egui::TextureOptions::NEAREST);
            self.heat = Some((Arc::clone(r), shown_as, handle));
        }
        let Some((_, _, texture)) = &self.heat else { return };
        let (rows_f, cols) = (rows.max(1) as f64, k as f64);
        let y_label = match (self.cells, self.rows) {
            (CellView::Angles, _) => "task (mean principal angle, 0°–90°)".to_string(),
            (_, RowOrder::Clusters) => format!("unit ({} clusters, first on top)", variance.cluster_count()),
            (_, RowOrder::CellType) => "unit (E on top, then I)".to_string(),
            (_, RowOrder::Tau) => "unit (fastest τ on top)".to_string(),
        };
        // under "E, then I": the boundary between the two (rows run top down)
        let n_e_rows = (self.cells == CellView::TaskVariance && self.rows == RowOrder::CellType)
            .then(|| order.iter().filter(|row| r.units.excitatory(variance.units[**row]) == Some(true)).count());
        let row_names = (self.cells == CellView::Angles).then(|| names.clone());
        let shown = ui.scope(|ui| {
            let mut plot = Plot::new("dyn-cells")
                .height(height - 30.0)
                .x_axis_label("task")
                .y_axis_label(y_label)
                .allow_scroll(false)
                .allow_drag(false)
                .allow_zoom(false)
                .show_grid([false, false])
                // one mark in the middle of each task's column, labelled with the task
                .x_grid_spacer(move |_| (0..k).map(|i| GridMark { value: i as f64 + 0.5, step_size: 1.0 }).collect())
                .x_axis_formatter(move |mark, _| middle_label(mark.value, &names));
            if let Some(row_names) = row_names {
                // rows are tasks too, the first on top
                let rows = row_names.len();
                plot = plot
                    .y_grid_spacer(move |_| (0..rows).map(|i| GridMark { value: i as f64 + 0.5, step_size: 1.0 }).collect())
                    .y_axis_formatter(move |mark, _| {
                        let reversed: Vec<String> = row_names.iter().rev().cloned().collect();
                        middle_label(mark.value, &reversed)
                    });
            }
            plot.show(ui, |plot_ui| {
                plot_ui.image(PlotImage::new(
                    "cells",
                    texture.id(),
                    PlotPoint::new(cols / 2.0, rows_f / 2.0),
                    [cols as f32, rows_f as f32],
                ));
                if let Some(n_e) = n_e_rows {
                    plot_ui.hline(HLine::new("E | I", rows_f - n_e as f64).color(egui::Color32::WHITE).width(1.5));
                }
            })
        });
        self.rects[3] = shown.response.rect;
    }
}

/// The name of the cell whose middle is at `value` (marks sit at i + 0.5), or nothing.
fn middle_label(value: f64, names: &[String]) -> String {
    let i = (value - 0.5).round();
    if (value - 0.5 - i).abs() < 1e-6 && i >= 0.0 { names.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
}

/// The index of the grid value nearest to `value`.
fn nearest(grid: &[f64], value: f64) -> usize {
    (0..grid.len()).min_by(|&a, &b| (grid[a] - value).abs().total_cmp(&(grid[b] - value).abs())).unwrap_or(0)
}

fn task_picker(ui: &mut egui::Ui, id: &str, label: &str, value: &mut usize, names: &[&str], tip: &str) {
    ui.label(label).on_hover_text(tip);
    egui::ComboBox::from_id_salt(id)
        .selected_text(names[*value])
        .show_ui(ui, |ui| {
            for (i, name) in names.iter().enumerate() {
                ui.selectable_value(value, i, *name);
            }
        })
        .response
        .on_hover_text(tip);
}

/// The PCA view's data: both mean trajectories and the fixed points at α.
fn pca_export(r: &DynamicsResult, points: &[BifurcationPoint], alpha: f64) -> PlotExport {
    let columns = ["index", "PC1", "PC2", "PC3"].map(String::from).to_vec();
    let mut series: Vec<(String, Vec<Vec<f64>>)> = [r.task, r.other]
        .iter()
        .map(|&t| {
            (
                format!("{} trajectory", r.tasks[t].label()),
                r.trajectories[t].iter().enumerate().map(|(i, p)| vec![i as f64, p[0], p[1], p[2]]).collect(),
            )
        })
        .collect();
    for stable in [true, false] {
        let rows = points
            .iter()
            .filter(|p| p.stable == stable)
            .map(|p| vec![p.id as f64, p.pcs[0], p.pcs.get(1).copied().unwrap_or(0.0), p.pcs.get(2).copied().unwrap_or(0.0)])
            .collect();
        series.push((if stable { "stable fixed points".into() } else { "unstable fixed points".into() }, rows));
    }
    PlotExport::new(
        format!("dynamics-fixed-points-alpha{alpha:.2}"),
        format!("Fixed points of {} toward {} at α = {alpha:.2} (step {})", r.tasks[r.task].label(), r.tasks[r.other].label(), r.step),
        "PC1",
        "PC2",
        PlotData::Paths { series_label: "series".into(), columns, series, axes: [1, 2] },
    )
}

/// The bifurcation view's data: one path per continued fixed point (its id), over α.
fn bifurcation_export(r: &DynamicsResult) -> PlotExport {
    let columns = ["alpha", "PC1", "PC2", "PC3", "stable", "unstable dims", "max |eigenvalue|"].map(String::from).to_vec();
    let mut ids: Vec<usize> = r.slices.iter().flatten().map(|p| p.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let series = ids
        .iter()
        .map(|&id| {
            let rows = r
                .slices
                .iter()
                .flatten()
                .filter(|p| p.id == id)
                .map(|p| {
                    vec![
                        p.alpha,
                        p.pcs[0],
                        p.pcs.get(1).copied().unwrap_or(0.0),
                        p.pcs.get(2).copied().unwrap_or(0.0),
                        f64::from(u8::from(p.stable)),
                        p.unstable_dims as f64,
                        p.max_abs_eigenvalue,
                    ]
                })
                .collect();
            (format!("point {id}"), rows)
        })
        .collect();
    PlotExport::new(
        "dynamics-bifurcation",
        format!("Fixed points of {} as the context moves to {} (step {})", r.tasks[r.task].label(), r.tasks[r.other].label(), r.step),
        "alpha",
        "PC1",
        PlotData::Paths { series_label: "fixed point".into(), columns, series, axes: [0, 1] },
    )
}

/// Every context's eigenvalues.
fn spectrum_export(r: &DynamicsResult) -> PlotExport {
    let series = r.tasks.iter().zip(&r.spectra).map(|(t, s)| Curve::new(t.label().to_string(), s.clone())).collect();
    PlotExport {
        unit_circle: true,
        note: analyze::spectrum_note(&r.spectra),
        ..PlotExport::new(
            "dynamics-spectrum",
            format!("Eigenvalues of the effective connectivity per task context (step {})", r.step),
            "Re",
            "Im",
            PlotData::Scatter(series),
        )
    }
}

/// The angles heat map's numbers: `angles.csv` of `modulab analyze` (every principal angle).
fn angles_export(r: &DynamicsResult) -> PlotExport {
    let names: Vec<&str> = r.tasks.iter().map(|t| t.name()).collect();
    PlotExport::new(
        "dynamics-subspace-angles",
        format!("Principal angles between task subspaces (step {})", r.step),
        "task",
        "task",
        PlotData::Table { csv: r.subspaces.clone().unwrap_or_default().angles_csv(&names), lines: None },
    )
}

/// The participation ratios: one bar per task, and the pooled value as a last category.
fn participation_export(r: &DynamicsResult) -> PlotExport {
    let mut categories: Vec<String> = r.tasks.iter().map(|t| t.label().to_string()).collect();
    categories.push("all tasks pooled".into());
    let mut values = r.subspaces.as_ref().map(|s| s.participation.clone()).unwrap_or_default();
    values.push(r.pooled_participation);
    PlotExport::new(
        "dynamics-participation",
        format!("Participation ratio per task (step {})", r.step),
        "task",
        "participation ratio",
        PlotData::Bars { categories, series: vec![("participation ratio".into(), values)] },
    )
}

/// The heat map's numbers: one column per task, one row per unit in the drawn order (`rows`:
/// indices into the kept units).
fn variance_export(r: &DynamicsResult, rows: &[usize]) -> PlotExport {
    let variance = r.variance.clone().unwrap_or_default();
    let columns = r
        .tasks
        .iter()
        .enumerate()
        .map(|(t, task)| (task.label().to_string(), rows.iter().map(|row| variance.normalised[*row][t]).collect()))
        .collect();
    PlotExport::new(
        "dynamics-task-variance",
        format!("Normalised task variance (step {})", r.step),
        "unit",
        "variance / unit's max",
        PlotData::Columns { x: rows.iter().map(|row| variance.units[*row] as f64).collect(), columns, heat: true },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::analyze::{TaskSubspaces, TaskVariance};
    use crate::tasks::Task;

    fn result() -> DynamicsResult {
        let point = |alpha, id, stable| BifurcationPoint {
            alpha,
            id,
            pcs: vec![1.0, 2.0, 3.0],
            speed: 0.0,
            stable,
            unstable_dims: usize::from(!stable),
            max_abs_eigenvalue: 0.5,
        };
        DynamicsResult {
            step: 7,
            tasks: vec![Task::FdGo, Task::FdAnti],
            task: 0,
            other: 1,
            explained: vec![0.5, 0.3, 0.1],
            trajectories: vec![vec![[0.0, 1.0, 2.0]], vec![[1.0, 1.0, 1.0]]],
            variance: Some(TaskVariance {
                units: vec![3, 1],
                normalised: vec![vec![1.0, 0.5], vec![0.25, 1.0]],
                clusters: vec![0, 1],
                silhouette: 0.0,
            }),
            spectra: vec![vec![[0.5, 0.0]], vec![[0.9, 0.1]]],
            alphas: vec![0.0, 1.0],
            slices: vec![vec![point(0.0, 0, true)], vec![point(1.0, 0, true), point(1.0, 1, false)]],
            ..DynamicsResult::default()
        }
    }

    /// Units 3 (I, τ 50 ms) and 1 (E, τ 200 ms): the rows reorder by cell type and by τ, and the
    /// export follows the drawn order.
    #[test]
    fn variance_rows_group_cell_types_and_sort_by_tau() {
        let mut r = result();
        r.units = crate::train::probe::UnitKinds { n_excitatory: Some(2), taus: Some(vec![100.0, 200.0, 150.0, 50.0]) };
        assert_eq!(variance_rows(&r, RowOrder::Clusters), vec![0, 1]);
        assert_eq!(variance_rows(&r, RowOrder::CellType), vec![1, 0], "E unit 1 before I unit 3");
        assert_eq!(variance_rows(&r, RowOrder::Tau), vec![0, 1], "unit 3 (50 ms) before unit 1 (200 ms)");
        let v = variance_export(&r, &variance_rows(&r, RowOrder::CellType)).to_csv();
        assert_eq!(v.lines().nth(1).and_then(|l| l.split(',').next()), Some("1"), "{v}");
    }

    #[test]
    fn the_slider_follows_the_nearest_alpha() {
        let grid = [0.0, 0.25, 0.5, 0.75, 1.0];
        assert_eq!(nearest(&grid, 0.3), 1);
        assert_eq!(nearest(&grid, 0.9), 4);
        assert_eq!(nearest(&grid, 0.0), 0);
    }

    #[test]
    fn exports_hold_the_drawn_numbers() {
        let r = result();
        let b = bifurcation_export(&r).to_csv();
        assert!(b.starts_with("fixed point,alpha,PC1,PC2,PC3,stable,unstable dims,max |eigenvalue|\n"), "{b}");
        assert!(b.contains("point 0,0,1,2,3,1,0,0.5\n") && b.contains("point 1,1,1,2,3,0,1,0.5\n"), "{b}");
        assert!(bifurcation_export(&r).to_svg().is_ok());
        let v = variance_export(&r, &variance_rows(&r, RowOrder::Clusters)).to_csv();
        assert!(v.starts_with("unit,") && v.contains("3,1,0.5"), "{v}");
        let p = pca_export(&r, &r.slices[1], 1.0).to_csv();
        assert!(p.contains("unstable fixed points,1,1,2,3"), "{p}");
        let s = spectrum_export(&r).to_csv();
        assert!(s.contains("0.9,0.1"), "{s}");
        let mut r = r;
        r.subspaces = Some(TaskSubspaces {
            dim: 2,
            participation: vec![1.5, 2.5],
            angles: vec![vec![vec![], vec![10.0, 80.0]], vec![vec![10.0, 80.0], vec![]]],
        });
        r.pooled_participation = 3.0;
        assert_eq!(angles_export(&r).to_csv(), "task_a,task_b,angle_1_deg,angle_2_deg\nfdgo,fdanti,10.0000,80.0000\n");
        assert_eq!(r.subspaces.as_ref().unwrap().mean_angle(1, 0), 45.0);
        let p = participation_export(&r).to_csv();
        assert!(p.contains("Go,1.5\n") && p.contains("all tasks pooled,3\n"), "{p}");
    }
}
