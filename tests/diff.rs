//! Diffs between moments: concrete cases, the cost of a diff on a large map
//! (counted in storage reads), hostile bytes, and a model test that replays
//! the changes of random diffs on a model of the old moment (the test
//! kit's `MV`, read back from the database).
//!
//! Failing cases of the model test are saved in
//! `tests/proptest-regressions/diff.txt` and replayed first by later runs;
//! commit that file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use xitdb::diff::{Change, ChangeKind};
use xitdb::format::HashKind;
use xitdb::storage::MemoryStorage;
use xitdb::{diff::diff, Cursor, Database, Error, Options, PathStepBuf, Value};

#[allow(dead_code)]
mod common;
use common::model::{read, Checker, Data, Op, Run, Step, MV};
use common::rng::Rng;
use common::storage::CountingStorage;
use common::strategy::{cases, few_scalars, idx, op_with};

// ------------------------------------------------------------ replaying

/// List items removed by changes, by the path of their list: they are cut
/// off once every change is applied (removals are the tail of a list).
type Removed = BTreeMap<Vec<PathStepBuf>, BTreeSet<usize>>;

/// The value at `path` in `root`.
fn at_path<'m>(root: &'m mut MV, path: &[PathStepBuf]) -> Result<&'m mut MV, String> {
    let mut at = root;
    for p in path {
        at = match (at, p) {
            (MV::Map(_, m), PathStepBuf::Key(k)) => {
                Rc::make_mut(m).get_mut(k).ok_or(format!("no key {k:?}"))?
            }
            (MV::List(l) | MV::Linked(l), PathStepBuf::Index(i)) => Rc::make_mut(l)
                .get_mut(*i as usize)
                .ok_or(format!("no index {i}"))?,
            (m, p) => return Err(format!("cannot follow {p:?} into {m:?}")),
        };
    }
    Ok(at)
}

/// What a change's cursor reads, in the model's types.
fn value(c: &Option<Cursor<'_>>) -> Result<Option<MV>, String> {
    c.as_ref().map(read).transpose().map_err(|e| e.to_string())
}

/// Applies one change to a model of the old version.
fn apply(root: &mut MV, c: &Change<'_>, removed: &mut Removed) -> Result<(), String> {
    match (c.kind, c.old.is_some(), c.new.is_some()) {
        (ChangeKind::Added, false, true)
        | (ChangeKind::Removed, true, false)
        | (ChangeKind::Changed, true, true) => {}
        _ => return Err(format!("cursors do not fit the kind: {c:?}")),
    }
    let new = value(&c.new)?;
    let Some((last, parents)) = c.path.split_last() else {
        if c.kind != ChangeKind::Changed {
            return Err(format!("{:?} at the root", c.kind));
        }
        *root = new.ok_or("no new value")?;
        return Ok(());
    };
    let old = value(&c.old)?;
    let old_here = |m: Option<&MV>| -> Result<(), String> {
        if m != old.as_ref() {
            return Err(format!("old value {old:?} but the model has {m:?}"));
        }
        Ok(())
    };
    match (at_path(root, parents)?, last, c.kind) {
        (MV::Map(_, m), PathStepBuf::Key(k), kind) => {
            let m = Rc::make_mut(m);
            old_here(m.get(k))?;
            match (kind, new) {
                (ChangeKind::Removed, _) => drop(m.remove(k)),
                (_, Some(v)) => drop(m.insert(k.clone(), v)),
                _ => return Err("no new value".into()),
            }
        }
        (MV::Set(_, s), PathStepBuf::Key(k), ChangeKind::Added) => {
            if !Rc::make_mut(s).insert(k.clone()) {
                return Err(format!("member {k:?} added twice"));
            }
            if new != Some(MV::Bytes(Data::Inline(k.clone()), None)) {
                return Err(format!("a set change's cursor is the member: {new:?}"));
            }
        }
        (MV::Set(_, s), PathStepBuf::Key(k), ChangeKind::Removed) => {
            if !Rc::make_mut(s).remove(k) {
                return Err(format!("member {k:?} not there"));
            }
        }
        (MV::List(l) | MV::Linked(l), PathStepBuf::Index(i), kind) => {
            let (l, i) = (Rc::make_mut(l), *i as usize);
            let gone = removed.entry(parents.to_vec()).or_default();
            if gone.contains(&i) {
                return Err(format!("index {i} changes again after its removal"));
            }
            match kind {
                ChangeKind::Added if i != l.len() => {
                    return Err(format!("added index {i} to a list of {}", l.len()));
                }
                ChangeKind::Added => l.push(new.ok_or("no new value")?),
                ChangeKind::Removed => {
                    old_here(l.get(i))?;
                    gone.insert(i);
                }
                ChangeKind::Changed => {
                    old_here(l.get(i))?;
                    *l.get_mut(i).ok_or("changed index out of range")? = new.ok_or("no new")?;
                }
            }
        }
        (m, p, kind) => return Err(format!("{kind:?} at {p:?} in {m:?}")),
    }
    Ok(())
}

