//! One definition per plot: a panel describes a plot once, as a [`PlotExport`] (its names, its
//! data and each curve's palette style), and both the screen and the exports come from that one
//! value. [`show`] draws the header (the plot's name with its tooltip, and the export menu, which
//! hands the same value to CSV, SVG and PNG) and the plot; the panel keeps only what the screen
//! alone needs (its axes' ranges, a line marking the step looked back at) in the egui_plot it
//! passes and in `extra`.

use eframe::egui;
use egui_plot::{Bar, BarChart, Line, LineStyle, Plot, PlotPoints, PlotUi, Points};

use super::export::{Curve, PlotData, PlotExport, export_menu_ui};
use super::panel::PanelContext;
use super::widgets;

/// The most points a curve is drawn with: a long run's loss has one per step, and egui
/// tessellates every point every frame (the export keeps them all).
pub const MAX_CURVE_POINTS: usize = 2000;

/// Every n-th point so that at most about `MAX_CURVE_POINTS` remain (the last one always kept).
pub fn thinned(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let stride = points.len().div_ceil(MAX_CURVE_POINTS).max(1);
    let mut out: Vec<[f64; 2]> = points.iter().step_by(stride).copied().collect();
    if let Some(last) = points.last()
        && out.last() != Some(last)
    {
        out.push(*last);
    }
    out
}

/// How one plot is shown: its header and where its picture lies on screen (for the PNG export).
pub struct Shown<'a> {
    /// The header's text and its tooltip.
    pub label: &'a str,
    pub hover: &'a str,
    /// Where the plot was drawn last frame (updated here).
    pub rect: &'a mut egui::Rect,
}

/// The header row and the plot of `def`: `plot` configured by the panel (size, axis ranges,
/// legend), `def`'s data drawn into it in palette styles, then `extra` (what only the screen
/// shows). Curves go in last first when `reversed` (a legend in a bottom corner stacks upwards,
/// so it then reads in order from the top).
pub fn show(
    ui: &mut egui::Ui,
    cx: &mut PanelContext<'_>,
    shown: Shown<'_>,
    def: &PlotExport,
    plot: Plot<'_>,
    reversed: bool,
    extra: impl FnOnce(&mut PlotUi),
) {
    ui.horizontal(|ui| {
        ui.label(shown.label).on_hover_text(shown.hover);
        export_menu_ui(ui, cx.files, *shown.rect, || def.clone());
    });
    body(ui, def, plot, reversed, shown.rect, extra);
}

/// The plot of [`show`] without its header, for a panel whose header row holds more (a slider).
pub fn body(ui: &mut egui::Ui, def: &PlotExport, plot: Plot<'_>, reversed: bool, rect: &mut egui::Rect, extra: impl FnOnce(&mut PlotUi)) {
    // the scope's rect holds the plot with its axes and tick labels (the PNG export's crop)
    let drawn = ui.scope(|ui| {
        plot.show(ui, |plot_ui| {
            draw(plot_ui, def, reversed);
            extra(plot_ui);
        })
    });
    *rect = drawn.response.rect;
}

/// Draw `def`'s curves (lines or points) or grouped bars into an open plot, each series in its
/// palette style — the style the exported SVG gives it. A log y axis is drawn as log10 of the
/// values (egui_plot has no log axes; the panel labels the ticks).
pub fn draw(plot_ui: &mut PlotUi, def: &PlotExport, reversed: bool) {
    let (curves, scatter) = match &def.data {
        PlotData::Lines(curves) | PlotData::Table { lines: Some(curves), .. } => (curves, false),
        PlotData::Scatter(curves) => (curves, true),
        PlotData::Bars { categories, series } => return draw_bars(plot_ui, categories, series),
        _ => return,
    };
    let mut order: Vec<usize> = (0..curves.len()).collect();
    if reversed {
        order.reverse();
    }
    for i in order {
        let curve = &curves[i];
        let points = screen_points(curve, def.log_y);
        let color = curve_color(curve, i);
        if scatter {
            plot_ui.points(
                Points::new(curve.name.as_str(), PlotPoints::from(points))
                    .radius(if curve.thin { 1.5 } else { 4.0 })
                    .shape(widgets::task_marker(i))
                    .color(color),
            );
        } else {
            let style = if curve.dashed { LineStyle::dashed_loose() } else { widgets::task_line_style(i) };
            plot_ui.line(
                Line::new(curve.name.as_str(), PlotPoints::from(points))
                    .width(if curve.thin { 1.0 } else { 2.0 })
                    .color(color)
                    .style(style),
            );
        }
    }
}

/// Grouped bars: category `i` at x = i, one bar per series side by side, each series in its
/// index's palette colour (as in the SVG); hovering a bar names its category.
fn draw_bars(plot_ui: &mut PlotUi, categories: &[String], series: &[(String, Vec<f64>)]) {
    let count = series.len().max(1);
    let width = (0.8 / count as f64).min(0.7);
    for (s, (name, values)) in series.iter().enumerate() {
        let offset = (s as f64 - (count - 1) as f64 / 2.0) * width;
        let bars = values
            .iter()
            .enumerate()
            .map(|(i, v)| Bar::new(i as f64 + offset, *v).width(width).name(categories.get(i).map_or("", String::as_str)))
            .collect();
        plot_ui.bar_chart(BarChart::new(name.as_str(), bars).color(widgets::task_color(s)));
    }
}

/// A curve's colour on screen: its own, or its index's in the palette (as in the SVG).
pub fn curve_color(curve: &Curve, index: usize) -> egui::Color32 {
    if curve.color.is_empty() { widgets::task_color(index) } else { widgets::color(&curve.color) }
}

/// A curve's points as drawn: thinned, and on a log axis as log10 of the positive values.
fn screen_points(curve: &Curve, log_y: bool) -> Vec<[f64; 2]> {
    thinned(&curve.points)
        .into_iter()
        .filter(|[x, y]| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
        .map(|[x, y]| [x, if log_y { y.log10() } else { y }])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure;

    #[test]
    fn long_curves_are_thinned_keeping_the_last_point() {
        let long: Vec<[f64; 2]> = (0..10_001).map(|i| [i as f64, 1.0]).collect();
        let thin = thinned(&long);
        assert!(thin.len() <= MAX_CURVE_POINTS + 1, "{}", thin.len());
        assert_eq!(thin.last(), long.last());
        let short = vec![[0.0, 1.0], [1.0, 2.0]];
        assert_eq!(thinned(&short), short);
    }

    #[test]
    fn a_log_axis_draws_the_log_of_positive_values_only() {
        let curve = Curve::new("loss", vec![[0.0, 100.0], [1.0, 0.0], [2.0, f64::NAN], [3.0, 0.01]]);
        assert_eq!(screen_points(&curve, true), vec![[0.0, 2.0], [3.0, -2.0]]);
        assert_eq!(screen_points(&curve, false), vec![[0.0, 100.0], [1.0, 0.0], [3.0, 0.01]]);
    }

    #[test]
    fn a_curve_keeps_its_own_colour_or_takes_its_index_s() {
        let plain = Curve::new("a", Vec::new());
        assert_eq!(curve_color(&plain, 3), widgets::task_color(3));
        let red = Curve::new("b", Vec::new()).color(figure::palette::role::TRAINED);
        assert_eq!(curve_color(&red, 3), widgets::color(figure::palette::role::TRAINED));
    }
}
