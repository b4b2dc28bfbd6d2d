//! The validated description of a system: what the scenario file becomes once checked.
//!
//! Everything here is in base units: seconds as `f64` where a formula needs them, nanoseconds as
//! `u64` on the clock, tokens as `f64` counts, prices in USD per million tokens.
//!
//! What the runtime could not run with is refused once, where a spec is built: the specs of
//! limits, hedges, capacity steps, throttles, breakers and concurrency limits come from
//! constructors that return a [`SpecError`], so that the runtime types take them without checking
//! and a scenario file's bad value is an error at its line rather than a panic.

use super::admission::{Discipline, ScopedBucket};
use super::dist::Dist;
use super::retry::RetryLayer;
use crate::engine::Guards;
use crate::engine::time::nanos_to_secs;
use std::fmt;

/// Most retry layers a policy may stack: a call keeps one attempt count per layer.
pub const MAX_LAYERS: usize = 4;

/// Most hedges one call may have in flight: a call keeps one slot per hedge.
pub const MAX_HEDGES: usize = 3;

/// Most children one fan-out or spawn starts, and most agents a `[source.job]` runs: what one
/// event may create, so that the work inside an event stays bounded whatever the scenario says.
/// Normal, lognormal and exponential draws are clamped to it.
pub const MAX_WIDTH: u32 = 10_000;

/// Most calls one agent makes (`calls`, `calls_per_agent`).
pub const MAX_AGENT_CALLS: u32 = 1_000_000;

/// Most jobs one source may emit (`count`).
pub const MAX_JOBS: u64 = 1_000_000_000;

/// Most tenants one source spreads its jobs over (`spread_over`): each is a name held in memory.
pub const MAX_SPREAD: u32 = 100_000;

/// Most tenants a trace may name, in all: each keeps its own metrics for the run.
pub const MAX_TRACE_TENANTS: usize = 1_000_000;

/// Most replications per policy (`replications`, `--replications`): results are held per
/// replication, so the count is checked before anything is allocated for it.
pub const MAX_REPLICATIONS: u32 = 10_000;

/// Highest peak arrival rate of a diurnal source, jobs per second: thinning draws its candidates
/// at the peak rate, and above this their gaps round to 0 ns.
pub const MAX_PEAK_RATE_PER_S: f64 = 1e6;

/// Shortest time series interval: one row per interval is kept.
pub const MIN_TIMESERIES_INTERVAL_NS: u64 = 1_000_000;

/// The range of a capacity factor (`limits`, `decode`): outside it a scaled limit or decode rate
/// rounds to nothing (or to a wait past the end of time).
pub const CAPACITY_FACTOR_RANGE: (f64, f64) = (1e-6, 1e6);

/// A spec parameter the model refuses: which one, what it must be, and what it was.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecError {
    /// The parameter, named as the scenario format names it (`window`, not `window_ns`), so that
    /// the scenario layer can point at it; `None` when the spec as a whole is refused.
    pub field: Option<&'static str>,
    /// What a valid value is: `at least 1`, `a ratio in (0, 1]`.
    pub expected: String,
    /// What was given, durations in seconds.
    pub found: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, found {}", self.expected, self.found)
    }
}

impl std::error::Error for SpecError {}

/// Refuses `field`, which should be `expected` and is `found`.
pub(super) fn refuse<T>(
    field: &'static str,
    expected: impl Into<String>,
    found: impl fmt::Display,
) -> Result<T, SpecError> {
    Err(SpecError {
        field: Some(field),
        expected: expected.into(),
        found: found.to_string(),
    })
}

/// `v` if it is a finite number above zero; otherwise refuses `field`.
pub(super) fn positive(field: &'static str, v: f64) -> Result<f64, SpecError> {
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        refuse(field, "a number > 0", v)
    }
}

/// `ns` if it is longer than zero; otherwise refuses `field`, which should be `expected`.
pub(super) fn longer_than_zero(
    field: &'static str,
    ns: u64,
    expected: &'static str,
) -> Result<u64, SpecError> {
    if ns > 0 {
        Ok(ns)
    } else {
        refuse(field, expected, format_args!("{}s", nanos_to_secs(ns)))
    }
}

