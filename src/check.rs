//! Policy regression checks for CI: expectations declared in scenario files, and baselines.
//!
//! Task: tell a CI job, without flaking, whether a scenario's policies still do what the team
//! expects of them. Two kinds of check:
//!
//! - **Expectations** (`[[expect]]` in the scenario file, read into [`Expectation`]s by the
//!   scenario layer and judged here): a policy's metric against an absolute bound or a multiple of another policy's mean. With
//!   replications a check is made on the 95% confidence interval, so that it does not pass or fail
//!   by the luck of one seed ([`holds`]): `<` and `<=` hold when the interval's upper end
//!   (`mean + ci95`) is within the bound, `>` and `>=` when its lower end (`mean - ci95`) is, and
//!   `==` compares the mean exactly (meant for counts that do not vary, such as zero 429s).
//!   A relative bound is `factor x` the other policy's mean.
//! - **Baselines** ([`baseline`]): every policy's metrics saved as JSON under a name, and a later
//!   run compared with them; a metric regresses when its change, in the direction that is worse
//!   for it ([`direction`]), is beyond the tolerance with its whole confidence interval.
//!
//! [`check`] runs scenario files end to end (load, run, evaluate, compare, write); [`table`],
//! [`to_json`] and [`junit`] render its [`CheckReport`]. The CLI only wires arguments to it.
//! The user's documentation is `docs/checks.md`.

pub mod baseline;
mod render;

pub use render::{junit, table, to_json};

use crate::run::{PolicyResult, Report, RunError, RunOptions};
use crate::scenario::{self, Bound, Expectation, MetricRef, Op, ScenarioError};
use serde::Serialize;
use std::path::PathBuf;

/// `metric`'s mean and 95% confidence half-width in `policy`'s results, if it has it. A scenario
/// with a single tenant has no per-tenant results: its tenant's numbers are the policy's.
pub fn observe(metric: &MetricRef, policy: &PolicyResult) -> Option<(f64, f64)> {
    match metric {
        MetricRef::Summary(n) => {
            Some((policy.aggregate.mean.get(n)?, policy.aggregate.ci95.get(n)?))
        }
        MetricRef::Tenant { metric, .. } if policy.tenants.is_empty() => {
            observe(&MetricRef::Summary(metric), policy)
        }
        MetricRef::Tenant { tenant, metric } => {
            let t = policy.tenants.iter().find(|t| &t.name == tenant)?;
            Some((t.aggregate.mean.get(metric)?, t.aggregate.ci95.get(metric)?))
        }
        MetricRef::Provider { provider, metric } => {
            let p = policy.providers.iter().find(|p| &p.name == provider)?;
            Some((p.aggregate.mean.get(metric)?, p.aggregate.ci95.get(metric)?))
        }
    }
}

/// `expectation` as a reader would write it, for one `policy`:
/// `fixed: makespan_s <= 0.1 x naive`, `fixed: rate_limited == 0`.
pub fn describe(expectation: &Expectation, policy: &str) -> String {
    let bound = match &expectation.bound {
        Bound::Value(v) => num(*v),
        Bound::Relative { factor, policy } if *factor == 1.0 => policy.clone(),
        Bound::Relative { factor, policy } => format!("{} x {policy}", num(*factor)),
    };
    format!(
        "{policy}: {} {} {bound}",
        expectation.metric.name(),
        expectation.op.symbol()
    )
}

/// Whether `mean ± half` satisfies `op bound` under the CI rule (see the module docs).
///
/// Returns the value compared (the interval's end on the side that could break the bound, or the
/// mean for `==`), the margin (how far that value is inside the bound; negative outside, and
/// minus the distance to the bound for `==`), and whether it holds. NaN never holds.
pub fn holds(op: Op, mean: f64, half: f64, bound: f64) -> (f64, f64, bool) {
    let half = if half.is_finite() { half.abs() } else { 0.0 };
    match op {
        Op::Lt | Op::Le => {
            let upper = mean + half;
            let ok = if op == Op::Lt {
                upper < bound
            } else {
                upper <= bound
            };
            (upper, bound - upper, ok)
        }
        Op::Gt | Op::Ge => {
            let lower = mean - half;
            let ok = if op == Op::Gt {
                lower > bound
            } else {
                lower >= bound
            };
            (lower, lower - bound, ok)
        }
        Op::Eq => (mean, -(mean - bound).abs(), mean == bound),
    }
}

