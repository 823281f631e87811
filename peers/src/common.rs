//! Pieces shared by every system, xitdb's `workloads` binary and every
//! peer: the spec's keys, hashes and random choices, its sizes, the W8
//! operation list, timing, result checks and the JSON line.
//!
//! They follow WORKLOADS.md to the letter (same keys, same SHA-1 hashes
//! precomputed before any timed region, same xorshift64* seed and `r % n`
//! index rule, same n), so a peer's figure is for the same work as xitdb's.

use std::path::PathBuf;
use std::time::Instant;

/// What a workload returns: nothing, or why it failed.
pub type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Entries of the W1 map (and items appended in W8's first phase).
pub const N: u64 = 100_000;
/// Lookups of W2 / W2b.
pub const GETS: u64 = 1_000_000;
/// Transactions of W3 (and moments read by W7).
pub const COMMITS: u64 = 10_000;
/// Durable transactions of W3d.
pub const DURABLE_COMMITS: u64 = 1_000;
/// Items of the W4 list, and random reads of W5.
pub const LIST_N: u64 = 1_000_000;
/// Reads of W7.
pub const TRAVELS: u64 = 100_000;
/// Fresh opens of W9.
pub const OPENS: u64 = 1_000;
/// Entries of the W10 sorted map.
pub const SORTED_N: u64 = 100_000;
/// Lookups of W11.
pub const SORTED_GETS: u64 = 1_000_000;
/// Range scans of W12.
pub const SCANS: u64 = 1_000;
/// Entries each W12 scan reads (fewer when it reaches the last key).
pub const SCAN_LEN: usize = 100;

/// `key(i)`: the 8-byte big-endian encoding of `i`.
pub fn key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

/// `hash(i)` for `i` in `0..n`: SHA-1 of `key(i)`.
pub fn hashes(n: u64) -> Vec<[u8; 20]> {
    use sha1::Digest;
    (0..n).map(|i| sha1::Sha1::digest(key(i)).into()).collect()
}

/// xorshift64* seeded as the spec says; `next(n)` is an index below n.
pub struct Rng(u64);

impl Rng {
    /// The generator at the spec's seed.
    pub fn new() -> Self {
        Rng(0x9E3779B97F4A7C15)
    }

    /// The next random u64 (W10's keys are these, not reduced).
    pub fn next_u64(&mut self) -> u64 {
        let x = &mut self.0;
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }

    /// The next random index below `n`.
    pub fn next(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

impl Default for Rng {
    fn default() -> Self {
        Self::new()
    }
}

/// W10's keys: `r[i]`, the i-th random u64 of a fresh generator, for `i` in
/// `0..SORTED_N`; W10 puts `key(r[i]) -> i` in this (random) order.
/// xorshift64* never repeats a state within its period and its output
/// multiplier is odd (a bijection), so the keys are distinct; the callers
/// still check the entry count.
pub fn sorted_keys() -> Vec<u64> {
    let mut rng = Rng::new();
    (0..SORTED_N).map(|_| rng.next_u64()).collect()
}

/// W12's expected totals over its SCANS scans: the starts are `key(r[i])`
/// with `i = next(SORTED_N)` of a fresh generator; each scan reads up to
/// SCAN_LEN entries from its start (included) in key order. Computed on a
/// sorted `Vec` outside any timed region; returns (entries read, sum of
/// their values).
pub fn scan_model(r: &[u64]) -> (u64, u64) {
    let mut sorted: Vec<(u64, u64)> = r.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    let mut rng = Rng::new();
    let (mut count, mut sum) = (0u64, 0u64);
    for _ in 0..SCANS {
        let start = r[rng.next(SORTED_N) as usize];
        let at = sorted.partition_point(|e| e.0 < start);
        for e in sorted.iter().skip(at).take(SCAN_LEN) {
            count += 1;
            sum = sum.wrapping_add(e.1);
        }
    }
    (count, sum)
}

/// Runs `f` and returns its result with the seconds it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

/// Fails loudly (an error, so a non-zero exit) unless `ok`.
pub fn check(ok: bool, what: &str) -> Res {
    if ok {
        Ok(())
    } else {
        Err(format!("workload result is wrong: {what}").into())
    }
}

/// Prints the workload's JSON line, the spec's fields then `"system"`.
pub fn emit(system: &str, id: &str, backend: &str, n: u64, seconds: f64, bytes: u64) {
    println!(
        "{{\"workload\":\"{id}\",\"backend\":\"{backend}\",\"n\":{n},\"seconds\":{seconds:.6},\"ops_per_s\":{},\"bytes\":{bytes},\"system\":\"{system}\"}}",
        (n as f64 / seconds).round() as u64
    );
}

/// What one workload run gets: the precomputed hashes, a scratch directory
/// of its own and the backend filter (`W1:file` runs only the file backend).
pub struct Ctx {
    /// `hash(i)` for `i` in `0..N`, computed before any timed region.
    pub h: Vec<[u8; 20]>,
    /// A directory for database files, removed when the process ends.
    pub dir: PathBuf,
    /// Only this backend, if set.
    pub backend: Option<String>,
}

impl Ctx {
    /// Whether the backend filter lets `backend` run.
    pub fn wants(&self, backend: &str) -> bool {
        self.backend.as_deref().is_none_or(|b| b == backend)
    }
}

/// One W8 step after the 100,000 appends.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Insert `value` at position `at`.
    Insert {
        /// The position.
        at: u64,
        /// The new item.
        value: u64,
    },
    /// Remove the item at position `at`.
    Remove {
        /// The position.
        at: u64,
    },
    /// Copy `take` items from `start` onto the end.
    SliceConcat {
        /// The first item copied.
        start: u64,
        /// How many items are copied.
        take: u64,
    },
}

/// W8's random choices, drawn up front (xitdb's runner uses them too):
/// 10,000 inserts (of `N + i`), 10,000 removes, 1,000 slice+concats of up to
/// 1,000 items, positions from one generator in that order.
pub fn w8_ops() -> Vec<Op> {
    let mut rng = Rng::new();
    let mut ops = Vec::with_capacity(21_000);
    let mut len = N;
    for i in 0..10_000u64 {
        ops.push(Op::Insert {
            at: rng.next(len),
            value: N + i,
        });
        len += 1;
    }
    for _ in 0..10_000 {
        ops.push(Op::Remove { at: rng.next(len) });
        len -= 1;
    }
    for _ in 0..1_000 {
        let start = rng.next(len);
        let take = 1 + rng.next(1_000.min(len - start));
        ops.push(Op::SliceConcat { start, take });
        len += take;
    }
    ops
}

/// The list W8 must end with, computed on a plain `Vec` (outside any timed
/// region) to check each system's result.
pub fn w8_model(ops: &[Op]) -> Vec<u64> {
    let mut model: Vec<u64> = (0..N).collect();
    for op in ops {
        match *op {
            Op::Insert { at, value } => model.insert(at as usize, value),
            Op::Remove { at } => {
                model.remove(at as usize);
            }
            Op::SliceConcat { start, take } => {
                model.extend_from_within(start as usize..(start + take) as usize)
            }
        }
    }
    model
}
