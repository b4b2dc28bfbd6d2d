"""M/M/1 in Ciw (optional peer): lambda = 0.8, mu = 1, one server, CUSTOMERS customers.

Usage: python ciw_mm1.py [CUSTOMERS] [SEED]

Ciw stops on a number of customers with simulate_until_max_customers(method="Finish"), which
runs until that many customers have left the system. Events are counted as stampede counts
them: 2 per customer. Prints one RESULT line like simpy_mm1.py. Only the simulation is timed.
"""

import sys
import time

import ciw

LAMBDA = 0.8
MU = 1.0


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LAMBDA)],
        service_distributions=[ciw.dists.Exponential(rate=MU)],
        number_of_servers=[1],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    start = time.perf_counter()
    sim.simulate_until_max_customers(customers, method="Finish")
    secs = time.perf_counter() - start
    records = sim.get_all_records()
    n = len(records)
    assert n == customers, (n, customers)
    wait = sum(r.waiting_time for r in records) / max(n, 1)
    sojourn = sum(r.exit_date - r.arrival_date for r in records) / max(n, 1)
    events = 2 * customers
    print(
        f"RESULT tool=ciw customers={customers} events={events} seconds={secs:.3f} "
        f"events_per_s={events / secs:.0f} mean_wait_s={wait:.3f} "
        f"mean_sojourn_s={sojourn:.3f} max_rss_kb={max_rss_kb()}"
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
