//! Counters and latency stores filled while a run goes.

use super::summary::jain;
use super::{LatencyStore, Metrics, TenantMetrics};
use crate::engine::SimTime;
use crate::engine::time::nanos_to_secs;

/// USD per million tokens of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Prices {
    pub input: f64,
    pub output: f64,
    /// Prompt tokens read from the cache.
    pub cache_read: f64,
    /// Prompt tokens written to the cache.
    pub cache_write: f64,
}

impl Prices {
    /// The provider's prices.
    pub fn of(p: &crate::model::Provider) -> Prices {
        Prices {
            input: p.price_input_per_mtok,
            output: p.price_output_per_mtok,
            cache_read: p.price_cache_read_per_mtok,
            cache_write: p.price_cache_write_per_mtok,
        }
    }

    /// USD for `input` and `output` tokens, of which `read` and `write` input tokens were cache
    /// reads and writes. Without cache tokens this is exactly `(input * in + output * out) / 1e6`.
    #[inline]
    pub fn cost(&self, input: u64, output: u64, read: u64, write: u64) -> f64 {
        let plain = input as f64 * self.input + output as f64 * self.output;
        if read == 0 && write == 0 {
            return plain / 1e6;
        }
        (plain
            + read as f64 * (self.cache_read - self.input)
            + write as f64 * (self.cache_write - self.input))
            / 1e6
    }

    /// What `read` cache reads and `write` cache writes saved against paying the input price
    /// for them (negative when writes cost more than reads saved).
    #[inline]
    pub fn saved_by_cache(&self, read: u64, write: u64) -> f64 {
        if read == 0 && write == 0 {
            return 0.0;
        }
        (read as f64 * (self.input - self.cache_read)
            + write as f64 * (self.input - self.cache_write))
            / 1e6
    }
}

/// What a run counts for one tenant (kept only when there are several).
#[derive(Clone, Debug, Default)]
pub struct TenantRecorder {
    /// Jobs that arrived.
    pub jobs: u64,
    /// Jobs that finished whole.
    pub jobs_ok: u64,
    /// Jobs with a failed agent.
    pub jobs_failed: u64,
    /// Jobs stopped by a work limit.
    pub jobs_budget_exhausted: u64,
    /// Job latencies, ns.
    pub job_latency: LatencyStore,
    /// Call latencies, ns.
    pub call_latency: LatencyStore,
    /// Requests sent.
    pub attempts: u64,
    /// 429s received.
    pub rate_limited: u64,
    /// Input tokens billed.
    pub tokens_input: u64,
    /// Output tokens billed.
    pub tokens_output: u64,
    /// Input tokens billed as cache reads (also counted in `tokens_input`).
    pub tokens_cache_read: u64,
    /// Input tokens billed as cache writes (also counted in `tokens_input`).
    pub tokens_cache_write: u64,
    /// With several providers (several prices): spend, USD, summed bill by bill.
    pub cost_usd: f64,
    /// With several providers: what the cache saved, USD, summed bill by bill.
    pub saved_usd: f64,
}

impl TenantRecorder {
    /// Its numbers, its spend at `prices` (`None`: at several providers' prices, summed bill by
    /// bill).
    fn metrics(&self, prices: Option<&Prices>) -> TenantMetrics {
        let secs = |ns: u64| nanos_to_secs(ns);
        let j = self.job_latency.quantiles(&[0.5, 0.99]);
        let c = self.call_latency.quantiles(&[0.5, 0.99]);
        TenantMetrics {
            jobs: self.jobs as f64,
            jobs_ok: self.jobs_ok as f64,
            jobs_failed: self.jobs_failed as f64,
            jobs_budget_exhausted: self.jobs_budget_exhausted as f64,
            job_latency_p50_s: secs(j[0]),
            job_latency_p99_s: secs(j[1]),
            job_latency_mean_s: self.job_latency.mean() / 1e9,
            call_latency_p50_s: secs(c[0]),
            call_latency_p99_s: secs(c[1]),
            call_latency_mean_s: self.call_latency.mean() / 1e9,
            attempts: self.attempts as f64,
            rate_limited: self.rate_limited as f64,
            tokens_billed: (self.tokens_input + self.tokens_output) as f64,
            cost_usd: prices.map_or(self.cost_usd, |p| {
                p.cost(
                    self.tokens_input,
                    self.tokens_output,
                    self.tokens_cache_read,
                    self.tokens_cache_write,
                )
            }),
            tokens_cache_read: self.tokens_cache_read as f64,
            tokens_cache_write: self.tokens_cache_write as f64,
            cost_saved_by_cache_usd: prices.map_or(self.saved_usd, |p| {
                p.saved_by_cache(self.tokens_cache_read, self.tokens_cache_write)
            }),
        }
    }
}

