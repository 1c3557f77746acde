//! Headless figures, one engine for the command line and the app's exports: line charts (with
//! markers, bands, bars, a log axis) and heat maps, written as SVG and rendered to PNG (resvg,
//! with egui's bundled font so a bare machine needs no system fonts), and a plot's data as CSV.
//!
//! One palette ([`palette`]: colour, dash and marker per series, also the app's on-screen task
//! colours), one tick algorithm ([`ticks`]), one SVG writer ([`svg`]); [`line`] and [`heat`]
//! lay figures out (the layouts are public so tests can check that nothing overlaps),
//! [`legend`] places legend entries in as many columns as they need, and [`data`] holds the
//! app's plot data with its CSV.

pub mod data;
pub mod heat;
pub mod legend;
pub mod line;
pub mod palette;
pub mod svg;
pub mod ticks;

use std::path::Path;

use crate::io::write_atomic;

pub use data::{Curve, PlotData};
pub use heat::HeatLayout;
pub use line::LineLayout;
pub use palette::{PALETTE, style};

/// The font family the SVGs name; the PNG renderer loads exactly this font.
pub const FONT_FAMILY: &str = "Ubuntu";

/// An axis-aligned box in SVG pixels (y down).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// Whether the two boxes share any area (touching edges do not count).
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right() && other.x < self.right() && self.y < other.bottom() && other.y < self.bottom()
    }

    /// Whether `other` lies wholly inside this box.
    pub fn contains(&self, other: &Rect) -> bool {
        other.x >= self.x && other.y >= self.y && other.right() <= self.right() && other.bottom() <= self.bottom()
    }

    /// Whether the point lies strictly inside (not on the edge).
    pub fn holds_strictly(&self, x: f64, y: f64) -> bool {
        x > self.x && x < self.right() && y > self.y && y < self.bottom()
    }
}

/// One line of a [`LineChart`].
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    /// `#rrggbb`; empty = the palette colour of the series' index (see [`palette::style`]).
    pub color: String,
    pub points: Vec<(f64, f64)>,
    /// (x, low, high): a shaded band around the line, e.g. min–max over seeds.
    pub band: Vec<(f64, f64, f64)>,
    /// Points only, no connecting line (a scatter, e.g. eigenvalues in the complex plane).
    pub markers_only: bool,
    /// Hollow markers (white inside, e.g. unstable fixed points beside filled stable ones).
    pub hollow: bool,
    /// Bars, one per point, grouped with the chart's other bar series around each x (which is a
    /// category's index when the chart has [`LineChart::categories`]).
    pub bars: bool,
    /// Dashed whatever its index (a reference level).
    pub dashed: bool,
    /// A thin line (raw data under its running mean).
    pub thin: bool,
}

/// A line chart: x against y, one line (or scatter, or bar group) per series.
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    pub title: String,
    /// A line under the title saying what the reader must know to read it right.
    pub note: String,
    pub x_label: String,
    pub y_label: String,
    /// Fixed y range; `None` = fitted to the data. Either way padded so no point is on the frame.
    pub y_range: Option<(f64, f64)>,
    /// Draw y on a log scale (non-positive values are left out).
    pub log_y: bool,
    /// Named categories at x = 0, 1, …: the x axis labels them instead of numbering it.
    pub categories: Vec<String>,
    /// Draw the unit circle and keep both axes at one scale (eigenvalues in the complex plane).
    pub unit_circle: bool,
    pub series: Vec<Series>,
}

/// One panel of a [`HeatMaps`] figure: `values[row][col]`, `None` = no data (drawn grey).
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

impl LineChart {
    /// Where everything goes (see [`LineLayout`]).
    pub fn layout(&self) -> LineLayout {
        line::layout(self)
    }

    pub fn to_svg(&self) -> String {
        line::render(self, &self.layout())
    }
}

impl HeatMaps {
    /// Where everything goes (see [`HeatLayout`]).
    pub fn layout(&self) -> HeatLayout {
        heat::layout(self)
    }

    pub fn to_svg(&self) -> String {
        heat::render(self, &self.layout())
    }
}

/// Why a figure could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    #[error("invalid SVG: {0}")]
    Svg(String),
    #[error("figure too large or empty")]
    Size,
    #[error("cannot encode PNG: {0}")]
    Png(String),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Render an SVG document to PNG bytes at `scale` × its size.
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>, FigureError> {
    let mut options = resvg::usvg::Options::default();
    options.fontdb_mut().load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
    options.font_family = FONT_FAMILY.to_string();
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(|e| FigureError::Svg(e.to_string()))?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or(FigureError::Size)?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).ok_or(FigureError::Size)?;
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| FigureError::Png(e.to_string()))
}

