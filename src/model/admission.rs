//! Client-side admission: the buckets a call must pass before it is sent, and the order in which
//! waiting calls go.
//!
//! Task: hold calls back instead of letting them fail. A call waits until every bucket that
//! applies to it holds what the call costs it, then takes from all of them at once (so that no
//! bucket pays for a call another holds back). Each bucket counts one [`Resource`], as a
//! provider's limits do: requests (1 a call), input tokens (the prompt), output tokens
//! (`max_tokens`) or tokens (`prompt + max_tokens`, the default); the call's wait is the longest
//! of its buckets' waits. Buckets are scoped: one for the whole client, one per tenant, one per
//! job (each scope up to one per resource); nested, they form a hierarchy (a call must pass its
//! job's, its tenant's and the global buckets), so that one heavy tenant or one fanned-out job
//! cannot spend everyone's budget.
//!
//! Waiting calls go in FIFO order, or fairly: deficit round robin (Shreedhar and Varghese, 1995)
//! over tenants or jobs with a quantum of one call, so that each backlogged tenant (or job) gets
//! the next turn at the shared bucket in rotation, and one blocked by its own bucket does not hold
//! up the others.

use super::config::Resource;
use super::limiter::TokenBucket;
use crate::engine::SimTime;
use std::collections::VecDeque;

/// Whom a bucket is shared by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every call of the client.
    Global,
    /// The calls of one tenant (one source's jobs).
    Tenant,
    /// The calls of one job (an orchestrator and its agents).
    Job,
}

/// One client bucket: `rate_per_s` units of `resource` per second up to `burst`, per `scope`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScopedBucket {
    /// Who shares it.
    pub scope: Scope,
    /// What it counts: an attempt is charged `resource.estimate(prompt, max_tokens)`
    /// ([`Resource::Tokens`], `prompt + max_tokens`, unless the scenario says otherwise).
    pub resource: Resource,
    /// Refill, units per second.
    pub rate_per_s: f64,
    /// Capacity, units.
    pub burst: f64,
}

/// The most buckets one scope holds: one per resource.
pub const MAX_BUCKETS_PER_SCOPE: usize = 4;

/// The order waiting calls go in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discipline {
    /// First come, first served: the head of the line blocks everyone behind it.
    Fifo,
    /// Round robin between tenants (or jobs), one call per turn.
    Fair(Scope),
}

/// A call waiting for admission.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Waiting {
    /// The call.
    pub call: u32,
    /// Its prompt tokens and `max_tokens`: each bucket charges its resource's estimate of them.
    pub prompt: u32,
    pub max_tokens: u32,
    /// Its tenant's index.
    pub tenant: u32,
    /// Its job's id.
    pub job: u32,
}

/// What [`Admission::pop_ready`] found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Popped {
    /// This call may go now; its buckets have been charged.
    Ready(Waiting),
    /// Nothing may go before this many nanoseconds from now.
    Wait(u64),
    /// Something waits, but on a condition outside the buckets (the caller's gate): no timer.
    Blocked,
    /// Nobody waits.
    Empty,
}

/// The buckets of one scope: the same up-to-four resources for each of its instances (the one
/// global instance, each tenant, each job), stored flat, instance `k`'s at `k * n..(k + 1) * n`,
/// so that checking a call allocates nothing and a single bucket costs one slot per instance.
#[derive(Clone, Debug)]
struct Tier {
    /// Buckets per instance (0: the scope has none).
    n: usize,
    resources: [Resource; MAX_BUCKETS_PER_SCOPE],
    /// `(rate_per_s, burst)` of each resource's bucket.
    specs: [(f64, f64); MAX_BUCKETS_PER_SCOPE],
    buckets: Vec<TokenBucket>,
    /// Charges each resource's buckets took, over all instances (the conservation checks: every
    /// call let through charged every bucket of its scope once).
    charges: [u64; MAX_BUCKETS_PER_SCOPE],
}

