//! The PCA panel (docs/MODEL.md §4C): every task's trial-averaged hidden trajectory on principal axes
//! shared by all tasks, with variance explained and the participation ratio.
//!
//! The worker fits the axes (pooled hidden states of the probe trials of every task) every few
//! evaluations and projects on them after every evaluation, lesion or ambiguity change; this
//! panel only draws (a 3-D view is an orthographic projection of PC1–3 turned by dragging).

use eframe::egui;
use egui_plot::{Bar, BarChart, Corner, GridMark, Legend, Line, MarkerShape, Plot, PlotPoints, Points};

use super::export::{PlotData, PlotExport, export_menu_ui};
use super::widgets::{label_mark, task_color, task_legend, task_line_style};
use super::{Panel, PanelContext, ProbeShown, heading_ui};
use crate::runner::LiveViews;
use crate::train::probe::PcaView;

pub struct PcaPanel {
    /// Principal components on the x and y axes (0-based) in the 2-D view.
    x_pc: usize,
    y_pc: usize,
    /// 3-D view rotation: turn about the vertical axis and tilt, radians.
    yaw: f32,
    pitch: f32,
    /// Where each plot was drawn last frame (an exported PNG is cropped to it).
    trajectories_rect: egui::Rect,
    variance_rect: egui::Rect,
}

impl Default for PcaPanel {
    fn default() -> Self {
        Self { x_pc: 0, y_pc: 1, yaw: 0.6, pitch: 0.35, trajectories_rect: egui::Rect::NOTHING, variance_rect: egui::Rect::NOTHING }
    }
}

impl Panel for PcaPanel {
    fn title(&self) -> &'static str {
        "Neural dynamics (PCA)"
    }

    fn help(&self) -> &'static str {
        "The hidden layer has one number per unit at every moment: a point in a space with as many \
         dimensions as units. Over a trial that point moves along a path. Principal component \
         analysis (PCA) finds the few directions in which the activity of all tasks varies most; \
         here each task's average path is drawn in those shared directions (circle: start of the \
         trial, square: end). Tasks that share computations run along similar paths; tasks kept \
         apart by their context occupy different regions. The bars show how much of the \
         activity's variance each direction explains, and the participation ratio says how many \
         directions the activity effectively uses. The directions are re-computed every few \
         evaluations while training; after a lesion or an ambiguity change the new activity is \
         drawn in the same directions, so you see what moved."
    }

    fn live_views(&self) -> LiveViews {
        LiveViews { ambiguity: false, probe: true }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        heading_ui(ui, self, cx.settings);
        let shown = cx.probe_shown();
        shown.caption_ui(ui);
        let Some(view) = shown.pca() else {
            if matches!(shown, ProbeShown::Latest { .. }) {
                ui.weak("Waiting for the first evaluation…");
            }
            return;
        };
        self.controls_ui(ui, cx, &view);
        ui.separator();
        let height = (ui.available_height() - 10.0).max(150.0);
        let width = ui.available_width();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width((width * 0.68).max(200.0));
                self.trajectories_ui(ui, cx, &view, height);
            });
            ui.vertical(|ui| variance_ui(ui, cx, &view, height, &mut self.variance_rect));
        });
    }
}

