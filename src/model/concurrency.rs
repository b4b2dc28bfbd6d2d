//! Client-side concurrency limits: how many attempts a client keeps in flight at once.
//!
//! Task: cap the client's outstanding attempts, and for the adaptive kinds move the cap from what
//! each finished attempt tells: whether the provider dropped it (a 429/529 refusal or a timeout)
//! and how long it took. Three kinds sit behind one [`ConcurrencyLimit`]: a static cap, Netflix's
//! loss-based AIMD and Netflix's latency-based Gradient2.
//!
//! The caller admits an attempt while its in-flight count is below [`ConcurrencyLimit::limit`],
//! and reports every finished attempt with [`ConcurrencyLimit::on_sample`]: `rtt_ns` from send to
//! answer (or to the timeout), `in_flight` the client's in-flight count just after that attempt was
//! admitted (itself included: Netflix's `AbstractLimiter` passes the count it reached when it
//! handed out the attempt's permit), and `dropped` for a refusal or a timeout. Attempts that never
//! reached the provider (rejected locally) are not samples. Deterministic: no clock, no hashing.

use super::config::{SpecError, refuse};
use crate::engine::SimTime;

/// A configured concurrency limit, built by [`ConcurrencySpec::fixed`], [`ConcurrencySpec::aimd`]
/// or [`ConcurrencySpec::gradient2`], which refuse a limit that could never admit or never move.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConcurrencySpec(Kind);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Static { limit: u32 },
    Aimd(Aimd),
    Gradient2(Gradient2),
}

/// Additive increase, multiplicative decrease on drops: Netflix concurrency-limits `AIMDLimit`.
///
/// On a dropped sample `limit = floor(limit * decrease_factor)`; on any other sample, when the
/// attempt saw the client at least half full (`2 * in_flight >= limit`),
/// `limit = limit + increase`; otherwise no change. Then `limit` is clamped to `[min, max]`.
/// Netflix: `increase` is 1, `decrease_factor` (its `backoffRatio`) 0.9 and must lie in
/// `[0.5, 1.0)`, `initial` = `min` = 20, `max` 200; its `timeout` (5 s: a slower sample counts
/// as a drop) is left to the caller, which reports a timed-out attempt as dropped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aimd {
    pub initial: u32,
    pub min: u32,
    pub max: u32,
    pub increase: u32,
    pub decrease_factor: f64,
}

impl Aimd {
    /// Netflix's `AIMDLimit` defaults.
    pub const NETFLIX: Aimd = Aimd {
        initial: 20,
        min: 20,
        max: 200,
        increase: 1,
        decrease_factor: 0.9,
    };
}

/// Netflix concurrency-limits `Gradient2Limit`: the limit follows the ratio of a long-term
/// average RTT to the latest RTT.
///
/// Per sample, with `estimate` the real-valued limit (initially `initial`):
/// - `long_rtt` is an exponential average of the RTTs: the plain mean of the first 10
///   samples, then `long_rtt = long_rtt * (1 - f) + rtt * f` with `f = 2 / (long_window + 1)`
///   (Netflix `ExpAvgMeasurement(long_window, 10)`); `short_rtt` is this sample's RTT.
/// - If `long_rtt / short_rtt > 2` (latency back to normal after a long overload), the stored
///   `long_rtt` decays by 0.95; this sample still uses the value before the decay.
/// - If `in_flight < estimate / 2` the client is not using its limit: no change.
/// - Otherwise `gradient = max(0.5, min(1.0, rtt_tolerance * long_rtt / short_rtt))`,
///   `new = estimate * gradient + queue_size`,
///   `estimate = clamp(estimate * (1 - smoothing) + new * smoothing, min, max)`.
///
/// The limit is `floor(estimate)`. It ignores `dropped`, as Netflix's does: only latency moves
/// it, so a fast 429 looks like a short RTT. Netflix defaults: `initial` = `min` = 20, `max`
/// 200, `smoothing` 0.2, `rtt_tolerance` 1.5, `long_window` 600, `queue_size` 4 (a constant;
/// its older `GradientLimit` used a square root of the limit). An RTT of 0 is taken as 1 ns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gradient2 {
    pub initial: u32,
    pub min: u32,
    pub max: u32,
    pub smoothing: f64,
    pub rtt_tolerance: f64,
    pub long_window: u32,
    pub queue_size: u32,
}

