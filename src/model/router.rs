//! Routing over several providers: which provider an attempt goes to, when a call falls back to
//! the next one, and which providers sit out a cooldown.
//!
//! The model follows the LiteLLM router (docs.litellm.ai, "Routing" and "Retries, fallbacks and
//! cooldowns"): a group of targets balanced by a strategy, ordered fallbacks tried after the group,
//! and a cooldown that takes a target that keeps failing out of every pick for a while.
//!
//! Layers, innermost first (see `World::attempt_failed`):
//! 1. the policy's `sdk` layer retries on the same target (an SDK client is bound to one
//!    endpoint; LiteLLM sets it to 0 retries, which here means leaving `sdk` out);
//! 2. the router falls back: once `fallback_after` attempts have failed on the current hop with
//!    a failure in `fallback_on`, the next attempt goes at once to the next hop;
//! 3. the policy's `retry` layer (the application's retries, with their backoff) retries within
//!    the current hop, picking again, or from the first hop once every hop has had its turn.
//!
//! Retry budgets and deadlines see a fallback as the retry it is.

use super::config::{LimitKind, Provider, Resource, SpecError, refuse};
use super::retry::RetryOn;
use crate::engine::SimTime;
use crate::engine::time::nanos_to_secs;

/// Most providers one scenario may declare: a call names its provider in a byte.
pub const MAX_PROVIDERS: usize = 64;

/// Answers kept per provider for latency-based routing (LiteLLM's `max_latency_list_size`).
const LATENCY_SAMPLES: usize = 10;

/// One minute: the window of cooldown failure counts and of usage-based routing.
const MINUTE_NS: u64 = 60_000_000_000;

/// How the router picks among the targets of its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// LiteLLM `simple-shuffle`: at random, weighted by `weights`, else by each provider's
    /// requests-per-minute limit, else its tokens-per-minute limit, else evenly.
    SimpleShuffle,
    /// Each target in turn.
    RoundRobin,
    /// LiteLLM `least-busy`: the target with the fewest of the client's attempts in flight
    /// (the first such in the list on a tie).
    LeastBusy,
    /// LiteLLM `latency-based-routing`: the target with the lowest mean latency over its last
    /// 10 answered attempts (timeouts count at the time waited); a target not yet tried counts
    /// as 0 s, so every target is tried once.
    LatencyBased,
    /// LiteLLM `usage-based-routing`: the target whose use of its limits in the current minute
    /// (tokens estimated as `prompt + max_tokens`, and requests, over its per-minute limits) is
    /// lowest.
    UsageBased,
}

impl Strategy {
    /// Every strategy with its name in scenario files.
    pub const NAMES: [(&'static str, Strategy); 5] = [
        ("simple-shuffle", Strategy::SimpleShuffle),
        ("round-robin", Strategy::RoundRobin),
        ("least-busy", Strategy::LeastBusy),
        ("latency-based", Strategy::LatencyBased),
        ("usage-based", Strategy::UsageBased),
    ];
}

/// LiteLLM's cooldown: a provider that keeps failing (429, 5xx or timeout) sits out every pick
/// for `cooldown_ns`. When it keeps failing is LiteLLM's rule (`router_utils/cooldown_handlers.py`):
/// - with `allowed_fails` set (LiteLLM's v1 rule): more than `allowed_fails` failures within the
///   current minute;
/// - without (its default, v2): a 429 from a provider of a group of several; or more than half of
///   the minute's attempts failed, at least 5 of them, in a group of several; or every attempt of
///   the minute failed, at least 1,000 of them, whatever the group. A provider alone in its hop
///   (a one-target group, or a fallback) is spared the first two: cooling down the only choice
///   just fails the next request sooner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cooldown {
    pub allowed_fails: Option<u32>,
    pub cooldown_ns: u64,
}

