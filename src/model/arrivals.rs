//! When each source emits its next job: burst, Poisson, fixed interval, diurnal (by thinning)
//! or a recorded trace.

use super::config::Arrival;
use crate::engine::SimTime;
use crate::engine::rng::{StreamRng, unit};
use crate::engine::time::secs_to_nanos;

/// One source's progress through its arrival process.
pub struct SourceState {
    /// The source's own stream: its arrival times do not depend on anything else.
    pub rng: StreamRng,
    /// Jobs emitted so far.
    pub emitted: u64,
}

impl SourceState {
    fn interarrival(&mut self, rate_per_s: f64) -> u64 {
        let u = unit(&mut self.rng);
        // Inverse transform: -ln(1 - U) / rate, with 1 - U in (0, 1].
        secs_to_nanos(-(1.0 - u).ln() / rate_per_s)
    }

    /// When this source, following `arrival`, emits its next job after one at `now` (`first`:
    /// its first job).
    pub fn next_arrival(&mut self, arrival: &Arrival, now: SimTime, first: bool) -> SimTime {
        match arrival {
            Arrival::Burst { at_ns, .. } => SimTime(*at_ns),
            Arrival::Poisson { rate_per_s, .. } => now.after(self.interarrival(*rate_per_s)),
            Arrival::Interval {
                every_ns, at_ns, ..
            } => {
                if first {
                    SimTime(*at_ns)
                } else {
                    now.after(*every_ns)
                }
            }
            Arrival::Diurnal {
                mean_rate_per_s,
                amplitude,
                period_ns,
                peak_ns,
                until_ns,
                ..
            } => {
                // Thinning: candidates at the peak rate, each kept with probability rate(t)/peak.
                let (mean, amplitude, period, peak) = (
                    *mean_rate_per_s,
                    *amplitude,
                    *period_ns as f64,
                    *peak_ns as f64,
                );
                let until = until_ns.map_or(SimTime::MAX, SimTime);
                let max_rate = mean * (1.0 + amplitude);
                let mut t = now;
                loop {
                    // At least 1 ns per candidate, so that time moves on even where a gap
                    // rounds to 0 ns (a trough, where every candidate is thinned away, would
                    // otherwise hold `t` still forever); validation caps the peak rate too.
                    t = t.after(self.interarrival(max_rate).max(1));
                    let phase = 2.0 * std::f64::consts::PI * (t.0 as f64 - peak) / period;
                    let rate = mean * (1.0 + amplitude * phase.cos());
                    if t > until || t == SimTime::MAX || unit(&mut self.rng) * max_rate < rate {
                        return t;
                    }
                }
            }
            Arrival::Trace(rows) => rows
                .get(self.emitted as usize)
                .map_or(SimTime::MAX, |r| SimTime(r.at_ns)),
        }
    }

    /// Whether this source still emits a job at `at`.
    pub fn may_arrive(&self, arrival: &Arrival, at: SimTime) -> bool {
        let emitted = self.emitted;
        match arrival {
            Arrival::Burst { .. } => emitted == 0,
            Arrival::Poisson {
                count, until_ns, ..
            }
            | Arrival::Interval {
                count, until_ns, ..
            }
            | Arrival::Diurnal {
                count, until_ns, ..
            } => count.is_none_or(|c| emitted < c) && until_ns.is_none_or(|u| at.0 <= u),
            Arrival::Trace(rows) => (emitted as usize) < rows.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{purpose, stream};
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn diurnal_thinning_moves_on_where_the_rate_is_zero_even_at_a_huge_rate() {
        // Peak at 0 with a 1 s period: the rate is exactly 0 at 0.5 s. At 2e12 jobs/s every
        // candidate's gap rounds to 0 ns, so thinning used to draw at 0.5 s forever.
        let arrival = Arrival::Diurnal {
            mean_rate_per_s: 1e12,
            amplitude: 1.0,
            period_ns: 1_000_000_000,
            peak_ns: 0,
            count: Some(10),
            until_ns: None,
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = SourceState {
                rng: stream(1, purpose("test"), &[]),
                emitted: 0,
            };
            let _ = tx.send(s.next_arrival(&arrival, SimTime(500_000_000), false));
        });
        let next = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("thinning ends");
        assert!(next > SimTime(500_000_000));
    }
}
