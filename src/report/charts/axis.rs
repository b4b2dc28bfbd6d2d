//! Axes and numbers: linear and log ranges with round ticks, and how values are written.

use super::*;

/// One axis in plot space: a linear range with its ticks. A log axis stores log10 of the data;
/// a categorical axis has categories at 0, 1, 2, ...
#[derive(Clone, Debug)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
    pub(super) kind: AxisKind,
    /// Decimals for linear tick labels.
    pub(super) decimals: usize,
}

#[derive(Clone, Debug)]
pub(super) enum AxisKind {
    Linear,
    Log,
    /// log10(1 + v): a count from 0 to thousands, its zeros on the axis floor.
    Log1p,
    Categories(Vec<String>),
}

impl Axis {
    /// A linear axis covering `[lo, hi]` with round ticks at its ends (about `target` of them).
    pub(super) fn linear(lo: f64, hi: f64, target: usize) -> Axis {
        let (lo, hi) = if hi - lo > 0.0 && (hi - lo).is_finite() {
            (lo, hi)
        } else if lo.is_finite() && lo != 0.0 {
            (lo - lo.abs() * 0.1, lo + lo.abs() * 0.1)
        } else {
            (0.0, 1.0)
        };
        let step = nice_step((hi - lo) / target.max(1) as f64);
        let lo_t = (lo / step + 1e-9).floor() * step;
        let hi_t = (hi / step - 1e-9).ceil() * step;
        let n = ((hi_t - lo_t) / step).round() as i64;
        let ticks = (0..=n).map(|i| clean(lo_t + i as f64 * step)).collect();
        let decimals = step_decimals(step);
        Axis {
            lo: lo_t,
            hi: hi_t,
            ticks,
            kind: AxisKind::Linear,
            decimals,
        }
    }

    /// A linear axis from zero to a little above `max`.
    pub(super) fn from_zero(max: f64, target: usize) -> Axis {
        let max = if max.is_finite() && max > 0.0 {
            max * 1.04
        } else {
            1.0
        };
        Axis::linear(0.0, max, target)
    }

    /// A log axis covering `[lo, hi]` (both > 0), with 1-2-5-style ticks.
    pub(super) fn log(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, lo * 2.0)
        };
        let ticks = log_ticks(lo, hi);
        Axis {
            lo: lo.log10(),
            hi: hi.log10(),
            ticks: ticks.iter().map(|t| t.log10()).collect(),
            kind: AxisKind::Log,
            decimals: 0,
        }
    }

    /// A log axis of `1 + v` from 0 to `hi` (> 0), ticks at 0, 1, 10, 100, ...
    pub(super) fn log1p(hi: f64) -> Axis {
        let top = (1.0 + hi.max(1.0)).log10();
        let mut ticks = vec![0.0];
        let mut t = 1.0f64;
        while (1.0 + t).log10() <= top * 1.000001 {
            ticks.push((1.0f64 + t).log10());
            t *= 10.0;
        }
        Axis {
            lo: 0.0,
            hi: top * 1.04,
            ticks,
            kind: AxisKind::Log1p,
            decimals: 0,
        }
    }

    /// Categories at 0, 1, ..., each labelled.
    pub(super) fn categories(labels: Vec<String>) -> Axis {
        let n = labels.len().max(1) as f64;
        Axis {
            lo: -0.5,
            hi: n - 0.5,
            ticks: (0..labels.len()).map(|i| i as f64).collect(),
            kind: AxisKind::Categories(labels),
            decimals: 0,
        }
    }

    /// A data value in plot space.
    pub(super) fn map(&self, v: f64) -> f64 {
        match self.kind {
            AxisKind::Log => v.log10(),
            AxisKind::Log1p => (1.0 + v.max(0.0)).log10(),
            _ => v,
        }
    }

    /// A tick label.
    pub(super) fn label(&self, v: f64) -> String {
        match &self.kind {
            AxisKind::Linear => format_tick(v, self.decimals),
            AxisKind::Log => format_plain(clean(10f64.powf(v))),
            AxisKind::Log1p => format_tick(clean(10f64.powf(v) - 1.0).round(), 0),
            AxisKind::Categories(labels) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            }
        }
    }

    pub(super) fn range(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.clone(),
        }
    }
}

