//! Record codecs: the fixed layouts of the format's records (index blocks,
//! key/value records, list headers and blocks, linked-list headers and
//! entries) as pure functions over bytes held in memory. The B-tree nodes'
//! fields are decoded in [`super::btree`]; their place in the layout table
//! is here.
//!
//! Every reader of the format goes through these: the structures in
//! `tree`, and the tools (verify, diff, compaction). A decode never panics:
//! a field that does not lie inside the bytes it is read from is an
//! [`Error::Corrupt`] naming the storage position it was read at.
//!
//! [`RecordKind`] is the record-layout table: for every kind of record that
//! holds children, its length and where each child's slot (or pointer)
//! lies, so a walker that only follows pointers (compaction) needs no
//! knowledge of the structures.

use super::btree::{separator_off, slot_off, BranchLayout, BTREE_HEADER_LEN, LEAF_LEN, NODE_SLOTS};
use super::{
    FormatTag, Slot, Tag, BLOCK_LEN, BLOCK_SLOTS, COUNT_LEN, LINKED_BLOCK_LEN, LINKED_HEADER_LEN,
    LINKED_SLOT_LEN, LIST_HEADER_LEN, SLOT_LEN,
};
use crate::error::{Error, Result};

/// The big-endian u64 at byte `off` of `bytes`, if it lies inside.
#[inline]
pub fn u64_at(bytes: &[u8], off: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(off..off.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

/// Writes `value` big-endian at byte `off` of `bytes`; false when it does
/// not fit.
#[inline]
pub fn put_u64(bytes: &mut [u8], off: usize, value: u64) -> bool {
    match off.checked_add(8).and_then(|end| bytes.get_mut(off..end)) {
        Some(dst) => {
            dst.copy_from_slice(&value.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Decodes the slot at byte `off` of `bytes`, a record read from storage
/// position `pos` (for the error's position).
#[inline]
pub fn slot_at(bytes: &[u8], off: usize, pos: u64) -> Result<Slot> {
    let at = pos.saturating_add(off as u64);
    let raw: [u8; SLOT_LEN as usize] = off
        .checked_add(SLOT_LEN as usize)
        .and_then(|end| bytes.get(off..end))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::corrupt(at, "slot outside its record"))?;
    Slot::decode(raw, at)
}

/// The tag of the slot at byte `off` of `bytes` (a record read from storage
/// position `pos`), without decoding its value: for slots that are kept but
/// not followed, such as an ArrayList block's stale slots past its size. A
/// tag outside 0..=15 is [`Error::InvalidTag`] at the slot's position.
#[inline]
pub fn tag_at(bytes: &[u8], off: usize, pos: u64) -> Result<Tag> {
    let at = pos.saturating_add(off as u64);
    let byte = bytes
        .get(off)
        .ok_or_else(|| Error::corrupt(at, "slot outside its record"))?;
    let raw = byte & 0x7F;
    Tag::from_u8(raw).ok_or(Error::InvalidTag { tag: raw, pos: at })
}

/// Slot `i` of an index block (16 slots of 9 bytes) read from `pos`.
#[inline]
pub fn block_slot(block: &[u8], i: usize, pos: u64) -> Result<Slot> {
    slot_at(block, i.saturating_mul(SLOT_LEN as usize), pos)
}

/// Items (or leaves) one slot of a radix block at `level` covers: 16^level,
/// saturating at `u64::MAX`.
#[inline]
pub fn level_capacity(level: u8) -> u64 {
    1u64.checked_shl(4 * u32::from(level)).unwrap_or(u64::MAX)
}

/// An ArrayList header: the item count, then the root block's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListHeader {
    /// Number of items.
    pub size: u64,
    /// Position of the root index block (0 before the first item).
    pub ptr: u64,
}

impl ListHeader {
    /// Encodes size and pointer.
    #[inline]
    pub fn encode(self) -> [u8; LIST_HEADER_LEN as usize] {
        let mut b = [0u8; LIST_HEADER_LEN as usize];
        put_u64(&mut b, 0, self.size);
        put_u64(&mut b, 8, self.ptr);
        b
    }

    /// Decodes size and pointer (no validation: the pointer is checked where
    /// it is followed).
    #[inline]
    pub fn decode(b: [u8; LIST_HEADER_LEN as usize]) -> ListHeader {
        ListHeader {
            size: u64_at(&b, 0).unwrap_or(0),
            ptr: u64_at(&b, 8).unwrap_or(0),
        }
    }
}

/// A LinkedArrayList header: item count, root block position, and the
/// root's shift (its height − 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkedHeader {
    /// Number of items.
    pub size: u64,
    /// Position of the root block (0 before the first item).
    pub ptr: u64,
    /// Height − 1 of the tree.
    pub shift: u8,
}

impl LinkedHeader {
    /// Encodes size, pointer and shift.
    #[inline]
    pub fn encode(self) -> [u8; LINKED_HEADER_LEN as usize] {
        let mut b = [0u8; LINKED_HEADER_LEN as usize];
        put_u64(&mut b, 0, self.size);
        put_u64(&mut b, 8, self.ptr);
        b[16] = self.shift;
        b
    }

    /// Decodes size, pointer and shift (no validation).
    #[inline]
    pub fn decode(b: [u8; LINKED_HEADER_LEN as usize]) -> LinkedHeader {
        LinkedHeader {
            size: u64_at(&b, 0).unwrap_or(0),
            ptr: u64_at(&b, 8).unwrap_or(0),
            shift: b[16],
        }
    }

    /// The shift as readers take it: bits 5..0 of the shift byte (bits 7..6
    /// are padding, ignored when read).
    #[inline]
    pub fn shift_bits(self) -> u8 {
        self.shift & 0x3F
    }
}

/// One 17-byte entry of a LinkedArrayList block: a slot, then the number
/// of leaves below it (0 in leaf blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkedEntry {
    /// The item (leaf blocks) or the child block (internal blocks).
    pub slot: Slot,
    /// Leaves under an internal entry (0 in leaf blocks).
    pub size: u64,
}

impl LinkedEntry {
    /// Encodes the slot, then the leaf count.
    #[inline]
    pub fn encode(self) -> [u8; LINKED_SLOT_LEN as usize] {
        let mut b = [0u8; LINKED_SLOT_LEN as usize];
        let (slot, size) = b.split_at_mut(SLOT_LEN as usize);
        slot.copy_from_slice(&self.slot.encode());
        put_u64(size, 0, self.size);
        b
    }

    /// Decodes entry `i` of a block's bytes read from `pos`.
    #[inline]
    pub fn decode_in(block: &[u8], i: usize, pos: u64) -> Result<LinkedEntry> {
        let off = i.saturating_mul(LINKED_SLOT_LEN as usize);
        let slot = slot_at(block, off, pos)?;
        let size = u64_at(block, off + SLOT_LEN as usize).ok_or_else(|| {
            Error::corrupt(pos.saturating_add(off as u64), "entry outside its block")
        })?;
        Ok(LinkedEntry { slot, size })
    }
}

/// Where the parts of a key/value record lie: the key's hash, then the key
/// slot, then the value slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLayout {
    /// Length of the hash that starts the record.
    pub hash_len: u64,
}

impl KvLayout {
    /// Offset of the key slot.
    #[inline]
    pub fn key_off(self) -> u64 {
        self.hash_len
    }

    /// Offset of the value slot.
    #[inline]
    pub fn value_off(self) -> u64 {
        self.hash_len + SLOT_LEN
    }

    /// Length of the whole record.
    #[inline]
    pub fn len(self) -> u64 {
        self.hash_len + 2 * SLOT_LEN
    }

    /// True when the record would hold nothing but its slots (never, for a
    /// real hash).
    #[inline]
    pub fn is_empty(self) -> bool {
        self.hash_len == 0
    }
}

/// Payload bytes a `short_bytes` slot holds: its 8 value bytes, or 6 when a
/// 2-byte format tag (`tagged`, the slot's `full` flag) takes the last two.
/// Unused payload bytes are zero.
#[inline]
pub fn short_bytes_room(tagged: bool) -> usize {
    if tagged {
        8 - size_of::<FormatTag>()
    } else {
        8
    }
}

/// Length of a long byte string record holding `len` payload bytes: the
/// 8-byte length prefix, the payload, then the 2-byte format tag when
/// `tagged` (the slot's `full` flag). `None` when it overflows a u64.
#[inline]
pub fn long_bytes_len(len: u64, tagged: bool) -> Option<u64> {
    let tail = if tagged {
        size_of::<FormatTag>() as u64
    } else {
        0
    };
    len.checked_add(8)?.checked_add(tail)
}

/// The record-layout table: every kind of record that holds children, with
/// its length and where its children's slots lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A long byte string (with a 2-byte format tag when `tagged`): no
    /// children.
    Bytes {
        /// A format tag follows the payload.
        tagged: bool,
    },
    /// A map or set index block (16 slots): the root of an uncounted one,
    /// or an inner block.
    IndexBlock,
    /// A counted map's or set's count, then its root index block.
    CountedIndex,
    /// A key/value record's two slots (the hash before them is not held).
    KvSlots,
    /// An ArrayList header (its root pointer is the one child).
    ListHeader,
    /// An ArrayList block at `level` (0 holds items).
    ListBlock {
        /// Height above the items.
        level: u8,
    },
    /// A LinkedArrayList header (its root pointer is the one child).
    LinkedHeader,
    /// A LinkedArrayList block at `shift` (0 holds items).
    LinkedBlock {
        /// Height above the items.
        shift: u8,
    },
    /// A B-tree header (sorted map or set; B-tree list): its root pointer
    /// is the one child, a node of the `layout` family.
    BTreeHeader {
        /// The family of the tree's nodes.
        layout: BranchLayout,
    },
    /// A B-tree leaf of the `layout` family: 16 entry slots (`kv_pair`
    /// slots of a sorted map or set, a list's items).
    BTreeLeaf {
        /// The family the node belongs to.
        layout: BranchLayout,
    },
    /// A B-tree branch of `layout`: 16 child slots (children 0..16), then,
    /// in the sorted layout, 16 separator key slots (children 16..32). Its
    /// subtree counts are not children.
    BTreeBranch {
        /// The family the node belongs to.
        layout: BranchLayout,
    },
}

