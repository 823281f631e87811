//! The hash array mapped trie behind HashMap, HashSet and their counted kinds.
//!
//! A map is a 16-way trie of 144-byte index blocks keyed by the nibbles of
//! the key hash, least significant first. Leaves are key/value records
//! (`hash`, key slot, value slot). Counted kinds keep an 8-byte entry count
//! in front of the root block.

use crate::error::{Error, Result};
use crate::format::{
    block_slot, hash_nibble, KvLayout, Slot, Tag, BLOCK_LEN, BLOCK_SLOTS, COUNT_LEN, SLOT_LEN,
};
use crate::tree::access::{SlotPos, Src, TxCore};

/// A map or set located in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hamt {
    pub kind: Tag,
    /// The root index block.
    pub block: u64,
    /// The stored count, for counted kinds.
    pub count_pos: Option<u64>,
}

/// A key/value record located in storage: its position and the length of
/// the hash it starts with; the rest of its layout is [`KvLayout`]'s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kv {
    pub pos: u64,
    pub hash_len: u64,
}

impl Kv {
    /// The record's layout.
    #[inline]
    pub fn layout(self) -> KvLayout {
        KvLayout {
            hash_len: self.hash_len,
        }
    }
    /// Position of the key slot.
    #[inline]
    pub fn key_pos(self) -> u64 {
        self.pos + self.layout().key_off()
    }
    /// Position of the value slot.
    #[inline]
    pub fn value_pos(self) -> u64 {
        self.pos + self.layout().value_off()
    }
}

impl Hamt {
    /// Interprets a slot of one of the four HAMT kinds.
    pub fn from_slot(slot: Slot) -> Result<Hamt> {
        let counted = match slot.tag {
            Tag::HashMap | Tag::HashSet => false,
            Tag::CountedHashMap | Tag::CountedHashSet => true,
            found => {
                return Err(Error::UnexpectedTag {
                    expected: "a map or set",
                    found,
                })
            }
        };
        Ok(Hamt {
            kind: slot.tag,
            block: slot.value + if counted { COUNT_LEN } else { 0 },
            count_pos: counted.then_some(slot.value),
        })
    }

    /// Length of the record the map's slot points at (count and root block).
    fn head_len(kind: Tag) -> u64 {
        match kind {
            Tag::CountedHashMap | Tag::CountedHashSet => COUNT_LEN + BLOCK_LEN,
            _ => BLOCK_LEN,
        }
    }

    /// The stored count.
    pub fn count(&self, src: &Src<'_>) -> Result<u64> {
        match self.count_pos {
            Some(p) => src.u64_at(p),
            None => Err(Error::NotCounted(self.kind)),
        }
    }

    /// Finds the record for `hash`.
    pub fn find(&self, src: &Src<'_>, hash: &[u8]) -> Result<Option<Kv>> {
        src.hasher.check_len(hash)?;
        let mut block = self.block;
        // nibbles from the least significant: low then high of the last
        // byte, and so on towards the first
        for nibble in hash.iter().rev().flat_map(|&b| [b & 0xF, b >> 4]) {
            let slot = src.slot(block + SLOT_LEN * u64::from(nibble))?;
            match slot.tag {
                Tag::None => return Ok(None),
                Tag::Index => block = slot.value,
                Tag::KvPair => {
                    return Ok(src.eq_at(slot.value, hash)?.then_some(Kv {
                        pos: slot.value,
                        hash_len: hash.len() as u64,
                    }))
                }
                _ => return Err(Error::corrupt(block, "unexpected tag in a map block")),
            }
        }
        Err(Error::TooDeep { pos: block })
    }