/// LiteLLM's `DEFAULT_FAILURE_THRESHOLD_PERCENT`, `DEFAULT_FAILURE_THRESHOLD_MINIMUM_REQUESTS`
/// and `SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD`.
const FAILURE_RATIO: f64 = 0.5;
const FAILURE_RATIO_MIN_ATTEMPTS: u32 = 5;
const ALL_FAILED_MIN_ATTEMPTS: u32 = 1_000;

/// A policy's routing, built by [`RouteSpec::new`]. Hop 0 is the group `targets`; hop `k` is
/// `fallbacks[k - 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteSpec {
    pub(super) strategy: Strategy,
    /// The group's providers, by index.
    pub(super) targets: Vec<u8>,
    /// Simple-shuffle weights, one per target (filled from the limits when not given).
    pub(super) weights: Vec<f64>,
    /// Providers tried in order after the group.
    pub(super) fallbacks: Vec<u8>,
    /// The failures that move a call to its next hop.
    pub(super) fallback_on: RetryOn,
    /// Failed attempts on one hop before the call moves on.
    pub(super) fallback_after: u32,
    pub(super) cooldown: Option<Cooldown>,
}

impl RouteSpec {
    /// A route over `providers` (the scenario's, by index): refused unless every target and
    /// fallback names a provider, none appears twice, weights (when given) are one positive
    /// number per target, and the cooldown (when given) lasts longer than zero.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        providers: &[Provider],
        strategy: Strategy,
        targets: Vec<usize>,
        weights: Option<Vec<f64>>,
        fallbacks: Vec<usize>,
        fallback_on: RetryOn,
        fallback_after: u32,
        cooldown: Option<Cooldown>,
    ) -> Result<RouteSpec, SpecError> {
        if targets.is_empty() {
            return refuse("targets", "at least one provider name", "none");
        }
        let mut seen = Vec::new();
        for &i in targets.iter().chain(&fallbacks) {
            if i >= providers.len() {
                return refuse("targets", "a provider of the scenario", i);
            }
            if seen.contains(&i) {
                return refuse(
                    "fallbacks",
                    "each provider once among targets and fallbacks",
                    format_args!("\"{}\" twice", providers[i].name),
                );
            }
            seen.push(i);
        }
        let weights = match weights {
            Some(w) if w.len() != targets.len() => {
                return refuse(
                    "weights",
                    format!("one weight per target ({})", targets.len()),
                    format_args!("{} weights", w.len()),
                );
            }
            Some(w) => {
                for &x in &w {
                    super::config::positive("weights", x)?;
                }
                w
            }
            None => targets
                .iter()
                .map(|&i| default_weight(&providers[i]))
                .collect(),
        };
        if fallback_after == 0 {
            return refuse("fallback_after", "at least 1 failed attempt", 0);
        }
        if let Some(c) = cooldown {
            super::config::longer_than_zero(
                "cooldown",
                c.cooldown_ns,
                "a cooldown longer than zero",
            )?;
        }
        Ok(RouteSpec {
            strategy,
            targets: targets.into_iter().map(|i| i as u8).collect(),
            weights,
            fallbacks: fallbacks.into_iter().map(|i| i as u8).collect(),
            fallback_on,
            fallback_after,
            cooldown,
        })
    }

    /// Hops a call may take in one pass: the group, then each fallback.
    #[inline]
    pub fn hops(&self) -> usize {
        1 + self.fallbacks.len()
    }

    /// The providers this route may send to.
    pub fn providers(&self) -> impl Iterator<Item = usize> + '_ {
        self.targets
            .iter()
            .chain(&self.fallbacks)
            .map(|&i| i as usize)
    }

    /// How the group's target is picked.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The group's providers, by index.
    pub fn targets(&self) -> impl Iterator<Item = usize> + '_ {
        self.targets.iter().map(|&i| i as usize)
    }

    /// The fallback providers, in order, by index.
    pub fn fallbacks(&self) -> impl Iterator<Item = usize> + '_ {
        self.fallbacks.iter().map(|&i| i as usize)
    }

    /// The failures that move a call on.
    pub fn fallback_on(&self) -> RetryOn {
        self.fallback_on
    }

    /// The cooldown, if any.
    pub fn cooldown(&self) -> Option<Cooldown> {
        self.cooldown
    }

    /// Whether `failure` moves a call to its next hop.
    #[inline]
    pub fn falls_back_on(&self, failure: super::retry::Failure) -> bool {
        self.fallback_on.covers(failure)
    }

    /// Failed attempts on one hop before the call moves on.
    #[inline]
    pub fn fallback_after(&self) -> u32 {
        self.fallback_after
    }
}

