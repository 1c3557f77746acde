use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use super::*;
use crate::config::Config;
use crate::experiments::driver::{Unwatched, run_cells};
use crate::tasks::{Encoding, Task};

fn result(size: usize, k: usize, set: &str, seed: u64, met: bool, perf_min: f64) -> CellResult {
    CellResult {
        cell: Cell { size, k, pathways: set.parse().unwrap(), seed },
        steps: 3000,
        stop: Stop::Plateau,
        perf_min,
        perf_mean: perf_min,
        score_min: perf_min - 0.05,
        met,
    }
}

#[test]
fn task_orders_hold_every_task_once() {
    for order in [TaskOrder::Families, TaskOrder::Yang] {
        let ring = order.tasks(Encoding::Ring);
        assert_eq!(ring.iter().collect::<BTreeSet<_>>().len(), 20);
        assert_eq!(order.tasks(Encoding::Compact).len(), 15);
    }
    // the comparison presets' tasks, in another order
    let comparison: BTreeSet<Task> = TaskOrder::Comparison.tasks(Encoding::Ring).into_iter().collect();
    let preset = Config::from_preset("bias", &[]).unwrap();
    assert_eq!(comparison, preset.train.tasks.iter().copied().collect());
    assert_eq!("comparison".parse::<TaskOrder>().unwrap(), TaskOrder::Comparison);
    assert_eq!(&TaskOrder::Families.tasks(Encoding::Ring)[..4], &[Task::FdGo, Task::FdAnti, Task::Dm1, Task::DmsGo]);
}

#[test]
fn pathway_sets_are_canonical() {
    assert_eq!("synaptic+bias".parse::<PathwaySet>().unwrap().to_string(), "bias+synaptic");
    assert_eq!("none".parse::<PathwaySet>().unwrap().0, vec![]);
    assert!("bias+spin".parse::<PathwaySet>().unwrap_err().to_string().contains("valid pathways"));
}

#[test]
fn a_plan_enumerates_its_cells_and_sets_each_cell_s_config() {
    let plan = PackingPlan {
        base: Config::from_preset("quick", &[]).unwrap(),
        sizes: vec![8, 16],
        task_counts: vec![2, 4, 8],
        pathway_sets: vec!["bias".parse().unwrap(), "gain+synaptic".parse().unwrap()],
        seeds: vec![0, 1],
        budget_steps: 10,
        plateau_steps: 0,
        criterion: 0.9,
        order: TaskOrder::Families,
    };
    plan.validate().unwrap();
    let cells = plan.cells();
    assert_eq!(cells.len(), 2 * 3 * 2 * 2);
    let config = plan.config_for(&cells[cells.len() - 1]).unwrap();
    assert_eq!((config.model.n_units, config.train.tasks.len(), config.train.seed), (16, 8, 1));
    assert_eq!(config.model.pathways, vec![Pathway::Gain, Pathway::Synaptic]);
    let mut bad = plan.clone();
    bad.task_counts = vec![21];
    assert!(bad.validate().unwrap_err().to_string().contains("20 tasks"));
}

#[test]
fn csv_round_trips_and_merge_rejects_conflicts() {
    let rows = vec![result(16, 2, "bias", 0, true, 0.95), result(8, 4, "gain+synaptic", 1, false, 0.5)];
    let text = to_csv(&rows);
    assert!(text.starts_with(PACKING_HEADER));
    assert!(text.contains("\n8,4,gain+synaptic,1,3000,plateau,0.500000,0.500000,0.450000,false\n"), "{text}");
    let parsed = parse_csv(&text, "t").unwrap();
    assert_eq!(merge(vec![parsed.clone(), parsed.clone()]).unwrap().len(), 2);
    let mut changed = parsed.clone();
    changed[0].perf_min = 0.1;
    assert!(merge(vec![parsed, changed]).unwrap_err().to_string().contains("appears twice"));
    assert!(parse_csv("size,k\n", "x.csv").unwrap_err().to_string().contains("x.csv"));
    assert!(
        parse_csv(&format!("{PACKING_HEADER}\n8,2,bias,0,10,plateau,zz,0.5,0.4,true\n"), "x.csv")
            .unwrap_err()
            .to_string()
            .contains("line 2")
    );
    assert!(parse_csv(&format!("{PACKING_HEADER}\n8,2,bias,0,10,later,0.5,0.5,0.4,true\n"), "x.csv").is_err());
    let old = parse_csv(&format!("{OLD_PACKING_HEADER}\n8,2,bias,0,,0.5,0.5\n"), "old.csv").unwrap_err().to_string();
    assert!(old.contains("earlier modulab") && old.contains("new --out"), "{old}");
}

