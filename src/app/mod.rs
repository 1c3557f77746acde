//! The desktop app: watch the RNN learn and play with neuromodulation.
//!
//! Three kinds of state, kept apart:
//! - [`UiSettings`]: persisted between sessions (eframe storage, `#[serde(default)]`);
//! - [`RunData`]: what the worker sent about the current run (never persisted);
//! - the draft [`Config`] the Setup panel edits, applied to the worker by a reset.
//!
//! The worker thread ([`crate::runner`]) owns the network; the app sends it commands and
//! drains its events in [`eframe::App::logic`] within a time budget, so the UI never waits.
//! One file per panel; each implements the small [`Panel`] trait. [`export`] is the shared
//! export menu and file-choice machinery every plot uses.

pub mod export;
pub use crate::runner::compare::ComparedRun;
pub use packing::{PackingForm, PackingPanel, SweepEnd};
pub use subset::SubsetPanel;
pub use tabs::Tab;
mod ambiguity;
mod dynamics;
mod frame_log;
mod guides;
pub mod lesson;
mod lesson_panel;
mod loss_curve;
mod packing;
mod pca;
mod setup;
mod status;
mod subset;
mod switching;
mod tabs;
mod training;
mod trajectories;
pub mod widgets;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::analysis::Ambiguity;
use crate::config::Config;
use crate::model::Pathway;
use crate::runner::{Command, EvalResult, Event, LiveViews, LoadedRun, LookedBack, RunState, Snapshot, UiWaker, Worker};
use crate::train::RunEnd;
use crate::train::probe::{PcaView, Trajectories};
pub use loss_curve::LossCurve;

/// At most this much UI-thread time per frame goes into draining worker events.
const DRAIN_BUDGET: Duration = Duration::from_millis(10);
/// The soonest the worker's wake-up repaints after it sent something (a burst of events is
/// drawn in one frame).
const WAKE_AFTER: Duration = Duration::from_millis(10);

/// UI settings remembered between sessions. Every field has a default, so an old or partial
/// stored value still loads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiSettings {
    /// Show the Setup side panel.
    pub show_setup: bool,
    /// Plot the loss on a log scale.
    pub loss_log_scale: bool,
    /// Open the "What am I looking at?" texts by default.
    pub help_open: bool,
    /// The view shown in the main area.
    pub tab: Tab,
    /// Trajectories panel: draw every hidden unit as a heat map (else the most active units as lines).
    pub units_heat_map: bool,
    /// PCA panel: show PC1–3 in a rotatable 3-D view.
    pub pca_3d: bool,
    /// Open lesson 1 when the app starts plainly (`modulab`), until "don't show again".
    pub open_first_lesson: bool,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            show_setup: true,
            loss_log_scale: true,
            help_open: false,
            tab: Tab::Training,
            units_heat_map: true,
            pca_3d: false,
            open_first_lesson: true,
        }
    }
}

/// How severe a status message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

/// Everything received from the worker about the current run.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The configuration the worker's network was built with.
    pub config: Option<Config>,
    pub state: RunState,
    pub step: u64,
    pub trials: u64,
    /// Seconds spent training (pauses excluded).
    pub train_secs: f64,
    pub steps_per_sec: f64,
    /// (step, loss) of every step received (merged into means of neighbours on long runs).
    pub loss: LossCurve,
    /// Every evaluation of this run, in order.
    pub evaluations: Vec<EvalResult>,
    /// The latest snapshot taken from the worker's slot.
    pub snapshot: Option<Snapshot>,
    pub last_message: Option<Message>,
    /// The first and the latest step event received, with when they arrived: the training
    /// speed the app actually achieved (`--quit-after` prints it on exit).
    pub steps_seen: Option<[(u64, Instant); 2]>,
}

impl Default for RunData {
    fn default() -> Self {
        Self {
            config: None,
            state: RunState::Ready,
            step: 0,
            trials: 0,
            train_secs: 0.0,
            steps_per_sec: 0.0,
            loss: LossCurve::default(),
            evaluations: Vec::new(),
            snapshot: None,
            last_message: None,
            steps_seen: None,
        }
    }
}

impl RunData {
    /// Steps per second between the first and the latest step event received, with the step
    /// count it was measured over; `None` before two steps.
    pub fn measured_steps_per_sec(&self) -> Option<(f64, u64)> {
        let [(first, at), (last, then)] = self.steps_seen?;
        let secs = (then - at).as_secs_f64();
        (last > first && secs > 0.0).then(|| ((last - first) as f64 / secs, last - first))
    }

