//! Circuit breakers: stop calling a provider that keeps failing, then probe it.
//!
//! Task: when the provider is failing, fail fast at the client instead of adding load to it, and
//! find out cheaply when it has recovered. The pattern is Michael Nygard's (*Release It!*, 2007,
//! "Circuit Breaker"): closed, it passes calls and watches their outcomes; tripped, it is open and
//! refuses every call locally for a while; then half-open, it lets a few probe calls through, and
//! closes if they succeed or opens again if one fails.
//!
//! The caller asks [`Breaker::allow`] before each attempt, and reports each attempt that was
//! allowed with [`Breaker::on_success`] or [`Breaker::on_failure`] when its outcome is known.
//! Which failures count is the caller's choice (resilience4j records every exception by default;
//! Envoy's consecutive-5xx counts 5xx and, by default, local timeouts). Deterministic: integer
//! time, no hashing, no randomness.

use crate::engine::SimTime;

use super::config::{SpecError, counting_window, longer_than_zero, refuse};
use super::throttle::WindowCounts;

/// Trips on the share of failures among recent outcomes: resilience4j's
/// `failureRateThreshold` over a `TIME_BASED` `slidingWindowSize`, with `minimumNumberOfCalls`.
/// Checked by [`BreakerSpec::new`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FailureRatio {
    /// Trips when `failures / outcomes >= ratio` (resilience4j: `failureRateThreshold` / 100,
    /// default 0.5; the comparison is `>=` there too).
    pub ratio: f64,
    /// The ratio is checked only while the window holds at least this many outcomes
    /// (resilience4j `minimumNumberOfCalls`, default 100).
    pub min_requests: u32,
    /// The window, kept in one-second buckets as resilience4j keeps its time-based window (see
    /// [`WindowCounts`]): the current second and the `ceil(window) - 1` before it.
    pub window_ns: u64,
}

/// A configured circuit breaker, built by [`BreakerSpec::new`] so that a [`Breaker`] can always
/// trip, stay open a while, and close again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerSpec {
    /// Trips after this many failures in a row, any success resetting the count (Envoy outlier
    /// detection `consecutive_5xx`, default 5). `None`: no such trip.
    consecutive_failures: Option<u32>,
    /// Trips on the failure ratio. `None`: no such trip.
    failure_ratio: Option<FailureRatio>,
    /// How long it stays open once tripped (resilience4j `waitDurationInOpenState`, default 60 s;
    /// Envoy `base_ejection_time`, 30 s).
    open_ns: u64,
    /// Attempts let through while half-open (resilience4j `permittedNumberOfCallsInHalfOpenState`,
    /// default 10).
    half_open_probes: u32,
}

impl BreakerSpec {
    /// A breaker tripping on `consecutive_failures`, on `failure_ratio`, or on either. Refused
    /// with neither, with a trip after zero failures, a ratio outside `(0, 1]`, a zero-length
    /// ratio window, a zero open time, or no probes.
    pub fn new(
        consecutive_failures: Option<u32>,
        failure_ratio: Option<FailureRatio>,
        open_ns: u64,
        half_open_probes: u32,
    ) -> Result<BreakerSpec, SpecError> {
        if consecutive_failures.is_none() && failure_ratio.is_none() {
            return Err(SpecError {
                field: None,
                expected: "`consecutive_failures` or `failure_ratio` (or both) to trip on".into(),
                found: "neither".into(),
            });
        }
        if consecutive_failures == Some(0) {
            return refuse("consecutive_failures", "at least 1", 0);
        }
        if let Some(r) = failure_ratio {
            if !(r.ratio > 0.0 && r.ratio <= 1.0) {
                return refuse("failure_ratio", "a ratio in (0, 1]", r.ratio);
            }
            counting_window("window", r.window_ns)?;
        }
        if half_open_probes == 0 {
            return refuse("half_open_probes", "at least 1", 0);
        }
        Ok(BreakerSpec {
            consecutive_failures,
            failure_ratio,
            open_ns: longer_than_zero("open", open_ns, "a duration longer than zero")?,
            half_open_probes,
        })
    }
}

/// What a breaker does with the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Passes attempts and watches their outcomes.
    Closed,
    /// Refuses every attempt locally.
    Open,
    /// Passes up to `half_open_probes` attempts to find out whether the provider has recovered.
    HalfOpen,
}

#[derive(Clone, Debug)]
enum Phase {
    Closed {
        /// Failures since the last success.
        consecutive: u32,
    },
    Open {
        until: SimTime,
    },
    HalfOpen {
        /// Probes let through.
        admitted: u32,
        /// Probes that succeeded (any failure reopens, so the others are outstanding).
        succeeded: u32,
    },
}

