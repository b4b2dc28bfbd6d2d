//! Provider presets: `[provider] preset = "anthropic/tier-2/claude-sonnet-4"` fills the provider
//! table from the data files in `presets/` (embedded in the binary), and any field written beside
//! it overrides the preset's.
//!
//! Task: turn a provider's published limits, prices and typical speeds into the `[provider]`
//! fields a scenario already has, so that a preset is exactly what the user could have written by
//! hand. Presets are applied to the document before it is read: in the text, where the user's
//! line and column numbers must survive ([`expand_text`]), or in the TOML tree a sweep edits
//! ([`expand_document`]). The format and its caveats: `docs/presets.md`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;
use toml::{Spanned, Table, Value};

/// The data files, by their path in the repository, embedded so that `stampede` finds them from
/// any directory.
pub const FILES: &[(&str, &str)] = &[
    (
        "presets/anthropic.toml",
        include_str!("../../presets/anthropic.toml"),
    ),
    (
        "presets/openai.toml",
        include_str!("../../presets/openai.toml"),
    ),
];

/// One preset: a provider's tier and model, and the `[provider]` fields it stands for.
#[derive(Clone, Debug)]
pub struct Preset {
    /// `<provider>/<tier>/<model>`.
    pub name: String,
    pub provider: String,
    pub tier: String,
    pub model: String,
    /// Requests per minute.
    pub rpm: f64,
    /// Input tokens per minute (Anthropic's ITPM).
    pub itpm: Option<f64>,
    /// Output tokens per minute (Anthropic's OTPM).
    pub otpm: Option<f64>,
    /// Input and output tokens per minute together (OpenAI's TPM).
    pub tpm: Option<f64>,
    /// USD per million input tokens.
    pub price_input_per_mtok: f64,
    /// USD per million output tokens.
    pub price_output_per_mtok: f64,
    /// Where the limits were read.
    pub source: String,
    /// Where the prices were read.
    pub price_source: String,
    /// The data file's pages: the provider's rate-limits page and its pricing page.
    pub limits_page: String,
    pub pricing_page: String,
    /// The date the data file's numbers were published, as its transcriber knew them.
    pub as_of: String,
    /// The data file's version.
    pub version: u32,
    /// The data file, e.g. `presets/anthropic.toml`.
    pub file: &'static str,
    fields: Table,
}

impl Preset {
    /// The `[provider]` fields this preset stands for (`limit` is the `[[provider.limit]]` array).
    pub fn provider_table(&self) -> &Table {
        &self.fields
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    provider: String,
    version: u32,
    as_of: String,
    limits_source: String,
    pricing_source: String,
    semantics: RawSemantics,
    /// Documentation only: how each tier is reached.
    #[serde(default)]
    #[allow(dead_code)]
    tiers: Table,
    models: BTreeMap<String, RawModel>,
    preset: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSemantics {
    limit_kind: String,
    burst: String,
    count_rejected: bool,
    refund_unused_output: bool,
    #[serde(default)]
    #[allow(dead_code)]
    notes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the documentation-only fields are read to be checked, not used
struct RawModel {
    price_input_per_mtok: f64,
    price_output_per_mtok: f64,
    price_source: String,
    ttft: Value,
    decode_rate: Value,
    speed_source: String,
    price_cache_read_per_mtok: Option<f64>,
    price_cache_write_per_mtok: Option<f64>,
    cache_reads_count_toward_input_limit: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    tier: String,
    model: String,
    rpm: u64,
    itpm: Option<u64>,
    otpm: Option<u64>,
    tpm: Option<u64>,
    source: String,
}

/// Every preset of every data file, in file order.
pub fn all() -> Result<&'static [Preset], String> {
    static ALL: OnceLock<Result<Vec<Preset>, String>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out: Vec<Preset> = Vec::new();
        for (file, text) in FILES {
            for p in read_file(file, text)? {
                if out.iter().any(|q| q.name == p.name) {
                    return Err(format!("{file}: preset \"{}\" is defined twice", p.name));
                }
                out.push(p);
            }
        }
        Ok(out)
    })
    .as_ref()
    .map(Vec::as_slice)
    .map_err(Clone::clone)
}

