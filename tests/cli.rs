//! The `stampede` command line as a user meets it: what `run` prints and writes, what `validate`
//! accepts, how bad input is reported (exit 2, `FILE:LINE:COL:`, the field), and how a tripped
//! guard is reported (exit 3, the guard, a command that reproduces it).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stampede() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn cascade() -> PathBuf {
    scenario("cascade_12_agents.toml")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Runs `stampede run FILE ARGS... --out OUT` and asserts it succeeded.
fn run_ok(file: &Path, args: &[&str], out_dir: &Path) -> Output {
    let out = stampede()
        .arg("run")
        .arg(file)
        .args(args)
        .arg("--out")
        .arg(out_dir)
        .output()
        .expect("the binary runs");
    assert_eq!(
        code(&out),
        Some(0),
        "stampede run {} {args:?} failed: {}",
        file.display(),
        text(&out.stderr)
    );
    out
}

/// `run --format json`, parsed.
fn run_json(file: &Path, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = run_ok(file, &all, dir.path());
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            text(&out.stdout)
        )
    })
}

fn policy<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["policies"]
        .as_array()
        .expect("policies is an array")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no policy {name} in {doc}"))
}

fn metric(doc: &Value, policy_name: &str, key: &str) -> f64 {
    policy(doc, policy_name)["metrics"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{policy_name}.metrics.{key} is not a number"))
}

const CONTRACT_METRICS: &[&str] = &[
    "makespan_s",
    "call_latency_p99_s",
    "job_latency_p99_s",
    "attempts",
    "retries",
    "rate_limited",
    "gave_up",
    "jobs_ok",
    "jobs_failed",
    "tokens_billed",
    "cost_usd",
    "peak_in_flight",
];

const CASCADE_POLICIES: &[&str] = &["naive", "jitter_only", "bucket_only", "fixed"];

#[test]
fn run_json_prints_one_document_with_the_contract_keys_for_every_policy() {
    let doc = run_json(&cascade(), &[]);
    assert_eq!(doc["scenario"], "cascade_12_agents");
    assert_eq!(doc["seed"].as_u64(), Some(1), "the scenario's seed is 1");
    let policies = doc["policies"].as_array().expect("policies[]");
    let names: Vec<&str> = policies
        .iter()
        .map(|p| p["name"].as_str().expect("policies[].name is a string"))
        .collect();
    assert_eq!(names, CASCADE_POLICIES, "all policies, in file order");
    for p in policies {
        for key in CONTRACT_METRICS {
            let v = p["metrics"][key].as_f64();
            assert!(
                v.is_some_and(f64::is_finite),
                "{}.metrics.{key} = {:?}",
                p["name"],
                p["metrics"][key]
            );
        }
    }
}

#[test]
fn cascade_shows_the_incident_naive_is_ten_times_slower_and_fixed_is_never_refused() {
    let doc = run_json(&cascade(), &[]);
    let naive = metric(&doc, "naive", "makespan_s");
    let fixed = metric(&doc, "fixed", "makespan_s");
    assert!(
        naive >= 10.0 * fixed,
        "naive makespan {naive} s is not 10x fixed's {fixed} s"
    );
    assert!(
        (30.0..=50.0).contains(&fixed),
        "fixed makespan {fixed} s outside 30-50 s"
    );
    assert_eq!(metric(&doc, "fixed", "rate_limited"), 0.0);
    assert_eq!(metric(&doc, "fixed", "jobs_ok"), 1.0);
    assert_eq!(metric(&doc, "fixed", "jobs_failed"), 0.0);
    // The incident's mechanism: naive is refused over and over.
    assert!(metric(&doc, "naive", "rate_limited") > 100.0);
}

#[test]
fn out_dir_gets_summary_json_summary_csv_and_runs_csv_matching_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("nested").join("results");
    let json_out = run_ok(&cascade(), &["--format", "json"], &out_dir);
    let summary_json = std::fs::read(out_dir.join("summary.json")).expect("summary.json");
    assert_eq!(
        summary_json, json_out.stdout,
        "summary.json is what --format json prints"
    );

    let csv_out = run_ok(&cascade(), &["--format", "csv"], &out_dir);
    let summary_csv = std::fs::read(out_dir.join("summary.csv")).expect("summary.csv");
    assert_eq!(
        summary_csv, csv_out.stdout,
        "summary.csv is what --format csv prints"
    );
    let mut reader = csv::Reader::from_reader(summary_csv.as_slice());
    let headers = reader.headers().unwrap().clone();
    let policy_col = headers.iter().position(|h| h == "policy").expect("policy");
    for key in CONTRACT_METRICS {
        assert!(headers.iter().any(|h| h == *key), "summary.csv lacks {key}");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let names: Vec<&str> = rows.iter().map(|r| &r[policy_col]).collect();
    assert_eq!(names, CASCADE_POLICIES, "one summary row per policy");

    let runs = std::fs::read(out_dir.join("runs.csv")).expect("runs.csv");
    let mut reader = csv::Reader::from_reader(runs.as_slice());
    let headers = reader.headers().unwrap().clone();
    let replication_col = headers
        .iter()
        .position(|h| h == "replication")
        .expect("replication");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), CASCADE_POLICIES.len(), "1 replication each");
    assert!(rows.iter().all(|r| &r[replication_col] == "0"));
}

#[test]
fn runs_csv_has_one_row_per_policy_and_replication() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        &cascade(),
        &[
            "--policy",
            "fixed",
            "--policy",
            "naive",
            "--replications",
            "3",
        ],
        dir.path(),
    );
    let runs = std::fs::read(dir.path().join("runs.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(runs.as_slice());
    let rows: Vec<(String, String)> = reader
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|r| {
            let r = r.unwrap();
            (r["policy"].clone(), r["replication"].clone())
        })
        .collect();
    let want: Vec<(String, String)> = ["fixed", "naive"]
        .iter()
        .flat_map(|p| (0..3).map(move |r| (p.to_string(), r.to_string())))
        .collect();
    assert_eq!(rows, want, "policies in --policy order, replications 0..3");
}

