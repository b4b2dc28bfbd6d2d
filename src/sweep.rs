//! Parameter sweeps: a grid of scenario variants, each point's policies and replications run in
//! parallel, tidy CSV out; shards to spread a sweep over machines, resume to survive interruption.
//!
//! Task: answer "how far can we fan out before p99 explodes, under each policy?" with one
//! command. A [`Plan`] is the grid: the `[sweep]` table's axes (dotted paths into the scenario
//! document, each with its values; command-line `--set` axes replace or extend them), expanded
//! in row-major order (the first axis varies slowest, the last fastest). Each point is the
//! scenario with those values written in, parsed and validated like a file, and run exactly as
//! `stampede run` runs it ([`crate::run::run`], replication `r` on
//! [`crate::run::replication_seed`]`(seed, r)`), so a point's rows equal that run's.
//!
//! Outputs, in the output directory:
//! - `sweep_points/scenario.toml`: the whole sweep as one scenario file (command-line axes and
//!   the `--policy` selection included); it identifies the sweep for `--resume` and `merge`, and `merge` needs nothing else.
//! - `sweep_points/point-NNNNNN.csv`: each finished point's rows, written atomically as the point
//!   finishes, so an interrupted sweep keeps every finished point.
//! - `sweep.csv` and `sweep_summary.csv`, assembled from the point files once every point is
//!   there (always from the files, so a single run, a resumed run and merged shards write the
//!   same bytes).
//!
//! The output directory is a sweep's only: [`prepare`] refuses one that holds a run's results
//! ([`holds_run`]), as `stampede run` refuses one that holds a sweep's ([`holds_sweep`]), so that
//! `plot` and `report` never read the two kinds as one. By default a sweep writes into
//! `output/<name>-sweep/` ([`default_dir`]) and a run into `output/<name>/`.
//!
//! Shard `K/N` owns the points whose grid index `i` has `i % N == K - 1` (round robin, so that
//! shards get a fair share of the expensive end of each axis).

use crate::io::write_atomic;
use crate::metrics::Metrics;
use crate::metrics::summary::mean_ci95;
use crate::model::Scenario;
use crate::model::config::MAX_REPLICATIONS;
use crate::run::{self, RunError, RunOptions, replication_seed};
use crate::scenario::{self, Axis, ScenarioError};
use rayon::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};

/// The directory, inside the output directory, of the per-point files and the sweep's manifest.
pub const POINTS_DIR: &str = "sweep_points";
/// The sweep's manifest: the whole sweep as one scenario file.
pub const MANIFEST: &str = "scenario.toml";
/// One row per point x policy x replication.
pub const SWEEP_CSV: &str = "sweep.csv";
/// One row per point x policy: means and 95% confidence half-widths.
pub const SUMMARY_CSV: &str = "sweep_summary.csv";

/// Where a sweep of the scenario named `name` writes when not told: `output/<name>-sweep`,
/// beside (not inside, nor the same as) a run's `output/<name>`.
pub fn default_dir(name: &str) -> PathBuf {
    Path::new("output").join(format!("{name}-sweep"))
}

/// The file of a run's results found in `dir` (its manifest or `summary.json`), if any.
pub fn holds_run(dir: &Path) -> Option<&'static str> {
    [crate::io::MANIFEST, "summary.json"]
        .into_iter()
        .find(|f| dir.join(f).exists())
}

/// The file or folder of a sweep's results found in `dir`, if any.
pub fn holds_sweep(dir: &Path) -> Option<&'static str> {
    [SUMMARY_CSV, SWEEP_CSV, POINTS_DIR]
        .into_iter()
        .find(|f| dir.join(f).exists())
}

/// Grids larger than this are refused (a typo in a list, not a sweep anyone meant).
pub const MAX_POINTS: usize = 1_000_000;

