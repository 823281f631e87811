//! SortedMap and SortedSet: read views and write handles.
//!
//! Keys are byte strings in unsigned bytewise order (a proper prefix sorts
//! first), stored as they are, never hashed, so that ranges, prefixes and
//! ranks can be answered in O(log n). Point reads borrow from the storage
//! and allocate nothing; iterators run from both ends (`.rev()`).
//!
//! ```
//! use xitdb::Database;
//! let mut db = Database::memory();
//! db.transact(|tx| {
//!     let mut scores = tx.root_map()?.into_entry("scores")?.sorted_map()?;
//!     for (name, score) in [("carol", 7u64), ("alice", 9), ("bob", 5)] {
//!         scores.put(name, score)?;
//!     }
//!     Ok::<_, xitdb::Error>(())
//! })?;
//! let moment = db.moment(-1)?;
//! let scores = moment.as_map()?.get(b"scores")?.unwrap().as_sorted_map()?;
//! let names: Vec<String> = scores
//!     .iter()?
//!     .map(|e| e.and_then(|e| e.key_string()))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(names, ["alice", "bob", "carol"]);
//! assert_eq!(scores.rank("bob")?, 1);
//! let last = scores.last()?.unwrap();
//! assert_eq!(last.value()?.as_uint()?, 7);
//! assert_eq!(scores.range("b".."c")?.count(), 1);
//! # Ok::<(), xitdb::Error>(())
//! ```

use crate::api::cursor::Cursor;
use crate::api::cursor_mut::CursorMut;
use crate::api::value::Value;
use crate::error::{Error, Result};
use crate::format::ListFamily;
use crate::format::{Slot, Tag};
use crate::tree::access::{SlotPos, Src, TxCore};
use crate::tree::bytes;
use crate::tree::hamt::Kv;
use crate::tree::sorted::{prefix_end, Sorted, SortedIter};
use std::borrow::Cow;
use std::ops::{Bound, RangeBounds};

/// One entry of a sorted map or set: its key, and (for maps) its value.
#[derive(Clone, Copy)]
pub struct SortedEntry<'r> {
    src: Src<'r>,
    kv: Kv,
}

impl std::fmt::Debug for SortedEntry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SortedEntry")
            .field("pos", &self.kv.pos)
            .finish()
    }
}

impl<'r> SortedEntry<'r> {
    /// The key's bytes (borrowed from the storage when they lie out of line).
    pub fn key(&self) -> Result<Cow<'r, [u8]>> {
        let slot = self.src.slot(self.kv.key_pos())?;
        Ok(bytes::decode(&self.src, slot)?.0)
    }

    /// The key as UTF-8 text.
    pub fn key_string(&self) -> Result<String> {
        String::from_utf8(self.key()?.into_owned())
            .map_err(|_| Error::InvalidArgument("bytes are not UTF-8"))
    }

    /// The value (null for sets).
    pub fn value(&self) -> Result<Cursor<'r>> {
        Cursor::at(self.src, self.kv.value_pos())
    }
}

/// Entries of a sorted map or set in key order, from either end.
pub struct SortedEntries<'r> {
    src: Src<'r>,
    inner: SortedIter<'r>,
}

impl std::fmt::Debug for SortedEntries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SortedEntries")
            .field("remaining", &self.inner.remaining())
            .finish()
    }
}

impl<'r> Iterator for SortedEntries<'r> {
    type Item = Result<SortedEntry<'r>>;

    fn next(&mut self) -> Option<Self::Item> {
        let src = self.src;
        self.inner
            .next()
            .map(|r| r.map(|kv| SortedEntry { src, kv }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for SortedEntries<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let src = self.src;
        self.inner
            .next_back()
            .map(|r| r.map(|kv| SortedEntry { src, kv }))
    }
}

impl ExactSizeIterator for SortedEntries<'_> {}

/// The read logic shared by sorted maps and sets.
#[derive(Clone, Copy)]
struct SortedView<'r> {
    src: Src<'r>,
    tree: Sorted,
}

fn bound_bytes<K: AsRef<[u8]> + ?Sized>(b: Bound<&K>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<'r> SortedView<'r> {
    fn new(src: Src<'r>, slot: Slot, kind: Tag) -> Result<Self> {
        let tree = Sorted::from_slot(slot)?;
        if tree.kind != kind {
            return Err(Error::UnexpectedTag {
                expected: kind.name(),
                found: slot.tag,
            });
        }
        // only the B-tree list family holds sorted collections
        if src.family.get().is_none() {
            src.family.learn(ListFamily::BTree);
        }
        Ok(SortedView { src, tree })
    }

    fn entry(&self, kv: Kv) -> SortedEntry<'r> {
        SortedEntry { src: self.src, kv }
    }

    fn find(&self, key: &[u8]) -> Result<Option<SortedEntry<'r>>> {
        Ok(self.tree.find(&self.src, key)?.map(|kv| self.entry(kv)))
    }

