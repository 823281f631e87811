//! The byte-level format: pure encoding and decoding, no I/O.
//!
//! Everything here turns records of the xitdb format (version 0) into bytes
//! and back. All integers are big-endian; there is no padding. FORMAT.md at
//! the crate root describes the same layouts in prose.
//!
//! ```
//! use xitdb::format::{HashKind, Header, Slot, Tag, HEADER_LEN};
//! use xitdb::Database;
//!
//! let mut db = Database::memory();
//! db.transact(|tx| tx.root_map()?.put("k", 1u64))?;
//! let bytes = db.into_bytes();
//!
//! // the 12-byte header: magic, root tag, version, hash size, hash id
//! let mut raw = [0u8; HEADER_LEN as usize];
//! raw.copy_from_slice(&bytes[..HEADER_LEN as usize]);
//! let header = Header::decode(raw)?;
//! assert_eq!(header.tag, Tag::ArrayList); // a history of moments
//! assert_eq!(header.hash_id, HashKind::Blake3.id());
//! assert_eq!(header.encode(), raw);
//!
//! // a 9-byte slot: flag and tag, then the value big-endian
//! let slot = Slot::new(Tag::HashMap, 180);
//! assert_eq!(slot.encode(), [4, 0, 0, 0, 0, 0, 0, 0, 0xb4]);
//! assert_eq!(Slot::decode(slot.encode(), 0)?, slot);
//! assert!(Slot::decode([14, 0, 0, 0, 0, 0, 0, 0, 0], 0).is_err()); // no tag 14
//! # Ok::<(), xitdb::Error>(())
//! ```

pub mod btree;
mod commit;
mod hash;
mod header;
mod record;
mod redo;
mod slot;

pub use commit::{
    hex, parse_chain_hash, ChainHash, ChainHead, CommitRecord, Patch, CHAIN_HASH_LEN, COMMIT_MAGIC,
};
pub use hash::{HashKind, Hasher, KeyHash, BLAKE3_ID, MAX_HASH_LEN, SHA1_ID};
pub use header::{Header, TopHeader};
pub use record::{
    block_slot, level_capacity, long_bytes_len, put_u64, short_bytes_room, slot_at, tag_at, u64_at,
    KvLayout, LinkedEntry, LinkedHeader, ListHeader, RecordKind,
};
pub use redo::{Redo, RedoSum, REDO_LEN, REDO_MAGIC, REDO_MAGIC_AT};
pub use slot::{Slot, Tag, MAX_POINTER, MIN_POINTER};

/// Which on-disk layout a file's LinkedArrayLists (tag 3) use.
///
/// Nothing in a file records it: xitdb up to June 2026 wrote relaxed radix
/// (RRB) trees, current upstream writes count-augmented B-trees under the
/// same tag and format version. A database is opened in one family (given,
/// or inferred from what it holds) and reads and writes every linked list in
/// it that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListFamily {
    /// The older family: 17-byte header, 272-byte blocks of 17-byte entries.
    Rrb,
    /// Current upstream: 16-byte header, 146-byte leaves, 274-byte branches.
    /// Files that hold SortedMaps or SortedSets (tags 14, 15) are always of
    /// this family.
    BTree,
}

impl ListFamily {
    /// The family's name as the tools print it: `rrb` or `btree`.
    pub fn name(self) -> &'static str {
        match self {
            ListFamily::Rrb => "rrb",
            ListFamily::BTree => "btree",
        }
    }
}

impl std::str::FromStr for ListFamily {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "rrb" => Ok(ListFamily::Rrb),
            "btree" => Ok(ListFamily::BTree),
            other => Err(format!("unknown list family {other:?} (rrb or btree)")),
        }
    }
}

/// A 2-byte tag attached to a byte value (opaque to the database).
pub type FormatTag = [u8; 2];

/// Deepest nesting of structures inside structures that the tools (verify,
/// diff, compaction, the JSON dump) follow before reporting an error: the
/// bound that keeps a hostile file from exhausting their stacks.
pub const MAX_NESTING: u32 = 512;

