//! Compaction: a new database holding chosen moments of an old one.
//!
//! # Why
//!
//! An xitdb file only grows. Every transaction appends the blocks it
//! changed, and nothing is ever freed: moments nobody needs any more, every
//! old version of a byte string that was rewritten many times, map blocks
//! emptied by removals, the copies a root-map transaction leaves behind,
//! items left past the end of a sliced list, the remains of a crashed
//! transaction in a file only ever opened read-only: all of it stays in the
//! file. [`Database::compact_into`] writes a *new* database that holds only
//! the moments asked for ([`Keep::All`] or [`Keep::Last`]) and everything
//! they reach, nothing else.
//!
//! # What the copy keeps
//!
//! * **Sharing.** Moments share most of their blocks; the copy shares them
//!   too. Every record (index block, key/value record, list header, byte
//!   string, ...) is copied once, the first time a kept moment reaches it,
//!   and a table from old position to new position (the *memo*) makes every
//!   later reference, from the same moment or another one, point at that
//!   one copy. The result of compacting all moments is therefore about the
//!   size of the source minus its garbage, never the sum of the moments.
//! * **Bytes.** Records are copied byte for byte, with only their child
//!   pointers rewritten: slot tags, `full` flags, key hashes, LinkedArrayList
//!   sizes and flags, byte strings with their format tags, counts, shift
//!   bytes. The copy never hashes anything, so a file whose header names a
//!   hasher this crate does not know compacts like any other; the new header
//!   takes the source's `hash_id` and `hash_size`. The result is an ordinary
//!   file of format version 0 that the reference implementation reads.
//! * **What is dropped.** Whatever no kept moment reaches. Inside an
//!   ArrayList block, the slots past the list's size (stale items left by a
//!   slice, which no reader follows) are written as empty slots.
//!
//! The new history is built from scratch as a regular ArrayList of the kept
//! moments' new root slots, laid out like one the transactions of this
//! crate would have made (history header at 12, its first block at 36, the
//! moments' data from 180 on), so both this crate and the reference can go
//! on appending moments to it. A database whose root is a map or set
//! (`Database::transact_root`) has no moments: its root is copied to offset
//! 12 of the destination and `keep` does not matter. An empty source gives
//! an empty destination (with the source's hash id and size).
//!
//! # Algorithm
//!
//! One pass, depth first, in moment order: for each kept moment, its root
//! slot is copied *post-order*. A record is read into a small buffer, each
//! child it points at is copied first (or found in the memo), the new child
//! positions are patched into the buffer, and the buffer is appended to the
//! destination. So every record is written exactly once, complete, through
//! the storage's buffered appends; no byte is rewritten afterwards except
//! the fixed header area. The walk keeps its own stack on the heap; reads go
//! through the crate's bounds-checked `Src` (direct reads of the memory
//! buffer or the file's memory map: no system call per record).
//!
//! Then the history blocks are written (the first leaf into the block
//! reserved at 36, the others appended), the data is flushed (and fsynced
//! with [`Durability::Full`]), and only then the history header at 12 and
//! the database header at 0 are written and made durable as the
//! destination's durability setting asks. Until that last step the
//! destination's header still says "empty", so a crash midway leaves a
//! database that opens empty (a writable open cuts the unpublished bytes
//! off). An error midway (including a panic in the progress callback) is
//! rolled back by the destination handle: its storage is cut back to the
//! 12 bytes it had.
//!
//! An ArrayList block is copied for the items its list holds below it (its
//! *limit*). A block shared by two lists of different sizes (a list and its
//! slice) is copied again when it is met with a larger limit than its copy
//! has; a copy with a larger limit serves every smaller one.
//!
//! # Hostile input
//!
//! The source may be corrupt or hostile; compaction then fails with an
//! [`Error`], never a panic or a hang:
//!
//! * every read is bounds-checked against the storage; byte strings are
//!   copied in chunks of at most 64 KiB after their length was checked
//!   against the storage, so no allocation follows a length from the file;
//! * a record that is being copied is marked in the memo; reaching it again
//!   before its copy is done means the pointers form a cycle (`Corrupt`);
//! * depths are bounded: a trie has at most `2H` levels, list shifts at most
//!   15 (`TooDeep`), and structures nest at most [`MAX_NESTING`] deep below
//!   a moment (`TooDeep`, the limit of [`crate::json::dump_json`] and
//!   [`Database::verify`]). The walk's stack and memo hold at most one entry
//!   per distinct record of the source;
//! * a position reached as two different kinds of record (a map block and a
//!   list block, list blocks at two heights, ...) is `Corrupt`.
//!
//! [`Database::compact_into`]: crate::Database::compact_into
//! [`Durability::Full`]: crate::Durability::Full
//! [`MAX_NESTING`]: crate::format::MAX_NESTING

