//! Quantities over time, one panel per quantity, a line per policy.

use super::*;

/// One panel of the time-series chart.
pub(super) struct SeriesPanel {
    pub(super) caption: String,
    pub(super) y_desc: String,
    pub(super) y: Axis,
    pub(super) lines: Vec<Line>,
    /// Whether each line's last value is written at its end (the spend panel: the total).
    pub(super) end_labels: Option<String>,
}

pub(super) struct SeriesFigure {
    pub(super) title: String,
    pub(super) x: Axis,
    pub(super) panels: Vec<SeriesPanel>,
    pub(super) legend: Vec<LegendEntry>,
    /// Policies a guard stopped: the time their series ends, their colour, their name.
    pub(super) stops: Vec<(f64, RGBColor, String)>,
    /// The widest the legend column may be: wider with per-provider panels.
    pub(super) legend_max: u32,
}

impl SeriesFigure {
    /// `stopped`: the policies whose run (replication 0) a guard stopped; their lines end there,
    /// marked.
    pub(super) fn new(
        series: &Series,
        palette: &PolicyColors,
        title: &str,
        stopped: &[String],
    ) -> SeriesFigure {
        let t_max = series
            .policies
            .iter()
            .flat_map(|p| p.columns.get("t_s").into_iter().flatten())
            .fold(0.0f64, |m, t| if t.is_finite() { m.max(*t) } else { m });
        let mut panels = Vec::new();
        let quantities: [(&str, &str, &str); 6] = [
            ("spend_usd", "money spent so far (cumulative)", "USD"),
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
                .map(|p| {
                    let mut points = p.points(column);
                    // Spend is cumulative: nothing is spent at the start.
                    if column == "spend_usd" && points.first().is_some_and(|f| f.0 > 0.0) {
                        points.insert(0, (0.0, 0.0));
                    }
                    let mut l = Line::new(&palette.label(&p.name), palette.color(&p.name), points);
                    l.failed = palette.failed(&p.name);
                    l
                })
                .collect();
            let any = lines.iter().any(|l| !l.points.is_empty());
            let nonzero = lines.iter().any(|l| l.points.iter().any(|p| p.1 != 0.0));
            // The client queue is shown only when some policy queues, spend when calls cost.
            if !any || (matches!(column, "client_queue" | "spend_usd") && !nonzero) {
                continue;
            }
            mark_duplicates(&mut lines);
            if column == "admitted_tokens_per_s"
                && let Some(limit) = series
                    .policies
                    .iter()
                    .map(|p| p.points("limit_tokens_per_s"))
                    // The longest run's: a run stopped early would end the limit with it.
                    .reduce(|a, b| if b.len() > a.len() { b } else { a })
                    .filter(|pts| !pts.is_empty())
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
                end_labels: (column == "spend_usd").then(|| column.to_string()),
            });
        }
        // With several providers: each provider's goodput and its 429s, a panel each, so that a
        // provider a fallback swamps shows its answers collapse as its refusals soar.
        for provider in &series.providers {
            for (quantity, caption, unit) in [
                (
                    "goodput_calls_per_s",
                    format!("goodput at {provider}: calls it answered per second"),
                    "calls / s",
                ),
                (
                    "rate_limited_per_s",
                    format!("429s per second at {provider}"),
                    "429s / s",
                ),
            ] {
                let column = data::provider_column(provider, quantity);
                let mut lines: Vec<Line> = series
                    .policies
                    .iter()
                    .map(|p| {
                        let mut l = Line::new(
                            &palette.label(&p.name),
                            palette.color(&p.name),
                            p.points(&column),
                        );
                        l.failed = palette.failed(&p.name);
                        l
                    })
                    .collect();
                if lines.iter().all(|l| l.points.is_empty()) {
                    continue;
                }
                mark_duplicates(&mut lines);
                let max = lines
                    .iter()
                    .flat_map(|l| l.points.iter().map(|p| p.1))
                    .fold(0.0f64, f64::max);
                panels.push(SeriesPanel {
                    caption,
                    y_desc: unit.to_string(),
                    y: Axis::from_zero(max, 4),
                    lines,
                    end_labels: None,
                });
            }
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
                failed: false,
            });
        }
        let stops = series
            .policies
            .iter()
            .filter(|p| stopped.contains(&p.name))
            .filter_map(|p| {
                let t = p
                    .columns
                    .get("t_s")?
                    .iter()
                    .copied()
                    .filter(|t| t.is_finite());
                let end = t.fold(f64::NAN, f64::max);
                end.is_finite()
                    .then(|| (end, palette.color(&p.name), p.name.clone()))
            })
            .collect();
        SeriesFigure {
            stops,
            legend_max: if series.providers.is_empty() {
                360
            } else {
                480
            },
            title: title.to_string(),
            x: Axis::linear(0.0, t_max.max(1.0), 12),
            panels,
            legend,
        }
    }
}

