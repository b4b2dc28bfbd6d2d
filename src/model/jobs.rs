//! The workload at run time: jobs arriving from their sources, each growing its tree of tasks
//! (sequences, fan-outs, spawned sub-agents) down to the agents and calls that do the work, under
//! the policy's work limits.
//!
//! A task ends through [`World::complete`] only, which tells its parent (or ends its job) once.

use super::arrivals::SourceState;
use super::config::{Arrival, MAX_AGENT_CALLS, MAX_WIDTH};
use super::dist::Dist;
use super::ids::{JobId, TaskId};
use super::ledger::JobOutcome;
use super::workload::{CallSpec, Node};
use super::world::{Event, World};
use crate::engine::rng::{derive, purpose, stream, unit};
use crate::engine::time::round_to_u32;
use crate::engine::{EventQueue, SimTime};
use slab::Slab;

const FANOUT: u64 = purpose("fanout");
const JOB: u64 = purpose("job");
const CHILD: u64 = purpose("child");
const SPAWN: u64 = purpose("spawn");
const AGENT_CALLS: u64 = purpose("agent-calls");

pub struct Job {
    pub tenant: u32,
    pub arrived: SimTime,
    pub failed: bool,
    /// A work limit was reached: no new work starts.
    pub exhausted: bool,
    /// A fan-out was cut to the policy's `max_fanout`: the job goes on with less work and ends
    /// as budget exhausted.
    pub cut: bool,
    pub calls_started: u64,
    pub tokens: u64,
    pub cost_usd: f64,
    /// A traced job's own prompt and output tokens, overriding its template's.
    pub sizes: (Option<u32>, Option<u32>),
}

/// A running node of a job's tree.
pub struct Task {
    pub job: JobId,
    pub parent: Option<TaskId>,
    pub node: u32,
    /// Names this task across policies (derived from its parent's key and its place).
    pub key: u64,
    /// Spawn level.
    pub depth: u32,
    /// Fan-out and spawn: children still running.
    pub pending: u32,
    /// Agent: calls made; sequence: steps started.
    pub next: u32,
    /// Agent: calls to make; sequence: steps.
    pub total: u32,
    /// Agent restarts so far (a restart is a new generation of its calls' draws).
    pub generation: u32,
    pub failed: bool,
}

/// The sources, and the jobs and tasks alive.
pub struct Workload {
    pub sources: Vec<SourceState>,
    pub jobs: Slab<Job>,
    pub tasks: Slab<Task>,
}

impl Workload {
    #[inline]
    pub fn job(&self, id: JobId) -> &Job {
        &self.jobs[id.index()]
    }

    #[inline]
    pub fn job_mut(&mut self, id: JobId) -> &mut Job {
        &mut self.jobs[id.index()]
    }

    #[inline]
    pub fn task(&self, id: TaskId) -> &Task {
        &self.tasks[id.index()]
    }

    #[inline]
    pub fn task_mut(&mut self, id: TaskId) -> &mut Task {
        &mut self.tasks[id.index()]
    }

    /// The tenant of `task`'s job.
    #[inline]
    pub fn tenant_of(&self, task: TaskId) -> u32 {
        self.job(self.task(task).job).tenant
    }
}

