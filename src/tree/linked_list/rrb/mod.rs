//! The LinkedArrayList: a relaxed radix (RRB) tree of 16-entry blocks.
//!
//! Unlike the ArrayList, every internal entry records how many leaves its
//! subtree holds, so subtrees may be partly filled and lists can be sliced
//! and concatenated without copying their items. Entries are 17 bytes: a
//! slot, then the leaf count. An internal entry's `full` flag means "this
//! subtree has a gap: never append into it".
//!
//! Reads locate items by the leaf counts alone (never by `full` flags,
//! which files written by the reference sometimes lose); appends open a new
//! child after any partly filled child and flag that child `full`, so the
//! flags this library writes are always right.

use crate::error::{Error, Result};
use crate::format::{
    level_capacity, LinkedEntry, LinkedHeader, Slot, Tag, BLOCK_SLOTS, LINKED_BLOCK_LEN,
    LINKED_HEADER_LEN, LINKED_SLOT_LEN, MAX_LINKED_SHIFT, MAX_POINTER, MIN_POINTER,
};
use crate::tree::access::{SlotPos, Src, TxCore};

mod edit;

pub(super) fn entry_pos(block: u64, i: usize) -> u64 {
    block + LINKED_SLOT_LEN * i as u64
}

/// Reads entry `i` of the block at `block`.
pub(super) fn read_entry(src: &Src<'_>, block: u64, i: usize) -> Result<LinkedEntry> {
    let pos = entry_pos(block, i);
    let b: [u8; LINKED_SLOT_LEN as usize] = src.array(pos)?;
    LinkedEntry::decode_in(&b, 0, pos)
}

/// A LinkedArrayList header read from storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkedList {
    pub header: u64,
    pub size: u64,
    pub root: u64,
    pub shift: u8,
}

impl LinkedList {
    pub fn read(src: &Src<'_>, header: u64) -> Result<LinkedList> {
        let LinkedHeader {
            size,
            ptr: root,
            shift,
        } = LinkedHeader::decode(src.array(header)?);
        let shift = shift & 0x3F;
        if shift > MAX_LINKED_SHIFT {
            return Err(Error::TooDeep { pos: header });
        }
        if !(MIN_POINTER..MAX_POINTER).contains(&root) {
            return Err(Error::corrupt(
                header,
                "list root outside any possible record",
            ));
        }
        Ok(LinkedList {
            header,
            size,
            root,
            shift,
        })
    }

    #[cfg(test)]
    pub fn from_slot(src: &Src<'_>, slot: Slot) -> Result<LinkedList> {
        if slot.tag != Tag::LinkedArrayList {
            return Err(Error::UnexpectedTag {
                expected: "linked_array_list",
                found: slot.tag,
            });
        }
        Self::read(src, slot.value)
    }

    /// Position of the slot of item `k` (`k < size`), found by leaf counts.
    pub fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64> {
        let mut block = self.root;
        let mut r = k;
        for shift in (0..=self.shift).rev() {
            let (i, rest) = choose(src, block, shift, r)?;
            if shift == 0 {
                return Ok(entry_pos(block, i));
            }
            block = read_entry(src, block, i)?.slot.value;
            r = rest;
        }
        Err(Error::corrupt(block, "linked list item not found"))
    }

    /// Iterates over the positions of the item slots, in order.
    pub fn iter<'r>(&self, src: Src<'r>) -> LinkedIter<'r> {
        let mut stack = Vec::with_capacity(self.shift as usize + 1);
        stack.push((self.root, 0u8, self.shift));
        LinkedIter {
            src,
            stack,
            list: *self,
            front: 0,
            back: self.size,
            per_item_budget: 16 * (self.shift as u32 + 2),
        }
    }

    // ----- writing -----

    /// Opens the list at `pos` for writing (creating it in an empty slot,
    /// copying a committed header).
    pub fn open_mut(core: &mut TxCore<'_>, pos: SlotPos) -> Result<LinkedList> {
        let header = core.open_structure(pos, Tag::LinkedArrayList, LINKED_HEADER_LEN, |core| {
            let h = core.alloc_zeroed(LINKED_HEADER_LEN + LINKED_BLOCK_LEN)?;
            let empty = LinkedHeader {
                size: 0,
                ptr: h + LINKED_HEADER_LEN,
                shift: 0,
            };
            core.write_at(h, &empty.encode())?;
            Ok(h)
        })?;
        Self::read(&core.src(), header)
    }

    /// Writes the header (size, root, shift) back to its place.
    pub fn write_header(&self, core: &mut TxCore<'_>) -> Result<()> {
        let h = LinkedHeader {
            size: self.size,
            ptr: self.root,
            shift: self.shift,
        };
        core.write_at(self.header, &h.encode())
    }

    /// Appends a placeholder item (an explicit none) and returns its slot position.
    pub fn push_slot(&mut self, core: &mut TxCore<'_>) -> Result<u64> {
        self.root = core.own(self.root, LINKED_BLOCK_LEN)?.0;
        loop {
            if let Some(leaf) = append_into(core, self.root, self.shift)? {
                self.size = self.size.checked_add(1).ok_or_else(|| Error::ListTooLong)?;
                self.write_header(core)?;
                return Ok(leaf);
            }
            if self.shift >= MAX_LINKED_SHIFT {
                return Err(Error::TooDeep { pos: self.root });
            }
            let old = LinkedEntry {
                slot: Slot {
                    tag: Tag::Index,
                    full: true,
                    value: self.root,
                },
                size: self.size,
            };
            self.root = core.alloc_zeroed(LINKED_BLOCK_LEN)?;
            core.write_at(self.root, &old.encode())?;
            self.shift += 1;
        }
    }

    /// Owns the path to item `k` and returns its slot position.
    pub fn slot_pos_mut(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        let (root, copied) = core.own(self.root, LINKED_BLOCK_LEN)?;
        if copied {
            self.root = root;
            self.write_header(core)?;
        }
        let mut block = root;
        let mut r = k;
        for shift in (0..=self.shift).rev() {
            let (i, rest) = choose(&core.src(), block, shift, r)?;
            if shift == 0 {
                return Ok(entry_pos(block, i));
            }
            let e = read_entry(&core.src(), block, i)?;
            let (child, copied) = core.own(e.slot.value, LINKED_BLOCK_LEN)?;
            if copied {
                let moved = LinkedEntry {
                    slot: Slot {
                        value: child,
                        ..e.slot
                    },
                    ..e
                };
                core.write_at(entry_pos(block, i), &moved.encode())?;
            }
            block = child;
            r = rest;
        }
        Err(Error::corrupt(block, "linked list item not found"))
    }
}

