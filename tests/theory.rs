//! The simulator against queueing theory: M/M/1, M/D/1 and M/M/4 mean waits, Little's law, the
//! probability of waiting in M/M/4 (Erlang C), and the long-run rate of a token bucket.
//!
//! Each statistical check compares a closed form with the mean over independent replications and
//! accepts it when the closed form lies inside the replications' two-sided 95% Student-t confidence
//! interval (`stampede::metrics::summary::mean_ci95`), as computed, with no hand-picked widening.
//! The seed is fixed before looking at results, so each check is a deterministic test of one 95%
//! interval. The token-bucket checks are not statistical: they hold exactly on every run.
//!
//! Warm-up bias. Every replication starts with an empty queue, so its mean wait is biased low.
//! For a single-server queue near saturation the total deficit, summed over all customers, is about
//! that of reflected Brownian motion started at zero: sigma^4 / (4 (mu - lambda)^3) seconds, with
//! sigma^2 = lambda (ca^2 + cs^2) the variance rate of the net input (ca, cs: coefficients of
//! variation of inter-arrival and service times). M/M/1 at rho = 0.8: 1.6^2 / (4 * 0.2^3) = 80 s
//! (for M/M/1 this is exact: see [`start_empty_deficit_matches_the_mm1_closed_form`]);
//! over 20,000 customers that is a bias of 0.004 s on Wq = 4 s (0.1%). M/D/1: 0.8^2 / 0.032 = 20 s,
//! 0.001 s on Wq = 2 s. For M/M/4 the deficit is computed exactly from the queue's transient
//! ([`mmc_start_empty`]): 9.3 s in all. [`assert_bias_is_negligible`] requires each bias to be
//! under a tenth of the confidence half-width actually obtained, so the CI check is not swamped by
//! the start-up transient (and the test fails if someone shortens the runs too far).

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
    fifo_servers(1, LAMBDA, CUSTOMERS, REPLICATIONS, ttft, seed)
}

