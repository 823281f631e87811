//! `workloads [FILTER]`: the standard workloads of
//! `shared/bench/WORKLOADS.md`, run on xitdb.
//!
//! `cargo run --release -p xitdb-peers --bin workloads -- [FILTER]` runs
//! every workload whose id equals FILTER (all of them without one), checks
//! each result (sums, counts, values) and fails loudly on a mismatch, and
//! prints one JSON line per workload with an added `"system"` field. Each
//! runs every backend of its row of [`xitdb_peers::COVERAGE`]. Workloads that
//! need an earlier one's database (W2, W6, W9 need W1's file; W5 needs W4's
//! list; W7 needs W3's file; W11, W12 need W10's file) build it first, outside the timed region, so
//! each can run in a process of its own (for peak-memory measurements).
//!
//! The keys, hashes, random choices, checks and JSON lines are those of
//! [`xitdb_peers::common`], which the peers use too, so every system's
//! figure is for the same work.

// Benchmark harness over data it generates itself: indexing into its own
// vectors is checked by the workloads' result checks, not by the lint.
#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::time::Instant;
use xitdb::format::HashKind;
use xitdb::{Database, Durability, Error, ListFamily, Options};
use xitdb_peers::common::{
    check, hashes, key, scan_model, sorted_keys, w8_model, w8_ops, Op, Res, Rng, N, SCANS,
    SCAN_LEN, SORTED_GETS, SORTED_N,
};

fn report(id: &str, backend: &str, n: u64, seconds: f64, bytes: u64) {
    xitdb_peers::common::emit("xitdb", id, backend, n, seconds, bytes);
}

fn sha1_opts(durability: Durability) -> Options {
    Options {
        hash: HashKind::Sha1,
        durability,
        ..Options::default()
    }
}

/// W1 / W1b: one transaction putting N entries into the moment's map.
fn bulk_insert<S: xitdb::storage::Storage>(
    db: &mut Database<S>,
    h: &[[u8; 20]],
    keys: bool,
) -> Res<f64> {
    let t = Instant::now();
    db.transact(|tx| -> Result<(), Error> {
        let mut m = tx.root_map()?;
        for i in 0..N {
            if keys {
                m.put(key(i), i)?;
            } else {
                m.put_by_hash(&h[i as usize], i)?;
            }
        }
        Ok(())
    })?;
    Ok(t.elapsed().as_secs_f64())
}

/// Which backends a run of a workload with both covers: `W1` runs both,
/// `W1:file` only the file (so that its peak RSS is the file's alone).
#[derive(Clone, Copy)]
struct Backends<'a>(Option<&'a str>);

impl Backends<'_> {
    fn has(self, backend: &str) -> bool {
        self.0.is_none_or(|b| b == backend)
    }
}

fn w1(dir: &Path, h: &[[u8; 20]], keys: bool, only: Backends<'_>) -> Res {
    let id = if keys { "W1b" } else { "W1" };
    if only.has("memory") {
        let mut mem = Database::memory_with(HashKind::Sha1);
        let s = bulk_insert(&mut mem, h, keys)?;
        check(
            mem.moment(-1)?.as_map()?.iter().count() as u64 == N,
            "W1 entries",
        )?;
        report(id, "memory", N, s, mem.len());
    }
    if only.has("file") {
        let path = dir.join(format!("{id}.xdb"));
        let mut file = Database::create_with(&path, sha1_opts(Durability::None))?;
        let s = bulk_insert(&mut file, h, keys)?;
        report(id, "file", N, s, file.len());
    }
    Ok(())
}

fn w1_file(dir: &Path, h: &[[u8; 20]], keys: bool) -> Res<PathBuf> {
    let path = dir.join(if keys { "W1b.xdb" } else { "W1.xdb" });
    if !path.exists() {
        let mut db = Database::create_with(&path, sha1_opts(Durability::None))?;
        bulk_insert(&mut db, h, keys)?;
    }
    Ok(path)
}

fn w2(dir: &Path, h: &[[u8; 20]], keys: bool) -> Res {
    let path = w1_file(dir, h, keys)?;
    let db = Database::open_read_only(&path)?;
    let moment = db.moment(-1)?;
    let map = moment.as_map()?;
    let mut rng = Rng::new();
    let (n, mut sum, mut want) = (1_000_000u64, 0u64, 0u64);
    let t = Instant::now();
    for _ in 0..n {
        let i = rng.next(N);
        want = want.wrapping_add(i);
        let c = if keys {
            map.get(key(i))?
        } else {
            map.get_by_hash(&h[i as usize])?
        };
        sum = sum.wrapping_add(c.ok_or("missing key")?.as_uint()?);
    }
    let s = t.elapsed().as_secs_f64();
    check(sum == want, "W2 sum")?;
    report(if keys { "W2b" } else { "W2" }, "file", n, s, db.len());
    Ok(())
}

