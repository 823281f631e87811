//! The B-tree LinkedArrayList of current upstream xitdb: a count-augmented
//! B-tree under tag 3.
//!
//! The slot points at a 16-byte header (item count, root node). Leaves hold
//! up to 16 item slots; branches hold up to 16 children and the number of
//! items below each, so that the item of rank `k` is found by subtracting
//! counts on the way down. There are no separators and no per-entry
//! flags. Reads never allocate: a [`Path`] reads the counts it needs in
//! place.
//!
//! Writing ([`edit`], [`splice`]) keeps upstream's rules: a new item is an
//! explicit null until written, an insert at a child boundary goes to the
//! end of the left child, full nodes split 8 | 9, and slicing, removal and
//! concatenation split and join trees, sharing every untouched subtree.

mod edit;
mod splice;

use crate::error::{Error, Result};
use crate::format::btree::{BTreeHeader, BranchLayout, BTREE_HEADER_LEN};
use crate::format::{MAX_POINTER, MIN_POINTER};
use crate::tree::access::Src;
use crate::tree::btree::iter::RankIter;
use crate::tree::btree::path::Path;

/// A B-tree LinkedArrayList located in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BTreeList {
    /// Where the 16-byte header lies.
    pub header: u64,
    /// Number of items.
    pub size: u64,
    /// The root node.
    pub root: u64,
}

impl BTreeList {
    /// Reads the header at `header`.
    pub fn read(src: &Src<'_>, header: u64) -> Result<BTreeList> {
        let h = BTreeHeader::decode(src.array::<{ BTREE_HEADER_LEN as usize }>(header)?);
        if !(MIN_POINTER..MAX_POINTER).contains(&h.root) {
            return Err(Error::corrupt(
                header,
                "list root outside any possible record",
            ));
        }
        Ok(BTreeList {
            header,
            size: h.size,
            root: h.root,
        })
    }

    /// Position of the slot of item `k` (`k < size`).
    pub fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64> {
        Ok(Path::seek(src, BranchLayout::List, self.root, k)?.slot_pos())
    }

    /// Iterates over the positions of the item slots, from both ends.
    pub fn iter<'r>(&self, src: Src<'r>) -> RankIter<'r> {
        RankIter::new(src, BranchLayout::List, self.root, 0, self.size)
    }
}
