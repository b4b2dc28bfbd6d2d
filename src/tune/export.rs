//! A tune's files and its printed summary: `tune.csv` (every candidate), `pareto.csv` (the
//! feasible frontier), `validation.csv` (the re-run on unseen replications, with the policies as
//! written), `recommended.toml` (the `[[policy]]` snippet to paste).
//!
//! Task: give the reader the numbers the recommendation rests on, the search's and the
//! validation's apart, in the sweep's conventions (parameters by dotted path, numbers as Rust
//! writes them, a metric followed by its `_ci95`), so that the same tools read both.

use super::search::{Candidate, Verdict};
use super::{Outcome, Plan, TuneError, Validated};
use crate::io::write_atomic;
use crate::metrics::{Aggregate, Metrics};
use crate::scenario::{self, Bound, MetricRef};
use std::path::Path;

/// One row per candidate.
pub const TUNE_CSV: &str = "tune.csv";
/// The feasible frontier of the search.
pub const PARETO_CSV: &str = "pareto.csv";
/// The frontier points and the policies as written, on the validation replications.
pub const VALIDATION_CSV: &str = "validation.csv";
/// The recommended setting as a `[[policy]]` entry.
pub const RECOMMENDED_TOML: &str = "recommended.toml";

fn verdict_cell(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "yes",
        Verdict::Violated => "no",
        Verdict::Undecided => "undecided",
    }
}

fn paths(plan: &Plan) -> Vec<String> {
    plan.space
        .parameters
        .iter()
        .map(|p| p.path.clone())
        .collect()
}

fn cells(values: &[toml::Value]) -> Vec<String> {
    values.iter().map(scenario::value_cell).collect()
}

/// `tune.csv`: `id`, the parameters, `stage`, `rungs`, `status`, `replications`, each metric's
/// `_mean` and `_ci95`, `feasible` (the constraints on the candidate's intervals: yes, no,
/// undecided).
pub fn tune_csv(plan: &Plan, outcome: &Outcome) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["id".to_string()];
    header.extend(paths(plan));
    header.extend(["stage", "rungs", "status", "replications"].map(String::from));
    for n in Metrics::NAMES {
        header.push(format!("{n}_mean"));
        header.push(format!("{n}_ci95"));
    }
    header.push("feasible".into());
    w.write_record(&header).expect("in-memory CSV");
    for c in &outcome.candidates {
        let a = c.aggregate();
        let mut row = vec![c.id.to_string()];
        row.extend(cells(&c.values));
        row.push(c.stage.label());
        row.push(c.rungs.to_string());
        row.push(c.status.label());
        row.push(c.runs.len().to_string());
        if c.runs.is_empty() {
            // Proposed, but the budget ended first: no numbers, not zeros.
            row.extend(std::iter::repeat_n(String::new(), 2 * Metrics::NAMES.len()));
            row.push("not run".into());
            w.write_record(&row).expect("in-memory CSV");
            continue;
        }
        push_metrics(&mut row, a);
        row.push(verdict_cell(super::search::judge(&plan.spec.constraints, a)).into());
        w.write_record(&row).expect("in-memory CSV");
    }
    w.into_inner().expect("in-memory CSV")
}

fn push_metrics(row: &mut Vec<String>, a: &Aggregate) {
    for (m, h) in a.mean.values().iter().zip(a.ci95.values()) {
        row.push(m.to_string());
        row.push(h.to_string());
    }
}

fn metric_header() -> Vec<String> {
    let mut h = Vec::new();
    for n in Metrics::NAMES {
        h.push(n.to_string());
        h.push(format!("{n}_ci95"));
    }
    h
}

