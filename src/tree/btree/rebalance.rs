//! Keeping B-tree nodes at least half full after a removal: an underfull
//! child is merged with a neighbour, or refilled from it, in either tree
//! family. Sorted trees keep separators equal to the first key of their
//! subtree; lists have no separators and pass bounds through untouched.

use super::node::{Item, Node, MIN_FILL};
use crate::error::Result;
use crate::format::btree::NODE_SLOTS;
use crate::format::{Slot, Tag};
use crate::tree::access::TxCore;

/// The lower bound a parent records for a leaf: its first key for sorted
/// trees, nothing for lists.
pub(crate) type LeafBound<'f> = &'f dyn Fn(&TxCore<'_>, &Node) -> Result<Slot>;

fn index_item(pos: u64, sep: Slot, count: u64) -> Item {
    Item {
        slot: Slot::new(Tag::Index, pos),
        sep,
        count,
    }
}

/// Merges the underfull child `i` of `node` with a neighbour, or moves
/// entries from the neighbour so both are at least half full.
pub(crate) fn rebalance(
    core: &mut TxCore<'_>,
    node: &mut Node,
    i: usize,
    leaf_bound: LeafBound<'_>,
) -> Result<()> {
    let (l, r) = if i + 1 < node.num {
        (i, i + 1)
    } else {
        (i.saturating_sub(1), i)
    };
    let src = core.src();
    let layout = node.layout;
    let mut left = Node::read(&src, node.item(l).slot.value, layout)?;
    let mut right = Node::read(&src, node.item(r).slot.value, layout)?;
    let boundary = node.item(r).sep;
    if left.num + right.num <= NODE_SLOTS {
        left.absorb(&right, boundary);
        let total = left.total();
        let pos = left.write(core)?;
        node.remove(r);
        node.set(l, index_item(pos, node.item(l).sep, total));
        return Ok(());
    }
    let mut bound = boundary;
    while left.num < MIN_FILL && right.num > MIN_FILL {
        bound = left.take_first_from(&mut right, bound);
    }
    while right.num < MIN_FILL && left.num > MIN_FILL {
        bound = left.shift_last_to(&mut right, bound);
    }
    // a branch's new bound moved with its children; a leaf's is its first key
    let sep = if right.is_leaf() {
        leaf_bound(core, &right)?
    } else {
        bound
    };
    let (lt, rt) = (left.total(), right.total());
    let (lp, rp) = (left.write(core)?, right.write(core)?);
    node.set(l, index_item(lp, node.item(l).sep, lt));
    node.set(r, index_item(rp, sep, rt));
    Ok(())
}
