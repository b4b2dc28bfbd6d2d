//! The provider: rate limits and their Retry-After hints, outages, serving slots with FIFO or
//! processor sharing, and the capacity schedule.
//!
//! It owns every admitted attempt (a [`Request`]) from admission until it leaves: served, failed
//! with a 500 at its time to first token, or cut off by the client. The client learns the outcome
//! from the value each method returns; the provider never looks at calls, jobs or policies.

use super::config::{LimitKind, Provider as Spec, Resource, Serving};
use super::ids::{CallId, Key, RequestId, Stamps};
use super::limiter::Limiter;
use super::world::Event;
use crate::engine::rng::{purpose, stream, unit};
use crate::engine::time::{NANOS_PER_SEC, nanos_to_secs, secs_to_nanos};
use crate::engine::{EventQueue, SimTime};
use slab::Slab;
use std::collections::VecDeque;

const SERVICE: u64 = purpose("service");

/// How the provider answered an attempt on arrival.
pub enum Answer {
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

/// An attempt's sizes, as the provider sees them.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub prompt: u32,
    pub max_tokens: u32,
    /// Tokens it will generate if served to the end.
    pub output: u32,
    /// Tokens of `prompt` that form a cached prefix (0: none; its hit rate is the call
    /// template's).
    pub cached: u32,
    /// Whether the current attempt's prefix is a cache hit (drawn when it is sent); a miss
    /// writes the prefix to the cache.
    pub cache_hit: bool,
}

impl Sizes {
    /// Prompt tokens the input-counting limits are charged: all of them, less a cache hit's
    /// prefix when cache reads do not count.
    #[inline]
    pub fn limited_prompt(&self, cache_reads_count: bool) -> u32 {
        if self.cache_hit && !cache_reads_count {
            self.prompt - self.cached
        } else {
            self.prompt
        }
    }

    /// The prompt's cache reads and cache writes, tokens (both 0 without a cached prefix).
    #[inline]
    pub fn cache_split(&self) -> (u64, u64) {
        let cached = self.cached as u64;
        if self.cache_hit {
            (cached, 0)
        } else {
            (0, cached)
        }
    }
}

/// An admitted attempt.
pub struct Request {
    /// The call it answers.
    pub call: CallId,
    pub sizes: Sizes,
    /// Names the attempt across policies: its service draws come from a stream keyed by it.
    key: [u64; 4],
    /// The attempt's stamp (for its place in the queue).
    stamp: u64,
    /// The stamp of its pending `Finish`.
    finish: u64,
    serving: bool,
    pub admitted_at: SimTime,
    service_started: SimTime,
    /// End of the time to first token.
    ttft_end: SimTime,
    /// Decode rate, tokens/s, before processor sharing.
    decode_rate: f64,
    /// Output tokens still to generate, as of `progress_at`.
    tokens_left: f64,
    progress_at: SimTime,
    /// It fails with a 500 at its time to first token.
    pub fails: bool,
}

/// How long a request that left waited for a slot, and was at the provider in all.
#[derive(Clone, Copy, Debug)]
pub struct Stay {
    pub wait_ns: u64,
    pub total_ns: u64,
}

/// A request whose service ended: whose it was and how it went.
pub struct Finished {
    pub call: CallId,
    pub sizes: Sizes,
    pub admitted_at: SimTime,
    /// It failed with a 500 at its time to first token.
    pub fails: bool,
    pub stay: Stay,
}

/// A request cut off by the client: what it cost.
pub struct Cut {
    pub stay: Stay,
    /// Input and output tokens billed (all waste): `None` if it never reached a slot.
    pub billed: Option<(u64, u64)>,
}

