//! A plot area with its axes, legends and lines: the pieces line charts are built from.

use super::*;

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Mark {
    Line,
    Dashed,
    Bar,
    /// The failure mark: a red cross in a red ring (see [`draw_failure_mark`]).
    Failure,
}

#[derive(Clone, Debug)]
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) mark: Mark,
    /// Whether the label is a failed policy's: written in the failure red.
    pub(super) failed: bool,
}

/// The width a legend column needs.
pub(super) fn legend_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> u32 {
    legend_width_up_to(root, entries, 360)
}

/// The same, up to `max` pixels (the per-provider charts, whose failed policies' long labels
/// would run off a 360-pixel column).
pub(super) fn legend_width_up_to<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    max: u32,
) -> u32 {
    let style = font(LEGEND_SIZE);
    let widest = entries
        .iter()
        .map(|e| root.estimate_text_size(&e.label, &style).map_or(0, |s| s.0))
        .max()
        .unwrap_or(0);
    (widest + 60).clamp(120, max)
}

/// Draws a legend column, entries from `top` down.
pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    top: i32,
) -> Drawn {
    let style = font(LEGEND_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let y = top + i as i32 * 26;
        let x = 10;
        match e.mark {
            Mark::Line => {
                area.draw(&PathElement::new(
                    vec![(x, y), (x + 30, y)],
                    e.color.stroke_width(3),
                ))
                .msg()?;
            }
            Mark::Dashed => {
                for k in 0..3 {
                    let x0 = x + k * 12;
                    area.draw(&PathElement::new(
                        vec![(x0, y), (x0 + 7, y)],
                        e.color.stroke_width(2),
                    ))
                    .msg()?;
                }
            }
            Mark::Bar => {
                area.draw(&Rectangle::new(
                    [(x + 6, y - 7), (x + 24, y + 7)],
                    e.color.filled(),
                ))
                .msg()?;
            }
            Mark::Failure => draw_failure_mark(area, (x + 15, y))?,
        }
        let style = if e.mark == Mark::Failure || e.failed {
            style.color(&FAILURE)
        } else {
            style.clone()
        };
        area.draw_text(&e.label, &style, (x + 40, y)).msg()?;
    }
    Ok(())
}

/// A plot area with axes, ticks, grid and axis titles, in plot space.
pub(super) type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

pub(super) struct Frame<'s> {
    pub(super) caption: Option<&'s str>,
    pub(super) x: &'s Axis,
    pub(super) y: &'s Axis,
    pub(super) x_desc: &'s str,
    pub(super) y_desc: &'s str,
    /// Whether to leave room for and draw the x axis title.
    pub(super) x_title: bool,
}

pub(super) fn frame<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    f: &Frame,
) -> Result<Plot<'a, DB>, String> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(8)
        .margin_right(18)
        .margin_left(6)
        .margin_bottom(4)
        .x_label_area_size(if f.x_title { 52 } else { 28 })
        .y_label_area_size(86);
    if let Some(c) = f.caption {
        builder.caption(c, font(CAPTION_SIZE));
    }
    let mut chart = builder.build_cartesian_2d(f.x.range(), f.y.range()).msg()?;
    let xf = |v: &f64| f.x.label(*v);
    let yf = |v: &f64| f.y.label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.bold_line_style(GRID.stroke_width(1))
        .axis_style(MUTED.stroke_width(1))
        .label_style(font(TICK_SIZE))
        .axis_desc_style(font(DESC_SIZE))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .y_desc(f.y_desc);
    if f.x_title {
        mesh.x_desc(f.x_desc);
    }
    if matches!(f.x.kind, AxisKind::Categories(_)) {
        mesh.disable_x_mesh();
    }
    mesh.draw().msg()?;
    Ok(chart)
}

