//! OpenTelemetry GenAI traces as a workload: recorded agent runs replayed under other policies.
//!
//! Task: let users replay what their agents did, as their tracing recorded it. The input is OTLP
//! JSON as the OpenTelemetry collector's file exporter writes it (one `ExportTraceServiceRequest`
//! object per line), or one such request as a single (pretty-printed) document; any number of
//! requests may follow each other. Spans are read by the GenAI semantic conventions, pinned at
//! **v1.37.0**: an inference span has `gen_ai.operation.name` `chat`, `text_completion` or
//! `generate_content`; an agent span `invoke_agent`; a tool span `execute_tool`.
//!
//! Each job is one root span (a span whose parent is not in the file) or, with
//! [`JobBy::Conversation`], all root spans of one `gen_ai.conversation.id`. Its tree is rebuilt
//! from the spans' times: a span's children sorted by start, children that overlap in time run in
//! parallel, groups that follow each other run in sequence, and the time a span spends outside
//! its children (before the first, between groups, after the last; 1 ms or more) becomes a
//! [`Node::Wait`]. So a tool span without children is a wait of its duration. An inference span
//! becomes one [`Node::Call`] of its recorded sizes.
//!
//! **Retries are regenerated, not copied.** The conventions say an inference span covers the
//! logical call *including its retries* (the HTTP attempts, when traced, are its children). The
//! replay therefore turns each inference span into one logical call and ignores what lies under
//! it: the policy under test decides how many attempts that call takes, against the scenario's
//! providers, so that two policies replay the same recorded work. Likewise the recorded
//! latencies (`gen_ai.response.time_to_first_chunk`, the span's duration) are kept on [`Span`]
//! for calibration; the replay's service times come from the scenario's providers.
//!
//! Bounded: the file is read as a stream up to [`MAX_OTEL_FILE_BYTES`], at most
//! [`MAX_OTEL_SPANS`] spans (counted as they are read, so a file of many tiny spans fails at the
//! first one too many), keeping only the attributes used here; the tree is built with explicit
//! stacks (no recursion over the file's shape) into at most [`MAX_OTEL_NODES`] nodes. Malformed
//! input is an error at its `line:column`; spans that are merely incomplete are skipped, and
//! counted in the warnings returned. Each span keeps the line its object begins on, so that a
//! problem found after parsing (a cycle, an orphan, the node cap) names `file:line` and the span.

use super::raw::{Invalid, MAX_NAME_BYTES, Tenants, invalid};
use crate::model::config::{MAX_TRACE_TENANTS, TraceRow};
use crate::model::dist::Dist;
use crate::model::workload::{CallSpec, Node, PromptCache};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// The most spans one trace file may hold: each is kept in memory (~250 bytes, with repeated
/// strings shared) while the jobs are built.
pub const MAX_OTEL_SPANS: usize = 1_000_000;

/// The most nodes the jobs of one trace file may compile to (a span makes at most three).
pub const MAX_OTEL_NODES: usize = 10_000_000;

/// The most bytes read from a trace file.
pub const MAX_OTEL_FILE_BYTES: u64 = 1 << 30;

/// Time a span spends outside its children shorter than this is not replayed.
pub const MIN_GAP_NS: u64 = 1_000_000;

/// The GenAI semantic conventions release these spans are read by.
pub const SEMCONV_VERSION: &str = "1.37.0";

/// What a span does, by its `gen_ai.operation.name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `chat`: an inference call.
    Chat,
    /// `text_completion`: an inference call.
    TextCompletion,
    /// `generate_content`: an inference call.
    GenerateContent,
    /// `invoke_agent`: an agent, a container of its children.
    InvokeAgent,
    /// `execute_tool`: a tool run.
    ExecuteTool,
    /// Another `gen_ai.operation.name` (`embeddings`, `create_agent`, ...): a container.
    Other(String),
    /// No `gen_ai.operation.name` (an HTTP or framework span): a container.
    None,
}

impl Operation {
    fn parse(name: &str) -> Operation {
        match name {
            "chat" => Operation::Chat,
            "text_completion" => Operation::TextCompletion,
            "generate_content" => Operation::GenerateContent,
            "invoke_agent" => Operation::InvokeAgent,
            "execute_tool" => Operation::ExecuteTool,
            other => Operation::Other(other.to_string()),
        }
    }

    /// An inference call (`chat`, `text_completion`, `generate_content`).
    pub fn is_inference(&self) -> bool {
        matches!(
            self,
            Operation::Chat | Operation::TextCompletion | Operation::GenerateContent
        )
    }
}

/// A string many spans repeat (trace ids, names, models, tenants): stored once per file.
pub type Shared = Arc<str>;

/// Hands out one [`Shared`] per distinct string, so that a million spans of a few models and
/// tenants hold a few copies, not a million.
#[derive(Default)]
struct Interner(HashSet<Shared>);

impl Interner {
    fn get(&mut self, s: String) -> Shared {
        if let Some(a) = self.0.get(s.as_str()) {
            return a.clone();
        }
        let a: Shared = s.into();
        self.0.insert(a.clone());
        a
    }
}

/// One span, with the GenAI attributes stampede uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// The 1-based line of the file its object begins on (what problems found later cite).
    pub line: u32,
    /// `traceId`, hex.
    pub trace_id: Shared,
    /// `spanId`, hex.
    pub span_id: String,
    /// `parentSpanId`; `None` when empty or absent.
    pub parent_id: Option<String>,
    /// `name`.
    pub name: Shared,
    /// `startTimeUnixNano`.
    pub start_ns: u64,
    /// `endTimeUnixNano` (at least `start_ns`).
    pub end_ns: u64,
    /// `gen_ai.operation.name`.
    pub operation: Operation,
    /// `gen_ai.request.model`.
    pub model: Option<Shared>,
    /// `gen_ai.provider.name`, or else the older `gen_ai.system`.
    pub provider: Option<Shared>,
    /// `gen_ai.request.max_tokens`.
    pub max_tokens: Option<u32>,
    /// `gen_ai.usage.input_tokens`.
    pub input_tokens: Option<u32>,
    /// `gen_ai.usage.output_tokens`.
    pub output_tokens: Option<u32>,
    /// `gen_ai.usage.cache_read.input_tokens` (part of the input tokens).
    pub cache_read_tokens: Option<u32>,
    /// `gen_ai.response.time_to_first_chunk`, seconds.
    pub ttft_s: Option<f64>,
    /// `error.type`.
    pub error_type: Option<Shared>,
    /// The span's `status.code` is error (2).
    pub status_error: bool,
    /// `gen_ai.conversation.id`.
    pub conversation_id: Option<Shared>,
    /// The value of [`ReadOptions::tenant_attribute`] on the span, or else on its resource.
    pub tenant: Option<Shared>,
}

