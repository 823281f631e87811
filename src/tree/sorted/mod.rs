//! SortedMap and SortedSet (tags 14 and 15): B+trees of key/value records
//! in unsigned bytewise key order, as current upstream xitdb writes them.
//!
//! The slot points at a 16-byte header (entry count, root node). Leaves
//! hold `kv_pair` slots in key order; each record is an ordinary key/value
//! record whose hash is written as zeros (keys are compared, never hashed).
//! Branches hold their children, a lower-bound separator key per child
//! (child 0's is unused) and each child's entry count, so that seeking by
//! key, seeking by rank and the rank of a key all take O(log n).
//!
//! Point reads never allocate: keys are compared in place. Iteration walks
//! a [`Path`] at each end of a rank range (the pair allocated once).

mod write;

use crate::error::{Error, Result};
use crate::format::btree::{
    separator_off, slot_off, BTreeHeader, BranchLayout, NodeKind, BTREE_HEADER_LEN, NODE_SLOTS,
};
use crate::format::{Slot, Tag, SLOT_LEN};
use crate::tree::access::Src;
use crate::tree::btree::iter::RankIter;
use crate::tree::btree::path::{count, Path};
use crate::tree::btree::MAX_DEPTH;
use crate::tree::bytes;
use crate::tree::hamt::Kv;
use std::cmp::Ordering;
use std::ops::Bound;

/// A sorted map or set located in storage: its kind and header position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sorted {
    pub kind: Tag,
    pub header: u64,
}

/// Which key a descent looks for in a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seek {
    /// The first entry whose key is ≥ the key.
    Lower,
    /// The first entry whose key is > the key.
    Upper,
}

impl Sorted {
    /// Interprets a slot of kind `sorted_map` or `sorted_set`.
    pub fn from_slot(slot: Slot) -> Result<Sorted> {
        match slot.tag {
            Tag::SortedMap | Tag::SortedSet => Ok(Sorted {
                kind: slot.tag,
                header: slot.value,
            }),
            found => Err(Error::UnexpectedTag {
                expected: "a sorted map or set",
                found,
            }),
        }
    }

    /// The header: entry count and root node.
    pub fn read_header(&self, src: &Src<'_>) -> Result<BTreeHeader> {
        Ok(BTreeHeader::decode(
            src.array::<{ BTREE_HEADER_LEN as usize }>(self.header)?,
        ))
    }

    /// Number of entries.
    pub fn len(&self, src: &Src<'_>) -> Result<u64> {
        Ok(self.read_header(src)?.size)
    }

    /// The record stored under `key`.
    pub fn find(&self, src: &Src<'_>, key: &[u8]) -> Result<Option<Kv>> {
        let h = self.read_header(src)?;
        if h.size == 0 {
            return Ok(None);
        }
        let key = Probe::new(key);
        let (leaf, i, _) = descend(src, h.root, &key, Seek::Lower, false)?;
        let (_, num) = node_head(src, leaf)?;
        if i >= num {
            return Ok(None);
        }
        let kv = entry(src, leaf, i)?;
        Ok((compare_key(src, kv, &key)? == Ordering::Equal).then_some(kv))
    }

    /// Number of keys strictly below `key`.
    pub fn rank(&self, src: &Src<'_>, key: &[u8]) -> Result<u64> {
        self.rank_by(src, key, Seek::Lower)
    }

    fn rank_by(&self, src: &Src<'_>, key: &[u8], seek: Seek) -> Result<u64> {
        let h = self.read_header(src)?;
        if h.size == 0 {
            return Ok(0);
        }
        let (_, i, before) = descend(src, h.root, &Probe::new(key), seek, true)?;
        Ok(before.saturating_add(i as u64).min(h.size))
    }

    /// The record of rank `i` (0-based), if there is one.
    pub fn select(&self, src: &Src<'_>, i: u64) -> Result<Option<Kv>> {
        let h = self.read_header(src)?;
        if i >= h.size {
            return Ok(None);
        }
        let path = Path::seek(src, BranchLayout::Sorted, h.root, i)?;
        kv_of(src, path.slot(src)?).map(Some)
    }

    /// The ranks `lo..hi` that the key bounds cover.
    pub fn rank_range(
        &self,
        src: &Src<'_>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<(u64, u64)> {
        let size = self.len(src)?;
        let lo = match start {
            Bound::Unbounded => 0,
            Bound::Included(k) => self.rank_by(src, k, Seek::Lower)?,
            Bound::Excluded(k) => self.rank_by(src, k, Seek::Upper)?,
        };
        let hi = match end {
            Bound::Unbounded => size,
            Bound::Included(k) => self.rank_by(src, k, Seek::Upper)?,
            Bound::Excluded(k) => self.rank_by(src, k, Seek::Lower)?,
        };
        Ok((lo, hi.max(lo)))
    }

