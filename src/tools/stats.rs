//! Where a history's bytes went: one [`MomentStats`] per moment, with the
//! bytes its transaction appended to the file, as `xitdb log` prints them.
//!
//! # How bytes are attributed
//!
//! The file does not record which transaction wrote which bytes, so they
//! are found from where each moment's blocks lie. A transaction writes the
//! moment's root block first and everything it changed after it, so its
//! bytes run from its root block to the next moment's (the newest moment:
//! to the [committed end](crate::Database::committed_len)). A moment
//! written by compaction has its root block last instead, and its bytes run
//! from the previous moment's root block to its own. The two are told apart
//! by where the moment's changed values lie (found with [`diff`](crate::diff)
//! against the moment before; for moment 0, where its values lie): after
//! its root block, or between the previous root block and its own. A moment
//! whose values do not tell (say, it only removed entries) is laid out like
//! the moment before it, or like the next one that tells.
//!
//! Bytes of the history list itself (a 144-byte block every 16 moments) and
//! of failed or cut-off transactions count with the moment they follow. The
//! headers before the first moment (and history blocks after the last one,
//! in a compacted file) are [`HistoryStats::other_bytes`], so that
//! everything adds up to the committed length. A moment that reuses an
//! older root (an undo, or a transaction that changed nothing) or whose root
//! is not a block (null or a scalar) gets 0, its few bytes counted with the
//! moment before it.
//!
//! Hostile bytes give an error or odd figures, never a panic: positions are
//! clamped to the committed length, and a moment whose changes cannot be
//! read is left to its neighbours' layout.
//!
//! ```
//! use xitdb::Database;
//! let mut db = Database::memory();
//! db.transact(|tx| tx.root_map()?.put("a", 1u64))?;
//! db.transact(|tx| tx.root_map()?.put("b", 2u64))?;
//! db.revert_to(0)?;
//! let stats = db.history_stats()?;
//! assert_eq!(stats.moments.len(), 3);
//! assert!(stats.moments[1].bytes > 0);
//! assert_eq!(stats.moments[2].same_root_as, Some(0));
//! let total: u64 = stats.moments.iter().map(|m| m.bytes).sum();
//! assert_eq!(total + stats.other_bytes, db.committed_len()?);
//! # Ok::<(), xitdb::Error>(())
//! ```

use crate::api::cursor::{Cursor, ValueRef};
use crate::api::database::Database;
use crate::error::{Error, Result};
use crate::format::{
    Tag, BLOCK_LEN, DATABASE_START, LINKED_HEADER_LEN, LIST_HEADER_LEN, TOP_HEADER_LEN,
};
use crate::storage::Storage;
use std::collections::HashMap;

/// One moment of a history: its root and the bytes its transaction appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MomentStats {
    /// The moment's index in the history.
    pub index: u64,
    /// The root's kind.
    pub root_tag: Tag,
    /// Where the root's record (a block or a list header) lies; `None` for a
    /// root held in its slot (null or a scalar).
    pub root_pos: Option<u64>,
    /// Bytes the moment's transaction appended (see the
    /// [module documentation](self)).
    pub bytes: u64,
    /// For a moment that reuses an older root record (an undo, or a
    /// transaction that changed nothing): the first moment with that root.
    pub same_root_as: Option<u64>,
}

/// Every moment's statistics, and the bytes outside every moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryStats {
    /// One entry per moment, oldest first.
    pub moments: Vec<MomentStats>,
    /// Bytes no moment accounts for: the headers before the first moment,
    /// and history blocks after the last one in a compacted file.
    pub other_bytes: u64,
    /// The committed length the bytes add up to.
    pub committed_len: u64,
}

/// Whether a moment's root block comes before or after the rest of its data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    /// Written by a transaction: the root is copied first.
    RootFirst,
    /// Written by compaction: children first, the root last.
    RootLast,
}

/// A moment whose root block is newer than every earlier moment's.
#[derive(Clone, Copy, Debug)]
struct RootBlock {
    /// The moment's index in the history.
    moment: usize,
    /// Where the root's record starts.
    start: u64,
    /// Where it ends.
    end: u64,
    /// What the positions of the moment's values tell, if anything.
    layout: Option<Layout>,
}

/// Sample sizes: enough values to tell a layout, few enough to stay cheap.
const CHILD_SAMPLE: usize = 16;
const CHANGE_SAMPLE: usize = 64;