/// Cuts off the list items that changes removed: the tail of each list.
fn bury(root: &mut MV, removed: Removed) -> Result<(), String> {
    for (path, mut gone) in removed.into_iter().rev() {
        let (MV::List(l) | MV::Linked(l)) = at_path(root, &path)? else {
            return Err(format!("no list at {path:?}"));
        };
        let l = Rc::make_mut(l);
        while l
            .len()
            .checked_sub(1)
            .is_some_and(|last| gone.remove(&last))
        {
            l.pop();
        }
        if !gone.is_empty() {
            return Err(format!(
                "items {gone:?} removed from the middle of {path:?}"
            ));
        }
    }
    Ok(())
}

/// Checks that replaying diff(a, b) on a model of `a` gives the model of `b`.
fn replay<'r>(a: Cursor<'r>, b: Cursor<'r>) -> Result<Vec<Change<'r>>, String> {
    let mut m = read(&a).map_err(|e| e.to_string())?;
    let want = read(&b).map_err(|e| e.to_string())?;
    let changes: Vec<_> = diff(a, b)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut removed = Removed::new();
    for c in &changes {
        apply(&mut m, c, &mut removed).map_err(|e| format!("{e}\nchanges: {changes:#?}"))?;
    }
    bury(&mut m, removed).map_err(|e| format!("{e}\nchanges: {changes:#?}"))?;
    if m != want {
        return Err(format!(
            "replayed {m:?}\nwanted   {want:?}\nchanges: {changes:#?}"
        ));
    }
    Ok(changes)
}

// ------------------------------------------------------------ helpers

fn key(k: &str) -> PathStepBuf {
    PathStepBuf::Key(k.as_bytes().to_vec())
}

/// (path, kind, old, new) of every change from moment `a` to moment `b`,
/// after checking that the changes replay.
type Row = (Vec<PathStepBuf>, ChangeKind, Option<MV>, Option<MV>);

fn rows(db: &Database, a: i64, b: i64) -> Vec<Row> {
    let changes = replay(db.moment(a).unwrap(), db.moment(b).unwrap()).unwrap();
    changes
        .iter()
        .map(|c| {
            (
                c.path.clone(),
                c.kind,
                c.old.as_ref().map(|v| read(v).unwrap()),
                c.new.as_ref().map(|v| read(v).unwrap()),
            )
        })
        .collect()
}

fn bytes(s: &str) -> MV {
    MV::Bytes(Data::Inline(s.as_bytes().to_vec()), None)
}

type Tx<'a> = xitdb::Transaction<'a>;

fn commit(db: &mut Database, f: impl FnOnce(&mut Tx<'_>) -> Result<(), Error>) {
    db.transact(f).unwrap();
}

// ------------------------------------------------------------ concrete cases

#[test]
fn map_add_remove_change() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut m = tx.root_map()?;
        m.put("keep", 1u64)?;
        m.put("change", "old")?;
        m.put("remove", 3u64)
    });
    commit(&mut db, |tx| {
        let mut m = tx.root_map()?;
        m.put("change", "new")?;
        m.remove("remove")?;
        m.put("add", 4u64)
    });
    let mut got = rows(&db, 0, 1);
    got.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        got,
        vec![
            (vec![key("add")], ChangeKind::Added, None, Some(MV::Uint(4))),
            (
                vec![key("change")],
                ChangeKind::Changed,
                Some(bytes("old")),
                Some(bytes("new"))
            ),
            (
                vec![key("remove")],
                ChangeKind::Removed,
                Some(MV::Uint(3)),
                None
            ),
        ]
    );
    // and backwards
    let back = rows(&db, 1, 0);
    assert_eq!(back.len(), 3);
    assert!(back
        .iter()
        .any(|r| r.0 == vec![key("add")] && r.1 == ChangeKind::Removed));
    // a moment against itself: nothing, and nothing read
    let mut d = db.diff(1, 1).unwrap();
    assert!(d.next().is_none());
    assert_eq!(d.reads(), 0);
}

