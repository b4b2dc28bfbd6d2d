//! An OpenTelemetry trace of LLM agents drawn from a known model, to test calibration against:
//!
//! ```text
//! cargo run --release --example otel_trace -- --out examples/otel/agents.jsonl --seed 1
//! ```
//!
//! Writes the trace in the OpenTelemetry Collector file-exporter format (one
//! `ExportTraceServiceRequest` as JSON per line, here one line per job) with spans following the
//! GenAI semantic conventions v1.37.0, and the true parameters beside it as `truth.toml`.
//!
//! # The model
//!
//! - Jobs arrive as a Poisson process at [`JOB_RATE`] per second for [`WINDOW_S`] seconds
//!   (~300 jobs). Each job belongs to one of [`USERS`] users (uniform).
//! - A job is an `invoke_agent` root span. With probability [`PARALLEL_P`] it is an orchestrator:
//!   one planning call, then two `invoke_agent` researcher sub-agents run in parallel, then one
//!   summarising call. Otherwise it is one assistant agent.
//! - An agent makes 2 to 5 (uniform) `chat` calls in sequence, separated by `execute_tool` spans
//!   whose duration is log-normal ([`TOOL_MU`], [`TOOL_SIGMA`]). An assistant or orchestrator uses
//!   `claude-sonnet-4` with probability [`SONNET_P`], else `claude-haiku-3-5`; a researcher uses
//!   `claude-haiku-3-5`.
//! - A call's time to first token and decode speed are independent log-normals with the model's
//!   `(mu, sigma)` ([`MODELS`]); its output tokens are log-normal ([`OUTPUT_MU`],
//!   [`OUTPUT_SIGMA`]), rounded, clamped to `[1, max_tokens]`; duration = ttft + output / speed.
//! - A call is refused with `error.type = "429"` with probability [`P_429`] (after 50 to 250 ms,
//!   no usage, no ttft), or fails with `error.type = "500"` with probability [`P_500`] (after
//!   its ttft, no output, ttft not recorded); either way the agent waits 1 to 3 s and retries.
//! - Input tokens grow along an agent's conversation (a first prompt of 1,500 to 6,000 tokens,
//!   plus each output and a tool result of 200 to 3,000); from the second call on, the previous
//!   prompt is read from the prompt cache with probability 0.9.
//!
//! Draws come from `stampede::engine::rng` streams keyed by (seed, purpose, job): the same seed
//! gives the same bytes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use rand::Rng as _;
use rand_distr::{Distribution, LogNormal};
use serde_json::{Value, json};
use stampede::engine::rng::{StreamRng, purpose, stream, unit};

/// Job arrivals per second.
pub const JOB_RATE: f64 = 0.5;
/// Arrival window in seconds.
pub const WINDOW_S: f64 = 600.0;
/// Distinct `user.id`s.
pub const USERS: u64 = 20;
/// Share of jobs that fan out to two parallel researcher sub-agents.
pub const PARALLEL_P: f64 = 0.25;
/// Share of assistant/orchestrator calls sent to claude-sonnet-4.
pub const SONNET_P: f64 = 0.6;
/// Tool time, log-normal (mu, sigma) of seconds: median 0.8 s.
pub const TOOL_MU: f64 = -0.223_143_551_314_209_7;
pub const TOOL_SIGMA: f64 = 0.8;
/// Output tokens, log-normal (mu, sigma): median 300.
pub const OUTPUT_MU: f64 = 5.703_782_474_656_201;
pub const OUTPUT_SIGMA: f64 = 0.9;
/// Probability that a call is refused with a 429.
pub const P_429: f64 = 0.012;
/// Probability that a call fails with a 500.
pub const P_500: f64 = 0.008;
/// Start of the trace: 2025-12-01T00:00:00Z in Unix ns.
pub const EPOCH_NS: u64 = 1_764_547_200_000_000_000;

/// A model's true parameters.
pub struct ModelTruth {
    pub name: &'static str,
    /// Time to first token in seconds, log-normal (mu, sigma).
    pub ttft_mu: f64,
    pub ttft_sigma: f64,
    /// Decode speed in tokens/s, log-normal (mu, sigma).
    pub decode_mu: f64,
    pub decode_sigma: f64,
    pub max_tokens: u32,
}

