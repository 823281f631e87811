//! Values written into slots, and values read back.

use crate::format::FormatTag;

/// A scalar to write: what `put`, `append` and friends accept.
///
/// Conversions exist from the Rust types you would expect (`u64`, `i64`,
/// `f64`, `&str`, `&[u8]`, `&Vec<u8>`, `()` for none), so most calls read
/// `map.put("name", "Ada")?` or `list.append(42u64)?`.
///
/// ```
/// use xitdb::{Database, Error, Value};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut m = tx.root_map()?;
///     m.put("uint", 42u64)?; // Value::Uint
///     m.put("int", -1i64)?; // Value::Int
///     m.put("float", 0.5)?; // Value::Float
///     m.put("text", "hello")?; // Value::Bytes, no format tag
///     m.put("none", ())?; // Value::Null
///     m.put("json", Value::tagged(br#"{"a":1}"#, *b"js"))?;
///     Ok(())
/// })?;
/// let m = db.moment(-1)?.as_map()?;
/// assert!(m.get(b"none")?.unwrap().is_null());
/// let json = m.get(b"json")?.unwrap();
/// assert_eq!(json.format_tag()?, Some(*b"js"));
/// assert_eq!(&*json.as_bytes()?, br#"{"a":1}"#);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// An explicit none (distinct from a slot never written).
    Null,
    /// An unsigned integer.
    Uint(u64),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Bytes, optionally with a 2-byte format tag.
    Bytes(&'a [u8], Option<FormatTag>),
}

impl<'a> Value<'a> {
    /// Bytes with a format tag.
    pub fn tagged(bytes: &'a [u8], tag: FormatTag) -> Self {
        Value::Bytes(bytes, Some(tag))
    }
}

impl From<()> for Value<'_> {
    fn from(_: ()) -> Self {
        Value::Null
    }
}
impl From<u64> for Value<'_> {
    fn from(v: u64) -> Self {
        Value::Uint(v)
    }
}
impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Uint(v.into())
    }
}
impl From<usize> for Value<'_> {
    fn from(v: usize) -> Self {
        Value::Uint(v as u64)
    }
}
impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value<'_> {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Bytes(v, None)
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for Value<'a> {
    fn from(v: &'a [u8; N]) -> Self {
        Value::Bytes(v, None)
    }
}
impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Value::Bytes(v, None)
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Bytes(v.as_bytes(), None)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Bytes(v.as_bytes(), None)
    }
}

/// One step of a path into nested structures.
///
/// Paths are slices of steps, followed by [`Cursor::get_path`] for reading
/// and [`CursorMut::at_path`] for writing. `&str` and `&[u8]` convert into
/// keys and `i64` into indices.
///
/// ```
/// use xitdb::PathStep;
/// let path: [PathStep; 3] = ["users".into(), "ada".into(), (-1i64).into()];
/// assert_eq!(path[0], PathStep::Key(b"users"));
/// assert_eq!(path[2], PathStep::Index(-1));
/// ```
///
/// [`Cursor::get_path`]: crate::Cursor::get_path
/// [`CursorMut::at_path`]: crate::CursorMut::at_path
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStep<'a> {
    /// A map key (hashed with the database's hasher).
    Key(&'a [u8]),
    /// A map key given by its raw hash.
    Hash(&'a [u8]),
    /// A list index; negative counts from the end.
    Index(i64),
}

impl<'a> From<&'a str> for PathStep<'a> {
    fn from(k: &'a str) -> Self {
        PathStep::Key(k.as_bytes())
    }
}
impl<'a> From<&'a [u8]> for PathStep<'a> {
    fn from(k: &'a [u8]) -> Self {
        PathStep::Key(k)
    }
}
impl From<i64> for PathStep<'_> {
    fn from(i: i64) -> Self {
        PathStep::Index(i)
    }
}

/// One step of a path, owned: the twin of [`PathStep`] that can be kept,
/// returned and sent across threads. [`diff`](crate::diff) reports where
/// each change lies as a `Vec<PathStepBuf>`; [`PathStepBuf::as_step`] turns
/// one back into a [`PathStep`] to follow it.
///
/// ```
/// use xitdb::{Database, PathStep, PathStepBuf};
/// let owned = PathStepBuf::from(PathStep::Key(b"users"));
/// assert_eq!(owned.as_step(), PathStep::Key(b"users"));
/// assert_eq!(PathStepBuf::from(PathStep::Index(-1)), PathStepBuf::Index(-1));
///
/// // a diff's paths lead back to the values that changed
/// let mut db = Database::memory();
/// db.transact(|tx| tx.root_map()?.put("a", 1u64))?;
/// db.transact(|tx| tx.root_map()?.put("a", 2u64))?;
/// for change in db.diff(0, 1)? {
///     let change = change?;
///     assert_eq!(change.path, [PathStepBuf::Key(b"a".to_vec())]);
///     let steps: Vec<PathStep> = change.path.iter().map(PathStepBuf::as_step).collect();
///     let now = db.moment(1)?.get_path(&steps)?.unwrap();
///     assert_eq!(now.as_uint()?, 2);
/// }
/// # Ok::<(), xitdb::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStepBuf {
    /// A map key, or a set member.
    Key(Vec<u8>),
    /// A map entry by its raw key hash (an entry stored without its key).
    Hash(Vec<u8>),
    /// A list index; negative counts from the end.
    Index(i64),
}

impl PathStepBuf {
    /// The borrowed step, to follow with [`crate::Cursor::get`] or a path call.
    pub fn as_step(&self) -> PathStep<'_> {
        match self {
            PathStepBuf::Key(k) => PathStep::Key(k),
            PathStepBuf::Hash(h) => PathStep::Hash(h),
            PathStepBuf::Index(i) => PathStep::Index(*i),
        }
    }

    /// A list index as a step (indices past `i64::MAX` cannot be stored).
    pub(crate) fn index(i: u64) -> PathStepBuf {
        PathStepBuf::Index(i64::try_from(i).unwrap_or(i64::MAX))
    }

    /// Bytes held by the step (its key or hash).
    pub(crate) fn byte_len(&self) -> u64 {
        match self {
            PathStepBuf::Key(b) | PathStepBuf::Hash(b) => b.len() as u64,
            PathStepBuf::Index(_) => 0,
        }
    }
}

impl From<PathStep<'_>> for PathStepBuf {
    fn from(step: PathStep<'_>) -> Self {
        match step {
            PathStep::Key(k) => PathStepBuf::Key(k.to_vec()),
            PathStep::Hash(h) => PathStepBuf::Hash(h.to_vec()),
            PathStep::Index(i) => PathStepBuf::Index(i),
        }
    }
}
