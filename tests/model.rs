//! The model against hand-computed sequences: each test states the timeline it expects.

use stampede::metrics::Metrics;
use stampede::scenario::parse;

/// `jobs` one-call jobs at t=0 against `provider_extra`, with 1 s constant service.
fn run(jobs: u32, provider_extra: &str, policy: &str) -> Metrics {
    let text = format!(
        r#"
        [scenario]
        name = "t"
        [provider]
        ttft = "1s"
        {provider_extra}
        [[source]]
        name = "s"
        arrival = {{ process = "burst", count = {jobs} }}
        [source.job]
        prompt_tokens = 50
        max_tokens = 50
        output_tokens = 0
        [[policy]]
        name = "p"
        {policy}
        "#
    );
    let scenario = parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    stampede::model::world::simulate(&scenario, &scenario.policies[0], 1).unwrap()
}

#[test]
fn the_sdk_layer_waits_the_retry_after_hint() {
    // 100 tokens at t=0 empty a bucket of 100 refilling 10/s: the second call is refused with
    // retry_after = ceil(100 / 10) = 10 s, retried at 10 s and served until 11 s.
    let m = run(
        2,
        "[[provider.limit]]\nresource = \"tokens\"\nrate = 10\nburst = 100",
        "sdk = {}",
    );
    assert_eq!(m.rate_limited, 1.0);
    assert_eq!(m.retries, 1.0);
    assert_eq!(m.makespan_s, 11.0);
    assert_eq!(m.call_latency_max_s, 11.0);
}

#[test]
fn layered_retries_multiply_attempts_and_restarts_multiply_again() {
    // One request passes, then the request bucket (almost) never refills: every later attempt
    // is refused. sdk: 3 attempts per round; retry: 5 rounds; 1 restart: 2 x 15 = 30 attempts.
    let m = run(
        2,
        "[[provider.limit]]\nresource = \"requests\"\nrate = 1e-9\nburst = 1",
        "agent_restarts = 1\nsdk = { honor_retry_after = false }\nretry = { max_attempts = 5 }",
    );
    assert_eq!(m.attempts, 31.0);
    assert_eq!(m.rate_limited, 30.0);
    assert_eq!(m.gave_up, 2.0);
    assert_eq!(m.agent_restarts, 1.0);
    assert_eq!((m.jobs_ok, m.jobs_failed), (1.0, 1.0));
}

#[test]
fn the_client_bucket_queues_calls_instead_of_failing_them() {
    // Each call costs 100 of a bucket of 100 refilling 10/s: admissions at 0, 10 and 20 s.
    let m = run(3, "", "bucket = { rate = 10, burst = 100 }");
    assert_eq!(m.attempts, 3.0);
    assert_eq!(m.rate_limited, 0.0);
    // The bucket wakes a nanosecond late, as documented in `TokenBucket::wait_nanos`.
    assert!((m.makespan_s - 21.0).abs() < 1e-6, "{}", m.makespan_s);
    assert!((m.call_latency_p50_s - 11.0).abs() < 1e-6);
    assert_eq!(m.peak_client_queue, 2.0);
}

#[test]
fn counted_rejections_use_up_capacity_that_would_have_passed_a_later_call() {
    // Bucket 100, refill 10/s, calls of 100. At t=0 call 1 passes and call 2 is refused (hint
    // 10 s); tenacity retries it after a fixed 5 s. Counted: the refusal at 5 s drains the 50
    // tokens refilled so far, so the retry at 10 s finds only 50 and is refused again.
    let limit = "[[provider.limit]]\nresource = \"tokens\"\nrate = 10\nburst = 100";
    let policy = "retry = { max_attempts = 10, wait = { kind = \"fixed\", wait = \"5s\" } }";
    let counted = run(2, &format!("count_rejected = true\n{limit}"), policy);
    let not_counted = run(2, &format!("count_rejected = false\n{limit}"), policy);
    // Not counted: refused at 0 and 5, passes at 10, done at 11.
    assert_eq!(
        (not_counted.rate_limited, not_counted.makespan_s),
        (2.0, 11.0)
    );
    // Counted: refused at 0, 5, 10, 15 (each finds 50 and drains it)... it never passes.
    assert_eq!(counted.rate_limited, 10.0);
    assert_eq!(counted.gave_up, 1.0);
}

/// A scenario from its parts: `provider` is the body of `[provider]` (with `ttft`), `job` the
/// body of `[source.job]`, `arrival` the source's arrival table, `policy` the policy's body.
fn sim(
    provider: &str,
    arrival: &str,
    job: &str,
    policy: &str,
) -> stampede::model::world::RunOutput {
    let text = format!(
        "[scenario]\nname = \"t\"\ntimeseries_interval = \"1s\"\n[provider]\n{provider}\n[[source]]\nname = \"s\"\narrival = {arrival}\n[source.job]\n{job}\n[[policy]]\nname = \"p\"\n{policy}\n"
    );
    let scenario = parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    stampede::model::world::simulate_full(&scenario, &scenario.policies[0], 1, true).unwrap()
}

const ONE_CALL: &str = "prompt_tokens = 50\nmax_tokens = 100\noutput_tokens = 100";

