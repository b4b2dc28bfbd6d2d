//! Routing over several providers against hand-computed sequences and counts: fallbacks, the
//! order of the retry layers around them, the balancing strategies, cooldowns, retry budgets
//! and per-provider spend. Each test states the timeline it expects.

use stampede::metrics::{Metrics, ProviderMetrics};
use stampede::model::world::{RunOutput, simulate_full};
use stampede::scenario::parse;

/// A provider that answers every attempt at once with a 503.
const DOWN: &str = "ttft = \"1s\"\noutage = [{ start = \"0s\", end = \"1h\" }]";
/// A provider that answers every attempt after exactly 1 s.
const UP: &str = "ttft = \"1s\"";
/// One-call jobs of 100 + 100 tokens generating nothing: served in exactly `ttft`.
const JOB: &str = "prompt_tokens = 100\nmax_tokens = 100\noutput_tokens = 0";

/// Providers `a` and `b` (their fields), jobs arriving as `arrival`, one policy.
fn two(a: &str, b: &str, arrival: &str, policy: &str) -> String {
    format!(
        "[scenario]\nname = \"t\"\nseed = 1\ntimeseries_interval = \"1s\"\n\
         [[provider]]\nname = \"a\"\n{a}\n[[provider]]\nname = \"b\"\n{b}\n\
         [[source]]\nname = \"s\"\narrival = {arrival}\n[source.job]\n{JOB}\n\
         [[policy]]\nname = \"p\"\n{policy}\n"
    )
}

fn sim(text: &str) -> RunOutput {
    stampede::model::conservation::force();
    let scenario = parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    simulate_full(&scenario, &scenario.policies[0], scenario.seed, true).unwrap()
}

/// The run's metrics and those of providers a and b.
fn run(
    a: &str,
    b: &str,
    arrival: &str,
    policy: &str,
) -> (Metrics, ProviderMetrics, ProviderMetrics) {
    let out = sim(&two(a, b, arrival, policy));
    assert_eq!(out.providers.len(), 2);
    let [pa, pb] = [out.providers[0].clone(), out.providers[1].clone()];
    (out.metrics, pa, pb)
}

const ONE: &str = "{ process = \"burst\", count = 1 }";

#[test]
fn a_failed_attempt_falls_back_to_the_next_provider_at_once() {
    // t=0: a answers 503 at once; the fallback goes to b at t=0 (no backoff), answered at 1 s.
    let (m, a, b) = run(
        DOWN,
        UP,
        ONE,
        "route = { targets = [\"a\"], fallbacks = [\"b\"] }",
    );
    assert_eq!((a.attempts, a.server_errors, a.answered), (1.0, 1.0, 0.0));
    assert_eq!((b.attempts, b.answered, b.fallbacks_in), (1.0, 1.0, 1.0));
    assert_eq!(a.fallbacks_in, 0.0);
    assert_eq!((m.attempts, m.retries, m.calls_ok), (2.0, 1.0, 1.0));
    assert_eq!(m.call_latency_max_s, 1.0);
    assert_eq!(m.makespan_s, 1.0);
}

#[test]
fn without_fallbacks_a_route_with_one_target_gives_up_like_no_route() {
    let (m, a, b) = run(DOWN, UP, ONE, "route = { targets = [\"a\"] }");
    assert_eq!((a.attempts, b.attempts), (1.0, 0.0));
    assert_eq!((m.gave_up, m.retries), (1.0, 0.0));
}

