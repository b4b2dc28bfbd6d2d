//! Per-provider answered calls and 429s, a bar per policy (`providers.csv`).

use super::*;

/// The metrics of the providers chart, one panel each, on one shared value axis so that a
/// provider's answers and its 429s compare bar to bar.
pub(super) const PROVIDER_METRICS: [&str; 2] = ["answered", "rate_limited"];

/// The providers chart: drawn as the tenant chart is (a group of bars per provider, a bar per
/// policy in its colour), with both panels on one axis, log when the values span more than 1.5
/// decades.
pub(super) fn provider_figure(
    providers: &Providers,
    palette: &PolicyColors,
    title: &str,
) -> TenantFigure {
    let metrics: Vec<String> = PROVIDER_METRICS
        .into_iter()
        .filter(|m| providers.metrics.iter().any(|n| n == m))
        .map(str::to_string)
        .collect();
    let np = providers.policies.len();
    let values: Vec<Vec<Vec<f64>>> = metrics
        .iter()
        .map(|m| {
            (0..np)
                .map(|p| {
                    (0..providers.providers.len())
                        .map(|v| providers.get(p, v, m))
                        .collect()
                })
                .collect()
        })
        .collect();
    let all: Vec<Vec<f64>> = values.iter().flatten().cloned().collect();
    let axis = value_axis(&all);
    TenantFigure {
        title: title.to_string(),
        x_desc: "provider",
        legend_max: 480,
        axes: vec![axis; metrics.len()],
        metrics,
        policies: providers.policies.clone(),
        colors: providers
            .policies
            .iter()
            .map(|p| palette.color(p))
            .collect(),
        categories: providers.providers.clone(),
        values,
        footnote: Some(
            "mean attempts per run; both panels share one scale: compare a provider's answers with its 429s bar to bar"
                .to_string(),
        ),
        labels: providers
            .policies
            .iter()
            .map(|p| (p.clone(), palette.label(p)))
            .collect(),
    }
}
