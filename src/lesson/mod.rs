//! Lesson files (`*.modulab.toml`): a setup (settings and seed, an optional checkpoint, the tab
//! that opens, the controls shown) and a sequence of steps, each a short text with an optional
//! action. Read, checked and resolved here (every error a message that names the file and the
//! step); played by the app's lesson panel (`app/lesson_panel.rs`); the CLI reads them too
//! (`modulab lesson`).
//!
//! ```toml
//! format = 1
//! title = "Which pathway carries the task?"
//! preset = "quick"                  # optional; [config] overrides it (or the defaults)
//! checkpoint = "nets/quick-bias"    # optional, relative to this file
//! tab = "training"                  # the tab that opens
//! tabs = ["training", "ambiguity"]  # the tabs shown (all when absent)
//! hide = ["network", "tasks"]       # Setup sections hidden: setup (all of it), preset,
//!                                   # network, pathways, lesions, training, tasks
//! [config]
//! train.seed = 3
//!
//! [[step]]
//! text = "Lesion the bias pathway: r = φ(W r + W_in u + b + E c)"
//! look_for = "Which tasks drop to chance?"
//! action = { lesion = ["bias"] }
//! ```
//!
//! Actions: `tab = NAME`, `train = "start" | "pause" | "step"`, `lesion = [PATHWAYS]`,
//! `ambiguity = "KIND:LEVEL"`, `sweep = KIND` (the Ambiguity tab's sweep), `settings =
//! ["KEY=VALUE", …]` (a new network with these settings, as `--set`), `compare = DIR` (a saved
//! run added to the Ambiguity tab's comparison), `load = DIR` (a saved run), `g = NUMBER` (the
//! Subset tab's coupling), `run = "packing" | "switching" | "subset" | "dynamics [TASK TOWARD]"`
//! (that tab's own Run or Compute button, with the tab shown; the dynamics of TASK blended toward
//! TOWARD, or the tab's current choice).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analysis::{Ambiguity, AmbiguityKind};
use crate::config::{self, Config, one_line};
use crate::model::Pathway;
use crate::tasks::Task;

mod tab;
pub use tab::Tab;

/// The lesson format this version writes and the newest it reads.
pub const LESSON_FORMAT: u32 = 1;

/// The file name ending of a lesson.
pub const LESSON_SUFFIX: &str = ".modulab.toml";

/// The built-in lessons (Help → Lessons, `modulab lesson N`), in order: (file name, text).
pub const BUILTIN: [(&str, &str); 7] = [
    ("01-four-tasks", include_str!("../../assets/lessons/01-four-tasks.modulab.toml")),
    ("02-lesions", include_str!("../../assets/lessons/02-lesions.modulab.toml")),
    ("03-ambiguity", include_str!("../../assets/lessons/03-ambiguity.modulab.toml")),
    ("04-packing", include_str!("../../assets/lessons/04-packing.modulab.toml")),
    ("05-dynamics", include_str!("../../assets/lessons/05-dynamics.modulab.toml")),
    ("06-switching", include_str!("../../assets/lessons/06-switching.modulab.toml")),
    ("07-spreading", include_str!("../../assets/lessons/07-spreading.modulab.toml")),
];

/// Where the built-in lessons' relative paths point: the repository's `assets/lessons`, whose
/// `../networks` holds the trained networks they open (`scripts/make-lesson-networks`). A binary
/// moved away from the repository still opens them; a network it cannot find is reported and
/// the lesson goes on with a fresh network.
pub fn builtin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join("lessons")
}

/// A Setup section a lesson can hide (or the whole panel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Control {
    Setup,
    Preset,
    Network,
    Pathways,
    Lesions,
    Training,
    Tasks,
}

impl Control {
    pub const ALL: [Control; 7] =
        [Control::Setup, Control::Preset, Control::Network, Control::Pathways, Control::Lesions, Control::Training, Control::Tasks];

    /// Is this section hidden by `hidden` (itself, or the whole panel)?
    pub fn hidden_by(self, hidden: &[Control]) -> bool {
        hidden.contains(&self) || (self != Control::Setup && hidden.contains(&Control::Setup))
    }

