//! Maps and sets (HAMTs, counted or not): index blocks, counted heads,
//! key/value records, trie positions and counts.
//!
//! A record's place in a trie is fixed by its key's hash: the slot taken
//! at depth `d` is the hash's nibble `d`, read from the least significant
//! end. The walk keeps the nibble path of each map it is in, so a record's
//! stored hash is compared once, in at most `H` bytes, against the path
//! that led to it. Blocks are shared between moments (and between maps of
//! one moment); a shared block must sit at the same trie position wherever
//! it is met, or the records in it would be placed for one map and not the
//! other: positions are interned as (parent position, slot) edges, so a
//! block met again compares one number.

use super::stop::{fail, R};
use super::walk::{Agg, Frame, Node, Step, Verifier, Visit};
use super::ProblemKind;
use crate::format::{KvLayout, RecordKind, Slot, Tag, BLOCK_LEN, BLOCK_SLOTS, COUNT_LEN, SLOT_LEN};
use std::collections::HashMap;

/// What the walk knows of the maps: the layout of their key/value records,
/// the trie positions met and the nibble paths of the maps being walked.
#[derive(Debug)]
pub(super) struct Tries {
    /// Where the hash, key and value of a key/value record lie.
    kv: KvLayout,
    /// Number of trie levels (2H).
    max_depth: u32,
    /// Trie positions: (parent position, slot) → id; a root is 0.
    tids: HashMap<(u64, u8), u64>,
    next_tid: u64,
    /// The nibble path of each map being walked (innermost last), as the
    /// end of a hash read backwards: byte `j` holds the nibbles of depths
    /// `2j` (low) and `2j + 1` (high). It grows with the depth reached.
    paths: Vec<Vec<u8>>,
}

impl Tries {
    /// No trie met yet, for hashes of `hash_size` bytes.
    pub fn new(hash_size: u16) -> Tries {
        Tries {
            kv: KvLayout {
                hash_len: u64::from(hash_size),
            },
            max_depth: 2 * u32::from(hash_size),
            tids: HashMap::new(),
            next_tid: 1,
            paths: Vec::new(),
        }
    }

    /// Where the hash, key and value of a key/value record lie (sorted
    /// collections use the same records).
    pub fn kv(&self) -> KvLayout {
        self.kv
    }

    /// The trie position below slot `i` of the block at position `parent`.
    fn intern(&mut self, parent: u64, i: u8) -> u64 {
        let next = &mut self.next_tid;
        *self.tids.entry((parent, i)).or_insert_with(|| {
            let t = *next;
            *next += 1;
            t
        })
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
}

/// Bytes a map slot points at: the count (counted kinds) and the root block.
pub(super) fn head_len(tag: Tag) -> u64 {
    let head = match tag {
        Tag::CountedHashMap | Tag::CountedHashSet => RecordKind::CountedIndex,
        _ => RecordKind::IndexBlock,
    };
    head.len() as u64
}

/// A map or set (count at `pos` if counted): waiting for its root block.
/// `from` is the slot that referred to it; `nest` is its depth.
#[derive(Debug)]
pub(super) struct MapFrame {
    from: u64,
    pos: u64,
    tag: Tag,
    nest: u32,
    started: bool,
}

/// A map block at `depth` (the map is at depth `nest`): its slots
/// `next ..` are still to be checked.
#[derive(Debug)]
pub(super) struct MapBlockFrame {
    pos: u64,
    set: bool,
    depth: u32,
    tid: u64,
    next: u8,
    kvs: u64,
    h: u32,
    nest: u32,
}

impl MapBlockFrame {
    /// Adds what a record or child block holds.
    fn add(&mut self, a: Agg) {
        self.kvs = self.kvs.saturating_add(a.n);
        self.h = self.h.max(a.h);
    }
}

/// A key/value record: stage 0 checks the key, 1 the value, 2 is done.
#[derive(Debug)]
pub(super) struct KvFrame {
    pos: u64,
    set: bool,
    stage: u8,
    h: u32,
    nest: u32,
}

impl Verifier<'_> {
    /// A map or set referred to by `slot` at `from`; its head lies at or
    /// above `lo`.
    pub fn map(&mut self, from: u64, slot: Slot, nest: u32, lo: u64) -> R<Visit> {
        self.check_ptr(from, slot.value, head_len(slot.tag), lo)?;
        if head_len(slot.tag) > BLOCK_LEN {
            self.stats.headers += 1;
        }
        Ok(Visit::Push(Frame::Map(MapFrame {
            from,
            pos: slot.value,
            tag: slot.tag,
            nest,
            started: false,
        })))
    }