fn small_commits(path: &Path, h: &[[u8; 20]], n: u64, durability: Durability) -> Res<(f64, u64)> {
    let mut db = Database::create_with(path, sha1_opts(durability))?;
    let t = Instant::now();
    for i in 0..n {
        db.transact(|tx| tx.root_map()?.put_by_hash(&h[i as usize], i))?;
    }
    let s = t.elapsed().as_secs_f64();
    check(db.moment_count()? == n, "W3 moments")?;
    Ok((s, db.len()))
}

fn w3(dir: &Path, h: &[[u8; 20]]) -> Res {
    let (s, bytes) = small_commits(&dir.join("W3.xdb"), h, 10_000, Durability::None)?;
    report("W3", "file", 10_000, s, bytes);
    Ok(())
}

/// W3m: W3 on memory with a snapshot after every commit, the last 100
/// kept alive; prints its baseline too (W3 on memory, no snapshots).
fn w3m(h: &[[u8; 20]]) -> Res {
    const N3: u64 = 10_000;
    for snapshots in [false, true] {
        let mut db = Database::memory_with(HashKind::Sha1);
        let mut alive = std::collections::VecDeque::with_capacity(101);
        let t = Instant::now();
        for i in 0..N3 {
            db.transact(|tx| tx.root_map()?.put_by_hash(&h[i as usize], i))?;
            if snapshots {
                alive.push_back(db.snapshot(-1)?);
                if alive.len() > 100 {
                    alive.pop_front();
                }
            }
        }
        let s = t.elapsed().as_secs_f64();
        check(db.moment_count()? == N3, "W3m moments")?;
        if let Some(oldest) = alive.front() {
            let m = oldest.cursor().as_map()?;
            check(m.get_by_hash(&h[0])?.is_some(), "W3m snapshot")?;
        }
        let id = if snapshots { "W3m" } else { "W3" };
        report(id, "memory", N3, s, db.len());
    }
    Ok(())
}

fn w3d(dir: &Path, h: &[[u8; 20]]) -> Res {
    let (s, bytes) = small_commits(&dir.join("W3d.xdb"), h, 1_000, Durability::Full)?;
    report("W3d", "file", 1_000, s, bytes);
    Ok(())
}

fn w4_list() -> Res<(Database, f64)> {
    let mut db = Database::memory_with(HashKind::Sha1);
    let t = Instant::now();
    db.transact(|tx| -> Result<(), Error> {
        let mut l = tx.root().array_list()?;
        for i in 0..1_000_000u64 {
            l.append(i)?;
        }
        Ok(())
    })?;
    Ok((db, t.elapsed().as_secs_f64()))
}

fn w4() -> Res {
    let (db, s) = w4_list()?;
    check(db.moment(-1)?.as_list()?.len() == 1_000_000, "W4 length")?;
    report("W4", "memory", 1_000_000, s, db.len());
    Ok(())
}

fn w5() -> Res {
    let (db, _) = w4_list()?;
    let moment = db.moment(-1)?;
    let list = moment.as_list()?;
    let mut rng = Rng::new();
    let (mut sum, mut want) = (0u64, 0u64);
    let t = Instant::now();
    for _ in 0..1_000_000 {
        let i = rng.next(1_000_000);
        want = want.wrapping_add(i);
        sum = sum.wrapping_add(list.get(i as i64)?.ok_or("missing item")?.as_uint()?);
    }
    let s = t.elapsed().as_secs_f64();
    check(sum == want, "W5 sum")?;
    report("W5", "memory", 1_000_000, s, db.len());
    Ok(())
}

fn w6(dir: &Path, h: &[[u8; 20]]) -> Res {
    let db = Database::open_read_only(w1_file(dir, h, false)?)?;
    let moment = db.moment(-1)?;
    let map = moment.as_map()?;
    let t = Instant::now();
    let (mut sum, mut count) = (0u64, 0u64);
    for e in map.iter() {
        sum = sum.wrapping_add(e?.value()?.as_uint()?);
        count += 1;
    }
    let s = t.elapsed().as_secs_f64();
    check(count == N && sum == N * (N - 1) / 2, "W6 sum")?;
    report("W6", "file", N, s, db.len());
    Ok(())
}

fn w7(dir: &Path, h: &[[u8; 20]]) -> Res {
    let path = dir.join("W3.xdb");
    if !path.exists() {
        small_commits(&path, h, 10_000, Durability::None)?;
    }
    let db = Database::open_read_only(&path)?;
    let mut rng = Rng::new();
    let n = 100_000u64;
    let t = Instant::now();
    for _ in 0..n {
        let m = rng.next(10_000);
        let k = rng.next(m + 1);
        let moment = db.moment(m as i64)?;
        let v = moment
            .as_map()?
            .get_by_hash(&h[k as usize])?
            .ok_or("missing key")?;
        check(v.as_uint()? == k, "W7 value")?;
    }
    report("W7", "file", n, t.elapsed().as_secs_f64(), db.len());
    Ok(())
}

