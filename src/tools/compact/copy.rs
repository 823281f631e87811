//! The copy walk of a compaction: records copied post-order, each once,
//! through a memo from old position to new.
//!
//! Records are read into a frame's buffer, laid out as [`RecordKind`]
//! describes (a key/value record's buffer holds its two slots, not its
//! hash); the walk follows the children the layout names and patches their
//! new positions into the buffer before appending it to the destination.
//!
//! B-tree nodes (sorted maps and sets) are entered as leaves or branches by
//! their kind byte. Their fields past the node's entry count are unused and
//! written as zeros; so is an unused separator 0 that points at a byte
//! string (readers never follow it, and it may name a key long gone), while
//! an inline one is copied as it is. Separators go through the same memo as
//! keys, so a separator and the key it was taken from keep sharing their
//! bytes.

use super::Progress;
use crate::error::{Error, Result};
use crate::format::btree::{
    count_off, node_head, separator_off, slot_off, BTreeHeader, BranchLayout, NodeKind,
    BTREE_HEADER_LEN, NODE_SLOTS, SORTED_BRANCH_LEN,
};
use crate::format::{
    level_capacity, list_shift, put_u64, slot_at, LinkedHeader, ListFamily, ListHeader, RecordKind,
    Slot, Tag, BLOCK_LEN, BLOCK_SLOTS, DATABASE_START, LINKED_HEADER_LEN, LIST_HEADER_LEN,
    MAX_NESTING, SLOT_LEN,
};
use crate::storage::Storage;
use crate::tree::access::Src;
use crate::tree::array_list::ArrayList;
use crate::tree::btree::MAX_DEPTH;
use crate::tree::bytes::long_extent;
use crate::tree::linked_list::family::family_of;
use crate::tree::linked_list::rrb::LinkedList;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::ops::Range;

/// Largest piece of a byte string read at once.
const CHUNK: u64 = 64 << 10;
/// Growth of the destination between two progress calls inside a moment.
const REPORT_EVERY: u64 = 8 << 20;
/// Memo value of a record whose copy is under way.
const BUSY: u64 = 0;
/// Largest record buffered by the walk (a sorted B-tree branch).
const BUF_LEN: usize = SORTED_BRANCH_LEN as usize;

/// What the memo knows about a source record. A source position is copied
/// as one kind only.
#[derive(Debug, Clone, Copy)]
struct Memo {
    kind: RecordKind,
    /// Position of the copy, or [`BUSY`] while it is being made.
    new: u64,
    /// ArrayList blocks: the items below the block that the copy holds.
    limit: u64,
}

/// A record being copied: its bytes, with the children done so far
/// already pointing at their copies.
struct Frame {
    /// Position in the source (the memo key).
    old: u64,
    kind: RecordKind,
    buf: [u8; BUF_LEN],
    /// Next child to look at.
    next: u8,
    /// Map blocks: trie depth (0 = a root block); B-tree nodes: depth
    /// below the header (0 = the root node).
    depth: u32,
    /// ArrayList headers and blocks: items held below (the list's size for
    /// a header).
    limit: u64,
    /// Nesting of the structure (maps, list and B-tree headers) or of the
    /// values the record holds (key/value records, list blocks, B-tree
    /// nodes).
    nest: u32,
    /// Write the copy here instead of appending it (a root map's head).
    dest: Option<u64>,
}

impl Frame {
    /// Points child `i`'s pointer in the buffer at `new`.
    ///
    /// Every child's pointer of every kind lies inside the buffer (the
    /// layout table's pointers end within its lengths, which are at most
    /// [`BUF_LEN`]), so this fails only if the walk itself went wrong.
    fn patch(&mut self, i: u8, new: u64) -> Result<()> {
        if put_u64(&mut self.buf, self.kind.ptr_off(i), new) {
            Ok(())
        } else {
            Err(Error::corrupt(self.old, "child pointer outside its record"))
        }
    }

