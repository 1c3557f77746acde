//! Every sweep of the command line (`sweep packing`, `sweep subset`, `reproduce`) is driven the
//! same way: the line on what an earlier run left, a progress bar, Ctrl-C, the first failure
//! (finished cells kept), and an interrupted sweep's exit.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::experiments::driver::{self, Failed, Started, Sweep, Watch};

/// Raised by Ctrl-C: cells in progress stop, finished cells stay kept.
pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // a second Ctrl-C: leave now (finished cells are on disk already)
        unsafe { libc::_exit(130) };
    }
}

fn catch_interrupt() {
    // SAFETY: the handler only touches an atomic and calls the async-signal-safe _exit
    unsafe { libc::signal(libc::SIGINT, on_interrupt as *const () as libc::sighandler_t) };
}

#[allow(clippy::expect_used, reason = "cannot fail: the progress bar template is a constant")]
pub(super) fn bar(len: u64, quiet: bool, unit: &str) -> ProgressBar {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(len) };
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:30.cyan/blue}} {{pos}}/{{len}} {unit} [{{elapsed_precise}}<{{eta_precise}}] {{msg}}"))
            .expect("valid template"),
    );
    bar
}

/// How a sweep's things are called in its messages.
pub(super) struct Names<'a> {
    /// Its cells: "cells", "runs".
    pub cells: &'a str,
    /// Its progress units: "cells", "steps".
    pub work: &'a str,
    /// Where it keeps them, e.g. a table's path.
    pub place: String,
}

/// The progress bar as a driver's [`Watch`].
struct Bar<'a> {
    bar: ProgressBar,
    names: &'a Names<'a>,
}

impl Watch for Bar<'_> {
    fn start(&self, s: &Started) {
        if s.resumed > 0 {
            self.bar.suspend(|| {
                println!("resuming: {} of {} {} already finished in {}", s.resumed, s.cells, self.names.cells, self.names.place)
            });
        }
        self.bar.set_length(s.work);
        self.bar.set_message(format!("{} {}, {} at a time", s.cells - s.resumed, self.names.cells, s.jobs));
    }
    fn work(&self, units: u64) {
        self.bar.inc(units);
    }
    fn finished(&self, line: &str) {
        self.bar.set_message(line.to_string());
    }
}

/// Drive `sweep` (the cells of `shard`, `jobs` at a time) to its end and return every row of
/// it with how it started. A failure is an error saying the finished cells are kept; Ctrl-C
/// prints how far it got and exits with 130 (run the same command again to resume).
pub(super) fn drive<S: Sweep>(
    sweep: &S,
    shard: Option<(usize, usize)>,
    jobs: Option<usize>,
    quiet: bool,
    names: &Names,
) -> Result<(Vec<S::Row>, Started)> {
    catch_interrupt();
    let watch = Bar { bar: bar(0, quiet, names.work), names };
    let driven = driver::drive(sweep, shard, jobs, &INTERRUPTED, &watch);
    watch.bar.finish_and_clear();
    let driven = match driven {
        Ok(driven) => driven,
        Err(Failed { error, kept: Some(kept) }) if kept > 0 => {
            bail!("{error}\n({kept} finished {} are kept in {}; run the same command again to resume)", names.cells, names.place)
        }
        Err(Failed { error, .. }) => bail!("{error}"),
    };
    if !driven.complete {
        println!(
            "interrupted: {} of {} {} finished in {}; run the same command again to resume",
            driven.started.resumed + driven.finished,
            driven.started.cells,
            names.cells,
            names.place
        );
        std::process::exit(130);
    }
    Ok((driven.rows, driven.started))
}
