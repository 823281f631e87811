//! Paths into nested structures: parsing and display.
//!
//! ```text
//! users.alice.tags[0]      keys separated by dots, list indices in brackets
//! items[-1]                negative indices count from the end
//! ."a.b"  ["a.b"]          a key with dots, brackets, quotes or spaces (JSON string)
//! #3f2a...  [#3f2a...]     a map entry by its raw key hash (hex)
//! [hex:00ff]               a key given as raw bytes (hex), for keys that are not UTF-8
//! log[]                    (put only) append an item to a list
//! .  (or nothing)          the moment itself
//! ```
//!
//! A bare key is any text without `.`, `[`, `]`, `"`, spaces or control
//! characters that does not start with `#`; digits are keys too (`a.0` is
//! key "0"; an index is always written `[0]`).

use xitdb::PathStepBuf;

/// One step of a path: the library's step (a key, a key hash or a list
/// index), or a new item at the end of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A map key or set member, a map entry by its raw key hash, or a list
    /// index (negative counts from the end).
    At(PathStepBuf),
    /// A new item at the end of a list (`[]`, only when writing).
    Append,
}

impl Step {
    /// A key step.
    pub fn key(k: impl Into<Vec<u8>>) -> Step {
        Step::At(PathStepBuf::Key(k.into()))
    }

    /// A key-hash step.
    pub fn hash(h: impl Into<Vec<u8>>) -> Step {
        Step::At(PathStepBuf::Hash(h.into()))
    }

    /// A list-index step.
    pub fn index(i: i64) -> Step {
        Step::At(PathStepBuf::Index(i))
    }
}

/// The syntax, for help texts.
pub const HELP: &str = "\
PATH syntax:
  users.alice.tags[0]   keys separated by dots, list indices in brackets
  items[-1]             negative indices count from the end
  .\"a.b\"  or  [\"a.b\"]   a key containing dots, brackets, quotes or spaces,
                        written as a JSON string
  #3f2a...  [#3f2a...]  a map entry by its raw key hash, in hex
  [hex:00ff]            a key given as raw bytes in hex (keys that are not UTF-8)
  log[]                 (put only) append a new item to a list
  .                     the moment itself (an empty path means the same)
  A bare key is any text without . [ ] \" or spaces that does not start
  with #; digits are keys too (a.0 is the key \"0\"; an index is [0]).
  A set's members are keys whose value is null. Sorted maps and sets are
  entered by key only (their keys are not hashed, so #hash does not apply).";

/// Parses a path (see the module documentation).
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let s = text.trim();
    let b = s.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    if s == "." {
        return Ok(steps);
    }
    let mut first = true;
    while let Some(&c) = b.get(i) {
        match c {
            b'[' => {
                let (step, next) = bracket(s, i + 1)?;
                steps.push(step);
                i = next;
            }
            b'.' if first => {
                // an optional leading dot
                i += 1;
                let Some(&next) = b.get(i) else {
                    return Err(format!("path {text:?}: nothing after '.'"));
                };
                if next == b'[' || next == b'.' {
                    return Err(format!("path {text:?}: a key must follow '.'"));
                }
                let (step, next) = segment(s, i, text)?;
                steps.push(step);
                i = next;
            }
            b'.' => {
                i += 1;
                if b.get(i).is_none_or(|&c| c == b'.' || c == b'[') {
                    return Err(format!(
                        "path {text:?}: empty key after '.' (write an empty key as [\"\"])"
                    ));
                }
                let (step, next) = segment(s, i, text)?;
                steps.push(step);
                i = next;
            }
            _ if first => {
                let (step, next) = segment(s, i, text)?;
                steps.push(step);
                i = next;
            }
            c => {
                return Err(format!(
                    "path {text:?}: expected '.' or '[' at {:?}",
                    char_at(s, i).unwrap_or(c as char)
                ))
            }
        }
        first = false;
    }
    Ok(steps)
}

fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|r| r.chars().next())
}

