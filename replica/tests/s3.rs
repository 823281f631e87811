//! Replication against a real S3 API (moto on 127.0.0.1): ship, restore
//! byte-identical, cut at a moment, follow, refuse a second database,
//! name damaged and missing objects, survive a paused server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use object_store::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use xitdb::{Database, Durability, Error};
use xitdb_replica::testing::S3Server;
use xitdb_replica::{
    follow, latest_manifest, replicate, restore, Remote, ReplicaError, ReplicateOptions,
};

fn once() -> ReplicateOptions {
    ReplicateOptions {
        once: true,
        ..ReplicateOptions::default()
    }
}

fn write(path: &std::path::Path, from: u64, to: u64) {
    let mut db = Database::open(path).unwrap();
    db.set_durability(Durability::None);
    for i in from..to {
        db.transact(|tx| {
            let mut root = tx.root_map()?;
            root.put("n", i)?;
            root.put(format!("k{i}"), &vec![i as u8; (i % 13) as usize * 100][..])?;
            Ok::<_, Error>(())
        })
        .unwrap();
    }
}

/// Ships what `path` committed; the report.
fn ship(remote: &Remote, path: &std::path::Path) -> xitdb_replica::ShipReport {
    replicate(remote, path, &once(), &|| false, &mut |_| {}).unwrap()
}

fn server(bucket: &str) -> Option<(S3Server, String)> {
    let s = S3Server::start()?;
    s.bucket(bucket).unwrap();
    Some((s, format!("s3://{bucket}/db/one")))
}

#[test]
fn ship_restore_cut_and_follow_on_s3() {
    let Some((server, url)) = server("roundtrip") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("primary.xdb");
    let remote = server.remote(&url).unwrap();
    write(&primary, 0, 30);
    let first = ship(&remote, &primary);
    assert_eq!(first.records, 1);
    for round in 0..5 {
        write(&primary, 30 + round * 10, 40 + round * 10);
        ship(&remote, &primary);
    }
    let out = dir.path().join("restored.xdb");
    let r = restore(&remote, &out, None).unwrap();
    assert_eq!(r.moments, 80);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&primary).unwrap()
    );
    // cut: the state shipped with 50 moments
    let cut = dir.path().join("cut.xdb");
    assert_eq!(restore(&remote, &cut, Some(49)).unwrap().moments, 50);
    let db = Database::open_read_only(&cut).unwrap();
    assert_eq!(db.moment_count().unwrap(), 50);
    assert_eq!(
        db.moment(-1)
            .unwrap()
            .as_map()
            .unwrap()
            .require("n")
            .unwrap()
            .as_uint()
            .unwrap(),
        49
    );

    // a follower catches up, then follows new commits
    let replica = dir.path().join("replica.xdb");
    let caught = Arc::new(AtomicBool::new(false));
    let target = std::sync::Mutex::new(0u64);
    write(&primary, 80, 90);
    replicate(&remote, &primary, &once(), &|| false, &mut |r| {
        *target.lock().unwrap() = r.seq
    })
    .unwrap();
    let want = *target.lock().unwrap();
    let head = follow(
        &remote,
        &replica,
        Duration::from_millis(20),
        &|| caught.load(Ordering::Relaxed),
        &mut |h| {
            if h.seq >= want {
                caught.store(true, Ordering::Relaxed);
            }
        },
    )
    .unwrap();
    assert_eq!(head.seq, want);
    assert_eq!(
        std::fs::read(&replica).unwrap(),
        std::fs::read(&primary).unwrap()
    );
    // and resumes from its note
    write(&primary, 90, 95);
    let r = ship(&remote, &primary);
    let head = follow(
        &remote,
        &replica,
        Duration::from_millis(20),
        &|| true,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(head.seq, r.seq);
    assert_eq!(
        std::fs::read(&replica).unwrap(),
        std::fs::read(&primary).unwrap()
    );
}

#[test]
fn a_second_database_on_the_prefix_is_refused_and_damage_is_named() {
    let Some((server, url)) = server("conflict") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.xdb");
    let b = dir.path().join("b.xdb");
    write(&a, 0, 20);
    write(&b, 100, 130);
    let remote = server.remote(&url).unwrap();
    ship(&remote, &a);
    write(&a, 20, 25);
    ship(&remote, &a);
    let e = replicate(&remote, &b, &once(), &|| false, &mut |_| {}).unwrap_err();
    assert!(matches!(e, ReplicaError::Conflict { .. }), "{e}");
    // the manifest is written with a conditional PUT: an existing
    // generation cannot be written again
    let m = latest_manifest(&remote).unwrap().unwrap();
    let taken = Path::from(format!("manifest/{:020}.json", m.generation));
    assert!(matches!(
        remote.put_new(&taken, b"{}".to_vec()),
        Err(ReplicaError::Conflict { .. })
    ));

    // a damaged segment: the restore names it
    let seg = m.segments[1].name.clone();
    let mut bytes = remote.get(&Path::from(seg.as_str()), 1 << 30).unwrap();
    bytes[100] ^= 1;
    remote.put_raw(&Path::from(seg.as_str()), bytes).unwrap();
    let out = dir.path().join("out.xdb");
    let e = restore(&remote, &out, None).unwrap_err();
    assert!(
        matches!(&e, ReplicaError::Damaged { object, .. } if *object == seg),
        "{e}"
    );
    assert!(e.to_string().contains(&seg));
    assert!(!out.exists());
    // a missing one too
    remote.delete(&Path::from(seg.as_str())).unwrap();
    let e = restore(&remote, &out, None).unwrap_err();
    assert!(
        matches!(&e, ReplicaError::Missing { object } if *object == seg),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn a_paused_server_is_waited_for_and_caught_up_with() {
    let Some((server, url)) = server("paused") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("p.xdb");
    write(&primary, 0, 10);
    let remote = server.remote(&url).unwrap();
    ship(&remote, &primary);
    write(&primary, 10, 40);
    // the server stops answering in the middle of things
    let pid = server.pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let shipping = {
        let (remote, primary) = (server.remote(&url).unwrap(), primary.clone());
        std::thread::spawn(move || replicate(&remote, &primary, &once(), &|| false, &mut |_| {}))
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    shipping.join().unwrap().unwrap();
    let out = dir.path().join("out.xdb");
    restore(&remote, &out, None).unwrap();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&primary).unwrap()
    );
}

#[test]
fn local_directories_and_memory_work_too() {
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("p.xdb");
    write(&primary, 0, 25);
    let url = format!("file://{}/store", dir.path().display());
    for remote in [
        Remote::open(&url).unwrap(),
        Remote::open("memory://x").unwrap(),
    ] {
        ship(&remote, &primary);
        let out = dir.path().join("out.xdb");
        restore(&remote, &out, None).unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(&primary).unwrap()
        );
    }
    assert!(matches!(
        Remote::open("ftp://x/y"),
        Err(ReplicaError::Url { .. })
    ));
    assert!(matches!(
        restore(
            &Remote::open("memory://").unwrap(),
            &dir.path().join("x"),
            None
        ),
        Err(ReplicaError::Empty)
    ));
}
