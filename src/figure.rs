//! Headless figures for the command line: line charts and heat maps written as SVG, and the same
//! SVG rendered to PNG (resvg, with egui's bundled font so a bare machine needs no system fonts).
//!
//! The figures are deliberately plain: a title, labelled axes with round ticks, a legend, and
//! optionally a shaded band per series (spread over seeds).

use std::fmt::Write as _;
use std::path::Path;

use crate::io::write_atomic;

/// A categorical palette (Tableau 10): distinguishable, colour-blind friendlier than pure hues.
pub const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// The font family the SVGs name; the PNG renderer loads exactly this font.
const FONT_FAMILY: &str = "Ubuntu";

/// One line of a [`LineChart`].
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    /// `#rrggbb`; empty = the palette colour of the series' index.
    pub color: String,
    pub points: Vec<(f64, f64)>,
    /// (x, low, high): a shaded band around the line, e.g. min–max over seeds.
    pub band: Vec<(f64, f64, f64)>,
    /// Points only, no connecting line (a scatter, e.g. eigenvalues in the complex plane).
    pub markers_only: bool,
    /// Hollow markers (white inside, e.g. unstable fixed points beside filled stable ones).
    pub hollow: bool,
}

/// A line chart: x against y, one line per series.
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Fixed y range; `None` = fitted to the data.
    pub y_range: Option<(f64, f64)>,
    pub series: Vec<Series>,
}

/// One panel of a [`HeatMaps`] figure: `values[row][col]`, `None` = no data (drawn hatched grey).
#[derive(Clone, Debug, Default)]
pub struct HeatPanel {
    pub title: String,
    pub values: Vec<Vec<Option<f64>>>,
}

/// Several heat maps side by side that share their axes and colour scale.
#[derive(Clone, Debug, Default)]
pub struct HeatMaps {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub col_labels: Vec<String>,
    pub row_labels: Vec<String>,
    /// The values mapped to the ends of the colour scale.
    pub range: (f64, f64),
    pub colorbar_label: String,
    pub panels: Vec<HeatPanel>,
}

/// Escape text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// About five round tick values covering [lo, hi].
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(hi > lo) || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn tick_label(v: f64) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