#[test]
fn policy_flag_runs_only_that_policy_with_the_same_results() {
    let all = run_json(&cascade(), &[]);
    let only = run_json(&cascade(), &["--policy", "fixed"]);
    let policies = only["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0]["name"], "fixed");
    // Common random numbers: leaving other policies out changes nothing for this one.
    assert_eq!(policies[0], *policy(&all, "fixed"));
}

#[test]
fn unknown_policy_exits_2_and_names_the_available_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = stampede()
        .arg("run")
        .arg(cascade())
        .args(["--policy", "fixed", "--policy", "no_such_policy", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "stderr: {err}");
    assert!(err.contains("no_such_policy"), "{err}");
    for name in CASCADE_POLICIES {
        assert!(err.contains(name), "stderr does not name {name}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        !dir.path().join("out").exists(),
        "nothing written on bad input"
    );
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        vec!["run", "--replications", "0"],
        vec!["run", "--format", "xml"],
        vec!["frobnicate"],
    ] {
        let out = stampede()
            .args(&args)
            .arg(cascade())
            .output()
            .expect("the binary runs");
        assert_eq!(code(&out), Some(2), "{args:?}: {}", text(&out.stderr));
    }
    let out = stampede()
        .args(["run", "/no/such/scenario.toml"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(err.contains("/no/such/scenario.toml"), "{err}");
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let out = stampede().arg("validate").arg(&path).output().unwrap();
        assert_eq!(
            code(&out),
            Some(0),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).starts_with("ok: "), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 2, "found only {checked} scenario files");
}

/// A small valid scenario; the malformed cases below each replace one of its lines.
const BASE: &str = r#"[scenario]
name = "small"
seed = 3

[provider]
ttft = "1s"

[[provider.limit]]
resource = "tokens"
rate = 1000
burst = 5000

[[source]]
name = "s"
arrival = { process = "burst", count = 2 }

[source.job]
prompt_tokens = 100
max_tokens = 10
output_tokens = 5

[[policy]]
name = "a"
"#;

/// `BASE` with its 1-based line `n` (checked to read `old`) replaced by `new`.
fn with_line(n: usize, old: &str, new: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    assert_eq!(lines[n - 1], old, "BASE line {n}");
    lines[n - 1] = new;
    lines.join("\n") + "\n"
}

fn write_temp(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Runs `validate` and `run` on `contents` and checks both exit 2 with
/// `error: FILE:LINE:COL: field `FIELD`` on stderr, nothing on stdout, and no panic.
fn assert_rejected_at(name: &str, contents: &str, line: usize, col: usize, field: &str) {
    assert_rejected(name, contents, line, Some(col), field);
}

/// [`assert_rejected_at`] for errors where pointing at the key or at its value are both right:
/// any column on `line`.
fn assert_rejected_on_line(name: &str, contents: &str, line: usize, field: &str) {
    assert_rejected(name, contents, line, None, field);
}

fn assert_rejected(name: &str, contents: &str, line: usize, col: Option<usize>, field: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), name, contents);
    for command in ["validate", "run"] {
        let mut cmd = stampede();
        cmd.arg(command).arg(&path);
        if command == "run" {
            cmd.arg("--out").arg(dir.path().join("out"));
        }
        let out = cmd.output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(code(&out), Some(2), "{name} ({command}): {err}");
        let prefix = format!("error: {}:{line}:", path.display());
        let col_found = err
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(": "))
            .and_then(|(c, _)| c.parse::<usize>().ok());
        let expected = col.map_or("any".to_string(), |c| c.to_string());
        assert!(
            col_found.is_some_and(|c| col.is_none_or(|want| c == want)),
            "{name} ({command}): expected stderr to start with {prefix:?} and column {expected}, got {err:?}"
        );
        assert!(
            err.contains(&format!("field `{field}`")),
            "{name} ({command}): expected field `{field}` in {err:?}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{name}: stdout {:?}",
            text(&out.stdout)
        );
        assert!(!dir.path().join("out").exists(), "{name}: wrote results");
    }
}

#[test]
fn the_base_of_the_malformed_cases_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "base", BASE);
    let out = stampede().arg("validate").arg(&path).output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_typo_in_a_limit_field_is_an_error_at_the_typo() {
    let s = with_line(10, "rate = 1000", "rat = 5");
    assert_rejected_at("typo", &s, 10, 1, "provider.limit[0].rat");
    let err = validate_stderr(&s);
    assert!(err.contains("unknown field `rat`"), "{err}");
}