/// The preset named `name`.
pub fn find(name: &str) -> Result<&'static Preset, String> {
    let all = all()?;
    all.iter()
        .find(|p| p.name == name)
        .ok_or_else(|| unknown(name, all))
}

/// The presets whose name starts with `prefix` (all with an empty prefix).
pub fn matching(prefix: &str) -> Result<Vec<&'static Preset>, String> {
    Ok(all()?
        .iter()
        .filter(|p| p.name.starts_with(prefix))
        .collect())
}

/// The message for an unknown preset: the close names when there are some, all names otherwise.
fn unknown(name: &str, all: &[Preset]) -> String {
    let close: Vec<&str> = all
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| {
            let d = strsim::levenshtein(n, name);
            d <= 3 || d * 4 <= name.len() || (!name.is_empty() && n.contains(name))
        })
        .collect();
    let (which, names) = if close.is_empty() {
        ("available", all.iter().map(|p| p.name.as_str()).collect())
    } else {
        ("did you mean", close)
    };
    format!(
        "unknown preset \"{name}\"; {which}: {} (`stampede presets` lists them all)",
        names.join(", ")
    )
}

fn read_file(file: &'static str, text: &str) -> Result<Vec<Preset>, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let sem = &raw.semantics;
    let burst_s = humantime::parse_duration(sem.burst.trim())
        .map_err(|e| format!("{file}: semantics.burst: {e}"))?
        .as_secs_f64();
    if burst_s <= 0.0 {
        return Err(format!("{file}: semantics.burst must be above 0"));
    }
    let kind = sem.limit_kind.as_str();
    if !matches!(kind, "token_bucket" | "sliding_window" | "fixed_window") {
        return Err(format!(
            "{file}: semantics.limit_kind: expected token_bucket, sliding_window or fixed_window, found \"{kind}\""
        ));
    }
    let mut out = Vec::new();
    for e in &raw.preset {
        let name = format!("{}/{}/{}", raw.provider, e.tier, e.model);
        let model = raw.models.get(&e.model).ok_or_else(|| {
            format!(
                "{file}: preset {name}: no [models.{}] table for its prices and speeds",
                e.model
            )
        })?;
        let per_input = e.itpm.is_some() || e.otpm.is_some();
        if per_input == e.tpm.is_some() {
            return Err(format!(
                "{file}: preset {name}: expected either itpm and otpm, or tpm"
            ));
        }
        // One per-minute amount as a limit of the file's kind.
        let limit = |resource: &str, per_minute: u64| {
            let per_minute = per_minute as f64;
            let mut t = Table::new();
            t.insert("resource".into(), Value::String(resource.into()));
            t.insert("kind".into(), Value::String(kind.into()));
            if kind == "token_bucket" {
                t.insert("rate".into(), Value::Float(per_minute / 60.0));
                t.insert("burst".into(), Value::Float(per_minute * burst_s / 60.0));
            } else {
                t.insert("limit".into(), Value::Float(per_minute * burst_s / 60.0));
                t.insert("window".into(), Value::String(sem.burst.clone()));
            }
            Value::Table(t)
        };
        let mut limits = vec![limit("requests", e.rpm)];
        for (resource, amount) in [
            ("input_tokens", e.itpm),
            ("output_tokens", e.otpm),
            ("tokens", e.tpm),
        ] {
            if let Some(a) = amount {
                limits.push(limit(resource, a));
            }
        }
        let mut fields = Table::new();
        fields.insert("ttft".into(), model.ttft.clone());
        fields.insert("decode_rate".into(), model.decode_rate.clone());
        fields.insert("count_rejected".into(), Value::Boolean(sem.count_rejected));
        fields.insert(
            "refund_unused_output".into(),
            Value::Boolean(sem.refund_unused_output),
        );
        fields.insert(
            "price_input_per_mtok".into(),
            Value::Float(model.price_input_per_mtok),
        );
        fields.insert(
            "price_output_per_mtok".into(),
            Value::Float(model.price_output_per_mtok),
        );
        // Prompt caching: what the data file records; what it leaves out keeps the scenario
        // format's defaults (cache tokens at the input price, counted toward input limits).
        for (key, price) in [
            ("price_cache_read_per_mtok", model.price_cache_read_per_mtok),
            (
                "price_cache_write_per_mtok",
                model.price_cache_write_per_mtok,
            ),
        ] {
            if let Some(v) = price {
                fields.insert(key.into(), Value::Float(v));
            }
        }
        if let Some(counts) = model.cache_reads_count_toward_input_limit {
            fields.insert(
                "cache_reads_count_toward_input_limit".into(),
                Value::Boolean(counts),
            );
        }
        fields.insert("limit".into(), Value::Array(limits));
        out.push(Preset {
            name,
            provider: raw.provider.clone(),
            tier: e.tier.clone(),
            model: e.model.clone(),
            rpm: e.rpm as f64,
            itpm: e.itpm.map(|v| v as f64),
            otpm: e.otpm.map(|v| v as f64),
            tpm: e.tpm.map(|v| v as f64),
            price_input_per_mtok: model.price_input_per_mtok,
            price_output_per_mtok: model.price_output_per_mtok,
            source: e.source.clone(),
            price_source: model.price_source.clone(),
            limits_page: raw.limits_source.clone(),
            pricing_page: raw.pricing_source.clone(),
            as_of: raw.as_of.clone(),
            version: raw.version,
            file,
            fields,
        });
    }
    Ok(out)
}

