//! Distributions of sizes and durations.
//!
//! Task: draw a token count, a fan-out width or a duration from what a user wrote
//! (`31000`, `{ dist = "normal", mean = 31000, sd = 3000 }`). Draws are never negative: a normal
//! draw below zero is clamped to zero, which keeps sampling to one draw per value so that streams
//! stay aligned across policies.

use crate::engine::rng::{StreamRng, unit};
use rand_distr::{Distribution, Exp, LogNormal, Normal};

/// A validated, non-negative distribution over `f64`.
#[derive(Clone, Debug)]
pub enum Dist {
    /// Always `value`.
    Constant(f64),
    /// Uniform on `[low, high)`.
    Uniform { low: f64, high: f64 },
    /// Normal with the given mean and standard deviation, clamped at zero.
    Normal {
        mean: f64,
        sd: f64,
        sampler: Normal<f64>,
    },
    /// Log-normal with the given mean and standard deviation of the value itself (not of its log).
    LogNormal {
        mean: f64,
        sd: f64,
        sampler: LogNormal<f64>,
    },
    /// Exponential with the given mean.
    Exponential { mean: f64, sampler: Exp<f64> },
    /// One of `values`, with probabilities proportional to their weights (`cumulative` holds the
    /// running sums of the weights, normalised to end at 1).
    Empirical {
        values: Vec<f64>,
        cumulative: Vec<f64>,
    },
}

/// Why a distribution's parameters were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DistError(pub String);

impl Dist {
    /// A constant; must be finite and non-negative.
    pub fn constant(value: f64) -> Result<Dist, DistError> {
        check_non_negative("value", value)?;
        Ok(Dist::Constant(value))
    }

    /// Uniform on `[low, high)`; needs `0 <= low <= high`.
    pub fn uniform(low: f64, high: f64) -> Result<Dist, DistError> {
        check_non_negative("low", low)?;
        check_non_negative("high", high)?;
        if high < low {
            return Err(DistError(format!(
                "uniform needs low <= high, found low = {low}, high = {high}"
            )));
        }
        Ok(Dist::Uniform { low, high })
    }

    /// Normal (clamped at zero); needs `mean >= 0`, `sd >= 0`.
    pub fn normal(mean: f64, sd: f64) -> Result<Dist, DistError> {
        check_non_negative("mean", mean)?;
        check_non_negative("sd", sd)?;
        let sampler = Normal::new(mean, sd).map_err(|e| DistError(format!("normal: {e}")))?;
        Ok(Dist::Normal { mean, sd, sampler })
    }

    /// Log-normal from the mean and standard deviation of the value:
    /// `sigma^2 = ln(1 + sd^2 / mean^2)`, `mu = ln(mean) - sigma^2 / 2`.
    pub fn lognormal(mean: f64, sd: f64) -> Result<Dist, DistError> {
        check_non_negative("sd", sd)?;
        if !(mean > 0.0 && mean.is_finite()) {
            return Err(DistError(format!("lognormal needs mean > 0, found {mean}")));
        }
        let sigma2 = (1.0 + (sd * sd) / (mean * mean)).ln();
        let mu = mean.ln() - sigma2 / 2.0;
        let sampler =
            LogNormal::new(mu, sigma2.sqrt()).map_err(|e| DistError(format!("lognormal: {e}")))?;
        Ok(Dist::LogNormal { mean, sd, sampler })
    }

    /// Exponential with mean `mean > 0`.
    pub fn exponential(mean: f64) -> Result<Dist, DistError> {
        if !(mean > 0.0 && mean.is_finite()) {
            return Err(DistError(format!(
                "exponential needs mean > 0, found {mean}"
            )));
        }
        let sampler = Exp::new(1.0 / mean).map_err(|e| DistError(format!("exponential: {e}")))?;
        Ok(Dist::Exponential { mean, sampler })
    }

