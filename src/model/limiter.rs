//! Token buckets, for provider limits and client-side pacing alike.
//!
//! Task: decide whether `cost` units can pass now, and if not, when they could.
//!
//! The classic token bucket (Turner 1986; the shape of AWS API Gateway, Stripe and Anthropic rate
//! limits): the level refills continuously at `rate` per second up to `burst`; a request of
//! `cost` passes when `level >= cost` and takes `cost`:
//!
//! `level(t) = min(burst, level(t0) + rate * (t - t0))`
//!
//! A cost above `burst` could never pass; such a request passes when the bucket is full and leaves
//! it in debt (a negative level), so that one oversized request still costs its full price.

use crate::engine::SimTime;
use crate::engine::time::{NANOS_PER_SEC, nanos_to_secs};

/// A token bucket with continuous refill.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_per_s: f64,
    burst: f64,
    level: f64,
    updated: SimTime,
}

impl TokenBucket {
    /// A full bucket at time zero. `rate_per_s` and `burst` must be positive (the scenario checks).
    pub fn new(rate_per_s: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            rate_per_s,
            burst,
            level: burst,
            updated: SimTime::ZERO,
        }
    }

    /// Refill rate, in units per second.
    pub fn rate(&self) -> f64 {
        self.rate_per_s
    }

    /// Capacity.
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

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NANOS_PER_SEC;

    #[test]
    fn admissions_follow_the_hand_computed_sequence() {
        // rate 10/s, burst 20: the full bucket passes 20 units at t=0, then 10 units each second.
        let mut b = TokenBucket::new(10.0, 20.0);
        let t0 = SimTime::ZERO;
        assert!(b.try_take(t0, 8.0)); // level 12
        assert!(b.try_take(t0, 12.0)); // level 0
        assert!(!b.try_take(t0, 1.0));
        assert_eq!(b.wait_nanos(t0, 5.0), S / 2 + 1);
        assert!(!b.try_take(SimTime(S / 2 - 1), 5.0)); // level 4.9999999...
        assert!(b.try_take(SimTime(S / 2 + 1), 5.0)); // level ~0
        // After 10 s idle the bucket is full again, capped at burst.
        assert_eq!(b.level(SimTime(11 * S)), 20.0);
    }

    #[test]
    fn the_waiting_time_it_reports_is_enough() {
        let mut b = TokenBucket::new(66_666.0, 200_000.0);
        let mut now = SimTime::ZERO;
        let mut passed = 0;
        for i in 0..1_000 {
            let cost = 30_000.0 + (i % 7) as f64 * 1_111.0;
            now = now.after(b.wait_nanos(now, cost));
            assert!(
                b.try_take(now, cost),
                "request {i} refused at the instant the bucket named"
            );
            passed += 1;
        }
        assert_eq!(passed, 1_000);
    }

    #[test]
    fn long_run_admitted_rate_equals_the_refill_rate() {
        let mut b = TokenBucket::new(100.0, 50.0);
        let mut admitted = 0.0;
        // Offer 1 unit every millisecond for 100 s: ten times the refill rate.
        for ms in 0..100_000u64 {
            if b.try_take(SimTime(ms * S / 1000), 1.0) {
                admitted += 1.0;
            }
        }
        // burst + rate * T = 50 + 100 * 100 (minus the last partial unit).
        assert!((admitted - 10_050.0f64).abs() <= 1.0, "admitted {admitted}");
    }

    #[test]
    fn an_oversized_cost_passes_only_from_a_full_bucket_and_leaves_debt() {
        let mut b = TokenBucket::new(10.0, 20.0);
        assert!(b.try_take(SimTime::ZERO, 1.0));
        assert!(!b.try_take(SimTime::ZERO, 30.0));
        assert_eq!(b.wait_nanos(SimTime::ZERO, 30.0), S / 10 + 1);
        assert!(b.try_take(SimTime(S / 10 + 1), 30.0));
        assert!(b.level(SimTime(S / 10 + 1)) < -9.99);
        // The debt must be repaid: one unit passes only after a further ~1.1 s.
        assert!(!b.try_take(SimTime(S), 1.0));
        assert!(b.try_take(SimTime(S / 10 + 11 * S / 10 + S / 1000), 1.0));
    }

    #[test]
    fn drain_uses_up_capacity_but_never_goes_below_zero() {
        let mut b = TokenBucket::new(10.0, 20.0);
        b.drain(SimTime::ZERO, 15.0);
        assert_eq!(b.level(SimTime::ZERO), 5.0);
        b.drain(SimTime::ZERO, 15.0);
        assert_eq!(b.level(SimTime::ZERO), 0.0);
        assert_eq!(b.level(SimTime(S)), 10.0);
    }
}
