//! Root-map commits that a crash cannot tear (FORMAT.md §8.8).
//!
//! A root-map database keeps its root at offset 12 and a commit overwrites
//! it in place. The commit first appends a redo record
//! ([`crate::format::Redo`]) after its data and makes it durable; that is
//! the commit point. Then it writes the new root over offset 12 and, once
//! that is durable, retires the record by zeroing its magic. A writable
//! open that finds a live record at the end of the file (past any zeros a
//! synced file keeps ahead of its end) whose checksum holds writes the root
//! again: an interrupted in-place write is finished, a finished one is
//! written once more with the same bytes.

use crate::error::{Error, Result};
use crate::format::{
    Header, Redo, RedoSum, Slot, Tag, BLOCK_LEN, DATABASE_START, HEADER_LEN, REDO_LEN,
    REDO_MAGIC_AT,
};
use crate::storage::Storage;
use crate::tree::hamt::Hamt;

/// The length of a root of kind `tag` at offset 12: its count (counted
/// kinds) and its root block.
pub(crate) fn head_len(tag: Tag) -> Result<u64> {
    Hamt::from_slot(Slot::new(tag, 0)).map(|h| h.block + BLOCK_LEN)
}

/// Bytes read at a time while hashing the data or looking for the record.
const CHUNK: u64 = 64 << 10;

/// The checksum of `redo` placed at `record_pos`: the bytes from its
/// `data_start` up to the record, then its fields.
fn checksum(store: &dyn Storage, redo: &Redo, record_pos: u64) -> Result<[u8; 16]> {
    let mut sum = RedoSum::new();
    let mut buf = vec![0u8; record_pos.saturating_sub(redo.data_start).min(CHUNK) as usize];
    let mut pos = redo.data_start;
    while pos < record_pos {
        let n = (record_pos - pos).min(CHUNK);
        let part = buf.get_mut(..n as usize).unwrap_or_default();
        store.read_at(pos, part)?;
        sum.update(part);
        pos += n;
    }
    Ok(sum.finish(redo, record_pos))
}

/// Appends the redo record of a commit whose data starts at `data_start`
/// and whose new root's bytes are `head_len` bytes at `head_pos`; returns
/// the record's position.
pub(crate) fn append(
    store: &mut dyn Storage,
    data_start: u64,
    head_pos: u64,
    head_len: u64,
    tag: Tag,
) -> Result<u64> {
    let redo = Redo {
        data_start,
        head_pos,
        head_len,
        tag,
    };
    let pos = store.len();
    let sum = checksum(store, &redo, pos)?;
    store.append(&redo.encode(sum))?;
    Ok(pos)
}

/// Writes a new root over offset 12 (`head`: its count and block; none
/// when it was made there) and the root tag into the header when it
/// changes; `write` is the storage's write (a commit passes its
/// undo-logged one).
pub(crate) fn publish(
    head: Option<&[u8]>,
    tag: Tag,
    header: Header,
    mut write: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    if let Some(head) = head {
        write(DATABASE_START, head)?;
    }
    if tag != header.tag {
        write(0, &Header { tag, ..header }.encode())?;
    }
    Ok(())
}

/// Zeroes the magic of the record at `record_pos`: the commit is finished.
pub(crate) fn retire(store: &mut dyn Storage, record_pos: u64) -> Result<()> {
    store.write_at(record_pos + REDO_MAGIC_AT, &[0u8; 8])
}

/// The end of the last non-zero byte of the storage (at least the header's).
fn data_end(store: &dyn Storage) -> Result<u64> {
    let mut end = store.len();
    let mut buf = vec![0u8; end.saturating_sub(HEADER_LEN).min(CHUNK) as usize];
    while end > HEADER_LEN {
        let start = end.saturating_sub(CHUNK).max(HEADER_LEN);
        let part = buf.get_mut(..(end - start) as usize).unwrap_or_default();
        store.read_at(start, part)?;
        if let Some(i) = part.iter().rposition(|&b| b != 0) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(HEADER_LEN)
}

/// The live redo record that ends the storage's data, if there is one
/// whose checksum holds: the position and the fields. A record that does
/// not fit the root `header` describes is an error.
pub(crate) fn find(store: &dyn Storage, header: Header) -> Result<Option<(u64, Redo)>> {
    let end = data_end(store)?;
    let Some(pos) = end.checked_sub(REDO_LEN).filter(|&p| p >= HEADER_LEN) else {
        return Ok(None);
    };
    let mut raw = [0u8; REDO_LEN as usize];
    store.read_at(pos, &mut raw)?;
    let Some((redo, sum)) = Redo::decode(raw) else {
        return Ok(None);
    };
    let fits = redo.data_start >= HEADER_LEN
        && redo.head_pos >= redo.data_start
        && redo
            .head_pos
            .checked_add(redo.head_len)
            .is_some_and(|e| e <= pos);
    if !fits || checksum(store, &redo, pos)? != sum {
        // never finished: the commit did not reach its commit point
        return Ok(None);
    }
    if !header.tag.is_hamt()
        || !redo.tag.is_hamt()
        || head_len(redo.tag)? != redo.head_len
        || head_len(header.tag)? != redo.head_len
    {
        return Err(Error::corrupt(
            pos,
            "a redo record that does not fit the root",
        ));
    }
    Ok(Some((pos, redo)))
}

/// Finishes the commit a live record at the end of `store` describes (a
/// writable open after a crash): writes its root over offset 12 and its
/// tag into the header, makes that durable, then retires the record.
/// Returns the root tag now in force.
pub(crate) fn roll_forward(store: &mut dyn Storage, header: Header) -> Result<Tag> {
    let Some((pos, redo)) = find(store, header)? else {
        return Ok(header.tag);
    };
    let mut head = vec![0u8; usize::try_from(redo.head_len).unwrap_or(0)];
    store.read_at(redo.head_pos, &mut head)?;
    publish(Some(&head), redo.tag, header, |at, bytes| {
        store.write_at(at, bytes)
    })?;
    store.sync()?;
    retire(store, pos)?;
    store.flush()?;
    Ok(redo.tag)
}