/// Longest window counted in one-second buckets (a breaker's failure ratio, the SRE
/// throttle's): one bucket is allocated per second of it.
pub const MAX_COUNTING_WINDOW_NS: u64 = 24 * 3600 * 1_000_000_000;

/// `ns` if it is a window longer than zero and at most [`MAX_COUNTING_WINDOW_NS`]; otherwise
/// refuses `field` (a 10^6-hour window allocated gigabytes of buckets).
pub(super) fn counting_window(field: &'static str, ns: u64) -> Result<u64, SpecError> {
    if ns > 0 && ns <= MAX_COUNTING_WINDOW_NS {
        Ok(ns)
    } else {
        refuse(
            field,
            "a window longer than zero and at most 24h",
            format_args!("{}s", nanos_to_secs(ns)),
        )
    }
}

/// A whole scenario: its providers, a workload, and the policies to compare on it.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short name; also the output directory's name.
    pub name: String,
    /// What the scenario shows, for reports.
    pub description: String,
    /// Master seed; every random stream derives from it.
    pub seed: u64,
    /// Independent replications per policy (each with its own derived seed).
    pub replications: u32,
    /// Limits that stop a runaway run.
    pub guards: Guards,
    /// Sampling interval of the per-policy time series, if one is wanted.
    pub timeseries_interval_ns: Option<u64>,
    /// The services calls go to (at least one). A policy without a route sends every call to
    /// the first.
    pub providers: Vec<Provider>,
    /// Where jobs come from.
    pub sources: Vec<Source>,
    /// Tenant names; a source's `tenant` indexes this list.
    pub tenants: Vec<String>,
    /// Tenant weights for fair queueing, by tenant index.
    pub tenant_weights: Vec<u32>,
    /// Every job template's nodes; sources and nodes refer to them by index.
    pub nodes: Vec<super::workload::Node>,
    /// Client policies, compared on identical draws.
    pub policies: Vec<Policy>,
    /// What reading the scenario's inputs left out (spans of a trace skipped, and why).
    pub warnings: Vec<String>,
}

/// What a rate limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// One unit per request.
    Requests,
    /// Prompt tokens.
    InputTokens,
    /// Output tokens, estimated as `max_tokens` at admission.
    OutputTokens,
    /// The estimate `prompt_tokens + max_tokens`, charged at admission.
    Tokens,
}

impl Resource {
    /// Units an attempt is charged at admission.
    #[inline]
    pub fn estimate(self, prompt: u32, max_tokens: u32) -> f64 {
        match self {
            Resource::Requests => 1.0,
            Resource::InputTokens => prompt as f64,
            Resource::OutputTokens => max_tokens as f64,
            Resource::Tokens => prompt as f64 + max_tokens as f64,
        }
    }

    /// Whether the estimate includes `max_tokens`, which completion may reconcile.
    pub fn counts_output(self) -> bool {
        matches!(self, Resource::OutputTokens | Resource::Tokens)
    }
}

/// How a limit counts over time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimitKind {
    /// Continuous refill at `rate_per_s` up to `burst`.
    TokenBucket { rate_per_s: f64, burst: f64 },
    /// At most `limit` per aligned window of `window_ns`.
    FixedWindow { limit: f64, window_ns: u64 },
    /// At most `limit` in any window of `window_ns` ending now.
    SlidingWindow { limit: f64, window_ns: u64 },
}

/// One provider rate limit, built by [`Limit::new`]; only the model reads its fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    /// What it counts.
    pub(super) resource: Resource,
    /// How it counts.
    pub(super) kind: LimitKind,
}

impl Limit {
    /// A limit on `resource`, refused unless it can pass something: a finite rate, burst or
    /// limit above zero, a window longer than zero.
    pub fn new(resource: Resource, kind: LimitKind) -> Result<Limit, SpecError> {
        match kind {
            LimitKind::TokenBucket { rate_per_s, burst } => {
                positive("rate", rate_per_s)?;
                positive("burst", burst)?;
            }
            LimitKind::FixedWindow { limit, window_ns }
            | LimitKind::SlidingWindow { limit, window_ns } => {
                positive("limit", limit)?;
                longer_than_zero("window", window_ns, "a window longer than zero")?;
            }
        }
        Ok(Limit { resource, kind })
    }

