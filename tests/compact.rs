//! Compaction: the copy holds exactly the kept moments (same dumps), shares
//! what they share, drops what they do not reach, verifies, survives a file
//! round trip, and fails cleanly (the destination stays empty) on hostile
//! input, a non-empty destination or a panicking progress callback.
//!
//! Failing cases of the property tests are saved in
//! `tests/proptest-regressions/compact.txt` and replayed first by later
//! runs; commit that file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use std::fs;
use xitdb::compact::{CompactReport, Keep, Progress};
use xitdb::format::{HashKind, Slot};
use xitdb::json::dump_json;
use xitdb::json::dump_value;
use xitdb::storage::Storage;
use xitdb::{Database, Error};

type R<T = ()> = Result<T, Error>;

#[allow(dead_code)]
mod common;
use common::golden_files::{self, fixtures, name};
use common::model::{Checker, Run, Step};
use common::strategy::{op, persisted, steps_of};

fn compact<S: Storage>(src: &Database<S>, keep: Keep) -> R<(Database, CompactReport)> {
    let mut dst = Database::memory();
    let report = src.compact_into(&mut dst, keep, &mut |_| {})?;
    Ok((dst, report))
}

/// The dumps of the last `n` moments.
fn last_dumps<S: Storage>(db: &Database<S>, n: u64) -> Vec<String> {
    let count = db.moment_count().unwrap();
    (count - n.min(count)..count)
        .map(|i| dump_value(&db.moment(i as i64).unwrap()).unwrap())
        .collect()
}

fn assert_verifies<S: Storage>(db: &Database<S>, what: &str) {
    let report = db.verify().unwrap();
    assert!(report.is_ok(), "{what}: {:?}", report.problem);
}

// ------------------------------------------------------------- golden files

#[test]
fn every_golden_file_compacts_to_the_same_dump() {
    for xdb in fixtures() {
        let bytes = fs::read(&xdb).unwrap();
        let src = Database::from_slice(&bytes).unwrap();
        let expected = fs::read_to_string(xdb.with_extension("json")).unwrap();
        let (dst, report) = compact(&src, Keep::All).unwrap();
        let what = name(&xdb);
        assert_eq!(dump_json(&dst).unwrap(), expected, "{what}");
        assert_eq!(dst.header(), src.header(), "{what}");
        assert_verifies(&dst, &what);
        let moments = src.moment_count().unwrap_or(0);
        assert_eq!(report.moments_before, moments, "{what}");
        assert_eq!(report.moments_kept, moments, "{what}");
        assert_eq!(report.bytes_before, bytes.len() as u64, "{what}");
        assert_eq!(report.bytes_after, dst.len(), "{what}");
        assert!(report.bytes_after <= report.bytes_before.max(180), "{what}");
        // Reopened, nothing is cut off as uncommitted.
        let copy = dst.into_bytes();
        let reopened = Database::from_bytes(copy.clone()).unwrap();
        assert_eq!(reopened.len(), copy.len() as u64, "{what}");
        assert_eq!(dump_json(&reopened).unwrap(), expected, "{what}");
        // A compacted file compacts to the same bytes.
        let (again, _) = compact(&reopened, Keep::All).unwrap();
        assert_eq!(again.into_bytes(), copy, "{what}: compaction is idempotent");
    }
}

#[test]
fn keep_last_keeps_exactly_the_newest_moments() {
    for xdb in fixtures() {
        let bytes = fs::read(&xdb).unwrap();
        let src = Database::from_slice(&bytes).unwrap();
        let Ok(count) = src.moment_count() else {
            continue; // a root map: no moments
        };
        let what = name(&xdb);
        let mut ns = vec![0, 1, count / 2, count.saturating_sub(1), count + 3];
        ns.dedup();
        for n in ns {
            let (dst, report) = compact(&src, Keep::Last(n)).unwrap();
            let kept = n.min(count);
            assert_eq!(report.moments_kept, kept, "{what} last {n}");
            assert_eq!(dst.moment_count().unwrap(), kept, "{what} last {n}");
            assert_eq!(
                last_dumps(&dst, kept),
                last_dumps(&src, kept),
                "{what} last {n}"
            );
            assert_verifies(&dst, &format!("{what} last {n}"));
        }
    }
}