/// A line of a line chart, in data space.
#[derive(Clone, Debug)]
pub(super) struct Line {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) dashed: bool,
    pub(super) markers: bool,
    /// Per point: drawn as a cross (some runs there had failed jobs) rather than a dot.
    pub(super) crosses: Vec<bool>,
    /// `(x, low, high)`: a confidence band drawn beneath the line.
    pub(super) band: Vec<(f64, f64, f64)>,
    /// Whether the policy's jobs failed: its legend label is written in red.
    pub(super) failed: bool,
}

impl Line {
    pub(super) fn new(label: &str, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
        Line {
            label: label.to_string(),
            color,
            points,
            dashed: false,
            markers: false,
            crosses: Vec::new(),
            band: Vec::new(),
            failed: false,
        }
    }

    pub(super) fn legend(&self) -> LegendEntry {
        LegendEntry {
            label: self.label.clone(),
            color: self.color,
            mark: if self.dashed {
                Mark::Dashed
            } else {
                Mark::Line
            },
            failed: self.failed,
        }
    }
}

/// Marks lines identical to an earlier one: "fixed (same as bucket_only)", so that a line hidden
/// under another is still accounted for.
pub(super) fn mark_duplicates(lines: &mut [Line]) {
    for i in 1..lines.len() {
        if lines[i].points.is_empty() {
            continue;
        }
        if let Some(j) = (0..i).find(|&j| lines[j].points == lines[i].points) {
            let first = lines[j]
                .label
                .split(" (same as")
                .next()
                .unwrap_or("")
                .to_string();
            lines[i].label = format!("{} (same as {first})", lines[i].label);
        }
    }
}

pub(super) fn draw_lines<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    x: &Axis,
    y: &Axis,
    lines: &[Line],
) -> Drawn {
    let map = |&(a, b): &(f64, f64)| (x.map(a), y.map(b));
    for l in lines {
        if l.band.len() >= 2 {
            let mut poly: Vec<(f64, f64)> =
                l.band.iter().map(|&(a, _, hi)| map(&(a, hi))).collect();
            poly.extend(l.band.iter().rev().map(|&(a, lo, _)| map(&(a, lo))));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    l.color.mix(0.15).filled(),
                )))
                .msg()?;
        }
    }
    for l in lines {
        let pts: Vec<(f64, f64)> = l.points.iter().map(map).collect();
        if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    pts.clone(),
                    8,
                    6,
                    l.color.stroke_width(2),
                ))
                .msg()?;
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), l.color.stroke_width(2)))
                .msg()?;
        }
        if l.markers {
            for (i, &p) in pts.iter().enumerate() {
                if !l.crosses.get(i).copied().unwrap_or(false) {
                    chart
                        .draw_series(std::iter::once(Circle::new(p, 4, l.color.filled())))
                        .msg()?;
                }
            }
        }
    }
    // Failure marks last, over every line: a failed point is never hidden under another line.
    for l in lines.iter().filter(|l| l.markers) {
        for (i, p) in l.points.iter().enumerate() {
            if l.crosses.get(i).copied().unwrap_or(false) {
                let (x, y) = chart.backend_coord(&map(p));
                let area = chart.plotting_area();
                let (bx, by) = area.get_base_pixel();
                draw_failure_mark(&area.strip_coord_spec(), (x - bx, y - by))?;
            }
        }
    }
    Ok(())
}

/// The radius of the failure mark's ring, in pixels.
pub(super) const FAILURE_RING: i32 = 8;

/// The failure mark at a pixel: a white disc with a red ring and a thick red cross, in FAILURE's
/// colour whatever the policy's, so that a failed point reads as a failure before it reads as a
/// value.
pub(super) fn draw_failure_mark<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
) -> Drawn {
    area.draw(&Circle::new((x, y), FAILURE_RING, WHITE.filled()))
        .msg()?;
    area.draw(&Circle::new((x, y), FAILURE_RING, FAILURE.stroke_width(2)))
        .msg()?;
    area.draw(&Cross::new((x, y), 4, FAILURE.stroke_width(3)))
        .msg()
}
