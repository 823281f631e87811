//! Following paths: reading (`get`, `ls`, `cd`) and changing (`put`, `remove`).

use crate::error::{CliError, Result};
use crate::path::{display, Step};
use crate::value;
use serde_json::Value as Json;
use xitdb::format::Tag;
use xitdb::{Cursor, CursorMut, Error, PathStepBuf, Transaction};

/// A change to make: what `put` and `remove` do, and what the shell stages.
#[derive(Debug, Clone)]
pub enum Op {
    /// Write a value, in the canonical JSON form, at a path (creating
    /// missing maps on the way).
    Put(Vec<Step>, Json),
    /// Remove a map entry, set member or list item.
    Remove(Vec<Step>),
}

/// Why `[]` is refused anywhere but on the way to a put.
const APPEND_ONLY: &str = "[] (append) can only be used to put a new item";

fn not_found(steps: &[Step]) -> CliError {
    CliError::new(format!("not found: {}", display(steps)))
}

/// One step down from a read cursor: `Ok(None)` when the key or index is
/// not there. A set member reads as its (null) value.
pub fn step<'r>(c: &Cursor<'r>, s: &Step, at: &[Step]) -> Result<Option<Cursor<'r>>> {
    let Step::At(s) = s else {
        return Err(CliError::new(APPEND_ONLY));
    };
    let tag = c.tag();
    let wrong = |want: &str| {
        CliError::new(format!(
            "{} is {}, not a {want}",
            display(at),
            value::a_kind(tag)
        ))
    };
    Ok(match s {
        PathStepBuf::Key(k) => match tag {
            Tag::HashMap | Tag::CountedHashMap => c.as_map()?.get(k)?,
            Tag::HashSet | Tag::CountedHashSet => {
                c.as_set()?.entry(k)?.map(|e| e.value()).transpose()?
            }
            Tag::SortedMap => c.as_sorted_map()?.get(k)?,
            Tag::SortedSet => sorted_member(c, k)?,
            _ => return Err(wrong("map or set")),
        },
        PathStepBuf::Hash(_) if is_sorted(tag) => return Err(no_hashes(at, tag)),
        PathStepBuf::Hash(h) => match tag {
            Tag::HashMap | Tag::CountedHashMap => c.as_map()?.get_by_hash(h)?,
            Tag::HashSet | Tag::CountedHashSet => c
                .as_set()?
                .entry_by_hash(h)?
                .map(|e| e.value())
                .transpose()?,
            _ => return Err(wrong("map or set")),
        },
        PathStepBuf::Index(i) => match tag {
            Tag::ArrayList => c.as_list()?.get(*i)?,
            Tag::LinkedArrayList => c.as_linked_list()?.get(*i)?,
            _ => return Err(wrong("list")),
        },
    })
}

/// True for the kinds kept in key order.
pub fn is_sorted(tag: Tag) -> bool {
    matches!(tag, Tag::SortedMap | Tag::SortedSet)
}

/// A `#hash` step into a sorted map or set, which keeps its keys unhashed.
fn no_hashes(at: &[Step], tag: Tag) -> CliError {
    CliError::new(format!(
        "{} is {}: its keys are not hashed, so name them by key, not #hash",
        display(at),
        value::a_kind(tag)
    ))
}

/// The member `k` of the sorted set at `c`, read as its (null) value.
fn sorted_member<'r>(c: &Cursor<'r>, k: &[u8]) -> Result<Option<Cursor<'r>>> {
    use std::ops::Bound::Included;
    let mut it = c
        .as_sorted_set()?
        .range::<[u8], _>((Included(k), Included(k)))?;
    Ok(it.next().transpose()?.map(|e| e.value()).transpose()?)
}

/// Follows `steps` from `root` (`None`: a database with no moments yet).
pub fn lookup<'r>(root: Option<Cursor<'r>>, steps: &[Step]) -> Result<Cursor<'r>> {
    let Some(mut c) = root else {
        return Err(CliError::new(
            "the database is empty: it has no moments yet",
        ));
    };
    for (i, s) in steps.iter().enumerate() {
        match step(&c, s, upto(steps, i))? {
            Some(next) => c = next,
            None => return Err(missing(&c, s, upto(steps, i + 1))),
        }
    }
    Ok(c)
}

fn missing(parent: &Cursor<'_>, s: &Step, at: &[Step]) -> CliError {
    if let Step::At(PathStepBuf::Index(i)) = s {
        let len = match parent.tag() {
            Tag::ArrayList => parent.as_list().map(|l| l.len()).ok(),
            Tag::LinkedArrayList => parent.as_linked_list().map(|l| l.len()).ok(),
            _ => None,
        };
        if let Some(len) = len {
            return CliError::new(format!(
                "not found: {} (index {i} of a list of {})",
                display(at),
                value::size_text(Tag::ArrayList, len)
            ));
        }
    }
    not_found(at)
}

