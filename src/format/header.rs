//! The 12-byte database header and the 24-byte history header.

use super::{Tag, MAGIC, VERSION};
use crate::error::{Error, Result};

/// The database header at offset 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Kind of the root object (none, array_list for a history, or a map kind).
    pub tag: Tag,
    /// Format version.
    pub version: u16,
    /// Length in bytes of every key hash.
    pub hash_size: u16,
    /// Four bytes naming the hash algorithm (e.g. `sha1`).
    pub hash_id: [u8; 4],
}

impl Header {
    /// Encodes the header: magic, tag byte, version, hash size, hash id.
    pub fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..3].copy_from_slice(&MAGIC);
        b[3] = self.tag as u8;
        b[4..6].copy_from_slice(&self.version.to_be_bytes());
        b[6..8].copy_from_slice(&self.hash_size.to_be_bytes());
        b[8..12].copy_from_slice(&self.hash_id);
        b
    }

    /// Decodes and validates a header: magic, root tag, version, hash size.
    pub fn decode(b: [u8; 12]) -> Result<Header> {
        let [m0, m1, m2, tag_byte, v0, v1, s0, s1, i0, i1, i2, i3] = b;
        if [m0, m1, m2] != MAGIC {
            return Err(Error::BadMagic {
                found: [m0, m1, m2],
            });
        }
        let raw = tag_byte & 0x7F;
        let tag = Tag::from_u8(raw).ok_or_else(|| Error::InvalidTag { tag: raw, pos: 3 })?;
        let version = u16::from_be_bytes([v0, v1]);
        if version > VERSION {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        if !tag.can_be_root() {
            return Err(Error::InvalidRoot(tag));
        }
        let hash_size = u16::from_be_bytes([s0, s1]);
        if hash_size == 0 {
            return Err(Error::InvalidHashSize(hash_size));
        }
        Ok(Header {
            tag,
            version,
            hash_size,
            hash_id: [i0, i1, i2, i3],
        })
    }
}

/// The history header at offset 12 when the root is an ArrayList.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopHeader {
    /// Number of moments.
    pub size: u64,
    /// Pointer to the history's root index block.
    pub ptr: u64,
    /// Storage length at the last commit (0 before the first).
    pub file_size: u64,
}

impl TopHeader {
    /// Encodes size, pointer and committed file size.
    pub fn encode(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.size.to_be_bytes());
        b[8..16].copy_from_slice(&self.ptr.to_be_bytes());
        b[16..].copy_from_slice(&self.file_size.to_be_bytes());
        b
    }

    /// Decodes the 24 bytes.
    pub fn decode(b: [u8; 24]) -> TopHeader {
        let words: [[u8; 8]; 3] = bytemuck::cast(b);
        TopHeader {
            size: u64::from_be_bytes(words[0]),
            ptr: u64::from_be_bytes(words[1]),
            file_size: u64::from_be_bytes(words[2]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            tag: Tag::ArrayList,
            version: 0,
            hash_size: 20,
            hash_id: *b"sha1",
        }
    }

    #[test]
    fn header_bytes_match_the_reference_layout() {
        let b = sample().encode();
        assert_eq!(&b, b"xit\x02\x00\x00\x00\x14sha1");
        assert_eq!(Header::decode(b).unwrap(), sample());
    }

    #[test]
    fn header_validation() {
        let mut b = sample().encode();
        b[0] = b'y';
        assert!(matches!(Header::decode(b), Err(Error::BadMagic { .. })));
        let mut b = sample().encode();
        b[5] = 1;
        assert!(matches!(
            Header::decode(b),
            Err(Error::UnsupportedVersion { found: 1, .. })
        ));
        let mut b = sample().encode();
        b[3] = 0x7f;
        assert!(matches!(Header::decode(b), Err(Error::InvalidTag { .. })));
        let mut b = sample().encode();
        b[3] = Tag::Uint as u8;
        assert!(matches!(
            Header::decode(b),
            Err(Error::InvalidRoot(Tag::Uint))
        ));
        let mut b = sample().encode();
        b[3] |= 0x80; // padding bit is ignored
        assert_eq!(Header::decode(b).unwrap(), sample());
    }

    #[test]
    fn top_header_roundtrip() {
        let t = TopHeader {
            size: 1,
            ptr: 36,
            file_size: 362,
        };
        assert_eq!(TopHeader::decode(t.encode()), t);
        assert_eq!(t.encode()[23], 0x6a);
    }
}
