//! The search: a space-filling design raced by successive halving on common random numbers, then
//! refined around the frontier, until the budget of replications is spent.
//!
//! Task: spend replications where they change the answer. Every candidate's replication `r` runs
//! on [`replication_seed`]`(seed, r)`, so candidates are compared on the same draws. A *rung*
//! gives each racing candidate replications up to its target (4, then 8, 16, 32). At the barrier
//! after a rung, with the results in (candidate, replication) order:
//!
//! 1. a candidate whose constraints are violated with confidence ([`Verdict::Violated`]) is
//!    dropped as infeasible;
//! 2. a candidate dominated with confidence, paired over the shared replications, by a feasible
//!    point of the current frontier is dropped as dominated;
//! 3. of the others, the better half (constraints holding first, then fewest candidates
//!    dominating their means, then the first objective) and every point of the frontier of
//!    means go on to twice the replications; the rest stop ("halved").
//!
//! Threads only run simulations between barriers; every decision reads the results in a fixed
//! order, so the search is the same with any number of threads.

use super::frontier;
use super::space::Space;
use crate::check::holds;
use crate::metrics::{Aggregate, Metrics};
use crate::model::world::simulate_full;
use crate::model::{Policy, Scenario};
use crate::run::replication_seed;
use crate::scenario::{Bound, Expectation, MetricRef, Objective, Op};
use rayon::prelude::*;
use std::collections::HashSet;
use toml::Value;

/// Replications of a candidate's first rung: the fewest that give a paired interval at all
/// (Student-t with 3 degrees of freedom is wide, so early eliminations are the clear ones).
pub const FIRST_RUNG: u32 = crate::scenario::MIN_BUDGET as u32;
/// Replications of a finished candidate: the last rung.
pub const LAST_RUNG: u32 = 32;
/// Most frontier points refined around in one generation (spread along the first objective).
const MAX_CENTERS: usize = 8;
/// Most new candidates around each centre per generation.
const MAX_PER_CENTER: usize = 16;
/// Generations of refinement at most (the budget usually ends them first).
const MAX_GENERATIONS: u32 = 64;
/// The first refinement's radius, in the unit cube; each generation's is [`SHRINK`] times the
/// last one's, down to [`MIN_RADIUS`] (about one step of a 100-value grid).
const FIRST_RADIUS: f64 = 0.25;
const SHRINK: f64 = 0.7;
const MIN_RADIUS: f64 = 0.01;
/// New points of the space-filling sequence each generation adds, so that a region the first
/// design missed can still be found (exploration beside refinement).
const EXPLORE: usize = 2;

/// Where a candidate came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The tuned policy's own settings, as written.
    Incumbent,
    /// The initial space-filling design.
    Design,
    /// Refinement generation `g` (from 1), around the frontier.
    Refine(u32),
}

impl Stage {
    /// As written in `tune.csv`.
    pub fn label(&self) -> String {
        match self {
            Stage::Incumbent => "incumbent".into(),
            Stage::Design => "design".into(),
            Stage::Refine(g) => format!("refine-{g}"),
        }
    }
}

/// What became of a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Still being raced.
    Racing,
    /// Raced to the last rung.
    Finished,
    /// A constraint violated with confidence.
    Infeasible,
    /// Dominated with confidence by the candidate with this id.
    Dominated(usize),
    /// In the worse half at a rung.
    Halved,
    /// The budget ran out before its next rung.
    Unfunded,
}

impl Status {
    /// As written in `tune.csv`.
    pub fn label(&self) -> String {
        match self {
            Status::Racing => "racing".into(),
            Status::Finished => "finished".into(),
            Status::Infeasible => "infeasible".into(),
            Status::Dominated(by) => format!("dominated by {by}"),
            Status::Halved => "halved".into(),
            Status::Unfunded => "budget spent".into(),
        }
    }
}

/// Whether a set of constraints holds on a candidate's confidence intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every constraint holds by `stampede check`'s rule ([`holds`]).
    Holds,
    /// One is violated with confidence: more replications would not save it.
    Violated,
    /// Neither yet.
    Undecided,
}

