//! Double-ended iteration over a rank range of any B-tree, yielding the
//! positions of leaf slots: a sorted collection reads the record each one
//! points at, a list hands the slot itself out as the item.

use super::path::Path;
use crate::error::{Error, Result};
use crate::format::btree::BranchLayout;
use crate::tree::access::Src;

/// The leaf slots of ranks `lo..hi`, from either end.
///
/// Each end seeks its path on its first use, so a scan that reads from the
/// front only (a range, a prefix) descends once.
pub(crate) struct RankIter<'r> {
    src: Src<'r>,
    layout: BranchLayout,
    root: u64,
    /// The rank range `lo..hi` as it was asked for.
    lo: u64,
    hi: u64,
    /// Paths at the next entry from the front and from the back (boxed:
    /// each is 0.6 KB, and iterators live in recursive walks' frames).
    front: Option<Box<Path>>,
    back: Option<Box<Path>>,
    remaining: u64,
}

impl<'r> RankIter<'r> {
    /// Iterates ranks `lo..hi` (the caller bounds `hi` by the tree's size)
    /// of the tree rooted at `root`.
    pub fn new(src: Src<'r>, layout: BranchLayout, root: u64, lo: u64, hi: u64) -> Self {
        let lo = lo.min(hi);
        RankIter {
            src,
            layout,
            root,
            lo,
            hi,
            front: None,
            back: None,
            remaining: hi - lo,
        }
    }

    /// The reader the iterator reads through.
    pub fn src(&self) -> Src<'r> {
        self.src
    }

    /// Entries not yet yielded.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Ends the iteration (after an error the caller met on an entry).
    pub fn stop(&mut self) {
        self.remaining = 0;
    }

    /// The path of one end, sought on first use.
    fn end(&mut self, front: bool) -> Result<&mut Path> {
        let (slot, rank) = if front {
            (&mut self.front, self.lo)
        } else {
            (&mut self.back, self.hi.saturating_sub(1))
        };
        if slot.is_none() {
            let path = Path::seek(&self.src, self.layout, self.root, rank)?;
            *slot = Some(Box::new(path));
        }
        slot.as_deref_mut()
            .ok_or_else(|| Error::corrupt(self.root, "B-tree path lost"))
    }

    fn next_from(&mut self, front: bool) -> Option<Result<u64>> {
        if self.remaining == 0 {
            return None;
        }
        let src = self.src;
        let last = self.remaining == 1;
        let path = match self.end(front) {
            Ok(p) => p,
            Err(e) => {
                self.remaining = 0;
                return Some(Err(e));
            }
        };
        let out = path.slot_pos();
        let moved = if last { Ok(()) } else { path.step(&src, front) };
        self.remaining -= 1;
        if let Err(e) = moved {
            self.remaining = 0;
            return Some(Err(e));
        }
        Some(Ok(out))
    }
}

impl Iterator for RankIter<'_> {
    type Item = Result<u64>;

    fn next(&mut self) -> Option<Result<u64>> {
        self.next_from(true)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for RankIter<'_> {
    fn next_back(&mut self) -> Option<Result<u64>> {
        self.next_from(false)
    }
}
