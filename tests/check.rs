//! `stampede check` as a CI job meets it: expectations in scenario files, a pass/fail table, exit
//! codes (0 all hold, 1 one fails, 2 bad input, 3 a guard), JUnit XML, JSON, and named baselines.
//! Every command runs in a temporary directory, so that its `output/` and `baselines/` go there.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `stampede check ARGS...` run in `dir`.
fn check(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
        .current_dir(dir)
        .arg("check")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// The shipped cascade with fixed's client bucket refilling at `rate` tokens/s instead of 60k.
fn cascade_with_fixed_bucket_rate(dir: &Path, rate: &str) -> PathBuf {
    let text = std::fs::read_to_string(scenario("cascade_12_agents.toml")).unwrap();
    let at = text
        .find("name = \"fixed\"")
        .expect("the cascade has a fixed policy");
    let (head, tail) = text.split_at(at);
    let original = "bucket = { rate = 60_000, burst = 200_000 }";
    assert!(
        tail.contains(original),
        "fixed's bucket as the test expects it"
    );
    let broken = tail.replacen(
        original,
        &format!("bucket = {{ rate = {rate}, burst = 200_000 }}"),
        1,
    );
    let path = dir.join("cascade_copy.toml");
    std::fs::write(&path, format!("{head}{broken}")).unwrap();
    path
}

/// The row of the table whose expectation column is `expectation`.
fn row<'a>(table: &'a str, expectation: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.contains(&format!(" {expectation} ")))
        .unwrap_or_else(|| panic!("no row for `{expectation}` in:\n{table}"))
}

#[test]
fn a_fixed_bucket_above_the_providers_limit_fails_the_check_with_a_table_and_a_junit_failure() {
    let dir = tempfile::tempdir().unwrap();
    // 80k tokens/s is above the provider's 66.7k: fixed's calls meet 429s again.
    let file = cascade_with_fixed_bucket_rate(dir.path(), "80_000");
    let junit = dir.path().join("reports/junit.xml");
    let out = check(dir.path(), &[path_str(&file), "--junit", path_str(&junit)]);
    let table = text(&out.stdout);
    assert_eq!(
        code(&out),
        Some(1),
        "a failed expectation exits 1:\n{table}{}",
        text(&out.stderr)
    );
    let failed = row(&table, "fixed: rate_limited == 0");
    assert!(failed.contains("FAIL"), "{failed}");
    assert!(
        row(&table, "fixed: makespan_s <= 0.1 x naive").contains("FAIL"),
        "{table}"
    );
    // Expectations about the other policies still hold.
    assert!(
        row(&table, "naive: jobs_failed == 1").contains("PASS"),
        "{table}"
    );
    assert!(table.contains("FAILED:"), "{table}");

    let xml = std::fs::read_to_string(&junit).expect("the JUnit file is written");
    assert!(xml.starts_with("<?xml"), "{xml}");
    let case = xml
        .find("name=\"fixed: rate_limited == 0\"")
        .expect("a test case names the failed expectation");
    let rest = &xml[case..];
    let end = rest
        .find("</testcase>")
        .expect("the failing case has a body");
    assert!(
        rest[..end].contains("<failure message=\"observed "),
        "{}",
        &rest[..end]
    );
    // `<=` is escaped in names, and the passing cases carry no failure.
    assert!(
        xml.contains("name=\"fixed: makespan_s &lt;= 0.1 x naive\""),
        "{xml}"
    );
    assert!(
        !xml.contains("makespan_s <="),
        "unescaped `<` in XML:\n{xml}"
    );
    let passing = xml
        .find("name=\"naive: jobs_failed == 1\"")
        .expect("every expectation is a test case");
    assert!(xml[passing..].starts_with("name=\"naive: jobs_failed == 1\" file="));
    assert!(
        xml[passing..].split('\n').next().unwrap().ends_with("/>"),
        "a passing case is empty"
    );
    assert!(
        xml.contains("<testsuite name=\"cascade_12_agents\" tests=\"8\" failures=\"4\""),
        "{xml}"
    );
}

