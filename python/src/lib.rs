//! `stampede._stampede`: the Python extension over the stampede library.
//!
//! Thin on purpose: every function here parses arguments, calls the same library functions the
//! command line calls, and hands back the same bytes the command line writes (the CSV and JSON
//! texts); the Python package (`stampede/__init__.py`) turns them into pandas DataFrames. So a
//! notebook and the CLI cannot disagree on a number. Long work runs with the GIL released, on
//! the same thread pools as the CLI, and stops at Ctrl-C (the replications not yet started are
//! skipped).

use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use stampede::run::{self, RunError, RunOptions};
use stampede::scenario::{self, Axis, ScenarioError as CoreScenarioError};
use stampede::sweep::{self, Plan, SweepError, SweepOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

create_exception!(
    _stampede,
    ScenarioError,
    PyValueError,
    "A scenario stampede cannot run: `file`, `line`, `column`, `field` and `message` say where and why."
);

create_exception!(
    _stampede,
    GuardTripped,
    PyRuntimeError,
    "A simulation guard stopped a runaway model (the command line's exit code 3)."
);

/// The Python exception for a scenario error, with its parts as attributes.
fn scenario_error(py: Python<'_>, e: &CoreScenarioError) -> PyErr {
    let err = ScenarioError::new_err(e.to_string());
    let value = err.value(py);
    let (line, column) = match e.position {
        Some((l, c)) => (Some(l), Some(c)),
        None => (None, None),
    };
    let _ = value.setattr("file", &e.file);
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    let _ = value.setattr("field", e.field.clone());
    let _ = value.setattr("message", &e.message);
    err
}

fn run_error(e: RunError) -> PyErr {
    match e {
        RunError::UnknownPolicy { .. } | RunError::TooManyReplications { .. } => {
            PyValueError::new_err(e.to_string())
        }
        RunError::Cancelled => PyKeyboardInterrupt::new_err("interrupted"),
        RunError::Guard { .. } => GuardTripped::new_err(e.to_string()),
        RunError::Threads(_) => PyRuntimeError::new_err(e.to_string()),
    }
}

fn sweep_error(py: Python<'_>, e: SweepError) -> PyErr {
    match e {
        SweepError::Scenario(s) => scenario_error(py, &s),
        SweepError::Guard { .. } => GuardTripped::new_err(e.to_string()),
        SweepError::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// A Python value as a TOML value: `bool`, `int`, `float`, `str` and lists of them.
fn to_toml(value: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    if value.is_instance_of::<PyBool>() {
        Ok(toml::Value::Boolean(value.extract()?))
    } else if value.is_instance_of::<PyInt>() {
        Ok(toml::Value::Integer(value.extract()?))
    } else if value.is_instance_of::<PyFloat>() {
        Ok(toml::Value::Float(value.extract()?))
    } else if value.is_instance_of::<PyString>() {
        Ok(toml::Value::String(value.extract()?))
    } else if let Ok(list) = value.downcast::<PyList>() {
        Ok(toml::Value::Array(
            list.iter().map(|v| to_toml(&v)).collect::<PyResult<_>>()?,
        ))
    } else if let Ok(tuple) = value.downcast::<PyTuple>() {
        Ok(toml::Value::Array(
            tuple.iter().map(|v| to_toml(&v)).collect::<PyResult<_>>()?,
        ))
    } else {
        Err(PyTypeError::new_err(format!(
            "expected a bool, int, float, str or a list of them, found {}",
            value.get_type().name()?
        )))
    }
}

/// `{path: value}` as the sweep's overrides, in the dict's order.
fn overrides(dict: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, toml::Value)>> {
    let Some(dict) = dict else {
        return Ok(Vec::new());
    };
    dict.iter()
        .map(|(k, v)| Ok((k.extract::<String>()?, to_toml(&v)?)))
        .collect()
}

/// Parses and validates `text` (`file` names it in errors and anchors its relative paths) with
/// `overrides` applied.
fn parse(
    py: Python<'_>,
    text: &str,
    file: &str,
    overrides: &[(String, toml::Value)],
) -> PyResult<stampede::model::Scenario> {
    let parsed = if overrides.is_empty() {
        scenario::parse(text, file)
    } else {
        scenario::parse_with_overrides(text, file, overrides)
    };
    parsed.map_err(|e| scenario_error(py, &e))
}

/// Reads a scenario file as the command line does (size-capped, UTF-8 checked): its text.
#[pyfunction]
fn read_scenario(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    scenario::read_file(&path).map_err(|e| scenario_error(py, &e))
}

/// Validates `text` with `overrides`; returns the scenario's name and its policies' names.
#[pyfunction]
#[pyo3(signature = (text, file, overrides=None))]
fn validate(
    py: Python<'_>,
    text: &str,
    file: &str,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<(String, Vec<String>)> {
    let s = parse(py, text, file, &self::overrides(overrides)?)?;
    Ok((
        s.name.clone(),
        s.policies.iter().map(|p| p.name.clone()).collect(),
    ))
}

/// What `stampede validate --format json` prints: limits, demand, utilisation, warnings.
#[pyfunction]
#[pyo3(signature = (text, file, overrides=None))]
fn explain(
    py: Python<'_>,
    text: &str,
    file: &str,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    let s = parse(py, text, file, &self::overrides(overrides)?)?;
    serde_json::to_string(&scenario::explain::explain(&s))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Runs `work` on its own thread with the GIL released, checking for Ctrl-C every 50 ms; on an
/// interrupt it sets `cancel` (the work stops before its next replication) and raises.
fn interruptible<T: Send + 'static>(
    py: Python<'_>,
    cancel: Arc<AtomicBool>,
    work: impl FnOnce() -> T + Send + 'static,
) -> PyResult<T> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    let mut rx = rx;
    loop {
        // The receiver travels into the GIL-free closure and back (it is not `Sync`).
        let (received, back) = py.allow_threads(move || {
            let r = rx.recv_timeout(Duration::from_millis(50));
            (r, rx)
        });
        rx = back;
        match received {
            Ok(result) => {
                let _ = handle.join();
                return Ok(result);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    cancel.store(true, Ordering::Relaxed);
                    // Wait for the replications in flight to finish, so that nothing keeps
                    // running behind the notebook's back.
                    py.allow_threads(move || {
                        let _ = rx.recv();
                    });
                    let _ = handle.join();
                    return Err(interrupt);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the simulation thread stopped"));
            }
        }
    }
}

/// The results of a run, as the command line writes them.
#[pyclass(module = "stampede._stampede", frozen)]
struct RunReport {
    report: run::Report,
}

#[pymethods]
impl RunReport {
    /// The scenario's name.
    #[getter]
    fn scenario(&self) -> &str {
        &self.report.scenario
    }

    /// The master seed.
    #[getter]
    fn seed(&self) -> u64 {
        self.report.seed
    }

    /// Replications per policy.
    #[getter]
    fn replications(&self) -> u32 {
        self.report.replications
    }

    /// Warnings, e.g. a replication a guard stopped early.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.report.warnings.clone()
    }

    /// Every result file `stampede run --out DIR` writes, by name, with the same bytes.
    fn files(&self) -> BTreeMap<&'static str, String> {
        use stampede::run::export;
        let r = &self.report;
        let mut files = BTreeMap::from([
            ("summary.json", export::to_json(r)),
            ("summary.csv", export::to_csv(r)),
            ("runs.csv", export::runs_csv(r)),
            ("latency.csv", export::latency_csv(r)),
        ]);
        if let Some(t) = export::tenants_csv(r) {
            files.insert("tenants.csv", t);
        }
        if let Some(p) = export::providers_csv(r) {
            files.insert("providers.csv", p);
        }
        if let Some(t) = export::timeseries_csv(r) {
            files.insert("timeseries.csv", t);
        }
        files
    }

    /// Writes the result files into `dir` (one consistent set, as `run --out` does), with the
    /// scenario text as `scenario.toml` when given.
    #[pyo3(signature = (dir, scenario_text=None))]
    fn write(&self, dir: PathBuf, scenario_text: Option<&str>) -> PyResult<()> {
        write_run(&self.report, &dir, scenario_text)
    }

    /// Writes the result files and draws the charts into `dir/charts/`; returns the chart files.
    #[pyo3(signature = (dir, scenario_text=None))]
    fn plot(&self, dir: PathBuf, scenario_text: Option<&str>) -> PyResult<Vec<PathBuf>> {
        write_run(&self.report, &dir, scenario_text)?;
        stampede::report::charts::plot_dir(&dir)
            .map(|(_, written)| written)
            .map_err(|e| PyOSError::new_err(e.to_string()))
    }

    /// Writes the result files, the charts and `report.html` / `report.md` into `dir`; returns
    /// the files written, the report first.
    #[pyo3(signature = (dir, scenario_text=None))]
    fn report(&self, dir: PathBuf, scenario_text: Option<&str>) -> PyResult<Vec<PathBuf>> {
        write_run(&self.report, &dir, scenario_text)?;
        stampede::report::html::write_report(&dir).map_err(|e| PyOSError::new_err(e.to_string()))
    }

    /// The terminal table `stampede run` prints.
    fn table(&self) -> String {
        stampede::report::table(&self.report)
    }
}

fn write_run(report: &run::Report, dir: &Path, scenario_text: Option<&str>) -> PyResult<()> {
    let io = |e: std::io::Error| PyOSError::new_err(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    // One set, scenario copy included, moved into place with its manifest (as `stampede run`).
    let staging = stampede::io::Staging::new(dir).map_err(io)?;
    stampede::run::export::write_files(report, staging.path()).map_err(io)?;
    if let Some(text) = scenario_text {
        stampede::io::write_atomic(&staging.path().join("scenario.toml"), text.as_bytes())
            .map_err(io)?;
    }
    staging.commit().map_err(io)
}

/// Runs the scenario's policies side by side on identical random draws, as `stampede run`.
#[pyfunction]
#[pyo3(signature = (text, file, overrides=None, policies=None, seed=None, replications=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn run_scenario(
    py: Python<'_>,
    text: &str,
    file: &str,
    overrides: Option<&Bound<'_, PyDict>>,
    policies: Option<Vec<String>>,
    seed: Option<u64>,
    replications: Option<u32>,
    threads: Option<usize>,
) -> PyResult<RunReport> {
    let scenario = parse(py, text, file, &self::overrides(overrides)?)?;
    let cancel = Arc::new(AtomicBool::new(false));
    let options = RunOptions {
        policies: policies.unwrap_or_default(),
        seed,
        replications,
        threads,
        cancel: Some(cancel.clone()),
    };
    let report = interruptible(py, cancel, move || run::run(&scenario, &options))?;
    report.map(|report| RunReport { report }).map_err(run_error)
}

/// Runs a sweep as `stampede sweep` into a temporary directory and returns its two result files
/// (`sweep.csv`, `sweep_summary.csv`) by name, with the same bytes.
#[pyfunction]
#[pyo3(signature = (text, file, grid=None, replications=None, threads=None, policies=None))]
fn sweep_scenario(
    py: Python<'_>,
    text: &str,
    file: &str,
    grid: Option<&Bound<'_, PyDict>>,
    replications: Option<u32>,
    threads: Option<usize>,
    policies: Option<Vec<String>>,
) -> PyResult<BTreeMap<&'static str, String>> {
    let mut axes = Vec::new();
    if let Some(grid) = grid {
        for (path, values) in grid.iter() {
            let values = match to_toml(&values)? {
                toml::Value::Array(v) => v,
                one => vec![one],
            };
            axes.push(Axis {
                path: path.extract()?,
                values,
            });
        }
    }
    let policies = policies.unwrap_or_default();
    let plan = Plan::with_policies(text, file, &axes, replications, &policies)
        .map_err(|e| sweep_error(py, e))?;
    let dir = tempfile::tempdir().map_err(|e| PyOSError::new_err(e.to_string()))?;
    let path = dir.path().to_path_buf();
    let cancel = Arc::new(AtomicBool::new(false));
    let options = SweepOptions {
        threads,
        shard: None,
        resume: false,
        cancel: Some(cancel.clone()),
    };
    let outcome = interruptible(py, cancel, move || {
        sweep::run(&plan, &path, &options, &|_| {})
    })?
    .map_err(|e| sweep_error(py, e))?;
    if !outcome.complete {
        return Err(PyRuntimeError::new_err(
            "the sweep did not finish every point",
        ));
    }
    let read = |name: &'static str| {
        std::fs::read_to_string(dir.path().join(name))
            .map(|text| (name, text))
            .map_err(|e| PyOSError::new_err(format!("{name}: {e}")))
    };
    Ok(BTreeMap::from([
        read("sweep.csv")?,
        read("sweep_summary.csv")?,
    ]))
}

