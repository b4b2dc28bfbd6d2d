//! What a validated scenario means, in the units a provider dashboard uses: the limits per second
//! and per minute, the demand the workload offers against each, the utilisation that implies,
//! and warnings for the likely mistakes (a call larger than a burst, a per-minute number written
//! as per-second, a client bucket faster than the provider). `stampede validate` prints it.
//!
//! Demand is the first attempts only, before any policy's work limits: retries, hedges and
//! restarts come on top. Distributions count at their means; a job's calls are the template
//! tree's expected size (a fan-out's mean width times its child, an agent's mean calls, a
//! spawn's probability times its width times its child one level deeper, down to its
//! `max_depth`).

use super::units::{compact, grouped, significant};
use crate::engine::time::nanos_to_secs;
use crate::model::admission::{Scope, ScopedBucket};
use crate::model::config::{LimitKind, TraceRow};
use crate::model::dist::Dist;
use crate::model::workload::{CallSpec, Node};
use crate::model::{Arrival, Resource, Scenario};
use serde::Serialize;
use std::fmt::Write;

/// Deepest spawn level whose work is counted: below it a job's expected size is cut off (and
/// [`JobShape::truncated`] says so). Validation caps `max_depth` at the same depth.
pub const MAX_LEVELS: u32 = 10_000;

/// The most node visits the spawn-level walk makes (levels x templates under spawns).
const MAX_LEVEL_STEPS: usize = 10_000_000;

/// Expected calls per job beyond which a job tree is reported as exploding.
const EXPLODING_CALLS: f64 = 1e9;

/// Demand above this multiple of a limit's rate is reported.
const OVER: f64 = 10.0;

/// Demand below this fraction of a limit's rate is reported (a per-minute number written as
/// per-second, most likely).
const UNDER: f64 = 0.01;

/// Amounts of each resource a limit may count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Amounts {
    /// Requests (LLM calls).
    pub requests: f64,
    /// Prompt tokens.
    pub input_tokens: f64,
    /// Output tokens as admission estimates them: `max_tokens` per call.
    pub output_tokens: f64,
    /// Input plus the output estimate.
    pub tokens: f64,
}

impl Amounts {
    fn call(input: f64, max_tokens: f64) -> Amounts {
        Amounts {
            requests: 1.0,
            input_tokens: input,
            output_tokens: max_tokens,
            tokens: input + max_tokens,
        }
    }

    fn plus(self, o: Amounts) -> Amounts {
        Amounts {
            requests: self.requests + o.requests,
            input_tokens: self.input_tokens + o.input_tokens,
            output_tokens: self.output_tokens + o.output_tokens,
            tokens: self.tokens + o.tokens,
        }
    }

    fn minus(self, o: Amounts) -> Amounts {
        self.plus(o.times(-1.0))
    }

    fn times(self, k: f64) -> Amounts {
        Amounts {
            requests: self.requests * k,
            input_tokens: self.input_tokens * k,
            output_tokens: self.output_tokens * k,
            tokens: self.tokens * k,
        }
    }

    fn max(self, o: Amounts) -> Amounts {
        Amounts {
            requests: self.requests.max(o.requests),
            input_tokens: self.input_tokens.max(o.input_tokens),
            output_tokens: self.output_tokens.max(o.output_tokens),
            tokens: self.tokens.max(o.tokens),
        }
    }

    /// The amount of `resource`.
    pub fn of(&self, resource: Resource) -> f64 {
        match resource {
            Resource::Requests => self.requests,
            Resource::InputTokens => self.input_tokens,
            Resource::OutputTokens => self.output_tokens,
            Resource::Tokens => self.tokens,
        }
    }
}

/// One provider limit, in per-second terms.
#[derive(Clone, Debug, Serialize)]
pub struct LimitInfo {
    /// Where it is written: `provider.limit[0]`.
    pub field: String,
    /// What it counts: `requests`, `input_tokens`, `output_tokens`, `tokens`.
    pub resource: &'static str,
    /// `token_bucket`, `fixed_window` or `sliding_window`.
    pub kind: &'static str,
    /// Its long-run rate per second (a window's limit over its length).
    pub per_s: f64,
    /// The most it passes at once: a bucket's burst, a window's limit.
    pub burst: f64,
    /// A window's length in seconds.
    pub window_s: Option<f64>,
    #[serde(skip)]
    res: Resource,
    /// Its provider, by index.
    #[serde(skip)]
    provider: usize,
    /// Its provider's name, with several providers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_name: Option<String>,
}

/// A policy's route over several providers.
#[derive(Clone, Debug, Serialize)]
pub struct RouteInfo {
    /// The policy's name.
    pub policy: String,
    /// The group's providers, by name.
    pub targets: Vec<String>,
    /// How the group's target is picked.
    pub strategy: &'static str,
    /// The fallbacks, by name, in order.
    pub fallbacks: Vec<String>,
    /// The failures that move a call on.
    pub fallback_on: Vec<&'static str>,
    /// Failed attempts on a hop before the call moves on.
    pub fallback_after: u32,
    /// Cooldown seconds, and the failures a minute past which a provider cools (`None`:
    /// LiteLLM's default rule).
    pub cooldown: Option<(f64, Option<u32>)>,
}

fn routes(s: &Scenario) -> Vec<RouteInfo> {
    let name = |i: usize| s.providers[i].name.clone();
    s.policies
        .iter()
        .filter_map(|p| {
            let r = p.route.as_ref()?;
            let on = r.fallback_on();
            Some(RouteInfo {
                policy: p.name.clone(),
                targets: r.targets().map(name).collect(),
                strategy: crate::model::router::Strategy::NAMES
                    .iter()
                    .find(|(_, st)| *st == r.strategy())
                    .map_or("", |(n, _)| n),
                fallbacks: r.fallbacks().map(name).collect(),
                fallback_on: [
                    (on.rate_limited, "rate_limited"),
                    (on.server_error, "server_error"),
                    (on.timeout, "timeout"),
                ]
                .into_iter()
                .filter_map(|(yes, n)| yes.then_some(n))
                .collect(),
                fallback_after: r.fallback_after(),
                cooldown: r
                    .cooldown()
                    .map(|c| (nanos_to_secs(c.cooldown_ns), c.allowed_fails)),
            })
        })
        .collect()
}