/// Why a preset cannot be applied, with the byte range of the `preset` value in the text.
#[derive(Debug)]
pub struct PresetError {
    pub span: Option<Range<usize>>,
    /// The field at fault: `provider.preset` or `provider[1].preset`.
    pub field: String,
    pub message: String,
}

/// A scenario text with its preset applied.
pub enum Expansion {
    /// The preset's fields were written as lines after the `preset` line (which was blanked):
    /// positions in the new text map back to the user's with [`Expanded::map`].
    Text(Expanded),
    /// The preset was written another way (`provider = { preset = ... }`, `provider.preset =`):
    /// the document was rewritten whole, and positions in it mean nothing in the user's file.
    Document(String),
}

/// The scenario text with each preset's fields inserted as whole lines.
pub struct Expanded {
    /// The text to read.
    pub text: String,
    /// Where lines were inserted, in text order.
    insertions: Vec<Insertion>,
}

/// The lines one preset filled in.
struct Insertion {
    /// Where the provider is written: `provider` or `provider[1]`.
    path: String,
    /// Line and column of the `preset` value in the user's text.
    at: (usize, usize),
    /// The last line of the user's text before the inserted lines (1-based).
    after_line: usize,
    /// How many lines were inserted.
    inserted: usize,
}

impl Expanded {
    /// The position in the user's text of `pos` in [`Expanded::text`], and, when it falls in a
    /// value a preset filled in, that provider's path (the position is then the `preset`
    /// value's own).
    pub fn map(&self, pos: (usize, usize)) -> ((usize, usize), Option<&str>) {
        let mut shift = 0;
        for i in &self.insertions {
            if pos.0 <= i.after_line + shift {
                break;
            }
            if pos.0 <= i.after_line + shift + i.inserted {
                return (i.at, Some(&i.path));
            }
            shift += i.inserted;
        }
        ((pos.0 - shift, pos.1), None)
    }
}

#[derive(Deserialize)]
struct Peek {
    provider: Option<PeekProvider>,
}

#[derive(Deserialize)]
struct PeekMany {
    provider: Vec<PeekProvider>,
}

