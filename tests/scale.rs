//! Inputs whose size is the user's to choose: template chains as deep as written, tens of
//! thousands of tenants, sweeps with long axes. Each is validated (or refused at a position)
//! without recursing on the input's depth and without work quadratic in its size. Every check
//! runs on its own thread under a timeout, so that a regression fails instead of hanging.

use stampede::scenario::parse;
use stampede::sweep::Plan;
use std::fmt::Write as _;
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on a thread with a `stack`-byte stack, failing if it takes longer than `secs`
/// (a stack overflow aborts the whole test binary, which fails too).
fn within<T: Send + 'static>(secs: u64, stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|e| panic!("not done within {secs} s: {e}"))
}

const SMALL_STACK: usize = 256 * 1024;

const HEAD: &str = r#"
[scenario]
name = "t"
[provider]
ttft = "1s"
[[policy]]
name = "p"
"#;

const JOB: &str = r#"
arrival = { process = "burst" }
[source.job]
prompt_tokens = 10
max_tokens = 10
output_tokens = 5
"#;

/// A source of template `t000000`, where `t{i}` holds `t{i+1}` through `link` (the
/// `kind = ...` and reference lines of a template, with `{next}` for the next name), and the last
/// of `n` templates is `last`.
fn chain(n: usize, link: &str, last: &str) -> String {
    let mut text = format!(
        "{HEAD}[[source]]\nname = \"s\"\narrival = {{ process = \"burst\" }}\ntemplate = \"t000000\"\n"
    );
    for i in 0..n {
        let body = if i + 1 < n {
            link.replace("{next}", &format!("t{:06}", i + 1))
        } else {
            last.to_string()
        };
        writeln!(text, "[templates.t{i:06}]\n{body}").unwrap();
    }
    text
}

const CALL: &str = "kind = \"call\"\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 5";

#[test]
fn a_chain_of_100000_templates_validates_on_a_small_stack() {
    let text = chain(100_000, "kind = \"seq\"\nsteps = [\"{next}\"]", CALL);
    let nodes = within(60, SMALL_STACK, move || {
        parse(&text, "t.toml").map(|s| s.nodes.len())
    });
    assert_eq!(nodes.unwrap(), 100_000);
}

#[test]
fn a_fanout_chain_8000_deep_validates_on_a_small_stack() {
    let text = chain(
        8_000,
        "kind = \"fanout\"\nwidth = 1\nchild = \"{next}\"",
        CALL,
    );
    let nodes = within(60, SMALL_STACK, move || {
        parse(&text, "t.toml").map(|s| s.nodes.len())
    });
    assert_eq!(nodes.unwrap(), 8_000);
}

#[test]
fn a_cycle_100000_templates_long_is_refused_at_a_position_on_a_small_stack() {
    let text = chain(
        100_000,
        "kind = \"seq\"\nsteps = [\"{next}\"]",
        "kind = \"fanout\"\nwidth = 1\nchild = \"t000000\"",
    );
    let e = within(60, SMALL_STACK, move || {
        parse(&text, "t.toml").map(|_| ()).unwrap_err().to_string()
    });
    // `[templates.t000000]` is the first template, on line 12.
    assert!(e.starts_with("t.toml:12:1:"), "{e}");
    assert!(
        e.contains("contains itself through seq/fanout steps only"),
        "{e}"
    );
}

#[test]
fn a_source_spread_over_100000_tenants_validates_in_linear_time() {
    // A list search per generated name took minutes here (5 x 10^9 comparisons); in release it is
    // now about 0.1 s, and a few seconds in a debug build.
    let text = format!("{HEAD}[[source]]\nname = \"s\"\nspread_over = 100000\n{JOB}");
    let tenants = within(60, 8 << 20, move || parse(&text, "t.toml").unwrap().tenants);
    assert_eq!(tenants.len(), 100_000);
    assert_eq!(tenants[0], "s-1");
    assert_eq!(tenants[99_999], "s-100000");
}

