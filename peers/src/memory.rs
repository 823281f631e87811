//! The workloads on the in-memory peers: `std` (HashMap, Vec: the in-memory
//! limit, no versions), `imbl` (imbl::HashMap, imbl::Vector) and `rpds`
//! (rpds::HashTrieMap, rpds::Vector), all with their default hasher and
//! pointer kind: std's `RandomState` (SipHash-1-3) for all three maps, `Arc`
//! for imbl, `Rc` for rpds.
//!
//! W10-W12 (sorted map) run on std's `BTreeMap`, `imbl::OrdMap` and
//! `rpds::RedBlackTreeMap`, keyed by the 8 key bytes (bytewise order, no
//! hashing); W11/W12 read the map W10 builds (untimed, in the same process).
//!
//! Each workload is written once, generic over the small traits [`Map`],
//! [`Persistent`], [`Seq`], [`SeqEdit`] and [`Ordered`]; each system's `run_*` only says
//! which types it uses. Every row is on the "memory" backend with `bytes` 0.
//! Where the spec reads "the file of W1" (W2, W2b, W6) the peers read the map
//! W1 builds (untimed, in the same process); W7 reads the versions of W3.
//! Unlike xitdb, which uses the precomputed SHA-1 as the key itself in
//! W1/W2 (no hashing in the timed region), these maps hash the 20-byte key
//! again with SipHash; in W1b/W2b they hash the 8-byte key with SipHash where
//! xitdb computes SHA-1.

use crate::common::{
    check, emit, key, scan_model, sorted_keys, timed, w8_model, w8_ops, Ctx, Op, Res, Rng, COMMITS,
    GETS, LIST_N, N, SCANS, SCAN_LEN, SORTED_GETS, SORTED_N, TRAVELS,
};
use std::hash::Hash;

/// A map from `K` to u64 values.
pub trait Map<K>: Sized {
    /// An empty map.
    fn empty() -> Self;
    /// Puts `k -> v`, in place.
    fn put(&mut self, k: K, v: u64);
    /// The value of `k`.
    fn get(&self, k: &K) -> Option<u64>;
    /// How many entries.
    fn count(&self) -> usize;
    /// Every value, in the map's order.
    fn values(&self) -> impl Iterator<Item = &u64>;
}

/// A map whose `clone` is O(1) and shares structure, so keeping one version
/// per transaction is bounded (W3, W7).
pub trait Persistent: Clone {}

/// An ordered map from 8-byte keys (bytewise order) to u64 (W10-W12).
pub trait Ordered: Sized {
    /// An empty map.
    fn empty() -> Self;
    /// Puts `k -> v`, in place.
    fn put(&mut self, k: [u8; 8], v: u64);
    /// The value of `k`.
    fn get(&self, k: &[u8; 8]) -> Option<u64>;
    /// How many entries.
    fn count(&self) -> usize;
    /// Up to `take` entries from the first key `>= from`, in key order:
    /// (how many, the sum of their values).
    fn scan(&self, from: &[u8; 8], take: usize) -> (u64, u64);
    /// Every key, in the map's order (to check it).
    fn keys_in_order(&self) -> Vec<[u8; 8]>;
}

/// Sums the values of up to `take` entries.
fn sum_first<'a>(it: impl Iterator<Item = &'a u64>, take: usize) -> (u64, u64) {
    it.take(take)
        .fold((0, 0), |(c, s), v| (c + 1, s.wrapping_add(*v)))
}

/// std's BTreeMap and imbl's OrdMap share these method names.
macro_rules! ordered_map {
    ($map:ty) => {
        impl Ordered for $map {
            fn empty() -> Self {
                Self::new()
            }
            fn put(&mut self, k: [u8; 8], v: u64) {
                self.insert(k, v);
            }
            fn get(&self, k: &[u8; 8]) -> Option<u64> {
                self.get(k).copied()
            }
            fn count(&self) -> usize {
                self.len()
            }
            fn scan(&self, from: &[u8; 8], take: usize) -> (u64, u64) {
                sum_first(self.range(*from..).map(|e| e.1), take)
            }
            fn keys_in_order(&self) -> Vec<[u8; 8]> {
                self.keys().copied().collect()
            }
        }
    };
}

ordered_map!(std::collections::BTreeMap<[u8; 8], u64>);
ordered_map!(imbl::OrdMap<[u8; 8], u64>);