/// One client bucket of a policy.
#[derive(Clone, Debug, Serialize)]
pub struct BucketInfo {
    /// The policy's name.
    pub policy: String,
    /// `global`, `tenant` or `job`.
    pub scope: &'static str,
    /// What it counts.
    pub resource: &'static str,
    /// Refill per second.
    pub per_s: f64,
    /// Capacity.
    pub burst: f64,
    #[serde(skip)]
    res: Resource,
}

/// What one job asks for, on average.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct JobShape {
    /// Expected calls and tokens per job.
    pub per_job: Amounts,
    /// Whether spawn levels below [`MAX_LEVELS`] were left uncounted.
    pub truncated: bool,
}

/// Jobs released all at once (a burst arrival, or a trace whose rows share one instant).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct AtOnce {
    /// How many jobs.
    pub jobs: u64,
    /// When, in seconds.
    pub at_s: f64,
    /// What they ask for together.
    pub amounts: Amounts,
}

/// The demand of one source.
#[derive(Clone, Debug, Serialize)]
pub struct SourceDemand {
    /// The source's name.
    pub name: String,
    /// Its arrival process in words: `poisson, 2 jobs/s`.
    pub arrival: String,
    /// What one job asks for.
    pub job: JobShape,
    /// Jobs per second on average, when the process has a rate.
    pub jobs_per_s: Option<f64>,
    /// Jobs per second at the busiest time.
    pub peak_jobs_per_s: Option<f64>,
    /// Demand per second on average, when the process has a rate.
    pub average: Option<Amounts>,
    /// Demand per second at the busiest time.
    pub peak: Option<Amounts>,
    /// Jobs released at once, for a burst (whose rate is undefined).
    pub at_once: Option<AtOnce>,
}

/// The demand against one provider limit.
#[derive(Clone, Debug, Serialize)]
pub struct Utilisation {
    /// The limit: `provider.limit[0]`.
    pub limit: String,
    /// Demand per second on average, summed over the sources with a rate.
    pub average_per_s: Option<f64>,
    /// Demand per second at peak, summed over the sources' peaks.
    pub peak_per_s: Option<f64>,
    /// Average demand over the limit's rate.
    pub average: Option<f64>,
    /// Peak demand over the limit's rate.
    pub peak: Option<f64>,
    /// Burst sources: what each releases at once, and how many seconds of the limit's rate it
    /// takes.
    pub at_once: Vec<(String, f64, f64)>,
    /// Average demand over the limit's rate at its lowest capacity (`[[provider.capacity]]`),
    /// when capacity drops below 1.
    pub at_lowest_capacity: Option<f64>,
}

/// What `stampede validate` understood of a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// The scenario's name.
    pub scenario: String,
    /// The provider's limits.
    pub limits: Vec<LimitInfo>,
    /// Every policy's client buckets.
    pub buckets: Vec<BucketInfo>,
    /// Each source's demand.
    pub sources: Vec<SourceDemand>,
    /// Demand per second over all sources with a rate: average and peak.
    pub average: Option<Amounts>,
    /// Peak demand per second (the sum of each source's peak).
    pub peak: Option<Amounts>,
    /// Demand against each provider limit, in the order of `limits`.
    pub utilisation: Vec<Utilisation>,
    /// The lowest capacity factor of the limits over time and when it starts, when below 1.
    pub lowest_capacity: Option<(f64, f64)>,
    /// Each routed policy's route, in words: `"primary"`, then `"secondary"`, ....
    pub routes: Vec<RouteInfo>,
    /// Likely mistakes.
    pub warnings: Vec<String>,
}

fn resource_name(r: Resource) -> &'static str {
    match r {
        Resource::Requests => "requests",
        Resource::InputTokens => "input_tokens",
        Resource::OutputTokens => "output_tokens",
        Resource::Tokens => "tokens",
    }
}

/// What a client bucket counts (`prompt + max_tokens` unless it names another resource).
fn bucket_resource(b: &ScopedBucket) -> Resource {
    b.resource
}

fn limits(s: &Scenario) -> Vec<LimitInfo> {
    let several = s.providers.len() > 1;
    s.providers
        .iter()
        .enumerate()
        .flat_map(|(k, p)| p.limits.iter().enumerate().map(move |(i, l)| (k, i, l)))
        .map(|(k, i, l)| {
            let (kind, per_s, burst, window_s) = match l.kind() {
                LimitKind::TokenBucket { rate_per_s, burst } => {
                    ("token_bucket", rate_per_s, burst, None)
                }
                LimitKind::FixedWindow { limit, window_ns } => {
                    let w = nanos_to_secs(window_ns);
                    ("fixed_window", limit / w, limit, Some(w))
                }
                LimitKind::SlidingWindow { limit, window_ns } => {
                    let w = nanos_to_secs(window_ns);
                    ("sliding_window", limit / w, limit, Some(w))
                }
            };
            LimitInfo {
                field: if several {
                    format!("provider[{k}].limit[{i}]")
                } else {
                    format!("provider.limit[{i}]")
                },
                provider: k,
                provider_name: several.then(|| s.providers[k].name.clone()),
                resource: resource_name(l.resource()),
                kind,
                per_s,
                burst,
                window_s,
                res: l.resource(),
            }
        })
        .collect()
}

fn buckets(s: &Scenario) -> Vec<BucketInfo> {
    let mut out = Vec::new();
    for p in &s.policies {
        for b in &p.buckets {
            out.push(BucketInfo {
                policy: p.name.clone(),
                scope: match b.scope {
                    Scope::Global => "global",
                    Scope::Tenant => "tenant",
                    Scope::Job => "job",
                },
                resource: resource_name(bucket_resource(b)),
                per_s: b.rate_per_s,
                burst: b.burst,
                res: bucket_resource(b),
            });
        }
    }
    out
}

/// The children of `node`: `(child, through a spawn)`.
fn children(node: &Node) -> Vec<(usize, bool)> {
    match node {
        Node::Call(_) | Node::Agent { .. } | Node::Wait { .. } => Vec::new(),
        Node::Seq { steps: c } | Node::Parallel { branches: c } => {
            c.iter().map(|&c| (c, false)).collect()
        }
        Node::Fanout { child, .. } => vec![(*child, false)],
        Node::Spawn { child, .. } => vec![(*child, true)],
    }
}