#[test]
fn expectations_on_100000_tenants_and_2000_policies_validate_in_linear_time() {
    // Each entry looked its tenant and policy up in a list and counted its line from the top of
    // the file: hours for this file, which a script writes in a second.
    let mut text = format!("{HEAD}[[source]]\nname = \"s\"\nspread_over = 100000\n{JOB}");
    for i in 1..2_000 {
        writeln!(text, "[[policy]]\nname = \"p{i}\"").unwrap();
    }
    for i in 0..100_000 {
        writeln!(
            text,
            "[[expect]]\npolicy = \"p{}\"\nmetric = \"tenant.s-{}.jobs_ok\"\nop = \">=\"\nvalue = 0",
            1 + i % 1_999,
            i + 1
        )
        .unwrap();
    }
    let lines = text.lines().count();
    let parsed = within(60, 8 << 20, move || {
        stampede::scenario::parse_with_expectations(&text, "t.toml").unwrap()
    });
    assert_eq!(parsed.scenario.policies.len(), 2_000);
    assert_eq!(parsed.expectations.len(), 100_000);
    // The last entry's line: its header is five lines from the end.
    assert_eq!(parsed.expectations[99_999].line, lines - 4);
}

#[test]
fn a_generated_tenant_that_already_exists_is_still_refused() {
    let text = format!(
        "{HEAD}[[tenant]]\nname = \"s-7\"\n[[source]]\nname = \"s\"\nspread_over = 10\n{JOB}"
    );
    let e = parse(&text, "t.toml").unwrap_err().to_string();
    assert!(e.contains("tenant \"s-7\" already exists"), "{e}");
}

#[test]
fn a_trace_naming_200000_tenants_validates_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("time_s,tenant\n");
    for i in 0..200_000 {
        writeln!(csv, "{},u{}", i as f64 / 1000.0, 199_999 - i).unwrap();
    }
    // A repeated name maps to the tenant first seen.
    csv.push_str("200,u5\n");
    std::fs::write(dir.path().join("trace.csv"), csv).unwrap();
    let text = format!(
        "{HEAD}[[source]]\nname = \"s\"\narrival = {{ process = \"trace\", file = \"trace.csv\" }}\n[source.job]\nprompt_tokens = 10\nmax_tokens = 10\noutput_tokens = 5\n"
    );
    let file = dir.path().join("t.toml").display().to_string();
    let scenario = within(60, 8 << 20, move || parse(&text, &file).unwrap());
    // The trace's tenants in order of first appearance (every row names one, so the source's
    // own tenant is not registered).
    assert_eq!(scenario.tenants.len(), 200_000);
    assert_eq!(scenario.tenants[0], "u199999");
    assert_eq!(scenario.tenants[199_999], "u0");
    let stampede::model::Arrival::Trace(rows) = &scenario.sources[0].arrival else {
        panic!("a trace source");
    };
    assert_eq!(rows.last().unwrap().tenant, rows[199_994].tenant);
}

#[test]
fn a_sweep_axis_of_20000_values_plans_in_linear_time() {
    // Every point re-read the whole manifest, 20,000 values long: 99 s in release for this
    // grid. Each point now costs one validation of the small scenario.
    let values: Vec<String> = (1..=20_000).map(|v| v.to_string()).collect();
    let text = format!(
        "{HEAD}[[source]]\nname = \"s\"\n{JOB}\n[sweep.parameters]\n\"source.0.job.max_tokens\" = [{}]\n",
        values.join(", ")
    );
    let points = within(120, 8 << 20, move || {
        let plan = Plan::new(&text, "t.toml", &[], None).unwrap();
        plan.points
            .iter()
            .map(|p| p.scenario.nodes.iter().find_map(max_tokens))
            .collect::<Vec<_>>()
    });
    assert_eq!(points.len(), 20_000);
    for (i, m) in points.iter().enumerate() {
        assert_eq!(*m, Some(i as u32 + 1));
    }
}

fn max_tokens(n: &stampede::model::workload::Node) -> Option<u32> {
    match n {
        stampede::model::workload::Node::Agent { call, .. } => Some(call.max_tokens),
        _ => None,
    }
}

