//! A tune's frontier: every candidate the search evaluated (meeting its constraints or not), the
//! frontier through the feasible ones, the recommendation and the scenario's policies as written.
//!
//! Drawn from the tune's results rather than from its CSVs: a tune's directory is written by
//! `stampede tune` alone, which has them in hand. The candidates are placed at their search
//! numbers; the recommendation and the policies as written at their numbers on the validation
//! replications (the same seeds for all of them), so the labelled points compare like with like.

use super::*;
use crate::tune::search::Verdict;
use crate::tune::{Outcome, Plan};

struct FrontierFigure {
    title: String,
    x_metric: String,
    y_metric: String,
    x: Axis,
    y: Axis,
    /// Candidates meeting their constraints, and the others, in plot space.
    feasible: Vec<(f64, f64)>,
    infeasible: Vec<(f64, f64)>,
    /// The frontier, by the first objective.
    frontier: Vec<(f64, f64)>,
    /// The recommendation and the policies as written (validation numbers), in plot space.
    labelled: Vec<Point>,
    /// Where the recommendation is, to ring it.
    recommended: Option<(f64, f64)>,
}

/// The metrics on the axes: the first two objectives; with one objective, it against cost (or
/// job p99 when cost is the objective).
fn axes(plan: &Plan) -> (&'static str, &'static str) {
    let o = &plan.spec.objectives;
    match o.get(1) {
        Some(second) => (o[0].metric, second.metric),
        None if o[0].metric == "cost_usd" => ("cost_usd", "job_latency_p99_s"),
        None => (o[0].metric, "cost_usd"),
    }
}

/// An axis over `values`: log when they are positive and span more than a factor of 8, `1 + v`
/// on a log scale when they start at 0 and reach past 50, linear otherwise.
fn axis_over(values: &[f64]) -> Axis {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if finite.is_empty() {
        return Axis::linear(0.0, 1.0, 5);
    }
    if lo > 0.0 && hi / lo > 8.0 {
        Axis::log(lo / 1.1, hi * 1.15)
    } else if lo >= 0.0 && hi > 50.0 && hi > 20.0 * lo.max(1.0) {
        Axis::log1p(hi * 1.1)
    } else if lo >= 0.0 && lo <= 0.2 * hi {
        Axis::from_zero(hi * 1.1, 5)
    } else {
        let pad = (hi - lo).max(hi.abs() * 0.02) * 0.08;
        Axis::linear(lo - pad, hi + pad * 1.5, 5)
    }
}

impl FrontierFigure {
    fn new(plan: &Plan, outcome: &Outcome, title: &str) -> FrontierFigure {
        let (xm, ym) = axes(plan);
        let get = |a: &crate::metrics::Aggregate, m: &str| a.mean.get(m).unwrap_or(f64::NAN);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        // Candidates the budget stopped before their first replication have no numbers.
        let aggregates: Vec<_> = outcome
            .candidates
            .iter()
            .map(|c| (!c.runs.is_empty()).then(|| c.aggregate().clone()))
            .collect();
        for a in aggregates.iter().flatten() {
            xs.push(get(a, xm));
            ys.push(get(a, ym));
        }
        let validated = outcome
            .recommended
            .map(|k| &outcome.validated[k])
            .into_iter()
            .chain(&outcome.baselines);
        for v in validated.clone() {
            xs.push(get(&v.aggregate, xm));
            ys.push(get(&v.aggregate, ym));
        }
        let x = axis_over(&xs);
        let y = axis_over(&ys);
        let at = |a: &crate::metrics::Aggregate| (x.map(get(a, xm)), y.map(get(a, ym)));
        let mut feasible = Vec::new();
        let mut infeasible = Vec::new();
        for a in aggregates.iter().flatten() {
            if crate::tune::search::judge(&plan.spec.constraints, a) == Verdict::Violated {
                infeasible.push(at(a));
            } else {
                feasible.push(at(a));
            }
        }
        let mut frontier: Vec<(f64, f64)> = outcome
            .frontier
            .iter()
            .filter_map(|&i| aggregates[i].as_ref().map(at))
            .collect();
        frontier.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut labelled: Vec<Point> = Vec::new();
        let mut recommended = None;
        if let Some(k) = outcome.recommended {
            let v = &outcome.validated[k];
            let (px, py) = at(&v.aggregate);
            recommended = Some((px, py));
            labelled.push(Point {
                label: format!("{}_tuned (candidate {})", plan.spec.policy, v.label),
                color: INK,
                x: px,
                y: py,
                x_ci: 0.0,
                y_ci: 0.0,
                failed: false,
            });
        }
        for (i, b) in outcome.baselines.iter().enumerate() {
            let failed = get(&b.aggregate, "jobs_failed") > 0.0;
            let (px, py) = at(&b.aggregate);
            let mut label = format!("{} as written", b.label);
            if failed {
                label.push_str(&format!(
                    " \u{2014} {}",
                    failed_note(get(&b.aggregate, "jobs_failed"), get(&b.aggregate, "jobs"))
                ));
            } else if b.verdict != Verdict::Holds {
                label.push_str(" (fails the constraints)");
            }
            // Policies on the same spot share one point and one label.
            if let Some(q) = labelled.iter_mut().skip(1).find(|q| q.x == px && q.y == py) {
                q.label = format!("{} = {label}", q.label);
                continue;
            }
            labelled.push(Point {
                label,
                color: PALETTE[i % PALETTE.len()],
                x: px,
                y: py,
                x_ci: 0.0,
                y_ci: 0.0,
                failed,
            });
        }
        FrontierFigure {
            title: title.to_string(),
            x_metric: xm.to_string(),
            y_metric: ym.to_string(),
            x,
            y,
            feasible,
            infeasible,
            frontier,
            labelled,
            recommended,
        }
    }
}

