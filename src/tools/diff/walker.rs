//! The walk every structure kind shares: an explicit stack of frames (one
//! frame per pair of structures, or of blocks, being compared), the work
//! limit, the path of the frame being stepped, and the pairing of two
//! values, which either settles them here (scalars, bytes, different kinds)
//! or opens a nested walk of their kind.
//!
//! The stack is explicit, not the thread's, so that hostile nesting ends in
//! [`Error::TooDeep`] rather than a stack overflow; every read goes through
//! `Diff::tick`, so that a walk which finds nothing (cycles, or a
//! structure shared under many paths) ends in an error rather than a hang.

use super::linked_list::LinkedFrame;
use super::list::ListFrame;
use super::map::MapFrame;
use super::sorted::SortedFrame;
use super::{Change, ChangeKind, Diff};
use crate::api::cursor::Cursor;
use crate::api::value::PathStepBuf;
use crate::error::{Error, Result};
use crate::format::{Slot, Tag, MAX_NESTING};
use crate::tree::access::Src;

/// Which version a read is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    A,
    B,
}

/// A value slot and where it lives.
#[derive(Debug, Clone, Copy)]
pub(super) struct Val {
    pub(super) slot: Slot,
    pub(super) pos: Option<u64>,
}

/// One pair being walked, of the kind that steps it.
pub(super) enum Frame {
    Map(MapFrame),
    List(ListFrame),
    Linked(Box<LinkedFrame>),
    Sorted(Box<SortedFrame>),
}

impl Frame {
    /// Length of the path to the pair.
    fn plen(&self) -> usize {
        match self {
            Frame::Map(f) => f.plen,
            Frame::List(f) => f.plen,
            Frame::Linked(f) => f.plen,
            Frame::Sorted(f) => f.plen,
        }
    }

    /// A position to name when the frame is one too many.
    fn pos(&self) -> u64 {
        match self {
            Frame::Map(m) => m.a.pos().max(m.b.pos()),
            Frame::List(l) => l.a.pos().max(l.b.pos()),
            Frame::Linked(_) => 0,
            Frame::Sorted(s) => s.headers.0.max(s.headers.1),
        }
    }
}

/// What comparing two values found.
pub(super) enum Cmp {
    Same,
    Changed,
    Nested(Box<Frame>),
}

/// What one step of a frame found.
pub(super) enum Step<'r> {
    /// A change to yield; the frame continues afterwards.
    Emit(Change<'r>),
    /// A frame to run before this one continues.
    Push(Frame),
    /// The frame is finished.
    Done,
}

impl<'r> Diff<'r> {
    pub(super) fn src(&self, side: Side) -> Src<'r> {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }

    /// Counts one read against the work limit.
    pub(super) fn tick(&mut self, pos: u64) -> Result<()> {
        self.reads += 1;
        self.left = self.left.checked_sub(1).ok_or(Error::corrupt(
            pos,
            "diff work limit reached without a change (cyclic or widely shared structures)",
        ))?;
        Ok(())
    }

    pub(super) fn read<const N: usize>(&mut self, side: Side, pos: u64) -> Result<[u8; N]> {
        self.tick(pos)?;
        self.src(side).array(pos)
    }

    pub(super) fn read_slot(&mut self, side: Side, pos: u64) -> Result<Slot> {
        Slot::decode(self.read(side, pos)?, pos)
    }

