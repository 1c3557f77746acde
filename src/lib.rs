//! modulab: watch a recurrent network learn many tasks at once, and see how neuromodulation lets
//! one network hold them. A reconstruction of Vedovati & Ching (2024); the spec is `docs/MODEL.md`,
//! the map of the code `ARCHITECTURE.md`.

// The layers, lowest first: a module imports only modules listed above it (ARCHITECTURE.md;
// tests/layers.rs checks it).
pub mod rng;
pub mod io;
pub mod figure;
pub mod tasks;
pub mod model;
pub mod config;
pub mod analysis;
pub mod train;
pub mod experiments;
pub mod runner;
pub mod lesson;
pub mod app;
pub mod cli;

/// Keep freed large buffers in the process instead of returning them to the OS.
///
/// A training step allocates a handful of [batch, time, units] buffers (6.5 MB each at N = 256);
/// glibc serves such sizes with fresh `mmap`s and unmaps them on free, so every step pays
/// ~1.5 ms of page faults per buffer, about a quarter of the step. Raising the mmap and trim
/// thresholds lets the heap reuse them. Call once at start-up (the binary and the benchmarks do).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; it is called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// The desktop app's allocator setting, on top of [`tune_allocator`]: every thread allocates
/// from glibc's one main arena.
///
/// With an arena per thread, the worker's arena kept what the training step and the jobs freed:
/// glibc's `malloc_trim` never shrinks the top of a thread's own arena, so an hour of the app
/// drifted from ~80 to ~100 MB resident over a live heap of ~29 MB (README, "Long runs of the
/// app"). With one arena every trim ([`release_freed_memory`]) returns it all. The price is a
/// shared lock: two packing cells side by side run ~20 % slower (`cargo bench --bench packing`
/// with `MALLOC_ARENA_MAX=1`), which is why the command line's sweeps keep an arena per thread.
/// Call before the app starts any thread.
pub fn share_one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters, under the allocator's own lock. (Set
    // before threads start, so that none has made an arena of its own.)
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// `modulab presets | grep -q quick`: when the reader of stdout has gone, end the way Unix
/// tools do (killed by SIGPIPE, nothing printed) instead of Rust's default, which ignores the
/// signal and then panics in `println!` with "failed printing to stdout: Broken pipe". Files a
/// command writes are written atomically, so nothing half-written is left behind.
pub fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal at the start of main, before any
    // thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Give the memory freed since the last call back to the OS.
///
/// With [`tune_allocator`]'s thresholds glibc keeps what is freed; that is right for the training
/// step's buffers, but what a finished job (a sweep, an analysis, a packing sweep's threads) freed
/// would stay resident for the rest of a long session. Call when a job ends or after an
/// evaluation, not per step: it costs a few milliseconds and the next training step's page
/// faults. It returns all free memory of the main arena but only the free chunks inside another
/// arena, never its top (so the app uses one arena: [`share_one_arena`]).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the OS.
    unsafe {
        libc::malloc_trim(0);
    }
}
