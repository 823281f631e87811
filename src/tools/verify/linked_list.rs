//! LinkedArrayLists (RRB trees): headers, blocks, leaf counts, full flags
//! and their warnings.
//!
//! Unlike an ArrayList, a LinkedArrayList's shape does not follow from its
//! size: blocks may be partly filled anywhere, and every internal entry
//! stores the number of items below it. Those counts are what readers
//! trust, so they are the invariant: each entry's count equals the items of
//! its subtree, and the header's size equals the items of the tree.
//! Occupied entries form a prefix of their block.
//!
//! The `full` flag on a non-last child that holds fewer items than its
//! capacity is lost in lists the reference writes (FORMAT.md §9, 7a);
//! reads by counts cope with it, so it is a warning, as is an internal
//! entry with an empty subtree, which this crate never writes.

use super::stop::{fail, refine, R};
use super::walk::{Agg, Frame, Node, Step, Verifier, Visit};
use super::ProblemKind;
use crate::format::{
    level_capacity, LinkedEntry, LinkedHeader, Tag, BLOCK_SLOTS, LINKED_BLOCK_LEN,
    LINKED_HEADER_LEN, LINKED_SLOT_LEN, MAX_LINKED_SHIFT,
};

/// A LinkedArrayList whose header is at `pos`: waiting for its root block.
/// `from` is the slot that referred to it; `nest` is its depth.
#[derive(Debug)]
pub(super) struct LinkedFrame {
    from: u64,
    pos: u64,
    size: u64,
    root: u64,
    shift: u8,
    nest: u32,
    started: bool,
}

/// A LinkedArrayList block at `shift` (0 = items): its entries `next ..`
/// are still to be checked.
#[derive(Debug)]
pub(super) struct LinkedBlockFrame {
    pos: u64,
    shift: u8,
    next: u8,
    /// Items below the entries checked so far.
    items: u64,
    h: u32,
    /// An empty entry was met: every later one must be empty too.
    ended: bool,
    /// The previous occupied internal entry: (position, size, full).
    prev: Option<(u64, u64, bool)>,
    /// The internal entry whose child is being walked: (position, size);
    /// `None` while an item is.
    wait: Option<(u64, u64)>,
    item_nest: u32,
}

impl LinkedBlockFrame {
    /// Adds what the entry being waited for holds: its child's items
    /// (which must be the entry's count), or one item.
    fn add(&mut self, a: Agg) -> R<()> {
        let n = match self.wait.take() {
            Some((epos, size)) => {
                check_entry_size(epos, size, a.n)?;
                a.n
            }
            None => 1,
        };
        self.items = add_items(self.pos, self.items, n)?;
        self.h = self.h.max(a.h);
        Ok(())
    }
}