    /// Iterates over the records of ranks `lo..hi`, from both ends.
    pub fn iter<'r>(&self, src: Src<'r>, lo: u64, hi: u64) -> Result<SortedIter<'r>> {
        let h = self.read_header(&src)?;
        let hi = hi.min(h.size);
        Ok(SortedIter(RankIter::new(
            src,
            BranchLayout::Sorted,
            h.root,
            lo,
            hi,
        )))
    }
}

/// Double-ended iteration over a rank range of a sorted map or set,
/// yielding the records.
pub(crate) struct SortedIter<'r>(RankIter<'r>);

impl SortedIter<'_> {
    /// Entries not yet yielded.
    pub fn remaining(&self) -> u64 {
        self.0.remaining()
    }

    fn record(&mut self, pos: Option<Result<u64>>) -> Option<Result<Kv>> {
        let src = self.0.src();
        let out = pos.map(|p| p.and_then(|p| kv_of(&src, src.slot(p)?)));
        if let Some(Err(_)) = out {
            self.0.stop();
        }
        out
    }
}

impl Iterator for SortedIter<'_> {
    type Item = Result<Kv>;

    fn next(&mut self) -> Option<Result<Kv>> {
        let pos = self.0.next();
        self.record(pos)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for SortedIter<'_> {
    fn next_back(&mut self) -> Option<Result<Kv>> {
        let pos = self.0.next_back();
        self.record(pos)
    }
}

/// A node's kind and used entries.
fn node_head(src: &Src<'_>, pos: u64) -> Result<(NodeKind, usize)> {
    crate::format::btree::node_head(&src.array::<2>(pos)?, pos)
}

/// The record a leaf slot points at.
pub(crate) fn kv_of(src: &Src<'_>, slot: Slot) -> Result<Kv> {
    if slot.tag != Tag::KvPair {
        return Err(Error::UnexpectedTag {
            expected: "kv_pair",
            found: slot.tag,
        });
    }
    Ok(Kv {
        pos: slot.value,
        hash_len: src.hasher.size() as u64,
    })
}

/// The record of entry `i` of the leaf at `leaf`.
fn entry(src: &Src<'_>, leaf: u64, i: usize) -> Result<Kv> {
    kv_of(src, src.slot(leaf + slot_off(i))?)
}

/// A key being searched for, with its inline form when it has one: a key
/// of at most 8 bytes without a zero byte compares with a `short_bytes`
/// slot as two integers (both are zero-padded big-endian byte strings
/// without inner zeros, so integer order is unsigned bytewise order with
/// a proper prefix first), with no byte slicing or `memcmp` call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe<'k> {
    key: &'k [u8],
    short: Option<u64>,
}

impl<'k> Probe<'k> {
    /// The probe for `key`.
    pub fn new(key: &'k [u8]) -> Self {
        let short = (key.len() <= 8 && !key.contains(&0)).then(|| {
            let mut b = [0u8; 8];
            if let Some(dst) = b.get_mut(..key.len()) {
                dst.copy_from_slice(key);
            }
            u64::from_be_bytes(b)
        });
        Probe { key, short }
    }
}

/// A `short_bytes` slot's payload as a zero-padded integer (bytes past the
/// first zero cleared, a format tag left out).
#[inline]
fn short_value(slot: Slot) -> u64 {
    let (_, len, _) = bytes::short_parts(slot);
    match len {
        0 => 0,
        8.. => slot.value,
        n => slot.value & !(u64::MAX >> (8 * n)),
    }
}

/// Compares a stored key slot with `key`, in place.
pub(crate) fn compare_slot(src: &Src<'_>, slot: Slot, key: &Probe<'_>) -> Result<Ordering> {
    match slot.tag {
        Tag::ShortBytes => match key.short {
            Some(q) => Ok(short_value(slot).cmp(&q)),
            None => {
                let (v, len, _) = bytes::short_parts(slot);
                Ok(v.get(..len).unwrap_or(&[]).cmp(key.key))
            }
        },
        Tag::Bytes => {
            let (start, len) = bytes::long_extent(src, slot)?;
            Ok((*src.bytes(start, len)?).cmp(key.key))
        }
        found => Err(Error::UnexpectedTag {
            expected: "a key (bytes)",
            found,
        }),
    }
}

/// Compares the key of a record with `key`.
fn compare_key(src: &Src<'_>, kv: Kv, key: &Probe<'_>) -> Result<Ordering> {
    compare_slot(src, src.slot(kv.key_pos())?, key)
}

/// The child a branch descends into for `key`: the largest `i` in
/// `1..num` whose separator is ≤ the key, else 0 (binary search).
fn branch_child(src: &Src<'_>, node: u64, num: usize, key: &Probe<'_>) -> Result<usize> {
    if let Some(q) = key.short {
        if let Some(i) = branch_child_short(src, node, num, q)? {
            return Ok(i);
        }
    }
    let (mut lo, mut hi) = (1, num);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let sep = src.slot(node + separator_off(mid))?;
        if compare_slot(src, sep, key)? == Ordering::Greater {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo - 1)
}