/// Where a relative bound came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelativeBound {
    /// The factor.
    pub factor: f64,
    /// The policy whose mean it multiplies.
    pub policy: String,
    /// That policy's mean.
    pub mean: f64,
}

/// One expectation checked for one policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// The expectation as written for this policy: `fixed: makespan_s <= 0.1 x naive`.
    pub expectation: String,
    /// Its line in the scenario file (0 when unknown).
    pub line: usize,
    /// The policy checked.
    pub policy: String,
    /// The metric.
    pub metric: String,
    /// The comparison.
    pub op: Op,
    /// The metric's mean over the replications (NaN when the policy or metric was not found).
    pub mean: f64,
    /// The half-width of its 95% confidence interval (0 with one replication).
    pub ci95: f64,
    /// Replications behind the mean.
    pub replications: usize,
    /// The value compared with the bound: `mean + ci95` for `<`/`<=`, `mean - ci95` for
    /// `>`/`>=`, `mean` for `==`.
    pub compared: f64,
    /// The bound.
    pub bound: f64,
    /// For a relative bound, what it is `factor x` of.
    pub relative: Option<RelativeBound>,
    /// How far `compared` is inside the bound (negative: outside).
    pub margin: f64,
    /// Whether the expectation holds.
    pub pass: bool,
}

/// Checks `expectations` against a report of every policy of their scenario. A policy the report
/// lacks makes its expectations fail (with a NaN mean) rather than be skipped.
pub fn evaluate(expectations: &[Expectation], report: &Report) -> Vec<Outcome> {
    let find = |name: &str| report.policies.iter().find(|p| p.name == name);
    let mut outcomes = Vec::new();
    for e in expectations {
        let reference = match &e.bound {
            Bound::Value(_) => None,
            Bound::Relative { policy, .. } => Some(policy.as_str()),
        };
        let targets: Vec<String> = match &e.policy {
            Some(p) => vec![p.clone()],
            None => report
                .policies
                .iter()
                .map(|p| p.name.clone())
                .filter(|n| Some(n.as_str()) != reference)
                .collect(),
        };
        let (bound, relative) = match &e.bound {
            Bound::Value(v) => (*v, None),
            Bound::Relative { factor, policy } => {
                let mean = find(policy)
                    .and_then(|p| observe(&e.metric, p))
                    .map_or(f64::NAN, |(m, _)| m);
                (
                    factor * mean,
                    Some(RelativeBound {
                        factor: *factor,
                        policy: policy.clone(),
                        mean,
                    }),
                )
            }
        };
        for target in targets {
            let result = find(&target);
            let (mean, ci95) = result
                .and_then(|p| observe(&e.metric, p))
                .unwrap_or((f64::NAN, f64::NAN));
            let (compared, margin, pass) = holds(e.op, mean, ci95, bound);
            outcomes.push(Outcome {
                expectation: describe(e, &target),
                line: e.line,
                policy: target,
                metric: e.metric.name(),
                op: e.op,
                mean,
                ci95,
                replications: result.map_or(0, |p| p.aggregate.replications),
                compared,
                bound,
                relative: relative.clone(),
                margin,
                pass,
            });
        }
    }
    outcomes
}

/// Lower or higher values of a metric are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Latencies, failures, retries, 429s, tokens, cost, waste.
    LowerIsBetter,
    /// Completed work.
    HigherIsBetter,
}

use Direction::{HigherIsBetter as Higher, LowerIsBetter as Lower};

