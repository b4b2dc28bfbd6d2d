//! A metric against one swept parameter, a line per policy with its confidence band.

use super::*;

/// Sweep parameter values: numeric when every value parses, else categories in first-appearance
/// order.
pub(super) struct ParamAxis {
    pub(super) values: Vec<String>,
    pub(super) numeric: bool,
}

impl ParamAxis {
    pub(super) fn of(sweep: &Sweep, param: usize) -> ParamAxis {
        let mut values: Vec<String> = Vec::new();
        for p in &sweep.points {
            if !values.contains(&p.params[param]) {
                values.push(p.params[param].clone());
            }
        }
        let numeric = !values.is_empty()
            && values
                .iter()
                .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite));
        if numeric {
            values.sort_by(|a, b| {
                a.parse::<f64>()
                    .unwrap_or(0.0)
                    .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
            });
        }
        ParamAxis { values, numeric }
    }

    /// The plot position of a value.
    pub(super) fn position(&self, value: &str) -> f64 {
        if self.numeric {
            value.parse().unwrap_or(f64::NAN)
        } else {
            self.values
                .iter()
                .position(|v| v == value)
                .map_or(f64::NAN, |i| i as f64)
        }
    }

    pub(super) fn index(&self, value: &str) -> Option<usize> {
        self.values.iter().position(|v| v == value)
    }
}

pub(super) struct SweepFigure {
    pub(super) title: String,
    pub(super) x_desc: String,
    pub(super) y_desc: String,
    pub(super) x: Axis,
    pub(super) y: Axis,
    pub(super) lines: Vec<Line>,
}

impl SweepFigure {
    pub(super) fn new(
        sweep: &Sweep,
        axis: usize,
        metric: &str,
        palette: &PolicyColors,
        title: &str,
    ) -> SweepFigure {
        let param = ParamAxis::of(sweep, axis);
        let mut lines = Vec::new();
        for (pi, name) in sweep.policies.iter().enumerate() {
            let mut pts: Vec<(f64, f64, f64, bool)> = sweep
                .points
                .iter()
                .filter(|p| p.policy == pi)
                .filter_map(|p| {
                    let x = param.position(&p.params[axis]);
                    let y = p.mean.get(metric).copied().unwrap_or(f64::NAN);
                    let ci = p
                        .ci95
                        .get(metric)
                        .copied()
                        .filter(|c| c.is_finite())
                        .unwrap_or(0.0);
                    let failed = p.mean.get("jobs_failed").is_some_and(|f| *f > 0.0);
                    (x.is_finite() && y.is_finite()).then_some((x, y, ci, failed))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts.dedup_by(|a, b| a.0 == b.0);
            let mut l = Line::new(
                name,
                palette.color(name),
                pts.iter().map(|p| (p.0, p.1)).collect(),
            );
            l.markers = true;
            l.crosses = pts.iter().map(|p| p.3).collect();
            if pts.iter().any(|p| p.2 > 0.0) {
                l.band = pts
                    .iter()
                    .map(|p| (p.0, (p.1 - p.2).max(0.0), p.1 + p.2))
                    .collect();
            }
            lines.push(l);
        }
        mark_duplicates(&mut lines);
        let ymax = lines
            .iter()
            .flat_map(|l| {
                l.points
                    .iter()
                    .map(|p| p.1)
                    .chain(l.band.iter().map(|b| b.2))
            })
            .fold(0.0f64, f64::max);
        let x = if param.numeric {
            let xs: Vec<f64> = param.values.iter().filter_map(|v| v.parse().ok()).collect();
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut a = Axis::linear(lo, hi, 8);
            // Start at the first value rather than a round number far below it.
            if lo > a.lo && lo.is_finite() {
                let pad = (hi - lo).max(lo.abs() * 0.1) * 0.03;
                a.lo = lo - pad;
                a.hi = hi + pad;
                a.ticks.retain(|t| *t >= a.lo - 1e-9 && *t <= a.hi + 1e-9);
            }
            a
        } else {
            Axis::categories(param.values.clone())
        };
        SweepFigure {
            title: title.to_string(),
            x_desc: sweep.params[axis].clone(),
            y_desc: metric_label(metric),
            x,
            y: Axis::from_zero(ymax, 6),
            lines,
        }
    }
}

impl Figure for SweepFigure {
    fn size(&self) -> (u32, u32) {
        (1000, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let any_failed = self.lines.iter().any(|l| l.crosses.contains(&true));
        let mut legend: Vec<LegendEntry> = self.lines.iter().map(Line::legend).collect();
        if any_failed {
            legend.push(LegendEntry {
                label: "some runs FAILED jobs".into(),
                color: FAILURE,
                mark: Mark::Failure,
                failed: false,
            });
        }
        let lw = legend_width(root, &legend);
        let (w, h) = body.dim_in_pixel();
        // Room for the footnote below the x axis title.
        let (body, _) = body.split_vertically(h - 24);
        let (plot, side) = body.split_horizontally(w - lw);
        let mut chart = frame(
            &plot,
            &Frame {
                caption: None,
                x: &self.x,
                y: &self.y,
                x_desc: &self.x_desc,
                y_desc: &self.y_desc,
                x_title: true,
            },
        )?;
        draw_lines(&mut chart, &self.x, &self.y, &self.lines)?;
        draw_legend(&side, &legend, 20)?;
        let mut notes = Vec::new();
        if any_failed {
            notes.push(
                "red \u{2717} in a ring: some runs at that point FAILED jobs (mean jobs_failed > 0); its value is not a success",
            );
        }
        if self.lines.iter().any(|l| !l.band.is_empty()) {
            notes.push("bands: 95% confidence intervals over replications");
        }
        if !notes.is_empty() {
            let color = if any_failed { FAILURE } else { MUTED };
            draw_footnote_colored(root, &notes.join("; "), color)?;
        }
        Ok(())
    }
}
