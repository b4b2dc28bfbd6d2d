//! Scenario files: TOML in, a validated [`Scenario`] out, or an error at a line and column.
//!
//! Task: read what a user wrote without ever guessing. Unknown fields are errors (a typo must not
//! fall back to a default), every value is checked where it is read, and every error names the
//! file, the line and column, the field, and what was expected against what was found.
//! The format is documented in `docs/scenario-format.md`.

mod error;
mod raw;
mod values;

pub use crate::model::Scenario;
pub use error::{ScenarioError, line_col};

use std::path::Path;

/// Reads and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        position: None,
        field: None,
        message: format!("cannot read the file: {e}"),
    })?;
    parse(&text, &file)
}

/// Parses and validates scenario `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let deserializer =
        toml::de::Deserializer::parse(text).map_err(|e| toml_error(text, file, None, &e))?;
    let raw: raw::RawScenario = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != "." && !path.is_empty()).then_some(path);
        toml_error(text, file, field, e.inner())
    })?;
    raw.validate().map_err(|inv| ScenarioError {
        file: file.to_string(),
        position: inv
            .span
            .filter(|s| s.end > 0)
            .map(|s| line_col(text, s.start)),
        field: Some(inv.field),
        message: inv.message,
    })
}

fn toml_error(text: &str, file: &str, field: Option<String>, e: &toml::de::Error) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        position: e.span().map(|s| line_col(text, s.start)),
        field,
        message: e.message().trim().to_string(),
    }
}
