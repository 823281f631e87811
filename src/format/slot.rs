//! Slots: the 9-byte tagged references that fill every block.

use crate::error::{Error, Result};

/// Pointers must lie below this bound (2^62 bytes): far beyond any real
/// storage, and far enough below `u64::MAX` that record offsets never overflow.
pub const MAX_POINTER: u64 = 1 << 62;

/// Pointers must lie at or above this bound: bytes below it are the
/// database header, which no slot can point into.
pub const MIN_POINTER: u64 = 12;

/// The kind of value a slot holds. The numbering is part of the file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Tag {
    /// Nothing (or, with the `full` flag, an explicit none).
    None = 0,
    /// An internal index block of a map or list.
    Index = 1,
    /// An ArrayList (radix tree).
    ArrayList = 2,
    /// A LinkedArrayList (RRB tree).
    LinkedArrayList = 3,
    /// A HashMap (HAMT).
    HashMap = 4,
    /// A key/value pair record inside a map or set.
    KvPair = 5,
    /// A length-prefixed byte string stored out of line.
    Bytes = 6,
    /// Up to 8 bytes stored inline in the slot.
    ShortBytes = 7,
    /// An unsigned 64-bit integer.
    Uint = 8,
    /// A signed 64-bit integer.
    Int = 9,
    /// A 64-bit float.
    Float = 10,
    /// A HashSet (HAMT without values).
    HashSet = 11,
    /// A HashMap with a stored entry count.
    CountedHashMap = 12,
    /// A HashSet with a stored member count.
    CountedHashSet = 13,
    /// A SortedMap (B+tree in key order; current upstream).
    SortedMap = 14,
    /// A SortedSet (B+tree in key order; current upstream).
    SortedSet = 15,
}

impl Tag {
    /// Decodes a 7-bit tag value.
    pub fn from_u8(v: u8) -> Option<Tag> {
        Some(match v {
            0 => Tag::None,
            1 => Tag::Index,
            2 => Tag::ArrayList,
            3 => Tag::LinkedArrayList,
            4 => Tag::HashMap,
            5 => Tag::KvPair,
            6 => Tag::Bytes,
            7 => Tag::ShortBytes,
            8 => Tag::Uint,
            9 => Tag::Int,
            10 => Tag::Float,
            11 => Tag::HashSet,
            12 => Tag::CountedHashMap,
            13 => Tag::CountedHashSet,
            14 => Tag::SortedMap,
            15 => Tag::SortedSet,
            _ => return None,
        })
    }

    /// The tag's name as used in the canonical JSON dump (`hash_map`, `uint`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Tag::None => "none",
            Tag::Index => "index",
            Tag::ArrayList => "array_list",
            Tag::LinkedArrayList => "linked_array_list",
            Tag::HashMap => "hash_map",
            Tag::KvPair => "kv_pair",
            Tag::Bytes => "bytes",
            Tag::ShortBytes => "short_bytes",
            Tag::Uint => "uint",
            Tag::Int => "int",
            Tag::Float => "float",
            Tag::HashSet => "hash_set",
            Tag::CountedHashMap => "counted_hash_map",
            Tag::CountedHashSet => "counted_hash_set",
            Tag::SortedMap => "sorted_map",
            Tag::SortedSet => "sorted_set",
        }
    }

    /// Parses a tag name as produced by [`Tag::name`].
    pub fn from_name(name: &str) -> Option<Tag> {
        (0..=15).filter_map(Tag::from_u8).find(|t| t.name() == name)
    }

    /// True for the four HAMT kinds (maps and sets, counted or not).
    pub fn is_hamt(self) -> bool {
        matches!(
            self,
            Tag::HashMap | Tag::HashSet | Tag::CountedHashMap | Tag::CountedHashSet
        )
    }

    /// True for the kinds whose value is a byte position.
    pub fn is_pointer(self) -> bool {
        !matches!(
            self,
            Tag::None | Tag::ShortBytes | Tag::Uint | Tag::Int | Tag::Float
        )
    }

    /// True for the kinds that may be the database root.
    pub fn can_be_root(self) -> bool {
        self == Tag::None || self == Tag::ArrayList || self.is_hamt()
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A 9-byte slot: a tag, the `full` flag and a 64-bit value.
///
/// The meaning of `value` depends on the tag: a pointer for structures and
/// long bytes, the number itself for scalars, inline bytes for short bytes.
/// `full` marks an explicit none, a format tag on bytes, or a gap subtree in
/// a LinkedArrayList.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot {
    /// What the slot holds.
    pub tag: Tag,
    /// The flag bit stored above the tag.
    pub full: bool,
    /// Pointer, scalar bits or inline bytes.
    pub value: u64,
}

