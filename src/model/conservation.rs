//! Conservation checks: at the end of every replication, everything that started ended exactly
//! once or is still live, every gauge of things in flight agrees with what is in flight (zero
//! when nothing is live), and the time integral of attempts in flight equals the sum of their
//! stays (Little's law, `L * T = sum of W`, exact on integer nanoseconds).
//!
//! They run in debug builds (so in every test) and, in release builds, when the environment sets
//! `STAMPEDE_CONSERVATION=1`. A violation is a bug in stampede, never in the scenario: the run
//! panics with every broken rule listed.

use crate::metrics::Metrics;

/// What started and what ended, counted where it happens.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    pub jobs_started: u64,
    pub jobs_ended: u64,
    pub tasks_started: u64,
    pub tasks_ended: u64,
    /// Calls and hedges.
    pub calls_started: u64,
    pub calls_ended: u64,
    pub hedges_ended: u64,
    /// Attempts refused at the provider's door (429).
    pub refused: u64,
    /// Attempts answered with a server error because the provider was down.
    pub down: u64,
    /// Attempts larger than a limit can ever hold.
    pub too_large: u64,
    /// Attempts the provider admitted.
    pub admitted: u64,
    /// Admitted attempts that left the provider, whatever the reason.
    pub left_provider: u64,
    /// ... of which served to the end and answered,
    pub answered: u64,
    /// ... failed with a 500 when served,
    pub failed_in_service: u64,
    /// ... and cut off by the client (timeout, a hedge that lost, a call answered by its hedge).
    pub cut_off: u64,
    /// The sum of the stays of attempts that left the provider.
    pub time_at_provider_ns: u128,
    /// Tokens billed to jobs that ended.
    pub job_tokens: u64,
}

/// What is live at the end of a run, read from each part's own state.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub jobs: u64,
    pub tasks: u64,
    pub calls: u64,
    /// Hedges on their calls' lists.
    pub hedges: u64,
    /// Requests the provider holds, and its own count of them (queued + served).
    pub requests: u64,
    pub provider_in_flight: u64,
    /// The recorder's in-flight gauge.
    pub recorded_in_flight: u64,
    pub provider_queued: u64,
    /// Requests on the processor-sharing list (FIFO: none).
    pub sharing: u64,
    /// Calls in the admission line, by its count and by the calls' own flags.
    pub admission_line: u64,
    pub calls_in_line: u64,
    /// What went in and out of the admission line, and what its buckets were charged.
    pub line: super::admission::LineCounts,
    /// Calls whose send a policy delayed, by the client's count and by the calls' own flags.
    pub delayed: u64,
    pub calls_delayed: u64,
    /// Retries in flight, by the client's counter and by the calls' own flags.
    pub active_retries: u64,
    pub calls_retrying: u64,
    /// The stays so far of requests still held.
    pub open_stays_ns: u128,
    /// The time integral of the in-flight gauge over the run.
    pub in_flight_area_ns: u128,
    /// Tokens billed to live jobs.
    pub job_tokens: u64,
    /// Jobs, attempts and tokens summed over tenants, when tenants are counted apart.
    pub tenant_sums: Option<[u64; 3]>,
    /// Attempts, 429s, server errors, timeouts, answers and tokens billed summed over
    /// providers, when providers are counted apart.
    pub provider_sums: Option<[u64; 6]>,
    /// Each provider's attempts in flight: (as its recorder counts them, as it holds them).
    pub provider_in_flight_pairs: Vec<(u64, u64)>,
}

static FORCED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the checks run: always in debug builds, on request in release builds.
pub fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    cfg!(debug_assertions)
        || FORCED.load(std::sync::atomic::Ordering::Relaxed)
        || *ON.get_or_init(|| std::env::var_os("STAMPEDE_CONSERVATION").is_some_and(|v| v != "0"))
}

