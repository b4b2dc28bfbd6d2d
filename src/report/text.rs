//! Prose from numbers: runs of text with emphasis, escaped for HTML or written as Markdown,
//! and the small phrases (counts, seconds, dollars, lists) every generated sentence uses.

use super::table::{Format, format};
use std::fmt::Write as _;

/// A run of text with emphasis and code, rendered to HTML or Markdown.
#[derive(Clone, Debug)]
pub(super) enum Span {
    Text(String),
    Strong(String),
}

pub(super) fn spans_html(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => escape(t),
            Span::Strong(t) => format!("<strong>{}</strong>", escape(t)),
        })
        .collect()
}

pub(super) fn spans_md(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => t.clone(),
            Span::Strong(t) => format!("**{t}**"),
        })
        .collect()
}

pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `` `code` `` in escaped text becomes `<code>`.
pub(super) fn inline_code(escaped: &str) -> String {
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    if escaped.matches('`').count() % 2 == 1 {
        return escaped.to_string();
    }
    out
}

pub(super) fn plural(n: f64, one: &str, many: &str) -> String {
    let count = format(n, Format::Count);
    if n == 1.0 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}

pub(super) fn secs(v: f64) -> String {
    format(v, Format::Secs)
}

pub(super) fn usd(v: f64) -> String {
    format(v, Format::Usd)
}

/// "a", "a and b", "a, b and c".
pub(super) fn and_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}
