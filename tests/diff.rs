//! Diffs between moments: concrete cases, the cost of a diff on a large map
//! (counted in storage reads), hostile bytes, and a model test that replays
//! the changes of random diffs on a plain model of the old moment.

use proptest::prelude::*;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use xitdb::diff::{Change, ChangeKind};
use xitdb::format::Tag;
use xitdb::storage::{MemoryStorage, SharedBytes, Storage};
use xitdb::{diff::diff, Cursor, Database, Error, Options, PathStepBuf, Value, ValueRef};

// ------------------------------------------------------------ a plain model

/// A value read out of the database into std collections.
#[derive(Debug, Clone, PartialEq)]
enum M {
    Null,
    Uint(u64),
    Int(i64),
    /// Bits, so that equality is the diff's equality.
    Float(u64),
    Bytes(Vec<u8>, Option<[u8; 2]>),
    Map(Tag, BTreeMap<Vec<u8>, M>),
    Set(Tag, BTreeSet<Vec<u8>>),
    List(Vec<M>),
    Linked(Vec<M>),
    /// A list item removed by a change (test bookkeeping only).
    Tomb,
}

fn model(c: &Cursor<'_>) -> Result<M, Error> {
    Ok(match c.value()? {
        ValueRef::Null => M::Null,
        ValueRef::Uint(v) => M::Uint(v),
        ValueRef::Int(v) => M::Int(v),
        ValueRef::Float(v) => M::Float(v.to_bits()),
        ValueRef::Bytes { data, format_tag } => M::Bytes(data.into_owned(), format_tag),
        ValueRef::Map(m) => {
            let mut out = BTreeMap::new();
            for e in m.iter() {
                let e = e?;
                out.insert(e.key()?.as_bytes()?.into_owned(), model(&e.value()?)?);
            }
            M::Map(m.kind(), out)
        }
        ValueRef::Set(s) => {
            let mut out = BTreeSet::new();
            for e in s.iter() {
                out.insert(e?.key()?.as_bytes()?.into_owned());
            }
            M::Set(s.kind(), out)
        }
        ValueRef::List(l) => M::List(l.iter().map(|i| model(&i?)).collect::<Result<_, _>>()?),
        ValueRef::LinkedList(l) => {
            M::Linked(l.iter().map(|i| model(&i?)).collect::<Result<_, _>>()?)
        }
        ValueRef::SortedMap(m) => {
            let mut out = BTreeMap::new();
            for e in m.iter()? {
                let e = e?;
                out.insert(e.key()?.into_owned(), model(&e.value()?)?);
            }
            M::Map(Tag::SortedMap, out)
        }
        ValueRef::SortedSet(s) => {
            let mut out = BTreeSet::new();
            for e in s.iter()? {
                out.insert(e?.key()?.into_owned());
            }
            M::Set(Tag::SortedSet, out)
        }
    })
}

