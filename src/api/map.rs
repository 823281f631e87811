//! HashMap, HashSet and their counted kinds: read views and write handles.
//!
//! Keys are identified by their hash (the database's hasher); the key bytes
//! are stored beside the value so iteration can yield them. Every operation
//! also exists "by hash", for callers that hash keys themselves or open a
//! database whose hasher this library does not know.

use crate::api::cursor::Cursor;
use crate::api::cursor_mut::CursorMut;
use crate::api::value::Value;
use crate::error::Result;
use crate::format::{Slot, Tag};
use crate::tree::access::{SlotPos, Src, TxCore};
use crate::tree::hamt::{Hamt, HamtIter, Kv};
use std::borrow::Cow;

/// One record of a map or set, as read: its key hash, key and value.
///
/// Yielded by [`Entries`] and returned by `entry` lookups.
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| tx.root_map()?.put("lang", "rust"))?;
/// let map = db.moment(-1)?.as_map()?;
/// let entry = map.entry(b"lang")?.unwrap();
/// assert_eq!(entry.key()?.as_str()?, "lang");
/// assert_eq!(entry.value()?.as_str()?, "rust");
/// assert_eq!(&*entry.hash()?, &*db.hasher().hash(b"lang")?);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct EntryRef<'r> {
    src: Src<'r>,
    kv: Kv,
}

impl std::fmt::Debug for EntryRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryRef")
            .field("pos", &self.kv.pos)
            .finish()
    }
}

impl<'r> EntryRef<'r> {
    /// The key's hash.
    pub fn hash(&self) -> Result<Cow<'r, [u8]>> {
        self.src.bytes(self.kv.pos, self.kv.hash_len)
    }

    /// The stored key (null when the entry was written by hash only).
    pub fn key(&self) -> Result<Cursor<'r>> {
        Cursor::at(self.src, self.kv.key_pos())
    }

    /// The value (null for sets, and for key-only entries).
    pub fn value(&self) -> Result<Cursor<'r>> {
        Cursor::at(self.src, self.kv.value_pos())
    }
}

/// Iterator over the records of a map or set, in hash-trie order (not
/// insertion order).
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut m = tx.root_map()?;
///     for (name, born) in [("ada", 1815u64), ("grace", 1906), ("alan", 1912)] {
///         m.put(name, born)?;
///     }
///     Ok(())
/// })?;
/// let mut names = Vec::new();
/// let mut total = 0;
/// for entry in db.moment(-1)?.as_map()?.iter() {
///     let entry = entry?;
///     names.push(entry.key()?.as_str()?);
///     total += entry.value()?.as_uint()?;
/// }
/// names.sort();
/// assert_eq!(names, ["ada", "alan", "grace"]);
/// assert_eq!(total, 1815 + 1906 + 1912);
/// # Ok::<(), Error>(())
/// ```
pub struct Entries<'r> {
    src: Src<'r>,
    inner: HamtIter<'r>,
}

impl<'r> Iterator for Entries<'r> {
    type Item = Result<EntryRef<'r>>;
    fn next(&mut self) -> Option<Self::Item> {
        let src = self.src;
        self.inner.next().map(|r| r.map(|kv| EntryRef { src, kv }))
    }
}

/// Shared read logic of maps and sets.
#[derive(Clone, Copy)]
struct HamtView<'r> {
    src: Src<'r>,
    hamt: Hamt,
}

impl<'r> HamtView<'r> {
    /// A cursor on the structure itself (its slot rebuilt from the trie).
    fn cursor(&self) -> Cursor<'r> {
        let h = self.hamt;
        Cursor::new(
            self.src,
            Slot::new(h.kind, h.count_pos.unwrap_or(h.block)),
            None,
        )
    }

    fn find_key(&self, key: &[u8]) -> Result<Option<EntryRef<'r>>> {
        let hash = self.src.hasher.hash(key)?;
        self.find_hash(&hash)
    }

    fn find_hash(&self, hash: &[u8]) -> Result<Option<EntryRef<'r>>> {
        Ok(self
            .hamt
            .find(&self.src, hash)?
            .map(|kv| EntryRef { src: self.src, kv }))
    }

    fn entries(&self) -> Entries<'r> {
        Entries {
            src: self.src,
            inner: self.hamt.iter(self.src),
        }
    }
}

