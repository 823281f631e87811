//! Checking a database: every moment walked, every invariant checked.
//!
//! [`Database::verify`] walks the whole database — every moment of a history, or the
//! root map of a root-map database — and checks the invariants of the format
//! as this crate writes it (FORMAT.md). It stops at the first violation and
//! reports it with its byte position. It never panics, never loops, never
//! recurses on the thread's stack, and never allocates in proportion to a
//! length read from the file.
//!
//! # What is checked
//!
//! * **Header**: magic, version, root tag, hash size (as on open).
//! * **History header** (root tag array_list): the 24 bytes at 12 are
//!   readable; `file_size` ≤ storage length; `file_size` = storage length
//!   on writable storage (a writable open cuts uncommitted bytes off);
//!   `file_size` = 0 only in a history without moments, which on writable
//!   storage is exactly 180 bytes when its root block is at 36; `size` ≤
//!   committed length / 9; the root pointer obeys the pointer rule below.
//!   A database with root tag none on writable storage is exactly 12 bytes.
//! * **Every slot** that is reached has a valid tag (0..=15). Every list
//!   block reached has valid tags in all 16 slots, including the stale
//!   slots past the list's size, which are otherwise not followed.
//! * **The pointer rule.** Pointers may point *forward*: a transaction
//!   changes its own records in place, so a parent can refer to a child
//!   appended after it. What holds for every pointer `p` to a record of `n`
//!   bytes is `lo ≤ p` and `p + n ≤ end`. `end` is the committed length:
//!   the history's `file_size` when it is non-zero, else the storage
//!   length. `lo` is the end of the fixed root area, never below 12
//!   (`DATABASE_START`): 36 for the history's own index blocks, 180 (the
//!   history header and its first block) for everything a moment reaches,
//!   and `12 + head` for everything below a root map (whose count and root
//!   block occupy `12 .. 12 + head`). `n` is the whole record: 144 for an
//!   index block, 152 for a counted map's count and root block, 16 and 17
//!   for list headers and sorted headers, 272 for a linked block, 146 for
//!   a sorted leaf and 418 for a sorted branch, `H + 18` for a key/value
//!   record, `8 + len` (`+ 2` with a format tag) for a long byte string.
//! * **Maps and sets**: index blocks hold only none, index and kv_pair
//!   slots; a trie has at most `2H` levels; every key/value record's stored
//!   hash agrees with its trie position (the hash's nibble at each depth is
//!   the slot index taken there); key and value slots hold values (never
//!   index or kv_pair); a set member's value slot is empty; a counted
//!   kind's stored count equals its number of records. A block shared by
//!   several maps (moments share them) sits at the same trie position in
//!   all of them.
//! * **ArrayLists**: `size` ≤ committed length / 9 (each item has its own
//!   slot); every slot on the path to an item below `size` is an `index`
//!   slot; items are values. The height follows from the size, so the size
//!   never exceeds the capacity of the tree. A block shared by several
//!   lists holds the same items in all of them (the same level and first
//!   index). History items (moments) are never empty slots: a commit always
//!   writes the slot.
//! * **LinkedArrayLists**: header shift ≤ 15; in every block the occupied
//!   entries form a prefix; internal entries are `index` slots whose `size`
//!   equals the items of their subtree; the header's size equals the items
//!   of the tree. A non-last child holding fewer items than its capacity
//!   and not flagged `full` is only a *warning*
//!   ([`ProblemKind::LostFullFlag`]): the reference writes such lists
//!   (FORMAT.md §9, 7a) and reads by counts cope with them. So is an
//!   internal entry whose subtree is empty ([`ProblemKind::EmptyChild`]),
//!   which this crate never writes.
//! * **SortedMaps and SortedSets** (B+trees): every node's kind byte is
//!   leaf (0) or branch (1) and its `num` at most 16, a branch has a
//!   child; leaf entries are kv_pair slots to key/value records; keys are
//!   `short_bytes` or `bytes` without a format tag, strictly ascending
//!   (unsigned bytes, a proper prefix first) across the whole tree; branch
//!   children are index slots, all at the same level (so all leaves are at
//!   one depth); each branch count equals its child's entries and the
//!   header's size the tree's; separator `i ≥ 1` is a byte key above
//!   every key of the children before child `i` and at most every key
//!   from child `i` on (separator 0 is unused and never read); a map's
//!   values are values, a set's value slots are empty. A node reached
//!   twice within one tree is a [`ProblemKind::SharedNode`]; trees and
//!   subtrees shared between moments are walked once. Emptied leaves
//!   (`num` 0), which the reference leaves in place, are valid.
//! * **Byte strings**: a long string's length prefix, payload and format
//!   tag lie below `end`; a short string is zero-filled after its payload.
//! * **Nesting**: values nest at most
//!   [`MAX_NESTING`](crate::format::MAX_NESTING) structures deep below a
//!   moment (the limit of [`crate::json::dump_json`]); a structure that
//!   contains itself is a [`ProblemKind::Cycle`].
//! * **One kind per block**: a position reached as two kinds of block (a
//!   map block and a list block, list blocks at two heights, ...) is a
//!   [`ProblemKind::KindConflict`].
//!
//! # Order
//!
//! The walk is depth-first: the header, the history header, then each
//! moment in order and everything it reaches; within a block, slots 0..15
//! in order (an ArrayList block's 16 tags are checked on arrival); within
//! a key/value record, the key before the value. The first problem met
//! ends the walk. A block shared by several moments is walked where it is
//! first met, so a problem in it is reported there, once.
//!
//! # Cost
//!
//! Moments share most of their records, so each block is checked once: a
//! table keyed by position remembers every index block, linked block and
//! sorted node with what was learnt about it (its kind, its trie position
//! or first index, its record or item count and the nesting height of its
//! values; for a sorted node its level and first and last key),
//! and a block met again is not walked again. Headers and key/value records
//! are small; they are checked again, in constant time, from each block or
//! slot that refers to them, and their contents (nested structures) are
//! again blocks met before. The walk is therefore linear in the number of
//! distinct blocks and the slots in them (a key/value record costs a
//! comparison of at most `H` hash bytes), and its memory is a few dozen
//! bytes per distinct block. It keeps its own stack on the heap. Byte
//! strings are bounds-checked, never read, except the keys of sorted
//! collections: each key is compared with the one before it and each
//! separator with its neighbouring keys, in place, in small chunks, up to
//! the first differing byte.
//!
//! Verify a read-only file handle while no writer commits (or after
//! [`Database::refresh`]): the history header is read as it is in the
//! storage.
//!
//! # Where the checks live
//!
//! One walk, shared by every kind of structure (`walk`: the verifier's
//! state, its stack, the memo of blocks and the roots), hands each record
//! to the file of its kind: `map` (maps and sets), `list` (ArrayLists and
//! the history), `linked_list` (LinkedArrayLists), `sorted` (SortedMaps
//! and SortedSets) and `bytes` (byte strings); `stop` turns what the format's decoders reject into the
//! problem kinds above. The walk reads bytes only through the format's
//! record codecs, never through the structures' own code, so it stays an
//! independent cross-check of that code.

