//! One policy running one workload against one provider: the simulation model proper.
//!
//! Task: turn the scenario's entities (jobs, agents, calls, attempts) into events on the engine,
//! drawing every random value from a stream keyed by what it is for, so that two policies run on
//! the same seed see the same jobs, token sizes, service times, errors and jitter draws.
//!
//! The life of a call: the agent issues it; it waits in the client's admission queue if the policy
//! has a shared bucket; each attempt is offered to the provider, which may be down (5xx/529), or
//! refuse it at a rate limit (429 with `retry_after`); an admitted attempt waits for a serving slot,
//! is served for `ttft + output_tokens / decode_rate` (slower under processor sharing), and is
//! billed, or fails with a transient 500, or is abandoned at the client's timeout (billed for what
//! was generated, and counted as waste). A failure goes to the innermost retry layer that retries
//! it and has attempts left, if the retry budget allows; otherwise the call gives up, failing its
//! agent, which the orchestrator may restart from its first call.

use super::admission::{Admission, Popped, Waiting};
use super::breaker::Breaker;
use super::budget::RetryBudget;
use super::concurrency::ConcurrencyLimit;
use super::config::ThrottleSpec;
use super::config::{Arrival, LimitKind, Policy, Resource, Scenario, Serving};
use super::config::{MAX_HEDGES, MAX_LAYERS};
use super::dist::Dist;
use super::limiter::Limiter;
use super::retry::Failure;
use super::throttle::{AdaptiveRateLimiter, SreThrottle};
use super::workload::{CallSpec, Node};
use crate::engine::rng::derive;
use crate::engine::rng::{StreamRng, purpose, stream, unit};
use crate::engine::time::{NANOS_PER_SEC, nanos_to_secs, secs_to_nanos};
use crate::engine::{EventQueue, GuardTripped, Model, RunStats, SimTime, run};
use crate::metrics::recorder::Distribution;
use crate::metrics::timeseries::{Gauges, Sample, TimeSeries};
use crate::metrics::{Metrics, Recorder, TenantMetrics};
use slab::Slab;
use std::collections::VecDeque;

const ARRIVALS: u64 = purpose("arrivals");
const FANOUT: u64 = purpose("fanout");
const CALL: u64 = purpose("call");
const SERVICE: u64 = purpose("service");
const BACKOFF: u64 = purpose("backoff");
const THINK: u64 = purpose("think");
const THROTTLE: u64 = purpose("throttle");
const JOB: u64 = purpose("job");
const CHILD: u64 = purpose("child");
const SPAWN: u64 = purpose("spawn");
const AGENT_CALLS: u64 = purpose("agent-calls");

/// How an attempt ended, for the policies that learn from it (breaker, adaptive limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    RateLimited,
    ServerError,
    Timeout,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    /// A source's next arrival (or its whole burst).
    Arrive { source: u32 },
    /// An attempt of `call` leaves the client, through its admission queue or straight to the wire.
    Send { call: u32, through_admission: bool },
    /// The provider finishes `call`'s attempt, unless `token` is stale (rescheduled or abandoned).
    Finish { call: u32, token: u64 },
    /// The client's per-attempt timeout for attempt `attempt` of `call`.
    Timeout { call: u32, attempt: u64 },
    /// An agent's pause between calls is over.
    NextCall { task: u32 },
    /// The client bucket may now hold enough for the head of its queue.
    AdmissionWake,
    /// The provider's capacity changes to step `step` of its schedule.
    Capacity { step: u32 },
    /// Time to hedge attempt `attempt` of `call` if it is still in flight.
    Hedge { call: u32, attempt: u64 },
}

struct SourceState {
    rng: StreamRng,
    emitted: u64,
}

struct Job {
    tenant: u32,
    arrived: SimTime,
    failed: bool,
    /// A work limit was reached: no new work starts.
    exhausted: bool,
    calls_started: u64,
    tokens: u64,
    cost_usd: f64,
    /// A traced job's own prompt and output tokens, overriding its template's.
    sizes: (Option<u32>, Option<u32>),
}

/// A running node of a job's tree.
struct Task {
    job: u32,
    parent: Option<u32>,
    node: u32,
    /// Names this task across policies (derived from its parent's key and its place).
    key: u64,
    /// Spawn level.
    depth: u32,
    /// Fan-out and spawn: children still running.
    pending: u32,
    /// Agent: calls made; sequence: steps started.
    next: u32,
    /// Agent: calls to make; sequence: steps.
    total: u32,
    /// Agent restarts so far (a restart is a new generation of its calls' draws).
    generation: u32,
    failed: bool,
}

/// Where a call's current attempt is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not at the provider: being created, waiting for admission or for a retry.
    Client,
    /// Admitted, waiting for a serving slot.
    Queued,
    /// Being served.
    Serving,
}

struct Call {
    /// The agent or call task it belongs to.
    task: u32,
    started: SimTime,
    prompt: u32,
    max_tokens: u32,
    output: u32,
    /// Attempts made by this incarnation of the call, all layers together.
    attempts: u32,
    /// Unique id of the current attempt (for timeouts).
    attempt_id: u64,
    /// Unique id of the current attempt's pending `Finish` event.
    finish_token: u64,
    phase: Phase,
    /// Attempts each layer has started in its current round (1 at the first attempt).
    tries: [u32; MAX_LAYERS],
    /// Each layer's previous wait, seconds (for decorrelated jitter).
    previous_wait_s: [Option<f64>; MAX_LAYERS],
    admitted_at: SimTime,
    service_started: SimTime,
    /// End of the time to first token of the attempt being served.
    ttft_end: SimTime,
    /// Decode rate of the attempt being served, tokens/s, before processor sharing.
    decode_rate: f64,
    /// Output tokens still to generate, as of `progress_at`.
    tokens_left: f64,
    progress_at: SimTime,
    /// The attempt being served fails with a 500 at its time to first token.
    fails: bool,
    /// The failure the current attempt retries, if it is a retry.
    retry_of: Option<Failure>,
    /// The current attempt is a retry counted in `active_retries`.
    retry_active: bool,
    /// For a hedge: the call it hedges.
    primary: Option<u32>,
    /// 0 for a call; 1, 2, ... for its hedges (keys their random draws apart).
    hedge_no: u32,
    /// For a call: its hedges in flight.
    hedges: [u32; MAX_HEDGES],
    live_hedges: u32,
    /// Hedges sent so far for the call's current attempt.
    hedges_sent: u32,
    /// A hedge won while this call waited to retry: it only waits for its pending event to be
    /// dropped.
    zombie: bool,
    /// When the current attempt was sent, and the client's attempts in flight then (itself
    /// included): the sample an adaptive concurrency limit learns from.
    sent_at: SimTime,
    in_flight_at_send: u32,
}

impl Call {
    /// A call (or, with `primary`, hedge number `hedge_no` of that call) issued at `now`.
    fn new(
        task: u32,
        now: SimTime,
        prompt: u32,
        max_tokens: u32,
        output: u32,
        primary: Option<u32>,
        hedge_no: u32,
    ) -> Call {
        Call {
            task,
            started: now,
            prompt,
            max_tokens,
            output,
            attempts: 0,
            attempt_id: 0,
            finish_token: 0,
            phase: Phase::Client,
            tries: [1; MAX_LAYERS],
            previous_wait_s: [None; MAX_LAYERS],
            admitted_at: now,
            service_started: now,
            ttft_end: now,
            decode_rate: 1.0,
            tokens_left: 0.0,
            progress_at: now,
            fails: false,
            retry_of: None,
            retry_active: false,
            primary,
            hedge_no,
            hedges: [0; MAX_HEDGES],
            live_hedges: 0,
            hedges_sent: 0,
            zombie: false,
            sent_at: now,
            in_flight_at_send: 0,
        }
    }
}

/// How the provider answered an attempt on arrival.
enum Answer {
    Admitted,
    /// 429, with a `retry_after` hint in whole seconds.
    RateLimited {
        retry_after_s: f64,
    },
    /// Down: 5xx or 529.
    ServerError,
    /// The attempt can never pass (its cost exceeds a limit's capacity): not retryable.
    TooLarge,
}

/// What a run produces.
pub struct RunOutput {
    /// The headline numbers.
    pub metrics: Metrics,
    /// The time series, when the scenario asks for one and details were requested.
    pub series: Option<Vec<Sample>>,
    /// Latency quantiles for CDF charts, when details were requested.
    pub distribution: Option<Distribution>,
    /// Each tenant's numbers, by tenant index.
    pub tenants: Vec<TenantMetrics>,
    /// The guard that stopped the run, when the scenario lets guards stop runs quietly.
    pub guard: Option<GuardTripped>,
}

/// The state of one run.
struct World<'a> {
    scenario: &'a Scenario,
    policy: &'a Policy,
    seed: u64,
    /// Each provider limit with what it counts and the most one attempt may ever cost against it
    /// (its configured burst or window limit, whatever the current capacity).
    limits: Vec<(Resource, Limiter, f64)>,
    decode_scale: f64,
    serving: u32,
    slots: u32,
    provider_queue: VecDeque<(u32, u64)>,
    queued: u32,
    /// Calls being served, for processor sharing.
    in_service: Vec<u32>,
    next_id: u64,
    admission: Admission,
    /// The earliest pending `AdmissionWake`, if any.
    wake_at: Option<SimTime>,
    budget: Option<RetryBudget>,
    /// Retries granted whose attempt has not ended (Envoy's retry budget counts these).
    active_retries: u64,
    breaker: Option<Breaker>,
    concurrency: Option<ConcurrencyLimit>,
    sre: Option<SreThrottle>,
    adaptive: Option<AdaptiveRateLimiter>,
    sources: Vec<SourceState>,
    jobs: Slab<Job>,
    tasks: Slab<Task>,
    calls: Slab<Call>,
    rec: Recorder,
    series: Option<TimeSeries>,
    /// Time of the last event that was not stale: the run's end.
    last_event: SimTime,
}

/// Runs `policy` on `scenario` with `seed`; the metrics, or the guard that stopped the run.
pub fn simulate(scenario: &Scenario, policy: &Policy, seed: u64) -> Result<Metrics, GuardTripped> {
    simulate_full(scenario, policy, seed, false).map(|o| o.metrics)
}

