//! Compaction: a new database holding chosen moments of an old one.
//!
//! # Why
//!
//! An xitdb file only grows. Every transaction appends the blocks it
//! changed, and nothing is ever freed: moments nobody needs any more, every
//! old version of a byte string that was rewritten many times, map blocks
//! emptied by removals, the copies a root-map transaction leaves behind,
//! items left past the end of a sliced list, the remains of a crashed
//! transaction in a file only ever opened read-only: all of it stays in the
//! file. [`Database::compact_into`] writes a *new* database that holds only
//! the moments asked for ([`Keep::All`] or [`Keep::Last`]) and everything
//! they reach, nothing else.
//!
//! # What the copy keeps
//!
//! * **Sharing.** Moments share most of their blocks; the copy shares them
//!   too. Every record (index block, key/value record, list header, byte
//!   string, ...) is copied once, the first time a kept moment reaches it,
//!   and a table from old position to new position (the *memo*) makes every
//!   later reference, from the same moment or another one, point at that
//!   one copy. The result of compacting all moments is therefore about the
//!   size of the source minus its garbage, never the sum of the moments.
//! * **Bytes.** Records are copied byte for byte, with only their child
//!   pointers rewritten: slot tags, `full` flags, key hashes, LinkedArrayList
//!   sizes and flags, byte strings with their format tags, counts, shift
//!   bytes. The copy never hashes anything, so a file whose header names a
//!   hasher this crate does not know compacts like any other; the new header
//!   takes the source's `hash_id` and `hash_size`. The result is an ordinary
//!   file of format version 0 that the reference implementation reads.
//! * **What is dropped.** Whatever no kept moment reaches. Inside an
//!   ArrayList block, the slots past the list's size (stale items left by a
//!   slice, which no reader follows) are written as empty slots. Likewise
//!   in a sorted map's or set's B-tree node, the entries, children,
//!   separators and counts past the node's entry count, and its unused
//!   separator 0 when that points at a byte string (one held inline is
//!   kept). Emptied nodes are copied as they are: the tree is not rebuilt.
//! * **Sorted keys.** A branch's separator is the same byte string as the
//!   key it was taken from; the copy keeps them one string.
//!
//! The new history is built from scratch as a regular ArrayList of the kept
//! moments' new root slots, laid out like one the transactions of this
//! crate would have made (history header at 12, its first block at 36, the
//! moments' data from 180 on), so both this crate and the reference can go
//! on appending moments to it. A database whose root is a map or set
//! (`Database::transact_root`) has no moments: its root is copied to offset
//! 12 of the destination and `keep` does not matter. An empty source gives
//! an empty destination (with the source's hash id and size).
//!
//! # Algorithm
//!
//! One pass, depth first, in moment order: for each kept moment, its root
//! slot is copied *post-order*. A record is read into a small buffer, each
//! child it points at is copied first (or found in the memo), the new child
//! positions are patched into the buffer, and the buffer is appended to the
//! destination. So every record is written exactly once, complete, through
//! the storage's buffered appends; no byte is rewritten afterwards except
//! the fixed header area. The walk keeps its own stack on the heap; reads go
//! through the crate's bounds-checked `Src` (direct reads of the memory
//! buffer or the file's memory map: no system call per record).
//!
//! Then the history blocks are written (the first leaf into the block
//! reserved at 36, the others appended), the data is flushed (and fsynced
//! with [`Durability::Full`]), and only then the history header at 12 and
//! the database header at 0 are written and made durable as the
//! destination's durability setting asks. Until that last step the
//! destination's header still says "empty", so a crash midway leaves a
//! database that opens empty (a writable open cuts the unpublished bytes
//! off). An error midway (including a panic in the progress callback) is
//! rolled back by the destination handle: its storage is cut back to the
//! 12 bytes it had.
//!
//! An ArrayList block is copied for the items its list holds below it (its
//! *limit*). A block shared by two lists of different sizes (a list and its
//! slice) is copied again when it is met with a larger limit than its copy
//! has; a copy with a larger limit serves every smaller one.
//!
//! # Hostile input
//!
//! The source may be corrupt or hostile; compaction then fails with an
//! [`Error`], never a panic or a hang:
//!
//! * every read is bounds-checked against the storage; byte strings are
//!   copied in chunks of at most 64 KiB after their length was checked
//!   against the storage, so no allocation follows a length from the file;
//! * a record that is being copied is marked in the memo; reaching it again
//!   before its copy is done means the pointers form a cycle (`Corrupt`);
//! * depths are bounded: a trie has at most `2H` levels, list shifts at most
//!   15, a B-tree at most 40 levels (`TooDeep`), and structures nest at most [`MAX_NESTING`] deep below
//!   a moment (`TooDeep`, the limit of [`crate::json::dump_json`] and
//!   [`Database::verify`]). The walk's stack and memo hold at most one entry
//!   per distinct record of the source;
//! * a position reached as two different kinds of record (a map block and a
//!   list block, list blocks at two heights, ...) is `Corrupt`, and so is a
//!   B-tree node whose kind byte is neither leaf nor branch, or that holds
//!   more than 16 entries.
//!
//! [`Database::compact_into`]: crate::Database::compact_into
//! [`Durability::Full`]: crate::Durability::Full
//! [`MAX_NESTING`]: crate::format::MAX_NESTING

