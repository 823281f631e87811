//! Concurrency stress: reader threads read random past moments while one
//! writer commits thousands of transactions. Every read must agree with the
//! model of that moment; a torn read (a moment partly from another
//! transaction) fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use xitdb::{Database, Durability, Error, Snapshot};

#[allow(dead_code)]
mod common;
use common::rng::Rng;

const COMMITS: u64 = 3000;

/// Moment `t` holds "t" = t, "sq" = t*t, and a list 0..=t of t+1 items
/// whose last item is t (written in one transaction: all or nothing).
fn commit(db: &mut Database<impl xitdb::storage::Storage>, t: u64) {
    db.transact(|tx| -> Result<(), Error> {
        let mut root = tx.root_map()?;
        root.put("t", t)?;
        root.put("sq", t.wrapping_mul(t))?;
        root.entry("items")?.array_list()?.append(t)?;
        Ok(())
    })
    .unwrap();
}

/// Checks one moment against the model; returns its index.
fn check_moment(c: xitdb::Cursor<'_>, m: u64) {
    let map = c.as_map().unwrap();
    let t = map.get(b"t").unwrap().unwrap().as_uint().unwrap();
    assert_eq!(t, m, "moment {m} holds t = {t}");
    let sq = map.get(b"sq").unwrap().unwrap().as_uint().unwrap();
    assert_eq!(sq, t.wrapping_mul(t), "torn moment {m}");
    let items = map.get(b"items").unwrap().unwrap().as_list().unwrap();
    assert_eq!(items.len(), t + 1, "moment {m} list length");
    let last = items.get(-1).unwrap().unwrap().as_uint().unwrap();
    assert_eq!(last, t, "moment {m} last item");
}

#[test]
fn readers_of_past_moments_during_thousands_of_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stress.xdb");
    let mut db = Database::create(&path).unwrap();
    db.set_durability(Durability::None);
    commit(&mut db, 0);
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let snapshots: Arc<Mutex<Vec<(u64, Snapshot)>>> = Arc::default();

    std::thread::scope(|s| {
        // readers with their own read-only handles, refreshed as they go
        for seed in 1..=3u64 {
            let (done, reads, path) = (done.clone(), reads.clone(), path.clone());
            s.spawn(move || {
                let mut rng = Rng(seed);
                let mut r = Database::open_read_only(&path).unwrap();
                while !done.load(Ordering::Acquire) {
                    r.refresh().unwrap();
                    let n = r.moment_count().unwrap();
                    for _ in 0..50 {
                        let m = rng.below(n);
                        check_moment(r.moment(m as i64).unwrap(), m);
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        // readers of snapshots the writer hands out
        for seed in 4..=5u64 {
            let (done, reads, snaps) = (done.clone(), reads.clone(), snapshots.clone());
            s.spawn(move || {
                let mut rng = Rng(seed);
                while !done.load(Ordering::Acquire) {
                    let pick = {
                        let v = snaps.lock().unwrap();
                        if v.is_empty() {
                            None
                        } else {
                            Some(v[rng.below(v.len() as u64) as usize].clone())
                        }
                    };
                    if let Some((m, snap)) = pick {
                        check_moment(snap.cursor(), m);
                        reads.fetch_add(1, Ordering::Relaxed);
                    } else {
                        std::thread::yield_now();
                    }
                }
            });
        }
        for t in 1..COMMITS {
            commit(&mut db, t);
            if t % 10 == 0 {
                let snap = db.snapshot(-1).unwrap();
                snapshots.lock().unwrap().push((t, snap));
            }
        }
        done.store(true, Ordering::Release);
    });
    assert_eq!(db.moment_count().unwrap(), COMMITS);
    let n = reads.load(Ordering::Relaxed);
    println!("{n} concurrent reads checked against the model");
    assert!(n > 1000, "readers ran: {n} reads");
    // and everything once more, single-threaded, after the dust settles
    for m in (0..COMMITS).step_by(97) {
        check_moment(db.moment(m as i64).unwrap(), m);
    }
}
