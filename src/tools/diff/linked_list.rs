//! RRB LinkedArrayLists, compared index by index (B-tree ones are walked
//! with the sorted collections' streams, in `sorted`).
//!
//! The two relaxed radix trees need not align (slices and concatenations
//! leave partly filled subtrees anywhere), so each side keeps its own walk
//! down to the entry at the common item offset, and the two walks move in
//! step. Where both stand on an identical entry (same slot, same leaf
//! count) at the same offset, the whole subtree is skipped; otherwise the
//! taller side descends, down to items compared one by one. Changes at the
//! end cost O(log n) per item; an insertion or removal at `k` shifts the
//! offsets of everything after it, so those items are read and compared.

use super::walker::{Cmp, Frame, Side, Step, Val};
use super::{ChangeKind, Diff};
use crate::api::value::PathStepBuf;
use crate::error::{Error, Result};
use crate::format::{
    LinkedEntry, Slot, Tag, BLOCK_SLOTS, LINKED_BLOCK_LEN, LINKED_SLOT_LEN, MAX_LINKED_SHIFT,
};
use crate::tree::linked_list::rrb::LinkedList;
use crate::tree::linked_list::Linked;

/// A LinkedArrayList block on a walk's stack.
struct LBlock {
    pos: u64,
    raw: [u8; LINKED_BLOCK_LEN as usize],
    next: u8,
    shift: u8,
}

/// One side of a LinkedArrayList walk: the blocks from the root down to
/// the entry holding the item at the walk's offset.
pub(super) struct LWalk {
    size: u64,
    stack: Vec<LBlock>,
}

/// Two LinkedArrayLists walked in step.
pub(super) struct LinkedFrame {
    pub(super) plen: usize,
    nest: u32,
    /// Index of the next item on both sides.
    off: u64,
    a: LWalk,
    b: LWalk,
}

/// The entry a LinkedArrayList walk stands on.
#[derive(Clone, Copy)]
struct Peek {
    entry: LinkedEntry,
    shift: u8,
    pos: u64,
}

impl Peek {
    /// The same item, or the same subtree (its `full` flag aside: appends
    /// set it in place on a shared child).
    fn same(&self, other: &Peek) -> bool {
        self.shift == other.shift
            && if self.shift == 0 {
                self.entry.slot == other.entry.slot
            } else {
                self.entry.slot.value == other.entry.slot.value
                    && self.entry.size == other.entry.size
            }
    }

    /// The item it stands on, as a value.
    fn val(&self) -> Val {
        Val {
            slot: self.entry.slot,
            pos: Some(self.pos),
        }
    }
}

impl LWalk {
    /// The entry the walk stands on (skipping empty entries and finished
    /// blocks); `None` when the tree is exhausted.
    fn peek(&mut self) -> Result<Option<Peek>> {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Ok(None);
            };
            let i = top.next as usize;
            if i >= BLOCK_SLOTS {
                self.stack.pop();
                continue;
            }
            let entry = LinkedEntry::decode_in(&top.raw, i, top.pos)?;
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
    fn peek_alive(&mut self, off: u64) -> Result<Option<Peek>> {
        if off >= self.size {
            return Ok(None);
        }
        match self.peek()? {
            Some(p) => Ok(Some(p)),
            None => Err(Error::corrupt(
                0,
                "linked list holds fewer items than its size",
            )),
        }
    }

    /// Steps past the entry the walk stands on.
    fn advance(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            top.next = top.next.saturating_add(1);
        }
    }
}

impl<'r> Diff<'r> {
    /// Sets up the walk of two LinkedArrayLists (their headers, then their
    /// root blocks), unless they are the same list.
    pub(super) fn open_linked(&mut self, a: Slot, b: Slot, nest: u32, plen: usize) -> Result<Cmp> {
        self.tick(a.value)?;
        let la = Linked::from_slot(&self.a, a)?;
        self.tick(b.value)?;
        let lb = Linked::from_slot(&self.b, b)?;
        let (la, lb) = match (la, lb) {
            (Linked::Rrb(la), Linked::Rrb(lb)) => (la, lb),
            (Linked::BTree(la), Linked::BTree(lb)) => {
                return self.open_btree_lists(la, lb, nest, plen)
            }
            (la, lb) => {
                return Err(Error::WrongListFamily {
                    what: "comparing lists",
                    needed: la.family().name(),
                    found: lb.family().name(),
                })
            }
        };
        if la.size == lb.size && la.root == lb.root && la.shift == lb.shift {
            return Ok(Cmp::Same);
        }
        Ok(Cmp::Nested(Box::new(Frame::Linked(Box::new(
            LinkedFrame {
                plen,
                nest,
                off: 0,
                a: self.linked_walk(Side::A, la)?,
                b: self.linked_walk(Side::B, lb)?,
            },
        )))))
    }

