//! Rates with units on the command line: a scenario written per minute (`rate = "450k/min"`)
//! gives byte-identical results to the one written per second, and `validate` explains what it
//! understood: the limits in both units, the demand against them, and likely mistakes.

mod support;

use std::path::{Path, PathBuf};
use support::cli::{ok, scenario, stampede, text};

/// Per second, as every file before units was written.
const PER_SECOND: &str = r#"[scenario]
name = "units"
seed = 11
replications = 2

[provider]
ttft = { dist = "normal", mean = "1s", sd = "100ms" }
decode_rate = 200

[[provider.limit]]
resource = "input_tokens"
rate = 7_500
burst = 45_000

[[provider.limit]]
resource = "requests"
kind = "fixed_window"
limit = 50
window = "60s"

[[source]]
name = "s"
arrival = { process = "poisson", rate = 0.5, until = "120s" }

[source.job]
agents = 3
prompt_tokens = { dist = "uniform", low = 2_000, high = 6_000 }
max_tokens = 500
output_tokens = 200

[[policy]]
name = "naive"
retry = { max_attempts = 3, wait = { kind = "fixed", wait = "1s" } }

[[policy]]
name = "paced"
retry = { max_attempts = 3, wait = { kind = "fixed", wait = "1s" } }
bucket = { rate = 6_000, burst = 30_000 }
"#;

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, contents).unwrap();
    path
}

fn run(path: &Path, out: &Path) {
    ok(
        stampede()
            .arg("run")
            .arg(path)
            .arg("--no-charts")
            .arg("--out")
            .arg(out)
            .output()
            .unwrap(),
        "stampede run",
    );
}

#[test]
fn rates_with_units_give_byte_identical_results() {
    let with_units = PER_SECOND
        .replace("rate = 7_500", "rate = \"450k/min\"")
        .replace("burst = 45_000", "burst = \"45k\"")
        .replace("limit = 50", "limit = \"0.05k\"")
        .replace("rate = 0.5,", "rate = \"30/min\",")
        .replace(
            "rate = 6_000, burst = 30_000",
            "rate = \"360k/min\", burst = \"30k\"",
        );
    for old in ["7_500", "45_000", "limit = 50", "0.5,", "rate = 6_000"] {
        assert!(!with_units.contains(old), "{old} not replaced");
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain", PER_SECOND);
    let units = write(dir.path(), "units", &with_units);
    run(&plain, &dir.path().join("plain"));
    run(&units, &dir.path().join("units"));
    for file in ["summary.json", "summary.csv", "runs.csv", "latency.csv"] {
        let a = std::fs::read(dir.path().join("plain").join(file)).unwrap();
        let b = std::fs::read(dir.path().join("units").join(file)).unwrap();
        assert!(
            a == b,
            "{file} differs between the plain and the per-minute scenario"
        );
    }
    let summary = std::fs::read_to_string(dir.path().join("plain/summary.csv")).unwrap();
    assert!(summary.lines().count() >= 3, "{summary}");
}

#[test]
fn a_sweep_over_a_bucket_rate_takes_rates_with_units() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s", PER_SECOND);
    let out = dir.path().join("sweep");
    ok(
        stampede()
            .arg("sweep")
            .arg(&path)
            .args(["--set", "policy.paced.bucket.rate=300k/min,360k/min,6000"])
            .args([
                "--policy",
                "paced",
                "--threads",
                "1",
                "--no-charts",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap(),
        "stampede sweep",
    );
    let csv = std::fs::read_to_string(out.join("sweep_summary.csv")).unwrap();
    for value in ["300k/min", "360k/min", "6000"] {
        assert!(csv.contains(value), "{value} missing from {csv}");
    }
    // 360k/min is 6,000/s: the same point twice, the same results.
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let rest = |v: &str| {
        rows.iter()
            .find_map(|r| r.strip_prefix(&format!("{v},")))
            .unwrap_or_else(|| panic!("no row for {v} in {csv}"))
    };
    assert_eq!(rest("360k/min"), rest("6000"));
}

#[test]
fn a_malformed_rate_names_the_accepted_forms_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad",
        &PER_SECOND.replace("rate = 7_500", "rate = \"450k per minute\""),
    );
    let out = stampede().arg("validate").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: {}:12:8: field `provider.limit[0].rate`: expected a rate such as 66667, \"4M/min\", \"450k/min\", \"50/min\", \"66.7k/s\" or \"1000/h\", found \"450k per minute\"",
            path.display()
        )
    );
}

