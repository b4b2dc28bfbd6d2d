//! A call's life: created by its task, sent through the admission line and the policies' gates,
//! answered, refused, failed or timed out, retried by the innermost layer that may, and finally
//! answered or given up.
//!
//! Two functions end things, and every path goes through them: [`World::end_attempt`] when an
//! attempt's outcome is known (or it is abandoned), and [`World::end_call`] when a call leaves.

use super::hooks::{Outcome, Sample, Verdict};
use crate::engine::rng::{purpose, stream, unit};
use crate::engine::time::{round_to_u32, secs_to_nanos};
use crate::engine::{EventQueue, SimTime};
use crate::model::admission::{Popped, Waiting};
use crate::model::config::Resource;
use crate::model::dist::Dist;
use crate::model::ids::{CallId, JobId, Key, RequestId, TaskId};
use crate::model::provider::{Answer, Sizes};
use crate::model::retry::Failure;
use crate::model::workload::Node;
use crate::model::world::{Event, World};

const CALL: u64 = purpose("call");
/// The size of a call's cached prompt prefix, when drawn.
const CACHED_PROMPT: u64 = purpose("cached_prompt");
/// Whether an attempt's cached prefix is a hit.
const CACHE_HIT: u64 = purpose("cache_hit");

/// What is left of a call that ended.
pub(crate) struct Ended {
    pub task: TaskId,
    pub started: SimTime,
    /// For a hedge, the call it copied.
    pub primary: Option<CallId>,
}
const BACKOFF: u64 = purpose("backoff");
/// The router's weighted draw among its targets.
const ROUTE: u64 = purpose("route");
const THINK: u64 = purpose("think");
const THROTTLE: u64 = purpose("throttle");

