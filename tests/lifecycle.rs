//! Attempts, calls and jobs end once, and what counts them returns to zero: regression tests for
//! the bookkeeping that ends them.

use stampede::run::{RunOptions, run};
use stampede::scenario::parse;

/// 400 one-call jobs against a provider that fails 30% of attempts, hedged after 800 ms, retried
/// under an Envoy budget (at most max(20% of active requests, 3) retries in flight).
const HEDGED_ENVOY: &str = r#"
[scenario]
name = "hedged_envoy"
seed = 5
replications = 3
[provider]
concurrency = 8
error_rate = 0.3
ttft = { dist = "exponential", mean = "1s" }
[[source]]
name = "s"
arrival = { process = "poisson", rate = 2, count = 400 }
[source.job]
prompt_tokens = 100
max_tokens = 100
output_tokens = 0
[[policy]]
name = "hedged"
hedge = { delay = "800ms", max_attempts = 2 }
retry = { max_attempts = 4, wait = { kind = "fixed", wait = "1s" } }
retry_budget = { kind = "envoy", budget_percent = 20, min_retry_concurrency = 3 }
[[policy]]
name = "unbudgeted"
hedge = { delay = "800ms", max_attempts = 2 }
retry = { max_attempts = 4, wait = { kind = "fixed", wait = "1s" } }
"#;

#[test]
fn a_call_answered_by_its_hedge_ends_its_own_retry_so_the_envoy_budget_is_not_eaten() {
    // Once a hedge answers a call whose own attempt was a retry, that retry is over. It used to
    // stay counted in the Envoy budget's retries in flight forever: the count only grew, and the
    // budget refused ever more retries (about 104 of 400 jobs failed).
    let scenario = parse(HEDGED_ENVOY, "hedged_envoy.toml").unwrap();
    let report = run(&scenario, &RunOptions::default()).unwrap();
    let budgeted = &report.policies[0].aggregate.mean;
    let unbudgeted = &report.policies[1].aggregate.mean;
    assert!(
        budgeted.jobs_failed < 25.0,
        "{} of 400 jobs failed",
        budgeted.jobs_failed
    );
    // The budget still binds a little: it refuses some retries the unbudgeted policy makes.
    assert!(budgeted.retries_throttled > 0.0);
    assert!(budgeted.jobs_failed >= unbudgeted.jobs_failed);
}

#[test]
fn every_shipped_scenario_passes_the_conservation_checks() {
    // The checks panic on a violation; they run in every replication once forced (debug builds
    // run them anyway).
    stampede::model::conservation::force();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let scenario = stampede::scenario::load(&path).unwrap();
            run(&scenario, &RunOptions::default()).unwrap();
            checked += 1;
        }
    }
    assert!(checked >= 7, "{checked} scenarios");
}

#[test]
fn a_run_stopped_by_a_guard_leaves_live_work_and_still_balances() {
    // A spawn tree that doubles every second until max_live stops it quietly.
    stampede::model::conservation::force();
    let text = r#"
[scenario]
name = "growing"
[guards]
max_live = 200
on_trip = "stop"
[provider]
ttft = "1s"
[templates.grower]
kind = "seq"
steps = ["call", "grow"]
[templates.call]
kind = "call"
prompt_tokens = 10
max_tokens = 10
output_tokens = 0
[templates.grow]
kind = "spawn"
probability = 1.0
width = 2
child = "grower"
max_depth = 30
[[source]]
name = "s"
arrival = { process = "burst" }
template = "grower"
[[policy]]
name = "p"
"#;
    let scenario = parse(text, "growing.toml").unwrap();
    let report = run(&scenario, &RunOptions::default()).unwrap();
    let m = &report.policies[0].aggregate.mean;
    assert_eq!(m.guard_tripped, 1.0);
    assert_eq!(m.jobs, 1.0);
    assert_eq!(m.jobs_ok + m.jobs_failed + m.jobs_budget_exhausted, 0.0);
}

#[test]
fn a_tree_that_never_calls_stops_at_the_event_guard_instead_of_growing_inside_one_event() {
    // Every spawn spawns two more, to depth 40: 2^41 tasks, all inside the first event (no call
    // ever schedules another), and none alive for long. Tasks started count against max_events.
    let text = r#"
[scenario]
name = "silent_tree"
[guards]
max_events = 100_000
on_trip = "stop"
[provider]
ttft = "1s"
[templates.grow]
kind = "spawn"
probability = 1.0
width = 2
child = "grow"
max_depth = 40
[[source]]
name = "s"
arrival = { process = "burst" }
template = "grow"
[[policy]]
name = "p"
"#;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let scenario = parse(text, "silent_tree.toml").unwrap();
        tx.send(run(&scenario, &RunOptions::default()).unwrap())
            .unwrap();
    });
    let report = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the run ends within a minute");
    let m = &report.policies[0].aggregate.mean;
    assert_eq!(m.guard_tripped, 1.0);
    assert_eq!(m.events, 1.0);
    assert!(
        report.warnings[0].contains("max_events = 100000"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn a_spawn_chain_as_deep_as_the_validator_allows_runs_on_the_worker_threads() {
    // One spawn spawning one more, 10,000 levels down, in 4 replications at once: the walk of the
    // tree recursed per level, which overflowed the workers' default stacks (SIGABRT).
    let text = r#"
[scenario]
name = "deep"
replications = 4
[provider]
ttft = "1s"
[templates.grower]
kind = "spawn"
probability = 1.0
width = 1
child = "grower"
max_depth = 10_000
[[source]]
name = "s"
arrival = { process = "burst" }
template = "grower"
[[policy]]
name = "p"
"#;
    let scenario = parse(text, "deep.toml").unwrap();
    let report = run(&scenario, &RunOptions::default()).unwrap();
    assert_eq!(report.policies[0].aggregate.mean.jobs_ok, 1.0);
    assert_eq!(report.policies[0].aggregate.mean.calls_ok, 0.0);
    // The walk over the tree is a loop, not a recursion: a 256 KiB stack is enough for it.
    let small = on_a_small_stack(scenario);
    let small = (small.jobs_ok, small.events);
    assert_eq!(small, (1.0, 1.0));
}

#[test]
fn an_agent_restarted_a_million_times_in_one_event_needs_no_deep_stack() {
    // Every call is larger than the limit's burst: refused at once, so the agent is restarted at
    // once, a million times inside the first event. Each restart used to nest give_up ->
    // start_call -> give_up in the call stack (it overflowed even 256 MiB).
    let text = r#"
[scenario]
name = "restarts"
[provider]
ttft = "1s"
[[provider.limit]]
resource = "tokens"
rate = 100
burst = 30
[[source]]
name = "s"
arrival = { process = "burst" }
[source.job]
prompt_tokens = 100
max_tokens = 10
output_tokens = 0
[[policy]]
name = "p"
agent_restarts = 1_000_000
"#;
    let scenario = parse(text, "restarts.toml").unwrap();
    let m = on_a_small_stack(scenario);
    assert_eq!((m.agent_restarts, m.jobs_failed), (1_000_000.0, 1.0));
    assert_eq!(m.gave_up, 1_000_001.0);
}

/// Policy 0 of `scenario` (seed 1) on a thread with a 256 KiB stack: a walk that recursed per
/// level or per restart would overflow it.
fn on_a_small_stack(scenario: stampede::model::Scenario) -> stampede::metrics::Metrics {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || stampede::model::simulate(&scenario, &scenario.policies[0], 1).unwrap())
        .unwrap()
        .join()
        .expect("no stack overflow")
}