impl LineChart {
    pub fn to_svg(&self) -> String {
        let (width, height) = (720.0, 460.0);
        let (left, right, top, bottom) = (70.0, 190.0, 50.0, 60.0);
        let plot_w = width - left - right;
        let plot_h = height - top - bottom;
        let xs = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0).chain(s.band.iter().map(|b| b.0)));
        let (x_lo, x_hi) = min_max(xs).unwrap_or((0.0, 1.0));
        let (x_lo, x_hi) = if x_hi > x_lo { (x_lo, x_hi) } else { (x_lo - 0.5, x_hi + 0.5) };
        let (y_lo, y_hi) = self.y_range.unwrap_or_else(|| {
            let ys = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.1).chain(s.band.iter().flat_map(|b| [b.1, b.2])));
            let (lo, hi) = min_max(ys).unwrap_or((0.0, 1.0));
            if hi > lo { (lo, hi) } else { (lo - 0.5, hi + 0.5) }
        });
        let sx = |x: f64| left + (x - x_lo) / (x_hi - x_lo) * plot_w;
        let sy = |y: f64| top + (1.0 - (y - y_lo) / (y_hi - y_lo)) * plot_h;

        let mut svg = svg_header(width, height);
        text(&mut svg, width / 2.0, 28.0, 17.0, "middle", &self.title);
        // grid and ticks
        for t in ticks(x_lo, x_hi) {
            let x = sx(t);
            let _ = write!(svg, r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#e4e4e4"/>"##, top + plot_h);
            text(&mut svg, x, top + plot_h + 18.0, 12.0, "middle", &tick_label(t));
        }
        for t in ticks(y_lo, y_hi) {
            let y = sy(t);
            let _ = write!(svg, r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/>"##, left + plot_w);
            text(&mut svg, left - 8.0, y + 4.0, 12.0, "end", &tick_label(t));
        }
        let _ = write!(svg, r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>"##);
        text(&mut svg, left + plot_w / 2.0, height - 18.0, 14.0, "middle", &self.x_label);
        y_axis_label(&mut svg, top + plot_h / 2.0, 14.0, &self.y_label);
        // bands under lines
        for (i, s) in self.series.iter().enumerate() {
            if s.band.len() < 2 {
                continue;
            }
            let color = series_color(s, i);
            let mut d = String::new();
            for (j, (x, _, hi)) in s.band.iter().enumerate() {
                let _ = write!(d, "{}{:.1},{:.1} ", if j == 0 { "M" } else { "L" }, sx(*x), sy(hi.clamp(y_lo, y_hi)));
            }
            for (x, lo, _) in s.band.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", sx(*x), sy(lo.clamp(y_lo, y_hi)));
            }
            let _ = write!(svg, r#"<path d="{d}Z" fill="{color}" fill-opacity="0.18" stroke="none"/>"#);
        }
        for (i, s) in self.series.iter().enumerate() {
            let color = series_color(s, i);
            let points: Vec<String> = s.points.iter().map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(y.clamp(y_lo, y_hi)))).collect();
            if !s.markers_only {
                let _ = write!(svg, r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2.2"/>"#, points.join(" "));
            }
            for (x, y) in &s.points {
                let fill = if s.hollow { format!(r##"#ffffff" stroke="{color}" stroke-width="1.5"##) } else { color.clone() };
                let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{fill}"/>"#, sx(*x), sy(y.clamp(y_lo, y_hi)));
            }
            // legend
            let ly = top + 10.0 + 22.0 * i as f64;
            let lx = left + plot_w + 16.0;
            let _ = write!(svg, r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/>"#, lx + 24.0);
            text(&mut svg, lx + 30.0, ly + 4.5, 13.0, "start", &s.name);
        }
        svg.push_str("</svg>\n");
        svg
    }
}

impl HeatMaps {
    pub fn to_svg(&self) -> String {
        let rows = self.row_labels.len().max(1);
        let cols = self.col_labels.len().max(1);
        let cell = (36.0f64).min(260.0 / cols as f64).max(14.0);
        let (panel_w, panel_h) = (cell * cols as f64, cell * rows as f64);
        let (left, top, gap) = (70.0, 70.0, 40.0);
        let n = self.panels.len().max(1) as f64;
        // wide enough for the title too (≈ 0.55 em per character at 17 px)
        let width = (left + n * panel_w + (n - 1.0) * gap + 110.0).max(self.title.chars().count() as f64 * 9.5 + 40.0);
        let height = top + panel_h + 60.0;
        let mut svg = svg_header(width, height);
        text(&mut svg, width / 2.0, 26.0, 17.0, "middle", &self.title);
        let (lo, hi) = self.range;
        for (p, panel) in self.panels.iter().enumerate() {
            let x0 = left + p as f64 * (panel_w + gap);
            text(&mut svg, x0 + panel_w / 2.0, top - 10.0, 14.0, "middle", &panel.title);
            for r in 0..rows {
                // the first row at the bottom, like a y axis
                let y = top + (rows - 1 - r) as f64 * cell;
                for c in 0..cols {
                    let x = x0 + c as f64 * cell;
                    let value = panel.values.get(r).and_then(|row| row.get(c)).copied().flatten();
                    let fill = match value {
                        Some(v) => viridis(((v - lo) / (hi - lo)).clamp(0.0, 1.0)),
                        None => "#dddddd".into(),
                    };
                    let _ = write!(
                        svg,
                        r##"<rect x="{x:.1}" y="{y:.1}" width="{cell:.1}" height="{cell:.1}" fill="{fill}" stroke="#ffffff" stroke-width="0.5"/>"##
                    );
                }
                if p == 0 {
                    text(&mut svg, x0 - 6.0, y + cell / 2.0 + 4.0, 11.0, "end", self.row_labels.get(r).map_or("", |s| s));
                }
            }
            for (c, label) in self.col_labels.iter().enumerate() {
                text(&mut svg, x0 + (c as f64 + 0.5) * cell, top + panel_h + 15.0, 11.0, "middle", label);
            }
            text(&mut svg, x0 + panel_w / 2.0, top + panel_h + 38.0, 13.0, "middle", &self.x_label);
        }
        y_axis_label(&mut svg, top + panel_h / 2.0, 13.0, &self.y_label);
        // colour bar
        let bx = width - 80.0;
        let steps = 20;
        for i in 0..steps {
            let t = i as f64 / (steps - 1) as f64;
            let y = top + panel_h * (1.0 - (i + 1) as f64 / steps as f64);
            let _ =
                write!(svg, r#"<rect x="{bx}" y="{y:.1}" width="14" height="{:.1}" fill="{}"/>"#, panel_h / steps as f64 + 0.5, viridis(t));
        }
        text(&mut svg, bx + 18.0, top + 8.0, 11.0, "start", &tick_label(hi));
        text(&mut svg, bx + 18.0, top + panel_h, 11.0, "start", &tick_label(lo));
        text(&mut svg, bx + 7.0, top + panel_h + 18.0, 11.0, "middle", &self.colorbar_label);
        svg.push_str("</svg>\n");
        svg
    }
}

fn series_color(s: &Series, index: usize) -> String {
    if s.color.is_empty() { PALETTE[index % PALETTE.len()].to_string() } else { s.color.clone() }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

fn svg_header(width: f64, height: f64) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="{FONT_FAMILY}" fill="#222"><rect width="100%" height="100%" fill="#ffffff"/>"##
    )
}

fn text(svg: &mut String, x: f64, y: f64, size: f64, anchor: &str, content: &str) {
    let _ = write!(svg, r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}">{}</text>"#, esc(content));
}

/// The y axis's label, rotated to read upwards, centred on `y` at the left edge.
fn y_axis_label(svg: &mut String, y: f64, size: f64, label: &str) {
    let _ = write!(
        svg,
        r#"<text x="18" y="{y:.1}" font-size="{size}" text-anchor="middle" transform="rotate(-90 18 {y:.1})">{}</text>"#,
        esc(label)
    );
}

/// A perceptually uniform colour scale (viridis, piecewise linear through 6 stops).
fn viridis(t: f64) -> String {
    const STOPS: [(f64, f64, f64); 6] =
        [(68.0, 1.0, 84.0), (65.0, 68.0, 135.0), (42.0, 120.0, 142.0), (34.0, 168.0, 132.0), (122.0, 209.0, 81.0), (253.0, 231.0, 37.0)];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Render an SVG document to PNG bytes at `scale` × its size.
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>, String> {
    let mut options = resvg::usvg::Options::default();
    options.fontdb_mut().load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
    options.font_family = FONT_FAMILY.to_string();
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(|e| format!("invalid SVG: {e}"))?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or("figure too large")?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("figure has no area")?;
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| format!("cannot encode PNG: {e}"))
}

/// Write `stem.svg` and `stem.png` into `dir`, atomically.
pub fn write_figure(dir: &Path, stem: &str, svg: &str) -> Result<(), String> {
    let svg_path = dir.join(format!("{stem}.svg"));
    write_atomic(&svg_path, svg.as_bytes()).map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
    let png = svg_to_png(svg, 2.0)?;
    let png_path = dir.join(format!("{stem}.png"));
    write_atomic(&png_path, &png).map_err(|e| format!("cannot write {}: {e}", png_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        let t = ticks(8.0, 256.0);
        assert!(t.windows(2).all(|w| (w[1] - w[0] - 50.0).abs() < 1e-9), "{t:?}");
        assert_eq!(tick_label(0.30000000000000004), "0.3");
        assert_eq!(tick_label(-0.0), "0");
    }

    #[test]
    fn line_chart_renders_to_svg_and_png() {
        let chart = LineChart {
            title: "perf <vs> level".into(),
            x_label: "level".into(),
            y_label: "performance".into(),
            y_range: Some((0.0, 1.0)),
            series: vec![Series {
                name: "bias".into(),
                points: vec![(0.0, 1.0), (0.5, 0.6), (1.0, 0.2)],
                band: vec![(0.0, 0.9, 1.0), (0.5, 0.5, 0.7), (1.0, 0.1, 0.3)],
                ..Series::default()
            }],
        };
        let svg = chart.to_svg();
        assert!(svg.contains("perf &lt;vs&gt; level") && svg.contains("<polyline"));
        let png = svg_to_png(&svg, 1.0).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let image = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!((image.width(), image.height()), (720, 460));
        // the line's colour is drawn somewhere, and the title text put dark pixels at the top
        let pixel = |x: u32, y: u32| image.pixel(x, y).unwrap().demultiply();
        assert!(image.pixels().iter().any(|p| p.demultiply().red() == 0x4e && p.demultiply().green() == 0x79));
        assert!((250..470).any(|x| (15..32).any(|y| pixel(x, y).red() < 100)), "title text rendered");
    }

    #[test]
    fn hollow_markers_are_white_inside() {
        let chart = LineChart {
            series: vec![
                Series { name: "stable".into(), points: vec![(0.0, 1.0)], markers_only: true, ..Series::default() },
                Series { name: "unstable".into(), points: vec![(1.0, 0.0)], markers_only: true, hollow: true, ..Series::default() },
            ],
            ..LineChart::default()
        };
        let svg = chart.to_svg();
        assert_eq!(svg.matches(r##"fill="#ffffff" stroke="##).count(), 1, "{svg}");
        assert!(!svg.contains("<polyline"), "markers only: {svg}");
        assert_eq!(svg.matches("rotate(-90").count(), 1, "one y-axis label");
    }

    #[test]
    fn heat_maps_mark_missing_cells() {
        let maps = HeatMaps {
            title: "t".into(),
            col_labels: vec!["2".into(), "4".into()],
            row_labels: vec!["8".into()],
            range: (0.0, 1.0),
            panels: vec![HeatPanel { title: "bias".into(), values: vec![vec![Some(1.0), None]] }],
            ..HeatMaps::default()
        };
        let svg = maps.to_svg();
        assert!(svg.contains("#fde725"), "1.0 maps to the top of the scale");
        assert!(svg.contains("#dddddd"), "missing cell drawn grey");
        svg_to_png(&svg, 1.0).unwrap();
    }
}
