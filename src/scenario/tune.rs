//! The `[tune]` table: which policy `stampede tune` searches, over which parameters and ranges,
//! for which objectives and under which constraints.
//!
//! Task: read the search's question as strictly as the rest of the file (unknown fields, a path
//! that does not resolve, an empty range, a budget over the cap are errors at their line and
//! column), so that a tune never starts on a typo. The search itself is `crate::tune`'s; this
//! module only describes it. Parameters use the sweep's dotted paths ([`super::overrides`]) and
//! must point into the tuned policy, since the result is that policy with new values.

use super::expect::{self, Expectation, RawExpect};
use super::overrides;
use super::raw::Invalid;
use crate::metrics::Metrics;
use crate::model::config::MAX_REPLICATIONS;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::{Spanned, Value};

/// The most simulated replications one tune may spend on its search. Each replication's metrics
/// are kept for the paired comparisons (~400 bytes), so the cap bounds them at ~80 MB, and a
/// typo (an extra zero or three) is refused before anything is allocated for it.
pub const MAX_BUDGET: u64 = 200_000;
/// The least budget: one candidate's first rung (see `crate::tune::search`).
pub const MIN_BUDGET: u64 = 4;
/// The most parameters one tune searches at once (a space-filling design thins out fast beyond
/// a handful; past this it is a typo or a generated file).
pub const MAX_PARAMETERS: usize = 32;
/// The most values in one parameter's `values` list.
pub const MAX_CHOICES: usize = 10_000;
/// The most candidates in the initial design.
pub const MAX_INITIAL: u64 = 10_000;
/// The default search budget (replications), when the table gives none.
pub const DEFAULT_BUDGET: u64 = 2_000;
/// The default number of fresh replications a recommendation is re-run on.
pub const DEFAULT_VALIDATION: u32 = 30;

/// What a tuned parameter's values are: numbers, or durations written as strings (`"2s"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Plain numbers (rates in tokens per second, counts, ratios).
    Number,
    /// Durations, in seconds here, written back as whole milliseconds (`"1500ms"`).
    Duration,
}

/// The values a parameter may take.
#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// Any value from `lo` to `hi` (in seconds for durations), spread evenly or, with `log`,
    /// evenly in ratio; with `integer`, whole numbers only.
    Range {
        lo: f64,
        hi: f64,
        log: bool,
        integer: bool,
        unit: Unit,
    },
    /// One of these values, as written.
    Choices(Vec<Value>),
}

/// One tuned parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// The dotted path, e.g. `policy.fixed.bucket.rate`.
    pub path: String,
    /// The path inside the policy, e.g. `bucket.rate` (for the `[[policy]]` snippet).
    pub within_policy: String,
    /// Its values.
    pub domain: Domain,
}

/// One objective: a summary metric to minimise or maximise.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    /// One of [`Metrics::NAMES`].
    pub metric: &'static str,
    /// Higher is better (`{ maximize = "..." }`); lower otherwise.
    pub maximize: bool,
}

