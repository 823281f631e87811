//! Transactions and the public API around them: rollback of failed
//! transactions (byte for byte), freeze and cloning, undo and history
//! truncation, streaming byte values, list indexing, root-map databases,
//! paths, unknown hashers, header validation and the default hasher.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use xitdb::format::{HashKind, Tag};
use xitdb::json::dump_json;
use xitdb::storage::MemoryStorage;
use xitdb::{Database, Durability, Error, MapView, Options, PathStep, Transaction, Value};

#[allow(dead_code)]
mod common;
use common::golden_files::path as golden_path;
use common::rng::Rng;

type R = Result<(), Error>;

// ------------------------------------------------------------------ helpers

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(golden_path(name)).unwrap()
}

fn golden_json(name: &str) -> String {
    std::fs::read_to_string(golden_path(name)).unwrap()
}

/// Compares two byte images without printing megabytes on failure.
#[track_caller]
fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    if got == expected {
        return;
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    panic!(
        "{what}: images differ: len {} vs expected {}, first difference at byte {first}",
        got.len(),
        expected.len()
    );
}

/// The error a test callback aborts with, next to library errors.
#[derive(Debug)]
enum TestErr {
    Db(Error),
    Abort,
}

impl From<Error> for TestErr {
    fn from(e: Error) -> Self {
        TestErr::Db(e)
    }
}

fn uint(m: &MapView<'_>, key: &str) -> u64 {
    m.get(key.as_bytes())
        .unwrap()
        .unwrap_or_else(|| panic!("key {key} missing"))
        .as_uint()
        .unwrap()
}

fn text(m: &MapView<'_>, key: &str) -> String {
    m.get(key.as_bytes())
        .unwrap()
        .unwrap_or_else(|| panic!("key {key} missing"))
        .as_str()
        .unwrap()
}

fn strings(m: &MapView<'_>, key: &str) -> Vec<String> {
    m.get(key.as_bytes())
        .unwrap()
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .map(|c| c.unwrap().as_str().unwrap())
        .collect()
}

/// One committed moment `i`: "n" → i, a list that grows by one, a long
/// string, a removal of the key added two moments ago.
fn commit_moment<S: xitdb::storage::Storage>(db: &mut Database<S>, i: u64) {
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put("n", i)?;
        m.put(
            format!("k{i}"),
            format!("value number {i}, long enough").as_str(),
        )?;
        if i >= 2 {
            m.remove(format!("k{}", i - 2))?;
        }
        m.entry("list")?.array_list()?.append(i)?;
        Ok(())
    })
    .unwrap();
}

/// Writes a lot in a transaction: changes to committed structures (which
/// copies them), new structures, long bytes, a streamed value, and
/// optionally more than the file backend buffers (so bytes reach the file).
fn scribble(tx: &mut Transaction<'_>, big: bool) -> R {
    {
        let mut m = tx.root_map()?;
        m.put("n", 999_999u64)?;
        m.put("junk", "a value that is much longer than eight bytes")?;
        m.remove("k0")?;
        m.remove("list-that-is-not-there")?;
        let mut l = m.entry("list")?.array_list()?;
        for i in 0..40u64 {
            l.append(i * 7)?;
        }
        if l.len()? > 0 {
            l.put(0, "overwritten")?;
            l.put(-1, -1i64)?;
        }
        let mut inner = m.entry("nested")?.counted_hash_map()?;
        for i in 0..50u64 {
            inner.put(format!("inner{i}"), i)?;
        }
        let mut ll = m.entry("linked")?.linked_array_list()?;
        for i in 0..20u64 {
            ll.append(i)?;
        }
    }
    let mut m = tx.root_map()?;
    let mut w = m.entry("stream")?.writer()?;
    let chunk = [0xA5u8; 64 * 1024];
    let n = if big { 80 } else { 2 }; // 80 × 64 KiB = 5 MiB
    for _ in 0..n {
        w.write_all(&chunk)?;
    }
    w.finish(Some(*b"zz"))?;
    Ok(())
}

fn failing_tx<S: xitdb::storage::Storage>(db: &mut Database<S>, big: bool) {
    let r = db.transact(|tx| -> Result<(), TestErr> {
        scribble(tx, big)?;
        Err(TestErr::Abort)
    });
    match r {
        Err(TestErr::Abort) => {}
        Err(TestErr::Db(e)) => panic!("the callback failed early: {e}"),
        Ok(()) => panic!("the transaction committed"),
    }
}

// ------------------------------------------------- failed transactions: memory

#[test]
fn failed_first_transaction_leaves_memory_db_identical() {
    let mut db = Database::memory();
    let before = db.storage().as_bytes().to_vec();
    assert_eq!(before.len(), 12);
    failing_tx(&mut db, false);
    assert_same_bytes(db.storage().as_bytes(), &before, "after failed first tx");
    assert_eq!(db.header().tag, Tag::None);
    assert_eq!(db.moment_count().unwrap(), 0);
    // the database still works, and looks as if nothing had happened
    commit_moment(&mut db, 0);
    let mut fresh = Database::memory();
    commit_moment(&mut fresh, 0);
    assert_same_bytes(
        db.storage().as_bytes(),
        fresh.storage().as_bytes(),
        "commit after a failed first tx",
    );
}

#[test]
fn failed_transaction_from_a_library_error_rolls_back() {
    let mut db = Database::memory();
    commit_moment(&mut db, 0);
    let before = db.storage().as_bytes().to_vec();
    let r = db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put(
            "written before the error",
            "a long value, more than 8 bytes",
        )?;
        // "n" holds a uint: opening it as a list is an error
        m.entry("n")?.array_list()?;
        Ok(())
    });
    assert!(matches!(r, Err(Error::UnexpectedTag { .. })), "{r:?}");
    assert_same_bytes(db.storage().as_bytes(), &before, "after library error");
    assert_eq!(db.moment_count().unwrap(), 1);
}

#[test]
fn failed_transactions_at_every_history_size_leave_memory_db_identical() {
    // `with` gets a failed transaction before every commit; `without`
    // never does. They must end byte-identical, and every failure must
    // leave the bytes exactly as they were (including the history's
    // root overflows at 16 and 256 moments and its new leaf blocks).
    let mut with = Database::memory();
    let mut without = Database::memory();
    for i in 0..300u64 {
        let before = with.storage().as_bytes().to_vec();
        failing_tx(&mut with, false);
        assert_same_bytes(with.storage().as_bytes(), &before, "failed tx");
        assert_eq!(with.moment_count().unwrap(), i);
        commit_moment(&mut with, i);
        commit_moment(&mut without, i);
    }
    assert_same_bytes(
        with.storage().as_bytes(),
        without.storage().as_bytes(),
        "history with failures",
    );
    for i in 0..300u64 {
        let m = with.moment(i as i64).unwrap().as_map().unwrap();
        assert_eq!(uint(&m, "n"), i);
        assert_eq!(
            m.get(b"list").unwrap().unwrap().as_list().unwrap().len(),
            i + 1
        );
        assert!(m.get(b"junk").unwrap().is_none());
    }
}

#[test]
fn big_failed_transaction_leaves_memory_db_identical() {
    let mut db = Database::memory();
    for i in 0..17 {
        commit_moment(&mut db, i);
    }
    let before = db.storage().as_bytes().to_vec();
    failing_tx(&mut db, true);
    assert_same_bytes(db.storage().as_bytes(), &before, "after 5 MiB failed tx");
}

#[test]
fn failed_root_map_transactions_leave_memory_db_identical() {
    // first-ever root transaction, on an empty database
    let mut db = Database::memory();
    let before = db.storage().as_bytes().to_vec();
    let r = db.transact_root(|tx| -> Result<(), TestErr> {
        let mut m = tx.root().hash_map()?;
        m.put("a", "a long value, longer than eight")?;
        m.entry("l")?.array_list()?.append(1u64)?;
        Err(TestErr::Abort)
    });
    assert!(matches!(r, Err(TestErr::Abort)));
    assert_same_bytes(db.storage().as_bytes(), &before, "failed first root tx");
    assert_eq!(db.header().tag, Tag::None);

    // a later one
    db.transact_root(|tx| -> R {
        let mut m = tx.root().hash_map()?;
        for i in 0..100u64 {
            m.put(format!("key{i}"), i)?;
        }
        m.entry("l")?.array_list()?.append("x")?;
        Ok(())
    })
    .unwrap();
    for big in [false, true] {
        let before = db.storage().as_bytes().to_vec();
        let r = db.transact_root(|tx| -> Result<(), TestErr> {
            let mut m = tx.root().hash_map()?;
            for i in 0..100u64 {
                m.put(format!("key{i}"), i + 1000)?;
            }
            m.remove("key5")?;
            m.entry("l")?.array_list()?.append("y")?;
            let mut w = m.entry("blob")?.writer()?;
            let n = if big { 5 << 20 } else { 100 };
            w.write_all(&vec![7u8; n]).map_err(Error::from)?;
            w.finish(None)?;
            Err(TestErr::Abort)
        });
        assert!(matches!(r, Err(TestErr::Abort)));
        assert_same_bytes(db.storage().as_bytes(), &before, "failed later root tx");
    }
    let m = db.root().as_map().unwrap();
    assert_eq!(uint(&m, "key5"), 5);
    assert_eq!(uint(&m, "key99"), 99);
    assert!(m.get(b"blob").unwrap().is_none());
}

