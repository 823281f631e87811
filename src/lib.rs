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
//! ## Handles
//!
//! * [`Database`] opens storage and keeps the history of moments;
//!   [`Options`] and [`Durability`] say how it hashes keys and syncs.
//! * [`Transaction`] builds the next moment inside [`Database::transact`];
//!   [`Snapshot`] hands a moment to other threads.
//! * Reading: [`Cursor`] (one slot, typed reads, [`Cursor::get_path`]),
//!   [`ValueRef`], the views [`MapView`], [`SetView`], [`ListView`],
//!   [`LinkedListView`], their iterators [`Entries`] and [`Items`], and
//!   [`BytesReader`] for large byte values.
//! * Writing: [`CursorMut`] (one writable slot, [`CursorMut::at_path`]),
//!   the handles [`MapMut`], [`SetMut`], [`ListMut`], [`LinkedListMut`],
//!   [`EntryMut`], and [`BytesWriter`]; values to write are [`Value`]s,
//!   paths are [`PathStep`]s ([`PathStepBuf`] when owned).
//! * Where the bytes live: [`storage`] (memory, borrowed slice, file); what
//!   they mean: [`format`](mod@format).
//!
//! ## Tools
//!
//! Whole-database tools live in their own modules and add conveniences to
//! [`Database`]: [`diff`] (`db.diff(a, b)`), [`compact`]
//! (`db.compact_into(..)`), [`verify`](mod@verify) (`db.verify()`) and
//! [`json`] (the canonical dump and load).
//!
//! Compaction writes the moments you keep into a new database, sharing
//! what they share and leaving everything else behind:
//!
//! ```
//! use xitdb::compact::Keep;
//! use xitdb::{Database, Error};
//!
//! let mut db = Database::memory();
//! for i in 0..100u64 {
//!     db.transact(|tx| tx.root_map()?.put("counter", i))?;
//! }
//! let mut small = Database::memory(); // or Database::create("small.xdb")?
//! let report = db.compact_into(&mut small, Keep::Last(2), &mut |_progress| {})?;
//! assert_eq!((report.moments_before, report.moments_kept), (100, 2));
//! assert!(report.bytes_after < report.bytes_before);
//!
//! let first_kept = small.moment(0)?.as_map()?;
//! assert_eq!(first_kept.get(b"counter")?.unwrap().as_uint()?, 98);
//! assert!(small.verify()?.is_ok());
//! # Ok::<(), Error>(())
//! ```
//!
//! The JSON dump renders a whole database (header, every moment) as
//! canonical JSON, and loading it builds a database that dumps to the same
//! text:
//!
//! ```
//! use xitdb::json::{dump_json, load_json};
//! use xitdb::storage::MemoryStorage;
//! use xitdb::{Database, Error};
//!
//! let mut db = Database::memory();
//! db.transact(|tx| -> Result<(), Error> {
//!     let mut root = tx.root_map()?;
//!     root.put("name", "xitdb")?;
//!     root.entry("langs")?.array_list()?.append("rust")?;
//!     Ok(())
//! })?;
//! let text = dump_json(&db)?;
//! assert!(text.starts_with(r#"{"header":{"hash_id":"blk3","hash_size":32"#));
//!
//! let copy = load_json(&text, MemoryStorage::new())?;
//! assert_eq!(dump_json(&copy)?, text);
//! let langs = copy.moment(-1)?.as_map()?.get(b"langs")?.unwrap();
//! assert_eq!(langs.as_list()?.get(0)?.unwrap().as_str()?, "rust");
//! # Ok::<(), Error>(())
//! ```
//!
//! ## Layers
//!
//! The crate is six layers, top-down: the tools ([`diff`], [`compact`],
//! [`verify`](mod@verify), [`json`]) → the public API ([`Database`],
//! [`Transaction`], cursors, views and handles) → the structures (`tree`:
//! HAMT, radix list, RRB list, sharing one copy-on-write rule) → the
//! storage backends ([`storage`]) → the byte format ([`format`](mod@format))
//! → the one error type ([`Error`]). Imports only go down, and
//! `tests/layers.rs` fails on one that goes up. `ARCHITECTURE.md`, at the
//! root of the repository, draws the layers, says what each may import,
//! follows a read, a commit and a time-travel read through them, and says
//! where the coming features will live.

#![deny(missing_docs)]
// `Error` has drop glue (it can hold an `io::Error`), so building one
// eagerly for `ok_or` costs a drop call on the success path; the profile of
// the map insert loop showed it. Errors are built lazily everywhere.
#![allow(clippy::unnecessary_lazy_evaluations)]
// The workspace lints (Cargo.toml) deny unwrap/expect/panic and flag
// indexing; unit tests assert with them.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod api;
mod error;
pub mod format;
pub mod storage;
mod tools;
mod tree;

pub use api::bytes_io::{BytesReader, BytesWriter};
pub use api::children::{Child, Children};
pub use api::cursor::{Cursor, ValueRef};
pub use api::cursor_mut::CursorMut;
pub use api::database::{Database, Durability, Options, Transaction};
pub use api::list::{Items, LinkedListMut, LinkedListView, ListMut, ListView};
pub use api::map::{Entries, EntryMut, EntryRef, MapMut, MapView, SetMut, SetView};
pub use api::snapshot::Snapshot;
pub use api::sorted::{
    SortedEntries, SortedEntry, SortedMapMut, SortedMapView, SortedSetMut, SortedSetView,
};
pub use api::stream::{CommitFeed, CommitStream, Replica, Subscription, DEFAULT_RETAIN};
#[cfg(feature = "serde")]
pub use api::typed;
pub use api::value::{PathStep, PathStepBuf, Value};
pub use error::{Error, Result};
pub use format::ListFamily;
pub use tools::{compact, diff, json, stats, verify};
