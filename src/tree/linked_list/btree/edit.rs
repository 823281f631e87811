//! Creating a B-tree list, inserting and removing items, and making one
//! item writable: each a descent by rank that changes the nodes on its path
//! (in place when this transaction made them, copied otherwise).
//!
//! Removal goes further than upstream's split-and-join: it takes the item
//! out of its leaf and merges or refills any node left under half full, so
//! that a list that shrinks stays shallow and dense, and a removal costs
//! one path of nodes rather than the seams of three trees.

use super::BTreeList;
use crate::error::{Error, Result};
use crate::format::btree::{
    count_off, node_head, slot_off, BTreeHeader, BranchLayout, NodeKind, LEAF_LEN, LIST_BRANCH_LEN,
    SPLIT_LEFT,
};
use crate::format::{Slot, Tag};
use crate::tree::access::{SlotPos, TxCore};
use crate::tree::btree::node::{Item, Node, MIN_FILL};
use crate::tree::btree::rebalance::rebalance;
use crate::tree::btree::{open_header, MAX_DEPTH};

/// The slot a new item holds until it is written: an explicit null.
const PLACEHOLDER: Slot = Slot {
    tag: Tag::None,
    full: true,
    value: 0,
};

/// What an insert below a node did.
struct Grown {
    /// The node's position after the change.
    pos: u64,
    /// Where the new item's slot lies.
    item: u64,
    /// A new right sibling from a split: its position and item count.
    split: Option<(u64, u64)>,
}

/// A branch entry pointing at `pos`, whose subtree holds `count` items.
pub(super) fn child_item(pos: u64, count: u64) -> Item {
    Item {
        slot: Slot::new(Tag::Index, pos),
        sep: Slot::EMPTY,
        count,
    }
}

pub(super) fn check_depth(depth: usize, pos: u64) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Err(Error::TooDeep { pos });
    }
    Ok(())
}

/// The child of a branch that holds rank `rank`, and the rank inside it.
/// Reads pass a child while `rank >= count`; inserts (`boundary_left`)
/// while `rank > count`, so an insert at a boundary ends the left child.
pub(super) fn choose(node: &Node, mut rank: u64, boundary_left: bool) -> Result<(usize, u64)> {
    for i in 0..node.num {
        let c = node.item(i).count;
        let inside = if boundary_left { rank <= c } else { rank < c };
        if inside {
            return Ok((i, rank));
        }
        rank -= c;
    }
    Err(Error::corrupt(
        node.pos,
        "B-tree list counts below the rank",
    ))
}

impl BTreeList {
    /// Opens the list in the slot at `pos` for writing: a new one in an
    /// empty slot (an empty leaf, then the header pointing at it, as
    /// upstream lays them out), the committed header copied otherwise.
    pub fn open_mut(core: &mut TxCore<'_>, pos: SlotPos) -> Result<BTreeList> {
        let header = open_header(core, pos, Tag::LinkedArrayList)?;
        Self::read(&core.src(), header)
    }

    /// Writes the header (size, root) back to its place.
    pub(super) fn write_header(&self, core: &mut TxCore<'_>) -> Result<()> {
        let h = BTreeHeader {
            size: self.size,
            root: self.root,
        };
        core.write_at(self.header, &h.encode())
    }

    /// Appends a placeholder item and returns its slot position.
    pub fn push_slot(&mut self, core: &mut TxCore<'_>) -> Result<u64> {
        self.insert_at(core, self.size)
    }

    /// Inserts a placeholder before item `k` (`k < size`) and returns its
    /// slot position.
    pub fn insert_slot(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        if k >= self.size {
            return Err(Error::IndexOutOfRange {
                index: i64::try_from(k).unwrap_or(i64::MAX),
                len: self.size,
            });
        }
        self.insert_at(core, k)
    }

    fn insert_at(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        let size = self.size.checked_add(1).ok_or(Error::ListTooLong)?;
        let out = insert(core, self.root, k, 0)?;
        self.root = match out.split {
            None => out.pos,
            Some((right, right_count)) => {
                let mut root = Node::new(NodeKind::Branch, BranchLayout::List);
                let left_count = size.checked_sub(right_count).ok_or_else(|| {
                    Error::corrupt(self.header, "B-tree list counts exceed its size")
                })?;
                root.insert(0, child_item(out.pos, left_count));
                root.insert(1, child_item(right, right_count));
                root.write(core)?
            }
        };
        self.size = size;
        self.write_header(core)?;
        Ok(out.item)
    }

