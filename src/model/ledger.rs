//! The ledger: every observation of a run, recorded once.
//!
//! An observation (an attempt refused, tokens billed, a call answered) updates up to three
//! places: the run's totals, its tenant's numbers and the time series. Each has one method here
//! that updates all of them, so no site can update one and forget another. The ledger also keeps
//! the lifecycle counts the conservation checks balance (see [`super::conservation`]).

use super::conservation::Lifecycle;
use crate::engine::SimTime;
use crate::metrics::Recorder;
use crate::metrics::provider::ProviderRecorder;
use crate::metrics::recorder::{Prices, TenantRecorder};
use crate::metrics::timeseries::{Gauges, TimeSeries};

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Ok,
    Failed,
    /// A work limit stopped it.
    BudgetExhausted,
}

/// Run totals, per-tenant numbers, per-provider numbers, the time series and the lifecycle
/// counts of one run.
pub struct Ledger {
    pub rec: Recorder,
    pub series: Option<TimeSeries>,
    pub life: Lifecycle,
    /// Each provider's prices, by provider index.
    prices: Vec<Prices>,
    /// Each provider's counts; empty with one provider (its numbers are the totals).
    pub providers: Vec<ProviderRecorder>,
    /// With several providers: spend on abandoned attempts, USD, summed bill by bill at each
    /// provider's prices.
    pub wasted_usd: f64,
}

impl Ledger {
    /// A ledger for `tenants` tenants and one provider per entry of `prices` (its prices), with
    /// a time series sampled every `series_ns` if given.
    pub fn new(tenants: usize, series_ns: Option<u64>, prices: Vec<Prices>) -> Ledger {
        let providers = if prices.len() > 1 {
            vec![ProviderRecorder::default(); prices.len()]
        } else {
            Vec::new()
        };
        Ledger {
            rec: Recorder::with_tenants(tenants),
            series: series_ns.map(|ns| TimeSeries::new(ns, providers.len())),
            life: Lifecycle::default(),
            prices,
            providers,
            wasted_usd: 0.0,
        }
    }

    /// Whether providers are counted apart.
    #[inline]
    pub fn several_providers(&self) -> bool {
        !self.providers.is_empty()
    }

    /// Provider `provider`'s prices.
    pub fn prices(&self, provider: usize) -> &Prices {
        &self.prices[provider]
    }

    #[inline]
    fn provider(&mut self, provider: usize) -> Option<&mut ProviderRecorder> {
        self.providers.get_mut(provider)
    }

    /// Whether tenants are counted apart (a scenario with one tenant keeps only run totals).
    #[inline]
    pub fn counts_tenants(&self) -> bool {
        !self.rec.tenants.is_empty()
    }

    #[inline]
    fn tenant(&mut self, tenant: u32) -> Option<&mut TenantRecorder> {
        self.rec.tenants.get_mut(tenant as usize)
    }

    /// USD at `provider` for `input` and `output` tokens, of which `cache` = (reads, writes) of
    /// the input are cache tokens.
    #[inline]
    pub fn cost(&self, provider: usize, input: u64, output: u64, cache: (u64, u64)) -> f64 {
        self.prices[provider].cost(input, output, cache.0, cache.1)
    }

    /// Closes the time series' samples due by `now` with the gauges `gauges()` reads.
    #[inline]
    pub fn tick(&mut self, now: SimTime, gauges: impl FnOnce(&Ledger) -> Gauges) {
        if self.series.as_ref().is_some_and(|s| s.due(now)) {
            let g = gauges(self);
            if let Some(s) = self.series.as_mut() {
                s.close_until(now, &g);
            }
        }
    }

    /// Spend so far, for the time series.
    pub fn spend_usd(&self) -> f64 {
        if self.several_providers() {
            return self
                .providers
                .iter()
                .zip(&self.prices)
                .map(|(p, prices)| p.cost(prices))
                .sum();
        }
        let r = &self.rec;
        self.prices[0].cost(
            r.tokens_input,
            r.tokens_output,
            r.tokens_cache_read,
            r.tokens_cache_write,
        )
    }

