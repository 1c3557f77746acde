//! The one palette of every figure, on screen (the app's `task_color`) and in files (CLI and
//! exported SVGs): series `i` gets a colour, a dash pattern and a marker shape, so that even
//! 20 series (Yang et al.'s whole battery) are told apart by more than hue alone.

/// Tableau 10 (the strong colours) followed by ten partners from Tableau 20 (light twins, plus
/// an olive, a dark teal and an indigo where a twin would be too close to a strong colour):
/// figures of up to ten series look as they always did, and series 10–19 get hues of their own,
/// never a repeat of series 0–9.
pub const PALETTE: [&str; 20] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", // strong
    "#a0cbe8", "#ffbe7d", "#b6992d", "#499894", "#8cd17d", "#6b6ecf", "#d4a6c8", "#d37295", "#d7b5a6", "#79706e", // partners
];

/// How many series have distinct colours before the cycle starts over.
const COLOURS: usize = 10;

/// A line's dash pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dash {
    Solid,
    Dashed,
    Dotted,
}

impl Dash {
    /// The SVG `stroke-dasharray` value (`None` = solid).
    pub fn dasharray(self) -> Option<&'static str> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some("7 4"),
            Dash::Dotted => Some("2 3"),
        }
    }
}

/// A marker's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
}

/// What tells series `i` apart: colour, dash and marker together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub color: &'static str,
    pub dash: Dash,
    pub marker: Marker,
}

/// The style of series `index`: the first ten are solid with circles (the familiar look), the
/// next ten take the light colours with dashes and squares, the third decade dots and
/// triangles. So series `i` and `i + 10` differ in colour AND line AND marker.
pub fn style(index: usize) -> Style {
    let decade = index / COLOURS;
    let color = PALETTE[(decade % 2) * COLOURS + index % COLOURS];
    let (dash, marker) = match decade % 3 {
        0 => (Dash::Solid, Marker::Circle),
        1 => (Dash::Dashed, Marker::Square),
        _ => (Dash::Dotted, Marker::Triangle),
    };
    Style { color, dash, marker }
}

/// Colours that mean the same thing wherever they appear, on screen and in figures.
pub mod role {
    /// Stable fixed points, and the first of two contrasted things.
    pub const STABLE: &str = "#4e79a7";
    pub const UNSTABLE: &str = "#e15759";
    /// Excitatory and inhibitory units (Dale's law).
    pub const EXCITATORY: &str = "#d74b3c";
    pub const INHIBITORY: &str = "#3c78d7";
    /// Something going well: a run that trains, a trial answered correctly.
    pub const GOOD: &str = "#50aa5a";
    /// The trained units of subset training, the untrained excitatory ones, the inhibitory ones.
    pub const TRAINED: &str = "#d62728";
    pub const UNTRAINED: &str = "#1f77b4";
    pub const OTHER: &str = "#6e6e6e";
    /// A histogram of the units (the Setup panel's time constants).
    pub const UNITS: &str = "#5a8cc8";
    /// A trial's epochs, shaded behind its traces.
    pub const FIXATION: &str = "#969696";
    pub const STIMULUS: &str = "#5a8ce6";
    pub const DELAY: &str = "#e6be46";
    pub const RESPONSE: &str = "#5ac86e";
    pub const EPOCH: &str = "#b478c8";
}

/// Runs added for comparison (apart from the task colours' hues: d3's category colours).
pub const COMPARED: [&str; 6] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

/// A ramp for ordered values (fast → slow time constants): yellow, orange, pink, violet, blue,
/// bright enough on dark and light backgrounds.
pub const ORDERED: [&str; 5] = ["#e6c814", "#f58c32", "#e14b73", "#a541c8", "#5f5ff0"];

/// The colour at `t` in [0, 1] along `stops` (piecewise linear), as `[r, g, b]`.
pub fn ramp(stops: &[&str], t: f64) -> [u8; 3] {
    let rgbs: Vec<[u8; 3]> = stops.iter().filter_map(|s| rgb(s)).collect();
    match rgbs.len() {
        0 => [128, 128, 128],
        1 => rgbs[0],
        n => {
            let x = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 } * (n - 1) as f64;
            let i = (x.floor() as usize).min(n - 2);
            let f = x - i as f64;
            let mix = |c: usize| (rgbs[i][c] as f64 + f * (rgbs[i + 1][c] as f64 - rgbs[i][c] as f64)).round() as u8;
            [mix(0), mix(1), mix(2)]
        }
    }
}

/// `#rrggbb` → `[r, g, b]` (the app turns palette entries into egui colours); `None` if malformed.
pub fn rgb(hex: &str) -> Option<[u8; 3]> {
    let digits = hex.strip_prefix('#').filter(|d| d.len() == 6 && d.is_ascii())?;
    let byte = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// A perceptually uniform colour scale (viridis, piecewise linear through 6 stops), `t` in [0, 1].
pub fn viridis(t: f64) -> String {
    const STOPS: [(f64, f64, f64); 6] =
        [(68.0, 1.0, 84.0), (65.0, 68.0, 135.0), (42.0, 120.0, 142.0), (34.0, 168.0, 132.0), (122.0, 209.0, 81.0), (253.0, 231.0, 37.0)];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_series_have_twenty_distinct_colours_and_two_dashes() {
        let styles: Vec<Style> = (0..20).map(style).collect();
        let colours: std::collections::BTreeSet<&str> = styles.iter().map(|s| s.color).collect();
        assert_eq!(colours.len(), 20, "no colour repeats within the battery");
        // fdgo (0) and multidm (10) were the same blue: now colour, dash and marker all differ
        assert!(styles[0].color != styles[10].color && styles[0].dash != styles[10].dash && styles[0].marker != styles[10].marker);
        assert_eq!(style(0).color, "#4e79a7", "the first ten keep Tableau 10");
        // further series still differ from the first decades by line and marker
        assert_ne!((style(20).dash, style(20).marker), (style(0).dash, style(0).marker));
    }

    #[test]
    fn hex_colours_parse() {
        assert_eq!(rgb("#4e79a7"), Some([0x4e, 0x79, 0xa7]));
        assert_eq!(rgb("4e79a7"), None);
        assert_eq!(rgb("#4e79a"), None);
        assert!(PALETTE.iter().all(|c| rgb(c).is_some()));
        assert_eq!(viridis(1.0), "#fde725");
    }
}
