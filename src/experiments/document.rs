//! A report as a list of blocks (headings, paragraphs, tables, figures), rendered to Markdown
//! and to a self-contained HTML page (figures inline as SVG): `reproduce`'s report.

use std::fmt::Write as _;

/// A piece of a report, rendered to Markdown and to HTML alike.
#[derive(Clone, Debug)]
pub enum Block {
    Heading(u8, String),
    Para(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A figure by its file stem (`<stem>.svg` / `.png`).
    Figure {
        stem: String,
        caption: String,
    },
}

pub fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {text}\n", "#".repeat(*level as usize));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::Table { header, rows } => {
                let _ = writeln!(out, "| {} |", header.join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                for row in rows {
                    let _ = writeln!(out, "| {} |", row.join(" | "));
                }
                out.push('\n');
            }
            Block::Figure { stem, caption } => {
                let _ = writeln!(out, "![{caption}]({stem}.png)\n");
            }
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Markdown's `code` spans and **bold** as HTML.
fn inline(text: &str) -> String {
    let escaped = escape(text);
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            for (j, piece) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{piece}</strong>");
                } else {
                    out.push_str(piece);
                }
            }
        }
    }
    out
}

/// `figures` holds (stem, SVG) for every [`Block::Figure`].
pub fn html(blocks: &[Block], figures: &[(String, String)]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>modulab reproduce</title>\n<style>\
         body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}\
         table{border-collapse:collapse;margin:0.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}\
         th{background:#f3f3f3}figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:90%}\
         code{background:#f3f3f3;padding:0 3px}</style></head><body>\n",
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", inline(text));
            }
            Block::Table { header, rows } => {
                out.push_str("<table><tr>");
                for h in header {
                    let _ = write!(out, "<th>{}</th>", inline(h));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let _ = write!(out, "<td>{}</td>", inline(cell));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Figure { stem, caption } => {
                // the SVG itself, so the page needs no other file
                let svg = figures.iter().find(|(s, _)| s == stem).map_or("", |(_, svg)| svg.as_str());
                let svg = svg.trim_start_matches(|c| c != '<').trim_start();
                let svg = if svg.starts_with("<?xml") { svg.split_once("?>").map_or(svg, |(_, rest)| rest.trim_start()) } else { svg };
                let _ = writeln!(out, "<figure>{svg}<figcaption>{}</figcaption></figure>", inline(caption));
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_html_say_the_same() {
        let blocks = vec![
            Block::Heading(2, "A <b> & `code`".into()),
            Block::Para("**bold** and p < 0.001".into()),
            Block::Table { header: vec!["a".into(), "b".into()], rows: vec![vec!["1".into(), "2".into()]] },
            Block::Figure { stem: "fig".into(), caption: "cap".into() },
        ];
        let md = markdown(&blocks);
        assert!(md.contains("## A <b> & `code`") && md.contains("| a | b |\n|---|---|\n| 1 | 2 |") && md.contains("![cap](fig.png)"));
        let html = html(&blocks, &[("fig".into(), "<?xml version=\"1.0\"?>\n<svg></svg>".into())]);
        assert!(html.contains("<h2>A &lt;b&gt; &amp; <code>code</code></h2>"), "{html}");
        assert!(html.contains("<strong>bold</strong> and p &lt; 0.001"));
        assert!(html.contains("<figure><svg></svg><figcaption>cap</figcaption></figure>"));
        assert!(!html.contains("<?xml"));
    }
}
