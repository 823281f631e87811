//! Slot encode / decode: the 9-byte tagged references that fill every block.
//!
//! Every read of a map, list or value decodes slots (`Slot::decode`, which
//! also validates the tag and the pointer range) and every write encodes
//! them, so these are the innermost loop of the library. Each bench runs
//! over 1,024 slots of mixed kinds (pointers, uints, ints, floats, short
//! bytes, nulls), so the figures are per batch with a per-slot throughput.
//! The std twins (`u64::to_be_bytes` / `from_be_bytes` over the same batch)
//! show what is left once the tag byte and the validation are taken away.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use xitdb::format::{Slot, Tag};

const SLOTS: u64 = 1024;

/// 1,024 slots cycling through the kinds a block holds.
fn mixed_slots() -> Vec<Slot> {
    let mut rng = common::Rng::new();
    (0..SLOTS)
        .map(|i| {
            let pointer = 12 + rng.next(1 << 40);
            match i % 8 {
                0 => Slot::new(Tag::Index, pointer),
                1 => Slot::new(Tag::KvPair, pointer),
                2 => Slot::new(Tag::HashMap, pointer),
                3 => Slot::new(Tag::Uint, rng.next(u64::MAX)),
                4 => Slot::new(Tag::Int, rng.next(u64::MAX)),
                5 => Slot::new(Tag::Float, (i as f64 * 0.5).to_bits()),
                6 => Slot {
                    tag: Tag::ShortBytes,
                    full: true,
                    value: u64::from_be_bytes(*b"abcdefgh"),
                },
                _ => Slot::NULL,
            }
        })
        .collect()
}

fn slot(c: &mut Criterion) {
    let slots = mixed_slots();
    let encoded: Vec<[u8; 9]> = slots.iter().map(|s| s.encode()).collect();
    let mut g = c.benchmark_group("slot");
    g.throughput(Throughput::Elements(SLOTS));
    g.bench_function("encode", |b| {
        b.iter(|| {
            for s in black_box(&slots) {
                black_box(s.encode());
            }
        })
    });
    g.bench_function("std_u64_to_be_bytes", |b| {
        b.iter(|| {
            for s in black_box(&slots) {
                black_box(s.value.to_be_bytes());
            }
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            for (pos, e) in (0u64..).step_by(9).zip(black_box(&encoded)) {
                black_box(Slot::decode(*e, pos).expect("valid slot"));
            }
        })
    });
    g.bench_function("std_u64_from_be_bytes", |b| {
        b.iter(|| {
            for e in black_box(&encoded) {
                let [_, v @ ..] = *e;
                black_box(u64::from_be_bytes(v));
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = slot
}
criterion_main!(benches);
