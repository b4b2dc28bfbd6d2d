//! The flat, named summary of a run, and its aggregate over replications.

use serde::Serialize;

/// A named set of metrics with a fixed order: what [`Aggregate`] averages and reports write.
pub trait MetricSet: Clone + Default + Serialize {
    /// Every metric's name, in a fixed order (the CSV column order).
    const NAMES: &'static [&'static str];
    /// Every metric's value, in the order of `NAMES`.
    fn values(&self) -> Vec<f64>;
    /// The set from values in the order of `NAMES`.
    fn from_values(v: &[f64]) -> Self;
}

macro_rules! metrics {
    ($(#[doc = $sdoc:literal])* $set:ident { $($(#[doc = $doc:literal])* $name:ident,)* }) => {
        $(#[doc = $sdoc])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize)]
        pub struct $set {
            $($(#[doc = $doc])* pub $name: f64,)*
        }

        impl $set {
            /// Every metric's name, in a fixed order (the CSV column order).
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// Every metric's value, in the order of `NAMES`.
            pub fn values(&self) -> Vec<f64> {
                vec![$(self.$name),*]
            }

            /// The metric called `name`, if there is one.
            pub fn get(&self, name: &str) -> Option<f64> {
                match name {
                    $(stringify!($name) => Some(self.$name),)*
                    _ => None,
                }
            }
        }

        impl MetricSet for $set {
            const NAMES: &'static [&'static str] = $set::NAMES;
            fn values(&self) -> Vec<f64> {
                $set::values(self)
            }
            fn from_values(v: &[f64]) -> $set {
                let mut it = v.iter().copied();
                $set { $($name: it.next().unwrap_or(0.0),)* }
            }
        }
    };
}

metrics! {
    /// One run's (or the mean of several runs') headline numbers. Units are in the names:
    /// seconds (`_s`), tokens, USD; bare names are counts.
    Metrics {
    /// Time from the start until the last job finished.
    makespan_s,
    /// Median call latency: from the call's first request (client queueing, retries and backoff
    /// included) to its final outcome.
    call_latency_p50_s,
    /// 90th percentile call latency.
    call_latency_p90_s,
    /// 99th percentile call latency.
    call_latency_p99_s,
    /// Slowest call.
    call_latency_max_s,
    /// Mean call latency.
    call_latency_mean_s,
    /// Median job latency: arrival to the last agent's end.
    job_latency_p50_s,
    /// 90th percentile job latency.
    job_latency_p90_s,
    /// 99th percentile job latency.
    job_latency_p99_s,
    /// Slowest job.
    job_latency_max_s,
    /// Mean job latency.
    job_latency_mean_s,
    /// Jobs that arrived.
    jobs,
    /// Jobs whose every agent succeeded.
    jobs_ok,
    /// Jobs with an agent that failed for good.
    jobs_failed,
    /// Jobs stopped by one of the policy's work limits (`budget_exhausted`).
    jobs_budget_exhausted,
    /// Logical calls that reached a final outcome (success or giving up).
    calls,
    /// Calls that succeeded.
    calls_ok,
    /// Calls that gave up after every retry layer was exhausted.
    gave_up,
    /// Requests sent to the provider.
    attempts,
    /// Attempts beyond each call's first.
    retries,
    /// Attempts refused by a provider rate limit (HTTP 429).
    rate_limited,
    /// Attempts answered with a server error (5xx, or 529 overloaded).
    server_errors,
    /// Attempts the client abandoned at its per-attempt timeout.
    timeouts,
    /// Attempts that failed with a non-retryable error (e.g. larger than any limit allows).
    errors,
    /// Retries refused by the client's retry budget (the call gave up instead).
    retries_throttled,
    /// Calls that gave up because their next retry would have started past a deadline.
    deadline_exceeded,
    /// Hedges sent (extra copies of slow attempts; also counted in `attempts`).
    hedges,
    /// Calls failed fast by an open circuit breaker, never sent.
    short_circuited,
    /// Attempts rejected by the client's own throttle (SRE adaptive throttling), never sent.
    throttled_locally,
    /// Calls answered by a hedge rather than by the attempt it hedged.
    hedges_won,
    /// Agents restarted by the orchestrator after a call gave up.
    agent_restarts,
    /// Attempts per logical call: the amplification of layered retries.
    attempts_per_call,
    /// Tokens billed (input + output of served attempts).
    tokens_billed,
    /// Input tokens billed.
    tokens_input,
    /// Output tokens billed.
    tokens_output,
    /// Spend, USD.
    cost_usd,
    /// Tokens billed for attempts the client abandoned (timeouts): paid for, never used.
    tokens_wasted,
    /// Spend on abandoned attempts, USD.
    cost_wasted_usd,
    /// Input tokens billed as prompt-cache reads (also counted in `tokens_input`).
    tokens_cache_read,
    /// Input tokens billed as prompt-cache writes (also counted in `tokens_input`).
    tokens_cache_write,
    /// What the cache saved: the cost with every cache token at the input price, less the actual
    /// cost (negative when writes cost more than reads saved).
    cost_saved_by_cache_usd,
    /// Most attempts admitted by the provider and not yet finished, at any instant.
    peak_in_flight,
    /// Time-average of attempts in flight at the provider (L in Little's law).
    mean_in_flight,
    /// Most calls waiting in the client's own admission queue at any instant.
    peak_client_queue,
    /// Mean time an admitted attempt waited for a free provider slot (Wq).
    provider_wait_mean_s,
    /// Mean time an admitted attempt spent at the provider, waiting and served (W).
    provider_time_mean_s,
    /// Fraction of admitted attempts that waited for a serving slot (Erlang C in M/M/c).
    provider_waited_fraction,
    /// Events the simulator processed.
    events,
    /// Jain's fairness index over the tenants' mean call latencies, `(sum x)^2 / (n sum x^2)`
    /// with `x` the inverse of a tenant's mean call latency: 1 when every tenant's calls fare
    /// alike, down to `1/n` when one tenant gets everything (Jain, Chiu and Hawe, 1984).
    fairness_index,
    /// 1 when a guard stopped the run (with `[guards] on_trip = "stop"`): the numbers are those
    /// of the run so far.
    guard_tripped,
    }
}

metrics! {
    /// One tenant's numbers within a run (or their mean over replications).
    TenantMetrics {
    /// Jobs that arrived.
    jobs,
    /// Jobs that finished whole.
    jobs_ok,
    /// Jobs with an agent that failed for good.
    jobs_failed,
    /// Jobs stopped by a work limit.
    jobs_budget_exhausted,
    /// Median job latency.
    job_latency_p50_s,
    /// 99th percentile job latency.
    job_latency_p99_s,
    /// Mean job latency.
    job_latency_mean_s,
    /// Median call latency.
    call_latency_p50_s,
    /// 99th percentile call latency.
    call_latency_p99_s,
    /// Mean call latency.
    call_latency_mean_s,
    /// Requests sent to the provider.
    attempts,
    /// 429s received.
    rate_limited,
    /// Tokens billed.
    tokens_billed,
    /// Spend, USD.
    cost_usd,
    /// Input tokens billed as prompt-cache reads.
    tokens_cache_read,
    /// Input tokens billed as prompt-cache writes.
    tokens_cache_write,
    /// What the cache saved, USD.
    cost_saved_by_cache_usd,
    }
}

metrics! {
    /// One provider's numbers within a run (or their mean over replications), for scenarios
    /// with several providers.
    ProviderMetrics {
    /// Attempts sent to it.
    attempts,
    /// Attempts it admitted past its limits.
    admitted,
    /// 429s it answered (its limits or its in-flight cap).
    rate_limited,
    /// Server errors it answered (outages, and admitted attempts failing).
    server_errors,
    /// Its attempts the client abandoned at the per-attempt timeout.
    timeouts,
    /// Attempts it answered successfully.
    answered,
    /// Answered attempts per second of the run.
    goodput_calls_per_s,
    /// Attempts the router sent it from a fallback hop: after failures at the hops before it,
    /// or because their providers sat out a cooldown (retries at that hop included).
    fallbacks_in,
    /// Times the router took it out of every pick after it kept failing.
    cooldowns,
    /// Time it spent in those cooldowns, seconds.
    cooldown_s,
    /// Most attempts in flight at it at once.
    peak_in_flight,
    /// Input tokens it billed.
    tokens_input,
    /// Output tokens it billed.
    tokens_output,
    /// Its spend, USD, at its own prices.
    cost_usd,
    }
}

/// A metric set's mean over replications with the half-width of its 95% confidence interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Aggregate<T = Metrics> {
    /// Replications aggregated.
    pub replications: usize,
    /// Means over replications (for one replication, that run's values).
    pub mean: T,
    /// Half-widths of the Student-t 95% confidence intervals (zero for one replication).
    pub ci95: T,
}

impl<T: MetricSet> Aggregate<T> {
    /// Mean and Student-t 95% confidence half-width of every metric over `runs`.
    pub fn of(runs: &[T]) -> Aggregate<T> {
        let columns: Vec<Vec<f64>> = runs.iter().map(T::values).collect();
        let width = T::NAMES.len();
        let mut means = vec![0.0; width];
        let mut halves = vec![0.0; width];
        for j in 0..width {
            let xs: Vec<f64> = columns.iter().map(|c| c[j]).collect();
            let (m, h) = mean_ci95(&xs);
            means[j] = m;
            halves[j] = h;
        }
        Aggregate {
            replications: runs.len(),
            mean: T::from_values(&means),
            ci95: T::from_values(&halves),
        }
    }
}

/// Jain's fairness index of `xs`: `(sum x)^2 / (n * sum x^2)`; 1 for an empty or all-zero set.
pub fn jain(xs: &[f64]) -> f64 {
    let sum: f64 = xs.iter().sum();
    let squares: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || squares == 0.0 {
        1.0
    } else {
        sum * sum / (xs.len() as f64 * squares)
    }
}

/// Sample mean and the half-width of its two-sided 95% Student-t confidence interval.
pub fn mean_ci95(xs: &[f64]) -> (f64, f64) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = xs.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(f64::NAN);
    (mean, t * (var / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_line_up() {
        let m = Metrics {
            retries: 7.0,
            cost_usd: 1.5,
            ..Default::default()
        };
        let i = Metrics::NAMES.iter().position(|n| *n == "retries").unwrap();
        assert_eq!(m.values()[i], 7.0);
        assert_eq!(m.get("cost_usd"), Some(1.5));
        assert_eq!(m.get("no_such_metric"), None);
    }

    #[test]
    fn confidence_interval_uses_student_t() {
        // xs = 1..=5: mean 3, s = sqrt(2.5), t(0.975, 4) = 2.776445: half-width 1.963243.
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(m, 3.0);
        assert!((h - 1.963_243).abs() < 1e-5, "{h}");
        assert_eq!(mean_ci95(&[4.0]), (4.0, 0.0));
    }

    #[test]
    fn jain_index_is_one_for_equal_shares_and_one_over_n_for_a_monopoly() {
        assert_eq!(jain(&[2.0, 2.0, 2.0, 2.0]), 1.0);
        assert_eq!(jain(&[1.0, 0.0, 0.0, 0.0]), 0.25);
        // (1 + 3)^2 / (2 * (1 + 9)) = 0.8
        assert!((jain(&[1.0, 3.0]) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn aggregate_averages_each_metric() {
        let a = Metrics {
            attempts: 10.0,
            ..Default::default()
        };
        let b = Metrics {
            attempts: 20.0,
            ..Default::default()
        };
        let agg = Aggregate::of(&[a, b]);
        assert_eq!(agg.mean.attempts, 15.0);
        assert_eq!(agg.replications, 2);
        assert!(agg.ci95.attempts > 0.0);
    }
}