    /// What it counts.
    pub fn resource(&self) -> Resource {
        self.resource
    }

    /// How it counts.
    pub fn kind(&self) -> LimitKind {
        self.kind
    }
}

/// A window of time in which the provider answers every attempt with a server error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outage {
    /// First instant of the outage.
    pub start_ns: u64,
    /// First instant after it.
    pub end_ns: u64,
    /// HTTP status answered (503, 529, 500, ...).
    pub status: u16,
}

/// From `at_ns` on, limits run at `limits` and decoding at `decode` times their configured values.
/// Built by [`CapacityStep::new`]; only the model reads its fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapacityStep {
    /// When the step takes effect.
    pub(super) at_ns: u64,
    /// Scale of every rate limit.
    pub(super) limits: f64,
    /// Scale of the decode rate.
    pub(super) decode: f64,
}

impl CapacityStep {
    /// A step to scales `limits` and `decode`, refused unless both are finite and above zero (a
    /// limit scaled to zero would never pass anything again).
    pub fn new(at_ns: u64, limits: f64, decode: f64) -> Result<CapacityStep, SpecError> {
        Ok(CapacityStep {
            at_ns,
            limits: factor("limits", limits)?,
            decode: factor("decode", decode)?,
        })
    }

    /// When it takes effect.
    pub fn at_ns(&self) -> u64 {
        self.at_ns
    }

    /// The scale of every rate limit from then on.
    pub fn limits(&self) -> f64 {
        self.limits
    }
}

/// `v` if it lies in [`CAPACITY_FACTOR_RANGE`] (with room for the float rounding of a ramp's
/// steps between two factors in range); otherwise refuses `field`.
fn factor(field: &'static str, v: f64) -> Result<f64, SpecError> {
    let (low, high) = CAPACITY_FACTOR_RANGE;
    if v >= low * (1.0 - 1e-9) && v <= high * (1.0 + 1e-9) {
        Ok(v)
    } else {
        refuse(field, format!("a factor in [{low:e}, {high:e}]"), v)
    }
}

/// How serving time responds to load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Serving {
    /// Each attempt decodes at its own rate; `concurrency` slots, the rest queue FIFO.
    Fifo,
    /// Processor sharing: with `n` attempts decoding at once, each decodes at
    /// `rate * min(1, above / n)`.
    Shared { above: u32 },
}

/// The rate-limited service.
#[derive(Clone, Debug)]
pub struct Provider {
    /// Name, unique in the scenario (a single `[provider]` table takes the scenario's name).
    pub name: String,
    /// Limits an attempt must all pass.
    pub limits: Vec<Limit>,
    /// Whether a refused attempt still uses up the capacity it asked for (OpenAI: "unsuccessful
    /// requests contribute to your per-minute limit").
    pub count_rejected: bool,
    /// Attempts served at once; the rest wait in FIFO order. `None`: unlimited.
    pub concurrency: Option<u32>,
    /// Attempts in flight beyond which the provider refuses with 429. `None`: no such limit.
    pub max_in_flight: Option<u32>,
    /// Whether completion gives back the unused part of `max_tokens` to output-counting limits.
    pub refund_unused_output: bool,
    /// Probability that an admitted attempt fails with a 500 after its time to first token.
    pub error_rate: f64,
    /// Windows answered with a server error.
    pub outages: Vec<Outage>,
    /// Capacity over time, in time order (ramps already cut into steps).
    pub capacity: Vec<CapacityStep>,
    /// How serving slows with load.
    pub serving: Serving,
    /// Time to first token, seconds.
    pub ttft_s: Dist,
    /// Decode speed, output tokens per second.
    pub decode_tokens_per_s: Dist,
    /// USD per million input (prompt) tokens.
    pub price_input_per_mtok: f64,
    /// USD per million output tokens.
    pub price_output_per_mtok: f64,
    /// Whether prompt-cache reads count toward `input_tokens` and `tokens` limits (Anthropic's
    /// current models: no; OpenAI, and Anthropic models such as Haiku 3.5: yes).
    pub cache_reads_count_toward_input_limit: bool,
    /// USD per million prompt tokens read from the cache.
    pub price_cache_read_per_mtok: f64,
    /// USD per million prompt tokens written to the cache (a miss on a cached prefix).
    pub price_cache_write_per_mtok: f64,
}