#[test]
fn a_string_where_a_number_belongs_is_an_error_at_the_value() {
    let s = with_line(10, "rate = 1000", r#"rate = "fast""#);
    assert_rejected_at("wrong_type", &s, 10, 8, "provider.limit[0].rate");
}

#[test]
fn a_duration_with_an_unknown_unit_is_an_error_at_the_value() {
    let s = with_line(6, r#"ttft = "1s""#, r#"ttft = "5 parsecs""#);
    assert_rejected_at("bad_unit", &s, 6, 8, "provider.ttft");
    assert!(validate_stderr(&s).contains("parsecs"));
}

#[test]
fn a_duration_without_a_unit_is_an_error_at_the_value() {
    let s = with_line(6, r#"ttft = "1s""#, "ttft = 5");
    assert_rejected_at("bare_duration", &s, 6, 8, "provider.ttft");
}

#[test]
fn a_negative_or_zero_rate_is_an_error_at_the_value() {
    let s = with_line(10, "rate = 1000", "rate = -3");
    assert_rejected_at("negative_rate", &s, 10, 8, "provider.limit[0].rate");
    let s = with_line(11, "burst = 5000", "burst = 0");
    assert_rejected_at("zero_burst", &s, 11, 9, "provider.limit[0].burst");
}

#[test]
fn a_poisson_arrival_without_count_or_until_is_an_error_at_the_arrival() {
    let s = with_line(
        15,
        r#"arrival = { process = "burst", count = 2 }"#,
        r#"arrival = { process = "poisson", rate = 2.0 }"#,
    );
    // Column 23: the `"poisson"` that needs `count` or `until`.
    assert_rejected_at("endless_poisson", &s, 15, 23, "source[0].arrival");
}

#[test]
fn a_duplicate_policy_name_is_an_error_at_the_second_name() {
    let s = with_line(
        23,
        r#"name = "a""#,
        "name = \"a\"\n\n[[policy]]\nname = \"a\"",
    );
    assert_rejected_at("duplicate_policy", &s, 26, 8, "policy[1].name");
}

#[test]
fn a_uniform_with_low_above_high_is_an_error_at_the_distribution() {
    let s = with_line(
        18,
        "prompt_tokens = 100",
        r#"prompt_tokens = { dist = "uniform", low = 10, high = 5 }"#,
    );
    assert_rejected_at(
        "uniform_low_high",
        &s,
        18,
        17,
        "source[0].job.prompt_tokens",
    );
}

#[test]
fn zero_replications_and_zero_concurrency_are_errors_at_their_values() {
    let s = with_line(3, "seed = 3", "seed = 3\nreplications = 0");
    assert_rejected_at("zero_replications", &s, 4, 16, "scenario.replications");
    let s = with_line(6, r#"ttft = "1s""#, "ttft = \"1s\"\nconcurrency = 0");
    assert_rejected_at("zero_concurrency", &s, 7, 15, "provider.concurrency");
}

/// Bug (issue 11, class 1): a count written as a float (`1e308`) became u32::MAX and a run
/// looped billions of times inside one event; `agents = 0` passed although the docs say at
/// least 1. Every count is a whole number in its documented range, refused where it is written.
#[test]
fn counts_outside_their_range_are_errors_at_their_values() {
    for (agents, name) in [
        ("1e308", "huge_agents"),
        ("0", "zero_agents"),
        ("2.5", "fractional_agents"),
        (
            r#"{ dist = "uniform", low = 1, high = 1e9 }"#,
            "wide_uniform_agents",
        ),
        (
            r#"{ dist = "normal", mean = 1e12, sd = 1 }"#,
            "huge_normal_agents",
        ),
        (
            r#"{ dist = "empirical", values = [1, 20000] }"#,
            "huge_empirical_agents",
        ),
    ] {
        let s = with_line(
            18,
            "prompt_tokens = 100",
            &format!("agents = {agents}\nprompt_tokens = 100"),
        );
        assert_rejected_at(name, &s, 18, 10, "source[0].job.agents");
    }
    let s = with_line(
        19,
        "max_tokens = 10",
        "max_tokens = 10\ncalls_per_agent = 10000000",
    );
    assert_rejected_at("many_calls", &s, 20, 19, "source[0].job.calls_per_agent");
    let s = with_line(
        15,
        r#"arrival = { process = "burst", count = 2 }"#,
        r#"arrival = { process = "burst", count = 1000000000000 }"#,
    );
    assert_rejected_at("huge_burst", &s, 15, 40, "source[0].arrival.count");
    let s = with_line(14, r#"name = "s""#, "name = \"s\"\nspread_over = 200000");
    assert_rejected_at("huge_spread", &s, 15, 15, "source[0].spread_over");
    let s = with_line(3, "seed = 3", "seed = 3\nreplications = 4294967295");
    assert_rejected_at("huge_replications", &s, 4, 16, "scenario.replications");
    // Found by the fuzz harness: a 100 KB tenant name spread over 100,000 tenants allocated
    // ~10 GB of names (the process was killed by the kernel).
    let long = "x".repeat(100_000);
    let s = with_line(
        14,
        r#"name = "s""#,
        &format!("name = \"s\"\ntenant = \"{long}\"\nspread_over = 100000"),
    );
    assert_rejected_on_line("long_tenant_name", &s, 14, "source[0].tenant");
}

/// A scenario whose source runs the template `fan`, a fan-out of `one` (a call).
const TEMPLATED: &str = r#"[scenario]
name = "small"

[provider]
ttft = "1s"

[[source]]
name = "s"
arrival = { process = "burst", count = 2 }
template = "fan"

[templates.fan]
kind = "fanout"
child = "one"
width = 3

[templates.one]
kind = "agent"
calls = 2
prompt_tokens = 100
max_tokens = 10
output_tokens = 5

[[policy]]
name = "a"
"#;

#[test]
fn template_counts_outside_their_range_are_errors_at_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "templated", TEMPLATED);
    let out = stampede().arg("validate").arg(&path).output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let s = TEMPLATED.replace("width = 3", "width = 1e308");
    assert_rejected_at("huge_width", &s, 15, 9, "templates.fan.width");
    let s = TEMPLATED.replace(
        "width = 3",
        r#"width = { dist = "exponential", mean = 1e6 }"#,
    );
    assert_rejected_at("huge_mean_width", &s, 15, 9, "templates.fan.width");
    let s = TEMPLATED.replace(
        "kind = \"fanout\"\nchild = \"one\"\nwidth = 3",
        "kind = \"spawn\"\nchild = \"one\"\nprobability = 1.0\nmax_depth = 1\nwidth = 20000",
    );
    assert_rejected_at("huge_spawn_width", &s, 17, 9, "templates.fan.width");
    let s = TEMPLATED.replace("calls = 2", "calls = 1e10");
    assert_rejected_at("huge_calls", &s, 19, 9, "templates.one.calls");
}

/// Bug (issue 11, class 3): float values the model could not run with. A capacity factor of
/// 1e-17 panicked in the limiter; a diurnal peak rate whose gaps round to 0 ns thinned forever;
/// a 1 ns time series interval allocated until the process aborted.
#[test]
fn float_edge_cases_are_errors_at_their_values() {
    let s = with_line(
        6,
        r#"ttft = "1s""#,
        "ttft = \"1s\"\n[[provider.capacity]]\nat = \"1s\"\nlimits = 1e-17",
    );
    assert_rejected_on_line("tiny_capacity", &s, 9, "provider.capacity[0].limits");
    let s = with_line(
        15,
        r#"arrival = { process = "burst", count = 2 }"#,
        r#"arrival = { process = "diurnal", rate = 1e12, amplitude = 1.0, until = "1s" }"#,
    );
    assert_rejected_at("huge_diurnal", &s, 15, 41, "source[0].arrival.rate");
    let s = with_line(3, "seed = 3", "seed = 3\ntimeseries_interval = \"1ns\"");
    assert_rejected_at("tiny_interval", &s, 4, 23, "scenario.timeseries_interval");
}

/// Bug (issue 11, class 3): `--replications 4294967295` allocated ~68 GB before running.
#[test]
fn replications_past_the_cap_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "base", BASE);
    for (command, axis) in [
        ("run", &[][..]),
        ("sweep", &["--set", "source.0.job.agents=1,2"]),
    ] {
        let out = stampede()
            .arg(command)
            .arg(&path)
            .args(["--replications", "4294967295"])
            .args(axis)
            .args(["--out", dir.path().join("out").to_str().unwrap()])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(code(&out), Some(2), "{command}: {err}");
        assert!(
            err.contains("--replications") && err.contains("10000"),
            "{command}: {err}"
        );
    }
}

#[test]
fn errors_inside_an_inline_retry_table_point_at_the_bad_value() {
    let s = with_line(
        23,
        r#"name = "a""#,
        "name = \"a\"\nretry = { max_attempts = 0 }",
    );
    assert_rejected_at("zero_attempts", &s, 24, 26, "policy[0].retry.max_attempts");
}

/// `BASE` with `line` added to its policy (as line 24).
fn with_policy_line(line: &str) -> String {
    with_line(23, r#"name = "a""#, &format!("name = \"a\"\n{line}"))
}

/// Bug (issue 11, class 3): windows counted in one-second buckets allocated one bucket per second
/// of a user's window (10^6 hours: gigabytes) before anything ran; they are capped at 24h.
#[test]
fn counting_windows_past_a_day_are_errors_at_the_window() {
    let s = with_policy_line(r#"throttle = { kind = "sre", window = "1000000h" }"#);
    assert_rejected_on_line("huge_throttle_window", &s, 24, "policy[0].throttle.window");
    let s = with_policy_line(r#"breaker = { failure_ratio = 0.5, window = "1000000h" }"#);
    assert_rejected_on_line("huge_breaker_window", &s, 24, "policy[0].breaker.window");
    assert!(validate_stderr(&s).contains("at most 24h"));
}

// The values below are refused by the model's spec constructors, not by the scenario layer: the
// error must still point at the value and say what was expected against what was found.

#[test]
fn a_breaker_value_the_model_refuses_is_an_error_at_the_value() {
    // Column 29: the `1.5`.
    let s = with_policy_line(r#"breaker = { failure_ratio = 1.5, open = "5s" }"#);
    assert_rejected_at(
        "breaker_ratio",
        &s,
        24,
        29,
        "policy[0].breaker.failure_ratio",
    );
    let err = validate_stderr(&s);
    assert!(
        err.ends_with("expected a ratio in (0, 1], found 1.5\n"),
        "{err}"
    );
    // Column 58: the `0` of `half_open_probes`.
    let s = with_policy_line("breaker = { consecutive_failures = 3, half_open_probes = 0 }");
    assert_rejected_at(
        "breaker_probes",
        &s,
        24,
        58,
        "policy[0].breaker.half_open_probes",
    );
    assert!(validate_stderr(&s).ends_with("expected at least 1, found 0\n"));
    // Nothing to trip on: the breaker table itself (column 11), the breaker as the field.
    let s = with_policy_line(r#"breaker = { open = "5s" }"#);
    assert_rejected_at("breaker_no_trip", &s, 24, 11, "policy[0].breaker");
    let err = validate_stderr(&s);
    assert!(err.ends_with("to trip on, found neither\n"), "{err}");
}

#[test]
fn a_concurrency_value_the_model_refuses_is_an_error_at_the_value() {
    // Column 42: the `0`.
    let s = with_policy_line(r#"concurrency = { kind = "static", limit = 0 }"#);
    assert_rejected_at("static_zero", &s, 24, 42, "policy[0].concurrency.limit");
    assert!(validate_stderr(&s).ends_with("expected at least 1, found 0\n"));
    // Column 42: the `30`, below the minimum of 40.
    let s = with_policy_line(r#"concurrency = { kind = "aimd", initial = 30, min = 40 }"#);
    assert_rejected_at("aimd_initial", &s, 24, 42, "policy[0].concurrency.initial");
    let err = validate_stderr(&s);
    assert!(
        err.ends_with("expected between min (40) and max (200), found 30\n"),
        "{err}"
    );
    // Column 49: the `0`.
    let s = with_policy_line(r#"concurrency = { kind = "gradient2", smoothing = 0 }"#);
    assert_rejected_at(
        "gradient2_smoothing",
        &s,
        24,
        49,
        "policy[0].concurrency.smoothing",
    );
    let err = validate_stderr(&s);
    assert!(
        err.ends_with("expected a number in (0, 1], found 0\n"),
        "{err}"
    );
}

#[test]
fn a_zero_length_limit_window_is_an_error_at_the_window() {
    let s = with_line(10, "rate = 1000", "kind = \"fixed_window\"\nlimit = 100")
        .replace("burst = 5000", "window = \"0s\"");
    assert_rejected_at("zero_window", &s, 12, 10, "provider.limit[0].window");
    let err = validate_stderr(&s);
    assert!(
        err.ends_with("expected a window longer than zero, found 0s\n"),
        "{err}"
    );
}

fn validate_stderr(contents: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "s", contents);
    let out = stampede().arg("validate").arg(&path).output().unwrap();
    assert_eq!(code(&out), Some(2));
    text(&out.stderr).replace(&path.display().to_string(), "FILE")
}

// ---- Scenario errors that currently break the FILE:LINE:COL + field contract (bugs in src). ----

/// Bug: `arrival` is a `Spanned<RawArrival>` around an internally tagged enum, so serde buffers
/// the table and the error keeps only the arrival's own span (the `[source.arrival]` header) and a
/// path through toml's private `$__serde_spanned_private_value` instead of `rate`.
#[test]
fn an_error_inside_a_poisson_arrival_table_points_at_the_bad_value_and_names_it() {
    let s = BASE.replace(
        r#"arrival = { process = "burst", count = 2 }"#,
        "\n[source.arrival]\nprocess = \"poisson\"\nrate = -2\ncount = 5",
    );
    // Lines: 15 blank, 16 [source.arrival], 17 process, 18 rate = -2.
    assert_rejected_on_line("arrival_rate", &s, 18, "source[0].arrival.rate");
}

/// Bug: the same private serde name leaks into field paths under `policy[i].retry` (also a
/// `Spanned`), e.g. `policy[0].retry.$__serde_spanned_private_value.wiat`.
#[test]
fn field_paths_never_show_serde_internal_names() {
    let s = with_line(
        23,
        r#"name = "a""#,
        "name = \"a\"\nretry = { max_attempts = 3, wiat = \"1s\" }",
    );
    let err = validate_stderr(&s);
    assert!(!err.contains("$__serde"), "{err}");
    assert!(err.contains("field `policy[0].retry.wiat`"), "{err}");
}

/// Bug: `source[i].job.calls_per_agent = 0` is reported at the source's `arrival` span
/// (src/scenario/raw.rs uses `Some(span)` of the arrival), i.e. on the wrong line.
#[test]
fn zero_calls_per_agent_is_reported_on_its_own_line() {
    let s = with_line(
        19,
        "max_tokens = 10",
        "max_tokens = 10\ncalls_per_agent = 0",
    );
    assert_rejected_on_line("zero_calls", &s, 20, "source[0].job.calls_per_agent");
}

/// Bug: a zero mean decode rate is reported with no position at all (`invalid(None, ...)` in
/// src/scenario/raw.rs), so stderr reads `FILE: field ...` without `LINE:COL`.
#[test]
fn zero_decode_rate_is_reported_with_its_line_and_column() {
    let s = with_line(6, r#"ttft = "1s""#, "ttft = \"1s\"\ndecode_rate = 0");
    assert_rejected_on_line("zero_decode", &s, 7, "provider.decode_rate");
}

/// Bug: `jitter` set together with `kind = "random_exponential"` is reported at the start of the
/// whole `retry` table (its span), not at the `jitter` line.
#[test]
fn conflicting_jitter_is_reported_on_the_jitter_line() {
    let s = with_line(
        23,
        r#"name = "a""#,
        "name = \"a\"\n\n[policy.retry]\nmax_attempts = 3\nwait = { kind = \"random_exponential\", multiplier = \"1s\" }\njitter = \"full\"",
    );
    // Lines: 24 blank, 25 [policy.retry], 26 max_attempts, 27 wait, 28 jitter.
    assert_rejected_on_line("jitter_conflict", &s, 28, "policy[0].retry.jitter");
}

// ---- Guards. ----

const RUNAWAY: &str = r#"[scenario]
name = "runaway"
seed = 5

[guards]
max_events = 100

[provider]
ttft = "1s"

[[source]]
name = "s"
arrival = { process = "burst", count = 500 }

[source.job]
prompt_tokens = 100
max_tokens = 10
output_tokens = 5

[[policy]]
name = "a"
"#;

#[test]
fn a_tripped_guard_exits_3_naming_the_guard_with_a_command_that_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "runaway", RUNAWAY);
    let out_dir = dir.path().join("out");
    let out = stampede()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(3), "{err}");
    assert!(err.contains("max_events = 100"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out_dir.exists(), "no results written for a tripped run");

    let marker = "reproduce with: ";
    let command = err[err.find(marker).expect("a reproduce command") + marker.len()..]
        .lines()
        .next()
        .unwrap()
        .trim();
    let expected = format!("stampede run {} --seed 5", path.display());
    assert_eq!(command, expected);
    // And it does reproduce: the same guard trips again.
    let again = stampede()
        .args(command.split(' ').skip(1))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(code(&again), Some(3));
    assert!(text(&again.stderr).contains("max_events = 100"));
}

#[test]
fn the_runaway_scenario_passes_validation_and_only_its_guard_stops_it() {
    // validate does not simulate; and with a larger guard the same workload completes.
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "runaway", RUNAWAY);
    let out = stampede().arg("validate").arg(&path).output().unwrap();
    assert_eq!(code(&out), Some(0));
    let roomy = write_temp(
        dir.path(),
        "roomy",
        &RUNAWAY.replace("max_events = 100", "max_events = 100_000"),
    );
    let doc = run_json(&roomy, &[]);
    assert_eq!(metric(&doc, "a", "jobs_ok"), 500.0);
}

/// `stampede ARGS...`, its output.
fn stampede_out(args: &[&std::ffi::OsStr]) -> Output {
    stampede().args(args).output().expect("the binary runs")
}

/// Issue 11, class 7: a run into a directory another run had written kept the first run's
/// `timeseries.csv` (and its chart), and `report` drew them under the second run's name.
#[test]
fn a_second_run_into_the_same_directory_leaves_none_of_the_first_runs_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&scenario("provider_brownout.toml"), &[], &out);
    assert!(out.join("timeseries.csv").is_file());
    assert!(out.join("charts/timeseries.svg").is_file());
    run_ok(&scenario("mm1.toml"), &[], &out);
    assert!(!out.join("timeseries.csv").exists(), "stale timeseries.csv");
    assert!(!out.join("charts/timeseries.svg").exists(), "stale chart");
    let r = stampede_out(&["report".as_ref(), out.as_os_str()]);
    assert_eq!(code(&r), Some(0), "{}", text(&r.stderr));
}

/// Issue 11, class 7: `plot` and `report` accepted a directory holding files of two runs.
#[test]
fn plot_and_report_refuse_a_directory_mixing_two_runs_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_ok(&scenario("mm1.toml"), &["--no-charts"], &a);
    run_ok(&scenario("provider_brownout.toml"), &["--no-charts"], &b);
    std::fs::copy(b.join("timeseries.csv"), a.join("timeseries.csv")).unwrap();
    for command in ["plot", "report"] {
        let o = stampede_out(&[command.as_ref(), a.as_os_str()]);
        let err = text(&o.stderr);
        assert_eq!(code(&o), Some(2), "{command}: {err}");
        assert!(
            err.contains("timeseries.csv is not one of the files"),
            "{err}"
        );
    }
    std::fs::remove_file(a.join("timeseries.csv")).unwrap();
    std::fs::copy(b.join("latency.csv"), a.join("latency.csv")).unwrap();
    let o = stampede_out(&["plot".as_ref(), a.as_os_str()]);
    let err = text(&o.stderr);
    assert_eq!(code(&o), Some(2), "{err}");
    assert!(err.contains("latency.csv is not the file"), "{err}");
}

/// Issue 11, class 7: a run killed while writing left files of two runs side by side, which
/// `report` accepted, and temporary files that were never removed. Without its manifest (the
/// last file a run moves in) a directory is refused; the next run removes the leftovers.
#[test]
fn a_run_stopped_midway_is_refused_and_the_next_run_removes_its_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&scenario("mm1.toml"), &[], &out);
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    let o = stampede_out(&["report".as_ref(), out.as_os_str()]);
    let err = text(&o.stderr);
    assert_eq!(code(&o), Some(2), "{err}");
    assert!(err.contains("no manifest.json"), "{err}");
    std::fs::write(out.join(".stampede-tmpAbC123"), "half a file").unwrap();
    std::fs::create_dir(out.join(".stampede-tmpXyZ789")).unwrap();
    std::fs::write(out.join(".stampede-tmpXyZ789/summary.csv"), "x").unwrap();
    std::fs::write(out.join("charts/.stampede-tmpQq"), "half a chart").unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    run_ok(&scenario("mm1.toml"), &[], &out);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "charts",
            "latency.csv",
            "manifest.json",
            "notes.txt",
            "runs.csv",
            "scenario.toml",
            "summary.csv",
            "summary.json"
        ]
    );
    assert!(!out.join("charts/.stampede-tmpQq").exists());
    let o = stampede_out(&["plot".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), Some(0), "{}", text(&o.stderr));
}

