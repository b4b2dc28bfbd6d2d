//! Issue 16: OpenTelemetry GenAI traces replayed as a workload, through the CLI and the library.

use std::path::Path;
use std::process::Command;

/// One OTLP JSON line (an `ExportTraceServiceRequest`) holding `spans`.
fn request(spans: &[String]) -> String {
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}}]}},"scopeSpans":[{{"scope":{{"name":"t"}},"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    )
}

/// A span from `start_ms` to `end_ms` with `attrs` (`key`, JSON value object).
fn span(id: &str, parent: &str, start_ms: u64, end_ms: u64, attrs: &[(&str, String)]) -> String {
    let attrs: Vec<String> = attrs
        .iter()
        .map(|(k, v)| format!(r#"{{"key":"{k}","value":{v}}}"#))
        .collect();
    let base = 1_700_000_000_000_000_000u64;
    format!(
        r#"{{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"{id}","parentSpanId":"{parent}","name":"{id}","kind":1,"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{}],"status":{{}}}}"#,
        base + start_ms * 1_000_000,
        base + end_ms * 1_000_000,
        attrs.join(",")
    )
}

fn s(v: &str) -> String {
    format!(r#"{{"stringValue":"{v}"}}"#)
}

fn i(v: u64) -> String {
    format!(r#"{{"intValue":"{v}"}}"#)
}

fn chat(id: &str, parent: &str, start_ms: u64, end_ms: u64, input: u64, output: u64) -> String {
    span(
        id,
        parent,
        start_ms,
        end_ms,
        &[
            ("gen_ai.operation.name", s("chat")),
            ("gen_ai.request.model", s("m")),
            ("gen_ai.provider.name", s("openai")),
            ("gen_ai.usage.input_tokens", i(input)),
            ("gen_ai.usage.output_tokens", i(output)),
            ("user.id", s("alice")),
        ],
    )
}

fn scenario(dir: &Path, trace: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("trace.jsonl"), trace).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        "[scenario]\nname = \"otel\"\nreplications = 1\n[provider]\nttft = \"0.5s\"\ndecode_rate = 100\n\
         [[source]]\nname = \"replay\"\n\
         arrival = { process = \"otel\", file = \"trace.jsonl\", tenant_attribute = \"user.id\" }\n\
         [[policy]]\nname = \"p\"\n",
    )
    .unwrap();
    path
}

/// Agent [0, 2000 ms]: chat a [0, 1000] (50 output tokens), tool [1000, 1300], chat b
/// [1300, 2000] (100 output tokens).
fn two_calls_and_a_tool() -> String {
    let spans = vec![
        span(
            "aa00000000000001",
            "",
            0,
            2000,
            &[("gen_ai.operation.name", s("invoke_agent"))],
        ),
        chat("aa00000000000002", "aa00000000000001", 0, 1000, 200, 50),
        span(
            "aa00000000000003",
            "aa00000000000001",
            1000,
            1300,
            &[("gen_ai.operation.name", s("execute_tool"))],
        ),
        chat("aa00000000000004", "aa00000000000001", 1300, 2000, 300, 100),
    ];
    request(&spans) + "\n"
}

#[test]
fn a_replayed_two_call_trace_takes_its_service_times_plus_the_tool_wait() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), &two_calls_and_a_tool());
    let sc = stampede::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.tenants.iter().filter(|t| *t == "alice").count(), 1);
    let out = stampede::model::world::simulate_full(&sc, &sc.policies[0], sc.seed, false)
        .unwrap_or_else(|_| panic!("no guard trips"));
    // By hand: (0.5 s ttft + 50 / 100 s decode) + 0.3 s tool + (0.5 s + 100 / 100 s) = 2.8 s.
    assert_eq!(out.metrics.jobs, 1.0);
    assert_eq!(out.metrics.jobs_ok, 1.0);
    assert!(
        (out.metrics.job_latency_max_s - 2.8).abs() < 1e-6,
        "{}",
        out.metrics.job_latency_max_s
    );
}