/// Runs scenario files and checks their `[[expect]]` entries (and a baseline), as
/// `stampede check --format json`; returns that JSON document. Results go under `out`.
#[pyfunction]
#[pyo3(signature = (paths, out, baseline=None, tolerance=None, baseline_dir=None, save_baseline=None))]
fn check_scenarios(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    out: PathBuf,
    baseline: Option<String>,
    tolerance: Option<f64>,
    baseline_dir: Option<PathBuf>,
    save_baseline: Option<String>,
) -> PyResult<String> {
    let mut options = stampede::check::CheckOptions {
        out,
        baseline,
        save_baseline,
        ..Default::default()
    };
    if let Some(t) = tolerance {
        options.tolerance = t;
    }
    if let Some(d) = baseline_dir {
        options.baseline_dir = d;
    }
    let report = py
        .allow_threads(|| stampede::check::check(&paths, &options))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(stampede::check::to_json(&report))
}

/// The provider presets `stampede presets` lists, as `(name, source, as_of)`.
#[pyfunction]
fn presets() -> PyResult<Vec<(String, String, String)>> {
    let all = scenario::presets::all().map_err(PyRuntimeError::new_err)?;
    Ok(all
        .iter()
        .map(|p| (p.name.clone(), p.source.clone(), p.as_of.clone()))
        .collect())
}

