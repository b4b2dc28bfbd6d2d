//! Engine benchmarks: `cargo bench --bench engine` (about 1.5 minutes on 2 cores).
//!
//! - `mm1/stampede`: one replication of `scenarios/mm1.toml` (M/M/1, rho = 0.8), cut to
//!   [`MM1_CUSTOMERS`] customers, through `stampede::model::simulate`. Throughput is in events
//!   (the run's `events` metric: one arrival and one departure per customer), so criterion prints
//!   events/s.
//! - `mm1/bare_heap`: the same M/M/1 on a bare `std` `BinaryHeap` with the same xoshiro streams
//!   (`benches/support/bare_mm1.rs`), with the same customers and events: the ratio of the two
//!   lines is the engine's overhead over a hand-written loop.
//! - `cascade_12_agents/<policy>`: one replication of each policy of
//!   `scenarios/cascade_12_agents.toml`: time per replication (and events/s, since the policies
//!   process very different numbers of events).
//!
//! See `docs/benchmarks.md` for what was measured and the peer comparison (`bench/peers/run.sh`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stampede::model::{Arrival, Scenario, simulate};

#[path = "support/bare_mm1.rs"]
mod bare_mm1;

/// Customers per M/M/1 sample: 400k events, a few tens of milliseconds.
const MM1_CUSTOMERS: u64 = 200_000;

fn scenario(name: &str) -> Scenario {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    stampede::scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `scenarios/mm1.toml` with its Poisson source cut to `customers` jobs.
fn mm1(customers: u64) -> (Scenario, f64) {
    let mut s = scenario("mm1.toml");
    let rate = match s.sources[0].arrival {
        Arrival::Poisson { rate_per_s, .. } => rate_per_s,
        ref other => panic!("mm1.toml: expected a Poisson source, found {other:?}"),
    };
    s.sources[0].arrival = Arrival::Poisson {
        rate_per_s: rate,
        count: Some(customers),
        until_ns: None,
    };
    (s, rate)
}

fn bench_mm1(c: &mut Criterion) {
    let (s, lambda) = mm1(MM1_CUSTOMERS);
    let policy = &s.policies[0];
    let events = simulate(&s, policy, s.seed)
        .expect("mm1 ran into a guard")
        .events as u64;
    let bare = bare_mm1::run(MM1_CUSTOMERS, lambda, 1.0, s.seed);
    assert_eq!(events, 2 * MM1_CUSTOMERS, "stampede: 2 events per customer");
    assert_eq!(bare.events, events, "bare loop: same event count");
    // Both are the same queue: mean wait and time in system near the closed forms 4 s and 5 s.
    let m = simulate(&s, policy, s.seed).expect("mm1 ran into a guard");
    eprintln!(
        "mm1: {MM1_CUSTOMERS} customers, {events} events; mean wait / time in system: \
         stampede {:.2} s / {:.2} s, bare heap {:.2} s / {:.2} s (closed forms 4 / 5)",
        m.provider_wait_mean_s, m.provider_time_mean_s, bare.mean_wait_s, bare.mean_sojourn_s
    );

    let mut g = c.benchmark_group("mm1");
    g.throughput(Throughput::Elements(events));
    g.sample_size(20);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("stampede", |b| {
        b.iter(|| simulate(black_box(&s), black_box(policy), black_box(s.seed)).unwrap())
    });
    g.bench_function("bare_heap", |b| {
        b.iter(|| bare_mm1::run(black_box(MM1_CUSTOMERS), lambda, 1.0, black_box(s.seed)))
    });
    g.finish();
}

fn bench_cascade(c: &mut Criterion) {
    let s = scenario("cascade_12_agents.toml");
    let mut g = c.benchmark_group("cascade_12_agents");
    g.sample_size(50);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    for policy in &s.policies {
        // Events differ by policy (naive retries for minutes): report events/s next to the time.
        let events = simulate(&s, policy, s.seed)
            .expect("cascade ran into a guard")
            .events;
        g.throughput(Throughput::Elements(events as u64));
        g.bench_function(policy.name.as_str(), |b| {
            b.iter(|| simulate(black_box(&s), black_box(policy), black_box(s.seed)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_mm1, bench_cascade);
criterion_main!(benches);
