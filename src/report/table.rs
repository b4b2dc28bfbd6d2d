//! The side-by-side table printed on a terminal.
//!
//! Each row is written in one unit, chosen for the row ([`RowStyle::for_row`]), so that the
//! policies' cells compare at a glance; with replications a cell is the mean and the half-width
//! of its 95% confidence interval, in the row's unit (`37.2 ± 0.4 s`).

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

/// What kind of number a row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// A duration in seconds.
    Secs,
    /// A count (a mean over replications may be fractional).
    Count,
    /// A ratio such as attempts per call.
    Ratio,
    /// US dollars.
    Usd,
}

/// Seconds in a minute and in an hour.
const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;

/// Durations below this many seconds (10 minutes) are written in seconds.
pub(crate) const SECONDS_BELOW: f64 = 10.0 * MINUTE;
/// Durations from [`SECONDS_BELOW`] up to this many seconds (2 hours) are written in minutes;
/// longer ones in hours.
pub(crate) const MINUTES_BELOW: f64 = 2.0 * HOUR;

/// One value on its own, in the unit chosen for it alone (as [`RowStyle::for_row`] chooses for a
/// row of one value).
pub(crate) fn format(v: f64, f: Format) -> String {
    RowStyle::for_row(&[v], f).show(v, None)
}

/// How the numbers of one row are written: the same unit, scale and decimals for every cell of
/// the row and for the `±` of each cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RowStyle {
    kind: Format,
    /// What a value is divided by before it is written (60 for minutes).
    scale: f64,
    /// Written after the number (`s`, `min`, `h`), or empty.
    unit: &'static str,
    decimals: usize,
}

impl RowStyle {
    /// The style of a row whose values (the policies' means) are `values`; values that are not
    /// finite are ignored.
    ///
    /// - Durations: the row's largest value picks the unit, so that no cell of the row is written
    ///   in another: below 10 minutes ([`SECONDS_BELOW`]) seconds, below 2 hours
    ///   ([`MINUTES_BELOW`]) minutes, from 2 hours on hours; one decimal (`567.4 s`, `11.0 min`,
    ///   `34.8 h`). A row of 9.5 min and 30 s is thus `570.0 s` and `30.0 s`, not `9.5 min` beside
    ///   `30.0 s`.
    /// - Counts: whole numbers grouped by thousands (`1,779,034`) when every value is whole or the
    ///   largest is 100 or more (a tenth of a mean over replications matters for small counts
    ///   only); otherwise one decimal for every cell of the row (`6.3`, `12.0`).
    /// - Ratios: two decimals. Dollars: `$` and cents, thousands grouped.
    pub(crate) fn for_row(values: &[f64], kind: Format) -> RowStyle {
        let finite = || values.iter().copied().filter(|v| v.is_finite());
        let largest = finite().map(f64::abs).fold(0.0, f64::max);
        let (scale, unit, decimals) = match kind {
            Format::Secs if largest < SECONDS_BELOW => (1.0, "s", 1),
            Format::Secs if largest < MINUTES_BELOW => (MINUTE, "min", 1),
            Format::Secs => (HOUR, "h", 1),
            Format::Count if largest >= 100.0 || finite().all(|v| v.fract() == 0.0) => (1.0, "", 0),
            Format::Count => (1.0, "", 1),
            Format::Ratio | Format::Usd => (1.0, "", 2),
        };
        RowStyle {
            kind,
            scale,
            unit,
            decimals,
        }
    }

    /// The cell of a policy whose mean is `mean`, with `± ci95` when `ci95` is given (and
    /// finite); `n/a` for a mean that is not a number.
    pub(crate) fn show(&self, mean: f64, ci95: Option<f64>) -> String {
        if !mean.is_finite() {
            return "n/a".into();
        }
        let number = |v: f64| {
            let n = grouped(v / self.scale, self.decimals);
            if self.kind == Format::Usd {
                format!("${n}")
            } else {
                n
            }
        };
        let mut cell = number(mean);
        if let Some(ci) = ci95.filter(|c| c.is_finite()) {
            cell.push_str(" ± ");
            cell.push_str(&number(ci));
        }
        if !self.unit.is_empty() {
            cell.push(' ');
            cell.push_str(self.unit);
        }
        cell
    }
}

/// `v` with `decimals` decimals, its whole part grouped by thousands (`-1,234.5`).
fn grouped(v: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, v.abs());
    let (whole, fraction) = text.split_at(text.find('.').unwrap_or(text.len()));
    let mut out = String::new();
    // `-0.0` after rounding is written `0.0`.
    if v < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(fraction);
    out
}

