//! Exports and file choices: a plot's data as CSV, its picture as PNG (a screenshot cropped to
//! the plot) or SVG (drawn from the data), and the paths for saving and loading checkpoints.
//!
//! A panel describes a plot's data as a [`PlotExport`] and calls [`export_menu_ui`] next to it;
//! the data is only gathered when the user picks a format, so the menu costs nothing per frame.
//! [`Files`] then asks for a path: an rfd dialog on a helper thread (it blocks while open, so
//! never on the UI thread), or, where no dialog can open (no desktop portal or zenity, as on a
//! headless machine), a path field in a small window. Writing happens on a helper thread
//! through [`write_atomic`] (temporary file + rename), so a slow disk never stalls a frame and
//! a failed write leaves no half file; the outcome is a [`Message`] in the status bar.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use eframe::egui;

use super::{Level, Message};
use crate::figure::LineChart;
pub use crate::figure::{Curve, PlotData};
use crate::io::write_atomic;
use crate::runner::{Command, UiWaker};

/// A dialog that reports "nothing chosen" faster than this never opened (the portal and the
/// zenity fallback both failed): no person cancels a dialog this quickly.
const DIALOG_FAILED_WITHIN: Duration = Duration::from_millis(400);
/// A file format a plot can be exported to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Svg,
    Png,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Svg => "svg",
            ExportFormat::Png => "png",
        }
    }
}

/// Everything needed to export one plot.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotExport {
    /// File name stem offered by default ("loss" → `loss.csv`).
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Draw the y axis on a log scale (SVG only; the CSV keeps raw values).
    pub log_y: bool,
    /// Draw the unit circle at one scale on both axes (SVG only; eigenvalues).
    pub unit_circle: bool,
    /// A line under the SVG's title (SVG only), e.g. why all tasks share one spectrum.
    pub note: String,
    pub data: PlotData,
}

impl PlotExport {
    /// A plot with its names and data, on linear axes, without a note (set those fields with
    /// `PlotExport { log_y: true, ..PlotExport::new(…) }`).
    pub fn new(
        name: impl Into<String>,
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        data: PlotData,
    ) -> Self {
        PlotExport {
            name: name.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y: false,
            unit_circle: false,
            note: String::new(),
            data,
        }
    }

    /// Fraction correct per task as grouped bars (one series per condition): the Training
    /// and Ambiguity panels' bar charts.
    pub fn task_bars(name: &str, title: String, tasks: Vec<String>, series: Vec<(String, Vec<f64>)>) -> PlotExport {
        PlotExport::new(name, title, "task", "fraction correct", PlotData::Bars { categories: tasks, series })
    }

    /// The data as CSV (see [`PlotData::to_csv`]: the one CSV writer of plot data).
    pub fn to_csv(&self) -> String {
        self.data.to_csv(&self.x_label, &self.y_label)
    }

    /// The plot as a [`LineChart`] of the shared figure engine, so an exported SVG looks like the
    /// command line's figure of the same data. Heat maps have none.
    pub fn to_chart(&self) -> Option<LineChart> {
        let chart = self.data.to_chart()?;
        Some(LineChart {
            title: self.title.clone(),
            x_label: self.x_label.clone(),
            y_label: self.y_label.clone(),
            log_y: self.log_y,
            unit_circle: self.unit_circle,
            note: self.note.clone(),
            ..chart
        })
    }

    /// The plot drawn as SVG from its data by the shared figure engine. Heat maps are refused
    /// (export them as PNG).
    pub fn to_svg(&self) -> Result<String, String> {
        self.to_chart()
            .map(|chart| chart.to_svg())
            .ok_or_else(|| "a heat map cannot be drawn as SVG; export it as PNG (the picture) or CSV (the numbers)".into())
    }
}

