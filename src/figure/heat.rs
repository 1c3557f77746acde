//! Heat maps: the layout (cells at a readable aspect, thinned row labels, column labels that
//! read upwards when they do not fit, the colour bar and its label clear of both) and its
//! rendering through the SVG writer.

use super::palette::viridis;
use super::svg::{Anchor, Svg, text_box, text_width, upward_text_box};
use super::ticks::tick_label;
use super::{HeatMaps, Rect};

const TITLE_SIZE: f64 = 17.0;
const PANEL_TITLE_SIZE: f64 = 14.0;
const TICK_SIZE: f64 = 11.0;
const LABEL_SIZE: f64 = 13.0;
/// The tallest a panel gets, px (the PNG is twice that): 256 unit rows get about 2.5 px each
/// instead of a 7000 px tall picture.
pub const MAX_PANEL_H: f64 = 600.0;
/// The colour bar's width, px.
const BAR_W: f64 = 14.0;

/// A text of the figure: where it is anchored and the box it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub text: String,
    pub rect: Rect,
    pub anchor: (f64, f64),
    /// Reads upwards (rotated −90°).
    pub upward: bool,
}

impl Label {
    fn flat(text: &str, x: f64, y: f64, size: f64, anchor: Anchor) -> Label {
        Label { text: text.to_string(), rect: text_box(x, y, size, anchor, text), anchor: (x, y), upward: false }
    }

    fn up(text: &str, x: f64, y: f64, size: f64, anchor: Anchor) -> Label {
        Label { text: text.to_string(), rect: upward_text_box(x, y, size, anchor, text), anchor: (x, y), upward: true }
    }
}

/// Where everything of a [`HeatMaps`] figure goes, in SVG px.
#[derive(Clone, Debug)]
pub struct HeatLayout {
    pub width: f64,
    pub height: f64,
    pub cell_w: f64,
    pub cell_h: f64,
    pub rows: usize,
    pub cols: usize,
    pub panels: Vec<Rect>,
    pub title: Label,
    pub panel_titles: Vec<Label>,
    /// Column labels of every panel.
    pub col_labels: Vec<Label>,
    /// Labels of the labelled rows (every `row_step`-th when rows are too thin for all).
    pub row_labels: Vec<Label>,
    pub row_step: usize,
    pub x_labels: Vec<Label>,
    pub y_label: Label,
    pub colorbar: Rect,
    pub colorbar_ticks: Vec<Label>,
    pub colorbar_label: Label,
}

impl HeatLayout {
    /// Every text's box.
    pub fn labels(&self) -> Vec<Rect> {
        let mut all: Vec<&Label> = vec![&self.title, &self.y_label, &self.colorbar_label];
        all.extend(
            self.panel_titles.iter().chain(&self.col_labels).chain(&self.row_labels).chain(&self.x_labels).chain(&self.colorbar_ticks),
        );
        all.into_iter().filter(|l| !l.text.is_empty()).map(|l| l.rect).collect()
    }

    /// The cell of `row` (0 = bottom row) and `col` in `panel`.
    pub fn cell(&self, panel: usize, row: usize, col: usize) -> Rect {
        let p = self.panels[panel];
        Rect { x: p.x + col as f64 * self.cell_w, y: p.y + (self.rows - 1 - row) as f64 * self.cell_h, w: self.cell_w, h: self.cell_h }
    }
}

/// The smallest of 1, 2, 5, 10, 20, 50, … rows between labels that leaves `min_gap` px.
fn label_step(cell_h: f64, min_gap: f64) -> usize {
    let mut step = 1usize;
    for k in (0..).flat_map(|e| [1, 2, 5].map(|m| m * 10usize.pow(e))) {
        step = k;
        if k as f64 * cell_h >= min_gap || k > 1_000_000 {
            break;
        }
    }
    step
}