impl Ordered for rpds::RedBlackTreeMap<[u8; 8], u64> {
    fn empty() -> Self {
        Self::new()
    }
    fn put(&mut self, k: [u8; 8], v: u64) {
        self.insert_mut(k, v);
    }
    fn get(&self, k: &[u8; 8]) -> Option<u64> {
        self.get(k).copied()
    }
    fn count(&self) -> usize {
        self.size()
    }
    fn scan(&self, from: &[u8; 8], take: usize) -> (u64, u64) {
        sum_first(self.range(*from..).map(|e| e.1), take)
    }
    fn keys_in_order(&self) -> Vec<[u8; 8]> {
        self.keys().copied().collect()
    }
}

/// A list of u64 that appends and reads by index (W4, W5).
pub trait Seq: Sized {
    /// An empty list.
    fn empty() -> Self;
    /// Appends `v`.
    fn push(&mut self, v: u64);
    /// The item at `i`.
    fn at(&self, i: usize) -> Option<u64>;
    /// How many items.
    fn size(&self) -> usize;
}

/// A list that also edits at positions (W8).
pub trait SeqEdit: Seq {
    /// Inserts `v` at `i`.
    fn insert_at(&mut self, i: usize, v: u64);
    /// Removes the item at `i`.
    fn remove_at(&mut self, i: usize);
    /// Copies `take` items from `start` onto the end.
    fn slice_concat(&mut self, start: usize, take: usize);
    /// Every item, in order (to check the result).
    fn to_vec(&self) -> Vec<u64>;
}

