//! Bounded previews of stored values, for `Debug`: a view prints its
//! first entries rather than its internals, and never reads a large value
//! whole (at most [`ITEMS`] children and [`TEXT`] bytes of text each).

use crate::api::cursor::{Cursor, ValueRef};
use crate::api::value::PathStepBuf;
use std::fmt;

/// Children shown before an ellipsis.
const ITEMS: usize = 8;
/// Bytes of a byte value shown before an ellipsis.
const TEXT: usize = 32;

/// A value's preview: scalars as themselves, bytes as (cut) text, nested
/// structures as their kind.
pub(crate) struct Value<'a, 'r>(pub &'a Cursor<'r>);

/// The first `TEXT + 1` bytes of a byte value (one more than shown, to
/// know whether to cut), read through the streaming reader.
fn head(c: &Cursor<'_>) -> crate::error::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(TEXT + 1);
    c.reader()?.take(TEXT as u64 + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

impl fmt::Debug for Value<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(
            self.0.tag(),
            crate::format::Tag::Bytes | crate::format::Tag::ShortBytes
        ) {
            return match head(self.0) {
                Ok(bytes) => Text(&bytes).fmt(f),
                Err(e) => write!(f, "<error: {e}>"),
            };
        }
        match self.0.value() {
            Ok(ValueRef::Null) => f.write_str("null"),
            Ok(ValueRef::Uint(n)) => write!(f, "{n}"),
            Ok(ValueRef::Int(n)) => write!(f, "{n}"),
            Ok(ValueRef::Float(x)) => write!(f, "{x:?}"),
            Ok(_) => write!(f, "<{}>", self.0.tag()),
            Err(e) => write!(f, "<error: {e}>"),
        }
    }
}

/// Bytes as text (lossy), cut after [`TEXT`] bytes.
struct Text<'a>(&'a [u8]);

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.0.get(..TEXT).unwrap_or(self.0);
        let text = String::from_utf8_lossy(shown);
        if shown.len() < self.0.len() {
            write!(f, "{:?}…", text)
        } else {
            write!(f, "{:?}", text)
        }
    }
}

/// A key or index as shown in a preview.
struct Step<'a>(&'a PathStepBuf);

impl fmt::Debug for Step<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PathStepBuf::Key(k) => Text(k).fmt(f),
            PathStepBuf::Hash(h) => write!(
                f,
                "#{}",
                h.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
            PathStepBuf::Index(i) => write!(f, "{i}"),
        }
    }
}

/// The first children of the structure under `cur`: a map (keys to
/// values), or a list (of values, or of a set's members).
pub(crate) fn children(cur: &Cursor<'_>, keyed: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut children = match cur.iter() {
        Ok(it) => it,
        Err(e) => return write!(f, "<error: {e}>"),
    };
    let mut shown = 0;
    let more = |f: &mut fmt::Formatter<'_>, n: usize| {
        if n == ITEMS {
            write!(f, ", …")
        } else {
            Ok(())
        }
    };
    if keyed {
        let mut map = f.debug_map();
        for child in children.by_ref().take(ITEMS) {
            shown += 1;
            match child {
                Ok(c) => map.entry(&Step(&c.step), &Value(&c.value)),
                Err(e) => map.entry(&"<error>", &e.to_string()),
            };
        }
        map.finish()?;
    } else {
        let mut list = f.debug_list();
        for child in children.by_ref().take(ITEMS) {
            shown += 1;
            match child {
                Ok(c) if c.value.is_null() && !matches!(c.step, PathStepBuf::Index(_)) => {
                    list.entry(&Step(&c.step))
                }
                Ok(c) => list.entry(&Value(&c.value)),
                Err(e) => list.entry(&e.to_string()),
            };
        }
        list.finish()?;
    }
    more(f, shown)
}
