//! SortedMaps and SortedSets, compared by key in key order.
//!
//! Each side is a stream of entries in ascending key order (a B-tree path
//! stepped from the first entry); the two streams are merged: a key on one
//! side only is removed or added, a key on both sides has its values
//! compared (a set's members are then equal). Where both paths stand in
//! the same node at the same entry, the rest of that node is the same on
//! both sides and is skipped unread, so two moments that differ in one key
//! cost little more than the paths to it; the merge stays in key order
//! since both streams skip the same entries.

use super::walker::{Cmp, Frame, Side, Step, Val};
use super::{Change, ChangeKind, Diff};
use crate::api::value::PathStepBuf;
use crate::error::{Error, Result};
use crate::format::btree::BranchLayout;
use crate::format::{Slot, Tag};
use crate::tree::btree::path::Path;
use crate::tree::bytes;
use crate::tree::hamt::Kv;
use crate::tree::sorted::{kv_of, Sorted};
use std::cmp::Ordering;

/// One side's stream: the path at its next entry, and entries left.
struct Stream {
    path: Option<Path>,
    left: u64,
}

/// A pair of sorted maps or sets being merged.
pub(super) struct SortedFrame {
    pub(super) plen: usize,
    nest: u32,
    set: bool,
    /// Header positions, to name in errors.
    pub(super) headers: (u64, u64),
    a: Stream,
    b: Stream,
}

impl<'r> Diff<'r> {
    /// Sets up the merge of two sorted maps or sets (their headers and
    /// first entries), unless they are the same tree.
    pub(super) fn open_sorted(
        &mut self,
        tag: Tag,
        a: Slot,
        b: Slot,
        nest: u32,
        plen: usize,
    ) -> Result<Cmp> {
        let (ta, tb) = (Sorted::from_slot(a)?, Sorted::from_slot(b)?);
        let sa = self.stream(Side::A, ta)?;
        let sb = self.stream(Side::B, tb)?;
        Ok(Cmp::Nested(Box::new(Frame::Sorted(Box::new(
            SortedFrame {
                plen,
                nest,
                set: tag == Tag::SortedSet,
                headers: (ta.header, tb.header),
                a: sa,
                b: sb,
            },
        )))))
    }

    fn stream(&mut self, side: Side, tree: Sorted) -> Result<Stream> {
        self.tick(tree.header)?;
        let src = self.src(side);
        let h = tree.read_header(&src)?;
        let path = if h.size > 0 {
            self.tick(h.root)?;
            Some(Path::seek(&src, BranchLayout::Sorted, h.root, 0)?)
        } else {
            None
        };
        Ok(Stream { path, left: h.size })
    }

    /// The record one side's stream stands at.
    fn sorted_kv(&mut self, side: Side, s: &Stream) -> Result<Option<Kv>> {
        let Some(path) = &s.path else {
            return Ok(None);
        };
        let src = self.src(side);
        let slot = path.slot(&src)?;
        self.tick(slot.value)?;
        kv_of(&src, slot).map(Some)
    }

    /// Moves one side's stream past `n` entries: one, or the shared rest
    /// of a node at `height`.
    fn consume(&mut self, side: Side, s: &mut Stream, n: u64, height: Option<usize>) -> Result<()> {
        s.left = s.left.checked_sub(n).ok_or_else(|| {
            Error::corrupt(0, "sorted collection holds more entries than its size")
        })?;
        let Some(path) = s.path.as_mut() else {
            return Ok(());
        };
        if s.left == 0 {
            s.path = None;
            return Ok(());
        }
        self.tick(0)?;
        let src = self.src(side);
        match height {
            None => path.step(&src, true),
            Some(h) => path.skip_rest(&src, h),
        }
    }

    /// Skips what both streams share from where they stand; true if they
    /// did share something.
    fn skip_shared(&mut self, f: &mut SortedFrame) -> Result<bool> {
        let (Some(pa), Some(pb)) = (&f.a.path, &f.b.path) else {
            return Ok(false);
        };
        let Some(h) = pa.shared_height(pb) else {
            return Ok(false);
        };
        self.tick(0)?;
        let n = pa.rest_count(&self.src(Side::A), h)?;
        self.consume(Side::A, &mut f.a, n, Some(h))?;
        self.consume(Side::B, &mut f.b, n, Some(h))?;
        Ok(true)
    }