/// Format version written and read by this library.
pub const VERSION: u16 = 0;
/// The three magic bytes every database starts with.
pub const MAGIC: [u8; 3] = *b"xit";
/// Length of the database header.
pub const HEADER_LEN: u64 = 12;
/// Offset of the root object (the top-level history or root map).
pub const DATABASE_START: u64 = HEADER_LEN;
/// Length of one slot.
pub const SLOT_LEN: u64 = 9;
/// Number of slots in an index block.
pub const BLOCK_SLOTS: usize = 16;
/// Length of an index block (16 slots).
pub const BLOCK_LEN: u64 = SLOT_LEN * BLOCK_SLOTS as u64;
/// Length of an ArrayList header: size, then root pointer.
pub const LIST_HEADER_LEN: u64 = 16;
/// Length of the top-level history header: an ArrayList header plus the committed file size.
pub const TOP_HEADER_LEN: u64 = 24;
/// Length of the count that precedes the root block of counted maps and sets.
pub const COUNT_LEN: u64 = 8;
/// Length of a LinkedArrayList header: size, root pointer, shift byte.
pub const LINKED_HEADER_LEN: u64 = 17;
/// Length of a LinkedArrayList entry: a slot, then the subtree's leaf count.
pub const LINKED_SLOT_LEN: u64 = 17;
/// Length of a LinkedArrayList block (16 entries).
pub const LINKED_BLOCK_LEN: u64 = LINKED_SLOT_LEN * BLOCK_SLOTS as u64;
/// Largest ArrayList shift: 16 levels of 16 slots cover every u64 index.
pub const MAX_LIST_SHIFT: u8 = 15;
/// Largest LinkedArrayList shift accepted (the reference stops growing below 16).
pub const MAX_LINKED_SHIFT: u8 = 15;

/// Reads a big-endian u64 from the first 8 bytes of `b`.
#[inline]
pub fn be_u64(b: [u8; 8]) -> u64 {
    u64::from_be_bytes(b)
}

/// Height − 1 of an ArrayList radix tree holding `n` items.
///
/// Lists of up to 16 items are a single block (shift 0); beyond that the
/// shift is `floor(log16(n - 1))`, computed with integer arithmetic.
#[inline]
pub fn list_shift(n: u64) -> u8 {
    if n <= 16 {
        return 0;
    }
    let bits = 64 - (n - 1).leading_zeros(); // number of significant bits of n - 1
    ((bits - 1) / 4) as u8
}

/// Locates the 4-bit slot index of a hash at HAMT depth `depth`.
///
/// The hash is read as a big-endian integer and consumed from its least
/// significant nibble upward. Returns `None` when `depth` is past the end of
/// the hash.
#[inline]
pub fn hash_nibble(hash: &[u8], depth: usize) -> Option<usize> {
    let byte = hash.len().checked_sub(1 + depth / 2)?;
    let b = *hash.get(byte)?;
    Some(((b >> (4 * (depth % 2))) & 0xF) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_boundaries() {
        assert_eq!(list_shift(0), 0);
        assert_eq!(list_shift(1), 0);
        assert_eq!(list_shift(16), 0);
        assert_eq!(list_shift(17), 1);
        assert_eq!(list_shift(256), 1);
        assert_eq!(list_shift(257), 2);
        assert_eq!(list_shift(4096), 2);
        assert_eq!(list_shift(4097), 3);
        assert_eq!(list_shift(u64::MAX), 15);
    }

    #[test]
    fn nibbles_from_least_significant_end() {
        let h = [0x12, 0x34, 0xab];
        assert_eq!(hash_nibble(&h, 0), Some(0xb));
        assert_eq!(hash_nibble(&h, 1), Some(0xa));
        assert_eq!(hash_nibble(&h, 2), Some(0x4));
        assert_eq!(hash_nibble(&h, 5), Some(0x1));
        assert_eq!(hash_nibble(&h, 6), None);
    }
}
