//! Writing a [`Node`] over a stored value, touching only what differs.
//!
//! Every level compares first: a map is planned from one pass over its
//! stored entries (which keys hold a different value, which stored keys the
//! new value lacks), a list item by item, and only then is anything opened
//! for writing, so an unchanged subtree is never copied. The comparison
//! reads without hashing: stored keys are matched against the new value's
//! keys in a `std` hash map.

use super::node::Node;
use crate::api::cursor::Cursor;
use crate::api::cursor_mut::CursorMut;
use crate::api::map::MapMut;
use crate::api::sorted::SortedMapMut;
use crate::error::Result;
use crate::format::Tag;
use std::collections::HashMap;

/// True when the stored value differs from `node` (a never-written slot
/// equals an explicit none).
pub(crate) fn differs(stored: &Cursor<'_>, node: &Node) -> Result<bool> {
    let slot = stored.slot();
    Ok(match node {
        Node::Null => !stored.is_null(),
        Node::Uint(v) => slot.tag != Tag::Uint || slot.value != *v,
        Node::Int(v) => slot.tag != Tag::Int || slot.value != *v as u64,
        Node::Float(v) => slot.tag != Tag::Float || slot.value != v.to_bits(),
        Node::Bytes(b) => match slot.tag {
            Tag::Bytes | Tag::ShortBytes => {
                stored.bytes_with_format()? != (b.as_slice().into(), None)
            }
            _ => true,
        },
        Node::List(items) => match slot.tag {
            Tag::ArrayList => list_plan(stored, items)?.iter().any(|&w| w),
            _ => true,
        },
        Node::Map(entries) => match slot.tag {
            Tag::HashMap | Tag::CountedHashMap => !map_plan(stored, entries)?.is_clean(),
            _ => true,
        },
        Node::Sorted(entries) => match slot.tag {
            Tag::SortedMap => !sorted_plan(stored, entries)?.is_clean(),
            _ => true,
        },
    })
}

/// Writes `node` into `cur`, which is known to hold something else.
pub(crate) fn write_differing(mut cur: CursorMut<'_>, node: &Node) -> Result<()> {
    match node {
        Node::Null => cur.write(()),
        Node::Uint(v) => cur.write(*v),
        Node::Int(v) => cur.write(*v),
        Node::Float(v) => cur.write(*v),
        Node::Bytes(b) => cur.write(b.as_slice()),
        Node::List(items) => write_list(cur, items),
        Node::Map(entries) => write_map(cur, entries),
        Node::Sorted(entries) => write_sorted(cur, entries),
    }
}

/// What writing a map's new entries over its stored ones takes.
struct Plan {
    /// Per new entry: whether to write it (false for an unchanged value,
    /// and for a key repeated later in the new value).
    writes: Vec<bool>,
    /// Stored entries the new value lacks: hashes (hash maps) or keys
    /// (sorted maps).
    stale: Vec<Vec<u8>>,
}

impl Plan {
    /// A plan writing every entry (each key once: the last wins).
    fn all(entries: &[(Vec<u8>, Node)]) -> Plan {
        let mut writes = vec![false; entries.len()];
        for &i in last_index(entries).values() {
            if let Some(w) = writes.get_mut(i) {
                *w = true;
            }
        }
        Plan {
            writes,
            stale: Vec::new(),
        }
    }

    /// Carries the plan out on the opened map: stale entries go, then the
    /// differing entries are written.
    fn apply<M: KeyedMut>(&self, map: &mut M, entries: &[(Vec<u8>, Node)]) -> Result<()> {
        for id in &self.stale {
            map.remove_stale(id)?;
        }
        for ((key, node), _) in entries.iter().zip(&self.writes).filter(|(_, &w)| w) {
            write_differing(map.slot(key)?, node).map_err(|e| e.at_key(key))?;
        }
        Ok(())
    }

    fn is_clean(&self) -> bool {
        self.stale.is_empty() && !self.writes.iter().any(|&w| w)
    }

    /// Matches one stored entry against the new entries.
    fn see(
        &mut self,
        index: &HashMap<&[u8], usize>,
        entries: &[(Vec<u8>, Node)],
        key: Option<&[u8]>,
        value: Cursor<'_>,
        stale_id: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<()> {
        let found = key.and_then(|k| index.get(k)).copied();
        match (found, found.and_then(|i| entries.get(i))) {
            (Some(i), Some((_, node))) => {
                if !differs(&value, node)? {
                    if let Some(w) = self.writes.get_mut(i) {
                        *w = false;
                    }
                }
            }
            _ => self.stale.push(stale_id()?),
        }
        Ok(())
    }
}

/// A map handle a plan can be carried out on.
trait KeyedMut {
    /// Removes a stale entry, by the id the plan recorded.
    fn remove_stale(&mut self, id: &[u8]) -> Result<()>;
    /// The value slot of `key`, created if absent.
    fn slot(&mut self, key: &[u8]) -> Result<CursorMut<'_>>;
}

impl KeyedMut for MapMut<'_> {
    fn remove_stale(&mut self, hash: &[u8]) -> Result<()> {
        self.remove_by_hash(hash).map(drop)
    }
    fn slot(&mut self, key: &[u8]) -> Result<CursorMut<'_>> {
        self.entry(key)
    }
}

