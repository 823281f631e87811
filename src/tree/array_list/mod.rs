//! The ArrayList: a 16-way radix tree with a 16-byte header (`size`, root).
//!
//! The tree's height follows from its size (see [`list_shift`]); item `k`
//! is found by the base-16 digits of `k`, most significant at the root.
//! The top-level history is an ArrayList too, appended to in place.

use crate::error::{Error, Result};
use crate::format::{
    level_capacity, list_shift, ListHeader, Slot, Tag, BLOCK_LEN, LIST_HEADER_LEN, MAX_POINTER,
    MIN_POINTER, SLOT_LEN,
};
use crate::tree::access::{SlotPos, Src, TxCore};

/// An ArrayList header read from storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArrayList {
    /// Position of the 16-byte header.
    pub header: u64,
    pub size: u64,
    /// Root index block.
    pub root: u64,
}

impl ArrayList {
    /// Reads the header at `header`, rejecting sizes the storage cannot hold
    /// (every item needs its own 9-byte slot).
    pub fn read(src: &Src<'_>, header: u64) -> Result<ArrayList> {
        let h = ListHeader::decode(src.array(header)?);
        Self::checked(src, header, h.size, h.ptr)
    }

    /// Validates a header's fields read elsewhere.
    pub fn checked(src: &Src<'_>, header: u64, size: u64, root: u64) -> Result<ArrayList> {
        if size > src.len() / SLOT_LEN {
            return Err(Error::corrupt(
                header,
                "list size larger than the storage can hold",
            ));
        }
        if !(MIN_POINTER..MAX_POINTER).contains(&root) {
            return Err(Error::corrupt(
                header,
                "list root outside any possible record",
            ));
        }
        Ok(ArrayList { header, size, root })
    }

    /// Interprets an `array_list` slot.
    pub fn from_slot(src: &Src<'_>, slot: Slot) -> Result<ArrayList> {
        if slot.tag != Tag::ArrayList {
            return Err(Error::UnexpectedTag {
                expected: "array_list",
                found: slot.tag,
            });
        }
        Self::read(src, slot.value)
    }

    /// Position of the slot holding item `k` (`k < size`).
    pub fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64> {
        let leaf = leaf_block(src, self.root, list_shift(self.size), k)?;
        Ok(leaf + SLOT_LEN * (k & 0xF))
    }

