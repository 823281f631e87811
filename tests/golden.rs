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

use xitdb::json::{dump_json, load_json};
use xitdb::Database;

#[allow(dead_code)]
mod common;
use common::golden_files::{fixtures, name};

#[test]
fn every_golden_file_dumps_to_its_json() {
    let mut failures = Vec::new();
    for xdb in fixtures() {
        let expected = fs::read_to_string(xdb.with_extension("json")).unwrap();
        let bytes = fs::read(&xdb).unwrap();
        let got = Database::from_slice(&bytes).and_then(|db| dump_json(&db));
        match got {
            Ok(j) if j == expected => {}
            Ok(_) => failures.push(format!("{}: dump differs", name(&xdb))),
            Err(e) => failures.push(format!("{}: {e}", name(&xdb))),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn golden_files_open_as_files_too() {
    // The file backend (memory map) reads the same as the slice backend.
    let dir = tempfile::tempdir().unwrap();
    for xdb in fixtures() {
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
