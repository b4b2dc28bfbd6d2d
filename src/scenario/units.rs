//! Rates and quantities with units, as provider dashboards write them: `"450k/min"`,
//! `"4M/min"`, `"66.7k/s"`, `"1000/h"`; `"200k"`, `"1.5M"`. Plain numbers keep their meaning
//! (a rate is per second), so every file written before stays valid and means the same.
//!
//! The grammar (whitespace between the parts is allowed):
//!
//! ```text
//! rate     = number [multiplier] "/" unit
//! quantity = number [multiplier]
//! number   = digits ["." digits] [("e" | "E") ["+" | "-"] digits]   (digits may hold "_")
//! multiplier = "k" | "K" (10^3) | "M" (10^6) | "G" (10^9)
//! unit     = "s" | "sec" | "second" | "min" | "minute" | "h" | "hr" | "hour" | "d" | "day"
//! ```
//!
//! A lowercase `m` is neither a multiplier nor a unit: it reads as milli, mega or minute
//! depending on who wrote it, so it is refused with a hint. A rate string needs its unit: the
//! whole point of writing one is to say per what.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// The accepted forms of a rate, as errors name them.
pub const RATE_FORMS: &str =
    "66667, \"4M/min\", \"450k/min\", \"50/min\", \"66.7k/s\" or \"1000/h\"";

/// The accepted forms of a quantity, as errors name them.
pub const QUANTITY_FORMS: &str = "200000, \"200k\" or \"1.5M\"";

/// A rate, held per second: a plain number (per second), or a string with a unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub f64);

/// An amount (tokens, requests): a plain number, or a string with a `k`, `M` or `G` suffix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantity(pub f64);

/// A [`Rate`] that must be a finite number above zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PositiveRate(pub f64);

/// A [`Quantity`] that must be a finite number above zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PositiveQuantity(pub f64);

/// A whole number of tokens (`max_tokens`): a plain integer, or `"4k"`, `"1.5M"` when that is
/// whole, from 0 to `u32::MAX`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenCount(pub u32);

/// Seconds in one of the units a rate may be per.
fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" | "sec" | "second" => 1.0,
        "min" | "minute" => 60.0,
        "h" | "hr" | "hour" => 3600.0,
        "d" | "day" => 86_400.0,
        _ => return None,
    })
}

/// `text` as a number with an optional multiplier, exactly as decimal: `"66.7k"` is 66700, not
/// 66.7 * 1000 with its rounding. `Err` holds a hint on what is wrong, if there is one to give.
fn amount(text: &str) -> Result<f64, Option<String>> {
    let text = text.trim();
    let (digits, exp_shift) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 3),
        Some((i, 'M')) => (&text[..i], 6),
        Some((i, 'G')) => (&text[..i], 9),
        Some((i, 'm')) => {
            return Err(Some(format!(
                "`m` is ambiguous: write \"{}M\" for millions or \"{}k\" for thousands",
                text[..i].trim(),
                text[..i].trim()
            )));
        }
        _ => (text, 0),
    };
    let digits = digits.trim_end();
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (digits, "0"),
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.starts_with(|c: char| c.is_ascii_digit())
            && s.ends_with(|c: char| c.is_ascii_digit())
            && s.chars().all(|c| c.is_ascii_digit() || c == '_')
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => plain(int) && plain(frac),
        None => plain(mantissa),
    };
    let exp_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if !mantissa_ok || !plain(exp_digits) {
        return Err(None);
    }
    let exponent: i64 = exponent.replace('_', "").parse().map_err(|_| None)?;
    let v: f64 = format!("{}e{}", mantissa.replace('_', ""), exponent + exp_shift)
        .parse()
        .map_err(|_| None)?;
    if v.is_finite() { Ok(v) } else { Err(None) }
}

