//! Retry layers: how long to wait before trying a failed request again.
//!
//! Task: given how many attempts a layer has made, the previous wait and one uniform draw, give
//! the next wait, exactly as the libraries users run would.
//!
//! Real stacks retry in layers: an application's tenacity decorator wraps an SDK that retries on
//! its own (the OpenAI and Anthropic Python SDKs retry twice by default), so five tenacity attempts
//! can be fifteen requests. A policy holds its layers innermost first; when an attempt fails, the
//! innermost layer with attempts left retries, and every layer inside it starts afresh.

use crate::engine::time::secs_to_nanos;

/// The base wait before jitter, after `n` failed attempts of a layer (`n >= 1`).
#[derive(Clone, Debug, PartialEq)]
pub enum Backoff {
    /// Retry at once.
    None,
    /// tenacity `wait_fixed(wait)`: `wait`.
    Fixed { wait_s: f64 },
    /// tenacity `wait_exponential(multiplier, max, exp_base, min)` and the AWS Architecture Blog's
    /// "Exponential Backoff And Jitter" (Brooker, 2015) capped exponential:
    /// `max(min, min(max, multiplier * exp_base^(n-1)))`.
    Exponential {
        multiplier_s: f64,
        max_s: f64,
        min_s: f64,
        exp_base: f64,
    },
}

/// Randomisation applied to the base wait `b`, with `u` uniform on `[0, 1)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Jitter {
    /// `b`: every client retries in lockstep.
    None,
    /// AWS "Full Jitter": `u * b`. With exponential backoff this is tenacity's
    /// `wait_random_exponential(multiplier, max)`.
    Full,
    /// AWS "Equal Jitter": `b/2 + u * b/2`.
    Equal,
    /// AWS "Decorrelated Jitter": `min(max, multiplier + u * (3 * previous - multiplier))`, with
    /// `previous = multiplier` before the first retry. Needs exponential backoff for its bounds.
    Decorrelated,
    /// The OpenAI/Anthropic Python SDKs' `b * (1 - fraction * u)` (fraction 0.25 there).
    Proportional { fraction: f64 },
    /// tenacity `wait_exponential_jitter(initial, max, exp_base, jitter)`:
    /// `min(max, b + u * jitter)`, with `b = initial * exp_base^(n-1)` (the exponential base
    /// wait, `min` 0): the jitter is added, not multiplied, and the sum is capped.
    Additive { jitter_s: f64, max_s: f64 },
}

/// Why an attempt failed, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 429: a rate limit refused it.
    RateLimited,
    /// 5xx or 529: the server failed or is overloaded.
    ServerError,
    /// The client gave up waiting (a per-attempt timeout).
    Timeout,
}

/// Which failures a layer retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryOn {
    /// Retry 429s.
    pub rate_limited: bool,
    /// Retry 5xx and 529.
    pub server_error: bool,
    /// Retry timed-out attempts.
    pub timeout: bool,
}

impl RetryOn {
    /// Every retryable failure: what the SDKs and tenacity's default `retry_if_exception_type()` do.
    pub const ALL: RetryOn = RetryOn {
        rate_limited: true,
        server_error: true,
        timeout: true,
    };

    /// Whether `failure` is retried.
    #[inline]
    pub fn covers(self, failure: Failure) -> bool {
        match failure {
            Failure::RateLimited => self.rate_limited,
            Failure::ServerError => self.server_error,
            Failure::Timeout => self.timeout,
        }
    }
}

/// One layer of retries.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryLayer {
    /// Where the layer comes from, for messages: `retry` or `sdk`.
    pub name: &'static str,
    /// Attempts this layer makes in all, the first included (tenacity `stop_after_attempt`).
    pub max_attempts: u32,
    /// Base wait.
    pub backoff: Backoff,
    /// Randomisation of the base wait.
    pub jitter: Jitter,
    /// Honour a `retry_after` hint up to this many seconds; longer hints fall back to the backoff.
    /// The SDKs honour hints of up to 60 s; tenacity ignores them.
    pub retry_after_max_s: Option<f64>,
    /// Failures this layer retries; others pass to the layer outside it.
    pub retry_on: RetryOn,
    /// Whether this layer's retries pass through the client's own admission (a shared bucket).
    /// The application's layer wraps the bucket; the SDK's retries happen beneath it.
    pub through_admission: bool,
}

impl RetryLayer {
    /// The wait in nanoseconds after this layer's `failed`-th failed attempt (`failed >= 1`).
    /// `previous_s` is this layer's previous wait (for decorrelated jitter), `u` a uniform draw.
    pub fn wait_nanos(
        &self,
        failed: u32,
        previous_s: Option<f64>,
        retry_after_s: Option<f64>,
        u: f64,
    ) -> u64 {
        secs_to_nanos(self.wait_secs(failed, previous_s, retry_after_s, u))
    }