#[test]
fn identical_moments_after_revert_read_nothing() {
    let mut db = Database::memory();
    commit(&mut db, |tx| tx.root_map()?.put("a", 1u64));
    commit(&mut db, |tx| tx.root_map()?.put("a", 2u64));
    db.revert_to(0).unwrap();
    let mut d = db.diff(0, 2).unwrap();
    assert!(d.next().is_none());
    assert_eq!(d.reads(), 0);
    assert_eq!(rows(&db, 1, 2).len(), 1);
}

#[test]
fn many_keys_colliding_in_the_trie() {
    // enough keys that tries have several levels; changes at every level
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut m = tx.root_map()?;
        for i in 0..2000u64 {
            m.put(format!("k{i}"), i)?;
        }
        Ok(())
    });
    commit(&mut db, |tx| {
        let mut m = tx.root_map()?;
        for i in (0..2000u64).step_by(7) {
            m.remove(format!("k{i}"))?;
        }
        for i in (0..2000u64).step_by(11) {
            m.put(format!("k{i}"), i + 1)?;
        }
        for i in 2000..2100u64 {
            m.put(format!("k{i}"), i)?;
        }
        Ok(())
    });
    let got = rows(&db, 0, 1);
    let count = |k| got.iter().filter(|r| r.1 == k).count();
    let removed = (0..2000).step_by(7).filter(|i| i % 11 != 0).count();
    let changed = (0..2000).step_by(11).count(); // removed then put back too
    assert_eq!(count(ChangeKind::Removed), removed);
    assert_eq!(count(ChangeKind::Changed), changed);
    assert_eq!(count(ChangeKind::Added), 100);
    // an empty map against a full one: every key
    commit(&mut db, |tx| tx.root().write(()));
    commit(&mut db, |tx| tx.root_map().map(|_| ()));
    let all = rows(&db, -1, 1);
    assert_eq!(all.len(), 2000 - removed + 100);
    assert!(all.iter().all(|r| r.1 == ChangeKind::Added));
}

#[test]
fn nested_map_in_map_in_list() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        let mut l = root.entry("l")?.array_list()?;
        for i in 0..3u64 {
            let mut m = l.append_cursor()?.hash_map()?;
            let mut inner = m.entry("inner")?.hash_map()?;
            inner.put("v", i)?;
            inner.put("w", "same")?;
        }
        Ok(())
    });
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        let l = root.entry("l")?.array_list()?;
        let m = l.into_cursor(1)?.hash_map()?;
        m.into_entry("inner")?.hash_map()?.put("v", 100u64)
    });
    assert_eq!(
        rows(&db, 0, 1),
        vec![(
            vec![key("l"), PathStepBuf::Index(1), key("inner"), key("v")],
            ChangeKind::Changed,
            Some(MV::Uint(1)),
            Some(MV::Uint(100))
        )]
    );
    // diffing two structures rather than two moments
    let (a, b) = (db.moment(0).unwrap(), db.moment(1).unwrap());
    let path = [xitdb::PathStep::Key(b"l"), xitdb::PathStep::Index(1)];
    let (ia, ib) = (
        a.get_path(&path).unwrap().unwrap(),
        b.get_path(&path).unwrap().unwrap(),
    );
    let changes: Vec<_> = diff(ia, ib).collect::<Result<_, _>>().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, vec![key("inner"), key("v")]);
}

