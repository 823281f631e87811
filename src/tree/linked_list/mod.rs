//! The LinkedArrayList (tag 3) in its two on-disk families: the older
//! relaxed radix tree ([`rrb`]) and current upstream's count-augmented
//! B-tree ([`btree`]).
//!
//! Both offer the same operations; [`Linked`] picks the family the
//! database uses ([`family`]) for each list it opens, so that the API above
//! never needs to know which one it holds.

pub(crate) mod btree;
pub(crate) mod family;
pub(crate) mod rrb;
pub(crate) mod scan;

use crate::error::{Error, Result};
use crate::format::{ListFamily, Slot, Tag};
use crate::tree::access::{SlotPos, Src, TxCore};
use crate::tree::btree::iter::RankIter;
use btree::BTreeList;
use rrb::{LinkedIter, LinkedList};

/// A LinkedArrayList of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Linked {
    /// The older family.
    Rrb(LinkedList),
    /// Current upstream's family.
    BTree(BTreeList),
}

/// Iterator over the item slots of a list of either family.
pub(crate) enum LinkedItems<'r> {
    /// Over an RRB list.
    Rrb(LinkedIter<'r>),
    /// Over a B-tree list.
    BTree(RankIter<'r>),
}

impl Linked {
    /// Reads the list whose header is at `header`, in the database's family.
    pub fn read(src: &Src<'_>, header: u64) -> Result<Linked> {
        Ok(match family::family_of(src, header)? {
            ListFamily::Rrb => Linked::Rrb(LinkedList::read(src, header)?),
            ListFamily::BTree => Linked::BTree(BTreeList::read(src, header)?),
        })
    }

    /// Interprets a `linked_array_list` slot.
    pub fn from_slot(src: &Src<'_>, slot: Slot) -> Result<Linked> {
        if slot.tag != Tag::LinkedArrayList {
            return Err(Error::UnexpectedTag {
                expected: "linked_array_list",
                found: slot.tag,
            });
        }
        Self::read(src, slot.value)
    }

    /// Number of items.
    pub fn size(&self) -> u64 {
        match self {
            Linked::Rrb(l) => l.size,
            Linked::BTree(l) => l.size,
        }
    }

    /// Where the list's header lies.
    pub fn header(&self) -> u64 {
        match self {
            Linked::Rrb(l) => l.header,
            Linked::BTree(l) => l.header,
        }
    }

    /// The list's family.
    pub fn family(&self) -> ListFamily {
        match self {
            Linked::Rrb(_) => ListFamily::Rrb,
            Linked::BTree(_) => ListFamily::BTree,
        }
    }

    /// Position of the slot of item `k` (`k < size`).
    pub fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64> {
        match self {
            Linked::Rrb(l) => l.slot_pos(src, k),
            Linked::BTree(l) => l.slot_pos(src, k),
        }
    }

    /// Iterates over the positions of the item slots, from both ends.
    pub fn iter<'r>(&self, src: Src<'r>) -> LinkedItems<'r> {
        match self {
            Linked::Rrb(l) => LinkedItems::Rrb(l.iter(src)),
            Linked::BTree(l) => LinkedItems::BTree(l.iter(src)),
        }
    }

    // ----- writing -----

    /// Opens the list at `pos` for writing, creating one of the database's
    /// family in an empty slot.
    pub fn open_mut(core: &mut TxCore<'_>, pos: SlotPos) -> Result<Linked> {
        let slot = core.read_slot(pos)?;
        let known = core.src().family.get();
        let family = match (known, slot.tag) {
            (Some(f), _) => f,
            (None, Tag::LinkedArrayList) => match family::guess(&core.src(), slot.value)? {
                family::Guess::Is(f) => core.src().family.learn(f),
                _ => scan::database_family(core)?,
            },
            (None, _) => scan::database_family(core)?,
        };
        Ok(match family {
            ListFamily::Rrb => Linked::Rrb(LinkedList::open_mut(core, pos)?),
            ListFamily::BTree => Linked::BTree(BTreeList::open_mut(core, pos)?),
        })
    }

    /// Appends a placeholder item (an explicit null) and returns its slot position.
    pub fn push_slot(&mut self, core: &mut TxCore<'_>) -> Result<u64> {
        match self {
            Linked::Rrb(l) => l.push_slot(core),
            Linked::BTree(l) => l.push_slot(core),
        }
    }

    /// Owns the path to item `k` and returns its slot position.
    pub fn slot_pos_mut(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        match self {
            Linked::Rrb(l) => l.slot_pos_mut(core, k),
            Linked::BTree(l) => l.slot_pos_mut(core, k),
        }
    }

    /// Inserts a placeholder before item `k` (`k < size`) and returns its
    /// slot position.
    pub fn insert_slot(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        match self {
            Linked::Rrb(l) => l.insert_slot(core, k),
            Linked::BTree(l) => l.insert_slot(core, k),
        }
    }

    /// Removes item `k` (`k < size`).
    pub fn remove(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<()> {
        match self {
            Linked::Rrb(l) => l.remove(core, k),
            Linked::BTree(l) => l.remove(core, k),
        }
    }

    /// Keeps the `len` items starting at `offset`.
    pub fn slice(&mut self, core: &mut TxCore<'_>, offset: u64, len: u64) -> Result<()> {
        match self {
            Linked::Rrb(l) => l.slice(core, offset, len),
            Linked::BTree(l) => l.slice(core, offset, len),
        }
    }

    /// Appends the items of `other`, a list of the same family; the caller
    /// freezes the transaction first, as the result shares `other`'s nodes.
    pub fn concat(&mut self, core: &mut TxCore<'_>, other: Linked) -> Result<()> {
        match (self, other) {
            (Linked::Rrb(l), Linked::Rrb(o)) => l.concat(core, o),
            (Linked::BTree(l), Linked::BTree(o)) => l.concat(core, o),
            (l, _) => Err(Error::WrongListFamily {
                what: "concatenating lists",
                needed: l.family().name(),
                found: other.family().name(),
            }),
        }
    }
}

impl Iterator for LinkedItems<'_> {
    type Item = Result<u64>;

    fn next(&mut self) -> Option<Result<u64>> {
        match self {
            LinkedItems::Rrb(i) => i.next(),
            LinkedItems::BTree(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            LinkedItems::Rrb(i) => i.size_hint(),
            LinkedItems::BTree(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for LinkedItems<'_> {
    fn next_back(&mut self) -> Option<Result<u64>> {
        match self {
            LinkedItems::Rrb(i) => i.next_back(),
            LinkedItems::BTree(i) => i.next_back(),
        }
    }
}
