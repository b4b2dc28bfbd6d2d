//! Sweep parameters: the `[sweep]` table, dotted paths into the scenario document, and scenario
//! documents with some of their values replaced.
//!
//! Task: let a sweep name any value of a scenario file by where it is written, and replace it on
//! the TOML tree before the normal parse and validation, so that a swept scenario is checked
//! exactly as if its values had been typed into the file. A path is dotted keys from the top of
//! the document (`provider.limit.0.rate`); a segment into an array of tables is a position
//! (`source.0`) or the `name` of an entry (`policy.fixed`). Every segment must exist in the file:
//! a sweep changes values that are written there, so a typo is an error, never a new field.

use crate::model::config::MAX_REPLICATIONS;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::{Spanned, Table, Value};

/// One axis of a sweep's grid: a dotted path into the scenario document and the values it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The dotted path, e.g. `policy.fixed.bucket.rate`.
    pub path: String,
    /// The values, in the order they are swept.
    pub values: Vec<Value>,
}

/// A scenario's `[sweep]` table: the grid's axes in file order (the first varies slowest), the
/// replications per point when they differ from the scenario's, and the policies run at each
/// point when not all of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepSpec {
    /// Overrides `scenario.replications` for the sweep.
    pub replications: Option<u32>,
    /// The grid's axes.
    pub axes: Vec<Axis>,
    /// Only these policies, in this order, at every point (all of them, in file order, when
    /// empty): `policies = ["fixed"]`, or `stampede sweep --policy fixed`.
    pub policies: Vec<String>,
}

/// The `[sweep]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    replications: Option<Spanned<u32>>,
    policies: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    parameters: BTreeMap<Spanned<String>, Spanned<Vec<Value>>>,
}

/// A `[sweep]` table that does not fit the document: what, where, which field.
pub struct SweepInvalid {
    pub span: Option<Range<usize>>,
    pub field: String,
    pub message: String,
}

impl RawSweep {
    /// Checks the table against the scenario document `text` (already known to be valid TOML)
    /// and returns it with its axes in file order.
    pub fn validate(self, text: &str) -> Result<SweepSpec, SweepInvalid> {
        if let Some(r) = &self.replications
            && !(1..=MAX_REPLICATIONS).contains(r.get_ref())
        {
            return Err(SweepInvalid {
                span: Some(r.span()),
                field: "sweep.replications".into(),
                message: format!(
                    "expected from 1 to {MAX_REPLICATIONS}, found {}",
                    r.get_ref()
                ),
            });
        }
        let mut parameters: Vec<_> = self.parameters.into_iter().collect();
        parameters.sort_by_key(|(k, _)| k.span().start);
        let doc = document(text).map_err(|message| SweepInvalid {
            span: None,
            field: "sweep".into(),
            message,
        })?;
        let mut axes = Vec::new();
        for (key, values) in parameters {
            let span = key.span();
            let path = key.into_inner();
            let axis = Axis {
                path: path.clone(),
                values: values.into_inner(),
            };
            check_axis(&doc, &axis).map_err(|message| SweepInvalid {
                span: Some(span),
                field: format!("sweep.parameters.\"{path}\""),
                message,
            })?;
            axes.push(axis);
        }
        let mut policies = Vec::new();
        if let Some(names) = self.policies {
            let span = names.span();
            for name in names.into_inner() {
                if !policy_names(&doc).contains(&name.as_str()) {
                    return Err(SweepInvalid {
                        span: Some(span),
                        field: "sweep.policies".into(),
                        message: format!(
                            "no policy named \"{name}\" (it has: {})",
                            policy_names(&doc).join(", ")
                        ),
                    });
                }
                if !policies.contains(&name) {
                    policies.push(name);
                }
            }
        }
        Ok(SweepSpec {
            replications: self.replications.map(Spanned::into_inner),
            axes,
            policies,
        })
    }
}

