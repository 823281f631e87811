//! Slicing and concatenating B-tree lists by splitting and joining trees.
//!
//! A split cuts a tree at a rank into two trees of the same height, writing
//! new nodes only along the cut (one or two per level) and sharing every
//! other subtree. A join hangs the shorter tree off the taller one's edge
//! at the matching height, merging the two nodes that meet there when
//! either is less than half full, so seams do not leave a trail of tiny
//! nodes. Leaves stay at one depth throughout.

use super::edit::{check_depth, child_item, choose};
use super::BTreeList;
use crate::error::{Error, Result};
use crate::format::btree::{BranchLayout, NodeKind, LEAF_LEN, NODE_SLOTS};
use crate::tree::access::TxCore;
use crate::tree::btree::node::{Item, Node, MIN_FILL};
use crate::tree::btree::MAX_DEPTH;

/// A non-empty subtree: its root node, its height above the leaves and
/// the items below it.
#[derive(Debug, Clone, Copy)]
struct Sub {
    pos: u64,
    height: usize,
    count: u64,
}

/// A node written for a tree being assembled: position and item count.
type Part = (u64, u64);

impl BTreeList {
    /// The whole tree, `None` when empty.
    fn tree(&self, core: &TxCore<'_>) -> Result<Option<Sub>> {
        if self.size == 0 {
            return Ok(None);
        }
        Ok(Some(Sub {
            pos: self.root,
            height: height_of(core, self.root)?,
            count: self.size,
        }))
    }

    /// Makes `tree` the list (an empty leaf when `None`) and writes the header.
    fn set_tree(&mut self, core: &mut TxCore<'_>, tree: Option<Sub>) -> Result<()> {
        match tree {
            Some(t) => {
                let t = strip(core, t)?;
                self.root = t.pos;
                self.size = t.count;
            }
            None => {
                self.root = core.alloc_zeroed(LEAF_LEN)?;
                self.size = 0;
            }
        }
        self.write_header(core)
    }

    /// Keeps the `len` items starting at `offset`.
    pub fn slice(&mut self, core: &mut TxCore<'_>, offset: u64, len: u64) -> Result<()> {
        offset
            .checked_add(len)
            .filter(|&e| e <= self.size)
            .ok_or(Error::SliceOutOfRange {
                offset,
                len,
                size: self.size,
            })?;
        let kept = match self.tree(core)? {
            Some(t) if len > 0 => {
                let (_, rest) = split(core, t, offset, 0)?;
                let rest = rest.map(|p| with_part(t, p));
                match rest {
                    Some(r) => split(core, r, len, 0)?.0.map(|p| with_part(t, p)),
                    None => None,
                }
            }
            _ => None,
        };
        self.set_tree(core, kept)
    }

    /// Appends the items of `other` (which may be this very list). The
    /// result shares `other`'s nodes, so the caller freezes the transaction
    /// first: later edits of either list copy what they change.
    pub fn concat(&mut self, core: &mut TxCore<'_>, other: BTreeList) -> Result<()> {
        let joined = match (self.tree(core)?, other.tree(core)?) {
            (Some(a), Some(b)) => Some(join(core, a, b)?),
            (a, b) => a.or(b),
        };
        self.set_tree(core, joined)
    }
}

/// A part of `whole` cut at its height.
fn with_part(whole: Sub, (pos, count): Part) -> Sub {
    Sub {
        pos,
        height: whole.height,
        count,
    }
}

/// Reads a node of a non-empty tree, checking that it is a leaf exactly at
/// height 0 and holds entries.
fn read_node(core: &TxCore<'_>, pos: u64, height: usize) -> Result<Node> {
    let node = Node::read(&core.src(), pos, BranchLayout::List)?;
    if node.is_leaf() != (height == 0) {
        return Err(Error::corrupt(
            pos,
            "B-tree list leaves at different depths",
        ));
    }
    if node.num == 0 {
        return Err(Error::corrupt(
            pos,
            "empty node inside a non-empty B-tree list",
        ));
    }
    Ok(node)
}

/// The height of the tree rooted at `pos`, following first children.
fn height_of(core: &TxCore<'_>, mut pos: u64) -> Result<usize> {
    for height in 0..MAX_DEPTH {
        let node = Node::read(&core.src(), pos, BranchLayout::List)?;
        if node.is_leaf() {
            return Ok(height);
        }
        if node.num == 0 {
            return Err(Error::corrupt(pos, "B-tree branch without children"));
        }
        pos = node.item(0).slot.value;
    }
    Err(Error::TooDeep { pos })
}

/// Drops root levels that have a single child.
fn strip(core: &TxCore<'_>, mut t: Sub) -> Result<Sub> {
    while t.height > 0 {
        let node = read_node(core, t.pos, t.height)?;
        if node.num != 1 {
            break;
        }
        t.pos = node.item(0).slot.value;
        t.height -= 1;
    }
    Ok(t)
}

