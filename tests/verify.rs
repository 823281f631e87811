//! `verify`: golden files and API-built databases verify clean; hand-made
//! corruptions are reported with the right kind and byte position; damaged
//! golden files never make it panic, hang or allocate wildly.
//!
//! Failing cases of the property tests are saved in
//! `tests/proptest-regressions/verify.txt` and replayed first by later
//! runs; commit that file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use xitdb::format::{HashKind, Slot, Tag};
use xitdb::json::dump_json;
use xitdb::storage::Storage;
use xitdb::verify::{Problem, ProblemKind, Report};
use xitdb::{Database, Error, Value};

type R = Result<(), Error>;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::largest_allocation;

#[allow(dead_code)]
mod common;
use common::golden_files::{dir as golden_dir, fixtures, name};
use common::model::{Checker, Run};
use common::strategy::{op, persisted, steps_of};

/// What verify may allocate at once for `len` bytes of input: a small
/// constant, plus tables that grow with the number of blocks.
fn allowance(len: usize) -> usize {
    4096 + 2 * len
}

// ------------------------------------------------------------------ helpers

/// Every golden database, by name.
fn goldens() -> &'static [(String, Vec<u8>)] {
    static ALL: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    ALL.get_or_init(|| {
        fixtures()
            .iter()
            .map(|p| (name(p), std::fs::read(p).unwrap()))
            .collect()
    })
}

/// Golden files marked † in the golden README: the reference lost `full`
/// flags in their linked lists.
fn dagger() -> Vec<String> {
    let readme = std::fs::read_to_string(golden_dir().join("README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains('†'))
        .filter_map(|l| l.split('`').nth(1))
        .map(|f| f.trim_end_matches(".xdb").to_string())
        .collect()
}

/// The report on crafted bytes, read in the RRB list family (the crafted
/// linked lists are of that family; damaged ones could tell neither).
fn report(bytes: &[u8]) -> Report {
    let db = Database::from_slice_with(bytes, common::storage::rrb_options()).unwrap();
    db.verify().unwrap()
}

#[track_caller]
fn clean<S: Storage>(db: &Database<S>) -> Report {
    let r = db.verify().unwrap();
    assert!(
        r.problem.is_none(),
        "unexpected problem: {}",
        r.problem.unwrap()
    );
    assert_eq!(r.warning_count, 0, "unexpected warnings: {:?}", r.warnings);
    r
}

#[track_caller]
fn problem(bytes: &[u8]) -> Problem {
    let r = report(bytes);
    r.problem.expect("a problem was expected")
}

#[track_caller]
fn expect(bytes: &[u8], kind: ProblemKind, pos: u64) {
    let p = problem(bytes);
    assert_eq!((p.kind, p.pos), (kind, pos), "{p}");
}

fn put_u64(bytes: &mut [u8], pos: u64, v: u64) {
    let p = pos as usize;
    bytes[p..p + 8].copy_from_slice(&v.to_be_bytes());
}

fn get_u64(bytes: &[u8], pos: u64) -> u64 {
    let p = pos as usize;
    u64::from_be_bytes(bytes[p..p + 8].try_into().unwrap())
}

fn put_slot(bytes: &mut [u8], pos: u64, slot: Slot) {
    let p = pos as usize;
    bytes[p..p + 9].copy_from_slice(&slot.encode());
}

/// Positions of the slots of the block at `block` whose tag is `tag`.
fn slots_with(bytes: &[u8], block: u64, tag: Tag) -> Vec<u64> {
    (0..16)
        .map(|i| block + 9 * i)
        .filter(|&p| bytes[p as usize] & 0x7F == tag as u8)
        .collect()
}

// -------------------------------------------------------------- golden files

#[test]
fn every_golden_file_verifies_clean() {
    let dagger = dagger();
    assert!(dagger.contains(&"linked_list_rrb_stress".to_string()));
    assert!(goldens().len() >= 43);
    for (name, bytes) in goldens() {
        let t = Instant::now();
        let (r, largest) = largest_allocation(|| report(bytes));
        assert!(r.problem.is_none(), "{name}: {}", r.problem.unwrap());
        assert!(largest <= allowance(bytes.len()), "{name}: {largest}");
        assert!(
            r.warnings.iter().all(|w| w.kind.is_warning()),
            "{name}: {:?}",
            r.warnings
        );
        if !dagger.contains(name) {
            assert_eq!(r.warning_count, 0, "{name}: {:?}", r.warnings);
        }
        assert!(
            r.warnings
                .iter()
                .all(|w| w.kind == ProblemKind::LostFullFlag),
            "{name}: {:?}",
            r.warnings
        );
        let db = Database::from_slice(bytes).unwrap();
        assert_eq!(r.moments, db.moment_count().unwrap_or(0), "{name}");
        println!(
            "{name}: {:?}, largest allocation {largest}, {:?}",
            t.elapsed(),
            r.stats
        );

        // writable: the open cuts uncommitted bytes, and the rest verifies
        let db = Database::from_bytes(bytes.clone()).unwrap();
        let w = db.verify().unwrap();
        assert!(
            w.problem.is_none(),
            "{name} (writable): {}",
            w.problem.unwrap()
        );
        assert_eq!(w.committed_len, db.len(), "{name}");
    }
}

#[test]
fn the_dagger_file_has_flag_warnings_with_positions() {
    let (_, bytes) = goldens()
        .iter()
        .find(|(n, _)| n == "linked_list_rrb_stress")
        .unwrap();
    let r = report(bytes);
    assert!(r.problem.is_none());
    assert!(r.warning_count > 0);
    for w in &r.warnings {
        assert_eq!(w.kind, ProblemKind::LostFullFlag);
        // an internal entry: tag index, `full` clear
        assert_eq!(bytes[w.pos as usize], Tag::Index as u8, "{w}");
    }
}

#[test]
fn golden_files_verify_through_file_storage() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "crash_mid_transaction",
        "many_moments",
        "toplevel_counted_hash_map",
    ] {
        let (_, bytes) = goldens().iter().find(|(n, _)| n == name).unwrap();
        let path = dir.path().join(format!("{name}.xdb"));
        std::fs::write(&path, bytes).unwrap();
        let ro = Database::open_read_only(&path).unwrap();
        let r = ro.verify().unwrap();
        assert!(r.problem.is_none(), "{name}: {}", r.problem.unwrap());
        drop(ro);
        let rw = Database::open(&path).unwrap();
        clean(&rw);
    }
}

// -------------------------------------------------------- API-built databases

fn sha1_hash(last: &[u8]) -> [u8; 20] {
    let mut h = [0x5au8; 20];
    h[20 - last.len()..].copy_from_slice(last);
    h
}

