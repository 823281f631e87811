//! Hostile bytes: golden files with random damage must open and walk with
//! an `Ok` or an `Err`, never a panic or a hang; hand-made cycles and
//! absurd lengths must give errors without looping or allocating.
//!
//! Failing cases of the property tests are saved in
//! `tests/proptest-regressions/hostile.txt` and replayed first by later
//! runs; commit that file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use xitdb::format::{HashKind, Tag};
use xitdb::json::dump_json;
use xitdb::storage::Storage;
use xitdb::{Cursor, Database, Error, ValueRef};

type R = Result<(), Error>;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::largest_allocation;

#[allow(dead_code)]
mod common;
use common::golden_files;
use common::strategy::persisted;

#[test]
fn the_allocation_counter_sees_large_allocations() {
    let (v, largest) = largest_allocation(|| vec![1u8; 3 << 20]);
    assert_eq!(v.len(), 3 << 20);
    assert!(largest >= 3 << 20);
    let ((), small) = largest_allocation(|| ());
    assert!(small < 1 << 20);
}

// ------------------------------------------------------------ hang watchdog

/// Cases in flight, per thread: when one started and what it is.
fn in_flight() -> &'static Mutex<HashMap<ThreadId, (Instant, String)>> {
    static CASES: OnceLock<Mutex<HashMap<ThreadId, (Instant, String)>>> = OnceLock::new();
    CASES.get_or_init(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(500));
            let cases = in_flight().lock().unwrap_or_else(|e| e.into_inner());
            for (start, what) in cases.values() {
                // Far beyond what any case needs: this only catches hangs.
                if start.elapsed() > Duration::from_secs(120) {
                    eprintln!("HANG: a case has run for {:?}: {what}", start.elapsed());
                    std::process::abort();
                }
            }
        });
        Mutex::new(HashMap::new())
    })
}

struct Watched;