/// Issue 11, class 9: an output path that cannot be a directory gave exit 1 (which says a check
/// failed) and "File exists"; it is exit 2 naming the file in the way.
#[test]
fn an_unwritable_output_path_exits_2_with_the_real_cause() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a_file");
    std::fs::write(&file, "").unwrap();
    for out in [file.clone(), file.join("below")] {
        let o = stampede()
            .arg("run")
            .arg(scenario("mm1.toml"))
            .arg("--no-charts")
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(code(&o), Some(2), "{err}");
        assert!(
            err.contains(&format!("{} exists and is not a directory", file.display())),
            "{err}"
        );
        assert!(!err.contains("File exists"), "{err}");
    }
}

/// Issue 11, class 9: a file that is not UTF-8 lost its position.
#[test]
fn a_scenario_that_is_not_utf8_is_refused_at_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"[scenario]\nname = \"caf\xe9\"\n").unwrap();
    let o = stampede().arg("validate").arg(&path).output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(code(&o), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:2:12: the file is not UTF-8", path.display())),
        "{err}"
    );
}

/// Issue 11, class 9: a `[[provider.limit]]` without `kind` missing the default kind's fields
/// was reported with no position.
#[test]
fn a_limit_without_kind_missing_its_fields_is_reported_at_the_limit() {
    let e = validate_stderr(
        r#"[scenario]
name = "t"
[provider]
ttft = "1s"
[[provider.limit]]
resource = "tokens"
[[source]]
name = "s"
arrival = { process = "burst" }
[source.job]
prompt_tokens = 10
max_tokens = 10
output_tokens = 5
[[policy]]
name = "p"
"#,
    );
    assert!(e.contains(":6:12: field `provider.limit[0]`"), "{e}");
    assert!(e.contains("\"token_bucket\" needs `rate`"), "{e}");
}

