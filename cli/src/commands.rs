//! The subcommands, each writing its output to `out`.

use crate::edit::{self, Op};
use crate::error::{CliError, Result};
use crate::open::{self, Db};
use crate::path::{self, Step};
use crate::value::{self, kind_name};
use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use xitdb::diff::ChangeKind;
use xitdb::format::Tag;
use xitdb::stats::HistoryStats;
use xitdb::Database;

/// `info FILE`.
pub fn info(file: &Path, out: &mut dyn Write) -> Result<()> {
    let db = open::open_read(file)?;
    let h = db.header();
    let len = db.len();
    let committed = db.committed_len()?;
    writeln!(out, "file       {}", file.display())?;
    writeln!(out, "size       {len} bytes")?;
    if committed != len {
        writeln!(
            out,
            "committed  {committed} bytes ({} bytes past it are left from an unfinished transaction; a writable open discards them)",
            len.saturating_sub(committed)
        )?;
    }
    writeln!(out, "format     xitdb version {}", h.version)?;
    let hasher = db.hasher();
    let known = if hasher.kind().is_some() {
        ""
    } else {
        " (unknown algorithm: look keys up by hash, #hex)"
    };
    writeln!(
        out,
        "hasher     {}, {}-byte hashes{known}",
        open::hash_id_text(h.hash_id),
        h.hash_size
    )?;
    match h.tag {
        Tag::None => {
            writeln!(out, "root       none (an empty database)")?;
            writeln!(out, "moments    0")?;
        }
        Tag::ArrayList => {
            writeln!(out, "root       array_list (the history of moments)")?;
            writeln!(out, "moments    {}", db.moment_count()?)?;
        }
        t => {
            let n = value::size(&db.root())?.unwrap_or(0);
            writeln!(out, "root       {t} (no history of moments)")?;
            writeln!(out, "entries    {n}")?;
        }
    }
    writeln!(out, "lists      {}", family_text(&db))?;
    Ok(())
}

/// The file's linked-list family, and how it is known.
fn family_text(db: &Db) -> String {
    let given = open::options().list_family.is_some();
    match db.detect_list_family() {
        Ok(Some(f)) if given => format!("{} (as --list-family says)", f.name()),
        Ok(Some(f)) => format!("{} (inferred from what the file holds)", f.name()),
        Ok(None) => "no linked list or sorted collection tells (new lists: btree)".into(),
        Err(e) => format!("unknown: {e}"),
    }
}