impl Tier {
    /// The buckets of `scope` among `buckets`, with `instances` instances made full.
    fn new(buckets: &[ScopedBucket], scope: Scope, instances: usize) -> Tier {
        let mut t = Tier {
            n: 0,
            resources: [Resource::Tokens; MAX_BUCKETS_PER_SCOPE],
            specs: [(0.0, 0.0); MAX_BUCKETS_PER_SCOPE],
            buckets: Vec::new(),
            charges: [0; MAX_BUCKETS_PER_SCOPE],
        };
        for b in buckets.iter().filter(|b| b.scope == scope) {
            assert!(
                t.n < MAX_BUCKETS_PER_SCOPE && !t.resources[..t.n].contains(&b.resource),
                "at most one bucket per scope and resource"
            );
            t.resources[t.n] = b.resource;
            t.specs[t.n] = (b.rate_per_s, b.burst);
            t.n += 1;
        }
        if instances > 0 {
            t.reset(instances - 1);
        }
        t
    }

    /// Instance `k` gets fresh, full buckets (growing the store if needed).
    fn reset(&mut self, k: usize) {
        let n = self.n;
        if n == 0 {
            return;
        }
        if self.buckets.len() < (k + 1) * n {
            let specs = self.specs;
            let len = self.buckets.len();
            self.buckets.extend(
                (len..(k + 1) * n).map(|i| TokenBucket::new(specs[i % n].0, specs[i % n].1)),
            );
        }
        for i in 0..n {
            self.buckets[k * n + i] = TokenBucket::new(self.specs[i].0, self.specs[i].1);
        }
    }

    /// Nanoseconds until every bucket of instance `k` holds what `w` costs it (0 when the scope
    /// has no buckets or no such instance): the largest of their waits, since a bucket's level
    /// only grows while nothing takes from it.
    #[inline(always)]
    fn wait(&mut self, k: usize, now: SimTime, w: &Waiting) -> u64 {
        let n = self.n;
        if n <= 1 {
            // No bucket, or one (the common case: as cheap as before buckets had resources).
            if n == 1
                && let Some(b) = self.buckets.get_mut(k)
            {
                return b.wait_nanos(now, self.resources[0].estimate(w.prompt, w.max_tokens));
            }
            return 0;
        }
        let Some(slots) = self.buckets.get_mut(k * n..(k + 1) * n) else {
            return 0;
        };
        let mut wait = 0;
        for (b, r) in slots.iter_mut().zip(&self.resources) {
            wait = wait.max(b.wait_nanos(now, r.estimate(w.prompt, w.max_tokens)));
        }
        wait
    }

    /// Charges every bucket of instance `k` what `w` costs it.
    #[inline(always)]
    fn take(&mut self, k: usize, now: SimTime, w: &Waiting) {
        let n = self.n;
        if n <= 1 {
            if n == 1
                && let Some(b) = self.buckets.get_mut(k)
            {
                b.take(now, self.resources[0].estimate(w.prompt, w.max_tokens));
                self.charges[0] += 1;
            }
            return;
        }
        let Some(slots) = self.buckets.get_mut(k * n..(k + 1) * n) else {
            return;
        };
        for ((b, r), c) in slots.iter_mut().zip(&self.resources).zip(&mut self.charges) {
            b.take(now, r.estimate(w.prompt, w.max_tokens));
            *c += 1;
        }
    }

    /// Gives `unused` output tokens back to the buckets of instance `k` that counted them.
    fn refund(&mut self, k: usize, now: SimTime, unused: f64) {
        let n = self.n;
        let Some(slots) = self.buckets.get_mut(k * n..(k + 1) * n) else {
            return;
        };
        for (b, r) in slots.iter_mut().zip(&self.resources) {
            if r.counts_output() {
                b.refund(now, unused);
            }
        }
    }
}

/// The admission line's own counts, for the conservation checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Calls put in line.
    pub pushed: u64,
    /// Calls let through (their buckets charged).
    pub passed: u64,
    /// Calls taken out uncharged.
    pub withdrawn: u64,
    /// The fewest and the most charges any one client bucket (summed over its scope's
    /// instances) took; `None` without buckets. Each should equal `passed`: a call is charged by
    /// all its buckets at once or by none.
    pub charges: Option<(u64, u64)>,
}