/// Turns the checks on for the rest of the process, whatever the build (for tests run with
/// `--release`).
pub fn force() {
    FORCED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Every rule that `life`, `live` and the run's `metrics` break. `drained`: the run ended because
/// nothing was left to happen (no guard stopped it), so nothing may be live.
pub fn violations(life: &Lifecycle, live: &Live, metrics: &Metrics, drained: bool) -> Vec<String> {
    let mut broken = Vec::new();
    let mut rule = |holds: bool, what: String| {
        if !holds {
            broken.push(what);
        }
    };
    let m = metrics;
    rule(
        life.jobs_started == m.jobs as u64,
        format!("jobs counted {} vs started {}", m.jobs, life.jobs_started),
    );
    rule(
        life.jobs_started == life.jobs_ended + live.jobs,
        format!(
            "jobs: {} started != {} ended + {} live",
            life.jobs_started, life.jobs_ended, live.jobs
        ),
    );
    rule(
        life.jobs_ended == (m.jobs_ok + m.jobs_failed + m.jobs_budget_exhausted) as u64,
        format!(
            "jobs ended {} != ok {} + failed {} + budget exhausted {}",
            life.jobs_ended, m.jobs_ok, m.jobs_failed, m.jobs_budget_exhausted
        ),
    );
    rule(
        life.tasks_started == life.tasks_ended + live.tasks,
        format!(
            "tasks: {} started != {} ended + {} live",
            life.tasks_started, life.tasks_ended, live.tasks
        ),
    );
    rule(
        life.calls_started == life.calls_ended + live.calls,
        format!(
            "calls: {} started != {} ended + {} live",
            life.calls_started, life.calls_ended, live.calls
        ),
    );
    rule(
        life.calls_ended == (m.calls_ok + m.gave_up) as u64 + life.hedges_ended,
        format!(
            "calls ended {} != answered {} + gave up {} + hedges ended {}",
            life.calls_ended, m.calls_ok, m.gave_up, life.hedges_ended
        ),
    );
    rule(
        m.hedges as u64 == life.hedges_ended + live.hedges,
        format!(
            "hedges: {} sent != {} ended + {} live",
            m.hedges, life.hedges_ended, live.hedges
        ),
    );
    rule(
        m.attempts as u64 == life.admitted + life.refused + life.down + life.too_large,
        format!(
            "attempts sent {} != admitted {} + refused {} + down {} + too large {}",
            m.attempts, life.admitted, life.refused, life.down, life.too_large
        ),
    );
    rule(
        life.admitted == life.left_provider + live.requests,
        format!(
            "admitted {} != left the provider {} + still there {}",
            life.admitted, life.left_provider, live.requests
        ),
    );
    rule(
        life.left_provider == life.answered + life.failed_in_service + life.cut_off,
        format!(
            "left the provider {} != answered {} + failed {} + cut off {}",
            life.left_provider, life.answered, life.failed_in_service, life.cut_off
        ),
    );
    rule(
        live.requests == live.provider_in_flight && live.requests == live.recorded_in_flight,
        format!(
            "in flight: provider holds {} requests, counts {}, recorder counts {}",
            live.requests, live.provider_in_flight, live.recorded_in_flight
        ),
    );
    rule(
        live.admission_line == live.calls_in_line,
        format!(
            "admission line holds {} but {} calls say they wait in it",
            live.admission_line, live.calls_in_line
        ),
    );
    let line = &live.line;
    rule(
        line.pushed == line.passed + line.withdrawn + live.admission_line,
        format!(
            "admission line: {} put in != {} let through + {} withdrawn + {} waiting",
            line.pushed, line.passed, line.withdrawn, live.admission_line
        ),
    );
    if let Some((fewest, most)) = line.charges {
        rule(
            fewest == line.passed && most == line.passed,
            format!(
                "client buckets charged from {fewest} to {most} times for {} calls let through \
                 (each call charges every one of its buckets once, or none)",
                line.passed
            ),
        );
    }
    rule(
        live.delayed == live.calls_delayed,
        format!(
            "delayed sends counted {} but {} calls are delayed",
            live.delayed, live.calls_delayed
        ),
    );
    rule(
        live.active_retries == live.calls_retrying,
        format!(
            "retries in flight counted {} but {} calls are retrying",
            live.active_retries, live.calls_retrying
        ),
    );
    rule(
        live.in_flight_area_ns == life.time_at_provider_ns + live.open_stays_ns,
        format!(
            "Little's law: area under in-flight {} ns != sum of stays {} ns + open stays {} ns",
            live.in_flight_area_ns, life.time_at_provider_ns, live.open_stays_ns
        ),
    );
    let billed = (m.tokens_input + m.tokens_output) as u64;
    rule(
        billed == life.job_tokens + live.job_tokens,
        format!(
            "tokens billed {billed} != billed to ended jobs {} + to live jobs {}",
            life.job_tokens, live.job_tokens
        ),
    );
    if let Some([jobs, attempts, tokens]) = live.tenant_sums {
        rule(
            jobs == m.jobs as u64 && attempts == m.attempts as u64 && tokens == billed,
            format!(
                "tenants add up to {jobs} jobs, {attempts} attempts, {tokens} tokens; the run \
                 counts {}, {}, {billed}",
                m.jobs, m.attempts
            ),
        );
    }
    if let Some([attempts, limited, errors, timeouts, answered, tokens]) = live.provider_sums {
        let run = [
            m.attempts as u64,
            m.rate_limited as u64,
            m.server_errors as u64,
            m.timeouts as u64,
            life.answered,
            billed,
        ];
        rule(
            [attempts, limited, errors, timeouts, answered, tokens] == run,
            format!(
                "providers add up to {attempts} attempts, {limited} 429s, {errors} server \
                 errors, {timeouts} timeouts, {answered} answers, {tokens} tokens; the run counts \
                 {run:?}"
            ),
        );
    }
    for (k, &(recorded, held)) in live.provider_in_flight_pairs.iter().enumerate() {
        rule(
            recorded == held,
            format!("provider {k}: its recorder counts {recorded} in flight, it holds {held}"),
        );
    }
    rule(
        m.tokens_cache_read + m.tokens_cache_write <= m.tokens_input,
        format!(
            "cache reads {} + cache writes {} > input tokens billed {}",
            m.tokens_cache_read, m.tokens_cache_write, m.tokens_input
        ),
    );
    rule(
        m.tokens_wasted <= m.tokens_billed,
        format!(
            "tokens wasted {} > billed {}",
            m.tokens_wasted, m.tokens_billed
        ),
    );
    if drained {
        let gauges = [
            ("jobs", live.jobs),
            ("tasks", live.tasks),
            ("calls", live.calls),
            ("requests at the provider", live.requests),
            ("provider queue", live.provider_queued),
            ("processor-sharing list", live.sharing),
            ("admission line", live.admission_line),
            ("retries in flight", live.active_retries),
            ("delayed sends", live.delayed),
            ("recorded in flight", live.recorded_in_flight),
        ];
        for (name, value) in gauges {
            rule(
                value == 0,
                format!("{name}: {value} left when nothing more could happen"),
            );
        }
        for (k, &(recorded, held)) in live.provider_in_flight_pairs.iter().enumerate() {
            rule(
                recorded == 0 && held == 0,
                format!("provider {k}: {recorded} in flight left when nothing more could happen"),
            );
        }
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A drained run: 2 jobs (one ok, one failed), 3 tasks, 4 calls of which 1 hedge; 6 attempts
    /// sent: 4 admitted (2 answered, 1 failed in service, 1 cut off), 1 refused, 1 down.
    fn consistent() -> (Lifecycle, Live, Metrics) {
        let life = Lifecycle {
            jobs_started: 2,
            jobs_ended: 2,
            tasks_started: 3,
            tasks_ended: 3,
            calls_started: 4,
            calls_ended: 4,
            hedges_ended: 1,
            refused: 1,
            down: 1,
            too_large: 0,
            admitted: 4,
            left_provider: 4,
            answered: 2,
            failed_in_service: 1,
            cut_off: 1,
            time_at_provider_ns: 7_000,
            job_tokens: 300,
        };
        let live = Live {
            in_flight_area_ns: 7_000,
            ..Live::default()
        };
        let metrics = Metrics {
            jobs: 2.0,
            jobs_ok: 1.0,
            jobs_failed: 1.0,
            calls_ok: 2.0,
            gave_up: 1.0,
            hedges: 1.0,
            attempts: 6.0,
            tokens_input: 200.0,
            tokens_output: 100.0,
            tokens_billed: 300.0,
            ..Metrics::default()
        };
        (life, live, metrics)
    }

    #[test]
    fn a_consistent_run_breaks_no_rule() {
        let (life, live, m) = consistent();
        assert_eq!(violations(&life, &live, &m, true), Vec::<String>::new());
    }

    /// The rules `change` breaks, by their first words.
    fn broken(
        change: impl FnOnce(&mut Lifecycle, &mut Live, &mut Metrics),
        drained: bool,
    ) -> Vec<String> {
        let (mut life, mut live, mut m) = consistent();
        change(&mut life, &mut live, &mut m);
        violations(&life, &live, &m, drained)
            .iter()
            .map(|v| v.split([':', ' ']).next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn each_leak_breaks_its_rule() {
        // A retry granted and never ended: the counter disagrees with the calls.
        assert_eq!(
            broken(|_, live, _| live.active_retries = 1, true),
            ["retries", "retries"]
        );
        // A call that never ended.
        assert_eq!(
            broken(|life, _, _| life.calls_ended -= 1, true),
            ["calls", "calls"]
        );
        // An attempt that left the provider twice.
        assert_eq!(
            broken(|life, _, _| life.left_provider += 1, true),
            ["admitted", "left"]
        );
        // An in-flight gauge not brought back down.
        assert_eq!(
            broken(|_, live, _| live.recorded_in_flight = 1, true),
            ["in", "recorded"]
        );
        // A stay not added to the sum: Little's law.
        assert_eq!(
            broken(|life, _, _| life.time_at_provider_ns -= 1, true),
            ["Little's"]
        );
        // Tokens billed to the run but to no job.
        assert_eq!(broken(|_, _, m| m.tokens_output += 1.0, true), ["tokens"]);
        // A call let through the line that one of its buckets did not charge.
        assert_eq!(
            broken(
                |_, live, _| {
                    live.line.pushed = 2;
                    live.line.passed = 2;
                    live.line.charges = Some((1, 2));
                },
                true
            ),
            ["client"]
        );
        // A call lost from the line.
        assert_eq!(
            broken(|_, live, _| live.line.pushed = 1, true),
            ["admission"]
        );
    }

    #[test]
    fn live_entities_are_allowed_only_when_a_guard_stopped_the_run() {
        // The failed job is still running when the guard stops the run.
        let stopped = |life: &mut Lifecycle, live: &mut Live, m: &mut Metrics| {
            m.jobs_failed = 0.0;
            life.jobs_ended -= 1;
            life.tasks_ended -= 1;
            live.jobs = 1;
            live.tasks = 1;
        };
        assert_eq!(broken(stopped, false), Vec::<String>::new());
        // ... but not in a run that drained.
        assert_eq!(broken(stopped, true), ["jobs", "tasks"]);
    }
}