    fn cursor(&self, side: Side, v: Val) -> Result<Cursor<'r>> {
        if matches!(v.slot.tag, Tag::Index | Tag::KvPair) {
            return Err(Error::corrupt(
                v.pos.unwrap_or(0),
                "an internal node where a value belongs",
            ));
        }
        Ok(Cursor::new(self.src(side), v.slot, v.pos))
    }

    // ---------------------------------------------------------------- paths

    fn truncate_path(&mut self, len: usize) {
        while self.path.len() > len {
            if let Some(e) = self.path.pop() {
                self.path_bytes = self.path_bytes.saturating_sub(e.byte_len());
            }
        }
    }

    pub(super) fn check_path_bytes(&self, extra: u64) -> Result<u64> {
        let total = self.path_bytes.saturating_add(extra);
        if total > self.a.len().max(self.b.len()) {
            return Err(Error::corrupt(
                0,
                "a change's path holds more key bytes than the storage",
            ));
        }
        Ok(total)
    }

    fn push_path(&mut self, elem: PathStepBuf) -> Result<()> {
        self.path_bytes = self.check_path_bytes(elem.byte_len())?;
        self.path.push(elem);
        Ok(())
    }

    pub(super) fn path_with(&self, elem: PathStepBuf) -> Result<Vec<PathStepBuf>> {
        self.check_path_bytes(elem.byte_len())?;
        let mut p = Vec::with_capacity(self.path.len() + 1);
        p.extend(self.path.iter().cloned());
        p.push(elem);
        Ok(p)
    }

    pub(super) fn change(
        &self,
        kind: ChangeKind,
        path: Vec<PathStepBuf>,
        old: Option<Val>,
        new: Option<Val>,
    ) -> Result<Change<'r>> {
        Ok(Change {
            path,
            kind,
            old: old.map(|v| self.cursor(Side::A, v)).transpose()?,
            new: new.map(|v| self.cursor(Side::B, v)).transpose()?,
        })
    }

    // ---------------------------------------------------------------- driver

    /// Walks on to the next change (`None` when there is none).
    pub(super) fn run(&mut self) -> Result<Option<Change<'r>>> {
        if let Some((a, b)) = self.start.take() {
            match self.compare(a, b, 0, 0)? {
                Cmp::Same => return Ok(None),
                Cmp::Changed => {
                    return self
                        .change(ChangeKind::Changed, Vec::new(), Some(a), Some(b))
                        .map(Some)
                }
                Cmp::Nested(f) => self.push_frame(*f)?,
            }
        }
        while let Some(mut frame) = self.stack.pop() {
            self.truncate_path(frame.plen());
            let step = match &mut frame {
                Frame::Map(f) => self.step_map(f)?,
                Frame::List(f) => self.step_list(f)?,
                Frame::Linked(f) => self.step_linked(f)?,
                Frame::Sorted(f) => self.step_sorted(f)?,
            };
            match step {
                Step::Done => {}
                Step::Emit(c) => {
                    self.stack.push(frame);
                    return Ok(Some(c));
                }
                Step::Push(child) => {
                    self.stack.push(frame);
                    self.push_frame(child)?;
                }
            }
        }
        Ok(None)
    }

    /// Pushes a frame, within the bound on the walk's depth.
    fn push_frame(&mut self, f: Frame) -> Result<()> {
        if self.stack.len() >= self.max_frames {
            return Err(Error::TooDeep { pos: f.pos() });
        }
        self.stack.push(f);
        Ok(())
    }

    /// What an item or entry present on both sides contributes: nothing, a
    /// change at `elem`, or a nested walk below `elem`.
    /// `elem` is only computed (a map key read) when there is something to report.
    pub(super) fn pair(
        &mut self,
        a: Val,
        b: Val,
        nest: u32,
        elem: impl FnOnce(&mut Self) -> Result<PathStepBuf>,
    ) -> Result<Option<Step<'r>>> {
        Ok(match self.compare(a, b, nest, self.path.len() + 1)? {
            Cmp::Same => None,
            Cmp::Changed => {
                let elem = elem(self)?;
                let path = self.path_with(elem)?;
                Some(Step::Emit(self.change(
                    ChangeKind::Changed,
                    path,
                    Some(a),
                    Some(b),
                )?))
            }
            Cmp::Nested(f) => {
                let elem = elem(self)?;
                self.push_path(elem)?;
                Some(Step::Push(*f))
            }
        })
    }

    /// Compares two values at nesting depth `nest`; a nested walk gets path
    /// length `plen`.
    fn compare(&mut self, a: Val, b: Val, nest: u32, plen: usize) -> Result<Cmp> {
        if a.slot == b.slot {
            // the same scalar, or the same record: nothing to read
            return Ok(Cmp::Same);
        }
        for v in [a, b] {
            if matches!(v.slot.tag, Tag::Index | Tag::KvPair) {
                return Err(Error::corrupt(
                    v.pos.unwrap_or(0),
                    "an internal node where a value belongs",
                ));
            }
        }
        let (ta, tb) = (a.slot.tag, b.slot.tag);
        let is_bytes = |t| matches!(t, Tag::Bytes | Tag::ShortBytes);
        if is_bytes(ta) && is_bytes(tb) {
            return Ok(if self.bytes_equal(a.slot, b.slot)? {
                Cmp::Same
            } else {
                Cmp::Changed
            });
        }
        if ta != tb {
            return Ok(Cmp::Changed);
        }
        match ta {
            Tag::None => Ok(Cmp::Same),
            Tag::Uint | Tag::Int | Tag::Float => Ok(if a.slot.value == b.slot.value {
                Cmp::Same
            } else {
                Cmp::Changed
            }),
            _ => {
                if nest > MAX_NESTING {
                    return Err(Error::TooDeep {
                        pos: b.pos.unwrap_or(b.slot.value),
                    });
                }
                self.open(ta, a.slot, b.slot, nest, plen)
            }
        }
    }

    /// Sets up the walk of two structures of kind `tag`, in the file of
    /// their kind.
    fn open(&mut self, tag: Tag, a: Slot, b: Slot, nest: u32, plen: usize) -> Result<Cmp> {
        match tag {
            Tag::HashMap | Tag::HashSet | Tag::CountedHashMap | Tag::CountedHashSet => {
                self.open_map(tag, a, b, nest, plen)
            }
            Tag::ArrayList => self.open_list(a, b, nest, plen),
            Tag::LinkedArrayList => self.open_linked(a, b, nest, plen),
            Tag::SortedMap | Tag::SortedSet => self.open_sorted(tag, a, b, nest, plen),
            _ => Err(Error::corrupt(
                b.value,
                "an internal node where a value belongs",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::Database;

    #[test]
    fn key_bytes_are_bounded_by_the_storage() {
        let mut db = Database::memory();
        db.transact(|tx| tx.root_map()?.put("k", 1u64)).unwrap();
        db.transact(|tx| tx.root_map()?.put("k", 2u64)).unwrap();
        let mut d = db.diff(0, 1).unwrap();
        d.path_bytes = db.len();
        assert!(matches!(d.next(), Some(Err(Error::Corrupt { .. }))));
        assert!(d.next().is_none(), "the stream ends after an error");
    }
}
