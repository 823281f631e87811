//! The traversal shared by every kind of structure: the verifier's state,
//! its explicit stack, the memo of blocks already checked, the roots (the
//! database header, the history header and its moments, or a root map),
//! and the dispatch of each record to the code of its kind.
//!
//! The walk never recurses on the thread's stack: a record whose children
//! must be checked first becomes a [`Frame`] on a stack of its own, and
//! [`Verifier::run`] steps the topmost frame until it returns what it
//! learnt ([`Agg`]) to the frame below. Each structure's file (`map`,
//! `list`, `linked_list`) holds its frames and how they step, and `bytes`
//! the checks of byte strings, which need no frame; this file knows only
//! how to push, step and pop frames.
//!
//! The memo ([`Node`], keyed by block position) is shared by all kinds on
//! purpose: a position reached as two kinds of block is a problem only a
//! table of every kind can see.
//!
//! The walk reads bytes through the format's codecs, never through the
//! structures' own code: it is a cross-check of that code, so it must not
//! share its mistakes.

use super::linked_list::{LinkedBlockFrame, LinkedFrame};
use super::list::{ListBlockFrame, ListFrame};
use super::map::{head_len, KvFrame, MapBlockFrame, MapFrame, Tries};
use super::sorted::{BranchFrame, LeafFrame, SortedFrame, Summary, TreeKind};
use super::stop::{fail, slot_in, R};
use super::{Problem, ProblemKind, Stats, MAX_WARNINGS};
use crate::error::Error;
use crate::format::{
    Header, ListFamily, Slot, Tag, TopHeader, BLOCK_LEN, BLOCK_SLOTS, DATABASE_START, HEADER_LEN,
    MAX_NESTING, SLOT_LEN, TOP_HEADER_LEN,
};
use crate::tree::access::Src;
use crate::tree::linked_list::family::family_of;
use std::collections::HashMap;

/// Where a history's first root block starts (right after its header).
pub(super) const HISTORY_BLOCK: u64 = DATABASE_START + TOP_HEADER_LEN;

/// What a finished block or value contributes to its parent: `n` counts
/// records (map blocks) or items (linked blocks); `h` is the nesting height
/// of the values below: 0 for a scalar or an empty structure, else one more
/// than the highest of its items.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Agg {
    /// Records or items below.
    pub n: u64,
    /// Nesting height of the values below.
    pub h: u32,
}

impl Agg {
    /// A result that counts nothing, with nesting height `h`.
    pub fn height(h: u32) -> Agg {
        Agg { n: 0, h }
    }
}

/// What the walk knows about a block, keyed by its position.
#[derive(Debug, Clone, Copy)]
pub(super) enum Node {
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
    /// A sorted map or set node, first reached in the walk of tree `tree`
    /// (one per sorted header met), with what its subtree holds once walked.
    Sorted {
        kind: TreeKind,
        tree: u64,
        done: Option<Summary>,
    },
}

impl Node {
    /// True while the block is being walked: a pointer to it then closes a
    /// cycle.
    fn busy(&self) -> bool {
        match self {
            Node::Map { done, .. } | Node::Linked { done, .. } => done.is_none(),
            Node::List { busy, .. } => *busy,
            Node::Sorted { done, .. } => done.is_none(),
        }
    }

    /// The block's kind, in words.
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
            Node::Sorted { kind, .. } => kind.node_name().to_string(),
        }
    }
}

/// The kind of list a list block belongs to, in words.
pub(super) fn list_kind(history: bool) -> &'static str {
    if history {
        "a history"
    } else {
        "an array_list"
    }
}

/// A record being checked, on the walk's own stack: one variant per kind,
/// each stepped by its kind's file.
#[derive(Debug)]
pub(super) enum Frame {
    /// A map or set, waiting for its root block.
    Map(MapFrame),
    /// A map or set index block.
    MapBlock(MapBlockFrame),
    /// A key/value record.
    Kv(KvFrame),
    /// An ArrayList, waiting for its root block.
    List(ListFrame),
    /// An ArrayList block (of a history too).
    ListBlock(ListBlockFrame),
    /// A LinkedArrayList, waiting for its root block.
    Linked(LinkedFrame),
    /// A LinkedArrayList block.
    LinkedBlock(LinkedBlockFrame),
    /// A sorted map or set, waiting for its root node.
    Sorted(SortedFrame),
    /// A sorted leaf.
    SortedLeaf(LeafFrame),
    /// A sorted branch.
    SortedBranch(BranchFrame),
}