/// W8 (the RRB LinkedArrayList) or W13 (the same on the B-tree family).
fn w8(id: &str, family: ListFamily) -> Res {
    let mut db = Database::memory_with_options(xitdb::Options {
        hash: HashKind::Sha1,
        list_family: Some(family),
        ..xitdb::Options::default()
    });
    // the random choices, drawn up front so the model replays them
    let ops = w8_ops();
    let t = Instant::now();
    db.transact(|tx| -> Result<(), Error> {
        {
            let mut root = tx.root_map()?;
            let mut l = root.entry("list")?.linked_array_list()?;
            for i in 0..N {
                l.append(i)?;
            }
            for op in &ops {
                match *op {
                    Op::Insert { at, value } => l.insert(at as i64, value)?,
                    Op::Remove { at } => l.remove(at as i64)?,
                    Op::SliceConcat { .. } => {}
                }
            }
        }
        for op in &ops {
            if let Op::SliceConcat { start, take } = *op {
                // the clone must not share this transaction's mutable blocks
                tx.freeze();
                tx_slice_concat(&mut tx.root_map()?, start, take)?;
            }
        }
        Ok(())
    })?;
    let s = t.elapsed().as_secs_f64();
    let model = w8_model(&ops);
    let moment = db.moment(-1)?;
    let list = moment.as_map()?.get(b"list")?.ok_or("missing list")?;
    let got: Vec<u64> = list
        .as_linked_list()?
        .iter()
        .map(|c| c.and_then(|c| c.as_uint()))
        .collect::<Result<_, _>>()?;
    check(got == model, "W8 contents")?;
    report(id, "memory", ops.len() as u64 + N, s, db.len());
    Ok(())
}

/// Copies `take` items from `start` of "list" onto its end: clone the list
/// into "tmp" (the caller froze the transaction, so slicing the clone copies
/// what it changes), slice the clone, concat it.
fn tx_slice_concat(root: &mut xitdb::MapMut<'_>, start: u64, take: u64) -> Result<(), Error> {
    let slot = root.entry("list")?.slot()?;
    root.entry("tmp")?.write_slot(slot)?;
    let mut tmp = root.entry("tmp")?.linked_array_list()?;
    tmp.slice(start, take)?;
    let piece = tmp.slot()?;
    root.entry("list")?.linked_array_list()?.concat(piece)
}

fn w9(dir: &Path, h: &[[u8; 20]]) -> Res {
    let path = w1_file(dir, h, false)?;
    let mut rng = Rng::new();
    let n = 1_000u64;
    let t = Instant::now();
    for _ in 0..n {
        let db = Database::open_read_only(&path)?;
        let i = rng.next(N);
        let moment = db.moment(-1)?;
        let v = moment
            .as_map()?
            .get_by_hash(&h[i as usize])?
            .ok_or("missing key")?;
        check(v.as_uint()? == i, "W9 value")?;
    }
    let s = t.elapsed().as_secs_f64();
    report("W9", "file", n, s, std::fs::metadata(&path)?.len());
    Ok(())
}

/// W10: one transaction whose moment is a SortedMap, putting
/// `key(r[i]) -> i` for `i` in `0..SORTED_N` (random key order).
fn sorted_insert<S: xitdb::storage::Storage>(db: &mut Database<S>, r: &[u64]) -> Res<f64> {
    let t = Instant::now();
    db.transact(|tx| -> Result<(), Error> {
        let mut m = tx.root().sorted_map()?;
        for (i, &k) in (0..SORTED_N).zip(r) {
            m.put(key(k), i)?;
        }
        Ok(())
    })?;
    Ok(t.elapsed().as_secs_f64())
}

/// Checks W10's result: SORTED_N entries, in strictly increasing key order,
/// each `key(r[i]) -> i`.
fn check_sorted<S: xitdb::storage::Storage>(db: &Database<S>, r: &[u64]) -> Res {
    let moment = db.moment(-1)?;
    let map = moment.as_sorted_map()?;
    check(map.len()? == SORTED_N, "W10 entries")?;
    let mut prev: Option<u64> = None;
    let (mut count, mut sum) = (0u64, 0u64);
    for e in map.iter()? {
        let e = e?;
        let k = u64::from_be_bytes(e.key()?.as_ref().try_into()?);
        check(prev.is_none_or(|p| p < k), "W10 key order")?;
        let i = e.value()?.as_uint()?;
        check(r.get(i as usize) == Some(&k), "W10 value")?;
        prev = Some(k);
        count += 1;
        sum = sum.wrapping_add(i);
    }
    check(
        count == SORTED_N && sum == SORTED_N * (SORTED_N - 1) / 2,
        "W10 sum",
    )
}

