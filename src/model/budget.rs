//! Retry budgets: limits on retrying that a whole client shares.
//!
//! Task: stop a client from multiplying load when the server is failing. Per-call retry limits
//! cannot: with many calls failing at once, every call's first retries still go out. A budget
//! looks at all the client's recent traffic and refuses retries when too many would go out.
//!
//! Four budgets from real stacks, each as its source implements it:
//!
//! - gRPC retry throttling: a token count that failures drain and successes refill.
//! - Finagle's `RetryBudget`: retries may be a fraction of the requests of the last `ttl`, plus a
//!   reserve.
//! - Envoy's cluster retry budget: retries in flight may be a fraction of the requests in flight,
//!   but never fewer than a minimum.
//! - The AWS SDKs' standard-mode retry quota: a bucket that retries pay into and successes refund.
//!
//! The world tells the budget what happens: [`RetryBudget::on_request`] when a call's first
//! attempt is sent, [`RetryBudget::on_failure`] and [`RetryBudget::on_success`] when an attempt
//! ends, and [`RetryBudget::try_retry`] when it wants to retry, which answers and, on yes, records
//! the retry. Everything is integer time and plain arithmetic, so a run is reproducible.

use super::retry::Failure;
use crate::engine::time::{NANOS_PER_SEC, SimTime};
use std::collections::VecDeque;

/// Finagle's `TokenRetryBudget.ScaleFactor`: deposits and withdrawals are whole tokens scaled by
/// this, so that `percent_can_retry` need not be a whole fraction.
const FINAGLE_SCALE: i64 = 1000;