    /// The ArrayList header in the buffer.
    fn list_header(&self) -> Result<ListHeader> {
        self.buf
            .first_chunk::<{ LIST_HEADER_LEN as usize }>()
            .map(|b| ListHeader::decode(*b))
            .ok_or(Error::corrupt(self.old, "list header outside its record"))
    }

    /// The LinkedArrayList header in the buffer.
    fn linked_header(&self) -> Result<LinkedHeader> {
        self.buf
            .first_chunk::<{ LINKED_HEADER_LEN as usize }>()
            .map(|b| LinkedHeader::decode(*b))
            .ok_or(Error::corrupt(self.old, "list header outside its record"))
    }

    /// The B-tree header in the buffer.
    fn btree_header(&self) -> Result<BTreeHeader> {
        self.buf
            .first_chunk::<{ BTREE_HEADER_LEN as usize }>()
            .map(|b| BTreeHeader::decode(*b))
            .ok_or(Error::corrupt(self.old, "B-tree header outside its record"))
    }
}

/// A child met while copying: already copied, or a record to copy first.
enum Enter {
    Ready(u64),
    Push(Box<Frame>),
}

enum Step {
    Push(Box<Frame>),
    Done(u64),
}

/// A fast hasher for source positions (the memo's keys): a folded
/// multiplication, so positions that are multiples of a block length
/// still spread over the table.
#[derive(Default)]
struct PosHasher(u64);

impl std::hash::Hasher for PosHasher {
    fn finish(&self) -> u64 {
        let p = u128::from(self.0) * 0x9E37_79B9_7F4A_7C15;
        (p as u64) ^ ((p >> 64) as u64)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

type MemoMap = HashMap<u64, Memo, BuildHasherDefault<PosHasher>>;

/// The copy in progress.
pub(super) struct Copier<'s, 'o, 'p> {
    src: Src<'s>,
    out: &'o mut dyn Storage,
    memo: MemoMap,
    hash_len: u64,
    /// Trie levels (2H): a map block at this depth is too deep.
    max_depth: u32,
    progress: &'p mut dyn FnMut(Progress),
    done: u64,
    total: u64,
    next_report: u64,
}

impl<'s, 'o, 'p> Copier<'s, 'o, 'p> {
    /// A copy from `src` (whose keys hash to `hash_size` bytes) appended to
    /// `out`, reporting to `progress`.
    pub(super) fn new(
        src: Src<'s>,
        hash_size: u16,
        out: &'o mut dyn Storage,
        progress: &'p mut dyn FnMut(Progress),
    ) -> Self {
        let next_report = out.len().saturating_add(REPORT_EVERY);
        Copier {
            src,
            out,
            memo: MemoMap::default(),
            hash_len: u64::from(hash_size),
            max_depth: 2 * u32::from(hash_size),
            progress,
            done: 0,
            total: 0,
            next_report,
        }
    }

    /// Calls the progress callback with the counts so far.
    pub(super) fn report(&mut self) {
        let len = self.out.len();
        self.next_report = len.saturating_add(REPORT_EVERY);
        (self.progress)(Progress {
            moments_done: self.done,
            moments_total: self.total,
            bytes_written: len,
        });
    }

    /// Appends `n` zero bytes to the destination.
    pub(super) fn append_zeros(&mut self, n: u64) -> Result<()> {
        const ZEROS: [u8; 256] = [0; 256];
        let mut left = n;
        while left > 0 {
            let k = left.min(ZEROS.len() as u64) as usize;
            self.out.append(ZEROS.get(..k).unwrap_or(&[]))?;
            left -= k as u64;
        }
        Ok(())
    }

