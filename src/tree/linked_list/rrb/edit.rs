//! Structural edits of the LinkedArrayList: insert, remove, slice, concat.
//!
//! Each edit reads the few blocks it touches into memory ([`Node`]),
//! changes them there and writes them back: in place when the block was
//! made by this transaction, at the end otherwise. Only the blocks on one or
//! two root-to-leaf paths are written, so every edit costs O(log n) bytes;
//! subtrees off those paths are shared with the list's earlier versions.
//!
//! Every block written gets canonical `full` flags: a non-last entry whose
//! subtree holds fewer leaves than it could is flagged, so that readers
//! which trust the flags (the reference) locate items correctly.

use super::{read_entry, LinkedList};
use crate::error::{Error, Result};
use crate::format::{
    level_capacity, LinkedEntry, Slot, Tag, BLOCK_SLOTS, LINKED_BLOCK_LEN, LINKED_SLOT_LEN,
    MAX_LINKED_SHIFT,
};
use crate::tree::access::TxCore;

/// A block's occupied entries, in order (empty entries are dropped).
#[derive(Debug, Clone)]
struct Node {
    shift: u8,
    entries: Vec<LinkedEntry>,
}

/// Leaves under one entry of a block at `shift`.
fn leaves(e: &LinkedEntry, shift: u8) -> u64 {
    if shift == 0 {
        1
    } else {
        e.size
    }
}

fn child_entry(ptr: u64, count: u64) -> LinkedEntry {
    LinkedEntry {
        slot: Slot::new(Tag::Index, ptr),
        size: count,
    }
}

impl Node {
    fn read(core: &TxCore<'_>, ptr: u64, shift: u8) -> Result<Node> {
        let src = core.src();
        let mut entries = Vec::with_capacity(BLOCK_SLOTS + 1);
        for i in 0..BLOCK_SLOTS {
            let e = read_entry(&src, ptr, i)?;
            if e.slot.is_empty() {
                continue;
            }
            if shift > 0 && e.slot.tag != Tag::Index {
                return Err(Error::corrupt(ptr, "unexpected tag in a linked list block"));
            }
            entries.push(e);
        }
        Ok(Node { shift, entries })
    }

    fn count(&self) -> Result<u64> {
        self.entries.iter().try_fold(0u64, |acc, e| {
            acc.checked_add(leaves(e, self.shift))
                .ok_or_else(|| Error::corrupt(0, "linked list counts overflow"))
        })
    }

    /// The entry holding leaf `r` and the leaf's rank inside it.
    fn locate(&self, mut r: u64) -> Result<(usize, u64)> {
        for (i, e) in self.entries.iter().enumerate() {
            let c = leaves(e, self.shift);
            if r < c {
                return Ok((i, r));
            }
            r -= c;
        }
        Err(Error::corrupt(
            0,
            "linked list leaf counts do not cover the index",
        ))
    }

    /// The 272 bytes of the block, with canonical `full` flags.
    fn encode(&self) -> Result<Vec<u8>> {
        if self.entries.len() > BLOCK_SLOTS {
            return Err(Error::corrupt(0, "linked list block overfull"));
        }
        let mut out = vec![0u8; LINKED_BLOCK_LEN as usize];
        let cap = level_capacity(self.shift);
        let last = self.entries.len().saturating_sub(1);
        for (i, e) in self.entries.iter().enumerate() {
            let mut e = *e;
            if self.shift > 0 {
                e.slot.full = i < last && e.size < cap;
            }
            let at = i * LINKED_SLOT_LEN as usize;
            if let Some(dst) = out.get_mut(at..at + LINKED_SLOT_LEN as usize) {
                dst.copy_from_slice(&e.encode());
            }
        }
        Ok(out)
    }

    /// Writes the block over `reuse` when this transaction made it, else at the end.
    fn store(&self, core: &mut TxCore<'_>, reuse: Option<u64>) -> Result<u64> {
        let bytes = self.encode()?;
        match reuse {
            Some(p) if core.is_mutable(p) => {
                core.write_at(p, &bytes)?;
                Ok(p)
            }
            _ => core.alloc(&bytes),
        }
    }

    fn split_off_half(&mut self) -> Node {
        let right = self.entries.split_off(self.entries.len() / 2);
        Node {
            shift: self.shift,
            entries: right,
        }
    }
}

/// Nodes replacing one node after an edit: one, or two after a split.
type Parts = Vec<(u64, u64)>;