/// Why a sweep or a merge did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The scenario, or a swept value, is invalid.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// Bad input other than the scenario: nothing to sweep, a directory of another sweep, a
    /// merge with points missing.
    #[error("{0}")]
    Input(String),
    /// A replication of a point tripped a simulation guard.
    #[error("sweep point {point} ({parameters}): {source}")]
    Guard {
        /// The point's grid index.
        point: usize,
        /// The point's parameters, as `path = value` pairs.
        parameters: String,
        /// The run's error (policy, replication, seed, guard).
        source: RunError,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Slice `index` (1-based) of `count` of a sweep's points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 1 to `count`.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

impl Shard {
    /// Whether the point with grid index `point` belongs to this shard (round robin).
    pub fn owns(&self, point: usize) -> bool {
        point % self.count == self.index - 1
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected K/N with 1 <= K <= N (e.g. 2/4), found \"{s}\"");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Reads a command-line axis, `PATH=V1,V2,...`. Each value is read as a TOML value (`4`,
/// `0.5`, `"fixed"`, `{ dist = "exponential", mean = "1s" }`), or taken as a string when it is
/// not one (`1s`); commas inside brackets, braces and quotes do not split.
pub fn parse_axis(arg: &str) -> Result<Axis, String> {
    let (path, values) = arg.split_once('=').ok_or_else(|| {
        format!("expected PATH=V1,V2,... (e.g. source.0.job.agents=4,8,12), found \"{arg}\"")
    })?;
    let path = path.trim();
    if path.is_empty() {
        return Err(format!(
            "expected a dotted path before '=', found \"{arg}\""
        ));
    }
    let mut parsed = Vec::new();
    for item in split_top_level(values) {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!("an empty value in \"{arg}\""));
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {item}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(item.to_string()));
        parsed.push(value);
    }
    Ok(Axis {
        path: path.to_string(),
        values: parsed,
    })
}

/// Splits at commas outside brackets, braces and quoted strings.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut escaped, mut start) = (0i32, None, false, 0);
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A sweep's grid: its axes and every point's values, read from the sweep's manifest. Enough to
/// check and assemble finished points (`merge` needs nothing else); a [`Plan`] adds the
/// scenarios to run.
#[derive(Clone, Debug)]
pub struct Grid {
    /// The whole sweep as one scenario file (written as `sweep_points/scenario.toml`).
    pub document: String,
    /// The scenario's name.
    pub name: String,
    /// The grid's axes, in order.
    pub axes: Vec<Axis>,
    /// Every point's value on each axis, in grid order (row-major: the last axis varies
    /// fastest).
    pub points: Vec<Vec<toml::Value>>,
}

impl Grid {
    /// The grid of a sweep's manifest (or of any scenario file with a `[sweep]` table); `file`
    /// names it in errors.
    pub fn from_document(document: String, file: &str) -> Result<Grid, SweepError> {
        let spec = scenario::sweep_spec(&document, file)?
            .ok_or_else(|| SweepError::Input(format!("{file}: not a sweep (no [sweep] table)")))?;
        let mut total: usize = 1;
        for axis in &spec.axes {
            total = total
                .checked_mul(axis.values.len())
                .filter(|&t| t <= MAX_POINTS)
                .ok_or_else(|| {
                    SweepError::Input(format!(
                        "{file}: the grid has more than {MAX_POINTS} points; sweep fewer values"
                    ))
                })?;
        }
        let points = (0..total)
            .map(|index| {
                let mut values = vec![toml::Value::Boolean(false); spec.axes.len()];
                let mut rest = index;
                for (i, axis) in spec.axes.iter().enumerate().rev() {
                    values[i] = axis.values[rest % axis.values.len()].clone();
                    rest /= axis.values.len();
                }
                values
            })
            .collect();
        let name = document
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| {
                t.get("scenario")?
                    .get("name")?
                    .as_str()
                    .map(|n| n.trim().to_string())
            })
            .unwrap_or_default();
        Ok(Grid {
            document,
            name,
            axes: spec.axes,
            points,
        })
    }

    /// `sweep.csv`'s header: the axes' paths, `policy`, `replication`, `seed`, then every metric.
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = self.axes.iter().map(|a| a.path.clone()).collect();
        h.extend(["policy", "replication", "seed"].map(String::from));
        h.extend(Metrics::NAMES.iter().map(|n| n.to_string()));
        h
    }

    /// `sweep_summary.csv`'s header: the axes' paths, `policy`, then `<metric>_mean` and
    /// `<metric>_ci95` for every metric.
    pub fn summary_header(&self) -> Vec<String> {
        let mut h: Vec<String> = self.axes.iter().map(|a| a.path.clone()).collect();
        h.push("policy".into());
        for n in Metrics::NAMES {
            h.push(format!("{n}_mean"));
            h.push(format!("{n}_ci95"));
        }
        h
    }

    /// Point `index`'s parameters as `path = value` pairs (TOML values, as they would be
    /// written in the scenario file).
    pub fn describe(&self, index: usize) -> String {
        self.axes
            .iter()
            .zip(&self.points[index])
            .map(|(a, v)| format!("{} = {v}", a.path))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Point `index`'s parameter cells.
    fn cells(&self, index: usize) -> Vec<String> {
        self.points[index]
            .iter()
            .map(scenario::value_cell)
            .collect()
    }
}

