//! Trace arrivals: replaying a CSV of recorded jobs.
//!
//! Task: let users feed their own traffic. Each row is one job: `time_s` (seconds from the start),
//! and optionally `tenant`, `template` (a `[templates.NAME]`; default: the source's) and
//! `prompt_tokens` / `output_tokens` (every call of the job uses them instead of the template's
//! draws). Rows must be in time order.

use super::raw::{Invalid, MAX_NAME_BYTES, Tenants, invalid};
use crate::engine::time::secs_to_nanos;
use crate::model::config::{MAX_TRACE_TENANTS, TraceRow};
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

/// The most rows a trace may hold: each costs ~40 bytes in memory for the whole run, so 10 million
/// rows (a day at over 100 jobs a second) hold ~400 MB.
pub const MAX_TRACE_ROWS: usize = 10_000_000;

/// The most bytes one record (a row, quoted line breaks included) may span: rows are a few dozen
/// bytes, and a file without line breaks (a binary file, `/dev/zero`) must fail at once rather
/// than be read into memory as one record.
pub const MAX_TRACE_RECORD_BYTES: usize = 64 * 1024;

/// Passes bytes through, failing once a record has grown past [`MAX_TRACE_RECORD_BYTES`]: the
/// CSV reader would otherwise buffer a record of any length.
struct RecordLimit<R> {
    inner: R,
    in_record: usize,
    quoted: bool,
}

impl<R: std::io::Read> std::io::Read for RecordLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            match b {
                b'"' => self.quoted = !self.quoted,
                b'\n' if !self.quoted => self.in_record = 0,
                _ => {}
            }
            self.in_record += 1;
            if self.in_record > MAX_TRACE_RECORD_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "a row longer than {} KiB (is it a CSV file?)",
                        MAX_TRACE_RECORD_BYTES >> 10
                    ),
                ));
            }
        }
        Ok(n)
    }
}

/// Reads the trace `file` (relative to `base_dir`), registering tenants it names. At most
/// [`MAX_TRACE_ROWS`] rows of at most [`MAX_TRACE_RECORD_BYTES`] each, tenant names of at most
/// [`MAX_NAME_BYTES`]: memory stays bounded whatever the file holds.
pub(super) fn read(
    file: &Spanned<String>,
    path: &str,
    base_dir: Option<&Path>,
    default_tenant: u32,
    default_root: usize,
    templates: &BTreeMap<String, usize>,
    tenants: &mut Tenants,
) -> Result<Vec<TraceRow>, Invalid> {
    read_at_most(
        file,
        path,
        base_dir,
        (default_tenant, default_root),
        templates,
        tenants,
        MAX_TRACE_ROWS,
    )
}

/// [`read`] with a row limit of `max_rows`.
fn read_at_most(
    file: &Spanned<String>,
    path: &str,
    base_dir: Option<&Path>,
    (default_tenant, default_root): (u32, usize),
    templates: &BTreeMap<String, usize>,
    tenants: &mut Tenants,
    max_rows: usize,
) -> Result<Vec<TraceRow>, Invalid> {
    let full = base_dir.map_or_else(
        || Path::new(file.get_ref()).to_path_buf(),
        |d| d.join(file.get_ref()),
    );
    let fail =
        |message: String| invalid::<Vec<TraceRow>>(Some(file.span()), path.to_string(), message);
    let file = match std::fs::File::open(&full) {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot read trace {}: {e}", full.display())),
    };
    let mut reader = csv::Reader::from_reader(RecordLimit {
        inner: std::io::BufReader::new(file),
        in_record: 0,
        quoted: false,
    });
    if let Err(e) = reader.headers() {
        return fail(format!("{}:1: {e}", full.display()));
    }
    let mut rows = Vec::new();
    let mut last = 0.0f64;
    for (i, record) in reader.deserialize::<Row>().enumerate() {
        let line = i + 2; // 1-based, after the header
        if i == max_rows {
            return fail(format!(
                "{}:{line}: expected at most {max_rows} rows, found more",
                full.display()
            ));
        }
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
            Some(name) if name.len() > MAX_NAME_BYTES => {
                return fail(format!(
                    "{}:{line}: expected a tenant name of at most {MAX_NAME_BYTES} bytes, found {} bytes",
                    full.display(),
                    name.len()
                ));
            }
            Some(name) => {
                if tenants.get(&name).is_none() && tenants.names.len() >= MAX_TRACE_TENANTS {
                    return fail(format!(
                        "{}:{line}: expected at most {MAX_TRACE_TENANTS} tenants in all, found more",
                        full.display()
                    ));
                }
                tenants.intern(name)
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(csv: &[u8], max_rows: usize) -> Result<Vec<TraceRow>, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.csv"), csv).unwrap();
        let file = Spanned::new(0..1, "t.csv".to_string());
        let mut tenants = Tenants::default();
        tenants.push("s".into(), 1);
        read_at_most(
            &file,
            "source[0].arrival.file",
            Some(dir.path()),
            (0, 0),
            &BTreeMap::new(),
            &mut tenants,
            max_rows,
        )
        .map_err(|e| e.message)
    }

    #[test]
    fn rows_past_the_limit_are_refused_at_the_first_one_too_many() {
        let csv = b"time_s,tenant\n0,a\n1,b\n2,c\n3,d\n";
        assert_eq!(read_text(csv, 4).unwrap().len(), 4);
        let e = read_text(csv, 3).unwrap_err();
        assert!(
            e.ends_with("t.csv:5: expected at most 3 rows, found more"),
            "{e}"
        );
    }

    #[test]
    fn a_file_without_line_breaks_fails_within_one_record_limit() {
        let mut csv = b"time_s\n".to_vec();
        csv.extend(vec![b'0'; MAX_TRACE_RECORD_BYTES + 10]);
        let e = read_text(&csv, 10).unwrap_err();
        assert!(e.contains("a row longer than 64 KiB"), "{e}");
        // A quoted line break does not end a record.
        let mut csv = b"time_s,tenant\n0,\"".to_vec();
        csv.extend(b"x\n".repeat(MAX_TRACE_RECORD_BYTES));
        let e = read_text(&csv, 10).unwrap_err();
        assert!(e.contains("a row longer than 64 KiB"), "{e}");
    }

    #[test]
    fn a_long_tenant_name_is_refused_with_its_length() {
        let csv = format!("time_s,tenant\n0,{}\n", "n".repeat(MAX_NAME_BYTES + 1));
        let e = read_text(csv.as_bytes(), 10).unwrap_err();
        assert!(
            e.ends_with("t.csv:2: expected a tenant name of at most 256 bytes, found 257 bytes"),
            "{e}"
        );
    }
}
