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
//! list's in index order; a nested structure's changes where the structure
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

use crate::api::cursor::Cursor;
use crate::api::database::Database;
use crate::api::value::PathStepBuf;
use crate::error::{Error, Result};
use crate::format::LinkedEntry as Entry;
use crate::format::MAX_NESTING;
use crate::format::{
    hash_nibble, list_shift, Slot, Tag, BLOCK_LEN, BLOCK_SLOTS, LINKED_BLOCK_LEN, LINKED_SLOT_LEN,
    MAX_LINKED_SHIFT, SLOT_LEN,
};
use crate::storage::Storage;
use crate::tree::access::Src;
use crate::tree::array_list::ArrayList;
use crate::tree::bytes;
use crate::tree::hamt::{Hamt, Kv};
use crate::tree::linked_list::LinkedList;
use std::borrow::Cow;

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

/// Bytes compared per read when comparing long byte values.
const CHUNK: usize = 4096;

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

// ------------------------------------------------------------------ internals

/// Which version a read is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

/// A value slot and where it lives.
#[derive(Debug, Clone, Copy)]
struct Val {
    slot: Slot,
    pos: Option<u64>,
}

/// One side of a map or ArrayList block pair.
#[derive(Clone, Copy)]
enum Node {
    /// Nothing on this side: the other side's entries are added or removed.
    Empty,
    /// An index block, read whole.
    Block {
        pos: u64,
        raw: [u8; BLOCK_LEN as usize],
    },
    /// A virtual map block holding one key/value slot at slot `at`: a
    /// record facing an index block on the other side.
    Single { slot: Slot, at: usize },
    /// A virtual ArrayList block `lift` levels above the real root `root`
    /// of the shorter list, whose slot 0 leads down to that root.
    Lifted { root: u64, lift: u8 },
}

impl Node {
    fn slot(&self, i: usize) -> Result<Slot> {
        match self {
            Node::Empty => Ok(Slot::EMPTY),
            Node::Block { pos, raw } => raw_slot(raw, *pos, i),
            Node::Single { slot, at } => Ok(if i == *at { *slot } else { Slot::EMPTY }),
            Node::Lifted { root, .. } => Ok(if i == 0 {
                Slot::new(Tag::Index, *root)
            } else {
                Slot::EMPTY
            }),
        }
    }

    /// Position of slot `i`, for the blocks that are in storage.
    fn slot_pos(&self, i: usize) -> Option<u64> {
        match self {
            Node::Block { pos, .. } => Some(pos + SLOT_LEN * i as u64),
            _ => None,
        }
    }

    fn pos(&self) -> u64 {
        match self {
            Node::Block { pos, .. } => *pos,
            Node::Lifted { root, .. } => *root,
            Node::Empty | Node::Single { .. } => 0,
        }
    }
}

/// Decodes slot `i` of a block read into memory.
fn raw_slot(raw: &[u8], pos: u64, i: usize) -> Result<Slot> {
    let off = i * SLOT_LEN as usize;
    let b: [u8; SLOT_LEN as usize] = raw
        .get(off..off + SLOT_LEN as usize)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::corrupt(pos, "slot outside its block"))?;
    Slot::decode(b, pos + off as u64)
}

/// Decodes entry `i` of a LinkedArrayList block read into memory.
fn raw_entry(raw: &[u8], pos: u64, i: usize) -> Result<Entry> {
    let off = i * LINKED_SLOT_LEN as usize;
    let slot = raw_slot(raw.get(off..).unwrap_or(&[]), pos + off as u64, 0)?;
    let size: [u8; 8] = raw
        .get(off + SLOT_LEN as usize..off + LINKED_SLOT_LEN as usize)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::corrupt(pos, "entry outside its block"))?;
    Ok(Entry {
        slot,
        size: u64::from_be_bytes(size),
    })
}

/// A pair of map or set blocks at the same trie position.
#[derive(Clone, Copy)]
struct MapFrame {
    plen: usize,
    nest: u32,
    set: bool,
    /// Trie depth of the two blocks (0 = the roots).
    depth: usize,
    a: Node,
    b: Node,
    next: u8,
}

/// A pair of ArrayList blocks covering the same indices.
#[derive(Clone, Copy)]
struct ListFrame {
    plen: usize,
    nest: u32,
    na: u64,
    nb: u64,
    /// Tree level of the blocks (0 = items).
    level: u8,
    /// Index of the first item under the blocks.
    first: u64,
    a: Node,
    b: Node,
    next: u8,
}

/// A LinkedArrayList block on a walk's stack.
struct LBlock {
    pos: u64,
    raw: [u8; LINKED_BLOCK_LEN as usize],
    next: u8,
    shift: u8,
}