/// Writes `node` (splitting it in two if it overflowed) and describes the result.
fn store_parts(core: &mut TxCore<'_>, mut node: Node, reuse: Option<u64>) -> Result<Parts> {
    if node.entries.len() <= BLOCK_SLOTS {
        let c = node.count()?;
        return Ok(vec![(node.store(core, reuse)?, c)]);
    }
    let right = node.split_off_half();
    let (lc, rc) = (node.count()?, right.count()?);
    Ok(vec![
        (node.store(core, reuse)?, lc),
        (right.store(core, None)?, rc),
    ])
}

/// Replaces entry `i` of `node` with the entries describing `parts`.
fn splice_parts(node: &mut Node, i: usize, parts: &Parts) {
    let new = parts.iter().map(|&(p, c)| child_entry(p, c));
    node.entries.splice(i..=i, new);
}

impl LinkedList {
    /// Makes `parts` the new root (adding a level when there are two).
    fn set_root(&mut self, core: &mut TxCore<'_>, parts: Parts, shift: u8) -> Result<()> {
        match parts.as_slice() {
            [] => {
                self.root = core.alloc_zeroed(LINKED_BLOCK_LEN)?;
                self.shift = 0;
            }
            [(p, _)] => {
                self.root = *p;
                self.shift = shift;
            }
            _ => {
                if shift >= MAX_LINKED_SHIFT {
                    return Err(Error::TooDeep { pos: self.header });
                }
                let root = Node {
                    shift: shift + 1,
                    entries: parts.iter().map(|&(p, c)| child_entry(p, c)).collect(),
                };
                self.root = root.store(core, None)?;
                self.shift = shift + 1;
            }
        }
        Ok(())
    }

    /// Drops root levels with a single child, and keeps lists of up to 16
    /// items in one leaf block (as the reference expects of small lists).
    fn normalize(&mut self, core: &mut TxCore<'_>) -> Result<()> {
        let t = strip_single_child_levels(core, self.tree())?;
        self.root = t.ptr;
        self.shift = t.shift;
        if self.shift > 0 && self.size <= BLOCK_SLOTS as u64 {
            let src = core.src();
            let mut leaf = Node {
                shift: 0,
                entries: Vec::with_capacity(BLOCK_SLOTS),
            };
            for pos in self.iter(src) {
                let slot = src.slot(pos?)?;
                leaf.entries.push(LinkedEntry { slot, size: 0 });
            }
            self.root = leaf.store(core, None)?;
            self.shift = 0;
        }
        Ok(())
    }

    fn finish(&mut self, core: &mut TxCore<'_>, size: u64) -> Result<()> {
        self.size = size;
        self.normalize(core)?;
        self.write_header(core)
    }

    /// Inserts an explicit-null item before item `k` (`k < size`) and
    /// returns its slot position.
    pub fn insert_slot(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        if k >= self.size {
            return Err(Error::IndexOutOfRange {
                index: i64::try_from(k).unwrap_or(i64::MAX),
                len: self.size,
            });
        }
        let (parts, leaf) = insert_rec(core, self.root, self.shift, k)?;
        self.set_root(core, parts, self.shift)?;
        self.finish(core, self.size + 1)?;
        // normalising may have moved the items: find the new one again
        if self.shift == 0 {
            return self.slot_pos(&core.src(), k);
        }
        Ok(leaf)
    }

    /// Removes item `k` (`k < size`).
    pub fn remove(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<()> {
        if k >= self.size {
            return Err(Error::IndexOutOfRange {
                index: i64::try_from(k).unwrap_or(i64::MAX),
                len: self.size,
            });
        }
        let root = remove_rec(core, self.root, self.shift, k)?;
        let parts: Parts = if root.entries.is_empty() {
            Vec::new()
        } else {
            vec![(root.store(core, Some(self.root))?, root.count()?)]
        };
        self.set_root(core, parts, self.shift)?;
        self.finish(core, self.size - 1)
    }

    /// Keeps the `len` items starting at `offset`.
    pub fn slice(&mut self, core: &mut TxCore<'_>, offset: u64, len: u64) -> Result<()> {
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| Error::SliceOutOfRange {
                offset,
                len,
                size: self.size,
            })?;
        if len == 0 {
            self.set_root(core, Vec::new(), 0)?;
            return self.finish(core, 0);
        }
        // A slice that needs at least the height below the root's keeps the
        // full height, at one or two blocks per level (so a list is never
        // more than one level taller than its size needs); a much smaller
        // slice is rebuilt shorter, which costs a few more blocks but keeps
        // repeated slicing and concatenating from ratcheting heights up.
        if len > level_capacity(self.shift.saturating_sub(1)) {
            let (p, _) = slice_same_height(core, self.root, self.shift, offset, end)?;
            self.root = p;
        } else {
            let t = slice_tree(core, self.root, self.shift, offset, end)?;
            self.root = t.ptr;
            self.shift = t.shift;
        }
        self.finish(core, len)
    }