use crate::api::database::{Database, Durability};
use crate::error::{Error, Result};
use crate::format::MAX_NESTING;
use crate::format::{
    list_shift, Header, Slot, Tag, TopHeader, BLOCK_LEN, BLOCK_SLOTS, COUNT_LEN, DATABASE_START,
    HEADER_LEN, LINKED_BLOCK_LEN, LINKED_HEADER_LEN, LINKED_SLOT_LEN, LIST_HEADER_LEN, SLOT_LEN,
    TOP_HEADER_LEN,
};
use crate::storage::Storage;
use crate::tree::access::Src;
use crate::tree::array_list::ArrayList;
use crate::tree::bytes::long_extent;
use crate::tree::linked_list::LinkedList;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Which moments a compaction keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every moment.
    All,
    /// The newest `n` moments (all of them when there are fewer). `Last(0)`
    /// keeps none: the result is a history without moments.
    Last(u64),
}

/// Where a running compaction stands, passed to its progress callback.
///
/// The callback is called once after each kept moment is copied, and also
/// while a large moment is being copied (each time the destination has
/// grown by another 8 MiB since the last call). A copy of no moments (an
/// empty database, a root map, `Keep::Last(0)`) gets one call when its
/// copy is done, with both counts 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Kept moments copied so far.
    pub moments_done: u64,
    /// Kept moments in all.
    pub moments_total: u64,
    /// Bytes written to the destination so far (its length, header
    /// included).
    pub bytes_written: u64,
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    /// Moments in the source.
    pub moments_before: u64,
    /// Moments written to the destination.
    pub moments_kept: u64,
    /// Source size in bytes.
    pub bytes_before: u64,
    /// Destination size in bytes.
    pub bytes_after: u64,
}

/// The database being compacted, as [`Database::compact_into`] hands it
/// over: its committed state, read through `src`.
///
/// [`Database::compact_into`]: crate::Database::compact_into
pub(crate) struct Source<'a> {
    pub src: Src<'a>,
    pub header: Header,
    /// The committed history (root tag array_list).
    pub history: Option<ArrayList>,
}