fn tune_error(py: Python<'_>, e: stampede::tune::TuneError) -> PyErr {
    use stampede::tune::TuneError;
    match e {
        TuneError::Scenario(s) => scenario_error(py, &s),
        TuneError::Guard { .. } => GuardTripped::new_err(e.to_string()),
        TuneError::Io { .. } => PyOSError::new_err(e.to_string()),
        TuneError::Input(_) => PyValueError::new_err(e.to_string()),
    }
}

/// `stampede tune`: the texts of tune.csv, pareto.csv, validation.csv, recommended.toml (when a
/// recommendation passed re-validation) and the summary the command line prints, by name.
#[pyfunction]
#[pyo3(signature = (text, file, threads=None, seed=None, budget=None))]
fn tune_scenario(
    py: Python<'_>,
    text: &str,
    file: &str,
    threads: Option<usize>,
    seed: Option<u64>,
    budget: Option<u64>,
) -> PyResult<BTreeMap<&'static str, String>> {
    use stampede::tune::{self, export};
    let options = tune::TuneOptions {
        threads,
        seed,
        budget,
    };
    let plan = tune::Plan::new(text, file, &options).map_err(|e| tune_error(py, e))?;
    let outcome = py
        .allow_threads(|| tune::run(&plan, &options, &|_| {}))
        .map_err(|e| tune_error(py, e))?;
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("CSV text is UTF-8");
    let mut files = BTreeMap::new();
    files.insert("tune.csv", text(export::tune_csv(&plan, &outcome)));
    files.insert("pareto.csv", text(export::pareto_csv(&plan, &outcome)));
    files.insert(
        "validation.csv",
        text(export::validation_csv(&plan, &outcome)),
    );
    if let Some(snippet) = export::snippet(&plan, &outcome) {
        files.insert("recommended.toml", snippet);
    }
    files.insert("summary", export::summary(&plan, &outcome));
    Ok(files)
}

