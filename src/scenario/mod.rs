//! Scenario files: TOML in, a validated [`Scenario`] out, or an error at a line and column.
//!
//! Task: read what a user wrote without ever guessing. Unknown fields are errors (a typo must not
//! fall back to a default), every value is checked where it is read, and every error names the
//! file, the line and column, the field, and what was expected against what was found.
//! The format is documented in `docs/scenario-format.md`.

mod error;
mod expect;
pub mod explain;
pub mod otel;
mod overrides;
pub mod presets;
mod raw;
mod templates;
mod trace;
mod tune;
pub mod units;
mod values;

pub use crate::model::Scenario;
pub use error::{ScenarioError, line_col};
pub use expect::{Bound, Expectation, MetricRef, Op};
pub use overrides::{Axis, SweepSpec};
pub use tune::{
    DEFAULT_BUDGET, DEFAULT_VALIDATION, Domain, MAX_BUDGET, MAX_CHOICES, MAX_INITIAL,
    MAX_PARAMETERS, MIN_BUDGET, Objective, Parameter, TuneSpec, Unit,
};

use std::path::Path;

/// A scenario with the `[[expect]]` entries that `stampede check` holds its policies to.
///
/// The expectations stay out of [`Scenario`] because the model only runs scenarios. Everything
/// but `check` calls [`load`] or [`parse`], which check the entries too (a bad one is an error
/// for every command) and drop them; `check` calls [`load_with_expectations`]. One more function
/// rather than a wider return type keeps every other call site as it was.
#[derive(Clone, Debug)]
pub struct WithExpectations {
    /// The model to run.
    pub scenario: Scenario,
    /// The `[[expect]]` entries, in file order.
    pub expectations: Vec<Expectation>,
}

/// Reads and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with_expectations(path).map(|s| s.scenario)
}

/// [`load`], keeping the `[[expect]]` entries.
pub fn load_with_expectations(path: &Path) -> Result<WithExpectations, ScenarioError> {
    let text = read_file(path)?;
    parse_with_expectations(&text, &path.display().to_string())
}