/// Makes a change inside a transaction.
pub fn apply(tx: &mut Transaction<'_>, op: &Op) -> Result<()> {
    match op {
        Op::Put(steps, v) => {
            let Some((last, parent)) = steps.split_last() else {
                return value::write(tx.root(), v);
            };
            let cur = walk(tx.root(), parent, true)?;
            put_last(cur, last, steps, v)
        }
        Op::Remove(steps) => {
            let Some((last, parent)) = steps.split_last() else {
                return Err(CliError::new(
                    "the root cannot be removed (put null or {} there instead)",
                ));
            };
            let cur = walk(tx.root(), parent, false)?;
            remove_last(cur, last, steps)
        }
    }
}

/// Follows `steps` for writing. With `create`, missing map entries are
/// created and empty slots become HashMaps (or an ArrayList for `[]`).
fn walk<'t>(mut cur: CursorMut<'t>, steps: &[Step], create: bool) -> Result<CursorMut<'t>> {
    for (i, s) in steps.iter().enumerate() {
        let at = upto(steps, i);
        let tag = cur.slot()?.tag;
        if !create && step(&cur.read()?, s, at)?.is_none() {
            // checked first: opening an entry would create it
            return Err(not_found(upto(steps, i + 1)));
        }
        cur = match s {
            Step::At(PathStepBuf::Key(k)) => key_cursor(cur, tag, k, at)?,
            Step::At(PathStepBuf::Hash(_)) if is_sorted(tag) => return Err(no_hashes(at, tag)),
            Step::At(PathStepBuf::Hash(h)) => open_map(cur, tag, at)?.into_entry_by_hash(h)?,
            Step::At(PathStepBuf::Index(n)) => index_cursor(cur, tag, *n, upto(steps, i + 1))?,
            Step::Append => append_cursor(cur, tag, at)?,
        };
    }
    Ok(cur)
}

fn not_a(at: &[Step], tag: Tag, want: &str) -> CliError {
    CliError::new(format!(
        "{} is {}, not a {want}",
        display(at),
        value::a_kind(tag)
    ))
}

/// The value under key `k` of the map at `cur` (created when missing; an
/// empty slot becomes a HashMap).
fn key_cursor<'t>(cur: CursorMut<'t>, tag: Tag, k: &[u8], at: &[Step]) -> Result<CursorMut<'t>> {
    if tag == Tag::SortedMap {
        return Ok(cur.sorted_map()?.into_entry(k)?);
    }
    Ok(open_map(cur, tag, at)?.into_entry(k)?)
}

/// Opens the map at `cur` for a key step (an empty slot becomes a HashMap).
fn open_map<'t>(cur: CursorMut<'t>, tag: Tag, at: &[Step]) -> Result<xitdb::MapMut<'t>> {
    Ok(match tag {
        Tag::None | Tag::HashMap => cur.hash_map()?,
        Tag::CountedHashMap => cur.counted_hash_map()?,
        Tag::HashSet | Tag::CountedHashSet | Tag::SortedSet => {
            return Err(CliError::new(format!(
                "{} is {}: its members have no values to go into",
                display(at),
                value::a_kind(tag)
            )))
        }
        t => return Err(not_a(at, t, "map")),
    })
}

/// The item `n` of the list at `cur`; `at` ends with the index step.
fn index_cursor<'t>(cur: CursorMut<'t>, tag: Tag, n: i64, at: &[Step]) -> Result<CursorMut<'t>> {
    let parent = upto(at, at.len().saturating_sub(1));
    let r = match tag {
        Tag::ArrayList => cur.array_list()?.into_cursor(n),
        Tag::LinkedArrayList => cur.linked_array_list()?.into_cursor(n),
        Tag::None => {
            return Err(CliError::new(format!(
                "not found: {} (there is no list at {}; put [] there first)",
                display(at),
                display(parent)
            )))
        }
        t => return Err(not_a(parent, t, "list")),
    };
    r.map_err(|e| match e {
        Error::IndexOutOfRange { index, len } => CliError::new(format!(
            "not found: {} (index {index} of a list of {})",
            display(at),
            value::size_text(Tag::ArrayList, len)
        )),
        e => e.into(),
    })
}

/// A new item at the end of the list at `cur` (an empty slot becomes an ArrayList).
fn append_cursor<'t>(cur: CursorMut<'t>, tag: Tag, at: &[Step]) -> Result<CursorMut<'t>> {
    Ok(match tag {
        Tag::None | Tag::ArrayList => cur.array_list()?.into_append_cursor()?,
        Tag::LinkedArrayList => cur.linked_array_list()?.into_append_cursor()?,
        t => return Err(not_a(at, t, "list")),
    })
}

