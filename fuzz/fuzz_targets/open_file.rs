//! The input is written to a file and opened from there: read-only (a
//! memory map), then writable (recovery may truncate bytes past the last
//! commit), then a small transaction if the header allows one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use xitdb::format::Tag;
use xitdb::{Database, Error};

/// One file per fuzzing process, rewritten for every input.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("xitdb-fuzz-open-file-{}.xdb", std::process::id()))
    })
}

fn transact(db: &mut Database<xitdb::storage::FileStorage>, abort: bool) -> Result<(), Error> {
    let tag = db.header().tag;
    if tag.is_hamt() {
        db.transact_root(|tx| {
            let mut m = match tag {
                Tag::CountedHashMap => tx.root().counted_hash_map()?,
                _ => tx.root().hash_map()?,
            };
            m.put("fuzz", 1u64)?;
            m.put("long", "a value longer than eight bytes")?;
            m.entry("l")?.linked_array_list()?.append(2u64)?;
            if abort {
                return Err(Error::InvalidArgument("abort"));
            }
            Ok(())
        })
    } else {
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            m.put("fuzz", 1u64)?;
            m.put("long", "a value longer than eight bytes")?;
            m.entry("list")?.array_list()?.append(3u64)?;
            m.remove("a")?;
            if abort {
                return Err(Error::InvalidArgument("abort"));
            }
            Ok(())
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    if std::fs::write(path, data).is_err() {
        return;
    }
    // Read-only: must read exactly what the same bytes read in memory.
    if let Ok(db) = Database::open_read_only(path) {
        let from_file = xitdb_fuzz::full_check(&db);
        let from_memory = Database::from_slice(data)
            .ok()
            .and_then(|m| xitdb_fuzz::full_check(&m));
        if let (Some(a), Some(b)) = (from_file, from_memory) {
            assert_eq!(a, b, "a file and the same bytes in memory dump differently");
        }
    }
    // Writable: recovery, then a transaction that aborts and one that commits.
    let Ok(mut db) = Database::open(path) else {
        return;
    };
    xitdb_fuzz::walk_db(&db);
    let before = std::fs::read(path).unwrap_or_default();
    // Recovery may drop bytes past the last commit; what is left must open.
    let reopened = Database::open_read_only(path).map(|_| ());
    if !xitdb_fuzz::masked("recovery-reopen") {
        if let Err(e) = &reopened {
            panic!("the file a writable open left behind does not reopen: {e:?}");
        }
    }
    let reopens = reopened.is_ok();
    let known_bad = !reopens
        || (xitdb_fuzz::masked("empty-history-ptr")
            && xitdb_fuzz::empty_history_with_odd_root(&before));
    for abort in [true, false] {
        let count = db.moment_count();
        match transact(&mut db, abort) {
            Err(e) => {
                let after = std::fs::read(path).unwrap_or_default();
                assert!(
                    after == before,
                    "a failed transaction changed the file ({} -> {} bytes): {e}",
                    before.len(),
                    after.len()
                );
            }
            Ok(()) => {
                assert!(!abort);
                if db.header().tag == Tag::ArrayList {
                    if let Ok(n) = count {
                        assert_eq!(
                            db.moment_count().ok(),
                            Some(n + 1),
                            "a commit adds one moment"
                        );
                    }
                }
                xitdb_fuzz::walk_db(&db);
                drop(db);
                if known_bad {
                    return;
                }
                let reopened = Database::open_read_only(path);
                assert!(
                    reopened.is_ok(),
                    "a committed file does not reopen: {:?}",
                    reopened.err()
                );
                return;
            }
        }
    }
});
