//! One policy running one workload against one provider: the parts of the model, tied together.
//!
//! Task: turn the scenario's entities (jobs, tasks, calls, attempts) into events on the engine,
//! drawing every random value from a stream keyed by what it is for, so that two policies run on
//! the same seed see the same jobs, token sizes, service times, errors and jitter draws.
//!
//! The parts, each a module with its own state:
//! - the workload ([`super::jobs`], [`super::arrivals`]): sources, jobs and their task trees,
//!   work limits;
//! - the client ([`super::client`]): each call's attempts, retry layers, deadlines, admission
//!   line, retry budget, hedges, and the policies behind [`super::client::hooks::ClientPolicy`];
//! - the providers ([`super::provider`]): limits, serving slots, processor sharing, capacity,
//!   outages, one state per provider; the router ([`super::router`]) picks among them;
//! - the ledger ([`super::ledger`]): every observation recorded once, for the run, its tenant and
//!   the time series.
//!
//! This file holds the events and hands each to the part it concerns; at the end of a run it
//! checks the conservation rules ([`super::conservation`]).

use super::arrivals::SourceState;
use super::client::Client;
use super::config::{Policy, Scenario};
use super::conservation::{self, Live};
use super::ids::{CallId, Key, RequestId, Stamps, TaskId};
use super::jobs::Workload;
use super::ledger::Ledger;
use super::provider::Provider;
use super::router::Router;
use crate::engine::rng::{purpose, stream};
use crate::engine::{EventQueue, GuardTripped, Model, RunStats, SimTime, run};
use crate::metrics::recorder::{Distribution, Prices};
use crate::metrics::timeseries::{Gauges, Sample};
use crate::metrics::{Metrics, ProviderMetrics, TenantMetrics};
use slab::Slab;

const ARRIVALS: u64 = purpose("arrivals");

/// Everything that can happen. Events aimed at a call or a request carry the stamp of a
/// [`Key`]; one whose stamp is no longer current is stale and changes nothing
/// ([`World::is_current`]). Fields are laid out flat so that an event fits in 16 bytes.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// A source's next arrival (or its whole burst).
    Arrive { source: u32 },
    /// A call's next attempt leaves, through the admission line or straight out. Stamped with
    /// the call's serial.
    Send {
        call: CallId,
        through_admission: bool,
        serial: u64,
    },
    /// A provider finishes serving a request. Stamped with its finish schedule.
    Finish {
        provider: u8,
        request: RequestId,
        stamp: u64,
    },
    /// The client's per-attempt timeout. Stamped with the attempt.
    Timeout { call: CallId, attempt: u64 },
    /// Time to hedge an attempt if it is still out. Stamped with the attempt.
    Hedge { call: CallId, attempt: u64 },
    /// An agent's pause between calls is over.
    NextCall { task: TaskId },
    /// A wait task's time is up.
    WaitDone { task: TaskId },
    /// The client's buckets may now all hold enough for the head of its line (the wake is set at
    /// the longest of their waits).
    AdmissionWake,
    /// A provider's capacity changes to step `step` of its schedule.
    Capacity { provider: u8, step: u32 },
}

impl Event {
    /// A `Send` of `key.id`, stamped with its serial.
    pub fn send(key: Key<CallId>, through_admission: bool) -> Event {
        Event::Send {
            call: key.id,
            through_admission,
            serial: key.stamp,
        }
    }
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
    /// Each provider's numbers, by provider index, when the scenario has several (else empty:
    /// the one provider's numbers are the totals).
    pub providers: Vec<ProviderMetrics>,
    /// The guard that stopped the run, when the scenario lets guards stop runs quietly.
    pub guard: Option<GuardTripped>,
}

