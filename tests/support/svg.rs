//! Reading a chart's SVG the way a person reads the picture: which text sits where, how much
//! room it takes, which shapes and colours are drawn. Tests use it to check that tick labels sit
//! at their values, that labels do not overlap and that marks are drawn where they belong.
//!
//! Text boxes are measured with the font the charts embed (DejaVu Sans), at the size the SVG
//! gives, so a width here is the width a browser with that font draws.

#![allow(dead_code)]

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};

/// An axis-aligned box in SVG pixels, `y` growing downwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BBox {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl BBox {
    /// Whether the two boxes share an area (touching edges do not count).
    pub fn overlaps(&self, other: &BBox) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    pub fn contains(&self, x: f64, y: f64) -> bool {
        self.x0 <= x && x <= self.x1 && self.y0 <= y && y <= self.y1
    }

    pub fn center(&self) -> (f64, f64) {
        ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)
    }
}

/// A `<text>` element.
#[derive(Clone, Debug)]
pub struct Text {
    pub x: f64,
    pub y: f64,
    /// `start`, `middle` or `end`.
    pub anchor: String,
    /// The `dy` attribute as written (`0.76em`, `0.5ex`, `-0.5ex`, or empty).
    pub dy: String,
    pub size: f64,
    pub fill: String,
    /// Rotation in degrees about `(x, y)` (`transform="rotate(a, x, y)"`), 0 when none.
    pub rotation: f64,
    pub content: String,
}