/// Issue 11, class 9: reading `/dev/zero` (or any huge file) as a scenario read gigabytes before
/// failing; the read stops past 16 MiB.
#[test]
fn a_scenario_file_over_16_mib_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; 16 * 1024 * 1024 + 1]).unwrap();
    let mut paths = vec![big];
    if Path::new("/dev/zero").exists() {
        paths.push(PathBuf::from("/dev/zero"));
    }
    for path in paths {
        for command in ["validate", "sweep"] {
            let start = std::time::Instant::now();
            let o = stampede().arg(command).arg(&path).output().unwrap();
            let err = text(&o.stderr);
            assert_eq!(code(&o), Some(2), "{command} {}: {err}", path.display());
            assert!(err.contains("larger than 16 MiB"), "{err}");
            assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
        }
    }
}

/// Issue 11, class 3: a trace is read row by row with each row at most 64 KiB, so a file
/// without line breaks (here /dev/zero) fails at once, at the trace's `file` field.
#[test]
fn a_trace_that_is_not_a_csv_file_is_refused_without_reading_it_all() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(
        dir.path(),
        "t.toml",
        "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n[[source]]\nname = \"s\"\narrival = { process = \"trace\", file = \"/dev/zero\" }\n[source.job]\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 5\n[[policy]]\nname = \"p\"\n",
    );
    let o = stampede().arg("validate").arg(&file).output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(code(&o), Some(2), "{err}");
    assert!(
        err.contains(":7:39: field `source[0].arrival.file`"),
        "{err}"
    );
    assert!(err.contains("a row longer than 64 KiB"), "{err}");
}