/// Picks the entry of the block at `shift` that holds leaf `r`, by leaf
/// counts; returns it and the leaf's rank inside that entry.
pub(super) fn choose(src: &Src<'_>, block: u64, shift: u8, mut r: u64) -> Result<(usize, u64)> {
    for i in 0..BLOCK_SLOTS {
        let e = read_entry(src, block, i)?;
        let count = if shift == 0 {
            u64::from(!e.slot.is_empty())
        } else if e.slot.tag == Tag::Index {
            e.size
        } else if e.slot.is_empty() {
            0
        } else {
            return Err(Error::corrupt(
                entry_pos(block, i),
                "unexpected tag in a linked list block",
            ));
        };
        if r < count {
            return Ok((i, r));
        }
        r -= count;
    }
    Err(Error::corrupt(
        block,
        "linked list leaf counts do not cover the index",
    ))
}

/// Appends a placeholder leaf under the (owned) block at `shift`; `None`
/// when the subtree has no room.
fn append_into(core: &mut TxCore<'_>, block: u64, shift: u8) -> Result<Option<u64>> {
    let mut used = 0;
    let mut last = None;
    for i in 0..BLOCK_SLOTS {
        let e = read_entry(&core.src(), block, i)?;
        if e.slot.is_empty() {
            break;
        }
        used = i + 1;
        last = Some(e);
    }
    if shift == 0 {
        if used == BLOCK_SLOTS {
            return Ok(None);
        }
        let pos = entry_pos(block, used);
        let placeholder = LinkedEntry {
            slot: Slot::NULL,
            size: 0,
        };
        core.write_at(pos, &placeholder.encode())?;
        return Ok(Some(pos));
    }
    let cap = level_capacity(shift);
    if let Some(e) = last {
        if e.slot.tag != Tag::Index {
            return Err(Error::corrupt(
                entry_pos(block, used - 1),
                "unexpected tag in a linked list block",
            ));
        }
        if !e.slot.full && e.size < cap {
            let (child, _) = core.own(e.slot.value, LINKED_BLOCK_LEN)?;
            if let Some(leaf) = append_into(core, child, shift - 1)? {
                let grown = LinkedEntry {
                    slot: Slot {
                        value: child,
                        ..e.slot
                    },
                    size: e.size + 1,
                };
                core.write_at(entry_pos(block, used - 1), &grown.encode())?;
                return Ok(Some(leaf));
            }
        }
        if used == BLOCK_SLOTS {
            return Ok(None);
        }
        if e.size < cap && !e.slot.full {
            // The partly filled child stops taking appends: flag its gap.
            let flagged = LinkedEntry {
                slot: Slot {
                    full: true,
                    ..e.slot
                },
                ..e
            };
            core.write_at(entry_pos(block, used - 1), &flagged.encode())?;
        }
    }
    // A fresh path down to a new leaf block.
    let mut child = core.alloc_zeroed(LINKED_BLOCK_LEN)?;
    let leaf = child;
    core.write_at(
        leaf,
        &LinkedEntry {
            slot: Slot::NULL,
            size: 0,
        }
        .encode(),
    )?;
    for _ in 1..shift {
        let parent = core.alloc_zeroed(LINKED_BLOCK_LEN)?;
        let e = LinkedEntry {
            slot: Slot::new(Tag::Index, child),
            size: 1,
        };
        core.write_at(parent, &e.encode())?;
        child = parent;
    }
    let e = LinkedEntry {
        slot: Slot::new(Tag::Index, child),
        size: 1,
    };
    core.write_at(entry_pos(block, used), &e.encode())?;
    Ok(Some(leaf))
}