    /// Iterates over the map's records in trie order.
    pub fn iter<'r>(&self, src: Src<'r>) -> HamtIter<'r> {
        let mut stack = Vec::with_capacity(8);
        stack.push(Frame::new(self.block));
        HamtIter {
            budget: src.len() / BLOCK_LEN + 1,
            max_depth: 2 * src.hasher.size(),
            src,
            stack,
        }
    }

    // ----- writing -----

    /// Opens the map at `pos` for writing, creating an empty one in an empty
    /// slot and copying a committed one (count and root block).
    pub fn open_mut(core: &mut TxCore<'_>, pos: SlotPos, kind: Tag) -> Result<Hamt> {
        let len = Self::head_len(kind);
        let ptr = core.open_structure(pos, kind, len, |core| core.alloc_zeroed(len))?;
        Hamt::from_slot(Slot::new(kind, ptr))
    }

    /// Finds the record for `hash`, owning every block on its path and the
    /// record itself; creates the record (bumping the count) if `create`.
    /// The flag tells whether the record was created.
    pub fn entry_mut(
        &self,
        core: &mut TxCore<'_>,
        hash: &[u8],
        create: bool,
    ) -> Result<Option<(Kv, bool)>> {
        core.st.hasher.check_len(hash)?;
        let hash_len = hash.len() as u64;
        let layout = KvLayout { hash_len };
        let mut block = self.block;
        for depth in 0.. {
            let i = hash_nibble(hash, depth).ok_or_else(|| Error::TooDeep { pos: block })?;
            let spos = block + SLOT_LEN * i as u64;
            let slot = core.src().slot(spos)?;
            match slot.tag {
                Tag::None => {
                    if !create {
                        return Ok(None);
                    }
                    let kv = core.alloc(hash)?;
                    // then the key and value slots, empty
                    core.alloc_zeroed(layout.len() - layout.key_off())?;
                    core.write_at(spos, &Slot::new(Tag::KvPair, kv).encode())?;
                    self.add_to_count(core, 1)?;
                    return Ok(Some((Kv { pos: kv, hash_len }, true)));
                }
                Tag::Index => {
                    let (child, copied) = core.own(slot.value, BLOCK_LEN)?;
                    if copied {
                        core.write_at(spos, &Slot::new(Tag::Index, child).encode())?;
                    }
                    block = child;
                }
                Tag::KvPair => {
                    if core.src().eq_at(slot.value, hash)? {
                        let (kv, copied) = core.own(slot.value, layout.len())?;
                        if copied {
                            core.write_at(spos, &Slot::new(Tag::KvPair, kv).encode())?;
                        }
                        return Ok(Some((Kv { pos: kv, hash_len }, false)));
                    }
                    if !create {
                        return Ok(None);
                    }
                    // Push the resident record one level down and retry there.
                    let next = depth + 1;
                    let byte_index = hash_len
                        .checked_sub(1 + next as u64 / 2)
                        .ok_or_else(|| Error::TooDeep { pos: block })?;
                    let [b] = core.src().array::<1>(slot.value + byte_index)?;
                    let j = ((b >> (4 * (next % 2))) & 0xF) as u64;
                    let child = core.alloc_zeroed(BLOCK_LEN)?;
                    core.write_at(child + SLOT_LEN * j, &slot.encode())?;
                    core.write_at(spos, &Slot::new(Tag::Index, child).encode())?;
                    block = child;
                }
                _ => return Err(Error::corrupt(spos, "unexpected tag in a map block")),
            }
        }
        Ok(None)
    }

    fn add_to_count(&self, core: &mut TxCore<'_>, delta: i64) -> Result<()> {
        if let Some(cp) = self.count_pos {
            let c = core.src().u64_at(cp)?;
            core.write_u64(cp, c.wrapping_add_signed(delta))?;
        }
        Ok(())
    }

    /// Removes the record for `hash`; returns whether it was there.
    ///
    /// Blocks left with no entries disappear, and a block left with a single
    /// record is replaced by that record, so the trie stays as shallow as
    /// the remaining keys allow. Nothing is written when the key is absent.
    pub fn remove(&self, core: &mut TxCore<'_>, hash: &[u8]) -> Result<bool> {
        core.st.hasher.check_len(hash)?;
        // Walk down read-only, remembering the path.
        let mut path: Vec<(u64, usize)> = Vec::new();
        {
            let src = core.src();
            let mut block = self.block;
            for depth in 0.. {
                let i = hash_nibble(hash, depth).ok_or_else(|| Error::TooDeep { pos: block })?;
                let slot = src.block_slot(block, i)?;
                path.push((block, i));
                match slot.tag {
                    Tag::None => return Ok(false),
                    Tag::Index => block = slot.value,
                    Tag::KvPair if src.eq_at(slot.value, hash)? => break,
                    Tag::KvPair => return Ok(false),
                    _ => return Err(Error::corrupt(block, "unexpected tag in a map block")),
                }
            }
        }
        // Rebuild from the bottom up.
        let mut replacement = Slot::EMPTY;
        for (level, &(block, i)) in path.iter().enumerate().rev() {
            if level > 0 {
                let mut slots = [Slot::EMPTY; BLOCK_SLOTS];
                let src = core.src();
                for (k, s) in slots.iter_mut().enumerate() {
                    *s = src.block_slot(block, k)?;
                }
                if let Some(s) = slots.get_mut(i) {
                    *s = replacement;
                }
                let mut live = slots.iter().filter(|s| s.tag != Tag::None);
                match (live.next(), live.next()) {
                    (None, _) => {
                        replacement = Slot::EMPTY;
                        continue;
                    }
                    (Some(only), None) if only.tag == Tag::KvPair => {
                        replacement = *only;
                        continue;
                    }
                    _ => {}
                }
            }
            let (owned, copied) = core.own(block, BLOCK_LEN)?;
            core.write_at(owned + SLOT_LEN * i as u64, &replacement.encode())?;
            if !copied {
                break;
            }
            replacement = Slot::new(Tag::Index, owned);
        }
        self.add_to_count(core, -1)?;
        Ok(true)
    }
}