#[derive(Deserialize)]
struct PeekProvider {
    preset: Option<Spanned<Value>>,
}

/// Applies the presets of scenario `text` (of `[provider]` or of `[[provider]]` entries), when
/// it names some: `Ok(None)` when it does not (or the text is not TOML, which the scenario reader
/// then reports).
pub fn expand_text(text: &str) -> Result<Option<Expansion>, PresetError> {
    // Most scenarios name no preset: spare them a second parse.
    if !text.contains("preset") {
        return Ok(None);
    }
    // `[[provider]]` first: serde would also read an array into the one-table form, field by
    // position.
    let presets: Vec<(usize, Spanned<Value>)> = match toml::from_str::<PeekMany>(text) {
        Ok(many) => many
            .provider
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| p.preset.map(|v| (i, v)))
            .collect(),
        Err(_) => toml::from_str::<Peek>(text)
            .ok()
            .and_then(|p| p.provider)
            .and_then(|p| p.preset)
            .map(|v| vec![(usize::MAX, v)])
            .unwrap_or_default(),
    };
    if presets.is_empty() {
        return Ok(None);
    }
    let Ok(mut doc) = text.parse::<Table>() else {
        return Ok(None);
    };
    let mut entries = Vec::new();
    for (i, preset) in &presets {
        let span = preset.span();
        let field = if *i == usize::MAX {
            "provider.preset".to_string()
        } else {
            format!("provider[{i}].preset")
        };
        let err = |message: String| PresetError {
            span: Some(span.clone()),
            field: field.clone(),
            message,
        };
        let name = match preset.get_ref() {
            Value::String(s) => s.clone(),
            other => {
                return Err(err(format!(
                    "expected a preset name such as \"anthropic/tier-2/claude-sonnet-4\", found {other}"
                )));
            }
        };
        let found = find(&name).map_err(err)?;
        let (path, written) = match doc.get("provider") {
            Some(Value::Array(list)) => (
                format!("provider[{i}]"),
                list.get(*i).and_then(Value::as_table).cloned(),
            ),
            other => (
                "provider".to_string(),
                other.and_then(Value::as_table).cloned(),
            ),
        };
        let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let before = text[line_start..span.start].trim();
        let simple = before
            .strip_suffix('=')
            .is_some_and(|k| matches!(k.trim(), "preset" | "\"preset\"" | "'preset'"));
        if !simple {
            // Written another way (`provider = { preset = ... }`): rewrite the document.
            expand_document(&mut doc).map_err(err)?;
            return toml::to_string(&doc)
                .map(|t| Some(Expansion::Document(t)))
                .map_err(|e| err(format!("cannot write the scenario back as TOML: {e}")));
        }
        let written = written.unwrap_or_default();
        let lines: Vec<String> = found
            .provider_table()
            .iter()
            .filter(|(key, _)| !written.contains_key(*key))
            .map(|(key, value)| format!("{key} = {value}\n"))
            .collect();
        entries.push((span, line_start, path, lines));
    }
    // Each `preset = "..."` is blanked where it stands and its fields go on the lines after it.
    let mut out = String::with_capacity(text.len() + 1024);
    let mut insertions = Vec::new();
    let mut from = 0;
    for (span, line_start, path, lines) in entries {
        let key_start =
            line_start + (text[line_start..].len() - text[line_start..].trim_start().len());
        out.push_str(&text[from..key_start]);
        out.extend(
            text[key_start..span.end]
                .chars()
                .map(|c| if c == '\n' || c == '\r' { c } else { ' ' }),
        );
        let insert_at = text[span.end..].find('\n').map(|i| span.end + i + 1);
        let after_line = match insert_at {
            Some(i) => {
                out.push_str(&text[span.end..i]);
                from = i;
                text[..i].matches('\n').count()
            }
            None => {
                out.push_str(&text[span.end..]);
                out.push('\n');
                from = text.len();
                text.matches('\n').count() + 1
            }
        };
        for l in &lines {
            out.push_str(l);
        }
        insertions.push(Insertion {
            path,
            at: super::line_col(text, span.start),
            after_line,
            inserted: lines.len(),
        });
    }
    out.push_str(&text[from..]);
    Ok(Some(Expansion::Text(Expanded {
        text: out,
        insertions,
    })))
}

