//! One policy running one workload against one provider: the simulation model proper.
//!
//! Task: turn the scenario's entities (jobs, agents, calls, attempts) into events on the engine,
//! drawing every random value from a stream keyed by what it is for, so that two policies run on
//! the same seed see the same jobs, token sizes, service times and jitter draws.
//!
//! The life of a call: the agent issues it; it waits in the client's admission queue if the policy
//! has a shared bucket; each attempt is offered to the provider's limits; an admitted attempt waits
//! for a serving slot, is served for `ttft + output_tokens / decode_rate` and billed; a refused one
//! (429) goes to the innermost retry layer with attempts left, or gives up, failing its agent, which
//! the orchestrator may restart from its first call.

use super::config::{Arrival, Policy, Resource, Scenario};
use super::limiter::TokenBucket;
use crate::engine::rng::{StreamRng, purpose, stream, unit};
use crate::engine::time::{NANOS_PER_SEC, secs_to_nanos};
use crate::engine::{EventQueue, GuardTripped, Model, RunStats, SimTime, run};
use crate::metrics::{Metrics, Recorder};
use slab::Slab;
use std::collections::VecDeque;

/// Most retry layers a policy may stack.
pub const MAX_LAYERS: usize = 4;

const ARRIVALS: u64 = purpose("arrivals");
const FANOUT: u64 = purpose("fanout");
const CALL: u64 = purpose("call");
const SERVICE: u64 = purpose("service");
const BACKOFF: u64 = purpose("backoff");
const THINK: u64 = purpose("think");

#[derive(Clone, Copy, Debug)]
enum Event {
    /// A source's next arrival (or its whole burst).
    Arrive { source: u32 },
    /// An attempt of `call` leaves the client, through its admission queue or straight to the wire.
    Send { call: u32, through_admission: bool },
    /// The provider finished serving `call`'s current attempt.
    Finish { call: u32 },
    /// An agent's pause between calls is over.
    NextCall { agent: u32 },
    /// The client bucket may now hold enough for the head of its queue.
    AdmissionWake,
}

struct SourceState {
    rng: StreamRng,
    emitted: u64,
}

struct Job {
    source: u32,
    index: u64,
    arrived: SimTime,
    agents_left: u32,
    failed: bool,
}

struct Agent {
    job: u32,
    index: u32,
    next_call: u32,
    generation: u32,
    restarts: u32,
}

struct Call {
    agent: u32,
    started: SimTime,
    prompt: u32,
    max_tokens: u32,
    output: u32,
    /// Attempts made by this incarnation of the call, all layers together.
    attempts: u32,
    /// Attempts each layer has started in its current round (1 at the first attempt).
    tries: [u32; MAX_LAYERS],
    /// Each layer's previous wait, seconds (for decorrelated jitter).
    previous_wait_s: [Option<f64>; MAX_LAYERS],
    admitted_at: SimTime,
    service_started: SimTime,
}

impl Call {
    #[inline]
    fn estimate(&self) -> f64 {
        self.prompt as f64 + self.max_tokens as f64
    }
}

/// How the provider answered an attempt.
enum Answer {
    Admitted,
    /// 429, with a `retry_after` hint in whole seconds.
    RateLimited {
        retry_after_s: f64,
    },
    /// The attempt can never pass (its cost exceeds a limit's burst): not retryable.
    TooLarge,
}

/// The state of one run.
struct World<'a> {
    scenario: &'a Scenario,
    policy: &'a Policy,
    seed: u64,
    limits: Vec<(Resource, TokenBucket)>,
    serving: u32,
    slots: u32,
    provider_queue: VecDeque<u32>,
    bucket: Option<TokenBucket>,
    admission_queue: VecDeque<u32>,
    wake_pending: bool,
    sources: Vec<SourceState>,
    jobs: Slab<Job>,
    agents: Slab<Agent>,
    calls: Slab<Call>,
    rec: Recorder,
}