/// The names of the `[[policy]]` entries of `doc` (a tree from [`document`]), in file order.
pub fn policy_names(doc: &Value) -> Vec<&str> {
    doc.get("policy")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// The `[sweep]` table of scenario `text`, if there is one, checked against the document,
/// without validating the rest of the scenario.
pub fn read_spec(text: &str) -> Result<Option<SweepSpec>, SweepInvalid> {
    #[derive(Deserialize)]
    struct Only {
        sweep: Option<RawSweep>,
    }
    let only: Only = toml::from_str(text).map_err(|e| SweepInvalid {
        span: e.span(),
        field: "sweep".into(),
        message: e.message().trim().to_string(),
    })?;
    only.sweep.map(|s| s.validate(text)).transpose()
}

/// The scenario document `text` as a tree, without its `[sweep]` table, its provider preset
/// applied (`docs/presets.md`).
pub fn document(text: &str) -> Result<Value, String> {
    let mut doc = raw_document(text)?;
    // A sweep's values override the preset's, as a field written beside it does.
    expand(&mut doc)?;
    Ok(doc)
}

/// [`document`] with its provider preset, if any, not applied.
pub fn raw_document(text: &str) -> Result<Value, String> {
    let mut table: Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    table.remove("sweep");
    // A tune's search is not part of the scenario it searches (nor of a sweep's manifest).
    table.remove("tune");
    Ok(Value::Table(table))
}

/// Applies the provider preset of `doc` (a tree from [`raw_document`]).
pub fn expand(doc: &mut Value) -> Result<(), String> {
    match doc {
        Value::Table(t) => super::presets::expand_document(t),
        _ => Ok(()),
    }
}

/// The path of the one parameter a sweep applies before the preset: the preset itself.
pub const PRESET_PATH: &str = "provider.preset";

/// Sets the provider preset of `doc` (a tree from [`raw_document`]) to `value`, written or not.
pub fn set_preset(doc: &mut Value, value: Value) -> Result<(), String> {
    let Value::Table(t) = doc else {
        return Err("the scenario is not a table".into());
    };
    match t
        .entry("provider")
        .or_insert_with(|| Value::Table(Table::new()))
    {
        Value::Table(p) => {
            p.insert("preset".into(), value);
            Ok(())
        }
        other => Err(format!("`provider` is the value {other}, not a table")),
    }
}

/// Checks that `axis` can be swept over `doc` (a tree from [`document`]): a dotted path of at
/// least two segments that resolves, and at least one value.
pub fn check_axis(doc: &Value, axis: &Axis) -> Result<(), String> {
    if axis.path.split('.').count() < 2 {
        return Err(format!(
            "expected a dotted path to a value, such as `policy.fixed.bucket.rate`, found `{}`",
            axis.path
        ));
    }
    if axis.path == PRESET_PATH {
        // Applied before the others, to a document that may name no preset: each value must
        // name one.
        for value in &axis.values {
            match value {
                Value::String(name) => {
                    super::presets::find(name)?;
                }
                other => {
                    return Err(format!(
                        "expected preset names such as \"anthropic/tier-2/claude-sonnet-4\", found {other}"
                    ));
                }
            }
        }
        if axis.values.is_empty() {
            return Err("expected at least one value to sweep, found an empty list".into());
        }
        return Ok(());
    }
    let mut doc = doc.clone();
    slot(&mut doc, &axis.path)?;
    if axis.values.is_empty() {
        return Err("expected at least one value to sweep, found an empty list".into());
    }
    Ok(())
}

/// Replaces the value at `path` in `doc` by `value`.
pub fn set(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    *slot(doc, path)? = value;
    Ok(())
}

/// A copy of the value at dotted `path` in `doc`.
pub fn get(doc: &Value, path: &str) -> Result<Value, String> {
    let mut doc = doc.clone();
    slot(&mut doc, path).map(|v| v.clone())
}

/// The value at dotted `path` in `doc`, or why there is none.
fn slot<'a>(doc: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let mut here = doc;
    let mut at = String::new();
    for seg in path.split('.') {
        let where_ = if at.is_empty() {
            "the scenario".to_string()
        } else {
            format!("`{at}`")
        };
        here = match here {
            Value::Table(t) => {
                let keys = t.keys().cloned().collect::<Vec<_>>().join(", ");
                t.get_mut(seg)
                    .ok_or_else(|| format!("no `{seg}` in {where_} (it has: {keys})"))?
            }
            Value::Array(a) => {
                let len = a.len();
                if let Ok(i) = seg.parse::<usize>() {
                    a.get_mut(i).ok_or_else(|| {
                        format!(
                            "{where_} has {len} entries (positions 0 to {}), found {i}",
                            len.max(1) - 1
                        )
                    })?
                } else {
                    let names: Vec<String> = a
                        .iter()
                        .filter_map(|v| v.get("name").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect();
                    a.iter_mut()
                        .find(|v| v.get("name").and_then(Value::as_str) == Some(seg))
                        .ok_or_else(|| {
                            format!(
                                "no entry of {where_} is named \"{seg}\" (names: {}; or give a position, 0 to {})",
                                names.join(", "),
                                len.max(1) - 1
                            )
                        })?
                }
            }
            other => {
                return Err(format!(
                    "{where_} is the value {other}, which has no field `{seg}`"
                ));
            }
        };
        if !at.is_empty() {
            at.push('.');
        }
        at.push_str(seg);
    }
    Ok(here)
}

/// The document `doc` (from [`document`]) with the sweep `spec` written back as its `[sweep]`
/// table, the axes in order: a scenario file that describes the whole sweep.
pub fn with_sweep(doc: &Value, spec: &SweepSpec) -> Result<String, String> {
    let mut text = toml::to_string(doc).map_err(|e| e.to_string())?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("\n[sweep]\n");
    if let Some(r) = spec.replications {
        text.push_str(&format!("replications = {r}\n"));
    }
    if !spec.policies.is_empty() {
        let names = spec.policies.iter().cloned().map(Value::String).collect();
        text.push_str(&format!("policies = {}\n", Value::Array(names)));
    }
    text.push_str("\n[sweep.parameters]\n");
    for axis in &spec.axes {
        text.push_str(&format!(
            "{} = {}\n",
            Value::String(axis.path.clone()),
            Value::Array(axis.values.clone())
        ));
    }
    Ok(text)
}

/// A value as a CSV cell: numbers as Rust writes them (shortest round trip), strings unquoted,
/// anything else as inline TOML.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => s.clone(),
        Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
[scenario]
name = "t"
[[source]]
name = "s"
job = { agents = 12 }
[[policy]]
name = "naive"
[[policy]]
name = "fixed"
bucket = { rate = 60000, burst = 200000 }
"#;

    fn doc() -> Value {
        document(DOC).unwrap()
    }

    #[test]
    fn paths_index_arrays_by_position_and_by_name() {
        let mut d = doc();
        set(&mut d, "policy.fixed.bucket.rate", Value::Integer(30)).unwrap();
        set(&mut d, "policy.0.name", Value::String("n".into())).unwrap();
        set(&mut d, "source.0.job.agents", Value::Integer(4)).unwrap();
        assert_eq!(d["policy"][1]["bucket"]["rate"].as_integer(), Some(30));
        assert_eq!(d["policy"][0]["name"].as_str(), Some("n"));
        assert_eq!(d["source"][0]["job"]["agents"].as_integer(), Some(4));
    }

    #[test]
    fn a_bad_path_says_which_segment_and_what_exists() {
        let mut d = doc();
        let e = set(&mut d, "policy.fixd.bucket.rate", Value::Integer(1)).unwrap_err();
        assert!(e.contains("no entry of `policy` is named \"fixd\""), "{e}");
        assert!(e.contains("names: naive, fixed"), "{e}");
        let e = set(&mut d, "source.3.job", Value::Integer(1)).unwrap_err();
        assert!(e.contains("`source` has 1 entries"), "{e}");
        let e = set(&mut d, "policy.fixed.bucket.rat", Value::Integer(1)).unwrap_err();
        assert!(
            e.contains("no `rat` in `policy.fixed.bucket` (it has: burst, rate)"),
            "{e}"
        );
        let e = set(&mut d, "source.0.job.agents.x", Value::Integer(1)).unwrap_err();
        assert!(e.contains("has no field `x`"), "{e}");
    }

    #[test]
    fn an_axis_needs_a_dotted_path_and_values() {
        let d = doc();
        let axis = |p: &str, v: Vec<Value>| Axis {
            path: p.into(),
            values: v,
        };
        assert!(check_axis(&d, &axis("policy", vec![Value::Integer(1)])).is_err());
        assert!(check_axis(&d, &axis("source.0.job.agents", vec![])).is_err());
        assert!(check_axis(&d, &axis("source.0.job.agents", vec![Value::Integer(1)])).is_ok());
    }

    #[test]
    fn the_sweep_written_back_reads_the_same_in_the_same_order() {
        let spec = SweepSpec {
            replications: Some(3),
            policies: vec!["fixed".into()],
            axes: vec![
                Axis {
                    path: "source.0.job.agents".into(),
                    values: vec![Value::Integer(4), Value::Integer(8)],
                },
                Axis {
                    path: "policy.fixed.bucket.rate".into(),
                    values: vec![Value::Float(1.5), Value::String("x".into())],
                },
            ],
        };
        let text = with_sweep(&doc(), &spec).unwrap();
        #[derive(Deserialize)]
        struct Only {
            sweep: RawSweep,
        }
        let only: Only = toml::from_str(&text).unwrap();
        assert_eq!(only.sweep.validate(&text).ok(), Some(spec));
    }

    #[test]
    fn cells_are_plain_numbers_and_unquoted_strings() {
        assert_eq!(cell(&Value::Integer(30_000)), "30000");
        assert_eq!(cell(&Value::Float(30_000.0)), "30000");
        assert_eq!(cell(&Value::Float(0.25)), "0.25");
        assert_eq!(cell(&Value::String("1s".into())), "1s");
    }
}
