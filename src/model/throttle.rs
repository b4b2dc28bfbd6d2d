//! Client-side throttles: a client that slows itself down because the provider is refusing it.
//!
//! Task: turn the provider's recent refusals into a decision about the next request, before it is
//! sent. Two throttles from production clients sit here, each a state machine fed with what the
//! client saw:
//! - [`SreThrottle`], Google's adaptive throttling: a probability of rejecting the next request
//!   locally, from how many requests the backend accepted out of those the client tried. The
//!   caller draws against it (this module has no randomness).
//! - [`AdaptiveRateLimiter`], the AWS SDKs' "adaptive" retry mode: a token bucket in front of
//!   every attempt whose fill rate follows CUBIC, cut on each throttling response and grown back
//!   along a cubic curve after it.
//!
//! [`WindowCounts`] is the bounded sliding count both the SRE throttle and the circuit breaker
//! keep. Everything here is deterministic: integer time, no hashing, no wall clock.

use crate::engine::SimTime;
use crate::engine::time::{NANOS_PER_SEC, nanos_to_secs};

/// Two counters summed over a sliding window of whole time buckets.
///
/// Time is cut into buckets `[j * bucket, (j + 1) * bucket)`; the window at `now` is the bucket
/// containing `now` and the `n - 1` before it, with `n = ceil(window / bucket)`. So a count made
/// at `t` is forgotten at the start of bucket `floor(t / bucket) + n`: it counts for between
/// `(n - 1) * bucket` and `n * bucket`. This is how resilience4j's time-based sliding window
/// aggregates (one partial aggregation per second, the current second included) and how gRPC's
/// adaptive throttler keeps its lookback. Memory is `n` pairs whatever the traffic.
#[derive(Clone, Debug)]
pub struct WindowCounts {
    bucket_ns: u64,
    /// Counts per bucket; bucket `j` lives at slot `j % n`.
    ring: Vec<[u64; 2]>,
    /// The newest bucket the ring holds.
    newest: u64,
    /// The sum of `ring`.
    totals: [u64; 2],
}

impl WindowCounts {
    /// An empty window of `window_ns` in buckets of `bucket_ns` (both positive, the window at
    /// least one bucket: the specs that size one refuse a zero window when they are built).
    pub fn new(window_ns: u64, bucket_ns: u64) -> WindowCounts {
        debug_assert!(
            bucket_ns > 0 && window_ns >= bucket_ns,
            "a window ({window_ns} ns) must hold at least one bucket ({bucket_ns} ns)"
        );
        let n = usize::try_from(window_ns.div_ceil(bucket_ns)).expect("bucket count fits usize");
        WindowCounts {
            bucket_ns,
            ring: vec![[0, 0]; n],
            newest: 0,
            totals: [0, 0],
        }
    }

    /// An empty window in one-second buckets, or one bucket for a window shorter than a second.
    pub fn per_second(window_ns: u64) -> WindowCounts {
        WindowCounts::new(window_ns, window_ns.min(NANOS_PER_SEC))
    }

    /// The number of buckets kept.
    pub fn buckets(&self) -> usize {
        self.ring.len()
    }

    /// Moves the window to the bucket containing `now`, forgetting the buckets that leave it.
    fn advance(&mut self, now: SimTime) {
        let k = now.0 / self.bucket_ns;
        if k <= self.newest {
            debug_assert!(k == self.newest, "time ran backwards: {now}");
            return;
        }
        let n = self.ring.len() as u64;
        if k - self.newest >= n {
            self.ring.fill([0, 0]);
            self.totals = [0, 0];
        } else {
            for j in self.newest + 1..=k {
                let slot = &mut self.ring[(j % n) as usize];
                self.totals[0] -= slot[0];
                self.totals[1] -= slot[1];
                *slot = [0, 0];
            }
        }
        self.newest = k;
    }

    /// Adds `counts` at `now`.
    pub fn add(&mut self, now: SimTime, counts: [u64; 2]) {
        self.advance(now);
        let n = self.ring.len() as u64;
        let slot = &mut self.ring[(self.newest % n) as usize];
        for i in 0..2 {
            slot[i] += counts[i];
            self.totals[i] += counts[i];
        }
    }