#[test]
fn sets_report_members() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        let mut s = root.entry("s")?.hash_set()?;
        s.insert("a")?;
        s.insert("b")?;
        let mut c = root.entry("c")?.counted_hash_set()?;
        c.insert("x").map(|_| ())
    });
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        let mut s = root.entry("s")?.hash_set()?;
        s.remove("a")?;
        s.insert("c")?;
        s.insert("b")?; // already there: no change
        let mut c = root.entry("c")?.counted_hash_set()?;
        c.insert("y").map(|_| ())
    });
    let mut got = rows(&db, 0, 1);
    got.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        got,
        vec![
            (
                vec![key("c"), key("y")],
                ChangeKind::Added,
                None,
                Some(bytes("y"))
            ),
            (
                vec![key("s"), key("a")],
                ChangeKind::Removed,
                Some(bytes("a")),
                None
            ),
            (
                vec![key("s"), key("c")],
                ChangeKind::Added,
                None,
                Some(bytes("c"))
            ),
        ]
    );
}

#[test]
fn array_list_growth_and_shrink() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut l = tx.root_map()?.into_entry("l")?.array_list()?;
        for i in 0..10u64 {
            l.append(i)?;
        }
        Ok(())
    });
    // grow across two tree levels (10 -> 300 items)
    commit(&mut db, |tx| {
        let mut l = tx.root_map()?.into_entry("l")?.array_list()?;
        for i in 10..300u64 {
            l.append(i)?;
        }
        l.put(3, "three")
    });
    let got = rows(&db, 0, 1);
    assert_eq!(got.len(), 291);
    assert_eq!(
        got[0],
        (
            vec![key("l"), PathStepBuf::Index(3)],
            ChangeKind::Changed,
            Some(MV::Uint(3)),
            Some(bytes("three"))
        )
    );
    for (n, r) in got[1..].iter().enumerate() {
        assert_eq!(r.0, vec![key("l"), PathStepBuf::Index(10 + n as i64)]);
        assert_eq!(r.1, ChangeKind::Added);
        assert_eq!(r.3, Some(MV::Uint(10 + n as u64)));
    }
    // shrink: the truncated list keeps stale items in its blocks
    commit(&mut db, |tx| {
        tx.root_map()?.into_entry("l")?.array_list()?.truncate(20)
    });
    let got = rows(&db, 1, 2);
    assert_eq!(got.len(), 280);
    assert!(got.iter().all(|r| r.1 == ChangeKind::Removed));
    assert_eq!(got[0].0, vec![key("l"), PathStepBuf::Index(20)]);
    // grow again over the stale items: every new item is reported
    commit(&mut db, |tx| {
        let mut l = tx.root_map()?.into_entry("l")?.array_list()?;
        for i in 20..40u64 {
            l.append(i)?; // the same values as before the truncation
        }
        Ok(())
    });
    assert_eq!(rows(&db, 2, 3).len(), 20);
    assert!(rows(&db, 1, 3).iter().all(|r| r.1 == ChangeKind::Removed));
    assert_eq!(rows(&db, 1, 3).len(), 260);
    // the shorter list against the longer one whose leftmost subtree it is
    assert_eq!(rows(&db, 2, 1).len(), 280);
}

#[test]
fn null_items_are_values() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut l = tx.root_map()?.into_entry("l")?.array_list()?;
        l.append(1u64)?;
        l.append(2u64)
    });
    commit(&mut db, |tx| {
        tx.root_map()?.into_entry("l")?.array_list()?.put(1, ())
    });
    commit(&mut db, |tx| {
        tx.root_map()?.into_entry("l")?.array_list()?.truncate(1)
    });
    assert_eq!(
        rows(&db, 0, 1),
        vec![(
            vec![key("l"), PathStepBuf::Index(1)],
            ChangeKind::Changed,
            Some(MV::Uint(2)),
            Some(MV::Null)
        )]
    );
    assert_eq!(
        rows(&db, 0, 2),
        vec![(
            vec![key("l"), PathStepBuf::Index(1)],
            ChangeKind::Removed,
            Some(MV::Uint(2)),
            None
        )]
    );
}

