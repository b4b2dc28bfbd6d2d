//! The checks every generated scenario, and every file of `tests/corpus/`, goes through. Each
//! returns `Err` with a message naming what broke; the identities are derived from the validated
//! [`Scenario`], never from the generator, so that a plain scenario file is checked the same way.

use super::generator::Case;
use stampede::metrics::Metrics;
use stampede::model::concurrency::{ConcurrencyLimit, ConcurrencySpec};
use stampede::model::config::ThrottleSpec;
use stampede::model::dist::Dist;
use stampede::model::workload::Node;
use stampede::model::world::{RunOutput, simulate_full};
use stampede::model::{Arrival, Policy, Scenario};
use stampede::run::export::{latency_csv, runs_csv, tenants_csv, timeseries_csv, to_csv, to_json};
use stampede::run::{PolicyResult, Report, RunError, RunOptions, replication_seed, run};
use std::collections::BTreeMap;
use std::path::Path;

pub type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
{
        let holds: bool = $cond;
        if !holds {
            return Err(format!($($arg)+));
        }
    }
    };
}

/// Parses a generated case, its trace files written beside it in a fresh directory.
pub fn load(case: &Case) -> Result<Scenario, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (name, text) in &case.files {
        std::fs::write(dir.path().join(name), text).map_err(|e| e.to_string())?;
    }
    let file = dir.path().join("gen.toml");
    stampede::scenario::parse(&case.toml, &file.to_string_lossy())
        .map_err(|e| format!("the generated scenario does not parse: {e}"))
}

/// Parses a scenario file (its trace files relative to it).
pub fn load_file(path: &Path) -> Result<Scenario, String> {
    stampede::scenario::load(path).map_err(|e| e.to_string())
}

/// Runs `s` with `options`.
fn run_with(s: &Scenario, options: RunOptions) -> Result<Report, RunError> {
    run(s, &options)
}

/// Every file `stampede run` writes that holds numbers, and the warnings, as one text (or the
/// error the run ended with).
pub fn output_bytes(r: &Result<Report, RunError>) -> Vec<(&'static str, String)> {
    match r {
        Err(e) => vec![("error", e.to_string())],
        Ok(rep) => vec![
            ("summary.json", to_json(rep)),
            ("summary.csv", to_csv(rep)),
            ("runs.csv", runs_csv(rep)),
            ("latency.csv", latency_csv(rep)),
            ("tenants.csv", tenants_csv(rep).unwrap_or_default()),
            ("timeseries.csv", timeseries_csv(rep).unwrap_or_default()),
            ("warnings", rep.warnings.join("\n")),
        ],
    }
}

/// Where two sets of outputs first differ, or `None`.
fn first_difference(a: &[(&'static str, String)], b: &[(&'static str, String)]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!(
            "different files: {:?} vs {:?}",
            a.iter().map(|f| f.0).collect::<Vec<_>>(),
            b.iter().map(|f| f.0).collect::<Vec<_>>()
        ));
    }
    for ((name, x), (_, y)) in a.iter().zip(b) {
        if x != y {
            let line = x
                .lines()
                .zip(y.lines())
                .position(|(p, q)| p != q)
                .unwrap_or(x.lines().count().min(y.lines().count()));
            return Some(format!(
                "{name} differs at line {}:\n  first:  {}\n  second: {}",
                line + 1,
                x.lines().nth(line).unwrap_or("<end>"),
                y.lines().nth(line).unwrap_or("<end>")
            ));
        }
    }
    None
}

/// Runs must end without panicking, with a guard error only where the scenario lets guards fail
/// runs, and with the outputs their options ask for.
pub fn runs_complete(s: &Scenario) -> Check {
    for p in &s.policies {
        for r in 0..s.replications {
            let seed = replication_seed(s.seed, r);
            match simulate_full(s, p, seed, r == 0) {
                Ok(out) => {
                    let m = &out.metrics;
                    ensure!(
                        out.guard.is_some() == (m.guard_tripped == 1.0),
                        "policy {}, replication {r}: guard {:?} but guard_tripped = {}",
                        p.name,
                        out.guard,
                        m.guard_tripped
                    );
                    ensure!(
                        out.guard.is_none() || s.guards.stop_quietly,
                        "policy {}: a guard stopped the run quietly without on_trip = \"stop\"",
                        p.name
                    );
                    ensure!(
                        out.distribution.is_some() == (r == 0),
                        "policy {}, replication {r}: latency distribution present = {}",
                        p.name,
                        out.distribution.is_some()
                    );
                    ensure!(
                        out.series.is_some() == (r == 0 && s.timeseries_interval_ns.is_some()),
                        "policy {}, replication {r}: time series present = {}",
                        p.name,
                        out.series.is_some()
                    );
                    ensure!(
                        out.tenants.len() == s.tenants.len(),
                        "policy {}: {} tenant rows for {} tenants",
                        p.name,
                        out.tenants.len(),
                        s.tenants.len()
                    );
                }
                Err(g) => ensure!(
                    !s.guards.stop_quietly,
                    "policy {}, replication {r}: {g}, although on_trip = \"stop\"",
                    p.name
                ),
            }
        }
    }
    Ok(())
}