impl<S: Storage> Database<S> {
    /// Every moment's root and the bytes its transaction appended (see the
    /// [module documentation](crate::stats)); the bytes add up to
    /// [`Database::committed_len`]. Fails with [`Error::WrongRoot`] for a
    /// database whose root is a map rather than a history.
    ///
    /// ```
    /// use xitdb::Database;
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("k", "v"))?;
    /// let stats = db.history_stats()?;
    /// let first = stats.moments[0];
    /// assert_eq!(first.root_tag, xitdb::format::Tag::HashMap);
    /// assert_eq!(first.bytes + stats.other_bytes, db.committed_len()?);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn history_stats(&self) -> Result<HistoryStats> {
        let count = self.moment_count()?;
        let end = self.committed_len()?;
        let (mut moments, blocks) = self.scan_roots(count)?;
        let blocks = resolve_layouts(blocks);
        let counted = attribute(&mut moments, &blocks, end);
        Ok(HistoryStats {
            moments,
            other_bytes: end.saturating_sub(counted),
            committed_len: end,
        })
    }

    /// One pass over the history: each moment's root, and the moments whose
    /// root block is newer than every earlier one's, with the layout their
    /// values tell.
    fn scan_roots(&self, count: u64) -> Result<(Vec<MomentStats>, Vec<RootBlock>)> {
        let mut moments = Vec::new();
        let mut blocks = Vec::new();
        let mut newest = 0u64;
        let mut first_with: HashMap<u64, u64> = HashMap::new();
        for i in 0..count {
            let index = i64::try_from(i).map_err(|_| Error::InvalidArgument("history too long"))?;
            let cursor = self.moment(index)?;
            let slot = cursor.slot();
            let pos = slot.tag.is_pointer().then_some(slot.value);
            let fresh = pos.filter(|&p| p > newest);
            if let Some(start) = fresh {
                // moment 0's values are all new; later, the changed ones are
                let values = match index {
                    0 => child_positions(&cursor),
                    _ => self.changed_positions(index),
                };
                blocks.push(RootBlock {
                    moment: moments.len(),
                    start,
                    end: start.saturating_add(root_len(slot.tag)),
                    layout: layout_of(&values, newest, start),
                });
                newest = start;
            }
            let same_root_as = match (pos, fresh) {
                (Some(p), None) => first_with.get(&p).copied(),
                _ => None,
            };
            if let Some(p) = pos {
                first_with.entry(p).or_insert(i);
            }
            moments.push(MomentStats {
                index: i,
                root_tag: slot.tag,
                root_pos: pos,
                bytes: 0,
                same_root_as,
            });
        }
        Ok((moments, blocks))
    }

    /// Where the values changed since moment `index - 1` lie (a sample;
    /// none when the changes cannot be read).
    fn changed_positions(&self, index: i64) -> Vec<u64> {
        let Ok(changes) = self.diff(index.saturating_sub(1), index) else {
            return Vec::new();
        };
        changes
            .take(CHANGE_SAMPLE)
            .map_while(|c| c.ok())
            .filter_map(|c| c.new.and_then(|n| n.position()))
            .collect()
    }
}

/// Length of the record a root slot points at (the end of the root block).
fn root_len(tag: Tag) -> u64 {
    match tag {
        t if t.is_hamt() => BLOCK_LEN,
        Tag::ArrayList => LIST_HEADER_LEN,
        Tag::LinkedArrayList => LINKED_HEADER_LEN,
        _ => 0,
    }
}

/// The layout that values at `positions` tell, for a root block at `root`
/// newer than the one at `newest`: values after it mean it came first,
/// values between the two mean it came last.
fn layout_of(positions: &[u64], newest: u64, root: u64) -> Option<Layout> {
    if positions.iter().any(|&p| p > root) {
        Some(Layout::RootFirst)
    } else if positions.iter().any(|&p| p > newest && p < root) {
        Some(Layout::RootLast)
    } else {
        None
    }
}

/// Positions of some values a moment holds directly.
fn child_positions(c: &Cursor<'_>) -> Vec<u64> {
    let mut out = Vec::new();
    match c.value() {
        Ok(ValueRef::Map(m)) => {
            for e in m.iter().take(CHILD_SAMPLE).flatten() {
                out.extend(e.value().ok().and_then(|v| v.position()));
            }
        }
        Ok(ValueRef::Set(s)) => {
            for e in s.iter().take(CHILD_SAMPLE).flatten() {
                out.extend(e.key().ok().and_then(|v| v.position()));
            }
        }
        Ok(ValueRef::List(l)) => out.extend(
            l.iter()
                .take(CHILD_SAMPLE)
                .flatten()
                .filter_map(|v| v.position()),
        ),
        Ok(ValueRef::LinkedList(l)) => out.extend(
            l.iter()
                .take(CHILD_SAMPLE)
                .flatten()
                .filter_map(|v| v.position()),
        ),
        _ => {}
    }
    out
}

/// Gives every root block a layout: its own, else that of the block before
/// it (compaction writes a run of moments from moment 0, transactions
/// append after them), else that of the first block that tells, else
/// root-first.
fn resolve_layouts(mut blocks: Vec<RootBlock>) -> Vec<RootBlock> {
    let mut known = blocks.iter().find_map(|b| b.layout);
    for b in &mut blocks {
        if b.layout.is_some() {
            known = b.layout;
        }
        b.layout = Some(known.unwrap_or(Layout::RootFirst));
    }
    blocks
}