#[test]
fn maps_with_colliding_nibbles_verify_clean() {
    let mut db = Database::memory_with(HashKind::Sha1);
    // hashes sharing their lowest 1..=38 nibbles: chains of index blocks,
    // up to the deepest level a SHA-1 trie has
    let mut hashes = Vec::new();
    for shared in [1usize, 2, 5, 9, 19] {
        let mut a = sha1_hash(&[]);
        let mut b = a;
        a[19 - shared] = 0x11;
        b[19 - shared] = 0x22;
        hashes.push(a);
        hashes.push(b);
    }
    let mut top_a = [0u8; 20];
    let mut top_b = [0u8; 20];
    top_a[0] = 0x10; // differ only in the last nibble of the trie (depth 39)
    top_b[0] = 0x20;
    hashes.push(top_a);
    hashes.push(top_b);
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        for (i, h) in hashes.iter().enumerate() {
            m.put_by_hash(h, i as u64)?;
        }
        m.put("plain", "value")
    })
    .unwrap();
    clean(&db);
    // removals collapse the chains again; re-adding splits them
    for h in &hashes {
        db.transact(|tx| tx.root_map()?.remove_by_hash(h).map(|_| ()))
            .unwrap();
        clean(&db);
    }
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        for h in hashes.iter().rev() {
            m.put_by_hash(h, "again")?;
        }
        Ok(())
    })
    .unwrap();
    let r = clean(&db);
    assert_eq!(r.moments, 2 + hashes.len() as u64);
}

#[test]
fn counted_maps_and_sets_verify_clean() {
    let mut db = Database::memory();
    for round in 0..6u64 {
        db.transact(|tx| -> R {
            let mut m = tx.root_map()?;
            let mut c = m.entry("counted")?.counted_hash_map()?;
            for i in 0..40u64 {
                if (i + round) % 3 == 0 {
                    c.remove(format!("k{i}"))?;
                } else {
                    c.put(format!("k{i}"), i * round)?;
                }
            }
            let _ = c.entry("value only")?; // a record without a value is an entry
            let mut s = m.entry("set")?.counted_hash_set()?;
            for i in 0..30u64 {
                if (i + round) % 4 == 0 {
                    s.remove(format!("m{i}"))?;
                } else {
                    s.insert(format!("m{i}"))?;
                }
            }
            let mut p = m.entry("plain set")?.hash_set()?;
            p.insert(format!("r{round}"))?;
            Ok(())
        })
        .unwrap();
        clean(&db);
    }
}

#[test]
fn array_lists_verify_clean() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().array_list()?;
        for i in 0..300u64 {
            l.append(i)?;
        }
        l.append_cursor()?; // appended, never written: an empty item
        Ok(())
    })
    .unwrap();
    clean(&db);
    db.transact(|tx| -> R {
        let mut l = tx.root().array_list()?;
        l.truncate(10)?;
        for i in 0..30u64 {
            l.append(Value::Bytes(format!("item {i} is long").as_bytes(), None))?;
        }
        l.put(3, -5i64)?;
        let mut inner = l.append_cursor()?.array_list()?;
        inner.append(1.5f64)?;
        Ok(())
    })
    .unwrap();
    clean(&db);
    // every slice size of a 300-item list, each in its own moment
    for n in [257u64, 256, 17, 16, 1, 0] {
        db.transact(|tx| -> R {
            let mut l = tx.root().array_list()?;
            for i in 0..300u64 {
                l.append(i)?;
            }
            l.truncate(n)
        })
        .unwrap();
        clean(&db);
    }
}

/// One edit of a linked list.
type Edit = dyn Fn(&mut xitdb::LinkedListMut<'_>) -> R;

#[test]
fn linked_lists_after_every_kind_of_edit_verify_clean() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().linked_array_list()?;
        for i in 0..300u64 {
            l.append(i)?;
        }
        Ok(())
    })
    .unwrap();
    clean(&db);
    let edits: Vec<Box<Edit>> = vec![
        Box::new(|l| l.insert(0, 1000u64)),
        Box::new(|l| l.insert(150, 1001u64)),
        Box::new(|l| l.insert(-1, 1002u64)),
        Box::new(|l| l.remove(0)),
        Box::new(|l| l.remove(17)),
        Box::new(|l| l.remove(-1)),
        Box::new(|l| l.slice(16, 16)),
        Box::new(|l| l.slice(17, 100)),
        Box::new(|l| l.slice(1, 250)),
        Box::new(|l| l.slice(0, 0)),
        Box::new(|l| {
            let s = l.slot()?;
            l.concat(s)
        }),
        Box::new(|l| {
            l.slice(3, 40)?;
            let s = l.slot()?;
            l.concat(s)?;
            l.insert(20, "x")?;
            l.append(7u64)
        }),
    ];
    for (k, edit) in edits.iter().enumerate() {
        db.transact(|tx| -> R {
            let mut l = tx.root().linked_array_list()?;
            edit(&mut l)
        })
        .unwrap_or_else(|e| panic!("edit {k}: {e}"));
        clean(&db);
        db.revert_to(0).unwrap();
    }
    // lists nested in a map, cloned, edited independently after a freeze
    db.transact(|tx| -> R {
        tx.root().write(())?;
        let slot = {
            let mut m = tx.root().hash_map()?;
            let mut a = m.entry("a")?.linked_array_list()?;
            for i in 0..50u64 {
                a.append(i)?;
            }
            a.slot()?
        };
        tx.freeze();
        let mut m = tx.root().hash_map()?;
        m.entry("b")?.write_slot(slot)?;
        let mut b = m.entry("b")?.linked_array_list()?;
        b.insert(10, "ten")?;
        b.concat(slot)?;
        Ok(())
    })
    .unwrap();
    clean(&db);
}

#[test]
fn linked_lists_doubled_to_2_pow_61_items_verify_diff_and_compact_in_linear_time() {
    for rrb in [true, false] {
        let mut db = if rrb {
            common::storage::rrb_memory()
        } else {
            Database::memory()
        };
        db.transact(|tx| tx.root().linked_array_list()?.append(7u64))
            .unwrap();
        db.transact(|tx| -> R {
            let mut l = tx.root().linked_array_list()?;
            for _ in 0..61 {
                let s = l.slot()?;
                l.concat(s)?;
            }
            Ok(())
        })
        .unwrap();
        db.transact(|tx| tx.root().linked_array_list()?.put(-1, 8u64))
            .unwrap();
        let r = clean(&db);
        // shared blocks are checked once: the walk covers each byte at most once
        assert!(r.stats.block_bytes <= db.len(), "{rrb}: {:?}", r.stats);
        assert!(r.stats.linked_blocks < 2000, "{rrb}: {:?}", r.stats);
        let l = db.moment(-1).unwrap();
        assert_eq!(l.as_linked_list().unwrap().len(), 1 << 61);
        // the diff of a one-item change skips every shared subtree
        let mut d = db.diff(1, 2).unwrap();
        let c = d.next().unwrap().unwrap();
        assert_eq!(c.path, vec![xitdb::PathStepBuf::Index((1 << 61) - 1)]);
        assert!(d.next().is_none());
        assert!(d.reads() < 20_000, "{rrb}: {} reads", d.reads());
        // compaction copies each shared block once
        let mut dst = Database::memory();
        db.compact_into(&mut dst, xitdb::compact::Keep::All, &mut |_| {})
            .unwrap();
        assert!(dst.len() <= db.len(), "{rrb}: {} > {}", dst.len(), db.len());
        let copy = dst.moment(-1).unwrap().as_linked_list().unwrap();
        assert_eq!(copy.len(), 1 << 61);
        assert_eq!(copy.get(-1).unwrap().unwrap().as_uint().unwrap(), 8);
    }
}