    /// Copies the moments `kept` of `history` in order, reporting after
    /// each; returns the slots pointing at their copies.
    pub(super) fn copy_moments(
        &mut self,
        history: &ArrayList,
        kept: Range<u64>,
    ) -> Result<Vec<Slot>> {
        self.total = kept.end - kept.start;
        // At most one slot per 9 bytes of source: bounded by its size.
        let cap = usize::try_from(self.total).unwrap_or(0).min(1 << 16);
        let mut moments = Vec::with_capacity(cap);
        for k in kept {
            let pos = history.slot_pos(&self.src, k)?;
            let slot = self.src.slot(pos)?;
            moments.push(self.copy_value(slot, pos)?);
            self.done += 1;
            self.report();
        }
        if self.total == 0 {
            self.report();
        }
        Ok(moments)
    }

    /// Copies the root map or set (of kind `tag`) of a database without
    /// history to offset 12 of the destination, which holds only its
    /// header; its children are appended after it.
    pub(super) fn copy_root_map(&mut self, tag: Tag) -> Result<()> {
        let kind = if matches!(tag, Tag::CountedHashMap | Tag::CountedHashSet) {
            RecordKind::CountedIndex
        } else {
            RecordKind::IndexBlock
        };
        self.append_zeros(kind.len() as u64)?;
        let mut root = self.open(DATABASE_START, kind, 0, 0, 0)?;
        root.dest = Some(DATABASE_START);
        self.run(Enter::Push(Box::new(root)))?;
        self.report();
        Ok(())
    }

    /// Copies a value slot (read at `at`) and everything it reaches;
    /// returns the slot pointing at the copy.
    fn copy_value(&mut self, slot: Slot, at: u64) -> Result<Slot> {
        match self.enter_value(slot, at, 0)? {
            None => Ok(slot),
            Some(e) => Ok(Slot {
                value: self.run(e)?,
                ..slot
            }),
        }
    }

    /// Runs the walk from `first` until its record is copied; returns the
    /// copy's position.
    fn run(&mut self, first: Enter) -> Result<u64> {
        let mut stack = match first {
            Enter::Ready(new) => return Ok(new),
            Enter::Push(f) => vec![f],
        };
        let mut ret = None;
        while let Some(top) = stack.last_mut() {
            match self.step(top, ret.take())? {
                Step::Push(f) => stack.push(f),
                Step::Done(new) => {
                    stack.pop();
                    ret = Some(new);
                    if self.out.len() >= self.next_report {
                        self.report();
                    }
                }
            }
        }
        ret.ok_or(Error::corrupt(0, "compaction walk ended without a result"))
    }

    /// Goes on with frame `f`: patches the child that just finished (its
    /// copy is at `ret`), looks at the next children, and either descends
    /// into one or writes the record.
    fn step(&mut self, f: &mut Frame, ret: Option<u64>) -> Result<Step> {
        if let Some(new) = ret {
            f.patch(f.next.wrapping_sub(1), new)?;
        }
        while f.next < f.kind.children() {
            let i = f.next;
            f.next += 1;
            match self.child(f, i)? {
                None => {}
                Some(Enter::Ready(new)) => f.patch(i, new)?,
                Some(Enter::Push(child)) => return Ok(Step::Push(child)),
            }
        }
        self.emit(f).map(Step::Done)
    }

