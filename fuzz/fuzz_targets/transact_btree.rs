//! `transact_memory` in the B-tree list family, given at open: the script's
//! linked-list edits (inserts, removals, slices, concatenations) run on
//! B-tree lists, and the input's own lists are read as B-trees however
//! damaged. Seeded with upstream's B-tree golden files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xitdb::{ListFamily, Options};

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        list_family: Some(ListFamily::BTree),
        ..Options::default()
    };
    xitdb_fuzz::transact_script(data, opts);
});
