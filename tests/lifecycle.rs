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
