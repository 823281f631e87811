//! SortedMaps and SortedSets, compared by key in key order; B-tree
//! LinkedArrayLists, compared index by index.
//!
//! Each side is a stream of entries in ascending key order (a B-tree path
//! stepped from the first entry); the two streams are merged: a key on one
//! side only is removed or added, a key on both sides has its values
//! compared (a set's members are then equal). Where both paths stand in
//! the same node at the same entry, the rest of that node is the same on
//! both sides and is skipped unread, so two moments that differ in one key
//! cost little more than the paths to it; the merge stays in key order
//! since both streams skip the same entries.
//!
//! Two B-tree lists are the same kind of streams, compared by position
//! instead of key: both stand at the same index at every step, so the
//! shared rest of a node is skipped the same way, and items that differ
//! are reported at their index (an insertion shifts everything after it,
//! which is then reported item by item, as for the other lists).

use super::walker::{Cmp, Frame, Side, Step, Val};
use super::{Change, ChangeKind, Diff};
use crate::api::value::PathStepBuf;
use crate::error::{Error, Result};
use crate::format::btree::{BTreeHeader, BranchLayout};
use crate::format::{Slot, Tag};
use crate::tree::btree::path::Path;
use crate::tree::bytes;
use crate::tree::hamt::Kv;
use crate::tree::linked_list::btree::BTreeList;
use crate::tree::sorted::{kv_of, Sorted};
use std::cmp::Ordering;

/// One side's stream: the path at its next entry, and entries left.
struct Stream {
    path: Option<Path>,
    left: u64,
}

/// What a pair of B-trees holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    Set,
    List,
}

/// A pair of sorted maps or sets being merged, or of B-tree lists walked
/// in step.
pub(super) struct SortedFrame {
    pub(super) plen: usize,
    nest: u32,
    kind: Kind,
    /// The index both list streams stand at.
    off: u64,
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
        self.tick(ta.header)?;
        let ha = ta.read_header(&self.src(Side::A))?;
        self.tick(tb.header)?;
        let hb = tb.read_header(&self.src(Side::B))?;
        let kind = if tag == Tag::SortedSet {
            Kind::Set
        } else {
            Kind::Map
        };
        self.open_btrees(kind, (ta.header, ha), (tb.header, hb), nest, plen)
    }

    /// Sets up the walk of two B-tree LinkedArrayLists, unless they are the
    /// same list.
    pub(super) fn open_btree_lists(
        &mut self,
        a: BTreeList,
        b: BTreeList,
        nest: u32,
        plen: usize,
    ) -> Result<Cmp> {
        if a.size == b.size && a.root == b.root {
            return Ok(Cmp::Same);
        }
        let ha = BTreeHeader {
            size: a.size,
            root: a.root,
        };
        let hb = BTreeHeader {
            size: b.size,
            root: b.root,
        };
        self.open_btrees(Kind::List, (a.header, ha), (b.header, hb), nest, plen)
    }

    fn open_btrees(
        &mut self,
        kind: Kind,
        (pa, ha): (u64, BTreeHeader),
        (pb, hb): (u64, BTreeHeader),
        nest: u32,
        plen: usize,
    ) -> Result<Cmp> {
        let layout = match kind {
            Kind::List => BranchLayout::List,
            Kind::Map | Kind::Set => BranchLayout::Sorted,
        };
        let sa = self.stream(Side::A, ha, layout)?;
        let sb = self.stream(Side::B, hb, layout)?;
        Ok(Cmp::Nested(Box::new(Frame::Sorted(Box::new(
            SortedFrame {
                plen,
                nest,
                kind,
                off: 0,
                headers: (pa, pb),
                a: sa,
                b: sb,
            },
        )))))
    }

    fn stream(&mut self, side: Side, h: BTreeHeader, layout: BranchLayout) -> Result<Stream> {
        let src = self.src(side);
        let path = if h.size > 0 {
            self.tick(h.root)?;
            Some(Path::seek(&src, layout, h.root, 0)?)
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
        f.off = f.off.saturating_add(n);
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
        let v = self.sorted_val(side, kv, f.kind == Kind::Set)?;
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

    /// Steps a merge of two sorted collections (or the walk of two lists)
    /// to its next change or nested pair.
    pub(super) fn step_sorted(&mut self, f: &mut SortedFrame) -> Result<Step<'r>> {
        if f.kind == Kind::List {
            return self.step_btree_list(f);
        }
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
            if f.kind == Kind::Set {
                continue; // the same member
            }
            let va = self.sorted_val(Side::A, ka, false)?;
            let vb = self.sorted_val(Side::B, kb, false)?;
            if let Some(step) = self.pair(va, vb, f.nest + 1, |_| Ok(PathStepBuf::Key(key_b)))? {
                return Ok(step);
            }
        }
    }

    /// The item slot one side's list stream stands at.
    fn stream_item(&mut self, side: Side, s: &Stream) -> Result<Option<Val>> {
        let Some(path) = &s.path else {
            return Ok(None);
        };
        let pos = path.slot_pos();
        Ok(Some(Val {
            slot: self.read_slot(side, pos)?,
            pos: Some(pos),
        }))
    }

    /// Steps two B-tree lists to their next change or nested pair.
    fn step_btree_list(&mut self, f: &mut SortedFrame) -> Result<Step<'r>> {
        loop {
            if self.skip_shared(f)? {
                continue;
            }
            let va = self.stream_item(Side::A, &f.a)?;
            let vb = self.stream_item(Side::B, &f.b)?;
            let k = f.off;
            f.off = f.off.saturating_add(1);
            let index = |_: &mut Diff<'r>| Ok(PathStepBuf::index(k));
            match (va, vb) {
                (None, None) => return Ok(Step::Done),
                (Some(va), None) => {
                    self.consume(Side::A, &mut f.a, 1, None)?;
                    let path = self.path_with(PathStepBuf::index(k))?;
                    let c = self.change(ChangeKind::Removed, path, Some(va), None)?;
                    return Ok(Step::Emit(c));
                }
                (None, Some(vb)) => {
                    self.consume(Side::B, &mut f.b, 1, None)?;
                    let path = self.path_with(PathStepBuf::index(k))?;
                    let c = self.change(ChangeKind::Added, path, None, Some(vb))?;
                    return Ok(Step::Emit(c));
                }
                (Some(va), Some(vb)) => {
                    self.consume(Side::A, &mut f.a, 1, None)?;
                    self.consume(Side::B, &mut f.b, 1, None)?;
                    if let Some(step) = self.pair(va, vb, f.nest + 1, index)? {
                        return Ok(step);
                    }
                }
            }
        }
    }
}