    fn ranks(&self, lo: u64, hi: u64) -> Result<SortedEntries<'r>> {
        Ok(SortedEntries {
            src: self.src,
            inner: self.tree.iter(self.src, lo, hi)?,
        })
    }

    fn range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<SortedEntries<'r>> {
        let (lo, hi) = self.tree.rank_range(&self.src, start, end)?;
        self.ranks(lo, hi)
    }

    fn prefix(&self, prefix: &[u8]) -> Result<SortedEntries<'r>> {
        match prefix_end(prefix) {
            Some(end) => self.range(Bound::Included(prefix), Bound::Excluded(&end)),
            None => self.range(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    fn get_index(&self, index: i64) -> Result<Option<SortedEntry<'r>>> {
        let len = self.tree.len(&self.src)?;
        let i = if index < 0 {
            match len.checked_sub(index.unsigned_abs()) {
                Some(i) => i,
                None => return Ok(None),
            }
        } else {
            index as u64
        };
        Ok(self.tree.select(&self.src, i)?.map(|kv| self.entry(kv)))
    }
}

/// The read API common to [`SortedMapView`] and [`SortedSetView`].
macro_rules! sorted_view_common {
    () => {
        /// Number of entries.
        pub fn len(&self) -> Result<u64> {
            self.0.tree.len(&self.0.src)
        }

        /// True when there are no entries.
        pub fn is_empty(&self) -> Result<bool> {
            Ok(self.len()? == 0)
        }

        /// Every entry in key order (`.rev()` for descending order).
        pub fn iter(&self) -> Result<SortedEntries<'r>> {
            self.0.ranks(0, u64::MAX)
        }

        /// The entries whose keys lie in `range`, e.g. `"a".."m"` or
        /// `b"k1".as_slice()..=b"k9".as_slice()`.
        pub fn range<K, R>(&self, range: R) -> Result<SortedEntries<'r>>
        where
            K: AsRef<[u8]> + ?Sized,
            R: RangeBounds<K>,
        {
            self.0.range(
                bound_bytes(range.start_bound()),
                bound_bytes(range.end_bound()),
            )
        }

        /// The entries from the first key ≥ `key` to the end.
        pub fn iter_from(&self, key: impl AsRef<[u8]>) -> Result<SortedEntries<'r>> {
            self.0
                .range(Bound::Included(key.as_ref()), Bound::Unbounded)
        }

        /// The entries whose keys start with `prefix`.
        pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<SortedEntries<'r>> {
            self.0.prefix(prefix.as_ref())
        }

        /// The entry with the smallest key.
        pub fn first(&self) -> Result<Option<SortedEntry<'r>>> {
            self.0.get_index(0)
        }

        /// The entry with the largest key.
        pub fn last(&self) -> Result<Option<SortedEntry<'r>>> {
            self.0.get_index(-1)
        }

        /// Number of keys strictly below `key` (its position if present).
        pub fn rank(&self, key: impl AsRef<[u8]>) -> Result<u64> {
            self.0.tree.rank(&self.0.src, key.as_ref())
        }

        /// The entry at position `index` in key order; negative counts
        /// from the end (-1 is the last).
        pub fn get_index(&self, index: i64) -> Result<Option<SortedEntry<'r>>> {
            self.0.get_index(index)
        }
    };
}

/// A read-only SortedMap.
#[derive(Clone, Copy)]
pub struct SortedMapView<'r>(SortedView<'r>);

impl std::fmt::Debug for SortedMapView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SortedMapView").field(&self.0.tree).finish()
    }
}

impl<'r> SortedMapView<'r> {
    pub(crate) fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
        SortedView::new(src, slot, Tag::SortedMap).map(SortedMapView)
    }

    sorted_view_common!();

    /// The value under `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Cursor<'r>>> {
        match self.0.find(key.as_ref())? {
            Some(e) => e.value().map(Some),
            None => Ok(None),
        }
    }

    /// The entry under `key`.
    pub fn entry(&self, key: impl AsRef<[u8]>) -> Result<Option<SortedEntry<'r>>> {
        self.0.find(key.as_ref())
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.0.find(key.as_ref())?.is_some())
    }
}

/// A read-only SortedSet.
#[derive(Clone, Copy)]
pub struct SortedSetView<'r>(SortedView<'r>);

impl std::fmt::Debug for SortedSetView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SortedSetView").field(&self.0.tree).finish()
    }
}

impl<'r> SortedSetView<'r> {
    pub(crate) fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
        SortedView::new(src, slot, Tag::SortedSet).map(SortedSetView)
    }

    sorted_view_common!();

    /// True when `member` is present.
    pub fn contains(&self, member: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.0.find(member.as_ref())?.is_some())
    }
}

// ---------------------------------------------------------------- writing

/// The write logic shared by sorted maps and sets.
struct SortedMutInner<'t> {
    core: TxCore<'t>,
    pos: SlotPos,
    kind: Tag,
}

impl<'t> SortedMutInner<'t> {
    fn open(mut core: TxCore<'t>, pos: SlotPos, kind: Tag) -> Result<Self> {
        Sorted::open_mut(&mut core, pos, kind)?;
        Ok(SortedMutInner { core, pos, kind })
    }

