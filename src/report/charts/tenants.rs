//! Per-tenant metrics, a bar per policy.

use super::*;

/// At most this many tenant groups of bars; past it, the tenants with the highest values are
/// shown one by one and the others as their mean.
pub(super) const MAX_TENANT_GROUPS: usize = 10;

pub(super) struct TenantFigure {
    pub(super) title: String,
    /// What a group of bars is: "tenant" (or "provider", for [`super::providers`]).
    pub(super) x_desc: &'static str,
    /// The widest the legend column may be.
    pub(super) legend_max: u32,
    pub(super) metrics: Vec<String>,
    pub(super) policies: Vec<String>,
    pub(super) colors: Vec<RGBColor>,
    /// The groups of bars: a tenant, or "other N (mean)".
    pub(super) categories: Vec<String>,
    /// `values[metric][policy][category]`.
    pub(super) values: Vec<Vec<Vec<f64>>>,
    /// Per metric: its value axis, log when the positive values span more than 1.5 decades.
    pub(super) axes: Vec<Axis>,
    pub(super) footnote: Option<String>,
    /// Each policy's legend label: its name, with its failure note when its jobs failed.
    pub(super) labels: std::collections::BTreeMap<String, String>,
}

/// More than this many decades between the smallest and largest positive value: a log axis, so
/// that the light tenants' 62 429s are not flattened by the heavy tenant's 3,500.
pub(super) const LOG_DECADES: f64 = 1.5;

/// The value axis of one panel: linear from zero, or log from a round decade below the smallest
/// positive value (zeros are drawn as a "0" at that floor) to a round decade above the largest.
pub(super) fn value_axis(values: &[Vec<f64>]) -> Axis {
    let finite = || values.iter().flatten().copied().filter(|v| v.is_finite());
    let max = finite().fold(0.0f64, f64::max);
    let min_pos = finite().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    if min_pos.is_finite() && max / min_pos > 10f64.powf(LOG_DECADES) {
        let mut lo = 10f64.powf(min_pos.log10().floor());
        // A bar at the floor would have no height.
        if min_pos < 1.5 * lo {
            lo /= 10.0;
        }
        let hi = 10f64.powf((max * 1.0001).log10().ceil());
        Axis::log(lo, hi)
    } else {
        Axis::from_zero(max, 5)
    }
}

