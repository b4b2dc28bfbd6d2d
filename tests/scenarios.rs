//! The shipped scenarios tell the stories their comments and the README claim.

use stampede::metrics::timeseries::Sample;
use stampede::run::{Report, RunOptions, run};
use stampede::scenario::load;
use std::path::Path;

fn report(file: &str) -> Report {
    let scenario = load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(file),
    )
    .unwrap();
    run(&scenario, &RunOptions::default()).unwrap()
}

fn series<'a>(r: &'a Report, policy: &str) -> &'a [Sample] {
    let p = r.policies.iter().find(|p| p.name == policy).unwrap();
    p.series
        .as_deref()
        .expect("the scenario asks for a time series")
}

/// Mean goodput (calls/s) over the samples ending in (from, to].
fn goodput(s: &[Sample], from: f64, to: f64) -> f64 {
    let window: Vec<f64> = s
        .iter()
        .filter(|x| x.t_s > from && x.t_s <= to)
        .map(|x| x.goodput_calls_per_s)
        .collect();
    window.iter().sum::<f64>() / window.len() as f64
}

#[test]
fn brownout_naive_retries_hold_goodput_down_long_after_capacity_returns_and_the_budget_recovers() {
    let r = report("provider_brownout.toml");
    // Capacity is at 30% from 120 s to 180 s. Before it, every policy carries the offered load.
    for policy in ["naive", "full_jitter", "budgeted"] {
        let before = goodput(series(&r, policy), 20.0, 120.0);
        assert!(
            before > 4.0,
            "{policy}: goodput {before:.2} calls/s before the brownout"
        );
    }
    let offered = goodput(series(&r, "budgeted"), 20.0, 120.0);
    // From 60 s after the recovery to 200 s after it, naive is still locked out...
    let naive_after = goodput(series(&r, "naive"), 240.0, 380.0);
    assert!(
        naive_after < 0.2 * offered,
        "naive goodput {naive_after:.2} of {offered:.2} calls/s long after the recovery"
    );
    // ... while the budgeted policy is back to the offered load within 20 s of the recovery.
    let budgeted_after = goodput(series(&r, "budgeted"), 200.0, 380.0);
    assert!(
        budgeted_after > 0.9 * offered,
        "budgeted goodput {budgeted_after:.2} of {offered:.2} calls/s after the recovery"
    );
    let naive = &r.policies[0].aggregate.mean;
    let budgeted = &r.policies[2].aggregate.mean;
    assert!(budgeted.jobs_ok > 2.0 * naive.jobs_ok);
    assert!(naive.rate_limited > 50.0 * budgeted.rate_limited);
}

#[test]
fn policy_families_only_the_policies_that_send_less_finish_the_cascade() {
    let r = report("policy_families.toml");
    let get = |name: &str| {
        &r.policies
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .aggregate
            .mean
    };
    // Policies that only choose when to retry, or cap retries, lose the job on every replication.
    for name in [
        "naive",
        "aws_full_jitter",
        "grpc_throttling",
        "aws_standard",
    ] {
        assert_eq!(get(name).jobs_ok, 0.0, "{name}");
    }
    // Policies that pace or shed load finish it.
    for name in ["aws_adaptive", "aimd", "shared_bucket"] {
        assert_eq!(get(name).jobs_ok, 1.0, "{name}");
    }
    assert!(get("sre_throttling").jobs_ok >= 0.8);
    // The shared bucket below the limit is never refused and never retries.
    assert_eq!(get("shared_bucket").rate_limited, 0.0);
    assert_eq!(get("shared_bucket").attempts_per_call, 1.0);
    // Budgets cap the amplification that naive retries cause.
    assert!(get("grpc_throttling").attempts_per_call < 0.5 * get("naive").attempts_per_call);
}

/// Mean over the light users of a per-tenant metric, under `policy`.
fn light_mean(r: &Report, policy: &str, metric: &str) -> f64 {
    let p = r.policies.iter().find(|p| p.name == policy).unwrap();
    let light: Vec<f64> = p
        .tenants
        .iter()
        .filter(|t| t.name.starts_with("light-"))
        .map(|t| t.aggregate.mean.get(metric).unwrap())
        .collect();
    assert_eq!(light.len(), 99, "99 light users");
    light.iter().sum::<f64>() / light.len() as f64
}

#[test]
fn hierarchy_collapse_light_users_pay_for_the_heavy_one_until_the_budget_is_split() {
    let r = report("hierarchy_collapse.toml");
    // Direct: the heavy user's bursts earn everyone 429s, while average usage stays under the cap.
    assert!(light_mean(&r, "direct", "rate_limited") > 10.0);
    let direct = &r.policies[0].aggregate.mean;
    assert!(direct.tokens_billed / direct.makespan_s < 33_333.0 * 0.75);
    // One shared client bucket: no 429s, but light calls wait behind the heavy bursts.
    let shared_p99 = light_mean(&r, "global_bucket", "call_latency_p99_s");
    assert_eq!(light_mean(&r, "global_bucket", "rate_limited"), 0.0);
    // Per-user buckets under the global one, or fair turns, give the light users their latency back.
    for policy in ["hierarchical", "fair_queueing"] {
        let p99 = light_mean(&r, policy, "call_latency_p99_s");
        assert!(
            p99 < 0.5 * shared_p99,
            "{policy}: light p99 {p99:.1} s vs {shared_p99:.1} s under one bucket"
        );
        assert!(p99 < 0.5 * light_mean(&r, "direct", "call_latency_p99_s"));
        assert_eq!(light_mean(&r, policy, "rate_limited"), 0.0);
    }
}

#[test]
fn runaway_loop_only_the_guard_stops_the_uncapped_loop_and_the_caps_stop_it_cheaply() {
    let r = report("runaway_loop.toml");
    let get = |name: &str| {
        &r.policies
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .aggregate
            .mean
    };
    let (uncapped, capped) = (get("uncapped"), get("capped"));
    assert_eq!(uncapped.guard_tripped, 1.0);
    assert_eq!(capped.guard_tripped, 0.0);
    assert_eq!(capped.jobs_budget_exhausted, 2.0);
    assert!(
        capped.cost_usd <= 5.0 + 1.0,
        "the $5 cap (plus calls in flight) held: ${}",
        capped.cost_usd
    );
    assert!(uncapped.cost_usd > 50.0 * capped.cost_usd);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("uncapped") && w.contains("max_live"))
    );
}

#[test]
fn hedged_tail_hedging_at_the_tail_halves_the_p99_and_hedging_everything_trips_the_limit() {
    let r = report("hedged_tail.toml");
    let get = |name: &str| {
        &r.policies
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .aggregate
            .mean
    };
    let (none, tail, all) = (get("no_hedge"), get("hedge_p90"), get("hedge_everything"));
    assert!(
        tail.job_latency_p99_s < 0.6 * none.job_latency_p99_s,
        "p99 {} vs {}",
        tail.job_latency_p99_s,
        none.job_latency_p99_s
    );
    assert!(tail.cost_usd < 1.15 * none.cost_usd);
    assert!(tail.hedges > 0.0 && tail.hedges_won > 0.0);
    assert!(all.rate_limited > 100.0 && all.jobs_failed > 0.3 * all.jobs);
    assert_eq!(none.rate_limited + tail.rate_limited, 0.0);
    let paced = get("hedge_everything_paced");
    assert!(paced.jobs_failed <= 1.0 && paced.rate_limited == 0.0);
    assert!(paced.job_latency_p50_s > tail.job_latency_p50_s);
}