    /// The two sums over the window at `now`.
    pub fn totals(&mut self, now: SimTime) -> [u64; 2] {
        self.advance(now);
        self.totals
    }

    /// Forgets everything counted.
    pub fn clear(&mut self) {
        self.ring.fill([0, 0]);
        self.totals = [0, 0];
    }
}

/// Google SRE client-side adaptive throttling.
///
/// From *Site Reliability Engineering* (Beyer et al., O'Reilly 2016), chapter 21 "Handling
/// Overload", section "Client-side throttling". Over the last `window` (two minutes in the book)
/// the client counts `requests`, the requests its application layer attempted (those this
/// throttle then rejected locally included), and `accepts`, those the backend accepted. A new
/// request is rejected locally with probability
///
/// `p = max(0, (requests - K * accepts) / (requests + 1))`
///
/// With `K = 2` the client goes on sending until it sends twice what the backend accepts; past
/// that, the share it sends falls so that about `K * accepts` reach the backend. Locally rejected
/// requests still count as requests, so `p` keeps rising while the backend refuses. gRPC's
/// adaptive throttler (grpc-go `balancer/rls/internal/adaptive`) is the same rule with a padding
/// of 8 for the 1.
///
/// Use, per request: `p = reject_probability(now)`, then `on_request(now)`, then draw `u` uniform
/// on `[0, 1)` and reject locally when `u < p`; for a request that was sent and that the backend
/// accepted (anything but a 429/529-style refusal), `on_accept` when its answer arrives. Counts are
/// kept in one-second buckets ([`WindowCounts::per_second`]).
#[derive(Clone, Debug)]
pub struct SreThrottle {
    k: f64,
    /// `[requests, accepts]`.
    counts: WindowCounts,
}

impl SreThrottle {
    /// The book's multiplier.
    pub const BOOK_K: f64 = 2.0;
    /// The book's window: two minutes.
    pub const BOOK_WINDOW_NS: u64 = 120 * NANOS_PER_SEC;

    /// A throttle with multiplier `k` (the book uses 2) over `window_ns`, both positive as
    /// [`ThrottleSpec::sre`](super::config::ThrottleSpec::sre) makes them.
    pub fn new(k: f64, window_ns: u64) -> SreThrottle {
        debug_assert!(
            k > 0.0 && k.is_finite(),
            "K must be positive and finite, got {k}"
        );
        SreThrottle {
            k,
            counts: WindowCounts::per_second(window_ns),
        }
    }

    /// The probability with which a request at `now` should be rejected locally, before it is
    /// counted with [`SreThrottle::on_request`].
    pub fn reject_probability(&mut self, now: SimTime) -> f64 {
        let [requests, accepts] = self.counts.totals(now);
        let requests = requests as f64;
        ((requests - self.k * accepts as f64) / (requests + 1.0)).max(0.0)
    }

    /// The application attempted a request at `now` (whether or not it is then rejected locally).
    pub fn on_request(&mut self, now: SimTime) {
        self.counts.add(now, [1, 0]);
    }

    /// The backend accepted a request; `now` is when the client learnt it.
    pub fn on_accept(&mut self, now: SimTime) {
        self.counts.add(now, [0, 1]);
    }

    /// `(requests, accepts)` over the window at `now`.
    pub fn counts(&mut self, now: SimTime) -> (u64, u64) {
        let [requests, accepts] = self.counts.totals(now);
        (requests, accepts)
    }
}