pub fn layout(maps: &HeatMaps) -> HeatLayout {
    let value_rows = maps.panels.iter().map(|p| p.values.len()).max().unwrap_or(0);
    let value_cols = maps.panels.iter().flat_map(|p| p.values.iter().map(Vec::len)).max().unwrap_or(0);
    let rows = maps.row_labels.len().max(value_rows).max(1);
    let cols = maps.col_labels.len().max(value_cols).max(1);
    let cell_w = (320.0 / cols as f64).clamp(15.0, 36.0);
    let cell_h = cell_w.min(MAX_PANEL_H / rows as f64);
    let (panel_w, panel_h) = (cell_w * cols as f64, cell_h * rows as f64);
    let n_panels = maps.panels.len().max(1);

    // row labels: every row when they fit, else every step-th
    let row_step = label_step(cell_h, 1.05 * TICK_SIZE + 2.0);
    let labelled: Vec<usize> = (0..rows).step_by(row_step).collect();
    let row_text = |r: usize| maps.row_labels.get(r).map_or("", String::as_str);
    let widest_row = labelled.iter().map(|r| text_width(row_text(*r), TICK_SIZE)).fold(0.0, f64::max);
    let left = (32.0 + widest_row + 6.0).max(70.0);
    let has_panel_titles = maps.panels.iter().any(|p| !p.title.is_empty());
    let top = if has_panel_titles { 66.0 } else { 48.0 };
    let widest_title = maps.panels.iter().map(|p| text_width(&p.title, PANEL_TITLE_SIZE)).fold(0.0, f64::max);
    let gap = (widest_title - panel_w + 20.0).max(40.0);
    let panels: Vec<Rect> = (0..n_panels).map(|p| Rect { x: left + p as f64 * (panel_w + gap), y: top, w: panel_w, h: panel_h }).collect();

    let widest_col = maps.col_labels.iter().map(|c| text_width(c, TICK_SIZE)).fold(0.0, f64::max);
    let upward = widest_col + 3.0 > cell_w;
    let mut col_labels = Vec::new();
    let mut panel_titles = Vec::new();
    for (p, rect) in panels.iter().enumerate() {
        panel_titles.push(Label::flat(
            maps.panels.get(p).map_or("", |panel| panel.title.as_str()),
            rect.x + rect.w / 2.0,
            top - 10.0,
            PANEL_TITLE_SIZE,
            Anchor::Middle,
        ));
        for (c, text) in maps.col_labels.iter().enumerate() {
            let x = rect.x + (c as f64 + 0.5) * cell_w;
            col_labels.push(if upward {
                Label::up(text, x + 0.275 * TICK_SIZE, rect.bottom() + 6.0, TICK_SIZE, Anchor::End)
            } else {
                Label::flat(text, x, rect.bottom() + 15.0, TICK_SIZE, Anchor::Middle)
            });
        }
    }
    let cols_bottom = col_labels.iter().map(|l| l.rect.bottom()).fold(top + panel_h + 4.0, f64::max);
    let x_labels: Vec<Label> =
        panels.iter().map(|r| Label::flat(&maps.x_label, r.x + r.w / 2.0, cols_bottom + 18.0, LABEL_SIZE, Anchor::Middle)).collect();
    let row_labels = labelled
        .iter()
        .map(|&r| {
            let centre = top + (rows - 1 - r) as f64 * cell_h + cell_h / 2.0;
            Label::flat(row_text(r), left - 6.0, centre + 0.3 * TICK_SIZE, TICK_SIZE, Anchor::End)
        })
        .collect();

    // the colour bar right of everything, its label reading upwards beside its tick labels
    let right = panels.iter().map(Rect::right).chain(x_labels.iter().map(|l| l.rect.right())).fold(0.0, f64::max);
    let bx = right + 24.0;
    let bar_h = panel_h.max(text_width(&maps.colorbar_label, TICK_SIZE) + 10.0).max(100.0);
    let colorbar = Rect { x: bx, y: top, w: BAR_W, h: bar_h };
    let (lo, hi) = maps.range;
    let colorbar_ticks = vec![
        Label::flat(&tick_label(hi), bx + BAR_W + 4.0, top + 0.8 * TICK_SIZE, TICK_SIZE, Anchor::Start),
        Label::flat(&tick_label(lo), bx + BAR_W + 4.0, top + bar_h, TICK_SIZE, Anchor::Start),
    ];
    let widest_tick = colorbar_ticks.iter().map(|l| l.rect.w).fold(0.0, f64::max);
    let colorbar_label = Label::up(
        &maps.colorbar_label,
        bx + BAR_W + 4.0 + widest_tick + 8.0 + 0.8 * TICK_SIZE,
        top + bar_h / 2.0,
        TICK_SIZE,
        Anchor::Middle,
    );

    let title_w = text_width(&maps.title, TITLE_SIZE);
    let width = (colorbar_label.rect.right() + 14.0).max(title_w + 40.0).ceil();
    let title = Label::flat(&maps.title, width / 2.0, 26.0, TITLE_SIZE, Anchor::Middle);
    // the y label centred on the panels, but never up into the title
    let y_label_w = text_width(&maps.y_label, LABEL_SIZE);
    let y_centre = (top + panel_h / 2.0).max(title.rect.bottom() + 6.0 + y_label_w / 2.0);
    let y_label = Label::up(&maps.y_label, 18.0, y_centre, LABEL_SIZE, Anchor::Middle);
    let height = x_labels
        .iter()
        .map(|l| l.rect.bottom())
        .chain([colorbar.bottom() + 8.0, y_label.rect.bottom(), colorbar_ticks[1].rect.bottom()])
        .fold(0.0, f64::max)
        .ceil()
        + 14.0;
    HeatLayout {
        width,
        height,
        cell_w,
        cell_h,
        rows,
        cols,
        panels,
        title,
        panel_titles,
        col_labels,
        row_labels,
        row_step,
        x_labels,
        y_label,
        colorbar,
        colorbar_ticks,
        colorbar_label,
    }
}