    /// Take in one event from the worker.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Reset(config) => {
                let last_message = self.last_message.take();
                *self = RunData { config: Some(*config), last_message, ..RunData::default() };
            }
            Event::State(state) => {
                self.state = state;
                if state != RunState::Running {
                    self.steps_per_sec = 0.0;
                }
            }
            Event::Step { step, loss, steps_per_sec, trials, train_secs } => {
                self.step = step;
                self.trials = trials;
                self.train_secs = train_secs;
                self.steps_per_sec = steps_per_sec;
                self.loss.push(step as f64, loss as f64);
                let now = (step, Instant::now());
                self.steps_seen = Some([self.steps_seen.map_or(now, |[first, _]| first), now]);
            }
            Event::Evaluation(result) => {
                let text = format!(
                    "step {}: mean performance {:.0}%, worst task {:.0}%",
                    result.step,
                    100.0 * result.perf_mean(),
                    100.0 * result.perf_min()
                );
                // a lesion re-evaluation of the same step replaces the previous one
                if self.evaluations.last().is_some_and(|last| last.step == result.step) {
                    self.evaluations.pop();
                }
                self.evaluations.push(result);
                self.last_message = Some(Message { level: Level::Info, text });
            }
            Event::Warning(text) => self.last_message = Some(Message { level: Level::Warning, text }),
            Event::Failed(text) => self.last_message = Some(Message { level: Level::Error, text }),
            Event::Finished { step, end } => {
                let text = match end {
                    RunEnd::Converged => format!("every task reached the target performance at step {step}"),
                    RunEnd::Plateau => format!("stopped at step {step}: mean performance no longer improving (train.plateau_window)"),
                    RunEnd::Finished | RunEnd::Cancelled => format!("finished all {step} steps"),
                };
                self.last_message = Some(Message { level: Level::Info, text });
            }
            Event::CheckpointLoaded(loaded) => self.load(&loaded),
            // the app shows these next to the other file operations (see `ModulabApp::logic_ctx`)
            Event::CheckpointSaved { .. } | Event::NetworkExported { .. } | Event::FileFailed(_) => {}
        }
    }

    /// Start over with a run loaded from a checkpoint, its history included.
    fn load(&mut self, loaded: &LoadedRun) {
        let evaluations = loaded.history.iter().map(|row| EvalResult { step: row.step, perf: row.perf.clone(), lesioned: None }).collect();
        // metrics.csv has the mean loss since the previous evaluation: one point per row
        let loss =
            LossCurve::from(loaded.history.iter().filter(|r| r.loss.is_finite()).map(|r| [r.step as f64, r.loss]).collect::<Vec<_>>());
        *self = RunData {
            config: Some(loaded.config.clone()),
            state: loaded.state,
            step: loaded.step,
            trials: loaded.trials,
            train_secs: loaded.train_secs,
            loss,
            evaluations,
            ..RunData::default()
        };
    }

    /// The total number of steps of the run.
    pub fn total_steps(&self) -> u64 {
        self.config.as_ref().map_or(0, |c| c.train.steps)
    }

    /// The latest evaluation: the snapshot slot's (the newest the worker has), else the last event's.
    pub fn latest_evaluation(&self) -> Option<&EvalResult> {
        self.snapshot.as_ref().and_then(|s| s.evaluation.as_ref()).or(self.evaluations.last())
    }
}

/// What a panel borrows each frame.
pub struct PanelContext<'a> {
    pub run: &'a RunData,
    pub settings: &'a mut UiSettings,
    /// The configuration being edited in the Setup panel.
    pub draft: &'a mut Config,
    /// The preset the draft came from, if unchanged since.
    pub preset: &'a mut String,
    /// Pathways lesioned at test time.
    pub lesions: &'a mut Vec<Pathway>,
    /// How the context is made ambiguous when testing (Ambiguity panel).
    pub ambiguity: &'a mut Ambiguity,
    /// Commands for the worker, sent after the frame.
    pub commands: &'a mut Vec<Command>,
    /// File choices and exports (see [`export::export_menu_ui`]).
    pub files: &'a mut export::Files,
    /// The Setup sections the open lesson hides.
    pub hidden: &'a [lesson::Control],
    /// The evaluation step looked back at (the Training tab's slider); `None` = the latest.
    pub look_back: &'a mut Option<u64>,
    /// What a job started on a thread of its own wakes the UI with.
    pub waker: &'a UiWaker,
}

impl PanelContext<'_> {
    /// Does the open lesson hide this Setup section?
    pub fn hides(&self, control: lesson::Control) -> bool {
        control.hidden_by(self.hidden)
    }

    /// The probe trials to draw: the latest network's, or while looking back the earlier
    /// network's (or that it is on its way).
    pub fn probe_shown(&self) -> ProbeShown {
        let snapshot = self.run.snapshot.as_ref();
        match *self.look_back {
            None => ProbeShown::Latest {
                trajectories: snapshot.and_then(|s| s.trajectories.clone()),
                pca: snapshot.and_then(|s| s.pca.clone()),
            },
            Some(asked) => match snapshot.and_then(|s| s.looked_back.clone()).filter(|b| b.asked == asked) {
                Some(back) => ProbeShown::Earlier(back),
                None => ProbeShown::Waiting(asked),
            },
        }
    }
}