/// One constraint on `mean ± half`: held by the CI rule, violated with confidence (the whole
/// interval on the wrong side; for `==`, a mean that differs, since that rule is exact), or
/// undecided.
pub fn judge_one(op: Op, mean: f64, half: f64, bound: f64) -> Verdict {
    let (_, _, ok) = holds(op, mean, half, bound);
    if ok {
        return Verdict::Holds;
    }
    let half = if half.is_finite() { half.abs() } else { 0.0 };
    let violated = match op {
        Op::Eq => true,
        Op::Le => mean - half > bound,
        Op::Lt => mean - half >= bound,
        Op::Ge => mean + half < bound,
        Op::Gt => mean + half <= bound,
    } || mean.is_nan();
    if violated {
        Verdict::Violated
    } else {
        Verdict::Undecided
    }
}

/// Every constraint on `aggregate`: violated if one is, holding if all hold.
pub fn judge(constraints: &[Expectation], aggregate: &Aggregate) -> Verdict {
    let mut verdict = Verdict::Holds;
    for c in constraints {
        let MetricRef::Summary(metric) = &c.metric else {
            return Verdict::Violated;
        };
        let Bound::Value(bound) = c.bound else {
            return Verdict::Violated;
        };
        let mean = aggregate.mean.get(metric).unwrap_or(f64::NAN);
        let half = aggregate.ci95.get(metric).unwrap_or(f64::NAN);
        match judge_one(c.op, mean, half, bound) {
            Verdict::Violated => return Verdict::Violated,
            Verdict::Undecided => verdict = Verdict::Undecided,
            Verdict::Holds => {}
        }
    }
    verdict
}

/// One setting of the tuned parameters and its results.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Its number, in the order proposed (0 is the policy as written).
    pub id: usize,
    /// Its place in the unit cube.
    pub coords: Vec<f64>,
    /// The parameters' values, as written into the scenario.
    pub values: Vec<Value>,
    /// Where it came from.
    pub stage: Stage,
    /// The tuned policy with these values.
    pub policy: Policy,
    /// Each replication's metrics, replication `r` on `replication_seed(seed, r)`.
    pub runs: Vec<Metrics>,
    /// Means and intervals over `runs`, kept up to date with them: the barriers read them for
    /// every candidate, and a confidence interval costs a Student-t quantile per metric.
    stats: Aggregate,
    /// Replications it is to have after the current rung.
    pub target: u32,
    /// Rungs it completed.
    pub rungs: u32,
    /// What became of it.
    pub status: Status,
}

impl Candidate {
    /// Means and intervals over its replications.
    pub fn aggregate(&self) -> &Aggregate {
        &self.stats
    }
}

/// A simulation that tripped a guard: the candidate, the replication and its seed, and why.
#[derive(Debug)]
pub struct Tripped {
    /// The candidate's id.
    pub candidate: usize,
    /// The replication.
    pub replication: u32,
    /// Its seed.
    pub seed: u64,
    /// The guard.
    pub message: String,
}

/// The state of a search.
pub struct Search<'a> {
    /// The scenario every candidate runs in (with the candidate's policy).
    pub scenario: &'a Scenario,
    /// The parameters.
    pub space: &'a Space,
    /// The objectives, the first deciding the recommendation.
    pub objectives: &'a [Objective],
    /// The constraints.
    pub constraints: &'a [Expectation],
    /// Replication `r` runs on `replication_seed(seed, r)`; the design and refinement draw from it.
    pub seed: u64,
    /// Replications the search may run.
    pub budget: u64,
    /// Replications run so far.
    pub spent: u64,
    /// Every candidate, in id order.
    pub candidates: Vec<Candidate>,
    seen: HashSet<Vec<String>>,
}

/// Turns values into the tuned policy (or why the scenario refuses them).
pub type MakePolicy<'a> = dyn Fn(&[Value]) -> Result<Policy, String> + Sync + 'a;

