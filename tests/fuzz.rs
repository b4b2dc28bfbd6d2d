//! Fuzzing the scenario loader and short simulations, on the stable toolchain.
//!
//! Every file in `scenarios/*.toml`, `tests/corpus/*.toml` and `tests/fuzz_corpus/*.toml` is a
//! seed. A case picks one and applies a few text mutations to it (byte flips, deleted, duplicated
//! or truncated lines, numbers replaced by extreme values such as `1e308`, `-1`, `0`, `nan`,
//! `4294967296` or `1e-300`, huge strings, values swapped between keys, truncation), then feeds
//! the text to `stampede::scenario::parse`. The loader must return `Ok` or `Err`, never panic.
//! When the text parses, its guards are tightened (20,000 events, 2,000 live entities, 60 s of
//! simulated time, quiet stops, one replication) and every policy is simulated: no panic (in debug
//! builds the model's conservation checks panic on a violation, so they are covered too) and no
//! hang (each case runs on its own thread with a 20 s budget).
//!
//! Cases: `FUZZ_CASES` (or `PROPTEST_CASES`), 5,000 by default (about 40 s in a debug build). A long run:
//! `FUZZ_CASES=1000000 cargo test --release --test fuzz -- --nocapture`.
//! The test prints how many inputs were tried and how many parsed.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use stampede::engine::SimTime;
use stampede::engine::time::NANOS_PER_SEC;
use stampede::model::world::simulate_full;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const DEFAULT_CASES: u32 = 5_000;
const CASE_TIMEOUT: Duration = Duration::from_secs(20);

const EXTREMES: &[&str] = &[
    "1e308",
    "-1",
    "0",
    "nan",
    "inf",
    "-inf",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "1e-300",
    "0.0",
    "-0.0",
    "1",
    "100000",
    "\"\"",
    "\"0s\"",
    "\"1e308s\"",
    "\"-1s\"",
    "\"18446744073709551615ns\"",
    "[]",
    "{}",
    "true",
];

fn cases() -> u32 {
    ["FUZZ_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|k| std::env::var(k).ok().and_then(|v| v.parse().ok()))
        .unwrap_or(DEFAULT_CASES)
}

fn seeds() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["scenarios", "tests/corpus", "tests/fuzz_corpus"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).expect("seed readable");
            if dir == "tests/fuzz_corpus" && text.starts_with("# known-bug:") {
                continue; // would abort the process; replay it with the `replay` test
            }
            out.push((p.display().to_string(), text));
        }
    }
    assert!(out.len() >= 8, "expected the shipped scenarios as seeds");
    out
}

/// One text mutation; indices are reduced modulo the current size when applied.
#[derive(Clone, Debug)]
enum Mutation {
    FlipByte { at: usize, bit: u8 },
    SetByte { at: usize, byte: u8 },
    DeleteLine { line: usize },
    DuplicateLine { line: usize, to: usize },
    Extreme { number: usize, value: usize },
    HugeString { string: usize, len: usize },
    SwapValues { a: usize, b: usize },
    Truncate { at: usize },
    InsertLine { line: usize, text: String },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipByte { at, bit }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        1 => any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(line, to)| Mutation::DuplicateLine { line, to }),
        4 => (any::<usize>(), 0..EXTREMES.len()).prop_map(|(number, value)| Mutation::Extreme { number, value }),
        1 => (any::<usize>(), prop_oneof![Just(0usize), 1usize..100, Just(100_000)])
            .prop_map(|(string, len)| Mutation::HugeString { string, len }),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapValues { a, b }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        1 => (any::<usize>(), "[a-z_\\[\\]. =0-9\"]{0,30}")
            .prop_map(|(line, text)| Mutation::InsertLine { line, text }),
    ]
}

