//! Named baselines, as criterion and hyperfine users know them: `--save-baseline NAME` stores
//! every policy's metrics (means and 95% half-widths) as pretty JSON in
//! `<dir>/NAME/<scenario>.json`, a file to keep in git; `--baseline NAME` compares a run with it.
//!
//! The rule ([`judge`]): with `d` the change of the mean in the direction that is worse for the
//! metric ([`super::direction`]), `noise = sqrt(ci_baseline^2 + ci_current^2)` (about the 95%
//! half-width of the difference of two means) and `allowed = tolerance x |baseline mean|`, a
//! metric has **regressed** when `d - noise > allowed`: the change is beyond the tolerance and so
//! is its whole confidence interval (criterion's rule). It has **improved** when the same holds the
//! other way, and is **unchanged** otherwise. With one replication the noise is zero. Metrics
//! without a direction are stored but not judged.

use super::Direction;
use crate::metrics::Metrics;
use crate::run::Report;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where baselines live by default, relative to the working directory.
pub const DEFAULT_DIR: &str = "baselines";

/// The file of baseline `name` for `scenario`.
pub fn path(dir: &Path, name: &str, scenario: &str) -> PathBuf {
    dir.join(name).join(format!("{scenario}.json"))
}

/// A baseline name must be usable as one directory name: letters, digits, `_ - .`, not `.`/`..`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected a baseline name of letters, digits, '_', '-' or '.' (it names a directory), found \"{name}\""
        ))
    }
}

#[derive(Serialize)]
struct Written<'a> {
    stampede: &'static str,
    scenario: &'a str,
    seed: u64,
    replications: u32,
    policies: Vec<WrittenPolicy<'a>>,
}

#[derive(Serialize)]
struct WrittenPolicy<'a> {
    name: &'a str,
    mean: &'a Metrics,
    ci95: &'a Metrics,
}

/// The baseline document of `report`, as saved.
pub fn to_json(report: &Report) -> String {
    let doc = Written {
        stampede: env!("CARGO_PKG_VERSION"),
        scenario: &report.scenario,
        seed: report.seed,
        replications: report.replications,
        policies: report
            .policies
            .iter()
            .map(|p| WrittenPolicy {
                name: &p.name,
                mean: &p.aggregate.mean,
                ci95: &p.aggregate.ci95,
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("metrics serialise");
    s.push('\n');
    s
}

/// Saves `report` as a baseline at `path` (creating its directory), whole or not at all.
pub fn save(path: &Path, report: &Report) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::io::create_output_dir(dir)?;
    }
    crate::io::write_atomic(path, to_json(report).as_bytes())
}

/// A saved baseline, as read back. A metric saved as `null` (not a number) reads as `None`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Baseline {
    /// The stampede version that wrote it.
    pub stampede: String,
    /// The scenario's name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// Its replications.
    pub replications: u32,
    /// Each policy's metrics.
    pub policies: Vec<BaselinePolicy>,
}

/// One policy of a baseline.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct BaselinePolicy {
    /// The policy's name.
    pub name: String,
    /// Means.
    pub mean: BTreeMap<String, Option<f64>>,
    /// 95% half-widths.
    pub ci95: BTreeMap<String, Option<f64>>,
}

/// Reads the baseline at `path`; the message says how to make one when there is none. A
/// baseline with no policies, or a policy with no metrics, is refused: a gate that compares
/// nothing would pass whatever the run does.
pub fn load(path: &Path) -> Result<Baseline, String> {
    let text = crate::io::read_text_at_most(path, crate::io::MAX_SMALL_FILE_BYTES).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no baseline at {} (save one with --save-baseline NAME, and --baseline-dir if it lives elsewhere)",
                path.display()
            )
        } else {
            format!("cannot read the baseline {}: {e}", path.display())
        }
    })?;
    let baseline: Baseline = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a baseline: {e}", path.display()))?;
    if baseline.policies.is_empty() {
        return Err(format!(
            "{}: not a baseline: `policies` is empty, so there is nothing to compare with (save one with --save-baseline NAME)",
            path.display()
        ));
    }
    if let Some(p) = baseline
        .policies
        .iter()
        .find(|p| p.mean.is_empty() || p.ci95.is_empty())
    {
        let which = if p.mean.is_empty() { "mean" } else { "ci95" };
        return Err(format!(
            "{}: not a baseline: policy \"{}\" has an empty `{which}`, so there is nothing to compare with (save one with --save-baseline NAME)",
            path.display(),
            p.name
        ));
    }
    Ok(baseline)
}

/// How a metric moved against its baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse beyond the tolerance, with its whole confidence interval.
    Regressed,
    /// Better beyond the tolerance, with its whole confidence interval.
    Improved,
    /// Within the tolerance, or within the noise.
    Unchanged,
}

