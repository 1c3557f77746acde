//! Files: atomic writes (a reader never sees half a file, a failed write leaves the old one) and
//! CSV fields. Everything that writes a result file goes through here.

use std::io::Write;
use std::path::Path;

/// The machine's physical memory in bytes (`MemTotal` of /proc/meminfo), when it can be read;
/// read once (the app validates its draft settings every frame).
pub fn total_memory_bytes() -> Option<u64> {
    static TOTAL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    })
}

/// Remove the temporary files that [`write_atomic`] calls left in `dir` when their process was
/// killed mid-write (`.NAME.tmpPID-N` of a process that no longer runs); a live process's are
/// left alone. Errors are ignored: this only tidies up.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp")).and_then(|(_, tail)| tail.split_once('-')).map(|(pid, _)| pid);
        if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok())
            && pid != std::process::id()
            && !process_runs(pid)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether a process `pid` runs (or cannot be told apart from one that does).
#[cfg(unix)]
fn process_runs(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    // EPERM: it exists, owned by another user
    exists || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Elsewhere a temporary file is never judged stale.
#[cfg(not(unix))]
fn process_runs(_: u32) -> bool {
    true
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // unique per call, so two writes of one path at once (the app writes from helper threads)
    // never share a temporary file; the last rename wins, each file whole
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp{}-{n}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Quote a CSV field when it needs it (run names are paths; task and series names are free text).
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// A CSV table's text: the header line, then one line per row (`line` renders a row without its
/// line break).
pub fn csv_table<T>(header: &str, rows: &[T], line: impl Fn(&T) -> String) -> String {
    let mut text = format!("{header}\n");
    for row in rows {
        text.push_str(&line(row));
        text.push('\n');
    }
    text
}

/// The fields of one CSV line written with [`csv_field`] (quoted fields may hold commas and
/// doubled quotes; a line break inside a field is not supported).
pub fn csv_split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_process_s_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(".state.bin.tmp4000000000-0"); // beyond any pid
        let alive = dir.path().join(format!(".state.bin.tmp{}-3", std::process::id()));
        let other = dir.path().join("state.bin");
        for path in [&dead, &alive, &other] {
            std::fs::write(path, b"x").unwrap();
        }
        remove_stale_temporaries(dir.path());
        assert!(!dead.exists() && alive.exists() && other.exists());
    }

    #[test]
    fn csv_fields_round_trip() {
        let fields = ["plain", "runs/a,b", "say \"hi\"", ""];
        let line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
        assert_eq!(csv_split(&line), fields);
    }
}
