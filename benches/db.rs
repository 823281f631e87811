//! Whole-database paths: commit, open, time travel.
//!
//! - `commit`: a small transaction — one put (overwriting a random key) into
//!   the 100,000-entry map — committed as a new moment (W3's unit of work):
//!   memory backend, and file backend with `Durability::None` (the data is
//!   handed to the OS, no fsync). This times the copy-on-write of one path,
//!   the history append and the header rewrite.
//! - `commit_durable`: the same on a file with the default durability
//!   (`Durability::Full`, two fsyncs per commit; W3d), with fewer samples:
//!   it measures the disk more than the library.
//! - `open`: open the W1 file read-only, read one random key, close (W9);
//!   next to opening the same bytes in place from memory
//!   (`Database::from_slice`) and to a bare std `File::open` + header read.
//! - `time_travel_get`: on a 1,000-moment history (moment t adds
//!   `hash(t) -> t`), pick a random moment m and read a key k <= m from it
//!   (W7 on a smaller history); memory and file backends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Rng, MOMENTS, N};
use criterion::{criterion_group, criterion_main, Bencher, Criterion};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};
use xitdb::format::HashKind;
use xitdb::storage::Storage;
use xitdb::{Database, Durability};

/// Bytes a bench database may grow by before it is replaced by a fresh copy
/// (untimed, between samples): bounds memory and disk use.
const MAX_GROWTH: u64 = 64 << 20;

/// Times one-put commits. `fresh()` gives a database holding the W1 map;
/// it is called again, between samples, when the database has grown by
/// `MAX_GROWTH` bytes.
fn bench_commits<S: Storage>(b: &mut Bencher<'_>, fresh: impl Fn() -> Database<S>) {
    let hashes = common::hashes(0..N);
    let mut db = Some(fresh());
    let base_len = db.as_ref().map_or(0, |d| d.len());
    let mut rng = Rng::new();
    b.iter_custom(|iters| {
        if db.as_ref().is_none_or(|d| d.len() - base_len > MAX_GROWTH) {
            drop(db.take()); // a file handle must let go of the file first
            db = Some(fresh());
        }
        let db = db.as_mut().unwrap();
        let start = Instant::now();
        for i in 0..iters {
            let h = &hashes[rng.next(N) as usize];
            db.transact(|tx| tx.root_map()?.put_by_hash(h, i)).unwrap();
        }
        start.elapsed()
    });
}

/// A copy of the W1 file at `work`, opened for writing with `durability`.
fn file_copy(
    base: &Path,
    work: &Path,
    durability: Durability,
) -> Database<xitdb::storage::FileStorage> {
    std::fs::copy(base, work).expect("copy the W1 file");
    Database::open_with(work, common::opts(durability)).expect("open the copy")
}

fn commit(c: &mut Criterion) {
    let dir = common::tempdir();
    let base = common::file_map(dir.path(), "base.xdb");
    let work = dir.path().join("work.xdb");
    let bytes = common::memory_map().into_bytes();

    let mut g = c.benchmark_group("commit");
    g.bench_function("memory", |b| {
        bench_commits(b, || {
            let mut db = Database::from_bytes(bytes.clone()).unwrap();
            db.set_durability(Durability::None);
            db
        })
    });
    g.bench_function("file_no_sync", |b| {
        bench_commits(b, || file_copy(&base, &work, Durability::None))
    });
    g.finish();

    let mut g = c.benchmark_group("commit_durable");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("file_full", |b| {
        bench_commits(b, || file_copy(&base, &work, Durability::Full))
    });
    g.finish();
}

fn open(c: &mut Criterion) {
    let dir = common::tempdir();
    let path = common::file_map(dir.path(), "open.xdb");
    let bytes = std::fs::read(&path).unwrap();
    let hashes = common::hashes(0..N);

    let mut g = c.benchmark_group("open");
    g.bench_function("file_read_only/open_get", |b| {
        let mut rng = Rng::new();
        b.iter(|| {
            let db = Database::open_read_only(&path).unwrap();
            let moment = db.moment(-1).unwrap();
            let map = moment.as_map().unwrap();
            let h = &hashes[rng.next(N) as usize];
            map.get_by_hash(h).unwrap().unwrap().as_uint().unwrap()
        })
    });
    g.bench_function("slice/open_get", |b| {
        let mut rng = Rng::new();
        b.iter(|| {
            let db = Database::from_slice(&bytes).unwrap();
            let moment = db.moment(-1).unwrap();
            let map = moment.as_map().unwrap();
            let h = &hashes[rng.next(N) as usize];
            map.get_by_hash(h).unwrap().unwrap().as_uint().unwrap()
        })
    });
    g.bench_function("std_file_open_read_header", |b| {
        b.iter(|| {
            let mut header = [0u8; 36];
            std::fs::File::open(&path)
                .unwrap()
                .read_exact(&mut header)
                .unwrap();
            header
        })
    });
    g.finish();
}

fn time_travel_get(c: &mut Criterion) {
    let dir = common::tempdir();
    let mut mem = Database::memory_with(HashKind::Sha1);
    common::put_history(&mut mem, MOMENTS);
    let path = dir.path().join("history.xdb");
    {
        let mut db = Database::create_with(&path, common::opts(Durability::None)).unwrap();
        common::put_history(&mut db, MOMENTS);
    }
    let file = Database::open_read_only(&path).unwrap();
    let hashes = common::hashes(0..MOMENTS);

    let mut g = c.benchmark_group("time_travel_get");
    g.bench_function("memory", |b| bench_time_travel(b, &mem, &hashes));
    g.bench_function("file", |b| bench_time_travel(b, &file, &hashes));
    g.finish();
}

/// Reads `hash(k)` from moment `m`, for a random moment `m` and `k <= m`.
fn bench_time_travel<S: Storage>(b: &mut Bencher<'_>, db: &Database<S>, hashes: &[[u8; 20]]) {
    let mut rng = Rng::new();
    b.iter(|| {
        let m = rng.next(MOMENTS);
        let k = rng.next(m + 1);
        let moment = db.moment(m as i64).unwrap();
        let map = moment.as_map().unwrap();
        map.get_by_hash(&hashes[k as usize])
            .unwrap()
            .unwrap()
            .as_uint()
            .unwrap()
    })
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = commit, open, time_travel_get
}
criterion_main!(benches);