/// `pareto.csv`: the parameters, every metric and its `_ci95` (the search's numbers), then
/// `id`, `replications`, `validated` (passed, failed, or not re-run), best on the first
/// objective first.
pub fn pareto_csv(plan: &Plan, outcome: &Outcome) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = paths(plan);
    header.extend(metric_header());
    header.extend(["id", "replications", "validated"].map(String::from));
    w.write_record(&header).expect("in-memory CSV");
    for &i in &outcome.frontier {
        let c = &outcome.candidates[i];
        let mut row = cells(&c.values);
        push_metrics(&mut row, c.aggregate());
        row.push(c.id.to_string());
        row.push(c.runs.len().to_string());
        let validated = match outcome.validated.iter().find(|v| v.candidate == Some(i)) {
            Some(v) if v.verdict == Verdict::Holds => "passed",
            Some(_) => "failed",
            None => "not re-run",
        };
        row.push(validated.into());
        w.write_record(&row).expect("in-memory CSV");
    }
    w.into_inner().expect("in-memory CSV")
}

/// `validation.csv`: `setting` (a candidate's id or a policy's name), `kind` (recommended,
/// frontier, policy as written), the parameters (empty for the other policies), `replications`,
/// `constraints` (yes, no, undecided), then every metric and its `_ci95`.
pub fn validation_csv(plan: &Plan, outcome: &Outcome) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["setting".to_string(), "kind".to_string()];
    header.extend(paths(plan));
    header.extend(["replications", "constraints"].map(String::from));
    header.extend(metric_header());
    w.write_record(&header).expect("in-memory CSV");
    let rows = outcome
        .validated
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let kind = if Some(k) == outcome.recommended {
                "recommended"
            } else {
                "frontier"
            };
            (v, kind)
        })
        .chain(outcome.baselines.iter().map(|v| (v, "as written")));
    for (v, kind) in rows {
        let mut row = vec![v.label.clone(), kind.to_string()];
        match v.candidate {
            Some(i) => row.extend(cells(&outcome.candidates[i].values)),
            None if v.label == plan.spec.policy => row.extend(cells(&plan.incumbent)),
            None => row.extend(std::iter::repeat_n(String::new(), plan.space.dims())),
        }
        row.push(v.aggregate.replications.to_string());
        row.push(verdict_cell(v.verdict).into());
        push_metrics(&mut row, &v.aggregate);
        w.write_record(&row).expect("in-memory CSV");
    }
    w.into_inner().expect("in-memory CSV")
}

/// A number for a person: four significant digits, no exponent below a million.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The metrics the summary and the snippet show: the objectives, then the constraints'.
pub fn shown(plan: &Plan) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = plan.spec.objectives.iter().map(|o| o.metric).collect();
    for c in &plan.spec.constraints {
        if let MetricRef::Summary(m) = c.metric
            && !names.contains(&m)
        {
            names.push(m);
        }
    }
    names
}

/// `mean ± ci95`, the mean to four significant digits and the half-width to as many decimals.
fn mean_ci(a: &Aggregate, metric: &str) -> String {
    interval(
        a.mean.get(metric).unwrap_or(f64::NAN),
        a.ci95.get(metric).unwrap_or(f64::NAN),
    )
}

/// `mean ± half`, both with the decimals that give the mean four significant digits (or the
/// half-width two, for a zero mean); `0 ± 0` for an exact zero.
pub fn interval(mean: f64, half: f64) -> String {
    if mean == 0.0 && half == 0.0 {
        return "0 ± 0".into();
    }
    let lead = |x: f64, digits: i32| (digits - 1 - x.abs().log10().floor() as i32).clamp(0, 6);
    let decimals = if mean != 0.0 && mean.is_finite() {
        lead(mean, 4)
    } else if half.is_finite() && half != 0.0 {
        lead(half, 2)
    } else {
        0
    } as usize;
    format!("{mean:.decimals$} ± {half:.decimals$}")
}