    /// Child `i` of frame `f`: nothing to copy, a copy already made, or a
    /// record to copy first.
    fn child(&mut self, f: &Frame, i: u8) -> Result<Option<Enter>> {
        let off = f.kind.child_off(i);
        let at = f.old + off as u64;
        match f.kind {
            RecordKind::IndexBlock | RecordKind::CountedIndex => {
                self.map_child(slot_at(&f.buf, off, f.old)?, at, f)
            }
            RecordKind::KvSlots => self.enter_value(slot_at(&f.buf, off, f.old)?, at, f.nest),
            RecordKind::ListHeader => {
                let root = f.list_header()?.ptr;
                let kind = RecordKind::ListBlock {
                    level: list_shift(f.limit),
                };
                self.enter(root, kind, 0, f.limit, f.nest + 1).map(Some)
            }
            RecordKind::LinkedHeader => {
                let header = f.linked_header()?;
                let kind = RecordKind::LinkedBlock {
                    shift: header.shift & 0x3F,
                };
                self.enter(header.ptr, kind, 0, 0, f.nest + 1).map(Some)
            }
            RecordKind::ListBlock { level: 0 } => {
                if u64::from(i) >= f.limit {
                    return Ok(None); // cleared when the block was read
                }
                self.enter_value(slot_at(&f.buf, off, f.old)?, at, f.nest)
            }
            RecordKind::ListBlock { level } => {
                let cap = level_capacity(level);
                let first = cap.saturating_mul(u64::from(i));
                if first >= f.limit {
                    return Ok(None); // cleared when the block was read
                }
                let slot = slot_at(&f.buf, off, f.old)?;
                if slot.tag != Tag::Index {
                    return Err(Error::corrupt(at, "missing list index block"));
                }
                let limit = cap.min(f.limit - first);
                let kind = RecordKind::ListBlock { level: level - 1 };
                self.enter(slot.value, kind, 0, limit, f.nest).map(Some)
            }
            RecordKind::LinkedBlock { shift } => {
                let slot = slot_at(&f.buf, off, f.old)?;
                if slot.is_empty() {
                    Ok(None)
                } else if shift == 0 {
                    self.enter_value(slot, at, f.nest)
                } else if slot.tag == Tag::Index {
                    let kind = RecordKind::LinkedBlock { shift: shift - 1 };
                    self.enter(slot.value, kind, 0, 0, f.nest).map(Some)
                } else {
                    Err(Error::corrupt(at, "unexpected tag in a linked list block"))
                }
            }
            RecordKind::BTreeHeader { layout } => {
                let root = f.btree_header()?.root;
                self.enter_node(root, layout, 0, f.nest + 1).map(Some)
            }
            RecordKind::BTreeLeaf { .. } | RecordKind::BTreeBranch { .. } => self.node_child(f, i),
            RecordKind::Bytes { .. } => Ok(None),
        }
    }

    /// Child `i` of the B-tree node of frame `f`: for a leaf, entry `i`;
    /// for a branch, child `i` (below 16) or separator `i − 16`. Unused
    /// fields were cleared (or kept inline) when the node was read.
    fn node_child(&mut self, f: &Frame, i: u8) -> Result<Option<Enter>> {
        let (_, num) = node_head(&f.buf, f.old)?;
        let (j, is_separator) = (usize::from(i) % NODE_SLOTS, usize::from(i) >= NODE_SLOTS);
        if j >= num || (is_separator && j == 0) {
            return Ok(None);
        }
        let off = f.kind.child_off(i);
        let at = f.old + off as u64;
        let slot = slot_at(&f.buf, off, f.old)?;
        match f.kind {
            RecordKind::BTreeBranch { .. } if is_separator => match slot.tag {
                Tag::ShortBytes => Ok(None),
                Tag::Bytes => self.copy_bytes(slot).map(|new| Some(Enter::Ready(new))),
                _ => Err(Error::corrupt(at, "B-tree separator is not a key")),
            },
            RecordKind::BTreeBranch { layout } => {
                if slot.tag != Tag::Index {
                    return Err(Error::corrupt(
                        at,
                        "B-tree branch child is not an index slot",
                    ));
                }
                self.enter_node(slot.value, layout, f.depth + 1, f.nest)
                    .map(Some)
            }
            RecordKind::BTreeLeaf {
                layout: BranchLayout::Sorted,
            } => {
                if slot.tag != Tag::KvPair {
                    return Err(Error::corrupt(at, "sorted entry is not a kv_pair slot"));
                }
                self.enter(slot.value, RecordKind::KvSlots, 0, 0, f.nest)
                    .map(Some)
            }
            RecordKind::BTreeLeaf {
                layout: BranchLayout::List,
            } => self.enter_value(slot, at, f.nest),
            _ => Ok(None),
        }
    }