/// In-order walk over the non-empty leaf slots, stopping after `size` items.
///
/// From the front it walks the tree (a depth-first walk of the slots, like
/// the reference's iterator); from the back it locates items by leaf counts.
/// The two ends meet after `size` items in all.
pub(crate) struct LinkedIter<'r> {
    src: Src<'r>,
    /// (block, next entry, shift of the block)
    stack: Vec<(u64, u8, u8)>,
    list: LinkedList,
    /// Items taken from the front, and the index after the last one left.
    front: u64,
    back: u64,
    per_item_budget: u32,
}

impl LinkedIter<'_> {
    fn step(&mut self) -> Result<Option<u64>> {
        if self.front >= self.back {
            return Ok(None);
        }
        let mut budget = self.per_item_budget;
        while let Some(top) = self.stack.last_mut() {
            let (block, i, shift) = *top;
            if i as usize >= BLOCK_SLOTS {
                self.stack.pop();
                continue;
            }
            top.1 += 1;
            let pos = entry_pos(block, i as usize);
            let slot = self.src.slot(pos)?;
            if slot.is_empty() {
                continue;
            }
            if shift == 0 {
                self.front += 1;
                return Ok(Some(pos));
            }
            if slot.tag != Tag::Index {
                return Err(Error::corrupt(pos, "unexpected tag in a linked list block"));
            }
            budget = budget
                .checked_sub(1)
                .ok_or_else(|| Error::corrupt(pos, "linked list blocks hold no items"))?;
            self.stack.push((slot.value, 0, shift - 1));
        }
        Err(Error::corrupt(
            0,
            "linked list holds fewer items than its size",
        ))
    }
}

impl LinkedIter<'_> {
    fn fail(&mut self, e: Error) -> Option<Result<u64>> {
        self.front = self.back;
        self.stack.clear();
        Some(Err(e))
    }
}

impl Iterator for LinkedIter<'_> {
    type Item = Result<u64>;
    fn next(&mut self) -> Option<Result<u64>> {
        match self.step() {
            Ok(p) => p.map(Ok),
            Err(e) => self.fail(e),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.back - self.front).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for LinkedIter<'_> {
    fn next_back(&mut self) -> Option<Result<u64>> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        match self.list.slot_pos(&self.src, self.back) {
            Ok(p) => Some(Ok(p)),
            Err(e) => self.fail(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_grow_the_tree_and_reads_agree_with_the_walk() {
        let mut db = crate::Database::memory_with_options(crate::Options {
            list_family: Some(crate::ListFamily::Rrb),
            ..crate::Options::default()
        });
        for round in 0..3u64 {
            db.transact(|tx| {
                let mut l = tx.root().linked_array_list()?;
                for i in 0..300u64 {
                    l.append(round * 1000 + i)?;
                }
                Ok::<(), crate::Error>(())
            })
            .unwrap();
        }
        let c = db.moment(-1).unwrap();
        let l = c.as_linked_list().unwrap();
        assert_eq!(l.len(), 900);
        let walked: Vec<u64> = l.iter().map(|c| c.unwrap().as_uint().unwrap()).collect();
        let want: Vec<u64> = (0..3)
            .flat_map(|r| (0..300).map(move |i| r * 1000 + i))
            .collect();
        assert_eq!(walked, want);
        for (k, w) in want.iter().enumerate() {
            assert_eq!(l.get(k as i64).unwrap().unwrap().as_uint().unwrap(), *w);
        }
        // the first moment is untouched
        let first = db.moment(0).unwrap();
        assert_eq!(first.as_linked_list().unwrap().len(), 300);
        let header = LinkedList::from_slot(&db.src(), c.slot()).unwrap();
        assert_eq!(header.shift, 2);
    }

    #[test]
    fn put_replaces_in_place_in_new_moment_only() {
        let mut db = crate::Database::memory_with_options(crate::Options {
            list_family: Some(crate::ListFamily::Rrb),
            ..crate::Options::default()
        });
        db.transact(|tx| {
            let mut l = tx.root().linked_array_list()?;
            for i in 0..40u64 {
                l.append(i)?;
            }
            Ok::<(), crate::Error>(())
        })
        .unwrap();
        db.transact(|tx| tx.root().linked_array_list()?.put(-3, "x"))
            .unwrap();
        let new = db.moment(-1).unwrap();
        let l = new.as_linked_list().unwrap();
        assert_eq!(&*l.get(37).unwrap().unwrap().as_bytes().unwrap(), b"x");
        let old = db.moment(0).unwrap();
        let l0 = old.as_linked_list().unwrap();
        assert_eq!(l0.get(37).unwrap().unwrap().as_uint().unwrap(), 37);
    }
}
