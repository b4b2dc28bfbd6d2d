//! `stampede tune`: the settings of one policy on the frontier of its objectives (tail latency
//! against cost, say) under constraints (no failed job), found by a deterministic search and
//! re-checked on replications the search never saw.
//!
//! Task: answer the question a sweep only answers by brute force, "which bucket rate, retry
//! count and backoff give the lowest p99 that never fails a job, and what does each step
//! cheaper cost?". A [`Plan`] reads the `[tune]` table (parsed and checked by the scenario
//! layer); [`run`] searches ([`search`]: a scrambled Halton design plus the policy as written,
//! raced by successive halving on common random numbers, refined around the frontier), then
//! re-runs the frontier and every policy of the scenario as written on fresh seeds (a seed
//! derived from the tune's for that purpose alone) and recommends the frontier point best on the
//! first objective that still meets the constraints there. [`export`] writes the files and the
//! `[[policy]]` snippet. The user's documentation is `docs/tune.md`.

pub mod export;
pub mod frontier;
pub mod search;
pub mod space;

use crate::engine::rng::{derive, purpose};
use crate::metrics::Aggregate;
use crate::model::world::simulate_full;
use crate::model::{Policy, Scenario};
use crate::run::replication_seed;
use crate::scenario::{self, MAX_BUDGET, MIN_BUDGET, ScenarioError, TuneSpec};
use rayon::prelude::*;
use search::{Candidate, Search, SearchError, Stage, Verdict};
use space::Space;
use std::path::{Path, PathBuf};
use toml::Value;

/// Most frontier points re-run on fresh replications (the best on the first objective first).
pub const MAX_VALIDATED: usize = 16;

/// Where a tune of the scenario named `name` writes when not told: `output/<name>-tune`.
pub fn default_dir(name: &str) -> PathBuf {
    Path::new("output").join(format!("{name}-tune"))
}

/// How to run a tune; each `Some` overrides the `[tune]` table.
#[derive(Clone, Debug, Default)]
pub struct TuneOptions {
    /// Worker threads (all cores when `None`). The results do not depend on it.
    pub threads: Option<usize>,
    /// The search's seed.
    pub seed: Option<u64>,
    /// Replications the search may spend (at most [`MAX_BUDGET`]).
    pub budget: Option<u64>,
}

/// Why a tune did not finish.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The scenario, its `[tune]` table, or a proposed value is invalid.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// Other bad input: no `[tune]` table, a budget over the cap, an output directory of
    /// another kind.
    #[error("{0}")]
    Input(String),
    /// A replication tripped a simulation guard.
    #[error("{setting}, replication {replication} (seed {seed}): {message}")]
    Guard {
        /// `candidate N (path = value, ...)`, or `policy "NAME" as written`.
        setting: String,
        /// The tuned policy's name, or the policy's as written.
        policy: String,
        /// The candidate's parameters as `path = value` pairs (none for a policy as written).
        parameters: Option<String>,
        /// The replication.
        replication: u32,
        /// Its seed.
        seed: u64,
        /// The guard.
        message: String,
    },
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// A tune ready to run: the scenario, its `[tune]` table, the space, the settings.
pub struct Plan {
    /// The scenario as written.
    pub scenario: Scenario,
    /// The `[tune]` table.
    pub spec: TuneSpec,
    /// The parameters as a unit cube.
    pub space: Space,
    /// The tuned policy's values at the parameters' paths, as written.
    pub incumbent: Vec<Value>,
    /// The search's seed.
    pub seed: u64,
    /// Replications the search may spend.
    pub budget: u64,
    /// Candidates of the initial design (besides the policy as written).
    pub initial: usize,
    base: scenario::Overridable,
    file: String,
}