/// Writes `v` at the last step of a put, below `cur`.
fn put_last(cur: CursorMut<'_>, last: &Step, steps: &[Step], v: &Json) -> Result<()> {
    let parent = upto(steps, steps.len().saturating_sub(1));
    let tag = cur.slot()?.tag;
    if matches!(tag, Tag::HashSet | Tag::CountedHashSet | Tag::SortedSet) {
        if !v.is_null() {
            return Err(CliError::new(format!(
                "{} is {}: add a member with `put {} null`",
                display(parent),
                value::a_kind(tag),
                display(steps)
            )));
        }
        if tag == Tag::SortedSet {
            return match last {
                Step::At(PathStepBuf::Key(k)) => {
                    cur.sorted_set()?.insert(k)?;
                    Ok(())
                }
                Step::At(PathStepBuf::Hash(_)) => Err(no_hashes(parent, tag)),
                _ => Err(not_a(parent, tag, "list")),
            };
        }
        let mut set = if tag == Tag::HashSet {
            cur.hash_set()?
        } else {
            cur.counted_hash_set()?
        };
        match last {
            Step::At(PathStepBuf::Key(k)) => {
                set.insert(k)?;
            }
            Step::At(PathStepBuf::Hash(h)) => {
                set.entry_by_hash(h)?;
            }
            _ => return Err(not_a(parent, tag, "list")),
        }
        return Ok(());
    }
    let target = match last {
        Step::At(PathStepBuf::Key(k)) => key_cursor(cur, tag, k, parent)?,
        Step::At(PathStepBuf::Hash(_)) if is_sorted(tag) => return Err(no_hashes(parent, tag)),
        Step::At(PathStepBuf::Hash(h)) => open_map(cur, tag, parent)?.into_entry_by_hash(h)?,
        Step::At(PathStepBuf::Index(n)) => index_cursor(cur, tag, *n, steps)?,
        Step::Append => append_cursor(cur, tag, parent)?,
    };
    value::write(target, v)
}

/// Removes the entry, member or item at the last step, below `cur`.
fn remove_last(cur: CursorMut<'_>, last: &Step, steps: &[Step]) -> Result<()> {
    let parent = upto(steps, steps.len().saturating_sub(1));
    let tag = cur.slot()?.tag;
    let Step::At(last) = last else {
        return Err(CliError::new(APPEND_ONLY));
    };
    let removed = match (tag, last) {
        (Tag::SortedMap, PathStepBuf::Key(k)) => cur.sorted_map()?.remove(k)?,
        (Tag::SortedSet, PathStepBuf::Key(k)) => cur.sorted_set()?.remove(k)?,
        (Tag::SortedMap | Tag::SortedSet, PathStepBuf::Hash(_)) => {
            return Err(no_hashes(parent, tag))
        }
        (Tag::HashMap | Tag::CountedHashMap, PathStepBuf::Key(k)) => {
            open_map(cur, tag, parent)?.remove(k)?
        }
        (Tag::HashMap | Tag::CountedHashMap, PathStepBuf::Hash(h)) => {
            open_map(cur, tag, parent)?.remove_by_hash(h)?
        }
        (Tag::HashSet, PathStepBuf::Key(k)) => cur.hash_set()?.remove(k)?,
        (Tag::HashSet, PathStepBuf::Hash(h)) => cur.hash_set()?.remove_by_hash(h)?,
        (Tag::CountedHashSet, PathStepBuf::Key(k)) => cur.counted_hash_set()?.remove(k)?,
        (Tag::CountedHashSet, PathStepBuf::Hash(h)) => cur.counted_hash_set()?.remove_by_hash(h)?,
        (Tag::LinkedArrayList, PathStepBuf::Index(n)) => {
            match cur.linked_array_list()?.remove(*n) {
                Ok(()) => true,
                Err(Error::IndexOutOfRange { .. }) => false,
                Err(e) => return Err(e.into()),
            }
        }
        (Tag::ArrayList, PathStepBuf::Index(n)) => drop_last_item(cur, *n, steps)?,
        (Tag::None, _) => false,
        (t, PathStepBuf::Index(_)) => return Err(not_a(parent, t, "list")),
        (t, _) => return Err(not_a(parent, t, "map or set")),
    };
    if removed {
        Ok(())
    } else {
        Err(not_found(steps))
    }
}

/// Removes item `n` of the array_list at `cur`, which must be its last
/// one; false when there is no item `n`.
fn drop_last_item(cur: CursorMut<'_>, n: i64, steps: &[Step]) -> Result<bool> {
    let mut list = cur.array_list()?;
    let len = list.len()?;
    let k = if n < 0 {
        i128::from(len) + i128::from(n)
    } else {
        i128::from(n)
    };
    if k < 0 || k >= i128::from(len) {
        Ok(false)
    } else if k + 1 == i128::from(len) {
        list.truncate(len - 1)?;
        Ok(true)
    } else {
        Err(CliError::new(format!(
            "cannot remove {}: an array_list can only drop its last item \
             (put null there instead, or use a linked_array_list)",
            display(steps)
        )))
    }
}

/// The first `n` steps (all of them when there are fewer).
fn upto(steps: &[Step], n: usize) -> &[Step] {
    steps.get(..n).unwrap_or(steps)
}
