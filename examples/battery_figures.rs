//! Figures of the whole battery (20 tasks, 256 units) from made-up data, to look at the
//! layouts: `cargo run --example battery_figures -- /tmp/figures` writes line, bar, spectrum
//! and heat-map figures there as SVG and PNG.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a developer tool stops at its first failure, with the message")]

use modulab::figure::{HeatMaps, HeatPanel, LineChart, Series, write_figure};
use modulab::tasks::Task;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "battery-figures".into()));
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let names: Vec<String> = Task::ALL.iter().map(|t| t.name().to_string()).collect();
    let labels: Vec<String> = Task::ALL.iter().map(|t| t.label().to_string()).collect();

    let curves = LineChart {
        title: "Performance during training".into(),
        x_label: "step".into(),
        y_label: "performance".into(),
        y_range: Some((0.0, 1.0)),
        series: names
            .iter()
            .enumerate()
            .map(|(i, name)| Series {
                name: name.clone(),
                points: (0..=50).map(|s| (s as f64 * 20.0, 1.0 - (-(s as f64) / (3.0 + i as f64)).exp())).collect(),
                ..Series::default()
            })
            .collect(),
        ..LineChart::default()
    };
    write_figure(&out, "battery_lines", &curves.to_svg())?;

    let bars = LineChart {
        title: "Performance per task".into(),
        x_label: "task".into(),
        y_label: "performance".into(),
        categories: labels.clone(),
        series: ["intact", "bias lesioned"]
            .iter()
            .enumerate()
            .map(|(k, n)| Series {
                name: n.to_string(),
                points: (0..20).map(|i| (i as f64, 0.9 - 0.3 * k as f64 - 0.01 * i as f64)).collect(),
                bars: true,
                ..Series::default()
            })
            .collect(),
        ..LineChart::default()
    };
    write_figure(&out, "battery_bars", &bars.to_svg())?;

    let spectrum = LineChart {
        title: "Effective connectivity eigenvalues per task context".into(),
        note: "Made-up eigenvalues, one spiral arm per task: a check of the layout (legend, note line, unit circle), not a result".into(),
        x_label: "Re λ".into(),
        y_label: "Im λ".into(),
        unit_circle: true,
        series: names
            .iter()
            .enumerate()
            .map(|(i, name)| Series {
                name: name.clone(),
                points: (0..40)
                    .map(|j| {
                        let angle = j as f64 * 0.157 + i as f64 * 0.05;
                        let radius = 0.3 + 0.025 * i as f64 + 0.01 * j as f64;
                        (radius * angle.cos(), radius * angle.sin())
                    })
                    .collect(),
                markers_only: true,
                ..Series::default()
            })
            .collect(),
        ..LineChart::default()
    };
    write_figure(&out, "battery_spectrum", &spectrum.to_svg())?;

    let variance = HeatMaps {
        title: "Normalised task variance".into(),
        x_label: "task".into(),
        y_label: "unit (7 clusters, silhouette 0.41)".into(),
        col_labels: names,
        row_labels: (0..256).map(|u| u.to_string()).collect(),
        range: (0.0, 1.0),
        colorbar_label: "variance / unit's max".into(),
        panels: vec![HeatPanel {
            title: String::new(),
            values: (0..256)
                .map(|r| (0..20).map(|c| Some(if r / 13 == c { 1.0 } else { ((r * 7 + c * 3) % 11) as f64 / 25.0 })).collect())
                .collect(),
        }],
    };
    write_figure(&out, "battery_task_variance", &variance.to_svg())?;
    println!("wrote battery_lines, battery_bars, battery_spectrum, battery_task_variance (.svg, .png) in {}", out.display());
    Ok(())
}