#[test]
fn linked_list_append_and_insert() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut l = tx.root_map()?.into_entry("l")?.linked_array_list()?;
        for i in 0..1000u64 {
            l.append(i)?;
        }
        Ok(())
    });
    commit(&mut db, |tx| {
        tx.root_map()?
            .into_entry("l")?
            .linked_array_list()?
            .append(1000u64)
    });
    // an append: one change, and the shared subtrees are skipped
    let mut d = db.diff(0, 1).unwrap();
    let c = d.next().unwrap().unwrap();
    assert_eq!(c.path, vec![key("l"), PathStepBuf::Index(1000)]);
    assert_eq!(c.kind, ChangeKind::Added);
    assert!(d.next().is_none());
    println!("appending to a 1,000-item linked list: {} reads", d.reads());
    // the B-tree streams skip one shared child at a time: at most the
    // children of the root and of each node on the changed path (16 per
    // level, 3 levels), a few reads each; a walk item by item reads >1,000
    assert!(d.reads() < 200, "an append read {} times", d.reads());
    // an overwrite in the middle: one change
    commit(&mut db, |tx| {
        tx.root_map()?
            .into_entry("l")?
            .linked_array_list()?
            .put(500, "x")
    });
    let got = rows(&db, 1, 2);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, vec![key("l"), PathStepBuf::Index(500)]);
    // an insert shifts every later index
    commit(&mut db, |tx| {
        tx.root_map()?
            .into_entry("l")?
            .linked_array_list()?
            .insert(990, "ins")
    });
    let got = rows(&db, 2, 3);
    assert_eq!(got.len(), 12);
    assert_eq!(got[0].1, ChangeKind::Changed);
    assert_eq!(got[0].3, Some(bytes("ins")));
    assert_eq!(got[11].0, vec![key("l"), PathStepBuf::Index(1001)]);
    assert_eq!(got[11].1, ChangeKind::Added);
    // a removal at the front: every index changes, the last is removed
    commit(&mut db, |tx| {
        tx.root_map()?
            .into_entry("l")?
            .linked_array_list()?
            .remove(0)
    });
    let got = rows(&db, 3, 4);
    assert_eq!(got.len(), 1002);
    assert!(got[..1001].iter().all(|r| r.1 == ChangeKind::Changed));
    assert_eq!(got[1001].1, ChangeKind::Removed);
}

#[test]
fn tag_changes_are_one_change() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        root.entry("m")?.hash_map()?.put("x", 1u64)?;
        root.put("u", 1u64)?;
        root.entry("c")?.hash_map()?.put("x", 1u64)?;
        root.put("i", 1u64)
    });
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        root.put("m", ())?;
        root.entry("m")?.array_list()?.append(1u64)?;
        root.put("u", "1")?;
        root.put("c", ())?;
        root.entry("c")?.counted_hash_map()?.put("x", 1u64)?;
        root.put("i", 1i64)
    });
    let got = rows(&db, 0, 1);
    assert_eq!(got.len(), 4);
    assert!(got
        .iter()
        .all(|r| r.1 == ChangeKind::Changed && r.0.len() == 1));
    let kinds: BTreeSet<_> = got
        .iter()
        .map(|r| match (&r.2, &r.3) {
            (Some(MV::Map(..)), Some(MV::List(_))) => "map->list",
            (Some(MV::Uint(_)), Some(MV::Bytes(..))) => "uint->bytes",
            (Some(MV::Map(false, _)), Some(MV::Map(true, _))) => "counted",
            (Some(MV::Uint(_)), Some(MV::Int(_))) => "uint->int",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds.len(), 4, "{got:?}");
}

#[test]
fn bytes_compare_by_content() {
    let long = "a string too long to be stored inline";
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        root.put("long", long)?;
        root.put("short", "abc")?;
        root.put("tagged", Value::tagged(b"abc", *b"ft"))?;
        root.put("big", vec![7u8; 20_000].as_slice())
    });
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        root.put("long", long)?; // equal content, a new block
        let mut w = root.entry("short")?.writer()?; // long form, same content
        std::io::Write::write_all(&mut w, b"abc")?;
        w.finish(None)?;
        root.put("tagged", Value::tagged(b"abc", *b"fu"))?; // another format tag
        let mut big = vec![7u8; 20_000];
        big[19_999] = 8; // differs in the last chunk
        root.put("big", big.as_slice())
    });
    let got = rows(&db, 0, 1);
    let paths: BTreeSet<_> = got.iter().map(|r| r.0.clone()).collect();
    assert_eq!(paths, [vec![key("tagged")], vec![key("big")]].into());
    commit(&mut db, |tx| {
        tx.root_map()?.put("big", vec![7u8; 20_000].as_slice())
    });
    // equal again, in a third block
    assert!(rows(&db, 0, 2)
        .iter()
        .all(|r| r.0 == vec![key("tagged")] && r.1 == ChangeKind::Changed));
}