/// `a - b` on `metric`, replication by replication, as `mean ± ci95` (signed).
fn paired_difference(a: &[Metrics], b: &[Metrics], metric: &str) -> String {
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.get(metric).unwrap_or(f64::NAN) - y.get(metric).unwrap_or(f64::NAN))
        .collect();
    let (mean, half) = crate::metrics::summary::mean_ci95(&d);
    let sign = if mean > 0.0 { "+" } else { "" };
    format!("{sign}{}", interval(mean, half))
}

/// The constraints as written: `jobs_failed == 0, rate_limited <= 10`.
fn constraints(plan: &Plan) -> String {
    let list: Vec<String> = plan
        .spec
        .constraints
        .iter()
        .map(|c| {
            let bound = match &c.bound {
                Bound::Value(v) => num(*v),
                Bound::Relative { factor, policy } => format!("{} x {policy}", num(*factor)),
            };
            format!("{} {} {bound}", c.metric.name(), c.op.symbol())
        })
        .collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// The recommended setting as a `[[policy]]` entry named `<policy>_tuned`, with its validated
/// and search numbers (and the policy as written, on the same replications) as comments.
pub fn snippet(plan: &Plan, outcome: &Outcome) -> Option<String> {
    let v = &outcome.validated[outcome.recommended?];
    let c = &outcome.candidates[v.candidate?];
    let entry = plan.policy_entry(&c.values).ok()?;
    let written = outcome
        .baselines
        .iter()
        .find(|b| b.label == plan.spec.policy);
    let objectives: Vec<String> = plan
        .spec
        .objectives
        .iter()
        .map(|o| {
            format!(
                "{} ({})",
                o.metric,
                if o.maximize { "maximised" } else { "minimised" }
            )
        })
        .collect();
    let mut s = format!(
        "# stampede tune: policy \"{}\" of scenario \"{}\", seed {}, candidate {} ({}).\n# Objectives: {}; constraints: {}.\n",
        plan.spec.policy,
        plan.scenario.name,
        plan.seed,
        c.id,
        c.stage.label(),
        objectives.join(", "),
        constraints(plan),
    );
    s.push_str(&format!(
        "# Re-run on {} replications the search never saw (mean ± 95% CI){}:\n",
        v.aggregate.replications,
        if written.is_some() {
            format!("; \"{}\" as written on the same ones", plan.spec.policy)
        } else {
            String::new()
        }
    ));
    for m in shown(plan) {
        let mut line = format!("#   {m} = {}", mean_ci(&v.aggregate, m));
        if let Some(w) = written {
            line.push_str(&format!(
                "   (as written: {}; difference {}, paired)",
                mean_ci(&w.aggregate, m),
                paired_difference(&v.runs, &w.runs, m)
            ));
        }
        s.push_str(&line);
        s.push('\n');
    }
    let a = c.aggregate();
    s.push_str(&format!(
        "# In the search ({} replications): {}.\n",
        a.replications,
        shown(plan)
            .iter()
            .map(|m| format!("{m} = {}", mean_ci(a, m)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push_str("[[policy]]\n");
    s.push_str(&format!(
        "name = {}\n",
        entry.get("name").map(|n| n.to_string()).unwrap_or_default()
    ));
    for (k, value) in &entry {
        if k != "name" {
            s.push_str(&format!("{} = {value}\n", key(k)));
        }
    }
    Some(s)
}

/// A TOML key, quoted when it is not bare.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        toml::Value::String(k.to_string()).to_string()
    }
}

/// The files a tune writes at the top of its directory (a stale one is removed when a new tune
/// moves in without it: `recommended.toml` when there is no recommendation).
pub const FILES: [&str; 4] = [TUNE_CSV, PARETO_CSV, VALIDATION_CSV, RECOMMENDED_TOML];

/// Refuses a directory holding a run's or a sweep's results.
pub fn check_dir(dir: &Path) -> Result<(), TuneError> {
    let run = ["summary.json"].into_iter().find(|f| dir.join(f).exists());
    if let Some(file) = run.or_else(|| crate::sweep::holds_sweep(dir)) {
        return Err(TuneError::Input(format!(
            "{} holds a run's or a sweep's results ({file}); choose another --out (a tune writes into output/<name>-tune by default)",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes the tune's files into `staged`, a staging folder moved into place whole (with the
/// chart and the report) by [`crate::io::Staging::commit`]; returns their names.
pub fn write_files(
    staged: &Path,
    plan: &Plan,
    outcome: &Outcome,
) -> Result<Vec<&'static str>, TuneError> {
    let mut files: Vec<(&'static str, Vec<u8>)> = vec![
        (VALIDATION_CSV, validation_csv(plan, outcome)),
        (PARETO_CSV, pareto_csv(plan, outcome)),
    ];
    if let Some(s) = snippet(plan, outcome) {
        files.push((RECOMMENDED_TOML, s.into_bytes()));
    }
    files.push((TUNE_CSV, tune_csv(plan, outcome)));
    for (name, bytes) in &files {
        let path = staged.join(name);
        write_atomic(&path, bytes).map_err(|source| TuneError::Io { path, source })?;
    }
    Ok(files.iter().map(|(n, _)| *n).collect())
}

/// What `stampede tune` prints: the search in one line, the frontier, the recommendation (or
/// why there is none) with its snippet.
pub fn summary(plan: &Plan, outcome: &Outcome) -> String {
    let finished = outcome
        .candidates
        .iter()
        .filter(|c| c.status == super::search::Status::Finished)
        .count();
    let mut s = format!(
        "tune {}: policy \"{}\", {} parameters, seed {}\nsearch: {} candidates ({} raced to {} replications), {} replications of a budget of {}; validation: {} replications on unseen seeds\n",
        plan.scenario.name,
        plan.spec.policy,
        plan.space.dims(),
        plan.seed,
        outcome.candidates.len(),
        finished,
        super::search::LAST_RUNG,
        outcome.spent,
        plan.budget,
        outcome.validation_runs(plan),
    );
    let metrics = shown(plan);
    s.push_str(&format!(
        "frontier ({} feasible setting{}; search numbers, mean ± 95% CI):\n",
        outcome.frontier.len(),
        if outcome.frontier.len() == 1 { "" } else { "s" }
    ));
    const SHOWN: usize = 10;
    for &i in outcome.frontier.iter().take(SHOWN) {
        let c: &Candidate = &outcome.candidates[i];
        let a = c.aggregate();
        s.push_str(&format!(
            "  {:>4}  {}  |  {}\n",
            c.id,
            plan.describe(&c.values),
            metrics
                .iter()
                .map(|m| format!("{m} {}", mean_ci(a, m)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if outcome.frontier.len() > SHOWN {
        s.push_str(&format!(
            "  ... and {} more in {PARETO_CSV}\n",
            outcome.frontier.len() - SHOWN
        ));
    }
    for (k, v) in outcome.validated.iter().enumerate() {
        if Some(k) == outcome.recommended {
            break;
        }
        s.push_str(&format!(
            "note: candidate {} fails its constraints ({}) on the validation replications: not recommended\n",
            v.label,
            constraints(plan)
        ));
    }
    match snippet(plan, outcome) {
        Some(snippet) => {
            s.push_str("recommended (paste into the scenario):\n\n");
            s.push_str(&snippet);
            s.push('\n');
        }
        None if outcome.frontier.is_empty() => s.push_str(&format!(
            "no recommendation: no candidate met the constraints ({}) in the search; widen the ranges, relax the constraints or raise the budget\n",
            constraints(plan)
        )),
        None => s.push_str(&format!(
            "no recommendation: no frontier setting meets the constraints ({}) on the validation replications\n",
            constraints(plan)
        )),
    }
    s
}

/// The validated entry of the recommendation, if any.
pub fn recommended(outcome: &Outcome) -> Option<&Validated> {
    outcome.validated.get(outcome.recommended?)
}