    fn reborrow(&mut self) -> SortedMutInner<'_> {
        SortedMutInner {
            core: self.core.reborrow(),
            pos: self.pos,
            kind: self.kind,
        }
    }

    fn tree(&mut self) -> Result<Sorted> {
        Sorted::open_mut(&mut self.core, self.pos, self.kind)
    }

    fn view(&self) -> Result<SortedView<'_>> {
        let slot = self.core.read_slot(self.pos)?;
        SortedView::new(self.core.src(), slot, self.kind)
    }

    fn upsert(&mut self, key: &[u8]) -> Result<(Kv, bool)> {
        let tree = self.tree()?;
        tree.entry_mut(&mut self.core, key, true)?
            .ok_or_else(|| Error::corrupt(tree.header, "sorted entry not created"))
    }

    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        // nothing is written (not even a copy of the header) for an absent key
        if self.view()?.find(key)?.is_none() {
            return Ok(false);
        }
        let tree = self.tree()?;
        tree.remove(&mut self.core, key)?;
        Ok(true)
    }
}

/// The write API common to [`SortedMapMut`] and [`SortedSetMut`].
macro_rules! sorted_mut_common {
    () => {
        /// Number of entries as they stand in this transaction.
        pub fn len(&self) -> Result<u64> {
            let v = self.0.view()?;
            v.tree.len(&v.src)
        }

        /// True when there are no entries.
        pub fn is_empty(&self) -> Result<bool> {
            Ok(self.len()? == 0)
        }

        /// Removes `key`; false when it was absent.
        pub fn remove(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
            self.0.remove(key.as_ref())
        }
    };
}

/// A SortedMap opened for writing inside a transaction.
pub struct SortedMapMut<'t>(SortedMutInner<'t>);

impl<'t> SortedMapMut<'t> {
    pub(crate) fn open(core: TxCore<'t>, pos: SlotPos) -> Result<Self> {
        SortedMutInner::open(core, pos, Tag::SortedMap).map(SortedMapMut)
    }

    sorted_mut_common!();

    /// A read-only view of the map as it stands in this transaction.
    pub fn view(&self) -> Result<SortedMapView<'_>> {
        Ok(SortedMapView(self.0.view()?))
    }

    /// The value under `key`, as it stands in this transaction.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Cursor<'_>>> {
        self.view()?.get(key)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.view()?.contains_key(key)
    }

    /// Stores `value` under `key` (replacing any value there).
    pub fn put<'v>(&mut self, key: impl AsRef<[u8]>, value: impl Into<Value<'v>>) -> Result<()> {
        self.entry(key)?.write(value)
    }

    /// A cursor on the value slot under `key`, creating the entry (with an
    /// empty value) if it is absent; nested structures are opened from it.
    pub fn entry(&mut self, key: impl AsRef<[u8]>) -> Result<CursorMut<'_>> {
        let (kv, _) = self.0.upsert(key.as_ref())?;
        Ok(CursorMut::new(
            self.0.core.reborrow(),
            SlotPos::Disk(kv.value_pos()),
        ))
    }

    /// [`SortedMapMut::entry`], consuming the handle.
    pub fn into_entry(mut self, key: impl AsRef<[u8]>) -> Result<CursorMut<'t>> {
        let (kv, _) = self.0.upsert(key.as_ref())?;
        Ok(CursorMut::new(self.0.core, SlotPos::Disk(kv.value_pos())))
    }

    /// A shorter-lived handle on the same map.
    pub fn reborrow(&mut self) -> SortedMapMut<'_> {
        SortedMapMut(self.0.reborrow())
    }
}

/// A SortedSet opened for writing inside a transaction.
pub struct SortedSetMut<'t>(SortedMutInner<'t>);

impl<'t> SortedSetMut<'t> {
    pub(crate) fn open(core: TxCore<'t>, pos: SlotPos) -> Result<Self> {
        SortedMutInner::open(core, pos, Tag::SortedSet).map(SortedSetMut)
    }

    sorted_mut_common!();

    /// A read-only view of the set as it stands in this transaction.
    pub fn view(&self) -> Result<SortedSetView<'_>> {
        Ok(SortedSetView(self.0.view()?))
    }

    /// True when `member` is present.
    pub fn contains(&self, member: impl AsRef<[u8]>) -> Result<bool> {
        self.view()?.contains(member)
    }

    /// Adds `member`; false when it was already there.
    pub fn insert(&mut self, member: impl AsRef<[u8]>) -> Result<bool> {
        // a member already there is left as it is: nothing is written
        if self.0.view()?.find(member.as_ref())?.is_some() {
            return Ok(false);
        }
        Ok(self.0.upsert(member.as_ref())?.1)
    }

    /// A shorter-lived handle on the same set.
    pub fn reborrow(&mut self) -> SortedSetMut<'_> {
        SortedSetMut(self.0.reborrow())
    }
}
