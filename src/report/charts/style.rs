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

/// Category10 (d3): distinguishable on white, familiar from other tools.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
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
pub(super) const FAILURE: RGBColor = RGBColor(200, 30, 30);

pub(super) fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&INK)
}

/// Policy colours by first appearance across the files.
pub(super) struct PolicyColors {
    pub(super) names: Vec<String>,
}

impl PolicyColors {
    pub(super) fn color(&self, name: &str) -> RGBColor {
        let i = self.names.iter().position(|n| n == name).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
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
    let (_, h) = root.dim_in_pixel();
    let style = TextStyle::from((FONT, 13.0).into_font())
        .color(&MUTED)
        .pos(Pos::new(HPos::Left, VPos::Bottom));
    root.draw_text(text, &style, (12, h as i32 - 6)).msg()
}