impl Verifier<'_> {
    /// A LinkedArrayList whose header at `p` is referred to from `from`.
    pub fn linked(&mut self, from: u64, p: u64, nest: u32) -> R<Visit> {
        self.check_ptr(from, p, LINKED_HEADER_LEN, self.data_start)?;
        self.stats.headers += 1;
        let header = LinkedHeader::decode(self.src.array(p)?);
        let shift = header.shift_bits();
        if shift > MAX_LINKED_SHIFT {
            return fail(
                p + 16,
                ProblemKind::TooDeep,
                format!("linked list shift {shift} is above {MAX_LINKED_SHIFT}"),
            );
        }
        self.check_ptr(p + 8, header.ptr, LINKED_BLOCK_LEN, self.data_start)?;
        Ok(Visit::Push(Frame::Linked(LinkedFrame {
            from,
            pos: p,
            size: header.size,
            root: header.ptr,
            shift,
            nest,
            started: false,
        })))
    }

    /// Walks the root block, then checks the size and the nesting.
    pub fn step_linked(&mut self, f: &mut LinkedFrame, ret: Option<Agg>) -> R<Step> {
        let a = match ret {
            Some(a) => a,
            None if !f.started => {
                f.started = true;
                match self.visit_linked_block(f.from, f.root, f.shift, f.nest + 1)? {
                    Visit::Done(a) => a,
                    Visit::Push(child) => return Ok(Step::Push(child)),
                }
            }
            None => Agg::default(),
        };
        if a.n != f.size {
            return fail(
                f.pos,
                ProblemKind::LinkedSize,
                format!(
                    "the header says {} items but the tree holds {}",
                    f.size, a.n
                ),
            );
        }
        let height = if f.size > 0 { a.h + 1 } else { 0 };
        self.check_nesting(f.pos, f.nest, height)?;
        Ok(Step::Return(Agg::height(height)))
    }

    /// The block at `pos` at `shift`, referred to from `from`.
    fn visit_linked_block(&mut self, from: u64, pos: u64, shift: u8, item_nest: u32) -> R<Visit> {
        match self.known(from, pos)? {
            None => {
                let node = Node::Linked { shift, done: None };
                self.new_block(pos, node, LINKED_BLOCK_LEN);
                self.stats.linked_blocks += 1;
                Ok(Visit::Push(Frame::LinkedBlock(LinkedBlockFrame {
                    pos,
                    shift,
                    next: 0,
                    items: 0,
                    h: 0,
                    ended: false,
                    prev: None,
                    wait: None,
                    item_nest,
                })))
            }
            Some(Node::Linked {
                shift: s,
                done: Some(a),
            }) if s == shift => Ok(Visit::Done(a)),
            Some(n) => {
                let wanted = format!("a linked_array_list block at shift {shift}");
                self.conflict(from, pos, &n, &wanted)
            }
        }
    }

    /// Checks the block's entries in order, descending into items (shift
    /// 0) or child blocks.
    pub fn step_linked_block(&mut self, f: &mut LinkedBlockFrame, ret: Option<Agg>) -> R<Step> {
        if let Some(a) = ret {
            f.add(a)?;
        }
        while usize::from(f.next) < BLOCK_SLOTS {
            let i = f.next;
            f.next += 1;
            if let Some(child) = self.linked_entry(f, i)? {
                return Ok(Step::Push(child));
            }
        }
        let agg = Agg { n: f.items, h: f.h };
        if let Some(Node::Linked { done, .. }) = self.nodes.get_mut(&f.pos) {
            *done = Some(agg);
        }
        Ok(Step::Return(agg))
    }

    /// Entry `i` of the block: checked, and added to the block's counts,
    /// unless its item or child must be walked first (returned).
    fn linked_entry(&mut self, f: &mut LinkedBlockFrame, i: u8) -> R<Option<Frame>> {
        let epos = f.pos + LINKED_SLOT_LEN * u64::from(i);
        let raw: [u8; LINKED_SLOT_LEN as usize] = self.src.array(epos)?;
        let entry = LinkedEntry::decode_in(&raw, 0, epos).map_err(|e| refine(e, &raw, 0))?;
        if entry.slot.is_empty() {
            f.ended = true;
            return Ok(None);
        }
        if f.ended {
            return fail(
                epos,
                ProblemKind::LinkedShape,
                "an occupied entry after an empty one".into(),
            );
        }
        let visit = if f.shift == 0 {
            f.wait = None;
            self.enter(epos, entry.slot, f.item_nest)?
        } else {
            self.internal_entry(f, epos, entry)?
        };
        match visit {
            Visit::Done(a) => f.add(a).map(|()| None),
            Visit::Push(child) => Ok(Some(child)),
        }
    }

    /// An occupied entry of an internal block, at `epos`: an index slot to
    /// a block one level down.
    fn internal_entry(
        &mut self,
        f: &mut LinkedBlockFrame,
        epos: u64,
        entry: LinkedEntry,
    ) -> R<Visit> {
        let LinkedEntry { slot, size } = entry;
        if slot.tag != Tag::Index {
            return fail(
                epos,
                ProblemKind::UnexpectedTag,
                format!("a {} slot in an internal linked list block", slot.tag),
            );
        }
        self.check_ptr(epos, slot.value, LINKED_BLOCK_LEN, self.data_start)?;
        if let Some((ppos, psize, pfull)) = f.prev {
            let cap = level_capacity(f.shift);
            if psize < cap && !pfull {
                self.warn(
                    ppos,
                    ProblemKind::LostFullFlag,
                    format!(
                        "a non-last child holds {psize} of {cap} items but is not flagged full"
                    ),
                );
            }
        }
        if size == 0 {
            self.warn(
                epos,
                ProblemKind::EmptyChild,
                "an internal entry with no items below it".into(),
            );
        }
        f.prev = Some((epos, size, slot.full));
        f.wait = Some((epos, size));
        self.visit_linked_block(epos, slot.value, f.shift - 1, f.item_nest)
    }
}

/// An internal entry at `epos` says `size` items; its subtree holds `found`.
fn check_entry_size(epos: u64, size: u64, found: u64) -> R<()> {
    if size == found {
        return Ok(());
    }
    fail(
        epos,
        ProblemKind::LinkedSize,
        format!("the entry says {size} items but its subtree holds {found}"),
    )
}

/// `a + b` items in the block at `pos`, if that fits in a u64.
fn add_items(pos: u64, a: u64, b: u64) -> R<u64> {
    match a.checked_add(b) {
        Some(n) => Ok(n),
        None => fail(
            pos,
            ProblemKind::LinkedSize,
            "a linked list block holds more than 2^64 - 1 items".into(),
        ),
    }
}
