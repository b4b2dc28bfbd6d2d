//! The seam between a call's lifecycle and the client policies that watch it.
//!
//! Breakers, throttles and adaptive limits all do two things: decide whether an attempt may leave
//! now ([`ClientPolicy::gate`]) and learn from how attempts end ([`ClientPolicy::observe`]). The
//! client runs every policy of the scenario's `[[policy]]` through these hooks in a fixed order,
//! so a new policy is its own file implementing this trait plus its schema entry, and
//! [`for_policy`] builds it.

use crate::engine::SimTime;
use crate::model::breaker::Breaker;
use crate::model::concurrency::ConcurrencyLimit;
use crate::model::config::{Policy, ThrottleSpec};
use crate::model::throttle::{AdaptiveRateLimiter, SreThrottle};

/// How an attempt ended, for the policies that learn from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    RateLimited,
    ServerError,
    Timeout,
}

/// What a policy says about an attempt about to leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let it go (to the next policy, then the wire).
    Pass,
    /// Hold it this many nanoseconds, then offer it to the policies again.
    Delay(u64),
    /// Fail the call at once without sending (an open breaker).
    ShortCircuit,
    /// Refuse the attempt locally, as if throttled (it may be retried).
    Throttle,
}

/// What an attempt's end tells a policy beyond its outcome.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// From sending to the outcome.
    pub rtt_ns: u64,
    /// The client's attempts in flight when it was sent, itself included.
    pub in_flight_at_send: u32,
}

/// A client policy's hooks into the life of an attempt. Every method has a do-nothing default.
pub trait ClientPolicy {
    /// Before an attempt leaves at `now`. `draw` gives a uniform draw in [0, 1) from the
    /// attempt's own stream, for policies that refuse at random.
    fn gate(&mut self, _now: SimTime, _draw: &mut dyn FnMut() -> f64) -> Verdict {
        Verdict::Pass
    }

    /// The provider admitted an attempt this policy passed.
    fn admitted(&mut self, _now: SimTime) {}

    /// An attempt ended with `outcome`.
    fn observe(&mut self, _now: SimTime, _outcome: Outcome, _sample: Sample) {}

    /// Whether calls must wait in the admission line for this policy's say.
    fn holds_calls(&self) -> bool {
        false
    }

    /// Whether one more call may leave the admission line with `in_flight` attempts out.
    fn admits(&self, _in_flight: u32) -> bool {
        true
    }
}

/// The hooks of `policy`, in the order they are asked: a sending-rate limiter first (it only
/// delays), then the breaker (fails fast), then local throttling (refuses at random), then
/// admission limits.
pub fn for_policy(policy: &Policy) -> Vec<Box<dyn ClientPolicy>> {
    let mut hooks: Vec<Box<dyn ClientPolicy>> = Vec::new();
    if let Some(ThrottleSpec::AwsAdaptive) = policy.throttle {
        hooks.push(Box::new(AdaptiveRateLimiter::new()));
    }
    if let Some(spec) = policy.breaker {
        hooks.push(Box::new(Breaker::new(spec)));
    }
    if let Some(ThrottleSpec::Sre { k, window_ns }) = policy.throttle {
        hooks.push(Box::new(SreThrottle::new(k, window_ns)));
    }
    if let Some(spec) = policy.concurrency {
        hooks.push(Box::new(ConcurrencyLimit::new(spec)));
    }
    hooks
}
