//! Helpers shared by the config-family parsers (config, themes, keymaps): the one problem
//! reporter (file:line:col from byte offsets), TOML type names and "did you mean" suggestions.
//! Pure string functions.

use std::ops::Range;

use toml::de::DeValue;

use super::Problem;

/// Byte offsets → 1-based line and column (columns count characters, as editors do).
pub(crate) struct LineIndex<'a> {
    pub(crate) text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub(crate) fn position(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let col = match self.text.get(start..offset) {
            Some(s) => s.chars().count(),
            // An offset inside a multi-byte character cannot come from the parser; fall back
            // to bytes rather than refuse to report the problem.
            None => offset - start,
        };
        (
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(col + 1).unwrap_or(u32::MAX),
        )
    }
}

pub(crate) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The accepted word nearest to `word`, if it is near enough to be a plausible typo.
pub(crate) fn closest<'k>(word: &str, accepted: &[&'k str]) -> Option<&'k str> {
    closest_within(word, accepted, 3)
}

/// [`closest`] allowing one edit per `divisor` characters of the accepted word (at least one).
pub(crate) fn closest_within<'k>(
    word: &str,
    accepted: &[&'k str],
    divisor: usize,
) -> Option<&'k str> {
    let word = word.to_ascii_lowercase();
    accepted
        .iter()
        .map(|a| (levenshtein(&word, a), *a))
        .filter(|(d, a)| *d <= (a.chars().count() / divisor.max(1)).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// Edit distance where swapping two neighbours counts as one edit (optimal string alignment):
/// "sha265" is one slip away from "sha256", not two, and must not tie with "sha224".
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Rows i-2, i-1 and i of the distance matrix.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let at = |r: &[usize], k: usize| r.get(k).copied().unwrap_or(usize::MAX);
            let cost = usize::from(ca != cb);
            let mut best = at(&prev, j)
                .saturating_add(cost)
                .min(at(&prev, j + 1).saturating_add(1))
                .min(at(&row, j).saturating_add(1));
            let swapped = i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca);
            if swapped {
                best = best.min(at(&before, j - 1).saturating_add(1));
            }
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = best;
            }
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev.last().copied().unwrap_or(0)
}

/// The one problem reporter of the config family: collects `file:line:col: message` problems
/// for one file, positioned from byte spans.
pub(crate) struct Reporter<'a> {
    pub(crate) origin: &'a str,
    pub(crate) lines: LineIndex<'a>,
    pub(crate) problems: Vec<Problem>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(text: &'a str, origin: &'a str) -> Self {
        Reporter {
            origin,
            lines: LineIndex::new(text),
            problems: Vec::new(),
        }
    }

    /// A problem at the start of `span`, not yet recorded.
    pub(crate) fn at(&self, span: &Range<usize>, message: String) -> Problem {
        let (line, col) = self.lines.position(span.start);
        Problem {
            file: self.origin.to_string(),
            line,
            col,
            message,
        }
    }

    /// Record a problem at the start of `span`.
    pub(crate) fn problem(&mut self, span: &Range<usize>, message: String) {
        let p = self.at(span, message);
        self.problems.push(p);
    }

    /// Record a problem about the file as a whole (`line == 0` prints without a position).
    pub(crate) fn file_problem(&mut self, message: String) {
        self.problems.push(Problem {
            file: self.origin.to_string(),
            line: 0,
            col: 0,
            message,
        });
    }

    /// The 1-based line `span` starts on.
    pub(crate) fn line_of(&self, span: &Range<usize>) -> u32 {
        self.lines.position(span.start).0
    }

    /// `file:line:col` of `span`, for messages that point at another place.
    pub(crate) fn location(&self, span: &Range<usize>) -> String {
        let (line, col) = self.lines.position(span.start);
        format!("{}:{line}:{col}", self.origin)
    }
}
