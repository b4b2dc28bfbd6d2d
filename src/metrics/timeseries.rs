//! Time series sampled at a fixed interval of simulated time.
//!
//! Task: show how a run unfolds (a retry storm that outlives a brownout, a queue that drains)
//! without storing events. Counters are summed over each interval and reported per second; gauges
//! (in flight, queues, the current limit) are read at each interval's end. Memory is one row per
//! interval, at most [`MAX_TIMESERIES_SAMPLES`] rows.
//!
//! The last row ends where the run ended (its last event, or the moment a guard stopped it), not
//! at the end of an interval the run never reached: its rates are per second of the time it
//! covers, and its gauges are the state at the end. A last stretch shorter than a quarter of an interval
//! is folded into the row before it, so that a sliver of time does not show as a spike.

use crate::engine::SimTime;
use crate::engine::time::nanos_to_secs;
use serde::Serialize;

/// Most rows one time series keeps (about 90 MB); later intervals are not recorded.
pub const MAX_TIMESERIES_SAMPLES: usize = 1_000_000;

/// The state read at the end of an interval.
#[derive(Clone, Debug, Default, PartialEq)]
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
    /// With several providers: attempts in flight at each.
    pub in_flight_by_provider: Vec<u64>,
}

/// One provider's part of an interval, with several providers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProviderSample {
    /// Gauge: attempts in flight at it.
    pub in_flight: u64,
    /// 429s it answered per second.
    pub rate_limited_per_s: f64,
    /// Attempts it answered successfully per second.
    pub goodput_calls_per_s: f64,
}

/// One provider's counts within the open interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProviderCounts {
    pub rate_limited: u64,
    pub completed: u64,
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
    /// With several providers: each one's part, by provider index (written as columns of their
    /// own, not by serde).
    #[serde(skip)]
    pub providers: Vec<ProviderSample>,
}

/// Counts within the open interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
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

impl Counts {
    fn plus(self, o: Counts) -> Counts {
        Counts {
            admitted_tokens: self.admitted_tokens + o.admitted_tokens,
            rate_limited: self.rate_limited + o.rate_limited,
            errors: self.errors + o.errors,
            timeouts: self.timeouts + o.timeouts,
            completed: self.completed + o.completed,
        }
    }
}

/// A series under construction.
#[derive(Clone, Debug)]
pub struct TimeSeries {
    interval_ns: u64,
    next_edge: u64,
    /// What happened in the open interval; the model adds to it directly.
    pub counts: Counts,
    /// The counts of the last closed interval, to fold a short last stretch into.
    last_counts: Counts,
    /// With several providers: what happened at each in the open interval.
    pub provider_counts: Vec<ProviderCounts>,
    last_provider_counts: Vec<ProviderCounts>,
    samples: Vec<Sample>,
}