/// Every node, each after the children it reaches without passing a spawn (those edges form no
/// cycle: templates are checked). Iterative: a chain of many thousands of templates must not
/// overflow the stack.
fn children_first(nodes: &[Node]) -> Vec<usize> {
    let mut order = Vec::with_capacity(nodes.len());
    let mut state = vec![0u8; nodes.len()]; // 0 new, 1 open, 2 done
    for root in 0..nodes.len() {
        let mut stack = vec![(root, false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                state[n] = 2;
                order.push(n);
                continue;
            }
            if state[n] != 0 {
                continue;
            }
            state[n] = 1;
            stack.push((n, true));
            for (c, spawn) in children(&nodes[n]) {
                if !spawn && state[c] == 0 {
                    stack.push((c, false));
                }
            }
        }
    }
    order
}

/// The nodes a spawn's child leads to (through any edge): the only ones below spawn level 0.
fn under_spawns(nodes: &[Node]) -> Vec<bool> {
    let mut seen = vec![false; nodes.len()];
    let mut stack: Vec<usize> = nodes
        .iter()
        .filter_map(|n| match n {
            Node::Spawn { child, .. } => Some(*child),
            _ => None,
        })
        .collect();
    while let Some(n) = stack.pop() {
        if !std::mem::replace(&mut seen[n], true) {
            stack.extend(children(&nodes[n]).into_iter().map(|(c, _)| c));
        }
    }
    seen
}

/// The expected amounts of every node at spawn level 0, and whether deeper levels were cut off.
/// Level by level from the deepest up: a node's amounts at a level are its children's at that
/// level, and a spawn's are its child's one level deeper (nothing at its `max_depth`).
fn node_shapes(nodes: &[Node]) -> (Vec<Amounts>, bool) {
    let deepest = nodes
        .iter()
        .filter_map(|n| match n {
            Node::Spawn { max_depth, .. } => Some(*max_depth),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let order = children_first(nodes);
    let deep = under_spawns(nodes);
    let deep_order: Vec<usize> = order.iter().copied().filter(|&n| deep[n]).collect();
    // Levels x nodes under spawns is the work: 100,000 templates under a spawn 10,000 deep
    // would be 10^9 steps for one `validate`. Past the budget the deeper levels are left
    // uncounted and the explanation says so (`truncated`), as past MAX_LEVELS.
    let affordable = (MAX_LEVEL_STEPS / deep_order.len().max(1)) as u32;
    let top = deepest.min(MAX_LEVELS).min(affordable);
    let mut truncated = false;
    let mut here = vec![Amounts::default(); nodes.len()];
    let mut below = here.clone();
    for level in (0..=top).rev() {
        let nodes_here = if level == 0 { &order } else { &deep_order };
        for &n in nodes_here {
            here[n] = match &nodes[n] {
                Node::Call(call) => call_amounts(call),
                Node::Agent { calls, call, .. } => call_amounts(call).times(calls.mean().max(0.0)),
                Node::Seq { steps: c } | Node::Parallel { branches: c } => c
                    .iter()
                    .fold(Amounts::default(), |acc, &c| acc.plus(here[c])),
                Node::Fanout { width, child } => here[*child].times(width.mean().max(0.0)),
                Node::Wait { .. } => Amounts::default(),
                Node::Spawn {
                    probability,
                    width,
                    child,
                    max_depth,
                } => {
                    if level >= *max_depth {
                        Amounts::default()
                    } else if level >= top {
                        truncated = true;
                        Amounts::default()
                    } else {
                        below[*child].times(probability * width.mean().max(0.0))
                    }
                }
            };
        }
        std::mem::swap(&mut here, &mut below);
    }
    (below, truncated)
}

fn call_amounts(call: &CallSpec) -> Amounts {
    Amounts::call(
        call.prompt_tokens.mean().max(0.0),
        f64::from(call.max_tokens),
    )
}

/// The largest value `d` can draw, when it is bounded.
fn upper(d: &Dist) -> Option<f64> {
    match d {
        Dist::Constant(v) => Some(*v),
        Dist::Uniform { high, .. } => Some(*high),
        Dist::Empirical { values, .. } => values.iter().copied().reduce(f64::max),
        _ => None,
    }
}

/// Every call spec reachable from `root` not yet `seen`.
fn calls_under<'a>(nodes: &'a [Node], root: usize, seen: &mut [bool], out: &mut Vec<&'a CallSpec>) {
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        match &nodes[n] {
            Node::Call(c) | Node::Agent { call: c, .. } => out.push(c),
            other => stack.extend(children(other).into_iter().map(|(c, _)| c)),
        }
    }
}

/// A trace row's job: its template's shape, with every call's prompt replaced when the row
/// gives one.
fn row_amounts(shapes: &[Amounts], row: &TraceRow) -> Amounts {
    let a = shapes[row.root];
    match row.prompt_tokens {
        Some(p) => {
            let input = a.requests * f64::from(p);
            Amounts {
                input_tokens: input,
                tokens: input + a.output_tokens,
                ..a
            }
        }
        None => a,
    }
}

/// Seconds of the busiest window over which a trace's peak is measured.
const TRACE_PEAK_WINDOW_S: f64 = 60.0;

fn trace_demand(shapes: &[Amounts], rows: &[TraceRow], d: &mut SourceDemand) {
    let n = rows.len() as u64;
    let total = rows.iter().fold(Amounts::default(), |acc, r| {
        acc.plus(row_amounts(shapes, r))
    });
    d.job.per_job = total.times(1.0 / n.max(1) as f64);
    let (first, last) = (rows[0].at_ns, rows[rows.len() - 1].at_ns);
    let span = nanos_to_secs(last.saturating_sub(first));
    d.arrival = format!("trace, {n} jobs over {}s", significant(span, 4));
    if span <= 0.0 {
        d.at_once = Some(AtOnce {
            jobs: n,
            at_s: nanos_to_secs(first),
            amounts: total,
        });
        return;
    }
    let average = total.times(1.0 / span);
    d.jobs_per_s = Some(n as f64 / span);
    d.average = Some(average);
    if span <= TRACE_PEAK_WINDOW_S {
        d.peak_jobs_per_s = d.jobs_per_s;
        d.peak = Some(average);
        return;
    }
    let window_ns = (TRACE_PEAK_WINDOW_S * 1e9) as u64;
    let (mut start, mut inside, mut jobs) = (0, Amounts::default(), 0u64);
    let (mut busiest, mut most_jobs) = (Amounts::default(), 0u64);
    for (end, row) in rows.iter().enumerate() {
        inside = inside.plus(row_amounts(shapes, row));
        jobs += 1;
        while rows[start].at_ns + window_ns <= row.at_ns {
            inside = inside.minus(row_amounts(shapes, &rows[start]));
            jobs -= 1;
            start += 1;
        }
        debug_assert!(start <= end);
        busiest = busiest.max(inside);
        most_jobs = most_jobs.max(jobs);
    }
    d.peak_jobs_per_s = Some(most_jobs as f64 / TRACE_PEAK_WINDOW_S);
    d.peak = Some(busiest.times(1.0 / TRACE_PEAK_WINDOW_S).max(average));
}