/// Everything a run counts. Memory is constant apart from the bounded latency stores.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// Call latencies, ns.
    pub call_latency: LatencyStore,
    /// Job latencies, ns.
    pub job_latency: LatencyStore,
    /// Jobs that arrived.
    pub jobs: u64,
    /// Jobs that finished with every agent successful.
    pub jobs_ok: u64,
    /// Jobs that finished with a failed agent.
    pub jobs_failed: u64,
    /// Jobs stopped by a work limit.
    pub jobs_budget_exhausted: u64,
    /// Calls that succeeded.
    pub calls_ok: u64,
    /// Calls that gave up.
    pub gave_up: u64,
    /// Requests sent to the provider.
    pub attempts: u64,
    /// Attempts beyond a call's first.
    pub retries: u64,
    /// 429s.
    pub rate_limited: u64,
    /// Server errors (5xx, 529).
    pub server_errors: u64,
    /// Abandoned attempts.
    pub timeouts: u64,
    /// Non-retryable failures.
    pub errors: u64,
    /// Retries refused by the budget.
    pub retries_throttled: u64,
    /// Retries not made because they would start past a deadline.
    pub deadline_exceeded: u64,
    /// Hedges sent.
    pub hedges: u64,
    /// Attempts failed fast by an open circuit breaker.
    pub short_circuited: u64,
    /// Attempts rejected locally by a client-side throttle.
    pub throttled_locally: u64,
    /// Calls answered by a hedge rather than the attempt it hedged.
    pub hedges_won: u64,
    /// Input tokens billed for abandoned attempts (also counted in `tokens_input`).
    pub wasted_input: u64,
    /// Output tokens billed for abandoned attempts (also counted in `tokens_output`).
    pub wasted_output: u64,
    /// Cache reads among `wasted_input`.
    pub wasted_cache_read: u64,
    /// Cache writes among `wasted_input`.
    pub wasted_cache_write: u64,
    /// Agent restarts.
    pub agent_restarts: u64,
    /// Input tokens billed.
    pub tokens_input: u64,
    /// Output tokens billed.
    pub tokens_output: u64,
    /// Input tokens billed as cache reads (also counted in `tokens_input`).
    pub tokens_cache_read: u64,
    /// Input tokens billed as cache writes (also counted in `tokens_input`).
    pub tokens_cache_write: u64,
    /// Most in flight at once.
    pub peak_in_flight: u64,
    /// Most waiting in the client's admission queue at once.
    pub peak_client_queue: u64,
    /// Time of the last job end.
    pub last_job_end: SimTime,
    /// Per-tenant counts, by tenant index; empty when there is only one tenant (its numbers are
    /// the totals).
    pub tenants: Vec<TenantRecorder>,
    in_flight: u64,
    in_flight_area: u128,
    in_flight_since: SimTime,
    provider_wait: u128,
    provider_time: u128,
    provider_served: u64,
    provider_waited: u64,
}

impl Recorder {
    /// A recorder for a run with `tenants` tenants (counted apart when there are several).
    pub fn with_tenants(tenants: usize) -> Recorder {
        Recorder {
            tenants: if tenants > 1 {
                vec![TenantRecorder::default(); tenants]
            } else {
                Vec::new()
            },
            ..Recorder::default()
        }
    }

