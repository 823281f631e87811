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
//! * **Every slot** that is reached has a valid tag (0..=13). Every list
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
//!   for list headers, 272 for a linked block, `H + 18` for a key/value
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
//! * **Byte strings**: a long string's length prefix, payload and format
//!   tag lie below `end`; a short string is zero-filled after its payload.
//! * **Nesting**: values nest at most [`MAX_NESTING`] structures deep below
//!   a moment (the limit of [`crate::json::dump_json`]); a structure that
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
//! table keyed by position remembers every index block and linked block
//! with what was learnt about it (its kind, its trie position or first
//! index, its record or item count and the nesting height of its values),
//! and a block met again is not walked again. Headers and key/value records
//! are small; they are checked again, in constant time, from each block or
//! slot that refers to them, and their contents (nested structures) are
//! again blocks met before. The walk is therefore linear in the number of
//! distinct blocks and the slots in them (a key/value record costs a
//! comparison of at most `H` hash bytes), and its memory is a few dozen
//! bytes per distinct block. It keeps its own stack on the heap. Byte
//! strings are bounds-checked, never read.
//!
//! Verify a read-only file handle while no writer commits (or after
//! [`Database::refresh`]): the history header is read as it is in the
//! storage.

use crate::api::database::Database;
use crate::error::{Error, Result};
use crate::format::{
    list_shift, Header, Slot, Tag, TopHeader, BLOCK_LEN, BLOCK_SLOTS, COUNT_LEN, DATABASE_START,
    HEADER_LEN, LINKED_BLOCK_LEN, LINKED_HEADER_LEN, LINKED_SLOT_LEN, LIST_HEADER_LEN,
    MAX_LINKED_SHIFT, MAX_NESTING, SLOT_LEN, TOP_HEADER_LEN,
};
use crate::storage::Storage;
use crate::tree::access::Src;
use std::collections::HashMap;
use std::fmt;

/// At most this many warnings are kept in a [`Report`] (all are counted).
pub const MAX_WARNINGS: usize = 1000;

/// Where a history's first root block starts (right after its header).
const HISTORY_BLOCK: u64 = DATABASE_START + TOP_HEADER_LEN;

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
    /// Distinct LinkedArrayList blocks.
    pub linked_blocks: u64,
    /// Bytes of the distinct blocks above: each was walked once.
    pub block_bytes: u64,
    /// Key/value records checked, once per map block holding them.
    pub kv_records: u64,
    /// Structure headers checked (counted maps' counts, list headers), once
    /// per slot referring to them.
    pub headers: u64,
    /// Value slots checked (moments, items, keys, values), once per block
    /// or record holding them.
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
    /// A slot's tag is not 0..=13 (position of the slot).
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
    /// internal linked entry.
    UnexpectedTag,
    /// A key/value record whose hash does not lead to where it is in the
    /// trie (position of the kv_pair slot).
    Misplaced,
    /// A block reached as two different kinds, a map block reached at two
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
    /// A long byte string whose length reaches past the committed length
    /// (position of the length prefix).
    BytesLength,
    /// A short byte string with non-zero bytes after its payload
    /// (position of the slot).
    ShortBytes,
    /// A set member with a non-empty value slot (position of the slot).
    SetValue,
    /// An empty history slot below the history's size (position of the
    /// slot).
    EmptyMoment,
    /// Too deep: a trie past `2H` levels (position of the index slot), a
    /// linked list shift above 15 (position of the shift byte), or values
    /// nested deeper than [`MAX_NESTING`] (position of the slot or header
    /// where the excess is seen).
    TooDeep,
    /// A structure or block containing itself (position of the slot
    /// closing the cycle).
    Cycle,
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
        verify_database(self)
    }
}

fn verify_database<S: Storage>(db: &Database<S>) -> Result<Report> {
    let mut v = Verifier::new(db.src());
    let mut moments = 0;
    let problem = match v.check_all(db.storage().is_writable(), &mut moments) {
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
    })
}

// ------------------------------------------------------------------ internals

/// Why the walk stopped early.
enum Stop {
    Problem(Problem),
    Io(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        let (pos, kind) = match e {
            Error::Io(_) => return Stop::Io(e),
            Error::InvalidTag { pos, .. } => (pos, ProblemKind::InvalidTag),
            Error::OutOfBounds { pos, .. } => (pos, ProblemKind::OutOfBounds),
            Error::Corrupt { pos, .. } => (pos, ProblemKind::Unreadable),
            Error::TooDeep { pos } => (pos, ProblemKind::TooDeep),
            _ => (0, ProblemKind::Unreadable),
        };
        Stop::Problem(Problem {
            pos,
            kind,
            what: e.to_string(),
        })
    }
}

type R<T> = std::result::Result<T, Stop>;

fn fail<T>(pos: u64, kind: ProblemKind, what: String) -> R<T> {
    Err(Stop::Problem(Problem { pos, kind, what }))
}

/// What a finished block or value contributes to its parent: `n` counts
/// records (map blocks) or items (linked blocks); `h` is the nesting height
/// of the values below: 0 for a scalar or an empty structure, else one more
/// than the highest of its items.
#[derive(Debug, Clone, Copy, Default)]
struct Agg {
    n: u64,
    h: u32,
}

impl Agg {
    fn height(h: u32) -> Agg {
        Agg { n: 0, h }
    }
}

/// What the walk knows about a block, keyed by its position.
#[derive(Debug, Clone, Copy)]
enum Node {
    /// A map or set index block at trie position `tid` (0 = a root).
    /// `done` is `None` while it is being walked.
    Map {
        set: bool,
        tid: u64,
        done: Option<Agg>,
    },
    /// An ArrayList block at `level` (0 = items) whose first item has index
    /// `first`. Its first `checked` items are checked; `h[j]` is the
    /// nesting height of item `j` (level 0) or of the checked items of
    /// child `j`. `busy` while it is being walked.
    List {
        level: u8,
        history: bool,
        busy: bool,
        first: u64,
        checked: u64,
        h: [u16; BLOCK_SLOTS],
    },
    /// A LinkedArrayList block at `shift` (0 = items).
    Linked { shift: u8, done: Option<Agg> },
}

