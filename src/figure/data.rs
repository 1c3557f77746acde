//! A plot's data as the app hands it over for export: one CSV writer for every kind of plot,
//! and the conversion into the figure types, so an exported SVG is drawn by the same engine as
//! the command line's figures.

use crate::io::csv_field;

use super::{LineChart, Series};

/// One named curve: (x, y) points in data units, and how it is drawn — the same on screen and
/// in an exported SVG.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<[f64; 2]>,
    /// `#rrggbb` from the palette; empty = the palette colour of the curve's index.
    pub color: String,
    /// Dashed whatever its index (a reference level, e.g. the performance without a switch).
    pub dashed: bool,
    /// A thin line (raw data under its running mean).
    pub thin: bool,
}

impl Curve {
    /// A curve in the palette style of its index.
    pub fn new(name: impl Into<String>, points: Vec<[f64; 2]>) -> Self {
        Curve { name: name.into(), points, color: String::new(), dashed: false, thin: false }
    }

    /// In this palette colour (`#rrggbb`).
    pub fn color(self, hex: impl Into<String>) -> Self {
        Curve { color: hex.into(), ..self }
    }

    pub fn dashed(self) -> Self {
        Curve { dashed: true, ..self }
    }

    pub fn thin(self) -> Self {
        Curve { thin: true, ..self }
    }
}

/// A plot's data, in the units the user reads (a log axis is exported as the raw values).
#[derive(Clone, Debug, PartialEq)]
pub enum PlotData {
    /// Curves over a shared x axis (each curve has its own x values).
    Lines(Vec<Curve>),
    /// Points without connecting lines (eigenvalues in the complex plane); CSV as [`PlotData::Lines`].
    Scatter(Vec<Curve>),
    /// One value per category per series (grouped bars).
    Bars { categories: Vec<String>, series: Vec<(String, Vec<f64>)> },
    /// Channels over one shared x (a trial's time steps): one value per x value per channel.
    /// `heat`: drawn on screen as a heat map (one row of pixels per channel), which has no SVG;
    /// otherwise every channel is a line.
    Columns { x: Vec<f64>, columns: Vec<(String, Vec<f64>)>, heat: bool },
    /// Paths through a space (PCA trajectories): per series, a row of values per point, one
    /// value per entry of `columns`; a line from column `axes[0]` (x) against `axes[1]` (y).
    Paths { series_label: String, columns: Vec<String>, series: Vec<(String, Vec<Vec<f64>>)>, axes: [usize; 2] },
    /// A table with columns of its own (the same as a CLI command's CSV, e.g. `ambiguity.csv`),
    /// written as is; drawn as `lines` in SVG (`None`: no SVG, e.g. a heat map).
    Table { csv: String, lines: Option<Vec<Curve>> },
}

impl PlotData {
    /// Whether [`PlotData::to_chart`] can draw it (heat maps: no).
    pub fn svg_supported(&self) -> bool {
        !matches!(self, PlotData::Columns { heat: true, .. } | PlotData::Table { lines: None, .. })
    }

