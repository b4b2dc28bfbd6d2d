//! Calibration: from measured calls of a model to a `[[provider]]` section of a scenario.
//!
//! Task: given what a tracing pipeline recorded for each call (its model, duration, time to
//! first token, output tokens and error, e.g. read from OpenTelemetry GenAI spans), estimate the
//! provider parameters the simulator draws from (`ttft`, `decode_rate`, `error_rate`), say how
//! well they are known (confidence intervals) and whether the assumed shape fits (a
//! Kolmogorov-Smirnov test), and print them in the scenario format.
//!
//! Pure functions over samples; nothing here reads files.
//!
//! # Formulas
//!
//! **Log-normal fit** ([`fit_lognormal`]). With `l_i = ln x_i`, `n` samples, the maximum
//! likelihood estimates are `mu = (1/n) sum l_i` and `sigma^2 = (1/n) sum (l_i - mu)^2`. With
//! `s^2 = (1/(n-1)) sum (l_i - mu)^2` (the unbiased variance of the logs):
//!
//! - 95% interval of `mu`: `mu +- t_{0.975, n-1} s / sqrt(n)` (Student t; the logs are normal);
//! - 95% interval of `sigma`: `sqrt((n-1) s^2 / chi2_{0.975, n-1})` to
//!   `sqrt((n-1) s^2 / chi2_{0.025, n-1})` (`(n-1) s^2 / sigma^2` is chi-square with `n-1`
//!   degrees of freedom);
//! - mean and sd of the value itself: `mean = exp(mu + sigma^2/2)`,
//!   `sd = mean sqrt(exp(sigma^2) - 1)`, the parametrisation of `dist = "lognormal"`.
//!
//! Source: any text on the normal model, e.g. Casella & Berger, *Statistical Inference*, 2nd ed.,
//! §9.2 (pivotal intervals for the mean and variance of a normal sample); NIST/SEMATECH
//! e-Handbook §1.3.6.6.9 (lognormal MLE).
//!
//! **Kolmogorov-Smirnov**. `D = sup_x |F_n(x) - F(x)|` against the fitted log-normal, computed
//! on the sorted sample as `max_i max(i/n - F(x_(i)), F(x_(i)) - (i-1)/n)`. Its p-value uses the
//! asymptotic Kolmogorov distribution `Q(lambda) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2)`
//! at `lambda = (sqrt(n) + 0.12 + 0.11/sqrt(n)) D` (Stephens 1970's small-sample correction;
//! Numerical Recipes, 3rd ed., §14.3.3). The parameters are estimated from the same sample, so
//! the p-value is conservative (too large: Lilliefors 1967): a rejection at 1% is a real misfit,
//! a pass is weaker evidence of fit than it reads.
//!
//! **Wilson interval** ([`wilson95`]). For `k` successes in `n` trials, `p = k/n`, `z = 1.959964`:
//! `(p + z^2/(2n) +- z sqrt(p(1-p)/n + z^2/(4n^2))) / (1 + z^2/n)`. Source: Wilson (1927),
//! *JASA* 22:209; recommended over the Wald interval by Brown, Cai & DasGupta (2001),
//! *Statistical Science* 16:101. It stays inside `[0, 1]` and is sensible at `k = 0`.
//!
//! **Decode speed** of a call: `output_tokens / (duration - ttft)`, for successful calls with
//! at least [`MIN_DECODE_TOKENS`] output tokens and `duration > ttft` (a few tokens give a speed
//! dominated by timing noise).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// Two-sided 95% standard normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// Calls with fewer output tokens than this are left out of the decode-speed fit.
pub const MIN_DECODE_TOKENS: u32 = 16;

/// The KS p-value below which the log-normal shape is rejected and the empirical form is used.
pub const KS_REJECT_P: f64 = 0.01;

