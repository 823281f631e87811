//! proptest strategies for the operation model, and the proptest
//! configuration every suite starts from.
//!
//! Failures are saved: a failing case's seed goes to
//! `tests/proptest-regressions/<suite>.txt`, which later runs replay before
//! any new case. Commit those files.

use super::model::{pool, Concat, Data, Idx, Key, Op, Patch, Scalar, Step, BULK, KINDS};
use super::model::{SUB, SUBS};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{FailurePersistence, FileFailurePersistence};
use std::ops::Range;
use std::path::Path;
use xitdb::format::HashKind;

/// The default configuration, with failures saved beside the tests:
/// `tests/proptest-regressions/<stem of source>.txt` (pass `file!()`).
pub fn persisted(source: &'static str) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(persistence(source)),
        ..ProptestConfig::default()
    }
}

fn persistence(source: &'static str) -> Box<dyn FailurePersistence> {
    let stem = Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("a test file name");
    let path = format!(
        "{}/tests/proptest-regressions/{stem}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    Box::new(FileFailurePersistence::Direct(Box::leak(
        path.into_boxed_str(),
    )))
}

/// `cases` runs, unless PROPTEST_CASES asks for another number (for
/// longer soak runs); failures saved as [`persisted`] says.
pub fn cases(source: &'static str, cases: u32) -> ProptestConfig {
    let default = persisted(source);
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            cases
        },
        ..default
    }
}

/// Any scalar: extreme numbers, NaNs and signed zeros, short and long
/// bytes, format-tagged bytes.
pub fn scalar() -> BoxedStrategy<Scalar> {
    let float = prop_oneof![
        any::<f64>(),
        any::<u64>().prop_map(f64::from_bits),
        select(vec![
            0.0,
            -0.0,
            1.5,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
        ]),
    ];
    let bytes = |b: Vec<u8>| Scalar::Bytes(Data::Inline(b));
    prop_oneof![
        1 => Just(Scalar::Null),
        2 => any::<u64>().prop_map(Scalar::Uint),
        1 => (0u64..3).prop_map(Scalar::Uint),
        2 => any::<i64>().prop_map(Scalar::Int),
        2 => float.prop_map(Scalar::Float),
        2 => vec(1u8..=255, 0..=8).prop_map(bytes),
        1 => vec(any::<u8>(), 0..=8).prop_map(bytes),
        2 => vec(any::<u8>(), 9..70).prop_map(bytes),
        2 => (vec(any::<u8>(), 0..=12), any::<[u8; 2]>())
            .prop_map(|(b, t)| Scalar::Tagged(Data::Inline(b), t)),
    ]
    .boxed()
}

/// A few values, often equal to each other (for diffs, which report
/// only what changed).
pub fn few_scalars() -> BoxedStrategy<Scalar> {
    prop_oneof![
        Just(Scalar::Null),
        (0u64..4).prop_map(Scalar::Uint),
        (-2i64..2).prop_map(Scalar::Int),
        prop_oneof![Just(0.0), Just(-0.0)].prop_map(Scalar::Float),
        (0u8..3).prop_map(|v| Scalar::bytes(format!("s{v}"))),
        (0u8..3).prop_map(|v| Scalar::bytes(format!("a long string, number {v}"))),
        (0u8..2).prop_map(|v| Scalar::Tagged(Data::Inline(format!("t{v}").into()), *b"tg")),
    ]
    .boxed()
}

pub fn idx() -> impl Strategy<Value = Idx> {
    prop_oneof![
        4 => (0usize..1000).prop_map(Idx::Front),
        3 => (0usize..1000).prop_map(Idx::Back),
        1 => (0usize..10).prop_map(Idx::Past),
        1 => (0usize..10).prop_map(Idx::Before),
    ]
}

/// A structure name: mostly the kind's own two, sometimes the shared one.
pub fn name() -> BoxedStrategy<usize> {
    prop_oneof![4 => 0usize..2, 1 => Just(2usize)].boxed()
}

fn concat(name: BoxedStrategy<usize>) -> impl Strategy<Value = Concat> {
    prop_oneof![
        Just(Concat::Itself),
        name.clone().prop_map(Concat::Name),
        (any::<usize>(), name).prop_map(|(moment, list)| Concat::Past { moment, list }),
    ]
}

fn patch() -> impl Strategy<Value = Patch> {
    prop_oneof![
        1 => Just(Patch::None),
        4 => (any::<usize>(), vec(any::<u8>(), 0..20).prop_map(Key))
            .prop_map(|(at, bytes)| Patch::Bytes { at, bytes }),
        1 => (any::<usize>(), 0usize..40).prop_map(|(at, len)| Patch::Again { at, len }),
    ]
}

/// Every kind of op, at the weights of the model suite.
pub fn op(kind: HashKind) -> BoxedStrategy<Op> {
    op_with(kind, scalar(), name())
}

