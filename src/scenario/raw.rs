//! The scenario file as written: serde structs that reject unknown fields, turned into the
//! validated [`crate::model::Scenario`] by [`RawScenario::validate`].

use super::units::{PositiveQuantity, PositiveRate, Quantity, Rate, TokenCount};
use super::values::{NonNegative, Of, Positive, Secs, check_count, quoted};
use crate::engine::time::{round_to_u32, secs_to_nanos};
use crate::engine::{Guards, SimTime};
use crate::model::admission::{Discipline, Scope, ScopedBucket};
use crate::model::breaker::{BreakerSpec, FailureRatio};
use crate::model::budget::BudgetSpec;
use crate::model::concurrency::{Aimd, ConcurrencySpec, Gradient2};
use crate::model::config::{
    CapacityStep, HedgeSpec, LimitKind, MAX_AGENT_CALLS, MAX_JOBS, MAX_LAYERS, MAX_PEAK_RATE_PER_S,
    MAX_REPLICATIONS, MAX_SPREAD, MAX_WIDTH, MIN_TIMESERIES_INTERVAL_NS, Outage, Serving,
    SpecError, ThrottleSpec, TraceRow,
};
use crate::model::dist::Dist;
use crate::model::retry::{Backoff, Jitter, RetryLayer, RetryOn};
use crate::model::router::{Cooldown, MAX_PROVIDERS, RouteSpec, Strategy};
use crate::model::throttle::SreThrottle;
use crate::model::workload::{CallSpec, Node, PromptCache, WorkLimits};
use crate::model::{self, Arrival, Limit, Policy, Provider, Resource, Source};
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

/// A check that failed after parsing, with the byte range it concerns and its field.
pub struct Invalid {
    pub span: Option<Range<usize>>,
    pub field: String,
    pub message: String,
}