/// The most bytes a scenario file may hold (16 MiB): far above any scenario written by hand,
/// low enough that a wrong path (`/dev/zero`, a log file) fails at once instead of being read
/// into memory. Traces live in their own files and are not bound by it.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads the scenario file at `path` as text: at most [`MAX_FILE_BYTES`] (reading one byte more
/// tells a larger file), and UTF-8, an error pointing at the line and column of the first byte
/// that is not.
pub fn read_file(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let error = |position, message| ScenarioError {
        file: path.display().to_string(),
        position,
        field: None,
        message,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| error(None, format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(error(
            None,
            format!(
                "the file is larger than {} MiB, the most a scenario file may be (is it the right file?)",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = std::str::from_utf8(&bytes[..valid]).expect("valid up to here");
        error(
            Some(line_col(before, valid)),
            format!(
                "the file is not UTF-8 text: byte 0x{:02x} (at offset {valid}) does not begin or continue a UTF-8 character",
                bytes[valid]
            ),
        )
    })
}

/// Parses and validates scenario `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    parse_with_expectations(text, file).map(|s| s.scenario)
}

/// [`parse`], keeping the `[[expect]]` entries.
pub fn parse_with_expectations(text: &str, file: &str) -> Result<WithExpectations, ScenarioError> {
    parse_all(text, file).map(|(s, _, _)| s)
}

/// [`parse`], also returning the `[sweep]` table when there is one, its paths checked against
/// the document.
pub fn parse_sweep(text: &str, file: &str) -> Result<(Scenario, Option<SweepSpec>), ScenarioError> {
    parse_all(text, file).map(|(s, sweep, _)| (s.scenario, sweep))
}

/// [`parse`], also returning the `[tune]` table when there is one, checked against the
/// document.
pub fn parse_tune(text: &str, file: &str) -> Result<(Scenario, Option<TuneSpec>), ScenarioError> {
    parse_all(text, file).map(|(s, _, tune)| (s.scenario, tune))
}

/// Everything a file holds: the scenario with its expectations, its `[sweep]` and `[tune]`.
type Parsed = (WithExpectations, Option<SweepSpec>, Option<TuneSpec>);

/// Everything a scenario file holds, validated, its provider preset applied first (positions in
/// errors are the user's, whatever lines the preset added).
fn parse_all(text: &str, file: &str) -> Result<Parsed, ScenarioError> {
    match presets::expand_text(text) {
        Ok(None) => parse_expanded(text, file),
        Ok(Some(presets::Expansion::Text(x))) => parse_expanded(&x.text, file).map_err(|e| {
            let Some(position) = e.position else {
                return e;
            };
            let (position, from_preset) = x.map(position);
            ScenarioError {
                position: Some(position),
                field: match from_preset {
                    Some(path) => Some(format!(
                        "{path}.preset{}",
                        e.field
                            .as_ref()
                            .map_or(String::new(), |f| format!(" ({f})"))
                    )),
                    None => e.field,
                },
                ..e
            }
        }),
        // The document was rewritten: its positions are not the user's.
        Ok(Some(presets::Expansion::Document(t))) => {
            parse_expanded(&t, file).map_err(|e| ScenarioError {
                position: None,
                ..e
            })
        }
        Err(e) => Err(ScenarioError {
            file: file.to_string(),
            position: e.span.map(|s| line_col(text, s.start)),
            field: Some(e.field),
            message: e.message,
        }),
    }
}

/// [`parse_all`] of a text whose preset, if any, has been applied.
fn parse_expanded(text: &str, file: &str) -> Result<Parsed, ScenarioError> {
    let deserializer =
        toml::de::Deserializer::parse(text).map_err(|e| toml_error(text, file, None, &e))?;
    let mut raw: raw::RawScenario =
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            // `toml::Spanned` shows up in serde's path as a private field name: not the user's.
            let path = e
                .path()
                .to_string()
                .replace(".$__serde_spanned_private_value", "");
            let field = (path != "." && !path.is_empty()).then_some(path);
            toml_error(text, file, field, e.inner())
        })?;
    let sweep = raw.sweep.take();
    let tune = raw.tune.take();
    let expect = std::mem::take(&mut raw.expect);
    let invalid = |inv: raw::Invalid| ScenarioError {
        file: file.to_string(),
        position: inv
            .span
            .filter(|s| s.end > 0)
            .map(|s| line_col(text, s.start)),
        field: Some(inv.field),
        message: inv.message,
    };
    let scenario = raw.validate(Path::new(file).parent()).map_err(invalid)?;
    let expectations = expect::validate(
        expect,
        &scenario.policies,
        &scenario.tenants,
        &scenario
            .providers
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>(),
        text,
    )
    .map_err(invalid)?;
    let sweep = sweep
        .map(|s| s.validate(text))
        .transpose()
        .map_err(|inv| ScenarioError {
            file: file.to_string(),
            position: inv.span.map(|s| line_col(text, s.start)),
            field: Some(inv.field),
            message: inv.message,
        })?;
    let provider_names: Vec<String> = scenario.providers.iter().map(|p| p.name.clone()).collect();
    let tune = tune
        .map(|t| t.validate(text, &scenario.tenants, &provider_names))
        .transpose()
        .map_err(invalid)?;
    let scenario = WithExpectations {
        scenario,
        expectations,
    };
    Ok((scenario, sweep, tune))
}

/// The `[sweep]` table of scenario `text`, its paths checked, without validating the rest of
/// the scenario (to read a finished sweep's manifest).
pub fn sweep_spec(text: &str, file: &str) -> Result<Option<SweepSpec>, ScenarioError> {
    overrides::read_spec(text).map_err(|inv| ScenarioError {
        file: file.to_string(),
        position: inv.span.map(|s| line_col(text, s.start)),
        field: Some(inv.field),
        message: inv.message,
    })
}

/// Parses and validates scenario `text` with the values at some dotted paths replaced (the
/// `[sweep]` table's syntax: `source.0.job.agents`, `policy.fixed.bucket.rate`), as if they had
/// been written in the file. The `[sweep]` table itself is dropped. An error names the path that
/// does not resolve, or the replaced values that make the scenario invalid.
pub fn parse_with_overrides(
    text: &str,
    file: &str,
    overrides: &[(String, toml::Value)],
) -> Result<Scenario, ScenarioError> {
    Overridable::new(text, file)?.parse(overrides)
}

