//! The call-latency CDF per policy, on a log time axis.

use super::*;

pub(super) struct CdfFigure {
    pub(super) title: String,
    pub(super) lines: Vec<Line>,
    pub(super) x: Axis,
    pub(super) y: Axis,
}

impl CdfFigure {
    pub(super) fn new(latency: &Latency, palette: &PolicyColors) -> CdfFigure {
        let mut lines: Vec<Line> = latency
            .policies
            .iter()
            .map(|p| {
                let mut pts: Vec<(f64, f64)> = p
                    .call_s
                    .iter()
                    .zip(&p.quantile)
                    .filter(|(x, q)| x.is_finite() && **x > 0.0 && q.is_finite())
                    .map(|(x, q)| (*x, *q))
                    .collect();
                pts.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0)));
                let mut l = Line::new(&palette.label(&p.name), palette.color(&p.name), pts);
                l.failed = palette.failed(&p.name);
                if l.points.is_empty() {
                    l.label = format!("{} (no calls)", p.name);
                }
                l
            })
            .collect();
        mark_duplicates(&mut lines);
        let xs = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        let x = if lo.is_finite() {
            Axis::log(lo / 1.15, hi * 1.15)
        } else {
            Axis::log(0.1, 10.0)
        };
        CdfFigure {
            title: String::new(),
            lines,
            x,
            y: Axis::linear(0.0, 1.0, 5),
        }
    }

    pub(super) fn with_title(mut self, title: &str) -> CdfFigure {
        self.title = title.to_string();
        self
    }
}

impl Figure for CdfFigure {
    fn size(&self) -> (u32, u32) {
        (1000, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let legend: Vec<LegendEntry> = self.lines.iter().map(Line::legend).collect();
        let lw = legend_width(root, &legend);
        let (w, _) = body.dim_in_pixel();
        let (plot, side) = body.split_horizontally(w - lw);
        let mut chart = frame(
            &plot,
            &Frame {
                caption: None,
                x: &self.x,
                y: &self.y,
                x_desc: "call latency (s, log scale)",
                y_desc: "fraction of calls finished within x",
                x_title: true,
            },
        )?;
        draw_lines(&mut chart, &self.x, &self.y, &self.lines)?;
        draw_legend(&side, &legend, 20)
    }
}
