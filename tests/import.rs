//! `stampede import`: a trace, or a scenario's `otel` sources, written as templates and a trace
//! CSV that replay the same jobs to the same bytes.

#[path = "support/cli.rs"]
mod cli;

use cli::{ok, stampede, text};
use std::path::Path;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/otel/agents.jsonl");

/// A scenario replaying the example trace against a limit it presses on, under two policies.
fn replay_scenario(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("replay.toml");
    std::fs::write(
        &path,
        format!(
            r#"# a comment the import keeps
[scenario]
name = "replay"
seed = 3
replications = 2

[provider]
ttft = {{ dist = "lognormal", mean = "0.8s", sd = "0.3s" }}
decode_rate = {{ dist = "lognormal", mean = 100, sd = 30 }}
error_rate = 0.01

[[provider.limit]]
resource = "input_tokens"
rate = "300k/min"
burst = "300k"

[[source]]
name = "trace"
arrival = {{ process = "otel", file = "{EXAMPLE}", tenant_attribute = "user.id" }}

[[policy]]
name = "naive"
retry = {{ max_attempts = 5, wait = {{ kind = "fixed", wait = "1s" }} }}

[[policy]]
name = "jitter"
retry = {{ max_attempts = 5, wait = {{ kind = "random_exponential", multiplier = "2s", max = "60s" }} }}
"#
        ),
    )
    .unwrap();
    path
}

fn run(scenario: &Path, out: &Path) {
    ok(
        stampede()
            .arg("run")
            .arg(scenario)
            .arg("--out")
            .arg(out)
            .arg("--no-charts")
            .output()
            .unwrap(),
        "run",
    );
}

#[test]
fn an_imported_scenario_replays_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let original = replay_scenario(dir.path());
    let imported = dir.path().join("edit/replay.toml");
    let out = ok(
        stampede()
            .arg("import")
            .arg(&original)
            .arg("--out")
            .arg(&imported)
            .output()
            .unwrap(),
        "import",
    );
    assert!(
        text(&out.stdout).contains("305 jobs"),
        "{}",
        text(&out.stdout)
    );
    let written = std::fs::read_to_string(&imported).unwrap();
    assert!(written.starts_with("# a comment the import keeps\n"));
    assert!(written.contains("arrival = { process = \"trace\", file = \"replay.csv\" }"));
    assert!(!written.contains("otel"), "the otel source is gone");
    let csv = std::fs::read_to_string(dir.path().join("edit/replay.csv")).unwrap();
    assert_eq!(csv.lines().count(), 306, "a header and one row per job");
    assert!(csv.starts_with("time_s,tenant,template\n0.000000000,user-02,job1\n"));

    run(&original, &dir.path().join("a"));
    run(&imported, &dir.path().join("b"));
    for file in [
        "summary.json",
        "summary.csv",
        "runs.csv",
        "latency.csv",
        "tenants.csv",
    ] {
        let a = std::fs::read(dir.path().join("a").join(file)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(file)).unwrap();
        assert!(a == b, "{file} differs between the replay and its import");
    }
}

/// One OTLP JSON line holding `spans`.
fn request(spans: &[String]) -> String {
    format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    ) + "\n"
}