macro_rules! view_common {
    () => {
        /// The structure's kind (counted or not).
        pub fn kind(&self) -> Tag {
            self.0.hamt.kind
        }

        /// The stored count; [`crate::Error::NotCounted`] for uncounted kinds.
        pub fn count(&self) -> Result<u64> {
            self.0.hamt.count(&self.0.src)
        }

        /// The record for a raw key hash.
        pub fn entry_by_hash(&self, hash: &[u8]) -> Result<Option<EntryRef<'r>>> {
            self.0.find_hash(hash)
        }

        /// The record for a key.
        pub fn entry(&self, key: impl AsRef<[u8]>) -> Result<Option<EntryRef<'r>>> {
            self.0.find_key(key.as_ref())
        }

        /// Iterates over every record.
        pub fn iter(&self) -> Entries<'r> {
            self.0.entries()
        }
    };
}

/// A read-only HashMap or CountedHashMap.
///
/// ```
/// use xitdb::{format::Tag, Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut m = tx.root_map()?; // a plain HashMap
///     m.put("ada", 1815u64)?;
///     m.entry("scores")?.counted_hash_map()?.put("ada", 10u64)?;
///     Ok(())
/// })?;
/// let root = db.moment(-1)?.as_map()?;
/// assert_eq!(root.get(b"ada")?.unwrap().as_uint()?, 1815);
/// assert!(root.get(b"alan")?.is_none());
/// assert!(root.contains_key(b"scores")?);
/// // only the counted kinds store a count
/// assert!(matches!(root.count(), Err(Error::NotCounted(Tag::HashMap))));
/// let scores = root.get(b"scores")?.unwrap().as_map()?;
/// assert_eq!(scores.kind(), Tag::CountedHashMap);
/// assert_eq!(scores.count()?, 1);
/// // by raw hash, for callers that hash keys themselves
/// let hash = db.hasher().hash(b"ada")?;
/// assert_eq!(root.get_by_hash(&hash)?.unwrap().as_uint()?, 1815);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct MapView<'r>(HamtView<'r>);

/// A bounded preview: the kind and the first entries (see `preview.rs`).
impl std::fmt::Debug for MapView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MapView<{}> ", self.0.hamt.kind)?;
        crate::api::preview::children(&self.0.cursor(), true, f)
    }
}

impl<'r> MapView<'r> {
    pub(crate) fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
        expect_kind(slot, &[Tag::HashMap, Tag::CountedHashMap], "a map")?;
        Ok(MapView(HamtView {
            src,
            hamt: Hamt::from_slot(slot)?,
        }))
    }

    view_common!();

    /// The value stored under `key`, if the key is present.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Cursor<'r>>> {
        self.entry(key)?.map(|e| e.value()).transpose()
    }

    /// The value stored under a raw hash.
    pub fn get_by_hash(&self, hash: &[u8]) -> Result<Option<Cursor<'r>>> {
        self.entry_by_hash(hash)?.map(|e| e.value()).transpose()
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.entry(key)?.is_some())
    }
}

/// A read-only HashSet or CountedHashSet.
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut tags = tx.root_map()?.into_entry("tags")?.hash_set()?;
///     tags.insert("rust")?;
///     tags.insert("zig")?;
///     Ok(())
/// })?;
/// let tags = db.moment(-1)?.as_map()?.get(b"tags")?.unwrap().as_set()?;
/// assert!(tags.contains(b"rust")?);
/// assert!(!tags.contains(b"go")?);
/// let hash = db.hasher().hash(b"zig")?;
/// assert!(tags.contains_hash(&hash)?);
/// // members are the entries' keys
/// let mut members = Vec::new();
/// for entry in tags.iter() {
///     members.push(entry?.key()?.as_str()?);
/// }
/// members.sort();
/// assert_eq!(members, ["rust", "zig"]);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct SetView<'r>(HamtView<'r>);