/// Either a result known at once, or a frame to run first.
pub(super) enum Visit {
    /// Checked already (or nothing to walk).
    Done(Agg),
    /// To be walked.
    Push(Frame),
}

/// What a step of a frame asks of the walk.
pub(super) enum Step {
    /// Run this frame first, then step the current one again.
    Push(Frame),
    /// The frame is finished: pop it, hand this to the frame below.
    Return(Agg),
}

/// The walk's state.
pub(super) struct Verifier<'a> {
    /// The bytes being checked.
    pub src: Src<'a>,
    /// Every record must end at or below this.
    pub end: u64,
    /// Records reached from moments or a root map start at or above this.
    pub data_start: u64,
    /// The memo: every index block and linked block met, by position.
    pub nodes: HashMap<u64, Node>,
    /// The hash layout, trie positions and paths of the maps.
    pub tries: Tries,
    /// Warnings kept (at most [`MAX_WARNINGS`]).
    pub warnings: Vec<Problem>,
    /// Warnings found.
    pub warning_count: u64,
    /// What was checked.
    pub stats: Stats,
    /// Sorted headers met: each walk of a sorted tree has its own number.
    pub sorted_trees: u64,
    /// The order of every two out-of-line sorted keys compared, by their
    /// positions: the blocks that path copies share keys with compare the
    /// same long keys again, which would cost their length every time.
    pub key_order: HashMap<(u64, u64), std::cmp::Ordering>,
    /// The root the database reads, when it is not the header's root at
    /// offset 12: a root map read-only handle reading the new root of a
    /// commit whose root write is unfinished (FORMAT.md §8.8).
    pub root: Option<Slot>,
}

impl<'a> Verifier<'a> {
    /// A verifier of the bytes of `src`.
    pub fn new(src: Src<'a>) -> Self {
        let len = src.len();
        Verifier {
            src,
            end: len,
            data_start: len,
            nodes: HashMap::new(),
            tries: Tries::new(0),
            warnings: Vec::new(),
            warning_count: 0,
            stats: Stats::default(),
            sorted_trees: 0,
            key_order: HashMap::new(),
            root: None,
        }
    }