    /// A record's key bytes, checked against the bound on path bytes.
    fn sorted_key(&mut self, side: Side, kv: Kv) -> Result<(Slot, Vec<u8>)> {
        let slot = self.read_slot(side, kv.key_pos())?;
        if slot.tag == Tag::Bytes {
            self.tick(slot.value)?;
        }
        if !matches!(slot.tag, Tag::Bytes | Tag::ShortBytes) {
            return Err(Error::UnexpectedTag {
                expected: "a key (bytes)",
                found: slot.tag,
            });
        }
        let (data, _) = bytes::decode(&self.src(side), slot)?;
        self.check_path_bytes(data.len() as u64)?;
        Ok((slot, data.into_owned()))
    }

    /// The value a record contributes: its value slot, or a set member's key slot.
    fn sorted_val(&mut self, side: Side, kv: Kv, set: bool) -> Result<Val> {
        let pos = if set { kv.key_pos() } else { kv.value_pos() };
        Ok(Val {
            slot: self.read_slot(side, pos)?,
            pos: Some(pos),
        })
    }

    /// An entry on one side only, which its stream then moves past.
    fn sorted_one_side(
        &mut self,
        side: Side,
        f: &mut SortedFrame,
        kv: Kv,
        key: Vec<u8>,
    ) -> Result<Step<'r>> {
        let v = self.sorted_val(side, kv, f.set)?;
        let path = self.path_with(PathStepBuf::Key(key))?;
        let change: Change<'r> = match side {
            Side::A => {
                self.consume(side, &mut f.a, 1, None)?;
                self.change(ChangeKind::Removed, path, Some(v), None)?
            }
            Side::B => {
                self.consume(side, &mut f.b, 1, None)?;
                self.change(ChangeKind::Added, path, None, Some(v))?
            }
        };
        Ok(Step::Emit(change))
    }

    /// Steps a merge of two sorted collections to its next change or nested pair.
    pub(super) fn step_sorted(&mut self, f: &mut SortedFrame) -> Result<Step<'r>> {
        loop {
            if self.skip_shared(f)? {
                continue;
            }
            let ka = self.sorted_kv(Side::A, &f.a)?;
            let kb = self.sorted_kv(Side::B, &f.b)?;
            let (ka, kb) = match (ka, kb) {
                (None, None) => return Ok(Step::Done),
                (Some(ka), None) => {
                    let (_, key) = self.sorted_key(Side::A, ka)?;
                    return self.sorted_one_side(Side::A, f, ka, key);
                }
                (None, Some(kb)) => {
                    let (_, key) = self.sorted_key(Side::B, kb)?;
                    return self.sorted_one_side(Side::B, f, kb, key);
                }
                (Some(ka), Some(kb)) => (ka, kb),
            };
            if ka.pos == kb.pos {
                // the very same record
                self.consume(Side::A, &mut f.a, 1, None)?;
                self.consume(Side::B, &mut f.b, 1, None)?;
                continue;
            }
            let (slot_a, key_a) = self.sorted_key(Side::A, ka)?;
            let (slot_b, key_b) = self.sorted_key(Side::B, kb)?;
            let order = if slot_a == slot_b {
                Ordering::Equal
            } else {
                key_a.cmp(&key_b)
            };
            match order {
                Ordering::Less => return self.sorted_one_side(Side::A, f, ka, key_a),
                Ordering::Greater => return self.sorted_one_side(Side::B, f, kb, key_b),
                Ordering::Equal => {}
            }
            self.consume(Side::A, &mut f.a, 1, None)?;
            self.consume(Side::B, &mut f.b, 1, None)?;
            if f.set {
                continue; // the same member
            }
            let va = self.sorted_val(Side::A, ka, false)?;
            let vb = self.sorted_val(Side::B, kb, false)?;
            if let Some(step) = self.pair(va, vb, f.nest + 1, |_| Ok(PathStepBuf::Key(key_b)))? {
                return Ok(step);
            }
        }
    }
}
