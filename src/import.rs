//! `stampede import`: a recorded trace as a workload a person can read and edit.
//!
//! An `otel` source replays a trace as it is; some users want to change it first (double every
//! prompt, drop a tool's time, move the jobs). Import writes the same jobs as `[templates]` and a
//! trace CSV (one row per job: its arrival, tenant and template) that replay to the same bytes as
//! the `otel` source would: the trees are the ones [`build_jobs`] builds, written out node by node
//! (identical calls, waits and steps shared as one template), the times to the nanosecond.
//!
//! Two inputs: a trace, which becomes a new scenario with providers calibrated from it (as
//! `stampede calibrate` prints them) and one policy; or a scenario, whose `otel` sources are
//! rewritten in place, everything else (comments included) kept as written.

use crate::calibrate::{calibrate, from_spans, to_provider_toml};
use crate::model::dist::Dist;
use crate::model::workload::Node;
use crate::scenario::MAX_FILE_BYTES;
use crate::scenario::otel::{JobBy, MAX_OTEL_NODES, ReadOptions, build_jobs, read_spans};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to read a trace as (the `otel` source's `tenant_attribute` and `job_by`).
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub tenant_attribute: Option<String>,
    pub job_by: JobBy,
}

/// An import's files, written together by [`write`].
#[derive(Clone, Debug)]
pub struct Imported {
    /// The scenario's text.
    pub scenario: String,
    /// Each trace CSV: its file name (beside the scenario) and its text.
    pub traces: Vec<(String, String)>,
    /// What the trace reader left out, as `validate` reports it.
    pub warnings: Vec<String>,
    /// Jobs written, over all traces.
    pub jobs: usize,
    /// Templates written, over all traces.
    pub templates: usize,
}

/// One trace's jobs as templates and rows.
struct Workload {
    /// `name = { ... }` inline tables, each job's root before its parts.
    templates: Vec<(String, String)>,
    /// `time_s,tenant,template` rows, in order of arrival.
    csv: String,
    /// The first job's template: the source's default.
    first: String,
    jobs: usize,
    warnings: Vec<String>,
}

/// A node's identity for sharing: identical sub-trees become one template.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Shape {
    Call {
        prompt: u64,
        max_tokens: u32,
        output: u64,
        cached: Option<u64>,
    },
    Wait(u64),
    Seq(Vec<u32>),
    Parallel(Vec<u32>),
}

/// Names templates and writes each once, bounded by the scenario file's size limit.
struct Namer<'a> {
    prefix: &'a str,
    taken: &'a BTreeSet<String>,
    by_shape: HashMap<Shape, u32>,
    names: Vec<String>,
    counters: [u32; 5],
    bytes: usize,
}

impl Namer<'_> {
    /// The template of `shape`, written into `out` if new; `job` names a job's root.
    fn name(
        &mut self,
        shape: Shape,
        table: impl FnOnce(&[String]) -> String,
        (job, rank): (bool, u32),
        out: &mut Vec<(u32, String, String)>,
    ) -> Result<u32, String> {
        if let Some(&id) = self.by_shape.get(&shape) {
            return Ok(id);
        }
        let (slot, stem) = match (&shape, job) {
            (_, true) => (4, "job"),
            (Shape::Call { .. }, _) => (0, "call"),
            (Shape::Wait(_), _) => (1, "wait"),
            (Shape::Seq(_), _) => (2, "seq"),
            (Shape::Parallel(_), _) => (3, "par"),
        };
        let name = loop {
            self.counters[slot] += 1;
            let name = format!("{}{stem}{}", self.prefix, self.counters[slot]);
            if !self.taken.contains(&name) {
                break name;
            }
        };
        let text = table(&self.names);
        self.bytes += name.len() + text.len() + 4;
        if self.bytes as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "the trace's templates take more than the {} MiB a scenario file may hold; replay it with `process = \"otel\"` instead, or import a shorter trace",
                MAX_FILE_BYTES >> 20
            ));
        }
        let id = self.names.len() as u32;
        self.names.push(name.clone());
        self.by_shape.insert(shape, id);
        out.push((rank, name, text));
        Ok(id)
    }
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_string()
}