/// The AWS SDKs' client-side rate limiter of the "adaptive" retry mode.
///
/// Faithful to botocore's `retries/adaptive.py` (`ClientRateLimiter`, `RateClocker`),
/// `retries/bucket.py` (`TokenBucket`) and `retries/throttling.py` (`CubicCalculator`); the other
/// AWS SDKs' adaptive mode (Go v2's `aws/retry`, Java v2's `RateLimitingTokenBucket`) uses the
/// same constants. Three parts, times in seconds:
///
/// - **Measured rate** (`RateClocker`): every response counts 1 in the current half-second
///   bucket; when a response lands in a later bucket `b` than the last update's `b0`,
///   `measured = 0.8 * count / (b - b0) + 0.2 * measured` and the count restarts. (It counts
///   responses, not sends, though botocore's docstring says "sending"; the first bucket boundary
///   is `floor(start)` in whole seconds.)
/// - **CUBIC** (`CubicCalculator`, beta = 0.7, C = 0.4; starts with `w_max = 0` and
///   `last_fail = start`): on a throttling response,
///   `w_max = rate_to_use`, `k = (w_max * (1 - beta) / C)^(1/3)`, `last_fail = t` and the new rate
///   is `beta * rate_to_use`, where `rate_to_use` is the measured rate, or
///   `min(measured, fill_rate)` once the bucket is on; on any other response the new rate is
///   `C * (t - last_fail - k)^3 + w_max`.
/// - **Token bucket** (`TokenBucket`, starts with fill rate 1, capacity 1, empty): after every
///   response it refills at the old rate, then takes
///   `fill_rate = max(0.5, min(new_rate, 2 * measured))`, capacity `max(1, min(new_rate, 2 *
///   measured))`, and clamps its level to the capacity. It only gates sends from the first
///   throttling response on; from then on every attempt (retries too) takes one token, waiting
///   `(1 - level) / fill_rate` when there is none.
///
/// Which responses are throttling ones is the caller's call: botocore's list of throttling error
/// codes (`Throttling`, `ThrottlingException`, `TooManyRequestsException`, `SlowDown`, ...) is, for
/// an LLM provider, a 429 (and arguably a 529). Every other response (successes, 5xx, and timeouts,
/// which reach botocore's `needs-retry` hook as caught exceptions) counts as a success for CUBIC
/// and as a response for the measured rate.
///
/// Deviation: botocore blocks on a condition variable and re-checks when the rate changes; here
/// [`AdaptiveRateLimiter::acquire_wait_ns`] returns the wait and the caller calls again after it,
/// which sees any rate change then. Time is integer nanoseconds instead of float seconds.
#[derive(Clone, Debug)]
pub struct AdaptiveRateLimiter {
    /// Whether the bucket gates sends (after the first throttling response).
    enabled: bool,
    // CubicCalculator.
    w_max: f64,
    k: f64,
    last_fail: SimTime,
    // RateClocker.
    measured_rate: f64,
    /// Half-second index of the last update.
    last_half_second: u64,
    count: u64,
    // TokenBucket.
    fill_rate: f64,
    max_capacity: f64,
    level: f64,
    last_refill: SimTime,
}

impl AdaptiveRateLimiter {
    /// CUBIC's multiplicative decrease.
    pub const BETA: f64 = 0.7;
    /// CUBIC's scale constant C.
    pub const SCALE_CONSTANT: f64 = 0.4;
    /// Weight of the newest bucket in the measured rate.
    pub const SMOOTHING: f64 = 0.8;
    /// Width of the measured rate's buckets.
    pub const RATE_BUCKET_NS: u64 = NANOS_PER_SEC / 2;
    /// The lowest fill rate, in tokens per second.
    pub const MIN_FILL_RATE: f64 = 0.5;
    /// The fill rate never exceeds this multiple of the measured rate.
    pub const MAX_RATE_ADJUST_SCALE: f64 = 2.0;

    /// A limiter created at time zero, as botocore's `register_retry_handler` builds it.
    pub fn new() -> AdaptiveRateLimiter {
        AdaptiveRateLimiter::starting_at(SimTime::ZERO)
    }

    /// A limiter created at `now`.
    pub fn starting_at(now: SimTime) -> AdaptiveRateLimiter {
        AdaptiveRateLimiter {
            enabled: false,
            w_max: 0.0,
            k: 0.0,
            last_fail: now,
            measured_rate: 0.0,
            // floor(start) in whole seconds, as a half-second index.
            last_half_second: now.0 / NANOS_PER_SEC * 2,
            count: 0,
            fill_rate: 1.0,
            max_capacity: 1.0,
            level: 0.0,
            last_refill: now,
        }
    }

    /// Whether the bucket gates sends yet (it does from the first throttling response on).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The bucket's fill rate in tokens (attempts) per second: what a time series plots.
    pub fn fill_rate(&self) -> f64 {
        self.fill_rate
    }

    /// The smoothed response rate, per second.
    pub fn measured_rate(&self) -> f64 {
        self.measured_rate
    }