    /// Checks the whole database; `moments` receives the history's size.
    pub fn check_all(&mut self, writable: bool, moments: &mut u64) -> R<()> {
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
        self.tries = Tries::new(header.hash_size);
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
                let root = self
                    .root
                    .filter(|r| r.tag.is_hamt() && head_len(r.tag) == head_len(tag))
                    .unwrap_or(Slot::new(tag, DATABASE_START));
                self.data_start = DATABASE_START + head_len(tag);
                let first = self.map(DATABASE_START, root, 0, DATABASE_START)?;
                self.run(first).map(|_| ())
            }
        }
    }

    /// The history header, then every moment.
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
        if let Some(what) = file_size_problem(&top, len, writable) {
            return fail(DATABASE_START + 16, ProblemKind::FileSize, what);
        }
        self.end = if top.file_size == 0 {
            len
        } else {
            top.file_size
        };
        self.data_start = HISTORY_BLOCK + BLOCK_LEN;
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
        let first = self.history(top.ptr, top.size)?;
        self.run(first).map(|_| ())
    }

    /// Runs the walk from `first` until its record is finished.
    pub fn run(&mut self, first: Visit) -> R<Agg> {
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

    /// Hands the topmost frame to its kind; `ret` is what the frame it
    /// pushed last returned.
    fn step(&mut self, frame: &mut Frame, ret: Option<Agg>) -> R<Step> {
        match frame {
            Frame::Map(f) => self.step_map(f, ret),
            Frame::MapBlock(f) => self.step_map_block(f, ret),
            Frame::Kv(f) => self.step_kv(f, ret),
            Frame::List(f) => self.step_list(f, ret),
            Frame::ListBlock(f) => self.step_list_block(f, ret),
            Frame::Linked(f) => self.step_linked(f, ret),
            Frame::LinkedBlock(f) => self.step_linked_block(f, ret),
            Frame::Sorted(f) => self.step_sorted(f, ret),
            Frame::SortedLeaf(f) => self.step_sorted_leaf(f, ret),
            Frame::SortedBranch(f) => self.step_sorted_branch(f, ret),
        }
    }

    /// A value slot at `from`, at depth `nest`: scalars and byte strings
    /// are checked at once, structures are handed to their kind.
    pub fn enter(&mut self, from: u64, slot: Slot, nest: u32) -> R<Visit> {
        self.stats.values += 1;
        self.check_nesting(from, nest, 0)?;
        match slot.tag {
            Tag::None | Tag::Uint | Tag::Int | Tag::Float => {}
            Tag::ShortBytes => self.short_bytes(from, slot)?,
            Tag::Bytes => self.long_bytes(from, slot)?,
            Tag::Index | Tag::KvPair => {
                return fail(
                    from,
                    ProblemKind::UnexpectedTag,
                    format!("a {} slot where a value is expected", slot.tag),
                )
            }
            Tag::HashMap | Tag::HashSet | Tag::CountedHashMap | Tag::CountedHashSet => {
                return self.map(from, slot, nest, self.data_start)
            }
            Tag::ArrayList => return self.list(from, slot.value, nest),
            Tag::LinkedArrayList => {
                return match self.list_family(from, slot.value)? {
                    ListFamily::Rrb => self.linked(from, slot.value, nest),
                    ListFamily::BTree => self.sorted(from, slot, nest, true),
                }
            }
            Tag::SortedMap | Tag::SortedSet => return self.sorted(from, slot, nest, false),
        }
        Ok(Visit::Done(Agg::default()))
    }

    // ------------------------------------------------------------ helpers

    /// The family to check the LinkedArrayList whose header is at `header`
    /// in (referred to from `from`).
    fn list_family(&self, from: u64, header: u64) -> R<ListFamily> {
        self.check_ptr(from, header, 16, self.data_start)?;
        Ok(family_of(&self.src, header)?)
    }

    /// Records a warning (counted always, kept up to [`MAX_WARNINGS`]).
    pub fn warn(&mut self, pos: u64, kind: ProblemKind, what: String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Problem { pos, kind, what });
        }
    }

    /// Reads and decodes the slot at `pos`.
    pub fn slot(&self, pos: u64) -> R<Slot> {
        let b: [u8; SLOT_LEN as usize] = self.src.array(pos)?;
        slot_in(&b, 0, pos)
    }

    /// The pointer rule: the `len`-byte record at `ptr`, referred to from
    /// `from`, lies within `lo .. end`.
    pub fn check_ptr(&self, from: u64, ptr: u64, len: u64, lo: u64) -> R<()> {
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
    pub fn known(&self, from: u64, pos: u64) -> R<Option<Node>> {
        match self.nodes.get(&pos) {
            Some(n) if n.busy() => fail(
                from,
                ProblemKind::Cycle,
                format!("the block at {pos} contains itself"),
            ),
            n => Ok(n.copied()),
        }
    }

    /// The block at `pos`, reached from `from` as `wanted`, was checked as
    /// `found`.
    pub fn conflict<T>(&self, from: u64, pos: u64, found: &Node, wanted: &str) -> R<T> {
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
    pub fn check_nesting(&self, pos: u64, nest: u32, height: u32) -> R<()> {
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

    /// Enters a block of `len` bytes at `pos` in the memo.
    pub fn new_block(&mut self, pos: u64, node: Node, len: u64) {
        self.nodes.insert(pos, node);
        self.stats.block_bytes = self.stats.block_bytes.saturating_add(len);
    }
}

/// What is wrong with the history's `file_size` (at 28), if anything.
fn file_size_problem(top: &TopHeader, len: u64, writable: bool) -> Option<String> {
    let fresh = HISTORY_BLOCK + BLOCK_LEN;
    if top.file_size > len {
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
    }
}

/// Runs the walk over `bytes` (read-only) and hands back the verifier, for
/// inspection by the kinds' tests.
#[cfg(test)]
pub(super) fn walked(bytes: &[u8]) -> (Verifier<'_>, Option<Problem>) {
    use super::stop::Stop;
    use crate::format::{HashKind, Hasher};
    let src = Src::bytes_only(bytes, Hasher::new(HashKind::Blake3));
    let mut v = Verifier::new(src);
    let mut moments = 0;
    let p = match v.check_all(false, &mut moments) {
        Ok(()) => None,
        Err(Stop::Problem(p)) => Some(p),
        Err(Stop::Io(e)) => panic!("{e}"),
    };
    (v, p)
}
