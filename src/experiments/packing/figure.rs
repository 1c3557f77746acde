//! A packing sweep's figures: capacity per pathway set over the network size, and each cell's
//! worst task as heat maps.

use super::*;
use crate::figure::{HeatMaps, HeatPanel, LineChart, Series};

/// Capacity of one (pathway set, size, seed): the largest K such that the cells of every
/// measured K up to it met the criterion (a failing smaller K ends the count: capacity is
/// monotone). Zero when the smallest K failed.
pub fn capacity_per_seed(results: &[CellResult]) -> BTreeMap<(PathwaySet, usize), BTreeMap<u64, usize>> {
    // (set, size) → seed → (K, met) of each measured K
    type Cells = BTreeMap<(PathwaySet, usize), BTreeMap<u64, Vec<(usize, bool)>>>;
    let mut by_seed = Cells::new();
    for r in results {
        by_seed.entry((r.cell.pathways.clone(), r.cell.size)).or_default().entry(r.cell.seed).or_default().push((r.cell.k, r.met));
    }
    by_seed
        .into_iter()
        .map(|(key, seeds)| {
            let capacity = seeds
                .into_iter()
                .map(|(seed, mut cells)| {
                    cells.sort();
                    (seed, cells.iter().take_while(|(_, met)| *met).last().map_or(0, |(k, _)| *k))
                })
                .collect();
            (key, capacity)
        })
        .collect()
}

/// Capacity vs network size, one line per pathway set (mean over seeds, band = min–max).
pub fn capacity_chart(results: &[CellResult], criterion: f64) -> LineChart {
    let mut series: BTreeMap<PathwaySet, Series> = BTreeMap::new();
    for ((set, size), seeds) in capacity_per_seed(results) {
        let values: Vec<f64> = seeds.values().map(|k| *k as f64).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let s = series.entry(set.clone()).or_insert_with(|| Series { name: set.to_string(), ..Series::default() });
        s.points.push((size as f64, mean));
        s.band.push((size as f64, lo, hi));
    }
    LineChart {
        title: format!("Task packing: capacity (largest K up to which every task scored ≥ {criterion}) — reconstruction"),
        note: "score = (perf − chance) / (1 − chance), judged on fresh trials after training; line = mean over seeds, band = min–max"
            .into(),
        x_label: "network size N (units)".into(),
        y_label: "capacity (tasks)".into(),
        y_range: None,
        series: series.into_values().collect(),
        ..LineChart::default()
    }
}

/// Final minimum task performance on a size × K grid, one panel per pathway set (mean over seeds).
pub fn perf_heat_maps(results: &[CellResult]) -> HeatMaps {
    let sizes: BTreeSet<usize> = results.iter().map(|r| r.cell.size).collect();
    let ks: BTreeSet<usize> = results.iter().map(|r| r.cell.k).collect();
    let sets: BTreeSet<&PathwaySet> = results.iter().map(|r| &r.cell.pathways).collect();
    let panels = sets
        .into_iter()
        .map(|set| HeatPanel {
            title: set.to_string(),
            values: sizes
                .iter()
                .map(|size| {
                    ks.iter()
                        .map(|k| {
                            let perfs: Vec<f64> = results
                                .iter()
                                .filter(|r| r.cell.pathways == *set && r.cell.size == *size && r.cell.k == *k)
                                .map(|r| r.perf_min)
                                .collect();
                            (!perfs.is_empty()).then(|| perfs.iter().sum::<f64>() / perfs.len() as f64)
                        })
                        .collect()
                })
                .collect(),
        })
        .collect();
    HeatMaps {
        title: "Task packing: worst-task performance after training — reconstruction".into(),
        x_label: "number of tasks K".into(),
        y_label: "network size N".into(),
        col_labels: ks.iter().map(|k| k.to_string()).collect(),
        row_labels: sizes.iter().map(|n| n.to_string()).collect(),
        range: (0.0, 1.0),
        colorbar_label: "perf_min".into(),
        panels,
    }
}