/// A table with one column per policy. With replications, cells are means with the half-widths
/// of their 95% confidence intervals (`37.2 ± 0.4 s`); with one, the run's values.
pub fn table(report: &Report) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let replicated = report.replications > 1;
    let mut header = vec![if replicated {
        format!("mean ± 95% CI, {} runs", report.replications)
    } else {
        "metric".to_string()
    }];
    let failed = |p: &&crate::run::PolicyResult| {
        p.aggregate.mean.get("jobs_failed").is_some_and(|f| f > 0.0)
    };
    // A failed policy's cost and latency measure a run that stopped early: its column says so
    // before any number is read.
    header.extend(report.policies.iter().map(|p| {
        if failed(&p) {
            format!("{} ✗ FAILED", p.name)
        } else {
            p.name.clone()
        }
    }));
    t.set_header(header);
    for (key, label, f) in ROWS {
        let means: Vec<f64> = report
            .policies
            .iter()
            .map(|p| p.aggregate.mean.get(key).unwrap_or(f64::NAN))
            .collect();
        if ONLY_IF_NONZERO.contains(key) && means.iter().all(|&m| m == 0.0) {
            continue;
        }
        let style = RowStyle::for_row(&means, *f);
        let mut row = vec![label.to_string()];
        row.extend(report.policies.iter().zip(&means).map(|(p, &m)| {
            let ci = replicated.then(|| p.aggregate.ci95.get(key).unwrap_or(f64::NAN));
            style.show(m, ci)
        }));
        t.add_row(row);
    }
    for i in 1..=report.policies.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = format!("{} (seed {})\n{t}\n", report.scenario, report.seed);
    for p in report.policies.iter().filter(failed) {
        let get = |k: &str| p.aggregate.mean.get(k).unwrap_or(f64::NAN);
        out.push_str(&format!(
            "✗ {} failed {} of {} jobs{}: its cost and latency measure a run that stopped early.\n",
            p.name,
            format(get("jobs_failed"), Format::Count),
            format(get("jobs"), Format::Count),
            if replicated { " (mean per run)" } else { "" },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[f64], f: Format) -> Vec<String> {
        let style = RowStyle::for_row(values, f);
        values.iter().map(|&v| style.show(v, None)).collect()
    }

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(format(1_234_567.0, Format::Count), "1,234,567");
        assert_eq!(format(12.0, Format::Count), "12");
        assert_eq!(format(1_779_033.9, Format::Count), "1,779,034");
        assert_eq!(format(6.3, Format::Count), "6.3");
        assert_eq!(format(37.95, Format::Secs), "38.0 s");
        assert_eq!(format(840.0, Format::Secs), "14.0 min");
        assert_eq!(format(0.5, Format::Usd), "$0.50");
        assert_eq!(format(1234.5, Format::Usd), "$1,234.50");
        assert_eq!(format(f64::NAN, Format::Secs), "n/a");
    }

    #[test]
    fn a_row_of_durations_is_written_in_the_unit_of_its_largest_value() {
        // All below 10 minutes: seconds, even beside 9 min 59.9 s.
        assert_eq!(row(&[599.9, 37.2], Format::Secs), ["599.9 s", "37.2 s"]);
        // The largest 11 minutes: minutes for every cell (567.4 s is 9.46 min).
        assert_eq!(row(&[660.0, 567.4], Format::Secs), ["11.0 min", "9.5 min"]);
        // Exactly 10 minutes is minutes; exactly 2 hours is hours.
        assert_eq!(row(&[600.0], Format::Secs), ["10.0 min"]);
        assert_eq!(row(&[7199.0, 30.0], Format::Secs), ["120.0 min", "0.5 min"]);
        assert_eq!(row(&[7200.0, 30.0], Format::Secs), ["2.0 h", "0.0 h"]);
        // The M/M/1 makespan: 2086 minutes is 34.8 hours.
        assert_eq!(row(&[125_160.0], Format::Secs), ["34.8 h"]);
        assert_eq!(row(&[360_000_000.0], Format::Secs), ["100,000.0 h"]);
        // A value that is not a number neither chooses the unit nor gets one.
        assert_eq!(row(&[f64::NAN, 700.0], Format::Secs), ["n/a", "11.7 min"]);
    }

    #[test]
    fn a_row_of_counts_has_the_same_decimals_in_every_cell() {
        assert_eq!(row(&[12.0, 6.3], Format::Count), ["12.0", "6.3"]);
        assert_eq!(row(&[12.0, 6.0], Format::Count), ["12", "6"]);
        assert_eq!(row(&[1500.2, 6.3], Format::Count), ["1,500", "6"]);
        assert_eq!(row(&[1.0, 1.234], Format::Ratio), ["1.00", "1.23"]);
        assert_eq!(row(&[1.0, 1234.0], Format::Usd), ["$1.00", "$1,234.00"]);
    }

    #[test]
    fn the_interval_is_written_in_the_rows_unit_with_its_decimals() {
        let secs = RowStyle::for_row(&[37.24, 12.0], Format::Secs);
        assert_eq!(secs.show(37.24, Some(0.43)), "37.2 ± 0.4 s");
        assert_eq!(secs.show(12.0, Some(0.0)), "12.0 ± 0.0 s");
        let mins = RowStyle::for_row(&[840.0, 30.0], Format::Secs);
        assert_eq!(mins.show(840.0, Some(36.0)), "14.0 ± 0.6 min");
        assert_eq!(mins.show(30.0, Some(6.0)), "0.5 ± 0.1 min");
        let hours = RowStyle::for_row(&[125_160.0], Format::Secs);
        assert_eq!(hours.show(125_160.0, Some(1_800.0)), "34.8 ± 0.5 h");
        let counts = RowStyle::for_row(&[1_779_033.9], Format::Count);
        assert_eq!(counts.show(1_779_033.9, Some(1_234.4)), "1,779,034 ± 1,234");
        let small = RowStyle::for_row(&[6.3], Format::Count);
        assert_eq!(small.show(6.3, Some(0.26)), "6.3 ± 0.3");
        let usd = RowStyle::for_row(&[0.5], Format::Usd);
        assert_eq!(usd.show(0.5, Some(0.014)), "$0.50 ± $0.01");
        let ratio = RowStyle::for_row(&[1.5], Format::Ratio);
        assert_eq!(ratio.show(1.5, Some(0.123)), "1.50 ± 0.12");
        // An interval that is not a number is left out rather than written `± NaN`.
        assert_eq!(secs.show(37.24, Some(f64::NAN)), "37.2 s");
    }
}
