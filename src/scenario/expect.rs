//! `[[expect]]` entries: what `stampede check` holds a scenario's policies to.
//!
//! ```toml
//! [[expect]]
//! policy = "fixed"          # a policy's name, or "all" (the default)
//! metric = "makespan_s"     # a key of the run summary
//! op = "<="                 # <, <=, >, >=, ==
//! factor = 0.1              # a relative bound: factor x the other policy's mean...
//! relative_to = "naive"
//!
//! [[expect]]
//! policy = "fixed"
//! metric = "rate_limited"
//! op = "=="
//! value = 0                 # ... or an absolute one
//! ```
//!
//! Parsed here into [`Expectation`]s, which only describe what is expected: judging a run against
//! them, and the rule with replications, is `crate::check`'s. They live in the scenario layer, not
//! the model, because only `stampede check` reads them.

use super::raw::Invalid;
use crate::metrics::{Metrics, ProviderMetrics, TenantMetrics};
use crate::model::Policy;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::ops::Range;
use toml::Spanned;

/// A comparison operator of an expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==`
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    /// Every operator, as written.
    pub const SYMBOLS: &'static [&'static str] = &["<", "<=", ">", ">=", "=="];

    /// The operator written `s`.
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            _ => return None,
        })
    }

    /// How it is written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
}

/// What an expectation's `metric` refers to.
///
/// Parsed by [`MetricRef::parse`] and read from a policy's results by `check::observe`; a new
/// kind of metric is a new variant and a new arm in each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricRef {
    /// A key of the run summary, one of [`Metrics::NAMES`].
    Summary(&'static str),
    /// `tenant.<name>.<metric>`: one tenant's metric, one of [`TenantMetrics::NAMES`].
    Tenant {
        /// The tenant's name.
        tenant: String,
        /// The metric.
        metric: &'static str,
    },
    /// `provider.<name>.<metric>`: one provider's metric, one of [`ProviderMetrics::NAMES`]
    /// (scenarios with several providers).
    Provider {
        /// The provider's name.
        provider: String,
        /// The metric.
        metric: &'static str,
    },
}

impl MetricRef {
    /// The metric called `name`, or a message saying what was expected (with the closest name
    /// when there is one). `tenants` are the scenario's tenant names, for per-tenant metrics.
    pub fn parse(name: &str, tenants: &Names<'_>) -> Result<MetricRef, String> {
        Self::parse_with_providers(name, tenants, &Names::new(&[]))
    }

    /// [`MetricRef::parse`], with `providers` the scenario's provider names when it has several
    /// (for per-provider metrics; empty otherwise).
    pub fn parse_with_providers(
        name: &str,
        tenants: &Names<'_>,
        providers: &Names<'_>,
    ) -> Result<MetricRef, String> {
        if let Some(rest) = name.strip_prefix("provider.") {
            let (provider, metric) = rest.rsplit_once('.').unwrap_or((rest, ""));
            if providers.is_empty() {
                return Err(format!(
                    "expected a metric of the run summary: per-provider metrics (provider.<provider>.<metric>) exist for scenarios with several [[provider]] entries; this one has one, whose numbers are the summary's, found \"{name}\""
                ));
            }
            if !providers.contains(provider) {
                return Err(format!(
                    "expected provider.<provider>.<metric> with a provider of this scenario ({}), found \"{name}\"",
                    providers.listed()
                ));
            }
            let Some(known) = ProviderMetrics::NAMES.iter().find(|n| **n == metric) else {
                let hint = closest(metric, ProviderMetrics::NAMES)
                    .map(|c| format!("; did you mean \"{c}\"?"))
                    .unwrap_or_default();
                return Err(format!(
                    "expected a per-provider metric ({}), found \"{metric}\"{hint}",
                    ProviderMetrics::NAMES.join(", ")
                ));
            };
            return Ok(MetricRef::Provider {
                provider: provider.to_string(),
                metric: known,
            });
        }
        if let Some(rest) = name.strip_prefix("tenant.") {
            let (tenant, metric) = rest.rsplit_once('.').unwrap_or((rest, ""));
            if !tenants.contains(tenant) {
                return Err(format!(
                    "expected tenant.<tenant>.<metric> with a tenant of this scenario ({}), found \"{name}\"",
                    tenants.listed()
                ));
            }
            let Some(known) = TenantMetrics::NAMES.iter().find(|n| **n == metric) else {
                let hint = closest(metric, TenantMetrics::NAMES)
                    .map(|c| format!("; did you mean \"{c}\"?"))
                    .unwrap_or_default();
                return Err(format!(
                    "expected a per-tenant metric ({}), found \"{metric}\"{hint}",
                    TenantMetrics::NAMES.join(", ")
                ));
            };
            return Ok(MetricRef::Tenant {
                tenant: tenant.to_string(),
                metric: known,
            });
        }
        if let Some(known) = Metrics::NAMES.iter().find(|n| **n == name) {
            return Ok(MetricRef::Summary(known));
        }
        let hint = closest(name, Metrics::NAMES)
            .map(|c| format!("; did you mean \"{c}\"?"))
            .unwrap_or_default();
        Err(format!(
            "expected a metric of the run summary (its JSON keys, listed in docs/scenario-format.md) or tenant.<tenant>.<metric>, found \"{name}\"{hint}"
        ))
    }