impl<K: Hash + Eq> Map<K> for std::collections::HashMap<K, u64> {
    fn empty() -> Self {
        Self::new()
    }
    fn put(&mut self, k: K, v: u64) {
        self.insert(k, v);
    }
    fn get(&self, k: &K) -> Option<u64> {
        self.get(k).copied()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn values(&self) -> impl Iterator<Item = &u64> {
        self.values()
    }
}

impl<K: Hash + Eq + Clone> Map<K> for imbl::HashMap<K, u64> {
    fn empty() -> Self {
        Self::new()
    }
    fn put(&mut self, k: K, v: u64) {
        self.insert(k, v);
    }
    fn get(&self, k: &K) -> Option<u64> {
        self.get(k).copied()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn values(&self) -> impl Iterator<Item = &u64> {
        self.values()
    }
}
impl<K: Clone> Persistent for imbl::HashMap<K, u64> {}

impl<K: Hash + Eq> Map<K> for rpds::HashTrieMap<K, u64> {
    fn empty() -> Self {
        Self::new()
    }
    fn put(&mut self, k: K, v: u64) {
        self.insert_mut(k, v);
    }
    fn get(&self, k: &K) -> Option<u64> {
        self.get(k).copied()
    }
    fn count(&self) -> usize {
        self.size()
    }
    fn values(&self) -> impl Iterator<Item = &u64> {
        self.values()
    }
}
impl<K: Hash + Eq> Persistent for rpds::HashTrieMap<K, u64> {}

impl Seq for Vec<u64> {
    fn empty() -> Self {
        Vec::new()
    }
    fn push(&mut self, v: u64) {
        Vec::push(self, v);
    }
    fn at(&self, i: usize) -> Option<u64> {
        self.get(i).copied()
    }
    fn size(&self) -> usize {
        self.len()
    }
}

impl SeqEdit for Vec<u64> {
    fn insert_at(&mut self, i: usize, v: u64) {
        self.insert(i, v);
    }
    fn remove_at(&mut self, i: usize) {
        self.remove(i);
    }
    fn slice_concat(&mut self, start: usize, take: usize) {
        self.extend_from_within(start..start + take);
    }
    fn to_vec(&self) -> Vec<u64> {
        self.clone()
    }
}

impl Seq for imbl::Vector<u64> {
    fn empty() -> Self {
        Self::new()
    }
    fn push(&mut self, v: u64) {
        self.push_back(v);
    }
    fn at(&self, i: usize) -> Option<u64> {
        self.get(i).copied()
    }
    fn size(&self) -> usize {
        self.len()
    }
}

impl SeqEdit for imbl::Vector<u64> {
    fn insert_at(&mut self, i: usize, v: u64) {
        self.insert(i, v);
    }
    fn remove_at(&mut self, i: usize) {
        self.remove(i);
    }
    fn slice_concat(&mut self, start: usize, take: usize) {
        let piece = self.skip(start).take(take);
        self.append(piece);
    }
    fn to_vec(&self) -> Vec<u64> {
        self.iter().copied().collect()
    }
}

impl Seq for rpds::Vector<u64> {
    fn empty() -> Self {
        Self::new()
    }
    fn push(&mut self, v: u64) {
        self.push_back_mut(v);
    }
    fn at(&self, i: usize) -> Option<u64> {
        self.get(i).copied()
    }
    fn size(&self) -> usize {
        self.len()
    }
}

/// A map of `hash(i) -> i` (`keys` false) or `key(i) -> i` (`keys` true) for
/// `i` in `0..N`, as W1 / W1b build it.
fn fill<K, M: Map<K>>(key_of: impl Fn(u64) -> K) -> M {
    let mut m = M::empty();
    for i in 0..N {
        m.put(key_of(i), i);
    }
    m
}

/// W1 / W1b: put N entries into an empty map.
fn bulk_insert<K, M: Map<K>>(sys: &str, id: &str, key_of: impl Fn(u64) -> K) -> Res {
    let (m, s) = timed(|| fill::<K, M>(key_of));
    check(m.count() as u64 == N, "W1 entries")?;
    emit(sys, id, "memory", N, s, 0);
    Ok(())
}

/// W2 / W2b: GETS random lookups in W1's map (built untimed).
fn point_get<K, M: Map<K>>(sys: &str, id: &str, key_of: impl Fn(u64) -> K) -> Res {
    let m: M = fill(&key_of);
    let mut rng = Rng::new();
    let (mut sum, mut want) = (0u64, 0u64);
    let (found, s) = timed(|| {
        for _ in 0..GETS {
            let i = rng.next(N);
            want = want.wrapping_add(i);
            sum = sum.wrapping_add(m.get(&key_of(i))?);
        }
        Some(())
    });
    check(found.is_some(), "W2 missing key")?;
    check(sum == want, "W2 sum")?;
    emit(sys, id, "memory", GETS, s, 0);
    Ok(())
}

/// W6: iterate W1's map (built untimed), summing the values.
fn iterate<M: Map<[u8; 20]>>(sys: &str, h: &[[u8; 20]]) -> Res {
    let m: M = fill(|i| h[i as usize]);
    let ((count, sum), s) = timed(|| {
        m.values()
            .fold((0u64, 0u64), |(c, s), v| (c + 1, s.wrapping_add(*v)))
    });
    check(count == N && sum == N * (N - 1) / 2, "W6 sum")?;
    emit(sys, "W6", "memory", N, s, 0);
    Ok(())
}

/// W3's versions: COMMITS maps, each the previous one plus `hash(t) -> t`.
fn versions<M: Map<[u8; 20]> + Persistent>(h: &[[u8; 20]]) -> Vec<M> {
    let mut kept: Vec<M> = Vec::with_capacity(COMMITS as usize);
    let mut cur = M::empty();
    for t in 0..COMMITS {
        cur.put(h[t as usize], t);
        kept.push(cur.clone());
    }
    kept
}

/// W3: derive COMMITS versions, keeping them all.
fn small_commits<M: Map<[u8; 20]> + Persistent>(sys: &str, h: &[[u8; 20]]) -> Res {
    let (kept, s) = timed(|| versions::<M>(h));
    check(kept.len() as u64 == COMMITS, "W3 versions")?;
    check(
        kept.iter().enumerate().all(|(t, m)| m.count() == t + 1),
        "W3 version sizes",
    )?;
    emit(sys, "W3", "memory", COMMITS, s, 0);
    Ok(())
}

/// W7: TRAVELS reads of `hash(k)` in version m, k random in `0..=m`, on
/// W3's versions (built untimed).
fn time_travel<M: Map<[u8; 20]> + Persistent>(sys: &str, h: &[[u8; 20]]) -> Res {
    let kept = versions::<M>(h);
    let mut rng = Rng::new();
    let (ok, s) = timed(|| {
        for _ in 0..TRAVELS {
            let m = rng.next(COMMITS);
            let k = rng.next(m + 1);
            if kept[m as usize].get(&h[k as usize]) != Some(k) {
                return false;
            }
        }
        true
    });
    check(ok, "W7 value")?;
    emit(sys, "W7", "memory", TRAVELS, s, 0);
    Ok(())
}

/// The W4 list: `0..LIST_N` appended.
fn list<L: Seq>() -> L {
    let mut l = L::empty();
    for i in 0..LIST_N {
        l.push(i);
    }
    l
}

/// W4: append LIST_N items.
fn list_append<L: Seq>(sys: &str) -> Res {
    let (l, s) = timed(list::<L>);
    check(l.size() as u64 == LIST_N, "W4 length")?;
    emit(sys, "W4", "memory", LIST_N, s, 0);
    Ok(())
}

/// W5: LIST_N random reads on W4's list (built untimed).
fn list_get<L: Seq>(sys: &str) -> Res {
    let l: L = list();
    let mut rng = Rng::new();
    let (mut sum, mut want) = (0u64, 0u64);
    let (found, s) = timed(|| {
        for _ in 0..LIST_N {
            let i = rng.next(LIST_N);
            want = want.wrapping_add(i);
            sum = sum.wrapping_add(l.at(i as usize)?);
        }
        Some(())
    });
    check(found.is_some() && sum == want, "W5 sum")?;
    emit(sys, "W5", "memory", LIST_N, s, 0);
    Ok(())
}

/// W8 (and W13, the same edits for xitdb's other list family): N appends,
/// then the inserts, removes and slice+concats of [`w8_ops`], all timed;
/// the result is checked against [`w8_model`].
fn list_edits<L: SeqEdit>(sys: &str, id: &str) -> Res {
    let ops = w8_ops();
    let (l, s) = timed(|| {
        let mut l = L::empty();
        for i in 0..N {
            l.push(i);
        }
        for op in &ops {
            match *op {
                Op::Insert { at, value } => l.insert_at(at as usize, value),
                Op::Remove { at } => l.remove_at(at as usize),
                Op::SliceConcat { start, take } => l.slice_concat(start as usize, take as usize),
            }
        }
        l
    });
    check(l.to_vec() == w8_model(&ops), "W8 contents")?;
    emit(sys, id, "memory", ops.len() as u64 + N, s, 0);
    Ok(())
}

/// W10's map: `key(r[i]) -> i` for `i` in `0..SORTED_N`, in that (random)
/// order.
fn sorted_fill<M: Ordered>(r: &[u64]) -> M {
    let mut m = M::empty();
    for (i, &k) in (0..SORTED_N).zip(r) {
        m.put(key(k), i);
    }
    m
}

/// W10: put SORTED_N random keys into an empty ordered map; checks the
/// count, the key order and every value.
fn sorted_insert<M: Ordered>(sys: &str) -> Res {
    let r = sorted_keys();
    let (m, s) = timed(|| sorted_fill::<M>(&r));
    check(m.count() as u64 == SORTED_N, "W10 entries")?;
    let keys = m.keys_in_order();
    check(keys.windows(2).all(|w| w[0] < w[1]), "W10 key order")?;
    check(
        (0..SORTED_N).all(|i| m.get(&key(r[i as usize])) == Some(i)),
        "W10 values",
    )?;
    emit(sys, "W10", "memory", SORTED_N, s, 0);
    Ok(())
}

/// W11: SORTED_GETS random lookups of existing keys in W10's map (built
/// untimed).
fn sorted_get<M: Ordered>(sys: &str) -> Res {
    let r = sorted_keys();
    let m: M = sorted_fill(&r);
    let mut rng = Rng::new();
    let (mut sum, mut want) = (0u64, 0u64);
    let (found, s) = timed(|| {
        for _ in 0..SORTED_GETS {
            let i = rng.next(SORTED_N);
            want = want.wrapping_add(i);
            sum = sum.wrapping_add(m.get(&key(r[i as usize]))?);
        }
        Some(())
    });
    check(found.is_some(), "W11 missing key")?;
    check(sum == want, "W11 sum")?;
    emit(sys, "W11", "memory", SORTED_GETS, s, 0);
    Ok(())
}

/// W12: SCANS range scans of SCAN_LEN entries from random existing keys of
/// W10's map (built untimed), summing the values.
fn sorted_range<M: Ordered>(sys: &str) -> Res {
    let r = sorted_keys();
    let want = scan_model(&r);
    let m: M = sorted_fill(&r);
    let mut rng = Rng::new();
    let (got, s) = timed(|| {
        let (mut count, mut sum) = (0u64, 0u64);
        for _ in 0..SCANS {
            let (c, v) = m.scan(&key(r[rng.next(SORTED_N) as usize]), SCAN_LEN);
            count += c;
            sum = sum.wrapping_add(v);
        }
        (count, sum)
    });
    check(got == want, "W12 count and sum")?;
    emit(sys, "W12", "memory", SCANS, s, 0);
    Ok(())
}

/// W10-W12 on the ordered map `O`; `None` for any other id.
fn run_sorted<O: Ordered>(sys: &str, id: &str) -> Option<Res> {
    Some(match id {
        "W10" => sorted_insert::<O>(sys),
        "W11" => sorted_get::<O>(sys),
        "W12" => sorted_range::<O>(sys),
        _ => return None,
    })
}

/// The workloads every in-memory peer runs, given its hash-keyed map `H`,
/// its key-bytes map `K`, its list `L` and its ordered map `O`; `None` for any other id.
fn run_common<H, K, L, O>(sys: &str, id: &str, ctx: &Ctx) -> Option<Res>
where
    H: Map<[u8; 20]>,
    K: Map<[u8; 8]>,
    L: Seq,
    O: Ordered,
{
    let h = &ctx.h;
    Some(match id {
        "W1" => bulk_insert::<_, H>(sys, id, |i| h[i as usize]),
        "W1b" => bulk_insert::<_, K>(sys, id, key),
        "W2" => point_get::<_, H>(sys, id, |i| h[i as usize]),
        "W2b" => point_get::<_, K>(sys, id, key),
        "W4" => list_append::<L>(sys),
        "W5" => list_get::<L>(sys),
        "W6" => iterate::<H>(sys, h),
        _ => return run_sorted::<O>(sys, id),
    })
}

type StdMap<K> = std::collections::HashMap<K, u64>;
type ImblMap<K> = imbl::HashMap<K, u64>;
type RpdsMap<K> = rpds::HashTrieMap<K, u64>;
type StdOrd = std::collections::BTreeMap<[u8; 8], u64>;
type ImblOrd = imbl::OrdMap<[u8; 8], u64>;
type RpdsOrd = rpds::RedBlackTreeMap<[u8; 8], u64>;

/// Runs workload `id` on std::collections (`None`: not covered).
pub fn run_std(id: &str, ctx: &Ctx) -> Option<Res> {
    match id {
        "W8" => Some(list_edits::<Vec<u64>>("std", "W8")),
        "W13" => Some(list_edits::<Vec<u64>>("std", "W13")),
        _ => run_common::<StdMap<[u8; 20]>, StdMap<[u8; 8]>, Vec<u64>, StdOrd>("std", id, ctx),
    }
}

/// Runs workload `id` on imbl (`None`: not covered).
pub fn run_imbl(id: &str, ctx: &Ctx) -> Option<Res> {
    match id {
        "W3" => Some(small_commits::<ImblMap<[u8; 20]>>("imbl", &ctx.h)),
        "W7" => Some(time_travel::<ImblMap<[u8; 20]>>("imbl", &ctx.h)),
        "W8" => Some(list_edits::<imbl::Vector<u64>>("imbl", "W8")),
        "W13" => Some(list_edits::<imbl::Vector<u64>>("imbl", "W13")),
        _ => run_common::<ImblMap<[u8; 20]>, ImblMap<[u8; 8]>, imbl::Vector<u64>, ImblOrd>(
            "imbl", id, ctx,
        ),
    }
}

/// Runs workload `id` on rpds (`None`: not covered).
pub fn run_rpds(id: &str, ctx: &Ctx) -> Option<Res> {
    match id {
        "W3" => Some(small_commits::<RpdsMap<[u8; 20]>>("rpds", &ctx.h)),
        "W7" => Some(time_travel::<RpdsMap<[u8; 20]>>("rpds", &ctx.h)),
        _ => run_common::<RpdsMap<[u8; 20]>, RpdsMap<[u8; 8]>, rpds::Vector<u64>, RpdsOrd>(
            "rpds", id, ctx,
        ),
    }
}