impl Figure for FrontierFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let (_, h) = body.dim_in_pixel();
        let (body, _) = body.split_vertically(h - 44);
        let mut chart = frame(
            &body,
            &Frame {
                caption: None,
                x: &self.x,
                y: &self.y,
                x_desc: &metric_label(&self.x_metric),
                y_desc: &metric_label(&self.y_metric),
                x_title: true,
            },
        )?;
        chart
            .draw_series(
                self.infeasible
                    .iter()
                    .map(|&p| Cross::new(p, 3, FAILURE.mix(0.45).stroke_width(1))),
            )
            .msg()?;
        chart
            .draw_series(
                self.feasible
                    .iter()
                    .map(|&p| Circle::new(p, 3, MUTED.mix(0.55).stroke_width(1))),
            )
            .msg()?;
        if self.frontier.len() > 1 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    self.frontier.clone(),
                    INK.stroke_width(2),
                )))
                .msg()?;
        }
        chart
            .draw_series(
                self.frontier
                    .iter()
                    .map(|&p| Circle::new(p, 5, INK.filled())),
            )
            .msg()?;
        if let Some(p) = self.recommended {
            chart
                .draw_series(std::iter::once(Circle::new(p, 10, INK.stroke_width(3))))
                .msg()?;
        }
        for p in self
            .labelled
            .iter()
            .skip(usize::from(self.recommended.is_some()))
        {
            if p.failed {
                chart
                    .draw_series(std::iter::once(Circle::new((p.x, p.y), 11, WHITE.filled())))
                    .msg()?;
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (p.x, p.y),
                        11,
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
        place_labels(root, &chart, &self.labelled, true)?;
        let (_, total) = root.dim_in_pixel();
        let note = "grey circles: candidates meeting the constraints (search numbers); light red \u{d7}: candidates breaking one; black: the frontier";
        let style = TextStyle::from((FONT, 13.0).into_font()).color(&MUTED);
        root.draw_text(note, &style, (12, total as i32 - 40))
            .msg()?;
        draw_footnote(
            root,
            "ringed: the recommendation; labelled points: the recommendation and the policies as written, on the validation replications (same seeds)",
        )
    }
}

/// Draws a tune's frontier chart into `dir/charts/frontier.svg` and `.png` (each whole or not at
/// all); returns the paths written.
pub fn plot_tune(dir: &Path, plan: &Plan, outcome: &Outcome) -> Result<Vec<PathBuf>, PlotError> {
    let title = format!(
        "{}: tune of \"{}\", {} against {}",
        plan.scenario.name,
        plan.spec.policy,
        axes(plan).0,
        axes(plan).1
    );
    let chart = render(
        "frontier",
        &title,
        "Every candidate the search evaluated, at its search numbers: grey circles meet the \
         constraints, light red crosses break one; the black line is the frontier. The \
         recommendation (ringed) and the scenario's policies as written are placed at their \
         numbers on the validation replications, the same seeds for all of them.",
        &FrontierFigure::new(plan, outcome, &title),
    )?;
    let out = dir.join(CHARTS_DIR);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlotError::Io { path, source }
    };
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    let mut written = Vec::new();
    for (ext, bytes) in [("svg", chart.svg.as_bytes()), ("png", chart.png.as_slice())] {
        let path = out.join(format!("frontier.{ext}"));
        crate::io::write_atomic(&path, bytes).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}
