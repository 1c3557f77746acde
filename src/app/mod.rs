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
/// The lesson format lives below the app (the CLI reads it too); `app::lesson` is kept as its path.
pub use crate::lesson;
pub use crate::runner::compare::ComparedRun;
pub use packing::{PackingForm, PackingPanel, SweepEnd};
pub use subset::SubsetPanel;
pub use tabs::Tab;
mod ambiguity;
mod dynamics;
mod frame_log;
mod guides;
mod lesson_actions;
mod lesson_panel;
mod loss_curve;
mod menu;
mod packing;
mod panel;
mod pca;
mod plot;
mod run_data;
mod settings;
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

use crate::analysis::Ambiguity;
use crate::config::Config;
use crate::model::Pathway;
use crate::runner::{Command, Event, JobHost, LiveViews, RunState, UiWaker, Worker};
pub use loss_curve::LossCurve;
use menu::{MenuRequest, menu_bar_ui};
pub use panel::{Panel, PanelContext, ProbeShown, heading_ui};
pub use run_data::{Level, Message, RunData};
pub use settings::UiSettings;

/// At most this much UI-thread time per frame goes into draining worker events.
const DRAIN_BUDGET: Duration = Duration::from_millis(10);
/// The soonest the worker's wake-up repaints after it sent something (a burst of events is
/// drawn in one frame).
const WAKE_AFTER: Duration = Duration::from_millis(10);

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
    /// Every background job the panels run (the worker's between-steps jobs included).
    jobs: JobHost,
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
            jobs: JobHost::new(waker.clone()),
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

    /// The output of the latest background job with an output of type `O` (the current run's
    /// sweep, switch test or dynamics analysis; a packing sweep …), as far as it got.
    pub fn job_output<O: Send + Sync + 'static>(&self) -> Option<Arc<O>> {
        self.jobs.latest()
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
            jobs,
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
            jobs,
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

        for failure in self.jobs.take_failures() {
            self.files.set_notice(Level::Error, failure);
        }
        self.apply_draft(&mut commands);
        // jobs on the network follow this frame's other commands (a lesson's reset, its lesions)
        commands.extend(self.jobs.take_network_jobs().into_iter().map(Command::Job));
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

    fn send(&mut self, command: Command) {
        let refused = match &self.worker {
            Some(worker) => worker.try_send(command).err(),
            None => Some(command),
        };
        if let Some(refused) = refused {
            // a job for the network ends on the board instead of waiting there for ever
            if let Command::Job(job) = refused {
                job.refuse("the training thread is not running; restart the app");
            }
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
        self.jobs.stop();
        self.worker = None;
        // a scripted run (`--quit-after`) reports the speed it trained at (the GUI benchmark reads it)
        if self.quit_after.is_some()
            && let Some((rate, steps)) = self.run.measured_steps_per_sec()
        {
            println!("modulab: trained {steps} steps in the app at {rate:.1} steps/s");
        }
    }
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