impl Drop for Watched {
    fn drop(&mut self) {
        let id = std::thread::current().id();
        in_flight()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

fn watch(what: impl FnOnce() -> String) -> Watched {
    let id = std::thread::current().id();
    in_flight()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, (Instant::now(), what()));
    Watched
}

// ------------------------------------------------------------------ walking

/// Reads everything reachable from a cursor: every entry, key, value and
/// item, lookups by key, hash and index, and byte values through the
/// reader. The walk itself is bounded (depth and a node budget) so that
/// only the library can hang.
fn walk(c: &Cursor<'_>, depth: usize, budget: &mut u32) {
    if depth > 40 || *budget == 0 {
        return;
    }
    *budget -= 1;
    let _ = c.as_uint();
    let _ = c.as_int();
    let _ = c.as_float();
    let _ = c.format_tag();
    match c.value() {
        Ok(ValueRef::Map(m)) => {
            let _ = m.count();
            for e in m.iter().take(200).flatten() {
                if let Ok(h) = e.hash() {
                    let _ = m.get_by_hash(&h);
                    let _ = m.entry_by_hash(&h);
                }
                if let Ok(k) = e.key() {
                    if let Ok(kb) = k.as_bytes() {
                        let _ = m.get(&kb);
                        let _ = m.contains_key(&kb);
                    }
                    walk(&k, depth + 1, budget);
                }
                if let Ok(v) = e.value() {
                    walk(&v, depth + 1, budget);
                }
            }
            let _ = m.get(b"a key that is not there");
        }
        Ok(ValueRef::Set(s)) => {
            let _ = s.count();
            for e in s.iter().take(200).flatten() {
                if let Ok(h) = e.hash() {
                    let _ = s.contains_hash(&h);
                }
                if let Ok(k) = e.key() {
                    if let Ok(kb) = k.as_bytes() {
                        let _ = s.contains(&kb);
                    }
                    walk(&k, depth + 1, budget);
                }
            }
        }
        Ok(ValueRef::List(l)) => {
            let n = i64::try_from(l.len()).unwrap_or(i64::MAX);
            for i in [0, 1, -1, n / 2, n, -n, i64::MIN] {
                if let Ok(Some(item)) = l.get(i) {
                    walk(&item, depth + 1, budget);
                }
            }
            for item in l.iter().take(200).flatten() {
                walk(&item, depth + 1, budget);
            }
            let _ = l.iter().rev().take(20).count();
        }
        Ok(ValueRef::LinkedList(l)) => {
            let n = i64::try_from(l.len()).unwrap_or(i64::MAX);
            for i in [0, 1, -1, n / 2, n, -n, i64::MIN] {
                if let Ok(Some(item)) = l.get(i) {
                    walk(&item, depth + 1, budget);
                }
            }
            for item in l.iter().take(200).flatten() {
                walk(&item, depth + 1, budget);
            }
            let _ = l.iter().rev().take(20).count();
        }
        Ok(ValueRef::Bytes { .. }) => {
            if let Ok(mut r) = c.reader() {
                let mut buf = [0u8; 4096];
                let mut total = 0usize;
                while let Ok(n) = r.read(&mut buf) {
                    total += n;
                    if n == 0 || total > (1 << 20) {
                        break;
                    }
                }
                let _ = r.seek(SeekFrom::End(-1));
                let _ = r.read(&mut buf);
            }
        }
        _ => {}
    }
}

/// Dumps the database and walks its root and every moment.
fn walk_db<S: Storage>(db: &Database<S>) {
    let _ = dump_json(db);
    let mut budget = 5_000;
    walk(&db.root(), 0, &mut budget);
    if let Ok(n) = db.moment_count() {
        for i in 0..n.min(64) {
            if let Ok(m) = db.moment(i as i64) {
                walk(&m, 0, &mut budget);
            }
        }
        let _ = db.moment(-1).map(|m| walk(&m, 0, &mut budget));
    }
    for step in [
        xitdb::PathStep::Index(-1),
        xitdb::PathStep::Key(b"a"),
        xitdb::PathStep::Index(0),
    ] {
        let _ = db.root().get_path(&[step, xitdb::PathStep::Index(0)]);
    }
}

/// Tries a few writes on a (possibly damaged) database. Whatever happens,
/// no panic; and a transaction that fails leaves the bytes unchanged.
fn try_writes(bytes: Vec<u8>) {
    let Ok(mut db) = Database::from_bytes(bytes) else {
        return;
    };
    let tag = db.header().tag;
    let before = db.storage().as_bytes().to_vec();
    let r = if tag.is_hamt() {
        db.transact_root(|tx| -> R {
            let mut m = tx.root().hash_map()?;
            m.put("hostile", 1u64)?;
            m.remove("a")?;
            m.entry("list")?.array_list()?.append(2u64)
        })
    } else {
        db.transact(|tx| -> R {
            let mut m = tx.root_map()?;
            m.put("hostile", 1u64)?;
            m.put("long", "a value longer than eight bytes")?;
            m.remove("a")?;
            let keys: Vec<Vec<u8>> = m
                .iter()?
                .take(8)
                .filter_map(|e| e.ok()?.key().ok()?.as_bytes().ok().map(|b| b.into_owned()))
                .collect();
            for k in keys {
                let mut c = m.entry(&k)?;
                match c.slot()?.tag {
                    Tag::ArrayList => {
                        let mut l = c.array_list()?;
                        l.append(3u64)?;
                        l.put(0, 4u64)?;
                    }
                    Tag::LinkedArrayList => {
                        let mut l = c.linked_array_list()?;
                        l.append(3u64)?;
                        l.put(-1, 4u64)?;
                        l.insert(0, 5u64)?;
                        l.remove(1)?;
                        let whole = l.slot()?;
                        l.concat(whole)?;
                        let n = l.len()?;
                        l.slice(1, n / 2)?;
                    }
                    Tag::SortedMap => {
                        let mut m = c.sorted_map()?;
                        m.put("hostile", 7u64)?;
                        m.remove("a")?;
                    }
                    Tag::HashMap => {
                        c.hash_map()?.put("x", 5u64)?;
                    }
                    _ => c.write(6u64)?,
                }
            }
            Ok(())
        })
    };
    if r.is_err() && db.storage().as_bytes() != &before[..] {
        panic!("a failed transaction changed the bytes: {r:?}");
    }
    let _ = db.revert_to(0);
    let n = db.moment_count().unwrap_or(0);
    let _ = db.truncate_history(n / 2);
    walk_db(&db);
}

// -------------------------------------------------------------- mutations

/// Golden files small enough to walk many times (all but the three largest).
const FILES: &[&str] = &[
    "empty_db",
    "empty_moment",
    "array_list_size0",
    "array_list_size17",
    "array_list_size257",
    "array_list_growth",
    "array_list_slice",
    "bytes_format_tags",
    "clone_slot_reuse",
    "counted_hash_map",
    "counted_hash_set",
    "crash_mid_transaction",
    "empty_containers",
    "failed_first_transaction",
    "failed_transaction",
    "freeze",
    "hash_map_deep",
    "hash_map_nested",
    "hash_map_small",
    "hash_set",
    "history_slice",
    "kind_file",
    "linked_list_append",
    "linked_list_insert",
    "linked_list_remove",
    "linked_list_slice",
    "scalars_float",
    "scalars_int",
    "toplevel_counted_hash_map",
    "toplevel_hash_map",
    "undo",
    "many_moments",
    "array_list_big",
    "scalars_bytes",
    "linked_list_concat",
    "linked_list_rrb_stress",
    // upstream's B-tree family (tests/fixtures/golden-btree)
    "btree/linked_list_btree_put",
    "btree/linked_list_btree_insert",
    "btree/linked_list_btree_concat",
    "btree/mixed",
    "btree/sorted_map_small",
    "btree/sorted_map_nested",
    "btree/sorted_set_basic",
];

fn goldens() -> &'static [Vec<u8>] {
    static FILES_BYTES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES_BYTES.get_or_init(|| {
        FILES
            .iter()
            .map(|f| {
                let path = match f.strip_prefix("btree/") {
                    Some(f) => golden_files::btree_path(&format!("{f}.xdb")),
                    None => golden_files::path(&format!("{f}.xdb")),
                };
                std::fs::read(path).unwrap()
            })
            .collect()
    })
}