    /// Iterates over the positions of the item slots, in order.
    pub fn iter<'r>(&self, src: Src<'r>) -> ListIter<'r> {
        ListIter {
            src,
            root: self.root,
            shift: list_shift(self.size),
            next: 0,
            end: self.size,
            leaf: 0,
            leaf_valid: false,
        }
    }

    /// The slot on the path of the next append that points into a subtree
    /// the append would create afresh (a leftover of an interrupted append),
    /// if there is one. The history uses this to scrub itself on recovery.
    pub fn stale_append_slot(&self, src: &Src<'_>) -> Result<Option<u64>> {
        let k = self.size;
        let shift = list_shift(k + 1);
        if shift > list_shift(k) {
            return Ok(None); // the next append makes a new root
        }
        let mut block = self.root;
        for level in (1..=shift as u32).rev() {
            let spos = block + SLOT_LEN * digit(k, level);
            if starts_subtree(k, level) {
                // any byte left there (even from a half-done clearing) goes
                let raw: [u8; 9] = src.array(spos)?;
                return Ok((raw != [0; 9]).then_some(spos));
            }
            let slot = src.slot(spos)?;
            if slot.tag != Tag::Index {
                return Err(Error::corrupt(spos, "missing list index block"));
            }
            block = slot.value;
        }
        Ok(None)
    }

    // ----- writing -----

    /// Opens the list at `pos` for writing: creates an empty list in an
    /// empty slot, or copies a committed header (the root block is copied
    /// only when an item changes).
    pub fn open_mut(core: &mut TxCore<'_>, pos: SlotPos) -> Result<ArrayList> {
        let header = core.open_structure(pos, Tag::ArrayList, LIST_HEADER_LEN, |core| {
            let h = core.alloc_zeroed(LIST_HEADER_LEN + BLOCK_LEN)?;
            let empty = ListHeader {
                size: 0,
                ptr: h + LIST_HEADER_LEN,
            };
            core.write_at(h, &empty.encode())?;
            Ok(h)
        })?;
        Self::read(&core.src(), header)
    }

    /// Writes the header (size, root) back to its place.
    fn write_header(&self, core: &mut TxCore<'_>) -> Result<()> {
        let h = ListHeader {
            size: self.size,
            ptr: self.root,
        };
        core.write_at(self.header, &h.encode())
    }

    /// Appends an empty item and returns the position of its slot.
    ///
    /// With `cow` false the tree is changed in place (the history, whose
    /// new slots lie past its committed size and so are invisible until the
    /// header is rewritten), and the new slot is left for the caller to
    /// write (the history writes it once, at commit). The header itself is
    /// written only if `write_header` is set.
    pub fn push_slot(
        &mut self,
        core: &mut TxCore<'_>,
        cow: bool,
        write_header: bool,
    ) -> Result<u64> {
        let k = self.size;
        let old_shift = list_shift(k);
        let new_shift = list_shift(k + 1);
        if cow {
            self.root = core.own(self.root, BLOCK_LEN)?.0;
        } else if self.root < HISTORY_BLOCKS_START {
            return Err(Error::corrupt(
                self.header,
                "history block inside the headers",
            ));
        }
        if new_shift > old_shift {
            let root = core.alloc_zeroed(BLOCK_LEN)?;
            core.write_at(root, &Slot::new(Tag::Index, self.root).encode())?;
            self.root = root;
        }
        let mut block = self.root;
        for level in (1..=new_shift as u32).rev() {
            let spos = block + SLOT_LEN * digit(k, level);
            // A subtree whose first index is `k` is new: any pointer found
            // there is left over from a slice and must not be reused.
            let fresh = starts_subtree(k, level);
            block = if fresh {
                let child = core.alloc_zeroed(BLOCK_LEN)?;
                core.write_at(spos, &Slot::new(Tag::Index, child).encode())?;
                child
            } else {
                let slot = core.src().slot(spos)?;
                if slot.tag != Tag::Index {
                    return Err(Error::corrupt(spos, "missing list index block"));
                }
                own_child(core, spos, slot.value, cow)?
            };
        }
        self.size = k + 1;
        if write_header {
            self.write_header(core)?;
        }
        let leaf = block + SLOT_LEN * (k & 0xF);
        if cow {
            core.write_at(leaf, &Slot::EMPTY.encode())?;
        }
        Ok(leaf)
    }

    /// Owns the path to item `k` and returns the position of its slot.
    pub fn slot_pos_mut(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        let old_root = self.root;
        let pos = self.slot_pos_detached(core, k)?;
        if self.root != old_root {
            self.write_header(core)?;
        }
        Ok(pos)
    }

    /// Like [`ArrayList::slot_pos_mut`], leaving the header unwritten: the
    /// history uses it to amend its newest moment, and writes the header
    /// once, at commit (after the data it points to).
    pub fn slot_pos_detached(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        let (root, copied) = core.own(self.root, BLOCK_LEN)?;
        if copied {
            self.root = root;
        }
        let mut block = root;
        for level in (1..=list_shift(self.size) as u32).rev() {
            let spos = block + SLOT_LEN * digit(k, level);
            let slot = core.src().slot(spos)?;
            if slot.tag != Tag::Index {
                return Err(Error::corrupt(spos, "missing list index block"));
            }
            block = own_child(core, spos, slot.value, true)?;
        }
        Ok(block + SLOT_LEN * (k & 0xF))
    }

    /// Keeps the first `n` items. Only the header changes; when the tree
    /// gets shallower the new root is the old tree's leftmost subtree.
    pub fn truncate(&mut self, core: &mut TxCore<'_>, n: u64) -> Result<()> {
        if n > self.size {
            return Err(Error::IndexOutOfRange {
                index: i64::try_from(n).unwrap_or(i64::MAX),
                len: self.size,
            });
        }
        let mut root = self.root;
        for _ in list_shift(n)..list_shift(self.size) {
            let slot = core.src().slot(root)?;
            if slot.tag != Tag::Index {
                return Err(Error::corrupt(root, "missing list index block"));
            }
            root = slot.value;
        }
        self.root = root;
        self.size = n;
        self.write_header(core)
    }
}

/// Where the history's blocks can start: after the database header and
/// the 24-byte history header.
const HISTORY_BLOCKS_START: u64 = crate::format::DATABASE_START + crate::format::TOP_HEADER_LEN;

/// Digit of `k` used at tree level `level` (0 = leaves).
#[inline]
fn digit(k: u64, level: u32) -> u64 {
    (k >> (4 * level)) & 0xF
}

/// True when item `k` is the first item of a subtree at tree level
/// `level` (a subtree there holds 16^level items).
#[inline]
fn starts_subtree(k: u64, level: u32) -> bool {
    // levels stop at 15, where the capacity is still a power of two
    let cap = u8::try_from(level).map_or(u64::MAX, level_capacity);
    k & (cap - 1) == 0
}

fn own_child(core: &mut TxCore<'_>, spos: u64, child: u64, cow: bool) -> Result<u64> {
    if !cow {
        // changed in place: never let a damaged pointer aim those writes
        // at the headers
        if child < HISTORY_BLOCKS_START {
            return Err(Error::corrupt(spos, "history block inside the headers"));
        }
        return Ok(child);
    }
    let (c, copied) = core.own(child, BLOCK_LEN)?;
    if copied {
        core.write_at(spos, &Slot::new(Tag::Index, c).encode())?;
    }
    Ok(c)
}