#[test]
fn root_maps_and_empty_databases_ignore_keep() {
    for file in ["toplevel_hash_map", "toplevel_counted_hash_map", "empty_db"] {
        let path = golden_files::path(&format!("{file}.xdb"));
        let bytes = fs::read(&path).unwrap();
        let src = Database::from_slice(&bytes).unwrap();
        let mut calls = 0;
        let mut dst = Database::memory();
        let report = src
            .compact_into(&mut dst, Keep::Last(1), &mut |_| calls += 1)
            .unwrap();
        assert_eq!(calls, 1, "{file}");
        assert_eq!((report.moments_before, report.moments_kept), (0, 0));
        assert_eq!(dump_json(&dst).unwrap(), dump_json(&src).unwrap(), "{file}");
        assert_verifies(&dst, file);
    }
}

// ------------------------------------------------------- sharing and garbage

#[test]
fn moments_keep_sharing_their_blocks() {
    let mut src = Database::memory();
    src.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        for i in 0..10_000u64 {
            m.put(format!("key {i}"), i)?;
        }
        Ok(())
    })
    .unwrap();
    for t in 1..200u64 {
        src.transact(|tx| tx.root_map()?.put(format!("key {}", t * 37), t + 1_000_000))
            .unwrap();
    }
    let (one, _) = compact(&src, Keep::Last(1)).unwrap();
    let (all, report) = compact(&src, Keep::All).unwrap();
    let (one, all, source) = (one.len(), all.len(), src.len());
    assert_eq!(report.moments_kept, 200);
    // 200 moments cost far less than 200 copies of one...
    assert!(all < 2 * one, "all {all}, one moment {one}");
    // ...and about what the source holds: it has no garbage.
    assert!(all <= source, "all {all}, source {source}");
    assert!(all * 100 >= source * 95, "all {all}, source {source}");
    // the sharing is real: the new moments share the old ones' records
    let (dst, _) = compact(&src, Keep::All).unwrap();
    assert_eq!(last_dumps(&dst, 3), last_dumps(&src, 3));
    let first = dump_value(&dst.moment(0).unwrap()).unwrap();
    assert_eq!(first, dump_value(&src.moment(0).unwrap()).unwrap());
}

#[test]
fn garbage_is_dropped() {
    const BLOB: usize = 200_000;
    let mut src = Database::memory();
    for t in 0..20u8 {
        src.transact(|tx| -> R {
            let mut m = tx.root_map()?;
            m.put("blob", vec![t + 1; BLOB].as_slice())?;
            m.put("n", u64::from(t))
        })
        .unwrap();
    }
    assert!(src.len() > 20 * BLOB as u64);
    let (one, report) = compact(&src, Keep::Last(1)).unwrap();
    assert!(
        one.len() < BLOB as u64 + 2_000,
        "last 1 of a rewritten blob: {} bytes",
        one.len()
    );
    assert_eq!(report.bytes_before, src.len());
    assert_eq!(last_dumps(&one, 1), last_dumps(&src, 1));
    let (all, _) = compact(&src, Keep::All).unwrap();
    assert!(all.len() > 20 * BLOB as u64 && all.len() <= src.len());
}

