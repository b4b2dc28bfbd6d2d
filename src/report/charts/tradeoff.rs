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
                // Policies on the same spot share one point and one label.
                if let Some(q) = points.iter_mut().find(|q| q.x == x && q.y == y) {
                    q.label = format!("{} = {}", q.label, p.name);
                    q.failed |= failed;
                    continue;
                }
                points.push(Point {
                    label: p.name.clone(),
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

impl Figure for TradeoffFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let (w, h) = body.dim_in_pixel();
        let (body, _) = body.split_vertically(h - 26);
        let n = self.panels.len().max(1);
        let areas = body.split_evenly((1, n));
        let _ = w;
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
                if p.x_ci > 0.0 {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(p.x - p.x_ci, p.y), (p.x + p.x_ci, p.y)],
                            p.color.mix(0.6).stroke_width(2),
                        )))
                        .msg()?;
                }
                if p.y_ci > 0.0 {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(p.x, p.y - p.y_ci), (p.x, p.y + p.y_ci)],
                            p.color.mix(0.6).stroke_width(2),
                        )))
                        .msg()?;
                }
                if p.failed {
                    chart
                        .draw_series(std::iter::once(Cross::new(
                            (p.x, p.y),
                            7,
                            p.color.stroke_width(3),
                        )))
                        .msg()?;
                } else {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (p.x, p.y),
                            7,
                            p.color.filled(),
                        )))
                        .msg()?;
                }
            }
            place_labels(root, &chart, points)?;
        }
        let note = if self.any_failed {
            "dot: every job finished; cross: some jobs failed (mean jobs_failed > 0)"
        } else {
            "every policy finished all its jobs"
        };
        draw_footnote(root, note)
    }
}

/// Labels each point where the label overlaps no point, no other label and stays inside the
/// plot: right of the point, else left, above, below, or diagonally.
pub(super) fn place_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Plot<'_, DB>,
    points: &[Point],
) -> Drawn {
    let style = font(LEGEND_SIZE);
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let pixel: Vec<(i32, i32)> = points
        .iter()
        .map(|p| chart.backend_coord(&(p.x, p.y)))
        .collect();
    let mut taken: Vec<(i32, i32, i32, i32)> = pixel
        .iter()
        .map(|&(x, y)| (x - 9, y - 9, x + 9, y + 9))
        .collect();
    // Error bars are taken too.
    for p in points {
        if p.x_ci > 0.0 {
            let (l, y) = chart.backend_coord(&(p.x - p.x_ci, p.y));
            let (r, _) = chart.backend_coord(&(p.x + p.x_ci, p.y));
            taken.push((l, y - 2, r, y + 2));
        }
        if p.y_ci > 0.0 {
            let (x, t) = chart.backend_coord(&(p.x, p.y + p.y_ci));
            let (_, b) = chart.backend_coord(&(p.x, p.y - p.y_ci));
            taken.push((x - 2, t, x + 2, b));
        }
    }
    // Place the crowded ones first: by x, then y.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| pixel[a].cmp(&pixel[b]));
    for i in order {
        let p = &points[i];
        let (w, h) = root.estimate_text_size(&p.label, &style).msg()?;
        let (w, h) = (w as i32, h as i32);
        let (px, py) = pixel[i];
        let candidates = [
            (px + 12, py - h / 2),
            (px - 12 - w, py - h / 2),
            (px - w / 2, py - 12 - h),
            (px - w / 2, py + 12),
            (px + 10, py - 10 - h),
            (px + 10, py + 10),
            (px - 10 - w, py - 10 - h),
            (px - 10 - w, py + 10),
            (px + 12, py - 2 * h),
            (px + 12, py + h),
            (px - 12 - w, py - 2 * h),
            (px - 12 - w, py + h),
        ];
        let fits = |&(x, y): &(i32, i32)| {
            let b = (x - 2, y - 1, x + w + 2, y + h + 1);
            b.0 >= xr.start
                && b.2 <= xr.end
                && b.1 >= yr.start
                && b.3 <= yr.end
                && taken
                    .iter()
                    .all(|t| b.2 <= t.0 || b.0 >= t.2 || b.3 <= t.1 || b.1 >= t.3)
        };
        let (x, y) = candidates
            .iter()
            .copied()
            .find(fits)
            .unwrap_or((px + 12, py - h / 2));
        taken.push((x - 2, y - 1, x + w + 2, y + h + 1));
        root.draw_text(&p.label, &style.color(&p.color.mix(1.0)), (x, y))
            .msg()?;
    }
    Ok(())
}
