//! HashMap get / put / iteration on the standard 100,000-entry map (W1).
//!
//! - `map_get`: one random lookup, by raw hash (W2) and by key (W2b: the
//!   SHA-1 of the key is computed in the timed region), on the memory
//!   backend and on a file opened read-only (memory-mapped reads), next to
//!   std `HashMap` twins keyed by the same hash / key bytes.
//! - `map_put`: one put inside an open transaction, into the 100,000-entry
//!   map: inserts of new keys by hash and by key (the key bytes are stored
//!   too), and overwrites of random existing keys; memory and file backends
//!   (the file with `Durability::None`; nothing is committed anyway). See
//!   `common::time_in_rolled_back_txs` for how a put is timed while a
//!   transaction is a closure. The std twin inserts the same new keys.
//! - `map_iter`: a walk over all 100,000 entries summing the values (W6),
//!   with a std `HashMap` walk as twin.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Rng, N, OPS_PER_TX};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use xitdb::storage::Storage;
use xitdb::{Database, Durability};

fn map_get(c: &mut Criterion) {
    let dir = common::tempdir();
    let path = common::file_map(dir.path(), "get.xdb");
    let file = Database::open_read_only(&path).expect("open the W1 file");
    let mem = common::memory_map();
    let hashes = common::hashes(0..N);
    let std_by_hash: HashMap<[u8; 20], u64> = hashes.iter().copied().zip(0..).collect();
    let std_by_key: HashMap<[u8; 8], u64> = (0..N).map(|i| (common::key(i), i)).collect();

    let (mem_moment, file_moment) = (mem.moment(-1).unwrap(), file.moment(-1).unwrap());
    let backends = [
        ("memory", mem_moment.as_map().unwrap()),
        ("file", file_moment.as_map().unwrap()),
    ];
    let mut g = c.benchmark_group("map_get");
    for (backend, map) in backends {
        g.bench_function(format!("{backend}/by_hash"), |b| {
            let mut rng = Rng::new();
            b.iter(|| {
                let h = &hashes[rng.next(N) as usize];
                map.get_by_hash(h).unwrap().unwrap().as_uint().unwrap()
            })
        });
        g.bench_function(format!("{backend}/by_key"), |b| {
            let mut rng = Rng::new();
            b.iter(|| {
                let k = common::key(rng.next(N));
                map.get(k).unwrap().unwrap().as_uint().unwrap()
            })
        });
    }
    g.bench_function("std_hashmap/by_hash", |b| {
        let mut rng = Rng::new();
        b.iter(|| std_by_hash[&hashes[rng.next(N) as usize]])
    });
    g.bench_function("std_hashmap/by_key", |b| {
        let mut rng = Rng::new();
        b.iter(|| std_by_key[&common::key(rng.next(N))])
    });
    g.finish();
}

/// Inserts `iters` new entries by raw hash, `OPS_PER_TX` to a transaction.
fn insert_by_hash<S: Storage>(db: &mut Database<S>, iters: u64, new: &[[u8; 20]]) -> Duration {
    common::time_in_rolled_back_txs(db, iters, |tx, n| {
        let mut map = tx.root_map()?;
        let start = Instant::now();
        for (i, h) in (N..).zip(&new[..n as usize]) {
            map.put_by_hash(h, i)?;
        }
        Ok(start.elapsed())
    })
}

/// Inserts `iters` new entries by key (hashing it and storing its bytes).
fn insert_by_key<S: Storage>(db: &mut Database<S>, iters: u64) -> Duration {
    common::time_in_rolled_back_txs(db, iters, |tx, n| {
        let mut map = tx.root_map()?;
        let start = Instant::now();
        for i in N..N + n {
            map.put(common::key(i), i)?;
        }
        Ok(start.elapsed())
    })
}

fn map_put(c: &mut Criterion) {
    let dir = common::tempdir();
    let path = common::file_map(dir.path(), "put.xdb");
    let mut file = Database::open_with(&path, common::opts(Durability::None)).unwrap();
    let mut mem = common::memory_map();
    let old = common::hashes(0..N);
    let new = common::hashes(N..N + OPS_PER_TX);
    let mut std_map: HashMap<[u8; 20], u64> = old.iter().copied().zip(0..).collect();

    let mut g = c.benchmark_group("map_put");
    g.bench_function("memory/by_hash", |b| {
        b.iter_custom(|iters| insert_by_hash(&mut mem, iters, &new))
    });
    g.bench_function("memory/by_key", |b| {
        b.iter_custom(|iters| insert_by_key(&mut mem, iters))
    });
    g.bench_function("memory/by_hash_overwrite", |b| {
        let mut rng = Rng::new();
        b.iter_custom(|iters| {
            common::time_in_rolled_back_txs(&mut mem, iters, |tx, n| {
                let mut map = tx.root_map()?;
                let start = Instant::now();
                for i in 0..n {
                    map.put_by_hash(&old[rng.next(N) as usize], i)?;
                }
                Ok(start.elapsed())
            })
        })
    });
    g.bench_function("file/by_hash", |b| {
        b.iter_custom(|iters| insert_by_hash(&mut file, iters, &new))
    });
    g.bench_function("file/by_key", |b| {
        b.iter_custom(|iters| insert_by_key(&mut file, iters))
    });
    g.bench_function("std_hashmap/by_hash", |b| {
        b.iter_custom(|iters| {
            common::time_in_batches(iters, |n| {
                let new = &new[..n as usize];
                let start = Instant::now();
                for (i, h) in (N..).zip(new) {
                    std_map.insert(*h, i);
                }
                let took = start.elapsed();
                for h in new {
                    std_map.remove(h);
                }
                took
            })
        })
    });
    g.finish();
}

fn map_iter(c: &mut Criterion) {
    let dir = common::tempdir();
    let path = common::file_map(dir.path(), "iter.xdb");
    let file = Database::open_read_only(&path).expect("open the W1 file");
    let mem = common::memory_map();
    let std_map: HashMap<[u8; 20], u64> = common::hashes(0..N).into_iter().zip(0..).collect();

    let (mem_moment, file_moment) = (mem.moment(-1).unwrap(), file.moment(-1).unwrap());
    let backends = [
        ("memory", mem_moment.as_map().unwrap()),
        ("file", file_moment.as_map().unwrap()),
    ];
    let mut g = c.benchmark_group("map_iter");
    g.throughput(Throughput::Elements(N)).sample_size(20);
    for (backend, map) in backends {
        g.bench_function(backend, |b| {
            b.iter(|| {
                map.iter().fold(0u64, |sum, e| {
                    sum.wrapping_add(e.unwrap().value().unwrap().as_uint().unwrap())
                })
            })
        });
    }
    g.bench_function("std_hashmap", |b| {
        b.iter(|| std_map.values().fold(0u64, |sum, v| sum.wrapping_add(*v)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = map_get, map_put, map_iter
}
criterion_main!(benches);
