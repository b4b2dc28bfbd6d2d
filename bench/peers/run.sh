#!/usr/bin/env bash
# Peer comparison: the same M/M/1 queue (lambda = 0.8, mu = 1, one server, FIFO) in stampede,
# in a bare Rust BinaryHeap loop, in SimPy and (optionally) in Ciw, one run each, side by side.
#
#   bench/peers/run.sh                      # 1,000,000 customers (Ciw: 100,000)
#   N=200000 CIW_N=20000 bench/peers/run.sh
#   SKIP_CIW=1 bench/peers/run.sh
#
# A manual benchmark, not part of the test suite. It creates a Python venv under
# target/peers-venv (pip install simpy, and ciw if it installs) and builds
# `cargo build --release --example mm1_memory`. Events are counted as stampede counts them:
# 2 per customer (arrival + departure), whatever a tool does internally. Each tool times only its
# simulation (no process start, import or scenario parsing). Ratios are stampede's events/s over
# the tool's: on a shared machine, trust the ratios of one run over absolute numbers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

N="${N:-1000000}"
CIW_N="${CIW_N:-$((N / 10))}"
SEED="${SEED:-7}"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/target/peers-venv"
SIMPY_VERSION="4.1.2"
CIW_VERSION="3.2.7"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import simpy" 2>/dev/null; then
    "$VENV/bin/pip" install --quiet "simpy==$SIMPY_VERSION"
fi
HAVE_CIW=0
if [[ "${SKIP_CIW:-0}" != 1 ]]; then
    if "$VENV/bin/python" -c "import ciw" 2>/dev/null \
        || timeout 300 "$VENV/bin/pip" install --quiet "ciw==$CIW_VERSION"; then
        HAVE_CIW=1
    else
        echo "ciw did not install: skipping it" >&2
    fi
fi

cargo build --quiet --release --example mm1_memory
EXAMPLE="$ROOT/target/release/examples/mm1_memory"

RESULTS="$(mktemp)"
trap 'rm -f "$RESULTS"' EXIT

run() {
    echo "running: $*" >&2
    "$@" | grep '^RESULT ' | tee -a "$RESULTS" >&2
}

run "$EXAMPLE" "$N"
run "$EXAMPLE" "$N" --bare
run "$VENV/bin/python" bench/peers/simpy_mm1.py "$N" "$SEED"
if [[ "$HAVE_CIW" == 1 ]]; then
    run "$VENV/bin/python" bench/peers/ciw_mm1.py "$CIW_N" "$SEED"
fi

echo
echo "M/M/1, lambda = 0.8, mu = 1 (closed forms: mean wait 4 s, time in system 5 s)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
"$VENV/bin/python" - "$RESULTS" <<'PY'
import sys

rows = []
with open(sys.argv[1]) as f:
    for line in f:
        rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
base = float(next(r for r in rows if r["tool"] == "stampede")["events_per_s"])
head = ("tool", "customers", "events", "seconds", "events/s", "stampede is x faster",
        "mean wait s", "max RSS MiB")
table = [head]
for r in rows:
    eps = float(r["events_per_s"])
    rss = r["max_rss_kb"]
    table.append((
        r["tool"],
        f"{int(r['customers']):,}",
        f"{int(r['events']):,}",
        r["seconds"],
        f"{eps:,.0f}",
        f"{base / eps:.2f}",
        r["mean_wait_s"],
        f"{int(rss) / 1024:.1f}" if rss.isdigit() else rss,
    ))
widths = [max(len(row[i]) for row in table) for i in range(len(head))]
for i, row in enumerate(table):
    print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
    if i == 0:
        print("  ".join("-" * w for w in widths))
PY
