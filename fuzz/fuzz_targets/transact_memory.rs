//! The input is database bytes followed by a short script (its length in
//! the last byte's low 6 bits) that drives a few transactions: puts,
//! removes, appends, inserts, slices, concats, time travel, aborts. No
//! panic, and a transaction that fails leaves every byte as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xitdb::format::Tag;
use xitdb::{Database, Error};
use xitdb_fuzz::{existing_keys, run_ops, Script};

fuzz_target!(|data: &[u8]| {
    let Some((&last, rest)) = data.split_last() else {
        return;
    };
    let t = (last as usize & 0x3f).min(rest.len());
    let (db_bytes, script) = rest.split_at(rest.len() - t);
    let Ok(mut db) = Database::from_bytes(db_bytes.to_vec()) else {
        return;
    };
    let keys = existing_keys(&db);
    // Opening for writing may drop bytes past the last commit; what is
    // left must still open.
    let reopened = Database::from_slice(db.storage().as_bytes()).map(|_| ());
    if !xitdb_fuzz::masked("recovery-reopen") {
        if let Err(e) = &reopened {
            panic!("the bytes a writable open left behind do not reopen: {e:?}");
        }
    }
    let reopens = reopened.is_ok();
    let mut known_bad = !reopens;
    let mut s = Script::new(script);
    for round in 0..4 {
        if round > 0 && s.done() {
            break;
        }
        let before = db.storage().as_bytes().to_vec();
        // (truncate_history(0) can make such a history too)
        known_bad |= xitdb_fuzz::masked("empty-history-ptr")
            && xitdb_fuzz::empty_history_with_odd_root(&before);
        let count = db.moment_count();
        let tag = db.header().tag;
        let kind = s.byte() % 16;
        let (what, r): (&str, Result<(), Error>) = match kind {
            0 => ("revert_to", db.revert_to(s.num())),
            1 => ("truncate_history", db.truncate_history(s.unum())),
            _ if tag.is_hamt() => (
                "transact_root",
                db.transact_root(|tx| run_ops(tx, tag, &mut s, &keys, 6)),
            ),
            _ => (
                "transact",
                db.transact(|tx| run_ops(tx, Tag::HashMap, &mut s, &keys, 6)),
            ),
        };
        match r {
            Err(e) => {
                let after = db.storage().as_bytes();
                assert!(
                    after == &before[..],
                    "a failed {what} changed the bytes ({} -> {} bytes): {e:?}",
                    before.len(),
                    after.len()
                );
            }
            Ok(()) if known_bad => {}
            Ok(()) => {
                if what != "truncate_history" && what != "transact_root" {
                    if let Ok(n) = count {
                        assert_eq!(
                            db.moment_count().ok(),
                            Some(n + 1),
                            "{what} adds one moment"
                        );
                    }
                }
                let bytes = db.storage().as_bytes();
                match Database::from_slice(bytes) {
                    Ok(again) => assert_eq!(
                        again.moment_count().ok(),
                        db.moment_count().ok(),
                        "reopened after {what}"
                    ),
                    Err(e) => panic!("the bytes committed by {what} do not reopen: {e:?}"),
                }
            }
        }
    }
    xitdb_fuzz::full_check(&db);
});
