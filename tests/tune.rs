//! `stampede tune` as a user meets it: the cascade's tune is the same bytes with one thread or
//! two, its recommendation matches the hand-made `fixed` policy on replications the search never
//! saw, `pareto.csv` holds only mutually non-dominated feasible settings, constraints are judged
//! on the confidence interval, and a bad `[tune]` table is refused with exit 2 at its line and
//! column before anything runs.

use stampede::metrics::{Aggregate, Metrics};
use stampede::scenario::{Bound, Expectation, MetricRef, Op};
use stampede::tune::search::{Verdict, judge};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn stampede() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cascade_tune() -> PathBuf {
    root().join("scenarios/cascade_tune.toml")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FILES: [&str; 7] = [
    "tune.csv",
    "pareto.csv",
    "validation.csv",
    "recommended.toml",
    "charts/frontier.svg",
    "report.html",
    "report.md",
];

/// The cascade's tune run once with `--threads 1` and once with `--threads 2` (shared by the
/// tests below): the two output directories and the second run's stdout.
fn tuned() -> &'static (tempfile::TempDir, tempfile::TempDir, String) {
    static TUNED: OnceLock<(tempfile::TempDir, tempfile::TempDir, String)> = OnceLock::new();
    TUNED.get_or_init(|| {
        let mut stdout = String::new();
        let dirs: Vec<tempfile::TempDir> = ["1", "2"]
            .iter()
            .map(|threads| {
                let dir = tempfile::tempdir().unwrap();
                let out = stampede()
                    .arg("tune")
                    .arg(cascade_tune())
                    .args(["--threads", threads, "--out"])
                    .arg(dir.path())
                    .output()
                    .unwrap();
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "tune --threads {threads} failed: {}",
                    text(&out.stderr)
                );
                stdout = text(&out.stdout);
                dir
            })
            .collect();
        let mut dirs = dirs.into_iter();
        (dirs.next().unwrap(), dirs.next().unwrap(), stdout)
    })
}