/// A number chosen relative to the file being damaged.
#[derive(Debug, Clone)]
enum Num {
    /// Used as is.
    Abs(u64),
    /// The file length minus this much.
    FromEnd(u8),
    /// Somewhere inside the file.
    Inside(u64),
}

impl Num {
    fn resolve(&self, len: u64) -> u64 {
        match *self {
            Num::Abs(v) => v,
            Num::FromEnd(d) => len.wrapping_sub(d as u64),
            Num::Inside(v) => v.checked_rem(len).unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { pos: Num, bit: u8 },
    Overwrite { pos: Num, data: Vec<u8> },
    WriteU64 { pos: Num, value: Num },
    WriteSlot { pos: Num, tag: u8, target: Num },
    Truncate { len: Num },
    Splice { from: Num, len: u16, to: Num },
    AppendJunk(Vec<u8>),
}

fn put(bytes: &mut [u8], pos: u64, data: &[u8]) {
    let len = bytes.len() as u64;
    let Some(start) = pos.checked_rem(len) else {
        return;
    };
    let start = start as usize;
    let end = (start + data.len()).min(bytes.len());
    bytes[start..end].copy_from_slice(&data[..end - start]);
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len() as u64;
    match m {
        Mutation::FlipBit { pos, bit } => {
            if let Some(p) = pos.resolve(len).checked_rem(len) {
                bytes[p as usize] ^= 1 << (bit % 8);
            }
        }
        Mutation::Overwrite { pos, data } => put(bytes, pos.resolve(len), data),
        Mutation::WriteU64 { pos, value } => {
            put(bytes, pos.resolve(len), &value.resolve(len).to_be_bytes())
        }
        Mutation::WriteSlot { pos, tag, target } => {
            let mut slot = [0u8; 9];
            slot[0] = *tag;
            slot[1..].copy_from_slice(&target.resolve(len).to_be_bytes());
            put(bytes, pos.resolve(len), &slot);
        }
        Mutation::Truncate { len: n } => {
            let n = n.resolve(len).checked_rem(len + 1).unwrap_or(0);
            bytes.truncate(n as usize);
        }
        Mutation::Splice { from, len: n, to } => {
            if let Some(f) = from.resolve(len).checked_rem(len) {
                let f = f as usize;
                let chunk = bytes[f..(f + *n as usize).min(bytes.len())].to_vec();
                put(bytes, to.resolve(len), &chunk);
            }
        }
        Mutation::AppendJunk(junk) => bytes.extend_from_slice(junk),
    }
}

fn position() -> impl Strategy<Value = Num> {
    prop_oneof![
        2 => (0u64..180).prop_map(Num::Abs),
        5 => any::<u64>().prop_map(Num::Inside),
        1 => any::<u8>().prop_map(Num::FromEnd),
    ]
}

fn number() -> impl Strategy<Value = Num> {
    prop_oneof![
        prop::sample::select(vec![
            0u64,
            1,
            12,
            36,
            144,
            180,
            u64::MAX,
            u64::MAX - 8,
            u64::MAX - 16,
            i64::MAX as u64,
            1 << 62,
            (1 << 62) - 1,
            1 << 32,
        ])
        .prop_map(Num::Abs),
        (0u8..32).prop_map(Num::FromEnd),
        any::<u64>().prop_map(Num::Inside),
        any::<u64>().prop_map(Num::Abs),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (position(), any::<u8>()).prop_map(|(pos, bit)| Mutation::FlipBit { pos, bit }),
        2 => (position(), prop::collection::vec(any::<u8>(), 1..24))
            .prop_map(|(pos, data)| Mutation::Overwrite { pos, data }),
        3 => (position(), number()).prop_map(|(pos, value)| Mutation::WriteU64 { pos, value }),
        3 => (position(), prop_oneof![0u8..14, 0x80u8..0x8e, any::<u8>()], number())
            .prop_map(|(pos, tag, target)| Mutation::WriteSlot { pos, tag, target }),
        1 => number().prop_map(|len| Mutation::Truncate { len }),
        2 => (position(), 1u16..600, position())
            .prop_map(|(from, len, to)| Mutation::Splice { from, len, to }),
        1 => prop::collection::vec(any::<u8>(), 1..300).prop_map(Mutation::AppendJunk),
    ]
}

fn damaged() -> impl Strategy<Value = (usize, Vec<Mutation>)> {
    (0..FILES.len(), prop::collection::vec(mutation(), 1..5))
}

fn damage(file: usize, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = goldens()[file].clone();
    for m in mutations {
        apply(&mut bytes, m);
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10000,
        max_shrink_iters: 2000,
        ..persisted(file!())
    })]