#[test]
fn root_maps_verify_clean() {
    for counted in [false, true] {
        let mut db = Database::memory();
        for i in 0..20u64 {
            db.transact_root(|tx| -> R {
                let mut m = if counted {
                    tx.root().counted_hash_map()?
                } else {
                    tx.root().hash_map()?
                };
                m.put(format!("k{i}"), i)?;
                if i % 3 == 0 {
                    m.remove(format!("k{}", i / 2))?;
                }
                m.entry("list")?.array_list()?.append(i)
            })
            .unwrap();
            let r = clean(&db);
            assert_eq!(r.moments, 0);
        }
        let bytes = db.into_bytes();
        let db = Database::from_slice(&bytes).unwrap();
        clean(&db);
    }
}

#[test]
fn many_moments_undo_and_history_truncation_verify_clean() {
    let mut db = Database::memory();
    for i in 0..300u64 {
        db.transact(|tx| -> R {
            let mut m = tx.root_map()?;
            m.put(format!("k{}", i % 7), i)?;
            m.entry("log")?.linked_array_list()?.append(i)
        })
        .unwrap();
    }
    let r = clean(&db);
    assert_eq!(r.moments, 300);
    db.revert_to(5).unwrap();
    db.truncate_history(200).unwrap();
    clean(&db);
    for i in 0..20u64 {
        db.transact(|tx| tx.root_map()?.put("after", i)).unwrap();
    }
    let r = clean(&db);
    assert_eq!(r.moments, 220);
    // the same bytes through a file, writable and read-only
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.xdb");
    std::fs::write(&path, db.storage().as_bytes()).unwrap();
    clean(&Database::open_read_only(&path).unwrap());
    let mut f = Database::open(&path).unwrap();
    f.transact(|tx| tx.root_map()?.put("file", 1u64)).unwrap();
    clean(&f);
}

#[test]
fn empty_databases_verify_clean() {
    let db = Database::memory();
    let r = clean(&db);
    assert_eq!((r.moments, r.committed_len), (0, 12));
    let mut db = Database::memory();
    db.transact(|tx| tx.root().write(())).unwrap();
    clean(&db);
}

/// A database whose moment nests `depth` maps, the innermost holding a uint.
fn nested(depth: usize) -> Database {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut c = tx.root();
        for _ in 0..depth {
            c = c.hash_map()?.into_entry("n")?;
        }
        c.write(1u64)
    })
    .unwrap();
    db
}

#[test]
fn nesting_is_limited_exactly_as_the_dump_is() {
    // the moment is depth 0: 512 maps put the uint at depth 512
    let ok = nested(512);
    clean(&ok);
    assert!(dump_json(&ok).is_ok());
    let deep = nested(513);
    let p = deep.verify().unwrap().problem.unwrap();
    assert_eq!(p.kind, ProblemKind::TooDeep, "{p}");
    assert!(dump_json(&deep).is_err());
}

/// A moment holding L, a 300-item list whose item 12 is a chain of `k`
/// maps around a uint, and a chain of `m` maps around a 10-item slice of
/// L. The slice shares L's first leaf block (items 0..16, the deep item
/// included). `long_first` puts L in item 0 of the moment, else in item 1.
fn shared_nesting(m: usize, k: usize, long_first: bool) -> Database {
    let (long_at, short_at) = if long_first { (0, 1) } else { (1, 0) };
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut r = tx.root().array_list()?;
        r.append(())?;
        r.append(())?;
        let mut l = r.cursor(long_at)?.array_list()?;
        for i in 0..300u64 {
            let mut c = l.append_cursor()?;
            if i == 12 {
                for _ in 0..k {
                    c = c.hash_map()?.into_entry("n")?;
                }
            }
            c.write(i)?;
        }
        let long = r.get(long_at)?.unwrap().slot();
        tx.freeze();
        let mut c = tx.root().array_list()?.into_cursor(short_at)?;
        for _ in 0..m {
            c = c.hash_map()?.into_entry("n")?;
        }
        c.write_slot(long)?;
        c.array_list()?.truncate(10)
    })
    .unwrap();
    db
}

#[test]
fn nesting_heights_are_exact_through_shared_list_blocks() {
    // the slice's items sit at depth m + 2, L's deepest value at k + 2
    for long_first in [true, false] {
        for (m, k, ok) in [
            (510, 510, true),
            (511, 0, false),
            (0, 511, false),
            (510, 0, true),
        ] {
            let db = shared_nesting(m, k, long_first);
            let r = db.verify().unwrap();
            let at = format!("m={m} k={k} long_first={long_first}");
            assert_eq!(r.problem.is_none(), ok, "{at}: {:?}", r.problem);
            if let Some(p) = &r.problem {
                assert_eq!(p.kind, ProblemKind::TooDeep, "{p}");
            }
            assert_eq!(dump_json(&db).is_ok(), ok, "{at}");
        }
    }
}

// ------------------------------------------------------------ corruptions

/// A SHA-1 database with one moment: a map holding "a" → 1 and "c" → a long
/// byte value (SHA-1 puts them in root slots 8 and 4). Returns the bytes, the map's root block and the long value's
/// length prefix.
fn one_map() -> (Vec<u8>, u64, u64) {
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put("a", 1u64)?;
        m.put("c", vec![7u8; 100].as_slice())
    })
    .unwrap();
    clean(&db);
    let moment = db.moment(-1).unwrap();
    let block = moment.slot().value;
    let b = moment.as_map().unwrap().get(b"c").unwrap().unwrap();
    let prefix = b.slot().value;
    (db.into_bytes(), block, prefix)
}

fn value_pos(bytes: &[u8], key: &[u8]) -> u64 {
    let db = Database::from_slice(bytes).unwrap();
    let m = db.moment(-1).unwrap().as_map().unwrap();
    m.get(key).unwrap().unwrap().position().unwrap()
}