// --------------------------------------------------- failed transactions: file

#[test]
fn failed_transactions_leave_file_db_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tx.xdb");
    let open = |p: &Path| {
        let mut db = Database::open(p).unwrap();
        db.set_durability(Durability::None);
        db
    };
    // The first-ever transaction (the file holds only its header).
    drop(Database::create(&path).unwrap());
    let before = std::fs::read(&path).unwrap();
    assert_eq!(before.len(), 12);
    {
        let mut db = open(&path);
        failing_tx(&mut db, false);
        assert_eq!(db.len(), 12);
    }
    assert_same_bytes(&std::fs::read(&path).unwrap(), &before, "first tx (file)");

    // Then failures at interesting history sizes; the big ones write more
    // than the file backend buffers, so their bytes reach the file.
    let mut reference = Database::memory();
    let checkpoints = [1u64, 2, 16, 17, 32, 256, 257];
    let mut next = 0u64;
    for &stop in &checkpoints {
        {
            let mut db = open(&path);
            while next < stop {
                commit_moment(&mut db, next);
                commit_moment(&mut reference, next);
                next += 1;
            }
        }
        let before = std::fs::read(&path).unwrap();
        for big in [false, true] {
            {
                let mut db = open(&path);
                let len = db.len();
                failing_tx(&mut db, big);
                assert_eq!(db.len(), len);
                assert_eq!(db.moment_count().unwrap(), stop);
            }
            let after = std::fs::read(&path).unwrap();
            assert_same_bytes(&after, &before, &format!("file, {stop} moments, big {big}"));
        }
    }
    // and the file is what a memory database without failures holds
    assert_same_bytes(
        &std::fs::read(&path).unwrap(),
        reference.storage().as_bytes(),
        "file vs memory",
    );
}

#[test]
fn failed_root_map_transaction_leaves_file_db_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.xdb");
    {
        let mut db = Database::create(&path).unwrap();
        let r = db.transact_root(|tx| -> Result<(), TestErr> {
            tx.root().hash_map()?.put("a", 1u64)?;
            Err(TestErr::Abort)
        });
        assert!(matches!(r, Err(TestErr::Abort)));
    }
    assert_eq!(std::fs::read(&path).unwrap().len(), 12);
    {
        let mut db = Database::open(&path).unwrap();
        db.transact_root(|tx| -> R {
            let mut m = tx.root().counted_hash_map()?;
            for i in 0..20u64 {
                m.put(format!("k{i}"), i)?;
            }
            Ok(())
        })
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    for big in [false, true] {
        {
            let mut db = Database::open(&path).unwrap();
            let r = db.transact_root(|tx| -> Result<(), TestErr> {
                let mut m = tx.root().counted_hash_map()?;
                m.remove("k3")?;
                m.put("k4", "changed, and long enough to be stored apart")?;
                let mut w = m.entry("blob")?.writer()?;
                w.write_all(&vec![1u8; if big { 5 << 20 } else { 10 }])
                    .map_err(Error::from)?;
                w.finish(None)?;
                Err(TestErr::Abort)
            });
            assert!(matches!(r, Err(TestErr::Abort)));
        }
        assert_same_bytes(&std::fs::read(&path).unwrap(), &before, "root tx (file)");
    }
    let db = Database::open_read_only(&path).unwrap();
    let m = db.root().as_map().unwrap();
    assert_eq!(m.count().unwrap(), 20);
    assert_eq!(uint(&m, "k3"), 3);
}

/// A panic inside the callback, caught by the caller: the committed
/// moments stay readable, a later transaction commits, and reopening the
/// bytes shows exactly the committed moments.
fn panic_in_callback_then_commit(committed_before: u64) {
    let mut db = Database::memory();
    for i in 0..committed_before {
        commit_moment(&mut db, i);
    }
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = db.transact(|tx| -> R {
            scribble(tx, false)?;
            panic!("callback panics");
        });
    }));
    assert!(caught.is_err());
    assert_eq!(db.moment_count().unwrap(), committed_before);
    db.transact(|tx| tx.root_map()?.put("after", 1u64))
        .unwrap_or_else(|e| panic!("commit after a panic: {e}"));
    let db = Database::from_bytes(db.into_bytes()).unwrap();
    assert_eq!(db.moment_count().unwrap(), committed_before + 1);
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(uint(&m, "after"), 1);
    assert!(m.get(b"junk").unwrap().is_none());
}

#[test]
fn panicking_callback_after_commits_leaves_database_usable() {
    panic_in_callback_then_commit(3);
    panic_in_callback_then_commit(16);
}

#[test]
fn panicking_first_callback_leaves_database_usable() {
    panic_in_callback_then_commit(0);
}

// ------------------------------------------------ goldens rebuilt by this API

fn sha1_db() -> Database {
    Database::memory_with(HashKind::Sha1)
}

#[test]
fn failed_transaction_golden_is_reproduced() {
    // 36 moments; failures while appending moments 2, 16, 32 and after the last
    let mut db = sha1_db();
    for i in 0..36u64 {
        if [2, 16, 32].contains(&i) {
            failing_tx(&mut db, false);
        }
        db.transact(|tx| -> R {
            let mut m = tx.root_map()?;
            m.put(format!("apple-{i}"), format!("committed {i}").as_str())?;
            m.put("moment", i)
        })
        .unwrap();
    }
    failing_tx(&mut db, false);
    assert_eq!(
        dump_json(&db).unwrap(),
        golden_json("failed_transaction.json")
    );
}

#[test]
fn failed_first_transaction_golden_is_reproduced() {
    let mut db = sha1_db();
    failing_tx(&mut db, false);
    db.transact(|tx| tx.root_map()?.put("visible", "apple"))
        .unwrap();
    assert_eq!(
        dump_json(&db).unwrap(),
        golden_json("failed_first_transaction.json")
    );
}

// ----------------------------------------------------------------- freeze

/// The README example: a list made in this transaction, cloned by writing
/// its slot elsewhere, then the clone is appended to.
fn clone_in_one_transaction(db: &mut Database, freeze: bool) {
    db.transact(|tx| -> R {
        {
            let mut m = tx.root_map()?;
            let mut big = m.entry("big-cities")?.array_list()?;
            big.append("New York, NY")?;
            big.append("Los Angeles, CA")?;
        }
        if freeze {
            tx.freeze();
        }
        let mut m = tx.root_map()?;
        let slot = m.get(b"big-cities")?.unwrap().slot();
        m.entry("cities")?.write_slot(slot)?;
        let mut cities = m.entry("cities")?.array_list()?;
        cities.append("Charleston, SC")?;
        cities.append("Louisville, KY")?;
        Ok(())
    })
    .unwrap();
}

#[test]
fn cloning_in_the_same_transaction_without_freeze_shares_the_list() {
    let mut db = Database::memory();
    clone_in_one_transaction(&mut db, false);
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(strings(&m, "cities").len(), 4);
    assert_eq!(
        strings(&m, "big-cities"),
        strings(&m, "cities"),
        "without freeze the original changes with its clone"
    );
}

#[test]
fn freeze_keeps_a_same_transaction_clone_independent() {
    let mut db = Database::memory();
    clone_in_one_transaction(&mut db, true);
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(
        strings(&m, "big-cities"),
        ["New York, NY", "Los Angeles, CA"]
    );
    assert_eq!(
        strings(&m, "cities"),
        [
            "New York, NY",
            "Los Angeles, CA",
            "Charleston, SC",
            "Louisville, KY"
        ]
    );
}