/// The provider's state during one run.
pub struct Provider<'a> {
    spec: &'a Spec,
    /// Its place among the scenario's providers (its events carry it).
    index: u8,
    seed: u64,
    /// Each limit with what it counts and the most one attempt may ever cost against it (its
    /// configured burst or window limit, whatever the current capacity).
    limits: Vec<(Resource, Limiter, f64)>,
    decode_scale: f64,
    serving: u32,
    slots: u32,
    queue: VecDeque<Key<RequestId>>,
    queued: u32,
    /// Requests being served, for processor sharing.
    in_service: Vec<RequestId>,
    requests: Slab<Request>,
}

impl<'a> Provider<'a> {
    /// Provider number `index` of the scenario, run with `seed`.
    pub fn new(spec: &'a Spec, index: u8, seed: u64) -> Provider<'a> {
        Provider {
            spec,
            index,
            seed,
            limits: spec
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
            slots: spec.concurrency.unwrap_or(u32::MAX),
            queue: VecDeque::new(),
            queued: 0,
            in_service: Vec::new(),
            requests: Slab::new(),
        }
    }

    /// The first capacity change, to schedule at the start.
    pub fn first_capacity_step(&self) -> Option<SimTime> {
        self.spec.capacity.first().map(|s| SimTime(s.at_ns))
    }

    /// What it is: its spec.
    #[inline]
    pub fn spec(&self) -> &'a Spec {
        self.spec
    }