/// `stampede calibrate TRACE`'s text: a `[[provider]]` section per model with its fit.
#[pyfunction]
fn calibrate(py: Python<'_>, trace: PathBuf) -> PyResult<String> {
    py.allow_threads(|| stampede::calibrate::calibrate_trace(&trace))
        .map_err(PyValueError::new_err)
}

/// `stampede import`: writes `out` and its trace CSVs; returns (jobs, templates, the CSVs'
/// names, warnings).
#[pyfunction]
#[pyo3(signature = (input, out, tenant_attribute=None, job_by="root", force=false))]
fn import_trace(
    py: Python<'_>,
    input: PathBuf,
    out: PathBuf,
    tenant_attribute: Option<String>,
    job_by: &str,
    force: bool,
) -> PyResult<(usize, usize, Vec<String>, Vec<String>)> {
    use stampede::import;
    use stampede::scenario::otel::JobBy;
    let job_by = match job_by {
        "root" => JobBy::Root,
        "conversation" => JobBy::Conversation,
        other => {
            return Err(PyValueError::new_err(format!(
                "job_by: expected \"root\" or \"conversation\", found \"{other}\""
            )));
        }
    };
    let options = import::ImportOptions {
        tenant_attribute,
        job_by,
    };
    let imported = py
        .allow_threads(|| {
            let imported = import::import_path(&input, &out, &options)?;
            import::write(&imported, &out, force)?;
            Ok::<_, String>(imported)
        })
        .map_err(PyValueError::new_err)?;
    Ok((
        imported.jobs,
        imported.templates,
        imported.traces.into_iter().map(|(name, _)| name).collect(),
        imported.warnings,
    ))
}

/// The extension module.
#[pymodule]
fn _stampede(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add("GuardTripped", m.py().get_type::<GuardTripped>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<RunReport>()?;
    m.add_function(wrap_pyfunction!(read_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    m.add_function(wrap_pyfunction!(run_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(check_scenarios, m)?)?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    m.add_function(wrap_pyfunction!(calibrate, m)?)?;
    m.add_function(wrap_pyfunction!(tune_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(import_trace, m)?)?;
    Ok(())
}