impl Plan {
    /// The tune of scenario `text` (`file` names it in errors). The budget is checked against
    /// its cap before anything is read or allocated; each parameter's ends are tried in the
    /// scenario (with the others as written), so a range the policy refuses is an error now,
    /// not halfway through the search.
    pub fn new(text: &str, file: &str, options: &TuneOptions) -> Result<Plan, TuneError> {
        if let Some(b) = options.budget
            && !(MIN_BUDGET..=MAX_BUDGET).contains(&b)
        {
            return Err(TuneError::Input(format!(
                "--budget: expected from {MIN_BUDGET} to {MAX_BUDGET} replications, found {b}"
            )));
        }
        let (scenario, spec) = scenario::parse_tune(text, file)?;
        let spec = spec.ok_or_else(|| {
            TuneError::Input(format!(
                "{file}: nothing to tune: add a [tune] table (the policy, its parameters with ranges, the objectives; see docs/tune.md)"
            ))
        })?;
        let base = scenario::Overridable::new(text, file)?;
        let incumbent = spec
            .parameters
            .iter()
            .map(|p| base.value_at(&p.path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(TuneError::Input)?;
        let budget = options.budget.unwrap_or(spec.budget);
        let seed = options.seed.or(spec.seed).unwrap_or(scenario.seed);
        // About 10 replications per candidate raced (see `search`); 40% of the budget to the
        // initial design, the rest to refinement.
        let initial = match spec.initial {
            Some(n) => n as usize,
            None => ((budget * 4 / 100) as usize).clamp(8, 256),
        }
        .min((budget / u64::from(search::FIRST_RUNG)).max(1) as usize);
        let space = Space {
            parameters: spec.parameters.clone(),
        };
        let plan = Plan {
            scenario,
            spec,
            space,
            incumbent,
            seed,
            budget,
            initial,
            base,
            file: file.to_string(),
        };
        for i in 0..plan.space.dims() {
            let parameter = &plan.space.parameters[i];
            // A range's two ends; every value of a short list, the two ends of a long one.
            let tried: Vec<(Value, &str)> = match &parameter.domain {
                scenario::Domain::Choices(list) if list.len() <= MAX_CHOICES_TRIED => {
                    list.iter().map(|v| (v.clone(), "the value")).collect()
                }
                _ => vec![
                    (plan.space.value(i, 0.0), "the end"),
                    (plan.space.value(i, 1.0), "the end"),
                ],
            };
            for (value, what) in tried {
                let mut values = plan.incumbent.clone();
                values[i] = value;
                plan.policy(&values).map_err(|message| ScenarioError {
                    file: plan.file.clone(),
                    position: key_position(text, &parameter.path),
                    field: Some(format!("tune.parameters.\"{}\"", parameter.path)),
                    message: format!("{what} {}: {message}", values[i]),
                })?;
            }
        }
        Ok(plan)
    }

    /// The tuned policy with `values` at the parameters' paths, or why the scenario refuses it.
    pub fn policy(&self, values: &[Value]) -> Result<Policy, String> {
        let overrides: Vec<(String, Value)> = self
            .space
            .parameters
            .iter()
            .zip(values)
            .map(|(p, v)| (p.path.clone(), v.clone()))
            .collect();
        let mut s = self.base.parse(&overrides).map_err(|e| {
            e.to_string()
                .replace("with sweep parameters", "with tuned parameters")
        })?;
        Ok(s.policies.swap_remove(self.spec.policy_index))
    }

    /// `values` as `path = value` pairs.
    pub fn describe(&self, values: &[Value]) -> String {
        self.space
            .parameters
            .iter()
            .zip(values)
            .map(|(p, v)| format!("{} = {v}", p.path))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The tuned policy's `[[policy]]` entry with `values`, named `<policy>_tuned`.
    pub fn policy_entry(&self, values: &[Value]) -> Result<toml::Table, String> {
        let values: Vec<(String, Value)> = self
            .space
            .parameters
            .iter()
            .zip(values)
            .map(|(p, v)| (p.within_policy.clone(), v.clone()))
            .collect();
        self.base.policy_entry(
            self.spec.policy_index,
            &format!("{}_tuned", self.spec.policy),
            &values,
        )
    }
}

/// Lists of choices up to this long have every value tried before the search.
const MAX_CHOICES_TRIED: usize = 100;

/// Where the `[tune.parameters]` key of `path` is written: the first `"path"` (or `'path'`)
/// after the `[tune.parameters]` header, else anywhere (the key must be quoted to be one key).
fn key_position(text: &str, path: &str) -> Option<(usize, usize)> {
    let from = text.find("[tune.parameters]").unwrap_or(0);
    [format!("\"{path}\""), format!("'{path}'")]
        .iter()
        .find_map(|k| {
            text[from..]
                .find(k.as_str())
                .map(|o| from + o)
                .or_else(|| text.find(k.as_str()))
        })
        .map(|offset| scenario::line_col(text, offset))
}

/// A setting re-run on the validation replications.
#[derive(Clone, Debug)]
pub struct Validated {
    /// The candidate's id, or `None` for a policy of the scenario as written.
    pub candidate: Option<usize>,
    /// The candidate's id or the policy's name.
    pub label: String,
    /// Each validation replication's metrics, replication `r` on
    /// `replication_seed(validation_seed, r)`.
    pub runs: Vec<crate::metrics::Metrics>,
    /// Means and intervals over the validation replications.
    pub aggregate: Aggregate,
    /// The constraints on those.
    pub verdict: Verdict,
}

/// What a tune found.
pub struct Outcome {
    /// Every candidate, in id order.
    pub candidates: Vec<Candidate>,
    /// Replications the search ran.
    pub spent: u64,
    /// The feasible frontier's candidate ids, best on the first objective first.
    pub frontier: Vec<usize>,
    /// The validation seed: replication `r` ran on `replication_seed(validation_seed, r)`.
    pub validation_seed: u64,
    /// The frontier points re-run (at most [`MAX_VALIDATED`], in frontier order).
    pub validated: Vec<Validated>,
    /// Every policy of the scenario as written, on the same validation replications.
    pub baselines: Vec<Validated>,
    /// The recommendation: a position in `validated`.
    pub recommended: Option<usize>,
}

impl Outcome {
    /// Replications run to validate.
    pub fn validation_runs(&self, plan: &Plan) -> u64 {
        (self.validated.len() + self.baselines.len()) as u64
            * u64::from(plan.spec.validation_replications)
    }
}

/// Runs the tune: the search, then the validation. `progress(total)` is called once with an
/// estimate of the runs, then `progress(0)` after each run, from any thread.
pub fn run(
    plan: &Plan,
    options: &TuneOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Outcome, TuneError> {
    let pool = crate::run::simulation_pool(options.threads)
        .map_err(|e| TuneError::Input(format!("cannot start the worker threads: {e}")))?;
    let v = plan.spec.validation_replications as usize;
    progress(plan.budget as usize);
    let spec = &plan.spec;
    let mut search = Search::new(
        &plan.scenario,
        &plan.space,
        &spec.objectives,
        &spec.constraints,
        plan.seed,
        plan.budget,
    );
    let make = |values: &[Value]| plan.policy(values);
    let invalid = |message: String| {
        TuneError::Scenario(ScenarioError {
            file: plan.file.clone(),
            position: None,
            field: Some("tune.parameters".into()),
            message,
        })
    };
    let coords = plan.space.coords_of(&plan.incumbent);
    search
        .propose(coords, plan.incumbent.clone(), Stage::Incumbent, &make)
        .map_err(invalid)?;
    for coords in plan.space.design(plan.initial, plan.seed) {
        let values = plan.space.values(&coords);
        search
            .propose(coords, values, Stage::Design, &make)
            .map_err(invalid)?;
    }
    let tick = || progress(0);
    match search.run(&pool, &make, &tick, plan.initial) {
        Ok(()) => {}
        Err(SearchError::Invalid(m)) => return Err(invalid(m)),
        Err(SearchError::Guard(t)) => {
            let parameters = plan.describe(&search.candidates[t.candidate].values);
            return Err(TuneError::Guard {
                setting: format!("candidate {} ({parameters})", t.candidate),
                policy: spec.policy.clone(),
                parameters: Some(parameters),
                replication: t.replication,
                seed: t.seed,
                message: t.message,
            });
        }
    }
    // Settings raced to the last rung; only when none is feasible, those the budget stopped.
    let mut frontier = search.frontier(|s| *s == search::Status::Finished);
    if frontier.is_empty() {
        frontier = search.frontier(|s| *s == search::Status::Unfunded);
    }
    let first = &spec.objectives[0];
    let key = |i: usize| {
        let v = search.candidates[i]
            .aggregate()
            .mean
            .get(first.metric)
            .unwrap_or(f64::NAN);
        if first.maximize { -v } else { v }
    };
    frontier.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
    let validation_seed = derive(plan.seed, purpose("tune.validation"), &[]);
    let checked: Vec<usize> = frontier.iter().copied().take(MAX_VALIDATED).collect();
    let policies: Vec<&Policy> = checked
        .iter()
        .map(|&i| &search.candidates[i].policy)
        .chain(&plan.scenario.policies)
        .collect();
    let tasks: Vec<(usize, u32)> = (0..policies.len())
        .flat_map(|k| (0..v as u32).map(move |r| (k, r)))
        .collect();
    // The bar's length becomes exact: what the search ran, and the validation.
    progress(search.spent as usize + tasks.len());
    let scenario = &plan.scenario;
    let results: Vec<_> = pool.install(|| {
        tasks
            .par_iter()
            .map(|&(k, r)| {
                let seed = replication_seed(validation_seed, r);
                let out = simulate_full(scenario, policies[k], seed, false);
                progress(0);
                out.map(|o| o.metrics)
                    .map_err(|g| (k, r, seed, g.to_string()))
            })
            .collect()
    });
    let mut runs = vec![Vec::with_capacity(v); policies.len()];
    for (&(k, _), result) in tasks.iter().zip(results) {
        match result {
            Ok(m) => runs[k].push(m),
            Err((k, r, seed, message)) => {
                let (setting, parameters) = match checked.get(k) {
                    Some(&i) => {
                        let p = plan.describe(&search.candidates[i].values);
                        (format!("candidate {i} ({p}), re-validation"), Some(p))
                    }
                    None => (format!("policy \"{}\" as written", policies[k].name), None),
                };
                return Err(TuneError::Guard {
                    setting,
                    policy: policies[k].name.clone(),
                    parameters,
                    replication: r,
                    seed,
                    message,
                });
            }
        }
    }
    let judged = |candidate: Option<usize>, label: String, runs: &[crate::metrics::Metrics]| {
        let aggregate = Aggregate::of(runs);
        Validated {
            candidate,
            label,
            verdict: search::judge(&spec.constraints, &aggregate),
            aggregate,
            runs: runs.to_vec(),
        }
    };
    let validated: Vec<Validated> = checked
        .iter()
        .zip(&runs)
        .map(|(&i, r)| judged(Some(i), i.to_string(), r))
        .collect();
    let baselines: Vec<Validated> = plan
        .scenario
        .policies
        .iter()
        .zip(&runs[checked.len()..])
        .map(|(p, r)| judged(None, p.name.clone(), r))
        .collect();
    let recommended = validated.iter().position(|v| v.verdict == Verdict::Holds);
    Ok(Outcome {
        spent: search.spent,
        candidates: search.candidates,
        frontier,
        validation_seed,
        validated,
        baselines,
        recommended,
    })
}
