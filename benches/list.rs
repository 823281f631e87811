//! ArrayList get / append and LinkedArrayList insert / remove.
//!
//! - `list_get`: one random read from the 1,000,000-item ArrayList (W5),
//!   next to indexing a std `Vec` of the same items.
//! - `list_append`: one append inside an open transaction, onto the
//!   1,000,000-item ArrayList (the W4 loop), next to `Vec::push`.
//! - `linked_list_insert` / `linked_list_remove`: one insert / remove at a
//!   random position of the 100,000-item LinkedArrayList inside one
//!   transaction (the W8 loops), next to `Vec::insert` / `Vec::remove`
//!   (which move half the vector on average).
//!
//! The writes run `OPS_PER_TX` to a rolled-back transaction, as explained at
//! `common::time_in_rolled_back_txs`; every batch starts from the same list.
//! The std twins restore their vector between batches, untimed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Rng, LIST_N, N, OPS_PER_TX};
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Instant;

fn list_get(c: &mut Criterion) {
    let db = common::array_list_db(LIST_N);
    let moment = db.moment(-1).unwrap();
    let list = moment.as_list().unwrap();
    let vec: Vec<u64> = (0..LIST_N).collect();

    let mut g = c.benchmark_group("list_get");
    g.bench_function("array_list_1m", |b| {
        let mut rng = Rng::new();
        b.iter(|| {
            let i = rng.next(LIST_N) as i64;
            list.get(i).unwrap().unwrap().as_uint().unwrap()
        })
    });
    g.bench_function("std_vec_1m", |b| {
        let mut rng = Rng::new();
        b.iter(|| vec[rng.next(LIST_N) as usize])
    });
    g.finish();
}

fn list_append(c: &mut Criterion) {
    let mut db = common::array_list_db(LIST_N);
    let mut vec: Vec<u64> = (0..LIST_N).collect();
    vec.reserve(OPS_PER_TX as usize);

    let mut g = c.benchmark_group("list_append");
    g.bench_function("array_list_1m", |b| {
        b.iter_custom(|iters| {
            common::time_in_rolled_back_txs(&mut db, iters, |tx, n| {
                let mut list = tx.root().array_list()?;
                let start = Instant::now();
                for i in LIST_N..LIST_N + n {
                    list.append(i)?;
                }
                Ok(start.elapsed())
            })
        })
    });
    g.bench_function("std_vec_1m", |b| {
        b.iter_custom(|iters| {
            common::time_in_batches(iters, |n| {
                let start = Instant::now();
                for i in LIST_N..LIST_N + n {
                    vec.push(i);
                }
                let took = start.elapsed();
                vec.truncate(LIST_N as usize);
                took
            })
        })
    });
    g.finish();
}

fn linked_list_edit(c: &mut Criterion) {
    let mut db = common::linked_list_db(N);
    let mut vec: Vec<u64> = (0..N).collect();
    vec.reserve(OPS_PER_TX as usize);

    let mut g = c.benchmark_group("linked_list_insert");
    g.bench_function("linked_array_list_100k", |b| {
        let mut rng = Rng::new();
        b.iter_custom(|iters| {
            common::time_in_rolled_back_txs(&mut db, iters, |tx, n| {
                let mut list = tx.root().linked_array_list()?;
                let start = Instant::now();
                for j in 0..n {
                    list.insert(rng.next(N + j) as i64, j)?;
                }
                Ok(start.elapsed())
            })
        })
    });
    g.bench_function("std_vec_100k", |b| {
        let mut rng = Rng::new();
        b.iter_custom(|iters| {
            common::time_in_batches(iters, |n| {
                let start = Instant::now();
                for j in 0..n {
                    vec.insert(rng.next(N + j) as usize, j);
                }
                let took = start.elapsed();
                vec.truncate(N as usize);
                took
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("linked_list_remove");
    g.bench_function("linked_array_list_100k", |b| {
        let mut rng = Rng::new();
        b.iter_custom(|iters| {
            common::time_in_rolled_back_txs(&mut db, iters, |tx, n| {
                let mut list = tx.root().linked_array_list()?;
                let start = Instant::now();
                for j in 0..n {
                    list.remove(rng.next(N - j) as i64)?;
                }
                Ok(start.elapsed())
            })
        })
    });
    g.bench_function("std_vec_100k", |b| {
        let mut rng = Rng::new();
        b.iter_custom(|iters| {
            common::time_in_batches(iters, |n| {
                let start = Instant::now();
                for j in 0..n {
                    vec.remove(rng.next(N - j) as usize);
                }
                let took = start.elapsed();
                vec.extend(0..n);
                took
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = list_get, list_append, linked_list_edit
}
criterion_main!(benches);