/// A log-normal fitted by maximum likelihood, with intervals and a goodness-of-fit figure.
#[derive(Clone, Debug, PartialEq)]
pub struct LognormalFit {
    /// Mean of the logs (MLE).
    pub mu: f64,
    /// Standard deviation of the logs (MLE, divisor `n`).
    pub sigma: f64,
    /// Mean of the variable itself, `exp(mu + sigma^2/2)`.
    pub mean: f64,
    /// Standard deviation of the variable itself, `mean sqrt(exp(sigma^2) - 1)`.
    pub sd: f64,
    /// Samples fitted.
    pub n: usize,
    /// 95% Student-t interval of `mu`.
    pub mu_ci95: (f64, f64),
    /// 95% chi-square interval of `sigma`.
    pub sigma_ci95: (f64, f64),
    /// Kolmogorov-Smirnov statistic `D` against the fitted log-normal.
    pub ks: f64,
    /// Asymptotic p-value of `ks` (conservative: the parameters were fitted on the same sample).
    pub ks_p: f64,
}

/// Fits a log-normal to `samples` by maximum likelihood on their logs.
///
/// `None` when fewer than 3 samples are finite and > 0 (the others are ignored), or when they are
/// all equal (no spread to fit).
pub fn fit_lognormal(samples: &[f64]) -> Option<LognormalFit> {
    let mut logs: Vec<f64> = samples
        .iter()
        .filter(|x| x.is_finite() && **x > 0.0)
        .map(|x| x.ln())
        .collect();
    let n = logs.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mu = logs.iter().sum::<f64>() / nf;
    let ss: f64 = logs.iter().map(|l| (l - mu).powi(2)).sum();
    if ss <= 0.0 {
        return None;
    }
    let sigma = (ss / nf).sqrt();
    let s2 = ss / (nf - 1.0);
    let df = nf - 1.0;
    let t = StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(0.975);
    let half = t * (s2 / nf).sqrt();
    let chi = ChiSquared::new(df).ok()?;
    let sigma_ci95 = (
        (ss / chi.inverse_cdf(0.975)).sqrt(),
        (ss / chi.inverse_cdf(0.025)).sqrt(),
    );
    let mean = (mu + sigma * sigma / 2.0).exp();
    let sd = mean * (sigma * sigma).exp_m1().sqrt();

    // KS against N(mu, sigma) on the logs: the same D as against the log-normal on the values.
    logs.sort_by(f64::total_cmp);
    let normal = Normal::new(mu, sigma).ok()?;
    let ks = logs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let f = normal.cdf(*l);
            ((i + 1) as f64 / nf - f).max(f - i as f64 / nf)
        })
        .fold(0.0, f64::max);
    Some(LognormalFit {
        mu,
        sigma,
        mean,
        sd,
        n,
        mu_ci95: (mu - half, mu + half),
        sigma_ci95,
        ks,
        ks_p: ks_p_value(ks, n),
    })
}