#[test]
fn processor_sharing_slows_each_attempt_by_the_number_served() {
    // 100 output tokens at 100 tokens/s, no ttft: alone, 1 s. With sharing above 1, two
    // attempts started together each decode at 50 tokens/s and both end at 2 s.
    let m = sim(
        "ttft = \"0s\"\ndecode_rate = 100\nsharing_above = 1",
        "{ process = \"burst\", count = 2 }",
        ONE_CALL,
        "",
    )
    .metrics;
    assert_eq!(m.call_latency_max_s, 2.0);
    assert_eq!(m.call_latency_p50_s, 2.0);
    // Staggered: A alone for 0.5 s (50 tokens), then both at 50/s: A ends at 1.5 s; B has
    // 50 left at 1.5 s and ends alone at 2.0 s, 1.5 s after it started.
    let text = "[scenario]\nname = \"t\"\n[provider]\nttft = \"0s\"\ndecode_rate = 100\nsharing_above = 1\n\
        [[source]]\nname = \"a\"\narrival = { process = \"burst\" }\n[source.job]\nprompt_tokens = 50\nmax_tokens = 100\noutput_tokens = 100\n\
        [[source]]\nname = \"b\"\narrival = { process = \"burst\", at = \"500ms\" }\n[source.job]\nprompt_tokens = 50\nmax_tokens = 100\noutput_tokens = 100\n\
        [[policy]]\nname = \"p\"\n";
    let scenario = parse(text, "t.toml").unwrap();
    let m = stampede::model::world::simulate(&scenario, &scenario.policies[0], 1).unwrap();
    assert_eq!(m.makespan_s, 2.0);
    assert_eq!(m.call_latency_p50_s, 1.5);
    assert_eq!(m.call_latency_max_s, 1.5);
}

#[test]
fn a_timed_out_attempt_is_billed_for_what_was_generated_and_counted_as_waste() {
    // ttft 1 s, then 100 tokens at 10 tokens/s (10 s). A 5 s timeout cuts it after 40 tokens:
    // billed 50 input + 40 output, all wasted; the retry (no timeout left to change) times out
    // the same way, and the call gives up after 2 attempts.
    let m = sim(
        "ttft = \"1s\"\ndecode_rate = 10\nprice_input_per_mtok = 1_000_000\nprice_output_per_mtok = 1_000_000",
        "{ process = \"burst\" }",
        ONE_CALL,
        "timeout = \"5s\"\nretry = { max_attempts = 2 }",
    )
    .metrics;
    assert_eq!(m.timeouts, 2.0);
    assert_eq!(m.gave_up, 1.0);
    assert_eq!(m.tokens_wasted, 180.0);
    assert_eq!(m.tokens_billed, 180.0);
    assert_eq!(m.cost_wasted_usd, 180.0);
    assert_eq!(m.call_latency_max_s, 10.0);
    assert_eq!(m.mean_in_flight, 1.0);
}

#[test]
fn an_outage_answers_server_errors_and_retries_ride_it_out() {
    // Down from 0 to 2.5 s: attempts at 0, 1 and 2 s get a 503; the one at 3 s is served.
    let m = sim(
        "ttft = \"1s\"\n[[provider.outage]]\nstart = \"0s\"\nend = \"2500ms\"\nstatus = 503",
        "{ process = \"burst\" }",
        "prompt_tokens = 50\nmax_tokens = 10\noutput_tokens = 0",
        "retry = { max_attempts = 10, wait = { kind = \"fixed\", wait = \"1s\" } }",
    )
    .metrics;
    assert_eq!((m.server_errors, m.retries, m.calls_ok), (3.0, 3.0, 1.0));
    assert_eq!(m.makespan_s, 4.0);
}

#[test]
fn a_policy_that_does_not_retry_server_errors_gives_up_on_the_first() {
    let m = sim(
        "ttft = \"1s\"\n[[provider.outage]]\nstart = \"0s\"\nend = \"10s\"\nstatus = 529",
        "{ process = \"burst\" }",
        "prompt_tokens = 50\nmax_tokens = 10\noutput_tokens = 0",
        "retry = { max_attempts = 10, retry_on = [\"rate_limited\"] }",
    )
    .metrics;
    assert_eq!((m.server_errors, m.retries, m.gave_up), (1.0, 0.0, 1.0));
}

#[test]
fn transient_errors_fail_the_stated_fraction_of_attempts() {
    // 20,000 one-attempt calls, error_rate 0.1: the count is Binomial(20000, 0.1),
    // sd = 42.4; allow 5 sd.
    let m = sim(
        "ttft = \"10ms\"\nerror_rate = 0.1",
        "{ process = \"poisson\", rate = 100, count = 20_000 }",
        "prompt_tokens = 50\nmax_tokens = 10\noutput_tokens = 0",
        "",
    )
    .metrics;
    assert!(
        (m.server_errors - 2_000.0).abs() < 5.0 * 42.4,
        "{}",
        m.server_errors
    );
    assert_eq!(m.server_errors + m.calls_ok, 20_000.0);
    // A failed attempt is not billed.
    assert_eq!(m.tokens_input, 50.0 * m.calls_ok);
}

#[test]
fn a_capacity_step_scales_the_limit_from_its_instant() {
    // 10 tokens/s, burst 10, calls of 10 tokens (prompt 5 + max_tokens 5), one every 0.1 s:
    // one passes per second; halved at t = 10 s, one every 2 s after that.
    let out = sim(
        "ttft = \"10ms\"\ncount_rejected = false\n[[provider.limit]]\nresource = \"tokens\"\nrate = 10\nburst = 10\n\
         [[provider.capacity]]\nat = \"10s\"\nlimits = 0.5",
        "{ process = \"poisson\", rate = 1000, until = \"20s\" }",
        "prompt_tokens = 5\nmax_tokens = 5\noutput_tokens = 0",
        "",
    );
    let series = out.series.unwrap();
    // The row of the second ending at `t` (the last row ends at the run's end, just before 20 s).
    let admitted = |t: f64| {
        series
            .iter()
            .find(|s| s.t_s > t - 1.0)
            .unwrap()
            .admitted_tokens_per_s
    };
    // The first second also has the full burst: 10 + 10.
    assert_eq!(admitted(5.0), 10.0);
    assert_eq!(
        series
            .iter()
            .find(|s| s.t_s == 15.0)
            .unwrap()
            .limit_tokens_per_s,
        5.0
    );
    let late: f64 = (11..=20).map(|t| admitted(t as f64)).sum();
    assert!(
        (late - 50.0).abs() <= 10.0,
        "admitted {late} tokens in the 10 s at half rate"
    );
}

