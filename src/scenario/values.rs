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

#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
#[serde(bound = "T: Scalar")]
enum DistSpec<T> {
    Constant { value: T },
    Uniform { low: T, high: T },
    Normal { mean: T, sd: T },
    Lognormal { mean: T, sd: T },
    Exponential { mean: T },
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
                let dist = match spec {
                    DistSpec::Constant { value } => Dist::constant(value.base()),
                    DistSpec::Uniform { low, high } => Dist::uniform(low.base(), high.base()),
                    DistSpec::Normal { mean, sd } => Dist::normal(mean.base(), sd.base()),
                    DistSpec::Lognormal { mean, sd } => Dist::lognormal(mean.base(), sd.base()),
                    DistSpec::Exponential { mean } => Dist::exponential(mean.base()),
                };
                dist.map(|d| Of(d, PhantomData)).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}