impl<S: Storage> Database<S> {
    /// Copies the moments `keep` selects into `dst`, a new empty database,
    /// sharing every block the kept moments share and dropping the rest;
    /// `progress` is called as moments are copied. See the
    /// [module documentation](self).
    pub fn compact_into<T: Storage>(
        &self,
        dst: &mut Database<T>,
        keep: Keep,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<CompactReport> {
        let source = Source {
            src: self.src(),
            header: self.header(),
            history: self.committed_history(),
        };
        dst.rewrite(self.hasher(), |store, durability| {
            compact(&source, store, durability, keep, progress)
        })
    }
}

/// Where the history's first block sits (right after its 24-byte header).
const HISTORY_BLOCK: u64 = DATABASE_START + TOP_HEADER_LEN;
/// Where the moments' data starts: after the history header and its first block.
const DATA_START: u64 = HISTORY_BLOCK + BLOCK_LEN;
/// Largest piece of a byte string read at once.
const CHUNK: u64 = 64 << 10;
/// Growth of the destination between two progress calls inside a moment.
const REPORT_EVERY: u64 = 8 << 20;
/// Memo value of a record whose copy is under way.
const BUSY: u64 = 0;
/// Largest record buffered by the walk (a LinkedArrayList block).
const BUF_LEN: usize = LINKED_BLOCK_LEN as usize;

/// Copies the moments `keep` selects from `source` into `out`, the storage
/// of an empty database (its 12-byte header only), then publishes them by
/// writing the headers. If this fails, the caller cuts `out` back to its
/// 12 bytes (the database header is put back here).
pub(crate) fn compact(
    source: &Source<'_>,
    out: &mut dyn Storage,
    durability: Durability,
    keep: Keep,
    progress: &mut dyn FnMut(Progress),
) -> Result<CompactReport> {
    if out.len() != HEADER_LEN {
        return Err(Error::InvalidArgument(
            "compaction needs a new, empty destination database (it holds more than its header)",
        ));
    }
    let mut old_header = [0u8; HEADER_LEN as usize];
    out.read_at(0, &mut old_header)?;
    if Header::decode(old_header)?.tag != Tag::None {
        return Err(Error::InvalidArgument(
            "compaction needs a new, empty destination database (its root is not empty)",
        ));
    }
    let header = source.header;
    let mut report = CompactReport {
        moments_before: 0,
        moments_kept: 0,
        bytes_before: source.src.len(),
        bytes_after: 0,
    };
    let mut copier = Copier::new(source.src, header.hash_size, &mut *out, progress);
    let top = match header.tag {
        Tag::None => {
            copier.report();
            None
        }
        Tag::ArrayList => {
            let history = source
                .history
                .ok_or(Error::corrupt(DATABASE_START, "history not loaded"))?;
            let total = history.size;
            let kept = match keep {
                Keep::All => total,
                Keep::Last(n) => n.min(total),
            };
            report.moments_before = total;
            report.moments_kept = kept;
            copier.total = kept;
            // The history header and its first block, written at the end.
            copier.append_zeros(DATA_START - DATABASE_START)?;
            // At most one slot per 9 bytes of source: bounded by its size.
            let mut moments = Vec::with_capacity(usize::try_from(kept).unwrap_or(0).min(1 << 16));
            for k in total - kept..total {
                let pos = history.slot_pos(&source.src, k)?;
                let slot = source.src.slot(pos)?;
                moments.push(copier.copy_value(slot, pos)?);
                copier.done += 1;
                copier.report();
            }
            if kept == 0 {
                copier.report();
            }
            let root = copier.write_history(&moments)?;
            Some(TopHeader {
                size: kept,
                ptr: root,
                file_size: 0,
            })
        }
        tag if tag.is_hamt() => {
            let kind = if matches!(tag, Tag::CountedHashMap | Tag::CountedHashSet) {
                Kind::CountedMap
            } else {
                Kind::Map
            };
            copier.append_zeros(kind.len() as u64)?;
            let mut root = copier.open(DATABASE_START, kind, 0, 0, 0)?;
            root.dest = Some(DATABASE_START);
            copier.run(Enter::Push(Box::new(root)))?;
            copier.report();
            None
        }
        tag => return Err(Error::InvalidRoot(tag)),
    };
    drop(copier);

    // Publish: the data first, then the headers that make it visible.
    out.flush()?;
    if durability == Durability::Full {
        out.sync()?;
    }
    if let Some(mut top) = top {
        top.file_size = out.len();
        out.write_at(DATABASE_START, &top.encode())?;
    }
    let published = out
        .write_at(0, &header.encode())
        .and_then(|()| match durability {
            Durability::None => out.flush(),
            _ => out.sync(),
        });
    if let Err(e) = published {
        // The caller cuts the storage back to the header; put its bytes back.
        let _ = out.write_at(0, &old_header);
        return Err(e);
    }
    report.bytes_after = out.len();
    Ok(report)
}

// ------------------------------------------------------------------ the walk

/// The kinds of record the walk copies. A source position is copied as
/// one kind only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A long byte string (with a 2-byte format tag when `tagged`).
    Bytes { tagged: bool },
    /// A map or set index block: the root of an uncounted one, or inner.
    Map,
    /// A counted map's or set's count and root block.
    CountedMap,
    /// A key/value record (its hash, then key and value slots).
    Kv,
    /// An ArrayList header.
    List,
    /// An ArrayList block at `level` (0 holds items).
    ListBlock { level: u8 },
    /// A LinkedArrayList header.
    Linked,
    /// A LinkedArrayList block at `shift` (0 holds items).
    LinkedBlock { shift: u8 },
}