/// A circuit breaker's state during a run.
///
/// Closed: each outcome is recorded; it trips, into open for `open_ns` from the instant of the
/// outcome, when the consecutive failures reach `consecutive_failures` or when, with at least
/// `min_requests` outcomes in the window, `failures / outcomes >= ratio`. Both checks run after
/// every outcome, a success included (resilience4j checks after each call, so a success that
/// brings the window to `min_requests` can trip it).
///
/// Open: [`Breaker::allow`] refuses; outcomes of attempts allowed before the trip are ignored.
/// From `until` on it is half-open (lazily, as resilience4j without
/// `automaticTransitionFromOpenToHalfOpenEnabled`; [`Breaker::state`] reports it at once).
///
/// Half-open: the first `half_open_probes` calls to `allow` pass, the rest are refused. When that
/// many probes have succeeded it closes, with a fresh window and consecutive count (resilience4j
/// starts a new `ClosedState` with fresh metrics); the first probe failure opens it again for a
/// full `open_ns`. This is stricter than resilience4j, which applies `failureRateThreshold` to the
/// probes once all have answered; the two agree with one probe. An outcome is taken as a probe's
/// only while a probe is outstanding; an outcome with none outstanding is a straggler from before
/// the trip and is ignored.
#[derive(Clone, Debug)]
pub struct Breaker {
    spec: BreakerSpec,
    phase: Phase,
    /// `[outcomes, failures]` while closed, if the ratio trip is configured.
    window: Option<WindowCounts>,
    trips: u64,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(spec: BreakerSpec) -> Breaker {
        let window = spec
            .failure_ratio
            .map(|r| WindowCounts::per_second(r.window_ns));
        Breaker {
            spec,
            phase: Phase::Closed { consecutive: 0 },
            window,
            trips: 0,
        }
    }

    /// The configuration.
    pub fn spec(&self) -> &BreakerSpec {
        &self.spec
    }

    /// How many times it has opened (trips from closed and failed probes alike).
    pub fn trips(&self) -> u64 {
        self.trips
    }

    /// The state at `now`.
    pub fn state(&self, now: SimTime) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if now < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Moves an expired open phase to half-open.
    fn settle(&mut self, now: SimTime) {
        if let Phase::Open { until } = self.phase
            && now >= until
        {
            self.phase = Phase::HalfOpen {
                admitted: 0,
                succeeded: 0,
            };
        }
    }