/// The admission state of one client.
#[derive(Clone, Debug)]
pub struct Admission {
    /// Whether any scope has buckets (read for every call sent: kept, not recomputed).
    any_buckets: bool,
    global: Tier,
    tenants: Tier,
    jobs: Tier,
    discipline: Discipline,
    /// One queue for FIFO; one per tenant or job id for fair queueing.
    queues: Vec<VecDeque<Waiting>>,
    /// Keys with waiting calls, in turn order (fair queueing only).
    ring: VecDeque<u32>,
    /// Calls each key may take per turn (its tenant's weight; 1 for jobs), and what is left of
    /// the current turn.
    weights: Vec<u32>,
    credits: Vec<u32>,
    waiting: usize,
    counts: LineCounts,
}

impl Admission {
    /// Admission with `buckets` (at most one per scope and resource) for a client serving
    /// `tenants` tenants, weighted by `weights` under fair queueing by tenant (missing weights
    /// are 1).
    pub fn new(
        buckets: &[ScopedBucket],
        discipline: Discipline,
        tenants: usize,
        weights: &[u32],
    ) -> Admission {
        Admission {
            any_buckets: !buckets.is_empty(),
            global: Tier::new(buckets, Scope::Global, 1),
            tenants: Tier::new(buckets, Scope::Tenant, tenants),
            jobs: Tier::new(buckets, Scope::Job, 0),
            discipline,
            queues: vec![VecDeque::new()],
            ring: VecDeque::new(),
            weights: if discipline == Discipline::Fair(Scope::Tenant) {
                weights.to_vec()
            } else {
                Vec::new()
            },
            credits: Vec::new(),
            waiting: 0,
            counts: LineCounts::default(),
        }
    }

    /// Whether any bucket applies (otherwise calls need not queue at all).
    #[inline]
    pub fn has_buckets(&self) -> bool {
        self.any_buckets
    }

    /// Calls waiting.
    pub fn len(&self) -> usize {
        self.waiting
    }

    /// True when nobody waits.
    pub fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// What went in and out of the line, and what the buckets were charged.
    pub fn counts(&self) -> LineCounts {
        let mut c = self.counts;
        for t in [&self.global, &self.tenants, &self.jobs] {
            for &k in &t.charges[..t.n] {
                let (lo, hi) = c.charges.unwrap_or((k, k));
                c.charges = Some((lo.min(k), hi.max(k)));
            }
        }
        c
    }

    /// A job with id `job` started: it gets fresh job buckets, full (a bucket refills to its
    /// burst from whenever it is first used).
    pub fn job_started(&mut self, job: u32) {
        self.jobs.reset(job as usize);
    }

    fn key(&self, w: &Waiting) -> usize {
        match self.discipline {
            Discipline::Fifo => 0,
            Discipline::Fair(Scope::Tenant) => w.tenant as usize,
            Discipline::Fair(_) => w.job as usize,
        }
    }

    /// Puts a call in line.
    pub fn push(&mut self, w: Waiting) {
        let key = self.key(&w);
        if self.queues.len() <= key {
            self.queues.resize_with(key + 1, VecDeque::new);
        }
        if self.credits.len() <= key {
            self.credits.resize(key + 1, 0);
        }
        if self.queues[key].is_empty() && self.discipline != Discipline::Fifo {
            self.ring.push_back(key as u32);
        }
        self.queues[key].push_back(w);
        self.waiting += 1;
        self.counts.pushed += 1;
    }

    /// Takes `call` (of `tenant` and `job`) out of line uncharged: it no longer needs to be sent
    /// (a hedge cancelled, a call answered by its hedge). Rare, so a linear search is fine.
    pub fn withdraw(&mut self, call: u32, tenant: u32, job: u32) {
        let key = self.key(&Waiting {
            call,
            prompt: 0,
            max_tokens: 0,
            tenant,
            job,
        });
        let Some(queue) = self.queues.get_mut(key) else {
            return;
        };
        let Some(i) = queue.iter().position(|w| w.call == call) else {
            return;
        };
        queue.remove(i);
        self.waiting -= 1;
        self.counts.withdrawn += 1;
        if queue.is_empty() && self.discipline != Discipline::Fifo {
            self.credits[key] = 0;
            self.ring.retain(|&k| k as usize != key);
        }
    }

