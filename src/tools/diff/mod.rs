//! Differences between two moments (or two structures) of one database.
//!
//! [`diff`] (and [`crate::Database::diff`]) compares two values and yields,
//! lazily, the [`Change`]s that turn the first into the second: each with
//! its path from the diffed roots (map keys, list indices), its kind and the
//! values on both sides as cursors.
//!
//! # Why it is cheap: structural sharing
//!
//! A transaction copies only the blocks on the paths it changes; everything
//! else in the new moment is the very same block as in the moment before,
//! reached through a slot holding the very same pointer. The diff walks
//! both sides in parallel and compares *slots* before anything they point
//! to: two identical slots are the same value (a scalar, or the same
//! record), so the subtree behind them is skipped without being read. Two
//! adjacent moments of a map of a million entries that differ in one key
//! therefore cost one root-to-leaf path per side: a dozen blocks, not a
//! million entries. Where nothing is shared (two structures built
//! separately), the diff reads both whole.
//!
//! # What is compared, and how
//!
//! * **Maps and sets** (all four HAMT kinds) are compared *by key*: both
//!   tries are walked in parallel, slot by slot, since a key lives at the
//!   same trie position in both. Identical child slots are skipped. A
//!   key/value record on one side against an index block on the other is
//!   handled by treating the record as a one-entry block one level down,
//!   until the other side's entries are sorted out. Two records with the
//!   same hash are the same key: their values are compared (a set's members
//!   are then equal). Different hashes give a [`ChangeKind::Removed`] and an
//!   [`ChangeKind::Added`]. A counted kind's count is not reported. The path
//!   element is [`PathStepBuf::Key`] when the entry stores its key as bytes
//!   (the new side's key is preferred), else [`PathStepBuf::Hash`].
//! * **ArrayLists** are compared *index by index*: item `k` of one side
//!   against item `k` of the other. Both radix trees put item `k` at the
//!   same digits, so their blocks align (the shorter list's root covers the
//!   indices of the taller one's leftmost subtree at its height, which is
//!   where appends and truncations move it), and identical subtrees are
//!   skipped. A subtree is skipped only where it lies wholly below both
//!   lengths: a truncated list keeps stale items in its blocks. Indices
//!   past the shorter list are [`ChangeKind::Added`] or
//!   [`ChangeKind::Removed`], one change per index.
//! * **LinkedArrayLists** are compared index by index too. Both trees are
//!   walked in step, item offset by item offset; where both sides hold an
//!   identical entry (same slot, same leaf count) *starting at the same
//!   offset*, the whole subtree is skipped, otherwise the walk descends and
//!   compares item by item. Appends, overwrites and removals at the end cost
//!   O(log n) per changed item. An insertion or removal at index `k` shifts
//!   every later item, so every later index whose value changed is reported
//!   as [`ChangeKind::Changed`] (plus an added or removed index at the end),
//!   and the walk reads the items after `k` (subtrees that moved are no
//!   longer at the same offset): O(n − k). Index-by-index was
//!   chosen over a sequence alignment (an LCS of the items) because it is
//!   what paths into a list mean, it is the same rule for both list kinds,
//!   and it never needs more than one pass.
//! * **SortedMaps and SortedSets** are compared *by key, in key order*:
//!   the two entry streams (a B-tree path at each side's next entry) are
//!   merged; a key on one side only is [`ChangeKind::Removed`] or
//!   [`ChangeKind::Added`], a key on both sides has its values compared
//!   (identical value slots skipped unread). Where both paths stand in the
//!   very same node at the same entry, the rest of that node (a leaf's
//!   remaining entries, or whole subtrees) is skipped unread, so a change
//!   to one key of a large map costs about the two paths to it. The path
//!   element is [`PathStepBuf::Key`].
//! * **Values**: scalars (uint, int, float) are compared by tag and bits
//!   (a float `0.0` and `-0.0` differ; a NaN equals the same NaN bits).
//!   Bytes are compared by content and format tag, whatever their encoding:
//!   equal content in different blocks, or once inline and once out of
//!   line, is *not* a change. Structures of the same tag are compared
//!   recursively. Values of different kinds (a map replaced by a list, a
//!   uint by bytes, a HashMap by a CountedHashMap) are one
//!   [`ChangeKind::Changed`] carrying both values; nothing below them is
//!   reported.
//!
//! # Added, removed, changed, and null
//!
//! [`ChangeKind::Added`] and [`ChangeKind::Removed`] mean that the
//! *position* exists on one side only: a map key (or set member) present on
//! one side, or a list index past the end of the other side's list. Such a
//! change carries the whole value (a nested map added under a new key is
//! one change, not one per entry). A position present on both sides whose
//! values differ is [`ChangeKind::Changed`], **including null against a
//! value**: null (an explicit none, or a list item never written) is a
//! value like any other. This keeps the changes exact: replaying them on a
//! copy of the old version rebuilds the new one, where "null means absent"
//! would confuse a list item set to null with a list that got shorter, and
//! a key stored with a null value with a missing key. The diffed roots
//! themselves always exist on both sides, so at the empty path there is at
//! most one `Changed`.
//!
//! # Order
//!
//! Depth first: a map's changes in trie order (the order of iteration), a
//! sorted map's in key order, a list's in index order; a nested structure's changes where the structure
//! sits. For two records with different hashes in the same trie slot, the
//! removal comes before the addition.
//!
//! # Hostile bytes
//!
//! The walk never panics, never recurses on the thread's stack (it keeps
//! its own) and is bounded: structures nest at most [`MAX_NESTING`] deep, a
//! trie at most `2H` levels, a list tree at most 16, and the walk's stack
//! holds at most two frames (a few hundred bytes each) per 144 bytes of
//! storage, more than a path through an acyclic database can need (deeper
//! is [`Error::TooDeep`]). A path's keys together hold no more bytes than
//! the storage.
//!
//! Pointers that form cycles (or a structure shared under many paths) can
//! still make a walk that yields nothing exponentially long, so the work
//! between two yielded changes is bounded: after [`Diff::work_limit`] reads
//! without a change the diff fails with [`Error::Corrupt`]. The default
//! allows eight reads per 9 bytes of storage (plus 65,536), more than any
//! database needs unless one side shares one large structure under many
//! paths and the other side holds an equal but separately built copy of it
//! under the same paths; [`Diff::with_work_limit`] raises it. After an
//! error the stream ends.
//!
//! Both cursors must come from the same database: identical slots are taken
//! to be identical values.
//!
//! ```
//! use xitdb::{Database, PathStepBuf};
//! use xitdb::diff::ChangeKind;
//! let mut db = Database::memory();
//! db.transact(|tx| {
//!     let mut m = tx.root_map()?;
//!     m.put("a", 1u64)?;
//!     m.put("b", 2u64)
//! })?;
//! db.transact(|tx| tx.root_map()?.put("a", 10u64))?;
//! let changes: Vec<_> = db.diff(0, 1)?.collect::<Result<_, _>>()?;
//! assert_eq!(changes.len(), 1);
//! assert_eq!(changes[0].kind, ChangeKind::Changed);
//! assert_eq!(changes[0].path, vec![PathStepBuf::Key(b"a".to_vec())]);
//! assert_eq!(changes[0].new.unwrap().as_uint()?, 10);
//! # Ok::<(), xitdb::Error>(())
//! ```
//!
//! [`MAX_NESTING`]: crate::format::MAX_NESTING
//! [`Error::TooDeep`]: crate::Error::TooDeep
//! [`Error::Corrupt`]: crate::Error::Corrupt

