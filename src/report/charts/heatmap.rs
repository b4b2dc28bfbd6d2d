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
    /// Per policy, per cell: `None` when no job failed there (and no guard stopped a run).
    pub(super) failed: Vec<Vec<Vec<Option<Failure>>>>,
    /// The colour scale's range, over the cells where no job failed.
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// A log colour scale, for values spanning more than a factor of 20.
    pub(super) log: bool,
    /// Whether some cell finished (is on the colour scale).
    pub(super) scaled: bool,
}

/// Cell text sizes: the usual one, and the smallest a value is shrunk to before the figure grows.
const CELL_TEXT: f64 = 13.0;
const CELL_TEXT_MIN: f64 = 10.0;
/// Room around a cell's text, per side.
const CELL_PAD: u32 = 3;
/// The usual size of one panel.
const PANEL_W_MIN: u32 = 316;
const PANEL_H: u32 = 380;
/// A panel's frame around its cells: the y axis' labels and title, margins; the caption, the x
/// axis' labels and title.
const PANEL_FRAME_W: u32 = 86 + 6 + 18 + 8;
const PANEL_FRAME_H: u32 = 8 + 30 + 52 + 4 + 8;
/// The colour bar's column.
const BAR_W: u32 = 170;

/// `v` rounded to three significant digits, and the decimals that show them (at most 5).
fn sig3(v: f64) -> (f64, usize) {
    if v == 0.0 || !v.is_finite() {
        return (v, 0);
    }
    let step = 10f64.powi(v.abs().log10().floor() as i32 - 2);
    let r = (v / step).round() * step;
    let e = r.abs().log10().floor() as i32;
    (r, (2 - e).clamp(0, 5) as usize)
}

/// A value in three significant digits, with its unit: `$10.6`, `1.27k s`, `34.2 s`, `5.60k`.
pub(super) fn cell_value(metric: &str, v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let (mut r, mut digits) = sig3(v);
    let mut suffix = "";
    for s in ["k", "M", "G"] {
        if r.abs() < 1000.0 {
            break;
        }
        (r, digits) = sig3(r / 1000.0);
        suffix = s;
    }
    if metric.ends_with("_usd") && suffix.is_empty() && r.abs() >= 0.1 {
        // Money in cents: $0.49, not $0.490.
        digits = digits.min(2);
    }
    let n = format!("{r:.digits$}");
    if metric.ends_with("_usd") {
        format!("${n}{suffix}")
    } else if metric.ends_with("_s") {
        format!("{n}{suffix} s")
    } else {
        format!("{n}{suffix}")
    }
}

/// Why a cell is marked failed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Failure {
    /// This share of the jobs failed (mean `jobs_failed` over mean `jobs`).
    Share(f64),
    /// Jobs failed; the sweep does not say how many there were.
    Jobs,
    /// No job failed, but a guard stopped some runs.
    Stopped,
}