/// Which way every summary metric is better, for baseline comparisons: the one table. `None`
/// marks a metric with no better direction, which baselines store but do not judge: what the
/// workload sent (`jobs`, `calls`), counters of a policy's own mechanisms whose effect shows in
/// the outcome metrics (`hedges`, `retries_throttled`, ...), load gauges where more can mean
/// better use (`peak_in_flight`), the simulator's own work (`events`), and `calls_ok`, which
/// counts calls redone after agent restarts (on the cascade a worse policy scores higher).
pub const DIRECTIONS: &[(&str, Option<Direction>)] = &[
    ("makespan_s", Some(Lower)),
    ("call_latency_p50_s", Some(Lower)),
    ("call_latency_p90_s", Some(Lower)),
    ("call_latency_p99_s", Some(Lower)),
    ("call_latency_max_s", Some(Lower)),
    ("call_latency_mean_s", Some(Lower)),
    ("job_latency_p50_s", Some(Lower)),
    ("job_latency_p90_s", Some(Lower)),
    ("job_latency_p99_s", Some(Lower)),
    ("job_latency_max_s", Some(Lower)),
    ("job_latency_mean_s", Some(Lower)),
    ("jobs", None),
    ("jobs_ok", Some(Higher)),
    ("jobs_failed", Some(Lower)),
    ("jobs_budget_exhausted", Some(Lower)),
    ("calls", None),
    ("calls_ok", None),
    ("gave_up", Some(Lower)),
    ("attempts", Some(Lower)),
    ("retries", Some(Lower)),
    ("rate_limited", Some(Lower)),
    ("server_errors", Some(Lower)),
    ("timeouts", Some(Lower)),
    ("errors", Some(Lower)),
    ("retries_throttled", None),
    ("deadline_exceeded", Some(Lower)),
    ("hedges", None),
    ("short_circuited", None),
    ("throttled_locally", None),
    ("hedges_won", None),
    ("agent_restarts", Some(Lower)),
    ("attempts_per_call", Some(Lower)),
    ("tokens_billed", Some(Lower)),
    ("tokens_input", Some(Lower)),
    ("tokens_output", Some(Lower)),
    ("cost_usd", Some(Lower)),
    ("tokens_wasted", Some(Lower)),
    ("cost_wasted_usd", Some(Lower)),
    ("tokens_cache_read", None),
    ("tokens_cache_write", None),
    ("cost_saved_by_cache_usd", Some(Higher)),
    ("peak_in_flight", None),
    ("mean_in_flight", None),
    ("peak_client_queue", None),
    ("provider_wait_mean_s", Some(Lower)),
    ("provider_time_mean_s", Some(Lower)),
    ("provider_waited_fraction", Some(Lower)),
    ("events", None),
    ("fairness_index", Some(Higher)),
    ("guard_tripped", Some(Lower)),
];

/// Which way `metric` is better, when a way makes sense (see [`DIRECTIONS`]).
pub fn direction(metric: &str) -> Option<Direction> {
    DIRECTIONS
        .iter()
        .find(|(name, _)| *name == metric)
        .and_then(|(_, d)| *d)
}

/// What `stampede check` does besides checking expectations.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Where each scenario's run outputs go: `<out>/<scenario name>/`.
    pub out: PathBuf,
    /// The directory of named baselines: `<baseline_dir>/<name>/<scenario name>.json`.
    pub baseline_dir: PathBuf,
    /// Compare with this baseline.
    pub baseline: Option<String>,
    /// A regression is a change beyond this fraction of the baseline's mean (0.05 is 5%).
    pub tolerance: f64,
    /// Save the run as this baseline (after comparing, when both are given).
    pub save_baseline: Option<String>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            out: PathBuf::from("output"),
            baseline_dir: PathBuf::from(baseline::DEFAULT_DIR),
            baseline: None,
            tolerance: 0.05,
            save_baseline: None,
        }
    }
}

