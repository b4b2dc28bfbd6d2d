//! A latency store with exact percentiles for small runs and bounded memory for large ones.
//!
//! Task: answer p50/p90/p99/max without keeping every value of a ten-million-call run. The first
//! [`EXACT_CAP`] values are kept as they are (percentiles are then exact, nearest-rank); past that,
//! all values move into an HDR histogram (3 significant digits, about 0.1% error), so memory stays
//! flat however long the run.

use hdrhistogram::Histogram;

/// How many values are kept exactly before switching to a histogram.
pub const EXACT_CAP: usize = 1 << 18;

/// Latencies in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct LatencyStore {
    exact: Vec<u64>,
    histogram: Option<Histogram<u64>>,
    count: u64,
    sum: u128,
    max: u64,
}

impl LatencyStore {
    /// Records one latency.
    #[inline]
    pub fn record(&mut self, nanos: u64) {
        self.count += 1;
        self.sum += nanos as u128;
        self.max = self.max.max(nanos);
        match &mut self.histogram {
            Some(h) => record(h, nanos),
            None if self.exact.len() < EXACT_CAP => self.exact.push(nanos),
            None => {
                let mut h =
                    Histogram::<u64>::new(3).expect("3 significant digits is a valid precision");
                h.auto(true);
                for &v in &self.exact {
                    record(&mut h, v);
                }
                record(&mut h, nanos);
                self.exact = Vec::new();
                self.histogram = Some(h);
            }
        }
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean in nanoseconds (0 when empty), exact in either mode.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// Largest value, exact in either mode.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Nearest-rank percentiles for each `q` in `[0, 1]`: the smallest value with at least
    /// `ceil(q * n)` values at or below it. Zero when empty.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<u64> {
        if self.count == 0 {
            return vec![0; qs.len()];
        }
        match &self.histogram {
            Some(h) => qs
                .iter()
                .map(|&q| {
                    if q >= 1.0 {
                        self.max
                    } else {
                        h.value_at_quantile(q).min(self.max)
                    }
                })
                .collect(),
            None => {
                // A selection per quantile is linear; sorting a quarter-million values is not.
                let mut values = self.exact.clone();
                let n = values.len();
                qs.iter()
                    .map(|&q| {
                        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
                        *values.select_nth_unstable(rank - 1).1
                    })
                    .collect()
            }
        }
    }
}

/// Records into an auto-resizing histogram; a value it cannot grow to is clamped, not lost.
#[inline]
fn record(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_percentiles_use_the_nearest_rank() {
        let mut s = LatencyStore::default();
        for v in (1..=10).rev() {
            s.record(v * 100);
        }
        // n = 10: p50 -> rank 5, p90 -> rank 9, p99 -> rank 10.
        assert_eq!(
            s.quantiles(&[0.5, 0.9, 0.99, 1.0]),
            vec![500, 900, 1000, 1000]
        );
        assert_eq!(s.mean(), 550.0);
        assert_eq!(s.max(), 1000);
    }

    #[test]
    fn large_runs_switch_to_a_histogram_within_its_precision() {
        let mut s = LatencyStore::default();
        let n = EXACT_CAP as u64 * 2;
        for i in 1..=n {
            s.record(i * 1_000);
        }
        assert!(s.exact.is_empty() && s.histogram.is_some());
        let p = s.quantiles(&[0.5, 0.99]);
        for (got, want) in p.iter().zip([n / 2 * 1_000, n * 99 / 100 * 1_000]) {
            let err = (*got as f64 - want as f64).abs() / want as f64;
            assert!(err < 0.001, "got {got}, want {want}");
        }
        assert_eq!(s.max(), n * 1_000);
        assert_eq!(s.count(), n);
    }

    #[test]
    fn an_empty_store_reports_zeros() {
        assert_eq!(LatencyStore::default().quantiles(&[0.5]), vec![0]);
        assert_eq!(LatencyStore::default().mean(), 0.0);
    }
}
