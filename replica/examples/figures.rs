//! The replication figures of the README, against a real S3 API (moto on
//! 127.0.0.1, from `.ci/s3`): shipping throughput, replication lag at 100
//! commits/s, and restore speed against a plain download of the same
//! objects. `cargo run --release -p xitdb-replica --example figures`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use object_store::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xitdb::{Database, Durability, Error};
use xitdb_replica::testing::S3Server;
use xitdb_replica::{latest_manifest, replicate, restore, ReplicateOptions};

fn commit(db: &mut Database<xitdb::storage::FileStorage>, i: u64) {
    db.transact(|tx| {
        let mut root = tx.root_map()?;
        root.put("n", i)?;
        root.put(format!("k{}", i % 5000), &vec![i as u8; 2000][..])?;
        Ok::<_, Error>(())
    })
    .unwrap();
}

fn main() {
    let server = S3Server::start().expect("an S3 server (run .ci/s3)");
    server.bucket("figures").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("primary.xdb");

    // 1. shipping throughput: a 20,000-commit file in one go
    let mut db = Database::create(&path).unwrap();
    db.set_durability(Durability::None);
    for i in 0..20_000 {
        commit(&mut db, i);
    }
    drop(db);
    let size = std::fs::metadata(&path).unwrap().len();
    let remote = server.remote("s3://figures/bulk").unwrap();
    let once = ReplicateOptions {
        once: true,
        ..ReplicateOptions::default()
    };
    let t = Instant::now();
    let shipped = replicate(&remote, &path, &once, &|| false, &mut |_| {}).unwrap();
    let ship_s = t.elapsed().as_secs_f64();
    println!(
        "shipping: {:.1} MB database, {} records in {} segments, {:.2} s, {:.1} MB/s",
        size as f64 / 1e6,
        shipped.records,
        shipped.segments,
        ship_s,
        shipped.bytes as f64 / 1e6 / ship_s
    );

    // 2. restore against a plain download of the same objects
    let out = dir.path().join("restored.xdb");
    let t = Instant::now();
    let r = restore(&remote, &out, None).unwrap();
    let restore_s = t.elapsed().as_secs_f64();
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&path).unwrap());
    let m = latest_manifest(&remote).unwrap().unwrap();
    let t = Instant::now();
    let mut plain = 0;
    for s in &m.segments {
        plain += remote
            .get(&Path::from(s.name.as_str()), u64::MAX)
            .unwrap()
            .len();
    }
    let plain_s = t.elapsed().as_secs_f64();
    println!(
        "restore: {:.1} MB in {:.2} s = {:.1} MB/s (every hash checked, file written and fsynced); \
         plain download of the same {:.1} MB: {:.2} s = {:.1} MB/s",
        r.bytes as f64 / 1e6,
        restore_s,
        r.bytes as f64 / 1e6 / restore_s,
        plain as f64 / 1e6,
        plain_s,
        plain as f64 / 1e6 / plain_s
    );

    // 3. lag at 100 commits/s for 10 s, replicator polling every 20 ms
    let lag_path = dir.path().join("lag.xdb");
    let mut db = Database::create(&lag_path).unwrap();
    db.set_durability(Durability::None);
    commit(&mut db, 0);
    let remote = server.remote("s3://figures/lag").unwrap();
    let commits: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (commits, stop) = (commits.clone(), stop.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            for i in 1..=1000u64 {
                let due = start + Duration::from_millis(i * 10);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                commit(&mut db, i);
                commits
                    .lock()
                    .unwrap()
                    .push((db.committed_len().unwrap(), Instant::now()));
            }
            stop.store(true, Ordering::Relaxed);
        })
    };
    let shipped: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let opts = ReplicateOptions {
        interval: Duration::from_millis(20),
        ..ReplicateOptions::default()
    };
    {
        let shipped = shipped.clone();
        let stopping = stop.clone();
        replicate(
            &remote,
            &lag_path,
            &opts,
            &move || stopping.load(Ordering::Relaxed),
            &mut |r| shipped.lock().unwrap().push((r.file_size, Instant::now())),
        )
        .unwrap();
    }
    writer.join().unwrap();
    replicate(&remote, &lag_path, &once, &|| false, &mut |r| {
        shipped.lock().unwrap().push((r.file_size, Instant::now()))
    })
    .unwrap();
    let shipped = shipped.lock().unwrap();
    let mut lags: Vec<f64> = commits
        .lock()
        .unwrap()
        .iter()
        .filter_map(|&(size, at)| {
            let when = shipped.iter().find(|&&(s, _)| s >= size)?.1;
            Some(when.saturating_duration_since(at).as_secs_f64() * 1e3)
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags[((lags.len() - 1) as f64 * p) as usize];
    println!(
        "lag at 100 commits/s ({} commits, {} segments): median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lags.len(),
        shipped.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