impl Span {
    /// `end_ns - start_ns`.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }

    /// `file:line: span TRACE/SPAN "name"`, ids and name cut to 64 bytes (a message stays short
    /// whatever the file holds).
    pub fn at(&self, file: &str) -> String {
        format!(
            "{file}:{}: span {}/{} {:?}",
            self.line,
            cut(&self.trace_id),
            cut(&self.span_id),
            cut(&self.name)
        )
    }
}

/// `s` up to 64 bytes (at a character boundary), with `...` when cut.
fn cut(s: &str) -> String {
    if s.len() <= 64 {
        return s.to_string();
    }
    let mut end = 64;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// How to read a trace.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// The attribute naming a span's tenant (`user.id`, `service.name`), looked up on the span,
    /// then on its resource.
    pub tenant_attribute: Option<String>,
}

/// A trace that cannot be read: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtelError {
    /// The file, as given.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known (a problem with a whole span has its line only).
    pub column: Option<usize>,
    /// What was expected and what was found (and which span, when it is about one).
    pub message: String,
}

impl OtelError {
    /// A problem with span `s` of `file`: `file:line: span ...: message`.
    fn of_span(file: &str, s: &Span, message: impl fmt::Display) -> OtelError {
        OtelError {
            file: file.to_string(),
            line: Some(s.line as usize),
            column: None,
            message: format!(
                "span {}/{} {:?}: {message}",
                cut(&s.trace_id),
                cut(&s.span_id),
                cut(&s.name)
            ),
        }
    }
}

impl fmt::Display for OtelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for OtelError {}

/// Reads every span of the OTLP JSON file at `path` (see the module's documentation).
pub fn read_spans(path: &Path, opts: &ReadOptions) -> Result<Vec<Span>, OtelError> {
    read_spans_at_most(path, opts, MAX_OTEL_SPANS)
}

fn read_spans_at_most(
    path: &Path,
    opts: &ReadOptions,
    max_spans: usize,
) -> Result<Vec<Span>, OtelError> {
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| OtelError {
        file: file.clone(),
        line: None,
        column: None,
        message: format!("cannot read trace: {e}"),
    })?;
    let reader = Limit {
        inner: std::io::BufReader::new(f),
        left: MAX_OTEL_FILE_BYTES,
    };
    let stream = serde_json::Deserializer::from_reader(reader).into_iter::<Request>();
    collect(stream, &file, opts, max_spans)
}

/// [`read_spans`] on text already in memory; `file` names it in errors.
pub fn parse_spans(text: &str, file: &str, opts: &ReadOptions) -> Result<Vec<Span>, OtelError> {
    // Through the reader, like a file: the line count comes from the bytes it passes on.
    let reader = Limit {
        inner: text.as_bytes(),
        left: MAX_OTEL_FILE_BYTES,
    };
    let stream = serde_json::Deserializer::from_reader(reader).into_iter::<Request>();
    collect(stream, file, opts, MAX_OTEL_SPANS)
}

thread_local! {
    /// The line the JSON parser has reached: [`Limit`] counts the newlines it passes on, and
    /// serde_json reads a reader one byte at a time, without reading ahead into the next value.
    static LINE: Cell<u32> = const { Cell::new(1) };
}

/// Passes bytes through up to a limit, then fails; counts the newlines it passes in [`LINE`].
struct Limit<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for Limit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a file of exactly the limit from a longer one.
            let mut one = [0u8];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "larger than {} MiB, the most stampede reads from a trace (is it the right file?)",
                        MAX_OTEL_FILE_BYTES >> 20
                    ),
                )),
            };
        }
        let n = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got as u64;
        let newlines = buf[..got].iter().filter(|&&b| b == b'\n').count() as u32;
        if newlines > 0 {
            LINE.with(|l| l.set(l.get().saturating_add(newlines)));
        }
        Ok(got)
    }
}

fn collect<I>(
    stream: I,
    file: &str,
    opts: &ReadOptions,
    max_spans: usize,
) -> Result<Vec<Span>, OtelError>
where
    I: Iterator<Item = Result<Request, serde_json::Error>>,
{
    CONTEXT.with(|c| {
        *c.borrow_mut() = Context {
            tenant_key: opts.tenant_attribute.clone(),
            spans: 0,
            max_spans,
        }
    });
    LINE.with(|l| l.set(1));
    let mut spans = Vec::new();
    let mut interner = Interner::default();
    for request in stream {
        let request = request.map_err(|e| json_error(file, &e))?;
        for rs in request.resource_spans {
            let resource_tenant = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.0.iter().find(|(k, _)| k.is_tenant))
                .and_then(|(_, v)| v.text())
                .map(|t| interner.get(t));
            for ss in rs.scope_spans {
                for raw in ss.spans.0 {
                    let span =
                        raw.span
                            .into_span(raw.line, resource_tenant.as_ref(), &mut interner);
                    if span.end_ns < span.start_ns {
                        return Err(OtelError::of_span(
                            file,
                            &span,
                            format_args!(
                                "expected an endTimeUnixNano at least its startTimeUnixNano ({}), found {}",
                                span.start_ns, span.end_ns
                            ),
                        ));
                    }
                    spans.push(span);
                }
            }
        }
    }
    Ok(spans)
}