#[test]
fn fallback_after_three_keeps_the_application_retries_on_the_primary_for_three_attempts() {
    // Both down; retries 1 s apart. a at 0, 1, 2 s (the third failure moves the call), b at 2 s
    // at once, then the retry layer goes on within b's hop: 3 s, 4 s; its 5 attempts are spent
    // (the fallback is not one of them), the call gives up at 4 s.
    let (m, a, b) = run(
        DOWN,
        DOWN,
        ONE,
        "retry = { max_attempts = 5, wait = { kind = \"fixed\", wait = \"1s\" } }\n\
         route = { targets = [\"a\"], fallbacks = [\"b\"], fallback_after = 3 }",
    );
    assert_eq!((a.attempts, b.attempts), (3.0, 3.0));
    // Every attempt the router sends to a fallback hop counts, the retries within it too.
    assert_eq!(b.fallbacks_in, 3.0);
    assert_eq!((m.attempts, m.gave_up), (6.0, 1.0));
    assert_eq!(m.call_latency_max_s, 4.0);
}

#[test]
fn sdk_retries_stay_on_the_primary_before_the_router_falls_back() {
    // The SDK's 2 retries (0.5 s then 1 s, no jitter) stay on a: 0, 0.5, 1.5 s. Only then does
    // the router fall back, at once, to b: answered at 2.5 s.
    let (m, a, b) = run(
        DOWN,
        UP,
        ONE,
        "sdk = { max_retries = 2, jitter_fraction = 0 }\n\
         route = { targets = [\"a\"], fallbacks = [\"b\"], fallback_after = 1 }",
    );
    assert_eq!((a.attempts, b.attempts, b.fallbacks_in), (3.0, 1.0, 1.0));
    assert_eq!((m.attempts, m.calls_ok), (4.0, 1.0));
    assert_eq!(m.call_latency_max_s, 2.5);
}

#[test]
fn sdk_retries_run_again_on_the_fallback() {
    // Both down: 3 attempts at a (0, 0.5, 1.5 s), fall back at 1.5 s, 3 at b (1.5, 2, 3 s).
    let (m, a, b) = run(
        DOWN,
        DOWN,
        ONE,
        "sdk = { max_retries = 2, jitter_fraction = 0 }\n\
         route = { targets = [\"a\"], fallbacks = [\"b\"] }",
    );
    assert_eq!((a.attempts, b.attempts), (3.0, 3.0));
    assert_eq!((m.gave_up, m.call_latency_max_s), (1.0, 3.0));
}

/// Three calls at t=0 at a provider that lets one request through and then (almost) never
/// again: the second and third get 429s.
const ONE_REQUEST: &str =
    "ttft = \"1s\"\nlimit = [{ resource = \"requests\", rate = 1e-6, burst = 1 }]";

#[test]
fn fallback_on_server_errors_never_moves_a_rate_limited_call() {
    let three = "{ process = \"burst\", count = 3 }";
    let (m, a, b) = run(
        ONE_REQUEST,
        UP,
        three,
        "route = { targets = [\"a\"], fallbacks = [\"b\"], fallback_on = [\"server_error\"] }",
    );
    assert_eq!((a.attempts, a.rate_limited, a.answered), (3.0, 2.0, 1.0));
    assert_eq!((b.attempts, b.fallbacks_in), (0.0, 0.0));
    assert_eq!((m.gave_up, m.calls_ok), (2.0, 1.0));
    // The same route falling back on everything sends both 429s on.
    let (m, a, b) = run(
        ONE_REQUEST,
        UP,
        three,
        "route = { targets = [\"a\"], fallbacks = [\"b\"] }",
    );
    assert_eq!((a.attempts, b.attempts, b.fallbacks_in), (3.0, 2.0, 2.0));
    assert_eq!(m.calls_ok, 3.0);
}

#[test]
fn once_every_hop_failed_the_application_retry_starts_again_at_the_first() {
    // Both down, 3 application attempts 1 s apart: a, b at 0 s; a, b at 1 s; a, b at 2 s.
    let (m, a, b) = run(
        DOWN,
        DOWN,
        ONE,
        "retry = { max_attempts = 3, wait = { kind = \"fixed\", wait = \"1s\" } }\n\
         route = { targets = [\"a\"], fallbacks = [\"b\"] }",
    );
    assert_eq!((a.attempts, b.attempts, b.fallbacks_in), (3.0, 3.0, 3.0));
    assert_eq!((m.attempts, m.retries, m.gave_up), (6.0, 5.0, 1.0));
    assert_eq!(m.call_latency_max_s, 2.0);
}