/// Parses a rate string such as `"450k/min"` into units per second; `Err` says why not.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let refuse = |hint: Option<String>| {
        let hint = hint.map_or(String::new(), |h| format!(" ({h})"));
        format!("expected a rate such as {RATE_FORMS}, found \"{text}\"{hint}")
    };
    let Some((amount_text, unit)) = text.split_once('/') else {
        return Err(refuse(amount(text).ok().map(|_| {
            let t = text.trim();
            format!(
                "a rate string needs its unit: \"{t}/s\" or \"{t}/min\"; a plain number is per second"
            )
        })));
    };
    let unit = unit.trim();
    let seconds = match unit_seconds(unit) {
        Some(s) => s,
        None if unit == "m" => {
            return Err(refuse(Some(
                "write \"/min\" for per minute; \"/m\" is not accepted".into(),
            )));
        }
        None => {
            return Err(refuse(Some(format!(
                "unknown unit \"/{unit}\"; units are /s, /min, /h and /d"
            ))));
        }
    };
    let v = amount(amount_text).map_err(refuse)?;
    Ok(v / seconds)
}

/// Parses a quantity string such as `"200k"`; `Err` says why not.
pub fn parse_quantity(text: &str) -> Result<f64, String> {
    amount(text).map_err(|hint| {
        let hint = match hint {
            Some(h) => format!(" ({h})"),
            None if text.contains('/') => {
                " (this is an amount, not a rate: leave out the \"/unit\")".to_string()
            }
            None => String::new(),
        };
        format!("expected an amount such as {QUANTITY_FORMS}, found \"{text}\"{hint}")
    })
}

/// A visitor for a number, or a string read by `parse`.
struct NumberOr {
    what: &'static str,
    forms: &'static str,
    parse: fn(&str) -> Result<f64, String>,
}

impl Visitor<'_> for NumberOr {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} such as {}", self.what, self.forms)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

fn number_or<'de, D: Deserializer<'de>>(
    d: D,
    what: &'static str,
    forms: &'static str,
    parse: fn(&str) -> Result<f64, String>,
) -> Result<f64, D::Error> {
    d.deserialize_any(NumberOr { what, forms, parse })
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        number_or(d, "a rate", RATE_FORMS, parse_rate).map(Rate)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        number_or(d, "an amount", QUANTITY_FORMS, parse_quantity).map(Quantity)
    }
}

/// `v` if it is finite and above zero, else the error [`super::values::Positive`] gives.
fn positive<E: de::Error>(v: f64) -> Result<f64, E> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(E::custom(format!("expected a number > 0, found {v}")))
    }
}

impl<'de> Deserialize<'de> for PositiveRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        positive(Rate::deserialize(d)?.0).map(PositiveRate)
    }
}

impl<'de> Deserialize<'de> for TokenCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Quantity::deserialize(d)?.0;
        if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
            Ok(TokenCount(v as u32))
        } else {
            Err(de::Error::custom(format!(
                "expected a whole number of tokens from 0 to {} such as 4096 or \"4k\", found {v}",
                u32::MAX
            )))
        }
    }
}

impl<'de> Deserialize<'de> for PositiveQuantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        positive(Quantity::deserialize(d)?.0).map(PositiveQuantity)
    }
}

/// `v` in at most three significant digits with a `k`, `M` or `G` suffix: `450k`, `4M`,
/// `66.7k`, `1.25G`, `850`, `0.5`; what a rate string would say. From 10^12 on, `3.58e15`.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return if v > 0.0 {
            "unbounded".into()
        } else {
            format!("{v}")
        };
    }
    let (scaled, suffix) = match v.abs() {
        a if a >= 999.5e9 => return format!("{v:.2e}"),
        a if a >= 999.5e6 => (v / 1e9, "G"),
        a if a >= 999.5e3 => (v / 1e6, "M"),
        a if a >= 999.5 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    format!("{}{suffix}", significant(scaled, 3))
}