    #[test]
    fn damaged_files_read_without_panic_or_hang((file, mutations) in damaged()) {
        let bytes = damage(file, &mutations);
        let _w = watch(|| format!("read {} with {mutations:?}", FILES[file]));
        if let Ok(db) = Database::from_slice(&bytes) {
            walk_db(&db);
        }
    }

    #[test]
    fn damaged_files_take_writes_without_panic_or_hang((file, mutations) in damaged()) {
        let bytes = damage(file, &mutations);
        let _w = watch(|| format!("write {} with {mutations:?}", FILES[file]));
        try_writes(bytes);
    }
}

#[test]
fn undamaged_goldens_walk_and_write_cleanly() {
    // the walker itself on good files: every dump succeeds
    for (name, bytes) in FILES.iter().zip(goldens()) {
        let db = Database::from_slice(bytes).unwrap();
        dump_json(&db).unwrap_or_else(|e| panic!("{name}: {e}"));
        walk_db(&db);
        try_writes(bytes.clone());
    }
}

// --------------------------------------------------------- hand-made cases

/// A SHA-1 database with one moment: a map holding "a" → 1 and a long
/// byte value under "b". Returns the bytes, the map's root block and the
/// position of the long value's length prefix.
fn one_map() -> (Vec<u8>, u64, u64) {
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put("a", 1u64)?;
        m.put("b", vec![7u8; 100].as_slice())
    })
    .unwrap();
    let moment = db.moment(-1).unwrap();
    assert_eq!(moment.tag(), Tag::HashMap);
    let block = moment.slot().value;
    let b = moment.as_map().unwrap().get(b"b").unwrap().unwrap();
    assert_eq!(b.tag(), Tag::Bytes);
    let prefix = b.slot().value;
    (db.into_bytes(), block, prefix)
}

fn index_slot(target: u64) -> [u8; 9] {
    let mut s = [0u8; 9];
    s[0] = Tag::Index as u8;
    s[1..].copy_from_slice(&target.to_be_bytes());
    s
}