#[test]
fn refunding_unused_output_lets_the_next_call_in_sooner() {
    // Output-token limit: burst 100, 1 token/s. Each call reserves max_tokens = 100 and uses
    // 20. The first call takes the whole burst at t = 0 and ends at t = 1 s; the second is
    // refused and retried every second.
    let provider = "ttft = \"1s\"\ndecode_rate = 1e9\n{refund}\n[[provider.limit]]\nresource = \"output_tokens\"\nrate = 1\nburst = 100";
    let job = "prompt_tokens = 50\nmax_tokens = 100\noutput_tokens = 20";
    let policy = "retry = { max_attempts = 1000, wait = { kind = \"fixed\", wait = \"1s\" } }";
    let arrival = "{ process = \"burst\", count = 2 }";
    let with = sim(
        &provider.replace(
            "{refund}",
            "refund_unused_output = true\ncount_rejected = false",
        ),
        arrival,
        job,
        policy,
    )
    .metrics;
    let without = sim(
        &provider.replace("{refund}", "count_rejected = false"),
        arrival,
        job,
        policy,
    )
    .metrics;
    // With the refund, 80 tokens come back at 1 s: 81 + (t - 1) reaches 100 at t = 20, and
    // the call ends at 21 s. Without it the bucket refills from 0 at 1 token/s: 100 s, end
    // at 101 s. (Decoding 20 tokens at 1e9/s adds 20 ns.)
    assert!((with.makespan_s - 21.0).abs() < 1e-6, "{}", with.makespan_s);
    assert!(
        (without.makespan_s - 101.0).abs() < 1e-6,
        "{}",
        without.makespan_s
    );
}

#[test]
fn grpc_throttling_stops_retries_once_half_the_tokens_are_gone() {
    // A provider that refuses everything after one request. Budget 10, ratio 0.1: the first
    // call succeeds (tokens stay 10); the second is refused 5 times (10 -> 5) and may not
    // retry at 5; the third is refused once (5 -> 4) and gives up at once.
    let m = sim(
        "ttft = \"1s\"\n[[provider.limit]]\nresource = \"requests\"\nrate = 1e-9\nburst = 1",
        "{ process = \"burst\", count = 3 }",
        "prompt_tokens = 5\nmax_tokens = 5\noutput_tokens = 0",
        "retry = { max_attempts = 100 }\nretry_budget = { kind = \"grpc\", max_tokens = 10, token_ratio = 0.1 }",
    )
    .metrics;
    assert_eq!(m.calls_ok, 1.0);
    assert_eq!(m.rate_limited, 6.0);
    assert_eq!(m.retries, 4.0);
    assert_eq!(m.retries_throttled, 2.0);
}

#[test]
fn the_in_flight_limit_refuses_beyond_its_count() {
    let m = sim(
        "ttft = \"1s\"\nmax_in_flight = 2",
        "{ process = \"burst\", count = 3 }",
        ONE_CALL,
        "",
    )
    .metrics;
    assert_eq!((m.calls_ok, m.rate_limited, m.gave_up), (2.0, 1.0, 1.0));
    assert_eq!(m.peak_in_flight, 2.0);
}

/// After one request passes, the request bucket (almost) never refills: every later attempt is
/// refused with a 429.
const REFUSE_AFTER_ONE: &str =
    "ttft = \"1s\"\n[[provider.limit]]\nresource = \"requests\"\nrate = 1e-9\nburst = 1";
const SMALL: &str = "prompt_tokens = 5\nmax_tokens = 5\noutput_tokens = 0";

#[test]
fn a_call_deadline_stops_retries_that_would_start_after_it() {
    // The second call is refused at 0, 1, 2 and 3 s; its retry at 4 s is past 3.5 s.
    let m = sim(
        REFUSE_AFTER_ONE,
        "{ process = \"burst\", count = 2 }",
        SMALL,
        "call_deadline = \"3500ms\"\nretry = { max_attempts = 100, wait = { kind = \"fixed\", wait = \"1s\" } }",
    )
    .metrics;
    assert_eq!(
        (m.rate_limited, m.deadline_exceeded, m.gave_up),
        (4.0, 1.0, 1.0)
    );
}

#[test]
fn the_aws_standard_quota_pays_for_retries_until_it_is_empty() {
    // Quota 12, 5 a throttled retry: two retries are paid (12 -> 7 -> 2), the third is not.
    let m = sim(
        REFUSE_AFTER_ONE,
        "{ process = \"burst\", count = 2 }",
        SMALL,
        "retry = { max_attempts = 100 }\nretry_budget = { kind = \"aws_standard\", initial = 12 }",
    )
    .metrics;
    assert_eq!(
        (m.retries, m.retries_throttled, m.rate_limited),
        (2.0, 1.0, 3.0)
    );
}

#[test]
fn an_envoy_budget_caps_the_retries_in_flight_at_its_minimum_concurrency() {
    // Five calls refused at t = 0 with a 10 s backoff: with nothing else in flight Envoy allows
    // max(20% of active, 2) = 2 retries at once; the other three give up.
    let m = sim(
        REFUSE_AFTER_ONE,
        "{ process = \"burst\", count = 6 }",
        SMALL,
        "retry = { max_attempts = 2, wait = { kind = \"fixed\", wait = \"10s\" } }\n\
         retry_budget = { kind = \"envoy\", budget_percent = 20, min_retry_concurrency = 2 }",
    )
    .metrics;
    assert_eq!((m.retries, m.retries_throttled), (2.0, 3.0));
}

#[test]
fn a_hedge_that_answers_first_wins_and_the_slow_attempt_is_billed_as_waste() {
    // 100 output tokens at 10 tokens/s, no ttft: the first attempt takes 10 s. Decoding gets
    // 10x faster at t = 1 s, so the hedge sent at t = 2 s is done at 3 s. The first attempt
    // is cut off at 3 s after 30 tokens: 50 + 30 tokens wasted.
    let m = sim(
        "ttft = \"0s\"\ndecode_rate = 10\n[[provider.capacity]]\nat = \"1s\"\ndecode = 10",
        "{ process = \"burst\" }",
        ONE_CALL,
        "hedge = { delay = \"2s\" }",
    )
    .metrics;
    assert_eq!((m.attempts, m.hedges, m.hedges_won), (2.0, 1.0, 1.0));
    assert!(
        (m.call_latency_max_s - 3.0).abs() < 1e-6,
        "{}",
        m.call_latency_max_s
    );
    assert_eq!(m.tokens_wasted, 80.0);
    assert_eq!(m.tokens_billed, 150.0 + 80.0);
}

