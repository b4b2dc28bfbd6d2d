#!/usr/bin/env bash
# The sweep's speed-up from 1 to 2 threads (docs/sweeps.md).
#
#   benches/sweep_speedup.sh [ROUNDS] [REPLICATIONS]
#
# Builds the release binary, then runs `stampede sweep scenarios/cascade_sweep.toml` ROUNDS times
# (default 7) with --threads 1 and --threads 2 alternately (so that noise from other processes
# falls on both alike), REPLICATIONS replications per point (default 40: 4,200 runs, a few
# seconds), and prints the wall times' minimum and median per thread count and their ratios. It
# also checks that both thread counts wrote the same bytes.
#
# On a shared machine the ratio says as much about the neighbours as about the sweep, so each
# round also times two --threads 1 sweeps run at once: 2 x (one alone) / (two at once) is the
# number of cores the machine actually gave two busy processes during the measurement (2 when
# idle), the most a 2-thread sweep could gain then.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
reps=${2:-40}
cargo build --release --quiet
bin=target/release/stampede
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # threads -> seconds
    local start end
    start=$(date +%s%N)
    "$bin" sweep scenarios/cascade_sweep.toml --replications "$reps" --threads "$1" \
        --out "$work/t$1" >/dev/null
    end=$(date +%s%N)
    echo "scale=3; ($end - $start) / 1000000000" | bc
}

pair() { # two --threads 1 sweeps at once -> seconds
    local start end
    start=$(date +%s%N)
    for k in a b; do
        "$bin" sweep scenarios/cascade_sweep.toml --replications "$reps" --threads 1 \
            --out "$work/pair-$k" >/dev/null &
    done
    wait
    end=$(date +%s%N)
    echo "scale=3; ($end - $start) / 1000000000" | bc
}

run 1 >/dev/null # warm-up: page cache, CPU frequency
one=() two=() both=()
for _ in $(seq "$rounds"); do
    one+=("$(run 1)")
    two+=("$(run 2)")
    both+=("$(pair)")
done
diff -r "$work/t1" "$work/t2" >/dev/null || { echo "threads 1 and 2 wrote different bytes" >&2; exit 1; }

stats() { # values... -> "min median"
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[1], v[int((NR + 1) / 2)] }'
}
read -r min1 med1 <<<"$(stats "${one[@]}")"
read -r min2 med2 <<<"$(stats "${two[@]}")"
read -r minp medp <<<"$(stats "${both[@]}")"
echo "cascade_sweep, $reps replications per point, $rounds rounds, $(nproc) cores"
echo "threads 1: min ${min1} s, median ${med1} s  (${one[*]})"
echo "threads 2: min ${min2} s, median ${med2} s  (${two[*]})"
echo "two --threads 1 at once: min ${minp} s, median ${medp} s  (${both[*]})"
echo "speed-up: $(echo "scale=2; $min1 / $min2" | bc) (min), $(echo "scale=2; $med1 / $med2" | bc) (median)"
echo "cores available to two processes meanwhile: $(echo "scale=2; 2 * $min1 / $minp" | bc) (min), $(echo "scale=2; 2 * $med1 / $medp" | bc) (median)"
