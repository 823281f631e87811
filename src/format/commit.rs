//! The commit record: one commit of a history database as bytes that a
//! replica can apply (FORMAT.md §11).
//!
//! A history commit appends bytes past the previous `file_size` and
//! rewrites a few bytes in place (the history header at offset 12, the
//! database header's tag at the first commit, and slots of the history's
//! own index blocks). A record carries exactly that: the in-place
//! *patches* and the *appended* bytes, plus the sizes before and after.
//! Records form a BLAKE3 chain: each record's hash covers its whole
//! encoding, which includes its predecessor's hash, so a replica that
//! checks every hash and applies only the exact next record ends
//! byte-identical to the primary.
//!
//! This is the one codec for records: the library's stream, the object
//! store crate and the command-line tool all go through it. Decoding never
//! trusts a length: every count and size is checked against the bytes
//! actually present before anything is allocated.
//!
//! ```
//! use xitdb::format::{ChainHead, CommitRecord, Patch};
//! let rec = CommitRecord::seal(
//!     &ChainHead::GENESIS,
//!     1,
//!     vec![],
//!     b"xit\x00\x00\x00\x00\x20\x00\x00\x00\x00".to_vec(),
//! )?;
//! let bytes = rec.encode();
//! let (back, used) = CommitRecord::decode(&bytes, 0)?;
//! assert_eq!((back, used), (rec.clone(), bytes.len()));
//! assert!(rec.follows(&ChainHead::GENESIS).is_ok());
//! # let _ = Patch { offset: 0, bytes: vec![] };
//! # Ok::<(), xitdb::Error>(())
//! ```

use crate::error::{Error, Result};

/// The 8 bytes that open every commit record.
pub const COMMIT_MAGIC: [u8; 8] = *b"xitCMT01";

/// Length of a chain hash (BLAKE3).
pub const CHAIN_HASH_LEN: usize = 32;

/// A BLAKE3 hash of the chain.
pub type ChainHash = [u8; CHAIN_HASH_LEN];

/// Bytes before the patches: magic, seq, prev_size, new_size, moments,
/// prev_hash, patch count.
const FIXED_LEN: usize = 8 + 8 + 8 + 8 + 8 + CHAIN_HASH_LEN + 4;

/// Bytes before each patch's data: offset and length.
const PATCH_HEAD_LEN: usize = 8 + 4;

/// Where a replica stands in the chain: the last record applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHead {
    /// Sequence number of the last record applied (0 before the first).
    pub seq: u64,
    /// The storage length after it (0 before the first record).
    pub file_size: u64,
    /// Its hash (zeros before the first record).
    pub hash: ChainHash,
}

impl ChainHead {
    /// The start of every chain: an empty storage, no record applied.
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        file_size: 0,
        hash: [0; CHAIN_HASH_LEN],
    };

    /// The hash as 64 lowercase hex digits.
    pub fn hash_hex(&self) -> String {
        hex(&self.hash)
    }
}

/// Formats bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits into a chain hash.
pub fn parse_chain_hash(s: &str) -> Result<ChainHash> {
    let mut out = [0u8; CHAIN_HASH_LEN];
    let digits = s.as_bytes();
    if digits.len() != CHAIN_HASH_LEN * 2 {
        return Err(Error::InvalidArgument("a chain hash is 64 hex digits"));
    }
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let text = std::str::from_utf8(pair)
            .map_err(|_| Error::InvalidArgument("a chain hash is 64 hex digits"))?;
        *o = u8::from_str_radix(text, 16)
            .map_err(|_| Error::InvalidArgument("a chain hash is 64 hex digits"))?;
    }
    Ok(out)
}

/// Bytes written in place by a commit, below the previous `file_size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// Where the bytes go.
    pub offset: u64,
    /// The new bytes.
    pub bytes: Vec<u8>,
}

impl Patch {
    /// One past the last byte patched.
    pub fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.bytes.len() as u64)
    }
}

/// One commit (or several consecutive ones captured together) of a
/// history database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    /// Position in the chain: the predecessor's `seq` + 1.
    pub seq: u64,
    /// The storage length before the record (the predecessor's `new_size`).
    pub prev_size: u64,
    /// The storage length after it: the history header's `file_size`.
    pub new_size: u64,
    /// The number of moments after it.
    pub moments: u64,
    /// The predecessor's hash.
    pub prev_hash: ChainHash,
    /// In-place writes below `prev_size`, sorted by offset, disjoint, none
    /// empty.
    pub patches: Vec<Patch>,
    /// The bytes from `prev_size` to `new_size`.
    pub appended: Vec<u8>,
    /// BLAKE3 of the record's encoding up to this field.
    pub hash: ChainHash,
}