#[test]
fn freeze_also_protects_maps_and_changes_after_the_clone() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        {
            let mut m = tx.root_map()?;
            let mut inner = m.entry("orig")?.hash_map()?;
            inner.put("a", 1u64)?;
        }
        tx.freeze();
        {
            let mut m = tx.root_map()?;
            let slot = m.get(b"orig")?.unwrap().slot();
            m.entry("copy")?.write_slot(slot)?;
            m.entry("copy")?.hash_map()?.put("b", 2u64)?;
            // and the original changes after the clone, too
            m.entry("orig")?.hash_map()?.put("c", 3u64)?;
        }
        Ok(())
    })
    .unwrap();
    let m = db.moment(-1).unwrap().as_map().unwrap();
    let orig = m.get(b"orig").unwrap().unwrap().as_map().unwrap();
    let copy = m.get(b"copy").unwrap().unwrap().as_map().unwrap();
    assert_eq!(orig.iter().count(), 2);
    assert_eq!(copy.iter().count(), 2);
    assert!(orig.get(b"b").unwrap().is_none());
    assert!(copy.get(b"c").unwrap().is_none());
    assert_eq!(uint(&orig, "a"), 1);
    assert_eq!(uint(&copy, "a"), 1);
}

#[test]
fn cloning_from_an_earlier_moment_never_changes_it() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        let mut fruits = m.entry("fruits")?.array_list()?;
        for f in ["apple", "pear", "grape"] {
            fruits.append(f)?;
        }
        let mut l = m.entry("linked")?.linked_array_list()?;
        for i in 0..40u64 {
            l.append(i)?;
        }
        Ok(())
    })
    .unwrap();
    let moment0 = dump_json(&db).unwrap();
    db.transact(|tx| -> R {
        // clone through the previous moment, not through the new root
        let prev = tx.moment(-1)?.as_map()?;
        let fruits = prev.get(b"fruits")?.unwrap().slot();
        let linked = prev.get(b"linked")?.unwrap().slot();
        let mut m = tx.root_map()?;
        m.entry("food")?.write_slot(fruits)?;
        m.entry("linked2")?.write_slot(linked)?;
        let mut food = m.entry("food")?.array_list()?;
        for f in ["eggs", "rice", "fish"] {
            food.append(f)?;
        }
        food.put(0, "APPLE")?;
        let mut l2 = m.entry("linked2")?.linked_array_list()?;
        l2.append(40u64)?;
        l2.put(3, 333u64)?;
        // the original in the new moment changes too, independently
        m.entry("fruits")?.array_list()?.append("kiwi")?;
        Ok(())
    })
    .unwrap();
    let m0 = db.moment(0).unwrap().as_map().unwrap();
    let m1 = db.moment(1).unwrap().as_map().unwrap();
    assert_eq!(strings(&m0, "fruits"), ["apple", "pear", "grape"]);
    assert_eq!(strings(&m1, "fruits"), ["apple", "pear", "grape", "kiwi"]);
    assert_eq!(
        strings(&m1, "food"),
        ["APPLE", "pear", "grape", "eggs", "rice", "fish"]
    );
    let l0 = m0
        .get(b"linked")
        .unwrap()
        .unwrap()
        .as_linked_list()
        .unwrap();
    assert_eq!(l0.len(), 40);
    assert_eq!(l0.get(3).unwrap().unwrap().as_uint().unwrap(), 3);
    let l2 = m1
        .get(b"linked2")
        .unwrap()
        .unwrap()
        .as_linked_list()
        .unwrap();
    assert_eq!(l2.len(), 41);
    assert_eq!(l2.get(3).unwrap().unwrap().as_uint().unwrap(), 333);
    // moment 0 renders exactly as it did before moment 1 existed
    let only0 = {
        let mut d = Database::from_bytes(db.storage().as_bytes().to_vec()).unwrap();
        d.truncate_history(1).unwrap();
        dump_json(&d).unwrap()
    };
    assert_eq!(only0, moment0);
}

#[test]
fn freeze_golden_is_reproduced() {
    let mut db = sha1_db();
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put("foo", "foo")?;
        let mut fruits = m.entry("fruits")?.array_list()?;
        for f in ["apple", "pear", "grape"] {
            fruits.append(f)?;
        }
        Ok(())
    })
    .unwrap();
    clone_in_one_transaction(&mut db, false);
    db.revert_to(0).unwrap();
    clone_in_one_transaction(&mut db, true);
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        let fruits = m.get(b"fruits")?.unwrap().slot();
        m.entry("food")?.write_slot(fruits)?;
        let mut food = m.entry("food")?.array_list()?;
        for f in ["eggs", "rice", "fish"] {
            food.append(f)?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(dump_json(&db).unwrap(), golden_json("freeze.json"));
}

// ------------------------------------------------------------------- undo

#[test]
fn undo_golden_is_reproduced() {
    let mut db = sha1_db();
    for i in 0..5u64 {
        db.transact(|tx| -> R {
            let mut m = tx.root_map()?;
            m.put(format!("apple-{i}"), i)?;
            m.put("latest", i)
        })
        .unwrap();
    }
    db.revert_to(1).unwrap();
    db.transact(|tx| tx.root_map()?.put("apple-after-undo", 100u64))
        .unwrap();
    db.revert_to(4).unwrap();
    assert_eq!(db.moment_count().unwrap(), 8);
    assert_eq!(dump_json(&db).unwrap(), golden_json("undo.json"));
}

#[test]
fn revert_to_appends_the_old_moment_again() {
    let mut db = Database::memory();
    for i in 0..20 {
        commit_moment(&mut db, i);
    }
    let slot5 = db.moment(5).unwrap().slot();
    let len = db.len();
    db.revert_to(5).unwrap();
    assert_eq!(db.moment_count().unwrap(), 21);
    assert_eq!(db.moment(-1).unwrap().slot(), slot5, "the very same slot");
    // no data copied: at most a history block
    assert!(
        db.len() - len <= 144,
        "revert grew the db by {}",
        db.len() - len
    );
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(uint(&m, "n"), 5);
    // negative indices count from the end (-2 is moment 19 now)
    db.revert_to(-2).unwrap();
    assert_eq!(uint(&db.moment(-1).unwrap().as_map().unwrap(), "n"), 19);
    // the next transaction builds on the reverted state
    commit_moment(&mut db, 100);
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(
        m.get(b"list").unwrap().unwrap().as_list().unwrap().len(),
        21
    );
    // moments that do not exist
    let before = db.storage().as_bytes().to_vec();
    for bad in [23i64, 1000, -24, i64::MIN, i64::MAX] {
        assert!(
            matches!(db.revert_to(bad), Err(Error::NoSuchMoment { .. })),
            "revert_to({bad})"
        );
    }
    assert_same_bytes(db.storage().as_bytes(), &before, "failed reverts");
    assert!(matches!(
        Database::memory().revert_to(0),
        Err(Error::NoSuchMoment { .. })
    ));
}

#[test]
fn truncate_history_drops_moments_and_history_grows_again() {
    let mut db = Database::memory();
    for i in 0..300 {
        commit_moment(&mut db, i);
    }
    assert!(matches!(
        db.truncate_history(301),
        Err(Error::NoSuchMoment { .. })
    ));
    db.truncate_history(300).unwrap();
    assert_eq!(db.moment_count().unwrap(), 300);
    db.truncate_history(257).unwrap();
    assert_eq!(db.moment_count().unwrap(), 257);
    db.truncate_history(10).unwrap(); // the history tree gets shallower
    assert_eq!(db.moment_count().unwrap(), 10);
    assert_eq!(uint(&db.moment(-1).unwrap().as_map().unwrap(), "n"), 9);
    assert!(matches!(db.moment(10), Err(Error::NoSuchMoment { .. })));
    // a failed transaction after truncation still leaves no trace
    let before = db.storage().as_bytes().to_vec();
    failing_tx(&mut db, false);
    assert_same_bytes(
        db.storage().as_bytes(),
        &before,
        "failed tx after truncation",
    );
    // grow again past 16 and 256, over the stale slots
    for i in 10..280 {
        commit_moment(&mut db, 1000 + i);
    }
    let check = |db: &Database| {
        assert_eq!(db.moment_count().unwrap(), 280);
        for i in 0..280u64 {
            let m = db.moment(i as i64).unwrap().as_map().unwrap();
            let n = if i < 10 { i } else { 1000 + i };
            assert_eq!(uint(&m, "n"), n, "moment {i}");
            let l = m.get(b"list").unwrap().unwrap().as_list().unwrap();
            assert_eq!(l.len(), i + 1, "moment {i}");
            assert_eq!(l.get(-1).unwrap().unwrap().as_uint().unwrap(), n);
        }
        assert_eq!(
            db.root().as_list().unwrap().iter().count(),
            280,
            "history iteration"
        );
    };
    check(&db);
    let db = Database::from_bytes(db.into_bytes()).unwrap();
    check(&db);
    // down to nothing
    let mut db = db;
    db.truncate_history(0).unwrap();
    assert_eq!(db.moment_count().unwrap(), 0);
    commit_moment(&mut db, 0);
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(m.get(b"list").unwrap().unwrap().as_list().unwrap().len(), 1);
    // an empty database has nothing to truncate
    let mut empty = Database::memory();
    empty.truncate_history(0).unwrap();
    assert!(matches!(
        empty.truncate_history(1),
        Err(Error::NoSuchMoment { .. })
    ));
}

