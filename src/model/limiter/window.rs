//! Window limits: a fixed window (counters reset at multiples of the window) and a sliding
//! window (the exact rolling sum over the last window).

use super::{check_scale, scaled};
use crate::engine::SimTime;
use crate::engine::time::nanos_to_secs;
use std::collections::VecDeque;

/// A fixed-window counter: at most `limit` per window, windows aligned at multiples of `window`
/// from t=0.
///
/// The per-minute counters of OpenAI and Azure OpenAI (RPM/TPM) that reset at minute boundaries.
/// Window `k` is the half-open interval `[k * window, (k + 1) * window)`; a request of `cost` at
/// `t` passes when `count(k) + cost <= limit`, with `k = floor(t / window)`:
///
/// `count(k) = sum of cost taken at t in [k * window, (k + 1) * window)`
///
/// A refused request waits until the next boundary `(k + 1) * window` exactly, where the count is
/// zero. The known weakness is the boundary burst: a full window just before a boundary and
/// another just after it pass up to `2 * limit` within an interval as short as one nanosecond.
/// Over a long overload it admits `limit` per window.
#[derive(Clone, Debug)]
pub struct FixedWindow {
    base_limit: f64,
    limit: f64,
    window_ns: u64,
    /// The window `count` belongs to.
    index: u64,
    count: f64,
}

impl FixedWindow {
    /// An empty counter at time zero. `window_ns` is positive: [`Limit::new`] refuses others.
    ///
    /// [`Limit::new`]: super::config::Limit::new
    pub fn new(limit: f64, window_ns: u64) -> FixedWindow {
        debug_assert!(window_ns > 0, "a window must be longer than zero");
        FixedWindow {
            base_limit: limit,
            limit,
            window_ns,
            index: 0,
            count: 0.0,
        }
    }

    /// The limit per window, at the current scale.
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// The window length in nanoseconds.
    pub fn window_ns(&self) -> u64 {
        self.window_ns
    }

    /// Limit / window seconds, at the current scale.
    pub fn rate_per_s(&self) -> f64 {
        self.limit / nanos_to_secs(self.window_ns)
    }

    /// What the window containing `now` has counted so far.
    pub fn count(&mut self, now: SimTime) -> f64 {
        self.roll(now);
        self.count
    }

    /// Moves to the window containing `now`, starting it at zero.
    #[inline]
    fn roll(&mut self, now: SimTime) {
        let k = now.0 / self.window_ns;
        if k > self.index {
            self.index = k;
            self.count = 0.0;
        }
    }

    /// Nanoseconds until `cost` passes: 0 if it fits in the current window, else until the next
    /// boundary (exact); `u64::MAX` for a cost above the limit.
    #[inline]
    pub fn wait_nanos(&mut self, now: SimTime, cost: f64) -> u64 {
        self.roll(now);
        if cost > self.limit {
            return u64::MAX;
        }
        if self.count + cost <= self.limit {
            return 0;
        }
        (self.index + 1)
            .checked_mul(self.window_ns)
            .map_or(u64::MAX, |next| next - now.0)
    }

    /// Adds `cost` to the current window's count unconditionally (also how a counted refusal is
    /// recorded).
    #[inline]
    pub fn take(&mut self, now: SimTime, cost: f64) {
        self.roll(now);
        self.count += cost;
    }

    /// Subtracts `amount` (never below zero) if `charged_at` is in the window containing `now`;
    /// a charge in a past window is gone with its window.
    #[inline]
    pub fn refund(&mut self, now: SimTime, charged_at: SimTime, amount: f64) {
        self.roll(now);
        if charged_at.0 / self.window_ns == self.index && amount > 0.0 {
            self.count = (self.count - amount).max(0.0);
        }
    }

    /// Scales the limit to `scale` times the configured one (not cumulative); the count stays.
    pub fn set_scale(&mut self, now: SimTime, scale: f64) {
        check_scale(scale);
        self.roll(now);
        self.limit = scaled(self.base_limit, scale);
    }
}