/// A configured budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BudgetSpec {
    /// gRPC retry throttling (gRFC A6, "gRPC Retry Design", section "Throttling Retry Attempts
    /// and Hedged RPCs"; the service config's `retryThrottling`): a token count starting at
    /// `max_tokens`; each failed attempt takes 1, each success gives back `token_ratio` (capped at
    /// `max_tokens`); retries are allowed only while `tokens > max_tokens / 2`.
    Grpc { max_tokens: f64, token_ratio: f64 },

    /// Finagle's `RetryBudget(ttl, minRetriesPerSec, percentCanRetry)`
    /// (`com.twitter.finagle.service.RetryBudget.apply`, built on `TokenRetryBudget` and
    /// `com.twitter.util.TokenBucket.newLeakyBucket`).
    ///
    /// Every request (a call's first attempt: Finagle's `RetryFilter` deposits once per request)
    /// deposits `D = 1000` units, and every retry withdraws `W = trunc(1000 / percent_can_retry)`
    /// units; both expire `ttl` after they were made. A bucket holds their sum over the last `ttl`
    /// plus a constant reserve `R = min_retries_per_sec * whole_seconds(ttl) * W`, and a retry is
    /// allowed when the bucket holds at least `W`:
    ///
    /// ```text
    /// D * requests(last ttl) - W * retries(last ttl) + R >= W
    /// ```
    ///
    /// which is, up to the truncation of `W`, Finagle's documented rule: the retries of the last
    /// `ttl`, this one included, may be at most
    /// `percent_can_retry * requests(last ttl) + min_retries_per_sec * ttl`.
    ///
    /// As in Finagle, `percent_can_retry` is a fraction (0.2 lets one request in five be
    /// retried; 2.0 lets each be retried twice); when it is 0 deposits are 0 and `W = 1`, so
    /// only the reserve allows retries, and with both parameters 0 nothing is ever retried
    /// (Finagle's `RetryBudget.Empty`). Finagle requires 1 s <= `ttl` <= 60 s,
    /// `min_retries_per_sec >= 0` (an integer there) and 0 <= `percent_can_retry` <= 1000, and
    /// scales the reserve by `ttl.inSeconds`, the whole seconds of `ttl`; both are kept here.
    /// Finagle's default is `RetryBudget()`: ttl 10 s, 10 retries a second, 0.2
    /// ([`BudgetSpec::FINAGLE_DEFAULT`]).
    ///
    /// One idealisation: Finagle's `WindowedAdder` keeps the window as ten slices of `ttl / 10`
    /// whose boundaries move with the calls, so an entry expires somewhere between about 0.9
    /// `ttl` and `ttl` after it was made ("approximately `ttl`", as Finagle's doc says); here
    /// every entry expires exactly `ttl` after it was made.
    Finagle {
        ttl_ns: u64,
        min_retries_per_sec: f64,
        percent_can_retry: f64,
    },

    /// Envoy's cluster retry budget (`envoy.config.cluster.v3.CircuitBreakers.Thresholds.
    /// RetryBudget`; `ResourceManagerImpl::RetryBudgetImpl` in
    /// `source/common/upstream/resource_manager_impl.h`): the retries that may be active at once
    /// are
    ///
    /// ```text
    /// max_retries = max(trunc(budget_percent / 100 * active_requests), min_retry_concurrency)
    /// ```
    ///
    /// and a retry is allowed when `active_retries < max_retries` (Envoy's `canCreate()` is
    /// `count() < max()`, and the `double` converts to `uint64_t` by truncation).
    /// `budget_percent` is a percentage (default 20.0), `min_retry_concurrency` defaults to 3
    /// ([`BudgetSpec::ENVOY_DEFAULT`]).
    ///
    /// The budget keeps no state: the world passes the counts. In Envoy `active_requests` is the
    /// cluster's active plus pending requests (attempts in flight or queued for a connection,
    /// first attempts and retries alike), and `active_retries` the retries resource, which Envoy's
    /// `RetryStateImpl::shouldRetry` increments when it grants a retry, before the backoff timer,
    /// and decrements when that retry's attempt ends; so a retry counts as active from the moment
    /// it is granted, through its backoff, until its attempt ends.
    Envoy {
        budget_percent: f64,
        min_retry_concurrency: u32,
    },

    /// The AWS SDKs' standard retry mode retry quota (AWS SDKs and Tools Reference Guide, "Retry
    /// behavior"; botocore `botocore/retries/standard.py` `RetryQuotaChecker` and
    /// `botocore/retries/quota.py` `RetryQuota`): a bucket that starts full at `initial` tokens.
    ///
    /// A retry costs tokens by what failed: `throttle_cost` after a 429, `retry_cost` after a
    /// 5xx, `timeout_cost` after a timeout. If the cost is more than the bucket holds the retry is
    /// not made and the call fails; otherwise it is paid. When a call's attempt succeeds the
    /// bucket gets back the cost that call last paid if it was retried, or else
    /// `no_retry_increment`; never more than `initial`:
    ///
    /// ```text
    /// retry after f:   allowed iff cost(f) <= tokens; then tokens -= cost(f)
    /// success:         tokens = min(initial, tokens + (retried ? cost(last f) : no_retry_increment))
    /// ```
    ///
    /// [`BudgetSpec::AWS_STANDARD`] is standard mode as SDKs ship it (500 tokens, 5 a retry, 10
    /// after a timeout, 1 back for an unretried success); [`BudgetSpec::AWS_STANDARD_2026`] is the
    /// updated standard mode (opt-in with `AWS_NEW_RETRIES_2026=true`, botocore's standard mode
    /// "2.1": 5 after throttling, 14 after any other error, timeouts included).
    AwsStandard {
        initial: f64,
        throttle_cost: f64,
        retry_cost: f64,
        timeout_cost: f64,
        no_retry_increment: f64,
    },
}

impl BudgetSpec {
    /// Finagle's `RetryBudget()`: ttl 10 s, 10 retries a second, 20% of requests.
    pub const FINAGLE_DEFAULT: BudgetSpec = BudgetSpec::Finagle {
        ttl_ns: 10 * NANOS_PER_SEC,
        min_retries_per_sec: 10.0,
        percent_can_retry: 0.2,
    };

    /// Envoy's retry budget with its defaults: 20%, at least 3 retries in flight.
    pub const ENVOY_DEFAULT: BudgetSpec = BudgetSpec::Envoy {
        budget_percent: 20.0,
        min_retry_concurrency: 3,
    };

