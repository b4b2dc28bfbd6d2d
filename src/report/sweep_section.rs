//! The sweep's part of the report, as HTML and as Markdown: its findings, where each policy
//! breaks, the best setting at each point of the conditions, and every point in a table.

use super::data::Sweep;
use super::sweep_reading::{
    Walk, best_settings, breaking_points, close_note, point_failed, reading, unit, walked, with_ci,
};
use super::text::{escape, spans_html, spans_md};
use std::fmt::Write as _;

/// How a walk reads in the table: where the policy breaks (or that it never does), and how far
/// it holds with its job latency p99 there.
fn walk_cells(w: &Walk, walked: &str) -> (String, String) {
    let breaks = match &w.breaks_at {
        Some(b) => format!("✗ fails jobs from {walked} = {b}"),
        None => "✓ never".to_string(),
    };
    let held = match &w.holds_to {
        Some((v, p99)) => format!("{walked} = {v} (job p99 {p99})"),
        None => "nowhere: fails at the first value".to_string(),
    };
    (breaks, held)
}

/// How the breaking-point table reads, after "Walking `<parameter>` upwards".
const BREAKS_READ: &str = ": the first value where some runs had failed jobs (✗), or how far the policy holds (✓), with its job latency p99 there.";

/// The parameter each policy is walked along (its dotted path).
fn walked_path(sweep: &Sweep) -> &str {
    sweep
        .params
        .get(walked(sweep))
        .map(String::as_str)
        .unwrap_or("")
}

/// The walked parameter's short name (its last path segment), for cells.
fn short(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// The sweep sections as HTML.
pub(super) fn html(sweep: &Sweep, replications: Option<u32>) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<h2>Findings</h2>\n<p class=\"reading\">{}</p>",
        spans_html(&reading(sweep, replications))
    );
    let walked = walked_path(sweep);
    let breaks = breaking_points(sweep);
    let _ = writeln!(
        h,
        "<h2>Where each policy breaks</h2>\n<p>Walking <code>{}</code> upwards{BREAKS_READ}</p>",
        escape(walked)
    );
    h.push_str("<div class=\"scroll\"><table class=\"text\">\n<thead><tr><th>policy</th><th>with</th><th>breaks</th><th>holds to</th></tr></thead>\n<tbody>\n");
    for (policy, walks) in &breaks {
        for w in walks {
            let (breaks_at, held) = walk_cells(w, short(walked));
            let class = if w.breaks_at.is_some() {
                " class=\"failed\""
            } else {
                ""
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td{class}>{}</td><td>{}</td></tr>",
                escape(policy),
                escape(if w.at.is_empty() {
                    "every value of the others"
                } else {
                    &w.at
                }),
                escape(&breaks_at),
                escape(&held)
            );
        }
    }
    h.push_str("</tbody>\n</table></div>\n");
    h.push_str("<h2>Best settings</h2>\n<p>At each point of the swept conditions, the policy and settings with the lowest job latency p99 among those whose jobs all finished there, with 95% confidence intervals.</p>\n");
    h.push_str("<div class=\"scroll\"><table class=\"text\">\n<thead><tr><th>conditions</th><th>best choice</th><th>job latency p99</th><th>cost</th><th>close</th></tr></thead>\n<tbody>\n");
    for b in best_settings(sweep) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(if b.at.is_empty() { "all" } else { &b.at }),
            escape(&b.choice),
            escape(&b.latency),
            escape(&b.cost),
            escape(close_note(b.close).trim_start_matches("; "))
        );
    }
    h.push_str("</tbody>\n</table></div>\n");
    h.push_str("<details>\n<summary>Every point (sweep_summary.csv)</summary>\n<div class=\"scroll\"><table class=\"text\">\n<thead><tr>");
    for p in &sweep.params {
        let _ = write!(h, "<th>{}</th>", escape(p));
    }
    h.push_str("<th>policy</th><th>job latency p99</th><th>cost</th><th>jobs failed</th></tr></thead>\n<tbody>\n");
    let units = [
        unit(sweep, "job_latency_p99_s"),
        unit(sweep, "cost_usd"),
        unit(sweep, "jobs_failed"),
    ];
    for p in &sweep.points {
        let failed = point_failed(p);
        let _ = write!(h, "<tr{}>", if failed { " class=\"failed\"" } else { "" });
        for v in &p.params {
            let _ = write!(h, "<td>{}</td>", escape(v));
        }
        let _ = writeln!(
            h,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            escape(&sweep.policies[p.policy]),
            escape(&with_ci(p, "job_latency_p99_s", &units[0])),
            escape(&with_ci(p, "cost_usd", &units[1])),
            if failed { "✗ " } else { "" },
            escape(&with_ci(p, "jobs_failed", &units[2]))
        );
    }
    h.push_str("</tbody>\n</table></div>\n</details>\n");
    h
}

/// The sweep sections as Markdown.
pub(super) fn markdown(sweep: &Sweep, replications: Option<u32>) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "## Findings\n\n{}\n",
        spans_md(&reading(sweep, replications))
    );
    let walked = walked_path(sweep);
    let breaks = breaking_points(sweep);
    let _ = writeln!(
        m,
        "## Where each policy breaks\n\nWalking `{walked}` upwards{BREAKS_READ}\n"
    );
    m.push_str("| policy | with | breaks | holds to |\n|---|---|---|---|\n");
    for (policy, walks) in &breaks {
        for w in walks {
            let (breaks_at, held) = walk_cells(w, short(walked));
            let at = if w.at.is_empty() {
                "every value of the others"
            } else {
                &w.at
            };
            let _ = writeln!(m, "| {policy} | {at} | {breaks_at} | {held} |");
        }
    }
    m.push_str("\n## Best settings\n\nAt each point of the swept conditions, the policy and settings with the lowest job latency p99 among those whose jobs all finished there, with 95% confidence intervals.\n\n| conditions | best choice | job latency p99 | cost | close |\n|---|---|---:|---:|---|\n");
    for b in best_settings(sweep) {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} |",
            if b.at.is_empty() { "all" } else { &b.at },
            b.choice,
            b.latency,
            b.cost,
            close_note(b.close).trim_start_matches("; ")
        );
    }
    m.push('\n');
    m
}