/// How `log` counts bytes, for its help.
pub const LOG_HELP: &str = "\
BYTES is how much the moment's transaction appended to the file, found
from where its blocks lie. A transaction writes the moment's root block
first and everything it changed after it, so its bytes run from its root
block to the next moment's (the newest moment: to the committed end of
the file). A moment written by `compact` has its root block last instead
(the log tells the two apart from where the moment's changed values lie),
and its bytes run from the previous moment's root block to its own.
Bytes of the history list itself (a 144-byte block every 16 moments) and
of failed or cut-off transactions count with the moment they follow; the
headers before the first moment (and history blocks after the last one,
in a compacted file) are shown on the last line, so that everything adds
up to the committed size. A moment that reuses an older root (an undo, or
a transaction that changed nothing) or whose root is not a block (null or
a scalar) shows 0, its few bytes counted with the moment before it.";

/// What `log` shows: each moment's statistics (from the library) and the
/// size of its root (entries, members or items, for a structure).
pub struct Log {
    /// The moments' roots and bytes, and the bytes outside every moment.
    pub stats: HistoryStats,
    /// The size of each moment's root, in the order of `stats.moments`.
    pub sizes: Vec<Option<u64>>,
}

/// Reads what `log` shows (see [`LOG_HELP`]).
pub fn read_log(db: &Db) -> Result<Log> {
    open::need_history(db, "log")?;
    let stats = db.history_stats()?;
    // moments that share a root share its size
    let mut known: HashMap<u64, Option<u64>> = HashMap::new();
    let mut sizes = Vec::with_capacity(stats.moments.len());
    for m in &stats.moments {
        let size = match m.root_pos.and_then(|p| known.get(&p)) {
            Some(s) => *s,
            None => {
                let index =
                    i64::try_from(m.index).map_err(|_| CliError::new("history too long"))?;
                let s = value::size(&db.moment(index)?)?;
                if let Some(p) = m.root_pos {
                    known.insert(p, s);
                }
                s
            }
        };
        sizes.push(size);
    }
    Ok(Log { stats, sizes })
}

/// `log FILE`.
pub fn log(file: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let db = open::open_read(file)?;
    let log = read_log(&db)?;
    if json {
        for (m, size) in log.stats.moments.iter().zip(&log.sizes) {
            writeln!(
                out,
                "{{\"moment\":{},\"bytes\":{},\"root\":\"{}\",\"size\":{},\"same_root_as\":{}}}",
                m.index,
                m.bytes,
                m.root_tag.name(),
                size.map_or("null".into(), |n| n.to_string()),
                m.same_root_as.map_or("null".into(), |n| n.to_string()),
            )?;
        }
        return Ok(());
    }
    write_log(&log, out)
}

/// The human form of `log`, also used by the shell.
pub fn write_log(log: &Log, out: &mut dyn Write) -> Result<()> {
    let moments = &log.stats.moments;
    let width = moments
        .iter()
        .map(|m| m.bytes)
        .max()
        .unwrap_or(0)
        .to_string()
        .len()
        .max(5);
    let iw = moments.len().saturating_sub(1).to_string().len().max(6);
    writeln!(out, "{:>iw$}  {:>width$}  root", "moment", "bytes")?;
    for (m, size) in moments.iter().zip(&log.sizes) {
        let mut root = kind_name(m.root_tag).to_string();
        if let Some(n) = size {
            root = format!("{root}, {}", value::size_text(m.root_tag, *n));
        }
        if let Some(k) = m.same_root_as {
            root = format!("{root} (the root of moment {k})");
        }
        writeln!(out, "{:>iw$}  {:>width$}  {root}", m.index, m.bytes)?;
    }
    let total: u64 = moments.iter().map(|m| m.bytes).sum();
    writeln!(
        out,
        "{} moments: {total} bytes, plus {} bytes of headers; {} bytes committed",
        moments.len(),
        log.stats.other_bytes,
        log.stats.committed_len
    )?;
    Ok(())
}

/// `dump FILE [--moment N] [--path P] [--pretty]`.
pub fn dump(
    file: &Path,
    moment: Option<i64>,
    path: Option<&str>,
    pretty: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let steps = match path {
        Some(p) => Some(path::parse(p).map_err(CliError::new)?),
        None => None,
    };
    let db = open::open_read(file)?;
    let text = if moment.is_none() && steps.is_none() {
        xitdb::json::dump_json(&db)?
    } else {
        let root = open::view(&db, moment)?;
        let c = edit::lookup(root, steps.as_deref().unwrap_or(&[]))?;
        let mut s = xitdb::json::dump_value(&c)?;
        s.push('\n');
        s
    };
    if pretty {
        writeln!(out, "{}", value::pretty(&text))?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

/// A temporary file beside `target`, for writing it in full before
/// renaming it into place.
fn temp_beside(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    target.with_file_name(format!(".{name}.xitdb-tmp-{}", std::process::id()))
}

fn refuse_existing(out_path: &Path, force: bool) -> Result<()> {
    if out_path.exists() && !force {
        return Err(CliError::new("already exists (pass --force to replace it)").in_file(out_path));
    }
    if out_path.is_dir() {
        return Err(CliError::new("is a directory").in_file(out_path));
    }
    Ok(())
}

/// Moves a finished temporary file into place (removing it on failure).
fn finish_temp(tmp: &Path, target: &Path) -> Result<()> {
    std::fs::rename(tmp, target).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        CliError::from(e).in_file(target)
    })
}

/// `load JSON OUT [--force]`.
pub fn load(json_path: &Path, out_path: &Path, force: bool, out: &mut dyn Write) -> Result<()> {
    refuse_existing(out_path, force)?;
    let mut json = String::new();
    if json_path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut json)
            .map_err(|e| CliError::from(e).context("standard input"))?;
    } else {
        json =
            std::fs::read_to_string(json_path).map_err(|e| CliError::from(e).in_file(json_path))?;
    }
    let db = xitdb::json::load_json(&json, xitdb::storage::MemoryStorage::new())
        .map_err(|e| CliError::from(e).in_file(json_path))?;
    let moments = if matches!(db.header().tag, Tag::ArrayList | Tag::None) {
        Some(db.moment_count()?)
    } else {
        None
    };
    let bytes = db.into_bytes();
    let tmp = temp_beside(out_path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::from(e).in_file(out_path));
    }
    finish_temp(&tmp, out_path)?;
    match moments {
        Some(m) => writeln!(
            out,
            "loaded {m} moments into {} ({} bytes)",
            out_path.display(),
            bytes.len()
        )?,
        None => writeln!(out, "loaded {} ({} bytes)", out_path.display(), bytes.len())?,
    }
    Ok(())
}

/// How `get` prints: plain JSON (the default), canonical, raw bytes;
/// indented or not.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetForm {
    /// Indent structures.
    pub pretty: bool,
    /// Raw bytes of a bytes value.
    pub raw: bool,
    /// The canonical form instead of plain JSON.
    pub canonical: bool,
}

