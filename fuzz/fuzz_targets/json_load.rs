//! The input is a JSON document for `load_json` (B-tree lists) and
//! `load_json_with` (RRB lists). A document that loads must dump back to a
//! document that loads to the same dump, and the database it made must
//! verify without a problem.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xitdb::json::{dump_json, load_json, load_json_with};
use xitdb::storage::MemoryStorage;
use xitdb::ListFamily;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loads = [
        load_json(text, MemoryStorage::new()),
        load_json_with(text, MemoryStorage::new(), ListFamily::Rrb),
    ];
    // The B-tree family writes everything the RRB family does, and sorted
    // collections too (which need B-tree lists: `WrongListFamily` in RRB).
    if let [Err(e), Ok(_)] = &loads {
        panic!("the RRB family loads a document that the B-tree family refuses: {e}");
    }
    for (family, db) in [ListFamily::BTree, ListFamily::Rrb].into_iter().zip(loads) {
        let Ok(db) = db else { continue };
        let report = db.verify().expect("verify runs on a loaded database");
        assert!(
            report.problem.is_none(),
            "a loaded database has a problem: {report:?}"
        );
        if xitdb_fuzz::measure(&db) == xitdb_fuzz::Measure::TooBig {
            continue;
        }
        let dump = dump_json(&db).expect("a loaded database dumps");
        let again = load_json_with(&dump, MemoryStorage::new(), family).expect("a dump loads");
        assert_eq!(
            dump_json(&again).expect("dumps again"),
            dump,
            "dump, load, dump"
        );
    }
});
