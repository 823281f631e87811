//! Byte strings and their format tags: inline (`short_bytes`) and long
//! (`bytes`, length-prefixed out of line).
//!
//! A long string is only bounds-checked, never read: its length prefix is
//! read, and the prefix, the payload and the 2-byte format tag (when the
//! slot's `full` flag says there is one) must lie below the committed
//! length. So a hostile length costs nothing. An inline string is
//! zero-filled after its payload, as the reference writes it: readers take
//! the payload up to the first zero byte, so anything after it would be
//! bytes no reader sees.

use super::stop::{fail, R};
use super::walk::Verifier;
use super::ProblemKind;
use crate::format::{long_bytes_len, short_bytes_room, Slot};

impl Verifier<'_> {
    /// An inline byte string in `slot`, at `from`: nothing but zeros after
    /// the payload (the format tag, if any, is not payload).
    pub fn short_bytes(&self, from: u64, slot: Slot) -> R<()> {
        let v = slot.value.to_be_bytes();
        let room = short_bytes_room(slot.full);
        let payload = v.get(..room).unwrap_or(&[]);
        let n = payload.iter().position(|&b| b == 0).unwrap_or(room);
        if payload.iter().skip(n).any(|&b| b != 0) {
            return fail(
                from,
                ProblemKind::ShortBytes,
                "short bytes are not zero-filled after their payload".into(),
            );
        }
        Ok(())
    }

    /// A long byte string that `slot`, at `from`, points at: its length
    /// prefix obeys the pointer rule, and the whole record lies below the
    /// committed length.
    pub fn long_bytes(&mut self, from: u64, slot: Slot) -> R<()> {
        self.stats.byte_strings += 1;
        let p = slot.value;
        // the u64 length prefix first: it is read
        self.check_ptr(from, p, 8, self.data_start)?;
        let n = self.src.u64_at(p)?;
        match long_bytes_len(n, slot.full).and_then(|len| p.checked_add(len)) {
            Some(e) if e <= self.end => Ok(()),
            _ => fail(
                p,
                ProblemKind::BytesLength,
                format!(
                    "a byte string of {n} bytes{} reaches past the committed length {}",
                    if slot.full { " and a format tag" } else { "" },
                    self.end
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{HashKind, Hasher, Tag};
    use crate::tree::access::Src;

    fn short(bytes: [u8; 8], tagged: bool) -> Slot {
        Slot {
            tag: Tag::ShortBytes,
            full: tagged,
            value: u64::from_be_bytes(bytes),
        }
    }

    #[test]
    fn short_bytes_are_zero_filled_up_to_their_format_tag() {
        let v = Verifier::new(Src::bytes_only(&[], Hasher::new(HashKind::Blake3)));
        assert!(v.short_bytes(0, short(*b"abc\0\0\0\0\0", false)).is_ok());
        assert!(v.short_bytes(0, short(*b"abcdefgh", false)).is_ok());
        assert!(v.short_bytes(0, short(*b"ab\0d\0\0\0\0", false)).is_err());
        assert!(v.short_bytes(0, short(*b"ab\0\0\0\0\0x", false)).is_err());
        // with a format tag, the last two bytes are the tag, zeros or not
        assert!(v.short_bytes(0, short(*b"ab\0\0\0\0\0x", true)).is_ok());
        assert!(v.short_bytes(0, short(*b"ab\0\0\0yzz", true)).is_err());
    }

    #[test]
    fn long_bytes_end_below_the_committed_length() {
        // 12 bytes where the header would be, then a 5-byte string with a
        // format tag at 12
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(&5u64.to_be_bytes());
        bytes.extend_from_slice(b"hellotg");
        let mut v = Verifier::new(Src::bytes_only(&bytes, Hasher::new(HashKind::Blake3)));
        v.data_start = 12;
        let tagged = Slot {
            tag: Tag::Bytes,
            full: true,
            value: 12,
        };
        assert!(v
            .long_bytes(
                0,
                Slot {
                    full: false,
                    ..tagged
                }
            )
            .is_ok());
        assert!(v.long_bytes(0, tagged).is_ok());
        v.end -= 1;
        assert!(v.long_bytes(0, tagged).is_err());
        assert_eq!(v.stats.byte_strings, 3);
    }
}
