//! # xitdb
//!
//! An embedded, immutable database of persistent data structures, stored in
//! one append-only file or an in-memory buffer, and byte-compatible with
//! [xitdb](https://github.com/radarroark/xitdb) (format version 0).
//!
//! ## Why
//!
//! Every transaction appends a new *moment*: a copy-on-write version of the
//! whole database that shares everything unchanged with the moment before.
//! Old moments stay readable forever (time travel), undo is re-appending an
//! old moment, and a snapshot costs nothing. That suits version-control-like
//! applications and anything else that wants cheap, durable history.
//!
//! The bytes are a *zero-decode* wire format: a database received over the
//! network can be read in place with no parse step, and hostile bytes yield
//! an [`Error`], never a crash.
//!
//! ## Example
//!
//! ```
//! use xitdb::{Database, Error};
//!
//! let mut db = Database::memory();
//! db.transact(|tx| -> Result<(), Error> {
//!     let mut root = tx.root_map()?;
//!     root.put("name", "xitdb")?;
//!     let mut langs = root.entry("langs")?.array_list()?;
//!     langs.append("zig")?;
//!     langs.append("rust")?;
//!     Ok(())
//! })?;
//! db.transact(|tx| tx.root_map()?.put("name", "xitdb-rs"))?;
//!
//! // the newest moment, and the one before it
//! let now = db.moment(-1)?.as_map()?;
//! let before = db.moment(0)?.as_map()?;
//! assert_eq!(&*now.get(b"name")?.unwrap().as_bytes()?, b"xitdb-rs");
//! assert_eq!(&*before.get(b"name")?.unwrap().as_bytes()?, b"xitdb");
//! # Ok::<(), Error>(())
//! ```
//!
//! ## Layers
//!
//! Data flows one way: the public API ([`Database`], [`Transaction`],
//! cursors and views) → the structures (`tree`: HAMT, radix list, RRB list,
//! sharing one copy-on-write rule) → the byte format ([`format`](mod@format)) → the
//! storage backends ([`storage`]).

#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// `Error` has drop glue (it can hold an `io::Error`), so building one
// eagerly for `ok_or` costs a drop call on the success path; the profile of
// the map insert loop showed it. Errors are built lazily everywhere.
#![allow(clippy::unnecessary_lazy_evaluations)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod bytes_io;
pub mod compact;
mod cursor;
mod db;
pub mod diff;
mod error;
pub mod format;
mod hash;
pub mod json;
mod list;
mod map;
mod snapshot;
pub mod storage;
mod tree;
mod value;
pub mod verify;
mod write;

pub use bytes_io::{BytesReader, BytesWriter};
pub use compact::{CompactReport, Keep, Progress};
pub use cursor::{Cursor, ValueRef};
pub use db::{Database, Durability, Options, Transaction};
pub use diff::{Change, ChangeKind, Diff, PathElem};
pub use error::{Error, Result};
pub use format::{Slot, Tag};
pub use hash::{HashKind, Hasher, KeyHash};
pub use json::{dump_json, load_json};
pub use list::{Items, LinkedListMut, LinkedListView, ListMut, ListView};
pub use map::{Entries, EntryMut, EntryRef, MapMut, MapView, SetMut, SetView};
pub use snapshot::Snapshot;
pub use tree::bytes::FormatTag;
pub use value::{PathStep, Value};
pub use verify::verify;
pub use write::WriteCursor;
