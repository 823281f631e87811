//! Byte values, compared by content and format tag, never by encoding.
//!
//! The same bytes may be stored inline in one version and out of line in
//! the other, or out of line in two different records (a value rewritten
//! with equal content): neither is a change. Long values are compared a
//! chunk at a time, so a diff never holds a whole value in memory and every
//! chunk counts as one read against the work limit.

use super::walker::Side;
use super::Diff;
use crate::error::{Error, Result};
use crate::format::{FormatTag, Slot, Tag};
use crate::tree::bytes::{long_extent, short_parts};

/// Bytes compared per read when comparing long byte values.
const CHUNK: usize = 4096;

/// A byte value's payload: inline in its slot, or at a position in storage.
enum Payload {
    Inline([u8; 8], u64),
    Stored(u64, u64),
}

impl Payload {
    fn len(&self) -> u64 {
        match self {
            Payload::Inline(_, n) | Payload::Stored(_, n) => *n,
        }
    }
}

impl Diff<'_> {
    /// Where a byte value's payload is, its length and its format tag.
    fn bytes_parts(&mut self, side: Side, slot: Slot) -> Result<(Payload, Option<FormatTag>)> {
        match slot.tag {
            Tag::ShortBytes => {
                let (v, len, tag) = short_parts(slot);
                Ok((Payload::Inline(v, len as u64), tag))
            }
            _ => {
                self.tick(slot.value)?;
                let src = self.src(side);
                let (start, len) = long_extent(&src, slot)?;
                let tag = if slot.full {
                    Some(src.array::<2>(start + len)?)
                } else {
                    None
                };
                Ok((Payload::Stored(start, len), tag))
            }
        }
    }

    /// Reads `buf.len()` payload bytes from offset `off`.
    fn chunk(&mut self, side: Side, p: &Payload, off: u64, buf: &mut [u8]) -> Result<()> {
        match p {
            Payload::Inline(v, _) => {
                let from = v
                    .get(off as usize..off as usize + buf.len())
                    .ok_or(Error::corrupt(0, "inline bytes out of range"))?;
                buf.copy_from_slice(from);
                Ok(())
            }
            Payload::Stored(start, _) => {
                self.tick(start + off)?;
                self.src(side).read_into(start + off, buf)
            }
        }
    }

    /// Byte values compare by content and format tag, not by encoding.
    pub(super) fn bytes_equal(&mut self, a: Slot, b: Slot) -> Result<bool> {
        let (pa, ta) = self.bytes_parts(Side::A, a)?;
        let (pb, tb) = self.bytes_parts(Side::B, b)?;
        let len = pa.len();
        if ta != tb || len != pb.len() {
            return Ok(false);
        }
        let (mut ba, mut bb) = ([0u8; CHUNK], [0u8; CHUNK]);
        let mut off = 0;
        while off < len {
            let n = (len - off).min(CHUNK as u64) as usize;
            let (Some(ca), Some(cb)) = (ba.get_mut(..n), bb.get_mut(..n)) else {
                return Ok(false);
            };
            self.chunk(Side::A, &pa, off, ca)?;
            self.chunk(Side::B, &pb, off, cb)?;
            if ca != cb {
                return Ok(false);
            }
            off += n as u64;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::format::Tag;
    use crate::Database;

    #[test]
    fn bytes_equal_across_encodings_and_chunks() {
        let mut db = Database::memory();
        let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            m.put("short", "abc")?;
            m.put("big", big.as_slice())?;
            m.put("tag", crate::Value::tagged(b"", *b"ab"))
        })
        .unwrap();
        db.transact(|tx| {
            let mut m = tx.root_map()?;
            let mut w = m.entry("short")?.writer()?;
            std::io::Write::write_all(&mut w, b"abc")?;
            w.finish(None)?;
            m.put("big", big.as_slice())?;
            let w = m.entry("tag")?.writer()?;
            w.finish(Some(*b"ab"))
        })
        .unwrap();
        let d = db.diff(0, 1).unwrap();
        assert_eq!(d.count(), 0);
        let short = db.moment(1).unwrap().get_path(&["short".into()]).unwrap();
        assert_eq!(short.unwrap().tag(), Tag::Bytes, "stored out of line");
    }
}
