//! `--frame-log FILE`: one line per painted frame, so a test of the real window can tell a
//! result that was computed but never drawn (issue 28's bug: a loaded lesson's results appeared
//! only when the mouse moved) from one that was drawn.
//!
//! ```text
//! painted <seconds since start> <background changes the frame shows>
//! …
//! changes <total announced> <seconds since start of the last one, or -1>
//! ```
//!
//! A change is anything background work announced through the app's `UiWaker` (an event, a
//! snapshot, a job's output); a painted frame shows every change its logic pass took in.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

pub struct FrameLog {
    out: Option<BufWriter<File>>,
    start: Instant,
}

impl FrameLog {
    /// A log written to `path`; a path that cannot be written is reported once on stderr and
    /// the app runs without the log.
    pub fn create(path: &Path) -> Self {
        let out = match File::create(path) {
            Ok(file) => Some(BufWriter::new(file)),
            Err(e) => {
                eprintln!("modulab: cannot write the frame log {}: {e}", path.display());
                None
            }
        };
        FrameLog { out, start: Instant::now() }
    }

    /// A frame is being painted, showing `changes` background changes.
    pub fn painted(&mut self, changes: u64) {
        let secs = self.start.elapsed().as_secs_f64();
        self.write(&format!("painted {secs:.3} {changes}"));
    }

    /// The app is closing: how many changes there were, and when the last one was.
    pub fn finish(&mut self, changes: u64, last: Option<Instant>) {
        let last = last.map_or(-1.0, |at| at.saturating_duration_since(self.start).as_secs_f64());
        self.write(&format!("changes {changes} {last:.3}"));
    }

    fn write(&mut self, line: &str) {
        if let Some(out) = &mut self.out {
            // flushed per line: the test reads the file after the app is gone, however it ended
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                self.out = None;
            }
        }
    }
}
