//! Values on the command line: parsing what `put` writes, rendering what
//! `get`, `ls` and `diff` show, and pretty-printing canonical JSON.
//!
//! Scalars have a short JSON form (`42`, `-3`, `1.5`, `"text"`, `null`);
//! everything else uses the canonical form of the dump (`{"int":5}`,
//! `{"bytes":"00ff","format_tag":"6a73"}`, `{"hash_set":[]}`, ...). What
//! `get` prints, `put` reads back.

use crate::path::{hex, json_string, unhex};
use serde_json::{Map, Value as Json};
use xitdb::{Cursor, FormatTag, Hasher, Tag, ValueRef, WriteCursor};

/// The syntax, for help texts.
pub const HELP: &str = "\
VALUE syntax (JSON; quote it for your shell):
  42            uint (unsigned 64-bit)
  -3            int (signed 64-bit; a literal with a minus sign)
  1.5  2e10     float (a literal with '.' or an exponent)
  \"text\"        bytes (the UTF-8 of the string)
  null          an explicit none
  {}            a new, empty hash_map
  []  [1,\"a\"]   a new array_list (of the values given)
  The canonical form of `xitdb dump` (what `get` prints) says exactly which
  kind: {\"int\":5} for an int that is not negative, {\"uint\":5},
  {\"float\":2}, {\"float\":\"NaN\"}, {\"bytes\":\"00ff\"} (hex),
  {\"bytes\":\"7b7d\",\"format_tag\":\"6a73\"}, {\"hash_set\":[]},
  {\"counted_hash_map\":[]}, {\"counted_hash_set\":[]},
  {\"linked_array_list\":[1,2]}, {\"hash_map\":[{\"key\":\"k\",\"value\":1}]}
  (map and set entries may give a \"hash\" in hex; without one the key is
  hashed). Booleans and other JSON objects are not xitdb values.";

/// A value to write, checked before any transaction starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// An explicit none.
    Null,
    /// An unsigned integer.
    Uint(u64),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Bytes with an optional format tag.
    Bytes(Vec<u8>, Option<FormatTag>),
    /// An ArrayList (`linked`: a LinkedArrayList) of items.
    List {
        /// A LinkedArrayList rather than an ArrayList.
        linked: bool,
        /// The items.
        items: Vec<Val>,
    },
    /// A map or set of one of the four HAMT kinds.
    Map {
        /// hash_map, counted_hash_map, hash_set or counted_hash_set.
        kind: Tag,
        /// The entries (values are ignored for sets).
        entries: Vec<Entry>,
    },
}

/// One entry of a map or set to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The raw key hash, when given; otherwise the key is hashed.
    pub hash: Option<Vec<u8>>,
    /// The key (bytes, or null when a hash is given).
    pub key: Val,
    /// The value (null for sets).
    pub value: Val,
}

/// Parses a VALUE argument.
pub fn parse(text: &str) -> Result<Val, String> {
    let t = text.trim();
    let json: Json = serde_json::from_str(t).map_err(|e| {
        let hint = if t.starts_with('"') || t.starts_with('{') || t.starts_with('[') {
            String::new()
        } else {
            format!(" (text is written as a JSON string: '\"{t}\"')")
        };
        format!("value {text:?} is not JSON: {e}{hint}")
    })?;
    // An integer literal too large for 64 bits would come back as a float.
    if let Json::Number(n) = &json {
        let integer = !t.contains(['.', 'e', 'E']);
        if integer && n.as_u64().is_none() && n.as_i64().is_none() {
            return Err(format!(
                "value {t} does not fit in 64 bits (uint: 0..2^64-1, int: -2^63..2^63-1)"
            ));
        }
    }
    from_json(&json)
}

fn from_json(j: &Json) -> Result<Val, String> {
    Ok(match j {
        Json::Null => Val::Null,
        Json::Bool(b) => {
            return Err(format!(
                "{b} is not an xitdb value (write 1 or 0, or the text \"{b}\")"
            ))
        }
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Val::Uint(u)
            } else if let Some(i) = n.as_i64() {
                Val::Int(i)
            } else {
                Val::Float(n.as_f64().ok_or_else(|| format!("bad number {n}"))?)
            }
        }
        Json::String(s) => Val::Bytes(s.as_bytes().to_vec(), None),
        Json::Array(items) => Val::List {
            linked: false,
            items: items.iter().map(from_json).collect::<Result<_, _>>()?,
        },
        Json::Object(o) if o.is_empty() => Val::Map {
            kind: Tag::HashMap,
            entries: vec![],
        },
        Json::Object(o) => canonical(o)?,
    })
}

const NOT_CANONICAL: &str = "a JSON object must be {} (an empty hash_map) or a canonical value \
     such as {\"int\":5} or {\"hash_map\":[{\"key\":\"k\",\"value\":1}]}";

fn canonical(o: &Map<String, Json>) -> Result<Val, String> {
    let (kind, body) = match o.iter().find(|(k, _)| k.as_str() != "format_tag") {
        Some((k, v)) => (k.as_str(), v),
        None => return Err(NOT_CANONICAL.into()),
    };
    let extra = o.len() > 1 && !(kind == "bytes" && o.len() == 2 && o.contains_key("format_tag"));
    if extra {
        return Err(format!("{NOT_CANONICAL} (this one has {} keys)", o.len()));
    }
    let num = |what: &str| format!("{{\"{kind}\":...}} needs {what}, found {body}");
    Ok(match kind {
        "uint" => Val::Uint(body.as_u64().ok_or_else(|| num("an integer 0..2^64-1"))?),
        "int" => Val::Int(
            body.as_i64()
                .ok_or_else(|| num("an integer -2^63..2^63-1"))?,
        ),
        "float" => Val::Float(match body {
            Json::String(s) if s == "NaN" => f64::NAN,
            Json::String(s) if s == "Infinity" => f64::INFINITY,
            Json::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
            b => b
                .as_f64()
                .ok_or_else(|| num("a number, \"NaN\", \"Infinity\" or \"-Infinity\""))?,
        }),
        "bytes" => {
            let data = body
                .as_str()
                .ok_or_else(|| num("a hex string"))
                .and_then(|h| unhex(h).map_err(|e| format!("bytes: {e}")))?;
            let tag = match o.get("format_tag") {
                None => None,
                Some(t) => {
                    let t = t
                        .as_str()
                        .ok_or("format_tag must be a hex string".to_string())
                        .and_then(|h| unhex(h).map_err(|e| format!("format_tag: {e}")))?;
                    Some(<[u8; 2]>::try_from(t).map_err(|_| "format_tag must be 2 bytes")?)
                }
            };
            Val::Bytes(data, tag)
        }
        "array_list" | "linked_array_list" => Val::List {
            linked: kind == "linked_array_list",
            items: body
                .as_array()
                .ok_or_else(|| num("an array of values"))?
                .iter()
                .map(from_json)
                .collect::<Result<_, _>>()?,
        },
        "hash_map" | "counted_hash_map" | "hash_set" | "counted_hash_set" => {
            let kind_tag = Tag::from_name(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
            let list = match body {
                Json::Object(b) if kind.starts_with("counted") => b.get("entries"),
                b => Some(b),
            }
            .and_then(|l| l.as_array())
            .ok_or_else(|| num("an array of entries"))?;
            let is_set = kind.ends_with("set");
            let entries = list
                .iter()
                .map(|e| entry(e, is_set))
                .collect::<Result<_, _>>()?;
            Val::Map {
                kind: kind_tag,
                entries,
            }
        }
        other => return Err(format!("unknown value kind {other:?}: {NOT_CANONICAL}")),
    })
}

fn entry(e: &Json, is_set: bool) -> Result<Entry, String> {
    let o = e
        .as_object()
        .ok_or_else(|| format!("an entry must be an object with a \"key\", found {e}"))?;
    let hash = match o.get("hash") {
        None => None,
        Some(h) => Some(
            h.as_str()
                .ok_or("an entry's hash must be a hex string".to_string())
                .and_then(|h| unhex(h).map_err(|e| format!("hash: {e}")))?,
        ),
    };
    let key = from_json(o.get("key").unwrap_or(&Json::Null))?;
    if hash.is_none() && !matches!(key, Val::Bytes(..)) {
        return Err(format!(
            "an entry without a \"hash\" needs bytes as its \"key\", found {}",
            o.get("key").unwrap_or(&Json::Null)
        ));
    }
    let value = match o.get("value") {
        Some(v) if is_set && !v.is_null() => {
            return Err("set members have no \"value\"".into());
        }
        Some(v) => from_json(v)?,
        None => Val::Null,
    };
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "hash" | "key" | "value"))
    {
        return Err(format!("unknown entry field {k:?}"));
    }
    Ok(Entry { hash, key, value })
}

/// Writes `v` at `cur`, replacing what was there. Structures are new
/// (an existing map is not merged into).
pub fn write(mut cur: WriteCursor<'_>, v: &Val, hasher: &Hasher) -> xitdb::Result<()> {
    use xitdb::Value;
    match v {
        Val::Null => cur.write(()),
        Val::Uint(n) => cur.write(*n),
        Val::Int(n) => cur.write(*n),
        Val::Float(x) => cur.write(*x),
        Val::Bytes(b, tag) => cur.write(Value::Bytes(b, *tag)),
        Val::List { linked, items } => {
            cur.write(())?;
            if *linked {
                let mut list = cur.linked_array_list()?;
                for item in items {
                    write(list.append_cursor()?, item, hasher)?;
                }
            } else {
                let mut list = cur.array_list()?;
                for item in items {
                    write(list.append_cursor()?, item, hasher)?;
                }
            }
            Ok(())
        }
        Val::Map { kind, entries } => {
            cur.write(())?;
            let hash_of = |e: &Entry| -> xitdb::Result<Vec<u8>> {
                match (&e.hash, &e.key) {
                    (Some(h), _) => Ok(h.clone()),
                    (None, Val::Bytes(k, _)) => Ok(hasher.hash(k)?.to_vec()),
                    (None, _) => Err(xitdb::Error::InvalidArgument(
                        "an entry needs a key or hash",
                    )),
                }
            };
            match kind {
                Tag::HashSet | Tag::CountedHashSet => {
                    let mut set = if *kind == Tag::HashSet {
                        cur.hash_set()?
                    } else {
                        cur.counted_hash_set()?
                    };
                    for e in entries {
                        let h = hash_of(e)?;
                        let mut en = set.entry_by_hash(&h)?;
                        write(en.key(), &e.key, hasher)?;
                    }
                }
                _ => {
                    let mut map = if *kind == Tag::CountedHashMap {
                        cur.counted_hash_map()?
                    } else {
                        cur.hash_map()?
                    };
                    for e in entries {
                        let h = hash_of(e)?;
                        let mut en = map.entry_by_hash(&h)?;
                        write(en.key(), &e.key, hasher)?;
                        write(en.value(), &e.value, hasher)?;
                    }
                }
            }
            Ok(())
        }
    }
}

/// A kind's name as users read it (`null` for none, `bytes` for short bytes).
pub fn kind_name(tag: Tag) -> &'static str {
    match tag {
        Tag::None => "null",
        Tag::ShortBytes => "bytes",
        t => t.name(),
    }
}