/// A CSV file as a header and rows of named cells.
fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn number(row: &HashMap<String, String>, column: &str) -> f64 {
    row.get(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .parse()
        .unwrap_or_else(|e| panic!("{column}: {e}"))
}

#[test]
fn the_cascade_tune_is_the_same_bytes_with_one_thread_or_two() {
    let (one, two, _) = tuned();
    for f in FILES {
        let a = std::fs::read(one.path().join(f)).unwrap();
        let b = std::fs::read(two.path().join(f)).unwrap();
        assert!(a == b, "{f} differs between --threads 1 and --threads 2");
    }
}

#[test]
fn the_recommendation_matches_the_hand_made_policy_on_unseen_replications() {
    let (_, dir, stdout) = tuned();
    let rows = read_csv(&dir.path().join("validation.csv"));
    let recommended = rows
        .iter()
        .find(|r| r["kind"] == "recommended")
        .expect("a recommendation");
    let fixed = rows
        .iter()
        .find(|r| r["kind"] == "as written" && r["setting"] == "fixed")
        .expect("fixed as written, on the same replications");
    assert_eq!(number(recommended, "replications"), 30.0);
    assert_eq!(number(recommended, "jobs_failed"), 0.0);
    assert_eq!(recommended["constraints"], "yes");
    let (p99, fixed_p99) = (
        number(recommended, "job_latency_p99_s"),
        number(fixed, "job_latency_p99_s"),
    );
    assert!(
        p99 <= 1.05 * fixed_p99,
        "recommended p99 {p99} s against fixed's {fixed_p99} s"
    );
    // The snippet is a policy the scenario accepts, with the values of the recommended row.
    let snippet = std::fs::read_to_string(dir.path().join("recommended.toml")).unwrap();
    assert!(stdout.contains(&snippet), "the snippet is printed");
    assert!(snippet.contains("name = \"fixed_tuned\""), "{snippet}");
    let rate = &recommended["policy.fixed.bucket.rate"];
    assert!(snippet.contains(&format!("rate = {rate}")), "{snippet}");
    let base = std::fs::read_to_string(root().join("scenarios/cascade_12_agents.toml")).unwrap();
    let with = format!("{base}\n{snippet}");
    let s = stampede::scenario::parse(&with, "with.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(s.policies.iter().any(|p| p.name == "fixed_tuned"));
}

#[test]
fn pareto_holds_only_feasible_settings_none_dominating_another() {
    let (_, dir, _) = tuned();
    let rows = read_csv(&dir.path().join("pareto.csv"));
    assert!(!rows.is_empty());
    let objectives = ["job_latency_p99_s", "rate_limited"];
    for r in &rows {
        assert_eq!(number(r, "jobs_failed"), 0.0, "infeasible row {r:?}");
        assert_eq!(number(r, "jobs_failed_ci95"), 0.0);
    }
    for a in &rows {
        for b in &rows {
            let no_worse = objectives.iter().all(|o| number(a, o) <= number(b, o));
            let better = objectives.iter().any(|o| number(a, o) < number(b, o));
            assert!(
                !(no_worse && better),
                "{} dominates {} in pareto.csv",
                a["id"],
                b["id"]
            );
        }
    }
    // Every frontier row is a candidate of tune.csv with the same numbers.
    let all = read_csv(&dir.path().join("tune.csv"));
    for r in &rows {
        let c = all.iter().find(|c| c["id"] == r["id"]).unwrap();
        assert_eq!(c["feasible"], "yes");
        assert_eq!(c["job_latency_p99_s_mean"], r["job_latency_p99_s"]);
    }
}

#[test]
fn a_frontier_of_trade_offs_holds_only_mutually_non_dominated_feasible_rows() {
    // Job p99 against the peak of attempts in flight: a smaller burst is gentler on the
    // provider and slower, so the frontier has many points.
    let (dir, path) = edited(&[(
        "objectives = [\"job_latency_p99_s\", \"rate_limited\"]",
        "objectives = [\"job_latency_p99_s\", \"peak_in_flight\"]",
    )]);
    let out_dir = dir.path().join("out");
    let out = stampede()
        .arg("tune")
        .arg(&path)
        .args(["--budget", "2000", "--no-charts", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = read_csv(&out_dir.join("pareto.csv"));
    assert!(rows.len() >= 3, "{} rows", rows.len());
    let objectives = ["job_latency_p99_s", "peak_in_flight"];
    for a in &rows {
        assert_eq!(number(a, "jobs_failed"), 0.0);
        for b in &rows {
            let no_worse = objectives.iter().all(|o| number(a, o) <= number(b, o));
            let better = objectives.iter().any(|o| number(a, o) < number(b, o));
            assert!(!(no_worse && better), "{} dominates {}", a["id"], b["id"]);
        }
    }
    // Best on the first objective first.
    let p99: Vec<f64> = rows
        .iter()
        .map(|r| number(r, "job_latency_p99_s"))
        .collect();
    assert!(p99.windows(2).all(|w| w[0] <= w[1]), "{p99:?}");
}

fn rate_limited(values: &[f64]) -> Aggregate {
    let runs: Vec<Metrics> = values
        .iter()
        .map(|&v| Metrics {
            rate_limited: v,
            ..Default::default()
        })
        .collect();
    Aggregate::of(&runs)
}

#[test]
fn constraints_are_judged_on_the_confidence_interval() {
    let at_most_10 = [Expectation {
        policy: None,
        metric: MetricRef::Summary("rate_limited"),
        op: Op::Le,
        bound: Bound::Value(10.0),
        line: 0,
    }];
    // A mean of 9 whose interval reaches past 10 does not hold yet, nor is it violated.
    assert_eq!(
        judge(&at_most_10, &rate_limited(&[2.0, 18.0, 4.0, 12.0])),
        Verdict::Undecided
    );
    assert_eq!(
        judge(&at_most_10, &rate_limited(&[9.0, 9.5, 8.5, 9.0])),
        Verdict::Holds
    );
    // A mean of 11 is a violation only when the whole interval is past 10.
    assert_eq!(
        judge(&at_most_10, &rate_limited(&[2.0, 20.0, 4.0, 18.0])),
        Verdict::Undecided
    );
    assert_eq!(
        judge(&at_most_10, &rate_limited(&[20.0, 22.0, 21.0, 19.0])),
        Verdict::Violated
    );
    // `==` is exact, as in `stampede check`: one 429 in four replications breaks `== 0`.
    let none = [Expectation {
        op: Op::Eq,
        bound: Bound::Value(0.0),
        ..at_most_10[0].clone()
    }];
    assert_eq!(judge(&none, &rate_limited(&[0.0; 4])), Verdict::Holds);
    assert_eq!(
        judge(&none, &rate_limited(&[0.0, 1.0, 0.0, 0.0])),
        Verdict::Violated
    );
}

/// The cascade's tune with its `[tune]` table's lines replaced: `(old, new)` pairs.
fn edited(pairs: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let mut t = std::fs::read_to_string(cascade_tune()).unwrap();
    for (old, new) in pairs {
        assert!(t.contains(old), "{old}");
        t = t.replacen(old, new, 1);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, t).unwrap();
    (dir, path)
}

fn refused(path: &Path, command: &str) -> String {
    let out: Output = stampede()
        .arg(command)
        .arg(path)
        .arg("--out")
        .arg(path.with_extension("out"))
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{command}: {err}");
    assert!(!path.with_extension("out").join("tune.csv").exists());
    err
}

fn line_of(path: &Path, needle: &str) -> usize {
    let t = std::fs::read_to_string(path).unwrap();
    t.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn bad_tune_tables_are_refused_at_their_line_and_column() {
    let cases: [(&str, &str, &str, &str); 6] = [
        (
            "\"policy.fixed.bucket.burst\"",
            "\"policy.fixed.bukket.burst\"",
            "field `tune.parameters.\"policy.fixed.bukket.burst\"`: no `bukket` in `policy.fixed`",
            "bukket",
        ),
        (
            "\"policy.fixed.retry.max_attempts\"",
            "\"source.0.job.agents\"",
            "expected a path into the tuned policy",
            "source.0.job.agents",
        ),
        (
            "range = [40_000, 80_000]",
            "range = [80_000, 40_000]",
            "expected lo < hi",
            "range = [80_000",
        ),
        (
            "objectives = [\"job_latency_p99_s\", \"rate_limited\"]",
            "objectives = [\"job_latency_p99\", \"rate_limited\"]",
            "did you mean \"job_latency_p99_s\"?",
            "objectives =",
        ),
        (
            "budget = 4_000 ",
            "budget = 5_000_000 ",
            "field `tune.budget`: expected from 4 to 200000, found 5000000",
            "budget = 5_000_000",
        ),
        (
            "policy = \"fixed\"\nbudget",
            "policy = \"fixd\"\nbudget",
            "field `tune.policy`: expected a policy of this scenario",
            "policy = \"fixd\"",
        ),
    ];
    for (old, new, message, at) in cases {
        let (_dir, path) = edited(&[(old, new)]);
        let line = line_of(&path, at);
        for command in ["tune", "validate"] {
            let err = if command == "validate" {
                let out = stampede().arg("validate").arg(&path).output().unwrap();
                assert_eq!(out.status.code(), Some(2));
                text(&out.stderr)
            } else {
                refused(&path, command)
            };
            let prefix = format!("error: {}:{line}:", path.display());
            assert!(
                err.starts_with(&prefix),
                "{command}: {err}\nexpected {prefix}"
            );
            assert!(err.contains(message), "{command}: {err}");
        }
    }
    // A range end the policy refuses is found before the search, naming the parameter.
    let (_dir, path) = edited(&[("range = [2, 8]", "range = [0, 8]")]);
    let err = refused(&path, "tune");
    let line = line_of(&path, "range = [0, 8]");
    assert!(
        err.starts_with(&format!("error: {}:{line}:1: ", path.display())),
        "{err}"
    );
    assert!(
        err.contains("field `tune.parameters.\"policy.fixed.retry.max_attempts\"`: the end 0"),
        "{err}"
    );
}

#[test]
fn a_budget_over_the_cap_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = stampede()
        .arg("tune")
        .arg(cascade_tune())
        .args(["--budget", "1000000000000", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--budget: expected from 4 to 200000 replications, found 1000000000000"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(!dir.path().join("tune.csv").exists());
    // The library refuses it before reading the scenario.
    let e = stampede::tune::Plan::new(
        "not even toml",
        "x.toml",
        &stampede::tune::TuneOptions {
            budget: Some(u64::MAX),
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("--budget: expected from 4 to 200000"), "{e}");
}

#[test]
fn run_and_validate_accept_a_file_with_a_tune_table_and_run_ignores_it() {
    let out = stampede()
        .arg("validate")
        .arg(cascade_tune())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // `run` runs the scenario as written: the cascade's numbers, policy for policy.
    let tune = stampede::scenario::load(&cascade_tune()).unwrap();
    let cascade =
        stampede::scenario::load(&root().join("scenarios/cascade_12_agents.toml")).unwrap();
    let options = stampede::run::RunOptions {
        replications: Some(2),
        ..Default::default()
    };
    let a = stampede::run::run(&tune, &options).unwrap();
    let b = stampede::run::run(&cascade, &options).unwrap();
    for (x, y) in a.policies.iter().zip(&b.policies) {
        assert_eq!(x.name, y.name);
        assert_eq!(x.runs, y.runs);
    }
}

/// The report a review reads: the recommendation's snippet and numbers, the table on unseen seeds
/// with every policy as written, the frontier chart inline (HTML) or by path (Markdown).
#[test]
fn the_tune_report_shows_the_recommendation_beside_the_policies_as_written() {
    let (dir, _, _) = tuned();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let snippet = std::fs::read_to_string(dir.path().join("recommended.toml")).unwrap();
    let policy: String = snippet
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(md.contains(policy.trim_end()), "the snippet in report.md");
    assert!(html.contains("<svg role=\"img\""), "the chart inline");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
    assert!(md.contains("![the frontier](charts/frontier.png)"));
    // One row per setting of validation.csv, in its order, its p99 as written there.
    let rows = read_csv(&dir.path().join("validation.csv"));
    let table: Vec<&str> = md
        .split("## On unseen seeds")
        .nth(1)
        .and_then(|rest| rest.split("## The frontier").next())
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| setting"))
        .collect();
    assert_eq!(table.len(), rows.len(), "{table:?}");
    for (line, row) in table.iter().zip(&rows) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells[0], row["setting"]);
        let p99 = number(row, "job_latency_p99_s");
        let shown: f64 = cells[cells.len() - 3]
            .split(" ± ")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (shown - p99).abs() <= 0.01 * p99.abs().max(1.0),
            "{shown} vs {p99}"
        );
    }
}

/// A tune's files, chart and report move in as one set: a second tune into the same directory
/// replaces them all, removes the first one's recommendation when it has none, and keeps files
/// that are not a tune's.
#[test]
fn a_tune_replaces_an_earlier_tunes_files_as_one_set() {
    let (dir, path) = edited(&[(
        "[[tune.constraint]]\nmetric = \"jobs_failed\"\nop = \"==\"\nvalue = 0",
        "[[tune.constraint]]\nmetric = \"jobs_failed\"\nop = \"<\"\nvalue = -1",
    )]);
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("recommended.toml"), "# an earlier tune's\n").unwrap();
    std::fs::write(out.join("notes.txt"), "mine\n").unwrap();
    let o = stampede()
        .arg("tune")
        .arg(&path)
        .args(["--budget", "40", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "no recommendation: {}",
        text(&o.stderr)
    );
    assert!(
        !out.join("recommended.toml").exists(),
        "the earlier recommendation is gone"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine\n"
    );
    for f in [
        "tune.csv",
        "pareto.csv",
        "validation.csv",
        "report.md",
        "manifest.json",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `plot` and `report` on a tune's directory say that the tune draws and writes them.
#[test]
fn plot_and_report_point_a_tunes_directory_back_to_the_tune() {
    let (dir, _, _) = tuned();
    for command in ["plot", "report"] {
        let o = stampede().arg(command).arg(dir.path()).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{command}");
        assert!(
            text(&o.stderr).contains("holds a tune's results"),
            "{command}: {}",
            text(&o.stderr)
        );
    }
}
