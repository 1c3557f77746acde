//! The spread figure: spread ratio against g, one line per trained fraction.

use super::table::*;
use crate::analysis::stats::Summary;
use crate::figure::{LineChart, Series};

/// Spread ratio against g, one line per trained fraction: the mean over seeds with its 95 %
/// interval; undetermined (g, f) are left out and named in the note.
pub fn spread_chart(rows: &[SubsetRow]) -> LineChart {
    let cells = summarise_table(rows);
    let mut fractions: Vec<f64> = cells.iter().map(|c| c.fraction).collect();
    fractions.sort_by(f64::total_cmp);
    fractions.dedup();
    let series = fractions
        .iter()
        .map(|&f| {
            let shown: Vec<(f64, Summary)> =
                cells.iter().filter(|c| c.fraction == f).filter_map(|c| c.spread_ratio.map(|s| (c.g, s))).collect();
            Series {
                name: format!("f = {f}"),
                points: shown.iter().map(|(g, s)| (*g, s.mean)).collect(),
                band: shown.iter().filter(|(_, s)| !s.low.is_nan()).map(|(g, s)| (*g, s.low, s.high)).collect(),
                ..Series::default()
            }
        })
        .collect();
    let undetermined: Vec<String> = cells.iter().filter(|c| !c.determined()).map(|c| format!("g = {} (f = {})", c.g, c.fraction)).collect();
    let mut note = "untrained units' selective variance / trained units'; mean over seeds, band 95 % interval".to_string();
    if !undetermined.is_empty() {
        note.push_str(&format!("; undetermined, not drawn: {}", undetermined.join(", ")));
    }
    LineChart {
        title: "Task-selective activity in the untrained units".into(),
        note,
        x_label: "coupling g".into(),
        y_label: "spread ratio".into(),
        series,
        ..LineChart::default()
    }
}