/// One side of a LinkedArrayList walk: the blocks from the root down to
/// the entry holding the item at the walk's offset.
struct LWalk {
    size: u64,
    stack: Vec<LBlock>,
}

/// Two LinkedArrayLists walked in step.
struct LinkedFrame {
    plen: usize,
    nest: u32,
    /// Index of the next item on both sides.
    off: u64,
    a: LWalk,
    b: LWalk,
}

enum Frame {
    Map(MapFrame),
    List(ListFrame),
    Linked(Box<LinkedFrame>),
}

impl Frame {
    fn plen(&self) -> usize {
        match self {
            Frame::Map(f) => f.plen,
            Frame::List(f) => f.plen,
            Frame::Linked(f) => f.plen,
        }
    }
}

/// What comparing two values found.
enum Cmp {
    Same,
    Changed,
    Nested(Box<Frame>),
}

/// What one step of a frame found.
enum Step<'r> {
    /// A change to yield; the frame continues afterwards.
    Emit(Change<'r>),
    /// A frame to run before this one continues.
    Push(Frame),
    /// The frame is finished.
    Done,
}

/// The entry a LinkedArrayList walk stands on.
#[derive(Clone, Copy)]
struct Peek {
    entry: Entry,
    shift: u8,
    pos: u64,
}

impl<'r> Diff<'r> {
    fn src(&self, side: Side) -> Src<'r> {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }

    /// Counts one read against the work limit.
    fn tick(&mut self, pos: u64) -> Result<()> {
        self.reads += 1;
        self.left = self.left.checked_sub(1).ok_or(Error::corrupt(
            pos,
            "diff work limit reached without a change (cyclic or widely shared structures)",
        ))?;
        Ok(())
    }

    fn read<const N: usize>(&mut self, side: Side, pos: u64) -> Result<[u8; N]> {
        self.tick(pos)?;
        self.src(side).array(pos)
    }

    fn read_slot(&mut self, side: Side, pos: u64) -> Result<Slot> {
        Slot::decode(self.read(side, pos)?, pos)
    }

    fn read_block(&mut self, side: Side, pos: u64) -> Result<Node> {
        Ok(Node::Block {
            pos,
            raw: self.read(side, pos)?,
        })
    }

    fn hash_len(&self, side: Side) -> u64 {
        self.src(side).hasher.size() as u64
    }

