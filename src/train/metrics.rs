//! `metrics.csv`: one row per evaluation of a run. Written by `modulab train` and by the app's
//! "Save checkpoint…", read back when the app opens a run directory, so both agree on one format.
//!
//! Columns: `step,trials,loss,elapsed_secs,perf_min,perf_mean,perf_<task>...` (the task columns
//! in the run's task order).

use crate::tasks::Task;

pub const METRICS_FILE: &str = "metrics.csv";

/// One evaluation of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsRow {
    pub step: u64,
    pub trials: u64,
    /// Mean training loss since the previous row.
    pub loss: f64,
    pub elapsed_secs: f64,
    pub perf: Vec<(Task, f32)>,
}

impl MetricsRow {
    pub fn perf_min(&self) -> f64 {
        self.perf.iter().map(|(_, p)| *p as f64).fold(f64::INFINITY, f64::min)
    }

    pub fn perf_mean(&self) -> f64 {
        self.perf.iter().map(|(_, p)| *p as f64).sum::<f64>() / self.perf.len().max(1) as f64
    }

    /// The row as a CSV line (no newline).
    pub fn to_csv_line(&self) -> String {
        let mut row =
            format!("{},{},{},{:.3},{},{}", self.step, self.trials, self.loss, self.elapsed_secs, self.perf_min(), self.perf_mean());
        self.perf.iter().for_each(|(_, p)| row.push_str(&format!(",{p}")));
        row
    }
}

/// The header line for a run training `tasks` (no newline).
pub fn header(tasks: &[Task]) -> String {
    let mut h = String::from("step,trials,loss,elapsed_secs,perf_min,perf_mean");
    tasks.iter().for_each(|t| h.push_str(&format!(",perf_{}", t.name())));
    h
}

/// The whole file for these rows.
pub fn to_csv(tasks: &[Task], rows: &[MetricsRow]) -> String {
    let mut text = header(tasks) + "\n";
    for row in rows {
        text.push_str(&row.to_csv_line());
        text.push('\n');
    }
    text
}

/// Parse a metrics file written for a run training `tasks`. The header must match exactly
/// (another run's file is refused rather than misread).
pub fn parse(text: &str, tasks: &[Task]) -> Result<Vec<MetricsRow>, String> {
    let mut lines = text.lines();
    let expected = header(tasks);
    match lines.next() {
        Some(h) if h.trim() == expected => {}
        Some(h) => return Err(format!("its header is `{}`, expected `{expected}`", h.trim())),
        None => return Err("it is empty".into()),
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |what: &str| format!("line {}: {what}", i + 2);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 6 + tasks.len() {
            return Err(bad(&format!("{} fields, expected {}", fields.len(), 6 + tasks.len())));
        }
        let number = |k: usize| fields[k].parse::<f64>().map_err(|_| bad(&format!("`{}` is not a number", fields[k])));
        let step = fields[0].parse::<u64>().map_err(|_| bad("bad step"))?;
        let trials = fields[1].parse::<u64>().map_err(|_| bad("bad trials"))?;
        let loss = number(2)?;
        let elapsed_secs = number(3)?;
        let perf = tasks.iter().enumerate().map(|(k, t)| number(6 + k).map(|p| (*t, p as f32))).collect::<Result<Vec<_>, _>>()?;
        rows.push(MetricsRow { step, trials, loss, elapsed_secs, perf });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refuses_another_runs_file() {
        let tasks = [Task::FdGo, Task::Dm1];
        let rows = vec![
            MetricsRow { step: 10, trials: 640, loss: 0.5, elapsed_secs: 1.25, perf: vec![(Task::FdGo, 0.5), (Task::Dm1, 0.25)] },
            MetricsRow { step: 20, trials: 1280, loss: 0.25, elapsed_secs: 2.5, perf: vec![(Task::FdGo, 1.0), (Task::Dm1, 0.75)] },
        ];
        let text = to_csv(&tasks, &rows);
        // min and mean of the first row: min(0.5, 0.25) = 0.25, (0.5 + 0.25) / 2 = 0.375
        assert_eq!(text.lines().nth(1), Some("10,640,0.5,1.250,0.25,0.375,0.5,0.25"));
        assert_eq!(parse(&text, &tasks), Ok(rows));
        assert!(parse(&text, &[Task::FdGo]).is_err());
        assert!(parse("", &tasks).is_err());
    }
}