    /// [`RetryLayer::wait_nanos`] in seconds.
    pub fn wait_secs(
        &self,
        failed: u32,
        previous_s: Option<f64>,
        retry_after_s: Option<f64>,
        u: f64,
    ) -> f64 {
        if let (Some(max), Some(hint)) = (self.retry_after_max_s, retry_after_s)
            && hint > 0.0
            && hint <= max
        {
            return hint;
        }
        let base = match &self.backoff {
            Backoff::None => 0.0,
            Backoff::Fixed { wait_s } => *wait_s,
            Backoff::Exponential {
                multiplier_s,
                max_s,
                min_s,
                exp_base,
            } => {
                let exponent = failed.saturating_sub(1).min(1_000) as i32;
                (multiplier_s * exp_base.powi(exponent))
                    .min(*max_s)
                    .max(*min_s)
            }
        };
        match &self.jitter {
            Jitter::None => base,
            Jitter::Full => u * base,
            Jitter::Equal => base / 2.0 + u * base / 2.0,
            Jitter::Proportional { fraction } => base * (1.0 - fraction * u),
            Jitter::Additive { jitter_s, max_s } => (base + u * jitter_s).min(*max_s),
            Jitter::Decorrelated => match &self.backoff {
                Backoff::Exponential {
                    multiplier_s,
                    max_s,
                    ..
                } => {
                    let previous = previous_s.unwrap_or(*multiplier_s);
                    (multiplier_s + u * (3.0 * previous - multiplier_s)).min(*max_s)
                }
                _ => base,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(backoff: Backoff, jitter: Jitter) -> RetryLayer {
        RetryLayer {
            name: "retry",
            max_attempts: 5,
            backoff,
            jitter,
            retry_after_max_s: None,
            retry_on: RetryOn::ALL,
            through_admission: true,
        }
    }

    fn exp(multiplier_s: f64, max_s: f64) -> Backoff {
        Backoff::Exponential {
            multiplier_s,
            max_s,
            min_s: 0.0,
            exp_base: 2.0,
        }
    }

    #[test]
    fn wait_fixed_waits_the_same_every_time() {
        let l = layer(Backoff::Fixed { wait_s: 1.0 }, Jitter::None);
        let waits: Vec<f64> = (1..=4).map(|n| l.wait_secs(n, None, None, 0.9)).collect();
        assert_eq!(waits, vec![1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        // tenacity wait_exponential(multiplier=2, max=20): 2, 4, 8, 16, 20, 20.
        let l = layer(exp(2.0, 20.0), Jitter::None);
        let waits: Vec<f64> = (1..=6).map(|n| l.wait_secs(n, None, None, 0.0)).collect();
        assert_eq!(waits, vec![2.0, 4.0, 8.0, 16.0, 20.0, 20.0]);
    }

    #[test]
    fn random_exponential_is_full_jitter_under_the_exponential_ceiling() {
        // tenacity wait_random_exponential(multiplier=2, max=60): uniform(0, min(2 * 2^(n-1), 60)).
        let l = layer(exp(2.0, 60.0), Jitter::Full);
        assert_eq!(l.wait_secs(1, None, None, 0.5), 1.0);
        assert_eq!(l.wait_secs(3, None, None, 0.25), 2.0);
        assert_eq!(l.wait_secs(10, None, None, 0.5), 30.0);
        assert_eq!(l.wait_secs(10, None, None, 0.0), 0.0);
    }

    #[test]
    fn equal_jitter_keeps_half_the_base() {
        let l = layer(exp(1.0, 100.0), Jitter::Equal);
        // base after 3 failures: 4 s; equal jitter: 2 + u * 2.
        assert_eq!(l.wait_secs(3, None, None, 0.0), 2.0);
        assert_eq!(l.wait_secs(3, None, None, 0.5), 3.0);
    }

    #[test]
    fn decorrelated_jitter_grows_from_the_previous_wait() {
        // AWS: sleep = min(cap, random_between(base, sleep * 3)), sleep starting at base.
        let l = layer(exp(1.0, 10.0), Jitter::Decorrelated);
        let first = l.wait_secs(1, None, None, 0.5); // 1 + 0.5 * (3 - 1) = 2
        assert_eq!(first, 2.0);
        let second = l.wait_secs(2, Some(first), None, 0.5); // 1 + 0.5 * (6 - 1) = 3.5
        assert_eq!(second, 3.5);
        let capped = l.wait_secs(3, Some(9.0), None, 0.9); // 1 + 0.9 * 26 = 24.4 -> cap 10
        assert_eq!(capped, 10.0);
    }

    #[test]
    fn sdk_layer_matches_the_openai_python_client() {
        // openai-python _calculate_retry_timeout: min(0.5 * 2^retries, 8) * (1 - 0.25 * random()).
        let mut l = layer(exp(0.5, 8.0), Jitter::Proportional { fraction: 0.25 });
        l.retry_after_max_s = Some(60.0);
        assert_eq!(l.wait_secs(1, None, None, 0.0), 0.5);
        assert_eq!(l.wait_secs(2, None, None, 1.0), 0.75);
        assert_eq!(l.wait_secs(6, None, None, 0.0), 8.0);
        // A hint of 0 < retry_after <= 60 s is obeyed as is; a longer one falls back to backoff.
        assert_eq!(l.wait_secs(1, None, Some(3.0), 0.0), 3.0);
        assert_eq!(l.wait_secs(1, None, Some(61.0), 0.0), 0.5);
    }

    #[test]
    fn waits_convert_to_whole_nanoseconds() {
        let l = layer(Backoff::Fixed { wait_s: 0.25 }, Jitter::None);
        assert_eq!(l.wait_nanos(1, None, None, 0.0), 250_000_000);
    }

    #[test]
    fn tenacity_exponential_jitter_adds_up_to_jitter_seconds_and_caps_the_sum() {
        // wait_exponential_jitter(initial=1, max=5, exp_base=2, jitter=1)
        let l = layer(
            exp(1.0, 5.0),
            Jitter::Additive {
                jitter_s: 1.0,
                max_s: 5.0,
            },
        );
        let w = |n: u32, u: f64| l.wait_secs(n, None, None, u);
        assert_eq!(w(1, 0.0), 1.0);
        assert_eq!(w(1, 0.5), 1.5);
        assert_eq!(w(2, 0.25), 2.25);
        assert_eq!(w(3, 0.75), 4.75);
        // 8 s + jitter capped at 5 s, and 4 s + 0.9 s just under it.
        assert_eq!(w(4, 0.1), 5.0);
        assert_eq!(w(3, 0.9), 4.9);
    }
}
