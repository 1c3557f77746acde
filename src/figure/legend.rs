//! Legend placement: entries fill a column as tall as the space beside the plot, then the next
//! column starts, so a legend of the whole battery (20 tasks) is never cut off; the figure
//! grows to hold every column.

use super::Rect;
use super::svg::{Anchor, text_box};

/// Font size of legend names, px.
pub const FONT_SIZE: f64 = 13.0;
/// Height of one entry, px.
const ROW: f64 = 20.0;
/// Length of the line (or size of the marker) drawn before a name, px.
pub const SWATCH: f64 = 28.0;
/// Space between the swatch and the name, and between columns, px.
const GAP: f64 = 6.0;
const COLUMN_GAP: f64 = 16.0;

/// One entry: the series it names and where its parts go.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub index: usize,
    /// The swatch's left end, on its centre line.
    pub swatch: (f64, f64),
    /// The name's baseline start.
    pub text: (f64, f64),
    /// The whole entry (swatch and name).
    pub rect: Rect,
}

/// Entries for `names` (series index = position) in columns from (`x`, `y`), each column at
/// most `max_height` tall (at least one entry per column); columns are balanced in length.
pub fn place(names: &[&str], x: f64, y: f64, max_height: f64) -> Vec<Entry> {
    if names.is_empty() {
        return Vec::new();
    }
    let fit = ((max_height / ROW).floor() as usize).max(1);
    let columns = names.len().div_ceil(fit);
    let per_column = names.len().div_ceil(columns);
    let mut entries = Vec::with_capacity(names.len());
    let mut left = x;
    for column in names.chunks(per_column).enumerate().map(|(c, chunk)| (c * per_column, chunk)) {
        let (first, chunk) = column;
        let mut widest: f64 = 0.0;
        for (row, name) in chunk.iter().enumerate() {
            let top = y + row as f64 * ROW;
            let text = (left + SWATCH + GAP, top + 14.0);
            let name_box = text_box(text.0, text.1, FONT_SIZE, Anchor::Start, name);
            let rect = Rect { x: left, y: top + 2.0, w: name_box.right() - left, h: ROW - 4.0 };
            widest = widest.max(rect.w);
            entries.push(Entry { index: first + row, swatch: (left, top + 10.0), text, rect });
        }
        left += widest + COLUMN_GAP;
    }
    entries
}

/// The box around all entries (zero-sized at the origin when there are none).
pub fn bounds(entries: &[Entry]) -> Rect {
    let Some(first) = entries.first() else { return Rect::default() };
    let (mut x0, mut y0, mut x1, mut y1) = (first.rect.x, first.rect.y, first.rect.right(), first.rect.bottom());
    for e in entries {
        x0 = x0.min(e.rect.x);
        y0 = y0.min(e.rect.y);
        x1 = x1.max(e.rect.right());
        y1 = y1.max(e.rect.bottom());
    }
    Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_legend_wraps_into_balanced_columns() {
        let names: Vec<String> = (0..20).map(|i| format!("task {i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let entries = place(&names, 100.0, 50.0, 350.0);
        assert_eq!(entries.len(), 20);
        assert_eq!(entries.iter().map(|e| e.index).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
        // 350 px hold 17 rows: two columns of ten
        let columns: std::collections::BTreeSet<i64> = entries.iter().map(|e| e.rect.x as i64).collect();
        assert_eq!(columns.len(), 2);
        assert!(bounds(&entries).bottom() <= 50.0 + 350.0);
        for (i, a) in entries.iter().enumerate() {
            for b in &entries[i + 1..] {
                assert!(!a.rect.overlaps(&b.rect), "{a:?} {b:?}");
            }
        }
    }
}