/// A key segment at `i`: a bare key, a JSON string or `#hex`. Returns the
/// step and the position after it.
fn segment(s: &str, i: usize, text: &str) -> Result<(Step, usize), String> {
    let b = s.as_bytes();
    match b.get(i) {
        Some(b'"') => {
            let end = string_end(s, i).ok_or_else(|| format!("path {text:?}: unclosed quote"))?;
            let key: String = serde_json::from_str(&s[i..end])
                .map_err(|e| format!("path {text:?}: bad quoted key: {e}"))?;
            Ok((Step::key(key), end))
        }
        Some(b'#') => {
            let end = bare_end(s, i + 1);
            let h = unhex(&s[i + 1..end]).map_err(|e| format!("path {text:?}: hash {e}"))?;
            if h.is_empty() {
                return Err(format!("path {text:?}: empty hash after '#'"));
            }
            Ok((Step::hash(h), end))
        }
        _ => {
            let end = bare_end(s, i);
            if end == i {
                return Err(format!(
                    "path {text:?}: unexpected {:?} (quote keys like [\"a]b\"])",
                    char_at(s, i).unwrap_or('?')
                ));
            }
            if let Some(c) = s[i..end].chars().find(|c| c.is_whitespace()) {
                return Err(format!(
                    "path {text:?}: {c:?} in a bare key (quote it: .\"a b\" or [\"a b\"])"
                ));
            }
            Ok((Step::key(s.as_bytes().get(i..end).unwrap_or_default()), end))
        }
    }
}

/// End of a bare key: the next `.`, `[`, `]` or `"`.
fn bare_end(s: &str, i: usize) -> usize {
    s.as_bytes()
        .iter()
        .skip(i)
        .position(|c| matches!(c, b'.' | b'[' | b']' | b'"'))
        .map_or(s.len(), |p| i + p)
}

/// Position just after the JSON string starting at `i` (a `"`).
fn string_end(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut j = i + 1;
    while let Some(&c) = b.get(j) {
        match c {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The inside of `[...]` starting at `i`; returns the step and the position after `]`.
fn bracket(s: &str, i: usize) -> Result<(Step, usize), String> {
    let b = s.as_bytes();
    let (step, j) = match b.get(i) {
        Some(b']') => (Step::Append, i),
        Some(b'"') => {
            let end = string_end(s, i).ok_or_else(|| format!("path {s:?}: unclosed quote"))?;
            let key: String = serde_json::from_str(&s[i..end])
                .map_err(|e| format!("path {s:?}: bad quoted key: {e}"))?;
            (Step::key(key), end)
        }
        Some(_) => {
            let end = s[i..]
                .find(']')
                .map(|p| i + p)
                .ok_or_else(|| format!("path {s:?}: missing ']'"))?;
            let inner = s[i..end].trim();
            let step = if let Some(h) = inner.strip_prefix('#') {
                let h = unhex(h).map_err(|e| format!("path {s:?}: hash {e}"))?;
                if h.is_empty() {
                    return Err(format!("path {s:?}: empty hash after '#'"));
                }
                Step::hash(h)
            } else if let Some(h) = inner.strip_prefix("hex:") {
                Step::key(unhex(h).map_err(|e| format!("path {s:?}: key {e}"))?)
            } else {
                let n: i64 = inner.parse().map_err(|_| {
                    format!(
                        "path {s:?}: [{inner}] is not a list index (write a key as [\"{inner}\"] or .{inner})"
                    )
                })?;
                Step::index(n)
            };
            (step, end)
        }
        None => return Err(format!("path {s:?}: missing ']'")),
    };
    if b.get(j) != Some(&b']') {
        return Err(format!("path {s:?}: missing ']'"));
    }
    Ok((step, j + 1))
}

/// Decodes hex (either case).
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("{s:?} has an odd number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{s:?} is not hex"))
        })
        .collect()
}

/// Encodes bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True when `key` can be written without quotes.
fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('#')
        && !key.starts_with('/')
        && key
            .chars()
            .all(|c| !matches!(c, '.' | '[' | ']' | '"') && !c.is_whitespace() && !c.is_control())
}

