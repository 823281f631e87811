//! Streaming access to byte values: `io::Read + Seek` for reading and
//! `io::Write + Seek` for writing, so large values never need to be held
//! whole in memory.

use crate::error::{Error, Result};
use crate::format::FormatTag;
use crate::format::{Slot, Tag};
use crate::tree::access::{SlotPos, Src, TxCore};
use crate::tree::bytes;
use std::io::{self, SeekFrom};

enum Body {
    Inline([u8; 8]),
    Stored(u64),
}

/// Reads a byte value incrementally: `std::io::Read + Seek`, from
/// [`Cursor::reader`](crate::Cursor::reader).
///
/// ```
/// use std::io::{Read, Seek, SeekFrom};
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| tx.root_map()?.put("greeting", "hello, world"))?;
/// let value = db.moment(-1)?.as_map()?.get(b"greeting")?.unwrap();
/// let mut reader = value.reader()?;
/// assert_eq!(reader.len(), 12);
/// reader.seek(SeekFrom::Start(7))?;
/// let mut rest = String::new();
/// reader.read_to_string(&mut rest)?;
/// assert_eq!(rest, "world");
/// reader.seek(SeekFrom::End(-12))?;
/// let mut first = [0u8; 5];
/// reader.read_exact(&mut first)?;
/// assert_eq!(&first, b"hello");
/// # Ok::<(), Error>(())
/// ```
pub struct BytesReader<'r> {
    src: Src<'r>,
    body: Body,
    len: u64,
    pos: u64,
}

impl<'r> BytesReader<'r> {
    pub(crate) fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
        let (body, len) = match slot.tag {
            Tag::ShortBytes => {
                let (v, len, _) = bytes::short_parts(slot);
                (Body::Inline(v), len as u64)
            }
            Tag::Bytes => {
                let (start, len) = bytes::long_extent(&src, slot)?;
                (Body::Stored(start), len)
            }
            found => {
                return Err(Error::UnexpectedTag {
                    expected: "bytes",
                    found,
                })
            }
        };
        Ok(BytesReader {
            src,
            body,
            len,
            pos: 0,
        })
    }

    /// Total length of the value.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for the empty value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl io::Read for BytesReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.len.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let dst = buf.get_mut(..n).unwrap_or_default();
        match &self.body {
            Body::Inline(v) => {
                let start = self.pos as usize;
                dst.copy_from_slice(v.get(start..start + n).unwrap_or_default());
            }
            Body::Stored(start) => self
                .src
                .read_into(start + self.pos, dst)
                .map_err(io::Error::other)?,
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn seek_target(pos: SeekFrom, current: u64, len: u64) -> io::Result<u64> {
    let target = match pos {
        SeekFrom::Start(p) => Some(p),
        SeekFrom::End(d) => len.checked_add_signed(d),
        SeekFrom::Current(d) => current.checked_add_signed(d),
    };
    target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))
}

impl io::Seek for BytesReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = seek_target(pos, self.pos, self.len)?;
        Ok(self.pos)
    }
}

/// Writes a byte value incrementally, always in the long (`bytes`) form.
///
/// The payload goes at the end of the storage as it is written; seeking
/// back and overwriting is allowed. Nothing refers to the bytes until
/// [`BytesWriter::finish`] writes the length and the slot, so dropping the
/// writer unfinished leaves the slot unchanged. Get one from
/// [`CursorMut::writer`](crate::CursorMut::writer).
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut w = tx.root_map()?.into_entry("blob")?.writer()?;
///     for chunk in 0..4u8 {
///         w.write_all(&[chunk; 1024])?; // streamed: never held whole
///     }
///     w.seek(SeekFrom::Start(0))?;
///     w.write_all(b"HEAD")?; // overwrite in place
///     w.finish(Some(*b"bn"))?; // only now does "blob" point at the bytes
///     Ok(())
/// })?;
/// db.transact(|tx| -> Result<(), Error> {
///     let mut w = tx.root_map()?.into_entry("blob")?.writer()?;
///     w.write_all(b"never finished")?;
///     Ok(()) // dropped unfinished: "blob" keeps its value
/// })?;
/// let blob = db.moment(-1)?.as_map()?.get(b"blob")?.unwrap();
/// assert_eq!(blob.format_tag()?, Some(*b"bn"));
/// let mut bytes = Vec::new();
/// blob.reader()?.read_to_end(&mut bytes)?;
/// assert_eq!(bytes.len(), 4096);
/// assert_eq!(&bytes[..5], b"HEAD\0");
/// # Ok::<(), Error>(())
/// ```
pub struct BytesWriter<'t> {
    core: TxCore<'t>,
    target: SlotPos,
    header: u64,
    len: u64,
    pos: u64,
}

impl<'t> BytesWriter<'t> {
    pub(crate) fn new(mut core: TxCore<'t>, target: SlotPos) -> Result<Self> {
        let header = core.alloc(&[0u8; 8])?;
        Ok(BytesWriter {
            core,
            target,
            header,
            len: 0,
            pos: 0,
        })
    }

    fn write_bytes(&mut self, buf: &[u8]) -> Result<()> {
        let start = self.header + 8;
        // Overwrite what already exists, then append the rest.
        let overlap = self.len.saturating_sub(self.pos).min(buf.len() as u64) as usize;
        let (inside, beyond) = buf.split_at(overlap);
        if !inside.is_empty() {
            self.core.write_at(start + self.pos, inside)?;
        }
        if !beyond.is_empty() {
            if self.pos > self.len {
                self.core.alloc_zeroed(self.pos - self.len)?;
                self.len = self.pos;
            }
            self.core.append(beyond)?;
        }
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(())
    }

    /// Writes the length and points the slot at the value, with an optional format tag.
    pub fn finish(mut self, format_tag: Option<FormatTag>) -> Result<()> {
        if let Some(t) = format_tag {
            self.core.append(&t)?;
        }
        self.core.write_u64(self.header, self.len)?;
        let slot = Slot {
            tag: Tag::Bytes,
            full: format_tag.is_some(),
            value: self.header,
        };
        self.core.write_slot(self.target, slot)
    }
}

impl io::Write for BytesWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_bytes(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for BytesWriter<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = seek_target(pos, self.pos, self.len)?;
        Ok(self.pos)
    }
}
