//! One side of a pair of map or ArrayList blocks, as the walk sees it.
//!
//! Both kinds are 16-slot index blocks, and both sometimes need to face a
//! block with something that is not one: nothing (the other side's entries
//! are added or removed), a lone map record (treated as a one-entry block
//! one level down), or the root of a shorter list (treated as slot 0 of a
//! block above it). [`Node`] gives all of these the one interface of a
//! block's slots, so the map and list steps compare slot by slot.

use super::walker::Side;
use super::Diff;
use crate::error::Result;
use crate::format::{block_slot, Slot, Tag, BLOCK_LEN, SLOT_LEN};

/// One side of a map or ArrayList block pair.
#[derive(Clone, Copy)]
pub(super) enum Node {
    /// Nothing on this side: the other side's entries are added or removed.
    Empty,
    /// An index block, read whole.
    Block {
        pos: u64,
        raw: [u8; BLOCK_LEN as usize],
    },
    /// A virtual map block holding one key/value slot at slot `at`: a
    /// record facing an index block on the other side.
    Single { slot: Slot, at: usize },
    /// A virtual ArrayList block `lift` levels above the real root `root`
    /// of the shorter list, whose slot 0 leads down to that root.
    Lifted { root: u64, lift: u8 },
}

impl Node {
    /// Slot `i` of the (possibly virtual) block.
    pub(super) fn slot(&self, i: usize) -> Result<Slot> {
        match self {
            Node::Empty => Ok(Slot::EMPTY),
            Node::Block { pos, raw } => block_slot(raw, i, *pos),
            Node::Single { slot, at } => Ok(if i == *at { *slot } else { Slot::EMPTY }),
            Node::Lifted { root, .. } => Ok(if i == 0 {
                Slot::new(Tag::Index, *root)
            } else {
                Slot::EMPTY
            }),
        }
    }

    /// Position of slot `i`, for the blocks that are in storage.
    pub(super) fn slot_pos(&self, i: usize) -> Option<u64> {
        match self {
            Node::Block { pos, .. } => Some(pos + SLOT_LEN * i as u64),
            _ => None,
        }
    }

    /// A position to name in errors.
    pub(super) fn pos(&self) -> u64 {
        match self {
            Node::Block { pos, .. } => *pos,
            Node::Lifted { root, .. } => *root,
            Node::Empty | Node::Single { .. } => 0,
        }
    }
}

impl Diff<'_> {
    /// Reads one side's index block at `pos`, whole (one read).
    pub(super) fn read_block(&mut self, side: Side, pos: u64) -> Result<Node> {
        Ok(Node::Block {
            pos,
            raw: self.read(side, pos)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_decoding_stays_inside_the_block() {
        let raw = [0u8; BLOCK_LEN as usize];
        let node = Node::Block { pos: 100, raw };
        assert!(node.slot(15).is_ok());
        assert!(node.slot(16).is_err());
    }
}