    pub fn job_arrived(&mut self, tenant: u32) {
        self.rec.jobs += 1;
        if let Some(t) = self.tenant(tenant) {
            t.jobs += 1;
        }
    }

    pub fn job_ended(&mut self, now: SimTime, tenant: u32, latency_ns: u64, outcome: JobOutcome) {
        self.rec.job_latency.record(latency_ns);
        let count = |jobs_ok: &mut u64, failed: &mut u64, exhausted: &mut u64| match outcome {
            JobOutcome::Ok => *jobs_ok += 1,
            JobOutcome::Failed => *failed += 1,
            JobOutcome::BudgetExhausted => *exhausted += 1,
        };
        let r = &mut self.rec;
        count(
            &mut r.jobs_ok,
            &mut r.jobs_failed,
            &mut r.jobs_budget_exhausted,
        );
        if let Some(t) = self.rec.tenants.get_mut(tenant as usize) {
            t.job_latency.record(latency_ns);
            count(
                &mut t.jobs_ok,
                &mut t.jobs_failed,
                &mut t.jobs_budget_exhausted,
            );
        }
        self.rec.last_job_end = now;
    }

    /// An attempt went on the wire to `provider`.
    #[inline]
    pub fn attempt_sent(&mut self, tenant: u32, provider: usize) {
        self.rec.attempts += 1;
        if let Some(t) = self.tenant(tenant) {
            t.attempts += 1;
        }
        if let Some(p) = self.provider(provider) {
            p.attempts += 1;
        }
    }

    /// `provider` admitted an attempt estimated at `tokens`.
    #[inline]
    pub fn admitted(&mut self, now: SimTime, provider: usize, tokens: f64) {
        self.life.admitted += 1;
        self.rec.in_flight_changed(now, 1);
        if let Some(s) = self.series.as_mut() {
            s.counts.admitted_tokens += tokens;
        }
        if let Some(p) = self.provider(provider) {
            p.admitted += 1;
            p.in_flight_changed(1);
        }
    }

    /// An admitted attempt left `provider` (served, failed or cut off) after `wait_ns` waiting
    /// for a slot and `total_ns` in all.
    #[inline]
    pub fn left_provider(&mut self, now: SimTime, provider: usize, wait_ns: u64, total_ns: u64) {
        self.life.left_provider += 1;
        self.life.time_at_provider_ns += total_ns as u128;
        self.rec.served(wait_ns, total_ns);
        self.rec.in_flight_changed(now, -1);
        if let Some(p) = self.provider(provider) {
            p.in_flight_changed(-1);
        }
    }

    /// A 429 from `provider`, from its limits or its in-flight cap.
    pub fn rate_limited(&mut self, tenant: u32, provider: usize) {
        self.rec.rate_limited += 1;
        if let Some(t) = self.tenant(tenant) {
            t.rate_limited += 1;
        }
        if let Some(s) = self.series.as_mut() {
            s.counts.rate_limited += 1;
            if let Some(c) = s.provider_counts.get_mut(provider) {
                c.rate_limited += 1;
            }
        }
        if let Some(p) = self.provider(provider) {
            p.rate_limited += 1;
        }
    }

    /// A 5xx from `provider`: down, or a transient failure of a served attempt.
    pub fn server_error(&mut self, provider: usize) {
        self.rec.server_errors += 1;
        if let Some(s) = self.series.as_mut() {
            s.counts.errors += 1;
        }
        if let Some(p) = self.provider(provider) {
            p.server_errors += 1;
        }
    }

    /// An attempt reached `provider` as a fallback from another.
    pub fn fallback_to(&mut self, provider: usize) {
        if let Some(p) = self.provider(provider) {
            p.fallbacks_in += 1;
        }
    }

    /// The router took `provider` out of every pick for `ns` from `now`.
    pub fn cooled_down(&mut self, now: SimTime, provider: usize, ns: u64) {
        if let Some(p) = self.provider(provider) {
            p.cooled_down(now, ns);
        }
    }

    /// An attempt larger than a limit can ever hold.
    pub fn too_large(&mut self) {
        self.rec.errors += 1;
    }