/// Jobs the sources emit, when that is fixed by the scenario (not by random arrivals).
pub fn expected_jobs(s: &Scenario) -> Option<u64> {
    let mut total = 0u64;
    for src in &s.sources {
        total += match &src.arrival {
            Arrival::Burst { count, .. } => *count,
            Arrival::Poisson {
                count: Some(c),
                until_ns: None,
                ..
            }
            | Arrival::Diurnal {
                count: Some(c),
                until_ns: None,
                ..
            } => *c,
            Arrival::Interval {
                every_ns,
                at_ns,
                count,
                until_ns,
            } => {
                let by_time = until_ns.map(|u| {
                    if *at_ns > u {
                        0
                    } else {
                        (u - at_ns) / every_ns + 1
                    }
                });
                match (count, by_time) {
                    (Some(c), Some(t)) => (*c).min(t),
                    (Some(c), None) => *c,
                    (None, Some(t)) => t,
                    (None, None) => return None,
                }
            }
            Arrival::Trace(rows) => rows.len() as u64,
            _ => return None,
        };
    }
    Some(total)
}

/// Calls one job rooted at `node` makes when nothing fails and no limit stops it, if that is
/// fixed (constant widths and calls, spawn probabilities 0 or 1).
fn node_calls(
    s: &Scenario,
    node: usize,
    depth: u32,
    memo: &mut BTreeMap<(usize, u32), Option<u64>>,
) -> Option<u64> {
    if depth > 64 {
        return None;
    }
    if let Some(&c) = memo.get(&(node, depth)) {
        return c;
    }
    let constant = |d: &Dist| match d {
        Dist::Constant(v) => Some(v.round() as u32 as u64),
        _ => None,
    };
    let c = match &s.nodes[node] {
        Node::Call(_) => Some(1),
        Node::Wait { .. } => Some(0),
        Node::Agent { calls, .. } => constant(calls),
        Node::Seq { steps: kids } | Node::Parallel { branches: kids } => kids
            .iter()
            .map(|&k| node_calls(s, k, depth, memo))
            .sum::<Option<u64>>(),
        Node::Fanout { width, child } => constant(width)
            .zip(node_calls(s, *child, depth, memo))
            .map(|(w, c)| w * c),
        Node::Spawn {
            probability,
            width,
            child,
            max_depth,
        } => {
            if depth >= *max_depth || *probability == 0.0 {
                Some(0)
            } else if *probability == 1.0 {
                constant(width)
                    .zip(node_calls(s, *child, depth + 1, memo))
                    .map(|(w, c)| w * c)
            } else {
                None
            }
        }
    };
    memo.insert((node, depth), c);
    c
}

/// Calls all jobs make together when nothing fails and no limit stops them, if that is fixed.
pub fn exact_calls(s: &Scenario) -> Option<u64> {
    let mut memo = BTreeMap::new();
    let mut total = 0u64;
    for src in &s.sources {
        total += match &src.arrival {
            Arrival::Trace(rows) => rows
                .iter()
                .map(|r| node_calls(s, r.root, 0, &mut memo))
                .sum::<Option<u64>>()?,
            _ => {
                let jobs = expected_jobs(&Scenario {
                    sources: vec![src.clone()],
                    ..s.clone()
                })?;
                jobs * node_calls(s, src.root, 0, &mut memo)?
            }
        };
    }
    Some(total)
}

