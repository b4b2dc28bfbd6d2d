//! The side-by-side table printed on a terminal.

use crate::run::Report;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

/// The rows shown, with how each is formatted. Everything else is in the JSON and CSV.
pub(crate) const ROWS: &[(&str, &str, Format)] = &[
    ("makespan_s", "makespan", Format::Secs),
    ("job_latency_p50_s", "job latency p50", Format::Secs),
    ("job_latency_p99_s", "job latency p99", Format::Secs),
    ("call_latency_p50_s", "call latency p50", Format::Secs),
    ("call_latency_p99_s", "call latency p99", Format::Secs),
    ("jobs_ok", "jobs ok", Format::Count),
    ("jobs_failed", "jobs failed", Format::Count),
    (
        "jobs_budget_exhausted",
        "jobs stopped by limits",
        Format::Count,
    ),
    ("attempts", "attempts", Format::Count),
    ("retries", "retries", Format::Count),
    ("rate_limited", "rate limited (429)", Format::Count),
    ("gave_up", "calls gave up", Format::Count),
    ("agent_restarts", "agent restarts", Format::Count),
    ("attempts_per_call", "attempts per call", Format::Ratio),
    ("tokens_billed", "tokens billed", Format::Count),
    ("cost_usd", "cost", Format::Usd),
    ("peak_in_flight", "peak in flight", Format::Count),
    ("guard_tripped", "stopped by a guard", Format::Count),
];

/// Rows shown only when some policy has a value other than zero there.
const ONLY_IF_NONZERO: &[&str] = &["jobs_budget_exhausted", "guard_tripped"];

#[derive(Clone, Copy)]
pub(crate) enum Format {
    Secs,
    Count,
    Ratio,
    Usd,
}

pub(crate) fn format(v: f64, f: Format) -> String {
    match f {
        Format::Secs if v >= 600.0 => format!("{:.1} min", v / 60.0),
        Format::Secs => format!("{v:.1} s"),
        // Means over replications are fractional: a tenth matters for small counts only.
        Format::Count if v.fract() == 0.0 || v >= 100.0 => group_thousands(v.round() as u64),
        Format::Count => format!("{v:.1}"),
        Format::Ratio => format!("{v:.2}"),
        Format::Usd => format!("${v:.2}"),
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A table with one column per policy. With replications, cells are means.
pub fn table(report: &Report) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec![if report.replications > 1 {
        format!("mean of {} runs", report.replications)
    } else {
        "metric".to_string()
    }];
    header.extend(report.policies.iter().map(|p| p.name.clone()));
    t.set_header(header);
    for (key, label, f) in ROWS {
        if ONLY_IF_NONZERO.contains(key)
            && report
                .policies
                .iter()
                .all(|p| p.aggregate.mean.get(key) == Some(0.0))
        {
            continue;
        }
        let mut row = vec![label.to_string()];
        row.extend(
            report
                .policies
                .iter()
                .map(|p| format(p.aggregate.mean.get(key).unwrap_or(f64::NAN), *f)),
        );
        t.add_row(row);
    }
    for i in 1..=report.policies.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!("{} (seed {})\n{t}\n", report.scenario, report.seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(format(1_234_567.0, Format::Count), "1,234,567");
        assert_eq!(format(12.0, Format::Count), "12");
        assert_eq!(format(1_779_033.9, Format::Count), "1,779,034");
        assert_eq!(format(6.3, Format::Count), "6.3");
        assert_eq!(format(37.95, Format::Secs), "38.0 s");
        assert_eq!(format(840.0, Format::Secs), "14.0 min");
        assert_eq!(format(0.5, Format::Usd), "$0.50");
    }
}