/// A scenario document read once, to be validated under many sets of overrides (as
/// [`parse_with_overrides`] does for one). A sweep's points differ in a few values each;
/// reading the whole file again for every point (its `[sweep]` table as long as the grid) made
/// planning quadratic in the number of points.
pub struct Overridable {
    doc: toml::Value,
    file: String,
}

impl Overridable {
    /// The document `text` as a tree, without its `[sweep]` table; `file` names it in errors.
    /// Its provider preset is applied at each [`Overridable::parse`], after a swept preset
    /// replaced it and before the other values.
    pub fn new(text: &str, file: &str) -> Result<Overridable, ScenarioError> {
        match overrides::raw_document(text) {
            Ok(doc) => Ok(Overridable {
                doc,
                file: file.to_string(),
            }),
            // Not TOML: the plain parse says where (and never runs without the overrides).
            Err(message) => Err(parse(text, file).err().unwrap_or(ScenarioError {
                file: file.to_string(),
                position: None,
                field: None,
                message,
            })),
        }
    }

    /// The value written at dotted `path` (the provider preset not applied).
    pub fn value_at(&self, path: &str) -> Result<toml::Value, String> {
        overrides::get(&self.doc, path)
    }

    /// The `[[policy]]` entry at position `index`, named `name`, with `values` written at paths
    /// inside it (`bucket.rate`): the tuned policy ready to paste.
    pub fn policy_entry(
        &self,
        index: usize,
        name: &str,
        values: &[(String, toml::Value)],
    ) -> Result<toml::Table, String> {
        let mut entry = overrides::get(&self.doc, &format!("policy.{index}"))?;
        for (path, value) in values {
            overrides::set(&mut entry, path, value.clone())?;
        }
        match entry {
            toml::Value::Table(mut t) => {
                t.insert("name".into(), toml::Value::String(name.to_string()));
                Ok(t)
            }
            other => Err(format!("policy {index} is the value {other}, not a table")),
        }
    }

    /// The scenario with the values at `overrides`' paths replaced, validated.
    pub fn parse(&self, overrides: &[(String, toml::Value)]) -> Result<Scenario, ScenarioError> {
        let file = self.file.as_str();
        let mut doc = self.doc.clone();
        let swept_preset = overrides
            .iter()
            .filter(|(path, _)| path == overrides::PRESET_PATH);
        let rest = overrides
            .iter()
            .filter(|(path, _)| path != overrides::PRESET_PATH);
        for (path, value) in swept_preset {
            overrides::set_preset(&mut doc, value.clone()).map_err(|message| ScenarioError {
                file: file.to_string(),
                position: None,
                field: None,
                message: format!("sweep parameter `{path}`: {message}"),
            })?;
        }
        overrides::expand(&mut doc).map_err(|message| ScenarioError {
            file: file.to_string(),
            position: None,
            field: Some("provider.preset".into()),
            message,
        })?;
        for (path, value) in rest {
            overrides::set(&mut doc, path, value.clone()).map_err(|message| ScenarioError {
                file: file.to_string(),
                position: None,
                field: None,
                message: format!("sweep parameter `{path}`: {message}"),
            })?;
        }
        let edited = toml::to_string(&doc).map_err(|e| ScenarioError {
            file: file.to_string(),
            position: None,
            field: None,
            message: format!("cannot write the swept scenario back as TOML: {e}"),
        })?;
        parse(&edited, file).map_err(|e| {
            let point: Vec<String> = overrides
                .iter()
                .map(|(p, v)| format!("{p} = {v}"))
                .collect();
            ScenarioError {
                // A position in the edited document would point at the wrong line of the file.
                position: None,
                message: format!("{} (with sweep parameters {})", e.message, point.join(", ")),
                ..e
            }
        })
    }
}

