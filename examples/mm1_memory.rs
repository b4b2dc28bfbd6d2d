//! One long M/M/1 replication, for memory and raw speed:
//!
//! ```text
//! cargo run --release --example mm1_memory -- [CUSTOMERS] [--bare]
//! /usr/bin/time -v target/release/examples/mm1_memory 10000000
//! ```
//!
//! Runs `scenarios/mm1.toml` (lambda = 0.8, mu = 1, one server) with its source cut to
//! `CUSTOMERS` jobs (default 10,000,000), one replication of its first policy, and prints one
//! `key=value` line: customers, events, wall seconds of the simulation alone, events/s, the mean
//! wait and time in system (closed forms: 4 s and 5 s), and the process's peak resident set
//! (`VmHWM` from `/proc/self/status`, in kB), then the simulation's CPU time and events per
//! CPU-second (`/proc/thread-self/schedstat`; less noisy than wall time on a shared machine).
//! With `--bare` it runs the hand-written BinaryHeap loop of `benches/support/bare_mm1.rs`
//! instead. `bench/peers/run.sh` parses this line.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use stampede::model::{Arrival, simulate};

#[path = "../benches/support/bare_mm1.rs"]
mod bare_mm1;

/// Peak resident set size of this process in kB (Linux only; `None` elsewhere).
fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time this thread has run, in ns (Linux: `/proc/thread-self/schedstat`; `None` elsewhere).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() -> ExitCode {
    let mut customers = 10_000_000u64;
    let mut bare = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bare" => bare = true,
            n => match n.replace('_', "").parse() {
                Ok(n) => customers = n,
                Err(_) => {
                    eprintln!("usage: mm1_memory [CUSTOMERS] [--bare]; cannot read {n:?}");
                    return ExitCode::FAILURE;
                }
            },
        }
    }

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mm1.toml");
    let mut scenario = match stampede::scenario::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let Arrival::Poisson { rate_per_s, .. } = scenario.sources[0].arrival else {
        eprintln!("{}: expected a Poisson source", path.display());
        return ExitCode::FAILURE;
    };
    scenario.sources[0].arrival = Arrival::Poisson {
        rate_per_s,
        count: Some(customers),
        until_ns: None,
    };

    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    let (name, events, wait, sojourn) = if bare {
        let r = bare_mm1::run(customers, rate_per_s, 1.0, scenario.seed);
        ("bare_heap", r.events, r.mean_wait_s, r.mean_sojourn_s)
    } else {
        match simulate(&scenario, &scenario.policies[0], scenario.seed) {
            Ok(m) => (
                "stampede",
                m.events as u64,
                m.provider_wait_mean_s,
                m.provider_time_mean_s,
            ),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let cpu_secs = cpu_start
        .zip(thread_cpu_ns())
        .map(|(a, b)| b.saturating_sub(a) as f64 / 1e9);
    println!(
        "RESULT tool={name} customers={customers} events={events} seconds={secs:.3} \
         events_per_s={:.0} mean_wait_s={wait:.3} mean_sojourn_s={sojourn:.3} max_rss_kb={} \
         cpu_seconds={} events_per_cpu_s={}",
        events as f64 / secs,
        vm_hwm_kb().map_or("unknown".to_string(), |k| k.to_string()),
        cpu_secs.map_or("unknown".to_string(), |c| format!("{c:.3}")),
        cpu_secs.map_or("unknown".to_string(), |c| format!(
            "{:.0}",
            events as f64 / c
        )),
    );
    ExitCode::SUCCESS
}
