//! Quantities over time, one panel per quantity, a line per policy.

use super::*;

/// One panel of the time-series chart.
pub(super) struct SeriesPanel {
    pub(super) caption: String,
    pub(super) y_desc: String,
    pub(super) y: Axis,
    pub(super) lines: Vec<Line>,
}

pub(super) struct SeriesFigure {
    pub(super) title: String,
    pub(super) x: Axis,
    pub(super) panels: Vec<SeriesPanel>,
    pub(super) legend: Vec<LegendEntry>,
}

impl SeriesFigure {
    pub(super) fn new(series: &Series, palette: &PolicyColors, title: &str) -> SeriesFigure {
        let t_max = series
            .policies
            .iter()
            .flat_map(|p| p.columns.get("t_s").into_iter().flatten())
            .fold(0.0f64, |m, t| if t.is_finite() { m.max(*t) } else { m });
        let mut panels = Vec::new();
        let quantities: [(&str, &str, &str); 5] = [
            (
                "admitted_tokens_per_s",
                "tokens admitted per second",
                "tokens / s",
            ),
            ("rate_limited_per_s", "429s per second", "429s / s"),
            (
                "goodput_calls_per_s",
                "goodput: calls completed per second",
                "calls / s",
            ),
            (
                "in_flight",
                "attempts in flight at the provider",
                "attempts",
            ),
            ("client_queue", "calls waiting in the client", "calls"),
        ];
        let mut limit_drawn = false;
        for (column, caption, unit) in quantities {
            let mut lines: Vec<Line> = series
                .policies
                .iter()
                .map(|p| Line::new(&p.name, palette.color(&p.name), p.points(column)))
                .collect();
            let any = lines.iter().any(|l| !l.points.is_empty());
            let nonzero = lines.iter().any(|l| l.points.iter().any(|p| p.1 != 0.0));
            // The client queue is shown only when some policy queues.
            if !any || (column == "client_queue" && !nonzero) {
                continue;
            }
            mark_duplicates(&mut lines);
            if column == "admitted_tokens_per_s"
                && let Some(limit) = series
                    .policies
                    .iter()
                    .map(|p| p.points("limit_tokens_per_s"))
                    .find(|pts| !pts.is_empty())
            {
                let mut l = Line::new("provider limit", INK, limit);
                l.dashed = true;
                lines.push(l);
                limit_drawn = true;
            }
            let max = lines
                .iter()
                .flat_map(|l| l.points.iter().map(|p| p.1))
                .fold(0.0f64, f64::max);
            panels.push(SeriesPanel {
                caption: caption.to_string(),
                y_desc: unit.to_string(),
                y: Axis::from_zero(max, 4),
                lines,
            });
        }
        let mut legend: Vec<LegendEntry> = panels
            .first()
            .map(|p| {
                p.lines
                    .iter()
                    .filter(|l| !l.dashed)
                    .map(Line::legend)
                    .collect()
            })
            .unwrap_or_default();
        if limit_drawn {
            legend.push(LegendEntry {
                label: "provider limit".into(),
                color: INK,
                mark: Mark::Dashed,
            });
        }
        SeriesFigure {
            title: title.to_string(),
            x: Axis::linear(0.0, t_max.max(1.0), 12),
            panels,
            legend,
        }
    }
}

impl Figure for SeriesFigure {
    fn size(&self) -> (u32, u32) {
        (1100, TITLE_BAND + 30 + 215 * self.panels.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let lw = legend_width(root, &self.legend);
        let (w, h) = body.dim_in_pixel();
        let (plots, side) = body.split_horizontally(w - lw);
        let n = self.panels.len() as u32;
        // The last panel also carries the x axis title.
        let panel_h = (h - 30) / n.max(1);
        let mut breaks: Vec<u32> = (1..n).map(|i| i * panel_h).collect();
        breaks.retain(|b| *b < h);
        let areas = plots.split_by_breakpoints(Vec::<u32>::new(), breaks);
        for (i, (panel, area)) in self.panels.iter().zip(&areas).enumerate() {
            let mut chart = frame(
                area,
                &Frame {
                    caption: Some(&panel.caption),
                    x: &self.x,
                    y: &panel.y,
                    x_desc: "time (s)",
                    y_desc: &panel.y_desc,
                    x_title: i + 1 == self.panels.len(),
                },
            )?;
            draw_lines(&mut chart, &self.x, &panel.y, &panel.lines)?;
        }
        draw_legend(&side, &self.legend, 40)
    }
}