impl<'a> Search<'a> {
    /// A search with no candidate yet.
    pub fn new(
        scenario: &'a Scenario,
        space: &'a Space,
        objectives: &'a [Objective],
        constraints: &'a [Expectation],
        seed: u64,
        budget: u64,
    ) -> Search<'a> {
        Search {
            scenario,
            space,
            objectives,
            constraints,
            seed,
            budget,
            spent: 0,
            candidates: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Adds a candidate unless one with the same values exists; `Ok(false)` when it did.
    pub fn propose(
        &mut self,
        coords: Vec<f64>,
        values: Vec<Value>,
        stage: Stage,
        make: &MakePolicy<'_>,
    ) -> Result<bool, String> {
        let key: Vec<String> = values.iter().map(crate::scenario::value_cell).collect();
        if !self.seen.insert(key) {
            return Ok(false);
        }
        let policy = make(&values)?;
        self.candidates.push(Candidate {
            id: self.candidates.len(),
            coords,
            values,
            stage,
            policy,
            runs: Vec::new(),
            stats: Aggregate::of(&[]),
            target: FIRST_RUNG,
            rungs: 0,
            status: Status::Racing,
        });
        Ok(true)
    }

    /// Replications left.
    pub fn remaining(&self) -> u64 {
        self.budget.saturating_sub(self.spent)
    }

    /// The whole search: the candidates already proposed raced, then generations of refinement
    /// around the frontier while the budget lasts.
    /// `designed` is how many points of the space-filling sequence were proposed already.
    pub fn run(
        &mut self,
        pool: &rayon::ThreadPool,
        make: &MakePolicy<'_>,
        tick: &(dyn Fn() + Sync),
        designed: usize,
    ) -> Result<(), SearchError> {
        self.race(pool, tick)?;
        let mut radius = FIRST_RADIUS;
        let mut next_design = designed as u64 + 1;
        for generation in 1..=MAX_GENERATIONS {
            if self.remaining() < u64::from(FIRST_RUNG) {
                break;
            }
            let centers = self.centers();
            if centers.is_empty() {
                break;
            }
            // The budget left spread over the generations left, at about 10 replications a
            // candidate (4, half of them 4 more, a quarter 8 more, an eighth 16 more).
            let generations_left = u64::from(MAX_GENERATIONS - generation + 1);
            let affordable = self.remaining() / 10 / generations_left;
            let per = (affordable as usize / centers.len()).clamp(1, MAX_PER_CENTER);
            let mut added = 0;
            for &c in &centers {
                let center = self.candidates[c].coords.clone();
                let key = [u64::from(generation), c as u64];
                for coords in self.space.around(&center, radius, per, self.seed, &key) {
                    let values = self.space.values(&coords);
                    if self
                        .propose(coords, values, Stage::Refine(generation), make)
                        .map_err(SearchError::Invalid)?
                    {
                        added += 1;
                    }
                }
            }
            for coords in self.space.design_from(next_design, EXPLORE, self.seed) {
                let values = self.space.values(&coords);
                if self
                    .propose(coords, values, Stage::Refine(generation), make)
                    .map_err(SearchError::Invalid)?
                {
                    added += 1;
                }
            }
            next_design += EXPLORE as u64;
            radius = (radius * SHRINK).max(MIN_RADIUS);
            if added > 0 {
                self.race(pool, tick)?;
            }
        }
        for c in &mut self.candidates {
            if c.status == Status::Racing {
                c.status = Status::Unfunded;
            }
        }
        Ok(())
    }

    /// The frontier points to refine around: the feasible frontier of the candidates still in
    /// the race or finished, at most [`MAX_CENTERS`] spread along the first objective.
    fn centers(&self) -> Vec<usize> {
        let mut f = self.frontier(|s| matches!(s, Status::Finished | Status::Racing));
        let first = &self.objectives[0];
        let key = |i: usize| {
            let v = self.candidates[i]
                .aggregate()
                .mean
                .get(first.metric)
                .unwrap_or(f64::NAN);
            if first.maximize { -v } else { v }
        };
        f.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        if f.len() <= MAX_CENTERS {
            return f;
        }
        (0..MAX_CENTERS)
            .map(|k| f[k * (f.len() - 1) / (MAX_CENTERS - 1)])
            .collect()
    }

    /// Ids of the candidates whose status passes `keep`, whose constraints hold, and whose means
    /// no other such candidate dominates (in id order).
    pub fn frontier(&self, keep: impl Fn(&Status) -> bool) -> Vec<usize> {
        let pool: Vec<(usize, &Aggregate)> = self
            .candidates
            .iter()
            .filter(|c| keep(&c.status) && !c.runs.is_empty())
            .map(|c| (c.id, c.aggregate()))
            .filter(|(_, a)| judge(self.constraints, a) == Verdict::Holds)
            .collect();
        let means: Vec<&Metrics> = pool.iter().map(|(_, a)| &a.mean).collect();
        frontier::frontier(self.objectives, &means)
            .into_iter()
            .map(|k| pool[k].0)
            .collect()
    }

    /// Races the candidates with status [`Status::Racing`] rung by rung until none is left.
    fn race(
        &mut self,
        pool: &rayon::ThreadPool,
        tick: &(dyn Fn() + Sync),
    ) -> Result<(), SearchError> {
        loop {
            let mut racing: Vec<usize> = self
                .candidates
                .iter()
                .filter(|c| c.status == Status::Racing)
                .map(|c| c.id)
                .collect();
            if racing.is_empty() {
                return Ok(());
            }
            let cost = |ids: &[usize], cands: &[Candidate]| -> u64 {
                ids.iter()
                    .map(|&i| u64::from(cands[i].target) - cands[i].runs.len() as u64)
                    .sum()
            };
            if cost(&racing, &self.candidates) > self.remaining() {
                // Fund the best-ranked first; the others stop here.
                let order = self.ranked(&racing);
                let (mut funded, mut total) = (Vec::new(), 0);
                for i in order {
                    let need = cost(&[i], &self.candidates);
                    if total + need <= self.remaining() {
                        funded.push(i);
                        total += need;
                    } else {
                        self.candidates[i].status = Status::Unfunded;
                    }
                }
                racing = funded;
                racing.sort_unstable();
                if racing.is_empty() {
                    return Ok(());
                }
            }
            self.evaluate(&racing, pool, tick)?;
            self.barrier(&racing);
        }
    }

    /// Runs the replications `racing` lack up to their targets, in parallel; results are stored
    /// in (candidate, replication) order, and the first guard in that order is the error.
    fn evaluate(
        &mut self,
        racing: &[usize],
        pool: &rayon::ThreadPool,
        tick: &(dyn Fn() + Sync),
    ) -> Result<(), SearchError> {
        let tasks: Vec<(usize, u32)> = racing
            .iter()
            .flat_map(|&i| {
                let c = &self.candidates[i];
                (c.runs.len() as u32..c.target).map(move |r| (i, r))
            })
            .collect();
        let (scenario, seed, candidates) = (self.scenario, self.seed, &self.candidates);
        let results: Vec<Result<Metrics, Tripped>> = pool.install(|| {
            tasks
                .par_iter()
                .map(|&(i, r)| {
                    let s = replication_seed(seed, r);
                    let out = simulate_full(scenario, &candidates[i].policy, s, false);
                    tick();
                    out.map(|o| o.metrics).map_err(|g| Tripped {
                        candidate: i,
                        replication: r,
                        seed: s,
                        message: g.to_string(),
                    })
                })
                .collect()
        });
        self.spent += tasks.len() as u64;
        for (&(i, _), result) in tasks.iter().zip(results) {
            let m = result.map_err(SearchError::Guard)?;
            self.candidates[i].runs.push(m);
        }
        for &i in racing {
            let c = &mut self.candidates[i];
            c.stats = Aggregate::of(&c.runs);
        }
        Ok(())
    }

    /// `ids` best first: constraints holding, then undecided; then fewest of `ids` dominating
    /// their means; then the first objective's mean; then id.
    fn ranked(&self, ids: &[usize]) -> Vec<usize> {
        let aggs: Vec<&Aggregate> = ids
            .iter()
            .map(|&i| self.candidates[i].aggregate())
            .collect();
        let means: Vec<&Metrics> = aggs.iter().map(|a| &a.mean).collect();
        let counts = frontier::domination_counts(self.objectives, &means);
        let first = &self.objectives[0];
        let mut order: Vec<usize> = (0..ids.len()).collect();
        let key = |k: usize| {
            let held = judge(self.constraints, aggs[k]) != Verdict::Holds;
            let v = aggs[k].mean.get(first.metric).unwrap_or(f64::NAN);
            (held, counts[k], if first.maximize { -v } else { v })
        };
        order.sort_by(|&a, &b| {
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0)
                .then(ka.1.cmp(&kb.1))
                .then(ka.2.total_cmp(&kb.2))
                .then(ids[a].cmp(&ids[b]))
        });
        order.into_iter().map(|k| ids[k]).collect()
    }