#[test]
fn stale_list_items_are_dropped_and_slices_of_shared_blocks_stay_whole() {
    let item = |i: u64| format!("item {i:04} {}", "x".repeat(90));
    let mut src = Database::memory();
    src.transact(|tx| -> R {
        let mut root = tx.root_map()?;
        let mut l = root.entry("l")?.array_list()?;
        for i in 0..300 {
            l.append(item(i).as_str())?;
        }
        Ok(())
    })
    .unwrap();
    src.transact(|tx| tx.root_map()?.entry("l")?.array_list()?.truncate(20))
        .unwrap();
    src.revert_to(0).unwrap(); // the whole list again, sharing its blocks
                               // The sliced moment alone: the 280 items past its size are not copied.
    let (sliced, _) = compact(&src, Keep::Last(2)).unwrap();
    let (only_sliced, _) = {
        let mut dst = Database::memory();
        let bytes = src.storage().as_bytes().to_vec();
        let mut two = Database::from_bytes(bytes).unwrap();
        two.truncate_history(2).unwrap();
        let r = two
            .compact_into(&mut dst, Keep::Last(1), &mut |_| {})
            .unwrap();
        (dst, r)
    };
    assert!(only_sliced.len() < 5_000, "{}", only_sliced.len());
    assert_verifies(&only_sliced, "sliced list");
    // Met first with 20 items and then with 300, a block is copied again.
    assert_eq!(last_dumps(&sliced, 2), last_dumps(&src, 2));
    assert_verifies(&sliced, "sliced then whole");
    let whole = sliced.moment(-1).unwrap();
    let l = whole.as_map().unwrap().get(b"l").unwrap().unwrap();
    assert_eq!(l.as_list().unwrap().len(), 300);
}

// --------------------------------------------------------- use of the result

#[test]
fn a_compacted_history_takes_new_moments() {
    // history shapes around the block boundaries of the history list
    for kept in [0u64, 1, 15, 16, 17, 255, 256, 257] {
        let mut src = Database::memory_with(HashKind::Sha1);
        for i in 0..kept + 2 {
            src.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
        }
        let (mut dst, _) = compact(&src, Keep::Last(kept)).unwrap();
        assert_eq!(dst.moment_count().unwrap(), kept);
        for i in 0..20u64 {
            dst.transact(|tx| tx.root_map()?.put("m", i)).unwrap();
        }
        assert_verifies(&dst, &format!("kept {kept}"));
        let dst = Database::from_bytes(dst.into_bytes()).unwrap();
        assert_eq!(dst.moment_count().unwrap(), kept + 20);
        for i in 0..kept + 20 {
            let m = dst.moment(i as i64).unwrap().as_map().unwrap();
            let n = m.get(b"n").unwrap().map(|c| c.as_uint().unwrap());
            if kept > 0 {
                assert_eq!(n, Some(if i < kept { i + 2 } else { kept + 1 }));
            }
            if i >= kept {
                let v = m.get(b"m").unwrap().unwrap().as_uint().unwrap();
                assert_eq!(v, i - kept);
            }
        }
    }
}

#[test]
fn file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.xdb"), dir.path().join("b.xdb"));
    {
        let mut src = Database::create(&a).unwrap();
        for i in 0..40u64 {
            src.transact(|tx| -> R {
                let mut m = tx.root_map()?;
                m.put(format!("k{}", i % 7), i)?;
                m.entry("log")?.linked_array_list()?.append(i)?;
                m.put("big", vec![i as u8 + 1; 5_000].as_slice())
            })
            .unwrap();
        }
    }
    let src = Database::open_read_only(&a).unwrap();
    let report = {
        let mut dst = Database::create(&b).unwrap();
        let r = src
            .compact_into(&mut dst, Keep::Last(10), &mut |_| {})
            .unwrap();
        assert_eq!(dst.moment_count().unwrap(), 10);
        r
    };
    assert_eq!(report.bytes_after, fs::metadata(&b).unwrap().len());
    assert!(report.bytes_after * 3 < report.bytes_before);
    let dst = Database::open(&b).unwrap();
    assert_eq!(dst.len(), report.bytes_after, "nothing cut off on open");
    assert_eq!(last_dumps(&dst, 10), last_dumps(&src, 10));
    assert_verifies(&dst, "file");
    drop(dst);
    let ro = Database::open_read_only(&b).unwrap();
    assert_eq!(last_dumps(&ro, 10), last_dumps(&src, 10));
}