    /// Appends the items of `other` (which may be this very list). The
    /// result shares `other`'s blocks, so the caller freezes the
    /// transaction first: later edits of either list copy what they change.
    pub fn concat(&mut self, core: &mut TxCore<'_>, other: LinkedList) -> Result<()> {
        let t = join(core, self.tree(), other.tree())?;
        self.root = t.ptr;
        self.shift = t.shift;
        self.finish(core, t.size)
    }

    fn tree(&self) -> Tree {
        Tree {
            ptr: self.root,
            shift: self.shift,
            size: self.size,
        }
    }
}

/// A subtree: its root block, height and item count.
#[derive(Debug, Clone, Copy)]
struct Tree {
    ptr: u64,
    shift: u8,
    size: u64,
}

/// `a ++ b`, sharing everything but the blocks along the seam.
fn join(core: &mut TxCore<'_>, a: Tree, b: Tree) -> Result<Tree> {
    if b.size == 0 {
        return Ok(a);
    }
    if a.size == 0 {
        return Ok(b);
    }
    let size = a
        .size
        .checked_add(b.size)
        .ok_or_else(|| Error::ListTooLong)?;
    let shift = a.shift.max(b.shift);
    let parts = concat_rec(core, (a.ptr, a.shift), (b.ptr, b.shift), a.size < b.size)?;
    match parts.as_slice() {
        [(p, _)] => Ok(Tree {
            ptr: *p,
            shift,
            size,
        }),
        _ => {
            if shift >= MAX_LINKED_SHIFT {
                return Err(Error::TooDeep { pos: a.ptr });
            }
            let root = Node {
                shift: shift + 1,
                entries: parts.iter().map(|&(p, c)| child_entry(p, c)).collect(),
            };
            Ok(Tree {
                ptr: root.store(core, None)?,
                shift: shift + 1,
                size,
            })
        }
    }
}

fn insert_rec(core: &mut TxCore<'_>, ptr: u64, shift: u8, r: u64) -> Result<(Parts, u64)> {
    let mut node = Node::read(core, ptr, shift)?;
    if shift == 0 {
        let at = usize::try_from(r)
            .ok()
            .filter(|&a| a <= node.entries.len())
            .ok_or_else(|| Error::corrupt(ptr, "insert position outside its leaf block"))?;
        node.entries.insert(
            at,
            LinkedEntry {
                slot: Slot::NULL,
                size: 0,
            },
        );
        let half = node.entries.len() / 2;
        let parts = store_parts(core, node, Some(ptr))?;
        let leaf = match parts.as_slice() {
            [(p, _)] => p + LINKED_SLOT_LEN * at as u64,
            [(p, _), _] if at < half => p + LINKED_SLOT_LEN * at as u64,
            [_, (q, _)] => q + LINKED_SLOT_LEN * (at - half) as u64,
            _ => return Err(Error::corrupt(ptr, "leaf split failed")),
        };
        return Ok((parts, leaf));
    }
    let (i, rr) = node.locate(r)?;
    let child = child_at(&node, i, ptr)?;
    let (sub, leaf) = insert_rec(core, child, shift - 1, rr)?;
    splice_parts(&mut node, i, &sub);
    Ok((store_parts(core, node, Some(ptr))?, leaf))
}

/// Fewest entries a block below the root keeps after a removal: a child
/// left with fewer is merged with a neighbour (or shares the neighbour's
/// entries evenly when both do not fit in one block), so that removals
/// leave no trail of nearly empty blocks and the tree stays short.
const MIN_ENTRIES: usize = BLOCK_SLOTS / 4;