/// Whether `a` and `b` are equal to a relative 1e-9 (sums of floats in another order).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The identities one run's outputs must satisfy.
pub fn run_identities(s: &Scenario, p: &Policy, out: &RunOutput) -> Check {
    let m = &out.metrics;
    let pr = &s.providers[0];
    let done = m.guard_tripped == 0.0;

    // Tokens and money.
    ensure!(
        m.tokens_billed == m.tokens_input + m.tokens_output,
        "tokens_billed {} != tokens_input {} + tokens_output {}",
        m.tokens_billed,
        m.tokens_input,
        m.tokens_output
    );
    ensure!(
        m.tokens_wasted <= m.tokens_billed,
        "tokens_wasted {} > tokens_billed {}",
        m.tokens_wasted,
        m.tokens_billed
    );
    ensure!(
        m.cost_wasted_usd <= m.cost_usd * (1.0 + 1e-9) + 1e-12,
        "cost_wasted_usd {} > cost_usd {}",
        m.cost_wasted_usd,
        m.cost_usd
    );
    let priced = (m.tokens_input * pr.price_input_per_mtok
        + m.tokens_output * pr.price_output_per_mtok
        + m.tokens_cache_read * (pr.price_cache_read_per_mtok - pr.price_input_per_mtok)
        + m.tokens_cache_write * (pr.price_cache_write_per_mtok - pr.price_input_per_mtok))
        / 1e6;
    ensure!(
        close(m.cost_usd, priced),
        "cost_usd {} is not the billed tokens at the provider's prices ({priced})",
        m.cost_usd
    );

    // Jobs: every job that arrived ended exactly one way.
    let ended = m.jobs_ok + m.jobs_failed + m.jobs_budget_exhausted;
    if done {
        ensure!(
            m.jobs == ended,
            "jobs {} != jobs_ok {} + jobs_failed {} + jobs_budget_exhausted {}",
            m.jobs,
            m.jobs_ok,
            m.jobs_failed,
            m.jobs_budget_exhausted
        );
        if let Some(n) = expected_jobs(s) {
            ensure!(
                m.jobs == n as f64,
                "jobs {} but the sources emit {n}",
                m.jobs
            );
        }
    } else {
        ensure!(m.jobs >= ended, "jobs {} < jobs ended {ended}", m.jobs);
    }
    // A job fails only through a call that gave up.
    ensure!(
        m.jobs_failed <= m.gave_up,
        "jobs_failed {} > gave_up {}",
        m.jobs_failed,
        m.gave_up
    );

    // Attempts: each one sent has at most one outcome (success of its call, 429, 5xx,
    // non-retryable error, timeout); without hedges exactly one, once the run is over.
    let outcomes = m.calls_ok + m.rate_limited + m.server_errors + m.errors + m.timeouts;
    ensure!(
        m.attempts >= outcomes,
        "attempts {} < calls_ok + rate_limited + server_errors + errors + timeouts = {outcomes}",
        m.attempts
    );
    // Each call's first send, each retry and each hedge is sent, short-circuited by the breaker
    // or rejected by the throttle (a hedge may also be dropped unsent when its call is answered).
    let sends = m.attempts + m.short_circuited + m.throttled_locally;
    if done {
        if p.hedge.is_none() {
            ensure!(
                m.attempts == outcomes,
                "attempts {} != calls_ok + rate_limited + server_errors + errors + timeouts = {outcomes} (no hedging)",
                m.attempts
            );
            ensure!(
                sends == m.calls + m.retries,
                "attempts + short_circuited + throttled_locally = {sends} != calls {} + retries {} (no hedging)",
                m.calls,
                m.retries
            );
        } else {
            ensure!(
                sends <= m.calls + m.retries + m.hedges,
                "attempts + short_circuited + throttled_locally = {sends} > calls {} + retries {} + hedges {}",
                m.calls,
                m.retries,
                m.hedges
            );
        }
        // Layers multiply: at most the product of their attempts per call.
        let per_call: f64 = p.layers.iter().map(|l| l.max_attempts as f64).product();
        ensure!(
            m.retries <= m.calls * (per_call - 1.0),
            "retries {} > calls {} x ({per_call} attempts per call - 1)",
            m.retries,
            m.calls
        );
        if let Some(c) = exact_calls(s)
            && m.gave_up == 0.0
            && m.jobs_budget_exhausted == 0.0
        {
            ensure!(
                m.calls_ok == c as f64,
                "calls_ok {} but the job trees make {c} calls (none gave up, none was cut)",
                m.calls_ok
            );
        }
        if m.jobs > 0.0 {
            ensure!(
                m.call_latency_max_s <= m.job_latency_max_s + 1e-9,
                "call_latency_max_s {} > job_latency_max_s {}",
                m.call_latency_max_s,
                m.job_latency_max_s
            );
        }
    }
    // Why calls gave up: each give-up has one cause at most (layers exhausted have none).
    let causes = m.errors
        + m.deadline_exceeded
        + m.retries_throttled
        + if p.hedge.is_none() {
            m.short_circuited
        } else {
            0.0 // a short-circuited hedge is dropped, not given up
        };
    ensure!(
        causes <= m.gave_up,
        "errors {} + deadline_exceeded {} + retries_throttled {} (+ short_circuited {}) > gave_up {}",
        m.errors,
        m.deadline_exceeded,
        m.retries_throttled,
        m.short_circuited,
        m.gave_up
    );
    ensure!(
        m.agent_restarts <= m.gave_up,
        "agent_restarts {} > gave_up {}",
        m.agent_restarts,
        m.gave_up
    );
    ensure!(
        m.hedges_won <= m.hedges && m.hedges_won <= m.calls_ok,
        "hedges_won {} > hedges {} or calls_ok {}",
        m.hedges_won,
        m.hedges,
        m.calls_ok
    );

    // What only a failure sets off needs one: the breaker trips on 429s, 5xx and timeouts; the
    // SRE throttle (k >= 1) rejects only once requests outnumber accepts; a budget, a deadline
    // or a restart acts only on a failed attempt.
    let failures = m.rate_limited + m.server_errors + m.timeouts;
    ensure!(
        m.short_circuited == 0.0 || failures > 0.0,
        "short_circuited {} with no 429, 5xx or timeout",
        m.short_circuited
    );
    if let Some(ThrottleSpec::Sre { k, .. }) = p.throttle
        && k >= 1.0
    {
        ensure!(
            m.throttled_locally == 0.0 || failures + m.errors > 0.0,
            "throttled_locally {} although the provider refused nothing",
            m.throttled_locally
        );
    }
    ensure!(
        m.retries_throttled + m.deadline_exceeded + m.retries == 0.0
            || failures + m.throttled_locally > 0.0,
        "retries {}, retries_throttled {}, deadline_exceeded {} without a failed attempt",
        m.retries,
        m.retries_throttled,
        m.deadline_exceeded
    );
    // A provider with `c` serving slots makes attempts wait only with more than `c` admitted.
    if let Some(c) = pr.concurrency {
        ensure!(
            m.provider_waited_fraction == 0.0 || m.peak_in_flight > c as f64,
            "attempts waited for one of {c} serving slots with at most {} in flight",
            m.peak_in_flight
        );
    }
    // A work limit on calls caps every job's calls (restarts included).
    if let Some(max) = p.work_limits.max_calls {
        ensure!(
            m.calls <= m.jobs * max as f64,
            "calls {} > jobs {} x max_calls {max}",
            m.calls,
            m.jobs
        );
    }
    // No attempt bills more output than the largest `max_tokens` any call asks for.
    let max_tokens = s
        .nodes
        .iter()
        .filter_map(|n| match n {
            Node::Call(c) | Node::Agent { call: c, .. } => Some(c.max_tokens),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    ensure!(
        m.tokens_output <= m.attempts * max_tokens as f64,
        "tokens_output {} > attempts {} x the largest max_tokens {max_tokens}",
        m.tokens_output,
        m.attempts
    );

    // What a policy or provider does not have never happens.
    let off: [(&str, bool, f64); 16] = [
        ("short_circuited", p.breaker.is_none(), m.short_circuited),
        (
            "throttled_locally",
            !matches!(p.throttle, Some(ThrottleSpec::Sre { .. })),
            m.throttled_locally,
        ),
        ("retries_throttled", p.budget.is_none(), m.retries_throttled),
        (
            "deadline_exceeded",
            p.call_deadline_ns.is_none() && p.job_deadline_ns.is_none(),
            m.deadline_exceeded,
        ),
        ("hedges", p.hedge.is_none(), m.hedges),
        ("timeouts", p.timeout_ns.is_none(), m.timeouts),
        (
            "tokens_wasted",
            p.timeout_ns.is_none() && p.hedge.is_none(),
            m.tokens_wasted,
        ),
        ("retries", p.layers.is_empty(), m.retries),
        ("agent_restarts", p.agent_restarts == 0, m.agent_restarts),
        (
            "jobs_budget_exhausted",
            p.work_limits.is_empty(),
            m.jobs_budget_exhausted,
        ),
        ("errors", pr.limits.is_empty(), m.errors),
        (
            "rate_limited",
            pr.limits.is_empty() && pr.max_in_flight.is_none(),
            m.rate_limited,
        ),
        (
            "server_errors",
            pr.outages.is_empty() && pr.error_rate == 0.0,
            m.server_errors,
        ),
        (
            "peak_client_queue",
            p.buckets.is_empty() && p.concurrency.is_none(),
            m.peak_client_queue,
        ),
        (
            "provider_wait_mean_s",
            pr.concurrency.is_none(),
            m.provider_wait_mean_s,
        ),
        (
            "cost_usd",
            pr.price_input_per_mtok == 0.0 && pr.price_output_per_mtok == 0.0,
            m.cost_usd,
        ),
    ];
    for (name, absent, value) in off {
        ensure!(
            !absent || value == 0.0,
            "{name} = {value} although the scenario has nothing that causes it"
        );
    }

    // Bounds.
    if let Some(max) = pr.max_in_flight {
        ensure!(
            m.peak_in_flight <= max as f64,
            "peak_in_flight {} > provider max_in_flight {max}",
            m.peak_in_flight
        );
    }
    // A static concurrency limit holds every attempt that passes through admission (the SDK
    // layer's retries do not).
    let static_limit = p.concurrency.and_then(|c| {
        let limit = ConcurrencyLimit::new(c).limit();
        (ConcurrencySpec::fixed(limit).ok() == Some(c)).then_some(limit)
    });
    if let Some(limit) = static_limit
        && p.layers.iter().all(|l| l.through_admission)
    {
        ensure!(
            m.peak_in_flight <= limit as f64,
            "peak_in_flight {} > the policy's static concurrency limit {limit}",
            m.peak_in_flight
        );
    }
    ensure!(
        m.mean_in_flight <= m.peak_in_flight + 1e-9 && m.mean_in_flight >= 0.0,
        "mean_in_flight {} outside [0, peak_in_flight {}]",
        m.mean_in_flight,
        m.peak_in_flight
    );
    ensure!(
        (0.0..=1.0).contains(&m.provider_waited_fraction),
        "provider_waited_fraction {}",
        m.provider_waited_fraction
    );
    ensure!(
        m.provider_wait_mean_s <= m.provider_time_mean_s + 1e-9,
        "provider_wait_mean_s {} > provider_time_mean_s {}",
        m.provider_wait_mean_s,
        m.provider_time_mean_s
    );
    for (what, q) in [
        (
            "call",
            [
                m.call_latency_p50_s,
                m.call_latency_p90_s,
                m.call_latency_p99_s,
                m.call_latency_max_s,
            ],
        ),
        (
            "job",
            [
                m.job_latency_p50_s,
                m.job_latency_p90_s,
                m.job_latency_p99_s,
                m.job_latency_max_s,
            ],
        ),
    ] {
        ensure!(
            q[0] >= 0.0 && q.windows(2).all(|w| w[0] <= w[1]),
            "{what} latency quantiles p50, p90, p99, max out of order: {q:?}"
        );
    }
    ensure!(
        m.call_latency_mean_s <= m.call_latency_max_s + 1e-9
            && m.job_latency_mean_s <= m.job_latency_max_s + 1e-9,
        "a mean latency above its maximum"
    );
    ensure!(
        m.job_latency_max_s <= m.makespan_s + 1e-9,
        "job_latency_max_s {} > makespan_s {}",
        m.job_latency_max_s,
        m.makespan_s
    );
    let max_time_s = s.guards.max_time.0 as f64 / 1e9;
    ensure!(
        m.makespan_s <= max_time_s,
        "makespan_s {} past max_sim_time {max_time_s}",
        m.makespan_s
    );
    ensure!(
        m.events <= s.guards.max_events as f64,
        "events {} > max_events {}",
        m.events,
        s.guards.max_events
    );
    let tenants = s.tenants.len() as f64;
    ensure!(
        m.fairness_index >= 1.0 / tenants - 1e-9 && m.fairness_index <= 1.0 + 1e-9,
        "fairness_index {} outside [1/{tenants}, 1]",
        m.fairness_index
    );

    // A provider that never refuses or fails and a client that never gives up early: every call
    // succeeds (jobs end ok, or stopped by a work limit).
    let flawless = pr.limits.is_empty()
        && pr.max_in_flight.is_none()
        && pr.outages.is_empty()
        && pr.error_rate == 0.0
        && p.timeout_ns.is_none()
        && match p.throttle {
            Some(ThrottleSpec::Sre { k, .. }) => k >= 1.0,
            _ => true,
        };
    if flawless {
        ensure!(
            m.gave_up == 0.0 && m.jobs_failed == 0.0,
            "gave_up {} and jobs_failed {} against a provider that never refuses or fails",
            m.gave_up,
            m.jobs_failed
        );
    }

    // The latency distribution (latency.csv) agrees with the summary's quantiles.
    if let Some(d) = &out.distribution {
        for (what, q, summary) in [
            (
                "call",
                &d.call_s,
                [
                    m.call_latency_p50_s,
                    m.call_latency_p90_s,
                    m.call_latency_p99_s,
                    m.call_latency_max_s,
                ],
            ),
            (
                "job",
                &d.job_s,
                [
                    m.job_latency_p50_s,
                    m.job_latency_p90_s,
                    m.job_latency_p99_s,
                    m.job_latency_max_s,
                ],
            ),
        ] {
            ensure!(
                q.windows(2).all(|w| w[0] <= w[1]),
                "{what} latency distribution not monotone"
            );
            let grid = [50, 90, 99, d.quantiles.len() - 1];
            let from_grid: Vec<f64> = grid.iter().map(|&i| q[i]).collect();
            ensure!(
                from_grid == summary,
                "{what} latency at 0.5, 0.9, 0.99, 1 in the distribution {from_grid:?}, in the summary {summary:?}"
            );
        }
    }

    // The time series (timeseries.csv) counts what the summary counts, and ends drained.
    if let Some(series) = &out.series {
        let interval_s = s.timeseries_interval_ns.unwrap_or(1) as f64 / 1e9;
        // Each row covers the time since the row before (since 0 for the first): one interval,
        // except the last, which ends where the run ended.
        let spans: Vec<f64> = series
            .iter()
            .scan(0.0, |prev: &mut f64, x| {
                let span = x.t_s - *prev;
                *prev = x.t_s;
                Some(span)
            })
            .collect();
        let total = |f: &dyn Fn(&stampede::metrics::timeseries::Sample) -> f64| -> f64 {
            series
                .iter()
                .zip(&spans)
                .map(|(x, span)| (f(x) * span).round())
                .sum()
        };
        for (name, summed, metric) in [
            (
                "rate_limited",
                total(&|x| x.rate_limited_per_s),
                m.rate_limited,
            ),
            ("server_errors", total(&|x| x.errors_per_s), m.server_errors),
            ("timeouts", total(&|x| x.timeouts_per_s), m.timeouts),
            ("calls_ok", total(&|x| x.goodput_calls_per_s), m.calls_ok),
        ] {
            ensure!(
                summed == metric,
                "{name}: the time series adds up to {summed}, the summary has {metric}"
            );
        }
        let n = spans.len();
        ensure!(
            spans
                .iter()
                .take(n.saturating_sub(1))
                .all(|d| (d - interval_s).abs() < 1e-6),
            "time series samples not one interval apart"
        );
        ensure!(
            spans
                .last()
                .is_none_or(|d| *d > 0.0 && *d < 1.25 * interval_s + 1e-6),
            "the last row covers {:?} s, not (0, 1.25] intervals",
            spans.last()
        );
        if let Some(last) = series.last() {
            ensure!(
                close(last.spend_usd, m.cost_usd),
                "the time series ends at {} USD spent, the summary has {}",
                last.spend_usd,
                m.cost_usd
            );
            ensure!(
                last.t_s + 1e-9 >= m.makespan_s,
                "the time series ends at {} s, before the makespan {}",
                last.t_s,
                m.makespan_s
            );
            if done {
                ensure!(
                    (last.in_flight, last.provider_queue, last.client_queue) == (0, 0, 0),
                    "the run is over but the time series ends with {} in flight, {} queued at the provider, {} at the client",
                    last.in_flight,
                    last.provider_queue,
                    last.client_queue
                );
            }
        }
    }

    // Tenants: their numbers add up to the run's.
    ensure!(
        out.tenants.len() == s.tenants.len(),
        "{} tenant rows for {} tenants",
        out.tenants.len(),
        s.tenants.len()
    );
    let sum = |f: &dyn Fn(&stampede::metrics::TenantMetrics) -> f64| -> f64 {
        out.tenants.iter().map(f).sum()
    };
    for (name, total, parts) in [
        ("jobs", m.jobs, sum(&|t| t.jobs)),
        ("jobs_ok", m.jobs_ok, sum(&|t| t.jobs_ok)),
        ("jobs_failed", m.jobs_failed, sum(&|t| t.jobs_failed)),
        (
            "jobs_budget_exhausted",
            m.jobs_budget_exhausted,
            sum(&|t| t.jobs_budget_exhausted),
        ),
        ("attempts", m.attempts, sum(&|t| t.attempts)),
        ("rate_limited", m.rate_limited, sum(&|t| t.rate_limited)),
        ("tokens_billed", m.tokens_billed, sum(&|t| t.tokens_billed)),
    ] {
        ensure!(
            total == parts,
            "{name}: the run has {total}, its tenants add up to {parts}"
        );
    }
    ensure!(
        close(m.cost_usd, sum(&|t| t.cost_usd)),
        "cost_usd: the run has {}, its tenants add up to {}",
        m.cost_usd,
        sum(&|t| t.cost_usd)
    );
    Ok(())
}

/// The identities of every run of every policy.
pub fn accounting(s: &Scenario) -> Check {
    for p in &s.policies {
        for r in 0..s.replications {
            let seed = replication_seed(s.seed, r);
            // A guard that fails the run leaves nothing to check (`runs_complete` checks when).
            if let Ok(out) = simulate_full(s, p, seed, r == 0) {
                run_identities(s, p, &out).map_err(|e| {
                    format!("policy {}, replication {r} (seed {seed}): {e}", p.name)
                })?;
            }
        }
    }
    Ok(())
}

/// A report's own consistency: one result per policy and replication, a warning per run a guard
/// stopped, tenants' means adding up to the policy's.
fn report_identities(s: &Scenario, names: &[String], rep: &Report) -> Check {
    ensure!(
        rep.policies.iter().map(|p| &p.name).eq(names.iter()),
        "policies {:?}, asked for {names:?}",
        rep.policies.iter().map(|p| &p.name).collect::<Vec<_>>()
    );
    let mut tripped = 0;
    for p in &rep.policies {
        ensure!(
            p.runs.len() == s.replications as usize,
            "policy {}: {} runs for {} replications",
            p.name,
            p.runs.len(),
            s.replications
        );
        tripped += p.runs.iter().filter(|m| m.guard_tripped == 1.0).count();
        if s.tenants.len() > 1 {
            ensure!(
                p.tenants.len() == s.tenants.len(),
                "policy {}: {} tenants reported of {}",
                p.name,
                p.tenants.len(),
                s.tenants.len()
            );
            let mean = &p.aggregate.mean;
            for (name, total) in [
                ("jobs", mean.jobs),
                ("attempts", mean.attempts),
                ("tokens_billed", mean.tokens_billed),
            ] {
                let parts: f64 = p
                    .tenants
                    .iter()
                    .map(|t| t.aggregate.mean.get(name).unwrap())
                    .sum();
                ensure!(
                    close(total, parts),
                    "policy {}: mean {name} {total}, its tenants' means add up to {parts}",
                    p.name
                );
            }
        } else {
            ensure!(
                p.tenants.is_empty(),
                "policy {}: tenants reported for a single tenant",
                p.name
            );
        }
    }
    ensure!(
        rep.warnings.len() == tripped,
        "{} warnings for {tripped} runs a guard stopped",
        rep.warnings.len()
    );
    Ok(())
}

fn names(s: &Scenario) -> Vec<String> {
    s.policies.iter().map(|p| p.name.clone()).collect()
}

/// Same scenario and seed: the same bytes, twice, and on a 1-thread and a 2-thread pool.
pub fn determinism(s: &Scenario) -> Check {
    let first = run_with(s, RunOptions::default());
    if let Ok(rep) = &first {
        report_identities(s, &names(s), rep)?;
    }
    let reference = output_bytes(&first);
    let again = output_bytes(&run_with(s, RunOptions::default()));
    if let Some(d) = first_difference(&reference, &again) {
        return Err(format!("two runs differ: {d}"));
    }
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| e.to_string())?;
        let bytes = output_bytes(&pool.install(|| run_with(s, RunOptions::default())));
        if let Some(d) = first_difference(&reference, &bytes) {
            return Err(format!("a run on {threads} thread(s) differs: {d}"));
        }
    }
    Ok(())
}