mod bytes;
mod linked_list;
mod list;
mod map;
mod sorted;
mod stop;
mod walk;

use crate::api::database::Database;
use crate::error::Result;
use crate::format::ListFamily;
use crate::storage::Storage;
use std::fmt;
use stop::Stop;
use walk::Verifier;

/// At most this many warnings are kept in a [`Report`] (all are counted).
pub const MAX_WARNINGS: usize = 1000;

/// What [`Database::verify`] found: nothing, or the first violated invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Moments in the history (0 for a root map or an empty database).
    pub moments: u64,
    /// The first problem found, if any. The walk stops there.
    pub problem: Option<Problem>,
    /// Irregularities that readers tolerate (see [`ProblemKind::is_warning`]),
    /// in the order found, at most [`MAX_WARNINGS`] of them.
    pub warnings: Vec<Problem>,
    /// Number of warnings found, including those not kept in `warnings`.
    pub warning_count: u64,
    /// The length every record must lie below: the history's `file_size`
    /// when non-zero, else the storage length (12 for an empty database).
    pub committed_len: u64,
    /// What was checked.
    pub stats: Stats,
    /// The family the database's LinkedArrayLists were read in: the one it
    /// was opened in, or learned from what it holds (`None` when nothing
    /// told: no non-empty linked list and no sorted collection).
    pub list_family: Option<ListFamily>,
}