impl CommitRecord {
    /// Builds the record that follows `prev`, computing its hash. Fails
    /// if the patches are not sorted, disjoint, non-empty and below the
    /// previous size.
    pub fn seal(
        prev: &ChainHead,
        moments: u64,
        patches: Vec<Patch>,
        appended: Vec<u8>,
    ) -> Result<CommitRecord> {
        let new_size = prev
            .file_size
            .checked_add(appended.len() as u64)
            .ok_or(Error::InvalidArgument("record size overflows"))?;
        let mut rec = CommitRecord {
            seq: prev.seq.wrapping_add(1),
            prev_size: prev.file_size,
            new_size,
            moments,
            prev_hash: prev.hash,
            patches,
            appended,
            hash: [0; CHAIN_HASH_LEN],
        };
        check_patches(&rec.patches, rec.prev_size, 0)?;
        rec.hash = rec.body_hash();
        Ok(rec)
    }

    /// BLAKE3 of the record's encoding up to its hash field, computed
    /// from the fields (what [`CommitRecord::hash`] must be).
    pub fn body_hash(&self) -> ChainHash {
        let mut h = blake3::Hasher::new();
        h.update(&COMMIT_MAGIC);
        for word in [self.seq, self.prev_size, self.new_size, self.moments] {
            h.update(&word.to_be_bytes());
        }
        h.update(&self.prev_hash);
        h.update(&(self.patches.len() as u32).to_be_bytes());
        for p in &self.patches {
            h.update(&p.offset.to_be_bytes());
            h.update(&(p.bytes.len() as u32).to_be_bytes());
            h.update(&p.bytes);
        }
        h.update(&self.appended);
        *h.finalize().as_bytes()
    }

    /// Checks what [`CommitRecord::decode`] checks, for a record built or
    /// changed in memory: its sizes, its patches and its hash.
    pub fn check(&self) -> Result<()> {
        if self.prev_size.checked_add(self.appended.len() as u64) != Some(self.new_size) {
            return Err(Error::BadRecord {
                at: 0,
                reason: "appended bytes do not fill the sizes",
            });
        }
        check_patches(&self.patches, self.prev_size, 0)?;
        if self.body_hash() != self.hash {
            return Err(Error::RecordHash { seq: self.seq });
        }
        Ok(())
    }

    /// Where the chain stands after this record.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            file_size: self.new_size,
            hash: self.hash,
        }
    }

    /// Checks that this record is the exact next one after `head`: the
    /// next sequence number, the same size and the same hash. A gap or a
    /// replay is [`Error::StreamGap`], anything else
    /// [`Error::StreamFork`].
    pub fn follows(&self, head: &ChainHead) -> Result<()> {
        if Some(self.seq) != head.seq.checked_add(1) {
            return Err(Error::StreamGap {
                expected: head.seq.wrapping_add(1),
                found: self.seq,
            });
        }
        if self.prev_hash != head.hash || self.prev_size != head.file_size {
            return Err(Error::StreamFork { seq: self.seq });
        }
        Ok(())
    }

    /// Length of the encoding.
    pub fn encoded_len(&self) -> usize {
        FIXED_LEN
            + self
                .patches
                .iter()
                .map(|p| PATCH_HEAD_LEN + p.bytes.len())
                .sum::<usize>()
            + self.appended.len()
            + CHAIN_HASH_LEN
    }

    fn encode_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&COMMIT_MAGIC);
        for word in [self.seq, self.prev_size, self.new_size, self.moments] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&(self.patches.len() as u32).to_be_bytes());
        for p in &self.patches {
            out.extend_from_slice(&p.offset.to_be_bytes());
            out.extend_from_slice(&(p.bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(&p.bytes);
        }
        out.extend_from_slice(&self.appended);
        out
    }

    /// The record's bytes (FORMAT.md §11).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.encode_body();
        out.extend_from_slice(&self.hash);
        out
    }

    /// Decodes the record starting at `bytes[at..]`, checking its
    /// structure and its hash; returns it and the number of bytes it
    /// took. Nothing is allocated beyond the bytes given.
    pub fn decode(bytes: &[u8], at: usize) -> Result<(CommitRecord, usize)> {
        let bad = |reason| Error::BadRecord {
            at: at as u64,
            reason,
        };
        let mut r = Reader {
            bytes: bytes.get(at..).ok_or(bad("record starts past the end"))?,
            pos: 0,
        };
        if r.take(8).ok_or(bad("truncated magic"))? != COMMIT_MAGIC {
            return Err(bad("bad magic"));
        }
        let mut words = [0u64; 4];
        for w in &mut words {
            *w = r.u64().ok_or(bad("truncated header"))?;
        }
        let [seq, prev_size, new_size, moments] = words;
        let prev_hash = r.hash().ok_or(bad("truncated header"))?;
        let count = r.u32().ok_or(bad("truncated header"))? as usize;
        // every patch takes at least its 12-byte head and one byte
        if count > r.remaining() / (PATCH_HEAD_LEN + 1) {
            return Err(bad("more patches than bytes"));
        }
        let mut patches = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = r.u64().ok_or(bad("truncated patch"))?;
            let len = r.u32().ok_or(bad("truncated patch"))? as usize;
            let data = r.take(len).ok_or(bad("truncated patch"))?;
            patches.push(Patch {
                offset,
                bytes: data.to_vec(),
            });
        }
        let appended_len = new_size
            .checked_sub(prev_size)
            .ok_or(bad("new size below previous size"))?;
        let appended_len = usize::try_from(appended_len)
            .ok()
            .filter(|&n| n <= r.remaining())
            .ok_or(bad("truncated appended bytes"))?;
        let appended = r
            .take(appended_len)
            .ok_or(bad("truncated appended bytes"))?
            .to_vec();
        let body_len = r.pos;
        let hash = r.hash().ok_or(bad("truncated hash"))?;
        let body = r.bytes.get(..body_len).ok_or(bad("truncated record"))?;
        if *blake3::hash(body).as_bytes() != hash {
            return Err(Error::RecordHash { seq });
        }
        check_patches(&patches, prev_size, at as u64)?;
        let rec = CommitRecord {
            seq,
            prev_size,
            new_size,
            moments,
            prev_hash,
            patches,
            appended,
            hash,
        };
        Ok((rec, r.pos))
    }

    /// Decodes a run of records that fill `bytes` exactly (a segment),
    /// each the exact successor of the one before.
    pub fn decode_all(bytes: &[u8]) -> Result<Vec<CommitRecord>> {
        let mut out: Vec<CommitRecord> = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let (rec, used) = CommitRecord::decode(bytes, at)?;
            if let Some(prev) = out.last() {
                rec.follows(&prev.head())?;
            }
            out.push(rec);
            at += used;
        }
        Ok(out)
    }
}

