//! A [`CheckReport`] for people (a pass/fail table), for machines (JSON) and for CI systems
//! (JUnit XML).

use super::baseline::{Change, Comparison, Verdict};
use super::{CheckReport, Outcome, ScenarioCheck, num, num_sig};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};
use serde::Serialize;
use std::fmt::Write;

/// The CI rule in one sentence, printed under the table and in the JSON.
pub const RULE: &str = "with replications, `<`/`<=` hold when mean + ci95 is within the bound, `>`/`>=` when mean - ci95 is, and `==` compares the mean; a relative bound is factor x the other policy's mean";

fn observed(o: &Outcome) -> String {
    if o.replications > 1 {
        format!("{} ± {}", num(o.mean), num_sig(o.ci95, 2))
    } else {
        num(o.mean)
    }
}

fn bound(o: &Outcome) -> String {
    match &o.relative {
        Some(r) if r.factor == 1.0 => format!("{} = {} {}", num(o.bound), r.policy, num(r.mean)),
        Some(r) => format!(
            "{} = {} x {} {}",
            num(o.bound),
            num(r.factor),
            r.policy,
            num(r.mean)
        ),
        None => num(o.bound),
    }
}

fn margin(o: &Outcome) -> String {
    if o.margin.is_nan() {
        return "n/a".to_string();
    }
    let sign = if o.margin > 0.0 { "+" } else { "" };
    let pct = if o.bound != 0.0 && o.bound.is_finite() && o.margin != 0.0 {
        format!(" ({sign}{:.0}%)", 100.0 * o.margin / o.bound.abs())
    } else {
        String::new()
    };
    format!("{sign}{}{pct}", num(o.margin))
}

fn change(c: &Change) -> String {
    if c.change.is_infinite() {
        format!("from 0 to {}", num(c.current))
    } else {
        format!("{:+.1}%", 100.0 * c.change)
    }
}

fn with_ci(mean: f64, half: f64) -> String {
    if half > 0.0 {
        format!("{} ± {}", num(mean), num_sig(half, 2))
    } else {
        num(mean)
    }
}

