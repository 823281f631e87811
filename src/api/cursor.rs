//! Read-only cursors: a slot plus the bytes around it, with typed reads.

use crate::api::bytes_io::BytesReader;
use crate::api::list::{LinkedListView, ListView};
use crate::api::map::{MapView, SetView};
use crate::api::sorted::{SortedMapView, SortedSetView};
use crate::api::value::PathStep;
use crate::error::{Error, Result};
use crate::format::FormatTag;
use crate::format::{Slot, Tag};
use crate::tree::access::Src;
use crate::tree::bytes;
use std::borrow::Cow;

/// A read-only position in a database: one slot and the storage it points into.
///
/// Cursors are cheap to copy. Typed reads check the slot's tag and return
/// [`Error::UnexpectedTag`] when it does not match.
#[derive(Clone, Copy)]
pub struct Cursor<'r> {
    pub(crate) src: Src<'r>,
    pub(crate) slot: Slot,
    pub(crate) pos: Option<u64>,
}

impl std::fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("slot", &self.slot)
            .field("pos", &self.pos)
            .finish()
    }
}

/// A decoded value: scalars by value, structures as views.
#[derive(Debug, Clone)]
pub enum ValueRef<'r> {
    /// None: never written or written as an explicit none.
    Null,
    /// An unsigned integer.
    Uint(u64),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A byte string (borrowed from the storage when it can be).
    Bytes {
        /// The payload.
        data: Cow<'r, [u8]>,
        /// The 2-byte format tag, if one was written.
        format_tag: Option<FormatTag>,
    },
    /// A HashMap or CountedHashMap.
    Map(MapView<'r>),
    /// A HashSet or CountedHashSet.
    Set(SetView<'r>),
    /// An ArrayList.
    List(ListView<'r>),
    /// A LinkedArrayList.
    LinkedList(LinkedListView<'r>),
    /// A SortedMap.
    SortedMap(SortedMapView<'r>),
    /// A SortedSet.
    SortedSet(SortedSetView<'r>),
}

impl<'r> Cursor<'r> {
    pub(crate) fn new(src: Src<'r>, slot: Slot, pos: Option<u64>) -> Self {
        Cursor { src, slot, pos }
    }

    pub(crate) fn at(src: Src<'r>, pos: u64) -> Result<Self> {
        Ok(Cursor::new(src, src.slot(pos)?, Some(pos)))
    }

    /// The raw slot (copy it into another place to clone a structure).
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// The slot's tag.
    pub fn tag(&self) -> Tag {
        self.slot.tag
    }

    /// Byte position of the slot, when it lives in storage.
    pub fn position(&self) -> Option<u64> {
        self.pos
    }

    /// True when the slot holds no value (never written, or an explicit none).
    pub fn is_null(&self) -> bool {
        self.slot.tag == Tag::None
    }

    fn expect_tag(&self, tag: Tag) -> Result<u64> {
        if self.slot.tag == tag {
            Ok(self.slot.value)
        } else {
            Err(Error::UnexpectedTag {
                expected: tag.name(),
                found: self.slot.tag,
            })
        }
    }

    /// Reads an unsigned integer.
    pub fn as_uint(&self) -> Result<u64> {
        self.expect_tag(Tag::Uint)
    }

    /// Reads a signed integer.
    pub fn as_int(&self) -> Result<i64> {
        self.expect_tag(Tag::Int).map(|v| v as i64)
    }

    /// Reads a float.
    pub fn as_float(&self) -> Result<f64> {
        self.expect_tag(Tag::Float).map(f64::from_bits)
    }

    /// Reads a byte value, borrowed from the storage when possible.
    pub fn as_bytes(&self) -> Result<Cow<'r, [u8]>> {
        Ok(bytes::decode(&self.src, self.slot)?.0)
    }

    /// Reads a byte value as UTF-8 text.
    pub fn as_str(&self) -> Result<String> {
        String::from_utf8(self.as_bytes()?.into_owned())
            .map_err(|_| Error::InvalidArgument("bytes are not UTF-8"))
    }

    /// Reads a byte value and its format tag.
    pub fn bytes_with_format(&self) -> Result<(Cow<'r, [u8]>, Option<FormatTag>)> {
        bytes::decode(&self.src, self.slot)
    }

    /// The format tag of a byte value, if it has one.
    pub fn format_tag(&self) -> Result<Option<FormatTag>> {
        match self.slot.tag {
            Tag::ShortBytes => Ok(bytes::short_parts(self.slot).2),
            Tag::Bytes if self.slot.full => {
                let (start, len) = bytes::long_extent(&self.src, self.slot)?;
                Ok(Some(self.src.array(start + len)?))
            }
            Tag::Bytes => Ok(None),
            found => Err(Error::UnexpectedTag {
                expected: "bytes",
                found,
            }),
        }
    }

    /// A streaming reader over a byte value (`std::io::Read + Seek`), for
    /// values too large to hold in memory at once.
    pub fn reader(&self) -> Result<BytesReader<'r>> {
        BytesReader::new(self.src, self.slot)
    }

    /// Views a HashMap or CountedHashMap.
    pub fn as_map(&self) -> Result<MapView<'r>> {
        MapView::new(self.src, self.slot)
    }

    /// Views a HashSet or CountedHashSet.
    pub fn as_set(&self) -> Result<SetView<'r>> {
        SetView::new(self.src, self.slot)
    }

    /// Views an ArrayList.
    pub fn as_list(&self) -> Result<ListView<'r>> {
        ListView::new(self.src, self.slot)
    }

    /// Views a LinkedArrayList.
    pub fn as_linked_list(&self) -> Result<LinkedListView<'r>> {
        LinkedListView::new(self.src, self.slot)
    }

    /// Views a SortedMap.
    pub fn as_sorted_map(&self) -> Result<SortedMapView<'r>> {
        SortedMapView::new(self.src, self.slot)
    }

    /// Views a SortedSet.
    pub fn as_sorted_set(&self) -> Result<SortedSetView<'r>> {
        SortedSetView::new(self.src, self.slot)
    }

    /// Decodes the value, whatever its kind.
    pub fn value(&self) -> Result<ValueRef<'r>> {
        let s = self.slot;
        Ok(match s.tag {
            Tag::None => ValueRef::Null,
            Tag::Uint => ValueRef::Uint(s.value),
            Tag::Int => ValueRef::Int(s.value as i64),
            Tag::Float => ValueRef::Float(f64::from_bits(s.value)),
            Tag::Bytes | Tag::ShortBytes => {
                let (data, format_tag) = self.bytes_with_format()?;
                ValueRef::Bytes { data, format_tag }
            }
            Tag::HashMap | Tag::CountedHashMap => ValueRef::Map(self.as_map()?),
            Tag::HashSet | Tag::CountedHashSet => ValueRef::Set(self.as_set()?),
            Tag::ArrayList => ValueRef::List(self.as_list()?),
            Tag::LinkedArrayList => ValueRef::LinkedList(self.as_linked_list()?),
            Tag::SortedMap => ValueRef::SortedMap(self.as_sorted_map()?),
            Tag::SortedSet => ValueRef::SortedSet(self.as_sorted_set()?),
            Tag::Index | Tag::KvPair => {
                return Err(Error::corrupt(
                    self.pos.unwrap_or(0),
                    "an internal node where a value belongs",
                ))
            }
        })
    }

    /// Follows one step: a key of a map or an index of a list.
    pub fn get(&self, step: PathStep<'_>) -> Result<Option<Cursor<'r>>> {
        match step {
            PathStep::Key(k) => match self.slot.tag {
                Tag::SortedMap => self.as_sorted_map()?.get(k),
                _ => self.as_map()?.get(k),
            },
            PathStep::Hash(h) => self.as_map()?.get_by_hash(h),
            PathStep::Index(i) => match self.slot.tag {
                Tag::LinkedArrayList => self.as_linked_list()?.get(i),
                _ => self.as_list()?.get(i),
            },
        }
    }

    /// Follows a path of keys and indices; `None` when a step is missing.
    pub fn get_path(&self, path: &[PathStep<'_>]) -> Result<Option<Cursor<'r>>> {
        let mut c = *self;
        for step in path {
            match c.get(*step)? {
                Some(next) => c = next,
                None => return Ok(None),
            }
        }
        Ok(Some(c))
    }
}
