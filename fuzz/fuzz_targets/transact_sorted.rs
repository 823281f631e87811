//! `transact_memory` with the script's operations mostly on sorted maps and
//! sets (puts, removes, bulk puts and removes that split and merge nodes,
//! nested lists, reads by rank, range and prefix), in the B-tree list
//! family. Seeded with upstream's sorted golden files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xitdb::{ListFamily, Options};

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        list_family: Some(ListFamily::BTree),
        ..Options::default()
    };
    xitdb_fuzz::transact_script_with(data, opts, true);
});