/// Applies the preset of the scenario document `doc` in place: the `preset` field is removed and
/// the preset's fields not written beside it are added. A document without one is left alone.
pub fn expand_document(doc: &mut Table) -> Result<(), String> {
    match doc.get_mut("provider") {
        Some(Value::Table(provider)) => expand_provider(provider, "provider"),
        Some(Value::Array(entries)) => {
            for (i, entry) in entries.iter_mut().enumerate() {
                if let Value::Table(provider) = entry {
                    expand_provider(provider, &format!("provider[{i}]"))?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Fills one provider table, written at `path`, from its `preset`, if it names one.
fn expand_provider(provider: &mut Table, path: &str) -> Result<(), String> {
    let Some(value) = provider.remove("preset") else {
        return Ok(());
    };
    let Value::String(name) = value else {
        return Err(format!(
            "field `{path}.preset`: expected a preset name such as \"anthropic/tier-2/claude-sonnet-4\", found {value}"
        ));
    };
    let found = find(&name)?;
    for (key, value) in found.provider_table() {
        if !provider.contains_key(key) {
            provider.insert(key.clone(), value.clone());
        }
    }
    Ok(())
}

/// `stampede presets [PREFIX]`: one row per preset, then where the numbers come from.
pub fn listing(prefix: &str) -> Result<String, String> {
    let presets = matching(prefix)?;
    if presets.is_empty() {
        let all = all()?;
        return Err(format!(
            "no preset name starts with \"{prefix}\"; the names start with: {}",
            all.iter()
                .map(|p| format!("{}/", p.provider))
                .fold(Vec::<String>::new(), |mut v, p| {
                    if !v.contains(&p) {
                        v.push(p);
                    }
                    v
                })
                .join(", ")
        ));
    }
    let per_min = |v: Option<f64>| v.map_or("-".to_string(), super::units::grouped);
    let mut rows: Vec<[String; 9]> = vec![[
        "preset".into(),
        "RPM".into(),
        "ITPM".into(),
        "OTPM".into(),
        "TPM".into(),
        "$/MTok in".into(),
        "$/MTok out".into(),
        "as_of".into(),
        "source".into(),
    ]];
    for p in &presets {
        rows.push([
            p.name.clone(),
            super::units::grouped(p.rpm),
            per_min(p.itpm),
            per_min(p.otpm),
            per_min(p.tpm),
            format!("{}", p.price_input_per_mtok),
            format!("{}", p.price_output_per_mtok),
            p.as_of.clone(),
            p.source.clone(),
        ]);
    }
    let mut widths = [0usize; 9];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(widths).enumerate() {
            if i == 0 || i >= 7 {
                line.push_str(&format!("{c:<w$}  "));
            } else {
                line.push_str(&format!("{c:>w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let mut files: Vec<&Preset> = Vec::new();
    for p in &presets {
        if !files.iter().any(|q| q.file == p.file) {
            files.push(p);
        }
    }
    out.push('\n');
    for p in files {
        out.push_str(&format!(
            "{}: version {}, as of {}; limits from {}, prices from {}\n",
            p.file, p.version, p.as_of, p.limits_page, p.pricing_page
        ));
    }
    out.push_str(
        "Limits per minute, as token buckets holding a minute's worth; prices in USD per million tokens.\n\
         Transcribed by hand from the providers' pages: check them against the source before deciding on them (docs/presets.md).\n",
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[scenario]\nname = \"t\"\n\n[provider]\npreset = \"P\"\n\n[[source]]\nname = \"s\"\narrival = { process = \"burst\" }\n[source.job]\nprompt_tokens = 1000\nmax_tokens = 500\noutput_tokens = 300\n\n[[policy]]\nname = \"p\"\n";

    fn with(preset: &str) -> String {
        BASE.replace("\"P\"", &format!("\"{preset}\""))
    }

    #[test]
    fn every_preset_yields_a_valid_provider() {
        let all = all().unwrap();
        assert!(all.len() >= 20, "{} presets", all.len());
        for p in all {
            let s = crate::scenario::parse(&with(&p.name), "t.toml")
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            let limits = &s.providers[0].limits;
            assert_eq!(
                limits.len(),
                if p.tpm.is_some() { 2 } else { 3 },
                "{}",
                p.name
            );
            assert!(p.source.starts_with("https://"), "{}", p.name);
            assert!(p.price_source.starts_with("https://"), "{}", p.name);
            assert_eq!(p.as_of.len(), 10, "{}: as_of is a date", p.name);
            // The sweep path reads the same preset into the same provider.
            let mut doc: Table = with(&p.name).parse().unwrap();
            expand_document(&mut doc).unwrap();
            let again = crate::scenario::parse(&toml::to_string(&doc).unwrap(), "t.toml").unwrap();
            assert_eq!(
                format!("{:?}", again.providers[0]),
                format!("{:?}", s.providers[0])
            );
        }
    }

    #[test]
    fn a_field_beside_the_preset_overrides_only_itself() {
        let name = "anthropic/tier-2/claude-sonnet-4";
        let plain = crate::scenario::parse(&with(name), "t.toml").unwrap();
        let text = with(name).replace(
            &format!("preset = \"{name}\"\n"),
            &format!("preset = \"{name}\"\nprice_input_per_mtok = 1\n"),
        );
        let edited = crate::scenario::parse(&text, "t.toml").unwrap();
        assert_eq!(edited.providers[0].price_input_per_mtok, 1.0);
        assert_eq!(plain.providers[0].price_input_per_mtok, 3.0);
        let mut back = edited.providers[0].clone();
        back.price_input_per_mtok = 3.0;
        assert_eq!(format!("{back:?}"), format!("{:?}", plain.providers[0]));
        // A [[provider.limit]] beside the preset replaces the preset's limits.
        let text = with(name).replace(
            "\n\n[[source]]",
            "\n[[provider.limit]]\nresource = \"requests\"\nrate = 1\nburst = 1\n\n[[source]]",
        );
        let own = crate::scenario::parse(&text, "t.toml").unwrap();
        assert_eq!(own.providers[0].limits.len(), 1);
        assert_eq!(
            format!("{:?}", own.providers[0].ttft_s),
            format!("{:?}", plain.providers[0].ttft_s)
        );
    }

    #[test]
    fn errors_after_the_preset_keep_their_line_and_column() {
        let text = with("openai/tier-1/gpt-4o").replace("max_tokens = 500", "max_tokens = -5");
        let e = crate::scenario::parse(&text, "t.toml").unwrap_err();
        let line = text.lines().position(|l| l.contains("-5")).unwrap() + 1;
        assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
    }

    #[test]
    fn each_provider_entry_takes_its_own_preset_and_errors_keep_their_positions() {
        let text = "[scenario]\nname = \"t\"\n\
            [[provider]]\nname = \"a\"\npreset = \"anthropic/tier-2/claude-sonnet-4\"\n\
            [[provider]]\nname = \"b\"\npreset = \"openai/tier-1/gpt-4o\"\nprice_input_per_mtok = 9.0\n\
            [[source]]\nname = \"s\"\narrival = { process = \"burst\", count = 1 }\n\
            [source.job]\nprompt_tokens = 100\nmax_tokens = 50\noutput_tokens = 10\n\
            [[policy]]\nname = \"p\"\nroute = { targets = [\"a\"], fallbacks = [\"b\"] }\n";
        let s = crate::scenario::parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        let plain = |name: &str| crate::scenario::parse(&with(name), "t.toml").unwrap();
        let (a, b) = (&s.providers[0], &s.providers[1]);
        assert_eq!((a.name.as_str(), b.name.as_str()), ("a", "b"));
        let sonnet = plain("anthropic/tier-2/claude-sonnet-4")
            .providers
            .remove(0);
        let gpt = plain("openai/tier-1/gpt-4o").providers.remove(0);
        assert_eq!(a.limits, sonnet.limits);
        assert_eq!(a.price_input_per_mtok, sonnet.price_input_per_mtok);
        assert_eq!(b.limits, gpt.limits);
        assert_eq!(
            b.price_input_per_mtok, 9.0,
            "a field beside the preset wins"
        );
        assert_eq!(b.price_output_per_mtok, gpt.price_output_per_mtok);
        // An error after both presets is reported on the user's line.
        let bad = text.replace("output_tokens = 10", "output_tokens = -1");
        let e = crate::scenario::parse(&bad, "t.toml").unwrap_err();
        let line = bad.lines().position(|l| l.contains("= -1")).unwrap() + 1;
        assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
        // An unknown preset in the second entry points at it.
        let bad = text.replace("openai/tier-1/gpt-4o", "openai/tier-1/gpt-4");
        let e = crate::scenario::parse(&bad, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.toml:8:10: field `provider[1].preset`: unknown preset"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_preset_names_its_position_and_the_close_names() {
        let e = crate::scenario::parse(&with("anthropic/tier-2/claude-sonet-4"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.toml:5:10: field `provider.preset`: unknown preset"),
            "{e}"
        );
        assert!(e.contains("anthropic/tier-2/claude-sonnet-4"), "{e}");
        let e = crate::scenario::parse(&with("nope"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("available:") && e.contains("openai/tier-5/gpt-4o-mini"),
            "{e}"
        );
    }

    #[test]
    fn a_preset_in_an_inline_provider_table_applies_too() {
        let text = with("openai/tier-2/gpt-4o")
            .replace("[provider]\npreset = \"openai/tier-2/gpt-4o\"\n", "")
            .replace(
                "[scenario]",
                "provider = { preset = \"openai/tier-2/gpt-4o\", price_input_per_mtok = 1 }\n[scenario]",
            );
        let s = crate::scenario::parse(&text, "t.toml").unwrap();
        assert_eq!(s.providers[0].price_input_per_mtok, 1.0);
        assert_eq!(s.providers[0].price_output_per_mtok, 10.0);
        assert_eq!(s.providers[0].limits.len(), 2);
        // Its errors have no position: the document was rewritten.
        let e = crate::scenario::parse(
            &text.replace("max_tokens = 500", "max_tokens = -5"),
            "t.toml",
        )
        .unwrap_err();
        assert_eq!(e.position, None, "{e}");
        assert!(e.to_string().contains("max_tokens"), "{e}");
    }

    #[test]
    fn a_preset_that_is_not_a_name_is_refused_at_its_position() {
        let e = crate::scenario::parse(&BASE.replace("\"P\"", "3"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.toml:5:10: field `provider.preset`: expected a preset name"),
            "{e}"
        );
    }

    #[test]
    fn a_swept_preset_replaces_the_files_and_the_fields_beside_it_still_win() {
        let name = "anthropic/tier-2/claude-sonnet-4";
        let text = with(name).replace(
            &format!("preset = \"{name}\"\n"),
            &format!("preset = \"{name}\"\nprice_input_per_mtok = 1\n"),
        );
        let swept = |preset: &str, more: &[(&str, Value)]| {
            let mut overrides = vec![("provider.preset".to_string(), Value::String(preset.into()))];
            overrides.extend(more.iter().map(|(p, v)| (p.to_string(), v.clone())));
            crate::scenario::parse_with_overrides(&text, "t.toml", &overrides)
        };
        let s = swept("openai/tier-2/gpt-4o", &[]).unwrap();
        assert_eq!(s.providers[0].limits.len(), 2);
        assert_eq!(s.providers[0].price_input_per_mtok, 1.0);
        assert_eq!(s.providers[0].price_output_per_mtok, 10.0);
        assert!(s.providers[0].count_rejected);
        // The other values apply after the swept preset, whichever order they come in.
        let s = swept(
            "openai/tier-1/gpt-4o",
            &[("provider.price_output_per_mtok", Value::Float(2.0))],
        )
        .unwrap();
        assert_eq!(s.providers[0].price_output_per_mtok, 2.0);
        let e = swept("openai/tier-9/gpt-4o", &[]).unwrap_err();
        assert!(e.message.contains("unknown preset"), "{e}");
        // In the [sweep] table, an unknown name is an error at the axis.
        let text = format!(
            "{}\n[sweep.parameters]\n\"provider.preset\" = [\"openai/tier-1/gpt-4o\", \"openai/tier-1/gpt-5\"]\n",
            with("openai/tier-2/gpt-4o")
        );
        let e = crate::scenario::parse_sweep(&text, "t.toml").unwrap_err();
        assert!(
            e.message.contains("unknown preset \"openai/tier-1/gpt-5\""),
            "{e}"
        );
        assert_eq!(e.position, Some((19, 1)), "{e}");
    }

    #[test]
    fn truncated_or_edited_preset_scenarios_never_panic() {
        let text = with("anthropic/tier-1/claude-haiku-3-5").replace(
            "preset = \"anthropic/tier-1/claude-haiku-3-5\"",
            "preset = \"anthropic/tier-1/claude-haiku-3-5\" # c\nttft = \"1s\"\n[[provider.limit]]\nresource = \"requests\"\nrate = 1\nburst = 5",
        );
        for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let _ = crate::scenario::parse(&text[..end], "t.toml");
        }
        let lines: Vec<&str> = text.lines().collect();
        for skip in 0..lines.len() {
            let mut edited: Vec<&str> = lines.clone();
            edited.remove(skip);
            let _ = crate::scenario::parse(&edited.join("\n"), "t.toml");
            let _ = crate::scenario::parse(&edited.join("\r\n"), "t.toml");
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(
            crate::scenario::units::grouped(150_000_000.0),
            "150,000,000"
        );
        assert_eq!(crate::scenario::units::grouped(50.0), "50");
        assert_eq!(crate::scenario::units::grouped(1_000.0), "1,000");
    }

    #[test]
    fn presets_carry_the_documented_prompt_cache_semantics() {
        let provider = |name: &str| {
            crate::scenario::parse(&with(name), "t.toml")
                .unwrap()
                .providers
                .remove(0)
        };
        // Anthropic: reads 0.1x and writes 1.25x the input price; reads do not count toward
        // ITPM, except on models marked with a dagger (Haiku 3.5).
        let p = provider("anthropic/tier-2/claude-sonnet-4");
        assert!(!p.cache_reads_count_toward_input_limit);
        assert_eq!(
            (p.price_cache_read_per_mtok, p.price_cache_write_per_mtok),
            (0.30, 3.75)
        );
        let p = provider("anthropic/tier-2/claude-haiku-3-5");
        assert!(p.cache_reads_count_toward_input_limit);
        assert_eq!(
            (p.price_cache_read_per_mtok, p.price_cache_write_per_mtok),
            (0.08, 1.0)
        );
        // OpenAI: cached input at half price, no write surcharge, still counted toward TPM.
        let p = provider("openai/tier-1/gpt-4o");
        assert!(p.cache_reads_count_toward_input_limit);
        assert_eq!(
            (p.price_cache_read_per_mtok, p.price_cache_write_per_mtok),
            (1.25, 2.5)
        );
    }
}
