//! Setup shared by the bench files (`mod common;` in each of them).
//!
//! The fixtures follow the standard workloads (../shared/bench/WORKLOADS.md,
//! `peers/src/bin/workloads.rs`): keys are `key(i)`, the 8-byte big-endian `i`;
//! hashes are SHA-1 of `key(i)`; values are `uint i`; random choices come
//! from the same xorshift64* generator. So a figure here can be read next to
//! the workload of the same shape (W1 map, W3 history, W4 list, W8 linked list).

// Each bench file is its own crate and uses only part of this module.
#![allow(dead_code)]

use criterion::Criterion;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use xitdb::format::{HashKind, Hasher};
use xitdb::storage::Storage;
use xitdb::{Database, Durability, Error, Options, Transaction};

/// Entries of the standard map, items of the linked list.
pub const N: u64 = 100_000;
/// Items of the standard ArrayList (W4/W5).
pub const LIST_N: u64 = 1_000_000;
/// Moments of the time-travel history.
pub const MOMENTS: u64 = 1_000;
/// Operations per transaction in the "inside an open transaction" benches.
pub const OPS_PER_TX: u64 = 1_000;

/// The criterion settings of every bench: short, so that the whole
/// `cargo bench` stays within a few minutes on a small shared machine.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// `key(i)`: the 8-byte big-endian encoding of `i`.
pub fn key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

/// `hash(i)`: SHA-1 of `key(i)`, as the database's own hasher computes it.
pub fn hash(i: u64) -> [u8; 20] {
    let h = Hasher::new(HashKind::Sha1)
        .hash(&key(i))
        .expect("SHA-1 hashes any key");
    h.as_bytes().try_into().expect("SHA-1 hashes are 20 bytes")
}

/// `hash(i)` for every `i` in `range`, computed once, outside any timing.
pub fn hashes(range: Range<u64>) -> Vec<[u8; 20]> {
    range.map(hash).collect()
}

/// xorshift64* seeded as the workloads are; `next(n)` is an index below `n`.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Self {
        Rng(0x9E37_79B9_7F4A_7C15)
    }

    #[inline]
    pub fn next(&mut self, n: u64) -> u64 {
        let x = &mut self.0;
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Options of the bench databases: SHA-1 (as W1 and the other
/// implementations) and the given commit durability.
pub fn opts(durability: Durability) -> Options {
    Options {
        hash: HashKind::Sha1,
        durability,
        ..Options::default()
    }
}

/// A temporary directory under cargo's target/tmp (on the same disk as
/// `target`, not a tmpfs), removed when dropped.
pub fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("xitdb-bench-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a temporary directory")
}

/// Commits the W1 map: one transaction whose moment is a HashMap of `N`
/// entries `hash(i) -> uint i` (by raw hash; a lookup by `key(i)` finds
/// them too, since the database hashes keys with SHA-1).
pub fn put_w1_map<S: Storage>(db: &mut Database<S>) {
    let hashes = hashes(0..N);
    db.transact(|tx| -> xitdb::Result<()> {
        let mut map = tx.root_map()?;
        for (i, h) in (0u64..).zip(&hashes) {
            map.put_by_hash(h, i)?;
        }
        Ok(())
    })
    .expect("build the W1 map");
}

/// An in-memory database holding the W1 map.
pub fn memory_map() -> Database {
    let mut db = Database::memory_with(HashKind::Sha1);
    put_w1_map(&mut db);
    db
}

/// Writes a database file holding the W1 map into `dir` and closes it.
pub fn file_map(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut db = Database::create_with(&path, opts(Durability::None)).expect("create the file");
    put_w1_map(&mut db);
    path
}

/// Commits a W3-like history of `moments` moments: moment `t` is the map of
/// moment `t - 1` plus `hash(t) -> uint t`.
pub fn put_history<S: Storage>(db: &mut Database<S>, moments: u64) {
    for (t, h) in (0u64..).zip(hashes(0..moments)) {
        db.transact(|tx| tx.root_map()?.put_by_hash(&h, t))
            .expect("commit a moment");
    }
}

/// An in-memory database whose moment is an ArrayList of `n` uints `0..n`
/// (W4 when `n` is `LIST_N`).
pub fn array_list_db(n: u64) -> Database {
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> xitdb::Result<()> {
        let mut list = tx.root().array_list()?;
        for i in 0..n {
            list.append(i)?;
        }
        Ok(())
    })
    .expect("build the ArrayList");
    db
}

/// An in-memory database whose moment is a LinkedArrayList of `n` uints `0..n`.
pub fn linked_list_db(n: u64) -> Database {
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> xitdb::Result<()> {
        let mut list = tx.root().linked_array_list()?;
        for i in 0..n {
            list.append(i)?;
        }
        Ok(())
    })
    .expect("build the LinkedArrayList");
    db
}

/// For `iter_custom`: runs `iters` operations in batches of at most
/// `OPS_PER_TX`; `batch(n)` runs `n` of them and returns the time they took
/// (its own untimed setup and cleanup excluded). Returns the sum.
pub fn time_in_batches(iters: u64, mut batch: impl FnMut(u64) -> Duration) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(OPS_PER_TX);
        total += batch(n);
        left -= n;
    }
    total
}

const ROLLBACK: &str = "bench: roll the transaction back";

/// For `iter_custom` on an operation that only exists inside a transaction
/// (a put, an append, an insert).
///
/// A transaction is a closure (`db.transact(|tx| ...)`), so one criterion
/// iteration cannot be "one put in an open transaction". Instead the `iters`
/// operations run `OPS_PER_TX` to a transaction: `body(tx, n)` opens the
/// structure, runs `n` operations and returns the time of those `n` only.
/// Opening the transaction, its commit machinery and its end are not timed,
/// and criterion divides the sum by `iters`: each operation carries its fair
/// share of the copy-on-write of the blocks the transaction touches first.
///
/// Every transaction is then rolled back (the closure returns an error, and
/// the database puts back every byte), so each batch starts from the same
/// database: no drift between samples, no growth of the storage.
pub fn time_in_rolled_back_txs<S: Storage>(
    db: &mut Database<S>,
    iters: u64,
    mut body: impl FnMut(&mut Transaction<'_>, u64) -> xitdb::Result<Duration>,
) -> Duration {
    time_in_batches(iters, |n| {
        let mut took = Duration::ZERO;
        let outcome = db.transact(|tx| -> xitdb::Result<()> {
            took = body(tx, n)?;
            Err(Error::InvalidArgument(ROLLBACK))
        });
        match outcome {
            Err(Error::InvalidArgument(m)) if m == ROLLBACK => took,
            Err(e) => panic!("bench transaction failed: {e}"),
            Ok(()) => unreachable!("the bench transaction always rolls back"),
        }
    })
}