/// What the Trajectories and PCA tabs show (see [`PanelContext::probe_shown`]).
pub enum ProbeShown {
    Latest {
        trajectories: Option<Arc<Trajectories>>,
        pca: Option<Arc<PcaView>>,
    },
    /// The network at an earlier evaluation.
    Earlier(Arc<LookedBack>),
    /// Looking back at this step; the worker has not answered yet.
    Waiting(u64),
}

impl ProbeShown {
    pub fn trajectories(&self) -> Option<Arc<Trajectories>> {
        match self {
            ProbeShown::Latest { trajectories, .. } => trajectories.clone(),
            ProbeShown::Earlier(back) => back.trajectories.clone(),
            ProbeShown::Waiting(_) => None,
        }
    }

    pub fn pca(&self) -> Option<Arc<PcaView>> {
        match self {
            ProbeShown::Latest { pca, .. } => pca.clone(),
            ProbeShown::Earlier(back) => back.pca.clone(),
            ProbeShown::Waiting(_) => None,
        }
    }

    /// A line saying which network is shown while looking back (none for the latest).
    pub fn caption_ui(&self, ui: &mut egui::Ui) {
        let text = match self {
            ProbeShown::Latest { .. } => return,
            ProbeShown::Earlier(back) => match back.step {
                Some(step) if step == back.asked => format!("Looking back: the network at step {step}"),
                Some(step) => format!("Looking back: the network at step {step} (the nearest kept before step {})", back.asked),
                None => {
                    format!("Looking back at step {}: that network is not kept (a loaded run starts at its checkpoint's step)", back.asked)
                }
            },
            ProbeShown::Waiting(step) => format!("Looking back at step {step}: running the probe trials…"),
        };
        ui.colored_label(ui.visuals().warn_fg_color, text).on_hover_text(
            "The Training tab's look-back slider is not at its right end, so this tab shows the network as it was at that \
             evaluation (the principal axes fitted to that network). Move the slider to its right end for the latest.",
        );
    }
}

/// One panel of the app. Like eframe's `App`, a panel has a `logic` half, run every frame
/// whether it is shown or not (take the results of background work the runner does for it),
/// and a `ui` half that draws it. Panels read what the worker published and push commands
/// through the [`PanelContext`]; they compute nothing heavy and own no threads.
pub trait Panel {
    /// The panel's heading.
    fn title(&self) -> &'static str;
    /// The "What am I looking at?" text.
    fn help(&self) -> &'static str;
    /// Every frame, shown or not, before any panel draws.
    fn logic(&mut self, _ctx: &egui::Context, _cx: &mut PanelContext<'_>) {}
    /// Draw the panel.
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>);
    /// The live analyses the panel shows while it is on screen (the worker skips the others).
    fn live_views(&self) -> LiveViews {
        LiveViews::NONE
    }
}

/// A panel's heading with its "What am I looking at?" text underneath.
pub fn heading_ui(ui: &mut egui::Ui, panel: &dyn Panel, settings: &UiSettings) {
    ui.heading(panel.title());
    egui::CollapsingHeader::new("What am I looking at?")
        .id_salt(("help", panel.title()))
        .default_open(settings.help_open)
        .show(ui, |ui| {
            ui.label(panel.help());
        })
        .header_response
        .on_hover_text("A short explanation of this panel, for a first visit");
}

/// How the app starts.
#[derive(Clone, Debug)]
pub struct AppOptions {
    pub config: Config,
    /// The preset `config` came from (shown in the picker), if any.
    pub preset: Option<String>,
    /// Close the window after this long (for CI and screenshots).
    pub quit_after: Option<Duration>,
    /// Start training as soon as the window opens.
    pub train: bool,
    /// Open this run directory (or checkpoint) at start, instead of a fresh network.
    pub open_run: Option<PathBuf>,
    /// Choose files through the desktop's dialogs (off in tests: the path field is used).
    pub file_dialogs: bool,
    /// Open on this tab (else the one shown when the app last closed).
    pub tab: Option<Tab>,
    /// Saved runs to add to the Ambiguity tab's comparison at start.
    pub compare_runs: Vec<PathBuf>,
    /// Follow this lesson from the start (`modulab lesson FILE|N`).
    pub lesson: Option<lesson::Lesson>,
    /// Write a line per painted frame to this file (the real-window test reads it; see
    /// [`frame_log`]).
    pub frame_log: Option<PathBuf>,
    /// Open lesson 1 at start unless the user said not to (a plain `modulab`: no preset,
    /// config, run or tab asked for).
    pub offer_first_lesson: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        let config = Config::from_preset("quick", &[]).unwrap_or_default();
        Self {
            config,
            preset: Some("quick".into()),
            quit_after: None,
            train: false,
            open_run: None,
            file_dialogs: true,
            tab: None,
            compare_runs: Vec::new(),
            lesson: None,
            offer_first_lesson: false,
            frame_log: None,
        }
    }
}