    /// Walks the root block, then checks the count and the nesting.
    pub fn step_map(&mut self, f: &mut MapFrame, ret: Option<Agg>) -> R<Step> {
        let counted = head_len(f.tag) > BLOCK_LEN;
        let set = matches!(f.tag, Tag::HashSet | Tag::CountedHashSet);
        let a = match ret {
            Some(a) => a,
            None if !f.started => {
                f.started = true;
                let block = if counted { f.pos + COUNT_LEN } else { f.pos };
                match self.visit_map_block(f.from, block, set, 0, 0, f.nest)? {
                    Visit::Done(a) => a,
                    Visit::Push(child) => return Ok(Step::Push(child)),
                }
            }
            None => Agg::default(),
        };
        if counted {
            let count = self.src.u64_at(f.pos)?;
            if count != a.n {
                return fail(
                    f.pos,
                    ProblemKind::Count,
                    format!(
                        "the {} stores count {count} but holds {} records",
                        f.tag, a.n
                    ),
                );
            }
        }
        let height = if a.n > 0 { a.h + 1 } else { 0 };
        self.check_nesting(f.pos, f.nest, height)?;
        Ok(Step::Return(Agg::height(height)))
    }

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
                    self.tries.paths.push(Vec::new());
                }
                Ok(Visit::Push(Frame::MapBlock(MapBlockFrame {
                    pos,
                    set,
                    depth,
                    tid,
                    next: 0,
                    kvs: 0,
                    h: 0,
                    nest,
                })))
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

    /// Checks the block's slots in order, descending into index blocks and
    /// key/value records.
    pub fn step_map_block(&mut self, f: &mut MapBlockFrame, ret: Option<Agg>) -> R<Step> {
        if let Some(a) = ret {
            f.add(a);
        }
        while usize::from(f.next) < BLOCK_SLOTS {
            let i = f.next;
            f.next += 1;
            match self.map_slot(f, i)? {
                Visit::Done(a) => f.add(a),
                Visit::Push(child) => return Ok(Step::Push(child)),
            }
        }
        let agg = Agg { n: f.kvs, h: f.h };
        if let Some(Node::Map { done, .. }) = self.nodes.get_mut(&f.pos) {
            *done = Some(agg);
        }
        if f.depth == 0 {
            self.tries.paths.pop();
        }
        Ok(Step::Return(agg))
    }

    /// Slot `i` of a map block: empty, an index block one level down, or a
    /// key/value record placed here.
    fn map_slot(&mut self, f: &MapBlockFrame, i: u8) -> R<Visit> {
        let spos = f.pos + SLOT_LEN * u64::from(i);
        let slot = self.slot(spos)?;
        match slot.tag {
            Tag::None => Ok(Visit::Done(Agg::default())),
            Tag::Index => {
                let max_depth = self.tries.max_depth;
                if f.depth + 1 >= max_depth {
                    return fail(
                        spos,
                        ProblemKind::TooDeep,
                        format!(
                            "an index block below depth {}: {}-byte hashes give {max_depth} levels",
                            f.depth, self.tries.kv.hash_len
                        ),
                    );
                }
                self.check_ptr(spos, slot.value, BLOCK_LEN, self.data_start)?;
                self.tries.set_nibble(f.depth, i);
                let child = self.tries.intern(f.tid, i);
                self.visit_map_block(spos, slot.value, f.set, f.depth + 1, child, f.nest)
            }
            Tag::KvPair => {
                let len = self.tries.kv.len();
                self.check_ptr(spos, slot.value, len, self.data_start)?;
                self.visit_kv(spos, slot.value, f, i)
            }
            t => fail(
                spos,
                ProblemKind::UnexpectedTag,
                format!("a {t} slot in a map block"),
            ),
        }
    }

    /// The key/value record at `kv`, in slot `i` of the block of `f`.
    fn visit_kv(&mut self, from: u64, kv: u64, f: &MapBlockFrame, i: u8) -> R<Visit> {
        self.check_hash_path(from, kv, f.depth, i)?;
        self.stats.kv_records += 1;
        Ok(Visit::Push(Frame::Kv(KvFrame {
            pos: kv,
            set: f.set,
            stage: 0,
            h: 0,
            nest: f.nest,
        })))
    }

    /// Checks the key, then the value (empty for a set member).
    pub fn step_kv(&mut self, f: &mut KvFrame, ret: Option<Agg>) -> R<Step> {
        if let Some(a) = ret {
            f.h = f.h.max(a.h);
        }
        while f.stage < 2 {
            let is_value = f.stage == 1;
            let kv = self.tries.kv;
            let spos = f.pos
                + if is_value {
                    kv.value_off()
                } else {
                    kv.key_off()
                };
            f.stage += 1;
            let slot = self.slot(spos)?;
            if is_value && f.set {
                if !slot.is_empty() {
                    return fail(
                        spos,
                        ProblemKind::SetValue,
                        format!("a set member with a {} value", slot.tag),
                    );
                }
                continue;
            }
            match self.enter(spos, slot, f.nest + 1)? {
                Visit::Done(a) => f.h = f.h.max(a.h),
                Visit::Push(child) => return Ok(Step::Push(child)),
            }
        }
        Ok(Step::Return(Agg { n: 1, h: f.h }))
    }

    /// Checks that the hash of the record at `kv` has the nibbles of the
    /// current path at depths `0 .. depth`, and `i` at `depth`.
    fn check_hash_path(&mut self, from: u64, kv: u64, depth: u32, i: u8) -> R<()> {
        self.tries.set_nibble(depth, i);
        let hash_len = self.tries.kv.hash_len;
        let nibbles = u64::from(depth) + 1;
        let (whole, part) = (nibbles / 2, nibbles % 2);
        // The last `whole + part` bytes of the hash hold those nibbles
        // (depth < 2H, so they exist); with an odd count, only the low
        // nibble of the first of them.
        let len = (whole + part).min(hash_len);
        let stored = self.src.bytes(kv + hash_len - len, len)?;
        let path = self
            .tries
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{HashKind, Hasher};
    use crate::tools::verify::walk::walked;
    use crate::tree::access::Src;
    use crate::Database;

    #[test]
    fn the_hash_path_check_looks_at_every_nibble_up_to_the_depth() {
        // a 3-byte hash: nibbles from the least significant end are 6 5 4 3 2 1
        let hash = [0x12u8, 0x34, 0x56];
        let nibble = |d: u32| crate::format::hash_nibble(&hash, d as usize).unwrap() as u8;
        let mut bytes = hash.to_vec();
        bytes.extend_from_slice(&[0; 18]);
        let mut v = Verifier::new(Src::bytes_only(&bytes, Hasher::new(HashKind::Sha1)));
        v.tries = Tries::new(3);
        v.tries.paths.push(Vec::new());
        // deeper first, then shallower again: the path is longer than
        // the depth being checked
        for depth in (0..6u32).chain((0..6).rev()) {
            for d in 0..depth {
                v.tries.set_nibble(d, nibble(d));
            }
            assert!(v.check_hash_path(0, 0, depth, nibble(depth)).is_ok());
            let wrong = (nibble(depth) + 1) & 0xF;
            assert!(v.check_hash_path(0, 0, depth, wrong).is_err(), "{depth}");
            for d in 0..depth {
                v.tries.set_nibble(d, (nibble(d) + 1) & 0xF);
                assert!(
                    v.check_hash_path(0, 0, depth, nibble(depth)).is_err(),
                    "nibble {d} at depth {depth}"
                );
                v.tries.set_nibble(d, nibble(d));
            }
        }
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
        assert!(v.tries.tids.len() as u64 <= v.stats.map_blocks);
        assert!(v.tries.paths.is_empty(), "every map's path was popped");
    }

    #[test]
    fn heads_are_the_layout_tables() {
        assert_eq!(head_len(Tag::HashMap), BLOCK_LEN);
        assert_eq!(head_len(Tag::HashSet), BLOCK_LEN);
        assert_eq!(head_len(Tag::CountedHashMap), COUNT_LEN + BLOCK_LEN);
        assert_eq!(head_len(Tag::CountedHashSet), COUNT_LEN + BLOCK_LEN);
        let t = Tries::new(20);
        assert_eq!((t.kv.len(), t.max_depth), (20 + 2 * SLOT_LEN, 40));
    }
}