/// A constant size or time, as the replay built it.
fn constant(d: &Dist, what: &str) -> Result<f64, String> {
    match d {
        Dist::Constant(v) => Ok(*v),
        _ => Err(format!("a replayed {what} is always a constant")),
    }
}

/// Seconds to the nanosecond, as a duration string the scenario reads back to the same nanosecond.
fn duration(secs: f64) -> String {
    let ns = crate::engine::time::secs_to_nanos(secs);
    let (s, frac) = (ns / 1_000_000_000, ns % 1_000_000_000);
    if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{frac:09}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    }
}

/// Seconds from the first job, to the nanosecond.
fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// Reads `trace` and writes its jobs as templates named with `prefix` (avoiding `taken`).
fn workload(
    trace: &Path,
    options: &ImportOptions,
    prefix: &str,
    taken: &BTreeSet<String>,
) -> Result<Workload, String> {
    let read = ReadOptions {
        tenant_attribute: options.tenant_attribute.clone(),
    };
    let spans = read_spans(trace, &read).map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    let shown = trace.display().to_string();
    let built = build_jobs(&spans, &shown, options.job_by, &mut nodes, MAX_OTEL_NODES)
        .map_err(|e| e.to_string())?;
    drop(spans);
    let Some(first_start) = built.jobs.first().map(|j| j.start_ns) else {
        return Err(format!("trace {} has no spans", trace.display()));
    };
    let mut namer = Namer {
        prefix,
        taken,
        by_shape: HashMap::new(),
        names: Vec::new(),
        counters: [0; 5],
        bytes: 0,
    };
    let mut templates = Vec::new();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| format!("cannot write the trace CSV: {e}");
    csv.write_record(["time_s", "tenant", "template"])
        .map_err(csv_error)?;
    // Each node's template, once its children have theirs: a walk with an explicit stack, since
    // a recorded tree is as deep as the agents nested.
    let mut template_of: Vec<Option<u32>> = vec![None; nodes.len()];
    // Where each node comes in a reading from the root down: the order its template is written.
    let mut rank: Vec<u32> = vec![0; nodes.len()];
    let mut first = None;
    for job in &built.jobs {
        let mut new = Vec::new();
        let mut seen = 0u32;
        let mut stack = vec![(job.root, false)];
        while let Some((n, expanded)) = stack.pop() {
            if template_of[n].is_some() {
                continue;
            }
            if !expanded {
                rank[n] = seen;
                seen += 1;
            }
            let children: &[usize] = match &nodes[n] {
                Node::Seq { steps } => steps,
                Node::Parallel { branches } => branches,
                _ => &[],
            };
            if !expanded && !children.is_empty() {
                stack.push((n, true));
                stack.extend(children.iter().rev().map(|&c| (c, false)));
                continue;
            }
            let ids: Vec<u32> = children
                .iter()
                .map(|&c| template_of[c].expect("children are named before their parent"))
                .collect();
            let list = |names: &[String]| {
                ids.iter()
                    .map(|&i| quoted(&names[i as usize]))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let at = (n == job.root, rank[n]);
            let id = match &nodes[n] {
                Node::Call(c) => {
                    let prompt = constant(&c.prompt_tokens, "prompt size")? as u64;
                    let output = constant(&c.output_tokens, "output size")? as u64;
                    let cached = match &c.cache {
                        Some(cache) => Some(constant(&cache.tokens, "cached prefix")? as u64),
                        None => None,
                    };
                    let max_tokens = c.max_tokens;
                    let shape = Shape::Call {
                        prompt,
                        max_tokens,
                        output,
                        cached,
                    };
                    let table = move |_: &[String]| {
                        let cache = cached.map_or(String::new(), |c| {
                            format!(", cached_prompt_tokens = {c}, cache_hit_rate = 1.0")
                        });
                        format!(
                            "{{ kind = \"call\", prompt_tokens = {prompt}, max_tokens = {max_tokens}, output_tokens = {output}{cache} }}"
                        )
                    };
                    namer.name(shape, table, at, &mut new)?
                }
                Node::Wait { secs } => {
                    let secs = constant(secs, "wait")?;
                    let ns = crate::engine::time::secs_to_nanos(secs);
                    let table = move |_: &[String]| {
                        format!(
                            "{{ kind = \"wait\", duration = {} }}",
                            quoted(&duration(secs))
                        )
                    };
                    namer.name(Shape::Wait(ns), table, at, &mut new)?
                }
                Node::Seq { .. } => {
                    let table = |names: &[String]| {
                        format!("{{ kind = \"seq\", steps = [{}] }}", list(names))
                    };
                    namer.name(Shape::Seq(ids.clone()), table, at, &mut new)?
                }
                Node::Parallel { .. } => {
                    let table = |names: &[String]| {
                        format!("{{ kind = \"parallel\", branches = [{}] }}", list(names))
                    };
                    namer.name(Shape::Parallel(ids.clone()), table, at, &mut new)?
                }
                _ => {
                    return Err(
                        "a replayed job holds calls, waits, sequences and parallel steps only"
                            .into(),
                    );
                }
            };
            template_of[n] = Some(id);
        }
        let root = &namer.names[template_of[job.root].expect("named above") as usize];
        first.get_or_insert_with(|| root.clone());
        csv.write_record([
            seconds(job.start_ns - first_start).as_str(),
            job.tenant.as_deref().unwrap_or(""),
            root.as_str(),
        ])
        .map_err(csv_error)?;
        // The job's root first, then its parts in the order they run.
        new.sort_unstable_by_key(|t| t.0);
        templates.extend(new.into_iter().map(|(_, name, text)| (name, text)));
    }
    let csv = csv
        .into_inner()
        .map_err(|e| format!("cannot write the trace CSV: {e}"))?;
    Ok(Workload {
        templates,
        csv: String::from_utf8(csv).expect("the CSV holds the trace's UTF-8 strings"),
        first: first.expect("a trace with jobs"),
        jobs: built.jobs.len(),
        warnings: built.warnings,
    })
}

/// The trace CSV's file name beside `out`, for the `k`-th of `n` traces.
fn csv_name(out: &Path, k: usize, n: usize) -> String {
    let stem = out
        .file_stem()
        .map_or_else(|| "workload".into(), |s| s.to_string_lossy().into_owned());
    if n == 1 {
        format!("{stem}.csv")
    } else {
        format!("{stem}.{}.csv", k + 1)
    }
}

/// A new scenario from `trace`, to be written at `out`: its jobs as one trace source, a provider
/// per model calibrated from the same trace, and one policy routing to them in the recorded mix.
pub fn import_trace(trace: &Path, out: &Path, options: &ImportOptions) -> Result<Imported, String> {
    let work = workload(trace, options, "", &BTreeSet::new())?;
    let spans = read_spans(trace, &ReadOptions::default()).map_err(|e| e.to_string())?;
    let calibrations = calibrate(&from_spans(&spans));
    drop(spans);
    if calibrations.is_empty() {
        return Err(format!(
            "{}: no inference span names its model (gen_ai.request.model), so there is no provider to calibrate; write a scenario with a provider and an `otel` source, and import that instead",
            trace.display()
        ));
    }
    let name = out
        .file_stem()
        .map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned());
    let csv = csv_name(out, 0, 1);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Imported by `stampede import` from {}: {} jobs as {} templates below and the trace {csv}",
        trace.display(),
        work.jobs,
        work.templates.len()
    );
    let _ = writeln!(
        s,
        "# (one row per job: its arrival in seconds, tenant and template). Identical calls, waits and"
    );
    let _ = writeln!(
        s,
        "# steps share a template. The providers are calibrated from the same trace and have no rate"
    );
    let _ = writeln!(
        s,
        "# limits until you add [[provider.limit]]; the policy sends each call to a model in the mix"
    );
    let _ = writeln!(s, "# the trace recorded.");
    for w in &work.warnings {
        let _ = writeln!(s, "# warning: {w}");
    }
    let _ = writeln!(s, "\n[scenario]\nname = {}\nseed = 1", quoted(&name));
    for c in &calibrations {
        let _ = writeln!(s, "\n{}", to_provider_toml(c).trim_end());
    }
    let _ = writeln!(
        s,
        "\n[[source]]\nname = {}\narrival = {{ process = \"trace\", file = {} }}\ntemplate = {}",
        quoted(&name),
        quoted(&csv),
        quoted(&work.first)
    );
    let _ = writeln!(s, "\n[[policy]]\nname = \"recorded-mix\"");
    if calibrations.len() > 1 {
        let targets: Vec<String> = calibrations
            .iter()
            .map(|c| quoted(&crate::calibrate::provider_name(&c.model)))
            .collect();
        let weights: Vec<String> = calibrations.iter().map(|c| c.calls.to_string()).collect();
        let _ = writeln!(
            s,
            "# Each call to a model at random, weighted by the calls each model answered in the trace.\nroute = {{ targets = [{}], strategy = \"simple-shuffle\", weights = [{}] }}",
            targets.join(", "),
            weights.join(", ")
        );
    }
    let _ = writeln!(s, "\n[templates]");
    for (n, t) in &work.templates {
        let _ = writeln!(
            s,
            "{} = {t}",
            toml_edit::Key::new(n.as_str()).display_repr()
        );
    }
    Ok(Imported {
        scenario: s,
        traces: vec![(csv, work.csv)],
        warnings: work.warnings,
        jobs: work.jobs,
        templates: work.templates.len(),
    })
}