#[test]
fn truncate_history_of_a_file_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.xdb");
    {
        let mut db = Database::create(&path).unwrap();
        db.set_durability(Durability::None);
        for i in 0..40 {
            commit_moment(&mut db, i);
        }
        db.truncate_history(17).unwrap();
    }
    {
        let mut db = Database::open(&path).unwrap();
        assert_eq!(db.moment_count().unwrap(), 17);
        commit_moment(&mut db, 77);
    }
    let db = Database::open_read_only(&path).unwrap();
    assert_eq!(db.moment_count().unwrap(), 18);
    assert_eq!(uint(&db.moment(-1).unwrap().as_map().unwrap(), "n"), 77);
    assert_eq!(uint(&db.moment(-2).unwrap().as_map().unwrap(), "n"), 16);
}

// ------------------------------------------------------------ byte values

#[test]
fn streaming_a_megabyte_with_seeks_and_patches() {
    const MB: usize = 1 << 20;
    let data = Rng(7).bytes(MB);
    let mut expected = data.clone();
    expected[10..15].copy_from_slice(b"PATCH");
    expected[MB - 3..].copy_from_slice(b"END");
    expected[500_000..500_004].copy_from_slice(b"MID!");

    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        {
            let mut w = m.entry("plain")?.writer()?;
            for chunk in data.chunks(4096 + 7) {
                w.write_all(chunk)?;
            }
            assert_eq!(w.stream_position()?, MB as u64);
            w.seek(SeekFrom::Start(10))?;
            w.write_all(b"PATCH")?;
            w.seek(SeekFrom::End(-3))?;
            w.write_all(b"END")?;
            w.seek(SeekFrom::Current(-(MB as i64) + 500_000))?;
            w.write_all(b"MID!")?;
            assert!(w.seek(SeekFrom::Current(-1_000_000)).is_err());
            w.finish(None)?;
        }
        {
            let mut w = m.entry("tagged")?.writer()?;
            for chunk in data.chunks(65_536) {
                w.write_all(chunk)?;
            }
            w.seek(SeekFrom::Start(10))?;
            w.write_all(b"PATCH")?;
            w.seek(SeekFrom::Start(MB as u64 - 3))?;
            w.write_all(b"END")?;
            w.seek(SeekFrom::Start(500_000))?;
            w.write_all(b"MID!")?;
            w.finish(Some(*b"mb"))?;
        }
        // read back inside the transaction, too
        let c = m.get(b"plain")?.unwrap();
        assert_eq!(&*c.as_bytes()?, &expected[..]);
        Ok(())
    })
    .unwrap();

    let db = Database::from_bytes(db.into_bytes()).unwrap();
    let m = db.moment(-1).unwrap().as_map().unwrap();
    for (key, tag) in [("plain", None), ("tagged", Some(*b"mb"))] {
        let c = m.get(key.as_bytes()).unwrap().unwrap();
        assert_eq!(c.tag(), Tag::Bytes);
        assert_eq!(c.format_tag().unwrap(), tag, "{key}");
        let (bytes, t) = c.bytes_with_format().unwrap();
        assert_eq!(t, tag);
        assert!(bytes[..] == expected[..], "{key}: bytes_with_format");
        assert!(c.as_bytes().unwrap()[..] == expected[..], "{key}: as_bytes");

        // chunked reads
        let mut r = c.reader().unwrap();
        assert_eq!(r.len(), MB as u64);
        let mut got = Vec::with_capacity(MB);
        let mut buf = vec![0u8; 10_007];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == expected, "{key}: chunked read");
        assert_eq!(r.read(&mut buf).unwrap(), 0, "reads stop at the end");

        // seeks
        let mut small = [0u8; 4];
        r.seek(SeekFrom::Start(500_000)).unwrap();
        r.read_exact(&mut small).unwrap();
        assert_eq!(&small, b"MID!");
        r.seek(SeekFrom::Current(-9)).unwrap();
        r.read_exact(&mut small).unwrap();
        assert_eq!(small[..], expected[499_995..499_999]);
        r.seek(SeekFrom::End(-3)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, b"END");
        r.seek(SeekFrom::Start(8)).unwrap();
        let mut seven = [0u8; 7];
        r.read_exact(&mut seven).unwrap();
        assert_eq!(seven[..], expected[8..15]);
        assert!(r.seek(SeekFrom::End(-(MB as i64) - 1)).is_err());
        r.seek(SeekFrom::Start(MB as u64 + 100)).unwrap();
        assert_eq!(r.read(&mut small).unwrap(), 0, "read past the end");
    }
}

#[test]
fn streamed_values_are_long_form_and_gaps_are_zero_filled() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        let mut w = m.entry("three")?.writer()?;
        w.write_all(b"xxx")?;
        w.seek(SeekFrom::Start(0))?;
        w.write_all(b"b")?;
        w.seek(SeekFrom::End(-1))?;
        w.write_all(b"z")?;
        w.seek(SeekFrom::Start(1))?;
        w.write_all(b"a")?;
        w.finish(None)?;

        let mut w = m.entry("gap")?.writer()?;
        w.write_all(b"abc")?;
        w.seek(SeekFrom::Start(6))?;
        w.write_all(b"z")?;
        w.finish(Some(*b"gp"))?;

        let w = m.entry("empty")?.writer()?;
        w.finish(None)?;

        // a writer dropped without finish leaves the slot as it was
        m.put("kept", "old value")?;
        {
            let mut w = m.entry("kept")?.writer()?;
            w.write_all(b"never finished")?;
        }
        Ok(())
    })
    .unwrap();
    let m = db.moment(-1).unwrap().as_map().unwrap();
    let three = m.get(b"three").unwrap().unwrap();
    assert_eq!(
        three.tag(),
        Tag::Bytes,
        "the writer always writes long form"
    );
    assert_eq!(&*three.as_bytes().unwrap(), b"baz");
    let gap = m.get(b"gap").unwrap().unwrap();
    assert_eq!(&*gap.as_bytes().unwrap(), b"abc\0\0\0z");
    assert_eq!(gap.format_tag().unwrap(), Some(*b"gp"));
    let empty = m.get(b"empty").unwrap().unwrap();
    assert_eq!(empty.tag(), Tag::Bytes);
    assert!(empty.as_bytes().unwrap().is_empty());
    assert!(empty.reader().unwrap().is_empty());
    assert_eq!(text(&m, "kept"), "old value");
}

#[test]
fn short_and_long_byte_encodings() {
    // (payload, format tag, expected tag)
    type Case<'a> = (&'a [u8], Option<[u8; 2]>, Tag);
    let cases: Vec<Case<'_>> = vec![
        (b"", None, Tag::ShortBytes),
        (b"a", None, Tag::ShortBytes),
        (b"12345678", None, Tag::ShortBytes),
        (b"123456789", None, Tag::Bytes),
        (b"ab\0c", None, Tag::Bytes),
        (b"\0", None, Tag::Bytes),
        (b"abcdefg\0", None, Tag::Bytes),
        (&[0xff; 8], None, Tag::ShortBytes),
        (b"", Some(*b"ft"), Tag::ShortBytes),
        (b"abcdef", Some(*b"ft"), Tag::ShortBytes),
        (b"abcdefg", Some(*b"ft"), Tag::Bytes),
        (b"12345678", Some(*b"ft"), Tag::Bytes),
        (b"ab\0", Some(*b"ft"), Tag::Bytes),
        (b"abc", Some([0, 0]), Tag::ShortBytes),
        (b"abc", Some([0xff, 0]), Tag::ShortBytes),
        (b"x", Some([0, 0xff]), Tag::ShortBytes),
    ];
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().array_list()?;
        for (data, tag, _) in &cases {
            l.append(Value::Bytes(data, *tag))?;
        }
        Ok(())
    })
    .unwrap();
    let l = db.moment(-1).unwrap().as_list().unwrap();
    assert_eq!(l.len(), cases.len() as u64);
    for (i, (data, tag, kind)) in cases.iter().enumerate() {
        let c = l.get(i as i64).unwrap().unwrap();
        let what = format!("case {i}: {data:?} {tag:?}");
        assert_eq!(c.tag(), *kind, "{what}");
        assert_eq!(c.slot().full, tag.is_some(), "{what}: full flag");
        assert_eq!(&*c.as_bytes().unwrap(), *data, "{what}");
        assert_eq!(c.format_tag().unwrap(), *tag, "{what}");
        let (b, t) = c.bytes_with_format().unwrap();
        assert_eq!((&*b, t), (*data, *tag), "{what}");
        let mut r = c.reader().unwrap();
        assert_eq!(r.len(), data.len() as u64, "{what}");
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, *data, "{what}: reader");
        if let xitdb::ValueRef::Bytes {
            data: d,
            format_tag,
        } = c.value().unwrap()
        {
            assert_eq!((&*d, format_tag), (*data, *tag), "{what}: value()");
        } else {
            panic!("{what}: value() is not bytes");
        }
    }
    // the inline layout: payload verbatim, tag in the last two bytes
    let c = l.get(9).unwrap().unwrap();
    assert_eq!(c.slot().value, u64::from_be_bytes(*b"abcdefft"));
    let c = l.get(2).unwrap().unwrap();
    assert_eq!(c.slot().value, u64::from_be_bytes(*b"12345678"));

    // bytes reads on non-bytes values are errors
    let mut db = Database::memory();
    db.transact(|tx| tx.root_map()?.put("u", 5u64)).unwrap();
    let u = db
        .moment(-1)
        .unwrap()
        .as_map()
        .unwrap()
        .get(b"u")
        .unwrap()
        .unwrap();
    assert!(matches!(u.as_bytes(), Err(Error::UnexpectedTag { .. })));
    assert!(matches!(u.format_tag(), Err(Error::UnexpectedTag { .. })));
    assert!(matches!(u.reader(), Err(Error::UnexpectedTag { .. })));
    assert!(matches!(u.as_str(), Err(Error::UnexpectedTag { .. })));
}