/// Asymptotic p-value of a one-sample KS statistic `d` on `n` samples:
/// `Q((sqrt(n) + 0.12 + 0.11/sqrt(n)) d)` with `Q(l) = 2 sum (-1)^(k-1) exp(-2 k^2 l^2)`.
pub fn ks_p_value(d: f64, n: usize) -> f64 {
    let sn = (n as f64).sqrt();
    let lambda = (sn + 0.12 + 0.11 / sn) * d;
    if lambda < 0.2 {
        // The series converges slowly here and Q is 1 to double precision.
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let kf = k as f64;
        let term = (-2.0 * kf * kf * lambda * lambda).exp();
        sum += if k % 2 == 1 { term } else { -term };
        if term < 1e-16 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// The empirical alternative: the sample's quantiles at 0, 0.01, ..., 1 (101 values, linear
/// interpolation between order statistics, Hyndman & Fan's type 7, the default of R and numpy).
/// Non-finite samples are ignored; empty when none is left.
pub fn empirical_quantiles(samples: &[f64]) -> Vec<f64> {
    let mut xs: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if xs.is_empty() {
        return Vec::new();
    }
    xs.sort_by(f64::total_cmp);
    let last = (xs.len() - 1) as f64;
    (0..=100)
        .map(|q| {
            let h = last * q as f64 / 100.0;
            let lo = h.floor() as usize;
            let hi = h.ceil() as usize;
            xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
        })
        .collect()
}

/// A fitted quantity: the log-normal fit and, for when its KS test rejects, the quantiles.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// The log-normal fit.
    pub lognormal: LognormalFit,
    /// Quantiles at 0, 0.01, ..., 1 ([`empirical_quantiles`]).
    pub quantiles: Vec<f64>,
}

impl Fit {
    /// Fits `samples`; `None` as for [`fit_lognormal`].
    pub fn of(samples: &[f64]) -> Option<Fit> {
        Some(Fit {
            lognormal: fit_lognormal(samples)?,
            quantiles: empirical_quantiles(samples),
        })
    }

    /// Whether the KS test rejects the log-normal at 1% ([`KS_REJECT_P`]).
    pub fn lognormal_rejected(&self) -> bool {
        self.lognormal.ks_p < KS_REJECT_P
    }
}

/// A proportion `k / n` with its Wilson 95% interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Proportion {
    pub k: usize,
    pub n: usize,
    /// `k / n` (0 when `n = 0`).
    pub p: f64,
    pub ci95: (f64, f64),
}

/// `k / n` with its Wilson score 95% interval (`(0, 1)` when `n = 0`).
pub fn wilson95(k: usize, n: usize) -> Proportion {
    if n == 0 {
        return Proportion {
            k,
            n,
            p: 0.0,
            ci95: (0.0, 1.0),
        };
    }
    let nf = n as f64;
    let p = k as f64 / nf;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = Z95 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    Proportion {
        k,
        n,
        p,
        ci95: ((centre - half).max(0.0), (centre + half).min(1.0)),
    }
}

/// How a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Refused by a rate limit (HTTP 429).
    RateLimited,
    /// Any other failure; holds the `error.type` as recorded.
    Other(String),
}

impl ErrorKind {
    /// Classifies an OpenTelemetry `error.type` value: `429` and the providers' rate-limit names
    /// (`rate_limit_exceeded` (OpenAI), `rate_limit_error` (Anthropic), `too_many_requests`,
    /// `RateLimitError` (the Python SDKs' exception)) are [`ErrorKind::RateLimited`], anything
    /// else [`ErrorKind::Other`].
    pub fn from_error_type(error_type: &str) -> ErrorKind {
        let t = error_type.trim();
        let lower = t.to_ascii_lowercase();
        if t == "429"
            || lower.contains("rate_limit")
            || lower.contains("ratelimit")
            || lower.contains("too_many_requests")
            || lower.contains("toomanyrequests")
        {
            ErrorKind::RateLimited
        } else {
            ErrorKind::Other(t.to_string())
        }
    }
}

/// One measured call (one inference span), as much as calibration needs.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The model requested (`gen_ai.request.model`).
    pub model: String,
    /// End minus start, in seconds.
    pub duration_s: f64,
    /// Time to first token (`gen_ai.response.time_to_first_chunk`), when recorded.
    pub ttft_s: Option<f64>,
    /// Output tokens (`gen_ai.usage.output_tokens`; 0 when absent).
    pub output_tokens: u32,
    /// The failure, if the call failed (`error.type`).
    pub error: Option<ErrorKind>,
}

impl CallRecord {
    /// The call's decode speed in tokens/s, `output_tokens / (duration - ttft)`, when it
    /// succeeded, recorded its ttft, produced at least [`MIN_DECODE_TOKENS`] and
    /// `duration > ttft`.
    pub fn decode_tokens_per_s(&self) -> Option<f64> {
        let ttft = self.ttft_s?;
        let decode = self.duration_s - ttft;
        (self.error.is_none()
            && self.output_tokens >= MIN_DECODE_TOKENS
            && decode > 0.0
            && decode.is_finite())
        .then(|| self.output_tokens as f64 / decode)
    }
}