/// A sliding-window log: at most `limit` in any window `(now - window, now]`.
///
/// The exact rolling window, as Redis sorted-set limiters keep it (one member per request, scored
/// by time; members older than the window are trimmed before counting). A request of `cost` at
/// `t` passes when `sum(t) + cost <= limit`, where
///
/// `sum(t) = sum of cost taken at s with t - window < s <= t`
///
/// so a charge at `s` counts up to `s + window` exclusive: at the instant `s + window` it has left
/// the window. A refused request waits until the earliest instant `s + window` at which enough of
/// the oldest charges have left, exactly. Unlike a fixed window it never passes more than `limit`
/// in any interval shorter than the window. Over a long overload it admits `limit` per window.
///
/// Charges at the same instant share one log entry, so the log holds at most one entry per
/// distinct instant inside the window.
#[derive(Clone, Debug)]
pub struct SlidingWindow {
    base_limit: f64,
    limit: f64,
    window_ns: u64,
    /// (instant, amount charged at it), oldest first, instants strictly increasing.
    pub(super) log: VecDeque<(SimTime, f64)>,
    /// The sum of the amounts in `log`.
    sum: f64,
}

impl SlidingWindow {
    /// An empty log at time zero. `window_ns` is positive: [`Limit::new`] refuses others.
    ///
    /// [`Limit::new`]: super::config::Limit::new
    pub fn new(limit: f64, window_ns: u64) -> SlidingWindow {
        debug_assert!(window_ns > 0, "a window must be longer than zero");
        SlidingWindow {
            base_limit: limit,
            limit,
            window_ns,
            log: VecDeque::new(),
            sum: 0.0,
        }
    }

    /// The limit per window, at the current scale.
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// The window length in nanoseconds.
    pub fn window_ns(&self) -> u64 {
        self.window_ns
    }

    /// Limit / window seconds, at the current scale.
    pub fn rate_per_s(&self) -> f64 {
        self.limit / nanos_to_secs(self.window_ns)
    }

    /// The sum charged in `(now - window, now]`.
    pub fn sum(&mut self, now: SimTime) -> f64 {
        self.evict(now);
        self.sum
    }

    /// Drops the entries that have left the window at `now` (those at or before `now - window`).
    #[inline]
    fn evict(&mut self, now: SimTime) {
        while let Some(&(t, amount)) = self.log.front() {
            if now.since(t) >= self.window_ns {
                self.sum -= amount;
                self.log.pop_front();
            } else {
                break;
            }
        }
        if self.log.is_empty() {
            // Forget any float residue.
            self.sum = 0.0;
        }
    }

    /// Nanoseconds until `cost` passes: 0 if it fits now, else until enough of the oldest entries
    /// have left the window (exact); `u64::MAX` for a cost above the limit.
    pub fn wait_nanos(&mut self, now: SimTime, cost: f64) -> u64 {
        self.evict(now);
        if cost > self.limit {
            return u64::MAX;
        }
        if self.sum + cost <= self.limit {
            return 0;
        }
        // Subtract in the order `evict` will, so that the float sum it reaches is the same.
        let mut remaining = self.sum;
        for &(t, amount) in &self.log {
            remaining -= amount;
            if remaining + cost <= self.limit {
                return Self::leaves_at(t, self.window_ns).since(now);
            }
        }
        // Only float residue is left: the log is empty (and the sum zero) once the last entry goes.
        let &(last, _) = self.log.back().expect("a positive sum has log entries");
        Self::leaves_at(last, self.window_ns).since(now)
    }

    /// The instant a charge at `t` leaves the window.
    #[inline]
    fn leaves_at(t: SimTime, window_ns: u64) -> SimTime {
        t.after(window_ns)
    }

    /// Logs `cost` at `now` unconditionally (also how a counted refusal is recorded).
    pub fn take(&mut self, now: SimTime, cost: f64) {
        self.evict(now);
        match self.log.back_mut() {
            Some((t, amount)) if *t >= now => {
                debug_assert!(*t == now, "time ran backwards: {now} after {t}");
                *amount += cost;
            }
            _ => self.log.push_back((now, cost)),
        }
        self.sum += cost;
    }

    /// Reduces the entry charged at `charged_at` by `amount`, never below zero, if it is still in
    /// the window at `now`; otherwise does nothing.
    pub fn refund(&mut self, now: SimTime, charged_at: SimTime, amount: f64) {
        self.evict(now);
        if amount <= 0.0 {
            return;
        }
        if let Ok(i) = self.log.binary_search_by(|&(t, _)| t.cmp(&charged_at)) {
            let entry = &mut self.log[i].1;
            let given = amount.min(*entry);
            *entry -= given;
            self.sum -= given;
        }
    }

    /// Scales the limit to `scale` times the configured one (not cumulative); the log stays.
    pub fn set_scale(&mut self, now: SimTime, scale: f64) {
        check_scale(scale);
        self.evict(now);
        self.limit = scaled(self.base_limit, scale);
    }
}
