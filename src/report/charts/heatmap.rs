//! A metric over two swept parameters, a heatmap per policy on one colour scale.

use super::*;

/// Viridis, sampled at nine points and interpolated.
pub(super) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let s = t * (STOPS.len() - 1) as f64;
    let i = (s.floor() as usize).min(STOPS.len() - 2);
    let f = s - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

pub(super) struct HeatmapFigure {
    pub(super) title: String,
    pub(super) metric: String,
    pub(super) x_desc: String,
    pub(super) y_desc: String,
    pub(super) x: ParamAxis,
    pub(super) y: ParamAxis,
    /// Per policy: its name and the grid of values, `grid[yi][xi]`.
    pub(super) panels: Vec<(String, Vec<Vec<f64>>)>,
    /// Per policy, per cell: whether some runs had failed jobs.
    pub(super) failed: Vec<Vec<Vec<bool>>>,
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// A log colour scale, for values spanning more than a factor of 20.
    pub(super) log: bool,
}

impl HeatmapFigure {
    pub(super) fn new(
        sweep: &Sweep,
        (a, b): (usize, usize),
        metric: &str,
        title: &str,
    ) -> HeatmapFigure {
        let x = ParamAxis::of(sweep, a);
        let y = ParamAxis::of(sweep, b);
        let mut panels = Vec::new();
        let mut failed = Vec::new();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (pi, name) in sweep.policies.iter().enumerate() {
            let mut grid = vec![vec![f64::NAN; x.values.len()]; y.values.len()];
            let mut fails = vec![vec![false; x.values.len()]; y.values.len()];
            for p in sweep.points.iter().filter(|p| p.policy == pi) {
                if let (Some(xi), Some(yi)) = (x.index(&p.params[a]), y.index(&p.params[b])) {
                    let v = p.mean.get(metric).copied().unwrap_or(f64::NAN);
                    if grid[yi][xi].is_nan() {
                        grid[yi][xi] = v;
                        fails[yi][xi] = p.mean.get("jobs_failed").is_some_and(|f| *f > 0.0);
                    }
                    if v.is_finite() {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
            }
            panels.push((name.clone(), grid));
            failed.push(fails);
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let log = lo > 0.0 && hi / lo >= 20.0;
        HeatmapFigure {
            title: title.to_string(),
            metric: metric.to_string(),
            x_desc: sweep.params[a].clone(),
            y_desc: sweep.params[b].clone(),
            x,
            y,
            panels,
            failed,
            lo,
            hi,
            log,
        }
    }

    /// Where `v` falls on the colour scale, 0 to 1.
    pub(super) fn fraction(&self, v: f64) -> f64 {
        if self.hi <= self.lo {
            0.5
        } else if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    pub(super) fn columns(&self) -> usize {
        let n = self.panels.len().max(1);
        ((n as f64).sqrt().ceil() as usize).min(3)
    }

    pub(super) fn rows(&self) -> usize {
        self.panels.len().max(1).div_ceil(self.columns())
    }
}

impl Figure for HeatmapFigure {
    fn size(&self) -> (u32, u32) {
        (1100, TITLE_BAND + 380 * self.rows() as u32 + 20)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let (w, h) = body.dim_in_pixel();
        let h = h - 20;
        let (body, _) = body.split_vertically(h);
        let (grid_area, bar_area) = body.split_horizontally(w - 150);
        let areas = grid_area.split_evenly((self.rows(), self.columns()));
        let xa = Axis::categories(self.x.values.clone());
        let ya = Axis::categories(self.y.values.clone());
        let cell_style = font(13.0).pos(Pos::new(HPos::Center, VPos::Center));
        let mut any_failed = false;
        for (((name, grid), fails), area) in self.panels.iter().zip(&self.failed).zip(&areas) {
            let mut chart = frame(
                area,
                &Frame {
                    caption: Some(name),
                    x: &xa,
                    y: &ya,
                    x_desc: &self.x_desc,
                    y_desc: &self.y_desc,
                    x_title: true,
                },
            )?;
            for (yi, row) in grid.iter().enumerate() {
                for (xi, v) in row.iter().enumerate() {
                    let color = if v.is_finite() {
                        viridis(self.fraction(*v))
                    } else {
                        RGBColor(200, 200, 200)
                    };
                    let (x, y) = (xi as f64, yi as f64);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                            color.filled(),
                        )))
                        .msg()?;
                    let text = format_value(&self.metric, *v);
                    let (l, t) = chart.backend_coord(&(x - 0.5, y + 0.5));
                    let (r, b) = chart.backend_coord(&(x + 0.5, y - 0.5));
                    if fails[yi][xi] {
                        any_failed = true;
                        let k = ((r - l).min(b - t) / 4).clamp(5, 12);
                        root.draw(&Polygon::new(
                            vec![(r - k, t), (r, t), (r, t + k)],
                            RGBColor(214, 39, 40).filled(),
                        ))
                        .msg()?;
                    }
                    let (tw, th) = root.estimate_text_size(&text, &cell_style).msg()?;
                    if (r - l) as u32 > tw + 4 && (b - t) as u32 > th + 2 {
                        let lum = 0.299 * color.0 as f64
                            + 0.587 * color.1 as f64
                            + 0.114 * color.2 as f64;
                        let ink = if lum < 140.0 { WHITE } else { BLACK };
                        root.draw_text(&text, &cell_style.color(&ink), ((l + r) / 2, (t + b) / 2))
                            .msg()?;
                    }
                }
            }
        }
        // The colour bar.
        let (bw, _) = bar_area.dim_in_pixel();
        let _ = bw;
        let top = 40;
        let bottom = h as i32 - 70;
        let x0 = 20;
        let steps = 100;
        for i in 0..steps {
            let y0 = bottom - (bottom - top) * i / steps;
            let y1 = bottom - (bottom - top) * (i + 1) / steps;
            bar_area
                .draw(&Rectangle::new(
                    [(x0, y1), (x0 + 22, y0)],
                    viridis(i as f64 / (steps - 1) as f64).filled(),
                ))
                .msg()?;
        }
        let axis = Axis::linear(self.lo, self.hi, 5);
        let ticks = if self.log {
            log_ticks(self.lo, self.hi)
        } else {
            axis.ticks.clone()
        };
        let label = font(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        for t in &ticks {
            if *t < self.lo - 1e-9 || *t > self.hi + 1e-9 {
                continue;
            }
            let f = self.fraction(*t);
            let y = bottom - ((bottom - top) as f64 * f).round() as i32;
            bar_area
                .draw(&PathElement::new(
                    vec![(x0 + 22, y), (x0 + 27, y)],
                    INK.stroke_width(1),
                ))
                .msg()?;
            let text = if self.log {
                format_plain(*t)
            } else {
                axis.label(*t)
            };
            bar_area.draw_text(&text, &label, (x0 + 30, y)).msg()?;
        }
        let caption = font(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Top));
        bar_area
            .draw_text(&metric_label(&self.metric), &caption, (4, bottom + 12))
            .msg()?;
        if self.log {
            bar_area
                .draw_text("(log scale)", &caption, (4, bottom + 32))
                .msg()?;
        }
        if any_failed {
            draw_footnote(
                root,
                "red corner: some runs at that point had failed jobs (mean jobs_failed > 0)",
            )?;
        }
        Ok(())
    }
}
