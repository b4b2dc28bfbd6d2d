//! The search space: each tuned parameter as a coordinate in `[0, 1]`, mapped to the value
//! written into the scenario, and the points a search proposes (a space-filling design, points
//! around a frontier).
//!
//! Task: let the search think in one uniform cube whatever the parameters are (rates, counts,
//! durations, lists of choices, linear or log), and make every proposed value one a person
//! would write: whole numbers for integer ranges, four significant digits for continuous ones,
//! whole milliseconds for durations. The value simulated is the value written, so a result can
//! be reproduced by pasting it.

use crate::engine::rng::{purpose, stream, unit};
use crate::scenario::{Domain, Parameter, Unit};
use toml::Value;

/// The tuned parameters.
#[derive(Clone, Debug)]
pub struct Space {
    /// In file order.
    pub parameters: Vec<Parameter>,
}

/// The first primes, one Halton base per dimension (as many as [`crate::scenario::MAX_PARAMETERS`]).
const PRIMES: [u64; 32] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131,
];

impl Space {
    /// Dimensions.
    pub fn dims(&self) -> usize {
        self.parameters.len()
    }

    /// The value of parameter `i` at coordinate `u` in `[0, 1]`.
    pub fn value(&self, i: usize, u: f64) -> Value {
        let u = u.clamp(0.0, 1.0);
        match &self.parameters[i].domain {
            Domain::Choices(values) => {
                let k = ((u * values.len() as f64) as usize).min(values.len() - 1);
                values[k].clone()
            }
            Domain::Range {
                lo,
                hi,
                log,
                integer,
                unit,
            } => {
                let x = if *log {
                    (lo.ln() + u * (hi.ln() - lo.ln())).exp()
                } else {
                    lo + u * (hi - lo)
                };
                match unit {
                    Unit::Duration => {
                        let ms = (x * 1000.0)
                            .round()
                            .clamp((lo * 1000.0).ceil(), (hi * 1000.0).floor().max(1.0));
                        Value::String(format!("{}ms", ms.max(0.0) as u64))
                    }
                    Unit::Number if *integer => {
                        Value::Integer(x.round().clamp(lo.ceil(), hi.floor()) as i64)
                    }
                    Unit::Number => {
                        let v = significant(x, 4).clamp(*lo, *hi);
                        if v.fract() == 0.0 && v.abs() < 9.0e15 {
                            Value::Integer(v as i64)
                        } else {
                            Value::Float(v)
                        }
                    }
                }
            }
        }
    }

    /// Every parameter's value at `coords`.
    pub fn values(&self, coords: &[f64]) -> Vec<Value> {
        (0..self.dims()).map(|i| self.value(i, coords[i])).collect()
    }

    /// The coordinates of values as written (the policy's own settings), clamped into the cube;
    /// a choice not in the list sits in the middle.
    pub fn coords_of(&self, values: &[Value]) -> Vec<f64> {
        self.parameters
            .iter()
            .zip(values)
            .map(|(p, v)| match &p.domain {
                Domain::Choices(list) => list
                    .iter()
                    .position(|c| c == v)
                    .map_or(0.5, |k| (k as f64 + 0.5) / list.len() as f64),
                Domain::Range { lo, hi, log, .. } => {
                    let x = match v {
                        Value::Integer(i) => Some(*i as f64),
                        Value::Float(f) => Some(*f),
                        Value::String(s) => humantime::parse_duration(s.trim())
                            .ok()
                            .map(|d| d.as_secs_f64()),
                        _ => None,
                    };
                    match x {
                        Some(x) if *log && x > 0.0 => {
                            ((x.ln() - lo.ln()) / (hi.ln() - lo.ln())).clamp(0.0, 1.0)
                        }
                        Some(x) if !*log => ((x - lo) / (hi - lo)).clamp(0.0, 1.0),
                        _ => 0.5,
                    }
                }
            })
            .collect()
    }

    /// The first `n` points of a scrambled Halton sequence: each dimension's digits permuted and
    /// the whole rotated by a random shift, both from `seed`, so that two seeds give two designs
    /// and dimensions with large prime bases do not line up.
    pub fn design(&self, n: usize, seed: u64) -> Vec<Vec<f64>> {
        self.design_from(1, n, seed)
    }