/// Writes an OTLP JSON trace of `spans` spans to `path`, one request per line, each an agent job
/// of five spans (agent, chat, tool, chat, chat; the last job cut short) from 100 users.
fn otel_trace(path: &std::path::Path, spans: usize) {
    use std::io::Write as _;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let t0 = 1_700_000_000_000_000_000u64;
    let ms = 1_000_000u64;
    // (parent, start ms, end ms, operation) of each span of a job.
    let shape: [(bool, u64, u64, &str); 5] = [
        (false, 0, 4000, "invoke_agent"),
        (true, 0, 1000, "chat"),
        (true, 1000, 1500, "execute_tool"),
        (true, 1500, 3000, "chat"),
        (true, 3000, 4000, "chat"),
    ];
    for job in 0..spans.div_ceil(5) {
        let start = t0 + job as u64 * 100 * ms;
        let list: Vec<String> = shape
            .iter()
            .enumerate()
            .take(spans - job * 5)
            .map(|(k, &(child, from, to, op))| {
                let mut attrs = format!(
                    r#"{{"key":"gen_ai.operation.name","value":{{"stringValue":"{op}"}}}},{{"key":"user.id","value":{{"stringValue":"u{}"}}}}"#,
                    job % 100
                );
                if op == "chat" {
                    attrs.push_str(r#",{"key":"gen_ai.request.model","value":{"stringValue":"m"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"2000"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"200"}}"#);
                }
                format!(
                    r#"{{"traceId":"{job:032x}","spanId":"{:016x}","parentSpanId":"{}","name":"{op}","kind":1,"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{attrs}],"status":{{}}}}"#,
                    job * 5 + k,
                    if child { format!("{:016x}", job * 5) } else { String::new() },
                    start + from * ms,
                    start + to * ms,
                )
            })
            .collect();
        writeln!(
            w,
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            list.join(",")
        )
        .unwrap();
    }
    w.flush().unwrap();
}

/// A scenario replaying `trace.jsonl` in `dir`, its tenant from `user.id`.
fn otel_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        format!(
            "{HEAD}[[source]]\nname = \"s\"\narrival = {{ process = \"otel\", file = \"trace.jsonl\", tenant_attribute = \"user.id\" }}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn an_otel_trace_of_100000_spans_validates_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    otel_trace(&dir.path().join("trace.jsonl"), 100_000);
    let path = otel_scenario(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    let file = path.display().to_string();
    let scenario = within(120, SMALL_STACK, move || parse(&text, &file).unwrap());
    let stampede::model::Arrival::Trace(rows) = &scenario.sources[0].arrival else {
        panic!("a trace source");
    };
    assert_eq!(rows.len(), 20_000);
    assert_eq!(
        scenario.tenants.len(),
        100,
        "the users; every job names one"
    );
}

/// The span cap itself, through the CLI: 1,000,000 spans validate, one more is bad input. About
/// 450 MB of trace; run with
/// `cargo test --release --test scale -- --ignored an_otel_trace_at_the_span_cap`. With
/// `STAMPEDE_SCALE_KEEP=DIR` the 1,000,000-span scenario is left in DIR (`DIR/s.toml`) to
/// measure, e.g. `/usr/bin/time -v target/release/stampede validate DIR/s.toml`.
#[test]
#[ignore = "writes a 450 MB trace; run on demand (see the doc comment)"]
fn an_otel_trace_at_the_span_cap_validates_and_one_span_more_is_refused() {
    let cap = stampede::scenario::otel::MAX_OTEL_SPANS;
    let keep = std::env::var_os("STAMPEDE_SCALE_KEEP").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let path = otel_scenario(&dir);
    let validate = |what: &str| {
        let started = std::time::Instant::now();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
            .arg("validate")
            .arg(&path)
            .output()
            .unwrap();
        eprintln!(
            "{what}: validate in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    for (spans, ok) in [(cap + 1, false), (cap, true)] {
        otel_trace(&dir.join("trace.jsonl"), spans);
        let (code, err) = validate(&format!("{spans} spans"));
        if ok {
            assert_eq!(code, Some(0), "{err}");
        } else {
            assert_eq!(code, Some(2), "{err}");
            assert!(
                err.contains(&format!("expected at most {cap} spans, found more")),
                "{err}"
            );
            // The 1,000,001st span is on the last line, the 200,001st.
            assert!(err.contains("trace.jsonl:200001:"), "{err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}
