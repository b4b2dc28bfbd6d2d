//! Retry budgets: limits on retrying that a whole client shares.
//!
//! Task: stop a client from multiplying load when the server is failing. Per-call retry limits
//! cannot: with many calls failing at once, every call's first retries still go out. A budget
//! looks at all the client's recent outcomes and refuses retries when too many fail.

/// A configured budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BudgetSpec {
    /// gRPC retry throttling (gRFC A6, "Client-side retry throttling"): a token count starting at
    /// `max_tokens`; each failed attempt takes 1, each success gives back `token_ratio` (capped at
    /// `max_tokens`); retries are allowed only while `tokens > max_tokens / 2`.
    Grpc { max_tokens: f64, token_ratio: f64 },
}

/// A budget's state during a run.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    spec: BudgetSpec,
    tokens: f64,
}

impl RetryBudget {
    /// A budget at its starting state.
    pub fn new(spec: BudgetSpec) -> RetryBudget {
        let tokens = match spec {
            BudgetSpec::Grpc { max_tokens, .. } => max_tokens,
        };
        RetryBudget { spec, tokens }
    }

    /// An attempt failed with a retryable status.
    #[inline]
    pub fn on_failure(&mut self) {
        match self.spec {
            BudgetSpec::Grpc { .. } => self.tokens = (self.tokens - 1.0).max(0.0),
        }
    }

    /// An attempt succeeded.
    #[inline]
    pub fn on_success(&mut self) {
        match self.spec {
            BudgetSpec::Grpc {
                max_tokens,
                token_ratio,
            } => self.tokens = (self.tokens + token_ratio).min(max_tokens),
        }
    }

    /// Whether a retry may go out now.
    #[inline]
    pub fn allows_retry(&self) -> bool {
        match self.spec {
            BudgetSpec::Grpc { max_tokens, .. } => self.tokens > max_tokens / 2.0,
        }
    }

    /// The current token count.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_throttling_follows_the_hand_computed_token_count() {
        // max_tokens 10, token_ratio 0.1: retries allowed while tokens > 5.
        let mut b = RetryBudget::new(BudgetSpec::Grpc {
            max_tokens: 10.0,
            token_ratio: 0.1,
        });
        for _ in 0..4 {
            b.on_failure();
        }
        assert_eq!(b.tokens(), 6.0);
        assert!(b.allows_retry());
        b.on_failure(); // 5: not above half
        assert!(!b.allows_retry());
        // Ten successes give back one token: 6 > 5, retries resume.
        for _ in 0..10 {
            b.on_success();
        }
        assert!((b.tokens() - 6.0).abs() < 1e-9);
        assert!(b.allows_retry());
    }

    #[test]
    fn grpc_tokens_stay_between_zero_and_the_maximum() {
        let mut b = RetryBudget::new(BudgetSpec::Grpc {
            max_tokens: 3.0,
            token_ratio: 1.0,
        });
        for _ in 0..10 {
            b.on_success();
        }
        assert_eq!(b.tokens(), 3.0);
        for _ in 0..10 {
            b.on_failure();
        }
        assert_eq!(b.tokens(), 0.0);
    }
}