/// A kind with its article, as in "x is a uint", "x is an int", "x is null".
pub fn a_kind(tag: Tag) -> String {
    match kind_name(tag) {
        n @ ("null" | "bytes") => n.into(),
        n @ ("int" | "array_list" | "index") => format!("an {n}"),
        n => format!("a {n}"),
    }
}

/// A float in the canonical form, as a value `parse` reads back as a float.
fn float_text(x: f64) -> String {
    if x.is_finite() {
        xitdb::json::format_float(x)
    } else {
        format!("{{\"float\":{}}}", xitdb::json::format_float(x))
    }
}

/// Bytes as `"text"` (UTF-8, no format tag) or canonical `{"bytes":...}`.
fn bytes_text(data: &[u8], tag: Option<FormatTag>) -> String {
    match (std::str::from_utf8(data), tag) {
        (Ok(s), None) => json_string(s),
        (_, None) => format!("{{\"bytes\":\"{}\"}}", hex(data)),
        (_, Some(t)) => format!(
            "{{\"bytes\":\"{}\",\"format_tag\":\"{}\"}}",
            hex(data),
            hex(&t)
        ),
    }
}

/// A scalar in the short form; `None` for structures.
fn scalar_text(v: &ValueRef<'_>) -> Option<String> {
    Some(match v {
        ValueRef::Null => "null".into(),
        ValueRef::Uint(n) => n.to_string(),
        ValueRef::Int(n) if *n < 0 => n.to_string(),
        ValueRef::Int(n) => format!("{{\"int\":{n}}}"),
        ValueRef::Float(x) => float_text(*x),
        ValueRef::Bytes { data, format_tag } => bytes_text(data, *format_tag),
        _ => return None,
    })
}

