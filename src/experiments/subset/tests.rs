//! Tests of the subset sweep: plans, cells of each network, the table and its resume.

use super::plan::*;
use super::table::*;
use super::*;
use crate::model::balanced::Drive;

/// The memory the sweep announces is what a trained spiking cell holds.
#[test]
fn rls_bytes_are_the_cells_p_matrices() {
    let plan = SubsetPlan { model: SubsetModel::Spiking, training: Training::Rls, neurons: 400, k: 40, ..SubsetPlan::default() };
    for fraction in [0.05, 0.5] {
        let cell = SpikingRun::new(&plan, 1.0, fraction, 0).unwrap();
        assert_eq!(plan.rls_bytes(fraction), cell.net.plastic().unwrap().p_bytes(), "f = {fraction}");
    }
    assert_eq!(SubsetPlan { training: Training::Clamp, ..plan }.rls_bytes(0.5), 0);
}

fn row(g: f64, seed: u64, selective_trained: f64, ratio: Option<f64>) -> SubsetRow {
    SubsetRow {
        model: SubsetModel::Rate,
        training: Training::Rls,
        drive: Drive::Scaled,
        g,
        fraction: 0.1,
        seed,
        neurons: 40,
        k: 8,
        loops: 20,
        feedforward: 0,
        spread_ratio: ratio,
        spread_e: ratio.map(|r| 2.0 * r),
        spread_i: ratio.map(|r| r / 2.0),
        selective_untrained: 0.125,
        selective_e: 0.25,
        selective_i: 0.0625,
        selective_trained,
        task_ratio: 0.375,
        trained_variance: 4.0,
        mode_share_e: 0.75,
        mode_share_i: 0.5,
        rate_e: 1.0,
        rate_i: 2.0,
        balance: 0.0625,
        target_error: 0.5,
        target_variance: 2.0,
    }
}

#[test]
fn rows_round_trip_through_the_csv() {
    let determined = row(1.5, 2, 0.5, Some(0.25));
    assert_eq!(SubsetRow::parse(&determined.csv_line()).unwrap(), determined);
    let undetermined = row(1.5, 2, -0.01, None);
    let line = undetermined.csv_line();
    assert!(line.contains(",undetermined,undetermined,undetermined,"), "{line}");
    assert_eq!(SubsetRow::parse(&line).unwrap(), undetermined);
    assert_eq!(determined.relative_error(), 0.25);
    assert_eq!(HEADER.split(',').count(), determined.csv_line().split(',').count());
    assert!(SubsetRow::parse("rate,clamp,1").unwrap_err().to_string().contains("fields"));
    assert_eq!(HEADER.split(',').nth(10), Some("spread_ratio"));
}

/// A (g, f)'s ratio is determined only where the trained units' selective variance is above 0
/// in every seed and its 95 % interval over seeds excludes 0; the summary, its CSV and the
/// figure say so. Worked out: seeds 0.5, 0.6, 0.7 → mean 0.6, s.d. 0.1, half-width
/// 4.303·0.1/√3 = 0.248, interval [0.35, 0.85]; seeds 0.5, −0.1, 0.7 (one not above 0); seeds
/// 0.02, 0.3, 0.01 (all above 0, interval −0.19 … +0.41 includes 0).
#[test]
fn the_ratio_is_undetermined_unless_the_trained_units_are_selective_over_seeds() {
    let mut rows = Vec::new();
    for (g, trained) in [(0.5, [0.5, 0.6, 0.7]), (1.0, [0.5, -0.1, 0.7]), (2.0, [0.02, 0.3, 0.01])] {
        for (seed, v) in trained.into_iter().enumerate() {
            rows.push(row(g, seed as u64, v, (v > 0.0).then_some(0.2 + 0.1 * seed as f64)));
        }
    }
    let cells = summarise_table(&rows);
    assert_eq!(cells.len(), 3);
    let first = cells[0].spread_ratio.expect("determined");
    assert!((first.mean - 0.3).abs() < 1e-12 && (cells[0].selective_trained.low - 0.3516).abs() < 1e-3, "{:?}", cells[0]);
    assert!(!cells[1].determined() && !cells[2].determined());
    assert!(cells[2].selective_trained.low < 0.0);
    assert!((cells[0].relative_error.mean - 0.25).abs() < 1e-12);
    let (csv, md) = summary_texts(&rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], SUMMARY_HEADER);
    assert!(lines.iter().all(|l| l.split(',').count() == SUMMARY_HEADER.split(',').count()), "{csv}");
    assert!(lines[1].starts_with("0.5,0.1,3,0.300000,"), "{csv}");
    assert!(lines[2].starts_with("1,0.1,3,undetermined,,,undetermined,undetermined,") && lines[3].contains("undetermined"), "{csv}");
    assert_eq!(md.lines().filter(|l| l.contains("| undetermined | undetermined | undetermined |")).count(), 2, "{md}");
    let chart = spread_chart(&rows);
    assert_eq!(chart.series[0].points, [(0.5, 0.3)], "only the determined g is drawn");
    assert!(chart.note.contains("undetermined, not drawn: g = 1 (f = 0.1), g = 2 (f = 0.1)"), "{}", chart.note);
    // one seed can show nothing over seeds
    assert!(!summarise_table(&rows[..1])[0].determined());
}