#[test]
fn entries_stored_by_hash_are_named_by_hash() {
    let mut db = Database::memory();
    let h = [5u8; 32];
    commit(&mut db, |tx| tx.root_map()?.put_by_hash(&h, 1u64));
    commit(&mut db, |tx| tx.root_map()?.put_by_hash(&h, 2u64));
    let changes: Vec<_> = db.diff(0, 1).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, vec![PathStepBuf::Hash(h.to_vec())]);
}

#[test]
fn root_of_another_kind() {
    let mut db = Database::memory();
    commit(&mut db, |tx| tx.root_map()?.put("a", 1u64));
    commit(&mut db, |tx| {
        tx.root().write(())?;
        tx.root().array_list()?.append(1u64)
    });
    let got = rows(&db, 0, 1);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0.len(), got[0].1), (0, ChangeKind::Changed));
}

// ------------------------------------------------------------ cost

/// Builds a map of `n` entries, then changes one key in a second moment;
/// returns the storage reads and bytes of the diff between the two.
fn diff_cost(n: u64) -> (u64, u64) {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut m = tx.root_map()?;
        for i in 0..n {
            m.put(i.to_be_bytes(), i)?;
        }
        Ok(())
    });
    commit(&mut db, |tx| {
        tx.root_map()?.put((n / 3).to_be_bytes(), 0u64)
    });
    let store = CountingStorage::new(MemoryStorage::from_vec(db.into_bytes()));
    let db = Database::open_storage(store, Options::default()).unwrap();
    let d = db.diff(0, 1).unwrap();
    db.storage().reset();
    let changes: Vec<_> = d.collect::<Result<_, _>>().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].path,
        vec![PathStepBuf::Key((n / 3).to_be_bytes().to_vec())]
    );
    assert_eq!(changes[0].old.unwrap().as_uint().unwrap(), n / 3);
    assert_eq!(changes[0].new.unwrap().as_uint().unwrap(), 0);
    let s = db.storage();
    (s.reads.get(), s.bytes.get())
}

#[test]
fn a_one_key_diff_of_a_million_entries_reads_one_path() {
    let (small_reads, small_bytes) = diff_cost(1_000);
    let (reads, bytes) = diff_cost(1_000_000);
    println!("1,000 entries: {small_reads} reads, {small_bytes} bytes");
    println!("1,000,000 entries: {reads} reads, {bytes} bytes");
    // one root-to-leaf path per side (a trie of 1,000,000 keys is about 6
    // levels deep), the two records' hashes and values, and the key
    assert!(reads <= 24, "{reads} reads");
    assert!(bytes <= 24 * 144, "{bytes} bytes");
    // a thousand times the entries, only a few more levels
    assert!(reads <= small_reads + 8, "{small_reads} then {reads} reads");
}