/// The app: panels, the worker handle and the three kinds of state.
pub struct ModulabApp {
    settings: UiSettings,
    run: RunData,
    draft: Config,
    preset: String,
    lesions: Vec<Pathway>,
    ambiguity: Ambiguity,
    /// The last configuration sent with a reset (so an edit is sent once, not every frame).
    sent_config: Option<Config>,
    worker: Option<Worker>,
    setup: setup::SetupPanel,
    tabs: tabs::Tabs,
    status: status::StatusPanel,
    /// The live analyses last asked of the worker (sent again when the view changes).
    sent_views: Option<LiveViews>,
    /// The evaluation step looked back at (Training tab's slider); `None` = the latest. The
    /// Trajectories and PCA tabs show the network of that step ...
    look_back: Option<u64>,
    /// ... once the worker was told (sent again when it changes).
    sent_look_back: Option<u64>,
    files: export::Files,
    /// A run to load once the worker is up.
    open_run: Option<PathBuf>,
    quit_at: Option<Instant>,
    quit_after: Option<Duration>,
    train_on_start: bool,
    /// The worker could not be started (shown in the status bar).
    spawn_failed: bool,
    /// The lesson being followed, and the Save as lesson… form while it is open.
    lesson: Option<lesson_panel::LessonPlayer>,
    lesson_form: Option<lesson_panel::SaveLessonForm>,
    /// The lesson to start on the first frame (the worker is up by then).
    first_lesson: Option<lesson::Lesson>,
    /// The app was started plainly: lesson 1, when open, offers "open at start" as a choice.
    first_lesson_at_start: bool,
    /// How every background road wakes the UI (its egui context is set on the first frame).
    waker: UiWaker,
    ui_context: Arc<OnceLock<egui::Context>>,
    /// The background changes the last logic pass took in (all of them, unless the drain was
    /// cut short), which the next painted frame shows.
    changes_taken: u64,
    frame_log: Option<frame_log::FrameLog>,
}

impl ModulabApp {
    /// The app with settings restored from `storage` (if any). The worker starts on the first
    /// frame, when the egui context to wake is known.
    pub fn new(options: AppOptions, storage: Option<&dyn eframe::Storage>) -> Self {
        let mut settings = storage.and_then(|s| eframe::get_value::<UiSettings>(s, eframe::APP_KEY)).unwrap_or_default();
        if let Some(tab) = options.tab {
            settings.tab = tab;
        }
        let ui_context: Arc<OnceLock<egui::Context>> = Arc::default();
        let context = ui_context.clone();
        let waker = UiWaker::new(move |after| {
            if let Some(ctx) = context.get() {
                ctx.request_repaint_after(after.max(WAKE_AFTER));
            }
        });
        let mut files = export::Files::new(options.file_dialogs, waker.clone());
        files.add_compare_runs(options.compare_runs);
        let settings_open_first_lesson = settings.open_first_lesson;
        Self {
            settings,
            run: RunData::default(),
            draft: options.config.clone(),
            preset: options.preset.unwrap_or_default(),
            lesions: Vec::new(),
            ambiguity: Ambiguity::none(),
            sent_config: Some(options.config),
            worker: None,
            setup: setup::SetupPanel::default(),
            tabs: tabs::Tabs::default(),
            status: status::StatusPanel,
            sent_views: None,
            look_back: None,
            sent_look_back: None,
            files,
            open_run: options.open_run,
            quit_at: None,
            quit_after: options.quit_after,
            train_on_start: options.train,
            spawn_failed: false,
            lesson: None,
            lesson_form: None,
            first_lesson: options
                .lesson
                .or_else(|| (options.offer_first_lesson && settings_open_first_lesson).then(|| lesson::Lesson::builtin(1).ok()).flatten()),
            first_lesson_at_start: options.offer_first_lesson,
            waker,
            ui_context,
            changes_taken: 0,
            frame_log: options.frame_log.map(|path| frame_log::FrameLog::create(&path)),
        }
    }

    /// The lesson being followed (its step), if any.
    pub fn lesson(&self) -> Option<(&lesson::Lesson, usize)> {
        self.lesson.as_ref().map(|p| (&p.lesson, p.step))
    }

    /// What the app received about the current run.
    pub fn run_data(&self) -> &RunData {
        &self.run
    }

    /// The configuration being edited.
    pub fn draft(&self) -> &Config {
        &self.draft
    }

    pub fn settings(&self) -> &UiSettings {
        &self.settings
    }

    pub fn lesions(&self) -> &[Pathway] {
        &self.lesions
    }

    /// The latest outcome of a file operation (export, save, load), as shown in the status bar.
    pub fn file_notice(&self) -> Option<&Message> {
        self.files.notice()
    }

