//! Typed records: any `serde` type stored as native xitdb structures.
//!
//! A value written with [`CursorMut::write_typed`](crate::CursorMut::write_typed),
//! [`MapMut::put_typed`](crate::MapMut::put_typed) or
//! [`ListMut::append_typed`](crate::ListMut::append_typed) is taken apart
//! into the structures every other xitdb tool understands, so the CLI, the
//! JSON dump, [`diff`](crate::diff) and time travel see fields, not opaque
//! blobs. It is read back with [`Cursor::read_typed`](crate::Cursor::read_typed),
//! [`MapView::get_typed`](crate::MapView::get_typed),
//! [`ListView::get_typed`](crate::ListView::get_typed) or
//! [`Snapshot::read_typed`](crate::Snapshot::read_typed).
//!
//! # How Rust values are stored
//!
//! | Rust (serde data model)                  | stored as                              |
//! |------------------------------------------|----------------------------------------|
//! | `u8`..`u64` (`u128` up to `u64::MAX`)     | uint                                   |
//! | `i8`..`i64` (`i128` in range)             | int                                    |
//! | `f32`, `f64`                              | float                                  |
//! | `bool`                                    | uint 0 or 1                            |
//! | `char`, `&str`, `String`                  | bytes (UTF-8, no format tag)           |
//! | byte buffers (`serde_bytes`)              | bytes                                  |
//! | `None`, `()`, unit structs                | none                                   |
//! | `Some(v)`, newtype structs                | `v` itself                             |
//! | structs, maps (`HashMap`, `BTreeMap`, ..) | hash map, keys are the field names     |
//! | maps marked [`Sorted`] or [`sorted_map`]  | sorted map                             |
//! | sequences, tuples, `Vec<u8>` too          | array list                             |
//! | enums                                     | externally tagged, as `serde_json`: a unit variant is its name as bytes, any other a one-entry hash map `{variant: content}` |
//!
//! Map keys are stored as bytes: strings as they are, integers and `bool`s
//! as their decimal text (as `serde_json` does), so a sorted map of integer
//! keys is ordered as text.
//!
//! ## Hash maps by default, sorted maps on request
//!
//! serde hands a `BTreeMap` and a `HashMap` to a serializer the same way,
//! so the storage cannot tell them apart: every map is stored as a hash map
//! (one lookup per key, no order). Mark a map to store it as a sorted map
//! (ordered keys, ranges, ranks) with the [`Sorted`] wrapper or with
//! `#[serde(with = "xitdb::typed::sorted_map")]` on a field; every other
//! serializer (`serde_json`, `postcard`) sees the map unchanged. Reading
//! accepts either kind for any map type.
//!
//! # Reading back
//!
//! Reads check each stored kind against what the type asks for and report a
//! mismatch with its path ([`Error::TypeMismatch`](crate::Error::TypeMismatch)):
//! `users.ada.age: expected uint, found bytes`. Integers convert between
//! uint and int when the value fits; floats also read uints and ints.
//! Unknown stored fields are ignored (unless the type says
//! `#[serde(deny_unknown_fields)]`), missing ones take `#[serde(default)]`,
//! and `Option` fields read a missing key as `None`, so records evolve
//! without migrations. Self-describing reads (`serde_json::Value`,
//! `#[serde(untagged)]`) see valid UTF-8 bytes as a string, other bytes as
//! a byte buffer, and a uint 0/1 as a number (there is no stored bool).
//!
//! Types that borrow (`&'r str`, `&'r [u8]`) point into the database's
//! bytes when the storage holds them in place (memory, a borrowed slice, a
//! memory-mapped file, a snapshot); a storage that copies on read gives an
//! error that says so, and `String`/`Vec<u8>` always work.
//!
//! Nesting deeper than [`MAX_DEPTH`] levels is an error both ways, so a
//! hostile file (or a value built to be deep) cannot exhaust the stack.
//!
//! # Writing only what changed
//!
//! Writing a value over the one stored compares the two first and writes
//! only what differs: an unchanged field keeps its subtree (the same slots),
//! so a one-field change of a large record writes the changed field and the
//! map blocks on its path, and [`diff`](crate::diff) reports exactly that
//! field. Stored keys that the new value lacks are removed.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use xitdb::{Database, Error};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! enum Role { Admin, Member { since: u32 } }
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct User { name: String, age: u8, role: Role, langs: Vec<String> }
//!
//! let mut db = Database::memory();
//! let ada = User { name: "Ada".into(), age: 36, role: Role::Admin, langs: vec!["en".into()] };
//! db.transact(|tx| tx.root_map()?.into_entry("users")?.hash_map()?.put_typed("ada", &ada))?;
//!
//! let users = db.moment(-1)?.as_map()?.get("users")?.unwrap().as_map()?;
//! assert_eq!(users.get_typed::<User>("ada")?, Some(ada));
//! // fields are real structures, readable without the type
//! let root = db.moment(-1)?.as_map()?;
//! assert_eq!(root.get_path(["users", "ada", "name"])?.unwrap().as_str()?, "Ada");
//!
//! // the wrong type is an error naming the path, never a panic
//! #[derive(Deserialize, Debug)]
//! struct Wrong { name: u64 }
//! let err = users.get_typed::<Wrong>("ada").unwrap_err();
//! assert_eq!(err.to_string(), "ada.name: expected uint, found bytes");
//! # Ok::<(), Error>(())
//! ```

/// The `Deserializer` methods both typed deserializers (values and keys)
/// share: a newtype is its content, ignored content is not read at all,
/// and owned bytes read as bytes.
macro_rules! shared_de_methods {
    () => {
        fn deserialize_newtype_struct<V: Visitor<'r>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value> {
            visitor.visit_newtype_struct(self)
        }
        fn deserialize_ignored_any<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
            visitor.visit_unit()
        }
        fn deserialize_byte_buf<V: Visitor<'r>>(self, visitor: V) -> Result<V::Value> {
            self.deserialize_bytes(visitor)
        }
    };
}

mod access;
mod de;
mod error;
mod methods;
mod node;
mod ser;
mod sorted;
mod write;

pub use sorted::{sorted_map, Sorted};

/// How deeply typed values may nest (structures inside structures), both
/// when writing and when reading. Deeper values give
/// [`Error::Typed`](crate::Error::Typed): the limit keeps a hostile file,
/// or a pathological value, from exhausting the stack.
pub const MAX_DEPTH: usize = 128;
