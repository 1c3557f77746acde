//! The plot pieces every panel shares: task colours, dashes and markers (the figure engine's
//! palette, so the screen matches exported and command-line figures), the colour map of heat
//! maps, and the per-task bar chart.

use eframe::egui;
use egui_plot::{Corner, GridMark, Legend, Plot};

use crate::figure;

/// More legend entries than this are set in small type.
const LEGEND_FULL_SIZE_ENTRIES: usize = 10;

/// Room for one task label under the bars, in points.
const LABEL_WIDTH: f32 = 90.0;

/// The colour of trained task number `index`, the same in every panel and in every exported or
/// command-line figure: the figure engine's palette (20 distinct colours for the battery).
pub fn task_color(index: usize) -> egui::Color32 {
    color(figure::style(index).color)
}

/// The dash of task number `index`'s line, as in the figures (tasks 10–19 dashed), so that
/// colour is never the only difference between two tasks.
pub fn task_line_style(index: usize) -> egui_plot::LineStyle {
    match figure::style(index).dash {
        figure::palette::Dash::Solid => egui_plot::LineStyle::Solid,
        figure::palette::Dash::Dashed => egui_plot::LineStyle::Dashed { length: 8.0 },
        figure::palette::Dash::Dotted => egui_plot::LineStyle::Dotted { spacing: 4.0 },
    }
}

/// The marker of task number `index`'s points, as in the figures.
pub fn task_marker(index: usize) -> egui_plot::MarkerShape {
    match figure::style(index).marker {
        figure::palette::Marker::Circle => egui_plot::MarkerShape::Circle,
        figure::palette::Marker::Square => egui_plot::MarkerShape::Square,
        figure::palette::Marker::Triangle => egui_plot::MarkerShape::Up,
    }
}

/// The legend of a plot with one entry per task (plus `extra` other entries): in task order, as
/// in the Setup panel and the exported figures, and in small type when there are more entries
/// than fit at full size, so the whole battery's 20 tasks fit beside a plot of ordinary height.
pub fn task_legend(corner: Corner, entries: usize) -> Legend {
    let legend = Legend::default().position(corner).follow_insertion_order(true);
    if entries > LEGEND_FULL_SIZE_ENTRIES { legend.text_style(egui::TextStyle::Small) } else { legend }
}

/// The heat maps' colour map for x in [0, 1]: the figures' viridis, so a heat map on screen and
/// its exported SVG agree.
pub fn colormap(x: f32) -> egui::Color32 {
    let x = if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 };
    color(&figure::palette::viridis(x as f64))
}

/// A palette colour (`#rrggbb`, from [`figure::palette`]) on screen: the app's only way to make a
/// chromatic colour (tests/layers.rs checks), so screen and figures share one palette.
pub fn color(hex: &str) -> egui::Color32 {
    rgb(figure::palette::rgb(hex).unwrap_or([128, 128, 128]))
}

/// A palette colour already in components (e.g. a point of [`figure::palette::ramp`]).
pub fn rgb([r, g, b]: [u8; 3]) -> egui::Color32 {
    egui::Color32::from_rgb(r, g, b)
}

/// The same, see-through (`alpha` of 255).
pub fn color_alpha(hex: &str, alpha: u8) -> egui::Color32 {
    let [r, g, b] = figure::palette::rgb(hex).unwrap_or([128, 128, 128]);
    egui::Color32::from_rgba_unmultiplied(r, g, b, alpha)
}

/// A fixed bar chart of one value in [0, 1] per task (bars at x = 0, 1, …), each task named under
/// its bars — every few tasks when the names would overlap in `width` points (hovering a bar names
/// its task) — with the legend at the top right. The Training and Ambiguity panels' bars.
pub fn task_bars_plot<'a>(id: &str, height: f32, labels: Vec<String>, width: f32) -> Plot<'a> {
    let n = labels.len();
    let every = (LABEL_WIDTH / (width / n.max(1) as f32)).ceil().max(1.0) as usize;
    Plot::new(id)
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
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 && (i as usize).is_multiple_of(every) {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
}

/// The grid mark of bar `i` when every `every`-th bar is labelled. egui_plot paints a tick label
/// only if marks of its step size are at least ~60 points apart, so labelled marks claim a step
/// of `every` bars and the others a step of one (they get a grid line but no label).
pub fn label_mark(i: usize, every: usize) -> GridMark {
    GridMark { value: i as f64, step_size: if i.is_multiple_of(every) { every as f64 } else { 1.0 } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_ends_and_clamps() {
        assert_eq!(colormap(0.0), egui::Color32::from_rgb(68, 1, 84));
        assert_eq!(colormap(1.0), egui::Color32::from_rgb(253, 231, 37));
        assert_eq!(colormap(7.0), colormap(1.0));
        assert_eq!(colormap(f32::NAN), colormap(0.0));
    }
}
