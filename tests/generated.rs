//! Property tests over generated scenarios: the model core checked on far more shapes than the
//! shipped scenarios.
//!
//! `generated/generator.rs` draws random *valid* scenario files: job trees from every template
//! kind, every arrival process (trace CSVs included), tenants, several provider limits at once,
//! capacity schedules, outages, and policies from every family. Each is small (at most about 40
//! jobs) and bounded by `[guards]`, so that a case runs in milliseconds in a debug build.
//! `generated/checks.rs` holds the checks; each property below runs one of them on
//! `PROPTEST_CASES` scenarios (128 by default):
//!
//! - runs end without panicking (in debug builds, without tripping the model's own conservation
//!   checks either), failing only where the scenario lets a guard fail them;
//! - the accounting adds up: jobs, attempts, sends, retries, tokens, money, tenants, the latency
//!   distribution and the time series against the summary (`run_identities`);
//! - the same scenario and seed give the same bytes, twice and on 1 and 2 threads;
//! - common random numbers: a policy's results do not depend on its neighbours, their order, or
//!   its name.
//!
//! More cases, e.g. before merging a change to the model:
//! `PROPTEST_CASES=5000 cargo test --release --test generated` (a few minutes in a debug build).
//!
//! A failing case prints as a scenario file (`minimal failing input: case = ...`, its trace CSV
//! files as comment blocks after it). Two things keep failures from coming back:
//!
//! - `tests/generated.proptest-regressions`: proptest's file of the seeds of failed cases, replayed
//!   first by every run. Proptest writes it when a case fails: commit it. (A seed replays the same
//!   scenario only while the generator is unchanged, hence the corpus.)
//! - `tests/corpus/*.toml`: every case that ever failed, minimised, as a plain scenario file, run
//!   through all the checks by `every_corpus_scenario_passes_every_check`. A file whose first line
//!   is `# known-bug: <what>` is a bug reported and not yet fixed: it must still fail, and the test
//!   says when it passes, so that the marker goes (and with it any exclusion of that combination
//!   from the generator).
//!
//! `the_generated_golden_digest_is_unchanged` draws [`GOLDEN_CASES`] scenarios from a fixed seed
//! (then [`GOLDEN_RESOURCE_CASES`] more, with client buckets by resource, from a second seed),
//! runs them, and compares one line per case (the hash of the scenario text, the hash of every
//! output file, a few headline numbers) with `tests/golden/generated.txt`: a refactor of the model
//! must leave every line as it is. Re-record with `STAMPEDE_BLESS=1 cargo test --test generated`,
//! only when a change of numbers is intended. A change to the generator changes the scenario
//! hashes: make it in a commit of its own, re-recorded, never together with a model change.

#[path = "generated/checks.rs"]
mod checks;
#[path = "generated/generator.rs"]
mod generator;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, RngAlgorithm, TestRng, TestRunner};
use stampede::run::{RunOptions, run};
use std::path::{Path, PathBuf};

/// `PROPTEST_CASES` or 64.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    ProptestConfig {
        cases,
        max_shrink_iters: 2048,
        // Beside this file: tests/generated.proptest-regressions.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

