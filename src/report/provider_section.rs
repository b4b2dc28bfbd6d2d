//! The providers' part of the report, for a scenario with several providers (`providers.csv`):
//! a sentence per fallback provider on how it served, a table of policy × provider, and the
//! providers chart.

use super::charts::Chart;
use super::data::Providers;
use super::table::{Format, RowStyle};
use super::text::{Span, escape, spans_html, spans_md};
use std::fmt::Write as _;

/// The table's columns: the `providers.csv` metric, its header, its format.
const COLUMNS: &[(&str, &str, Format)] = &[
    ("attempts", "attempts", Format::Count),
    ("answered", "answered", Format::Count),
    ("rate_limited", "429s", Format::Count),
    ("fallbacks_in", "fallbacks in", Format::Count),
    ("cooldowns", "cooldowns", Format::Count),
    ("cost_usd", "cost", Format::Usd),
];

/// One style per column, from every row's value, so that a column compares at a glance.
fn styles(p: &Providers) -> Vec<RowStyle> {
    COLUMNS
        .iter()
        .map(|(m, _, f)| {
            let values: Vec<f64> = p
                .rows
                .iter()
                .map(|(_, _, v)| v.get(*m).copied().unwrap_or(f64::NAN))
                .collect();
            RowStyle::for_row(&values, *f)
        })
        .collect()
}

/// The reading: for each policy and each provider that took fallbacks, how many of its
/// attempts it answered and how many it refused; when no provider took any, the providers'
/// shares of the answers.
pub(super) fn reading(p: &Providers) -> Vec<Span> {
    let mut spans = Vec::new();
    for (pi, policy) in p.policies.iter().enumerate() {
        for (vi, provider) in p.providers.iter().enumerate() {
            let fallbacks = p.get(pi, vi, "fallbacks_in");
            let attempts = p.get(pi, vi, "attempts");
            let answered = p.get(pi, vi, "answered");
            let refused = p.get(pi, vi, "rate_limited");
            if !(fallbacks > 0.0 && attempts > 0.0 && answered.is_finite() && refused.is_finite()) {
                continue;
            }
            // One style for the sentence's counts: "38 of 1,246", not "38.5 of 1,246".
            let style = RowStyle::for_row(&[fallbacks, answered, attempts], Format::Count);
            let count = |v: f64| style.show(v, None);
            if !spans.is_empty() {
                spans.push(Span::Text(" ".into()));
            }
            spans.push(Span::Strong(policy.clone()));
            spans.push(Span::Text(format!(
                ": {provider} took {} fallbacks and answered {} of {} attempts ({:.0}% refused with a 429).",
                count(fallbacks),
                count(answered),
                count(attempts),
                100.0 * refused / attempts
            )));
        }
    }
    if spans.is_empty() {
        spans.push(Span::Text(
            "No provider took a fallback: each policy's attempts went where its route sent them first."
                .into(),
        ));
    }
    spans
}

const ABOUT: &str = "Per policy and provider, means per run: attempts sent, attempts answered, \
                     429s, attempts that arrived as a fallback from another provider, cooldowns \
                     the router put the provider in, and what its calls cost.";

/// The providers section as HTML, with the providers chart when it was drawn.
pub(super) fn html(p: &Providers, chart: Option<&Chart>) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<h2>Providers</h2>\n<p class=\"reading\">{}</p>\n<p>{ABOUT}</p>",
        spans_html(&reading(p))
    );
    h.push_str("<div class=\"scroll\"><table>\n<thead><tr><th>policy</th><th>provider</th>");
    for (_, header, _) in COLUMNS {
        let _ = write!(h, "<th>{}</th>", escape(header));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let styles = styles(p);
    for (pi, vi, values) in &p.rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>",
            escape(&p.policies[*pi]),
            escape(&p.providers[*vi])
        );
        for ((m, _, _), style) in COLUMNS.iter().zip(&styles) {
            let v = values.get(*m).copied().unwrap_or(f64::NAN);
            let _ = write!(h, "<td>{}</td>", escape(&style.show(v, None)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table></div>\n");
    if let Some(c) = chart {
        h.push_str(&super::html::chart_html(c));
    }
    h
}

/// The providers section as Markdown, the chart as its PNG in `charts/`.
pub(super) fn markdown(p: &Providers, chart: Option<&Chart>) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "## Providers\n\n{}\n\n{ABOUT}\n", spans_md(&reading(p)));
    m.push_str("| policy | provider");
    for (_, header, _) in COLUMNS {
        let _ = write!(m, " | {header}");
    }
    m.push_str(" |\n|---|---");
    for _ in COLUMNS {
        m.push_str("|---:");
    }
    m.push_str("|\n");
    let styles = styles(p);
    for (pi, vi, values) in &p.rows {
        let _ = write!(m, "| {} | {}", p.policies[*pi], p.providers[*vi]);
        for ((metric, _, _), style) in COLUMNS.iter().zip(&styles) {
            let v = values.get(*metric).copied().unwrap_or(f64::NAN);
            let _ = write!(m, " | {}", style.show(v, None));
        }
        m.push_str(" |\n");
    }
    m.push('\n');
    if let Some(c) = chart {
        let _ = writeln!(
            m,
            "![{}]({}/{}.png)\n\n{}\n",
            c.title,
            super::charts::CHARTS_DIR,
            c.name,
            c.about
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn providers() -> Providers {
        let row = |p: usize, v: usize, values: [f64; 4]| {
            let names = ["attempts", "answered", "rate_limited", "fallbacks_in"];
            (
                p,
                v,
                names
                    .iter()
                    .map(|n| n.to_string())
                    .zip(values)
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        Providers {
            metrics: vec![
                "attempts".into(),
                "answered".into(),
                "rate_limited".into(),
                "fallbacks_in".into(),
            ],
            policies: vec!["primary_only".into(), "naive_fallback".into()],
            providers: vec!["primary".into(), "secondary".into()],
            rows: vec![
                row(0, 0, [2737.2, 1435.1, 1302.1, 0.0]),
                row(0, 1, [0.0, 0.0, 0.0, 0.0]),
                row(1, 0, [2695.8, 1449.5, 1246.3, 0.0]),
                row(1, 1, [1246.3, 38.5, 1207.8, 1246.3]),
            ],
        }
    }

    #[test]
    fn the_reading_names_the_provider_a_fallback_swamped() {
        let text = spans_md(&reading(&providers()));
        assert_eq!(
            text,
            "**naive_fallback**: secondary took 1,246 fallbacks and answered 38 of 1,246 \
             attempts (97% refused with a 429)."
        );
    }

    #[test]
    fn the_table_has_a_row_per_policy_and_provider() {
        let md = markdown(&providers(), None);
        assert!(
            md.contains("| naive_fallback | secondary | 1,246 | 38 | 1,208 | 1,246 | n/a | n/a |"),
            "{md}"
        );
        assert_eq!(
            md.lines()
                .filter(|l| l.starts_with("| primary_only"))
                .count(),
            2
        );
        let html = html(&providers(), None);
        assert!(html.contains("<h2>Providers</h2>") && html.contains("<td>secondary</td>"));
    }
}
