//! The input is the bytes of a database, opened in place (`from_slice`)
//! and walked: the canonical JSON dump (when the expanded tree is small
//! enough to dump), `verify`, and a bounded walk of every moment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xitdb::format::HashKind;
use xitdb::storage::SliceStorage;
use xitdb::{Database, Options};

fuzz_target!(|data: &[u8]| {
    let Ok(db) = Database::from_slice(data) else {
        return;
    };
    xitdb_fuzz::full_check(&db);
    // A header naming an unknown hash algorithm: force one of the right size.
    if db.hasher().kind().is_none() {
        for kind in [HashKind::Sha1, HashKind::Blake3] {
            let opts = Options {
                hash_override: Some(kind),
                ..Options::default()
            };
            if let Ok(db) = Database::open_storage(SliceStorage::new(data), opts) {
                xitdb_fuzz::full_check(&db);
            }
        }
    }
});