fn load(case: &generator::Case) -> Result<stampede::model::Scenario, TestCaseError> {
    checks::load(case).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_runs_end_without_panicking(case in generator::scenario_with_resources()) {
        let s = load(&case)?;
        checks::runs_complete(&s).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn generated_runs_account_for_everything(case in generator::scenario_with_resources()) {
        let s = load(&case)?;
        checks::accounting(&s).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn generated_runs_are_deterministic_across_runs_and_threads(case in generator::scenario_with_resources()) {
        let s = load(&case)?;
        checks::determinism(&s).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn generated_policies_see_common_random_numbers(case in generator::scenario_with_resources()) {
        let s = load(&case)?;
        checks::common_random_numbers(&s).map_err(TestCaseError::fail)?;
    }
}

/// `PROPTEST_CASES` or 256 (about 1 s in a release build).
fn routed_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    ProptestConfig { cases, ..config() }
}

/// Every policy of a routed scenario, every replication, with the conservation checks forced
/// on (they panic on a violation, per-provider sums and in-flight gauges among them): drained
/// runs leave nothing in flight at any provider, and the providers' numbers add up to the run's.
fn routed_runs_balance(s: &stampede::model::Scenario) -> Result<(), String> {
    stampede::model::conservation::force();
    for p in &s.policies {
        for r in 0..s.replications {
            let seed = stampede::run::replication_seed(s.seed, r);
            let Ok(out) = stampede::model::world::simulate_full(s, p, seed, r == 0) else {
                continue;
            };
            if s.providers.len() < 2 {
                continue;
            }
            let m = &out.metrics;
            let ps = &out.providers;
            if ps.len() != s.providers.len() {
                return Err(format!(
                    "{} provider rows for {}",
                    ps.len(),
                    s.providers.len()
                ));
            }
            let sum =
                |f: fn(&stampede::metrics::ProviderMetrics) -> f64| ps.iter().map(f).sum::<f64>();
            let pairs = [
                ("attempts", sum(|p| p.attempts), m.attempts),
                ("rate_limited", sum(|p| p.rate_limited), m.rate_limited),
                ("server_errors", sum(|p| p.server_errors), m.server_errors),
                ("timeouts", sum(|p| p.timeouts), m.timeouts),
                ("tokens_input", sum(|p| p.tokens_input), m.tokens_input),
                ("tokens_output", sum(|p| p.tokens_output), m.tokens_output),
            ];
            for (name, providers, run) in pairs {
                if providers != run {
                    return Err(format!(
                        "policy {}, replication {r}: providers' {name} add up to {providers}, the run's is {run}",
                        p.name
                    ));
                }
            }
            let cost = sum(|p| p.cost_usd);
            if (cost - m.cost_usd).abs() > 1e-9 * m.cost_usd.max(1.0) {
                return Err(format!(
                    "policy {}: providers' cost {cost} != the run's {}",
                    p.name, m.cost_usd
                ));
            }
            let routed = p.route.is_some();
            for (k, pm) in ps.iter().enumerate() {
                if pm.attempts < pm.admitted || (!routed && k > 0 && pm.attempts > 0.0) {
                    return Err(format!("policy {}: provider {k}: {pm:?}", p.name));
                }
                if !routed && (pm.fallbacks_in > 0.0 || pm.cooldowns > 0.0) {
                    return Err(format!(
                        "policy {} has no route: provider {k}: {pm:?}",
                        p.name
                    ));
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(routed_config())]

    #[test]
    fn generated_routed_runs_balance_across_providers(case in generator::routed_scenario()) {
        let s = load(&case)?;
        prop_assert!(s.providers.len() >= 2);
        routed_runs_balance(&s).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn the_routed_generator_reaches_every_routing_mechanism() {
    // 200 cases from a fixed seed: how many scenarios had each routing metric nonzero, so that
    // a generator that stopped reaching one fails here instead of quietly checking less.
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, b"stampede generated routed checks"),
    );
    let strategy = generator::routed_scenario();
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    for _ in 0..200 {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let s = checks::load(&case).unwrap_or_else(|e| panic!("{e}\n{case:?}"));
        for p in &s.policies {
            let Ok(out) = stampede::model::world::simulate_full(&s, p, s.seed, false) else {
                continue;
            };
            let ps = &out.providers;
            let any =
                |f: fn(&stampede::metrics::ProviderMetrics) -> f64| ps.iter().any(|p| f(p) > 0.0);
            let hits = [
                ("fallbacks_in", any(|p| p.fallbacks_in)),
                ("cooldowns", any(|p| p.cooldowns)),
                (
                    "second_provider_used",
                    ps.iter().skip(1).any(|p| p.attempts > 0.0),
                ),
                ("throttled_locally", out.metrics.throttled_locally > 0.0),
                ("retries_throttled", out.metrics.retries_throttled > 0.0),
                ("timeouts", out.metrics.timeouts > 0.0),
                ("server_errors", out.metrics.server_errors > 0.0),
                ("rate_limited", out.metrics.rate_limited > 0.0),
            ];
            for (name, hit) in hits {
                *seen.entry(name).or_default() += hit as usize;
            }
        }
    }
    let rare: Vec<String> = seen
        .iter()
        .filter(|(_, n)| **n < 3)
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    assert!(
        rare.is_empty(),
        "reached in fewer than 3 runs: {rare:?} ({seen:?})"
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The reason on a corpus file's `# known-bug: ...` first line, if it has one.
fn known_bug(text: &str) -> Option<&str> {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("# known-bug:"))
        .map(str::trim)
}

/// Every check on the scenario at `path`, a panic included as a failure.
fn check_file(path: &Path) -> Result<(), String> {
    let s = checks::load_file(path)?;
    match std::panic::catch_unwind(|| checks::all(&s)) {
        Ok(r) => r,
        Err(panic) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("?")
        )),
    }
}

#[test]
fn every_corpus_scenario_passes_every_check() {
    let dir = root().join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario in {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy();
        match (known_bug(&text), check_file(file)) {
            (None, Ok(())) => {}
            (Some(_), Err(e)) => eprintln!("{name}: known bug, still failing: {e}"),
            (None, Err(e)) => failures.push(format!("{name}: {e}")),
            (Some(bug), Ok(())) => failures.push(format!(
                "{name}: passes now although marked `# known-bug: {bug}`: remove the marker"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// How many scenarios the golden digest draws.
const GOLDEN_CASES: usize = 300;

/// The digest's fixed seed (32 bytes for ChaCha).
const GOLDEN_SEED: &[u8; 32] = b"stampede generated golden digest";

/// Cases appended to the digest from [`generator::scenario_with_resources`] (client buckets by
/// resource, issue 13), drawn from their own seed so that the first [`GOLDEN_CASES`] keep their
/// bytes.
const GOLDEN_RESOURCE_CASES: usize = 60;

const GOLDEN_RESOURCE_SEED: &[u8; 32] = b"stampede golden: bucket resource";

/// 64-bit FNV-1a: a hash fixed by its definition (std's hashers may change between releases).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The scenarios of the golden digest, always the same ones for the same generator.
fn golden_cases() -> Vec<generator::Case> {
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, GOLDEN_SEED),
    );
    let strategy = generator::scenario();
    let mut cases: Vec<generator::Case> = (0..GOLDEN_CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, GOLDEN_RESOURCE_SEED),
    );
    let strategy = generator::scenario_with_resources();
    cases.extend(
        (0..GOLDEN_RESOURCE_CASES).map(|_| strategy.new_tree(&mut runner).unwrap().current()),
    );
    cases
}

#[test]
fn the_generated_golden_digest_is_unchanged() {
    let bless = std::env::var_os("STAMPEDE_BLESS").is_some();
    let mut lines = Vec::new();
    // How many cases exercised each mechanism, so that a generator that stopped reaching one
    // fails here instead of quietly checking less.
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    for (i, case) in golden_cases().iter().enumerate() {
        let s = checks::load(case).unwrap_or_else(|e| panic!("case {i}: {e}\n{case:?}"));
        let mut scenario_bytes = case.toml.clone();
        for (name, text) in &case.files {
            scenario_bytes.push_str(&format!("\n{name}\n{text}"));
        }
        let result = run(&s, &RunOptions::default());
        let outputs = checks::output_bytes(&result);
        let mut all = Vec::new();
        for (name, text) in &outputs {
            all.extend_from_slice(name.as_bytes());
            all.push(0);
            all.extend_from_slice(text.as_bytes());
            all.push(0);
        }
        let headline = match &result {
            Err(_) => "guard error".to_string(),
            Ok(rep) => {
                let sum = |f: &dyn Fn(&stampede::metrics::Metrics) -> f64| -> f64 {
                    rep.policies.iter().flat_map(|p| &p.runs).map(f).sum()
                };
                for name in stampede::metrics::Metrics::NAMES {
                    if sum(&|m| m.get(name).unwrap()) > 0.0 {
                        *seen.entry(name).or_default() += 1;
                    }
                }
                format!(
                    "policies={} jobs={} calls_ok={} attempts={} tokens={} tripped={}",
                    rep.policies.len(),
                    sum(&|m| m.jobs),
                    sum(&|m| m.calls_ok),
                    sum(&|m| m.attempts),
                    sum(&|m| m.tokens_billed),
                    sum(&|m| m.guard_tripped)
                )
            }
        };
        lines.push(format!(
            "{i:03} {:016x} {:016x} {headline}",
            fnv(scenario_bytes.as_bytes()),
            fnv(&all)
        ));
    }
    let path = root().join("tests/golden/generated.txt");
    let header = "# The generated golden digest (tests/generated.rs): one line per scenario drawn from a\n\
                  # fixed seed: index, hash of the scenario text, hash of every output file, headline\n\
                  # numbers summed over policies and replications. Re-record with\n\
                  # STAMPEDE_BLESS=1 cargo test --test generated, only when a change is intended.\n";
    if bless {
        std::fs::write(&path, format!("{header}{}\n", lines.join("\n"))).unwrap();
    } else {
        let recorded = std::fs::read_to_string(&path).unwrap_or_default();
        let recorded: Vec<&str> = recorded
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        // A file that holds nothing (or less) would pass any change.
        assert_eq!(
            recorded.len(),
            lines.len(),
            "{} holds {} cases, not {} (re-record with STAMPEDE_BLESS=1)",
            path.display(),
            recorded.len(),
            lines.len()
        );
        let differences: Vec<String> = lines
            .iter()
            .zip(&recorded)
            .filter(|(new, old)| new != old)
            .map(|(new, old)| format!("  recorded: {old}\n  now:      {new}"))
            .collect();
        assert!(
            differences.is_empty(),
            "{} of {} generated cases differ from {} (the second column is the \
             scenario's hash: if it differs, the generator changed; if only the third does, the \
             model's numbers did):\n{}",
            differences.len(),
            lines.len(),
            path.display(),
            differences
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // The appended cases reach client buckets by resource, several to a scope among them.
    let cases = golden_cases();
    let by_resource = |needle: &str| {
        cases[GOLDEN_CASES..]
            .iter()
            .filter(|c| c.toml.contains(needle))
            .count()
    };
    for needle in [
        "{ resource = \"requests\"",
        "{ resource = \"input_tokens\"",
        "{ resource = \"output_tokens\"",
        "}, { resource = ",
    ] {
        assert!(
            by_resource(needle) >= 5,
            "only {} of the appended cases hold {needle}",
            by_resource(needle)
        );
    }
    // The generator reaches every mechanism (metric counts are over all the scenarios). Prompt
    // caching is not drawn (drawing it would change every recorded scenario): tests/model.rs
    // covers it.
    let not_drawn = [
        "fairness_index",
        "tokens_cache_read",
        "tokens_cache_write",
        "cost_saved_by_cache_usd",
    ];
    let rare: Vec<String> = stampede::metrics::Metrics::NAMES
        .iter()
        .filter(|n| !not_drawn.contains(n))
        .filter(|n| seen.get(*n).copied().unwrap_or(0) < 3)
        .map(|n| format!("{n}: {}", seen.get(n).copied().unwrap_or(0)))
        .collect();
    assert!(
        rare.is_empty(),
        "metrics nonzero in fewer than 3 of {} generated scenarios: {rare:?}",
        lines.len()
    );
}