    /// Whether an attempt may go out at `now`; `false` means fail it locally. In half-open, a
    /// `true` is a probe and counts against `half_open_probes`.
    pub fn allow(&mut self, now: SimTime) -> bool {
        self.settle(now);
        match &mut self.phase {
            Phase::Closed { .. } => true,
            Phase::Open { .. } => false,
            Phase::HalfOpen { admitted, .. } => {
                if *admitted < self.spec.half_open_probes {
                    *admitted += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// An allowed attempt succeeded; `now` is when the client learnt it.
    pub fn on_success(&mut self, now: SimTime) {
        self.settle(now);
        match &mut self.phase {
            Phase::Closed { consecutive } => {
                *consecutive = 0;
                if let Some(w) = &mut self.window {
                    w.add(now, [1, 0]);
                }
                self.check_ratio(now);
            }
            Phase::Open { .. } => {}
            Phase::HalfOpen {
                admitted,
                succeeded,
            } => {
                if *succeeded < *admitted {
                    *succeeded += 1;
                    if *succeeded >= self.spec.half_open_probes {
                        self.close();
                    }
                }
            }
        }
    }

    /// An allowed attempt failed; `now` is when the client learnt it.
    pub fn on_failure(&mut self, now: SimTime) {
        self.settle(now);
        match &mut self.phase {
            Phase::Closed { consecutive } => {
                *consecutive = consecutive.saturating_add(1);
                let in_a_row = *consecutive;
                if let Some(w) = &mut self.window {
                    w.add(now, [1, 1]);
                }
                if self
                    .spec
                    .consecutive_failures
                    .is_some_and(|n| in_a_row >= n)
                {
                    self.open(now);
                } else {
                    self.check_ratio(now);
                }
            }
            Phase::Open { .. } => {}
            Phase::HalfOpen {
                admitted,
                succeeded,
            } => {
                if *succeeded < *admitted {
                    self.open(now);
                }
            }
        }
    }

    /// Trips if the failure ratio over the window is at or above the threshold.
    fn check_ratio(&mut self, now: SimTime) {
        let (Some(r), Some(w)) = (self.spec.failure_ratio, &mut self.window) else {
            return;
        };
        let [outcomes, failures] = w.totals(now);
        if outcomes >= u64::from(r.min_requests)
            && outcomes > 0
            && failures as f64 >= r.ratio * outcomes as f64
        {
            self.open(now);
        }
    }

    fn open(&mut self, now: SimTime) {
        self.phase = Phase::Open {
            until: now.after(self.spec.open_ns),
        };
        self.trips += 1;
    }

    fn close(&mut self) {
        self.phase = Phase::Closed { consecutive: 0 };
        if let Some(w) = &mut self.window {
            w.clear();
        }
    }
}

/// A breaker gates every attempt and counts every outcome as a success or a failure.
impl crate::model::client::hooks::ClientPolicy for Breaker {
    fn gate(
        &mut self,
        now: SimTime,
        _draw: &mut dyn FnMut() -> f64,
    ) -> crate::model::client::hooks::Verdict {
        use crate::model::client::hooks::Verdict;
        if self.allow(now) {
            Verdict::Pass
        } else {
            Verdict::ShortCircuit
        }
    }

    fn observe(
        &mut self,
        now: SimTime,
        outcome: crate::model::client::hooks::Outcome,
        _sample: crate::model::client::hooks::Sample,
    ) {
        if outcome == crate::model::client::hooks::Outcome::Ok {
            self.on_success(now);
        } else {
            self.on_failure(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::NANOS_PER_SEC;

    const S: u64 = NANOS_PER_SEC;
    const MS: u64 = 1_000_000;

    fn ms(t: u64) -> SimTime {
        SimTime(t * MS)
    }

    fn consecutive(n: u32, open_s: u64, probes: u32) -> Breaker {
        Breaker::new(BreakerSpec::new(Some(n), None, open_s * S, probes).unwrap())
    }

    fn failure_ratio(ratio: f64, min_requests: u32, window_s: u64) -> FailureRatio {
        FailureRatio {
            ratio,
            min_requests,
            window_ns: window_s * S,
        }
    }

    fn ratio(ratio: f64, min_requests: u32, window_s: u64) -> Breaker {
        let trip = failure_ratio(ratio, min_requests, window_s);
        Breaker::new(BreakerSpec::new(None, Some(trip), 5 * S, 1).unwrap())
    }

    #[test]
    fn a_breaker_with_nothing_to_trip_on_is_refused() {
        assert_eq!(
            BreakerSpec::new(None, None, S, 1),
            Err(SpecError {
                field: None,
                expected: "`consecutive_failures` or `failure_ratio` (or both) to trip on".into(),
                found: "neither".into(),
            })
        );
    }

    #[test]
    fn a_trip_after_zero_consecutive_failures_is_refused() {
        assert_eq!(
            BreakerSpec::new(Some(0), None, S, 1),
            refuse("consecutive_failures", "at least 1", "0")
        );
    }

    #[test]
    fn a_failure_ratio_outside_zero_to_one_is_refused() {
        for (r, shown) in [(0.0, "0"), (-0.5, "-0.5"), (1.5, "1.5"), (f64::NAN, "NaN")] {
            assert_eq!(
                BreakerSpec::new(None, Some(failure_ratio(r, 20, 10)), S, 1),
                refuse("failure_ratio", "a ratio in (0, 1]", shown),
                "{r}"
            );
        }
        // The ends: just above zero, and one (every outcome a failure).
        assert!(BreakerSpec::new(None, Some(failure_ratio(1e-9, 20, 10)), S, 1).is_ok());
        assert!(BreakerSpec::new(None, Some(failure_ratio(1.0, 20, 10)), S, 1).is_ok());
    }

    #[test]
    fn a_zero_length_or_day_long_ratio_window_is_refused() {
        let expected = "a window longer than zero and at most 24h";
        assert_eq!(
            BreakerSpec::new(None, Some(failure_ratio(0.5, 20, 0)), S, 1),
            refuse("window", expected, "0s")
        );
        // One bucket per second: a window of 10^6 hours allocated gigabytes.
        assert_eq!(
            BreakerSpec::new(None, Some(failure_ratio(0.5, 20, 86_401)), S, 1),
            refuse("window", expected, "86401s")
        );
        assert!(BreakerSpec::new(None, Some(failure_ratio(0.5, 20, 86_400)), S, 1).is_ok());
    }

    #[test]
    fn a_breaker_without_probes_is_refused() {
        assert_eq!(
            BreakerSpec::new(Some(5), None, S, 0),
            refuse("half_open_probes", "at least 1", "0")
        );
    }

    #[test]
    fn a_breaker_that_never_stays_open_is_refused() {
        assert_eq!(
            BreakerSpec::new(Some(5), None, 0, 1),
            refuse("open", "a duration longer than zero", "0s")
        );
    }

    #[test]
    fn consecutive_failures_trip_it_and_a_success_resets_the_count() {
        // N = 3: F F S F F keeps it closed; the next F is the third in a row.
        let mut b = consecutive(3, 5, 1);
        for (i, fail) in [true, true, false, true, true].into_iter().enumerate() {
            assert!(b.allow(ms(i as u64)));
            if fail {
                b.on_failure(ms(i as u64));
            } else {
                b.on_success(ms(i as u64));
            }
            assert_eq!(b.state(ms(i as u64)), BreakerState::Closed, "outcome {i}");
        }
        b.on_failure(ms(5));
        assert_eq!(b.state(ms(5)), BreakerState::Open);
        assert_eq!(b.trips(), 1);
    }

    #[test]
    fn an_open_breaker_fails_fast_for_exactly_open_ns() {
        // Tripped at t=10 s with open 5 s: refuses until 15 s, half-open from 15 s.
        let mut b = consecutive(1, 5, 1);
        b.on_failure(SimTime(10 * S));
        assert!(!b.allow(SimTime(10 * S)));
        assert!(!b.allow(SimTime(15 * S - 1)));
        assert_eq!(b.state(SimTime(15 * S - 1)), BreakerState::Open);
        assert_eq!(b.state(SimTime(15 * S)), BreakerState::HalfOpen);
        assert!(b.allow(SimTime(15 * S)));
    }

    #[test]
    fn half_open_passes_exactly_the_probes_and_closes_when_all_succeed() {
        let mut b = consecutive(1, 5, 2);
        b.on_failure(SimTime::ZERO);
        let t = SimTime(5 * S);
        assert!(b.allow(t));
        assert!(b.allow(t));
        assert!(!b.allow(t), "a third attempt while two probes are out");
        b.on_success(t.after(1));
        assert_eq!(b.state(t.after(1)), BreakerState::HalfOpen);
        assert!(
            !b.allow(t.after(1)),
            "a finished probe does not free a slot"
        );
        b.on_success(t.after(2));
        assert_eq!(b.state(t.after(2)), BreakerState::Closed);
        assert!(b.allow(t.after(2)));
        assert_eq!(b.trips(), 1);
    }

    #[test]
    fn a_failed_probe_reopens_it_for_a_full_open_period() {
        let mut b = consecutive(1, 5, 2);
        b.on_failure(SimTime::ZERO);
        assert!(b.allow(SimTime(5 * S)));
        assert!(b.allow(SimTime(5 * S)));
        // The first probe to answer fails at t=6 s: open until 11 s, whatever the other does.
        b.on_failure(SimTime(6 * S));
        assert_eq!(b.state(SimTime(6 * S)), BreakerState::Open);
        b.on_success(SimTime(7 * S));
        assert_eq!(b.state(ms(10_999)), BreakerState::Open);
        assert_eq!(b.state(SimTime(11 * S)), BreakerState::HalfOpen);
        assert_eq!(b.trips(), 2);
    }

    #[test]
    fn outcomes_with_no_probe_outstanding_are_ignored() {
        // Stragglers from before the trip: while open they change nothing; once half-open with no
        // probe out they neither close nor reopen it.
        let mut b = consecutive(1, 5, 1);
        b.on_failure(SimTime::ZERO);
        b.on_success(SimTime(S));
        b.on_failure(SimTime(2 * S));
        assert_eq!(b.state(ms(4_999)), BreakerState::Open);
        b.on_success(SimTime(6 * S));
        b.on_failure(SimTime(6 * S));
        assert_eq!(b.state(SimTime(6 * S)), BreakerState::HalfOpen);
        assert_eq!(b.trips(), 1);
        // The probe is still available, and its success closes it.
        assert!(b.allow(SimTime(6 * S)));
        b.on_success(SimTime(7 * S));
        assert_eq!(b.state(SimTime(7 * S)), BreakerState::Closed);
    }

    #[test]
    fn the_ratio_trips_only_from_min_requests_outcomes_and_at_the_threshold() {
        // ratio 0.5, at least 4 outcomes, window 10 s. S F F: 2/3 failed, but only 3 outcomes.
        let mut b = ratio(0.5, 4, 10);
        b.on_success(SimTime(0));
        b.on_failure(SimTime(S));
        b.on_failure(SimTime(2 * S));
        assert_eq!(b.state(SimTime(2 * S)), BreakerState::Closed);
        // A fourth outcome, a success: 2/4 = 0.5 >= 0.5 trips it.
        b.on_success(SimTime(3 * S));
        assert_eq!(b.state(SimTime(3 * S)), BreakerState::Open);
        // Under the threshold it does not: S S F S F is 1/4, then 2/5 = 0.4 < 0.5.
        let mut b = ratio(0.5, 4, 10);
        for (i, fail) in [false, false, true, false, true].into_iter().enumerate() {
            let t = SimTime(i as u64 * S);
            if fail {
                b.on_failure(t);
            } else {
                b.on_success(t);
            }
        }
        assert_eq!(b.state(SimTime(5 * S)), BreakerState::Closed);
    }

    #[test]
    fn outcomes_older_than_the_window_leave_the_ratio() {
        // ratio 0.6, at least 3 outcomes, window 10 s in 1 s buckets. F at 0.5 s and 1.5 s; at
        // 10.2 s the first has left (bucket 0 leaves at 10 s): F S is 2 outcomes, no trip. Had it
        // stayed, F F S would be 2/3 >= 0.6.
        let mut b = ratio(0.6, 3, 10);
        b.on_failure(ms(500));
        b.on_failure(ms(1_500));
        b.on_success(ms(10_200));
        assert_eq!(b.state(ms(10_200)), BreakerState::Closed);
        // F S S: 1/3.
        b.on_success(ms(10_300));
        assert_eq!(b.state(ms(10_300)), BreakerState::Closed);
        // F S S F: 2/4 = 0.5 < 0.6; F S S F F: 3/5 = 0.6 trips it.
        b.on_failure(ms(10_400));
        assert_eq!(b.state(ms(10_400)), BreakerState::Closed);
        b.on_failure(ms(10_500));
        assert_eq!(b.state(ms(10_500)), BreakerState::Open);
    }

    #[test]
    fn closing_starts_a_fresh_window_and_count() {
        // ratio 0.5 over at least 2 outcomes: F F trips it at 1 s.
        let mut b = ratio(0.5, 2, 60);
        b.on_failure(SimTime(0));
        b.on_failure(SimTime(S));
        assert_eq!(b.state(SimTime(S)), BreakerState::Open);
        // Probe at 6 s succeeds: closed. One failure at 7 s is 1 outcome in the fresh window, under
        // min_requests; with the old F F still counted it would be 3/3.
        assert!(b.allow(SimTime(6 * S)));
        b.on_success(SimTime(6 * S));
        assert_eq!(b.state(SimTime(6 * S)), BreakerState::Closed);
        b.on_failure(SimTime(7 * S));
        assert_eq!(b.state(SimTime(7 * S)), BreakerState::Closed);
        // Consecutive counts restart too: N = 2, F, trip, probe ok, F stays closed.
        let mut b = consecutive(2, 5, 1);
        b.on_failure(SimTime(0));
        b.on_failure(SimTime(0));
        assert!(b.allow(SimTime(5 * S)));
        b.on_success(SimTime(5 * S));
        b.on_failure(SimTime(6 * S));
        assert_eq!(b.state(SimTime(6 * S)), BreakerState::Closed);
    }

    #[test]
    fn either_trip_condition_opens_a_breaker_that_has_both() {
        let both = |ratio, min_requests| {
            let trip = failure_ratio(ratio, min_requests, 60);
            Breaker::new(BreakerSpec::new(Some(3), Some(trip), S, 1).unwrap())
        };
        // Three in a row, far from 100 outcomes.
        let mut b = both(0.9, 100);
        for i in 0..3 {
            b.on_failure(SimTime(i));
        }
        assert_eq!(b.state(SimTime(3)), BreakerState::Open);
        // The ratio with never three failures in a row: F F S repeated, ratio 0.6 over at least 9
        // outcomes; the ninth outcome (a success) makes 6/9 >= 0.6.
        let mut b = both(0.6, 9);
        for i in 0..9u64 {
            if i % 3 == 2 {
                b.on_success(SimTime(i));
            } else {
                b.on_failure(SimTime(i));
            }
            let expected = if i == 8 {
                BreakerState::Open
            } else {
                BreakerState::Closed
            };
            assert_eq!(b.state(SimTime(i)), expected, "outcome {i}");
        }
    }
}
