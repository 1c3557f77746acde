//! Slurm array-job scripts: one array task per shard of a study that `--shard I/N` splits
//! (`modulab sweep packing`, `modulab reproduce`), each task on `cpus` cores.

/// What an array job runs.
pub struct ArrayJob<'a> {
    /// Names the job and its log files (`modulab-<name>`).
    pub name: &'a str,
    /// What the job computes, for the script's header ("task-packing sweep").
    pub description: &'a str,
    /// The modulab subcommand words, e.g. `["sweep", "packing"]`.
    pub command: &'a [&'a str],
    /// Its arguments without `--shard` and `--jobs` (the script sets them per task).
    pub args: &'a [String],
    /// The command that finishes the study once every task is done.
    pub finish: String,
    /// The command that wrote the script.
    pub written_by: &'a str,
}

/// The script: `shards` array tasks, task I running shard I/shards of `job` with `cpus` cores.
pub fn script(binary: &str, job: &ArrayJob, shards: usize, cpus: usize, time: &str, extra_sbatch: &[String]) -> String {
    let quoted: Vec<String> = job.args.iter().map(|a| shell_quote(a)).collect();
    let mut script = String::from("#!/bin/bash\n");
    script.push_str(&format!("# modulab {} as a Slurm array job (written by `modulab {}`).\n", job.description, job.written_by));
    script.push_str("# Submit with: sbatch THIS_FILE\n");
    script.push_str(&format!("# When every array task has finished: {}\n", job.finish));
    script.push_str(&format!("#SBATCH --job-name=modulab-{}\n", job.name));
    script.push_str(&format!("#SBATCH --array=0-{}\n", shards.saturating_sub(1)));
    script.push_str(&format!("#SBATCH --cpus-per-task={cpus}\n"));
    script.push_str(&format!("#SBATCH --time={time}\n"));
    script.push_str(&format!("#SBATCH --output=modulab-{}-%A_%a.log\n", job.name));
    for line in extra_sbatch {
        script.push_str(&format!("#SBATCH {line}\n"));
    }
    script.push_str("set -euo pipefail\n");
    script.push_str(&format!(
        "exec {} {} {} --jobs {cpus} --shard \"${{SLURM_ARRAY_TASK_ID}}/{shards}\"\n",
        shell_quote(binary),
        job.command.join(" "),
        quoted.join(" ")
    ));
    script
}

/// Quote for a POSIX shell when needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_array_task_runs_its_shard() {
        let args: Vec<String> = ["--sizes", "8,16", "--pathways", "bias,gain", "--out", "my runs/pack"].map(String::from).to_vec();
        let job = ArrayJob {
            name: "packing",
            description: "task-packing sweep",
            command: &["sweep", "packing"],
            args: &args,
            finish: "modulab sweep merge --out 'my runs/pack'".into(),
            written_by: "sweep slurm",
        };
        let script = script("/opt/modulab", &job, 6, 4, "02:00:00", &["--partition=cpu".into()]);
        assert!(script.starts_with("#!/bin/bash\n"));
        assert!(script.contains("#SBATCH --array=0-5\n"));
        assert!(script.contains("#SBATCH --cpus-per-task=4\n"));
        assert!(script.contains("#SBATCH --partition=cpu\n"));
        assert!(script.contains("# When every array task has finished: modulab sweep merge --out 'my runs/pack'\n"));
        assert!(script.contains(
            "exec /opt/modulab sweep packing --sizes 8,16 --pathways bias,gain --out 'my runs/pack' --jobs 4 --shard \"${SLURM_ARRAY_TASK_ID}/6\"\n"
        ));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("runs/a+b"), "runs/a+b");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
