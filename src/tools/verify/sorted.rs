//! Sorted maps and sets (tags 14 and 15): B+trees of key/value records in
//! ascending key order.
//!
//! A sorted slot points at a 16-byte header (size, root). A node is a leaf
//! (kind 0, `num`, then `num` kv_pair slots) or a branch (kind 1, `num`,
//! `num` index slots to children, 16 separator key slots, 16 subtree
//! counts). Each node is walked once and leaves what its subtree holds in
//! the memo ([`Summary`]: entries, nesting height of the values, level
//! above the leaves, first and last key), which is all its parent needs:
//!
//! * a leaf's entries are kv_pair slots to records below the committed
//!   length; their keys are `short_bytes` or `bytes` without a format tag,
//!   strictly ascending; a set's value slots are empty, a map's values are
//!   values one structure deeper;
//! * a branch has at least one child; its children are index slots to
//!   nodes all at the same level; each non-empty child's first key is above
//!   the last key of the children before it; each count equals the entries
//!   of its child; separator `i ≥ 1` is a byte key above every key of the
//!   children before child `i` and at most every key of child `i` and the
//!   children after it (an empty child is skipped: the bound is checked
//!   against the nearest non-empty ones); separator 0 is never read;
//! * the header's size equals the entries of the tree.
//!
//! Nodes are memoised by position like index blocks, with the tree (one per
//! header met) that first reached them: a tree shared by several moments,
//! or a subtree shared by path copies, is walked once. A node reached again
//! within the tree that first reached it is a [`ProblemKind::SharedNode`],
//! one still being walked a cycle. A node from an earlier tree reached
//! twice in a later one repeats its keys, which the order check reports
//! (unless it holds no entries).
//!
//! Keys are compared in place, in chunks read into two small buffers on the
//! stack, and a comparison stops at the first differing byte. A separator
//! is usually the very key slot of the first entry of its right side, which
//! compares equal without a read. The order of two out-of-line keys is
//! remembered by their positions (one map entry per pair compared): nodes
//! that path copies made share their keys with the nodes they copied, and
//! comparing those long keys again for every copy would cost the keys'
//! length per copy, far more than the copies add to the file.

use super::stop::{fail, R};
use super::walk::{Agg, Frame, Node, Step, Verifier, Visit};
use super::ProblemKind;
use crate::format::btree::{
    count_off, node_head, separator_off, slot_off, BTreeHeader, BranchLayout, NodeKind,
    BTREE_HEADER_LEN, LEAF_LEN, NODE_HEAD_LEN,
};
use crate::format::{Slot, Tag};
use std::cmp::Ordering;

/// Key bytes compared at a time.
const CHUNK: usize = 256;

/// A key of a sorted collection: inline in a slot's value (the bytes
/// before the first zero), or the long byte string whose length prefix is
/// at this position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    /// The value of a `short_bytes` slot.
    Short(u64),
    /// The position of a `bytes` record (its length prefix).
    Long(u64),
}

/// What a walked sorted node's subtree holds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Summary {
    /// Entries.
    n: u64,
    /// Nesting height of the values.
    h: u32,
    /// Levels above the leaves (0 for a leaf).
    level: u32,
    /// The smallest key, when there are entries.
    first: Option<Key>,
    /// The largest key, when there are entries.
    last: Option<Key>,
}

impl Summary {
    fn agg(&self) -> Agg {
        Agg {
            n: self.n,
            h: self.h,
        }
    }
}

/// Which structure a B-tree belongs to: the sorted kinds, or the B-tree
/// LinkedArrayList, whose leaves hold values (no keys, no order) and whose
/// branches hold no separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TreeKind {
    /// A SortedMap.
    Map,
    /// A SortedSet.
    Set,
    /// A B-tree LinkedArrayList.
    List,
}

impl TreeKind {
    fn layout(self) -> BranchLayout {
        match self {
            TreeKind::List => BranchLayout::List,
            TreeKind::Map | TreeKind::Set => BranchLayout::Sorted,
        }
    }

    /// The node kind, in words.
    pub(super) fn node_name(self) -> &'static str {
        match self {
            TreeKind::Map => "a sorted map node",
            TreeKind::Set => "a sorted set node",
            TreeKind::List => "a linked_array_list node",
        }
    }
}