#[test]
fn a_map_block_pointing_to_itself_is_an_error() {
    let (good, block, _) = one_map();
    // sha1("a") ends in 0xb8 → root slot 8; slot 0 is free
    let mut bytes = good.clone();
    let at = (block) as usize;
    assert_eq!(&bytes[at..at + 9], &[0u8; 9]);
    bytes[at..at + 9].copy_from_slice(&index_slot(block));
    let db = Database::from_slice(&bytes).unwrap();
    let _w = watch(|| "map cycle, one slot".into());
    assert!(dump_json(&db).is_err(), "a cycle must not dump");
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert!(m.iter().any(|e| e.is_err()), "iteration reports the cycle");
    // the key outside the cycle is still found
    assert_eq!(m.get(b"a").unwrap().unwrap().as_uint().unwrap(), 1);

    // every slot points back at the block: lookups and iteration stop too
    let mut all = good.clone();
    for i in 0..16 {
        let at = block as usize + 9 * i;
        all[at..at + 9].copy_from_slice(&index_slot(block));
    }
    let db = Database::from_slice(&all).unwrap();
    let _w = watch(|| "map cycle, every slot".into());
    assert!(dump_json(&db).is_err());
    let m = db.moment(-1).unwrap().as_map().unwrap();
    assert!(m.get(b"a").is_err(), "lookup must end with an error");
    assert!(m.iter().any(|e| e.is_err()));
    assert!(m.iter().count() < 1000);
    // and a transaction through the cycle fails and changes nothing
    let mut db = Database::from_bytes(all.clone()).unwrap();
    let r = db.transact(|tx| tx.root_map()?.put("a", 2u64));
    assert!(r.is_err());
    assert_eq!(db.storage().as_bytes(), &all[..]);
}

#[test]
fn a_map_value_containing_its_own_map_is_an_error() {
    let (good, _, _) = one_map();
    let db = Database::from_slice(&good).unwrap();
    let moment = db.moment(-1).unwrap();
    let map_slot = moment.slot().encode();
    let value_pos = moment
        .as_map()
        .unwrap()
        .get(b"a")
        .unwrap()
        .unwrap()
        .position()
        .unwrap() as usize;
    let mut bytes = good.clone();
    bytes[value_pos..value_pos + 9].copy_from_slice(&map_slot);
    let db = Database::from_slice(&bytes).unwrap();
    let _w = watch(|| "map containing itself".into());
    assert!(dump_json(&db).is_err());
    // walking a few levels down is fine: every level is the same map
    let mut c = db.moment(-1).unwrap();
    for _ in 0..100 {
        c = c.as_map().unwrap().get(b"a").unwrap().unwrap();
    }
    assert_eq!(c.tag(), Tag::HashMap);
}

#[test]
fn a_byte_length_of_u64_max_is_an_error_without_allocating() {
    let (good, _, prefix) = one_map();
    for claimed in [
        u64::MAX,
        u64::MAX - 7,
        1 << 62,
        good.len() as u64, // more than is left after the prefix
        101,               // one byte more than stored: reads into what follows
    ] {
        let mut bytes = good.clone();
        let p = prefix as usize;
        bytes[p..p + 8].copy_from_slice(&claimed.to_be_bytes());
        let db = Database::from_slice(&bytes).unwrap();
        let m = db.moment(-1).unwrap().as_map().unwrap();
        let c = m.get(b"b").unwrap().unwrap();
        let ((), largest) = largest_allocation(|| {
            let past_the_end = prefix as u128 + 8 + claimed as u128 > good.len() as u128;
            if past_the_end {
                assert!(c.as_bytes().is_err(), "as_bytes with length {claimed}");
                assert!(c.bytes_with_format().is_err());
                assert!(c.value().is_err());
                assert!(c.reader().is_err());
                assert!(dump_json(&db).is_err(), "dump with length {claimed}");
            } else {
                // a length that fits the storage reads whatever lies there
                let _ = c.as_bytes();
                let _ = dump_json(&db);
                let _ = c.reader().map(|mut r| r.read_to_end(&mut Vec::new()));
            }
        });
        assert!(
            largest < 1 << 20,
            "a {claimed}-byte claim allocated {largest} bytes"
        );
    }
}