/// One scenario file checked.
#[derive(Clone, Debug)]
pub struct ScenarioCheck {
    /// The file, as given.
    pub file: String,
    /// The run: every policy, the scenario's replications.
    pub report: Report,
    /// Expectations declared in the file.
    pub declared: usize,
    /// Each expectation for each policy it applies to.
    pub outcomes: Vec<Outcome>,
    /// The comparison with `--baseline`, when asked for.
    pub baseline: Option<baseline::Comparison>,
    /// Where `--save-baseline` wrote this scenario's baseline.
    pub saved_baseline: Option<PathBuf>,
    /// Where the run's outputs were written.
    pub results: PathBuf,
}

impl ScenarioCheck {
    /// Every expectation holds and nothing regressed.
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.pass) && self.baseline.as_ref().is_none_or(|b| b.passed())
    }
}

/// What `stampede check` found, scenario by scenario in the order given.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The scenarios.
    pub scenarios: Vec<ScenarioCheck>,
    /// The tolerance baselines were compared with.
    pub tolerance: f64,
    /// The directory the scenarios' results were written under.
    pub out: PathBuf,
}

impl CheckReport {
    /// Every scenario passed.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(ScenarioCheck::passed)
    }
}

/// Why a check could not be made (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A scenario file that does not load.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// Bad arguments or a baseline that cannot be read.
    #[error("{0}")]
    BadInput(String),
    /// A replication hit a simulation guard.
    #[error(
        "{file}: {source}\nraise the limit in the scenario's [guards] table, or reproduce with: stampede run {file} --seed {seed}"
    )]
    Guard {
        file: String,
        seed: u64,
        source: RunError,
    },
    /// An output that could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CheckError {
    /// The exit code: 3 for a guard, 2 for everything else (bad input, unwritable paths), so that
    /// 1 always means a check that failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckError::Guard { .. } => 3,
            _ => 2,
        }
    }
}

/// Checks scenario `files`: loads them all (and the baselines to compare with) before running
/// any, then runs each (every policy, its replications), evaluates its expectations, compares it
/// with the baseline, writes its outputs, and finally saves the new baselines.
pub fn check(files: &[PathBuf], options: &CheckOptions) -> Result<CheckReport, CheckError> {
    if files.is_empty() {
        return Err(CheckError::BadInput("no scenario files given".to_string()));
    }
    if !(options.tolerance.is_finite() && options.tolerance >= 0.0) {
        return Err(CheckError::BadInput(format!(
            "expected a tolerance >= 0, found {}",
            options.tolerance
        )));
    }
    for name in options.baseline.iter().chain(&options.save_baseline) {
        baseline::check_name(name).map_err(CheckError::BadInput)?;
    }
    let mut scenarios = Vec::new();
    for file in files {
        let s = scenario::load_with_expectations(file)?;
        if let Some((other, _)) =
            scenarios
                .iter()
                .find(|(_, x): &&(PathBuf, scenario::WithExpectations)| {
                    x.scenario.name == s.scenario.name
                })
        {
            return Err(CheckError::BadInput(format!(
                "{} and {} are both named \"{}\": their outputs and baselines would collide",
                other.display(),
                file.display(),
                s.scenario.name
            )));
        }
        scenarios.push((file.clone(), s));
    }
    let baselines = match &options.baseline {
        None => vec![None; scenarios.len()],
        Some(name) => scenarios
            .iter()
            .map(|(_, s)| {
                let path = baseline::path(&options.baseline_dir, name, &s.scenario.name);
                baseline::load(&path).map(|b| Some((path, b)))
            })
            .collect::<Result<_, _>>()
            .map_err(CheckError::BadInput)?,
    };
    let mut checks = Vec::new();
    for ((file, s), base) in scenarios.iter().zip(baselines) {
        let shown = file.display().to_string();
        let report = crate::run::run(&s.scenario, &RunOptions::default()).map_err(|e| match e {
            RunError::Guard { seed, .. } => CheckError::Guard {
                file: shown.clone(),
                seed,
                source: e,
            },
            e => CheckError::BadInput(e.to_string()),
        })?;
        let outcomes = evaluate(&s.expectations, &report);
        let comparison = base.map(|(path, b)| {
            let name = options.baseline.clone().unwrap_or_default();
            baseline::compare(&b, &name, &path, &report, options.tolerance)
        });
        let results = options.out.join(&s.scenario.name);
        // A run's results never go where a sweep's are: `plot` and `report` would read them as one.
        if let Some(found) = crate::sweep::holds_sweep(&results) {
            return Err(CheckError::BadInput(format!(
                "{} holds a sweep's results ({found}), not a run's; choose another --out",
                results.display()
            )));
        }
        // With the scenario's copy, as `run` writes it, so that `report` on the directory
        // finds the description; no charts (`stampede plot` draws them).
        let write = || {
            let staging = crate::io::Staging::new(&results)?;
            crate::run::export::write_files(&report, staging.path())?;
            let copy = crate::io::read_at_most(file, crate::scenario::MAX_FILE_BYTES)?;
            crate::io::write_atomic(&staging.path().join("scenario.toml"), &copy)?;
            staging.commit()
        };
        write().map_err(|source| CheckError::Write {
            path: results.clone(),
            source,
        })?;
        checks.push(ScenarioCheck {
            file: shown,
            report,
            declared: s.expectations.len(),
            outcomes,
            baseline: comparison,
            saved_baseline: None,
            results,
        });
    }
    if let Some(name) = &options.save_baseline {
        for c in &mut checks {
            let path = baseline::path(&options.baseline_dir, name, &c.report.scenario);
            baseline::save(&path, &c.report).map_err(|source| CheckError::Write {
                path: path.clone(),
                source,
            })?;
            c.saved_baseline = Some(path);
        }
    }
    Ok(CheckReport {
        scenarios: checks,
        tolerance: options.tolerance,
        out: options.out.clone(),
    })
}

