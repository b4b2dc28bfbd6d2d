//! Inputs whose size is the user's to choose: template chains as deep as written, tens of
//! thousands of tenants, sweeps with long axes. Each is validated (or refused at a position)
//! without recursing on the input's depth and without work quadratic in its size. Every check
//! runs on its own thread under a timeout, so that a regression fails instead of hanging.

use stampede::scenario::parse;
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