/// A bounded preview: the kind and the first entries (see `preview.rs`).
impl std::fmt::Debug for SetView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SetView<{}> ", self.0.hamt.kind)?;
        crate::api::preview::children(&self.0.cursor(), false, f)
    }
}

impl<'r> SetView<'r> {
    pub(crate) fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
        expect_kind(slot, &[Tag::HashSet, Tag::CountedHashSet], "a set")?;
        Ok(SetView(HamtView {
            src,
            hamt: Hamt::from_slot(slot)?,
        }))
    }

    view_common!();

    /// True when `member` is in the set.
    pub fn contains(&self, member: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.entry(member)?.is_some())
    }

    /// True when a member with this raw hash is in the set.
    pub fn contains_hash(&self, hash: &[u8]) -> Result<bool> {
        Ok(self.entry_by_hash(hash)?.is_some())
    }
}

fn expect_kind(slot: Slot, kinds: &[Tag], expected: &'static str) -> Result<()> {
    if kinds.contains(&slot.tag) {
        Ok(())
    } else {
        Err(crate::Error::UnexpectedTag {
            expected,
            found: slot.tag,
        })
    }
}

// ---------------------------------------------------------------- writing

/// A record of a map or set opened for writing, by raw hash
/// ([`MapMut::entry_by_hash`], [`SetMut::entry_by_hash`]): its key and
/// value slots, written directly.
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let hash = tx.hasher().hash(b"k")?; // or a hash computed elsewhere
///     let mut map = tx.root_map()?;
///     let mut entry = map.entry_by_hash(&hash)?;
///     entry.key().write("k")?; // optional: keeps the key for iteration
///     entry.value().write(1u64)?;
///     Ok(())
/// })?;
/// let map = db.moment(-1)?.as_map()?;
/// assert_eq!(map.get(b"k")?.unwrap().as_uint()?, 1);
/// # Ok::<(), Error>(())
/// ```
pub struct EntryMut<'t> {
    core: TxCore<'t>,
    kv: Kv,
}

impl<'t> EntryMut<'t> {
    /// A cursor on the key slot.
    pub fn key(&mut self) -> CursorMut<'_> {
        CursorMut::new(self.core.reborrow(), SlotPos::Disk(self.kv.key_pos()))
    }

    /// A cursor on the value slot.
    pub fn value(&mut self) -> CursorMut<'_> {
        CursorMut::new(self.core.reborrow(), SlotPos::Disk(self.kv.value_pos()))
    }

    /// Turns the entry into a cursor on its value slot.
    pub fn into_value(self) -> CursorMut<'t> {
        CursorMut::new(self.core, SlotPos::Disk(self.kv.value_pos()))
    }
}

/// Shared write logic of maps and sets.
struct HamtMut<'t> {
    core: TxCore<'t>,
    pos: SlotPos,
    kind: Tag,
}

impl<'t> HamtMut<'t> {
    fn open(mut core: TxCore<'t>, pos: SlotPos, kind: Tag) -> Result<Self> {
        Hamt::open_mut(&mut core, pos, kind)?;
        Ok(HamtMut { core, pos, kind })
    }

    fn reborrow(&mut self) -> HamtMut<'_> {
        HamtMut {
            core: self.core.reborrow(),
            pos: self.pos,
            kind: self.kind,
        }
    }

    fn hamt(&mut self) -> Result<Hamt> {
        Hamt::open_mut(&mut self.core, self.pos, self.kind)
    }

    fn view(&self) -> Result<HamtView<'_>> {
        let slot = self.core.read_slot(self.pos)?;
        Ok(HamtView {
            src: self.core.src(),
            hamt: Hamt::from_slot(slot)?,
        })
    }

    /// Finds or creates the record for `hash`, storing `key` if the key slot is empty.
    fn upsert(&mut self, hash: &[u8], key: Option<&[u8]>) -> Result<(Kv, bool)> {
        let hamt = self.hamt()?;
        let (kv, created) = hamt
            .entry_mut(&mut self.core, hash, true)?
            .ok_or_else(|| crate::Error::corrupt(hamt.block, "entry not created"))?;
        if let Some(k) = key {
            let mut c = CursorMut::new(self.core.reborrow(), SlotPos::Disk(kv.key_pos()));
            c.write_if_empty(k)?;
        }
        Ok((kv, created))
    }

    fn entry_by_hash(&mut self, hash: &[u8]) -> Result<EntryMut<'_>> {
        let (kv, _) = self.upsert(hash, None)?;
        Ok(EntryMut {
            core: self.core.reborrow(),
            kv,
        })
    }

    fn remove_hash(&mut self, hash: &[u8]) -> Result<bool> {
        // Nothing is written (not even a copy) when the key is absent.
        if self.view()?.find_hash(hash)?.is_none() {
            return Ok(false);
        }
        let hamt = self.hamt()?;
        hamt.remove(&mut self.core, hash)
    }
}

