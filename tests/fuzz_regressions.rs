//! Inputs the fuzzers (fuzz/) once broke the library with, replayed through
//! a fixed sequence of operations: opening, walking, committing, truncating
//! the history and undoing must give errors or whole databases, never a
//! panic, and what a writable open or a commit leaves behind must reopen.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use xitdb::json::dump_json;
use xitdb::{Database, Error};

fn cases() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-regressions");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Every prefix a fuzz input could have used as database bytes (the
/// fuzz target splits a script off the end).
fn images(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    (0..=64.min(input.len())).map(move |t| &input[..input.len() - t])
}

fn reopens(db: &Database, what: &str, name: &str) {
    let bytes = db.storage().as_bytes();
    let again = Database::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{name}: bytes left by {what} do not reopen: {e:?}"));
    assert_eq!(
        again.moment_count().ok(),
        db.moment_count().ok(),
        "{name}: reopened after {what}"
    );
}

fn step(
    db: &mut Database,
    what: &str,
    name: &str,
    f: impl FnOnce(&mut Database) -> Result<(), Error>,
) {
    let before = db.storage().as_bytes().to_vec();
    match f(db) {
        Ok(()) => reopens(db, what, name),
        Err(_) => assert_eq!(
            db.storage().as_bytes(),
            &before[..],
            "{name}: a failed {what} changed bytes"
        ),
    }
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let cases = cases();
    assert!(!cases.is_empty(), "regression inputs are present");
    for (name, input) in &cases {
        for image in images(input) {
            let _ =
                Database::from_slice(image).map(|db| (dump_json(&db).is_ok(), db.verify().is_ok()));
            let Ok(mut db) = Database::from_bytes(image.to_vec()) else {
                continue;
            };
            reopens(&db, "a writable open", name);
            let root_map = db.header().tag.is_hamt();
            step(&mut db, "a commit", name, |db| {
                if root_map {
                    db.transact_root(|tx| {
                        let tag = tx.root().slot()?.tag;
                        match tag {
                            xitdb::format::Tag::CountedHashMap => {
                                tx.root().counted_hash_map()?.put("k", 1u64)
                            }
                            xitdb::format::Tag::HashSet => {
                                tx.root().hash_set()?.insert("k").map(|_| ())
                            }
                            xitdb::format::Tag::CountedHashSet => {
                                tx.root().counted_hash_set()?.insert("k").map(|_| ())
                            }
                            _ => tx.root().hash_map()?.put("k", 1u64),
                        }
                    })
                } else {
                    db.transact(|tx| tx.root_map()?.put("k", 1u64))
                }
            });
            step(&mut db, "truncate_history(0)", name, |db| {
                db.truncate_history(0)
            });
            step(&mut db, "a commit after truncation", name, |db| {
                db.transact(|tx| tx.root().write(7u64))
            });
            step(&mut db, "revert_to(0)", name, |db| db.revert_to(0));
            let _ = dump_json(&db);
            let _ = db.verify();
        }
    }
}