#[test]
fn a_hedge_that_loses_is_cut_off_when_the_first_attempt_answers() {
    // Same call without the speed-up: the first attempt ends at 10 s, when the hedge sent at
    // 2 s has generated 80 tokens: 50 + 80 tokens wasted.
    let m = sim(
        "ttft = \"0s\"\ndecode_rate = 10",
        "{ process = \"burst\" }",
        ONE_CALL,
        "hedge = { delay = \"2s\" }",
    )
    .metrics;
    assert_eq!((m.attempts, m.hedges, m.hedges_won), (2.0, 1.0, 0.0));
    assert!((m.call_latency_max_s - 10.0).abs() < 1e-6);
    assert_eq!(m.tokens_wasted, 130.0);
    assert_eq!(m.calls_ok, 1.0);
}

#[test]
fn hedges_go_out_delay_apart_up_to_max_attempts() {
    // A 10 s attempt hedged every 2 s with max_attempts 3: hedges at 2 s and 4 s, no more.
    let m = sim(
        "ttft = \"0s\"\ndecode_rate = 10",
        "{ process = \"burst\" }",
        ONE_CALL,
        "hedge = { delay = \"2s\", max_attempts = 3 }",
    )
    .metrics;
    assert_eq!((m.attempts, m.hedges), (3.0, 2.0));
    // Cut off at 10 s: the hedges generated 80 and 60 tokens.
    assert_eq!(m.tokens_wasted, 50.0 + 80.0 + 50.0 + 60.0);
    assert_eq!(m.mean_in_flight, (10.0 + 8.0 + 6.0) / 10.0);
}

#[test]
fn a_breaker_opens_after_consecutive_failures_and_fails_the_next_call_fast() {
    // One request passes; the next two are refused (two failures in a row: open); the fourth
    // call is failed fast without being sent.
    let m = sim(
        REFUSE_AFTER_ONE,
        "{ process = \"burst\", count = 4 }",
        SMALL,
        "breaker = { consecutive_failures = 2, open = \"10s\" }",
    )
    .metrics;
    assert_eq!(
        (m.attempts, m.rate_limited, m.short_circuited, m.calls_ok),
        (3.0, 2.0, 1.0, 1.0)
    );
}

#[test]
fn a_half_open_breaker_lets_a_probe_through_after_its_open_time() {
    // Open at t = 0 after one failure; calls arrive every 2 s (Poisson at a huge rate would not
    // do: use a 1 s open time and retries 2 s apart): the retry at 2 s is the half-open probe.
    let m = sim(
        "ttft = \"100ms\"\n[[provider.outage]]\nstart = \"0s\"\nend = \"1s\"",
        "{ process = \"burst\" }",
        SMALL,
        "breaker = { consecutive_failures = 1, open = \"1s\" }\nretry = { max_attempts = 3, wait = { kind = \"fixed\", wait = \"2s\" } }",
    )
    .metrics;
    assert_eq!(
        (m.attempts, m.server_errors, m.short_circuited, m.calls_ok),
        (2.0, 1.0, 0.0, 1.0)
    );
    assert!((m.makespan_s - 2.1).abs() < 1e-9);
}

#[test]
fn a_static_concurrency_limit_serves_calls_one_at_a_time() {
    let m = sim(
        "ttft = \"1s\"",
        "{ process = \"burst\", count = 3 }",
        SMALL,
        "concurrency = { kind = \"static\", limit = 1 }",
    )
    .metrics;
    assert_eq!(
        (m.makespan_s, m.peak_in_flight, m.peak_client_queue),
        (3.0, 1.0, 2.0)
    );
    assert_eq!(m.call_latency_max_s, 3.0);
}

#[test]
fn aimd_backs_off_a_provider_that_refuses_beyond_its_concurrency() {
    // The provider refuses beyond 4 in flight; 40 calls arrive at once. With a static limit
    // of 20 every call over 4 is refused and retried; AIMD cuts its limit on each refusal.
    let provider = "ttft = \"1s\"\nmax_in_flight = 4";
    let arrival = "{ process = \"burst\", count = 40 }";
    let retry = "retry = { max_attempts = 100, wait = { kind = \"fixed\", wait = \"100ms\" } }";
    let fixed = sim(
        provider,
        arrival,
        SMALL,
        &format!("{retry}\nconcurrency = {{ kind = \"static\", limit = 20 }}"),
    )
    .metrics;
    let aimd = sim(
        provider,
        arrival,
        SMALL,
        &format!("{retry}\nconcurrency = {{ kind = \"aimd\", initial = 20, min = 1, max = 20 }}"),
    )
    .metrics;
    assert_eq!((fixed.calls_ok, aimd.calls_ok), (40.0, 40.0));
    assert!(
        aimd.rate_limited * 3.0 < fixed.rate_limited,
        "aimd {} vs static {} 429s",
        aimd.rate_limited,
        fixed.rate_limited
    );
}

#[test]
fn sre_throttling_rejects_locally_once_the_backend_stops_accepting() {
    // After one accepted request the provider refuses everything; one call a second for 100 s.
    // The throttle's rejection probability climbs towards 1 - 2/n: most calls never leave.
    let arrival = "{ process = \"poisson\", rate = 1, count = 100 }";
    let plain = sim(REFUSE_AFTER_ONE, arrival, SMALL, "").metrics;
    let sre = sim(
        REFUSE_AFTER_ONE,
        arrival,
        SMALL,
        "throttle = { kind = \"sre\" }",
    )
    .metrics;
    assert_eq!(plain.attempts, 100.0);
    assert_eq!(sre.attempts + sre.throttled_locally, 100.0);
    assert!(sre.throttled_locally > 60.0, "{}", sre.throttled_locally);
    assert_eq!(sre.calls_ok, 1.0);
}