    /// The B-tree node of the `layout` family at `old`, `depth` below its
    /// header: a leaf or a branch as its kind byte says (or as the memo
    /// already knows it).
    fn enter_node(
        &mut self,
        old: u64,
        layout: BranchLayout,
        depth: u32,
        nest: u32,
    ) -> Result<Enter> {
        if depth >= MAX_DEPTH as u32 {
            return Err(Error::TooDeep { pos: old });
        }
        let known = self.memo.get(&old).map(|m| m.kind).filter(|k| {
            matches!(k, RecordKind::BTreeLeaf { layout: l } | RecordKind::BTreeBranch { layout: l } if *l == layout)
        });
        let kind = match known {
            Some(kind) => kind,
            None => {
                let mut head = [0u8; 2];
                self.src.read_into(old, &mut head)?;
                match node_head(&head, old)?.0 {
                    NodeKind::Leaf => RecordKind::BTreeLeaf { layout },
                    NodeKind::Branch => RecordKind::BTreeBranch { layout },
                }
            }
        };
        self.enter(old, kind, depth, 0, nest)
    }

    /// A slot (read at `at`) of the map block of frame `f`: nothing, an
    /// inner block one level deeper, or a key/value record.
    fn map_child(&mut self, slot: Slot, at: u64, f: &Frame) -> Result<Option<Enter>> {
        match slot.tag {
            Tag::None => Ok(None),
            Tag::Index => {
                let depth = f.depth + 1;
                if depth >= self.max_depth {
                    return Err(Error::TooDeep { pos: at });
                }
                self.enter(slot.value, RecordKind::IndexBlock, depth, 0, f.nest)
                    .map(Some)
            }
            Tag::KvPair => self
                .enter(slot.value, RecordKind::KvSlots, 0, 0, f.nest + 1)
                .map(Some),
            _ => Err(Error::corrupt(at, "unexpected tag in a map block")),
        }
    }

    /// A value slot (read at `at`) holding a value nested `nest` deep:
    /// `None` for inline values, else its copy or the record to copy.
    fn enter_value(&mut self, slot: Slot, at: u64, nest: u32) -> Result<Option<Enter>> {
        let kind = match slot.tag {
            Tag::None | Tag::ShortBytes | Tag::Uint | Tag::Int | Tag::Float => return Ok(None),
            Tag::Bytes => return self.copy_bytes(slot).map(|new| Some(Enter::Ready(new))),
            Tag::HashMap | Tag::HashSet => RecordKind::IndexBlock,
            Tag::CountedHashMap | Tag::CountedHashSet => RecordKind::CountedIndex,
            Tag::ArrayList => RecordKind::ListHeader,
            Tag::LinkedArrayList => match family_of(&self.src, slot.value)? {
                ListFamily::Rrb => RecordKind::LinkedHeader,
                ListFamily::BTree => RecordKind::BTreeHeader {
                    layout: BranchLayout::List,
                },
            },
            Tag::SortedMap | Tag::SortedSet => RecordKind::BTreeHeader {
                layout: BranchLayout::Sorted,
            },
            Tag::Index | Tag::KvPair => {
                return Err(Error::corrupt(at, "index or kv_pair slot used as a value"))
            }
        };
        if nest > MAX_NESTING {
            return Err(Error::TooDeep { pos: at });
        }
        self.enter(slot.value, kind, 0, 0, nest).map(Some)
    }

    /// The record of `kind` at `old`: its copy if the memo has one, else a
    /// frame to copy it.
    fn enter(
        &mut self,
        old: u64,
        kind: RecordKind,
        depth: u32,
        limit: u64,
        nest: u32,
    ) -> Result<Enter> {
        let limit = match kind {
            RecordKind::ListHeader => {
                // validates the size against the storage, and the root
                let list = ArrayList::read(&self.src, old)?;
                list.size
            }
            RecordKind::LinkedHeader => {
                LinkedList::read(&self.src, old)?; // validates shift and root
                0
            }
            _ => limit,
        };
        if let Some(new) = self.memo_hit(old, kind, limit)? {
            return Ok(Enter::Ready(new));
        }
        self.open(old, kind, depth, limit, nest)
            .map(|f| Enter::Push(Box::new(f)))
    }