#[test]
fn progress_is_reported_per_moment() {
    let mut src = Database::memory();
    for i in 0..30u64 {
        src.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
    }
    let mut seen: Vec<Progress> = Vec::new();
    let mut dst = Database::memory();
    let report = src
        .compact_into(&mut dst, Keep::Last(12), &mut |p| seen.push(p))
        .unwrap();
    assert_eq!(seen.len(), 12);
    for (i, p) in seen.iter().enumerate() {
        assert_eq!(p.moments_done, i as u64 + 1);
        assert_eq!(p.moments_total, 12);
        assert!(p.bytes_written <= report.bytes_after);
    }
    assert!(seen
        .windows(2)
        .all(|w| w[0].bytes_written < w[1].bytes_written));

    // A large moment also reports while it is being copied (every 8 MiB).
    let mut big = Database::memory();
    big.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        for i in 0..3u8 {
            m.put([i], vec![i + 1; 4 << 20].as_slice())?;
        }
        Ok(())
    })
    .unwrap();
    let mut seen: Vec<Progress> = Vec::new();
    let mut dst = Database::memory();
    big.compact_into(&mut dst, Keep::All, &mut |p| seen.push(p))
        .unwrap();
    assert!(seen.len() >= 2, "{seen:?}");
    assert_eq!(seen.iter().filter(|p| p.moments_done == 1).count(), 1);
    assert_eq!(seen.last().map(|p| p.moments_done), Some(1));
    assert!(seen.iter().all(|p| p.moments_total == 1));
}

#[test]
fn an_unknown_hasher_compacts_without_rehashing() {
    let path = golden_files::path("kind_file.xdb");
    let mut bytes = fs::read(path).unwrap();
    bytes[8..12].copy_from_slice(b"zzzz");
    let src = Database::from_slice(&bytes).unwrap();
    assert!(src.hasher().kind().is_none());
    let (dst, _) = compact(&src, Keep::All).unwrap();
    assert_eq!(&dst.header().hash_id, b"zzzz");
    assert_eq!(dst.header().hash_size, 20);
    assert_eq!(dump_json(&dst).unwrap(), dump_json(&src).unwrap());
    assert_verifies(&dst, "unknown hasher");
}

// ---------------------------------------------------------------- failures

fn small_db() -> Database {
    let mut db = Database::memory();
    for i in 0..5u64 {
        db.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
    }
    db
}

#[test]
fn the_destination_must_be_new_and_empty() {
    let src = small_db();
    let mut used = small_db();
    let before = used.storage().as_bytes().to_vec();
    let r = src.compact_into(&mut used, Keep::All, &mut |_| {});
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert_eq!(used.storage().as_bytes(), &before[..]);
    let mut root_map = Database::memory();
    root_map
        .transact_root(|tx| tx.root().hash_map()?.put("a", 1u64))
        .unwrap();
    let r = src.compact_into(&mut root_map, Keep::All, &mut |_| {});
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let bytes = Database::memory().into_bytes();
    let mut read_only = Database::from_slice(&bytes).unwrap();
    let r = src.compact_into(&mut read_only, Keep::All, &mut |_| {});
    assert!(matches!(r, Err(Error::ReadOnly)), "{r:?}");
}

/// A failed compaction leaves the destination as new: 12 bytes, usable.
fn assert_still_empty(dst: &mut Database) {
    assert_eq!(
        dst.storage().as_bytes(),
        &Database::memory().into_bytes()[..]
    );
    assert_eq!(dst.moment_count().unwrap(), 0);
    dst.transact(|tx| tx.root_map()?.put("fresh", 1u64))
        .unwrap();
    assert_verifies(dst, "reused destination");
}

#[test]
fn a_panicking_progress_callback_leaves_the_destination_empty() {
    let src = small_db();
    let mut dst = Database::memory();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut calls = 0;
        src.compact_into(&mut dst, Keep::All, &mut |_| {
            calls += 1;
            if calls == 3 {
                panic!("stop");
            }
        })
    }));
    assert!(r.is_err());
    assert_still_empty(&mut dst);
}