#[test]
fn round_robin_alternates_between_its_targets() {
    // One call a second, each served in 0.5 s: the k-th call is answered within second k, at a
    // for even k and at b for odd k (the last interval ends with the run, at 8.5 s: a rate of 2).
    let out = sim(&two(
        "ttft = \"500ms\"",
        "ttft = \"500ms\"",
        "{ process = \"interval\", every = \"1s\", count = 9 }",
        "route = { targets = [\"a\", \"b\"], strategy = \"round-robin\" }",
    ));
    assert_eq!(out.providers[0].attempts, 5.0);
    assert_eq!(out.providers[1].attempts, 4.0);
    let series = out.series.unwrap();
    assert_eq!(series.len(), 9);
    for (k, s) in series.iter().enumerate() {
        let one = if k == 8 { 2.0 } else { 1.0 };
        let expected = if k % 2 == 0 { [one, 0.0] } else { [0.0, one] };
        let got = [
            s.providers[0].goodput_calls_per_s,
            s.providers[1].goodput_calls_per_s,
        ];
        assert_eq!(got, expected, "second {k}");
    }
}

#[test]
fn simple_shuffle_splits_by_its_weights() {
    // 4,000 calls, weights 3:1: a's share is binomial(4000, 0.75); its 99.9% interval is
    // 3000 +- 3.29 * sqrt(4000 * 0.75 * 0.25) = 3000 +- 90.
    let (m, a, b) = run(
        UP,
        UP,
        "{ process = \"interval\", every = \"100ms\", count = 4000 }",
        "route = { targets = [\"a\", \"b\"], weights = [3, 1] }",
    );
    assert_eq!(a.attempts + b.attempts, 4000.0);
    assert_eq!(m.attempts, 4000.0);
    assert!((a.attempts - 3000.0).abs() <= 90.0, "a got {}", a.attempts);
}

#[test]
fn simple_shuffle_without_weights_weighs_by_requests_per_minute() {
    // a: 300 requests/min, b: 100: the same 3:1 split.
    let (_, a, b) = run(
        "ttft = \"1s\"\nlimit = [{ resource = \"requests\", rate = \"300/min\", burst = 300 }]",
        "ttft = \"1s\"\nlimit = [{ resource = \"requests\", rate = \"100/min\", burst = 100 }]",
        "{ process = \"interval\", every = \"1s\", count = 2000 }",
        "route = { targets = [\"a\", \"b\"] }",
    );
    assert_eq!(a.attempts + b.attempts, 2000.0);
    assert!((a.attempts - 1500.0).abs() <= 64.0, "a got {}", a.attempts);
}

#[test]
fn least_busy_sends_to_the_provider_with_fewer_attempts_in_flight() {
    // 10 calls at 0 s: ties go to the first target, so they alternate, 5 each. a serves one at a
    // time (1 s each), b all at once: at 1.5 s a still holds 4, b none. 10 more calls then go
    // b x4 (4-4), then a, b, a, b, a, b: a gets 3, b 7.
    let out = {
        let text = two(
            "ttft = \"1s\"\nconcurrency = 1",
            UP,
            ONE,
            "route = { targets = [\"a\", \"b\"], strategy = \"least-busy\" }",
        )
        .replace(
            "arrival = { process = \"burst\", count = 1 }",
            "arrival = { process = \"burst\", count = 10 }",
        )
        .replace(
            "[[policy]]",
            &format!(
                "[[source]]\nname = \"later\"\narrival = {{ process = \"burst\", count = 10, at = \"1500ms\" }}\n[source.job]\n{JOB}\n[[policy]]"
            ),
        );
        sim(&text)
    };
    let (a, b) = (&out.providers[0], &out.providers[1]);
    assert_eq!((a.attempts, b.attempts), (8.0, 12.0));
    assert_eq!((a.peak_in_flight, b.peak_in_flight), (7.0, 7.0));
    assert_eq!(out.metrics.calls_ok, 20.0);
}