/// A span of trace `t` from `start_ms` to `end_ms`: an agent, or a call of `usage` tokens.
fn span(
    t: &str,
    id: &str,
    parent: &str,
    (start_ms, end_ms): (u64, u64),
    usage: Option<(u32, u32)>,
) -> String {
    let base = 1_700_000_000_000_000_000u64;
    let mut attrs = vec![format!(
        r#"{{"key":"gen_ai.operation.name","value":{{"stringValue":"{}"}}}}"#,
        if usage.is_some() {
            "chat"
        } else {
            "invoke_agent"
        }
    )];
    if let Some((i, o)) = usage {
        attrs.push(r#"{"key":"gen_ai.request.model","value":{"stringValue":"m-1"}}"#.into());
        attrs.push(format!(
            r#"{{"key":"gen_ai.usage.input_tokens","value":{{"intValue":"{i}"}}}}"#
        ));
        attrs.push(format!(
            r#"{{"key":"gen_ai.usage.output_tokens","value":{{"intValue":"{o}"}}}}"#
        ));
    }
    format!(
        r#"{{"traceId":"{t}","spanId":"{id}","parentSpanId":"{parent}","name":"{id}","startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{}]}}"#,
        base + start_ms * 1_000_000,
        base + end_ms * 1_000_000,
        attrs.join(",")
    )
}

/// Two identical jobs 5 s apart: agent [0, 2000 ms]: calls a [0, 1000] and b [250, 1000] in
/// parallel, then call c [1500, 2000].
fn two_identical_jobs() -> String {
    let job = |t: &str, at: u64| {
        request(&[
            span(t, "r", "", (at, at + 2000), None),
            span(t, "a", "r", (at, at + 1000), Some((100, 10))),
            span(t, "b", "r", (at + 250, at + 1000), Some((200, 20))),
            span(t, "c", "r", (at + 1500, at + 2000), Some((100, 10))),
        ])
    };
    job("t1", 0) + &job("t2", 5000)
}

#[test]
fn a_trace_becomes_a_scenario_of_shared_templates() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("two.jsonl");
    std::fs::write(&trace, two_identical_jobs()).unwrap();
    let scenario = dir.path().join("two.toml");
    ok(
        stampede()
            .arg("import")
            .arg(&trace)
            .arg("--out")
            .arg(&scenario)
            .output()
            .unwrap(),
        "import",
    );
    let written = std::fs::read_to_string(&scenario).unwrap();
    let templates = written.split("[templates]\n").nth(1).unwrap();
    // Hand-derived: the parallel pair (b waits 250 ms), a 500 ms gap, c (the same call as a).
    assert_eq!(
        templates,
        "job1 = { kind = \"seq\", steps = [\"par1\", \"wait2\", \"call1\"] }\n\
         par1 = { kind = \"parallel\", branches = [\"call1\", \"seq1\"] }\n\
         call1 = { kind = \"call\", prompt_tokens = 100, max_tokens = 10, output_tokens = 10 }\n\
         seq1 = { kind = \"seq\", steps = [\"wait1\", \"call2\"] }\n\
         wait1 = { kind = \"wait\", duration = \"0.25s\" }\n\
         call2 = { kind = \"call\", prompt_tokens = 200, max_tokens = 20, output_tokens = 20 }\n\
         wait2 = { kind = \"wait\", duration = \"0.5s\" }\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("two.csv")).unwrap(),
        "time_s,tenant,template\n0.000000000,,job1\n5.000000000,,job1\n",
        "the second job is the same template"
    );
    assert!(
        written.contains("[[provider]]\nname = \"m-1\""),
        "{written}"
    );
    assert!(written.contains("arrival = { process = \"trace\", file = \"two.csv\" }"));
    let out = ok(
        stampede().arg("validate").arg(&scenario).output().unwrap(),
        "validate",
    );
    assert!(
        text(&out.stdout).contains("2 jobs over 5s"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn import_refuses_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.toml");
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (dir.path().join("missing.jsonl"), "missing.jsonl"),
        (cli::scenario("mm1.toml"), "no source replays a trace"),
    ];
    for (input, expected) in cases {
        let o = stampede()
            .arg("import")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(expected), "{}", text(&o.stderr));
        assert!(!out.exists(), "nothing written");
    }
    // A scenario with an error is reported at its position.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[scenario]\nname = 3\n").unwrap();
    let o = stampede()
        .arg("import")
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("bad.toml:2:8"),
        "{}",
        text(&o.stderr)
    );
    // An existing file is kept unless --force.
    let trace = dir.path().join("two.jsonl");
    std::fs::write(&trace, two_identical_jobs()).unwrap();
    std::fs::write(&out, "mine").unwrap();
    let o = stampede()
        .arg("import")
        .arg(&trace)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
    ok(
        stampede()
            .arg("import")
            .arg(&trace)
            .arg("--out")
            .arg(&out)
            .arg("--force")
            .output()
            .unwrap(),
        "import --force",
    );
}

/// The `wait` template the import writes, as a user may write it by hand.
#[test]
fn wait_templates_take_a_duration_and_nothing_else() {
    let scenario = |template: &str| {
        format!(
            "[scenario]\nname = \"w\"\n[provider]\nttft = \"1s\"\n[[source]]\nname = \"s\"\n\
             arrival = {{ process = \"poisson\", rate = 1, count = 1 }}\ntemplate = \"job\"\n\
             [[policy]]\nname = \"p\"\n[templates]\n\
             job = {{ kind = \"seq\", steps = [\"tool\", \"c\"] }}\n\
             c = {{ kind = \"call\", prompt_tokens = 10, max_tokens = 5, output_tokens = 5 }}\n\
             tool = {template}\n"
        )
    };
    let ok = stampede::scenario::parse(
        &scenario(r#"{ kind = "wait", duration = { dist = "uniform", low = "1s", high = "3s" } }"#),
        "w.toml",
    );
    assert!(ok.is_ok(), "{}", ok.err().unwrap());
    let missing = stampede::scenario::parse(&scenario(r#"{ kind = "wait" }"#), "w.toml")
        .err()
        .unwrap()
        .to_string();
    assert!(
        missing.contains("w.toml:14:") && missing.contains("\"wait\" needs `duration`"),
        "{missing}"
    );
    let extra = stampede::scenario::parse(
        &scenario(r#"{ kind = "wait", duration = "1s", prompt_tokens = 5 }"#),
        "w.toml",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        extra.contains("templates.tool.prompt_tokens")
            && extra.contains("does not apply to \"wait\""),
        "{extra}"
    );
    let bare = stampede::scenario::parse(&scenario(r#"{ kind = "wait", duration = 2 }"#), "w.toml")
        .err()
        .unwrap()
        .to_string();
    assert!(bare.contains("bare number"), "{bare}");
}

/// Jobs whose spans name their tenant leave the source's own name out of the tenants; a job that
/// names none is the source's.
#[test]
fn an_otel_source_registers_its_default_tenant_only_when_a_job_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = |trace: &str| {
        std::fs::write(dir.path().join("t.jsonl"), trace).unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[scenario]\nname = \"t\"\n[provider]\nttft = \"1s\"\n[[source]]\nname = \"replay\"\n\
             arrival = { process = \"otel\", file = \"t.jsonl\", tenant_attribute = \"user.id\" }\n\
             [[policy]]\nname = \"p\"\n",
        )
        .unwrap();
        stampede::scenario::load(&path).unwrap().tenants
    };
    let named = two_identical_jobs().replace(
        r#""attributes":["#,
        r#""attributes":[{"key":"user.id","value":{"stringValue":"ann"}},"#,
    );
    assert_eq!(tenants(&named), vec!["ann".to_string()]);
    assert_eq!(tenants(&two_identical_jobs()), vec!["replay".to_string()]);
    let first_named = named.lines().next().unwrap().to_string()
        + "\n"
        + two_identical_jobs().lines().nth(1).unwrap()
        + "\n";
    assert_eq!(
        tenants(&first_named),
        vec!["ann".to_string(), "replay".to_string()]
    );
}