    /// Nanoseconds until every bucket of `w` holds its cost, split into the shared (global) part
    /// and the part of its own tenant's and job's buckets.
    #[inline]
    fn waits(&mut self, now: SimTime, w: &Waiting) -> (u64, u64) {
        let global = self.global.wait(0, now, w);
        let tenant = self.tenants.wait(w.tenant as usize, now, w);
        let job = self.jobs.wait(w.job as usize, now, w);
        (global, tenant.max(job))
    }

    /// Charges every bucket of `w` at once (called only once all of them admit it).
    #[inline]
    fn charge(&mut self, now: SimTime, w: &Waiting) {
        self.global.take(0, now, w);
        self.tenants.take(w.tenant as usize, now, w);
        self.jobs.take(w.job as usize, now, w);
        self.counts.passed += 1;
    }

    /// Gives `unused` output tokens back to every bucket of a call of `tenant` and `job` that
    /// counted them (`output_tokens` and `tokens`; its estimate was reconciled at completion:
    /// fewer output tokens than `max_tokens`).
    pub fn refund(&mut self, now: SimTime, tenant: u32, job: u32, unused: f64) {
        self.global.refund(0, now, unused);
        self.tenants.refund(tenant as usize, now, unused);
        self.jobs.refund(job as usize, now, unused);
    }

