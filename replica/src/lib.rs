//! Replication for xitdb through object storage: ship a history
//! database's commit stream to S3, GCS, Azure, a local directory or memory
//! ([`replicate`]), rebuild the file from it ([`restore`]) and keep a read
//! replica up to date ([`follow`]).
//!
//! ## Why a separate crate
//!
//! Object storage needs an HTTP client and an async runtime (`tokio`,
//! `object_store`). Users of the embedded database who do not replicate
//! should not compile them, so they live here; the core crate only knows
//! the commit stream ([`xitdb::CommitStream`], [`xitdb::Replica`]) and the
//! record codec ([`xitdb::format::CommitRecord`]).
//!
//! ## What the store holds
//!
//! Under the URL's prefix:
//!
//! * `segments/<first>-<last>-<token>.xseg`: one or more encoded commit
//!   records, back to back (FORMAT.md §11). Written once, never changed.
//! * `manifest/<generation>.json`: the chain as the store knows it: the
//!   head (sequence number, size, hash) and every segment in order, each
//!   with its BLAKE3. A new generation is written with a conditional PUT
//!   that fails if that generation exists, so two replicators on one
//!   prefix cannot both advance it: the second gets
//!   [`ReplicaError::Conflict`]. Older generations are deleted once a newer
//!   one is written.
//!
//! A replicator killed at any instant leaves either the old manifest or
//! the new one; a segment written without its manifest is never read, so
//! a restore always yields a committed state.

mod remote;
#[doc(hidden)]
pub mod testing;

pub use remote::Remote;

use object_store::path::Path;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use xitdb::format::{hex, parse_chain_hash, ChainHead, CommitRecord};
use xitdb::storage::{FileStorage, MemoryStorage};
use xitdb::{CommitStream, Database, Replica};

/// What can go wrong while replicating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The database or the records (a bad hash, a gap, a fork, ...).
    #[error(transparent)]
    Xitdb(#[from] xitdb::Error),
    /// The object store failed (after retries, where retrying made sense).
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// A URL that names no supported store.
    #[error("unsupported URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Another replicator advanced the manifest, or the store holds
    /// another database's chain.
    #[error("conflict on {object}: {reason}")]
    Conflict {
        /// The object that could not be written or does not match.
        object: String,
        /// What happened.
        reason: String,
    },
    /// An object the manifest names is missing.
    #[error("object {object} is missing from the store")]
    Missing {
        /// Its path in the store.
        object: String,
    },
    /// An object's bytes are damaged (its hash, or what it decodes to).
    #[error("object {object} is damaged: {reason}")]
    Damaged {
        /// Its path in the store.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// The store holds nothing to restore.
    #[error("the store holds no manifest: nothing was replicated there")]
    Empty,
    /// A local file could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = ReplicaError> = std::result::Result<T, E>;

/// One segment object as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Its path under the prefix.
    pub name: String,
    /// Sequence number of its first record.
    pub first_seq: u64,
    /// Sequence number of its last record.
    pub last_seq: u64,
    /// The database size after its last record.
    pub file_size: u64,
    /// The number of moments after its last record.
    pub moments: u64,
    /// Length of the object.
    pub bytes: u64,
    /// BLAKE3 of the object, hex.
    pub blake3: String,
}

/// The chain as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of this document (1).
    pub version: u32,
    /// Generation: the number in the manifest object's name.
    pub generation: u64,
    /// Who wrote it (host and process), for the humans reading a conflict.
    pub writer: String,
    /// Sequence number of the last record stored.
    pub seq: u64,
    /// The database size after it.
    pub file_size: u64,
    /// Its hash, hex.
    pub hash: String,
    /// The number of moments after it.
    pub moments: u64,
    /// Every segment, in chain order.
    pub segments: Vec<SegmentEntry>,
}

/// Longest manifest accepted from the store (it lists every segment).
const MAX_MANIFEST: usize = 256 << 20;
/// Longest segment accepted from the store.
const MAX_SEGMENT: u64 = 4 << 30;

impl Manifest {
    fn empty(writer: String) -> Self {
        Manifest {
            version: 1,
            generation: 0,
            writer,
            seq: 0,
            file_size: 0,
            hash: hex(&ChainHead::GENESIS.hash),
            moments: 0,
            segments: Vec::new(),
        }
    }

