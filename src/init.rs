//! `stampede init`: a commented starter scenario from a few numbers, with the policies engineers
//! usually compare.
//!
//! Task: give a new user a file that validates and runs as written, explains every section and
//! every assumption in comments, and compares their current retry against the usual fixes: jittered
//! exponential backoff, a client token bucket paced just under the provider's limits, and a retry
//! budget. The provider comes from a preset (`docs/presets.md`).

use crate::scenario::presets::{self, Preset};

/// What the starter scenario is made of.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// The provider preset, e.g. `anthropic/tier-2/claude-sonnet-4`.
    pub preset: String,
    /// The scenario's name.
    pub name: String,
    /// Parallel agents per job.
    pub agents: u32,
    /// Calls each agent makes one after another.
    pub calls_per_agent: u32,
    /// Input tokens per call (the mean).
    pub prompt_tokens: u64,
    /// Output tokens generated per call (the mean).
    pub output_tokens: u64,
    /// `max_tokens` each call asks for; `None`: twice `output_tokens`.
    pub max_tokens: Option<u64>,
    /// Jobs arriving at once.
    pub jobs: u32,
}

/// The default preset of `stampede init`.
pub const DEFAULT_PRESET: &str = "anthropic/tier-2/claude-sonnet-4";

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            preset: DEFAULT_PRESET.into(),
            name: "starter".into(),
            agents: 20,
            calls_per_agent: 10,
            prompt_tokens: 8_000,
            output_tokens: 500,
            max_tokens: None,
            jobs: 1,
        }
    }
}

/// The share of the provider's limits the client bucket paces at.
const BUCKET_SHARE: f64 = 0.9;

fn check_range(flag: &str, v: u64, low: u64, high: u64) -> Result<(), String> {
    if (low..=high).contains(&v) {
        Ok(())
    } else {
        Err(format!("--{flag}: expected {low} to {high}, found {v}"))
    }
}

/// The starter scenario's text, or why the options cannot make one.
pub fn scenario_text(o: &InitOptions) -> Result<String, String> {
    check_range("agents", o.agents.into(), 1, 10_000)?;
    check_range("calls-per-agent", o.calls_per_agent.into(), 1, 1_000_000)?;
    check_range("prompt-tokens", o.prompt_tokens, 1, 10_000_000)?;
    check_range("output-tokens", o.output_tokens, 1, 1_000_000)?;
    check_range("jobs", o.jobs.into(), 1, 1_000_000)?;
    let max_tokens = o.max_tokens.unwrap_or(2 * o.output_tokens);
    check_range("max-tokens", max_tokens, o.output_tokens, 1_000_000).map_err(|_| {
        format!(
            "--max-tokens: expected at least --output-tokens ({}) and at most 1000000, found {max_tokens}",
            o.output_tokens
        )
    })?;
    if o.name.is_empty()
        || o.name.len() > 128
        || !o
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "--name: expected letters, digits, `_`, `-` or `.` (at most 128), found \"{}\"",
            o.name
        ));
    }
    let p = presets::find(&o.preset).map_err(|e| format!("--preset: {e}"))?;
    // A call larger than a limit's burst can never pass: say so now rather than in the results.
    // Prompts are drawn with a 10% spread, so leave room for the large ones.
    let big_prompt = o.prompt_tokens as f64 * 1.3;
    for (what, need, per_minute) in [
        ("input tokens (ITPM)", big_prompt, p.itpm),
        ("max_tokens (OTPM)", max_tokens as f64, p.otpm),
        (
            "input + max_tokens (TPM)",
            big_prompt + max_tokens as f64,
            p.tpm,
        ),
    ] {
        if let Some(limit) = per_minute
            && need > limit
        {
            return Err(format!(
                "a call of ~{need:.0} {what} is larger than {}'s limit of {limit} per minute: it could never pass; choose a higher tier or smaller calls",
                p.name
            ));
        }
    }
    Ok(render(o, p, max_tokens))
}