    /// The decisions after a rung (see the module docs).
    fn barrier(&mut self, racing: &[usize]) {
        for &i in racing {
            self.candidates[i].rungs += 1;
            if judge(self.constraints, self.candidates[i].aggregate()) == Verdict::Violated {
                self.candidates[i].status = Status::Infeasible;
            }
        }
        let front = self.frontier(|s| matches!(s, Status::Finished | Status::Racing));
        for &i in racing {
            if self.candidates[i].status != Status::Racing || front.contains(&i) {
                continue;
            }
            let by = front.iter().copied().find(|&a| {
                frontier::dominates_paired(
                    self.objectives,
                    &self.candidates[a].runs,
                    &self.candidates[i].runs,
                )
            });
            if let Some(a) = by {
                self.candidates[i].status = Status::Dominated(a);
            }
        }
        let mut survivors = Vec::new();
        for &i in racing {
            let c = &mut self.candidates[i];
            if c.status != Status::Racing {
                continue;
            }
            if c.runs.len() as u32 >= LAST_RUNG {
                c.status = Status::Finished;
            } else {
                survivors.push(i);
            }
        }
        let keep = survivors.len().div_ceil(2);
        for (rank, i) in self.ranked(&survivors).into_iter().enumerate() {
            let c = &mut self.candidates[i];
            if rank < keep || front.contains(&i) {
                c.target = (c.target * 2).min(LAST_RUNG);
            } else {
                c.status = Status::Halved;
            }
        }
    }
}