/// How jobs arrive from one source.
#[derive(Clone, Debug)]
pub enum Arrival {
    /// `count` jobs at once, at `at_ns`.
    Burst { count: u64, at_ns: u64 },
    /// A Poisson process of `rate_per_s` jobs per second, stopping after `count` jobs or at
    /// `until_ns`, whichever comes first.
    Poisson {
        rate_per_s: f64,
        count: Option<u64>,
        until_ns: Option<u64>,
    },
    /// One job every `every_ns` from `at_ns`, stopping after `count` jobs or at `until_ns`.
    Interval {
        every_ns: u64,
        at_ns: u64,
        count: Option<u64>,
        until_ns: Option<u64>,
    },
    /// A Poisson process whose rate follows the day: `rate(t) = mean_rate_per_s * (1 + amplitude
    /// * sin(2 pi (t - peak_ns) / period_ns + pi/2))` (highest at `peak_ns`), drawn by thinning
    /// (Lewis and Shedler, 1979); stops after `count` jobs or at `until_ns`.
    Diurnal {
        mean_rate_per_s: f64,
        amplitude: f64,
        period_ns: u64,
        peak_ns: u64,
        count: Option<u64>,
        until_ns: Option<u64>,
    },
    /// Jobs at recorded instants, each with its own tenant, template and token sizes.
    Trace(Vec<TraceRow>),
}

/// One recorded job of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRow {
    /// When it arrived.
    pub at_ns: u64,
    /// Its tenant's index.
    pub tenant: u32,
    /// Its template's root node.
    pub root: usize,
    /// Prompt tokens of each of its calls, overriding the template's.
    pub prompt_tokens: Option<u32>,
    /// Output tokens of each of its calls, overriding the template's.
    pub output_tokens: Option<u32>,
}

/// A stream of jobs of one shape.
#[derive(Clone, Debug)]
pub struct Source {
    /// Name, for reports.
    pub name: String,
    /// Index of its tenant in [`Scenario::tenants`]: the first of `spread` consecutive tenants
    /// its jobs go to in turn (many users behind one source).
    pub tenant: u32,
    /// How many tenants its jobs are spread over (1: one tenant).
    pub spread: u32,
    /// Arrival process.
    pub arrival: Arrival,
    /// Index of the root node of every job it emits, in [`Scenario::nodes`].
    pub root: usize,
}

/// How a client behaves: its retry layers, its pacing, its orchestrator.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Name, unique in the scenario.
    pub name: String,
    /// Retry layers, innermost (closest to the wire) first.
    pub layers: Vec<RetryLayer>,
    /// Client buckets (at most one per scope and resource), each charged its resource's estimate
    /// (`prompt + max_tokens` for the default, tokens) per attempt that passes through
    /// admission; calls wait for them instead of failing.
    pub buckets: Vec<ScopedBucket>,
    /// The order in which waiting calls are admitted.
    pub discipline: Discipline,
    /// Whether a completed call gives the unused part of `max_tokens` back to the client buckets.
    pub refund_unused_output: bool,
    /// How many times the orchestrator restarts an agent whose call gave up.
    pub agent_restarts: u32,
    /// Per-attempt timeout: the client abandons an attempt not finished by then.
    pub timeout_ns: Option<u64>,
    /// A call makes no retry that would start later than this after its first request.
    pub call_deadline_ns: Option<u64>,
    /// A job's calls make no retry that would start later than this after the job arrived.
    pub job_deadline_ns: Option<u64>,
    /// A limit on retries shared by all the client's calls.
    pub budget: Option<super::budget::BudgetSpec>,
    /// Hedged requests: extra copies of a slow attempt.
    pub hedge: Option<HedgeSpec>,
    /// Caps on each job's work.
    pub work_limits: super::workload::WorkLimits,
    /// A circuit breaker in front of the provider.
    pub breaker: Option<super::breaker::BreakerSpec>,
    /// A limit on the client's attempts in flight.
    pub concurrency: Option<super::concurrency::ConcurrencySpec>,
    /// A client-side throttle on sending.
    pub throttle: Option<ThrottleSpec>,
    /// Routing over several providers; `None` sends every call to the first.
    pub route: Option<super::router::RouteSpec>,
    /// Whether the client marks the calls' cached prefixes for the provider's prompt cache
    /// (Anthropic's `cache_control`): without it, a template's `cached_prompt_tokens` are
    /// ordinary input.
    pub prompt_cache: bool,
}