/// Crop a screenshot to `rect` (in points) and encode it as PNG.
pub fn png_of_region(image: &egui::ColorImage, rect: egui::Rect, pixels_per_point: f32) -> Result<Vec<u8>, String> {
    // clamped to the image by hand: `ColorImage::region` panics on a rect past the edge (a plot
    // scrolled partly out of the window) or an empty one (a plot not drawn yet)
    let [image_width, image_height] = image.size;
    let to_pixel = |points: f32, limit: usize| ((points * pixels_per_point).round().max(0.0) as usize).min(limit);
    if !(rect.is_finite() && rect.is_positive()) {
        return Err("the plot is not on screen".into());
    }
    let (x0, x1) = (to_pixel(rect.min.x, image_width), to_pixel(rect.max.x, image_width));
    let (y0, y1) = (to_pixel(rect.min.y, image_height), to_pixel(rect.max.y, image_height));
    if x1 <= x0 || y1 <= y0 {
        return Err("the plot is not on screen".into());
    }
    let (width, height) = (x1 - x0, y1 - y0);
    let region = image.region_by_pixels([x0, y0], [width, height]);
    let rgba: Vec<u8> = region.pixels.iter().flat_map(|c| c.to_array()).collect();
    let mut bytes = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut bytes),
        &rgba,
        width as u32,
        height as u32,
        image::ExtendedColorType::Rgba8,
    )
    .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    Ok(bytes)
}

/// What a chosen path is for.
#[derive(Clone, Debug)]
pub enum FileJob {
    Export {
        format: ExportFormat,
        plot: Box<PlotExport>,
        rect: egui::Rect,
    },
    SaveCheckpoint,
    LoadCheckpoint,
    /// The network and its probe trials' activity as .npz or .safetensors, for Python.
    ExportNetwork,
    /// A saved run to compare with the current one (Ambiguity panel); see [`Files::take_compare_runs`].
    CompareRun,
    /// A lesson file to open; see [`Files::take_lessons`].
    OpenLesson,
    /// Where to write this lesson (the current setup).
    SaveLesson(Box<super::lesson::Lesson>),
}

impl FileJob {
    fn title(&self) -> String {
        match self {
            FileJob::Export { format, plot, .. } => format!("Export {} as {}", plot.title, format.extension().to_uppercase()),
            FileJob::SaveCheckpoint => "Save checkpoint".into(),
            FileJob::LoadCheckpoint => "Load checkpoint".into(),
            FileJob::ExportNetwork => "Export network (.npz or .safetensors)".into(),
            FileJob::CompareRun => "Add run for comparison".into(),
            FileJob::OpenLesson => "Open lesson".into(),
            FileJob::SaveLesson(_) => "Save as lesson".into(),
        }
    }

    /// The confirm button's label in the path window.
    fn action(&self) -> &'static str {
        match self {
            FileJob::Export { .. } => "Write file",
            FileJob::SaveCheckpoint => "Save",
            FileJob::LoadCheckpoint => "Load",
            FileJob::ExportNetwork => "Export network",
            FileJob::CompareRun => "Add",
            FileJob::OpenLesson => "Open",
            FileJob::SaveLesson(_) => "Save",
        }
    }

    fn default_path(&self) -> String {
        match self {
            FileJob::Export { format, plot, .. } => format!("{}.{}", plot.name, format.extension()),
            FileJob::SaveCheckpoint => "runs/modulab-app".into(),
            FileJob::ExportNetwork => "modulab-network.npz".into(),
            FileJob::LoadCheckpoint | FileJob::CompareRun => "runs/".into(),
            FileJob::OpenLesson => "lessons/".into(),
            FileJob::SaveLesson(_) => format!("my-lesson{}", super::lesson::LESSON_SUFFIX),
        }
    }
}

/// The path field shown when no dialog can open.
struct PathField {
    job: FileJob,
    text: String,
    /// Why the field is showing, or what was wrong with the last path.
    note: Option<String>,
}

