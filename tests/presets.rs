//! Provider presets and `stampede init` as a user meets them: `stampede presets` lists every tier
//! with its source and date, a scenario naming a preset validates, runs and sweeps, an unknown
//! preset is an error at its line and column, and `init` writes a starter that validates and runs
//! with every policy it promises.

mod support;

use serde_json::Value;
use std::path::Path;
use support::cli::{ok, stampede, text};

const SCENARIO: &str = r#"# a scenario on a preset
[scenario]
name = "on_a_preset"

[provider]
preset = "PRESET"
OVERRIDE

[[source]]
name = "s"
arrival = { process = "burst", count = 2 }

[source.job]
agents = 4
calls_per_agent = 2
prompt_tokens = 2_000
max_tokens = 600
output_tokens = 300

[[policy]]
name = "p"
retry = { max_attempts = 4, wait = { kind = "exponential", multiplier = "1s", max = "20s" }, jitter = "full" }
"#;

fn write(dir: &Path, preset: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        SCENARIO
            .replace("PRESET", preset)
            .replace("OVERRIDE", extra),
    )
    .unwrap();
    path
}

/// `stampede run FILE --format json`, parsed: the first policy's metrics.
fn run_metrics(file: &Path, out: &Path) -> Value {
    let o = ok(
        stampede()
            .arg("run")
            .arg(file)
            .args(["--format", "json", "--no-charts", "--out"])
            .arg(out)
            .output()
            .unwrap(),
        "run",
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["policies"][0]["metrics"].clone()
}

#[test]
fn presets_lists_every_tier_with_its_source_and_date() {
    let o = ok(stampede().arg("presets").output().unwrap(), "presets");
    let out = text(&o.stdout);
    for tier in 1..=4 {
        for model in ["claude-sonnet-4", "claude-opus-4", "claude-haiku-3-5"] {
            assert!(
                out.contains(&format!("anthropic/tier-{tier}/{model} ")),
                "{out}"
            );
        }
    }
    for tier in 1..=5 {
        for model in ["gpt-4o", "gpt-4o-mini"] {
            assert!(
                out.contains(&format!("openai/tier-{tier}/{model} ")),
                "{out}"
            );
        }
    }
    for needle in [
        "https://docs.anthropic.com/en/api/rate-limits",
        "https://platform.openai.com/docs/models/gpt-4o",
        "https://www.anthropic.com/pricing",
        "https://openai.com/api/pricing",
        "as_of",
        "2025-05-22",
        "2025-06-01",
        "ITPM",
        "OTPM",
        "TPM",
        "450,000",
        "check them against the source",
    ] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
    // A prefix keeps only its presets; one that matches nothing is bad input.
    let o = ok(
        stampede().args(["presets", "openai/"]).output().unwrap(),
        "presets openai/",
    );
    let out = text(&o.stdout);
    assert!(out.contains("openai/tier-5/gpt-4o-mini") && !out.contains("anthropic/"));
    let o = stampede().args(["presets", "mistral"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("anthropic/"));
}

#[test]
fn a_scenario_on_a_preset_runs_and_a_field_beside_it_changes_only_that() {
    let dir = tempfile::tempdir().unwrap();
    let preset = "anthropic/tier-2/claude-sonnet-4";
    let plain = run_metrics(&write(dir.path(), preset, ""), &dir.path().join("a"));
    let cheap = run_metrics(
        &write(dir.path(), preset, "price_input_per_mtok = 1"),
        &dir.path().join("b"),
    );
    assert_eq!(plain["jobs_ok"], 2.0);
    // 16 calls of 2,000 input tokens: $3 then $1 per million.
    let input = 16.0 * 2_000.0 / 1e6;
    let cost = |m: &Value| m["cost_usd"].as_f64().unwrap();
    assert!((cost(&plain) - cost(&cheap) - 2.0 * input).abs() < 1e-9);
    for metric in ["makespan_s", "attempts", "rate_limited", "tokens_billed"] {
        assert_eq!(plain[metric], cheap[metric], "{metric}");
    }
}

#[test]
fn an_unknown_preset_is_an_error_at_its_position_with_the_close_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "openai/tier-2/gpt4o", "");
    let o = stampede().arg("validate").arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}:6:10: field `provider.preset`: unknown preset \"openai/tier-2/gpt4o\"",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("openai/tier-2/gpt-4o"), "{err}");
    // An error below the preset still points at the user's own line.
    let file = write(dir.path(), "openai/tier-2/gpt-4o", "");
    let bad = std::fs::read_to_string(&file)
        .unwrap()
        .replace("max_tokens = 600", "max_tokens = -1");
    let line = bad.lines().position(|l| l.contains("= -1")).unwrap() + 1;
    std::fs::write(&file, bad).unwrap();
    let o = stampede().arg("validate").arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!(":{line}:14: field `source[0].job.max_tokens`")),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_sweep_overrides_the_presets_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "openai/tier-2/gpt-4o", "");
    let out = dir.path().join("sweep");
    ok(
        stampede()
            .arg("sweep")
            .arg(&file)
            .args([
                "--set",
                "provider.price_input_per_mtok=1,2",
                "--no-charts",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap(),
        "sweep",
    );
    let mut rows = csv::Reader::from_path(out.join("sweep.csv")).unwrap();
    let header = rows.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let costs: Vec<f64> = rows
        .records()
        .map(|r| r.unwrap()[col("cost_usd")].parse().unwrap())
        .collect();
    assert_eq!(costs.len(), 2);
    let input = 16.0 * 2_000.0 / 1e6;
    assert!((costs[1] - costs[0] - input).abs() < 1e-9, "{costs:?}");
}

#[test]
fn a_sweep_over_presets_runs_each_with_the_fields_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "anthropic/tier-2/claude-sonnet-4",
        "price_input_per_mtok = 1",
    );
    let out = dir.path().join("sweep");
    ok(
        stampede()
            .arg("sweep")
            .arg(&file)
            .args([
                "--set",
                "provider.preset=openai/tier-1/gpt-4o,openai/tier-4/gpt-4o",
                "--no-charts",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap(),
        "sweep over presets",
    );
    let mut rows = csv::Reader::from_path(out.join("sweep.csv")).unwrap();
    let header = rows.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][col("provider.preset")], "openai/tier-1/gpt-4o");
    let num = |r: &csv::StringRecord, c: &str| r[col(c)].parse::<f64>().unwrap();
    // Tier 1's 30k TPM cannot take two rounds of 8 calls of 2,600 tokens at once; tier 4 can.
    assert!(num(&rows[0], "rate_limited") > 0.0);
    assert_eq!(num(&rows[1], "rate_limited"), 0.0);
    // Tier 4 served all 16 calls at the input price written beside the file's preset and
    // gpt-4o's output price.
    let cost = num(&rows[1], "cost_usd");
    let output = num(&rows[1], "tokens_output");
    assert!((cost - (16.0 * 2_000.0 * 1.0 + output * 10.0) / 1e6).abs() < 1e-9);
    // An unknown name is bad input.
    let o = stampede()
        .arg("sweep")
        .arg(&file)
        .args([
            "--set",
            "provider.preset=anthropic/tier-1/claude-sonnet-5",
            "--out",
        ])
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("did you mean"),
        "{}",
        text(&o.stderr)
    );
}