pub(super) fn invalid<T>(
    span: Option<Range<usize>>,
    field: impl Into<String>,
    message: impl Into<String>,
) -> Result<T, Invalid> {
    Err(Invalid {
        span,
        field: field.into(),
        message: message.into(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    scenario: RawMeta,
    #[serde(default)]
    guards: RawGuards,
    provider: RawProviders,
    source: Vec<RawSource>,
    #[serde(default)]
    tenant: Vec<RawTenant>,
    #[serde(default)]
    templates: std::collections::BTreeMap<String, Spanned<super::templates::RawNode>>,
    policy: Vec<RawPolicy>,
    /// `[[expect]]` entries for `stampede check`: not the model's, so `super::parse_all` takes
    /// them out and checks them against the validated scenario.
    #[serde(default)]
    pub(super) expect: Vec<Spanned<super::expect::RawExpect>>,
    /// A sweep's grid (`stampede sweep`); `run` ignores it. Checked in `super::parse_all`.
    #[serde(default)]
    pub(super) sweep: Option<super::overrides::RawSweep>,
    /// A tune's search (`stampede tune`); `run` ignores it. Checked in `super::parse_all`.
    #[serde(default)]
    pub(super) tune: Option<super::tune::RawTune>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: u64,
    #[serde(default = "one")]
    replications: Spanned<u32>,
    timeseries_interval: Option<Spanned<Secs>>,
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGuards {
    max_events: Option<u64>,
    max_sim_time: Option<Secs>,
    max_live: Option<u64>,
    on_trip: Option<OnTrip>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum OnTrip {
    Fail,
    Stop,
}

/// `[provider]` (one provider, named after the scenario) or `[[provider]]` (several, each with
/// a `name`).
enum RawProviders {
    One(Box<RawProvider>),
    Many(Vec<Spanned<RawProvider>>),
}

impl<'de> Deserialize<'de> for RawProviders {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = RawProviders;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a [provider] table or [[provider]] entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawProviders, A::Error> {
                RawProvider::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|p| RawProviders::One(Box::new(p)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<RawProviders, A::Error> {
                Vec::<Spanned<RawProvider>>::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(seq),
                )
                .map(RawProviders::Many)
            }
        }
        d.deserialize_any(Either)
    }
}

impl RawProviders {
    /// The providers, checked: one table takes the scenario's name `scenario`; entries of an
    /// array each need a name of their own.
    fn validate(self, scenario: &str) -> Result<Vec<Provider>, Invalid> {
        match self {
            RawProviders::One(mut p) => {
                let name = match p.name.take() {
                    Some(n) => provider_name(n, "provider.name")?,
                    None => scenario.to_string(),
                };
                Ok(vec![provider(*p, "provider", name)?])
            }
            RawProviders::Many(list) => {
                if list.is_empty() {
                    return invalid(
                        None,
                        "provider",
                        "expected at least one [[provider]], found none",
                    );
                }
                if list.len() > MAX_PROVIDERS {
                    return invalid(
                        None,
                        "provider",
                        format!(
                            "expected at most {MAX_PROVIDERS} providers, found {}",
                            list.len()
                        ),
                    );
                }
                let mut out: Vec<Provider> = Vec::with_capacity(list.len());
                for (i, p) in list.into_iter().enumerate() {
                    let at = format!("provider[{i}]");
                    let entry = p.span();
                    let mut p = p.into_inner();
                    let Some(n) = p.name.take() else {
                        return invalid(
                            Some(entry),
                            format!("{at}.name"),
                            format!(
                                "expected a name for each of several [[provider]] entries, found none in entry {}",
                                i + 1
                            ),
                        );
                    };
                    let span = n.span();
                    let name = provider_name(n, &format!("{at}.name"))?;
                    if out.iter().any(|o| o.name == name) {
                        return invalid(
                            Some(span),
                            format!("{at}.name"),
                            format!(
                                "expected a name no other provider has, found \"{name}\" again"
                            ),
                        );
                    }
                    out.push(provider(p, &at, name)?);
                }
                Ok(out)
            }
        }
    }
}

/// A provider's name, checked: it names columns and chart series.
fn provider_name(n: Spanned<String>, field: &str) -> Result<String, Invalid> {
    let ok = !n.get_ref().is_empty()
        && n.get_ref().len() <= 64
        && n.get_ref()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return invalid(
            Some(n.span()),
            field,
            format!(
                "expected a name of 1 to 64 letters, digits, '_', '-' or '.', found \"{}\"",
                n.get_ref()
            ),
        );
    }
    Ok(n.into_inner())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: Option<Spanned<String>>,
    #[serde(default)]
    limit: Vec<RawLimit>,
    #[serde(default = "yes")]
    count_rejected: bool,
    concurrency: Option<Spanned<u32>>,
    max_in_flight: Option<Spanned<u32>>,
    sharing_above: Option<Spanned<u32>>,
    #[serde(default)]
    refund_unused_output: bool,
    error_rate: Option<Spanned<f64>>,
    #[serde(default)]
    outage: Vec<RawOutage>,
    #[serde(default)]
    capacity: Vec<RawCapacity>,
    ttft: Of<Secs>,
    #[serde(default = "fast_decode")]
    decode_rate: Spanned<Of<f64>>,
    #[serde(default)]
    price_input_per_mtok: Option<NonNegative>,
    #[serde(default)]
    price_output_per_mtok: Option<NonNegative>,
    #[serde(default = "yes")]
    cache_reads_count_toward_input_limit: bool,
    #[serde(default)]
    price_cache_read_per_mtok: Option<NonNegative>,
    #[serde(default)]
    price_cache_write_per_mtok: Option<NonNegative>,
}

fn yes() -> bool {
    true
}

fn fast_decode() -> Spanned<Of<f64>> {
    Spanned::new(0..0, Of::constant(100.0))
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawResource {
    Requests,
    InputTokens,
    OutputTokens,
    Tokens,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    resource: Spanned<RawResource>,
    kind: Option<Spanned<RawLimitKind>>,
    rate: Option<Spanned<Rate>>,
    burst: Option<Spanned<Quantity>>,
    limit: Option<Spanned<Quantity>>,
    window: Option<Spanned<Secs>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RawLimitKind {
    TokenBucket,
    FixedWindow,
    SlidingWindow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutage {
    start: Secs,
    end: Spanned<Secs>,
    #[serde(default = "unavailable")]
    status: Spanned<u16>,
}

fn unavailable() -> Spanned<u16> {
    Spanned::new(0..0, 503)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapacity {
    at: Spanned<Secs>,
    limits: Option<Spanned<f64>>,
    decode: Option<Spanned<f64>>,
    ramp: Option<Secs>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    tenant: Option<String>,
    arrival: RawArrival,
    job: Option<RawJob>,
    template: Option<Spanned<String>>,
    spread_over: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    name: Spanned<String>,
    #[serde(default = "one_u32_plain")]
    weight: u32,
}

fn one_u32_plain() -> u32 {
    1
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWorkLimits {
    max_depth: Option<u32>,
    max_fanout: Option<u32>,
    max_calls: Option<u64>,
    max_tokens: Option<u64>,
    max_cost_usd: Option<NonNegative>,
    max_duration: Option<Secs>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArrival {
    process: Spanned<Process>,
    count: Option<Spanned<u64>>,
    at: Option<Spanned<Secs>>,
    rate: Option<Spanned<PositiveRate>>,
    until: Option<Spanned<Secs>>,
    every: Option<Spanned<Secs>>,
    amplitude: Option<Spanned<f64>>,
    period: Option<Spanned<Secs>>,
    peak: Option<Spanned<Secs>>,
    file: Option<Spanned<String>>,
    tenant_attribute: Option<Spanned<String>>,
    job_by: Option<Spanned<JobBy>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Process {
    Burst,
    Poisson,
    Interval,
    Diurnal,
    Trace,
    Otel,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum JobBy {
    Root,
    Conversation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    #[serde(default = "one_dist")]
    agents: Spanned<Of<f64>>,
    #[serde(default = "one_u32")]
    calls_per_agent: Spanned<u32>,
    prompt_tokens: Of<Quantity>,
    max_tokens: TokenCount,
    output_tokens: Of<Quantity>,
    #[serde(default = "zero_secs")]
    think_time: Of<Secs>,
    cached_prompt_tokens: Option<Spanned<Of<Quantity>>>,
    cache_hit_rate: Option<Spanned<f64>>,
}

/// A call's cached prefix from its `cached_prompt_tokens` and `cache_hit_rate`, checked against
/// its `prompt_tokens` where a constant makes that possible (a drawn prefix is clamped per draw).
pub(super) fn prompt_cache(
    path: &str,
    prompt: &Dist,
    cached: Option<&Spanned<Of<Quantity>>>,
    hit_rate: Option<&Spanned<f64>>,
) -> Result<Option<PromptCache>, Invalid> {
    let Some(cached) = cached else {
        if let Some(h) = hit_rate {
            return invalid(
                Some(h.span()),
                format!("{path}.cache_hit_rate"),
                "`cache_hit_rate` needs `cached_prompt_tokens`",
            );
        }
        return Ok(None);
    };
    let tokens = cached.get_ref().0.clone();
    if let (Dist::Constant(c), Dist::Constant(p)) = (&tokens, prompt)
        && c > p
    {
        return invalid(
            Some(cached.span()),
            format!("{path}.cached_prompt_tokens"),
            format!(
                "expected at most prompt_tokens ({}), found {}",
                quoted(*p),
                quoted(*c)
            ),
        );
    }
    let rate = match hit_rate {
        None => 1.0,
        Some(h) => {
            let v = *h.get_ref();
            if !(0.0..=1.0).contains(&v) {
                return invalid(
                    Some(h.span()),
                    format!("{path}.cache_hit_rate"),
                    format!("expected a probability from 0 to 1, found {}", quoted(v)),
                );
            }
            v
        }
    };
    Ok(Some(PromptCache {
        tokens,
        hit_rate: rate,
    }))
}

fn one_dist() -> Spanned<Of<f64>> {
    Spanned::new(0..0, Of::constant(1.0))
}
fn one_u32() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}
fn zero_secs() -> Of<Secs> {
    Of::constant(0.0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Spanned<String>,
    retry: Option<RawRetry>,
    sdk: Option<RawSdk>,
    bucket: Option<Spanned<RawBucket>>,
    #[serde(default)]
    buckets: Vec<Spanned<RawBucket>>,
    queue: Option<RawQueue>,
    #[serde(default)]
    refund_unused_output: bool,
    #[serde(default)]
    agent_restarts: u32,
    timeout: Option<Spanned<Secs>>,
    #[serde(default)]
    work_limits: RawWorkLimits,
    call_deadline: Option<Spanned<Secs>>,
    job_deadline: Option<Spanned<Secs>>,
    retry_budget: Option<RawBudget>,
    hedge: Option<Spanned<RawHedge>>,
    breaker: Option<Spanned<RawBreaker>>,
    concurrency: Option<RawConcurrency>,
    throttle: Option<RawThrottle>,
    route: Option<Spanned<RawRoute>>,
    #[serde(default = "yes")]
    prompt_cache: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    strategy: Option<Spanned<String>>,
    targets: Vec<Spanned<String>>,
    weights: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    fallbacks: Vec<Spanned<String>>,
    fallback_on: Option<Vec<RawFailure>>,
    fallback_after: Option<Spanned<u32>>,
    allowed_fails: Option<Spanned<u32>>,
    cooldown: Option<Spanned<Secs>>,
}

/// Checks a policy's `route` against the scenario's providers.
fn route(r: Spanned<RawRoute>, path: &str, providers: &[Provider]) -> Result<RouteSpec, Invalid> {
    let whole = r.span();
    let r = r.into_inner();
    let strategy = match &r.strategy {
        None => Strategy::SimpleShuffle,
        Some(s) => match Strategy::NAMES.iter().find(|(n, _)| *n == s.get_ref()) {
            Some((_, st)) => *st,
            None => {
                let names: Vec<&str> = Strategy::NAMES.iter().map(|(n, _)| *n).collect();
                return invalid(
                    Some(s.span()),
                    format!("{path}.strategy"),
                    format!(
                        "expected one of {}, found \"{}\"",
                        names.join(", "),
                        s.get_ref()
                    ),
                );
            }
        },
    };
    let index = |n: &Spanned<String>, field: &str| -> Result<usize, Invalid> {
        match providers.iter().position(|p| &p.name == n.get_ref()) {
            Some(i) => Ok(i),
            None => {
                let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
                invalid(
                    Some(n.span()),
                    format!("{path}.{field}"),
                    format!(
                        "expected the name of a provider ({}), found \"{}\"",
                        names.join(", "),
                        n.get_ref()
                    ),
                )
            }
        }
    };
    let targets = r
        .targets
        .iter()
        .map(|n| index(n, "targets"))
        .collect::<Result<Vec<_>, _>>()?;
    let fallbacks = r
        .fallbacks
        .iter()
        .map(|n| index(n, "fallbacks"))
        .collect::<Result<Vec<_>, _>>()?;
    let cooldown = match (&r.cooldown, &r.allowed_fails) {
        (None, Some(a)) => {
            return invalid(
                Some(a.span()),
                format!("{path}.allowed_fails"),
                "expected a `cooldown` beside `allowed_fails` (how long a failing provider sits out), found none",
            );
        }
        (None, None) => None,
        (Some(c), a) => Some(Cooldown {
            allowed_fails: a.as_ref().map(|a| *a.get_ref()),
            cooldown_ns: secs_to_nanos(c.get_ref().0),
        }),
    };
    let fields = [
        ("targets", r.targets.first().map(|t| t.span())),
        ("fallbacks", r.fallbacks.last().map(|t| t.span())),
        ("weights", span_of(&r.weights)),
        ("fallback_after", span_of(&r.fallback_after)),
        ("cooldown", span_of(&r.cooldown)),
    ];
    RouteSpec::new(
        providers,
        strategy,
        targets,
        r.weights.as_ref().map(|w| w.get_ref().clone()),
        fallbacks,
        retry_on(r.fallback_on),
        r.fallback_after.as_ref().map_or(1, |f| *f.get_ref()),
        cooldown,
    )
    .map_err(|e| refused(e, path, &fields, whole))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    consecutive_failures: Option<Spanned<u32>>,
    failure_ratio: Option<Spanned<f64>>,
    #[serde(default = "twenty")]
    min_requests: u32,
    #[serde(default = "ten_s")]
    window: Spanned<Secs>,
    #[serde(default = "thirty_s")]
    open: Spanned<Secs>,
    #[serde(default = "one_u32")]
    half_open_probes: Spanned<u32>,
}

fn twenty() -> u32 {
    20
}
fn ten_s() -> Spanned<Secs> {
    Spanned::new(0..0, Secs(10.0))
}
fn thirty_s() -> Spanned<Secs> {
    Spanned::new(0..0, Secs(30.0))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConcurrency {
    kind: Spanned<ConcurrencyKind>,
    limit: Option<Spanned<u32>>,
    initial: Option<Spanned<u32>>,
    min: Option<Spanned<u32>>,
    max: Option<Spanned<u32>>,
    increase: Option<Spanned<u32>>,
    decrease_factor: Option<Spanned<f64>>,
    smoothing: Option<Spanned<f64>>,
    rtt_tolerance: Option<Spanned<f64>>,
    long_window: Option<Spanned<u32>>,
    queue_size: Option<Spanned<u32>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum ConcurrencyKind {
    Static,
    Aimd,
    Gradient2,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThrottle {
    kind: Spanned<ThrottleKind>,
    k: Option<Spanned<f64>>,
    window: Option<Spanned<Secs>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum ThrottleKind {
    Sre,
    AwsAdaptive,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHedge {
    delay: Spanned<Secs>,
    #[serde(default = "two_attempts")]
    max_attempts: Spanned<u32>,
}

fn two_attempts() -> Spanned<u32> {
    Spanned::new(0..0, 2)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    kind: Spanned<BudgetKind>,
    max_tokens: Option<Spanned<Positive>>,
    token_ratio: Option<Spanned<Positive>>,
    ttl: Option<Spanned<Secs>>,
    min_retries_per_sec: Option<Spanned<NonNegative>>,
    percent_can_retry: Option<Spanned<NonNegative>>,
    budget_percent: Option<Spanned<NonNegative>>,
    min_retry_concurrency: Option<Spanned<u32>>,
    initial: Option<Spanned<Positive>>,
    throttle_cost: Option<Spanned<NonNegative>>,
    retry_cost: Option<Spanned<NonNegative>>,
    timeout_cost: Option<Spanned<NonNegative>>,
    no_retry_increment: Option<Spanned<NonNegative>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum BudgetKind {
    Grpc,
    Finagle,
    Envoy,
    AwsStandard,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RawFailure {
    RateLimited,
    ServerError,
    Timeout,
}

fn retry_on(list: Option<Vec<RawFailure>>) -> RetryOn {
    match list {
        None => RetryOn::ALL,
        Some(l) => RetryOn {
            rate_limited: l.contains(&RawFailure::RateLimited),
            server_error: l.contains(&RawFailure::ServerError),
            timeout: l.contains(&RawFailure::Timeout),
        },
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    max_attempts: Spanned<u32>,
    wait: Option<RawWait>,
    #[serde(default = "no_jitter")]
    jitter: Spanned<RawJitter>,
    #[serde(default)]
    honor_retry_after: bool,
    #[serde(default = "sixty_s")]
    max_retry_after: Secs,
    retry_on: Option<Vec<RawFailure>>,
}

fn no_jitter() -> Spanned<RawJitter> {
    Spanned::new(0..0, RawJitter::None)
}

fn sixty_s() -> Secs {
    Secs(60.0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWait {
    kind: Spanned<WaitKind>,
    wait: Option<Spanned<Secs>>,
    multiplier: Option<Spanned<Secs>>,
    max: Option<Spanned<Secs>>,
    min: Option<Spanned<Secs>>,
    exp_base: Option<Spanned<Positive>>,
    initial: Option<Spanned<Secs>>,
    jitter: Option<Spanned<Secs>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum WaitKind {
    None,
    Fixed,
    Exponential,
    RandomExponential,
    ExponentialJitter,
}

#[derive(Deserialize, Default, PartialEq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawJitter {
    #[default]
    None,
    Full,
    Equal,
    Decorrelated,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSdk {
    #[serde(default = "two")]
    max_retries: u32,
    #[serde(default = "half_s")]
    initial: Secs,
    #[serde(default = "eight_s")]
    max: Secs,
    #[serde(default = "quarter")]
    jitter_fraction: NonNegative,
    #[serde(default = "yes")]
    honor_retry_after: bool,
    #[serde(default = "sixty_s")]
    max_retry_after: Secs,
    retry_on: Option<Vec<RawFailure>>,
}

fn two() -> u32 {
    2
}
fn half_s() -> Secs {
    Secs(0.5)
}
fn eight_s() -> Secs {
    Secs(8.0)
}
fn quarter() -> NonNegative {
    NonNegative(0.25)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    scope: Option<RawScope>,
    /// What it counts (default `tokens`: `prompt + max_tokens`, as before the field existed).
    resource: Option<Spanned<RawResource>>,
    rate: PositiveRate,
    burst: PositiveQuantity,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RawScope {
    Global,
    Tenant,
    Job,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RawQueue {
    Fifo,
    FairTenant,
    FairJob,
}

/// The tenants declared so far, with an index by name: a source spread over 200,000 tenants, or
/// a trace naming 100,000, looks each name up in constant time, not in a list of all before it.
#[derive(Default)]
pub(super) struct Tenants {
    /// The names, in declaration order (a tenant's index is its position).
    pub names: Vec<String>,
    /// Each tenant's weight.
    pub weights: Vec<u32>,
    index: std::collections::HashMap<String, u32>,
}

impl Tenants {
    /// The index of tenant `name`, if declared.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// Declares `name` (not yet declared) with `weight`, returning its index.
    pub fn push(&mut self, name: String, weight: u32) -> u32 {
        let i = self.names.len() as u32;
        debug_assert!(!self.index.contains_key(&name));
        self.index.insert(name.clone(), i);
        self.names.push(name);
        self.weights.push(weight);
        i
    }

    /// The index of tenant `name`, declaring it with weight 1 if it is new.
    pub fn intern(&mut self, name: String) -> u32 {
        match self.get(&name) {
            Some(i) => i,
            None => self.push(name, 1),
        }
    }
}

fn scope(s: Option<RawScope>) -> Scope {
    match s {
        None | Some(RawScope::Global) => Scope::Global,
        Some(RawScope::Tenant) => Scope::Tenant,
        Some(RawScope::Job) => Scope::Job,
    }
}

impl RawScenario {
    /// Checks what serde cannot and builds the model's scenario.
    pub fn validate(self, base_dir: Option<&std::path::Path>) -> Result<model::Scenario, Invalid> {
        let name = self.scenario.name.get_ref().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return invalid(
                Some(self.scenario.name.span()),
                "scenario.name",
                format!(
                    "expected a name of letters, digits, '_', '-' or '.' (it names the output directory), found \"{name}\""
                ),
            );
        }
        let replications = *self.scenario.replications.get_ref();
        if !(1..=MAX_REPLICATIONS).contains(&replications) {
            return invalid(
                Some(self.scenario.replications.span()),
                "scenario.replications",
                format!("expected from 1 to {MAX_REPLICATIONS}, found {replications}"),
            );
        }
        let timeseries_interval_ns = match self.scenario.timeseries_interval {
            // One row is kept per interval: a nanosecond interval would fill memory.
            Some(t) if secs_to_nanos(t.get_ref().0) < MIN_TIMESERIES_INTERVAL_NS => {
                return invalid(
                    Some(t.span()),
                    "scenario.timeseries_interval",
                    format!(
                        "expected an interval of at least 1ms, found {}s",
                        t.get_ref().0
                    ),
                );
            }
            t => t.map(|t| secs_to_nanos(t.get_ref().0)),
        };
        let defaults = Guards::default();
        let guards = Guards {
            stop_quietly: self.guards.on_trip == Some(OnTrip::Stop),
            max_events: self.guards.max_events.unwrap_or(defaults.max_events),
            max_time: self
                .guards
                .max_sim_time
                .map_or(defaults.max_time, |s| SimTime(secs_to_nanos(s.0))),
            max_live: self
                .guards
                .max_live
                .map_or(defaults.max_live, |n| n as usize),
        };
        let providers = self.provider.validate(&name)?;

        if self.source.is_empty() {
            return invalid(
                None,
                "source",
                "expected at least one [[source]], found none",
            );
        }
        let mut sources = Vec::new();
        let mut nodes = Vec::new();
        let template_index = super::templates::compile(self.templates, &mut nodes)?;
        let mut tenants = Tenants::default();
        let mut warnings = Vec::new();
        for (i, t) in self.tenant.iter().enumerate() {
            if tenants.get(t.name.get_ref()).is_some() {
                return invalid(
                    Some(t.name.span()),
                    format!("tenant[{i}].name"),
                    format!("tenant \"{}\" is declared twice", t.name.get_ref()),
                );
            }
            if t.weight == 0 {
                return invalid(
                    Some(t.name.span()),
                    format!("tenant[{i}].weight"),
                    "expected a weight of at least 1, found 0",
                );
            }
            tenants.push(t.name.get_ref().clone(), t.weight);
        }
        for (i, s) in self.source.into_iter().enumerate() {
            let trace_file = s.arrival.file.clone();
            let otel = (*s.arrival.process.get_ref() == Process::Otel).then(|| {
                (
                    s.arrival.tenant_attribute.clone(),
                    s.arrival
                        .job_by
                        .as_ref()
                        .map_or(JobBy::Root, |j| *j.get_ref()),
                )
            });
            let mut arrival = arrival(s.arrival, &format!("source[{i}].arrival"))?;
            let root = match (s.job, s.template) {
                (job, template) if otel.is_some() => {
                    if let Some(t) = template {
                        return invalid(
                            Some(t.span()),
                            format!("source[{i}].template"),
                            "an \"otel\" source takes its jobs from the trace: it takes no `template`",
                        );
                    }
                    if job.is_some() {
                        return invalid(
                            Some(s.name.span()),
                            format!("source[{i}].job"),
                            "an \"otel\" source takes its jobs from the trace: it takes no `job`",
                        );
                    }
                    0 // set from the trace below
                }
                (Some(_), Some(t)) => {
                    return invalid(
                        Some(t.span()),
                        format!("source[{i}].template"),
                        "a source takes `job` (the fan-out shorthand) or `template`, not both",
                    );
                }
                (None, None) => {
                    return invalid(
                        Some(s.name.span()),
                        format!("source[{i}]"),
                        "a source needs a `job` table or a `template` name",
                    );
                }
                (None, Some(t)) => {
                    template_index
                        .get(t.get_ref())
                        .copied()
                        .ok_or_else(|| Invalid {
                            span: Some(t.span()),
                            field: format!("source[{i}].template"),
                            message: format!("no template named \"{}\"", t.get_ref()),
                        })?
                }
                (Some(j), None) => {
                    let calls = *j.calls_per_agent.get_ref();
                    if !(1..=MAX_AGENT_CALLS).contains(&calls) {
                        return invalid(
                            Some(j.calls_per_agent.span()),
                            format!("source[{i}].job.calls_per_agent"),
                            format!("expected from 1 to {MAX_AGENT_CALLS}, found {calls}"),
                        );
                    }
                    if let Err(message) = check_count(&j.agents.get_ref().0, 1, MAX_WIDTH) {
                        return invalid(
                            Some(j.agents.span()),
                            format!("source[{i}].job.agents"),
                            message,
                        );
                    }
                    let cache = prompt_cache(
                        &format!("source[{i}].job"),
                        &j.prompt_tokens.0,
                        j.cached_prompt_tokens.as_ref(),
                        j.cache_hit_rate.as_ref(),
                    )?;
                    // The shorthand: a fan-out of `agents` agents of `calls_per_agent` calls.
                    nodes.push(Node::Agent {
                        calls: Dist::Constant(*j.calls_per_agent.get_ref() as f64),
                        think_time_s: j.think_time.0,
                        call: CallSpec {
                            prompt_tokens: j.prompt_tokens.0,
                            max_tokens: j.max_tokens.0,
                            output_tokens: j.output_tokens.0,
                            cache,
                        },
                    });
                    nodes.push(Node::Fanout {
                        width: j.agents.into_inner().0,
                        child: nodes.len() - 1,
                    });
                    nodes.len() - 1
                }
            };
            let name_span = s.name.span();
            let name = s.name.into_inner();
            let tenant_name = s.tenant.unwrap_or_else(|| name.clone());
            // Every generated tenant repeats the name: a long one times `spread_over` would
            // allocate without bound (100 KB x 100,000 tenants: 10 GB).
            for (field, value) in [("name", &name), ("tenant", &tenant_name)] {
                if value.len() > MAX_NAME_BYTES {
                    return invalid(
                        Some(name_span.clone()),
                        format!("source[{i}].{field}"),
                        format!(
                            "expected a name of at most {MAX_NAME_BYTES} bytes, found {} bytes",
                            value.len()
                        ),
                    );
                }
            }
            let spread = s.spread_over.as_ref().map_or(1, |n| *n.get_ref());
            if !(1..=MAX_SPREAD).contains(&spread) {
                return invalid(
                    span_of(&s.spread_over),
                    format!("source[{i}].spread_over"),
                    format!("expected from 1 to {MAX_SPREAD} tenants, found {spread}"),
                );
            }
            // A trace's jobs may name their tenants; its source's default tenant is registered only
            // if some job names none, so that no empty tenant shows in the results.
            let lazy_default =
                trace_file.is_some() && spread == 1 && tenants.get(&tenant_name).is_none();
            let tenant = if lazy_default {
                PENDING_TENANT
            } else if spread == 1 {
                tenants.intern(tenant_name.clone())
            } else {
                // `name-1` .. `name-N`: consecutive indices, so that job k goes to first + k % N.
                let first = tenants.names.len() as u32;
                for k in 1..=spread {
                    let t = format!("{tenant_name}-{k}");
                    if tenants.get(&t).is_some() {
                        return invalid(
                            span_of(&s.spread_over),
                            format!("source[{i}].spread_over"),
                            format!("tenant \"{t}\" already exists"),
                        );
                    }
                    tenants.push(t, 1);
                }
                first
            };
            let mut root = root;
            let mut tenant = tenant;
            if let (Some((tenant_attribute, job_by)), Some(file)) = (&otel, &trace_file) {
                let path = format!("source[{i}].arrival.file");
                let (mut rows, notes) = super::otel::read_source(
                    file,
                    &path,
                    base_dir,
                    tenant,
                    tenant_attribute.as_ref(),
                    *job_by == JobBy::Conversation,
                    &mut nodes,
                    &mut tenants,
                )?;
                root = rows[0].root;
                if lazy_default {
                    tenant = settle_default_tenant(&mut rows, tenant_name, &mut tenants);
                }
                arrival = Arrival::Trace(rows);
                warnings.extend(notes.into_iter().map(|n| format!("source \"{name}\": {n}")));
            } else if let Some(file) = trace_file {
                let path = format!("source[{i}].arrival.file");
                let mut rows = super::trace::read(
                    &file,
                    &path,
                    base_dir,
                    tenant,
                    root,
                    &template_index,
                    &mut tenants,
                )?;
                if lazy_default {
                    tenant = settle_default_tenant(&mut rows, tenant_name, &mut tenants);
                }
                arrival = Arrival::Trace(rows);
            }
            sources.push(Source {
                tenant,
                spread,
                name,
                arrival,
                root,
            });
        }

        if self.policy.is_empty() {
            return invalid(
                None,
                "policy",
                "expected at least one [[policy]], found none",
            );
        }
        // A trace may give its jobs' calls other prompt sizes than their templates'.
        let traced = sources
            .iter()
            .any(|s| matches!(s.arrival, Arrival::Trace(_)));
        let mut policies: Vec<Policy> = Vec::new();
        let mut policy_names = std::collections::HashSet::new();
        for (i, raw) in self.policy.into_iter().enumerate() {
            let name = raw.name.get_ref().clone();
            if !policy_names.insert(name.clone()) {
                return invalid(
                    Some(raw.name.span()),
                    format!("policy[{i}].name"),
                    format!("a policy named \"{name}\" is already defined"),
                );
            }
            let mut layers = Vec::new();
            if let Some(sdk) = raw.sdk {
                layers.push(RetryLayer {
                    name: "sdk",
                    max_attempts: sdk.max_retries + 1,
                    backoff: Backoff::Exponential {
                        multiplier_s: sdk.initial.0,
                        max_s: sdk.max.0,
                        min_s: 0.0,
                        exp_base: 2.0,
                    },
                    jitter: Jitter::Proportional {
                        fraction: sdk.jitter_fraction.0.min(1.0),
                    },
                    retry_after_max_s: sdk.honor_retry_after.then_some(sdk.max_retry_after.0),
                    retry_on: retry_on(sdk.retry_on),
                    through_admission: false,
                });
            }
            if let Some(retry) = raw.retry {
                layers.push(retry_layer(retry, i)?);
            }
            debug_assert!(layers.len() <= MAX_LAYERS);
            let mut buckets: Vec<ScopedBucket> = Vec::new();
            for b in raw.bucket.into_iter().chain(raw.buckets) {
                let span = b.span();
                let b = b.into_inner();
                let bucket = ScopedBucket {
                    scope: scope(b.scope),
                    resource: b
                        .resource
                        .map_or(Resource::Tokens, |r| resource(r.into_inner())),
                    rate_per_s: b.rate.0,
                    burst: b.burst.0,
                };
                if buckets
                    .iter()
                    .any(|x| x.scope == bucket.scope && x.resource == bucket.resource)
                {
                    return invalid(
                        Some(span),
                        format!("policy[{i}].buckets"),
                        "a policy has at most one bucket per scope (global, tenant, job) and \
                         resource (requests, input_tokens, output_tokens, tokens)",
                    );
                }
                if let Some(why) = never_fits(&bucket, &nodes, traced) {
                    return invalid(Some(span), format!("policy[{i}].buckets"), why);
                }
                buckets.push(bucket);
            }
            policies.push(Policy {
                name,
                layers,
                buckets,
                refund_unused_output: raw.refund_unused_output,
                prompt_cache: raw.prompt_cache,
                discipline: match raw.queue {
                    None | Some(RawQueue::Fifo) => Discipline::Fifo,
                    Some(RawQueue::FairTenant) => Discipline::Fair(Scope::Tenant),
                    Some(RawQueue::FairJob) => Discipline::Fair(Scope::Job),
                },
                agent_restarts: raw.agent_restarts,
                work_limits: WorkLimits {
                    max_depth: raw.work_limits.max_depth,
                    max_fanout: raw.work_limits.max_fanout,
                    max_calls: raw.work_limits.max_calls,
                    max_tokens: raw.work_limits.max_tokens,
                    max_cost_usd: raw.work_limits.max_cost_usd.map(|c| c.0),
                    max_duration_ns: raw.work_limits.max_duration.map(|d| secs_to_nanos(d.0)),
                },
                call_deadline_ns: positive_duration(
                    raw.call_deadline,
                    &format!("policy[{i}].call_deadline"),
                )?,
                job_deadline_ns: positive_duration(
                    raw.job_deadline,
                    &format!("policy[{i}].job_deadline"),
                )?,
                timeout_ns: match raw.timeout {
                    Some(t) if t.get_ref().0 <= 0.0 => {
                        return invalid(
                            Some(t.span()),
                            format!("policy[{i}].timeout"),
                            "expected a timeout longer than zero",
                        );
                    }
                    t => t.map(|t| secs_to_nanos(t.get_ref().0)),
                },
                hedge: raw
                    .hedge
                    .map(|h| hedge(h, &format!("policy[{i}].hedge")))
                    .transpose()?,
                breaker: raw
                    .breaker
                    .map(|b| breaker(b, &format!("policy[{i}].breaker")))
                    .transpose()?,
                concurrency: raw
                    .concurrency
                    .map(|c| concurrency(c, &format!("policy[{i}].concurrency")))
                    .transpose()?,
                throttle: raw
                    .throttle
                    .map(|t| throttle(t, &format!("policy[{i}].throttle")))
                    .transpose()?,
                budget: raw
                    .retry_budget
                    .map(|b| budget(b, &format!("policy[{i}].retry_budget")))
                    .transpose()?,
                route: raw
                    .route
                    .map(|r| route(r, &format!("policy[{i}].route"), &providers))
                    .transpose()?,
            });
        }

        Ok(model::Scenario {
            name,
            description: self.scenario.description.trim().to_string(),
            seed: self.scenario.seed,
            replications: self.scenario.replications.into_inner(),
            guards,
            timeseries_interval_ns,
            providers,
            sources,
            tenants: tenants.names,
            tenant_weights: tenants.weights,
            nodes,
            policies,
            warnings,
        })
    }
}

/// Checks one provider table, written at `at` (`provider` or `provider[1]`), named `name`.
fn provider(p: RawProvider, at: &str, name: String) -> Result<Provider, Invalid> {
    if let Some(c) = &p.concurrency
        && *c.get_ref() == 0
    {
        return invalid(
            Some(c.span()),
            format!("{at}.concurrency"),
            "expected at least 1 (omit it for unlimited), found 0",
        );
    }
    if p.decode_rate.get_ref().0.mean() <= 0.0 {
        return invalid(
            Some(p.decode_rate.span()),
            format!("{at}.decode_rate"),
            "expected a positive mean decode rate (output tokens per second), found 0",
        );
    }
    let mut limits = Vec::new();
    for (i, l) in p.limit.into_iter().enumerate() {
        limits.push(limit(l, &format!("{at}.limit[{i}]"))?);
    }
    if let Some(m) = &p.max_in_flight
        && *m.get_ref() == 0
    {
        return invalid(
            Some(m.span()),
            format!("{at}.max_in_flight"),
            "expected at least 1 (omit it for no limit), found 0",
        );
    }
    let serving = match &p.sharing_above {
        None => Serving::Fifo,
        Some(a) if *a.get_ref() == 0 => {
            return invalid(
                Some(a.span()),
                format!("{at}.sharing_above"),
                "expected at least 1, found 0",
            );
        }
        Some(a) => Serving::Shared {
            above: *a.get_ref(),
        },
    };
    let error_rate = match &p.error_rate {
        None => 0.0,
        Some(e) if (0.0..=1.0).contains(e.get_ref()) => *e.get_ref(),
        Some(e) => {
            return invalid(
                Some(e.span()),
                format!("{at}.error_rate"),
                format!("expected a probability in [0, 1], found {}", e.get_ref()),
            );
        }
    };
    let mut outages = Vec::new();
    for (i, o) in p.outage.into_iter().enumerate() {
        if o.end.get_ref().0 <= o.start.0 {
            return invalid(
                Some(o.end.span()),
                format!("{at}.outage[{i}].end"),
                format!(
                    "expected an end after the start ({}s), found {}s",
                    o.start.0,
                    o.end.get_ref().0
                ),
            );
        }
        let status = *o.status.get_ref();
        if !(500..=599).contains(&status) {
            return invalid(
                Some(o.status.span()),
                format!("{at}.outage[{i}].status"),
                format!("expected a 5xx status such as 503 or 529, found {status}"),
            );
        }
        outages.push(Outage {
            start_ns: secs_to_nanos(o.start.0),
            end_ns: secs_to_nanos(o.end.get_ref().0),
            status,
        });
    }
    let capacity = capacity_steps(p.capacity, at)?;
    let input_price = p.price_input_per_mtok.map_or(0.0, |v| v.0);
    Ok(Provider {
        name,
        limits,
        count_rejected: p.count_rejected,
        concurrency: p.concurrency.map(|c| c.into_inner()),
        max_in_flight: p.max_in_flight.map(|m| m.into_inner()),
        refund_unused_output: p.refund_unused_output,
        error_rate,
        outages,
        capacity,
        serving,
        ttft_s: p.ttft.0,
        decode_tokens_per_s: p.decode_rate.into_inner().0,
        price_input_per_mtok: input_price,
        price_output_per_mtok: p.price_output_per_mtok.map_or(0.0, |v| v.0),
        cache_reads_count_toward_input_limit: p.cache_reads_count_toward_input_limit,
        // Unpriced cache tokens cost what other input tokens cost: no discount.
        price_cache_read_per_mtok: p.price_cache_read_per_mtok.map_or(input_price, |v| v.0),
        price_cache_write_per_mtok: p.price_cache_write_per_mtok.map_or(input_price, |v| v.0),
    })
}

fn resource(r: RawResource) -> Resource {
    match r {
        RawResource::Requests => Resource::Requests,
        RawResource::InputTokens => Resource::InputTokens,
        RawResource::OutputTokens => Resource::OutputTokens,
        RawResource::Tokens => Resource::Tokens,
    }
}

/// Why no call of some call node could fit in client bucket `b`, if none could: the least any of
/// its calls is charged (`b.resource` of its smallest possible prompt and its `max_tokens`) is
/// above the burst. Only the certain case is refused: a size drawn from a distribution that is
/// merely *sometimes* above the burst passes from a full bucket into debt at run time. A `tokens`
/// bucket (the default) is not checked: a burst below one call has always been valid there (the
/// call passes from a full bucket and leaves it in debt, pacing heavy calls), and scenarios that
/// rely on it keep running. `traced`: a trace may replace the prompt sizes, so prompts count as
/// possibly empty.
fn never_fits(b: &ScopedBucket, nodes: &[Node], traced: bool) -> Option<String> {
    if b.resource == Resource::Tokens {
        return None;
    }
    for node in nodes {
        let call = match node {
            Node::Call(c) | Node::Agent { call: c, .. } => c,
            _ => continue,
        };
        // Drawn prompts are rounded to whole tokens, as the model rounds them.
        let prompt = if traced {
            0
        } else {
            round_to_u32(call.prompt_tokens.lowest())
        };
        let least = b.resource.estimate(prompt, call.max_tokens);
        if least > b.burst {
            let what = match b.resource {
                Resource::Requests => "request",
                Resource::InputTokens => "input token(s)",
                Resource::OutputTokens => "output token(s) (its max_tokens)",
                Resource::Tokens => unreachable!("tokens buckets are not checked"),
            };
            return Some(format!(
                "a call (prompt_tokens at least {prompt}, max_tokens {}) costs this bucket at \
                 least {least} {what}, more than its burst of {}: the bucket could never hold \
                 it (raise the burst, or count another resource)",
                call.max_tokens, b.burst
            ));
        }
    }
    None
}

fn limit(l: RawLimit, path: &str) -> Result<Limit, Invalid> {
    // Without `kind`, errors about the default kind point at `resource`, the one field every
    // limit has, rather than nowhere.
    let resource_span = l.resource.span();
    let resource = resource(l.resource.into_inner());
    let fields = [
        ("rate", span_of(&l.rate)),
        ("burst", span_of(&l.burst)),
        ("limit", span_of(&l.limit)),
        ("window", span_of(&l.window)),
    ];
    let kind_span = l.kind.as_ref().map_or(resource_span, |k| k.span());
    let kind = l.kind.map_or(RawLimitKind::TokenBucket, |k| k.into_inner());
    // Both are required by the kind (checked first); the defaults are never used.
    let rate = |v: &Option<Spanned<Rate>>| v.as_ref().map_or(1.0, |p| p.get_ref().0);
    let number = |v: &Option<Spanned<Quantity>>| v.as_ref().map_or(1.0, |p| p.get_ref().0);
    let window_ns =
        |w: &Option<Spanned<Secs>>| w.as_ref().map_or(1, |w| secs_to_nanos(w.get_ref().0));
    let kind = match kind {
        RawLimitKind::TokenBucket => {
            kind_fields(
                path,
                ("token_bucket", kind_span.clone()),
                &fields,
                &["rate", "burst"],
                &["rate", "burst"],
            )?;
            LimitKind::TokenBucket {
                rate_per_s: rate(&l.rate),
                burst: number(&l.burst),
            }
        }
        RawLimitKind::FixedWindow => {
            kind_fields(
                path,
                ("fixed_window", kind_span.clone()),
                &fields,
                &["limit", "window"],
                &["limit", "window"],
            )?;
            LimitKind::FixedWindow {
                limit: number(&l.limit),
                window_ns: window_ns(&l.window),
            }
        }
        RawLimitKind::SlidingWindow => {
            kind_fields(
                path,
                ("sliding_window", kind_span.clone()),
                &fields,
                &["limit", "window"],
                &["limit", "window"],
            )?;
            LimitKind::SlidingWindow {
                limit: number(&l.limit),
                window_ns: window_ns(&l.window),
            }
        }
    };
    Limit::new(resource, kind).map_err(|e| refused(e, path, &fields, kind_span))
}

/// The error for a spec the model refused: at the refused field's value when the file has one
/// (`fields` lists them with their spans, as [`kind_fields`] takes them), else at `whole`.
fn refused(
    e: SpecError,
    path: &str,
    fields: &[(&str, Option<Range<usize>>)],
    whole: Range<usize>,
) -> Invalid {
    let span = e
        .field
        .and_then(|f| fields.iter().find(|(name, _)| *name == f))
        .and_then(|(_, span)| span.clone())
        .unwrap_or(whole);
    Invalid {
        span: Some(span),
        field: e.field.map_or(path.to_string(), |f| format!("{path}.{f}")),
        message: e.to_string(),
    }
}

/// The span of a value with a default: `None` when the file does not have it.
fn written<T>(v: &Spanned<T>) -> Option<Range<usize>> {
    Some(v.span()).filter(|s| s.end > 0)
}

/// Turns capacity entries into steps: a ramp becomes one step per second of its length (at most
/// 600), moving linearly from the previous values to the entry's.
fn capacity_steps(entries: Vec<RawCapacity>, path: &str) -> Result<Vec<CapacityStep>, Invalid> {
    let mut steps: Vec<CapacityStep> = Vec::new();
    let (mut limits, mut decode, mut last_at) = (1.0, 1.0, -1.0f64);
    for (i, e) in entries.into_iter().enumerate() {
        let at = e.at.get_ref().0;
        if at <= last_at {
            return invalid(
                Some(e.at.span()),
                format!("{path}.capacity[{i}].at"),
                format!("expected a time after the previous entry's ({last_at}s), found {at}s"),
            );
        }
        let to_limits = e.limits.as_ref().map_or(limits, |v| *v.get_ref());
        let to_decode = e.decode.as_ref().map_or(decode, |v| *v.get_ref());
        let ramp = e.ramp.map_or(0.0, |r| r.0);
        let fields = [
            ("limits", span_of(&e.limits)),
            ("decode", span_of(&e.decode)),
        ];
        let refuse = |err| refused(err, &format!("{path}.capacity[{i}]"), &fields, e.at.span());
        // The entry's own values first, so that an error quotes them rather than a step between.
        CapacityStep::new(0, to_limits, to_decode).map_err(refuse)?;
        let n = if ramp > 0.0 {
            (ramp.ceil() as u32).clamp(1, 600)
        } else {
            1
        };
        for k in 1..=n {
            let f = k as f64 / n as f64;
            let step = CapacityStep::new(
                secs_to_nanos(at + ramp * f),
                limits + (to_limits - limits) * f,
                decode + (to_decode - decode) * f,
            );
            steps.push(step.map_err(refuse)?);
        }
        (limits, decode, last_at) = (to_limits, to_decode, at + ramp);
    }
    Ok(steps)
}

/// An optional duration that must be longer than zero, in nanoseconds.
fn positive_duration(v: Option<Spanned<Secs>>, path: &str) -> Result<Option<u64>, Invalid> {
    match v {
        Some(t) if t.get_ref().0 <= 0.0 => invalid(
            Some(t.span()),
            path.to_string(),
            "expected a duration longer than zero",
        ),
        t => Ok(t.map(|t| secs_to_nanos(t.get_ref().0))),
    }
}

fn budget(b: RawBudget, path: &str) -> Result<BudgetSpec, Invalid> {
    let fields = [
        ("max_tokens", span_of(&b.max_tokens)),
        ("token_ratio", span_of(&b.token_ratio)),
        ("ttl", span_of(&b.ttl)),
        ("min_retries_per_sec", span_of(&b.min_retries_per_sec)),
        ("percent_can_retry", span_of(&b.percent_can_retry)),
        ("budget_percent", span_of(&b.budget_percent)),
        ("min_retry_concurrency", span_of(&b.min_retry_concurrency)),
        ("initial", span_of(&b.initial)),
        ("throttle_cost", span_of(&b.throttle_cost)),
        ("retry_cost", span_of(&b.retry_cost)),
        ("timeout_cost", span_of(&b.timeout_cost)),
        ("no_retry_increment", span_of(&b.no_retry_increment)),
    ];
    let pos = |v: &Option<Spanned<Positive>>, d: f64| v.as_ref().map_or(d, |v| v.get_ref().0);
    let nonneg = |v: &Option<Spanned<NonNegative>>, d: f64| v.as_ref().map_or(d, |v| v.get_ref().0);
    let kind = (b.kind.span(), *b.kind.get_ref());
    match kind.1 {
        BudgetKind::Grpc => {
            let names = ["max_tokens", "token_ratio"];
            kind_fields(path, ("grpc", kind.0), &fields, &names, &names)?;
            Ok(BudgetSpec::Grpc {
                max_tokens: pos(&b.max_tokens, 1.0),
                token_ratio: pos(&b.token_ratio, 1.0),
            })
        }
        BudgetKind::Finagle => {
            let names = ["ttl", "min_retries_per_sec", "percent_can_retry"];
            kind_fields(path, ("finagle", kind.0), &fields, &[], &names)?;
            let BudgetSpec::Finagle {
                ttl_ns,
                min_retries_per_sec,
                percent_can_retry,
            } = BudgetSpec::FINAGLE_DEFAULT
            else {
                unreachable!("the Finagle default is a Finagle budget")
            };
            // Finagle's own bounds: 1 s <= ttl <= 60 s, 0 <= percent_can_retry <= 1000.
            if let Some(t) = &b.ttl
                && !(1.0..=60.0).contains(&t.get_ref().0)
            {
                return invalid(
                    Some(t.span()),
                    format!("{path}.ttl"),
                    format!(
                        "expected between 1s and 60s (Finagle's bounds), found {}s",
                        t.get_ref().0
                    ),
                );
            }
            if let Some(p) = &b.percent_can_retry
                && p.get_ref().0 > 1000.0
            {
                return invalid(
                    Some(p.span()),
                    format!("{path}.percent_can_retry"),
                    format!(
                        "expected at most 1000 (Finagle's bound), found {}",
                        p.get_ref().0
                    ),
                );
            }
            Ok(BudgetSpec::Finagle {
                ttl_ns: b
                    .ttl
                    .as_ref()
                    .map_or(ttl_ns, |t| secs_to_nanos(t.get_ref().0)),
                min_retries_per_sec: nonneg(&b.min_retries_per_sec, min_retries_per_sec),
                percent_can_retry: nonneg(&b.percent_can_retry, percent_can_retry),
            })
        }
        BudgetKind::Envoy => {
            let names = ["budget_percent", "min_retry_concurrency"];
            kind_fields(path, ("envoy", kind.0), &fields, &[], &names)?;
            let BudgetSpec::Envoy {
                budget_percent,
                min_retry_concurrency,
            } = BudgetSpec::ENVOY_DEFAULT
            else {
                unreachable!("the Envoy default is an Envoy budget")
            };
            Ok(BudgetSpec::Envoy {
                budget_percent: nonneg(&b.budget_percent, budget_percent),
                min_retry_concurrency: b
                    .min_retry_concurrency
                    .as_ref()
                    .map_or(min_retry_concurrency, |v| *v.get_ref()),
            })
        }
        BudgetKind::AwsStandard => {
            let names = [
                "initial",
                "throttle_cost",
                "retry_cost",
                "timeout_cost",
                "no_retry_increment",
            ];
            kind_fields(path, ("aws_standard", kind.0), &fields, &[], &names)?;
            let BudgetSpec::AwsStandard {
                initial,
                throttle_cost,
                retry_cost,
                timeout_cost,
                no_retry_increment,
            } = BudgetSpec::AWS_STANDARD
            else {
                unreachable!("the AWS default is an AWS budget")
            };
            Ok(BudgetSpec::AwsStandard {
                initial: pos(&b.initial, initial),
                throttle_cost: nonneg(&b.throttle_cost, throttle_cost),
                retry_cost: nonneg(&b.retry_cost, retry_cost),
                timeout_cost: nonneg(&b.timeout_cost, timeout_cost),
                no_retry_increment: nonneg(&b.no_retry_increment, no_retry_increment),
            })
        }
    }
}

fn breaker(b: Spanned<RawBreaker>, path: &str) -> Result<BreakerSpec, Invalid> {
    let span = b.span();
    let b = b.into_inner();
    let fields = [
        ("consecutive_failures", span_of(&b.consecutive_failures)),
        ("failure_ratio", span_of(&b.failure_ratio)),
        ("window", written(&b.window)),
        ("open", written(&b.open)),
        ("half_open_probes", written(&b.half_open_probes)),
    ];
    let failure_ratio = b.failure_ratio.as_ref().map(|r| FailureRatio {
        ratio: *r.get_ref(),
        min_requests: b.min_requests,
        window_ns: secs_to_nanos(b.window.get_ref().0),
    });
    BreakerSpec::new(
        b.consecutive_failures.as_ref().map(|c| *c.get_ref()),
        failure_ratio,
        secs_to_nanos(b.open.get_ref().0),
        *b.half_open_probes.get_ref(),
    )
    .map_err(|e| refused(e, path, &fields, span))
}

/// Hedging: the delay and the attempts, checked by the model.
fn hedge(h: Spanned<RawHedge>, path: &str) -> Result<HedgeSpec, Invalid> {
    let span = h.span();
    let h = h.into_inner();
    let fields = [
        ("delay", Some(h.delay.span())),
        ("max_attempts", written(&h.max_attempts)),
    ];
    HedgeSpec::new(
        secs_to_nanos(h.delay.get_ref().0),
        *h.max_attempts.get_ref(),
    )
    .map_err(|e| refused(e, path, &fields, span))
}

fn concurrency(c: RawConcurrency, path: &str) -> Result<ConcurrencySpec, Invalid> {
    let fields = [
        ("limit", span_of(&c.limit)),
        ("initial", span_of(&c.initial)),
        ("min", span_of(&c.min)),
        ("max", span_of(&c.max)),
        ("increase", span_of(&c.increase)),
        ("decrease_factor", span_of(&c.decrease_factor)),
        ("smoothing", span_of(&c.smoothing)),
        ("rtt_tolerance", span_of(&c.rtt_tolerance)),
        ("long_window", span_of(&c.long_window)),
        ("queue_size", span_of(&c.queue_size)),
    ];
    let kind_span = c.kind.span();
    let n = |v: &Option<Spanned<u32>>, d: u32| v.as_ref().map_or(d, |v| *v.get_ref());
    let f = |v: &Option<Spanned<f64>>, d: f64| v.as_ref().map_or(d, |v| *v.get_ref());
    let spec = match *c.kind.get_ref() {
        ConcurrencyKind::Static => {
            kind_fields(
                path,
                ("static", kind_span.clone()),
                &fields,
                &["limit"],
                &["limit"],
            )?;
            ConcurrencySpec::fixed(n(&c.limit, 1))
        }
        ConcurrencyKind::Aimd => {
            let names = ["initial", "min", "max", "increase", "decrease_factor"];
            kind_fields(path, ("aimd", kind_span.clone()), &fields, &[], &names)?;
            let d = Aimd::NETFLIX;
            let initial = n(&c.initial, d.initial);
            ConcurrencySpec::aimd(Aimd {
                initial,
                // An initial limit below Netflix's minimum lowers the minimum with it.
                min: n(&c.min, d.min.min(initial)),
                max: n(&c.max, d.max),
                increase: n(&c.increase, d.increase),
                decrease_factor: f(&c.decrease_factor, d.decrease_factor),
            })
        }
        ConcurrencyKind::Gradient2 => {
            let names = [
                "initial",
                "min",
                "max",
                "smoothing",
                "rtt_tolerance",
                "long_window",
                "queue_size",
            ];
            kind_fields(path, ("gradient2", kind_span.clone()), &fields, &[], &names)?;
            let d = Gradient2::NETFLIX;
            let initial = n(&c.initial, d.initial);
            ConcurrencySpec::gradient2(Gradient2 {
                initial,
                min: n(&c.min, d.min.min(initial)),
                max: n(&c.max, d.max),
                smoothing: f(&c.smoothing, d.smoothing),
                rtt_tolerance: f(&c.rtt_tolerance, d.rtt_tolerance),
                long_window: n(&c.long_window, d.long_window),
                queue_size: n(&c.queue_size, d.queue_size),
            })
        }
    };
    spec.map_err(|e| refused(e, path, &fields, kind_span))
}

fn throttle(t: RawThrottle, path: &str) -> Result<ThrottleSpec, Invalid> {
    let fields = [("k", span_of(&t.k)), ("window", span_of(&t.window))];
    match *t.kind.get_ref() {
        ThrottleKind::Sre => {
            kind_fields(path, ("sre", t.kind.span()), &fields, &[], &["k", "window"])?;
            let k = t.k.as_ref().map_or(SreThrottle::BOOK_K, |k| *k.get_ref());
            let window_ns = t.window.as_ref().map_or(SreThrottle::BOOK_WINDOW_NS, |w| {
                secs_to_nanos(w.get_ref().0)
            });
            ThrottleSpec::sre(k, window_ns).map_err(|e| refused(e, path, &fields, t.kind.span()))
        }
        ThrottleKind::AwsAdaptive => {
            kind_fields(path, ("aws_adaptive", t.kind.span()), &fields, &[], &[])?;
            Ok(ThrottleSpec::AwsAdaptive)
        }
    }
}

/// Checks that a kind-tagged table has the fields its kind needs and no others: `fields` lists
/// every field with its span when present.
pub(super) fn kind_fields(
    path: &str,
    kind: (&str, Range<usize>),
    fields: &[(&str, Option<Range<usize>>)],
    required: &[&str],
    allowed: &[&str],
) -> Result<(), Invalid> {
    let (kind_name, kind_span) = kind;
    for (name, span) in fields {
        if span.is_some() && !allowed.contains(name) {
            let takes = if allowed.is_empty() {
                "no other fields".to_string()
            } else {
                allowed.join(", ")
            };
            return invalid(
                span.clone(),
                format!("{path}.{name}"),
                format!("`{name}` does not apply to \"{kind_name}\" (it takes {takes})"),
            );
        }
    }
    for name in required {
        if fields.iter().any(|(n, span)| n == name && span.is_none()) {
            return invalid(
                Some(kind_span),
                path.to_string(),
                format!("\"{kind_name}\" needs `{name}`"),
            );
        }
    }
    Ok(())
}

/// Longest source or tenant name: tenant names are repeated for every tenant a source spreads
/// over, and printed in every table.
pub const MAX_NAME_BYTES: usize = 256;

/// The tenant of a trace's jobs that name none, until it is known whether any does.
const PENDING_TENANT: u32 = u32::MAX;

/// Registers `default` for the rows that name no tenant, if any; returns the source's tenant.
fn settle_default_tenant(rows: &mut [TraceRow], default: String, tenants: &mut Tenants) -> u32 {
    if rows.iter().any(|r| r.tenant == PENDING_TENANT) {
        let t = tenants.intern(default);
        for r in rows.iter_mut().filter(|r| r.tenant == PENDING_TENANT) {
            r.tenant = t;
        }
    }
    rows.first().map_or(0, |r| r.tenant)
}

fn span_of<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
    v.as_ref().map(|s| s.span())
}

fn arrival(a: RawArrival, path: &str) -> Result<Arrival, Invalid> {
    let fields = [
        ("count", span_of(&a.count)),
        ("at", span_of(&a.at)),
        ("rate", span_of(&a.rate)),
        ("until", span_of(&a.until)),
        ("every", span_of(&a.every)),
        ("amplitude", span_of(&a.amplitude)),
        ("period", span_of(&a.period)),
        ("peak", span_of(&a.peak)),
        ("file", span_of(&a.file)),
        ("tenant_attribute", span_of(&a.tenant_attribute)),
        ("job_by", span_of(&a.job_by)),
    ];
    let until_ns = a.until.as_ref().map(|u| secs_to_nanos(u.get_ref().0));
    let process_span = a.process.span();
    let needs_end = |count: &Option<(Range<usize>, u64)>| {
        if count.is_none() && until_ns.is_none() {
            invalid(
                Some(process_span.clone()),
                path.to_string(),
                "this arrival process needs `count` (jobs) or `until` (a duration) so that the run ends",
            )
        } else {
            Ok(())
        }
    };
    let count = a.count.map(|c| (c.span(), c.into_inner()));
    if let Some((span, n)) = &count
        && !(1..=MAX_JOBS).contains(n)
    {
        return invalid(
            Some(span.clone()),
            format!("{path}.count"),
            format!("expected from 1 to {MAX_JOBS} jobs, found {n}"),
        );
    }
    match *a.process.get_ref() {
        Process::Burst => {
            kind_fields(
                path,
                ("burst", a.process.span()),
                &fields,
                &[],
                &["count", "at"],
            )?;
            Ok(Arrival::Burst {
                count: count.map_or(1, |c| c.1),
                at_ns: a.at.map_or(0, |t| secs_to_nanos(t.get_ref().0)),
            })
        }
        Process::Interval => {
            kind_fields(
                path,
                ("interval", a.process.span()),
                &fields,
                &["every"],
                &["every", "at", "count", "until"],
            )?;
            needs_end(&count)?;
            let every = a.every.as_ref().map_or(0, |e| secs_to_nanos(e.get_ref().0));
            if every == 0 {
                return invalid(
                    span_of(&a.every),
                    format!("{path}.every"),
                    "expected an interval longer than zero",
                );
            }
            Ok(Arrival::Interval {
                every_ns: every,
                at_ns: a.at.as_ref().map_or(0, |t| secs_to_nanos(t.get_ref().0)),
                count: count.map(|c| c.1),
                until_ns,
            })
        }
        Process::Diurnal => {
            let names = ["rate", "amplitude", "period", "peak", "count", "until"];
            kind_fields(
                path,
                ("diurnal", a.process.span()),
                &fields,
                &["rate", "amplitude"],
                &names,
            )?;
            needs_end(&count)?;
            let amp = a
                .amplitude
                .as_ref()
                .expect("checked: diurnal has an amplitude");
            if !(0.0..=1.0).contains(amp.get_ref()) {
                return invalid(
                    Some(amp.span()),
                    format!("{path}.amplitude"),
                    format!("expected an amplitude in [0, 1], found {}", amp.get_ref()),
                );
            }
            // Thinning draws candidates at the peak rate: above the cap their gaps round to 0 ns.
            let rate = a.rate.as_ref().map_or(0.0, |r| r.get_ref().0);
            let peak_rate = rate * (1.0 + *amp.get_ref());
            if peak_rate > MAX_PEAK_RATE_PER_S {
                return invalid(
                    span_of(&a.rate),
                    format!("{path}.rate"),
                    format!(
                        "expected a peak rate, rate * (1 + amplitude), of at most {MAX_PEAK_RATE_PER_S:e} jobs/s, found {peak_rate:e}"
                    ),
                );
            }
            let period_ns = a
                .period
                .as_ref()
                .map_or(24 * 3600 * 1_000_000_000, |p| secs_to_nanos(p.get_ref().0));
            if period_ns == 0 {
                return invalid(
                    span_of(&a.period),
                    format!("{path}.period"),
                    "expected a period longer than zero",
                );
            }
            Ok(Arrival::Diurnal {
                mean_rate_per_s: a.rate.as_ref().map_or(0.0, |r| r.get_ref().0),
                amplitude: *amp.get_ref(),
                period_ns,
                peak_ns: a.peak.as_ref().map_or(0, |p| secs_to_nanos(p.get_ref().0)),
                count: count.map(|c| c.1),
                until_ns,
            })
        }
        Process::Trace => {
            kind_fields(
                path,
                ("trace", a.process.span()),
                &fields,
                &["file"],
                &["file"],
            )?;
            // The rows are read by the caller, which knows the tenants and templates.
            Ok(Arrival::Trace(Vec::new()))
        }
        Process::Otel => {
            kind_fields(
                path,
                ("otel", a.process.span()),
                &fields,
                &["file"],
                &["file", "tenant_attribute", "job_by"],
            )?;
            // The spans are read by the caller, which knows the tenants and the nodes.
            Ok(Arrival::Trace(Vec::new()))
        }
        Process::Poisson => {
            kind_fields(
                path,
                ("poisson", a.process.span()),
                &fields,
                &["rate"],
                &["rate", "count", "until"],
            )?;
            if count.is_none() && a.until.is_none() {
                return invalid(
                    Some(a.process.span()),
                    path.to_string(),
                    "a poisson arrival needs `count` (jobs) or `until` (a duration) so that the run ends",
                );
            }
            Ok(Arrival::Poisson {
                rate_per_s: a.rate.map_or(0.0, |r| r.get_ref().0),
                count: count.map(|c| c.1),
                until_ns: a.until.map(|u| secs_to_nanos(u.get_ref().0)),
            })
        }
    }
}

fn secs(v: &Option<Spanned<Secs>>) -> Option<f64> {
    v.as_ref().map(|s| s.get_ref().0)
}

fn retry_layer(r: RawRetry, i: usize) -> Result<RetryLayer, Invalid> {
    let path = format!("policy[{i}].retry");
    if *r.max_attempts.get_ref() == 0 {
        return invalid(
            Some(r.max_attempts.span()),
            format!("{path}.max_attempts"),
            "expected at least 1 (the first attempt counts), found 0",
        );
    }
    let jitter_span = r.jitter.span();
    let mut jitter = *r.jitter.get_ref();
    let mut additive = None;
    let backoff = match r.wait {
        None => Backoff::None,
        Some(w) => {
            let wait_path = format!("{path}.wait");
            let fields = [
                ("wait", span_of(&w.wait)),
                ("multiplier", span_of(&w.multiplier)),
                ("max", span_of(&w.max)),
                ("min", span_of(&w.min)),
                ("exp_base", span_of(&w.exp_base)),
                ("initial", span_of(&w.initial)),
                ("jitter", span_of(&w.jitter)),
            ];
            let kind = w.kind.span();
            let max_s = secs(&w.max).unwrap_or(f64::INFINITY);
            let min_s = secs(&w.min).unwrap_or(0.0);
            match *w.kind.get_ref() {
                WaitKind::None => {
                    kind_fields(&wait_path, ("none", kind), &fields, &[], &[])?;
                    Backoff::None
                }
                WaitKind::Fixed => {
                    kind_fields(&wait_path, ("fixed", kind), &fields, &["wait"], &["wait"])?;
                    Backoff::Fixed {
                        wait_s: secs(&w.wait).unwrap_or(0.0),
                    }
                }
                WaitKind::Exponential => {
                    kind_fields(
                        &wait_path,
                        ("exponential", kind),
                        &fields,
                        &["multiplier"],
                        &["multiplier", "max", "min", "exp_base"],
                    )?;
                    Backoff::Exponential {
                        multiplier_s: secs(&w.multiplier).unwrap_or(0.0),
                        max_s,
                        min_s,
                        exp_base: w.exp_base.as_ref().map_or(2.0, |b| b.get_ref().0),
                    }
                }
                WaitKind::RandomExponential => {
                    kind_fields(
                        &wait_path,
                        ("random_exponential", kind),
                        &fields,
                        &["multiplier"],
                        &["multiplier", "max", "min"],
                    )?;
                    if jitter != RawJitter::None {
                        return invalid(
                            Some(jitter_span),
                            format!("{path}.jitter"),
                            "random_exponential already applies full jitter (tenacity wait_random_exponential); remove `jitter` or use kind = \"exponential\"",
                        );
                    }
                    jitter = RawJitter::Full;
                    Backoff::Exponential {
                        multiplier_s: secs(&w.multiplier).unwrap_or(0.0),
                        max_s,
                        min_s,
                        exp_base: 2.0,
                    }
                }
                WaitKind::ExponentialJitter => {
                    kind_fields(
                        &wait_path,
                        ("exponential_jitter", kind),
                        &fields,
                        &[],
                        &["initial", "max", "exp_base", "jitter"],
                    )?;
                    if jitter != RawJitter::None {
                        return invalid(
                            Some(jitter_span),
                            format!("{path}.jitter"),
                            "exponential_jitter adds its own jitter (tenacity wait_exponential_jitter, `wait.jitter`); remove the layer's `jitter`",
                        );
                    }
                    // tenacity's defaults: initial 1 s, jitter 1 s, exp_base 2, no cap.
                    additive = Some(Jitter::Additive {
                        jitter_s: secs(&w.jitter).unwrap_or(1.0),
                        max_s,
                    });
                    Backoff::Exponential {
                        multiplier_s: secs(&w.initial).unwrap_or(1.0),
                        max_s,
                        min_s: 0.0,
                        exp_base: w.exp_base.as_ref().map_or(2.0, |b| b.get_ref().0),
                    }
                }
            }
        }
    };
    if jitter == RawJitter::Decorrelated && !matches!(backoff, Backoff::Exponential { .. }) {
        return invalid(
            Some(jitter_span),
            format!("{path}.jitter"),
            "decorrelated jitter needs wait.kind = \"exponential\" (its multiplier is the base, its max the cap)",
        );
    }
    Ok(RetryLayer {
        name: "retry",
        max_attempts: r.max_attempts.into_inner(),
        backoff,
        jitter: match jitter {
            RawJitter::None => additive.unwrap_or(Jitter::None),
            RawJitter::Full => Jitter::Full,
            RawJitter::Equal => Jitter::Equal,
            RawJitter::Decorrelated => Jitter::Decorrelated,
        },
        retry_after_max_s: r.honor_retry_after.then_some(r.max_retry_after.0),
        retry_on: retry_on(r.retry_on),
        through_admission: true,
    })
}