impl TenantFigure {
    pub(super) fn new(tenants: &Tenants, palette: &PolicyColors, title: &str) -> TenantFigure {
        let mut metrics: Vec<String> = ["job_latency_p99_s", "rate_limited"]
            .into_iter()
            .filter(|m| tenants.metrics.iter().any(|n| n == m))
            .map(str::to_string)
            .collect();
        if metrics.is_empty() {
            metrics.extend(tenants.metrics.first().cloned());
        }
        let np = tenants.policies.len();
        let nt = tenants.tenants.len();
        // Each category is a list of tenant indices (averaged when more than one).
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        let mut footnote = None;
        if nt <= MAX_TENANT_GROUPS {
            groups.extend((0..nt).map(|t| (tenants.tenants[t].clone(), vec![t])));
        } else if let Some(first) = metrics.first() {
            let worst = |t: usize| {
                (0..np)
                    .map(|p| tenants.get(p, t, first))
                    .filter(|v| v.is_finite())
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            let mut order: Vec<usize> = (0..nt).collect();
            order.sort_by(|&a, &b| worst(b).total_cmp(&worst(a)).then(a.cmp(&b)));
            let shown = MAX_TENANT_GROUPS - 1;
            groups.extend(
                order[..shown]
                    .iter()
                    .map(|&t| (tenants.tenants[t].clone(), vec![t])),
            );
            let rest: Vec<usize> = order[shown..].to_vec();
            groups.push((format!("mean of {}", rest.len()), rest));
            footnote = Some(format!(
                "the {shown} of {nt} tenants with the highest {} under any policy, then the mean of the others",
                metric_label(first)
            ));
        }
        let values: Vec<Vec<Vec<f64>>> = metrics
            .iter()
            .map(|m| {
                (0..np)
                    .map(|p| {
                        groups
                            .iter()
                            .map(|(_, ts)| {
                                let vs: Vec<f64> = ts
                                    .iter()
                                    .map(|&t| tenants.get(p, t, m))
                                    .filter(|v| v.is_finite())
                                    .collect();
                                if vs.is_empty() {
                                    f64::NAN
                                } else {
                                    vs.iter().sum::<f64>() / vs.len() as f64
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        TenantFigure {
            title: title.to_string(),
            x_desc: "tenant",
            legend_max: 360,
            metrics,
            policies: tenants.policies.clone(),
            colors: tenants.policies.iter().map(|p| palette.color(p)).collect(),
            categories: groups.into_iter().map(|(name, _)| name).collect(),
            axes: values.iter().map(|v| value_axis(v)).collect(),
            values,
            footnote,
            labels: tenants
                .policies
                .iter()
                .map(|p| (p.clone(), palette.label(p)))
                .collect(),
        }
    }
}

impl Figure for TenantFigure {
    fn size(&self) -> (u32, u32) {
        // 90 pixels a group, so that tenant names (up to ~12 characters) sit apart under their
        // bars, beside the axis (~100) and a legend that may carry a failure note (~330).
        let groups = self.categories.len() as u32;
        (
            1000.max(430 + 90 * groups) + self.legend_max.saturating_sub(360),
            TITLE_BAND + 26 + 290 * self.metrics.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let legend: Vec<LegendEntry> = self
            .policies
            .iter()
            .zip(&self.colors)
            .map(|(p, c)| LegendEntry {
                label: self.labels.get(p).cloned().unwrap_or_else(|| p.clone()),
                color: *c,
                mark: Mark::Bar,
                failed: self.labels.get(p).is_some_and(|l| l != p),
            })
            .collect();
        let lw = legend_width_up_to(root, &legend, self.legend_max);
        let (w, h) = body.dim_in_pixel();
        let (body, _) = body.split_vertically(h - 26);
        let (plots, side) = body.split_horizontally(w - lw);
        let areas = plots.split_evenly((self.metrics.len().max(1), 1));
        let x = Axis::categories(self.categories.clone());
        let np = self.policies.len().max(1);
        let width = 0.8 / np as f64;
        let zero_style = font(12.0).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (((metric, values), y), area) in self
            .metrics
            .iter()
            .zip(&self.values)
            .zip(&self.axes)
            .zip(&areas)
        {
            let log = matches!(y.kind, AxisKind::Log);
            let caption = if log {
                format!("{}, log scale (0: none)", metric_label(metric))
            } else {
                metric_label(metric)
            };
            let mut chart = frame(
                area,
                &Frame {
                    caption: Some(&caption),
                    x: &x,
                    y,
                    x_desc: self.x_desc,
                    y_desc: &metric_label(metric),
                    x_title: true,
                },
            )?;
            let base = if log { y.lo } else { 0.0 };
            for (p, color) in self.colors.iter().enumerate() {
                for (t, v) in values[p].iter().enumerate() {
                    if !v.is_finite() {
                        continue;
                    }
                    let x0 = t as f64 - 0.4 + p as f64 * width;
                    if log && *v <= 0.0 {
                        // Nothing to draw on a log axis: a "0" on its floor says so.
                        let (px, py) = chart.backend_coord(&(x0 + width * 0.5, base));
                        let (bx, by) = area.get_base_pixel();
                        area.draw_text("0", &zero_style.color(color), (px - bx, py - 2 - by))
                            .msg()?;
                        continue;
                    }
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0 + width * 0.06, base), (x0 + width * 0.94, y.map(*v))],
                            color.filled(),
                        )))
                        .msg()?;
                }
            }
        }
        draw_legend(&side, &legend, 30)?;
        if let Some(note) = &self.footnote {
            draw_footnote(root, note)?;
        }
        Ok(())
    }
}