#[test]
fn usage_based_keeps_both_providers_below_their_limits() {
    // 40 calls of 200 tokens at once (8,000 tokens) against 9,000 and 3,000 tokens a minute:
    // more than either holds, less than both. Usage-based routing fills them 3:1 (a at 30 x 200
    // = 6,000, b at 10 x 200 = 2,000): no 429. Round-robin sends b 20 x 200 = 4,000: 429s.
    let a_lim =
        "ttft = \"1s\"\nlimit = [{ resource = \"tokens\", rate = \"9000/min\", burst = 9000 }]";
    let b_lim =
        "ttft = \"1s\"\nlimit = [{ resource = \"tokens\", rate = \"3000/min\", burst = 3000 }]";
    let forty = "{ process = \"burst\", count = 40 }";
    let (m, a, b) = run(
        a_lim,
        b_lim,
        forty,
        "route = { targets = [\"a\", \"b\"], strategy = \"usage-based\" }",
    );
    assert_eq!(m.rate_limited, 0.0);
    assert_eq!((a.attempts, b.attempts), (30.0, 10.0));
    assert_eq!(m.calls_ok, 40.0);
    let (m, _, b) = run(
        a_lim,
        b_lim,
        forty,
        "route = { targets = [\"a\", \"b\"], strategy = \"round-robin\" }",
    );
    assert_eq!(b.rate_limited, 5.0);
    assert_eq!(m.rate_limited, 5.0);
}

#[test]
fn latency_based_prefers_the_faster_provider_once_both_were_tried() {
    // One call at a time (a single agent making 10 calls in turn): a (untried, 0 s), b (untried),
    // then always a, whose mean latency (0.5 s) beats b's (2 s).
    let text = two(
        "ttft = \"500ms\"",
        "ttft = \"2s\"",
        ONE,
        "route = { targets = [\"a\", \"b\"], strategy = \"latency-based\" }",
    )
    .replace(JOB, &format!("{JOB}\ncalls_per_agent = 10"));
    let out = sim(&text);
    assert_eq!(out.providers[0].attempts, 9.0);
    assert_eq!(out.providers[1].attempts, 1.0);
    assert_eq!(out.metrics.makespan_s, 9.0 * 0.5 + 2.0);
}

#[test]
fn a_provider_failing_past_allowed_fails_sits_out_its_cooldown() {
    // One call a second, 0..5 s; a down, b up. a fails at 0 s (1 failure, allowed) and at 1 s
    // (2 > 1): it cools down for 5 s, until 6 s. Calls at 2..5 s go straight to b; the run ends
    // at 6 s with b's last answer, so a sat out exactly 5 s.
    let (m, a, b) = run(
        DOWN,
        UP,
        "{ process = \"interval\", every = \"1s\", count = 6 }",
        "route = { targets = [\"a\"], fallbacks = [\"b\"], allowed_fails = 1, cooldown = \"5s\" }",
    );
    assert_eq!((a.attempts, a.cooldowns, a.cooldown_s), (2.0, 1.0, 5.0));
    assert_eq!((b.attempts, b.cooldowns, b.answered), (6.0, 0.0, 6.0));
    // Two calls fell back; the four made while a cooled went to b first.
    assert_eq!((m.retries, m.calls_ok, m.makespan_s), (2.0, 6.0, 6.0));
    // Two calls more: at 6 s a is back, fails a 3rd time in the minute and cools again until
    // 11 s; the run ends at 8 s, so that cooldown counts 2 s.
    let (_, a, b) = run(
        DOWN,
        UP,
        "{ process = \"interval\", every = \"1s\", count = 8 }",
        "route = { targets = [\"a\"], fallbacks = [\"b\"], allowed_fails = 1, cooldown = \"5s\" }",
    );
    assert_eq!((a.attempts, a.cooldowns, a.cooldown_s), (3.0, 2.0, 7.0));
    assert_eq!(b.attempts, 8.0);
}