/// Why a search stopped.
#[derive(Debug)]
pub enum SearchError {
    /// A proposed setting the scenario refuses.
    Invalid(String),
    /// A simulation tripped a guard.
    Guard(Tripped),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constraint_is_judged_on_its_interval() {
        // jobs_failed <= 0.5: mean 0.2 +- 0.4 may still break it; 0.1 +- 0.3 holds; 1 +- 0.3
        // is beyond it with confidence.
        assert_eq!(judge_one(Op::Le, 0.2, 0.4, 0.5), Verdict::Undecided);
        assert_eq!(judge_one(Op::Le, 0.1, 0.3, 0.5), Verdict::Holds);
        assert_eq!(judge_one(Op::Le, 1.0, 0.3, 0.5), Verdict::Violated);
        assert_eq!(judge_one(Op::Ge, 10.0, 1.0, 8.0), Verdict::Holds);
        assert_eq!(judge_one(Op::Ge, 8.5, 1.0, 8.0), Verdict::Undecided);
        // `==` is exact: one failure in any replication and no more replications can help.
        assert_eq!(judge_one(Op::Eq, 0.0, 0.0, 0.0), Verdict::Holds);
        assert_eq!(judge_one(Op::Eq, 0.25, 0.5, 0.0), Verdict::Violated);
        assert_eq!(judge_one(Op::Le, f64::NAN, 0.0, 1.0), Verdict::Violated);
    }
}