/// The two models: sonnet with a median ttft of 1.22 s and 55 tokens/s, haiku with 0.61 s and
/// 120 tokens/s.
pub const MODELS: [ModelTruth; 2] = [
    ModelTruth {
        name: "claude-sonnet-4",
        ttft_mu: 0.2,
        ttft_sigma: 0.45,
        decode_mu: 4.007_333_185_232_471, // ln 55
        decode_sigma: 0.25,
        max_tokens: 4096,
    },
    ModelTruth {
        name: "claude-haiku-3-5",
        ttft_mu: -0.5,
        ttft_sigma: 0.35,
        decode_mu: 4.787_491_742_782_046, // ln 120
        decode_sigma: 0.3,
        max_tokens: 2048,
    },
];

/// The true parameters as TOML (`examples/otel/truth.toml`).
pub fn truth_toml(seed: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# True parameters of the model in examples/otel_trace.rs that generated agents.jsonl.\n# Log-normal (mu, sigma) of the logs: ttft in seconds, decode speed in tokens/s.\nseed = {seed}\njob_rate_per_s = {JOB_RATE}\nwindow_s = {WINDOW_S}\np_429 = {P_429}\np_500 = {P_500}"
    );
    for m in &MODELS {
        let _ = writeln!(
            s,
            "\n[[model]]\nname = \"{}\"\nttft_mu = {}\nttft_sigma = {}\ndecode_mu = {}\ndecode_sigma = {}\nmax_tokens = {}",
            m.name, m.ttft_mu, m.ttft_sigma, m.decode_mu, m.decode_sigma, m.max_tokens
        );
    }
    s
}

fn lognormal(rng: &mut StreamRng, mu: f64, sigma: f64) -> f64 {
    LogNormal::new(mu, sigma).expect("valid").sample(rng)
}

fn uniform(rng: &mut StreamRng, low: f64, high: f64) -> f64 {
    low + (high - low) * unit(rng)
}

fn s(v: impl Into<String>) -> Value {
    json!({ "stringValue": v.into() })
}
fn i(v: i64) -> Value {
    json!({ "intValue": v.to_string() })
}
fn d(v: f64) -> Value {
    json!({ "doubleValue": v })
}

fn attrs(pairs: Vec<(&str, Value)>) -> Value {
    Value::Array(
        pairs
            .into_iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect(),
    )
}

/// SpanKind values of OTLP.
const KIND_INTERNAL: i64 = 1;
const KIND_CLIENT: i64 = 3;

/// One job's spans under construction.
struct Job {
    rng: StreamRng,
    trace_id: String,
    user: String,
    spans: Vec<Value>,
}

impl Job {
    fn span_id(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: &str,
        parent: &str,
        name: String,
        kind: i64,
        start: u64,
        end: u64,
        attributes: Value,
        error: Option<&str>,
    ) {
        let status = match error {
            Some(e) => json!({ "code": 2, "message": e }),
            None => json!({}),
        };
        self.spans.push(json!({
            "traceId": self.trace_id,
            "spanId": id,
            "parentSpanId": parent,
            "name": name,
            "kind": kind,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": end.to_string(),
            "attributes": attributes,
            "status": status,
        }));
    }