/// Cuts `t` into its items `0..k` and `k..`, each a tree of `t`'s height
/// (`None` when empty).
fn split(
    core: &mut TxCore<'_>,
    t: Sub,
    k: u64,
    depth: usize,
) -> Result<(Option<Part>, Option<Part>)> {
    check_depth(depth, t.pos)?;
    if k == 0 {
        return Ok((None, Some((t.pos, t.count))));
    }
    if k >= t.count {
        return Ok((Some((t.pos, t.count)), None));
    }
    let node = read_node(core, t.pos, t.height)?;
    let mut left = Node::new(node.kind, BranchLayout::List);
    let mut right = Node::new(node.kind, BranchLayout::List);
    if node.kind == NodeKind::Leaf {
        let cut = usize::try_from(k).ok().filter(|&i| i <= node.num);
        let cut = cut.ok_or_else(|| Error::corrupt(t.pos, "B-tree counts exceed a leaf"))?;
        for j in 0..node.num {
            push(if j < cut { &mut left } else { &mut right }, node.item(j));
        }
    } else {
        let (i, rem) = choose(&node, k, false)?;
        let child = node.item(i);
        let below = Sub {
            pos: child.slot.value,
            height: t.height - 1,
            count: child.count,
        };
        let (cl, cr) = split(core, below, rem, depth + 1)?;
        for j in 0..i {
            push(&mut left, node.item(j));
        }
        if let Some((p, c)) = cl {
            push(&mut left, child_item(p, c));
        }
        if let Some((p, c)) = cr {
            push(&mut right, child_item(p, c));
        }
        for j in i + 1..node.num {
            push(&mut right, node.item(j));
        }
    }
    Ok((write_part(core, left)?, write_part(core, right)?))
}

fn push(node: &mut Node, item: Item) {
    let _ = node.insert(node.num, item);
}

/// Writes a new node, unless it is empty.
fn write_part(core: &mut TxCore<'_>, mut node: Node) -> Result<Option<Part>> {
    if node.num == 0 {
        return Ok(None);
    }
    let count = node.total();
    Ok(Some((node.write(core)?, count)))
}

/// `a ++ b`, both non-empty.
fn join(core: &mut TxCore<'_>, a: Sub, b: Sub) -> Result<Sub> {
    let (parts, height) = if a.height >= b.height {
        (join_into(core, a, b, true, 0)?, a.height)
    } else {
        (join_into(core, b, a, false, 0)?, b.height)
    };
    match parts.as_slice() {
        [(pos, count)] => Ok(Sub {
            pos: *pos,
            height,
            count: *count,
        }),
        _ => {
            let items: Vec<Item> = parts.iter().map(|&(p, c)| child_item(p, c)).collect();
            let root = build(core, NodeKind::Branch, &items)?;
            match root.as_slice() {
                [(pos, count)] => Ok(Sub {
                    pos: *pos,
                    height: height + 1,
                    count: *count,
                }),
                _ => Err(Error::corrupt(a.pos, "B-tree join made too many roots")),
            }
        }
    }
}

/// Joins `small` onto the right (`right`) or left edge of `big`, which is
/// at least as tall; returns the one or two nodes that replace `big`.
fn join_into(
    core: &mut TxCore<'_>,
    big: Sub,
    small: Sub,
    right: bool,
    depth: usize,
) -> Result<Vec<Part>> {
    check_depth(depth, big.pos)?;
    if big.height == small.height {
        let (l, r) = if right { (big, small) } else { (small, big) };
        return merge_pair(core, l, r);
    }
    let node = read_node(core, big.pos, big.height)?;
    let edge = if right { node.num - 1 } else { 0 };
    let child = node.item(edge);
    let below = Sub {
        pos: child.slot.value,
        height: big.height - 1,
        count: child.count,
    };
    let parts = join_into(core, below, small, right, depth + 1)?;
    let mut items: Vec<Item> = (0..node.num).map(|j| node.item(j)).collect();
    items.splice(edge..=edge, parts.iter().map(|&(p, c)| child_item(p, c)));
    build(core, node.kind, &items)
}

/// Two neighbouring nodes of one height: kept as they are when both are
/// at least half full, else merged into one, or two evenly filled.
fn merge_pair(core: &mut TxCore<'_>, l: Sub, r: Sub) -> Result<Vec<Part>> {
    let ln = read_node(core, l.pos, l.height)?;
    let rn = read_node(core, r.pos, r.height)?;
    if ln.num >= MIN_FILL && rn.num >= MIN_FILL {
        return Ok(vec![(l.pos, l.count), (r.pos, r.count)]);
    }
    let items: Vec<Item> = (0..ln.num)
        .map(|j| ln.item(j))
        .chain((0..rn.num).map(|j| rn.item(j)))
        .collect();
    build(core, ln.kind, &items)
}

/// Writes `items` as one node, or as two (half and rest) when they do not
/// fit in one.
fn build(core: &mut TxCore<'_>, kind: NodeKind, items: &[Item]) -> Result<Vec<Part>> {
    let halves = if items.len() <= NODE_SLOTS {
        items.split_at(items.len())
    } else {
        items.split_at(items.len() / 2)
    };
    let mut out = Vec::with_capacity(2);
    for half in [halves.0, halves.1] {
        if half.len() > NODE_SLOTS {
            return Err(Error::corrupt(0, "B-tree join overfilled a node"));
        }
        let mut node = Node::new(kind, BranchLayout::List);
        for item in half {
            push(&mut node, *item);
        }
        if let Some(part) = write_part(core, node)? {
            out.push(part);
        }
    }
    Ok(out)
}