#[test]
fn the_aws_adaptive_limiter_slows_sending_after_a_throttle() {
    // 200 calls at once against 10 requests/s: without the limiter the retries hammer at
    // their fixed 100 ms; with it, sending falls to the measured rate after the first 429.
    let provider = "ttft = \"100ms\"\ncount_rejected = false\n[[provider.limit]]\nresource = \"requests\"\nrate = 10\nburst = 10";
    let arrival = "{ process = \"burst\", count = 200 }";
    let retry = "retry = { max_attempts = 1000, wait = { kind = \"fixed\", wait = \"100ms\" } }";
    let plain = sim(provider, arrival, SMALL, retry).metrics;
    let adaptive = sim(
        provider,
        arrival,
        SMALL,
        &format!("{retry}\nthrottle = {{ kind = \"aws_adaptive\" }}"),
    )
    .metrics;
    assert_eq!((plain.calls_ok, adaptive.calls_ok), (200.0, 200.0));
    assert!(
        adaptive.rate_limited * 5.0 < plain.rate_limited,
        "adaptive {} vs plain {} 429s",
        adaptive.rate_limited,
        plain.rate_limited
    );
}

#[test]
fn a_client_bucket_gets_the_unused_output_back_when_refunds_are_on() {
    // Bucket 1 token/s, burst 100; calls estimate 50 + 50 and generate nothing. The first
    // passes at 0 and ends at 1 s; with the refund its 50 unused tokens come back, so the
    // second passes at 1 + (100 - 51) = 50 s and ends at 51 s, instead of 100 s and 101 s.
    let job = "prompt_tokens = 50\nmax_tokens = 50\noutput_tokens = 0";
    let bucket = "bucket = { rate = 1, burst = 100 }";
    let with = sim(
        "ttft = \"1s\"",
        "{ process = \"burst\", count = 2 }",
        job,
        &format!("{bucket}\nrefund_unused_output = true"),
    )
    .metrics;
    let without = sim(
        "ttft = \"1s\"",
        "{ process = \"burst\", count = 2 }",
        job,
        bucket,
    )
    .metrics;
    assert!((with.makespan_s - 51.0).abs() < 1e-6, "{}", with.makespan_s);
    assert!(
        (without.makespan_s - 101.0).abs() < 1e-6,
        "{}",
        without.makespan_s
    );
}

/// Runs the whole scenario `text` (policy 0) with details.
fn whole(text: &str) -> stampede::model::world::RunOutput {
    let scenario = parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    stampede::model::world::simulate_full(&scenario, &scenario.policies[0], 1, true).unwrap()
}

/// A planner call, a fan-out of three tool calls, a synthesis call; and an agent that does
/// one call and then spawns two more like itself, to depth 3. Every call takes 1 s.
const TREES: &str = r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[templates.pipeline]
kind = "seq"
steps = ["plan", "tools", "plan"]
[templates.plan]
kind = "call"
prompt_tokens = 100
max_tokens = 100
output_tokens = 0
[templates.tools]
kind = "fanout"
width = 3
child = "plan"
[templates.grower]
kind = "seq"
steps = ["plan", "grow"]
[templates.grow]
kind = "spawn"
probability = 1.0
width = 2
child = "grower"
max_depth = 3
"#;

fn trees(template: &str, policy: &str) -> Metrics {
    whole(&format!("{TREES}[[source]]\nname = \"s\"\narrival = {{ process = \"burst\" }}\ntemplate = \"{template}\"\n[[policy]]\nname = \"p\"\n{policy}\n")).metrics
}

#[test]
fn a_sequence_waits_for_its_fan_out_before_the_next_step() {
    // plan (0-1 s), three tools in parallel (1-2 s), plan again (2-3 s).
    let m = trees("pipeline", "");
    assert_eq!(
        (m.calls_ok, m.makespan_s, m.peak_in_flight),
        (5.0, 3.0, 3.0)
    );
}

#[test]
fn spawning_recurses_to_its_max_depth() {
    // Depths 0..=3 hold 1, 2, 4 and 8 agents of one 1 s call each: 15 calls in 4 s.
    let m = trees("grower", "");
    assert_eq!((m.calls_ok, m.makespan_s, m.jobs_ok), (15.0, 4.0, 1.0));
}

#[test]
fn a_call_cap_stops_the_job_as_budget_exhausted() {
    let m = trees("grower", "work_limits = { max_calls = 5 }");
    assert_eq!(
        (m.calls_ok, m.jobs_budget_exhausted, m.jobs_ok),
        (5.0, 1.0, 0.0)
    );
}

#[test]
fn a_depth_cap_stops_spawning_below_it() {
    // Depth 0 and 1 run (1 + 2 calls); spawning depth 2 is refused.
    let m = trees("grower", "work_limits = { max_depth = 1 }");
    assert_eq!((m.calls_ok, m.jobs_budget_exhausted), (3.0, 1.0));
}

#[test]
fn a_cost_cap_stops_new_calls_once_spent() {
    // Each call bills 100 input tokens at $10,000 per million: $1. Cap $3: calls start while
    // less than $3 is spent. Level 0 (1 call) ends at 1 s: $1. Level 1's two calls end at
    // 2 s, one after the other: after the first ($2) its two children start; after the
    // second ($3) its children are refused. 5 calls, $5: in-flight work finishes.
    let text = TREES.replace(
        "ttft = \"1s\"",
        "ttft = \"1s\"\nprice_input_per_mtok = 10_000",
    );
    let m = whole(&format!("{text}[[source]]\nname = \"s\"\narrival = {{ process = \"burst\" }}\ntemplate = \"grower\"\n[[policy]]\nname = \"p\"\nwork_limits = {{ max_cost_usd = 3 }}\n")).metrics;
    assert_eq!(
        (m.calls_ok, m.cost_usd, m.jobs_budget_exhausted),
        (5.0, 5.0, 1.0)
    );
}

