//! Telling a linked list's family from its bytes, for databases opened
//! without one.
//!
//! The database's [`FamilyCell`](crate::tree::access::FamilyCell) holds
//! its family, or nothing yet: a file opened without a family learns it
//! from the first list whose bytes decide (or from a whole-database
//! [`scan`](super::scan) before it writes one), and keeps it.

use crate::error::{Error, Result};
use crate::format::btree::{
    child_count, node_head, node_slot, BTreeHeader, BranchLayout, NodeKind, BTREE_HEADER_LEN,
    LIST_BRANCH_LEN,
};
use crate::format::{
    LinkedEntry, LinkedHeader, ListFamily, Slot, Tag, BLOCK_SLOTS, LINKED_BLOCK_LEN,
    LINKED_HEADER_LEN, MAX_LINKED_SHIFT, MAX_POINTER, MIN_POINTER,
};
use crate::tree::access::Src;

/// What a list's bytes say about its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guess {
    /// Only this family reads them as a well-formed list.
    Is(ListFamily),
    /// Both do (an empty list reads as empty either way).
    Either,
    /// Neither does: the list is damaged.
    Neither,
}

/// Tells the family of the list whose header is at `header` from its
/// root: the B-tree reading needs a node head, a leaf holding exactly
/// `size` items or a branch whose counts add up to `size`, and zeros past
/// the used entries; the RRB reading needs a shift within bounds and a
/// root block whose entries describe `size` items.
pub(crate) fn guess(src: &Src<'_>, header: u64) -> Result<Guess> {
    let b = btree_plausible(src, header).unwrap_or(false);
    let r = rrb_plausible(src, header).unwrap_or(false);
    Ok(match (b, r) {
        (true, false) => Guess::Is(ListFamily::BTree),
        (false, true) => Guess::Is(ListFamily::Rrb),
        (true, true) => Guess::Either,
        (false, false) => Guess::Neither,
    })
}

/// The family to read the list at `header` in: the cell's, else what the
/// list's bytes say (recorded in the cell when they decide). A list that
/// both families read alike (an empty one) is read as a B-tree list, which
/// gives the same items; any other undecided list is an error.
pub(crate) fn family_of(src: &Src<'_>, header: u64) -> Result<ListFamily> {
    if let Some(f) = src.family.get() {
        return Ok(f);
    }
    match guess(src, header)? {
        Guess::Is(f) => Ok(src.family.learn(f)),
        Guess::Either if list_size(src, header)? == 0 => Ok(ListFamily::BTree),
        Guess::Either | Guess::Neither => Err(Error::UnknownListFamily { pos: header }),
    }
}

fn list_size(src: &Src<'_>, header: u64) -> Result<u64> {
    src.u64_at(header)
}

fn btree_plausible(src: &Src<'_>, header: u64) -> Result<bool> {
    let h = BTreeHeader::decode(src.array::<{ BTREE_HEADER_LEN as usize }>(header)?);
    if !(MIN_POINTER..MAX_POINTER).contains(&h.root) {
        return Ok(false);
    }
    let node: [u8; LIST_BRANCH_LEN as usize] = match src.array(h.root) {
        Ok(n) => n,
        // a leaf near the end of the file is shorter than a branch
        Err(_) => {
            let mut leaf = [0u8; LIST_BRANCH_LEN as usize];
            let short = leaf
                .get_mut(..crate::format::btree::LEAF_LEN as usize)
                .unwrap_or(&mut []);
            src.read_into(h.root, short)?;
            leaf
        }
    };
    let (kind, num) = node_head(&node, h.root)?;
    let mut total = 0u64;
    for i in 0..crate::format::btree::NODE_SLOTS {
        let slot = node_slot(&node, i, h.root)?;
        if i >= num {
            if slot != Slot::EMPTY {
                return Ok(false);
            }
            continue;
        }
        match kind {
            NodeKind::Leaf => total += 1,
            NodeKind::Branch => {
                if slot.tag != Tag::Index || slot.full {
                    return Ok(false);
                }
                let c = child_count(&node, BranchLayout::List, i, h.root)?;
                total = total.saturating_add(c);
                node_head(&src.array::<2>(slot.value)?, slot.value)?;
            }
        }
    }
    Ok(total == h.size && (kind == NodeKind::Leaf || num > 0))
}

fn rrb_plausible(src: &Src<'_>, header: u64) -> Result<bool> {
    let h = LinkedHeader::decode(src.array::<{ LINKED_HEADER_LEN as usize }>(header)?);
    let shift = h.shift_bits();
    if shift > MAX_LINKED_SHIFT || !(MIN_POINTER..MAX_POINTER).contains(&h.ptr) {
        return Ok(false);
    }
    let block: [u8; LINKED_BLOCK_LEN as usize] = src.array(h.ptr)?;
    let mut total = 0u64;
    for i in 0..BLOCK_SLOTS {
        let e = LinkedEntry::decode_in(&block, i, h.ptr)?;
        // leaf entries record no size; an unused entry is all zeros
        if (shift == 0 || e.slot.is_empty()) && e.size != 0 {
            return Ok(false);
        }
        if e.slot.is_empty() {
            if e.slot != Slot::EMPTY {
                return Ok(false);
            }
            continue;
        }
        if shift == 0 {
            total += 1;
        } else {
            if e.slot.tag != Tag::Index {
                return Ok(false);
            }
            total = total.saturating_add(e.size);
        }
    }
    Ok(total == h.size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::cursor::{Cursor, ValueRef};
    use crate::{Database, Options};

    /// Every linked list below `c`, by header position.
    fn lists(c: Cursor<'_>, out: &mut Vec<u64>) {
        match c.value().unwrap() {
            ValueRef::Map(m) => m
                .iter()
                .for_each(|e| lists(e.unwrap().value().unwrap(), out)),
            ValueRef::List(l) => l.iter().for_each(|i| lists(i.unwrap(), out)),
            ValueRef::LinkedList(l) => {
                out.push(c.slot().value);
                l.iter().for_each(|i| lists(i.unwrap(), out));
            }
            ValueRef::SortedMap(m) => m
                .iter()
                .unwrap()
                .for_each(|e| lists(e.unwrap().value().unwrap(), out)),
            _ => {}
        }
    }

    /// Each golden file's every linked list, read in the family the file
    /// was written in, is told apart by its bytes alone (or is empty).
    #[test]
    fn every_golden_list_tells_its_family() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for (dir, family) in [
            ("golden", ListFamily::Rrb),
            ("golden-btree", ListFamily::BTree),
        ] {
            let mut total = 0;
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "xdb") {
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                let opts = Options {
                    list_family: Some(family),
                    ..Options::default()
                };
                let db = Database::from_slice_with(&bytes, opts).unwrap();
                let mut found = Vec::new();
                match db.header().tag {
                    crate::format::Tag::ArrayList => {
                        for m in 0..db.moment_count().unwrap() {
                            lists(db.moment(m as i64).unwrap(), &mut found);
                        }
                    }
                    _ => lists(db.root(), &mut found),
                }
                let src = db.src();
                for header in found {
                    let g = guess(&src, header).unwrap();
                    let empty = src.u64_at(header).unwrap() == 0;
                    assert!(
                        g == Guess::Is(family) || (g == Guess::Either && empty),
                        "{path:?}: list at {header} guessed {g:?}"
                    );
                    total += 1;
                }
            }
            assert!(total > 100, "{dir}: only {total} lists");
        }
    }
}