/// `scenario` (at `path`) with each `otel` source replaced by a trace source and templates, to be
/// written at `out`; everything else kept as written. Other relative file paths are rewritten to
/// stay valid from `out`'s directory.
pub fn import_scenario(path: &Path, text: &str, out: &Path) -> Result<Imported, String> {
    use toml_edit::{DocumentMut, Item, Value};
    let here = path.parent().unwrap_or(Path::new(""));
    let there = out.parent().unwrap_or(Path::new(""));
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut taken: BTreeSet<String> = doc
        .get("templates")
        .and_then(Item::as_table_like)
        .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    let field = |t: &dyn toml_edit::TableLike, k: &str| -> Option<String> {
        t.get(k).and_then(Item::as_str).map(str::to_string)
    };
    // Which sources replay a trace, with what: read before any change.
    let mut otel = Vec::new();
    if let Some(sources) = doc.get("source").and_then(Item::as_array_of_tables) {
        for (i, src) in sources.iter().enumerate() {
            let Some(arrival) = src.get("arrival").and_then(Item::as_table_like) else {
                continue;
            };
            if field(arrival, "process").as_deref() != Some("otel") {
                continue;
            }
            let file = field(arrival, "file")
                .ok_or_else(|| format!("{}: source[{i}].arrival has no `file`", path.display()))?;
            let job_by = match field(arrival, "job_by").as_deref() {
                Some("conversation") => JobBy::Conversation,
                _ => JobBy::Root,
            };
            otel.push((
                i,
                file,
                ImportOptions {
                    tenant_attribute: field(arrival, "tenant_attribute"),
                    job_by,
                },
            ));
        }
    }
    if otel.is_empty() {
        return Err(format!(
            "{}: no source replays a trace (`arrival = {{ process = \"otel\", ... }}`); to import a trace, give its file",
            path.display()
        ));
    }
    let mut imported = Imported {
        scenario: String::new(),
        traces: Vec::new(),
        warnings: Vec::new(),
        jobs: 0,
        templates: 0,
    };
    let n = otel.len();
    let sources = doc
        .get_mut("source")
        .and_then(Item::as_array_of_tables_mut)
        .expect("read above");
    let mut all_templates = Vec::new();
    for (k, (i, file, options)) in otel.into_iter().enumerate() {
        let prefix = if n == 1 {
            String::new()
        } else {
            format!("s{}_", k + 1)
        };
        let work = workload(&here.join(&file), &options, &prefix, &taken)?;
        let csv = csv_name(out, k, n);
        let src = sources.get_mut(i).expect("read above");
        let mut arrival = toml_edit::InlineTable::new();
        arrival.insert("process", Value::from("trace"));
        arrival.insert("file", Value::from(csv.as_str()));
        src.insert("arrival", Item::Value(Value::InlineTable(arrival)));
        src.insert("template", toml_edit::value(work.first.as_str()));
        taken.extend(work.templates.iter().map(|(n, _)| n.clone()));
        imported.jobs += work.jobs;
        imported.templates += work.templates.len();
        imported.warnings.extend(work.warnings);
        imported.traces.push((csv, work.csv));
        all_templates.extend(work.templates);
    }
    // Other sources' trace files, relative to the scenario, must still be found from `out`.
    if here != there {
        for src in sources.iter_mut() {
            let Some(arrival) = src.get_mut("arrival").and_then(Item::as_table_like_mut) else {
                continue;
            };
            let Some(file) = arrival.get("file").and_then(Item::as_str) else {
                continue;
            };
            if imported.traces.iter().any(|(c, _)| c == file) || Path::new(file).is_absolute() {
                continue;
            }
            let moved: PathBuf = std::path::absolute(here.join(file))
                .map_err(|e| format!("cannot resolve {file}: {e}"))?;
            arrival.insert("file", toml_edit::value(moved.to_string_lossy().as_ref()));
        }
    }
    let templates = doc
        .entry("templates")
        .or_insert_with(toml_edit::table)
        .as_table_mut()
        .ok_or_else(|| format!("{}: `templates` is not a table", path.display()))?;
    templates.set_implicit(false);
    for (name, table) in all_templates {
        let value: Value = table
            .parse()
            .map_err(|e| format!("internal: template {name} does not parse: {e}"))?;
        templates.insert(&name, Item::Value(value));
    }
    imported.scenario = doc.to_string();
    if imported.scenario.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "the imported scenario would take more than the {} MiB a scenario file may hold; keep the `otel` source, or import a shorter trace",
            MAX_FILE_BYTES >> 20
        ));
    }
    Ok(imported)
}