    /// The ambiguity the Ambiguity panel asks for.
    pub fn ambiguity(&self) -> Ambiguity {
        self.ambiguity
    }

    /// The runs loaded for comparison in the Ambiguity panel.
    pub fn compared_runs(&self) -> &[ComparedRun] {
        self.tabs.ambiguity.compared_runs()
    }

    /// The Packing panel (its sweep and results).
    pub fn packing(&self) -> &PackingPanel {
        &self.tabs.packing
    }

    pub fn packing_mut(&mut self) -> &mut PackingPanel {
        &mut self.tabs.packing
    }

    /// The Subset panel (its run and results).
    pub fn subset(&self) -> &SubsetPanel {
        &self.tabs.subset
    }

    pub fn subset_mut(&mut self) -> &mut SubsetPanel {
        &mut self.tabs.subset
    }

    /// Start the worker (first frame), drain its events within the budget, take the latest
    /// snapshot, and handle --quit-after. Never blocks.
    pub fn logic_ctx(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        let _ = self.ui_context.set(ctx.clone());
        // every change announced before this moment has its data in place: drained below
        let mut changes = self.waker.changes();
        if self.worker.is_none() && !self.spawn_failed {
            self.spawn_worker();
        }
        if let Some(worker) = &self.worker {
            let deadline = now + DRAIN_BUDGET;
            while let Some(event) = worker.try_recv() {
                match &event {
                    Event::CheckpointSaved { dir, step } => {
                        self.files.set_notice(Level::Info, format!("saved the run at step {step} to {}", dir.display()))
                    }
                    Event::NetworkExported { path, step } => self.files.set_notice(
                        Level::Info,
                        format!("exported the network at step {step} to {} (docs/EXCHANGE.md: loading it in Python)", path.display()),
                    ),
                    Event::FileFailed(text) => self.files.set_notice(Level::Error, text.clone()),
                    Event::CheckpointLoaded(loaded) => {
                        // the Setup panel edits the loaded run's settings from now on
                        self.draft = loaded.config.clone();
                        self.sent_config = Some(loaded.config.clone());
                        self.preset.clear();
                        let mut text = format!("loaded {} at step {}", loaded.path.display(), loaded.step);
                        let mut level = Level::Info;
                        if let Some(problem) = &loaded.history_problem {
                            text.push_str(&format!("; {problem}"));
                            level = Level::Warning;
                        }
                        self.files.set_notice(level, text);
                    }
                    _ => {}
                }
                self.run.apply(event);
                if Instant::now() >= deadline {
                    ctx.request_repaint(); // more next frame
                    changes = self.changes_taken;
                    break;
                }
            }
            if let Some(snapshot) = worker.take_snapshot() {
                self.run.snapshot = Some(snapshot);
            }
        }
        self.changes_taken = changes;
        if let Some(after) = self.quit_after {
            let at = *self.quit_at.get_or_insert(now + after);
            if now >= at {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            } else {
                ctx.request_repaint_after(at - now);
            }
        }
    }

    fn spawn_worker(&mut self) {
        let config = self.sent_config.clone().unwrap_or_else(|| self.draft.clone());
        match Worker::spawn(config, self.waker.clone()) {
            Ok(worker) => {
                // commands run in order: the run is loaded before training starts
                if let Some(run) = self.open_run.take() {
                    worker.send(Command::LoadCheckpoint(run));
                }
                if self.train_on_start {
                    worker.send(Command::Start);
                }
                self.worker = Some(worker);
            }
            Err(e) => {
                self.spawn_failed = true;
                self.run.state = RunState::Failed;
                self.run.last_message = Some(Message { level: Level::Error, text: format!("cannot start the training thread: {e}") });
            }
        }
    }

    /// Draw every panel and send the commands they produced.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let mut commands = Vec::new();
        let ctx = ui.ctx().clone();
        if let Some(lesson) = self.first_lesson.take() {
            self.start_lesson(lesson, &mut commands);
        }
        for path in self.files.take_lessons() {
            self.open_lesson(&path, &mut commands);
        }
        let hidden = self.lesson.as_ref().map(|p| p.lesson.hidden.clone()).unwrap_or_default();
        let shown_tabs: Vec<Tab> = Tab::ALL.into_iter().filter(|t| self.lesson.as_ref().is_none_or(|p| p.lesson.shows_tab(*t))).collect();
        if !shown_tabs.contains(&self.settings.tab)
            && let Some(p) = &self.lesson
        {
            self.settings.tab = p.lesson.tab;
        }
        // an evaluation looked back at must still exist (a reset or a load replaces the history)
        if self.look_back.is_some_and(|step| !self.run.evaluations.iter().any(|e| e.step == step)) {
            self.look_back = None;
        }
        let mut lesson_requests = Vec::new();
        let mut menu_requests = Vec::new();
        let Self {
            settings,
            run,
            draft,
            preset,
            lesions,
            ambiguity,
            setup,
            tabs,
            status,
            files,
            sent_views,
            look_back,
            sent_look_back,
            lesson,
            first_lesson_at_start,
            waker,
            ..
        } = self;
        let mut cx = PanelContext {
            run,
            settings,
            draft,
            preset,
            lesions,
            ambiguity,
            commands: &mut commands,
            files,
            hidden: &hidden,
            look_back,
            waker,
        };
        // every panel's logic, shown or not (background results arrive while a panel is hidden)
        setup.logic(&ctx, &mut cx);
        for (_, panel) in tabs.each() {
            panel.logic(&ctx, &mut cx);
        }
        status.logic(&ctx, &mut cx);

