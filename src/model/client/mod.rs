//! The client: each call's life from its first attempt to its answer or its giving up, through
//! the client's admission line, retry layers, deadlines, retry budget, hedges and the policies
//! behind [`hooks::ClientPolicy`].
//!
//! - [`lifecycle`]: sending attempts, their outcomes, retries, giving up; the one function that
//!   ends an attempt and the one that ends a call.
//! - [`hedging`]: copies of slow attempts; the first answer wins and the others are cut off.
//! - [`hooks`]: the trait client policies implement to gate attempts and learn from outcomes.

pub mod hedging;
pub mod hooks;
pub mod lifecycle;

use super::admission::Admission;
use super::budget::RetryBudget;
use super::config::{MAX_HEDGES, MAX_LAYERS, Policy, Scenario};
use super::ids::{CallId, RequestId, TaskId};
use super::provider::Sizes;
use super::retry::Failure;
use crate::engine::SimTime;
use hooks::ClientPolicy;
use slab::Slab;

/// One LLM call (or, with `primary`, a hedge of one): client-side state only; an attempt at the
/// provider is the provider's [`super::provider::Request`].
pub struct Call {
    /// The agent or call task it belongs to.
    pub task: TaskId,
    /// Unique over the run: tells this call's pending `Send` from one of an earlier call that
    /// held the same slot.
    pub serial: u64,
    pub started: SimTime,
    pub sizes: Sizes,
    /// Attempts made by this incarnation of the call, all layers together.
    pub attempts: u32,
    /// The stamp of the current attempt (its timeout and hedge timer carry it).
    pub attempt: u64,
    /// The current attempt at the provider, if admitted and not yet left.
    pub request: Option<RequestId>,
    /// Waiting in the client's admission line.
    pub in_line: bool,
    /// Held back by a policy's delay (a sending-rate limiter): it holds a place among the
    /// attempts in flight until its delayed send comes.
    pub delayed: bool,
    /// Attempts each layer has started in its current round (1 at the first attempt).
    pub tries: [u32; MAX_LAYERS],
    /// Each layer's previous wait, seconds (for decorrelated jitter); NaN before the first.
    pub previous_wait_s: [f64; MAX_LAYERS],
    /// The failure the current attempt retries, if it is a retry.
    pub retry_of: Option<Failure>,
    /// The current attempt is a retry counted in `Client::active_retries`.
    pub retry_active: bool,
    /// For a hedge: the call it hedges.
    pub primary: Option<CallId>,
    /// 0 for a call; 1, 2, ... for its hedges (keys their random draws apart).
    pub hedge_no: u8,
    /// For a call: its hedges in flight.
    pub hedges: [CallId; MAX_HEDGES],
    pub live_hedges: u8,
    /// Hedges sent so far for the call's current attempt.
    pub hedges_sent: u8,
    /// When the current attempt was sent, and the client's attempts in flight then (itself
    /// included): the sample an adaptive concurrency limit learns from.
    pub sent_at: SimTime,
    pub in_flight_at_send: u32,
    /// The provider of the current (or last) attempt, by index.
    pub target: u8,
    /// With a route: the hop the call is on (0: the group; `k`: the `k`-th fallback), the
    /// attempts that failed on it, and whether the next attempt picks its provider afresh (an
    /// SDK retry stays where it was).
    pub hop: u8,
    pub hop_fails: u16,
    pub repick: bool,
}

/// The client's state during one run.
pub struct Client {
    pub calls: Slab<Call>,
    pub admission: Admission,
    /// The earliest pending `AdmissionWake`, if any.
    pub wake_at: Option<SimTime>,
    pub budget: Option<RetryBudget>,
    /// Retries granted whose attempt has not ended (Envoy's retry budget counts these).
    pub active_retries: u64,
    /// The policy's gates and observers, in the order they are asked.
    pub hooks: Vec<Box<dyn ClientPolicy>>,
    /// Some hook holds calls in the admission line.
    pub gated: bool,
    /// Calls whose send a policy delayed.
    pub delayed: u32,
    /// Something happened that may let a waiting call through: look again at the end of the
    /// event.
    pub line_may_move: bool,
    serials: u64,
}

impl Client {
    pub fn new(scenario: &Scenario, policy: &Policy) -> Client {
        let hooks = hooks::for_policy(policy);
        Client {
            calls: Slab::new(),
            admission: Admission::new(
                &policy.buckets,
                policy.discipline,
                scenario.tenants.len(),
                &scenario.tenant_weights,
            ),
            wake_at: None,
            budget: policy.budget.map(RetryBudget::new),
            active_retries: 0,
            gated: hooks.iter().any(|h| h.holds_calls()),
            line_may_move: false,
            delayed: 0,
            hooks,
            serials: 0,
        }
    }

    #[inline]
    pub fn call(&self, id: CallId) -> &Call {
        &self.calls[id.index()]
    }

    #[inline]
    pub fn call_mut(&mut self, id: CallId) -> &mut Call {
        &mut self.calls[id.index()]
    }

    /// Whether calls wait for admission: for client buckets or a gating policy.
    #[inline]
    pub fn uses_admission(&self) -> bool {
        self.admission.has_buckets() || self.gated
    }

    /// A new call (or, with `primary`, hedge number `hedge_no` of that call) of `task` at `now`.
    #[inline]
    pub fn insert(
        &mut self,
        task: TaskId,
        now: SimTime,
        sizes: Sizes,
        primary: Option<CallId>,
        hedge_no: u8,
    ) -> CallId {
        self.serials += 1;
        CallId::from(self.calls.insert(Call {
            task,
            serial: self.serials,
            started: now,
            sizes,
            attempts: 0,
            attempt: 0,
            request: None,
            in_line: false,
            delayed: false,
            tries: [1; MAX_LAYERS],
            previous_wait_s: [f64::NAN; MAX_LAYERS],
            retry_of: None,
            retry_active: false,
            primary,
            hedge_no,
            hedges: [CallId(0); MAX_HEDGES],
            live_hedges: 0,
            hedges_sent: 0,
            sent_at: now,
            in_flight_at_send: 0,
            target: 0,
            hop: 0,
            hop_fails: 0,
            repick: true,
        }))
    }

    /// Marks `call` delayed or not, keeping the count.
    pub fn set_delayed(&mut self, call: CallId, delayed: bool) {
        let c = &mut self.calls[call.index()];
        if c.delayed != delayed {
            c.delayed = delayed;
            if delayed {
                self.delayed += 1;
            } else {
                self.delayed -= 1;
            }
        }
    }

    /// Retries in flight, counted from the calls themselves (the conservation checks compare it
    /// with `active_retries`).
    pub fn retries_in_flight(&self) -> u64 {
        self.calls.iter().filter(|(_, c)| c.retry_active).count() as u64
    }
}
