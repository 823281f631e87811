//! Why the walk stops: the first problem found, or a storage failure.
//!
//! The walk reads every record with the format's own codecs, so a byte it
//! cannot decode comes back as a format [`Error`]. Verify's report is finer
//! than those errors: this file turns each into the [`ProblemKind`] an
//! invariant names (a bad tag is `InvalidTag`, a pointer into the header
//! `PointerBelowStart`, ...), and keeps storage failures apart, since they
//! are the one thing [`Database::verify`](crate::Database::verify) returns
//! as `Err`.

use super::{Problem, ProblemKind};
use crate::error::Error;
use crate::format::{slot_at, u64_at, Slot, MIN_POINTER};

/// Why the walk stopped early.
#[derive(Debug)]
pub(super) enum Stop {
    /// An invariant is violated.
    Problem(Problem),
    /// The storage failed; not a property of the bytes.
    Io(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        let (pos, kind) = match e {
            Error::Io(_) => return Stop::Io(e),
            Error::InvalidTag { pos, .. } => (pos, ProblemKind::InvalidTag),
            Error::OutOfBounds { pos, .. } => (pos, ProblemKind::OutOfBounds),
            Error::Corrupt { pos, .. } => (pos, ProblemKind::Unreadable),
            Error::TooDeep { pos } => (pos, ProblemKind::TooDeep),
            Error::UnknownListFamily { pos } => (pos, ProblemKind::ListFamily),
            _ => (0, ProblemKind::Unreadable),
        };
        Stop::Problem(Problem {
            pos,
            kind,
            what: e.to_string(),
        })
    }
}

/// The result of a step of the walk.
pub(super) type R<T> = std::result::Result<T, Stop>;

/// Stops the walk with a problem of `kind` at `pos`.
pub(super) fn fail<T>(pos: u64, kind: ProblemKind, what: String) -> R<T> {
    Err(Stop::Problem(Problem { pos, kind, what }))
}

/// Decodes the slot at byte `off` of `bytes`, a record read from `pos`:
/// a bad tag is `InvalidTag`, a pointer into the header is
/// `PointerBelowStart`, one no storage could hold `OutOfBounds` (each at
/// the slot's position).
pub(super) fn slot_in(bytes: &[u8], off: usize, pos: u64) -> R<Slot> {
    slot_at(bytes, off, pos).map_err(|e| refine(e, bytes, off))
}

/// Refines an error met decoding the slot at byte `off` of `bytes`: the
/// format rejects a pointer outside any possible record as corrupt, which
/// verify tells apart by the pointer's value.
pub(super) fn refine(e: Error, bytes: &[u8], off: usize) -> Stop {
    // A slot's value follows its tag byte.
    let value = off.checked_add(1).and_then(|at| u64_at(bytes, at));
    match (e, value) {
        (Error::Corrupt { pos, .. }, Some(value)) if value < MIN_POINTER => {
            Stop::Problem(Problem {
                pos,
                kind: ProblemKind::PointerBelowStart,
                what: format!("pointer {value} points into the database header"),
            })
        }
        (Error::Corrupt { pos, .. }, Some(value)) => Stop::Problem(Problem {
            pos,
            kind: ProblemKind::OutOfBounds,
            what: format!("pointer {value} is beyond any possible storage"),
        }),
        (e, _) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Tag;

    fn problem(s: Stop) -> Problem {
        match s {
            Stop::Problem(p) => p,
            Stop::Io(e) => panic!("a problem, not a storage failure: {e}"),
        }
    }

    #[test]
    fn only_storage_failures_are_errors() {
        let io = Error::Io(std::io::Error::other("disk"));
        assert!(matches!(Stop::from(io), Stop::Io(_)));
        let p = problem(Stop::from(Error::InvalidTag { tag: 99, pos: 7 }));
        assert_eq!((p.kind, p.pos), (ProblemKind::InvalidTag, 7));
        let absurd = Slot::new(Tag::Index, u64::MAX).encode();
        let p = problem(slot_in(&absurd, 0, 40).err().unwrap());
        assert_eq!((p.kind, p.pos), (ProblemKind::OutOfBounds, 40));
    }

    #[test]
    fn slot_errors_are_classified_at_the_slot() {
        let mut record = [0u8; 20];
        record[11..20].copy_from_slice(&Slot::new(Tag::HashMap, 5).encode());
        let p = problem(slot_in(&record, 11, 100).err().unwrap());
        assert_eq!((p.kind, p.pos), (ProblemKind::PointerBelowStart, 111));
        record[11] = 0x7F;
        let p = problem(slot_in(&record, 11, 100).err().unwrap());
        assert_eq!((p.kind, p.pos), (ProblemKind::InvalidTag, 111));
        let p = problem(slot_in(&record, 12, 100).err().unwrap());
        assert_eq!(p.kind, ProblemKind::Unreadable, "outside the record");
        let s = Slot::new(Tag::Uint, u64::MAX);
        record[11..20].copy_from_slice(&s.encode());
        assert_eq!(slot_in(&record, 11, 100).ok(), Some(s));
    }
}