impl Node {
    /// True while the block is being walked: a pointer to it then closes a
    /// cycle.
    fn busy(&self) -> bool {
        match self {
            Node::Map { done, .. } | Node::Linked { done, .. } => done.is_none(),
            Node::List { busy, .. } => *busy,
        }
    }

    fn describe(&self) -> String {
        match self {
            Node::Map { set, tid, .. } => format!(
                "a {} block{}",
                if *set { "set" } else { "map" },
                if *tid == 0 { " (a root)" } else { "" }
            ),
            Node::List { level, history, .. } => {
                format!("{} block at level {level}", list_kind(*history))
            }
            Node::Linked { shift, .. } => {
                format!("a linked_array_list block at shift {shift}")
            }
        }
    }
}

fn list_kind(history: bool) -> &'static str {
    if history {
        "a history"
    } else {
        "an array_list"
    }
}

/// A record being checked, on the walk's own stack. `from` is the slot
/// that referred to the structure; `nest` is the structure's depth.
#[derive(Debug)]
enum Frame {
    /// A map or set (count at `pos` if counted): waiting for its root block.
    Map {
        from: u64,
        pos: u64,
        tag: Tag,
        nest: u32,
        started: bool,
    },
    /// An ArrayList: waiting for its root block.
    List {
        from: u64,
        pos: u64,
        size: u64,
        root: u64,
        nest: u32,
        started: bool,
    },
    /// A LinkedArrayList: waiting for its root block.
    Linked {
        from: u64,
        pos: u64,
        size: u64,
        root: u64,
        shift: u8,
        nest: u32,
        started: bool,
    },
    /// A map block at `depth` (the map is at depth `nest`).
    MapBlock {
        pos: u64,
        set: bool,
        depth: u32,
        tid: u64,
        next: u8,
        kvs: u64,
        h: u32,
        nest: u32,
    },
    /// A key/value record: stage 0 checks the key, 1 the value, 2 is done.
    Kv {
        pos: u64,
        set: bool,
        stage: u8,
        h: u32,
        nest: u32,
    },
    /// An ArrayList block: checks slots `next .. end`, for `limit` items.
    ListBlock {
        pos: u64,
        level: u8,
        first: u64,
        limit: u64,
        next: u8,
        end: u8,
        item_nest: u32,
        history: bool,
    },
    /// A LinkedArrayList block.
    LinkedBlock {
        pos: u64,
        shift: u8,
        next: u8,
        items: u64,
        h: u32,
        ended: bool,
        /// The previous occupied internal entry: (position, size, full).
        prev: Option<(u64, u64, bool)>,
        /// The internal entry whose child is being walked: (position, size).
        wait: Option<(u64, u64)>,
        item_nest: u32,
    },
}

/// Either a result known at once, or a frame to run first.
enum Visit {
    Done(Agg),
    Push(Frame),
}

enum Step {
    Push(Frame),
    Return(Agg),
}

struct Verifier<'a> {
    src: Src<'a>,
    /// Every record must end at or below this.
    end: u64,
    /// Records reached from moments or a root map start at or above this.
    data_start: u64,
    hash_len: u64,
    /// Number of trie levels (2H).
    max_depth: u32,
    nodes: HashMap<u64, Node>,
    /// Trie positions: (parent position, slot) → id; a root is 0.
    tids: HashMap<(u64, u8), u64>,
    next_tid: u64,
    /// The nibble path of each map being walked (innermost last), as the
    /// end of a hash read backwards: byte `j` holds the nibbles of depths
    /// `2j` (low) and `2j + 1` (high). It grows with the depth reached.
    paths: Vec<Vec<u8>>,
    warnings: Vec<Problem>,
    warning_count: u64,
    stats: Stats,
}

impl<'a> Verifier<'a> {
    fn new(src: Src<'a>) -> Self {
        let len = src.len();
        Verifier {
            src,
            end: len,
            data_start: len,
            hash_len: 0,
            max_depth: 0,
            nodes: HashMap::new(),
            tids: HashMap::new(),
            next_tid: 1,
            paths: Vec::new(),
            warnings: Vec::new(),
            warning_count: 0,
            stats: Stats::default(),
        }
    }

    fn check_all(&mut self, writable: bool, moments: &mut u64) -> R<()> {
        let len = self.src.len();
        if len < HEADER_LEN {
            return fail(
                0,
                ProblemKind::Header,
                format!("{len} bytes is shorter than the header"),
            );
        }
        let header = Header::decode(self.src.array(0)?).or_else(|e| {
            let pos = match e {
                Error::BadMagic { .. } => 0,
                Error::UnsupportedVersion { .. } => 4,
                Error::InvalidHashSize(_) => 6,
                _ => 3,
            };
            fail(pos, ProblemKind::Header, e.to_string())
        })?;
        self.hash_len = u64::from(header.hash_size);
        self.max_depth = 2 * u32::from(header.hash_size);
        match header.tag {
            Tag::None => {
                self.end = HEADER_LEN;
                if writable && len > HEADER_LEN {
                    return fail(
                        HEADER_LEN,
                        ProblemKind::FileSize,
                        format!(
                            "{} bytes follow the header of an empty database",
                            len - HEADER_LEN
                        ),
                    );
                }
                Ok(())
            }
            Tag::ArrayList => self.check_history(writable, moments),
            tag => {
                self.data_start = DATABASE_START + head_len(tag);
                let root = Slot::new(tag, DATABASE_START);
                let first = self.map(DATABASE_START, root, 0, DATABASE_START)?;
                self.run(first).map(|_| ())
            }
        }
    }