    /// Attempts in flight at the provider changed by `delta` at `now`.
    #[inline]
    pub fn in_flight_changed(&mut self, now: SimTime, delta: i64) {
        self.in_flight_area += self.in_flight as u128 * now.since(self.in_flight_since) as u128;
        self.in_flight_since = now;
        self.in_flight = self.in_flight.wrapping_add_signed(delta);
        self.peak_in_flight = self.peak_in_flight.max(self.in_flight);
    }

    /// Attempts in flight now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// The time integral of attempts in flight up to `end`, in attempt-nanoseconds.
    pub fn in_flight_area(&self, end: SimTime) -> u128 {
        self.in_flight_area + self.in_flight as u128 * end.since(self.in_flight_since) as u128
    }

    /// An attempt finished at the provider after waiting `wait_ns` for a slot and `total_ns` in all.
    #[inline]
    pub fn served(&mut self, wait_ns: u64, total_ns: u64) {
        self.provider_wait += wait_ns as u128;
        self.provider_time += total_ns as u128;
        self.provider_served += 1;
        self.provider_waited += (wait_ns > 0) as u64;
    }

    /// The client's admission queue has `depth` calls waiting.
    #[inline]
    pub fn client_queue(&mut self, depth: usize) {
        self.peak_client_queue = self.peak_client_queue.max(depth as u64);
    }

