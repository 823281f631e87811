//! Stored value → `Deserialize`: each `deserialize_*` checks the stored
//! kind against what the type asks for, and reports a mismatch by kind
//! (the path is added as the error travels up, see `error.rs`).

use super::access::{EntryAccess, ItemAccess, Variant};
use super::error::{mismatch, typed};
use super::node::kind;
use super::MAX_DEPTH;
use crate::api::cursor::Cursor;
use crate::error::{Error, Result};
use crate::format::Tag;
use crate::tree::bytes;
use serde::de::{self, Deserialize, Visitor};
use std::borrow::Cow;

/// Reads a `T` from the value under `cur`.
pub(crate) fn from_cursor<'r, T: Deserialize<'r>>(cur: Cursor<'r>) -> Result<T> {
    T::deserialize(De { cur, depth: 0 })
}

/// The bytes of a byte value, borrowed from the storage whenever they lie
/// in place there: inline (short) bytes too, from inside their slot.
pub(crate) fn bytes_in_place<'r>(cur: &Cursor<'r>) -> Result<Cow<'r, [u8]>> {
    if let (Tag::ShortBytes, Some(pos)) = (cur.slot.tag, cur.pos) {
        let (_, len, _) = bytes::short_parts(cur.slot);
        if let Ok(b @ Cow::Borrowed(_)) = cur.src.bytes(pos.saturating_add(1), len as u64) {
            return Ok(b);
        }
    }
    cur.as_bytes()
}

/// Adds why a borrowing read failed: the storage could not lend its bytes.
fn not_in_place(e: Error) -> Error {
    match e {
        Error::Typed { path, message } => Error::Typed {
            path,
            message: format!(
                "{message} (this storage copies bytes on read, so they cannot be \
                 borrowed: read a String or Vec<u8> instead)"
            ),
        },
        e => e,
    }
}

/// Visits text as a string: borrowed from the storage when it can be.
/// Bytes that are not UTF-8 go to the visitor as bytes when `lenient`
/// (self-describing reads), else they are an error.
pub(crate) fn visit_text<'r, V: Visitor<'r>>(
    data: Cow<'r, [u8]>,
    visitor: V,
    lenient: bool,
) -> Result<V::Value> {
    let not_text = || typed("expected UTF-8 text, found bytes that are not UTF-8");
    match data {
        Cow::Borrowed(b) => match std::str::from_utf8(b) {
            Ok(s) => visitor.visit_borrowed_str(s),
            Err(_) if lenient => visitor.visit_borrowed_bytes(b),
            Err(_) => Err(not_text()),
        },
        Cow::Owned(b) => match String::from_utf8(b) {
            Ok(s) => visitor.visit_string(s).map_err(not_in_place),
            Err(e) if lenient => visitor.visit_byte_buf(e.into_bytes()).map_err(not_in_place),
            Err(_) => Err(not_text()),
        },
    }
}

/// Visits bytes: borrowed from the storage when it can be.
pub(crate) fn visit_bytes<'r, V: Visitor<'r>>(data: Cow<'r, [u8]>, visitor: V) -> Result<V::Value> {
    match data {
        Cow::Borrowed(b) => visitor.visit_borrowed_bytes(b),
        Cow::Owned(b) => visitor.visit_byte_buf(b).map_err(not_in_place),
    }
}

/// The deserializer of one stored value, `depth` structures below the top.
pub(crate) struct De<'r> {
    pub(crate) cur: Cursor<'r>,
    pub(crate) depth: usize,
}

impl<'r> De<'r> {
    /// The deserializer of a value nested one level deeper.
    pub(crate) fn child(depth: usize, cur: Cursor<'r>) -> Result<De<'r>> {
        if depth >= MAX_DEPTH {
            return Err(typed(format!(
                "the value nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(De {
            cur,
            depth: depth + 1,
        })
    }

    fn tag(&self) -> Tag {
        self.cur.slot.tag
    }

    /// The stored kind is not what the type needs.
    fn mismatch(&self, expected: &'static str) -> Error {
        mismatch(expected, kind::of(self.tag()))
    }

    fn is_bytes(&self) -> bool {
        matches!(self.tag(), Tag::Bytes | Tag::ShortBytes)
    }

    fn is_list(&self) -> bool {
        matches!(
            self.tag(),
            Tag::ArrayList
                | Tag::LinkedArrayList
                | Tag::HashSet
                | Tag::CountedHashSet
                | Tag::SortedSet
        )
    }

    fn is_map(&self) -> bool {
        matches!(
            self.tag(),
            Tag::HashMap | Tag::CountedHashMap | Tag::SortedMap
        )
    }

    fn seq<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        if !self.is_list() {
            return Err(self.mismatch(kind::LIST));
        }
        let mut items = ItemAccess::new(self.cur, self.depth)?;
        let value = visitor.visit_seq(&mut items)?;
        items.end()?;
        Ok(value)
    }

    fn map<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        if !self.is_map() {
            return Err(self.mismatch(kind::MAP));
        }
        visitor.visit_map(EntryAccess::new(self.cur, self.depth)?)
    }

    fn text<V: Visitor<'r>>(self, visitor: V, lenient: bool) -> Result<V::Value> {
        if !self.is_bytes() {
            return Err(self.mismatch(kind::BYTES));
        }
        visit_text(bytes_in_place(&self.cur)?, visitor, lenient)
    }