#[test]
fn a_bad_tag_is_reported_at_its_slot() {
    let (good, block, _) = one_map();
    let kv = slots_with(&good, block, Tag::KvPair)[0];
    let mut bytes = good.clone();
    bytes[kv as usize] = 42;
    expect(&bytes, ProblemKind::InvalidTag, kv);
    // in a value slot
    let v = value_pos(&good, b"a");
    let mut bytes = good.clone();
    bytes[v as usize] = 0x10;
    expect(&bytes, ProblemKind::InvalidTag, v);
    // in a stale slot past a list's size (never read, but still a slot)
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().array_list()?;
        for i in 0..5u64 {
            l.append(i)?;
        }
        l.truncate(2)
    })
    .unwrap();
    let root = {
        let m = db.moment(-1).unwrap();
        let header = m.slot().value;
        get_u64(db.storage().as_bytes(), header + 8)
    };
    let mut bytes = db.into_bytes();
    bytes[(root + 9 * 4) as usize] = 0x7f;
    expect(&bytes, ProblemKind::InvalidTag, root + 36);
}

#[test]
fn pointers_past_the_end_or_below_the_data_are_reported() {
    let (good, block, _) = one_map();
    let kv = slots_with(&good, block, Tag::KvPair)[0];
    let len = good.len() as u64;
    for (ptr, kind) in [
        (len - 10, ProblemKind::OutOfBounds),
        (len, ProblemKind::OutOfBounds),
        ((1 << 62) - 1, ProblemKind::OutOfBounds),
        (5, ProblemKind::PointerBelowStart),
        (0, ProblemKind::PointerBelowStart),
        (12, ProblemKind::PointerBelowStart),
        (100, ProblemKind::PointerBelowStart), // inside the history's first block
    ] {
        let mut bytes = good.clone();
        put_u64(&mut bytes, kv + 1, ptr);
        expect(&bytes, kind, kv);
    }
    // a pointer no storage could hold fails to decode: reported at the slot
    let mut bytes = good.clone();
    put_u64(&mut bytes, kv + 1, u64::MAX);
    assert_eq!(problem(&bytes).pos, kv);
    // the history root pointer
    let mut bytes = good.clone();
    put_u64(&mut bytes, 20, len);
    expect(&bytes, ProblemKind::OutOfBounds, 20);
}

#[test]
fn a_wrong_count_is_reported_at_the_count() {
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut m = tx.root().counted_hash_map()?;
        for k in ["x", "y", "z"] {
            m.put(k, 1u64)?;
        }
        Ok(())
    })
    .unwrap();
    let count = db.moment(-1).unwrap().slot().value;
    let mut bytes = db.into_bytes();
    assert_eq!(get_u64(&bytes, count), 3);
    for wrong in [2u64, 4, u64::MAX] {
        put_u64(&mut bytes, count, wrong);
        expect(&bytes, ProblemKind::Count, count);
    }
}

#[test]
fn a_record_moved_to_the_wrong_trie_position_is_reported() {
    let (good, block, _) = one_map();
    let kvs = slots_with(&good, block, Tag::KvPair);
    let from = kvs[0];
    let to = slots_with(&good, block, Tag::None)[0];
    let mut bytes = good.clone();
    let slot: [u8; 9] = bytes[from as usize..from as usize + 9].try_into().unwrap();
    bytes[to as usize..to as usize + 9].copy_from_slice(&slot);
    bytes[from as usize..from as usize + 9].fill(0);
    expect(&bytes, ProblemKind::Misplaced, to);

    // deep in a chain: the record's hash agrees with the last nibble of its
    // path but not with an earlier one
    let mut a = [0u8; 20];
    let mut b = [0u8; 20];
    a[16] = 0x01; // nibbles 0..=5 are zero for both; they split at depth 6
    b[16] = 0x02;
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put_by_hash(&a, 1u64)?;
        m.put_by_hash(&b, 2u64)
    })
    .unwrap();
    clean(&db);
    let mut block = db.moment(-1).unwrap().slot().value;
    let mut bytes = db.into_bytes();
    for _ in 0..6 {
        let next = slots_with(&bytes, block, Tag::Index);
        assert_eq!(next, vec![block]); // slot 0 all the way down
        block = get_u64(&bytes, block + 1);
    }
    let kv_slot = block + 9; // a's nibble at depth 6 is 1
    let kv = get_u64(&bytes, kv_slot + 1);
    assert_eq!(&bytes[kv as usize..kv as usize + 20], &a);
    bytes[kv as usize + 18] = 0x01; // its nibble at depth 2 (byte 18, low): 0 → 1
    expect(&bytes, ProblemKind::Misplaced, kv_slot);
}

#[test]
fn a_linked_entry_size_off_by_one_is_reported_at_the_entry() {
    let mut db = common::storage::rrb_memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().linked_array_list()?;
        for i in 0..40u64 {
            l.append(i)?;
        }
        Ok(())
    })
    .unwrap();
    clean(&db);
    let header = db.moment(-1).unwrap().slot().value;
    let good = db.into_bytes();
    let root = get_u64(&good, header + 8);
    assert_eq!(good[header as usize + 16], 1, "40 items: shift 1");
    for (entry, size) in [(0u64, 16u64), (1, 16), (2, 8)] {
        let at = root + 17 * entry;
        assert_eq!(get_u64(&good, at + 9), size);
        for wrong in [size - 1, size + 1] {
            let mut bytes = good.clone();
            put_u64(&mut bytes, at + 9, wrong);
            expect(&bytes, ProblemKind::LinkedSize, at);
        }
    }
    // the header's size
    let mut bytes = good.clone();
    put_u64(&mut bytes, header, 41);
    expect(&bytes, ProblemKind::LinkedSize, header);
    // an occupied entry after an empty one
    let mut bytes = good.clone();
    let leaf = get_u64(&good, root + 1);
    bytes[(leaf + 17 * 3) as usize..(leaf + 17 * 4) as usize].fill(0);
    expect(&bytes, ProblemKind::LinkedShape, leaf + 17 * 4);
    // a shift past the format's limit
    let mut bytes = good.clone();
    bytes[header as usize + 16] = 16;
    expect(&bytes, ProblemKind::TooDeep, header + 16);
    // a lost flag is a warning, not a problem
    let mut bytes = good.clone();
    bytes[root as usize] = Tag::Index as u8; // entry 0 was flagged full by the growth
    let leaf0 = get_u64(&good, root + 1);
    bytes[(leaf0 + 17 * 15) as usize..(leaf0 + 17 * 16) as usize].fill(0);
    put_u64(&mut bytes, root + 9, 15);
    put_u64(&mut bytes, header, 39);
    let r = report(&bytes);
    assert!(r.problem.is_none(), "{}", r.problem.unwrap());
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(
        (r.warnings[0].kind, r.warnings[0].pos),
        (ProblemKind::LostFullFlag, root)
    );
}

