//! The one SVG writer: a document of text, lines, shapes and markers, with escaping and the
//! text measure the layouts use to keep labels apart.

use std::fmt::Write as _;

use super::palette::{Marker, Style};
use super::{FONT_FAMILY, Rect};

/// Escape text for SVG (element content and attribute values).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The width of `text` at `size` px in the figures' font (Ubuntu Light), estimated per
/// character class and rounded up: the layouts only need an upper bound to keep labels apart.
pub fn text_width(text: &str, size: f64) -> f64 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 0.3,
            ' ' | 'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '/' => 0.42,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.9,
            c if c.is_ascii_uppercase() => 0.68,
            c if c.is_ascii_digit() => 0.58,
            c if c.is_ascii() => 0.56,
            // Greek and symbols (λ, τ, α, ≤): about a lowercase letter
            _ => 0.62,
        })
        .sum();
    em * size
}

/// Where a text's anchor is along its reading direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn name(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }

    /// How much of the text's length lies before the anchor.
    fn before(self) -> f64 {
        match self {
            Anchor::Start => 0.0,
            Anchor::Middle => 0.5,
            Anchor::End => 1.0,
        }
    }
}

/// A text's box: horizontal text with its baseline at `y`, glyphs from 0.8 em above the
/// baseline to 0.25 em below it.
pub fn text_box(x: f64, y: f64, size: f64, anchor: Anchor, content: &str) -> Rect {
    let w = text_width(content, size);
    Rect { x: x - anchor.before() * w, y: y - 0.8 * size, w, h: 1.05 * size }
}

/// The box of a text rotated to read upwards (−90°) about its anchor (`x`, `y`): it runs from
/// the anchor up (`Start`) or down (`End`) the page, its ascent to the left of `x`.
pub fn upward_text_box(x: f64, y: f64, size: f64, anchor: Anchor, content: &str) -> Rect {
    let w = text_width(content, size);
    // before rotation the text spans [x - before·w, x + (1 - before)·w]; rotating by −90° maps
    // a run to the right onto a run upwards
    let top = y - (1.0 - anchor.before()) * w;
    Rect { x: x - 0.8 * size, y: top, w: 1.05 * size, h: w }
}

/// An SVG document under construction.
pub struct Svg {
    out: String,
}

impl Svg {
    /// A white canvas of `width` × `height` px.
    pub fn new(width: f64, height: f64) -> Svg {
        Svg {
            out: format!(
                r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="{FONT_FAMILY}" fill="#222"><rect width="100%" height="100%" fill="#ffffff"/>"##
            ),
        }
    }

    pub fn text(&mut self, x: f64, y: f64, size: f64, anchor: Anchor, content: &str) {
        if content.is_empty() {
            return;
        }
        let _ =
            write!(self.out, r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{}">{}</text>"#, anchor.name(), esc(content));
    }

    /// Text reading upwards, rotated about its anchor (see [`upward_text_box`]).
    pub fn upward_text(&mut self, x: f64, y: f64, size: f64, anchor: Anchor, content: &str) {
        if content.is_empty() {
            return;
        }
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{}" transform="rotate(-90 {x:.1} {y:.1})">{}</text>"#,
            anchor.name(),
            esc(content)
        );
    }

    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: &str, width: f64, dash: Option<&str>) {
        let _ = write!(
            self.out,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="{width}"{}/>"#,
            from.0,
            from.1,
            to.0,
            to.1,
            dash_attribute(dash)
        );
    }

    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, dash: Option<&str>) {
        let points: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            self.out,
            r#"<polyline points="{}" fill="none" stroke="{stroke}" stroke-width="{width}" stroke-linejoin="round"{}/>"#,
            points.join(" "),
            dash_attribute(dash)
        );
    }

    /// A rectangle; `extra` holds further attributes (stroke, opacity).
    pub fn rect(&mut self, r: Rect, fill: &str, extra: &str) {
        let _ = write!(self.out, r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{fill}"{extra}/>"#, r.x, r.y, r.w, r.h);
    }

    /// A closed path `d` filled with `fill` at `opacity` (a band around a line).
    pub fn area(&mut self, d: &str, fill: &str, opacity: f64) {
        let _ = write!(self.out, r#"<path d="{d}Z" fill="{fill}" fill-opacity="{opacity}" stroke="none"/>"#);
    }

    /// A circle outline (the unit circle of a spectrum), `rx` × `ry` px.
    pub fn ellipse(&mut self, centre: (f64, f64), rx: f64, ry: f64, stroke: &str, dash: Option<&str>) {
        let _ = write!(
            self.out,
            r#"<ellipse cx="{:.1}" cy="{:.1}" rx="{rx:.1}" ry="{ry:.1}" fill="none" stroke="{stroke}" stroke-width="1.2"{}/>"#,
            centre.0,
            centre.1,
            dash_attribute(dash)
        );
    }

    /// A series' marker at (`x`, `y`): its shape and colour, white inside when `hollow`.
    pub fn marker(&mut self, x: f64, y: f64, style: &Style, color: &str, hollow: bool) {
        let paint = if hollow { format!(r##"fill="#ffffff" stroke="{color}" stroke-width="1.5""##) } else { format!(r#"fill="{color}""#) };
        let _ = match style.marker {
            Marker::Circle => write!(self.out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" {paint}/>"#),
            Marker::Square => write!(self.out, r#"<rect x="{:.1}" y="{:.1}" width="5.6" height="5.6" {paint}/>"#, x - 2.8, y - 2.8),
            Marker::Triangle => {
                write!(
                    self.out,
                    r#"<path d="M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" {paint}/>"#,
                    y - 3.6,
                    x + 3.4,
                    y + 2.6,
                    x - 3.4,
                    y + 2.6
                )
            }
        };
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

fn dash_attribute(dash: Option<&str>) -> String {
    dash.map_or(String::new(), |d| format!(r#" stroke-dasharray="{d}""#))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_boxed() {
        let mut svg = Svg::new(100.0, 50.0);
        svg.text(50.0, 20.0, 12.0, Anchor::Middle, "a < b & \"c\"");
        let text = svg.finish();
        assert!(text.contains("a &lt; b &amp; &quot;c&quot;") && text.ends_with("</svg>\n"));
        let b = text_box(50.0, 20.0, 10.0, Anchor::Middle, "abcd");
        assert!((b.x + b.w / 2.0 - 50.0).abs() < 1e-9 && b.y < 20.0 && b.y + b.h > 20.0);
        // upward text ending at its anchor hangs below it
        let up = upward_text_box(10.0, 100.0, 10.0, Anchor::End, "abcd");
        assert!((up.y - 100.0).abs() < 1e-9 && (up.h - text_width("abcd", 10.0)).abs() < 1e-9 && up.x < 10.0);
        assert!(text_width("MultSen Dly DM", 12.0) > text_width("Go", 12.0) * 4.0);
    }
}
