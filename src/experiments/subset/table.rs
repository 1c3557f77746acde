//! `subset.csv`: one row per cell, read back and resumed, and the summary over seeds (with the
//! ratios that are undetermined).

use std::path::{Path, PathBuf};

use super::SubsetError;
use super::plan::*;
use crate::analysis::stats::Summary;
use crate::io::{csv_split, write_atomic};
use crate::model::balanced::Drive;

/// One cell's measures.
#[derive(Clone, Debug, PartialEq)]
pub struct SubsetRow {
    pub model: SubsetModel,
    pub training: Training,
    pub drive: Drive,
    pub g: f64,
    pub fraction: f64,
    pub seed: u64,
    pub neurons: usize,
    pub k: usize,
    /// Training loops (0 when clamped) and feed-forward inputs per trained neuron.
    pub loops: usize,
    pub feedforward: usize,
    /// The untrained units' mean selective variance over the trained units' (all untrained,
    /// untrained E, I); `None` (undetermined) where the trained units' is not above 0.
    pub spread_ratio: Option<f64>,
    pub spread_e: Option<f64>,
    pub spread_i: Option<f64>,
    /// Mean selective variance of the untrained units (all, E, I) and of the trained units
    /// (rates², Hz² in the spiking network).
    pub selective_untrained: f64,
    pub selective_e: f64,
    pub selective_i: f64,
    pub selective_trained: f64,
    /// The untrained units' mean task variance (shared courses included) over the trained
    /// units' (the measure of a first version), and the trained units' mean task variance.
    pub task_ratio: f64,
    pub trained_variance: f64,
    pub mode_share_e: f64,
    pub mode_share_i: f64,
    pub rate_e: f64,
    pub rate_i: f64,
    /// |mean excitatory + mean inhibitory input| / mean excitatory input (external included).
    pub balance: f64,
    /// The trained units' squared error against their targets in the test trials, unbiased by
    /// trial noise (0 when clamped; BPTT: the task loss), and the targets' variance over
    /// conditions and time (BPTT: of the output targets), which it is compared with.
    pub target_error: f64,
    pub target_variance: f64,
}

pub const HEADER: &str = "model,training,drive,g,fraction,seed,neurons,k,loops,feedforward,spread_ratio,spread_e,spread_i,\
selective_untrained,selective_e,selective_i,selective_trained,task_ratio,trained_variance,mode_share_e,mode_share_i,rate_e,rate_i,\
balance,target_error,target_variance";

/// The first line of the tables an earlier version wrote (task variance only, drive fixed).
pub(super) const OLD_HEADER: &str = "model,training,g,fraction,seed,neurons,k,spread_ratio,spread_e,spread_i,mode_share_e,mode_share_i,rate_e,rate_i,balance,target_error,trained_variance";

/// What a ratio's CSV field holds when it is undetermined.
pub const UNDETERMINED: &str = "undetermined";

pub(super) fn ratio_field(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| UNDETERMINED.to_string(), |r| format!("{r:.6}"))
}

impl SubsetRow {
    pub fn csv_line(&self) -> String {
        let numbers = [
            self.selective_untrained,
            self.selective_e,
            self.selective_i,
            self.selective_trained,
            self.task_ratio,
            self.trained_variance,
            self.mode_share_e,
            self.mode_share_i,
            self.rate_e,
            self.rate_i,
            self.balance,
            self.target_error,
            self.target_variance,
        ];
        let mut line = format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.model.name(),
            self.training.name(),
            self.drive.name(),
            self.g,
            self.fraction,
            self.seed,
            self.neurons,
            self.k,
            self.loops,
            self.feedforward,
            ratio_field(self.spread_ratio),
            ratio_field(self.spread_e),
            ratio_field(self.spread_i),
        );
        numbers.iter().for_each(|v| line.push_str(&format!(",{v:.6}")));
        line
    }

    /// A row of `subset.csv` (any text: a damaged row is a `Table` error naming it).
    pub fn parse(line: &str) -> Result<Self, SubsetError> {
        Self::parse_fields(line).map_err(SubsetError::Table)
    }

    fn parse_fields(line: &str) -> Result<Self, String> {
        let f = csv_split(line);
        if f.len() != HEADER.split(',').count() {
            return Err(format!("a subset.csv row needs {} fields: {line}", HEADER.split(',').count()));
        }
        let num = |i: usize| f[i].parse::<f64>().map_err(|_| format!("'{}' is not a number in: {line}", f[i]));
        let ratio = |i: usize| if f[i] == UNDETERMINED { Ok(None) } else { num(i).map(Some) };
        Ok(Self {
            model: SubsetModel::from_name(&f[0]).map_err(|e| e.to_string())?,
            training: Training::from_name(&f[1]).map_err(|e| e.to_string())?,
            drive: Drive::from_name(&f[2])?,
            g: num(3)?,
            fraction: num(4)?,
            seed: num(5)? as u64,
            neurons: num(6)? as usize,
            k: num(7)? as usize,
            loops: num(8)? as usize,
            feedforward: num(9)? as usize,
            spread_ratio: ratio(10)?,
            spread_e: ratio(11)?,
            spread_i: ratio(12)?,
            selective_untrained: num(13)?,
            selective_e: num(14)?,
            selective_i: num(15)?,
            selective_trained: num(16)?,
            task_ratio: num(17)?,
            trained_variance: num(18)?,
            mode_share_e: num(19)?,
            mode_share_i: num(20)?,
            rate_e: num(21)?,
            rate_i: num(22)?,
            balance: num(23)?,
            target_error: num(24)?,
            target_variance: num(25)?,
        })
    }

    /// The trained units' error as a share of their targets' variance (NaN without targets).
    pub fn relative_error(&self) -> f64 {
        if self.target_variance > 0.0 { self.target_error / self.target_variance } else { f64::NAN }
    }
}