/// `stampede init ARGS --out FILE`, then validate and run it: every policy is in summary.json.
fn init_round_trip(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("starter.toml");
    ok(
        stampede()
            .arg("init")
            .args(args)
            .arg("--out")
            .arg(&file)
            .output()
            .unwrap(),
        &format!("init {args:?}"),
    );
    let o = ok(
        stampede().arg("validate").arg(&file).output().unwrap(),
        "validate",
    );
    assert!(
        text(&o.stdout).contains("policies: current, backoff, bucket, budget"),
        "{}",
        text(&o.stdout)
    );
    let out = dir.path().join("out");
    ok(
        stampede()
            .arg("run")
            .arg(&file)
            .args(["--no-charts", "--out"])
            .arg(&out)
            .output()
            .unwrap(),
        &format!("run of init {args:?}"),
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let names: Vec<&str> = summary["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["current", "backoff", "bucket", "budget"],
        "{args:?}"
    );
    // Its expectations hold: paced under the limits, the bucket loses no job.
    ok(
        stampede()
            .arg("check")
            .arg(&file)
            .arg("--out")
            .arg(dir.path().join("check"))
            .output()
            .unwrap(),
        &format!("check of init {args:?}"),
    );
    // The commented file explains itself.
    let written = std::fs::read_to_string(&file).unwrap();
    for needle in [
        "# Assumptions",
        "preset = ",
        "[[expect]]",
        "docs/presets.md",
    ] {
        assert!(
            written.contains(needle),
            "{needle} missing in init {args:?}"
        );
    }
}

#[test]
fn init_writes_a_starter_that_validates_and_runs() {
    init_round_trip(&[]);
    init_round_trip(&[
        "--preset",
        "openai/tier-1/gpt-4o-mini",
        "--agents",
        "3",
        "--calls-per-agent",
        "4",
        "--prompt-tokens",
        "1500",
        "--output-tokens",
        "200",
    ]);
    init_round_trip(&[
        "--preset",
        "anthropic/tier-1/claude-haiku-3-5",
        "--agents",
        "2",
        "--calls-per-agent",
        "2",
        "--max-tokens",
        "2000",
        "--jobs",
        "3",
        "--name",
        "haiku",
    ]);
}

#[test]
fn init_prints_by_default_and_never_overwrites_without_force() {
    let o = ok(stampede().arg("init").output().unwrap(), "init");
    assert!(text(&o.stdout).contains("preset = \"anthropic/tier-2/claude-sonnet-4\""));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, "mine").unwrap();
    let o = stampede()
        .arg("init")
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    ok(
        stampede()
            .arg("init")
            .arg("--out")
            .arg(&file)
            .arg("--force")
            .output()
            .unwrap(),
        "init --force",
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("[[policy]]")
    );
}

#[test]
fn init_refuses_out_of_range_flags() {
    for args in [
        &["--agents", "0"][..],
        &["--calls-per-agent", "0"],
        &["--prompt-tokens", "0"],
        &["--output-tokens", "0"],
        &["--agents", "10001"],
        &["--output-tokens", "500", "--max-tokens", "100"],
        &["--preset", "anthropic/tier-7/claude-sonnet-4"],
        &[
            "--preset",
            "anthropic/tier-1/claude-sonnet-4",
            "--prompt-tokens",
            "50000",
        ],
        &["--agents", "-3"],
    ] {
        let o = stampede().arg("init").args(args).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "init {args:?}: {}",
            text(&o.stderr)
        );
        assert!(o.stdout.is_empty(), "init {args:?} printed a scenario");
    }
}