    fn uint<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        match self.tag() {
            Tag::Uint => visitor.visit_u64(self.cur.slot.value),
            Tag::Int => visitor.visit_i64(self.cur.slot.value as i64),
            _ => Err(self.mismatch(kind::UINT)),
        }
    }

    fn int<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        match self.tag() {
            Tag::Uint | Tag::Int => self.uint(visitor),
            _ => Err(self.mismatch(kind::INT)),
        }
    }

    fn float<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        match self.tag() {
            Tag::Float => visitor.visit_f64(f64::from_bits(self.cur.slot.value)),
            Tag::Uint | Tag::Int => self.uint(visitor),
            _ => Err(self.mismatch(kind::FLOAT)),
        }
    }
}

macro_rules! numbers {
    ($how:ident: $($method:ident),*) => {
        $(fn $method<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
            self.$how(visitor)
        })*
    };
}

impl<'r> de::Deserializer<'r> for De<'r> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        match self.tag() {
            Tag::None => visitor.visit_unit(),
            Tag::Uint | Tag::Int => self.uint(visitor),
            Tag::Float => self.float(visitor),
            Tag::Bytes | Tag::ShortBytes => self.text(visitor, true),
            Tag::HashMap | Tag::CountedHashMap | Tag::SortedMap => self.map(visitor),
            Tag::Index | Tag::KvPair => Err(Error::corrupt(
                self.cur.pos.unwrap_or(0),
                "an internal node where a value belongs",
            )),
            _ => self.seq(visitor),
        }
    }

    numbers!(uint: deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64, deserialize_u128);
    numbers!(int: deserialize_i8, deserialize_i16, deserialize_i32, deserialize_i64, deserialize_i128);
    numbers!(float: deserialize_f32, deserialize_f64);

    fn deserialize_bool<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        match (self.tag(), self.cur.slot.value) {
            (Tag::Uint, 0) => visitor.visit_bool(false),
            (Tag::Uint, 1) => visitor.visit_bool(true),
            (Tag::Uint, n) => Err(typed(format!("expected a bool (uint 0 or 1), found {n}"))),
            _ => Err(self.mismatch("uint (a bool)")),
        }
    }

    fn deserialize_char<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        self.text(visitor, false)
    }
    fn deserialize_str<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        self.text(visitor, false)
    }
    fn deserialize_string<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        self.text(visitor, false)
    }
    fn deserialize_identifier<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        self.text(visitor, false)
    }

    shared_de_methods!();

    fn deserialize_bytes<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        if !self.is_bytes() {
            return Err(self.mismatch(kind::BYTES));
        }
        visit_bytes(bytes_in_place(&self.cur)?, visitor)
    }

    fn deserialize_option<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        match self.tag() {
            Tag::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        match self.tag() {
            Tag::None => visitor.visit_unit(),
            _ => Err(self.mismatch(kind::NONE)),
        }
    }
    fn deserialize_unit_struct<V: Visitor<'r>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_seq<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        self.seq(visitor)
    }
    fn deserialize_tuple<V: Visitor<'r>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'r>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.seq(visitor)
    }

    fn deserialize_map<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        self.map(visitor)
    }
    fn deserialize_struct<V: Visitor<'r>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.map(visitor)
    }

    fn deserialize_enum<V: Visitor<'r>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if self.is_bytes() {
            let name = bytes_in_place(&self.cur)?;
            return visitor.visit_enum(Variant::unit(name));
        }
        if !self.is_map() {
            return Err(self.mismatch(kind::ENUM));
        }
        let variant = EntryAccess::new(self.cur, self.depth)?
            .single()?
            .ok_or_else(|| self.mismatch(kind::ENUM))?;
        visitor.visit_enum(variant)
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}