#[test]
fn cycles_and_deep_nesting_are_errors() {
    // moment 1's root block: its slot 0 points back at itself
    let src = small_db();
    let root = src.moment(-1).unwrap().slot().value as usize;
    let mut bytes = src.into_bytes();
    bytes[root..root + 9]
        .copy_from_slice(&Slot::new(xitdb::format::Tag::Index, root as u64).encode());
    let src = Database::from_bytes(bytes).unwrap();
    let mut dst = Database::memory();
    let r = src.compact_into(&mut dst, Keep::All, &mut |_| {});
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
    assert_still_empty(&mut dst);
    // moments 0..3 still compact
    let (ok, _) = {
        let mut d = Database::memory();
        let mut part = Database::from_bytes(src.into_bytes()).unwrap();
        part.truncate_history(4).unwrap();
        let r = part.compact_into(&mut d, Keep::All, &mut |_| {}).unwrap();
        (d, r)
    };
    assert_eq!(ok.moment_count().unwrap(), 4);

    // lists nested 600 deep
    let mut deep = Database::memory();
    deep.transact(|tx| -> R {
        let mut c = tx.root();
        for _ in 0..600 {
            c = c.array_list()?.into_append_cursor()?;
        }
        c.write(1u64)
    })
    .unwrap();
    let mut dst = Database::memory();
    let r = deep.compact_into(&mut dst, Keep::All, &mut |_| {});
    assert!(matches!(r, Err(Error::TooDeep { .. })), "{r:?}");
    assert_still_empty(&mut dst);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..persisted(file!()) })]

    /// Golden files with random damage compact to an error or to a copy
    /// that verifies whenever the source does; never a panic or a hang.
    #[test]
    fn damaged_files_fail_cleanly(file in 0usize..43, hits in prop::collection::vec((any::<u32>(), any::<u8>()), 1..4)) {
        let files = fixtures();
        let mut bytes = fs::read(&files[file % files.len()]).unwrap();
        if bytes.len() <= 12 {
            return Ok(());
        }
        for (pos, b) in hits {
            let at = 12 + pos as usize % (bytes.len() - 12);
            bytes[at] = b;
        }
        let Ok(src) = Database::from_slice(&bytes) else { return Ok(()) };
        let mut dst = Database::memory();
        match src.compact_into(&mut dst, Keep::All, &mut |_| {}) {
            Ok(_) => {
                if src.verify().unwrap().is_ok() {
                    assert_verifies(&dst, "damaged");
                    prop_assert_eq!(dump_json(&dst).unwrap(), dump_json(&src).unwrap());
                }
            }
            Err(_) => assert_still_empty(&mut dst),
        }
    }
}

// ------------------------------------------------------- random histories

/// A hash kind, and steps of the kit's model for it.
fn history() -> impl Strategy<Value = (HashKind, Vec<Step>)> {
    prop_oneof![Just(HashKind::Sha1), Just(HashKind::Blake3)]
        .prop_flat_map(|kind| (Just(kind), steps_of(kind, op(kind), 1..8, 1..10)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..persisted(file!()) })]

    /// Histories of the kit's operations (structures shared between names,
    /// with past moments and within one moment; reverts, aborts, history
    /// truncations), checked against the model as they are made, compact
    /// moment for moment.
    #[test]
    fn random_histories_compact_moment_for_moment((kind, steps) in history(), k in 0u64..12) {
        let mut src = Database::memory_with(kind);
        let mut snaps = Vec::new();
        Run::memory(&mut src, &steps, &mut snaps, &Checker::new(kind))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_verifies(&src, "source");
        let (dst, report) = compact(&src, Keep::Last(k)).unwrap();
        let kept = k.min(src.moment_count().unwrap());
        prop_assert_eq!(report.moments_kept, kept);
        prop_assert_eq!(last_dumps(&dst, kept), last_dumps(&src, kept));
        assert_verifies(&dst, "compacted");
        prop_assert!(dst.len() <= src.len().max(180));
        let (all, _) = compact(&src, Keep::All).unwrap();
        prop_assert_eq!(dump_json(&all).unwrap(), dump_json(&src).unwrap());
    }
}