/// Issue 11, class 9: an empty `[[source]]` or `[[policy]]` table is reported at its header
/// with the field it lacks (this held already; the test keeps it so).
#[test]
fn an_empty_source_or_policy_table_is_reported_at_its_header() {
    let base = r#"[scenario]
name = "t"
[provider]
ttft = "1s"
[[source]]
name = "s"
arrival = { process = "burst" }
[source.job]
prompt_tokens = 10
max_tokens = 10
output_tokens = 5
[[policy]]
name = "p"
"#;
    for (table, field) in [("source", "source[1]"), ("policy", "policy[1]")] {
        let e = validate_stderr(&format!("{base}[[{table}]]\n"));
        assert!(
            e.contains(&format!("FILE:14:1: field `{field}`: missing field `name`")),
            "{e}"
        );
    }
}

/// The table `stampede run` prints, as rows of cells (the header first): the lines between
/// the table's borders, split at its column separators.
fn table_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| {
            l.trim_matches('│')
                .split('┆')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// A cell's unit: `$` for dollars, the word after the number(s) (`s`, `min`, `h`), or `""` for a
/// plain number.
fn cell_unit(cell: &str) -> &str {
    if cell.starts_with('$') {
        return "$";
    }
    match cell.rsplit_once(' ') {
        Some((_, last)) if last.chars().all(|c| c.is_ascii_alphabetic()) => last,
        _ => "",
    }
}

/// A cell split into its mean and interval as written, without unit, `$` or thousands commas.
fn cell_numbers(cell: &str) -> (String, Option<String>) {
    let unit = cell_unit(cell);
    let bare = if unit == "$" || unit.is_empty() {
        cell
    } else {
        cell.strip_suffix(unit).unwrap().trim_end()
    };
    let clean = |s: &str| s.replace([',', '$'], "");
    match bare.split_once(" ± ") {
        Some((m, c)) => (clean(m), Some(clean(c))),
        None => (clean(bare), None),
    }
}

/// Runs `stampede run FILE ARGS... --format table`; returns stdout and the directory written.
fn run_table(file: &Path, args: &[&str]) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["--no-charts"];
    all.extend_from_slice(args);
    let out = run_ok(file, &all, dir.path());
    (text(&out.stdout), dir)
}

fn assert_one_unit_per_row(rows: &[Vec<String>], stdout: &str) {
    for row in &rows[1..] {
        let units: Vec<&str> = row[1..].iter().map(|c| cell_unit(c)).collect();
        assert!(
            units.iter().all(|u| *u == units[0]),
            "row {:?} mixes units {units:?}:\n{stdout}",
            row[0]
        );
    }
}

