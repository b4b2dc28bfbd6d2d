//! Value types of the scenario format that check themselves while being read, so that a bad value
//! is reported at its own line and column: durations, positive numbers, distributions.

use crate::model::dist::Dist;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, de::value::MapAccessDeserializer};
use std::fmt;
use std::marker::PhantomData;

/// A duration written as `"250ms"`, `"1.5s"`, `"2m"`, `"1h 30m"`; held in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Secs(pub f64);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Secs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"250ms\", \"1.5s\" or \"2m\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Secs, E> {
                humantime::parse_duration(s.trim())
                    .map(|d| Secs(d.as_secs_f64()))
                    .map_err(|e| E::custom(format!("expected a duration such as \"250ms\", \"1.5s\" or \"2m\", found \"{s}\" ({e})")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secs, E> {
                Err(E::custom(format!(
                    "expected a duration string with a unit such as \"{v}s\" or \"{v}ms\", found the bare number {v}"
                )))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secs, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Secs, E> {
                Err(E::custom(format!(
                    "expected a duration string with a unit such as \"{v}s\", found the bare number {v}"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A finite number greater than zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Positive(pub f64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() && v > 0.0 {
            Ok(Positive(v))
        } else {
            Err(de::Error::custom(format!(
                "expected a number > 0, found {v}"
            )))
        }
    }
}

/// A finite number at or above zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonNegative(pub f64);

impl<'de> Deserialize<'de> for NonNegative {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() && v >= 0.0 {
            Ok(NonNegative(v))
        } else {
            Err(de::Error::custom(format!(
                "expected a number >= 0, found {v}"
            )))
        }
    }
}

/// What a distribution's parameters are written in: plain numbers, or durations.
pub trait Scalar: for<'de> Deserialize<'de> {
    /// The value in base units (a count, or seconds).
    fn base(&self) -> f64;
}

impl Scalar for f64 {
    fn base(&self) -> f64 {
        *self
    }
}

impl Scalar for Secs {
    fn base(&self) -> f64 {
        self.0
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum DistKind {
    Constant,
    Uniform,
    Normal,
    Lognormal,
    Exponential,
    Empirical,
}

/// The table form of a distribution. Flat rather than an internally tagged enum, so that an error
/// inside it keeps its own line and column (serde buffers tagged enums and loses positions).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound = "T: Scalar")]
struct DistSpec<T> {
    dist: DistKind,
    value: Option<T>,
    low: Option<T>,
    high: Option<T>,
    mean: Option<T>,
    sd: Option<T>,
    values: Option<Vec<T>>,
    weights: Option<Vec<f64>>,
}

impl<T: Scalar> DistSpec<T> {
    fn build(self) -> Result<Dist, String> {
        let (name, needs): (&str, &[&str]) = match self.dist {
            DistKind::Constant => ("constant", &["value"]),
            DistKind::Uniform => ("uniform", &["low", "high"]),
            DistKind::Normal => ("normal", &["mean", "sd"]),
            DistKind::Lognormal => ("lognormal", &["mean", "sd"]),
            DistKind::Exponential => ("exponential", &["mean"]),
            DistKind::Empirical => {
                if self.value.is_some()
                    || self.low.is_some()
                    || self.high.is_some()
                    || self.mean.is_some()
                    || self.sd.is_some()
                {
                    return Err(
                        "dist = \"empirical\" takes `values` and optional `weights` only".into(),
                    );
                }
                let values = self.values.ok_or("dist = \"empirical\" needs `values`")?;
                return Dist::empirical(values.iter().map(Scalar::base).collect(), self.weights)
                    .map_err(|e| e.0);
            }
        };
        if self.values.is_some() || self.weights.is_some() {
            return Err(format!(
                "`values` and `weights` apply to dist = \"empirical\" only, not \"{name}\""
            ));
        }
        let fields = [
            ("value", &self.value),
            ("low", &self.low),
            ("high", &self.high),
            ("mean", &self.mean),
            ("sd", &self.sd),
        ];
        for (field, v) in fields {
            match (v.is_some(), needs.contains(&field)) {
                (true, false) => {
                    return Err(format!(
                        "`{field}` does not apply to dist = \"{name}\" (it takes {})",
                        needs.join(", ")
                    ));
                }
                (false, true) => return Err(format!("dist = \"{name}\" needs `{field}`")),
                _ => {}
            }
        }
        let get = |v: &Option<T>| v.as_ref().map_or(0.0, Scalar::base);
        match self.dist {
            DistKind::Constant => Dist::constant(get(&self.value)),
            DistKind::Uniform => Dist::uniform(get(&self.low), get(&self.high)),
            DistKind::Normal => Dist::normal(get(&self.mean), get(&self.sd)),
            DistKind::Lognormal => Dist::lognormal(get(&self.mean), get(&self.sd)),
            DistKind::Exponential => Dist::exponential(get(&self.mean)),
            DistKind::Empirical => unreachable!("handled above"),
        }
        .map_err(|e| e.0)
    }
}

/// A distribution written as a bare value (a constant) or as a table
/// `{ dist = "normal", mean = ..., sd = ... }`; parameters are numbers (`Of<f64>`) or durations
/// (`Of<Secs>`).
#[derive(Clone, Debug)]
pub struct Of<T>(pub Dist, PhantomData<T>);

impl<T> Of<T> {
    /// A constant distribution.
    pub fn constant(v: f64) -> Self {
        Of(Dist::Constant(v), PhantomData)
    }
}

impl<'de, T: Scalar> Deserialize<'de> for Of<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: Scalar> V<T> {
            fn constant<E: de::Error>(v: f64) -> Result<Of<T>, E> {
                Dist::constant(v)
                    .map(|d| Of(d, PhantomData))
                    .map_err(E::custom)
            }
        }
        impl<'de, T: Scalar> Visitor<'de> for V<T> {
            type Value = Of<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, or a table such as { dist = \"normal\", mean = ..., sd = ... } with dist one of constant, uniform, normal, lognormal, exponential")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Of<T>, E> {
                let x = T::deserialize(de::value::I64Deserializer::<E>::new(v))?;
                Self::constant(x.base())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Of<T>, E> {
                let x = T::deserialize(de::value::U64Deserializer::<E>::new(v))?;
                Self::constant(x.base())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Of<T>, E> {
                let x = T::deserialize(de::value::F64Deserializer::<E>::new(v))?;
                Self::constant(x.base())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Of<T>, E> {
                let x = T::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Self::constant(x.base())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Of<T>, A::Error> {
                let spec = DistSpec::<T>::deserialize(MapAccessDeserializer::new(map))?;
                spec.build()
                    .map(|d| Of(d, PhantomData))
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A number as an error quotes it: plainly, or in exponent form when huge (`1e308`, not 309
/// digits).
pub(super) fn quoted(v: f64) -> String {
    if v.abs() >= 1e15 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Checks that every count `dist` may draw (rounded) lies in `[min, max]`, so that a width or a
/// number of agents taken from a float can never reach billions: a constant or an empirical value
/// must be a whole number in range, a uniform's bounds must lie in range, and a normal, lognormal
/// or exponential needs its mean in range (its draws are clamped to `max` when drawn).
pub fn check_count(dist: &Dist, min: u32, max: u32) -> Result<(), String> {
    let (lo, hi) = (f64::from(min), f64::from(max));
    let whole = |v: f64| v.fract() == 0.0 && (lo..=hi).contains(&v);
    match dist {
        Dist::Constant(v) if !whole(*v) => Err(format!(
            "expected a whole number from {min} to {max}, found {}",
            quoted(*v)
        )),
        Dist::Uniform { low, high } if *low < lo || *high > hi => Err(format!(
            "expected a uniform within [{min}, {max}], found low = {}, high = {}",
            quoted(*low),
            quoted(*high)
        )),
        Dist::Normal { mean, .. }
        | Dist::LogNormal { mean, .. }
        | Dist::Exponential { mean, .. }
            if !(lo..=hi).contains(mean) =>
        {
            Err(format!(
                "expected a mean from {min} to {max}, found {}",
                quoted(*mean)
            ))
        }
        Dist::Empirical { values, .. } => match values.iter().find(|v| !whole(**v)) {
            Some(v) => Err(format!(
                "expected values that are whole numbers from {min} to {max}, found {}",
                quoted(*v)
            )),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

impl Scalar for super::units::Quantity {
    fn base(&self) -> f64 {
        self.0
    }
}