/// Removes leaf `r` under the node at `ptr`; returns the node as it is
/// left, in memory (the caller stores it, merges it, or drops it empty).
fn remove_rec(core: &mut TxCore<'_>, ptr: u64, shift: u8, r: u64) -> Result<Node> {
    let mut node = Node::read(core, ptr, shift)?;
    let (i, rr) = node.locate(r)?;
    if shift == 0 {
        node.entries.remove(i);
        return Ok(node);
    }
    let child_ptr = child_at(&node, i, ptr)?;
    let child = remove_rec(core, child_ptr, shift - 1, rr)?;
    put_back(core, &mut node, i, child, child_ptr)?;
    Ok(node)
}

/// The block that entry `i` of `node` (read from `ptr`) points to.
fn child_at(node: &Node, i: usize, ptr: u64) -> Result<u64> {
    node.entries
        .get(i)
        .map(|e| e.slot.value)
        .ok_or_else(|| Error::corrupt(ptr, "missing child"))
}

/// Puts `child`, entry `i` of `node` after an edit (read from block
/// `child_ptr`), back into `node`: dropped when empty, stored when it keeps
/// [`MIN_ENTRIES`], else merged with its right neighbour (its left one when
/// it is the last) into one block, or two blocks of at least half.
fn put_back(
    core: &mut TxCore<'_>,
    node: &mut Node,
    i: usize,
    child: Node,
    child_ptr: u64,
) -> Result<()> {
    if child.entries.is_empty() {
        node.entries.remove(i);
        return Ok(());
    }
    if child.entries.len() >= MIN_ENTRIES || node.entries.len() < 2 {
        let part = (child.store(core, Some(child_ptr))?, child.count()?);
        splice_parts(node, i, &vec![part]);
        return Ok(());
    }
    let j = if i + 1 < node.entries.len() {
        i + 1
    } else {
        i - 1
    };
    let neighbour = Node::read(core, child_at(node, j, child_ptr)?, child.shift)?;
    let (first, entries) = if j > i {
        (i, [child.entries, neighbour.entries].concat())
    } else {
        (j, [neighbour.entries, child.entries].concat())
    };
    let merged = Node {
        shift: child.shift,
        entries,
    };
    let parts = store_parts(core, merged, Some(child_ptr))?;
    node.entries.splice(
        first..=first + 1,
        parts.iter().map(|&(p, c)| child_entry(p, c)),
    );
    Ok(())
}

/// The node holding leaves `lo..hi` of the node at `ptr`, at the same
/// height, sharing every child that lies wholly inside the range.
fn slice_same_height(
    core: &mut TxCore<'_>,
    ptr: u64,
    shift: u8,
    lo: u64,
    hi: u64,
) -> Result<(u64, u64)> {
    let node = Node::read(core, ptr, shift)?;
    if lo == 0 && hi == node.count()? {
        return Ok((ptr, hi));
    }
    let mut kept = Node {
        shift,
        entries: Vec::with_capacity(BLOCK_SLOTS),
    };
    let mut start = 0u64;
    for e in &node.entries {
        let c = leaves(e, shift);
        let end = start + c;
        if end > lo && start < hi {
            if shift == 0 || (lo <= start && end <= hi) {
                kept.entries.push(*e);
            } else {
                let (p, n) = slice_same_height(
                    core,
                    e.slot.value,
                    shift - 1,
                    lo.max(start) - start,
                    hi.min(end) - start,
                )?;
                kept.entries.push(child_entry(p, n));
            }
        }
        start = end;
    }
    Ok((kept.store(core, None)?, hi - lo))
}

