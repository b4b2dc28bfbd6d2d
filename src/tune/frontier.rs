//! Pareto dominance between candidates: by their means (to rank and to draw the frontier), and
//! with confidence, paired over shared replications (to eliminate).
//!
//! Task: compare settings the way common random numbers allow. Replication `r` of every
//! candidate runs on the same seed, so `a`'s value minus `b`'s on replication `r` cancels most
//! of the noise both share (the same arrivals, the same prompt sizes); the confidence interval of
//! those differences is far narrower than either candidate's own, and a candidate can be dropped
//! after a few replications when it is clearly worse.

use crate::metrics::Metrics;
use crate::metrics::summary::mean_ci95;
use crate::scenario::Objective;
use std::cmp::Ordering;

/// `x` oriented so that lower is better for `objective`.
fn lower_better(objective: &Objective, x: f64) -> f64 {
    if objective.maximize { -x } else { x }
}

/// Whether means `a` dominate means `b`: no worse on every objective, better on one.
pub fn dominates(objectives: &[Objective], a: &Metrics, b: &Metrics) -> bool {
    let mut better = false;
    for o in objectives {
        let (x, y) = (
            lower_better(o, a.get(o.metric).unwrap_or(f64::NAN)),
            lower_better(o, b.get(o.metric).unwrap_or(f64::NAN)),
        );
        // NaN is never "no worse".
        if !matches!(x.partial_cmp(&y), Some(Ordering::Less | Ordering::Equal)) {
            return false;
        }
        better |= x < y;
    }
    better
}

/// Whether `a` dominates `b` with 95% confidence, paired over their first `n` shared
/// replications (at least 2): on every objective the interval of the differences `a - b`
/// (oriented lower-is-better) lies at or below zero, and on one strictly below. Equal values
/// on every replication (a cost that does not depend on the setting) are "no worse".
pub fn dominates_paired(objectives: &[Objective], a: &[Metrics], b: &[Metrics]) -> bool {
    let n = a.len().min(b.len());
    if n < 2 {
        return false;
    }
    let mut better = false;
    let mut diffs = Vec::with_capacity(n);
    for o in objectives {
        diffs.clear();
        for (x, y) in a[..n].iter().zip(&b[..n]) {
            let x = lower_better(o, x.get(o.metric).unwrap_or(f64::NAN));
            let y = lower_better(o, y.get(o.metric).unwrap_or(f64::NAN));
            diffs.push(x - y);
        }
        let (mean, half) = mean_ci95(&diffs);
        let upper = mean + half;
        if !matches!(
            upper.partial_cmp(&0.0),
            Some(Ordering::Less | Ordering::Equal)
        ) {
            return false;
        }
        better |= upper < 0.0;
    }
    better
}

/// For each of `means`, how many of the others dominate it (0: on the frontier of the set).
pub fn domination_counts(objectives: &[Objective], means: &[&Metrics]) -> Vec<usize> {
    means
        .iter()
        .map(|b| means.iter().filter(|a| dominates(objectives, a, b)).count())
        .collect()
}

/// The positions of `means` that no other dominates, in the order given; of several with the
/// same means on every objective, the first.
pub fn frontier(objectives: &[Objective], means: &[&Metrics]) -> Vec<usize> {
    let counts = domination_counts(objectives, means);
    let same = |a: &Metrics, b: &Metrics| {
        objectives
            .iter()
            .all(|o| a.get(o.metric) == b.get(o.metric))
    };
    (0..means.len())
        .filter(|&i| counts[i] == 0)
        .filter(|&i| !(0..i).any(|j| counts[j] == 0 && same(means[j], means[i])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objectives() -> Vec<Objective> {
        vec![
            Objective {
                metric: "job_latency_p99_s",
                maximize: false,
            },
            Objective {
                metric: "jobs_ok",
                maximize: true,
            },
        ]
    }

    fn m(p99: f64, ok: f64) -> Metrics {
        Metrics {
            job_latency_p99_s: p99,
            jobs_ok: ok,
            ..Default::default()
        }
    }

    #[test]
    fn the_frontier_keeps_trade_offs_and_drops_dominated_and_duplicate_points() {
        let o = objectives();
        let pts = [
            m(10.0, 1.0),
            m(5.0, 0.0),
            m(12.0, 1.0),
            m(10.0, 1.0),
            m(4.0, 0.0),
        ];
        let refs: Vec<&Metrics> = pts.iter().collect();
        assert_eq!(frontier(&o, &refs), [0, 4]);
        assert_eq!(domination_counts(&o, &refs), [0, 1, 2, 0, 0]);
    }

    #[test]
    fn paired_differences_see_what_the_spread_of_each_hides() {
        let o = objectives();
        // Replications differ a lot from each other, but `a` is always 1 s faster than `b`.
        let b: Vec<Metrics> = (0..4).map(|r| m(20.0 + 10.0 * r as f64, 1.0)).collect();
        let a: Vec<Metrics> = b
            .iter()
            .map(|x| m(x.job_latency_p99_s - 1.0, 1.0))
            .collect();
        assert!(dominates_paired(&o, &a, &b));
        assert!(!dominates_paired(&o, &b, &a));
        // The unpaired intervals overlap widely.
        let (ma, ha) = mean_ci95(&a.iter().map(|x| x.job_latency_p99_s).collect::<Vec<_>>());
        let (mb, _) = mean_ci95(&b.iter().map(|x| x.job_latency_p99_s).collect::<Vec<_>>());
        assert!(ma + ha > mb);
        // Noisy differences are not a confident win.
        let c: Vec<Metrics> = b
            .iter()
            .enumerate()
            .map(|(r, x)| {
                m(
                    x.job_latency_p99_s + if r % 2 == 0 { -3.0 } else { 2.0 },
                    1.0,
                )
            })
            .collect();
        assert!(!dominates_paired(&o, &c, &b));
        assert!(
            !dominates_paired(&o, &a[..1], &b[..1]),
            "one replication proves nothing"
        );
    }
}
