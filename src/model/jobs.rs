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
use crate::engine::time::{round_to_u32, secs_to_nanos};
use crate::engine::{EventQueue, SimTime};
use slab::Slab;

const FANOUT: u64 = purpose("fanout");
const JOB: u64 = purpose("job");
const CHILD: u64 = purpose("child");
const SPAWN: u64 = purpose("spawn");
const AGENT_CALLS: u64 = purpose("agent-calls");
const WAIT: u64 = purpose("wait");

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
    /// Steps of the tree walk still to take, the next on top: the walk is a loop over this
    /// stack, not a recursion, so a tree as deep as a user writes it needs no deeper a call
    /// stack.
    pub steps: Vec<Step>,
    /// The walk is running: a step asked for now is pushed and taken in turn.
    pub walking: bool,
}

/// One step of the walk over a job's tree, in the order the recursive walk would take it.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Create a task for `node` and start it.
    Start {
        job: JobId,
        parent: Option<TaskId>,
        node: u32,
        key: u64,
        depth: u32,
    },
    /// Start child `next` of `parent`'s `width` children (a fan-out, spawn or parallel node),
    /// then, once it has done all it does at once, the following ones.
    Children {
        parent: TaskId,
        next: u32,
        width: u32,
        depth: u32,
    },
    /// `task` ended.
    Complete { task: TaskId, failed: bool },
    /// The agent or call task `task` makes its next call (an agent restarted after a call that
    /// failed at once: restarts that fail at once again loop here, not in the call stack).
    Call { task: TaskId },
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
        self.walk(
            now,
            Step::Start {
                job,
                parent: None,
                node: root as u32,
                key,
                depth: 0,
            },
            q,
        );
    }

    /// Takes `step` and every step it leads to, in the order a depth-first recursion would:
    /// the last step pushed is taken first. Asked for while the walk runs (a call ended at once
    /// inside a step), it only pushes: the running walk takes it next.
    pub(super) fn walk(&mut self, now: SimTime, step: Step, q: &mut EventQueue<Event>) {
        if self.work.walking {
            self.work.steps.push(step);
            return;
        }
        self.work.walking = true;
        self.take(now, step, q);
        self.walk_down_to(now, 0, q);
        self.work.walking = false;
    }

    fn take(&mut self, now: SimTime, step: Step, q: &mut EventQueue<Event>) {
        match step {
            Step::Start {
                job,
                parent,
                node,
                key,
                depth,
            } => self.start_task(now, job, parent, node as usize, key, depth, q),
            Step::Children {
                parent,
                next,
                width,
                depth,
            } => self.start_child(parent, next, width, depth),
            Step::Complete { task, failed } => self.task_ended(now, task, failed),
            Step::Call { task } => self.start_call(now, task, q),
        }
    }

    /// Takes steps until the stack is back to `depth` entries.
    pub(super) fn walk_down_to(&mut self, now: SimTime, depth: usize, q: &mut EventQueue<Event>) {
        while self.work.steps.len() > depth {
            let step = self.work.steps.pop().expect("above depth");
            self.take(now, step, q);
        }
    }

    /// The steps a call that ended at once inside the admission line left behind are taken
    /// before the line moves on, as the recursive walk took them.
    pub(super) fn walk_pending(&mut self, now: SimTime, depth: usize, q: &mut EventQueue<Event>) {
        if self.work.walking && self.work.steps.len() > depth {
            self.walk_down_to(now, depth, q);
        }
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

    /// Creates a task for `node` and starts it. Beyond the live-entity guard, or once the tasks
    /// started use up `max_events`, it creates nothing (the engine stops the run right after
    /// this event).
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
        if self.over_live_guard()
            || self.ledger.life.tasks_started >= self.scenario.guards.max_events
        {
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
        let scenario = self.scenario;
        match &scenario.nodes[node] {
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
                    Some(&first) => self.work.steps.push(Step::Start {
                        job,
                        parent: Some(task),
                        node: first as u32,
                        key: derive(key, CHILD, &[0]),
                        depth,
                    }),
                    None => self.complete(now, task, false, q),
                }
            }
            Node::Wait { secs } => {
                let secs = match secs {
                    Dist::Constant(v) => *v,
                    d => d.sample(&mut stream(self.seed, WAIT, &[key])),
                };
                let ns = secs_to_nanos(secs.max(0.0));
                if ns == 0 {
                    self.complete(now, task, false, q);
                } else {
                    // The task stays live until then; it ends through `complete` like any other.
                    q.push(now.after(ns), Event::WaitDone { task });
                }
            }
            Node::Fanout { width, .. } => {
                let width = self.count(width, FANOUT, key, MAX_WIDTH);
                self.start_children(now, task, width, depth, q);
            }
            Node::Parallel { branches } => {
                self.start_children(now, task, branches.len() as u32, depth, q);
            }
            Node::Spawn {
                probability,
                width,
                max_depth,
                ..
            } => {
                let spawns = depth < *max_depth
                    && unit(&mut stream(self.seed, SPAWN, &[key])) < *probability;
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
                    self.start_children(now, task, width, depth + 1, q);
                }
            }
        }
    }

    /// Starts `width` children of `task` (fan-out and spawn: cut to the policy's `max_fanout`;
    /// parallel: its branches) at spawn level `depth`.
    fn start_children(
        &mut self,
        now: SimTime,
        task: TaskId,
        width: u32,
        depth: u32,
        q: &mut EventQueue<Event>,
    ) {
        let t = self.work.task(task);
        let job = t.job;
        let cut = !matches!(self.scenario.nodes[t.node as usize], Node::Parallel { .. });
        let width = match self.policy.work_limits.max_fanout {
            Some(m) if cut && width > m => {
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
        // before its siblings exist. Children not created (beyond a guard) never report: the run
        // is about to stop, so nothing waits on them.
        self.work.task_mut(task).pending = width;
        self.start_child(task, 0, width, depth);
    }

    /// Pushes the start of child `next` of `parent`, above the start of the ones after it. Past
    /// the live-entity guard it starts no more of them.
    fn start_child(&mut self, parent: TaskId, next: u32, width: u32, depth: u32) {
        if self.over_live_guard() {
            return;
        }
        if next + 1 < width {
            self.work.steps.push(Step::Children {
                parent,
                next: next + 1,
                width,
                depth,
            });
        }
        let t = self.work.task(parent);
        let node = match &self.scenario.nodes[t.node as usize] {
            Node::Fanout { child, .. } | Node::Spawn { child, .. } => *child,
            Node::Parallel { branches } => branches[next as usize],
            _ => unreachable!("only fan-out, spawn and parallel nodes have children"),
        };
        self.work.steps.push(Step::Start {
            job: t.job,
            parent: Some(parent),
            node: node as u32,
            key: derive(t.key, CHILD, &[next as u64]),
            depth,
        });
    }

    /// `task` ended: the one way a task ends. Its parent (or its job) learns of it in turn.
    pub(super) fn complete(
        &mut self,
        now: SimTime,
        task: TaskId,
        failed: bool,
        q: &mut EventQueue<Event>,
    ) {
        self.walk(now, Step::Complete { task, failed }, q);
    }

    fn task_ended(&mut self, now: SimTime, task: TaskId, failed: bool) {
        let t = self.work.tasks.remove(task.index());
        self.ledger.life.tasks_ended += 1;
        match t.parent {
            Some(parent) => self.child_done(parent, failed),
            None => self.job_done(now, t.job, failed),
        }
    }

    fn child_done(&mut self, parent: TaskId, failed: bool) {
        let p = &mut self.work.tasks[parent.index()];
        let step = match &self.scenario.nodes[p.node as usize] {
            Node::Seq { steps } => {
                p.next += 1;
                if failed || p.next >= p.total {
                    Step::Complete {
                        task: parent,
                        failed,
                    }
                } else {
                    Step::Start {
                        job: p.job,
                        parent: Some(parent),
                        node: steps[p.next as usize] as u32,
                        key: derive(p.key, CHILD, &[p.next as u64]),
                        depth: p.depth,
                    }
                }
            }
            _ => {
                p.pending -= 1;
                p.failed |= failed;
                if p.pending > 0 {
                    return;
                }
                Step::Complete {
                    task: parent,
                    failed: p.failed,
                }
            }
        };
        self.work.steps.push(step);
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