fn w10(dir: &Path, r: &[u64], only: Backends<'_>) -> Res {
    if only.has("memory") {
        let mut mem = Database::memory_with(HashKind::Sha1);
        let s = sorted_insert(&mut mem, r)?;
        check_sorted(&mem, r)?;
        report("W10", "memory", SORTED_N, s, mem.len());
    }
    if !only.has("file") {
        return Ok(());
    }
    let path = dir.join("W10.xdb");
    let mut file = Database::create_with(&path, sha1_opts(Durability::None))?;
    let s = sorted_insert(&mut file, r)?;
    let bytes = file.len();
    drop(file);
    check_sorted(&Database::open_read_only(&path)?, r)?;
    report("W10", "file", SORTED_N, s, bytes);
    Ok(())
}

fn w10_file(dir: &Path, r: &[u64]) -> Res<PathBuf> {
    let path = dir.join("W10.xdb");
    if !path.exists() {
        let mut db = Database::create_with(&path, sha1_opts(Durability::None))?;
        sorted_insert(&mut db, r)?;
    }
    Ok(path)
}

fn w11(dir: &Path, r: &[u64]) -> Res {
    let db = Database::open_read_only(w10_file(dir, r)?)?;
    let moment = db.moment(-1)?;
    let map = moment.as_sorted_map()?;
    let mut rng = Rng::new();
    let (mut sum, mut want) = (0u64, 0u64);
    let t = Instant::now();
    for _ in 0..SORTED_GETS {
        let i = rng.next(SORTED_N);
        want = want.wrapping_add(i);
        let c = map.get(key(r[i as usize]))?.ok_or("missing key")?;
        sum = sum.wrapping_add(c.as_uint()?);
    }
    let s = t.elapsed().as_secs_f64();
    check(sum == want, "W11 sum")?;
    report("W11", "file", SORTED_GETS, s, db.len());
    Ok(())
}

fn w12(dir: &Path, r: &[u64]) -> Res {
    let want = scan_model(r);
    let db = Database::open_read_only(w10_file(dir, r)?)?;
    let moment = db.moment(-1)?;
    let map = moment.as_sorted_map()?;
    let mut rng = Rng::new();
    let (mut count, mut sum) = (0u64, 0u64);
    let t = Instant::now();
    for _ in 0..SCANS {
        let start = key(r[rng.next(SORTED_N) as usize]);
        for e in map.iter_from(start)?.take(SCAN_LEN) {
            sum = sum.wrapping_add(e?.value()?.as_uint()?);
            count += 1;
        }
    }
    let s = t.elapsed().as_secs_f64();
    check((count, sum) == want, "W12 count and sum")?;
    report("W12", "file", SCANS, s, db.len());
    Ok(())
}

fn main() -> Res {
    let filter = std::env::args().nth(1);
    // `W1` or `W1:file` (one backend of a workload that has two)
    let (wanted, backend) = match filter.as_deref().map(|f| f.split_once(':')) {
        Some(Some((id, b))) => (Some(id), Some(b)),
        Some(None) => (filter.as_deref(), None),
        None => (None, None),
    };
    let only = Backends(backend);
    let want = |id: &str| wanted.is_none_or(|f| f == id);
    let dir = std::env::temp_dir().join(format!("xitdb-workloads-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let h = hashes(N);
    let result = (|| -> Res {
        if want("W1") {
            w1(&dir, &h, false, only)?;
        }
        if want("W1b") {
            w1(&dir, &h, true, only)?;
        }
        if want("W2") {
            w2(&dir, &h, false)?;
        }
        if want("W2b") {
            w2(&dir, &h, true)?;
        }
        if want("W3") {
            w3(&dir, &h)?;
        }
        if want("W3d") {
            w3d(&dir, &h)?;
        }
        if want("W3m") {
            w3m(&h)?;
        }
        if want("W4") {
            w4()?;
        }
        if want("W5") {
            w5()?;
        }
        if want("W6") {
            w6(&dir, &h)?;
        }
        if want("W7") {
            w7(&dir, &h)?;
        }
        if want("W8") {
            w8("W8", ListFamily::Rrb)?;
        }
        if want("W13") {
            w8("W13", ListFamily::BTree)?;
        }
        if want("W9") {
            w9(&dir, &h)?;
        }
        if ["W10", "W11", "W12"].iter().any(|w| want(w)) {
            let r = sorted_keys();
            if want("W10") {
                w10(&dir, &r, only)?;
            }
            if want("W11") {
                w11(&dir, &r)?;
            }
            if want("W12") {
                w12(&dir, &r)?;
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