/// The state of one run: its parts, and what they share (the scenario, the policy, the seed and
/// the stamp counter).
pub struct World<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) policy: &'a Policy,
    pub(crate) seed: u64,
    pub(crate) stamps: Stamps,
    pub(crate) work: Workload,
    pub(crate) client: Client,
    /// The scenario's providers, by index.
    pub(crate) providers: Vec<Provider<'a>>,
    /// With a route in the policy: what the router knows of the providers.
    pub(crate) router: Option<Router>,
    pub(crate) ledger: Ledger,
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
    let prices: Vec<Prices> = scenario.providers.iter().map(Prices::of).collect();
    let mut world = World {
        scenario,
        policy,
        seed,
        stamps: Stamps::default(),
        work: Workload {
            sources: (0..scenario.sources.len())
                .map(|i| SourceState {
                    rng: stream(seed, ARRIVALS, &[i as u64]),
                    emitted: 0,
                })
                .collect(),
            jobs: Slab::new(),
            tasks: Slab::new(),
            steps: Vec::new(),
            walking: false,
        },
        client: Client::new(scenario, policy),
        providers: scenario
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| Provider::new(p, i as u8, seed))
            .collect(),
        router: policy
            .route
            .as_ref()
            .map(|_| Router::new(&scenario.providers)),
        ledger: Ledger::new(
            scenario.tenants.len(),
            scenario.timeseries_interval_ns.filter(|_| details),
            prices.clone(),
        ),
        last_event: SimTime::ZERO,
    };
    let mut queue = EventQueue::new();
    for (i, source) in scenario.sources.iter().enumerate() {
        let s = &mut world.work.sources[i];
        let first = s.next_arrival(&source.arrival, SimTime::ZERO, true);
        if s.may_arrive(&source.arrival, first) {
            queue.push(first, Event::Arrive { source: i as u32 });
        }
    }
    for (i, p) in world.providers.iter().enumerate() {
        if let Some(at) = p.first_capacity_step() {
            queue.push(
                at,
                Event::Capacity {
                    provider: i as u8,
                    step: 0,
                },
            );
        }
    }
    let (events, guard) = match run(&mut world, &mut queue, &scenario.guards) {
        Ok(RunStats { events, .. }) => (events, None),
        // Stopping quietly: the state so far is consistent; report it, marked.
        Err(tripped) if scenario.guards.stop_quietly => (tripped.events, Some(tripped)),
        Err(tripped) => return Err(tripped),
    };
    let end = world.last_event;
    let gauges = world.gauges(&world.ledger);
    let rec = &world.ledger.rec;
    let mut metrics = rec.finish(end, events, &prices[0]);
    metrics.guard_tripped = guard.is_some() as u8 as f64;
    let providers = world.provider_metrics(end, &mut metrics);
    if conservation::enabled() {
        let broken = conservation::violations(
            &world.ledger.life,
            &world.live(end),
            &metrics,
            guard.is_none(),
        );
        assert!(
            broken.is_empty(),
            "conservation violated (a bug in stampede: please report it with the scenario, \
             policy \"{}\" and seed {seed}):\n  {}",
            policy.name,
            broken.join("\n  ")
        );
    }
    let several = world.ledger.several_providers();
    let tenants = rec.tenant_metrics(&metrics, (!several).then_some(&prices[0]));
    Ok(RunOutput {
        guard,
        tenants,
        providers,
        metrics,
        series: world.ledger.series.take().map(|s| s.finish(end, gauges)),
        distribution: details.then(|| world.ledger.rec.distribution()),
    })
}

impl Model for World<'_> {
    type Event = Event;

    #[inline]
    fn handle(&mut self, now: SimTime, event: Event, q: &mut EventQueue<Event>) {
        // Stale events change nothing and must not stretch the run's end (which time averages
        // divide by).
        if !self.is_current(&event) {
            return;
        }
        self.last_event = now;
        let (providers, client) = (&self.providers, &self.client);
        self.ledger
            .tick(now, |ledger| Self::gauges_of(providers, client, ledger));
        match event {
            Event::Arrive { source } => self.arrive(now, source as usize, q),
            Event::Send {
                call,
                through_admission,
                ..
            } => {
                self.client.set_delayed(call, false);
                self.dispatch(now, call, through_admission, q)
            }
            Event::Finish {
                provider, request, ..
            } => self.served(now, provider as usize, request, q),
            Event::Timeout { call, .. } => self.timed_out(now, call, q),
            Event::Hedge { call, .. } => self.hedge(now, call, q),
            Event::NextCall { task } => self.start_call(now, task, q),
            Event::WaitDone { task } => self.complete(now, task, false, q),
            Event::AdmissionWake => {
                if self.client.wake_at.is_some_and(|t| t <= now) {
                    self.client.wake_at = None;
                }
                self.admit_waiting(now, q);
            }
            Event::Capacity { provider, step } => {
                self.providers[provider as usize].capacity_step(now, step as usize, q)
            }
        }
        self.settle(now, q);
    }

    #[inline]
    fn live_entities(&self) -> usize {
        self.work.jobs.len() + self.work.tasks.len() + self.client.calls.len()
    }

    /// Tasks started and agents restarted: a tree that makes no calls, or an agent whose calls
    /// fail at once, does all its work inside one event.
    #[inline]
    fn work(&self) -> u64 {
        self.ledger.life.tasks_started + self.ledger.rec.agent_restarts
    }
}