/// File choices and background writes of the app. Lives in the app, borrowed by panels through
/// [`super::PanelContext`].
pub struct Files {
    /// Try rfd dialogs (false in tests, and after a dialog failed to open).
    dialogs: bool,
    /// A dialog open on its helper thread: its job, its answer, when it opened.
    dialog: Option<(FileJob, Receiver<Option<PathBuf>>, Instant)>,
    field: Option<PathField>,
    /// Background writes (and screenshots) report here.
    results_tx: Sender<Message>,
    results: Receiver<Message>,
    /// The latest outcome of a file operation, for the status bar.
    notice: Option<Message>,
    /// Checkpoint commands for the worker, taken by the app after the frame.
    commands: Vec<Command>,
    /// Run directories chosen for comparison, taken by the Ambiguity panel.
    compare_runs: Vec<PathBuf>,
    /// Lesson files chosen to open, taken by the app.
    lessons: Vec<PathBuf>,
    /// What the dialog and writer threads wake the UI with when they are done.
    waker: UiWaker,
}

impl Files {
    pub fn new(dialogs: bool, waker: UiWaker) -> Self {
        // one message per file written (unbounded: as many as the user asked for, drained every frame)
        let (results_tx, results) = mpsc::channel();
        Files {
            dialogs,
            dialog: None,
            field: None,
            results_tx,
            results,
            notice: None,
            commands: Vec::new(),
            compare_runs: Vec::new(),
            lessons: Vec::new(),
            waker,
        }
    }

    /// The latest outcome of a file operation (saved, exported, or why not).
    pub fn notice(&self) -> Option<&Message> {
        self.notice.as_ref()
    }

    pub fn set_notice(&mut self, level: Level, text: impl Into<String>) {
        self.notice = Some(Message { level, text: text.into() });
    }

    /// Whether a file choice is under way (a dialog or the path field is open).
    pub fn busy(&self) -> bool {
        self.dialog.is_some() || self.field.is_some()
    }

    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    /// Queue run directories as if chosen through [`FileJob::CompareRun`] (`modulab gui --compare`).
    pub fn add_compare_runs(&mut self, dirs: Vec<PathBuf>) {
        self.compare_runs.extend(dirs);
    }

