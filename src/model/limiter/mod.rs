//! Rate limits, for provider limits and client-side pacing alike.
//!
//! Task: decide whether `cost` units can pass now, and if not, when they could; count refused
//! requests, give back over-estimated charges, and scale a limit during a brownout. Three kinds sit
//! behind one [`Limiter`]: a [`TokenBucket`], a [`FixedWindow`] and a [`SlidingWindow`].
//!
//! Common rules: time never runs backwards between calls; `wait_nanos` is rounded up so that the
//! request really passes at the instant it names; everything is deterministic (no wall clock, no
//! hashing), and nothing allocates per call except the sliding window's log, which holds one entry
//! per distinct instant still inside the window.

use crate::engine::SimTime;

/// `base * scale`, snapped to the nearest whole number when it is one up to float rounding
/// (100 x 0.29 = 28.999999999999996 becomes 29), so that a scaled burst or window limit admits
/// the whole units it names and `capacity` agrees with the admission check.
fn scaled(base: f64, scale: f64) -> f64 {
    let x = base * scale;
    let whole = x.round();
    if (x - whole).abs() <= 1e-9 * x.abs() {
        whole
    } else {
        x
    }
}

/// Checks, in debug builds, a scale factor: positive and finite, as
/// [`CapacityStep::new`](super::config::CapacityStep::new) makes every scale.
fn check_scale(scale: f64) {
    debug_assert!(
        scale > 0.0 && scale.is_finite(),
        "a limit's scale must be positive and finite, got {scale}"
    );
}

/// One provider or client limit.
#[derive(Clone, Debug)]
pub enum Limiter {
    /// Continuous refill up to a burst.
    TokenBucket(TokenBucket),
    /// Counters reset at multiples of the window.
    FixedWindow(FixedWindow),
    /// The exact rolling sum over the last window.
    SlidingWindow(SlidingWindow),
}

impl Limiter {
    /// A full token bucket refilling at `rate_per_s` up to `burst`.
    pub fn token_bucket(rate_per_s: f64, burst: f64) -> Limiter {
        Limiter::TokenBucket(TokenBucket::new(rate_per_s, burst))
    }

    /// At most `limit` per window of `window_ns`, windows aligned at multiples of `window_ns` from
    /// t=0 (a provider's "per minute").
    pub fn fixed_window(limit: f64, window_ns: u64) -> Limiter {
        Limiter::FixedWindow(FixedWindow::new(limit, window_ns))
    }

    /// At most `limit` in any window `(now - window_ns, now]`.
    pub fn sliding_window(limit: f64, window_ns: u64) -> Limiter {
        Limiter::SlidingWindow(SlidingWindow::new(limit, window_ns))
    }

    /// The most a single request may ever cost at the current scale (burst, or the window limit):
    /// a window never passes a larger request; a bucket passes it only from full, into debt.
    pub fn capacity(&self) -> f64 {
        match self {
            Limiter::TokenBucket(b) => b.burst(),
            Limiter::FixedWindow(w) => w.limit(),
            Limiter::SlidingWindow(w) => w.limit(),
        }
    }

    /// Nanoseconds from `now` until `cost` would pass if nothing else is taken (0: passes now),
    /// rounded up so that it really passes at that instant. A token bucket adds one nanosecond of
    /// slack for its float refill and, for a cost above its burst, names the instant it is full.
    /// Windows are exact (their boundaries are integer instants) and return `u64::MAX` for a cost
    /// above the limit, which never passes.
    #[inline]
    pub fn wait_nanos(&mut self, now: SimTime, cost: f64) -> u64 {
        match self {
            Limiter::TokenBucket(b) => b.wait_nanos(now, cost),
            Limiter::FixedWindow(w) => w.wait_nanos(now, cost),
            Limiter::SlidingWindow(w) => w.wait_nanos(now, cost),
        }
    }

