//! The B-tree machinery current upstream xitdb shares between SortedMap,
//! SortedSet and the B-tree family of the LinkedArrayList: nodes read into
//! memory, changed there (insert with 8 | 9 splits, removal, merging and
//! redistributing neighbours) and written back under the copy-on-write
//! rule, plus positioned paths for ranked, double-ended iteration.
//!
//! What an entry means (a key/value record, or a list item) is the
//! business of the structure that uses the node; the node only moves
//! slots, separators and subtree counts.

pub(crate) mod iter;
pub(crate) mod node;
pub(crate) mod path;
pub(crate) mod rebalance;

/// Deepest tree accepted. A tree grows one level per root split, and a
/// root split needs 17 children below it, so 40 levels would take more
/// entries than any storage holds; deeper (or cyclic) trees are corrupt.
pub(crate) const MAX_DEPTH: usize = 40;

use crate::error::Result;
use crate::format::btree::{BTreeHeader, BTREE_HEADER_LEN, LEAF_LEN};
use crate::format::Tag;
use crate::tree::access::{SlotPos, TxCore};

/// Opens the B-tree structure of kind `tag` (a sorted map or set, or a
/// B-tree list) in the slot at `pos` for writing and returns its header's
/// position: a new one in an empty slot (an empty leaf, then the header
/// pointing at it, as upstream lays them out), the committed header copied
/// otherwise.
pub(crate) fn open_header(core: &mut TxCore<'_>, pos: SlotPos, tag: Tag) -> Result<u64> {
    core.open_structure(pos, tag, BTREE_HEADER_LEN, |core| {
        let leaf = core.alloc_zeroed(LEAF_LEN)?;
        core.alloc(
            &BTreeHeader {
                size: 0,
                root: leaf,
            }
            .encode(),
        )
    })
}