    pub fn label(self) -> &'static str {
        match self {
            Control::Setup => "the whole Setup panel",
            Control::Preset => "the preset picker",
            Control::Network => "network settings",
            Control::Pathways => "context pathways",
            Control::Lesions => "lesions",
            Control::Training => "training settings",
            Control::Tasks => "the task list",
        }
    }
}

/// What training does on a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainAction {
    Start,
    Pause,
    Step,
}

/// A step's action as written in the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ActionFile {
    Tab(String),
    Train(TrainAction),
    Lesion(Vec<Pathway>),
    Ambiguity(String),
    Sweep(String),
    Settings(Vec<String>),
    Compare(PathBuf),
    Load(PathBuf),
    G(f64),
    Run(String),
}

/// A step's action, checked and resolved (paths made absolute).
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Tab(Tab),
    Train(TrainAction),
    Lesion(Vec<Pathway>),
    Ambiguity(Ambiguity),
    Sweep(AmbiguityKind),
    /// A new network with these `--set` overrides on the lesson's settings.
    Settings(Vec<String>),
    Compare(PathBuf),
    Load(PathBuf),
    G(f64),
    /// A panel's own Run (or Compute) button.
    Run(PanelRun),
}

/// A panel's own Run button, pressed by a lesson (the panel's other settings as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelRun {
    /// The Packing tab's sweep.
    Packing,
    /// The Dynamics tab's Compute: this task blended toward that one (else the tab's choice).
    Dynamics(Option<(Task, Task)>),
    /// The Switching tab's switch test.
    Switching,
    /// The Subset tab's run.
    Subset,
}

impl PanelRun {
    /// The tab whose button this is.
    pub fn tab(self) -> Tab {
        match self {
            PanelRun::Packing => Tab::Packing,
            PanelRun::Dynamics(_) => Tab::Dynamics,
            PanelRun::Switching => Tab::Switching,
            PanelRun::Subset => Tab::Subset,
        }
    }

    /// As written in a lesson file.
    fn to_file(self) -> String {
        match self {
            PanelRun::Packing => "packing".into(),
            PanelRun::Dynamics(None) => "dynamics".into(),
            PanelRun::Dynamics(Some((task, toward))) => format!("dynamics {task} {toward}"),
            PanelRun::Switching => "switching".into(),
            PanelRun::Subset => "subset".into(),
        }
    }

    /// Read `run = "..."`, checking the tasks against the lesson's network.
    fn parse(text: &str, config: &Config) -> Result<PanelRun, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let task = |name: &str| -> Result<Task, String> {
            let task = Task::from_name(name).map_err(|e| e.to_string())?;
            if config.train.tasks.contains(&task) {
                Ok(task)
            } else {
                Err(format!("it runs the dynamics of {task}, which the lesson's network is not trained on"))
            }
        };
        Ok(match words.as_slice() {
            ["packing"] => PanelRun::Packing,
            ["switching"] => PanelRun::Switching,
            ["subset"] => PanelRun::Subset,
            ["dynamics"] => PanelRun::Dynamics(None),
            ["dynamics", a, b] => {
                let (a, b) = (task(a)?, task(b)?);
                if a == b {
                    return Err(format!("its dynamics blend {a} toward itself: name two different tasks"));
                }
                PanelRun::Dynamics(Some((a, b)))
            }
            _ => {
                return Err(format!(
                    "unknown run '{text}'; valid: \"packing\", \"switching\", \"subset\", \"dynamics\" or \"dynamics TASK TOWARD\""
                ));
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    look_for: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<ActionFile>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonFile {
    format: u32,
    title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tab: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tabs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    hide: Vec<Control>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<toml::Table>,
    #[serde(default, rename = "step", skip_serializing_if = "Vec::is_empty")]
    steps: Vec<StepFile>,
}

/// One step of a lesson.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// What to read (may hold the equation that matters).
    pub text: String,
    /// What to look for once the action has happened.
    pub look_for: String,
    pub action: Option<Action>,
}

/// A lesson, checked and ready to play.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    pub title: String,
    pub summary: String,
    /// The settings the lesson starts with (preset and [config] applied, validated).
    pub config: Config,
    /// The preset named in the file, if any (shown in the Setup panel's picker).
    pub preset: Option<String>,
    /// A saved run to open at the start (absolute).
    pub checkpoint: Option<PathBuf>,
    pub tab: Tab,
    /// The tabs shown; empty = all.
    pub tabs: Vec<Tab>,
    pub hidden: Vec<Control>,
    pub steps: Vec<Step>,
    /// The file it came from (`None` for one built in memory).
    pub path: Option<PathBuf>,
}

/// Why a lesson cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    #[error("cannot read the lesson {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the lesson {path} is not valid: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "the lesson {path} was written for a newer modulab (lesson format {found}; this version reads format {LESSON_FORMAT} and \
         older): update modulab to open it"
    )]
    TooNew { path: String, found: u32 },
    #[error("cannot write the lesson {path}: {message}")]
    Write { path: String, message: String },
}