#[test]
fn a_replicated_run_shows_each_mean_with_its_95_percent_interval_from_summary_json() {
    let (stdout, dir) = run_table(&cascade(), &["--replications", "3"]);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let rows = table_rows(&stdout);
    assert!(rows[0][0].contains("95% CI"), "{stdout}");
    let keys = [
        ("makespan", "makespan_s"),
        ("job latency p99", "job_latency_p99_s"),
        ("call latency p50", "call_latency_p50_s"),
        ("attempts", "attempts"),
        ("retries", "retries"),
        ("attempts per call", "attempts_per_call"),
        ("tokens billed", "tokens_billed"),
        ("cost", "cost_usd"),
    ];
    for (label, key) in keys {
        let row = rows
            .iter()
            .find(|r| r[0] == label)
            .unwrap_or_else(|| panic!("no row {label}:\n{stdout}"));
        let scale = match cell_unit(&row[1]) {
            "min" => 60.0,
            "h" => 3600.0,
            _ => 1.0,
        };
        for (i, name) in rows[0][1..].iter().enumerate() {
            let cell = &row[i + 1];
            let (mean, ci) = cell_numbers(cell);
            let ci = ci.unwrap_or_else(|| panic!("{label}, {name}: no ± in {cell:?}"));
            let decimals = mean.split_once('.').map_or(0, |(_, d)| d.len());
            // A failed policy's header says so after its name.
            let p = policy(&summary, name.trim_end_matches(" ✗ FAILED"));
            let want_mean = p["metrics"][key].as_f64().unwrap() / scale;
            let want_ci = p["ci95"][key].as_f64().unwrap() / scale;
            assert_eq!(mean, format!("{want_mean:.decimals$}"), "{label}, {name}");
            assert_eq!(ci, format!("{want_ci:.decimals$}"), "{label}, {name}");
        }
    }
    assert_one_unit_per_row(&rows, &stdout);
}

#[test]
fn a_single_run_shows_values_without_intervals_one_unit_per_row() {
    let (stdout, _dir) = run_table(&cascade(), &["--replications", "1"]);
    assert!(!stdout.contains('±'), "{stdout}");
    let rows = table_rows(&stdout);
    assert_eq!(rows[0][0], "metric");
    assert!(rows.len() > 10, "{stdout}");
    assert_one_unit_per_row(&rows, &stdout);
    // The cascade's makespans straddle 10 minutes under some seeds: whatever they are, one unit.
    let makespan = rows.iter().find(|r| r[0] == "makespan").unwrap();
    assert!(
        makespan[1..]
            .iter()
            .all(|c| c.ends_with(" s") || c.ends_with(" min"))
    );
}

#[test]
fn the_mm1_makespan_of_a_day_and_more_is_in_hours_and_its_latencies_in_seconds() {
    let (stdout, _dir) = run_table(&scenario("mm1.toml"), &["--replications", "2"]);
    let rows = table_rows(&stdout);
    assert_one_unit_per_row(&rows, &stdout);
    let unit = |label: &str| {
        let row = rows.iter().find(|r| r[0] == label).unwrap();
        cell_unit(&row[1]).to_string()
    };
    assert_eq!(unit("makespan"), "h", "{stdout}");
    assert_eq!(unit("job latency p50"), "s", "{stdout}");
    assert_eq!(unit("cost"), "$", "{stdout}");
}

#[test]
fn a_policy_named_twice_is_run_and_shown_once() {
    let (stdout, dir) = run_table(
        &cascade(),
        &[
            "--policy", "fixed", "--policy", "naive", "--policy", "fixed",
        ],
    );
    let rows = table_rows(&stdout);
    assert_eq!(rows[0][1..], ["fixed", "naive ✗ FAILED"], "{stdout}");
    assert!(
        stdout.contains(
            "✗ naive failed 1 of 1 jobs: its cost and latency measure a run that stopped early."
        ),
        "{stdout}"
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let names: Vec<&str> = summary["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fixed", "naive"]);
}