fn source_demand(s: &Scenario, shapes: &[Amounts], truncated: bool) -> Vec<SourceDemand> {
    let mut out = Vec::new();
    for src in &s.sources {
        let mut d = SourceDemand {
            name: src.name.clone(),
            arrival: String::new(),
            job: JobShape {
                per_job: shapes[src.root],
                truncated,
            },
            jobs_per_s: None,
            peak_jobs_per_s: None,
            average: None,
            peak: None,
            at_once: None,
        };
        let rate = |d: &mut SourceDemand, average: f64, peak: f64| {
            d.jobs_per_s = Some(average);
            d.peak_jobs_per_s = Some(peak);
            d.average = Some(d.job.per_job.times(average));
            d.peak = Some(d.job.per_job.times(peak));
        };
        match &src.arrival {
            Arrival::Burst { count, at_ns } => {
                d.arrival = format!(
                    "burst, {count} job{} at t = {}s",
                    if *count == 1 { "" } else { "s" },
                    significant(nanos_to_secs(*at_ns), 4)
                );
                d.at_once = Some(AtOnce {
                    jobs: *count,
                    at_s: nanos_to_secs(*at_ns),
                    amounts: d.job.per_job.times(*count as f64),
                });
            }
            Arrival::Poisson { rate_per_s, .. } => {
                d.arrival = format!("poisson, {}", jobs_per_s(*rate_per_s));
                rate(&mut d, *rate_per_s, *rate_per_s);
            }
            Arrival::Interval { every_ns, .. } => {
                let every = nanos_to_secs(*every_ns);
                d.arrival = format!(
                    "interval, one job every {}s ({})",
                    significant(every, 4),
                    jobs_per_s(1.0 / every)
                );
                rate(&mut d, 1.0 / every, 1.0 / every);
            }
            Arrival::Diurnal {
                mean_rate_per_s,
                amplitude,
                ..
            } => {
                let peak = mean_rate_per_s * (1.0 + amplitude);
                d.arrival = format!(
                    "diurnal, mean {}, peak {}",
                    jobs_per_s(*mean_rate_per_s),
                    jobs_per_s(peak)
                );
                rate(&mut d, *mean_rate_per_s, peak);
            }
            Arrival::Trace(rows) if rows.is_empty() => {
                d.arrival = "trace, no jobs".into();
            }
            Arrival::Trace(rows) => trace_demand(shapes, rows, &mut d),
        }
        out.push(d);
    }
    out
}

/// Explains scenario `s`: its limits, its demand against them, and likely mistakes.
pub fn explain(s: &Scenario) -> Explanation {
    let limits = limits(s);
    let buckets = buckets(s);
    let (shapes, truncated) = node_shapes(&s.nodes);
    let sources = source_demand(s, &shapes, truncated);
    let sum = |pick: fn(&SourceDemand) -> Option<Amounts>| {
        sources.iter().filter_map(pick).reduce(|a, b| a.plus(b))
    };
    let average = sum(|d| d.average);
    let peak = sum(|d| d.peak);
    let lowest = |p: &crate::model::Provider| {
        p.capacity
            .iter()
            .map(|c| (c.limits(), nanos_to_secs(c.at_ns())))
            .filter(|(f, _)| *f < 1.0)
            .reduce(|a, b| if b.0 < a.0 { b } else { a })
    };
    let lowest_capacity = lowest(&s.providers[0]);
    let utilisation = limits
        .iter()
        .map(|l| {
            let average_per_s = average.map(|a| a.of(l.res));
            let peak_per_s = peak.map(|a| a.of(l.res));
            Utilisation {
                limit: l.field.clone(),
                average_per_s,
                peak_per_s,
                average: average_per_s.map(|v| v / l.per_s),
                at_lowest_capacity: lowest(&s.providers[l.provider])
                    .and_then(|(f, _)| average_per_s.map(|v| v / (l.per_s * f))),
                peak: peak_per_s.map(|v| v / l.per_s),
                at_once: sources
                    .iter()
                    .filter_map(|d| d.at_once.map(|a| (d.name.clone(), a.amounts.of(l.res))))
                    .map(|(name, amount)| (name, amount, amount / l.per_s))
                    .collect(),
            }
        })
        .collect();
    let mut e = Explanation {
        routes: routes(s),
        scenario: s.name.clone(),
        limits,
        buckets,
        sources,
        average,
        peak,
        utilisation,
        lowest_capacity,
        warnings: Vec::new(),
    };
    e.warnings = warnings(s, &e);
    e
}

/// A call of a source: the largest typical charge of any call its jobs make, and the largest
/// charge any may make when the sizes are bounded.
struct CallSizes {
    typical: Amounts,
    largest: Amounts,
}

fn call_sizes(s: &Scenario) -> Vec<CallSizes> {
    s.sources
        .iter()
        .map(|src| {
            let mut roots = vec![src.root];
            let mut prompt_override: Option<(f64, f64)> = None;
            if let Arrival::Trace(rows) = &src.arrival {
                roots = rows.iter().map(|r| r.root).collect();
                roots.sort_unstable();
                roots.dedup();
                for p in rows.iter().filter_map(|r| r.prompt_tokens) {
                    let p = f64::from(p);
                    let (lo, hi) = prompt_override.unwrap_or((p, p));
                    prompt_override = Some((lo.min(p), hi.max(p)));
                }
            }
            let mut seen = vec![false; s.nodes.len()];
            let mut calls = Vec::new();
            for r in roots {
                calls_under(&s.nodes, r, &mut seen, &mut calls);
            }
            let (mut typical, mut largest) = (Amounts::default(), Amounts::default());
            for c in calls {
                let max_tokens = f64::from(c.max_tokens);
                let mean = c.prompt_tokens.mean();
                let top = upper(&c.prompt_tokens).unwrap_or(mean);
                let (mean, top) = match prompt_override {
                    // A trace's rows may replace every prompt: the smallest of them is typical
                    // enough to report, the largest bounds them.
                    Some((lo, hi)) => (mean.min(lo), top.max(hi)),
                    None => (mean, top),
                };
                typical = typical.max(Amounts::call(mean, max_tokens));
                largest = largest.max(Amounts::call(top, max_tokens));
            }
            CallSizes { typical, largest }
        })
        .collect()
}

