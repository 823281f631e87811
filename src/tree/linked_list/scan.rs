//! Inferring a whole database's linked-list family from what it holds.
//!
//! Used when a database opened without a family is about to write a
//! linked list or a sorted collection: every list it already holds must be
//! of the family it writes. The walk follows maps and array lists from the
//! given roots, stops at the first sorted collection (only the B-tree
//! family writes those) or the first list whose bytes decide, and visits
//! each structure once however many moments share it.

use super::family::{guess, Guess};
use crate::error::{Error, Result};
use crate::format::{Header, ListFamily, Slot, Tag, DATABASE_START};
use crate::tree::access::{Src, TxCore};
use crate::tree::array_list::ArrayList;
use crate::tree::hamt::Hamt;
use std::collections::HashSet;

/// The family the structures below `roots` show, or `None` when they hold
/// no linked list that decides (no lists, or empty ones only) and no
/// sorted collection. A non-empty list that both families read as
/// well-formed is an error.
pub(crate) fn scan(src: &Src<'_>, roots: &[Slot]) -> Result<Option<ListFamily>> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Slot> = roots.to_vec();
    while let Some(slot) = stack.pop() {
        if !slot.tag.is_pointer() || !seen.insert(slot.value) {
            continue;
        }
        match slot.tag {
            Tag::SortedMap | Tag::SortedSet => return Ok(Some(ListFamily::BTree)),
            Tag::LinkedArrayList => match guess(src, slot.value)? {
                Guess::Is(f) => return Ok(Some(f)),
                Guess::Either if src.u64_at(slot.value)? == 0 => {}
                _ => return Err(Error::UnknownListFamily { pos: slot.value }),
            },
            Tag::ArrayList => {
                let list = ArrayList::from_slot(src, slot)?;
                for pos in list.iter(*src) {
                    stack.push(src.slot(pos?)?);
                }
            }
            t if t.is_hamt() => {
                let map = Hamt::from_slot(slot)?;
                for kv in map.iter(*src) {
                    let kv = kv?;
                    stack.push(src.slot(kv.value_pos())?);
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

/// The family the database being written uses: the one it was opened in
/// or has learned, else what a scan of everything it holds shows (learned
/// from then on), else the current upstream family.
pub(crate) fn database_family(core: &TxCore<'_>) -> Result<ListFamily> {
    let src = core.src();
    if let Some(f) = src.family.get() {
        return Ok(f);
    }
    let header = Header::decode(src.array(0)?)?;
    let mut roots = vec![core.st.root];
    if header.tag != Tag::None {
        roots.push(Slot::new(header.tag, DATABASE_START));
    }
    let found = scan(&src, &roots)?.unwrap_or(ListFamily::BTree);
    Ok(src.family.learn(found))
}
