//! Per-tenant metrics, a bar per policy.

use super::*;

/// At most this many tenant groups of bars; past it, the tenants with the highest values are
/// shown one by one and the others as their mean.
pub(super) const MAX_TENANT_GROUPS: usize = 10;

pub(super) struct TenantFigure {
    pub(super) title: String,
    pub(super) metrics: Vec<String>,
    pub(super) policies: Vec<String>,
    pub(super) colors: Vec<RGBColor>,
    /// The groups of bars: a tenant, or "other N (mean)".
    pub(super) categories: Vec<String>,
    /// `values[metric][policy][category]`.
    pub(super) values: Vec<Vec<Vec<f64>>>,
    pub(super) footnote: Option<String>,
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
        let values = metrics
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
            metrics,
            policies: tenants.policies.clone(),
            colors: tenants.policies.iter().map(|p| palette.color(p)).collect(),
            categories: groups.into_iter().map(|(name, _)| name).collect(),
            values,
            footnote,
        }
    }
}

impl Figure for TenantFigure {
    fn size(&self) -> (u32, u32) {
        (1000, TITLE_BAND + 26 + 290 * self.metrics.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let legend: Vec<LegendEntry> = self
            .policies
            .iter()
            .zip(&self.colors)
            .map(|(p, c)| LegendEntry {
                label: p.clone(),
                color: *c,
                mark: Mark::Bar,
            })
            .collect();
        let lw = legend_width(root, &legend);
        let (w, h) = body.dim_in_pixel();
        let (body, _) = body.split_vertically(h - 26);
        let (plots, side) = body.split_horizontally(w - lw);
        let areas = plots.split_evenly((self.metrics.len().max(1), 1));
        let x = Axis::categories(self.categories.clone());
        let np = self.policies.len().max(1);
        let width = 0.8 / np as f64;
        for ((metric, values), area) in self.metrics.iter().zip(&self.values).zip(&areas) {
            let max = values
                .iter()
                .flatten()
                .filter(|v| v.is_finite())
                .fold(0.0f64, |m, v| m.max(*v));
            let y = Axis::from_zero(max, 5);
            let mut chart = frame(
                area,
                &Frame {
                    caption: Some(&metric_label(metric)),
                    x: &x,
                    y: &y,
                    x_desc: "tenant",
                    y_desc: &metric_label(metric),
                    x_title: true,
                },
            )?;
            for (p, color) in self.colors.iter().enumerate() {
                for (t, v) in values[p].iter().enumerate() {
                    if !v.is_finite() {
                        continue;
                    }
                    let x0 = t as f64 - 0.4 + p as f64 * width;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0 + width * 0.06, 0.0), (x0 + width * 0.94, *v)],
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