/// The scenario document `text` with its `[sweep]` table replaced by `spec`: the file that
/// describes a whole sweep, including axes given on the command line. Every axis must resolve
/// in the document; an error names the one that does not. The provider preset is written out
/// (so that a finished sweep does not change with the preset data), unless the preset is swept.
pub fn sweep_document(text: &str, file: &str, spec: &SweepSpec) -> Result<String, ScenarioError> {
    let error = |message| ScenarioError {
        file: file.to_string(),
        position: None,
        field: None,
        message,
    };
    let raw = overrides::raw_document(text).map_err(error)?;
    let preset_axis = spec.axes.iter().find(|a| a.path == overrides::PRESET_PATH);
    // The other axes are checked on the first point's preset.
    let mut doc = raw.clone();
    if let Some(first) = preset_axis.and_then(|a| a.values.first()) {
        overrides::set_preset(&mut doc, first.clone()).map_err(error)?;
    }
    overrides::expand(&mut doc).map_err(error)?;
    let doc_written = if preset_axis.is_some() { &raw } else { &doc };
    for axis in &spec.axes {
        overrides::check_axis(&doc, axis).map_err(|message| ScenarioError {
            file: file.to_string(),
            position: None,
            field: None,
            message: format!("sweep parameter `{}`: {message}", axis.path),
        })?;
    }
    overrides::with_sweep(doc_written, spec).map_err(|message| ScenarioError {
        file: file.to_string(),
        position: None,
        field: None,
        message,
    })
}

/// A swept value as a CSV cell: numbers as Rust writes them (shortest round trip), strings
/// unquoted, anything else as inline TOML.
pub fn value_cell(value: &toml::Value) -> String {
    overrides::cell(value)
}

fn toml_error(text: &str, file: &str, field: Option<String>, e: &toml::de::Error) -> ScenarioError {
    let message = e.message().trim();
    // The parser refuses a key of 80 or more dotted parts without saying where.
    if e.span().is_none()
        && message == "recursion limit"
        && let Some(offset) = long_dotted_key(text, TOML_MAX_KEY_PARTS)
    {
        return ScenarioError {
            file: file.to_string(),
            position: Some(line_col(text, offset)),
            field,
            message: format!(
                "expected a key of fewer than {TOML_MAX_KEY_PARTS} dotted parts, found one of {TOML_MAX_KEY_PARTS} or more"
            ),
        };
    }
    ScenarioError {
        file: file.to_string(),
        position: e.span().map(|s| line_col(text, s.start)),
        field,
        message: message.to_string(),
    }
}

/// The most dotted parts the `toml` parser takes in one key (its recursion limit).
const TOML_MAX_KEY_PARTS: usize = 80;

