//! The redo record of a root-map commit (FORMAT.md §8.8).
//!
//! A root-map database keeps its root (count and root block) at offset 12,
//! so a commit must overwrite those bytes in place. Before it does, it
//! appends this 56-byte record after the transaction's data: where the new
//! root's bytes lie (the copy the transaction made at the end of the file),
//! the root's kind, and a checksum of everything the transaction appended.
//! Once the record is durable the commit cannot be lost: if the in-place
//! write is interrupted, the next writable open finds the record at the end
//! of the file and writes the root again. The commit then zeroes the
//! record's magic, so a finished commit leaves no live record behind.
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | +0 | 8 | `data_start`: first byte the transaction appended |
//! | +8 | 8 | `head_pos`: where the new root's count and block lie |
//! | +16 | 8 | `head_len`: their length (144, or 152 with a count) |
//! | +24 | 1 | the new root tag |
//! | +25 | 7 | zero |
//! | +32 | 16 | checksum |
//! | +48 | 8 | magic `xitREDO1` |
//!
//! The checksum is the first 16 bytes of the BLAKE3 hash of the bytes
//! `data_start..record`, then the record's first 32 bytes, then the record's
//! own position (u64). Integers are big-endian, as everywhere.

use super::Tag;

/// Length of a redo record.
pub const REDO_LEN: u64 = 56;
/// The last 8 bytes of a live redo record.
pub const REDO_MAGIC: [u8; 8] = *b"xitREDO1";
/// Where the magic starts within the record.
pub const REDO_MAGIC_AT: u64 = 48;

/// The fields of a redo record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redo {
    /// First byte appended by the transaction; the checksum covers
    /// everything from here to the record.
    pub data_start: u64,
    /// Position of the new root's bytes (count, if counted, then block).
    pub head_pos: u64,
    /// Length of the new root's bytes.
    pub head_len: u64,
    /// The new root tag (a map or set kind).
    pub tag: Tag,
}

impl Redo {
    /// The 32 bytes the checksum covers after the data.
    fn fields(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&self.data_start.to_be_bytes());
        b[8..16].copy_from_slice(&self.head_pos.to_be_bytes());
        b[16..24].copy_from_slice(&self.head_len.to_be_bytes());
        b[24] = self.tag as u8;
        b
    }

    /// Encodes the record with its checksum (see [`RedoSum`]).
    pub fn encode(&self, sum: [u8; 16]) -> [u8; REDO_LEN as usize] {
        let mut b = [0u8; REDO_LEN as usize];
        b[..32].copy_from_slice(&self.fields());
        b[32..48].copy_from_slice(&sum);
        b[48..].copy_from_slice(&REDO_MAGIC);
        b
    }

    /// Decodes a record and its stored checksum; `None` when the bytes are
    /// not a live record (wrong magic, unknown tag, non-zero padding).
    pub fn decode(b: [u8; REDO_LEN as usize]) -> Option<(Redo, [u8; 16])> {
        let u64_at = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b.get(at..at + 8)?);
            Some(u64::from_be_bytes(w))
        };
        if b.get(48..)? != REDO_MAGIC || b.get(25..32)?.iter().any(|&x| x != 0) {
            return None;
        }
        let redo = Redo {
            data_start: u64_at(0)?,
            head_pos: u64_at(8)?,
            head_len: u64_at(16)?,
            tag: Tag::from_u8(*b.get(24)?)?,
        };
        let mut sum = [0u8; 16];
        sum.copy_from_slice(b.get(32..48)?);
        Some((redo, sum))
    }
}

/// The checksum of a redo record, fed the transaction's data in pieces.
pub struct RedoSum(blake3::Hasher);

impl Default for RedoSum {
    fn default() -> Self {
        Self::new()
    }
}

impl RedoSum {
    /// A checksum over nothing yet.
    pub fn new() -> Self {
        RedoSum(blake3::Hasher::new())
    }

    /// Adds the next bytes of the transaction's data.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Adds the record's fields and position, and gives the checksum.
    pub fn finish(mut self, redo: &Redo, record_pos: u64) -> [u8; 16] {
        self.0.update(&redo.fields());
        self.0.update(&record_pos.to_be_bytes());
        let mut sum = [0u8; 16];
        sum.copy_from_slice(self.0.finalize().as_bytes().get(..16).unwrap_or(&[0; 16]));
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_anything_else_is_not_a_record() {
        let r = Redo {
            data_start: 200,
            head_pos: 400,
            head_len: 152,
            tag: Tag::CountedHashMap,
        };
        let mut sum = RedoSum::new();
        sum.update(b"data");
        let s = sum.finish(&r, 900);
        let b = r.encode(s);
        assert_eq!(&b[48..], b"xitREDO1");
        assert_eq!(Redo::decode(b), Some((r, s)));
        // the checksum depends on the data, the fields and the position
        let mut other = RedoSum::new();
        other.update(b"datA");
        assert_ne!(other.finish(&r, 900), s);
        let mut other = RedoSum::new();
        other.update(b"data");
        assert_ne!(other.finish(&r, 901), s);
        let mut bad = b;
        bad[55] = 0; // the magic zeroed by a finished commit
        assert_eq!(Redo::decode(bad), None);
        let mut bad = b;
        bad[24] = 99;
        assert_eq!(Redo::decode(bad), None);
        let mut bad = b;
        bad[30] = 1;
        assert_eq!(Redo::decode(bad), None);
    }
}