impl Gradient2 {
    /// Netflix's `Gradient2Limit` defaults.
    pub const NETFLIX: Gradient2 = Gradient2 {
        initial: 20,
        min: 20,
        max: 200,
        smoothing: 0.2,
        rtt_tolerance: 1.5,
        long_window: 600,
        queue_size: 4,
    };
}

impl ConcurrencySpec {
    /// At most `limit` in flight, always (Netflix `FixedLimit`); refused below 1.
    pub fn fixed(limit: u32) -> Result<ConcurrencySpec, SpecError> {
        if limit == 0 {
            return refuse("limit", "at least 1", limit);
        }
        Ok(ConcurrencySpec(Kind::Static { limit }))
    }

    /// An AIMD limit; refused unless `1 <= min <= initial <= max` and `decrease_factor` is in
    /// `(0, 1)`.
    pub fn aimd(p: Aimd) -> Result<ConcurrencySpec, SpecError> {
        check_range(p.initial, p.min, p.max)?;
        if !(p.decrease_factor > 0.0 && p.decrease_factor < 1.0) {
            return refuse("decrease_factor", "a factor in (0, 1)", p.decrease_factor);
        }
        Ok(ConcurrencySpec(Kind::Aimd(p)))
    }

    /// A Gradient2 limit; refused unless `1 <= min <= initial <= max`, `smoothing` is in
    /// `(0, 1]`, `rtt_tolerance` is finite and at least 1, and `long_window` at least 1.
    pub fn gradient2(p: Gradient2) -> Result<ConcurrencySpec, SpecError> {
        check_range(p.initial, p.min, p.max)?;
        if !(p.smoothing > 0.0 && p.smoothing <= 1.0) {
            return refuse("smoothing", "a number in (0, 1]", p.smoothing);
        }
        if !(p.rtt_tolerance >= 1.0 && p.rtt_tolerance.is_finite()) {
            return refuse("rtt_tolerance", "a finite number >= 1", p.rtt_tolerance);
        }
        if p.long_window == 0 {
            return refuse("long_window", "at least 1", p.long_window);
        }
        Ok(ConcurrencySpec(Kind::Gradient2(p)))
    }
}

/// Checks `1 <= min <= initial <= max`, blaming `min`, then `max`, then `initial`.
fn check_range(initial: u32, min: u32, max: u32) -> Result<(), SpecError> {
    if min == 0 {
        return refuse("min", "at least 1", min);
    }
    if max < min {
        return refuse("max", format!("at least min ({min})"), max);
    }
    if !(min..=max).contains(&initial) {
        return refuse(
            "initial",
            format!("between min ({min}) and max ({max})"),
            initial,
        );
    }
    Ok(())
}

/// Netflix `ExpAvgMeasurement` with a warm-up of 10 samples.
#[derive(Clone, Debug)]
struct ExpAvg {
    window: u32,
    count: u32,
    sum: f64,
    value: f64,
}

impl ExpAvg {
    const WARMUP: u32 = 10;

    fn new(window: u32) -> ExpAvg {
        ExpAvg {
            window,
            count: 0,
            sum: 0.0,
            value: 0.0,
        }
    }

    fn add(&mut self, sample: f64) -> f64 {
        if self.count < Self::WARMUP {
            self.count += 1;
            self.sum += sample;
            self.value = self.sum / f64::from(self.count);
        } else {
            let factor = 2.0 / (f64::from(self.window) + 1.0);
            self.value = self.value * (1.0 - factor) + sample * factor;
        }
        self.value
    }
}

#[derive(Clone, Debug)]
enum State {
    Static,
    Aimd { limit: u32 },
    Gradient2 { estimate: f64, long_rtt: ExpAvg },
}

/// A concurrency limit's state during a run.
#[derive(Clone, Debug)]
pub struct ConcurrencyLimit {
    spec: ConcurrencySpec,
    state: State,
}

impl ConcurrencyLimit {
    /// A limit at its initial value.
    pub fn new(spec: ConcurrencySpec) -> ConcurrencyLimit {
        let state = match spec.0 {
            Kind::Static { .. } => State::Static,
            Kind::Aimd(p) => State::Aimd { limit: p.initial },
            Kind::Gradient2(p) => State::Gradient2 {
                estimate: f64::from(p.initial),
                long_rtt: ExpAvg::new(p.long_window),
            },
        };
        ConcurrencyLimit { spec, state }
    }

    /// The configuration.
    pub fn spec(&self) -> &ConcurrencySpec {
        &self.spec
    }