/// Depth-first iteration over a trie's records.
pub(crate) struct HamtIter<'r> {
    src: Src<'r>,
    stack: Vec<Frame>,
    /// Blocks that may still be entered: a well-formed map has no more
    /// blocks than the storage can hold, so this stops hostile cycles.
    budget: u64,
    max_depth: usize,
}

/// A block being iterated: its bytes are read once, on first visit.
struct Frame {
    block: u64,
    raw: Option<[u8; BLOCK_LEN as usize]>,
    next: usize,
}

impl Frame {
    fn new(block: u64) -> Self {
        Frame {
            block,
            raw: None,
            next: 0,
        }
    }
}

impl HamtIter<'_> {
    fn step(&mut self) -> Result<Option<Kv>> {
        while let Some(top) = self.stack.last_mut() {
            let raw = match &top.raw {
                Some(raw) => raw,
                None => top
                    .raw
                    .insert(self.src.array::<{ BLOCK_LEN as usize }>(top.block)?),
            };
            // skip never-written slots (a zero tag byte) without decoding
            let mut i = top.next;
            while raw.get(i * SLOT_LEN as usize) == Some(&0) {
                i += 1;
            }
            if i >= BLOCK_SLOTS {
                self.stack.pop();
                continue;
            }
            top.next = i + 1;
            let block = top.block;
            let slot = block_slot(raw, i, block)?;
            match slot.tag {
                Tag::None => {}
                Tag::Index => {
                    if self.budget == 0 {
                        return Err(Error::corrupt(slot.value, "map blocks form a cycle"));
                    }
                    if self.stack.len() >= self.max_depth {
                        return Err(Error::TooDeep { pos: slot.value });
                    }
                    self.budget -= 1;
                    self.stack.push(Frame::new(slot.value));
                }
                Tag::KvPair => {
                    return Ok(Some(Kv {
                        pos: slot.value,
                        hash_len: self.src.hasher.size() as u64,
                    }))
                }
                _ => return Err(Error::corrupt(block, "unexpected tag in a map block")),
            }
        }
        Ok(None)
    }
}