/// `get FILE PATH [--moment N] [--pretty] [--raw] [--canonical]`.
pub fn get(
    file: &Path,
    path: &str,
    moment: Option<i64>,
    form: GetForm,
    out: &mut dyn Write,
) -> Result<()> {
    let steps = path::parse(path).map_err(CliError::new)?;
    let db = open::open_read(file)?;
    let c = edit::lookup(open::view(&db, moment)?, &steps)?;
    if form.raw {
        return match c.tag() {
            Tag::Bytes | Tag::ShortBytes => {
                let mut r = c.reader()?;
                std::io::copy(&mut r, out)?;
                Ok(())
            }
            t => Err(CliError::new(format!(
                "--raw prints bytes, but {} is {}",
                path::display(&steps),
                value::a_kind(t)
            ))),
        };
    }
    let text = if form.canonical {
        value::full(&c)?
    } else {
        value::plain(&c)?
    };
    if form.pretty {
        writeln!(out, "{}", value::pretty(&text))?;
    } else {
        writeln!(out, "{text}")?;
    }
    Ok(())
}

/// `range FILE PATH [--moment N] [options]`.
pub fn range(
    file: &Path,
    path: &str,
    moment: Option<i64>,
    opts: &crate::range::RangeOpts,
    out: &mut dyn Write,
) -> Result<()> {
    let steps = path::parse(path).map_err(CliError::new)?;
    let db = open::open_read(file)?;
    let c = edit::lookup(open::view(&db, moment)?, &steps)?;
    crate::range::write_range(&c, &steps, opts, out)
}

/// `put FILE PATH VALUE` and `remove FILE PATH`: one transaction, once
/// the writer lock is held (waiting up to `wait` for it).
pub fn change(file: &Path, op: Op, wait: Option<std::time::Duration>) -> Result<()> {
    let create = matches!(op, Op::Put(..));
    let existed = file.exists();
    let mut db = open::open_write(file, create, wait)?;
    let r = open::transact(&mut db, |tx| edit::apply(tx, &op));
    if r.is_err() && !existed {
        // a put that failed on a new file leaves no empty database behind
        drop(db);
        let _ = std::fs::remove_file(file);
    }
    r
}

/// `diff FILE A B [--json]`.
pub fn diff(file: &Path, a: i64, b: i64, json: bool, out: &mut dyn Write) -> Result<()> {
    let db = open::open_read(file)?;
    write_diff(&db, a, b, json, out)
}

/// The changes from moment `a` to moment `b`, one per line.
pub fn write_diff(db: &Db, a: i64, b: i64, json: bool, out: &mut dyn Write) -> Result<()> {
    open::need_history(db, "diff")?;
    for change in db.diff(a, b)? {
        let ch = change?;
        let steps: Vec<Step> = ch.path.into_iter().map(Step::At).collect();
        let at = path::display(&steps);
        if json {
            let kind = match ch.kind {
                ChangeKind::Added => "added",
                ChangeKind::Removed => "removed",
                ChangeKind::Changed => "changed",
            };
            let mut line = format!(
                "{{\"kind\":\"{kind}\",\"path\":{},\"steps\":{}",
                path::json_string(&at),
                path::to_json(&steps)
            );
            if let Some(old) = &ch.old {
                line.push_str(",\"old\":");
                line.push_str(&xitdb::json::dump_value(old)?);
            }
            if let Some(new) = &ch.new {
                line.push_str(",\"new\":");
                line.push_str(&xitdb::json::dump_value(new)?);
            }
            line.push('}');
            writeln!(out, "{line}")?;
        } else {
            let show = |c: &Option<xitdb::Cursor<'_>>| -> Result<String> {
                match c {
                    Some(c) => Ok(value::short(c)?),
                    None => Ok("(none)".into()),
                }
            };
            match ch.kind {
                ChangeKind::Added => writeln!(out, "+ {at} {}", show(&ch.new)?)?,
                ChangeKind::Removed => writeln!(out, "- {at} {}", show(&ch.old)?)?,
                ChangeKind::Changed => {
                    writeln!(out, "~ {at} {} -> {}", show(&ch.old)?, show(&ch.new)?)?
                }
            }
        }
    }
    Ok(())
}