    /// How many attempts may be in flight now.
    #[inline]
    pub fn limit(&self) -> u32 {
        match (&self.spec.0, &self.state) {
            (Kind::Static { limit }, _) => *limit,
            (_, State::Aimd { limit }) => *limit,
            // `as` truncates, as Java's `(int)` does; the estimate is within [min, max].
            (_, State::Gradient2 { estimate, .. }) => *estimate as u32,
            (_, State::Static) => unreachable!("a static state has a static spec"),
        }
    }

    /// The long-term RTT average of a Gradient2 limit, in nanoseconds (`None` for other kinds).
    pub fn long_rtt_ns(&self) -> Option<f64> {
        match &self.state {
            State::Gradient2 { long_rtt, .. } => Some(long_rtt.value),
            _ => None,
        }
    }

    /// An attempt finished: it took `rtt_ns`, the client had `in_flight` attempts out (this one
    /// included) when it was admitted, and `dropped` says whether the provider refused it
    /// (429/529) or it timed out. `_now` is unused by these kinds (Netflix passes the start time,
    /// which neither uses).
    pub fn on_sample(&mut self, _now: SimTime, rtt_ns: u64, in_flight: u32, dropped: bool) {
        match (self.spec.0, &mut self.state) {
            (Kind::Static { .. }, _) => {}
            (
                Kind::Aimd(Aimd {
                    min,
                    max,
                    increase,
                    decrease_factor,
                    ..
                }),
                State::Aimd { limit },
            ) => {
                let next = if dropped {
                    // Truncation, as Java's `(int) (currentLimit * backoffRatio)`.
                    (f64::from(*limit) * decrease_factor) as u32
                } else if u64::from(in_flight) * 2 >= u64::from(*limit) {
                    limit.saturating_add(increase)
                } else {
                    *limit
                };
                *limit = next.max(min).min(max);
            }
            (
                Kind::Gradient2(Gradient2 {
                    min,
                    max,
                    smoothing,
                    rtt_tolerance,
                    queue_size,
                    ..
                }),
                State::Gradient2 { estimate, long_rtt },
            ) => {
                let short = rtt_ns.max(1) as f64;
                let long = long_rtt.add(short);
                if long / short > 2.0 {
                    long_rtt.value *= 0.95;
                }
                if f64::from(in_flight) < *estimate / 2.0 {
                    return;
                }
                let gradient = (rtt_tolerance * long / short).clamp(0.5, 1.0);
                let new = *estimate * gradient + f64::from(queue_size);
                let smoothed = *estimate * (1.0 - smoothing) + new * smoothing;
                *estimate = smoothed.min(f64::from(max)).max(f64::from(min));
            }
            _ => unreachable!("state and spec are of one kind"),
        }
    }
}

/// A concurrency limit holds calls in the admission line while the limit is reached, and learns
/// from each attempt's round trip: a 429 or a timeout is a drop; a server error is no sample.
impl crate::model::client::hooks::ClientPolicy for ConcurrencyLimit {
    fn observe(
        &mut self,
        now: SimTime,
        outcome: crate::model::client::hooks::Outcome,
        sample: crate::model::client::hooks::Sample,
    ) {
        use crate::model::client::hooks::Outcome;
        if outcome != Outcome::ServerError {
            let dropped = matches!(outcome, Outcome::RateLimited | Outcome::Timeout);
            self.on_sample(now, sample.rtt_ns, sample.in_flight_at_send, dropped);
        }
    }

    fn holds_calls(&self) -> bool {
        true
    }