    /// The next call that may go now (its buckets charged), or how long until one might.
    /// `gate` is an extra condition every call must meet (a concurrency limit, say).
    pub fn pop_ready(&mut self, now: SimTime, gate: &mut dyn FnMut(&Waiting) -> bool) -> Popped {
        if self.waiting == 0 {
            return Popped::Empty;
        }
        if self.discipline == Discipline::Fifo {
            let w = *self.queues[0].front().expect("a waiting call");
            let (shared, own) = self.waits(now, &w);
            let wait = shared.max(own);
            if wait > 0 {
                return Popped::Wait(wait);
            }
            if !gate(&w) {
                return Popped::Blocked;
            }
            self.charge(now, &w);
            self.queues[0].pop_front();
            self.waiting -= 1;
            return Popped::Ready(w);
        }
        // Fair: give the turn to the first key in the ring whose own buckets admit its head; a key
        // held back by its own bucket passes its turn; one held back by the shared bucket keeps it.
        let mut soonest = u64::MAX;
        for _ in 0..self.ring.len() {
            let key = *self
                .ring
                .front()
                .expect("ring holds the keys with waiting calls") as usize;
            let w = *self.queues[key]
                .front()
                .expect("a key in the ring has a waiting call");
            let (shared, own) = self.waits(now, &w);
            if own > 0 {
                soonest = soonest.min(own);
                self.ring.rotate_left(1);
                continue;
            }
            if shared > 0 {
                return Popped::Wait(shared.min(soonest));
            }
            if !gate(&w) {
                return Popped::Blocked;
            }
            self.charge(now, &w);
            self.queues[key].pop_front();
            self.waiting -= 1;
            // A turn is `weight` calls: keep the turn while credit is left, then pass it on.
            if self.credits[key] == 0 {
                self.credits[key] = self.weights.get(key).copied().unwrap_or(1).max(1);
            }
            self.credits[key] -= 1;
            if self.queues[key].is_empty() {
                self.credits[key] = 0;
                self.ring.pop_front();
            } else if self.credits[key] == 0 {
                self.ring.rotate_left(1);
            }
            return Popped::Ready(w);
        }
        Popped::Wait(soonest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// A call of `cost` tokens (all prompt: a `tokens` bucket charges `prompt + max_tokens`).
    fn w(call: u32, cost: f64, tenant: u32, job: u32) -> Waiting {
        Waiting {
            call,
            prompt: cost as u32,
            max_tokens: 0,
            tenant,
            job,
        }
    }

    fn bucket(scope: Scope, rate_per_s: f64, burst: f64) -> ScopedBucket {
        ScopedBucket {
            scope,
            resource: Resource::Tokens,
            rate_per_s,
            burst,
        }
    }

    fn open(_: &Waiting) -> bool {
        true
    }

    /// Pops every call that may go at `now`.
    fn drain(a: &mut Admission, now: SimTime) -> (Vec<u32>, Popped) {
        let mut out = Vec::new();
        loop {
            match a.pop_ready(now, &mut open) {
                Popped::Ready(w) => out.push(w.call),
                other => return (out, other),
            }
        }
    }

    #[test]
    fn fifo_lets_the_head_block_everyone_behind_it() {
        // Global 10/s, burst 10. A 10-token call passes; an 8-token one waits 0.8 s, and the
        // 1-token call behind it waits too, though the bucket could pay it.
        let mut a = Admission::new(
            &[bucket(Scope::Global, 10.0, 10.0)],
            Discipline::Fifo,
            1,
            &[],
        );
        for (c, cost) in [(1, 10.0), (2, 8.0), (3, 1.0)] {
            a.push(w(c, cost, 0, 0));
        }
        assert_eq!(
            drain(&mut a, SimTime::ZERO),
            (vec![1], Popped::Wait(8 * S / 10 + 1))
        );
        assert_eq!(drain(&mut a, SimTime(8 * S / 10 + 1)).0, vec![2]);
        assert_eq!(drain(&mut a, SimTime(9 * S / 10 + 2)).0, vec![3]);
        assert!(a.is_empty());
    }

    #[test]
    fn a_job_bucket_under_the_global_one_caps_each_job() {
        // Global 100/s burst 100; each job 10/s burst 10. Job 0 has three 5-token calls: two pass
        // at once (its burst), the third waits 0.5 s for its own bucket.
        let spec = [
            bucket(Scope::Global, 100.0, 100.0),
            bucket(Scope::Job, 10.0, 10.0),
        ];
        let mut a = Admission::new(&spec, Discipline::Fifo, 1, &[]);
        a.job_started(0);
        for c in 0..3 {
            a.push(w(c, 5.0, 0, 0));
        }
        let (passed, next) = drain(&mut a, SimTime::ZERO);
        assert_eq!(passed, vec![0, 1]);
        assert_eq!(next, Popped::Wait(S / 2 + 1));
    }

    #[test]
    fn fair_queueing_takes_tenants_in_turn_and_skips_one_held_by_its_own_bucket() {
        // Tenant buckets 1/s burst 2; global 100/s burst 100. Tenant 0 queues 4 calls, tenant 1
        // queues 2, all costing 1: turns alternate 0, 1, 0, 1; then tenant 0 is out of its own
        // tokens and waits ~1 s, while FIFO would have let tenant 0 take its 2 and block.
        let spec = [
            bucket(Scope::Global, 100.0, 100.0),
            bucket(Scope::Tenant, 1.0, 2.0),
        ];
        let mut a = Admission::new(&spec, Discipline::Fair(Scope::Tenant), 2, &[]);
        for c in 0..4 {
            a.push(w(c, 1.0, 0, 0));
        }
        a.push(w(10, 1.0, 1, 1));
        a.push(w(11, 1.0, 1, 1));
        let (passed, next) = drain(&mut a, SimTime::ZERO);
        assert_eq!(passed, vec![0, 10, 1, 11]);
        assert_eq!(next, Popped::Wait(S + 1));
    }

    #[test]
    fn under_a_shared_bucket_fair_queueing_alternates_where_fifo_serves_the_flood_first() {
        // Global 1/s, burst 1, calls cost 1. Tenant 0 floods 5 calls, then tenant 1 queues one.
        let run = |discipline| {
            let mut a = Admission::new(&[bucket(Scope::Global, 1.0, 1.0)], discipline, 2, &[]);
            for c in 0..5 {
                a.push(w(c, 1.0, 0, 0));
            }
            a.push(w(99, 1.0, 1, 1));
            let mut order = Vec::new();
            let mut now = SimTime::ZERO;
            while order.len() < 6 {
                match a.pop_ready(now, &mut open) {
                    Popped::Ready(w) => order.push(w.call),
                    Popped::Wait(ns) => now = now.after(ns),
                    other => panic!("{other:?}"),
                }
            }
            order
        };
        assert_eq!(run(Discipline::Fifo), vec![0, 1, 2, 3, 4, 99]);
        assert_eq!(
            run(Discipline::Fair(Scope::Tenant)),
            vec![0, 99, 1, 2, 3, 4]
        );
    }

    #[test]
    fn a_refund_gives_back_to_every_level() {
        let spec = [
            bucket(Scope::Global, 1.0, 10.0),
            bucket(Scope::Job, 1.0, 10.0),
        ];
        let mut a = Admission::new(&spec, Discipline::Fifo, 1, &[]);
        a.job_started(0);
        a.push(w(1, 10.0, 0, 0));
        assert_eq!(drain(&mut a, SimTime::ZERO).0, vec![1]);
        a.refund(SimTime::ZERO, 0, 0, 6.0);
        // 6 back in both buckets: a 6-token call passes at once, a further 1-token call waits 1 s.
        a.push(w(2, 6.0, 0, 0));
        a.push(w(3, 1.0, 0, 0));
        assert_eq!(drain(&mut a, SimTime::ZERO), (vec![2], Popped::Wait(S + 1)));
    }

    #[test]
    fn a_tenant_of_weight_two_takes_two_calls_per_turn() {
        // Global 1/s burst 1; tenant 0 (weight 2) and tenant 1 (weight 1) each queue 4 calls.
        let mut a = Admission::new(
            &[bucket(Scope::Global, 1.0, 1.0)],
            Discipline::Fair(Scope::Tenant),
            2,
            &[2, 1],
        );
        for c in 0..4 {
            a.push(w(c, 1.0, 0, 0));
            a.push(w(10 + c, 1.0, 1, 1));
        }
        let mut order = Vec::new();
        let mut now = SimTime::ZERO;
        while order.len() < 8 {
            match a.pop_ready(now, &mut open) {
                Popped::Ready(w) => order.push(w.call),
                Popped::Wait(ns) => now = now.after(ns),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(order, vec![0, 1, 10, 2, 3, 11, 12, 13]);
    }

    #[test]
    fn a_closed_gate_holds_the_line_without_a_timer() {
        let mut a = Admission::new(
            &[bucket(Scope::Global, 1.0, 10.0)],
            Discipline::Fifo,
            1,
            &[],
        );
        a.push(w(1, 1.0, 0, 0));
        assert_eq!(a.pop_ready(SimTime::ZERO, &mut |_| false), Popped::Blocked);
        assert_eq!(a.len(), 1);
        assert!(matches!(
            a.pop_ready(SimTime::ZERO, &mut open),
            Popped::Ready(_)
        ));
        assert_eq!(a.pop_ready(SimTime::ZERO, &mut open), Popped::Empty);
    }

    fn on(scope: Scope, resource: Resource, rate_per_s: f64, burst: f64) -> ScopedBucket {
        ScopedBucket {
            scope,
            resource,
            rate_per_s,
            burst,
        }
    }

    /// Queues `calls` (`(prompt, max_tokens)`) at t=0 under `spec` (FIFO, one tenant, job 0) and
    /// returns the instant each is let through, waking when `pop_ready` says, as the model's
    /// `AdmissionWake` does.
    fn admission_times(spec: &[ScopedBucket], calls: &[(u32, u32)]) -> Vec<u64> {
        let mut a = Admission::new(spec, Discipline::Fifo, 1, &[]);
        a.job_started(0);
        for (c, &(prompt, max_tokens)) in calls.iter().enumerate() {
            a.push(Waiting {
                call: c as u32,
                prompt,
                max_tokens,
                tenant: 0,
                job: 0,
            });
        }
        let mut times = Vec::new();
        let mut now = SimTime::ZERO;
        loop {
            match a.pop_ready(now, &mut open) {
                Popped::Ready(_) => times.push(now.0),
                Popped::Wait(ns) => now = now.after(ns),
                Popped::Empty => break,
                Popped::Blocked => panic!("no gate"),
            }
        }
        let c = a.counts();
        assert_eq!(
            (c.pushed, c.passed),
            (calls.len() as u64, calls.len() as u64)
        );
        assert_eq!(
            c.charges,
            Some((c.passed, c.passed)),
            "every bucket charged each call"
        );
        times
    }

    /// Each wait is rounded up and given one nanosecond of slack ([`TokenBucket::wait_nanos`]),
    /// and the refill's float error can push the next wait's ceiling up a nanosecond: the `k`-th
    /// wait lands within `2k` ns after the whole instant.
    fn assert_near(times: &[u64], expected_s: &[f64]) {
        assert_eq!(times.len(), expected_s.len(), "{times:?}");
        for (k, (&t, &e)) in times.iter().zip(expected_s).enumerate() {
            let e = (e * S as f64).round() as u64;
            assert!(
                t >= e && t - e <= 2 * k as u64,
                "call {k} admitted at {t} ns, expected {e} ns: {times:?}"
            );
        }
    }

    #[test]
    fn a_requests_bucket_admits_by_count_whatever_the_sizes() {
        // Rate 1/s, burst 2: two at once, then one a second, for calls of any size (a tokens
        // bucket of rate 1 would hold these for days).
        let spec = [on(Scope::Global, Resource::Requests, 1.0, 2.0)];
        let calls = [(5, 5), (100_000, 4000), (1, 0), (31_000, 8000), (7, 9)];
        let times = admission_times(&spec, &calls);
        assert_near(&times, &[0.0, 0.0, 1.0, 2.0, 3.0]);
        // Exactly: the third waits 1 s + 1 ns of slack; the fourth's refill lands 1 ns short of
        // whole, so it waits 1 s + 1 ns again.
        assert_eq!(times[..3], [0, 0, S + 1]);
    }

    #[test]
    fn an_input_tokens_bucket_charges_the_prompt_only() {
        // Prompt 100, max_tokens 900; rate 100/s, burst 100: 100 input tokens a call, one call
        // a second. A tokens bucket would charge 1000 each (ten times more).
        let spec = [on(Scope::Global, Resource::InputTokens, 100.0, 100.0)];
        let times = admission_times(&spec, &[(100, 900); 4]);
        assert_near(&times, &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(times[..2], [0, S + 1]);
        // An output_tokens bucket of the same size charges max_tokens: 900 per call at 100/s.
        let spec = [on(Scope::Global, Resource::OutputTokens, 100.0, 1000.0)];
        let times = admission_times(&spec, &[(100, 900); 3]);
        assert_near(&times, &[0.0, 8.0, 17.0]);
    }

    #[test]
    fn with_two_buckets_the_binding_one_decides() {
        // Requests 1/s burst 2 next to input tokens 1000/s burst 1000. Prompts of 10: the
        // requests bucket binds (the tokens one would pass 100 a second).
        let spec = [
            on(Scope::Global, Resource::Requests, 1.0, 2.0),
            on(Scope::Global, Resource::InputTokens, 1000.0, 1000.0),
        ];
        let times = admission_times(&spec, &[(10, 500); 5]);
        assert_near(&times, &[0.0, 0.0, 1.0, 2.0, 3.0]);
        // Prompts of 500 under requests 10/s burst 10: the tokens bucket binds (two at once,
        // then one each 0.5 s), though the requests bucket would pass ten at once.
        let spec = [
            on(Scope::Global, Resource::Requests, 10.0, 10.0),
            on(Scope::Global, Resource::InputTokens, 1000.0, 1000.0),
        ];
        let times = admission_times(&spec, &[(500, 500); 5]);
        assert_near(&times, &[0.0, 0.0, 0.5, 1.0, 1.5]);
    }

    #[test]
    fn the_wake_is_the_longest_wait_and_a_refusal_charges_no_bucket() {
        // Requests 1/s burst 1 and input tokens 100/s burst 100, both spent by the first call
        // (prompt 50): the requests bucket needs 1 s, the tokens bucket 0.5 s. One wake at 1 s.
        let spec = [
            on(Scope::Global, Resource::Requests, 1.0, 1.0),
            on(Scope::Global, Resource::InputTokens, 100.0, 100.0),
        ];
        let mut a = Admission::new(&spec, Discipline::Fifo, 1, &[]);
        for c in 0..2 {
            a.push(Waiting {
                call: c,
                prompt: 50,
                max_tokens: 0,
                tenant: 0,
                job: 0,
            });
        }
        assert!(matches!(
            a.pop_ready(SimTime::ZERO, &mut open),
            Popped::Ready(_)
        ));
        assert_eq!(a.pop_ready(SimTime::ZERO, &mut open), Popped::Wait(S + 1));
        // At 0.5 s the tokens bucket could pay but the requests bucket cannot: nothing is taken
        // from either, so at 1 s the tokens bucket is full again (100, not 100 - 50).
        let half = SimTime(S / 2 + 1);
        assert_eq!(a.pop_ready(half, &mut open), Popped::Wait(S / 2));
        assert_eq!(a.counts().charges, Some((1, 1)));
        assert!(matches!(
            a.pop_ready(SimTime(S + 1), &mut open),
            Popped::Ready(_)
        ));
        assert_eq!(a.global.buckets[1].level(SimTime(S + 1)), 50.0);
    }

    #[test]
    fn a_refund_goes_only_to_buckets_that_counted_max_tokens() {
        // Requests, input, output and tokens buckets, each burst 1000 (rate 1/s). A call of prompt
        // 100, max_tokens 400 takes 1, 100, 400 and 500; 300 unused output tokens come back to
        // the output and tokens buckets only.
        let spec = [
            on(Scope::Global, Resource::Requests, 1.0, 1000.0),
            on(Scope::Global, Resource::InputTokens, 1.0, 1000.0),
            on(Scope::Global, Resource::OutputTokens, 1.0, 1000.0),
            on(Scope::Global, Resource::Tokens, 1.0, 1000.0),
        ];
        let mut a = Admission::new(&spec, Discipline::Fifo, 1, &[]);
        a.push(Waiting {
            call: 0,
            prompt: 100,
            max_tokens: 400,
            tenant: 0,
            job: 0,
        });
        assert!(matches!(
            a.pop_ready(SimTime::ZERO, &mut open),
            Popped::Ready(_)
        ));
        a.refund(SimTime::ZERO, 0, 0, 300.0);
        let levels: Vec<f64> = (0..4)
            .map(|i| a.global.buckets[i].level(SimTime::ZERO))
            .collect();
        assert_eq!(levels, [999.0, 900.0, 900.0, 800.0]);
    }

    #[test]
    fn tenant_and_job_scopes_hold_several_resources_each() {
        // Each tenant: requests 1/s burst 1 and input tokens 10/s burst 100. Two tenants, two
        // calls each of prompt 10: each tenant's first passes at once, its second after 1 s.
        let spec = [
            on(Scope::Tenant, Resource::Requests, 1.0, 1.0),
            on(Scope::Tenant, Resource::InputTokens, 10.0, 100.0),
            on(Scope::Job, Resource::Requests, 100.0, 100.0),
        ];
        let mut a = Admission::new(&spec, Discipline::Fair(Scope::Tenant), 2, &[]);
        a.job_started(0);
        a.job_started(1);
        for c in 0..4 {
            a.push(Waiting {
                call: c,
                prompt: 10,
                max_tokens: 0,
                tenant: c % 2,
                job: c % 2,
            });
        }
        assert_eq!(
            drain(&mut a, SimTime::ZERO),
            (vec![0, 1], Popped::Wait(S + 1))
        );
        assert_eq!(drain(&mut a, SimTime(S + 1)).0, vec![2, 3]);
        assert_eq!(a.counts().charges, Some((4, 4)));
    }
}