    /// The name as written in a scenario file.
    pub fn name(&self) -> String {
        match self {
            MetricRef::Summary(n) => n.to_string(),
            MetricRef::Tenant { tenant, metric } => format!("tenant.{tenant}.{metric}"),
            MetricRef::Provider { provider, metric } => format!("provider.{provider}.{metric}"),
        }
    }
}

/// The known name nearest to `name` by edit distance, when it is near enough to be a typo.
pub(super) fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The bound an expectation compares with.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    /// A number in the metric's unit.
    Value(f64),
    /// `factor` times another policy's mean of the same metric.
    Relative { factor: f64, policy: String },
}

/// One `[[expect]]` entry, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// The policy it is about; `None` for every policy (but the one a relative bound refers to).
    pub policy: Option<String>,
    /// The metric compared.
    pub metric: MetricRef,
    /// The comparison.
    pub op: Op,
    /// What the metric is compared with.
    pub bound: Bound,
    /// The entry's line in its file (1-based; 0 when unknown).
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    policy: Option<Spanned<String>>,
    metric: Spanned<String>,
    op: Spanned<String>,
    value: Option<Spanned<f64>>,
    factor: Option<Spanned<f64>>,
    relative_to: Option<Spanned<String>>,
}

fn invalid<T>(span: Range<usize>, field: String, message: String) -> Result<T, Invalid> {
    Err(Invalid {
        span: Some(span),
        field,
        message,
    })
}

/// A policy name among `policies`, or a message listing them.
/// A scenario's policy or tenant names, listed in order for messages and hashed for lookups, so
/// checking many entries against many names stays linear.
pub struct Names<'a> {
    list: &'a [String],
    set: HashSet<&'a str>,
}

impl<'a> Names<'a> {
    /// Indexes `list`.
    pub fn new(list: &'a [String]) -> Self {
        Names {
            list,
            set: list.iter().map(String::as_str).collect(),
        }
    }

