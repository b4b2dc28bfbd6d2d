#!/usr/bin/env bash
# Before/after speed of the model core: an older commit against the current tree, measured in
# one run, alternating, so that the machine's noise falls on both alike (docs/benchmarks.md,
# "Before and after").
#
#   benches/before_after.sh [BASE_REV]
#   benches/before_after.sh ec60f10                         # the default: main before the
#                                                           # restructure of src/model/world.rs
#   benches/before_after.sh "$(git merge-base HEAD main)"   # whatever this branch forked from
#   ROUNDS=7 benches/before_after.sh                        # more alternations (default 5)
#   INSTRUCTIONS=1 benches/before_after.sh                  # also count instructions (callgrind)
#
# What it does:
# 1. Checks out BASE_REV in a temporary `git worktree` (target/before_after/tree, detached) and
#    copies the current harness into it: examples/day_scale.rs, examples/mm1_memory.rs and
#    benches/support/bare_mm1.rs, so that both trees are measured by the same code (it uses only
#    public APIs that predate it: stampede::scenario::parse_with_overrides,
#    stampede::model::simulate, the scenario's guards and the metrics).
# 2. Builds both examples in release there, with its own target dir (target/before_after/target,
#    kept between runs as a cache: the first run builds the dependencies once, ~3 min of CPU;
#    later runs rebuild only stampede), and in the current tree (uncommitted changes
#    included).
# 3. ROUNDS times, old and new in turn (the order flips every round): the M/M/1 of
#    scenarios/mm1.toml cut to MM1_CUSTOMERS customers (default 2,000,000: 4M events, past the
#    exact latency cap, so the steady-state rate), and one replication of each policy of
#    DAY_SCENARIO (default bench/day_scale.toml, the current tree's file for both), each policy in
#    its own process so that its peak RSS is its own.
# 4. Prints, per benchmark, the median events/s of each tree and their ratio new/old (> 1: the
#    new tree is faster), the ratio of the fastest rounds and of the medians of events per
#    CPU-second, the events and jobs each simulated (they should be equal when the restructure
#    changes no behaviour; a difference is flagged), and the day-scale peak RSS.
# 5. With INSTRUCTIONS=1, also runs each tree once under valgrind's callgrind (shorter runs: the
#    M/M/1 with 500,000 customers, and the first 6 hours of the day for each policy), counting
#    the instructions of `simulate_full` alone, and prints instructions per event old and new:
#    exact and repeatable, whatever else the machine is doing, but instructions are not time
#    (cache misses are free in this count). Adds ~2-3 min.
#
# About 3.5 minutes on 2 cores once the old tree's dependencies are cached: ~1 min rebuilding the
# stampede crate in both trees, then ~25 s per round (measured while the machine was shared;
# docs/benchmarks.md). The worktree is removed on exit, also on failure or Ctrl-C;
# `rm -rf target/before_after` reclaims the cache (~600 MB).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BASE="${1:-ec60f10}"
ROUNDS="${ROUNDS:-5}"
MM1_CUSTOMERS="${MM1_CUSTOMERS:-2000000}"
DAY_SCENARIO="$(realpath "${DAY_SCENARIO:-bench/day_scale.toml}")"
NEW_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
CACHE="$ROOT/target/before_after"
TREE="$CACHE/tree"
OLD_TARGET="$CACHE/target"

base_commit="$(git rev-parse --verify --quiet "$BASE^{commit}")" || {
    echo "before_after: $BASE is not a commit" >&2
    exit 2
}
base_short="$(git rev-parse --short "$base_commit")"
head_short="$(git rev-parse --short HEAD)"
dirty=""
git diff --quiet HEAD -- || dirty=" + uncommitted changes"

remove_tree() {
    if [[ -e "$TREE" ]]; then
        git worktree remove --force "$TREE" 2>/dev/null || rm -rf "$TREE"
    fi
    git worktree prune 2>/dev/null || true
}
mkdir -p "$CACHE"
remove_tree # one left by a killed run
work="$(mktemp -d)"
trap 'rm -rf "$work"; remove_tree' EXIT
trap 'exit 130' INT TERM
git worktree add --detach --quiet "$TREE" "$base_commit"
mkdir -p "$TREE/examples" "$TREE/benches/support"
cp examples/day_scale.rs examples/mm1_memory.rs "$TREE/examples/"
cp benches/support/bare_mm1.rs "$TREE/benches/support/"

echo "building old ($base_short) in $TREE (target dir $OLD_TARGET)" >&2
(cd "$TREE" && CARGO_TARGET_DIR="$OLD_TARGET" cargo build --release --quiet \
    --example day_scale --example mm1_memory)
echo "building new ($head_short$dirty)" >&2
CARGO_TARGET_DIR="$NEW_TARGET" cargo build --release --quiet --example day_scale --example mm1_memory

