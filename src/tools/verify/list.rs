//! ArrayLists (the history included): headers and radix blocks.
//!
//! An ArrayList's height follows from its size, so every slot on the path
//! to a live item must be an index slot, and a block is reached for a fixed
//! range of item indices. Blocks are shared: between moments, and between a
//! list and the longer or shorter lists it was copied to or from. A shared
//! block is checked for as many items as any list that reaches it holds,
//! once: the memo remembers how many of its items were checked and the
//! nesting height under each slot, so a list reaching it again checks only
//! the items not yet checked, and [`Verifier::list_height`] answers the
//! nesting height of any prefix of it without walking it again.

use super::stop::{fail, R};
use super::walk::{list_kind, Agg, Frame, Node, Step, Verifier, Visit, HISTORY_BLOCK};
use super::ProblemKind;
use crate::error::Error;
use crate::format::{
    level_capacity, list_shift, tag_at, ListHeader, RecordKind, Tag, BLOCK_LEN, BLOCK_SLOTS,
    DATABASE_START, LIST_HEADER_LEN, SLOT_LEN,
};

/// An ArrayList whose header is at `pos`: waiting for its root block.
/// `from` is the slot that referred to it; `nest` is its depth.
#[derive(Debug)]
pub(super) struct ListFrame {
    from: u64,
    pos: u64,
    size: u64,
    root: u64,
    nest: u32,
    started: bool,
}

/// Which items of which list a block is reached for: the block is at
/// `level` (0 = items), its first item has index `first`, and its first
/// `limit` items are live. Its items are at depth `item_nest`.
#[derive(Debug, Clone, Copy)]
struct Reach {
    level: u8,
    first: u64,
    limit: u64,
    item_nest: u32,
    history: bool,
}

/// An ArrayList block: checks slots `next .. end`.
#[derive(Debug)]
pub(super) struct ListBlockFrame {
    pos: u64,
    reach: Reach,
    next: u8,
    end: u8,
}