/// Every kind of op, with these values and structure names.
pub fn op_with(
    kind: HashKind,
    v: BoxedStrategy<Scalar>,
    j: BoxedStrategy<usize>,
) -> BoxedStrategy<Op> {
    let p = pool(kind);
    let key = select(p.keys.clone()).prop_map(Key).boxed();
    let root_key = select(p.root_keys.clone()).prop_map(Key).boxed();
    let put_key = prop_oneof![6 => key.clone(), 1 => root_key.clone()];
    let inner: Vec<Vec<u8>> = [SUB, SUBS[0], SUBS[1]].map(|k| k.to_vec()).into();
    let map_key = prop_oneof![6 => key.clone(), 1 => select(inner).prop_map(Key)].boxed();
    let b = any::<bool>;
    let many = || prop_oneof![3 => 1usize..40, 1 => 100usize..300];
    prop_oneof![
        6 => (put_key, v.clone()).prop_map(|(k, v)| Op::Put(k, v)),
        3 => root_key.clone().prop_map(Op::Remove),
        1 => (key.clone(), v.clone()).prop_map(|(k, v)| Op::PutByHash(k, v)),
        1 => key.clone().prop_map(Op::RemoveByHash),
        1 => (key.clone(), vec(any::<u8>(), 0..100), 1usize..=16, patch(), any::<Option<[u8; 2]>>())
            .prop_map(|(key, data, chunk, patch, tag)| Op::PutStreamed {
                key, data: Data::Inline(data), chunk, patch, tag,
            }),
        1 => (key.clone(), vec(any::<u8>(), 0..40).prop_map(Key))
            .prop_map(|(key, data)| Op::AbandonWriter { key, data }),
        2 => (any::<usize>(), root_key).prop_map(|(moment, key)| Op::Restore { moment, key }),
        2 => (select(KINDS.to_vec()), j.clone(), j.clone())
            .prop_map(|(kind, from, to)| Op::CopyStruct { kind, from, to }),
        7 => (prop::bool::weighted(0.4), j.clone(), map_key.clone(), v.clone())
            .prop_map(|(counted, map, key, value)| Op::MapPut { counted, map, key, value }),
        4 => (b(), j.clone(), map_key)
            .prop_map(|(counted, map, key)| Op::MapRemove { counted, map, key }),
        1 => (b(), j.clone(), 0..BULK, 1u16..50, b())
            .prop_map(|(counted, map, start, n, remove)| Op::MapBulk { counted, map, start, n, remove }),
        1 => (j.clone(), v.clone()).prop_map(|(map, value)| Op::MapSubAppend { map, value }),
        2 => (j.clone(), 0usize..2, key.clone(), v.clone())
            .prop_map(|(map, sub, key, value)| Op::SubMapPut { map, sub, key, value }),
        1 => (j.clone(), 0usize..2, key.clone())
            .prop_map(|(map, sub, key)| Op::SubMapRemove { map, sub, key }),
        3 => (b(), j.clone(), key.clone())
            .prop_map(|(counted, set, key)| Op::SetInsert { counted, set, key }),
        2 => (b(), j.clone(), key.clone(), b())
            .prop_map(|(counted, set, key, by_hash)| Op::SetRemove { counted, set, key, by_hash }),
        4 => (j.clone(), v.clone()).prop_map(|(list, value)| Op::ListAppend { list, value }),
        1 => (j.clone(), many(), any::<u64>())
            .prop_map(|(list, n, first)| Op::ListAppendMany { list, n, first }),
        1 => (j.clone(), key.clone(), v.clone())
            .prop_map(|(list, key, value)| Op::ListAppendMap { list, key, value }),
        1 => j.clone().prop_map(|list| Op::ListAppendEmpty { list }),
        3 => (j.clone(), idx(), v.clone(), b())
            .prop_map(|(list, at, value, cursor)| Op::ListPut { list, at, value, cursor }),
        2 => (j.clone(), idx(), key.clone(), v.clone())
            .prop_map(|(list, at, key, value)| Op::ListItemMapPut { list, at, key, value }),
        1 => (j.clone(), any::<usize>()).prop_map(|(list, keep)| Op::ListTruncate { list, keep }),
        1 => (j.clone(), 0usize..4)
            .prop_map(|(list, extra)| Op::ListTruncatePastEnd { list, extra }),
        3 => (j.clone(), v.clone()).prop_map(|(list, value)| Op::LinkedAppend { list, value }),
        1 => (j.clone(), many(), any::<u64>())
            .prop_map(|(list, n, first)| Op::LinkedAppendMany { list, n, first }),
        1 => j.clone().prop_map(|list| Op::LinkedAppendEmpty { list }),
        3 => (j.clone(), idx(), v.clone(), b())
            .prop_map(|(list, at, value, cursor)| Op::LinkedPut { list, at, value, cursor }),
        3 => (j.clone(), idx(), v, b())
            .prop_map(|(list, at, value, cursor)| Op::LinkedInsert { list, at, value, cursor }),
        2 => (j.clone(), idx()).prop_map(|(list, at)| Op::LinkedRemove { list, at }),
        1 => (j.clone(), any::<usize>(), any::<usize>(), prop::bool::weighted(0.1))
            .prop_map(|(list, offset, n, past_end)| Op::LinkedSlice { list, offset, n, past_end }),
        2 => (j.clone(), concat(j)).prop_map(|(list, with)| Op::LinkedConcat { list, with }),
        1 => Just(Op::Freeze),
        1 => Just(Op::Check),
    ]
    .boxed()
}

/// Steps of `ops` ops each (commits, aborts, reverts, history
/// truncations, bursts of small commits).
pub fn steps_of(
    kind: HashKind,
    op: BoxedStrategy<Op>,
    ops: Range<usize>,
    len: Range<usize>,
) -> BoxedStrategy<Vec<Step>> {
    let step = prop_oneof![
        6 => vec(op.clone(), ops.clone()).prop_map(Step::Commit),
        2 => vec(op, ops).prop_map(Step::Abort),
        1 => idx().prop_map(Step::Revert),
        1 => (any::<usize>(), prop::bool::weighted(0.2))
            .prop_map(|(keep, past_end)| Step::TruncateHistory { keep, past_end }),
        1 => (1usize..40, select(pool(kind).keys.clone()).prop_map(Key), any::<u64>())
            .prop_map(|(n, key, first)| Step::Burst { n, key, first }),
    ];
    vec(step, len).boxed()
}

/// The model suite's steps: up to 11, of up to 29 ops.
pub fn steps(kind: HashKind) -> BoxedStrategy<Vec<Step>> {
    steps_of(kind, op(kind), 1..30, 1..12)
}