/// The table's file in `out`: `subset.csv`, or one per shard.
pub fn table_path(out: &Path, shard: Option<(usize, usize)>) -> PathBuf {
    match shard {
        Some((i, n)) => out.join(format!("subset-shard-{i}-of-{n}.csv")),
        None => out.join("subset.csv"),
    }
}

/// Read a table written by a subset sweep (missing file: no rows).
pub fn read_table(path: &Path) -> Result<Vec<SubsetRow>, SubsetError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(SubsetError::Io { action: "read", path: path.to_path_buf(), source }),
    };
    let mut lines = text.lines();
    match lines.next() {
        Some(HEADER) => {}
        Some(OLD_HEADER) => {
            return Err(SubsetError::Table(format!(
                "{} was written by an earlier modulab (task variance only, the drive fixed): its cells cannot be resumed or \
                 mixed with new ones; write the sweep to another --out directory",
                path.display()
            )));
        }
        _ => return Err(SubsetError::Table(format!("{} is not a subset table (its header differs)", path.display()))),
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| SubsetRow::parse(l).map_err(|e| SubsetError::Table(format!("{}: {e}", path.display()))))
        .collect()
}

/// What a row says of the plan that made it: (model, training, drive, neurons, k, loops,
/// feed-forward inputs). One table holds one plan's cells.
pub(super) type PlanKey = (SubsetModel, Training, Drive, usize, usize, usize, usize);

pub(super) fn plan_of(row: &SubsetRow) -> PlanKey {
    (row.model, row.training, row.drive, row.neurons, row.k, row.loops, row.feedforward)
}

pub(super) fn plan_of_plan(plan: &SubsetPlan) -> PlanKey {
    let k = match plan.model {
        SubsetModel::Rate if plan.training != Training::Bptt => plan.k.min(plan.neurons / 2),
        _ => plan.k,
    };
    (plan.model, plan.training, plan.drive, plan.neurons, k, plan.training_loops(), plan.feedforward_inputs())
}

pub(super) fn describe_plan((model, training, drive, neurons, k, loops, feedforward): PlanKey) -> String {
    format!(
        "--model {} --training {} --drive {} --neurons {neurons} --k {k} --loops {loops}, {feedforward} feed-forward inputs",
        model.name(),
        training.name(),
        drive.name()
    )
}

/// One (g, f) of a table over its seeds.
#[derive(Clone, Debug)]
pub struct CellSummary {
    pub g: f64,
    pub fraction: f64,
    pub seeds: usize,
    /// The trained units' selective variance over seeds.
    pub selective_trained: Summary,
    /// The spread ratios (all untrained, untrained E, I), `None` where undetermined: unless the
    /// trained units' selective variance is above 0 in every seed and its 95 % interval over the
    /// seeds lies above 0 (so at least 2 seeds), the ratio is not computed.
    pub spread_ratio: Option<Summary>,
    pub spread_e: Option<Summary>,
    pub spread_i: Option<Summary>,
    /// Absolute selective variance of the untrained units (all, E, I).
    pub selective_untrained: Summary,
    pub selective_e: Summary,
    pub selective_i: Summary,
    /// The first version's measure, the task variance ratio.
    pub task_ratio: Summary,
    pub rate_e: Summary,
    pub rate_i: Summary,
    pub balance: Summary,
    pub target_error: Summary,
    pub target_variance: Summary,
    /// The error as a share of the targets' variance, seed by seed.
    pub relative_error: Summary,
}

impl CellSummary {
    pub fn determined(&self) -> bool {
        self.spread_ratio.is_some()
    }
}