/// Applies one change to a model of the old version.
fn apply(root: &mut M, c: &Change<'_>) -> Result<(), String> {
    match (c.kind, c.old.is_some(), c.new.is_some()) {
        (ChangeKind::Added, false, true)
        | (ChangeKind::Removed, true, false)
        | (ChangeKind::Changed, true, true) => {}
        _ => return Err(format!("cursors do not fit the kind: {c:?}")),
    }
    let new = c
        .new
        .as_ref()
        .map(model)
        .transpose()
        .map_err(|e| e.to_string())?;
    let Some((last, parents)) = c.path.split_last() else {
        if c.kind != ChangeKind::Changed {
            return Err(format!("{:?} at the root", c.kind));
        }
        *root = new.ok_or("no new value")?;
        return Ok(());
    };
    let mut at = root;
    for p in parents {
        at = match (at, p) {
            (M::Map(_, m), PathStepBuf::Key(k)) => m.get_mut(k).ok_or(format!("no key {k:?}"))?,
            (M::List(l) | M::Linked(l), PathStepBuf::Index(i)) => {
                l.get_mut(*i as usize).ok_or(format!("no index {i}"))?
            }
            (m, p) => return Err(format!("cannot follow {p:?} into {m:?}")),
        };
    }
    let old_here = |m: Option<&M>| -> Result<(), String> {
        let want = c
            .old
            .as_ref()
            .map(model)
            .transpose()
            .map_err(|e| e.to_string())?;
        if m != want.as_ref() {
            return Err(format!("old value {want:?} but the model has {m:?}"));
        }
        Ok(())
    };
    match (at, last, c.kind) {
        (M::Map(_, m), PathStepBuf::Key(k), kind) => {
            old_here(m.get(k))?;
            match (kind, new) {
                (ChangeKind::Removed, _) => {
                    m.remove(k);
                }
                (_, Some(v)) => {
                    m.insert(k.clone(), v);
                }
                _ => return Err("no new value".into()),
            }
        }
        (M::Set(_, s), PathStepBuf::Key(k), ChangeKind::Added) => {
            if !s.insert(k.clone()) {
                return Err(format!("member {k:?} added twice"));
            }
            if new != Some(M::Bytes(k.clone(), None)) {
                return Err(format!("a set change's cursor is the member: {new:?}"));
            }
        }
        (M::Set(_, s), PathStepBuf::Key(k), ChangeKind::Removed) => {
            if !s.remove(k) {
                return Err(format!("member {k:?} not there"));
            }
        }
        (M::List(l) | M::Linked(l), PathStepBuf::Index(i), kind) => {
            let i = *i as usize;
            match kind {
                ChangeKind::Added => {
                    if i != l.len() {
                        return Err(format!("added index {i} to a list of {}", l.len()));
                    }
                    l.push(new.ok_or("no new value")?);
                }
                ChangeKind::Removed => {
                    old_here(l.get(i))?;
                    *l.get_mut(i).ok_or("removed index out of range")? = M::Tomb;
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

/// Drops the tail items that changes removed.
fn bury(m: &mut M) {
    match m {
        M::Map(_, m) => m.values_mut().for_each(bury),
        M::List(l) | M::Linked(l) => {
            while l.last() == Some(&M::Tomb) {
                l.pop();
            }
            l.iter_mut().for_each(bury);
        }
        _ => {}
    }
}

/// Checks that replaying diff(a, b) on a model of `a` gives the model of `b`.
fn replay<'r>(a: Cursor<'r>, b: Cursor<'r>) -> Result<Vec<Change<'r>>, String> {
    let mut m = model(&a).map_err(|e| e.to_string())?;
    let want = model(&b).map_err(|e| e.to_string())?;
    let changes: Vec<_> = diff(a, b)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    for c in &changes {
        apply(&mut m, c).map_err(|e| format!("{e}\nchanges: {changes:#?}"))?;
    }
    bury(&mut m);
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
type Row = (Vec<PathStepBuf>, ChangeKind, Option<M>, Option<M>);

fn rows(db: &Database, a: i64, b: i64) -> Vec<Row> {
    let changes = replay(db.moment(a).unwrap(), db.moment(b).unwrap()).unwrap();
    changes
        .iter()
        .map(|c| {
            (
                c.path.clone(),
                c.kind,
                c.old.as_ref().map(|v| model(v).unwrap()),
                c.new.as_ref().map(|v| model(v).unwrap()),
            )
        })
        .collect()
}

fn bytes(s: &str) -> M {
    M::Bytes(s.as_bytes().to_vec(), None)
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
            (vec![key("add")], ChangeKind::Added, None, Some(M::Uint(4))),
            (
                vec![key("change")],
                ChangeKind::Changed,
                Some(bytes("old")),
                Some(bytes("new"))
            ),
            (
                vec![key("remove")],
                ChangeKind::Removed,
                Some(M::Uint(3)),
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
            Some(M::Uint(1)),
            Some(M::Uint(100))
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
            Some(M::Uint(3)),
            Some(bytes("three"))
        )
    );
    for (n, r) in got[1..].iter().enumerate() {
        assert_eq!(r.0, vec![key("l"), PathStepBuf::Index(10 + n as i64)]);
        assert_eq!(r.1, ChangeKind::Added);
        assert_eq!(r.3, Some(M::Uint(10 + n as u64)));
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
            Some(M::Uint(2)),
            Some(M::Null)
        )]
    );
    assert_eq!(
        rows(&db, 0, 2),
        vec![(
            vec![key("l"), PathStepBuf::Index(1)],
            ChangeKind::Removed,
            Some(M::Uint(2)),
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
    assert!(d.reads() < 30, "an append read {} times", d.reads());
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
            (Some(M::Map(..)), Some(M::List(_))) => "map->list",
            (Some(M::Uint(_)), Some(M::Bytes(..))) => "uint->bytes",
            (Some(M::Map(Tag::HashMap, _)), Some(M::Map(Tag::CountedHashMap, _))) => "counted",
            (Some(M::Uint(_)), Some(M::Int(_))) => "uint->int",
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

/// Memory storage whose reads all go through `read_at`, counted.
struct Counting {
    inner: MemoryStorage,
    reads: Cell<u64>,
    bytes: Cell<u64>,
}

impl Storage for Counting {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn direct(&self) -> &[u8] {
        &[]
    }
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> xitdb::Result<()> {
        self.reads.set(self.reads.get() + 1);
        self.bytes.set(self.bytes.get() + buf.len() as u64);
        self.inner.read_at(pos, buf)
    }
    fn append(&mut self, data: &[u8]) -> xitdb::Result<()> {
        self.inner.append(data)
    }
    fn write_at(&mut self, pos: u64, data: &[u8]) -> xitdb::Result<()> {
        self.inner.write_at(pos, data)
    }
    fn truncate(&mut self, len: u64) -> xitdb::Result<()> {
        self.inner.truncate(len)
    }
    fn flush(&mut self) -> xitdb::Result<()> {
        self.inner.flush()
    }
    fn sync(&mut self) -> xitdb::Result<()> {
        self.inner.sync()
    }
    fn is_writable(&self) -> bool {
        self.inner.is_writable()
    }
    fn share(&self, len: u64) -> xitdb::Result<SharedBytes> {
        self.inner.share(len)
    }
}

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
    let store = Counting {
        inner: MemoryStorage::from_vec(db.into_bytes()),
        reads: Cell::new(0),
        bytes: Cell::new(0),
    };
    let db = Database::open_storage(store, Options::default()).unwrap();
    let d = db.diff(0, 1).unwrap();
    db.storage().reads.set(0);
    db.storage().bytes.set(0);
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
                Some(M::Uint(4321)),
                Some(M::Uint(0))
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
            Some(M::Uint(9_999)),
            Some(M::Uint(1))
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

#[derive(Debug, Clone)]
enum V {
    Null,
    Uint(u8),
    Int(i8),
    Float(bool),
    Short(u8),
    Long(u8),
    Tagged(u8),
}

impl V {
    fn write(&self, mut c: xitdb::CursorMut<'_>) -> Result<(), Error> {
        match self {
            V::Null => c.write(()),
            V::Uint(v) => c.write(u64::from(*v)),
            V::Int(v) => c.write(i64::from(*v)),
            V::Float(neg) => c.write(if *neg { -0.0 } else { 0.0 }),
            V::Short(v) => c.write(format!("s{v}").as_str()),
            V::Long(v) => c.write(format!("a long string, number {v}").as_str()),
            V::Tagged(v) => c.write(Value::tagged(format!("t{v}").as_bytes(), *b"tg")),
        }
    }
}

fn v() -> impl Strategy<Value = V> {
    prop_oneof![
        Just(V::Null),
        (0u8..4).prop_map(V::Uint),
        (-2i8..2).prop_map(V::Int),
        any::<bool>().prop_map(V::Float),
        (0u8..3).prop_map(V::Short),
        (0u8..3).prop_map(V::Long),
        (0u8..2).prop_map(V::Tagged),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Put(u8, V),
    Remove(u8),
    MapPut(u8, bool, u8, V),
    MapRemove(u8, u8),
    /// root[k] as a map of lists: list `sub` gets v appended
    MapListAppend(u8, u8, V),
    /// root[k] as a list of maps: item i's map gets sub = v (appended if i is past the end)
    ListMapPut(u8, u8, u8, V),
    ListExtend(u8, u16),
    ListPut(u8, u16, V),
    ListTruncate(u8, u16),
    LinkedExtend(u8, u16),
    LinkedInsert(u8, u16, V),
    LinkedRemove(u8, u16),
    LinkedPut(u8, u16, V),
    SetInsert(u8, bool, u8),
    SetRemove(u8, u8),
    Clone(u8, u8),
    /// root[k] as a sorted map: key `i` = v
    SortedPut(u8, u16, V),
    /// root[k] as a sorted map: keys from `i` on, `n` of them, = their number
    SortedExtend(u8, u16, u16),
    SortedRemove(u8, u16),
    /// root[k] as a sorted map of sorted maps: key `i`'s map gets sub = v
    SortedNestedPut(u8, u16, u8, V),
    /// root[k] as a sorted set: members from `i` on, `n` of them
    SortedSetInsert(u8, u16, u16),
    SortedSetRemove(u8, u16),
}

/// A key for an op on one kind of structure: mostly the key that holds
/// that kind (so structures grow and shrink over several moments), else
/// key 4, where every kind replaces every other.
fn key_for(home: u8) -> impl Strategy<Value = u8> {
    prop_oneof![4 => Just(home), 1 => Just(4u8)]
}

fn op() -> impl Strategy<Value = Op> {
    let any_key = 0u8..7;
    let i = any::<u16>();
    prop_oneof![
        1 => (any_key.clone(), v()).prop_map(|(k, v)| Op::Put(k, v)),
        1 => any_key.clone().prop_map(Op::Remove),
        1 => (any_key.clone(), any_key).prop_map(|(a, b)| Op::Clone(a, b)),
        4 => (key_for(0), any::<bool>(), 0u8..6, v()).prop_map(|(k, c, s, v)| Op::MapPut(k, c, s, v)),
        2 => (key_for(0), 0u8..6).prop_map(|(k, s)| Op::MapRemove(k, s)),
        2 => (key_for(0), 0u8..3, v()).prop_map(|(k, s, v)| Op::MapListAppend(k, s, v)),
        3 => (key_for(1), 0u8..4, 0u8..3, v()).prop_map(|(k, i, s, v)| Op::ListMapPut(k, i, s, v)),
        3 => (key_for(1), 0u16..300).prop_map(|(k, n)| Op::ListExtend(k, n)),
        3 => (key_for(1), i, v()).prop_map(|(k, i, v)| Op::ListPut(k, i, v)),
        2 => (key_for(1), i).prop_map(|(k, n)| Op::ListTruncate(k, n)),
        3 => (key_for(2), 0u16..300).prop_map(|(k, n)| Op::LinkedExtend(k, n)),
        3 => (key_for(2), i, v()).prop_map(|(k, i, v)| Op::LinkedInsert(k, i, v)),
        2 => (key_for(2), i).prop_map(|(k, i)| Op::LinkedRemove(k, i)),
        3 => (key_for(2), i, v()).prop_map(|(k, i, v)| Op::LinkedPut(k, i, v)),
        3 => (key_for(3), any::<bool>(), 0u8..6).prop_map(|(k, c, m)| Op::SetInsert(k, c, m)),
        2 => (key_for(3), 0u8..6).prop_map(|(k, m)| Op::SetRemove(k, m)),
        3 => (key_for(5), 0u16..400, v()).prop_map(|(k, i, v)| Op::SortedPut(k, i, v)),
        2 => (key_for(5), 0u16..400, 0u16..300).prop_map(|(k, i, n)| Op::SortedExtend(k, i, n)),
        3 => (key_for(5), 0u16..400).prop_map(|(k, i)| Op::SortedRemove(k, i)),
        2 => (key_for(5), 0u16..400, 0u8..3, v()).prop_map(|(k, i, s, v)| Op::SortedNestedPut(k, i, s, v)),
        2 => (key_for(6), 0u16..400, 0u16..300).prop_map(|(k, i, n)| Op::SortedSetInsert(k, i, n)),
        3 => (key_for(6), 0u16..400).prop_map(|(k, i)| Op::SortedSetRemove(k, i)),
    ]
}

fn name(k: u8) -> String {
    format!("key{k}")
}

/// A sorted key: numbers sort as they print, and wrap so that extends overlap.
fn skey(i: u32) -> String {
    format!("s{:03}", i % 400)
}

/// The entry `k` of the root, holding a structure of kind `tag` (replacing
/// whatever else was there).
fn slot_of<'t>(
    root: &'t mut xitdb::MapMut<'_>,
    k: u8,
    tag: Tag,
) -> Result<xitdb::CursorMut<'t>, Error> {
    let mut c = root.entry(name(k))?;
    if c.slot()?.tag != tag {
        c.write(())?;
    }
    Ok(c)
}

fn run_op(tx: &mut Tx<'_>, op: &Op) -> Result<(), Error> {
    let mut root = tx.root_map()?;
    let map_tag = |counted: bool| {
        if counted {
            Tag::CountedHashMap
        } else {
            Tag::HashMap
        }
    };
    match op {
        Op::Put(k, v) => v.write(root.entry(name(*k))?)?,
        Op::Remove(k) => {
            root.remove(name(*k))?;
        }
        Op::MapPut(k, counted, s, v) => {
            let c = slot_of(&mut root, *k, map_tag(*counted))?;
            let m = if *counted {
                c.counted_hash_map()?
            } else {
                c.hash_map()?
            };
            v.write(m.into_entry(name(*s))?)?;
        }
        Op::MapRemove(k, s) => {
            if root.get(name(*k).as_bytes())?.map(|c| c.tag()) == Some(Tag::HashMap) {
                root.entry(name(*k))?.hash_map()?.remove(name(*s))?;
            }
        }
        Op::MapListAppend(k, s, v) => {
            let m = slot_of(&mut root, *k, Tag::HashMap)?.hash_map()?;
            let mut item = m.into_entry(name(*s))?;
            if item.slot()?.tag != Tag::ArrayList {
                item.write(())?;
            }
            v.write(item.array_list()?.into_append_cursor()?)?;
        }
        Op::ListMapPut(k, i, s, v) => {
            let mut l = slot_of(&mut root, *k, Tag::ArrayList)?.array_list()?;
            let len = l.len()?;
            let mut item = if u64::from(*i) < len {
                l.cursor(i64::from(*i))?
            } else {
                l.append_cursor()?
            };
            if item.slot()?.tag != Tag::HashMap {
                item.write(())?;
            }
            v.write(item.hash_map()?.into_entry(name(*s))?)?;
        }
        Op::ListExtend(k, n) => {
            let mut l = slot_of(&mut root, *k, Tag::ArrayList)?.array_list()?;
            for j in 0..*n {
                l.append(u64::from(j % 7))?;
            }
        }
        Op::ListPut(k, i, v) => {
            let mut l = slot_of(&mut root, *k, Tag::ArrayList)?.array_list()?;
            let len = l.len()?;
            if len > 0 {
                v.write(l.cursor((u64::from(*i) % len) as i64)?)?;
            }
        }
        Op::ListTruncate(k, n) => {
            let mut l = slot_of(&mut root, *k, Tag::ArrayList)?.array_list()?;
            let len = l.len()?;
            l.truncate(u64::from(*n) % (len + 1))?;
        }
        Op::LinkedExtend(k, n) => {
            let mut l = slot_of(&mut root, *k, Tag::LinkedArrayList)?.linked_array_list()?;
            for j in 0..*n {
                l.append(u64::from(j % 5))?;
            }
        }
        Op::LinkedInsert(k, i, v) => {
            let mut l = slot_of(&mut root, *k, Tag::LinkedArrayList)?.linked_array_list()?;
            let len = l.len()?;
            if len > 0 {
                v.write(l.insert_cursor((u64::from(*i) % len) as i64)?)?;
            } else {
                v.write(l.append_cursor()?)?;
            }
        }
        Op::LinkedRemove(k, i) => {
            let mut l = slot_of(&mut root, *k, Tag::LinkedArrayList)?.linked_array_list()?;
            let len = l.len()?;
            if len > 0 {
                l.remove((u64::from(*i) % len) as i64)?;
            }
        }
        Op::LinkedPut(k, i, v) => {
            let mut l = slot_of(&mut root, *k, Tag::LinkedArrayList)?.linked_array_list()?;
            let len = l.len()?;
            if len > 0 {
                v.write(l.cursor((u64::from(*i) % len) as i64)?)?;
            }
        }
        Op::SetInsert(k, counted, m) => {
            let tag = if *counted {
                Tag::CountedHashSet
            } else {
                Tag::HashSet
            };
            let c = slot_of(&mut root, *k, tag)?;
            let mut s = if *counted {
                c.counted_hash_set()?
            } else {
                c.hash_set()?
            };
            s.insert(name(*m))?;
        }
        Op::SetRemove(k, m) => {
            if root.get(name(*k).as_bytes())?.map(|c| c.tag()) == Some(Tag::HashSet) {
                root.entry(name(*k))?.hash_set()?.remove(name(*m))?;
            }
        }
        Op::SortedPut(k, i, v) => {
            let mut m = slot_of(&mut root, *k, Tag::SortedMap)?.sorted_map()?;
            v.write(m.entry(skey(u32::from(*i)))?)?;
        }
        Op::SortedExtend(k, i, n) => {
            let mut m = slot_of(&mut root, *k, Tag::SortedMap)?.sorted_map()?;
            for j in u32::from(*i)..u32::from(*i) + u32::from(*n) {
                m.put(skey(j), u64::from(j))?;
            }
        }
        Op::SortedRemove(k, i) => {
            if root.get(name(*k).as_bytes())?.map(|c| c.tag()) == Some(Tag::SortedMap) {
                root.entry(name(*k))?
                    .sorted_map()?
                    .remove(skey(u32::from(*i)))?;
            }
        }
        Op::SortedNestedPut(k, i, s, v) => {
            let m = slot_of(&mut root, *k, Tag::SortedMap)?.sorted_map()?;
            let mut item = m.into_entry(skey(u32::from(*i)))?;
            if item.slot()?.tag != Tag::SortedMap {
                item.write(())?;
            }
            v.write(item.sorted_map()?.into_entry(name(*s))?)?;
        }
        Op::SortedSetInsert(k, i, n) => {
            let mut set = slot_of(&mut root, *k, Tag::SortedSet)?.sorted_set()?;
            for j in u32::from(*i)..=u32::from(*i) + u32::from(*n) {
                set.insert(skey(j))?;
            }
        }
        Op::SortedSetRemove(k, i) => {
            if root.get(name(*k).as_bytes())?.map(|c| c.tag()) == Some(Tag::SortedSet) {
                root.entry(name(*k))?
                    .sorted_set()?
                    .remove(skey(u32::from(*i)))?;
            }
        }
        Op::Clone(a, b) => {
            let slot = root.get(name(*a).as_bytes())?.map(|c| c.slot());
            if let Some(slot) = slot {
                if slot.tag != Tag::None {
                    tx.freeze();
                    tx.root_map()?.entry(name(*b))?.write_slot(slot)?;
                }
            }
        }
    }
    Ok(())
}

fn check_all_pairs(txs: &[Vec<Op>]) -> Result<(), TestCaseError> {
    let mut db = Database::memory();
    for ops in txs {
        db.transact(|tx| -> Result<(), Error> {
            for op in ops {
                run_op(tx, op)?;
            }
            Ok(())
        })
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    }
    let n = db.moment_count().unwrap() as i64;
    for a in 0..n {
        for b in 0..n {
            replay(db.moment(a).unwrap(), db.moment(b).unwrap())
                .map_err(|e| TestCaseError::fail(format!("moments {a} -> {b}: {e}")))?;
        }
    }
    Ok(())
}

/// `cases` by default; `PROPTEST_CASES` for a longer soak.
fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            cases
        },
        max_shrink_iters: 5_000,
        ..default
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn replaying_a_diff_rebuilds_the_new_moment(
        txs in proptest::collection::vec(proptest::collection::vec(op(), 1..6), 2..6)
    ) {
        check_all_pairs(&txs)?;
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
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
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