// ------------------------------------------------ sorted maps and sets

/// Upstream's B-tree golden files that hold no LinkedArrayList.
use common::golden_files::SORTED_ONLY;

fn btree_fixture(file: &str) -> std::path::PathBuf {
    golden_files::btree_path(file)
}

/// Compacting all moments keeps every dump, and the result compacts to the
/// same bytes; keeping the last moment keeps its dump.
fn assert_compacts_faithfully<S: Storage>(src: &Database<S>, what: &str) -> Database {
    let expected = dump_json(src).unwrap();
    let (dst, report) = compact(src, Keep::All).unwrap();
    assert!(dump_json(&dst).unwrap() == expected, "{what}: dump differs");
    assert_eq!(dst.header(), src.header(), "{what}");
    assert!(report.bytes_after <= report.bytes_before, "{what}");
    let copy = dst.into_bytes();
    let reopened = Database::from_bytes(copy.clone()).unwrap();
    let (again, _) = compact(&reopened, Keep::All).unwrap();
    assert!(
        again.into_bytes() == copy,
        "{what}: compaction is idempotent"
    );
    let (last, _) = compact(src, Keep::Last(1)).unwrap();
    assert_eq!(last.moment_count().unwrap(), 1, "{what}");
    assert!(last_dumps(&last, 1) == last_dumps(src, 1), "{what}: last 1");
    reopened
}

#[test]
fn sorted_golden_files_compact_to_the_same_dump() {
    for file in SORTED_ONLY {
        let bytes = fs::read(btree_fixture(&format!("{file}.xdb"))).unwrap();
        let json = fs::read_to_string(btree_fixture(&format!("{file}.json"))).unwrap();
        let src = Database::from_slice(&bytes).unwrap();
        let dst = assert_compacts_faithfully(&src, file);
        assert!(
            dump_json(&dst).unwrap() == json,
            "{file}: dump differs from its json"
        );
    }
}

/// A long key (more than 8 bytes: stored out of line).
fn long_key(i: u64) -> String {
    format!(
        "key {:06} {}",
        i * 7919 % 100_000,
        "k".repeat((i % 5) as usize)
    )
}

/// Several moments of sorted maps and sets with long keys: puts, removals,
/// overwrites, and sorted maps and sets nested in a sorted map.
fn sorted_history() -> Database {
    let mut db = Database::memory();
    for t in 0..6u64 {
        db.transact(|tx| -> R {
            let mut root = tx.root_map()?;
            root.put("t", t)?;
            {
                let mut m = root.entry("m")?.sorted_map()?;
                for i in t * 300..t * 300 + 600 {
                    m.put(long_key(i), i)?;
                }
                for i in (t * 300..t * 300 + 200).step_by(3) {
                    m.remove(long_key(i))?;
                }
                m.put(
                    long_key(t),
                    format!("overwritten in {t} {}", "v".repeat(20)).as_str(),
                )?;
                let mut inner = m.entry(format!("nested map {}", t % 2))?.sorted_map()?;
                for i in 0..40 {
                    inner.put(long_key(i + t), t)?;
                }
                let mut deeper = inner.entry("deeper")?.sorted_set()?;
                deeper.insert(long_key(t))?;
            }
            let mut s = root.entry("s")?.sorted_set()?;
            for i in 0..200 {
                s.insert(long_key(i * (t + 1)))?;
            }
            s.remove(long_key(t))?;
            Ok(())
        })
        .unwrap();
    }
    db
}