#[test]
fn a_one_key_change_in_a_large_sorted_map() {
    let n = 10_000u64;
    let k = |i: u64| format!("k{i:06}");
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut m = tx.root_map()?.into_entry("sorted")?.sorted_map()?;
        for i in 0..n {
            m.put(k(i), i)?;
        }
        let mut s = tx.root_map()?.into_entry("set")?.sorted_set()?;
        for i in 0..n {
            s.insert(k(i))?;
        }
        Ok(())
    });
    commit(&mut db, |tx| {
        tx.root_map()?
            .into_entry("sorted")?
            .sorted_map()?
            .put(k(4321), 0u64)?;
        let mut s = tx.root_map()?.into_entry("set")?.sorted_set()?;
        s.remove(k(17))?;
        s.insert("k004321x").map(|_| ())
    });
    let sorted = |tail: &str| vec![key("sorted"), key(tail)];
    let set = |tail: &str| vec![key("set"), key(tail)];
    let mut got = rows(&db, 0, 1);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            (
                set("k000017"),
                ChangeKind::Removed,
                Some(bytes("k000017")),
                None
            ),
            (
                set("k004321x"),
                ChangeKind::Added,
                None,
                Some(bytes("k004321x"))
            ),
            (
                sorted("k004321"),
                ChangeKind::Changed,
                Some(MV::Uint(4321)),
                Some(MV::Uint(0))
            ),
        ]
    );
    // the shared parts of the trees are skipped, not read entry by entry
    // (a few reads per node beside the paths to the three changes)
    let mut d = db.diff(0, 1).unwrap();
    assert_eq!(d.by_ref().count(), 3);
    assert!(d.reads() < 1_000, "{} reads", d.reads());
    // and against a separately built copy, every key is compared
    let mut db2 = Database::memory();
    commit(&mut db2, |tx| {
        let mut m = tx.root().sorted_map()?;
        for i in 0..n {
            m.put(k(i), i)?;
        }
        Ok(())
    });
    commit(&mut db2, |tx| {
        tx.root().write(())?;
        let mut m = tx.root().sorted_map()?;
        for i in (0..n).rev() {
            m.put(k(i), if i == 9_999 { 1 } else { i })?;
        }
        Ok(())
    });
    assert_eq!(
        rows(&db2, 0, 1),
        vec![(
            vec![key("k009999")],
            ChangeKind::Changed,
            Some(MV::Uint(9_999)),
            Some(MV::Uint(1))
        )]
    );
}

// ------------------------------------------------------------ hostile bytes

#[test]
fn corrupt_bytes_never_panic() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        root.put("a", 1u64)?;
        root.put("long", "a long enough string value")?;
        let mut l = root.entry("l")?.array_list()?;
        for i in 0..20u64 {
            l.append(i)?;
        }
        let mut k = root.entry("k")?.linked_array_list()?;
        for i in 0..20u64 {
            k.append(i)?;
        }
        root.entry("s")?.hash_set()?.insert("m").map(|_| ())
    });
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        root.put("a", 2u64)?;
        root.put("long", "another long enough string")?;
        root.entry("l")?.array_list()?.put(17, 0u64)?;
        root.entry("k")?.linked_array_list()?.insert(3, 0u64)?;
        root.entry("s")?.hash_set()?.insert("n").map(|_| ())
    });
    let bytes = db.into_bytes();
    let mut seen_errors = 0;
    for pos in 0..bytes.len() {
        for flip in [0xffu8, 0x01, 0x80] {
            let mut b = bytes.clone();
            b[pos] ^= flip;
            let Ok(db) = Database::from_slice(&b) else {
                continue;
            };
            let Ok(d) = db.diff(0, 1) else { continue };
            for c in d.take(10_000) {
                if c.is_err() {
                    seen_errors += 1;
                }
            }
        }
    }
    assert!(seen_errors > 0);
}

#[test]
fn cycles_end_in_an_error() {
    // moment 0: {"m": {"x": 1}}, moment 1: {"m": {"x": 2}}; then both "x"
    // values are pointed at their own map: a map containing itself
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        tx.root_map()?.into_entry("m")?.hash_map()?.put("x", 1u64)
    });
    commit(&mut db, |tx| {
        tx.root_map()?.into_entry("m")?.hash_map()?.put("x", 2u64)
    });
    let mut spots = Vec::new();
    for i in 0..2 {
        let m = db
            .moment(i)
            .unwrap()
            .as_map()
            .unwrap()
            .get(b"m")
            .unwrap()
            .unwrap();
        let x = m.as_map().unwrap().get(b"x").unwrap().unwrap();
        spots.push((x.position().unwrap(), m.slot()));
    }
    let mut bytes = db.into_bytes();
    for (pos, slot) in spots {
        let pos = pos as usize;
        bytes[pos..pos + 9].copy_from_slice(&slot.encode());
    }
    let db = Database::from_slice(&bytes).unwrap();
    let out: Vec<_> = db.diff(0, 1).unwrap().collect();
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0], Err(Error::TooDeep { .. })), "{out:?}");

    // a small work limit stops a walk that finds nothing
    let d = db.diff(0, 1).unwrap().with_work_limit(10);
    let out: Vec<_> = d.collect();
    assert!(matches!(out[..], [Err(Error::Corrupt { .. })]), "{out:?}");
}