/// Resolves a signed index against `size`.
pub(crate) fn resolve_index(index: i64, size: u64) -> Result<u64> {
    let k = if index < 0 {
        size.checked_sub(index.unsigned_abs())
    } else {
        Some(index as u64).filter(|&k| k < size)
    };
    k.ok_or_else(|| Error::IndexOutOfRange { index, len: size })
}

/// Descends from `root` (a tree of height `shift + 1`) to the leaf block holding item `k`.
fn leaf_block(src: &Src<'_>, root: u64, shift: u8, k: u64) -> Result<u64> {
    let mut block = root;
    for level in (1..=shift as u32).rev() {
        let spos = block + SLOT_LEN * digit(k, level);
        let slot = src.slot(spos)?;
        if slot.tag != Tag::Index {
            return Err(Error::corrupt(spos, "missing list index block"));
        }
        block = slot.value;
    }
    Ok(block)
}

/// Iterates over the item slot positions of an ArrayList.
pub(crate) struct ListIter<'r> {
    src: Src<'r>,
    root: u64,
    shift: u8,
    next: u64,
    end: u64,
    /// The leaf block of item `next` (valid once the first item was read).
    leaf: u64,
    leaf_valid: bool,
}

impl ListIter<'_> {
    /// Items not yet yielded.
    pub fn remaining(&self) -> u64 {
        self.end - self.next
    }

    fn fail(&mut self, e: Error) -> Option<Result<u64>> {
        self.next = self.end;
        Some(Err(e))
    }
}

impl DoubleEndedIterator for ListIter<'_> {
    fn next_back(&mut self) -> Option<Result<u64>> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        let k = self.end;
        match leaf_block(&self.src, self.root, self.shift, k) {
            Ok(b) => Some(Ok(b + SLOT_LEN * (k & 0xF))),
            Err(e) => self.fail(e),
        }
    }
}

impl Iterator for ListIter<'_> {
    type Item = Result<u64>;
    fn next(&mut self) -> Option<Result<u64>> {
        if self.next >= self.end {
            return None;
        }
        let k = self.next;
        if k & 0xF == 0 || !self.leaf_valid {
            match leaf_block(&self.src, self.root, self.shift, k) {
                Ok(b) => {
                    self.leaf = b;
                    self.leaf_valid = true;
                }
                Err(e) => return self.fail(e),
            }
        }
        self.next += 1;
        Some(Ok(self.leaf + SLOT_LEN * (k & 0xF)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Database;

    fn items(db: &Database, m: i64) -> Vec<u64> {
        let l = db.moment(m).unwrap().as_list().unwrap();
        l.iter().map(|c| c.unwrap().as_uint().unwrap()).collect()
    }

    #[test]
    fn grows_through_every_root_overflow() {
        let mut db = Database::memory();
        db.transact(|tx| {
            let mut l = tx.root().array_list()?;
            for i in 0..4100u64 {
                l.append(i)?;
            }
            Ok::<(), crate::Error>(())
        })
        .unwrap();
        let l = db.moment(-1).unwrap().as_list().unwrap();
        assert_eq!(l.len(), 4100);
        for k in [0u64, 15, 16, 255, 256, 4095, 4096, 4099] {
            assert_eq!(l.get(k as i64).unwrap().unwrap().as_uint().unwrap(), k);
        }
        assert_eq!(l.get(-1).unwrap().unwrap().as_uint().unwrap(), 4099);
        assert!(l.get(4100).unwrap().is_none());
        assert!(l.get(-4101).unwrap().is_none());
        assert_eq!(items(&db, -1), (0..4100).collect::<Vec<_>>());
    }

    #[test]
    fn truncate_then_append_never_resurrects_or_leaks_into_old_moments() {
        let mut db = Database::memory();
        db.transact(|tx| {
            let mut l = tx.root().array_list()?;
            for i in 0..300u64 {
                l.append(i)?;
            }
            Ok::<(), crate::Error>(())
        })
        .unwrap();
        // shrink below a tree level, then grow again in the same transaction
        db.transact(|tx| {
            let mut l = tx.root().array_list()?;
            l.truncate(10)?;
            for i in 0..30u64 {
                l.append(1000 + i)?;
            }
            Ok::<(), crate::Error>(())
        })
        .unwrap();
        let want: Vec<u64> = (0..10).chain(1000..1030).collect();
        assert_eq!(items(&db, -1), want);
        assert_eq!(
            items(&db, 0),
            (0..300).collect::<Vec<_>>(),
            "old moment intact"
        );
    }

    #[test]
    fn signed_indices() {
        assert_eq!(resolve_index(-1, 3).unwrap(), 2);
        assert_eq!(resolve_index(-3, 3).unwrap(), 0);
        assert!(resolve_index(-4, 3).is_err());
        assert!(resolve_index(3, 3).is_err());
        assert!(resolve_index(i64::MIN, 3).is_err());
    }
}