#[test]
fn a_tagged_byte_value_whose_tag_lies_past_the_end_is_an_error() {
    let mut db = Database::memory();
    db.transact(|tx| {
        tx.root_map()?
            .put("t", xitdb::Value::tagged(b"a long tagged value", *b"tg"))
    })
    .unwrap();
    let c = db
        .moment(-1)
        .unwrap()
        .as_map()
        .unwrap()
        .get(b"t")
        .unwrap()
        .unwrap();
    assert_eq!(c.format_tag().unwrap(), Some(*b"tg"));
    let prefix = c.slot().value as usize;
    let mut bytes = db.into_bytes();
    let len = bytes.len();
    // the payload now ends exactly at the end of the file: no room for the tag
    let claim = (len - prefix - 8) as u64;
    bytes[prefix..prefix + 8].copy_from_slice(&claim.to_be_bytes());
    let db = Database::from_slice(&bytes).unwrap();
    let c = db
        .moment(-1)
        .unwrap()
        .as_map()
        .unwrap()
        .get(b"t")
        .unwrap()
        .unwrap();
    assert!(c.format_tag().is_err());
    assert!(c.bytes_with_format().is_err());
}

#[test]
fn a_list_containing_itself_is_an_error() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().array_list()?;
        l.append(1u64)?;
        l.append(2u64)
    })
    .unwrap();
    let moment = db.moment(-1).unwrap();
    let list_slot = moment.slot().encode();
    let items: Vec<usize> = moment
        .as_list()
        .unwrap()
        .iter()
        .map(|c| c.unwrap().position().unwrap() as usize)
        .collect();
    let mut bytes = db.into_bytes();
    for at in items {
        bytes[at..at + 9].copy_from_slice(&list_slot);
    }
    let db = Database::from_slice(&bytes).unwrap();
    let _w = watch(|| "list containing itself twice".into());
    assert!(dump_json(&db).is_err());
    walk_db(&db);
}

#[test]
fn a_linked_list_block_pointing_to_itself_ends() {
    let mut db = common::storage::rrb_memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().linked_array_list()?;
        for i in 0..40u64 {
            l.append(i)?;
        }
        Ok(())
    })
    .unwrap();
    let moment = db.moment(-1).unwrap();
    let header = moment.slot().value as usize;
    let mut bytes = db.into_bytes();
    let root = u64::from_be_bytes(bytes[header + 8..header + 16].try_into().unwrap());
    let shift = bytes[header + 16];
    assert!(shift >= 1, "40 items need an internal level");
    // entry 1 of the root block now points at the root block itself
    let e = root as usize + 17;
    let mut entry = [0u8; 17];
    entry[0] = Tag::Index as u8;
    entry[1..9].copy_from_slice(&root.to_be_bytes());
    entry[9..].copy_from_slice(&1000u64.to_be_bytes());
    bytes[e..e + 17].copy_from_slice(&entry);
    // and the header claims far more items than exist
    bytes[header..header + 8].copy_from_slice(&u64::MAX.to_be_bytes());
    let db = Database::from_slice_with(&bytes, common::storage::rrb_options()).unwrap();
    let _w = watch(|| "linked list cycle".into());
    let _ = dump_json(&db);
    let l = db.moment(-1).unwrap().as_linked_list().unwrap();
    assert!(l.iter().take(1_000_000).count() < 1_000_000);
    let _ = l.get(500);
    let _ = l.get(-1);
    walk_db(&db);
}

// ------------------------------------------------------------ B-tree lists

/// The bytes of a database whose newest moment is a B-tree linked list of
/// `n` items, with the list's header and root node positions.
fn btree_list(n: u64) -> (Vec<u8>, u64, u64) {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().linked_array_list()?;
        for i in 0..n {
            l.append(i)?;
        }
        Ok(())
    })
    .unwrap();
    let header = db.moment(-1).unwrap().slot().value;
    let bytes = db.into_bytes();
    let root = u64::from_be_bytes(bytes[header as usize + 8..][..8].try_into().unwrap());
    (bytes, header, root)
}

fn btree_options() -> xitdb::Options {
    xitdb::Options {
        list_family: Some(xitdb::ListFamily::BTree),
        ..xitdb::Options::default()
    }
}