    /// One `chat` call (with its retries) starting at `t`; returns its end and output tokens.
    fn chat(
        &mut self,
        t: u64,
        parent: &str,
        model: &ModelTruth,
        conversation: &str,
        input: u64,
        cached: u64,
    ) -> (u64, u64) {
        let mut t = t;
        loop {
            let id = self.span_id();
            let u = unit(&mut self.rng);
            let ttft = lognormal(&mut self.rng, model.ttft_mu, model.ttft_sigma);
            let speed = lognormal(&mut self.rng, model.decode_mu, model.decode_sigma);
            let output = lognormal(&mut self.rng, OUTPUT_MU, OUTPUT_SIGMA)
                .round()
                .clamp(1.0, model.max_tokens as f64) as u64;
            let mut a = vec![
                ("gen_ai.operation.name", s("chat")),
                ("gen_ai.provider.name", s("anthropic")),
                ("gen_ai.request.model", s(model.name)),
                ("gen_ai.request.max_tokens", i(model.max_tokens as i64)),
                ("gen_ai.conversation.id", s(conversation)),
                ("user.id", s(self.user.clone())),
                ("server.address", s("api.anthropic.com")),
            ];
            let (error, duration) = if u < P_429 {
                (Some("429"), uniform(&mut self.rng, 0.05, 0.25))
            } else if u < P_429 + P_500 {
                (Some("500"), ttft + uniform(&mut self.rng, 0.0, 0.5))
            } else {
                (None, ttft + output as f64 / speed)
            };
            let end = t + (duration * 1e9).round() as u64;
            match error {
                Some(e) => a.push(("error.type", s(e))),
                None => {
                    a.push(("gen_ai.response.model", s(model.name)));
                    a.push(("gen_ai.usage.input_tokens", i(input as i64)));
                    a.push(("gen_ai.usage.output_tokens", i(output as i64)));
                    a.push(("gen_ai.usage.cache_read.input_tokens", i(cached as i64)));
                    a.push(("gen_ai.response.time_to_first_chunk", d(ttft)));
                }
            }
            let name = format!("chat {}", model.name);
            self.push(&id, parent, name, KIND_CLIENT, t, end, attrs(a), error);
            if error.is_none() {
                return (end, output);
            }
            t = end + (uniform(&mut self.rng, 1.0, 3.0) * 1e9).round() as u64;
        }
    }

    /// An `invoke_agent` span starting at `t` making `calls` calls separated by tool spans.
    /// Returns the agent's end.
    fn agent(&mut self, t: u64, parent: &str, agent: &str, model: &ModelTruth, calls: u64) -> u64 {
        let id = self.span_id();
        let conversation = format!("{:016x}", self.rng.next_u64());
        let mut now = t + (uniform(&mut self.rng, 0.001, 0.01) * 1e9) as u64;
        let mut input = uniform(&mut self.rng, 1500.0, 6000.0).round() as u64;
        let mut previous_input = 0;
        for call in 0..calls {
            if call > 0 {
                let tool_id = self.span_id();
                let tool =
                    ["web_search", "read_file", "run_code"][(self.rng.next_u64() % 3) as usize];
                let dur = lognormal(&mut self.rng, TOOL_MU, TOOL_SIGMA);
                let end = now + (dur * 1e9).round() as u64;
                let a = attrs(vec![
                    ("gen_ai.operation.name", s("execute_tool")),
                    ("gen_ai.tool.name", s(tool)),
                    ("gen_ai.tool.type", s("function")),
                ]);
                self.push(
                    &tool_id,
                    &id,
                    format!("execute_tool {tool}"),
                    KIND_INTERNAL,
                    now,
                    end,
                    a,
                    None,
                );
                now = end;
                input += uniform(&mut self.rng, 200.0, 3000.0).round() as u64;
            }
            let cached = if call > 0 && unit(&mut self.rng) < 0.9 {
                previous_input
            } else {
                0
            };
            let (end, output) = self.chat(now, &id, model, &conversation, input, cached);
            previous_input = input;
            input += output;
            now = end;
        }
        let end = now + (uniform(&mut self.rng, 0.001, 0.01) * 1e9) as u64;
        let a = attrs(vec![
            ("gen_ai.operation.name", s("invoke_agent")),
            ("gen_ai.provider.name", s("anthropic")),
            ("gen_ai.agent.name", s(agent)),
            ("gen_ai.request.model", s(model.name)),
            ("gen_ai.conversation.id", s(conversation)),
            ("user.id", s(self.user.clone())),
        ]);
        let kind = if parent.is_empty() {
            KIND_CLIENT
        } else {
            KIND_INTERNAL
        };
        self.push(
            &id,
            parent,
            format!("invoke_agent {agent}"),
            kind,
            t,
            end,
            a,
            None,
        );
        end
    }