impl PcaPanel {
    fn controls_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, view: &PcaView) {
        let k = view.components.max(1);
        self.x_pc = self.x_pc.min(k - 1);
        self.y_pc = self.y_pc.min(k - 1);
        ui.horizontal(|ui| {
            ui.checkbox(&mut cx.settings.pca_3d, "3-D view")
                .on_hover_text("Show PC1, PC2 and PC3 together as a 3-D picture; drag the plot to turn it");
            if cx.settings.pca_3d {
                if ui.button("Reset view").on_hover_text("Turn the 3-D view back to its starting angle").clicked() {
                    (self.yaw, self.pitch) = (Self::default().yaw, Self::default().pitch);
                }
            } else {
                pc_picker(ui, "pca-x", "x axis", &mut self.x_pc, k);
                pc_picker(ui, "pca-y", "y axis", &mut self.y_pc, k);
            }
            ui.separator();
            ui.label(format!("participation ratio {:.1}", view.participation_ratio)).on_hover_text(
                "(Σλ)² / Σλ² over the eigenvalues λ of the activity's covariance: about how many directions \
                 the activity uses (1 = a single line; the number of units = spread evenly over all)",
            );
            ui.separator();
            ui.weak(about_view(view)).on_hover_text(
                "The axes are re-fitted every few evaluations; in between, and after lesions or ambiguity \
                 changes, the current activity is projected on the last fitted axes",
            );
        });
    }

    fn trajectories_ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>, view: &PcaView, height: f32) {
        let three_d = cx.settings.pca_3d && view.components >= 3;
        let k = view.components;
        let (xl, yl) = if three_d {
            ("rotated view of PC1–PC3".to_string(), String::new())
        } else {
            (format!("PC{}", self.x_pc + 1), format!("PC{}", self.y_pc + 1))
        };
        let (x_pc, y_pc, yaw, pitch) = (self.x_pc, self.y_pc, self.yaw, self.pitch);
        let rect = self.trajectories_rect;
        ui.horizontal(|ui| {
            ui.label("Mean trajectory of each task (circle: start, square: end)")
                .on_hover_text("Each line is one task's hidden activity averaged over its test trials, in the shared PC space");
            export_menu_ui(ui, cx.files, rect, || trajectories_export(view, three_d, x_pc, y_pc, yaw, pitch));
        });
        // the picture turns with the drag, so the plot itself must not pan
        let mut plot = Plot::new("pca-trajectories")
            .height(height - 30.0)
            .data_aspect(1.0)
            .x_axis_label(xl)
            .y_axis_label(yl)
            .allow_scroll(false)
            .legend(task_legend(Corner::RightTop, view.tasks.len()));
        if three_d {
            plot = plot.allow_drag(false).show_axes([false, false]).show_grid([false, false]);
        }
        let project =
            |p: &[f32]| -> [f64; 2] { if three_d { rotate(p[0], p[1], p[2], yaw, pitch) } else { [p[x_pc] as f64, p[y_pc] as f64] } };
        // the scope's rect holds the plot with its axes and tick labels (the PNG export's crop)
        let shown = ui.scope(|ui| {
            plot.show(ui, |plot_ui| {
                for (i, (task, coords)) in view.tasks.iter().enumerate() {
                    let color = task_color(i);
                    let points: Vec<[f64; 2]> = coords.chunks_exact(k).map(project).collect();
                    if let (Some(first), Some(last)) = (points.first().copied(), points.last().copied()) {
                        plot_ui.line(Line::new(task.label(), PlotPoints::from(points)).color(color).style(task_line_style(i)).width(2.0));
                        plot_ui.points(
                            Points::new(task.label(), PlotPoints::from(vec![first])).shape(MarkerShape::Circle).radius(5.0).color(color),
                        );
                        plot_ui.points(
                            Points::new(task.label(), PlotPoints::from(vec![last])).shape(MarkerShape::Square).radius(5.0).color(color),
                        );
                    }
                }
                if three_d {
                    // the PC axes, drawn through the origin, so the rotation can be read
                    let reach = view.tasks.iter().flat_map(|(_, c)| c.iter()).fold(0.0f32, |m, v| m.max(v.abs())) * 0.6;
                    for (axis, name) in [[reach, 0.0, 0.0], [0.0, reach, 0.0], [0.0, 0.0, reach]].iter().zip(["PC1", "PC2", "PC3"]) {
                        let end = rotate(axis[0], axis[1], axis[2], yaw, pitch);
                        plot_ui.line(Line::new("", PlotPoints::from(vec![[0.0, 0.0], end])).color(egui::Color32::GRAY).width(1.0));
                        plot_ui.text(egui_plot::Text::new("", end.into(), name).color(egui::Color32::GRAY));
                    }
                }
            })
        });
        self.trajectories_rect = shown.response.rect;
        let response = shown.inner;
        if three_d {
            let drag = response.response.drag_delta();
            self.yaw += drag.x * 0.01;
            self.pitch = (self.pitch + drag.y * 0.01).clamp(-1.5, 1.5);
            response.response.on_hover_text("Drag to turn the 3-D view");
        }
    }
}