#[test]
fn interval_arrivals_come_every_period() {
    let m = sim(
        "ttft = \"1s\"",
        "{ process = \"interval\", every = \"2s\", count = 3 }",
        SMALL,
        "",
    )
    .metrics;
    assert_eq!((m.jobs, m.makespan_s), (3.0, 5.0));
}

#[test]
fn diurnal_arrivals_crowd_the_peak_and_average_the_mean_rate() {
    // Mean 10 jobs/s, amplitude 1, period 100 s, peak at 50 s: over one period 1,000 jobs
    // expected (Poisson sd 32); the half centred on the peak expects 10 * (50 + 100/pi) = 818.
    let out = sim(
        "ttft = \"1ms\"",
        "{ process = \"diurnal\", rate = 10, amplitude = 1.0, period = \"100s\", peak = \"50s\", until = \"100s\" }",
        SMALL,
        "",
    );
    let m = out.metrics;
    assert!((m.jobs - 1000.0).abs() < 5.0 * 31.7, "{} jobs", m.jobs);
    let series = out.series.unwrap();
    let around_peak: f64 = series
        .iter()
        .filter(|s| s.t_s > 25.0 && s.t_s <= 75.0)
        .map(|s| s.goodput_calls_per_s)
        .sum();
    assert!(
        (around_peak - 818.0).abs() < 5.0 * 28.6,
        "{around_peak} jobs around the peak"
    );
}

#[test]
fn a_trace_replays_its_rows_with_their_tenants_templates_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.csv");
    std::fs::write(&file, "time_s,tenant,template,prompt_tokens,output_tokens\n0.5,alice,plan,1000,\n2.0,bob,pipeline,,\n").unwrap();
    let text = format!(
        "{TREES}[[source]]\nname = \"replay\"\ntemplate = \"plan\"\narrival = {{ process = \"trace\", file = \"{}\" }}\n[[policy]]\nname = \"p\"\n",
        file.display()
    );
    let out = whole(&text);
    let m = &out.metrics;
    // alice: one call of 1,000 prompt tokens at 0.5 s; bob: the 5-call pipeline from 2 s.
    assert_eq!((m.jobs, m.calls_ok, m.makespan_s), (2.0, 6.0, 5.0));
    assert_eq!(m.tokens_input, 1000.0 + 5.0 * 100.0);
    // alice and bob; the source's own tenant is left out, as no row needs it.
    assert_eq!(out.tenants.len(), 2);
    assert_eq!(
        (out.tenants[0].jobs, out.tenants[0].tokens_billed),
        (1.0, 1000.0)
    );
    assert_eq!(
        (out.tenants[1].jobs, out.tenants[1].job_latency_p50_s),
        (1.0, 3.0)
    );
}

#[test]
fn per_tenant_numbers_add_up_and_fairness_is_one_when_tenants_fare_alike() {
    let text = "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n\
        [[source]]\nname = \"a\"\narrival = { process = \"burst\", count = 2 }\n[source.job]\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 0\n\
        [[source]]\nname = \"b\"\narrival = { process = \"burst\", count = 3 }\n[source.job]\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 0\n\
        [[policy]]\nname = \"p\"\n";
    let out = whole(text);
    assert_eq!(
        out.tenants.iter().map(|t| t.jobs).collect::<Vec<_>>(),
        vec![2.0, 3.0]
    );
    assert_eq!(
        out.tenants.iter().map(|t| t.tokens_billed).sum::<f64>(),
        out.metrics.tokens_billed
    );
    assert_eq!(out.metrics.fairness_index, 1.0);
}

#[test]
fn a_fan_out_cap_cuts_the_fan_out_and_the_rest_of_the_job_runs() {
    // The pipeline fans out to 3 tools; capped at 2, the two tools run and so does the final
    // plan: 1 + 2 + 1 calls in 3 s, and the job ends as budget exhausted.
    let m = trees("pipeline", "work_limits = { max_fanout = 2 }");
    assert_eq!(
        (m.calls_ok, m.makespan_s, m.jobs_budget_exhausted, m.jobs_ok),
        (4.0, 3.0, 1.0, 0.0)
    );
}

/// Bug (issue 11, class 3): `run` allocated one entry per replication (u32::MAX of them: ~68 GB)
/// before looking at the count; it is refused first.
#[test]
fn run_refuses_replications_past_the_cap_before_allocating_for_them() {
    let text = format!(
        "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n[[source]]\nname = \"s\"\n\
         arrival = {{ process = \"burst\" }}\n[source.job]\n{ONE_CALL}\n[[policy]]\nname = \"p\"\n"
    );
    let scenario = parse(&text, "t.toml").unwrap();
    let options = stampede::run::RunOptions {
        replications: Some(u32::MAX),
        ..Default::default()
    };
    let err = stampede::run::run(&scenario, &options).unwrap_err();
    assert!(
        matches!(
            err,
            stampede::run::RunError::TooManyReplications { found: u32::MAX }
        ),
        "{err}"
    );
}

/// Issue 13: client buckets by resource. Calls are `run`'s: prompt 50, max_tokens 50, 1 s each.
#[test]
fn a_requests_client_bucket_admits_at_0_0_1_2_3_whatever_the_tokens() {
    // Rate 1/s, burst 2: admissions at 0, 0, 1, 2, 3 s (each a nanosecond late, as
    // `TokenBucket::wait_nanos` documents), answers at 1, 1, 2, 3, 4 s.
    let m = run(
        5,
        "",
        r#"bucket = { resource = "requests", rate = 1, burst = 2 }"#,
    );
    assert_eq!((m.attempts, m.rate_limited), (5.0, 0.0));
    assert!((m.makespan_s - 4.0).abs() < 1e-6, "{}", m.makespan_s);
    assert!((m.call_latency_max_s - 4.0).abs() < 1e-6);
    assert!((m.call_latency_p50_s - 2.0).abs() < 1e-6);
    assert_eq!(m.peak_client_queue, 3.0);
}

