//! Reading back what a run (or a sweep) wrote, for charts and the design-review report.
//!
//! Task: turn the CSV and JSON files of an output directory into plain tables, keyed by the
//! column names of the header (never by position, so that a column added later breaks nothing),
//! and report a malformed file as `file:line: what is wrong`. Every reader returns `Ok(None)` when
//! its file is absent: which charts are drawn depends on which files exist.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A file that exists but cannot be read as expected.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct DataError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, when the problem is on one.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl DataError {
    fn new(file: &Path, line: Option<u64>, message: impl Into<String>) -> DataError {
        DataError {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// A CSV file read whole: its header and its rows, with the line each row starts on.
struct Csv {
    file: PathBuf,
    header: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

impl Csv {
    /// Reads `path`; `None` when it does not exist.
    fn read(path: &Path) -> Result<Option<Csv>, DataError> {
        let bytes = match crate::io::read_at_most(path, crate::io::MAX_RESULT_FILE_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DataError::new(path, None, format!("cannot read: {e}"))),
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(bytes.as_slice());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| DataError::new(path, Some(1), e.to_string()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(DataError::new(path, Some(1), "no header row"));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map(|p| p.line());
                DataError::new(path, line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record.iter().map(|c| c.trim().to_string()).collect()));
        }
        Ok(Some(Csv {
            file: path.to_path_buf(),
            header,
            rows,
        }))
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn require(&self, name: &str) -> Result<usize, DataError> {
        self.column(name).ok_or_else(|| {
            DataError::new(
                &self.file,
                Some(1),
                format!(
                    "no column \"{name}\" in the header ({})",
                    self.header.join(",")
                ),
            )
        })
    }

    /// The number in `row`'s cell `col`; an empty cell is NaN.
    fn number(&self, line: u64, row: &[String], col: usize) -> Result<f64, DataError> {
        let cell = row[col].as_str();
        if cell.is_empty() {
            return Ok(f64::NAN);
        }
        cell.parse::<f64>().map_err(|_| {
            DataError::new(
                &self.file,
                Some(line),
                format!(
                    "column \"{}\": expected a number, found \"{cell}\"",
                    self.header[col]
                ),
            )
        })
    }
}

/// Keeps the first appearance order of policy names.
fn index_of(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_string());
            names.len() - 1
        }
    }
}

/// `summary.csv`: one row per policy, the mean metrics and their 95% half-widths.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// The scenario's name (from the `scenario` column), when there is one.
    pub scenario: Option<String>,
    /// The master seed.
    pub seed: Option<u64>,
    /// Replications per policy.
    pub replications: Option<u32>,
    /// The metric columns, in file order.
    pub metrics: Vec<String>,
    /// One entry per policy, in file order.
    pub policies: Vec<PolicySummary>,
}

/// One policy's row of `summary.csv`.
#[derive(Clone, Debug, Default)]
pub struct PolicySummary {
    /// Policy name.
    pub name: String,
    /// Means.
    pub mean: BTreeMap<String, f64>,
    /// 95% confidence half-widths (zero with one replication).
    pub ci95: BTreeMap<String, f64>,
}

impl PolicySummary {
    /// The mean of `metric`, NaN when absent.
    pub fn get(&self, metric: &str) -> f64 {
        self.mean.get(metric).copied().unwrap_or(f64::NAN)
    }

    /// The 95% half-width of `metric`, zero when absent.
    pub fn ci(&self, metric: &str) -> f64 {
        self.ci95
            .get(metric)
            .copied()
            .filter(|v| v.is_finite())
            .unwrap_or(0.0)
    }
}

