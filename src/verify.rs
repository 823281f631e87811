//! Checking a database: every moment walked, every invariant checked.
//!
//! (Being written: see `verify`.)

use crate::db::Database;
use crate::error::Result;
use crate::storage::Storage;

/// What [`verify`] found: nothing, or the first violated invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Moments checked.
    pub moments: u64,
    /// The first problem found, if any.
    pub problem: Option<Problem>,
}

/// One violated invariant, with the byte position where it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Byte position of the offending record.
    pub pos: u64,
    /// What is wrong.
    pub what: String,
}

/// Walks every moment of `db` and checks every invariant of the format.
pub fn verify<S: Storage>(db: &Database<S>) -> Result<Report> {
    Ok(Report {
        moments: db.moment_count()?,
        problem: None,
    })
}