    fn admits(&self, in_flight: u32) -> bool {
        in_flight < self.limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const T: SimTime = SimTime::ZERO;

    fn aimd(initial: u32, min: u32, max: u32) -> ConcurrencyLimit {
        ConcurrencyLimit::new(ConcurrencySpec::aimd(aimd_range(initial, min, max)).unwrap())
    }

    fn gradient2(initial: u32, min: u32, max: u32) -> ConcurrencyLimit {
        let p = Gradient2 {
            initial,
            min,
            max,
            ..Gradient2::NETFLIX
        };
        ConcurrencyLimit::new(ConcurrencySpec::gradient2(p).unwrap())
    }

    /// Netflix's AIMD defaults with `initial`, `min` and `max`.
    fn aimd_range(initial: u32, min: u32, max: u32) -> Aimd {
        Aimd {
            initial,
            min,
            max,
            ..Aimd::NETFLIX
        }
    }

    #[test]
    fn a_static_limit_of_zero_is_refused() {
        assert_eq!(
            ConcurrencySpec::fixed(0),
            refuse("limit", "at least 1", "0")
        );
        assert!(ConcurrencySpec::fixed(1).is_ok());
    }

    #[test]
    fn a_zero_minimum_is_refused() {
        assert_eq!(
            ConcurrencySpec::aimd(aimd_range(5, 0, 10)),
            refuse("min", "at least 1", "0")
        );
    }

    #[test]
    fn a_maximum_below_the_minimum_is_refused() {
        assert_eq!(
            ConcurrencySpec::aimd(aimd_range(5, 8, 6)),
            refuse("max", "at least min (8)", "6")
        );
    }

    #[test]
    fn an_initial_limit_outside_min_and_max_is_refused() {
        let expected = "between min (5) and max (10)";
        assert_eq!(
            ConcurrencySpec::aimd(aimd_range(4, 5, 10)),
            refuse("initial", expected, "4")
        );
        assert_eq!(
            ConcurrencySpec::aimd(aimd_range(11, 5, 10)),
            refuse("initial", expected, "11")
        );
        // The ends are in: 1 <= min = initial = max.
        assert!(ConcurrencySpec::aimd(aimd_range(1, 1, 1)).is_ok());
    }

    #[test]
    fn an_aimd_decrease_factor_outside_zero_to_one_is_refused() {
        for (f, shown) in [(0.0, "0"), (1.0, "1"), (1.5, "1.5"), (f64::NAN, "NaN")] {
            let p = Aimd {
                decrease_factor: f,
                ..Aimd::NETFLIX
            };
            assert_eq!(
                ConcurrencySpec::aimd(p),
                refuse("decrease_factor", "a factor in (0, 1)", shown),
                "{f}"
            );
        }
    }

    #[test]
    fn a_gradient2_range_is_checked_like_an_aimd_one() {
        let p = Gradient2 {
            initial: 300,
            ..Gradient2::NETFLIX
        };
        assert_eq!(
            ConcurrencySpec::gradient2(p),
            refuse("initial", "between min (20) and max (200)", "300")
        );
    }

    #[test]
    fn a_gradient2_smoothing_outside_zero_to_one_is_refused() {
        for (smoothing, shown) in [(0.0, "0"), (1.5, "1.5"), (f64::NAN, "NaN")] {
            let p = Gradient2 {
                smoothing,
                ..Gradient2::NETFLIX
            };
            assert_eq!(
                ConcurrencySpec::gradient2(p),
                refuse("smoothing", "a number in (0, 1]", shown),
                "{smoothing}"
            );
        }
        let whole = Gradient2 {
            smoothing: 1.0,
            ..Gradient2::NETFLIX
        };
        assert!(ConcurrencySpec::gradient2(whole).is_ok());
    }

    #[test]
    fn a_gradient2_rtt_tolerance_below_one_or_infinite_is_refused() {
        for (rtt_tolerance, shown) in [(0.9, "0.9"), (f64::INFINITY, "inf")] {
            let p = Gradient2 {
                rtt_tolerance,
                ..Gradient2::NETFLIX
            };
            assert_eq!(
                ConcurrencySpec::gradient2(p),
                refuse("rtt_tolerance", "a finite number >= 1", shown),
                "{rtt_tolerance}"
            );
        }
        let one = Gradient2 {
            rtt_tolerance: 1.0,
            ..Gradient2::NETFLIX
        };
        assert!(ConcurrencySpec::gradient2(one).is_ok());
    }

    #[test]
    fn a_gradient2_long_window_of_zero_is_refused() {
        let p = Gradient2 {
            long_window: 0,
            ..Gradient2::NETFLIX
        };
        assert_eq!(
            ConcurrencySpec::gradient2(p),
            refuse("long_window", "at least 1", "0")
        );
    }

    #[test]
    fn a_static_limit_never_moves() {
        let mut l = ConcurrencyLimit::new(ConcurrencySpec::fixed(7).unwrap());
        for (in_flight, dropped) in [(7, false), (7, true), (1, true), (100, false)] {
            l.on_sample(T, 50 * MS, in_flight, dropped);
            assert_eq!(l.limit(), 7);
        }
        assert_eq!(l.long_rtt_ns(), None);
    }

    #[test]
    fn aimd_adds_one_when_at_least_half_full_and_cuts_by_the_factor_on_a_drop() {
        // initial 10, min 5, max 12.
        let mut l = aimd(10, 5, 12);
        let steps = [
            // (in_flight, dropped, limit after)
            (5, false, 11),  // 2 * 5 >= 10: +1
            (5, false, 11),  // 2 * 5 < 11: no change
            (6, false, 12),  // 2 * 6 >= 11: +1
            (12, false, 12), // 13 clamped to max 12
            (12, true, 10),  // floor(12 * 0.9) = floor(10.8)
            (12, true, 9),   // floor(9.0)
            (12, true, 8),   // floor(8.1)
            (12, true, 7),   // floor(7.2)
            (12, true, 6),   // floor(6.3)
            (12, true, 5),   // floor(5.4)
            (12, true, 5),   // floor(4.5) = 4 clamped to min 5
            (3, false, 6),   // 2 * 3 >= 5: +1
        ];
        for (i, (in_flight, dropped, after)) in steps.into_iter().enumerate() {
            l.on_sample(T, 10 * MS, in_flight, dropped);
            assert_eq!(l.limit(), after, "step {i}");
        }
    }

    #[test]
    fn aimd_increase_is_the_configured_step() {
        let p = Aimd {
            initial: 10,
            min: 1,
            max: 100,
            increase: 5,
            decrease_factor: 0.5,
        };
        let mut l = ConcurrencyLimit::new(ConcurrencySpec::aimd(p).unwrap());
        l.on_sample(T, MS, 10, false);
        assert_eq!(l.limit(), 15);
        l.on_sample(T, MS, 10, true);
        assert_eq!(l.limit(), 7); // floor(7.5)
    }

    #[test]
    fn gradient2_grows_by_smoothing_times_queue_size_while_latency_is_flat() {
        // gradient = min(1, 1.5 * 100 / 100) = 1: new = estimate + 4, estimate += 0.2 * 4.
        // 20 -> 20.8 -> 21.6 -> 22.4: limits 20, 21, 22.
        let mut l = gradient2(20, 1, 200);
        let mut limits = Vec::new();
        for _ in 0..3 {
            l.on_sample(T, 100 * MS, 20, false);
            limits.push(l.limit());
        }
        assert_eq!(limits, [20, 21, 22]);
        // A drop changes nothing by itself: same RTT, the same +0.8 (23.2).
        l.on_sample(T, 100 * MS, 20, true);
        assert_eq!(l.limit(), 23);
    }

    #[test]
    fn gradient2_halves_at_most_when_latency_jumps() {
        // Ten samples of 100 ms warm the long RTT up to exactly 100 ms; the estimate reaches
        // 20 + 10 * 0.8 = 28.
        let mut l = gradient2(20, 1, 200);
        for _ in 0..10 {
            l.on_sample(T, 100 * MS, 28, false);
        }
        assert_eq!(l.long_rtt_ns(), Some(100.0 * MS as f64));
        assert_eq!(l.limit(), 28); // 28.000000000000007 after ten float steps
        // 400 ms: long = 100 * 599/601 + 400 * 2/601 = 100.998 ms, gradient 1.5 * 100.998 / 400
        // = 0.379, floored at 0.5: new = 28 * 0.5 + 4 = 18, estimate = 0.8 * 28 + 0.2 * 18 = 26.
        l.on_sample(T, 400 * MS, 28, false);
        let long = 100.0 * 599.0 / 601.0 + 400.0 * 2.0 / 601.0;
        assert!((l.long_rtt_ns().unwrap() / MS as f64 - long).abs() < 1e-9);
        assert_eq!(l.limit(), 26);
        // Again: new = 26 * 0.5 + 4 = 17, estimate = 20.8 + 3.4 = 24.2.
        l.on_sample(T, 400 * MS, 28, false);
        assert_eq!(l.limit(), 24);
    }

    #[test]
    fn gradient2_uses_the_tolerance_before_cutting() {
        // Long RTT 100 ms; a 140 ms sample is within the tolerance 1.5 (1.5 * 100 / 140 > 1):
        // the limit still grows by 0.8. A 200 ms sample gives gradient 0.75: it falls.
        let mut l = gradient2(20, 1, 200);
        for _ in 0..10 {
            l.on_sample(T, 100 * MS, 0, false); // app-limited: only the long RTT moves
        }
        assert_eq!(l.limit(), 20);
        l.on_sample(T, 140 * MS, 20, false);
        assert_eq!(l.limit(), 20); // 20.8
        l.on_sample(T, 200 * MS, 20, false);
        // long = 100.133 + (200 - 100.133) * 2/601 = 100.465 ms: gradient 1.5 * 100.465 / 200 =
        // 0.7535; new = 20.8 * 0.7535 + 4 = 19.67; estimate = 16.64 + 3.93 = 20.57.
        let long = l.long_rtt_ns().unwrap() / MS as f64;
        let gradient = 1.5 * long / 200.0;
        let expected = 20.8 * 0.8 + (20.8 * gradient + 4.0) * 0.2;
        assert!((expected - 20.57).abs() < 0.01);
        assert_eq!(l.limit(), 20);
        l.on_sample(T, 200 * MS, 20, false);
        assert_eq!(l.limit(), 20); // 20.37
        // Each further 200 ms sample: about 0.952 * estimate + 0.8: 20.19, 20.02, 19.87.
        for _ in 0..3 {
            l.on_sample(T, 200 * MS, 20, false);
        }
        assert_eq!(l.limit(), 19);
    }

    #[test]
    fn gradient2_holds_when_the_client_uses_under_half_its_limit() {
        // Estimate 28 after warm-up: 13 in flight is under 28 / 2, so even a 10x latency changes
        // nothing; 15 is not, and the limit falls: 0.8 * 28 + 0.2 * (28 * 0.5 + 4) = 26.
        let mut l = gradient2(20, 1, 200);
        for _ in 0..10 {
            l.on_sample(T, 100 * MS, 20, false);
        }
        assert_eq!(l.limit(), 28);
        l.on_sample(T, 1_000 * MS, 13, false);
        assert_eq!(l.limit(), 28);
        l.on_sample(T, 1_000 * MS, 15, false);
        assert_eq!(l.limit(), 26);
    }

    #[test]
    fn gradient2_decays_the_long_rtt_when_latency_recovers() {
        // Long RTT 100 ms after warm-up; a 40 ms sample: long = (59,900 + 80) / 601 = 99.8003 ms,
        // and 99.8 / 40 > 2, so it is stored as 0.95 of that: 94.8103 ms.
        let mut l = gradient2(20, 1, 200);
        for _ in 0..10 {
            l.on_sample(T, 100 * MS, 0, false);
        }
        l.on_sample(T, 40 * MS, 0, false);
        let expected = (59_900.0 + 80.0) / 601.0 * 0.95;
        assert!((l.long_rtt_ns().unwrap() / MS as f64 - expected).abs() < 1e-9);
        // A 60 ms sample is not below half the long RTT: no decay.
        let before = l.long_rtt_ns().unwrap();
        l.on_sample(T, 60 * MS, 0, false);
        let f = 2.0 / 601.0;
        let plain = before * (1.0 - f) + 60.0 * MS as f64 * f;
        assert!((l.long_rtt_ns().unwrap() - plain).abs() < 1e-3);
    }

    #[test]
    fn gradient2_stays_within_min_and_max() {
        let mut l = gradient2(20, 18, 21);
        for _ in 0..20 {
            l.on_sample(T, 100 * MS, 100, false);
        }
        assert_eq!(l.limit(), 21);
        for _ in 0..50 {
            l.on_sample(T, 10_000 * MS, 100, false);
        }
        assert_eq!(l.limit(), 18);
    }

    #[test]
    fn gradient2_takes_a_zero_rtt_as_one_nanosecond() {
        // A first sample of 0 would make the gradient 0 / 0. As 1 ns for both RTTs the gradient
        // is 1 and the limit grows by the usual 0.8.
        let mut l = gradient2(20, 1, 200);
        l.on_sample(T, 0, 20, false);
        assert_eq!(l.long_rtt_ns(), Some(1.0));
        assert_eq!(l.limit(), 20);
        l.on_sample(T, 0, 20, false);
        assert_eq!(l.limit(), 21);
    }

    #[test]
    fn netflix_defaults_are_valid_and_start_at_twenty() {
        let aimd = ConcurrencySpec::aimd(Aimd::NETFLIX).unwrap();
        assert_eq!(ConcurrencyLimit::new(aimd).limit(), 20);
        let gradient2 = ConcurrencySpec::gradient2(Gradient2::NETFLIX).unwrap();
        assert_eq!(ConcurrencyLimit::new(gradient2).limit(), 20);
    }
}
