//! The generator: proptest strategies for random *valid* scenario files.
//!
//! A scenario is drawn as plain data (`Spec` and its parts), normalised so that it stays small
//! (at most [`MAX_JOBS`] jobs and about [`MAX_CALLS`] calls in the worst case, every run bounded
//! by `[guards]`), and rendered to TOML text plus the trace CSV files it names. A [`Case`]
//! prints as that text, so a failing case shows up as a scenario file that can be pasted into
//! `tests/corpus/`.
//!
//! Every value is drawn from ranges the format accepts (`docs/scenario-format.md`,
//! `src/scenario/raw.rs`); a case that does not parse is a bug of the generator or of the parser,
//! and fails the tests that load it.

use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// Most jobs a generated scenario emits (sources with `until` aim for it, Poisson may overshoot).
pub const MAX_JOBS: u64 = 40;
/// Most calls one job may make in the worst case (restarts and retries aside).
pub const MAX_CALLS_PER_JOB: u64 = 80;
/// Most calls a scenario's jobs may make together in the worst case.
pub const MAX_CALLS: u64 = 400;

/// A generated scenario: its TOML text and the trace files it names (relative to it).
#[derive(Clone)]
pub struct Case {
    pub toml: String,
    /// `(file name, contents)` of each trace CSV.
    pub files: Vec<(String, String)>,
}

impl fmt::Debug for Case {
    /// The scenario file itself, then each trace file as a comment block: what to paste into
    /// `tests/corpus/` when a case fails.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n{}", self.toml)?;
        for (name, text) in &self.files {
            writeln!(f, "# ---- {name} ----")?;
            for line in text.lines() {
                writeln!(f, "# {line}")?;
            }
        }
        Ok(())
    }
}

/// A number or duration distribution (durations in milliseconds).
#[derive(Clone, Debug)]
pub enum D {
    Const(f64),
    Uniform(f64, f64),
    Normal(f64, f64),
    LogNormal(f64, f64),
    Exp(f64),
    Empirical(Vec<f64>, Option<Vec<f64>>),
}

/// A number as TOML: integers without a fraction, others as Rust prints them (`0.25`, `1e-7`).
fn n(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

/// Milliseconds as a TOML duration string.
fn ms(x: f64) -> String {
    format!("\"{}ms\"", n(x))
}

impl D {
    fn render(&self, v: &dyn Fn(f64) -> String) -> String {
        match self {
            D::Const(x) => v(*x),
            D::Uniform(a, b) => format!(
                "{{ dist = \"uniform\", low = {}, high = {} }}",
                v(*a),
                v(*b)
            ),
            D::Normal(m, s) => format!("{{ dist = \"normal\", mean = {}, sd = {} }}", v(*m), v(*s)),
            D::LogNormal(m, s) => {
                format!(
                    "{{ dist = \"lognormal\", mean = {}, sd = {} }}",
                    v(*m),
                    v(*s)
                )
            }
            D::Exp(m) => format!("{{ dist = \"exponential\", mean = {} }}", v(*m)),
            D::Empirical(values, weights) => {
                let vs: Vec<String> = values.iter().map(|x| v(*x)).collect();
                match weights {
                    None => format!("{{ dist = \"empirical\", values = [{}] }}", vs.join(", ")),
                    Some(w) => {
                        let ws: Vec<String> = w.iter().map(|x| n(*x)).collect();
                        format!(
                            "{{ dist = \"empirical\", values = [{}], weights = [{}] }}",
                            vs.join(", "),
                            ws.join(", ")
                        )
                    }
                }
            }
        }
    }

    /// As a number distribution.
    pub fn num(&self) -> String {
        self.render(&n)
    }

    /// As a duration distribution (parameters in milliseconds).
    pub fn dur(&self) -> String {
        self.render(&ms)
    }

    /// The largest count a count distribution (constant, uniform, empirical) draws, rounded.
    fn max_count(&self) -> u64 {
        match self {
            D::Const(x) => x.round() as u64,
            D::Uniform(_, b) => b.round() as u64,
            D::Empirical(v, _) => v.iter().fold(0.0f64, |m, x| m.max(*x)).round() as u64,
            // Not drawn for counts; an upper bound that is generous enough.
            D::Normal(m, s) => (m + 6.0 * s).round() as u64,
            D::LogNormal(m, s) => (m + 20.0 * s).round() as u64,
            D::Exp(m) => (20.0 * m).round() as u64,
        }
    }
}

/// Log-uniform integers in `[lo, hi]`, so that small and large values are both common.
fn log_uniform(lo: f64, hi: f64) -> impl Strategy<Value = f64> + Clone {
    (0u32..=1000).prop_map(move |k| {
        let x = lo * (hi / lo).powf(k as f64 / 1000.0);
        if x >= 10.0 {
            x.round()
        } else {
            (x * 100.0).round() / 100.0
        }
    })
}

/// A distribution of sizes (token counts, decode rates) over `[lo, hi]`; `lo >= 0`.
fn sizes(lo: u32, hi: u32) -> BoxedStrategy<D> {
    let pos = lo.max(1);
    prop_oneof![
        4 => (lo..=hi).prop_map(|v| D::Const(v as f64)),
        1 => (lo..=hi, lo..=hi).prop_map(|(a, b)| D::Uniform(a.min(b) as f64, a.max(b) as f64)),
        1 => (lo..=hi, 0..=hi / 4).prop_map(|(m, s)| D::Normal(m as f64, s as f64)),
        1 => (pos..=hi, 0..=hi).prop_map(|(m, s)| D::LogNormal(m as f64, s as f64)),
        1 => (pos..=hi).prop_map(|m| D::Exp(m as f64)),
        1 => (vec((lo..=hi, 1u32..=5), 1..=4), any::<bool>()).prop_map(|(vw, weighted)| {
            let values = vw.iter().map(|p| p.0 as f64).collect();
            let weights = weighted.then(|| vw.iter().map(|p| p.1 as f64).collect());
            D::Empirical(values, weights)
        }),
    ]
    .boxed()
}

/// A distribution of durations in milliseconds over `[lo, hi]`.
fn durations(lo: u32, hi: u32) -> BoxedStrategy<D> {
    sizes(lo, hi)
}

/// A distribution of counts (widths, calls) over `[lo, hi]`: only kinds whose largest draw is
/// known, so that the worst case of a job can be bounded.
fn counts(lo: u32, hi: u32) -> BoxedStrategy<D> {
    prop_oneof![
        1 => Just(D::Const(lo as f64)),
        5 => (lo.max(1)..=hi).prop_map(|v| D::Const(v as f64)),
        1 => (lo..=hi, lo..=hi).prop_map(|(a, b)| D::Uniform(a.min(b) as f64, a.max(b) as f64)),
        1 => vec(lo..=hi, 1..=3).prop_map(|v| D::Empirical(v.into_iter().map(f64::from).collect(), None)),
    ]
    .boxed()
}

/// The sizes of one LLM call.
#[derive(Clone, Debug)]
pub struct CallGen {
    prompt: D,
    max_tokens: u32,
    output: D,
}

fn call() -> impl Strategy<Value = CallGen> {
    (
        sizes(1, 3000),
        prop_oneof![1 => Just(0u32), 12 => 1u32..=1000],
        sizes(0, 1000),
    )
        .prop_map(|(prompt, max_tokens, output)| CallGen {
            prompt,
            max_tokens,
            output,
        })
}

impl CallGen {
    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "prompt_tokens = {}", self.prompt.num());
        let _ = writeln!(out, "max_tokens = {}", self.max_tokens);
        let _ = writeln!(out, "output_tokens = {}", self.output.num());
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Call,
    Agent,
    Seq,
    Parallel,
    Fanout,
    Spawn,
}

/// One `[templates.tN]` node. Every field is drawn whatever the kind; the kind picks the ones it
/// uses. Children of `seq`, `parallel` and `fanout` are later nodes (no cycle); a `spawn`'s child
/// is any node, itself and its ancestors included (recursion).
#[derive(Clone, Debug)]
pub struct NodeGen {
    kind: Kind,
    call: CallGen,
    calls: D,
    think: Option<D>,
    kids: Vec<Index>,
    width: Option<D>,
    probability: f64,
    max_depth: u32,
}

fn node() -> impl Strategy<Value = NodeGen> {
    (
        prop_oneof![
            3 => Just(Kind::Call),
            3 => Just(Kind::Agent),
            2 => Just(Kind::Seq),
            1 => Just(Kind::Parallel),
            2 => Just(Kind::Fanout),
            2 => Just(Kind::Spawn),
        ],
        call(),
        counts(0, 4),
        weighted(0.5, durations(0, 3000)),
        vec(any::<Index>(), 1..=3),
        weighted(0.8, counts(0, 3)),
        select(vec![0.0, 0.3, 0.5, 0.9, 1.0]),
        prop_oneof![1 => Just(0u32), 6 => 1u32..=3],
    )
        .prop_map(
            |(kind, call, calls, think, kids, width, probability, max_depth)| NodeGen {
                kind,
                call,
                calls,
                think,
                kids,
                width,
                probability,
                max_depth,
            },
        )
}

