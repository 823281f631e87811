//! Values on the command line: parsing what `put` writes, rendering what
//! `get`, `ls` and `diff` show, and pretty-printing canonical JSON.
//!
//! Scalars have a short JSON form (`42`, `-3`, `1.5`, `"text"`, `null`);
//! everything else uses the canonical form of the dump (`{"int":5}`,
//! `{"bytes":"00ff","format_tag":"6a73"}`, `{"hash_set":[]}`, ...). What
//! `get` prints, `put` reads back.

use crate::error::{CliError, Result};
use crate::path::{hex, json_string};
use serde_json::{Map, Value as Json};
use xitdb::format::{FormatTag, Tag};
use xitdb::{Cursor, CursorMut, ValueRef};

/// The syntax, for help texts.
pub const HELP: &str = "\
VALUE syntax (JSON; quote it for your shell):
  42            uint (unsigned 64-bit)
  -3            int (signed 64-bit; a literal with a minus sign)
  1.5  2e10     float (a literal with '.' or an exponent)
  \"text\"        bytes (the UTF-8 of the string)
  null          an explicit none
  {}            a new, empty hash_map
  {\"sorted_map\":[]}  {\"sorted_set\":[]}
                a new, empty sorted_map or sorted_set (keys kept in order)
  []  [1,\"a\"]   a new array_list (of the values given)
  {\"name\":\"Ada\",\"age\":36}
                a new hash_map with text keys (plain JSON, what `get` prints;
                an object whose one key names a kind, as below, is canonical)
  The canonical form of `xitdb dump` (what `get` prints) says exactly which
  kind: {\"int\":5} for an int that is not negative, {\"uint\":5},
  {\"float\":2}, {\"float\":\"NaN\"}, {\"bytes\":\"00ff\"} (hex),
  {\"bytes\":\"7b7d\",\"format_tag\":\"6a73\"}, {\"hash_set\":[]},
  {\"counted_hash_map\":[]}, {\"counted_hash_set\":[]},
  {\"linked_array_list\":[1,2]}, {\"hash_map\":[{\"key\":\"k\",\"value\":1}]},
  {\"sorted_map\":[{\"key\":\"k\",\"value\":1}]}, {\"sorted_set\":[{\"key\":\"k\"}]}
  (sorted entries go in strictly ascending key order; hash map and set
  entries may give a \"hash\" in hex; without one the key is hashed).
  Booleans are not xitdb values.";

/// Parses a VALUE argument into the canonical JSON form that
/// [`write`] (the library's [`xitdb::json::write_json_value`]) reads.
pub fn parse(text: &str) -> Result<Json, String> {
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
    canonical(&json)
}

const NOT_CANONICAL: &str = "a JSON object naming a kind must be a canonical value \
     such as {\"int\":5} or {\"hash_map\":[{\"key\":\"k\",\"value\":1}]}";

/// Translates the shorthand (see [`HELP`]) into the canonical form, also
/// inside list items and entry keys and values. Canonical scalars pass as
/// they are; the library checks them when writing.
fn canonical(j: &Json) -> Result<Json, String> {
    let one = |kind: &str, body: Json| Json::Object(Map::from_iter([(kind.to_string(), body)]));
    Ok(match j {
        Json::Null => Json::Null,
        Json::Bool(b) => {
            return Err(format!(
                "{b} is not an xitdb value (write 1 or 0, or the text \"{b}\")"
            ))
        }
        Json::Number(n) if n.is_u64() => one("uint", j.clone()),
        Json::Number(n) if n.is_i64() => one("int", j.clone()),
        Json::Number(_) => one("float", j.clone()),
        Json::String(s) => one("bytes", Json::String(hex(s.as_bytes()))),
        Json::Array(items) => one("array_list", list(items)?),
        Json::Object(o) if o.is_empty() => one("hash_map", Json::Array(vec![])),
        Json::Object(o) if !is_canonical(o) => one("hash_map", plain_entries(o)?),
        Json::Object(o) => {
            let Some((kind, body)) = o.iter().find(|(k, _)| k.as_str() != "format_tag") else {
                return Err(NOT_CANONICAL.into());
            };
            let extra =
                o.len() > 1 && !(kind == "bytes" && o.len() == 2 && o.contains_key("format_tag"));
            if extra {
                return Err(format!("{NOT_CANONICAL} (this one has {} keys)", o.len()));
            }
            let needs = |what: &str| format!("{{\"{kind}\":...}} needs {what}, found {body}");
            match kind.as_str() {
                "uint" | "int" | "float" | "bytes" => j.clone(),
                "array_list" | "linked_array_list" => one(
                    kind,
                    list(body.as_array().ok_or_else(|| needs("an array of values"))?)?,
                ),
                "hash_map" | "counted_hash_map" | "hash_set" | "counted_hash_set"
                | "sorted_map" | "sorted_set" => {
                    let counted = kind.starts_with("counted");
                    let entries = match body {
                        Json::Object(b) if counted => b.get("entries"),
                        b => Some(b),
                    }
                    .and_then(Json::as_array)
                    .ok_or_else(|| needs("an array of entries"))?
                    .iter()
                    .map(entry)
                    .collect::<Result<Vec<_>, _>>()?;
                    let entries = Json::Array(entries);
                    one(
                        kind,
                        if counted {
                            one("entries", entries)
                        } else {
                            entries
                        },
                    )
                }
                other => return Err(format!("unknown value kind {other:?}: {NOT_CANONICAL}")),
            }
        }
    })
}

/// The kinds a canonical object names (its one key).
const KINDS: &[&str] = &[
    "uint",
    "int",
    "float",
    "bytes",
    "array_list",
    "linked_array_list",
    "hash_map",
    "counted_hash_map",
    "hash_set",
    "counted_hash_set",
    "sorted_map",
    "sorted_set",
];

/// A canonical value: one key naming a kind (bytes may add a format
/// tag). Any other object is a plain map: `{"name":"Ada","age":36}`.
fn is_canonical(o: &Map<String, Json>) -> bool {
    let named = |k: &str| o.contains_key(k);
    match o.len() {
        1 => o.keys().all(|k| KINDS.contains(&k.as_str())),
        2 => named("bytes") && named("format_tag"),
        _ => false,
    }
}

/// A plain object's members as hash map entries, with text keys.
fn plain_entries(o: &Map<String, Json>) -> Result<Json, String> {
    let entries = o
        .iter()
        .map(|(k, v)| {
            let key = canonical(&Json::String(k.clone()))?;
            Ok(Json::Object(Map::from_iter([
                ("key".to_string(), key),
                ("value".to_string(), canonical(v)?),
            ])))
        })
        .collect::<Result<_, String>>()?;
    Ok(Json::Array(entries))
}

fn list(items: &[Json]) -> Result<Json, String> {
    Ok(Json::Array(
        items.iter().map(canonical).collect::<Result<_, _>>()?,
    ))
}

/// An entry with its key and value translated (other fields are left to
/// the library to check).
fn entry(e: &Json) -> Result<Json, String> {
    let mut o = e
        .as_object()
        .ok_or_else(|| format!("an entry must be an object with a \"key\", found {e}"))?
        .clone();
    for field in ["key", "value"] {
        if let Some(v) = o.get_mut(field) {
            *v = canonical(v)?;
        }
    }
    Ok(Json::Object(o))
}

/// Writes the canonical value `v` (from [`parse`]) at `cur`, replacing
/// what was there. Structures are new (an existing map is not merged into).
pub fn write(cur: CursorMut<'_>, v: &Json) -> Result<()> {
    xitdb::json::write_json_value(cur, v).map_err(|e| match e {
        xitdb::Error::Json(m) => CliError::new(format!("bad value: {m}")),
        e => e.into(),
    })
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

/// Nesting past which `plain` renders the rest in the canonical form
/// (which has its own bounds), so a hostile file cannot exhaust the stack.
const PLAIN_DEPTH: usize = 128;

/// The whole value as plain JSON: numbers, text, `null`, arrays for lists
/// and sets, objects for maps whose keys are all text. What has no plain
/// form (bytes that are not UTF-8 or carry a format tag, NaN and the
/// infinities, keys that are not text, entries stored without a key) is
/// written in the canonical form, which `put` reads too. Plain JSON does
/// not keep the exact kind (an int that is not negative reads back as a
/// uint, a linked list or a set as an array_list): `--canonical` does.
pub fn plain(c: &Cursor<'_>) -> xitdb::Result<String> {
    Ok(plain_json(c, 0)?.to_string())
}

fn canonical_json(c: &Cursor<'_>) -> xitdb::Result<Json> {
    let text = full(c)?;
    serde_json::from_str(&text).map_err(|e| xitdb::Error::Json(e.to_string()))
}

fn plain_json(c: &Cursor<'_>, depth: usize) -> xitdb::Result<Json> {
    if depth > PLAIN_DEPTH {
        return canonical_json(c);
    }
    let v = c.value()?;
    let plain = match &v {
        ValueRef::Null => Some(Json::Null),
        ValueRef::Uint(n) => Some((*n).into()),
        ValueRef::Int(n) => Some((*n).into()),
        ValueRef::Float(x) => serde_json::Number::from_f64(*x).map(Json::Number),
        ValueRef::Bytes {
            data,
            format_tag: None,
        } => std::str::from_utf8(data)
            .ok()
            .map(|t| Json::String(t.into())),
        ValueRef::List(_) | ValueRef::LinkedList(_) | ValueRef::Set(_) | ValueRef::SortedSet(_) => {
            Some(plain_items(c, depth)?)
        }
        ValueRef::Map(_) | ValueRef::SortedMap(_) => plain_object(c, depth)?,
        ValueRef::Bytes { .. } => None,
    };
    match plain {
        Some(j) => Ok(j),
        None => canonical_json(c),
    }
}

/// A list's items, or a set's members, as an array.
fn plain_items(c: &Cursor<'_>, depth: usize) -> xitdb::Result<Json> {
    let mut items = Vec::new();
    for child in c.iter()? {
        let child = child?;
        items.push(match child.step {
            xitdb::PathStepBuf::Index(_) => plain_json(&child.value, depth + 1)?,
            xitdb::PathStepBuf::Key(k) => match String::from_utf8(k) {
                Ok(t) => Json::String(t),
                Err(e) => Json::Object(Map::from_iter([(
                    "bytes".to_string(),
                    Json::String(hex(e.as_bytes())),
                )])),
            },
            xitdb::PathStepBuf::Hash(_) => return canonical_json(c),
        });
    }
    Ok(Json::Array(items))
}

/// A map as an object, when every key is text; `None` otherwise. An
/// object that would read back as a canonical value (one key naming a
/// kind) is `None` too, so that `put` never mistakes it.
fn plain_object(c: &Cursor<'_>, depth: usize) -> xitdb::Result<Option<Json>> {
    let mut members = Map::new();
    for child in c.iter()? {
        let child = child?;
        let xitdb::PathStepBuf::Key(k) = child.step else {
            return Ok(None);
        };
        let Ok(key) = String::from_utf8(k) else {
            return Ok(None);
        };
        members.insert(key, plain_json(&child.value, depth + 1)?);
    }
    if !members.is_empty() && is_canonical(&members) {
        return Ok(None);
    }
    Ok(Some(Json::Object(members)))
}

/// Number of entries, members or items of a structure (maps without a
/// count are walked).
pub fn size(c: &Cursor<'_>) -> xitdb::Result<Option<u64>> {
    Ok(match c.value()? {
        ValueRef::Map(m) if m.kind() == Tag::CountedHashMap => Some(m.count()?),
        ValueRef::Map(m) => Some(count(m.iter())?),
        ValueRef::Set(s) if s.kind() == Tag::CountedHashSet => Some(s.count()?),
        ValueRef::Set(s) => Some(count(s.iter())?),
        ValueRef::SortedMap(m) => Some(m.len()?),
        ValueRef::SortedSet(s) => Some(s.len()?),
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
        Tag::HashMap | Tag::CountedHashMap | Tag::SortedMap => "entr",
        Tag::HashSet | Tag::CountedHashSet | Tag::SortedSet => "member",
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

    fn j(text: &str) -> Json {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn shorthand_scalars() {
        assert_eq!(parse("42").unwrap(), j(r#"{"uint":42}"#));
        assert_eq!(parse("-3").unwrap(), j(r#"{"int":-3}"#));
        assert_eq!(parse("1.5").unwrap(), j(r#"{"float":1.5}"#));
        assert_eq!(parse("2e3").unwrap(), j(r#"{"float":2000.0}"#));
        assert_eq!(parse("\"hi\"").unwrap(), j(r#"{"bytes":"6869"}"#));
        assert_eq!(parse("null").unwrap(), Json::Null);
        assert_eq!(
            parse("18446744073709551615").unwrap(),
            j(r#"{"uint":18446744073709551615}"#)
        );
        assert_eq!(
            parse("-9223372036854775808").unwrap(),
            j(r#"{"int":-9223372036854775808}"#)
        );
        assert!(parse("18446744073709551616").is_err());
        assert!(parse("-9223372036854775809").is_err());
        assert!(parse("true").unwrap_err().contains("not an xitdb value"));
        assert!(parse("hello").unwrap_err().contains("JSON string"));
    }

    #[test]
    fn structures_and_canonical_forms() {
        assert_eq!(parse("{}").unwrap(), j(r#"{"hash_map":[]}"#));
        assert_eq!(parse("[]").unwrap(), j(r#"{"array_list":[]}"#));
        assert_eq!(
            parse(r#"[1,"a",[-2]]"#).unwrap(),
            j(r#"{"array_list":[{"uint":1},{"bytes":"61"},{"array_list":[{"int":-2}]}]}"#)
        );
        for canon in [
            r#"{"int":5}"#,
            r#"{"uint":5}"#,
            r#"{"float":2}"#,
            r#"{"float":"NaN"}"#,
            r#"{"bytes":"00ff","format_tag":"6a73"}"#,
        ] {
            assert_eq!(parse(canon).unwrap(), j(canon));
        }
        assert_eq!(
            parse(r#"{"counted_hash_map":{"count":0,"entries":[]}}"#).unwrap(),
            j(r#"{"counted_hash_map":{"entries":[]}}"#)
        );
        assert_eq!(
            parse(r#"{"counted_hash_set":[]}"#).unwrap(),
            j(r#"{"counted_hash_set":{"entries":[]}}"#)
        );
        assert_eq!(
            parse(r#"{"hash_map":[{"key":"k","value":1}]}"#).unwrap(),
            j(r#"{"hash_map":[{"key":{"bytes":"6b"},"value":{"uint":1}}]}"#)
        );
        assert_eq!(
            parse(r#"{"linked_array_list":[1,2]}"#).unwrap(),
            j(r#"{"linked_array_list":[{"uint":1},{"uint":2}]}"#)
        );
        // other objects are plain maps with text keys
        assert_eq!(
            parse(r#"{"name":"x"}"#).unwrap(),
            j(r#"{"hash_map":[{"key":{"bytes":"6e616d65"},"value":{"bytes":"78"}}]}"#)
        );
        let two = parse(r#"{"int":5,"uint":3}"#).unwrap();
        assert_eq!(two["hash_map"].as_array().map(Vec::len), Some(2));
        assert!(parse(r#"{"a":true}"#).is_err());
        assert!(parse(r#"{"array_list":5}"#).is_err());
        assert!(parse(r#"{"hash_map":[5]}"#).is_err());
        assert!(parse(r#"{"hash_map":[{"key":true}]}"#).is_err());
    }

    /// Writes `text` (through `parse`) into a fresh database and dumps it.
    fn roundtrip(text: &str) -> std::result::Result<String, String> {
        let v = parse(text)?;
        let mut db = xitdb::Database::open_storage(
            xitdb::storage::MemoryStorage::new(),
            xitdb::Options::default(),
        )
        .unwrap();
        let mut out = String::new();
        db.transact(|tx| -> Result<()> {
            write(tx.root(), &v)?;
            out = full(&tx.root().read()?)?;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn written_through_the_library() {
        assert_eq!(roundtrip("42").unwrap(), "42");
        assert_eq!(roundtrip("{\"int\":5}").unwrap(), "{\"int\":5}");
        assert_eq!(
            roundtrip("[1,\"a\"]").unwrap(),
            "{\"array_list\":[{\"uint\":1},{\"bytes\":\"61\"}]}"
        );
        let m = roundtrip("{\"hash_set\":[{\"key\":\"a\"}]}").unwrap();
        assert!(m.starts_with("{\"hash_set\":[{\"hash\":\""), "{m}");
        let e = roundtrip("{\"hash_map\":[{\"key\":5,\"value\":1}]}").unwrap_err();
        assert!(e.contains("needs bytes"), "{e}");
        let e = roundtrip("{\"hash_set\":[{\"key\":\"a\",\"value\":1}]}").unwrap_err();
        assert!(e.contains("no \"value\""), "{e}");
        let e = roundtrip("{\"uint\":-1}").unwrap_err();
        assert!(e.contains("bad value"), "{e}");
        assert!(roundtrip("{\"bytes\":\"0\"}").is_err());
        assert_eq!(
            roundtrip(
                "{\"sorted_map\":[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":[]}]}"
            )
            .unwrap(),
            "{\"sorted_map\":[{\"key\":{\"bytes\":\"61\"},\"value\":{\"uint\":1}},\
             {\"key\":{\"bytes\":\"62\"},\"value\":{\"array_list\":[]}}]}"
        );
        assert_eq!(
            roundtrip("{\"sorted_set\":[]}").unwrap(),
            "{\"sorted_set\":[]}"
        );
        let e = roundtrip("{\"sorted_set\":[{\"key\":\"b\"},{\"key\":\"a\"}]}").unwrap_err();
        assert!(e.contains("ascending"), "{e}");
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
