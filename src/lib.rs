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

mod api;
mod error;
pub mod format;
pub mod storage;
mod tools;
mod tree;

pub use api::bytes_io::{BytesReader, BytesWriter};
pub use api::cursor::{Cursor, ValueRef};
pub use api::cursor_mut::CursorMut;
pub use api::database::{Database, Durability, Options, Transaction};
pub use api::list::{Items, LinkedListMut, LinkedListView, ListMut, ListView};
pub use api::map::{Entries, EntryMut, EntryRef, MapMut, MapView, SetMut, SetView};
pub use api::snapshot::Snapshot;
pub use api::value::{PathStep, PathStepBuf, Value};
pub use error::{Error, Result};
pub use tools::{compact, diff, json, stats, verify};
