//! SortedMap and SortedSet: upstream's golden files dump to their JSON, and
//! a model test against `BTreeMap`/`BTreeSet` across moments (puts,
//! removals, ranges both ways, ranks, indices, prefixes, reads of past
//! moments).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::ops::Bound;
use std::path::PathBuf;
use xitdb::json::{dump_json, load_json};

#[allow(dead_code)]
mod common;
use common::golden_files::{btree_path, SORTED_ONLY};
use xitdb::storage::MemoryStorage;
use xitdb::{Database, Error, SortedMapView};

fn fixture(name: &str) -> PathBuf {
    btree_path(name)
}

#[test]
fn upstream_sorted_files_dump_to_their_json() {
    for name in SORTED_ONLY {
        let bytes = fs::read(fixture(&format!("{name}.xdb"))).unwrap();
        let expected = fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
        let db = Database::from_slice(&bytes).unwrap();
        assert!(dump_json(&db).unwrap() == expected, "{name}: dump differs");
    }
}

#[test]
fn upstream_sorted_json_loads_back_to_itself() {
    for name in SORTED_ONLY {
        let json = fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
        let db = load_json(&json, MemoryStorage::new()).unwrap();
        assert!(
            dump_json(&db).unwrap() == json,
            "{name}: reloaded dump differs"
        );
    }
}