    /// The copy of the record of `kind` at `old`, if one holding at least
    /// `limit` items exists.
    fn memo_hit(&self, old: u64, kind: RecordKind, limit: u64) -> Result<Option<u64>> {
        match self.memo.get(&old) {
            None => Ok(None),
            Some(m) if m.kind != kind => Err(Error::corrupt(
                old,
                "a record reached as two different kinds",
            )),
            Some(m) if m.new == BUSY => Err(Error::corrupt(
                old,
                "records point at each other in a cycle",
            )),
            Some(m) if m.limit >= limit => Ok(Some(m.new)),
            Some(_) => Ok(None), // a list block copied for fewer items
        }
    }

    /// Reads the record of `kind` at `old` into a new frame and marks it
    /// busy in the memo.
    fn open(
        &mut self,
        old: u64,
        kind: RecordKind,
        depth: u32,
        limit: u64,
        nest: u32,
    ) -> Result<Frame> {
        let mut f = Frame {
            old,
            kind,
            buf: [0; BUF_LEN],
            next: 0,
            depth,
            limit,
            nest,
            dest: None,
        };
        let len = kind.len();
        let (from, buf) = match kind {
            // a key/value record's buffer holds its key and value slots
            RecordKind::KvSlots => (old.checked_add(self.hash_len), f.buf.get_mut(..len)),
            _ => (Some(old), f.buf.get_mut(..len)),
        };
        let from = from.ok_or(Error::corrupt(old, "record past any possible storage"))?;
        let buf = buf.ok_or(Error::corrupt(old, "record larger than a block"))?;
        self.src.read_into(from, buf)?;
        if let RecordKind::ListBlock { level } = kind {
            // Slots past the list's size are stale: written empty.
            let live = limit
                .div_ceil(level_capacity(level))
                .min(BLOCK_SLOTS as u64) as usize;
            if let Some(stale) = f.buf.get_mut(SLOT_LEN as usize * live..BLOCK_LEN as usize) {
                stale.fill(0);
            }
        }
        if let RecordKind::BTreeLeaf { .. } | RecordKind::BTreeBranch { .. } = kind {
            clear_unused(&mut f.buf, kind, old)?;
        }
        self.memo.insert(
            old,
            Memo {
                kind,
                new: BUSY,
                limit,
            },
        );
        Ok(f)
    }

    /// Writes the finished record of frame `f` and records its position.
    fn emit(&mut self, f: &Frame) -> Result<u64> {
        let len = f.kind.len();
        let bytes = f.buf.get(..len).unwrap_or(&[]);
        let new = match f.dest {
            Some(d) => {
                self.out.write_at(d, bytes)?;
                d
            }
            None => {
                let new = self.out.len();
                if f.kind == RecordKind::KvSlots {
                    let hash = self.src.bytes(f.old, self.hash_len)?;
                    self.out.append(&hash)?;
                }
                self.out.append(bytes)?;
                new
            }
        };
        self.memo.insert(
            f.old,
            Memo {
                kind: f.kind,
                new,
                limit: f.limit,
            },
        );
        Ok(new)
    }