/// Reads `summary.csv` from `dir`.
pub fn read_summary(dir: &Path) -> Result<Option<Summary>, DataError> {
    let Some(csv) = Csv::read(&dir.join("summary.csv"))? else {
        return Ok(None);
    };
    let policy = csv.require("policy")?;
    let scenario = csv.column("scenario");
    let seed = csv.column("seed");
    let replications = csv.column("replications");
    let skip = [Some(policy), scenario, seed, replications];
    let metrics: Vec<(usize, String)> = csv
        .header
        .iter()
        .enumerate()
        .filter(|(i, h)| !skip.contains(&Some(*i)) && !h.ends_with("_ci95") && !h.is_empty())
        .map(|(i, h)| (i, h.clone()))
        .collect();
    let mut out = Summary {
        metrics: metrics.iter().map(|(_, h)| h.clone()).collect(),
        ..Summary::default()
    };
    for (line, row) in &csv.rows {
        if out.scenario.is_none() {
            out.scenario = scenario.map(|c| row[c].clone()).filter(|s| !s.is_empty());
            out.seed = seed.and_then(|c| row[c].parse().ok());
            out.replications = replications.and_then(|c| row[c].parse().ok());
        }
        let mut p = PolicySummary {
            name: row[policy].clone(),
            ..PolicySummary::default()
        };
        for (col, name) in &metrics {
            p.mean.insert(name.clone(), csv.number(*line, row, *col)?);
            if let Some(ci) = csv.column(&format!("{name}_ci95")) {
                p.ci95.insert(name.clone(), csv.number(*line, row, ci)?);
            }
        }
        out.policies.push(p);
    }
    if out.policies.is_empty() {
        return Err(DataError::new(&csv.file, None, "no policy rows"));
    }
    Ok(Some(out))
}

/// `latency.csv`: per policy, call and job latency at a list of quantiles.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// One entry per policy, in file order.
    pub policies: Vec<PolicyLatency>,
}

/// One policy's latency quantiles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyLatency {
    /// Policy name.
    pub name: String,
    /// Quantiles in [0, 1], in file order.
    pub quantile: Vec<f64>,
    /// Call latency at each quantile, in seconds.
    pub call_s: Vec<f64>,
    /// Job latency at each quantile, in seconds.
    pub job_s: Vec<f64>,
}

/// Reads `latency.csv` from `dir`.
pub fn read_latency(dir: &Path) -> Result<Option<Latency>, DataError> {
    let Some(csv) = Csv::read(&dir.join("latency.csv"))? else {
        return Ok(None);
    };
    let policy = csv.require("policy")?;
    let quantile = csv.require("quantile")?;
    let call = csv.require("call_latency_s")?;
    let job = csv.column("job_latency_s");
    let mut names = Vec::new();
    let mut out = Latency::default();
    for (line, row) in &csv.rows {
        let i = index_of(&mut names, &row[policy]);
        if i == out.policies.len() {
            out.policies.push(PolicyLatency {
                name: row[policy].clone(),
                ..PolicyLatency::default()
            });
        }
        let p = &mut out.policies[i];
        p.quantile.push(csv.number(*line, row, quantile)?);
        p.call_s.push(csv.number(*line, row, call)?);
        p.job_s.push(match job {
            Some(c) => csv.number(*line, row, c)?,
            None => f64::NAN,
        });
    }
    Ok(Some(out))
}

/// The quantities of `timeseries.csv` that charts draw, by column name.
pub const SERIES_COLUMNS: [&str; 11] = [
    "in_flight",
    "provider_queue",
    "client_queue",
    "admitted_tokens_per_s",
    "limit_tokens_per_s",
    "rate_limited_per_s",
    "errors_per_s",
    "timeouts_per_s",
    "goodput_calls_per_s",
    "t_s",
    "spend_usd",
];

/// `timeseries.csv`: per policy, a column per quantity.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// One entry per policy, in file order.
    pub policies: Vec<PolicySeries>,
    /// The providers that have `provider.<name>.<quantity>` columns, in header order (empty for
    /// a scenario with one provider).
    pub providers: Vec<String>,
}