    fn main_model(&mut self) -> &'static ModelTruth {
        if unit(&mut self.rng) < SONNET_P {
            &MODELS[0]
        } else {
            &MODELS[1]
        }
    }

    fn calls(&mut self) -> u64 {
        2 + self.rng.next_u64() % 4
    }
}

/// The whole trace for `seed`: one `ExportTraceServiceRequest` JSON object per line.
pub fn generate(seed: u64) -> String {
    let mut arrivals = stream(seed, purpose("otel-arrivals"), &[]);
    let mut out = String::new();
    let mut t = 0.0;
    for job in 0u64.. {
        t += -(1.0 - unit(&mut arrivals)).ln() / JOB_RATE;
        if t >= WINDOW_S {
            break;
        }
        let start = EPOCH_NS + (t * 1e9).round() as u64;
        let mut rng = stream(seed, purpose("otel-job"), &[job]);
        let trace_id = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        let user = format!("user-{:02}", rng.next_u64() % USERS);
        let mut j = Job {
            rng,
            trace_id,
            user,
            spans: Vec::new(),
        };
        if unit(&mut j.rng) < PARALLEL_P {
            // Orchestrator: plan, two researchers in parallel, summarise.
            let root = j.span_id();
            let model = j.main_model();
            let conversation = format!("{:016x}", j.rng.next_u64());
            let input = uniform(&mut j.rng, 1500.0, 6000.0).round() as u64;
            let (planned, output) =
                j.chat(start + 2_000_000, &root, model, &conversation, input, 0);
            let mut done = planned;
            for _ in 0..2 {
                let calls = j.calls();
                done = done.max(j.agent(planned, &root, "researcher", &MODELS[1], calls));
            }
            let (summarised, _) = j.chat(
                done,
                &root,
                model,
                &conversation,
                input + output + 2000,
                input,
            );
            let end = summarised + 2_000_000;
            let a = attrs(vec![
                ("gen_ai.operation.name", s("invoke_agent")),
                ("gen_ai.provider.name", s("anthropic")),
                ("gen_ai.agent.name", s("orchestrator")),
                ("gen_ai.request.model", s(model.name)),
                ("gen_ai.conversation.id", s(conversation)),
                ("user.id", s(j.user.clone())),
            ]);
            j.push(
                &root,
                "",
                "invoke_agent orchestrator".into(),
                KIND_CLIENT,
                start,
                end,
                a,
                None,
            );
        } else {
            let model = j.main_model();
            let calls = j.calls();
            j.agent(start, "", "assistant", model, calls);
        }
        let request = json!({
            "resourceSpans": [{
                "resource": { "attributes": attrs(vec![
                    ("service.name", s("agents-demo")),
                    ("telemetry.sdk.language", s("python")),
                ]) },
                "scopeSpans": [{
                    "scope": { "name": "stampede.examples.otel_trace", "version": "0.1.0" },
                    "spans": j.spans,
                }],
                "schemaUrl": "https://opentelemetry.io/schemas/1.37.0",
            }]
        });
        out.push_str(&serde_json::to_string(&request).expect("serialisable"));
        out.push('\n');
    }
    out
}

fn main() -> ExitCode {
    let mut out = PathBuf::from("examples/otel/agents.jsonl");
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--out", Some(v)) => out = PathBuf::from(v),
            ("--seed", Some(v)) => match v.parse() {
                Ok(s) => seed = s,
                Err(_) => {
                    eprintln!("error: --seed takes a whole number, found {v:?}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("usage: otel_trace [--out FILE.jsonl] [--seed N]");
                return ExitCode::from(2);
            }
        }
    }
    let truth = out.with_file_name("truth.toml");
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let trace = generate(seed);
    for (path, text) in [(&out, &trace), (&truth, &truth_toml(seed))] {
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    println!(
        "wrote {} ({} jobs, {} bytes) and {}",
        out.display(),
        trace.lines().count(),
        trace.len(),
        truth.display()
    );
    ExitCode::SUCCESS
}
