//! The input is database bytes followed by a short script (its length in
//! the last byte's low 6 bits) that drives a few transactions: puts,
//! removes, appends, inserts, slices, concats, time travel, aborts. No
//! panic, and a transaction that fails leaves every byte as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xitdb::Options;

fuzz_target!(|data: &[u8]| {
    xitdb_fuzz::transact_script(data, Options::default());
});