    /// The run directories chosen through [`FileJob::CompareRun`] since the last call.
    pub fn take_compare_runs(&mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.compare_runs)
    }

    /// The lesson files chosen through [`FileJob::OpenLesson`] since the last call.
    pub fn take_lessons(&mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.lessons)
    }

    /// Ask for a path for `job`: a dialog when one can open, else the path field.
    pub fn begin(&mut self, job: FileJob) {
        if self.busy() {
            self.set_notice(Level::Warning, "finish the open file choice first");
            return;
        }
        if !self.dialogs {
            let text = job.default_path();
            self.field = Some(PathField { job, text, note: None });
            return;
        }
        // the dialog's one answer
        let (tx, rx) = mpsc::channel();
        let dialog = rfd::FileDialog::new().set_title(job.title());
        let dialog = match &job {
            FileJob::Export { format, plot, .. } => {
                dialog.set_file_name(format!("{}.{}", plot.name, format.extension())).add_filter(format.extension(), &[format.extension()])
            }
            _ => dialog,
        };
        let dialog = match &job {
            FileJob::OpenLesson | FileJob::SaveLesson(_) => {
                dialog.add_filter("modulab lesson", &["toml"]).set_file_name(job.default_path().trim_end_matches('/'))
            }
            FileJob::ExportNetwork => {
                dialog.add_filter("NumPy archive", &["npz"]).add_filter("safetensors", &["safetensors"]).set_file_name(job.default_path())
            }
            _ => dialog,
        };
        #[derive(PartialEq)]
        enum Pick {
            Folder,
            File,
            Save,
        }
        let pick = match job {
            FileJob::Export { .. } | FileJob::SaveLesson(_) | FileJob::ExportNetwork => Pick::Save,
            FileJob::OpenLesson => Pick::File,
            _ => Pick::Folder,
        };
        let waker = self.waker.clone();
        let spawned = std::thread::Builder::new().name("modulab-file-dialog".into()).spawn(move || {
            let chosen = match pick {
                Pick::Folder => dialog.pick_folder(),
                Pick::File => dialog.pick_file(),
                Pick::Save => dialog.save_file(),
            };
            let _ = tx.send(chosen);
            waker.changed();
        });
        match spawned {
            Ok(_) => self.dialog = Some((job, rx, Instant::now())),
            Err(_) => {
                self.dialogs = false;
                let text = job.default_path();
                self.field = Some(PathField { job, text, note: None });
            }
        }
    }

    /// Once per frame: collect dialog answers and finished writes, draw the path window.
    #[allow(clippy::expect_used, reason = "cannot fail: checked above")]
    pub fn ui(&mut self, ctx: &egui::Context) {
        while let Ok(message) = self.results.try_recv() {
            self.notice = Some(message);
        }
        if let Some((_, rx, opened)) = &self.dialog {
            match rx.try_recv() {
                Ok(answer) => {
                    let quick = opened.elapsed() < DIALOG_FAILED_WITHIN;
                    let (job, _, _) = self.dialog.take().expect("checked above");
                    match answer {
                        Some(path) => self.finish(job, path, ctx),
                        None if quick => {
                            // the dialog never showed: use the path field from now on
                            self.dialogs = false;
                            let text = job.default_path();
                            let note = Some("No file dialog could be opened here: type a path.".to_string());
                            self.field = Some(PathField { job, text, note });
                        }
                        None => {} // cancelled
                    }
                }
                Err(mpsc::TryRecvError::Empty) => ctx.request_repaint_after(Duration::from_millis(100)),
                Err(mpsc::TryRecvError::Disconnected) => self.dialog = None,
            }
        }
        self.path_window_ui(ctx);
    }

    fn path_window_ui(&mut self, ctx: &egui::Context) {
        let Some(field) = &mut self.field else { return };
        let mut confirmed = false;
        let mut cancelled = false;
        egui::Window::new(field.job.title())
            .id(egui::Id::unique("modulab-path-window"))
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                if let Some(note) = &field.note {
                    ui.label(note);
                }
                ui.horizontal(|ui| {
                    let label = ui.label("File path");
                    let hint = match field.job {
                        FileJob::Export { .. } => "Where to write the file (relative paths start in the folder modulab was started from)",
                        FileJob::ExportNetwork => "A file ending in .npz (NumPy) or .safetensors; any other ending is replaced by .npz",
                        FileJob::CompareRun => "A run directory written by `modulab train` or Save checkpoint… (it holds checkpoint/)",
                        FileJob::SaveCheckpoint | FileJob::LoadCheckpoint => {
                            "A run directory (it holds checkpoint/, config.toml and metrics.csv), or a checkpoint directory to load"
                        }
                        FileJob::OpenLesson | FileJob::SaveLesson(_) => "A lesson file (*.modulab.toml)",
                    };
                    let edit =
                        ui.add(egui::TextEdit::singleline(&mut field.text).desired_width(360.0)).labelled_by(label.id).on_hover_text(hint);
                    if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        confirmed = true;
                    }
                });
                ui.horizontal(|ui| {
                    let action = field.job.action();
                    if ui.button(action).on_hover_text(format!("{action} with this path")).clicked() {
                        confirmed = true;
                    }
                    if ui.button("Cancel").on_hover_text("Close without doing anything").clicked() {
                        cancelled = true;
                    }
                });
            });
        if cancelled {
            self.field = None;
        } else if confirmed {
            let text = field.text.trim().to_string();
            if text.is_empty() {
                field.note = Some("Type a path first.".into());
            } else if let Some(field) = self.field.take() {
                self.finish(field.job, PathBuf::from(text), ctx);
            }
        }
    }

    /// Do the job with the chosen path.
    fn finish(&mut self, job: FileJob, path: PathBuf, ctx: &egui::Context) {
        match job {
            FileJob::SaveCheckpoint => {
                self.set_notice(Level::Info, format!("saving the checkpoint to {}…", path.display()));
                self.commands.push(Command::SaveCheckpoint(path));
            }
            FileJob::LoadCheckpoint => {
                self.set_notice(Level::Info, format!("loading {}…", path.display()));
                self.commands.push(Command::LoadCheckpoint(path));
            }
            FileJob::ExportNetwork => {
                let path = if crate::train::exchange::Format::of(&path).is_ok() { path } else { with_extension(path, "npz") };
                self.set_notice(Level::Info, format!("exporting the network to {}…", path.display()));
                self.commands.push(Command::ExportNetwork(path));
            }
            FileJob::CompareRun => {
                self.compare_runs.push(path);
                ctx.request_repaint();
            }
            FileJob::OpenLesson => {
                self.lessons.push(path);
                ctx.request_repaint();
            }
            FileJob::SaveLesson(lesson) => {
                let path = if path.to_string_lossy().ends_with(super::lesson::LESSON_SUFFIX) {
                    path
                } else {
                    PathBuf::from(format!("{}{}", path.display(), super::lesson::LESSON_SUFFIX))
                };
                // a small text file, written atomically on this thread
                match lesson.save(&path) {
                    Ok(()) => self.set_notice(Level::Info, format!("saved the lesson {}", path.display())),
                    Err(e) => self.set_notice(Level::Error, e.to_string()),
                }
            }
            FileJob::Export { format, plot, rect } => {
                let path = with_extension(path, format.extension());
                let tx = self.results_tx.clone();
                let waker = self.waker.clone();
                match format {
                    ExportFormat::Csv | ExportFormat::Svg => {
                        let text = if format == ExportFormat::Csv { Ok(plot.to_csv()) } else { plot.to_svg() };
                        match text {
                            Ok(text) => write_in_background(path, text.into_bytes(), tx, waker),
                            Err(e) => self.set_notice(Level::Error, format!("SVG export failed: {e}")),
                        }
                    }
                    ExportFormat::Png => {
                        // the next frame is painted without the menu or path window (both are
                        // closed now), then cropped to where the plot was
                        let pixels_per_point = ctx.pixels_per_point();
                        ctx.request_screenshot(move |image| match png_of_region(&image, rect, pixels_per_point) {
                            Ok(bytes) => write_in_background(path, bytes, tx, waker),
                            Err(e) => {
                                let _ = tx.send(Message { level: Level::Error, text: format!("PNG export failed: {e}") });
                                waker.changed();
                            }
                        });
                        ctx.request_repaint();
                    }
                }
            }
        }
    }
}