impl RecordKind {
    /// Bytes of the record (for key/value records: of its two slots; for
    /// byte strings 0, their length is stored in the record).
    #[inline]
    pub fn len(self) -> usize {
        match self {
            RecordKind::Bytes { .. } => 0,
            RecordKind::IndexBlock | RecordKind::ListBlock { .. } => BLOCK_LEN as usize,
            RecordKind::CountedIndex => (COUNT_LEN + BLOCK_LEN) as usize,
            RecordKind::KvSlots => 2 * SLOT_LEN as usize,
            RecordKind::ListHeader => LIST_HEADER_LEN as usize,
            RecordKind::LinkedHeader => LINKED_HEADER_LEN as usize,
            RecordKind::LinkedBlock { .. } => LINKED_BLOCK_LEN as usize,
            RecordKind::BTreeHeader { .. } => BTREE_HEADER_LEN as usize,
            RecordKind::BTreeLeaf { .. } => LEAF_LEN as usize,
            RecordKind::BTreeBranch { layout } => layout.len() as usize,
        }
    }

    /// True for kinds without a fixed-length body (byte strings).
    #[inline]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Number of children (slots, or the header's one pointer).
    #[inline]
    pub fn children(self) -> u8 {
        match self {
            RecordKind::Bytes { .. } => 0,
            RecordKind::ListHeader | RecordKind::LinkedHeader | RecordKind::BTreeHeader { .. } => 1,
            RecordKind::KvSlots => 2,
            RecordKind::BTreeBranch {
                layout: BranchLayout::Sorted,
            } => 2 * NODE_SLOTS as u8,
            _ => BLOCK_SLOTS as u8,
        }
    }