fn warnings(s: &Scenario, e: &Explanation) -> Vec<String> {
    let mut w = s.warnings.clone();
    if s.providers.len() > 1 {
        // A policy without a route uses the first provider only.
        let mut used = vec![false; s.providers.len()];
        for p in &s.policies {
            match &p.route {
                None => used[0] = true,
                Some(r) => r.providers().for_each(|i| used[i] = true),
            }
        }
        for (p, _) in s.providers.iter().zip(&used).filter(|(_, u)| !**u) {
            w.push(format!(
                "provider \"{}\" is in no policy's route: no call reaches it",
                p.name
            ));
        }
    }
    for d in &e.sources {
        if !d.job.per_job.requests.is_finite() || d.job.per_job.requests > EXPLODING_CALLS {
            w.push(format!(
                "source \"{}\": a job is expected to make {} calls (its spawns multiply: probability x width >= 1 over many levels); the policies' work_limits or the guards will cut its jobs short",
                d.name,
                compact(d.job.per_job.requests)
            ));
        }
        if d.job.truncated {
            w.push(format!(
                "source \"{}\": spawn levels deeper than {MAX_LEVELS} are not counted in its demand",
                d.name
            ));
        }
    }
    let sizes = call_sizes(s);
    let gates = e
        .limits
        .iter()
        .map(|l| {
            (
                format!("{}'s burst", l.field),
                l.res,
                l.burst,
                (
                    "it can never pass and fails at once with a non-retryable error",
                    "they can never pass and fail at once with a non-retryable error",
                ),
            )
        })
        .chain(e.buckets.iter().map(|b| {
            (
                format!("policy \"{}\"'s {} bucket's burst", b.policy, b.scope),
                b.res,
                b.burst,
                (
                    "it waits for a full bucket every time and leaves it in debt",
                    "they wait for a full bucket and leave it in debt",
                ),
            )
        }));
    for (what, res, burst, fate) in gates {
        for (d, size) in e.sources.iter().zip(&sizes) {
            let (typical, largest) = (size.typical.of(res), size.largest.of(res));
            if typical > burst {
                w.push(format!(
                    "source \"{}\": a typical call charges {} {}, above {what} of {}: {}",
                    d.name,
                    grouped(typical),
                    resource_name(res),
                    compact(burst),
                    fate.0
                ));
            } else if largest > burst {
                w.push(format!(
                    "source \"{}\": the largest calls charge up to {} {}, above {what} of {}: {}",
                    d.name,
                    grouped(largest),
                    resource_name(res),
                    compact(burst),
                    fate.1
                ));
            }
        }
    }
    for (l, u) in e.limits.iter().zip(&e.utilisation) {
        let (Some(ratio), Some(demand)) = (u.average, u.average_per_s) else {
            continue;
        };
        let offer = format!(
            "the workload offers {}/s {} on average against {} ({} {}: {})",
            grouped(demand),
            l.resource,
            l.field,
            l.resource,
            kind_words(l.kind),
            limit_rate(l)
        );
        if ratio > OVER {
            w.push(format!(
                "{offer}, {} its rate: most calls will wait or be refused; check the limit's unit (a plain number is per second) and the arrival rate",
                times(ratio)
            ));
        } else if ratio < UNDER {
            let hint = match l.window_s {
                None => format!(
                    "if the provider's figure is per minute, write rate = \"{}/min\" (a plain number is per second)",
                    compact(l.per_s)
                ),
                Some(_) => "check the limit and its window".to_string(),
            };
            w.push(format!("{offer}, {} of its rate: {hint}", percent(ratio)));
        }
    }
    for b in &e.buckets {
        for l in e.limits.iter().filter(|l| l.res == b.res) {
            let each = if b.scope == "global" {
                String::new()
            } else {
                format!(" (each {}'s)", b.scope)
            };
            if b.per_s > l.per_s {
                w.push(format!(
                    "policy \"{}\": its {} bucket{each} refills at {}, faster than {} ({} {}: {}): it lets through more than the provider accepts",
                    b.policy,
                    b.scope,
                    rate_words(b.per_s),
                    l.field,
                    l.resource,
                    kind_words(l.kind),
                    limit_rate(l)
                ));
            }
            if l.window_s.is_none() && b.burst > l.burst {
                w.push(format!(
                    "policy \"{}\": its {} bucket{each} holds a burst of {}, more than {}'s burst of {}: a burst it lets through is refused by the provider",
                    b.policy,
                    b.scope,
                    compact(b.burst),
                    l.field,
                    compact(l.burst)
                ));
            }
        }
    }
    w
}

fn kind_words(kind: &str) -> &'static str {
    match kind {
        "token_bucket" => "token bucket",
        "fixed_window" => "fixed window",
        _ => "sliding window",
    }
}

/// `7,500/s = 450k/min`.
fn rate_words(per_s: f64) -> String {
    format!("{}/s = {}/min", grouped(per_s), compact(per_s * 60.0))
}

/// `7,500/s = 450k/min`, or for a window `50 per 60s = 0.8333/s = 50/min`.
fn limit_rate(l: &LimitInfo) -> String {
    match l.window_s {
        None => rate_words(l.per_s),
        Some(w) => format!(
            "{} per {}s = {}",
            compact(l.burst),
            significant(w, 4),
            rate_words(l.per_s)
        ),
    }
}

/// `2 jobs/s = 120/min`.
fn jobs_per_s(per_s: f64) -> String {
    let n = grouped(per_s);
    let jobs = if n == "1" { "job" } else { "jobs" };
    format!("{n} {jobs}/s = {}/min", compact(per_s * 60.0))
}

/// `v` in three significant digits, or with a suffix when it is a million or more.
fn short(v: f64) -> String {
    if v.abs() >= 1e6 {
        compact(v)
    } else {
        significant(v, 3)
    }
}