impl Lesson {
    /// Read and check the lesson at `path`; its relative paths are relative to its folder.
    pub fn open(path: &Path) -> Result<Lesson, LessonError> {
        let text = std::fs::read_to_string(path).map_err(|source| LessonError::Read { path: path.display().to_string(), source })?;
        let mut lesson = Self::parse(&text, path.parent().unwrap_or(Path::new(".")), &path.display().to_string())?;
        lesson.path = Some(path.to_path_buf());
        Ok(lesson)
    }

    /// Check the lesson `text`; relative paths resolve against `base`; `origin` names it in errors.
    pub fn parse(text: &str, base: &Path, origin: &str) -> Result<Lesson, LessonError> {
        let invalid = |message: String| LessonError::Invalid { path: origin.to_string(), message };
        // the format first, so a newer file is refused as newer, not as unreadable
        let raw: toml::Table = toml::from_str(text).map_err(|e| invalid(one_line(&e.to_string())))?;
        let format = match raw.get("format") {
            Some(toml::Value::Integer(n)) if *n >= 1 => *n as u32,
            Some(other) => return Err(invalid(format!("format must be a whole number ≥ 1, found {other}"))),
            None => return Err(invalid("it has no `format = 1` line (is it a lesson file?)".into())),
        };
        if format > LESSON_FORMAT {
            return Err(LessonError::TooNew { path: origin.to_string(), found: format });
        }
        let file: LessonFile = toml::Value::Table(raw).try_into().map_err(|e: toml::de::Error| invalid(one_line(&e.to_string())))?;
        if file.title.trim().is_empty() {
            return Err(invalid("its title is empty".into()));
        }
        let config = lesson_config(file.preset.as_deref(), file.config.as_ref()).map_err(invalid)?;
        let tab_named = |name: &str| Tab::from_name(name);
        let tabs = file.tabs.iter().map(|t| tab_named(t)).collect::<Result<Vec<_>, _>>().map_err(invalid)?;
        let tab = match &file.tab {
            Some(name) => tab_named(name).map_err(invalid)?,
            None => tabs.first().copied().unwrap_or_default(),
        };
        if !tabs.is_empty() && !tabs.contains(&tab) {
            return Err(invalid(format!("it opens on the {} tab but does not show it (add it to `tabs`)", tab.label())));
        }
        let steps = file
            .steps
            .into_iter()
            .enumerate()
            .map(|(index, step)| {
                let action = step.action.map(|a| resolve(a, base, &config, &tabs)).transpose();
                let action = action.map_err(|message| invalid(format!("step {}: {message}", index + 1)))?;
                Ok(Step { text: step.text, look_for: step.look_for, action })
            })
            .collect::<Result<Vec<_>, LessonError>>()?;
        if steps.is_empty() {
            return Err(invalid("it has no steps (add at least one [[step]] with a text)".into()));
        }
        Ok(Lesson {
            title: file.title,
            summary: file.summary,
            config,
            preset: file.preset,
            checkpoint: file.checkpoint.map(|p| joined(base, &p)),
            tab,
            tabs,
            hidden: file.hide,
            steps,
            path: None,
        })
    }

    /// Built-in lesson number `number` (1-based).
    pub fn builtin(number: usize) -> Result<Lesson, LessonError> {
        let Some((name, text)) = number.checked_sub(1).and_then(|i| BUILTIN.get(i)) else {
            return Err(LessonError::Invalid {
                path: format!("built-in lesson {number}"),
                message: format!("there are lessons 1 to {}", BUILTIN.len()),
            });
        };
        let dir = builtin_dir();
        let mut lesson = Self::parse(text, &dir, &format!("built-in lesson {name}"))?;
        lesson.path = Some(dir.join(format!("{name}{LESSON_SUFFIX}")));
        Ok(lesson)
    }

