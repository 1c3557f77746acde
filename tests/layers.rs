//! The module layers of ARCHITECTURE.md hold: no top-level module imports one above it, no two
//! files of one module import each other (also not through a name their `mod.rs` re-exports), and
//! colours come from the palette. Reads the sources; test code (everything from a file's
//! `#[cfg(test)]` on) and comments are not imports and may reach anywhere.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first, as `src/lib.rs` declares them and ARCHITECTURE.md draws them.
const LAYERS: &[&str] =
    &["rng", "io", "figure", "tasks", "model", "config", "analysis", "train", "experiments", "runner", "lesson", "app", "cli"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file that is not a test or a comment.
fn library_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Identifiers that follow `prefix` in `code` (`crate::model::x` with prefix `crate::` → `model`).
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    code.match_indices(prefix)
        .filter(|(at, _)| !code[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(at, _)| code[at + prefix.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
        .filter(|name| !name.is_empty())
        .collect()
}

struct Source {
    /// The top-level module (`train` for `src/train/eval.rs`), `None` for lib.rs and main.rs.
    top: Option<String>,
    /// The file's own name inside its module (`eval`), `None` for a module root.
    name: Option<String>,
    path: PathBuf,
    code: String,
}

fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&src).expect("under src").to_path_buf();
            let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
            let top = match parts.as_slice() {
                [only] if only == "lib" || only == "main" => None,
                [first, ..] => Some(first.clone()),
                [] => None,
            };
            let name = match parts.as_slice() {
                [_, .., last] if last != "mod" => Some(last.clone()),
                _ => None,
            };
            let code = library_code(&std::fs::read_to_string(&path).expect("read source"));
            Source { top, name, path: relative, code }
        })
        .collect()
}

#[test]
fn every_top_level_module_is_a_layer() {
    let declared: Vec<String> = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("lib.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod ").map(|rest| rest.trim_end_matches(';').to_string()))
        .collect();
    assert_eq!(declared, LAYERS, "src/lib.rs must declare exactly the layers, lowest first (update LAYERS and ARCHITECTURE.md together)");
}

#[test]
fn no_module_imports_a_higher_layer() {
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let mut violations = Vec::new();
    for source in sources() {
        let Some(top) = &source.top else { continue };
        let own = rank(top).unwrap_or_else(|| panic!("{} is in no layer: add `{top}` to LAYERS", source.path.display()));
        for used in names_after(&source.code, "crate::") {
            if let Some(other) = rank(&used)
                && other > own
            {
                violations.push(format!("{} ({top}) imports {used}, a higher layer", source.path.display()));
            }
        }
    }
    assert!(violations.is_empty(), "imports that cross a layer upward:\n{}", violations.join("\n"));
}

#[test]
fn no_two_files_of_a_module_import_each_other() {
    let sources = sources();
    // sibling files of each module, and which siblings each imports
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let siblings: BTreeSet<(String, String)> = sources.iter().filter_map(|s| Some((s.top.clone()?, s.name.clone()?))).collect();
    // names a module root re-exports (`pub use handle::Worker;` in runner/mod.rs): importing
    // `super::Worker` from a sibling of handle.rs is importing handle
    let mut reexported: BTreeMap<(String, String), String> = BTreeMap::new();
    for source in sources.iter().filter(|s| s.name.is_none()) {
        let Some(top) = &source.top else { continue };
        for statement in source.code.split(';').filter_map(|s| s.trim().strip_prefix("pub use ")) {
            let Some((file, items)) = statement.split_once("::") else { continue };
            let items = items.trim_start_matches('{').trim_end_matches('}');
            for item in items.split(',').map(|i| i.trim().rsplit(" as ").next().unwrap_or_default().trim()) {
                if !item.is_empty() && siblings.contains(&(top.clone(), file.to_string())) {
                    reexported.insert((top.clone(), item.to_string()), file.to_string());
                }
            }
        }
    }
    for source in &sources {
        let (Some(top), Some(name)) = (&source.top, &source.name) else { continue };
        let mut used = names_after(&source.code, "super::");
        used.extend(names_after(&source.code, &format!("crate::{top}::")));
        // `use super::{A, B}` names each item after the brace
        for group in source.code.match_indices("super::{").map(|(at, _)| &source.code[at + 8..]) {
            let items = group.split('}').next().unwrap_or_default();
            used.extend(items.split(',').map(|i| i.trim().split("::").next().unwrap_or_default().trim().to_string()));
        }
        let used: BTreeSet<String> = used.into_iter().map(|u| reexported.get(&(top.clone(), u.clone())).cloned().unwrap_or(u)).collect();
        let targets = used.into_iter().filter(|u| u != name && siblings.contains(&(top.clone(), u.clone()))).collect();
        edges.insert((top.clone(), name.clone()), targets);
    }
    let mut cycles = Vec::new();
    for ((top, a), targets) in &edges {
        for b in targets {
            if a < b && edges.get(&(top.clone(), b.clone())).is_some_and(|back| back.contains(a)) {
                cycles.push(format!("{top}::{a} and {top}::{b} import each other"));
            }
        }
    }
    assert!(cycles.is_empty(), "{}", cycles.join("\n"));
}

/// Colours come from the one palette (`figure::palette`): in the app, only `app/widgets.rs` turns
/// palette entries into egui colours; greys (egui's named ones, `from_gray`) are neutral and
/// allowed anywhere. Figures outside the app write palette strings, never a colour of their own.
#[test]
fn colours_are_defined_in_the_palette_only() {
    let mut found = Vec::new();
    for source in sources() {
        let path = source.path.to_string_lossy().replace('\\', "/");
        let allowed = path == "app/widgets.rs" || path == "figure/palette.rs";
        if allowed {
            continue;
        }
        for making in ["Color32::from_rgb", "Color32::from_rgba", "Color32::from_hex", "Rgba::from_rgb"] {
            if source.code.contains(making) {
                found.push(format!("{path} makes a colour with {making}: add it to figure::palette (a role) and use widgets::color"));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
