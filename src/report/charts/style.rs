//! What every chart shares in look: the embedded font, text sizes, colours, the title band.

use super::*;

/// Registers the embedded font under the name charts use, once per process.
pub(super) fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            panic!("the embedded DejaVu Sans font does not parse");
        }
    });
}

pub(super) const FONT: &str = "sans-serif";
pub(super) const TITLE_SIZE: f64 = 22.0;
pub(super) const CAPTION_SIZE: f64 = 17.0;
pub(super) const DESC_SIZE: f64 = 16.0;
pub(super) const TICK_SIZE: f64 = 14.0;
pub(super) const LEGEND_SIZE: f64 = 15.0;

/// Category10 (d3), distinguishable on white and familiar from other tools, with its red replaced
/// by Category20b's dark indigo: red is FAILURE's alone, so that no policy's colour reads as a
/// failure.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(57, 59, 121),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// The colour of the `i`-th policy, as RGB (for pages that show the same colours).
pub fn palette_rgb(i: usize) -> (u8, u8, u8) {
    let c = PALETTE[i % PALETTE.len()];
    (c.0, c.1, c.2)
}

pub(super) const GRID: RGBColor = RGBColor(228, 228, 228);
pub(super) const INK: RGBColor = RGBColor(30, 30, 30);
pub(super) const MUTED: RGBColor = RGBColor(90, 90, 90);
/// Failure, in every chart (#C81E1E): a policy or point whose runs had failed jobs is marked in
/// this red, never only in its policy's colour, so that a cheap, "fast" run that stopped early
/// cannot pass for a win.
pub(super) const FAILURE: RGBColor = RGBColor(200, 30, 30);

pub(super) fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&INK)
}

/// Policy colours by first appearance across the files.
pub(super) struct PolicyColors {
    pub(super) names: Vec<String>,
    /// Policies whose jobs failed in the run (from `summary.csv`), with their note
    /// ("FAILED 1/1 jobs"): every chart of the run names them so in its legend, in red.
    pub(super) failed: std::collections::BTreeMap<String, String>,
}

impl PolicyColors {
    pub(super) fn color(&self, name: &str) -> RGBColor {
        let i = self.names.iter().position(|n| n == name).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    }

    /// Whether the policy's jobs failed in the run.
    pub(super) fn failed(&self, name: &str) -> bool {
        self.failed.contains_key(name)
    }

    /// The policy's name for a legend: with its failure note when its jobs failed.
    pub(super) fn label(&self, name: &str) -> String {
        match self.failed.get(name) {
            Some(note) => format!("{name} \u{2014} {note}"),
            None => name.to_string(),
        }
    }
}

/// Room for the title above the panels.
pub(super) const TITLE_BAND: u32 = 44;

pub(super) fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).msg()?;
    let (w, _) = root.dim_in_pixel();
    let style = font(TITLE_SIZE).pos(Pos::new(HPos::Center, VPos::Center));
    root.draw_text(title, &style, (w as i32 / 2, TITLE_BAND as i32 / 2 + 2))
        .msg()?;
    let (_, rest) = root.split_vertically(TITLE_BAND);
    Ok(rest)
}

/// A note in small grey text at the bottom left.
pub(super) fn draw_footnote<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
) -> Drawn {
    draw_footnote_colored(root, text, MUTED)
}

/// A note in small text of the given colour at the bottom left (FAILURE when it explains a
/// failure mark).
pub(super) fn draw_footnote_colored<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    color: RGBColor,
) -> Drawn {
    let (_, h) = root.dim_in_pixel();
    let style = TextStyle::from((FONT, 13.0).into_font())
        .color(&color)
        .pos(Pos::new(HPos::Left, VPos::Bottom));
    root.draw_text(text, &style, (12, h as i32 - 6)).msg()
}