/// Writes the JUnit XML of `report` to `path` (creating its directory), whole or not at all.
pub fn write_junit(report: &CheckReport, path: &std::path::Path) -> Result<(), CheckError> {
    let write = || {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        crate::io::write_atomic(path, junit(report).as_bytes())
    };
    write().map_err(|source| CheckError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses a tolerance written `5%` (a percentage) or `0.05` (a fraction).
pub fn parse_tolerance(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(p) => (p.trim(), 0.01),
        None => (t, 1.0),
    };
    let v: f64 = number
        .parse()
        .map_err(|_| format!("expected a tolerance such as 5% or 0.05, found \"{s}\""))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("expected a tolerance >= 0, found \"{s}\""));
    }
    if scale == 1.0 && v > 1.0 {
        return Err(format!(
            "a tolerance without % is a fraction: \"{s}\" would be {}%; write \"{s}%\" for {s} percent",
            v * 100.0
        ));
    }
    Ok(v * scale)
}

/// A number for people: four significant digits, no trailing zeros, integers as integers.
pub(crate) fn num(x: f64) -> String {
    num_sig(x, 4)
}

/// `x` with `digits` significant digits (at least), no trailing zeros, integers as integers.
pub(crate) fn num_sig(x: f64, digits: i32) -> String {
    if x.is_nan() {
        return "n/a".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 9) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Aggregate, Metrics, TenantMetrics};

    /// A policy whose `makespan_s` has mean `mean` and 95% half-width `half` over `n` runs.
    fn policy(name: &str, mean: f64, half: f64, n: usize) -> PolicyResult {
        let m = |v: f64| Metrics {
            makespan_s: v,
            ..Default::default()
        };
        PolicyResult {
            name: name.to_string(),
            runs: Vec::new(),
            aggregate: Aggregate {
                replications: n,
                mean: m(mean),
                ci95: m(half),
            },
            series: None,
            distribution: None,
            tenants: Vec::new(),
            providers: Vec::new(),
        }
    }

    fn report(policies: Vec<PolicyResult>) -> Report {
        Report {
            scenario: "t".to_string(),
            seed: 1,
            replications: 10,
            policies,
            warnings: Vec::new(),
        }
    }

    fn expect(policy: Option<&str>, op: Op, bound: Bound) -> Expectation {
        Expectation {
            policy: policy.map(str::to_string),
            metric: MetricRef::Summary("makespan_s"),
            op,
            bound,
            line: 7,
        }
    }

    #[test]
    fn at_most_holds_only_when_the_upper_end_of_the_interval_is_within_the_bound() {
        // mean 10 ± 2: the interval is [8, 12].
        assert_eq!(holds(Op::Le, 10.0, 2.0, 12.0), (12.0, 0.0, true));
        assert_eq!(holds(Op::Le, 10.0, 2.0, 11.0), (12.0, -1.0, false));
        assert!(!holds(Op::Lt, 10.0, 2.0, 12.0).2, "< is strict at the edge");
        assert!(holds(Op::Lt, 10.0, 2.0, 12.5).2);
        // The mean alone would pass; the interval does not.
        assert!(!holds(Op::Le, 10.0, 2.0, 10.5).2);
    }

    #[test]
    fn at_least_holds_only_when_the_lower_end_of_the_interval_is_within_the_bound() {
        assert_eq!(holds(Op::Ge, 10.0, 2.0, 8.0), (8.0, 0.0, true));
        assert_eq!(holds(Op::Ge, 10.0, 2.0, 9.0), (8.0, -1.0, false));
        assert!(!holds(Op::Gt, 10.0, 2.0, 8.0).2, "> is strict at the edge");
        assert!(holds(Op::Gt, 10.0, 2.0, 7.0).2);
    }

    #[test]
    fn equals_compares_the_mean_exactly_and_nan_never_holds() {
        assert_eq!(holds(Op::Eq, 0.0, 0.0, 0.0), (0.0, 0.0, true));
        assert_eq!(holds(Op::Eq, 0.05, 0.1, 0.0), (0.05, -0.05, false));
        for op in [Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Eq] {
            assert!(!holds(op, f64::NAN, 0.0, 1.0).2, "{op:?} on NaN");
            assert!(!holds(op, 1.0, 0.0, f64::NAN).2, "{op:?} on a NaN bound");
        }
    }

    #[test]
    fn one_replication_is_checked_on_its_value() {
        assert!(holds(Op::Le, 38.3, 0.0, 38.3).2);
        assert!(!holds(Op::Le, 38.4, 0.0, 38.3).2);
    }

    #[test]
    fn a_relative_bound_is_the_factor_times_the_other_policys_mean() {
        let r = report(vec![
            policy("naive", 400.0, 30.0, 10),
            policy("fixed", 38.0, 1.5, 10),
        ]);
        let e = expect(
            Some("fixed"),
            Op::Le,
            Bound::Relative {
                factor: 0.1,
                policy: "naive".into(),
            },
        );
        let o = evaluate(&[e], &r);
        assert_eq!(o.len(), 1);
        let o = &o[0];
        assert_eq!(o.expectation, "fixed: makespan_s <= 0.1 x naive");
        assert_eq!(o.bound, 40.0);
        assert_eq!(o.compared, 39.5, "mean + half-width");
        assert!((o.margin - 0.5).abs() < 1e-12 && o.pass, "{o:?}");
        assert_eq!(
            o.relative,
            Some(RelativeBound {
                factor: 0.1,
                policy: "naive".into(),
                mean: 400.0
            })
        );
        assert_eq!((o.line, o.replications), (7, 10));
    }

    #[test]
    fn all_policies_means_every_policy_but_the_reference_of_a_relative_bound() {
        let r = report(vec![
            policy("naive", 400.0, 0.0, 1),
            policy("a", 30.0, 0.0, 1),
            policy("b", 50.0, 0.0, 1),
        ]);
        let relative = expect(
            None,
            Op::Lt,
            Bound::Relative {
                factor: 0.1,
                policy: "naive".into(),
            },
        );
        let o = evaluate(&[relative], &r);
        let names: Vec<(&str, bool)> = o.iter().map(|o| (o.policy.as_str(), o.pass)).collect();
        assert_eq!(names, [("a", true), ("b", false)]);
        let absolute = expect(None, Op::Ge, Bound::Value(40.0));
        assert_eq!(evaluate(&[absolute], &r).len(), 3);
    }

    #[test]
    fn a_policy_missing_from_the_report_fails_instead_of_being_skipped() {
        let r = report(vec![policy("naive", 400.0, 0.0, 1)]);
        let o = evaluate(&[expect(Some("gone"), Op::Le, Bound::Value(1e9))], &r);
        assert_eq!(o.len(), 1);
        assert!(!o[0].pass && o[0].mean.is_nan());
    }

    #[test]
    fn every_summary_metric_has_a_direction_entry_exactly_once() {
        for name in Metrics::NAMES {
            let n = DIRECTIONS.iter().filter(|(m, _)| m == name).count();
            assert_eq!(
                n, 1,
                "classify `{name}` once in check::DIRECTIONS (lower/higher is better, or None)"
            );
        }
        assert_eq!(DIRECTIONS.len(), Metrics::NAMES.len(), "no stale entries");
        assert_eq!(direction("makespan_s"), Some(Direction::LowerIsBetter));
        assert_eq!(direction("jobs_ok"), Some(Direction::HigherIsBetter));
        assert_eq!(direction("events"), None);
    }

    #[test]
    fn an_expectation_reads_as_written_for_each_policy() {
        let absolute = expect(None, Op::Ge, Bound::Value(1.0));
        assert_eq!(describe(&absolute, "naive"), "naive: makespan_s >= 1");
        let relative = |factor| Bound::Relative {
            factor,
            policy: "naive".into(),
        };
        let tenth = expect(Some("fixed"), Op::Le, relative(0.1));
        assert_eq!(
            describe(&tenth, "fixed"),
            "fixed: makespan_s <= 0.1 x naive"
        );
        let same = expect(Some("fixed"), Op::Lt, relative(1.0));
        assert_eq!(describe(&same, "fixed"), "fixed: makespan_s < naive");
    }

    #[test]
    fn a_tenant_metric_is_read_from_that_tenant_or_from_a_single_tenants_policy() {
        let m = MetricRef::Tenant {
            tenant: "heavy.user".into(),
            metric: "rate_limited",
        };
        let mut p = policy("p", 10.0, 1.0, 5);
        p.aggregate.mean.rate_limited = 9.0;
        assert_eq!(
            observe(&m, &p),
            Some((9.0, 0.0)),
            "one tenant: the policy's numbers"
        );
        let tenant = |name: &str, rate_limited: f64| crate::run::TenantResult {
            name: name.to_string(),
            aggregate: Aggregate {
                replications: 5,
                mean: TenantMetrics {
                    rate_limited,
                    ..Default::default()
                },
                ci95: TenantMetrics {
                    rate_limited: 0.5,
                    ..Default::default()
                },
            },
        };
        p.tenants = vec![tenant("light", 1.0), tenant("heavy.user", 7.0)];
        assert_eq!(observe(&m, &p), Some((7.0, 0.5)));
    }

    #[test]
    fn tolerances_read_as_percentages_or_fractions() {
        assert_eq!(parse_tolerance("5%"), Ok(0.05));
        assert_eq!(parse_tolerance("0.05"), Ok(0.05));
        assert_eq!(parse_tolerance("0"), Ok(0.0));
        assert_eq!(parse_tolerance("150%"), Ok(1.5));
        assert!(parse_tolerance("5").unwrap_err().contains("write \"5%\""));
        assert!(parse_tolerance("-1%").is_err());
        assert!(parse_tolerance("five").is_err());
    }

    #[test]
    fn numbers_show_four_significant_digits() {
        assert_eq!(num(476.494), "476.5");
        assert_eq!(num(38.295), "38.3");
        assert_eq!(num(0.14), "0.14");
        assert_eq!(num(5586.0), "5586");
        assert_eq!(num(125_161.773), "125162");
        assert_eq!(num(f64::NAN), "n/a");
        assert_eq!(num(-0.00001), "-0.00001");
        assert_eq!(num_sig(0.000_268_4, 2), "0.00027");
        assert_eq!(num_sig(0.8707, 2), "0.87");
    }
}