/// [`branch_child`] for a short probe `q` when every separator in use is
/// inline: the separators are read in one copy and counted without
/// branches (`None` when one of them is a long key).
fn branch_child_short(src: &Src<'_>, node: u64, num: usize, q: u64) -> Result<Option<usize>> {
    let mut seps = [0u8; NODE_SLOTS * SLOT_LEN as usize];
    src.read_into(node + separator_off(0), &mut seps)?;
    let mut below = 0usize;
    for i in 1..num.min(NODE_SLOTS) {
        let at = i * SLOT_LEN as usize;
        let Some(raw) = seps.get(at..at + SLOT_LEN as usize) else {
            return Ok(None);
        };
        let slot = Slot::decode(raw.try_into().unwrap_or([0; 9]), node)?;
        if slot.tag != Tag::ShortBytes {
            return Ok(None);
        }
        below += usize::from(short_value(slot) <= q);
    }
    Ok(Some(below))
}

/// Where `key` lies in a leaf: the first entry ≥ it (or > it, for
/// [`Seek::Upper`]).
///
/// The entries' key slots are read first, all of them: each lies in its
/// own record, scattered over the file, and reading them in one pass of
/// independent loads lets the processor fetch them together, where a
/// binary search would wait for each fetch in turn.
fn leaf_index(src: &Src<'_>, leaf: u64, num: usize, key: &Probe<'_>, seek: Seek) -> Result<usize> {
    let mut keys = [Slot::EMPTY; NODE_SLOTS];
    for (i, k) in keys.iter_mut().enumerate().take(num) {
        *k = src.slot(entry(src, leaf, i)?.key_pos())?;
    }
    let (mut lo, mut hi) = (0, num.min(NODE_SLOTS));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let stored = keys.get(mid).copied().unwrap_or(Slot::EMPTY);
        let ord = compare_slot(src, stored, key)?;
        let before = match seek {
            Seek::Lower => ord == Ordering::Less,
            Seek::Upper => ord != Ordering::Greater,
        };
        if before {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Descends from `root` to the leaf where `key` lies. Returns the leaf,
/// the index in it, and (when `ranked`) the number of entries in the
/// subtrees passed on the left; a plain lookup skips reading the counts.
fn descend(
    src: &Src<'_>,
    root: u64,
    key: &Probe<'_>,
    seek: Seek,
    ranked: bool,
) -> Result<(u64, usize, u64)> {
    let mut node = root;
    let mut before = 0u64;
    for _ in 0..MAX_DEPTH {
        let (kind, num) = node_head(src, node)?;
        match kind {
            NodeKind::Leaf => return Ok((node, leaf_index(src, node, num, key, seek)?, before)),
            NodeKind::Branch => {
                if num == 0 {
                    return Err(Error::corrupt(node, "B-tree branch without children"));
                }
                let i = branch_child(src, node, num, key)?;
                for j in (0..i).filter(|_| ranked) {
                    before = before.saturating_add(count(src, BranchLayout::Sorted, node, j)?);
                }
                let child = src.slot(node + slot_off(i))?;
                if child.tag != Tag::Index {
                    return Err(Error::corrupt(
                        node,
                        "B-tree branch child is not an index slot",
                    ));
                }
                node = child.value;
            }
        }
    }
    Err(Error::TooDeep { pos: node })
}

/// The smallest key past `prefix` that does not start with it, or `None`
/// when every key after `prefix` starts with it (all bytes 0xFF).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let keep = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut end = prefix.get(..=keep)?.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    /// The integer comparison of short keys agrees with bytewise order,
    /// on every pair of keys from a set with prefixes, 0xFF bytes, the
    /// empty key and keys past 8 bytes (which take the byte path).
    #[test]
    fn short_probes_compare_as_bytes() {
        use super::{compare_slot, Probe};
        use crate::format::{HashKind, Hasher, Slot, Tag};
        use crate::tree::access::Src;
        let keys: [&[u8]; 12] = [
            b"",
            b"a",
            b"ab",
            b"abc",
            b"abcdefgh",
            b"abcdefg",
            b"b",
            b"\xff",
            b"\xff\xff",
            b"\x01",
            b"abcdefghi",
            b"a\x00b",
        ];
        let src = Src::bytes_only(&[], Hasher::new(HashKind::Blake3));
        for stored in keys.iter().filter(|k| k.len() <= 8 && !k.contains(&0)) {
            let mut b = [0u8; 8];
            b[..stored.len()].copy_from_slice(stored);
            let slot = Slot::new(Tag::ShortBytes, u64::from_be_bytes(b));
            for key in keys {
                let got = compare_slot(&src, slot, &Probe::new(key)).unwrap();
                assert_eq!(got, stored.cmp(&key), "{stored:?} vs {key:?}");
            }
        }
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
