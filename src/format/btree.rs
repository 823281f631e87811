//! B-tree nodes: the layouts current upstream xitdb uses for SortedMap and
//! SortedSet (tags 14 and 15) and for the B-tree family of the
//! LinkedArrayList (tag 3).
//!
//! Every such structure is a 16-byte [`BTreeHeader`] (entry count, root
//! node) over nodes of up to [`NODE_SLOTS`] entries. A node starts with a
//! kind byte (0 leaf, 1 branch) and its number of used entries:
//!
//! | node | bytes | after the 2-byte head |
//! |---|---|---|
//! | leaf | [`LEAF_LEN`] = 146 | 16 slots (items, or `kv_pair` slots for sorted kinds) |
//! | list branch | [`LIST_BRANCH_LEN`] = 274 | 16 child slots, 16 u64 subtree counts |
//! | sorted branch | [`SORTED_BRANCH_LEN`] = 418 | 16 child slots, 16 separator key slots, 16 u64 counts |
//!
//! The functions here decode fields out of a node's bytes held in memory;
//! a field outside them, a kind byte other than 0 or 1, or a count above 16
//! is an error, never a panic.

use super::record::{put_u64, slot_at, u64_at};
use super::{Slot, SLOT_LEN};
use crate::error::{Error, Result};

/// Entries per node (leaf slots, or branch children).
pub const NODE_SLOTS: usize = 16;
/// Entries the left half keeps when a full node splits (the right half gets
/// the other 9).
pub const SPLIT_LEFT: usize = 8;
/// Length of a B-tree header: entry count, then the root node's position.
pub const BTREE_HEADER_LEN: u64 = 16;
/// Length of the kind byte and the entry count that start every node.
pub const NODE_HEAD_LEN: u64 = 2;
/// Length of a leaf: the head and 16 slots.
pub const LEAF_LEN: u64 = NODE_HEAD_LEN + NODE_SLOTS as u64 * SLOT_LEN;
/// Length of a LinkedArrayList branch: the head, 16 child slots and 16 counts.
pub const LIST_BRANCH_LEN: u64 = LEAF_LEN + NODE_SLOTS as u64 * 8;
/// Length of a sorted branch: the head, 16 child slots, 16 separators and 16 counts.
pub const SORTED_BRANCH_LEN: u64 = LEAF_LEN + NODE_SLOTS as u64 * (SLOT_LEN + 8);

/// Offset of the first child (or leaf) slot in a node.
const SLOTS_OFF: usize = NODE_HEAD_LEN as usize;
/// Offset of the first separator slot in a sorted branch.
const SEPARATORS_OFF: usize = LEAF_LEN as usize;

/// The 16-byte header of a sorted map, sorted set or B-tree list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BTreeHeader {
    /// Number of entries (items of a list, keys of a map or set).
    pub size: u64,
    /// Position of the root node.
    pub root: u64,
}

impl BTreeHeader {
    /// Encodes count and root.
    pub fn encode(self) -> [u8; BTREE_HEADER_LEN as usize] {
        let mut b = [0u8; BTREE_HEADER_LEN as usize];
        put_u64(&mut b, 0, self.size);
        put_u64(&mut b, 8, self.root);
        b
    }

    /// Decodes count and root (the root is checked where it is followed).
    pub fn decode(b: [u8; BTREE_HEADER_LEN as usize]) -> BTreeHeader {
        BTreeHeader {
            size: u64_at(&b, 0).unwrap_or(0),
            root: u64_at(&b, 8).unwrap_or(0),
        }
    }
}

/// Whether a node holds entries or children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Holds up to 16 entry slots.
    Leaf = 0,
    /// Holds up to 16 children with their subtree counts.
    Branch = 1,
}

/// Which family a branch belongs to (their layouts differ past the child slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchLayout {
    /// LinkedArrayList: counts right after the children.
    List,
    /// SortedMap/SortedSet: separators, then counts.
    Sorted,
}

impl BranchLayout {
    /// Bytes of a branch of this layout.
    pub fn len(self) -> u64 {
        match self {
            BranchLayout::List => LIST_BRANCH_LEN,
            BranchLayout::Sorted => SORTED_BRANCH_LEN,
        }
    }

    /// Always false: a branch has a fixed, non-zero length.
    pub fn is_empty(self) -> bool {
        false
    }

    fn counts_off(self) -> usize {
        match self {
            BranchLayout::List => LEAF_LEN as usize,
            BranchLayout::Sorted => (LEAF_LEN + NODE_SLOTS as u64 * SLOT_LEN) as usize,
        }
    }
}

/// Offset in a node of slot `i` (a leaf's entry or a branch's child).
pub fn slot_off(i: usize) -> u64 {
    field_off(SLOTS_OFF, i, SLOT_LEN as usize) as u64
}

/// Offset in a sorted branch of separator `i`.
pub fn separator_off(i: usize) -> u64 {
    field_off(SEPARATORS_OFF, i, SLOT_LEN as usize) as u64
}

/// Offset in a branch of `layout` of subtree count `i`.
pub fn count_off(layout: BranchLayout, i: usize) -> u64 {
    field_off(layout.counts_off(), i, 8) as u64
}