    fn check_history(&mut self, writable: bool, moments: &mut u64) -> R<()> {
        let len = self.src.len();
        if len < DATABASE_START + TOP_HEADER_LEN {
            return fail(
                DATABASE_START,
                ProblemKind::HistoryHeader,
                format!("{len} bytes cannot hold the history header"),
            );
        }
        let top = TopHeader::decode(self.src.array(DATABASE_START)?);
        *moments = top.size;
        let fs_pos = DATABASE_START + 16;
        let fresh = HISTORY_BLOCK + BLOCK_LEN;
        let wrong = if top.file_size > len {
            Some(format!(
                "file_size {} is past the end of the storage ({len} bytes)",
                top.file_size
            ))
        } else if top.file_size == 0 && top.size > 0 {
            Some(format!("{} moments but no committed file size", top.size))
        } else if writable && top.file_size != 0 && top.file_size != len {
            Some(format!(
                "file_size {} differs from the length {len} of writable storage",
                top.file_size
            ))
        } else if writable && top.file_size == 0 && top.ptr == HISTORY_BLOCK && len != fresh {
            Some(format!(
                "a history never committed to is {fresh} bytes, not {len}"
            ))
        } else {
            None
        };
        if let Some(what) = wrong {
            return fail(fs_pos, ProblemKind::FileSize, what);
        }
        self.end = if top.file_size == 0 {
            len
        } else {
            top.file_size
        };
        self.data_start = fresh;
        if top.size > self.end / SLOT_LEN {
            return fail(
                DATABASE_START,
                ProblemKind::HistoryHeader,
                format!(
                    "{} moments cannot fit in {} committed bytes",
                    top.size, self.end
                ),
            );
        }
        self.check_ptr(DATABASE_START + 8, top.ptr, BLOCK_LEN, HISTORY_BLOCK)?;
        if top.size == 0 {
            return Ok(());
        }
        let level = list_shift(top.size);
        let first =
            self.visit_list_block(DATABASE_START + 8, top.ptr, level, 0, top.size, 0, true)?;
        self.run(first).map(|_| ())
    }

    /// Runs the walk from `first` until its record is finished.
    fn run(&mut self, first: Visit) -> R<Agg> {
        let mut frames = match first {
            Visit::Done(a) => return Ok(a),
            Visit::Push(f) => vec![f],
        };
        let mut ret = None;
        while let Some(top) = frames.last_mut() {
            match self.step(top, ret.take())? {
                Step::Push(f) => frames.push(f),
                Step::Return(a) => {
                    frames.pop();
                    ret = Some(a);
                }
            }
        }
        Ok(ret.unwrap_or_default())
    }

    // ------------------------------------------------------------ helpers