    /// Is this Setup section (or the whole panel) hidden?
    pub fn hides(&self, control: Control) -> bool {
        control.hidden_by(&self.hidden)
    }

    /// Is this tab shown?
    pub fn shows_tab(&self, tab: Tab) -> bool {
        self.tabs.is_empty() || self.tabs.contains(&tab)
    }

    /// The lesson as a file whose relative paths are relative to `dir`: the whole configuration
    /// (not a preset and overrides, so it opens the same whatever the presets become).
    #[allow(clippy::expect_used, reason = "cannot fail: a Config always serialises; a lesson always serialises")]
    pub fn to_toml(&self, dir: &Path) -> String {
        let relative = |p: &Path| pathdiff(p, dir);
        let file = LessonFile {
            format: LESSON_FORMAT,
            title: self.title.clone(),
            summary: self.summary.clone(),
            preset: None,
            checkpoint: self.checkpoint.as_deref().map(relative),
            tab: Some(self.tab.label().to_lowercase()),
            tabs: self.tabs.iter().map(|t| t.label().to_lowercase()).collect(),
            hide: self.hidden.clone(),
            config: Some(toml::Table::try_from(&self.config).expect("a Config always serialises")),
            steps: self
                .steps
                .iter()
                .map(|s| StepFile {
                    text: s.text.clone(),
                    look_for: s.look_for.clone(),
                    action: s.action.as_ref().map(|a| unresolve(a, dir)),
                })
                .collect(),
        };
        toml::to_string_pretty(&file).expect("a lesson always serialises")
    }

    /// Write the lesson to `path` (atomically; relative paths against its folder).
    pub fn save(&self, path: &Path) -> Result<(), LessonError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        crate::io::write_atomic(path, self.to_toml(dir).as_bytes())
            .map_err(|e| LessonError::Write { path: path.display().to_string(), message: e.to_string() })
    }
}

/// A lesson text's title (for menus, without checking the rest); empty when it has none.
pub fn title_of(text: &str) -> String {
    top_string(text, "title")
}

/// A lesson text's summary (for tooltips).
pub fn summary_of(text: &str) -> String {
    top_string(text, "summary")
}

fn top_string(text: &str, key: &str) -> String {
    toml::from_str::<toml::Table>(text).ok().and_then(|t| t.get(key).and_then(|v| v.as_str().map(String::from))).unwrap_or_default()
}

/// The lesson's settings: the preset (or the defaults) with the `[config]` table laid over it.
fn lesson_config(preset: Option<&str>, table: Option<&toml::Table>) -> Result<Config, String> {
    let mut doc: toml::Table = match preset {
        Some(name) => toml::from_str(config::preset_text(name).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?,
        None => toml::Table::new(),
    };
    if let Some(table) = table {
        merge(&mut doc, table);
    }
    let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
    Config::from_toml_with_overrides(&text, "its [config]", &[]).map_err(|e| e.to_string())
}

/// Lay `over` onto `base`, table by table.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn resolve(action: ActionFile, base: &Path, config: &Config, tabs: &[Tab]) -> Result<Action, String> {
    Ok(match action {
        ActionFile::Tab(name) => {
            let tab = Tab::from_name(&name)?;
            if !tabs.is_empty() && !tabs.contains(&tab) {
                return Err(format!("it switches to the {} tab, which the lesson hides", tab.label()));
            }
            Action::Tab(tab)
        }
        ActionFile::Train(t) => Action::Train(t),
        ActionFile::Lesion(pathways) => {
            if let Some(p) = pathways.iter().find(|p| !config.model.has(**p)) {
                return Err(format!("it lesions the {} pathway, which the lesson's network does not have", p.name()));
            }
            Action::Lesion(pathways)
        }
        ActionFile::Ambiguity(text) => Action::Ambiguity(text.parse::<Ambiguity>().map_err(|e| e.to_string())?),
        ActionFile::Sweep(kind) => Action::Sweep(
            AmbiguityKind::ALL
                .into_iter()
                .find(|k| k.name() == kind)
                .ok_or_else(|| format!("unknown sweep kind '{kind}'; valid kinds: mixture, noise, uniform, amplitude"))?,
        ),
        ActionFile::Settings(sets) => {
            let text = toml::to_string(config).map_err(|e| e.to_string())?;
            Config::from_toml_with_overrides(&text, "its settings", &sets).map_err(|e| e.to_string())?;
            Action::Settings(sets)
        }
        ActionFile::Compare(dir) => Action::Compare(joined(base, &dir)),
        ActionFile::Load(dir) => Action::Load(joined(base, &dir)),
        ActionFile::G(g) if g.is_finite() && (0.1..=3.0).contains(&g) => Action::G(g),
        ActionFile::G(g) => return Err(format!("the Subset tab's coupling g must be within 0.1 and 3, got {g}")),
        ActionFile::Run(text) => {
            let run = PanelRun::parse(&text, config)?;
            if !tabs.is_empty() && !tabs.contains(&run.tab()) {
                return Err(format!("it runs the {} tab, which the lesson hides", run.tab().label()));
            }
            Action::Run(run)
        }
    })
}