/// LiteLLM's default weight of a deployment: its rpm, else its tpm, else 1.
fn default_weight(p: &Provider) -> f64 {
    let per_minute = |resource: Resource| per_minute(p, resource);
    per_minute(Resource::Requests)
        .or_else(|| per_minute(Resource::Tokens))
        .or_else(|| per_minute(Resource::InputTokens))
        .unwrap_or(1.0)
}

/// The per-minute capacity of `p`'s first limit on `resource`, if it has one.
fn per_minute(p: &Provider, resource: Resource) -> Option<f64> {
    p.limits
        .iter()
        .find(|l| l.resource() == resource)
        .map(|l| match l.kind() {
            LimitKind::TokenBucket { rate_per_s, .. } => rate_per_s * 60.0,
            LimitKind::FixedWindow { limit, window_ns }
            | LimitKind::SlidingWindow { limit, window_ns } => {
                limit * 60.0 / nanos_to_secs(window_ns)
            }
        })
}

/// What the router knows of one provider.
#[derive(Clone, Debug, Default)]
struct Health {
    /// The minute (since the start) `fails` and `successes` count.
    fails_minute: u64,
    fails: u32,
    successes: u32,
    /// End of its current cooldown (none when in the past).
    cooling_until: SimTime,
    /// Latencies of its last answered attempts, seconds (a ring).
    latencies: [f64; LATENCY_SAMPLES],
    latency_count: usize,
    /// The minute `used_tokens` and `used_requests` count.
    usage_minute: u64,
    used_tokens: f64,
    used_requests: f64,
    /// Per-minute limits, for usage-based routing (`None`: unlimited).
    tokens_per_min: Option<f64>,
    requests_per_min: Option<f64>,
}

impl Health {
    fn mean_latency(&self) -> f64 {
        let n = self.latency_count.min(LATENCY_SAMPLES);
        if n == 0 {
            0.0
        } else {
            self.latencies[..n].iter().sum::<f64>() / n as f64
        }
    }

    fn usage(&mut self, now: SimTime) -> f64 {
        if self.usage_minute != now.0 / MINUTE_NS {
            return 0.0;
        }
        let tokens = self.tokens_per_min.map_or(0.0, |c| self.used_tokens / c);
        let requests = self
            .requests_per_min
            .map_or(0.0, |c| self.used_requests / c);
        tokens.max(requests)
    }
}

/// A cooldown that began: the provider and how long it sits out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CooledDown {
    pub provider: usize,
    pub ns: u64,
}

/// The router's state during one run.
pub struct Router {
    health: Vec<Health>,
    next_in_turn: usize,
}

/// Where an attempt goes: its hop and provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    pub hop: u8,
    pub provider: u8,
}

impl Router {
    pub fn new(providers: &[Provider]) -> Router {
        Router {
            health: providers
                .iter()
                .map(|p| Health {
                    tokens_per_min: per_minute(p, Resource::Tokens)
                        .or_else(|| per_minute(p, Resource::InputTokens)),
                    requests_per_min: per_minute(p, Resource::Requests),
                    ..Health::default()
                })
                .collect(),
            next_in_turn: 0,
        }
    }

    /// Whether `provider` sits out a cooldown at `now`.
    #[inline]
    pub fn cooling(&self, provider: usize, now: SimTime) -> bool {
        self.health[provider].cooling_until > now
    }