    /// Copies a long byte string (length, payload, format tag) once.
    fn copy_bytes(&mut self, slot: Slot) -> Result<u64> {
        let kind = RecordKind::Bytes { tagged: slot.full };
        if let Some(new) = self.memo_hit(slot.value, kind, 0)? {
            return Ok(new);
        }
        // checks length and tag against the storage
        let (start, len) = long_extent(&self.src, slot)?;
        let end = start + len + if slot.full { 2 } else { 0 };
        let new = self.out.len();
        let mut at = slot.value;
        while at < end {
            let n = (end - at).min(CHUNK);
            let piece = self.src.bytes(at, n)?;
            self.out.append(&piece)?;
            at += n;
        }
        self.memo.insert(
            slot.value,
            Memo {
                kind,
                new,
                limit: 0,
            },
        );
        Ok(new)
    }
}

/// Clears the unused fields of the B-tree node of `kind` read from `pos`
/// into `buf`: entries, children, separators and counts past its entry
/// count, and separator 0 when it points at a byte string. Checks that the
/// node is still of the kind it was entered as.
fn clear_unused(buf: &mut [u8], kind: RecordKind, pos: u64) -> Result<()> {
    let (node, num) = node_head(buf, pos)?;
    let branch = matches!(kind, RecordKind::BTreeBranch { .. });
    if branch != (node == NodeKind::Branch) {
        return Err(Error::corrupt(pos, "B-tree node changed its kind"));
    }
    let first = separator_off(0);
    let pointer = buf.get(first as usize).map(|b| b & 0x7F) == Some(Tag::Bytes as u8);
    clear(buf, slot_off(num), slot_off(NODE_SLOTS));
    if let RecordKind::BTreeBranch { layout } = kind {
        clear(buf, count_off(layout, num), count_off(layout, NODE_SLOTS));
        if layout == BranchLayout::Sorted {
            clear(buf, separator_off(num), separator_off(NODE_SLOTS));
            if pointer {
                clear(buf, first, separator_off(1));
            }
        }
    }
    Ok(())
}

/// Zeroes bytes `from..to` of `buf` (those inside it).
fn clear(buf: &mut [u8], from: u64, to: u64) {
    let end = (to as usize).min(buf.len());
    if let Some(unused) = buf.get_mut(from as usize..end) {
        unused.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hasher;

    #[test]
    fn child_pointers_lie_inside_the_buffer() {
        assert_eq!(RecordKind::IndexBlock.ptr_off(0), 1);
        assert_eq!(RecordKind::IndexBlock.ptr_off(15), 15 * 9 + 1);
        assert_eq!(RecordKind::CountedIndex.ptr_off(0), 9);
        assert_eq!(RecordKind::KvSlots.ptr_off(1), 10);
        assert_eq!(RecordKind::LinkedBlock { shift: 0 }.ptr_off(2), 35);
        assert_eq!(RecordKind::ListHeader.ptr_off(0), 8);
        assert_eq!(RecordKind::LinkedHeader.ptr_off(0), 8);
        for kind in [
            RecordKind::IndexBlock,
            RecordKind::CountedIndex,
            RecordKind::KvSlots,
            RecordKind::ListHeader,
            RecordKind::ListBlock { level: 0 },
            RecordKind::LinkedHeader,
            RecordKind::LinkedBlock { shift: 0 },
            RecordKind::BTreeHeader {
                layout: BranchLayout::Sorted,
            },
            RecordKind::BTreeLeaf {
                layout: BranchLayout::Sorted,
            },
            RecordKind::BTreeBranch {
                layout: BranchLayout::Sorted,
            },
            RecordKind::BTreeBranch {
                layout: BranchLayout::List,
            },
        ] {
            assert!(kind.len() <= BUF_LEN, "{kind:?}");
            for i in 0..kind.children() {
                assert!(kind.ptr_off(i) + 8 <= kind.len(), "{kind:?} {i}");
            }
        }
    }

    #[test]
    fn positions_spread_over_the_memo() {
        let h = |v: u64| {
            let mut s = PosHasher::default();
            s.write_u64(v);
            s.finish()
        };
        let low: std::collections::HashSet<u64> = (0..64).map(|k| h(180 + 144 * k) & 63).collect();
        assert!(low.len() > 30, "{}", low.len());
    }
}
