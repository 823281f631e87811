//! Changing a sorted map or set inside a transaction.
//!
//! Insertion follows upstream's layout rules exactly (new key bytes and a
//! record with a zero hash appended, 8 | 9 splits, the right half's first
//! key slot as the new separator, a new root on a root split), so upstream
//! reads what we write. Removal goes further than upstream, which leaves
//! emptied nodes in place: a node that falls below half full is merged
//! with a neighbour or refilled from it, separators stay equal to the first
//! key of their subtree, and a root left with one child is replaced by it.

use super::{compare_key, entry, kv_of, Probe, Seek, Sorted};
use crate::error::{Error, Result};
use crate::format::btree::{
    count_off, node_head, slot_off, BranchLayout, NodeKind, SORTED_BRANCH_LEN,
};
use crate::format::{ListFamily, Slot, Tag};
use crate::tree::access::{SlotPos, TxCore};
use crate::tree::btree::node::{Item, Node, MIN_FILL};
use crate::tree::btree::rebalance::rebalance;
use crate::tree::btree::{open_header, MAX_DEPTH};
use crate::tree::bytes;
use crate::tree::hamt::Kv;
use crate::tree::linked_list::scan::database_family;
use std::cmp::Ordering;

/// What an insert below a node did.
struct Inserted {
    /// The node's position after the change.
    pos: u64,
    /// The record for the key (`None`: absent, and not to be created).
    kv: Option<Kv>,
    /// True when the key was new (counts grow by one).
    created: bool,
    /// False when nothing below was written (the record was already
    /// writable, or absent): the node need not be written either.
    changed: bool,
    /// A new right sibling from a split: its lower bound, position, count.
    split: Option<(Slot, u64, u64)>,
}

impl Inserted {
    fn unchanged(pos: u64, kv: Option<Kv>) -> Inserted {
        Inserted {
            pos,
            kv,
            created: false,
            changed: false,
            split: None,
        }
    }
}

/// What a removal below a node did.
struct Removed {
    pos: u64,
    /// Entries (leaf) or children (branch) the node has left.
    num: usize,
    /// The subtree's first key changed (it was the one removed).
    min_changed: bool,
}

impl Sorted {
    /// Opens the sorted map or set in the slot at `pos` for writing: a new
    /// one in an empty slot (an empty leaf, then the header pointing at it,
    /// as upstream lays them out), the committed header copied otherwise.
    ///
    /// Only the B-tree list family writes sorted collections: in a database
    /// of the RRB family this is an error, since no reader could tell the
    /// file's lists apart any more.
    pub fn open_mut(core: &mut TxCore<'_>, pos: SlotPos, kind: Tag) -> Result<Sorted> {
        if database_family(core)? == ListFamily::Rrb {
            return Err(Error::WrongListFamily {
                what: "a sorted map or set",
                needed: ListFamily::BTree.name(),
                found: ListFamily::Rrb.name(),
            });
        }
        let header = open_header(core, pos, kind)?;
        Ok(Sorted { kind, header })
    }

    /// The record for `key`, made writable (copied if committed); created
    /// (with an empty value) when absent and `create`. The flag tells
    /// whether it was created.
    pub fn entry_mut(
        &self,
        core: &mut TxCore<'_>,
        key: &[u8],
        create: bool,
    ) -> Result<Option<(Kv, bool)>> {
        let mut h = self.read_header(&core.src())?;
        let out = insert(core, h.root, key, create, 0)?;
        let Some(kv) = out.kv else {
            return Ok(None);
        };
        if !out.changed {
            return Ok(Some((kv, false)));
        }
        h.root = match out.split {
            None => out.pos,
            Some((sep, right, right_count)) => {
                let mut root = Node::new(NodeKind::Branch, BranchLayout::Sorted);
                let left_count = h.size.saturating_add(u64::from(out.created)) - right_count;
                root.insert(0, index_item(out.pos, Slot::EMPTY, left_count));
                root.insert(1, index_item(right, sep, right_count));
                root.write(core)?
            }
        };
        h.size += u64::from(out.created);
        core.write_at(self.header, &h.encode())?;
        Ok(Some((kv, out.created)))
    }

