//! Trace arrivals: replaying a CSV of recorded jobs.
//!
//! Task: let users feed their own traffic. Each row is one job: `time_s` (seconds from the start),
//! and optionally `tenant`, `template` (a `[templates.NAME]`; default: the source's) and
//! `prompt_tokens` / `output_tokens` (every call of the job uses them instead of the template's
//! draws). Rows must be in time order.

use super::raw::{Invalid, Tenants, invalid};
use crate::engine::time::secs_to_nanos;
use crate::model::config::TraceRow;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    time_s: f64,
    tenant: Option<String>,
    template: Option<String>,
    prompt_tokens: Option<u32>,
    output_tokens: Option<u32>,
}

/// Reads the trace `file` (relative to `base_dir`), registering tenants it names.
pub(super) fn read(
    file: &Spanned<String>,
    path: &str,
    base_dir: Option<&Path>,
    default_tenant: u32,
    default_root: usize,
    templates: &BTreeMap<String, usize>,
    tenants: &mut Tenants,
) -> Result<Vec<TraceRow>, Invalid> {
    let full = base_dir.map_or_else(
        || Path::new(file.get_ref()).to_path_buf(),
        |d| d.join(file.get_ref()),
    );
    let fail =
        |message: String| invalid::<Vec<TraceRow>>(Some(file.span()), path.to_string(), message);
    let mut reader = match csv::Reader::from_path(&full) {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot read trace {}: {e}", full.display())),
    };
    let mut rows = Vec::new();
    let mut last = 0.0f64;
    for (i, record) in reader.deserialize::<Row>().enumerate() {
        let line = i + 2; // 1-based, after the header
        let row = match record {
            Ok(r) => r,
            Err(e) => return fail(format!("{}:{line}: {e}", full.display())),
        };
        if !(row.time_s.is_finite() && row.time_s >= last) {
            return fail(format!(
                "{}:{line}: expected a time_s >= {last} (rows in time order), found {}",
                full.display(),
                row.time_s
            ));
        }
        last = row.time_s;
        let tenant = match row.tenant {
            None => default_tenant,
            Some(name) => tenants.intern(name),
        };
        let root = match row.template {
            None => default_root,
            Some(name) => match templates.get(&name) {
                Some(&r) => r,
                None => {
                    return fail(format!(
                        "{}:{line}: no template named \"{name}\"",
                        full.display()
                    ));
                }
            },
        };
        rows.push(TraceRow {
            at_ns: secs_to_nanos(row.time_s),
            tenant,
            root,
            prompt_tokens: row.prompt_tokens,
            output_tokens: row.output_tokens,
        });
    }
    if rows.is_empty() {
        return fail(format!("trace {} has no rows", full.display()));
    }
    Ok(rows)
}