    /// The client stopped waiting for an attempt at `provider`.
    pub fn timed_out(&mut self, provider: usize) {
        self.rec.timeouts += 1;
        if let Some(s) = self.series.as_mut() {
            s.counts.timeouts += 1;
        }
        if let Some(p) = self.provider(provider) {
            p.timeouts += 1;
        }
    }

    /// `provider` answered an attempt successfully.
    #[inline]
    pub fn answered(&mut self, provider: usize) {
        self.life.answered += 1;
        if let Some(s) = self.series.as_mut() {
            s.counts.completed += 1;
            if let Some(c) = s.provider_counts.get_mut(provider) {
                c.completed += 1;
            }
        }
        if let Some(p) = self.provider(provider) {
            p.answered += 1;
        }
    }

    /// `input` and `output` tokens billed to `tenant` by `provider`, of which `cache` = (reads,
    /// writes) of the input are cache tokens.
    #[inline]
    pub fn billed(
        &mut self,
        tenant: u32,
        provider: usize,
        input: u64,
        output: u64,
        cache: (u64, u64),
    ) {
        self.rec.tokens_input += input;
        self.rec.tokens_output += output;
        self.rec.tokens_cache_read += cache.0;
        self.rec.tokens_cache_write += cache.1;
        let several = self.several_providers();
        let prices = several.then(|| self.prices[provider]);
        if let Some(t) = self.tenant(tenant) {
            t.tokens_input += input;
            t.tokens_output += output;
            t.tokens_cache_read += cache.0;
            t.tokens_cache_write += cache.1;
            if let Some(prices) = prices {
                // Tokens at different prices: the tenant's spend is summed bill by bill.
                t.cost_usd += prices.cost(input, output, cache.0, cache.1);
                t.saved_usd += prices.saved_by_cache(cache.0, cache.1);
            }
        }
        if let Some(p) = self.provider(provider) {
            p.tokens_input += input;
            p.tokens_output += output;
            p.tokens_cache_read += cache.0;
            p.tokens_cache_write += cache.1;
        }
    }

    /// Tokens billed by `provider` that answered nothing (a cut-off attempt).
    pub fn wasted(&mut self, provider: usize, input: u64, output: u64, cache: (u64, u64)) {
        self.rec.wasted_input += input;
        self.rec.wasted_output += output;
        self.rec.wasted_cache_read += cache.0;
        self.rec.wasted_cache_write += cache.1;
        if self.several_providers() {
            self.wasted_usd += self.cost(provider, input, output, cache);
        }
    }

    /// A call answered after `latency_ns`.
    pub fn call_answered(&mut self, tenant: u32, latency_ns: u64) {
        self.rec.calls_ok += 1;
        self.call_latency(tenant, latency_ns);
    }

    /// A call gave up after `latency_ns`.
    pub fn call_gave_up(&mut self, tenant: u32, latency_ns: u64) {
        self.rec.gave_up += 1;
        self.call_latency(tenant, latency_ns);
    }

    fn call_latency(&mut self, tenant: u32, latency_ns: u64) {
        self.rec.call_latency.record(latency_ns);
        if let Some(t) = self.tenant(tenant) {
            t.call_latency.record(latency_ns);
        }
    }

    /// The client's admission line holds `depth` calls.
    pub fn client_queue(&mut self, depth: usize) {
        self.rec.client_queue(depth);
    }

    pub fn retry_scheduled(&mut self) {
        self.rec.retries += 1;
    }

    pub fn retry_throttled(&mut self) {
        self.rec.retries_throttled += 1;
    }

    pub fn deadline_exceeded(&mut self) {
        self.rec.deadline_exceeded += 1;
    }

    pub fn short_circuited(&mut self) {
        self.rec.short_circuited += 1;
    }

    pub fn throttled_locally(&mut self) {
        self.rec.throttled_locally += 1;
    }

    pub fn hedge_sent(&mut self) {
        self.rec.hedges += 1;
    }

    pub fn hedge_won(&mut self) {
        self.rec.hedges_won += 1;
    }

    pub fn agent_restarted(&mut self) {
        self.rec.agent_restarts += 1;
    }
}
