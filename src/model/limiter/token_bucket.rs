//! A token bucket: continuous refill up to a burst, the shape most provider limits are
//! documented in.

use super::{check_scale, scaled};
use crate::engine::SimTime;
use crate::engine::time::{NANOS_PER_SEC, nanos_to_secs};

/// A token bucket with continuous refill.
///
/// The classic token bucket (Turner 1986; the shape of AWS API Gateway, Stripe and Anthropic rate
/// limits, which replenish continuously rather than at minute boundaries): the level refills at
/// `rate` per second up to `burst`; a request of `cost` passes when `level >= cost` and takes
/// `cost`:
///
/// `level(t) = min(burst, level(t0) + rate * (t - t0))`
///
/// A cost above `burst` could never pass; such a request passes when the bucket is full and leaves
/// it in debt (a negative level), so that one oversized request still costs its full price.
/// Over a long overload it admits `burst + rate * T`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    base_rate_per_s: f64,
    base_burst: f64,
    rate_per_s: f64,
    burst: f64,
    level: f64,
    updated: SimTime,
}

impl TokenBucket {
    /// A full bucket at time zero. `rate_per_s` and `burst` must be positive ([`Limit::new`]
    /// checks a provider limit's, the scenario layer a client bucket's).
    ///
    /// [`Limit::new`]: super::config::Limit::new
    pub fn new(rate_per_s: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            base_rate_per_s: rate_per_s,
            base_burst: burst,
            rate_per_s,
            burst,
            level: burst,
            updated: SimTime::ZERO,
        }
    }

    /// Refill rate, in units per second, at the current scale.
    pub fn rate(&self) -> f64 {
        self.rate_per_s
    }

    /// Capacity, at the current scale.
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// The level at `now` (refilling first).
    pub fn level(&mut self, now: SimTime) -> f64 {
        self.refill(now);
        self.level
    }

    #[inline]
    fn refill(&mut self, now: SimTime) {
        if now > self.updated {
            let dt = nanos_to_secs(now.since(self.updated));
            self.level = (self.level + self.rate_per_s * dt).min(self.burst);
            self.updated = now;
        }
    }

    /// What `cost` needs in the bucket to pass: the cost itself, or a full bucket when it is larger.
    #[inline]
    fn needed(&self, cost: f64) -> f64 {
        cost.min(self.burst)
    }

    /// True when `cost` could pass at `now`, without taking it.
    #[inline]
    pub fn admits(&mut self, now: SimTime, cost: f64) -> bool {
        self.refill(now);
        self.level >= self.needed(cost)
    }

    /// Takes `cost` unconditionally (the level may go negative).
    #[inline]
    pub fn take(&mut self, now: SimTime, cost: f64) {
        self.refill(now);
        self.level -= cost;
    }

    /// Takes `cost` if it passes now; returns whether it did.
    #[inline]
    pub fn try_take(&mut self, now: SimTime, cost: f64) -> bool {
        if self.admits(now, cost) {
            self.level -= cost;
            true
        } else {
            false
        }
    }

    /// Takes up to `cost` without going below zero: how a refused request still uses up capacity
    /// when a provider counts refused requests against the limit.
    #[inline]
    pub fn drain(&mut self, now: SimTime, cost: f64) {
        self.refill(now);
        if self.level > 0.0 {
            self.level = (self.level - cost).max(0.0);
        }
    }

    /// Adds `amount` back (an over-estimated charge reconciled), capped at the burst.
    #[inline]
    pub fn refund(&mut self, now: SimTime, amount: f64) {
        self.refill(now);
        if amount > 0.0 {
            self.level = (self.level + amount).min(self.burst);
        }
    }

    /// Scales rate and burst to `scale` times the configured values from `now` on (not
    /// cumulative; a burst that is whole up to float rounding is snapped to it). Refills at the old rate up to `now` first; the level is clamped to the new
    /// burst, and a later scale-up does not give the clamped tokens back.
    pub fn set_scale(&mut self, now: SimTime, scale: f64) {
        check_scale(scale);
        self.refill(now);
        self.rate_per_s = self.base_rate_per_s * scale;
        self.burst = scaled(self.base_burst, scale);
        self.level = self.level.min(self.burst);
    }

    /// Nanoseconds from `now` until `cost` would pass, if nothing else takes from the bucket.
    /// Rounded up, so that the bucket really admits at the returned instant.
    #[inline]
    pub fn wait_nanos(&mut self, now: SimTime, cost: f64) -> u64 {
        self.refill(now);
        let missing = self.needed(cost) - self.level;
        if missing <= 0.0 {
            return 0;
        }
        let nanos = (missing / self.rate_per_s * NANOS_PER_SEC as f64).ceil();
        // One extra nanosecond absorbs the rounding of the refill multiplication.
        (nanos as u64).saturating_add(1)
    }
}
