//! The simulator against queueing theory: M/M/1 and M/D/1 mean waits, and Little's law.
//!
//! Each check compares a closed form with the mean over independent replications and accepts it
//! when the closed form lies inside the replications' two-sided 95% Student-t confidence interval
//! (`stampede::metrics::summary::mean_ci95`), as computed, with no hand-picked widening. The seed
//! is fixed before looking at results, so each check is a deterministic test of one 95% interval.
//!
//! Warm-up bias. Every replication starts with an empty queue, so its mean wait is biased low.
//! For a single-server queue near saturation the total deficit, summed over all customers, is about
//! that of reflected Brownian motion started at zero: sigma^4 / (4 (mu - lambda)^3) seconds, with
//! sigma^2 = lambda (ca^2 + cs^2) the variance rate of the net input (ca, cs: coefficients of
//! variation of inter-arrival and service times). M/M/1 at rho = 0.8: 1.6^2 / (4 * 0.2^3) = 80 s;
//! over 20,000 customers that is a bias of 0.004 s on Wq = 4 s (0.1%). M/D/1: 0.8^2 / 0.032 = 20 s,
//! 0.001 s on Wq = 2 s. [`assert_warmup_bias_is_negligible`] requires this bias to be under a tenth
//! of the confidence half-width actually obtained, so the CI check is not swamped by the start-up
//! transient (and the test fails if someone shortens the runs too far).

use stampede::metrics::Metrics;
use stampede::metrics::summary::mean_ci95;
use stampede::run::{RunOptions, run};
use std::sync::OnceLock;

const LAMBDA: f64 = 0.8;
const MU: f64 = 1.0;
const RHO: f64 = LAMBDA / MU;
/// Customers per replication, and replications. 20 x 20,000 customers take about a second of CPU
/// in a debug build.
const CUSTOMERS: u64 = 20_000;
const REPLICATIONS: u32 = 20;

/// A single FIFO server (`concurrency = 1`) fed by Poisson arrivals at `LAMBDA`, one call per job,
/// no rate limits, no output tokens: the service time is `ttft` alone.
fn single_server(ttft: &str, seed: u64) -> Vec<Metrics> {
    let text = format!(
        r#"
[scenario]
name = "single_server"
seed = {seed}

[guards]
max_events = 1_000_000_000
max_sim_time = "1000d"

[provider]
concurrency = 1
ttft = {ttft}

[[source]]
name = "customers"
arrival = {{ process = "poisson", rate = {LAMBDA}, count = {CUSTOMERS} }}

[source.job]
prompt_tokens = 100
max_tokens = 0
output_tokens = 0

[[policy]]
name = "fifo"
"#
    );
    let scenario = stampede::scenario::parse(&text, "single_server").expect("valid scenario");
    let report = run(
        &scenario,
        &RunOptions {
            replications: Some(REPLICATIONS),
            ..Default::default()
        },
    )
    .expect("no guard trips");
    let runs = report.policies.into_iter().next().unwrap().runs;
    assert_eq!(runs.len(), REPLICATIONS as usize);
    for m in &runs {
        // Every customer arrived, was served once, and nothing was refused.
        assert_eq!(m.jobs, CUSTOMERS as f64);
        assert_eq!(m.calls_ok, CUSTOMERS as f64);
        assert_eq!(m.attempts, CUSTOMERS as f64);
    }
    runs
}