/// What the calls of one model say about its provider.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub model: String,
    /// Calls recorded, failed ones included.
    pub calls: usize,
    /// Time to first token of the successful calls that recorded one (seconds).
    pub ttft: Option<Fit>,
    /// Decode speed (tokens/s) of the calls [`CallRecord::decode_tokens_per_s`] accepts.
    pub decode_tokens_per_s: Option<Fit>,
    /// Failures other than 429s over the calls not refused with a 429: the provider draws
    /// `error_rate` once per admitted attempt (`start_service` in `src/model/provider.rs`), and a
    /// refused call was never admitted.
    pub error_rate: Proportion,
    /// 429s over all calls.
    pub rate_limited_rate: Proportion,
}

/// Calibrates every model in `records`, in model-name order.
pub fn calibrate(records: &[CallRecord]) -> Vec<Calibration> {
    let mut by_model: BTreeMap<&str, Vec<&CallRecord>> = BTreeMap::new();
    for r in records {
        by_model.entry(&r.model).or_default().push(r);
    }
    by_model
        .into_iter()
        .map(|(model, calls)| calibrate_model(model, &calls))
        .collect()
}

fn calibrate_model(model: &str, calls: &[&CallRecord]) -> Calibration {
    let ttfts: Vec<f64> = calls
        .iter()
        .filter(|c| c.error.is_none())
        .filter_map(|c| c.ttft_s)
        .collect();
    let speeds: Vec<f64> = calls
        .iter()
        .filter_map(|c| c.decode_tokens_per_s())
        .collect();
    let limited = calls
        .iter()
        .filter(|c| c.error == Some(ErrorKind::RateLimited))
        .count();
    let other = calls
        .iter()
        .filter(|c| matches!(c.error, Some(ErrorKind::Other(_))))
        .count();
    Calibration {
        model: model.to_string(),
        calls: calls.len(),
        ttft: Fit::of(&ttfts),
        decode_tokens_per_s: Fit::of(&speeds),
        error_rate: wilson95(other, calls.len() - limited),
        rate_limited_rate: wilson95(limited, calls.len()),
    }
}

/// A provider name the scenario format accepts (letters, digits, `_ - .`): others become `-`.
pub(crate) fn provider_name(model: &str) -> String {
    let name: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "model".into()
    } else {
        name
    }
}

fn fit_comment(out: &mut String, what: &str, unit: &str, f: &Fit) {
    let l = &f.lognormal;
    let _ = writeln!(
        out,
        "# {what}: n = {}, lognormal mu = {:.4} (95% CI {:.4} to {:.4}), sigma = {:.4} (95% CI {:.4} to {:.4}); mean {:.4}{unit}, sd {:.4}{unit}",
        l.n, l.mu, l.mu_ci95.0, l.mu_ci95.1, l.sigma, l.sigma_ci95.0, l.sigma_ci95.1, l.mean, l.sd
    );
    let verdict = if f.lognormal_rejected() {
        "rejected at 1%: the empirical quantiles are written instead"
    } else {
        "not rejected at 1%"
    };
    let _ = writeln!(out, "#   KS D = {:.4}, p = {:.3} ({verdict})", l.ks, l.ks_p);
}