#[test]
fn failures_in_an_earlier_minute_do_not_count_toward_allowed_fails() {
    // a fails at 0 s and at 60 s: one failure in each minute, never cooling down.
    let (_, a, b) = run(
        DOWN,
        UP,
        "{ process = \"interval\", every = \"60s\", count = 2 }",
        "route = { targets = [\"a\"], fallbacks = [\"b\"], allowed_fails = 1, cooldown = \"5s\" }",
    );
    assert_eq!((a.attempts, a.cooldowns, b.attempts), (2.0, 0.0, 2.0));
}

#[test]
fn when_every_provider_cools_down_the_router_refuses_locally() {
    // Both down. 0 s: a fails, b fails (1 each, allowed). 1 s: a fails (2) and cools until 6 s,
    // b fails (2) and cools until 6 s. Calls at 2..5 s find no provider: refused at once,
    // never sent.
    let (m, a, b) = run(
        DOWN,
        DOWN,
        "{ process = \"interval\", every = \"1s\", count = 6 }",
        "route = { targets = [\"a\"], fallbacks = [\"b\"], allowed_fails = 1, cooldown = \"5s\" }",
    );
    assert_eq!((a.attempts, b.attempts), (2.0, 2.0));
    assert_eq!((a.cooldowns, b.cooldowns), (1.0, 1.0));
    assert_eq!(m.attempts, 4.0);
    assert_eq!(m.throttled_locally, 4.0);
    assert_eq!((m.gave_up, m.calls_ok), (6.0, 0.0));
}

#[test]
fn a_call_refused_by_the_router_waits_until_the_first_provider_is_back() {
    // a is down throughout, b for the first second; a provider cools down at its first failure.
    // 0 s: a fails (cools until 5 s), b fails (cools until 5 s); the application retries at
    // once and the router refuses it, with 5 s to wait. 5 s: a is back and fails again, the
    // call falls back to b, up by now: answered at 6 s.
    let (m, a, b) = run(
        DOWN,
        "ttft = \"1s\"\noutage = [{ start = \"0s\", end = \"1s\" }]",
        ONE,
        "retry = { max_attempts = 3, honor_retry_after = true }\n\
         route = { targets = [\"a\"], fallbacks = [\"b\"], allowed_fails = 0, cooldown = \"5s\" }",
    );
    assert_eq!((a.attempts, b.attempts), (2.0, 2.0));
    assert_eq!((a.cooldowns, b.cooldowns), (2.0, 1.0));
    assert_eq!(m.throttled_locally, 1.0);
    assert_eq!((m.attempts, m.calls_ok), (4.0, 1.0));
    assert_eq!(m.call_latency_max_s, 6.0);
}

#[test]
fn a_retry_budget_counts_fallbacks_as_retries() {
    // gRPC throttling with 1 token: the first failure leaves 0, not above 1/2: no retry, and so
    // no fallback, is allowed. b gets nothing.
    let (m, a, b) = run(
        DOWN,
        UP,
        ONE,
        "retry_budget = { kind = \"grpc\", max_tokens = 1, token_ratio = 0.1 }\n\
         route = { targets = [\"a\"], fallbacks = [\"b\"] }",
    );
    assert_eq!((a.attempts, b.attempts, b.fallbacks_in), (1.0, 0.0, 0.0));
    assert_eq!((m.retries_throttled, m.gave_up), (1.0, 1.0));
}

#[test]
fn a_call_deadline_counts_fallbacks_as_retries() {
    // a fails every attempt with a 500 after its 2 s to first token, past the call's 1 s
    // deadline: the fallback, a retry, is refused.
    let (m, _, b) = run(
        "ttft = \"2s\"\nerror_rate = 1.0",
        UP,
        ONE,
        "call_deadline = \"1s\"\nroute = { targets = [\"a\"], fallbacks = [\"b\"] }",
    );
    assert_eq!(b.attempts, 0.0);
    assert_eq!((m.deadline_exceeded, m.gave_up), (1.0, 1.0));
}

