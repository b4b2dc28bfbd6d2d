//! Running a scenario's policies side by side.
//!
//! Task: run every selected policy for every replication on the same random draws, in parallel,
//! and return the results in a fixed order, so that the output is identical whatever the number
//! of threads. Replication 0 runs on the scenario's seed; replication `r > 0` on a seed derived
//! from `(seed, r)`, the same for every policy (common random numbers across policies).

use crate::engine::GuardTripped;
use crate::engine::rng::{derive, purpose};
use crate::metrics::recorder::Distribution;
use crate::metrics::timeseries::Sample;
use crate::metrics::{Aggregate, Metrics, ProviderMetrics, TenantMetrics};
use crate::model::Scenario;
use crate::model::config::MAX_REPLICATIONS;
use crate::model::world::{RunOutput, simulate_full};
use rayon::prelude::*;

pub mod export;

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Only these policies, in this order, a repeated name once (all of them, in file order,
    /// when empty).
    pub policies: Vec<String>,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Overrides the scenario's replications.
    pub replications: Option<u32>,
    /// Worker threads (all cores when `None`). The results do not depend on it.
    pub threads: Option<usize>,
    /// Set from another thread to stop the run: replications not yet started are skipped and
    /// the run returns [`RunError::Cancelled`] (a notebook's interrupt, for one).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// The results of one scenario run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Master seed used.
    pub seed: u64,
    /// Replications per policy.
    pub replications: u32,
    /// One entry per policy, in the order run.
    pub policies: Vec<PolicyResult>,
    /// Runs a guard stopped early (with `[guards] on_trip = "stop"`), one line each.
    pub warnings: Vec<String>,
}

/// One policy's results.
#[derive(Clone, Debug)]
pub struct PolicyResult {
    /// Policy name.
    pub name: String,
    /// Each replication's metrics, in replication order.
    pub runs: Vec<Metrics>,
    /// Means and confidence intervals over the replications.
    pub aggregate: Aggregate,
    /// Replication 0's time series, when the scenario sets `timeseries_interval`.
    pub series: Option<Vec<Sample>>,
    /// Replication 0's latency quantiles.
    pub distribution: Option<Distribution>,
    /// Each tenant's numbers over the replications, in tenant order; empty for a scenario with
    /// a single tenant (its numbers are the policy's).
    pub tenants: Vec<TenantResult>,
    /// Each provider's numbers over the replications, in provider order; empty for a scenario
    /// with a single provider (its numbers are the policy's).
    pub providers: Vec<ProviderResult>,
}

/// One provider's numbers under one policy.
#[derive(Clone, Debug)]
pub struct ProviderResult {
    /// Provider name.
    pub name: String,
    /// Means and confidence intervals over the replications.
    pub aggregate: Aggregate<ProviderMetrics>,
}

/// One tenant's numbers under one policy.
#[derive(Clone, Debug)]
pub struct TenantResult {
    /// Tenant name.
    pub name: String,
    /// Means and confidence intervals over the replications.
    pub aggregate: Aggregate<TenantMetrics>,
}

/// Why a run produced no report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A `--policy` name the scenario does not define.
    #[error("no policy named \"{name}\" in scenario \"{scenario}\" (it has: {available})")]
    UnknownPolicy {
        name: String,
        scenario: String,
        available: String,
    },
    /// The worker threads could not be started.
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
    /// More replications than [`MAX_REPLICATIONS`]: refused before anything is allocated for them.
    #[error("expected from 1 to {MAX_REPLICATIONS} replications, found {found}")]
    TooManyReplications { found: u32 },
    /// Stopped through [`RunOptions::cancel`] before every replication had run.
    #[error("cancelled")]
    Cancelled,
    /// A replication hit a guard.
    #[error("policy \"{policy}\", replication {replication} (seed {seed}): {source}")]
    Guard {
        policy: String,
        replication: u32,
        seed: u64,
        source: GuardTripped,
    },
}

/// Stack of each thread that runs simulations. The walk over a job's tree is a loop (it needs no
/// stack for depth), but a call that ends at once inside the client's admission line still
/// nests one level per such call, so a pathological tree could go deep; a default 2 MiB worker
/// stack is not much margin in a debug build. Only the pages a run touches are committed, so a
/// large reservation costs nothing.
pub const SIMULATION_STACK_BYTES: usize = 256 << 20;

/// A pool of `threads` workers (all cores when `None`) with [`SIMULATION_STACK_BYTES`] stacks.
pub fn simulation_pool(
    threads: Option<usize>,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .stack_size(SIMULATION_STACK_BYTES)
        .build()
}

