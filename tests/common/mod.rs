//! The test kit, shared by the suites (`mod common;` in each, with
//! `#[allow(dead_code)]` since a suite uses part of it):
//!
//! * [`rng`]: the one small deterministic generator;
//! * [`model`]: the one operation model: ops applied to a transaction and
//!   to std collections and compared, a checker of database values against
//!   the model, and a runner of steps (transactions, aborts, reverts);
//! * [`strategy`]: proptest strategies for the model, and the proptest
//!   configuration that saves failures in `tests/proptest-regressions/`;
//! * [`storage`]: the faulty storage and the counting storage;
//! * [`golden_files`]: the reference's golden files.
//!
//! The counting allocator (`counting_alloc.rs`) is a `#[global_allocator]`,
//! so it is not a module here: a suite that wants it includes it with
//! `#[path = "common/counting_alloc.rs"]`.

pub mod golden_files;
pub mod model;
pub mod rng;
pub mod storage;
pub mod strategy;

/// Concatenates the newest moment's root linked list with itself `times`
/// times, in one transaction (2^times as many items, sharing the blocks).
pub fn double_list(db: &mut xitdb::Database, times: u32) -> Result<(), xitdb::Error> {
    db.transact(|tx| -> Result<(), xitdb::Error> {
        let mut l = tx.root().linked_array_list()?;
        for _ in 0..times {
            let s = l.slot()?;
            l.concat(s)?;
        }
        Ok(())
    })
}