/// How one step is written after the steps before it (`first` when it
/// starts the path).
pub fn step_text(step: &Step, first: bool) -> String {
    match step {
        Step::At(s) => at_text(s, first),
        Step::Append => "[]".into(),
    }
}

/// [`step_text`] for a key, key hash or index.
fn at_text(step: &PathStepBuf, first: bool) -> String {
    let dot = if first { "" } else { "." };
    match step {
        PathStepBuf::Key(k) => match std::str::from_utf8(k) {
            Ok(s) if is_bare(s) => format!("{dot}{s}"),
            Ok(s) => format!("[{}]", json_string(s)),
            Err(_) => format!("[hex:{}]", hex(k)),
        },
        PathStepBuf::Hash(h) => format!("{dot}#{}", hex(h)),
        PathStepBuf::Index(i) => format!("[{i}]"),
    }
}

/// Writes a path so that [`parse`] reads it back; the empty path is `.`.
pub fn display(steps: &[Step]) -> String {
    if steps.is_empty() {
        return ".".into();
    }
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| step_text(s, i == 0))
        .collect()
}

/// A string as a JSON string literal.
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// The steps as a JSON array: keys as strings (or `{"bytes":hex}` when not
/// UTF-8), indices as numbers, hashes as `{"hash":hex}`.
pub fn to_json(steps: &[Step]) -> String {
    let parts: Vec<String> = steps
        .iter()
        .map(|s| match s {
            Step::At(PathStepBuf::Key(k)) => match std::str::from_utf8(k) {
                Ok(s) => json_string(s),
                Err(_) => format!("{{\"bytes\":\"{}\"}}", hex(k)),
            },
            Step::At(PathStepBuf::Hash(h)) => format!("{{\"hash\":\"{}\"}}", hex(h)),
            Step::At(PathStepBuf::Index(i)) => i.to_string(),
            Step::Append => "\"[]\"".into(),
        })
        .collect();
    format!("[{}]", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Step {
        Step::key(s)
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse(".").unwrap(), vec![]);
        assert_eq!(
            parse("users.alice.tags[0]").unwrap(),
            vec![key("users"), key("alice"), key("tags"), Step::index(0)]
        );
        assert_eq!(
            parse(".users[-1]").unwrap(),
            vec![key("users"), Step::index(-1)]
        );
        assert_eq!(
            parse("a.\"b.c\"[\"d]e\"]").unwrap(),
            vec![key("a"), key("b.c"), key("d]e")]
        );
        assert_eq!(
            parse("m.#00ff[#AB]").unwrap(),
            vec![key("m"), Step::hash(vec![0, 255]), Step::hash(vec![0xab])]
        );
        assert_eq!(parse("[hex:ff00]").unwrap(), vec![Step::key(vec![255, 0])]);
        assert_eq!(parse("log[]").unwrap(), vec![key("log"), Step::Append]);
        assert_eq!(parse("a.0").unwrap(), vec![key("a"), key("0")]);
        assert_eq!(parse("[\"\"]").unwrap(), vec![key("")]);
        assert_eq!(parse("ü.ß").unwrap(), vec![key("ü"), key("ß")]);
        assert_eq!(
            parse("[0][1]").unwrap(),
            vec![Step::index(0), Step::index(1)]
        );
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "a..b", "a.", "a[", "a[x]", "a[1", "#", "#zz", "a]b", "a b", "\"open", "a[\"x\"", "..",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn display_reads_back() {
        let paths = vec![
            vec![],
            vec![key("users"), key("al ice"), Step::index(-2)],
            vec![key("a.b"), key("#x"), key(""), key("/root")],
            vec![Step::hash(vec![1, 2]), Step::key(vec![0xff]), key("0")],
            vec![key("quote\"d"), Step::Append],
        ];
        for p in paths {
            let text = display(&p);
            assert_eq!(parse(&text).unwrap(), p, "{text}");
        }
        assert_eq!(display(&[key("a"), Step::index(1)]), "a[1]");
    }
}