/// Decodes a node's head read from `pos`: its kind and its number of used
/// entries (at most 16).
pub fn node_head(node: &[u8], pos: u64) -> Result<(NodeKind, usize)> {
    let (&kind, &num) = match node {
        [kind, num, ..] => (kind, num),
        _ => return Err(Error::corrupt(pos, "B-tree node shorter than its head")),
    };
    let kind = match kind {
        0 => NodeKind::Leaf,
        1 => NodeKind::Branch,
        _ => {
            return Err(Error::corrupt(
                pos,
                "B-tree node kind is neither leaf nor branch",
            ))
        }
    };
    if usize::from(num) > NODE_SLOTS {
        return Err(Error::corrupt(
            pos + 1,
            "B-tree node holds more than 16 entries",
        ));
    }
    Ok((kind, usize::from(num)))
}

/// Writes a node's head.
pub fn set_node_head(node: &mut [u8], kind: NodeKind, num: usize) {
    if let [k, n, ..] = node {
        *k = kind as u8;
        *n = num.min(NODE_SLOTS) as u8;
    }
}

/// Slot `i` of a node (a leaf's entry or a branch's child) read from `pos`.
pub fn node_slot(node: &[u8], i: usize, pos: u64) -> Result<Slot> {
    slot_at(node, field_off(SLOTS_OFF, i, SLOT_LEN as usize), pos)
}

/// Separator `i` of a sorted branch read from `pos` (separator 0 is unused).
pub fn separator(node: &[u8], i: usize, pos: u64) -> Result<Slot> {
    slot_at(node, field_off(SEPARATORS_OFF, i, SLOT_LEN as usize), pos)
}

/// Subtree count `i` of a branch of `layout` read from `pos`.
pub fn child_count(node: &[u8], layout: BranchLayout, i: usize, pos: u64) -> Result<u64> {
    let off = field_off(layout.counts_off(), i, 8);
    u64_at(node, off)
        .ok_or_else(|| Error::corrupt(pos.saturating_add(off as u64), "count outside its node"))
}

/// Writes slot `i` of a node (entry or child); false when it does not fit.
pub fn set_node_slot(node: &mut [u8], i: usize, slot: Slot) -> bool {
    set_slot_at(node, field_off(SLOTS_OFF, i, SLOT_LEN as usize), slot)
}

/// Writes separator `i` of a sorted branch; false when it does not fit.
pub fn set_separator(node: &mut [u8], i: usize, slot: Slot) -> bool {
    set_slot_at(node, field_off(SEPARATORS_OFF, i, SLOT_LEN as usize), slot)
}

/// Writes subtree count `i` of a branch; false when it does not fit.
pub fn set_child_count(node: &mut [u8], layout: BranchLayout, i: usize, count: u64) -> bool {
    put_u64(node, field_off(layout.counts_off(), i, 8), count)
}

/// Offset of field `i` of `width` bytes in an array starting at `start`
/// (saturating: a huge index lands past any node and reads as an error).
fn field_off(start: usize, i: usize, width: usize) -> usize {
    start.saturating_add(i.saturating_mul(width))
}

fn set_slot_at(bytes: &mut [u8], off: usize, slot: Slot) -> bool {
    match off
        .checked_add(SLOT_LEN as usize)
        .and_then(|end| bytes.get_mut(off..end))
    {
        Some(dst) => {
            dst.copy_from_slice(&slot.encode());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Tag;

    fn slot(tag: Tag, value: u64) -> Slot {
        Slot {
            tag,
            full: false,
            value,
        }
    }

    #[test]
    fn lengths_match_upstream() {
        assert_eq!(LEAF_LEN, 146);
        assert_eq!(LIST_BRANCH_LEN, 274);
        assert_eq!(SORTED_BRANCH_LEN, 418);
        let h = BTreeHeader {
            size: 3,
            root: 1000,
        };
        assert_eq!(BTreeHeader::decode(h.encode()), h);
    }

    #[test]
    fn sorted_branch_fields_round_trip() {
        let mut node = [0u8; SORTED_BRANCH_LEN as usize];
        set_node_head(&mut node, NodeKind::Branch, 2);
        assert!(set_node_slot(&mut node, 1, slot(Tag::Index, 500)));
        assert!(set_separator(
            &mut node,
            1,
            slot(Tag::ShortBytes, 0x61 << 56)
        ));
        assert!(set_child_count(&mut node, BranchLayout::Sorted, 15, 77));
        assert!(!set_child_count(&mut node, BranchLayout::Sorted, 16, 1));
        assert!(!set_node_slot(&mut node, usize::MAX, slot(Tag::Index, 1)));
        assert_eq!(node_head(&node, 0).unwrap(), (NodeKind::Branch, 2));
        assert_eq!(node_slot(&node, 1, 0).unwrap(), slot(Tag::Index, 500));
        assert_eq!(separator(&node, 1, 0).unwrap().tag, Tag::ShortBytes);
        assert_eq!(child_count(&node, BranchLayout::Sorted, 15, 0).unwrap(), 77);
        assert!(child_count(&node, BranchLayout::Sorted, 16, 0).is_err());
        // the list layout puts counts right after the children
        let mut list = [0u8; LIST_BRANCH_LEN as usize];
        assert!(set_child_count(&mut list, BranchLayout::List, 15, 9));
        assert_eq!(u64_at(&list, 146 + 15 * 8), Some(9));
    }

    #[test]
    fn hostile_heads_are_errors() {
        assert!(node_head(&[], 0).is_err());
        assert!(node_head(&[2, 0], 0).is_err());
        assert!(node_head(&[0, 17], 0).is_err());
        assert_eq!(node_head(&[0, 16], 0).unwrap(), (NodeKind::Leaf, 16));
        assert!(node_slot(&[0, 1, 8], 0, 0).is_err());
    }
}