    /// Removes `key`, which the caller has found present (it looks before
    /// opening the tree for writing, so that an absent key writes nothing);
    /// an absent key is reported as corrupt.
    pub fn remove(&self, core: &mut TxCore<'_>, key: &[u8]) -> Result<()> {
        let mut h = self.read_header(&core.src())?;
        let out = remove(core, h.root, key, 0)?;
        h.root = out.pos;
        // a root branch left with one child is replaced by it
        for _ in 0..MAX_DEPTH {
            let root = Node::read(&core.src(), h.root, BranchLayout::Sorted)?;
            if root.is_leaf() || root.num != 1 {
                break;
            }
            h.root = root.item(0).slot.value;
        }
        h.size = h.size.saturating_sub(1);
        core.write_at(self.header, &h.encode())?;
        Ok(())
    }
}

fn index_item(pos: u64, sep: Slot, count: u64) -> Item {
    Item {
        slot: Slot::new(Tag::Index, pos),
        sep,
        count,
    }
}

fn check_depth(depth: usize, pos: u64) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Err(Error::TooDeep { pos });
    }
    Ok(())
}

/// Inserts `key` (or finds it) below the node at `pos`.
///
/// A branch is read field by field (its separators to choose the child,
/// then that child's slot and count) and, unless the child split, patched
/// in place: at most the child's slot and its count are written, where
/// decoding and re-encoding the whole 418-byte node would cost several
/// times more. Only a split takes the whole node into memory.
fn insert(
    core: &mut TxCore<'_>,
    pos: u64,
    key: &[u8],
    create: bool,
    depth: usize,
) -> Result<Inserted> {
    check_depth(depth, pos)?;
    let src = core.src();
    let (kind, num) = node_head(&src.array::<2>(pos)?, pos)?;
    if kind == NodeKind::Leaf {
        let node = Node::read(&src, pos, BranchLayout::Sorted)?;
        return insert_in_leaf(core, node, key, create);
    }
    if num == 0 {
        return Err(Error::corrupt(pos, "B-tree branch without children"));
    }
    let i = super::branch_child(&src, pos, num, &Probe::new(key))?;
    let child = src.slot(pos + slot_off(i))?;
    if child.tag != Tag::Index {
        return Err(Error::corrupt(
            pos,
            "B-tree branch child is not an index slot",
        ));
    }
    let count_pos = count_off(BranchLayout::Sorted, i);
    let count = src.u64_at(pos + count_pos)?;
    let below = insert(core, child.value, key, create, depth + 1)?;
    if !below.changed {
        return Ok(Inserted::unchanged(pos, below.kv));
    }
    let count = count.saturating_add(u64::from(below.created));
    if let Some((sep, right, right_count)) = below.split {
        let mut node = Node::read(&core.src(), pos, BranchLayout::Sorted)?;
        let mut updated = index_item(below.pos, node.item(i).sep, count);
        updated.count = updated.count.saturating_sub(right_count);
        replace(&mut node, i, updated);
        let split = node.insert(i + 1, index_item(right, sep, right_count));
        return finish(core, node, below.kv, below.created, split);
    }
    let (owned, copied) = core.own(pos, SORTED_BRANCH_LEN)?;
    if below.pos != child.value {
        core.write_at(
            owned + slot_off(i),
            &Slot::new(Tag::Index, below.pos).encode(),
        )?;
    }
    if below.created {
        core.write_u64(owned + count_pos, count)?;
    }
    Ok(Inserted {
        pos: owned,
        kv: below.kv,
        created: below.created,
        changed: copied || below.created,
        split: None,
    })
}

/// Writes `node` and its split-off right half, if any.
fn finish(
    core: &mut TxCore<'_>,
    mut node: Node,
    kv: Option<Kv>,
    created: bool,
    split: Option<Node>,
) -> Result<Inserted> {
    let split = match split {
        None => None,
        Some(mut right) => {
            let sep = first_key(core, &right)?;
            let count = right.total();
            Some((sep, right.write(core)?, count))
        }
    };
    Ok(Inserted {
        pos: node.write(core)?,
        kv,
        created,
        changed: true,
        split,
    })
}

fn replace(node: &mut Node, i: usize, item: Item) {
    node.set(i, item);
}

/// The lower bound of a node's subtree: for a leaf, its first record's key
/// slot; for a branch, its first separator (kept there by splits) or, when
/// that is unset, its first child's lower bound.
fn first_key(core: &TxCore<'_>, node: &Node) -> Result<Slot> {
    let src = core.src();
    if node.is_leaf() {
        let kv = kv_of(&src, node.item(0).slot)?;
        return src.slot(kv.key_pos());
    }
    let sep = node.item(0).sep;
    if sep.tag != Tag::None {
        return Ok(sep);
    }
    subtree_min(core, node.item(0).slot.value)
}