    /// The chain head the manifest records.
    pub fn head(&self) -> Result<ChainHead> {
        Ok(ChainHead {
            seq: self.seq,
            file_size: self.file_size,
            hash: parse_chain_hash(&self.hash)?,
        })
    }
}

fn manifest_path(generation: u64) -> Path {
    Path::from(format!("manifest/{generation:020}.json"))
}

/// The latest manifest in the store, if any.
pub fn latest_manifest(remote: &Remote) -> Result<Option<Manifest>> {
    let names = remote.list("manifest/")?;
    let Some(last) = names.iter().filter(|n| n.ends_with(".json")).max() else {
        return Ok(None);
    };
    let bytes = remote.get(&Path::from(last.as_str()), MAX_MANIFEST as u64)?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| ReplicaError::Damaged {
        object: last.clone(),
        reason: e.to_string(),
    })?;
    Ok(Some(manifest))
}

/// Reads a segment and checks it against its manifest entry.
fn fetch_segment(remote: &Remote, entry: &SegmentEntry) -> Result<Vec<CommitRecord>> {
    let bytes = remote.get(&Path::from(entry.name.as_str()), MAX_SEGMENT)?;
    let damaged = |reason: String| ReplicaError::Damaged {
        object: entry.name.clone(),
        reason,
    };
    if hex(blake3::hash(&bytes).as_bytes()) != entry.blake3 {
        return Err(damaged("its BLAKE3 differs from the manifest's".into()));
    }
    let recs = CommitRecord::decode_all(&bytes).map_err(|e| damaged(e.to_string()))?;
    match (recs.first(), recs.last()) {
        (Some(f), Some(l)) if f.seq == entry.first_seq && l.seq == entry.last_seq => Ok(recs),
        _ => Err(damaged(
            "its records are not the ones the manifest lists".into(),
        )),
    }
}

/// How a replicator ships.
#[derive(Debug, Clone)]
pub struct ReplicateOptions {
    /// Ship what is there and return, instead of running until `stop`.
    pub once: bool,
    /// How often to look for new commits.
    pub interval: Duration,
    /// Most records per segment.
    pub max_records: usize,
    /// Most bytes per segment (a single larger record gets a segment of
    /// its own).
    pub max_bytes: usize,
}

impl Default for ReplicateOptions {
    fn default() -> Self {
        ReplicateOptions {
            once: false,
            interval: Duration::from_millis(200),
            max_records: 1000,
            max_bytes: 64 << 20,
        }
    }
}

/// What a replicator did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShipReport {
    /// Records shipped.
    pub records: u64,
    /// Segments written.
    pub segments: u64,
    /// Bytes uploaded in segments.
    pub bytes: u64,
    /// Where the store's chain stands.
    pub seq: u64,
    /// The database size shipped.
    pub file_size: u64,
}

fn writer_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}:{}", std::process::id())
}

/// Rebuilds the chain the store holds, in memory, to resume from it.
fn rebuild(remote: &Remote, manifest: &Manifest) -> Result<Replica<MemoryStorage>> {
    let mut replica = Replica::new(MemoryStorage::new())?;
    for entry in &manifest.segments {
        for rec in fetch_segment(remote, entry)? {
            replica.apply(&rec)?;
        }
    }
    if replica.head() != manifest.head()? {
        return Err(ReplicaError::Damaged {
            object: manifest_path(manifest.generation).to_string(),
            reason: "its head is not where its segments lead".into(),
        });
    }
    Ok(replica)
}