/// [`simulate`], also recording, when `details` is set, the latency distribution and (when the
/// scenario has an interval for it) the time series.
pub fn simulate_full(
    scenario: &Scenario,
    policy: &Policy,
    seed: u64,
    details: bool,
) -> Result<RunOutput, GuardTripped> {
    let p = &scenario.provider;
    let mut world = World {
        scenario,
        policy,
        seed,
        limits: p
            .limits
            .iter()
            .map(|l| {
                let (limiter, max) = match l.kind {
                    LimitKind::TokenBucket { rate_per_s, burst } => {
                        (Limiter::token_bucket(rate_per_s, burst), burst)
                    }
                    LimitKind::FixedWindow { limit, window_ns } => {
                        (Limiter::fixed_window(limit, window_ns), limit)
                    }
                    LimitKind::SlidingWindow { limit, window_ns } => {
                        (Limiter::sliding_window(limit, window_ns), limit)
                    }
                };
                (l.resource, limiter, max)
            })
            .collect(),
        decode_scale: 1.0,
        serving: 0,
        slots: p.concurrency.unwrap_or(u32::MAX),
        provider_queue: VecDeque::new(),
        queued: 0,
        in_service: Vec::new(),
        next_id: 0,
        admission: Admission::new(
            &policy.buckets,
            policy.discipline,
            scenario.tenants.len(),
            &scenario.tenant_weights,
        ),
        wake_at: None,
        budget: policy.budget.map(RetryBudget::new),
        active_retries: 0,
        breaker: policy.breaker.map(Breaker::new),
        concurrency: policy.concurrency.map(ConcurrencyLimit::new),
        sre: match policy.throttle {
            Some(ThrottleSpec::Sre { k, window_ns }) => Some(SreThrottle::new(k, window_ns)),
            _ => None,
        },
        adaptive: matches!(policy.throttle, Some(ThrottleSpec::AwsAdaptive))
            .then(AdaptiveRateLimiter::new),
        sources: (0..scenario.sources.len())
            .map(|i| SourceState {
                rng: stream(seed, ARRIVALS, &[i as u64]),
                emitted: 0,
            })
            .collect(),
        jobs: Slab::new(),
        tasks: Slab::new(),
        calls: Slab::new(),
        rec: Recorder::with_tenants(scenario.tenants.len()),
        series: if details {
            scenario.timeseries_interval_ns.map(TimeSeries::new)
        } else {
            None
        },
        last_event: SimTime::ZERO,
    };
    let mut queue = EventQueue::new();
    for i in 0..scenario.sources.len() {
        let first = world.next_arrival(i, SimTime::ZERO, true);
        if world.may_arrive(i, first) {
            queue.push(first, Event::Arrive { source: i as u32 });
        }
    }
    if let Some(first) = p.capacity.first() {
        queue.push(SimTime(first.at_ns), Event::Capacity { step: 0 });
    }
    let (events, guard) = match run(&mut world, &mut queue, &scenario.guards) {
        Ok(RunStats { events, .. }) => (events, None),
        // Stopping quietly: the state so far is consistent; report it, marked.
        Err(tripped) if scenario.guards.stop_quietly => (tripped.events, Some(tripped)),
        Err(tripped) => return Err(tripped),
    };
    let end = world.last_event;
    let gauges = world.gauges();
    let mut metrics =
        world
            .rec
            .finish(end, events, p.price_input_per_mtok, p.price_output_per_mtok);
    metrics.guard_tripped = guard.is_some() as u8 as f64;
    let tenants =
        world
            .rec
            .tenant_metrics(&metrics, p.price_input_per_mtok, p.price_output_per_mtok);
    Ok(RunOutput {
        guard,
        tenants,
        metrics,
        series: world.series.take().map(|s| s.finish(end, gauges)),
        distribution: details.then(|| world.rec.distribution()),
    })
}

impl Model for World<'_> {
    type Event = Event;

    #[inline]
    fn handle(&mut self, now: SimTime, event: Event, q: &mut EventQueue<Event>) {
        // Rescheduled and abandoned attempts leave stale events behind: they change nothing and
        // must not stretch the run's end (which time averages divide by).
        let stale = match event {
            Event::Finish { call, token } => !self
                .calls
                .get(call as usize)
                .is_some_and(|c| c.phase == Phase::Serving && c.finish_token == token),
            Event::Timeout { call, attempt } | Event::Hedge { call, attempt } => !self
                .calls
                .get(call as usize)
                .is_some_and(|c| c.phase != Phase::Client && c.attempt_id == attempt),
            Event::Send { call, .. } if self.calls.get(call as usize).is_some_and(|c| c.zombie) => {
                self.calls.remove(call as usize);
                true
            }
            _ => false,
        };
        if stale {
            return;
        }
        self.last_event = now;
        if self.series.as_ref().is_some_and(|s| s.due(now)) {
            let gauges = self.gauges();
            if let Some(s) = self.series.as_mut() {
                s.close_until(now, gauges);
            }
        }
        match event {
            Event::Arrive { source } => self.arrive(now, source as usize, q),
            Event::Send {
                call,
                through_admission,
            } => self.dispatch(now, call, through_admission, q),
            Event::Finish { call, .. } => self.finish(now, call, q),
            Event::Timeout { call, .. } => self.abandon(now, call, q),
            Event::NextCall { task } => self.start_call(now, task, q),
            Event::AdmissionWake => {
                if self.wake_at.is_some_and(|t| t <= now) {
                    self.wake_at = None;
                }
                self.admit_waiting(now, q);
            }
            Event::Capacity { step } => self.capacity_step(now, step as usize, q),
            Event::Hedge { call, .. } => self.hedge(now, call, q),
        }
    }

    #[inline]
    fn live_entities(&self) -> usize {
        self.jobs.len() + self.tasks.len() + self.calls.len()
    }
}