impl Kind {
    /// Bytes of the record held in a frame's buffer (a key/value record's
    /// buffer holds its two slots, not its hash).
    fn len(self) -> usize {
        match self {
            Kind::Bytes { .. } => 0,
            Kind::Map | Kind::ListBlock { .. } => BLOCK_LEN as usize,
            Kind::CountedMap => (COUNT_LEN + BLOCK_LEN) as usize,
            Kind::Kv => 2 * SLOT_LEN as usize,
            Kind::List => LIST_HEADER_LEN as usize,
            Kind::Linked => LINKED_HEADER_LEN as usize,
            Kind::LinkedBlock { .. } => LINKED_BLOCK_LEN as usize,
        }
    }

    /// Number of children (slots or pointers) in the buffer.
    fn children(self) -> u8 {
        match self {
            Kind::Bytes { .. } => 0,
            Kind::List | Kind::Linked => 1,
            Kind::Kv => 2,
            _ => BLOCK_SLOTS as u8,
        }
    }

    /// Offset in the buffer of child `i`'s slot (for headers: of the root
    /// pointer, at 8).
    fn child_off(self, i: u8) -> usize {
        let i = i as usize;
        match self {
            Kind::CountedMap => COUNT_LEN as usize + SLOT_LEN as usize * i,
            Kind::LinkedBlock { .. } => LINKED_SLOT_LEN as usize * i,
            Kind::List | Kind::Linked => 8,
            _ => SLOT_LEN as usize * i,
        }
    }

    /// Offset in the buffer of the 8-byte pointer of child `i`.
    fn ptr_off(self, i: u8) -> usize {
        match self {
            Kind::List | Kind::Linked => 8,
            _ => self.child_off(i) + 1,
        }
    }
}