fn pc_picker(ui: &mut egui::Ui, id: &str, label: &str, value: &mut usize, k: usize) {
    ui.label(label).on_hover_text(format!("The principal component on the {label}"));
    egui::ComboBox::from_id_salt(id)
        .selected_text(format!("PC{}", *value + 1))
        .width(60.0)
        .show_ui(ui, |ui| {
            for i in 0..k {
                ui.selectable_value(value, i, format!("PC{}", i + 1));
            }
        })
        .response
        .on_hover_text(format!("The principal component on the {label} (PC1 explains the most variance)"));
}

/// Orthographic view of a 3-D point: turn by `yaw` about the vertical axis, tilt by `pitch`.
fn rotate(x: f32, y: f32, z: f32, yaw: f32, pitch: f32) -> [f64; 2] {
    let (sy, cy) = yaw.sin_cos();
    let (sp, cp) = pitch.sin_cos();
    let x1 = cy * x + sy * z;
    let z1 = -sy * x + cy * z;
    let y1 = cp * y - sp * z1;
    [x1 as f64, y1 as f64]
}

/// "axes fitted at step 40, activity at step 48, bias lesioned": what the PCA view shows.
fn about_view(view: &PcaView) -> String {
    let mut about = format!("axes fitted at step {}, activity at step {}", view.fitted_step, view.step);
    if view.ambiguity.level != view.ambiguity.kind.clean_level() {
        about += &format!(", cue {} {:.2}", view.ambiguity.kind.name(), view.ambiguity.level);
    }
    if !view.lesioned.is_empty() {
        about += &format!(", {} lesioned", crate::model::Pathway::set_label(&view.lesioned));
    }
    about
}

/// The trajectory plot's data: per task and time step, the PC coordinates drawn. 2-D: the two
/// PCs on the axes. 3-D: PC1–3 and the point's place in the turned picture (`view x`, `view y`).
fn trajectories_export(view: &PcaView, three_d: bool, x_pc: usize, y_pc: usize, yaw: f32, pitch: f32) -> PlotExport {
    let k = view.components;
    let (columns, axes): (Vec<String>, [usize; 2]) = if three_d {
        (["time step", "PC1", "PC2", "PC3", "view x", "view y"].map(String::from).to_vec(), [4, 5])
    } else {
        (vec!["time step".into(), format!("PC{}", x_pc + 1), format!("PC{}", y_pc + 1)], [1, 2])
    };
    let row = |step: usize, p: &[f32]| -> Vec<f64> {
        if three_d {
            let [vx, vy] = rotate(p[0], p[1], p[2], yaw, pitch);
            vec![step as f64, p[0] as f64, p[1] as f64, p[2] as f64, vx, vy]
        } else {
            vec![step as f64, p[x_pc] as f64, p[y_pc] as f64]
        }
    };
    let series = view
        .tasks
        .iter()
        .map(|(task, coords)| (task.label().to_string(), coords.chunks_exact(k.max(1)).enumerate().map(|(s, p)| row(s, p)).collect()))
        .collect();
    let (x_label, y_label) = if three_d {
        ("view x (PC1–3 turned)".to_string(), "view y (PC1–3 turned)".to_string())
    } else {
        (format!("PC{}", x_pc + 1), format!("PC{}", y_pc + 1))
    };
    PlotExport::new(
        if three_d { "pca-trajectories-3d".into() } else { format!("pca-trajectories-pc{}-pc{}", x_pc + 1, y_pc + 1) },
        format!("Mean trajectory of each task ({})", about_view(view)),
        x_label,
        y_label,
        PlotData::Paths { series_label: "task".into(), columns, series, axes },
    )
}

/// The variance bars' data: per PC, the fraction explained at the fit and by the activity now.
fn variance_export(view: &PcaView) -> PlotExport {
    PlotExport::new(
        "pca-variance",
        format!("Variance explained ({})", about_view(view)),
        "PC",
        "fraction of variance",
        PlotData::Bars {
            categories: (1..=view.components).map(|i| format!("PC{i}")).collect(),
            series: vec![("at fit".into(), view.explained.clone()), ("now".into(), view.captured.clone())],
        },
    )
}