/// The M/M/1 replications, simulated once and shared by the tests that check them.
fn mm1_runs() -> &'static [Metrics] {
    static RUNS: OnceLock<Vec<Metrics>> = OnceLock::new();
    RUNS.get_or_init(|| single_server(r#"{ dist = "exponential", mean = "1s" }"#, 7))
}

fn column(runs: &[Metrics], f: impl Fn(&Metrics) -> f64) -> Vec<f64> {
    runs.iter().map(f).collect()
}

/// Asserts `theory` lies in the 95% confidence interval of the mean of `xs`, and returns the
/// half-width.
fn assert_in_ci(what: &str, xs: &[f64], theory: f64) -> f64 {
    let (mean, half) = mean_ci95(xs);
    eprintln!("{what}: {mean} +/- {half} (theory {theory})");
    assert!(
        half.is_finite() && half > 0.0,
        "{what}: degenerate interval {half}"
    );
    assert!(
        (mean - theory).abs() <= half,
        "{what}: theory {theory} outside the 95% CI {mean} +/- {half}"
    );
    // The interval must be narrow enough to mean something: within 5% of the value, it tells
    // M/M/1 (Wq = 4 s) from M/D/1 (Wq = 2 s) and from a server that ignores its queue (Wq = 0).
    assert!(
        half < 0.05 * theory,
        "{what}: interval +/- {half} too wide to test {theory}"
    );
    half
}

/// See the module comment: RBM estimate of the start-empty bias of a replication's mean wait.
fn assert_warmup_bias_is_negligible(what: &str, cs2: f64, half_width: f64) {
    let ca2 = 1.0; // Poisson arrivals
    let sigma2 = LAMBDA * (ca2 + cs2);
    let drift = MU - LAMBDA;
    let bias = sigma2 * sigma2 / (4.0 * drift.powi(3)) / CUSTOMERS as f64;
    assert!(
        bias < half_width / 10.0,
        "{what}: warm-up bias ~{bias} s is not small against the CI half-width {half_width} s"
    );
}

#[test]
fn mm1_mean_wait_in_queue_matches_rho_over_mu_minus_lambda() {
    let runs = mm1_runs();
    let wq = RHO / (MU - LAMBDA); // 4 s
    let half = assert_in_ci("M/M/1 Wq", &column(runs, |m| m.provider_wait_mean_s), wq);
    assert_warmup_bias_is_negligible("M/M/1 Wq", 1.0, half);
}

#[test]
fn mm1_time_in_system_and_number_in_system_obey_littles_law() {
    let runs = mm1_runs();
    // W = 1 / (mu - lambda) = 5 s; L = rho / (1 - rho) = 4 = lambda W.
    let w = 1.0 / (MU - LAMBDA);
    let half_w = assert_in_ci("M/M/1 W", &column(runs, |m| m.provider_time_mean_s), w);
    assert_warmup_bias_is_negligible("M/M/1 W", 1.0, half_w);
    assert_in_ci(
        "M/M/1 L",
        &column(runs, |m| m.mean_in_flight),
        RHO / (1.0 - RHO),
    );
    // L = lambda W, lambda the arrival rate: the per-replication difference averages to zero.
    assert_in_ci_of_zero(
        "M/M/1 L - lambda W",
        &column(runs, |m| m.mean_in_flight - LAMBDA * m.provider_time_mean_s),
        0.05 * RHO / (1.0 - RHO),
    );
    // A run that starts and ends empty satisfies L = (N / T) W exactly, T its length: the area
    // under the number-in-system curve is the sum of the customers' times in system. This checks
    // the metrics' bookkeeping, not the statistics.
    for (r, m) in runs.iter().enumerate() {
        let t = m.makespan_s; // the last event is the last departure
        let area = m.mean_in_flight * t;
        let sum_of_times = m.calls_ok * m.provider_time_mean_s;
        assert!(
            ((area - sum_of_times) / sum_of_times).abs() < 1e-9,
            "replication {r}: L*T = {area}, N*W = {sum_of_times}"
        );
    }
}

/// Like [`assert_in_ci`] for a quantity whose theoretical value is 0 (so "within 5%" needs a scale).
fn assert_in_ci_of_zero(what: &str, xs: &[f64], scale: f64) {
    let (mean, half) = mean_ci95(xs);
    eprintln!("{what}: {mean} +/- {half} (theory 0)");
    assert!(
        half.is_finite() && half > 0.0,
        "{what}: degenerate interval {half}"
    );
    assert!(
        mean.abs() <= half,
        "{what}: 0 outside the 95% CI {mean} +/- {half}"
    );
    assert!(half < scale, "{what}: interval +/- {half} too wide");
}

#[test]
fn md1_mean_wait_in_queue_matches_pollaczek_khinchine() {
    let runs = single_server(r#""1s""#, 7);
    let wq = RHO / (2.0 * MU * (1.0 - RHO)); // 2 s
    let half = assert_in_ci("M/D/1 Wq", &column(&runs, |m| m.provider_wait_mean_s), wq);
    assert_warmup_bias_is_negligible("M/D/1 Wq", 0.0, half);
    for m in &runs {
        // Deterministic service: every customer is served for exactly 1 s.
        let service = m.provider_time_mean_s - m.provider_wait_mean_s;
        assert!((service - 1.0).abs() < 1e-9, "mean service {service} s");
    }
}