/// The rule of the module docs, for one metric.
pub fn judge(
    direction: Direction,
    baseline: (f64, f64),
    current: (f64, f64),
    tolerance: f64,
) -> Verdict {
    let (b, bh) = baseline;
    let (c, ch) = current;
    let worse = match direction {
        Direction::LowerIsBetter => c - b,
        Direction::HigherIsBetter => b - c,
    };
    let noise = (bh * bh + ch * ch).sqrt();
    let allowed = tolerance * b.abs();
    if worse - noise > allowed {
        Verdict::Regressed
    } else if -worse - noise > allowed {
        Verdict::Improved
    } else {
        Verdict::Unchanged
    }
}

/// One metric of one policy compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// The policy.
    pub policy: String,
    /// The metric.
    pub metric: String,
    /// Which way is better for it.
    pub direction: Direction,
    /// The baseline's mean.
    pub baseline: f64,
    /// The baseline's 95% half-width.
    pub baseline_ci95: f64,
    /// This run's mean.
    pub current: f64,
    /// This run's 95% half-width.
    pub current_ci95: f64,
    /// `(current - baseline) / |baseline|` (infinite from a baseline of 0).
    pub change: f64,
    /// The judgement.
    pub verdict: Verdict,
}

/// A run compared with a baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline's name.
    pub name: String,
    /// Its file.
    pub file: PathBuf,
    /// The tolerance (a fraction).
    pub tolerance: f64,
    /// Every metric with a direction, of every policy in both.
    pub changes: Vec<Change>,
    /// What could not be compared, or differs in setup (policies added or removed, another seed).
    pub notes: Vec<String>,
}

impl Comparison {
    /// The changes judged `verdict`.
    pub fn with(&self, verdict: Verdict) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.verdict == verdict)
    }

    /// Something was compared and nothing regressed: a comparison that judged no metric (no
    /// policy in common, no number in common) fails, since it cannot see what it gates.
    pub fn passed(&self) -> bool {
        !self.changes.is_empty() && self.with(Verdict::Regressed).next().is_none()
    }
}

