//! Time series sampled at a fixed interval of simulated time.
//!
//! Task: show how a run unfolds (a retry storm that outlives a brownout, a queue that drains)
//! without storing events. Counters are summed over each interval and reported per second; gauges
//! (in flight, queues, the current limit) are read at each interval's end. Memory is one row per
//! interval, at most [`MAX_TIMESERIES_SAMPLES`] rows.

use crate::engine::SimTime;
use crate::engine::time::nanos_to_secs;
use serde::Serialize;

/// Most rows one time series keeps (about 90 MB); later intervals are not recorded.
pub const MAX_TIMESERIES_SAMPLES: usize = 1_000_000;

/// The state read at the end of an interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gauges {
    /// Attempts admitted by the provider and not finished.
    pub in_flight: u64,
    /// Admitted attempts waiting for a serving slot.
    pub provider_queue: u64,
    /// Calls waiting for the client's own admission.
    pub client_queue: u64,
    /// The provider's current token limit, tokens per second (NaN without one).
    pub limit_tokens_per_s: f64,
    /// Spend so far, USD.
    pub spend_usd: f64,
}

/// One interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// End of the interval, seconds.
    pub t_s: f64,
    /// Gauge: attempts in flight at the provider.
    pub in_flight: u64,
    /// Gauge: attempts queued for a serving slot.
    pub provider_queue: u64,
    /// Gauge: calls waiting for the client's admission.
    pub client_queue: u64,
    /// Tokens admitted by the provider's limits, per second (the estimate charged).
    pub admitted_tokens_per_s: f64,
    /// Gauge: the provider's token limit, per second.
    pub limit_tokens_per_s: f64,
    /// 429s per second.
    pub rate_limited_per_s: f64,
    /// Server errors (5xx, 529) per second.
    pub errors_per_s: f64,
    /// Timed-out attempts per second.
    pub timeouts_per_s: f64,
    /// Calls completed successfully per second.
    pub goodput_calls_per_s: f64,
    /// Gauge: spend so far, USD.
    pub spend_usd: f64,
}

/// Counts within the open interval.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// Tokens admitted.
    pub admitted_tokens: f64,
    /// 429s.
    pub rate_limited: u64,
    /// Server errors.
    pub errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Successful calls.
    pub completed: u64,
}

/// A series under construction.
#[derive(Clone, Debug)]
pub struct TimeSeries {
    interval_ns: u64,
    next_edge: u64,
    /// What happened in the open interval; the model adds to it directly.
    pub counts: Counts,
    samples: Vec<Sample>,
}

impl TimeSeries {
    /// A series with intervals of `interval_ns` (at least 1 ns).
    pub fn new(interval_ns: u64) -> TimeSeries {
        let interval_ns = interval_ns.max(1);
        TimeSeries {
            interval_ns,
            next_edge: interval_ns,
            counts: Counts::default(),
            samples: Vec::new(),
        }
    }

    /// True when an event at `now` closes at least one interval: call [`TimeSeries::close_until`].
    #[inline]
    pub fn due(&self, now: SimTime) -> bool {
        now.0 >= self.next_edge
    }

    /// Closes every interval ending at or before `now`, with `gauges` the state held since the
    /// previous event (so the state at each of those edges).
    pub fn close_until(&mut self, now: SimTime, gauges: Gauges) {
        while now.0 >= self.next_edge {
            if self.samples.len() >= MAX_TIMESERIES_SAMPLES {
                // Full: no edge is due again, so events stop calling here.
                self.next_edge = u64::MAX;
                break;
            }
            self.close(gauges);
        }
    }

    /// Closes the open interval; past [`MAX_TIMESERIES_SAMPLES`] rows the series records no
    /// more (memory and the work of an event stay bounded whatever the interval).
    fn close(&mut self, g: Gauges) {
        if self.samples.len() >= MAX_TIMESERIES_SAMPLES {
            self.next_edge = u64::MAX;
            return;
        }
        let per_s = 1.0 / nanos_to_secs(self.interval_ns);
        let c = std::mem::take(&mut self.counts);
        self.samples.push(Sample {
            t_s: nanos_to_secs(self.next_edge),
            in_flight: g.in_flight,
            provider_queue: g.provider_queue,
            client_queue: g.client_queue,
            admitted_tokens_per_s: c.admitted_tokens * per_s,
            limit_tokens_per_s: g.limit_tokens_per_s,
            rate_limited_per_s: c.rate_limited as f64 * per_s,
            errors_per_s: c.errors as f64 * per_s,
            timeouts_per_s: c.timeouts as f64 * per_s,
            goodput_calls_per_s: c.completed as f64 * per_s,
            spend_usd: g.spend_usd,
        });
        self.next_edge = self.next_edge.saturating_add(self.interval_ns);
    }

    /// The finished series: every interval up to the one holding `end`, the last one closed too.
    pub fn finish(mut self, end: SimTime, gauges: Gauges) -> Vec<Sample> {
        self.close_until(end, gauges);
        self.close(gauges);
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn counts_land_in_their_interval_and_gauges_are_read_at_its_end() {
        let mut ts = TimeSeries::new(S);
        let g = |n| Gauges {
            in_flight: n,
            ..Default::default()
        };
        ts.counts.completed += 2; // during [0, 1)
        assert!(!ts.due(SimTime(S - 1)));
        assert!(ts.due(SimTime(S)));
        ts.close_until(SimTime(3 * S + 5), g(7)); // closes [0,1), [1,2), [2,3)
        ts.counts.rate_limited += 4; // during [3, 4)
        let samples = ts.finish(SimTime(3 * S + 9), g(1));
        assert_eq!(samples.len(), 4);
        assert_eq!(
            samples.iter().map(|s| s.t_s).collect::<Vec<_>>(),
            vec![1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(samples[0].goodput_calls_per_s, 2.0);
        assert_eq!(samples[1].goodput_calls_per_s, 0.0);
        assert_eq!(samples[2].in_flight, 7);
        assert_eq!(samples[3].rate_limited_per_s, 4.0);
        assert_eq!(samples[3].in_flight, 1);
    }

    #[test]
    fn rates_are_per_second_whatever_the_interval() {
        let mut ts = TimeSeries::new(S / 4);
        ts.counts.admitted_tokens = 100.0;
        let samples = ts.finish(SimTime(S / 8), Gauges::default());
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].admitted_tokens_per_s, 400.0);
    }

    #[test]
    fn a_series_keeps_at_most_its_row_cap_and_stops_closing_past_it() {
        // 1 ns intervals over 3M ns: three times the cap; an event at the end of time must not
        // loop over its 2^64 intervals either.
        let mut ts = TimeSeries::new(1);
        ts.close_until(
            SimTime(3 * MAX_TIMESERIES_SAMPLES as u64),
            Gauges::default(),
        );
        assert!(!ts.due(SimTime(u64::MAX - 1)));
        ts.close_until(SimTime(u64::MAX), Gauges::default());
        let samples = ts.finish(SimTime(u64::MAX), Gauges::default());
        assert_eq!(samples.len(), MAX_TIMESERIES_SAMPLES);
    }
}