    /// AWS standard mode's retry quota: `INITIAL_RETRY_TOKENS` 500, `RETRY_COST` 5,
    /// `TIMEOUT_RETRY_COST` 10, `NO_RETRY_INCREMENT` 1.
    pub const AWS_STANDARD: BudgetSpec = BudgetSpec::AwsStandard {
        initial: 500.0,
        throttle_cost: 5.0,
        retry_cost: 5.0,
        timeout_cost: 10.0,
        no_retry_increment: 1.0,
    };

    /// AWS's updated (2026) standard mode retry quota: 500 tokens, 5 after throttling, 14 after
    /// any other error, 1 back for an unretried success.
    pub const AWS_STANDARD_2026: BudgetSpec = BudgetSpec::AwsStandard {
        initial: 500.0,
        throttle_cost: 5.0,
        retry_cost: 14.0,
        timeout_cost: 14.0,
        no_retry_increment: 1.0,
    };
}

/// Finagle's leaky token bucket over an exact window of `ttl`: the signed deposits and
/// withdrawals of the last `ttl`, oldest first, entries at the same instant merged.
#[derive(Clone, Debug)]
struct Window {
    ttl_ns: u64,
    deposit: i64,
    withdrawal: i64,
    reserve: i64,
    log: VecDeque<(SimTime, i64)>,
    sum: i64,
}

impl Window {
    fn new(ttl_ns: u64, min_retries_per_sec: f64, percent_can_retry: f64) -> Window {
        let (deposit, withdrawal) = if percent_can_retry > 0.0 {
            // Scala's `Double.toInt` and Rust's `as` both truncate toward zero. Finagle rejects
            // percentages above 1000, where this would be 0; keep at least 1.
            let w = (FINAGLE_SCALE as f64 / percent_can_retry) as i64;
            (FINAGLE_SCALE, w.max(1))
        } else {
            (0, 1)
        };
        // `ttl.inSeconds`: whole seconds.
        let whole_secs = (ttl_ns / NANOS_PER_SEC) as f64;
        let reserve = (min_retries_per_sec.max(0.0) * whole_secs * withdrawal as f64) as i64;
        Window {
            ttl_ns,
            deposit,
            withdrawal,
            reserve,
            log: VecDeque::new(),
            sum: 0,
        }
    }

    /// Drops the entries made `ttl` or more before `now`.
    fn expire(&mut self, now: SimTime) {
        while let Some(&(at, amount)) = self.log.front() {
            if now.since(at) < self.ttl_ns {
                break;
            }
            self.sum -= amount;
            self.log.pop_front();
        }
    }

    fn add(&mut self, now: SimTime, amount: i64) {
        if amount == 0 {
            return;
        }
        self.sum += amount;
        match self.log.back_mut() {
            Some((at, merged)) if *at == now => *merged += amount,
            _ => self.log.push_back((now, amount)),
        }
    }

    /// `TokenBucket.count`: the window's sum plus the reserve.
    fn count(&self) -> i64 {
        self.sum + self.reserve
    }
}

/// A budget's state during a run.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    spec: BudgetSpec,
    /// gRPC and AWS: the token count.
    tokens: f64,
    /// Finagle: the windowed bucket.
    window: Option<Window>,
}

impl RetryBudget {
    /// A budget at its starting state: gRPC and AWS full, Finagle with nothing in its window.
    pub fn new(spec: BudgetSpec) -> RetryBudget {
        let (tokens, window) = match spec {
            BudgetSpec::Grpc { max_tokens, .. } => (max_tokens, None),
            BudgetSpec::Finagle {
                ttl_ns,
                min_retries_per_sec,
                percent_can_retry,
            } => (
                0.0,
                Some(Window::new(ttl_ns, min_retries_per_sec, percent_can_retry)),
            ),
            BudgetSpec::Envoy { .. } => (0.0, None),
            BudgetSpec::AwsStandard { initial, .. } => (initial, None),
        };
        RetryBudget {
            spec,
            tokens,
            window,
        }
    }

    /// The configuration this budget runs.
    pub fn spec(&self) -> BudgetSpec {
        self.spec
    }

    /// A call's first attempt is sent (retries are not requests): Finagle deposits.
    #[inline]
    pub fn on_request(&mut self, now: SimTime) {
        if let Some(w) = self.window.as_mut() {
            w.expire(now);
            w.add(now, w.deposit);
        }
    }