    /// The data as CSV. Lines: one row per point, `series,<x label>,<y label>` (long format, so
    /// curves with different x values fit one table). Bars: one row per category, one column
    /// per series. Columns: one row per x value, `<x label>,<channel>,…` (wide format). Paths:
    /// one row per point, `<series label>,<column>,…`. Tables: as they are.
    pub fn to_csv(&self, x_label: &str, y_label: &str) -> String {
        let mut out = String::new();
        let header = |out: &mut String, first: &str, rest: &mut dyn Iterator<Item = &str>| {
            out.push_str(&csv_field(first));
            rest.for_each(|name| out.push_str(&format!(",{}", csv_field(name))));
            out.push('\n');
        };
        // one value per column of a wide row; a missing value is an empty field
        let cells = |out: &mut String, values: &mut dyn Iterator<Item = Option<f64>>| {
            for v in values {
                match v {
                    Some(v) => out.push_str(&format!(",{v}")),
                    None => out.push(','),
                }
            }
            out.push('\n');
        };
        match self {
            PlotData::Lines(curves) | PlotData::Scatter(curves) => {
                header(&mut out, "series", &mut [x_label, y_label].into_iter());
                for c in curves {
                    let name = csv_field(&c.name);
                    for [x, y] in &c.points {
                        out.push_str(&format!("{name},{x},{y}\n"));
                    }
                }
            }
            PlotData::Bars { categories, series } => {
                header(&mut out, x_label, &mut series.iter().map(|(name, _)| name.as_str()));
                for (i, category) in categories.iter().enumerate() {
                    out.push_str(&csv_field(category));
                    cells(&mut out, &mut series.iter().map(|(_, values)| values.get(i).copied()));
                }
            }
            PlotData::Columns { x, columns, .. } => {
                header(&mut out, x_label, &mut columns.iter().map(|(name, _)| name.as_str()));
                for (i, x) in x.iter().enumerate() {
                    out.push_str(&format!("{x}"));
                    cells(&mut out, &mut columns.iter().map(|(_, values)| values.get(i).copied()));
                }
            }
            PlotData::Table { csv, .. } => out.push_str(csv),
            PlotData::Paths { series_label, columns, series, .. } => {
                header(&mut out, series_label, &mut columns.iter().map(String::as_str));
                for (name, rows) in series {
                    let name = csv_field(name);
                    for row in rows {
                        out.push_str(&name);
                        row.iter().for_each(|v| out.push_str(&format!(",{v}")));
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// The series and categories of the chart that draws this data (the caller adds title,
    /// axis labels and scale); `None` for what has no SVG (heat maps).
    pub fn to_chart(&self) -> Option<LineChart> {
        let line = |name: &str, points: Vec<(f64, f64)>| Series { name: name.to_string(), points, ..Series::default() };
        let curves = |curves: &[Curve]| -> Vec<Series> {
            curves
                .iter()
                .map(|c| Series {
                    color: c.color.clone(),
                    dashed: c.dashed,
                    thin: c.thin,
                    ..line(&c.name, c.points.iter().map(|[x, y]| (*x, *y)).collect())
                })
                .collect()
        };
        let (series, categories) = match self {
            PlotData::Columns { heat: true, .. } | PlotData::Table { lines: None, .. } => return None,
            PlotData::Lines(c) | PlotData::Table { lines: Some(c), .. } => (curves(c), Vec::new()),
            PlotData::Scatter(c) => (curves(c).into_iter().map(|s| Series { markers_only: true, ..s }).collect(), Vec::new()),
            PlotData::Bars { categories, series } => (
                series
                    .iter()
                    .map(|(name, values)| Series {
                        bars: true,
                        ..line(name, values.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect())
                    })
                    .collect(),
                categories.clone(),
            ),
            PlotData::Columns { x, columns, heat: false } => (
                columns.iter().map(|(name, values)| line(name, x.iter().copied().zip(values.iter().copied()).collect())).collect(),
                Vec::new(),
            ),
            PlotData::Paths { series, axes: [a, b], .. } => (
                series
                    .iter()
                    .map(|(name, rows)| line(name, rows.iter().filter_map(|row| Some((*row.get(*a)?, *row.get(*b)?))).collect()))
                    .collect(),
                Vec::new(),
            ),
        };
        Some(LineChart { series, categories, ..LineChart::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_of_every_kind_escapes_its_fields() {
        let lines = PlotData::Lines(vec![Curve::new("every step", vec![[1.0, 0.5], [2.0, 0.25]]), Curve::new("a, b", vec![[1.0, 0.125]])]);
        assert_eq!(lines.to_csv("step", "loss"), "series,step,loss\nevery step,1,0.5\nevery step,2,0.25\n\"a, b\",1,0.125\n");
        let bars = PlotData::Bars {
            categories: vec!["Go".into(), "Anti".into()],
            series: vec![("intact".into(), vec![1.0, 0.5]), ("bias lesioned".into(), vec![0.25])],
        };
        assert_eq!(bars.to_csv("task", "perf"), "task,intact,bias lesioned\nGo,1,0.25\nAnti,0.5,\n");
        let columns = PlotData::Columns { x: vec![10.0], columns: vec![("unit \"0\"".into(), vec![0.5])], heat: true };
        assert_eq!(columns.to_csv("time (ms)", ""), "time (ms),\"unit \"\"0\"\"\"\n10,0.5\n");
    }

    #[test]
    fn bars_become_a_categorical_chart() {
        let bars = PlotData::Bars { categories: vec!["Go".into(), "Anti".into()], series: vec![("intact".into(), vec![1.0, 0.5])] };
        let chart = bars.to_chart().expect("bars draw");
        assert_eq!(chart.categories, vec!["Go", "Anti"]);
        assert!(chart.series[0].bars && chart.series[0].points == vec![(0.0, 1.0), (1.0, 0.5)]);
        assert!(PlotData::Table { csv: String::new(), lines: None }.to_chart().is_none());
    }
}
