//! The interactive shell.
//!
//! The shell keeps a read-only handle on the file and a current path.
//! `put` and `remove` are *staged*: each is checked at once and kept in a
//! list; reads (`ls`, `get`, `cd`) replay the staged changes in a
//! transaction that is then rolled back, so they show the state a commit
//! would make. `commit` applies the list in one transaction (one new
//! moment). The writer lock is held only while changes are staged.

use crate::commands;
use crate::edit::{self, Op};
use crate::error::{CliError, Result};
use crate::open::{self, Db};
use crate::path::{self, Step};
use crate::value::{self, kind_name};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use xitdb::format::{HashKind, Hasher, Tag};
use xitdb::{Cursor, ValueRef};

const HELP: &str = "\
Commands (PATH is relative to the current structure; /PATH starts at the
moment's root; .. goes up):
  ls [PATH]              list the entries, members or items
  cd [PATH | .. | /]     move into a map, set or list (no PATH: the root)
  pwd                    print the current path
  get [PATH] [--pretty] [--canonical]  print a value (plain JSON; --canonical: exact kinds)
  range [PATH] [--from KEY] [--to KEY] [--prefix P] [--limit N] [--reverse]
        [--json]         a sorted map's entries in key order (see `xitdb help range`)
  put PATH VALUE         stage writing VALUE (see below) at PATH
  remove PATH  (rm)      stage removing an entry, member or item
  status                 list the staged changes
  commit                 write the staged changes as one new moment
  discard                drop the staged changes
  log                    list the moments
  diff [A [B]] [--json]  changes from moment A to B (default: -2 to -1)
  info                   the file's header, hasher and size
  help                   this text
  quit  (exit, Ctrl-D)   leave (asks once if changes are staged)
Staged changes are seen by ls, get and cd at once; the file changes only
on commit. Values: 42, -3, 1.5, \"text\", null, {}, [], {\"int\":5}, ...
(`xitdb help put` has the full syntax of paths and values).";

const ROLLBACK: &str = "(rolled back)";

/// Runs the shell on `file`, interactively or reading standard input;
/// staging a change waits up to `wait` for another writer's lock.
pub fn run(file: &Path, wait: Option<Duration>) -> Result<()> {
    let mut sh = Shell::new(file, wait)?;
    let r = if std::io::stdin().is_terminal() {
        sh.interactive()
    } else {
        sh.script()
    };
    sh.leave();
    r
}

enum Flow {
    Continue,
    Quit,
}

struct Shell {
    file: PathBuf,
    /// Read-only handle (none while the file does not exist).
    reader: Option<Db>,
    /// Writable handle, held while changes are staged.
    writer: Option<Db>,
    /// Staged changes, with how the shell's `status` lists them.
    staged: Vec<(Op, String)>,
    cwd: Vec<Step>,
    /// The shell made the file (it did not exist): remove it if nothing is committed.
    created: bool,
    /// A quit was refused once because of staged changes.
    warned: bool,
    interactive: bool,
    /// How long staging waits for another writer's lock.
    wait: Option<Duration>,
}

impl Shell {
    fn new(file: &Path, wait: Option<Duration>) -> Result<Shell> {
        let reader = if file.exists() {
            Some(open::open_read(file)?)
        } else {
            None
        };
        Ok(Shell {
            file: file.to_path_buf(),
            reader,
            writer: None,
            staged: Vec::new(),
            cwd: Vec::new(),
            created: false,
            warned: false,
            interactive: false,
            wait,
        })
    }

    fn prompt(&self) -> String {
        let name = self.file.file_name().map_or_else(
            || self.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let star = if self.staged.is_empty() { "" } else { "*" };
        format!("{name}:{}{star}> ", cwd_text(&self.cwd))
    }

    fn interactive(&mut self) -> Result<()> {
        use rustyline::error::ReadlineError;
        self.interactive = true;
        let config = rustyline::Config::builder().auto_add_history(true).build();
        let mut rl = rustyline::DefaultEditor::with_config(config)
            .map_err(|e| CliError::new(format!("cannot start the line editor: {e}")))?;
        println!(
            "xitdb shell on {}{}; type help for commands",
            self.file.display(),
            if self.reader.is_none() {
                " (a new file, created on the first commit)"
            } else {
                ""
            }
        );
        loop {
            match rl.readline(&self.prompt()) {
                Ok(line) => match self.line(&line) {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Quit) => return Ok(()),
                    Err(e) => eprintln!("error: {e}"),
                },
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => {
                    if self.quit() {
                        return Ok(());
                    }
                }
                Err(e) => return Err(CliError::new(format!("reading a line: {e}"))),
            }
        }
    }

