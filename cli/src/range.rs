//! `range`: the entries of a sorted map or set in key order, between
//! bounds or under a prefix.

use crate::edit;
use crate::error::{CliError, Result};
use crate::path::{self, hex, json_string, Step};
use crate::value;
use std::io::Write;
use std::ops::Bound;
use xitdb::format::Tag;
use xitdb::{Cursor, SortedEntries, SortedEntry};

/// How the keys of `--from`, `--to` and `--prefix` are written, for help texts.
pub const HELP: &str = "\
Prints the entries of the sorted_map (or the members of the sorted_set)
at PATH in key order (bytewise), one per line: the key as a path step
(text, quoted when needed, or [hex:...] when not UTF-8), then for a map
the value in its short form (structures as their kind and size).
--from KEY starts at KEY (inclusive), --to KEY stops before KEY
(exclusive), --prefix P keeps the keys starting with P (not with --from
or --to). --reverse goes from the last key down, --limit N stops after N
entries. A KEY is text; hex:00ff gives raw bytes. With --json, one object
per line: {\"key\":\"k\",\"value\":VALUE} (the key as {\"bytes\":hex} when
not UTF-8; the value in full canonical JSON; no \"value\" for a set).";

/// The bounds and options of a `range`.
#[derive(Debug, Default, Clone)]
pub struct RangeOpts {
    /// First key (inclusive).
    pub from: Option<String>,
    /// Key to stop before (exclusive).
    pub to: Option<String>,
    /// Keep only keys with this prefix.
    pub prefix: Option<String>,
    /// At most this many entries.
    pub limit: Option<u64>,
    /// From the last key down.
    pub reverse: bool,
    /// One JSON object per line.
    pub json: bool,
}

const USAGE: &str =
    "range [PATH] [--from KEY] [--to KEY] [--prefix P] [--limit N] [--reverse] [--json]";

impl RangeOpts {
    /// Parses the shell's words after `range`: the path (if any) and the options.
    pub fn parse_words(words: &[String]) -> Result<(Option<String>, RangeOpts)> {
        let mut o = RangeOpts::default();
        let mut path = None;
        let mut it = words.iter();
        while let Some(w) = it.next() {
            let mut val = |flag: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| CliError::new(format!("{flag} needs a value (usage: {USAGE})")))
            };
            match w.as_str() {
                "--from" => o.from = Some(val("--from")?),
                "--to" => o.to = Some(val("--to")?),
                "--prefix" => o.prefix = Some(val("--prefix")?),
                "--limit" => {
                    let n = val("--limit")?;
                    o.limit = Some(
                        n.parse()
                            .map_err(|_| CliError::new(format!("--limit {n:?} is not a count")))?,
                    );
                }
                "--reverse" => o.reverse = true,
                "--json" => o.json = true,
                f if f.starts_with("--") => {
                    return Err(CliError::new(format!(
                        "unknown option {f} (usage: {USAGE})"
                    )))
                }
                p if path.is_none() => path = Some(p.to_string()),
                _ => return Err(CliError::new(format!("usage: {USAGE}"))),
            }
        }
        if o.prefix.is_some() && (o.from.is_some() || o.to.is_some()) {
            return Err(CliError::new(
                "--prefix cannot be combined with --from or --to",
            ));
        }
        Ok((path, o))
    }
}

/// A KEY argument: text, or raw bytes after `hex:`.
fn key_bytes(text: &str) -> Result<Vec<u8>> {
    match text.strip_prefix("hex:") {
        Some(h) => path::unhex(h).map_err(|e| CliError::new(format!("key {e}"))),
        None => Ok(text.as_bytes().to_vec()),
    }
}

/// The entries `o` selects from the sorted map or set at `c` (`at` names it).
fn select<'r>(c: &Cursor<'r>, at: &[Step], o: &RangeOpts) -> Result<SortedEntries<'r>> {
    let tag = c.tag();
    if !edit::is_sorted(tag) {
        return Err(CliError::new(format!(
            "{} is {}, not a sorted_map or sorted_set",
            path::display(at),
            value::a_kind(tag)
        )));
    }
    let from = o.from.as_deref().map(key_bytes).transpose()?;
    let to = o.to.as_deref().map(key_bytes).transpose()?;
    // from after to: an empty range (the library may refuse reversed bounds)
    let to = match (&from, to) {
        (Some(f), Some(t)) if *f > t => Some(f.clone()),
        (_, t) => t,
    };
    let lo = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
    let hi = to.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let prefix = o.prefix.as_deref().map(key_bytes).transpose()?;
    Ok(match (tag, prefix) {
        (Tag::SortedMap, Some(p)) => c.as_sorted_map()?.prefix(p)?,
        (Tag::SortedMap, None) => c.as_sorted_map()?.range::<[u8], _>((lo, hi))?,
        (_, Some(p)) => c.as_sorted_set()?.prefix(p)?,
        (_, None) => c.as_sorted_set()?.range::<[u8], _>((lo, hi))?,
    })
}

/// Writes the entries `o` selects from the sorted map or set at `c`.
pub fn write_range(c: &Cursor<'_>, at: &[Step], o: &RangeOpts, out: &mut dyn Write) -> Result<()> {
    let entries = select(c, at, o)?;
    let is_map = c.tag() == Tag::SortedMap;
    let limit = o
        .limit
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let it: Box<dyn Iterator<Item = xitdb::Result<SortedEntry<'_>>>> = if o.reverse {
        Box::new(entries.rev())
    } else {
        Box::new(entries)
    };
    for e in it.take(limit) {
        let e = e?;
        let line = if o.json {
            json_line(&e, is_map)?
        } else {
            text_line(&e, is_map)?
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn text_line(e: &SortedEntry<'_>, is_map: bool) -> Result<String> {
    let name = path::step_text(&Step::key(e.key()?.into_owned()), true);
    if is_map {
        Ok(format!("{name}  {}", value::short(&e.value()?)?))
    } else {
        Ok(name)
    }
}

fn json_line(e: &SortedEntry<'_>, is_map: bool) -> Result<String> {
    let k = e.key()?;
    let key = match std::str::from_utf8(&k) {
        Ok(s) => json_string(s),
        Err(_) => format!("{{\"bytes\":\"{}\"}}", hex(&k)),
    };
    if is_map {
        let v = xitdb::json::dump_value(&e.value()?)?;
        Ok(format!("{{\"key\":{key},\"value\":{v}}}"))
    } else {
        Ok(format!("{{\"key\":{key}}}"))
    }
}
