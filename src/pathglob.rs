//! Path globs as Go's `filepath.Glob` reads them, for `rule_files` in configs and promtool
//! test files: `*`, `?`, `[a-z]`, `[^…]` and `\` escapes within one path component, matches
//! sorted per directory. Lists directories only; it must not read file contents.

use std::path::{Component, Path, PathBuf};

/// Whether `name` (one path component) matches `pattern`. A malformed class is an error, as
/// Go's `filepath.ErrBadPattern` is.
pub fn match_component(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    // Check the pattern's syntax up front so a bad class fails even when an earlier star
    // would have matched the name.
    let mut i = 0;
    while i < p.len() {
        i = match p.get(i) {
            Some('[') => class_end(&p, i)?,
            Some('\\') => i + 2,
            _ => i + 1,
        };
    }
    Ok(matches(&p, &s))
}

/// Index after the class that opens at `start`.
fn class_end(p: &[char], start: usize) -> Result<usize, String> {
    let mut i = start + 1;
    if p.get(i) == Some(&'^') {
        i += 1;
    }
    let mut first = true;
    loop {
        match p.get(i) {
            None => return Err("syntax error in pattern: unclosed [".into()),
            Some(']') if !first => return Ok(i + 1),
            Some('\\') => i += 2,
            Some(_) => i += 1,
        }
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
            i += 2;
        }
        first = false;
    }
}

fn class_matches(p: &[char], start: usize, c: char) -> bool {
    let mut i = start + 1;
    let negate = p.get(i) == Some(&'^');
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while let Some(&ch) = p.get(i) {
        if ch == ']' && !first {
            break;
        }
        let (lo, next) = match ch {
            '\\' => (p.get(i + 1).copied().unwrap_or('\\'), i + 2),
            c => (c, i + 1),
        };
        i = next;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
            hi = match p.get(i + 1) {
                Some('\\') => p.get(i + 2).copied().unwrap_or('\\'),
                Some(c) => *c,
                None => lo,
            };
            i += if p.get(i + 1) == Some(&'\\') { 3 } else { 2 };
        }
        if lo <= c && c <= hi {
            hit = true;
        }
        first = false;
    }
    hit != negate
}

fn matches(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => {
                let end = class_end(p, pi).unwrap_or(p.len());
                s.get(si)
                    .is_some_and(|c| class_matches(p, pi, *c))
                    .then_some(end)
            }
            Some('\\') => (p.get(pi + 1) == s.get(si)).then_some(pi + 2),
            Some(c) => (Some(c) == s.get(si)).then_some(pi + 1),
            None => None,
        };
        match step {
            Some(next) => {
                pi = next;
                si += 1;
            }
            None => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Every existing path matching `pattern`, in Go's order (sorted within each directory). A
/// pattern without wildcards yields itself if it exists. Unreadable directories match nothing,
/// as in Go.
pub fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let text = pattern.to_string_lossy();
    if !has_meta(&text) {
        return Ok(if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        });
    }
    let mut found: Vec<PathBuf> = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy();
        let literal = !matches!(comp, Component::Normal(_)) || !has_meta(&part);
        let mut next = Vec::new();
        for base in &found {
            if literal {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for n in names {
                if match_component(&part, &n)? {
                    next.push(base.join(&n));
                }
            }
        }
        found = next;
    }
    Ok(found.into_iter().filter(|p| p.exists()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_match_as_in_go() {
        let t = |p: &str, s: &str| match_component(p, s).unwrap();
        assert!(t("*.yml", "a.yml"));
        assert!(!t("*.yml", "a.yaml"));
        assert!(t("r?.yml", "r1.yml"));
        assert!(t("[a-c]x", "bx"));
        assert!(!t("[^a-c]x", "bx"));
        assert!(t("[^a-c]x", "dx"));
        assert!(t("\\*", "*"));
        assert!(!t("\\*", "a"));
        assert!(t("a*b*c", "aXbYc"));
        assert!(match_component("[a", "a").is_err());
    }

    #[test]
    fn globs_walk_directories_in_sorted_order() {
        let dir = std::env::temp_dir().join(format!("nocscope-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["b.yml", "a.yml", "c.txt", "sub/d.yml"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let got = glob(&dir.join("*.yml")).unwrap();
        assert_eq!(got, vec![dir.join("a.yml"), dir.join("b.yml")]);
        let got = glob(&dir.join("*/d.yml")).unwrap();
        assert_eq!(got, vec![dir.join("sub/d.yml")]);
        assert!(glob(&dir.join("none*.yml")).unwrap().is_empty());
        assert_eq!(glob(&dir.join("c.txt")).unwrap(), vec![dir.join("c.txt")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