/// `loss` → `loss.csv`; a path that already ends in the extension is kept.
fn with_extension(path: PathBuf, extension: &str) -> PathBuf {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case(extension)) { path } else { path.with_extension(extension) }
}

/// Write on a helper thread and report the outcome (an unwritable path is an error message;
/// the data stays in the app, so the user can try another path).
fn write_in_background(path: PathBuf, bytes: Vec<u8>, tx: Sender<Message>, waker: UiWaker) {
    let report = move |message: Message| {
        let _ = tx.send(message);
        waker.changed();
    };
    let job = move || {
        let message = match write_file(&path, &bytes) {
            Ok(()) => Message { level: Level::Info, text: format!("exported {}", path.display()) },
            Err(e) => Message { level: Level::Error, text: format!("could not write {}: {e}", path.display()) },
        };
        report(message);
    };
    if let Err(e) = std::thread::Builder::new().name("modulab-export".into()).spawn(job) {
        // no thread: the closure (and its report) is gone, so say so directly
        eprintln!("modulab: cannot start the export thread: {e}");
    }
}

/// Create the parent directory if needed, then write atomically.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    write_atomic(path, bytes)
}

/// An "Export" menu for a plot at `rect`; `make` gathers its data when a format is picked.
pub fn export_menu_ui(ui: &mut egui::Ui, files: &mut Files, rect: egui::Rect, make: impl FnOnce() -> PlotExport) {
    export_menu_with_ui(ui, files, rect, true, make);
}