fn percent(ratio: f64) -> String {
    format!("{}%", short(ratio * 100.0))
}

fn times(ratio: f64) -> String {
    format!("{}x", short(ratio))
}

/// `6 requests, 6,000 input + 1,200 output estimate = 7,200 tokens`, each amount through `fmt`.
fn amounts_words(a: &Amounts, fmt: &dyn Fn(f64) -> String) -> String {
    let requests = fmt(a.requests);
    format!(
        "{requests} request{}, {} input + {} output (max_tokens) = {} tokens",
        if requests == "1" { "" } else { "s" },
        fmt(a.input_tokens),
        fmt(a.output_tokens),
        fmt(a.tokens)
    )
}

impl Explanation {
    /// The explanation as text, one item a line, after the `ok: ...` line `validate` prints.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let per_s = |v: f64| format!("{}/s", grouped(v));
        let _ = writeln!(out, "provider limits:");
        if self.limits.is_empty() {
            let _ = writeln!(out, "  none: every call passes");
        }
        for l in &self.limits {
            let _ = writeln!(
                out,
                "  {}{}: {} {}: {}, burst {}",
                l.field,
                l.provider_name
                    .as_ref()
                    .map_or(String::new(), |n| format!(" ({n})")),
                l.resource,
                kind_words(l.kind),
                limit_rate(l),
                compact(l.burst)
            );
        }
        if !self.routes.is_empty() {
            let _ = writeln!(out, "routes:");
        }
        for r in &self.routes {
            let mut line = format!(
                "  policy \"{}\": {}",
                r.policy,
                if r.targets.len() > 1 {
                    format!("{} ({})", r.targets.join(", "), r.strategy)
                } else {
                    r.targets.join(", ")
                }
            );
            if !r.fallbacks.is_empty() {
                line.push_str(&format!(
                    ", then {}, after {} failed attempt{} ({})",
                    r.fallbacks.join(", then "),
                    r.fallback_after,
                    if r.fallback_after == 1 { "" } else { "s" },
                    r.fallback_on.join(", ")
                ));
            }
            match r.cooldown {
                Some((secs, Some(n))) => line.push_str(&format!(
                    "; a provider failing more than {n} times in a minute sits out {}s",
                    compact(secs)
                )),
                Some((secs, None)) => line.push_str(&format!(
                    "; cooldowns of {}s by LiteLLM's default rule",
                    compact(secs)
                )),
                None => {}
            }
            let _ = writeln!(out, "{line}");
        }
        if !self.buckets.is_empty() {
            let _ = writeln!(out, "client buckets:");
        }
        for b in &self.buckets {
            let _ = writeln!(
                out,
                "  policy \"{}\": {} bucket ({}): {}, burst {}",
                b.policy,
                b.scope,
                b.resource,
                rate_words(b.per_s),
                compact(b.burst)
            );
        }
        let _ = writeln!(
            out,
            "demand (first attempts, before retries and work limits; sizes at their means):"
        );
        for d in &self.sources {
            let _ = writeln!(out, "  source \"{}\": {}", d.name, d.arrival);
            let single = d.at_once.is_some_and(|a| a.jobs == 1);
            if !single {
                let _ = writeln!(
                    out,
                    "    per job: {}",
                    amounts_words(&d.job.per_job, &|v| grouped(v))
                );
            }
            if let Some(a) = &d.at_once {
                let _ = writeln!(
                    out,
                    "    {} job{} at t = {}s: {} at once (a burst has no rate)",
                    a.jobs,
                    if a.jobs == 1 { "" } else { "s" },
                    significant(a.at_s, 4),
                    amounts_words(&a.amounts, &|v| grouped(v))
                );
            }
            if let (Some(avg), Some(peak)) = (&d.average, &d.peak) {
                let _ = writeln!(out, "    average: {}", amounts_words(avg, &per_s));
                if peak != avg {
                    let _ = writeln!(out, "    peak: {}", amounts_words(peak, &per_s));
                }
            }
        }
        if !self.limits.is_empty() {
            let _ = writeln!(out, "against the limits:");
            if self.limits.iter().any(|l| l.provider_name.is_some()) {
                let _ = writeln!(
                    out,
                    "  (with several providers, each limit against the whole demand: what its provider would carry alone)"
                );
            }
        }
        for (l, u) in self.limits.iter().zip(&self.utilisation) {
            if let (Some(avg), Some(ratio)) = (u.average_per_s, u.average) {
                let mut line = format!(
                    "  {} ({}): {} of {} = {}",
                    l.field,
                    l.resource,
                    rate_words(avg),
                    rate_words(l.per_s),
                    percent(ratio)
                );
                if let (Some(peak), Some(pr)) = (u.peak_per_s, u.peak)
                    && pr != ratio
                {
                    let _ = write!(line, "; peak {} = {}", rate_words(peak), percent(pr));
                }
                if let (Some((f, at)), Some(low)) = (self.lowest_capacity, u.at_lowest_capacity) {
                    let _ = write!(
                        line,
                        "; {} at its lowest capacity (x{} from {}s)",
                        percent(low),
                        significant(f, 3),
                        significant(at, 4)
                    );
                }
                let _ = writeln!(out, "{line}");
            }
            for (name, amount, secs) in &u.at_once {
                let _ = writeln!(
                    out,
                    "  {} ({}): source \"{name}\" releases {} at once: {} its burst, {}s of its rate",
                    l.field,
                    l.resource,
                    grouped(*amount),
                    times(amount / l.burst),
                    short(*secs)
                );
            }
        }
        if self.warnings.is_empty() {
            let _ = writeln!(out, "warnings: none");
        } else {
            let _ = writeln!(out, "warnings:");
            for w in &self.warnings {
                let _ = writeln!(out, "  - {w}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    fn scenario(arrival: &str, extra: &str) -> Scenario {
        let text = format!(
            r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[[provider.limit]]
resource = "input_tokens"
rate = "450k/min"
burst = "450k"
[[provider.limit]]
resource = "requests"
kind = "fixed_window"
limit = 600
window = "60s"
[[source]]
name = "s"
arrival = {arrival}
template = "job"
[templates.job]
kind = "agent"
calls = 3
prompt_tokens = 1000
max_tokens = 200
output_tokens = 100
{extra}
[[policy]]
name = "p"
"#
        );
        parse(&text, "t.toml").unwrap()
    }

    #[test]
    fn poisson_demand_is_rate_times_the_job() {
        let e = explain(&scenario(
            "{ process = \"poisson\", rate = 2, until = \"60s\" }",
            "",
        ));
        let want = Amounts {
            requests: 6.0,
            input_tokens: 6_000.0,
            output_tokens: 1_200.0,
            tokens: 7_200.0,
        };
        assert_eq!(e.sources[0].average, Some(want));
        assert_eq!(e.sources[0].peak, Some(want));
        assert_eq!(e.average, Some(want));
        assert_eq!(e.limits[0].per_s, 7_500.0);
        assert_eq!(e.utilisation[0].average, Some(0.8));
        assert_eq!(e.limits[1].per_s, 10.0);
        assert_eq!(e.utilisation[1].average, Some(0.6));
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
        let text = e.render_text();
        assert!(
            text.contains(
                "provider.limit[0]: input_tokens token bucket: 7,500/s = 450k/min, burst 450k"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "provider.limit[1]: requests fixed window: 600 per 60s = 10/s = 600/min, burst 600"
            ),
            "{text}"
        );
        assert!(
            text.contains("average: 6/s requests, 6,000/s input + 1,200/s output (max_tokens) = 7,200/s tokens"),
            "{text}"
        );
        assert!(
            text.contains(
                "provider.limit[0] (input_tokens): 6,000/s = 360k/min of 7,500/s = 450k/min = 80%"
            ),
            "{text}"
        );
    }

    #[test]
    fn diurnal_demand_has_a_mean_and_a_peak() {
        let e = explain(&scenario(
            "{ process = \"diurnal\", rate = 2, amplitude = 0.5, until = \"60s\" }",
            "",
        ));
        assert_eq!(e.sources[0].average.unwrap().input_tokens, 6_000.0);
        assert_eq!(e.sources[0].peak.unwrap().input_tokens, 9_000.0);
        assert_eq!(e.utilisation[0].peak, Some(1.2));
        assert_eq!(e.lowest_capacity, None);
    }

    #[test]
    fn a_capacity_drop_is_demand_against_the_lowest_capacity() {
        let e = explain(&scenario(
            "{ process = \"poisson\", rate = 2, until = \"60s\" }",
            "[[provider.capacity]]\nat = \"10s\"\nlimits = 0.5\n[[provider.capacity]]\nat = \"20s\"\nlimits = 0.4\nramp = \"4s\"\n[[provider.capacity]]\nat = \"30s\"\nlimits = 1.0",
        ));
        // The ramp from 0.5 to 0.4 ends at 24 s.
        assert_eq!(e.lowest_capacity, Some((0.4, 24.0)));
        assert_eq!(e.utilisation[0].at_lowest_capacity, Some(6_000.0 / 3_000.0));
        let text = e.render_text();
        assert!(
            text.contains("= 80%; 200% at its lowest capacity (x0.4 from 24s)"),
            "{text}"
        );
    }

    #[test]
    fn a_burst_has_no_rate_but_an_amount_at_once() {
        let e = explain(&scenario(
            "{ process = \"burst\", count = 4, at = \"2s\" }",
            "",
        ));
        let d = &e.sources[0];
        assert!(d.average.is_none() && d.jobs_per_s.is_none());
        let a = d.at_once.unwrap();
        assert_eq!((a.jobs, a.at_s), (4, 2.0));
        assert_eq!(a.amounts.input_tokens, 12_000.0);
        assert_eq!(e.utilisation[0].at_once[0].2, 12_000.0 / 7_500.0);
        let text = e.render_text();
        assert!(
            text.contains("4 jobs at t = 2s: 12 requests, 12,000 input"),
            "{text}"
        );
    }

    #[test]
    fn a_template_tree_counts_fanouts_sequences_and_spawns() {
        // root: seq [call, fanout 4 x agent(3 calls), spawn p = 0.5 x 2 of root, max_depth 2].
        let text = r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[[source]]
name = "s"
arrival = { process = "poisson", rate = 1, count = 10 }
template = "root"
[templates.root]
kind = "seq"
steps = ["one", "wide", "again"]
[templates.one]
kind = "call"
prompt_tokens = 100
max_tokens = 10
output_tokens = 5
[templates.wide]
kind = "fanout"
width = { dist = "uniform", low = 2, high = 6 }
child = "agent"
[templates.agent]
kind = "agent"
calls = 3
prompt_tokens = 100
max_tokens = 10
output_tokens = 5
[templates.again]
kind = "spawn"
probability = 0.5
width = 2
child = "root"
max_depth = 2
[[policy]]
name = "p"
"#;
        let e = explain(&parse(text, "t.toml").unwrap());
        // One level: 1 + 4 * 3 = 13 calls. Level 2 (deepest): 13. Level 1: 13 + 0.5*2*13 = 26.
        // Level 0: 13 + 0.5 * 2 * 26 = 39.
        assert_eq!(e.sources[0].job.per_job.requests, 39.0);
        assert_eq!(e.sources[0].job.per_job.input_tokens, 3_900.0);
        assert!(!e.sources[0].job.truncated);
    }

    #[test]
    fn a_deep_spawn_over_many_templates_stops_at_the_work_budget() {
        // 3,000 calls in a seq under a spawn 10,000 deep: 3 x 10^7 node visits, past the
        // budget; the deepest levels are left uncounted, and the explanation says so.
        let mut text = String::from(
            "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n[[source]]\nname = \"s\"\narrival = { process = \"burst\" }\ntemplate = \"root\"\n[templates.root]\nkind = \"seq\"\nsteps = [\"again\"",
        );
        for i in 0..3_000 {
            text.push_str(&format!(", \"c{i}\""));
        }
        text.push_str("]\n[templates.again]\nkind = \"spawn\"\nprobability = 0.5\nwidth = 1\nchild = \"root\"\nmax_depth = 10000\n");
        for i in 0..3_000 {
            text.push_str(&format!(
                "[templates.c{i}]\nkind = \"call\"\nprompt_tokens = 10\nmax_tokens = 1\noutput_tokens = 1\n"
            ));
        }
        text.push_str("[[policy]]\nname = \"p\"\n");
        let e = explain(&parse(&text, "t.toml").unwrap());
        assert!(e.sources[0].job.truncated);
        // Each level adds half the one below: the counted part converges to 2 x 3,000.
        let calls = e.sources[0].job.per_job.requests;
        assert!(calls > 5_999.0 && calls <= 6_000.0, "{calls}");
    }

    #[test]
    fn an_exploding_spawn_is_reported_not_overflowed() {
        let text = r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[[source]]
name = "s"
arrival = { process = "burst" }
template = "root"
[templates.root]
kind = "seq"
steps = ["one", "again"]
[templates.one]
kind = "call"
prompt_tokens = 100
max_tokens = 10
output_tokens = 5
[templates.again]
kind = "spawn"
probability = 1.0
width = 10
child = "root"
max_depth = 10000
[[policy]]
name = "p"
"#;
        let e = explain(&parse(text, "t.toml").unwrap());
        assert!(!e.sources[0].job.truncated);
        assert!(e.sources[0].job.per_job.requests.is_infinite());
        assert!(
            e.warnings
                .iter()
                .any(|w| w.contains("make unbounded calls (its spawns multiply")),
            "{:?}",
            e.warnings
        );
        assert!(e.render_text().contains("warnings:"));
    }

    #[test]
    fn likely_mistakes_are_warned_about() {
        // A call of 1,000 + 200 input tokens against a burst of 500; a bucket faster than the
        // provider; and a requests limit of 600,000 per second meant per minute.
        let text = r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[[provider.limit]]
resource = "input_tokens"
rate = 7_500
burst = 500
[[provider.limit]]
resource = "tokens"
rate = "600k/min"
burst = "20k"
[[provider.limit]]
resource = "requests"
rate = 600_000
burst = 600_000
[[source]]
name = "s"
arrival = { process = "poisson", rate = 2, until = "60s" }
[source.job]
agents = 3
prompt_tokens = 1000
max_tokens = 200
output_tokens = 100
[[policy]]
name = "p"
bucket = { rate = "700k/min", burst = "30k" }
"#;
        let e = explain(&parse(text, "t.toml").unwrap());
        let all = e.warnings.join("\n");
        assert!(
            all.contains("a typical call charges 1,000 input_tokens, above provider.limit[0]'s burst of 500: it can never pass and fails at once with a non-retryable error"),
            "{all}"
        );
        assert!(
            all.contains("policy \"p\": its global bucket refills at 11,667/s = 700k/min, faster than provider.limit[1] (tokens token bucket: 10,000/s = 600k/min)"),
            "{all}"
        );
        assert!(
            all.contains("holds a burst of 30k, more than provider.limit[1]'s burst of 20k"),
            "{all}"
        );
        assert!(
            all.contains("against provider.limit[2] (requests token bucket: 600,000/s = 36M/min), 0.001% of its rate: if the provider's figure is per minute, write rate = \"600k/min\""),
            "{all}"
        );
    }
    #[test]
    fn a_trace_offers_its_rows_over_their_span_and_its_busiest_minute() {
        let dir = tempfile::tempdir().unwrap();
        // 4 jobs in the first minute, 1 at 119 s: 5 jobs over 119 s; the busiest 60 s holds 4.
        // The third row's prompt replaces every call's: 3 calls of 2,000 tokens.
        std::fs::write(
            dir.path().join("t.csv"),
            "time_s,tenant,template,prompt_tokens,output_tokens\n0,,,,\n10,,,,\n20,,,2000,\n30,,,,\n119,,,,\n",
        )
        .unwrap();
        let file = dir.path().join("s.toml");
        let text = r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[[provider.limit]]
resource = "input_tokens"
rate = "450k/min"
burst = "450k"
[[source]]
name = "s"
arrival = { process = "trace", file = "t.csv" }
template = "job"
[templates.job]
kind = "agent"
calls = 3
prompt_tokens = 1000
max_tokens = 200
output_tokens = 100
[[policy]]
name = "p"
"#;
        let s = parse(text, &file.display().to_string()).unwrap();
        let e = explain(&s);
        let d = &e.sources[0];
        assert_eq!(d.arrival, "trace, 5 jobs over 119s");
        // 4 jobs of 3,000 input tokens and one of 6,000: 18,000 in all.
        assert_eq!(d.job.per_job.input_tokens, 3_600.0);
        assert_eq!(d.jobs_per_s, Some(5.0 / 119.0));
        assert_eq!(d.average.unwrap().input_tokens, 18_000.0 / 119.0);
        assert_eq!(d.peak_jobs_per_s, Some(4.0 / 60.0));
        assert_eq!(d.peak.unwrap().input_tokens, 15_000.0 / 60.0);
        assert_eq!(d.peak.unwrap().requests, 12.0 / 60.0);
    }

    #[test]
    fn the_explanation_is_json() {
        let e = explain(&scenario(
            "{ process = \"poisson\", rate = 2, until = \"60s\" }",
            "",
        ));
        let v: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(v["limits"][0]["per_s"], 7_500.0);
        assert_eq!(v["sources"][0]["average"]["input_tokens"], 6_000.0);
        assert_eq!(v["utilisation"][0]["average"], 0.8);
    }

    #[test]
    fn routes_are_told_in_words_and_an_unreached_provider_is_a_warning() {
        let text = "[scenario]\nname = \"t\"\n\
            [[provider]]\nname = \"a\"\nttft = \"1s\"\n\
            [[provider]]\nname = \"b\"\nttft = \"1s\"\n\
            [[provider]]\nname = \"c\"\nttft = \"1s\"\n\
            [[source]]\nname = \"s\"\narrival = { process = \"burst\", count = 1 }\n\
            [source.job]\nprompt_tokens = 100\nmax_tokens = 50\noutput_tokens = 10\n\
            [[policy]]\nname = \"p\"\n\
            route = { targets = [\"a\", \"b\"], strategy = \"least-busy\", fallback_after = 2, fallback_on = [\"rate_limited\"], cooldown = \"5s\", allowed_fails = 3 }\n";
        let s = crate::scenario::parse(text, "t.toml").unwrap();
        let e = explain(&s);
        let out = e.render_text();
        assert!(
            out.contains("  policy \"p\": a, b (least-busy); a provider failing more than 3 times in a minute sits out 5s\n"),
            "{out}"
        );
        assert_eq!(
            e.warnings,
            vec!["provider \"c\" is in no policy's route: no call reaches it".to_string()]
        );
    }
}
