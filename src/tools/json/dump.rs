//! Rendering a database as canonical JSON.

use super::float::format_float;
use crate::api::cursor::{Cursor, ValueRef};
use crate::api::database::Database;
use crate::api::map::Entries;
use crate::api::sorted::SortedEntries;
use crate::error::{Error, Result};
use crate::format::Tag;
use crate::storage::Storage;
use std::fmt::Write;

/// Deepest nesting of structures the dump follows (a slot can be made to
/// point at its own ancestor; this turns such a cycle into an error).
const MAX_NESTING: usize = crate::format::MAX_NESTING as usize;

/// Renders the whole database (header and root, every moment of a
/// history) as one line of canonical JSON, ending with a newline.
///
/// Every shared structure is written out in full wherever it is reached,
/// so the output can be exponentially larger than the file: a few KiB of
/// maps that each hold the one below twice, 40 levels deep, dump to 2^40
/// values. The work and memory are linear in the output; nesting past
/// [`crate::format::MAX_NESTING`] levels (which a cycle reaches) is an
/// error. Check the size of an untrusted file's expansion first if that
/// matters.
pub fn dump_json<S: Storage>(db: &Database<S>) -> Result<String> {
    let h = db.header();
    let mut out = String::new();
    out.push_str("{\"header\":{\"hash_id\":\"");
    out.push_str(&hash_id_text(h.hash_id));
    let _ = write!(
        out,
        "\",\"hash_size\":{},\"version\":{},\"tag\":\"{}\"}},\"root\":",
        h.hash_size,
        h.version,
        h.tag.name()
    );
    match h.tag {
        Tag::None => out.push_str("null"),
        Tag::ArrayList => {
            out.push_str("{\"array_list\":[");
            for i in 0..db.moment_count()? {
                if i > 0 {
                    out.push(',');
                }
                let index = i64::try_from(i).map_err(|_| Error::corrupt(12, "history too long"))?;
                write_value(&mut out, &db.moment(index)?, 0)?;
            }
            out.push_str("]}");
        }
        _ => write_value(&mut out, &db.root(), 0)?,
    }
    out.push_str("}\n");
    Ok(out)
}

/// Renders one value (a moment, or anything a cursor points at) as canonical JSON.
pub fn dump_value(cursor: &Cursor<'_>) -> Result<String> {
    let mut out = String::new();
    write_value(&mut out, cursor, 0)?;
    Ok(out)
}

fn hash_id_text(id: [u8; 4]) -> String {
    let printable = id
        .iter()
        .all(|&b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\');
    if printable {
        id.iter().map(|&b| b as char).collect()
    } else {
        hex(&id)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    let digit = |n: u8| char::from(DIGITS.get(usize::from(n & 0xF)).copied().unwrap_or(b'0'));
    for &b in bytes {
        s.push(digit(b >> 4));
        s.push(digit(b));
    }
    s
}

fn write_value(out: &mut String, c: &Cursor<'_>, depth: usize) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(Error::TooDeep {
            pos: c.position().unwrap_or(0),
        });
    }
    match c.value()? {
        ValueRef::Null => out.push_str("null"),
        ValueRef::Uint(v) => {
            let _ = write!(out, "{{\"uint\":{v}}}");
        }
        ValueRef::Int(v) => {
            let _ = write!(out, "{{\"int\":{v}}}");
        }
        ValueRef::Float(v) => {
            let _ = write!(out, "{{\"float\":{}}}", format_float(v));
        }
        ValueRef::Bytes { data, format_tag } => {
            let _ = write!(out, "{{\"bytes\":\"{}\"", hex(&data));
            if let Some(t) = format_tag {
                let _ = write!(out, ",\"format_tag\":\"{}\"", hex(&t));
            }
            out.push('}');
        }
        ValueRef::List(l) => write_items(out, "array_list", l.iter(), depth)?,
        ValueRef::LinkedList(l) => write_items(out, "linked_array_list", l.iter(), depth)?,
        ValueRef::Map(m) => {
            let count = counted(m.kind()).then(|| m.count()).transpose()?;
            write_entries(out, m.kind(), count, m.iter(), true, depth)?
        }
        ValueRef::Set(s) => {
            let count = counted(s.kind()).then(|| s.count()).transpose()?;
            write_entries(out, s.kind(), count, s.iter(), false, depth)?
        }
        ValueRef::SortedMap(m) => write_sorted(out, "sorted_map", || m.iter(), true, depth)?,
        ValueRef::SortedSet(s) => write_sorted(out, "sorted_set", || s.iter(), false, depth)?,
    }
    Ok(())
}

/// A sorted map or set: its entries in key order, keys as plain bytes.
///
/// The iterator (two B-tree paths) is made here, not in `write_value`, and
/// this is never inlined, so that the frame `write_value` repeats at every
/// nesting level stays small.
#[inline(never)]
fn write_sorted<'r>(
    out: &mut String,
    name: &str,
    entries: impl FnOnce() -> Result<SortedEntries<'r>>,
    with_values: bool,
    depth: usize,
) -> Result<()> {
    let _ = write!(out, "{{\"{name}\":[");
    for (i, e) in entries()?.enumerate() {
        let e = e?;
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"key\":{{\"bytes\":\"{}\"}}", hex(&e.key()?));
        if with_values {
            out.push_str(",\"value\":");
            write_value(out, &e.value()?, depth + 1)?;
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(())
}

fn counted(kind: Tag) -> bool {
    matches!(kind, Tag::CountedHashMap | Tag::CountedHashSet)
}

fn write_items<'r>(
    out: &mut String,
    name: &str,
    items: impl Iterator<Item = Result<Cursor<'r>>>,
    depth: usize,
) -> Result<()> {
    let _ = write!(out, "{{\"{name}\":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(out, &item?, depth + 1)?;
    }
    out.push_str("]}");
    Ok(())
}

fn write_entries(
    out: &mut String,
    kind: Tag,
    count: Option<u64>,
    entries: Entries<'_>,
    with_values: bool,
    depth: usize,
) -> Result<()> {
    let mut rendered: Vec<(Vec<u8>, String)> = Vec::new();
    for e in entries {
        let e = e?;
        let hash = e.hash()?.into_owned();
        let mut s = String::new();
        let _ = write!(s, "{{\"hash\":\"{}\",\"key\":", hex(&hash));
        write_value(&mut s, &e.key()?, depth + 1)?;
        if with_values {
            s.push_str(",\"value\":");
            write_value(&mut s, &e.value()?, depth + 1)?;
        }
        s.push('}');
        rendered.push((hash, s));
    }
    rendered.sort_by(|a, b| a.0.cmp(&b.0));
    let _ = write!(out, "{{\"{}\":", kind.name());
    if let Some(n) = count {
        let _ = write!(out, "{{\"count\":{n},\"entries\":");
    }
    out.push('[');
    for (i, (_, s)) in rendered.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(s);
    }
    out.push(']');
    if count.is_some() {
        out.push('}');
    }
    out.push('}');
    Ok(())
}