/// The failure mark of a cell: `✗ 50%` (half of the jobs failed), `✗ failed`, `✗ stopped`.
pub(super) fn failure_mark(f: Failure) -> String {
    match f {
        Failure::Share(share) => {
            let pct = share * 100.0;
            // Never "0%" for some failures nor "100%" for not quite all.
            let pct = if pct < 1.0 {
                1.0
            } else if pct > 99.0 && pct < 100.0 {
                99.0
            } else {
                pct.round()
            };
            format!("\u{2717} {pct:.0}%")
        }
        Failure::Jobs => "\u{2717} failed".into(),
        Failure::Stopped => "\u{2717} stopped".into(),
    }
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
            let mut fails = vec![vec![None; x.values.len()]; y.values.len()];
            for p in sweep.points.iter().filter(|p| p.policy == pi) {
                if let (Some(xi), Some(yi)) = (x.index(&p.params[a]), y.index(&p.params[b])) {
                    if !grid[yi][xi].is_nan() {
                        continue;
                    }
                    let v = p.mean.get(metric).copied().unwrap_or(f64::NAN);
                    grid[yi][xi] = v;
                    let jobs_failed = p.mean.get("jobs_failed").copied().unwrap_or(0.0);
                    let tripped = p.mean.get("guard_tripped").copied().unwrap_or(0.0);
                    let jobs = p.mean.get("jobs").copied().unwrap_or(f64::NAN);
                    if jobs_failed > 0.0 {
                        fails[yi][xi] = Some(if jobs > 0.0 {
                            Failure::Share((jobs_failed / jobs).min(1.0))
                        } else {
                            Failure::Jobs
                        });
                    } else if tripped > 0.0 {
                        fails[yi][xi] = Some(Failure::Stopped);
                    } else if v.is_finite() {
                        // Failed cells stay off the scale: a run that fails stops early, cheap
                        // and fast, and would take the best colour.
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
            }
            panels.push((name.clone(), grid));
            failed.push(fails);
        }
        // Every point failed: nothing belongs on the scale, and the bar says so instead.
        let scaled = lo.is_finite();
        if !scaled {
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
            scaled,
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

    /// The lines written in a cell: its value, and under it the failure mark.
    fn cell_lines(&self, p: usize, yi: usize, xi: usize) -> Vec<String> {
        let mut lines = vec![cell_value(&self.metric, self.panels[p].1[yi][xi])];
        if let Some(f) = self.failed[p][yi][xi] {
            lines.push(failure_mark(f));
        }
        lines
    }

    /// The widest and tallest text block of any cell at `size`, in pixels. Only the longest
    /// lines (by characters) are measured: a sweep may have a million cells.
    fn widest_cell(&self, size: f64) -> (u32, u32) {
        let font = (FONT, size).into_font();
        let mut longest: Vec<String> = Vec::new();
        let mut most_lines = 1;
        for (p, (_, grid)) in self.panels.iter().enumerate() {
            for (yi, row) in grid.iter().enumerate() {
                for xi in 0..row.len() {
                    let lines = self.cell_lines(p, yi, xi);
                    most_lines = most_lines.max(lines.len());
                    for l in lines {
                        let long =
                            longest.len() < 16 || l.chars().count() > longest[15].chars().count();
                        if long && !longest.contains(&l) {
                            longest.push(l);
                            longest.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
                            longest.truncate(16);
                        }
                    }
                }
            }
        }
        let w = longest
            .iter()
            .map(|l| font.box_size(l).map_or(0, |b| b.0))
            .max()
            .unwrap_or(0);
        (w, block_height(size, most_lines))
    }

    /// The figure's size with cells big enough for every value at text `size`.
    fn size_at(&self, size: f64) -> (u32, u32) {
        let nx = self.x.values.len().max(1) as u32;
        let ny = self.y.values.len().max(1) as u32;
        let (w, h) = self.widest_cell(size);
        let panel_w = ((w + 2 * CELL_PAD) * nx + PANEL_FRAME_W).max(PANEL_W_MIN);
        let panel_h = ((h + 2 * CELL_PAD) * ny + PANEL_FRAME_H).max(PANEL_H);
        (
            (panel_w * self.columns() as u32 + BAR_W).max(1100),
            TITLE_BAND + panel_h * self.rows() as u32 + 20,
        )
    }

    /// Whether the grid is too large for a figure whose every cell holds its value at the
    /// smallest text size: then the figure stops at [`MAX_SIDE`] and cells too small for their
    /// text are left without it, which a footnote says.
    fn too_large(&self) -> bool {
        let (w, h) = self.size_at(CELL_TEXT_MIN);
        w > MAX_SIDE || h > MAX_SIDE
    }
}

/// The largest side of a heatmap, in pixels (a 4000x4000 figure is 48 MB of pixels).
const MAX_SIDE: u32 = 4000;

/// The height of `n` lines of text at `size`.
fn block_height(size: f64, n: usize) -> u32 {
    (size * 1.2 * n as f64).ceil() as u32
}

impl Figure for HeatmapFigure {
    fn size(&self) -> (u32, u32) {
        // Cells big enough for every value at the largest text size that keeps the figure
        // within 1500 pixels, or at the smallest size whatever the width (up to MAX_SIDE):
        // values are not dropped.
        let mut size = CELL_TEXT;
        while size > CELL_TEXT_MIN && self.size_at(size).0 > 1500 {
            size -= 0.5;
        }
        let (w, h) = self.size_at(size);
        (w.min(MAX_SIDE), h.min(MAX_SIDE))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let (w, h) = body.dim_in_pixel();
        let h = h - 20;
        let (body, _) = body.split_vertically(h);
        let (grid_area, bar_area) = body.split_horizontally(w - BAR_W);
        let areas = grid_area.split_evenly((self.rows(), self.columns()));
        let xa = Axis::categories(self.x.values.clone());
        let ya = Axis::categories(self.y.values.clone());
        let mut any_failed = false;
        let too_large = self.too_large();
        let mut omitted = 0usize;
        for (p, ((name, grid), area)) in self.panels.iter().zip(&areas).enumerate() {
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
                    let fail = self.failed[p][yi][xi];
                    let color = if fail.is_some() {
                        FAILURE
                    } else if v.is_finite() {
                        viridis(self.fraction(*v))
                    } else {
                        RGBColor(200, 200, 200)
                    };
                    any_failed |= fail.is_some();
                    let (x, y) = (xi as f64, yi as f64);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                            color.filled(),
                        )))
                        .msg()?;
                    let (l, t) = chart.backend_coord(&(x - 0.5, y + 0.5));
                    let (r, b) = chart.backend_coord(&(x + 0.5, y - 0.5));
                    let lines = self.cell_lines(p, yi, xi);
                    // The largest size, in half pixels, at which the text fits; never none.
                    let room_w = (r - l).max(0) as u32;
                    let room_h = (b - t).max(0) as u32;
                    let fits = |size: f64| {
                        let style = font(size);
                        let widest = lines
                            .iter()
                            .map(|s| root.estimate_text_size(s, &style).map_or(0, |b| b.0))
                            .max()
                            .unwrap_or(0);
                        widest + 2 * CELL_PAD <= room_w
                            && block_height(size, lines.len()) + 2 * CELL_PAD <= room_h
                    };
                    if too_large && !fits(CELL_TEXT_MIN) {
                        omitted += 1;
                        continue;
                    }
                    let mut size = CELL_TEXT;
                    while size > CELL_TEXT_MIN && !fits(size) {
                        size -= 0.5;
                    }
                    let lum =
                        0.299 * color.0 as f64 + 0.587 * color.1 as f64 + 0.114 * color.2 as f64;
                    let ink = if lum < 140.0 { WHITE } else { BLACK };
                    let style = font(size)
                        .pos(Pos::new(HPos::Center, VPos::Center))
                        .color(&ink);
                    let line_h = size * 1.2;
                    let top = (t + b) as f64 / 2.0 - line_h * (lines.len() as f64 - 1.0) / 2.0;
                    for (k, line) in lines.iter().enumerate() {
                        let cy = (top + line_h * k as f64).round() as i32;
                        root.draw_text(line, &style, ((l + r) / 2, cy)).msg()?;
                    }
                }
            }
        }
        // The colour bar.
        let top = 40;
        let bottom = h as i32 - 150;
        let x0 = 20;
        let steps = if self.scaled { 100 } else { 0 };
        if !self.scaled {
            let note = font(TICK_SIZE)
                .color(&FAILURE)
                .pos(Pos::new(HPos::Left, VPos::Top));
            for (k, line) in ["every point failed:", "no colour scale"]
                .iter()
                .enumerate()
            {
                bar_area
                    .draw_text(line, &note, (4, top + 20 * k as i32))
                    .msg()?;
            }
        }
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
        let ticks = if !self.scaled {
            Vec::new()
        } else if self.log {
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
        let mut y = bottom + 12;
        bar_area
            .draw_text(&metric_label(&self.metric), &caption, (4, y))
            .msg()?;
        y += 20;
        if self.log {
            bar_area.draw_text("(log scale)", &caption, (4, y)).msg()?;
            y += 20;
        }
        if any_failed {
            // The failure key, off the scale.
            y += 10;
            bar_area
                .draw(&Rectangle::new(
                    [(x0, y), (x0 + 22, y + 22)],
                    FAILURE.filled(),
                ))
                .msg()?;
            bar_area
                .draw_text(
                    "\u{2717}",
                    &font(TICK_SIZE)
                        .pos(Pos::new(HPos::Center, VPos::Center))
                        .color(&WHITE),
                    (x0 + 11, y + 11),
                )
                .msg()?;
            let key = font(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
            bar_area
                .draw_text("jobs failed", &key, (x0 + 30, y + 5))
                .msg()?;
            bar_area
                .draw_text("(off the scale)", &key, (x0 + 30, y + 21))
                .msg()?;
        }
        let mut notes = Vec::new();
        if any_failed {
            notes.push(
                "red cells: some runs there had failed jobs (\u{2717} 50%: half of the jobs failed); they are off \
                 the colour scale, as a failing run stops early, cheap and fast"
                    .to_string(),
            );
        }
        if omitted > 0 {
            notes.push(format!(
                "{omitted} cells too small for their values at this grid size: see sweep_summary.csv"
            ));
        }
        if !notes.is_empty() {
            draw_footnote(root, &notes.join("; "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_values_have_three_significant_digits_and_their_unit() {
        let cases = [
            ("cost_usd", 10.55, "$10.6"),
            ("cost_usd", 0.49, "$0.49"),
            ("cost_usd", 24.11, "$24.1"),
            ("job_latency_p99_s", 1273.0, "1.27k s"),
            ("job_latency_p99_s", 34.24, "34.2 s"),
            ("job_latency_p99_s", 999.96, "1.00k s"),
            ("job_latency_p99_s", 9.996, "10.0 s"),
            ("job_latency_p99_s", 0.004, "0.00400 s"),
            ("rate_limited", 5600.0, "5.60k"),
            ("rate_limited", 21_756.0, "21.8k"),
            ("rate_limited", 2_500_000.0, "2.50M"),
            ("rate_limited", 0.0, "0"),
            ("rate_limited", f64::NAN, "n/a"),
        ];
        for (metric, v, text) in cases {
            assert_eq!(cell_value(metric, v), text, "{metric} = {v}");
        }
    }

    #[test]
    fn failure_marks_never_round_to_none_or_all() {
        assert_eq!(failure_mark(Failure::Share(0.5)), "\u{2717} 50%");
        assert_eq!(failure_mark(Failure::Share(1.0)), "\u{2717} 100%");
        assert_eq!(failure_mark(Failure::Share(0.001)), "\u{2717} 1%");
        assert_eq!(failure_mark(Failure::Share(0.996)), "\u{2717} 99%");
        assert_eq!(failure_mark(Failure::Stopped), "\u{2717} stopped");
    }

    #[test]
    fn a_heatmap_where_every_point_failed_says_so_instead_of_a_made_up_scale() {
        use crate::report::data::{Sweep, SweepPoint};
        let mut points = Vec::new();
        for a in ["4", "8"] {
            for b in ["1", "2"] {
                points.push(SweepPoint {
                    params: vec![a.into(), b.into()],
                    policy: 0,
                    mean: [("cost_usd", 1.0), ("jobs_failed", 1.0), ("jobs", 1.0)]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    ci95: Default::default(),
                });
            }
        }
        let sweep = Sweep {
            params: vec!["a".into(), "b".into()],
            metrics: vec!["cost_usd".into(), "jobs_failed".into(), "jobs".into()],
            policies: vec!["p".into()],
            points,
        };
        let fig = HeatmapFigure::new(&sweep, (0, 1), "cost_usd", "t");
        assert!(!fig.scaled);
        let chart = render("heatmap_cost_usd", "t", "", &fig).unwrap();
        assert!(
            chart.svg.contains("every point failed:"),
            "the bar explains itself"
        );
        assert!(
            !chart.svg.contains(">\n0.2\n<") && !chart.svg.contains(">\n0.0\n<"),
            "no ticks of a 0-1 scale that means nothing"
        );
    }
}