    /// The hash stored at the start of a key/value record.
    fn hash(&mut self, side: Side, kv: u64) -> Result<Cow<'r, [u8]>> {
        self.tick(kv)?;
        self.src(side).bytes(kv, self.hash_len(side))
    }

    fn record(&self, side: Side, slot: Slot) -> Kv {
        Kv {
            pos: slot.value,
            hash_len: self.hash_len(side),
        }
    }

    fn cursor(&self, side: Side, v: Val) -> Result<Cursor<'r>> {
        if matches!(v.slot.tag, Tag::Index | Tag::KvPair) {
            return Err(Error::corrupt(
                v.pos.unwrap_or(0),
                "an internal node where a value belongs",
            ));
        }
        Ok(Cursor::new(self.src(side), v.slot, v.pos))
    }

    // ---------------------------------------------------------------- paths

    fn truncate_path(&mut self, len: usize) {
        while self.path.len() > len {
            if let Some(e) = self.path.pop() {
                self.path_bytes = self.path_bytes.saturating_sub(e.byte_len());
            }
        }
    }

    fn check_path_bytes(&self, extra: u64) -> Result<u64> {
        let total = self.path_bytes.saturating_add(extra);
        if total > self.a.len().max(self.b.len()) {
            return Err(Error::corrupt(
                0,
                "a change's path holds more key bytes than the storage",
            ));
        }
        Ok(total)
    }

    fn push_path(&mut self, elem: PathStepBuf) -> Result<()> {
        self.path_bytes = self.check_path_bytes(elem.byte_len())?;
        self.path.push(elem);
        Ok(())
    }

    fn path_with(&self, elem: PathStepBuf) -> Result<Vec<PathStepBuf>> {
        self.check_path_bytes(elem.byte_len())?;
        let mut p = Vec::with_capacity(self.path.len() + 1);
        p.extend(self.path.iter().cloned());
        p.push(elem);
        Ok(p)
    }

    fn change(
        &self,
        kind: ChangeKind,
        path: Vec<PathStepBuf>,
        old: Option<Val>,
        new: Option<Val>,
    ) -> Result<Change<'r>> {
        Ok(Change {
            path,
            kind,
            old: old.map(|v| self.cursor(Side::A, v)).transpose()?,
            new: new.map(|v| self.cursor(Side::B, v)).transpose()?,
        })
    }

    // ---------------------------------------------------------------- driver

    fn run(&mut self) -> Result<Option<Change<'r>>> {
        if let Some((a, b)) = self.start.take() {
            match self.compare(a, b, 0, 0)? {
                Cmp::Same => return Ok(None),
                Cmp::Changed => {
                    return self
                        .change(ChangeKind::Changed, Vec::new(), Some(a), Some(b))
                        .map(Some)
                }
                Cmp::Nested(f) => self.push_frame(*f)?,
            }
        }
        while let Some(mut frame) = self.stack.pop() {
            self.truncate_path(frame.plen());
            let step = match &mut frame {
                Frame::Map(f) => self.step_map(f)?,
                Frame::List(f) => self.step_list(f)?,
                Frame::Linked(f) => self.step_linked(f)?,
            };
            match step {
                Step::Done => {}
                Step::Emit(c) => {
                    self.stack.push(frame);
                    return Ok(Some(c));
                }
                Step::Push(child) => {
                    self.stack.push(frame);
                    self.push_frame(child)?;
                }
            }
        }
        Ok(None)
    }

    /// Pushes a frame, within the bound on the walk's depth.
    fn push_frame(&mut self, f: Frame) -> Result<()> {
        if self.stack.len() >= self.max_frames {
            return Err(Error::TooDeep {
                pos: match &f {
                    Frame::Map(m) => m.a.pos().max(m.b.pos()),
                    Frame::List(l) => l.a.pos().max(l.b.pos()),
                    Frame::Linked(_) => 0,
                },
            });
        }
        self.stack.push(f);
        Ok(())
    }

    /// What an item or entry present on both sides contributes: nothing, a
    /// change at `elem`, or a nested walk below `elem`.
    /// `elem` is only computed (a map key read) when there is something to report.
    fn pair(
        &mut self,
        a: Val,
        b: Val,
        nest: u32,
        elem: impl FnOnce(&mut Self) -> Result<PathStepBuf>,
    ) -> Result<Option<Step<'r>>> {
        Ok(match self.compare(a, b, nest, self.path.len() + 1)? {
            Cmp::Same => None,
            Cmp::Changed => {
                let elem = elem(self)?;
                let path = self.path_with(elem)?;
                Some(Step::Emit(self.change(
                    ChangeKind::Changed,
                    path,
                    Some(a),
                    Some(b),
                )?))
            }
            Cmp::Nested(f) => {
                let elem = elem(self)?;
                self.push_path(elem)?;
                Some(Step::Push(*f))
            }
        })
    }

    /// Compares two values at nesting depth `nest`; a nested walk gets path
    /// length `plen`.
    fn compare(&mut self, a: Val, b: Val, nest: u32, plen: usize) -> Result<Cmp> {
        if a.slot == b.slot {
            // the same scalar, or the same record: nothing to read
            return Ok(Cmp::Same);
        }
        for v in [a, b] {
            if matches!(v.slot.tag, Tag::Index | Tag::KvPair) {
                return Err(Error::corrupt(
                    v.pos.unwrap_or(0),
                    "an internal node where a value belongs",
                ));
            }
        }
        let (ta, tb) = (a.slot.tag, b.slot.tag);
        let is_bytes = |t| matches!(t, Tag::Bytes | Tag::ShortBytes);
        if is_bytes(ta) && is_bytes(tb) {
            return Ok(if self.bytes_equal(a.slot, b.slot)? {
                Cmp::Same
            } else {
                Cmp::Changed
            });
        }
        if ta != tb {
            return Ok(Cmp::Changed);
        }
        match ta {
            Tag::None => Ok(Cmp::Same),
            Tag::Uint | Tag::Int | Tag::Float => Ok(if a.slot.value == b.slot.value {
                Cmp::Same
            } else {
                Cmp::Changed
            }),
            _ => {
                if nest > MAX_NESTING {
                    return Err(Error::TooDeep {
                        pos: b.pos.unwrap_or(b.slot.value),
                    });
                }
                self.open(ta, a.slot, b.slot, nest, plen)
            }
        }
    }

    /// Sets up the walk of two structures of kind `tag`.
    fn open(&mut self, tag: Tag, a: Slot, b: Slot, nest: u32, plen: usize) -> Result<Cmp> {
        match tag {
            Tag::HashMap | Tag::HashSet | Tag::CountedHashMap | Tag::CountedHashSet => {
                let (ha, hb) = (Hamt::from_slot(a)?, Hamt::from_slot(b)?);
                if ha.block == hb.block {
                    return Ok(Cmp::Same);
                }
                Ok(Cmp::Nested(Box::new(Frame::Map(MapFrame {
                    plen,
                    nest,
                    set: matches!(tag, Tag::HashSet | Tag::CountedHashSet),
                    depth: 0,
                    a: self.read_block(Side::A, ha.block)?,
                    b: self.read_block(Side::B, hb.block)?,
                    next: 0,
                }))))
            }
            Tag::ArrayList => {
                self.tick(a.value)?;
                let la = ArrayList::from_slot(&self.a, a)?;
                self.tick(b.value)?;
                let lb = ArrayList::from_slot(&self.b, b)?;
                if la.size == lb.size && la.root == lb.root {
                    return Ok(Cmp::Same);
                }
                let (sa, sb) = (list_shift(la.size), list_shift(lb.size));
                let level = sa.max(sb);
                let side = |d: &mut Self, s: Side, list: ArrayList, shift: u8| -> Result<Node> {
                    if list.size == 0 {
                        Ok(Node::Empty)
                    } else if shift < level {
                        Ok(Node::Lifted {
                            root: list.root,
                            lift: level - shift,
                        })
                    } else {
                        d.read_block(s, list.root)
                    }
                };
                Ok(Cmp::Nested(Box::new(Frame::List(ListFrame {
                    plen,
                    nest,
                    na: la.size,
                    nb: lb.size,
                    level,
                    first: 0,
                    a: side(self, Side::A, la, sa)?,
                    b: side(self, Side::B, lb, sb)?,
                    next: 0,
                }))))
            }
            Tag::LinkedArrayList => {
                self.tick(a.value)?;
                let la = LinkedList::from_slot(&self.a, a)?;
                self.tick(b.value)?;
                let lb = LinkedList::from_slot(&self.b, b)?;
                if la.size == lb.size && la.root == lb.root && la.shift == lb.shift {
                    return Ok(Cmp::Same);
                }
                let walk = |d: &mut Self, s: Side, list: LinkedList| -> Result<LWalk> {
                    let mut stack = Vec::with_capacity(list.shift as usize + 1);
                    if list.size > 0 {
                        stack.push(LBlock {
                            pos: list.root,
                            raw: d.read(s, list.root)?,
                            next: 0,
                            shift: list.shift,
                        });
                    }
                    Ok(LWalk {
                        size: list.size,
                        stack,
                    })
                };
                Ok(Cmp::Nested(Box::new(Frame::Linked(Box::new(
                    LinkedFrame {
                        plen,
                        nest,
                        off: 0,
                        a: walk(self, Side::A, la)?,
                        b: walk(self, Side::B, lb)?,
                    },
                )))))
            }
            _ => Err(Error::corrupt(
                b.value,
                "an internal node where a value belongs",
            )),
        }
    }

    // ---------------------------------------------------------------- bytes

    /// Where a byte value's payload is, its length and its format tag.
    fn bytes_parts(&mut self, side: Side, slot: Slot) -> Result<(Payload, Option<[u8; 2]>)> {
        match slot.tag {
            Tag::ShortBytes => {
                let (v, len, tag) = bytes::short_parts(slot);
                Ok((Payload::Inline(v, len as u64), tag))
            }
            _ => {
                self.tick(slot.value)?;
                let src = self.src(side);
                let (start, len) = bytes::long_extent(&src, slot)?;
                let tag = if slot.full {
                    Some(src.array::<2>(start + len)?)
                } else {
                    None
                };
                Ok((Payload::Stored(start, len), tag))
            }
        }
    }

    fn chunk(&mut self, side: Side, p: &Payload, off: u64, buf: &mut [u8]) -> Result<()> {
        match p {
            Payload::Inline(v, _) => {
                let from = v
                    .get(off as usize..off as usize + buf.len())
                    .ok_or(Error::corrupt(0, "inline bytes out of range"))?;
                buf.copy_from_slice(from);
                Ok(())
            }
            Payload::Stored(start, _) => {
                self.tick(start + off)?;
                self.src(side).read_into(start + off, buf)
            }
        }
    }

    /// Byte values compare by content and format tag, not by encoding.
    fn bytes_equal(&mut self, a: Slot, b: Slot) -> Result<bool> {
        let (pa, ta) = self.bytes_parts(Side::A, a)?;
        let (pb, tb) = self.bytes_parts(Side::B, b)?;
        let len = pa.len();
        if ta != tb || len != pb.len() {
            return Ok(false);
        }
        let (mut ba, mut bb) = ([0u8; CHUNK], [0u8; CHUNK]);
        let mut off = 0;
        while off < len {
            let n = (len - off).min(CHUNK as u64) as usize;
            let (ca, cb) = (&mut ba[..n], &mut bb[..n]);
            self.chunk(Side::A, &pa, off, ca)?;
            self.chunk(Side::B, &pb, off, cb)?;
            if ca != cb {
                return Ok(false);
            }
            off += n as u64;
        }
        Ok(true)
    }

    // ---------------------------------------------------------------- maps

    /// The path element naming a record: its key bytes, else its hash.
    fn key_elem(&mut self, side: Side, kv: Kv) -> Result<PathStepBuf> {
        let key = self.read_slot(side, kv.key_pos())?;
        if matches!(key.tag, Tag::Bytes | Tag::ShortBytes) {
            if key.tag == Tag::Bytes {
                self.tick(key.value)?;
            }
            let (data, _) = bytes::decode(&self.src(side), key)?;
            self.check_path_bytes(data.len() as u64)?;
            return Ok(PathStepBuf::Key(data.into_owned()));
        }
        Ok(PathStepBuf::Hash(self.hash(side, kv.pos)?.into_owned()))
    }

    /// The value a record contributes: its value slot, or a set member's key slot.
    fn entry_val(&mut self, side: Side, kv: Kv, set: bool) -> Result<Val> {
        let pos = if set { kv.key_pos() } else { kv.value_pos() };
        Ok(Val {
            slot: self.read_slot(side, pos)?,
            pos: Some(pos),
        })
    }

    /// A record present on one side only.
    fn entry_change(&mut self, side: Side, slot: Slot, set: bool) -> Result<Change<'r>> {
        let kv = self.record(side, slot);
        let elem = self.key_elem(side, kv)?;
        let v = self.entry_val(side, kv, set)?;
        let path = self.path_with(elem)?;
        match side {
            Side::A => self.change(ChangeKind::Removed, path, Some(v), None),
            Side::B => self.change(ChangeKind::Added, path, None, Some(v)),
        }
    }

    /// One side's node one trie level below slot `slot` of a block at `depth`.
    fn map_child(&mut self, side: Side, slot: Slot, depth: usize) -> Result<Node> {
        match slot.tag {
            Tag::None => Ok(Node::Empty),
            Tag::Index => {
                if depth + 1 >= 2 * self.hash_len(side) as usize {
                    return Err(Error::TooDeep { pos: slot.value });
                }
                self.read_block(side, slot.value)
            }
            _ => {
                // a record facing an index block: a one-entry block one level down
                let hash = self.hash(side, slot.value)?;
                let at = hash_nibble(&hash, depth + 1).ok_or(Error::TooDeep { pos: slot.value })?;
                Ok(Node::Single { slot, at })
            }
        }
    }

    fn step_map(&mut self, f: &mut MapFrame) -> Result<Step<'r>> {
        while (f.next as usize) < BLOCK_SLOTS {
            let i = f.next as usize;
            f.next += 1;
            let (sa, sb) = (f.a.slot(i)?, f.b.slot(i)?);
            if sa == sb {
                continue;
            }
            match (sa.tag, sb.tag) {
                (Tag::None, Tag::None) => {}
                (Tag::KvPair, Tag::None) => {
                    return self.entry_change(Side::A, sa, f.set).map(Step::Emit)
                }
                (Tag::None, Tag::KvPair) => {
                    return self.entry_change(Side::B, sb, f.set).map(Step::Emit)
                }
                (Tag::KvPair, Tag::KvPair) => {
                    let (ka, kb) = (self.record(Side::A, sa), self.record(Side::B, sb));
                    if self.hash(Side::A, ka.pos)? != self.hash(Side::B, kb.pos)? {
                        let added = self.entry_change(Side::B, sb, f.set)?;
                        let removed = self.entry_change(Side::A, sa, f.set)?;
                        self.pending.push(added);
                        return Ok(Step::Emit(removed));
                    }
                    if f.set {
                        continue; // the same member
                    }
                    let va = self.entry_val(Side::A, ka, false)?;
                    let vb = self.entry_val(Side::B, kb, false)?;
                    // the new side's key, else the old side's, else the hash
                    let elem = |d: &mut Self| match d.key_elem(Side::B, kb)? {
                        PathStepBuf::Hash(h) => match d.key_elem(Side::A, ka)? {
                            k @ PathStepBuf::Key(_) => Ok(k),
                            _ => Ok(PathStepBuf::Hash(h)),
                        },
                        k => Ok(k),
                    };
                    if let Some(step) = self.pair(va, vb, f.nest + 1, elem)? {
                        return Ok(step);
                    }
                }
                (Tag::None | Tag::Index | Tag::KvPair, Tag::None | Tag::Index | Tag::KvPair) => {
                    let a = self.map_child(Side::A, sa, f.depth)?;
                    let b = self.map_child(Side::B, sb, f.depth)?;
                    return Ok(Step::Push(Frame::Map(MapFrame {
                        plen: f.plen,
                        nest: f.nest,
                        set: f.set,
                        depth: f.depth + 1,
                        a,
                        b,
                        next: 0,
                    })));
                }
                _ => {
                    let pos = if matches!(sa.tag, Tag::None | Tag::Index | Tag::KvPair) {
                        f.b.pos()
                    } else {
                        f.a.pos()
                    };
                    return Err(Error::corrupt(pos, "unexpected tag in a map block"));
                }
            }
        }
        Ok(Step::Done)
    }

    // ---------------------------------------------------------------- lists

    /// One side's node one level below slot `slot` (slot `i`) of `node`.
    fn list_child(&mut self, side: Side, node: &Node, slot: Slot, i: usize) -> Result<Node> {
        if let Node::Lifted { root, lift } = *node {
            if lift > 1 {
                return Ok(Node::Lifted {
                    root,
                    lift: lift - 1,
                });
            }
        }
        if slot.tag != Tag::Index {
            return Err(Error::corrupt(
                node.slot_pos(i).unwrap_or(node.pos()),
                "missing list index block",
            ));
        }
        self.read_block(side, slot.value)
    }

    fn step_list(&mut self, f: &mut ListFrame) -> Result<Step<'r>> {
        let span = 1u64
            .checked_shl(4 * u32::from(f.level))
            .ok_or(Error::TooDeep { pos: f.a.pos() })?;
        let common = f.na.min(f.nb);
        let max = f.na.max(f.nb);
        while (f.next as usize) < BLOCK_SLOTS {
            let i = f.next as usize;
            f.next += 1;
            let start = match (i as u64)
                .checked_mul(span)
                .and_then(|o| f.first.checked_add(o))
            {
                Some(s) if s < max => s,
                _ => break,
            };
            let (in_a, in_b) = (start < f.na, start < f.nb);
            let sa = if in_a { f.a.slot(i)? } else { Slot::EMPTY };
            let sb = if in_b { f.b.slot(i)? } else { Slot::EMPTY };
            if in_a && in_b && sa == sb && start.saturating_add(span) <= common {
                continue; // the same subtree, wholly inside both lists
            }
            if f.level == 0 {
                let elem = PathStepBuf::index(start);
                let va = Val {
                    slot: sa,
                    pos: f.a.slot_pos(i),
                };
                let vb = Val {
                    slot: sb,
                    pos: f.b.slot_pos(i),
                };
                if in_a && in_b {
                    if let Some(step) = self.pair(va, vb, f.nest + 1, |_| Ok(elem))? {
                        return Ok(step);
                    }
                } else {
                    let path = self.path_with(elem)?;
                    let c = if in_a {
                        self.change(ChangeKind::Removed, path, Some(va), None)?
                    } else {
                        self.change(ChangeKind::Added, path, None, Some(vb))?
                    };
                    return Ok(Step::Emit(c));
                }
            } else {
                let a = if in_a {
                    self.list_child(Side::A, &f.a, sa, i)?
                } else {
                    Node::Empty
                };
                let b = if in_b {
                    self.list_child(Side::B, &f.b, sb, i)?
                } else {
                    Node::Empty
                };
                return Ok(Step::Push(Frame::List(ListFrame {
                    level: f.level - 1,
                    first: start,
                    a,
                    b,
                    next: 0,
                    ..*f
                })));
            }
        }
        f.next = BLOCK_SLOTS as u8;
        Ok(Step::Done)
    }

    // ---------------------------------------------------------- linked lists

    /// The entry the walk stands on (skipping empty entries and finished
    /// blocks); `None` when the tree is exhausted.
    fn peek(w: &mut LWalk) -> Result<Option<Peek>> {
        loop {
            let Some(top) = w.stack.last_mut() else {
                return Ok(None);
            };
            let i = top.next as usize;
            if i >= BLOCK_SLOTS {
                w.stack.pop();
                continue;
            }
            let entry = raw_entry(&top.raw, top.pos, i)?;
            let pos = top.pos + LINKED_SLOT_LEN * i as u64;
            if entry.slot.is_empty() {
                top.next += 1;
                continue;
            }
            if top.shift > 0 && entry.slot.tag != Tag::Index {
                return Err(Error::corrupt(pos, "unexpected tag in a linked list block"));
            }
            return Ok(Some(Peek {
                entry,
                shift: top.shift,
                pos,
            }));
        }
    }

    /// The entry at the walk's offset, if the list has an item there.
    fn peek_alive(w: &mut LWalk, off: u64) -> Result<Option<Peek>> {
        if off >= w.size {
            return Ok(None);
        }
        match Self::peek(w)? {
            Some(p) => Ok(Some(p)),
            None => Err(Error::corrupt(
                0,
                "linked list holds fewer items than its size",
            )),
        }
    }

    /// Steps past the entry the walk stands on.
    fn advance(w: &mut LWalk) {
        if let Some(top) = w.stack.last_mut() {
            top.next = top.next.saturating_add(1);
        }
    }

    /// Enters the internal entry the walk stands on.
    fn descend(&mut self, side: Side, w: &mut LWalk, p: Peek) -> Result<()> {
        Self::advance(w);
        if w.stack.len() > MAX_LINKED_SHIFT as usize + 1 || p.shift == 0 {
            return Err(Error::TooDeep { pos: p.pos });
        }
        let pos = p.entry.slot.value;
        let raw = self.read(side, pos)?;
        w.stack.push(LBlock {
            pos,
            raw,
            next: 0,
            shift: p.shift - 1,
        });
        Ok(())
    }

    fn step_linked(&mut self, f: &mut LinkedFrame) -> Result<Step<'r>> {
        loop {
            let pa = Self::peek_alive(&mut f.a, f.off)?;
            let pb = Self::peek_alive(&mut f.b, f.off)?;
            let k = f.off;
            match (pa, pb) {
                (None, None) => return Ok(Step::Done),
                (Some(x), Some(y)) => {
                    // the same item, or the same subtree (its `full` flag
                    // aside: appends set it in place on a shared child)
                    let same = x.shift == y.shift
                        && if x.shift == 0 {
                            x.entry.slot == y.entry.slot
                        } else {
                            x.entry.slot.value == y.entry.slot.value && x.entry.size == y.entry.size
                        };
                    if same || (x.shift == 0 && y.shift == 0) {
                        let n = if x.shift == 0 { 1 } else { x.entry.size };
                        Self::advance(&mut f.a);
                        Self::advance(&mut f.b);
                        f.off = f
                            .off
                            .checked_add(n)
                            .ok_or(Error::corrupt(x.pos, "linked list counts overflow"))?;
                        if same {
                            continue; // the same subtree (or item) at the same offset
                        }
                        let va = Val {
                            slot: x.entry.slot,
                            pos: Some(x.pos),
                        };
                        let vb = Val {
                            slot: y.entry.slot,
                            pos: Some(y.pos),
                        };
                        if let Some(step) =
                            self.pair(va, vb, f.nest + 1, |_| Ok(PathStepBuf::index(k)))?
                        {
                            return Ok(step);
                        }
                        continue;
                    }
                    // descend the taller side (both when equally tall)
                    if x.shift >= y.shift && x.shift > 0 {
                        self.descend(Side::A, &mut f.a, x)?;
                    }
                    if y.shift >= x.shift && y.shift > 0 {
                        self.descend(Side::B, &mut f.b, y)?;
                    }
                }
                (Some(x), None) => {
                    if x.shift > 0 {
                        self.descend(Side::A, &mut f.a, x)?;
                        continue;
                    }
                    Self::advance(&mut f.a);
                    f.off += 1;
                    let v = Val {
                        slot: x.entry.slot,
                        pos: Some(x.pos),
                    };
                    let path = self.path_with(PathStepBuf::index(k))?;
                    return self
                        .change(ChangeKind::Removed, path, Some(v), None)
                        .map(Step::Emit);
                }
                (None, Some(y)) => {
                    if y.shift > 0 {
                        self.descend(Side::B, &mut f.b, y)?;
                        continue;
                    }
                    Self::advance(&mut f.b);
                    f.off += 1;
                    let v = Val {
                        slot: y.entry.slot,
                        pos: Some(y.pos),
                    };
                    let path = self.path_with(PathStepBuf::index(k))?;
                    return self
                        .change(ChangeKind::Added, path, None, Some(v))
                        .map(Step::Emit);
                }
            }
        }
    }
}

