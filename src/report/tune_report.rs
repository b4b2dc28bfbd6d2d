//! A tune's design-review report: `report.html` (self-contained, the frontier chart inlined) and
//! `report.md` (the chart's PNG by relative path), written by `stampede tune` beside its CSVs.
//!
//! Task: what a review needs to accept a recommendation: the setting and its snippet, its numbers
//! on replications the search never saw beside the policies as written (the same seeds), the
//! frontier it was picked from, and how much search stood behind it. Built from the same CSV
//! texts the tune writes, so the page and the files cannot disagree.

use super::charts::PlotError;
use super::text::escape;
use crate::tune::export::{interval, pareto_csv, shown, snippet, validation_csv};
use crate::tune::{Outcome, Plan};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A table as rows of cells, the first row its header.
type Grid = Vec<Vec<String>>;

/// The columns of `csv` a reader needs: `keep` as they are, then each of `metrics` as
/// `mean ± ci95`.
fn grid(csv: &[u8], keep: &[String], metrics: &[&str]) -> Grid {
    let mut reader = csv::Reader::from_reader(csv);
    let header: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let at = |name: &str| header.iter().position(|h| h == name);
    let mut rows = vec![
        keep.iter()
            .cloned()
            .chain(metrics.iter().map(|m| m.to_string()))
            .collect::<Vec<_>>(),
    ];
    for record in reader.records().flatten() {
        let cell = |name: &str| at(name).and_then(|i| record.get(i)).unwrap_or("");
        let number = |name: &str| cell(name).parse::<f64>().unwrap_or(f64::NAN);
        let mut row: Vec<String> = keep.iter().map(|k| cell(k).to_string()).collect();
        for m in metrics {
            row.push(interval(number(m), number(&format!("{m}_ci95"))));
        }
        rows.push(row);
    }
    rows
}

fn html_table(g: &Grid) -> String {
    let mut h = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for c in &g[0] {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for row in &g[1..] {
        h.push_str("<tr>");
        for c in row {
            let _ = write!(h, "<td>{}</td>", escape(c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
    h
}

fn md_table(g: &Grid) -> String {
    let cell = |c: &String| c.replace('|', "\\|");
    let mut m = String::new();
    let _ = writeln!(
        m,
        "| {} |",
        g[0].iter().map(cell).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(m, "|{}", "---|".repeat(g[0].len()));
    for row in &g[1..] {
        let _ = writeln!(
            m,
            "| {} |",
            row.iter().map(cell).collect::<Vec<_>>().join(" | ")
        );
    }
    m
}

/// The report's parts, shared by both formats.
struct Parts {
    title: String,
    meta: String,
    /// The recommendation's comment lines (its numbers), without the leading `# `.
    reading: Vec<String>,
    /// The `[[policy]]` snippet itself, comments left out.
    policy: Option<String>,
    validation: Grid,
    frontier: Grid,
}

fn parts(plan: &Plan, outcome: &Outcome) -> Parts {
    let params: Vec<String> = plan
        .spec
        .parameters
        .iter()
        .map(|p| p.path.clone())
        .collect();
    let metrics = shown(plan);
    let keep = |first: &[&str]| -> Vec<String> {
        first
            .iter()
            .map(|s| s.to_string())
            .chain(params.iter().cloned())
            .collect()
    };
    let mut validation_keep = keep(&["setting", "kind"]);
    validation_keep.push("constraints".into());
    let snippet = snippet(plan, outcome);
    let (reading, policy) = match &snippet {
        Some(s) => (
            s.lines()
                .filter_map(|l| l.strip_prefix("# "))
                .map(str::to_string)
                .collect(),
            Some(
                s.lines()
                    .filter(|l| !l.starts_with('#'))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ),
        None => (
            vec![format!(
                "No frontier point met the constraints again on {} replications the search never saw: no recommendation (validation.csv has their numbers).",
                plan.spec.validation_replications
            )],
            None,
        ),
    };
    Parts {
        title: format!("{}: tune of \"{}\"", plan.scenario.name, plan.spec.policy),
        meta: format!(
            "seed {}; {} candidates, {} replications of a budget of {}; validation on {} unseen replications per setting",
            plan.seed,
            outcome.candidates.len(),
            outcome.spent,
            plan.budget,
            plan.spec.validation_replications
        ),
        reading,
        policy,
        validation: grid(&validation_csv(plan, outcome), &validation_keep, &metrics),
        frontier: grid(&pareto_csv(plan, outcome), &params, &metrics),
    }
}

const VALIDATION_READ: &str = "The recommendation and the frontier points re-run on replications the search never saw, beside the scenario's policies as written on the same seeds (mean ± 95% CI; constraints judged on the interval).";
const FRONTIER_READ: &str = "The feasible settings no other feasible setting beats on every objective, at their search numbers (pareto.csv).";
const METHOD_READ: &str = "A scrambled Halton design raced by successive halving on common random numbers, refined around the frontier, then re-validated on fresh seeds: docs/tune.md.";

fn html(p: &Parts, svg: Option<&str>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"meta\">{}</p>\n",
        escape(&p.title),
        super::html::STYLE,
        escape(&p.title),
        escape(&p.meta)
    );
    h.push_str("<h2>Recommendation</h2>\n<p class=\"reading\">");
    h.push_str(
        &p.reading
            .iter()
            .map(|l| escape(l))
            .collect::<Vec<_>>()
            .join("<br>\n"),
    );
    h.push_str("</p>\n");
    if let Some(policy) = &p.policy {
        let _ = writeln!(
            h,
            "<pre class=\"aligned\">{}</pre>",
            escape(policy.trim_end())
        );
    }
    let _ = writeln!(
        h,
        "<h2>On unseen seeds</h2>\n<p>{VALIDATION_READ}</p>\n{}",
        html_table(&p.validation)
    );
    if let Some(svg) = svg {
        let _ = writeln!(
            h,
            "<h2>The frontier</h2>\n<figure>{}</figure>",
            super::html::inline_svg(svg)
        );
    } else {
        h.push_str("<h2>The frontier</h2>\n");
    }
    let _ = writeln!(
        h,
        "<p>{FRONTIER_READ}</p>\n{}\n<p class=\"note\">{METHOD_READ}</p>\n</body>\n</html>",
        html_table(&p.frontier)
    );
    h
}

fn markdown(p: &Parts, png: bool) -> String {
    let mut m = format!("# {}\n\n{}\n\n## Recommendation\n\n", p.title, p.meta);
    for l in &p.reading {
        let _ = writeln!(m, "> {l}  ");
    }
    if let Some(policy) = &p.policy {
        let _ = write!(m, "\n```toml\n{}\n```\n", policy.trim_end());
    }
    let _ = write!(
        m,
        "\n## On unseen seeds\n\n{VALIDATION_READ}\n\n{}\n## The frontier\n\n",
        md_table(&p.validation)
    );
    if png {
        m.push_str("![the frontier](charts/frontier.png)\n\n");
    }
    let _ = write!(
        m,
        "{FRONTIER_READ}\n\n{}\n{METHOD_READ}\n",
        md_table(&p.frontier)
    );
    m
}

/// Writes `report.html` and `report.md` into `dir`; `chart` is the frontier chart's SVG when it
/// was drawn (then `charts/frontier.png` is beside it).
pub fn write(
    dir: &Path,
    plan: &Plan,
    outcome: &Outcome,
    chart: Option<&str>,
) -> Result<Vec<PathBuf>, PlotError> {
    let p = parts(plan, outcome);
    super::html::write_pages(dir, &html(&p, chart), &markdown(&p, chart.is_some()))
}