/// The whole value: scalars in the short form, structures as canonical
/// JSON. `put` reads it back.
pub fn full(c: &Cursor<'_>) -> xitdb::Result<String> {
    let v = c.value()?;
    match scalar_text(&v) {
        Some(s) => Ok(s),
        None => xitdb::json::dump_value(c),
    }
}

/// Number of entries, members or items of a structure (maps without a
/// count are walked).
pub fn size(c: &Cursor<'_>) -> xitdb::Result<Option<u64>> {
    Ok(match c.value()? {
        ValueRef::Map(m) if m.kind() == Tag::CountedHashMap => Some(m.count()?),
        ValueRef::Map(m) => Some(count(m.iter())?),
        ValueRef::Set(s) if s.kind() == Tag::CountedHashSet => Some(s.count()?),
        ValueRef::Set(s) => Some(count(s.iter())?),
        ValueRef::List(l) => Some(l.len()),
        ValueRef::LinkedList(l) => Some(l.len()),
        _ => None,
    })
}

fn count<T>(it: impl Iterator<Item = xitdb::Result<T>>) -> xitdb::Result<u64> {
    let mut n = 0;
    for e in it {
        e?;
        n += 1;
    }
    Ok(n)
}

/// "3 entries", "1 item", ...
pub fn size_text(tag: Tag, n: u64) -> String {
    let unit = match tag {
        Tag::HashMap | Tag::CountedHashMap => "entr",
        Tag::HashSet | Tag::CountedHashSet => "member",
        _ => "item",
    };
    match (unit, n) {
        ("entr", 1) => "1 entry".into(),
        ("entr", n) => format!("{n} entries"),
        (u, 1) => format!("1 {u}"),
        (u, n) => format!("{n} {u}s"),
    }
}

