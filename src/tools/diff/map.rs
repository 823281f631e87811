//! Maps and sets (all four HAMT kinds), compared by key.
//!
//! A key lives at the same trie position on both sides (its hash decides
//! it), so the two tries are walked in parallel, block pair by block pair,
//! slot by slot; identical slots are the same subtree and are skipped. A
//! record facing an index block on the other side becomes a one-entry
//! block one level down ([`Node::Single`]) until the other side's entries
//! are sorted out. Two records in the same slot are the same key when
//! their hashes are equal (their values are then compared), else one
//! removal and one addition.

use super::node::Node;
use super::walker::{Cmp, Frame, Side, Step, Val};
use super::{Change, ChangeKind, Diff};
use crate::api::value::PathStepBuf;
use crate::error::{Error, Result};
use crate::format::{hash_nibble, Slot, Tag, BLOCK_SLOTS};
use crate::tree::bytes;
use crate::tree::hamt::{Hamt, Kv};
use std::borrow::Cow;

/// A pair of map or set blocks at the same trie position.
#[derive(Clone, Copy)]
pub(super) struct MapFrame {
    pub(super) plen: usize,
    nest: u32,
    set: bool,
    /// Trie depth of the two blocks (0 = the roots).
    depth: usize,
    pub(super) a: Node,
    pub(super) b: Node,
    next: u8,
}

impl<'r> Diff<'r> {
    /// Sets up the walk of two maps or sets of kind `tag` (their root
    /// blocks, one read each), unless they are the same trie.
    pub(super) fn open_map(
        &mut self,
        tag: Tag,
        a: Slot,
        b: Slot,
        nest: u32,
        plen: usize,
    ) -> Result<Cmp> {
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

    /// Two records in the same trie slot: the same key (its values
    /// compared), or a removal then an addition.
    fn records(&mut self, f: &MapFrame, sa: Slot, sb: Slot) -> Result<Option<Step<'r>>> {
        let (ka, kb) = (self.record(Side::A, sa), self.record(Side::B, sb));
        if self.hash(Side::A, ka.pos)? != self.hash(Side::B, kb.pos)? {
            let added = self.entry_change(Side::B, sb, f.set)?;
            let removed = self.entry_change(Side::A, sa, f.set)?;
            self.pending.push(added);
            return Ok(Some(Step::Emit(removed)));
        }
        if f.set {
            return Ok(None); // the same member
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
        self.pair(va, vb, f.nest + 1, elem)
    }

    /// Steps a pair of map blocks to their next change or child pair.
    pub(super) fn step_map(&mut self, f: &mut MapFrame) -> Result<Step<'r>> {
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
                    if let Some(step) = self.records(f, sa, sb)? {
                        return Ok(step);
                    }
                }
                (Tag::None | Tag::Index | Tag::KvPair, Tag::None | Tag::Index | Tag::KvPair) => {
                    let a = self.map_child(Side::A, sa, f.depth)?;
                    let b = self.map_child(Side::B, sb, f.depth)?;
                    return Ok(Step::Push(Frame::Map(MapFrame {
                        depth: f.depth + 1,
                        a,
                        b,
                        next: 0,
                        ..*f
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
}

#[cfg(test)]
mod tests {
    use crate::api::value::PathStepBuf;
    use crate::error::Result;
    use crate::format::HashKind;
    use crate::tools::diff::ChangeKind;
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
}
