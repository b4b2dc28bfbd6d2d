"""M/M/1 in SimPy, the textbook way: a source process, one process per customer, a Resource.

Usage: python simpy_mm1.py [CUSTOMERS] [SEED]

Same queue as stampede's scenarios/mm1.toml: Poisson arrivals at lambda = 0.8, exponential
service with mu = 1, one server, FIFO, CUSTOMERS customers, run until the last one leaves.
Events are counted as stampede counts them: 2 per customer (arrival + departure). SimPy itself
processes more internal events per customer (timeouts, request, release, process start/end);
those are not counted, so events/s here is "stampede-equivalent events" per second.

Prints one line: RESULT tool=simpy customers=... events=... seconds=... events_per_s=...
mean_wait_s=... mean_sojourn_s=... (closed forms: Wq = 4 s, W = 5 s). Only env.run() is timed.
"""

import random
import sys
import time

import simpy

LAMBDA = 0.8
MU = 1.0


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    totals = {"wait": 0.0, "sojourn": 0.0, "done": 0}

    def customer(env, server):
        arrived = env.now
        with server.request() as req:
            yield req
            totals["wait"] += env.now - arrived
            yield env.timeout(rng.expovariate(MU))
        totals["sojourn"] += env.now - arrived
        totals["done"] += 1

    def source(env, server):
        for _ in range(customers):
            yield env.timeout(rng.expovariate(LAMBDA))
            env.process(customer(env, server))

    env.process(source(env, server))
    start = time.perf_counter()
    env.run()
    secs = time.perf_counter() - start
    assert totals["done"] == customers, totals
    events = 2 * customers
    print(
        f"RESULT tool=simpy customers={customers} events={events} seconds={secs:.3f} "
        f"events_per_s={events / secs:.0f} mean_wait_s={totals['wait'] / customers:.3f} "
        f"mean_sojourn_s={totals['sojourn'] / customers:.3f} max_rss_kb={max_rss_kb()}"
    )


def max_rss_kb() -> str:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return line.split()[1]
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