#[test]
fn a_byte_length_past_the_end_is_reported_at_the_prefix() {
    let (good, _, prefix) = one_map();
    for claim in [u64::MAX, u64::MAX - 7, 1 << 62, good.len() as u64, 101] {
        let mut bytes = good.clone();
        put_u64(&mut bytes, prefix, claim);
        let past = prefix as u128 + 8 + claim as u128 > good.len() as u128;
        if past {
            expect(&bytes, ProblemKind::BytesLength, prefix);
        }
    }
    // the format tag must fit too
    let mut db = Database::memory();
    db.transact(|tx| {
        tx.root_map()?
            .put("t", Value::tagged(b"a long tagged value", *b"tg"))
    })
    .unwrap();
    let c = db.moment(-1).unwrap().as_map().unwrap();
    let prefix = c.get(b"t").unwrap().unwrap().slot().value;
    let mut bytes = db.into_bytes();
    let claim = bytes.len() as u64 - prefix - 8;
    put_u64(&mut bytes, prefix, claim);
    expect(&bytes, ProblemKind::BytesLength, prefix);
}

#[test]
fn structures_containing_themselves_are_cycles() {
    // a map value holding its own map
    let (good, block, _) = one_map();
    let v = value_pos(&good, b"a");
    let mut bytes = good.clone();
    put_slot(&mut bytes, v, Slot::new(Tag::HashMap, block));
    expect(&bytes, ProblemKind::Cycle, v);
    // a map block pointing at itself
    let free = slots_with(&good, block, Tag::None)[0];
    let mut bytes = good.clone();
    put_slot(&mut bytes, free, Slot::new(Tag::Index, block));
    expect(&bytes, ProblemKind::Cycle, free);
    // a list item holding its own list
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().array_list()?;
        l.append(1u64)?;
        l.append(2u64)
    })
    .unwrap();
    let m = db.moment(-1).unwrap();
    let list = m.slot();
    let item = m
        .as_list()
        .unwrap()
        .get(1)
        .unwrap()
        .unwrap()
        .position()
        .unwrap();
    let mut bytes = db.into_bytes();
    put_slot(&mut bytes, item, list);
    expect(&bytes, ProblemKind::Cycle, item);
    // a linked list block pointing at itself
    let mut db = common::storage::rrb_memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().linked_array_list()?;
        for i in 0..40u64 {
            l.append(i)?;
        }
        Ok(())
    })
    .unwrap();
    let header = db.moment(-1).unwrap().slot().value;
    let mut bytes = db.into_bytes();
    let root = get_u64(&bytes, header + 8);
    put_slot(&mut bytes, root + 17, Slot::new(Tag::Index, root));
    expect(&bytes, ProblemKind::Cycle, root + 17);
}

#[test]
fn history_header_problems() {
    let mut db = Database::memory();
    for i in 0..16u64 {
        db.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
    }
    clean(&db);
    let good = db.into_bytes();
    let root = get_u64(&good, 20);
    assert_eq!(root, 36);
    // 17 moments in a tree of 16: the root would need to be an index block
    let mut bytes = good.clone();
    put_u64(&mut bytes, 12, 17);
    expect(&bytes, ProblemKind::UnexpectedTag, root);
    // one moment more than written in a leaf: an empty moment slot
    let mut small = Database::memory();
    for i in 0..3u64 {
        small.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
    }
    let mut bytes = small.into_bytes();
    put_u64(&mut bytes, 12, 4);
    expect(&bytes, ProblemKind::EmptyMoment, 36 + 27);
    // moments without a committed file size
    let mut bytes = good.clone();
    put_u64(&mut bytes, 28, 0);
    expect(&bytes, ProblemKind::FileSize, 28);
    // a committed size that cuts the last records off
    // (the last record is the newest moment's key/value record)
    let db = Database::from_slice(&good).unwrap();
    let last_block = db.moment(-1).unwrap().slot().value;
    let kv_slot = slots_with(&good, last_block, Tag::KvPair)[0];
    let mut bytes = good.clone();
    put_u64(&mut bytes, 28, good.len() as u64 - 1);
    expect(&bytes, ProblemKind::OutOfBounds, kv_slot);
}

#[test]
fn other_map_invariants() {
    // a set member with a value
    let mut db = Database::memory();
    db.transact(|tx| tx.root().hash_set()?.insert("m").map(|_| ()))
        .unwrap();
    let block = db.moment(-1).unwrap().slot().value;
    let mut bytes = db.into_bytes();
    let kv = get_u64(&bytes, slots_with(&bytes, block, Tag::KvPair)[0] + 1);
    let value = kv + 32 + 9;
    put_slot(&mut bytes, value, Slot::new(Tag::Uint, 1));
    expect(&bytes, ProblemKind::SetValue, value);
    // a non-map slot in a map block
    let (good, block, _) = one_map();
    let free = slots_with(&good, block, Tag::None)[0];
    let mut bytes = good.clone();
    put_slot(&mut bytes, free, Slot::new(Tag::Uint, 3));
    expect(&bytes, ProblemKind::UnexpectedTag, free);
    // an index slot where a value belongs
    let v = value_pos(&good, b"a");
    let mut bytes = good.clone();
    put_slot(&mut bytes, v, Slot::new(Tag::Index, block));
    expect(&bytes, ProblemKind::UnexpectedTag, v);
    // short bytes that are not zero-filled
    let mut bytes = good.clone();
    let mut s = [0u8; 9];
    s[0] = Tag::ShortBytes as u8;
    s[1..].copy_from_slice(b"a\0b\0\0\0\0\0");
    bytes[v as usize..v as usize + 9].copy_from_slice(&s);
    expect(&bytes, ProblemKind::ShortBytes, v);
    // a trie deeper than its hash: index below the deepest SHA-1 level
    let mut a = [0u8; 20];
    let mut b = [0u8; 20];
    a[0] = 0x10;
    b[0] = 0x20;
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put_by_hash(&a, 1u64)?;
        m.put_by_hash(&b, 2u64)
    })
    .unwrap();
    clean(&db);
    let mut block = db.moment(-1).unwrap().slot().value;
    let mut bytes = db.into_bytes();
    for _ in 0..39 {
        block = get_u64(&bytes, block + 1);
    }
    assert_eq!(slots_with(&bytes, block, Tag::KvPair).len(), 2);
    put_slot(&mut bytes, block, Slot::new(Tag::Index, block));
    expect(&bytes, ProblemKind::TooDeep, block);
}

#[test]
fn one_block_reached_as_two_kinds_is_a_conflict() {
    // a list of [inner list, uint]; the uint becomes a map whose root block
    // is the inner list's block
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().array_list()?;
        l.append_cursor()?.array_list()?.append(1u64)?;
        l.append(2u64)
    })
    .unwrap();
    let l = db.moment(-1).unwrap().as_list().unwrap();
    let inner = l.get(0).unwrap().unwrap().slot().value;
    let second = l.get(1).unwrap().unwrap().position().unwrap();
    let mut bytes = db.into_bytes();
    let block = get_u64(&bytes, inner + 8);
    put_slot(&mut bytes, second, Slot::new(Tag::HashMap, block));
    expect(&bytes, ProblemKind::KindConflict, second);
    // a list block reached for two different index ranges
    let mut db = Database::memory();
    db.transact(|tx| -> R {
        let mut l = tx.root().array_list()?;
        for i in 0..40u64 {
            l.append(i)?;
        }
        Ok(())
    })
    .unwrap();
    let header = db.moment(-1).unwrap().slot().value;
    let mut bytes = db.into_bytes();
    let root = get_u64(&bytes, header + 8);
    let child0 = get_u64(&bytes, root + 1);
    put_u64(&mut bytes, root + 9 + 1, child0); // slot 1 → the block of items 0..16
    expect(&bytes, ProblemKind::KindConflict, root + 9);
}