fn json_error(file: &str, e: &serde_json::Error) -> OtelError {
    let full = e.to_string();
    let (line, column, message) = if e.line() == 0 {
        (None, None, full)
    } else {
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        (Some(e.line()), Some(e.column()), message)
    };
    OtelError {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// What the deserializers need to know: which attribute names a tenant, and how many spans
/// have been read (the cap is checked as each is read).
struct Context {
    tenant_key: Option<String>,
    spans: usize,
    max_spans: usize,
}

thread_local! {
    static CONTEXT: RefCell<Context> = const {
        RefCell::new(Context { tenant_key: None, spans: 0, max_spans: MAX_OTEL_SPANS })
    };
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default)]
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans {
    #[serde(default)]
    resource: Option<Resource>,
    #[serde(default)]
    scope_spans: Vec<ScopeSpans>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    attributes: Attrs,
}

#[derive(Deserialize)]
struct ScopeSpans {
    #[serde(default)]
    spans: SpanList,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpan {
    trace_id: String,
    span_id: String,
    #[serde(default)]
    parent_span_id: String,
    #[serde(default)]
    name: String,
    #[serde(deserialize_with = "nanos")]
    start_time_unix_nano: u64,
    #[serde(deserialize_with = "nanos")]
    end_time_unix_nano: u64,
    #[serde(default)]
    attributes: Attrs,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// A number as OTLP JSON writes it: 64-bit integers as strings, doubles as numbers or as
/// `"NaN"`, `"Infinity"`.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
enum Num {
    Int(u64),
    Neg(i64),
    Float(f64),
    Text(String),
}

impl Num {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Num::Int(v) => Some(*v),
            Num::Text(s) => s.trim().parse().ok(),
            Num::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19 => Some(*f as u64),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Num::Int(v) => Some(*v as f64),
            Num::Neg(v) => Some(*v as f64),
            Num::Float(f) => Some(*f),
            Num::Text(s) => s.trim().parse().ok(),
        }
    }

    fn text(&self) -> String {
        match self {
            Num::Int(v) => v.to_string(),
            Num::Neg(v) => v.to_string(),
            Num::Float(f) => f.to_string(),
            Num::Text(s) => s.clone(),
        }
    }
}

fn nanos<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = Num::deserialize(d)?;
    n.as_u64().ok_or_else(|| {
        de::Error::custom(format!(
            "expected nanoseconds since the epoch (a string of digits), found {:?}",
            n.text()
        ))
    })
}

/// An attribute's value; arrays, maps and bytes are skipped.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
struct AnyValue {
    string_value: Option<String>,
    int_value: Option<Num>,
    double_value: Option<Num>,
    bool_value: Option<bool>,
}

impl AnyValue {
    fn text(&self) -> Option<String> {
        if let Some(s) = &self.string_value {
            return Some(s.clone());
        }
        if let Some(n) = self.int_value.as_ref().or(self.double_value.as_ref()) {
            return Some(n.text());
        }
        self.bool_value.map(|b| b.to_string())
    }

    fn count(&self) -> Option<u32> {
        let v = match (&self.int_value, &self.double_value, &self.string_value) {
            (Some(n), _, _) | (None, Some(n), _) => n.as_u64(),
            (None, None, Some(s)) => s.trim().parse().ok(),
            _ => None,
        }?;
        u32::try_from(v).ok()
    }

    fn secs(&self) -> Option<f64> {
        let v = match (&self.double_value, &self.int_value, &self.string_value) {
            (Some(n), _, _) | (None, Some(n), _) => n.as_f64(),
            (None, None, Some(s)) => s.trim().parse().ok(),
            _ => None,
        }?;
        (v.is_finite() && v >= 0.0).then_some(v)
    }
}

/// The attributes read; every other is skipped as it is read.
const KEYS: [&str; 12] = [
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.request.max_tokens",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.conversation.id",
    "error.type",
    "gen_ai.response.time_to_first_chunk",
    "",
];

struct Key {
    name: &'static str,
    is_tenant: bool,
}

/// The attributes kept: at most one per key of [`KEYS`] and the tenant key (the first wins).
#[derive(Default)]
struct Attrs(Vec<(Key, AnyValue)>);

impl Attrs {
    fn get(&self, name: &str) -> Option<&AnyValue> {
        self.0.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
    }
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    #[serde(default)]
    value: AnyValue,
}

impl<'de> Deserialize<'de> for Attrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attrs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of attributes ({\"key\": ..., \"value\": {...}})")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Attrs, A::Error> {
                let tenant_key = CONTEXT.with(|c| c.borrow().tenant_key.clone());
                let mut kept: Vec<(Key, AnyValue)> = Vec::new();
                while let Some(kv) = seq.next_element::<KeyValue>()? {
                    let is_tenant = tenant_key.as_deref() == Some(kv.key.as_str());
                    let name = KEYS[..KEYS.len() - 1]
                        .iter()
                        .find(|k| **k == kv.key)
                        .copied()
                        .unwrap_or("");
                    if (name.is_empty() && !is_tenant)
                        || kept
                            .iter()
                            .any(|(k, _)| k.name == name && k.is_tenant == is_tenant)
                    {
                        continue;
                    }
                    kept.push((Key { name, is_tenant }, kv.value));
                }
                Ok(Attrs(kept))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A span and the line its object begins on.
struct Located {
    line: u32,
    span: RawSpan,
}

impl<'de> Deserialize<'de> for Located {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Located;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a span object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Located, A::Error> {
                // The parser has just read the `{`: [`LINE`] is its line.
                let line = LINE.with(Cell::get);
                let span = RawSpan::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Located { line, span })
            }
        }
        d.deserialize_map(V)
    }
}

/// A list of spans, counted against the cap as each is read.
#[derive(Default)]
struct SpanList(Vec<Located>);

