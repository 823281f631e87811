//! One B-tree node held in memory: read from storage, changed, written back.

use crate::error::{Error, Result};
use crate::format::btree::{
    child_count, node_head, node_slot, separator, set_child_count, set_node_head, set_node_slot,
    set_separator, BranchLayout, NodeKind, LEAF_LEN, NODE_SLOTS, SORTED_BRANCH_LEN, SPLIT_LEFT,
};
use crate::format::{Slot, Tag};
use crate::tree::access::{Src, TxCore};

/// Entries a node other than the root keeps after a removal; one fewer and
/// it is merged with, or refilled from, a neighbour.
pub(crate) const MIN_FILL: usize = SPLIT_LEFT;

/// A node's contents. Leaves use `slots` only; branches use `slots` (their
/// children, tag index), `counts`, and for sorted trees `seps`.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Where the node was read (0 for a node not yet written).
    pub pos: u64,
    pub kind: NodeKind,
    pub layout: BranchLayout,
    pub num: usize,
    pub slots: [Slot; NODE_SLOTS],
    pub seps: [Slot; NODE_SLOTS],
    pub counts: [u64; NODE_SLOTS],
}

/// One entry with everything that travels with it when entries move.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    pub slot: Slot,
    pub sep: Slot,
    pub count: u64,
}

impl Node {
    /// A new, empty node.
    pub fn new(kind: NodeKind, layout: BranchLayout) -> Node {
        Node {
            pos: 0,
            kind,
            layout,
            num: 0,
            slots: [Slot::EMPTY; NODE_SLOTS],
            seps: [Slot::EMPTY; NODE_SLOTS],
            counts: [0; NODE_SLOTS],
        }
    }

    /// Reads the node at `pos`.
    pub fn read(src: &Src<'_>, pos: u64, layout: BranchLayout) -> Result<Node> {
        let mut buf = [0u8; SORTED_BRANCH_LEN as usize];
        let head: [u8; 2] = src.array(pos)?;
        let (kind, num) = node_head(&head, pos)?;
        let len = match kind {
            NodeKind::Leaf => LEAF_LEN,
            NodeKind::Branch => layout.len(),
        };
        let bytes = buf
            .get_mut(..len as usize)
            .ok_or_else(|| Error::corrupt(pos, "B-tree node too long"))?;
        src.read_into(pos, bytes)?;
        let mut node = Node::new(kind, layout);
        node.pos = pos;
        node.num = num;
        for i in 0..num {
            let mut item = Item {
                slot: node_slot(bytes, i, pos)?,
                sep: Slot::EMPTY,
                count: 0,
            };
            if kind == NodeKind::Branch {
                if item.slot.tag != Tag::Index {
                    return Err(Error::corrupt(
                        pos,
                        "B-tree branch child is not an index slot",
                    ));
                }
                item.count = child_count(bytes, layout, i, pos)?;
                if layout == BranchLayout::Sorted {
                    item.sep = separator(bytes, i, pos)?;
                }
            }
            node.set_item(i, item);
        }
        Ok(node)
    }

    /// Bytes the node takes on storage.
    pub fn byte_len(&self) -> u64 {
        match self.kind {
            NodeKind::Leaf => LEAF_LEN,
            NodeKind::Branch => self.layout.len(),
        }
    }

    /// True for leaves.
    pub fn is_leaf(&self) -> bool {
        self.kind == NodeKind::Leaf
    }

    /// Entries below the node: its counts' sum, or its entries for a leaf.
    pub fn total(&self) -> u64 {
        match self.kind {
            NodeKind::Leaf => self.num as u64,
            NodeKind::Branch => self
                .counts
                .iter()
                .take(self.num)
                .fold(0u64, |a, &c| a.saturating_add(c)),
        }
    }

    /// Writes the node: in place when this transaction made it, else as a
    /// new copy at the end. Returns where it now lies.
    pub fn write(&mut self, core: &mut TxCore<'_>) -> Result<u64> {
        let mut buf = [0u8; SORTED_BRANCH_LEN as usize];
        let len = self.byte_len() as usize;
        let bytes = buf.get_mut(..len).unwrap_or(&mut []);
        set_node_head(bytes, self.kind, self.num);
        for i in 0..self.num {
            let item = self.item(i);
            set_node_slot(bytes, i, item.slot);
            if self.kind == NodeKind::Branch {
                set_child_count(bytes, self.layout, i, item.count);
                if self.layout == BranchLayout::Sorted {
                    set_separator(bytes, i, item.sep);
                }
            }
        }
        if self.pos != 0 && core.is_mutable(self.pos) {
            core.write_at(self.pos, bytes)?;
        } else {
            self.pos = core.alloc(bytes)?;
        }
        Ok(self.pos)
    }

    /// Entry `i` with its separator and count.
    pub fn item(&self, i: usize) -> Item {
        Item {
            slot: self.slots.get(i).copied().unwrap_or(Slot::EMPTY),
            sep: self.seps.get(i).copied().unwrap_or(Slot::EMPTY),
            count: self.counts.get(i).copied().unwrap_or(0),
        }
    }

    /// Replaces entry `i` (within the used entries or just past them).
    pub fn set(&mut self, i: usize, item: Item) {
        self.set_item(i, item);
    }

    fn set_item(&mut self, i: usize, item: Item) {
        if let (Some(s), Some(p), Some(c)) = (
            self.slots.get_mut(i),
            self.seps.get_mut(i),
            self.counts.get_mut(i),
        ) {
            (*s, *p, *c) = (item.slot, item.sep, item.count);
        }
    }

