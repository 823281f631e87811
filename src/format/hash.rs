//! Key hashing. The hasher of a database is named in its header.
//!
//! New databases use BLAKE3 (32-byte hashes, hash_id `blk3`): fast and
//! collision-resistant, which matters because xitdb identifies keys by their
//! hash alone. SHA-1 (20 bytes, hash_id `sha1`) is what the other xitdb
//! implementations write, and is supported for interoperability. A database
//! whose header names another algorithm still opens; only operations that
//! must hash a key fail, with [`Error::UnknownHasher`].

use crate::error::{Error, Result};
use sha1::Digest;

/// The hash_id written for BLAKE3 databases.
pub const BLAKE3_ID: [u8; 4] = *b"blk3";
/// The hash_id written for SHA-1 databases (the one other implementations use).
pub const SHA1_ID: [u8; 4] = *b"sha1";
/// Longest hash this library produces (BLAKE3).
pub const MAX_HASH_LEN: usize = 32;

/// A hash algorithm for keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashKind {
    /// BLAKE3, 32-byte output. The default for new databases.
    #[default]
    Blake3,
    /// SHA-1, 20-byte output, as written by the other xitdb implementations.
    Sha1,
}

impl HashKind {
    /// The header's hash_id for this algorithm.
    pub fn id(self) -> [u8; 4] {
        match self {
            HashKind::Blake3 => BLAKE3_ID,
            HashKind::Sha1 => SHA1_ID,
        }
    }

    /// The digest length in bytes.
    pub fn size(self) -> u16 {
        match self {
            HashKind::Blake3 => 32,
            HashKind::Sha1 => 20,
        }
    }

    /// Finds the algorithm a header names, if this library knows it.
    pub fn from_header(id: [u8; 4], size: u16) -> Option<HashKind> {
        [HashKind::Blake3, HashKind::Sha1]
            .into_iter()
            .find(|k| k.id() == id && k.size() == size)
    }
}

/// The hasher of an open database: a known algorithm, or an unknown one
/// that allows only raw-hash operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hasher {
    kind: Option<HashKind>,
    id: [u8; 4],
    size: u16,
}

/// A key hash held inline (no allocation).
#[derive(Clone, Copy)]
pub struct KeyHash {
    buf: [u8; MAX_HASH_LEN],
    len: u8,
}

impl KeyHash {
    /// The hash bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len as usize).unwrap_or(&self.buf)
    }
}

impl std::ops::Deref for KeyHash {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hasher {
    /// The hasher for a known algorithm.
    pub fn new(kind: HashKind) -> Hasher {
        Hasher {
            kind: Some(kind),
            id: kind.id(),
            size: kind.size(),
        }
    }

    /// The hasher a header describes; unknown ids give a hasher that cannot hash keys.
    pub fn from_header(id: [u8; 4], size: u16) -> Hasher {
        Hasher {
            kind: HashKind::from_header(id, size),
            id,
            size,
        }
    }

    /// The known algorithm, if any.
    pub fn kind(&self) -> Option<HashKind> {
        self.kind
    }

    /// Hash size in bytes.
    pub fn size(&self) -> usize {
        self.size as usize
    }

    /// The header's hash_id.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    /// Hashes a key, or fails if the algorithm is unknown.
    pub fn hash(&self, key: &[u8]) -> Result<KeyHash> {
        let mut buf = [0u8; MAX_HASH_LEN];
        match self.kind {
            Some(HashKind::Blake3) => buf.copy_from_slice(blake3::hash(key).as_bytes()),
            Some(HashKind::Sha1) => {
                let d = sha1::Sha1::digest(key);
                buf[..20].copy_from_slice(&d);
            }
            None => {
                return Err(Error::UnknownHasher {
                    id: self.id,
                    size: self.size,
                })
            }
        }
        Ok(KeyHash {
            buf,
            len: self.size as u8,
        })
    }

    /// Checks that a caller-supplied hash has this database's length.
    pub fn check_len(&self, hash: &[u8]) -> Result<()> {
        if hash.len() == self.size() {
            Ok(())
        } else {
            Err(Error::HashLength {
                expected: self.size(),
                found: hash.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_foo_matches_the_reference_example() {
        let h = Hasher::new(HashKind::Sha1).hash(b"foo").unwrap();
        assert_eq!(h.len(), 20);
        assert_eq!(h[0], 0x0b);
        assert_eq!(h[19], 0x33);
    }

    #[test]
    fn blake3_is_32_bytes_and_header_picks_it() {
        let h = Hasher::from_header(*b"blk3", 32);
        assert_eq!(h.kind(), Some(HashKind::Blake3));
        assert_eq!(h.hash(b"x").unwrap().len(), 32);
        assert_eq!(
            h.hash(b"x").unwrap().as_bytes(),
            blake3::hash(b"x").as_bytes()
        );
    }

    #[test]
    fn unknown_hasher_refuses_keys() {
        let h = Hasher::from_header([0; 4], 20);
        assert_eq!(h.kind(), None);
        assert!(matches!(h.hash(b"k"), Err(Error::UnknownHasher { .. })));
        assert!(h.check_len(&[0; 20]).is_ok());
        assert!(h.check_len(&[0; 19]).is_err());
        // a sha1 id with the wrong size is not sha1
        assert_eq!(Hasher::from_header(*b"sha1", 32).kind(), None);
    }
}