impl World<'_> {
    /// Source `source`'s next job is due (or its whole burst).
    pub(super) fn arrive(&mut self, now: SimTime, source: usize, q: &mut EventQueue<Event>) {
        let arrival = &self.scenario.sources[source].arrival;
        if let Arrival::Burst { count, .. } = *arrival {
            for _ in 0..count {
                // Past the live-entity guard the run stops after this event: creating the rest
                // would only loop (and, before the guard, allocate) for nothing.
                if self.over_live_guard() {
                    break;
                }
                self.create_job(now, source, q);
            }
            return;
        }
        self.create_job(now, source, q);
        let s = &mut self.work.sources[source];
        let next = s.next_arrival(arrival, now, false);
        if s.may_arrive(arrival, next) {
            q.push(
                next,
                Event::Arrive {
                    source: source as u32,
                },
            );
        }
    }

    /// Creates the source's next job and its root task; past the live-entity guard, nothing (so
    /// that jobs never pile up beyond `max_live`).
    fn create_job(&mut self, now: SimTime, source: usize, q: &mut EventQueue<Event>) {
        if self.over_live_guard() {
            return;
        }
        let index = self.work.sources[source].emitted;
        self.work.sources[source].emitted += 1;
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
        self.ledger.job_arrived(tenant);
        self.ledger.life.jobs_started += 1;
        let job = JobId::from(self.work.jobs.insert(Job {
            tenant,
            arrived: now,
            failed: false,
            exhausted: false,
            cut: false,
            calls_started: 0,
            tokens: 0,
            cost_usd: 0.0,
            sizes,
        }));
        self.client.admission.job_started(job.0);
        let key = derive(0, JOB, &[source as u64, index]);
        self.start_task(now, job, None, root, key, 0, q);
    }

    /// Whether more entities are alive than the live-entity guard allows: the engine stops the
    /// run after the current event, so nothing more should be created in it.
    #[inline]
    fn over_live_guard(&self) -> bool {
        use crate::engine::Model;
        self.live_entities() > self.scenario.guards.max_live
    }

    /// Draws a count (a width, a number of calls) from `dist` on the stream of `purpose` and
    /// `key`, at most `max`; constants draw nothing. Validation keeps every bounded
    /// distribution within `max`; the clamp bounds the unbounded ones (normal, lognormal,
    /// exponential).
    fn count(&self, dist: &Dist, purpose: u64, key: u64, max: u32) -> u32 {
        let v = match dist {
            Dist::Constant(v) => *v,
            d => d.sample(&mut stream(self.seed, purpose, &[key])),
        };
        round_to_u32(v).min(max)
    }

    /// Whether job `job` may start more work at `now`; marks it exhausted when a limit says no.
    pub(super) fn may_work(&mut self, now: SimTime, job: JobId) -> bool {
        let limits = &self.policy.work_limits;
        let j = self.work.job_mut(job);
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
        job: JobId,
        parent: Option<TaskId>,
        node: usize,
        key: u64,
        depth: u32,
        q: &mut EventQueue<Event>,
    ) {
        if self.over_live_guard() {
            return;
        }
        self.ledger.life.tasks_started += 1;
        let task = TaskId::from(self.work.tasks.insert(Task {
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
        }));
        if !self.may_work(now, job) {
            self.complete(now, task, false, q);
            return;
        }
        match &self.scenario.nodes[node] {
            Node::Call(_) => {
                self.work.task_mut(task).total = 1;
                self.start_call(now, task, q);
            }
            Node::Agent { calls, .. } => {
                let total = self.count(calls, AGENT_CALLS, key, MAX_AGENT_CALLS);
                self.work.task_mut(task).total = total;
                if total == 0 {
                    self.complete(now, task, false, q);
                } else {
                    self.start_call(now, task, q);
                }
            }
            Node::Seq { steps } => {
                self.work.task_mut(task).total = steps.len() as u32;
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
                let (width, child) = (self.count(width, FANOUT, key, MAX_WIDTH), *child);
                self.start_children(now, task, child, width, depth, q);
            }
            Node::Parallel { branches } => {
                if branches.is_empty() {
                    self.complete(now, task, false, q);
                } else {
                    // Counted before any starts, as in `start_children`.
                    self.work.task_mut(task).pending = branches.len() as u32;
                    for (i, &branch) in branches.iter().enumerate() {
                        if self.over_live_guard() {
                            break;
                        }
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
                    self.work.job_mut(job).exhausted = true;
                    self.complete(now, task, false, q);
                } else {
                    let width = self.count(width, FANOUT, key, MAX_WIDTH);
                    self.start_children(now, task, child, width, depth + 1, q);
                }
            }
        }
    }

    /// Starts `width` copies of `child` under `task` (cut to the policy's `max_fanout`).
    fn start_children(
        &mut self,
        now: SimTime,
        task: TaskId,
        child: usize,
        width: u32,
        depth: u32,
        q: &mut EventQueue<Event>,
    ) {
        let t = self.work.task(task);
        let (job, key) = (t.job, t.key);
        let width = match self.policy.work_limits.max_fanout {
            Some(m) if width > m => {
                self.work.job_mut(job).cut = true;
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
        self.work.task_mut(task).pending = width;
        for i in 0..width {
            if self.over_live_guard() {
                break;
            }
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
        // Children not created (the loop stops at the live-entity guard) will never report: the
        // run is about to stop, so nothing waits on them.
    }

    /// `task` ended; its parent (or its job) learns of it. The one way a task ends.
    pub(super) fn complete(
        &mut self,
        now: SimTime,
        task: TaskId,
        failed: bool,
        q: &mut EventQueue<Event>,
    ) {
        let t = self.work.tasks.remove(task.index());
        self.ledger.life.tasks_ended += 1;
        match t.parent {
            Some(parent) => self.child_done(now, parent, failed, q),
            None => self.job_done(now, t.job, failed),
        }
    }

    fn child_done(
        &mut self,
        now: SimTime,
        parent: TaskId,
        failed: bool,
        q: &mut EventQueue<Event>,
    ) {
        let p = &mut self.work.tasks[parent.index()];
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

    /// The one way a job ends.
    fn job_done(&mut self, now: SimTime, job: JobId, failed: bool) {
        let j = self.work.jobs.remove(job.index());
        self.ledger.life.jobs_ended += 1;
        self.ledger.life.job_tokens += j.tokens;
        let outcome = if j.exhausted || j.cut {
            JobOutcome::BudgetExhausted
        } else if failed || j.failed {
            JobOutcome::Failed
        } else {
            JobOutcome::Ok
        };
        self.ledger
            .job_ended(now, j.tenant, now.since(j.arrived), outcome);
    }

    /// The sizes of the calls `task` makes.
    pub(super) fn call_spec(&self, task: TaskId) -> &CallSpec {
        match &self.scenario.nodes[self.work.task(task).node as usize] {
            Node::Call(spec) | Node::Agent { call: spec, .. } => spec,
            _ => unreachable!("only call and agent tasks make calls"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::sim::GuardLimit;
    use crate::model::dist::Dist;
    use crate::model::workload::Node;
    use crate::model::{Arrival, Scenario};
    use std::sync::mpsc;
    use std::time::Duration;

    /// One burst source of `agents` single-call agents per job; guards stop quietly past
    /// `max_live` entities.
    fn burst(count: u64, agents: u32, max_live: u64) -> Scenario {
        let text = format!(
            "[scenario]\nname = \"t\"\n[guards]\nmax_live = {max_live}\non_trip = \"stop\"\n\
             [provider]\nttft = \"1s\"\n[[source]]\nname = \"s\"\n\
             arrival = {{ process = \"burst\", count = {count} }}\n[source.job]\nagents = {agents}\n\
             prompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 10\n[[policy]]\nname = \"p\"\n"
        );
        crate::scenario::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs `scenario` on a thread, failing the test if it takes over `secs` (a run that loops
    /// inside one event never returns).
    fn run_within(scenario: Scenario, secs: u64) -> crate::model::world::RunOutput {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let out =
                crate::model::world::simulate_full(&scenario, &scenario.policies[0], 1, false);
            let _ = tx.send(out);
        });
        rx.recv_timeout(Duration::from_secs(secs))
            .expect("the run ends within the time limit")
            .expect("the guard stops the run quietly")
    }

    #[test]
    fn a_burst_creates_no_jobs_past_the_live_entity_guard() {
        // Each job lives as a job, a fan-out task, an agent task and a call: the guard trips
        // within the first 26 jobs. It used to insert all 1,000,000 jobs (10^12 aborted).
        let out = run_within(burst(1_000_000, 1, 100), 60);
        assert!(matches!(
            out.guard.map(|g| g.limit),
            Some(GuardLimit::Live(100))
        ));
        assert!(out.metrics.jobs <= 101.0, "{} jobs", out.metrics.jobs);
    }

    #[test]
    fn a_fan_out_past_the_guard_stops_creating_at_once_whatever_its_width() {
        // A width the scenario layer would refuse (it reached u32::MAX from a float): the loop
        // used to run 4 billion times inside one event after the guard had tripped.
        let mut scenario = burst(1, 2, 10);
        for node in &mut scenario.nodes {
            if let Node::Fanout { width, .. } = node {
                *width = Dist::Constant(1e308);
            }
        }
        assert!(matches!(scenario.sources[0].arrival, Arrival::Burst { .. }));
        let out = run_within(scenario, 10);
        assert!(matches!(
            out.guard.map(|g| g.limit),
            Some(GuardLimit::Live(10))
        ));
    }
}