impl TimeSeries {
    /// A series with intervals of `interval_ns` (at least 1 ns), with a part per provider when
    /// `providers` (counted apart) is above 0.
    pub fn new(interval_ns: u64, providers: usize) -> TimeSeries {
        let interval_ns = interval_ns.max(1);
        TimeSeries {
            interval_ns,
            next_edge: interval_ns,
            counts: Counts::default(),
            last_counts: Counts::default(),
            provider_counts: vec![ProviderCounts::default(); providers],
            last_provider_counts: vec![ProviderCounts::default(); providers],
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
    pub fn close_until(&mut self, now: SimTime, gauges: &Gauges) {
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
    fn close(&mut self, g: &Gauges) {
        if self.samples.len() >= MAX_TIMESERIES_SAMPLES {
            self.next_edge = u64::MAX;
            return;
        }
        let c = std::mem::take(&mut self.counts);
        let pc = std::mem::replace(
            &mut self.provider_counts,
            vec![ProviderCounts::default(); self.last_provider_counts.len()],
        );
        self.samples
            .push(sample(self.next_edge, self.interval_ns, c, &pc, g));
        self.last_counts = c;
        self.last_provider_counts = pc;
        self.next_edge = self.next_edge.saturating_add(self.interval_ns);
    }

    /// The finished series: every interval closed by `end`, then a last row ending at `end`
    /// itself (the run's end) holding what happened since the last edge. When that stretch is
    /// shorter than a quarter of an interval it is folded into the row before, which then ends at `end`.
    pub fn finish(mut self, end: SimTime, gauges: Gauges) -> Vec<Sample> {
        self.close_until(end, &gauges);
        if self.next_edge == u64::MAX || self.samples.len() >= MAX_TIMESERIES_SAMPLES {
            return self.samples;
        }
        let open_start = self.next_edge - self.interval_ns;
        let mut counts = std::mem::take(&mut self.counts);
        let mut pc = std::mem::take(&mut self.provider_counts);
        let mut start = open_start;
        if end.0.saturating_sub(open_start) < self.interval_ns / 4 && self.samples.pop().is_some() {
            counts = counts.plus(self.last_counts);
            for (c, last) in pc.iter_mut().zip(&self.last_provider_counts) {
                c.rate_limited += last.rate_limited;
                c.completed += last.completed;
            }
            start = open_start - self.interval_ns;
        }
        // A run that ended at time zero covers no time: its one row is its first interval.
        let stop = if end.0 > start {
            end.0
        } else {
            start + self.interval_ns
        };
        self.samples
            .push(sample(stop, stop - start, counts, &pc, &gauges));
        self.samples
    }
}

/// The row of a stretch of `span_ns` ending at `end_ns`.
fn sample(end_ns: u64, span_ns: u64, c: Counts, pc: &[ProviderCounts], g: &Gauges) -> Sample {
    let per_s = 1.0 / nanos_to_secs(span_ns);
    Sample {
        t_s: nanos_to_secs(end_ns),
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
        providers: pc
            .iter()
            .enumerate()
            .map(|(i, p)| ProviderSample {
                in_flight: g.in_flight_by_provider.get(i).copied().unwrap_or(0),
                rate_limited_per_s: p.rate_limited as f64 * per_s,
                goodput_calls_per_s: p.completed as f64 * per_s,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn counts_land_in_their_interval_and_gauges_are_read_at_its_end() {
        let mut ts = TimeSeries::new(S, 0);
        let g = |n| Gauges {
            in_flight: n,
            ..Default::default()
        };
        ts.counts.completed += 2; // during [0, 1)
        assert!(!ts.due(SimTime(S - 1)));
        assert!(ts.due(SimTime(S)));
        ts.close_until(SimTime(3 * S + 5), &g(7)); // closes [0,1), [1,2), [2,3)
        ts.counts.rate_limited += 3; // during [3, 3.75]: the run ends at 3.75 s
        let samples = ts.finish(SimTime(3 * S + 3 * S / 4), g(1));
        assert_eq!(samples.len(), 4);
        assert_eq!(
            samples.iter().map(|s| s.t_s).collect::<Vec<_>>(),
            vec![1.0, 2.0, 3.0, 3.75],
            "the last row ends where the run ended, not at the end of its interval"
        );
        assert_eq!(samples[0].goodput_calls_per_s, 2.0);
        assert_eq!(samples[1].goodput_calls_per_s, 0.0);
        assert_eq!(samples[2].in_flight, 7);
        assert_eq!(samples[3].rate_limited_per_s, 4.0, "3 in 0.75 s");
        assert_eq!(samples[3].in_flight, 1);
    }

    #[test]
    fn a_last_stretch_under_a_quarter_interval_is_folded_into_the_row_before() {
        let mut ts = TimeSeries::new(S, 0);
        ts.counts.completed += 3; // during [0, 1)
        ts.close_until(SimTime(S), &Gauges::default());
        ts.counts.completed += 1; // at 1.125 s, the run's last event
        let samples = ts.finish(
            SimTime(S + S / 8),
            Gauges {
                spend_usd: 2.0,
                ..Default::default()
            },
        );
        assert_eq!(samples.len(), 1, "no sliver row after the last edge");
        assert_eq!(samples[0].t_s, 1.125);
        assert!((samples[0].goodput_calls_per_s - 4.0 / 1.125).abs() < 1e-12);
        assert_eq!(samples[0].spend_usd, 2.0, "gauges at the run's end");
        // A run ending exactly on an edge: the events at that instant are in the last row,
        // and no empty interval follows it.
        let mut ts = TimeSeries::new(S, 0);
        ts.close_until(SimTime(2 * S), &Gauges::default());
        ts.counts.completed += 1;
        let samples = ts.finish(SimTime(2 * S), Gauges::default());
        assert_eq!(
            samples.iter().map(|s| s.t_s).collect::<Vec<_>>(),
            vec![1.0, 2.0]
        );
        assert_eq!(samples[1].goodput_calls_per_s, 1.0);
    }

    #[test]
    fn rates_are_per_second_whatever_the_interval() {
        let mut ts = TimeSeries::new(S / 4, 0);
        ts.counts.admitted_tokens = 100.0;
        let samples = ts.finish(SimTime(S / 8), Gauges::default());
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].t_s, 0.125);
        assert_eq!(samples[0].admitted_tokens_per_s, 800.0, "100 in 1/8 s");
    }

    #[test]
    fn a_series_keeps_at_most_its_row_cap_and_stops_closing_past_it() {
        // 1 ns intervals over 3M ns: three times the cap; an event at the end of time must not
        // loop over its 2^64 intervals either.
        let mut ts = TimeSeries::new(1, 0);
        ts.close_until(
            SimTime(3 * MAX_TIMESERIES_SAMPLES as u64),
            &Gauges::default(),
        );
        assert!(!ts.due(SimTime(u64::MAX - 1)));
        ts.close_until(SimTime(u64::MAX), &Gauges::default());
        let samples = ts.finish(SimTime(u64::MAX), Gauges::default());
        assert_eq!(samples.len(), MAX_TIMESERIES_SAMPLES);
    }
}