/// The seed of replication `r` of a run seeded `seed`.
pub fn replication_seed(seed: u64, r: u32) -> u64 {
    if r == 0 {
        seed
    } else {
        derive(seed, purpose("replication"), &[r as u64])
    }
}

/// Runs the selected policies of `scenario`.
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<Report, RunError> {
    run_with_progress(scenario, options, &|_| {})
}

/// [`run`], calling `progress(total)` once before starting and `progress(0)` after each finished
/// replication, from any thread (for a progress bar; the results do not depend on it).
pub fn run_with_progress(
    scenario: &Scenario,
    options: &RunOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Report, RunError> {
    let seed = options.seed.unwrap_or(scenario.seed);
    let replications = options.replications.unwrap_or(scenario.replications).max(1);
    if replications > MAX_REPLICATIONS {
        return Err(RunError::TooManyReplications {
            found: replications,
        });
    }
    let mut selected: Vec<usize> = if options.policies.is_empty() {
        (0..scenario.policies.len()).collect()
    } else {
        options
            .policies
            .iter()
            .map(|name| {
                scenario
                    .policies
                    .iter()
                    .position(|p| &p.name == name)
                    .ok_or_else(|| RunError::UnknownPolicy {
                        name: name.clone(),
                        scenario: scenario.name.clone(),
                        available: scenario
                            .policies
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect::<Result<_, _>>()?
    };
    // `--policy x --policy x` runs x once, where it was first named.
    let mut seen = std::collections::HashSet::new();
    selected.retain(|&p| seen.insert(p));
    let tasks: Vec<(usize, u32)> = selected
        .iter()
        .flat_map(|&p| (0..replications).map(move |r| (p, r)))
        .collect();
    progress(tasks.len());
    let simulate_all = || -> Vec<Result<RunOutput, RunError>> {
        tasks
            .par_iter()
            .map(|&(p, r)| {
                if options
                    .cancel
                    .as_ref()
                    .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
                {
                    return Err(RunError::Cancelled);
                }
                let policy = &scenario.policies[p];
                let seed = replication_seed(seed, r);
                let result = simulate_full(scenario, policy, seed, r == 0);
                progress(0);
                result.map_err(|source| RunError::Guard {
                    policy: policy.name.clone(),
                    replication: r,
                    seed,
                    source,
                })
            })
            .collect()
    };
    // On a worker of a pool we made (a sweep's), the stacks are already deep enough.
    let results = if rayon::current_thread_index().is_some() {
        simulate_all()
    } else {
        simulation_pool(options.threads)
            .map_err(|e| RunError::Threads(e.to_string()))?
            .install(simulate_all)
    };
    let mut results = results.into_iter();
    let mut policies = Vec::new();
    let mut warnings = Vec::new();
    for &p in &selected {
        let outputs = (&mut results)
            .take(replications as usize)
            .collect::<Result<Vec<_>, _>>()?;
        for (r, o) in outputs.iter().enumerate() {
            if let Some(g) = &o.guard {
                warnings.push(format!(
                    "policy \"{}\", replication {r}: stopped early: {g}",
                    scenario.policies[p].name
                ));
            }
        }
        let series = outputs.first().and_then(|o| o.series.clone());
        let distribution = outputs.first().and_then(|o| o.distribution.clone());
        let tenants = if scenario.tenants.len() > 1 {
            scenario
                .tenants
                .iter()
                .enumerate()
                .map(|(t, name)| {
                    let runs: Vec<TenantMetrics> =
                        outputs.iter().map(|o| o.tenants[t].clone()).collect();
                    TenantResult {
                        name: name.clone(),
                        aggregate: Aggregate::of(&runs),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let providers = if scenario.providers.len() > 1 {
            scenario
                .providers
                .iter()
                .enumerate()
                .map(|(k, provider)| {
                    let runs: Vec<ProviderMetrics> =
                        outputs.iter().map(|o| o.providers[k].clone()).collect();
                    ProviderResult {
                        name: provider.name.clone(),
                        aggregate: Aggregate::of(&runs),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let runs: Vec<Metrics> = outputs.into_iter().map(|o| o.metrics).collect();
        policies.push(PolicyResult {
            name: scenario.policies[p].name.clone(),
            aggregate: Aggregate::of(&runs),
            runs,
            series,
            distribution,
            tenants,
            providers,
        });
    }
    Ok(Report {
        scenario: scenario.name.clone(),
        seed,
        replications,
        policies,
        warnings,
    })
}