    /// Offset of child `i`'s slot (for headers: of the root pointer, at 8;
    /// for a sorted branch, children 16..32 are its separators).
    #[inline]
    pub fn child_off(self, i: u8) -> usize {
        let i = usize::from(i);
        match self {
            RecordKind::CountedIndex => COUNT_LEN as usize + SLOT_LEN as usize * i,
            RecordKind::LinkedBlock { .. } => LINKED_SLOT_LEN as usize * i,
            RecordKind::ListHeader | RecordKind::LinkedHeader | RecordKind::BTreeHeader { .. } => 8,
            RecordKind::BTreeLeaf { .. } => slot_off(i) as usize,
            RecordKind::BTreeBranch { .. } => match i.checked_sub(NODE_SLOTS) {
                None => slot_off(i) as usize,
                Some(s) => separator_off(s) as usize,
            },
            _ => SLOT_LEN as usize * i,
        }
    }

    /// Offset of the 8-byte pointer of child `i` (a slot's value follows
    /// its tag byte; a header's pointer is bare).
    #[inline]
    pub fn ptr_off(self, i: u8) -> usize {
        match self {
            RecordKind::ListHeader | RecordKind::LinkedHeader | RecordKind::BTreeHeader { .. } => 8,
            _ => self.child_off(i).saturating_add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_slots_stay_inside() {
        let mut b = [0u8; 12];
        assert!(put_u64(&mut b, 4, 0x0102_0304_0506_0708));
        assert!(!put_u64(&mut b, 5, 1));
        assert!(!put_u64(&mut b, usize::MAX, 1));
        assert_eq!(u64_at(&b, 4), Some(0x0102_0304_0506_0708));
        assert_eq!(u64_at(&b, 5), None);
        assert_eq!(u64_at(&b, usize::MAX), None);
        assert!(slot_at(&b, 4, 100).is_err());
        assert!(slot_at(&b, usize::MAX, 100).is_err());
        let s = Slot {
            tag: Tag::Uint,
            full: false,
            value: 7,
        };
        let mut block = [0u8; BLOCK_LEN as usize];
        block[9..18].copy_from_slice(&s.encode());
        assert_eq!(block_slot(&block, 1, 0).unwrap(), s);
        assert!(block_slot(&block, 16, 0).is_err());
    }

    #[test]
    fn headers_and_entries_round_trip() {
        let h = ListHeader { size: 5, ptr: 99 };
        assert_eq!(ListHeader::decode(h.encode()), h);
        let l = LinkedHeader {
            size: 17,
            ptr: 1234,
            shift: 2,
        };
        assert_eq!(LinkedHeader::decode(l.encode()), l);
        let e = LinkedEntry {
            slot: Slot {
                tag: Tag::Int,
                full: true,
                value: 3,
            },
            size: 42,
        };
        let mut block = [0u8; LINKED_BLOCK_LEN as usize];
        block[17..34].copy_from_slice(&e.encode());
        assert_eq!(LinkedEntry::decode_in(&block, 1, 0).unwrap(), e);
        assert!(LinkedEntry::decode_in(&block, 16, 0).is_err());
    }

    #[test]
    fn tags_without_values() {
        let mut block = [0u8; BLOCK_LEN as usize];
        block[9..18].copy_from_slice(&Slot::new(Tag::Index, u64::MAX).encode());
        block[18] = 0x80 | Tag::Bytes as u8;
        block[27] = 0x7E;
        assert_eq!(tag_at(&block, 9, 100).unwrap(), Tag::Index);
        assert!(block_slot(&block, 1, 100).is_err(), "the value is not read");
        assert_eq!(tag_at(&block, 18, 100).unwrap(), Tag::Bytes);
        assert!(matches!(
            tag_at(&block, 27, 100),
            Err(Error::InvalidTag {
                tag: 0x7E,
                pos: 127
            })
        ));
        assert!(tag_at(&block, BLOCK_LEN as usize, 100).is_err());
        assert!(tag_at(&block, usize::MAX, 100).is_err());
    }

    #[test]
    fn shift_padding_and_byte_strings() {
        let h = LinkedHeader {
            size: 1,
            ptr: 12,
            shift: 0xC3,
        };
        assert_eq!(LinkedHeader::decode(h.encode()).shift_bits(), 3);
        assert_eq!((short_bytes_room(false), short_bytes_room(true)), (8, 6));
        assert_eq!(long_bytes_len(5, false), Some(13));
        assert_eq!(long_bytes_len(5, true), Some(15));
        assert_eq!(long_bytes_len(u64::MAX - 9, true), None);
        assert_eq!(long_bytes_len(u64::MAX - 7, false), None);
        assert_eq!(long_bytes_len(u64::MAX - 10, true), Some(u64::MAX));
    }

    #[test]
    fn layout_table() {
        assert_eq!(level_capacity(0), 1);
        assert_eq!(level_capacity(2), 256);
        assert_eq!(level_capacity(16), u64::MAX);
        let kv = KvLayout { hash_len: 32 };
        assert_eq!((kv.key_off(), kv.value_off(), kv.len()), (32, 41, 50));
        let c = RecordKind::CountedIndex;
        assert_eq!(c.len(), 152);
        assert_eq!(c.child_off(15), 8 + 135);
        assert_eq!(c.ptr_off(0), 9);
        assert_eq!(RecordKind::ListHeader.ptr_off(0), 8);
        assert_eq!(RecordKind::LinkedBlock { shift: 1 }.child_off(2), 34);
        for kind in [
            RecordKind::IndexBlock,
            RecordKind::CountedIndex,
            RecordKind::KvSlots,
            RecordKind::ListBlock { level: 0 },
            RecordKind::LinkedBlock { shift: 0 },
            RecordKind::BTreeHeader {
                layout: BranchLayout::Sorted,
            },
            RecordKind::BTreeLeaf {
                layout: BranchLayout::Sorted,
            },
            RecordKind::BTreeLeaf {
                layout: BranchLayout::List,
            },
            RecordKind::BTreeBranch {
                layout: BranchLayout::Sorted,
            },
            RecordKind::BTreeBranch {
                layout: BranchLayout::List,
            },
        ] {
            let last = kind.children() - 1;
            assert!(kind.ptr_off(last) + 8 <= kind.len(), "{kind:?}");
        }
    }

    #[test]
    fn btree_layouts() {
        use super::super::btree::{count_off, SORTED_BRANCH_LEN};
        let header = RecordKind::BTreeHeader {
            layout: BranchLayout::Sorted,
        };
        assert_eq!(
            (header.len(), header.children(), header.ptr_off(0)),
            (16, 1, 8)
        );
        for layout in [BranchLayout::Sorted, BranchLayout::List] {
            let leaf = RecordKind::BTreeLeaf { layout };
            assert_eq!((leaf.len(), leaf.children()), (146, 16));
            assert_eq!((leaf.child_off(0), leaf.ptr_off(0)), (2, 3));
            assert_eq!(leaf.child_off(15), 2 + 15 * 9);
        }
        let sorted = RecordKind::BTreeBranch {
            layout: BranchLayout::Sorted,
        };
        assert_eq!(sorted.len(), SORTED_BRANCH_LEN as usize);
        assert_eq!(sorted.children(), 32, "children, then separators");
        assert_eq!(sorted.child_off(1), 11);
        assert_eq!(sorted.child_off(16), 146, "separator 0");
        assert_eq!(sorted.ptr_off(31), 146 + 15 * 9 + 1);
        // the counts lie past every child's slot: they are copied as they are
        let counts = count_off(BranchLayout::Sorted, 0) as usize;
        assert!(sorted.child_off(31) + SLOT_LEN as usize <= counts);
        let list = RecordKind::BTreeBranch {
            layout: BranchLayout::List,
        };
        assert_eq!((list.len(), list.children()), (274, 16));
        assert_eq!(list.child_off(15) + SLOT_LEN as usize, 146);
        assert_eq!(count_off(BranchLayout::List, 0), 146);
    }
}