impl Report {
    /// True when no problem was found (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Counts of what [`Database::verify`] checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Distinct map and set index blocks.
    pub map_blocks: u64,
    /// Distinct ArrayList index blocks (history blocks included).
    pub list_blocks: u64,
    /// Distinct LinkedArrayList blocks (RRB family) or nodes (B-tree family).
    pub linked_blocks: u64,
    /// Distinct sorted map and set nodes (leaves and branches).
    pub sorted_nodes: u64,
    /// Bytes of the distinct blocks above: each was walked once.
    pub block_bytes: u64,
    /// Key/value records checked, once per map block or sorted leaf
    /// holding them.
    pub kv_records: u64,
    /// Structure headers checked (counted maps' counts, list and sorted
    /// headers), once per slot referring to them.
    pub headers: u64,
    /// Value slots checked (moments, items, keys, values; sorted
    /// separators), once per block or record holding them.
    pub values: u64,
    /// Long byte strings bounds-checked, once per slot referring to them.
    pub byte_strings: u64,
}

/// One violated invariant (or a warning), with the byte position where it
/// was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Byte position: of the slot or entry holding a bad tag or pointer, of
    /// the record or field whose contents are wrong (see [`ProblemKind`]).
    pub pos: u64,
    /// Which invariant.
    pub kind: ProblemKind,
    /// What is wrong, in words.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} at byte {}: {}", self.kind, self.pos, self.what)
    }
}