// ---------------------------------------------------------------- indices

#[test]
fn list_indices_negative_and_out_of_range() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        for (key, n) in [("a1", 1u64), ("a16", 16), ("a17", 17), ("a300", 300)] {
            let mut l = m.entry(key)?.array_list()?;
            for i in 0..n {
                l.append(i)?;
            }
            let mut ll = m.entry(format!("l{key}"))?.linked_array_list()?;
            for i in 0..n {
                ll.append(i)?;
            }
        }
        m.entry("empty")?.array_list()?;
        m.entry("lempty")?.linked_array_list()?;
        Ok(())
    })
    .unwrap();

    // reads
    let moment = db.moment(-1).unwrap();
    let m = moment.as_map().unwrap();
    for (key, n) in [("a1", 1i64), ("a16", 16), ("a17", 17), ("a300", 300)] {
        let l = m.get(key.as_bytes()).unwrap().unwrap().as_list().unwrap();
        let ll = m
            .get(format!("l{key}").as_bytes())
            .unwrap()
            .unwrap()
            .as_linked_list()
            .unwrap();
        for i in 0..n {
            let neg = i - n;
            assert_eq!(l.get(neg).unwrap().unwrap().as_uint().unwrap(), i as u64);
            assert_eq!(ll.get(neg).unwrap().unwrap().as_uint().unwrap(), i as u64);
            assert_eq!(l.get(i).unwrap().unwrap().as_uint().unwrap(), i as u64);
        }
        for bad in [n, n + 1, -n - 1, i64::MAX, i64::MIN, -i64::MAX] {
            assert!(l.get(bad).unwrap().is_none(), "{key}[{bad}]");
            assert!(ll.get(bad).unwrap().is_none(), "l{key}[{bad}]");
        }
        let p = moment
            .get_path(&[PathStep::Key(key.as_bytes()), PathStep::Index(-1)])
            .unwrap()
            .unwrap();
        assert_eq!(p.as_uint().unwrap(), (n - 1) as u64);
    }
    for key in ["empty", "lempty"] {
        let c = m.get(key.as_bytes()).unwrap().unwrap();
        for bad in [0i64, -1, 1, i64::MIN] {
            assert!(c.get(PathStep::Index(bad)).unwrap().is_none());
        }
    }

    // writes
    let before = db.storage().as_bytes().to_vec();
    for (key, n) in [("a1", 1i64), ("a17", 17), ("a300", 300), ("empty", 0)] {
        for bad in [n, n + 1, -n - 1, i64::MAX, i64::MIN] {
            let r = db.transact(|tx| -> R {
                let mut m = tx.root_map()?;
                let mut l = m.entry(key)?.array_list()?;
                l.put(bad, 5u64)
            });
            match r {
                Err(Error::IndexOutOfRange { index, len }) => {
                    assert_eq!((index, len), (bad, n as u64), "{key} put({bad})");
                }
                other => panic!("{key} put({bad}): {other:?}"),
            }
            let r = db.transact(|tx| -> R {
                let mut m = tx.root_map()?;
                let mut l = m.entry(format!("l{key}"))?.linked_array_list()?;
                l.put(bad, 5u64)
            });
            assert!(
                matches!(r, Err(Error::IndexOutOfRange { .. })),
                "l{key} put({bad}): {r:?}"
            );
        }
    }
    assert_same_bytes(db.storage().as_bytes(), &before, "out-of-range puts");

    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        let mut l = m.entry("a300")?.array_list()?;
        l.put(-1, "last")?;
        l.put(-300, "first")?;
        l.put(-45, 45u64 * 1000)?;
        assert_eq!(l.get(-1)?.unwrap().as_str()?, "last");
        assert!(l.get(300)?.is_none());
        let mut ll = m.entry("la17")?.linked_array_list()?;
        ll.put(-17, "first")?;
        ll.put(-1, "last")?;
        Ok(())
    })
    .unwrap();
    let m = db.moment(-1).unwrap().as_map().unwrap();
    let l = m.get(b"a300").unwrap().unwrap().as_list().unwrap();
    assert_eq!(l.get(0).unwrap().unwrap().as_str().unwrap(), "first");
    assert_eq!(l.get(299).unwrap().unwrap().as_str().unwrap(), "last");
    assert_eq!(l.get(255).unwrap().unwrap().as_uint().unwrap(), 45_000);
    let ll = m.get(b"la17").unwrap().unwrap().as_linked_list().unwrap();
    assert_eq!(ll.get(0).unwrap().unwrap().as_str().unwrap(), "first");
    assert_eq!(ll.get(16).unwrap().unwrap().as_str().unwrap(), "last");
    // the previous moment is untouched
    let old = db.moment(0).unwrap().as_map().unwrap();
    let l = old.get(b"a300").unwrap().unwrap().as_list().unwrap();
    assert_eq!(l.get(-1).unwrap().unwrap().as_uint().unwrap(), 299);
}

#[test]
fn moment_indices() {
    let mut db = Database::memory();
    assert!(matches!(db.moment(0), Err(Error::NoSuchMoment { .. })));
    assert!(matches!(db.moment(-1), Err(Error::NoSuchMoment { .. })));
    for i in 0..3 {
        commit_moment(&mut db, i);
    }
    assert_eq!(uint(&db.moment(-3).unwrap().as_map().unwrap(), "n"), 0);
    for bad in [3i64, -4, i64::MIN, i64::MAX] {
        assert!(
            matches!(db.moment(bad), Err(Error::NoSuchMoment { index, len: 3 }) if index == bad),
            "moment({bad})"
        );
    }
}

// --------------------------------------------------------------- root maps