    /// Whether `name` is one of them.
    pub fn contains(&self, name: &str) -> bool {
        self.set.contains(name)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The first few, then how many there are in all: a message stays short with 100,000 names.
    fn listed(&self) -> String {
        let mut listed = self
            .list
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.list.len() > 8 {
            listed.push_str(&format!(", ... {} in all", self.list.len()));
        }
        listed
    }
}

fn policy_name(
    name: &Spanned<String>,
    field: String,
    policies: &Names<'_>,
    all: bool,
) -> Result<Option<String>, Invalid> {
    let n = name.get_ref().as_str();
    if all && n == "all" {
        return Ok(None);
    }
    if policies.contains(n) {
        return Ok(Some(n.to_string()));
    }
    invalid(
        name.span(),
        field,
        format!(
            "expected {}a policy of this scenario ({}), found \"{n}\"",
            if all { "\"all\" or " } else { "" },
            policies.listed()
        ),
    )
}

/// Validates `[[expect]]` entries against the scenario's `policies` and `tenants`; `text` is the
/// file, for each entry's line.
pub fn validate(
    entries: Vec<Spanned<RawExpect>>,
    policies: &[Policy],
    tenants: &[String],
    providers: &[String],
    text: &str,
) -> Result<Vec<Expectation>, Invalid> {
    let policy_names: Vec<String> = policies.iter().map(|p| p.name.clone()).collect();
    let policies = Names::new(&policy_names);
    let tenants = Names::new(tenants);
    let providers = Names::new(if providers.len() > 1 { providers } else { &[] });
    let mut lines = super::error::LineCounter::new(text);
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let path = format!("expect[{i}]");
        let entry_span = entry.span();
        let e = entry.into_inner();
        let policy = match &e.policy {
            None => None,
            Some(p) => policy_name(p, format!("{path}.policy"), &policies, true)?,
        };
        let metric = MetricRef::parse_with_providers(e.metric.get_ref(), &tenants, &providers)
            .or_else(|m| invalid(e.metric.span(), format!("{path}.metric"), m))?;
        let op = match Op::parse(e.op.get_ref().trim()) {
            Some(op) => op,
            None => {
                return invalid(
                    e.op.span(),
                    format!("{path}.op"),
                    format!(
                        "expected one of {}, found \"{}\"",
                        Op::SYMBOLS.join(" "),
                        e.op.get_ref()
                    ),
                );
            }
        };
        let bound = match (&e.value, &e.relative_to) {
            (Some(v), Some(_)) => {
                return invalid(
                    v.span(),
                    format!("{path}.value"),
                    "give either `value` (an absolute bound) or `relative_to` (with `factor`), not both".into(),
                );
            }
            (Some(v), None) => {
                if let Some(f) = &e.factor {
                    return invalid(
                        f.span(),
                        format!("{path}.factor"),
                        "`factor` multiplies the mean of the `relative_to` policy; with an absolute `value` it has nothing to multiply".into(),
                    );
                }
                if !v.get_ref().is_finite() {
                    return invalid(
                        v.span(),
                        format!("{path}.value"),
                        format!("expected a finite number, found {}", v.get_ref()),
                    );
                }
                Bound::Value(*v.get_ref())
            }
            (None, Some(r)) => {
                let reference = policy_name(r, format!("{path}.relative_to"), &policies, false)?
                    .unwrap_or_default();
                if policy.as_deref() == Some(reference.as_str()) {
                    return invalid(
                        r.span(),
                        format!("{path}.relative_to"),
                        format!("\"{reference}\" is the policy checked: compare it with another"),
                    );
                }
                let factor = match &e.factor {
                    None => 1.0,
                    Some(f) if f.get_ref().is_finite() && *f.get_ref() > 0.0 => *f.get_ref(),
                    Some(f) => {
                        return invalid(
                            f.span(),
                            format!("{path}.factor"),
                            format!("expected a number > 0, found {}", f.get_ref()),
                        );
                    }
                };
                Bound::Relative {
                    factor,
                    policy: reference,
                }
            }
            (None, None) => {
                return invalid(
                    entry_span,
                    path,
                    "an expectation needs a bound: `value = N`, or `relative_to = \"POLICY\"` with `factor = F` (F x that policy's mean; default 1)".into(),
                );
            }
        };
        out.push(Expectation {
            policy,
            metric,
            op,
            bound,
            line: lines.line_at(entry_span.start),
        });
    }
    Ok(out)
}