/// Runs `policy` on `scenario` with `seed`; the metrics, or the guard that stopped the run.
pub fn simulate(scenario: &Scenario, policy: &Policy, seed: u64) -> Result<Metrics, GuardTripped> {
    let mut world = World {
        scenario,
        policy,
        seed,
        limits: scenario
            .provider
            .limits
            .iter()
            .map(|l| (l.resource, TokenBucket::new(l.rate_per_s, l.burst)))
            .collect(),
        serving: 0,
        slots: scenario.provider.concurrency.unwrap_or(u32::MAX),
        provider_queue: VecDeque::new(),
        bucket: policy
            .bucket
            .as_ref()
            .map(|b| TokenBucket::new(b.rate_per_s, b.burst)),
        admission_queue: VecDeque::new(),
        wake_pending: false,
        sources: (0..scenario.sources.len())
            .map(|i| SourceState {
                rng: stream(seed, ARRIVALS, &[i as u64]),
                emitted: 0,
            })
            .collect(),
        jobs: Slab::new(),
        agents: Slab::new(),
        calls: Slab::new(),
        rec: Recorder::default(),
    };
    let mut queue = EventQueue::new();
    for (i, source) in scenario.sources.iter().enumerate() {
        let first = match source.arrival {
            Arrival::Burst { at_ns, .. } => SimTime(at_ns),
            Arrival::Poisson { rate_per_s, .. } => {
                SimTime::ZERO.after(world.interarrival(i, rate_per_s))
            }
        };
        if world.may_arrive(i, first) {
            queue.push(first, Event::Arrive { source: i as u32 });
        }
    }
    let RunStats { events, end } = run(&mut world, &mut queue, &scenario.guards)?;
    let p = &scenario.provider;
    Ok(world
        .rec
        .finish(end, events, p.price_input_per_mtok, p.price_output_per_mtok))
}

impl Model for World<'_> {
    type Event = Event;

    #[inline]
    fn handle(&mut self, now: SimTime, event: Event, q: &mut EventQueue<Event>) {
        match event {
            Event::Arrive { source } => self.arrive(now, source as usize, q),
            Event::Send {
                call,
                through_admission,
            } => {
                if through_admission && self.bucket.is_some() {
                    self.queue_for_admission(now, call, q);
                } else {
                    self.send(now, call, q);
                }
            }
            Event::Finish { call } => self.finish(now, call, q),
            Event::NextCall { agent } => self.start_call(now, agent, q),
            Event::AdmissionWake => {
                self.wake_pending = false;
                self.admit_waiting(now, q);
            }
        }
    }

    #[inline]
    fn live_entities(&self) -> usize {
        self.jobs.len() + self.agents.len() + self.calls.len()
    }
}

