//! Typed accessors named after the Rust types they return, and `TryFrom`
//! conversions from a cursor.
//!
//! `as_u64` and `as_i64` read either integer kind when the value fits (the
//! same rule as typed reads), since the other implementations of the
//! format write small numbers as either kind. `as_uint`, `as_int` and
//! `as_float` stay strict about the stored tag.

use crate::api::cursor::Cursor;
use crate::error::{Error, Result};
use crate::format::Tag;

/// The integer kinds, with the one that was asked for when neither fits.
fn integer(c: &Cursor<'_>, expected: &'static str) -> Result<i128> {
    let slot = c.slot();
    match slot.tag {
        Tag::Uint => Ok(i128::from(slot.value)),
        Tag::Int => Ok(i128::from(slot.value as i64)),
        found => Err(Error::UnexpectedTag { expected, found }),
    }
}

fn out_of_range(n: i128, ty: &str) -> Error {
    Error::Typed {
        path: String::new(),
        message: format!("{n} does not fit a {ty}"),
    }
}

impl<'r> Cursor<'r> {
    /// Reads an integer as a `u64`: a uint, or an int that is not negative.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.try_extend([("a", 7u64)]))?;
    /// db.transact(|tx| tx.root_map()?.put("b", -7i64))?;
    /// let root = db.moment(-1)?.as_map()?;
    /// assert_eq!(root.require("a")?.as_u64()?, 7);
    /// assert_eq!(root.require("b")?.as_i64()?, -7);
    /// assert!(root.require("b")?.as_u64().is_err());
    /// let n: u64 = root.require("a")?.try_into()?;
    /// assert_eq!(n, 7);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn as_u64(&self) -> Result<u64> {
        let n = integer(self, "uint")?;
        u64::try_from(n).map_err(|_| out_of_range(n, "u64"))
    }

    /// Reads an integer as an `i64`: an int, or a uint up to `i64::MAX`.
    pub fn as_i64(&self) -> Result<i64> {
        let n = integer(self, "int")?;
        i64::try_from(n).map_err(|_| out_of_range(n, "i64"))
    }

    /// Reads a float (the same as [`Cursor::as_float`]).
    pub fn as_f64(&self) -> Result<f64> {
        self.as_float()
    }
}

macro_rules! try_from_cursor {
    ($($ty:ty => $method:ident),*) => {$(
        impl TryFrom<Cursor<'_>> for $ty {
            type Error = Error;
            /// Reads the value with the accessor of the same name.
            fn try_from(c: Cursor<'_>) -> Result<$ty> {
                c.$method().map(Into::into)
            }
        }
    )*};
}
try_from_cursor!(u64 => as_u64, i64 => as_i64, f64 => as_f64, String => as_str, Vec<u8> => as_bytes);