    /// Removes item `k` (`k < size`).
    pub fn remove(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<()> {
        if k >= self.size {
            return Err(Error::IndexOutOfRange {
                index: i64::try_from(k).unwrap_or(i64::MAX),
                len: self.size,
            });
        }
        let (mut root, _) = remove(core, self.root, k, 0)?;
        // a root branch left with one child is replaced by it
        for _ in 0..MAX_DEPTH {
            let node = Node::read(&core.src(), root, BranchLayout::List)?;
            if node.is_leaf() || node.num != 1 {
                break;
            }
            root = node.item(0).slot.value;
        }
        self.root = root;
        self.size -= 1;
        self.write_header(core)
    }

    /// Owns the path to item `k` (`k < size`), copying committed nodes, and
    /// returns its slot position.
    pub fn slot_pos_mut(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        let mut parent: Option<(u64, usize)> = None;
        let mut pos = self.root;
        let mut rank = k;
        for _ in 0..MAX_DEPTH {
            let (kind, num) = node_head(&core.src().array::<2>(pos)?, pos)?;
            let len = match kind {
                NodeKind::Leaf => LEAF_LEN,
                NodeKind::Branch => LIST_BRANCH_LEN,
            };
            let (owned, copied) = core.own(pos, len)?;
            if copied {
                match parent {
                    None => {
                        self.root = owned;
                        self.write_header(core)?;
                    }
                    Some((p, i)) => {
                        core.write_at(p + slot_off(i), &Slot::new(Tag::Index, owned).encode())?
                    }
                }
            }
            if kind == NodeKind::Leaf {
                let i = usize::try_from(rank).ok().filter(|&i| i < num);
                let i = i.ok_or_else(|| Error::corrupt(owned, "B-tree counts exceed a leaf"))?;
                return Ok(owned + slot_off(i));
            }
            let src = core.src();
            let mut found = None;
            for i in 0..num {
                let c = src.u64_at(owned + count_off(BranchLayout::List, i))?;
                if rank < c {
                    found = Some(i);
                    break;
                }
                rank -= c;
            }
            let i = found.ok_or_else(|| Error::corrupt(owned, "B-tree counts below the size"))?;
            let child = src.slot(owned + slot_off(i))?;
            if child.tag != Tag::Index {
                return Err(Error::corrupt(
                    owned,
                    "B-tree branch child is not an index slot",
                ));
            }
            parent = Some((owned, i));
            pos = child.value;
        }
        Err(Error::TooDeep { pos })
    }
}

/// Inserts a placeholder at rank `rank` below the node at `pos`.
fn insert(core: &mut TxCore<'_>, pos: u64, rank: u64, depth: usize) -> Result<Grown> {
    check_depth(depth, pos)?;
    let mut node = Node::read(&core.src(), pos, BranchLayout::List)?;
    if node.is_leaf() {
        let i = usize::try_from(rank).ok().filter(|&i| i <= node.num);
        let i = i.ok_or_else(|| Error::corrupt(pos, "B-tree counts exceed a leaf"))?;
        let placeholder = Item {
            slot: PLACEHOLDER,
            sep: Slot::EMPTY,
            count: 0,
        };
        let split = node.insert(i, placeholder);
        let (pos, split) = write_pair(core, node, split)?;
        // of the 17 entries of a split, the first 8 stay on the left
        let item = match split {
            Some((right, _)) if i >= SPLIT_LEFT => right + slot_off(i - SPLIT_LEFT),
            _ => pos + slot_off(i),
        };
        return Ok(Grown { pos, item, split });
    }
    if node.num == 0 {
        return Err(Error::corrupt(pos, "B-tree branch without children"));
    }
    let (i, rem) = choose(&node, rank, true)?;
    let child = node.item(i);
    let below = insert(core, child.slot.value, rem, depth + 1)?;
    let mut count = child.count.saturating_add(1);
    let split = match below.split {
        None => {
            node.set(i, child_item(below.pos, count));
            None
        }
        Some((right, right_count)) => {
            count = count.saturating_sub(right_count);
            node.set(i, child_item(below.pos, count));
            node.insert(i + 1, child_item(right, right_count))
        }
    };
    let (pos, split) = write_pair(core, node, split)?;
    Ok(Grown {
        pos,
        item: below.item,
        split,
    })
}

/// Writes a node and the right half split off it, if any (with its count).
pub(super) fn write_pair(
    core: &mut TxCore<'_>,
    mut node: Node,
    split: Option<Node>,
) -> Result<(u64, Option<(u64, u64)>)> {
    let right = match split {
        None => None,
        Some(mut right) => {
            let count = right.total();
            Some((right.write(core)?, count))
        }
    };
    Ok((node.write(core)?, right))
}

/// Removes the item of rank `rank` below the node at `pos`; returns the
/// node's position after the change and the entries it has left.
fn remove(core: &mut TxCore<'_>, pos: u64, rank: u64, depth: usize) -> Result<(u64, usize)> {
    check_depth(depth, pos)?;
    let mut node = Node::read(&core.src(), pos, BranchLayout::List)?;
    if node.is_leaf() {
        let i = usize::try_from(rank).ok().filter(|&i| i < node.num);
        let i = i.ok_or_else(|| Error::corrupt(pos, "B-tree counts exceed a leaf"))?;
        node.remove(i);
        return Ok((node.write(core)?, node.num));
    }
    if node.num == 0 {
        return Err(Error::corrupt(pos, "B-tree branch without children"));
    }
    let (i, rem) = choose(&node, rank, false)?;
    let child = node.item(i);
    let (below, left) = remove(core, child.slot.value, rem, depth + 1)?;
    node.set(i, child_item(below, child.count.saturating_sub(1)));
    if left < MIN_FILL && node.num > 1 {
        rebalance(core, &mut node, i, &|_, _| Ok(Slot::EMPTY))?;
    }
    Ok((node.write(core)?, node.num))
}