    /// The headline numbers, with `end` the time the run stopped and prices in USD per million.
    pub fn finish(&self, end: SimTime, events: u64, prices: &Prices) -> Metrics {
        let secs = |ns: u64| nanos_to_secs(ns);
        let [c50, c90, c99] = quantiles3(&self.call_latency);
        let [j50, j90, j99] = quantiles3(&self.job_latency);
        let calls = self.calls_ok + self.gave_up;
        let area =
            self.in_flight_area + self.in_flight as u128 * end.since(self.in_flight_since) as u128;
        let per_served = |sum: u128| {
            if self.provider_served == 0 {
                0.0
            } else {
                sum as f64 / self.provider_served as f64 / 1e9
            }
        };
        Metrics {
            makespan_s: self.last_job_end.as_secs_f64(),
            call_latency_p50_s: secs(c50),
            call_latency_p90_s: secs(c90),
            call_latency_p99_s: secs(c99),
            call_latency_max_s: secs(self.call_latency.max()),
            call_latency_mean_s: self.call_latency.mean() / 1e9,
            job_latency_p50_s: secs(j50),
            job_latency_p90_s: secs(j90),
            job_latency_p99_s: secs(j99),
            job_latency_max_s: secs(self.job_latency.max()),
            job_latency_mean_s: self.job_latency.mean() / 1e9,
            jobs: self.jobs as f64,
            jobs_ok: self.jobs_ok as f64,
            jobs_failed: self.jobs_failed as f64,
            jobs_budget_exhausted: self.jobs_budget_exhausted as f64,
            calls: calls as f64,
            calls_ok: self.calls_ok as f64,
            gave_up: self.gave_up as f64,
            attempts: self.attempts as f64,
            retries: self.retries as f64,
            rate_limited: self.rate_limited as f64,
            server_errors: self.server_errors as f64,
            timeouts: self.timeouts as f64,
            errors: self.errors as f64,
            retries_throttled: self.retries_throttled as f64,
            deadline_exceeded: self.deadline_exceeded as f64,
            hedges: self.hedges as f64,
            short_circuited: self.short_circuited as f64,
            throttled_locally: self.throttled_locally as f64,
            hedges_won: self.hedges_won as f64,
            agent_restarts: self.agent_restarts as f64,
            attempts_per_call: if calls == 0 {
                0.0
            } else {
                self.attempts as f64 / calls as f64
            },
            tokens_billed: (self.tokens_input + self.tokens_output) as f64,
            tokens_input: self.tokens_input as f64,
            tokens_output: self.tokens_output as f64,
            cost_usd: prices.cost(
                self.tokens_input,
                self.tokens_output,
                self.tokens_cache_read,
                self.tokens_cache_write,
            ),
            tokens_wasted: (self.wasted_input + self.wasted_output) as f64,
            cost_wasted_usd: prices.cost(
                self.wasted_input,
                self.wasted_output,
                self.wasted_cache_read,
                self.wasted_cache_write,
            ),
            tokens_cache_read: self.tokens_cache_read as f64,
            tokens_cache_write: self.tokens_cache_write as f64,
            cost_saved_by_cache_usd: prices
                .saved_by_cache(self.tokens_cache_read, self.tokens_cache_write),
            peak_in_flight: self.peak_in_flight as f64,
            mean_in_flight: if end.0 == 0 {
                0.0
            } else {
                area as f64 / end.0 as f64
            },
            peak_client_queue: self.peak_client_queue as f64,
            provider_wait_mean_s: per_served(self.provider_wait),
            provider_time_mean_s: per_served(self.provider_time),
            provider_waited_fraction: if self.provider_served == 0 {
                0.0
            } else {
                self.provider_waited as f64 / self.provider_served as f64
            },
            events: events as f64,
            guard_tripped: 0.0,
            fairness_index: jain(
                &self
                    .tenants
                    .iter()
                    .filter(|t| t.call_latency.count() > 0)
                    .map(|t| 1e9 / t.call_latency.mean().max(1.0))
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

/// Latency quantiles on a fixed grid, for CDF charts.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    /// The grid: 0, 0.01, ..., 0.99, 0.995, 0.999, 1.
    pub quantiles: Vec<f64>,
    /// Call latency at each quantile, seconds.
    pub call_s: Vec<f64>,
    /// Job latency at each quantile, seconds.
    pub job_s: Vec<f64>,
}

impl Recorder {
    /// Call and job latency quantiles on [`Distribution`]'s grid.
    pub fn distribution(&self) -> Distribution {
        let mut quantiles: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        quantiles.extend([0.995, 0.999, 1.0]);
        let secs = |store: &LatencyStore| {
            store
                .quantiles(&quantiles)
                .into_iter()
                .map(nanos_to_secs)
                .collect()
        };
        Distribution {
            call_s: secs(&self.call_latency),
            job_s: secs(&self.job_latency),
            quantiles,
        }
    }
}

impl Recorder {
    /// Per-tenant numbers: from their own counts when there are several tenants, or the totals
    /// for a single tenant; spend at `prices` (`None`: several providers' prices).
    pub fn tenant_metrics(&self, totals: &Metrics, prices: Option<&Prices>) -> Vec<TenantMetrics> {
        if self.tenants.is_empty() {
            let m = totals;
            return vec![TenantMetrics {
                jobs: m.jobs,
                jobs_ok: m.jobs_ok,
                jobs_failed: m.jobs_failed,
                jobs_budget_exhausted: m.jobs_budget_exhausted,
                job_latency_p50_s: m.job_latency_p50_s,
                job_latency_p99_s: m.job_latency_p99_s,
                job_latency_mean_s: m.job_latency_mean_s,
                call_latency_p50_s: m.call_latency_p50_s,
                call_latency_p99_s: m.call_latency_p99_s,
                call_latency_mean_s: m.call_latency_mean_s,
                attempts: m.attempts,
                rate_limited: m.rate_limited,
                tokens_billed: m.tokens_billed,
                cost_usd: m.cost_usd,
                tokens_cache_read: m.tokens_cache_read,
                tokens_cache_write: m.tokens_cache_write,
                cost_saved_by_cache_usd: m.cost_saved_by_cache_usd,
            }];
        }
        self.tenants.iter().map(|t| t.metrics(prices)).collect()
    }
}

fn quantiles3(store: &LatencyStore) -> [u64; 3] {
    let q = store.quantiles(&[0.5, 0.9, 0.99]);
    [q[0], q[1], q[2]]
}