impl World<'_> {
    fn interarrival(&mut self, source: usize, rate_per_s: f64) -> u64 {
        let u = unit(&mut self.sources[source].rng);
        // Inverse transform: -ln(1 - U) / rate, with 1 - U in (0, 1].
        secs_to_nanos(-(1.0 - u).ln() / rate_per_s)
    }

    /// Whether source `i` still emits a job at `at`.
    fn may_arrive(&self, i: usize, at: SimTime) -> bool {
        match self.scenario.sources[i].arrival {
            Arrival::Burst { .. } => self.sources[i].emitted == 0,
            Arrival::Poisson {
                count, until_ns, ..
            } => {
                count.is_none_or(|c| self.sources[i].emitted < c)
                    && until_ns.is_none_or(|u| at.0 <= u)
            }
        }
    }

    fn arrive(&mut self, now: SimTime, source: usize, q: &mut EventQueue<Event>) {
        match self.scenario.sources[source].arrival {
            Arrival::Burst { count, .. } => {
                for _ in 0..count {
                    self.create_job(now, source, q);
                }
            }
            Arrival::Poisson { rate_per_s, .. } => {
                self.create_job(now, source, q);
                let next = now.after(self.interarrival(source, rate_per_s));
                if self.may_arrive(source, next) {
                    q.push(
                        next,
                        Event::Arrive {
                            source: source as u32,
                        },
                    );
                }
            }
        }
    }

    fn create_job(&mut self, now: SimTime, source: usize, q: &mut EventQueue<Event>) {
        let index = self.sources[source].emitted;
        self.sources[source].emitted += 1;
        self.rec.jobs += 1;
        let template = &self.scenario.sources[source].job;
        let width = if let super::dist::Dist::Constant(w) = template.agents {
            w
        } else {
            template
                .agents
                .sample(&mut stream(self.seed, FANOUT, &[source as u64, index]))
        };
        let width = (width.round() as u32).max(1);
        let job = self.jobs.insert(Job {
            source: source as u32,
            index,
            arrived: now,
            agents_left: width,
            failed: false,
        }) as u32;
        for a in 0..width {
            let agent = self.agents.insert(Agent {
                job,
                index: a,
                next_call: 0,
                generation: 0,
                restarts: 0,
            }) as u32;
            self.start_call(now, agent, q);
        }
    }

    /// Ids that name an agent's `k`-th call across policies: (source, job, agent, k).
    #[inline]
    fn call_key(&self, agent: u32, k: u32) -> [u64; 4] {
        let a = &self.agents[agent as usize];
        let j = &self.jobs[a.job as usize];
        [j.source as u64, j.index, a.index as u64, k as u64]
    }

    fn start_call(&mut self, now: SimTime, agent: u32, q: &mut EventQueue<Event>) {
        let k = self.agents[agent as usize].next_call;
        let key = self.call_key(agent, k);
        let template = &self.scenario.sources[key[0] as usize].job;
        let mut rng = stream(self.seed, CALL, &key);
        let prompt = template.prompt_tokens.sample(&mut rng).round() as u32;
        let output =
            (template.output_tokens.sample(&mut rng).round() as u32).min(template.max_tokens);
        let call = self.calls.insert(Call {
            agent,
            started: now,
            prompt,
            max_tokens: template.max_tokens,
            output,
            attempts: 0,
            tries: [1; MAX_LAYERS],
            previous_wait_s: [None; MAX_LAYERS],
            admitted_at: now,
            service_started: now,
        }) as u32;
        if self.bucket.is_some() {
            self.queue_for_admission(now, call, q);
        } else {
            self.send(now, call, q);
        }
    }

    fn queue_for_admission(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        self.admission_queue.push_back(call);
        self.admit_waiting(now, q);
        // Counted after admission: a call the bucket lets straight through never waited.
        self.rec.client_queue(self.admission_queue.len());
    }

    /// Lets waiting calls through the client bucket in FIFO order while it holds enough.
    fn admit_waiting(&mut self, now: SimTime, q: &mut EventQueue<Event>) {
        while let Some(&call) = self.admission_queue.front() {
            let cost = self.calls[call as usize].estimate();
            let bucket = self
                .bucket
                .as_mut()
                .expect("admission queue without a bucket");
            if bucket.try_take(now, cost) {
                self.admission_queue.pop_front();
                self.send(now, call, q);
            } else {
                if !self.wake_pending {
                    self.wake_pending = true;
                    q.push(
                        now.after(bucket.wait_nanos(now, cost)),
                        Event::AdmissionWake,
                    );
                }
                return;
            }
        }
    }

    /// Offers one attempt to the provider's limits.
    fn offer(&mut self, now: SimTime, call: u32) -> Answer {
        let c = &self.calls[call as usize];
        let cost = |r: Resource| match r {
            Resource::Requests => 1.0,
            Resource::Tokens => c.estimate(),
        };
        let mut wait_ns = 0u64;
        for (resource, bucket) in &mut self.limits {
            let need = cost(*resource);
            if need > bucket.burst() {
                return Answer::TooLarge;
            }
            wait_ns = wait_ns.max(bucket.wait_nanos(now, need));
        }
        if wait_ns == 0 {
            for (resource, bucket) in &mut self.limits {
                bucket.take(now, cost(*resource));
            }
            Answer::Admitted
        } else {
            if self.scenario.provider.count_rejected {
                for (resource, bucket) in &mut self.limits {
                    bucket.drain(now, cost(*resource));
                }
            }
            // Providers send Retry-After in whole seconds, rounded up. `wait_nanos` adds one
            // nanosecond of rounding slack, which must not push an exact 10 s hint to 11 s.
            let whole_secs = wait_ns.saturating_sub(1).div_ceil(NANOS_PER_SEC).max(1);
            Answer::RateLimited {
                retry_after_s: whole_secs as f64,
            }
        }
    }

    fn send(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        self.rec.attempts += 1;
        self.calls[call as usize].attempts += 1;
        match self.offer(now, call) {
            Answer::Admitted => {
                self.rec.in_flight_changed(now, 1);
                self.calls[call as usize].admitted_at = now;
                if self.serving < self.slots {
                    self.start_service(now, call, q);
                } else {
                    self.provider_queue.push_back(call);
                }
            }
            Answer::RateLimited { retry_after_s } => {
                self.rec.rate_limited += 1;
                self.attempt_failed(now, call, Some(retry_after_s), q);
            }
            Answer::TooLarge => {
                self.rec.errors += 1;
                self.give_up(now, call, q);
            }
        }
    }

    fn start_service(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        self.serving += 1;
        let c = &self.calls[call as usize];
        let a = &self.agents[c.agent as usize];
        let key = self.call_key(c.agent, a.next_call);
        let mut rng = stream(
            self.seed,
            SERVICE,
            &[
                key[0],
                key[1],
                key[2],
                key[3],
                a.generation as u64,
                c.attempts as u64,
            ],
        );
        let p = &self.scenario.provider;
        let mut secs = p.ttft_s.sample(&mut rng);
        if c.output > 0 {
            secs += c.output as f64 / p.decode_tokens_per_s.sample(&mut rng).max(1e-9);
        }
        self.calls[call as usize].service_started = now;
        q.push(now.after(secs_to_nanos(secs)), Event::Finish { call });
    }

    fn finish(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        self.serving -= 1;
        self.rec.in_flight_changed(now, -1);
        let c = &self.calls[call as usize];
        self.rec.served(
            c.service_started.since(c.admitted_at),
            now.since(c.admitted_at),
        );
        self.rec.tokens_input += c.prompt as u64;
        self.rec.tokens_output += c.output as u64;
        if let Some(next) = self.provider_queue.pop_front() {
            self.start_service(now, next, q);
        }
        let c = self.calls.remove(call as usize);
        self.rec.calls_ok += 1;
        self.rec.call_latency.record(now.since(c.started));
        let agent = c.agent;
        let a = &mut self.agents[agent as usize];
        a.next_call += 1;
        let k = a.next_call;
        let source = self.jobs[a.job as usize].source as usize;
        let template = &self.scenario.sources[source].job;
        if k >= template.calls_per_agent {
            self.agent_done(now, agent);
            return;
        }
        let think = match template.think_time_s {
            super::dist::Dist::Constant(s) => s,
            ref d => d.sample(&mut stream(self.seed, THINK, &self.call_key(agent, k))),
        };
        let think_ns = secs_to_nanos(think);
        if think_ns == 0 {
            self.start_call(now, agent, q);
        } else {
            q.push(now.after(think_ns), Event::NextCall { agent });
        }
    }

    /// The innermost layer with attempts left retries; the layers inside it start a new round.
    fn attempt_failed(
        &mut self,
        now: SimTime,
        call: u32,
        retry_after_s: Option<f64>,
        q: &mut EventQueue<Event>,
    ) {
        let layers = &self.policy.layers;
        let c = &self.calls[call as usize];
        let Some(i) = (0..layers.len()).find(|&i| c.tries[i] < layers[i].max_attempts) else {
            self.give_up(now, call, q);
            return;
        };
        let a = &self.agents[c.agent as usize];
        let key = self.call_key(c.agent, a.next_call);
        let u = unit(&mut stream(
            self.seed,
            BACKOFF,
            &[
                key[0],
                key[1],
                key[2],
                key[3],
                a.generation as u64,
                c.attempts as u64,
            ],
        ));
        let layer = &layers[i];
        let wait_s = layer.wait_secs(c.tries[i], c.previous_wait_s[i], retry_after_s, u);
        let through_admission = layer.through_admission;
        let c = &mut self.calls[call as usize];
        c.tries[i] += 1;
        c.previous_wait_s[i] = Some(wait_s);
        for j in 0..i {
            c.tries[j] = 1;
            c.previous_wait_s[j] = None;
        }
        self.rec.retries += 1;
        q.push(
            now.after(secs_to_nanos(wait_s)),
            Event::Send {
                call,
                through_admission,
            },
        );
    }

    fn give_up(&mut self, now: SimTime, call: u32, q: &mut EventQueue<Event>) {
        let c = self.calls.remove(call as usize);
        self.rec.gave_up += 1;
        self.rec.call_latency.record(now.since(c.started));
        let a = &mut self.agents[c.agent as usize];
        if a.restarts < self.policy.agent_restarts {
            a.restarts += 1;
            a.generation += 1;
            a.next_call = 0;
            self.rec.agent_restarts += 1;
            self.start_call(now, c.agent, q);
        } else {
            let job = a.job as usize;
            self.jobs[job].failed = true;
            self.agent_done(now, c.agent);
        }
    }

    fn agent_done(&mut self, now: SimTime, agent: u32) {
        let a = self.agents.remove(agent as usize);
        let job = &mut self.jobs[a.job as usize];
        job.agents_left -= 1;
        if job.agents_left == 0 {
            let job = self.jobs.remove(a.job as usize);
            self.rec.job_latency.record(now.since(job.arrived));
            if job.failed {
                self.rec.jobs_failed += 1;
            } else {
                self.rec.jobs_ok += 1;
            }
            self.rec.last_job_end = now;
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
}