impl Figure for SeriesFigure {
    fn size(&self) -> (u32, u32) {
        (
            1100 + self.legend_max.saturating_sub(360),
            TITLE_BAND + 30 + 215 * self.panels.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let lw = legend_width_up_to(root, &self.legend, self.legend_max);
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
            let note = font(TICK_SIZE).pos(Pos::new(HPos::Right, VPos::Bottom));
            if let Some(metric) = &panel.end_labels {
                // Each line's total at its end; a label that would cover another (lines ending
                // close together) is lifted above it. Drawn in line order.
                let mut labels: Vec<(String, RGBColor, i32, i32, i32)> = Vec::new();
                for l in &panel.lines {
                    if let Some(&(t, v)) = l.points.last() {
                        let (px, py) = chart.backend_coord(&(self.x.map(t), panel.y.map(v)));
                        let text = format_value(metric, v);
                        let (tw, _) = area.estimate_text_size(&text, &note).msg()?;
                        labels.push((text, l.color, px - 4, py - 4, tw as i32));
                    }
                }
                let mut order: Vec<usize> = (0..labels.len()).collect();
                order.sort_by_key(|&i| std::cmp::Reverse(labels[i].3));
                let gap = TICK_SIZE as i32 + 2;
                for k in 1..order.len() {
                    let i = order[k];
                    for &j in &order[..k] {
                        let (xi, wi, xj, wj) = (labels[i].2, labels[i].4, labels[j].2, labels[j].4);
                        let side_by_side = xi - wi >= xj || xj - wj >= xi;
                        if !side_by_side && labels[i].3 > labels[j].3 - gap {
                            labels[i].3 = labels[j].3 - gap;
                        }
                    }
                }
                let (bx, by) = area.get_base_pixel();
                for (text, color, x, y, _) in &labels {
                    area.draw_text(text, &note.color(color), (x - bx, y - by))
                        .msg()?;
                }
            }
            for (k, (t, color, name)) in self.stops.iter().enumerate() {
                let x = self.x.map(*t);
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x, panel.y.lo), (x, panel.y.hi)],
                        5,
                        4,
                        color.stroke_width(1),
                    ))
                    .msg()?;
                if i == 0 {
                    let (px, py) = chart.backend_coord(&(x, panel.y.hi));
                    let (bx, by) = area.get_base_pixel();
                    let text = format!("a guard stopped {name} at {} s", format_plain(t.round()));
                    // Left of the line, unless that runs out of the plot.
                    let (tw, _) = area.estimate_text_size(&text, &font(TICK_SIZE)).msg()?;
                    let left_edge = chart.plotting_area().get_pixel_range().0.start;
                    let (hpos, tx) = if px - 6 - tw as i32 >= left_edge {
                        (HPos::Right, px - 6)
                    } else {
                        (HPos::Left, px + 6)
                    };
                    area.draw_text(
                        &text,
                        &font(TICK_SIZE).pos(Pos::new(hpos, VPos::Top)).color(color),
                        (tx - bx, py + 4 + 18 * k as i32 - by),
                    )
                    .msg()?;
                }
            }
        }
        draw_legend(&side, &self.legend, 40)
    }
}
