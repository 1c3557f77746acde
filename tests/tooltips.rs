//! Every control of the app says what it does: each statement in `src/app/` that makes an
//! interactive widget (button, checkbox, slider, drag value, text field, combo box, radio button)
//! attaches a hover text to it. Reads the sources (code before a file's `#[cfg(test)]`): a
//! widget built into a `let` and added later is checked where it is added; a combo box's entries
//! (`selectable_value`) are inside a control that has its own text.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::Path;

/// What starts a widget-making statement.
const WIDGETS: &[&str] = &[
    "ui.button(",
    "ui.small_button(",
    "ui.checkbox(",
    "ui.radio(",
    "ui.radio_value(",
    "ui.toggle_value(",
    "ui.text_edit_singleline(",
    "ui.text_edit_multiline(",
    "ui.add(",
    "ui.add_enabled(",
    "ui.add_sized(",
    "ComboBox::from_id_salt(",
    "ComboBox::from_label(",
];

/// `ui.add(…)` of these shows, it does not control.
const NOT_CONTROLS: &[&str] = &["Label", "Separator", "Image", "Spinner", "ProgressBar", "RichText"];

/// The statement starting at `at`: up to the first `;` or `{` outside brackets and parentheses
/// (a closure's braces inside a call's parentheses belong to the statement).
fn statement(code: &str, at: usize) -> &str {
    let mut depth = 0i32;
    for (i, c) in code[at..].char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' | '{' if depth <= 0 => return &code[at..at + i],
            '}' if depth < 0 => return &code[at..at + i],
            _ => {}
        }
        if depth < 0 {
            return &code[at..at + i];
        }
    }
    &code[at..]
}

fn untipped_controls(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read source");
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|line| if line.trim_start().starts_with("//") { "" } else { line })
        .collect::<Vec<_>>()
        .join("\n");
    let mut missing = Vec::new();
    for widget in WIDGETS {
        for (at, _) in code.match_indices(widget) {
            let rest = &code[at + widget.len()..];
            let inner = rest.trim_start().trim_start_matches("egui::");
            if widget.starts_with("ui.add") && NOT_CONTROLS.iter().any(|n| inner.starts_with(n)) {
                continue;
            }
            let statement = statement(&code, at);
            // a combo box's own text comes after its entries' closure (which may have theirs)
            let own = if widget.starts_with("ComboBox") { statement.rfind("})").map_or(statement, |i| &statement[i..]) } else { statement };
            if !own.contains("hover_text") && !own.contains("on_hover_ui") {
                let line = code[..at].lines().count();
                missing.push(format!("{}:{line}: {}", path.display(), statement.lines().next().unwrap_or_default().trim()));
            }
        }
    }
    missing
}

#[test]
fn every_control_of_the_app_has_a_tooltip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join("app");
    let mut missing = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("src/app").map(|e| e.expect("entry").path()).collect();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        missing.extend(untipped_controls(path));
    }
    assert!(missing.is_empty(), "controls without a hover text (say what the control does and why it matters):\n{}", missing.join("\n"));
}

#[test]
fn the_statement_reader_finds_a_tooltip_after_a_closure_and_stops_at_the_statement() {
    let code = "egui::ComboBox::from_id_salt(\"x\").show_ui(ui, |ui| { a; }).response.on_hover_text(\"t\");\nui.button(\"b\");";
    let first = statement(code, 0);
    assert!(first.ends_with("on_hover_text(\"t\")"), "{first}");
    let at = code.find("ui.button").unwrap();
    assert_eq!(statement(code, at), "ui.button(\"b\")");
    assert_eq!(
        statement("if ui.button(\"c\").on_hover_text(\"d\").clicked() { x(); }", 3),
        "ui.button(\"c\").on_hover_text(\"d\").clicked() "
    );
}