    /// An attempt failed with a retryable failure: gRPC takes a token.
    #[inline]
    pub fn on_failure(&mut self, _now: SimTime) {
        if let BudgetSpec::Grpc { .. } = self.spec {
            self.tokens = (self.tokens - 1.0).max(0.0);
        }
    }

    /// An attempt succeeded. `retry_of` is the failure the succeeding attempt retried (the call's
    /// last failure), or `None` if it was the call's first attempt: AWS refunds that retry's cost,
    /// or `no_retry_increment` for a first attempt. gRPC gives back `token_ratio`.
    #[inline]
    pub fn on_success(&mut self, _now: SimTime, retry_of: Option<Failure>) {
        match self.spec {
            BudgetSpec::Grpc {
                max_tokens,
                token_ratio,
            } => self.tokens = (self.tokens + token_ratio).min(max_tokens),
            BudgetSpec::AwsStandard {
                initial,
                no_retry_increment,
                ..
            } => {
                let refund = retry_of.map_or(no_retry_increment, |f| self.aws_cost(f));
                self.tokens = (self.tokens + refund).min(initial);
            }
            BudgetSpec::Finagle { .. } | BudgetSpec::Envoy { .. } => {}
        }
    }

    /// Asks to retry after `failure`, with `active_requests` attempts in flight (first attempts
    /// and retries, and for Envoy those queued to be sent) and `active_retries` retries granted
    /// whose attempt has not ended (for Envoy, including those still backing off). Returns
    /// whether the retry may go out, and if so records it: Finagle withdraws, AWS pays its cost.
    /// gRPC and Envoy record nothing (gRPC's failure already took its token; Envoy's count is the
    /// world's).
    #[inline]
    pub fn try_retry(
        &mut self,
        now: SimTime,
        failure: Failure,
        active_requests: u64,
        active_retries: u64,
    ) -> bool {
        match self.spec {
            BudgetSpec::Grpc { max_tokens, .. } => self.tokens > max_tokens / 2.0,
            BudgetSpec::Finagle { .. } => {
                let w = self.window.as_mut().expect("a Finagle budget has a window");
                w.expire(now);
                let ok = w.count() >= w.withdrawal;
                if ok {
                    w.add(now, -w.withdrawal);
                }
                ok
            }
            BudgetSpec::Envoy {
                budget_percent,
                min_retry_concurrency,
            } => {
                // Envoy: std::max<uint64_t>(budget_percent / 100.0 * current_active, min).
                let by_percent = (budget_percent / 100.0 * active_requests as f64) as u64;
                active_retries < by_percent.max(u64::from(min_retry_concurrency))
            }
            BudgetSpec::AwsStandard { .. } => {
                let cost = self.aws_cost(failure);
                let ok = cost <= self.tokens;
                if ok {
                    self.tokens -= cost;
                }
                ok
            }
        }
    }

