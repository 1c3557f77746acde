//! Line charts: the layout (plot frame, ticks, labels, legend columns, all as boxes a test can
//! check) and its rendering through the SVG writer.

use super::legend::{self, Entry};
use super::palette::{self, Style};
use super::svg::{Anchor, Svg, text_box, text_width, upward_text_box};
use super::ticks::{log_ticks, min_max, padded, tick_label, ticks};
use super::{LineChart, Rect, Series};

const TITLE_SIZE: f64 = 17.0;
const NOTE_SIZE: f64 = 12.0;
const TICK_SIZE: f64 = 12.0;
const LABEL_SIZE: f64 = 14.0;
/// The plot frame's usual size, px; a chart with the unit circle gets a square.
const PLOT_W: f64 = 460.0;
const PLOT_H: f64 = 350.0;
const SQUARE: f64 = 420.0;
/// Lines with more points than this carry thinned markers (about a dozen), not one per point.
const MARKED_POINTS: usize = 40;
/// The legend's name for the unit circle's entry.
pub const UNIT_CIRCLE: &str = "unit circle |λ| = 1";

/// A tick: its value (log10 units on a log axis), its label and the label's box.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub value: f64,
    pub label: String,
    pub rect: Rect,
    /// The label reads upwards (category names too long to sit side by side).
    pub upward: bool,
    /// The label's anchor point.
    anchor: (f64, f64),
}

/// Where everything of a [`LineChart`] goes, in SVG px.
#[derive(Clone, Debug)]
pub struct LineLayout {
    pub width: f64,
    pub height: f64,
    /// The plot frame.
    pub plot: Rect,
    /// The ranges the frame spans (y in log10 units on a log axis), padded beyond the data.
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    /// The data's own y range (or the fixed one): values beyond it are drawn at its edge.
    y_data: (f64, f64),
    log_y: bool,
    pub title: Rect,
    pub note: Option<Rect>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub x_label: Rect,
    pub y_label: Rect,
    /// One entry per series (entry `index` = series index), then the unit circle's if drawn
    /// (index = number of series).
    pub legend: Vec<Entry>,
}

impl LineLayout {
    /// The px position of a data point; `None` if it cannot be drawn (not finite, or not
    /// positive on a log axis). y beyond the fixed range is drawn at the range's edge.
    pub fn position(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let y = if self.log_y { (y > 0.0).then(|| y.log10())? } else { y };
        if !(x.is_finite() && y.is_finite()) {
            return None;
        }
        let y = y.clamp(self.y_data.0, self.y_data.1);
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        Some((self.plot.x + (x - x0) / (x1 - x0) * self.plot.w, self.plot.y + (1.0 - (y - y0) / (y1 - y0)) * self.plot.h))
    }

    /// Every text's box: title, note, tick labels, axis labels, legend entries.
    pub fn labels(&self) -> Vec<Rect> {
        let mut boxes = vec![self.title, self.x_label, self.y_label];
        boxes.extend(self.note);
        boxes.extend(self.x_ticks.iter().chain(&self.y_ticks).map(|t| t.rect));
        boxes.extend(self.legend.iter().map(|e| e.rect));
        boxes.retain(|r| r.w > 0.0);
        boxes
    }
}

/// A value as the axis holds it (log10 on a log axis); `None` if it cannot be drawn.
fn axis_value(log: bool, v: f64) -> Option<f64> {
    let v = if log { (v > 0.0).then(|| v.log10())? } else { v };
    v.is_finite().then_some(v)
}