#[test]
fn an_input_tokens_client_bucket_charges_the_prompt_only() {
    // Rate 50/s, burst 50, prompt 50: one call a second, admissions 0, 1, 2, 3 s, the last
    // answered at 4 s. The same bucket on tokens charges 100 a call, above its burst: each call
    // waits for a full bucket and leaves it 50 in debt, so admissions 0, 2, 4, 6 s and 7 s.
    let input = run(
        4,
        "",
        r#"bucket = { resource = "input_tokens", rate = 50, burst = 50 }"#,
    );
    assert!(
        (input.makespan_s - 4.0).abs() < 1e-6,
        "{}",
        input.makespan_s
    );
    let tokens = run(4, "", "bucket = { rate = 50, burst = 50 }");
    assert!(
        (tokens.makespan_s - 7.0).abs() < 1e-6,
        "{}",
        tokens.makespan_s
    );
}

#[test]
fn client_buckets_mirroring_the_providers_rpm_and_itpm_get_no_429() {
    // The provider: 1 request/s (burst 2) and 25 input tokens/s (burst 100). Prompts of 50: the
    // input tokens bind (two at once, then one every 2 s; requests alone would allow one a
    // second). Six calls are admitted at 0, 0, 2, 4, 6, 8 s and the last answered at 9 s.
    let provider = "[[provider.limit]]\nresource = \"requests\"\nrate = 1\nburst = 2\n\
                    [[provider.limit]]\nresource = \"input_tokens\"\nrate = 25\nburst = 100";
    let both = r#"buckets = [{ resource = "requests", rate = 1, burst = 2 }, { resource = "input_tokens", rate = 25, burst = 100 }]"#;
    let m = run(6, provider, &format!("sdk = {{}}\n{both}"));
    assert_eq!((m.attempts, m.rate_limited), (6.0, 0.0));
    assert!((m.makespan_s - 9.0).abs() < 1e-6, "{}", m.makespan_s);
    // Requests binding instead: 10 input tokens/s per call would allow far more, requests 1/s
    // admit at 0, 0, 1, 2, 3, 4 s: the last answered at 5 s.
    let loose = r#"buckets = [{ resource = "requests", rate = 1, burst = 2 }, { resource = "input_tokens", rate = 1000, burst = 1000 }]"#;
    let m = run(6, "", loose);
    assert!((m.makespan_s - 5.0).abs() < 1e-6, "{}", m.makespan_s);
    // Mirroring only the requests limit leaves the token limit to refuse calls.
    let rpm_only = r#"bucket = { resource = "requests", rate = 1, burst = 2 }"#;
    let m = run(6, provider, &format!("sdk = {{}}\n{rpm_only}"));
    assert!(m.rate_limited > 0.0, "{}", m.rate_limited);
}

/// `calls` one-call jobs at t=0 of a 10,000-token prompt of which 8,000 are a cached prefix hit
/// with probability `hit_rate`, against an `input_tokens` bucket of 1,000/s holding 10,000, with
/// `cache_fields` in [provider]. Service: ttft 1 s, then 100 output tokens at 100/s.
fn cached(calls: u32, hit_rate: f64, cache_fields: &str, policies: &str) -> stampede::run::Report {
    let text = format!(
        r#"
        [scenario]
        name = "t"
        [provider]
        ttft = "1s"
        decode_rate = 100
        price_input_per_mtok = 3
        price_output_per_mtok = 15
        price_cache_read_per_mtok = 0.3
        price_cache_write_per_mtok = 3.75
        {cache_fields}
        [[provider.limit]]
        resource = "input_tokens"
        rate = 1000
        burst = 10000
        [[source]]
        name = "s"
        arrival = {{ process = "burst", count = {calls} }}
        [source.job]
        prompt_tokens = 10000
        cached_prompt_tokens = 8000
        cache_hit_rate = {hit_rate}
        max_tokens = 100
        output_tokens = 100
        {policies}
        "#
    );
    let scenario = parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    stampede::run::run(&scenario, &stampede::run::RunOptions::default()).unwrap()
}

const SDK: &str = "[[policy]]\nname = \"sdk\"\nsdk = {}";

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn cache_reads_that_do_not_count_leave_room_under_the_input_limit() {
    // Reads not counted: each call is charged 10,000 - 8,000 = 2,000 of the 10,000 in the
    // bucket: both pass at t=0 and end at 1 s + 100/100 s = 2 s.
    let r = cached(2, 1.0, "cache_reads_count_toward_input_limit = false", SDK);
    let m = &r.policies[0].runs[0];
    assert_eq!(m.rate_limited, 0.0);
    assert_eq!(m.makespan_s, 2.0);
    // Reads counted (the default): the first takes all 10,000; the second is refused with
    // retry-after ceil(10,000 / 1,000) = 10 s, admitted at 10 s and ends at 12 s.
    let r = cached(2, 1.0, "", SDK);
    let m = &r.policies[0].runs[0];
    assert_eq!(m.rate_limited, 1.0);
    assert_eq!(m.makespan_s, 12.0);
    // Billing is the same either way: per call 2,000 x $3 + 8,000 x $0.30 + 100 x $15 per
    // million = $0.0099; the cache saved 8,000 x ($3 - $0.30) per million = $0.0216 a call.
    for counts in ["", "cache_reads_count_toward_input_limit = false"] {
        let r = cached(2, 1.0, counts, SDK);
        let m = &r.policies[0].runs[0];
        assert_eq!(m.tokens_input, 20_000.0);
        assert_eq!(m.tokens_cache_read, 16_000.0);
        assert_eq!(m.tokens_cache_write, 0.0);
        assert!(close(m.cost_usd, 2.0 * 0.0099), "{}", m.cost_usd);
        assert!(close(m.cost_saved_by_cache_usd, 2.0 * 0.0216));
    }
}