macro_rules! mut_common {
    () => {
        /// The structure's kind (counted or not).
        pub fn kind(&self) -> Tag {
            self.0.kind
        }

        /// The stored count; [`crate::Error::NotCounted`] for uncounted kinds.
        pub fn count(&self) -> Result<u64> {
            let v = self.0.view()?;
            v.hamt.count(&v.src)
        }

        /// Opens (creating if needed) the record for a raw hash, for
        /// writing its key and value slots directly.
        pub fn entry_by_hash(&mut self, hash: &[u8]) -> Result<EntryMut<'_>> {
            self.0.entry_by_hash(hash)
        }

        /// Iterates over every record as it stands in this transaction.
        pub fn iter(&self) -> Result<Entries<'_>> {
            Ok(self.0.view()?.entries())
        }
    };
}

/// A HashMap or CountedHashMap opened for writing inside a transaction.
///
/// Open one with [`Transaction::root_map`](crate::Transaction::root_map) or
/// on any writable slot ([`CursorMut::hash_map`],
/// [`CursorMut::counted_hash_map`]); an empty slot gets a new map.
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     // `into_entry` consumes the root handle, for a handle that lives on
///     let mut born = tx.root_map()?.into_entry("born")?.counted_hash_map()?;
///     born.put("ada", 1815u64)?;
///     born.put("grace", 1906u64)?;
///     born.put("alan", 1912u64)?;
///     assert!(born.remove("alan")?);
///     assert!(!born.remove("nobody")?);
///     assert_eq!(born.count()?, 2);
///     assert_eq!(born.get(b"grace")?.unwrap().as_uint()?, 1906);
///     // `entry` is the value slot: write it, or open a structure there
///     born.entry("ada")?.write(1816u64)?;
///     Ok(())
/// })?;
/// let born = db.moment(-1)?.as_map()?.get(b"born")?.unwrap().as_map()?;
/// assert_eq!(born.get(b"ada")?.unwrap().as_uint()?, 1816);
/// assert!(!born.contains_key(b"alan")?);
/// # Ok::<(), Error>(())
/// ```
pub struct MapMut<'t>(HamtMut<'t>);

impl<'t> MapMut<'t> {
    pub(crate) fn open(core: TxCore<'t>, pos: SlotPos, kind: Tag) -> Result<Self> {
        HamtMut::open(core, pos, kind).map(MapMut)
    }

    mut_common!();