fn bits(m: &Metrics) -> Vec<u64> {
    m.values().iter().map(|v| v.to_bits()).collect()
}

/// Whether two results of the same policy are identical: every replication's metrics, the
/// tenants, the time series and the latency distribution.
fn same_results(a: &PolicyResult, b: &PolicyResult) -> Check {
    for (r, (x, y)) in a.runs.iter().zip(&b.runs).enumerate() {
        if bits(x) != bits(y) {
            let diff: Vec<String> = Metrics::NAMES
                .iter()
                .zip(x.values().iter().zip(y.values()))
                .filter(|(_, (p, q))| p.to_bits() != q.to_bits())
                .map(|(n, (p, q))| format!("{n} {p} vs {q}"))
                .collect();
            return Err(format!(
                "replication {r}: {}",
                diff.into_iter().take(6).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    ensure!(a.runs.len() == b.runs.len(), "replications differ");
    ensure!(
        a.tenants.len() == b.tenants.len()
            && a.tenants.iter().zip(&b.tenants).all(|(x, y)| {
                x.name == y.name
                    && x.aggregate.mean.values().iter().map(|v| v.to_bits()).eq(y
                        .aggregate
                        .mean
                        .values()
                        .iter()
                        .map(|v| v.to_bits()))
            }),
        "tenant numbers differ"
    );
    // Compared as text: a series holds NaN (no token limit), which equals nothing.
    ensure!(
        format!("{:?}", a.series) == format!("{:?}", b.series),
        "time series differ"
    );
    ensure!(
        format!("{:?}", a.distribution) == format!("{:?}", b.distribution),
        "latency distributions differ"
    );
    Ok(())
}

/// Common random numbers: a policy's results do not depend on which policies run beside it, nor
/// on their order, nor on its own name.
pub fn common_random_numbers(s: &Scenario) -> Check {
    let all = names(s);
    let full = run_with(s, RunOptions::default());
    let alone: Vec<Result<Report, RunError>> = all
        .iter()
        .map(|n| {
            run_with(
                s,
                RunOptions {
                    policies: vec![n.clone()],
                    ..RunOptions::default()
                },
            )
        })
        .collect();
    let full = match full {
        Ok(full) => full,
        Err(e) => {
            // The run stops at the first policy (in order) whose replication hit a guard.
            let first = alone.iter().find_map(|r| r.as_ref().err());
            ensure!(
                first.map(|f| f.to_string()) == Some(e.to_string()),
                "the full run failed with \"{e}\", the policies alone with {:?}",
                first.map(|f| f.to_string())
            );
            return Ok(());
        }
    };
    for (i, r) in alone.iter().enumerate() {
        match r {
            Err(e) => {
                return Err(format!(
                    "policy {} alone failed ({e}) but not beside the others",
                    all[i]
                ));
            }
            Ok(rep) => same_results(&full.policies[i], &rep.policies[0]).map_err(|e| {
                format!(
                    "policy {} alone differs from beside the others: {e}",
                    all[i]
                )
            })?,
        }
    }
    let reversed: Vec<String> = all.iter().rev().cloned().collect();
    let rev = run_with(
        s,
        RunOptions {
            policies: reversed.clone(),
            ..RunOptions::default()
        },
    )
    .map_err(|e| format!("the policies in reverse order failed: {e}"))?;
    report_identities(s, &reversed, &rev)?;
    for (i, p) in rev.policies.iter().enumerate() {
        same_results(&full.policies[all.len() - 1 - i], p)
            .map_err(|e| format!("policy {} differs in reverse order: {e}", p.name))?;
    }
    // Every policy again under another name, after all the originals.
    let mut doubled = s.clone();
    for p in &s.policies {
        doubled.policies.push(Policy {
            name: format!("{}-copy", p.name),
            ..p.clone()
        });
    }
    let twice = run_with(&doubled, RunOptions::default())
        .map_err(|e| format!("the scenario with every policy twice failed: {e}"))?;
    for (i, name) in all.iter().enumerate() {
        same_results(&full.policies[i], &twice.policies[i])
            .map_err(|e| format!("policy {name} differs once copies run beside it: {e}"))?;
        same_results(&twice.policies[i], &twice.policies[all.len() + i])
            .map_err(|e| format!("policy {name} and its renamed copy differ: {e}"))?;
    }
    Ok(())
}

/// Every check, in order.
pub fn all(s: &Scenario) -> Check {
    runs_complete(s).map_err(|e| format!("runs_complete: {e}"))?;
    accounting(s).map_err(|e| format!("accounting: {e}"))?;
    determinism(s).map_err(|e| format!("determinism: {e}"))?;
    common_random_numbers(s).map_err(|e| format!("common random numbers: {e}"))
}