/// Compares `report` with `baseline` (saved as `name` at `file`) under `tolerance`.
pub fn compare(
    baseline: &Baseline,
    name: &str,
    file: &Path,
    report: &Report,
    tolerance: f64,
) -> Comparison {
    let mut notes = Vec::new();
    if baseline.scenario != report.scenario {
        notes.push(format!(
            "the baseline is of scenario \"{}\"",
            baseline.scenario
        ));
    }
    if (baseline.seed, baseline.replications) != (report.seed, report.replications) {
        notes.push(format!(
            "the baseline ran seed {} with {} replication(s), this run seed {} with {}",
            baseline.seed, baseline.replications, report.seed, report.replications
        ));
    }
    let mut changes = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    for p in &report.policies {
        let Some(b) = baseline.policies.iter().find(|b| b.name == p.name) else {
            notes.push(format!("policy \"{}\" is not in the baseline", p.name));
            continue;
        };
        for (metric, dir) in super::DIRECTIONS {
            let Some(dir) = *dir else { continue };
            let (Some(mean), Some(half)) =
                (p.aggregate.mean.get(metric), p.aggregate.ci95.get(metric))
            else {
                continue; // not a metric of this build
            };
            let current = (mean, if half.is_finite() { half } else { 0.0 });
            let base = match b.mean.get(*metric) {
                None => {
                    if !missing.contains(metric) {
                        missing.push(metric);
                    }
                    continue;
                }
                Some(base) => base.filter(|v| v.is_finite()),
            };
            let base = match (base, current.0.is_finite()) {
                (Some(base), true) => base,
                (None, false) => continue, // not a number in either: nothing to compare
                (None, true) => {
                    notes.push(format!(
                        "{}.{metric} is not a number in the baseline",
                        p.name
                    ));
                    continue;
                }
                (Some(_), false) => {
                    notes.push(format!("{}.{metric} is not a number in this run", p.name));
                    continue;
                }
            };
            let base_half = b.ci95.get(*metric).copied().flatten().unwrap_or(0.0);
            let change = if base == current.0 {
                0.0
            } else {
                (current.0 - base) / base.abs()
            };
            changes.push(Change {
                policy: p.name.clone(),
                metric: metric.to_string(),
                direction: dir,
                baseline: base,
                baseline_ci95: base_half,
                current: current.0,
                current_ci95: current.1,
                change,
                verdict: judge(dir, (base, base_half), current, tolerance),
            });
        }
    }
    if !missing.is_empty() {
        notes.push(format!(
            "not in the baseline (saved by an older stampede?): {}",
            missing.join(", ")
        ));
    }
    for b in &baseline.policies {
        if !report.policies.iter().any(|p| p.name == b.name) {
            notes.push(format!("policy \"{}\" of the baseline was not run", b.name));
        }
    }
    if changes.is_empty() {
        notes.push(
            "nothing was compared (no policy and metric with a number in both): failed".to_string(),
        );
    }
    Comparison {
        name: name.to_string(),
        file: file.to_path_buf(),
        tolerance,
        changes,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Aggregate;
    use crate::run::PolicyResult;

    const LOWER: Direction = Direction::LowerIsBetter;
    const HIGHER: Direction = Direction::HigherIsBetter;

    #[test]
    fn a_change_beyond_the_tolerance_is_a_regression_in_the_worse_direction() {
        // 5% of 100 is 5: 106 is worse for a latency, better for completed jobs.
        assert_eq!(
            judge(LOWER, (100.0, 0.0), (106.0, 0.0), 0.05),
            Verdict::Regressed
        );
        assert_eq!(
            judge(HIGHER, (100.0, 0.0), (106.0, 0.0), 0.05),
            Verdict::Improved
        );
        assert_eq!(
            judge(LOWER, (100.0, 0.0), (94.0, 0.0), 0.05),
            Verdict::Improved
        );
        assert_eq!(
            judge(HIGHER, (100.0, 0.0), (94.0, 0.0), 0.05),
            Verdict::Regressed
        );
        assert_eq!(
            judge(LOWER, (100.0, 0.0), (105.0, 0.0), 0.05),
            Verdict::Unchanged
        );
        assert_eq!(
            judge(LOWER, (100.0, 0.0), (100.0, 0.0), 0.0),
            Verdict::Unchanged
        );
    }

    #[test]
    fn a_change_whose_interval_reaches_back_into_the_tolerance_is_not_called() {
        // +10 against an allowance of 5, but the interval of the difference is 10 ± 5.83.
        assert_eq!(
            judge(LOWER, (100.0, 3.0), (110.0, 5.0), 0.05),
            Verdict::Unchanged
        );
        // The same change with tight intervals (10 ± 2.24) is a regression.
        assert_eq!(
            judge(LOWER, (100.0, 1.0), (110.0, 2.0), 0.05),
            Verdict::Regressed
        );
        assert_eq!(
            judge(LOWER, (110.0, 1.0), (100.0, 2.0), 0.05),
            Verdict::Improved
        );
    }

    #[test]
    fn from_a_baseline_of_zero_any_change_beyond_the_noise_counts() {
        assert_eq!(
            judge(LOWER, (0.0, 0.0), (3.0, 0.0), 0.05),
            Verdict::Regressed
        );
        assert_eq!(
            judge(LOWER, (0.0, 0.0), (0.05, 0.1), 0.05),
            Verdict::Unchanged
        );
    }

    fn report(makespan: f64, jobs_ok: f64) -> Report {
        let m = Metrics {
            makespan_s: makespan,
            jobs_ok,
            ..Default::default()
        };
        Report {
            scenario: "s".into(),
            seed: 1,
            replications: 1,
            policies: vec![PolicyResult {
                name: "p".into(),
                runs: vec![m.clone()],
                aggregate: Aggregate::of(&[m]),
                series: None,
                distribution: None,
                tenants: Vec::new(),
                providers: Vec::new(),
            }],
            warnings: Vec::new(),
        }
    }

    #[test]
    fn a_saved_baseline_reads_back_and_compares_unchanged_with_its_own_run() {
        let r = report(38.295_123_456_789, 1.0);
        let b: Baseline = serde_json::from_str(&to_json(&r)).unwrap();
        assert_eq!(b.scenario, "s");
        assert_eq!(b.policies[0].mean["makespan_s"], Some(38.295_123_456_789));
        let c = compare(&b, "main", Path::new("b.json"), &r, 0.0);
        assert!(c.passed() && c.notes.is_empty(), "{c:?}");
        assert!(c.changes.iter().all(|c| c.verdict == Verdict::Unchanged));
        assert!(c.changes.iter().any(|c| c.metric == "jobs_ok"));
        assert!(
            !c.changes.iter().any(|c| c.metric == "events"),
            "no direction"
        );
    }

    #[test]
    fn a_baseline_better_than_the_run_names_the_regressed_metric() {
        let b: Baseline = serde_json::from_str(&to_json(&report(30.0, 1.0))).unwrap();
        let c = compare(&b, "main", Path::new("b.json"), &report(38.0, 0.0), 0.05);
        let regressed: Vec<&str> = c
            .with(Verdict::Regressed)
            .map(|c| c.metric.as_str())
            .collect();
        assert_eq!(regressed, ["makespan_s", "jobs_ok"]);
        assert!(!c.passed());
        let back = compare(
            &serde_json::from_str(&to_json(&report(38.0, 0.0))).unwrap(),
            "main",
            Path::new("b.json"),
            &report(30.0, 1.0),
            0.05,
        );
        assert!(back.passed() && back.with(Verdict::Improved).count() == 2);
    }

    #[test]
    fn baseline_names_are_single_directory_names() {
        assert!(check_name("main").is_ok());
        assert!(check_name("v1.2_rc-3").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