impl<'de> Deserialize<'de> for SpanList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SpanList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of spans")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpanList, A::Error> {
                let mut out = Vec::new();
                while let Some(span) = seq.next_element::<Located>()? {
                    let over = CONTEXT.with(|c| {
                        let mut c = c.borrow_mut();
                        c.spans += 1;
                        (c.spans > c.max_spans).then_some(c.max_spans)
                    });
                    if let Some(max) = over {
                        return Err(de::Error::custom(format!(
                            "expected at most {max} spans, found more"
                        )));
                    }
                    out.push(span);
                }
                Ok(SpanList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

impl RawSpan {
    fn into_span(
        self,
        line: u32,
        resource_tenant: Option<&Shared>,
        interner: &mut Interner,
    ) -> Span {
        let trace_id = interner.get(self.trace_id);
        let name = interner.get(self.name);
        let a = &self.attributes;
        let mut text = |k: &str| a.get(k).and_then(AnyValue::text).map(|t| interner.get(t));
        let count = |k: &str| a.get(k).and_then(AnyValue::count);
        let status_error = self
            .status
            .and_then(|s| s.code)
            .is_some_and(|c| c == 2 || c == "STATUS_CODE_ERROR");
        Span {
            line,
            parent_id: (!self.parent_span_id.is_empty()).then_some(self.parent_span_id),
            trace_id,
            span_id: self.span_id,
            name,
            start_ns: self.start_time_unix_nano,
            end_ns: self.end_time_unix_nano,
            operation: a
                .get("gen_ai.operation.name")
                .and_then(AnyValue::text)
                .map_or(Operation::None, |o| Operation::parse(&o)),
            model: text("gen_ai.request.model"),
            provider: match text("gen_ai.provider.name") {
                Some(p) => Some(p),
                None => text("gen_ai.system"),
            },
            max_tokens: count("gen_ai.request.max_tokens"),
            input_tokens: count("gen_ai.usage.input_tokens"),
            output_tokens: count("gen_ai.usage.output_tokens"),
            cache_read_tokens: count("gen_ai.usage.cache_read.input_tokens"),
            ttft_s: a
                .get("gen_ai.response.time_to_first_chunk")
                .and_then(AnyValue::secs),
            error_type: text("error.type"),
            status_error,
            conversation_id: text("gen_ai.conversation.id"),
            tenant: match a
                .0
                .iter()
                .find(|(k, _)| k.is_tenant)
                .and_then(|(_, v)| v.text())
            {
                Some(t) => Some(interner.get(t)),
                None => resource_tenant.cloned(),
            },
        }
    }
}

/// What makes one job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobBy {
    /// Each root span.
    #[default]
    Root,
    /// All root spans of one `gen_ai.conversation.id` (a root's own, or else the first found
    /// below it); roots without one are jobs of their own.
    Conversation,
}

/// One replayed job.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Start of its earliest root span, ns since the epoch.
    pub start_ns: u64,
    /// The tenant attribute of its first span that has one.
    pub tenant: Option<String>,
    /// That span's index in the spans (a bad tenant name is reported at its line).
    pub tenant_span: Option<usize>,
    /// Its root node in the `nodes` the jobs were built into.
    pub root: usize,
}

/// Jobs built from spans, in order of start, and what was left out.
#[derive(Clone, Debug, Default)]
pub struct Built {
    pub jobs: Vec<Job>,
    pub warnings: Vec<String>,
}

/// A warning about `count` spans alike: the first's `file:line` and ids, then `what`.
fn warn_first(file: &str, first: &Span, count: usize, what: &str) -> String {
    format!("{} {what} ({count} span(s) like it in all)", first.at(file))
}