        egui::Panel::top("menu").show(ui, |ui| menu_requests = menu_bar_ui(ui, &mut cx));
        egui::Panel::bottom("status").show(ui, |ui| status.ui(ui, &mut cx));
        if let Some(player) = lesson {
            let at_start = (*first_lesson_at_start && player.lesson.title == lesson::title_of(lesson::BUILTIN[0].1))
                .then_some(&mut cx.settings.open_first_lesson);
            egui::Panel::right("lesson").resizable(true).default_size(320.0).show(ui, |ui| lesson_requests = player.ui(ui, at_start));
        }
        if cx.settings.show_setup && !cx.hides(lesson::Control::Setup) {
            egui::Panel::left("setup").resizable(true).default_size(330.0).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| setup.ui(ui, &mut cx));
            });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for (tab, _) in tabs.each() {
                    if shown_tabs.contains(&tab) {
                        ui.selectable_value(&mut cx.settings.tab, tab, tab.label()).on_hover_text(tab.tooltip());
                    }
                }
            });
            ui.separator();
            // every view is fed by the worker all the time; only the one shown is drawn
            for (tab, panel) in tabs.each() {
                if tab == cx.settings.tab {
                    panel.ui(ui, &mut cx);
                }
            }
        });
        // the worker redoes after each evaluation only the live analyses on screen
        let shown = cx.settings.tab;
        let views = tabs.each().into_iter().find(|(tab, _)| *tab == shown).map_or(LiveViews::NONE, |(_, panel)| panel.live_views());
        if *sent_views != Some(views) {
            *sent_views = Some(views);
            commands.push(Command::SetLiveViews(views));
        }
        if *sent_look_back != *look_back {
            *sent_look_back = *look_back;
            commands.push(Command::LookBack(*look_back));
        }
        self.files.ui(&ctx);
        commands.extend(self.files.take_commands());
        for request in menu_requests {
            match request {
                MenuRequest::SaveLessonForm => self.lesson_form = Some(self.save_form()),
                MenuRequest::Lesson(number) => match lesson::Lesson::builtin(number) {
                    Ok(lesson) => self.start_lesson(lesson, &mut commands),
                    Err(e) => self.files.set_notice(Level::Error, e.to_string()),
                },
            }
        }
        if let Some(form) = &mut self.lesson_form
            && let Some(answer) = form.ui(&ctx)
        {
            if answer == lesson_panel::FormAnswer::Save {
                let lesson = self.current_as_lesson();
                self.files.begin(export::FileJob::SaveLesson(Box::new(lesson)));
            }
            self.lesson_form = None;
        }
        for request in lesson_requests {
            match request {
                lesson_panel::LessonRequest::Act(action) => self.act(action, &mut commands),
                lesson_panel::LessonRequest::Close => {
                    self.lesson = None;
                    self.files.set_notice(Level::Info, "closed the lesson: every control shows again");
                }
            }
        }

        self.apply_draft(&mut commands);
        for command in commands {
            self.send(command);
        }
    }

    /// A draft that differs from the run is applied at once while the network is untrained;
    /// after that the Setup panel asks before restarting.
    fn apply_draft(&mut self, commands: &mut Vec<Command>) {
        // a reset already queued this frame (a lesson's) counts as sent: another after it would
        // undo what follows it (a lesson's Start)
        for command in commands.iter() {
            if let Command::Reset(config) = command {
                self.sent_config = Some((**config).clone());
            }
        }
        let untrained = self.run.step == 0 && matches!(self.run.state, RunState::Ready);
        let differs = self.run.config.as_ref() != Some(&self.draft);
        let already_sent = self.sent_config.as_ref() == Some(&self.draft);
        if untrained && differs && !already_sent && self.draft.validate().is_ok() {
            commands.push(Command::Reset(Box::new(self.draft.clone())));
            self.sent_config = Some(self.draft.clone());
        }
    }

    /// Open the lesson at `path`: its settings replace the draft and the network, its tab opens
    /// and its first step's action runs. A lesson that cannot be read changes nothing (the
    /// status bar says why).
    fn open_lesson(&mut self, path: &std::path::Path, commands: &mut Vec<Command>) {
        match lesson::Lesson::open(path) {
            Ok(lesson) => self.start_lesson(lesson, commands),
            Err(e) => self.files.set_notice(Level::Error, e.to_string()),
        }
    }

    /// Follow `lesson` from its first step.
    fn start_lesson(&mut self, lesson: lesson::Lesson, commands: &mut Vec<Command>) {
        self.draft = lesson.config.clone();
        self.preset = lesson.preset.clone().unwrap_or_default();
        commands.push(Command::Reset(Box::new(lesson.config.clone())));
        if let Some(run) = &lesson.checkpoint {
            commands.push(Command::LoadCheckpoint(run.clone()));
        }
        self.lesions.clear();
        commands.push(Command::SetLesions(Vec::new()));
        self.ambiguity = Ambiguity::none();
        commands.push(Command::SetAmbiguity(self.ambiguity));
        self.settings.tab = lesson.tab;
        self.files.set_notice(Level::Info, format!("opened the lesson \"{}\" ({} steps)", lesson.title, lesson.steps.len()));
        let mut player = lesson_panel::LessonPlayer::new(lesson);
        let first = player.take_pending();
        self.lesson = Some(player);
        if let Some(action) = first {
            self.act(action, commands);
        }
    }

    /// Carry out a lesson step's action.
    fn act(&mut self, action: lesson::Action, commands: &mut Vec<Command>) {
        use lesson::{Action, PanelRun, TrainAction};
        match action {
            Action::Tab(tab) => self.settings.tab = tab,
            Action::Train(TrainAction::Start) => commands.push(Command::Start),
            Action::Train(TrainAction::Pause) => commands.push(Command::Pause),
            Action::Train(TrainAction::Step) => commands.push(Command::StepOnce),
            Action::Lesion(pathways) => {
                self.lesions = pathways.clone();
                commands.push(Command::SetLesions(pathways));
            }
            Action::Ambiguity(a) => {
                self.ambiguity = a;
                commands.push(Command::SetAmbiguity(a));
            }
            Action::Sweep(kind) => {
                self.ambiguity = Ambiguity { kind, level: kind.clean_level() };
                commands.push(Command::SetAmbiguity(self.ambiguity));
                commands.push(Command::Sweep { kind, levels: ambiguity::sweep_levels(kind) });
            }
            Action::Settings(sets) => {
                let base = self.lesson.as_ref().map_or_else(|| self.draft.clone(), |p| p.lesson.config.clone());
                match Config::from_toml_with_overrides(&base.to_toml(), "the lesson's settings", &sets) {
                    Ok(config) => {
                        self.draft = config.clone();
                        self.preset.clear();
                        commands.push(Command::Reset(Box::new(config)));
                    }
                    Err(e) => self.files.set_notice(Level::Error, e.to_string()),
                }
            }
            Action::Compare(dir) => self.files.add_compare_runs(vec![dir]),
            Action::Load(dir) => commands.push(Command::LoadCheckpoint(dir)),
            Action::G(g) => self.tabs.subset.set_g(g),
            Action::Run(run) => {
                self.settings.tab = run.tab();
                match run {
                    PanelRun::Packing => self.tabs.packing.request_run(),
                    PanelRun::Dynamics(pair) => self.tabs.dynamics.request_compute(pair),
                    PanelRun::Switching => self.tabs.switching.request_run(),
                    PanelRun::Subset => self.tabs.subset.request_run(),
                }
            }
        }
    }

    /// The Save as lesson… form, filled from the open lesson if there is one.
    fn save_form(&self) -> lesson_panel::SaveLessonForm {
        match &self.lesson {
            Some(p) => lesson_panel::SaveLessonForm {
                title: p.lesson.title.clone(),
                hidden: p.lesson.hidden.clone(),
                tabs: Tab::ALL.into_iter().filter(|t| p.lesson.shows_tab(*t)).collect(),
            },
            None => lesson_panel::SaveLessonForm::default(),
        }
    }

    /// The current setup as a lesson: the draft settings, the tab shown, what the form hides,
    /// and the open lesson's steps (or one step that says what the setup is for).
    fn current_as_lesson(&self) -> lesson::Lesson {
        let form = self.lesson_form.as_ref().map_or_else(
            || self.save_form(),
            |f| lesson_panel::SaveLessonForm { title: f.title.clone(), hidden: f.hidden.clone(), tabs: f.tabs.clone() },
        );
        let all_tabs = form.tabs.len() == Tab::ALL.len();
        let tab = if form.tabs.contains(&self.settings.tab) { self.settings.tab } else { form.tabs[0] };
        let steps = self.lesson.as_ref().map_or_else(
            || {
                vec![lesson::Step {
                    text: "Press Train and watch the loss fall and each task's performance rise.".into(),
                    look_for: String::new(),
                    action: None,
                }]
            },
            |p| p.lesson.steps.clone(),
        );
        lesson::Lesson {
            title: form.title.trim().to_string(),
            summary: self.lesson.as_ref().map_or_else(String::new, |p| p.lesson.summary.clone()),
            config: self.draft.clone(),
            preset: None,
            checkpoint: self.lesson.as_ref().and_then(|p| p.lesson.checkpoint.clone()),
            tab,
            tabs: if all_tabs { Vec::new() } else { form.tabs },
            hidden: form.hidden,
            steps,
            path: None,
        }
    }

    fn send(&mut self, command: Command) {
        let sent = self.worker.as_ref().is_some_and(|w| w.send(command));
        if !sent {
            self.run.last_message =
                Some(Message { level: Level::Error, text: "the training thread is not running; restart the app".into() });
        }
    }
}

