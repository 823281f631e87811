//! `xitdb replicate` killed with SIGKILL at random instants while a writer
//! commits, against a real S3 API (moto on 127.0.0.1). After every kill
//! the store restores to a committed moment (never a torn file): the
//! restore checks every hash, `verify` passes, and the newest moment's `n`
//! is its index. At the end a final `--once` run ships the rest and the
//! restore is byte-identical to the primary.
//!
//! 12 kills in `cargo test`; `XITDB_LONG=1` raises them to 120.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use xitdb::{Database, Durability};
use xitdb_replica::testing::S3Server;

fn xitdb(server: &S3Server) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xitdb"));
    c.envs(server.vars())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

#[test]
fn a_replicator_killed_at_random_always_leaves_a_restorable_store() {
    let Some(server) = S3Server::start() else {
        return;
    };
    server.bucket("kills").unwrap();
    let url = "s3://kills/app";
    let kills: u64 = if std::env::var_os("XITDB_LONG").is_some() {
        120
    } else {
        12
    };
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("primary.xdb");
    let mut db = Database::create(&primary).unwrap();
    db.set_durability(Durability::None);
    db.transact(|tx| tx.root_map()?.put("n", 0u64)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 1u64;
            while !stop.load(Ordering::Relaxed) {
                db.transact(|tx| {
                    let mut root = tx.root_map()?;
                    root.put("n", i)?;
                    root.put(
                        format!("k{}", i % 97),
                        &vec![i as u8; (i % 31) as usize * 50][..],
                    )
                })
                .unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            i
        })
    };
    let remote = server.remote(url).unwrap();
    let (mut restored_max, mut empty) = (0u64, 0u64);
    for kill in 0..kills {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 400);
        let mut child = xitdb(&server)
            .args([
                "replicate",
                primary.to_str().unwrap(),
                url,
                "--interval",
                "5",
            ])
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let out = dir.path().join(format!("restored{kill}.xdb"));
        match xitdb_replica::restore(&remote, &out, None) {
            Err(xitdb_replica::ReplicaError::Empty) => empty += 1,
            Err(e) => panic!("kill {kill} (after {delay:?}): restore failed: {e}"),
            Ok(r) => {
                let db = Database::open_read_only(&out).unwrap();
                assert_eq!(db.moment_count().unwrap(), r.moments);
                let n = db
                    .moment(-1)
                    .unwrap()
                    .as_map()
                    .unwrap()
                    .require("n")
                    .unwrap();
                assert_eq!(n.as_uint().unwrap(), r.moments - 1, "kill {kill}");
                assert!(db.verify().is_ok(), "kill {kill}");
                assert!(
                    r.moments >= restored_max,
                    "kill {kill}: the store went back"
                );
                restored_max = r.moments;
                std::fs::remove_file(&out).unwrap();
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let commits = writer.join().unwrap();
    let ok = xitdb(&server)
        .args(["replicate", primary.to_str().unwrap(), url, "--once"])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = dir.path().join("final.xdb");
    xitdb_replica::restore(&remote, &out, None).unwrap();
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&primary).unwrap());
    println!(
        "kill -9, xitdb replicate against S3: {kills} kills, {commits} commits, \
         {empty} kills before anything was shipped, every store restorable, final restore byte-identical"
    );
}