impl World<'_> {
    /// Whether `event` still means something: the one test for stale events.
    #[inline]
    fn is_current(&self, event: &Event) -> bool {
        let calls = &self.client.calls;
        match *event {
            Event::Finish {
                provider,
                request,
                stamp,
            } => self.providers[provider as usize].finishing(Key { id: request, stamp }),
            Event::Timeout { call, attempt } | Event::Hedge { call, attempt } => calls
                .get(call.index())
                .is_some_and(|c| c.request.is_some() && c.attempt == attempt),
            Event::Send { call, serial, .. } => {
                calls.get(call.index()).is_some_and(|c| c.serial == serial)
            }
            _ => true,
        }
    }

    fn gauges(&self, ledger: &Ledger) -> Gauges {
        Self::gauges_of(&self.providers, &self.client, ledger)
    }

    /// The time series' gauges: summed over the providers, the token limit the first's.
    fn gauges_of(providers: &[Provider], client: &Client, ledger: &Ledger) -> Gauges {
        Gauges {
            in_flight: providers.iter().map(|p| p.in_flight() as u64).sum(),
            provider_queue: providers.iter().map(|p| p.queued() as u64).sum(),
            client_queue: client.admission.len() as u64,
            limit_tokens_per_s: providers[0].token_rate_per_s(),
            spend_usd: ledger.spend_usd(),
            in_flight_by_provider: if ledger.several_providers() {
                providers.iter().map(|p| p.in_flight() as u64).collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Attempts admitted and not yet left, at every provider.
    #[inline]
    pub(crate) fn in_flight(&self) -> u32 {
        match &self.providers[..] {
            [one] => one.in_flight(),
            all => all.iter().map(|p| p.in_flight()).sum(),
        }
    }

    /// Each provider's numbers when there are several, and the run's spend (in `metrics`) at
    /// each one's prices.
    fn provider_metrics(&self, end: SimTime, metrics: &mut Metrics) -> Vec<ProviderMetrics> {
        let l = &self.ledger;
        if !l.several_providers() {
            return Vec::new();
        }
        let mut cost = 0.0;
        let mut saved = 0.0;
        let out = l
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let prices = l.prices(i);
                cost += p.cost(prices);
                saved += prices.saved_by_cache(p.tokens_cache_read, p.tokens_cache_write);
                p.metrics(end, prices)
            })
            .collect();
        metrics.cost_usd = cost;
        metrics.cost_saved_by_cache_usd = saved;
        metrics.cost_wasted_usd = l.wasted_usd;
        out
    }

    /// What is live at `end`, read from each part's own state.
    fn live(&self, end: SimTime) -> Live {
        let calls = || self.client.calls.iter().map(|(_, c)| c);
        let rec = &self.ledger.rec;
        let tenant_sums = (!rec.tenants.is_empty()).then(|| {
            rec.tenants.iter().fold([0; 3], |[j, a, t], r| {
                [
                    j + r.jobs,
                    a + r.attempts,
                    t + r.tokens_input + r.tokens_output,
                ]
            })
        });
        Live {
            jobs: self.work.jobs.len() as u64,
            tasks: self.work.tasks.len() as u64,
            calls: self.client.calls.len() as u64,
            hedges: calls().map(|c| c.live_hedges as u64).sum(),
            requests: self
                .providers
                .iter()
                .map(|p| p.requests_held() as u64)
                .sum(),
            provider_in_flight: self.in_flight() as u64,
            recorded_in_flight: rec.in_flight(),
            provider_queued: self.providers.iter().map(|p| p.queued() as u64).sum(),
            sharing: self.providers.iter().map(|p| p.sharing() as u64).sum(),
            admission_line: self.client.admission.len() as u64,
            calls_in_line: calls().filter(|c| c.in_line).count() as u64,
            line: self.client.admission.counts(),
            delayed: self.client.delayed as u64,
            calls_delayed: calls().filter(|c| c.delayed).count() as u64,
            active_retries: self.client.active_retries,
            calls_retrying: self.client.retries_in_flight(),
            open_stays_ns: self.providers.iter().map(|p| p.open_stays_ns(end)).sum(),
            in_flight_area_ns: rec.in_flight_area(end),
            job_tokens: self.work.jobs.iter().map(|(_, j)| j.tokens).sum(),
            tenant_sums,
            provider_sums: self.ledger.several_providers().then(|| {
                self.ledger.providers.iter().fold([0; 6], |s, p| {
                    [
                        s[0] + p.attempts,
                        s[1] + p.rate_limited,
                        s[2] + p.server_errors,
                        s[3] + p.timeouts,
                        s[4] + p.answered,
                        s[5] + p.tokens_input + p.tokens_output,
                    ]
                })
            }),
            provider_in_flight_pairs: self
                .ledger
                .providers
                .iter()
                .zip(&self.providers)
                .map(|(r, p)| (r.in_flight, p.in_flight() as u64))
                .collect(),
        }
    }
}
