//! Write cursors: a writable slot inside a transaction.

use crate::api::bytes_io::BytesWriter;
use crate::api::cursor::Cursor;
use crate::api::list::{LinkedListMut, ListMut};
use crate::api::map::{MapMut, SetMut};
use crate::api::sorted::{SortedMapMut, SortedSetMut};
use crate::api::value::{PathStep, Value};
use crate::error::{Error, Result};
use crate::format::Hasher;
use crate::format::{Slot, Tag};
use crate::tree::access::{SlotPos, TxCore};
use crate::tree::bytes;

/// A writable slot: a map value, a list item or a moment's root.
///
/// Write a scalar into it, copy another slot into it (cloning a structure
/// without copying its contents), or open a structure there; opening
/// creates the structure when the slot is empty. [`CursorMut::at_path`]
/// walks down a path, creating the maps on the way.
///
/// ```
/// use xitdb::{Database, Error, PathStep};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     // nested structures are created on demand
///     let mut ada = tx.root().at_path(&["users".into(), "ada".into()])?.hash_map()?;
///     ada.put("city", "London")?;
///     ada.entry("langs")?.array_list()?.append("en")?;
///     // write a scalar through a cursor
///     tx.root_map()?.entry("count")?.write(1u64)?;
///     Ok(())
/// })?;
/// db.transact(|tx| -> Result<(), Error> {
///     // clone a committed structure by copying its slot: nothing is copied
///     let ada = tx.root().at_path(&["users".into(), "ada".into()])?.slot()?;
///     let mut grace = tx.root().at_path(&["users".into(), "grace".into()])?;
///     grace.write_slot(ada)?;
///     // then change the clone; the original keeps its value
///     grace.hash_map()?.put("city", "New York")?;
///     Ok(())
/// })?;
/// let moment = db.moment(-1)?;
/// let city = |who: &str| -> Result<String, Error> {
///     let path = ["users".into(), PathStep::from(who), "city".into()];
///     moment.get_path(&path)?.unwrap().as_str()
/// };
/// assert_eq!(city("ada")?, "London");
/// assert_eq!(city("grace")?, "New York");
/// # Ok::<(), Error>(())
/// ```
pub struct CursorMut<'t> {
    core: TxCore<'t>,
    pos: SlotPos,
}

impl<'t> CursorMut<'t> {
    pub(crate) fn new(core: TxCore<'t>, pos: SlotPos) -> Self {
        CursorMut { core, pos }
    }