/// What the memo knows about a source record.
#[derive(Debug, Clone, Copy)]
struct Memo {
    kind: Kind,
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
    kind: Kind,
    buf: [u8; BUF_LEN],
    /// Next child to look at.
    next: u8,
    /// Map blocks: trie depth (0 = a root block).
    depth: u32,
    /// ArrayList headers and blocks: items held below (the list's size for
    /// a header).
    limit: u64,
    /// Nesting of the structure (maps, list headers) or of the values the
    /// record holds (key/value records, list blocks).
    nest: u32,
    /// Write the copy here instead of appending it (a root map's head).
    dest: Option<u64>,
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
struct Copier<'s, 'o, 'p> {
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
    fn new(
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

    fn report(&mut self) {
        let len = self.out.len();
        self.next_report = len.saturating_add(REPORT_EVERY);
        (self.progress)(Progress {
            moments_done: self.done,
            moments_total: self.total,
            bytes_written: len,
        });
    }

    fn append_zeros(&mut self, n: u64) -> Result<()> {
        const ZEROS: [u8; 256] = [0; 256];
        let mut left = n;
        while left > 0 {
            let k = left.min(ZEROS.len() as u64) as usize;
            self.out.append(ZEROS.get(..k).unwrap_or(&[]))?;
            left -= k as u64;
        }
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
            set_ptr(&mut f.buf, f.kind.ptr_off(f.next.wrapping_sub(1)), new);
        }
        while f.next < f.kind.children() {
            let i = f.next;
            f.next += 1;
            match self.child(f, i)? {
                None => {}
                Some(Enter::Ready(new)) => set_ptr(&mut f.buf, f.kind.ptr_off(i), new),
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
            Kind::Map | Kind::CountedMap => {
                let slot = slot_in(&f.buf, off, at)?;
                match slot.tag {
                    Tag::None => Ok(None),
                    Tag::Index => {
                        let depth = f.depth + 1;
                        if depth >= self.max_depth {
                            return Err(Error::TooDeep { pos: at });
                        }
                        self.enter(slot.value, Kind::Map, depth, 0, f.nest)
                            .map(Some)
                    }
                    Tag::KvPair => self.enter(slot.value, Kind::Kv, 0, 0, f.nest + 1).map(Some),
                    _ => Err(Error::corrupt(at, "unexpected tag in a map block")),
                }
            }
            Kind::Kv => self.enter_value(slot_in(&f.buf, off, at)?, at, f.nest),
            Kind::List => {
                let root = u64_in(&f.buf, off);
                let level = list_shift(f.limit);
                let kind = Kind::ListBlock { level };
                self.enter(root, kind, 0, f.limit, f.nest + 1).map(Some)
            }
            Kind::Linked => {
                let root = u64_in(&f.buf, off);
                let shift = f.buf.get(16).copied().unwrap_or(0) & 0x3F;
                let kind = Kind::LinkedBlock { shift };
                self.enter(root, kind, 0, 0, f.nest + 1).map(Some)
            }
            Kind::ListBlock { level: 0 } => {
                if u64::from(i) >= f.limit {
                    return Ok(None); // cleared when the block was read
                }
                self.enter_value(slot_in(&f.buf, off, at)?, at, f.nest)
            }
            Kind::ListBlock { level } => {
                let cap = 1u64 << (4 * u32::from(level).min(15));
                let first = cap.saturating_mul(u64::from(i));
                if first >= f.limit {
                    return Ok(None); // cleared when the block was read
                }
                let slot = slot_in(&f.buf, off, at)?;
                if slot.tag != Tag::Index {
                    return Err(Error::corrupt(at, "missing list index block"));
                }
                let limit = cap.min(f.limit - first);
                let kind = Kind::ListBlock { level: level - 1 };
                self.enter(slot.value, kind, 0, limit, f.nest).map(Some)
            }
            Kind::LinkedBlock { shift } => {
                let slot = slot_in(&f.buf, off, at)?;
                if slot.is_empty() {
                    Ok(None)
                } else if shift == 0 {
                    self.enter_value(slot, at, f.nest)
                } else if slot.tag == Tag::Index {
                    let kind = Kind::LinkedBlock { shift: shift - 1 };
                    self.enter(slot.value, kind, 0, 0, f.nest).map(Some)
                } else {
                    Err(Error::corrupt(at, "unexpected tag in a linked list block"))
                }
            }
            Kind::Bytes { .. } => Ok(None),
        }
    }

    /// A value slot (read at `at`) holding a value nested `nest` deep:
    /// `None` for inline values, else its copy or the record to copy.
    fn enter_value(&mut self, slot: Slot, at: u64, nest: u32) -> Result<Option<Enter>> {
        let kind = match slot.tag {
            Tag::None | Tag::ShortBytes | Tag::Uint | Tag::Int | Tag::Float => return Ok(None),
            Tag::Bytes => return self.copy_bytes(slot).map(|new| Some(Enter::Ready(new))),
            Tag::HashMap | Tag::HashSet => Kind::Map,
            Tag::CountedHashMap | Tag::CountedHashSet => Kind::CountedMap,
            Tag::ArrayList => Kind::List,
            Tag::LinkedArrayList => Kind::Linked,
            Tag::SortedMap | Tag::SortedSet => {
                return Err(Error::InvalidArgument("compaction of sorted collections"))
            }
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
    fn enter(&mut self, old: u64, kind: Kind, depth: u32, limit: u64, nest: u32) -> Result<Enter> {
        let limit = match kind {
            Kind::List => {
                // validates the size against the storage, and the root
                let list = ArrayList::read(&self.src, old)?;
                list.size
            }
            Kind::Linked => {
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
    fn memo_hit(&self, old: u64, kind: Kind, limit: u64) -> Result<Option<u64>> {
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
    fn open(&mut self, old: u64, kind: Kind, depth: u32, limit: u64, nest: u32) -> Result<Frame> {
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
            Kind::Kv => (old.checked_add(self.hash_len), f.buf.get_mut(..len)),
            _ => (Some(old), f.buf.get_mut(..len)),
        };
        let from = from.ok_or(Error::corrupt(old, "record past any possible storage"))?;
        let buf = buf.ok_or(Error::corrupt(old, "record larger than a block"))?;
        self.src.read_into(from, buf)?;
        if let Kind::ListBlock { level } = kind {
            // Slots past the list's size are stale: written empty.
            let cap = 1u64 << (4 * u32::from(level).min(15));
            let live = limit.div_ceil(cap).min(BLOCK_SLOTS as u64) as usize;
            if let Some(stale) = f.buf.get_mut(SLOT_LEN as usize * live..BLOCK_LEN as usize) {
                stale.fill(0);
            }
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
                if f.kind == Kind::Kv {
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
        let kind = Kind::Bytes { tagged: slot.full };
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

    /// Writes the history ArrayList of the kept moments' root slots: the
    /// first leaf block into the block reserved at 36, the others and the
    /// upper levels appended. Returns the root block's position.
    fn write_history(&mut self, moments: &[Slot]) -> Result<u64> {
        let mut level: Vec<u64> = Vec::with_capacity(moments.len().div_ceil(BLOCK_SLOTS));
        for (j, chunk) in moments.chunks(BLOCK_SLOTS).enumerate() {
            let block = block_of(chunk.iter().copied());
            if j == 0 {
                self.out.write_at(HISTORY_BLOCK, &block)?;
                level.push(HISTORY_BLOCK);
            } else {
                level.push(self.out.len());
                self.out.append(&block)?;
            }
        }
        while level.len() > 1 {
            let mut up = Vec::with_capacity(level.len().div_ceil(BLOCK_SLOTS));
            for chunk in level.chunks(BLOCK_SLOTS) {
                let block = block_of(chunk.iter().map(|&p| Slot::new(Tag::Index, p)));
                up.push(self.out.len());
                self.out.append(&block)?;
            }
            level = up;
        }
        Ok(level.first().copied().unwrap_or(HISTORY_BLOCK))
    }
}

/// An index block holding `slots` (at most 16) and empty slots after them.
fn block_of(slots: impl Iterator<Item = Slot>) -> [u8; BLOCK_LEN as usize] {
    let mut b = [0u8; BLOCK_LEN as usize];
    for (dst, s) in b.chunks_exact_mut(SLOT_LEN as usize).zip(slots) {
        dst.copy_from_slice(&s.encode());
    }
    b
}

/// Decodes the slot at `off` of a record buffer (read at `at` in the source).
fn slot_in(buf: &[u8], off: usize, at: u64) -> Result<Slot> {
    let raw: [u8; 9] = buf
        .get(off..off + SLOT_LEN as usize)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::corrupt(at, "slot outside its record"))?;
    Slot::decode(raw, at)
}

/// The big-endian u64 at `off` of a record buffer.
fn u64_in(buf: &[u8], off: usize) -> u64 {
    buf.get(off..off + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// Points the pointer at `off` of a record buffer at `new`.
fn set_ptr(buf: &mut [u8], off: usize, new: u64) {
    if let Some(dst) = buf.get_mut(off..off + 8) {
        dst.copy_from_slice(&new.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hasher;

    #[test]
    fn child_offsets_match_the_layouts() {
        assert_eq!(Kind::Map.ptr_off(0), 1);
        assert_eq!(Kind::Map.ptr_off(15), 15 * 9 + 1);
        assert_eq!(Kind::CountedMap.ptr_off(0), 9);
        assert_eq!(Kind::Kv.ptr_off(1), 10);
        assert_eq!(Kind::LinkedBlock { shift: 0 }.ptr_off(2), 35);
        assert_eq!(Kind::List.ptr_off(0), 8);
        assert_eq!(Kind::Linked.ptr_off(0), 8);
        for k in [
            Kind::Map,
            Kind::CountedMap,
            Kind::ListBlock { level: 0 },
            Kind::LinkedBlock { shift: 0 },
        ] {
            assert!(k.child_off(15) + SLOT_LEN as usize <= k.len());
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