    fn warn(&mut self, pos: u64, kind: ProblemKind, what: String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Problem { pos, kind, what });
        }
    }

    /// Reads and decodes the slot at `pos`.
    fn slot(&self, pos: u64) -> R<Slot> {
        decode(self.src.array(pos)?, pos)
    }

    /// The pointer rule: the `len`-byte record at `ptr`, referred to from
    /// `from`, lies within `lo .. end`.
    fn check_ptr(&self, from: u64, ptr: u64, len: u64, lo: u64) -> R<()> {
        let lo = lo.max(DATABASE_START);
        if ptr < lo {
            return fail(
                from,
                ProblemKind::PointerBelowStart,
                format!("pointer {ptr} is below {lo}, the start of the data it may point at"),
            );
        }
        match ptr.checked_add(len) {
            Some(e) if e <= self.end => Ok(()),
            _ => fail(
                from,
                ProblemKind::OutOfBounds,
                format!(
                    "the {len}-byte record at {ptr} reaches past the committed length {}",
                    self.end
                ),
            ),
        }
    }

    /// What is known about the block at `pos`; a cycle if it is being
    /// walked (it is then an ancestor of the pointer at `from`).
    fn known(&self, from: u64, pos: u64) -> R<Option<Node>> {
        match self.nodes.get(&pos) {
            Some(n) if n.busy() => fail(
                from,
                ProblemKind::Cycle,
                format!("the block at {pos} contains itself"),
            ),
            n => Ok(n.copied()),
        }
    }

    fn conflict<T>(&self, from: u64, pos: u64, found: &Node, wanted: &str) -> R<T> {
        fail(
            from,
            ProblemKind::KindConflict,
            format!(
                "the block at {pos} is reached as {wanted} but was checked as {}",
                found.describe()
            ),
        )
    }

    /// A structure at depth `nest` whose values reach `height` levels below.
    fn check_nesting(&self, pos: u64, nest: u32, height: u32) -> R<()> {
        if nest.saturating_add(height) > MAX_NESTING {
            return fail(
                pos,
                ProblemKind::TooDeep,
                format!(
                    "values nest {} structures deep (at most {MAX_NESTING})",
                    nest.saturating_add(height)
                ),
            );
        }
        Ok(())
    }

    fn new_block(&mut self, pos: u64, node: Node, len: u64) {
        self.nodes.insert(pos, node);
        self.stats.block_bytes = self.stats.block_bytes.saturating_add(len);
    }

    fn set_list_height(&mut self, pos: u64, j: u8, h: u32) {
        if let Some(Node::List { h: hs, .. }) = self.nodes.get_mut(&pos) {
            if let Some(x) = hs.get_mut(j as usize) {
                *x = u16::try_from(h).unwrap_or(u16::MAX);
            }
        }
    }

    // ------------------------------------------------------------- values

    /// A value slot at `from`, at depth `nest`.
    fn enter(&mut self, from: u64, slot: Slot, nest: u32) -> R<Visit> {
        self.stats.values += 1;
        self.check_nesting(from, nest, 0)?;
        match slot.tag {
            Tag::None | Tag::Uint | Tag::Int | Tag::Float => Ok(Visit::Done(Agg::default())),
            Tag::ShortBytes => {
                let v = slot.value.to_be_bytes();
                let room = if slot.full { 6 } else { 8 };
                let payload = v.get(..room).unwrap_or(&[]);
                let n = payload.iter().position(|&b| b == 0).unwrap_or(room);
                if payload.iter().skip(n).any(|&b| b != 0) {
                    return fail(
                        from,
                        ProblemKind::ShortBytes,
                        "short bytes are not zero-filled after their payload".into(),
                    );
                }
                Ok(Visit::Done(Agg::default()))
            }
            Tag::Bytes => {
                self.stats.byte_strings += 1;
                let p = slot.value;
                self.check_ptr(from, p, 8, self.data_start)?;
                let n = self.src.u64_at(p)?;
                let tail = if slot.full { 2 } else { 0 };
                match (p + 8).checked_add(n).and_then(|e| e.checked_add(tail)) {
                    Some(e) if e <= self.end => Ok(Visit::Done(Agg::default())),
                    _ => fail(
                        p,
                        ProblemKind::BytesLength,
                        format!(
                            "a byte string of {n} bytes{} reaches past the committed length {}",
                            if slot.full { " and a format tag" } else { "" },
                            self.end
                        ),
                    ),
                }
            }
            Tag::Index | Tag::KvPair => fail(
                from,
                ProblemKind::UnexpectedTag,
                format!("a {} slot where a value is expected", slot.tag),
            ),
            Tag::HashMap | Tag::HashSet | Tag::CountedHashMap | Tag::CountedHashSet => {
                self.map(from, slot, nest, self.data_start)
            }
            Tag::ArrayList => self.list(from, slot.value, nest),
            Tag::LinkedArrayList => self.linked(from, slot.value, nest),
            Tag::SortedMap | Tag::SortedSet => fail(
                from,
                ProblemKind::UnexpectedTag,
                "sorted collections are not verified yet".into(),
            ),
        }
    }

    /// A map or set referred to by `slot` at `from`.
    fn map(&mut self, from: u64, slot: Slot, nest: u32, lo: u64) -> R<Visit> {
        self.check_ptr(from, slot.value, head_len(slot.tag), lo)?;
        if head_len(slot.tag) > BLOCK_LEN {
            self.stats.headers += 1;
        }
        Ok(Visit::Push(Frame::Map {
            from,
            pos: slot.value,
            tag: slot.tag,
            nest,
            started: false,
        }))
    }

    /// An ArrayList whose header at `p` is referred to from `from`.
    fn list(&mut self, from: u64, p: u64, nest: u32) -> R<Visit> {
        self.check_ptr(from, p, LIST_HEADER_LEN, self.data_start)?;
        self.stats.headers += 1;
        let size = self.src.u64_at(p)?;
        let root = self.src.u64_at(p + 8)?;
        if size > self.end / SLOT_LEN {
            return fail(
                p,
                ProblemKind::ListSize,
                format!("{size} items cannot fit in {} committed bytes", self.end),
            );
        }
        self.check_ptr(p + 8, root, BLOCK_LEN, self.data_start)?;
        Ok(Visit::Push(Frame::List {
            from,
            pos: p,
            size,
            root,
            nest,
            started: false,
        }))
    }

    /// A LinkedArrayList whose header at `p` is referred to from `from`.
    fn linked(&mut self, from: u64, p: u64, nest: u32) -> R<Visit> {
        self.check_ptr(from, p, LINKED_HEADER_LEN, self.data_start)?;
        self.stats.headers += 1;
        let b: [u8; 17] = self.src.array(p)?;
        let size = u64::from_be_bytes(word(&b, 0));
        let root = u64::from_be_bytes(word(&b, 8));
        let shift = b.get(16).copied().unwrap_or(0) & 0x3F;
        if shift > MAX_LINKED_SHIFT {
            return fail(
                p + 16,
                ProblemKind::TooDeep,
                format!("linked list shift {shift} is above {MAX_LINKED_SHIFT}"),
            );
        }
        self.check_ptr(p + 8, root, LINKED_BLOCK_LEN, self.data_start)?;
        Ok(Visit::Push(Frame::Linked {
            from,
            pos: p,
            size,
            root,
            shift,
            nest,
            started: false,
        }))
    }

    // ------------------------------------------------------------- blocks

    /// A map block at `pos`, trie position `tid`, `depth` levels down.
    fn visit_map_block(
        &mut self,
        from: u64,
        pos: u64,
        set: bool,
        depth: u32,
        tid: u64,
        nest: u32,
    ) -> R<Visit> {
        match self.known(from, pos)? {
            None => {
                let done = None;
                self.new_block(pos, Node::Map { set, tid, done }, BLOCK_LEN);
                self.stats.map_blocks += 1;
                if depth == 0 {
                    self.paths.push(Vec::new());
                }
                Ok(Visit::Push(Frame::MapBlock {
                    pos,
                    set,
                    depth,
                    tid,
                    next: 0,
                    kvs: 0,
                    h: 0,
                    nest,
                }))
            }
            Some(Node::Map {
                set: s,
                tid: t,
                done: Some(a),
            }) if s == set => {
                if t != tid {
                    return fail(
                        from,
                        ProblemKind::KindConflict,
                        format!(
                            "the {} block at {pos} is reached at two different trie positions",
                            if set { "set" } else { "map" }
                        ),
                    );
                }
                Ok(Visit::Done(a))
            }
            Some(n) => {
                let wanted = if set { "a set block" } else { "a map block" };
                self.conflict(from, pos, &n, wanted)
            }
        }
    }

    /// An ArrayList block at `level` holding items `first ..`, of which the
    /// first `limit` are live.
    #[allow(clippy::too_many_arguments)]
    fn visit_list_block(
        &mut self,
        from: u64,
        pos: u64,
        level: u8,
        first: u64,
        limit: u64,
        item_nest: u32,
        history: bool,
    ) -> R<Visit> {
        let cap = capacity(level);
        let end = u8::try_from(limit.div_ceil(cap).min(BLOCK_SLOTS as u64)).unwrap_or(16);
        let next = match self.known(from, pos)? {
            None => {
                // Every slot of the block must carry a valid tag, the stale
                // ones past the list's size included.
                for i in 0..BLOCK_SLOTS as u64 {
                    let [t]: [u8; 1] = self.src.array(pos + SLOT_LEN * i)?;
                    if Tag::from_u8(t & 0x7F).is_none() {
                        return fail(
                            pos + SLOT_LEN * i,
                            ProblemKind::InvalidTag,
                            format!("invalid tag {} in a list block", t & 0x7F),
                        );
                    }
                }
                let node = Node::List {
                    level,
                    history,
                    busy: true,
                    first,
                    checked: 0,
                    h: [0; BLOCK_SLOTS],
                };
                self.new_block(pos, node, BLOCK_LEN);
                self.stats.list_blocks += 1;
                0
            }
            Some(Node::List {
                level: l,
                history: hi,
                first: f,
                checked,
                ..
            }) if l == level && hi == history => {
                if f != first {
                    return fail(
                        from,
                        ProblemKind::KindConflict,
                        format!(
                            "the list block at {pos} is reached for items from {first} and from {f}"
                        ),
                    );
                }
                if checked >= limit {
                    let h = self.list_height(pos, level, limit);
                    return Ok(Visit::Done(Agg::height(h)));
                }
                // Items up to `limit` are live here: check the ones not yet
                // checked (a longer list shares this block with a shorter one).
                if let Some(Node::List { busy, .. }) = self.nodes.get_mut(&pos) {
                    *busy = true;
                }
                u8::try_from(checked / cap).unwrap_or(16)
            }
            Some(n) => {
                let wanted = format!("{} block at level {level}", list_kind(history));
                return self.conflict(from, pos, &n, &wanted);
            }
        };
        Ok(Visit::Push(Frame::ListBlock {
            pos,
            level,
            first,
            limit,
            next,
            end,
            item_nest,
            history,
        }))
    }

    /// The nesting height of the first `limit` items under an ArrayList
    /// block whose first `limit` items are checked.
    fn list_height(&self, mut pos: u64, mut level: u8, mut limit: u64) -> u32 {
        let mut res = 0u16;
        loop {
            let Some(Node::List { checked, h, .. }) = self.nodes.get(&pos) else {
                return res.into();
            };
            let cap = capacity(level);
            let full = (limit / cap).min(BLOCK_SLOTS as u64) as usize;
            let rest = limit % cap;
            res = h.iter().take(full).fold(res, |a, &b| a.max(b));
            if rest == 0 {
                return res.into();
            }
            // The partly used child: exact if it was checked for exactly
            // `rest` items, else ask the child itself.
            let covered = checked.saturating_sub(full as u64 * cap).min(cap);
            if covered == rest || level == 0 {
                return res.max(h.get(full).copied().unwrap_or(0)).into();
            }
            let Ok(b) = self.src.array::<9>(pos + SLOT_LEN * full as u64) else {
                return res.into();
            };
            pos = u64::from_be_bytes(word(&b, 1));
            level -= 1;
            limit = rest;
        }
    }

    fn visit_linked_block(&mut self, from: u64, pos: u64, shift: u8, item_nest: u32) -> R<Visit> {
        match self.known(from, pos)? {
            None => {
                let node = Node::Linked { shift, done: None };
                self.new_block(pos, node, LINKED_BLOCK_LEN);
                self.stats.linked_blocks += 1;
                Ok(Visit::Push(Frame::LinkedBlock {
                    pos,
                    shift,
                    next: 0,
                    items: 0,
                    h: 0,
                    ended: false,
                    prev: None,
                    wait: None,
                    item_nest,
                }))
            }
            Some(Node::Linked {
                shift: s,
                done: Some(a),
            }) if s == shift => Ok(Visit::Done(a)),
            Some(n) => {
                let wanted = format!("a linked_array_list block at shift {shift}");
                self.conflict(from, pos, &n, &wanted)
            }
        }
    }

    /// A key/value record in slot `i` of a map block `depth` levels down.
    fn visit_kv(
        &mut self,
        from: u64,
        kv: u64,
        set: bool,
        depth: u32,
        i: u8,
        nest: u32,
    ) -> R<Visit> {
        self.check_hash_path(from, kv, depth, i)?;
        self.stats.kv_records += 1;
        Ok(Visit::Push(Frame::Kv {
            pos: kv,
            set,
            stage: 0,
            h: 0,
            nest,
        }))
    }

    /// Records nibble `i` at `depth` in the innermost map's path.
    fn set_nibble(&mut self, depth: u32, i: u8) {
        let j = depth as usize / 2;
        let Some(path) = self.paths.last_mut() else {
            return;
        };
        if path.len() <= j {
            path.resize(j + 1, 0);
        }
        if let Some(b) = path.get_mut(j) {
            *b = if depth.is_multiple_of(2) {
                (*b & 0xF0) | (i & 0xF)
            } else {
                (*b & 0x0F) | (i << 4)
            };
        }
    }

    /// Checks that the hash of the record at `kv` has the nibbles of the
    /// current path at depths `0 .. depth`, and `i` at `depth`.
    fn check_hash_path(&mut self, from: u64, kv: u64, depth: u32, i: u8) -> R<()> {
        self.set_nibble(depth, i);
        let nibbles = u64::from(depth) + 1;
        let (whole, part) = (nibbles / 2, nibbles % 2);
        // The last `whole + part` bytes of the hash hold those nibbles
        // (depth < 2H, so they exist); with an odd count, only the low
        // nibble of the first of them.
        let len = (whole + part).min(self.hash_len);
        let stored = self.src.bytes(kv + self.hash_len - len, len)?;
        let path = self
            .paths
            .last()
            .and_then(|p| p.get(..len as usize))
            .unwrap_or(&[]);
        let low = |b: Option<&u8>| b.map(|x| x & 0xF);
        let ok = path.len() as u64 == len
            && stored
                .iter()
                .rev()
                .zip(path)
                .take(whole as usize)
                .all(|(a, b)| a == b)
            && (part == 0 || low(stored.first()) == low(path.last()));
        if ok {
            return Ok(());
        }
        fail(
            from,
            ProblemKind::Misplaced,
            format!("the hash of the record at {kv} does not lead to slot {i} at depth {depth}"),
        )
    }

    fn intern(&mut self, parent: u64, i: u8) -> u64 {
        let next = &mut self.next_tid;
        *self.tids.entry((parent, i)).or_insert_with(|| {
            let t = *next;
            *next += 1;
            t
        })
    }

    // -------------------------------------------------------------- frames

    fn step(&mut self, frame: &mut Frame, ret: Option<Agg>) -> R<Step> {
        match frame {
            Frame::Map {
                from,
                pos,
                tag,
                nest,
                started,
            } => {
                let (from, pos, tag, nest) = (*from, *pos, *tag, *nest);
                let counted = head_len(tag) > BLOCK_LEN;
                let set = matches!(tag, Tag::HashSet | Tag::CountedHashSet);
                let a = match ret {
                    Some(a) => a,
                    None if !*started => {
                        *started = true;
                        let block = if counted { pos + COUNT_LEN } else { pos };
                        match self.visit_map_block(from, block, set, 0, 0, nest)? {
                            Visit::Done(a) => a,
                            Visit::Push(f) => return Ok(Step::Push(f)),
                        }
                    }
                    None => Agg::default(),
                };
                if counted {
                    let count = self.src.u64_at(pos)?;
                    if count != a.n {
                        return fail(
                            pos,
                            ProblemKind::Count,
                            format!("the {tag} stores count {count} but holds {} records", a.n),
                        );
                    }
                }
                let height = if a.n > 0 { a.h + 1 } else { 0 };
                self.check_nesting(pos, nest, height)?;
                Ok(Step::Return(Agg::height(height)))
            }
            Frame::List {
                from,
                pos,
                size,
                root,
                nest,
                started,
            } => {
                let (from, pos, size, root, nest) = (*from, *pos, *size, *root, *nest);
                let a = match ret {
                    Some(a) => a,
                    None if !*started && size > 0 => {
                        *started = true;
                        let level = list_shift(size);
                        match self.visit_list_block(from, root, level, 0, size, nest + 1, false)? {
                            Visit::Done(a) => a,
                            Visit::Push(f) => return Ok(Step::Push(f)),
                        }
                    }
                    None => Agg::default(),
                };
                let height = if size > 0 { a.h + 1 } else { 0 };
                self.check_nesting(pos, nest, height)?;
                Ok(Step::Return(Agg::height(height)))
            }
            Frame::Linked {
                from,
                pos,
                size,
                root,
                shift,
                nest,
                started,
            } => {
                let (from, pos, size, root, shift, nest) =
                    (*from, *pos, *size, *root, *shift, *nest);
                let a = match ret {
                    Some(a) => a,
                    None if !*started => {
                        *started = true;
                        match self.visit_linked_block(from, root, shift, nest + 1)? {
                            Visit::Done(a) => a,
                            Visit::Push(f) => return Ok(Step::Push(f)),
                        }
                    }
                    None => Agg::default(),
                };
                if a.n != size {
                    return fail(
                        pos,
                        ProblemKind::LinkedSize,
                        format!("the header says {size} items but the tree holds {}", a.n),
                    );
                }
                let height = if size > 0 { a.h + 1 } else { 0 };
                self.check_nesting(pos, nest, height)?;
                Ok(Step::Return(Agg::height(height)))
            }
            Frame::MapBlock {
                pos,
                set,
                depth,
                tid,
                next,
                kvs,
                h,
                nest,
            } => {
                if let Some(a) = ret {
                    *kvs = kvs.saturating_add(a.n);
                    *h = (*h).max(a.h);
                }
                let (pos, set, depth, tid, nest) = (*pos, *set, *depth, *tid, *nest);
                while (*next as usize) < BLOCK_SLOTS {
                    let i = *next;
                    *next += 1;
                    let spos = pos + SLOT_LEN * u64::from(i);
                    let slot = self.slot(spos)?;
                    let visit = match slot.tag {
                        Tag::None => continue,
                        Tag::Index => {
                            if depth + 1 >= self.max_depth {
                                return fail(
                                    spos,
                                    ProblemKind::TooDeep,
                                    format!(
                                        "an index block below depth {depth}: {}-byte hashes give {} levels",
                                        self.hash_len, self.max_depth
                                    ),
                                );
                            }
                            self.check_ptr(spos, slot.value, BLOCK_LEN, self.data_start)?;
                            self.set_nibble(depth, i);
                            let child = self.intern(tid, i);
                            self.visit_map_block(spos, slot.value, set, depth + 1, child, nest)?
                        }
                        Tag::KvPair => {
                            let len = self.hash_len + 2 * SLOT_LEN;
                            self.check_ptr(spos, slot.value, len, self.data_start)?;
                            self.visit_kv(spos, slot.value, set, depth, i, nest)?
                        }
                        t => {
                            return fail(
                                spos,
                                ProblemKind::UnexpectedTag,
                                format!("a {t} slot in a map block"),
                            )
                        }
                    };
                    match visit {
                        Visit::Done(a) => {
                            *kvs = kvs.saturating_add(a.n);
                            *h = (*h).max(a.h);
                        }
                        Visit::Push(f) => return Ok(Step::Push(f)),
                    }
                }
                let agg = Agg { n: *kvs, h: *h };
                if let Some(Node::Map { done, .. }) = self.nodes.get_mut(&pos) {
                    *done = Some(agg);
                }
                if depth == 0 {
                    self.paths.pop();
                }
                Ok(Step::Return(agg))
            }
            Frame::Kv {
                pos,
                set,
                stage,
                h,
                nest,
            } => {
                if let Some(a) = ret {
                    *h = (*h).max(a.h);
                }
                let (pos, set, nest) = (*pos, *set, *nest);
                while *stage < 2 {
                    let spos = pos + self.hash_len + SLOT_LEN * u64::from(*stage);
                    let is_value = *stage == 1;
                    *stage += 1;
                    let slot = self.slot(spos)?;
                    if is_value && set {
                        if !slot.is_empty() {
                            return fail(
                                spos,
                                ProblemKind::SetValue,
                                format!("a set member with a {} value", slot.tag),
                            );
                        }
                        continue;
                    }
                    match self.enter(spos, slot, nest + 1)? {
                        Visit::Done(a) => *h = (*h).max(a.h),
                        Visit::Push(f) => return Ok(Step::Push(f)),
                    }
                }
                Ok(Step::Return(Agg { n: 1, h: *h }))
            }
            Frame::ListBlock {
                pos,
                level,
                first,
                limit,
                next,
                end,
                item_nest,
                history,
            } => {
                let (pos, level, first, limit, end, item_nest, history) =
                    (*pos, *level, *first, *limit, *end, *item_nest, *history);
                if let Some(a) = ret {
                    self.set_list_height(pos, next.saturating_sub(1), a.h);
                }
                let cap = capacity(level);
                let lo = if history {
                    HISTORY_BLOCK
                } else {
                    self.data_start
                };
                while *next < end {
                    let j = *next;
                    *next += 1;
                    let spos = pos + SLOT_LEN * u64::from(j);
                    let slot = self.slot(spos)?;
                    let visit = if level == 0 {
                        if history && slot.is_empty() {
                            return fail(
                                spos,
                                ProblemKind::EmptyMoment,
                                format!("moment {} is an empty slot", first + u64::from(j)),
                            );
                        }
                        self.enter(spos, slot, item_nest)?
                    } else {
                        if slot.tag != Tag::Index {
                            return fail(
                                spos,
                                ProblemKind::UnexpectedTag,
                                format!("a {} slot where a list index block is expected", slot.tag),
                            );
                        }
                        self.check_ptr(spos, slot.value, BLOCK_LEN, lo)?;
                        let offset = u64::from(j) * cap;
                        let child_limit = limit.saturating_sub(offset).min(cap);
                        self.visit_list_block(
                            spos,
                            slot.value,
                            level - 1,
                            first + offset,
                            child_limit,
                            item_nest,
                            history,
                        )?
                    };
                    match visit {
                        Visit::Done(a) => self.set_list_height(pos, j, a.h),
                        Visit::Push(f) => return Ok(Step::Push(f)),
                    }
                }
                let mut height = 0;
                if let Some(Node::List {
                    busy, checked, h, ..
                }) = self.nodes.get_mut(&pos)
                {
                    *busy = false;
                    *checked = (*checked).max(limit);
                    height = h.iter().take(end as usize).copied().max().unwrap_or(0);
                }
                Ok(Step::Return(Agg::height(height.into())))
            }
            Frame::LinkedBlock {
                pos,
                shift,
                next,
                items,
                h,
                ended,
                prev,
                wait,
                item_nest,
            } => {
                let (pos, shift, item_nest) = (*pos, *shift, *item_nest);
                if let Some(a) = ret {
                    let n = match wait.take() {
                        Some((epos, size)) => {
                            check_entry_size(epos, size, a.n)?;
                            a.n
                        }
                        None => 1,
                    };
                    *items = add_items(pos, *items, n)?;
                    *h = (*h).max(a.h);
                }
                let cap = capacity(shift);
                while (*next as usize) < BLOCK_SLOTS {
                    let i = *next;
                    *next += 1;
                    let epos = pos + LINKED_SLOT_LEN * u64::from(i);
                    let raw: [u8; 17] = self.src.array(epos)?;
                    let mut head = [0u8; 9];
                    head.copy_from_slice(raw.get(..9).unwrap_or(&[0; 9]));
                    let slot = decode(head, epos)?;
                    let size = u64::from_be_bytes(word(&raw, 9));
                    if slot.is_empty() {
                        *ended = true;
                        continue;
                    }
                    if *ended {
                        return fail(
                            epos,
                            ProblemKind::LinkedShape,
                            "an occupied entry after an empty one".into(),
                        );
                    }
                    if shift == 0 {
                        match self.enter(epos, slot, item_nest)? {
                            Visit::Done(a) => {
                                *items = add_items(pos, *items, 1)?;
                                *h = (*h).max(a.h);
                            }
                            Visit::Push(f) => {
                                *wait = None;
                                return Ok(Step::Push(f));
                            }
                        }
                        continue;
                    }
                    if slot.tag != Tag::Index {
                        return fail(
                            epos,
                            ProblemKind::UnexpectedTag,
                            format!("a {} slot in an internal linked list block", slot.tag),
                        );
                    }
                    self.check_ptr(epos, slot.value, LINKED_BLOCK_LEN, self.data_start)?;
                    if let Some((ppos, psize, pfull)) = *prev {
                        if psize < cap && !pfull {
                            self.warn(
                                ppos,
                                ProblemKind::LostFullFlag,
                                format!(
                                    "a non-last child holds {psize} of {cap} items but is not flagged full"
                                ),
                            );
                        }
                    }
                    if size == 0 {
                        self.warn(
                            epos,
                            ProblemKind::EmptyChild,
                            "an internal entry with no items below it".into(),
                        );
                    }
                    *prev = Some((epos, size, slot.full));
                    match self.visit_linked_block(epos, slot.value, shift - 1, item_nest)? {
                        Visit::Done(a) => {
                            check_entry_size(epos, size, a.n)?;
                            *items = add_items(pos, *items, a.n)?;
                            *h = (*h).max(a.h);
                        }
                        Visit::Push(f) => {
                            *wait = Some((epos, size));
                            return Ok(Step::Push(f));
                        }
                    }
                }
                let agg = Agg { n: *items, h: *h };
                if let Some(Node::Linked { done, .. }) = self.nodes.get_mut(&pos) {
                    *done = Some(agg);
                }
                Ok(Step::Return(agg))
            }
        }
    }
}

