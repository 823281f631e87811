//! Micro-benchmarks of the hot paths.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use xitdb::{Database, HashKind};

fn map_get(c: &mut Criterion) {
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> xitdb::Result<()> {
        let mut m = tx.root_map()?;
        for i in 0..10_000u64 {
            m.put(i.to_be_bytes(), i)?;
        }
        Ok(())
    })
    .unwrap();
    let moment = db.moment(-1).unwrap();
    let map = moment.as_map().unwrap();
    let mut i = 0u64;
    c.bench_function("map_get_key", |b| {
        b.iter(|| {
            i = (i + 7919) % 10_000;
            black_box(
                map.get(&i.to_be_bytes())
                    .unwrap()
                    .unwrap()
                    .as_uint()
                    .unwrap(),
            )
        })
    });
}

criterion_group!(benches, map_get);
criterion_main!(benches);
