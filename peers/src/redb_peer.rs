//! The workloads on redb, a durable embedded B-tree: its file backend for
//! "file" rows, `redb::backends::InMemoryBackend` for "memory" rows.
//!
//! Keys are fixed byte arrays: `&[u8; 20]` (W1's SHA-1 hashes) and
//! `&[u8; 8]` (W1b's key bytes). redb stores `[u8; N]` and `&[u8; N]` with
//! the same encoding and type name (its tables are compatible), but
//! `[u8; N]`'s key order compares byte by byte through `u8`'s `Key` impl
//! while `&[u8; N]` compares with one memcmp: the borrowed form is what one
//! uses in practice. redb is ordered, so it hashes nothing: W1b/W2b store
//! and look up the 8 key bytes directly (xitdb hashes them with SHA-1).
//!
//! Durability: redb's default commit is `Durability::Immediate` (fsync).
//! W1 / W1b commit with it (one fsync for the whole transaction: a
//! `Durability::None` commit is not readable after reopening, and W2/W6/W9
//! reopen the file). W3, the spec's "no fsync", runs its 10,000 commits with
//! `Durability::None` and then one empty `Durability::Immediate` commit,
//! inside the timed region, without which none of them would persist. W3d
//! commits each of its 1,000 transactions with `Durability::Immediate`.
//! W10 is one write transaction (committed with `Durability::Immediate`,
//! like W1) inserting `key(r[i]) -> i` in the generator's random order into
//! a `&[u8; 8] -> u64` table; W11 gets and W12 scans (`range(start..)`,
//! taking 100) read it reopened, in one read transaction each.
//! `bytes` is the file's size after the workload (0 for memory rows).