impl Default for Slot {
    fn default() -> Self {
        Slot::EMPTY
    }
}

impl Slot {
    /// The never-written slot: tag none, `full` clear, value 0.
    pub const EMPTY: Slot = Slot {
        tag: Tag::None,
        full: false,
        value: 0,
    };
    /// An explicitly written none (`0x80` then zeros).
    pub const NULL: Slot = Slot {
        tag: Tag::None,
        full: true,
        value: 0,
    };

    /// A slot of `tag` with `value` and `full` clear.
    #[inline]
    pub const fn new(tag: Tag, value: u64) -> Slot {
        Slot {
            tag,
            full: false,
            value,
        }
    }

    /// True for the never-written slot (tag none and `full` clear).
    #[inline]
    pub fn is_empty(self) -> bool {
        self.tag == Tag::None && !self.full
    }

    /// Encodes the slot as 9 bytes: flag and tag, then the value big-endian.
    #[inline]
    pub fn encode(self) -> [u8; 9] {
        let mut b = [0u8; 9];
        b[0] = ((self.full as u8) << 7) | self.tag as u8;
        b[1..].copy_from_slice(&self.value.to_be_bytes());
        b
    }

    /// Decodes 9 bytes read at byte position `pos` (used for the error).
    ///
    /// Pointers at or above [`MAX_POINTER`] are rejected here, so that
    /// adding a record's small offsets to any pointer read from a file can
    /// never overflow.
    #[inline]
    pub fn decode(b: [u8; 9], pos: u64) -> Result<Slot> {
        let raw = b[0] & 0x7F;
        let tag = Tag::from_u8(raw).ok_or_else(|| Error::InvalidTag { tag: raw, pos })?;
        let [_, v @ ..] = b;
        let value = u64::from_be_bytes(v);
        if tag.is_pointer() && !(MIN_POINTER..MAX_POINTER).contains(&value) {
            return Err(Error::corrupt(pos, "pointer outside any possible record"));
        }
        Ok(Slot {
            tag,
            full: b[0] & 0x80 != 0,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_layout() {
        let s = Slot::new(Tag::HashMap, 180);
        assert_eq!(s.encode(), [4, 0, 0, 0, 0, 0, 0, 0, 0xb4]);
        assert_eq!(Slot::decode(s.encode(), 0).unwrap(), s);
        assert_eq!(Slot::NULL.encode()[0], 0x80);
        let i = Slot::new(Tag::Int, (-42i64) as u64);
        assert_eq!(
            i.encode(),
            [9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd6]
        );
    }

    #[test]
    fn invalid_tag_is_an_error() {
        let mut b = [0u8; 9];
        b[0] = 0x7f;
        assert!(matches!(
            Slot::decode(b, 77),
            Err(Error::InvalidTag { tag: 127, pos: 77 })
        ));
        b[0] = 14;
        assert!(Slot::decode(b, 0).is_err());
    }

    #[test]
    fn absurd_pointers_are_rejected_but_scalars_are_not() {
        let huge = Slot::new(Tag::Index, u64::MAX).encode();
        assert!(matches!(
            Slot::decode(huge, 9),
            Err(Error::Corrupt { pos: 9, .. })
        ));
        let low = Slot::new(Tag::HashMap, 11).encode();
        assert!(Slot::decode(low, 0).is_err(), "no pointer into the header");
        let uint = Slot::new(Tag::Uint, u64::MAX).encode();
        assert_eq!(Slot::decode(uint, 0).unwrap().value, u64::MAX);
    }

    #[test]
    fn names_roundtrip() {
        for v in 0..=15 {
            let t = Tag::from_u8(v).unwrap();
            assert_eq!(Tag::from_name(t.name()), Some(t));
        }
        assert_eq!(Tag::from_u8(16), None);
    }
}