/// Builds one job per root span (or conversation) into `nodes`, at most `max_nodes` in all.
/// Errors and warnings name `file:line` and the span (the first, when they count several).
pub fn build_jobs(
    spans: &[Span],
    file: &str,
    job_by: JobBy,
    nodes: &mut Vec<Node>,
    max_nodes: usize,
) -> Result<Built, OtelError> {
    let n = spans.len();
    let mut warnings = Vec::new();
    // Index, first of each (trace, span) id.
    let mut index: HashMap<(&str, &str), usize> = HashMap::with_capacity(n);
    let mut duplicate = vec![false; n];
    for (i, s) in spans.iter().enumerate() {
        let k = (&*s.trace_id, s.span_id.as_str());
        match index.entry(k) {
            std::collections::hash_map::Entry::Occupied(_) => duplicate[i] = true,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
        }
    }
    let duplicates = duplicate.iter().filter(|d| **d).count();
    if let Some(first) = duplicate.iter().position(|d| *d) {
        let s = &spans[first];
        let earlier = index[&(&*s.trace_id, s.span_id.as_str())];
        warnings.push(warn_first(
            file,
            s,
            duplicates,
            &format!(
                "repeats the trace and span ids of the span at line {}: ignored",
                spans[earlier].line
            ),
        ));
    }
    // Inference spans without usage are kept as time only.
    let mut call = vec![false; n];
    let mut no_usage = 0usize;
    let mut first_no_usage = None;
    for (i, s) in spans.iter().enumerate() {
        if s.operation.is_inference() {
            if s.input_tokens.is_some() && s.output_tokens.is_some() {
                call[i] = true;
            } else if !duplicate[i] {
                no_usage += 1;
                first_no_usage.get_or_insert(i);
            }
        }
    }
    if let Some(first) = first_no_usage {
        warnings.push(warn_first(
            file,
            &spans[first],
            no_usage,
            "is an inference span without usable gen_ai.usage.input_tokens and \
             gen_ai.usage.output_tokens (whole numbers below 2^32): skipped as a call, its time \
             kept as a wait",
        ));
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    let mut orphans = 0usize;
    let mut first_orphan = None;
    for (i, s) in spans.iter().enumerate() {
        if duplicate[i] {
            continue;
        }
        match s
            .parent_id
            .as_deref()
            .and_then(|p| index.get(&(&*s.trace_id, p)))
        {
            Some(&p) => children[p].push(i),
            None => {
                if s.parent_id.is_some() {
                    orphans += 1;
                    first_orphan.get_or_insert(i);
                }
                roots.push(i);
            }
        }
    }
    if let Some(first) = first_orphan {
        warnings.push(warn_first(
            file,
            &spans[first],
            orphans,
            "names a parent that is not in the file: it is a root",
        ));
    }
    // Pre-order walks from each root: its conversation and tenant, and what is reachable.
    let mut reached = vec![false; n];
    let mut under_calls = 0usize;
    let mut first_under_call = None;
    let mut conv_of_root: Vec<Option<&str>> = Vec::with_capacity(roots.len());
    let mut tenant_of_root: Vec<Option<usize>> = Vec::with_capacity(roots.len());
    let mut stack = Vec::new();
    for &r in &roots {
        let (mut conv, mut tenant) = (None, None);
        stack.push(r);
        while let Some(s) = stack.pop() {
            if std::mem::replace(&mut reached[s], true) {
                continue;
            }
            conv = conv.or(spans[s].conversation_id.as_deref());
            if tenant.is_none() && spans[s].tenant.is_some() {
                tenant = Some(s);
            }
            if call[s] {
                under_calls += children[s].len();
                if let Some(&c) = children[s].first() {
                    first_under_call.get_or_insert(c);
                }
                continue;
            }
            stack.extend(children[s].iter().rev());
        }
        conv_of_root.push(conv);
        tenant_of_root.push(tenant);
    }
    if let Some(first) = first_under_call {
        warnings.push(warn_first(
            file,
            &spans[first],
            under_calls,
            "lies under an inference span: ignored (an inference span is one logical call, \
             its retries regenerated by the policy)",
        ));
    }
    if reached.iter().zip(&duplicate).any(|(r, d)| !r && !d) {
        // Spans under inference spans are not walked: count only those in parent cycles.
        let mut in_cycles = (0..n)
            .filter(|&i| !duplicate[i] && !reached[i])
            .filter(|&i| {
                // Walk up at most n steps: a cycle never reaches a root.
                let mut at = i;
                for _ in 0..=n {
                    if reached[at] {
                        return false;
                    }
                    match spans[at]
                        .parent_id
                        .as_deref()
                        .and_then(|p| index.get(&(&*spans[at].trace_id, p)))
                    {
                        Some(&p) => at = p,
                        None => return false,
                    }
                }
                true
            });
        if let Some(first) = in_cycles.next() {
            let count = 1 + in_cycles.count();
            warnings.push(warn_first(
                file,
                &spans[first],
                count,
                "is in a parent cycle (no root above it): ignored",
            ));
        }
    }
    // Group the roots into jobs.
    let mut groups: Vec<Vec<usize>> = Vec::new(); // positions in `roots`
    match job_by {
        JobBy::Root => groups.extend((0..roots.len()).map(|k| vec![k])),
        JobBy::Conversation => {
            let mut by_conv: HashMap<&str, usize> = HashMap::new();
            for (k, conv) in conv_of_root.iter().enumerate() {
                match conv {
                    Some(c) => {
                        let g = *by_conv.entry(c).or_insert_with(|| {
                            groups.push(Vec::new());
                            groups.len() - 1
                        });
                        groups[g].push(k);
                    }
                    None => groups.push(vec![k]),
                }
            }
        }
    }
    let mut b = Builder {
        spans,
        nodes,
        max_nodes,
    };
    let at = |s: usize, message: String| OtelError::of_span(file, &spans[s], message);
    let mut node_of = vec![usize::MAX; n];
    let mut jobs = Vec::with_capacity(groups.len());
    let mut walk: Vec<(usize, bool)> = Vec::new();
    for group in &groups {
        for &k in group {
            walk.push((roots[k], false));
            while let Some((s, expanded)) = walk.pop() {
                if call[s] {
                    node_of[s] = b.call(&spans[s]).map_err(|m| at(s, m))?;
                } else if expanded {
                    let kids = &mut children[s];
                    node_of[s] = b
                        .arrange(spans[s].start_ns, spans[s].end_ns, kids, &node_of)
                        .map_err(|m| at(s, m))?;
                } else {
                    walk.push((s, true));
                    walk.extend(children[s].iter().map(|&c| (c, false)));
                }
            }
        }
        let mut members: Vec<usize> = group.iter().map(|&k| roots[k]).collect();
        let start = members
            .iter()
            .map(|&s| spans[s].start_ns)
            .min()
            .unwrap_or(0);
        let end = members.iter().map(|&s| spans[s].end_ns).max().unwrap_or(0);
        let first = members[0];
        let root = if members.len() == 1 {
            node_of[first]
        } else {
            b.arrange(start, end, &mut members, &node_of)
                .map_err(|m| at(first, m))?
        };
        let tenant_span = group.iter().find_map(|&k| tenant_of_root[k]);
        jobs.push(Job {
            start_ns: start,
            tenant: tenant_span.and_then(|s| spans[s].tenant.as_deref().map(str::to_string)),
            tenant_span,
            root,
        });
    }
    jobs.sort_by_key(|j| j.start_ns);
    Ok(Built { jobs, warnings })
}

struct Builder<'a> {
    spans: &'a [Span],
    nodes: &'a mut Vec<Node>,
    max_nodes: usize,
}

