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
    // The source's own tenant first, then the trace's in order of first appearance.
    assert_eq!(scenario.tenants.len(), 200_001);
    assert_eq!(scenario.tenants[0], "s");
    assert_eq!(scenario.tenants[1], "u199999");
    assert_eq!(scenario.tenants[200_000], "u0");
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