/// A node to visit: at `pos`, referred to from `from`, in tree `tree` of
/// kind `kind` at depth `nest`.
#[derive(Debug, Clone, Copy)]
struct NodeRef {
    from: u64,
    pos: u64,
    kind: TreeKind,
    tree: u64,
    nest: u32,
}

/// A sorted map or set whose header is at `pos`: waiting for its root.
#[derive(Debug)]
pub(super) struct SortedFrame {
    pos: u64,
    header: BTreeHeader,
    root: NodeRef,
    started: bool,
}

/// A leaf: its entries `next .. num` are still to be checked.
#[derive(Debug)]
pub(super) struct LeafFrame {
    at: NodeRef,
    num: u8,
    next: u8,
    h: u32,
    first: Option<Key>,
    last: Option<Key>,
}

/// A branch: its children `next .. num` are still to be checked.
#[derive(Debug)]
pub(super) struct BranchFrame {
    at: NodeRef,
    num: u8,
    next: u8,
    n: u64,
    h: u32,
    /// The level of the children checked so far.
    level: Option<u32>,
    first: Option<Key>,
    last: Option<Key>,
    /// Separators (bit `i`) not yet checked against a key after them.
    pending: u16,
    /// The child being walked: its slot's position, its position, its index.
    wait: (u64, u64, u8),
}