impl Builder<'_> {
    fn push(&mut self, node: Node) -> Result<usize, String> {
        if self.nodes.len() >= self.max_nodes {
            return Err(format!(
                "expected a trace of at most {} nodes, found more",
                self.max_nodes
            ));
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn wait(&mut self, ns: u64) -> Result<usize, String> {
        self.push(Node::Wait {
            secs: Dist::Constant(ns as f64 / 1e9),
        })
    }

    /// An inference span as a call of its recorded sizes: `max_tokens` the request's (at least
    /// the output), the cached prefix the cache reads, always a hit.
    fn call(&mut self, s: &Span) -> Result<usize, String> {
        let input = s.input_tokens.unwrap_or(0);
        let output = s.output_tokens.unwrap_or(0);
        let cache = s.cache_read_tokens.filter(|&c| c > 0).map(|c| PromptCache {
            tokens: Dist::Constant(f64::from(c.min(input))),
            hit_rate: 1.0,
        });
        self.push(Node::Call(CallSpec {
            prompt_tokens: Dist::Constant(f64::from(input)),
            max_tokens: s.max_tokens.unwrap_or(output).max(output).max(1),
            output_tokens: Dist::Constant(f64::from(output)),
            cache,
        }))
    }

    /// A container from `start` to `end` over `kids` (already built): overlapping runs in
    /// parallel, runs in sequence, time outside them as waits.
    fn arrange(
        &mut self,
        start: u64,
        end: u64,
        kids: &mut [usize],
        node_of: &[usize],
    ) -> Result<usize, String> {
        let spans = self.spans;
        kids.sort_by_key(|&k| (spans[k].start_ns, spans[k].end_ns, k));
        let mut steps = Vec::new();
        let mut cursor = start;
        let mut i = 0;
        while i < kids.len() {
            let first = spans[kids[i]].start_ns;
            let mut group_end = spans[kids[i]].end_ns;
            let mut j = i + 1;
            while j < kids.len() && spans[kids[j]].start_ns < group_end {
                group_end = group_end.max(spans[kids[j]].end_ns);
                j += 1;
            }
            if first.saturating_sub(cursor) >= MIN_GAP_NS {
                steps.push(self.wait(first - cursor)?);
            }
            if j == i + 1 {
                steps.push(node_of[kids[i]]);
            } else {
                let mut branches = Vec::with_capacity(j - i);
                for &k in &kids[i..j] {
                    let offset = spans[k].start_ns - first;
                    if offset >= MIN_GAP_NS {
                        let w = self.wait(offset)?;
                        branches.push(self.push(Node::Seq {
                            steps: vec![w, node_of[k]],
                        })?);
                    } else {
                        branches.push(node_of[k]);
                    }
                }
                steps.push(self.push(Node::Parallel { branches })?);
            }
            cursor = cursor.max(group_end);
            i = j;
        }
        if end.saturating_sub(cursor) >= MIN_GAP_NS {
            steps.push(self.wait(end - cursor)?);
        }
        if steps.len() == 1 {
            Ok(steps[0])
        } else {
            self.push(Node::Seq { steps })
        }
    }
}

/// Reads an `otel` source's trace `file` (relative to `base_dir`) into `nodes`: one trace row
/// per job, at its start relative to the earliest job's, its tenant from `tenant_attribute`
/// (registered in `tenants`) or else `default_tenant`. Returns the rows and the warnings.
#[allow(clippy::too_many_arguments)]
pub(super) fn read_source(
    file: &Spanned<String>,
    path: &str,
    base_dir: Option<&Path>,
    default_tenant: u32,
    tenant_attribute: Option<&Spanned<String>>,
    by_conversation: bool,
    nodes: &mut Vec<Node>,
    tenants: &mut Tenants,
) -> Result<(Vec<TraceRow>, Vec<String>), Invalid> {
    let full = base_dir.map_or_else(
        || Path::new(file.get_ref()).to_path_buf(),
        |d| d.join(file.get_ref()),
    );
    let fail = |message: String| {
        invalid::<(Vec<TraceRow>, Vec<String>)>(Some(file.span()), path.to_string(), message)
    };
    let opts = ReadOptions {
        tenant_attribute: tenant_attribute.map(|t| t.get_ref().clone()),
    };
    let spans = match read_spans(&full, &opts) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let job_by = if by_conversation {
        JobBy::Conversation
    } else {
        JobBy::Root
    };
    let shown = full.display().to_string();
    let built = match build_jobs(&spans, &shown, job_by, nodes, MAX_OTEL_NODES) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let Some(first) = built.jobs.first().map(|j| j.start_ns) else {
        return fail(format!("trace {} has no spans", full.display()));
    };
    let mut rows = Vec::with_capacity(built.jobs.len());
    for job in built.jobs {
        // The span the tenant came from, for the messages below.
        let from = || {
            job.tenant_span
                .map_or(shown.clone(), |s| spans[s].at(&shown))
        };
        let tenant = match job.tenant {
            None => default_tenant,
            Some(name) if name.len() > MAX_NAME_BYTES => {
                return fail(format!(
                    "{}: expected a tenant name of at most {MAX_NAME_BYTES} bytes, found {} bytes",
                    from(),
                    name.len()
                ));
            }
            Some(name) => {
                if tenants.get(&name).is_none() && tenants.names.len() >= MAX_TRACE_TENANTS {
                    return fail(format!(
                        "{}: expected at most {MAX_TRACE_TENANTS} tenants in all, found more",
                        from()
                    ));
                }
                tenants.intern(name)
            }
        };
        rows.push(TraceRow {
            at_ns: job.start_ns - first,
            tenant,
            root: job.root,
            prompt_tokens: None,
            output_tokens: None,
        });
    }
    drop(spans);
    Ok((rows, built.warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000_000_000;

    /// A span from `start_ms` to `end_ms`, with `op` as its operation and `usage` its tokens.
    fn span(
        id: &str,
        parent: &str,
        (start_ms, end_ms): (u64, u64),
        op: &str,
        usage: Option<(u32, u32)>,
    ) -> String {
        let mut attrs = vec![format!(
            r#"{{"key":"gen_ai.operation.name","value":{{"stringValue":"{op}"}}}}"#
        )];
        if let Some((i, o)) = usage {
            attrs.push(format!(
                r#"{{"key":"gen_ai.usage.input_tokens","value":{{"intValue":"{i}"}}}}"#
            ));
            attrs.push(format!(
                r#"{{"key":"gen_ai.usage.output_tokens","value":{{"intValue":"{o}"}}}}"#
            ));
        }
        format!(
            r#"{{"traceId":"t1","spanId":"{id}","parentSpanId":"{parent}","name":"{id}","startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{}]}}"#,
            T0 + start_ms * 1_000_000,
            T0 + end_ms * 1_000_000,
            attrs.join(",")
        )
    }

    fn line(spans: &[String]) -> String {
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        ) + "\n"
    }

    fn build(text: &str) -> (Built, Vec<Node>) {
        let spans = parse_spans(text, "t.jsonl", &ReadOptions::default()).unwrap();
        let mut nodes = Vec::new();
        let b = build_jobs(&spans, "t.jsonl", JobBy::Root, &mut nodes, MAX_OTEL_NODES).unwrap();
        (b, nodes)
    }

    /// The tree under `root` as text: `call(in,out)`, `wait(ms)`, `seq[..]`, `par[..]`.
    fn show(nodes: &[Node], root: usize) -> String {
        match &nodes[root] {
            Node::Call(c) => format!(
                "call({},{})",
                c.prompt_tokens.mean(),
                c.output_tokens.mean()
            ),
            Node::Wait { secs } => format!("wait({})", (secs.mean() * 1000.0).round()),
            Node::Seq { steps } => format!(
                "seq[{}]",
                steps
                    .iter()
                    .map(|&s| show(nodes, s))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Node::Parallel { branches } => format!(
                "par[{}]",
                branches
                    .iter()
                    .map(|&s| show(nodes, s))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            _ => "?".into(),
        }
    }

    #[test]
    fn children_that_follow_each_other_run_in_sequence_with_gaps_as_waits() {
        let text = line(&[
            span("r", "", (0, 500), "invoke_agent", None),
            span("a", "r", (0, 100), "chat", Some((10, 1))),
            span("b", "r", (300, 500), "chat", Some((20, 2))),
        ]);
        let (b, nodes) = build(&text);
        assert_eq!(b.jobs.len(), 1);
        assert!(b.warnings.is_empty(), "{:?}", b.warnings);
        assert_eq!(
            show(&nodes, b.jobs[0].root),
            "seq[call(10,1),wait(200),call(20,2)]"
        );
    }

    #[test]
    fn overlapping_children_run_in_parallel_each_after_its_offset() {
        let text = line(&[
            span("r", "", (0, 400), "invoke_agent", None),
            span("a", "r", (0, 300), "chat", Some((10, 1))),
            span("b", "r", (100, 400), "chat", Some((20, 2))),
        ]);
        let (b, nodes) = build(&text);
        assert_eq!(
            show(&nodes, b.jobs[0].root),
            "par[call(10,1),seq[wait(100),call(20,2)]]"
        );
    }

    #[test]
    fn nested_agents_with_tools_keep_their_shape() {
        let text = line(&[
            span("r", "", (0, 1000), "invoke_agent", None),
            span("p", "r", (0, 100), "chat", Some((1, 1))),
            span("s1", "r", (100, 600), "invoke_agent", None),
            span("s2", "r", (100, 700), "invoke_agent", None),
            span("c1", "s1", (100, 200), "chat", Some((2, 2))),
            span("t1", "s1", (200, 600), "execute_tool", None),
            span("c2", "s2", (100, 700), "chat", Some((3, 3))),
            span("f", "r", (700, 1000), "chat", Some((4, 4))),
        ]);
        let (b, nodes) = build(&text);
        assert_eq!(
            show(&nodes, b.jobs[0].root),
            "seq[call(1,1),par[seq[call(2,2),wait(400)],call(3,3)],call(4,4)]"
        );
    }

    #[test]
    fn an_orphan_is_a_root_of_its_own_with_a_warning() {
        let text = line(&[
            span("r", "", (0, 100), "chat", Some((1, 1))),
            span("o", "gone", (50, 150), "chat", Some((2, 2))),
        ]);
        let (b, nodes) = build(&text);
        assert_eq!(b.jobs.len(), 2);
        assert_eq!(b.jobs[1].start_ns - b.jobs[0].start_ns, 50_000_000);
        assert_eq!(show(&nodes, b.jobs[1].root), "call(2,2)");
        assert_eq!(b.warnings.len(), 1);
        assert!(
            b.warnings[0].starts_with("t.jsonl:1: span t1/o \"o\" names a parent"),
            "{:?}",
            b.warnings
        );
    }

    #[test]
    fn inference_spans_without_usage_are_skipped_and_counted() {
        let text = line(&[
            span("r", "", (0, 300), "invoke_agent", None),
            span("a", "r", (0, 100), "chat", None),
            span("b", "r", (100, 300), "chat", Some((5, 5))),
            span("c", "", (400, 500), "text_completion", None),
        ]);
        let (b, nodes) = build(&text);
        assert_eq!(show(&nodes, b.jobs[0].root), "seq[wait(100),call(5,5)]");
        assert!(
            b.warnings[0].starts_with("t.jsonl:1: span t1/a \"a\" is an inference span without"),
            "{:?}",
            b.warnings
        );
        assert!(
            b.warnings[0].ends_with("(2 span(s) like it in all)"),
            "{:?}",
            b.warnings
        );
    }

    #[test]
    fn jobs_by_conversation_join_the_roots_of_one_conversation() {
        let conv = |id: &str, start, end| {
            span(id, "", (start, end), "chat", Some((1, 1))).replace(
                r#""attributes":["#,
                r#""attributes":[{"key":"gen_ai.conversation.id","value":{"stringValue":"c"}},"#,
            )
        };
        let text = line(&[conv("a", 0, 100), conv("b", 600, 700)]);
        let spans = parse_spans(&text, "t.jsonl", &ReadOptions::default()).unwrap();
        assert_eq!(spans[0].conversation_id.as_deref(), Some("c"));
        let mut nodes = Vec::new();
        let b = build_jobs(
            &spans,
            "t.jsonl",
            JobBy::Conversation,
            &mut nodes,
            MAX_OTEL_NODES,
        )
        .unwrap();
        assert_eq!(b.jobs.len(), 1);
        assert_eq!(
            show(&nodes, b.jobs[0].root),
            "seq[call(1,1),wait(500),call(1,1)]"
        );
    }

    #[test]
    fn a_malformed_line_is_an_error_at_its_line_and_column() {
        let good = line(&[span("r", "", (0, 100), "chat", Some((1, 1)))]);
        let text = format!("{good}{good}{{\"resourceSpans\": 7}}\n");
        let e = parse_spans(&text, "t.jsonl", &ReadOptions::default()).unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("t.jsonl:3:"), "{e}");
        let bad_time = good.replace(&format!("\"{}\"", T0), "\"soon\"");
        let e = parse_spans(&bad_time, "t.jsonl", &ReadOptions::default()).unwrap_err();
        assert!(e.message.contains("expected nanoseconds"), "{e}");
        let backwards = line(&[span("r", "", (100, 0), "chat", None)]);
        let e = parse_spans(&backwards, "t.jsonl", &ReadOptions::default()).unwrap_err();
        assert!(e.message.contains("expected an endTimeUnixNano"), "{e}");
    }

    #[test]
    fn a_span_ending_before_its_start_mid_file_is_an_error_at_its_line() {
        let good = line(&[span("r", "", (0, 100), "chat", Some((1, 1)))]);
        let bad = line(&[
            span("x", "", (0, 100), "chat", Some((1, 1))),
            span("b", "", (100, 0), "chat", Some((1, 1))),
        ]);
        let text = format!("{good}{good}{bad}{good}{good}");
        let e = parse_spans(&text, "t.jsonl", &ReadOptions::default()).unwrap_err();
        assert_eq!((e.line, e.column), (Some(3), None), "{e}");
        assert!(
            e.to_string()
                .starts_with("t.jsonl:3: span t1/b \"b\": expected an endTimeUnixNano"),
            "{e}"
        );
    }

    #[test]
    fn each_span_keeps_the_line_its_object_begins_on() {
        let lines = [
            line(&[span("a", "", (0, 100), "chat", Some((1, 1)))]),
            "\n".to_string(),
            line(&[
                span("b", "", (0, 100), "chat", Some((1, 1))),
                span("c", "b", (0, 100), "chat", Some((1, 1))),
            ]),
        ];
        let spans = parse_spans(&lines.concat(), "t.jsonl", &ReadOptions::default()).unwrap();
        let at: Vec<u32> = spans.iter().map(|s| s.line).collect();
        assert_eq!(at, [1, 3, 3]);
        // Pretty-printed: the line of each span's `{`.
        let pretty = "{\"resourceSpans\": [{\"scopeSpans\": [{\"spans\": [\n  {\"traceId\": \"t\",\n   \"spanId\": \"1\", \"startTimeUnixNano\": \"0\", \"endTimeUnixNano\": \"0\"},\n\n  {\n   \"traceId\": \"t\", \"spanId\": \"2\", \"startTimeUnixNano\": \"0\", \"endTimeUnixNano\": \"0\"}\n]}]}]}\n";
        let spans = parse_spans(pretty, "t.json", &ReadOptions::default()).unwrap();
        let at: Vec<u32> = spans.iter().map(|s| s.line).collect();
        assert_eq!(at, [2, 5]);
    }

    #[test]
    fn warnings_name_the_line_and_ids_of_the_first_span_they_count() {
        let text = [
            line(&[span("r", "", (0, 100), "chat", Some((1, 1)))]),
            line(&[span("r", "", (0, 100), "chat", Some((1, 1)))]),
            line(&[span("p", "", (0, 300), "invoke_agent", None)]),
            line(&[
                span("q", "p", (0, 100), "chat", Some((1, 1))),
                span("o", "gone", (0, 100), "chat", Some((1, 1))),
            ]),
            line(&[span("u", "q", (0, 50), "other", None)]),
        ]
        .concat();
        let (b, _) = build(&text);
        let w = b.warnings.join("\n");
        assert!(
            w.contains(
                "t.jsonl:2: span t1/r \"r\" repeats the trace and span ids of the span at line 1"
            ),
            "{w}"
        );
        assert!(
            w.contains("t.jsonl:4: span t1/o \"o\" names a parent"),
            "{w}"
        );
        assert!(
            w.contains("t.jsonl:5: span t1/u \"u\" lies under an inference span"),
            "{w}"
        );
        // A cycle: x -> y -> x, on lines 2 and 3.
        let cycle = [
            line(&[span("r", "", (0, 100), "chat", Some((1, 1)))]),
            line(&[span("x", "y", (0, 100), "invoke_agent", None)]),
            line(&[span("y", "x", (0, 100), "invoke_agent", None)]),
        ]
        .concat();
        let (b, _) = build(&cycle);
        assert!(
            b.warnings.iter().any(|w| w.starts_with(
                "t.jsonl:2: span t1/x \"x\" is in a parent cycle (no root above it): ignored (2 span(s)"
            )),
            "{:?}",
            b.warnings
        );
    }

    #[test]
    fn long_ids_and_names_are_cut_in_messages() {
        let long = "n".repeat(1000);
        let text = line(&[span(&long, "gone", (0, 100), "chat", Some((1, 1)))]);
        let (b, _) = build(&text);
        assert!(b.warnings[0].len() < 400, "{}", b.warnings[0]);
        assert!(b.warnings[0].contains(&format!("{}...", "n".repeat(64))));
    }

    #[test]
    fn a_pretty_printed_request_reads_with_every_attribute() {
        let text = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "user.id", "value": {"stringValue": "bob"}}]},
    "scopeSpans": [{
      "scope": {"name": "x"},
      "spans": [{
        "traceId": "t", "spanId": "s", "parentSpanId": "", "name": "chat m", "kind": 3,
        "startTimeUnixNano": "1000000000", "endTimeUnixNano": "3000000000",
        "attributes": [
          {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
          {"key": "gen_ai.request.model", "value": {"stringValue": "gpt"}},
          {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
          {"key": "gen_ai.request.max_tokens", "value": {"intValue": "512"}},
          {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 100}},
          {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "20"}},
          {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": "64"}},
          {"key": "gen_ai.response.time_to_first_chunk", "value": {"doubleValue": 0.25}},
          {"key": "error.type", "value": {"stringValue": "timeout"}},
          {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "x"}]}}}
        ],
        "status": {"code": 2}
      }]
    }]
  }]
}"#;
        let opts = ReadOptions {
            tenant_attribute: Some("user.id".into()),
        };
        let s = &parse_spans(text, "t.json", &opts).unwrap()[0];
        assert_eq!((s.start_ns, s.end_ns), (1_000_000_000, 3_000_000_000));
        assert_eq!(s.operation, Operation::Chat);
        assert_eq!(s.model.as_deref(), Some("gpt"));
        assert_eq!(s.provider.as_deref(), Some("openai"));
        assert_eq!(s.max_tokens, Some(512));
        assert_eq!((s.input_tokens, s.output_tokens), (Some(100), Some(20)));
        assert_eq!(s.cache_read_tokens, Some(64));
        assert_eq!(s.ttft_s, Some(0.25));
        assert_eq!(s.error_type.as_deref(), Some("timeout"));
        assert!(s.status_error);
        assert_eq!(s.tenant.as_deref(), Some("bob"));
        assert_eq!(s.parent_id, None);
    }

    #[test]
    fn spans_past_the_cap_are_refused_as_they_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        let one = line(&[span("r", "", (0, 1), "chat", Some((1, 1)))]);
        std::fs::write(&p, one.repeat(4)).unwrap();
        assert_eq!(
            read_spans_at_most(&p, &ReadOptions::default(), 4)
                .unwrap()
                .len(),
            4
        );
        let e = read_spans_at_most(&p, &ReadOptions::default(), 3).unwrap_err();
        assert!(e.message.contains("expected at most 3 spans"), "{e}");
        assert_eq!(e.line, Some(4), "{e}");
    }

    #[test]
    fn the_node_cap_is_an_error_not_a_panic() {
        let text = line(&[
            span("r", "", (0, 500), "invoke_agent", None),
            span("a", "r", (0, 100), "chat", Some((10, 1))),
            span("b", "r", (300, 500), "chat", Some((20, 2))),
        ]);
        let spans = parse_spans(&text, "t.jsonl", &ReadOptions::default()).unwrap();
        let e = build_jobs(&spans, "t.jsonl", JobBy::Root, &mut Vec::new(), 3).unwrap_err();
        assert!(e.message.contains("at most 3 nodes"), "{e}");
        assert!(e.to_string().starts_with("t.jsonl:1: span t1/"), "{e}");
    }
}
