//! A position in a B-tree: the node and entry index at every level from
//! the root to a leaf entry. Seeking by rank and stepping to the next or
//! previous entry read only the slots and counts they need, in place, and
//! allocate nothing.

use super::MAX_DEPTH;
use crate::error::{Error, Result};
use crate::format::btree::{count_off, node_head, slot_off, BranchLayout, NodeKind};
use crate::format::{Slot, Tag};
use crate::tree::access::Src;

/// One level of a path.
#[derive(Debug, Clone, Copy, Default)]
struct Level {
    node: u64,
    idx: u8,
    num: u8,
}

/// The entry at one rank, with the nodes above it.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    layout: BranchLayout,
    depth: usize,
    levels: [Level; MAX_DEPTH],
}

/// A node's kind and used entries, read in place.
fn head(src: &Src<'_>, pos: u64) -> Result<(NodeKind, usize)> {
    node_head(&src.array::<2>(pos)?, pos)
}

/// Child `i` of the branch at `pos`: its node position.
fn child(src: &Src<'_>, pos: u64, i: usize) -> Result<u64> {
    let slot = src.slot(pos + slot_off(i))?;
    if slot.tag != Tag::Index {
        return Err(Error::corrupt(
            pos,
            "B-tree branch child is not an index slot",
        ));
    }
    Ok(slot.value)
}

/// Subtree count `i` of the branch at `pos`.
pub(crate) fn count(src: &Src<'_>, layout: BranchLayout, pos: u64, i: usize) -> Result<u64> {
    src.u64_at(pos + count_off(layout, i))
}

impl Path {
    /// The path to the entry of rank `rank` (0-based) below `root`; the
    /// caller checks that the rank is below the tree's size.
    pub fn seek(src: &Src<'_>, layout: BranchLayout, root: u64, mut rank: u64) -> Result<Path> {
        let mut path = Path {
            layout,
            depth: 0,
            levels: [Level::default(); MAX_DEPTH],
        };
        let mut node = root;
        loop {
            let (kind, num) = head(src, node)?;
            let idx = match kind {
                NodeKind::Leaf => {
                    let i = usize::try_from(rank).ok().filter(|&i| i < num);
                    i.ok_or_else(|| Error::corrupt(node, "B-tree counts exceed a leaf"))?
                }
                NodeKind::Branch => {
                    let mut found = None;
                    for i in 0..num {
                        let c = count(src, layout, node, i)?;
                        if rank < c {
                            found = Some(i);
                            break;
                        }
                        rank -= c;
                    }
                    found.ok_or_else(|| Error::corrupt(node, "B-tree counts below the size"))?
                }
            };
            path.push(node, idx, num)?;
            if kind == NodeKind::Leaf {
                return Ok(path);
            }
            node = child(src, node, idx)?;
        }
    }

    fn push(&mut self, node: u64, idx: usize, num: usize) -> Result<()> {
        let level = self
            .levels
            .get_mut(self.depth)
            .ok_or(Error::TooDeep { pos: node })?;
        *level = Level {
            node,
            idx: idx as u8,
            num: num as u8,
        };
        self.depth += 1;
        Ok(())
    }

    fn leaf(&self) -> Level {
        self.depth
            .checked_sub(1)
            .and_then(|d| self.levels.get(d))
            .copied()
            .unwrap_or_default()
    }

    /// The leaf slot the path is at.
    pub fn slot(&self, src: &Src<'_>) -> Result<Slot> {
        src.slot(self.slot_pos())
    }

    /// Where the leaf slot the path is at lies.
    pub fn slot_pos(&self) -> u64 {
        let leaf = self.leaf();
        leaf.node + slot_off(usize::from(leaf.idx))
    }

    /// Moves to the following entry (`forward`) or the preceding one.
    /// Subtrees whose count is 0 are skipped unread; a subtree whose count
    /// says it holds entries but whose leaves hold none is corrupt.
    pub fn step(&mut self, src: &Src<'_>, forward: bool) -> Result<()> {
        let leaf = self
            .depth
            .checked_sub(1)
            .ok_or_else(|| Error::corrupt(0, "B-tree path is empty"))?;
        if self.advance(leaf, forward) {
            return Ok(());
        }
        self.climb(src, leaf, forward)
    }