impl Verifier<'_> {
    /// An ArrayList whose header at `p` is referred to from `from`.
    pub fn list(&mut self, from: u64, p: u64, nest: u32) -> R<Visit> {
        self.check_ptr(from, p, LIST_HEADER_LEN, self.data_start)?;
        self.stats.headers += 1;
        let ListHeader { size, ptr: root } = ListHeader::decode(self.src.array(p)?);
        if size > self.end / SLOT_LEN {
            return fail(
                p,
                ProblemKind::ListSize,
                format!("{size} items cannot fit in {} committed bytes", self.end),
            );
        }
        self.check_ptr(p + 8, root, BLOCK_LEN, self.data_start)?;
        Ok(Visit::Push(Frame::List(ListFrame {
            from,
            pos: p,
            size,
            root,
            nest,
            started: false,
        })))
    }

    /// The history's `size` moments under its root block at `root` (whose
    /// pointer, in the history header, has been checked).
    pub fn history(&mut self, root: u64, size: u64) -> R<Visit> {
        let reach = Reach {
            level: list_shift(size),
            first: 0,
            limit: size,
            item_nest: 0,
            history: true,
        };
        self.visit_list_block(DATABASE_START + 8, root, reach)
    }

    /// Walks the root block, then checks the nesting.
    pub fn step_list(&mut self, f: &mut ListFrame, ret: Option<Agg>) -> R<Step> {
        let a = match ret {
            Some(a) => a,
            None if !f.started && f.size > 0 => {
                f.started = true;
                let reach = Reach {
                    level: list_shift(f.size),
                    first: 0,
                    limit: f.size,
                    item_nest: f.nest + 1,
                    history: false,
                };
                match self.visit_list_block(f.from, f.root, reach)? {
                    Visit::Done(a) => a,
                    Visit::Push(child) => return Ok(Step::Push(child)),
                }
            }
            None => Agg::default(),
        };
        let height = if f.size > 0 { a.h + 1 } else { 0 };
        self.check_nesting(f.pos, f.nest, height)?;
        Ok(Step::Return(Agg::height(height)))
    }

    /// An ArrayList block at `pos`, referred to from `from`, for the items
    /// of `reach`.
    fn visit_list_block(&mut self, from: u64, pos: u64, reach: Reach) -> R<Visit> {
        let Reach {
            level,
            first,
            limit,
            history,
            ..
        } = reach;
        let cap = level_capacity(level);
        let end = u8::try_from(limit.div_ceil(cap).min(BLOCK_SLOTS as u64)).unwrap_or(16);
        let next = match self.known(from, pos)? {
            None => {
                self.check_list_tags(pos)?;
                let node = Node::List {
                    level,
                    history,
                    busy: true,
                    first,
                    checked: 0,
                    h: [0; BLOCK_SLOTS],
                };
                self.new_block(pos, node, BLOCK_LEN);
                self.stats.list_blocks += 1;
                0
            }
            Some(Node::List {
                level: l,
                history: hi,
                first: f,
                checked,
                ..
            }) if l == level && hi == history => {
                if f != first {
                    return fail(
                        from,
                        ProblemKind::KindConflict,
                        format!(
                            "the list block at {pos} is reached for items from {first} and from {f}"
                        ),
                    );
                }
                if checked >= limit {
                    let h = self.list_height(pos, level, limit);
                    return Ok(Visit::Done(Agg::height(h)));
                }
                // Items up to `limit` are live here: check the ones not yet
                // checked (a longer list shares this block with a shorter one).
                if let Some(Node::List { busy, .. }) = self.nodes.get_mut(&pos) {
                    *busy = true;
                }
                u8::try_from(checked / cap).unwrap_or(16)
            }
            Some(n) => {
                let wanted = format!("{} block at level {level}", list_kind(history));
                return self.conflict(from, pos, &n, &wanted);
            }
        };
        Ok(Visit::Push(Frame::ListBlock(ListBlockFrame {
            pos,
            reach,
            next,
            end,
        })))
    }

    /// Every slot of a list block met for the first time must carry a
    /// valid tag, the stale ones past the list's size included (which are
    /// otherwise not followed, so their values are not decoded).
    fn check_list_tags(&self, pos: u64) -> R<()> {
        let block: [u8; BLOCK_LEN as usize] = self.src.array(pos)?;
        for i in 0..BLOCK_SLOTS {
            match tag_at(&block, i * SLOT_LEN as usize, pos) {
                Ok(_) => {}
                Err(Error::InvalidTag { tag, pos }) => {
                    return fail(
                        pos,
                        ProblemKind::InvalidTag,
                        format!("invalid tag {tag} in a list block"),
                    )
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Records the nesting height under slot `j` of the list block at `pos`.
    fn set_list_height(&mut self, pos: u64, j: u8, h: u32) {
        if let Some(Node::List { h: hs, .. }) = self.nodes.get_mut(&pos) {
            if let Some(x) = hs.get_mut(usize::from(j)) {
                *x = u16::try_from(h).unwrap_or(u16::MAX);
            }
        }
    }

    /// The nesting height of the first `limit` items under an ArrayList
    /// block whose first `limit` items are checked.
    fn list_height(&self, mut pos: u64, mut level: u8, mut limit: u64) -> u32 {
        let mut res = 0u16;
        loop {
            let Some(Node::List { checked, h, .. }) = self.nodes.get(&pos) else {
                return res.into();
            };
            let cap = level_capacity(level);
            let full = (limit / cap).min(BLOCK_SLOTS as u64) as u8;
            let rest = limit % cap;
            res = h.iter().take(full.into()).fold(res, |a, &b| a.max(b));
            if rest == 0 {
                return res.into();
            }
            // The partly used child: exact if it was checked for exactly
            // `rest` items, else ask the child itself.
            let covered = checked.saturating_sub(u64::from(full) * cap).min(cap);
            if covered == rest || level == 0 {
                return res
                    .max(h.get(usize::from(full)).copied().unwrap_or(0))
                    .into();
            }
            let at = RecordKind::ListBlock { level }.ptr_off(full) as u64;
            let Ok(child) = self.src.u64_at(pos + at) else {
                return res.into();
            };
            pos = child;
            level -= 1;
            limit = rest;
        }
    }

    /// Checks the live slots of the block, descending into items (level 0)
    /// or child blocks.
    pub fn step_list_block(&mut self, f: &mut ListBlockFrame, ret: Option<Agg>) -> R<Step> {
        if let Some(a) = ret {
            self.set_list_height(f.pos, f.next.saturating_sub(1), a.h);
        }
        while f.next < f.end {
            let j = f.next;
            f.next += 1;
            match self.list_slot(f, j)? {
                Visit::Done(a) => self.set_list_height(f.pos, j, a.h),
                Visit::Push(child) => return Ok(Step::Push(child)),
            }
        }
        let mut height = 0;
        if let Some(Node::List {
            busy, checked, h, ..
        }) = self.nodes.get_mut(&f.pos)
        {
            *busy = false;
            *checked = (*checked).max(f.reach.limit);
            height = h
                .iter()
                .take(usize::from(f.end))
                .copied()
                .max()
                .unwrap_or(0);
        }
        Ok(Step::Return(Agg::height(height.into())))
    }

    /// Slot `j` of a list block: an item (a moment in a history) at level
    /// 0, else an index slot for the child block.
    fn list_slot(&mut self, f: &ListBlockFrame, j: u8) -> R<Visit> {
        let r = f.reach;
        let spos = f.pos + SLOT_LEN * u64::from(j);
        let slot = self.slot(spos)?;
        if r.level == 0 {
            if r.history && slot.is_empty() {
                return fail(
                    spos,
                    ProblemKind::EmptyMoment,
                    format!("moment {} is an empty slot", r.first + u64::from(j)),
                );
            }
            return self.enter(spos, slot, r.item_nest);
        }
        if slot.tag != Tag::Index {
            return fail(
                spos,
                ProblemKind::UnexpectedTag,
                format!("a {} slot where a list index block is expected", slot.tag),
            );
        }
        let lo = if r.history {
            HISTORY_BLOCK
        } else {
            self.data_start
        };
        self.check_ptr(spos, slot.value, BLOCK_LEN, lo)?;
        let cap = level_capacity(r.level);
        let offset = u64::from(j) * cap;
        let child = Reach {
            level: r.level - 1,
            first: r.first + offset,
            limit: r.limit.saturating_sub(offset).min(cap),
            ..r
        };
        self.visit_list_block(spos, slot.value, child)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;
    use crate::format::u64_at;
    use crate::tools::verify::walk::walked;
    use crate::Database;

    type R0 = Result<()>;

    /// Item `k` of the test lists: a chain of `k % 5` single-item lists.
    fn height_of(k: u64) -> u32 {
        (k * 7 % 5) as u32
    }

    fn fill(l: &mut crate::ListMut<'_>, n: u64) -> R0 {
        for k in 0..n {
            let mut c = l.append_cursor()?;
            for _ in 0..height_of(k) {
                c = c.array_list()?.into_append_cursor()?;
            }
            c.write(k)?;
        }
        Ok(())
    }

    #[test]
    fn list_heights_are_exact_for_every_prefix_of_a_shared_list() {
        // the moment is [short, long]: `short` is `long` cut to 37 items, so
        // the walk meets the shared blocks for 37 items first, then for 300
        let mut db = Database::memory();
        db.transact(|tx| -> R0 {
            let mut r = tx.root().array_list()?;
            r.append(())?;
            fill(&mut r.append_cursor()?.array_list()?, 300)?;
            let long = r.get(1)?.map(|c| c.slot()).unwrap_or_default();
            tx.freeze();
            let mut r = tx.root().array_list()?;
            let mut short = r.cursor(0)?;
            short.write_slot(long)?;
            short.array_list()?.truncate(37)
        })
        .unwrap();
        let moment = db.moment(-1).unwrap().as_list().unwrap();
        let long = moment.get(1).unwrap().unwrap().slot().value;
        let bytes = db.into_bytes();
        let (v, problem) = walked(&bytes);
        assert!(problem.is_none(), "{problem:?}");
        let root = u64_at(&bytes, long as usize + 8).unwrap();
        for limit in 1..=300u64 {
            let want = (0..limit).map(height_of).max().unwrap_or(0);
            assert_eq!(v.list_height(root, 2, limit), want, "{limit} items");
        }
        // the memo holds one entry per distinct block, nothing else
        let s = v.stats;
        assert_eq!(
            v.nodes.len() as u64,
            s.map_blocks + s.list_blocks + s.linked_blocks
        );
        assert!(s.block_bytes <= bytes.len() as u64);
    }

    #[test]
    fn capacities() {
        assert_eq!(level_capacity(0), 1);
        assert_eq!(level_capacity(1), 16);
        assert_eq!(level_capacity(15), 1 << 60);
        assert_eq!(level_capacity(16), u64::MAX);
    }
}