    fn script(&mut self) -> Result<()> {
        let stdin = std::io::stdin();
        let mut failed = 0usize;
        for (n, line) in stdin.lock().lines().enumerate() {
            let line = line.map_err(|e| CliError::from(e).context("standard input"))?;
            match self.line(&line) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => break,
                Err(e) if e.is_broken_pipe() => return Err(e),
                Err(e) => {
                    failed += 1;
                    let _ = std::io::stdout().flush();
                    eprintln!("xitdb: error: line {}: {e}", n + 1);
                }
            }
        }
        if !self.staged.is_empty() {
            eprintln!(
                "xitdb: warning: {} staged change{} not committed",
                self.staged.len(),
                if self.staged.len() == 1 {
                    " was"
                } else {
                    "s were"
                }
            );
        }
        match failed {
            0 => Ok(()),
            1 => Err(CliError::new("1 command failed")),
            n => Err(CliError::new(format!("{n} commands failed"))),
        }
    }

    /// Drops the staged changes and the writer (and a file the shell made
    /// but never committed to).
    fn leave(&mut self) {
        self.staged.clear();
        self.writer = None;
        if self.created && self.reader.is_none() {
            // a database with no moments, or a file left without even a header
            let empty = match xitdb::Database::open_read_only(&self.file) {
                Ok(db) => db.is_empty(),
                Err(_) => std::fs::metadata(&self.file).is_ok_and(|m| m.len() == 0),
            };
            if empty {
                let _ = std::fs::remove_file(&self.file);
            }
            self.created = false;
        }
    }

    /// True when the shell may end now.
    fn quit(&mut self) -> bool {
        if self.interactive && !self.staged.is_empty() && !self.warned {
            self.warned = true;
            eprintln!(
                "{} staged change(s) not committed: commit them, or quit again to discard them",
                self.staged.len()
            );
            return false;
        }
        true
    }

    fn line(&mut self, line: &str) -> Result<Flow> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(Flow::Continue);
        }
        let (cmd, rest) = match line.split_once(char::is_whitespace) {
            Some((c, r)) => (c, r.trim()),
            None => (line, ""),
        };
        if !matches!(cmd, "quit" | "exit" | "q") {
            self.warned = false;
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let flow = self.command(cmd, rest, &mut out);
        out.flush()?;
        flow
    }

    fn command(&mut self, cmd: &str, rest: &str, out: &mut dyn Write) -> Result<Flow> {
        let args = words(rest)?;
        let arg = |i: usize| args.get(i).map(String::as_str);
        match cmd {
            "help" | "?" => writeln!(out, "{HELP}")?,
            "quit" | "exit" | "q" => {
                if self.quit() {
                    return Ok(Flow::Quit);
                }
            }
            "pwd" => writeln!(out, "{}", cwd_text(&self.cwd))?,
            "cd" => self.cd(arg(0).unwrap_or("/"))?,
            "ls" => {
                let target = self.resolve(arg(0).unwrap_or(""))?;
                let text = self.read(|root, hasher| match root {
                    None if target.is_empty() => Ok("(no moments yet)\n".into()),
                    root => list(&edit::lookup(root, &target)?, hasher),
                })?;
                out.write_all(text.as_bytes())?;
            }
            "get" => self.get(&args, out)?,
            "range" => self.range(&args, out)?,
            "put" | "set" => {
                let (p, v) = split_path(rest)?;
                if v.is_empty() {
                    return Err(CliError::new("usage: put PATH VALUE"));
                }
                let steps = self.resolve(p)?;
                let val = value::parse(v).map_err(CliError::new)?;
                let desc = format!("put {} {v}", path::display(&steps));
                self.stage(Op::Put(steps, val), desc)?;
            }
            "remove" | "rm" | "del" => {
                let p = arg(0).ok_or_else(|| CliError::new("usage: remove PATH"))?;
                let steps = self.resolve(p)?;
                let desc = format!("remove {}", path::display(&steps));
                self.stage(Op::Remove(steps), desc)?;
            }
            "status" => {
                if self.staged.is_empty() {
                    writeln!(out, "nothing staged")?;
                }
                for (_, desc) in &self.staged {
                    writeln!(out, "{desc}")?;
                }
            }
            "commit" => self.commit(out)?,
            "discard" | "rollback" | "abort" => {
                let n = self.staged.len();
                self.leave();
                writeln!(
                    out,
                    "discarded {n} staged change{}",
                    if n == 1 { "" } else { "s" }
                )?;
            }
            "log" => {
                let log = commands::read_log(self.committed()?)?;
                commands::write_log(&log, out)?;
            }
            "diff" => self.diff(&args, out)?,
            "info" => {
                if self.reader.is_none() {
                    writeln!(
                        out,
                        "{}: a new file (nothing committed yet)",
                        self.file.display()
                    )?;
                } else {
                    commands::info(&self.file, out)?;
                }
            }
            other => {
                return Err(CliError::new(format!(
                    "unknown command {other:?} (type help for the list)"
                )))
            }
        }
        Ok(Flow::Continue)
    }

    /// `cd PATH`: moves into a map, set or list (or the root).
    fn cd(&mut self, arg: &str) -> Result<()> {
        let target = self.resolve(arg)?;
        let shown = cwd_text(&target);
        self.read(|root, _| {
            let c = edit::lookup(root, &target)?;
            match c.tag() {
                t if t.is_hamt()
                    || edit::is_sorted(t)
                    || matches!(t, Tag::ArrayList | Tag::LinkedArrayList) =>
                {
                    Ok(String::new())
                }
                _ if target.is_empty() => Ok(String::new()),
                t => Err(CliError::new(format!(
                    "{shown} is {}, not a map, set or list",
                    value::a_kind(t)
                ))),
            }
        })
        .or_else(|e| {
            // an empty database has nothing to go into but its root
            if target.is_empty() {
                Ok(String::new())
            } else {
                Err(e)
            }
        })?;
        self.cwd = target;
        Ok(())
    }

    /// `get [PATH] [--pretty]`.
    fn get(&mut self, args: &[String], out: &mut dyn Write) -> Result<()> {
        let pretty = args.iter().any(|a| a == "--pretty");
        let canonical = args.iter().any(|a| a == "--canonical");
        let p = args
            .iter()
            .find(|a| !a.starts_with("--"))
            .map_or("", String::as_str);
        let target = self.resolve(p)?;
        let text = self.read(|root, _| {
            let c = edit::lookup(root, &target)?;
            let s = if canonical {
                value::full(&c)?
            } else {
                value::plain(&c)?
            };
            Ok(if pretty { value::pretty(&s) } else { s })
        })?;
        writeln!(out, "{text}")?;
        Ok(())
    }

    /// `range [PATH] [options]`: a sorted map's entries in key order.
    fn range(&mut self, args: &[String], out: &mut dyn Write) -> Result<()> {
        let (p, opts) = crate::range::RangeOpts::parse_words(args)?;
        let target = self.resolve(p.as_deref().unwrap_or(""))?;
        let text = self.read(|root, _| {
            let mut buf = Vec::new();
            let c = edit::lookup(root, &target)?;
            crate::range::write_range(&c, &target, &opts, &mut buf)?;
            Ok(String::from_utf8_lossy(&buf).into_owned())
        })?;
        out.write_all(text.as_bytes())?;
        Ok(())
    }

    /// `diff [A [B]] [--json]`: the committed moments only.
    fn diff(&mut self, args: &[String], out: &mut dyn Write) -> Result<()> {
        let json = args.iter().any(|a| a == "--json");
        let nums: Vec<i64> = args
            .iter()
            .filter(|a| *a != "--json")
            .map(|a| {
                a.parse()
                    .map_err(|_| CliError::new(format!("{a:?} is not a moment number")))
            })
            .collect::<Result<_>>()?;
        if nums.len() > 2 {
            return Err(CliError::new("usage: diff [A [B]] [--json]"));
        }
        let a = nums.first().copied().unwrap_or(-2);
        let b = nums.get(1).copied().unwrap_or(-1);
        commands::write_diff(self.committed()?, a, b, json, out)
    }

    /// The committed state, refreshed (for log and diff).
    fn committed(&mut self) -> Result<&Db> {
        match &mut self.reader {
            Some(db) => {
                db.refresh()?;
                Ok(db)
            }
            None => Err(CliError::new("nothing is committed yet")),
        }
    }

    /// A path argument against the current path.
    fn resolve(&self, arg: &str) -> Result<Vec<Step>> {
        let arg = arg.trim();
        if let Some(abs) = arg.strip_prefix('/') {
            return path::parse(abs).map_err(CliError::new);
        }
        let mut base = self.cwd.clone();
        let mut rest = arg;
        loop {
            if rest == ".." {
                base.pop();
                rest = "";
            } else if let Some(r) = rest.strip_prefix("../") {
                base.pop();
                rest = r;
            } else {
                break;
            }
        }
        base.extend(path::parse(rest).map_err(CliError::new)?);
        Ok(base)
    }

    /// Runs `f` on the state the staged changes make (the newest moment
    /// when none are staged).
    fn read(
        &mut self,
        f: impl FnOnce(Option<Cursor<'_>>, &Hasher) -> Result<String>,
    ) -> Result<String> {
        if self.staged.is_empty() {
            return match &mut self.reader {
                None => f(None, &Hasher::new(HashKind::default())),
                Some(db) => {
                    db.refresh()?;
                    let hasher = db.hasher();
                    f(open::view(db, None)?, &hasher)
                }
            };
        }
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| CliError::new("staged changes without a writer"))?;
        let staged = &self.staged;
        let mut result = None;
        let r = open::transact(writer, |tx| {
            for (op, _) in staged {
                edit::apply(tx, op)?;
            }
            let hasher = tx.hasher();
            let root = tx.root();
            let c = root.read()?;
            result = Some(f(Some(c), &hasher));
            Err::<(), _>(CliError::new(ROLLBACK))
        });
        match result {
            Some(res) => res,
            None => r.map(|()| String::new()),
        }
    }

    /// Checks a change against the staged ones, then stages it.
    fn stage(&mut self, op: Op, desc: String) -> Result<()> {
        if self.writer.is_none() {
            let existed = self.file.exists();
            let db = open::open_write(&self.file, true, self.wait)
                .map_err(|e| CliError::new(format!("cannot stage changes: {e}")))?;
            if !existed {
                self.created = true;
            }
            self.writer = Some(db);
        }
        self.staged.push((op, desc));
        let checked = self.read(|_, _| Ok(String::new()));
        if let Err(e) = checked {
            self.staged.pop();
            if self.staged.is_empty() {
                self.leave();
            }
            return Err(e);
        }
        Ok(())
    }

    fn commit(&mut self, out: &mut dyn Write) -> Result<()> {
        if self.staged.is_empty() {
            writeln!(out, "nothing to commit")?;
            return Ok(());
        }
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| CliError::new("staged changes without a writer"))?;
        let staged = &self.staged;
        open::transact(writer, |tx| {
            for (op, _) in staged {
                edit::apply(tx, op)?;
            }
            Ok(())
        })?;
        let n = self.staged.len();
        let moments = open::has_history(writer).then(|| writer.moment_count());
        self.staged.clear();
        self.writer = None;
        self.created = false;
        match &mut self.reader {
            Some(db) => db.refresh()?,
            None => self.reader = Some(open::open_read(&self.file)?),
        }
        let changes = format!("{n} change{}", if n == 1 { "" } else { "s" });
        match moments {
            Some(m) => writeln!(out, "committed moment {} ({changes})", m?.saturating_sub(1))?,
            None => writeln!(out, "committed ({changes})")?,
        }
        Ok(())
    }
}