    /// Moves on from the last (or first) entry below level `d`'s current
    /// index to the next entry beyond it, climbing as far as needed.
    fn climb(&mut self, src: &Src<'_>, mut d: usize, forward: bool) -> Result<()> {
        loop {
            if self.advance(d, forward) {
                if self.enter_from(src, d, forward)? {
                    return Ok(());
                }
                // that child is empty: move level `d` again
                continue;
            }
            d = d
                .checked_sub(1)
                .ok_or_else(|| Error::corrupt(self.leaf().node, "B-tree ended before its size"))?;
        }
    }

    /// Level `height` above the leaf (0 = the leaf), if the path is that deep.
    fn at_height(&self, height: usize) -> Option<Level> {
        let d = self.depth.checked_sub(height + 1)?;
        self.levels.get(d).copied()
    }

    /// The greatest height at which this path and `other` (into trees of
    /// the same storage) stand in the same node at the same index, at the
    /// first entry of the child there: from that point to the end of that
    /// node, both trees hold the very same entries. `None` when even their
    /// leaf positions differ.
    pub fn shared_height(&self, other: &Path) -> Option<usize> {
        let mut found = None;
        for h in 0..MAX_DEPTH {
            let (Some(a), Some(b)) = (self.at_height(h), other.at_height(h)) else {
                break;
            };
            if a.node != b.node || a.idx != b.idx {
                break;
            }
            found = Some(h);
            if a.idx != 0 {
                break;
            }
        }
        found
    }

    /// Entries from the path's position to the end of its node at `height`
    /// (where the path stands at the first entry of its child).
    pub fn rest_count(&self, src: &Src<'_>, height: usize) -> Result<u64> {
        let level = self
            .at_height(height)
            .ok_or_else(|| Error::corrupt(0, "B-tree path shallower than asked"))?;
        if height == 0 {
            return Ok(u64::from(level.num.saturating_sub(level.idx)));
        }
        let mut n = 0u64;
        for i in usize::from(level.idx)..usize::from(level.num) {
            n = n.saturating_add(count(src, self.layout, level.node, i)?);
        }
        Ok(n)
    }

    /// Moves forward past the rest of the node at `height`, to the first
    /// entry after it; the caller knows the tree holds one.
    pub fn skip_rest(&mut self, src: &Src<'_>, height: usize) -> Result<()> {
        let d = self
            .depth
            .checked_sub(height + 2)
            .ok_or_else(|| Error::corrupt(self.leaf().node, "B-tree ended before its size"))?;
        self.climb(src, d, true)
    }

    /// Moves the index at level `d` one entry on; false at the node's edge.
    fn advance(&mut self, d: usize, forward: bool) -> bool {
        let Some(level) = self.levels.get_mut(d) else {
            return false;
        };
        let next = if forward {
            (usize::from(level.idx) + 1 < usize::from(level.num)).then(|| level.idx + 1)
        } else {
            level.idx.checked_sub(1)
        };
        match next {
            Some(i) => {
                level.idx = i;
                true
            }
            None => false,
        }
    }

    /// After level `d` moved to a new child, descends to that child's first
    /// (or last) entry. False when the child's count is 0, so that the
    /// caller moves level `d` again.
    fn enter_from(&mut self, src: &Src<'_>, d: usize, forward: bool) -> Result<bool> {
        self.depth = d + 1;
        let mut parent = d;
        loop {
            let level = self.levels.get(parent).copied().unwrap_or_default();
            if count(src, self.layout, level.node, usize::from(level.idx))? == 0 {
                if parent == d {
                    return Ok(false);
                }
                if !self.advance(parent, forward) {
                    return Err(Error::corrupt(
                        level.node,
                        "B-tree count says entries, children hold none",
                    ));
                }
                continue;
            }
            let node = child(src, level.node, usize::from(level.idx))?;
            let (kind, num) = head(src, node)?;
            if num == 0 {
                return Err(Error::corrupt(
                    node,
                    "B-tree count says entries, node holds none",
                ));
            }
            self.push(node, if forward { 0 } else { num - 1 }, num)?;
            if kind == NodeKind::Leaf {
                return Ok(true);
            }
            parent += 1;
        }
    }
}