    /// The bucket's level as of its last refill (botocore's `available_capacity`).
    pub fn available_capacity(&self) -> f64 {
        self.level
    }

    /// Nanoseconds until an attempt may be sent: 0 if it may go now, in which case it has taken
    /// its token (or the bucket is not on yet); otherwise the wait until the bucket holds a token
    /// at the current fill rate, rounded up with one nanosecond of slack for the float refill. The
    /// caller calls again after waiting.
    pub fn acquire_wait_ns(&mut self, now: SimTime) -> u64 {
        if !self.enabled {
            return 0;
        }
        self.refill(now);
        if self.level >= 1.0 {
            self.level -= 1.0;
            return 0;
        }
        let nanos = ((1.0 - self.level) / self.fill_rate * NANOS_PER_SEC as f64).ceil();
        (nanos as u64).saturating_add(1)
    }

    /// A response arrived at `now`; `throttled` when it was a throttling error.
    pub fn on_response(&mut self, now: SimTime, throttled: bool) {
        let measured = self.record(now);
        let new_rate = if throttled {
            let rate_to_use = if self.enabled {
                measured.min(self.fill_rate)
            } else {
                measured
            };
            self.enabled = true;
            self.cubic_error(rate_to_use, now)
        } else {
            self.cubic_success(now)
        };
        self.set_max_rate(now, new_rate.min(Self::MAX_RATE_ADJUST_SCALE * measured));
    }

    /// `RateClocker.record`: counts one response and returns the measured rate.
    fn record(&mut self, now: SimTime) -> f64 {
        let bucket = now.0 / Self::RATE_BUCKET_NS;
        self.count += 1;
        if bucket > self.last_half_second {
            let elapsed_s = (bucket - self.last_half_second) as f64 * 0.5;
            let current = self.count as f64 / elapsed_s;
            self.measured_rate =
                current * Self::SMOOTHING + self.measured_rate * (1.0 - Self::SMOOTHING);
            self.count = 0;
            self.last_half_second = bucket;
        }
        self.measured_rate
    }

    /// `CubicCalculator.success_received`.
    fn cubic_success(&self, now: SimTime) -> f64 {
        let dt = nanos_to_secs(now.since(self.last_fail));
        Self::SCALE_CONSTANT * (dt - self.k).powf(3.0) + self.w_max
    }

    /// `CubicCalculator.error_received`.
    fn cubic_error(&mut self, rate: f64, now: SimTime) -> f64 {
        self.w_max = rate;
        self.k = (self.w_max * (1.0 - Self::BETA) / Self::SCALE_CONSTANT).powf(1.0 / 3.0);
        self.last_fail = now;
        rate * Self::BETA
    }

    /// `TokenBucket._refill`.
    fn refill(&mut self, now: SimTime) {
        if now > self.last_refill {
            let added = nanos_to_secs(now.since(self.last_refill)) * self.fill_rate;
            self.level = (self.level + added).min(self.max_capacity);
            self.last_refill = now;
        }
    }

    /// The `TokenBucket.max_rate` setter.
    fn set_max_rate(&mut self, now: SimTime, value: f64) {
        self.refill(now);
        self.fill_rate = value.max(Self::MIN_FILL_RATE);
        self.max_capacity = if value >= 1.0 { value } else { 1.0 };
        self.level = self.level.min(self.max_capacity);
    }
}

impl Default for AdaptiveRateLimiter {
    fn default() -> AdaptiveRateLimiter {
        AdaptiveRateLimiter::new()
    }
}

/// SRE throttling counts each request as it is offered and each acceptance, and refuses with its
/// current probability.
impl crate::model::client::hooks::ClientPolicy for SreThrottle {
    fn gate(
        &mut self,
        now: SimTime,
        draw: &mut dyn FnMut() -> f64,
    ) -> crate::model::client::hooks::Verdict {
        let p = self.reject_probability(now);
        self.on_request(now);
        if p > 0.0 && draw() < p {
            crate::model::client::hooks::Verdict::Throttle
        } else {
            crate::model::client::hooks::Verdict::Pass
        }
    }

    fn admitted(&mut self, now: SimTime) {
        self.on_accept(now);
    }
}