/// A one-line summary: scalars in the short form (long bytes cut),
/// structures as their kind and size.
pub fn short(c: &Cursor<'_>) -> xitdb::Result<String> {
    const MAX: usize = 60;
    let v = c.value()?;
    if let ValueRef::Bytes { data, format_tag } = &v {
        let s = bytes_text(data, *format_tag);
        if s.chars().count() > MAX {
            let cut: String = s.chars().take(MAX - 10).collect();
            return Ok(format!("{cut}… ({} bytes)", data.len()));
        }
        return Ok(s);
    }
    if let Some(s) = scalar_text(&v) {
        return Ok(s);
    }
    let n = size(c)?.unwrap_or(0);
    Ok(format!(
        "{} ({})",
        kind_name(c.tag()),
        size_text(c.tag(), n)
    ))
}

/// Indents compact JSON (two spaces), keeping every number as written.
pub fn pretty(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = json.trim_end().chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(c);
                    out.push(close);
                } else {
                    out.push(c);
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_scalars() {
        assert_eq!(parse("42").unwrap(), Val::Uint(42));
        assert_eq!(parse("-3").unwrap(), Val::Int(-3));
        assert_eq!(parse("1.5").unwrap(), Val::Float(1.5));
        assert_eq!(parse("2e3").unwrap(), Val::Float(2000.0));
        assert_eq!(parse("\"hi\"").unwrap(), Val::Bytes(b"hi".to_vec(), None));
        assert_eq!(parse("null").unwrap(), Val::Null);
        assert_eq!(parse("18446744073709551615").unwrap(), Val::Uint(u64::MAX));
        assert_eq!(parse("-9223372036854775808").unwrap(), Val::Int(i64::MIN));
        assert!(parse("18446744073709551616").is_err());
        assert!(parse("-9223372036854775809").is_err());
        assert!(parse("true").is_err());
        assert!(parse("hello").unwrap_err().contains("JSON string"));
    }

    #[test]
    fn structures_and_canonical_forms() {
        assert_eq!(
            parse("{}").unwrap(),
            Val::Map {
                kind: Tag::HashMap,
                entries: vec![]
            }
        );
        assert_eq!(
            parse("[]").unwrap(),
            Val::List {
                linked: false,
                items: vec![]
            }
        );
        assert_eq!(parse("{\"int\":5}").unwrap(), Val::Int(5));
        assert_eq!(parse("{\"uint\":5}").unwrap(), Val::Uint(5));
        assert_eq!(parse("{\"float\":2}").unwrap(), Val::Float(2.0));
        assert!(matches!(parse("{\"float\":\"NaN\"}").unwrap(), Val::Float(x) if x.is_nan()));
        assert_eq!(
            parse("{\"bytes\":\"00ff\",\"format_tag\":\"6a73\"}").unwrap(),
            Val::Bytes(vec![0, 255], Some(*b"js"))
        );
        assert_eq!(
            parse("{\"counted_hash_map\":{\"count\":0,\"entries\":[]}}").unwrap(),
            Val::Map {
                kind: Tag::CountedHashMap,
                entries: vec![]
            }
        );
        assert!(parse("{\"name\":\"x\"}").is_err());
        assert!(parse("{\"int\":5,\"uint\":3}").is_err());
        assert!(parse("{\"hash_map\":[{\"key\":5,\"value\":1}]}").is_err());
        assert!(parse("{\"hash_set\":[{\"key\":\"a\",\"value\":1}]}").is_err());
    }

    #[test]
    fn pretty_keeps_numbers_and_strings() {
        let s = "{\"a\":[1.5e0,{\"b\":\"x,y:{\\\"\"}],\"c\":[],\"d\":{}}";
        let p = pretty(s);
        assert!(p.contains("1.5e0"));
        assert!(p.contains("\"x,y:{\\\"\""));
        assert!(p.contains("\"c\": []"));
        let compact: String = p.split('\n').map(|l| l.trim()).collect::<String>();
        assert_eq!(compact.replace(": ", ":"), s);
    }
}