fn variance_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>, view: &PcaView, height: f32, rect: &mut egui::Rect) {
    let total: f64 = view.explained.iter().sum();
    ui.horizontal(|ui| {
        ui.label(format!("Variance explained (PC1–{}: {:.0}%)", view.components, 100.0 * total)).on_hover_text(
            "Fraction of the hidden activity's variance along each principal axis: when the axes were fitted \
             (grey), and for the activity shown now (coloured; lower after a lesion or ambiguity moved the activity \
             away from the fitted axes)",
        );
        export_menu_ui(ui, cx.files, *rect, || variance_export(view));
    });
    let grey = egui::Color32::from_gray(120);
    let fitted: Vec<Bar> = view
        .explained
        .iter()
        .enumerate()
        .map(|(i, v)| Bar::new(i as f64 + 1.0 - 0.2, *v).width(0.4).fill(grey).name(format!("PC{}", i + 1)))
        .collect();
    let current: Vec<Bar> = view
        .captured
        .iter()
        .enumerate()
        .map(|(i, v)| Bar::new(i as f64 + 1.0 + 0.2, *v).width(0.4).fill(task_color(0)).name(format!("PC{}", i + 1)))
        .collect();
    let k = view.components;
    // label every few components so that labels are far enough apart to be painted
    let every = (90.0 / (ui.available_width() / k.max(1) as f32)).ceil().max(1.0) as usize;
    let shown = ui.scope(|ui| {
        Plot::new("pca-variance")
            .height(height - 30.0)
            .include_y(0.0)
            .x_axis_label("PC")
            // one tick per component (the automatic spacing would label only every tenth)
            .x_grid_spacer(move |_| (1..=k).map(|i| label_mark(i - 1, every)).map(|m| GridMark { value: m.value + 1.0, ..m }).collect())
            .x_axis_formatter(move |mark, _| {
                let i = mark.value.round();
                let labelled = (i as usize).saturating_sub(1).is_multiple_of(every);
                if (mark.value - i).abs() < 1e-6 && (1.0..=k as f64).contains(&i) && labelled { format!("{i:.0}") } else { String::new() }
            })
            .allow_scroll(false)
            .allow_drag(false)
            .allow_zoom(false)
            .legend(Legend::default().position(Corner::RightTop))
            .show(ui, |plot_ui| {
                plot_ui.bar_chart(BarChart::new("at fit", fitted).color(grey));
                plot_ui.bar_chart(BarChart::new("now", current).color(task_color(0)));
            })
    });
    *rect = shown.response.rect;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_lengths_and_starts_from_the_pc1_pc2_plane() {
        // no turn: PC1 right, PC2 up, PC3 toward the viewer (invisible)
        assert_eq!(rotate(1.0, 2.0, 3.0, 0.0, 0.0), [1.0, 2.0]);
        // a quarter turn brings PC3 to the right
        let [x, y] = rotate(0.0, 0.0, 1.0, std::f32::consts::FRAC_PI_2, 0.0);
        assert!((x - 1.0).abs() < 1e-6 && y.abs() < 1e-6);
    }

    #[test]
    fn trajectory_export_holds_the_drawn_coordinates() {
        let view = PcaView {
            fitted_step: 4,
            step: 8,
            components: 3,
            explained: vec![0.5, 0.25, 0.125],
            participation_ratio: 2.0,
            captured: vec![0.5, 0.25, 0.125],
            tasks: vec![(crate::tasks::Task::FdGo, vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0])],
            ambiguity: crate::analysis::Ambiguity::none(),
            lesioned: Vec::new(),
        };
        let flat = trajectories_export(&view, false, 2, 0, 0.0, 0.0);
        assert_eq!(flat.to_csv(), "task,time step,PC3,PC1\nGo,0,3,1\nGo,1,0,-1\n");
        let turned = trajectories_export(&view, true, 0, 1, 0.6, 0.35);
        let csv = turned.to_csv();
        assert!(csv.starts_with("task,time step,PC1,PC2,PC3,view x,view y\n"), "{csv}");
        let [vx, vy] = rotate(1.0, 2.0, 3.0, 0.6, 0.35);
        assert_eq!(csv.lines().nth(1), Some(format!("Go,0,1,2,3,{vx},{vy}").as_str()));
        assert_eq!(variance_export(&view).to_csv(), "PC,at fit,now\nPC1,0.5,0.5\nPC2,0.25,0.25\nPC3,0.125,0.125\n");
    }
}