    /// One side's walk, standing before its first item.
    fn linked_walk(&mut self, side: Side, list: LinkedList) -> Result<LWalk> {
        let mut stack = Vec::with_capacity(list.shift as usize + 1);
        if list.size > 0 {
            stack.push(LBlock {
                pos: list.root,
                raw: self.read(side, list.root)?,
                next: 0,
                shift: list.shift,
            });
        }
        Ok(LWalk {
            size: list.size,
            stack,
        })
    }

    /// Enters the internal entry the walk stands on.
    fn descend(&mut self, side: Side, w: &mut LWalk, p: Peek) -> Result<()> {
        w.advance();
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

    /// Both walks stand on an entry at offset `f.off`: skips them when they
    /// are the same, compares them when both are items, else descends the
    /// taller side (both when equally tall).
    fn linked_both(&mut self, f: &mut LinkedFrame, x: Peek, y: Peek) -> Result<Option<Step<'r>>> {
        let k = f.off;
        let same = x.same(&y);
        if !same && (x.shift > 0 || y.shift > 0) {
            if x.shift >= y.shift && x.shift > 0 {
                self.descend(Side::A, &mut f.a, x)?;
            }
            if y.shift >= x.shift && y.shift > 0 {
                self.descend(Side::B, &mut f.b, y)?;
            }
            return Ok(None);
        }
        let n = if x.shift == 0 { 1 } else { x.entry.size };
        f.a.advance();
        f.b.advance();
        f.off = f
            .off
            .checked_add(n)
            .ok_or(Error::corrupt(x.pos, "linked list counts overflow"))?;
        if same {
            return Ok(None); // the same subtree (or item) at the same offset
        }
        self.pair(x.val(), y.val(), f.nest + 1, |_| Ok(PathStepBuf::index(k)))
    }

    /// Only one side's walk has an entry at offset `f.off`: descends it, or
    /// reports its item as removed (side A) or added (side B).
    fn linked_one(&mut self, f: &mut LinkedFrame, side: Side, p: Peek) -> Result<Option<Step<'r>>> {
        let w = match side {
            Side::A => &mut f.a,
            Side::B => &mut f.b,
        };
        if p.shift > 0 {
            self.descend(side, w, p)?;
            return Ok(None);
        }
        w.advance();
        let k = f.off;
        f.off += 1;
        let path = self.path_with(PathStepBuf::index(k))?;
        let c = match side {
            Side::A => self.change(ChangeKind::Removed, path, Some(p.val()), None)?,
            Side::B => self.change(ChangeKind::Added, path, None, Some(p.val()))?,
        };
        Ok(Some(Step::Emit(c)))
    }

    /// Steps two linked lists to their next change.
    pub(super) fn step_linked(&mut self, f: &mut LinkedFrame) -> Result<Step<'r>> {
        loop {
            let pa = f.a.peek_alive(f.off)?;
            let pb = f.b.peek_alive(f.off)?;
            let step = match (pa, pb) {
                (None, None) => return Ok(Step::Done),
                (Some(x), Some(y)) => self.linked_both(f, x, y)?,
                (Some(x), None) => self.linked_one(f, Side::A, x)?,
                (None, Some(y)) => self.linked_one(f, Side::B, y)?,
            };
            if let Some(step) = step {
                return Ok(step);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_decoded_inside_the_block() {
        let raw = [0u8; LINKED_BLOCK_LEN as usize];
        assert!(LinkedEntry::decode_in(&raw, 15, 100).is_ok());
        assert!(LinkedEntry::decode_in(&raw, 16, 100).is_err());
    }
}