mod copy;
mod publish;

use crate::api::database::{Database, Durability};
use crate::error::{Error, Result};
use crate::format::{Header, Slot, Tag, DATABASE_START};
use crate::storage::Storage;
use crate::tree::access::Src;
use crate::tree::array_list::ArrayList;
use copy::Copier;

/// Which moments a compaction keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every moment.
    All,
    /// The newest `n` moments (all of them when there are fewer). `Last(0)`
    /// keeps none: the result is a history without moments.
    Last(u64),
}

/// Where a running compaction stands, passed to its progress callback.
///
/// The callback is called once after each kept moment is copied, and also
/// while a large moment is being copied (each time the destination has
/// grown by another 8 MiB since the last call). A copy of no moments (an
/// empty database, a root map, `Keep::Last(0)`) gets one call when its
/// copy is done, with both counts 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Kept moments copied so far.
    pub moments_done: u64,
    /// Kept moments in all.
    pub moments_total: u64,
    /// Bytes written to the destination so far (its length, header
    /// included).
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

/// The database being compacted, as [`Database::compact_into`] hands it
/// over: its committed state, read through `src`.
///
/// [`Database::compact_into`]: crate::Database::compact_into
pub(crate) struct Source<'a> {
    pub src: Src<'a>,
    pub header: Header,
    /// The committed history (root tag array_list).
    pub history: Option<ArrayList>,
}

impl<S: Storage> Database<S> {
    /// Copies the moments `keep` selects into `dst`, a new empty database,
    /// sharing every block the kept moments share and dropping the rest;
    /// `progress` is called as moments are copied. See the
    /// [module documentation](self).
    pub fn compact_into<T: Storage>(
        &self,
        dst: &mut Database<T>,
        keep: Keep,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<CompactReport> {
        // an empty list reads alike in both families, but its copy must be
        // laid out in the source's: learn it first if nobody said
        let family = self.detect_list_family()?;
        let source = Source {
            src: self.src(),
            header: self.header(),
            history: self.committed_history(),
        };
        let report = dst.rewrite(self.hasher(), |store, durability| {
            compact(&source, store, durability, keep, progress)
        })?;
        // the copy keeps the source's list layout
        if let Some(family) = family {
            dst.adopt_list_family(family);
        }
        Ok(report)
    }
}

/// Copies the moments `keep` selects from `source` into `out`, the storage
/// of an empty database (its 12-byte header only), then publishes them by
/// writing the headers. If this fails, the caller cuts `out` back to its
/// 12 bytes (the database header is put back here).
pub(crate) fn compact(
    source: &Source<'_>,
    out: &mut dyn Storage,
    durability: Durability,
    keep: Keep,
    progress: &mut dyn FnMut(Progress),
) -> Result<CompactReport> {
    let old_header = publish::empty_destination(out)?;
    let mut report = CompactReport {
        moments_before: 0,
        moments_kept: 0,
        bytes_before: source.src.len(),
        bytes_after: 0,
    };
    let moments = copy_source(source, &mut *out, keep, progress, &mut report)?;
    publish::publish(
        out,
        source.header,
        moments.as_deref(),
        durability,
        old_header,
    )?;
    report.bytes_after = out.len();
    Ok(report)
}

/// The copy itself: the kept moments of a history (their new root slots,
/// in order, returned for the new history), a root map or set (copied to
/// offset 12), or nothing for an empty source. Counts the moments into
/// `report`.
fn copy_source(
    source: &Source<'_>,
    out: &mut dyn Storage,
    keep: Keep,
    progress: &mut dyn FnMut(Progress),
    report: &mut CompactReport,
) -> Result<Option<Vec<Slot>>> {
    let header = source.header;
    let mut copier = Copier::new(source.src, header.hash_size, out, progress);
    match header.tag {
        Tag::None => {
            copier.report();
            Ok(None)
        }
        Tag::ArrayList => {
            let history = source
                .history
                .ok_or(Error::corrupt(DATABASE_START, "history not loaded"))?;
            let total = history.size;
            let kept = match keep {
                Keep::All => total,
                Keep::Last(n) => n.min(total),
            };
            report.moments_before = total;
            report.moments_kept = kept;
            // The history header and its first block, written at the end.
            copier.append_zeros(publish::DATA_START - DATABASE_START)?;
            copier.copy_moments(&history, total - kept..total).map(Some)
        }
        tag if tag.is_hamt() => {
            copier.copy_root_map(tag)?;
            Ok(None)
        }
        tag => Err(Error::InvalidRoot(tag)),
    }
}