// ------------------------------------------------------------ model test

/// Histories of the kit's operations for diffs: few values (a diff reports
/// only what changed), often on the name where kinds replace each other,
/// lists often grown by hundreds of items (trees of several levels);
/// commits, aborts and reverts.
fn history() -> impl Strategy<Value = Vec<Step>> {
    let name = prop_oneof![2 => 0usize..2, 1 => Just(2usize)].boxed();
    let grow =
        (name.clone(), 0usize..300, 0u64..3, any::<bool>()).prop_map(|(list, n, first, linked)| {
            match linked {
                true => Op::LinkedAppendMany { list, n, first },
                false => Op::ListAppendMany { list, n, first },
            }
        });
    let op = prop_oneof![4 => op_with(HashKind::Blake3, few_scalars(), name), 1 => grow];
    let step = prop_oneof![
        4 => vec(op.clone(), 1..6).prop_map(Step::Commit),
        1 => vec(op, 1..6).prop_map(Step::Abort),
        1 => idx().prop_map(Step::Revert),
    ];
    vec(step, 2..6)
}

/// Runs the steps (checking each moment against the kit's model), then
/// replays the diff between every two moments.
fn check_all_pairs(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut db = Database::memory_with(HashKind::Blake3);
    let mut snaps = Vec::new();
    Run::memory(&mut db, steps, &mut snaps, &Checker::new(HashKind::Blake3))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let n = db.moment_count().unwrap() as i64;
    for a in 0..n {
        for b in 0..n {
            replay(db.moment(a).unwrap(), db.moment(b).unwrap())
                .map_err(|e| TestCaseError::fail(format!("moments {a} -> {b}: {e}")))?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 5_000, ..cases(file!(), 128) })]

    #[test]
    fn replaying_a_diff_rebuilds_the_new_moment(steps in history()) {
        check_all_pairs(&steps)?;
    }
}

/// A longer run of random damage to a larger database:
/// `cargo test --release --test diff -- --ignored`.
#[test]
#[ignore]
fn soak_damaged_databases() {
    let mut db = Database::memory();
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        for i in 0..40u64 {
            root.put(format!("k{i}"), i)?;
        }
        let mut l = root.entry("l")?.array_list()?;
        for i in 0..300u64 {
            l.append(i)?;
        }
        let mut k = root.entry("k")?.linked_array_list()?;
        for i in 0..300u64 {
            k.append(i)?;
        }
        let mut m = root.entry("m")?.hash_map()?;
        m.entry("n")?
            .hash_map()?
            .put("x", "a long string value here")?;
        root.entry("s")?.counted_hash_set()?.insert("m").map(|_| ())
    });
    commit(&mut db, |tx| {
        let mut root = tx.root_map()?;
        root.put("k3", 2u64)?;
        root.remove("k5")?;
        root.entry("l")?.array_list()?.put(170, 0u64)?;
        root.entry("l")?.array_list()?.truncate(200)?;
        root.entry("k")?.linked_array_list()?.insert(3, 0u64)?;
        root.entry("m")?
            .hash_map()?
            .entry("n")?
            .hash_map()?
            .put("x", "another long string value")?;
        root.entry("s")?.counted_hash_set()?.insert("n").map(|_| ())
    });
    let bytes = db.into_bytes();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut rnd = || rng.next();
    let mut errs = 0;
    for _ in 0..30_000 {
        let mut b = bytes.clone();
        for _ in 0..(1 + rnd() % 4) {
            let p = (rnd() % b.len() as u64) as usize;
            b[p] = rnd() as u8;
        }
        let Ok(db) = Database::from_slice(&b) else {
            continue;
        };
        for (a, c) in [(0, 1), (1, 0)] {
            let Ok(d) = db.diff(a, c) else { continue };
            for ch in d.take(100_000) {
                if ch.is_err() {
                    errs += 1;
                }
            }
        }
    }
    assert!(errs > 0);
}
