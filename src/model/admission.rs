//! Client-side admission: the buckets a call must pass before it is sent, and the order in which
//! waiting calls go.
//!
//! Task: hold calls back instead of letting them fail. A call waits until every bucket that
//! applies to it holds its estimate (`prompt + max_tokens`), then takes from all of them at once.
//! Buckets are scoped: one for the whole client, one per tenant, one per job; nested, they form a
//! hierarchy (a call must pass its job's, its tenant's and the global bucket), so that one heavy
//! tenant or one fanned-out job cannot spend everyone's budget.
//!
//! Waiting calls go in FIFO order, or fairly: deficit round robin (Shreedhar and Varghese, 1995)
//! over tenants or jobs with a quantum of one call, so that each backlogged tenant (or job) gets
//! the next turn at the shared bucket in rotation, and one blocked by its own bucket does not hold
//! up the others.

use super::limiter::Limiter;
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

/// One client bucket: `rate_per_s` tokens per second up to `burst`, per `scope`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScopedBucket {
    /// Who shares it.
    pub scope: Scope,
    /// Refill, tokens per second.
    pub rate_per_s: f64,
    /// Capacity, tokens.
    pub burst: f64,
}

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
    /// Tokens it is charged (its estimate).
    pub cost: f64,
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

/// The admission state of one client.
#[derive(Clone, Debug)]
pub struct Admission {
    global: Option<Limiter>,
    tenant_spec: Option<(f64, f64)>,
    tenants: Vec<Limiter>,
    job_spec: Option<(f64, f64)>,
    jobs: Vec<Option<Limiter>>,
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
}

impl Admission {
    /// Admission with `buckets` (at most one per scope) for a client serving `tenants` tenants,
    /// weighted by `weights` under fair queueing by tenant (missing weights are 1).
    pub fn new(
        buckets: &[ScopedBucket],
        discipline: Discipline,
        tenants: usize,
        weights: &[u32],
    ) -> Admission {
        let find = |s: Scope| {
            buckets
                .iter()
                .find(|b| b.scope == s)
                .map(|b| (b.rate_per_s, b.burst))
        };
        let tenant_spec = find(Scope::Tenant);
        Admission {
            global: find(Scope::Global).map(|(r, b)| Limiter::token_bucket(r, b)),
            tenant_spec,
            tenants: tenant_spec.map_or(Vec::new(), |(r, b)| {
                (0..tenants).map(|_| Limiter::token_bucket(r, b)).collect()
            }),
            job_spec: find(Scope::Job),
            jobs: Vec::new(),
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
        }
    }

    /// Whether any bucket applies (otherwise calls need not queue at all).
    pub fn has_buckets(&self) -> bool {
        self.global.is_some() || self.tenant_spec.is_some() || self.job_spec.is_some()
    }

    /// Calls waiting.
    pub fn len(&self) -> usize {
        self.waiting
    }

    /// True when nobody waits.
    pub fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// A job with id `job` started: it gets a fresh job bucket, full (a bucket refills to its
    /// burst from whenever it is first used).
    pub fn job_started(&mut self, job: u32) {
        if let Some((rate, burst)) = self.job_spec {
            let i = job as usize;
            if self.jobs.len() <= i {
                self.jobs.resize(i + 1, None);
            }
            self.jobs[i] = Some(Limiter::token_bucket(rate, burst));
        }
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
    }

    /// Takes `call` (of `tenant` and `job`) out of line uncharged: it no longer needs to be sent
    /// (a hedge cancelled, a call answered by its hedge). Rare, so a linear search is fine.
    pub fn withdraw(&mut self, call: u32, tenant: u32, job: u32) {
        let key = self.key(&Waiting {
            call,
            cost: 0.0,
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
        if queue.is_empty() && self.discipline != Discipline::Fifo {
            self.credits[key] = 0;
            self.ring.retain(|&k| k as usize != key);
        }
    }

    /// Nanoseconds until every bucket of `w` holds its cost, split into the shared (global) part
    /// and the part of its own tenant's and job's buckets.
    fn waits(&mut self, now: SimTime, w: &Waiting) -> (u64, u64) {
        let global = self
            .global
            .as_mut()
            .map_or(0, |b| b.wait_nanos(now, w.cost));
        let tenant = self
            .tenants
            .get_mut(w.tenant as usize)
            .map_or(0, |b| b.wait_nanos(now, w.cost));
        let job = self
            .jobs
            .get_mut(w.job as usize)
            .and_then(Option::as_mut)
            .map_or(0, |b| b.wait_nanos(now, w.cost));
        (global, tenant.max(job))
    }

    fn charge(&mut self, now: SimTime, w: &Waiting) {
        if let Some(b) = self.global.as_mut() {
            b.take(now, w.cost);
        }
        if let Some(b) = self.tenants.get_mut(w.tenant as usize) {
            b.take(now, w.cost);
        }
        if let Some(b) = self.jobs.get_mut(w.job as usize).and_then(Option::as_mut) {
            b.take(now, w.cost);
        }
    }

    /// Gives `amount` back to every bucket of a call of `tenant` and `job` (its estimate was
    /// reconciled at completion: fewer output tokens than `max_tokens`).
    pub fn refund(&mut self, now: SimTime, tenant: u32, job: u32, amount: f64) {
        if let Some(b) = self.global.as_mut() {
            b.refund(now, now, amount);
        }
        if let Some(b) = self.tenants.get_mut(tenant as usize) {
            b.refund(now, now, amount);
        }
        if let Some(b) = self.jobs.get_mut(job as usize).and_then(Option::as_mut) {
            b.refund(now, now, amount);
        }
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

    fn w(call: u32, cost: f64, tenant: u32, job: u32) -> Waiting {
        Waiting {
            call,
            cost,
            tenant,
            job,
        }
    }

    fn bucket(scope: Scope, rate_per_s: f64, burst: f64) -> ScopedBucket {
        ScopedBucket {
            scope,
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
}