impl Verifier<'_> {
    /// A sorted map or set, or a B-tree LinkedArrayList (`list`), referred
    /// to by `slot` at `from`, at depth `nest`.
    pub fn sorted(&mut self, from: u64, slot: Slot, nest: u32, list: bool) -> R<Visit> {
        let pos = slot.value;
        self.check_ptr(from, pos, BTREE_HEADER_LEN, self.data_start)?;
        self.stats.headers += 1;
        let header = BTreeHeader::decode(self.src.array(pos)?);
        self.check_ptr(pos + 8, header.root, LEAF_LEN, self.data_start)?;
        self.sorted_trees += 1;
        let root = NodeRef {
            from: pos + 8,
            pos: header.root,
            kind: match (list, slot.tag) {
                (true, _) => TreeKind::List,
                (false, Tag::SortedSet) => TreeKind::Set,
                (false, _) => TreeKind::Map,
            },
            tree: self.sorted_trees,
            nest,
        };
        Ok(Visit::Push(Frame::Sorted(SortedFrame {
            pos,
            header,
            root,
            started: false,
        })))
    }

    /// Walks the root node, then checks the size and the nesting.
    pub fn step_sorted(&mut self, f: &mut SortedFrame, ret: Option<Agg>) -> R<Step> {
        if ret.is_none() && !f.started {
            f.started = true;
            if let Visit::Push(child) = self.visit_sorted_node(f.root)? {
                return Ok(Step::Push(child));
            }
        }
        let sum = self.summary(f.root.pos)?;
        if sum.n != f.header.size {
            return fail(
                f.pos,
                ProblemKind::SortedCount,
                format!(
                    "the header says {} entries but the tree holds {}",
                    f.header.size, sum.n
                ),
            );
        }
        let height = if sum.n > 0 { sum.h + 1 } else { 0 };
        self.check_nesting(f.pos, f.root.nest, height)?;
        Ok(Step::Return(Agg::height(height)))
    }

    /// The node `at`: walked already (in an earlier tree), or to be walked.
    fn visit_sorted_node(&mut self, at: NodeRef) -> R<Visit> {
        match self.known(at.from, at.pos)? {
            None => self.new_sorted_node(at),
            Some(Node::Sorted {
                kind,
                tree,
                done: Some(s),
            }) if kind == at.kind => {
                // a list may share subtrees with itself (concatenated with
                // itself); a sorted tree repeating a node repeats its keys
                if tree == at.tree && kind != TreeKind::List {
                    return fail(
                        at.from,
                        ProblemKind::SharedNode,
                        format!("the node at {} is reached twice in one tree", at.pos),
                    );
                }
                Ok(Visit::Done(s.agg()))
            }
            Some(n) => self.conflict(at.from, at.pos, &n, at.kind.node_name()),
        }
    }

    /// A node met for the first time: its head, its length, its frame.
    fn new_sorted_node(&mut self, at: NodeRef) -> R<Visit> {
        let head: [u8; NODE_HEAD_LEN as usize] = self.src.array(at.pos)?;
        let Ok((kind, num)) = node_head(&head, at.pos) else {
            return bad_head(head, at.pos);
        };
        let len = match kind {
            NodeKind::Leaf => LEAF_LEN,
            NodeKind::Branch => at.kind.layout().len(),
        };
        self.check_ptr(at.from, at.pos, len, self.data_start)?;
        // node_head caps num at 16
        let num = u8::try_from(num).unwrap_or(u8::MAX);
        if kind == NodeKind::Branch && num == 0 {
            return fail(
                at.pos + 1,
                ProblemKind::SortedNode,
                "a branch without children".into(),
            );
        }
        let node = Node::Sorted {
            kind: at.kind,
            tree: at.tree,
            done: None,
        };
        self.new_block(at.pos, node, len);
        if at.kind == TreeKind::List {
            self.stats.linked_blocks += 1;
        } else {
            self.stats.sorted_nodes += 1;
        }
        Ok(Visit::Push(match kind {
            NodeKind::Leaf => Frame::SortedLeaf(LeafFrame {
                at,
                num,
                next: 0,
                h: 0,
                first: None,
                last: None,
            }),
            NodeKind::Branch => Frame::SortedBranch(BranchFrame {
                at,
                num,
                next: 0,
                n: 0,
                h: 0,
                level: None,
                first: None,
                last: None,
                pending: 0,
                wait: (0, 0, 0),
            }),
        }))
    }

    /// What the walk of the node at `pos` left in the memo.
    fn summary(&self, pos: u64) -> R<Summary> {
        match self.nodes.get(&pos) {
            Some(Node::Sorted { done: Some(s), .. }) => Ok(*s),
            _ => fail(
                pos,
                ProblemKind::Unreadable,
                "a sorted node whose walk left no summary".into(),
            ),
        }
    }

    /// Marks the node at `pos` walked, with what it holds.
    fn finish_sorted_node(&mut self, pos: u64, sum: Summary) -> Step {
        if let Some(Node::Sorted { done, .. }) = self.nodes.get_mut(&pos) {
            *done = Some(sum);
        }
        Step::Return(sum.agg())
    }

    /// Checks the leaf's entries in order, walking the values of a map.
    pub fn step_sorted_leaf(&mut self, f: &mut LeafFrame, ret: Option<Agg>) -> R<Step> {
        if let Some(a) = ret {
            f.h = f.h.max(a.h);
        }
        while f.next < f.num {
            let i = f.next;
            f.next += 1;
            match self.leaf_entry(f, i)? {
                Visit::Done(a) => f.h = f.h.max(a.h),
                Visit::Push(child) => return Ok(Step::Push(child)),
            }
        }
        let sum = Summary {
            n: u64::from(f.num),
            h: f.h,
            level: 0,
            first: f.first,
            last: f.last,
        };
        Ok(self.finish_sorted_node(f.at.pos, sum))
    }

    /// Entry `i` of a leaf: its record, its key (above the one before), its
    /// value (empty in a set).
    fn leaf_entry(&mut self, f: &mut LeafFrame, i: u8) -> R<Visit> {
        let spos = f.at.pos + slot_off(usize::from(i));
        let slot = self.slot(spos)?;
        if f.at.kind == TreeKind::List {
            return self.enter(spos, slot, f.at.nest + 1);
        }
        if slot.tag != Tag::KvPair {
            return fail(
                spos,
                ProblemKind::UnexpectedTag,
                format!("a {} slot among a leaf's entries", slot.tag),
            );
        }
        let kv = self.tries.kv();
        self.check_ptr(spos, slot.value, kv.len(), self.data_start)?;
        self.stats.kv_records += 1;
        let key = self.key(slot.value + kv.key_off())?;
        if let Some(prev) = f.last {
            if self.cmp_keys(prev, key)? != Ordering::Less {
                return fail(
                    spos,
                    ProblemKind::KeyOrder,
                    format!("the key of entry {i} is not above the key before it"),
                );
            }
        }
        f.first.get_or_insert(key);
        f.last = Some(key);
        let vpos = slot.value + kv.value_off();
        let value = self.slot(vpos)?;
        if f.at.kind == TreeKind::Map {
            return self.enter(vpos, value, f.at.nest + 1);
        }
        if !value.is_empty() {
            return fail(
                vpos,
                ProblemKind::SetValue,
                format!("a sorted set member with a {} value", value.tag),
            );
        }
        Ok(Visit::Done(Agg::default()))
    }

    /// Checks the branch's children in order, each after its separator.
    pub fn step_sorted_branch(&mut self, f: &mut BranchFrame, ret: Option<Agg>) -> R<Step> {
        if ret.is_some() {
            self.branch_child_done(f)?;
        }
        while f.next < f.num {
            let i = f.next;
            f.next += 1;
            if i >= 1 && f.at.kind != TreeKind::List {
                self.separator_after(f, i)?;
            }
            let spos = f.at.pos + slot_off(usize::from(i));
            let slot = self.slot(spos)?;
            if slot.tag != Tag::Index {
                return fail(
                    spos,
                    ProblemKind::UnexpectedTag,
                    format!("a {} slot among a branch's children", slot.tag),
                );
            }
            self.check_ptr(spos, slot.value, LEAF_LEN, self.data_start)?;
            f.wait = (spos, slot.value, i);
            let at = NodeRef {
                from: spos,
                pos: slot.value,
                ..f.at
            };
            match self.visit_sorted_node(at)? {
                Visit::Done(_) => self.branch_child_done(f)?,
                Visit::Push(child) => return Ok(Step::Push(child)),
            }
        }
        let sum = Summary {
            n: f.n,
            h: f.h,
            level: f.level.unwrap_or(0).saturating_add(1),
            first: f.first,
            last: f.last,
        };
        Ok(self.finish_sorted_node(f.at.pos, sum))
    }

    /// Separator `i` of the branch, before its child is walked: a byte key
    /// above every key of the children before it.
    fn separator_after(&mut self, f: &mut BranchFrame, i: u8) -> R<()> {
        let spos = f.at.pos + separator_off(usize::from(i));
        let key = self.key(spos)?;
        if let Some(prev) = f.last {
            if self.cmp_keys(prev, key)? != Ordering::Less {
                return fail(
                    spos,
                    ProblemKind::Separator,
                    format!("separator {i} is not above the last key of the children before it"),
                );
            }
        }
        f.pending |= 1 << i;
        Ok(())
    }

    /// The child being waited for is walked: its level, count and keys.
    fn branch_child_done(&mut self, f: &mut BranchFrame) -> R<()> {
        let (spos, child, i) = f.wait;
        let s = self.summary(child)?;
        match f.level {
            Some(l) if l != s.level => {
                return fail(
                    spos,
                    ProblemKind::SortedDepth,
                    format!(
                        "child {i} is {} levels above its leaves, the children before it {l}",
                        s.level
                    ),
                )
            }
            _ => f.level = Some(s.level),
        }
        let cpos = f.at.pos + count_off(f.at.kind.layout(), usize::from(i));
        let count = self.src.u64_at(cpos)?;
        if count != s.n {
            return fail(
                cpos,
                ProblemKind::SortedCount,
                format!("count {i} says {count} entries but the child holds {}", s.n),
            );
        }
        if let (Some(first), Some(last)) = (s.first, s.last) {
            self.keys_after(f, i, first)?;
            f.first.get_or_insert(first);
            f.last = Some(last);
        }
        f.n = f.n.saturating_add(s.n);
        f.h = f.h.max(s.h);
        Ok(())
    }

    /// `first`, the first key of child `i`, is above the keys before it and
    /// at least the separators not yet checked against a key after them.
    fn keys_after(&mut self, f: &mut BranchFrame, i: u8, first: Key) -> R<()> {
        if let Some(prev) = f.last {
            if self.cmp_keys(prev, first)? != Ordering::Less {
                let (spos, ..) = f.wait;
                return fail(
                    spos,
                    ProblemKind::KeyOrder,
                    format!("the first key of child {i} is not above the keys before it"),
                );
            }
        }
        for j in 1..=i {
            if f.pending & (1 << j) == 0 {
                continue;
            }
            let spos = f.at.pos + separator_off(usize::from(j));
            let sep = self.key_of(spos)?;
            if self.cmp_keys(sep, first)? == Ordering::Greater {
                return fail(
                    spos,
                    ProblemKind::Separator,
                    format!("separator {j} is above the first key of child {i}"),
                );
            }
        }
        f.pending = 0;
        Ok(())
    }

    /// The key slot at `spos`: `short_bytes` or `bytes` without a format
    /// tag, with the byte checks of its kind.
    fn key(&mut self, spos: u64) -> R<Key> {
        let slot = self.slot(spos)?;
        self.stats.values += 1;
        match slot.tag {
            Tag::ShortBytes | Tag::Bytes if slot.full => fail(
                spos,
                ProblemKind::UnexpectedTag,
                "a sorted key with a format tag".into(),
            ),
            Tag::ShortBytes => {
                self.short_bytes(spos, slot)?;
                Ok(Key::Short(slot.value))
            }
            Tag::Bytes => {
                self.long_bytes(spos, slot)?;
                Ok(Key::Long(slot.value))
            }
            t => fail(
                spos,
                ProblemKind::UnexpectedTag,
                format!("a {t} slot as a sorted key"),
            ),
        }
    }

    /// The key slot at `spos`, checked already by [`Verifier::key`].
    fn key_of(&self, spos: u64) -> R<Key> {
        let slot = self.slot(spos)?;
        Ok(match slot.tag {
            Tag::Bytes => Key::Long(slot.value),
            _ => Key::Short(slot.value),
        })
    }

    /// The order of two checked keys: unsigned bytes, a proper prefix first.
    /// Two out-of-line keys are compared once (`key_order` remembers), so
    /// the keys that path-copied nodes share cost their length only once
    /// per pair, however many copies there are.
    pub(super) fn cmp_keys(&mut self, a: Key, b: Key) -> R<Ordering> {
        if a == b {
            return Ok(Ordering::Equal);
        }
        let (Key::Long(p), Key::Long(q)) = (a, b) else {
            return self.cmp_key_bytes(a, b);
        };
        if let Some(&o) = self.key_order.get(&(p, q)) {
            return Ok(o);
        }
        let o = self.cmp_key_bytes(a, b)?;
        self.key_order.insert((p, q), o);
        Ok(o)
    }

    /// [`Self::cmp_keys`], reading the bytes.
    fn cmp_key_bytes(&self, a: Key, b: Key) -> R<Ordering> {
        let (mut x, mut y) = ([0u8; CHUNK], [0u8; CHUNK]);
        let (la, lb) = (self.key_len(a)?, self.key_len(b)?);
        let mut off = 0u64;
        loop {
            let ca = self.key_chunk(a, la, off, &mut x)?;
            let cb = self.key_chunk(b, lb, off, &mut y)?;
            match ca.cmp(cb) {
                Ordering::Equal if ca.len() == CHUNK => off += CHUNK as u64,
                o => return Ok(o),
            }
        }
    }

    /// The length of a checked key.
    fn key_len(&self, k: Key) -> R<u64> {
        match k {
            Key::Short(v) => Ok(short_len(v) as u64),
            Key::Long(p) => Ok(self.src.u64_at(p)?),
        }
    }

    /// The bytes of key `k` (`len` bytes long) from `off`, at most
    /// [`CHUNK`] of them, read into `buf`.
    fn key_chunk<'b>(&self, k: Key, len: u64, off: u64, buf: &'b mut [u8; CHUNK]) -> R<&'b [u8]> {
        let take = len.saturating_sub(off).min(CHUNK as u64) as usize;
        let Some(dst) = buf.get_mut(..take) else {
            return Ok(&[]);
        };
        match k {
            Key::Short(v) => {
                let bytes = v.to_be_bytes();
                let start = usize::try_from(off).unwrap_or(usize::MAX).min(short_len(v));
                if let Some(src) = bytes.get(start..start + take) {
                    dst.copy_from_slice(src);
                }
            }
            Key::Long(p) => {
                let at = p.saturating_add(8).saturating_add(off);
                self.src.read_into(at, dst)?;
            }
        }
        Ok(dst)
    }
}