    /// The token count of a gRPC or AWS budget; 0 for Finagle and Envoy.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    /// What an AWS quota charges for a retry after `failure` (0 for other budgets).
    fn aws_cost(&self, failure: Failure) -> f64 {
        match self.spec {
            BudgetSpec::AwsStandard {
                throttle_cost,
                retry_cost,
                timeout_cost,
                ..
            } => match failure {
                Failure::RateLimited => throttle_cost,
                Failure::ServerError => retry_cost,
                Failure::Timeout => timeout_cost,
            },
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SimTime = SimTime::ZERO;

    fn secs(s: u64) -> SimTime {
        SimTime(s * NANOS_PER_SEC)
    }

    fn finagle(ttl_s: f64, min_retries_per_sec: f64, percent_can_retry: f64) -> RetryBudget {
        RetryBudget::new(BudgetSpec::Finagle {
            ttl_ns: crate::engine::time::secs_to_nanos(ttl_s),
            min_retries_per_sec,
            percent_can_retry,
        })
    }

    /// How many retries after a 5xx the budget grants in a row at `now`.
    fn grants(b: &mut RetryBudget, now: SimTime) -> u32 {
        let mut n = 0;
        while b.try_retry(now, Failure::ServerError, 0, 0) {
            n += 1;
            assert!(n < 1_000_000, "budget never ran out");
        }
        n
    }

    #[test]
    fn grpc_throttling_follows_the_hand_computed_token_count() {
        // max_tokens 10, token_ratio 0.1: retries allowed while tokens > 5.
        let mut b = RetryBudget::new(BudgetSpec::Grpc {
            max_tokens: 10.0,
            token_ratio: 0.1,
        });
        for _ in 0..4 {
            b.on_failure(T0);
        }
        assert_eq!(b.tokens(), 6.0);
        assert!(b.try_retry(T0, Failure::ServerError, 0, 0));
        b.on_failure(T0); // 5: not above half
        assert!(!b.try_retry(T0, Failure::ServerError, 0, 0));
        // Ten successes give back one token: 6 > 5, retries resume.
        for _ in 0..10 {
            b.on_success(T0, None);
        }
        assert!((b.tokens() - 6.0).abs() < 1e-9);
        assert!(b.try_retry(T0, Failure::ServerError, 0, 0));
    }

    #[test]
    fn grpc_tokens_stay_between_zero_and_the_maximum() {
        let mut b = RetryBudget::new(BudgetSpec::Grpc {
            max_tokens: 3.0,
            token_ratio: 1.0,
        });
        for _ in 0..10 {
            b.on_success(T0, None);
        }
        assert_eq!(b.tokens(), 3.0);
        for _ in 0..10 {
            b.on_failure(T0);
        }
        assert_eq!(b.tokens(), 0.0);
    }

    #[test]
    fn grpc_granting_a_retry_takes_no_token_only_failures_do() {
        let mut b = RetryBudget::new(BudgetSpec::Grpc {
            max_tokens: 10.0,
            token_ratio: 0.1,
        });
        for _ in 0..5 {
            assert!(b.try_retry(T0, Failure::Timeout, 0, 0));
        }
        assert_eq!(b.tokens(), 10.0);
    }

    #[test]
    fn finagle_each_request_pays_for_percent_can_retry_retries() {
        // percent 0.5, no reserve: D = 1000, W = 2000; two requests buy one retry.
        let mut b = finagle(10.0, 0.0, 0.5);
        assert!(!b.try_retry(T0, Failure::ServerError, 0, 0), "empty bucket");
        b.on_request(T0);
        assert!(
            !b.try_retry(secs(1), Failure::ServerError, 0, 0),
            "1000 < 2000"
        );
        b.on_request(secs(1));
        assert!(
            b.try_retry(secs(1), Failure::ServerError, 0, 0),
            "2000 >= 2000"
        );
        assert!(
            !b.try_retry(secs(1), Failure::ServerError, 0, 0),
            "withdrawn to 0"
        );
        // Four more requests: two more retries, no third.
        for _ in 0..4 {
            b.on_request(secs(2));
        }
        assert_eq!(grants(&mut b, secs(2)), 2);
    }

    #[test]
    fn finagle_deposits_and_withdrawals_both_expire_exactly_ttl_after_they_were_made() {
        // percent 1.0, no reserve: D = W = 1000; ttl 10 s.
        let mut b = finagle(10.0, 0.0, 1.0);
        b.on_request(T0); // +1000, expires at 10 s
        assert!(b.try_retry(secs(1), Failure::ServerError, 0, 0)); // -1000, expires at 11 s
        b.on_request(secs(2)); // +1000, expires at 12 s: sum 1000
        // At 10 s - 1 ns nothing has expired: 1000, a retry would be allowed (not taken here).
        // At 10 s the first deposit is gone: -1000 + 1000 = 0.
        assert!(!b.try_retry(secs(10), Failure::ServerError, 0, 0));
        // At 11 s the withdrawal is gone too: 1000.
        assert!(b.try_retry(secs(11), Failure::ServerError, 0, 0));
    }

    #[test]
    fn finagle_a_deposit_counts_until_one_nanosecond_before_its_ttl() {
        let mut b = finagle(10.0, 0.0, 1.0);
        b.on_request(T0);
        assert!(b.try_retry(SimTime(10 * NANOS_PER_SEC - 1), Failure::Timeout, 0, 0));
        let mut b = finagle(10.0, 0.0, 1.0);
        b.on_request(T0);
        assert!(!b.try_retry(secs(10), Failure::Timeout, 0, 0));
    }

    #[test]
    fn finagle_reserve_allows_min_retries_per_sec_times_ttl_without_requests() {
        // min 1/s, ttl 10 s, percent 0.2: W = 5000, reserve = 1 * 10 * 5000 = 10 retries.
        let mut b = finagle(10.0, 1.0, 0.2);
        assert_eq!(grants(&mut b, T0), 10);
        // Five requests buy one more retry.
        for _ in 0..5 {
            b.on_request(secs(1));
        }
        assert_eq!(grants(&mut b, secs(1)), 1);
        // At 10 s the ten withdrawals at 0 s expire: ten more. (At 11 s the deposits and the
        // retry made at 1 s would also leave, balancing each other.)
        assert_eq!(grants(&mut b, secs(10)), 10);
    }

    #[test]
    fn finagle_reserve_uses_whole_seconds_of_ttl() {
        // ttl 2.9 s counts as 2 s (`ttl.inSeconds`): min 3/s gives a reserve of 6 retries, not 8.7.
        let mut b = finagle(2.9, 3.0, 0.2);
        assert_eq!(grants(&mut b, T0), 6);
    }

    #[test]
    fn finagle_zero_percent_gets_no_credit_from_requests() {
        // percent 0: D = 0, W = 1; only the reserve (2/s * 3 s = 6) allows retries.
        let mut b = finagle(3.0, 2.0, 0.0);
        for _ in 0..100 {
            b.on_request(T0);
        }
        assert_eq!(grants(&mut b, T0), 6);
        // Both zero: Finagle's `RetryBudget.Empty`, never a retry.
        let mut b = finagle(3.0, 0.0, 0.0);
        b.on_request(T0);
        assert_eq!(grants(&mut b, T0), 0);
    }

    #[test]
    fn finagle_withdrawal_is_truncated_to_whole_scaled_units() {
        // percent 0.6: W = trunc(1000 / 0.6) = 1666, not 1666.67. 5000 requests deposit 5_000_000,
        // which pays for trunc(5_000_000 / 1666) = 3001 retries, one more than 0.6 * 5000.
        let mut b = finagle(10.0, 0.0, 0.6);
        for _ in 0..5000 {
            b.on_request(T0);
        }
        assert_eq!(grants(&mut b, T0), 3001);
    }

    #[test]
    fn finagle_log_holds_one_entry_per_instant_and_drops_expired_ones() {
        let mut b = finagle(1.0, 0.0, 1.0);
        for i in 0..1000 {
            b.on_request(SimTime(i * 1_000_000)); // one a millisecond for a second
        }
        for _ in 0..1000 {
            b.on_request(secs(1)); // a thousand at the same instant: one entry
        }
        let w = b.window.as_ref().unwrap();
        // Expiry runs on each call: at 1 s the entry at 0 s left; 999 + 1 remain.
        assert_eq!(w.log.len(), 1000);
        assert_eq!(w.sum, 1999 * 1000);
        assert!(!b.try_retry(secs(3), Failure::ServerError, 0, 0));
        assert!(b.window.as_ref().unwrap().log.is_empty());
    }

    #[test]
    fn envoy_allows_retries_below_max_of_percent_of_active_and_the_minimum() {
        let mut b = RetryBudget::new(BudgetSpec::ENVOY_DEFAULT);
        // 10 active: 20% is 2, the minimum 3 wins.
        assert!(b.try_retry(T0, Failure::ServerError, 10, 2));
        assert!(!b.try_retry(T0, Failure::ServerError, 10, 3));
        // 100 active: 20 may be active.
        assert!(b.try_retry(T0, Failure::ServerError, 100, 19));
        assert!(!b.try_retry(T0, Failure::ServerError, 100, 20));
        // 24 active: 4.8 truncates to 4 (rounding would allow a fifth).
        assert!(b.try_retry(T0, Failure::ServerError, 24, 3));
        assert!(!b.try_retry(T0, Failure::ServerError, 24, 4));
        // Nothing active: the minimum still allows 3.
        assert!(b.try_retry(T0, Failure::ServerError, 0, 2));
        assert!(!b.try_retry(T0, Failure::ServerError, 0, 3));
    }

    #[test]
    fn envoy_reads_only_the_counts_it_is_given_and_records_no_grants() {
        let mut b = RetryBudget::new(BudgetSpec::Envoy {
            budget_percent: 50.0,
            min_retry_concurrency: 0,
        });
        for _ in 0..100 {
            b.on_request(T0);
            b.on_failure(T0);
            assert!(b.try_retry(T0, Failure::Timeout, 4, 1)); // 50% of 4 = 2 > 1
        }
        assert!(!b.try_retry(T0, Failure::Timeout, 4, 2));
        assert!(!b.try_retry(T0, Failure::Timeout, 1, 0)); // trunc(0.5) = 0, minimum 0
    }

    #[test]
    fn aws_standard_charges_by_failure_and_refunds_on_success_up_to_initial() {
        let mut b = RetryBudget::new(BudgetSpec::AWS_STANDARD);
        b.on_success(T0, None); // full: stays 500
        assert_eq!(b.tokens(), 500.0);
        assert!(b.try_retry(T0, Failure::Timeout, 0, 0)); // 490
        assert!(b.try_retry(T0, Failure::ServerError, 0, 0)); // 485
        assert!(b.try_retry(T0, Failure::RateLimited, 0, 0)); // 480
        assert_eq!(b.tokens(), 480.0);
        b.on_success(T0, Some(Failure::Timeout)); // +10 = 490
        b.on_success(T0, None); // +1 = 491
        b.on_success(T0, Some(Failure::ServerError)); // +5 = 496
        assert_eq!(b.tokens(), 496.0);
        b.on_success(T0, Some(Failure::Timeout)); // +10, capped at 500
        assert_eq!(b.tokens(), 500.0);
        b.on_failure(T0); // failures cost nothing by themselves
        assert_eq!(b.tokens(), 500.0);
    }

    #[test]
    fn aws_standard_refuses_a_retry_the_quota_cannot_pay() {
        let mut b = RetryBudget::new(BudgetSpec::AWS_STANDARD);
        assert_eq!(grants(&mut b, T0), 100); // 500 / 5
        assert_eq!(b.tokens(), 0.0);
        for _ in 0..9 {
            b.on_success(T0, None); // 9
        }
        assert!(
            !b.try_retry(T0, Failure::Timeout, 0, 0),
            "10 > 9: refused, nothing paid"
        );
        assert_eq!(b.tokens(), 9.0);
        assert!(b.try_retry(T0, Failure::ServerError, 0, 0), "5 <= 9"); // 4
        b.on_success(T0, None); // 5
        assert!(!b.try_retry(T0, Failure::Timeout, 0, 0));
        assert!(
            b.try_retry(T0, Failure::RateLimited, 0, 0),
            "exactly 5 pays"
        ); // 0
        assert_eq!(b.tokens(), 0.0);
    }

    #[test]
    fn aws_standard_2026_discounts_throttling_and_charges_timeouts_like_errors() {
        let mut b = RetryBudget::new(BudgetSpec::AWS_STANDARD_2026);
        assert!(b.try_retry(T0, Failure::RateLimited, 0, 0)); // 495
        assert!(b.try_retry(T0, Failure::ServerError, 0, 0)); // 481
        assert!(b.try_retry(T0, Failure::Timeout, 0, 0)); // 467
        assert_eq!(b.tokens(), 467.0);
        b.on_success(T0, Some(Failure::Timeout)); // +14 = 481
        assert_eq!(b.tokens(), 481.0);
        // 481 = 34 * 14 + 5: 34 error retries, then only a throttled one fits.
        for _ in 0..34 {
            assert!(b.try_retry(T0, Failure::ServerError, 0, 0));
        }
        assert!(!b.try_retry(T0, Failure::Timeout, 0, 0));
        assert!(b.try_retry(T0, Failure::RateLimited, 0, 0));
        assert_eq!(b.tokens(), 0.0);
    }
}
