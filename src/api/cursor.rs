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
/// [`Error::UnexpectedTag`] when it does not match. [`Cursor::get`] and
/// [`Cursor::get_path`] step into maps and lists; [`Cursor::value`] decodes
/// whatever is there.
///
/// ```
/// use xitdb::{Database, Error, PathStep};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut root = tx.root_map()?;
///     root.put("name", "Ada")?;
///     root.put("born", 1815u64)?;
///     root.put("balance", -3i64)?;
///     root.entry("langs")?.array_list()?.append("en")?;
///     Ok(())
/// })?;
/// let moment = db.moment(-1)?;
/// let map = moment.as_map()?;
/// assert_eq!(map.get(b"name")?.unwrap().as_str()?, "Ada");
/// assert_eq!(map.get(b"born")?.unwrap().as_uint()?, 1815);
/// assert_eq!(map.get(b"balance")?.unwrap().as_int()?, -3);
/// // the wrong type is an error, not a panic
/// assert!(matches!(
///     map.get(b"name")?.unwrap().as_uint(),
///     Err(Error::UnexpectedTag { .. })
/// ));
///
/// let path = [PathStep::Key(b"langs"), PathStep::Index(-1)];
/// let lang = moment.get_path(&path)?.unwrap();
/// assert_eq!(&*lang.as_bytes()?, b"en");
/// assert!(moment.get_path(&["nobody".into()])?.is_none());
/// # Ok::<(), Error>(())
/// ```
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
///
/// What [`Cursor::value`] returns, for code that handles every kind.
///
/// ```
/// use xitdb::{Database, Error, ValueRef};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut root = tx.root_map()?;
///     root.put("n", 7u64)?;
///     root.put("ratio", 2.5f64)?;
///     root.put("doc", xitdb::Value::tagged(b"{}", *b"js"))?;
///     root.entry("tags")?.hash_set()?.insert("new")?;
///     Ok(())
/// })?;
/// let mut described = Vec::new();
/// for entry in db.moment(-1)?.as_map()?.iter() {
///     let entry = entry?;
///     let text = match entry.value()?.value()? {
///         ValueRef::Null => "null".to_string(),
///         ValueRef::Uint(n) => format!("uint {n}"),
///         ValueRef::Int(n) => format!("int {n}"),
///         ValueRef::Float(x) => format!("float {x}"),
///         ValueRef::Bytes { data, format_tag } => format!("{} bytes, tag {format_tag:?}", data.len()),
///         ValueRef::Map(m) => format!("map, {} entries", m.iter().count()),
///         ValueRef::Set(s) => format!("set, {} members", s.iter().count()),
///         ValueRef::List(l) => format!("list, {} items", l.len()),
///         ValueRef::LinkedList(l) => format!("linked list, {} items", l.len()),
///         ValueRef::SortedMap(m) => format!("sorted map, {} entries", m.len()?),
///         ValueRef::SortedSet(s) => format!("sorted set, {} members", s.len()?),
///     };
///     described.push(text);
/// }
/// described.sort();
/// assert_eq!(
///     described,
///     ["2 bytes, tag Some([106, 115])", "float 2.5", "set, 1 members", "uint 7"]
/// );
/// # Ok::<(), Error>(())
/// ```
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
    /// values too large to hold in memory at once (see [`BytesReader`]).
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
    ///
    /// ```
    /// use xitdb::{Database, PathStep};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("k", "v"))?;
    /// let moment = db.moment(-1)?;
    /// let v = moment.get(PathStep::Key(b"k"))?.unwrap();
    /// assert_eq!(v.as_str()?, "v");
    /// assert!(moment.get("absent".into())?.is_none());
    /// # Ok::<(), xitdb::Error>(())
    /// ```
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
    ///
    /// ```
    /// use xitdb::{Database, Error, PathStep};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     let mut root = tx.root();
    ///     root.at_path(&["users".into(), "ada".into(), "langs".into()])?
    ///         .array_list()?
    ///         .append("en")?;
    ///     Ok(())
    /// })?;
    /// let moment = db.moment(-1)?;
    /// let path = [
    ///     PathStep::Key(b"users"),
    ///     PathStep::Key(b"ada"),
    ///     PathStep::Key(b"langs"),
    ///     PathStep::Index(0),
    /// ];
    /// assert_eq!(moment.get_path(&path)?.unwrap().as_str()?, "en");
    /// assert!(moment.get_path(&path[..1])?.unwrap().as_map().is_ok());
    /// assert!(moment.get_path(&["users".into(), "grace".into()])?.is_none());
    /// # Ok::<(), Error>(())
    /// ```
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
