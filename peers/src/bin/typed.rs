//! `typed`: 100,000 records of a 10-field struct, written and read as
//! xitdb typed records (native maps of fields), as a postcard blob in
//! xitdb, and as a postcard blob in redb (which stores serde values as
//! bytes). All three in memory.
//!
//! `cargo run --release -p xitdb-peers --bin typed` prints one JSON line
//! per measurement (the workloads' format, `bytes` = storage size or bytes
//! written) and a summary of the two goals of issue 13: a typed read of one
//! record within 2x of decoding the blob, and a one-field update writing at
//! most 10% of the record's bytes.

#![allow(clippy::indexing_slicing)]

use redb::backends::InMemoryBackend;
use redb::{ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use xitdb::{Database, Error};
use xitdb_peers::common::{check, emit, key, timed, Res, Rng, N};

/// The record: ten fields of the usual kinds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Record {
    id: u64,
    name: String,
    email: String,
    age: u32,
    score: f64,
    active: bool,
    tags: Vec<String>,
    city: String,
    balance: i64,
    note: Option<String>,
}

fn record(i: u64) -> Record {
    Record {
        id: i,
        name: format!("user {i}"),
        email: format!("user{i}@example.com"),
        age: (i % 90) as u32,
        score: i as f64 / 7.0,
        active: i.is_multiple_of(3),
        tags: vec!["a".into(), format!("t{}", i % 10)],
        city: ["London", "Paris", "Zürich"][(i % 3) as usize].into(),
        balance: i as i64 - 50_000,
        note: i.is_multiple_of(2).then(|| "even".into()),
    }
}

/// Random record indices, the same for every system.
fn picks() -> Vec<u64> {
    let mut rng = Rng::new();
    (0..N).map(|_| rng.next(N)).collect()
}

const BLOBS: TableDefinition<&[u8; 8], &[u8]> = TableDefinition::new("blobs");

fn blob(r: &Record) -> Res<Vec<u8>> {
    Ok(postcard::to_allocvec(r)?)
}

