//! Cost against tail latency, a labelled point per policy.

use super::*;

/// A labelled point of the trade-off chart.
#[derive(Clone, Debug)]
pub(super) struct Point {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) x_ci: f64,
    pub(super) y_ci: f64,
    pub(super) failed: bool,
}

pub(super) struct TradeoffFigure {
    pub(super) title: String,
    /// (x metric, points, x axis, y axis)
    pub(super) panels: Vec<(String, Vec<Point>, Axis, Axis)>,
    pub(super) any_failed: bool,
}

/// "FAILED 1/1 jobs" (or "FAILED 0.3/1 jobs (mean)" over replications), from the summary's
/// means of `jobs_failed` and `jobs`.
pub(super) fn failed_note(failed: f64, jobs: f64) -> String {
    let n = |v: f64| {
        if (v - v.round()).abs() < 1e-9 {
            format!("{}", v.round())
        } else {
            let s = format!("{v:.2}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    };
    let mean = (failed - failed.round()).abs() > 1e-9 || (jobs - jobs.round()).abs() > 1e-9;
    match (jobs.is_finite() && jobs > 0.0, mean) {
        (true, false) => format!("FAILED {}/{} jobs", n(failed), n(jobs)),
        (true, true) => format!("FAILED {}/{} jobs (mean)", n(failed), n(jobs)),
        (false, _) => format!("FAILED {} jobs", n(failed)),
    }
}

impl TradeoffFigure {
    pub(super) fn new(summary: &Summary, palette: &PolicyColors, title: &str) -> TradeoffFigure {
        let mut panels = Vec::new();
        let mut any_failed = false;
        for metric in ["job_latency_p99_s", "call_latency_p99_s"] {
            if !summary.metrics.iter().any(|m| m == metric) {
                continue;
            }
            let mut points: Vec<Point> = Vec::new();
            for p in &summary.policies {
                let (x, y) = (p.get(metric), p.get("cost_usd"));
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                let failed = p.get("jobs_failed") > 0.0;
                any_failed |= failed;
                let name = if failed {
                    format!(
                        "{} \u{2014} {}",
                        p.name,
                        failed_note(p.get("jobs_failed"), p.get("jobs"))
                    )
                } else {
                    p.name.clone()
                };
                // Policies on the same spot share one point and one label.
                if let Some(q) = points.iter_mut().find(|q| q.x == x && q.y == y) {
                    q.label = format!("{} = {name}", q.label);
                    q.failed |= failed;
                    continue;
                }
                points.push(Point {
                    label: name,
                    color: palette.color(&p.name),
                    x,
                    y,
                    x_ci: p.ci(metric),
                    y_ci: p.ci("cost_usd"),
                    failed,
                });
            }
            let xmax = points.iter().map(|p| p.x + p.x_ci).fold(0.0, f64::max);
            let ymax = points.iter().map(|p| p.y + p.y_ci).fold(0.0, f64::max);
            // Room to the right and above for labels.
            let x = Axis::from_zero(xmax * 1.12, 5);
            let y = Axis::from_zero(ymax * 1.08, 5);
            panels.push((metric.to_string(), points, x, y));
        }
        TradeoffFigure {
            title: title.to_string(),
            panels,
            any_failed,
        }
    }
}

/// The radius of a finished policy's dot and of the ring around a failed one's cross.
const DOT: i32 = 7;
const RING: i32 = 11;

impl Figure for TradeoffFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let (_, h) = body.dim_in_pixel();
        let (body, _) = body.split_vertically(h - 26);
        let n = self.panels.len().max(1);
        let areas = body.split_evenly((1, n));
        for ((metric, points, x, y), area) in self.panels.iter().zip(&areas) {
            let mut chart = frame(
                area,
                &Frame {
                    caption: None,
                    x,
                    y,
                    x_desc: &metric_label(metric),
                    y_desc: "cost (USD)",
                    x_title: true,
                },
            )?;
            for p in points {
                let bar = if p.failed { FAILURE } else { p.color };
                if p.x_ci > 0.0 {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(p.x - p.x_ci, p.y), (p.x + p.x_ci, p.y)],
                            bar.mix(0.6).stroke_width(2),
                        )))
                        .msg()?;
                }
                if p.y_ci > 0.0 {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(p.x, p.y - p.y_ci), (p.x, p.y + p.y_ci)],
                            bar.mix(0.6).stroke_width(2),
                        )))
                        .msg()?;
                }
            }
            // Finished policies first, failed ones on top: a failure is never hidden.
            for p in points.iter().filter(|p| !p.failed) {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (p.x, p.y),
                        DOT,
                        p.color.filled(),
                    )))
                    .msg()?;
            }
            for p in points.iter().filter(|p| p.failed) {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (p.x, p.y),
                        RING,
                        WHITE.filled(),
                    )))
                    .msg()?;
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (p.x, p.y),
                        RING,
                        FAILURE.stroke_width(2),
                    )))
                    .msg()?;
                chart
                    .draw_series(std::iter::once(Cross::new(
                        (p.x, p.y),
                        6,
                        FAILURE.stroke_width(4),
                    )))
                    .msg()?;
            }
            place_labels(root, &chart, points, false)?;
        }
        let note = if self.any_failed {
            "red \u{2717} in a ring, label in red: that policy FAILED jobs (mean jobs_failed > 0); it looks cheap and fast only because it stopped early"
        } else {
            "every policy finished all its jobs"
        };
        draw_footnote_colored(root, note, if self.any_failed { FAILURE } else { MUTED })
    }
}