/// `[[provider]]` text for `c`, ready to paste into a scenario: `ttft` and `decode_rate` as
/// log-normals (or, when the KS test rejects the log-normal at 1%, as empirical distributions
/// over the 101 quantiles), `error_rate` as the non-429 failure share of the calls not refused
/// with a 429 (the provider's rate is per admitted attempt), and comments giving the
/// sample sizes, intervals and KS figures. 429s are not a provider parameter (the simulator makes
/// them from `[[provider.limit]]`), so their share is a comment. Limits and prices are left to
/// the user.
pub fn to_provider_toml(c: &Calibration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Calibrated by stampede::calibrate from {} calls of model \"{}\".",
        c.calls, c.model
    );
    let _ = writeln!(out, "[[provider]]");
    let _ = writeln!(out, "name = \"{}\"", provider_name(&c.model));
    match &c.ttft {
        Some(f) => {
            fit_comment(&mut out, "ttft (s)", "s", f);
            dist_line(&mut out, "ttft", f, |v| format!("\"{v:.6}s\""));
        }
        None => {
            let _ = writeln!(
                out,
                "# ttft: fewer than 3 successful calls recorded a time to first token; set it by hand"
            );
            let _ = writeln!(out, "ttft = \"1s\"");
        }
    }
    match &c.decode_tokens_per_s {
        Some(f) => {
            fit_comment(&mut out, "decode speed (tokens/s)", "", f);
            dist_line(&mut out, "decode_rate", f, |v| format!("{v:.4}"));
        }
        None => {
            let _ = writeln!(
                out,
                "# decode speed: fewer than 3 calls with >= {MIN_DECODE_TOKENS} output tokens; decode_rate left at its default (100 tokens/s)"
            );
        }
    }
    let e = &c.error_rate;
    let _ = writeln!(
        out,
        "# errors other than 429: {} of {} calls not refused with a 429 (error_rate is per admitted attempt), Wilson 95% CI {:.5} to {:.5}",
        e.k, e.n, e.ci95.0, e.ci95.1
    );
    let _ = writeln!(out, "error_rate = {:.6}", e.p);
    let r = &c.rate_limited_rate;
    let _ = writeln!(
        out,
        "# 429s: {} of {} calls ({:.5}, Wilson 95% CI {:.5} to {:.5}); the simulator produces these from [[provider.limit]]",
        r.k, r.n, r.p, r.ci95.0, r.ci95.1
    );
    out
}

/// Writes `key = { dist = ... }` for fit `f`: the log-normal, or the empirical quantiles when the
/// KS test rejects it; `value` writes one number in the field's unit.
fn dist_line(out: &mut String, key: &str, f: &Fit, value: impl Fn(f64) -> String) {
    let _ = if f.lognormal_rejected() {
        let values: Vec<String> = f.quantiles.iter().map(|&q| value(q)).collect();
        writeln!(
            out,
            "{key} = {{ dist = \"empirical\", values = [{}] }}",
            values.join(", ")
        )
    } else {
        writeln!(
            out,
            "{key} = {{ dist = \"lognormal\", mean = {}, sd = {} }}",
            value(f.lognormal.mean),
            value(f.lognormal.sd)
        )
    };
}

/// The calls of a trace's inference spans (`chat`, `text_completion`, `generate_content`), as
/// [`calibrate`] takes them: duration from start to end, time to first chunk, output tokens,
/// and `error.type` (or an error status) as the error. Spans without a model are left out.
pub fn from_spans(spans: &[crate::scenario::otel::Span]) -> Vec<CallRecord> {
    spans
        .iter()
        .filter(|s| s.operation.is_inference())
        .filter_map(|s| {
            Some(CallRecord {
                model: s.model.as_deref()?.to_string(),
                duration_s: s.end_ns.saturating_sub(s.start_ns) as f64 / 1e9,
                ttft_s: s.ttft_s,
                output_tokens: s.output_tokens.unwrap_or(0),
                error: match (&s.error_type, s.status_error) {
                    (Some(t), _) => Some(ErrorKind::from_error_type(t)),
                    (None, true) => Some(ErrorKind::Other("error".into())),
                    (None, false) => None,
                },
            })
        })
        .collect()
}