pub fn layout(chart: &LineChart) -> LineLayout {
    let series = &chart.series;
    let log_y = chart.log_y;
    // ranges
    let mut x_data = if chart.categories.is_empty() {
        min_max(series.iter().flat_map(|s| s.points.iter().map(|p| p.0).chain(s.band.iter().map(|b| b.0))))
    } else {
        // a little room beyond the outer bars' edges (±0.4), so no bar touches the frame
        Some((-0.55, chart.categories.len() as f64 - 0.45))
    };
    let mut y_data = match chart.y_range {
        Some((lo, hi)) => match (axis_value(log_y, lo), axis_value(log_y, hi)) {
            (Some(lo), Some(hi)) => Some((lo, hi)),
            _ => None,
        },
        None => min_max(
            series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1).chain(s.band.iter().flat_map(|b| [b.1, b.2])))
                .filter_map(|v| axis_value(log_y, v)),
        ),
    };
    if series.iter().any(|s| s.bars) && !log_y {
        y_data = Some(y_data.map_or((0.0, 0.0), |(lo, hi)| (lo.min(0.0), hi.max(0.0))));
    }
    if chart.unit_circle {
        x_data = Some(x_data.map_or((-1.0, 1.0), |(lo, hi)| (lo.min(-1.0), hi.max(1.0))));
        y_data = Some(y_data.map_or((-1.0, 1.0), |(lo, hi)| (lo.min(-1.0), hi.max(1.0))));
    }
    let y_fit = y_data.unwrap_or((0.0, 1.0));
    let mut x_range = if chart.categories.is_empty() { padded(x_data) } else { x_data.unwrap_or((-0.5, 0.5)) };
    let mut y_range = padded(y_data);
    if chart.unit_circle {
        // one scale on both axes so the circle is round: widen the narrower span about its centre
        let span = (x_range.1 - x_range.0).max(y_range.1 - y_range.0);
        let widen = |(lo, hi): (f64, f64)| ((lo + hi - span) / 2.0, (lo + hi + span) / 2.0);
        x_range = widen(x_range);
        y_range = widen(y_range);
    }

    // the frame's size: category names read upwards when they do not fit side by side
    let category_widest = chart.categories.iter().map(|c| text_width(c, TICK_SIZE)).fold(0.0, f64::max);
    let upward_slot = 1.05 * TICK_SIZE + 4.0;
    let (mut plot_w, plot_h) = if chart.unit_circle { (SQUARE, SQUARE) } else { (PLOT_W, PLOT_H) };
    plot_w = plot_w.max(chart.categories.len() as f64 * upward_slot);
    let upward = !chart.categories.is_empty() && category_widest + 6.0 > plot_w / chart.categories.len() as f64;

    // y ticks decide the left margin
    let y_values = if log_y { log_ticks(y_range.0, y_range.1) } else { ticks(y_range.0, y_range.1) };
    let y_labels: Vec<String> = y_values.iter().map(|v| tick_label(if log_y { 10f64.powf(*v) } else { *v })).collect();
    let widest_y = y_labels.iter().map(|l| text_width(l, TICK_SIZE)).fold(0.0, f64::max);
    let left = (34.0 + widest_y).max(70.0);
    let title_baseline = 28.0;
    let note_baseline = 48.0;
    let top = if chart.note.is_empty() { 50.0 } else { 64.0 };
    let plot = Rect { x: left, y: top, w: plot_w, h: plot_h };
    let px = |x: f64| plot.x + (x - x_range.0) / (x_range.1 - x_range.0) * plot.w;
    let py = |y: f64| plot.y + (1.0 - (y - y_range.0) / (y_range.1 - y_range.0)) * plot.h;

    let y_ticks = y_values
        .iter()
        .zip(y_labels)
        .map(|(v, label)| {
            let anchor = (left - 8.0, py(*v) + 4.0);
            Tick { value: *v, rect: text_box(anchor.0, anchor.1, TICK_SIZE, Anchor::End, &label), label, upward: false, anchor }
        })
        .collect();
    let x_ticks: Vec<Tick> = if chart.categories.is_empty() {
        let mut all: Vec<Tick> = ticks(x_range.0, x_range.1)
            .into_iter()
            .map(|v| {
                let label = tick_label(v);
                let anchor = (px(v), plot.bottom() + 18.0);
                Tick { value: v, rect: text_box(anchor.0, anchor.1, TICK_SIZE, Anchor::Middle, &label), label, upward: false, anchor }
            })
            .collect();
        // long numbers: keep every other tick until the labels stand apart
        while all.windows(2).any(|w| w[0].rect.right() + 4.0 > w[1].rect.x) && all.len() > 2 {
            all = all.into_iter().step_by(2).collect();
        }
        all
    } else {
        chart
            .categories
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let x = px(i as f64);
                let (anchor, rect) = if upward {
                    // the glyphs' middle on the category: the ascent lies left of the anchor
                    let anchor = (x + 0.275 * TICK_SIZE, plot.bottom() + 8.0);
                    (anchor, upward_text_box(anchor.0, anchor.1, TICK_SIZE, Anchor::End, label))
                } else {
                    let anchor = (x, plot.bottom() + 18.0);
                    (anchor, text_box(anchor.0, anchor.1, TICK_SIZE, Anchor::Middle, label))
                };
                Tick { value: i as f64, label: label.clone(), rect, upward, anchor }
            })
            .collect()
    };
    let ticks_bottom = x_ticks.iter().map(|t| t.rect.bottom()).fold(plot.bottom() + 8.0, f64::max);
    let x_label = text_box(plot.x + plot.w / 2.0, ticks_bottom + 22.0, LABEL_SIZE, Anchor::Middle, &chart.x_label);
    let y_label = upward_text_box(18.0, plot.y + plot.h / 2.0, LABEL_SIZE, Anchor::Middle, &chart.y_label);

    let mut names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    if chart.unit_circle {
        names.push(UNIT_CIRCLE);
    }
    let legend = legend::place(&names, plot.right() + 18.0, plot.y, plot.h);
    let legend_box = legend::bounds(&legend);
    let title_w = text_width(&chart.title, TITLE_SIZE);
    let note_w = text_width(&chart.note, NOTE_SIZE);
    let width =
        (legend_box.right() + 14.0).max(plot.right() + 24.0).max(title_w + 40.0).max(note_w + 40.0).max(x_label.right() + 10.0).ceil();
    let height = (x_label.bottom() + 14.0).max(legend_box.bottom() + 14.0).ceil();
    let title = text_box(width / 2.0, title_baseline, TITLE_SIZE, Anchor::Middle, &chart.title);
    let note = (!chart.note.is_empty()).then(|| text_box(width / 2.0, note_baseline, NOTE_SIZE, Anchor::Middle, &chart.note));
    LineLayout { width, height, plot, x_range, y_range, y_data: y_fit, log_y, title, note, x_ticks, y_ticks, x_label, y_label, legend }
}