/// The length of a `short_bytes` key: its value's bytes before the first
/// zero.
fn short_len(v: u64) -> usize {
    v.to_be_bytes().iter().position(|&b| b == 0).unwrap_or(8)
}

/// The problem with a node head that [`node_head`] rejects, at the byte at
/// fault.
fn bad_head<T>(head: [u8; NODE_HEAD_LEN as usize], pos: u64) -> R<T> {
    let [kind, num] = head;
    if kind > 1 {
        return fail(
            pos,
            ProblemKind::SortedNode,
            format!("node kind {kind} is neither leaf (0) nor branch (1)"),
        );
    }
    fail(
        pos + 1,
        ProblemKind::SortedNode,
        format!("a node of {num} entries (at most 16)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{HashKind, Hasher};
    use crate::tools::verify::walk::walked;
    use crate::tree::access::Src;
    use crate::Database;

    /// Long keys laid out from 12 on, each `[len][bytes]`; their positions.
    fn long_keys(keys: &[&[u8]]) -> (Vec<u8>, Vec<u64>) {
        let mut bytes = vec![0u8; 12];
        let mut at = Vec::new();
        for k in keys {
            at.push(bytes.len() as u64);
            bytes.extend_from_slice(&(k.len() as u64).to_be_bytes());
            bytes.extend_from_slice(k);
        }
        (bytes, at)
    }

    fn short(k: &[u8]) -> Key {
        let mut v = [0u8; 8];
        v[..k.len()].copy_from_slice(k);
        Key::Short(u64::from_be_bytes(v))
    }

    #[test]
    fn keys_compare_as_unsigned_bytes_with_prefixes_first() {
        let x = |n: usize, last: u8| {
            let mut k = vec![b'x'; n];
            k.push(last);
            k
        };
        let samples: Vec<Vec<u8>> = vec![
            vec![],
            b"a".to_vec(),
            b"ab".to_vec(),
            b"abcdefgh".to_vec(),
            b"abcdefghi".to_vec(),
            vec![0xff; 3],
            x(254, b'x'),
            x(255, b'a'),
            x(255, b'x'),
            x(255, b'y'),
            x(256, b'x'),
            x(511, b'b'),
            x(512, b'a'),
        ];
        let refs: Vec<&[u8]> = samples.iter().map(|k| k.as_slice()).collect();
        let (bytes, at) = long_keys(&refs);
        let mut v = Verifier::new(Src::bytes_only(&bytes, Hasher::new(HashKind::Blake3)));
        let key = |i: usize| {
            let k = &samples[i];
            if k.len() <= 8 && !k.contains(&0) && i.is_multiple_of(2) {
                short(k)
            } else {
                Key::Long(at[i])
            }
        };
        for i in 0..samples.len() {
            for j in 0..samples.len() {
                let want = samples[i].cmp(&samples[j]);
                assert_eq!(v.cmp_keys(key(i), key(j)).unwrap(), want, "{i} {j}");
                // the other encoding of the same key compares equal
                assert_eq!(
                    v.cmp_keys(Key::Long(at[i]), key(i)).unwrap(),
                    Ordering::Equal
                );
            }
        }
    }

    #[test]
    fn bad_heads_point_at_the_byte_at_fault() {
        let kind = |r: R<()>| match r {
            Err(crate::tools::verify::stop::Stop::Problem(p)) => (p.kind, p.pos),
            _ => panic!("a problem"),
        };
        assert_eq!(kind(bad_head([2, 0], 100)), (ProblemKind::SortedNode, 100));
        assert_eq!(kind(bad_head([1, 17], 100)), (ProblemKind::SortedNode, 101));
        assert_eq!(short_len(0), 0);
        assert_eq!(short_len(u64::from_be_bytes(*b"abc\0\0\0\0\0")), 3);
        assert_eq!(short_len(u64::MAX), 8);
    }

    #[test]
    fn shared_trees_are_walked_once() {
        let mut db = Database::memory();
        db.transact(|tx| -> crate::Result<()> {
            let mut m = tx.root_map()?.into_entry("m")?.sorted_map()?;
            for i in 0..200u64 {
                m.put(format!("{i:04}"), i)?;
            }
            Ok(())
        })
        .unwrap();
        let bytes = db.into_bytes();
        let (v, problem) = walked(&bytes);
        assert!(problem.is_none(), "{problem:?}");
        let once = v.stats.sorted_nodes;
        let mut db = Database::from_bytes(bytes).unwrap();
        for i in 0..3u64 {
            db.transact(|tx| tx.root_map()?.put("other", i)).unwrap();
        }
        let bytes = db.into_bytes();
        let (v, problem) = walked(&bytes);
        assert!(problem.is_none(), "{problem:?}");
        assert_eq!(
            v.stats.sorted_nodes, once,
            "untouched moments share the tree"
        );
        assert_eq!(v.sorted_trees, 4);
    }
}