/// The invariant a [`Problem`] violates, and where its position points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The 12-byte database header is invalid (position of the field).
    Header,
    /// The history header cannot be read, or the moments it counts cannot
    /// fit in the committed length (at 12).
    HistoryHeader,
    /// `file_size` (at 28) disagrees with the storage length, or bytes
    /// follow an empty database's header on writable storage (at 12).
    FileSize,
    /// A slot's tag is not 0..=15 (position of the slot).
    InvalidTag,
    /// A pointer below the start of the data it may point at (position of
    /// the slot, or of the header field holding the pointer).
    PointerBelowStart,
    /// A record reaching past the committed length (position of the slot,
    /// or of the header field holding the pointer).
    OutOfBounds,
    /// A slot kind not allowed where it was found (position of the slot):
    /// a non-map slot in a map block, index or kv_pair as a value, a
    /// non-index slot on the path to an ArrayList item, a non-index
    /// internal linked entry, a non-kv_pair sorted leaf entry, a non-index
    /// sorted branch child, a sorted key or separator that is not
    /// `short_bytes` or `bytes` or carries a format tag.
    UnexpectedTag,
    /// A key/value record whose hash does not lead to where it is in the
    /// trie (position of the kv_pair slot).
    Misplaced,
    /// A block reached as two different kinds (a sorted map node and a
    /// sorted set node are two kinds), a map block reached at two
    /// trie positions, or a list block reached for two index ranges
    /// (position of the slot met second; for a structure's root block, of
    /// the slot referring to the structure).
    KindConflict,
    /// A counted map's or set's count differs from its records (position
    /// of the count).
    Count,
    /// An ArrayList size larger than the committed length can hold
    /// (position of the header).
    ListSize,
    /// A LinkedArrayList entry's size (position of the entry) or header
    /// size (position of the header) differs from the items below it.
    LinkedSize,
    /// An occupied LinkedArrayList entry after an empty one (position of the
    /// entry).
    LinkedShape,
    /// A LinkedArrayList that both families read as well-formed, in a
    /// database opened without a family (position of its header).
    ListFamily,
    /// A long byte string whose length reaches past the committed length
    /// (position of the length prefix).
    BytesLength,
    /// A short byte string with non-zero bytes after its payload
    /// (position of the slot).
    ShortBytes,
    /// A set member (of a hash or sorted set) with a non-empty value slot
    /// (position of the slot).
    SetValue,
    /// An empty history slot below the history's size (position of the
    /// slot).
    EmptyMoment,
    /// Too deep: a trie past `2H` levels (position of the index slot), a
    /// linked list shift above 15 (position of the shift byte), or values
    /// nested deeper than [`MAX_NESTING`](crate::format::MAX_NESTING)
    /// (position of the slot or header where the excess is seen).
    TooDeep,
    /// A structure or block containing itself (position of the slot
    /// closing the cycle).
    Cycle,
    /// A sorted map or set node whose kind byte is neither leaf (0) nor
    /// branch (1) (position of the kind byte), that holds more than 16
    /// entries, or a branch with no children (position of the count byte).
    SortedNode,
    /// Sorted keys out of order: a leaf entry's key not above the one
    /// before it (position of the entry's kv_pair slot), or a child's first
    /// key not above the last key of the children before it (position of
    /// the child slot).
    KeyOrder,
    /// A sorted branch's separator `i ≥ 1` that is not above every key of
    /// the children before child `i`, or is above the first key of child
    /// `i` (or of the first non-empty child after it) (position of the
    /// separator slot).
    Separator,
    /// A sorted branch's count that differs from the entries of its child
    /// (position of the count), or a sorted header's size that differs from
    /// the entries of its tree (position of the header).
    SortedCount,
    /// Sorted leaves at different depths: a branch child at another level
    /// than the children before it (position of the child slot).
    SortedDepth,
    /// A sorted node reached twice within one tree (position of the slot
    /// met second).
    SharedNode,
    /// Warning: a non-last LinkedArrayList child with fewer items than its
    /// capacity, not flagged `full` (position of the entry).
    LostFullFlag,
    /// Warning: an internal LinkedArrayList entry whose subtree holds no
    /// items (position of the entry).
    EmptyChild,
    /// Bytes that could not be read for another reason (position of the
    /// read).
    Unreadable,
}

impl ProblemKind {
    /// True for the kinds reported as warnings rather than problems.
    pub fn is_warning(self) -> bool {
        matches!(self, ProblemKind::LostFullFlag | ProblemKind::EmptyChild)
    }
}

impl<S: Storage> Database<S> {
    /// Walks every moment of the database (or its root map) and checks
    /// every invariant of the format; see the [module
    /// documentation](self) for the list.
    ///
    /// Returns `Err` only when the storage itself fails (an I/O error);
    /// whatever the bytes are, the result is a [`Report`].
    ///
    /// ```
    /// use xitdb::Database;
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("k", 1u64))?;
    /// let report = db.verify()?;
    /// assert!(report.problem.is_none());
    /// assert_eq!(report.moments, 1);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn verify(&self) -> Result<Report> {
        // Learn the list family first, so that every list, empty ones too,
        // is checked in it; a database whose lists cannot tell is reported
        // at the list that cannot, by the walk itself.
        let _ = self.detect_list_family();
        let mut v = Verifier::new(self.src());
        v.root = Some(self.root().slot());
        let mut moments = 0;
        let problem = match v.check_all(self.storage().is_writable(), &mut moments) {
            Ok(()) => None,
            Err(Stop::Problem(p)) => Some(p),
            Err(Stop::Io(e)) => return Err(e),
        };
        Ok(Report {
            moments,
            problem,
            warnings: v.warnings,
            warning_count: v.warning_count,
            committed_len: v.end,
            stats: v.stats,
            list_family: self.src().family.get(),
        })
    }
}