/// A scenario's `[tune]` table, checked against the document.
#[derive(Clone, Debug, PartialEq)]
pub struct TuneSpec {
    /// The tuned policy's name.
    pub policy: String,
    /// Its position among the `[[policy]]` entries.
    pub policy_index: usize,
    /// The parameters, in file order.
    pub parameters: Vec<Parameter>,
    /// The objectives, in order: the first picks the recommendation among the frontier.
    pub objectives: Vec<Objective>,
    /// Constraints in the `[[expect]]` grammar, judged on the confidence interval.
    pub constraints: Vec<Expectation>,
    /// Simulated replications the search may spend (at most [`MAX_BUDGET`]).
    pub budget: u64,
    /// The search's seed (the scenario's when `None`).
    pub seed: Option<u64>,
    /// Candidates in the initial design (derived from the budget when `None`).
    pub initial: Option<u64>,
    /// Fresh replications each recommended setting is re-run on.
    pub validation_replications: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTune {
    policy: Spanned<String>,
    budget: Option<Spanned<i64>>,
    seed: Option<Spanned<u64>>,
    initial: Option<Spanned<i64>>,
    validation_replications: Option<Spanned<i64>>,
    objectives: Spanned<Vec<Spanned<Value>>>,
    #[serde(default)]
    parameters: BTreeMap<Spanned<String>, Spanned<RawParameter>>,
    #[serde(default)]
    constraint: Vec<Spanned<RawExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParameter {
    range: Option<Spanned<Vec<Value>>>,
    values: Option<Spanned<Vec<Value>>>,
    scale: Option<Spanned<String>>,
    integer: Option<Spanned<bool>>,
}

fn bad<T>(span: Range<usize>, field: impl Into<String>, message: String) -> Result<T, Invalid> {
    Err(Invalid {
        span: Some(span),
        field: field.into(),
        message,
    })
}

/// A count field: from `min` to `max`, or an error at its place.
fn count(v: &Spanned<i64>, field: &str, min: i64, max: u64) -> Result<u64, Invalid> {
    let n = *v.get_ref();
    if n < min || n as u64 > max {
        return bad(
            v.span(),
            field,
            format!("expected from {min} to {max}, found {n}"),
        );
    }
    Ok(n as u64)
}

impl RawTune {
    /// Checks the table against the scenario document `text` (already known to be valid
    /// TOML), with the scenario's `tenants` and `providers` for the constraints' metrics.
    pub fn validate(
        self,
        text: &str,
        tenants: &[String],
        providers: &[String],
    ) -> Result<TuneSpec, Invalid> {
        let doc = overrides::document(text).map_err(|message| Invalid {
            span: None,
            field: "tune".into(),
            message,
        })?;
        let names = overrides::policy_names(&doc);
        let policy = self.policy.get_ref().clone();
        let Some(policy_index) = names.iter().position(|n| *n == policy) else {
            return bad(
                self.policy.span(),
                "tune.policy",
                format!(
                    "expected a policy of this scenario ({}), found \"{policy}\"",
                    names.join(", ")
                ),
            );
        };
        let budget = match &self.budget {
            Some(b) => count(b, "tune.budget", MIN_BUDGET as i64, MAX_BUDGET)?,
            None => DEFAULT_BUDGET,
        };
        let initial = match &self.initial {
            Some(v) => Some(count(v, "tune.initial", 1, MAX_INITIAL)?),
            None => None,
        };
        let validation_replications = match &self.validation_replications {
            Some(v) => count(
                v,
                "tune.validation_replications",
                2,
                u64::from(MAX_REPLICATIONS),
            )? as u32,
            None => DEFAULT_VALIDATION,
        };
        if self.parameters.len() > MAX_PARAMETERS {
            let first = self.parameters.keys().next().map(|k| k.span());
            return Err(Invalid {
                span: first,
                field: "tune.parameters".into(),
                message: format!(
                    "expected at most {MAX_PARAMETERS} parameters, found {}",
                    self.parameters.len()
                ),
            });
        }
        let mut raw_parameters: Vec<_> = self.parameters.into_iter().collect();
        raw_parameters.sort_by_key(|(k, _)| k.span().start);
        if raw_parameters.is_empty() {
            return Err(Invalid {
                span: Some(self.policy.span()),
                field: "tune.parameters".into(),
                message: "nothing to tune: add a [tune.parameters] table, e.g. \"policy.fixed.bucket.rate\" = { range = [40_000, 80_000] }".into(),
            });
        }
        let mut parameters = Vec::with_capacity(raw_parameters.len());
        for (key, raw) in raw_parameters {
            let span = key.span();
            let path = key.into_inner();
            let field = format!("tune.parameters.\"{path}\"");
            let within_policy = within(&path, &policy, policy_index).ok_or_else(|| Invalid {
                span: Some(span.clone()),
                field: field.clone(),
                message: format!(
                    "expected a path into the tuned policy, starting `policy.{policy}.` (or `policy.{policy_index}.`), found `{path}`"
                ),
            })?;
            let mut probe = doc.clone();
            overrides::set(&mut probe, &path, Value::Boolean(false)).map_err(|message| {
                Invalid {
                    span: Some(span.clone()),
                    field: field.clone(),
                    message,
                }
            })?;
            let domain = domain(raw, &field)?;
            parameters.push(Parameter {
                path,
                within_policy,
                domain,
            });
        }
        let objectives = objectives(self.objectives)?;
        let constraints = expect::validate_constraints(
            self.constraint,
            "tune.constraint",
            tenants,
            providers,
            text,
        )?;
        Ok(TuneSpec {
            policy,
            policy_index,
            parameters,
            objectives,
            constraints,
            budget,
            seed: self.seed.map(Spanned::into_inner),
            initial,
            validation_replications,
        })
    }
}

/// `path` without its `policy.<name or position>.` prefix, when it points into the tuned policy.
fn within(path: &str, name: &str, index: usize) -> Option<String> {
    let rest = path.strip_prefix("policy.")?;
    let (head, tail) = rest.split_once('.')?;
    (head == name || head.parse::<usize>().ok() == Some(index)).then(|| tail.to_string())
}

fn domain(raw: Spanned<RawParameter>, field: &str) -> Result<Domain, Invalid> {
    let span = raw.span();
    let raw = raw.into_inner();
    match (raw.range, raw.values) {
        (Some(_), Some(v)) => bad(
            v.span(),
            format!("{field}.values"),
            "give either `range = [lo, hi]` or `values = [...]`, not both".into(),
        ),
        (None, None) => bad(
            span,
            field,
            "expected `range = [lo, hi]` (with `scale = \"log\"` or `integer = true` if need be) or `values = [...]`".into(),
        ),
        (None, Some(values)) => {
            if let Some(s) = raw.scale.as_ref() {
                return bad(
                    s.span(),
                    format!("{field}.scale"),
                    "a scale applies to a `range`, not to a list of `values`".into(),
                );
            }
            if let Some(i) = raw.integer.as_ref() {
                return bad(
                    i.span(),
                    format!("{field}.integer"),
                    "`integer` applies to a `range`, not to a list of `values`".into(),
                );
            }
            let n = values.get_ref().len();
            if n == 0 || n > MAX_CHOICES {
                return bad(
                    values.span(),
                    format!("{field}.values"),
                    format!("expected from 1 to {MAX_CHOICES} values, found {n}"),
                );
            }
            Ok(Domain::Choices(values.into_inner()))
        }
        (Some(range), None) => {
            let rspan = range.span();
            let rfield = format!("{field}.range");
            let ends = range.into_inner();
            if ends.len() != 2 {
                return bad(
                    rspan,
                    rfield,
                    format!("expected two ends, [lo, hi], found {} values", ends.len()),
                );
            }
            let (lo, lo_unit) = end(&ends[0]).map_err(|m| Invalid {
                span: Some(rspan.clone()),
                field: rfield.clone(),
                message: m,
            })?;
            let (hi, hi_unit) = end(&ends[1]).map_err(|m| Invalid {
                span: Some(rspan.clone()),
                field: rfield.clone(),
                message: m,
            })?;
            if lo_unit != hi_unit {
                return bad(
                    rspan,
                    rfield,
                    format!(
                        "expected both ends numbers or both durations, found {} and {}",
                        ends[0], ends[1]
                    ),
                );
            }
            if lo >= hi {
                return bad(
                    rspan,
                    rfield,
                    format!(
                        "expected lo < hi, found [{}, {}]",
                        ends[0], ends[1]
                    ),
                );
            }
            let log = match &raw.scale {
                None => false,
                Some(s) => match s.get_ref().as_str() {
                    "linear" => false,
                    "log" => true,
                    other => {
                        return bad(
                            s.span(),
                            format!("{field}.scale"),
                            format!("expected \"linear\" or \"log\", found \"{other}\""),
                        );
                    }
                },
            };
            if log && lo <= 0.0 {
                return bad(
                    rspan,
                    rfield,
                    format!("a log scale needs lo > 0, found {}", ends[0]),
                );
            }
            let integer = raw.integer.as_ref().is_some_and(|i| *i.get_ref());
            if integer && lo_unit == Unit::Duration {
                let i = raw.integer.expect("set");
                return bad(
                    i.span(),
                    format!("{field}.integer"),
                    "durations are tuned in whole milliseconds already; `integer` is for numbers"
                        .into(),
                );
            }
            if lo_unit == Unit::Duration && (lo * 1000.0).ceil() > (hi * 1000.0).floor() {
                return bad(
                    rspan,
                    rfield,
                    format!(
                        "expected a range holding a whole number of milliseconds, found [{}, {}]",
                        ends[0], ends[1]
                    ),
                );
            }
            if integer && lo.ceil() > hi.floor() {
                return bad(
                    rspan,
                    rfield,
                    format!("expected a range holding a whole number, found [{lo}, {hi}]"),
                );
            }
            Ok(Domain::Range {
                lo,
                hi,
                log,
                integer,
                unit: lo_unit,
            })
        }
    }
}

/// A range end: a finite number, or a duration string (in seconds).
fn end(v: &Value) -> Result<(f64, Unit), String> {
    match v {
        Value::Integer(i) => Ok((*i as f64, Unit::Number)),
        Value::Float(f) if f.is_finite() => Ok((*f, Unit::Number)),
        Value::String(s) => humantime::parse_duration(s.trim())
            .map(|d| (d.as_secs_f64(), Unit::Duration))
            .map_err(|e| {
                format!("expected a number or a duration such as \"500ms\", found \"{s}\" ({e})")
            }),
        other => Err(format!(
            "expected a number or a duration such as \"500ms\", found {other}"
        )),
    }
}

fn objectives(raw: Spanned<Vec<Spanned<Value>>>) -> Result<Vec<Objective>, Invalid> {
    let span = raw.span();
    let list = raw.into_inner();
    if list.is_empty() {
        return bad(
            span,
            "tune.objectives",
            "expected at least one objective, e.g. [\"job_latency_p99_s\", \"cost_usd\"]".into(),
        );
    }
    let mut out: Vec<Objective> = Vec::new();
    for (i, item) in list.into_iter().enumerate() {
        let field = format!("tune.objectives[{i}]");
        let span = item.span();
        let (name, maximize) = match item.get_ref() {
            Value::String(s) => (s.clone(), false),
            Value::Table(t) if t.len() == 1 => {
                let (k, v) = t.iter().next().expect("one entry");
                let maximize = match k.as_str() {
                    "minimize" => false,
                    "maximize" => true,
                    _ => {
                        return bad(
                            span,
                            field,
                            format!(
                                "expected {{ minimize = \"METRIC\" }} or {{ maximize = \"METRIC\" }}, found the key `{k}`"
                            ),
                        );
                    }
                };
                match v.as_str() {
                    Some(s) => (s.to_string(), maximize),
                    None => {
                        return bad(span, field, format!("expected a metric's name, found {v}"));
                    }
                }
            }
            other => {
                return bad(
                    span,
                    field,
                    format!(
                        "expected a metric to minimise (\"job_latency_p99_s\"), or {{ maximize = \"METRIC\" }}, found {other}"
                    ),
                );
            }
        };
        let Some(metric) = Metrics::NAMES.iter().find(|n| **n == name) else {
            let hint = expect::closest(&name, Metrics::NAMES)
                .map(|c| format!("; did you mean \"{c}\"?"))
                .unwrap_or_default();
            return bad(
                span,
                field,
                format!(
                    "expected a metric of the run summary (listed in docs/scenario-format.md), found \"{name}\"{hint}"
                ),
            );
        };
        if out.iter().any(|o| o.metric == *metric) {
            return bad(span, field, format!("\"{name}\" is already an objective"));
        }
        out.push(Objective { metric, maximize });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_tune;

    const BASE: &str = r#"[scenario]
name = "t"
[provider]
ttft = "1s"
[[source]]
name = "s"
arrival = { process = "burst" }
[source.job]
prompt_tokens = 10
max_tokens = 10
output_tokens = 5
[[policy]]
name = "naive"
[[policy]]
name = "fixed"
bucket = { rate = 100, burst = 100 }
retry = { max_attempts = 3, wait = { kind = "fixed", wait = "1s" } }
"#;

    fn spec(table: &str) -> Result<TuneSpec, String> {
        parse_tune(&format!("{BASE}{table}"), "t.toml")
            .map(|(_, t)| t.expect("a [tune] table"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_form_of_parameter_and_objective_reads() {
        let s = spec(
            r#"[tune]
policy = "fixed"
objectives = ["job_latency_p99_s", { maximize = "jobs_ok" }]
[tune.parameters]
"policy.fixed.bucket.rate" = { range = [50, 200], scale = "log" }
"policy.1.retry.max_attempts" = { range = [1, 6], integer = true }
"policy.fixed.retry.wait" = { values = [{ kind = "fixed", wait = "1s" }, { kind = "fixed", wait = "2s" }] }
"policy.fixed.retry.wait.wait" = { range = ["100ms", "2s"] }
[[tune.constraint]]
metric = "rate_limited"
op = "<="
value = 10
"#,
        )
        .unwrap();
        assert_eq!((s.policy.as_str(), s.policy_index), ("fixed", 1));
        assert_eq!(s.budget, DEFAULT_BUDGET);
        assert_eq!(s.validation_replications, DEFAULT_VALIDATION);
        assert_eq!(
            s.objectives[1],
            Objective {
                metric: "jobs_ok",
                maximize: true
            }
        );
        assert_eq!(s.parameters[1].within_policy, "retry.max_attempts");
        assert!(matches!(
            s.parameters[0].domain,
            Domain::Range {
                log: true,
                integer: false,
                unit: Unit::Number,
                ..
            }
        ));
        assert!(matches!(s.parameters[2].domain, Domain::Choices(ref v) if v.len() == 2));
        assert_eq!(
            s.parameters[3].domain,
            Domain::Range {
                lo: 0.1,
                hi: 2.0,
                log: false,
                integer: false,
                unit: Unit::Duration
            }
        );
        assert_eq!(s.constraints[0].metric.name(), "rate_limited");
    }

    #[test]
    fn mistakes_are_refused_with_the_field() {
        let table = |params: &str, extra: &str| {
            spec(&format!(
                "[tune]\npolicy = \"fixed\"\nobjectives = [\"job_latency_p99_s\"]\n{extra}[tune.parameters]\n{params}\n"
            ))
            .unwrap_err()
        };
        let rate = "\"policy.fixed.bucket.rate\"";
        let e = table(
            &format!("{rate} = {{ range = [0, 10], scale = \"log\" }}"),
            "",
        );
        assert!(e.contains("a log scale needs lo > 0"), "{e}");
        let e = table(&format!("{rate} = {{ range = [1, 10], values = [1] }}"), "");
        assert!(e.contains("not both"), "{e}");
        let e = table(&format!("{rate} = {{ range = [1, \"2s\"] }}"), "");
        assert!(e.contains("both ends numbers or both durations"), "{e}");
        let e = table(
            &format!("{rate} = {{ range = [1.2, 1.8], integer = true }}"),
            "",
        );
        assert!(e.contains("holding a whole number"), "{e}");
        let e = table(&format!("{rate} = {{ values = [] }}"), "");
        assert!(
            e.contains("expected from 1 to 10000 values, found 0"),
            "{e}"
        );
        let e = table(
            &format!("{rate} = {{ range = [1, 2] }}"),
            "validation_replications = 1\n",
        );
        assert!(e.contains("field `tune.validation_replications`"), "{e}");
        let e = table(
            &format!(
                "{rate} = {{ range = [1, 2] }}\n[[tune.constraint]]\nmetric = \"jobs_ok\"\nop = \">=\"\nrelative_to = \"naive\""
            ),
            "",
        );
        assert!(e.contains("field `tune.constraint[0].relative_to`"), "{e}");
        let e = spec("[tune]\npolicy = \"fixed\"\nobjectives = [{ maximise = \"jobs_ok\" }]\n[tune.parameters]\n\"policy.fixed.bucket.rate\" = { range = [1, 2] }\n").unwrap_err();
        assert!(e.contains("field `tune.objectives[0]`"), "{e}");
        let e = spec("[tune]\npolicy = \"fixed\"\nobjectives = [\"cost_usd\"]\n").unwrap_err();
        assert!(e.contains("nothing to tune"), "{e}");
    }
}