/// Ships `path`'s commits to `remote` until `stop` returns true (or once,
/// with [`ReplicateOptions::once`]). Resumes from what the store holds:
/// the store's chain must be this database's ([`ReplicaError::Conflict`]
/// otherwise). The database is read through a read-only handle, so its
/// writer keeps running. `progress` sees each report after a segment.
pub fn replicate(
    remote: &Remote,
    path: &std::path::Path,
    opts: &ReplicateOptions,
    stop: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(&ShipReport),
) -> Result<ShipReport> {
    let mut db = Database::open_read_only(path)?;
    let (mut manifest, mut stream) = match latest_manifest(remote)? {
        None => (Manifest::empty(writer_name()), CommitStream::new()),
        Some(m) => {
            let replica = rebuild(remote, &m)?;
            let stream = CommitStream::resume(replica.storage(), replica.head(), 1)?;
            stream
                .check_continues(replica.storage(), &mut db)
                .map_err(|_| ReplicaError::Conflict {
                    object: manifest_path(m.generation).to_string(),
                    reason: "the store holds another database's chain (or this file was rewritten)"
                        .into(),
                })?;
            (m, stream)
        }
    };
    manifest.writer = writer_name();
    let mut report = ShipReport {
        seq: manifest.seq,
        file_size: manifest.file_size,
        ..ShipReport::default()
    };
    let mut pending: Vec<Arc<CommitRecord>> = Vec::new();
    loop {
        let mut size: usize = pending.iter().map(|r| r.encoded_len()).sum();
        while pending.len() < opts.max_records && size < opts.max_bytes {
            match stream.capture(&mut db)? {
                Some(rec) => {
                    size += rec.encoded_len();
                    pending.push(rec);
                }
                None => break,
            }
        }
        if !pending.is_empty() {
            ship(remote, &mut manifest, &pending, &mut report)?;
            pending.clear();
            progress(&report);
            continue;
        }
        if opts.once || stop() {
            return Ok(report);
        }
        std::thread::sleep(opts.interval);
    }
}

/// Uploads one segment and the manifest that lists it.
fn ship(
    remote: &Remote,
    manifest: &mut Manifest,
    recs: &[Arc<CommitRecord>],
    report: &mut ShipReport,
) -> Result<()> {
    let (Some(first), Some(last)) = (recs.first(), recs.last()) else {
        return Ok(());
    };
    let mut bytes = Vec::with_capacity(recs.iter().map(|r| r.encoded_len()).sum());
    for r in recs {
        bytes.extend_from_slice(&r.encode());
    }
    let digest = blake3::hash(&bytes);
    let token = hex(digest.as_bytes().get(..8).unwrap_or_default());
    let name = format!("segments/{:020}-{:020}-{token}.xseg", first.seq, last.seq);
    let len = bytes.len() as u64;
    match remote.put_new(&Path::from(name.as_str()), bytes) {
        // the same records, left by a replicator killed before its manifest
        Ok(()) | Err(ReplicaError::Conflict { .. }) => {}
        Err(e) => return Err(e),
    }
    let mut next = manifest.clone();
    next.generation += 1;
    next.seq = last.seq;
    next.file_size = last.new_size;
    next.hash = hex(&last.hash);
    next.moments = last.moments;
    next.segments.push(SegmentEntry {
        name,
        first_seq: first.seq,
        last_seq: last.seq,
        file_size: last.new_size,
        moments: last.moments,
        bytes: len,
        blake3: hex(digest.as_bytes()),
    });
    let doc = serde_json::to_vec_pretty(&next).map_err(|e| ReplicaError::Damaged {
        object: "manifest".into(),
        reason: e.to_string(),
    })?;
    remote.put_new(&manifest_path(next.generation), doc)?;
    // older generations are no longer needed (best effort)
    if next.generation > 1 {
        let _ = remote.delete(&manifest_path(next.generation - 1));
    }
    *manifest = next;
    report.records += recs.len() as u64;
    report.segments += 1;
    report.bytes += len;
    report.seq = last.seq;
    report.file_size = last.new_size;
    Ok(())
}

/// What a restore produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreReport {
    /// The chain head of the file written.
    pub head: ChainHead,
    /// Its number of moments.
    pub moments: u64,
    /// Records applied.
    pub records: u64,
    /// Bytes downloaded.
    pub bytes: u64,
}