/// `servers` FIFO servers sharing one queue (`concurrency = servers`), fed by `customers` Poisson
/// arrivals at `lambda` per second, one call per job, no rate limits, no output tokens: the service
/// time is `ttft` alone.
fn fifo_servers(
    servers: u32,
    lambda: f64,
    customers: u64,
    replications: u32,
    ttft: &str,
    seed: u64,
) -> Vec<Metrics> {
    let text = format!(
        r#"
[scenario]
name = "fifo_servers"
seed = {seed}

[guards]
max_events = 1_000_000_000
max_sim_time = "1000d"

[provider]
concurrency = {servers}
ttft = {ttft}

[[source]]
name = "customers"
arrival = {{ process = "poisson", rate = {lambda}, count = {customers} }}

[source.job]
prompt_tokens = 100
max_tokens = 0
output_tokens = 0

[[policy]]
name = "fifo"
"#
    );
    let scenario = stampede::scenario::parse(&text, "fifo_servers").expect("valid scenario");
    let report = run(
        &scenario,
        &RunOptions {
            replications: Some(replications),
            ..Default::default()
        },
    )
    .expect("no guard trips");
    let runs = report.policies.into_iter().next().unwrap().runs;
    assert_eq!(runs.len(), replications as usize);
    for m in &runs {
        // Every customer arrived, was served once, and nothing was refused.
        assert_eq!(m.jobs, customers as f64);
        assert_eq!(m.calls_ok, customers as f64);
        assert_eq!(m.attempts, customers as f64);
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
    assert_bias_is_negligible(what, bias, half_width);
}

/// Requires a bias bound of a replication mean to be under a tenth of the confidence half-width
/// actually obtained, so that the check is about the model and not the start-up transient (and
/// fails if someone shortens the runs too far).
fn assert_bias_is_negligible(what: &str, bias: f64, half_width: f64) {
    eprintln!("{what}: bias bound {bias:.2e} against a half-width of {half_width:.2e}");
    assert!(
        bias.abs() < half_width / 10.0,
        "{what}: bias ~{bias} is not small against the CI half-width {half_width}"
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

// M/M/c: four servers sharing one FIFO queue, a = lambda / mu = 3 erlangs, rho = a / c = 0.75.

const MMC_SERVERS: u32 = 4;
const MMC_LAMBDA: f64 = 3.0;
const MMC_MU: f64 = 1.0;
const MMC_A: f64 = MMC_LAMBDA / MMC_MU;
/// 12 replications of 80,000 customers, 2.4 times the CPU of M/M/1. The biases below shrink as
/// 1/N and the confidence intervals as 1/sqrt(n N) (n replications of N customers), so a few long
/// replications keep the biases small against the intervals. With 20 x 20,000 the interval of Wq
/// came out at 4.6% of it, too close to the 5% that [`assert_in_ci`] accepts; with 20 x 40,000 the
/// bias bound of L - lambda W came out at a tenth of its interval, the most accepted.
const MMC_CUSTOMERS: u64 = 80_000;
const MMC_REPLICATIONS: u32 = 12;

/// Erlang's C formula: the probability that a Poisson arrival waits in an M/M/c queue offered `a`
/// erlangs (`a < c`):
///
/// `C(c, a) = (a^c / c!) (c / (c - a)) / (sum_{k=0}^{c-1} a^k / k! + (a^c / c!) (c / (c - a)))`
fn erlang_c(c: u32, a: f64) -> f64 {
    assert!(a < c as f64, "unstable: a = {a} erlangs on {c} servers");
    let mut sum = 0.0; // sum_{k=0}^{c-1} a^k / k!
    let mut term = 1.0; // a^k / k!, k = 0
    for k in 0..c {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    // Now term = a^c / c!.
    let top = term * c as f64 / (c as f64 - a);
    top / (sum + top)
}

#[test]
fn erlang_c_matches_hand_values() {
    // c = 2, a = 1: sum = 1 + 1 = 2, (1/2) (2/1) = 1: C = 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-15);
    // c = 1: C = rho, an arrival waits when the single server is busy (M/M/1).
    assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-15);
    // c = 4, a = 3: sum = 1 + 3 + 9/2 + 9/2 = 13, (81/24) (4/1) = 27/2: C = 13.5/26.5 = 27/53.
    assert!((erlang_c(4, 3.0) - 27.0 / 53.0).abs() < 1e-15);
}

/// The M/M/4 values: C = 27/53, Wq = C / (c mu - lambda) = 27/53 s, W = Wq + 1/mu = 80/53 s,
/// L = lambda W = 240/53.
fn mmc_theory() -> (f64, f64, f64, f64) {
    let c = erlang_c(MMC_SERVERS, MMC_A);
    let wq = c / (MMC_SERVERS as f64 * MMC_MU - MMC_LAMBDA);
    let w = wq + 1.0 / MMC_MU;
    (c, wq, w, MMC_LAMBDA * w)
}

/// What starting empty costs an M/M/c queue, in total over all the customers of a long run.
struct StartEmpty {
    /// Sum over customers of `Wq - E[wait]`, seconds.
    wait: f64,
    /// Sum over customers of `sup_j (P(N >= j) - P(customer finds >= j))`, N the steady-state
    /// number in system: bounds the deficit of any probability that grows with the number found.
    kolmogorov: f64,
}

/// [`StartEmpty`] for an M/M/c queue, exactly up to truncation, by uniformization. The number in
/// system is a birth-death chain; run at the pace of a Poisson clock of rate `big = lambda + c mu`
/// it is the discrete chain `P = I + Q / big` observed after `K(t) ~ Poisson(big t)` steps. As
/// `int_0^inf P(K(t) = k) dt = 1 / big` for every k, `int_0^inf (f_inf - E f(N(t))) dt` is
/// `sum_k (f_inf - E f(Y_k)) / big` for the discrete chain Y started at 0. Poisson arrivals see
/// time averages (PASTA), so the sum over customers arriving at rate lambda is `lambda` times that.
/// Started empty, a birth-death chain grows stochastically towards its steady state, so every
/// term is non-negative and a run of N customers loses at most this sum.
fn mmc_start_empty(c: u32, lambda: f64, mu: f64) -> StartEmpty {
    const STATES: usize = 300; // P(N >= 300) < 0.8^300 for the queues here: nothing is cut off
    let big = lambda + c as f64 * mu;
    let up = lambda / big;
    let down = |n: usize| mu * n.min(c as usize) as f64 / big;
    let wait_of = |n: usize| (n + 1).saturating_sub(c as usize) as f64 / (c as f64 * mu);
    // Steady state by detailed balance.
    let mut pi = vec![1.0; STATES];
    for n in 1..STATES {
        pi[n] = pi[n - 1] * up / down(n);
    }
    let total: f64 = pi.iter().sum();
    pi.iter_mut().for_each(|x| *x /= total);
    let mean_wait = |p: &[f64]| {
        p.iter()
            .enumerate()
            .map(|(n, x)| x * wait_of(n))
            .sum::<f64>()
    };
    let wq = mean_wait(&pi);
    let mut p = vec![0.0; STATES];
    p[0] = 1.0;
    let mut next = vec![0.0; STATES];
    let (mut wait, mut kolmogorov) = (0.0, 0.0);
    for _ in 0..1_000_000 {
        let dw = wq - mean_wait(&p);
        let (mut tail_pi, mut tail_p, mut dk) = (0.0, 0.0, 0.0f64);
        for n in (1..STATES).rev() {
            tail_pi += pi[n];
            tail_p += p[n];
            assert!(tail_pi - tail_p > -1e-12, "not stochastically below");
            dk = dk.max(tail_pi - tail_p);
        }
        wait += dw;
        kolmogorov += dk;
        if dk < 1e-10 {
            // The terms decay geometrically by then, by a factor e every ~200 steps at most for
            // the queues here: what is left of either sum is ~1e-8, against totals of several.
            return StartEmpty {
                wait: wait * lambda / big,
                kolmogorov: kolmogorov * lambda / big,
            };
        }
        next.iter_mut().for_each(|x| *x = 0.0);
        for n in 0..STATES {
            let u = if n + 1 < STATES { up } else { 0.0 };
            let d = down(n);
            next[n] += p[n] * (1.0 - u - d);
            if n + 1 < STATES {
                next[n + 1] += p[n] * u;
            }
            if n > 0 {
                next[n - 1] += p[n] * d;
            }
        }
        std::mem::swap(&mut p, &mut next);
    }
    panic!("the transient did not die out");
}

#[test]
fn start_empty_deficit_matches_the_mm1_closed_form() {
    // For M/M/1 the start-empty deficit of the mean number in system integrates to
    // rho / (mu (1 - rho)^3), so customers (who wait N / mu behind the N they find) lose
    // rho^2 / (mu (1 - rho)^3) seconds in all: 80 s at rho = 0.8, mu = 1, which is also the module
    // comment's reflected-Brownian figure (exact here). 2 s at rho = 0.5.
    for (lambda, mu) in [(LAMBDA, MU), (0.5, 1.0), (0.6, 2.0)] {
        let rho = lambda / mu;
        let closed = rho * rho / (mu * (1.0 - rho).powi(3));
        let exact = mmc_start_empty(1, lambda, mu).wait;
        assert!(
            ((exact - closed) / closed).abs() < 1e-6,
            "lambda {lambda}, mu {mu}: uniformization {exact}, closed form {closed}"
        );
    }
}

/// The M/M/4 replications, simulated once and shared by the tests that check them.
fn mmc_runs() -> &'static [Metrics] {
    static RUNS: OnceLock<Vec<Metrics>> = OnceLock::new();
    RUNS.get_or_init(|| {
        fifo_servers(
            MMC_SERVERS,
            MMC_LAMBDA,
            MMC_CUSTOMERS,
            MMC_REPLICATIONS,
            r#"{ dist = "exponential", mean = "1s" }"#,
            7,
        )
    })
}

/// The M/M/4 start-empty deficits (computed once).
fn mmc_warmup() -> &'static StartEmpty {
    static WARMUP: OnceLock<StartEmpty> = OnceLock::new();
    WARMUP.get_or_init(|| mmc_start_empty(MMC_SERVERS, MMC_LAMBDA, MMC_MU))
}

#[test]
fn mm4_mean_wait_in_queue_matches_erlang_c() {
    let (_, wq, _, _) = mmc_theory(); // 27/53 = 0.509 s
    let half = assert_in_ci(
        "M/M/4 Wq",
        &column(mmc_runs(), |m| m.provider_wait_mean_s),
        wq,
    );
    // Starting empty lowers a replication's mean wait by at most wait / N: 9.3 s / 80,000.
    let bias = mmc_warmup().wait / MMC_CUSTOMERS as f64;
    assert_bias_is_negligible("M/M/4 Wq", bias, half);
}

#[test]
fn mm4_probability_of_waiting_matches_erlang_c() {
    let (c_wait, _, _, _) = mmc_theory(); // 27/53 = 0.509
    let half = assert_in_ci(
        "M/M/4 P(wait > 0)",
        &column(mmc_runs(), |m| m.provider_waited_fraction),
        c_wait,
    );
    // Starting empty lowers the fraction of arrivals that find all servers busy by at most the
    // start-up deficit of any such probability over the run, kolmogorov / N.
    let bias = mmc_warmup().kolmogorov / MMC_CUSTOMERS as f64;
    assert_bias_is_negligible("M/M/4 P(wait > 0)", bias, half);
}

#[test]
fn mm4_time_in_system_and_number_in_system_obey_littles_law() {
    let runs = mmc_runs();
    let (_, wq, w, l) = mmc_theory();
    let n = MMC_CUSTOMERS as f64;
    let times = column(runs, |m| m.provider_time_mean_s);
    let half_w = assert_in_ci("M/M/4 W", &times, w);
    let wait_bias = mmc_warmup().wait / n;
    assert_bias_is_negligible("M/M/4 W", wait_bias, half_w);
    // L, the time-average number in system, is the customers' total time in system over the run's
    // length (checked exactly below): N W-hat / (T_N + D), T_N ~ Gamma(N, lambda) the last arrival
    // and D the drain after it. The last arrival starts service after its wait, when every
    // customer still present is in service, so E[D] <= Wq + H_c / mu (H_c = 1 + 1/2 + ... + 1/c,
    // the mean of the largest of c exponential services). To first order the relative bias of L
    // is (1 - lambda E[D]) / N from the length (E[N / T_N] = lambda N / (N - 1)), -wait / (N W)
    // from the start, and the covariance of W-hat with N / T, at most sd(W-hat) / (W sqrt(N)) by
    // Cauchy-Schwarz, sd(W-hat) measured over the replications.
    let harmonic: f64 = (1..=MMC_SERVERS).map(|k| 1.0 / k as f64).sum();
    let drain = wq + harmonic / MMC_MU;
    let length = (1.0 - MMC_LAMBDA * drain).abs() / n;
    let sd_w = sample_sd(&times);
    let covariance = sd_w / (w * n.sqrt());
    let half_l = assert_in_ci("M/M/4 L", &column(runs, |m| m.mean_in_flight), l);
    let l_bias = l * (length + wait_bias / w + covariance);
    assert_bias_is_negligible("M/M/4 L", l_bias, half_l);
    // L = lambda W, lambda the arrival rate, per replication: L - lambda W = W-hat (N / T - lambda),
    // whose mean is lambda W times the length and covariance terms above.
    let little = column(runs, |m| {
        m.mean_in_flight - MMC_LAMBDA * m.provider_time_mean_s
    });
    let (_, half_little) = mean_ci95(&little);
    assert_in_ci_of_zero("M/M/4 L - lambda W", &little, 0.05 * l);
    let little_bias = MMC_LAMBDA * w * (length + covariance);
    assert_bias_is_negligible("M/M/4 L - lambda W", little_bias, half_little);
    for (r, m) in runs.iter().enumerate() {
        let area = m.mean_in_flight * m.makespan_s;
        let sum_of_times = m.calls_ok * m.provider_time_mean_s;
        assert!(
            ((area - sum_of_times) / sum_of_times).abs() < 1e-9,
            "replication {r}: L*T = {area}, N*W = {sum_of_times}"
        );
    }
}

/// Sample standard deviation (n - 1 in the denominator).
fn sample_sd(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

// Token bucket: under overload, what passes is the burst plus the refill.

/// Tokens per call (`prompt_tokens`, with `max_tokens = 0`), the bucket's refill per second and
/// its capacity, and the calls, all sent at t = 0.
const CALL_TOKENS: f64 = 100.0;
const REFILL: f64 = 100.0;
const BURST: f64 = 1_000.0;
const BURST_CALLS: u64 = 200;
const BUCKET_REPLICATIONS: u32 = 10;

/// `BURST_CALLS` one-call jobs at t = 0 of `CALL_TOKENS` each, served in 1 s with no concurrency
/// limit, so each call ends 1 s after the instant it is admitted.
fn bucket_runs(provider_limit: &str, policy: &str, replications: u32) -> Vec<Metrics> {
    let text = format!(
        r#"
[scenario]
name = "token_bucket"
seed = 11

[guards]
max_events = 1_000_000_000
max_sim_time = "1000d"

[provider]
ttft = "1s"
count_rejected = false
{provider_limit}

[[source]]
name = "burst"
arrival = {{ process = "burst", count = {BURST_CALLS} }}

[source.job]
prompt_tokens = {CALL_TOKENS}
max_tokens = 0
output_tokens = 0

[[policy]]
name = "p"
{policy}
"#
    );
    let scenario = stampede::scenario::parse(&text, "token_bucket").expect("valid scenario");
    let report = run(
        &scenario,
        &RunOptions {
            replications: Some(replications),
            ..Default::default()
        },
    )
    .expect("no guard trips");
    let runs = report.policies.into_iter().next().unwrap().runs;
    for m in &runs {
        // Every call got through in the end, and paid for its tokens once.
        assert_eq!(m.calls_ok, BURST_CALLS as f64);
        assert_eq!(m.gave_up, 0.0);
        assert_eq!(m.tokens_billed, BURST_CALLS as f64 * CALL_TOKENS);
    }
    runs
}

/// For each run: the time of the last admission (the run ends 1 s of service after it), and
/// `B + R t_last - admitted`, what the bucket still held just after it.
fn bucket_left_over(m: &Metrics) -> (f64, f64) {
    let t_last = m.makespan_s - 1.0;
    (t_last, BURST + REFILL * t_last - m.tokens_billed)
}

#[test]
fn provider_token_limit_admits_burst_plus_refill_under_retry_overload() {
    // A bucket that never overflows holds B + R t - A(t) at t, A(t) the tokens it let through:
    // admissions can only take what the start (B) and the refill (R t) put in. 200 calls of
    // k = 100 tokens at t = 0 against R = 100 tokens/s, B = 1000; refused calls retry (tenacity,
    // fixed 1 s with equal jitter: every 0.5 to 1 s), so the 190 calls refused at t = 0 offer
    // 190 k / 0.75 s = 250 R, and even the last one alone 1.3 R. Refusals do not count against the
    // limit (count_rejected = false; when they do, a retry storm keeps the bucket empty and less
    // than R passes, by design). Every pending call tries at least every k / R = 1 s, so once the
    // bucket holds k a call takes it within 1 s, by which time the bucket holds at most 2k < B:
    // it never overflows. Hence, exactly, with t_last the last admission,
    //     B + R t_last - k <= A(t_last) = 200 k <= B + R t_last,
    // and the admitted rate beyond the burst, (A - B) / t_last, is R to within k / t_last (0.5%).
    let limit =
        format!("[[provider.limit]]\nresource = \"tokens\"\nrate = {REFILL}\nburst = {BURST}");
    let policy = "retry = { max_attempts = 1_000_000, wait = { kind = \"fixed\", wait = \"1s\" }, \
                  jitter = \"equal\" }";
    let runs = bucket_runs(&limit, policy, BUCKET_REPLICATIONS);
    for (r, m) in runs.iter().enumerate() {
        let (t_last, left) = bucket_left_over(m);
        assert!(
            (-1e-6..=CALL_TOKENS + 1e-6).contains(&left),
            "replication {r}: admitted {} by t = {t_last} s, B + R t = {}",
            m.tokens_billed,
            BURST + REFILL * t_last
        );
        assert!(m.rate_limited > 10.0 * BURST_CALLS as f64, "not overloaded");
    }
    let rate = column(&runs, |m| {
        let (t_last, _) = bucket_left_over(m);
        (m.tokens_billed - BURST) / t_last
    });
    let (mean, half) = mean_ci95(&rate);
    let (left, left_half) = mean_ci95(&column(&runs, |m| bucket_left_over(m).1));
    let (attempts, _) = mean_ci95(&column(&runs, |m| m.attempts));
    eprintln!(
        "provider bucket: (A - B) / t_last = {mean} +/- {half} tokens/s (R = {REFILL}); \
         B + R t_last - A = {left} +/- {left_half} tokens; {attempts} attempts"
    );
}

#[test]
fn client_bucket_admits_burst_plus_refill_to_the_nanosecond() {
    // The same 200 calls, no provider limit, paced by the client's own bucket (rate R, burst B):
    // calls wait in its queue and pass the instant it holds k, so nothing is left over but the
    // nanosecond of slack of each wake-up: B + R t_last - A is 0 to within R * 2 ns per call.
    let runs = bucket_runs(
        "",
        &format!("bucket = {{ rate = {REFILL}, burst = {BURST} }}"),
        1,
    );
    let m = &runs[0];
    let (t_last, left) = bucket_left_over(m);
    eprintln!("client bucket: B + R t_last - A = {left} tokens at t_last = {t_last} s");
    assert_eq!(m.rate_limited, 0.0);
    assert!(
        (-1e-6..=REFILL * 2e-9 * BURST_CALLS as f64).contains(&left),
        "admitted {} by t = {t_last} s, B + R t = {}",
        m.tokens_billed,
        BURST + REFILL * t_last
    );
}