impl Text {
    /// The box the text covers: its advance width at its size, from the ascent above the
    /// baseline to the descent below, placed by its anchor, shifted by `dy` and rotated.
    pub fn bbox(&self) -> BBox {
        let width = text_width(&self.content, self.size);
        let x0 = match self.anchor.as_str() {
            "middle" => self.x - width / 2.0,
            "end" => self.x - width,
            _ => self.x,
        };
        let baseline = self.y + dy_px(&self.dy, self.size);
        let (ascent, descent) = (0.76 * self.size, 0.24 * self.size);
        let b = BBox {
            x0,
            y0: baseline - ascent,
            x1: x0 + width,
            y1: baseline + descent,
        };
        if self.rotation == 0.0 {
            return b;
        }
        let (s, c) = self.rotation.to_radians().sin_cos();
        let turn = |px: f64, py: f64| {
            let (dx, dy) = (px - self.x, py - self.y);
            (self.x + dx * c - dy * s, self.y + dx * s + dy * c)
        };
        let corners = [
            turn(b.x0, b.y0),
            turn(b.x1, b.y0),
            turn(b.x0, b.y1),
            turn(b.x1, b.y1),
        ];
        BBox {
            x0: corners.iter().map(|p| p.0).fold(f64::INFINITY, f64::min),
            y0: corners.iter().map(|p| p.1).fold(f64::INFINITY, f64::min),
            x1: corners
                .iter()
                .map(|p| p.0)
                .fold(f64::NEG_INFINITY, f64::max),
            y1: corners
                .iter()
                .map(|p| p.1)
                .fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// The point the text is visually centred on (its box's centre).
    pub fn center(&self) -> (f64, f64) {
        self.bbox().center()
    }
}

/// `dy` in pixels: `em` is the font size, `ex` DejaVu Sans's x-height (0.55 em).
fn dy_px(dy: &str, size: f64) -> f64 {
    let dy = dy.trim();
    if let Some(v) = dy.strip_suffix("em") {
        v.parse::<f64>().unwrap_or(0.0) * size
    } else if let Some(v) = dy.strip_suffix("ex") {
        v.parse::<f64>().unwrap_or(0.0) * 0.55 * size
    } else {
        dy.parse::<f64>().unwrap_or(0.0)
    }
}

/// The advance width of `s` in DejaVu Sans at `size` pixels.
pub fn text_width(s: &str, size: f64) -> f64 {
    static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
    let font = FontRef::try_from_slice(FONT).expect("the embedded font parses");
    let scaled = font.as_scaled(PxScale::from(size as f32));
    s.chars()
        .map(|c| scaled.h_advance(font.glyph_id(c)) as f64)
        .sum()
}

/// A `<line>`.
#[derive(Clone, Debug)]
pub struct Segment {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    pub stroke: String,
}

/// A `<rect>`.
#[derive(Clone, Debug)]
pub struct Rect {
    pub bbox: BBox,
    pub fill: String,
    pub stroke: String,
}

/// A `<polyline>` or `<polygon>`, with its points.
#[derive(Clone, Debug)]
pub struct Shape {
    pub points: Vec<(f64, f64)>,
    pub fill: String,
    pub stroke: String,
    pub closed: bool,
}

/// A `<circle>`.
#[derive(Clone, Debug)]
pub struct Circle {
    pub cx: f64,
    pub cy: f64,
    pub r: f64,
    pub fill: String,
    pub stroke: String,
}

/// Everything drawn, in document order per kind.
#[derive(Clone, Debug, Default)]
pub struct Svg {
    pub width: f64,
    pub height: f64,
    pub texts: Vec<Text>,
    pub lines: Vec<Segment>,
    pub rects: Vec<Rect>,
    pub shapes: Vec<Shape>,
    pub circles: Vec<Circle>,
}

impl Svg {
    /// The texts whose content is exactly `s`.
    pub fn texts_equal(&self, s: &str) -> Vec<&Text> {
        self.texts.iter().filter(|t| t.content == s).collect()
    }
}

/// Parses an SVG document (as plotters writes it) into what it draws.
pub fn parse(svg: &str) -> Svg {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let num = |n: &roxmltree::Node, a: &str| -> f64 {
        n.attribute(a)
            .map(|v| {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{a}={v} is a number"))
            })
            .unwrap_or(0.0)
    };
    let attr = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap_or("").to_string();
    let points = |s: &str| -> Vec<(f64, f64)> {
        s.split_whitespace()
            .filter_map(|p| {
                let (x, y) = p.split_once(',')?;
                Some((x.parse().ok()?, y.parse().ok()?))
            })
            .collect()
    };
    let root = doc.root_element();
    let mut out = Svg {
        width: num(&root, "width"),
        height: num(&root, "height"),
        ..Svg::default()
    };
    for n in root.descendants().filter(|n| n.is_element()) {
        match n.tag_name().name() {
            "text" => {
                let rotation = n
                    .attribute("transform")
                    .and_then(|t| t.trim().strip_prefix("rotate("))
                    .and_then(|t| t.split(',').next())
                    .and_then(|a| a.trim().parse().ok())
                    .unwrap_or(0.0);
                let content: String = n
                    .descendants()
                    .filter(|c| c.is_text())
                    .filter_map(|c| c.text())
                    .collect();
                out.texts.push(Text {
                    x: num(&n, "x"),
                    y: num(&n, "y"),
                    anchor: attr(&n, "text-anchor"),
                    dy: attr(&n, "dy"),
                    size: num(&n, "font-size"),
                    fill: attr(&n, "fill"),
                    rotation,
                    content: content.trim().to_string(),
                });
            }
            "line" => out.lines.push(Segment {
                x1: num(&n, "x1"),
                y1: num(&n, "y1"),
                x2: num(&n, "x2"),
                y2: num(&n, "y2"),
                stroke: attr(&n, "stroke"),
            }),
            "rect" => {
                let (x, y) = (num(&n, "x"), num(&n, "y"));
                out.rects.push(Rect {
                    bbox: BBox {
                        x0: x,
                        y0: y,
                        x1: x + num(&n, "width"),
                        y1: y + num(&n, "height"),
                    },
                    fill: attr(&n, "fill"),
                    stroke: attr(&n, "stroke"),
                });
            }
            "polyline" | "polygon" => out.shapes.push(Shape {
                points: points(n.attribute("points").unwrap_or("")),
                fill: attr(&n, "fill"),
                stroke: attr(&n, "stroke"),
                closed: n.tag_name().name() == "polygon",
            }),
            "circle" => out.circles.push(Circle {
                cx: num(&n, "cx"),
                cy: num(&n, "cy"),
                r: num(&n, "r"),
                fill: attr(&n, "fill"),
                stroke: attr(&n, "stroke"),
            }),
            _ => {}
        }
    }
    out
}

/// Parses a tick label as a number: `40k`, `1.5M`, `$6.50`, `2.5 s`, `30%`.
pub fn label_value(label: &str) -> Option<f64> {
    let s = label.trim().trim_start_matches('$');
    let s = s.trim_end_matches(" s").trim_end_matches('%').trim();
    let s = s.replace(',', "");
    let (s, factor) = if let Some(v) = s.strip_suffix('k') {
        (v.to_string(), 1e3)
    } else if let Some(v) = s.strip_suffix('M') {
        (v.to_string(), 1e6)
    } else {
        (s, 1.0)
    };
    s.parse::<f64>().ok().map(|v| v * factor)
}

#[test]
fn text_boxes_follow_anchor_dy_and_rotation() {
    let svg = parse(
        r##"<svg width="100" height="50" xmlns="http://www.w3.org/2000/svg">
<text x="50" y="20" dy="0.76em" text-anchor="end" font-size="10" fill="#000">ab</text>
<text x="6" y="30" dy="0.76em" text-anchor="middle" font-size="10" fill="#000" transform="rotate(270, 6, 30)">ab</text>
</svg>"##,
    );
    let w = text_width("ab", 10.0);
    assert!(w > 10.0 && w < 14.0, "{w}");
    let b = svg.texts[0].bbox();
    assert!((b.x1 - 50.0).abs() < 1e-9 && (b.x0 - (50.0 - w)).abs() < 1e-9);
    assert!(
        (b.y0 - 20.0).abs() < 1e-9,
        "the top of hanging text is at y: {b:?}"
    );
    let r = svg.texts[1].bbox();
    assert!(
        (r.y1 - r.y0 - w).abs() < 1e-6,
        "rotated text is tall: {r:?}"
    );
    assert_eq!(label_value("40k"), Some(40_000.0));
    assert_eq!(label_value("$6.50"), Some(6.5));
    assert_eq!(label_value("2.5 s"), Some(2.5));
}