#[test]
fn the_same_copy_with_fixeds_own_bucket_passes() {
    // The control for the test above: only the bucket rate differs.
    let dir = tempfile::tempdir().unwrap();
    let file = cascade_with_fixed_bucket_rate(dir.path(), "60_000");
    let out = check(dir.path(), &[path_str(&file)]);
    assert_eq!(code(&out), Some(0), "{}", text(&out.stdout));
}

#[test]
fn the_shipped_scenarios_state_their_stories_as_expectations_and_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let args: Vec<&str> = files
        .iter()
        .map(|p| path_str(p))
        .chain(["--format", "json"])
        .collect();
    let out = check(dir.path(), &args);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}):\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    for s in doc["scenarios"].as_array().unwrap() {
        let outcomes = s["expectations"].as_array().unwrap();
        assert!(
            !outcomes.is_empty(),
            "{} states no expectations: every shipped scenario carries [[expect]] entries that \
             state its story (docs/checks.md)",
            s["file"]
        );
        for o in outcomes {
            assert_eq!(o["pass"], true, "{}: {o:#}", s["scenario"]);
            let margin = o["margin"].as_f64().unwrap();
            assert!(margin >= 0.0, "{}: {o:#}", s["scenario"]);
        }
        let results = dir
            .path()
            .join("output")
            .join(s["scenario"].as_str().unwrap());
        assert!(
            results.join("summary.json").is_file(),
            "{}",
            results.display()
        );
    }
    assert_eq!(doc["passed"], true);
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
}

#[test]
fn an_unknown_metric_in_an_expectation_exits_2_at_its_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut text_in = std::fs::read_to_string(scenario("cascade_12_agents.toml")).unwrap();
    let line = text_in.lines().count() + 3;
    text_in.push_str("\n[[expect]]\nmetric = \"makespan\"\nop = \"<=\"\nvalue = 50\n");
    let file = dir.path().join("typo.toml");
    std::fs::write(&file, text_in).unwrap();
    let out = check(dir.path(), &[path_str(&file)]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    let expected = format!("{}:{line}:10: field `expect[", file.display());
    assert!(err.contains(&expected), "wanted `{expected}` in: {err}");
    assert!(err.contains("did you mean \"makespan_s\""), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing is run: {}",
        text(&out.stdout)
    );
}

#[test]
fn an_unknown_policy_in_an_expectation_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut text_in = std::fs::read_to_string(scenario("cascade_12_agents.toml")).unwrap();
    let index = text_in.matches("[[expect]]").count();
    text_in.push_str(
        "\n[[expect]]\npolicy = \"fxed\"\nmetric = \"makespan_s\"\nop = \"<=\"\nvalue = 50\n",
    );
    let file = dir.path().join("typo.toml");
    std::fs::write(&file, text_in).unwrap();
    let out = check(dir.path(), &[path_str(&file)]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    let field = format!("field `expect[{index}].policy`");
    assert!(err.contains(&field), "wanted `{field}` in: {err}");
    assert!(err.contains("found \"fxed\""), "{err}");
}

const TINY: &str = r#"
[scenario]
name = "tiny"
[provider]
ttft = "1s"
[[source]]
name = "s"
arrival = { process = "burst", count = 3 }
[source.job]
prompt_tokens = 10
max_tokens = 10
output_tokens = 5
[[policy]]
name = "p"
"#;

#[test]
fn a_scenario_without_expectations_says_so_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let junit = dir.path().join("junit.xml");
    let out = check(dir.path(), &[path_str(&file), "--junit", path_str(&junit)]);
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no expectations"),
        "{}",
        text(&out.stdout)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<skipped"), "{xml}");
}

#[test]
fn a_tripped_guard_exits_3_with_the_command_that_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(
        &file,
        TINY.replace("[provider]", "[guards]\nmax_events = 2\n[provider]"),
    )
    .unwrap();
    let out = check(dir.path(), &[path_str(&file)]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(3), "{err}");
    assert!(err.contains("reproduce with: stampede run"), "{err}");
}

fn cascade_check(dir: &Path, args: &[&str]) -> Output {
    let file = scenario("cascade_12_agents.toml");
    let mut all = vec![path_str(&file).to_string()];
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    check(dir, &all)
}