/// The current path as the prompt and pwd show it.
fn cwd_text(cwd: &[Step]) -> String {
    if cwd.is_empty() {
        "/".into()
    } else {
        format!("/{}", path::display(cwd))
    }
}

/// Splits words at spaces, keeping `"..."` (with its quotes) inside a word.
fn words(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (w, r) = split_path(rest)?;
        out.push(w.to_string());
        rest = r;
    }
    Ok(out)
}

/// The first word (a path, which may hold quoted keys) and the rest of the line.
fn split_path(s: &str) -> Result<(&str, &str)> {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            c if !in_str && c.is_ascii_whitespace() => break,
            _ => {}
        }
        i += 1;
    }
    if in_str {
        return Err(CliError::new("unclosed quote"));
    }
    let i = i.min(b.len());
    Ok((&s[..i], s[i..].trim()))
}

/// The name of a map entry or set member as a path step: its key when the
/// key leads back to it, else its hash.
fn entry_name(e: &xitdb::EntryRef<'_>, hasher: &Hasher) -> Result<(String, Option<String>)> {
    let hash = e.hash()?;
    let key = e.key()?;
    if let ValueRef::Bytes { data, .. } = key.value()? {
        if hasher.hash(&data).is_ok_and(|h| *h == *hash) {
            return Ok((path::step_text(&Step::key(data.into_owned()), true), None));
        }
    }
    let note = if key.is_null() {
        None
    } else {
        Some(format!("(key {})", value::short(&key)?))
    };
    Ok((path::step_text(&Step::hash(hash.into_owned()), true), note))
}

