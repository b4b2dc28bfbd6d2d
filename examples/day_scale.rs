//! One replication of a day-scale scenario per policy, for speed and memory:
//!
//! ```text
//! cargo build --release --example day_scale
//! target/release/examples/day_scale [SCENARIO] [--policy NAME] [--hours H] [--seed N]
//!                                   [--set PATH=VALUE]... [--peak-live] [--list-policies]
//! /usr/bin/time -v target/release/examples/day_scale --policy fair_bucket
//! ```
//!
//! Loads `SCENARIO` (default `bench/day_scale.toml`), runs one replication (the scenario's seed,
//! or `--seed`) of each policy, or only `--policy NAME`, through `stampede::model::simulate`,
//! and prints one `RESULT key=value ...` line per policy: events, wall seconds of the simulation
//! alone (parsing excluded), events/s, jobs and their outcomes, calls, 429s, retries, job
//! latency, peak in flight and client queue, a Little's-law estimate of the mean number of live
//! entities, the process's peak resident set so far (`VmHWM` from `/proc/self/status`, in kB: the
//! figure `/usr/bin/time -v` reports as "Maximum resident set size", cumulative over the policies
//! run), and the simulation's CPU time with events per CPU-second (`/proc/thread-self/schedstat`:
//! on a shared machine, less noisy than wall time, which also counts waiting for a core).
//! `benches/before_after.sh` parses these lines.
//!
//! - `--hours H` stops the arrivals at H hours (sets `source.N.arrival.until` for every source):
//!   12 against 24 shows whether memory grows with the run's length.
//! - `--set PATH=VALUE` replaces a field as a `[sweep]` parameter would (`PATH` dotted as in
//!   docs/sweeps.md, `VALUE` a TOML value: `--set 'provider.ttft="20m"'`), e.g. to slow service
//!   down so that many entities are live at once and memory per live entity can be read off.
//! - `--peak-live` also finds the most entities (jobs + tasks + calls) alive at once, which the
//!   library does not report: it reruns the policy with the scenario's own `max_live` guard set
//!   lower and lower (bisection on whether the guard trips, to within 0.25%), so the hot path is
//!   untouched. It costs about ten more runs.
//! - `--list-policies` prints the policies' names, one a line, and runs nothing.
//!
//! Only public APIs that predate the day-scale work are used (`stampede::scenario::
//! parse_with_overrides`, `stampede::model::simulate`, the scenario's guards, the metrics), so the
//! same source builds against older commits (`benches/before_after.sh` copies it there).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use stampede::engine::sim::GuardLimit;
use stampede::model::{Policy, Scenario, simulate};

/// Peak resident set size of this process in kB (Linux only; `None` elsewhere).
fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time this thread has run, in ns (Linux: `/proc/thread-self/schedstat`; `None` elsewhere).
/// On a shared machine it moves less than wall time, which also counts waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

struct Args {
    path: PathBuf,
    policy: Option<String>,
    seed: Option<u64>,
    sets: Vec<(String, toml::Value)>,
    hours: Option<f64>,
    peak_live: bool,
    list: bool,
}

const USAGE: &str = "usage: day_scale [SCENARIO] [--policy NAME] [--hours H] [--seed N] \
                     [--set PATH=VALUE]... [--peak-live] [--list-policies]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        path: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/day_scale.toml"),
        policy: None,
        seed: None,
        sets: Vec::new(),
        hours: None,
        peak_live: false,
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value; {USAGE}"));
        match arg.as_str() {
            "--policy" => args.policy = Some(value("--policy")?),
            "--seed" => {
                let v = value("--seed")?;
                args.seed = Some(
                    v.parse()
                        .map_err(|_| format!("--seed: cannot read {v:?}"))?,
                );
            }
            "--hours" => {
                let v = value("--hours")?;
                let h: f64 = v
                    .parse()
                    .map_err(|_| format!("--hours: cannot read {v:?}"))?;
                if h.is_nan() || h <= 0.0 {
                    return Err(format!("--hours: expected a number > 0, found {v}"));
                }
                args.hours = Some(h);
            }
            "--set" => {
                let v = value("--set")?;
                let (path, raw) = v
                    .split_once('=')
                    .ok_or(format!("--set: expected PATH=VALUE, found {v:?}"))?;
                let doc: toml::Table = format!("v = {raw}")
                    .parse()
                    .map_err(|e| format!("--set {path}: {raw:?} is not a TOML value: {e}"))?;
                args.sets.push((path.trim().to_string(), doc["v"].clone()));
            }
            "--peak-live" => args.peak_live = true,
            "--list-policies" => args.list = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            a if a.starts_with('-') => return Err(format!("unknown option {a}; {USAGE}")),
            a => args.path = PathBuf::from(a),
        }
    }
    Ok(args)
}