#[test]
fn root_map_problems() {
    let bytes = golden("toplevel_counted_hash_map");
    assert_eq!(bytes[3], Tag::CountedHashMap as u8);
    // the root's count, at 12
    let mut bad = bytes.to_vec();
    let n = get_u64(&bad, 12);
    put_u64(&mut bad, 12, n + 1);
    expect(&bad, ProblemKind::Count, 12);
    // nothing below a root map may point into its count and root block
    let block = 12 + 8;
    let kv = slots_with(bytes, block, Tag::KvPair)[0];
    let mut bad = bytes.to_vec();
    put_u64(&mut bad, kv + 1, 100);
    expect(&bad, ProblemKind::PointerBelowStart, kv);
    // a root block pointing at itself
    let free = slots_with(bytes, block, Tag::None);
    if let Some(&free) = free.first() {
        let mut bad = bytes.to_vec();
        put_slot(&mut bad, free, Slot::new(Tag::Index, block));
        let p = problem(&bad);
        assert_eq!(p.pos, free, "{p}");
    }
}

#[test]
fn absurd_claims_cost_nothing() {
    let check = |bytes: &[u8], kind: ProblemKind| {
        let (p, largest) = largest_allocation(|| problem(bytes));
        assert_eq!(p.kind, kind, "{p}");
        assert!(
            largest <= allowance(bytes.len()),
            "{p}: allocated {largest}"
        );
    };
    // a byte string of 2^64 - 1 bytes
    let (good, _, prefix) = one_map();
    let mut bytes = good.clone();
    put_u64(&mut bytes, prefix, u64::MAX);
    check(&bytes, ProblemKind::BytesLength);
    // an ArrayList of 2^60 items
    let mut db = Database::memory();
    db.transact(|tx| tx.root().array_list()?.append(1u64))
        .unwrap();
    let header = db.moment(-1).unwrap().slot().value;
    let mut bytes = db.into_bytes();
    put_u64(&mut bytes, header, 1 << 60);
    check(&bytes, ProblemKind::ListSize);
    // a linked list of 2^64 - 1 items
    let mut db = common::storage::rrb_memory();
    db.transact(|tx| tx.root().linked_array_list()?.append(1u64))
        .unwrap();
    let header = db.moment(-1).unwrap().slot().value;
    let mut bytes = db.into_bytes();
    put_u64(&mut bytes, header, u64::MAX);
    check(&bytes, ProblemKind::LinkedSize);
    // 65535-byte hashes: the records no longer fit
    let mut bytes = good.clone();
    bytes[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
    check(&bytes, ProblemKind::OutOfBounds);
}

// ------------------------------------------------------- damaged golden files

/// Golden files small enough to verify many times.
const FILES: &[&str] = &[
    "empty_db",
    "empty_moment",
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
    "linked_list_concat",
    "linked_list_rrb_stress",
    "many_moments",
    "scalars_bytes",
    "scalars_float",
    "scalars_int",
    "toplevel_counted_hash_map",
    "toplevel_hash_map",
    "undo",
];

fn golden(name: &str) -> &'static [u8] {
    &goldens().iter().find(|(n, _)| n == name).unwrap().1
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        pos: u64,
        bit: u8,
    },
    Overwrite {
        pos: u64,
        data: Vec<u8>,
    },
    /// A u64 (`from_end`: the file length minus the value) at `pos`.
    WriteU64 {
        pos: u64,
        value: u64,
        from_end: bool,
    },
    /// A slot pointing at `target` (taken modulo the length when `inside`).
    WriteSlot {
        pos: u64,
        tag: u8,
        target: u64,
        inside: bool,
    },
    Truncate {
        len: u64,
    },
    Splice {
        from: u64,
        len: u16,
        to: u64,
    },
    AppendJunk(Vec<u8>),
}

fn place(bytes: &mut [u8], pos: u64, data: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let start = (pos % bytes.len() as u64) as usize;
    let end = (start + data.len()).min(bytes.len());
    bytes[start..end].copy_from_slice(&data[..end - start]);
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len() as u64;
    if len == 0 {
        return;
    }
    match m {
        Mutation::FlipBit { pos, bit } => bytes[(pos % len) as usize] ^= 1 << (bit % 8),
        Mutation::Overwrite { pos, data } => place(bytes, *pos, data),
        Mutation::WriteU64 {
            pos,
            value,
            from_end,
        } => {
            let v = if *from_end {
                len.wrapping_sub(*value % 64)
            } else {
                *value
            };
            place(bytes, *pos, &v.to_be_bytes());
        }
        Mutation::WriteSlot {
            pos,
            tag,
            target,
            inside,
        } => {
            let t = if *inside { target % len } else { *target };
            let mut s = [0u8; 9];
            s[0] = *tag;
            s[1..].copy_from_slice(&t.to_be_bytes());
            place(bytes, *pos, &s);
        }
        Mutation::Truncate { len: n } => bytes.truncate((n % (len + 1)) as usize),
        Mutation::Splice { from, len: n, to } => {
            let f = (from % len) as usize;
            let chunk = bytes[f..(f + *n as usize).min(bytes.len())].to_vec();
            place(bytes, *to, &chunk);
        }
        Mutation::AppendJunk(junk) => bytes.extend_from_slice(junk),
    }
}

fn position() -> impl Strategy<Value = u64> {
    prop_oneof![2 => 0u64..200, 5 => any::<u64>()]
}

fn number() -> impl Strategy<Value = u64> {
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
            i64::MAX as u64,
            1 << 62,
            (1 << 62) - 1,
        ]),
        any::<u64>(),
        0u64..100_000,
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (position(), any::<u8>()).prop_map(|(pos, bit)| Mutation::FlipBit { pos, bit }),
        2 => (position(), prop::collection::vec(any::<u8>(), 1..24))
            .prop_map(|(pos, data)| Mutation::Overwrite { pos, data }),
        3 => (position(), number(), any::<bool>())
            .prop_map(|(pos, value, from_end)| Mutation::WriteU64 { pos, value, from_end }),
        3 => (position(), prop_oneof![0u8..14, 0x80u8..0x8e, any::<u8>()], number(), any::<bool>())
            .prop_map(|(pos, tag, target, inside)| Mutation::WriteSlot { pos, tag, target, inside }),
        1 => any::<u64>().prop_map(|len| Mutation::Truncate { len }),
        2 => (position(), 1u16..600, position())
            .prop_map(|(from, len, to)| Mutation::Splice { from, len, to }),
        1 => prop::collection::vec(any::<u8>(), 1..300).prop_map(Mutation::AppendJunk),
    ]
}