impl Iterator for HamtIter<'_> {
    type Item = Result<Kv>;
    fn next(&mut self) -> Option<Result<Kv>> {
        match self.step() {
            Ok(kv) => kv.map(Ok),
            Err(e) => {
                self.stack.clear();
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::HashKind;
    use crate::Database;

    fn hash(last: u8, second_last: u8) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[19] = last;
        h[18] = second_last;
        h
    }

    fn root_slot(db: &Database, i: usize) -> Slot {
        let m = db.moment(-1).unwrap().slot();
        let hamt = Hamt::from_slot(m).unwrap();
        db.src().block_slot(hamt.block, i).unwrap()
    }

    #[test]
    fn colliding_low_nibbles_split_then_collapse() {
        let mut db = Database::memory_with(HashKind::Sha1);
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            m.put_by_hash(&hash(0x21, 0), 1u64)?;
            m.put_by_hash(&hash(0x31, 0), 2u64)
        })
        .unwrap();
        // both share nibble 1 at depth 0, so root slot 1 is an index block
        let s = root_slot(&db, 1);
        assert_eq!(s.tag, Tag::Index);
        let child2 = db.src().block_slot(s.value, 2).unwrap();
        let child3 = db.src().block_slot(s.value, 3).unwrap();
        assert_eq!((child2.tag, child3.tag), (Tag::KvPair, Tag::KvPair));

        db.transact(|tx| tx.root_map()?.remove_by_hash(&hash(0x21, 0)).map(|_| ()))
            .unwrap();
        // the lone survivor moves back up into the root
        assert_eq!(root_slot(&db, 1).tag, Tag::KvPair);
        let m = db.moment(-1).unwrap().as_map().unwrap();
        assert_eq!(
            m.get_by_hash(&hash(0x31, 0))
                .unwrap()
                .unwrap()
                .as_uint()
                .unwrap(),
            2
        );
        assert!(m.get_by_hash(&hash(0x21, 0)).unwrap().is_none());
        // the earlier moment still has both
        let old = db.moment(0).unwrap().as_map().unwrap();
        assert_eq!(old.iter().count(), 2);
    }

    #[test]
    fn deep_chains_from_long_shared_suffixes() {
        // hashes equal in their lowest 3 bytes: 6 levels of index blocks
        let mut a = [0u8; 20];
        let mut b = [0u8; 20];
        a[16] = 1;
        b[16] = 2;
        let mut db = Database::memory_with(HashKind::Sha1);
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            m.put_by_hash(&a, "a")?;
            m.put_by_hash(&b, "b")
        })
        .unwrap();
        let m = db.moment(-1).unwrap().as_map().unwrap();
        assert_eq!(
            &*m.get_by_hash(&a).unwrap().unwrap().as_bytes().unwrap(),
            b"a"
        );
        assert_eq!(
            &*m.get_by_hash(&b).unwrap().unwrap().as_bytes().unwrap(),
            b"b"
        );
        let mut depth = 0;
        let mut s = root_slot(&db, 0);
        while s.tag == Tag::Index {
            depth += 1;
            s = db.src().block_slot(s.value, 0).unwrap();
        }
        assert_eq!(depth, 6);
        db.transact(|tx| tx.root_map()?.remove_by_hash(&a).map(|_| ()))
            .unwrap();
        assert_eq!(root_slot(&db, 0).tag, Tag::KvPair, "chain collapsed");
    }

    #[test]
    fn removing_an_absent_key_writes_nothing() {
        let mut db = Database::memory_with(HashKind::Sha1);
        db.transact(|tx| tx.root_map()?.put("k", 1u64)).unwrap();
        let before = db.len();
        let removed = db
            .transact(|tx| {
                let mut m = tx.root_map()?;
                let len = m.view()?.iter().count();
                assert_eq!(len, 1);
                m.remove("absent")
            })
            .unwrap();
        assert!(!removed);
        // the new moment copied only the root block (144 bytes) and added a history slot
        assert_eq!(db.len() - before, BLOCK_LEN);
    }

    #[test]
    fn counted_map_counts_live_entries() {
        let mut db = Database::memory();
        db.transact(|tx| {
            let mut m = tx.root().counted_hash_map()?;
            m.put("a", 1u64)?;
            m.put("b", 2u64)?;
            m.put("a", 3u64)?;
            assert!(!m.remove("zz")?);
            assert!(m.remove("b")?);
            assert_eq!(m.count()?, 1);
            Ok::<(), crate::Error>(())
        })
        .unwrap();
        let m = db.moment(-1).unwrap().as_map().unwrap();
        assert_eq!(m.count().unwrap(), 1);
        assert!(matches!(
            db.moment(-1).unwrap().as_set(),
            Err(crate::Error::UnexpectedTag { .. })
        ));
    }
}