/// A linear f64 coordinate whose tick marks are exactly the given values.
pub(super) struct Ticked {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span <= 0.0 || !v.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let f = (v - self.lo) / span;
        limit.0 + ((limit.1 - limit.0) as f64 * f).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// The decimals that write every multiple of `step` exactly: 0 for 1, 2, 5, 10, 25; 1 for 2.5
/// and 0.5; 2 for 0.25 and 0.05. A label with fewer would round 2.5 to "2" and 7.5 to "8", and
/// the label would no longer be the value at its tick.
pub(super) fn step_decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 0;
    }
    (0..=12)
        .find(|&d| {
            let scaled = step * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(12)
}

/// 1, 2, 2.5 or 5 times a power of ten, the smallest at least `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= raw * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

/// Rounds away float noise (0.30000000000000004 to 0.3).
pub(super) fn clean(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 12 - v.abs().log10().floor() as i32;
    let f = 10f64.powi(digits.clamp(-300, 300));
    (v * f).round() / f
}

/// Ticks for a log axis: the coarsest of 1-10, 1-3-10, 1-2-5, 1-1.5-2-3-5-7 per decade that
/// gives at least four ticks inside `[lo, hi]`, or the finest.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let sets: [&[f64]; 4] = [
        &[1.0],
        &[1.0, 3.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
    ];
    let mut last = Vec::new();
    for set in sets {
        let mut ticks = Vec::new();
        let mut decade = 10f64.powf(lo.log10().floor());
        while decade <= hi * 1.000001 {
            for m in set {
                let t = clean(m * decade);
                if t >= lo * 0.999999 && t <= hi * 1.000001 {
                    ticks.push(t);
                }
            }
            decade *= 10.0;
        }
        if ticks.len() >= 4 && ticks.len() <= 12 {
            return ticks;
        }
        if ticks.len() > 12 && !last.is_empty() {
            return last;
        }
        last = ticks;
    }
    last
}

/// `v` with `decimals` decimals, thousands as `k` and millions as `M` when round.
pub(super) fn format_tick(v: f64, decimals: usize) -> String {
    let a = v.abs();
    if a >= 1e6 && (v / 1e5).fract().abs() < 1e-9 {
        format_plain(clean(v / 1e6)) + "M"
    } else if a >= 1e4 && (v / 100.0).fract().abs() < 1e-9 {
        format_plain(clean(v / 1e3)) + "k"
    } else {
        format!("{v:.decimals$}")
    }
}

/// A number without trailing zeros, exactly as it is after float noise is cleaned away: 0.5, 2,
/// 150, 1.25, 0.00015.
pub(super) fn format_plain(v: f64) -> String {
    let v = clean(v);
    if v == 0.0 { "0".into() } else { format!("{v}") }
}

/// A metric's value for a label: seconds, dollars, counts.
pub(super) fn format_value(metric: &str, v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if metric.ends_with("_usd") {
        if v.abs() >= 100.0 {
            format!("${v:.0}")
        } else {
            format!("${v:.2}")
        }
    } else if metric.ends_with("_s") {
        if v.abs() >= 100.0 {
            format!("{v:.0} s")
        } else if v.abs() >= 10.0 {
            format!("{v:.1} s")
        } else {
            format!("{v:.2} s")
        }
    } else if v.abs() >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.fract() == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A metric's name for people, with its unit: `job_latency_p99_s` is "job latency p99 (s)".
pub fn metric_label(metric: &str) -> String {
    let (base, unit) = if let Some(b) = metric.strip_suffix("_usd") {
        (b, Some("USD"))
    } else if let Some(b) = metric.strip_suffix("_s") {
        (b, Some("s"))
    } else {
        (metric, None)
    };
    let base = match base {
        "cost" => "cost".to_string(),
        "rate_limited" => "rate limited (429s)".to_string(),
        _ => base.replace('_', " "),
    };
    match unit {
        Some(u) => format!("{base} ({u})"),
        None => base,
    }
}
