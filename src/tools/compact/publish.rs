//! Publishing a compaction's copy: the new history of the kept moments,
//! then the headers that make the copy visible, in an order that leaves a
//! database which opens empty if anything stops midway.

use crate::api::database::Durability;
use crate::error::{Error, Result};
use crate::format::{
    Header, Slot, Tag, TopHeader, BLOCK_LEN, BLOCK_SLOTS, DATABASE_START, HEADER_LEN, SLOT_LEN,
    TOP_HEADER_LEN,
};
use crate::storage::Storage;

/// Where the history's first block sits (right after its 24-byte header).
const HISTORY_BLOCK: u64 = DATABASE_START + TOP_HEADER_LEN;
/// Where the moments' data starts: after the history header and its first block.
pub(super) const DATA_START: u64 = HISTORY_BLOCK + BLOCK_LEN;

/// Checks that `out` is the storage of a new, empty database (its 12-byte
/// header and nothing else) and returns that header's bytes, which
/// [`publish`] puts back if writing the new header fails.
pub(super) fn empty_destination(out: &mut dyn Storage) -> Result<[u8; HEADER_LEN as usize]> {
    if out.len() != HEADER_LEN {
        return Err(Error::InvalidArgument(
            "compaction needs a new, empty destination database (it holds more than its header)",
        ));
    }
    let mut old_header = [0u8; HEADER_LEN as usize];
    out.read_at(0, &mut old_header)?;
    if Header::decode(old_header)?.tag != Tag::None {
        return Err(Error::InvalidArgument(
            "compaction needs a new, empty destination database (its root is not empty)",
        ));
    }
    Ok(old_header)
}

/// Makes the copy in `out` visible: writes the history of `moments` (the
/// kept moments' new root slots; `None` when the source has no history),
/// flushes the data (fsyncing it with [`Durability::Full`]), and only then
/// writes the history header and the database header `header`, made
/// durable as `durability` asks. If the last step fails, the destination's
/// `old_header` is put back (the caller cuts the storage back to it).
pub(super) fn publish(
    out: &mut dyn Storage,
    header: Header,
    moments: Option<&[Slot]>,
    durability: Durability,
    old_header: [u8; HEADER_LEN as usize],
) -> Result<()> {
    let top = match moments {
        Some(moments) => Some(TopHeader {
            size: moments.len() as u64,
            ptr: write_history(out, moments)?,
            file_size: 0,
        }),
        None => None,
    };
    // The data first, then the headers that make it visible.
    out.flush()?;
    if durability == Durability::Full {
        out.sync()?;
    }
    if let Some(mut top) = top {
        top.file_size = out.len();
        out.write_at(DATABASE_START, &top.encode())?;
    }
    let published = out
        .write_at(0, &header.encode())
        .and_then(|()| match durability {
            Durability::None => out.flush(),
            _ => out.sync(),
        });
    if let Err(e) = published {
        // The caller cuts the storage back to the header; put its bytes back.
        let _ = out.write_at(0, &old_header);
        return Err(e);
    }
    Ok(())
}

/// Writes the history ArrayList of the kept moments' root slots: the
/// first leaf block into the block reserved at 36, the others and the
/// upper levels appended. Returns the root block's position.
fn write_history(out: &mut dyn Storage, moments: &[Slot]) -> Result<u64> {
    let mut level: Vec<u64> = Vec::with_capacity(moments.len().div_ceil(BLOCK_SLOTS));
    for (j, chunk) in moments.chunks(BLOCK_SLOTS).enumerate() {
        let block = block_of(chunk.iter().copied());
        if j == 0 {
            out.write_at(HISTORY_BLOCK, &block)?;
            level.push(HISTORY_BLOCK);
        } else {
            level.push(out.len());
            out.append(&block)?;
        }
    }
    while level.len() > 1 {
        let mut up = Vec::with_capacity(level.len().div_ceil(BLOCK_SLOTS));
        for chunk in level.chunks(BLOCK_SLOTS) {
            let block = block_of(chunk.iter().map(|&p| Slot::new(Tag::Index, p)));
            up.push(out.len());
            out.append(&block)?;
        }
        level = up;
    }
    Ok(level.first().copied().unwrap_or(HISTORY_BLOCK))
}

/// An index block holding `slots` (at most 16) and empty slots after them.
fn block_of(slots: impl Iterator<Item = Slot>) -> [u8; BLOCK_LEN as usize] {
    let mut b = [0u8; BLOCK_LEN as usize];
    for (dst, s) in b.chunks_exact_mut(SLOT_LEN as usize).zip(slots) {
        dst.copy_from_slice(&s.encode());
    }
    b
}