/// The colour a series is drawn in: its own, or its palette style's.
fn color_of(s: &Series, style: &Style) -> String {
    if s.color.is_empty() { style.color.to_string() } else { s.color.clone() }
}

/// A series' dash: its index's, or dashed when the series asks for it.
fn dash_of(s: &Series, style: &Style) -> Option<&'static str> {
    if s.dashed { palette::Dash::Dashed.dasharray() } else { style.dash.dasharray() }
}

pub fn render(chart: &LineChart, l: &LineLayout) -> String {
    let mut svg = Svg::new(l.width, l.height);
    let plot = l.plot;
    svg.text(l.width / 2.0, 28.0, TITLE_SIZE, Anchor::Middle, &chart.title);
    if let Some(note) = l.note {
        svg.text(l.width / 2.0, note.y + 0.8 * NOTE_SIZE, NOTE_SIZE, Anchor::Middle, &chart.note);
    }
    // grid (none between categories), ticks and the frame
    let grid = "#e4e4e4";
    if chart.categories.is_empty() {
        for t in &l.x_ticks {
            svg.line((t.anchor.0, plot.y), (t.anchor.0, plot.bottom()), grid, 1.0, None);
        }
    }
    for t in &l.y_ticks {
        let y = t.anchor.1 - 4.0;
        svg.line((plot.x, y), (plot.right(), y), grid, 1.0, None);
    }
    for t in &l.x_ticks {
        if t.upward {
            svg.upward_text(t.anchor.0, t.anchor.1, TICK_SIZE, Anchor::End, &t.label);
        } else {
            svg.text(t.anchor.0, t.anchor.1, TICK_SIZE, Anchor::Middle, &t.label);
        }
    }
    for t in &l.y_ticks {
        svg.text(t.anchor.0, t.anchor.1, TICK_SIZE, Anchor::End, &t.label);
    }
    svg.rect(plot, "none", r##" stroke="#444""##);
    svg.text(plot.x + plot.w / 2.0, l.x_label.y + 0.8 * LABEL_SIZE, LABEL_SIZE, Anchor::Middle, &chart.x_label);
    svg.upward_text(18.0, plot.y + plot.h / 2.0, LABEL_SIZE, Anchor::Middle, &chart.y_label);
    if chart.unit_circle
        && let Some(centre) = l.position(0.0, 0.0)
    {
        let rx = plot.w / (l.x_range.1 - l.x_range.0);
        let ry = plot.h / (l.y_range.1 - l.y_range.0);
        svg.ellipse(centre, rx, ry, "#888888", Some("5 4"));
    }

    // bands under everything
    for (i, s) in chart.series.iter().enumerate().filter(|(_, s)| s.band.len() >= 2) {
        let color = color_of(s, &palette::style(i));
        let mut d = String::new();
        let upper = s.band.iter().filter_map(|(x, _, hi)| l.position(*x, *hi));
        let lower = s.band.iter().rev().filter_map(|(x, lo, _)| l.position(*x, *lo));
        for (j, (x, y)) in upper.chain(lower).enumerate() {
            d.push_str(&format!("{}{x:.1},{y:.1} ", if j == 0 { "M" } else { "L" }));
        }
        svg.area(&d, &color, 0.18);
    }
    // bars: grouped around each x, one slot per bar series
    let bar_series: Vec<usize> = chart.series.iter().enumerate().filter(|(_, s)| s.bars).map(|(i, _)| i).collect();
    let slot = 0.8 / bar_series.len().max(1) as f64;
    let base = if l.log_y { l.y_data.0 } else { 0.0 };
    for (rank, &i) in bar_series.iter().enumerate() {
        let s = &chart.series[i];
        let color = color_of(s, &palette::style(i));
        for (x, y) in &s.points {
            let x0 = x - 0.4 + rank as f64 * slot;
            let base_y = if l.log_y { 10f64.powf(base) } else { base };
            let (Some(a), Some(b)) = (l.position(x0, *y), l.position(x0 + slot, base_y)) else { continue };
            svg.rect(Rect { x: a.0, y: a.1.min(b.1), w: (b.0 - a.0).max(0.0), h: (b.1 - a.1).abs() }, &color, "");
        }
    }
    // lines and markers
    for (i, s) in chart.series.iter().enumerate().filter(|(_, s)| !s.bars) {
        let style = palette::style(i);
        let color = color_of(s, &style);
        let points: Vec<(f64, f64)> = s.points.iter().filter_map(|(x, y)| l.position(*x, *y)).collect();
        if !s.markers_only && !points.is_empty() {
            svg.polyline(&points, &color, if s.thin { 1.0 } else { 2.0 }, dash_of(s, &style));
        }
        let every = if s.markers_only || points.len() <= MARKED_POINTS { 1 } else { points.len().div_ceil(12) };
        for (x, y) in points.iter().step_by(every) {
            svg.marker(*x, *y, &style, &color, s.hollow);
        }
    }
    // the legend
    for e in &l.legend {
        let (x, y) = e.swatch;
        let name = match chart.series.get(e.index) {
            Some(s) => {
                let style = palette::style(e.index);
                let color = color_of(s, &style);
                if s.bars {
                    svg.rect(Rect { x: x + 8.0, y: y - 6.0, w: 12.0, h: 12.0 }, &color, "");
                } else {
                    if !s.markers_only {
                        svg.line((x, y), (x + legend::SWATCH, y), &color, 2.5, dash_of(s, &style));
                    }
                    svg.marker(x + legend::SWATCH / 2.0, y, &style, &color, s.hollow);
                }
                s.name.as_str()
            }
            None => {
                svg.line((x, y), (x + legend::SWATCH, y), "#888888", 1.2, Some("5 4"));
                UNIT_CIRCLE
            }
        };
        svg.text(e.text.0, e.text.1, legend::FONT_SIZE, Anchor::Start, name);
    }
    svg.finish()
}