    /// When the first cooldown among `route`'s providers ends (for the Retry-After of a call
    /// no provider can take).
    pub fn first_back(&self, route: &RouteSpec) -> SimTime {
        route
            .providers()
            .map(|p| self.health[p].cooling_until)
            .min()
            .unwrap_or(SimTime::ZERO)
    }

    /// Picks where an attempt goes, from hop `from` on: the first hop with a target out of
    /// cooldown, and within the group the strategy's choice. `None` when every provider of the
    /// route from `from` on sits out a cooldown. `u` is a uniform draw for simple-shuffle;
    /// `busy(p)` the client's attempts in flight at provider `p`.
    pub fn pick(
        &mut self,
        route: &RouteSpec,
        now: SimTime,
        from: usize,
        u: impl FnOnce() -> f64,
        busy: impl Fn(usize) -> u32,
    ) -> Option<Pick> {
        if from == 0
            && let Some(p) = self.pick_in_group(route, now, u, busy)
        {
            return Some(Pick {
                hop: 0,
                provider: p as u8,
            });
        }
        (from.max(1)..route.hops()).find_map(|hop| {
            let p = route.fallbacks[hop - 1] as usize;
            (!self.cooling(p, now)).then_some(Pick {
                hop: hop as u8,
                provider: p as u8,
            })
        })
    }

    fn pick_in_group(
        &mut self,
        route: &RouteSpec,
        now: SimTime,
        u: impl FnOnce() -> f64,
        busy: impl Fn(usize) -> u32,
    ) -> Option<usize> {
        // Targets out of cooldown, as bits (at most MAX_PROVIDERS = 64).
        let mask = route
            .targets
            .iter()
            .enumerate()
            .filter(|&(_, &p)| !self.cooling(p as usize, now))
            .fold(0u64, |m, (i, _)| m | 1 << i);
        let open = |i: &usize| mask >> *i & 1 == 1;
        let n = route.targets.len();
        if n == 1 {
            return open(&0).then_some(route.targets[0] as usize);
        }
        let chosen = match route.strategy {
            Strategy::SimpleShuffle => {
                let total: f64 = (0..n).filter(open).map(|i| route.weights[i]).sum();
                if total <= 0.0 {
                    return None;
                }
                let mut x = u() * total;
                let mut last = None;
                for i in (0..n).filter(open) {
                    last = Some(i);
                    if x < route.weights[i] {
                        break;
                    }
                    x -= route.weights[i];
                }
                last
            }
            Strategy::RoundRobin => {
                let start = self.next_in_turn;
                let i = (0..n).map(|k| (start + k) % n).find(open);
                if let Some(i) = i {
                    self.next_in_turn = (i + 1) % n;
                }
                i
            }
            Strategy::LeastBusy => (0..n)
                .filter(open)
                .min_by_key(|&i| busy(route.targets[i] as usize)),
            Strategy::LatencyBased => (0..n).filter(open).min_by(|&a, &b| {
                let la = self.health[route.targets[a] as usize].mean_latency();
                let lb = self.health[route.targets[b] as usize].mean_latency();
                la.total_cmp(&lb)
            }),
            Strategy::UsageBased => {
                let mut best: Option<(usize, f64)> = None;
                for i in (0..n).filter(open) {
                    let use_ = self.health[route.targets[i] as usize].usage(now);
                    if best.is_none_or(|(_, b)| use_ < b) {
                        best = Some((i, use_));
                    }
                }
                best.map(|(i, _)| i)
            }
        };
        chosen.map(|i| route.targets[i] as usize)
    }

    /// An attempt of `tokens` (the estimate `prompt + max_tokens`) went to `provider` at `now`.
    #[inline]
    pub fn sent(&mut self, provider: usize, now: SimTime, tokens: f64) {
        let h = &mut self.health[provider];
        let minute = now.0 / MINUTE_NS;
        if h.usage_minute != minute {
            h.usage_minute = minute;
            h.used_tokens = 0.0;
            h.used_requests = 0.0;
        }
        h.used_tokens += tokens;
        h.used_requests += 1.0;
    }