    /// Takes `cost` unconditionally (after a check by `wait_nanos == 0`).
    #[inline]
    pub fn take(&mut self, now: SimTime, cost: f64) {
        match self {
            Limiter::TokenBucket(b) => b.take(now, cost),
            Limiter::FixedWindow(w) => w.take(now, cost),
            Limiter::SlidingWindow(w) => w.take(now, cost),
        }
    }

    /// Takes `cost` if it passes now; returns whether it did.
    pub fn try_take(&mut self, now: SimTime, cost: f64) -> bool {
        if self.wait_nanos(now, cost) == 0 {
            self.take(now, cost);
            true
        } else {
            false
        }
    }

    /// A refused request that still counts against the limit (OpenAI: unsuccessful requests count
    /// toward the per-minute limit). A token bucket drains to at most empty; a fixed window adds
    /// the cost to the current window's count; a sliding window logs it as if it had passed.
    #[inline]
    pub fn count_refused(&mut self, now: SimTime, cost: f64) {
        match self {
            Limiter::TokenBucket(b) => b.drain(now, cost),
            Limiter::FixedWindow(w) => w.take(now, cost),
            Limiter::SlidingWindow(w) => w.take(now, cost),
        }
    }

    /// Gives back `amount` of what was charged at `charged_at` (an estimate reconciled: output
    /// tokens charged as `max_tokens` at admission, fewer generated). A token bucket adds it back,
    /// capped at the burst; a fixed window subtracts it only if `charged_at` is in the current
    /// window; a sliding window reduces the log entry at `charged_at` if it is still in the window.
    /// Never below zero.
    pub fn refund(&mut self, now: SimTime, charged_at: SimTime, amount: f64) {
        match self {
            Limiter::TokenBucket(b) => b.refund(now, amount),
            Limiter::FixedWindow(w) => w.refund(now, charged_at, amount),
            Limiter::SlidingWindow(w) => w.refund(now, charged_at, amount),
        }
    }

    /// Scales the limit by `scale` (> 0) from `now` on, relative to the configured values (not
    /// cumulative): a provider brownout. A token bucket scales rate and burst (refilling at the old
    /// rate up to `now` first, then clamping its level to the new burst); a window scales its limit
    /// and keeps what it has counted.
    pub fn set_scale(&mut self, now: SimTime, scale: f64) {
        match self {
            Limiter::TokenBucket(b) => b.set_scale(now, scale),
            Limiter::FixedWindow(w) => w.set_scale(now, scale),
            Limiter::SlidingWindow(w) => w.set_scale(now, scale),
        }
    }

    /// The sustained rate in units per second at the current scale (token bucket: the refill
    /// rate; windows: limit / window seconds): what a time series plots as "the limit".
    pub fn rate_per_s(&self) -> f64 {
        match self {
            Limiter::TokenBucket(b) => b.rate(),
            Limiter::FixedWindow(w) => w.rate_per_s(),
            Limiter::SlidingWindow(w) => w.rate_per_s(),
        }
    }
}

mod token_bucket;
mod window;