use crate::common::{
    check, emit, key, scan_model, sorted_keys, timed, Ctx, Res, Rng, COMMITS, DURABLE_COMMITS,
    GETS, N, OPENS, SCANS, SCAN_LEN, SORTED_GETS, SORTED_N,
};
use redb::backends::InMemoryBackend;
use redb::{
    Database, Durability, ReadOnlyDatabase, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use std::path::{Path, PathBuf};

/// W1's table: `hash(i) -> i`.
const HASHED: TableDefinition<&[u8; 20], u64> = TableDefinition::new("hashed");
/// W1b's table: `key(i) -> i`.
const KEYED: TableDefinition<&[u8; 8], u64> = TableDefinition::new("keyed");
/// W10's table: `key(r[i]) -> i`.
const SORTED: TableDefinition<&[u8; 8], u64> = TableDefinition::new("sorted");

/// One write transaction putting `key_of(i) -> i` for `i` in `0..N` into
/// `def`, committed durably; returns the seconds.
fn bulk_insert<const L: usize>(
    db: &Database,
    def: TableDefinition<&[u8; L], u64>,
    key_of: impl Fn(u64) -> [u8; L],
) -> Res<f64> {
    let (r, s) = timed(|| -> Res {
        let tx = db.begin_write()?;
        {
            let mut table = tx.open_table(def)?;
            for i in 0..N {
                table.insert(&key_of(i), i)?;
            }
        }
        tx.commit()?;
        Ok(())
    });
    r?;
    Ok(s)
}

/// How many entries `def` holds in `db`'s last commit.
fn entries<const L: usize>(
    db: &impl ReadableDatabase,
    def: TableDefinition<&[u8; L], u64>,
) -> Res<u64> {
    Ok(db.begin_read()?.open_table(def)?.len()?)
}

fn file_len(path: &Path) -> Res<u64> {
    Ok(std::fs::metadata(path)?.len())
}

/// W1 / W1b on both backends (as the backend filter allows).
fn w1<const L: usize>(
    ctx: &Ctx,
    id: &str,
    def: TableDefinition<&[u8; L], u64>,
    key_of: impl Fn(u64) -> [u8; L],
) -> Res {
    if ctx.wants("memory") {
        let db = Database::builder().create_with_backend(InMemoryBackend::new())?;
        let s = bulk_insert(&db, def, &key_of)?;
        check(entries(&db, def)? == N, "W1 entries")?;
        emit("redb", id, "memory", N, s, 0);
    }
    if ctx.wants("file") {
        let path = ctx.dir.join(format!("redb-{id}.redb"));
        let db = Database::create(&path)?;
        let s = bulk_insert(&db, def, &key_of)?;
        drop(db);
        check(
            entries(&ReadOnlyDatabase::open(&path)?, def)? == N,
            "W1 entries",
        )?;
        emit("redb", id, "file", N, s, file_len(&path)?);
    }
    Ok(())
}

/// The file W1 (or W1b) writes, built untimed if this process has none yet.
fn w1_file<const L: usize>(
    ctx: &Ctx,
    id: &str,
    def: TableDefinition<&[u8; L], u64>,
    key_of: impl Fn(u64) -> [u8; L],
) -> Res<PathBuf> {
    let path = ctx.dir.join(format!("redb-{id}.redb"));
    if !path.exists() {
        bulk_insert(&Database::create(&path)?, def, key_of)?;
    }
    Ok(path)
}

/// W2 / W2b: reopen W1's (W1b's) file, GETS random gets in one read
/// transaction.
fn w2<const L: usize>(
    ctx: &Ctx,
    ids: (&str, &str),
    def: TableDefinition<&[u8; L], u64>,
    key_of: impl Fn(u64) -> [u8; L],
) -> Res {
    let path = w1_file(ctx, ids.0, def, &key_of)?;
    let db = ReadOnlyDatabase::open(&path)?;
    let table = db.begin_read()?.open_table(def)?;
    let mut rng = Rng::new();
    let (mut sum, mut want) = (0u64, 0u64);
    let (r, s) = timed(|| -> Res {
        for _ in 0..GETS {
            let i = rng.next(N);
            want = want.wrapping_add(i);
            sum = sum.wrapping_add(table.get(&key_of(i))?.ok_or("missing key")?.value());
        }
        Ok(())
    });
    r?;
    check(sum == want, "W2 sum")?;
    emit("redb", ids.1, "file", GETS, s, file_len(&path)?);
    Ok(())
}

/// W3 / W3d: `n` write transactions, each putting `hash(t) -> t`, with
/// `durability`; a `Durability::None` run ends with one empty durable
/// commit (timed) so that its commits persist.
fn small_commits(ctx: &Ctx, id: &str, n: u64, durability: Durability) -> Res {
    let path = ctx.dir.join(format!("redb-{id}.redb"));
    let db = Database::create(&path)?;
    let (r, s) = timed(|| -> Res {
        for t in 0..n {
            let mut tx = db.begin_write()?;
            tx.set_durability(durability)?;
            tx.open_table(HASHED)?.insert(&ctx.h[t as usize], t)?;
            tx.commit()?;
        }
        if matches!(durability, Durability::None) {
            let mut tx = db.begin_write()?;
            tx.set_durability(Durability::Immediate)?;
            tx.commit()?;
        }
        Ok(())
    });
    r?;
    drop(db);
    check(
        entries(&ReadOnlyDatabase::open(&path)?, HASHED)? == n,
        "W3 entries after reopening",
    )?;
    emit("redb", id, "file", n, s, file_len(&path)?);
    Ok(())
}

/// W6: iterate W1's table (reopened), summing the values.
fn w6(ctx: &Ctx) -> Res {
    let path = w1_file(ctx, "W1", HASHED, |i| ctx.h[i as usize])?;
    let db = ReadOnlyDatabase::open(&path)?;
    let table = db.begin_read()?.open_table(HASHED)?;
    let (r, s) = timed(|| -> Res<(u64, u64)> {
        let (mut count, mut sum) = (0u64, 0u64);
        for e in table.iter()? {
            sum = sum.wrapping_add(e?.1.value());
            count += 1;
        }
        Ok((count, sum))
    });
    let (count, sum) = r?;
    check(count == N && sum == N * (N - 1) / 2, "W6 sum")?;
    emit("redb", "W6", "file", N, s, file_len(&path)?);
    Ok(())
}

/// W9: OPENS times, open W1's file read-only and get one random key.
fn w9(ctx: &Ctx) -> Res {
    let path = w1_file(ctx, "W1", HASHED, |i| ctx.h[i as usize])?;
    let mut rng = Rng::new();
    let (r, s) = timed(|| -> Res {
        for _ in 0..OPENS {
            let db = ReadOnlyDatabase::open(&path)?;
            let i = rng.next(N);
            let v = db
                .begin_read()?
                .open_table(HASHED)?
                .get(&ctx.h[i as usize])?
                .ok_or("missing key")?
                .value();
            check(v == i, "W9 value")?;
        }
        Ok(())
    });
    r?;
    emit("redb", "W9", "file", OPENS, s, file_len(&path)?);
    Ok(())
}

/// W10: one write transaction putting `key(r[i]) -> i` for `i` in
/// `0..SORTED_N` in that (random) order, committed durably; the seconds.
fn sorted_insert(db: &Database, r: &[u64]) -> Res<f64> {
    let (res, s) = timed(|| -> Res {
        let tx = db.begin_write()?;
        {
            let mut table = tx.open_table(SORTED)?;
            for (i, &k) in (0..SORTED_N).zip(r) {
                table.insert(&key(k), i)?;
            }
        }
        tx.commit()?;
        Ok(())
    });
    res?;
    Ok(s)
}

/// Checks W10's table: SORTED_N entries in increasing key order, each
/// `key(r[i]) -> i`.
fn check_sorted(db: &impl ReadableDatabase, r: &[u64]) -> Res {
    let table = db.begin_read()?.open_table(SORTED)?;
    check(table.len()? == SORTED_N, "W10 entries")?;
    let (mut prev, mut sum) = (None::<[u8; 8]>, 0u64);
    for e in table.iter()? {
        let (k, v) = e?;
        let (k, i) = (*k.value(), v.value());
        check(prev.is_none_or(|p| p < k), "W10 key order")?;
        check(r.get(i as usize).map(|&x| key(x)) == Some(k), "W10 value")?;
        prev = Some(k);
        sum = sum.wrapping_add(i);
    }
    check(sum == SORTED_N * (SORTED_N - 1) / 2, "W10 sum")
}

/// W10 on both backends (as the backend filter allows).
fn w10(ctx: &Ctx) -> Res {
    let r = sorted_keys();
    if ctx.wants("memory") {
        let db = Database::builder().create_with_backend(InMemoryBackend::new())?;
        let s = sorted_insert(&db, &r)?;
        check_sorted(&db, &r)?;
        emit("redb", "W10", "memory", SORTED_N, s, 0);
    }
    if ctx.wants("file") {
        let path = ctx.dir.join("redb-W10.redb");
        let db = Database::create(&path)?;
        let s = sorted_insert(&db, &r)?;
        drop(db);
        check_sorted(&ReadOnlyDatabase::open(&path)?, &r)?;
        emit("redb", "W10", "file", SORTED_N, s, file_len(&path)?);
    }
    Ok(())
}

/// The file W10 writes, built untimed if this process has none yet.
fn w10_file(ctx: &Ctx, r: &[u64]) -> Res<PathBuf> {
    let path = ctx.dir.join("redb-W10.redb");
    if !path.exists() {
        sorted_insert(&Database::create(&path)?, r)?;
    }
    Ok(path)
}

/// W11: reopen W10's file, SORTED_GETS random point gets in one read
/// transaction.
fn w11(ctx: &Ctx) -> Res {
    let r = sorted_keys();
    let path = w10_file(ctx, &r)?;
    let db = ReadOnlyDatabase::open(&path)?;
    let table = db.begin_read()?.open_table(SORTED)?;
    let mut rng = Rng::new();
    let (mut sum, mut want) = (0u64, 0u64);
    let (res, s) = timed(|| -> Res {
        for _ in 0..SORTED_GETS {
            let i = rng.next(SORTED_N);
            want = want.wrapping_add(i);
            let v = table.get(&key(r[i as usize]))?.ok_or("missing key")?;
            sum = sum.wrapping_add(v.value());
        }
        Ok(())
    });
    res?;
    check(sum == want, "W11 sum")?;
    emit("redb", "W11", "file", SORTED_GETS, s, file_len(&path)?);
    Ok(())
}

/// W12: reopen W10's file, SCANS scans `range(start..)` taking SCAN_LEN
/// entries from random existing keys, in one read transaction.
fn w12(ctx: &Ctx) -> Res {
    let r = sorted_keys();
    let want = scan_model(&r);
    let path = w10_file(ctx, &r)?;
    let db = ReadOnlyDatabase::open(&path)?;
    let table = db.begin_read()?.open_table(SORTED)?;
    let mut rng = Rng::new();
    let (res, s) = timed(|| -> Res<(u64, u64)> {
        let (mut count, mut sum) = (0u64, 0u64);
        for _ in 0..SCANS {
            let start = key(r[rng.next(SORTED_N) as usize]);
            for e in table.range::<&[u8; 8]>(&start..)?.take(SCAN_LEN) {
                sum = sum.wrapping_add(e?.1.value());
                count += 1;
            }
        }
        Ok((count, sum))
    });
    check(res? == want, "W12 count and sum")?;
    emit("redb", "W12", "file", SCANS, s, file_len(&path)?);
    Ok(())
}

/// Runs workload `id` on redb (`None`: not covered).
pub fn run_redb(id: &str, ctx: &Ctx) -> Option<Res> {
    let hash_of = |i: u64| ctx.h[i as usize];
    Some(match id {
        "W1" => w1(ctx, id, HASHED, hash_of),
        "W1b" => w1(ctx, id, KEYED, key),
        "W2" => w2(ctx, ("W1", "W2"), HASHED, hash_of),
        "W2b" => w2(ctx, ("W1b", "W2b"), KEYED, key),
        "W3" => small_commits(ctx, id, COMMITS, Durability::None),
        "W3d" => small_commits(ctx, id, DURABLE_COMMITS, Durability::Immediate),
        "W6" => w6(ctx),
        "W9" => w9(ctx),
        "W10" => w10(ctx),
        "W11" => w11(ctx),
        "W12" => w12(ctx),
        _ => return None,
    })
}