    /// An attempt at `provider` took `latency_s` (answered, or given up at a timeout).
    #[inline]
    pub fn latency(&mut self, provider: usize, latency_s: f64) {
        let h = &mut self.health[provider];
        h.latencies[h.latency_count % LATENCY_SAMPLES] = latency_s;
        h.latency_count += 1;
    }

    /// The current minute's counts of `provider` at `now`.
    fn this_minute(&mut self, provider: usize, now: SimTime) -> &mut Health {
        let h = &mut self.health[provider];
        let minute = now.0 / MINUTE_NS;
        if h.fails_minute != minute {
            h.fails_minute = minute;
            h.fails = 0;
            h.successes = 0;
        }
        h
    }

    /// `provider` answered an attempt at `now`.
    #[inline]
    pub fn succeeded(&mut self, provider: usize, now: SimTime) {
        self.this_minute(provider, now).successes += 1;
    }

    /// An attempt at `provider` failed at `now` (`rate_limited`: with a 429): when it keeps
    /// failing by [`Cooldown`]'s rule the provider starts a cooldown, returned (one already
    /// cooling is left as it is).
    pub fn failed(
        &mut self,
        route: &RouteSpec,
        provider: usize,
        now: SimTime,
        rate_limited: bool,
    ) -> Option<CooledDown> {
        let c = route.cooldown?;
        let in_a_group = route.targets.len() > 1 && route.targets.contains(&(provider as u8));
        let h = self.this_minute(provider, now);
        h.fails += 1;
        if h.cooling_until > now {
            return None;
        }
        let total = h.fails + h.successes;
        let ratio = h.fails as f64 / total as f64;
        let keeps_failing = match c.allowed_fails {
            Some(allowed) => h.fails > allowed,
            None => {
                (rate_limited && in_a_group)
                    || (ratio >= 1.0 && total >= ALL_FAILED_MIN_ATTEMPTS)
                    || (ratio > FAILURE_RATIO && total >= FAILURE_RATIO_MIN_ATTEMPTS && in_a_group)
            }
        };
        if !keeps_failing {
            return None;
        }
        h.cooling_until = now.after(c.cooldown_ns);
        Some(CooledDown {
            provider,
            ns: c.cooldown_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::NANOS_PER_SEC as S;
    use crate::model::config::Limit;

    fn provider(name: &str, rpm: Option<f64>) -> Provider {
        let mut p = crate::scenario::parse(
            "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n[[source]]\nname = \"s\"\narrival = { process = \"burst\", count = 1 }\ntemplate = \"t\"\n[templates.t]\nkind = \"call\"\nprompt_tokens = 1\nmax_tokens = 1\noutput_tokens = 1\n[[policy]]\nname = \"p\"\n",
            "t.toml",
        )
        .unwrap()
        .providers[0]
            .clone();
        p.name = name.into();
        if let Some(r) = rpm {
            p.limits = vec![
                Limit::new(
                    Resource::Requests,
                    LimitKind::TokenBucket {
                        rate_per_s: r / 60.0,
                        burst: r,
                    },
                )
                .unwrap(),
            ];
        }
        p
    }

    fn route(
        strategy: Strategy,
        targets: Vec<usize>,
        cooldown: Option<Cooldown>,
    ) -> (Vec<Provider>, RouteSpec) {
        let ps = vec![
            provider("a", Some(300.0)),
            provider("b", Some(100.0)),
            provider("c", None),
        ];
        let r = RouteSpec::new(
            &ps,
            strategy,
            targets,
            None,
            vec![2],
            RetryOn::ALL,
            1,
            cooldown,
        )
        .unwrap();
        (ps, r)
    }

    #[test]
    fn simple_shuffle_weighs_targets_by_their_requests_per_minute() {
        // Weights 300 and 100: a draw below 0.75 picks a, above it b.
        let (ps, r) = route(Strategy::SimpleShuffle, vec![0, 1], None);
        let mut router = Router::new(&ps);
        let pick =
            |router: &mut Router, u: f64| router.pick(&r, SimTime(0), 0, || u, |_| 0).unwrap();
        assert_eq!(pick(&mut router, 0.0).provider, 0);
        assert_eq!(pick(&mut router, 0.7499).provider, 0);
        assert_eq!(pick(&mut router, 0.75).provider, 1);
        assert_eq!(pick(&mut router, 0.9999).provider, 1);
    }

    #[test]
    fn round_robin_takes_each_target_in_turn_and_skips_one_cooling_down() {
        let cd = Cooldown {
            allowed_fails: Some(0),
            cooldown_ns: 10 * S,
        };
        let (ps, r) = route(Strategy::RoundRobin, vec![0, 1], Some(cd));
        let mut router = Router::new(&ps);
        let next = |router: &mut Router, t: u64| {
            router
                .pick(&r, SimTime(t), 0, || 0.0, |_| 0)
                .unwrap()
                .provider
        };
        assert_eq!(
            [
                next(&mut router, 0),
                next(&mut router, 0),
                next(&mut router, 0)
            ],
            [0, 1, 0]
        );
        // One failure over allowed_fails = 0: b sits out 10 s.
        assert_eq!(
            router.failed(&r, 1, SimTime(S), true),
            Some(CooledDown {
                provider: 1,
                ns: 10 * S
            })
        );
        assert_eq!([next(&mut router, 2 * S), next(&mut router, 2 * S)], [0, 0]);
        assert_eq!(next(&mut router, 11 * S), 1);
    }

    #[test]
    fn a_group_all_cooling_down_falls_back_and_none_left_is_none() {
        let cd = Cooldown {
            allowed_fails: Some(1),
            cooldown_ns: 5 * S,
        };
        let (ps, r) = route(Strategy::LeastBusy, vec![0, 1], Some(cd));
        let mut router = Router::new(&ps);
        for p in [0, 1] {
            // allowed_fails = 1: the second failure in the minute starts the cooldown.
            assert_eq!(router.failed(&r, p, SimTime(0), true), None);
            assert!(router.failed(&r, p, SimTime(0), true).is_some());
        }
        assert_eq!(
            router.pick(&r, SimTime(S), 0, || 0.0, |_| 0),
            Some(Pick {
                hop: 1,
                provider: 2
            })
        );
        router.failed(&r, 2, SimTime(S), true);
        router.failed(&r, 2, SimTime(S), true);
        assert_eq!(router.pick(&r, SimTime(S), 0, || 0.0, |_| 0), None);
        assert_eq!(router.first_back(&r), SimTime(5 * S));
    }

    #[test]
    fn failures_in_another_minute_do_not_add_up() {
        let cd = Cooldown {
            allowed_fails: Some(1),
            cooldown_ns: 5 * S,
        };
        let (ps, r) = route(Strategy::LeastBusy, vec![0, 1], Some(cd));
        let mut router = Router::new(&ps);
        assert_eq!(router.failed(&r, 0, SimTime(59 * S), true), None);
        assert_eq!(router.failed(&r, 0, SimTime(61 * S), true), None);
        assert!(router.failed(&r, 0, SimTime(62 * S), true).is_some());
    }

    #[test]
    fn litellm_default_rules_cool_a_group_member_on_a_429_and_spare_a_provider_alone() {
        let cd = Cooldown {
            allowed_fails: None,
            cooldown_ns: 5 * S,
        };
        // a and b form the group, c is the fallback.
        let (ps, r) = route(Strategy::RoundRobin, vec![0, 1], Some(cd));
        let mut router = Router::new(&ps);
        assert!(
            router.failed(&r, 0, SimTime(0), true).is_some(),
            "a 429 in a group of two"
        );
        // A 500 cools b only past half of at least 5 attempts in the minute failing.
        for _ in 0..2 {
            router.succeeded(1, SimTime(0));
        }
        assert_eq!(router.failed(&r, 1, SimTime(0), false), None); // 1 of 3
        assert_eq!(router.failed(&r, 1, SimTime(0), false), None); // 2 of 4
        assert!(router.failed(&r, 1, SimTime(0), false).is_some()); // 3 of 5
        // The fallback is alone in its hop: 999 straight failures spare it, the 1,000th not.
        for _ in 0..999 {
            assert_eq!(router.failed(&r, 2, SimTime(0), true), None);
        }
        assert!(router.failed(&r, 2, SimTime(0), true).is_some());
    }

    #[test]
    fn least_busy_latency_and_usage_pick_as_their_names_say() {
        let (ps, r) = route(Strategy::LeastBusy, vec![0, 1], None);
        let mut router = Router::new(&ps);
        let busy = |p: usize| [5, 2, 0][p];
        assert_eq!(
            router
                .pick(&r, SimTime(0), 0, || 0.0, busy)
                .unwrap()
                .provider,
            1
        );

        let (ps, r) = route(Strategy::LatencyBased, vec![0, 1], None);
        let mut router = Router::new(&ps);
        // Untried targets count as 0 s: a first, then b (a has 2 s), then a (mean 1.5 < 3).
        assert_eq!(
            router
                .pick(&r, SimTime(0), 0, || 0.0, |_| 0)
                .unwrap()
                .provider,
            0
        );
        router.latency(0, 2.0);
        assert_eq!(
            router
                .pick(&r, SimTime(0), 0, || 0.0, |_| 0)
                .unwrap()
                .provider,
            1
        );
        router.latency(1, 3.0);
        router.latency(0, 1.0);
        assert_eq!(
            router
                .pick(&r, SimTime(0), 0, || 0.0, |_| 0)
                .unwrap()
                .provider,
            0
        );

        let (ps, r) = route(Strategy::UsageBased, vec![0, 1], None);
        let mut router = Router::new(&ps);
        // a: 300 rpm, b: 100 rpm. 2 requests to a (2/300) against 1 to b (1/100): a.
        router.sent(0, SimTime(0), 10.0);
        router.sent(0, SimTime(0), 10.0);
        router.sent(1, SimTime(0), 10.0);
        assert_eq!(
            router
                .pick(&r, SimTime(S), 0, || 0.0, |_| 0)
                .unwrap()
                .provider,
            0
        );
        // A new minute starts from nothing: the first target.
        assert_eq!(
            router
                .pick(&r, SimTime(61 * S), 0, || 0.0, |_| 0)
                .unwrap()
                .provider,
            0
        );
    }

    #[test]
    fn a_route_naming_a_provider_twice_or_without_targets_is_refused() {
        let ps = vec![provider("a", None), provider("b", None)];
        let e = RouteSpec::new(
            &ps,
            Strategy::SimpleShuffle,
            vec![0],
            None,
            vec![0],
            RetryOn::ALL,
            1,
            None,
        )
        .unwrap_err();
        assert_eq!(e.field, Some("fallbacks"));
        assert_eq!(e.found, "\"a\" twice");
        let e = RouteSpec::new(
            &ps,
            Strategy::SimpleShuffle,
            vec![],
            None,
            vec![],
            RetryOn::ALL,
            1,
            None,
        )
        .unwrap_err();
        assert_eq!(e.field, Some("targets"));
        let e = RouteSpec::new(
            &ps,
            Strategy::SimpleShuffle,
            vec![0, 1],
            Some(vec![1.0]),
            vec![],
            RetryOn::ALL,
            1,
            None,
        )
        .unwrap_err();
        assert_eq!(e.field, Some("weights"));
    }
}