/// A byte value's payload: inline in its slot, or at a position in storage.
enum Payload {
    Inline([u8; 8], u64),
    Stored(u64, u64),
}

impl Payload {
    fn len(&self) -> u64 {
        match self {
            Payload::Inline(_, n) | Payload::Stored(_, n) => *n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::HashKind;
    use crate::Database;

    /// A SHA-1-sized hash ending in `tail` (the trie reads it from the end).
    fn hash(tail: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[20 - tail.len()..].copy_from_slice(tail);
        h
    }

    fn all(db: &Database, a: i64, b: i64) -> Vec<(Vec<PathStepBuf>, ChangeKind)> {
        db.diff(a, b)
            .unwrap()
            .map(|c| c.map(|c| (c.path, c.kind)))
            .collect::<Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_record_facing_an_index_block() {
        // x and y share their last three nibbles, so with both present they
        // sit three index blocks down; alone, x is a record in the root block
        let (x, y, z) = (
            hash(&[1, 0x11, 0x11]),
            hash(&[2, 0x11, 0x11]),
            hash(&[0x21]),
        );
        let mut db = Database::memory_with(HashKind::Sha1);
        db.transact(|tx| tx.root_map()?.put_by_hash(&x, 1u64))
            .unwrap();
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            m.put_by_hash(&y, 2u64)?;
            m.put_by_hash(&z, 3u64)
        })
        .unwrap();
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            m.remove_by_hash(&y)?;
            m.remove_by_hash(&z)?;
            m.put_by_hash(&x, 10u64)?;
            m.put_by_hash(&y, 20u64)?;
            m.remove_by_hash(&x).map(|_| ())
        })
        .unwrap();
        let (hx, hy, hz) = (
            PathStepBuf::Hash(x),
            PathStepBuf::Hash(y),
            PathStepBuf::Hash(z),
        );
        // record x against the block holding x and y, and z beside them
        let mut got = all(&db, 0, 1);
        got.sort();
        let mut want = vec![
            (vec![hy.clone()], ChangeKind::Added),
            (vec![hz.clone()], ChangeKind::Added),
        ];
        want.sort();
        assert_eq!(got, want);
        let mut back = all(&db, 1, 0);
        back.sort();
        assert_eq!(
            back,
            want.iter()
                .map(|(p, _)| (p.clone(), ChangeKind::Removed))
                .collect::<Vec<_>>()
        );
        // the block holding x and y against record y (x removed, y changed)
        let mut got = all(&db, 1, 2);
        got.sort();
        let mut want = vec![
            (vec![hx.clone()], ChangeKind::Removed),
            (vec![hy.clone()], ChangeKind::Changed),
            (vec![hz], ChangeKind::Removed),
        ];
        want.sort();
        assert_eq!(got, want);
        // record x against record y in the same root slot
        assert_eq!(
            all(&db, 0, 2),
            vec![
                (vec![hx], ChangeKind::Removed),
                (vec![hy], ChangeKind::Added)
            ]
        );
    }

    #[test]
    fn bytes_equal_across_encodings_and_chunks() {
        let mut db = Database::memory();
        let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            m.put("short", "abc")?;
            m.put("big", big.as_slice())?;
            m.put("tag", crate::Value::tagged(b"", *b"ab"))
        })
        .unwrap();
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            let mut w = m.entry("short")?.writer()?;
            std::io::Write::write_all(&mut w, b"abc")?;
            w.finish(None)?;
            m.put("big", big.as_slice())?;
            let w = m.entry("tag")?.writer()?;
            w.finish(Some(*b"ab"))
        })
        .unwrap();
        let d = db.diff(0, 1).unwrap();
        assert_eq!(d.count(), 0);
        let short = db.moment(1).unwrap().get_path(&["short".into()]).unwrap();
        assert_eq!(short.unwrap().tag(), Tag::Bytes, "stored out of line");
    }

    #[test]
    fn key_bytes_are_bounded_by_the_storage() {
        let mut db = Database::memory();
        db.transact(|tx| tx.root_map()?.put("k", 1u64)).unwrap();
        db.transact(|tx| tx.root_map()?.put("k", 2u64)).unwrap();
        let mut d = db.diff(0, 1).unwrap();
        d.path_bytes = db.len();
        assert!(matches!(d.next(), Some(Err(Error::Corrupt { .. }))));
        assert!(d.next().is_none(), "the stream ends after an error");
    }

    #[test]
    fn raw_decoding_stays_inside_the_block() {
        let raw = [0u8; BLOCK_LEN as usize];
        assert!(raw_slot(&raw, 100, 15).is_ok());
        assert!(raw_slot(&raw, 100, 16).is_err());
        let raw = [0u8; LINKED_BLOCK_LEN as usize];
        assert!(raw_entry(&raw, 100, 15).is_ok());
        assert!(raw_entry(&raw, 100, 16).is_err());
    }
}