#[test]
fn root_map_database_in_memory() {
    let mut db = Database::memory();
    db.transact_root(|tx| -> R {
        let mut m = tx.root().hash_map()?;
        m.put("a", 1u64)?;
        m.put("s", "a string longer than eight bytes")?;
        let mut l = m.entry("list")?.array_list()?;
        l.append("x")?;
        l.append("y")?;
        m.entry("inner")?.hash_map()?.put("deep", -5i64)?;
        Ok(())
    })
    .unwrap();
    assert_eq!(db.header().tag, Tag::HashMap);
    assert_eq!(&db.storage().as_bytes()[3..4], &[Tag::HashMap as u8]);

    let mut db = Database::from_bytes(db.into_bytes()).unwrap();
    {
        let m = db.root().as_map().unwrap();
        assert_eq!(uint(&m, "a"), 1);
        assert_eq!(text(&m, "s"), "a string longer than eight bytes");
        assert_eq!(strings(&m, "list"), ["x", "y"]);
        let deep = db
            .root()
            .get_path(&[PathStep::Key(b"inner"), PathStep::Key(b"deep")])
            .unwrap()
            .unwrap();
        assert_eq!(deep.as_int().unwrap(), -5);
    }

    // a second and third transaction on the reopened bytes
    db.transact_root(|tx| -> R {
        let mut m = tx.root().hash_map()?;
        m.put("a", 2u64)?;
        m.entry("list")?.array_list()?.append("z")?;
        for i in 0..200u64 {
            m.put(format!("k{i}"), i)?;
        }
        Ok(())
    })
    .unwrap();
    db.transact_root(|tx| -> R {
        let mut m = tx.root().hash_map()?;
        assert!(m.remove("s")?);
        assert!(!m.remove("s")?);
        for i in 0..100u64 {
            m.remove(format!("k{i}"))?;
        }
        Ok(())
    })
    .unwrap();
    let db = Database::from_bytes(db.into_bytes()).unwrap();
    let m = db.root().as_map().unwrap();
    assert_eq!(uint(&m, "a"), 2);
    assert!(m.get(b"s").unwrap().is_none());
    assert_eq!(strings(&m, "list"), ["x", "y", "z"]);
    assert!(m.get(b"k99").unwrap().is_none());
    assert_eq!(uint(&m, "k100"), 100);
    assert_eq!(m.iter().count(), 3 + 100);
    // a root map has no history
    assert!(matches!(
        db.moment_count(),
        Err(Error::WrongRoot {
            found: Tag::HashMap
        })
    ));
    assert!(matches!(db.moment(0), Err(Error::WrongRoot { .. })));
    // the JSON dump agrees with a fresh load of itself
    let json = dump_json(&db).unwrap();
    let again = xitdb::json::load_json(&json, MemoryStorage::new()).unwrap();
    assert_eq!(dump_json(&again).unwrap(), json);
}

#[test]
fn root_kind_mismatches_are_refused_without_change() {
    // history transactions on a root map, and the reverse
    let mut db = Database::memory();
    db.transact_root(|tx| tx.root().hash_map()?.put("a", 1u64))
        .unwrap();
    let before = db.storage().as_bytes().to_vec();
    let r = db.transact(|tx| tx.root_map()?.put("b", 2u64));
    assert!(matches!(r, Err(Error::WrongRoot { .. })), "{r:?}");
    assert!(matches!(db.revert_to(0), Err(Error::WrongRoot { .. })));
    // a counted map cannot reopen a plain one
    let r = db.transact_root(|tx| tx.root().counted_hash_map()?.put("b", 2u64));
    assert!(matches!(r, Err(Error::UnexpectedTag { .. })), "{r:?}");
    assert_same_bytes(db.storage().as_bytes(), &before, "refused root txs");

    let mut hist = Database::memory();
    commit_moment(&mut hist, 0);
    let before = hist.storage().as_bytes().to_vec();
    let r = hist.transact_root(|tx| tx.root().hash_map()?.put("b", 2u64));
    assert!(matches!(r, Err(Error::WrongRoot { .. })), "{r:?}");
    assert_same_bytes(hist.storage().as_bytes(), &before, "root tx on a history");

    // lists cannot be the root of a root transaction
    let mut empty = Database::memory();
    let r = empty.transact_root(|tx| tx.root().array_list()?.append(1u64));
    assert!(
        matches!(r, Err(Error::InvalidRoot(Tag::ArrayList))),
        "{r:?}"
    );
    let r = empty.transact_root(|tx| tx.root().linked_array_list()?.append(1u64));
    assert!(r.is_err(), "{r:?}");
    assert_eq!(empty.storage().as_bytes().len(), 12);
    assert_eq!(empty.header().tag, Tag::None);
    // ... while an empty root transaction changes nothing
    empty.transact_root(|_| Ok::<(), Error>(())).unwrap();
    assert_eq!(empty.header().tag, Tag::None);
}

#[test]
fn counted_root_map_and_root_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counted.xdb");
    {
        let mut db = Database::create(&path).unwrap();
        db.transact_root(|tx| -> R {
            let mut m = tx.root().counted_hash_map()?;
            for i in 0..50u64 {
                m.put(format!("k{i}"), i)?;
            }
            m.put("k0", "overwrite does not count")?;
            assert_eq!(m.count()?, 50);
            Ok(())
        })
        .unwrap();
    }
    {
        let mut db = Database::open(&path).unwrap();
        assert_eq!(db.header().tag, Tag::CountedHashMap);
        db.transact_root(|tx| -> R {
            let mut m = tx.root().counted_hash_map()?;
            for i in 0..10u64 {
                assert!(m.remove(format!("k{i}"))?);
            }
            assert!(!m.remove("k0")?);
            Ok(())
        })
        .unwrap();
    }
    let db = Database::open_read_only(&path).unwrap();
    let m = db.root().as_map().unwrap();
    assert_eq!(m.kind(), Tag::CountedHashMap);
    assert_eq!(m.count().unwrap(), 40);
    assert_eq!(m.iter().count(), 40);
    assert_eq!(uint(&m, "k49"), 49);

    let mut set = Database::memory();
    set.transact_root(|tx| -> R {
        let mut s = tx.root().counted_hash_set()?;
        for w in ["a", "b", "c", "a"] {
            s.insert(w)?;
        }
        Ok(())
    })
    .unwrap();
    let set = Database::from_bytes(set.into_bytes()).unwrap();
    assert_eq!(set.header().tag, Tag::CountedHashSet);
    let s = set.root().as_set().unwrap();
    assert_eq!(s.count().unwrap(), 3);
    assert!(s.contains(b"b").unwrap());
    assert!(!s.contains(b"d").unwrap());
}

// ------------------------------------------------------------------- paths

#[test]
fn read_and_write_paths() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut root = tx.root();
        root.reborrow()
            .at_path(&[PathStep::Key(b"p"), PathStep::Key(b"q")])?
            .write(5u64)?;
        {
            let mut m = tx.root_map()?;
            let mut l = m.entry("a")?.array_list()?;
            for i in 0..3u64 {
                l.append_cursor()?.hash_map()?.put("x", i)?;
            }
            let mut ll = m.entry("ll")?.linked_array_list()?;
            ll.append("first")?;
            ll.append("second")?;
            m.put("n", 7u64)?;
            m.entry("c")?.counted_hash_map()?.put("in", 1u64)?;
        }
        let mut root = tx.root();
        root.reborrow()
            .at_path(&[
                PathStep::Key(b"a"),
                PathStep::Index(-1),
                PathStep::Key(b"x"),
            ])?
            .write(20u64)?;
        root.reborrow()
            .at_path(&[PathStep::Key(b"ll"), PathStep::Index(0)])?
            .write("FIRST")?;
        // a Key step into a counted map keeps it counted
        root.reborrow()
            .at_path(&[PathStep::Key(b"c"), PathStep::Key(b"new")])?
            .write(2u64)?;
        // errors: a missing index, an index into a non-list
        let r = root
            .reborrow()
            .at_path(&[PathStep::Key(b"a"), PathStep::Index(3)]);
        assert!(
            matches!(r, Err(Error::PathNotFound { step: 1 })),
            "{:?}",
            r.err()
        );
        let r = root
            .reborrow()
            .at_path(&[PathStep::Key(b"n"), PathStep::Index(0)]);
        assert!(
            matches!(r, Err(Error::PathNotFound { step: 1 })),
            "{:?}",
            r.err()
        );
        let r = root
            .reborrow()
            .at_path(&[PathStep::Key(b"n"), PathStep::Key(b"x")]);
        assert!(r.is_err(), "a key step into a uint");
        Ok(())
    })
    .unwrap();

    let c = db.moment(-1).unwrap();
    let get = |path: &[PathStep<'_>]| c.get_path(path).unwrap();
    assert_eq!(
        get(&[PathStep::Key(b"p"), PathStep::Key(b"q")])
            .unwrap()
            .as_uint()
            .unwrap(),
        5
    );
    let x = |i: i64| {
        get(&[PathStep::Key(b"a"), PathStep::Index(i), PathStep::Key(b"x")])
            .unwrap()
            .as_uint()
            .unwrap()
    };
    assert_eq!((x(0), x(1), x(2), x(-1), x(-3)), (0, 1, 20, 20, 0));
    assert_eq!(
        get(&[PathStep::Key(b"ll"), PathStep::Index(-2)])
            .unwrap()
            .as_str()
            .unwrap(),
        "FIRST"
    );
    let counted = get(&[PathStep::Key(b"c")]).unwrap().as_map().unwrap();
    assert_eq!(counted.kind(), Tag::CountedHashMap);
    assert_eq!(counted.count().unwrap(), 2);
    // missing steps give None
    assert!(get(&[PathStep::Key(b"a"), PathStep::Index(3)]).is_none());
    assert!(get(&[PathStep::Key(b"zz"), PathStep::Index(0)]).is_none());
    assert!(get(&[PathStep::Key(b"p"), PathStep::Key(b"zz")]).is_none());
    // wrong kinds are errors
    assert!(matches!(
        c.get_path(&[PathStep::Key(b"a"), PathStep::Key(b"x")]),
        Err(Error::UnexpectedTag { .. })
    ));
    assert!(matches!(
        c.get_path(&[PathStep::Key(b"n"), PathStep::Index(0)]),
        Err(Error::UnexpectedTag { .. })
    ));
    // the empty path is the cursor itself
    assert_eq!(get(&[]).unwrap().slot(), c.slot());
    // a Hash step is a Key step with the hash computed by the caller
    let h = db.hasher().hash(b"p").unwrap();
    assert_eq!(
        get(&[PathStep::Hash(&h), PathStep::Key(b"q")])
            .unwrap()
            .as_uint()
            .unwrap(),
        5
    );
    let short_hash = [0u8; 3];
    assert!(matches!(
        c.get_path(&[PathStep::Hash(&short_hash)]),
        Err(Error::HashLength { .. })
    ));
}