/// A box in pixels: left, top, right, bottom.
type PxBox = (i32, i32, i32, i32);

fn boxes_overlap(a: &PxBox, b: &PxBox) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Whether the segment from `p` to `q` passes through the box.
fn segment_hits(p: (f64, f64), q: (f64, f64), b: &PxBox) -> bool {
    // Sample along the segment: leaders are short and boxes tens of pixels wide.
    let steps = (((q.0 - p.0).abs() + (q.1 - p.1).abs()) / 2.0)
        .ceil()
        .max(1.0) as i32;
    (0..=steps).any(|k| {
        let t = k as f64 / steps as f64;
        let (x, y) = (p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t);
        x > b.0 as f64 && x < b.2 as f64 && y > b.1 as f64 && y < b.3 as f64
    })
}

/// The point on a box's edge nearest to `(x, y)`.
fn nearest_on_box(b: &PxBox, (x, y): (i32, i32)) -> (i32, i32) {
    (x.clamp(b.0, b.2), y.clamp(b.1, b.3))
}

/// Labels each point so that no label overlaps another label, any point's marker or error bar,
/// or leaves the plot area (so it never covers an axis, a tick label or the title). A label goes
/// beside its point when there is room; otherwise at the nearest free place in the plot, joined to
/// its point by a thin leader line that crosses no other label or marker.
/// Places each point's label beside it (or, crowded, elsewhere with a leader line). With
/// `backdrop`, each label sits on a white box, for charts whose labels may lie over a cloud of
/// unlabelled marks (a tune's candidates).
pub(super) fn place_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Plot<'_, DB>,
    points: &[Point],
    backdrop: bool,
) -> Drawn {
    let style = font(LEGEND_SIZE);
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let pixel: Vec<(i32, i32)> = points
        .iter()
        .map(|p| chart.backend_coord(&(p.x, p.y)))
        .collect();
    let mut markers: Vec<PxBox> = pixel
        .iter()
        .zip(points)
        .map(|(&(x, y), p)| {
            let r = if p.failed { RING + 2 } else { DOT + 2 };
            (x - r, y - r, x + r, y + r)
        })
        .collect();
    // Error bars are taken too.
    for p in points {
        if p.x_ci > 0.0 {
            let (l, y) = chart.backend_coord(&(p.x - p.x_ci, p.y));
            let (r, _) = chart.backend_coord(&(p.x + p.x_ci, p.y));
            markers.push((l, y - 2, r, y + 2));
        }
        if p.y_ci > 0.0 {
            let (x, t) = chart.backend_coord(&(p.x, p.y + p.y_ci));
            let (_, b) = chart.backend_coord(&(p.x, p.y - p.y_ci));
            markers.push((x - 2, t, x + 2, b));
        }
    }
    let mut labels: Vec<PxBox> = Vec::new();
    let mut leaders: Vec<((f64, f64), (f64, f64))> = Vec::new();
    // Place the crowded ones first: by x, then y.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| pixel[a].cmp(&pixel[b]));
    for i in order {
        let p = &points[i];
        let (w, h) = root.estimate_text_size(&p.label, &style).msg()?;
        let (w, h) = (w as i32, h as i32);
        let (px, py) = pixel[i];
        let r = if p.failed { RING } else { DOT };
        let near = [
            (px + r + 5, py - h / 2),
            (px - r - 5 - w, py - h / 2),
            (px - w / 2, py - r - 5 - h),
            (px - w / 2, py + r + 5),
            (px + r + 3, py - r - 3 - h),
            (px + r + 3, py + r + 3),
            (px - r - 3 - w, py - r - 3 - h),
            (px - r - 3 - w, py + r + 3),
        ];
        // Then every place in the plot, nearest first, for a label with a leader.
        let mut far: Vec<(i32, i32)> = Vec::new();
        let mut y = yr.start + 2;
        while y + h + 2 <= yr.end {
            let mut x = xr.start + 3;
            while x + w + 3 <= xr.end {
                far.push((x, y));
                x += 4;
            }
            y += 4;
        }
        let centre = |&(x, y): &(i32, i32)| {
            let (cx, cy) = (x + w / 2 - px, y + h / 2 - py);
            (cx as i64).pow(2) + (cy as i64).pow(2)
        };
        far.sort_by_key(centre);
        let bx = |(x, y): (i32, i32)| (x - 3, y - 2, x + w + 3, y + h + 2);
        let inside =
            |b: &PxBox| b.0 >= xr.start && b.2 <= xr.end && b.1 >= yr.start && b.3 <= yr.end;
        let free = |b: &PxBox| {
            inside(b)
                && markers.iter().all(|m| !boxes_overlap(b, m))
                && labels.iter().all(|l| !boxes_overlap(b, l))
                && leaders.iter().all(|&(a, c)| !segment_hits(a, c, b))
        };
        let leader_for = |b: &PxBox| {
            let (lx, ly) = nearest_on_box(b, (px, py));
            let (dx, dy) = ((lx - px) as f64, (ly - py) as f64);
            let d = (dx * dx + dy * dy).sqrt().max(1.0);
            let from = (
                px as f64 + dx / d * (r + 2) as f64,
                py as f64 + dy / d * (r + 2) as f64,
            );
            (from, (lx as f64, ly as f64))
        };
        let clear_leader = |b: &PxBox| {
            let (a, c) = leader_for(b);
            // Markers over the point itself (its own, and those of policies a pixel away) are
            // where the leader starts, not in its way.
            markers
                .iter()
                .filter(|m| !(m.0 <= px && px <= m.2 && m.1 <= py && py <= m.3))
                .all(|m| !segment_hits(a, c, m))
                && labels.iter().all(|l| !segment_hits(a, c, l))
        };
        let spot = near
            .iter()
            .copied()
            .find(|&c| free(&bx(c)))
            .map(|c| (c, false))
            .or_else(|| {
                far.iter()
                    .copied()
                    .find(|&c| free(&bx(c)) && clear_leader(&bx(c)))
                    .or_else(|| far.iter().copied().find(|&c| free(&bx(c))))
                    .map(|c| (c, true))
            });
        let ((x, y), leader) = spot.unwrap_or(((px + r + 5, py - h / 2), false));
        let b = bx((x, y));
        if leader {
            let (a, c) = leader_for(&b);
            let colour = if p.failed { FAILURE } else { p.color };
            root.draw(&PathElement::new(
                vec![
                    (a.0.round() as i32, a.1.round() as i32),
                    (c.0.round() as i32, c.1.round() as i32),
                ],
                colour.stroke_width(1),
            ))
            .msg()?;
            leaders.push((a, c));
        }
        labels.push(b);
        if backdrop {
            root.draw(&Rectangle::new(
                [(b.0, b.1), (b.2, b.3)],
                WHITE.mix(0.85).filled(),
            ))
            .msg()?;
        }
        let colour = if p.failed { FAILURE } else { p.color };
        root.draw_text(&p.label, &style.color(&colour), (x, y))
            .msg()?;
    }
    Ok(())
}
