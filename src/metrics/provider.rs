//! What a run counts for each provider, when a scenario has several.

use super::ProviderMetrics;
use super::recorder::Prices;
use crate::engine::SimTime;
use crate::engine::time::nanos_to_secs;

/// One provider's counts during a run.
#[derive(Clone, Debug, Default)]
pub struct ProviderRecorder {
    pub attempts: u64,
    pub admitted: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub timeouts: u64,
    pub answered: u64,
    pub fallbacks_in: u64,
    pub cooldowns: u64,
    /// Cooldown time, counted in full when it starts (cut at the run's end by `metrics`).
    cooldown_ns: u128,
    /// End of the latest cooldown, to cut it at the run's end.
    cooling_until: SimTime,
    pub in_flight: u64,
    pub peak_in_flight: u64,
    pub tokens_input: u64,
    pub tokens_output: u64,
    pub tokens_cache_read: u64,
    pub tokens_cache_write: u64,
}

impl ProviderRecorder {
    /// An attempt was admitted (`1`) or left (`-1`).
    #[inline]
    pub fn in_flight_changed(&mut self, delta: i64) {
        self.in_flight = self.in_flight.wrapping_add_signed(delta);
        self.peak_in_flight = self.peak_in_flight.max(self.in_flight);
    }

    /// The router started a cooldown of `ns` at `now`.
    pub fn cooled_down(&mut self, now: SimTime, ns: u64) {
        self.cooldowns += 1;
        self.cooldown_ns += ns as u128;
        self.cooling_until = now.after(ns);
    }

    /// Its spend at `prices`.
    pub fn cost(&self, prices: &Prices) -> f64 {
        prices.cost(
            self.tokens_input,
            self.tokens_output,
            self.tokens_cache_read,
            self.tokens_cache_write,
        )
    }

    /// Its numbers for a run that ended at `end`, at `prices`.
    pub fn metrics(&self, end: SimTime, prices: &Prices) -> ProviderMetrics {
        // A cooldown still running at the end counts up to the end only.
        let beyond = self.cooling_until.0.saturating_sub(end.0) as u128;
        let secs = nanos_to_secs(end.0);
        ProviderMetrics {
            attempts: self.attempts as f64,
            admitted: self.admitted as f64,
            rate_limited: self.rate_limited as f64,
            server_errors: self.server_errors as f64,
            timeouts: self.timeouts as f64,
            answered: self.answered as f64,
            goodput_calls_per_s: if secs > 0.0 {
                self.answered as f64 / secs
            } else {
                0.0
            },
            fallbacks_in: self.fallbacks_in as f64,
            cooldowns: self.cooldowns as f64,
            cooldown_s: (self.cooldown_ns - beyond.min(self.cooldown_ns)) as f64 / 1e9,
            peak_in_flight: self.peak_in_flight as f64,
            tokens_input: self.tokens_input as f64,
            tokens_output: self.tokens_output as f64,
            cost_usd: self.cost(prices),
        }
    }
}
