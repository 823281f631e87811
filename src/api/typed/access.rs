//! The serde access types over stored structures: list items, map entries,
//! set members, enum variants, and the deserializer of map keys.

use super::de::{bytes_in_place, visit_bytes, visit_text, De};
use super::error::{mismatch, typed};
use super::node::kind;
use crate::api::cursor::Cursor;
use crate::api::list::Items;
use crate::api::map::Entries;
use crate::api::sorted::SortedEntries;
use crate::error::{Error, Result};
use crate::format::Tag;
use serde::de::{self, DeserializeSeed, Visitor};
use std::borrow::Cow;

/// The entries of any map or set kind, as (key bytes, value).
pub(crate) enum EntryIter<'r> {
    Hash(Entries<'r>),
    Sorted(SortedEntries<'r>),
}

impl<'r> EntryIter<'r> {
    fn new(cur: Cursor<'r>) -> Result<Self> {
        Ok(match cur.slot.tag {
            Tag::SortedMap => EntryIter::Sorted(cur.as_sorted_map()?.iter()?),
            Tag::SortedSet => EntryIter::Sorted(cur.as_sorted_set()?.iter()?),
            Tag::HashSet | Tag::CountedHashSet => EntryIter::Hash(cur.as_set()?.iter()),
            _ => EntryIter::Hash(cur.as_map()?.iter()),
        })
    }

    fn next_entry(&mut self) -> Result<Option<(Cow<'r, [u8]>, Cursor<'r>)>> {
        match self {
            EntryIter::Hash(it) => match it.next().transpose()? {
                Some(e) => Ok(Some((bytes_in_place(&e.key()?)?, e.value()?))),
                None => Ok(None),
            },
            EntryIter::Sorted(it) => match it.next().transpose()? {
                Some(e) => Ok(Some((e.key()?, e.value()?))),
                None => Ok(None),
            },
        }
    }

    fn remaining(&self) -> usize {
        match self {
            EntryIter::Hash(_) => 0,
            EntryIter::Sorted(it) => it.len(),
        }
    }
}

/// A map's entries as serde's `MapAccess`.
pub(crate) struct EntryAccess<'r> {
    iter: EntryIter<'r>,
    /// The value of the key just read, and that key (for error paths).
    pending: Option<(Cow<'r, [u8]>, Cursor<'r>)>,
    depth: usize,
}

impl<'r> EntryAccess<'r> {
    pub(crate) fn new(cur: Cursor<'r>, depth: usize) -> Result<Self> {
        Ok(EntryAccess {
            iter: EntryIter::new(cur)?,
            pending: None,
            depth,
        })
    }

    /// The map's only entry as an enum variant; `None` unless it has
    /// exactly one.
    pub(crate) fn single(mut self) -> Result<Option<Variant<'r>>> {
        let Some((name, value)) = self.iter.next_entry()? else {
            return Ok(None);
        };
        if self.iter.next_entry()?.is_some() {
            return Ok(None);
        }
        Ok(Some(Variant {
            name,
            content: Some(De::child(self.depth, value)?),
        }))
    }
}

impl<'r> de::MapAccess<'r> for EntryAccess<'r> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'r>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some((key, value)) = self.iter.next_entry()? else {
            return Ok(None);
        };
        let out = seed
            .deserialize(KeyDe(key.clone()))
            .map_err(|e| e.at_key(&key))?;
        self.pending = Some((key, value));
        Ok(Some(out))
    }

    fn next_value_seed<V: DeserializeSeed<'r>>(&mut self, seed: V) -> Result<V::Value> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| typed("a map value was asked for before its key"))?;
        seed.deserialize(De::child(self.depth, value)?)
            .map_err(|e| e.at_key(&key))
    }

    fn size_hint(&self) -> Option<usize> {
        match self.iter.remaining() {
            0 => None,
            n => Some(n),
        }
    }
}

/// A list's items, or a set's members, as serde's `SeqAccess`.
pub(crate) enum ItemAccess<'r> {
    List {
        items: Items<'r>,
        index: u64,
        depth: usize,
    },
    Members(EntryIter<'r>),
}

impl<'r> ItemAccess<'r> {
    pub(crate) fn new(cur: Cursor<'r>, depth: usize) -> Result<Self> {
        Ok(match cur.slot.tag {
            Tag::ArrayList => ItemAccess::List {
                items: cur.as_list()?.iter(),
                index: 0,
                depth,
            },
            Tag::LinkedArrayList => ItemAccess::List {
                items: cur.as_linked_list()?.iter(),
                index: 0,
                depth,
            },
            _ => ItemAccess::Members(EntryIter::new(cur)?),
        })
    }

    /// Fails when items are left over: a tuple (or a fixed-size array)
    /// shorter than the stored list is a mismatch, not a silent truncation.
    pub(crate) fn end(&mut self) -> Result<()> {
        let left = match self {
            ItemAccess::List { items, .. } => items.size_hint().0,
            ItemAccess::Members(iter) => usize::from(iter.next_entry()?.is_some()),
        };
        match left {
            0 => Ok(()),
            n => Err(typed(format!(
                "the type takes fewer items than are stored ({n} left over)"
            ))),
        }
    }
}