    /// A shorter-lived cursor on the same slot.
    pub fn reborrow(&mut self) -> CursorMut<'_> {
        CursorMut::new(self.core.reborrow(), self.pos)
    }

    /// The hasher of the database this cursor writes into.
    pub(crate) fn hasher(&self) -> Hasher {
        self.core.st.hasher
    }

    /// The slot as it stands.
    pub fn slot(&self) -> Result<Slot> {
        self.core.read_slot(self.pos)
    }

    /// A read-only cursor on the current value.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     let mut map = tx.root_map()?;
    ///     let mut hits = map.entry("hits")?;
    ///     let now = if hits.read()?.is_null() { 0 } else { hits.read()?.as_uint()? };
    ///     hits.write(now + 1)?;
    ///     Ok(())
    /// })?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read(&self) -> Result<Cursor<'_>> {
        let pos = match self.pos {
            SlotPos::Disk(p) => Some(p),
            SlotPos::Root => None,
        };
        Ok(Cursor::new(self.core.src(), self.slot()?, pos))
    }

    /// Writes a scalar (replacing whatever was there).
    pub fn write<'v>(&mut self, value: impl Into<Value<'v>>) -> Result<()> {
        let slot = match value.into() {
            Value::Null => Slot::NULL,
            Value::Uint(v) => Slot::new(Tag::Uint, v),
            Value::Int(v) => Slot::new(Tag::Int, v as u64),
            Value::Float(v) => Slot::new(Tag::Float, v.to_bits()),
            Value::Bytes(b, tag) => bytes::encode(&mut self.core, b, tag)?,
        };
        self.core.write_slot(self.pos, slot)
    }

    /// Writes only if the slot was never written; returns whether it wrote.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     let mut map = tx.root_map()?;
    ///     assert!(map.entry("created")?.write_if_empty("monday")?);
    ///     assert!(!map.entry("created")?.write_if_empty("tuesday")?);
    ///     assert_eq!(map.get(b"created")?.unwrap().as_str()?, "monday");
    ///     Ok(())
    /// })?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn write_if_empty<'v>(&mut self, value: impl Into<Value<'v>>) -> Result<bool> {
        if self.slot()?.is_empty() {
            self.write(value)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Stores a raw slot taken from a cursor of the same database: the
    /// structure it points to is then shared (a cheap clone). Inside one
    /// transaction, call [`crate::Transaction::freeze`] first if the source
    /// was made in this transaction and must not change with the clone.
    pub fn write_slot(&mut self, slot: Slot) -> Result<()> {
        if matches!(slot.tag, Tag::Index | Tag::KvPair) {
            return Err(Error::InvalidArgument(
                "internal nodes cannot be stored as values",
            ));
        }
        let slot = if slot.tag == Tag::None {
            Slot::NULL
        } else {
            slot
        };
        self.core.write_slot(self.pos, slot)
    }

    /// Opens (or creates) a HashMap here.
    pub fn hash_map(self) -> Result<MapMut<'t>> {
        MapMut::open(self.core, self.pos, Tag::HashMap)
    }

    /// Opens (or creates) a CountedHashMap here.
    pub fn counted_hash_map(self) -> Result<MapMut<'t>> {
        MapMut::open(self.core, self.pos, Tag::CountedHashMap)
    }

    /// Opens (or creates) a HashSet here.
    pub fn hash_set(self) -> Result<SetMut<'t>> {
        SetMut::open(self.core, self.pos, Tag::HashSet)
    }

    /// Opens (or creates) a CountedHashSet here.
    pub fn counted_hash_set(self) -> Result<SetMut<'t>> {
        SetMut::open(self.core, self.pos, Tag::CountedHashSet)
    }

    /// Opens (or creates) an ArrayList here.
    pub fn array_list(self) -> Result<ListMut<'t>> {
        ListMut::open(self.core, self.pos)
    }

    /// Opens (or creates) a LinkedArrayList here.
    pub fn linked_array_list(self) -> Result<LinkedListMut<'t>> {
        LinkedListMut::open(self.core, self.pos)
    }

    /// Opens (or creates) a SortedMap here.
    pub fn sorted_map(self) -> Result<SortedMapMut<'t>> {
        SortedMapMut::open(self.core, self.pos)
    }

    /// Opens (or creates) a SortedSet here.
    pub fn sorted_set(self) -> Result<SortedSetMut<'t>> {
        SortedSetMut::open(self.core, self.pos)
    }

    /// Streams a byte value into this slot (`std::io::Write + Seek`);
    /// nothing refers to the bytes until [`BytesWriter::finish`] (see
    /// [`BytesWriter`] for an example).
    pub fn writer(self) -> Result<BytesWriter<'t>> {
        BytesWriter::new(self.core, self.pos)
    }

    /// Follows a path of existing structures, creating map entries (and a
    /// HashMap in an empty slot) for `Key` steps; `Index` steps need an
    /// existing list item.
    ///
    /// ```
    /// use xitdb::{Database, Error, PathStep};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     tx.root().at_path(&["config".into(), "theme".into()])?.write("dark")?;
    ///     let mut list = tx.root_map()?.into_entry("log")?.array_list()?;
    ///     list.append("started")?;
    ///     // an existing item can be reached by index ...
    ///     let path = [PathStep::Key(b"log"), PathStep::Index(0)];
    ///     tx.root().at_path(&path)?.write("booted")?;
    ///     // ... a missing one cannot
    ///     let past_end = [PathStep::Key(b"log"), PathStep::Index(5)];
    ///     assert!(matches!(
    ///         tx.root().at_path(&past_end),
    ///         Err(Error::PathNotFound { step: 1 })
    ///     ));
    ///     Ok(())
    /// })?;
    /// let moment = db.moment(-1)?;
    /// let theme = moment.get_path(&["config".into(), "theme".into()])?.unwrap();
    /// assert_eq!(theme.as_str()?, "dark");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn at_path(self, path: &[PathStep<'_>]) -> Result<CursorMut<'t>> {
        let mut cur = self;
        for (step_no, step) in path.iter().enumerate() {
            let tag = cur.slot()?.tag;
            cur = match *step {
                PathStep::Key(k) if tag == Tag::SortedMap => cur.sorted_map()?.into_entry(k)?,
                PathStep::Key(k) => cur.map_for_path(tag)?.into_entry(k)?,
                PathStep::Hash(h) => cur.map_for_path(tag)?.into_entry_by_hash(h)?,
                PathStep::Index(i) => match tag {
                    Tag::ArrayList => cur.array_list()?.into_cursor(i),
                    Tag::LinkedArrayList => cur.linked_array_list()?.into_cursor(i),
                    _ => Err(Error::PathNotFound { step: step_no }),
                }
                .map_err(|e| match e {
                    Error::IndexOutOfRange { .. } => Error::PathNotFound { step: step_no },
                    e => e,
                })?,
            };
        }
        Ok(cur)
    }

    fn map_for_path(self, tag: Tag) -> Result<MapMut<'t>> {
        match tag {
            Tag::CountedHashMap => self.counted_hash_map(),
            _ => self.hash_map(),
        }
    }
}
