//! A scenario file's leading comment block as paragraphs and lists, in HTML or Markdown.

use super::text::{escape, inline_code};
use std::fmt::Write as _;

/// A paragraph or list item of the comment block: flowing text, then any lines laid out in
/// columns, kept as written.
#[derive(Default)]
pub(super) struct Flow {
    text: String,
    aligned: Vec<String>,
}

impl Flow {
    fn new(first: &str) -> Flow {
        let mut f = Flow::default();
        f.push(first, first);
        f
    }

    /// Adds a line: to the text, or, once a line is laid out in columns (three spaces inside
    /// it), verbatim to the aligned lines.
    fn push(&mut self, raw: &str, trimmed: &str) {
        if !self.aligned.is_empty() || trimmed.contains("   ") {
            self.aligned.push(raw.to_string());
        } else {
            if !self.text.is_empty() {
                self.text.push(' ');
            }
            self.text.push_str(trimmed);
        }
    }

    /// The lines laid out in columns, their common indentation removed.
    fn aligned_lines(&self) -> Vec<String> {
        let indent = self
            .aligned
            .iter()
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        self.aligned
            .iter()
            .map(|l| l.get(indent..).unwrap_or(l).trim_end().to_string())
            .collect()
    }

    /// Markdown, continuation lines indented by `indent` (inside a list item).
    fn markdown(&self, indent: &str) -> String {
        let mut out = self.text.clone();
        if !self.aligned.is_empty() {
            let _ = write!(out, "\n\n{indent}```text");
            for l in self.aligned_lines() {
                let _ = write!(out, "\n{indent}{l}");
            }
            let _ = write!(out, "\n{indent}```");
        }
        out
    }

    fn html(&self) -> String {
        let mut out = inline_code(&escape(&self.text));
        if !self.aligned.is_empty() {
            let lines: Vec<String> = self.aligned_lines().iter().map(|l| escape(l)).collect();
            let _ = write!(out, "<span class=\"aligned\">{}</span>", lines.join("\n"));
        }
        out
    }
}

pub(super) enum Block {
    Para(Flow),
    List(Vec<Flow>),
}

/// The comment block as paragraphs and lists: blank lines separate paragraphs, `- ` starts a
/// list item, indented lines continue it, and lines laid out in columns keep their layout.
pub(super) fn parse_comments(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            open = false;
            continue;
        }
        if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            match blocks.last_mut() {
                Some(Block::List(items)) if open => items.push(Flow::new(item)),
                _ => blocks.push(Block::List(vec![Flow::new(item)])),
            }
            open = true;
            continue;
        }
        match blocks.last_mut() {
            Some(Block::List(items)) if open && line.starts_with(' ') => {
                if let Some(last) = items.last_mut() {
                    last.push(line, t);
                }
            }
            Some(Block::Para(p)) if open => p.push(line, t),
            _ => blocks.push(Block::Para(Flow::new(t))),
        }
        open = true;
    }
    blocks
}

pub(super) fn comments_html(text: &str) -> String {
    let mut out = String::new();
    for b in parse_comments(text) {
        match b {
            Block::Para(p) => {
                let _ = writeln!(out, "<p>{}</p>", p.html());
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", i.html());
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out
}

/// The comment block as Markdown: the same paragraphs and lists, column layouts as code blocks.
pub(super) fn comments_md(text: &str) -> String {
    let mut out = String::new();
    for b in parse_comments(text) {
        match b {
            Block::Para(p) => {
                let _ = writeln!(out, "{}\n", p.markdown(""));
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(out, "- {}", i.markdown("  "));
                }
                out.push('\n');
            }
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_laid_out_in_columns_keep_their_layout() {
        let html = comments_html(
            "- Policies:\n  direct          no budget: everyone meets\n                  the limit.\n  fair            round robin.\n- next",
        );
        assert_eq!(
            html,
            "<ul>\n<li>Policies:<span class=\"aligned\">direct          no budget: everyone meets\n                the limit.\nfair            round robin.</span></li>\n<li>next</li>\n</ul>\n"
        );
    }

    #[test]
    fn comments_become_paragraphs_and_lists() {
        let html =
            comments_html("Intro line\ncontinued.\n\nAssumptions:\n- one `a<b`\n  more\n- two");
        assert_eq!(
            html,
            "<p>Intro line continued.</p>\n<p>Assumptions:</p>\n<ul>\n<li>one <code>a&lt;b</code> more</li>\n<li>two</li>\n</ul>\n"
        );
    }
}