/// Sets each moment's bytes from the boundaries between consecutive root
/// blocks (all with a layout), clamped to `end`; returns the bytes given out.
fn attribute(moments: &mut [MomentStats], blocks: &[RootBlock], end: u64) -> u64 {
    let layout = |b: &RootBlock| b.layout.unwrap_or(Layout::RootFirst);
    let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
        return 0;
    };
    let data_start = DATABASE_START + TOP_HEADER_LEN + BLOCK_LEN;
    let start = match layout(first) {
        Layout::RootFirst => first.start,
        Layout::RootLast => data_start.min(first.start),
    };
    let stop = match layout(last) {
        Layout::RootFirst => end,
        Layout::RootLast => last.end.min(end),
    };
    let mut from = start;
    for (k, b) in blocks.iter().enumerate() {
        // a moment written root-last ends with its root block; any other
        // ends where the next moment's root block starts
        let to = match blocks.get(k + 1) {
            None => stop,
            Some(next) if layout(next) == Layout::RootLast && layout(b) == Layout::RootLast => {
                b.end
            }
            Some(next) => next.start,
        };
        let to = to.clamp(from, end.max(from));
        if let Some(m) = moments.get_mut(b.moment) {
            m.bytes = to - from;
        }
        from = to;
    }
    from - start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(stats: &HistoryStats) -> u64 {
        stats.moments.iter().map(|m| m.bytes).sum::<u64>() + stats.other_bytes
    }

    #[test]
    fn transactions_get_the_bytes_they_appended() {
        let mut db = Database::memory();
        let mut lens = vec![db.len()];
        for i in 0..40u64 {
            db.transact(|tx| tx.root_map()?.put(i.to_be_bytes(), i))
                .unwrap();
            lens.push(db.len());
        }
        let stats = db.history_stats().unwrap();
        assert_eq!(stats.committed_len, db.len());
        assert_eq!(sum(&stats), db.len());
        for (i, m) in stats.moments.iter().enumerate().skip(1) {
            assert_eq!((m.index, m.root_tag), (i as u64, Tag::HashMap));
            assert_eq!(m.same_root_as, None);
            // a new history block (every 16 moments) is appended before the
            // moment's root block, so it counts with the moment before
            let appended = lens[i + 1] - lens[i];
            match i % 16 {
                15 => assert!(m.bytes > appended && (m.bytes - appended) % 144 == 0),
                0 => assert!(appended > m.bytes && (appended - m.bytes) % 144 == 0),
                _ => assert_eq!(m.bytes, appended, "moment {i}"),
            }
        }
    }

    #[test]
    fn compacted_moments_have_their_root_last() {
        let mut db = Database::memory();
        for i in 0..5u64 {
            db.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
        }
        let before = db.history_stats().unwrap();
        let mut copy = Database::memory();
        db.compact_into(&mut copy, crate::compact::Keep::All, &mut |_| {})
            .unwrap();
        let after = copy.history_stats().unwrap();
        assert_eq!(sum(&after), copy.committed_len().unwrap());
        let bytes = |s: &HistoryStats| s.moments.iter().map(|m| m.bytes).collect::<Vec<_>>();
        assert_eq!(bytes(&before), bytes(&after));
    }

    #[test]
    fn reused_and_scalar_roots_get_nothing() {
        let mut db = Database::memory();
        db.transact(|tx| tx.root_map()?.put("a", 1u64)).unwrap();
        db.transact(|tx| tx.root_map()?.put("a", 2u64)).unwrap();
        db.revert_to(0).unwrap();
        db.transact(|tx| tx.root().write(7u64)).unwrap();
        let stats = db.history_stats().unwrap();
        let m = &stats.moments;
        assert_eq!(m[2].same_root_as, Some(0));
        assert_eq!((m[2].bytes, m[3].bytes), (0, 0));
        assert_eq!((m[3].root_tag, m[3].root_pos), (Tag::Uint, None));
        assert_eq!(sum(&stats), db.committed_len().unwrap());
    }

    #[test]
    fn empty_and_root_map_databases() {
        let db = Database::memory();
        let stats = db.history_stats().unwrap();
        assert!(stats.moments.is_empty());
        assert_eq!(stats.other_bytes, db.len());
        let mut map = Database::memory();
        map.transact_root(|tx| tx.root().hash_map()?.put("a", 1u64))
            .unwrap();
        assert!(matches!(map.history_stats(), Err(Error::WrongRoot { .. })));
    }

    #[test]
    fn hostile_positions_are_clamped() {
        let blocks = vec![
            RootBlock {
                moment: 0,
                start: u64::MAX - 1,
                end: u64::MAX,
                layout: Some(Layout::RootFirst),
            },
            RootBlock {
                moment: 9,
                start: 5,
                end: 7,
                layout: None,
            },
        ];
        let mut moments: Vec<MomentStats> = Vec::new();
        let blocks = resolve_layouts(blocks);
        assert!(attribute(&mut moments, &blocks, 100) <= 100);
    }
}