/// `ls`: one line per entry, member or item; a scalar prints itself.
fn list(c: &Cursor<'_>, hasher: &Hasher) -> Result<String> {
    let mut rows: Vec<(String, String)> = Vec::new();
    match c.value()? {
        ValueRef::Map(m) => {
            for e in m.iter() {
                let e = e?;
                let (name, note) = entry_name(&e, hasher)?;
                let mut v = value::short(&e.value()?)?;
                if let Some(n) = note {
                    v = format!("{v}  {n}");
                }
                rows.push((name, v));
            }
            rows.sort();
        }
        ValueRef::Set(s) => {
            for e in s.iter() {
                let (name, note) = entry_name(&e?, hasher)?;
                rows.push((name, note.unwrap_or_default()));
            }
            rows.sort();
        }
        ValueRef::SortedMap(m) => {
            // already in key order
            for e in m.iter()? {
                let e = e?;
                let name = path::step_text(&Step::key(e.key()?.into_owned()), true);
                rows.push((name, value::short(&e.value()?)?));
            }
        }
        ValueRef::SortedSet(s) => {
            for e in s.iter()? {
                let name = path::step_text(&Step::key(e?.key()?.into_owned()), true);
                rows.push((name, String::new()));
            }
        }
        ValueRef::List(l) => {
            for (i, item) in l.iter().enumerate() {
                rows.push((format!("[{i}]"), value::short(&item?)?));
            }
        }
        ValueRef::LinkedList(l) => {
            for (i, item) in l.iter().enumerate() {
                rows.push((format!("[{i}]"), value::short(&item?)?));
            }
        }
        _ => return Ok(format!("{}\n", value::full(c)?)),
    }
    if rows.is_empty() {
        return Ok(format!("(empty {})\n", kind_name(c.tag())));
    }
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let mut s = String::new();
    for (name, v) in rows {
        if v.is_empty() {
            s.push_str(&format!("{name}\n"));
        } else {
            s.push_str(&format!("{name:<width$}  {v}\n"));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quoted_keys_together() {
        assert_eq!(
            words("a.\"b c\" --json").unwrap(),
            vec!["a.\"b c\"".to_string(), "--json".to_string()]
        );
        assert_eq!(split_path("x \"a b\"").unwrap(), ("x", "\"a b\""));
        assert_eq!(
            split_path("[\"q\\\"x y\"] 1").unwrap(),
            ("[\"q\\\"x y\"]", "1")
        );
        assert!(split_path("\"open").is_err());
    }
}