/// A client-side throttle that acts before an attempt is sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThrottleSpec {
    /// The Google SRE book's adaptive throttling: reject locally with probability
    /// `max(0, (requests - k * accepts) / (requests + 1))` over the last `window_ns`. Build it
    /// with [`ThrottleSpec::sre`], which checks it (the variant stays open for the model to match).
    Sre { k: f64, window_ns: u64 },
    /// The AWS SDKs' adaptive retry mode: a client token bucket whose rate follows CUBIC on
    /// throttling responses.
    AwsAdaptive,
}

impl ThrottleSpec {
    /// SRE throttling with multiplier `k` over `window_ns`, refused unless `k` is a finite number
    /// above zero and the window longer than zero.
    pub fn sre(k: f64, window_ns: u64) -> Result<ThrottleSpec, SpecError> {
        Ok(ThrottleSpec::Sre {
            k: positive("k", k)?,
            window_ns: counting_window("window", window_ns)?,
        })
    }
}

/// gRPC's hedging policy: while an attempt is unanswered after `delay_ns`, send a copy, up to
/// `max_extra` copies `delay_ns` apart; the first answer wins and the others are cut off (billed
/// for what they used, as waste). Built by [`HedgeSpec::new`]; only the model reads its fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HedgeSpec {
    /// `hedging_delay`.
    pub(super) delay_ns: u64,
    /// `max_attempts - 1`.
    pub(super) max_extra: u32,
}

