//! The app's handle on the worker thread: start it, send commands, read events and the latest
//! snapshot. Dropping the handle stops and joins the thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::outbox::{EVENT_CAPACITY, Outbox};
use super::protocol::{Command, Event, Snapshot};
use super::run::Run;
use super::wake::UiWaker;
use crate::config::Config;

/// The UI's handle on the worker thread. Dropping it stops and joins the thread.
pub struct Worker {
    commands: Sender<Command>,
    events: Receiver<Event>,
    snapshot: Arc<Mutex<Option<Snapshot>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Start the thread with a fresh (untrained) network for `config`.
    pub fn spawn(config: Config, wake: UiWaker) -> std::io::Result<Worker> {
        // commands come from the user's input (a burst of slider moves is answered once), so an
        // unbounded channel never grows far; events are bounded with back-pressure (outbox.rs)
        let (commands, command_rx) = mpsc::channel();
        let (event_tx, events) = mpsc::sync_channel(EVENT_CAPACITY);
        let snapshot = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let mut run = Run::new(command_rx, Outbox::new(event_tx, stop.clone(), wake), snapshot.clone(), config);
        let thread = std::thread::Builder::new().name("modulab-training".into()).spawn(move || run.main())?;
        Ok(Worker { commands, events, snapshot, stop, thread: Some(thread) })
    }

    /// Send a command; `false` if the worker has ended.
    pub fn send(&self, command: Command) -> bool {
        self.try_send(command).is_ok()
    }

    /// Send a command, or have it back if the worker has ended (a job in it can then say so).
    pub fn try_send(&self, command: Command) -> Result<(), Command> {
        self.commands.send(command).map_err(|refused| refused.0)
    }

    /// The next event, if any (never blocks).
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The latest snapshot, taken out of the slot (`None` if nothing new since the last take).
    pub fn take_snapshot(&self) -> Option<Snapshot> {
        self.snapshot.lock().ok().and_then(|mut slot| slot.take())
    }

    /// Whether the thread is still running.
    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            // the thread catches panics in training; a panic elsewhere is already reported
            let _ = thread.join();
        }
    }
}