/// The AWS adaptive limiter delays sending until its bucket holds a token, and adjusts its rate on
/// every response.
impl crate::model::client::hooks::ClientPolicy for AdaptiveRateLimiter {
    fn gate(
        &mut self,
        now: SimTime,
        _draw: &mut dyn FnMut() -> f64,
    ) -> crate::model::client::hooks::Verdict {
        match self.acquire_wait_ns(now) {
            0 => crate::model::client::hooks::Verdict::Pass,
            wait => crate::model::client::hooks::Verdict::Delay(wait),
        }
    }

    fn observe(
        &mut self,
        now: SimTime,
        outcome: crate::model::client::hooks::Outcome,
        _sample: crate::model::client::hooks::Sample,
    ) {
        self.on_response(
            now,
            outcome == crate::model::client::hooks::Outcome::RateLimited,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NANOS_PER_SEC;
    const MS: u64 = 1_000_000;

    fn ms(t: u64) -> SimTime {
        SimTime(t * MS)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn window_counts_forget_a_bucket_once_it_is_n_buckets_old() {
        // 3 s in 1 s buckets: a count at t=0.5 is in bucket 0, which leaves at t=3.0.
        let mut w = WindowCounts::new(3 * S, S);
        assert_eq!(w.buckets(), 3);
        w.add(ms(500), [1, 0]);
        w.add(ms(1_500), [1, 1]);
        w.add(ms(2_999), [0, 1]);
        assert_eq!(w.totals(ms(2_999)), [2, 2]);
        assert_eq!(w.totals(SimTime(3 * S)), [1, 2]);
        assert_eq!(w.totals(SimTime(4 * S)), [0, 1]);
        assert_eq!(w.totals(SimTime(5 * S)), [0, 0]);
        // A jump past the whole window empties it at once.
        w.add(SimTime(5 * S), [7, 7]);
        assert_eq!(w.totals(SimTime(100 * S)), [0, 0]);
    }

    #[test]
    fn window_counts_keep_a_fixed_number_of_buckets_under_any_traffic() {
        // Two minutes at one-second buckets: 120 slots for 1,000 counts a second over 10 min.
        let mut w = WindowCounts::per_second(120 * S);
        for t in 0..600_000u64 {
            w.add(ms(t), [1, t % 2]);
        }
        assert_eq!(w.buckets(), 120);
        // At t=599.999 s the window is buckets 480..=599: 120,000 counts, half of them odd.
        assert_eq!(w.totals(ms(599_999)), [120_000, 60_000]);
        // Shorter than a second: one bucket the length of the window.
        assert_eq!(WindowCounts::per_second(200 * MS).buckets(), 1);
        assert_eq!(WindowCounts::new(2_500 * MS, S).buckets(), 3);
    }

    #[test]
    fn window_counts_clear_forgets_everything() {
        let mut w = WindowCounts::new(10 * S, S);
        w.add(ms(100), [3, 2]);
        w.clear();
        assert_eq!(w.totals(ms(200)), [0, 0]);
        w.add(ms(300), [1, 1]);
        assert_eq!(w.totals(ms(300)), [1, 1]);
    }

    #[test]
    fn sre_throttle_follows_the_books_formula_as_the_backend_stops_accepting() {
        let mut t = SreThrottle::new(SreThrottle::BOOK_K, SreThrottle::BOOK_WINDOW_NS);
        // No history: (0 - 0) / 1 = 0.
        assert_eq!(t.reject_probability(SimTime::ZERO), 0.0);
        // 10 requests, all accepted: (10 - 20) / 11 < 0, so 0.
        for _ in 0..10 {
            t.on_request(SimTime::ZERO);
            t.on_accept(SimTime::ZERO);
        }
        assert_eq!(t.reject_probability(SimTime::ZERO), 0.0);
        // The backend refuses from here on. 10 refused requests: (20 - 20) / 21 = 0.
        for _ in 0..10 {
            t.on_request(ms(1));
        }
        assert_eq!(t.reject_probability(ms(1)), 0.0);
        // One more: (21 - 20) / 22.
        t.on_request(ms(1));
        assert_eq!(t.reject_probability(ms(1)), 1.0 / 22.0);
        // Requests rejected locally still count: at 30 requests, (30 - 20) / 31.
        for _ in 0..9 {
            t.on_request(ms(2));
        }
        assert_eq!(t.counts(ms(2)), (30, 10));
        assert_eq!(t.reject_probability(ms(2)), 10.0 / 31.0);
    }

    #[test]
    fn sre_throttle_forgets_accepts_older_than_the_window() {
        // 10 accepted at t=0, 20 refused at t=60 s; window 120 s in 1 s buckets.
        let mut t = SreThrottle::new(2.0, 120 * S);
        for _ in 0..10 {
            t.on_request(SimTime::ZERO);
            t.on_accept(SimTime::ZERO);
        }
        for _ in 0..20 {
            t.on_request(SimTime(60 * S));
        }
        // At t=119.999 s all 30 requests and 10 accepts count: (30 - 20) / 31.
        assert_eq!(t.reject_probability(ms(119_999)), 10.0 / 31.0);
        // At t=120 s the t=0 bucket has left: (20 - 0) / 21.
        assert_eq!(t.reject_probability(SimTime(120 * S)), 20.0 / 21.0);
        // At t=180 s nothing is left.
        assert_eq!(t.reject_probability(SimTime(180 * S)), 0.0);
    }

    #[test]
    fn sre_throttle_with_a_larger_k_tolerates_more_refusals() {
        // 10 requests, 4 accepted: K=2 gives (10 - 8) / 11, K=3 gives 0.
        for (k, expected) in [(2.0, 2.0 / 11.0), (3.0, 0.0)] {
            let mut t = SreThrottle::new(k, 120 * S);
            for i in 0..10 {
                t.on_request(SimTime::ZERO);
                if i < 4 {
                    t.on_accept(SimTime::ZERO);
                }
            }
            assert_eq!(t.reject_probability(SimTime::ZERO), expected, "K={k}");
        }
    }

    #[test]
    fn the_adaptive_limiter_lets_everything_through_until_the_first_throttle() {
        let mut l = AdaptiveRateLimiter::new();
        for i in 0..1_000u64 {
            assert_eq!(l.acquire_wait_ns(SimTime(i)), 0);
            l.on_response(SimTime(i), false);
        }
        assert!(!l.enabled());
    }

    #[test]
    fn the_measured_rate_smooths_responses_per_half_second() {
        // 10 responses a second, at t = 0.1, 0.2, ...: each half second holds 5, a rate of 10/s.
        // Updates at t = 0.5, 1.0, 1.5, 2.0: 8, 8 + 0.2 * 8 = 9.6, 9.92, 9.984.
        let mut l = AdaptiveRateLimiter::new();
        let mut seen = Vec::new();
        for i in 1..=20u64 {
            l.on_response(ms(100 * i), false);
            if i % 5 == 0 {
                seen.push(l.measured_rate());
            }
        }
        let expected = [8.0, 9.6, 9.92, 9.984];
        for (got, want) in seen.iter().zip(expected) {
            assert!(close(*got, want), "{seen:?}");
        }
        // A response after a gap of 1.5 s (three buckets) counts 1 over 1.5 s: 0.8 / 1.5 + 0.2 *
        // 9.984.
        l.on_response(ms(3_500), false);
        assert!(close(l.measured_rate(), 0.8 / 1.5 + 0.2 * 9.984));
    }

    #[test]
    fn a_first_throttle_cuts_the_fill_rate_to_beta_times_the_measured_rate() {
        // One throttling response at t=0.5: measured = 0.8 * (1 / 0.5) = 1.6; new rate 0.7 * 1.6
        // = 1.12 (below 2 * 1.6). The bucket filled at 1/s from t=0: level 0.5.
        let mut l = AdaptiveRateLimiter::new();
        l.on_response(ms(500), true);
        assert!(l.enabled());
        assert!(close(l.measured_rate(), 1.6));
        assert!(close(l.fill_rate(), 1.12));
        assert!(close(l.available_capacity(), 0.5));
        // No token now: the half token missing takes 0.5 / 1.12 s = 446,428,571.4 ns, rounded up
        // plus one nanosecond of slack.
        let wait = l.acquire_wait_ns(ms(500));
        assert_eq!(wait, 446_428_573);
        // At that instant the token is there, and taking it empties the bucket.
        assert_eq!(l.acquire_wait_ns(ms(500).after(wait)), 0);
        assert!(l.available_capacity() < 1e-8);
        // The next waits a whole token: 1 / 1.12 s.
        let next = l.acquire_wait_ns(ms(500).after(wait));
        assert!((892_857_142..=892_857_144).contains(&next), "{next}");
    }

    #[test]
    fn after_a_throttle_the_rate_climbs_the_cubic_capped_at_twice_the_measured_rate() {
        // Throttle at t=0.5 as above: w_max = 1.6, k = (1.6 * 0.3 / 0.4)^(1/3) = 1.2^(1/3).
        let mut l = AdaptiveRateLimiter::new();
        l.on_response(ms(500), true);
        let k = 1.2f64.powf(1.0 / 3.0);
        // A success at t = 3.5: the cubic gives 0.4 * (3 - k)^3 + 1.6 = 4.5086; the measured rate
        // is 0.8 * (1 / 3) + 0.2 * 1.6 (one response over six half seconds), and twice it, 1.1733,
        // is the fill rate.
        l.on_response(ms(3_500), false);
        let measured = 0.8 / 3.0 + 0.2 * 1.6;
        assert!(close(l.measured_rate(), measured));
        let cubic = 0.4 * (3.0 - k).powi(3) + 1.6;
        assert!(cubic > 2.0 * measured);
        assert!(close(l.fill_rate(), 2.0 * measured), "{}", l.fill_rate());
        // Ten responses at t = 3.55 ... 4.0 (20/s): the one at 4.0 closes a bucket of 10, so
        // measured = 0.8 * 20 + 0.2 * previous, and twice that is above the cubic, which shows.
        for i in 1..=10u64 {
            l.on_response(ms(3_500 + 50 * i), false);
        }
        let measured = 0.8 * 20.0 + 0.2 * measured;
        assert!(close(l.measured_rate(), measured));
        let cubic = 0.4 * (3.5 - k).powi(3) + 1.6;
        assert!(cubic < 2.0 * measured);
        assert!(close(l.fill_rate(), cubic), "{} vs {cubic}", l.fill_rate());
    }

    #[test]
    fn a_throttle_with_no_measured_rate_falls_to_the_minimum_fill_rate() {
        // A throttle at t=0.1 comes before any half-second boundary: measured 0, new rate 0, so
        // fill rate 0.5 and capacity 1. The bucket filled at 1/s for 0.1 s: level 0.1, and the
        // next token takes 0.9 / 0.5 = 1.8 s.
        let mut l = AdaptiveRateLimiter::new();
        l.on_response(ms(100), true);
        assert_eq!(l.measured_rate(), 0.0);
        assert_eq!(l.fill_rate(), 0.5);
        let wait = l.acquire_wait_ns(ms(100));
        assert!((1_800_000_000..=1_800_000_002).contains(&wait), "{wait}");
        assert!(l.acquire_wait_ns(ms(100).after(wait - 2)) > 0);
        assert_eq!(l.acquire_wait_ns(ms(100).after(wait)), 0);
    }

    #[test]
    fn the_bucket_holds_at_most_its_fill_rate_in_tokens_and_at_least_one() {
        // Fill rate 1.12 after a throttle at t=0.5 (as above): ten idle seconds fill it to 1.12
        // only, so after one token the next is 0.88 / 1.12 s away.
        let mut l = AdaptiveRateLimiter::new();
        l.on_response(ms(500), true);
        assert_eq!(l.acquire_wait_ns(ms(10_500)), 0);
        assert!(close(l.available_capacity(), 0.12));
        let wait = l.acquire_wait_ns(ms(10_500));
        assert!((785_714_285..=785_714_288).contains(&wait), "{wait}");
        // Fill rate 0.5 (below 1): the bucket still holds one whole token, not 0.5.
        let mut l = AdaptiveRateLimiter::new();
        l.on_response(ms(100), true);
        assert_eq!(l.acquire_wait_ns(SimTime(100 * S)), 0);
        assert_eq!(l.available_capacity(), 0.0);
        let wait = l.acquire_wait_ns(SimTime(100 * S));
        assert!((2_000_000_000..=2_000_000_001).contains(&wait), "{wait}");
    }

    #[test]
    fn a_second_throttle_uses_the_lower_of_the_measured_and_the_fill_rate() {
        // 40 responses a second for 1 s, then a throttle at 1.0: measured = 0.8 * 40 + 0.2 * (0.8
        // * 40) = 38.4; fill 0.7 * 38.4 = 26.88; w_max = 38.4, k = (38.4 * 0.3 / 0.4)^(1/3).
        let mut l = AdaptiveRateLimiter::new();
        for i in 1..40u64 {
            l.on_response(ms(25 * i), false);
        }
        l.on_response(SimTime(S), true);
        assert!(close(l.measured_rate(), 38.4));
        assert!(close(l.fill_rate(), 26.88));
        // 20 successes at t = 1.024 ... 1.480 climb the cubic: the last sets the fill rate to
        // 0.4 * (0.48 - k)^3 + 38.4 (about 31.5, below 2 * 38.4).
        let k = 28.8f64.powf(1.0 / 3.0);
        for i in 1..21u64 {
            l.on_response(SimTime(S).after(i * 24 * MS), false);
        }
        let fill = 0.4 * (0.48 - k).powi(3) + 38.4;
        assert!(close(l.fill_rate(), fill), "{} vs {fill}", l.fill_rate());
        // A throttle at 1.5 closes the bucket of 21 responses: measured = 0.8 * 42 + 0.2 * 38.4
        // = 41.28, above the fill rate, so the fill rate is what is cut: 0.7 * fill.
        l.on_response(ms(1_500), true);
        assert!(close(l.measured_rate(), 0.8 * 42.0 + 0.2 * 38.4));
        assert!(close(l.fill_rate(), 0.7 * fill), "{}", l.fill_rate());
        // Had the measured rate been the lower, it would be cut instead: one lone throttle at 2.0
        // measures 0.8 * 2 + 0.2 * 41.28 = 9.856, below the fill rate 0.7 * fill.
        l.on_response(SimTime(2 * S), true);
        let measured = 0.8 * 2.0 + 0.2 * 41.28;
        assert!(close(l.measured_rate(), measured));
        assert!(close(l.fill_rate(), 0.7 * measured), "{}", l.fill_rate());
    }

    #[test]
    fn the_adaptive_limiter_matches_botocore_on_a_throttling_episode() {
        // An attempt offered every 40 ms for 6 s; the provider throttles every attempt sent in
        // [1.0, 2.0) and accepts the rest; an attempt with no token is not sent. The reference
        // values were printed by botocore 1.43.11's ClientRateLimiter, TokenBucket, RateClocker
        // and CubicCalculator driven by a fake clock through the same sequence:
        // (t ms, fill rate, measured rate, bucket level, attempts sent so far).
        let reference = [
            (1_120, 8.12224, 23.680000000000003, 0.09129600000000115, 28),
            (2_000, 3.4181830787213037, 4.1472, 0.04975088639999958, 32),
            (
                4_080,
                4.333980642512042,
                4.00023552,
                0.12873371751516105,
                40,
            ),
            (
                5_040,
                6.81180730302909,
                5.6000094208,
                0.0035574652164025444,
                45,
            ),
            (
                5_960,
                13.144069955352336,
                7.52000188416,
                0.44324083953980753,
                53,
            ),
        ];
        let mut l = AdaptiveRateLimiter::new();
        let mut sent = 0;
        let mut checked = 0;
        for i in 0..150u64 {
            let t = 40 * i;
            if l.acquire_wait_ns(ms(t)) > 0 {
                continue;
            }
            sent += 1;
            l.on_response(ms(t), (1_000..2_000).contains(&t));
            if let Some(&(_, fill, measured, level, n)) = reference.iter().find(|r| r.0 == t) {
                assert!(close(l.fill_rate(), fill), "t={t}: fill {}", l.fill_rate());
                assert!(close(l.measured_rate(), measured), "t={t}");
                assert!(close(l.available_capacity(), level), "t={t}");
                assert_eq!(sent, n, "t={t}");
                checked += 1;
            }
        }
        assert_eq!(checked, reference.len());
    }
}