/// `v` rounded to `digits` significant digits, without trailing zeros (`4.00` is `4`).
pub fn significant(v: f64, digits: i32) -> String {
    if !v.is_finite() {
        return compact(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `v` as a whole number with thousands separators (`66,667`) when at least 1,000, otherwise in
/// four significant digits (`66.67`, `0.8333`); from a billion on, [`compact`] (`1.5G`).
pub fn grouped(v: f64) -> String {
    if !v.is_finite() || v.abs() >= 1e9 {
        return compact(v);
    }
    if v.abs() < 999.5 {
        return significant(v, 4);
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_with_units_are_per_second_exactly() {
        for (text, per_s) in [
            ("450k/min", 7_500.0),
            ("4M/min", 4e6 / 60.0),
            ("50/min", 50.0 / 60.0),
            ("66.7k/s", 66_700.0),
            ("7.5k/s", 7_500.0),
            ("1000/h", 1000.0 / 3600.0),
            ("1000/hour", 1000.0 / 3600.0),
            ("86_400/d", 1.0),
            ("1.2G/day", 1.2e9 / 86_400.0),
            (" 450 k / min ", 7_500.0),
            ("450K/minute", 7_500.0),
            ("2e3/sec", 2000.0),
            ("1.5e-3k/s", 1.5),
            ("0/min", 0.0),
        ] {
            assert_eq!(parse_rate(text), Ok(per_s), "{text}");
        }
    }

    #[test]
    fn a_malformed_rate_names_the_accepted_forms() {
        for (text, hint) in [
            ("450k per minute", ""),
            ("450k", "needs its unit: \"450k/s\" or \"450k/min\""),
            ("450k/m", "write \"/min\""),
            ("450m/min", "`m` is ambiguous"),
            ("450k/week", "unknown unit \"/week\""),
            ("-5/min", ""),
            ("inf/s", ""),
            ("nan/s", ""),
            ("1e999/s", ""),
            ("/min", ""),
            ("1..5/s", ""),
            ("_1/s", ""),
            ("", ""),
        ] {
            let e = parse_rate(text).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "expected a rate such as {RATE_FORMS}, found \"{text}\""
                )),
                "{text}: {e}"
            );
            assert!(e.contains(hint), "{text}: {e}");
        }
    }

    #[test]
    fn max_tokens_take_suffixes_when_whole() {
        #[derive(serde::Deserialize)]
        struct T {
            max_tokens: TokenCount,
        }
        let read =
            |v: &str| toml::from_str::<T>(&format!("max_tokens = {v}")).map(|t| t.max_tokens.0);
        assert_eq!(read("4096").unwrap(), 4096);
        assert_eq!(read("\"4k\"").unwrap(), 4000);
        assert_eq!(read("\"1.5k\"").unwrap(), 1500);
        for bad in ["\"0.5\"", "-1", "\"5G\"", "1.5"] {
            let e = read(bad).unwrap_err().to_string();
            assert!(
                e.contains("expected a whole number of tokens"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn quantities_take_suffixes_and_refuse_units() {
        assert_eq!(parse_quantity("200k"), Ok(200_000.0));
        assert_eq!(parse_quantity("1.5M"), Ok(1_500_000.0));
        assert_eq!(parse_quantity("3G"), Ok(3e9));
        assert_eq!(parse_quantity("450_000"), Ok(450_000.0));
        let e = parse_quantity("200k/min").unwrap_err();
        assert!(e.contains("not a rate"), "{e}");
        let e = parse_quantity("2m").unwrap_err();
        assert!(e.contains("ambiguous"), "{e}");
    }

    #[test]
    fn numbers_read_back_as_they_would_be_written() {
        assert_eq!(compact(450_000.0), "450k");
        assert_eq!(compact(66_667.0 * 60.0), "4M");
        assert_eq!(compact(66.67 * 60.0), "4k");
        assert_eq!(compact(66_700.0), "66.7k");
        assert_eq!(compact(999_999.0), "1M");
        assert_eq!(compact(850.0), "850");
        assert_eq!(compact(0.5), "0.5");
        assert_eq!(compact(3.579e15), "3.58e15");
        assert_eq!(grouped(1.5e9), "1.5G");
        assert_eq!(grouped(66_667.0), "66,667");
        assert_eq!(grouped(7_500.0), "7,500");
        assert_eq!(grouped(1_234_567.4), "1,234,567");
        assert_eq!(grouped(66.67), "66.67");
        assert_eq!(grouped(50.0 / 60.0), "0.8333");
        for v in [450_000.0, 4e6, 66_700.0, 1.25e9] {
            assert_eq!(parse_quantity(&compact(v)), Ok(v));
        }
    }
}

#[cfg(test)]
mod scenario_tests {
    use crate::scenario::{parse, parse_with_overrides};

    const PER_SECOND: &str = r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[[provider.limit]]
resource = "input_tokens"
rate = 7_500
burst = 450_000
[[provider.limit]]
resource = "requests"
kind = "sliding_window"
limit = 50
window = "60s"
[[source]]
name = "s"
arrival = { process = "diurnal", rate = 0.05, amplitude = 0.5, until = "600s" }
[source.job]
prompt_tokens = 1000
max_tokens = 200
output_tokens = { dist = "uniform", low = 100, high = 200 }
[[policy]]
name = "fixed"
bucket = { rate = 6_000, burst = 60_000 }
buckets = [{ scope = "tenant", rate = 1_000, burst = 2_000 }]
"#;

    #[test]
    fn a_scenario_with_units_is_the_scenario_in_plain_numbers() {
        let with_units = PER_SECOND
            .replace("rate = 7_500", "rate = \"450k/min\"")
            .replace("burst = 450_000", "burst = \"450k\"")
            .replace("limit = 50", "limit = \"0.05k\"")
            .replace("rate = 0.05,", "rate = \"3/min\",")
            .replace(
                "rate = 6_000, burst = 60_000",
                "rate = \"360k/min\", burst = \"60k\"",
            )
            .replace(
                "rate = 1_000, burst = 2_000",
                "rate = \"3.6M/h\", burst = \"2k\"",
            )
            .replace("prompt_tokens = 1000", "prompt_tokens = \"1k\"")
            .replace(
                "output_tokens = { dist = \"uniform\", low = 100, high = 200 }",
                "output_tokens = { dist = \"uniform\", low = \"0.1k\", high = \"0.2k\" }",
            );
        for old in [
            "rate = 7_500",
            "burst = 450_000",
            "limit = 50",
            "rate = 0.05",
            "rate = 6_000",
            "rate = 1_000",
            "prompt_tokens = 1000",
            "low = 100",
        ] {
            assert!(!with_units.contains(old), "{old} not replaced");
        }
        let plain = parse(PER_SECOND, "t.toml").unwrap();
        let units = parse(&with_units, "t.toml").unwrap();
        assert_eq!(format!("{plain:?}"), format!("{units:?}"));
    }

    #[test]
    fn a_sweep_over_a_rate_takes_strings_with_units_and_numbers() {
        let swept = |v: toml::Value| {
            let s = parse_with_overrides(
                PER_SECOND,
                "t.toml",
                &[("policy.fixed.bucket.rate".into(), v)],
            )
            .unwrap();
            s.policies[0].buckets[0].rate_per_s
        };
        assert_eq!(
            swept(toml::Value::String("50k/min".into())),
            50_000.0 / 60.0
        );
        assert_eq!(swept(toml::Value::String("60k/min".into())), 1_000.0);
        assert_eq!(swept(toml::Value::Integer(1_000)), 1_000.0);
        assert_eq!(swept(toml::Value::Float(2.5)), 2.5);
        let e = parse_with_overrides(
            PER_SECOND,
            "t.toml",
            &[(
                "provider.limit.0.rate".into(),
                toml::Value::String("450k per minute".into()),
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("field `provider.limit[0].rate`: expected a rate such as"),
            "{e}"
        );
        assert!(
            e.contains("with sweep parameters provider.limit.0.rate = \"450k per minute\""),
            "{e}"
        );
    }
}