#[test]
fn capacity_is_the_largest_k_up_to_which_every_k_met_the_criterion() {
    let rows = vec![
        result(8, 2, "bias", 0, true, 0.95),
        result(8, 4, "bias", 0, false, 0.7),
        result(8, 2, "bias", 1, true, 0.95),
        result(8, 4, "bias", 1, true, 0.92),
        result(16, 2, "bias", 0, false, 0.2),
        // K = 4 failed, K = 6 met: a failing smaller K is not skipped over
        result(16, 6, "bias", 0, true, 0.95),
        result(16, 4, "bias", 0, false, 0.3),
    ];
    let capacity = capacity_per_seed(&rows);
    let bias: PathwaySet = "bias".parse().unwrap();
    assert_eq!(capacity[&(bias.clone(), 8)], BTreeMap::from([(0, 2), (1, 4)]));
    assert_eq!(capacity[&(bias, 16)], BTreeMap::from([(0, 0)]));
    let chart = capacity_chart(&rows, 0.9);
    let bias = &chart.series[0];
    assert_eq!(bias.points, vec![(8.0, 3.0), (16.0, 0.0)]);
    assert_eq!(bias.band[0], (8.0, 2.0, 4.0));
    let maps = perf_heat_maps(&rows);
    assert_eq!(maps.row_labels, vec!["8", "16"]);
    assert_eq!(maps.panels[0].values[0][0], Some(0.95));
    assert_eq!(maps.panels[0].values[1][1], Some(0.3));
    assert_eq!(maps.panels[0].values[0][2], None, "no K = 6 cell at N = 8");
}

#[test]
fn run_cells_reports_every_cell_and_starts_none_once_cancelled() {
    let plan = PackingPlan {
        base: Config::from_preset("quick", &["model.n_units=8".into(), "train.eval_every=2".into(), "train.eval_trials=4".into()]).unwrap(),
        sizes: vec![8],
        task_counts: vec![1, 2],
        pathway_sets: vec!["bias".parse().unwrap()],
        seeds: vec![0],
        budget_steps: 2,
        plateau_steps: 2,
        criterion: 0.9,
        order: TaskOrder::Families,
    };
    let cells = plan.cells();
    let mut seen = Vec::new();
    let sweep = PackingSweep { plan: &plan, table: None };
    run_cells(&sweep, &cells, 2, 1, &AtomicBool::new(false), &Unwatched, |outcome| seen.push(outcome.unwrap().unwrap().cell));
    seen.sort();
    assert_eq!(seen, cells);
    let mut called = false;
    run_cells(&sweep, &cells, 2, 1, &AtomicBool::new(true), &Unwatched, |_| called = true);
    assert!(!called, "no cell starts after a cancel");
}

#[test]
fn scores_run_from_chance_to_the_ceiling() {
    // dmsnogo: always fixating scores 0.5, so 0.657 is only 31 % of the way to perfect
    assert!((score(0.657, 0.5, 1.0) - 0.314).abs() < 1e-9);
    assert!((score(0.95, 0.5, 1.0) - 0.9).abs() < 1e-12);
    assert_eq!(score(0.2, 0.2, 1.0), 0.0);
    assert!(score(0.1, 0.2, 1.0) < 0.0, "below chance");
    assert_eq!(score(0.9, 0.5, 0.5), 0.0, "nothing to learn");
    // against a ceiling below 1: 90 % of the way from 0.5 to 0.8
    assert!((score(0.77, 0.5, 0.8) - 0.9).abs() < 1e-9);
}