/// One point of the grid, ready to run.
#[derive(Clone, Debug)]
pub struct Point {
    /// Its index in the grid.
    pub index: usize,
    /// The scenario with the point's values, validated.
    pub scenario: Scenario,
    /// Replications per policy.
    pub replications: u32,
}

/// A sweep ready to run: the grid and every point's scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The grid.
    pub grid: Grid,
    /// Every point, in grid order.
    pub points: Vec<Point>,
}

impl Plan {
    /// The sweep of the scenario file `text` (`file` names it in errors and anchors its
    /// relative paths): its `[sweep]` table, with the axes of `set` replacing those of the same
    /// path or added after them, and `replications` overriding the sweep's. Every point is
    /// parsed and validated before anything runs.
    pub fn new(
        text: &str,
        file: &str,
        set: &[Axis],
        replications: Option<u32>,
    ) -> Result<Plan, SweepError> {
        Plan::with_policies(text, file, set, replications, &[])
    }

    /// [`Plan::new`] running only `policies` (in that order, a repeated name once) at every
    /// point, replacing the `[sweep]` table's `policies` when not empty. The selection is written
    /// into the sweep's manifest, so that it is part of what identifies the sweep: `--resume`
    /// with another selection is refused, and shards of different selections are not merged.
    pub fn with_policies(
        text: &str,
        file: &str,
        set: &[Axis],
        replications: Option<u32>,
        policies: &[String],
    ) -> Result<Plan, SweepError> {
        let (base_scenario, spec) = scenario::parse_sweep(text, file)?;
        let mut spec = spec.unwrap_or_default();
        if !policies.is_empty() {
            spec.policies.clear();
            for name in policies {
                if !base_scenario.policies.iter().any(|p| &p.name == name) {
                    return Err(SweepError::Input(format!(
                        "no policy named \"{name}\" in scenario \"{}\" (it has: {})",
                        base_scenario.name,
                        base_scenario
                            .policies
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                if !spec.policies.contains(name) {
                    spec.policies.push(name.clone());
                }
            }
        }
        for axis in set {
            match spec.axes.iter_mut().find(|a| a.path == axis.path) {
                Some(a) => a.values = axis.values.clone(),
                None => spec.axes.push(axis.clone()),
            }
        }
        if replications.is_some() {
            spec.replications = replications;
        }
        if let Some(r) = spec.replications
            && !(1..=MAX_REPLICATIONS).contains(&r)
        {
            return Err(SweepError::Input(format!(
                "{file}: expected from 1 to {MAX_REPLICATIONS} replications, found {r}"
            )));
        }
        if spec.axes.is_empty() {
            return Err(SweepError::Input(format!(
                "{file}: nothing to sweep: add a [sweep.parameters] table, e.g. \"source.0.job.agents\" = [4, 8, 12], or give --set PATH=V1,V2,..."
            )));
        }
        let document = scenario::sweep_document(text, file, &spec)?;
        let grid = Grid::from_document(document, file)?;
        // Read once: each point then costs one validation of the scenario, not a read of the
        // whole manifest (whose `[sweep]` table grows with the grid).
        let base = scenario::Overridable::new(&grid.document, file)?;
        let points = (0..grid.points.len())
            .map(|index| {
                let overrides: Vec<(String, toml::Value)> = grid
                    .axes
                    .iter()
                    .zip(&grid.points[index])
                    .map(|(a, v)| (a.path.clone(), v.clone()))
                    .collect();
                let mut scenario = base.parse(&overrides)?;
                select_policies(&mut scenario, &spec.policies);
                let replications = spec.replications.unwrap_or(scenario.replications).max(1);
                Ok(Point {
                    index,
                    scenario,
                    replications,
                })
            })
            .collect::<Result<Vec<_>, SweepError>>()?;
        Ok(Plan { grid, points })
    }

    /// Runs in the whole sweep (points x policies x replications).
    pub fn runs(&self) -> usize {
        self.points.iter().map(point_runs).sum()
    }
}

/// Keeps only the policies named in `names`, in that order (all of them when `names` is empty).
/// A policy runs on the same draws whatever the others, so its rows do not depend on the
/// selection.
fn select_policies(scenario: &mut Scenario, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let mut all = std::mem::take(&mut scenario.policies);
    for name in names {
        if let Some(i) = all.iter().position(|p| &p.name == name) {
            scenario.policies.push(all.swap_remove(i));
        }
    }
}

fn point_runs(p: &Point) -> usize {
    p.scenario.policies.len() * p.replications as usize
}

/// How to run a sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Worker threads (default: rayon's, all cores).
    pub threads: Option<usize>,
    /// Run only this slice of the points.
    pub shard: Option<Shard>,
    /// Skip the points already finished in the output directory.
    pub resume: bool,
    /// Set from another thread to stop the sweep: points and replications not yet started are
    /// skipped and the sweep returns the run's [`RunError::Cancelled`] (the points already
    /// finished stay saved, so `--resume` picks up from there).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// What a sweep or merge did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Points in the grid.
    pub points: usize,
    /// Points this run was responsible for (its shard, or all).
    pub owned: usize,
    /// Points run now.
    pub ran: usize,
    /// Owned points found finished and kept (`--resume`).
    pub resumed: usize,
    /// Points finished in the output directory, in all.
    pub finished: usize,
    /// Whether every point was there and `sweep.csv` and `sweep_summary.csv` were written.
    pub complete: bool,
}

/// Runs the points of `plan` (those of `options.shard`, less those already finished with
/// `options.resume`) in parallel, writing each finished point to `dir/sweep_points/`, then
/// `sweep.csv` and `sweep_summary.csv` once every point is there. `progress(total)` is called
/// once with the number of runs to do, then `progress(0)` after each run, from any thread.
pub fn run(
    plan: &Plan,
    dir: &Path,
    options: &SweepOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Outcome, SweepError> {
    let grid = &plan.grid;
    prepare(grid, dir, options.resume)?;
    let points_dir = dir.join(POINTS_DIR);
    let owned: Vec<&Point> = plan
        .points
        .iter()
        .filter(|p| options.shard.is_none_or(|s| s.owns(p.index)))
        .collect();
    let todo: Vec<&Point> = owned
        .iter()
        .copied()
        .filter(|p| {
            !options.resume
                || read_point(grid, p.index, Some(p), &point_path(&points_dir, p.index)).is_none()
        })
        .collect();
    progress(todo.iter().map(|p| point_runs(p)).sum());
    let pool = crate::run::simulation_pool(options.threads)
        .map_err(|e| SweepError::Input(format!("cannot start the worker threads: {e}")))?;
    let tick = |n: usize| {
        if n == 0 {
            progress(0);
        }
    };
    let results: Vec<Result<(), SweepError>> = pool.install(|| {
        todo.par_iter()
            .map(|p| run_point(grid, p, &points_dir, &tick, options.cancel.clone()))
            .collect()
    });
    // Every point has run (and the finished ones are saved); report the first failure in grid
    // order, whatever the thread count.
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    let found = collect(grid, Some(&plan.points), &[dir])?;
    let finished = found.iter().filter(|f| f.is_some()).count();
    let complete = finished == grid.points.len();
    if complete {
        let records: Vec<_> = found.into_iter().flatten().map(|f| f.records).collect();
        write_results(grid, dir, &records)?;
    }
    Ok(Outcome {
        points: grid.points.len(),
        owned: owned.len(),
        ran: todo.len(),
        resumed: owned.len() - todo.len(),
        finished,
        complete,
    })
}

/// Joins the output directories of a sharded sweep (`dirs`, each with its `sweep_points/`) into
/// `out`: the manifest, every point file, `sweep.csv` and `sweep_summary.csv`, the same bytes
/// as one unsharded run writes. Every point must be in one of the directories. The scenario is
/// not run nor needed: only the grid in the manifest.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Outcome, SweepError> {
    let first = dirs
        .first()
        .ok_or_else(|| SweepError::Input("merge needs at least one directory".into()))?;
    let manifest = |d: &Path| {
        let path = d.join(POINTS_DIR).join(MANIFEST);
        crate::io::read_text_at_most(&path, crate::io::MAX_SMALL_FILE_BYTES).map_err(|e| {
            SweepError::Input(format!(
                "{}: {e}: not the output directory of a sweep",
                path.display()
            ))
        })
    };
    let document = manifest(first)?;
    for d in &dirs[1..] {
        if manifest(d)? != document {
            return Err(SweepError::Input(format!(
                "{} and {} hold different sweeps (their {POINTS_DIR}/{MANIFEST} differ)",
                first.display(),
                d.display()
            )));
        }
    }
    let grid = Grid::from_document(
        document,
        &first.join(POINTS_DIR).join(MANIFEST).display().to_string(),
    )?;
    let dir_refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let found = collect(&grid, None, &dir_refs)?;
    let settings = point_settings(&grid, &first.join(POINTS_DIR).join(MANIFEST))?;
    for (index, f) in found.iter().enumerate() {
        if let Some(f) = f {
            check_settings(&grid, index, settings[index], f)?;
        }
    }
    let missing: Vec<String> = found
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        let shown = missing
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SweepError::Input(format!(
            "{} of {} points are in none of the directories (points {shown}{}): run the shards that own them (shard K/N owns the points i with i % N = K - 1)",
            missing.len(),
            grid.points.len(),
            if missing.len() > 20 { ", ..." } else { "" }
        )));
    }
    prepare(&grid, out, false)?;
    let points_dir = out.join(POINTS_DIR);
    let mut records = Vec::with_capacity(found.len());
    for (index, f) in found.into_iter().flatten().enumerate() {
        let path = point_path(&points_dir, index);
        write_atomic(&path, &f.bytes).map_err(io(&path))?;
        records.push(f.records);
    }
    write_results(&grid, out, &records)?;
    Ok(Outcome {
        points: grid.points.len(),
        owned: grid.points.len(),
        ran: 0,
        resumed: 0,
        finished: grid.points.len(),
        complete: true,
    })
}

/// Each point's seed and replications as the manifest sets them (the `[scenario]` table, its
/// axes `scenario.seed` and `scenario.replications`, and `[sweep] replications`), read without
/// validating the scenario (which `merge` neither runs nor needs).
fn point_settings(grid: &Grid, manifest: &Path) -> Result<Vec<(u64, u32)>, SweepError> {
    let file = manifest.display().to_string();
    let spec = scenario::sweep_spec(&grid.document, &file)?.unwrap_or_default();
    let doc: toml::Table = grid
        .document
        .parse()
        .map_err(|e| SweepError::Input(format!("{file}: {e}")))?;
    let meta = doc.get("scenario");
    let int = |v: Option<&toml::Value>| v.and_then(toml::Value::as_integer);
    let seed = int(meta.and_then(|m| m.get("seed"))).unwrap_or(0);
    let replications = int(meta.and_then(|m| m.get("replications"))).unwrap_or(1);
    let axis = |path: &str| grid.axes.iter().position(|a| a.path == path);
    let (seed_axis, reps_axis) = (axis("scenario.seed"), axis("scenario.replications"));
    Ok(grid
        .points
        .iter()
        .map(|values| {
            let seed = seed_axis
                .and_then(|i| values[i].as_integer())
                .unwrap_or(seed);
            let reps = reps_axis
                .and_then(|i| values[i].as_integer())
                .unwrap_or(replications);
            let reps = spec.replications.unwrap_or(reps as u32).max(1);
            (seed as u64, reps)
        })
        .collect())
}

/// Refuses point `index`'s file when its rows were computed with another seed or another number
/// of replications than the sweep's manifest sets, as `--resume` does: a merge must not join
/// points of different settings.
fn check_settings(
    grid: &Grid,
    index: usize,
    (seed, replications): (u64, u32),
    found: &Found,
) -> Result<(), SweepError> {
    let axes = grid.axes.len();
    for group in policy_groups(&found.records, axes) {
        let wrong_seed = group
            .iter()
            .enumerate()
            .find(|(r, row)| row[axes + 2] != *replication_seed(seed, *r as u32).to_string());
        if group.len() != replications as usize || wrong_seed.is_some() {
            let what = match wrong_seed {
                Some((r, row)) => format!(
                    "replication {r} has seed {}, not {} (seed {seed})",
                    &row[axes + 2],
                    replication_seed(seed, r as u32)
                ),
                None => format!("{} replications, not {replications}", group.len()),
            };
            return Err(SweepError::Input(format!(
                "point {index} ({}) was computed with other settings than the sweep's manifest: policy \"{}\": {what}; run its shard again with the same scenario and options",
                grid.describe(index),
                &group[0][axes]
            )));
        }
    }
    Ok(())
}

/// Makes `dir/sweep_points/` hold this sweep's manifest. A directory holding a run's results is
/// refused. A directory holding another sweep (or
/// point files without a manifest) is cleared of its point files and results, unless resuming,
/// which refuses another sweep.
fn prepare(grid: &Grid, dir: &Path, resume: bool) -> Result<(), SweepError> {
    if let Some(file) = holds_run(dir) {
        return Err(SweepError::Input(format!(
            "{} holds a run's results ({file}), not a sweep's; choose another --out (a sweep writes into output/<name>-sweep by default)",
            dir.display()
        )));
    }
    let points_dir = dir.join(POINTS_DIR);
    crate::io::create_output_dir(&points_dir).map_err(io(&points_dir))?;
    // Temporary files of killed sweeps; only old ones, since shards may share the directory.
    let hour = std::time::Duration::from_secs(3600);
    crate::io::remove_old_leftovers(&points_dir, hour);
    crate::io::remove_old_leftovers(dir, hour);
    let manifest = points_dir.join(MANIFEST);
    let existing = match crate::io::read_text_at_most(&manifest, crate::io::MAX_SMALL_FILE_BYTES) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&manifest)(e)),
    };
    if existing.as_deref() == Some(grid.document.as_str()) {
        return Ok(());
    }
    if resume && existing.is_some() {
        return Err(SweepError::Input(format!(
            "{} holds another sweep ({} differs from this one: another scenario, other --set values, replications or --policy selection); resume with the same scenario and options, or choose another --out",
            dir.display(),
            manifest.display()
        )));
    }
    let entries = std::fs::read_dir(&points_dir).map_err(io(&points_dir))?;
    for entry in entries {
        let entry = entry.map_err(io(&points_dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("point-") && name.ends_with(".csv") {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    for f in [SWEEP_CSV, SUMMARY_CSV] {
        let path = dir.join(f);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
            _ => {}
        }
    }
    write_atomic(&manifest, grid.document.as_bytes()).map_err(io(&manifest))
}

fn point_path(points_dir: &Path, index: usize) -> PathBuf {
    points_dir.join(format!("point-{index:06}.csv"))
}

/// Runs one point (as `stampede run` would) and writes its rows.
fn run_point(
    grid: &Grid,
    point: &Point,
    points_dir: &Path,
    tick: &(dyn Fn(usize) + Sync),
    cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> Result<(), SweepError> {
    let options = RunOptions {
        policies: Vec::new(),
        seed: None,
        replications: Some(point.replications),
        cancel,
        ..Default::default()
    };
    let report = run::run_with_progress(&point.scenario, &options, tick).map_err(|source| {
        SweepError::Guard {
            point: point.index,
            parameters: grid.describe(point.index),
            source,
        }
    })?;
    let cells = grid.cells(point.index);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(grid.header()).expect("in-memory CSV");
    for p in &report.policies {
        for (r, m) in p.runs.iter().enumerate() {
            let mut row = cells.clone();
            row.push(p.name.clone());
            row.push(r.to_string());
            row.push(replication_seed(report.seed, r as u32).to_string());
            row.extend(m.values().iter().map(f64::to_string));
            w.write_record(&row).expect("in-memory CSV");
        }
    }
    let bytes = w.into_inner().expect("in-memory CSV");
    let path = point_path(points_dir, point.index);
    write_atomic(&path, &bytes).map_err(io(&path))
}

/// A finished point read back: its file's bytes and its rows (header excluded).
struct Found {
    bytes: Vec<u8>,
    records: Vec<csv::StringRecord>,
}

/// The file at `path` when it holds point `index` finished: the sweep's header, then for each
/// policy in turn one row per replication `0..n` (the same `n` for every policy), each with the
/// point's parameters and a number for every metric. With `expected`, also exactly that point's
/// policies, replications and seeds. `None` otherwise (absent, of another sweep, or of another
/// build with other metrics).
fn read_point(grid: &Grid, index: usize, expected: Option<&Point>, path: &Path) -> Option<Found> {
    let bytes = crate::io::read_at_most(path, crate::io::MAX_SMALL_FILE_BYTES).ok()?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice());
    let mut records = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .ok()?
        .into_iter();
    let header = records.next()?;
    if header.iter().ne(grid.header().iter().map(String::as_str)) {
        return None;
    }
    let records: Vec<csv::StringRecord> = records.collect();
    let cells = grid.cells(index);
    let width = cells.len() + 3 + Metrics::NAMES.len();
    let groups = policy_groups(&records, cells.len());
    if records.is_empty() || groups.iter().any(|g| g.len() != groups[0].len()) {
        return None;
    }
    for group in &groups {
        for (r, record) in group.iter().enumerate() {
            if record.len() != width
                || record.iter().zip(&cells).any(|(a, b)| a != b)
                || record[cells.len() + 1] != *r.to_string()
                || record[cells.len() + 2].parse::<u64>().is_err()
                || record
                    .iter()
                    .skip(cells.len() + 3)
                    .any(|v| v.parse::<f64>().is_err())
            {
                return None;
            }
        }
    }
    if let Some(point) = expected {
        let seed = point.scenario.seed;
        let mut rows = records.iter();
        for policy in &point.scenario.policies {
            for r in 0..point.replications {
                let record = rows.next()?;
                if record[cells.len()] != *policy.name
                    || record[cells.len() + 1] != *r.to_string()
                    || record[cells.len() + 2] != *replication_seed(seed, r).to_string()
                {
                    return None;
                }
            }
        }
        if rows.next().is_some() {
            return None;
        }
    }
    Some(Found { bytes, records })
}

/// A point's rows split into runs of the same policy (the policy column follows the `axes`
/// parameter columns).
fn policy_groups(records: &[csv::StringRecord], axes: usize) -> Vec<&[csv::StringRecord]> {
    records
        .chunk_by(|a, b| a.get(axes) == b.get(axes))
        .collect()
}

/// Each point's finished file, from the first of `dirs` that has it; two directories with the
/// same point must agree byte for byte. With `points`, each file must be exactly that point's.
fn collect(
    grid: &Grid,
    points: Option<&[Point]>,
    dirs: &[&Path],
) -> Result<Vec<Option<Found>>, SweepError> {
    (0..grid.points.len())
        .into_par_iter()
        .map(|index| {
            let expected = points.map(|p| &p[index]);
            let mut found: Option<(Found, &Path)> = None;
            for d in dirs {
                let path = point_path(&d.join(POINTS_DIR), index);
                let Some(f) = read_point(grid, index, expected, &path) else {
                    continue;
                };
                match &found {
                    None => found = Some((f, d)),
                    Some((g, e)) if g.bytes != f.bytes => {
                        return Err(SweepError::Input(format!(
                            "point {index} differs between {} and {}: were they run by different builds of stampede?",
                            e.display(),
                            d.display()
                        )));
                    }
                    Some(_) => {}
                }
            }
            Ok(found.map(|(f, _)| f))
        })
        .collect()
}

/// Writes `sweep.csv` and `sweep_summary.csv` from every point's rows, in grid order.
fn write_results(
    grid: &Grid,
    dir: &Path,
    records: &[Vec<csv::StringRecord>],
) -> Result<(), SweepError> {
    let mut all = csv::Writer::from_writer(Vec::new());
    all.write_record(grid.header()).expect("in-memory CSV");
    let mut summary = csv::Writer::from_writer(Vec::new());
    summary
        .write_record(grid.summary_header())
        .expect("in-memory CSV");
    let axes = grid.axes.len();
    for (index, rows) in records.iter().enumerate() {
        for row in rows {
            all.write_record(row).expect("in-memory CSV");
        }
        for runs in policy_groups(rows, axes) {
            let mut out = grid.cells(index);
            out.push(runs[0][axes].to_string());
            for j in 0..Metrics::NAMES.len() {
                let xs: Vec<f64> = runs
                    .iter()
                    .map(|r| r[axes + 3 + j].parse().expect("checked when read"))
                    .collect();
                let (mean, ci95) = mean_ci95(&xs);
                out.push(mean.to_string());
                out.push(ci95.to_string());
            }
            summary.write_record(&out).expect("in-memory CSV");
        }
    }
    let all = all.into_inner().expect("in-memory CSV");
    let summary = summary.into_inner().expect("in-memory CSV");
    let path = dir.join(SWEEP_CSV);
    write_atomic(&path, &all).map_err(io(&path))?;
    let path = dir.join(SUMMARY_CSV);
    write_atomic(&path, &summary).map_err(io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_points_round_robin() {
        let s: Shard = "2/3".parse().unwrap();
        let owned: Vec<usize> = (0..8).filter(|&i| s.owns(i)).collect();
        assert_eq!(owned, [1, 4, 7]);
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("3".parse::<Shard>().is_err());
    }

    #[test]
    fn a_command_line_axis_reads_toml_values_and_bare_strings() {
        let a = parse_axis("policy.fixed.timeout=1s, \"2s\",3").unwrap();
        assert_eq!(a.path, "policy.fixed.timeout");
        assert_eq!(
            a.values,
            [
                toml::Value::String("1s".into()),
                toml::Value::String("2s".into()),
                toml::Value::Integer(3)
            ]
        );
        let a = parse_axis("source.0.job.agents={ dist = \"uniform\", low = 1, high = 4 },30_000")
            .unwrap();
        assert_eq!(a.values.len(), 2);
        assert!(a.values[0].is_table());
        assert_eq!(a.values[1], toml::Value::Integer(30_000));
        assert!(parse_axis("no_equals").is_err());
        assert!(parse_axis("a.b=1,,2").is_err());
    }

    const SWEPT: &str = r#"
[scenario]
name = "t"
replications = 2
[provider]
ttft = "1s"
[[source]]
name = "s"
arrival = { process = "burst" }
[source.job]
agents = 2
prompt_tokens = 10
max_tokens = 10
output_tokens = 5
[[policy]]
name = "p"
bucket = { rate = 100, burst = 100 }
[sweep]
[sweep.parameters]
"source.0.job.agents" = [1, 2, 3]
"policy.p.bucket.rate" = [50, 100]
"#;

    #[test]
    fn the_grid_is_row_major_in_file_order_with_command_line_axes_last() {
        let extra = parse_axis("policy.p.bucket.burst=200,300").unwrap();
        let plan = Plan::new(SWEPT, "t.toml", &[extra], None).unwrap();
        assert_eq!(plan.points.len(), 12);
        let paths: Vec<&str> = plan.grid.axes.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "source.0.job.agents",
                "policy.p.bucket.rate",
                "policy.p.bucket.burst"
            ]
        );
        let p = &plan.points[5];
        assert_eq!(
            plan.grid.describe(5),
            "source.0.job.agents = 2, policy.p.bucket.rate = 50, policy.p.bucket.burst = 300"
        );
        assert_eq!(p.scenario.policies[0].buckets[0].rate_per_s, 50.0);
        assert_eq!(p.scenario.policies[0].buckets[0].burst, 300.0);
        assert_eq!(p.replications, 2);
        assert_eq!(plan.runs(), 24);
    }

    #[test]
    fn a_command_line_axis_replaces_the_files_axis_of_the_same_path() {
        let set = parse_axis("source.0.job.agents=7").unwrap();
        let plan = Plan::new(SWEPT, "t.toml", &[set], Some(5)).unwrap();
        assert_eq!(plan.points.len(), 2);
        assert_eq!(plan.grid.axes[0].values, [toml::Value::Integer(7)]);
        assert!(plan.points.iter().all(|p| p.replications == 5));
        let again = Grid::from_document(plan.grid.document.clone(), "m.toml").unwrap();
        assert_eq!(again.document, plan.grid.document);
        assert_eq!(again.axes, plan.grid.axes);
        assert_eq!(again.points, plan.grid.points);
        assert_eq!(again.name, "t");
    }

    #[test]
    fn the_policy_selection_keeps_and_orders_the_points_policies_and_is_in_the_manifest() {
        let two = SWEPT.replace("[sweep]\n", "[[policy]]\nname = \"q\"\n[sweep]\n");
        let names = |plan: &Plan| -> Vec<String> {
            plan.points[0]
                .scenario
                .policies
                .iter()
                .map(|p| p.name.clone())
                .collect()
        };
        let all = Plan::new(&two, "t.toml", &[], None).unwrap();
        assert_eq!(names(&all), ["p", "q"]);
        let picked = ["q", "p", "q"].map(String::from);
        let plan = Plan::with_policies(&two, "t.toml", &[], None, &picked).unwrap();
        assert!(plan.points.iter().all(|p| p.scenario.policies.len() == 2));
        assert_eq!(names(&plan), ["q", "p"]);
        assert_eq!(plan.runs(), all.runs());
        // Read back from the manifest, the selection is the same.
        let again = Grid::from_document(plan.grid.document.clone(), "m.toml").unwrap();
        assert_eq!(again.document, plan.grid.document);
        assert!(plan.grid.document.contains("policies = [\"q\", \"p\"]"));
        let from_file = two.replace("[sweep]\n", "[sweep]\npolicies = [\"q\"]\n");
        let plan = Plan::new(&from_file, "t.toml", &[], None).unwrap();
        assert_eq!(names(&plan), ["q"]);
        assert_eq!(plan.runs(), all.runs() / 2);
        // The command line replaces the file's selection.
        let plan = Plan::with_policies(&from_file, "t.toml", &[], None, &["p".into()]).unwrap();
        assert_eq!(names(&plan), ["p"]);
        let e = Plan::with_policies(&two, "t.toml", &[], None, &["x".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no policy named \"x\""), "{e}");
        assert!(e.contains("(it has: p, q)"), "{e}");
        let bad = two.replace("[sweep]\n", "[sweep]\npolicies = [\"x\"]\n");
        let e = Plan::new(&bad, "t.toml", &[], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sweep.policies"), "{e}");
        assert!(e.contains("no policy named \"x\" (it has: p, q)"), "{e}");
    }

    #[test]
    fn a_value_that_makes_the_scenario_invalid_names_the_parameter() {
        let set = parse_axis("policy.p.bucket.rate=-5").unwrap();
        let e = Plan::new(SWEPT, "t.toml", &[set], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy.p.bucket.rate = -5"), "{e}");
        assert!(e.contains("policy[0].bucket.rate"), "{e}");
    }
}