fn new_table(header: &[&str], right: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    for &i in right {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// The pass/fail table: one row per expectation and policy, then the baseline's regressions and
/// improvements, then a one-line verdict.
pub fn table(report: &CheckReport) -> String {
    let mut out = String::new();
    let mut t = new_table(
        &[
            "scenario",
            "expectation",
            "observed",
            "bound",
            "margin",
            "result",
        ],
        &[],
    );
    for s in &report.scenarios {
        if s.declared == 0 {
            t.add_row(vec![
                s.report.scenario.as_str(),
                "no expectations ([[expect]])",
                "",
                "",
                "",
                "none",
            ]);
        }
        for o in &s.outcomes {
            t.add_row(vec![
                s.report.scenario.clone(),
                o.expectation.clone(),
                observed(o),
                bound(o),
                margin(o),
                if o.pass { "PASS" } else { "FAIL" }.to_string(),
            ]);
        }
    }
    for i in 2..=4 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let _ = writeln!(out, "{t}");
    let _ = writeln!(out, "Rule: {RULE}.");
    for s in &report.scenarios {
        for w in &s.report.warnings {
            let _ = writeln!(out, "warning: {}: {w}", s.report.scenario);
        }
    }
    for s in &report.scenarios {
        if let Some(c) = &s.baseline {
            out.push('\n');
            out.push_str(&baseline_section(s, c));
        }
    }
    for s in &report.scenarios {
        if let Some(p) = &s.saved_baseline {
            let _ = writeln!(out, "saved baseline {}", p.display());
        }
    }
    let (failed, total) = counts(report);
    let regressions: usize = report
        .scenarios
        .iter()
        .filter_map(|s| s.baseline.as_ref())
        .map(|c| c.with(Verdict::Regressed).count())
        .sum();
    let mut verdict = if report.passed() { "ok" } else { "FAILED" }.to_string();
    let _ = write!(verdict, ": {} of {total} expectation checks failed", failed);
    if report.scenarios.iter().any(|s| s.baseline.is_some()) {
        let _ = write!(verdict, ", {regressions} metric(s) regressed");
    }
    let _ = writeln!(
        out,
        "{verdict} ({} scenario(s); results in {})",
        report.scenarios.len(),
        report.out.join("<scenario>").display()
    );
    out
}

fn counts(report: &CheckReport) -> (usize, usize) {
    let all = report.scenarios.iter().flat_map(|s| &s.outcomes);
    let failed = all.clone().filter(|o| !o.pass).count();
    (failed, all.count())
}

fn baseline_section(s: &ScenarioCheck, c: &Comparison) -> String {
    let mut out = String::new();
    let regressed = c.with(Verdict::Regressed).count();
    let improved = c.with(Verdict::Improved).count();
    let _ = writeln!(
        out,
        "{}: baseline \"{}\" ({}), tolerance {}%: {regressed} regressed, {improved} improved, {} unchanged",
        s.report.scenario,
        c.name,
        c.file.display(),
        num(100.0 * c.tolerance),
        c.changes.len() - regressed - improved
    );
    for n in &c.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    if regressed + improved > 0 {
        let mut t = new_table(
            &[
                "policy", "metric", "baseline", "current", "change", "verdict",
            ],
            &[2, 3, 4],
        );
        for ch in c.with(Verdict::Regressed).chain(c.with(Verdict::Improved)) {
            t.add_row(vec![
                ch.policy.clone(),
                ch.metric.clone(),
                with_ci(ch.baseline, ch.baseline_ci95),
                with_ci(ch.current, ch.current_ci95),
                change(ch),
                match ch.verdict {
                    Verdict::Regressed => "REGRESSED",
                    Verdict::Improved => "improved",
                    Verdict::Unchanged => "unchanged",
                }
                .to_string(),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    passed: bool,
    rule: &'static str,
    tolerance: f64,
    scenarios: Vec<JsonScenario<'a>>,
}

#[derive(Serialize)]
struct JsonScenario<'a> {
    file: &'a str,
    scenario: &'a str,
    seed: u64,
    replications: u32,
    passed: bool,
    results: String,
    warnings: &'a [String],
    expectations: &'a [Outcome],
    baseline: Option<&'a Comparison>,
    saved_baseline: Option<String>,
}

/// The report as one JSON document: `passed`, the rule, and per scenario its outcomes (every
/// field of [`Outcome`]; a number that is not one, such as the mean of a missing policy, is
/// `null`) and its baseline comparison.
pub fn to_json(report: &CheckReport) -> String {
    let doc = JsonReport {
        passed: report.passed(),
        rule: RULE,
        tolerance: report.tolerance,
        scenarios: report
            .scenarios
            .iter()
            .map(|s| JsonScenario {
                file: &s.file,
                scenario: &s.report.scenario,
                seed: s.report.seed,
                replications: s.report.replications,
                passed: s.passed(),
                results: s.results.display().to_string(),
                warnings: &s.report.warnings,
                expectations: &s.outcomes,
                baseline: s.baseline.as_ref(),
                saved_baseline: s.saved_baseline.as_ref().map(|p| p.display().to_string()),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("check reports serialise");
    s.push('\n');
    s
}

/// `s` with `& < > " '` escaped for XML text and attributes, and the characters XML 1.0 cannot
/// hold at all replaced by U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn failure_message(o: &Outcome) -> String {
    format!(
        "observed {}{}, bound {}, margin {}",
        observed(o),
        if o.replications > 1 {
            format!(" over {} runs", o.replications)
        } else {
            String::new()
        },
        bound(o),
        margin(o)
    )
}

/// The report as JUnit XML: one `<testsuite>` per scenario, one `<testcase>` per expectation and
/// policy (a `<failure>` when it does not hold), and with a baseline one more per policy (a
/// `<failure>` listing its regressed metrics). A scenario without expectations has one skipped
/// test case saying so.
pub fn junit(report: &CheckReport) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut cases_total = 0;
    let mut failures_total = 0;
    let mut suites = String::new();
    for s in &report.scenarios {
        let mut cases = String::new();
        let (mut tests, mut failures, mut skipped) = (0, 0, 0);
        let classname = xml_escape(&s.report.scenario);
        if s.declared == 0 {
            tests += 1;
            skipped += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{classname}\" name=\"no expectations\">\n      <skipped message=\"the scenario declares no [[expect]] entries\"/>\n    </testcase>"
            );
        }
        for o in &s.outcomes {
            tests += 1;
            let name = xml_escape(&o.expectation);
            let at = format!("{}:{}", s.file, o.line);
            if o.pass {
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{classname}\" name=\"{name}\" file=\"{}\" line=\"{}\"/>",
                    xml_escape(&s.file),
                    o.line
                );
            } else {
                failures += 1;
                let message = failure_message(o);
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{classname}\" name=\"{name}\" file=\"{}\" line=\"{}\">\n      <failure message=\"{}\" type=\"expectation\">{}: {}: {}</failure>\n    </testcase>",
                    xml_escape(&s.file),
                    o.line,
                    xml_escape(&message),
                    xml_escape(&at),
                    name,
                    xml_escape(&message)
                );
            }
        }
        if let Some(c) = &s.baseline
            && c.changes.is_empty()
        {
            // A comparison that judged nothing fails (see `Comparison::passed`): say so to CI too.
            tests += 1;
            failures += 1;
            let name = xml_escape(&format!("baseline {}", c.name));
            let message = xml_escape(&c.notes.join("; "));
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{classname}\" name=\"{name}\">\n      <failure message=\"nothing was compared\" type=\"regression\">{message}</failure>\n    </testcase>"
            );
        }
        if let Some(c) = &s.baseline {
            for p in &s.report.policies {
                if !c.changes.iter().any(|ch| ch.policy == p.name) {
                    continue;
                }
                tests += 1;
                let name = xml_escape(&format!("{}: baseline {}", p.name, c.name));
                let regressed: Vec<String> = c
                    .with(Verdict::Regressed)
                    .filter(|ch| ch.policy == p.name)
                    .map(|ch| {
                        format!(
                            "{} {} -> {} ({})",
                            ch.metric,
                            with_ci(ch.baseline, ch.baseline_ci95),
                            with_ci(ch.current, ch.current_ci95),
                            change(ch)
                        )
                    })
                    .collect();
                if regressed.is_empty() {
                    let _ = writeln!(
                        cases,
                        "    <testcase classname=\"{classname}\" name=\"{name}\"/>"
                    );
                } else {
                    failures += 1;
                    let message = format!(
                        "regressed beyond {}%: {}",
                        num(100.0 * c.tolerance),
                        regressed.join("; ")
                    );
                    let _ = writeln!(
                        cases,
                        "    <testcase classname=\"{classname}\" name=\"{name}\">\n      <failure message=\"{}\" type=\"regression\">{}</failure>\n    </testcase>",
                        xml_escape(&message),
                        xml_escape(&format!("{}\n{}", c.file.display(), regressed.join("\n")))
                    );
                }
            }
        }
        cases_total += tests;
        failures_total += failures;
        let _ = write!(
            suites,
            "  <testsuite name=\"{classname}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" file=\"{}\">\n{cases}  </testsuite>\n",
            xml_escape(&s.file)
        );
    }
    let _ = write!(
        x,
        "<testsuites name=\"stampede check\" tests=\"{cases_total}\" failures=\"{failures_total}\" errors=\"0\">\n{suites}</testsuites>\n"
    );
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_covers_the_five_entities_and_control_characters() {
        assert_eq!(
            xml_escape(r#"a <= b && c > "d" 'e'"#),
            "a &lt;= b &amp;&amp; c &gt; &quot;d&quot; &apos;e&apos;"
        );
        assert_eq!(xml_escape("x\u{1}y\nz"), "x\u{FFFD}y\nz");
    }
}