fn draw(svg: &mut Svg, label: &Label, size: f64, anchor: Anchor) {
    if label.upward {
        svg.upward_text(label.anchor.0, label.anchor.1, size, anchor, &label.text);
    } else {
        svg.text(label.anchor.0, label.anchor.1, size, anchor, &label.text);
    }
}

pub fn render(maps: &HeatMaps, l: &HeatLayout) -> String {
    let mut svg = Svg::new(l.width, l.height);
    draw(&mut svg, &l.title, TITLE_SIZE, Anchor::Middle);
    let (lo, hi) = maps.range;
    // thin rows are drawn a little taller than their pitch so no seams show between them
    let (stroke, overlap) = if l.cell_h >= 8.0 { (r##" stroke="#ffffff" stroke-width="0.5""##, 0.0) } else { ("", 0.4) };
    for (p, panel) in maps.panels.iter().enumerate() {
        for r in 0..l.rows {
            for c in 0..l.cols {
                let value = panel.values.get(r).and_then(|row| row.get(c)).copied().flatten();
                let fill = match value {
                    Some(v) if hi > lo => viridis((v - lo) / (hi - lo)),
                    Some(_) => viridis(0.5),
                    None => "#dddddd".into(),
                };
                let mut cell = l.cell(p, r, c);
                cell.h += overlap;
                svg.rect(cell, &fill, stroke);
            }
        }
    }
    for label in &l.panel_titles {
        draw(&mut svg, label, PANEL_TITLE_SIZE, Anchor::Middle);
    }
    for label in &l.col_labels {
        draw(&mut svg, label, TICK_SIZE, if label.upward { Anchor::End } else { Anchor::Middle });
    }
    for label in &l.row_labels {
        draw(&mut svg, label, TICK_SIZE, Anchor::End);
    }
    for label in &l.x_labels {
        draw(&mut svg, label, LABEL_SIZE, Anchor::Middle);
    }
    draw(&mut svg, &l.y_label, LABEL_SIZE, Anchor::Middle);
    let bar = l.colorbar;
    let steps = 40;
    for i in 0..steps {
        let t = (i as f64 + 0.5) / steps as f64;
        let y = bar.y + bar.h * (1.0 - (i + 1) as f64 / steps as f64);
        svg.rect(Rect { x: bar.x, y, w: bar.w, h: bar.h / steps as f64 + 0.5 }, &viridis(t), "");
    }
    for label in &l.colorbar_ticks {
        draw(&mut svg, label, TICK_SIZE, Anchor::Start);
    }
    draw(&mut svg, &l.colorbar_label, TICK_SIZE, Anchor::Middle);
    svg.finish()
}
