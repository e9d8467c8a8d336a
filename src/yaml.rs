//! A YAML document as a small tree that remembers where every node starts (line and column,
//! both from 1, as Go's yaml.v3 reports them), built from `saphyr-parser`'s event stream.
//! Scalars keep their raw text and style so callers decide what a value means, the way the
//! Prometheus formats do. Owns parsing only; what a rule file or a test file means lives with
//! their readers. Must not do I/O.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Where a node starts in its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A scalar: its text after YAML's own unescaping, and whether it was quoted or a block.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys in document order (duplicates are refused while loading).
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

/// The document could not be read as YAML; the position is where the reader stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// How many nodes aliases may copy in all, so a "billion laughs" file fails instead of eating
/// memory.
const ALIAS_BUDGET: usize = 100_000;

impl Node {
    /// A plain `null`, `~` or empty scalar: YAML's null.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true }
            if text.is_empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    }

    /// The text of a scalar (None for a sequence or a mapping).
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under a scalar key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(_, v)| v)
    }

    /// What the node is, in the words Go's decoder uses in its messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar { .. } if self.is_null() => "null",
            Kind::Scalar { .. } => "scalar",
            Kind::Seq(_) => "sequence",
            Kind::Map(_) => "mapping",
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            Kind::Scalar { .. } => 1,
            Kind::Seq(s) => 1 + s.iter().map(Node::count).sum::<usize>(),
            Kind::Map(m) => 1 + m.iter().map(|(k, v)| k.count() + v.count()).sum::<usize>(),
        }
    }
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parse a text holding one YAML document (an empty text is a null document).
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut docs = parse_all(text)?;
    match docs.len() {
        0 => Ok(Node {
            kind: Kind::Scalar {
                text: String::new(),
                plain: true,
            },
            pos: Pos { line: 1, col: 1 },
        }),
        1 => Ok(docs.remove(0)),
        _ => Err(YamlError {
            pos: docs.get(1).map(|d| d.pos).unwrap_or_default(),
            message: "expected a single document in the file, found more".into(),
        }),
    }
}

/// Parse every document of a stream.
pub fn parse_all(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut alias_budget = ALIAS_BUDGET;
    let mut last = Pos { line: 1, col: 1 };
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| YamlError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        let pos = pos_of(&span);
        last = pos;
        let done = match ev {
            Event::Scalar(text, style, anchor, _tag) => Some((
                Node {
                    kind: Kind::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    pos,
                },
                anchor,
            )),
            Event::Alias(id) => {
                let Some(n) = anchors.get(&id) else {
                    return Err(YamlError {
                        pos,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                let c = n.count();
                if c > alias_budget {
                    return Err(YamlError {
                        pos,
                        message: format!(
                            "aliases expand to more than {ALIAS_BUDGET} nodes; refusing the document"
                        ),
                    });
                }
                alias_budget -= c;
                let mut n = n.clone();
                n.pos = pos;
                Some((n, 0))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => Some((
                    Node {
                        kind: Kind::Seq(items),
                        pos,
                    },
                    anchor,
                )),
                _ => return Err(unbalanced(pos)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    key: None,
                }) => Some((
                    Node {
                        kind: Kind::Map(entries),
                        pos,
                    },
                    anchor,
                )),
                _ => return Err(unbalanced(pos)),
            },
            _ => None,
        };
        let Some((node, anchor)) = done else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if let Some(k) = node.scalar()
                        && let Some((prev, _)) = entries.iter().find(|(p, _)| p.scalar() == Some(k))
                    {
                        return Err(YamlError {
                            pos: node.pos,
                            message: format!(
                                "mapping key {k:?} already defined at line {}",
                                prev.pos.line
                            ),
                        });
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
    }
    if !stack.is_empty() {
        return Err(unbalanced(last));
    }
    Ok(docs)
}

fn unbalanced(pos: Pos) -> YamlError {
    YamlError {
        pos,
        message: "unbalanced sequence or mapping".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_from_one_like_go() {
        let doc = parse("groups:\n  - name: g\n    rules:\n      - expr: up\n").unwrap();
        let g = &doc.get("groups").unwrap().as_seq().unwrap()[0];
        assert_eq!(g.pos, Pos { line: 2, col: 5 });
        let name = g.get("name").unwrap();
        assert_eq!(name.pos, Pos { line: 2, col: 11 });
        let expr = g.get("rules").unwrap().as_seq().unwrap()[0]
            .get("expr")
            .unwrap();
        assert_eq!(expr.scalar(), Some("up"));
        assert_eq!(expr.pos, Pos { line: 4, col: 15 });
    }

    #[test]
    fn duplicate_keys_and_broken_documents_are_refused() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("already defined at line 1"), "{e}");
        assert_eq!(e.pos.line, 2);
        assert!(parse("a: [1, 2\n").is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn scalars_keep_their_text_and_style() {
        let doc = parse("a: '1'\nb: 1\nc: ~\nd: |\n  x\n  y\n").unwrap();
        assert_eq!(
            doc.get("a").unwrap().kind,
            Kind::Scalar {
                text: "1".into(),
                plain: false
            }
        );
        assert!(doc.get("c").unwrap().is_null());
        assert!(!doc.get("b").unwrap().is_null());
        assert_eq!(doc.get("d").unwrap().scalar(), Some("x\ny\n"));
    }

    #[test]
    fn aliases_copy_and_are_bounded() {
        let doc = parse("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(doc.get("b").unwrap().get("k").unwrap().scalar(), Some("v"));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = format!("*a{}", i - 1);
            bomb.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                std::iter::repeat_n(prev.as_str(), 10)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        assert!(parse(&bomb).unwrap_err().message.contains("aliases"));
    }
}