#[test]
fn the_shipped_scenarios_still_validate() {
    let out = stampede()
        .arg("validate")
        .arg(scenario("cascade_12_agents.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

fn validate(contents: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "v", contents);
    let out = ok(
        stampede().arg("validate").arg(&path).output().unwrap(),
        "stampede validate",
    );
    text(&out.stdout)
}

#[test]
fn validate_explains_limits_demand_and_utilisation() {
    let out = validate(PER_SECOND);
    assert!(
        out.starts_with("ok: units (1 source(s); policies: naive, paced)\n"),
        "{out}"
    );
    for line in [
        "provider.limit[0]: input_tokens token bucket: 7,500/s = 450k/min, burst 45k",
        "provider.limit[1]: requests fixed window: 50 per 60s = 0.8333/s = 50/min, burst 50",
        "policy \"paced\": global bucket (tokens): 6,000/s = 360k/min, burst 30k",
        "source \"s\": poisson, 0.5 jobs/s = 30/min",
        // 3 calls of 4,000 prompt tokens on average and 500 max_tokens, 0.5 jobs/s.
        "per job: 3 requests, 12,000 input + 1,500 output (max_tokens) = 13,500 tokens",
        "average: 1.5/s requests, 6,000/s input + 750/s output (max_tokens) = 6,750/s tokens",
        "provider.limit[0] (input_tokens): 6,000/s = 360k/min of 7,500/s = 450k/min = 80%",
        "provider.limit[1] (requests): 1.5/s = 90/min of 0.8333/s = 50/min = 180%",
        "warnings: none",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn validate_warns_about_a_call_larger_than_the_burst() {
    let out = validate(&PER_SECOND.replace("burst = 45_000", "burst = \"5k\""));
    assert!(
        out.contains("source \"s\": the largest calls charge up to 6,000 input_tokens, above provider.limit[0]'s burst of 5k: they can never pass and fail at once with a non-retryable error"),
        "{out}"
    );
    let out = validate(&PER_SECOND.replace("burst = 45_000", "burst = 3_000"));
    assert!(
        out.contains("source \"s\": a typical call charges 4,000 input_tokens, above provider.limit[0]'s burst of 3k: it can never pass and fails at once with a non-retryable error"),
        "{out}"
    );
}

#[test]
fn validate_warns_about_a_per_minute_limit_written_per_second() {
    // The dashboard says 450,000 input tokens per minute; the file says 450_000 (per second).
    let out = validate(&PER_SECOND.replace("rate = 7_500", "rate = 450_000"));
    // At 0.5 jobs/s the demand is 1.33% of that: low, but no warning yet.
    assert!(
        !out.contains("if the provider's figure is per minute"),
        "{out}"
    );
    let out = validate(
        &PER_SECOND
            .replace("rate = 7_500", "rate = 450_000")
            .replace("rate = 0.5,", "rate = \"3/min\","),
    );
    assert!(
        out.contains("the workload offers 600/s input_tokens on average against provider.limit[0] (input_tokens token bucket: 450,000/s = 27M/min), 0.133% of its rate: if the provider's figure is per minute, write rate = \"450k/min\" (a plain number is per second)"),
        "{out}"
    );
}

#[test]
fn validate_warns_about_a_client_bucket_faster_than_the_provider() {
    let out = validate(
        &PER_SECOND
            .replace("resource = \"input_tokens\"", "resource = \"tokens\"")
            .replace(
                "rate = 6_000, burst = 30_000",
                "rate = \"500k/min\", burst = \"30k\"",
            ),
    );
    assert!(
        out.contains("policy \"paced\": its global bucket refills at 8,333/s = 500k/min, faster than provider.limit[0] (tokens token bucket: 7,500/s = 450k/min): it lets through more than the provider accepts"),
        "{out}"
    );
}

#[test]
fn validate_explains_the_cascade_against_its_4m_per_minute_limit() {
    let out = ok(
        stampede()
            .arg("validate")
            .arg(scenario("cascade_12_agents.toml"))
            .output()
            .unwrap(),
        "stampede validate",
    );
    let out = text(&out.stdout);
    for line in [
        "provider.limit[0]: tokens token bucket: 66,667/s = 4M/min, burst 200k",
        "provider.limit[1]: requests token bucket: 66.67/s = 4k/min, burst 200",
        "1 job at t = 0s: 60 requests, 1,860,000 input + 245,760 output (max_tokens) = 2,105,760 tokens at once (a burst has no rate)",
        "provider.limit[0] (tokens): source \"document-pipeline\" releases 2,105,760 at once: 10.5x its burst, 31.6s of its rate",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn the_documented_validate_output_is_what_validate_prints() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenario-format.md"),
    )
    .unwrap();
    let start = doc
        .find("ok: hedged_tail")
        .expect("the example in the docs");
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    let out = ok(
        stampede()
            .arg("validate")
            .arg(scenario("hedged_tail.toml"))
            .output()
            .unwrap(),
        "stampede validate",
    );
    assert_eq!(text(&out.stdout), example);
}

#[test]
fn validate_as_json_gives_the_same_limits_and_demand_as_numbers() {
    let out = ok(
        stampede()
            .args(["validate", "--format", "json"])
            .arg(scenario("cascade_12_agents.toml"))
            .output()
            .unwrap(),
        "validate --format json",
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["scenario"], "cascade_12_agents");
    let limit = &doc["limits"][0];
    assert_eq!(limit["resource"], "tokens");
    assert_eq!(limit["per_s"], 66667.0);
    assert_eq!(limit["burst"], 200000.0);
    assert_eq!(doc["buckets"][0]["policy"], "bucket_only");
    assert_eq!(doc["warnings"].as_array().map(Vec::len), Some(0));
}

#[test]
fn validate_names_what_each_client_bucket_counts_and_compares_it_with_the_same_resource() {
    // Buckets mirroring the provider's two limits, by resource, the requests one too fast.
    let text = PER_SECOND.replacen(
        "[[policy]]",
        "[[policy]]\nname = \"mirrored\"\nbuckets = [{ resource = \"requests\", rate = \"60/min\", burst = 50 }, { resource = \"input_tokens\", rate = \"400k/min\", burst = \"45k\" }]\n\n[[policy]]",
        1,
    );
    let out = validate(&text);
    for line in [
        "policy \"mirrored\": global bucket (requests): 1/s = 60/min, burst 50",
        "policy \"mirrored\": global bucket (input_tokens): 6,667/s = 400k/min, burst 45k",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(
        out.contains("policy \"mirrored\": its global bucket refills at 1/s = 60/min, faster than provider.limit[1]"),
        "the requests bucket is compared with the requests limit:\n{out}"
    );
    assert!(
        !out.contains("refills at 6,667/s = 400k/min, faster"),
        "the input bucket is slower than the input limit:\n{out}"
    );
}