impl World<'_> {
    fn gauges(&self) -> Gauges {
        Gauges {
            in_flight: (self.serving + self.queued) as u64,
            provider_queue: self.queued as u64,
            client_queue: self.admission.len() as u64,
            limit_tokens_per_s: self
                .limits
                .iter()
                .find(|(r, _, _)| *r == Resource::Tokens)
                .map_or(f64::NAN, |(_, l, _)| l.rate_per_s()),
            spend_usd: {
                let p = &self.scenario.provider;
                (self.rec.tokens_input as f64 * p.price_input_per_mtok
                    + self.rec.tokens_output as f64 * p.price_output_per_mtok)
                    / 1e6
            },
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn interarrival(&mut self, source: usize, rate_per_s: f64) -> u64 {
        let u = unit(&mut self.sources[source].rng);
        // Inverse transform: -ln(1 - U) / rate, with 1 - U in (0, 1].
        secs_to_nanos(-(1.0 - u).ln() / rate_per_s)
    }

    /// When source `i` emits its next job after one at `now` (`first`: its first job).
    fn next_arrival(&mut self, i: usize, now: SimTime, first: bool) -> SimTime {
        match &self.scenario.sources[i].arrival {
            Arrival::Burst { at_ns, .. } => SimTime(*at_ns),
            Arrival::Poisson { rate_per_s, .. } => {
                let rate = *rate_per_s;
                now.after(self.interarrival(i, rate))
            }
            Arrival::Interval {
                every_ns, at_ns, ..
            } => {
                if first {
                    SimTime(*at_ns)
                } else {
                    now.after(*every_ns)
                }
            }
            Arrival::Diurnal {
                mean_rate_per_s,
                amplitude,
                period_ns,
                peak_ns,
                until_ns,
                ..
            } => {
                // Thinning: candidates at the peak rate, each kept with probability rate(t)/peak.
                let (mean, amplitude, period, peak) = (
                    *mean_rate_per_s,
                    *amplitude,
                    *period_ns as f64,
                    *peak_ns as f64,
                );
                let until = until_ns.map_or(SimTime::MAX, SimTime);
                let max_rate = mean * (1.0 + amplitude);
                let mut t = now;
                loop {
                    t = t.after(self.interarrival(i, max_rate));
                    let phase = 2.0 * std::f64::consts::PI * (t.0 as f64 - peak) / period;
                    let rate = mean * (1.0 + amplitude * phase.cos());
                    if t > until || unit(&mut self.sources[i].rng) * max_rate < rate {
                        return t;
                    }
                }
            }
            Arrival::Trace(rows) => rows
                .get(self.sources[i].emitted as usize)
                .map_or(SimTime::MAX, |r| SimTime(r.at_ns)),
        }
    }

    /// Whether source `i` still emits a job at `at`.
    fn may_arrive(&self, i: usize, at: SimTime) -> bool {
        let emitted = self.sources[i].emitted;
        match &self.scenario.sources[i].arrival {
            Arrival::Burst { .. } => emitted == 0,
            Arrival::Poisson {
                count, until_ns, ..
            }
            | Arrival::Interval {
                count, until_ns, ..
            }
            | Arrival::Diurnal {
                count, until_ns, ..
            } => count.is_none_or(|c| emitted < c) && until_ns.is_none_or(|u| at.0 <= u),
            Arrival::Trace(rows) => (emitted as usize) < rows.len(),
        }
    }

    fn arrive(&mut self, now: SimTime, source: usize, q: &mut EventQueue<Event>) {
        if let Arrival::Burst { count, .. } = self.scenario.sources[source].arrival {
            for _ in 0..count {
                self.create_job(now, source, q);
            }
            return;
        }
        self.create_job(now, source, q);
        let next = self.next_arrival(source, now, false);
        if self.may_arrive(source, next) {
            q.push(
                next,
                Event::Arrive {
                    source: source as u32,
                },
            );
        }
    }

    fn capacity_step(&mut self, now: SimTime, step: usize, q: &mut EventQueue<Event>) {
        let steps = &self.scenario.provider.capacity;
        let s = steps[step];
        for (_, limiter, _) in &mut self.limits {
            limiter.set_scale(now, s.limits);
        }
        self.decode_scale = s.decode;
        if let Some(next) = steps.get(step + 1) {
            q.push(
                SimTime(next.at_ns),
                Event::Capacity {
                    step: step as u32 + 1,
                },
            );
        }
    }

    fn create_job(&mut self, now: SimTime, source: usize, q: &mut EventQueue<Event>) {
        let index = self.sources[source].emitted;
        self.sources[source].emitted += 1;
        self.rec.jobs += 1;
        let src = &self.scenario.sources[source];
        let (tenant, root, sizes) = match &src.arrival {
            Arrival::Trace(rows) => {
                let r = &rows[index as usize];
                (r.tenant, r.root, (r.prompt_tokens, r.output_tokens))
            }
            _ => (
                src.tenant + (index % src.spread.max(1) as u64) as u32,
                src.root,
                (None, None),
            ),
        };
        if let Some(t) = self.rec.tenants.get_mut(tenant as usize) {
            t.jobs += 1;
        }
        let job = self.jobs.insert(Job {
            tenant,
            arrived: now,
            failed: false,
            exhausted: false,
            calls_started: 0,
            tokens: 0,
            cost_usd: 0.0,
            sizes,
        }) as u32;
        self.admission.job_started(job);
        let key = derive(0, JOB, &[source as u64, index]);
        self.start_task(now, job, None, root, key, 0, q);
    }

    /// Draws a count (a width, a number of calls) from `dist` on the stream of `purpose` and
    /// `key`; constants draw nothing.
    fn count(&self, dist: &Dist, purpose: u64, key: u64) -> u32 {
        let v = match dist {
            Dist::Constant(v) => *v,
            d => d.sample(&mut stream(self.seed, purpose, &[key])),
        };
        v.round() as u32
    }

    /// Whether job `job` may start more work at `now`; marks it exhausted when a limit says no.
    fn may_work(&mut self, now: SimTime, job: u32) -> bool {
        let limits = &self.policy.work_limits;
        let j = &mut self.jobs[job as usize];
        if !j.exhausted {
            let over = limits.max_calls.is_some_and(|m| j.calls_started >= m)
                || limits.max_tokens.is_some_and(|m| j.tokens >= m)
                || limits.max_cost_usd.is_some_and(|m| j.cost_usd >= m)
                || limits
                    .max_duration_ns
                    .is_some_and(|m| now.since(j.arrived) >= m);
            j.exhausted = over;
        }
        !j.exhausted
    }

    /// Creates a task for `node` and starts it. Beyond the live-entity guard it creates nothing
    /// (the engine stops the run right after this event).
    #[allow(clippy::too_many_arguments)]
    fn start_task(
        &mut self,
        now: SimTime,
        job: u32,
        parent: Option<u32>,
        node: usize,
        key: u64,
        depth: u32,
        q: &mut EventQueue<Event>,
    ) {
        if self.live_entities() > self.scenario.guards.max_live {
            return;
        }
        let task = self.tasks.insert(Task {
            job,
            parent,
            node: node as u32,
            key,
            depth,
            pending: 0,
            next: 0,
            total: 0,
            generation: 0,
            failed: false,
        }) as u32;
        if !self.may_work(now, job) {
            self.complete(now, task, false, q);
            return;
        }
        let nodes = &self.scenario.nodes;
        match &nodes[node] {
            Node::Call(_) => {
                self.tasks[task as usize].total = 1;
                self.start_call(now, task, q);
            }
            Node::Agent { calls, .. } => {
                let total = self.count(calls, AGENT_CALLS, key);
                self.tasks[task as usize].total = total;
                if total == 0 {
                    self.complete(now, task, false, q);
                } else {
                    self.start_call(now, task, q);
                }
            }
            Node::Seq { steps } => {
                self.tasks[task as usize].total = steps.len() as u32;
                match steps.first() {
                    Some(&first) => self.start_task(
                        now,
                        job,
                        Some(task),
                        first,
                        derive(key, CHILD, &[0]),
                        depth,
                        q,
                    ),
                    None => self.complete(now, task, false, q),
                }
            }
            Node::Fanout { width, child } => {
                let (width, child) = (self.count(width, FANOUT, key), *child);
                self.start_children(now, task, child, width, depth, q);
            }
            Node::Parallel { branches } => {
                if branches.is_empty() {
                    self.complete(now, task, false, q);
                } else {
                    // Counted before any starts, as in `start_children`.
                    self.tasks[task as usize].pending = branches.len() as u32;
                    for i in 0..branches.len() {
                        let Node::Parallel { branches } = &self.scenario.nodes[node] else {
                            unreachable!()
                        };
                        let branch = branches[i];
                        self.start_task(
                            now,
                            job,
                            Some(task),
                            branch,
                            derive(key, CHILD, &[i as u64]),
                            depth,
                            q,
                        );
                    }
                }
            }
            Node::Spawn {
                probability,
                width,
                child,
                max_depth,
            } => {
                let (p, child, max_depth) = (*probability, *child, *max_depth);
                let spawns = depth < max_depth && unit(&mut stream(self.seed, SPAWN, &[key])) < p;
                if !spawns {
                    self.complete(now, task, false, q);
                } else if self
                    .policy
                    .work_limits
                    .max_depth
                    .is_some_and(|m| depth + 1 > m)
                {
                    self.jobs[job as usize].exhausted = true;
                    self.complete(now, task, false, q);
                } else {
                    let width = self.count(width, FANOUT, key);
                    self.start_children(now, task, child, width, depth + 1, q);
                }
            }
        }
    }

    /// Starts `width` copies of `child` under `task` (cut to the policy's `max_fanout`).
    fn start_children(
        &mut self,
        now: SimTime,
        task: u32,
        child: usize,
        width: u32,
        depth: u32,
        q: &mut EventQueue<Event>,
    ) {
        let t = &self.tasks[task as usize];
        let (job, key) = (t.job, t.key);
        let width = match self.policy.work_limits.max_fanout {
            Some(m) if width > m => {
                self.jobs[job as usize].exhausted = true;
                m
            }
            _ => width,
        };
        if width == 0 {
            self.complete(now, task, false, q);
            return;
        }
        // Every child is counted before any starts: one that ends at once cannot end its parent
        // before its siblings exist.
        self.tasks[task as usize].pending = width;
        for i in 0..width {
            self.start_task(
                now,
                job,
                Some(task),
                child,
                derive(key, CHILD, &[i as u64]),
                depth,
                q,
            );
        }
        // Children not created (beyond the live-entity guard) will never report: the run is
        // about to stop, so nothing waits on them.
    }

    /// `task` ended; its parent (or its job) learns of it.
    fn complete(&mut self, now: SimTime, task: u32, failed: bool, q: &mut EventQueue<Event>) {
        let t = self.tasks.remove(task as usize);
        match t.parent {
            Some(parent) => self.child_done(now, parent, failed, q),
            None => self.job_done(now, t.job, failed),
        }
    }

    fn child_done(&mut self, now: SimTime, parent: u32, failed: bool, q: &mut EventQueue<Event>) {
        let p = &mut self.tasks[parent as usize];
        match &self.scenario.nodes[p.node as usize] {
            Node::Seq { steps } => {
                p.next += 1;
                if failed || p.next >= p.total {
                    self.complete(now, parent, failed, q);
                } else {
                    let (job, key, depth, i) = (p.job, p.key, p.depth, p.next);
                    let step = steps[i as usize];
                    self.start_task(
                        now,
                        job,
                        Some(parent),
                        step,
                        derive(key, CHILD, &[i as u64]),
                        depth,
                        q,
                    );
                }
            }
            _ => {
                p.pending -= 1;
                p.failed |= failed;
                if p.pending == 0 {
                    let failed = p.failed;
                    self.complete(now, parent, failed, q);
                }
            }
        }
    }

    fn job_done(&mut self, now: SimTime, job: u32, failed: bool) {
        let j = self.jobs.remove(job as usize);
        let latency = now.since(j.arrived);
        self.rec.job_latency.record(latency);
        let tenant = self.rec.tenants.get_mut(j.tenant as usize);
        if j.exhausted {
            self.rec.jobs_budget_exhausted += 1;
        } else if failed || j.failed {
            self.rec.jobs_failed += 1;
        } else {
            self.rec.jobs_ok += 1;
        }
        if let Some(t) = tenant {
            t.job_latency.record(latency);
            if j.exhausted {
                t.jobs_budget_exhausted += 1;
            } else if failed || j.failed {
                t.jobs_failed += 1;
            } else {
                t.jobs_ok += 1;
            }
        }
        self.rec.last_job_end = now;
    }

    /// The per-tenant counts of `call`'s tenant, when tenants are counted apart.
    fn tenant_rec(&mut self, call: u32) -> Option<&mut crate::metrics::recorder::TenantRecorder> {
        if self.rec.tenants.is_empty() {
            return None;
        }
        let job = self.job_of(call);
        let tenant = self.jobs[job as usize].tenant;
        self.rec.tenants.get_mut(tenant as usize)
    }

    fn tenant_call_latency(&mut self, task: u32, nanos: u64) {
        if self.rec.tenants.is_empty() {
            return;
        }
        let tenant = self.jobs[self.tasks[task as usize].job as usize].tenant;
        self.rec.tenants[tenant as usize].call_latency.record(nanos);
    }

    /// Bills `call`'s attempt `input` and `output` tokens, for the run, its tenant and its job
    /// (whose work limits may stop it).
    fn bill(&mut self, call: u32, input: u64, output: u64) {
        self.rec.tokens_input += input;
        self.rec.tokens_output += output;
        let p = &self.scenario.provider;
        let cost =
            (input as f64 * p.price_input_per_mtok + output as f64 * p.price_output_per_mtok) / 1e6;
        let job = self.job_of(call);
        let j = &mut self.jobs[job as usize];
        j.tokens += input + output;
        j.cost_usd += cost;
        if let Some(t) = self.rec.tenants.get_mut(j.tenant as usize) {
            t.tokens_input += input;
            t.tokens_output += output;
        }
    }

    /// The sizes of the calls `task` makes.
    fn call_spec(&self, task: u32) -> &CallSpec {
        match &self.scenario.nodes[self.tasks[task as usize].node as usize] {
            Node::Call(spec) | Node::Agent { call: spec, .. } => spec,
            _ => unreachable!("only call and agent tasks make calls"),
        }
    }

    /// Ids that name a task's `k`-th call across policies.
    #[inline]
    fn call_key(&self, task: u32, k: u32) -> [u64; 2] {
        [self.tasks[task as usize].key, k as u64]
    }

    /// Ids that name the current attempt of `call` across policies.
    #[inline]
    fn attempt_key(&self, call: u32) -> [u64; 4] {
        let c = &self.calls[call as usize];
        let t = &self.tasks[c.task as usize];
        [
            t.key,
            t.next as u64,
            t.generation as u64,
            c.attempts as u64 | (c.hedge_no as u64) << 32,
        ]
    }

    fn start_call(&mut self, now: SimTime, task: u32, q: &mut EventQueue<Event>) {
        let job = self.tasks[task as usize].job;
        if !self.may_work(now, job) {
            self.complete(now, task, false, q);
            return;
        }
        self.jobs[job as usize].calls_started += 1;
        let key = self.call_key(task, self.tasks[task as usize].next);
        let spec = self.call_spec(task);
        let (prompt, output) = match (&spec.prompt_tokens, &spec.output_tokens) {
            // Constants draw nothing: skip keying a stream (a tenth of an M/M/1 run's work).
            (Dist::Constant(p), Dist::Constant(o)) => (*p, *o),
            (p, o) => {
                let mut rng = stream(self.seed, CALL, &key);
                (p.sample(&mut rng), o.sample(&mut rng))
            }
        };
        let max_tokens = spec.max_tokens;
        let (traced_prompt, traced_output) = self.jobs[job as usize].sizes;
        let prompt = traced_prompt.unwrap_or(prompt.round() as u32);
        let output = traced_output
            .unwrap_or(output.round() as u32)
            .min(max_tokens);
        let call = self
            .calls
            .insert(Call::new(task, now, prompt, max_tokens, output, None, 0))
            as u32;
        self.dispatch(now, call, true, q);
    }

    /// Tells the policies that learn from outcomes how `call`'s attempt ended: the breaker counts
    /// it, the AWS adaptive limiter adjusts its rate on throttling, an adaptive concurrency limit
    /// takes the sample (a 429 or a timeout is a drop; a server error is not a sample), and
    /// callers held back by the concurrency limit get another look.
    fn observe(&mut self, now: SimTime, call: u32, outcome: Outcome, q: &mut EventQueue<Event>) {
        if let Some(b) = self.breaker.as_mut() {
            if outcome == Outcome::Ok {
                b.on_success(now);
            } else {
                b.on_failure(now);
            }
        }
        if let Some(a) = self.adaptive.as_mut() {
            a.on_response(now, outcome == Outcome::RateLimited);
        }
        if let Some(l) = self.concurrency.as_mut() {
            if outcome != Outcome::ServerError {
                let c = &self.calls[call as usize];
                let dropped = matches!(outcome, Outcome::RateLimited | Outcome::Timeout);
                l.on_sample(now, now.since(c.sent_at), c.in_flight_at_send, dropped);
            }
            self.admit_waiting(now, q);
        }
    }

    /// Sends `call`'s next attempt: through the client's admission line when the policy has one
    /// and the attempt passes through it (the SDK layer's retries do not), else straight out.
    fn dispatch(
        &mut self,
        now: SimTime,
        call: u32,
        through_admission: bool,
        q: &mut EventQueue<Event>,
    ) {
        if through_admission && self.uses_admission() {
            self.queue_for_admission(now, call, q);
        } else {
            self.send(now, call, q);
        }
    }

    /// The job `call` belongs to.
    #[inline]
    fn job_of(&self, call: u32) -> u32 {
        self.tasks[self.calls[call as usize].task as usize].job
    }

    /// Whether calls wait for admission: for client buckets or a concurrency limit.
    fn uses_admission(&self) -> bool {
        self.admission.has_buckets() || self.concurrency.is_some()
    }

    fn queue_for_admission(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        let c = &self.calls[call as usize];
        let job = self.job_of(call);
        let tenant = self.jobs[job as usize].tenant;
        let cost = Resource::Tokens.estimate(c.prompt, c.max_tokens);
        self.admission.push(Waiting {
            call,
            cost,
            tenant,
            job,
        });
        self.admit_waiting(now, q);
        // Counted after admission: a call the buckets let straight through never waited.
        self.rec.client_queue(self.admission.len());
    }

    /// Lets waiting calls through the client's buckets while they hold enough, and sets a timer
    /// for when the next one might.
    fn admit_waiting(&mut self, now: SimTime, q: &mut EventQueue<Event>) {
        loop {
            let in_flight = self.serving + self.queued;
            let open = self
                .concurrency
                .as_ref()
                .is_none_or(|c| in_flight < c.limit());
            match self.admission.pop_ready(now, &mut |_| open) {
                Popped::Ready(w) if self.calls[w.call as usize].zombie => {
                    self.calls.remove(w.call as usize);
                }
                Popped::Ready(w) => self.send(now, w.call, q),
                Popped::Wait(ns) => {
                    let at = now.after(ns);
                    if self.wake_at.is_none_or(|t| at < t) {
                        self.wake_at = Some(at);
                        q.push(at, Event::AdmissionWake);
                    }
                    return;
                }
                Popped::Blocked | Popped::Empty => return,
            }
        }
    }

    /// Offers one attempt to the provider.
    fn offer(&mut self, now: SimTime, call: u32) -> Answer {
        let p = &self.scenario.provider;
        if p.outages
            .iter()
            .any(|o| o.start_ns <= now.0 && now.0 < o.end_ns)
        {
            return Answer::ServerError;
        }
        if p.max_in_flight
            .is_some_and(|m| self.serving + self.queued >= m)
        {
            return Answer::RateLimited { retry_after_s: 1.0 };
        }
        let c = &self.calls[call as usize];
        let (prompt, max_tokens) = (c.prompt, c.max_tokens);
        let mut wait_ns = 0u64;
        for (resource, limiter, max) in &mut self.limits {
            let need = resource.estimate(prompt, max_tokens);
            if need > *max {
                return Answer::TooLarge;
            }
            wait_ns = wait_ns.max(limiter.wait_nanos(now, need));
        }
        if wait_ns == 0 {
            for (resource, limiter, _) in &mut self.limits {
                limiter.take(now, resource.estimate(prompt, max_tokens));
            }
            return Answer::Admitted;
        }
        if p.count_rejected {
            for (resource, limiter, _) in &mut self.limits {
                limiter.count_refused(now, resource.estimate(prompt, max_tokens));
            }
        }
        // Providers send Retry-After in whole seconds, rounded up. `wait_nanos` adds one
        // nanosecond of rounding slack, which must not push an exact 10 s hint to 11 s. A wait
        // that cannot end at the current capacity (a brownout shrank a window below the request)
        // is answered with the longest hint the SDKs honour.
        let whole_secs = if wait_ns == u64::MAX {
            60
        } else {
            wait_ns.saturating_sub(1).div_ceil(NANOS_PER_SEC).max(1)
        };
        Answer::RateLimited {
            retry_after_s: whole_secs as f64,
        }
    }

    fn send(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        // Client-side checks before anything goes on the wire.
        if let Some(a) = self.adaptive.as_mut() {
            let wait = a.acquire_wait_ns(now);
            if wait > 0 {
                q.push(
                    now.after(wait),
                    Event::Send {
                        call,
                        through_admission: false,
                    },
                );
                return;
            }
        }
        if self.breaker.as_mut().is_some_and(|b| !b.allow(now)) {
            self.rec.short_circuited += 1;
            self.give_up(now, call, q);
            return;
        }
        if let Some(t) = self.sre.as_mut() {
            let p = t.reject_probability(now);
            t.on_request(now);
            if p > 0.0 {
                let id = self.next_id();
                let mut key = self.attempt_key(call);
                key[3] ^= id << 40;
                if unit(&mut stream(self.seed, THROTTLE, &key)) < p {
                    self.rec.throttled_locally += 1;
                    self.attempt_failed(now, call, Failure::RateLimited, None, q);
                    return;
                }
            }
        }
        self.rec.attempts += 1;
        if let Some(t) = self.tenant_rec(call) {
            t.attempts += 1;
        }
        let attempt_id = self.next_id();
        let c = &mut self.calls[call as usize];
        c.attempts += 1;
        c.attempt_id = attempt_id;
        c.sent_at = now;
        c.in_flight_at_send = self.serving + self.queued + 1;
        if c.attempts == 1
            && let Some(b) = self.budget.as_mut()
        {
            b.on_request(now);
        }
        match self.offer(now, call) {
            Answer::Admitted => {
                if let Some(t) = self.sre.as_mut() {
                    t.on_accept(now);
                }
                self.rec.in_flight_changed(now, 1);
                if let Some(s) = self.series.as_mut() {
                    let c = &self.calls[call as usize];
                    s.counts.admitted_tokens += Resource::Tokens.estimate(c.prompt, c.max_tokens);
                }
                self.calls[call as usize].admitted_at = now;
                if let Some(t) = self.policy.timeout_ns {
                    q.push(
                        now.after(t),
                        Event::Timeout {
                            call,
                            attempt: attempt_id,
                        },
                    );
                }
                if let Some(h) = &self.policy.hedge {
                    let c = &mut self.calls[call as usize];
                    if c.primary.is_none() {
                        c.hedges_sent = 0;
                        q.push(
                            now.after(h.delay_ns),
                            Event::Hedge {
                                call,
                                attempt: attempt_id,
                            },
                        );
                    }
                }
                if self.serving < self.slots {
                    self.start_service(now, call, q);
                } else {
                    self.calls[call as usize].phase = Phase::Queued;
                    self.queued += 1;
                    self.provider_queue.push_back((call, attempt_id));
                }
            }
            Answer::RateLimited { retry_after_s } => {
                self.rec.rate_limited += 1;
                if let Some(t) = self.tenant_rec(call) {
                    t.rate_limited += 1;
                }
                if let Some(s) = self.series.as_mut() {
                    s.counts.rate_limited += 1;
                }
                self.observe(now, call, Outcome::RateLimited, q);
                self.attempt_failed(now, call, Failure::RateLimited, Some(retry_after_s), q);
            }
            Answer::ServerError => {
                self.rec.server_errors += 1;
                if let Some(s) = self.series.as_mut() {
                    s.counts.errors += 1;
                }
                self.observe(now, call, Outcome::ServerError, q);
                self.attempt_failed(now, call, Failure::ServerError, None, q);
            }
            Answer::TooLarge => {
                self.rec.errors += 1;
                self.give_up(now, call, q);
            }
        }
    }

    /// Processor sharing: the factor each decoding attempt's rate is multiplied by.
    #[inline]
    fn share(&self) -> f64 {
        match self.scenario.provider.serving {
            Serving::Fifo => 1.0,
            Serving::Shared { above } => (above as f64 / self.serving.max(1) as f64).min(1.0),
        }
    }

    /// Brings `call`'s decoding progress up to `now` at sharing factor `share`.
    #[inline]
    fn progress(c: &mut Call, now: SimTime, share: f64) {
        let from = c.progress_at.max(c.ttft_end);
        if now > from {
            c.tokens_left =
                (c.tokens_left - c.decode_rate * share * nanos_to_secs(now.since(from))).max(0.0);
        }
        c.progress_at = now;
    }

    /// Schedules the end of `call`'s service at the current sharing factor.
    fn schedule_finish(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        let share = self.share();
        let token = self.next_id();
        let c = &mut self.calls[call as usize];
        c.finish_token = token;
        let at = if c.fails {
            c.ttft_end
        } else {
            c.ttft_end
                .max(now)
                .after(secs_to_nanos(c.tokens_left / (c.decode_rate * share)))
        };
        q.push(at, Event::Finish { call, token });
    }

    /// Under processor sharing, the number served changed: bring everyone's progress up to `now`
    /// at the old factor and reschedule their ends at the new one.
    fn reshare(&mut self, now: SimTime, old_share: f64, q: &mut EventQueue<Event>) {
        if matches!(self.scenario.provider.serving, Serving::Fifo) || self.share() == old_share {
            return;
        }
        for i in 0..self.in_service.len() {
            let call = self.in_service[i];
            Self::progress(&mut self.calls[call as usize], now, old_share);
            self.schedule_finish(now, call, q);
        }
    }

    fn start_service(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        let old_share = self.share();
        self.serving += 1;
        let key = self.attempt_key(call);
        let mut rng = stream(self.seed, SERVICE, &key);
        let p = &self.scenario.provider;
        let ttft = p.ttft_s.sample(&mut rng);
        let c = &self.calls[call as usize];
        let rate = if c.output > 0 {
            p.decode_tokens_per_s.sample(&mut rng).max(1e-9) * self.decode_scale
        } else {
            1.0
        };
        let fails = p.error_rate > 0.0 && unit(&mut rng) < p.error_rate;
        let c = &mut self.calls[call as usize];
        c.phase = Phase::Serving;
        c.service_started = now;
        c.ttft_end = now.after(secs_to_nanos(ttft));
        c.decode_rate = rate;
        c.tokens_left = c.output as f64;
        c.progress_at = now;
        c.fails = fails;
        if !matches!(p.serving, Serving::Fifo) {
            self.in_service.push(call);
            self.reshare(now, old_share, q);
        }
        self.schedule_finish(now, call, q);
    }

    /// Frees `call`'s serving slot and starts the next queued attempt.
    fn end_service(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        let old_share = self.share();
        if !matches!(self.scenario.provider.serving, Serving::Fifo) {
            for i in 0..self.in_service.len() {
                let other = self.in_service[i];
                Self::progress(&mut self.calls[other as usize], now, old_share);
            }
            if let Some(i) = self.in_service.iter().position(|&c| c == call) {
                self.in_service.swap_remove(i);
            }
        }
        self.serving -= 1;
        self.rec.in_flight_changed(now, -1);
        self.calls[call as usize].phase = Phase::Client;
        while let Some((next, attempt)) = self.provider_queue.pop_front() {
            let live = self
                .calls
                .get(next as usize)
                .is_some_and(|c| c.phase == Phase::Queued && c.attempt_id == attempt);
            if live {
                self.queued -= 1;
                self.start_service(now, next, q);
                return;
            }
        }
        self.reshare(now, old_share, q);
    }

    fn finish(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        let c = &self.calls[call as usize];
        let (fails, prompt, output, max_tokens, admitted_at) =
            (c.fails, c.prompt, c.output, c.max_tokens, c.admitted_at);
        self.rec.served(
            c.service_started.since(c.admitted_at),
            now.since(c.admitted_at),
        );
        self.end_service(now, call, q);
        self.observe(
            now,
            call,
            if fails {
                Outcome::ServerError
            } else {
                Outcome::Ok
            },
            q,
        );
        if fails {
            self.rec.server_errors += 1;
            if let Some(s) = self.series.as_mut() {
                s.counts.errors += 1;
            }
            self.attempt_failed(now, call, Failure::ServerError, None, q);
            return;
        }
        self.bill(call, prompt as u64, output as u64);
        if self.scenario.provider.refund_unused_output && output < max_tokens {
            let unused = (max_tokens - output) as f64;
            for (resource, limiter, _) in &mut self.limits {
                if resource.counts_output() {
                    limiter.refund(now, admitted_at, unused);
                }
            }
        }
        if self.policy.refund_unused_output && output < max_tokens {
            let job = self.job_of(call);
            let tenant = self.jobs[job as usize].tenant;
            self.admission
                .refund(now, tenant, job, (max_tokens - output) as f64);
            self.admit_waiting(now, q);
        }
        self.attempt_over(call);
        let retry_of = self.calls[call as usize].retry_of;
        if let Some(b) = self.budget.as_mut() {
            b.on_success(now, retry_of);
        }
        if let Some(s) = self.series.as_mut() {
            s.counts.completed += 1;
        }
        let winner = match self.calls[call as usize].primary {
            // A hedge came back first: the call it hedges is answered.
            Some(primary) => {
                self.drop_hedge(call);
                self.rec.hedges_won += 1;
                if self.calls[primary as usize].phase == Phase::Client {
                    // Waiting to retry: it goes when its pending event comes.
                    self.calls[primary as usize].zombie = true;
                } else {
                    self.cut_off(now, primary, q);
                }
                primary
            }
            None => call,
        };
        self.cancel_hedges(now, winner, q);
        self.call_succeeded(now, winner, q);
    }

    /// `call` is answered: record it and move its task on.
    fn call_succeeded(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        let (started, task) = if self.calls[call as usize].zombie {
            // Keep the entry until its pending event drops it; answer it now.
            let c = &self.calls[call as usize];
            (c.started, c.task)
        } else {
            let c = self.calls.remove(call as usize);
            (c.started, c.task)
        };
        self.rec.calls_ok += 1;
        self.rec.call_latency.record(now.since(started));
        self.tenant_call_latency(task, now.since(started));
        let t = &mut self.tasks[task as usize];
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

    /// Sends a hedge of `call`'s attempt in flight, and schedules the next one if more are allowed
    /// (gRPC hedging: up to `max_attempts` copies, `hedging_delay` apart, the first answer wins).
    fn hedge(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        let Some(spec) = self.policy.hedge else {
            return;
        };
        let c = &self.calls[call as usize];
        if c.zombie || c.live_hedges as usize >= MAX_HEDGES || c.hedges_sent >= spec.max_extra {
            return;
        }
        let (task, prompt, max_tokens, output, attempt) =
            (c.task, c.prompt, c.max_tokens, c.output, c.attempt_id);
        let hedge_no = c.hedges_sent + 1;
        let shadow = self.calls.insert(Call::new(
            task,
            now,
            prompt,
            max_tokens,
            output,
            Some(call),
            hedge_no,
        )) as u32;
        let c = &mut self.calls[call as usize];
        c.hedges[c.live_hedges as usize] = shadow;
        c.live_hedges += 1;
        c.hedges_sent = hedge_no;
        self.rec.hedges += 1;
        if hedge_no < spec.max_extra {
            q.push(now.after(spec.delay_ns), Event::Hedge { call, attempt });
        }
        self.dispatch(now, shadow, true, q);
    }

    /// Removes hedge `shadow` from the slab and from its call's list.
    fn drop_hedge(&mut self, shadow: u32) {
        let s = self.calls.remove(shadow as usize);
        if let Some(primary) = s.primary
            && let Some(p) = self.calls.get_mut(primary as usize)
        {
            let n = p.live_hedges as usize;
            if let Some(i) = p.hedges[..n].iter().position(|&h| h == shadow) {
                p.hedges[i] = p.hedges[n - 1];
                p.live_hedges -= 1;
            }
        }
    }

    /// Cuts off every hedge of `call` still in flight (billed for what they used, as waste).
    fn cancel_hedges(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        while let Some(p) = self.calls.get(call as usize)
            && p.live_hedges > 0
        {
            let shadow = p.hedges[p.live_hedges as usize - 1];
            let h = &self.calls[shadow as usize];
            if h.phase == Phase::Client && h.attempts == 0 {
                // Still in the admission line: dropped when the line reaches it.
                self.calls[shadow as usize].zombie = true;
                self.calls[call as usize].live_hedges -= 1;
            } else {
                self.cut_off(now, shadow, q);
                self.drop_hedge(shadow);
            }
        }
    }

    /// Stops `call`'s attempt in flight: one waiting for a slot leaves the queue unbilled; one
    /// being served is billed for its input and the output generated so far, all of it waste.
    fn cut_off(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        match self.calls[call as usize].phase {
            Phase::Queued => {
                // The queue entry goes stale.
                let c = &mut self.calls[call as usize];
                c.phase = Phase::Client;
                let waited = now.since(c.admitted_at);
                self.rec.served(waited, waited);
                self.queued -= 1;
                self.rec.in_flight_changed(now, -1);
            }
            Phase::Serving => {
                let share = self.share();
                let c = &mut self.calls[call as usize];
                Self::progress(c, now, share);
                // The prompt was read (billed) once serving began; output as far as generated.
                let generated = (c.output as f64 - c.tokens_left).floor().max(0.0) as u64;
                let input = c.prompt as u64;
                self.rec.served(
                    c.service_started.since(c.admitted_at),
                    now.since(c.admitted_at),
                );
                self.bill(call, input, generated);
                self.rec.wasted_input += input;
                self.rec.wasted_output += generated;
                self.end_service(now, call, q);
            }
            Phase::Client => {}
        }
    }

    /// The client stops waiting for the current attempt at its timeout.
    fn abandon(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        self.rec.timeouts += 1;
        if let Some(s) = self.series.as_mut() {
            s.counts.timeouts += 1;
        }
        self.cut_off(now, call, q);
        self.observe(now, call, Outcome::Timeout, q);
        self.attempt_failed(now, call, Failure::Timeout, None, q);
    }

    /// The innermost layer that retries `failure` and has attempts left retries, if the budget
    /// allows; the layers inside it start a new round.
    fn attempt_failed(
        &mut self,
        now: SimTime,
        call: u32,
        failure: Failure,
        retry_after_s: Option<f64>,
        q: &mut EventQueue<Event>,
    ) {
        self.attempt_over(call);
        if let Some(b) = self.budget.as_mut() {
            b.on_failure(now);
        }
        if self.calls[call as usize].primary.is_some() {
            // A hedge that fails is simply gone; its call goes on.
            self.drop_hedge(call);
            return;
        }
        let layers = &self.policy.layers;
        let c = &self.calls[call as usize];
        let Some(i) = (0..layers.len())
            .find(|&i| layers[i].retry_on.covers(failure) && c.tries[i] < layers[i].max_attempts)
        else {
            self.give_up(now, call, q);
            return;
        };
        let u = unit(&mut stream(self.seed, BACKOFF, &self.attempt_key(call)));
        let layer = &layers[i];
        let wait_s = layer.wait_secs(c.tries[i], c.previous_wait_s[i], retry_after_s, u);
        let through_admission = layer.through_admission;
        let retry_at = now.after(secs_to_nanos(wait_s));
        if retry_at > self.deadline(call) {
            self.rec.deadline_exceeded += 1;
            self.give_up(now, call, q);
            return;
        }
        let active_requests = (self.serving + self.queued) as u64 + self.admission.len() as u64;
        let active_retries = self.active_retries;
        if self
            .budget
            .as_mut()
            .is_some_and(|b| !b.try_retry(now, failure, active_requests, active_retries))
        {
            self.rec.retries_throttled += 1;
            self.give_up(now, call, q);
            return;
        }
        self.active_retries += 1;
        let c = &mut self.calls[call as usize];
        c.tries[i] += 1;
        c.previous_wait_s[i] = Some(wait_s);
        c.retry_of = Some(failure);
        c.retry_active = true;
        for j in 0..i {
            c.tries[j] = 1;
            c.previous_wait_s[j] = None;
        }
        self.rec.retries += 1;
        q.push(
            retry_at,
            Event::Send {
                call,
                through_admission,
            },
        );
    }

    /// The latest instant a retry of `call` may start: its own deadline or its job's, if any.
    fn deadline(&self, call: u32) -> SimTime {
        let c = &self.calls[call as usize];
        let job = &self.jobs[self.tasks[c.task as usize].job as usize];
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

    /// The current attempt of `call` has its outcome: it no longer counts as an active retry.
    fn attempt_over(&mut self, call: u32) {
        let c = &mut self.calls[call as usize];
        if c.retry_active {
            c.retry_active = false;
            self.active_retries -= 1;
        }
    }

    fn give_up(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        self.attempt_over(call);
        if self.calls[call as usize].primary.is_some() {
            self.drop_hedge(call);
            return;
        }
        self.cancel_hedges(now, call, q);
        let c = self.calls.remove(call as usize);
        self.rec.gave_up += 1;
        self.rec.call_latency.record(now.since(c.started));
        self.tenant_call_latency(c.task, now.since(c.started));
        let t = &mut self.tasks[c.task as usize];
        let restartable = matches!(self.scenario.nodes[t.node as usize], Node::Agent { .. });
        if restartable && t.generation < self.policy.agent_restarts {
            t.generation += 1;
            t.next = 0;
            self.rec.agent_restarts += 1;
            self.start_call(now, c.task, q);
        } else {
            let job = t.job;
            self.jobs[job as usize].failed = true;
            self.complete(now, c.task, true, q);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::Metrics;
    use crate::scenario::parse;

    /// `jobs` one-call jobs at t=0 against `provider_extra`, with 1 s constant service.
    fn run(jobs: u32, provider_extra: &str, policy: &str) -> Metrics {
        let text = format!(
            r#"
            [scenario]
            name = "t"
            [provider]
            ttft = "1s"
            {provider_extra}
            [[source]]
            name = "s"
            arrival = {{ process = "burst", count = {jobs} }}
            [source.job]
            prompt_tokens = 50
            max_tokens = 50
            output_tokens = 0
            [[policy]]
            name = "p"
            {policy}
            "#
        );
        let scenario = parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        super::simulate(&scenario, &scenario.policies[0], 1).unwrap()
    }

    #[test]
    fn the_sdk_layer_waits_the_retry_after_hint() {
        // 100 tokens at t=0 empty a bucket of 100 refilling 10/s: the second call is refused with
        // retry_after = ceil(100 / 10) = 10 s, retried at 10 s and served until 11 s.
        let m = run(
            2,
            "[[provider.limit]]\nresource = \"tokens\"\nrate = 10\nburst = 100",
            "sdk = {}",
        );
        assert_eq!(m.rate_limited, 1.0);
        assert_eq!(m.retries, 1.0);
        assert_eq!(m.makespan_s, 11.0);
        assert_eq!(m.call_latency_max_s, 11.0);
    }

    #[test]
    fn layered_retries_multiply_attempts_and_restarts_multiply_again() {
        // One request passes, then the request bucket (almost) never refills: every later attempt
        // is refused. sdk: 3 attempts per round; retry: 5 rounds; 1 restart: 2 x 15 = 30 attempts.
        let m = run(
            2,
            "[[provider.limit]]\nresource = \"requests\"\nrate = 1e-9\nburst = 1",
            "agent_restarts = 1\nsdk = { honor_retry_after = false }\nretry = { max_attempts = 5 }",
        );
        assert_eq!(m.attempts, 31.0);
        assert_eq!(m.rate_limited, 30.0);
        assert_eq!(m.gave_up, 2.0);
        assert_eq!(m.agent_restarts, 1.0);
        assert_eq!((m.jobs_ok, m.jobs_failed), (1.0, 1.0));
    }

    #[test]
    fn the_client_bucket_queues_calls_instead_of_failing_them() {
        // Each call costs 100 of a bucket of 100 refilling 10/s: admissions at 0, 10 and 20 s.
        let m = run(3, "", "bucket = { rate = 10, burst = 100 }");
        assert_eq!(m.attempts, 3.0);
        assert_eq!(m.rate_limited, 0.0);
        // The bucket wakes a nanosecond late, as documented in `TokenBucket::wait_nanos`.
        assert!((m.makespan_s - 21.0).abs() < 1e-6, "{}", m.makespan_s);
        assert!((m.call_latency_p50_s - 11.0).abs() < 1e-6);
        assert_eq!(m.peak_client_queue, 2.0);
    }

    #[test]
    fn counted_rejections_use_up_capacity_that_would_have_passed_a_later_call() {
        // Bucket 100, refill 10/s, calls of 100. At t=0 call 1 passes and call 2 is refused (hint
        // 10 s); tenacity retries it after a fixed 5 s. Counted: the refusal at 5 s drains the 50
        // tokens refilled so far, so the retry at 10 s finds only 50 and is refused again.
        let limit = "[[provider.limit]]\nresource = \"tokens\"\nrate = 10\nburst = 100";
        let policy = "retry = { max_attempts = 10, wait = { kind = \"fixed\", wait = \"5s\" } }";
        let counted = run(2, &format!("count_rejected = true\n{limit}"), policy);
        let not_counted = run(2, &format!("count_rejected = false\n{limit}"), policy);
        // Not counted: refused at 0 and 5, passes at 10, done at 11.
        assert_eq!(
            (not_counted.rate_limited, not_counted.makespan_s),
            (2.0, 11.0)
        );
        // Counted: refused at 0, 5, 10, 15 (each finds 50 and drains it)... it never passes.
        assert_eq!(counted.rate_limited, 10.0);
        assert_eq!(counted.gave_up, 1.0);
    }

    /// A scenario from its parts: `provider` is the body of `[provider]` (with `ttft`), `job` the
    /// body of `[source.job]`, `arrival` the source's arrival table, `policy` the policy's body.
    fn sim(provider: &str, arrival: &str, job: &str, policy: &str) -> super::RunOutput {
        let text = format!(
            "[scenario]\nname = \"t\"\ntimeseries_interval = \"1s\"\n[provider]\n{provider}\n[[source]]\nname = \"s\"\narrival = {arrival}\n[source.job]\n{job}\n[[policy]]\nname = \"p\"\n{policy}\n"
        );
        let scenario = parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        super::simulate_full(&scenario, &scenario.policies[0], 1, true).unwrap()
    }

    const ONE_CALL: &str = "prompt_tokens = 50\nmax_tokens = 100\noutput_tokens = 100";

    #[test]
    fn processor_sharing_slows_each_attempt_by_the_number_served() {
        // 100 output tokens at 100 tokens/s, no ttft: alone, 1 s. With sharing above 1, two
        // attempts started together each decode at 50 tokens/s and both end at 2 s.
        let m = sim(
            "ttft = \"0s\"\ndecode_rate = 100\nsharing_above = 1",
            "{ process = \"burst\", count = 2 }",
            ONE_CALL,
            "",
        )
        .metrics;
        assert_eq!(m.call_latency_max_s, 2.0);
        assert_eq!(m.call_latency_p50_s, 2.0);
        // Staggered: A alone for 0.5 s (50 tokens), then both at 50/s: A ends at 1.5 s; B has
        // 50 left at 1.5 s and ends alone at 2.0 s, 1.5 s after it started.
        let text = "[scenario]\nname = \"t\"\n[provider]\nttft = \"0s\"\ndecode_rate = 100\nsharing_above = 1\n\
            [[source]]\nname = \"a\"\narrival = { process = \"burst\" }\n[source.job]\nprompt_tokens = 50\nmax_tokens = 100\noutput_tokens = 100\n\
            [[source]]\nname = \"b\"\narrival = { process = \"burst\", at = \"500ms\" }\n[source.job]\nprompt_tokens = 50\nmax_tokens = 100\noutput_tokens = 100\n\
            [[policy]]\nname = \"p\"\n";
        let scenario = parse(text, "t.toml").unwrap();
        let m = super::simulate(&scenario, &scenario.policies[0], 1).unwrap();
        assert_eq!(m.makespan_s, 2.0);
        assert_eq!(m.call_latency_p50_s, 1.5);
        assert_eq!(m.call_latency_max_s, 1.5);
    }

    #[test]
    fn a_timed_out_attempt_is_billed_for_what_was_generated_and_counted_as_waste() {
        // ttft 1 s, then 100 tokens at 10 tokens/s (10 s). A 5 s timeout cuts it after 40 tokens:
        // billed 50 input + 40 output, all wasted; the retry (no timeout left to change) times out
        // the same way, and the call gives up after 2 attempts.
        let m = sim(
            "ttft = \"1s\"\ndecode_rate = 10\nprice_input_per_mtok = 1_000_000\nprice_output_per_mtok = 1_000_000",
            "{ process = \"burst\" }",
            ONE_CALL,
            "timeout = \"5s\"\nretry = { max_attempts = 2 }",
        )
        .metrics;
        assert_eq!(m.timeouts, 2.0);
        assert_eq!(m.gave_up, 1.0);
        assert_eq!(m.tokens_wasted, 180.0);
        assert_eq!(m.tokens_billed, 180.0);
        assert_eq!(m.cost_wasted_usd, 180.0);
        assert_eq!(m.call_latency_max_s, 10.0);
        assert_eq!(m.mean_in_flight, 1.0);
    }

    #[test]
    fn an_outage_answers_server_errors_and_retries_ride_it_out() {
        // Down from 0 to 2.5 s: attempts at 0, 1 and 2 s get a 503; the one at 3 s is served.
        let m = sim(
            "ttft = \"1s\"\n[[provider.outage]]\nstart = \"0s\"\nend = \"2500ms\"\nstatus = 503",
            "{ process = \"burst\" }",
            "prompt_tokens = 50\nmax_tokens = 10\noutput_tokens = 0",
            "retry = { max_attempts = 10, wait = { kind = \"fixed\", wait = \"1s\" } }",
        )
        .metrics;
        assert_eq!((m.server_errors, m.retries, m.calls_ok), (3.0, 3.0, 1.0));
        assert_eq!(m.makespan_s, 4.0);
    }

    #[test]
    fn a_policy_that_does_not_retry_server_errors_gives_up_on_the_first() {
        let m = sim(
            "ttft = \"1s\"\n[[provider.outage]]\nstart = \"0s\"\nend = \"10s\"\nstatus = 529",
            "{ process = \"burst\" }",
            "prompt_tokens = 50\nmax_tokens = 10\noutput_tokens = 0",
            "retry = { max_attempts = 10, retry_on = [\"rate_limited\"] }",
        )
        .metrics;
        assert_eq!((m.server_errors, m.retries, m.gave_up), (1.0, 0.0, 1.0));
    }

    #[test]
    fn transient_errors_fail_the_stated_fraction_of_attempts() {
        // 20,000 one-attempt calls, error_rate 0.1: the count is Binomial(20000, 0.1),
        // sd = 42.4; allow 5 sd.
        let m = sim(
            "ttft = \"10ms\"\nerror_rate = 0.1",
            "{ process = \"poisson\", rate = 100, count = 20_000 }",
            "prompt_tokens = 50\nmax_tokens = 10\noutput_tokens = 0",
            "",
        )
        .metrics;
        assert!(
            (m.server_errors - 2_000.0).abs() < 5.0 * 42.4,
            "{}",
            m.server_errors
        );
        assert_eq!(m.server_errors + m.calls_ok, 20_000.0);
        // A failed attempt is not billed.
        assert_eq!(m.tokens_input, 50.0 * m.calls_ok);
    }

    #[test]
    fn a_capacity_step_scales_the_limit_from_its_instant() {
        // 10 tokens/s, burst 10, calls of 10 tokens (prompt 5 + max_tokens 5), one every 0.1 s:
        // one passes per second; halved at t = 10 s, one every 2 s after that.
        let out = sim(
            "ttft = \"10ms\"\ncount_rejected = false\n[[provider.limit]]\nresource = \"tokens\"\nrate = 10\nburst = 10\n\
             [[provider.capacity]]\nat = \"10s\"\nlimits = 0.5",
            "{ process = \"poisson\", rate = 1000, until = \"20s\" }",
            "prompt_tokens = 5\nmax_tokens = 5\noutput_tokens = 0",
            "",
        );
        let series = out.series.unwrap();
        let admitted = |t: f64| {
            series
                .iter()
                .find(|s| s.t_s == t)
                .unwrap()
                .admitted_tokens_per_s
        };
        // The first second also has the full burst: 10 + 10.
        assert_eq!(admitted(5.0), 10.0);
        assert_eq!(
            series
                .iter()
                .find(|s| s.t_s == 15.0)
                .unwrap()
                .limit_tokens_per_s,
            5.0
        );
        let late: f64 = (11..=20).map(|t| admitted(t as f64)).sum();
        assert!(
            (late - 50.0).abs() <= 10.0,
            "admitted {late} tokens in the 10 s at half rate"
        );
    }

    #[test]
    fn refunding_unused_output_lets_the_next_call_in_sooner() {
        // Output-token limit: burst 100, 1 token/s. Each call reserves max_tokens = 100 and uses
        // 20. The first call takes the whole burst at t = 0 and ends at t = 1 s; the second is
        // refused and retried every second.
        let provider = "ttft = \"1s\"\ndecode_rate = 1e9\n{refund}\n[[provider.limit]]\nresource = \"output_tokens\"\nrate = 1\nburst = 100";
        let job = "prompt_tokens = 50\nmax_tokens = 100\noutput_tokens = 20";
        let policy = "retry = { max_attempts = 1000, wait = { kind = \"fixed\", wait = \"1s\" } }";
        let arrival = "{ process = \"burst\", count = 2 }";
        let with = sim(
            &provider.replace(
                "{refund}",
                "refund_unused_output = true\ncount_rejected = false",
            ),
            arrival,
            job,
            policy,
        )
        .metrics;
        let without = sim(
            &provider.replace("{refund}", "count_rejected = false"),
            arrival,
            job,
            policy,
        )
        .metrics;
        // With the refund, 80 tokens come back at 1 s: 81 + (t - 1) reaches 100 at t = 20, and
        // the call ends at 21 s. Without it the bucket refills from 0 at 1 token/s: 100 s, end
        // at 101 s. (Decoding 20 tokens at 1e9/s adds 20 ns.)
        assert!((with.makespan_s - 21.0).abs() < 1e-6, "{}", with.makespan_s);
        assert!(
            (without.makespan_s - 101.0).abs() < 1e-6,
            "{}",
            without.makespan_s
        );
    }

    #[test]
    fn grpc_throttling_stops_retries_once_half_the_tokens_are_gone() {
        // A provider that refuses everything after one request. Budget 10, ratio 0.1: the first
        // call succeeds (tokens stay 10); the second is refused 5 times (10 -> 5) and may not
        // retry at 5; the third is refused once (5 -> 4) and gives up at once.
        let m = sim(
            "ttft = \"1s\"\n[[provider.limit]]\nresource = \"requests\"\nrate = 1e-9\nburst = 1",
            "{ process = \"burst\", count = 3 }",
            "prompt_tokens = 5\nmax_tokens = 5\noutput_tokens = 0",
            "retry = { max_attempts = 100 }\nretry_budget = { kind = \"grpc\", max_tokens = 10, token_ratio = 0.1 }",
        )
        .metrics;
        assert_eq!(m.calls_ok, 1.0);
        assert_eq!(m.rate_limited, 6.0);
        assert_eq!(m.retries, 4.0);
        assert_eq!(m.retries_throttled, 2.0);
    }

    #[test]
    fn the_in_flight_limit_refuses_beyond_its_count() {
        let m = sim(
            "ttft = \"1s\"\nmax_in_flight = 2",
            "{ process = \"burst\", count = 3 }",
            ONE_CALL,
            "",
        )
        .metrics;
        assert_eq!((m.calls_ok, m.rate_limited, m.gave_up), (2.0, 1.0, 1.0));
        assert_eq!(m.peak_in_flight, 2.0);
    }

    /// After one request passes, the request bucket (almost) never refills: every later attempt is
    /// refused with a 429.
    const REFUSE_AFTER_ONE: &str =
        "ttft = \"1s\"\n[[provider.limit]]\nresource = \"requests\"\nrate = 1e-9\nburst = 1";
    const SMALL: &str = "prompt_tokens = 5\nmax_tokens = 5\noutput_tokens = 0";

    #[test]
    fn a_call_deadline_stops_retries_that_would_start_after_it() {
        // The second call is refused at 0, 1, 2 and 3 s; its retry at 4 s is past 3.5 s.
        let m = sim(
            REFUSE_AFTER_ONE,
            "{ process = \"burst\", count = 2 }",
            SMALL,
            "call_deadline = \"3500ms\"\nretry = { max_attempts = 100, wait = { kind = \"fixed\", wait = \"1s\" } }",
        )
        .metrics;
        assert_eq!(
            (m.rate_limited, m.deadline_exceeded, m.gave_up),
            (4.0, 1.0, 1.0)
        );
    }

    #[test]
    fn the_aws_standard_quota_pays_for_retries_until_it_is_empty() {
        // Quota 12, 5 a throttled retry: two retries are paid (12 -> 7 -> 2), the third is not.
        let m = sim(
            REFUSE_AFTER_ONE,
            "{ process = \"burst\", count = 2 }",
            SMALL,
            "retry = { max_attempts = 100 }\nretry_budget = { kind = \"aws_standard\", initial = 12 }",
        )
        .metrics;
        assert_eq!(
            (m.retries, m.retries_throttled, m.rate_limited),
            (2.0, 1.0, 3.0)
        );
    }

    #[test]
    fn an_envoy_budget_caps_the_retries_in_flight_at_its_minimum_concurrency() {
        // Five calls refused at t = 0 with a 10 s backoff: with nothing else in flight Envoy allows
        // max(20% of active, 2) = 2 retries at once; the other three give up.
        let m = sim(
            REFUSE_AFTER_ONE,
            "{ process = \"burst\", count = 6 }",
            SMALL,
            "retry = { max_attempts = 2, wait = { kind = \"fixed\", wait = \"10s\" } }\n\
             retry_budget = { kind = \"envoy\", budget_percent = 20, min_retry_concurrency = 2 }",
        )
        .metrics;
        assert_eq!((m.retries, m.retries_throttled), (2.0, 3.0));
    }

    #[test]
    fn a_hedge_that_answers_first_wins_and_the_slow_attempt_is_billed_as_waste() {
        // 100 output tokens at 10 tokens/s, no ttft: the first attempt takes 10 s. Decoding gets
        // 10x faster at t = 1 s, so the hedge sent at t = 2 s is done at 3 s. The first attempt
        // is cut off at 3 s after 30 tokens: 50 + 30 tokens wasted.
        let m = sim(
            "ttft = \"0s\"\ndecode_rate = 10\n[[provider.capacity]]\nat = \"1s\"\ndecode = 10",
            "{ process = \"burst\" }",
            ONE_CALL,
            "hedge = { delay = \"2s\" }",
        )
        .metrics;
        assert_eq!((m.attempts, m.hedges, m.hedges_won), (2.0, 1.0, 1.0));
        assert!(
            (m.call_latency_max_s - 3.0).abs() < 1e-6,
            "{}",
            m.call_latency_max_s
        );
        assert_eq!(m.tokens_wasted, 80.0);
        assert_eq!(m.tokens_billed, 150.0 + 80.0);
    }

    #[test]
    fn a_hedge_that_loses_is_cut_off_when_the_first_attempt_answers() {
        // Same call without the speed-up: the first attempt ends at 10 s, when the hedge sent at
        // 2 s has generated 80 tokens: 50 + 80 tokens wasted.
        let m = sim(
            "ttft = \"0s\"\ndecode_rate = 10",
            "{ process = \"burst\" }",
            ONE_CALL,
            "hedge = { delay = \"2s\" }",
        )
        .metrics;
        assert_eq!((m.attempts, m.hedges, m.hedges_won), (2.0, 1.0, 0.0));
        assert!((m.call_latency_max_s - 10.0).abs() < 1e-6);
        assert_eq!(m.tokens_wasted, 130.0);
        assert_eq!(m.calls_ok, 1.0);
    }

    #[test]
    fn hedges_go_out_delay_apart_up_to_max_attempts() {
        // A 10 s attempt hedged every 2 s with max_attempts 3: hedges at 2 s and 4 s, no more.
        let m = sim(
            "ttft = \"0s\"\ndecode_rate = 10",
            "{ process = \"burst\" }",
            ONE_CALL,
            "hedge = { delay = \"2s\", max_attempts = 3 }",
        )
        .metrics;
        assert_eq!((m.attempts, m.hedges), (3.0, 2.0));
        // Cut off at 10 s: the hedges generated 80 and 60 tokens.
        assert_eq!(m.tokens_wasted, 50.0 + 80.0 + 50.0 + 60.0);
        assert_eq!(m.mean_in_flight, (10.0 + 8.0 + 6.0) / 10.0);
    }

    #[test]
    fn a_breaker_opens_after_consecutive_failures_and_fails_the_next_call_fast() {
        // One request passes; the next two are refused (two failures in a row: open); the fourth
        // call is failed fast without being sent.
        let m = sim(
            REFUSE_AFTER_ONE,
            "{ process = \"burst\", count = 4 }",
            SMALL,
            "breaker = { consecutive_failures = 2, open = \"10s\" }",
        )
        .metrics;
        assert_eq!(
            (m.attempts, m.rate_limited, m.short_circuited, m.calls_ok),
            (3.0, 2.0, 1.0, 1.0)
        );
    }

    #[test]
    fn a_half_open_breaker_lets_a_probe_through_after_its_open_time() {
        // Open at t = 0 after one failure; calls arrive every 2 s (Poisson at a huge rate would not
        // do: use a 1 s open time and retries 2 s apart): the retry at 2 s is the half-open probe.
        let m = sim(
            "ttft = \"100ms\"\n[[provider.outage]]\nstart = \"0s\"\nend = \"1s\"",
            "{ process = \"burst\" }",
            SMALL,
            "breaker = { consecutive_failures = 1, open = \"1s\" }\nretry = { max_attempts = 3, wait = { kind = \"fixed\", wait = \"2s\" } }",
        )
        .metrics;
        assert_eq!(
            (m.attempts, m.server_errors, m.short_circuited, m.calls_ok),
            (2.0, 1.0, 0.0, 1.0)
        );
        assert!((m.makespan_s - 2.1).abs() < 1e-9);
    }

    #[test]
    fn a_static_concurrency_limit_serves_calls_one_at_a_time() {
        let m = sim(
            "ttft = \"1s\"",
            "{ process = \"burst\", count = 3 }",
            SMALL,
            "concurrency = { kind = \"static\", limit = 1 }",
        )
        .metrics;
        assert_eq!(
            (m.makespan_s, m.peak_in_flight, m.peak_client_queue),
            (3.0, 1.0, 2.0)
        );
        assert_eq!(m.call_latency_max_s, 3.0);
    }

    #[test]
    fn aimd_backs_off_a_provider_that_refuses_beyond_its_concurrency() {
        // The provider refuses beyond 4 in flight; 40 calls arrive at once. With a static limit
        // of 20 every call over 4 is refused and retried; AIMD cuts its limit on each refusal.
        let provider = "ttft = \"1s\"\nmax_in_flight = 4";
        let arrival = "{ process = \"burst\", count = 40 }";
        let retry = "retry = { max_attempts = 100, wait = { kind = \"fixed\", wait = \"100ms\" } }";
        let fixed = sim(
            provider,
            arrival,
            SMALL,
            &format!("{retry}\nconcurrency = {{ kind = \"static\", limit = 20 }}"),
        )
        .metrics;
        let aimd = sim(
            provider,
            arrival,
            SMALL,
            &format!(
                "{retry}\nconcurrency = {{ kind = \"aimd\", initial = 20, min = 1, max = 20 }}"
            ),
        )
        .metrics;
        assert_eq!((fixed.calls_ok, aimd.calls_ok), (40.0, 40.0));
        assert!(
            aimd.rate_limited * 3.0 < fixed.rate_limited,
            "aimd {} vs static {} 429s",
            aimd.rate_limited,
            fixed.rate_limited
        );
    }

    #[test]
    fn sre_throttling_rejects_locally_once_the_backend_stops_accepting() {
        // After one accepted request the provider refuses everything; one call a second for 100 s.
        // The throttle's rejection probability climbs towards 1 - 2/n: most calls never leave.
        let arrival = "{ process = \"poisson\", rate = 1, count = 100 }";
        let plain = sim(REFUSE_AFTER_ONE, arrival, SMALL, "").metrics;
        let sre = sim(
            REFUSE_AFTER_ONE,
            arrival,
            SMALL,
            "throttle = { kind = \"sre\" }",
        )
        .metrics;
        assert_eq!(plain.attempts, 100.0);
        assert_eq!(sre.attempts + sre.throttled_locally, 100.0);
        assert!(sre.throttled_locally > 60.0, "{}", sre.throttled_locally);
        assert_eq!(sre.calls_ok, 1.0);
    }

    #[test]
    fn the_aws_adaptive_limiter_slows_sending_after_a_throttle() {
        // 200 calls at once against 10 requests/s: without the limiter the retries hammer at
        // their fixed 100 ms; with it, sending falls to the measured rate after the first 429.
        let provider = "ttft = \"100ms\"\ncount_rejected = false\n[[provider.limit]]\nresource = \"requests\"\nrate = 10\nburst = 10";
        let arrival = "{ process = \"burst\", count = 200 }";
        let retry =
            "retry = { max_attempts = 1000, wait = { kind = \"fixed\", wait = \"100ms\" } }";
        let plain = sim(provider, arrival, SMALL, retry).metrics;
        let adaptive = sim(
            provider,
            arrival,
            SMALL,
            &format!("{retry}\nthrottle = {{ kind = \"aws_adaptive\" }}"),
        )
        .metrics;
        assert_eq!((plain.calls_ok, adaptive.calls_ok), (200.0, 200.0));
        assert!(
            adaptive.rate_limited * 5.0 < plain.rate_limited,
            "adaptive {} vs plain {} 429s",
            adaptive.rate_limited,
            plain.rate_limited
        );
    }

    #[test]
    fn a_client_bucket_gets_the_unused_output_back_when_refunds_are_on() {
        // Bucket 1 token/s, burst 100; calls estimate 50 + 50 and generate nothing. The first
        // passes at 0 and ends at 1 s; with the refund its 50 unused tokens come back, so the
        // second passes at 1 + (100 - 51) = 50 s and ends at 51 s, instead of 100 s and 101 s.
        let job = "prompt_tokens = 50\nmax_tokens = 50\noutput_tokens = 0";
        let bucket = "bucket = { rate = 1, burst = 100 }";
        let with = sim(
            "ttft = \"1s\"",
            "{ process = \"burst\", count = 2 }",
            job,
            &format!("{bucket}\nrefund_unused_output = true"),
        )
        .metrics;
        let without = sim(
            "ttft = \"1s\"",
            "{ process = \"burst\", count = 2 }",
            job,
            bucket,
        )
        .metrics;
        assert!((with.makespan_s - 51.0).abs() < 1e-6, "{}", with.makespan_s);
        assert!(
            (without.makespan_s - 101.0).abs() < 1e-6,
            "{}",
            without.makespan_s
        );
    }

    /// Runs the whole scenario `text` (policy 0) with details.
    fn whole(text: &str) -> super::RunOutput {
        let scenario = parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        super::simulate_full(&scenario, &scenario.policies[0], 1, true).unwrap()
    }

    /// A planner call, a fan-out of three tool calls, a synthesis call; and an agent that does
    /// one call and then spawns two more like itself, to depth 3. Every call takes 1 s.
    const TREES: &str = r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[templates.pipeline]
kind = "seq"
steps = ["plan", "tools", "plan"]
[templates.plan]
kind = "call"
prompt_tokens = 100
max_tokens = 100
output_tokens = 0
[templates.tools]
kind = "fanout"
width = 3
child = "plan"
[templates.grower]
kind = "seq"
steps = ["plan", "grow"]
[templates.grow]
kind = "spawn"
probability = 1.0
width = 2
child = "grower"
max_depth = 3
"#;

    fn trees(template: &str, policy: &str) -> Metrics {
        whole(&format!("{TREES}[[source]]\nname = \"s\"\narrival = {{ process = \"burst\" }}\ntemplate = \"{template}\"\n[[policy]]\nname = \"p\"\n{policy}\n")).metrics
    }

    #[test]
    fn a_sequence_waits_for_its_fan_out_before_the_next_step() {
        // plan (0-1 s), three tools in parallel (1-2 s), plan again (2-3 s).
        let m = trees("pipeline", "");
        assert_eq!(
            (m.calls_ok, m.makespan_s, m.peak_in_flight),
            (5.0, 3.0, 3.0)
        );
    }

    #[test]
    fn spawning_recurses_to_its_max_depth() {
        // Depths 0..=3 hold 1, 2, 4 and 8 agents of one 1 s call each: 15 calls in 4 s.
        let m = trees("grower", "");
        assert_eq!((m.calls_ok, m.makespan_s, m.jobs_ok), (15.0, 4.0, 1.0));
    }

    #[test]
    fn a_call_cap_stops_the_job_as_budget_exhausted() {
        let m = trees("grower", "work_limits = { max_calls = 5 }");
        assert_eq!(
            (m.calls_ok, m.jobs_budget_exhausted, m.jobs_ok),
            (5.0, 1.0, 0.0)
        );
    }

    #[test]
    fn a_depth_cap_stops_spawning_below_it() {
        // Depth 0 and 1 run (1 + 2 calls); spawning depth 2 is refused.
        let m = trees("grower", "work_limits = { max_depth = 1 }");
        assert_eq!((m.calls_ok, m.jobs_budget_exhausted), (3.0, 1.0));
    }

    #[test]
    fn a_cost_cap_stops_new_calls_once_spent() {
        // Each call bills 100 input tokens at $10,000 per million: $1. Cap $3: calls start while
        // less than $3 is spent. Level 0 (1 call) ends at 1 s: $1. Level 1's two calls end at
        // 2 s, one after the other: after the first ($2) its two children start; after the
        // second ($3) its children are refused. 5 calls, $5: in-flight work finishes.
        let text = TREES.replace(
            "ttft = \"1s\"",
            "ttft = \"1s\"\nprice_input_per_mtok = 10_000",
        );
        let m = whole(&format!("{text}[[source]]\nname = \"s\"\narrival = {{ process = \"burst\" }}\ntemplate = \"grower\"\n[[policy]]\nname = \"p\"\nwork_limits = {{ max_cost_usd = 3 }}\n")).metrics;
        assert_eq!(
            (m.calls_ok, m.cost_usd, m.jobs_budget_exhausted),
            (5.0, 5.0, 1.0)
        );
    }

    #[test]
    fn interval_arrivals_come_every_period() {
        let m = sim(
            "ttft = \"1s\"",
            "{ process = \"interval\", every = \"2s\", count = 3 }",
            SMALL,
            "",
        )
        .metrics;
        assert_eq!((m.jobs, m.makespan_s), (3.0, 5.0));
    }

    #[test]
    fn diurnal_arrivals_crowd_the_peak_and_average_the_mean_rate() {
        // Mean 10 jobs/s, amplitude 1, period 100 s, peak at 50 s: over one period 1,000 jobs
        // expected (Poisson sd 32); the half centred on the peak expects 10 * (50 + 100/pi) = 818.
        let out = sim(
            "ttft = \"1ms\"",
            "{ process = \"diurnal\", rate = 10, amplitude = 1.0, period = \"100s\", peak = \"50s\", until = \"100s\" }",
            SMALL,
            "",
        );
        let m = out.metrics;
        assert!((m.jobs - 1000.0).abs() < 5.0 * 31.7, "{} jobs", m.jobs);
        let series = out.series.unwrap();
        let around_peak: f64 = series
            .iter()
            .filter(|s| s.t_s > 25.0 && s.t_s <= 75.0)
            .map(|s| s.goodput_calls_per_s)
            .sum();
        assert!(
            (around_peak - 818.0).abs() < 5.0 * 28.6,
            "{around_peak} jobs around the peak"
        );
    }

    #[test]
    fn a_trace_replays_its_rows_with_their_tenants_templates_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("trace.csv");
        std::fs::write(&file, "time_s,tenant,template,prompt_tokens,output_tokens\n0.5,alice,plan,1000,\n2.0,bob,pipeline,,\n").unwrap();
        let text = format!(
            "{TREES}[[source]]\nname = \"replay\"\ntemplate = \"plan\"\narrival = {{ process = \"trace\", file = \"{}\" }}\n[[policy]]\nname = \"p\"\n",
            file.display()
        );
        let out = whole(&text);
        let m = &out.metrics;
        // alice: one call of 1,000 prompt tokens at 0.5 s; bob: the 5-call pipeline from 2 s.
        assert_eq!((m.jobs, m.calls_ok, m.makespan_s), (2.0, 6.0, 5.0));
        assert_eq!(m.tokens_input, 1000.0 + 5.0 * 100.0);
        assert_eq!(out.tenants.len(), 3); // the source's own tenant, then alice and bob
        assert_eq!(
            (out.tenants[1].jobs, out.tenants[1].tokens_billed),
            (1.0, 1000.0)
        );
        assert_eq!(
            (out.tenants[2].jobs, out.tenants[2].job_latency_p50_s),
            (1.0, 3.0)
        );
    }

    #[test]
    fn per_tenant_numbers_add_up_and_fairness_is_one_when_tenants_fare_alike() {
        let text = "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n\
            [[source]]\nname = \"a\"\narrival = { process = \"burst\", count = 2 }\n[source.job]\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 0\n\
            [[source]]\nname = \"b\"\narrival = { process = \"burst\", count = 3 }\n[source.job]\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 0\n\
            [[policy]]\nname = \"p\"\n";
        let out = whole(text);
        assert_eq!(
            out.tenants.iter().map(|t| t.jobs).collect::<Vec<_>>(),
            vec![2.0, 3.0]
        );
        assert_eq!(
            out.tenants.iter().map(|t| t.tokens_billed).sum::<f64>(),
            out.metrics.tokens_billed
        );
        assert_eq!(out.metrics.fairness_index, 1.0);
    }
}