impl KeyedMut for SortedMapMut<'_> {
    fn remove_stale(&mut self, key: &[u8]) -> Result<()> {
        self.remove(key).map(drop)
    }
    fn slot(&mut self, key: &[u8]) -> Result<CursorMut<'_>> {
        self.entry(key)
    }
}

/// Each key's last position among the new entries.
fn last_index(entries: &[(Vec<u8>, Node)]) -> HashMap<&[u8], usize> {
    entries
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_slice(), i))
        .collect()
}

fn map_plan(stored: &Cursor<'_>, entries: &[(Vec<u8>, Node)]) -> Result<Plan> {
    let index = last_index(entries);
    let mut plan = Plan::all(entries);
    for entry in stored.as_map()?.iter() {
        let entry = entry?;
        let key = entry.key()?;
        let key = if key.is_null() {
            None
        } else {
            key.as_bytes().ok()
        };
        plan.see(&index, entries, key.as_deref(), entry.value()?, || {
            Ok(entry.hash()?.into_owned())
        })?;
    }
    Ok(plan)
}

fn sorted_plan(stored: &Cursor<'_>, entries: &[(Vec<u8>, Node)]) -> Result<Plan> {
    let index = last_index(entries);
    let mut plan = Plan::all(entries);
    for entry in stored.as_sorted_map()?.iter()? {
        let entry = entry?;
        let key = entry.key()?;
        plan.see(&index, entries, Some(&key), entry.value()?, || {
            Ok(key.to_vec())
        })?;
    }
    Ok(plan)
}

/// Per new item: whether it differs from the stored item at its index
/// (items past the stored end always do).
fn list_plan(stored: &Cursor<'_>, items: &[Node]) -> Result<Vec<bool>> {
    let list = stored.as_list()?;
    let mut writes = vec![true; items.len()];
    if list.len() != items.len() as u64 {
        // a different length is a difference even when every shared item matches
        writes.push(true);
    }
    for ((item, node), w) in list.iter().zip(items).zip(writes.iter_mut()) {
        *w = differs(&item?, node)?;
    }
    Ok(writes)
}

fn write_map(mut cur: CursorMut<'_>, entries: &[(Vec<u8>, Node)]) -> Result<()> {
    let tag = cur.slot()?.tag;
    let (mut map, plan) = match tag {
        Tag::HashMap | Tag::CountedHashMap => {
            let plan = map_plan(&cur.read()?, entries)?;
            let map = match tag {
                Tag::CountedHashMap => cur.counted_hash_map()?,
                _ => cur.hash_map()?,
            };
            (map, plan)
        }
        _ => {
            cur.write(())?;
            (cur.hash_map()?, Plan::all(entries))
        }
    };
    plan.apply(&mut map, entries)
}

fn write_sorted(mut cur: CursorMut<'_>, entries: &[(Vec<u8>, Node)]) -> Result<()> {
    let (mut map, plan) = match cur.slot()?.tag {
        Tag::SortedMap => {
            let plan = sorted_plan(&cur.read()?, entries)?;
            (cur.sorted_map()?, plan)
        }
        _ => {
            cur.write(())?;
            (cur.sorted_map()?, Plan::all(entries))
        }
    };
    plan.apply(&mut map, entries)
}

fn write_list(mut cur: CursorMut<'_>, items: &[Node]) -> Result<()> {
    let (mut list, old_len, writes) = match cur.slot()?.tag {
        Tag::ArrayList => {
            let stored = cur.read()?;
            let old_len = stored.as_list()?.len();
            let writes = list_plan(&stored, items)?;
            (cur.array_list()?, old_len, writes)
        }
        _ => {
            cur.write(())?;
            (cur.array_list()?, 0, vec![true; items.len()])
        }
    };
    let new_len = items.len() as u64;
    if old_len > new_len {
        list.truncate(new_len)?;
    }
    for (i, (node, _)) in items
        .iter()
        .zip(&writes)
        .enumerate()
        .filter(|(_, (_, &w))| w)
    {
        let i = i as u64;
        let item = if i < old_len {
            list.cursor(i as i64)?
        } else {
            list.append_cursor()?
        };
        write_differing(item, node).map_err(|e| e.at_index(i))?;
    }
    Ok(())
}