#[test]
fn run_help_names_every_file_run_writes() {
    let out = stampede().args(["run", "--help"]).output().unwrap();
    assert_eq!(code(&out), Some(0));
    let help = text(&out.stdout);
    for file in stampede::io::RUN_FILES
        .iter()
        .chain(&[stampede::io::MANIFEST, "charts/"])
    {
        assert!(
            help.contains(file),
            "run --help does not name {file}:\n{help}"
        );
    }
    let out = stampede().args(["sweep", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    for file in [
        stampede::sweep::SWEEP_CSV,
        stampede::sweep::SUMMARY_CSV,
        stampede::sweep::POINTS_DIR,
        "charts/",
        "--policy",
        "output/<scenario name>-sweep",
    ] {
        assert!(
            help.contains(file),
            "sweep --help does not name {file}:\n{help}"
        );
    }
}

#[test]
fn a_client_bucket_of_an_unknown_resource_is_an_error_at_the_value() {
    let s = with_policy_line(r#"bucket = { resource = "input_token", rate = 10, burst = 500 }"#);
    assert_rejected_at("bucket_resource", &s, 24, 23, "policy[0].bucket.resource");
    let e = validate_stderr(&s);
    assert!(
        e.contains("input_token") && e.contains("input_tokens"),
        "{e}"
    );
}

#[test]
fn a_client_bucket_no_call_could_fit_is_an_error_at_the_bucket() {
    // Every call has 100 prompt tokens: an input_tokens bucket of burst 50 could never hold one.
    let s = with_policy_line(r#"bucket = { resource = "input_tokens", rate = 10, burst = 50 }"#);
    assert_rejected_at("bucket_too_small", &s, 24, 10, "policy[0].buckets");
    let e = validate_stderr(&s);
    assert!(
        e.contains("at least 100 input token(s)") && e.contains("burst of 50"),
        "{e}"
    );
    // In a list, the error points at the entry: a requests bucket below one request.
    let s = with_policy_line(
        r#"buckets = [{ resource = "requests", rate = 1, burst = 5 }, { resource = "requests", scope = "job", rate = 1, burst = 0.5 }]"#,
    );
    assert_rejected_at("requests_below_one", &s, 24, 60, "policy[0].buckets");
    // max_tokens 10 > burst 5 for an output_tokens bucket.
    let s = with_policy_line(r#"bucket = { resource = "output_tokens", rate = 10, burst = 5 }"#);
    assert_rejected_at("output_too_small", &s, 24, 10, "policy[0].buckets");
    // A tokens bucket smaller than a call stays valid, as it always was: the call passes from a
    // full bucket and leaves it in debt.
    for line in [
        "bucket = { rate = 10, burst = 50 }",
        r#"bucket = { resource = "tokens", rate = 10, burst = 50 }"#,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(dir.path(), "debt", &with_policy_line(line));
        let out = stampede().arg("validate").arg(&path).output().unwrap();
        assert_eq!(code(&out), Some(0), "{line}: {}", text(&out.stderr));
    }
}

#[test]
fn two_client_buckets_of_one_scope_and_resource_are_an_error_at_the_second() {
    let s = with_policy_line(
        r#"buckets = [{ resource = "requests", rate = 1, burst = 5 }, { resource = "requests", rate = 2, burst = 5 }]"#,
    );
    assert_rejected_at("same_resource", &s, 24, 60, "policy[0].buckets");
    // One per resource in one scope is fine, and the default resource is `tokens`.
    let s = with_policy_line(
        r#"buckets = [{ resource = "requests", rate = 1, burst = 5 }, { resource = "input_tokens", rate = 100, burst = 500 }, { rate = 200, burst = 1000 }]"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "three", &s);
    let out = stampede().arg("validate").arg(&path).output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let s = with_policy_line(
        r#"buckets = [{ resource = "tokens", rate = 1, burst = 5000 }, { rate = 2, burst = 5000 }]"#,
    );
    assert_rejected_at("tokens_twice", &s, 24, 61, "policy[0].buckets");
}

/// Two providers `a` and `b`, one source, and a policy `p` whose last line (22) is `policy_line`.
fn two_providers(policy_line: &str) -> String {
    format!(
        "[scenario]\nname = \"r\"\n\n[[provider]]\nname = \"a\"\nttft = \"1s\"\n\n[[provider]]\n\
         name = \"b\"\nttft = \"1s\"\n\n[[source]]\nname = \"s\"\n\
         arrival = {{ process = \"burst\", count = 1 }}\n[source.job]\nprompt_tokens = 10\n\
         max_tokens = 10\noutput_tokens = 1\n\n[[policy]]\nname = \"p\"\n{policy_line}\n"
    )
}

#[test]
fn the_base_of_the_routing_cases_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        dir.path(),
        "routed",
        &two_providers(r#"route = { targets = ["a"], fallbacks = ["b"] }"#),
    );
    let out = stampede().arg("validate").arg(&path).output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_route_naming_an_unknown_provider_is_an_error_at_the_name_listing_the_providers() {
    let s = two_providers(r#"route = { targets = ["a"], fallbacks = ["c"] }"#);
    assert_rejected_at("unknown_provider", &s, 22, 41, "policy[0].route.fallbacks");
    let err = validate_stderr(&s);
    assert!(err.contains("(a, b)") && err.contains("\"c\""), "{err}");
    let s = two_providers(r#"route = { targets = ["x"] }"#);
    assert_rejected_at("unknown_target", &s, 22, 22, "policy[0].route.targets");
}

#[test]
fn a_provider_named_twice_is_an_error_at_the_second_name() {
    let s = two_providers(r#"route = { targets = ["a"] }"#).replace("name = \"b\"", "name = \"a\"");
    assert_rejected_at("provider_twice", &s, 9, 8, "provider[1].name");
    assert!(validate_stderr(&s).contains("\"a\" again"));
}

#[test]
fn a_provider_entry_without_a_name_among_several_is_an_error_at_the_entry() {
    let s = two_providers("").replace("name = \"b\"\n", "");
    assert_rejected_at("provider_unnamed", &s, 8, 1, "provider[1].name");
}

#[test]
fn an_unknown_strategy_is_an_error_listing_the_strategies() {
    let s = two_providers(r#"route = { targets = ["a", "b"], strategy = "fastest" }"#);
    assert_rejected_at("strategy", &s, 22, 44, "policy[0].route.strategy");
    let err = validate_stderr(&s);
    assert!(
        err.contains("simple-shuffle, round-robin, least-busy, latency-based, usage-based"),
        "{err}"
    );
}

#[test]
fn allowed_fails_without_a_cooldown_is_an_error_at_allowed_fails() {
    let s = two_providers(r#"route = { targets = ["a"], allowed_fails = 2 }"#);
    assert_rejected_at("allowed_fails", &s, 22, 44, "policy[0].route.allowed_fails");
}

#[test]
fn weights_not_one_per_target_are_an_error_at_the_weights() {
    let s = two_providers(r#"route = { targets = ["a", "b"], weights = [1, 2, 3] }"#);
    assert_rejected_at("weights", &s, 22, 43, "policy[0].route.weights");
    assert!(validate_stderr(&s).contains("one weight per target (2), found 3 weights"));
}

#[test]
fn other_bad_routes_are_errors_at_their_field() {
    for (name, route, col, field) in [
        (
            "twice_in_route",
            r#"route = { targets = ["a", "b"], fallbacks = ["a"] }"#,
            46,
            "fallbacks",
        ),
        (
            "fallback_after_0",
            r#"route = { targets = ["a"], fallback_after = 0 }"#,
            45,
            "fallback_after",
        ),
        (
            "cooldown_0",
            r#"route = { targets = ["a"], cooldown = "0s" }"#,
            39,
            "cooldown",
        ),
        ("no_targets", r#"route = { targets = [] }"#, 9, "targets"),
        (
            "negative_weight",
            r#"route = { targets = ["a", "b"], weights = [1, -1] }"#,
            43,
            "weights",
        ),
    ] {
        let s = two_providers(route);
        assert_rejected_at(name, &s, 22, col, &format!("policy[0].route.{field}"));
    }
}

#[test]
fn a_provider_expectation_in_a_single_provider_scenario_is_an_error_at_the_metric() {
    let s = "[scenario]\nname = \"r\"\n\n[provider]\nttft = \"1s\"\n\n[[source]]\nname = \"s\"\n\
             arrival = { process = \"burst\", count = 1 }\n[source.job]\nprompt_tokens = 10\n\
             max_tokens = 10\noutput_tokens = 1\n\n[[policy]]\nname = \"p\"\n\n[[expect]]\n\
             policy = \"p\"\nmetric = \"provider.r.attempts\"\nop = \"<=\"\nvalue = 5\n";
    assert_rejected_at("provider_metric_single", s, 20, 10, "expect[0].metric");
    assert!(validate_stderr(s).contains("several [[provider]] entries"));
    // With several, an unknown provider or metric is named with what exists.
    let s = format!(
        "{}\n[[expect]]\npolicy = \"p\"\nmetric = \"provider.c.attempts\"\nop = \"<=\"\nvalue = 5\n",
        two_providers("")
    );
    assert_rejected_at("provider_metric_unknown", &s, 26, 10, "expect[0].metric");
    assert!(validate_stderr(&s).contains("(a, b)"));
}