fn cases() -> u32 {
    std::env::var("VERIFY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 500,
        ..persisted(file!())
    })]

    /// Damaged files: verify ends, quickly, with a report (or an open error
    /// before it). A file that verifies clean and without warnings also
    /// dumps: verify accepts nothing the reader rejects.
    #[test]
    fn damaged_golden_files_never_panic_or_hang(
        file in 0..FILES.len(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut bytes = golden(FILES[file]).to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(db) = Database::from_slice(&bytes) {
            let t = Instant::now();
            let (r, largest) = largest_allocation(|| db.verify().unwrap());
            prop_assert!(t.elapsed() < Duration::from_secs(2), "slow: {:?}", t.elapsed());
            prop_assert!(largest <= allowance(bytes.len()), "allocated {largest} at once");
            if r.problem.is_none() && r.warning_count == 0 {
                let dumped = dump_json(&db);
                prop_assert!(dumped.is_ok(), "verified clean, but the dump fails: {:?}", dumped);
            }
            if let Some(p) = &r.problem {
                prop_assert!(!p.kind.is_warning());
            }
        }
        if let Ok(db) = Database::from_bytes(bytes) {
            let _ = db.verify().unwrap();
        }
    }
}

// ------------------------------------------------- random API workloads

proptest! {
    #![proptest_config(ProptestConfig {
        cases: (cases() / 10).max(10),
        max_shrink_iters: 500,
        ..persisted(file!())
    })]

    /// Whatever the API does (the kit's operation model, checked against
    /// the model as it goes), the result verifies clean after every step,
    /// with no warning: this crate writes canonical `full` flags.
    #[test]
    fn random_workloads_verify_clean(
        steps in steps_of(HashKind::Blake3, op(HashKind::Blake3), 1..8, 1..12),
    ) {
        let mut db = Database::memory_with(HashKind::Blake3);
        let chk = Checker::new(HashKind::Blake3);
        let mut snaps = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            Run::memory(&mut db, std::slice::from_ref(step), &mut snaps, &chk)
                .map_err(|e| TestCaseError::fail(format!("step {i}: {e}")))?;
            let report = db.verify().unwrap();
            prop_assert!(report.problem.is_none(), "after {i}: {}", report.problem.unwrap());
            prop_assert_eq!(report.warning_count, 0, "after {}: {:?}", i, report.warnings);
        }
    }
}

// ------------------------------------------------------ sorted collections

use common::golden_files::SORTED_ONLY as SORTED_GOLDEN;

fn sorted_golden(name: &str) -> Vec<u8> {
    std::fs::read(common::golden_files::btree_path(&format!("{name}.xdb"))).unwrap()
}

#[test]
fn upstream_sorted_golden_files_verify_clean() {
    for name in SORTED_GOLDEN {
        let bytes = sorted_golden(name);
        let t = Instant::now();
        let (r, largest) = largest_allocation(|| report(&bytes));
        assert!(r.problem.is_none(), "{name}: {}", r.problem.unwrap());
        assert_eq!(r.warning_count, 0, "{name}: {:?}", r.warnings);
        assert!(r.stats.sorted_nodes > 0, "{name}: {:?}", r.stats);
        assert!(largest <= allowance(bytes.len()), "{name}: {largest}");
        println!("{name}: {:?}, {:?}", t.elapsed(), r.stats);
        let db = Database::from_bytes(bytes).unwrap();
        clean(&db);
    }
}

/// Keys of many shapes: inline, long, with zero bytes, prefixes of each other.
fn sorted_key(i: u64) -> Vec<u8> {
    match i % 5 {
        0 => format!("k{i:05}").into_bytes(),
        1 => format!("a long key that is not inline {i}").into_bytes(),
        2 => vec![b'z'; (i % 40) as usize + 1],
        3 => vec![0, (i % 251) as u8, 7],
        _ => i.to_be_bytes().to_vec(),
    }
}

#[test]
fn sorted_collections_built_through_the_api_verify_clean() {
    let mut db = Database::memory();
    for round in 0..6u64 {
        db.transact(|tx| -> R {
            let mut root = tx.root_map()?;
            {
                let mut m = root.entry("m")?.sorted_map()?;
                for i in 0..400u64 {
                    let k = sorted_key(i * 7 % 400 + round);
                    if (i + round) % 3 == 0 {
                        m.remove(&k)?;
                    } else {
                        m.put(&k, i)?;
                    }
                }
            }
            {
                let mut s = root.entry("s")?.sorted_set()?;
                for i in 0..300u64 {
                    let k = sorted_key(i * 11 % 300);
                    if round % 2 == 1 && i % 4 != 0 {
                        s.remove(&k)?;
                    } else {
                        s.insert(&k)?;
                    }
                }
            }
            // nested: a sorted map holding a sorted set and a hash map
            let mut n = root.entry("n")?.sorted_map()?;
            n.entry(b"inner")?
                .sorted_set()?
                .insert(format!("{round}"))?;
            n.entry(b"hash")?.hash_map()?.put("x", round)?;
            Ok(())
        })
        .unwrap();
        let r = clean(&db);
        assert!(r.stats.sorted_nodes > 20, "{:?}", r.stats);
    }
    // everything removed: empty (and emptied) trees are valid
    db.transact(|tx| -> R {
        let mut root = tx.root_map()?;
        let mut m = root.entry("m")?.sorted_map()?;
        for i in 0..410u64 {
            m.remove(sorted_key(i))?;
        }
        Ok(())
    })
    .unwrap();
    clean(&db);
}

/// A history of one moment that is a sorted map of `n` short keys (or a
/// set): the bytes, the header's and the root node's positions.
fn one_sorted(n: u64, set: bool) -> (Vec<u8>, u64, u64) {
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> R {
        if set {
            let mut s = tx.root().sorted_set()?;
            for i in 0..n {
                s.insert(format!("k{i:03}"))?;
            }
        } else {
            let mut m = tx.root().sorted_map()?;
            for i in 0..n {
                m.put(format!("k{i:03}"), i)?;
            }
        }
        Ok(())
    })
    .unwrap();
    clean(&db);
    let header = db.moment(-1).unwrap().slot().value;
    let bytes = db.into_bytes();
    let root = get_u64(&bytes, header + 8);
    (bytes, header, root)
}

/// Child `i`, separator `i` and count `i` of the sorted branch at `node`.
fn child(node: u64, i: u64) -> u64 {
    node + 2 + 9 * i
}
fn separator(node: u64, i: u64) -> u64 {
    node + 146 + 9 * i
}
fn count(node: u64, i: u64) -> u64 {
    node + 290 + 8 * i
}