/// Rebuilds the database the store holds into a new file at `out`,
/// checking every hash; with `moment = Some(n)`, stops at the last shipped
/// state that has at most `n + 1` moments (a replicator that batched
/// several commits into one record can only be cut between records).
/// The file is written beside `out` and renamed into place when complete.
pub fn restore(
    remote: &Remote,
    out: &std::path::Path,
    moment: Option<u64>,
) -> Result<RestoreReport> {
    let manifest = latest_manifest(remote)?.ok_or(ReplicaError::Empty)?;
    let tmp = out.with_extension("restoring");
    let io = |source| ReplicaError::Io {
        path: tmp.display().to_string(),
        source,
    };
    let _ = std::fs::remove_file(&tmp);
    let mut replica = Replica::new(FileStorage::create(&tmp)?)?;
    let mut report = RestoreReport {
        head: ChainHead::GENESIS,
        moments: 0,
        records: 0,
        bytes: 0,
    };
    'segments: for entry in &manifest.segments {
        if moment.is_some_and(|n| entry.first_seq > 1 && report.moments > n) {
            break;
        }
        for rec in fetch_segment(remote, entry)? {
            if moment.is_some_and(|n| rec.moments > n.saturating_add(1)) && report.records > 0 {
                break 'segments;
            }
            replica.apply(&rec)?;
            report.moments = rec.moments;
            report.records += 1;
        }
        report.bytes += entry.bytes;
    }
    report.head = replica.head();
    drop(replica);
    std::fs::rename(&tmp, out).map_err(io)?;
    Ok(report)
}

/// The follower's note of where its replica stands, beside the replica.
fn head_note(out: &std::path::Path) -> std::path::PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".head");
    std::path::PathBuf::from(name)
}

fn save_head(out: &std::path::Path, head: ChainHead) -> Result<()> {
    let note = head_note(out);
    let tmp = note.with_extension("head-new");
    let text = format!("{} {} {}\n", head.seq, head.file_size, hex(&head.hash));
    let io = |source| ReplicaError::Io {
        path: note.display().to_string(),
        source,
    };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &note).map_err(io)
}

fn load_head(out: &std::path::Path) -> Result<Option<ChainHead>> {
    let note = head_note(out);
    let text = match std::fs::read_to_string(&note) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ReplicaError::Io {
                path: note.display().to_string(),
                source,
            })
        }
    };
    let bad = || ReplicaError::Damaged {
        object: note.display().to_string(),
        reason: "expected: seq size hash".into(),
    };
    let mut words = text.split_whitespace();
    let seq = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let file_size = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let hash = parse_chain_hash(words.next().ok_or_else(bad)?)?;
    Ok(Some(ChainHead {
        seq,
        file_size,
        hash,
    }))
}

/// Keeps the replica file `out` up to date with the store: applies new
/// segments every `interval` until `stop` returns true. Its position is
/// kept in `out.head`; a follower killed at any instant resumes (an apply
/// it interrupted is finished). Readers open `out` read-only and see whole
/// commits only. `progress` sees the head after each segment.
pub fn follow(
    remote: &Remote,
    out: &std::path::Path,
    interval: Duration,
    stop: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(ChainHead),
) -> Result<ChainHead> {
    let mut replica = match load_head(out)? {
        None => {
            let _ = std::fs::remove_file(out);
            Replica::new(FileStorage::create(out)?)?
        }
        Some(head) => match Replica::resume(FileStorage::open(out)?, head) {
            Ok(r) => r,
            Err(xitdb::Error::RecordMismatch { .. }) => {
                // killed after an apply's commit point, before its note
                let next = find_record(remote, head.seq + 1)?;
                Replica::redo(FileStorage::open(out)?, head, &next)?
            }
            Err(e) => return Err(e.into()),
        },
    };
    loop {
        if let Some(m) = latest_manifest(remote)? {
            let at = replica.head().seq;
            for entry in m.segments.iter().filter(|e| e.last_seq > at) {
                for rec in fetch_segment(remote, entry)? {
                    if rec.seq > replica.head().seq {
                        replica.apply(&rec)?;
                    }
                }
                save_head(out, replica.head())?;
                progress(replica.head());
            }
        }
        if stop() {
            return Ok(replica.head());
        }
        std::thread::sleep(interval);
    }
}

fn find_record(remote: &Remote, seq: u64) -> Result<CommitRecord> {
    let m = latest_manifest(remote)?.ok_or(ReplicaError::Empty)?;
    let entry = m
        .segments
        .iter()
        .find(|e| e.first_seq <= seq && seq <= e.last_seq)
        .ok_or(ReplicaError::Missing {
            object: format!("record {seq}"),
        })?;
    fetch_segment(remote, entry)?
        .into_iter()
        .find(|r| r.seq == seq)
        .ok_or(ReplicaError::Missing {
            object: entry.name.clone(),
        })
}
