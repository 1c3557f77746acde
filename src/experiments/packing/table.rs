//! A packing sweep's table (`packing.csv`, or a shard's file): one row per finished cell, read,
//! written in the plan's order, and merged from shards.

use std::path::Path;

use super::*;

/// Why a cell stopped training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The plateau rule: its mean performance stopped improving.
    Plateau,
    /// The step budget was spent first.
    Budget,
    /// The loss became non-finite: this size cannot hold these tasks at this learning rate.
    Diverged,
}

impl Stop {
    pub fn name(self) -> &'static str {
        match self {
            Stop::Plateau => "plateau",
            Stop::Budget => "budget",
            Stop::Diverged => "diverged",
        }
    }

    fn parse(s: &str) -> Option<Stop> {
        [Stop::Plateau, Stop::Budget, Stop::Diverged].into_iter().find(|stop| stop.name() == s)
    }
}

/// The outcome of one cell: one row of `packing.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct CellResult {
    pub cell: Cell,
    /// Steps trained.
    pub steps: u64,
    pub stop: Stop,
    /// Of the final evaluation ([`FINAL_TRIALS`] fresh trials per task).
    pub perf_min: f64,
    pub perf_mean: f64,
    /// The lowest over tasks of (perf − chance) / (1 − chance).
    pub score_min: f64,
    /// Every task held: `score_min` ≥ the criterion.
    pub met: bool,
}

pub const PACKING_HEADER: &str = "size,k,pathways,seed,steps,stop,perf_min,perf_mean,score_min,met";

impl CellResult {
    pub fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{:.6},{:.6},{:.6},{}",
            self.cell.size,
            self.cell.k,
            self.cell.pathways,
            self.cell.seed,
            self.steps,
            self.stop.name(),
            self.perf_min,
            self.perf_mean,
            self.score_min,
            self.met
        )
    }

    fn parse(line: &str) -> Result<CellResult, String> {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 10 {
            return Err(format!("expected 10 fields, found {}", f.len()));
        }
        let num = |i: usize, what: &str| f[i].parse::<f64>().map_err(|_| format!("bad {what} '{}'", f[i]));
        Ok(CellResult {
            cell: Cell {
                size: f[0].parse().map_err(|_| format!("bad size '{}'", f[0]))?,
                k: f[1].parse().map_err(|_| format!("bad k '{}'", f[1]))?,
                pathways: f[2].parse().map_err(|e: ModelError| e.to_string())?,
                seed: f[3].parse().map_err(|_| format!("bad seed '{}'", f[3]))?,
            },
            steps: f[4].parse().map_err(|_| format!("bad steps '{}'", f[4]))?,
            stop: Stop::parse(f[5]).ok_or_else(|| format!("bad stop '{}': plateau, budget or diverged", f[5]))?,
            perf_min: num(6, "perf_min")?,
            perf_mean: num(7, "perf_mean")?,
            score_min: num(8, "score_min")?,
            met: f[9].parse().map_err(|_| format!("bad met '{}': true or false", f[9]))?,
        })
    }
}

/// The header of tables before the plateau rule and the chance-corrected criterion.
pub(super) const OLD_PACKING_HEADER: &str = "size,k,pathways,seed,steps_to_criterion,perf_min,perf_mean";

/// Read a `packing.csv` text; `source` names it in errors.
pub fn parse_csv(text: &str, source: &str) -> Result<Vec<CellResult>, PackingError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let bad = |message: String| PackingError::Table { file: source.to_string(), message };
    match lines.next() {
        Some((_, header)) if header.trim() == PACKING_HEADER => {}
        Some((_, header)) if header.trim() == OLD_PACKING_HEADER => {
            return Err(bad(
                "written by an earlier modulab, which judged cells at any evaluation and without chance; run the sweep into a new --out"
                    .into(),
            ));
        }
        Some((_, header)) => return Err(bad(format!("unexpected header '{header}', expected '{PACKING_HEADER}'"))),
        None => return Ok(Vec::new()),
    }
    lines.map(|(i, line)| CellResult::parse(line).map_err(|e| bad(format!("line {}: {e}", i + 1)))).collect()
}

/// The CSV text of results, sorted in the plan's cell order (size, K, pathways, seed) so the
/// table does not depend on the order cells finished in or on sharding.
pub fn to_csv(results: &[CellResult]) -> String {
    let mut sorted: Vec<&CellResult> = results.iter().collect();
    sorted.sort_by(|a, b| a.cell.cmp(&b.cell));
    let mut text = String::from(PACKING_HEADER);
    text.push('\n');
    for r in sorted {
        text.push_str(&r.csv_line());
        text.push('\n');
    }
    text
}

/// Join tables (shards); a cell present twice must have the same result in both.
pub fn merge(tables: Vec<Vec<CellResult>>) -> Result<Vec<CellResult>, PackingError> {
    let mut by_cell: BTreeMap<Cell, CellResult> = BTreeMap::new();
    for result in tables.into_iter().flatten() {
        match by_cell.get(&result.cell) {
            Some(existing) if *existing != result => {
                return Err(PackingError::Conflict {
                    cell: cell_label(&result.cell),
                    first: existing.csv_line(),
                    second: result.csv_line(),
                });
            }
            _ => {
                by_cell.insert(result.cell.clone(), result);
            }
        }
    }
    Ok(by_cell.into_values().collect())
}

/// Read a table file (a missing one holds no cells).
pub fn read_table(path: &Path) -> Result<Vec<CellResult>, PackingError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_csv(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(PackingError::Io { action: "read", path: path.to_path_buf(), source }),
    }
}
