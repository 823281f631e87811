//! Golden files written by the reference implementation: every one must
//! dump to its JSON byte for byte, and every JSON must load back into a
//! database that dumps to the same text.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;

use std::path::PathBuf;
use xitdb::json::{dump_json, load_json, load_json_with};
use xitdb::{Database, ListFamily, Options};

#[allow(dead_code)]
mod common;
use common::golden_files::{btree_fixtures, fixtures, name};

/// Both golden sets, each with the list family its files were written in.
fn both_sets() -> Vec<(PathBuf, ListFamily)> {
    let old = fixtures().into_iter().map(|p| (p, ListFamily::Rrb));
    let new = btree_fixtures().into_iter().map(|p| (p, ListFamily::BTree));
    old.chain(new).collect()
}

/// Every golden file dumps to its JSON when opened in its family, and when
/// opened without one (the family then inferred from what it holds).
#[test]
fn every_golden_file_dumps_to_its_json() {
    let mut failures = Vec::new();
    for (xdb, family) in both_sets() {
        let expected = fs::read_to_string(xdb.with_extension("json")).unwrap();
        let bytes = fs::read(&xdb).unwrap();
        for given in [Some(family), None] {
            let opts = Options {
                list_family: given,
                ..Options::default()
            };
            let db = Database::from_slice_with(&bytes, opts);
            let got = db.as_ref().map_err(|e| e.to_string()).and_then(|db| {
                let json = dump_json(db).map_err(|e| e.to_string())?;
                // a file that holds a non-empty list learned its family
                Ok((json, db.list_family()))
            });
            match got {
                Ok((j, _)) if j != expected => {
                    failures.push(format!("{} ({given:?}): dump differs", name(&xdb)))
                }
                Ok((_, Some(learned))) if learned != family => {
                    failures.push(format!("{}: inferred {learned:?}", name(&xdb)))
                }
                Ok(_) => {}
                Err(e) => failures.push(format!("{} ({given:?}): {e}", name(&xdb))),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The B-tree golden files that hold linked lists are read as such
/// without being told, from the lists' bytes alone.
#[test]
fn btree_golden_lists_are_inferred_from_their_bytes() {
    for xdb in btree_fixtures() {
        if !name(&xdb).starts_with("linked_list_btree") {
            continue;
        }
        let bytes = fs::read(&xdb).unwrap();
        let db = Database::from_slice(&bytes).unwrap();
        assert_eq!(db.list_family(), None, "{}", name(&xdb));
        dump_json(&db).unwrap();
        assert_eq!(db.list_family(), Some(ListFamily::BTree), "{}", name(&xdb));
    }
}

/// Every golden JSON loads into either family and dumps back to itself.
#[test]
fn every_golden_json_loads_into_either_family() {
    for (xdb, _) in both_sets() {
        let json = fs::read_to_string(xdb.with_extension("json")).unwrap();
        for family in [ListFamily::Rrb, ListFamily::BTree] {
            let store = xitdb::storage::MemoryStorage::new();
            let sorted = json.contains("\"sorted_map\"") || json.contains("\"sorted_set\"");
            if sorted && family == ListFamily::Rrb {
                // only the B-tree family holds sorted collections
                let r = load_json_with(&json, store, family);
                assert!(
                    matches!(r, Err(xitdb::Error::WrongListFamily { .. })),
                    "{}",
                    name(&xdb)
                );
                continue;
            }
            let db = load_json_with(&json, store, family).unwrap();
            assert_eq!(
                dump_json(&db).unwrap(),
                json,
                "{} in {family:?}",
                name(&xdb)
            );
            let bytes = db.into_bytes();
            let reopened = Database::from_slice(&bytes).unwrap();
            assert_eq!(
                dump_json(&reopened).unwrap(),
                json,
                "{} reopened",
                name(&xdb)
            );
            assert!(reopened.verify().unwrap().is_ok(), "{}", name(&xdb));
        }
    }
}

#[test]
fn golden_files_open_as_files_too() {
    // The file backend (memory map) reads the same as the slice backend.
    let dir = tempfile::tempdir().unwrap();
    for (xdb, _) in both_sets() {
        let copy = dir.path().join(xdb.file_name().unwrap());
        fs::copy(&xdb, &copy).unwrap();
        let expected = fs::read_to_string(xdb.with_extension("json")).unwrap();
        let db = Database::open_read_only(&copy).unwrap();
        assert_eq!(dump_json(&db).unwrap(), expected, "{}", name(&xdb));
    }
}

#[test]
fn every_golden_json_loads_back_to_itself() {
    let mut failures = Vec::new();
    for xdb in fixtures() {
        let json = fs::read_to_string(xdb.with_extension("json")).unwrap();
        let got =
            load_json(&json, xitdb::storage::MemoryStorage::new()).and_then(|db| dump_json(&db));
        match got {
            Ok(j) if j == json => {}
            Ok(_) => failures.push(format!("{}: reloaded dump differs", name(&xdb))),
            Err(e) => failures.push(format!("{}: {e}", name(&xdb))),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