fn unresolve(action: &Action, dir: &Path) -> ActionFile {
    match action {
        Action::Tab(tab) => ActionFile::Tab(tab.label().to_lowercase()),
        Action::Train(t) => ActionFile::Train(*t),
        Action::Lesion(p) => ActionFile::Lesion(p.clone()),
        Action::Ambiguity(a) => ActionFile::Ambiguity(a.to_string()),
        Action::Sweep(kind) => ActionFile::Sweep(kind.name().to_string()),
        Action::Settings(sets) => ActionFile::Settings(sets.clone()),
        Action::Compare(p) => ActionFile::Compare(pathdiff(p, dir)),
        Action::Load(p) => ActionFile::Load(pathdiff(p, dir)),
        Action::G(g) => ActionFile::G(*g),
        Action::Run(run) => ActionFile::Run(run.to_file()),
    }
}

/// `path` against `base`, with `a/../` folded away (only for display: `assets/networks/bias`,
/// not `assets/lessons/../networks/bias`; a symbolic link is not followed).
fn joined(base: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in base.join(path).components() {
        match part {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `dir` when it lies inside it, else as it is.
fn pathdiff(path: &Path, dir: &Path) -> PathBuf {
    path.strip_prefix(dir).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
format = 1
title = "Which pathway carries the task?"
preset = "quick"
checkpoint = "nets/quick-bias"
tab = "training"
tabs = ["training", "ambiguity", "dynamics"]
hide = ["network", "tasks"]

[config]
train.seed = 3
model.n_units = 32

[[step]]
text = "Train: r = φ(W r + W_in u + b + E c)"
action = { train = "start" }

[[step]]
text = "Lesion the bias pathway"
look_for = "Which tasks drop?"
action = { lesion = ["bias"] }

[[step]]
text = "Blur the cue"
action = { ambiguity = "mixture:0.5" }

[[step]]
text = "Sweep"
action = { sweep = "noise" }

[[step]]
text = "Compare"
action = { compare = "nets/quick-synaptic" }

[[step]]
text = "Another network"
action = { settings = ["model.n_units=48"] }

[[step]]
text = "Fixed points"
action = { run = "dynamics fdgo fdanti" }
"#;

    #[test]
    fn a_lesson_reads_resolves_and_round_trips() {
        let base = Path::new("/lessons");
        let lesson = Lesson::parse(EXAMPLE, base, "example").unwrap();
        assert_eq!(lesson.title, "Which pathway carries the task?");
        assert_eq!((lesson.config.train.seed, lesson.config.model.n_units), (3, 32));
        assert_eq!(lesson.config.train.tasks.len(), 4, "the quick preset under the overrides");
        assert_eq!(lesson.checkpoint.as_deref(), Some(Path::new("/lessons/nets/quick-bias")));
        assert_eq!((lesson.tab, lesson.tabs.clone()), (Tab::Training, vec![Tab::Training, Tab::Ambiguity, Tab::Dynamics]));
        assert!(lesson.hides(Control::Network) && !lesson.hides(Control::Pathways) && !lesson.hides(Control::Setup));
        assert!(lesson.shows_tab(Tab::Ambiguity) && !lesson.shows_tab(Tab::Packing));
        let actions: Vec<Option<Action>> = lesson.steps.iter().map(|s| s.action.clone()).collect();
        assert_eq!(
            actions,
            vec![
                Some(Action::Train(TrainAction::Start)),
                Some(Action::Lesion(vec![Pathway::Bias])),
                Some(Action::Ambiguity(Ambiguity { kind: AmbiguityKind::Mixture, level: 0.5 })),
                Some(Action::Sweep(AmbiguityKind::Noise)),
                Some(Action::Compare(PathBuf::from("/lessons/nets/quick-synaptic"))),
                Some(Action::Settings(vec!["model.n_units=48".into()])),
                Some(Action::Run(PanelRun::Dynamics(Some((Task::FdGo, Task::FdAnti))))),
            ]
        );
        assert_eq!(lesson.steps[1].look_for, "Which tasks drop?");
        // written out (the whole configuration, paths relative to the folder) and read back: the same lesson
        let written = lesson.to_toml(base);
        assert!(written.contains("checkpoint = \"nets/quick-bias\"") && written.contains("[config"), "{written}");
        let again = Lesson::parse(&written, base, "written").unwrap();
        assert_eq!(Lesson { preset: Some("quick".into()), ..again }, lesson);
    }

    #[test]
    fn a_newer_or_broken_lesson_is_refused_with_a_clear_message() {
        let base = Path::new(".");
        let refuse = |text: &str| Lesson::parse(text, base, "bad.modulab.toml").unwrap_err().to_string();
        let newer = refuse("format = 2\ntitle = \"from the future\"\n[[step]]\ntext = \"x\"\n");
        assert!(newer.contains("newer modulab") && newer.contains("format 2"), "{newer}");
        let cases = [
            ("title = \"t\"\n[[step]]\ntext = \"x\"\n", "format = 1"),
            ("format = 1\ntitle = \"t\"\n", "no steps"),
            ("format = 1\ntitle = \"t\"\nbogus = 1\n[[step]]\ntext = \"x\"\n", "bogus"),
            ("format = 1\ntitle = \"t\"\ntab = \"nowhere\"\n[[step]]\ntext = \"x\"\n", "unknown tab 'nowhere'"),
            ("format = 1\ntitle = \"t\"\n[config]\nmodel.n_unitz = 3\n[[step]]\ntext = \"x\"\n", "n_unitz"),
            ("format = 1\ntitle = \"t\"\n[[step]]\ntext = \"x\"\naction = { fly = 1 }\n", "fly"),
            ("format = 1\ntitle = \"t\"\n[[step]]\ntext = \"x\"\n[[step]]\ntext = \"y\"\naction = { lesion = [\"gain\"] }\n", "step 2"),
            ("format = 1\ntitle = \"t\"\ntabs = [\"training\"]\n[[step]]\ntext = \"x\"\naction = { tab = \"pca\" }\n", "hides"),
            ("format = 1\ntitle = \"t\"\n[[step]]\ntext = \"x\"\naction = { ambiguity = \"blur:2\" }\n", "unknown ambiguity kind"),
            ("format = 1\ntitle = \"t\"\n[[step]]\ntext = \"x\"\naction = { settings = [\"model.n_units=0\"] }\n", "n_units"),
            ("format = 1\ntitle = \"t\"\n[[step]]\ntext = \"x\"\naction = { run = \"everything\" }\n", "unknown run 'everything'"),
            (
                "format = 1\ntitle = \"t\"\npreset = \"quick\"\n[[step]]\ntext = \"x\"\naction = { run = \"dynamics fdgo dm1\" }\n",
                "not trained on",
            ),
            ("format = 1\ntitle = \"t\"\n[[step]]\ntext = \"x\"\naction = { run = \"dynamics fdgo fdgo\" }\n", "toward itself"),
            (
                "format = 1\ntitle = \"t\"\ntabs = [\"training\"]\n[[step]]\ntext = \"x\"\naction = { run = \"packing\" }\n",
                "which the lesson hides",
            ),
            ("not toml at all [", "not valid"),
        ];
        for (text, expected) in cases {
            let message = refuse(text);
            assert!(message.contains(expected) && message.contains("bad.modulab.toml"), "{expected}: {message}");
        }
        let missing = Lesson::open(Path::new("/nonexistent/x.modulab.toml")).unwrap_err().to_string();
        assert!(missing.contains("cannot read the lesson"), "{missing}");
    }
}