// The walk every kind shares (the stack of frames, the work limit, the
// path, the pairing of two values) is in `walker`; each structure kind
// steps its own frames in its own file, maps and ArrayLists over the block
// sides of `node`, sorted maps and sets as a merge of two key-ordered
// streams; byte values are compared in `bytes`.
mod bytes;
mod linked_list;
mod list;
mod map;
mod node;
mod sorted;
mod walker;

use crate::api::cursor::Cursor;
use crate::api::database::Database;
use crate::api::value::PathStepBuf;
use crate::error::Result;
use crate::format::{BLOCK_LEN, SLOT_LEN};
use crate::storage::Storage;
use crate::tree::access::Src;
use walker::{Frame, Val};

/// What happened at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// Present in the new version only.
    Added,
    /// Present in the old version only.
    Removed,
    /// Present in both, with different values.
    Changed,
}

/// One change: where, what kind, and the values on each side.
///
/// For a map, the cursors are on the entry's value; for a set, on the
/// member (the entry's key slot, null for a member stored by hash only);
/// for a list, on the item.
#[derive(Debug, Clone)]
pub struct Change<'r> {
    /// From the diffed roots down to the changed value.
    pub path: Vec<PathStepBuf>,
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The value before (`None` when added).
    pub old: Option<Cursor<'r>>,
    /// The value after (`None` when removed).
    pub new: Option<Cursor<'r>>,
}