#[test]
fn sorted_collections_built_through_the_api_compact() {
    let src = sorted_history();
    let dst = assert_compacts_faithfully(&src, "api");
    assert!(dst.len() <= src.len(), "{} > {}", dst.len(), src.len());
    // the copy is usable: new moments go on from it
    let mut dst = Database::from_bytes(dst.into_bytes()).unwrap();
    dst.transact(|tx| tx.root_map()?.entry("m")?.sorted_map()?.put("new", 1u64))
        .unwrap();
    let moment = dst.moment(-1).unwrap();
    let m = moment.as_map().unwrap().get(b"m").unwrap().unwrap();
    let m = m.as_sorted_map().unwrap();
    assert_eq!(m.get("new").unwrap().unwrap().as_uint().unwrap(), 1);
    let old = m.get(long_key(1_000)).unwrap().unwrap();
    assert_eq!(old.as_uint().unwrap(), 1_000);
}

/// The big-endian u64 at `at`.
fn word(bytes: &[u8], at: u64) -> u64 {
    u64::from_be_bytes(bytes[at as usize..at as usize + 8].try_into().unwrap())
}

fn slot_in(bytes: &[u8], at: u64) -> Slot {
    Slot::decode(bytes[at as usize..at as usize + 9].try_into().unwrap(), at).unwrap()
}

/// The position of the root node of sorted map `m` in the last moment.
fn sorted_root(db: &Database, bytes: &[u8]) -> u64 {
    let moment = db.moment(-1).unwrap();
    let m = moment.as_map().unwrap().get(b"m").unwrap().unwrap();
    word(bytes, m.slot().value + 8)
}

#[test]
fn separators_share_their_keys_bytes() {
    use xitdb::format::btree::{node_slot, separator_off, slot_off, SORTED_BRANCH_LEN};
    let mut src = Database::memory();
    src.transact(|tx| -> R {
        let mut m = tx.root_map()?.into_entry("m")?.sorted_map()?;
        for i in 0..2_000 {
            m.put(long_key(i), i)?;
        }
        Ok(())
    })
    .unwrap();
    let (dst, _) = compact(&src, Keep::All).unwrap();
    let bytes = dst.storage().as_bytes().to_vec();
    let root = sorted_root(&dst, &bytes);
    assert_eq!(bytes[root as usize], 1, "the root is a branch");
    let num = usize::from(bytes[root as usize + 1]);
    assert!(num >= 2);
    let node = &bytes[root as usize..(root + SORTED_BRANCH_LEN) as usize];
    for i in 1..num {
        let sep = slot_in(&bytes, root + separator_off(i));
        assert_eq!(sep.tag, xitdb::format::Tag::Bytes);
        // the first key below child i is the separator's key
        let mut n = node_slot(node, i, root).unwrap().value;
        while bytes[n as usize] == 1 {
            n = slot_in(&bytes, n + slot_off(0)).value;
        }
        let kv = slot_in(&bytes, n + slot_off(0)).value;
        let key = slot_in(&bytes, kv + dst.header().hash_size as u64);
        assert_eq!(key, sep, "separator {i} and its key point at one copy");
    }
    // past num, every child, separator and count is zero
    assert!(
        node[separator_off(num) as usize..separator_off(16) as usize]
            .iter()
            .all(|&b| b == 0)
    );
}