/// Reads, walks, verifies, compacts and edits a damaged B-tree list:
/// errors are fine, panics and hangs are not, and a failed edit leaves the
/// bytes as they were.
fn abuse_btree_list(bytes: Vec<u8>, what: &'static str) {
    let _w = watch(|| what.into());
    let db = Database::from_slice_with(&bytes, btree_options()).unwrap();
    let _ = dump_json(&db);
    let report = db.verify().unwrap();
    assert!(report.problem.is_some(), "{what}: verify found nothing");
    if let Ok(l) = db.moment(-1).and_then(|m| m.as_linked_list()) {
        assert!(l.iter().take(100_000).count() < 100_000, "{what}");
        assert!(l.iter().rev().take(100_000).count() < 100_000, "{what}");
        let _ = l.get(500);
        let _ = l.get(-1);
    }
    walk_db(&db);
    let mut dst = Database::memory();
    let _ = db.compact_into(&mut dst, xitdb::compact::Keep::All, &mut |_| {});
    let mut db = Database::from_bytes_with(bytes, btree_options()).unwrap();
    let edits: [&dyn Fn(&mut xitdb::LinkedListMut<'_>) -> R; 7] = [
        &|l| l.append(1u64),
        &|l| l.insert(0, 1u64),
        &|l| l.insert(-1, 1u64),
        &|l| l.remove(500),
        &|l| l.put(-1, 1u64),
        &|l| l.slice(3, 30),
        &|l| {
            let s = l.slot()?;
            l.concat(s)
        },
    ];
    for edit in edits {
        let before = db.storage().as_bytes().to_vec();
        let r = db.transact(|tx| edit(&mut tx.root().linked_array_list()?));
        if r.is_err() {
            assert_eq!(db.storage().as_bytes(), &before[..], "{what}: {r:?}");
        }
    }
}

fn put_u64_at(bytes: &mut [u8], pos: u64, v: u64) {
    bytes[pos as usize..pos as usize + 8].copy_from_slice(&v.to_be_bytes());
}

fn put_slot_at(bytes: &mut [u8], pos: u64, tag: Tag, v: u64) {
    bytes[pos as usize] = tag as u8;
    put_u64_at(bytes, pos + 1, v);
}

/// Child `i`'s slot and count in a list branch.
fn child_at(node: u64, i: u64) -> (u64, u64) {
    (node + 2 + 9 * i, node + 146 + 8 * i)
}

#[test]
fn a_btree_list_branch_pointing_to_itself_ends() {
    let (mut bytes, header, root) = btree_list(40);
    assert_eq!(bytes[root as usize], 1, "40 items need a branch root");
    let (slot, count) = child_at(root, 1);
    put_slot_at(&mut bytes, slot, Tag::Index, root);
    put_u64_at(&mut bytes, count, u64::MAX / 2);
    put_u64_at(&mut bytes, header, u64::MAX);
    abuse_btree_list(bytes, "a B-tree list branch containing itself");
}

#[test]
fn btree_list_counts_that_lie_are_errors() {
    let (good, header, root) = btree_list(300);
    // a count far above what the child holds
    let mut bytes = good.clone();
    let (_, count) = child_at(root, 0);
    put_u64_at(&mut bytes, count, 1 << 40);
    put_u64_at(&mut bytes, header, (1 << 40) + 300);
    abuse_btree_list(bytes, "a count above its child's items");
    // counts that add up to less than the header's size
    let mut bytes = good.clone();
    put_u64_at(&mut bytes, header, 10_000);
    abuse_btree_list(bytes, "a size above the counts");
    // a leaf where a branch belongs: leaves at different depths
    let mut bytes = good.clone();
    let (slot, _) = child_at(root, 1);
    let child = u64::from_be_bytes(bytes[slot as usize + 1..][..8].try_into().unwrap());
    let (grandchild, _) = child_at(child, 0);
    let leaf = u64::from_be_bytes(bytes[grandchild as usize + 1..][..8].try_into().unwrap());
    put_slot_at(&mut bytes, slot, Tag::Index, leaf);
    abuse_btree_list(bytes, "leaves at two depths");
    // a node whose kind byte is neither leaf nor branch, and one claiming 200 entries
    let mut bytes = good.clone();
    bytes[root as usize] = 7;
    abuse_btree_list(bytes, "a bad node kind");
    let mut bytes = good;
    bytes[root as usize + 1] = 200;
    abuse_btree_list(bytes, "a node of 200 entries");
}
