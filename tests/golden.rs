//! Golden outputs: every shipped scenario's result files, byte for byte.
//!
//! The model core may be restructured freely as long as these stay identical; a change in a
//! number must be intended, explained in its commit, and re-recorded with
//! `STAMPEDE_BLESS=1 cargo test --test golden`.

use stampede::run::export::write_outputs;
use stampede::run::{RunOptions, run};
use stampede::scenario::load;
use std::path::{Path, PathBuf};

/// The files `stampede run` writes that hold numbers.
const FILES: [&str; 7] = [
    "summary.json",
    "summary.csv",
    "runs.csv",
    "latency.csv",
    "timeseries.csv",
    "tenants.csv",
    "providers.csv",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Runs `scenario` with its own settings into a fresh directory.
fn outputs(scenario: &Path) -> tempfile::TempDir {
    let s = load(scenario).unwrap_or_else(|e| panic!("{e}"));
    let report = run(&s, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    write_outputs(&report, dir.path()).unwrap();
    dir
}

#[test]
fn every_shipped_scenario_writes_its_recorded_outputs() {
    let bless = std::env::var_os("STAMPEDE_BLESS").is_some();
    let scenarios = shipped();
    assert!(scenarios.len() >= 7, "found {} scenarios", scenarios.len());
    let mut differences = Vec::new();
    let mut compared = 0;
    for scenario in &scenarios {
        let name = scenario.file_stem().unwrap().to_string_lossy().to_string();
        let produced = outputs(scenario);
        let golden = root().join("tests/golden").join(&name);
        if bless {
            let _ = std::fs::remove_dir_all(&golden);
            std::fs::create_dir_all(&golden).unwrap();
        }
        for file in FILES {
            let new = std::fs::read(produced.path().join(file)).ok();
            let path = golden.join(file);
            if bless {
                if let Some(bytes) = &new {
                    std::fs::write(&path, bytes).unwrap();
                }
                continue;
            }
            let old = std::fs::read(&path).ok();
            compared += old.is_some() as usize;
            if old != new {
                differences.push(format!(
                    "{name}/{file}: {}",
                    match (&old, &new) {
                        (None, Some(_)) => "written now but not recorded".to_string(),
                        (Some(_), None) => "recorded but no longer written".to_string(),
                        (Some(o), Some(n)) => first_difference(o, n),
                        (None, None) => unreachable!(),
                    }
                ));
            }
        }
    }
    if !bless {
        // A golden directory that holds nothing would pass any change.
        assert!(
            compared >= 4 * scenarios.len(),
            "only {compared} files recorded"
        );
    }
    assert!(
        differences.is_empty(),
        "outputs differ from tests/golden (re-record with STAMPEDE_BLESS=1 only if intended):\n{}",
        differences.join("\n")
    );
}

/// The first line where `old` and `new` differ, both shown.
fn first_difference(old: &[u8], new: &[u8]) -> String {
    let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let mut o = old.lines();
    let mut n = new.lines();
    for line in 1.. {
        match (o.next(), n.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => {
                return format!(
                    "line {line}\n  recorded: {}\n  now:      {}",
                    a.unwrap_or("<end>"),
                    b.unwrap_or("<end>")
                );
            }
        }
    }
    unreachable!()
}

/// Issue 13: `resource = "tokens"` is the default of a client bucket. Written into every bucket
/// of every shipped scenario that has one, the outputs are the recorded ones, byte for byte.
#[test]
fn client_buckets_written_as_tokens_give_the_recorded_outputs() {
    let mut checked = 0;
    for scenario in shipped() {
        let text = std::fs::read_to_string(&scenario).unwrap();
        let with = text
            .replace("bucket = { ", "bucket = { resource = \"tokens\", ")
            .replace("  { scope = ", "  { resource = \"tokens\", scope = ");
        if with == text {
            continue;
        }
        // The copy lives in a temporary directory: a trace `file` (relative to the scenario)
        // is pointed back at the shipped one.
        let with = with.replace(
            "file = \"",
            &format!("file = \"{}/", scenario.parent().unwrap().display()),
        );
        let name = scenario.file_stem().unwrap().to_string_lossy().to_string();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(scenario.file_name().unwrap());
        std::fs::write(&path, &with).unwrap();
        let produced = outputs(&path);
        for file in FILES {
            let new = std::fs::read(produced.path().join(file)).ok();
            let old = std::fs::read(root().join("tests/golden").join(&name).join(file)).ok();
            if let (Some(o), Some(n)) = (&old, &new) {
                assert!(o == n, "{name}/{file}: {}", first_difference(o, n));
            } else {
                assert_eq!(old.is_some(), new.is_some(), "{name}/{file}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} scenarios have client buckets");
}