impl eframe::App for ModulabApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.logic_ctx(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        if let Some(log) = &mut self.frame_log {
            log.painted(self.changes_taken);
        }
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some(log) = &mut self.frame_log {
            log.finish(self.waker.changes(), self.waker.last_change());
        }
        // stop and join the worker and a packing sweep now rather than whenever the app is dropped
        self.worker = None;
        self.tabs.packing.stop();
        self.tabs.subset.stop();
        // a scripted run (`--quit-after`) reports the speed it trained at (the GUI benchmark reads it)
        if self.quit_after.is_some()
            && let Some((rate, steps)) = self.run.measured_steps_per_sec()
        {
            println!("modulab: trained {steps} steps in the app at {rate:.1} steps/s");
        }
    }
}

/// What the menu asked of the app.
enum MenuRequest {
    SaveLessonForm,
    /// Built-in lesson number (1-based).
    Lesson(usize),
}

/// The menu bar: File (checkpoints, lessons, quit).
fn menu_bar_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) -> Vec<MenuRequest> {
    let mut requests = Vec::new();
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            let has_network = cx.run.config.is_some() && cx.run.state != RunState::Failed;
            if ui
                .add_enabled(has_network, egui::Button::new("Save checkpoint…"))
                .on_hover_text(
                    "Save the network, optimiser state and history into a run directory, to continue later \
                     (also readable by `modulab eval --run DIR`)",
                )
                .clicked()
            {
                cx.files.begin(export::FileJob::SaveCheckpoint);
                ui.close();
            }
            if ui
                .button("Load checkpoint…")
                .on_hover_text(
                    "Replace the current run with a saved one (a run directory from `modulab train` or from \
                     Save checkpoint…); the current run is kept if the checkpoint is unreadable",
                )
                .clicked()
            {
                cx.files.begin(export::FileJob::LoadCheckpoint);
                ui.close();
            }
            if ui
                .add_enabled(has_network, egui::Button::new("Export network…"))
                .on_hover_text(
                    "Write the weights, the settings (as JSON) and every task's probe trials (inputs, rates, outputs) \
                     to a NumPy .npz or .safetensors file: np.load(\"file.npz\")[\"w_rec\"] in Python (docs/EXCHANGE.md)",
                )
                .clicked()
            {
                cx.files.begin(export::FileJob::ExportNetwork);
                ui.close();
            }
            ui.separator();
            if ui
                .button("Open lesson…")
                .on_hover_text("Open a lesson file (*.modulab.toml): its settings, tab and steps, with Back / Next in a side panel")
                .clicked()
            {
                cx.files.begin(export::FileJob::OpenLesson);
                ui.close();
            }
            if ui
                .button("Save as lesson…")
                .on_hover_text("Write the current settings, seed and tab as a lesson file, choosing which controls it hides")
                .clicked()
            {
                requests.push(MenuRequest::SaveLessonForm);
                ui.close();
            }
            ui.separator();
            if ui.button("Quit").on_hover_text("Close modulab (training stops; save a checkpoint first to keep it)").clicked() {
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            }
        })
        .response
        .on_hover_text("Checkpoints and lessons");
        ui.menu_button("Help", |ui| {
            ui.menu_button("Lessons", |ui| {
                for (index, (_, text)) in lesson::BUILTIN.iter().enumerate() {
                    let title = lesson::title_of(text);
                    if ui.button(title).on_hover_text(lesson::summary_of(text)).clicked() {
                        requests.push(MenuRequest::Lesson(index + 1));
                        ui.close();
                    }
                }
            })
            .response
            .on_hover_text("Guided tours, a few minutes each: each sets the app up and walks you through it step by step");
        })
        .response
        .on_hover_text("Lessons");
    });
    requests
}

/// Open the app window and run until it is closed.
pub fn run(options: AppOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("modulab")
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([800.0, 500.0]),
        ..Default::default()
    };
    eframe::run_native("modulab", native, Box::new(move |cc| Ok(Box::new(ModulabApp::new(options, cc.storage)))))
        .map_err(|e| anyhow::anyhow!("cannot open the app window: {e}"))
}