/// Validates `[[tune.constraint]]` entries (`prefix` names them in errors): the `[[expect]]`
/// grammar, about the tuned policy itself, so with an absolute `value` on a metric of the run
/// summary (the search compares candidates with each other, not with another policy).
pub fn validate_constraints(
    entries: Vec<Spanned<RawExpect>>,
    prefix: &str,
    tenants: &[String],
    providers: &[String],
    text: &str,
) -> Result<Vec<Expectation>, Invalid> {
    let mut lines = super::error::LineCounter::new(text);
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let path = format!("{prefix}[{i}]");
        let entry_span = entry.span();
        let e = entry.into_inner();
        if let Some(p) = &e.policy {
            return invalid(
                p.span(),
                format!("{path}.policy"),
                "a constraint is about the tuned policy (`tune.policy`); leave `policy` out".into(),
            );
        }
        if let Some(r) = e
            .relative_to
            .as_ref()
            .map(Spanned::span)
            .or(e.factor.as_ref().map(Spanned::span))
        {
            return invalid(
                r,
                format!("{path}.relative_to"),
                "expected an absolute bound, `value = N`: a tune compares candidates with each other, not with another policy".into(),
            );
        }
        let Some(v) = &e.value else {
            return invalid(
                entry_span,
                path,
                "a constraint needs a bound: `value = N`".into(),
            );
        };
        if !v.get_ref().is_finite() {
            return invalid(
                v.span(),
                format!("{path}.value"),
                format!("expected a finite number, found {}", v.get_ref()),
            );
        }
        let metric = match MetricRef::parse_with_providers(
            e.metric.get_ref(),
            &Names::new(tenants),
            &Names::new(if providers.len() > 1 { providers } else { &[] }),
        ) {
            Ok(MetricRef::Summary(m)) => MetricRef::Summary(m),
            Ok(other) => {
                return invalid(
                    e.metric.span(),
                    format!("{path}.metric"),
                    format!(
                        "expected a metric of the run summary: a tune judges the policy's own numbers, found \"{}\"",
                        other.name()
                    ),
                );
            }
            Err(m) => return invalid(e.metric.span(), format!("{path}.metric"), m),
        };
        let Some(op) = Op::parse(e.op.get_ref().trim()) else {
            return invalid(
                e.op.span(),
                format!("{path}.op"),
                format!(
                    "expected one of {}, found \"{}\"",
                    Op::SYMBOLS.join(" "),
                    e.op.get_ref()
                ),
            );
        };
        out.push(Expectation {
            policy: None,
            metric,
            op,
            bound: Bound::Value(*v.get_ref()),
            line: lines.line_at(entry_span.start),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Bound, MetricRef, Names, Op};
    use crate::scenario::{parse, parse_with_expectations};

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
"#;

    fn error(extra: &str) -> String {
        parse(&format!("{BASE}{extra}"), "t.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_suggested_syntax_reads_as_expectations_with_their_lines() {
        let s = parse_with_expectations(
            &format!(
                "{BASE}[[expect]]\npolicy = \"fixed\"\nmetric = \"makespan_s\"\nop = \"<=\"\nfactor = 0.1\nrelative_to = \"naive\"\n\n[[expect]]\npolicy = \"fixed\"\nmetric = \"rate_limited\"\nop = \"==\"\nvalue = 0\n\n[[expect]]\nmetric = \"jobs_ok\"\nop = \">=\"\nvalue = 1\n"
            ),
            "t.toml",
        )
        .unwrap();
        let e = &s.expectations;
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].policy.as_deref(), Some("fixed"));
        assert_eq!(
            e[0].bound,
            Bound::Relative {
                factor: 0.1,
                policy: "naive".into()
            }
        );
        assert_eq!((e[0].op, e[0].line), (Op::Le, 16));
        assert_eq!(
            (e[1].op, &e[1].bound, e[1].line),
            (Op::Eq, &Bound::Value(0.0), 23)
        );
        assert_eq!(e[2].policy, None, "the default is every policy");
        assert_eq!(e[2].metric, MetricRef::Summary("jobs_ok"));
    }

    #[test]
    fn a_tenant_metric_names_a_tenant_of_the_scenario() {
        let two = BASE.replace(
            "[[policy]]\nname = \"naive\"",
            "[[source]]\nname = \"heavy\"\narrival = { process = \"burst\" }\n[source.job]\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 5\n[[policy]]\nname = \"naive\"",
        );
        let ok = format!(
            "{two}[[expect]]\nmetric = \"tenant.heavy.rate_limited\"\nop = \"==\"\nvalue = 0\n"
        );
        let s = parse_with_expectations(&ok, "t.toml").unwrap();
        assert_eq!(s.expectations[0].metric.name(), "tenant.heavy.rate_limited");
        let bad = format!(
            "{two}[[expect]]\nmetric = \"tenant.hevy.rate_limited\"\nop = \"==\"\nvalue = 0\n"
        );
        let e = parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(
            e.starts_with("t.toml:24:10: field `expect[0].metric`:"),
            "{e}"
        );
        assert!(e.contains("a tenant of this scenario (s, heavy)"), "{e}");
    }

    #[test]
    fn a_scenario_without_expectations_has_none() {
        let s = parse_with_expectations(BASE, "t.toml").unwrap();
        assert!(s.expectations.is_empty());
    }

    #[test]
    fn an_unknown_metric_is_refused_at_its_line_and_column() {
        let e = error("[[expect]]\nmetric = \"makespan\"\nop = \"<\"\nvalue = 1\n");
        assert!(
            e.starts_with("t.toml:17:10: field `expect[0].metric`:"),
            "{e}"
        );
        assert!(e.contains("did you mean \"makespan_s\""), "{e}");
    }

    #[test]
    fn an_unknown_policy_is_refused_with_the_scenarios_policies() {
        let e = error(
            "[[expect]]\npolicy = \"fxed\"\nmetric = \"makespan_s\"\nop = \"<\"\nvalue = 1\n",
        );
        assert!(
            e.starts_with("t.toml:17:10: field `expect[0].policy`:"),
            "{e}"
        );
        assert!(
            e.contains("\"all\" or a policy of this scenario (naive, fixed), found \"fxed\""),
            "{e}"
        );
        let e = error("[[expect]]\nmetric = \"makespan_s\"\nop = \"<\"\nrelative_to = \"all\"\n");
        assert!(
            e.contains("field `expect[0].relative_to`: expected a policy of this scenario"),
            "{e}"
        );
    }

    #[test]
    fn operators_bounds_and_fields_are_checked() {
        let e = error("[[expect]]\nmetric = \"makespan_s\"\nop = \"=<\"\nvalue = 1\n");
        assert!(
            e.contains("field `expect[0].op`: expected one of < <= > >= ==, found \"=<\""),
            "{e}"
        );
        let e = error("[[expect]]\nmetric = \"makespan_s\"\nop = \"<\"\n");
        assert!(
            e.contains("field `expect[0]`: an expectation needs a bound"),
            "{e}"
        );
        let e = error(
            "[[expect]]\nmetric = \"makespan_s\"\nop = \"<\"\nvalue = 1\nrelative_to = \"naive\"\n",
        );
        assert!(e.contains("not both"), "{e}");
        let e = error("[[expect]]\nmetric = \"makespan_s\"\nop = \"<\"\nvalue = 1\nfactor = 2\n");
        assert!(e.contains("field `expect[0].factor`"), "{e}");
        let e = error(
            "[[expect]]\nmetric = \"makespan_s\"\nop = \"<\"\nfactor = -1\nrelative_to = \"naive\"\n",
        );
        assert!(e.contains("expected a number > 0, found -1"), "{e}");
        let e = error(
            "[[expect]]\npolicy = \"naive\"\nmetric = \"makespan_s\"\nop = \"<\"\nrelative_to = \"naive\"\n",
        );
        assert!(e.contains("is the policy checked"), "{e}");
        let e = error("[[expect]]\nmetric = \"makespan_s\"\nop = \"<\"\nvalue = 1\nbound = 3\n");
        assert!(e.contains("unknown field `bound`"), "{e}");
    }

    #[test]
    fn metric_names_are_looked_up_with_a_suggestion_for_typos() {
        assert_eq!(
            MetricRef::parse("rate_limited", &Names::new(&[])),
            Ok(MetricRef::Summary("rate_limited"))
        );
        let e = MetricRef::parse("makespan", &Names::new(&[])).unwrap_err();
        assert!(
            e.contains("found \"makespan\"; did you mean \"makespan_s\"?"),
            "{e}"
        );
        let e = MetricRef::parse("zzzzzzzzzzzzzzzzzzzzzz", &Names::new(&[])).unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn tenant_metrics_are_named_tenant_dot_name_dot_metric() {
        let tenants = ["light".to_string(), "heavy.user".to_string()];
        let m = MetricRef::parse("tenant.heavy.user.rate_limited", &Names::new(&tenants)).unwrap();
        assert_eq!(
            m,
            MetricRef::Tenant {
                tenant: "heavy.user".into(),
                metric: "rate_limited"
            }
        );
        assert_eq!(m.name(), "tenant.heavy.user.rate_limited");
        let e = MetricRef::parse("tenant.nobody.jobs_ok", &Names::new(&tenants)).unwrap_err();
        assert!(
            e.contains("(light, heavy.user), found \"tenant.nobody.jobs_ok\""),
            "{e}"
        );
        let e = MetricRef::parse("tenant.light.makespan_s", &Names::new(&tenants)).unwrap_err();
        assert!(e.contains("expected a per-tenant metric"), "{e}");
    }
}