/// `verify FILE`: the report on `out`; an error when a problem was found.
pub fn verify(file: &Path, out: &mut dyn Write) -> Result<()> {
    let db = open::open_read(file)?;
    let r = db.verify().map_err(|e| CliError::from(e).in_file(file))?;
    let s = r.stats;
    let status = if r.problem.is_some() { "PROBLEM" } else { "ok" };
    writeln!(out, "{}: {status}", file.display())?;
    writeln!(out, "moments    {}", r.moments)?;
    writeln!(out, "committed  {} bytes", r.committed_len)?;
    writeln!(out, "lists      {}", family_text(&db))?;
    writeln!(
        out,
        "checked    {} map blocks, {} list blocks, {} linked-list blocks ({} bytes),",
        s.map_blocks, s.list_blocks, s.linked_blocks, s.block_bytes
    )?;
    writeln!(
        out,
        "           {} key/value records, {} headers, {} values, {} long byte strings",
        s.kv_records, s.headers, s.values, s.byte_strings
    )?;
    writeln!(out, "warnings   {}", r.warning_count)?;
    const SHOWN: usize = 20;
    for w in r.warnings.iter().take(SHOWN) {
        writeln!(out, "  warning: {w}")?;
    }
    if r.warning_count > SHOWN as u64 {
        writeln!(out, "  ... and {} more", r.warning_count - SHOWN as u64)?;
    }
    match r.problem {
        None => Ok(()),
        Some(p) => {
            writeln!(out, "problem    {p}")?;
            Err(CliError::new(format!("verification failed: {p}")).in_file(file))
        }
    }
}

/// True when `a` and `b` name the same file (b may not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    let Ok(ca) = a.canonicalize() else {
        return false;
    };
    if let Ok(cb) = b.canonicalize() {
        return ca == cb;
    }
    let parent = match b.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (parent.canonicalize(), b.file_name()) {
        (Ok(p), Some(n)) => p.join(n) == ca,
        _ => false,
    }
}

/// `compact FILE OUT [--keep-last N] [--force]`.
pub fn compact(
    file: &Path,
    out_path: &Path,
    keep_last: Option<u64>,
    force: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if same_file(file, out_path) {
        return Err(CliError::new(
            "OUT is the same file as FILE: compact into a new file, then move it into place",
        )
        .in_file(out_path));
    }
    refuse_existing(out_path, force)?;
    let src = open::open_read(file)?;
    // the copy takes the source's hash id and size whatever the options say
    let hash = src.hasher().kind().unwrap_or_default();
    let keep = match keep_last {
        Some(n) => xitdb::compact::Keep::Last(n),
        None => xitdb::compact::Keep::All,
    };
    let tmp = temp_beside(out_path);
    let opts = xitdb::Options {
        hash,
        durability: xitdb::Durability::None,
        ..Default::default()
    };
    let run = || -> Result<xitdb::compact::CompactReport> {
        let mut dst = Database::create_with(&tmp, opts)?;
        let tty = std::io::stderr().is_terminal();
        let start = Instant::now();
        let mut bar: Option<indicatif::ProgressBar> = None;
        let mut progress = |p: xitdb::compact::Progress| {
            if bar.is_none() && tty && start.elapsed() > Duration::from_millis(300) {
                let b = indicatif::ProgressBar::with_draw_target(
                    Some(p.moments_total),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{spinner} compacting [{bar:30}] {pos}/{len} moments, {msg} ({elapsed})",
                ) {
                    b.set_style(style.progress_chars("=> "));
                }
                bar = Some(b);
            }
            if let Some(b) = &bar {
                b.set_length(p.moments_total);
                b.set_position(p.moments_done);
                b.set_message(format!("{} bytes", p.bytes_written));
            }
        };
        let report = src.compact_into(&mut dst, keep, &mut progress);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let report = report?;
        let mut storage = dst.into_storage();
        xitdb::storage::Storage::sync(&mut storage)?;
        Ok(report)
    };
    let report = match run() {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.in_file(file));
        }
    };
    finish_temp(&tmp, out_path)?;
    let after = std::fs::metadata(out_path).map_or(report.bytes_after, |m| m.len());
    let before = report.bytes_before;
    writeln!(
        out,
        "compacted {} -> {}",
        file.display(),
        out_path.display()
    )?;
    if open::has_history(&src) {
        writeln!(
            out,
            "moments    {} -> {}",
            report.moments_before, report.moments_kept
        )?;
    } else {
        writeln!(
            out,
            "root       {} (no history of moments)",
            src.header().tag
        )?;
    }
    let change = if before > 0 {
        let pct = 100.0 * (before as f64 - after as f64) / before as f64;
        if pct >= 0.0 {
            format!(" ({pct:.1}% smaller)")
        } else {
            format!(" ({:.1}% larger)", -pct)
        }
    } else {
        String::new()
    };
    writeln!(out, "size       {before} -> {after} bytes{change}")?;
    Ok(())
}

/// Parses a PATH argument.
pub fn parse_path(text: &str) -> Result<Vec<Step>> {
    path::parse(text).map_err(CliError::new)
}
