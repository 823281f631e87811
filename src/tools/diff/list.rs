//! ArrayLists, compared index by index.
//!
//! Both radix trees put item `k` at the same base-16 digits, so their
//! blocks align once the shorter list's root is lifted to the taller one's
//! height ([`Node::Lifted`]: the shorter root covers the indices of the
//! taller one's leftmost subtree, which is where appends and truncations
//! move it). Identical slots are skipped only where their subtree lies
//! wholly below both lengths, since a truncated list keeps stale items in
//! its blocks. Indices past the shorter list are added or removed, one
//! change per index.

use super::node::Node;
use super::walker::{Cmp, Frame, Side, Step, Val};
use super::{ChangeKind, Diff};
use crate::api::value::PathStepBuf;
use crate::error::{Error, Result};
use crate::format::{level_capacity, list_shift, Slot, Tag, BLOCK_SLOTS};
use crate::tree::array_list::ArrayList;

/// A pair of ArrayList blocks covering the same indices.
#[derive(Clone, Copy)]
pub(super) struct ListFrame {
    pub(super) plen: usize,
    nest: u32,
    na: u64,
    nb: u64,
    /// Tree level of the blocks (0 = items).
    level: u8,
    /// Index of the first item under the blocks.
    first: u64,
    pub(super) a: Node,
    pub(super) b: Node,
    next: u8,
}

impl<'r> Diff<'r> {
    /// Sets up the walk of two ArrayLists (their headers, then the root
    /// blocks at the taller one's height), unless they are the same list.
    pub(super) fn open_list(&mut self, a: Slot, b: Slot, nest: u32, plen: usize) -> Result<Cmp> {
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

    /// Item `start` (slot `i` of a pair of leaf blocks), present on one side
    /// or both.
    fn list_item(
        &mut self,
        f: &ListFrame,
        i: usize,
        start: u64,
        (sa, sb): (Slot, Slot),
    ) -> Result<Option<Step<'r>>> {
        let (in_a, in_b) = (start < f.na, start < f.nb);
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
            return self.pair(va, vb, f.nest + 1, |_| Ok(elem));
        }
        let path = self.path_with(elem)?;
        let c = if in_a {
            self.change(ChangeKind::Removed, path, Some(va), None)?
        } else {
            self.change(ChangeKind::Added, path, None, Some(vb))?
        };
        Ok(Some(Step::Emit(c)))
    }

    /// Steps a pair of list blocks to their next change or child pair.
    pub(super) fn step_list(&mut self, f: &mut ListFrame) -> Result<Step<'r>> {
        let span = level_capacity(f.level);
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
                if let Some(step) = self.list_item(f, i, start, (sa, sb))? {
                    return Ok(step);
                }
                continue;
            }
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
        f.next = BLOCK_SLOTS as u8;
        Ok(Step::Done)
    }
}