/// Byte offset of the first key in `text` with at least `parts` dotted parts (`a.b."c".d`), in a
/// table header, before `=`, or inside an inline table. Quoted parts count as one; comments and
/// the contents of strings elsewhere are skipped, roughly as the parser reads them.
fn long_dotted_key(text: &str, parts: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let bare = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let (mut i, mut start, mut count, mut after_dot) = (0, 0, 0, true);
    while i < bytes.len() {
        let b = bytes[i];
        let part_end = if bare(b) {
            let mut j = i;
            while j < bytes.len() && bare(bytes[j]) {
                j += 1;
            }
            Some(j)
        } else if b == b'"' || b == b'\'' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b && bytes[j] != b'\n' {
                j += if b == b'"' && bytes[j] == b'\\' { 2 } else { 1 };
            }
            Some((j + 1).min(bytes.len()))
        } else {
            None
        };
        match (part_end, b) {
            (Some(end), _) => {
                if after_dot && count > 0 {
                    count += 1;
                } else {
                    (start, count) = (i, 1);
                }
                if count >= parts {
                    return Some(start);
                }
                after_dot = false;
                i = end;
                continue;
            }
            (None, b'.') => after_dot = !after_dot && count > 0,
            (None, b' ' | b'\t') => {}
            (None, b'#') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                count = 0;
            }
            _ => count = 0,
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse;

    const BASE: &str = r#"
[scenario]
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
name = "p"
"#;

    fn error(extra: &str) -> String {
        parse(&format!("{BASE}{extra}"), "t.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_key_of_too_many_dotted_parts_is_refused_at_its_position() {
        let key = vec!["a"; 100].join(".");
        // The extra text starts on line 15.
        for (extra, col) in [
            (format!("[{key}]\nx = 1"), 2),
            (format!("{key} = 1"), 1),
            (format!("x = {{ {key} = 1 }}"), 7),
            (format!("# {key}\n[\"q\".{key}]"), 2),
        ] {
            let e = error(&extra);
            let line = 15 + extra.lines().position(|l| l.contains("a.a")).unwrap();
            let line = if extra.starts_with('#') {
                line + 1
            } else {
                line
            };
            assert!(
                e.starts_with(&format!(
                    "t.toml:{line}:{col}: expected a key of fewer than 80"
                )),
                "{extra}: {e}"
            );
        }
        assert_eq!(
            super::long_dotted_key("a.b.c = 1.5\n'x'.\"y\" = 2", 3),
            Some(0)
        );
        assert_eq!(
            super::long_dotted_key("a.b = 1.5\n'x'.\"y\".z = 2", 3),
            Some(10)
        );
        assert_eq!(super::long_dotted_key("a.b = 1.5 # c.d.e.f", 3), None);
    }

    #[test]
    fn a_field_of_another_wait_kind_is_refused_at_that_field() {
        let e = error(
            "retry = { max_attempts = 2, wait = { kind = \"fixed\", wait = \"1s\", multiplier = \"2s\" } }",
        );
        assert!(e.starts_with("t.toml:15:80:"), "{e}");
        assert!(
            e.contains("`multiplier` does not apply to \"fixed\" (it takes wait)"),
            "{e}"
        );
    }

    #[test]
    fn tenacity_wait_exponential_jitter_reads_with_its_defaults_and_overrides() {
        use crate::model::retry::{Backoff, Jitter};
        let layer = |extra: &str| {
            let s = parse(
                &format!("{BASE}retry = {{ max_attempts = 3, wait = {extra} }}\n"),
                "t.toml",
            )
            .unwrap();
            s.policies[0]
                .layers
                .last()
                .cloned()
                .expect("an application layer")
        };
        let d = layer("{ kind = \"exponential_jitter\" }");
        assert_eq!(
            d.backoff,
            Backoff::Exponential {
                multiplier_s: 1.0,
                max_s: f64::INFINITY,
                min_s: 0.0,
                exp_base: 2.0
            }
        );
        assert_eq!(
            d.jitter,
            Jitter::Additive {
                jitter_s: 1.0,
                max_s: f64::INFINITY
            }
        );
        let o = layer(
            "{ kind = \"exponential_jitter\", initial = \"0.5s\", max = \"30s\", jitter = \"2s\", exp_base = 3 }",
        );
        assert_eq!(o.wait_secs(2, None, None, 0.5), 0.5 * 3.0 + 1.0);
        assert_eq!(o.wait_secs(9, None, None, 0.5), 30.0);
        let e = error(
            "retry = { max_attempts = 2, jitter = \"full\", wait = { kind = \"exponential_jitter\" } }",
        );
        assert!(e.contains("exponential_jitter adds its own jitter"), "{e}");
    }

    #[test]
    fn a_wait_kind_missing_its_parameter_is_refused() {
        let e = error("retry = { max_attempts = 2, wait = { kind = \"exponential\" } }");
        assert!(
            e.contains("field `policy[0].retry.wait`: \"exponential\" needs `multiplier`"),
            "{e}"
        );
    }

    #[test]
    fn a_distribution_missing_a_parameter_names_it() {
        let text = BASE.replace(
            "output_tokens = 5",
            "output_tokens = { dist = \"normal\", mean = 5 }",
        );
        let e = parse(&text, "t.toml").unwrap_err().to_string();
        assert!(e.contains("dist = \"normal\" needs `sd`"), "{e}");
        assert!(e.contains("field `source[0].job.output_tokens`"), "{e}");
    }

    #[test]
    fn the_base_scenario_of_these_tests_is_valid() {
        let s = parse(BASE, "t.toml").unwrap();
        assert_eq!(s.policies.len(), 1);
        assert_eq!(s.replications, 1);
    }
}