#[test]
fn a_cache_miss_writes_the_prefix_at_the_write_price_and_counts_toward_the_limit() {
    // Hit rate 0: every attempt writes. Per call 2,000 x $3 + 8,000 x $3.75 + 100 x $15 per
    // million = $0.0375, and the cache "saved" 8,000 x ($3 - $3.75) per million = -$0.006.
    // Writes count toward ITPM whatever reads do: the second call waits as if uncached.
    let r = cached(2, 0.0, "cache_reads_count_toward_input_limit = false", SDK);
    let m = &r.policies[0].runs[0];
    assert_eq!((m.tokens_cache_read, m.tokens_cache_write), (0.0, 16_000.0));
    assert!(close(m.cost_usd, 2.0 * 0.0375), "{}", m.cost_usd);
    assert!(close(m.cost_saved_by_cache_usd, -2.0 * 0.006));
    assert_eq!(m.rate_limited, 1.0);
    assert_eq!(m.makespan_s, 12.0);
}

#[test]
fn hits_are_drawn_at_the_hit_rate_and_every_policy_sees_the_same_ones() {
    // 1,000 calls at hit rate 0.5, paced by a client bucket so that each is sent once: the hits
    // are a fixed draw of seed 1, about half.
    let paced = "[[policy]]\nname = \"paced\"\nbuckets = [{ resource = \"input_tokens\", rate = 1000, burst = 10000 }]";
    let r = cached(1000, 0.5, "", paced);
    let m = &r.policies[0].runs[0];
    assert_eq!(
        (m.attempts, m.rate_limited, m.calls_ok),
        (1000.0, 0.0, 1000.0)
    );
    let hits = m.tokens_cache_read / 8000.0;
    assert_eq!(hits + m.tokens_cache_write / 8000.0, 1000.0);
    assert!((450.0..=550.0).contains(&hits), "{hits}");
    assert_eq!(hits, HITS_OF_SEED_1);
    // Beside a policy that retries 429s (and so draws for more attempts), the paced policy sees
    // the same hits: draws are keyed by the attempt, not by what else runs or happened before.
    let r2 = cached(1000, 0.5, "", &format!("{SDK}\n{paced}"));
    assert_eq!(r2.policies[1].runs[0], *m);
    let sdk = &r2.policies[0].runs[0];
    assert!(sdk.rate_limited > 0.0);
    // One draw per attempt that reached the provider.
    assert_eq!(
        sdk.tokens_cache_read + sdk.tokens_cache_write,
        8000.0 * (sdk.attempts - sdk.rate_limited)
    );
}

/// The hits of the 1,000 first attempts above with seed 1 (pinned: a change means the draws moved).
const HITS_OF_SEED_1: f64 = 479.0;

#[test]
fn cached_prompt_tokens_are_checked_where_they_are_written() {
    let base = "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n[[source]]\nname = \"s\"\narrival = { process = \"burst\" }\n[source.job]\nprompt_tokens = 1000\nmax_tokens = 10\noutput_tokens = 10\n";
    let policy = "[[policy]]\nname = \"p\"\n";
    let err = |extra: &str| {
        parse(&format!("{base}{extra}{policy}"), "t.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = err("cached_prompt_tokens = 1001\n");
    assert!(
        e.starts_with("t.toml:12:24: field `source[0].job.cached_prompt_tokens`: expected at most prompt_tokens (1000), found 1001"),
        "{e}"
    );
    let e = err("cached_prompt_tokens = 10\ncache_hit_rate = 1.5\n");
    assert!(
        e.starts_with("t.toml:13:18: field `source[0].job.cache_hit_rate`: expected a probability"),
        "{e}"
    );
    let e = err("cache_hit_rate = 0.5\n");
    assert!(
        e.contains("`cache_hit_rate` needs `cached_prompt_tokens`"),
        "{e}"
    );
    // In a template, and a drawn prefix is clamped per draw instead.
    let t = "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n[templates.c]\nkind = \"call\"\nprompt_tokens = 100\nmax_tokens = 10\noutput_tokens = 10\ncached_prompt_tokens = 200\n[[source]]\nname = \"s\"\ntemplate = \"c\"\narrival = { process = \"burst\" }\n[[policy]]\nname = \"p\"\n";
    let e = parse(t, "t.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("t.toml:10:24: field `templates.c.cached_prompt_tokens`:"),
        "{e}"
    );
    let drawn = t.replace(
        "cached_prompt_tokens = 200",
        "cached_prompt_tokens = { dist = \"uniform\", low = 50, high = 200 }",
    );
    let s = parse(&drawn, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let m = stampede::model::world::simulate(&s, &s.policies[0], 1).unwrap();
    assert!(m.tokens_cache_read >= 50.0 && m.tokens_cache_read <= 100.0);
}

#[test]
fn an_abandoned_attempt_bills_its_cached_prefix_at_the_cache_price() {
    // As the timed-out test above, with 30 of the 50 prompt tokens a cached prefix (always a
    // hit) read at a tenth of the input price: each attempt is billed 20 x $1 + 30 x $0.10 +
    // 40 x $1 = $63, all waste; the cache saved 30 x $0.90 = $27 an attempt.
    let m = sim(
        "ttft = \"1s\"\ndecode_rate = 10\nprice_input_per_mtok = 1_000_000\nprice_output_per_mtok = 1_000_000\nprice_cache_read_per_mtok = 100_000",
        "{ process = \"burst\" }",
        &format!("{ONE_CALL}\ncached_prompt_tokens = 30"),
        "timeout = \"5s\"\nretry = { max_attempts = 2 }",
    )
    .metrics;
    assert_eq!(m.timeouts, 2.0);
    assert_eq!(m.tokens_billed, 180.0);
    assert_eq!(m.tokens_cache_read, 60.0);
    assert!(close(m.cost_usd, 126.0), "{}", m.cost_usd);
    assert!(close(m.cost_wasted_usd, 126.0), "{}", m.cost_wasted_usd);
    assert!(close(m.cost_saved_by_cache_usd, 54.0));
}