/// Whether running `policy` with the live-entity guard at `max_live` trips it.
fn trips(scenario: &Scenario, policy: &Policy, seed: u64, max_live: usize) -> Result<bool, String> {
    let mut s = scenario.clone();
    s.guards.max_live = max_live;
    s.guards.stop_quietly = false;
    match simulate(&s, policy, seed) {
        Ok(_) => Ok(false),
        Err(t) if matches!(t.limit, GuardLimit::Live(_)) => Ok(true),
        Err(t) => Err(t.to_string()),
    }
}

/// The most entities alive at once, as the `max_live` guard sees them (after each event):
/// `(lo, hi)` with `lo < peak <= hi` and `hi - lo` at most 0.25% of `hi` (or 1).
fn peak_live(
    scenario: &Scenario,
    policy: &Policy,
    seed: u64,
    guess: usize,
) -> Result<(usize, usize), String> {
    let mut hi = guess.max(64);
    let mut lo = 0;
    while trips(scenario, policy, seed, hi)? {
        lo = hi;
        hi *= 2;
    }
    while hi - lo > (hi / 400).max(1) {
        let mid = lo + (hi - lo) / 2;
        if trips(scenario, policy, seed, mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((lo, hi))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let file = args.path.display().to_string();
    let text = match std::fs::read_to_string(&args.path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut sets = args.sets.clone();
    if let Some(h) = args.hours {
        // Every source (read from the TOML alone: validating is not free with many tenants).
        let n = text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("source").and_then(|s| s.as_array()).map(Vec::len))
            .unwrap_or(0);
        let until = toml::Value::String(format!("{}s", (h * 3600.0).round() as u64));
        sets.extend((0..n).map(|i| (format!("source.{i}.arrival.until"), until.clone())));
    }
    let scenario = match stampede::scenario::parse_with_overrides(&text, &file, &sets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let policies: Vec<&Policy> = scenario
        .policies
        .iter()
        .filter(|p| args.policy.as_ref().is_none_or(|n| &p.name == n))
        .collect();
    if args.list {
        for p in &policies {
            println!("{}", p.name);
        }
        return ExitCode::SUCCESS;
    }
    if policies.is_empty() {
        eprintln!("{file}: no policy named {:?}", args.policy);
        return ExitCode::FAILURE;
    }

    for policy in policies {
        let cpu_start = thread_cpu_ns();
        let start = Instant::now();
        let m = match simulate(&scenario, policy, seed) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{file}: policy {}: {e}", policy.name);
                return ExitCode::FAILURE;
            }
        };
        let secs = start.elapsed().as_secs_f64();
        let cpu_secs = cpu_start
            .zip(thread_cpu_ns())
            .map(|(a, b)| b.saturating_sub(a) as f64 / 1e9);
        // Little's law over the run: each job holds itself and its agent for its latency, each
        // call holds one entity for its latency; divided by the run's length.
        let mean_live = if m.makespan_s > 0.0 {
            (m.jobs * 2.0 * m.job_latency_mean_s + m.calls * m.call_latency_mean_s) / m.makespan_s
        } else {
            0.0
        };
        let rss = vm_hwm_kb();
        let mut line = format!(
            "RESULT scenario={} policy={} seed={seed} events={} seconds={secs:.3} \
             events_per_s={:.0} jobs={} jobs_ok={} jobs_failed={} calls={} attempts={} \
             rate_limited={} retries={} gave_up={} job_latency_mean_s={:.3} \
             job_latency_p99_s={:.3} makespan_s={:.0} peak_in_flight={} peak_client_queue={} \
             mean_live_little={mean_live:.0} max_rss_kb={} cpu_seconds={} events_per_cpu_s={}",
            scenario.name,
            policy.name,
            m.events,
            m.events / secs,
            m.jobs,
            m.jobs_ok,
            m.jobs_failed,
            m.calls,
            m.attempts,
            m.rate_limited,
            m.retries,
            m.gave_up,
            m.job_latency_mean_s,
            m.job_latency_p99_s,
            m.makespan_s,
            m.peak_in_flight,
            m.peak_client_queue,
            rss.map_or("unknown".to_string(), |k| k.to_string()),
            cpu_secs.map_or("unknown".to_string(), |c| format!("{c:.3}")),
            cpu_secs.map_or("unknown".to_string(), |c| format!("{:.0}", m.events / c)),
        );
        if args.peak_live {
            let guess = (2.0 * mean_live) as usize;
            match peak_live(&scenario, policy, seed, guess) {
                Ok((lo, hi)) => line.push_str(&format!(" peak_live={hi} peak_live_above={lo}")),
                Err(e) => {
                    eprintln!("{file}: policy {}: finding the peak: {e}", policy.name);
                    return ExitCode::FAILURE;
                }
            }
        }
        println!("{line}");
    }
    ExitCode::SUCCESS
}