    /// Inserts `item` at `i`. A full node splits 8 | 9 (as upstream does):
    /// this node keeps the first 8 of the 17 entries and the returned new
    /// node (not yet written) holds the other 9.
    pub fn insert(&mut self, i: usize, item: Item) -> Option<Node> {
        let i = i.min(self.num);
        if self.num < NODE_SLOTS {
            for j in (i..self.num).rev() {
                let moved = self.item(j);
                self.set_item(j + 1, moved);
            }
            self.set_item(i, item);
            self.num += 1;
            return None;
        }
        let mut all = [item; NODE_SLOTS + 1];
        for (k, slot) in all.iter_mut().enumerate() {
            *slot = match k.cmp(&i) {
                std::cmp::Ordering::Less => self.item(k),
                std::cmp::Ordering::Equal => item,
                std::cmp::Ordering::Greater => self.item(k - 1),
            };
        }
        let mut right = Node::new(self.kind, self.layout);
        for (k, it) in all.iter().enumerate() {
            if k < SPLIT_LEFT {
                self.set_item(k, *it);
            } else {
                right.set_item(k - SPLIT_LEFT, *it);
            }
        }
        self.clear_from(SPLIT_LEFT);
        right.num = NODE_SLOTS + 1 - SPLIT_LEFT;
        Some(right)
    }

    /// Removes and returns entry `i`.
    pub fn remove(&mut self, i: usize) -> Item {
        let removed = self.item(i);
        for j in i + 1..self.num {
            let moved = self.item(j);
            self.set_item(j - 1, moved);
        }
        self.clear_from(self.num.saturating_sub(1));
        removed
    }

    /// Empties entries `from..` and sets the count to `from`.
    fn clear_from(&mut self, from: usize) {
        let blank = Item {
            slot: Slot::EMPTY,
            sep: Slot::EMPTY,
            count: 0,
        };
        for j in from..NODE_SLOTS {
            self.set_item(j, blank);
        }
        self.num = from;
    }

    /// Appends every entry of `right` (which fits: at most 16 together).
    /// `boundary` is the separator for right's first entry (a branch's
    /// lower bound for it, taken from the parent).
    pub fn absorb(&mut self, right: &Node, boundary: Slot) {
        for k in 0..right.num {
            let mut it = right.item(k);
            if k == 0 {
                it.sep = boundary;
            }
            self.set_item(self.num, it);
            self.num += 1;
        }
    }

    /// Moves the last entry to the front of `right`; returns the moved
    /// entry's separator (the new lower bound of `right`). `boundary` is
    /// the parent's current lower bound of `right`, which becomes the
    /// separator of right's old first entry.
    pub fn shift_last_to(&mut self, right: &mut Node, boundary: Slot) -> Slot {
        let mut moved = self.remove(self.num.saturating_sub(1));
        if right.num > 0 {
            if let Some(first) = right.seps.first_mut() {
                *first = boundary;
            }
        }
        let new_bound = moved.sep;
        moved.sep = Slot::EMPTY;
        let _ = right.insert(0, moved);
        new_bound
    }

    /// Moves right's first entry to the end of this node; returns right's
    /// new lower bound (its second entry's separator, for branches).
    /// `boundary` is the parent's current lower bound of `right`.
    pub fn take_first_from(&mut self, right: &mut Node, boundary: Slot) -> Slot {
        let mut moved = right.remove(0);
        moved.sep = boundary;
        self.set_item(self.num, moved);
        self.num += 1;
        let new_bound = right.item(0).sep;
        if let Some(first) = right.seps.first_mut() {
            *first = Slot::EMPTY;
        }
        new_bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_with(n: u64) -> Node {
        let mut node = Node::new(NodeKind::Leaf, BranchLayout::Sorted);
        for v in 0..n {
            assert!(node
                .insert(
                    v as usize,
                    Item {
                        slot: Slot::new(Tag::Uint, v),
                        sep: Slot::EMPTY,
                        count: 0
                    }
                )
                .is_none());
        }
        node
    }

    #[test]
    fn a_full_node_splits_eight_nine() {
        let mut left = leaf_with(16);
        let new = Item {
            slot: Slot::new(Tag::Uint, 100),
            sep: Slot::EMPTY,
            count: 0,
        };
        let right = left.insert(3, new).unwrap();
        assert_eq!((left.num, right.num), (8, 9));
        assert_eq!(left.slots[3].value, 100);
        assert_eq!(left.slots[7].value, 6);
        assert_eq!(right.slots[0].value, 7);
        assert_eq!(right.slots[8].value, 15);
        assert!(left.slots[8..].iter().all(|s| *s == Slot::EMPTY));
    }

    #[test]
    fn removal_and_moves_keep_order() {
        let mut a = leaf_with(5);
        let mut b = leaf_with(3);
        assert_eq!(a.remove(0).slot.value, 0);
        assert_eq!(a.num, 4);
        a.shift_last_to(&mut b, Slot::EMPTY);
        assert_eq!((a.num, b.num), (3, 4));
        assert_eq!(b.slots[0].value, 4);
        a.take_first_from(&mut b, Slot::EMPTY);
        assert_eq!(a.slots[3].value, 4);
        a.absorb(&b, Slot::EMPTY);
        assert_eq!(a.num, 7);
        assert_eq!(a.total(), 7);
    }
}
