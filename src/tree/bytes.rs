//! Byte strings: inline (`short_bytes`, up to 8 bytes) or length-prefixed
//! out of line (`bytes`), each with an optional 2-byte format tag.

use crate::error::{Error, Result};
use crate::format::{FormatTag, Slot, Tag};
use crate::tree::access::{Src, TxCore};
use std::borrow::Cow;

/// Chooses the encoding exactly as the reference does: inline when the
/// bytes fit (8, or 6 with a format tag) and contain no zero byte.
pub(crate) fn encode(core: &mut TxCore<'_>, data: &[u8], tag: Option<FormatTag>) -> Result<Slot> {
    let room = if tag.is_some() { 6 } else { 8 };
    if data.len() <= room && !data.contains(&0) {
        let mut v = [0u8; 8];
        if let Some(dst) = v.get_mut(..data.len()) {
            dst.copy_from_slice(data);
        }
        if let Some(t) = tag {
            v[6..].copy_from_slice(&t);
        }
        return Ok(Slot {
            tag: Tag::ShortBytes,
            full: tag.is_some(),
            value: u64::from_be_bytes(v),
        });
    }
    let pos = core.alloc(&(data.len() as u64).to_be_bytes())?;
    core.append(data)?;
    if let Some(t) = tag {
        core.append(&t)?;
    }
    Ok(Slot {
        tag: Tag::Bytes,
        full: tag.is_some(),
        value: pos,
    })
}

/// The payload of an inline slot, and its format tag.
pub(crate) fn short_parts(slot: Slot) -> ([u8; 8], usize, Option<FormatTag>) {
    let v = slot.value.to_be_bytes();
    let room = if slot.full { 6 } else { 8 };
    let len = v.iter().take(room).position(|&b| b == 0).unwrap_or(room);
    let tag = slot.full.then_some([v[6], v[7]]);
    (v, len, tag)
}

/// Where a long value's payload lies: (payload position, length).
pub(crate) fn long_extent(src: &Src<'_>, slot: Slot) -> Result<(u64, u64)> {
    let len = src.u64_at(slot.value)?;
    let start = slot.value + 8;
    let tail = if slot.full { 2 } else { 0 };
    crate::storage::check_range(start, len.saturating_add(tail), src.len())?;
    Ok((start, len))
}

/// Reads a byte value and its format tag.
pub(crate) fn decode<'r>(src: &Src<'r>, slot: Slot) -> Result<(Cow<'r, [u8]>, Option<FormatTag>)> {
    match slot.tag {
        Tag::ShortBytes => {
            let (v, len, tag) = short_parts(slot);
            Ok((Cow::Owned(v.get(..len).unwrap_or(&[]).to_vec()), tag))
        }
        Tag::Bytes => {
            let (start, len) = long_extent(src, slot)?;
            let data = src.bytes(start, len)?;
            let tag = if slot.full {
                Some(src.array::<2>(start + len)?)
            } else {
                None
            };
            Ok((data, tag))
        }
        found => Err(Error::UnexpectedTag {
            expected: "bytes",
            found,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_decoding_rules() {
        let s = Slot {
            tag: Tag::ShortBytes,
            full: true,
            value: u64::from_be_bytes(*b"abcdefft"),
        };
        let (v, len, tag) = short_parts(s);
        assert_eq!(&v[..len], b"abcdef");
        assert_eq!(tag, Some(*b"ft"));
        let e = Slot::new(Tag::ShortBytes, 0);
        assert_eq!(short_parts(e).1, 0);
        let eight = Slot::new(Tag::ShortBytes, u64::from_be_bytes(*b"12345678"));
        assert_eq!(short_parts(eight).1, 8);
    }
}