#[test]
fn write_paths_do_not_touch_earlier_moments() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        tx.root()
            .at_path(&[PathStep::Key(b"a"), PathStep::Key(b"b")])?
            .write(1u64)
    })
    .unwrap();
    db.transact(|tx| -> R {
        tx.root()
            .at_path(&[PathStep::Key(b"a"), PathStep::Key(b"b")])?
            .write(2u64)
    })
    .unwrap();
    let path = [PathStep::Key(b"a"), PathStep::Key(b"b")];
    let v = |i: i64| {
        db.moment(i)
            .unwrap()
            .get_path(&path)
            .unwrap()
            .unwrap()
            .as_uint()
            .unwrap()
    };
    assert_eq!((v(0), v(1)), (1, 2));
}

// ---------------------------------------------------------- unknown hasher

fn zzzz_db_bytes() -> Vec<u8> {
    let mut bytes = golden("hash_map_small.xdb");
    assert_eq!(&bytes[8..12], b"sha1");
    bytes[8..12].copy_from_slice(b"zzzz");
    bytes
}

#[test]
fn unknown_hasher_allows_raw_hash_operations_only() {
    let sha1 = Database::from_bytes(golden("hash_map_small.xdb")).unwrap();
    let mut db = Database::from_bytes(zzzz_db_bytes()).unwrap();
    assert_eq!(db.hasher().kind(), None);
    assert_eq!(db.header().hash_id, *b"zzzz");
    // the dump is the golden dump with another hash_id
    let expected = golden_json("hash_map_small.json").replacen("\"sha1\"", "\"zzzz\"", 1);
    assert_eq!(dump_json(&db).unwrap(), expected);

    {
        let known = sha1.moment(-1).unwrap().as_map().unwrap();
        let m = db.moment(-1).unwrap().as_map().unwrap();
        let mut n = 0;
        for e in m.iter() {
            let e = e.unwrap();
            let hash = e.hash().unwrap();
            assert_eq!(hash.len(), 20);
            let v = m.get_by_hash(&hash).unwrap().unwrap();
            let kv = known.get_by_hash(&hash).unwrap().unwrap();
            assert_eq!(v.slot(), kv.slot());
            if let Ok(key) = e.key().unwrap().as_bytes() {
                assert!(matches!(
                    m.get(&key),
                    Err(Error::UnknownHasher { id, size: 20 }) if id == *b"zzzz"
                ));
                assert!(matches!(
                    m.contains_key(&key),
                    Err(Error::UnknownHasher { .. })
                ));
                assert_eq!(known.get(&key).unwrap().unwrap().slot(), v.slot());
            }
            n += 1;
        }
        assert_eq!(n, 4);
        assert!(matches!(
            db.moment(-1)
                .unwrap()
                .get_path(&[PathStep::Key(b"apple-key-1")]),
            Err(Error::UnknownHasher { .. })
        ));
    }

    // writing by key fails and leaves nothing behind; by hash it works
    let before = db.storage().as_bytes().to_vec();
    let r = db.transact(|tx| tx.root_map()?.put("new", 1u64));
    assert!(matches!(r, Err(Error::UnknownHasher { .. })), "{r:?}");
    assert_same_bytes(db.storage().as_bytes(), &before, "unknown hasher put");
    let hash = [0x42u8; 20];
    db.transact(|tx| tx.root_map()?.put_by_hash(&hash, 9u64))
        .unwrap();
    let r = db.transact(|tx| tx.root_map()?.put_by_hash(&[1u8; 19], 9u64));
    assert!(
        matches!(
            r,
            Err(Error::HashLength {
                expected: 20,
                found: 19
            })
        ),
        "{r:?}"
    );
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(m.get_by_hash(&hash).unwrap().unwrap().as_uint().unwrap(), 9);
    assert!(m
        .entry_by_hash(&hash)
        .unwrap()
        .unwrap()
        .key()
        .unwrap()
        .is_null());
}

#[test]
fn hash_override_restores_key_lookups() {
    let opts = Options {
        hash_override: Some(HashKind::Sha1),
        ..Default::default()
    };
    let mut db = Database::open_storage(MemoryStorage::from_vec(zzzz_db_bytes()), opts).unwrap();
    assert_eq!(db.hasher().kind(), Some(HashKind::Sha1));
    assert_eq!(db.header().hash_id, *b"zzzz", "the header is not rewritten");
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(uint(&m, "apple-key-5"), 5);
    assert_eq!(text(&m, "apple-key-1"), "pear");
    assert!(m.get(b"apple-key-4").unwrap().is_none());
    // and writes by key work
    db.transact(|tx| tx.root_map()?.put("apple-key-1", "plum"))
        .unwrap();
    let db = Database::open_storage(MemoryStorage::from_vec(db.into_bytes()), opts).unwrap();
    assert_eq!(
        text(&db.moment(-1).unwrap().as_map().unwrap(), "apple-key-1"),
        "plum"
    );
    assert_eq!(&db.storage().as_bytes()[8..12], b"zzzz");

    // an override whose size differs from the header's is refused
    let bad = Options {
        hash_override: Some(HashKind::Blake3),
        ..Default::default()
    };
    let r = Database::open_storage(MemoryStorage::from_vec(zzzz_db_bytes()), bad);
    assert!(
        matches!(
            r,
            Err(Error::HashLength {
                expected: 20,
                found: 32
            })
        ),
        "{r:?}"
    );
}

// ------------------------------------------------------- header validation

fn history_bytes() -> Vec<u8> {
    let mut db = Database::memory();
    for i in 0..3 {
        commit_moment(&mut db, i);
    }
    db.into_bytes()
}

#[test]
fn bad_headers_are_refused() {
    let good = history_bytes();
    let mut bad_magic = good.clone();
    bad_magic[0] = b'y';
    assert!(matches!(
        Database::from_bytes(bad_magic.clone()),
        Err(Error::BadMagic { found }) if found == *b"yit"
    ));
    assert!(matches!(
        Database::from_slice(&bad_magic),
        Err(Error::BadMagic { .. })
    ));

    let mut v1 = good.clone();
    v1[4..6].copy_from_slice(&1u16.to_be_bytes());
    assert!(matches!(
        Database::from_bytes(v1.clone()),
        Err(Error::UnsupportedVersion {
            found: 1,
            supported: 0
        })
    ));
    let mut v256 = good.clone();
    v256[4] = 1;
    assert!(matches!(
        Database::from_slice(&v256),
        Err(Error::UnsupportedVersion { found: 256, .. })
    ));

    assert!(matches!(
        Database::from_slice(&good[..5]),
        Err(Error::TooShort { len: 5 })
    ));
    assert!(matches!(
        Database::from_bytes(good[..11].to_vec()),
        Err(Error::TooShort { len: 11 })
    ));
    assert!(matches!(
        Database::from_slice(&[]),
        Err(Error::TooShort { len: 0 })
    ));
    // empty writable storage gets a fresh header instead
    let fresh = Database::from_bytes(Vec::new()).unwrap();
    assert_eq!(fresh.len(), 12);

    let mut bad_tag = good.clone();
    bad_tag[3] = 0x7f;
    assert!(matches!(
        Database::from_slice(&bad_tag),
        Err(Error::InvalidTag { tag: 0x7f, .. })
    ));
    bad_tag[3] = Tag::Uint as u8;
    assert!(matches!(
        Database::from_slice(&bad_tag),
        Err(Error::InvalidRoot(Tag::Uint))
    ));
    bad_tag[3] = Tag::LinkedArrayList as u8;
    assert!(matches!(
        Database::from_slice(&bad_tag),
        Err(Error::InvalidRoot(Tag::LinkedArrayList))
    ));
    let mut zero_hash = good.clone();
    zero_hash[6..8].copy_from_slice(&[0, 0]);
    assert!(matches!(
        Database::from_slice(&zero_hash),
        Err(Error::InvalidHashSize(0))
    ));
    // the padding bit above the root tag is ignored
    let mut padded = good.clone();
    padded[3] |= 0x80;
    let db = Database::from_slice(&padded).unwrap();
    assert_eq!(db.moment_count().unwrap(), 3);
}