/// The per-provider quantities of `timeseries.csv`: `provider.<name>.<quantity>`.
pub const PROVIDER_SERIES_COLUMNS: [&str; 3] =
    ["in_flight", "rate_limited_per_s", "goodput_calls_per_s"];

/// The name of a provider's column in `timeseries.csv`.
pub fn provider_column(provider: &str, quantity: &str) -> String {
    format!("provider.{provider}.{quantity}")
}

/// One policy's time series: `t_s` and every other numeric column, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicySeries {
    /// Policy name.
    pub name: String,
    /// Each column's values, by column name (`t_s` included); columns the file lacks are absent.
    pub columns: BTreeMap<String, Vec<f64>>,
}

impl PolicySeries {
    /// The `(t_s, value)` points of `column`, empty when the file lacks it.
    pub fn points(&self, column: &str) -> Vec<(f64, f64)> {
        match (self.columns.get("t_s"), self.columns.get(column)) {
            (Some(t), Some(v)) => t
                .iter()
                .zip(v)
                .filter(|(t, v)| t.is_finite() && v.is_finite())
                .map(|(t, v)| (*t, *v))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Reads `timeseries.csv` from `dir`.
pub fn read_series(dir: &Path) -> Result<Option<Series>, DataError> {
    let Some(csv) = Csv::read(&dir.join("timeseries.csv"))? else {
        return Ok(None);
    };
    let policy = csv.require("policy")?;
    csv.require("t_s")?;
    let mut columns: Vec<(usize, String)> = SERIES_COLUMNS
        .iter()
        .filter_map(|name| csv.column(name).map(|c| (c, name.to_string())))
        .collect();
    let mut out = Series::default();
    for (c, h) in csv.header.iter().enumerate() {
        let Some((provider, quantity)) = h
            .strip_prefix("provider.")
            .and_then(|rest| rest.rsplit_once('.'))
        else {
            continue;
        };
        if provider.is_empty() || !PROVIDER_SERIES_COLUMNS.contains(&quantity) {
            continue;
        }
        index_of(&mut out.providers, provider);
        columns.push((c, h.clone()));
    }
    let mut names = Vec::new();
    for (line, row) in &csv.rows {
        let i = index_of(&mut names, &row[policy]);
        if i == out.policies.len() {
            out.policies.push(PolicySeries {
                name: row[policy].clone(),
                ..PolicySeries::default()
            });
        }
        for (col, name) in &columns {
            let v = csv.number(*line, row, *col)?;
            out.policies[i]
                .columns
                .entry(name.clone())
                .or_default()
                .push(v);
        }
    }
    Ok(Some(out))
}

/// `sweep_summary.csv`: one row per grid point and policy; the parameter columns are those
/// before `policy`, then `<metric>_mean` and `<metric>_ci95` per metric.
#[derive(Clone, Debug, Default)]
pub struct Sweep {
    /// The swept parameters (dotted paths), in column order.
    pub params: Vec<String>,
    /// The metrics that have a `_mean` column, in column order.
    pub metrics: Vec<String>,
    /// Policy names, in order of first appearance.
    pub policies: Vec<String>,
    /// The rows.
    pub points: Vec<SweepPoint>,
}

/// One grid point for one policy.
#[derive(Clone, Debug, Default)]
pub struct SweepPoint {
    /// The parameter values as written, one per entry of [`Sweep::params`].
    pub params: Vec<String>,
    /// Index into [`Sweep::policies`].
    pub policy: usize,
    /// Means, by metric.
    pub mean: BTreeMap<String, f64>,
    /// 95% half-widths, by metric (NaN or absent: none).
    pub ci95: BTreeMap<String, f64>,
}

/// Reads `sweep_summary.csv` from `dir`.
pub fn read_sweep(dir: &Path) -> Result<Option<Sweep>, DataError> {
    let Some(csv) = Csv::read(&dir.join("sweep_summary.csv"))? else {
        return Ok(None);
    };
    let policy = csv.require("policy")?;
    let mut out = Sweep {
        params: csv.header[..policy].to_vec(),
        ..Sweep::default()
    };
    let mut metrics: Vec<(String, usize, Option<usize>)> = Vec::new();
    for (i, h) in csv.header.iter().enumerate().skip(policy + 1) {
        if let Some(m) = h.strip_suffix("_mean") {
            metrics.push((m.to_string(), i, csv.column(&format!("{m}_ci95"))));
        }
    }
    if metrics.is_empty() {
        return Err(DataError::new(
            &csv.file,
            Some(1),
            "no <metric>_mean column after \"policy\"",
        ));
    }
    out.metrics = metrics.iter().map(|(m, _, _)| m.clone()).collect();
    for (line, row) in &csv.rows {
        let p = index_of(&mut out.policies, &row[policy]);
        let mut point = SweepPoint {
            params: row[..policy].to_vec(),
            policy: p,
            ..SweepPoint::default()
        };
        for (m, mean, ci) in &metrics {
            point.mean.insert(m.clone(), csv.number(*line, row, *mean)?);
            if let Some(ci) = ci {
                point.ci95.insert(m.clone(), csv.number(*line, row, *ci)?);
            }
        }
        out.points.push(point);
    }
    Ok(Some(out))
}

/// `tenants.csv`: `policy, tenant`, then per-tenant metrics.
#[derive(Clone, Debug, Default)]
pub struct Tenants {
    /// The metric columns, in file order.
    pub metrics: Vec<String>,
    /// Policy names, in order of first appearance.
    pub policies: Vec<String>,
    /// Tenant names, in order of first appearance.
    pub tenants: Vec<String>,
    /// `(policy index, tenant index, metrics)` per row.
    pub rows: Vec<(usize, usize, BTreeMap<String, f64>)>,
}

impl Tenants {
    /// The value of `metric` for a policy and tenant, NaN when absent.
    pub fn get(&self, policy: usize, tenant: usize, metric: &str) -> f64 {
        self.rows
            .iter()
            .find(|(p, t, _)| *p == policy && *t == tenant)
            .and_then(|(_, _, m)| m.get(metric).copied())
            .unwrap_or(f64::NAN)
    }
}

/// A table of metrics per policy and one other key (`tenant`, `provider`), read from `file` in
/// `dir`: the metric columns (every column but `policy`, the key, `scenario` and `_ci95`), the
/// policies and keys in order of first appearance, and `(policy, key, metrics)` per row. A cell
/// that is not a number is an error.
type ByPolicy = (
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<(usize, usize, BTreeMap<String, f64>)>,
);

fn read_by_policy(dir: &Path, file: &str, key: &str) -> Result<Option<ByPolicy>, DataError> {
    let Some(csv) = Csv::read(&dir.join(file))? else {
        return Ok(None);
    };
    let policy = csv.require("policy")?;
    let key = csv.require(key)?;
    let scenario = csv.column("scenario");
    let metrics: Vec<(usize, String)> = csv
        .header
        .iter()
        .enumerate()
        .filter(|(i, h)| {
            *i != policy
                && *i != key
                && Some(*i) != scenario
                && !h.is_empty()
                && !h.ends_with("_ci95")
        })
        .map(|(i, h)| (i, h.clone()))
        .collect();
    let (mut policies, mut keys, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for (line, row) in &csv.rows {
        let p = index_of(&mut policies, &row[policy]);
        let k = index_of(&mut keys, &row[key]);
        let mut values = BTreeMap::new();
        for (col, name) in &metrics {
            values.insert(name.clone(), csv.number(*line, row, *col)?);
        }
        rows.push((p, k, values));
    }
    let names = metrics.into_iter().map(|(_, h)| h).collect();
    Ok(Some((names, policies, keys, rows)))
}

/// Reads `tenants.csv` from `dir`. Columns other than `policy`, `tenant` and `scenario` are
/// metrics; a cell that is not a number is an error.
pub fn read_tenants(dir: &Path) -> Result<Option<Tenants>, DataError> {
    Ok(
        read_by_policy(dir, "tenants.csv", "tenant")?.map(|(metrics, policies, tenants, rows)| {
            Tenants {
                metrics,
                policies,
                tenants,
                rows,
            }
        }),
    )
}

/// `providers.csv`: `policy, provider`, then per-provider metrics (means over replications)
/// and their `_ci95`. Written only for a scenario with several providers.
#[derive(Clone, Debug, Default)]
pub struct Providers {
    /// The metric columns, in file order (the `_ci95` columns are left out).
    pub metrics: Vec<String>,
    /// Policy names, in order of first appearance.
    pub policies: Vec<String>,
    /// Provider names, in order of first appearance.
    pub providers: Vec<String>,
    /// `(policy index, provider index, metrics)` per row.
    pub rows: Vec<(usize, usize, BTreeMap<String, f64>)>,
}

impl Providers {
    /// The value of `metric` for a policy and provider, NaN when absent.
    pub fn get(&self, policy: usize, provider: usize, metric: &str) -> f64 {
        self.rows
            .iter()
            .find(|(p, v, _)| *p == policy && *v == provider)
            .and_then(|(_, _, m)| m.get(metric).copied())
            .unwrap_or(f64::NAN)
    }

    /// The same, by names.
    pub fn value(&self, policy: &str, provider: &str, metric: &str) -> f64 {
        match (
            self.policies.iter().position(|p| p == policy),
            self.providers.iter().position(|p| p == provider),
        ) {
            (Some(p), Some(v)) => self.get(p, v, metric),
            _ => f64::NAN,
        }
    }
}

/// Reads `providers.csv` from `dir`. Columns other than `policy`, `provider` and `scenario` are
/// metrics; a cell that is not a number is an error.
pub fn read_providers(dir: &Path) -> Result<Option<Providers>, DataError> {
    Ok(read_by_policy(dir, "providers.csv", "provider")?.map(
        |(metrics, policies, providers, rows)| Providers {
            metrics,
            policies,
            providers,
            rows,
        },
    ))
}

/// What `summary.json` and a copied `scenario.toml` say about the scenario.
#[derive(Clone, Debug, Default)]
pub struct ScenarioInfo {
    /// The scenario's name.
    pub name: Option<String>,
    /// Its one-line description.
    pub description: Option<String>,
    /// The seed the run used.
    pub seed: Option<u64>,
    /// Replications per policy.
    pub replications: Option<u32>,
    /// The scenario file's leading comment block, comment markers removed.
    pub assumptions: Option<String>,
    /// Where the scenario text came from (`scenario.toml` in the directory).
    pub source: Option<PathBuf>,
}

/// Reads `summary.json` (name, seed, replications, and `description` if present) and
/// `scenario.toml` (the copy `stampede run` leaves: description and leading comments).
pub fn read_scenario_info(dir: &Path) -> Result<ScenarioInfo, DataError> {
    let mut info = ScenarioInfo::default();
    let json_path = dir.join("summary.json");
    match crate::io::read_at_most(&json_path, crate::io::MAX_RESULT_FILE_BYTES) {
        Ok(bytes) => {
            let doc: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| DataError::new(&json_path, Some(e.line() as u64), e.to_string()))?;
            let text = |key: &str| doc.get(key).and_then(|v| v.as_str()).map(str::to_string);
            info.name = text("scenario");
            info.description = text("description").filter(|d| !d.is_empty());
            info.seed = doc.get("seed").and_then(|v| v.as_u64());
            info.replications = doc
                .get("replications")
                .and_then(|v| v.as_u64())
                .map(|r| r as u32);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(DataError::new(
                &json_path,
                None,
                format!("cannot read: {e}"),
            ));
        }
    }
    let toml_path = dir.join(SCENARIO_COPY);
    // A sweep's directory may hold only the sweep's own copy (`sweep_points/scenario.toml`,
    // without the comments): its name, description, seed and replications are there.
    let sweep_copy = dir.join(crate::sweep::POINTS_DIR).join(SCENARIO_COPY);
    // The replications a sweep ran (`--replications` included) are in its own copy only.
    if info.replications.is_none()
        && !dir.join("summary.csv").exists()
        && let Ok(text) = crate::scenario::read_file(&sweep_copy)
        && let Ok(doc) = text.parse::<toml::Table>()
    {
        info.replications = doc
            .get("sweep")
            .and_then(|s| s.get("replications"))
            .and_then(|r| r.as_integer())
            .and_then(|r| u32::try_from(r).ok());
    }
    let copy = crate::scenario::read_file(&toml_path)
        .map(|t| (toml_path, t))
        .or_else(|_| crate::scenario::read_file(&sweep_copy).map(|t| (sweep_copy, t)));
    if let Ok((toml_path, text)) = copy {
        info.source = Some(toml_path);
        let comments = leading_comments(&text);
        info.assumptions = (!comments.trim().is_empty()).then_some(comments);
        if let Ok(doc) = text.parse::<toml::Table>() {
            if info.seed.is_none() {
                info.seed = doc
                    .get("scenario")
                    .and_then(|s| s.get("seed"))
                    .and_then(|r| r.as_integer())
                    .and_then(|r| u64::try_from(r).ok());
            }
            let scenario = doc.get("scenario").and_then(|s| s.as_table());
            let field = |key: &str| {
                scenario
                    .and_then(|s| s.get(key))
                    .and_then(|v| v.as_str())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            };
            if info.description.is_none() {
                info.description = field("description");
            }
            if info.name.is_none() {
                info.name = field("name");
            }
        }
    }
    Ok(info)
}

/// The name of the scenario copy `stampede run` writes into its output directory.
pub const SCENARIO_COPY: &str = "scenario.toml";

/// The comment lines at the top of a TOML file, up to the first line that is not a comment
/// (blank lines before it are allowed), with the `#` and one following space removed.
pub fn leading_comments(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix('#') {
            out.push(
                rest.strip_prefix(' ')
                    .unwrap_or(rest)
                    .trim_end()
                    .to_string(),
            );
        } else if trimmed.is_empty() && out.is_empty() {
            continue;
        } else {
            break;
        }
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_comments_stop_at_the_first_line_of_toml() {
        let text = "\n# Title\n#\n# - one\n#   two\n\n[scenario]\n# not this\n";
        assert_eq!(leading_comments(text), "Title\n\n- one\n  two");
    }

    #[test]
    fn a_cell_that_is_not_a_number_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tenants.csv"),
            "policy,tenant,job_latency_p99_s\nfixed,a,1.5\nfixed,b,slow\n",
        )
        .unwrap();
        let e = read_tenants(dir.path()).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "tenants.csv:3: column \"job_latency_p99_s\": expected a number, found \"slow\""
            ),
            "{e}"
        );
    }

    #[test]
    fn sweep_parameters_are_the_columns_before_policy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sweep_summary.csv"),
            "workload.fanout,policy.fixed.bucket.rate,policy,cost_usd_mean,cost_usd_ci95,replications\n\
             4,1000,naive,1.0,0.1,5\n4,1000,fixed,2.0,,5\n",
        )
        .unwrap();
        let s = read_sweep(dir.path()).unwrap().unwrap();
        assert_eq!(s.params, ["workload.fanout", "policy.fixed.bucket.rate"]);
        assert_eq!(s.metrics, ["cost_usd"]);
        assert_eq!(s.policies, ["naive", "fixed"]);
        assert!(s.points[1].ci95["cost_usd"].is_nan());
    }
}
