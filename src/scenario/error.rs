//! Scenario errors that point at the place in the file.

use std::fmt;

/// A scenario the simulator cannot run, with where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or `<string>` for text given directly).
    pub file: String,
    /// 1-based line and column of the offending value, when known.
    pub position: Option<(usize, usize)>,
    /// The dotted path of the field, e.g. `policy[1].retry.wait`, when known.
    pub field: Option<String>,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Line numbers of many offsets in one pass over the text: each call counts newlines from the
/// previous offset on, so offsets given in document order (as array entries are) cost one scan in
/// all rather than one scan each.
pub struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    /// A counter at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of byte `offset`; an offset before the previous one starts over.
    pub fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        let between = &self.text.as_bytes()[self.offset..offset];
        self.line += between.iter().filter(|&&b| b == b'\n').count();
        self.offset = offset;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_columns() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 11), (2, 6));
        assert_eq!(line_col(text, 999), (3, 1));
        let mut lines = LineCounter::new(text);
        for offset in [0, 6, 11, 999, 0, 11, 6] {
            assert_eq!(
                lines.line_at(offset),
                line_col(text, offset).0,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn the_message_reads_file_line_column_field() {
        let e = ScenarioError {
            file: "s.toml".into(),
            position: Some((3, 8)),
            field: Some("provider.ttft".into()),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "s.toml:3:8: field `provider.ttft`: bad");
    }
}