impl<'r> de::SeqAccess<'r> for ItemAccess<'r> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'r>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self {
            ItemAccess::List {
                items,
                index,
                depth,
            } => {
                let Some(item) = items.next().transpose()? else {
                    return Ok(None);
                };
                let at = *index;
                *index += 1;
                seed.deserialize(De::child(*depth, item)?)
                    .map(Some)
                    .map_err(|e| e.at_index(at))
            }
            ItemAccess::Members(iter) => match iter.next_entry()? {
                Some((key, _)) => seed
                    .deserialize(KeyDe(key.clone()))
                    .map(Some)
                    .map_err(|e| e.at_key(&key)),
                None => Ok(None),
            },
        }
    }

    fn size_hint(&self) -> Option<usize> {
        match self {
            ItemAccess::List { items, .. } => Some(items.size_hint().0),
            ItemAccess::Members(iter) => match iter.remaining() {
                0 => None,
                n => Some(n),
            },
        }
    }
}

/// An enum variant: its name, and its content (none for a unit variant
/// stored as bare bytes).
pub(crate) struct Variant<'r> {
    name: Cow<'r, [u8]>,
    content: Option<De<'r>>,
}

impl<'r> Variant<'r> {
    pub(crate) fn unit(name: Cow<'r, [u8]>) -> Self {
        Variant {
            name,
            content: None,
        }
    }

    fn content(self) -> Result<(Cow<'r, [u8]>, De<'r>)> {
        match self.content {
            Some(de) => Ok((self.name, de)),
            None => Err(typed(format!(
                "variant `{}` is stored without the content its type needs",
                String::from_utf8_lossy(&self.name)
            ))),
        }
    }
}

impl<'r> de::EnumAccess<'r> for Variant<'r> {
    type Error = Error;
    type Variant = Variant<'r>;

    fn variant_seed<V: DeserializeSeed<'r>>(self, seed: V) -> Result<(V::Value, Variant<'r>)> {
        let v = seed.deserialize(KeyDe(self.name.clone()))?;
        Ok((v, self))
    }
}

impl<'r> de::VariantAccess<'r> for Variant<'r> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        match self.content {
            Some(de) if de.cur.slot.tag != Tag::None => {
                Err(mismatch(kind::NONE, kind::of(de.cur.slot.tag)).at_key(&self.name))
            }
            _ => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'r>>(self, seed: T) -> Result<T::Value> {
        let (name, de) = self.content()?;
        seed.deserialize(de).map_err(|e| e.at_key(&name))
    }

    fn tuple_variant<V: Visitor<'r>>(self, _: usize, visitor: V) -> Result<V::Value> {
        let (name, de) = self.content()?;
        de::Deserializer::deserialize_seq(de, visitor).map_err(|e| e.at_key(&name))
    }

    fn struct_variant<V: Visitor<'r>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let (name, de) = self.content()?;
        de::Deserializer::deserialize_map(de, visitor).map_err(|e| e.at_key(&name))
    }
}

/// The deserializer of a map key or set member: stored bytes, read as
/// text, bytes, or (decimal text) a number or bool.
pub(crate) struct KeyDe<'r>(pub(crate) Cow<'r, [u8]>);

impl<'r> KeyDe<'r> {
    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T> {
        std::str::from_utf8(&self.0)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                typed(format!(
                    "key `{}` is not {what}",
                    String::from_utf8_lossy(&self.0)
                ))
            })
    }
}

macro_rules! parsed_key {
    ($($method:ident => $visit:ident: $ty:ty),*) => {
        $(fn $method<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
            visitor.$visit(self.parse::<$ty>(stringify!(a $ty))?)
        })*
    };
}

impl<'r> de::Deserializer<'r> for KeyDe<'r> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        visit_text(self.0, visitor, true)
    }

    parsed_key!(deserialize_bool => visit_bool: bool,
        deserialize_u8 => visit_u64: u64, deserialize_u16 => visit_u64: u64,
        deserialize_u32 => visit_u64: u64, deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_i8 => visit_i64: i64, deserialize_i16 => visit_i64: i64,
        deserialize_i32 => visit_i64: i64, deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_f32 => visit_f64: f64, deserialize_f64 => visit_f64: f64);

    fn deserialize_str<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        visit_text(self.0, visitor, false)
    }
    fn deserialize_string<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        visit_text(self.0, visitor, false)
    }
    fn deserialize_identifier<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        visit_text(self.0, visitor, false)
    }
    shared_de_methods!();

    fn deserialize_bytes<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        visit_bytes(self.0, visitor)
    }
    fn deserialize_option<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }
    fn deserialize_enum<V: Visitor<'r>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(Variant::unit(self.0))
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'r>>
        char unit unit_struct seq tuple tuple_struct map struct
    }
}