#[test]
fn malformed_sorted_json_is_an_error() {
    let doc = |moment: &str| {
        format!(
            r#"{{"header":{{"hash_id":"sha1","hash_size":20,"version":0,"tag":"array_list"}},"root":{{"array_list":[{moment}]}}}}"#
        )
    };
    let ok = doc(r#"{"sorted_map":[{"key":{"bytes":"61"},"value":{"uint":1}}]}"#);
    assert!(load_json(&ok, MemoryStorage::new()).is_ok());
    for (moment, says) in [
        (r#"{"sorted_map":[{"value":null}]}"#, "missing \"key\""),
        (r#"{"sorted_map":[{"key":"61"}]}"#, "a key must be"),
        (r#"{"sorted_set":[{"key":{"bytes":"zz"}}]}"#, "not hex"),
        (
            r#"{"sorted_set":[{"key":{"bytes":"62"}},{"key":{"bytes":"61"}}]}"#,
            "entry 1: key 61 is not above",
        ),
        (
            r#"{"sorted_map":[{"key":{"bytes":"61"}},{"key":{"bytes":"61"}}]}"#,
            "entry 1: key 61 is not above",
        ),
        (
            r#"{"sorted_set":[{"key":{"bytes":"61"},"value":null}]}"#,
            "unknown field \"value\"",
        ),
    ] {
        match load_json(&doc(moment), MemoryStorage::new()) {
            Err(Error::Json(m)) => assert!(m.contains(says), "{moment}: {m}"),
            other => panic!("{moment}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn upstream_sorted_files_answer_range_queries() {
    let bytes = fs::read(fixture("sorted_map_large.xdb")).unwrap();
    let db = Database::from_slice(&bytes).unwrap();
    for m in 0..db.moment_count().unwrap() as i64 {
        let moment = db.moment(m).unwrap();
        let map = moment.as_map().unwrap().get(b"map").unwrap().unwrap();
        let map = map.as_sorted_map().unwrap();
        let keys: Vec<Vec<u8>> = map
            .iter()
            .unwrap()
            .map(|e| e.unwrap().key().unwrap().into_owned())
            .collect();
        assert_eq!(keys.len() as u64, map.len().unwrap());
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "moment {m} out of order"
        );
        let back: Vec<Vec<u8>> = map
            .iter()
            .unwrap()
            .rev()
            .map(|e| e.unwrap().key().unwrap().into_owned())
            .collect();
        assert!(back.iter().rev().eq(keys.iter()));
        for (i, k) in keys.iter().enumerate().step_by(97) {
            assert_eq!(map.rank(k).unwrap(), i as u64);
            assert_eq!(
                &*map.get_index(i as i64).unwrap().unwrap().key().unwrap(),
                &k[..]
            );
            assert!(map.get(k).unwrap().is_some());
            let from: Vec<_> = map
                .iter_from(k)
                .unwrap()
                .take(3)
                .map(|e| e.unwrap().key().unwrap().into_owned())
                .collect();
            assert_eq!(from, keys[i..keys.len().min(i + 3)].to_vec());
        }
    }
}

/// An operation of the model test.
#[derive(Debug, Clone)]
enum Op {
    Put(Vec<u8>, u64),
    Remove(Vec<u8>),
    Insert(Vec<u8>),
    RemoveMember(Vec<u8>),
    Commit,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // few distinct short keys, so that puts overwrite and removes hit
        (0u8..40).prop_map(|b| vec![b'k', b]),
        proptest::collection::vec(any::<u8>(), 0..12),
        (0u16..300).prop_map(|n| format!("long-key-{n:05}-{}", "x".repeat(20)).into_bytes()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), any::<u64>()).prop_map(|(k, v)| Op::Put(k, v)),
        3 => key().prop_map(Op::Remove),
        3 => key().prop_map(Op::Insert),
        2 => key().prop_map(Op::RemoveMember),
        1 => Just(Op::Commit),
    ]
}

type Model = (BTreeMap<Vec<u8>, u64>, BTreeSet<Vec<u8>>);

fn check_map(
    view: &SortedMapView<'_>,
    model: &BTreeMap<Vec<u8>, u64>,
    probes: &[Vec<u8>],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(view.len()?, model.len() as u64);
    let got: Vec<(Vec<u8>, u64)> = view
        .iter()?
        .map(|e| {
            let e = e?;
            Ok((e.key()?.into_owned(), e.value()?.as_uint()?))
        })
        .collect::<Result<_, Error>>()?;
    let want: Vec<(Vec<u8>, u64)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
    prop_assert_eq!(&got, &want);
    let back: Vec<Vec<u8>> = view
        .iter()?
        .rev()
        .map(|e| Ok(e?.key()?.into_owned()))
        .collect::<Result<_, Error>>()?;
    prop_assert!(back.iter().eq(model.keys().rev()));
    for p in probes {
        prop_assert_eq!(
            view.get(p)?.map(|c| c.as_uint()).transpose()?,
            model.get(p).copied()
        );
        prop_assert_eq!(
            view.rank(p)?,
            model.range::<Vec<u8>, _>(..p.clone()).count() as u64
        );
        let lo = Bound::Included(p.as_slice());
        let hi = Bound::Excluded(b"k\x20".as_slice());
        let got: Vec<Vec<u8>> = view
            .range::<[u8], _>((lo, hi))?
            .map(|e| Ok(e?.key()?.into_owned()))
            .collect::<Result<_, Error>>()?;
        let want: Vec<Vec<u8>> = if p.as_slice() < b"k\x20".as_slice() {
            model
                .range::<[u8], _>((lo, hi))
                .map(|(k, _)| k.clone())
                .collect()
        } else {
            Vec::new()
        };
        prop_assert_eq!(got, want);
        let got: Vec<Vec<u8>> = view
            .prefix(p.get(..1).unwrap_or(&[]))?
            .rev()
            .map(|e| Ok(e?.key()?.into_owned()))
            .collect::<Result<_, Error>>()?;
        let pre = p.get(..1).unwrap_or(&[]);
        let want: Vec<Vec<u8>> = model
            .keys()
            .filter(|k| k.starts_with(pre))
            .rev()
            .cloned()
            .collect();
        prop_assert_eq!(got, want);
    }
    let n = model.len() as i64;
    for i in [0, 1, n / 2, n - 1, -1, -n, n, -n - 1] {
        let want = if i >= 0 {
            model.keys().nth(i as usize)
        } else {
            model.keys().rev().nth((-i - 1) as usize)
        };
        let got = view
            .get_index(i)?
            .map(|e| e.key().map(|k| k.into_owned()))
            .transpose()?;
        prop_assert_eq!(got.as_ref(), want);
    }
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut db = Database::memory();
    let mut model: Model = Default::default();
    let mut moments: Vec<Model> = Vec::new();
    let mut probes: Vec<Vec<u8>> = vec![Vec::new(), b"k\x05".to_vec()];
    for chunk in ops.split(|o| matches!(o, Op::Commit)) {
        let before = model.clone();
        db.transact(|tx| {
            let mut root = tx.root_map()?;
            {
                let mut m = root.entry("m")?.sorted_map()?;
                for op in chunk {
                    match op {
                        Op::Put(k, v) => m.put(k, *v)?,
                        Op::Remove(k) => {
                            assert_eq!(m.remove(k)?, model.0.remove(k).is_some());
                            continue;
                        }
                        _ => continue,
                    }
                    if let Op::Put(k, v) = op {
                        model.0.insert(k.clone(), *v);
                    }
                }
            }
            let mut s = root.entry("s")?.sorted_set()?;
            for op in chunk {
                match op {
                    Op::Insert(k) => assert_eq!(s.insert(k)?, model.1.insert(k.clone())),
                    Op::RemoveMember(k) => assert_eq!(s.remove(k)?, model.1.remove(k)),
                    _ => {}
                }
            }
            Ok::<_, Error>(())
        })?;
        let _ = before;
        for op in chunk {
            if let Op::Put(k, _) | Op::Remove(k) | Op::Insert(k) | Op::RemoveMember(k) = op {
                if probes.len() < 24 {
                    probes.push(k.clone());
                }
            }
        }
        moments.push(model.clone());
    }
    for (i, m) in moments.iter().enumerate() {
        let moment = db.moment(i as i64)?;
        let root = moment.as_map()?;
        let map = root.get(b"m")?.unwrap().as_sorted_map()?;
        check_map(&map, &m.0, &probes)?;
        let set = root.get(b"s")?.unwrap().as_sorted_set()?;
        let members: Vec<Vec<u8>> = set
            .iter()?
            .map(|e| Ok(e?.key()?.into_owned()))
            .collect::<Result<_, Error>>()?;
        prop_assert!(members.iter().eq(m.1.iter()));
        for p in &probes {
            prop_assert_eq!(set.contains(p)?, m.1.contains(p));
        }
    }
    let report = db.verify()?;
    prop_assert!(report.problem.is_none(), "{:?}", report.problem);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn sorted_collections_match_btree_models(ops in proptest::collection::vec(op(), 0..400)) {
        run(&ops)?;
    }
}

#[test]
fn many_inserts_and_removals_keep_the_tree_small() {
    let mut db = Database::memory();
    let n = 5000u64;
    db.transact(|tx| {
        let mut m = tx.root_map()?.into_entry("m")?.sorted_map()?;
        for i in 0..n {
            m.put((i * 7919 % n).to_be_bytes(), i)?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    db.transact(|tx| {
        let mut m = tx.root_map()?.into_entry("m")?.sorted_map()?;
        for i in 0..n {
            if i % 10 != 0 {
                assert!(m.remove((i * 7919 % n).to_be_bytes())?);
            }
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let moment = db.moment(-1).unwrap();
    let m = moment
        .as_map()
        .unwrap()
        .get(b"m")
        .unwrap()
        .unwrap()
        .as_sorted_map()
        .unwrap();
    assert_eq!(m.len().unwrap(), n / 10);
    let keys: Vec<u64> = m
        .iter()
        .unwrap()
        .map(|e| u64::from_be_bytes(e.unwrap().key().unwrap().as_ref().try_into().unwrap()))
        .collect();
    let mut want: Vec<u64> = (0..n)
        .filter(|i| i % 10 == 0)
        .map(|i| i * 7919 % n)
        .collect();
    want.sort();
    assert_eq!(keys, want);
}