    /// One of `values` with probabilities proportional to `weights` (all equal when `None`):
    /// a histogram users measured. Values must be >= 0, weights > 0.
    pub fn empirical(values: Vec<f64>, weights: Option<Vec<f64>>) -> Result<Dist, DistError> {
        if values.is_empty() {
            return Err(DistError("empirical needs at least one value".into()));
        }
        for v in &values {
            check_non_negative("values", *v)?;
        }
        let weights = weights.unwrap_or_else(|| vec![1.0; values.len()]);
        if weights.len() != values.len() {
            return Err(DistError(format!(
                "empirical needs one weight per value: {} values, {} weights",
                values.len(),
                weights.len()
            )));
        }
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w > 0.0)) {
            return Err(DistError(format!(
                "weights must be finite numbers > 0, found {w}"
            )));
        }
        let total: f64 = weights.iter().sum();
        let mut running = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                running += w;
                running / total
            })
            .collect();
        Ok(Dist::Empirical { values, cumulative })
    }

    /// The smallest value a draw can take (0 for the unbounded-below shapes: a normal is clamped
    /// at zero, a log-normal or exponential comes arbitrarily close to it).
    pub fn lowest(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { low, .. } => *low,
            Dist::Normal { .. } | Dist::LogNormal { .. } | Dist::Exponential { .. } => 0.0,
            Dist::Empirical { values, .. } => values.iter().copied().fold(f64::INFINITY, f64::min),
        }
    }

    /// One draw, never negative. Constants consume no randomness.
    #[inline]
    pub fn sample(&self, rng: &mut StreamRng) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { low, high } => low + (high - low) * unit(rng),
            Dist::Normal { sampler, .. } => sampler.sample(rng).max(0.0),
            Dist::LogNormal { sampler, .. } => sampler.sample(rng),
            Dist::Exponential { sampler, .. } => sampler.sample(rng),
            Dist::Empirical { values, cumulative } => {
                let u = unit(rng);
                values[cumulative
                    .partition_point(|&c| c <= u)
                    .min(values.len() - 1)]
            }
        }
    }

    /// The distribution's mean (before clamping, for a normal).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { low, high } => (low + high) / 2.0,
            Dist::Normal { mean, .. }
            | Dist::LogNormal { mean, .. }
            | Dist::Exponential { mean, .. } => *mean,
            Dist::Empirical { values, cumulative } => {
                let mut previous = 0.0;
                values
                    .iter()
                    .zip(cumulative)
                    .map(|(v, c)| {
                        let p = c - previous;
                        previous = *c;
                        v * p
                    })
                    .sum()
            }
        }
    }
}

fn check_non_negative(name: &str, v: f64) -> Result<(), DistError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(DistError(format!(
            "{name} must be a finite number >= 0, found {v}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{purpose, stream};

    fn mean_of(d: &Dist, n: usize) -> f64 {
        let mut r = stream(3, purpose("dist-test"), &[]);
        (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_the_stated_means() {
        // n = 200k: the standard error is sd / 447; 5 standard errors bound each check.
        let n = 200_000;
        for (d, sd) in [
            (Dist::uniform(10.0, 20.0).unwrap(), 10.0 / 12f64.sqrt()),
            (Dist::normal(100.0, 10.0).unwrap(), 10.0),
            (Dist::lognormal(50.0, 20.0).unwrap(), 20.0),
            (Dist::exponential(2.0).unwrap(), 2.0),
        ] {
            let m = mean_of(&d, n);
            let se = sd / (n as f64).sqrt();
            assert!(
                (m - d.mean()).abs() < 5.0 * se,
                "{d:?}: sample mean {m}, stated {}",
                d.mean()
            );
        }
    }

    #[test]
    fn empirical_draws_follow_the_weights() {
        // Values 1, 2, 3 with weights 1, 1, 2: P = 0.25, 0.25, 0.5; mean 2.25.
        let d = Dist::empirical(vec![1.0, 2.0, 3.0], Some(vec![1.0, 1.0, 2.0])).unwrap();
        assert_eq!(d.mean(), 2.25);
        let mut r = stream(5, purpose("emp"), &[]);
        let n = 100_000;
        let threes = (0..n).filter(|_| d.sample(&mut r) == 3.0).count() as f64 / n as f64;
        // Binomial sd = sqrt(0.25 / n) = 0.0016; allow 5 sd.
        assert!((threes - 0.5).abs() < 0.008, "{threes}");
        assert!(Dist::empirical(vec![], None).is_err());
        assert!(Dist::empirical(vec![1.0], Some(vec![0.0])).is_err());
    }

    #[test]
    fn constants_consume_no_randomness() {
        let mut a = stream(1, purpose("c"), &[]);
        let b = a.clone();
        assert_eq!(Dist::constant(4.0).unwrap().sample(&mut a), 4.0);
        assert_eq!(a, b);
    }

    #[test]
    fn normal_draws_are_clamped_at_zero() {
        let d = Dist::normal(0.0, 5.0).unwrap();
        let mut r = stream(9, purpose("n"), &[]);
        assert!((0..10_000).all(|_| d.sample(&mut r) >= 0.0));
    }

    #[test]
    fn bad_parameters_are_refused_with_their_name() {
        assert!(Dist::constant(-1.0).unwrap_err().0.contains("value"));
        assert!(
            Dist::uniform(5.0, 1.0)
                .unwrap_err()
                .0
                .contains("low <= high")
        );
        assert!(Dist::exponential(0.0).is_err());
        assert!(Dist::lognormal(0.0, 1.0).is_err());
        assert!(Dist::normal(f64::NAN, 1.0).is_err());
    }
}