    /// Attempts admitted and not yet left: queued or being served.
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.serving + self.queued
    }

    /// Attempts waiting for a slot.
    pub fn queued(&self) -> u32 {
        self.queued
    }

    /// Requests held (queued or served): the conservation checks' view.
    pub fn requests_held(&self) -> usize {
        self.requests.len()
    }

    /// Requests being served, as counted by the processor-sharing list (FIFO keeps none).
    pub fn sharing(&self) -> usize {
        self.in_service.len()
    }

    /// The stays so far, at `end`, of the requests still held.
    pub fn open_stays_ns(&self, end: SimTime) -> u128 {
        self.requests
            .iter()
            .map(|(_, r)| end.since(r.admitted_at) as u128)
            .sum()
    }

    /// The current rate of the first total-token limit, for the time series.
    pub fn token_rate_per_s(&self) -> f64 {
        self.limits
            .iter()
            .find(|(r, _, _)| *r == Resource::Tokens)
            .map_or(f64::NAN, |(_, l, _)| l.rate_per_s())
    }

    /// The request `key` names, if its `Finish` is still the one meant to happen.
    #[inline]
    pub fn finishing(&self, key: Key<RequestId>) -> bool {
        self.requests
            .get(key.id.index())
            .is_some_and(|r| r.serving && r.finish == key.stamp)
    }

    /// The prompt tokens the input-counting limits charge an attempt of `sizes`.
    #[inline]
    pub fn charged_prompt(&self, sizes: &Sizes) -> u32 {
        sizes.limited_prompt(self.spec.cache_reads_count_toward_input_limit)
    }

    /// Offers one attempt of `sizes` at `now`: admitted (its cost taken from every limit),
    /// refused, or failed.
    #[inline]
    pub fn offer(&mut self, now: SimTime, sizes: Sizes) -> Answer {
        let p = self.spec;
        if p.outages
            .iter()
            .any(|o| o.start_ns <= now.0 && now.0 < o.end_ns)
        {
            return Answer::ServerError;
        }
        if p.max_in_flight.is_some_and(|m| self.in_flight() >= m) {
            return Answer::RateLimited { retry_after_s: 1.0 };
        }
        let prompt = self.charged_prompt(&sizes);
        let max_tokens = sizes.max_tokens;
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

    /// Takes in attempt `stamp` of `call`, admitted at `now`: it is served at once if a slot is
    /// free, else it waits in line.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn admit(
        &mut self,
        now: SimTime,
        call: CallId,
        stamp: u64,
        sizes: Sizes,
        key: [u64; 4],
        stamps: &mut Stamps,
        q: &mut EventQueue<Event>,
    ) -> RequestId {
        let id = RequestId::from(self.requests.insert(Request {
            call,
            sizes,
            key,
            stamp,
            finish: 0,
            serving: false,
            admitted_at: now,
            service_started: now,
            ttft_end: now,
            decode_rate: 1.0,
            tokens_left: 0.0,
            progress_at: now,
            fails: false,
        }));
        if self.serving < self.slots {
            self.start_service(now, id, stamps, q);
        } else {
            self.queued += 1;
            self.queue.push_back(Key { id, stamp });
        }
        id
    }

    /// The request's service ended at its scheduled time: it leaves (its slot goes to the next in
    /// line).
    pub fn finish(
        &mut self,
        now: SimTime,
        id: RequestId,
        stamps: &mut Stamps,
        q: &mut EventQueue<Event>,
    ) -> Finished {
        let r = &self.requests[id.index()];
        let done = Finished {
            call: r.call,
            sizes: r.sizes,
            admitted_at: r.admitted_at,
            fails: r.fails,
            stay: Stay {
                wait_ns: r.service_started.since(r.admitted_at),
                total_ns: now.since(r.admitted_at),
            },
        };
        self.end_service(now, id, stamps, q);
        done
    }

    /// The client stops waiting for request `id`: one waiting for a slot leaves the line unbilled;
    /// one being served is billed for its input and the output generated so far.
    pub fn cut_off(
        &mut self,
        now: SimTime,
        id: RequestId,
        stamps: &mut Stamps,
        q: &mut EventQueue<Event>,
    ) -> Cut {
        let r = &self.requests[id.index()];
        if !r.serving {
            // Its place in line goes stale.
            let waited = now.since(r.admitted_at);
            self.requests.remove(id.index());
            self.queued -= 1;
            return Cut {
                stay: Stay {
                    wait_ns: waited,
                    total_ns: waited,
                },
                billed: None,
            };
        }
        let share = self.share();
        let r = &mut self.requests[id.index()];
        Self::progress(r, now, share);
        // The prompt was read (billed) once serving began; output as far as generated.
        let generated = (r.sizes.output as f64 - r.tokens_left).floor().max(0.0) as u64;
        let input = r.sizes.prompt as u64;
        let stay = Stay {
            wait_ns: r.service_started.since(r.admitted_at),
            total_ns: now.since(r.admitted_at),
        };
        self.end_service(now, id, stamps, q);
        Cut {
            stay,
            billed: Some((input, generated)),
        }
    }

    /// Completion reconciles the estimate: `unused` output tokens go back to the limits that
    /// counted `max_tokens`, when the provider refunds.
    pub fn refund_unused_output(&mut self, now: SimTime, admitted_at: SimTime, unused: f64) {
        if !self.spec.refund_unused_output {
            return;
        }
        for (resource, limiter, _) in &mut self.limits {
            if resource.counts_output() {
                limiter.refund(now, admitted_at, unused);
            }
        }
    }

    /// The capacity changes to step `step` of its schedule; the next step is scheduled.
    pub fn capacity_step(&mut self, now: SimTime, step: usize, q: &mut EventQueue<Event>) {
        let steps = &self.spec.capacity;
        let s = steps[step];
        for (_, limiter, _) in &mut self.limits {
            limiter.set_scale(now, s.limits);
        }
        self.decode_scale = s.decode;
        if let Some(next) = steps.get(step + 1) {
            q.push(
                SimTime(next.at_ns),
                Event::Capacity {
                    provider: self.index,
                    step: step as u32 + 1,
                },
            );
        }
    }

    /// Processor sharing: the factor each decoding attempt's rate is multiplied by.
    #[inline]
    fn share(&self) -> f64 {
        match self.spec.serving {
            Serving::Fifo => 1.0,
            Serving::Shared { above } => (above as f64 / self.serving.max(1) as f64).min(1.0),
        }
    }

    /// Brings `r`'s decoding progress up to `now` at sharing factor `share`.
    #[inline]
    fn progress(r: &mut Request, now: SimTime, share: f64) {
        let from = r.progress_at.max(r.ttft_end);
        if now > from {
            r.tokens_left =
                (r.tokens_left - r.decode_rate * share * nanos_to_secs(now.since(from))).max(0.0);
        }
        r.progress_at = now;
    }

    /// Schedules the end of `id`'s service at the current sharing factor.
    fn schedule_finish(
        &mut self,
        now: SimTime,
        id: RequestId,
        stamps: &mut Stamps,
        q: &mut EventQueue<Event>,
    ) {
        let share = self.share();
        let stamp = stamps.issue();
        let r = &mut self.requests[id.index()];
        r.finish = stamp;
        let at = if r.fails {
            r.ttft_end
        } else {
            r.ttft_end
                .max(now)
                .after(secs_to_nanos(r.tokens_left / (r.decode_rate * share)))
        };
        q.push(
            at,
            Event::Finish {
                provider: self.index,
                request: id,
                stamp,
            },
        );
    }

    /// Under processor sharing, the number served changed: bring everyone's progress up to `now`
    /// at the old factor and reschedule their ends at the new one.
    fn reshare(
        &mut self,
        now: SimTime,
        old_share: f64,
        stamps: &mut Stamps,
        q: &mut EventQueue<Event>,
    ) {
        if matches!(self.spec.serving, Serving::Fifo) || self.share() == old_share {
            return;
        }
        for i in 0..self.in_service.len() {
            let id = self.in_service[i];
            Self::progress(&mut self.requests[id.index()], now, old_share);
            self.schedule_finish(now, id, stamps, q);
        }
    }

    fn start_service(
        &mut self,
        now: SimTime,
        id: RequestId,
        stamps: &mut Stamps,
        q: &mut EventQueue<Event>,
    ) {
        let old_share = self.share();
        self.serving += 1;
        let p = self.spec;
        let r = &mut self.requests[id.index()];
        let mut rng = stream(self.seed, SERVICE, &r.key);
        let ttft = p.ttft_s.sample(&mut rng);
        let rate = if r.sizes.output > 0 {
            p.decode_tokens_per_s.sample(&mut rng).max(1e-9) * self.decode_scale
        } else {
            1.0
        };
        r.fails = p.error_rate > 0.0 && unit(&mut rng) < p.error_rate;
        r.serving = true;
        r.service_started = now;
        r.ttft_end = now.after(secs_to_nanos(ttft));
        r.decode_rate = rate;
        r.tokens_left = r.sizes.output as f64;
        r.progress_at = now;
        if !matches!(p.serving, Serving::Fifo) {
            self.in_service.push(id);
            self.reshare(now, old_share, stamps, q);
        }
        self.schedule_finish(now, id, stamps, q);
    }

    /// Request `id` leaves its slot, which goes to the next live request in line.
    fn end_service(
        &mut self,
        now: SimTime,
        id: RequestId,
        stamps: &mut Stamps,
        q: &mut EventQueue<Event>,
    ) {
        let old_share = self.share();
        if !matches!(self.spec.serving, Serving::Fifo) {
            for i in 0..self.in_service.len() {
                let other = self.in_service[i];
                Self::progress(&mut self.requests[other.index()], now, old_share);
            }
            if let Some(i) = self.in_service.iter().position(|&r| r == id) {
                self.in_service.swap_remove(i);
            }
        }
        self.serving -= 1;
        self.requests.remove(id.index());
        while let Some(next) = self.queue.pop_front() {
            let live = self
                .requests
                .get(next.id.index())
                .is_some_and(|r| !r.serving && r.stamp == next.stamp);
            if live {
                self.queued -= 1;
                self.start_service(now, next.id, stamps, q);
                return;
            }
        }
        self.reshare(now, old_share, stamps, q);
    }
}