/// Items one slot or entry of a block at `level` (or `shift`) covers: 16^level.
fn capacity(level: u8) -> u64 {
    1u64.checked_shl(4 * u32::from(level)).unwrap_or(u64::MAX)
}

/// Decodes a slot read at `pos`: a bad tag is `InvalidTag`, a pointer into
/// the header is `PointerBelowStart`, one no storage could hold `OutOfBounds`.
fn decode(b: [u8; 9], pos: u64) -> R<Slot> {
    match Slot::decode(b, pos) {
        Ok(s) => Ok(s),
        Err(Error::Corrupt { .. }) => {
            let value = u64::from_be_bytes(word(&b, 1));
            if value < crate::format::MIN_POINTER {
                fail(
                    pos,
                    ProblemKind::PointerBelowStart,
                    format!("pointer {value} points into the database header"),
                )
            } else {
                fail(
                    pos,
                    ProblemKind::OutOfBounds,
                    format!("pointer {value} is beyond any possible storage"),
                )
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Bytes a map slot points at: the count (counted kinds) and the root block.
fn head_len(tag: Tag) -> u64 {
    match tag {
        Tag::CountedHashMap | Tag::CountedHashSet => COUNT_LEN + BLOCK_LEN,
        _ => BLOCK_LEN,
    }
}

fn check_entry_size(epos: u64, size: u64, found: u64) -> R<()> {
    if size == found {
        return Ok(());
    }
    fail(
        epos,
        ProblemKind::LinkedSize,
        format!("the entry says {size} items but its subtree holds {found}"),
    )
}

fn add_items(pos: u64, a: u64, b: u64) -> R<u64> {
    match a.checked_add(b) {
        Some(n) => Ok(n),
        None => fail(
            pos,
            ProblemKind::LinkedSize,
            "a linked list block holds more than 2^64 - 1 items".into(),
        ),
    }
}

/// The big-endian word at `at` in `b` (zeros past the end).
fn word(b: &[u8], at: usize) -> [u8; 8] {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        w.copy_from_slice(s);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{HashKind, Hasher};
    use crate::Database;

    type R0 = Result<()>;

    /// Runs the walk over `db` and hands back the verifier, for inspection.
    fn walked(bytes: &[u8]) -> (Verifier<'_>, Option<Problem>) {
        let db_src = Src::bytes_only(bytes, Hasher::new(HashKind::Blake3));
        let mut v = Verifier::new(db_src);
        let mut moments = 0;
        let p = match v.check_all(false, &mut moments) {
            Ok(()) => None,
            Err(Stop::Problem(p)) => Some(p),
            Err(Stop::Io(e)) => panic!("{e}"),
        };
        (v, p)
    }

    #[test]
    fn the_hash_path_check_looks_at_every_nibble_up_to_the_depth() {
        // a 3-byte hash: nibbles from the least significant end are 6 5 4 3 2 1
        let hash = [0x12u8, 0x34, 0x56];
        let nibble = |d: u32| crate::format::hash_nibble(&hash, d as usize).unwrap() as u8;
        let mut bytes = hash.to_vec();
        bytes.extend_from_slice(&[0; 18]);
        let mut v = Verifier::new(Src::bytes_only(&bytes, Hasher::new(HashKind::Sha1)));
        v.hash_len = 3;
        v.max_depth = 6;
        v.paths.push(Vec::new());
        // deeper first, then shallower again: the path is longer than
        // the depth being checked
        for depth in (0..6u32).chain((0..6).rev()) {
            for d in 0..depth {
                v.set_nibble(d, nibble(d));
            }
            assert!(v.check_hash_path(0, 0, depth, nibble(depth)).is_ok());
            let wrong = (nibble(depth) + 1) & 0xF;
            assert!(v.check_hash_path(0, 0, depth, wrong).is_err(), "{depth}");
            for d in 0..depth {
                v.set_nibble(d, (nibble(d) + 1) & 0xF);
                assert!(
                    v.check_hash_path(0, 0, depth, nibble(depth)).is_err(),
                    "nibble {d} at depth {depth}"
                );
                v.set_nibble(d, nibble(d));
            }
        }
    }

    /// Item `k` of the test lists: a chain of `k % 5` single-item lists.
    fn height_of(k: u64) -> u32 {
        (k * 7 % 5) as u32
    }

    fn fill(l: &mut crate::ListMut<'_>, n: u64) -> R0 {
        for k in 0..n {
            let mut c = l.append_cursor()?;
            for _ in 0..height_of(k) {
                c = c.array_list()?.into_append_cursor()?;
            }
            c.write(k)?;
        }
        Ok(())
    }

    #[test]
    fn list_heights_are_exact_for_every_prefix_of_a_shared_list() {
        // the moment is [short, long]: `short` is `long` cut to 37 items, so
        // the walk meets the shared blocks for 37 items first, then for 300
        let mut db = Database::memory();
        db.transact(|tx| -> R0 {
            let mut r = tx.root().array_list()?;
            r.append(())?;
            fill(&mut r.append_cursor()?.array_list()?, 300)?;
            let long = r.get(1)?.map(|c| c.slot()).unwrap_or_default();
            tx.freeze();
            let mut r = tx.root().array_list()?;
            let mut short = r.cursor(0)?;
            short.write_slot(long)?;
            short.array_list()?.truncate(37)
        })
        .unwrap();
        let moment = db.moment(-1).unwrap().as_list().unwrap();
        let long = moment.get(1).unwrap().unwrap().slot().value;
        let bytes = db.into_bytes();
        let (v, problem) = walked(&bytes);
        assert!(problem.is_none(), "{problem:?}");
        let root = u64::from_be_bytes(word(&bytes, long as usize + 8));
        for limit in 1..=300u64 {
            let want = (0..limit).map(height_of).max().unwrap_or(0);
            assert_eq!(v.list_height(root, 2, limit), want, "{limit} items");
        }
        // the memo holds one entry per distinct block, nothing else
        let s = v.stats;
        assert_eq!(
            v.nodes.len() as u64,
            s.map_blocks + s.list_blocks + s.linked_blocks
        );
        assert!(s.block_bytes <= bytes.len() as u64);
    }

    #[test]
    fn trie_positions_are_interned_once_per_edge() {
        let mut db = Database::memory();
        for i in 0..50u64 {
            db.transact(|tx| {
                let mut m = tx.root_map()?;
                m.put(format!("key {i}"), i)?;
                m.put(format!("key {}", i / 2), i)
            })
            .unwrap();
        }
        let bytes = db.into_bytes();
        let (v, problem) = walked(&bytes);
        assert!(problem.is_none(), "{problem:?}");
        assert!(v.tids.len() as u64 <= v.stats.map_blocks);
        assert!(v.paths.is_empty(), "every map's path was popped");
    }

    #[test]
    fn only_storage_failures_are_errors() {
        let io = Error::Io(std::io::Error::other("disk"));
        assert!(matches!(Stop::from(io), Stop::Io(_)));
        let Stop::Problem(p) = Stop::from(Error::InvalidTag { tag: 99, pos: 7 }) else {
            panic!("a bad tag is a problem");
        };
        assert_eq!((p.kind, p.pos), (ProblemKind::InvalidTag, 7));
        let Stop::Problem(p) = decode(Slot::new(Tag::Index, u64::MAX).encode(), 40)
            .err()
            .unwrap()
        else {
            panic!("an absurd pointer is a problem");
        };
        assert_eq!((p.kind, p.pos), (ProblemKind::OutOfBounds, 40));
    }

    #[test]
    fn capacities() {
        assert_eq!(capacity(0), 1);
        assert_eq!(capacity(1), 16);
        assert_eq!(capacity(15), 1 << 60);
        assert_eq!(capacity(16), u64::MAX);
    }
}