/// A lazy stream of changes; see the [module documentation](self).
///
/// Each call to `next` reads only what it needs to find the next change.
/// After an error the stream ends.
pub struct Diff<'r> {
    a: Src<'r>,
    b: Src<'r>,
    /// The two roots, until the first call.
    start: Option<(Val, Val)>,
    stack: Vec<Frame>,
    /// The path of the frame being stepped.
    path: Vec<PathStepBuf>,
    /// Key and hash bytes held by `path`.
    path_bytes: u64,
    /// Changes found but not yet yielded (at most two), last first.
    pending: Vec<Change<'r>>,
    /// Reads allowed between two yielded changes, and those left.
    limit: u64,
    left: u64,
    /// Reads made so far.
    reads: u64,
    /// Frames the stack may hold.
    max_frames: usize,
    finished: bool,
}

impl std::fmt::Debug for Diff<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diff")
            .field("depth", &self.stack.len())
            .field("reads", &self.reads)
            .field("finished", &self.finished)
            .finish()
    }
}

/// The changes that turn `a` into `b` (both cursors into one database).
pub fn diff<'r>(a: Cursor<'r>, b: Cursor<'r>) -> Diff<'r> {
    let len = a.src.len().max(b.src.len());
    let limit = (len / SLOT_LEN).saturating_mul(WORK_PER_SLOT) + MIN_WORK;
    Diff {
        a: a.src,
        b: b.src,
        start: Some((
            Val {
                slot: a.slot,
                pos: a.pos,
            },
            Val {
                slot: b.slot,
                pos: b.pos,
            },
        )),
        stack: Vec::new(),
        path: Vec::new(),
        path_bytes: 0,
        pending: Vec::new(),
        limit,
        left: limit,
        reads: 0,
        max_frames: usize::try_from(2 * (len / BLOCK_LEN) + 64).unwrap_or(usize::MAX),
        finished: false,
    }
}

/// Default work limit: reads allowed per 9 bytes of storage between two
/// yielded changes, plus a constant.
const WORK_PER_SLOT: u64 = 8;
const MIN_WORK: u64 = 1 << 16;

impl<S: Storage> Database<S> {
    /// The changes that turn moment `a` into moment `b` (indices as in
    /// [`Database::moment`]), as a lazy stream; see the
    /// [module documentation](self).
    pub fn diff(&self, a: i64, b: i64) -> Result<Diff<'_>> {
        Ok(diff(self.moment(a)?, self.moment(b)?))
    }
}

impl<'r> Diff<'r> {
    /// Sets how many reads (of a block, a record, a slot or a 4 KiB chunk of
    /// bytes) the diff may make between two changes it yields before it
    /// fails with [`Error::Corrupt`]; see the module documentation.
    ///
    /// [`Error::Corrupt`]: crate::Error::Corrupt
    pub fn with_work_limit(mut self, reads: u64) -> Self {
        self.limit = reads;
        self.left = reads;
        self
    }

    /// The current work limit.
    pub fn work_limit(&self) -> u64 {
        self.limit
    }

    /// Reads made so far: blocks, list headers, slots, hashes, keys and
    /// 4 KiB chunks of byte values, one each (close to the number of reads
    /// the storage sees). What the work limit counts.
    pub fn reads(&self) -> u64 {
        self.reads
    }
}

impl<'r> Iterator for Diff<'r> {
    type Item = Result<Change<'r>>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(c) = self.pending.pop() {
            return Some(Ok(c));
        }
        if self.finished {
            return None;
        }
        self.left = self.limit;
        match self.run() {
            Ok(Some(c)) => Some(Ok(c)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = true;
                self.stack.clear();
                self.pending.clear();
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Diff<'_> {}