/// Byte ranges of numeric literals (a rough lexer: a digit run with sign, dot, exponent).
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
        if starts {
            let mut s = i;
            if s > 0 && (b[s - 1] == b'-' || b[s - 1] == b'+') {
                s -= 1;
            }
            let mut e = i;
            while e < b.len()
                && (b[e].is_ascii_digit()
                    || b[e] == b'.'
                    || b[e] == b'_'
                    || ((b[e] == b'e' || b[e] == b'E') && e + 1 < b.len()))
            {
                e += 1;
            }
            out.push((s, e));
            i = e.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Byte ranges of the contents of double-quoted strings on one line.
fn strings(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match (c, open) {
            ('"', None) => open = Some(i + 1),
            ('"', Some(s)) => {
                out.push((s, i));
                open = None;
            }
            ('\n', _) => open = None,
            _ => {}
        }
    }
    out
}

/// Byte ranges of the values of `key = value` lines (to the end of the line).
fn values(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        if !body.trim_start().starts_with('#')
            && let Some(eq) = body.find('=')
        {
            let v = eq + 1 + (body.len() - eq - 1 - body[eq + 1..].trim_start().len());
            if v < body.len() {
                out.push((start + v, start + body.len()));
            }
        }
        start += line.len();
    }
    out
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    let lines = |t: &[u8]| -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut s = 0;
        for (i, &c) in t.iter().enumerate() {
            if c == b'\n' {
                out.push((s, i + 1));
                s = i + 1;
            }
        }
        if s < t.len() {
            out.push((s, t.len()));
        }
        out
    };
    let as_str = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
    match m {
        Mutation::FlipByte { at, bit } if !text.is_empty() => {
            let n = text.len();
            text[at % n] ^= 1 << bit;
        }
        Mutation::SetByte { at, byte } if !text.is_empty() => {
            let n = text.len();
            text[at % n] = *byte;
        }
        Mutation::DeleteLine { line } => {
            let ls = lines(text);
            if !ls.is_empty() {
                let (s, e) = ls[line % ls.len()];
                text.drain(s..e);
            }
        }
        Mutation::DuplicateLine { line, to } => {
            let ls = lines(text);
            if !ls.is_empty() {
                let (s, e) = ls[line % ls.len()];
                let mut copy = text[s..e].to_vec();
                if copy.last() != Some(&b'\n') {
                    copy.push(b'\n');
                }
                let at = ls[to % ls.len()].0;
                text.splice(at..at, copy);
            }
        }
        Mutation::InsertLine { line, text: new } => {
            let ls = lines(text);
            let at = if ls.is_empty() {
                0
            } else {
                ls[line % ls.len()].0
            };
            let mut ins = new.as_bytes().to_vec();
            ins.push(b'\n');
            text.splice(at..at, ins);
        }
        Mutation::Extreme { number, value } => {
            let s = as_str(text);
            let ns = numbers(&s);
            if !ns.is_empty() {
                let (a, b) = ns[number % ns.len()];
                let mut out = s.into_bytes();
                out.splice(a..b, EXTREMES[*value].bytes());
                *text = out;
            }
        }
        Mutation::HugeString { string, len } => {
            let s = as_str(text);
            let ss = strings(&s);
            if !ss.is_empty() {
                let (a, b) = ss[string % ss.len()];
                let mut out = s.into_bytes();
                out.splice(a..b, std::iter::repeat_n(b'x', *len));
                *text = out;
            }
        }
        Mutation::SwapValues { a, b } => {
            let s = as_str(text);
            let vs = values(&s);
            if vs.len() >= 2 {
                let (mut x, mut y) = (vs[a % vs.len()], vs[b % vs.len()]);
                if x.0 > y.0 {
                    std::mem::swap(&mut x, &mut y);
                }
                if x != y {
                    let out = format!(
                        "{}{}{}{}{}",
                        &s[..x.0],
                        &s[y.0..y.1],
                        &s[x.1..y.0],
                        &s[x.0..x.1],
                        &s[y.1..]
                    );
                    *text = out.into_bytes();
                }
            }
        }
        Mutation::Truncate { at } if !text.is_empty() => {
            let n = text.len();
            text.truncate(at % n);
        }
        _ => {}
    }
}