#[test]
fn bad_headers_are_refused_for_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = history_bytes();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut bad_magic = good.clone();
    bad_magic[..3].copy_from_slice(b"XIT");
    let p = write("magic.xdb", &bad_magic);
    assert!(matches!(Database::open(&p), Err(Error::BadMagic { .. })));
    assert!(matches!(
        Database::open_read_only(&p),
        Err(Error::BadMagic { .. })
    ));
    assert_eq!(std::fs::read(&p).unwrap(), bad_magic, "left untouched");

    let mut v1 = good.clone();
    v1[5] = 1;
    let p = write("v1.xdb", &v1);
    assert!(matches!(
        Database::open(&p),
        Err(Error::UnsupportedVersion { found: 1, .. })
    ));
    assert_eq!(std::fs::read(&p).unwrap(), v1, "left untouched");

    let p = write("short.xdb", &good[..5]);
    assert!(matches!(
        Database::open(&p),
        Err(Error::TooShort { len: 5 })
    ));
    assert!(matches!(
        Database::open_read_only(&p),
        Err(Error::TooShort { len: 5 })
    ));
    assert_eq!(std::fs::read(&p).unwrap(), &good[..5], "left untouched");

    // a missing file is created by open, but not by open_read_only
    let missing = dir.path().join("missing.xdb");
    assert!(matches!(
        Database::open_read_only(&missing),
        Err(Error::Io(_))
    ));
    let db = Database::open(&missing).unwrap();
    assert_eq!(db.len(), 12);
}

#[test]
fn truncated_database_is_reported() {
    let good = history_bytes();
    let cut = good[..good.len() - 5].to_vec();
    match Database::from_bytes(cut.clone()) {
        Err(Error::Truncated { expected, found }) => {
            assert_eq!((expected, found), (good.len() as u64, cut.len() as u64));
        }
        other => panic!("{other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.xdb");
    std::fs::write(&p, &cut).unwrap();
    assert!(matches!(Database::open(&p), Err(Error::Truncated { .. })));
    assert_eq!(
        std::fs::read(&p).unwrap(),
        cut,
        "a refused open does not extend the file"
    );
    // read-only opens refuse it too (they would read missing data)
    assert!(matches!(
        Database::open_read_only(&p),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        Database::from_slice(&cut),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn junk_after_the_last_commit() {
    let good = history_bytes();
    let mut junk = good.clone();
    junk.extend_from_slice(&Rng(3).bytes(1000));

    // memory: a writable open cuts it, a read-only open keeps it
    let db = Database::from_bytes(junk.clone()).unwrap();
    assert_eq!(db.len(), good.len() as u64);
    assert_same_bytes(&db.into_bytes(), &good, "writable open");
    let ro = Database::from_slice(&junk).unwrap();
    assert_eq!(ro.len(), junk.len() as u64);
    assert_eq!(ro.moment_count().unwrap(), 3);
    assert_eq!(
        dump_json(&ro).unwrap(),
        dump_json(&Database::from_slice(&good).unwrap()).unwrap()
    );

    // files: the same
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.xdb");
    std::fs::write(&p, &junk).unwrap();
    {
        let ro = Database::open_read_only(&p).unwrap();
        assert_eq!(ro.moment_count().unwrap(), 3);
    }
    assert_eq!(
        std::fs::read(&p).unwrap(),
        junk,
        "read-only open keeps junk"
    );
    {
        let mut db = Database::open(&p).unwrap();
        assert_eq!(db.len(), good.len() as u64);
        // the recovery is synced, and a synced writer keeps zeros ahead of
        // its end (cut off when it closes)
        let on_disk = std::fs::read(&p).unwrap();
        let (data, ahead) = on_disk.split_at(good.len().min(on_disk.len()));
        assert_same_bytes(data, &good, "writable open (file)");
        assert!(ahead.iter().all(|&b| b == 0), "only zeros past the data");
        // and the next commit lands where the junk was
        commit_moment(&mut db, 3);
    }
    assert_eq!(
        std::fs::metadata(&p).unwrap().len(),
        Database::open_read_only(&p).unwrap().len(),
        "a closed writer leaves no zeros behind"
    );
    let db = Database::open_read_only(&p).unwrap();
    assert_eq!(db.moment_count().unwrap(), 4);

    // junk after a header-only database is cut as well
    let mut header_junk = Database::memory().into_bytes();
    header_junk.extend_from_slice(b"junk junk junk");
    let p = dir.path().join("empty-junk.xdb");
    std::fs::write(&p, &header_junk).unwrap();
    drop(Database::open(&p).unwrap());
    assert_eq!(std::fs::read(&p).unwrap().len(), 12);
    let mut db = Database::from_bytes(header_junk).unwrap();
    assert_eq!(db.len(), 12);
    commit_moment(&mut db, 0);
}

// ------------------------------------------------------------------ hashers

#[test]
fn blake3_is_the_default_hasher() {
    let db = Database::memory();
    assert_eq!(db.header().hash_id, *b"blk3");
    assert_eq!(db.header().hash_size, 32);
    assert_eq!(&db.storage().as_bytes()[..12], b"xit\0\0\0\0\x20blk3");
    assert_eq!(db.hasher().kind(), Some(HashKind::Blake3));

    let sha = Database::memory_with(HashKind::Sha1);
    assert_eq!(&sha.storage().as_bytes()[..12], b"xit\0\0\0\0\x14sha1");

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.xdb");
    let mut db = Database::create(&p).unwrap();
    commit_moment(&mut db, 0);
    drop(db);
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..3], b"xit");
    assert_eq!(&bytes[6..12], b"\0\x20blk3");
    let p2 = dir.path().join("s.xdb");
    let opts = Options {
        hash: HashKind::Sha1,
        ..Default::default()
    };
    let mut db = Database::create_with(&p2, opts).unwrap();
    commit_moment(&mut db, 0);
    drop(db);
    assert_eq!(&std::fs::read(&p2).unwrap()[6..12], b"\0\x14sha1");

    // stored key hashes have the header's size, and SHA-1 is SHA-1
    let mut sha = Database::memory_with(HashKind::Sha1);
    sha.transact(|tx| tx.root_map()?.put("foo", "bar")).unwrap();
    let m = sha.moment(-1).unwrap().as_map().unwrap();
    let e = m.iter().next().unwrap().unwrap();
    assert_eq!(
        &*e.hash().unwrap(),
        &[
            0x0b, 0xee, 0xc7, 0xb5, 0xea, 0x3f, 0x0f, 0xdb, 0xc9, 0x5d, 0x0d, 0xd4, 0x7f, 0x3c,
            0x5b, 0xc2, 0x75, 0xda, 0x8a, 0x33
        ]
    );
    let mut b3 = Database::memory();
    b3.transact(|tx| tx.root_map()?.put("foo", "bar")).unwrap();
    let m = b3.moment(-1).unwrap().as_map().unwrap();
    let e = m.iter().next().unwrap().unwrap();
    assert_eq!(e.hash().unwrap().len(), 32);
    assert_eq!(&*e.hash().unwrap(), &*b3.hasher().hash(b"foo").unwrap());
    assert_eq!(text(&m, "foo"), "bar");
}

#[test]
fn existing_databases_keep_their_hasher() {
    // the hasher in Options is for new databases only
    let opts = Options {
        hash: HashKind::Blake3,
        ..Default::default()
    };
    let db = Database::open_storage(MemoryStorage::from_vec(golden("hash_map_small.xdb")), opts)
        .unwrap();
    assert_eq!(db.hasher().kind(), Some(HashKind::Sha1));
    assert_eq!(
        text(&db.moment(-1).unwrap().as_map().unwrap(), "apple-key-1"),
        "pear"
    );
    let mut b3 = Database::memory();
    commit_moment(&mut b3, 0);
    let sha_opts = Options {
        hash: HashKind::Sha1,
        ..Default::default()
    };
    let db = Database::open_storage(MemoryStorage::from_vec(b3.into_bytes()), sha_opts).unwrap();
    assert_eq!(db.hasher().kind(), Some(HashKind::Blake3));
    assert_eq!(uint(&db.moment(-1).unwrap().as_map().unwrap(), "n"), 0);
}