/// `stampede calibrate TRACE`: one `[[provider]]` section per model of the trace at `path`, ready
/// to paste, each with its fit quality in comments.
pub fn calibrate_trace(path: &std::path::Path) -> Result<String, String> {
    let spans =
        crate::scenario::otel::read_spans(path, &Default::default()).map_err(|e| e.to_string())?;
    let records = from_spans(&spans);
    if records.is_empty() {
        return Err(format!(
            "{}: no inference span with a gen_ai.request.model (gen_ai.operation.name chat, text_completion or generate_content) to calibrate from",
            path.display()
        ));
    }
    let mut out = format!(
        "# Calibrated from {} ({} inference spans; OpenTelemetry GenAI conventions {}).\n",
        path.display(),
        records.len(),
        crate::scenario::otel::SEMCONV_VERSION
    );
    for c in calibrate(&records) {
        out.push('\n');
        out.push_str(&to_provider_toml(&c));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{purpose, stream, unit};

    /// `n` draws of a log-normal(mu, sigma) by Box-Muller on the seeded stream.
    fn lognormal_draws(seed: u64, mu: f64, sigma: f64, n: usize) -> Vec<f64> {
        let mut r = stream(seed, purpose("calibrate-test"), &[]);
        (0..n)
            .map(|_| {
                let u1 = 1.0 - unit(&mut r);
                let u2 = unit(&mut r);
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (mu + sigma * z).exp()
            })
            .collect()
    }

    const MU: f64 = -0.3;
    const SIGMA: f64 = 0.6;

    fn contains((lo, hi): (f64, f64), x: f64) -> bool {
        lo <= x && x <= hi
    }

    #[test]
    fn the_fit_recovers_known_parameters() {
        let xs = lognormal_draws(1, MU, SIGMA, 2000);
        let f = fit_lognormal(&xs).unwrap();
        assert_eq!(f.n, 2000);
        assert!(contains(f.mu_ci95, MU), "{f:?}");
        assert!(contains(f.sigma_ci95, SIGMA), "{f:?}");
        // mu half-width ~ 1.96 * 0.6 / sqrt(2000) = 0.026.
        assert!(
            (f.mu_ci95.1 - f.mu_ci95.0 - 2.0 * 0.0263).abs() < 0.003,
            "{f:?}"
        );
        let true_mean = (MU + SIGMA * SIGMA / 2.0).exp();
        assert!((f.mean / true_mean - 1.0).abs() < 0.05, "{f:?}");
        assert!(f.ks_p > KS_REJECT_P, "{f:?}");
    }

    #[test]
    fn the_95_percent_intervals_cover_the_truth_95_percent_of_the_time() {
        let seeds = 200;
        let (mut mu_in, mut sigma_in) = (0, 0);
        for seed in 0..seeds {
            let f = fit_lognormal(&lognormal_draws(1000 + seed, MU, SIGMA, 2000)).unwrap();
            mu_in += contains(f.mu_ci95, MU) as usize;
            sigma_in += contains(f.sigma_ci95, SIGMA) as usize;
        }
        let (mu_cov, sigma_cov) = (mu_in as f64 / seeds as f64, sigma_in as f64 / seeds as f64);
        eprintln!("coverage over {seeds} seeds: mu {mu_cov}, sigma {sigma_cov}");
        assert!((0.90..=0.99).contains(&mu_cov), "mu coverage {mu_cov}");
        assert!(
            (0.90..=0.99).contains(&sigma_cov),
            "sigma coverage {sigma_cov}"
        );
    }

    #[test]
    fn ks_rejects_a_uniform_sample() {
        let mut r = stream(2, purpose("calibrate-uniform"), &[]);
        let xs: Vec<f64> = (0..2000).map(|_| 1.0 + unit(&mut r)).collect();
        let f = Fit::of(&xs).unwrap();
        assert!(f.lognormal_rejected(), "{:?}", f.lognormal);
        assert!(f.lognormal.ks_p < 1e-6, "{:?}", f.lognormal);
    }

    #[test]
    fn ks_p_values_match_the_kolmogorov_distribution() {
        // Q(1.358) = 0.05 and Q(1.628) = 0.01 are the classical critical values; for large n the
        // correction vanishes, so D = lambda / sqrt(n).
        let n = 1_000_000;
        let s = (n as f64).sqrt();
        assert!((ks_p_value(1.3581 / s, n) - 0.05).abs() < 1e-3);
        assert!((ks_p_value(1.6276 / s, n) - 0.01).abs() < 1e-3);
        assert_eq!(ks_p_value(0.0, n), 1.0);
    }

    #[test]
    fn wilson_matches_a_hand_computed_interval() {
        // k = 5, n = 100: p = 0.05, z^2/n = 0.0384146, denominator 1.0384146,
        // centre (0.05 + 0.0192073) / 1.0384146 = 0.0666468,
        // half 1.959964 * sqrt(0.000475 + 0.0000960365) / 1.0384146 = 0.0451030:
        // [0.021544, 0.111750] (Newcombe 1998, Table I, gives 0.0215 to 0.1118).
        let w = wilson95(5, 100);
        assert_eq!(w.p, 0.05);
        assert!((w.ci95.0 - 0.021544).abs() < 2e-6, "{w:?}");
        assert!((w.ci95.1 - 0.111750).abs() < 2e-6, "{w:?}");
        let z = wilson95(0, 50);
        assert!(z.ci95.0.abs() < 1e-15, "{z:?}");
        // Upper end at k = 0: z^2 / (n + z^2) = 3.841459 / 53.841459.
        assert!((z.ci95.1 - 3.841459 / 53.841459).abs() < 1e-6, "{z:?}");
    }

    #[test]
    fn empirical_quantiles_interpolate() {
        let q = empirical_quantiles(&[3.0, 1.0, 2.0, 5.0, 4.0]);
        assert_eq!(q.len(), 101);
        assert_eq!(q[0], 1.0);
        assert_eq!(q[50], 3.0);
        assert_eq!(q[100], 5.0);
        assert!((q[10] - 1.4).abs() < 1e-12);
    }

    fn rec(model: &str, d: f64, ttft: Option<f64>, out: u32, err: Option<&str>) -> CallRecord {
        CallRecord {
            model: model.into(),
            duration_s: d,
            ttft_s: ttft,
            output_tokens: out,
            error: err.map(ErrorKind::from_error_type),
        }
    }

    #[test]
    fn decode_speed_is_derived_from_duration_and_ttft() {
        // 200 tokens over 3.0 - 1.0 = 2 s: 100 tokens/s.
        assert_eq!(
            rec("m", 3.0, Some(1.0), 200, None).decode_tokens_per_s(),
            Some(100.0)
        );
        // Too few tokens, no ttft, duration not past ttft, failed: no speed.
        assert_eq!(
            rec("m", 3.0, Some(1.0), 15, None).decode_tokens_per_s(),
            None
        );
        assert_eq!(rec("m", 3.0, None, 200, None).decode_tokens_per_s(), None);
        assert_eq!(
            rec("m", 1.0, Some(1.0), 200, None).decode_tokens_per_s(),
            None
        );
        assert_eq!(
            rec("m", 3.0, Some(1.0), 200, Some("500")).decode_tokens_per_s(),
            None
        );
        let records = vec![
            rec("a", 3.0, Some(1.0), 200, None),  // 100 tok/s
            rec("a", 2.5, Some(0.5), 100, None),  // 50 tok/s
            rec("a", 1.25, Some(0.25), 25, None), // 25 tok/s
            rec("a", 1.0, Some(0.5), 8, None),    // too few tokens: ttft only
            rec("a", 0.1, None, 0, Some("429")),
            rec("a", 0.1, None, 0, Some("rate_limit_exceeded")),
            rec("a", 2.0, Some(1.0), 0, Some("500")),
            rec("b", 1.0, Some(0.2), 0, None),
        ];
        let cals = calibrate(&records);
        assert_eq!(cals.len(), 2);
        let a = &cals[0];
        assert_eq!((a.model.as_str(), a.calls), ("a", 7));
        let d = a.decode_tokens_per_s.as_ref().unwrap();
        assert_eq!(d.lognormal.n, 3);
        let mu = (100f64.ln() + 50f64.ln() + 25f64.ln()) / 3.0;
        assert!((d.lognormal.mu - mu).abs() < 1e-12);
        assert_eq!(d.quantiles[0], 25.0);
        assert_eq!(a.ttft.as_ref().unwrap().lognormal.n, 4);
        // The 500 over the 5 calls not refused with a 429 (7 calls, 2 of them 429s).
        assert_eq!((a.error_rate.k, a.error_rate.n), (1, 5));
        assert_eq!((a.rate_limited_rate.k, a.rate_limited_rate.n), (2, 7));
        assert_eq!(a.rate_limited_rate.k, 2);
        assert!(cals[1].ttft.is_none() && cals[1].decode_tokens_per_s.is_none());
    }

    #[test]
    fn error_types_are_classified() {
        for t in [
            "429",
            "rate_limit_exceeded",
            "rate_limit_error",
            "RateLimitError",
        ] {
            assert_eq!(ErrorKind::from_error_type(t), ErrorKind::RateLimited, "{t}");
        }
        assert_eq!(
            ErrorKind::from_error_type("500"),
            ErrorKind::Other("500".into())
        );
    }

    fn embed(section: &str) -> String {
        format!(
            "[scenario]\nname = \"calibrated\"\n\n{section}\n[[source]]\nname = \"s\"\narrival = {{ process = \"poisson\", rate = 1, count = 10 }}\n\n[source.job]\nprompt_tokens = 100\nmax_tokens = 100\noutput_tokens = 50\n\n[[policy]]\nname = \"p\"\n"
        )
    }

    #[test]
    fn the_provider_section_parses_in_a_scenario() {
        let good = lognormal_draws(3, MU, SIGMA, 500);
        let speeds = lognormal_draws(4, 4.0, 0.3, 500);
        let mut records: Vec<CallRecord> = good
            .iter()
            .zip(&speeds)
            .map(|(t, s)| rec("claude sonnet/4", t + 200.0 / s, Some(*t), 200, None))
            .collect();
        records.push(rec("claude sonnet/4", 0.1, None, 0, Some("429")));
        records.push(rec(
            "claude sonnet/4",
            1.0,
            Some(0.5),
            0,
            Some("overloaded_error"),
        ));
        let cal = &calibrate(&records)[0];
        let text = to_provider_toml(cal);
        assert!(text.contains("dist = \"lognormal\""), "{text}");
        let s = crate::scenario::parse(&embed(&text), "calibrated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(s.providers.len(), 1);
        assert_eq!(s.providers[0].name, "claude-sonnet-4");

        // A uniform ttft is rejected and written as empirical quantiles; a model with no
        // usable calls still gives a section that parses.
        let mut r = stream(5, purpose("calibrate-uniform"), &[]);
        let records: Vec<CallRecord> = (0..2000)
            .map(|_| {
                let t = 0.5 + unit(&mut r);
                rec("u", t + 1.0, Some(t), 100, None)
            })
            .collect();
        let cal = &calibrate(&records)[0];
        assert!(cal.ttft.as_ref().unwrap().lognormal_rejected());
        let text = to_provider_toml(cal);
        assert!(text.contains("ttft = { dist = \"empirical\""), "{text}");
        crate::scenario::parse(&embed(&text), "u.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let empty = &calibrate(&[rec("e", 0.1, None, 0, Some("429"))])[0];
        let text = to_provider_toml(empty);
        crate::scenario::parse(&embed(&text), "e.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}