pub use token_bucket::TokenBucket;
pub use window::{FixedWindow, SlidingWindow};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::NANOS_PER_SEC;

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

    const MS: u64 = 1_000_000;

    fn ms(n: u64) -> SimTime {
        SimTime(n * MS)
    }

    /// One offer as a provider makes it: passes if the limiter says so now; a refusal is counted
    /// against the limit when `counted`.
    fn offer(l: &mut Limiter, now: SimTime, cost: f64, counted: bool) -> bool {
        if l.wait_nanos(now, cost) == 0 {
            l.take(now, cost);
            true
        } else {
            if counted {
                l.count_refused(now, cost);
            }
            false
        }
    }

    /// Offers one unit every millisecond for `secs` seconds; how many passed, and how many of
    /// those passed after the first second.
    fn overload(l: &mut Limiter, secs: u64, counted: bool) -> (u64, u64) {
        let (mut all, mut late) = (0, 0);
        for t in 0..secs * 1000 {
            if offer(l, ms(t), 1.0, counted) {
                all += 1;
                if t >= 1000 {
                    late += 1;
                }
            }
        }
        (all, late)
    }

    fn sliding_log_len(l: &Limiter) -> usize {
        match l {
            Limiter::SlidingWindow(w) => w.log.len(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_enum_token_bucket_follows_the_hand_computed_sequence() {
        // rate 10/s, burst 20, as above, through `Limiter`.
        let mut l = Limiter::token_bucket(10.0, 20.0);
        assert_eq!(l.capacity(), 20.0);
        assert_eq!(l.rate_per_s(), 10.0);
        assert!(l.try_take(SimTime::ZERO, 20.0));
        assert_eq!(l.wait_nanos(SimTime::ZERO, 5.0), S / 2 + 1);
        assert!(!l.try_take(SimTime(S / 2 - 1), 5.0));
        assert!(l.try_take(SimTime(S / 2 + 1), 5.0));
        // Above the burst: passes from a full bucket (2 s after ~0), not never.
        // (The 1 ns of refill since t=0.5 s shortens the wait by 1 ns; the slack adds it back.)
        assert_eq!(l.wait_nanos(SimTime(S / 2 + 1), 25.0), 2 * S);
    }

    #[test]
    fn a_fixed_window_passes_its_limit_then_waits_for_the_boundary_exactly() {
        // Limit 10 per 1 s: 10 pass at t=0.2, the 11th waits until t=1.0 exactly.
        let mut l = Limiter::fixed_window(10.0, S);
        for i in 0..10 {
            assert!(l.try_take(ms(200), 1.0), "request {i}");
        }
        assert_eq!(l.wait_nanos(ms(200), 1.0), 800 * MS);
        assert_eq!(l.wait_nanos(SimTime(S - 1), 1.0), 1);
        assert!(!l.try_take(SimTime(S - 1), 1.0));
        // The window [1 s, 2 s) starts empty.
        for i in 0..10 {
            assert!(
                l.try_take(SimTime(S), 1.0),
                "request {i} of the second window"
            );
        }
        assert_eq!(l.wait_nanos(SimTime(S), 1.0), S);
        // A partial fit: 3 left in the third window, a cost of 4 waits for the fourth.
        assert!(l.try_take(ms(2500), 7.0));
        assert_eq!(l.wait_nanos(ms(2600), 3.0), 0);
        assert_eq!(l.wait_nanos(ms(2600), 4.0), 400 * MS);
    }

    #[test]
    fn a_sliding_window_counts_the_half_open_window_and_waits_for_the_oldest_to_leave() {
        // Limit 10 per 1 s, window (now - 1 s, now]: 5 at t=0 and 5 at t=0.5.
        let mut l = Limiter::sliding_window(10.0, S);
        for _ in 0..5 {
            assert!(l.try_take(SimTime::ZERO, 1.0));
        }
        for _ in 0..5 {
            assert!(l.try_take(ms(500), 1.0));
        }
        // The 11th at t=0.6 waits until the charges at t=0 leave, at t=1.0 exactly.
        assert_eq!(l.wait_nanos(ms(600), 1.0), 400 * MS);
        // At 1 s - 1 ns, t=0 is still inside (now - 1 s, now].
        assert_eq!(l.wait_nanos(SimTime(S - 1), 1.0), 1);
        assert!(!l.try_take(SimTime(S - 1), 1.0));
        // At 1 s, t=0 = now - 1 s is outside: exactly 5 pass.
        for i in 0..5 {
            assert!(l.try_take(SimTime(S), 1.0), "request {i}");
        }
        // The next waits for the charges at t=0.5 to leave, at t=1.5.
        assert_eq!(l.wait_nanos(SimTime(S), 1.0), 500 * MS);
        assert!(!l.try_take(SimTime(1500 * MS - 1), 1.0));
        // Needing 6 frees only after both t=0.5 and t=1.0 have left: t=2.0.
        assert_eq!(l.wait_nanos(ms(1200), 6.0), 800 * MS);
        for _ in 0..5 {
            assert!(l.try_take(ms(1500), 1.0));
        }
        let Limiter::SlidingWindow(w) = &mut l else {
            unreachable!()
        };
        assert_eq!(w.sum(ms(1500)), 10.0);
        assert_eq!(w.sum(ms(2000)), 5.0);
        assert_eq!(w.sum(ms(2500)), 0.0);
    }

    #[test]
    fn every_kind_admits_at_the_instant_its_wait_names() {
        let kinds = [
            Limiter::token_bucket(66_666.0, 200_000.0),
            Limiter::fixed_window(200_000.0, 3 * S),
            Limiter::sliding_window(200_000.0, 3 * S),
        ];
        for mut l in kinds {
            let mut now = SimTime::ZERO;
            for i in 0..1_000u64 {
                let cost = 30_000.0 + (i % 7) as f64 * 1_111.0;
                now = now.after((i % 5) * 37 * MS);
                now = now.after(l.wait_nanos(now, cost));
                assert!(l.try_take(now, cost), "{l:?}: request {i} refused at {now}");
            }
        }
    }

    #[test]
    fn window_waits_are_exact_not_just_sufficient() {
        let kinds = [
            Limiter::fixed_window(20.0, S),
            Limiter::sliding_window(20.0, S),
        ];
        for mut l in kinds {
            let mut now = SimTime::ZERO;
            let mut waited = 0;
            for i in 0..2_000u64 {
                let cost = (i % 7 + 1) as f64;
                now = now.after((i % 5) * 13 * MS);
                let wait = l.wait_nanos(now, cost);
                if wait > 0 {
                    waited += 1;
                    // One nanosecond earlier it still does not pass.
                    assert_eq!(l.wait_nanos(now.after(wait - 1), cost), 1, "{l:?}: {i}");
                    now = now.after(wait);
                }
                assert!(l.try_take(now, cost), "{l:?}: request {i} refused at {now}");
            }
            assert!(waited > 300, "{l:?}: only {waited} waits tested");
        }
    }

    #[test]
    fn a_window_never_passes_a_cost_above_its_limit() {
        for mut l in [
            Limiter::fixed_window(10.0, S),
            Limiter::sliding_window(10.0, S),
        ] {
            assert_eq!(l.capacity(), 10.0);
            assert_eq!(l.wait_nanos(SimTime::ZERO, 10.0), 0);
            assert_eq!(l.wait_nanos(SimTime::ZERO, 10.5), u64::MAX);
            assert_eq!(l.wait_nanos(SimTime(100 * S), 10.5), u64::MAX);
        }
    }

    #[test]
    fn a_fixed_window_passes_twice_its_limit_across_a_boundary_and_a_sliding_one_does_not() {
        // Limit 10 per 1 s, 10 offered at t=0.999 and 10 at t=1.000.
        let mut fixed = Limiter::fixed_window(10.0, S);
        let mut sliding = Limiter::sliding_window(10.0, S);
        let mut passed = [0, 0];
        for t in [ms(999), ms(1000)] {
            for _ in 0..10 {
                passed[0] += fixed.try_take(t, 1.0) as u32;
                passed[1] += sliding.try_take(t, 1.0) as u32;
            }
        }
        // The fixed window passes 20 = 2 x limit within one millisecond.
        assert_eq!(passed, [20, 10]);
        // The sliding window passes the next ones when t=0.999 leaves, at t=1.999.
        assert_eq!(sliding.wait_nanos(ms(1000), 1.0), 999 * MS);
    }

    #[test]
    fn long_run_admitted_rate_under_overload_equals_the_rate_for_every_kind() {
        // 1 unit offered every millisecond for 100 s: ten times a limit of 100 per second.
        let mut bucket = Limiter::token_bucket(100.0, 100.0);
        let mut fixed = Limiter::fixed_window(100.0, S);
        let mut sliding = Limiter::sliding_window(100.0, S);
        for l in [&bucket, &fixed, &sliding] {
            assert_eq!(l.rate_per_s(), 100.0);
        }
        let (b, _) = overload(&mut bucket, 100, false);
        let (f, _) = overload(&mut fixed, 100, false);
        let (s, _) = overload(&mut sliding, 100, false);
        // burst + rate * T = 100 + 100 * 99.999 for the bucket (last offer at 99.999 s).
        assert!(b.abs_diff(10_100) <= 1, "bucket admitted {b}");
        // limit x 100 windows for both windows.
        assert_eq!(f, 10_000);
        assert_eq!(s, 10_000);
    }

    #[test]
    fn a_counted_refusal_empties_a_token_bucket_and_delays_the_next_pass() {
        // rate 10/s, burst 10, emptied at t=0. At t=0.3 the level is 3; a refused 5 drains it.
        let mut counted = Limiter::token_bucket(10.0, 10.0);
        let mut free = counted.clone();
        for l in [&mut counted, &mut free] {
            assert!(l.try_take(SimTime::ZERO, 10.0));
        }
        assert!(!offer(&mut counted, ms(300), 5.0, true));
        assert!(!offer(&mut free, ms(300), 5.0, false));
        assert_eq!(free.wait_nanos(ms(300), 1.0), 0);
        assert_eq!(counted.wait_nanos(ms(300), 1.0), 100 * MS + 1);
    }

    #[test]
    fn a_counted_refusal_fills_a_fixed_window_until_its_boundary() {
        // Limit 10 per 1 s: 8 at t=0.2; a refused 5 at t=0.3 counts (13); a 1 at t=0.4 then
        // waits for t=1.0 although 2 were left. The next window starts from zero.
        let mut counted = Limiter::fixed_window(10.0, S);
        let mut free = counted.clone();
        for (l, count) in [(&mut counted, true), (&mut free, false)] {
            assert!(l.try_take(ms(200), 8.0));
            assert!(!offer(l, ms(300), 5.0, count));
        }
        assert_eq!(free.wait_nanos(ms(400), 1.0), 0);
        assert_eq!(counted.wait_nanos(ms(400), 1.0), 600 * MS);
        assert_eq!(counted.wait_nanos(SimTime(S), 10.0), 0);
    }

    #[test]
    fn a_counted_refusal_stays_in_a_sliding_log_for_a_whole_window() {
        // Limit 10 per 1 s: 10 at t=0; a refused 1 at t=0.5 is logged. At t=1.0 only 9 pass and
        // the 10th waits until t=1.5, when the refusal leaves.
        let mut l = Limiter::sliding_window(10.0, S);
        assert!(l.try_take(SimTime::ZERO, 10.0));
        assert!(!offer(&mut l, ms(500), 1.0, true));
        for i in 0..9 {
            assert!(l.try_take(SimTime(S), 1.0), "request {i}");
        }
        assert_eq!(l.wait_nanos(SimTime(S), 1.0), 500 * MS);
        // Uncounted, all 10 pass at t=1.0.
        let mut free = Limiter::sliding_window(10.0, S);
        assert!(free.try_take(SimTime::ZERO, 10.0));
        assert!(!offer(&mut free, ms(500), 1.0, false));
        assert!(free.try_take(SimTime(S), 10.0));
    }

    #[test]
    fn counted_refusals_under_steady_overload_starve_the_bucket_and_the_sliding_log_only() {
        // 1 unit every millisecond against 100 per second, every refusal counted, for 10 s.
        // Bucket: each refusal drains the 0.1 refilled since the last offer, so after the burst
        // (~111 passes in the first 111 ms) it never again holds 1.
        let (b, b_late) = overload(&mut Limiter::token_bucket(100.0, 100.0), 10, true);
        assert_eq!(b_late, 0);
        assert!((100..=112).contains(&b), "bucket admitted {b}");
        // Sliding log: the window stays full of ~1000 refusals: nothing after the first 100.
        let (s, s_late) = overload(&mut Limiter::sliding_window(100.0, S), 10, true);
        assert_eq!((s, s_late), (100, 0));
        // Fixed window: each window starts from zero whatever the last one counted.
        let (f, f_late) = overload(&mut Limiter::fixed_window(100.0, S), 10, true);
        assert_eq!((f, f_late), (1_000, 900));
    }

    #[test]
    fn a_token_bucket_refund_adds_back_up_to_the_burst() {
        // rate 10/s, burst 100: emptied at t=0, level 10 at t=1, +60 refunded = 70.
        let mut l = Limiter::token_bucket(10.0, 100.0);
        l.take(SimTime::ZERO, 100.0);
        l.refund(SimTime(S), SimTime::ZERO, 60.0);
        assert_eq!(l.wait_nanos(SimTime(S), 70.0), 0);
        assert!(l.wait_nanos(SimTime(S), 71.0) > 0);
        // Another 60 only fills it to 100.
        l.refund(SimTime(S), SimTime::ZERO, 60.0);
        let Limiter::TokenBucket(b) = &mut l else {
            unreachable!()
        };
        assert_eq!(b.level(SimTime(S)), 100.0);
    }

    #[test]
    fn a_fixed_window_refund_counts_only_within_the_charging_window() {
        // Limit 10 per 1 s: 10 at t=0.2; 4 of them refunded at t=0.5 let 4 more pass.
        let mut l = Limiter::fixed_window(10.0, S);
        l.take(ms(200), 10.0);
        l.refund(ms(500), ms(200), 4.0);
        for i in 0..4 {
            assert!(l.try_take(ms(500), 1.0), "request {i}");
        }
        assert_eq!(l.wait_nanos(ms(500), 1.0), 500 * MS);
        // 10 at t=1.2; a refund of a charge from the past window (t=0.2) changes nothing.
        l.take(ms(1200), 10.0);
        l.refund(ms(1300), ms(200), 5.0);
        assert_eq!(l.wait_nanos(ms(1300), 1.0), 700 * MS);
        // A refund never takes the count below zero: 10 pass, not 60.
        l.refund(ms(1300), ms(1200), 60.0);
        assert!(l.try_take(ms(1300), 10.0));
        assert_eq!(l.wait_nanos(ms(1300), 1.0), 700 * MS);
    }

    #[test]
    fn a_sliding_window_refund_reduces_its_own_entry_while_it_is_in_the_window() {
        // Limit 10 per 1 s: 5 at t=0, 5 at t=0.5; 3 of the t=0 charge refunded at t=0.6.
        let mut l = Limiter::sliding_window(10.0, S);
        l.take(SimTime::ZERO, 5.0);
        l.take(ms(500), 5.0);
        l.refund(ms(600), SimTime::ZERO, 3.0);
        // Log: t=0: 2, t=0.5: 5. Three pass at t=0.6.
        assert!(l.try_take(ms(600), 3.0));
        // The next waits for t=0 (now only 2) to leave at t=1.0.
        assert_eq!(l.wait_nanos(ms(600), 2.0), 400 * MS);
        assert_eq!(l.wait_nanos(ms(600), 3.0), 900 * MS);
        // A refund for an instant with no entry, or for one that has left, changes nothing.
        l.refund(ms(700), ms(550), 5.0);
        l.refund(SimTime(S), SimTime::ZERO, 2.0);
        let Limiter::SlidingWindow(w) = &mut l else {
            unreachable!()
        };
        assert_eq!(w.sum(SimTime(S)), 8.0);
        // A refund larger than its entry empties that entry only: 8 - 5, not 8 - 50.
        w.refund(SimTime(S), ms(500), 50.0);
        assert_eq!(w.sum(SimTime(S)), 3.0);
        assert_eq!(w.wait_nanos(SimTime(S), 7.0), 0);
        assert_eq!(w.wait_nanos(SimTime(S), 8.0), 600 * MS);
    }

    #[test]
    fn a_bucket_at_66667_per_s_scaled_to_0_3_admits_20000_per_s() {
        // 1,000 units offered every millisecond (1,000,000/s), scaled at t=10 s.
        let mut l = Limiter::token_bucket(66_667.0, 66_667.0);
        let mut before = 0u64;
        let mut after = 0u64;
        for t in 0..110_000u64 {
            if t == 10_000 {
                l.set_scale(ms(t), 0.3);
                assert!((l.rate_per_s() - 20_000.1).abs() < 1e-9);
                assert!((l.capacity() - 20_000.1).abs() < 1e-9);
            }
            if offer(&mut l, ms(t), 1_000.0, false) {
                if t < 10_000 {
                    before += 1;
                } else {
                    after += 1;
                }
            }
        }
        // First 10 s: burst + rate x 10 s = 733,337 units, in whole requests of 1,000.
        assert!((732..=734).contains(&before), "before {before}");
        // Next 100 s: 20,000.1 x 100 = 2,000,010 units plus the < 1,000 left at the switch.
        assert!((2_000..=2_001).contains(&after), "after {after}");
    }

    #[test]
    fn scaling_a_bucket_refills_at_the_old_rate_first_and_is_not_cumulative() {
        // rate 10/s, burst 100, emptied at t=0. At t=2 it holds 20 (old rate); scaled to 0.5 it
        // refills 5/s up to 50: 30 at t=4, 50 (not 70) at t=10.
        let mut b = TokenBucket::new(10.0, 100.0);
        b.take(SimTime::ZERO, 100.0);
        b.set_scale(SimTime(2 * S), 0.5);
        assert_eq!(b.level(SimTime(2 * S)), 20.0);
        assert_eq!(b.level(SimTime(4 * S)), 30.0);
        assert_eq!(b.level(SimTime(10 * S)), 50.0);
        // Scaling by 0.5 again keeps the configured x 0.5, not x 0.25.
        b.set_scale(SimTime(10 * S), 0.5);
        assert_eq!((b.rate(), b.burst()), (5.0, 50.0));
        // Down to 0.3 clamps the level to 30; back to 1 does not return the clamped 20.
        b.set_scale(SimTime(10 * S), 0.3);
        assert_eq!(b.level(SimTime(10 * S)), 30.0);
        b.set_scale(SimTime(10 * S), 1.0);
        assert_eq!((b.rate(), b.burst()), (10.0, 100.0));
        assert_eq!(b.level(SimTime(10 * S)), 30.0);
        assert_eq!(b.level(SimTime(11 * S)), 40.0);
    }

    #[test]
    fn a_scaled_fixed_window_keeps_its_count_and_admits_the_scaled_limit() {
        // Limit 10 per 1 s: 5 at t=0; scaled to 0.3 at t=0.1 the limit is 3 and 5 are counted.
        let mut l = Limiter::fixed_window(10.0, S);
        l.take(SimTime::ZERO, 5.0);
        l.set_scale(ms(100), 0.3);
        assert_eq!(l.capacity(), 3.0);
        assert!((l.rate_per_s() - 3.0).abs() < 1e-12);
        assert_eq!(l.wait_nanos(ms(100), 1.0), 900 * MS);
        assert_eq!(l.wait_nanos(ms(100), 4.0), u64::MAX);
        // Three per window from t=1.0 on.
        for w in 1..5 {
            for _ in 0..3 {
                assert!(l.try_take(SimTime(w * S), 1.0));
            }
            assert_eq!(l.wait_nanos(SimTime(w * S), 1.0), S);
        }
        // Back to 1 mid-window: 7 more fit beside the 3 already counted.
        l.set_scale(ms(4500), 1.0);
        assert!(l.try_take(ms(4500), 7.0));
        assert_eq!(l.wait_nanos(ms(4500), 1.0), 500 * MS);
    }

    #[test]
    fn a_scaled_sliding_window_keeps_its_log_and_admits_the_scaled_limit() {
        // Limit 10 per 1 s: 5 at t=0, 5 at t=0.5; doubled at t=0.6, 10 more pass.
        let mut l = Limiter::sliding_window(10.0, S);
        l.take(SimTime::ZERO, 5.0);
        l.take(ms(500), 5.0);
        l.set_scale(ms(600), 2.0);
        assert!(l.try_take(ms(600), 10.0));
        assert_eq!(l.wait_nanos(ms(600), 1.0), 400 * MS);
        // Halved (x 0.5 of the configured 10, not of 20) at t=1.0: 15 in the window against 5;
        // a unit waits for t=0.5 and t=0.6 to leave: until t=1.6.
        l.set_scale(SimTime(S), 0.5);
        assert_eq!(l.capacity(), 5.0);
        assert_eq!(l.rate_per_s(), 5.0);
        assert_eq!(l.wait_nanos(SimTime(S), 1.0), 600 * MS);
        assert!(l.try_take(ms(1600), 5.0));
    }

    #[test]
    fn charges_at_one_instant_share_one_sliding_log_entry() {
        let mut l = Limiter::sliding_window(1e9, S);
        for _ in 0..1_000 {
            l.take(SimTime::ZERO, 1.0);
        }
        assert_eq!(sliding_log_len(&l), 1);
        // Under a long overload the log holds the instants of the last window only.
        let mut l = Limiter::sliding_window(100.0, S);
        overload(&mut l, 20, true);
        assert_eq!(sliding_log_len(&l), 1000);
    }

    #[test]
    fn a_window_scaled_to_an_inexact_limit_still_admits_whole_units() {
        // 100 x 0.29 is 28.999999999999996 in floating point; 29 unit requests must still pass,
        // and a request of 29 is within the capacity.
        assert_ne!(100.0 * 0.29, 29.0);
        for mut l in [
            Limiter::fixed_window(100.0, S),
            Limiter::sliding_window(100.0, S),
        ] {
            l.set_scale(SimTime::ZERO, 0.29);
            assert_eq!(l.capacity(), 29.0);
            for i in 0..29 {
                assert!(l.try_take(SimTime::ZERO, 1.0), "{l:?}: request {i}");
            }
            assert_eq!(l.wait_nanos(SimTime::ZERO, 1.0), S);
            assert_eq!(l.wait_nanos(SimTime::ZERO, 29.0), S);
            assert_eq!(l.wait_nanos(SimTime::ZERO, 30.0), u64::MAX);
        }
        let mut b = Limiter::token_bucket(1.0, 100.0);
        b.set_scale(SimTime::ZERO, 0.29);
        assert_eq!(b.capacity(), 29.0);
        assert!(b.try_take(SimTime::ZERO, 29.0));
        // A scale that is not near a whole number is kept as it is.
        b.set_scale(SimTime::ZERO, 0.333);
        assert_eq!(b.capacity(), 100.0 * 0.333);
    }

    #[test]
    fn rate_per_s_reports_the_scaled_sustained_rate() {
        let mut l = Limiter::fixed_window(600.0, 60 * S);
        assert_eq!(l.rate_per_s(), 10.0);
        l.set_scale(SimTime::ZERO, 0.5);
        assert_eq!(l.rate_per_s(), 5.0);
        let mut l = Limiter::sliding_window(90_000.0, 60 * S);
        assert_eq!(l.rate_per_s(), 1_500.0);
        l.set_scale(SimTime::ZERO, 2.0);
        assert_eq!(l.rate_per_s(), 3_000.0);
    }
}
