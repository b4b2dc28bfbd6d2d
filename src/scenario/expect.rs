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
//! Parsed here into [`crate::check::Expectation`]s; what they mean, and the rule with
//! replications, is in [`crate::check`].

use super::raw::Invalid;
use crate::check::{Bound, Expectation, MetricRef, Op};
use crate::model::Policy;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

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
fn policy_name(
    name: &Spanned<String>,
    field: String,
    policies: &[Policy],
    all: bool,
) -> Result<Option<String>, Invalid> {
    let n = name.get_ref().as_str();
    if all && n == "all" {
        return Ok(None);
    }
    if policies.iter().any(|p| p.name == n) {
        return Ok(Some(n.to_string()));
    }
    let names: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
    invalid(
        name.span(),
        field,
        format!(
            "expected {}a policy of this scenario ({}), found \"{n}\"",
            if all { "\"all\" or " } else { "" },
            names.join(", ")
        ),
    )
}

/// Validates `[[expect]]` entries against the scenario's `policies` and `tenants`.
pub fn validate(
    entries: Vec<Spanned<RawExpect>>,
    policies: &[Policy],
    tenants: &[String],
) -> Result<Vec<Expectation>, Invalid> {
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let path = format!("expect[{i}]");
        let entry_span = entry.span();
        let e = entry.into_inner();
        let policy = match &e.policy {
            None => None,
            Some(p) => policy_name(p, format!("{path}.policy"), policies, true)?,
        };
        let metric = MetricRef::parse(e.metric.get_ref(), tenants)
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
                let reference = policy_name(r, format!("{path}.relative_to"), policies, false)?
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
            line: 0,
            offset: entry_span.start,
        });
    }
    Ok(out)
}

/// Fills in each expectation's line from its offset in `text`.
pub fn locate(mut scenario: super::Scenario, text: &str) -> super::Scenario {
    for e in &mut scenario.expectations {
        e.line = super::line_col(text, e.offset).0;
    }
    scenario
}

#[cfg(test)]
mod tests {
    use crate::check::{Bound, Op};
    use crate::scenario::parse;

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
        let s = parse(
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
        assert_eq!(e[2].describe("naive"), "naive: jobs_ok >= 1");
        assert_eq!(e[0].describe("fixed"), "fixed: makespan_s <= 0.1 x naive");
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
        let s = parse(&ok, "t.toml").unwrap();
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
        assert!(parse(BASE, "t.toml").unwrap().expectations.is_empty());
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
}