/// The client buckets that mirror the preset's limits, resource for resource, at
/// [`BUCKET_SHARE`] of each (rate per minute and a burst of a minute's worth, as the provider's
/// buckets hold), one TOML inline table per line.
fn mirrored_buckets(p: &Preset) -> String {
    let mut out = String::new();
    for (resource, per_minute) in [
        ("requests", Some(p.rpm)),
        ("input_tokens", p.itpm),
        ("output_tokens", p.otpm),
        ("tokens", p.tpm),
    ] {
        if let Some(limit) = per_minute {
            let share = (BUCKET_SHARE * limit).floor().max(1.0);
            out.push_str(&format!(
                "  {{ resource = \"{resource}\", rate = \"{}/min\", burst = \"{}\" }},\n",
                short(share),
                short(share)
            ));
        }
    }
    out
}

/// A whole number with a `k` or `M` suffix when that writes it exactly: 405k, 1.8M, 900.
fn short(v: f64) -> String {
    let v = v.round();
    if v >= 1e6 && (v / 1e5).fract() == 0.0 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 && (v / 100.0).fract() == 0.0 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

/// Calls per second the preset's limits allow for calls of this size, and the limit that binds.
fn sustainable_calls_per_s(p: &Preset, prompt: f64, max_tokens: f64) -> (f64, &'static str) {
    let mut best = (p.rpm / 60.0, "RPM");
    for (per_minute, cost, what) in [
        (p.itpm, prompt, "ITPM"),
        (p.otpm, max_tokens, "OTPM"),
        (p.tpm, prompt + max_tokens, "TPM"),
    ] {
        if let Some(l) = per_minute {
            let c = l / 60.0 / cost;
            if c < best.0 {
                best = (c, what);
            }
        }
    }
    best
}

fn render(o: &InitOptions, p: &Preset, max_tokens: u64) -> String {
    let prompt = o.prompt_tokens as f64;
    let (calls_per_s, binding) = sustainable_calls_per_s(p, prompt, max_tokens as f64);
    let per_call = prompt + max_tokens as f64;
    let buckets = mirrored_buckets(p);
    let limits = match (p.itpm, p.otpm, p.tpm) {
        (_, _, Some(tpm)) => format!(
            "{} RPM, {} TPM",
            crate::scenario::units::grouped(p.rpm),
            crate::scenario::units::grouped(tpm)
        ),
        (itpm, otpm, None) => format!(
            "{} RPM, {} ITPM, {} OTPM",
            crate::scenario::units::grouped(p.rpm),
            crate::scenario::units::grouped(itpm.unwrap_or(0.0)),
            crate::scenario::units::grouped(otpm.unwrap_or(0.0))
        ),
    };
    let calls = u64::from(o.agents) * u64::from(o.calls_per_agent) * u64::from(o.jobs);
    let prompt_sd = (o.prompt_tokens / 10).max(1);
    let output_sd = (o.output_tokens / 4).max(1);
    let jobs_line = if o.jobs == 1 {
        "one job".to_string()
    } else {
        format!("{} jobs at once", o.jobs)
    };
    format!(
        r#"# {name}: a starter scenario written by `stampede init`. Edit it, then:
#
#   stampede validate {name}.toml     # check it
#   stampede run {name}.toml          # run every policy; results in output/{name}/
#   stampede check {name}.toml        # run and hold the policies to the [[expect]] entries
#
# The story: {jobs_line} of an orchestrator that fans out to {agents} agents, each making
# {calls_per_agent} LLM calls one after another ({calls} calls in all), against the provider preset
#   {preset}: {limits}.
# Four client policies are compared on the same random draws.
#
# Assumptions (change them to match your system):
# - Calls of ~{prompt_tokens} input tokens (normal, sd {prompt_sd}), asking max_tokens = {max_tokens}
#   and generating ~{output_tokens} tokens (normal, sd {output_sd}, at most max_tokens).
# - The preset's limits and prices were transcribed from the provider's pages as of {as_of}:
#   {source}
#   Its speeds (ttft, decode_rate) are typical figures, not published ones. Check them before
#   deciding on them (docs/presets.md); `stampede presets` lists them.
# - Every policy runs beneath the provider SDK's own retries (`sdk = {{}}`: two retries, 0.5-8 s
#   backoff, honouring Retry-After up to 60 s), as the OpenAI and Anthropic Python SDKs do.

[scenario]
name = "{name}"
description = "{agents} agents x {calls_per_agent} calls on {preset}: fixed retries against backoff, a client bucket and a retry budget."
seed = 1
replications = 1          # raise it (e.g. 10) for confidence intervals on every metric

# The provider: the preset fills ttft, decode_rate, the [[provider.limit]] entries (RPM and
# tokens per minute as token buckets), count_rejected, refund_unused_output and the prices.
# Any field written here overrides the preset's (e.g. `price_input_per_mtok = 2.0`, or your own
# measured `ttft = {{ dist = "lognormal", mean = "2s", sd = "0.8s" }}`); [[provider.limit]]
# entries written here replace the preset's limits altogether.
[provider]
preset = "{preset}"

[[source]]
name = "orchestrator"
arrival = {{ process = "burst", count = {jobs} }}    # or {{ process = "poisson", rate = 0.1, count = 50 }}

[source.job]
agents = {agents}
calls_per_agent = {calls_per_agent}
prompt_tokens = {{ dist = "normal", mean = {prompt_mean}, sd = {prompt_sd} }}
max_tokens = {max_tokens}
output_tokens = {{ dist = "normal", mean = {output_mean}, sd = {output_sd} }}

# 1. What many codebases do today: tenacity's @retry(stop=stop_after_attempt(3), wait=wait_fixed(1)).
#    Every agent retries in lockstep after a 429, so the retries arrive together again.
[[policy]]
name = "current"
retry = {{ max_attempts = 3, wait = {{ kind = "fixed", wait = "1s" }} }}
sdk = {{}}

# 2. Jittered exponential backoff (tenacity wait_exponential + full jitter, AWS "Exponential
#    Backoff And Jitter"), more attempts, and the server's Retry-After honoured.
[[policy]]
name = "backoff"
retry = {{ max_attempts = 6, wait = {{ kind = "exponential", multiplier = "1s", max = "60s" }}, jitter = "full", honor_retry_after = true }}
sdk = {{}}

# 3. Backoff behind client buckets shared by all the client's calls, one per limit of the
#    provider and counting the same resource, each at {share}% of that limit (rate and burst): a
#    call waits until every bucket can pay for it instead of meeting a 429. For calls of this size
#    (~{per_call} tokens with max_tokens) {binding} binds first, at ~{calls_per_min:.1} calls/minute.
[[policy]]
name = "bucket"
retry = {{ max_attempts = 6, wait = {{ kind = "exponential", multiplier = "1s", max = "60s" }}, jitter = "full", honor_retry_after = true }}
sdk = {{}}
buckets = [
{buckets}]

# 4. Backoff plus a retry budget (gRPC retry throttling: a failure takes a token, a success gives
#    back 0.1; retries stop while fewer than half the 10 tokens are left), so that retries
#    cannot multiply the load when most attempts fail.
[[policy]]
name = "budget"
retry = {{ max_attempts = 6, wait = {{ kind = "exponential", multiplier = "1s", max = "60s" }}, jitter = "full", honor_retry_after = true }}
sdk = {{}}
retry_budget = {{ kind = "grpc", max_tokens = 10, token_ratio = 0.1 }}

# What `stampede check` holds the policies to (docs/checks.md). Paced under the limits, the
# bucket's jobs all succeed, and it meets no more 429s than the current retry.
[[expect]]
policy = "bucket"
metric = "jobs_failed"
op = "=="
value = 0

[[expect]]
policy = "bucket"
metric = "rate_limited"
op = "<="
relative_to = "current"
"#,
        name = o.name,
        agents = o.agents,
        calls_per_agent = o.calls_per_agent,
        preset = p.name,
        as_of = p.as_of,
        source = p.source,
        prompt_tokens = crate::scenario::units::grouped(prompt),
        output_tokens = crate::scenario::units::grouped(o.output_tokens as f64),
        jobs = o.jobs,
        prompt_mean = o.prompt_tokens,
        output_mean = o.output_tokens,
        share = (BUCKET_SHARE * 100.0).round(),
        calls_per_min = calls_per_s * 60.0,
        per_call = crate::scenario::units::grouped(per_call),
    )
}

/// Writes the starter `text` to a new file at `path`; an existing file is an error unless `force`.
pub fn write(path: &std::path::Path, text: &str, force: bool) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} exists; choose another --out, or add --force to overwrite it",
                path.display()
            )
        } else {
            format!("cannot write {}: {e}", path.display())
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.flush())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_starter_validates_with_four_policies_and_two_expectations() {
        let text = scenario_text(&InitOptions::default()).unwrap();
        let s = crate::scenario::parse_with_expectations(&text, "starter.toml").unwrap();
        let names: Vec<&str> = s
            .scenario
            .policies
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["current", "backoff", "bucket", "budget"]);
        assert_eq!(s.expectations.len(), 2);
    }

    #[test]
    fn the_bucket_policy_mirrors_each_limit_of_the_preset_at_ninety_percent() {
        let anthropic = presets::find("anthropic/tier-2/claude-sonnet-4").unwrap();
        assert_eq!(
            mirrored_buckets(anthropic),
            "  { resource = \"requests\", rate = \"900/min\", burst = \"900\" },\n  { resource = \"input_tokens\", rate = \"405k/min\", burst = \"405k\" },\n  { resource = \"output_tokens\", rate = \"81k/min\", burst = \"81k\" },\n"
        );
        let openai = presets::find("openai/tier-4/gpt-4o").unwrap();
        assert_eq!(
            mirrored_buckets(openai),
            "  { resource = \"requests\", rate = \"9k/min\", burst = \"9k\" },\n  { resource = \"tokens\", rate = \"1.8M/min\", burst = \"1.8M\" },\n"
        );
        assert_eq!(short(1_234.0), "1234");
        assert_eq!(short(45.0), "45");
    }

    #[test]
    fn every_preset_makes_a_valid_starter() {
        for p in presets::all().unwrap() {
            let o = InitOptions {
                preset: p.name.clone(),
                prompt_tokens: 2_000,
                ..InitOptions::default()
            };
            let text = scenario_text(&o).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            crate::scenario::parse(&text, "s.toml").unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }

    #[test]
    fn out_of_range_options_are_refused() {
        let bad = [
            InitOptions {
                agents: 0,
                ..InitOptions::default()
            },
            InitOptions {
                calls_per_agent: 0,
                ..InitOptions::default()
            },
            InitOptions {
                prompt_tokens: 0,
                ..InitOptions::default()
            },
            InitOptions {
                max_tokens: Some(10),
                ..InitOptions::default()
            },
            InitOptions {
                name: "a b".into(),
                ..InitOptions::default()
            },
            InitOptions {
                preset: "anthropic/tier-9/x".into(),
                ..InitOptions::default()
            },
            // 40k-token prompts cannot pass tier 1's 30k ITPM.
            InitOptions {
                preset: "anthropic/tier-1/claude-sonnet-4".into(),
                prompt_tokens: 40_000,
                ..InitOptions::default()
            },
        ];
        for o in bad {
            assert!(scenario_text(&o).is_err(), "{o:?}");
        }
    }
}
