//! Calibration against a trace drawn from a known model: `examples/otel/agents.jsonl`, made by
//! `examples/otel_trace.rs` with seed 1, whose true parameters are in `examples/otel/truth.toml`.
//!
//! The OTLP reader proper lives elsewhere; `records` below is a small local parser of just the
//! fields calibration needs.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stampede::calibrate::{CallRecord, ErrorKind, calibrate, to_provider_toml};

#[path = "../examples/otel_trace.rs"]
#[allow(dead_code)]
mod otel_trace;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

fn ns(v: &Value) -> u64 {
    v.as_str().expect("a string of ns").parse().expect("ns")
}

/// The `chat` spans of an OTLP JSON-lines file as call records.
fn records(path: &Path) -> Vec<CallRecord> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let request: Value = serde_json::from_str(line).unwrap();
        for rs in request["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for span in ss["spans"].as_array().unwrap() {
                    let op =
                        attr(span, "gen_ai.operation.name").and_then(|v| v["stringValue"].as_str());
                    if op != Some("chat") {
                        continue;
                    }
                    let model = attr(span, "gen_ai.request.model").unwrap()["stringValue"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    let duration_s = (ns(&span["endTimeUnixNano"]) - ns(&span["startTimeUnixNano"]))
                        as f64
                        / 1e9;
                    let ttft_s = attr(span, "gen_ai.response.time_to_first_chunk")
                        .and_then(|v| v["doubleValue"].as_f64());
                    let output_tokens = attr(span, "gen_ai.usage.output_tokens")
                        .and_then(|v| v["intValue"].as_str())
                        .map_or(0, |s| s.parse().unwrap());
                    let error = attr(span, "error.type")
                        .and_then(|v| v["stringValue"].as_str())
                        .map(ErrorKind::from_error_type);
                    out.push(CallRecord {
                        model,
                        duration_s,
                        ttft_s,
                        output_tokens,
                        error,
                    });
                }
            }
        }
    }
    out
}

fn contains((lo, hi): (f64, f64), x: f64) -> bool {
    lo <= x && x <= hi
}

#[test]
fn calibration_recovers_the_true_parameters_of_the_example_trace() {
    let records = records(&root().join("examples/otel/agents.jsonl"));
    let truth: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("examples/otel/truth.toml")).unwrap())
            .unwrap();
    let cals = calibrate(&records);
    let models = truth["model"].as_array().unwrap();
    assert_eq!(cals.len(), models.len());
    for m in models {
        let name = m["name"].as_str().unwrap();
        let get = |k: &str| m[k].as_float().unwrap();
        let c = cals.iter().find(|c| c.model == name).unwrap();
        let ttft = &c.ttft.as_ref().unwrap().lognormal;
        let decode = &c.decode_tokens_per_s.as_ref().unwrap().lognormal;
        eprintln!(
            "{name}: {} calls; ttft n {} mu {:.4} {:?} (true {}), sigma {:.4} {:?} (true {}), KS p {:.3}; decode n {} mu {:.4} {:?} (true {:.4}), sigma {:.4} {:?} (true {}), KS p {:.3}; errors {:?}; 429 {:?}",
            c.calls,
            ttft.n,
            ttft.mu,
            ttft.mu_ci95,
            get("ttft_mu"),
            ttft.sigma,
            ttft.sigma_ci95,
            get("ttft_sigma"),
            ttft.ks_p,
            decode.n,
            decode.mu,
            decode.mu_ci95,
            get("decode_mu"),
            decode.sigma,
            decode.sigma_ci95,
            get("decode_sigma"),
            decode.ks_p,
            c.error_rate,
            c.rate_limited_rate
        );
        assert!(
            contains(ttft.mu_ci95, get("ttft_mu")),
            "{name} ttft {ttft:?}"
        );
        assert!(
            contains(ttft.sigma_ci95, get("ttft_sigma")),
            "{name} ttft {ttft:?}"
        );
        assert!(
            contains(decode.mu_ci95, get("decode_mu")),
            "{name} decode {decode:?}"
        );
        assert!(
            contains(decode.sigma_ci95, get("decode_sigma")),
            "{name} decode {decode:?}"
        );
        // The log-normal is the true shape: KS does not reject it.
        assert!(ttft.ks_p > 0.01 && decode.ks_p > 0.01, "{name}");
        // Error shares: the true probabilities lie in the Wilson intervals. The generator
        // draws one uniform u per call: a 429 when u < p_429, a 500 when
        // p_429 <= u < p_429 + p_500. So a call not refused fails with a 500 with probability
        // p_500 / (1 - p_429), the provider's per-admitted-attempt error_rate.
        let (p_429, p_500) = (
            truth["p_429"].as_float().unwrap(),
            truth["p_500"].as_float().unwrap(),
        );
        let admitted_calls = c.calls - c.rate_limited_rate.k;
        assert_eq!(c.error_rate.n, admitted_calls, "{name}");
        assert!(
            contains(c.error_rate.ci95, p_500 / (1.0 - p_429)),
            "{name} {:?}",
            c.error_rate
        );
        assert!(
            contains(c.rate_limited_rate.ci95, truth["p_429"].as_float().unwrap()),
            "{name} {:?}",
            c.rate_limited_rate
        );
        // The section parses in a scenario.
        let section = to_provider_toml(c);
        eprintln!("{section}");
        let scenario = format!(
            "[scenario]\nname = \"calibrated\"\n\n{section}\n[[source]]\nname = \"s\"\narrival = {{ process = \"poisson\", rate = 1, count = 10 }}\n\n[source.job]\nprompt_tokens = 100\nmax_tokens = 100\noutput_tokens = 50\n\n[[policy]]\nname = \"p\"\n"
        );
        stampede::scenario::parse(&scenario, "calibrated.toml")
            .unwrap_or_else(|e| panic!("{e}\n{section}"));
    }
}

#[test]
fn the_example_trace_is_regenerated_byte_for_byte() {
    let trace = std::fs::read_to_string(root().join("examples/otel/agents.jsonl")).unwrap();
    let truth = std::fs::read_to_string(root().join("examples/otel/truth.toml")).unwrap();
    let again = otel_trace::generate(1);
    assert!(
        again == trace,
        "examples/otel/agents.jsonl differs from a regeneration with seed 1"
    );
    assert_eq!(otel_trace::generate(1), again);
    assert_eq!(otel_trace::truth_toml(1), truth);
    assert_ne!(otel_trace::generate(2), again);
}

/// `stampede calibrate` reads the example trace with the OTLP reader and prints one
/// `[[provider]]` per model, which a scenario takes as it is; a trace with no inference span
/// is bad input (exit 2).
#[test]
fn the_calibrate_command_prints_sections_a_scenario_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("calibrate")
        .arg(root.join("examples/otel/agents.jsonl"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("[[provider]]").count(), 2, "{text}");
    let scenario = format!(
        "[scenario]\nname = \"t\"\n{text}\n[[source]]\nname = \"s\"\narrival = {{ process = \"burst\", count = 1 }}\n\
         [source.job]\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 10\n[[policy]]\nname = \"p\"\n"
    );
    let s =
        stampede::scenario::parse(&scenario, "t.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let names: Vec<&str> = s.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["claude-haiku-3-5", "claude-sonnet-4"]);

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "{\"resourceSpans\":[]}\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("calibrate")
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no inference span"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