/// The templates with children resolved to node indices.
#[derive(Clone, Debug)]
struct Tree {
    nodes: Vec<NodeGen>,
    /// Children by node: later nodes, or any node for a spawn.
    kids: Vec<Vec<usize>>,
}

impl Tree {
    fn new(mut nodes: Vec<NodeGen>) -> Tree {
        let len = nodes.len();
        let mut kids = Vec::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            let later = len - i - 1;
            if later == 0 && matches!(node.kind, Kind::Seq | Kind::Parallel | Kind::Fanout) {
                node.kind = Kind::Call;
            }
            // Sources start at t0 half the time: let it be a tree, not a lone maybe-spawn.
            if i == 0 && later > 0 && node.kind == Kind::Spawn {
                node.kind = Kind::Seq;
            }
            kids.push(match node.kind {
                Kind::Call | Kind::Agent => Vec::new(),
                // A later node (a subtree), or any node: itself or an ancestor (recursion).
                Kind::Spawn if later > 0 && node.kids.len() > 1 => {
                    vec![i + 1 + node.kids[0].index(later)]
                }
                Kind::Spawn => vec![node.kids[0].index(len)],
                Kind::Fanout => vec![i + 1 + node.kids[0].index(later)],
                Kind::Seq | Kind::Parallel => {
                    node.kids.iter().map(|k| i + 1 + k.index(later)).collect()
                }
            });
        }
        Tree { nodes, kids }
    }

    /// The most calls `node` may make at spawn depth `depth`.
    fn worst(&self, node: usize, depth: u32, memo: &mut BTreeMap<(usize, u32), u64>) -> u64 {
        if let Some(&w) = memo.get(&(node, depth)) {
            return w;
        }
        let g = &self.nodes[node];
        let width = || g.width.as_ref().map_or(1, D::max_count);
        let w = match g.kind {
            Kind::Call => 1,
            Kind::Agent => g.calls.max_count(),
            Kind::Seq | Kind::Parallel => self.kids[node]
                .iter()
                .map(|&k| self.worst(k, depth, memo))
                .fold(0u64, u64::saturating_add),
            Kind::Fanout => width().saturating_mul(self.worst(self.kids[node][0], depth, memo)),
            Kind::Spawn => {
                if depth >= g.max_depth || g.probability == 0.0 {
                    0
                } else {
                    width().saturating_mul(self.worst(self.kids[node][0], depth + 1, memo))
                }
            }
        };
        memo.insert((node, depth), w);
        w
    }

    fn worst_of(&self, node: usize) -> u64 {
        self.worst(node, 0, &mut BTreeMap::new())
    }

    /// Cuts the templates until no job of any of them can make more than `MAX_CALLS_PER_JOB`
    /// calls: widths first, then sequence lengths, then agents' calls, then spawn depths (never
    /// below 1, so that spawns still spawn).
    fn shrink_to_fit(&mut self) {
        type Cut = fn(&mut NodeGen, &mut Vec<usize>) -> bool;
        let cuts: [Cut; 4] = [
            |n, _| {
                let wide = n.width.as_ref().is_none_or(|w| w.max_count() > 1);
                let cut = matches!(n.kind, Kind::Spawn | Kind::Fanout) && wide;
                if cut {
                    n.width = Some(D::Const(1.0));
                }
                cut
            },
            |n, kids| {
                let cut = matches!(n.kind, Kind::Seq | Kind::Parallel) && kids.len() > 1;
                if cut {
                    kids.pop();
                }
                cut
            },
            |n, _| {
                let cut = n.kind == Kind::Agent && n.calls.max_count() > 1;
                if cut {
                    n.calls = D::Const(1.0);
                }
                cut
            },
            |n, _| {
                let cut = n.kind == Kind::Spawn && n.max_depth > 1;
                if cut {
                    n.max_depth -= 1;
                }
                cut
            },
        ];
        'cutting: loop {
            let worst = (0..self.nodes.len()).map(|i| self.worst_of(i)).max();
            if worst.is_none_or(|w| w <= MAX_CALLS_PER_JOB) {
                return;
            }
            for cut in cuts {
                for (n, kids) in self.nodes.iter_mut().zip(self.kids.iter_mut()) {
                    if cut(n, kids) {
                        continue 'cutting;
                    }
                }
            }
            unreachable!("every node is at its smallest: a job makes a handful of calls at most");
        }
    }

    fn render(&self, out: &mut String) {
        for (i, g) in self.nodes.iter().enumerate() {
            let _ = writeln!(out, "\n[templates.t{i}]");
            let names = |kids: &[usize]| {
                kids.iter()
                    .map(|k| format!("\"t{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match g.kind {
                Kind::Call => {
                    out.push_str("kind = \"call\"\n");
                    g.call.render(out);
                }
                Kind::Agent => {
                    out.push_str("kind = \"agent\"\n");
                    g.call.render(out);
                    let _ = writeln!(out, "calls = {}", g.calls.num());
                    if let Some(t) = &g.think {
                        let _ = writeln!(out, "think_time = {}", t.dur());
                    }
                }
                Kind::Seq => {
                    out.push_str("kind = \"seq\"\n");
                    let _ = writeln!(out, "steps = [{}]", names(&self.kids[i]));
                }
                Kind::Parallel => {
                    out.push_str("kind = \"parallel\"\n");
                    let _ = writeln!(out, "branches = [{}]", names(&self.kids[i]));
                }
                Kind::Fanout => {
                    out.push_str("kind = \"fanout\"\n");
                    let _ = writeln!(
                        out,
                        "width = {}",
                        g.width.as_ref().unwrap_or(&D::Const(1.0)).num()
                    );
                    let _ = writeln!(out, "child = \"t{}\"", self.kids[i][0]);
                }
                Kind::Spawn => {
                    out.push_str("kind = \"spawn\"\n");
                    let _ = writeln!(out, "probability = {}", n(g.probability));
                    if let Some(w) = &g.width {
                        let _ = writeln!(out, "width = {}", w.num());
                    }
                    let _ = writeln!(out, "child = \"t{}\"", self.kids[i][0]);
                    let _ = writeln!(out, "max_depth = {}", g.max_depth);
                }
            }
        }
    }
}

/// How a source's arrivals end: after `count` jobs, at `until`, or whichever comes first.
#[derive(Clone, Debug)]
pub struct End {
    count: Option<u64>,
    until_ms: Option<f64>,
}

fn end() -> impl Strategy<Value = End> {
    (weighted(0.7, 1u64..=20), weighted(0.4, 500u32..=30_000)).prop_map(|(count, until)| End {
        count: if count.is_none() && until.is_none() {
            Some(5)
        } else {
            count
        },
        until_ms: until.map(f64::from),
    })
}

/// One row of a trace: `time_s,tenant,template,prompt_tokens,output_tokens`.
#[derive(Clone, Debug)]
pub struct RowGen {
    time_ms: u32,
    tenant: Option<Index>,
    template: Option<Index>,
    prompt: Option<u32>,
    output: Option<u32>,
}

#[derive(Clone, Debug)]
pub enum ArrivalGen {
    Burst {
        count: Option<u64>,
        at_ms: Option<f64>,
    },
    Poisson {
        rate: f64,
        end: End,
    },
    Interval {
        every_ms: f64,
        at_ms: Option<f64>,
        end: End,
    },
    Diurnal {
        rate: f64,
        amplitude: f64,
        period_ms: Option<f64>,
        peak_ms: Option<f64>,
        end: End,
    },
    Trace(Vec<RowGen>),
}

fn row() -> impl Strategy<Value = RowGen> {
    (
        0u32..=30_000,
        weighted(0.5, any::<Index>()),
        weighted(0.4, any::<Index>()),
        weighted(0.4, 1u32..=3000),
        weighted(0.4, 0u32..=1000),
    )
        .prop_map(|(time_ms, tenant, template, prompt, output)| RowGen {
            time_ms,
            tenant,
            template,
            prompt,
            output,
        })
}

fn arrival() -> impl Strategy<Value = ArrivalGen> {
    let at = || weighted(0.3, (0u32..=10_000).prop_map(f64::from));
    prop_oneof![
        3 => (weighted(0.8, 1u64..=10), at())
            .prop_map(|(count, at_ms)| ArrivalGen::Burst { count, at_ms }),
        3 => (log_uniform(0.1, 20.0), end()).prop_map(|(rate, end)| ArrivalGen::Poisson { rate, end }),
        2 => ((50u32..=5000).prop_map(f64::from), at(), end())
            .prop_map(|(every_ms, at_ms, end)| ArrivalGen::Interval { every_ms, at_ms, end }),
        2 => (
            log_uniform(0.1, 10.0),
            (0u32..=100).prop_map(|a| a as f64 / 100.0),
            weighted(0.8, (1000u32..=120_000).prop_map(f64::from)),
            weighted(0.5, (0u32..=60_000).prop_map(f64::from)),
            end(),
        )
            .prop_map(|(rate, amplitude, period_ms, peak_ms, end)| ArrivalGen::Diurnal {
                rate,
                amplitude,
                period_ms,
                peak_ms,
                end,
            }),
        1 => vec(row(), 1..=6).prop_map(|mut rows| {
            rows.sort_by_key(|r| r.time_ms);
            ArrivalGen::Trace(rows)
        }),
    ]
}

impl ArrivalGen {
    /// Cuts the source to about `cap` jobs (at least 1).
    fn cap(&mut self, cap: u64) {
        let cap = cap.max(1);
        let end_cap = |end: &mut End, rate_per_s: f64| {
            if let Some(c) = end.count.as_mut() {
                *c = (*c).min(cap);
            }
            if end.count.is_none()
                && let Some(u) = end.until_ms.as_mut()
            {
                // Expect about `cap` jobs by `until`.
                *u = u.min((cap as f64 / rate_per_s * 1000.0).round().max(1.0));
            }
        };
        match self {
            ArrivalGen::Burst { count, .. } => *count = Some(count.unwrap_or(1).min(cap)),
            ArrivalGen::Poisson { rate, end } => end_cap(end, *rate),
            ArrivalGen::Interval { every_ms, end, .. } => end_cap(end, 1000.0 / *every_ms),
            ArrivalGen::Diurnal {
                rate,
                amplitude,
                end,
                ..
            } => end_cap(end, *rate * (1.0 + *amplitude)),
            ArrivalGen::Trace(rows) => rows.truncate(cap as usize),
        }
    }

    fn render(&self, file: &str) -> String {
        let end = |e: &End| {
            let mut s = String::new();
            if let Some(c) = e.count {
                let _ = write!(s, ", count = {c}");
            }
            if let Some(u) = e.until_ms {
                let _ = write!(s, ", until = {}", ms(u));
            }
            s
        };
        let opt = |name: &str, v: &Option<f64>| {
            v.map_or(String::new(), |v| format!(", {name} = {}", ms(v)))
        };
        match self {
            ArrivalGen::Burst { count, at_ms } => format!(
                "{{ process = \"burst\"{}{} }}",
                count.map_or(String::new(), |c| format!(", count = {c}")),
                opt("at", at_ms)
            ),
            ArrivalGen::Poisson { rate, end: e } => {
                format!("{{ process = \"poisson\", rate = {}{} }}", n(*rate), end(e))
            }
            ArrivalGen::Interval {
                every_ms,
                at_ms,
                end: e,
            } => format!(
                "{{ process = \"interval\", every = {}{}{} }}",
                ms(*every_ms),
                opt("at", at_ms),
                end(e)
            ),
            ArrivalGen::Diurnal {
                rate,
                amplitude,
                period_ms,
                peak_ms,
                end: e,
            } => format!(
                "{{ process = \"diurnal\", rate = {}, amplitude = {}{}{}{} }}",
                n(*rate),
                n(*amplitude),
                opt("period", period_ms),
                opt("peak", peak_ms),
                end(e)
            ),
            ArrivalGen::Trace(_) => format!("{{ process = \"trace\", file = \"{file}\" }}"),
        }
    }
}

/// The shorthand `[source.job]`.
#[derive(Clone, Debug)]
pub struct JobGen {
    agents: Option<D>,
    calls_per_agent: Option<u32>,
    call: CallGen,
    think: Option<D>,
}

fn job() -> impl Strategy<Value = JobGen> {
    (
        weighted(0.7, counts(1, 4)),
        weighted(0.7, 1u32..=3),
        call(),
        weighted(0.4, durations(0, 2000)),
    )
        .prop_map(|(agents, calls_per_agent, call, think)| JobGen {
            agents,
            calls_per_agent,
            call,
            think,
        })
}

impl JobGen {
    fn worst(&self) -> u64 {
        self.agents.as_ref().map_or(1, D::max_count) * self.calls_per_agent.unwrap_or(1) as u64
    }
}

/// Tenant names sources, traces and `[[tenant]]` tables pick from.
const TENANTS: [&str; 3] = ["alpha", "beta", "gamma"];

#[derive(Clone, Debug)]
pub struct SourceGen {
    tenant: Option<Index>,
    spread_over: Option<u32>,
    arrival: ArrivalGen,
    /// The root template, when there are templates and the source uses one.
    template: Option<Index>,
    job: JobGen,
}

fn source() -> impl Strategy<Value = SourceGen> {
    (
        weighted(0.4, any::<Index>()),
        weighted(0.25, 1u32..=4),
        arrival(),
        weighted(0.7, any::<Index>()),
        job(),
    )
        .prop_map(|(tenant, spread_over, arrival, template, job)| SourceGen {
            tenant,
            spread_over,
            arrival,
            template,
            job,
        })
}

#[derive(Clone, Debug)]
pub struct LimitGen {
    resource: usize,
    kind: usize,
    /// Rate (or window limit) and burst, as a fraction of their ranges (0 to 1000).
    a: u32,
    b: u32,
    window_ms: f64,
}

const RESOURCES: [&str; 4] = ["requests", "input_tokens", "output_tokens", "tokens"];

fn limit() -> impl Strategy<Value = LimitGen> {
    (
        0usize..4,
        prop_oneof![2 => Just(0usize), 1 => Just(1usize), 1 => Just(2usize)],
        0u32..=1000,
        0u32..=1000,
        prop_oneof![
            Just(1000.0),
            Just(10_000.0),
            Just(60_000.0),
            (100u32..=60_000).prop_map(f64::from)
        ],
    )
        .prop_map(|(resource, kind, a, b, window_ms)| LimitGen {
            resource,
            kind,
            a,
            b,
            window_ms,
        })
}

/// `lo * (hi / lo)^(k / 1000)`, rounded to a readable value.
fn scale(k: u32, lo: f64, hi: f64) -> f64 {
    let x = lo * (hi / lo).powf(k as f64 / 1000.0);
    if x >= 10.0 {
        x.round()
    } else {
        (x * 100.0).round().max(1.0) / 100.0
    }
}

impl LimitGen {
    fn render(&self, out: &mut String) {
        // Per second (rates) and per burst: requests come one at a time, tokens in thousands.
        // One limit in ten is small enough that some calls can never pass it (`errors`).
        let small = self.b.is_multiple_of(10);
        let (rate, burst) = match (self.resource, small) {
            (0, _) => ((0.5, 30.0), (1.0, 40.0)),
            (_, false) => ((300.0, 50_000.0), (3000.0, 300_000.0)),
            (_, true) => ((300.0, 50_000.0), (300.0, 3000.0)),
        };
        let _ = writeln!(
            out,
            "\n[[provider.limit]]\nresource = \"{}\"",
            RESOURCES[self.resource]
        );
        match self.kind {
            0 => {
                // The default kind is the token bucket: write it out only half the time.
                if self.a.is_multiple_of(2) {
                    out.push_str("kind = \"token_bucket\"\n");
                }
                let _ = writeln!(out, "rate = {}", n(scale(self.a, rate.0, rate.1)));
                let _ = writeln!(out, "burst = {}", n(scale(self.b, burst.0, burst.1)));
            }
            k => {
                let kind = if k == 1 {
                    "fixed_window"
                } else {
                    "sliding_window"
                };
                let _ = writeln!(out, "kind = \"{kind}\"");
                let _ = writeln!(out, "limit = {}", n(scale(self.b, burst.0, burst.1)));
                let _ = writeln!(out, "window = {}", ms(self.window_ms));
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct CapacityGen {
    gap_ms: f64,
    limits: Option<f64>,
    decode: Option<f64>,
    ramp_ms: Option<f64>,
}

fn capacity() -> impl Strategy<Value = CapacityGen> {
    let factor = |lo: u32, hi: u32| (lo..=hi).prop_map(|x| x as f64 / 100.0);
    (
        (1u32..=60_000).prop_map(f64::from),
        weighted(0.7, factor(5, 200)),
        weighted(0.5, factor(10, 300)),
        weighted(0.4, (0u32..=30_000).prop_map(f64::from)),
    )
        .prop_map(|(gap_ms, limits, decode, ramp_ms)| CapacityGen {
            gap_ms,
            limits,
            decode,
            ramp_ms,
        })
}

#[derive(Clone, Debug)]
pub struct ProviderGen {
    ttft: D,
    decode: Option<D>,
    concurrency: Option<u32>,
    sharing_above: Option<u32>,
    max_in_flight: Option<u32>,
    count_rejected: Option<bool>,
    refund: Option<bool>,
    error_rate: Option<f64>,
    prices: Option<(f64, f64)>,
    limits: Vec<LimitGen>,
    outages: Vec<(f64, f64, u16)>,
    capacity: Vec<CapacityGen>,
}

fn decode_rate() -> BoxedStrategy<D> {
    prop_oneof![
        4 => (5u32..=500).prop_map(|v| D::Const(v as f64)),
        1 => (5u32..=500, 5u32..=500).prop_map(|(a, b)| D::Uniform(a.min(b) as f64, a.max(b) as f64)),
        1 => (20u32..=500).prop_map(|m| D::Normal(m as f64, (m / 5) as f64)),
        1 => (5u32..=500, 0u32..=200).prop_map(|(m, s)| D::LogNormal(m as f64, s as f64)),
        1 => (20u32..=500).prop_map(|m| D::Exp(m as f64)),
        1 => vec(5u32..=500, 1..=3).prop_map(|v| D::Empirical(v.into_iter().map(f64::from).collect(), None)),
    ]
    .boxed()
}

fn provider() -> impl Strategy<Value = ProviderGen> {
    (
        (durations(0, 3000), weighted(0.8, decode_rate())),
        (
            weighted(0.3, 1u32..=8),
            weighted(0.2, 1u32..=4),
            weighted(0.2, 1u32..=12),
            weighted(0.5, any::<bool>()),
            weighted(0.3, any::<bool>()),
            weighted(0.3, (0u32..=30).prop_map(|x| x as f64 / 100.0)),
            weighted(
                0.4,
                (
                    select(vec![0.15, 1.0, 3.0, 15.0]),
                    select(vec![0.6, 5.0, 15.0, 75.0]),
                ),
            ),
        ),
        vec(limit(), 0..=3),
        vec(
            (
                (0u32..=60_000).prop_map(f64::from),
                (100u32..=15_000).prop_map(f64::from),
                select(vec![500u16, 502, 503, 529]),
            ),
            0..=2,
        ),
        vec(capacity(), 0..=3),
    )
        .prop_map(
            |(
                (ttft, decode),
                (
                    concurrency,
                    sharing_above,
                    max_in_flight,
                    count_rejected,
                    refund,
                    error_rate,
                    prices,
                ),
                limits,
                outages,
                capacity,
            )| ProviderGen {
                ttft,
                decode,
                concurrency,
                sharing_above,
                max_in_flight,
                count_rejected,
                refund,
                error_rate,
                prices,
                limits,
                outages,
                capacity,
            },
        )
}

impl ProviderGen {
    fn render(&self, out: &mut String) {
        out.push_str("\n[provider]\n");
        let _ = writeln!(out, "ttft = {}", self.ttft.dur());
        if let Some(d) = &self.decode {
            let _ = writeln!(out, "decode_rate = {}", d.num());
        }
        let fields: [(&str, Option<String>); 7] = [
            ("concurrency", self.concurrency.map(|v| v.to_string())),
            ("sharing_above", self.sharing_above.map(|v| v.to_string())),
            ("max_in_flight", self.max_in_flight.map(|v| v.to_string())),
            ("count_rejected", self.count_rejected.map(|v| v.to_string())),
            ("refund_unused_output", self.refund.map(|v| v.to_string())),
            ("error_rate", self.error_rate.map(n)),
            ("price_input_per_mtok", self.prices.map(|p| n(p.0))),
        ];
        for (name, v) in fields {
            if let Some(v) = v {
                let _ = writeln!(out, "{name} = {v}");
            }
        }
        if let Some((_, output)) = self.prices {
            let _ = writeln!(out, "price_output_per_mtok = {}", n(output));
        }
        for l in &self.limits {
            l.render(out);
        }
        for (start, len, status) in &self.outages {
            let _ = writeln!(
                out,
                "\n[[provider.outage]]\nstart = {}\nend = {}\nstatus = {status}",
                ms(*start),
                ms(start + len)
            );
        }
        let mut last_end = 0.0;
        for c in &self.capacity {
            let at = last_end + c.gap_ms;
            let _ = writeln!(out, "\n[[provider.capacity]]\nat = {}", ms(at));
            if let Some(l) = c.limits {
                let _ = writeln!(out, "limits = {}", n(l));
            }
            if let Some(d) = c.decode {
                let _ = writeln!(out, "decode = {}", n(d));
            }
            if let Some(r) = c.ramp_ms {
                let _ = writeln!(out, "ramp = {}", ms(r));
            }
            last_end = at + c.ramp_ms.unwrap_or(0.0);
        }
    }
}

/// Which failures a layer retries: `None` for the default (all), else a subset (maybe empty).
fn retry_on() -> impl Strategy<Value = Option<[bool; 3]>> {
    weighted(0.3, any::<[bool; 3]>())
}

fn render_retry_on(v: &Option<[bool; 3]>) -> String {
    match v {
        None => String::new(),
        Some(on) => {
            let names = ["\"rate_limited\"", "\"server_error\"", "\"timeout\""];
            let list: Vec<&str> = (0..3).filter(|&i| on[i]).map(|i| names[i]).collect();
            format!(", retry_on = [{}]", list.join(", "))
        }
    }
}

#[derive(Clone, Debug)]
pub enum WaitGen {
    None,
    Fixed(f64),
    Exponential {
        multiplier_ms: f64,
        max_ms: Option<f64>,
        min_ms: Option<f64>,
        exp_base: Option<f64>,
    },
    RandomExponential {
        multiplier_ms: f64,
        max_ms: Option<f64>,
        min_ms: Option<f64>,
    },
}

#[derive(Clone, Debug)]
pub struct RetryGen {
    max_attempts: u32,
    wait: Option<WaitGen>,
    jitter: Option<usize>,
    honor_retry_after: Option<bool>,
    max_retry_after_ms: Option<f64>,
    retry_on: Option<[bool; 3]>,
}

fn wait() -> impl Strategy<Value = WaitGen> {
    let d = |lo: u32, hi: u32| (lo..=hi).prop_map(f64::from);
    prop_oneof![
        1 => Just(WaitGen::None),
        2 => d(0, 5000).prop_map(WaitGen::Fixed),
        3 => (d(1, 3000), weighted(0.6, d(100, 60_000)), weighted(0.3, d(0, 2000)),
              weighted(0.3, (11u32..=40).prop_map(|b| b as f64 / 10.0)))
            .prop_map(|(multiplier_ms, max_ms, min_ms, exp_base)| WaitGen::Exponential {
                multiplier_ms, max_ms, min_ms, exp_base,
            }),
        2 => (d(1, 3000), weighted(0.6, d(100, 60_000)), weighted(0.3, d(0, 2000)))
            .prop_map(|(multiplier_ms, max_ms, min_ms)| WaitGen::RandomExponential {
                multiplier_ms, max_ms, min_ms,
            }),
    ]
}

fn retry() -> impl Strategy<Value = RetryGen> {
    (
        1u32..=5,
        weighted(0.85, wait()),
        weighted(0.6, 0usize..4),
        weighted(0.4, any::<bool>()),
        weighted(0.2, (1000u32..=60_000).prop_map(f64::from)),
        retry_on(),
    )
        .prop_map(
            |(max_attempts, wait, jitter, honor_retry_after, max_retry_after_ms, retry_on)| {
                let mut jitter = jitter;
                // random_exponential already applies full jitter; decorrelated jitter needs an
                // exponential wait (both refused otherwise).
                if matches!(wait, Some(WaitGen::RandomExponential { .. })) {
                    jitter = None;
                }
                if jitter == Some(3) && !matches!(wait, Some(WaitGen::Exponential { .. })) {
                    jitter = Some(1);
                }
                RetryGen {
                    max_attempts,
                    wait,
                    jitter,
                    honor_retry_after,
                    max_retry_after_ms,
                    retry_on,
                }
            },
        )
}

impl RetryGen {
    fn render(&self) -> String {
        let mut s = format!("{{ max_attempts = {}", self.max_attempts);
        let opt = |name: &str, v: Option<f64>| {
            v.map_or(String::new(), |v| format!(", {name} = {}", ms(v)))
        };
        match &self.wait {
            None => {}
            Some(WaitGen::None) => s.push_str(", wait = { kind = \"none\" }"),
            Some(WaitGen::Fixed(w)) => {
                let _ = write!(s, ", wait = {{ kind = \"fixed\", wait = {} }}", ms(*w));
            }
            Some(WaitGen::Exponential {
                multiplier_ms,
                max_ms,
                min_ms,
                exp_base,
            }) => {
                let _ = write!(
                    s,
                    ", wait = {{ kind = \"exponential\", multiplier = {}{}{}{} }}",
                    ms(*multiplier_ms),
                    opt("max", *max_ms),
                    opt("min", *min_ms),
                    exp_base.map_or(String::new(), |b| format!(", exp_base = {}", n(b)))
                );
            }
            Some(WaitGen::RandomExponential {
                multiplier_ms,
                max_ms,
                min_ms,
            }) => {
                let _ = write!(
                    s,
                    ", wait = {{ kind = \"random_exponential\", multiplier = {}{}{} }}",
                    ms(*multiplier_ms),
                    opt("max", *max_ms),
                    opt("min", *min_ms)
                );
            }
        }
        if let Some(j) = self.jitter {
            let _ = write!(
                s,
                ", jitter = \"{}\"",
                ["none", "full", "equal", "decorrelated"][j]
            );
        }
        if let Some(h) = self.honor_retry_after {
            let _ = write!(s, ", honor_retry_after = {h}");
        }
        s.push_str(&opt("max_retry_after", self.max_retry_after_ms));
        s.push_str(&render_retry_on(&self.retry_on));
        s.push_str(" }");
        s
    }
}

#[derive(Clone, Debug)]
pub struct SdkGen {
    max_retries: Option<u32>,
    initial_ms: Option<f64>,
    max_ms: Option<f64>,
    jitter_fraction: Option<f64>,
    honor_retry_after: Option<bool>,
    max_retry_after_ms: Option<f64>,
    retry_on: Option<[bool; 3]>,
}

fn sdk() -> impl Strategy<Value = SdkGen> {
    (
        weighted(0.5, 0u32..=3),
        weighted(0.3, (10u32..=2000).prop_map(f64::from)),
        weighted(0.3, (100u32..=10_000).prop_map(f64::from)),
        weighted(0.3, (0u32..=150).prop_map(|x| x as f64 / 100.0)),
        weighted(0.3, any::<bool>()),
        weighted(0.2, (1000u32..=60_000).prop_map(f64::from)),
        retry_on(),
    )
        .prop_map(
            |(
                max_retries,
                initial_ms,
                max_ms,
                jitter_fraction,
                honor_retry_after,
                max_retry_after_ms,
                retry_on,
            )| {
                SdkGen {
                    max_retries,
                    initial_ms,
                    max_ms,
                    jitter_fraction,
                    honor_retry_after,
                    max_retry_after_ms,
                    retry_on,
                }
            },
        )
}

impl SdkGen {
    fn render(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.max_retries {
            parts.push(format!("max_retries = {r}"));
        }
        if let Some(v) = self.initial_ms {
            parts.push(format!("initial = {}", ms(v)));
        }
        if let Some(v) = self.max_ms {
            parts.push(format!("max = {}", ms(v)));
        }
        if let Some(v) = self.jitter_fraction {
            parts.push(format!("jitter_fraction = {}", n(v)));
        }
        if let Some(v) = self.honor_retry_after {
            parts.push(format!("honor_retry_after = {v}"));
        }
        if let Some(v) = self.max_retry_after_ms {
            parts.push(format!("max_retry_after = {}", ms(v)));
        }
        let on = render_retry_on(&self.retry_on);
        if !on.is_empty() {
            parts.push(on[2..].to_string());
        }
        if parts.is_empty() {
            "{}".to_string()
        } else {
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

#[derive(Clone, Debug)]
pub enum BudgetGen {
    Grpc {
        max_tokens: f64,
        token_ratio: f64,
    },
    Finagle {
        ttl_ms: Option<f64>,
        min_retries_per_sec: Option<f64>,
        percent_can_retry: Option<f64>,
    },
    Envoy {
        budget_percent: Option<f64>,
        min_retry_concurrency: Option<u32>,
    },
    AwsStandard {
        initial: Option<f64>,
        costs: Option<(f64, f64, f64, f64)>,
    },
}

fn budget() -> impl Strategy<Value = BudgetGen> {
    prop_oneof![
        (
            (1u32..=20).prop_map(f64::from),
            (1u32..=100).prop_map(|x| x as f64 / 100.0)
        )
            .prop_map(|(max_tokens, token_ratio)| BudgetGen::Grpc {
                max_tokens,
                token_ratio
            }),
        (
            weighted(0.5, (1000u32..=60_000).prop_map(f64::from)),
            weighted(0.5, (0u32..=10).prop_map(f64::from)),
            weighted(0.5, (0u32..=100).prop_map(|x| x as f64 / 100.0)),
        )
            .prop_map(|(ttl_ms, min_retries_per_sec, percent_can_retry)| {
                BudgetGen::Finagle {
                    ttl_ms,
                    min_retries_per_sec,
                    percent_can_retry,
                }
            }),
        (
            weighted(0.6, (0u32..=100).prop_map(f64::from)),
            weighted(0.6, 0u32..=5)
        )
            .prop_map(|(budget_percent, min_retry_concurrency)| BudgetGen::Envoy {
                budget_percent,
                min_retry_concurrency,
            }),
        (
            weighted(0.6, (1u32..=500).prop_map(f64::from)),
            weighted(0.4, (0u32..=10, 0u32..=10, 0u32..=20, 0u32..=2)),
        )
            .prop_map(|(initial, costs)| BudgetGen::AwsStandard {
                initial,
                costs: costs.map(|(a, b, c, d)| (a as f64, b as f64, c as f64, d as f64)),
            }),
    ]
}

impl BudgetGen {
    fn render(&self) -> String {
        let mut s = String::new();
        let mut f = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                let _ = write!(s, ", {name} = {v}");
            }
        };
        let kind = match self {
            BudgetGen::Grpc {
                max_tokens,
                token_ratio,
            } => {
                f("max_tokens", Some(n(*max_tokens)));
                f("token_ratio", Some(n(*token_ratio)));
                "grpc"
            }
            BudgetGen::Finagle {
                ttl_ms,
                min_retries_per_sec,
                percent_can_retry,
            } => {
                f("ttl", ttl_ms.map(ms));
                f("min_retries_per_sec", min_retries_per_sec.map(n));
                f("percent_can_retry", percent_can_retry.map(n));
                "finagle"
            }
            BudgetGen::Envoy {
                budget_percent,
                min_retry_concurrency,
            } => {
                f("budget_percent", budget_percent.map(n));
                f(
                    "min_retry_concurrency",
                    min_retry_concurrency.map(|v| v.to_string()),
                );
                "envoy"
            }
            BudgetGen::AwsStandard { initial, costs } => {
                f("initial", initial.map(n));
                if let Some((throttle, retry, timeout, no_retry)) = costs {
                    f("throttle_cost", Some(n(*throttle)));
                    f("retry_cost", Some(n(*retry)));
                    f("timeout_cost", Some(n(*timeout)));
                    f("no_retry_increment", Some(n(*no_retry)));
                }
                "aws_standard"
            }
        };
        format!("{{ kind = \"{kind}\"{s} }}")
    }
}

#[derive(Clone, Debug)]
pub struct BreakerGen {
    consecutive_failures: Option<u32>,
    failure_ratio: Option<f64>,
    min_requests: Option<u32>,
    window_ms: Option<f64>,
    open_ms: Option<f64>,
    half_open_probes: Option<u32>,
}

fn breaker() -> impl Strategy<Value = BreakerGen> {
    (
        weighted(0.7, 1u32..=5),
        weighted(0.5, (5u32..=100).prop_map(|x| x as f64 / 100.0)),
        weighted(0.5, 1u32..=20),
        weighted(0.4, (500u32..=30_000).prop_map(f64::from)),
        weighted(0.7, (200u32..=30_000).prop_map(f64::from)),
        weighted(0.4, 1u32..=3),
    )
        .prop_map(
            |(
                consecutive_failures,
                failure_ratio,
                min_requests,
                window_ms,
                open_ms,
                half_open_probes,
            )| {
                BreakerGen {
                    // A breaker needs something to trip on.
                    consecutive_failures: if failure_ratio.is_none() {
                        consecutive_failures.or(Some(3))
                    } else {
                        consecutive_failures
                    },
                    failure_ratio,
                    min_requests,
                    window_ms,
                    open_ms,
                    half_open_probes,
                }
            },
        )
}

impl BreakerGen {
    fn render(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.consecutive_failures {
            parts.push(format!("consecutive_failures = {v}"));
        }
        if let Some(v) = self.failure_ratio {
            parts.push(format!("failure_ratio = {}", n(v)));
        }
        if let Some(v) = self.min_requests {
            parts.push(format!("min_requests = {v}"));
        }
        if let Some(v) = self.window_ms {
            parts.push(format!("window = {}", ms(v)));
        }
        if let Some(v) = self.open_ms {
            parts.push(format!("open = {}", ms(v)));
        }
        if let Some(v) = self.half_open_probes {
            parts.push(format!("half_open_probes = {v}"));
        }
        format!("{{ {} }}", parts.join(", "))
    }
}

#[derive(Clone, Debug)]
pub enum ConcurrencyGen {
    Static(u32),
    Aimd {
        bounds: Option<(u32, u32, u32)>,
        increase: Option<u32>,
        decrease_factor: Option<f64>,
    },
    Gradient2 {
        bounds: Option<(u32, u32, u32)>,
        smoothing: Option<f64>,
        rtt_tolerance: Option<f64>,
        long_window: Option<u32>,
        queue_size: Option<u32>,
    },
}

fn concurrency() -> impl Strategy<Value = ConcurrencyGen> {
    // min <= initial <= max
    let bounds = || {
        weighted(0.8, (1u32..=3, 0u32..=6, 0u32..=20))
            .prop_map(|b| b.map(|(a, b, c)| (a, a + b, a + b + c)))
    };
    prop_oneof![
        (1u32..=10).prop_map(ConcurrencyGen::Static),
        (
            bounds(),
            weighted(0.4, 1u32..=3),
            weighted(0.5, (50u32..=95).prop_map(|x| x as f64 / 100.0))
        )
            .prop_map(|(bounds, increase, decrease_factor)| ConcurrencyGen::Aimd {
                bounds,
                increase,
                decrease_factor,
            }),
        (
            bounds(),
            weighted(0.4, (5u32..=100).prop_map(|x| x as f64 / 100.0)),
            weighted(0.4, (100u32..=300).prop_map(|x| x as f64 / 100.0)),
            weighted(0.4, 1u32..=200),
            weighted(0.4, 0u32..=8),
        )
            .prop_map(
                |(bounds, smoothing, rtt_tolerance, long_window, queue_size)| {
                    ConcurrencyGen::Gradient2 {
                        bounds,
                        smoothing,
                        rtt_tolerance,
                        long_window,
                        queue_size,
                    }
                }
            ),
    ]
}

impl ConcurrencyGen {
    fn render(&self) -> String {
        let bounds = |b: &Option<(u32, u32, u32)>| {
            b.map_or(String::new(), |(min, initial, max)| {
                format!(", min = {min}, initial = {initial}, max = {max}")
            })
        };
        let opt =
            |name: &str, v: Option<String>| v.map_or(String::new(), |v| format!(", {name} = {v}"));
        match self {
            ConcurrencyGen::Static(l) => format!("{{ kind = \"static\", limit = {l} }}"),
            ConcurrencyGen::Aimd {
                bounds: b,
                increase,
                decrease_factor,
            } => format!(
                "{{ kind = \"aimd\"{}{}{} }}",
                bounds(b),
                opt("increase", increase.map(|v| v.to_string())),
                opt("decrease_factor", decrease_factor.map(n))
            ),
            ConcurrencyGen::Gradient2 {
                bounds: b,
                smoothing,
                rtt_tolerance,
                long_window,
                queue_size,
            } => format!(
                "{{ kind = \"gradient2\"{}{}{}{}{} }}",
                bounds(b),
                opt("smoothing", smoothing.map(n)),
                opt("rtt_tolerance", rtt_tolerance.map(n)),
                opt("long_window", long_window.map(|v| v.to_string())),
                opt("queue_size", queue_size.map(|v| v.to_string()))
            ),
        }
    }
}

#[derive(Clone, Debug)]
pub struct WorkGen {
    max_depth: Option<u32>,
    max_fanout: Option<u32>,
    max_calls: Option<u64>,
    max_tokens: Option<u64>,
    max_cost_usd: Option<f64>,
    max_duration_ms: Option<f64>,
}

fn work_limits() -> impl Strategy<Value = WorkGen> {
    (
        weighted(0.3, 0u32..=3),
        weighted(0.3, 0u32..=4),
        weighted(0.4, 1u64..=30),
        weighted(0.3, 100u64..=50_000),
        weighted(0.3, (1u32..=1000).prop_map(|x| x as f64 / 1000.0)),
        weighted(0.3, (1000u32..=120_000).prop_map(f64::from)),
    )
        .prop_map(
            |(max_depth, max_fanout, max_calls, max_tokens, max_cost_usd, max_duration_ms)| {
                WorkGen {
                    max_depth,
                    max_fanout,
                    max_calls,
                    max_tokens,
                    max_cost_usd,
                    max_duration_ms,
                }
            },
        )
}

impl WorkGen {
    fn render(&self) -> String {
        let mut parts = Vec::new();
        let mut f = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{name} = {v}"));
            }
        };
        f("max_depth", self.max_depth.map(|v| v.to_string()));
        f("max_fanout", self.max_fanout.map(|v| v.to_string()));
        f("max_calls", self.max_calls.map(|v| v.to_string()));
        f("max_tokens", self.max_tokens.map(|v| v.to_string()));
        f("max_cost_usd", self.max_cost_usd.map(n));
        f("max_duration", self.max_duration_ms.map(ms));
        if parts.is_empty() {
            "{}".to_string()
        } else {
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

/// Client buckets: `bucket = {...}` (one, its scope maybe written) or `buckets = [...]`.
#[derive(Clone, Debug)]
pub struct BucketsGen {
    list: bool,
    /// `(scope, rate, burst)`; scope 0 global, 1 tenant, 2 job, 3 unwritten (global).
    entries: Vec<(usize, f64, f64)>,
    /// Each entry's resource (issue 13), empty for [`buckets`]: 0 requests, 1 input_tokens,
    /// 2 output_tokens, 3 tokens, 4 unwritten (tokens).
    resources: Vec<usize>,
}

fn buckets() -> impl Strategy<Value = BucketsGen> {
    (
        any::<bool>(),
        vec((0usize..4, 0u32..=1000, 0u32..=1000), 1..=3),
    )
        .prop_map(|(list, raw)| {
            let mut entries: Vec<(usize, f64, f64)> = Vec::new();
            for (scope, a, b) in raw {
                let same = |s: usize| if s == 3 { 0 } else { s };
                if entries.iter().all(|e| same(e.0) != same(scope)) {
                    entries.push((
                        scope,
                        scale(a, 300.0, 50_000.0),
                        scale(b, 1000.0, 200_000.0),
                    ));
                }
            }
            if !list {
                entries.truncate(1);
            }
            BucketsGen {
                list,
                entries,
                resources: Vec::new(),
            }
        })
}

/// Client buckets by resource (issue 13): up to four, at most one per scope and resource, sized
/// so that every generated call fits each burst (prompts are at most 3000 tokens, `max_tokens`
/// at most 1000), since a bucket on requests, input or output tokens that no call could fit is
/// refused.
fn resource_buckets() -> impl Strategy<Value = BucketsGen> {
    (
        any::<bool>(),
        vec((0usize..4, 0usize..5, 0u32..=1000, 0u32..=1000), 1..=4),
    )
        .prop_map(|(list, raw)| {
            let mut entries: Vec<(usize, f64, f64)> = Vec::new();
            let mut resources: Vec<usize> = Vec::new();
            let same = |s: usize| if s == 3 { 0 } else { s };
            let counts = |r: usize| r.min(3);
            for (scope, resource, a, b) in raw {
                if entries
                    .iter()
                    .zip(&resources)
                    .any(|(e, &r)| same(e.0) == same(scope) && counts(r) == counts(resource))
                {
                    continue;
                }
                let (rate, burst) = match resource {
                    0 => (scale(a, 0.05, 50.0), scale(b, 1.0, 50.0).round()),
                    1 => (scale(a, 100.0, 30_000.0), scale(b, 3000.0, 60_000.0)),
                    2 => (scale(a, 30.0, 10_000.0), scale(b, 1000.0, 20_000.0)),
                    _ => (scale(a, 300.0, 50_000.0), scale(b, 1000.0, 200_000.0)),
                };
                entries.push((scope, rate, burst));
                resources.push(resource);
            }
            if !list {
                entries.truncate(1);
                resources.truncate(1);
            }
            BucketsGen {
                list,
                entries,
                resources,
            }
        })
}

impl BucketsGen {
    fn render(&self) -> String {
        let one = |(i, (scope, rate, burst)): (usize, &(usize, f64, f64))| {
            let scope = match scope {
                0 => "scope = \"global\", ",
                1 => "scope = \"tenant\", ",
                2 => "scope = \"job\", ",
                _ => "",
            };
            let resource = match self.resources.get(i) {
                Some(&r) if r < RESOURCES.len() => format!("resource = \"{}\", ", RESOURCES[r]),
                _ => String::new(),
            };
            format!(
                "{{ {resource}{scope}rate = {}, burst = {} }}",
                n(*rate),
                n(*burst)
            )
        };
        if self.list {
            let all: Vec<String> = self.entries.iter().enumerate().map(one).collect();
            format!("buckets = [{}]", all.join(", "))
        } else {
            format!("bucket = {}", one((0, &self.entries[0])))
        }
    }
}

#[derive(Clone, Debug)]
pub enum ThrottleGen {
    Sre {
        k: Option<f64>,
        window_ms: Option<f64>,
    },
    AwsAdaptive,
}

fn throttle() -> impl Strategy<Value = ThrottleGen> {
    prop_oneof![
        (
            weighted(0.5, (100u32..=300).prop_map(|x| x as f64 / 100.0)),
            weighted(0.5, (1000u32..=120_000).prop_map(f64::from)),
        )
            .prop_map(|(k, window_ms)| ThrottleGen::Sre { k, window_ms }),
        Just(ThrottleGen::AwsAdaptive),
    ]
}

/// One `[[policy]]`: every field optional.
#[derive(Clone, Debug)]
pub struct PolicyGen {
    retry: Option<RetryGen>,
    sdk: Option<SdkGen>,
    buckets: Option<BucketsGen>,
    queue: Option<usize>,
    refund: Option<bool>,
    agent_restarts: Option<u32>,
    timeout_ms: Option<f64>,
    work_limits: Option<WorkGen>,
    call_deadline_ms: Option<f64>,
    job_deadline_ms: Option<f64>,
    budget: Option<BudgetGen>,
    hedge: Option<(f64, Option<u32>)>,
    breaker: Option<BreakerGen>,
    concurrency: Option<ConcurrencyGen>,
    throttle: Option<ThrottleGen>,
}

pub fn policy() -> impl Strategy<Value = PolicyGen> {
    let d = |lo: u32, hi: u32| (lo..=hi).prop_map(f64::from);
    (
        (
            weighted(0.6, retry()),
            weighted(0.35, sdk()),
            weighted(0.3, buckets()),
            weighted(0.25, 0usize..3),
            weighted(0.2, any::<bool>()),
            weighted(0.3, 0u32..=2),
            weighted(0.3, d(300, 20_000)),
        ),
        (
            weighted(0.2, work_limits()),
            weighted(0.2, d(500, 60_000)),
            weighted(0.15, d(1000, 120_000)),
            weighted(0.3, budget()),
            weighted(0.2, (d(100, 5000), weighted(0.6, 2u32..=4))),
            weighted(0.25, breaker()),
            weighted(0.25, concurrency()),
            weighted(0.25, throttle()),
        ),
    )
        .prop_map(
            |(
                (retry, sdk, buckets, queue, refund, agent_restarts, timeout_ms),
                (
                    work_limits,
                    call_deadline_ms,
                    job_deadline_ms,
                    budget,
                    hedge,
                    breaker,
                    concurrency,
                    throttle,
                ),
            )| PolicyGen {
                retry,
                sdk,
                buckets,
                queue,
                refund,
                agent_restarts,
                timeout_ms,
                work_limits,
                call_deadline_ms,
                job_deadline_ms,
                budget,
                hedge,
                breaker,
                concurrency,
                throttle,
            },
        )
}

impl PolicyGen {
    fn render(&self, name: &str, out: &mut String) {
        let _ = writeln!(out, "\n[[policy]]\nname = \"{name}\"");
        let mut f = |key: &str, v: Option<String>| {
            if let Some(v) = v {
                let _ = writeln!(out, "{key} = {v}");
            }
        };
        f("retry", self.retry.as_ref().map(RetryGen::render));
        f("sdk", self.sdk.as_ref().map(SdkGen::render));
        f(
            "queue",
            self.queue
                .map(|q| format!("\"{}\"", ["fifo", "fair_tenant", "fair_job"][q])),
        );
        f("refund_unused_output", self.refund.map(|v| v.to_string()));
        f("agent_restarts", self.agent_restarts.map(|v| v.to_string()));
        f("timeout", self.timeout_ms.map(ms));
        f(
            "work_limits",
            self.work_limits.as_ref().map(WorkGen::render),
        );
        f("call_deadline", self.call_deadline_ms.map(ms));
        f("job_deadline", self.job_deadline_ms.map(ms));
        f("retry_budget", self.budget.as_ref().map(BudgetGen::render));
        f(
            "hedge",
            self.hedge.map(|(delay, max)| {
                format!(
                    "{{ delay = {}{} }}",
                    ms(delay),
                    max.map_or(String::new(), |m| format!(", max_attempts = {m}"))
                )
            }),
        );
        f("breaker", self.breaker.as_ref().map(BreakerGen::render));
        f(
            "concurrency",
            self.concurrency.as_ref().map(ConcurrencyGen::render),
        );
        f(
            "throttle",
            self.throttle.as_ref().map(|t| match t {
                ThrottleGen::AwsAdaptive => "{ kind = \"aws_adaptive\" }".to_string(),
                ThrottleGen::Sre { k, window_ms } => format!(
                    "{{ kind = \"sre\"{}{} }}",
                    k.map_or(String::new(), |k| format!(", k = {}", n(k))),
                    window_ms.map_or(String::new(), |w| format!(", window = {}", ms(w)))
                ),
            }),
        );
        // Written last: `bucket = {...}` or `buckets = [...]` is a plain key too.
        if let Some(b) = &self.buckets {
            let _ = writeln!(out, "{}", b.render());
        }
    }
}

#[derive(Clone, Debug)]
pub struct GuardsGen {
    max_events: u64,
    max_sim_time: &'static str,
    max_live: Option<u64>,
    /// "stop", "fail" or unwritten (fail).
    on_trip: Option<&'static str>,
}

fn guards() -> impl Strategy<Value = GuardsGen> {
    (
        prop_oneof![1 => Just(3_000u64), 3 => Just(20_000u64), 2 => Just(60_000u64)],
        select(vec!["2m", "1h", "6h"]),
        weighted(0.2, select(vec![300u64, 3000])),
        prop_oneof![7 => Just(Some("stop")), 2 => Just(Some("fail")), 1 => Just(None)],
    )
        .prop_map(|(max_events, max_sim_time, max_live, on_trip)| GuardsGen {
            max_events,
            max_sim_time,
            max_live,
            on_trip,
        })
}

/// A whole scenario, before rendering.
#[derive(Clone, Debug)]
pub struct Spec {
    seed: u64,
    replications: u32,
    timeseries: Option<&'static str>,
    guards: GuardsGen,
    provider: ProviderGen,
    templates: Vec<NodeGen>,
    tenants: Vec<(Index, u32)>,
    sources: Vec<SourceGen>,
    policies: Vec<PolicyGen>,
}

pub fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            0u64..1000,
            prop_oneof![3 => Just(1u32), 1 => Just(2u32)],
            weighted(0.3, select(vec!["1s", "5s", "30s"])),
            guards(),
        ),
        provider(),
        vec(node(), 0..=6),
        vec((any::<Index>(), 1u32..=3), 0..=3),
        vec(source(), 1..=3),
        vec(policy(), 1..=4),
    )
        .prop_map(
            |(
                (seed, replications, timeseries, guards),
                provider,
                templates,
                tenants,
                sources,
                policies,
            )| Spec {
                seed,
                replications,
                timeseries,
                guards,
                provider,
                templates,
                tenants,
                sources,
                policies,
            },
        )
}

/// Random valid scenarios, rendered: the generator of the first [`GOLDEN`] cases of the golden
/// digest, kept as it was so that their bytes do not change.
///
/// [`GOLDEN`]: ../generated.rs
pub fn scenario() -> impl Strategy<Value = Case> {
    spec().prop_map(|s| s.render())
}

/// [`scenario`] with, drawn after the whole scenario (a separate stretch of the random stream,
/// so that what [`spec`] draws is unchanged), client buckets by resource (issue 13) replacing
/// each policy's buckets with probability one half: several buckets per scope, on requests,
/// input, output or all tokens.
pub fn scenario_with_resources() -> impl Strategy<Value = Case> {
    (spec(), vec(weighted(0.5, resource_buckets()), 4)).prop_map(|(mut s, extra)| {
        for (p, e) in s.policies.iter_mut().zip(extra) {
            if e.is_some() {
                p.buckets = e;
            }
        }
        s.render()
    })
}

impl Spec {
    /// Normalises and renders the scenario: templates cut to size, job counts capped, names
    /// resolved.
    pub fn render(&self) -> Case {
        let mut tree = Tree::new(self.templates.clone());
        tree.shrink_to_fit();
        let templates = tree.nodes.len();
        let mut out = String::new();
        let _ = writeln!(out, "[scenario]\nname = \"gen\"\nseed = {}", self.seed);
        if self.replications != 1 {
            let _ = writeln!(out, "replications = {}", self.replications);
        }
        if let Some(t) = self.timeseries {
            let _ = writeln!(out, "timeseries_interval = \"{t}\"");
        }
        let g = &self.guards;
        let _ = writeln!(
            out,
            "\n[guards]\nmax_events = {}\nmax_sim_time = \"{}\"",
            g.max_events, g.max_sim_time
        );
        if let Some(l) = g.max_live {
            let _ = writeln!(out, "max_live = {l}");
        }
        if let Some(o) = g.on_trip {
            let _ = writeln!(out, "on_trip = \"{o}\"");
        }
        self.provider.render(&mut out);
        tree.render(&mut out);
        let mut declared = Vec::new();
        for (name, weight) in &self.tenants {
            let name = TENANTS[name.index(TENANTS.len())];
            if !declared.contains(&name) {
                declared.push(name);
                let _ = writeln!(out, "\n[[tenant]]\nname = \"{name}\"\nweight = {weight}");
            }
        }
        let mut files = Vec::new();
        let per_source_calls = MAX_CALLS / self.sources.len() as u64;
        let per_source_jobs = MAX_JOBS / self.sources.len() as u64;
        for (i, s) in self.sources.iter().enumerate() {
            // Half the sources start at t0, which is rarely a leaf: more trees of several levels.
            let root = s
                .template
                .filter(|_| templates > 0)
                .map(|t| t.index(2 * templates).saturating_sub(templates));
            let worst = match (&s.arrival, root) {
                // A trace's rows may name any template.
                (ArrivalGen::Trace(_), _) => (0..templates)
                    .map(|t| tree.worst_of(t))
                    .fold(s.job.worst(), u64::max),
                (_, Some(r)) => tree.worst_of(r),
                (_, None) => s.job.worst(),
            }
            .max(1);
            let mut arrival = s.arrival.clone();
            arrival.cap(per_source_jobs.min(per_source_calls / worst));
            let file = format!("trace-{i}.csv");
            let _ = writeln!(out, "\n[[source]]\nname = \"s{i}\"");
            // A source spread over tenants names them after itself (`s0-1`, ...), never after a
            // declared tenant, so that the names never collide.
            match (s.spread_over, s.tenant) {
                (Some(k), _) => {
                    let _ = writeln!(out, "spread_over = {k}");
                }
                (None, Some(t)) => {
                    let _ = writeln!(out, "tenant = \"{}\"", TENANTS[t.index(TENANTS.len())]);
                }
                (None, None) => {}
            }
            let _ = writeln!(out, "arrival = {}", arrival.render(&file));
            if let ArrivalGen::Trace(rows) = &arrival {
                let mut csv = String::from("time_s,tenant,template,prompt_tokens,output_tokens\n");
                for r in rows {
                    let _ = writeln!(
                        csv,
                        "{},{},{},{},{}",
                        n(r.time_ms as f64 / 1000.0),
                        r.tenant.map_or("", |t| TENANTS[t.index(TENANTS.len())]),
                        r.template
                            .filter(|_| templates > 0)
                            .map_or(String::new(), |t| format!("t{}", t.index(templates))),
                        r.prompt.map_or(String::new(), |p| p.to_string()),
                        r.output.map_or(String::new(), |o| o.to_string()),
                    );
                }
                files.push((file, csv));
            }
            match root {
                Some(r) => {
                    let _ = writeln!(out, "template = \"t{r}\"");
                }
                None => {
                    let j = &s.job;
                    out.push_str("[source.job]\n");
                    if let Some(a) = &j.agents {
                        let _ = writeln!(out, "agents = {}", a.num());
                    }
                    if let Some(c) = j.calls_per_agent {
                        let _ = writeln!(out, "calls_per_agent = {c}");
                    }
                    j.call.render(&mut out);
                    if let Some(t) = &j.think {
                        let _ = writeln!(out, "think_time = {}", t.dur());
                    }
                }
            }
        }
        for (i, p) in self.policies.iter().enumerate() {
            p.render(&format!("p{i}"), &mut out);
        }
        Case { toml: out, files }
    }
}

/// A policy's `route` over a scenario's providers, drawn apart from [`spec`] so that the cases
/// of the golden digest keep their bytes.
#[derive(Clone, Debug)]
pub struct RouteGen {
    /// Sort keys of the providers: their order in targets, then fallbacks.
    order: [u8; 4],
    targets: Index,
    fallbacks: Index,
    strategy: Option<usize>,
    weights: Option<[u32; 4]>,
    fallback_on: Option<[bool; 3]>,
    fallback_after: Option<u32>,
    cooldown: Option<(f64, Option<u32>)>,
}

fn route() -> impl Strategy<Value = RouteGen> {
    (
        any::<[u8; 4]>(),
        any::<Index>(),
        any::<Index>(),
        weighted(0.8, 0usize..5),
        weighted(0.3, [1u32..=5, 1u32..=5, 1u32..=5, 1u32..=5]),
        retry_on(),
        weighted(0.4, 1u32..=4),
        weighted(
            0.5,
            (
                (100u32..=20_000).prop_map(f64::from),
                weighted(0.6, 0u32..=3),
            ),
        ),
    )
        .prop_map(
            |(
                order,
                targets,
                fallbacks,
                strategy,
                weights,
                fallback_on,
                fallback_after,
                cooldown,
            )| {
                RouteGen {
                    order,
                    targets,
                    fallbacks,
                    strategy,
                    weights,
                    fallback_on,
                    fallback_after,
                    cooldown,
                }
            },
        )
}

impl RouteGen {
    /// `route = { ... }` over providers `m0` .. `m{n-1}`.
    fn render(&self, n: usize) -> String {
        let mut ids: Vec<usize> = (0..n).collect();
        ids.sort_by_key(|&i| (self.order[i], i));
        let t = 1 + self.targets.index(n);
        let f = self.fallbacks.index(n - t + 1);
        let names = |ids: &[usize]| {
            ids.iter()
                .map(|i| format!("\"m{i}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = format!("route = {{ targets = [{}]", names(&ids[..t]));
        if f > 0 {
            let _ = write!(out, ", fallbacks = [{}]", names(&ids[t..t + f]));
        }
        if let Some(s) = self.strategy {
            let strategies = [
                "simple-shuffle",
                "round-robin",
                "least-busy",
                "latency-based",
                "usage-based",
            ];
            let _ = write!(out, ", strategy = \"{}\"", strategies[s]);
        }
        if let Some(w) = &self.weights {
            let w: Vec<String> = w[..t].iter().map(u32::to_string).collect();
            let _ = write!(out, ", weights = [{}]", w.join(", "));
        }
        if self.fallback_on.is_some() {
            let _ = write!(
                out,
                ", fallback_on{}",
                render_retry_on(&self.fallback_on).trim_start_matches(", retry_on")
            );
        }
        if let Some(a) = self.fallback_after {
            let _ = write!(out, ", fallback_after = {a}");
        }
        if let Some((cooldown_ms, allowed)) = self.cooldown {
            let _ = write!(out, ", cooldown = {}", ms(cooldown_ms));
            if let Some(a) = allowed {
                let _ = write!(out, ", allowed_fails = {a}");
            }
        }
        out.push_str(" }");
        out
    }
}

/// Random valid scenarios with 2 to 4 providers (`[[provider]]` entries `m0` ..) and a route in
/// most policies: [`spec`] drawn first, then the other providers and the routes, so that nothing
/// [`scenario`] draws changes.
pub fn routed_scenario() -> impl Strategy<Value = Case> {
    (
        spec(),
        vec(provider(), 1..=3),
        vec(weighted(0.85, route()), 4),
    )
        .prop_map(|(s, extra, routes)| {
            let mut case = s.render();
            let n = 1 + extra.len();
            let mut providers = String::new();
            for (i, p) in std::iter::once(&s.provider).chain(&extra).enumerate() {
                let mut one = String::new();
                p.render(&mut one);
                providers.push_str(&one.replacen(
                    "\n[provider]\n",
                    &format!("\n[[provider]]\nname = \"m{i}\"\n"),
                    1,
                ));
            }
            // The spec's provider block runs from `[provider]` to the first table after it that
            // is none of its own.
            let toml = &case.toml;
            let start = toml.find("\n[provider]\n").expect("a provider");
            let end = toml[start + 1..]
                .match_indices("\n[")
                .map(|(k, _)| start + 1 + k)
                .find(|&k| !toml[k..].starts_with("\n[[provider."))
                .unwrap_or(toml.len());
            let mut out = format!("{}{}{}", &toml[..start], providers, &toml[end..]);
            for (i, r) in routes.iter().enumerate() {
                if let Some(r) = r {
                    let name = format!("\n[[policy]]\nname = \"p{i}\"\n");
                    out = out.replacen(&name, &format!("{name}{}\n", r.render(n)), 1);
                }
            }
            case.toml = out;
            case
        })
}