/// Every (g, f) of `rows` (one plan's table) over its seeds, by g then f.
pub fn summarise_table(rows: &[SubsetRow]) -> Vec<CellSummary> {
    let mut keys: Vec<(f64, f64)> = rows.iter().map(|r| (r.g, r.fraction)).collect();
    keys.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    keys.dedup();
    keys.into_iter()
        .map(|(g, fraction)| {
            let cell: Vec<&SubsetRow> = rows.iter().filter(|r| r.g == g && r.fraction == fraction).collect();
            let of = |value: &dyn Fn(&SubsetRow) -> f64| Summary::of(&cell.iter().map(|r| value(r)).collect::<Vec<f64>>());
            let selective_trained = of(&|r| r.selective_trained);
            let determined = selective_trained.low > 0.0 && cell.iter().all(|r| r.spread_ratio.is_some());
            let ratio = |value: &dyn Fn(&SubsetRow) -> Option<f64>| {
                determined.then(|| Summary::of(&cell.iter().filter_map(|r| value(r)).collect::<Vec<f64>>()))
            };
            CellSummary {
                g,
                fraction,
                seeds: cell.len(),
                selective_trained,
                spread_ratio: ratio(&|r| r.spread_ratio),
                spread_e: ratio(&|r| r.spread_e),
                spread_i: ratio(&|r| r.spread_i),
                selective_untrained: of(&|r| r.selective_untrained),
                selective_e: of(&|r| r.selective_e),
                selective_i: of(&|r| r.selective_i),
                task_ratio: of(&|r| r.task_ratio),
                rate_e: of(&|r| r.rate_e),
                rate_i: of(&|r| r.rate_i),
                balance: of(&|r| r.balance),
                target_error: of(&|r| r.target_error),
                target_variance: of(&|r| r.target_variance),
                relative_error: of(&|r| if r.target_variance > 0.0 { r.relative_error() } else { 0.0 }),
            }
        })
        .collect()
}

pub const SUMMARY_HEADER: &str = "g,fraction,seeds,spread_ratio,spread_ratio_low,spread_ratio_high,spread_e,spread_i,\
selective_untrained,selective_untrained_low,selective_untrained_high,selective_e,selective_i,selective_trained,\
selective_trained_low,selective_trained_high,task_ratio,rate_e,rate_i,balance,target_error,target_variance,relative_error,\
relative_error_low,relative_error_high";

/// The summary's CSV (one line per (g, f); `undetermined` ratios, their bounds empty; bounds
/// empty for a single seed) and a Markdown table of it.
pub fn summary_texts(rows: &[SubsetRow]) -> (String, String) {
    let mut csv = format!("{SUMMARY_HEADER}\n");
    let bound = |v: f64| if v.is_nan() { String::new() } else { format!("{v:.6}") };
    let with_bounds = |s: &Summary| format!("{:.6},{},{}", s.mean, bound(s.low), bound(s.high));
    let mean_or = |s: &Option<Summary>| s.as_ref().map_or_else(|| UNDETERMINED.to_string(), |s| format!("{:.6}", s.mean));
    let trained = rows.iter().any(|r| r.training != Training::Clamp);
    let hz = rows.first().is_some_and(|r| r.model == SubsetModel::Spiking);
    let unit = if hz { " (Hz²)" } else { "" };
    let mut md = format!(
        "| f | g | spread ratio | untrained E | inhibitory | untrained units' selective variance{unit} | trained units' selective variance{unit} | task variance ratio (old measure) |{} rates E, I | balance index |\n|---|---|---|---|---|---|---|---|{}---|---|\n",
        if trained { " trained units' error / target variance |" } else { "" },
        if trained { "---|" } else { "" }
    );
    let digits = |s: &Summary| {
        let scale = s.mean.abs().max((s.high - s.low).abs() / 2.0);
        if scale >= 10.0 {
            1
        } else if scale >= 0.1 {
            2
        } else {
            3
        }
    };
    let text = |s: &Summary| s.text(digits(s));
    let mut cells = summarise_table(rows);
    cells.sort_by(|a, b| (a.fraction, a.g).partial_cmp(&(b.fraction, b.g)).unwrap_or(std::cmp::Ordering::Equal));
    for c in &cells {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{:.6},{:.6},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{}\n",
            c.g,
            c.fraction,
            c.seeds,
            c.spread_ratio.as_ref().map_or_else(|| format!("{UNDETERMINED},,"), with_bounds),
            mean_or(&c.spread_e),
            mean_or(&c.spread_i),
            with_bounds(&c.selective_untrained),
            c.selective_e.mean,
            c.selective_i.mean,
            with_bounds(&c.selective_trained),
            c.task_ratio.mean,
            c.rate_e.mean,
            c.rate_i.mean,
            c.balance.mean,
            c.target_error.mean,
            c.target_variance.mean,
            with_bounds(&c.relative_error),
        ));
        let ratio = |s: &Option<Summary>| s.as_ref().map_or_else(|| UNDETERMINED.to_string(), text);
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |{} {:.1}, {:.1} | {:.2} |\n",
            c.fraction,
            c.g,
            ratio(&c.spread_ratio),
            ratio(&c.spread_e),
            ratio(&c.spread_i),
            text(&c.selective_untrained),
            text(&c.selective_trained),
            text(&c.task_ratio),
            if trained { format!(" {} |", text(&c.relative_error)) } else { String::new() },
            c.rate_e.mean,
            c.rate_i.mean,
            c.balance.mean
        ));
    }
    (csv, md)
}

/// Write `subset-summary.csv` and `subset-summary.md` into `out` (atomically).
pub(super) fn write_summary(out: &Path, rows: &[SubsetRow]) -> Result<(), SubsetError> {
    let (csv, md) = summary_texts(rows);
    for (name, text) in [("subset-summary.csv", csv), ("subset-summary.md", md)] {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|source| SubsetError::Io { action: "write", path: path.clone(), source })?;
    }
    Ok(())
}