/// Patches must be sorted, disjoint, non-empty and lie below `limit`.
fn check_patches(patches: &[Patch], limit: u64, at: u64) -> Result<()> {
    let mut floor = 0u64;
    for p in patches {
        let end = p.end().ok_or(Error::BadRecord {
            at,
            reason: "patch overflows",
        })?;
        if p.bytes.is_empty() || p.offset < floor || end > limit {
            return Err(Error::BadRecord {
                at,
                reason: "patches must be sorted, disjoint, non-empty and below the previous size",
            });
        }
        floor = end;
    }
    Ok(())
}

/// A cursor over bytes that never reads past their end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn hash(&mut self) -> Option<ChainHash> {
        self.array()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CommitRecord {
        let first = CommitRecord::seal(&ChainHead::GENESIS, 0, vec![], vec![7; 40]).unwrap();
        CommitRecord::seal(
            &first.head(),
            1,
            vec![
                Patch {
                    offset: 12,
                    bytes: vec![1, 2, 3],
                },
                Patch {
                    offset: 30,
                    bytes: vec![9; 9],
                },
            ],
            vec![5; 17],
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_chain() {
        let rec = sample();
        assert_eq!(rec.seq, 2);
        assert_eq!((rec.prev_size, rec.new_size), (40, 57));
        let bytes = rec.encode();
        assert_eq!(bytes.len(), rec.encoded_len());
        let (back, used) = CommitRecord::decode(&bytes, 0).unwrap();
        assert_eq!(back, rec);
        assert_eq!(used, bytes.len());
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_refused() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            if let Some(b) = bad.get_mut(i) {
                *b ^= 0x40;
            }
            assert!(CommitRecord::decode(&bad, 0).is_err(), "flip at {i}");
            assert!(
                CommitRecord::decode(bytes.get(..i).unwrap(), 0).is_err(),
                "cut {i}"
            );
        }
    }

    #[test]
    fn hostile_lengths_allocate_nothing() {
        let mut bytes = sample().encode();
        // patch count 2^32 - 1
        bytes.splice(FIXED_LEN - 4..FIXED_LEN, [0xff; 4]);
        assert!(matches!(
            CommitRecord::decode(&bytes, 0),
            Err(Error::BadRecord { .. })
        ));
        let unsorted = vec![
            Patch {
                offset: 20,
                bytes: vec![1],
            },
            Patch {
                offset: 10,
                bytes: vec![1],
            },
        ];
        assert!(CommitRecord::seal(&ChainHead::GENESIS, 0, unsorted, vec![]).is_err());
    }

    #[test]
    fn hex_round_trip() {
        let h = sample().hash;
        assert_eq!(parse_chain_hash(&hex(&h)).unwrap(), h);
        assert!(parse_chain_hash("zz").is_err());
    }
}