/// [`export_menu_ui`] for a plot that may be a heat map: `svg` false offers CSV and PNG only
/// (the SVG writer draws lines and bars; the SVG item stays, disabled, saying why).
pub fn export_menu_with_ui(ui: &mut egui::Ui, files: &mut Files, rect: egui::Rect, svg: bool, make: impl FnOnce() -> PlotExport) {
    let mut picked = None;
    let menu_tip = if svg {
        "Save this plot's data (CSV) or picture (SVG, PNG)"
    } else {
        "Save this heat map's data (CSV) or picture (PNG); there is no SVG of a heat map"
    };
    ui.menu_button("Export", |ui| {
        let items = [
            (ExportFormat::Csv, "CSV…", "The plotted numbers as a table, for a spreadsheet or a script"),
            (ExportFormat::Svg, "SVG…", "The plot drawn as a vector picture from its data, for papers and slides"),
            (ExportFormat::Png, "PNG…", "A picture of the plot exactly as it is on screen"),
        ];
        for (format, label, tip) in items {
            let enabled = svg || format != ExportFormat::Svg;
            if ui
                .add_enabled(enabled, egui::Button::new(label))
                .on_hover_text(tip)
                .on_disabled_hover_text(
                    "Not for heat maps: the SVG writer draws lines and bars. Export the picture as PNG, the numbers as CSV",
                )
                .clicked()
            {
                picked = Some(format);
                ui.close();
            }
        }
    })
    .response
    .on_hover_text(menu_tip);
    if let Some(format) = picked {
        files.begin(FileJob::Export { format, plot: Box::new(make()), rect });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> PlotExport {
        PlotExport {
            log_y: true,
            ..PlotExport::new(
                "loss",
                "Loss",
                "step",
                "loss",
                PlotData::Lines(vec![Curve::new("every step", vec![[1.0, 0.5], [2.0, 0.25]]), Curve::new("a, b", vec![[1.0, 0.125]])]),
            )
        }
    }

    #[test]
    fn csv_of_lines_and_bars() {
        assert_eq!(lines().to_csv(), "series,step,loss\nevery step,1,0.5\nevery step,2,0.25\n\"a, b\",1,0.125\n");
        let bars = PlotExport {
            data: PlotData::Bars {
                categories: vec!["Go".into(), "Anti".into()],
                series: vec![("intact".into(), vec![1.0, 0.5]), ("bias lesioned".into(), vec![0.25])],
            },
            x_label: "task".into(),
            ..lines()
        };
        assert_eq!(bars.to_csv(), "task,intact,bias lesioned\nGo,1,0.25\nAnti,0.5,\n");
    }

    #[test]
    fn svg_has_a_polyline_per_series_and_escapes_text() {
        let svg = lines().to_svg().expect("lines draw");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // log scale: 0.125..0.5 spans log10 -0.9..-0.3, ticks at 10^-0.8 .. print as powers of ten
        assert!(svg.contains(">every step<"));
        let mut weird = lines();
        weird.title = "a < b & c".into();
        assert!(weird.to_svg().expect("svg").contains("a &lt; b &amp; c"));
        // an empty plot still makes a valid picture
        weird.data = PlotData::Lines(vec![]);
        assert!(weird.to_svg().expect("svg").contains("</svg>"));
    }

    #[test]
    fn columns_and_paths_as_csv_and_svg() {
        let columns = |heat| PlotExport {
            x_label: "time (ms)".into(),
            data: PlotData::Columns {
                x: vec![10.0, 30.0],
                columns: vec![("unit 0".into(), vec![0.5, 0.25]), ("unit 1".into(), vec![1.0, 0.0])],
                heat,
            },
            ..lines()
        };
        assert_eq!(columns(true).to_csv(), "time (ms),unit 0,unit 1\n10,0.5,1\n30,0.25,0\n");
        assert!(!columns(true).data.svg_supported() && columns(true).to_svg().is_err(), "no SVG of a heat map");
        let svg = columns(false).to_svg().expect("channels as lines");
        assert_eq!(svg.matches("<polyline").count(), 2);
        let paths = PlotExport {
            data: PlotData::Paths {
                series_label: "task".into(),
                columns: vec!["time step".into(), "PC1".into(), "PC2".into()],
                series: vec![("Go".into(), vec![vec![0.0, 1.5, -2.0], vec![1.0, 0.5, 0.0]])],
                axes: [1, 2],
            },
            log_y: false,
            ..lines()
        };
        assert_eq!(paths.to_csv(), "task,time step,PC1,PC2\nGo,0,1.5,-2\nGo,1,0.5,0\n");
        let svg = paths.to_svg().expect("paths as lines");
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains(">Go<"));
    }

    #[test]
    fn a_table_is_written_as_is_and_drawn_from_its_lines() {
        let table = |drawn| PlotExport { data: PlotData::Table { csv: "a,b\n1,2\n".into(), lines: drawn }, ..lines() };
        let with_lines = table(Some(vec![Curve::new("x", vec![[0.0, 1.0], [1.0, 2.0]])]));
        assert_eq!(with_lines.to_csv(), "a,b\n1,2\n");
        assert_eq!(with_lines.to_svg().expect("svg").matches("<polyline").count(), 1);
        let without = table(None);
        assert!(!without.data.svg_supported() && without.to_svg().is_err(), "no lines: no SVG");
    }

    #[test]
    fn an_exported_svg_is_the_cli_figure_of_the_same_data() {
        let export = lines();
        let chart = LineChart {
            title: "Loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            log_y: true,
            series: vec![
                crate::figure::Series { name: "every step".into(), points: vec![(1.0, 0.5), (2.0, 0.25)], ..Default::default() },
                crate::figure::Series { name: "a, b".into(), points: vec![(1.0, 0.125)], ..Default::default() },
            ],
            ..Default::default()
        };
        assert_eq!(export.to_svg().expect("svg"), chart.to_svg());
        // and the app's on-screen task colours are the figures' palette
        for i in 0..20 {
            let [r, g, b] = crate::figure::palette::rgb(crate::figure::style(i).color).expect("hex");
            assert_eq!(super::super::widgets::task_color(i), egui::Color32::from_rgb(r, g, b));
        }
    }

    #[test]
    fn png_crops_to_the_plot() {
        // a 4×2 pixel image at 2 pixels per point; the right half (2×1 points) is red
        let mut image = egui::ColorImage::filled([8, 4], egui::Color32::WHITE);
        for y in 0..4 {
            for x in 4..8 {
                image.pixels[y * 8 + x] = egui::Color32::RED;
            }
        }
        let rect = egui::Rect::from_min_size(egui::pos2(2.0, 0.0), egui::vec2(2.0, 2.0));
        let bytes = png_of_region(&image, rect, 2.0).expect("png");
        let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).expect("decodes").to_rgba8();
        assert_eq!(decoded.dimensions(), (4, 4));
        assert!(decoded.pixels().all(|p| p.0 == [255, 0, 0, 255]));
        assert!(png_of_region(&image, egui::Rect::NOTHING, 2.0).is_err());
        // a rect reaching past the image is clipped to it: x 3..6 points → pixels 6..8
        let past = egui::Rect::from_min_max(egui::pos2(3.0, 1.0), egui::pos2(6.0, 9.0));
        let bytes = png_of_region(&image, past, 2.0).expect("png");
        let decoded = image::load_from_memory(&bytes).expect("decodes").to_rgba8();
        assert_eq!(decoded.dimensions(), (2, 2));
    }

    #[test]
    fn extensions_are_added_once() {
        assert_eq!(with_extension("a/loss".into(), "csv"), PathBuf::from("a/loss.csv"));
        assert_eq!(with_extension("a/loss.CSV".into(), "csv"), PathBuf::from("a/loss.CSV"));
    }

    #[test]
    fn an_unwritable_path_is_an_error_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").expect("write");
        // a path under a regular file cannot be created
        let (tx, rx) = mpsc::channel();
        write_in_background(blocker.join("loss.csv"), b"data".to_vec(), tx, UiWaker::none());
        let message = rx.recv_timeout(Duration::from_secs(10)).expect("a report");
        assert_eq!(message.level, Level::Error, "{message:?}");
        assert!(message.text.contains("could not write"), "{message:?}");
    }
}