    /// A read-only view of the map as it stands in this transaction.
    pub fn view(&self) -> Result<MapView<'_>> {
        Ok(MapView(self.0.view()?))
    }

    /// Reads the value under `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Cursor<'_>>> {
        MapView(self.0.view()?).get(key)
    }

    /// Reads the value under a raw hash.
    pub fn get_by_hash(&self, hash: &[u8]) -> Result<Option<Cursor<'_>>> {
        MapView(self.0.view()?).get_by_hash(hash)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        MapView(self.0.view()?).contains_key(key)
    }

    /// Stores `value` under `key` (the key bytes are kept for iteration).
    pub fn put<'v>(&mut self, key: impl AsRef<[u8]>, value: impl Into<Value<'v>>) -> Result<()> {
        self.entry(key.as_ref())?.write(value)
    }

    /// Stores `value` under a raw hash, without key bytes.
    pub fn put_by_hash<'v>(&mut self, hash: &[u8], value: impl Into<Value<'v>>) -> Result<()> {
        self.0.entry_by_hash(hash)?.value().write(value)
    }

    /// The value slot for `key`, creating the entry (with its key) if absent.
    /// Write a value or open a nested structure through the cursor.
    pub fn entry(&mut self, key: impl AsRef<[u8]>) -> Result<CursorMut<'_>> {
        self.reborrow().into_entry(key)
    }

    /// Like [`MapMut::entry`], consuming the handle (for longer-lived cursors).
    pub fn into_entry(mut self, key: impl AsRef<[u8]>) -> Result<CursorMut<'t>> {
        let key = key.as_ref();
        let hash = self.0.core.st.hasher.hash(key)?;
        let (kv, _) = self.0.upsert(&hash, Some(key))?;
        Ok(CursorMut::new(self.0.core, SlotPos::Disk(kv.value_pos())))
    }

    /// The value slot for a raw hash, creating the entry (without key bytes).
    pub fn into_entry_by_hash(mut self, hash: &[u8]) -> Result<CursorMut<'t>> {
        let (kv, _) = self.0.upsert(hash, None)?;
        Ok(CursorMut::new(self.0.core, SlotPos::Disk(kv.value_pos())))
    }

    /// A shorter-lived handle on the same map.
    pub fn reborrow(&mut self) -> MapMut<'_> {
        MapMut(self.0.reborrow())
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        let hash = self.0.core.st.hasher.hash(key.as_ref())?;
        self.0.remove_hash(&hash)
    }

    /// Removes the entry with a raw hash; returns whether it was present.
    pub fn remove_by_hash(&mut self, hash: &[u8]) -> Result<bool> {
        self.0.remove_hash(hash)
    }
}

/// A HashSet or CountedHashSet opened for writing inside a transaction.
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut tags = tx.root_map()?.into_entry("tags")?.counted_hash_set()?;
///     assert!(tags.insert("rust")?); // new
///     assert!(tags.insert("zig")?);
///     assert!(!tags.insert("rust")?); // already there
///     assert!(tags.remove("zig")?);
///     assert!(tags.contains(b"rust")?);
///     assert_eq!(tags.count()?, 1);
///     Ok(())
/// })?;
/// let tags = db.moment(-1)?.as_map()?.get(b"tags")?.unwrap().as_set()?;
/// assert_eq!(tags.count()?, 1);
/// # Ok::<(), Error>(())
/// ```
pub struct SetMut<'t>(HamtMut<'t>);

impl<'t> SetMut<'t> {
    pub(crate) fn open(core: TxCore<'t>, pos: SlotPos, kind: Tag) -> Result<Self> {
        HamtMut::open(core, pos, kind).map(SetMut)
    }

    mut_common!();

    /// A read-only view of the set as it stands in this transaction.
    pub fn view(&self) -> Result<SetView<'_>> {
        Ok(SetView(self.0.view()?))
    }

    /// True when `member` is in the set.
    pub fn contains(&self, member: impl AsRef<[u8]>) -> Result<bool> {
        SetView(self.0.view()?).contains(member)
    }

    /// A shorter-lived handle on the same set.
    pub fn reborrow(&mut self) -> SetMut<'_> {
        SetMut(self.0.reborrow())
    }

    /// Adds `member`; returns true when it was not there before.
    pub fn insert(&mut self, member: impl AsRef<[u8]>) -> Result<bool> {
        let member = member.as_ref();
        let hash = self.0.core.st.hasher.hash(member)?;
        Ok(self.0.upsert(&hash, Some(member))?.1)
    }

    /// Removes `member`; returns whether it was present.
    pub fn remove(&mut self, member: impl AsRef<[u8]>) -> Result<bool> {
        let hash = self.0.core.st.hasher.hash(member.as_ref())?;
        self.0.remove_hash(&hash)
    }

    /// Removes the member with a raw hash; returns whether it was present.
    pub fn remove_by_hash(&mut self, hash: &[u8]) -> Result<bool> {
        self.0.remove_hash(hash)
    }
}
