//! The reference point for the engine benchmark: the same M/M/1 queue (Poisson arrivals at
//! `lambda`, exponential service at `mu`, one server, FIFO, integer-nanosecond clock) written as
//! directly as possible on `std::collections::BinaryHeap`, with the same xoshiro256++ streams as
//! stampede (`stampede::engine::rng`). It skips everything the engine adds on top of a heap:
//! keyed random streams per call, slab-allocated jobs/agents/calls, the recorder and its latency
//! stores, the guards, and the generic model dispatch.
//!
//! Shared by `benches/engine.rs` and `examples/mm1_memory.rs` (`--bare`) through `#[path]`; it
//! lives in a subfolder so that Cargo does not take it for a bench target of its own.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use stampede::engine::rng::{purpose, stream, unit};

/// Nanoseconds in a second.
const NS: f64 = 1e9;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrival,
    /// The customer in service leaves; it arrived at `arrived` (ns).
    Departure {
        arrived: u64,
    },
}

/// What one bare run did.
#[derive(Clone, Copy, Debug)]
pub struct BareResult {
    /// Events popped from the heap: one arrival and one departure per customer.
    pub events: u64,
    /// Mean time in queue, seconds (M/M/1 at rho = 0.8: 4 s).
    pub mean_wait_s: f64,
    /// Mean time in system, seconds (M/M/1 at rho = 0.8: 5 s).
    pub mean_sojourn_s: f64,
}

#[inline]
fn exp_ns(rng: &mut stampede::engine::rng::StreamRng, rate: f64) -> u64 {
    // Inverse transform, as stampede draws its interarrival times.
    (-(1.0 - unit(rng)).ln() / rate * NS).round() as u64
}

/// Runs `customers` customers through an M/M/1 queue and returns what happened.
pub fn run(customers: u64, lambda: f64, mu: f64, seed: u64) -> BareResult {
    let mut arrivals = stream(seed, purpose("arrivals"), &[0]);
    let mut service = stream(seed, purpose("service"), &[]);
    // (time, insertion counter) orders events like stampede's queue: ties pop in FIFO order.
    let mut heap: BinaryHeap<Reverse<(u64, u64, Ev)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut waiting: VecDeque<u64> = VecDeque::new();
    let mut busy = false;
    let mut emitted = 0u64;
    let mut events = 0u64;
    let (mut wait_sum, mut sojourn_sum) = (0u128, 0u128);

    if customers > 0 {
        heap.push(Reverse((exp_ns(&mut arrivals, lambda), seq, Ev::Arrival)));
        seq += 1;
    }
    while let Some(Reverse((now, _, ev))) = heap.pop() {
        events += 1;
        match ev {
            Ev::Arrival => {
                emitted += 1;
                if busy {
                    waiting.push_back(now);
                } else {
                    busy = true;
                    let done = now + exp_ns(&mut service, mu);
                    heap.push(Reverse((done, seq, Ev::Departure { arrived: now })));
                    seq += 1;
                }
                if emitted < customers {
                    let next = now + exp_ns(&mut arrivals, lambda);
                    heap.push(Reverse((next, seq, Ev::Arrival)));
                    seq += 1;
                }
            }
            Ev::Departure { arrived } => {
                sojourn_sum += (now - arrived) as u128;
                if let Some(next) = waiting.pop_front() {
                    wait_sum += (now - next) as u128;
                    let done = now + exp_ns(&mut service, mu);
                    heap.push(Reverse((done, seq, Ev::Departure { arrived: next })));
                    seq += 1;
                } else {
                    busy = false;
                }
            }
        }
    }
    let n = customers.max(1) as f64;
    BareResult {
        events,
        mean_wait_s: wait_sum as f64 / n / NS,
        mean_sojourn_s: sojourn_sum as f64 / n / NS,
    }
}
