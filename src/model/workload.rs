//! Job templates: the shape of the work one job does, as a tree of nodes.
//!
//! Task: describe agent workloads as users draw them: a planner call, then eleven parallel tool
//! calls, four of which fan out into sub-agents that each run three calls; or an agent that, with
//! some probability, spawns more agents like itself. A template is a set of named nodes that refer
//! to each other by index, so a node may refer to itself (recursion), bounded at run time by its
//! `max_depth`, the policy's work limits, and the simulator's guards.

use super::dist::Dist;

/// The sizes of one LLM call.
#[derive(Clone, Debug)]
pub struct CallSpec {
    /// Prompt (input) tokens.
    pub prompt_tokens: Dist,
    /// The `max_tokens` the call asks for; limits are charged `prompt + max_tokens` at admission.
    pub max_tokens: u32,
    /// Output tokens actually generated (capped at `max_tokens`).
    pub output_tokens: Dist,
    /// A prompt prefix the provider may have cached: `None` when the call declares none.
    pub cache: Option<PromptCache>,
}

/// A call's cached prompt prefix.
#[derive(Clone, Debug)]
pub struct PromptCache {
    /// Tokens of the prompt that form the prefix (each draw is clamped to the call's prompt).
    pub tokens: Dist,
    /// Probability that the prefix is a cache hit on a given attempt; a miss writes it.
    pub hit_rate: f64,
}

/// One node of a job's tree. Children are indices into [`super::Scenario::nodes`].
#[derive(Clone, Debug)]
pub enum Node {
    /// One LLM call.
    Call(CallSpec),
    /// An agent: `calls` LLM calls one after another, `think_time_s` apart. When one of its calls
    /// gives up, the agent fails, and the orchestrator may restart it from its first call.
    Agent {
        calls: Dist,
        think_time_s: Dist,
        call: CallSpec,
    },
    /// Children one after another; the first failure fails the sequence.
    Seq { steps: Vec<usize> },
    /// Different children at once; it fails if any fails.
    Parallel { branches: Vec<usize> },
    /// `width` copies of `child` in parallel; it fails if any copy fails.
    Fanout { width: Dist, child: usize },
    /// With `probability`, `width` copies of `child` in parallel one level deeper, while the depth
    /// is below `max_depth`; otherwise nothing. A node that spawns itself recurses.
    Spawn {
        probability: f64,
        width: Dist,
        child: usize,
        max_depth: u32,
    },
    /// A step that only takes time: `secs` seconds (a tool run, or the time between two steps
    /// of a recorded trace), then it ends without failing.
    Wait { secs: Dist },
}

/// Caps a client puts on each job's work: the runaway-loop fix. A job that reaches one stops
/// starting work (calls and sub-agents in flight finish) and ends as `budget_exhausted`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WorkLimits {
    /// Deepest spawn level.
    pub max_depth: Option<u32>,
    /// Widest fan-out or spawn (wider ones are cut to this).
    pub max_fanout: Option<u32>,
    /// Most LLM calls started.
    pub max_calls: Option<u64>,
    /// Most tokens billed.
    pub max_tokens: Option<u64>,
    /// Most spend, USD.
    pub max_cost_usd: Option<f64>,
    /// Longest time from arrival after which no new work starts.
    pub max_duration_ns: Option<u64>,
}

impl WorkLimits {
    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == WorkLimits::default()
    }
}