/// Leaves `lo..hi` of the node at `ptr` as a tree no taller than it needs.
///
/// Descends while the range lies inside one child (dropping the levels
/// above it); where the range first spans several children, the partly
/// covered child at each end is sliced at its own height and stripped of
/// single-child levels, the wholly covered children between them are kept
/// as one node, and the (at most three) pieces are joined. Every step costs
/// a block or two per level. Without this, slices would keep their
/// source's height and repeated slice-and-concat would ratchet trees up to
/// the format's maximum height.
fn slice_tree(core: &mut TxCore<'_>, ptr: u64, shift: u8, lo: u64, hi: u64) -> Result<Tree> {
    let node = Node::read(core, ptr, shift)?;
    let count = node.count()?;
    if (lo == 0 && hi == count) || shift == 0 {
        let (p, size) = slice_same_height(core, ptr, shift, lo, hi)?;
        return Ok(Tree {
            ptr: p,
            shift,
            size,
        });
    }
    // (entry, its first leaf) for every child the range touches
    let mut touched = Vec::with_capacity(BLOCK_SLOTS);
    let mut start = 0u64;
    for e in &node.entries {
        let end = start + e.size;
        if end > lo && start < hi {
            touched.push((*e, start));
        }
        start = end;
    }
    if let [(e, start)] = touched.as_slice() {
        return slice_tree(
            core,
            e.slot.value,
            shift - 1,
            lo - start,
            (hi - start).min(e.size),
        );
    }
    let mut middle = Node {
        shift,
        entries: Vec::with_capacity(BLOCK_SLOTS),
    };
    let mut left: Option<Tree> = None;
    let mut right: Option<Tree> = None;
    for &(e, start) in &touched {
        let end = start + e.size;
        if lo <= start && end <= hi {
            middle.entries.push(e);
            continue;
        }
        let (a, b) = (lo.max(start) - start, hi.min(end) - start);
        let (p, size) = slice_same_height(core, e.slot.value, shift - 1, a, b)?;
        let piece = strip_single_child_levels(
            core,
            Tree {
                ptr: p,
                shift: shift - 1,
                size,
            },
        )?;
        if start < lo {
            left = Some(piece);
        } else {
            right = Some(piece);
        }
    }
    let middle = match middle.entries.as_slice() {
        [] => None,
        [only] => Some(Tree {
            ptr: only.slot.value,
            shift: shift - 1,
            size: only.size,
        }),
        _ => {
            let size = middle.count()?;
            Some(Tree {
                ptr: middle.store(core, None)?,
                shift,
                size,
            })
        }
    };
    let mut out: Option<Tree> = None;
    for piece in [left, middle, right].into_iter().flatten() {
        out = Some(match out {
            None => piece,
            Some(acc) => join(core, acc, piece)?,
        });
    }
    out.ok_or_else(|| Error::corrupt(ptr, "slice of an empty range"))
}

/// Drops root levels that hold a single child.
fn strip_single_child_levels(core: &mut TxCore<'_>, mut t: Tree) -> Result<Tree> {
    while t.shift > 0 {
        let node = Node::read(core, t.ptr, t.shift)?;
        match node.entries.as_slice() {
            [only] => {
                t.ptr = only.slot.value;
                t.shift -= 1;
            }
            _ => break,
        }
    }
    Ok(t)
}