#[test]
fn the_runs_spend_is_the_sum_of_each_providers_at_its_own_prices() {
    // 4 calls of 1,000 prompt and 200 output tokens, round-robin: 2 at a ($3 / $15 per million),
    // 2 at b ($5 / $25). a: 2 x (0.003 + 0.003) = $0.012; b: 2 x (0.005 + 0.005) = $0.020.
    let text = two(
        "ttft = \"1s\"\nprice_input_per_mtok = 3.0\nprice_output_per_mtok = 15.0",
        "ttft = \"1s\"\nprice_input_per_mtok = 5.0\nprice_output_per_mtok = 25.0",
        "{ process = \"burst\", count = 4 }",
        "route = { targets = [\"a\", \"b\"], strategy = \"round-robin\" }",
    )
    .replace(
        JOB,
        "prompt_tokens = 1000\nmax_tokens = 500\noutput_tokens = 200",
    );
    let out = sim(&text);
    let (a, b) = (&out.providers[0], &out.providers[1]);
    assert_eq!((a.tokens_input, a.tokens_output), (2000.0, 400.0));
    assert_eq!((b.tokens_input, b.tokens_output), (2000.0, 400.0));
    let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
    assert!(close(a.cost_usd, 0.012), "{}", a.cost_usd);
    assert!(close(b.cost_usd, 0.020), "{}", b.cost_usd);
    assert!(close(out.metrics.cost_usd, a.cost_usd + b.cost_usd));
    assert!(close(out.metrics.cost_usd, 0.032));
    assert_eq!(out.metrics.tokens_input, 4000.0);
    assert_eq!(out.metrics.tokens_output, 800.0);
}

#[test]
fn a_policy_without_a_route_uses_the_first_provider() {
    let (m, a, b) = run(UP, UP, "{ process = \"burst\", count = 3 }", "");
    assert_eq!((a.attempts, b.attempts, m.attempts), (3.0, 0.0, 3.0));
}

/// A scenario with one provider written as `provider` (a `[provider]` table or a `[[provider]]`
/// entry).
fn single(provider: &str) -> String {
    format!(
        "[scenario]\nname = \"solo\"\nseed = 3\nreplications = 1\n{provider}\n\
         ttft = {{ dist = \"exponential\", mean = \"1s\" }}\nerror_rate = 0.2\n\
         price_input_per_mtok = 3.0\nprice_output_per_mtok = 15.0\n\
         limit = [{{ resource = \"tokens\", rate = 2000, burst = 4000 }}]\n\
         [[source]]\nname = \"s\"\narrival = {{ process = \"poisson\", rate = 5, count = 200 }}\n\
         [source.job]\nprompt_tokens = {{ dist = \"uniform\", low = 100, high = 300 }}\nmax_tokens = 200\n\
         output_tokens = {{ dist = \"uniform\", low = 10, high = 200 }}\n\
         [[policy]]\nname = \"p\"\ntimeout = \"3s\"\n\
         retry = {{ max_attempts = 4, wait = {{ kind = \"exponential\", multiplier = \"500ms\", max = \"8s\" }}, jitter = \"full\" }}\n"
    )
}

#[test]
fn a_single_provider_reports_no_per_provider_metrics() {
    let out = sim(&single("[provider]"));
    assert!(out.providers.is_empty());
    assert!(out.metrics.attempts > 200.0);
}

#[test]
fn one_provider_entry_named_like_the_scenario_equals_the_provider_table() {
    let table = sim(&single("[provider]"));
    let entry = sim(&single("[[provider]]\nname = \"solo\""));
    assert!(entry.providers.is_empty());
    assert_eq!(table.metrics, entry.metrics);
    assert_eq!(table.series, entry.series);
}