/// Write `stem.svg` and `stem.png` into `dir`, atomically.
pub fn write_figure(dir: &Path, stem: &str, svg: &str) -> Result<(), FigureError> {
    let write = |path: std::path::PathBuf, bytes: &[u8]| {
        write_atomic(&path, bytes).map_err(|source| FigureError::Write { path: path.display().to_string(), source })
    };
    write(dir.join(format!("{stem}.svg")), svg.as_bytes())?;
    write(dir.join(format!("{stem}.png")), &svg_to_png(svg, 2.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ..LineChart::default()
        };
        let svg = chart.to_svg();
        assert!(svg.contains("perf &lt;vs&gt; level") && svg.contains("<polyline"));
        let png = svg_to_png(&svg, 1.0).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let image = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        let layout = chart.layout();
        assert_eq!((image.width(), image.height()), (layout.width.round() as u32, layout.height.round() as u32));
        // the line's colour is drawn somewhere, and the title text put dark pixels at the top
        let pixel = |x: u32, y: u32| image.pixel(x, y).unwrap().demultiply();
        assert!(image.pixels().iter().any(|p| p.demultiply().red() == 0x4e && p.demultiply().green() == 0x79));
        let (t0, t1) = (layout.title.x as u32, layout.title.right() as u32);
        assert!((t0..t1).any(|x| (15..32).any(|y| pixel(x, y).red() < 100)), "title text rendered");
    }

    #[test]
    fn hollow_markers_are_white_inside() {
        let chart = LineChart {
            series: vec![
                Series { name: "stable".into(), points: vec![(0.0, 1.0)], markers_only: true, ..Series::default() },
                Series { name: "unstable".into(), points: vec![(1.0, 0.0)], markers_only: true, hollow: true, ..Series::default() },
            ],
            y_label: "y".into(),
            ..LineChart::default()
        };
        let svg = chart.to_svg();
        // one hollow marker in the plot, one in the legend
        assert_eq!(svg.matches(r##"fill="#ffffff" stroke="##).count(), 2, "{svg}");
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

    /// The battery's 20 task labels (test code may reach the tasks layer).
    fn battery() -> Vec<String> {
        crate::tasks::Task::ALL.iter().map(|t| t.label().to_string()).collect()
    }

    /// No two boxes share area, and all lie on the canvas.
    fn assert_readable(boxes: &[Rect], width: f64, height: f64) {
        let canvas = Rect { x: 0.0, y: 0.0, w: width, h: height };
        for (i, a) in boxes.iter().enumerate() {
            assert!(canvas.contains(a), "{a:?} leaves the {width} × {height} canvas");
            for b in &boxes[i + 1..] {
                assert!(!a.overlaps(b), "labels overlap: {a:?} and {b:?}");
            }
        }
    }

    /// A 20-task chart: curves (or scatters) of fake data, one per task.
    fn battery_chart(markers_only: bool) -> LineChart {
        let series = battery()
            .into_iter()
            .enumerate()
            .map(|(i, name)| Series {
                name,
                points: (0..30).map(|j| (j as f64 * 100.0, (i as f64 * 0.05 + j as f64 * 0.01).min(1.0))).collect(),
                markers_only,
                ..Series::default()
            })
            .collect();
        LineChart {
            title: "Mean trajectories on the pooled principal axes".into(),
            x_label: "step".into(),
            y_label: "performance".into(),
            y_range: Some((0.0, 1.0)),
            series,
            ..LineChart::default()
        }
    }

    #[test]
    fn a_battery_line_chart_lists_every_task_and_keeps_labels_apart() {
        let chart = battery_chart(false);
        let layout = chart.layout();
        assert_eq!(layout.legend.iter().map(|e| e.index).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>(), "every series in the legend");
        assert_readable(&layout.labels(), layout.width, layout.height);
        // every point strictly inside the frame, also those at the fixed range's ends (0 and 1)
        for s in &chart.series {
            for (x, y) in &s.points {
                let (px, py) = layout.position(*x, *y).expect("drawable");
                assert!(layout.plot.holds_strictly(px, py), "({x}, {y}) at ({px}, {py}) is not inside {:?}", layout.plot);
            }
        }
        // the legend took a second column instead of running off the canvas
        let columns: std::collections::BTreeSet<i64> = layout.legend.iter().map(|e| e.rect.x as i64).collect();
        assert!(columns.len() >= 2, "{columns:?}");
        let svg = chart.to_svg();
        assert_eq!(svg.matches("stroke-dasharray=\"7 4\"").count(), 20, "tasks 10–19 dashed, in the plot and the legend");
        svg_to_png(&svg, 1.0).expect("renders");
    }

    #[test]
    fn battery_categories_read_upwards_without_overlap() {
        let names = battery();
        let chart = LineChart {
            title: "Performance per task".into(),
            x_label: "task".into(),
            y_label: "performance".into(),
            categories: names.clone(),
            series: ["intact", "bias lesioned"]
                .iter()
                .map(|n| Series {
                    name: n.to_string(),
                    points: (0..20).map(|i| (i as f64, 0.5)).collect(),
                    bars: true,
                    ..Series::default()
                })
                .collect(),
            ..LineChart::default()
        };
        let layout = chart.layout();
        assert_eq!(layout.x_ticks.len(), 20);
        assert!(layout.x_ticks.iter().all(|t| t.upward), "long task names read upwards");
        assert_readable(&layout.labels(), layout.width, layout.height);
        assert_eq!(chart.to_svg().matches("<rect").count(), 2 + 40 + 2, "canvas, frame, 40 bars, 2 legend swatches");
    }

    #[test]
    fn a_spectrum_has_the_unit_circle_and_no_point_on_the_frame() {
        let mut chart = battery_chart(true);
        chart.y_range = None;
        chart.unit_circle = true;
        chart.note = "All 20 task contexts share one spectrum".into();
        // eigenvalues on the circle and beyond it
        for (i, s) in chart.series.iter_mut().enumerate() {
            let angle = i as f64 * 0.3;
            s.points = vec![(angle.cos(), angle.sin()), (1.3 * angle.cos(), 0.2), (-0.2, 0.0)];
        }
        let layout = chart.layout();
        assert_eq!(layout.legend.len(), 21, "20 tasks and the unit circle");
        assert_readable(&layout.labels(), layout.width, layout.height);
        for (x, y) in chart.series.iter().flat_map(|s| &s.points) {
            let (px, py) = layout.position(*x, *y).expect("drawable");
            assert!(layout.plot.holds_strictly(px, py));
        }
        // one scale on both axes: the circle is round
        let x_scale = layout.plot.w / (layout.x_range.1 - layout.x_range.0);
        let y_scale = layout.plot.h / (layout.y_range.1 - layout.y_range.0);
        assert!((x_scale - y_scale).abs() < 1e-9);
        let svg = chart.to_svg();
        assert_eq!(svg.matches("<ellipse").count(), 1);
        assert!(svg.contains("share one spectrum"));
    }

    #[test]
    fn a_battery_heat_map_of_256_units_fits_and_keeps_labels_apart() {
        let names = battery();
        let maps = HeatMaps {
            title: "Normalised task variance".into(),
            x_label: "task".into(),
            y_label: "unit (7 clusters, silhouette 0.41)".into(),
            col_labels: names,
            row_labels: (0..256).map(|u| u.to_string()).collect(),
            range: (0.0, 1.0),
            colorbar_label: "variance / unit's max".into(),
            panels: vec![HeatPanel {
                title: String::new(),
                values: (0..256).map(|r| (0..20).map(|c| Some(((r * 7 + c * 3) % 11) as f64 / 10.0)).collect()).collect(),
            }],
        };
        let layout = maps.layout();
        assert!(2.0 * layout.height <= 1600.0, "the PNG (2×) is {} px tall", 2.0 * layout.height);
        assert!(layout.col_labels.iter().all(|l| l.upward), "task names read upwards");
        assert!(layout.row_step > 1 && layout.row_labels.len() < 256, "thin rows are labelled sparsely");
        assert_readable(&layout.labels(), layout.width, layout.height);
        // the colour bar's label keeps clear of the column labels, and of the bar itself
        assert!(layout.col_labels.iter().all(|l| !l.rect.overlaps(&layout.colorbar_label.rect)));
        assert!(!layout.colorbar.overlaps(&layout.colorbar_label.rect));
        assert!(layout.colorbar_label.rect.x >= layout.panels[0].right());
        let png = svg_to_png(&maps.to_svg(), 2.0).expect("renders");
        let image = resvg::tiny_skia::Pixmap::decode_png(&png).expect("decodes");
        assert!(image.height() <= 1600 && image.width() < 1600, "{} × {}", image.width(), image.height());
    }

    #[test]
    fn small_heat_maps_label_every_row_and_column_flat() {
        let maps = HeatMaps {
            title: "Performance".into(),
            col_labels: vec!["2".into(), "4".into(), "8".into()],
            row_labels: vec!["64".into(), "128".into()],
            range: (0.0, 1.0),
            colorbar_label: "mean performance".into(),
            panels: ["bias", "gain", "synaptic"]
                .iter()
                .map(|t| HeatPanel { title: t.to_string(), values: vec![vec![Some(0.5); 3]; 2] })
                .collect(),
            ..HeatMaps::default()
        };
        let layout = maps.layout();
        assert_eq!((layout.row_step, layout.row_labels.len(), layout.col_labels.len()), (1, 2, 9));
        assert!(layout.col_labels.iter().all(|l| !l.upward));
        assert_readable(&layout.labels(), layout.width, layout.height);
    }
}