impl HedgeSpec {
    /// gRPC's `hedging_delay` and `max_attempts` (the first attempt and its hedges), refused
    /// unless the delay is longer than zero and there are 1 to [`MAX_HEDGES`] hedges.
    pub fn new(delay_ns: u64, max_attempts: u32) -> Result<HedgeSpec, SpecError> {
        if !(2..=MAX_HEDGES as u32 + 1).contains(&max_attempts) {
            return refuse(
                "max_attempts",
                format!("2 to {} (the first attempt and its hedges)", MAX_HEDGES + 1),
                max_attempts,
            );
        }
        Ok(HedgeSpec {
            delay_ns: longer_than_zero("delay", delay_ns, "a delay longer than zero")?,
            max_extra: max_attempts - 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::NANOS_PER_SEC as S;

    fn bucket(rate_per_s: f64, burst: f64) -> Result<Limit, SpecError> {
        Limit::new(
            Resource::Tokens,
            LimitKind::TokenBucket { rate_per_s, burst },
        )
    }

    #[test]
    fn a_refusal_reads_expected_then_found() {
        let e = bucket(0.0, 1.0).unwrap_err();
        assert_eq!(e.to_string(), "expected a number > 0, found 0");
    }

    #[test]
    fn a_token_bucket_without_a_positive_finite_rate_is_refused() {
        for (rate, shown) in [
            (0.0, "0"),
            (-3.0, "-3"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(
                bucket(rate, 10.0),
                refuse("rate", "a number > 0", shown),
                "{rate}"
            );
        }
    }

    #[test]
    fn a_token_bucket_without_a_positive_finite_burst_is_refused() {
        for (burst, shown) in [(0.0, "0"), (-1.0, "-1"), (f64::NAN, "NaN")] {
            assert_eq!(
                bucket(10.0, burst),
                refuse("burst", "a number > 0", shown),
                "{burst}"
            );
        }
        assert!(bucket(1e-9, 1e-9).is_ok());
    }

    #[test]
    fn a_window_limit_of_zero_is_refused() {
        for kind in [
            LimitKind::FixedWindow {
                limit: 0.0,
                window_ns: S,
            },
            LimitKind::SlidingWindow {
                limit: 0.0,
                window_ns: S,
            },
        ] {
            assert_eq!(
                Limit::new(Resource::Requests, kind),
                refuse("limit", "a number > 0", "0"),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_zero_length_window_is_refused() {
        for kind in [
            LimitKind::FixedWindow {
                limit: 10.0,
                window_ns: 0,
            },
            LimitKind::SlidingWindow {
                limit: 10.0,
                window_ns: 0,
            },
        ] {
            assert_eq!(
                Limit::new(Resource::Requests, kind),
                refuse("window", "a window longer than zero", "0s"),
                "{kind:?}"
            );
        }
        let shortest = LimitKind::SlidingWindow {
            limit: 10.0,
            window_ns: 1,
        };
        assert!(Limit::new(Resource::Requests, shortest).is_ok());
    }

    #[test]
    fn a_capacity_step_to_a_zero_negative_or_infinite_limit_scale_is_refused() {
        // 1e-17 scales a limit to nothing (it panicked in the limiter); 1e7 past any use.
        for (limits, shown) in [
            (0.0, "0"),
            (-0.5, "-0.5"),
            (f64::INFINITY, "inf"),
            (1e-17, "0.00000000000000001"),
            (1e7, "10000000"),
        ] {
            assert_eq!(
                CapacityStep::new(S, limits, 1.0),
                refuse("limits", "a factor in [1e-6, 1e6]", shown),
                "{limits}"
            );
        }
    }

    #[test]
    fn a_capacity_step_to_a_zero_negative_or_nan_decode_scale_is_refused() {
        for (decode, shown) in [
            (0.0, "0"),
            (-2.0, "-2"),
            (f64::NAN, "NaN"),
            (1e-17, "0.00000000000000001"),
        ] {
            assert_eq!(
                CapacityStep::new(S, 1.0, decode),
                refuse("decode", "a factor in [1e-6, 1e6]", shown),
                "{decode}"
            );
        }
        assert!(CapacityStep::new(0, 0.01, 100.0).is_ok());
        assert!(CapacityStep::new(0, 1e-6, 1e6).is_ok());
    }

    #[test]
    fn an_sre_throttle_without_a_positive_finite_k_is_refused() {
        for (k, shown) in [(0.0, "0"), (-1.0, "-1"), (f64::INFINITY, "inf")] {
            assert_eq!(
                ThrottleSpec::sre(k, 120 * S),
                refuse("k", "a number > 0", shown),
                "{k}"
            );
        }
        assert_eq!(
            ThrottleSpec::sre(2.0, 120 * S),
            Ok(ThrottleSpec::Sre {
                k: 2.0,
                window_ns: 120 * S
            })
        );
    }

    #[test]
    fn an_sre_throttle_over_a_zero_or_day_long_window_is_refused() {
        let expected = "a window longer than zero and at most 24h";
        assert_eq!(ThrottleSpec::sre(2.0, 0), refuse("window", expected, "0s"));
        // One bucket per second: a window of 10^6 hours allocated gigabytes.
        assert_eq!(
            ThrottleSpec::sre(2.0, MAX_COUNTING_WINDOW_NS + S),
            refuse("window", expected, "86401s")
        );
        assert!(ThrottleSpec::sre(2.0, MAX_COUNTING_WINDOW_NS).is_ok());
    }

    #[test]
    fn hedging_with_no_hedge_or_more_than_max_hedges_is_refused() {
        // MAX_HEDGES = 3: max_attempts 2 to 4.
        let expected = "2 to 4 (the first attempt and its hedges)";
        for (attempts, shown) in [(0, "0"), (1, "1"), (5, "5")] {
            assert_eq!(
                HedgeSpec::new(S, attempts),
                refuse("max_attempts", expected, shown)
            );
        }
        for attempts in 2..=4 {
            let h = HedgeSpec::new(S, attempts).unwrap();
            assert_eq!((h.delay_ns, h.max_extra), (S, attempts - 1));
        }
    }

    #[test]
    fn hedging_after_no_delay_is_refused() {
        assert_eq!(
            HedgeSpec::new(0, 2),
            refuse("delay", "a delay longer than zero", "0s")
        );
    }
}