/// The first key slot below the node at `pos`.
fn subtree_min(core: &TxCore<'_>, mut pos: u64) -> Result<Slot> {
    let src = core.src();
    for _ in 0..MAX_DEPTH {
        let node = Node::read(&src, pos, BranchLayout::Sorted)?;
        if node.num == 0 {
            return Err(Error::corrupt(
                pos,
                "empty B-tree node inside a non-empty tree",
            ));
        }
        if node.is_leaf() {
            return src.slot(kv_of(&src, node.item(0).slot)?.key_pos());
        }
        pos = node.item(0).slot.value;
    }
    Err(Error::TooDeep { pos })
}

fn insert_in_leaf(
    core: &mut TxCore<'_>,
    mut leaf: Node,
    key: &[u8],
    create: bool,
) -> Result<Inserted> {
    let src = core.src();
    let probe = Probe::new(key);
    let i = super::leaf_index(&src, leaf.pos, leaf.num, &probe, Seek::Lower)?;
    let existing = match i < leaf.num {
        true => Some(kv_of(&src, leaf.item(i).slot)?),
        false => None,
    };
    if let Some(kv) = existing {
        if compare_key(&src, kv, &probe)? == Ordering::Equal {
            if core.is_mutable(kv.pos) {
                return Ok(Inserted::unchanged(leaf.pos, Some(kv)));
            }
            // committed record: copy it and repoint the leaf entry
            let (pos, _) = core.own(kv.pos, kv.layout().len())?;
            replace(&mut leaf, i, leaf_item(pos));
            let kv = Kv { pos, ..kv };
            return finish(core, leaf, Some(kv), false, None);
        }
    }
    if !create {
        return Ok(Inserted::unchanged(leaf.pos, None));
    }
    let kv = new_record(core, key)?;
    let split = leaf.insert(i, leaf_item(kv.pos));
    finish(core, leaf, Some(kv), true, split)
}

fn leaf_item(kv: u64) -> Item {
    Item {
        slot: Slot::new(Tag::KvPair, kv),
        sep: Slot::EMPTY,
        count: 0,
    }
}

/// Appends the key's bytes (unless inline) and a record with a zero hash,
/// the key slot and an empty value.
fn new_record(core: &mut TxCore<'_>, key: &[u8]) -> Result<Kv> {
    let key_slot = bytes::encode(core, key, None)?;
    let hash_len = core.st.hasher.size() as u64;
    let pos = core.alloc_zeroed(hash_len)?;
    core.append(&key_slot.encode())?;
    core.append(&Slot::EMPTY.encode())?;
    Ok(Kv { pos, hash_len })
}

/// Removes `key` (known to be present) below the node at `pos`.
fn remove(core: &mut TxCore<'_>, pos: u64, key: &[u8], depth: usize) -> Result<Removed> {
    check_depth(depth, pos)?;
    let mut node = Node::read(&core.src(), pos, BranchLayout::Sorted)?;
    if node.is_leaf() {
        let src = core.src();
        let probe = Probe::new(key);
        let i = super::leaf_index(&src, pos, node.num, &probe, Seek::Lower)?;
        let found =
            i < node.num && compare_key(&src, entry(&src, pos, i)?, &probe)? == Ordering::Equal;
        if !found {
            return Err(Error::corrupt(
                pos,
                "sorted key vanished during its removal",
            ));
        }
        node.remove(i);
        return Ok(Removed {
            num: node.num,
            pos: node.write(core)?,
            min_changed: i == 0,
        });
    }
    if node.num == 0 {
        return Err(Error::corrupt(pos, "B-tree branch without children"));
    }
    let i = super::branch_child(&core.src(), pos, node.num, &Probe::new(key))?;
    let child = node.item(i);
    let below = remove(core, child.slot.value, key, depth + 1)?;
    replace(
        &mut node,
        i,
        index_item(below.pos, child.sep, child.count.saturating_sub(1)),
    );
    if below.min_changed && i > 0 && below.num > 0 {
        let min = subtree_min(core, below.pos)?;
        replace_sep(&mut node, i, min);
    }
    if below.num < MIN_FILL && node.num > 1 {
        rebalance(core, &mut node, i, &|core, leaf| first_key(core, leaf))?;
    }
    Ok(Removed {
        num: node.num,
        pos: node.write(core)?,
        min_changed: below.min_changed && i == 0,
    })
}

fn replace_sep(node: &mut Node, i: usize, sep: Slot) {
    if let Some(s) = node.seps.get_mut(i) {
        *s = sep;
    }
}