#[test]
fn damaged_sorted_nodes_are_errors() {
    let mut src = Database::memory();
    src.transact(|tx| -> R {
        let mut m = tx.root_map()?.into_entry("m")?.sorted_map()?;
        for i in 0..100 {
            m.put(long_key(i), i)?;
        }
        Ok(())
    })
    .unwrap();
    let bytes = src.into_bytes();
    let good = Database::from_bytes(bytes.clone()).unwrap();
    let root = sorted_root(&good, &bytes) as usize;
    assert_eq!(bytes[root], 1, "the root is a branch");
    let child = Slot::new(xitdb::format::Tag::Index, root as u64).encode();
    let damage: [(&str, usize, &[u8]); 3] = [
        ("kind byte 2", root, &[2]),
        ("17 entries", root + 1, &[17]),
        ("a cycle", root + 2, &child),
    ];
    for (what, at, new) in damage {
        let mut b = bytes.clone();
        b[at..at + new.len()].copy_from_slice(new);
        let src = Database::from_bytes(b).unwrap();
        let mut dst = Database::memory();
        let r = src.compact_into(&mut dst, Keep::All, &mut |_| {});
        assert!(matches!(r, Err(Error::Corrupt { .. })), "{what}: {r:?}");
        assert_still_empty(&mut dst);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Sorted golden files with random damage compact to an error (the
    /// destination stays empty) or to a copy with the source's dump; never
    /// a panic or a hang.
    #[test]
    fn damaged_sorted_files_fail_cleanly(
        file in 0usize..5,
        hits in prop::collection::vec((any::<u32>(), any::<u8>()), 1..4),
    ) {
        let small = ["sorted_map_small", "sorted_set_basic", "sorted_map_clone", "sorted_remove_all", "sorted_map_keys"];
        let mut bytes = fs::read(btree_fixture(&format!("{}.xdb", small[file]))).unwrap();
        for (pos, b) in hits {
            let at = 12 + pos as usize % (bytes.len() - 12);
            bytes[at] = b;
        }
        let Ok(src) = Database::from_slice(&bytes) else { return Ok(()) };
        let mut dst = Database::memory();
        match src.compact_into(&mut dst, Keep::All, &mut |_| {}) {
            Ok(_) => {
                if let Ok(expected) = dump_json(&src) {
                    prop_assert!(dump_json(&dst).unwrap() == expected, "dump differs");
                }
            }
            Err(_) => assert_still_empty(&mut dst),
        }
    }
}

// ------------------------------------------------------------- measurement

/// The W3 workload's file (10,000 moments, each putting one key into a
/// growing HashMap, SHA-1), compacted whole and down to its last moments.
/// `cargo test --release --test compact w3 -- --ignored --nocapture`
#[test]
#[ignore]
fn w3_compaction_figures() {
    use sha1::Digest;
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("W3.xdb");
    {
        let opts = xitdb::Options {
            hash: HashKind::Sha1,
            durability: xitdb::Durability::None,
            ..xitdb::Options::default()
        };
        let mut db = Database::create_with(&path, opts).unwrap();
        for i in 0..10_000u64 {
            let h: [u8; 20] = sha1::Sha1::digest(i.to_be_bytes()).into();
            db.transact(|tx| tx.root_map()?.put_by_hash(&h, i)).unwrap();
        }
    }
    let src = Database::open_read_only(&path).unwrap();
    for keep in [Keep::All, Keep::Last(1_000), Keep::Last(1)] {
        let out = dir.path().join("out.xdb");
        let mut dst = Database::create(&out).unwrap();
        let t = Instant::now();
        let mut calls = 0u64;
        let r = src
            .compact_into(&mut dst, keep, &mut |_| calls += 1)
            .unwrap();
        let s = t.elapsed().as_secs_f64();
        println!(
            "W3 compact {keep:?}: {s:.3} s, {} -> {} bytes ({:.1}%), {} of {} moments, {calls} progress calls",
            r.bytes_before,
            r.bytes_after,
            100.0 * r.bytes_after as f64 / r.bytes_before as f64,
            r.moments_kept,
            r.moments_before
        );
        let t = Instant::now();
        assert_verifies(&dst, "W3");
        let v = t.elapsed().as_secs_f64();
        let kept = r.moments_kept;
        for back in [1, (kept / 2).max(1), kept] {
            let i = (kept - back) as i64;
            let j = i + (src.moment_count().unwrap() - kept) as i64;
            assert_eq!(
                dump_value(&dst.moment(i).unwrap()).unwrap(),
                dump_value(&src.moment(j).unwrap()).unwrap()
            );
        }
        println!("  verify of the result: {v:.3} s");
        drop(dst);
        fs::remove_file(&out).unwrap();
    }
}