/// Imports `input` to be written at `out`: a scenario (a `.toml` file, checked whole first so its
/// errors keep their positions) through [`import_scenario`], a trace through [`import_trace`].
pub fn import_path(input: &Path, out: &Path, options: &ImportOptions) -> Result<Imported, String> {
    if input.extension().is_some_and(|e| e == "toml") {
        crate::scenario::load(input).map_err(|e| e.to_string())?;
        let text = crate::scenario::read_file(input).map_err(|e| e.to_string())?;
        import_scenario(input, &text, out)
    } else {
        import_trace(input, out, options)
    }
}

/// Writes the trace CSVs, then the scenario, each whole or not at all (the scenario last: it is
/// what names the others). Refuses to replace an existing scenario unless `force`.
pub fn write(imported: &Imported, out: &Path, force: bool) -> Result<(), String> {
    if out.exists() && !force {
        return Err(format!(
            "{} exists; pass --force to replace it",
            out.display()
        ));
    }
    let dir = out.parent().unwrap_or(Path::new(""));
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    for (name, text) in &imported.traces {
        let p = dir.join(name);
        crate::io::write_atomic(&p, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    crate::io::write_atomic(out, imported.scenario.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_the_nanosecond() {
        assert_eq!(duration(0.25), "0.25s");
        assert_eq!(duration(3.0), "3s");
        assert_eq!(duration(1.000000001), "1.000000001s");
        let back = humantime::parse_duration("12.345678901s").unwrap();
        assert_eq!(back.as_nanos(), 12_345_678_901);
        assert_eq!(seconds(1_500_000_000), "1.500000000");
    }

    #[test]
    fn csv_names_follow_the_scenario() {
        assert_eq!(csv_name(Path::new("a/tuesday.toml"), 0, 1), "tuesday.csv");
        assert_eq!(csv_name(Path::new("tuesday.toml"), 1, 2), "tuesday.2.csv");
    }
}