    /// Points `start..start + n` of the sequence [`Space::design`] begins (from 1), to add
    /// points that fill the gaps the first ones left.
    pub fn design_from(&self, start: u64, n: usize, seed: u64) -> Vec<Vec<f64>> {
        let d = self.dims();
        let mut rng = stream(seed, purpose("tune.design"), &[]);
        let scrambles: Vec<(Vec<u64>, f64)> = (0..d)
            .map(|k| {
                let base = PRIMES[k];
                // Digit 0 stays 0, so that the trailing zeros of an index add nothing.
                let mut perm: Vec<u64> = (0..base).collect();
                for i in (2..base as usize).rev() {
                    let j = 1 + (unit(&mut rng) * i as f64) as usize;
                    perm.swap(i, j.min(i));
                }
                (perm, unit(&mut rng))
            })
            .collect();
        (start..start + n as u64)
            .map(|index| {
                scrambles
                    .iter()
                    .enumerate()
                    .map(|(k, (perm, shift))| {
                        let base = PRIMES[k];
                        let (mut i, mut f, mut x) = (index, 1.0, 0.0);
                        while i > 0 {
                            f /= base as f64;
                            x += f * perm[(i % base) as usize] as f64;
                            i /= base;
                        }
                        (x + shift).fract()
                    })
                    .collect()
            })
            .collect()
    }

    /// `count` points around `center`, each coordinate moved uniformly within `radius` and
    /// clamped to the cube; `key` tells the draws of one call from another's.
    pub fn around(
        &self,
        center: &[f64],
        radius: f64,
        count: usize,
        seed: u64,
        key: &[u64],
    ) -> Vec<Vec<f64>> {
        let mut rng = stream(seed, purpose("tune.refine"), key);
        (0..count)
            .map(|_| {
                center
                    .iter()
                    .map(|c| (c + radius * (2.0 * unit(&mut rng) - 1.0)).clamp(0.0, 1.0))
                    .collect()
            })
            .collect()
    }
}

/// `x` rounded to `digits` significant digits.
fn significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    let r = (x * scale).round() / scale;
    // Printing `r` must not show noise such as 66670.00000000001.
    r.to_string().parse().unwrap_or(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> Space {
        Space {
            parameters: vec![
                Parameter {
                    path: "policy.p.bucket.rate".into(),
                    within_policy: "bucket.rate".into(),
                    domain: Domain::Range {
                        lo: 40_000.0,
                        hi: 80_000.0,
                        log: false,
                        integer: false,
                        unit: Unit::Number,
                    },
                },
                Parameter {
                    path: "policy.p.retry.max_attempts".into(),
                    within_policy: "retry.max_attempts".into(),
                    domain: Domain::Range {
                        lo: 1.0,
                        hi: 8.0,
                        log: false,
                        integer: true,
                        unit: Unit::Number,
                    },
                },
                Parameter {
                    path: "policy.p.retry.wait.multiplier".into(),
                    within_policy: "retry.wait.multiplier".into(),
                    domain: Domain::Range {
                        lo: 0.5,
                        hi: 8.0,
                        log: true,
                        integer: false,
                        unit: Unit::Duration,
                    },
                },
                Parameter {
                    path: "policy.p.sdk".into(),
                    within_policy: "sdk".into(),
                    domain: Domain::Choices(vec![Value::Integer(1), Value::Integer(2)]),
                },
            ],
        }
    }

    #[test]
    fn values_are_what_a_person_would_write() {
        let s = space();
        assert_eq!(s.value(0, 0.0), Value::Integer(40_000));
        assert_eq!(s.value(0, 0.66667), Value::Integer(66_670));
        assert_eq!(s.value(1, 0.5), Value::Integer(5));
        assert_eq!(s.value(2, 0.0), Value::String("500ms".into()));
        assert_eq!(s.value(2, 0.5), Value::String("2000ms".into()));
        assert_eq!(s.value(3, 0.99), Value::Integer(2));
        let back = s.coords_of(&s.values(&[0.25, 0.5, 0.5, 0.75]));
        assert!((back[0] - 0.25).abs() < 1e-3 && (back[2] - 0.5).abs() < 1e-3);
        assert_eq!(back[3], 0.75);
    }

    #[test]
    fn the_design_fills_the_cube_and_depends_on_the_seed() {
        let s = space();
        let a = s.design(64, 1);
        assert_eq!(a, s.design(64, 1));
        assert_ne!(a, s.design(64, 2));
        for k in 0..s.dims() {
            // Every quarter of every axis is visited about a quarter of the time.
            for q in 0..4 {
                let n = a.iter().filter(|p| (p[k] * 4.0) as usize == q).count();
                assert!((12..=20).contains(&n), "axis {k}, quarter {q}: {n}");
            }
        }
    }
}