static TRIED: AtomicU64 = AtomicU64::new(0);
static PARSED: AtomicU64 = AtomicU64::new(0);
static SIMULATED: AtomicU64 = AtomicU64::new(0);

/// Parses `text` as if read from `file` (relative paths in it, such as an `otel` source's trace,
/// resolve beside `file`) and, if it parses, runs every policy under tight guards. Panics on a bug.
fn check(text: &str, file: &str) -> bool {
    let Ok(mut scenario) = stampede::scenario::parse(text, file) else {
        return false;
    };
    // What `validate` prints of it must not panic either.
    let _ = stampede::scenario::explain::explain(&scenario).render_text();
    scenario.guards.max_events = 20_000;
    scenario.guards.max_live = 2_000;
    scenario.guards.stop_quietly = true;
    scenario.guards.max_time = SimTime(scenario.guards.max_time.0.min(60 * NANOS_PER_SEC));
    scenario.replications = 1;
    for policy in &scenario.policies {
        // Err (a guard that trips loudly) is a value, not a failure.
        let _ = simulate_full(&scenario, policy, scenario.seed, true);
        SIMULATED.fetch_add(1, Ordering::Relaxed);
    }
    true
}

/// `check` on its own thread: a panic or a run longer than [`CASE_TIMEOUT`] fails the case.
fn guarded(text: String, file: String) -> Result<(), TestCaseError> {
    TRIED.fetch_add(1, Ordering::Relaxed);
    // A stack overflow aborts the process: FUZZ_LAST names a file that keeps the input in flight.
    if let Ok(last) = std::env::var("FUZZ_LAST") {
        std::fs::write(last, &text).expect("FUZZ_LAST writable");
    }
    let (tx, rx) = mpsc::channel();
    let input = text.clone();
    let handle = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let parsed = check(&text, &file);
            let _ = tx.send(parsed);
        })
        .expect("spawn");
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(parsed) => {
            let _ = handle.join();
            if parsed {
                PARSED.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = handle.join();
            Err(TestCaseError::fail(format!("panicked on input:\n{input}")))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // The thread cannot be killed; it is left running and the process fails.
            Err(TestCaseError::fail(format!(
                "no answer within {CASE_TIMEOUT:?} on input:\n{input}"
            )))
        }
    }
}

#[test]
fn mutated_scenarios_never_panic_or_hang() {
    let seeds = seeds();
    let texts: Vec<String> = seeds.iter().map(|(_, t)| t.clone()).collect();
    let files: Vec<String> = seeds.iter().map(|(p, _)| p.clone()).collect();
    let cases = cases();
    let config = Config {
        cases,
        max_shrink_iters: 512,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = (0..texts.len(), proptest::collection::vec(mutation(), 1..6));
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, |(seed, muts)| {
        let mut text = texts[seed].clone().into_bytes();
        for m in &muts {
            apply(&mut text, m);
        }
        guarded(
            String::from_utf8_lossy(&text).into_owned(),
            files[seed].clone(),
        )
    });
    println!(
        "fuzz: {} inputs tried, {} parsed, {} policy runs, {} seeds, {:.1?}",
        TRIED.load(Ordering::Relaxed),
        PARSED.load(Ordering::Relaxed),
        SIMULATED.load(Ordering::Relaxed),
        seeds.len(),
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The seeds themselves, unmutated, under the same guards: the shipped scenarios parse.
#[test]
fn every_seed_runs_under_tight_guards() {
    for (path, text) in seeds() {
        let parsed = check(&text, &path);
        assert!(
            parsed || !path.contains("/scenarios/"),
            "{path} does not parse"
        );
    }
}

/// Replays one input: `FUZZ_FILE=path cargo test --test fuzz replay -- --ignored --nocapture`.
#[test]
#[ignore]
fn replay() {
    let path = std::env::var("FUZZ_FILE").expect("FUZZ_FILE names the input");
    let text = std::fs::read_to_string(&path).expect("FUZZ_FILE readable");
    guarded(text, path.clone()).unwrap();
    println!("{path}: ran, parsed = {}", PARSED.load(Ordering::Relaxed));
}
