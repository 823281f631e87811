//! Compaction: a new database holding chosen moments of an old one.
//!
//! (Stub: the API is fixed, the copy is being written.)

use crate::error::{Error, Result};

/// Which moments a compaction keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every moment.
    All,
    /// The newest `n` moments (all of them when there are fewer).
    Last(u64),
}

/// Where a running compaction stands, passed to its progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Kept moments copied so far.
    pub moments_done: u64,
    /// Kept moments in all.
    pub moments_total: u64,
    /// Bytes written to the destination so far.
    pub bytes_written: u64,
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    /// Moments in the source.
    pub moments_before: u64,
    /// Moments written to the destination.
    pub moments_kept: u64,
    /// Source size in bytes.
    pub bytes_before: u64,
    /// Destination size in bytes.
    pub bytes_after: u64,
}

pub(crate) fn not_yet() -> Result<CompactReport> {
    Err(Error::InvalidArgument("compaction is not implemented yet"))
}