#[test]
fn validate_names_the_line_of_a_malformed_otel_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = two_calls_and_a_tool();
    let trace = format!("{good}{good}{{\"resourceSpans\": [ nope ]}}\n");
    let path = scenario(dir.path(), &trace);
    let o = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("trace.jsonl:3:"), "{err}");
    assert!(err.contains("field `source[0].arrival.file`"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn validate_passes_a_good_otel_file_and_warns_of_spans_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let no_usage = span(
        "bb00000000000001",
        "",
        5000,
        5100,
        &[("gen_ai.operation.name", s("chat"))],
    );
    let trace = two_calls_and_a_tool() + &request(&[no_usage]) + "\n";
    let path = scenario(dir.path(), &trace);
    let o = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{all}");
    // The warning names the span's line and ids.
    assert!(
        all.contains(
            "trace.jsonl:2: span 0af7651916cd43dd8448eb211c80319c/bb00000000000001 \"bb00000000000001\" is an inference span without"
        ),
        "{all}"
    );
    assert!(all.contains("(1 span(s) like it in all)"), "{all}");
}

/// `stampede ARGS...`: exit code and stderr.
fn stampede(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_bad_span_mid_file_is_an_error_at_its_line_through_validate_run_and_calibrate() {
    let dir = tempfile::tempdir().unwrap();
    let good = two_calls_and_a_tool();
    let backwards = request(&[chat("cc00000000000001", "", 900, 100, 10, 10)]) + "\n";
    let trace = format!("{good}{good}{backwards}{good}");
    let path = scenario(dir.path(), &trace);
    let trace_path = dir.path().join("trace.jsonl");
    let want = "trace.jsonl:3: span 0af7651916cd43dd8448eb211c80319c/cc00000000000001 \"cc00000000000001\": expected an endTimeUnixNano";
    for args in [
        vec!["validate".as_ref(), path.as_os_str()],
        vec![
            "run".as_ref(),
            path.as_os_str(),
            "--out".as_ref(),
            dir.path().join("out").as_os_str(),
        ],
        vec!["calibrate".as_ref(), trace_path.as_os_str()],
    ] {
        let (code, err) = stampede(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A tenant name too long is refused at the line of the span it came from.
    let long_user = span(
        "dd00000000000001",
        "",
        0,
        100,
        &[("user.id", s(&"u".repeat(300)))],
    );
    let trace = format!("{good}{}\n{good}", request(&[long_user]));
    let path = scenario(dir.path(), &trace);
    let (code, err) = stampede(&["validate".as_ref(), path.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("trace.jsonl:2: span 0af7651916cd43dd8448eb211c80319c/dd00000000000001 \"dd00000000000001\": expected a tenant name of at most 256 bytes, found 300 bytes"),
        "{err}"
    );
}

#[test]
fn an_otel_source_refuses_a_template_and_other_processes_refuse_otel_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), &two_calls_and_a_tool());
    let text = std::fs::read_to_string(&path).unwrap();
    let with_job = text.replace(
        "[[policy]]",
        "[source.job]\nprompt_tokens = 1\nmax_tokens = 1\noutput_tokens = 1\n[[policy]]",
    );
    let e = stampede::scenario::parse(&with_job, "t.toml").unwrap_err();
    assert!(e.to_string().contains("takes no `job`"), "{e}");
    let poisson = text.replace(
        "arrival = { process = \"otel\", file = \"trace.jsonl\", tenant_attribute = \"user.id\" }",
        "arrival = { process = \"poisson\", rate = 1, count = 1, job_by = \"root\" }\ntemplate = \"x\"",
    );
    let e = stampede::scenario::parse(&poisson, "t.toml").unwrap_err();
    assert!(e.to_string().contains("`job_by` does not apply"), "{e}");
}