#[test]
fn sorted_corruptions_are_reported_where_they_are() {
    let (good, header, root) = one_sorted(60, false);
    assert_eq!(good[root as usize], 1, "the root is a branch");
    let leaf0 = get_u64(&good, child(root, 0) + 1);
    let mut bytes = good.clone();
    // swap the first two entries of the first leaf
    let (a, b) = (child(leaf0, 0) as usize, child(leaf0, 1) as usize);
    let first: Vec<u8> = bytes[a..a + 9].to_vec();
    bytes.copy_within(b..b + 9, a);
    bytes[b..b + 9].copy_from_slice(&first);
    expect(&bytes, ProblemKind::KeyOrder, child(leaf0, 1));
    // a count one too high, a header size one too low
    let mut bytes = good.clone();
    put_u64(
        &mut bytes,
        count(root, 0),
        get_u64(&good, count(root, 0)) + 1,
    );
    expect(&bytes, ProblemKind::SortedCount, count(root, 0));
    let mut bytes = good.clone();
    put_u64(&mut bytes, header, get_u64(&good, header) - 1);
    expect(&bytes, ProblemKind::SortedCount, header);
    // separator 1 raised to separator 2: above child 1's first key
    let mut bytes = good.clone();
    bytes.copy_within(
        separator(root, 2) as usize..separator(root, 3) as usize,
        separator(root, 1) as usize,
    );
    expect(&bytes, ProblemKind::Separator, separator(root, 1));
    // separator 1 lowered below child 0's last key
    let mut bytes = good.clone();
    put_slot(
        &mut bytes,
        separator(root, 1),
        Slot::new(Tag::ShortBytes, 0),
    );
    expect(&bytes, ProblemKind::Separator, separator(root, 1));
    // a separator that is no key; separator 0 is never read
    let mut bytes = good.clone();
    put_slot(&mut bytes, separator(root, 1), Slot::new(Tag::Uint, 5));
    expect(&bytes, ProblemKind::UnexpectedTag, separator(root, 1));
    let mut bytes = good.clone();
    put_slot(&mut bytes, separator(root, 0), Slot::new(Tag::Uint, 5));
    assert!(report(&bytes).problem.is_none());
    // 17 entries, kind byte 2
    let mut bytes = good.clone();
    bytes[root as usize + 1] = 17;
    expect(&bytes, ProblemKind::SortedNode, root + 1);
    let mut bytes = good.clone();
    bytes[leaf0 as usize] = 2;
    expect(&bytes, ProblemKind::SortedNode, leaf0);
    // a child pointing at its parent; two children sharing one node
    let mut bytes = good.clone();
    put_slot(&mut bytes, child(root, 1), Slot::new(Tag::Index, root));
    expect(&bytes, ProblemKind::Cycle, child(root, 1));
    let mut bytes = good.clone();
    bytes.copy_within(
        child(root, 1) as usize..child(root, 2) as usize,
        child(root, 2) as usize,
    );
    expect(&bytes, ProblemKind::SharedNode, child(root, 2));
}

#[test]
fn sorted_keys_values_and_depths_are_checked() {
    let (good, _, root) = one_sorted(60, false);
    let leaf0 = get_u64(&good, child(root, 0) + 1);
    let kv = get_u64(&good, child(leaf0, 0) + 1);
    // a key with a format tag, a key that is a number, a value that is an index
    let mut bytes = good.clone();
    bytes[kv as usize + 20] |= 0x80;
    expect(&bytes, ProblemKind::UnexpectedTag, kv + 20);
    let mut bytes = good.clone();
    put_slot(&mut bytes, kv + 20, Slot::new(Tag::Uint, 1));
    expect(&bytes, ProblemKind::UnexpectedTag, kv + 20);
    let mut bytes = good.clone();
    put_slot(&mut bytes, kv + 29, Slot::new(Tag::Index, root));
    expect(&bytes, ProblemKind::UnexpectedTag, kv + 29);
    // a leaf entry that is no kv_pair
    let mut bytes = good.clone();
    put_slot(&mut bytes, child(leaf0, 0), Slot::new(Tag::Uint, 1));
    expect(&bytes, ProblemKind::UnexpectedTag, child(leaf0, 0));
    // a set member with a value
    let (good, _, root) = one_sorted(30, true);
    let leaf0 = get_u64(&good, child(root, 0) + 1);
    let kv = get_u64(&good, child(leaf0, 3) + 1);
    let mut bytes = good.clone();
    put_slot(&mut bytes, kv + 29, Slot::new(Tag::Uint, 1));
    expect(&bytes, ProblemKind::SetValue, kv + 29);
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> R {
        let mut root = tx.root_map()?;
        let mut m = root.entry("m")?.sorted_map()?;
        for i in 0..300u64 {
            m.put(format!("k{i:03}"), i)?;
        }
        Ok(())
    })
    .unwrap();
    db.transact(|tx| -> R {
        let mut root = tx.root_map()?;
        root.entry("m")?.sorted_map()?.put("k000", 1u64)
    })
    .unwrap();
    clean(&db);
    let old = db.moment(0).unwrap().as_map().unwrap();
    let old = old.get(b"m").unwrap().unwrap().slot().value;
    let new = db.moment(1).unwrap().as_map().unwrap();
    let new = new.get(b"m").unwrap().unwrap().slot().value;
    let mut bytes = db.into_bytes();
    let (old_root, new_root) = (get_u64(&bytes, old + 8), get_u64(&bytes, new + 8));
    assert_eq!(bytes[new_root as usize], 1);
    // the new root's last child replaced by a leaf of the old tree
    let old_branch = get_u64(&bytes, child(old_root, 0) + 1);
    assert_eq!(bytes[old_branch as usize], 1, "three levels");
    let old_leaf = get_u64(&bytes, child(old_branch, 0) + 1);
    let last = u64::from(bytes[new_root as usize + 1]) - 1;
    put_slot(
        &mut bytes,
        child(new_root, last),
        Slot::new(Tag::Index, old_leaf),
    );
    expect(&bytes, ProblemKind::SortedDepth, child(new_root, last));
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases() / 10,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    /// Damaged sorted golden files: verify ends quickly with a report, and a
    /// file it passes clean also dumps.
    #[test]
    fn damaged_sorted_golden_files_never_panic_or_hang(
        file in 0..SORTED_GOLDEN.len(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut bytes = sorted_golden(SORTED_GOLDEN[file]);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(db) = Database::from_slice(&bytes) {
            let t = Instant::now();
            let (r, largest) = largest_allocation(|| db.verify().unwrap());
            prop_assert!(t.elapsed() < Duration::from_secs(2), "slow: {:?}", t.elapsed());
            prop_assert!(largest <= allowance(bytes.len()), "allocated {largest} at once");
            if r.problem.is_none() && r.warning_count == 0 {
                let dumped = dump_json(&db);
                prop_assert!(dumped.is_ok(), "verified clean, but the dump fails: {:?}", dumped);
            }
        }
    }
}