impl World<'_> {
    /// The job `call` belongs to.
    #[inline]
    pub(crate) fn job_of(&self, call: CallId) -> JobId {
        self.work.task(self.client.call(call).task).job
    }

    /// The tenant the ledger files `task`'s numbers under: its own when tenants are counted
    /// apart, else any (the lookup is skipped).
    #[inline]
    fn ledger_tenant(&self, task: TaskId) -> u32 {
        if self.ledger.counts_tenants() {
            self.work.tenant_of(task)
        } else {
            0
        }
    }

    /// Ids that name a task's `k`-th call across policies.
    #[inline]
    fn call_key(&self, task: TaskId, k: u32) -> [u64; 2] {
        [self.work.task(task).key, k as u64]
    }

    /// Ids that name the current attempt of `call` across policies.
    #[inline]
    pub(crate) fn attempt_key(&self, call: CallId) -> [u64; 4] {
        let c = self.client.call(call);
        let t = self.work.task(c.task);
        [
            t.key,
            t.next as u64,
            t.generation as u64,
            c.attempts as u64 | (c.hedge_no as u64) << 32,
        ]
    }

    /// `task` makes its next call.
    pub(crate) fn start_call(&mut self, now: SimTime, task: TaskId, q: &mut EventQueue<Event>) {
        let job = self.work.task(task).job;
        if !self.may_work(now, job) {
            self.complete(now, task, false, q);
            return;
        }
        self.work.job_mut(job).calls_started += 1;
        let key = self.call_key(task, self.work.task(task).next);
        let spec = self.call_spec(task);
        let (prompt, output) = match (&spec.prompt_tokens, &spec.output_tokens) {
            // Constants draw nothing: skip keying a stream (a tenth of an M/M/1 run's work).
            (Dist::Constant(p), Dist::Constant(o)) => (*p, *o),
            (p, o) => {
                let mut rng = stream(self.seed, CALL, &key);
                (p.sample(&mut rng), o.sample(&mut rng))
            }
        };
        // The prefix has a stream of its own, so declaring one changes no other draw.
        let cached = match &spec.cache {
            // A client that marks no cache breakpoint reads and writes no cache.
            _ if !self.policy.prompt_cache => 0.0,
            None => 0.0,
            Some(c) => match &c.tokens {
                Dist::Constant(t) => *t,
                d => d.sample(&mut stream(self.seed, CACHED_PROMPT, &key)),
            },
        };
        let max_tokens = spec.max_tokens;
        let (traced_prompt, traced_output) = self.work.job(job).sizes;
        let prompt = traced_prompt.unwrap_or(round_to_u32(prompt));
        let sizes = Sizes {
            prompt,
            max_tokens,
            output: traced_output
                .unwrap_or(round_to_u32(output))
                .min(max_tokens),
            cached: round_to_u32(cached).min(prompt),
            cache_hit: false,
        };
        let call = self.new_call(task, now, sizes, None, 0);
        self.dispatch(now, call, true, q);
    }

    /// Creates a call (or hedge) and counts it.
    #[inline]
    pub(crate) fn new_call(
        &mut self,
        task: TaskId,
        now: SimTime,
        sizes: Sizes,
        primary: Option<CallId>,
        hedge_no: u8,
    ) -> CallId {
        self.ledger.life.calls_started += 1;
        self.client.insert(task, now, sizes, primary, hedge_no)
    }

    /// Sends `call`'s next attempt: through the client's admission line when the policy has one
    /// and the attempt passes through it (the SDK layer's retries do not), else straight out.
    #[inline]
    pub(crate) fn dispatch(
        &mut self,
        now: SimTime,
        call: CallId,
        through_admission: bool,
        q: &mut EventQueue<Event>,
    ) {
        if through_admission && self.client.uses_admission() {
            self.queue_for_admission(now, call, q);
        } else {
            self.send(now, call, q);
        }
    }

    fn queue_for_admission(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        let job = self.job_of(call);
        let tenant = self.work.job(job).tenant;
        let c = self.client.call_mut(call);
        c.in_line = true;
        let (prompt, max_tokens) = (c.sizes.prompt, c.sizes.max_tokens);
        self.client.admission.push(Waiting {
            call: call.0,
            prompt,
            max_tokens,
            tenant,
            job: job.0,
        });
        self.admit_waiting(now, q);
        // Counted after admission: a call the buckets let straight through never waited.
        self.ledger.client_queue(self.client.admission.len());
    }

    /// Lets waiting calls through the client's buckets while they hold enough, and sets a timer
    /// for when the next one might.
    pub(crate) fn admit_waiting(&mut self, now: SimTime, q: &mut EventQueue<Event>) {
        let depth = self.work.steps.len();
        loop {
            // A call sent from the line may have ended at once and left its task's steps: they
            // come before the next call leaves.
            self.walk_pending(now, depth, q);
            // Calls a policy delayed were let through and will be sent: they count.
            let in_flight = self.in_flight() + self.client.delayed;
            let open = self.client.hooks.iter().all(|h| h.admits(in_flight));
            match self.client.admission.pop_ready(now, &mut |_| open) {
                Popped::Ready(w) => {
                    let call = CallId(w.call);
                    self.client.call_mut(call).in_line = false;
                    self.send(now, call, q);
                }
                Popped::Wait(ns) => {
                    let at = now.after(ns);
                    if self.client.wake_at.is_none_or(|t| at < t) {
                        self.client.wake_at = Some(at);
                        q.push(at, Event::AdmissionWake);
                    }
                    return;
                }
                Popped::Blocked | Popped::Empty => return,
            }
        }
    }

    /// Gives the admission line another look if something this event did may have let a call
    /// through: a bucket got tokens back, or, under a gating policy, anything at all (an outcome
    /// it learned from, an attempt cut off or a delayed send going out frees a place). Deferred
    /// to the end of the event so that no call is sent, and possibly ended, while another call's
    /// outcome is still being handled.
    pub(crate) fn settle(&mut self, now: SimTime, q: &mut EventQueue<Event>) {
        if self.client.gated && !self.client.admission.is_empty() {
            self.client.line_may_move = true;
        }
        while self.client.line_may_move {
            self.client.line_may_move = false;
            self.admit_waiting(now, q);
        }
    }

    /// Asks the policies' gates, then offers one attempt of `call` to the provider.
    fn send(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        if !self.client.hooks.is_empty() {
            let key = self.attempt_key(call);
            let (seed, stamps) = (self.seed, &mut self.stamps);
            // A fresh stamp keys each draw apart from the attempt's other draws.
            let mut draw = || {
                let mut key = key;
                key[3] ^= stamps.issue() << 40;
                unit(&mut stream(seed, THROTTLE, &key))
            };
            let mut verdict = Verdict::Pass;
            for h in &mut self.client.hooks {
                verdict = h.gate(now, &mut draw);
                if verdict != Verdict::Pass {
                    break;
                }
            }
            match verdict {
                Verdict::Pass => {}
                Verdict::Delay(wait) => {
                    self.client.set_delayed(call, true);
                    let serial = self.client.call(call).serial;
                    q.push(
                        now.after(wait),
                        Event::send(
                            Key {
                                id: call,
                                stamp: serial,
                            },
                            false,
                        ),
                    );
                    return;
                }
                Verdict::ShortCircuit => {
                    self.ledger.short_circuited();
                    self.give_up(now, call, q);
                    return;
                }
                Verdict::Throttle => {
                    self.ledger.throttled_locally();
                    self.attempt_failed(now, call, Failure::RateLimited, None, q);
                    return;
                }
            }
        }
        let Some(target) = self.route_attempt(now, call) else {
            // Every provider of the route sits out a cooldown: the router refuses at once
            // (LiteLLM's "no deployments available"), with the wait until the first is back.
            self.ledger.throttled_locally();
            let back = match (&self.policy.route, &self.router) {
                (Some(route), Some(router)) => router.first_back(route),
                _ => now,
            };
            let wait_s = crate::engine::time::nanos_to_secs(back.since(now));
            self.attempt_failed(now, call, Failure::RateLimited, Some(wait_s), q);
            return;
        };
        let tenant = self.ledger_tenant(self.client.call(call).task);
        self.ledger.attempt_sent(tenant, target);
        let stamp = self.stamps.issue();
        let in_flight = self.in_flight();
        let c = self.client.call_mut(call);
        c.attempts += 1;
        c.attempt = stamp;
        c.sent_at = now;
        c.in_flight_at_send = in_flight + 1;
        if c.sizes.cached > 0 {
            let task = c.task;
            let hit_rate = self
                .call_spec(task)
                .cache
                .as_ref()
                .map_or(1.0, |c| c.hit_rate);
            // Keyed by the attempt: every policy sees the same hits for the same attempt.
            let hit = hit_rate >= 1.0
                || (hit_rate > 0.0
                    && unit(&mut stream(self.seed, CACHE_HIT, &self.attempt_key(call))) < hit_rate);
            self.client.call_mut(call).sizes.cache_hit = hit;
        }
        let c = self.client.call(call);
        let (first, sizes, is_hedge) = (c.attempts == 1, c.sizes, c.primary.is_some());
        if first && let Some(b) = self.client.budget.as_mut() {
            b.on_request(now);
        }
        let estimate = Resource::Tokens.estimate(
            self.providers[target].charged_prompt(&sizes),
            sizes.max_tokens,
        );
        if let Some(r) = self.router.as_mut() {
            r.sent(target, now, estimate);
        }
        match self.providers[target].offer(now, sizes) {
            Answer::Admitted => {
                for h in &mut self.client.hooks {
                    h.admitted(now);
                }
                self.ledger.admitted(now, target, estimate);
                if let Some(t) = self.policy.timeout_ns {
                    q.push(
                        now.after(t),
                        Event::Timeout {
                            call,
                            attempt: stamp,
                        },
                    );
                }
                if let Some(h) = &self.policy.hedge
                    && !is_hedge
                {
                    self.client.call_mut(call).hedges_sent = 0;
                    q.push(
                        now.after(h.delay_ns),
                        Event::Hedge {
                            call,
                            attempt: stamp,
                        },
                    );
                }
                let attempt_key = self.attempt_key(call);
                let request = self.providers[target].admit(
                    now,
                    call,
                    stamp,
                    sizes,
                    attempt_key,
                    &mut self.stamps,
                    q,
                );
                self.client.call_mut(call).request = Some(request);
            }
            Answer::RateLimited { retry_after_s } => {
                self.ledger.rate_limited(tenant, target);
                self.ledger.life.refused += 1;
                self.target_failed(now, target, true);
                self.observe(now, call, Outcome::RateLimited);
                self.attempt_failed(now, call, Failure::RateLimited, Some(retry_after_s), q);
            }
            Answer::ServerError => {
                self.ledger.server_error(target);
                self.ledger.life.down += 1;
                self.target_failed(now, target, false);
                self.observe(now, call, Outcome::ServerError);
                self.attempt_failed(now, call, Failure::ServerError, None, q);
            }
            Answer::TooLarge => {
                self.ledger.too_large();
                self.ledger.life.too_large += 1;
                self.give_up(now, call, q);
            }
        }
    }

    /// The provider `call`'s next attempt goes to: the one its last attempt went to, or, when
    /// the call picks afresh, the router's choice from its current hop on. `None` when every
    /// provider the route could use sits out a cooldown.
    fn route_attempt(&mut self, now: SimTime, call: CallId) -> Option<usize> {
        let Some(route) = &self.policy.route else {
            return Some(0);
        };
        let c = self.client.call(call);
        if !c.repick {
            return Some(c.target as usize);
        }
        let from = c.hop as usize;
        let key = self.attempt_key(call);
        let seed = self.seed;
        let providers = &self.providers;
        let router = self
            .router
            .as_mut()
            .expect("a policy with a route has a router");
        let pick = router.pick(
            route,
            now,
            from,
            // Keyed by the attempt: every policy routing alike draws alike.
            || unit(&mut stream(seed, ROUTE, &key)),
            |p| providers[p].in_flight(),
        )?;
        let c = self.client.call_mut(call);
        if pick.hop != c.hop {
            c.hop = pick.hop;
            c.hop_fails = 0;
        }
        c.target = pick.provider;
        c.repick = false;
        if pick.hop > 0 {
            self.ledger.fallback_to(pick.provider as usize);
        }
        Some(pick.provider as usize)
    }

    /// An attempt at `provider` failed (429, 5xx or timeout): the router counts it toward the
    /// provider's cooldown.
    fn target_failed(&mut self, now: SimTime, provider: usize, rate_limited: bool) {
        if let (Some(route), Some(router)) = (&self.policy.route, self.router.as_mut())
            && let Some(cd) = router.failed(route, provider, now, rate_limited)
        {
            self.ledger.cooled_down(now, cd.provider, cd.ns);
        }
    }

    /// Tells the policies how `call`'s attempt ended (callers held back by a gating policy get
    /// another look once the event's consequences are settled: [`World::settle`]).
    fn observe(&mut self, now: SimTime, call: CallId, outcome: Outcome) {
        if self.client.hooks.is_empty() {
            return;
        }
        let c = self.client.call(call);
        let sample = Sample {
            rtt_ns: now.since(c.sent_at),
            in_flight_at_send: c.in_flight_at_send,
        };
        for h in &mut self.client.hooks {
            h.observe(now, outcome, sample);
        }
    }

    /// The provider finished serving request `id`: the call is answered, or the attempt failed
    /// with a 500.
    pub(crate) fn served(
        &mut self,
        now: SimTime,
        provider: usize,
        id: RequestId,
        q: &mut EventQueue<Event>,
    ) {
        let r = self.providers[provider].finish(now, id, &mut self.stamps, q);
        self.ledger
            .left_provider(now, provider, r.stay.wait_ns, r.stay.total_ns);
        let call = r.call;
        self.client.call_mut(call).request = None;
        let outcome = if r.fails {
            Outcome::ServerError
        } else {
            Outcome::Ok
        };
        self.observe(now, call, outcome);
        if r.fails {
            self.ledger.server_error(provider);
            self.ledger.life.failed_in_service += 1;
            self.target_failed(now, provider, false);
            self.attempt_failed(now, call, Failure::ServerError, None, q);
            return;
        }
        let Sizes {
            prompt,
            max_tokens,
            output,
            ..
        } = r.sizes;
        self.ledger.answered(provider);
        if let Some(router) = self.router.as_mut() {
            let sent_at = self.client.call(call).sent_at;
            router.succeeded(provider, now);
            router.latency(
                provider,
                crate::engine::time::nanos_to_secs(now.since(sent_at)),
            );
        }
        self.bill(
            call,
            provider,
            prompt as u64,
            output as u64,
            r.sizes.cache_split(),
        );
        if output < max_tokens {
            let unused = (max_tokens - output) as f64;
            self.providers[provider].refund_unused_output(now, r.admitted_at, unused);
            if self.policy.refund_unused_output {
                let job = self.job_of(call);
                let tenant = self.work.job(job).tenant;
                self.client.admission.refund(now, tenant, job.0, unused);
                self.client.line_may_move = true;
            }
        }
        self.end_attempt(call);
        let retry_of = self.client.call(call).retry_of;
        if let Some(b) = self.client.budget.as_mut() {
            b.on_success(now, retry_of);
        }
        self.answered(now, call, q);
    }

    /// Stops `call`'s attempt at the provider, if it has one there: billed for what it used, all
    /// of it waste.
    pub(crate) fn cut_off(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        let Some(id) = self.client.call_mut(call).request.take() else {
            return;
        };
        let provider = self.client.call(call).target as usize;
        let cut = self.providers[provider].cut_off(now, id, &mut self.stamps, q);
        self.ledger
            .left_provider(now, provider, cut.stay.wait_ns, cut.stay.total_ns);
        self.ledger.life.cut_off += 1;
        if let Some((input, output)) = cut.billed {
            let cache = self.client.call(call).sizes.cache_split();
            self.bill(call, provider, input, output, cache);
            self.ledger.wasted(provider, input, output, cache);
        }
    }

    /// The client stops waiting for `call`'s attempt at its timeout.
    pub(crate) fn timed_out(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        let c = self.client.call(call);
        let (provider, sent_at) = (c.target as usize, c.sent_at);
        self.ledger.timed_out(provider);
        if let Some(router) = self.router.as_mut() {
            router.latency(
                provider,
                crate::engine::time::nanos_to_secs(now.since(sent_at)),
            );
        }
        self.target_failed(now, provider, false);
        self.cut_off(now, call, q);
        self.observe(now, call, Outcome::Timeout);
        self.attempt_failed(now, call, Failure::Timeout, None, q);
    }

    /// Bills `call`'s attempt at `provider` `input` and `output` tokens, of which `cache` =
    /// (reads, writes) of the input are cache tokens, for the run, its tenant and its job (whose
    /// work limits may stop it).
    #[inline]
    fn bill(&mut self, call: CallId, provider: usize, input: u64, output: u64, cache: (u64, u64)) {
        let cost = self.ledger.cost(provider, input, output, cache);
        let job = self.job_of(call);
        let j = self.work.job_mut(job);
        j.tokens += input + output;
        j.cost_usd += cost;
        let tenant = j.tenant;
        self.ledger.billed(tenant, provider, input, output, cache);
    }

    /// The innermost layer that retries `failure` and has attempts left retries, if the budget
    /// allows; the layers inside it start a new round.
    fn attempt_failed(
        &mut self,
        now: SimTime,
        call: CallId,
        failure: Failure,
        retry_after_s: Option<f64>,
        q: &mut EventQueue<Event>,
    ) {
        self.end_attempt(call);
        if let Some(b) = self.client.budget.as_mut() {
            b.on_failure(now);
        }
        if self.client.call(call).primary.is_some() {
            // A hedge that fails is simply gone; its call goes on.
            self.drop_hedge(call);
            return;
        }
        let layers = &self.policy.layers;
        let route = self.policy.route.as_ref();
        let refused = route.is_some() && self.client.call(call).repick;
        if route.is_some() && !refused {
            let c = self.client.call_mut(call);
            c.hop_fails = c.hop_fails.saturating_add(1);
        }
        let c = self.client.call(call);
        let layer = (0..layers.len())
            .find(|&i| layers[i].retry_on.covers(failure) && c.tries[i] < layers[i].max_attempts);
        // The SDK layers (sent straight out, innermost) retry on the same provider; past them
        // the router falls back, and past the router the application's layers retry.
        let sdk = layers.iter().take_while(|l| !l.through_admission).count();
        let router_done = !refused
            && route.is_some_and(|r| {
                r.falls_back_on(failure) && c.hop_fails as u32 >= r.fallback_after()
            });
        let next_hop = route.is_some_and(|r| c.hop as usize + 1 < r.hops());
        if layer.is_none_or(|i| i >= sdk) && router_done && next_hop {
            self.fall_back(now, call, failure, sdk, q);
            return;
        }
        let Some(i) = layer else {
            self.give_up(now, call, q);
            return;
        };
        let u = unit(&mut stream(self.seed, BACKOFF, &self.attempt_key(call)));
        let layer = &layers[i];
        let previous = Some(c.previous_wait_s[i]).filter(|w| !w.is_nan());
        let wait_s = layer.wait_secs(c.tries[i], previous, retry_after_s, u);
        let through_admission = layer.through_admission;
        let retry_at = now.after(secs_to_nanos(wait_s));
        if !self.grant_retry(now, call, failure, retry_at, q) {
            return;
        }
        let c = self.client.call_mut(call);
        c.tries[i] += 1;
        c.previous_wait_s[i] = wait_s;
        c.retry_of = Some(failure);
        c.retry_active = true;
        for j in 0..i {
            c.tries[j] = 1;
            c.previous_wait_s[j] = f64::NAN;
        }
        if i >= sdk {
            // The application retries through the router: it picks again, from the first hop
            // once every hop has had its turn.
            c.repick = true;
            if router_done || refused {
                c.hop = 0;
                c.hop_fails = 0;
            }
        }
        let serial = c.serial;
        self.ledger.retry_scheduled();
        q.push(
            retry_at,
            Event::send(
                Key {
                    id: call,
                    stamp: serial,
                },
                through_admission,
            ),
        );
    }

    /// Whether `call` may retry `failure` at `retry_at`: not past its deadlines, and the retry
    /// budget grants it (the retry then counts as active). When not, the call gives up.
    fn grant_retry(
        &mut self,
        now: SimTime,
        call: CallId,
        failure: Failure,
        retry_at: SimTime,
        q: &mut EventQueue<Event>,
    ) -> bool {
        if retry_at > self.deadline(call) {
            self.ledger.deadline_exceeded();
            self.give_up(now, call, q);
            return false;
        }
        let active_requests = self.in_flight() as u64 + self.client.admission.len() as u64;
        let active_retries = self.client.active_retries;
        if self
            .client
            .budget
            .as_mut()
            .is_some_and(|b| !b.try_retry(now, failure, active_requests, active_retries))
        {
            self.ledger.retry_throttled();
            self.give_up(now, call, q);
            return false;
        }
        self.client.active_retries += 1;
        true
    }

    /// The router moves `call` to its next hop after `failure`: its next attempt leaves at once,
    /// straight out (the router sits below the client's admission), with the `sdk` innermost
    /// layers starting a new round. A retry like any other for the budget and the deadlines.
    fn fall_back(
        &mut self,
        now: SimTime,
        call: CallId,
        failure: Failure,
        sdk: usize,
        q: &mut EventQueue<Event>,
    ) {
        if !self.grant_retry(now, call, failure, now, q) {
            return;
        }
        let c = self.client.call_mut(call);
        c.retry_of = Some(failure);
        c.retry_active = true;
        for j in 0..sdk {
            c.tries[j] = 1;
            c.previous_wait_s[j] = f64::NAN;
        }
        c.hop += 1;
        c.hop_fails = 0;
        c.repick = true;
        let serial = c.serial;
        self.ledger.retry_scheduled();
        q.push(
            now,
            Event::send(
                Key {
                    id: call,
                    stamp: serial,
                },
                false,
            ),
        );
    }

    /// The latest instant a retry of `call` may start: its own deadline or its job's, if any.
    fn deadline(&self, call: CallId) -> SimTime {
        let c = self.client.call(call);
        let job = self.work.job(self.job_of(call));
        let call_deadline = self
            .policy
            .call_deadline_ns
            .map_or(SimTime::MAX, |d| c.started.after(d));
        let job_deadline = self
            .policy
            .job_deadline_ns
            .map_or(SimTime::MAX, |d| job.arrived.after(d));
        call_deadline.min(job_deadline)
    }

    /// `call`'s current attempt has its outcome, or will never be sent: a retry it was stops
    /// counting as in flight. Every path that ends an attempt or abandons a granted retry comes
    /// here; it is idempotent.
    pub(crate) fn end_attempt(&mut self, call: CallId) {
        let c = self.client.call_mut(call);
        if c.retry_active {
            c.retry_active = false;
            self.client.active_retries -= 1;
        }
    }

    /// Removes `call`, which must have no attempt at the provider: it leaves the admission line
    /// if it waits there, and any pending `Send` of it goes stale. The one way a call ends.
    #[inline]
    pub(crate) fn end_call(&mut self, call: CallId) -> Ended {
        let client = &mut self.client;
        let c = client.calls.remove(call.index());
        debug_assert!(
            c.request.is_none(),
            "a call ended with an attempt in flight"
        );
        // What `end_attempt` and `set_delayed(false)` would do, on the removed value.
        client.active_retries -= c.retry_active as u64;
        client.delayed -= c.delayed as u32;
        if c.in_line {
            let tenant = self.work.tenant_of(c.task);
            let job = self.work.task(c.task).job;
            self.client.admission.withdraw(call.0, tenant, job.0);
        }
        self.ledger.life.calls_ended += 1;
        Ended {
            task: c.task,
            started: c.started,
            primary: c.primary,
        }
    }

    /// `call` gives up: a hedge is simply dropped; a call fails its task, whose agent the
    /// orchestrator may restart.
    pub(crate) fn give_up(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        if self.client.call(call).primary.is_some() {
            self.drop_hedge(call);
            return;
        }
        if self.policy.hedge.is_some() {
            self.cancel_hedges(now, call, q);
        }
        let c = self.end_call(call);
        let tenant = self.ledger_tenant(c.task);
        self.ledger.call_gave_up(tenant, now.since(c.started));
        let out_of_work = {
            use crate::engine::Model;
            self.work() >= self.scenario.guards.max_events
        };
        let t = self.work.task_mut(c.task);
        let restartable = matches!(self.scenario.nodes[t.node as usize], Node::Agent { .. });
        if restartable && t.generation < self.policy.agent_restarts {
            if out_of_work {
                // Restarts count as work: past the guard the agent stays as it is and the engine
                // stops the run after this event.
                return;
            }
            t.generation += 1;
            t.next = 0;
            self.ledger.agent_restarted();
            self.walk(now, crate::model::jobs::Step::Call { task: c.task }, q);
        } else {
            let job = t.job;
            self.work.job_mut(job).failed = true;
            self.complete(now, c.task, true, q);
        }
    }

    /// `call` is answered: record it and move its task on.
    pub(crate) fn call_succeeded(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        let c = self.end_call(call);
        let task = c.task;
        let tenant = self.ledger_tenant(task);
        self.ledger.call_answered(tenant, now.since(c.started));
        let t = self.work.task_mut(task);
        t.next += 1;
        if t.next >= t.total {
            self.complete(now, task, false, q);
            return;
        }
        let k = t.next;
        let think = match &self.scenario.nodes[t.node as usize] {
            Node::Agent {
                think_time_s: Dist::Constant(s),
                ..
            } => *s,
            Node::Agent {
                think_time_s: d, ..
            } => d.sample(&mut stream(self.seed, THINK, &self.call_key(task, k))),
            _ => 0.0,
        };
        let think_ns = secs_to_nanos(think);
        if think_ns == 0 {
            self.start_call(now, task, q);
        } else {
            q.push(now.after(think_ns), Event::NextCall { task });
        }
    }
}