/// Writes every record into `records` of one transaction, with `put`.
fn xitdb_write(
    put: impl Fn(&mut xitdb::MapMut<'_>, &[u8; 8], &Record) -> Result<(), Error>,
) -> Res<(Database, f64)> {
    let mut db = Database::memory();
    let records: Vec<Record> = (0..N).map(record).collect();
    let (r, s) = timed(|| {
        db.transact(|tx| -> Result<(), Error> {
            let mut map = tx.root_map()?.into_entry("records")?.hash_map()?;
            for (i, r) in records.iter().enumerate() {
                put(&mut map, &key(i as u64), r)?;
            }
            Ok(())
        })
    });
    r?;
    Ok((db, s))
}

/// Reads the picked records with `get`, checking each id.
fn xitdb_read(
    db: &Database,
    picks: &[u64],
    get: impl Fn(&xitdb::MapView<'_>, &[u8; 8]) -> Res<Record>,
) -> Res<f64> {
    let map = db.moment(-1)?.as_map()?.require("records")?.as_map()?;
    let (r, s) = timed(|| -> Res {
        for &i in picks {
            let r = get(&map, &key(i))?;
            check(r.id == i, "record id")?;
        }
        Ok(())
    });
    r?;
    Ok(s)
}

/// Times decoding the records under pre-looked-up cursors (`rounds` times
/// over), so that only the decode (and the memory it touches) is measured.
fn decode_loop(
    cursors: &[xitdb::Cursor<'_>],
    rounds: usize,
    decode: impl Fn(&xitdb::Cursor<'_>) -> Res<Record>,
) -> Res<f64> {
    let (r, s) = timed(|| -> Res {
        for c in (0..rounds).flat_map(|_| cursors) {
            black_box(decode(c)?);
        }
        Ok(())
    });
    r?;
    Ok(s / rounds as f64)
}

/// The cursors of the picked records (cold: spread over the whole
/// database) and of 1,000 records read 100 times over (hot: in cache).
fn cursors<'d>(
    db: &'d Database,
    picks: &[u64],
) -> Res<(Vec<xitdb::Cursor<'d>>, Vec<xitdb::Cursor<'d>>)> {
    let map = db.moment(-1)?.as_map()?.require("records")?.as_map()?;
    let cold = picks
        .iter()
        .map(|&i| map.require(key(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let hot = picks[..1000]
        .iter()
        .map(|&i| map.require(key(i)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((cold, hot))
}

/// Decode figures of one encoding: cold (per record over 100,000 random
/// records) and hot (the same 1,000 records, 100 rounds).
fn decode_figures(
    db: &Database,
    picks: &[u64],
    what: &str,
    decode: impl Fn(&xitdb::Cursor<'_>) -> Res<Record> + Copy,
) -> Res<(f64, f64)> {
    let (cold, hot) = cursors(db, picks)?;
    let rounds = if std::env::args().any(|a| a == "profile") {
        50
    } else {
        1
    };
    let cold_s = decode_loop(&cold, rounds, decode)?;
    emit(
        "xitdb",
        &format!("{what} decode (cold)"),
        "memory",
        N,
        cold_s,
        0,
    );
    let hot_rounds = if rounds > 1 { 2000 } else { 100 };
    let hot_s = decode_loop(&hot, hot_rounds, decode)? * (N as f64 / hot.len() as f64);
    emit(
        "xitdb",
        &format!("{what} decode (hot)"),
        "memory",
        N,
        hot_s,
        0,
    );
    Ok((cold_s, hot_s))
}

struct Figures {
    typed_read: f64,
    blob_read: f64,
    typed_decode: f64,
    blob_decode: f64,
    typed_hot: f64,
    blob_hot: f64,
}

fn typed_runs(picks: &[u64]) -> Res<(f64, f64, f64)> {
    let (db, s) = xitdb_write(|m, k, r| m.put_typed(k, r))?;
    emit("xitdb", "typed write", "memory", N, s, db.len());
    let read = xitdb_read(&db, picks, |m, k| {
        Ok(m.get_typed(k)?.ok_or("missing record")?)
    })?;
    emit("xitdb", "typed read", "memory", N, read, db.len());
    let (decode, hot) = decode_figures(&db, picks, "typed", |c| Ok(c.read_typed()?))?;
    one_field_update(db)?;
    Ok((read, decode, hot))
}

fn blob_runs(picks: &[u64]) -> Res<(f64, f64, f64)> {
    let (db, s) = xitdb_write(|m, k, r| {
        let b = postcard::to_allocvec(r).map_err(|_| Error::InvalidArgument("postcard"))?;
        m.put(k, &b)
    })?;
    emit("xitdb", "blob write", "memory", N, s, db.len());
    let read = xitdb_read(&db, picks, |m, k| {
        let bytes = m.require(k)?.as_bytes()?;
        Ok(postcard::from_bytes(&bytes)?)
    })?;
    emit("xitdb", "blob read", "memory", N, read, db.len());
    let (decode, hot) = decode_figures(&db, picks, "blob", |c| {
        Ok(postcard::from_bytes(&c.as_bytes()?)?)
    })?;
    Ok((read, decode, hot))
}

fn redb_runs(picks: &[u64]) -> Res<f64> {
    let db = redb::Database::builder().create_with_backend(InMemoryBackend::new())?;
    let blobs: Vec<Vec<u8>> = (0..N).map(|i| blob(&record(i))).collect::<Res<_>>()?;
    let (r, s) = timed(|| -> Res {
        let tx = db.begin_write()?;
        {
            let mut table = tx.open_table(BLOBS)?;
            for (i, b) in blobs.iter().enumerate() {
                table.insert(&key(i as u64), b.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    });
    r?;
    emit("redb", "blob write", "memory", N, s, 0);
    let tx = db.begin_read()?;
    let table = tx.open_table(BLOBS)?;
    let (r, read) = timed(|| -> Res {
        for &i in picks {
            let v = table.get(&key(i))?.ok_or("missing record")?;
            let r: Record = postcard::from_bytes(v.value())?;
            check(r.id == i, "record id")?;
        }
        Ok(())
    });
    r?;
    emit("redb", "blob read", "memory", N, read, 0);
    Ok(read)
}

/// One field of one record changes: the bytes a commit appends, against
/// a commit that changes nothing, and against the record's own size.
fn one_field_update(mut db: Database) -> Res {
    let floor = {
        let before = db.len();
        db.transact(|tx| tx.root_map().map(drop))?;
        db.len() - before
    };
    // the record alone in a database: its size, and what a one-field
    // update of it writes besides the new moment
    let mut r = record(42);
    let mut one = Database::memory();
    one.transact(|tx| tx.root_map().map(drop))?;
    let before = one.len();
    one.transact(|tx| tx.root_map()?.put_typed("r", &r))?;
    let alone = one.len() - before - floor;
    let mut changed = r.clone();
    changed.age += 1;
    let before = one.len();
    one.transact(|tx| tx.root_map()?.put_typed("r", &changed))?;
    let alone_update = one.len() - before - floor;
    println!(
        "record alone: {alone} bytes typed ({} as a postcard blob); a one-field update of it \
         writes {alone_update} bytes besides the new moment ({:.1}% of the record)",
        blob(&r)?.len(),
        100.0 * alone_update as f64 / alone as f64
    );
    r.age += 1;
    let before = db.len();
    db.transact(|tx| {
        tx.root_map()?
            .into_entry("records")?
            .hash_map()?
            .put_typed(key(42), &r)
    })?;
    let written = db.len() - before;
    println!(
        "one-field update among 100,000 records: {written} bytes appended ({floor} for the new \
         moment and root map, {} below them: the path through the records map, then the record)",
        written - floor
    );
    Ok(())
}

fn main() -> Res {
    let picks = picks();
    let (typed_read, typed_decode, typed_hot) = typed_runs(&picks)?;
    let (blob_read, blob_decode, blob_hot) = blob_runs(&picks)?;
    let redb_read = redb_runs(&picks)?;
    let f = Figures {
        typed_read,
        blob_read,
        typed_decode,
        blob_decode,
        typed_hot,
        blob_hot,
    };
    let per = |s: f64| s * 1e9 / N as f64;
    println!(
        "per record: read (lookup + decode) typed {:.0} ns, blob {:.0} ns (ratio {:.2}), redb blob {:.0} ns",
        per(f.typed_read),
        per(f.blob_read),
        f.typed_read / f.blob_read,
        per(redb_read),
    );
    println!(
        "per record: decode cold typed {:.0} ns, blob {:.0} ns (ratio {:.2}); hot typed {:.0} ns, blob {:.0} ns (ratio {:.2})",
        per(f.typed_decode),
        per(f.blob_decode),
        f.typed_decode / f.blob_decode,
        per(f.typed_hot),
        per(f.blob_hot),
        f.typed_hot / f.blob_hot
    );
    Ok(())
}