/// Joins two subtrees (heights may differ) into one or two nodes of the
/// greater height, merging the blocks along the seam.
fn concat_rec(
    core: &mut TxCore<'_>,
    a: (u64, u8),
    b: (u64, u8),
    left_smaller: bool,
) -> Result<Parts> {
    let (sa, sb) = (a.1, b.1);
    let shift = sa.max(sb);
    let mut entries = Vec::with_capacity(2 * BLOCK_SLOTS);
    if sa == sb {
        let mut na = Node::read(core, a.0, sa)?;
        let mut nb = Node::read(core, b.0, sb)?;
        if shift == 0 {
            entries.append(&mut na.entries);
            entries.append(&mut nb.entries);
        } else {
            let la = na
                .entries
                .pop()
                .ok_or_else(|| Error::corrupt(a.0, "empty block"))?;
            if nb.entries.is_empty() {
                return Err(Error::corrupt(b.0, "empty block"));
            }
            let fb = nb.entries.remove(0);
            let mid = concat_rec(
                core,
                (la.slot.value, shift - 1),
                (fb.slot.value, shift - 1),
                left_smaller,
            )?;
            entries.append(&mut na.entries);
            entries.extend(mid.iter().map(|&(p, c)| child_entry(p, c)));
            entries.append(&mut nb.entries);
        }
    } else if sa > sb {
        let mut na = Node::read(core, a.0, sa)?;
        let la = na
            .entries
            .pop()
            .ok_or_else(|| Error::corrupt(a.0, "empty block"))?;
        let mid = concat_rec(core, (la.slot.value, sa - 1), b, left_smaller)?;
        entries.append(&mut na.entries);
        entries.extend(mid.iter().map(|&(p, c)| child_entry(p, c)));
    } else {
        let mut nb = Node::read(core, b.0, sb)?;
        if nb.entries.is_empty() {
            return Err(Error::corrupt(b.0, "empty block"));
        }
        let fb = nb.entries.remove(0);
        let mid = concat_rec(core, a, (fb.slot.value, sb - 1), left_smaller)?;
        entries.extend(mid.iter().map(|&(p, c)| child_entry(p, c)));
        entries.append(&mut nb.entries);
    }
    // One block, or two with the partly filled one on the smaller side.
    let n = entries.len();
    let first_len = if n <= BLOCK_SLOTS {
        n
    } else if left_smaller {
        n - BLOCK_SLOTS
    } else {
        BLOCK_SLOTS
    };
    let rest = entries.split_off(first_len);
    let mut parts = Vec::with_capacity(2);
    for chunk in [entries, rest] {
        if chunk.is_empty() {
            continue;
        }
        let node = Node {
            shift,
            entries: chunk,
        };
        let c = node.count()?;
        parts.push((node.store(core, None)?, c));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::access::Src;
    use crate::{Database, Error as E};

    /// Checks counts and canonical flags; returns the leaves under the node.
    fn check(src: &Src<'_>, ptr: u64, shift: u8) -> u64 {
        let mut total = 0;
        let mut seen_empty = false;
        let mut entries = Vec::new();
        for i in 0..BLOCK_SLOTS {
            let e = read_entry(src, ptr, i).unwrap();
            if e.slot.is_empty() {
                seen_empty = true;
                continue;
            }
            assert!(!seen_empty, "occupied entries form a prefix");
            entries.push(e);
        }
        for (i, e) in entries.iter().enumerate() {
            if shift == 0 {
                total += 1;
                continue;
            }
            let c = check(src, e.slot.value, shift - 1);
            assert_eq!(c, e.size, "entry count matches its subtree");
            if i + 1 < entries.len() && c < level_capacity(shift) {
                assert!(e.slot.full, "partly filled non-last child is flagged");
            }
            total += c;
        }
        total
    }

    /// The reference's lookup (its §6 rule, trusting `full` flags), to
    /// show that the reference reads the lists this crate writes.
    fn reference_locate(src: &Src<'_>, root: u64, shift: u8, key: u64) -> Option<u64> {
        let (mut block, mut r) = (root, key);
        for s in (0..=shift).rev() {
            let mut chosen = None;
            for i in 0..BLOCK_SLOTS {
                let e = read_entry(src, block, i).ok()?;
                let c = if s == 0 {
                    u64::from(!e.slot.is_empty())
                } else {
                    e.size
                };
                if r < c {
                    chosen = Some(i);
                    break;
                }
                if r == c {
                    if c == level_capacity(s) || e.slot.full {
                        r -= c;
                        chosen = Some(i + 1);
                    } else {
                        chosen = Some(i);
                    }
                    break;
                }
                r -= c;
            }
            let i = chosen.filter(|&i| i < BLOCK_SLOTS)?;
            if s == 0 {
                return Some(block + LINKED_SLOT_LEN * i as u64);
            }
            block = read_entry(src, block, i).ok()?.slot.value;
        }
        None
    }

    fn model_check(db: &Database, model: &[u64]) {
        let c = db.moment(-1).unwrap();
        let l = c.as_linked_list().unwrap();
        assert_eq!(l.len(), model.len() as u64);
        let walked: Vec<u64> = l.iter().map(|c| c.unwrap().as_uint().unwrap()).collect();
        assert_eq!(walked, model);
        for (k, v) in model.iter().enumerate() {
            assert_eq!(l.get(k as i64).unwrap().unwrap().as_uint().unwrap(), *v);
        }
        let h = LinkedList::from_slot(&db.src(), c.slot()).unwrap();
        assert_eq!(check(&db.src(), h.root, h.shift), model.len() as u64);
        for (k, v) in model.iter().enumerate() {
            let pos = reference_locate(&db.src(), h.root, h.shift, k as u64).unwrap();
            assert_eq!(
                db.src().slot(pos).unwrap().value,
                *v,
                "reference lookup of item {k}"
            );
        }
        if model.len() <= 16 {
            assert_eq!(h.shift, 0, "small lists are one block");
        }
    }

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }

    #[test]
    fn random_edits_agree_with_a_vec() {
        let mut db = crate::Database::memory_with_options(crate::Options {
            list_family: Some(crate::ListFamily::Rrb),
            ..crate::Options::default()
        });
        let mut model: Vec<u64> = Vec::new();
        let mut rng = 0x9E3779B97F4A7C15u64;
        let mut next = 0u64;
        let mut ops = [0usize; 10];
        let mut max_len = 0;
        for _ in 0..60 {
            db.transact(|tx| -> Result<(), E> {
                let mut l = tx.root().linked_array_list()?;
                for _ in 0..25 {
                    let n = model.len() as u64;
                    let op = xorshift(&mut rng) % 10;
                    if n > 0 || !(3..=7).contains(&op) {
                        ops[op as usize] += 1;
                    }
                    match op {
                        0..=2 => {
                            l.append(next)?;
                            model.push(next);
                            next += 1;
                        }
                        3 | 4 if n > 0 => {
                            let k = xorshift(&mut rng) % n;
                            l.insert(k as i64, next)?;
                            model.insert(k as usize, next);
                            next += 1;
                        }
                        5 | 6 if n > 0 => {
                            let k = xorshift(&mut rng) % n;
                            l.remove(k as i64)?;
                            model.remove(k as usize);
                        }
                        7 if n > 0 => {
                            let off = xorshift(&mut rng) % n;
                            let len = xorshift(&mut rng) % (n - off + 1);
                            l.slice(off, len)?;
                            model = model[off as usize..(off + len) as usize].to_vec();
                        }
                        8 => {
                            let s = l.slot()?;
                            l.concat(s)?;
                            model.extend_from_within(..);
                        }
                        _ => {
                            for _ in 0..40 {
                                l.append(next)?;
                                model.push(next);
                                next += 1;
                            }
                        }
                    }
                    if model.len() > 3000 {
                        l.slice(0, 500)?;
                        model.truncate(500);
                    }
                }
                Ok(())
            })
            .unwrap();
            model_check(&db, &model);
            max_len = max_len.max(model.len());
        }
        assert!(ops.iter().all(|&n| n > 10), "every operation ran: {ops:?}");
        assert!(max_len > 1000, "lists grew deep enough: {max_len}");
    }

    #[test]
    fn concat_with_a_list_from_an_earlier_moment_leaves_it_alone() {
        let mut db = crate::Database::memory_with_options(crate::Options {
            list_family: Some(crate::ListFamily::Rrb),
            ..crate::Options::default()
        });
        db.transact(|tx| -> Result<(), E> {
            let mut m = tx.root_map()?;
            let mut a = m.entry("a")?.linked_array_list()?;
            for i in 0..100u64 {
                a.append(i)?;
            }
            Ok(())
        })
        .unwrap();
        let a_slot = db
            .moment(-1)
            .unwrap()
            .as_map()
            .unwrap()
            .get(b"a")
            .unwrap()
            .unwrap()
            .slot();
        db.transact(|tx| -> Result<(), E> {
            let mut m = tx.root_map()?;
            let mut b = m.entry("b")?.linked_array_list()?;
            b.append(1000u64)?;
            b.concat(a_slot)?;
            b.insert(50, 7u64)?;
            b.remove(0)?;
            Ok(())
        })
        .unwrap();
        let m = db.moment(-1).unwrap().as_map().unwrap();
        let a = m.get(b"a").unwrap().unwrap();
        let a: Vec<u64> = a
            .as_linked_list()
            .unwrap()
            .iter()
            .map(|c| c.unwrap().as_uint().unwrap())
            .collect();
        assert_eq!(a, (0..100).collect::<Vec<_>>());
        let b = m.get(b"b").unwrap().unwrap();
        let b: Vec<u64> = b
            .as_linked_list()
            .unwrap()
            .iter()
            .map(|c| c.unwrap().as_uint().unwrap())
            .collect();
        let mut want: Vec<u64> = (0..100).collect();
        want.insert(49, 7);
        assert_eq!(b, want);
    }

    #[test]
    fn edits_report_bad_ranges() {
        let mut db = crate::Database::memory_with_options(crate::Options {
            list_family: Some(crate::ListFamily::Rrb),
            ..crate::Options::default()
        });
        let r = db.transact(|tx| -> Result<(), E> {
            let mut l = tx.root().linked_array_list()?;
            l.append(1u64)?;
            assert!(matches!(l.insert(1, 2u64), Err(E::IndexOutOfRange { .. })));
            assert!(matches!(l.remove(-2), Err(E::IndexOutOfRange { .. })));
            assert!(matches!(l.slice(1, 1), Err(E::SliceOutOfRange { .. })));
            assert!(matches!(
                l.slice(u64::MAX, 2),
                Err(E::SliceOutOfRange { .. })
            ));
            l.slice(1, 0)?;
            assert_eq!(l.len()?, 0);
            Ok(())
        });
        r.unwrap();
    }
}