#[test]
fn a_baseline_saved_then_compared_with_an_identical_run_passes() {
    let dir = tempfile::tempdir().unwrap();
    let out = cascade_check(dir.path(), &["--save-baseline", "main"]);
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let saved = dir.path().join("baselines/main/cascade_12_agents.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(doc["scenario"], "cascade_12_agents");
    let names: Vec<&str> = doc["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["naive", "jitter_only", "bucket_only", "fixed"]);
    assert!(doc["policies"][3]["mean"]["makespan_s"].as_f64().is_some());
    assert!(doc["policies"][3]["ci95"]["makespan_s"].as_f64().is_some());

    let out = cascade_check(dir.path(), &["--baseline", "main", "--tolerance", "0%"]);
    let table = text(&out.stdout);
    assert_eq!(code(&out), Some(0), "{table}{}", text(&out.stderr));
    assert!(table.contains(" 0 regressed, 0 improved,"), "{table}");
}

#[test]
fn a_baseline_edited_to_be_better_fails_naming_the_regression_and_reports_improvements() {
    let dir = tempfile::tempdir().unwrap();
    let out = cascade_check(dir.path(), &["--save-baseline", "main"]);
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let saved = dir.path().join("baselines/main/cascade_12_agents.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    // The baseline claims fixed finished in half the time, and naive took twice as long.
    let fixed = &mut doc["policies"][3]["mean"]["makespan_s"];
    *fixed = Value::from(fixed.as_f64().unwrap() / 2.0);
    let naive = &mut doc["policies"][0]["mean"]["makespan_s"];
    *naive = Value::from(naive.as_f64().unwrap() * 2.0);
    std::fs::write(&saved, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    let junit = dir.path().join("junit.xml");
    let out = cascade_check(
        dir.path(),
        &[
            "--baseline",
            "main",
            "--tolerance",
            "5%",
            "--junit",
            path_str(&junit),
        ],
    );
    let table = text(&out.stdout);
    assert_eq!(code(&out), Some(1), "{table}{}", text(&out.stderr));
    let regressed = table
        .lines()
        .find(|l| l.contains("REGRESSED"))
        .unwrap_or_else(|| panic!("no regression in:\n{table}"));
    assert!(
        regressed.contains("fixed") && regressed.contains("makespan_s"),
        "{regressed}"
    );
    assert!(regressed.contains("+100.0%"), "{regressed}");
    let improved = table
        .lines()
        .find(|l| l.contains("improved") && l.contains("naive"))
        .unwrap_or_else(|| panic!("no improvement in:\n{table}"));
    assert!(
        improved.contains("makespan_s") && improved.contains("-50.0%"),
        "{improved}"
    );
    // The expectations themselves still hold: only the baseline failed.
    assert!(table.contains("FAILED: 0 of "), "{table}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let case = xml
        .find("name=\"fixed: baseline main\"")
        .expect("a baseline test case");
    let body = &xml[case..xml[case..].find("</testcase>").unwrap() + case];
    assert!(
        body.contains("<failure") && body.contains("makespan_s"),
        "{body}"
    );
}

#[test]
fn a_missing_baseline_and_a_bad_tolerance_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = cascade_check(dir.path(), &["--baseline", "nope"]);
    assert_eq!(code(&out), Some(2));
    assert!(
        text(&out.stderr).contains("no baseline at"),
        "{}",
        text(&out.stderr)
    );
    let out = cascade_check(dir.path(), &["--baseline", "nope", "--tolerance", "5"]);
    assert_eq!(code(&out), Some(2));
    assert!(text(&out.stderr).contains("5%"), "{}", text(&out.stderr));
    let out = cascade_check(dir.path(), &["--save-baseline", "../escape"]);
    assert_eq!(code(&out), Some(2), "{}", text(&out.stderr));
}

#[test]
fn check_json_states_the_rule_and_each_outcome_with_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(
        dir.path(),
        &[path_str(&scenario("mm1.toml")), "--format", "json"],
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["rule"].as_str().unwrap().contains("mean + ci95"));
    let s = &doc["scenarios"][0];
    assert_eq!(s["replications"], 10);
    let o = s["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["metric"] == "provider_wait_mean_s" && o["op"] == "<=")
        .expect("mm1 bounds the mean wait from above");
    let (mean, ci) = (o["mean"].as_f64().unwrap(), o["ci95"].as_f64().unwrap());
    assert!(ci > 0.0, "{o}");
    assert_eq!(
        o["compared"].as_f64().unwrap(),
        mean + ci,
        "the upper end is compared"
    );
    assert_eq!(o["policy"], "fifo");
    assert!(o["line"].as_u64().unwrap() > 0);
}

/// Issue 11, class 8: a baseline with no policies (or with empty metric maps) compared nothing
/// and passed with "0 regressed". A gate that cannot see what it judges must fail: exit 2.
#[test]
fn a_baseline_with_nothing_to_compare_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let out = check(dir.path(), &[path_str(&file), "--save-baseline", "main"]);
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let saved = dir.path().join("baselines/main/tiny.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let mut no_policies = doc.clone();
    no_policies["policies"] = serde_json::json!([]);
    let mut no_metrics = doc.clone();
    no_metrics["policies"][0]["mean"] = serde_json::json!({});
    for (edited, what) in [
        (no_policies, "`policies` is empty"),
        (no_metrics, "empty `mean`"),
    ] {
        std::fs::write(&saved, edited.to_string()).unwrap();
        let out = check(dir.path(), &[path_str(&file), "--baseline", "main"]);
        let err = text(&out.stderr);
        assert_eq!(code(&out), Some(2), "{what}: {}{err}", text(&out.stdout));
        assert!(err.contains(what), "{err}");
    }
    // Policies that share no name with the run: nothing is compared, and the check fails.
    let mut renamed = doc.clone();
    renamed["policies"][0]["name"] = serde_json::json!("another");
    std::fs::write(&saved, renamed.to_string()).unwrap();
    let junit = dir.path().join("junit.xml");
    let out = check(
        dir.path(),
        &[
            path_str(&file),
            "--baseline",
            "main",
            "--junit",
            path_str(&junit),
        ],
    );
    let table = text(&out.stdout);
    assert_eq!(code(&out), Some(1), "{table}{}", text(&out.stderr));
    assert!(table.contains("nothing was compared"), "{table}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<failure message=\"nothing was compared\""),
        "{xml}"
    );
}

/// Issue 11, class 3: a baseline is read up to 64 MiB; a wrong file in its place (here a
/// symlink to /dev/zero) fails at once with exit 2 instead of being read into memory.
#[test]
fn a_baseline_that_is_not_a_baseline_file_is_refused_without_reading_it_all() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let saved = dir.path().join("baselines/main");
    std::fs::create_dir_all(&saved).unwrap();
    std::os::unix::fs::symlink("/dev/zero", saved.join("tiny.json")).unwrap();
    let out = check(dir.path(), &[path_str(&file), "--baseline", "main"]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(err.contains("larger than 64 MiB"), "{err}");
}

/// Issue 11, class 9: `check` reports its verdict by exit code even when nobody reads stdout
/// (a closed pipe is not an error), and stdout that cannot be written (a full disk) is exit 2,
/// an unusable path, never 1, which says a check failed.
#[test]
fn check_exits_by_its_verdict_when_stdout_is_closed_and_2_when_it_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .current_dir(dir.path())
        .arg("check")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
            .current_dir(dir.path())
            .arg("check")
            .arg(&file)
            .stdout(full)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(code(&out), Some(2), "{err}");
        assert!(err.contains("cannot write to stdout"), "{err}");
    }
}

/// A check writes each scenario's run beside the others under `--out`; where a sweep of the same
/// scenario already wrote its results (`stampede sweep --out out/tiny`), the check refuses with
/// exit 2 instead of mixing a run's files into the sweep's.
#[test]
fn check_refuses_to_write_a_run_into_a_sweeps_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let name = TINY
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap();
    let results = dir.path().join("out").join(name);
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(results.join("sweep_summary.csv"), "policy\n").unwrap();
    let out = check(dir.path(), &[path_str(&file), "--out", "out"]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(
        err.contains("holds a sweep's results (sweep_summary.csv)"),
        "{err}"
    );
    assert!(!results.join("summary.csv").exists());
}