declare -A BIN=([old]="$OLD_TARGET/release/examples" [new]="$NEW_TARGET/release/examples")
mapfile -t policies < <("${BIN[new]}/day_scale" "$DAY_SCENARIO" --list-policies)
[[ ${#policies[@]} -gt 0 ]] || { echo "before_after: no policies in $DAY_SCENARIO" >&2; exit 1; }

field() { # LINE KEY -> value
    sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

measure() { # TREE -> appends "bench events/s events jobs rss_kb events/cpu-s" rows to $work/TREE
    local tree=$1 line p
    line="$("${BIN[$tree]}/mm1_memory" "$MM1_CUSTOMERS")"
    row mm1 "$MM1_CUSTOMERS" >>"$work/$tree"
    for p in "${policies[@]}"; do
        line="$("${BIN[$tree]}/day_scale" "$DAY_SCENARIO" --policy "$p")"
        row "day/$p" "$(field "$line" jobs)" >>"$work/$tree"
    done
}
row() { # BENCH JOBS, with $line -> one row
    echo "$1 $(field "$line" events_per_s) $(field "$line" events) $2 $(field "$line" max_rss_kb)" \
        "$(field "$line" events_per_cpu_s)"
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
for r in $(seq "$ROUNDS"); do
    if ((r % 2)); then order=(old new); else order=(new old); fi
    for t in "${order[@]}"; do
        measure "$t"
    done
    echo "round $r/$ROUNDS done ($(($(date +%s) - start)) s)" >&2
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

summary() { # TREE BENCH COLUMN -> "median max" over the rounds
    awk -v b="$2" -v c="$3" '$1 == b { print $c }' "$work/$1" | sort -g |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }'
}
same() { # BENCH COLUMN -> the value if every run of both trees agrees, else "old/new"
    local o n
    o="$(awk -v b="$1" -v c="$2" '$1 == b { print $c }' "$work/old" | sort -u | paste -sd, -)"
    n="$(awk -v b="$1" -v c="$2" '$1 == b { print $c }' "$work/new" | sort -u | paste -sd, -)"
    if [[ "$o" == "$n" ]]; then echo "$o"; else echo "DIFFER:$o/$n"; fi
}

echo
echo "old: $base_short ($(git log -1 --format='%cs %s' "$base_commit" | cut -c1-70))"
echo "new: $head_short$dirty ($(git log -1 --format='%cs %s' HEAD | cut -c1-70))"
echo "$ROUNDS rounds, old and new alternating; $(nproc) cores; load average $load_before before, $load_after after"
echo "day scale: $DAY_SCENARIO"
echo
{
    echo "benchmark|old events/s|new events/s|new/old|new/old (best)|new/old (CPU time)|events|jobs"
    for b in mm1 "${policies[@]/#/day/}"; do
        read -r om ob <<<"$(summary old "$b" 2)"
        read -r nm nb <<<"$(summary new "$b" 2)"
        read -r oc _ <<<"$(summary old "$b" 6)"
        read -r nc _ <<<"$(summary new "$b" 6)"
        name="$b"
        [[ $b == mm1 ]] && name="mm1 ($MM1_CUSTOMERS customers)"
        awk -v n="$name" -v om="$om" -v nm="$nm" -v ob="$ob" -v nb="$nb" -v oc="$oc" -v nc="$nc" \
            -v e="$(same "$b" 3)" -v j="$(same "$b" 4)" 'BEGIN {
            printf "%s|%.2f M|%.2f M|%.3f|%.3f|%.3f|%s|%s\n",
                n, om / 1e6, nm / 1e6, nm / om, nb / ob, (oc > 0 ? nc / oc : 0), e, j
        }'
    done
} | column -t -s'|'
echo "(events/s: median over the rounds, wall time of the simulation alone; best: fastest round of"
echo " each; CPU time: the medians of events per CPU-second, less sensitive to a shared machine)"
echo
{
    echo "peak RSS|old (median)|new (median)|new/old"
    for b in "${policies[@]/#/day/}"; do
        read -r om _ <<<"$(summary old "$b" 5)"
        read -r nm _ <<<"$(summary new "$b" 5)"
        awk -v n="$b" -v o="$om" -v m="$nm" 'BEGIN {
            printf "%s|%.1f MiB|%.1f MiB|%.3f\n", n, o / 1024, m / 1024, m / o
        }'
    done
} | column -t -s'|'
if grep -q DIFFER <(for b in mm1 "${policies[@]/#/day/}"; do same "$b" 3; same "$b" 4; done); then
    echo
    echo "note: the trees simulated different events or jobs (DIFFER above): the new tree changes behaviour, so events/s compare different work"
fi
if [[ "${INSTRUCTIONS:-0}" == 1 ]]; then
    echo
    echo "instructions per event in simulate_full (callgrind; M/M/1 500,000 customers, day scale first 6 h):"
    {
        echo "benchmark|old|new|new/old|events"
        for b in mm1 "${policies[@]/#/day6h/}"; do
            declare -A ir=() ev=()
            for t in old new; do
                out="$work/cg.$t.${b//\//_}"
                if [[ $b == mm1 ]]; then
                    args=("${BIN[$t]}/mm1_memory" 500000)
                else
                    args=("${BIN[$t]}/day_scale" "$DAY_SCENARIO" --policy "${b#day6h/}" --hours 6)
                fi
                line="$(valgrind --tool=callgrind --callgrind-out-file="$out" \
                    --toggle-collect='stampede::model::world::simulate_full*' "${args[@]}" 2>/dev/null)"
                ir[$t]="$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")"
                ev[$t]="$(field "$line" events)"
            done
            awk -v n="$b" -v iold="${ir[old]}" -v inew="${ir[new]}" -v eo="${ev[old]}" -v en="${ev[new]}" 'BEGIN {
                e = (eo == en) ? eo : "DIFFER:" eo "/" en
                if (iold > 0 && inew > 0) printf "%s|%.0f|%.0f|%.3f|%s\n", n, iold / eo, inew / en, (inew / en) / (iold / eo), e
                else printf "%s|?|?|simulate_full not found in one tree|%s\n", n, e
            }'
        done
    } | column -t -s'|'
fi
echo
echo "raw runs (tree bench events/s events jobs max_rss_kb events/cpu-s):"
for t in old new; do sed "s/^/  $t /" "$work/$t"; done
