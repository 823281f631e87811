//! The `xitdb` command-line tool: argument parsing and dispatch. The work
//! is done by the modules below and by the `xitdb` library.

// The workspace lints deny unwrap/expect/panic and flag indexing; unit
// tests assert with them.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod commands;
mod edit;
mod error;
mod open;
mod path;
mod range;
mod replication;
mod shell;
mod value;

use clap::{Parser, Subcommand};
use error::CliError;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const ABOUT: &str = "Inspect, query, change, diff, verify and compact xitdb database files";

const LONG_ABOUT: &str = "\
Inspect, query, change, diff, verify and compact xitdb database files.

An xitdb file is append-only: every transaction adds a new moment (a
version of the whole database) to its history, and every past moment
stays readable. Read commands open the file read-only and look at the
newest moment unless given --moment N (negative N counts from the end:
-1 is the newest). put, remove and the shell's commit each add one moment.";

const EXAMPLES: &str = "\
Examples:
  xitdb info app.xdb
  xitdb log app.xdb
  xitdb get app.xdb 'users.alice.tags[0]'
  xitdb get app.xdb title --moment 0
  xitdb range app.xdb scores --from b --limit 10
  xitdb put app.xdb users.alice.age 36
  xitdb put app.xdb title '\"second draft\"'
  xitdb remove app.xdb users.bob
  xitdb diff app.xdb -2 -1
  xitdb dump app.xdb --pretty > app.json
  xitdb load app.json copy.xdb
  xitdb verify app.xdb
  xitdb compact app.xdb small.xdb --keep-last 10
  xitdb shell app.xdb

Run `xitdb help COMMAND` for a command's details, paths and values.
Exit status: 0 on success, 1 on an error (or a problem found by verify),
2 on a usage error.";

const GET_HELP: &str = "\
Prints the value as plain JSON: numbers, \"text\", null, arrays for lists and
sets, objects for maps with text keys ({\"name\":\"Ada\",\"langs\":[\"en\"]}).
What plain JSON cannot say (bytes that are not UTF-8 text or have a format
tag, NaN, keys that are not text) is printed in the canonical form.
--canonical prints the canonical form of the dump throughout, which keeps
every kind exact (an int that is not negative as {\"int\":5}, a set as a
hash_set). What get prints, in either form, put reads back.";

const PUT_HELP: &str = "\
Writes VALUE at PATH in one transaction (a new moment). Missing map keys
on the way are created, and an empty slot on the way becomes a hash_map:
`put db.xdb a.b.c 1` on an empty database makes maps a and a.b. List
items must exist ([N] replaces item N; [] appends a new item, making an
array_list where there was none). In a set, `put SET.member null` adds a
member. A structure value replaces what was there (it is not merged).
FILE is created when it does not exist.";

const REMOVE_HELP: &str = "\
Removes a map entry, a set member or a list item in one transaction (a
new moment). Any item of a linked_array_list can be removed; an
array_list can only drop its last item. Removing something that is not
there is an error, and adds no moment.";

const SHELL_HELP: &str = "\
Opens an interactive shell on FILE (created on the first commit if it
does not exist). Type `help` inside for its commands: ls, cd, pwd, get,
range, put, remove, status, commit, discard, log, diff, info, quit.

put and remove are staged, and ls/get/cd see them at once; commit writes
all staged changes as one transaction (one new moment), discard drops
them. The file is opened read-only, and the writer lock is taken only
while changes are staged. With standard input not a terminal, commands
are read one per line with no prompt (lines starting with # are
comments); the exit status is 1 if any command failed.";

#[derive(Parser)]
#[command(
    name = "xitdb",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    arg_required_else_help = true
)]
struct Cli {
    /// Commands that write (put, remove, the shell's staging) wait up to
    /// SECS seconds for another writer to release the file's lock; without
    /// it they fail at once while another process writes
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_wait)]
    wait: Option<Duration>,
    #[command(subcommand)]
    command: Command,
    /// The layout of the file's linked lists: `btree` (current upstream
    /// xitdb) or `rrb` (xitdb before June 2026). Files do not record it;
    /// without this flag it is inferred from what the file holds, and a
    /// new file gets `btree`.
    #[arg(long, global = true, value_name = "rrb|btree")]
    list_family: Option<xitdb::ListFamily>,
}

/// `--wait SECS`: a number of seconds, fractions allowed.
fn parse_wait(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{s}` is not a wait of 0 seconds or more"))
}

#[derive(Subcommand)]
enum Command {
    /// Show the header, hasher, number of moments and size of a file
    Info {
        /// The database file
        file: PathBuf,
    },
    /// List the moments: index, bytes added, root kind and size
    #[command(after_help = commands::LOG_HELP)]
    Log {
        /// The database file
        file: PathBuf,
        /// One JSON object per line instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Print the canonical JSON of the database, a moment or a value
    #[command(
        allow_negative_numbers = true,
        after_help = "Without --moment or --path, prints the whole file (header and every moment) as\n\
                      one line of canonical JSON: keys in a fixed order, map entries sorted by hash,\n\
                      bytes in hex; `xitdb load` reads it back. With them, prints one value;\n\
                      --path alone looks in the newest moment."
    )]
    Dump {
        /// The database file
        file: PathBuf,
        /// Print only this moment (negative counts from the end)
        #[arg(long, short)]
        moment: Option<i64>,
        /// Print only the value at this path (see `xitdb help get`)
        #[arg(long, short)]
        path: Option<String>,
        /// Indent the JSON
        #[arg(long)]
        pretty: bool,
    },
    /// Build a database file from a canonical JSON dump
    #[command(
        after_help = "JSON is a file written by `xitdb dump` (or - for standard input). OUT is written\n\
                      in full, then moved into place; an existing OUT is refused unless --force."
    )]
    Load {
        /// The JSON dump (- for standard input)
        json: PathBuf,
        /// The database file to create
        out: PathBuf,
        /// Replace OUT if it exists
        #[arg(long, short)]
        force: bool,
    },
    /// Print the value at a path
    #[command(
        allow_negative_numbers = true,
        after_help = format!("{GET_HELP}\n\n{}", path::HELP)
    )]
    Get {
        /// The database file
        file: PathBuf,
        /// Where to look, e.g. users.alice.tags[0] (. for the whole moment)
        path: String,
        /// Read this moment (negative counts from the end; default: the newest)
        #[arg(long, short)]
        moment: Option<i64>,
        /// Indent structures
        #[arg(long)]
        pretty: bool,
        /// Print a bytes value as raw bytes (no quotes, no newline)
        #[arg(long, conflicts_with = "pretty")]
        raw: bool,
        /// Print the canonical form of the dump (every kind exact) instead
        /// of plain JSON
        #[arg(long, conflicts_with = "raw")]
        canonical: bool,
    },
    /// List a sorted map's entries (or a sorted set's members) in key order
    #[command(
        allow_negative_numbers = true,
        after_help = format!("{}\n\n{}", range::HELP, path::HELP)
    )]
    Range {
        /// The database file
        file: PathBuf,
        /// Where the sorted_map or sorted_set is, e.g. users.by_name
        path: String,
        /// Read this moment (negative counts from the end; default: the newest)
        #[arg(long, short)]
        moment: Option<i64>,
        /// Start at this key (inclusive)
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        from: Option<String>,
        /// Stop before this key (exclusive)
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        to: Option<String>,
        /// Only keys starting with P
        #[arg(
            long,
            value_name = "P",
            allow_hyphen_values = true,
            conflicts_with_all = ["from", "to"]
        )]
        prefix: Option<String>,
        /// Print at most N entries
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// From the last key down
        #[arg(long)]
        reverse: bool,
        /// One JSON object per line (values in full)
        #[arg(long)]
        json: bool,
    },
    /// Write a value at a path (one transaction)
    #[command(after_help = format!("{PUT_HELP}\n\n{}\n\n{}", value::HELP, path::HELP))]
    Put {
        /// The database file (created if missing)
        file: PathBuf,
        /// Where to write, e.g. users.alice.age
        path: String,
        /// The value, as JSON: 42, -3, 1.5, '"text"', null, {}, [] or canonical
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Remove a map entry, set member or list item (one transaction)
    #[command(visible_alias = "rm", after_help = format!("{REMOVE_HELP}\n\n{}", path::HELP))]
    Remove {
        /// The database file
        file: PathBuf,
        /// What to remove, e.g. users.bob
        path: String,
    },
    /// Show the changes between two moments
    #[command(
        allow_negative_numbers = true,
        after_help = "Prints one line per change from moment A to moment B:\n  \
                      + PATH VALUE           added in B\n  \
                      - PATH VALUE           removed in B\n  \
                      ~ PATH OLD -> NEW      changed\n\
                      Values are shown short (structures as their kind and size, long bytes cut).\n\
                      With --json, one object per line with every value in full (canonical JSON):\n  \
                      {\"kind\":\"changed\",\"path\":\"a.b\",\"steps\":[\"a\",\"b\"],\"old\":{\"uint\":1},\"new\":{\"uint\":2}}\n\
                      (\"old\" is absent for an addition, \"new\" for a removal)."
    )]
    Diff {
        /// The database file
        file: PathBuf,
        /// The older moment (default -2, the one before the newest)
        a: Option<i64>,
        /// The newer moment (default -1, the newest)
        b: Option<i64>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Check every moment for damage; exit status 1 when a problem is found
    #[command(
        after_help = "Walks every moment (each shared block once) and checks tags, pointers,\n\
                      sizes, counts, key hashes and nesting. Prints what it checked, the\n\
                      warnings, and the first problem. Exit status: 0 when sound (warnings\n\
                      allowed), 1 when a problem was found or the file cannot be read."
    )]
    Verify {
        /// The database file
        file: PathBuf,
    },
    /// Copy chosen moments into a new, smaller file
    #[command(
        after_help = "Writes the moments kept (all, or the newest N) into OUT, a new file, sharing\n\
                      what they share and dropping the rest, then prints the sizes before and after.\n\
                      OUT is written in full, then moved into place; an existing OUT is refused\n\
                      unless --force. A progress bar shows on a terminal for long runs."
    )]
    Compact {
        /// The database file to read
        file: PathBuf,
        /// The new database file
        out: PathBuf,
        /// Keep only the newest N moments
        #[arg(long, value_name = "N")]
        keep_last: Option<u64>,
        /// Replace OUT if it exists
        #[arg(long, short)]
        force: bool,
    },
    /// Ship a database's commits to object storage, continuously
    #[command(
        after_help = "URL: s3://bucket/prefix (AWS_* variables: AWS_ENDPOINT, AWS_REGION,\n\
                      AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), gs://, az://, file:///dir.\n\
                      Reads FILE read-only while its writer runs; batches new commits into\n\
                      segment objects, retries failed uploads, and resumes from what the\n\
                      store holds. A second replicator on the same prefix gets an error."
    )]
    Replicate {
        /// The database file (a history)
        file: PathBuf,
        /// Where to ship
        url: String,
        /// Ship what is there, then exit
        #[arg(long)]
        once: bool,
        /// How often to look for commits, in milliseconds
        #[arg(long, value_name = "MS", default_value_t = 200)]
        interval: u64,
    },
    /// Rebuild a database from object storage, checking every hash
    Restore {
        /// Where it was shipped
        url: String,
        /// The file to write (replaced when complete)
        out: PathBuf,
        /// Stop at the last shipped state with at most N + 1 moments
        #[arg(long, value_name = "N")]
        moment: Option<u64>,
    },
    /// Keep a read replica up to date with object storage, until killed
    #[command(
        after_help = "Polls URL and applies new commits to OUT; its position is kept in\n\
                      OUT.head. Readers open OUT read-only and see whole commits only."
    )]
    Follow {
        /// Where the primary ships
        url: String,
        /// The replica file
        out: PathBuf,
        /// How often to poll, in milliseconds
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        interval: u64,
    },
    /// Browse and change a file interactively
    #[command(after_help = format!("{SHELL_HELP}\n\n{}\n\n{}", path::HELP, value::HELP))]
    Shell {
        /// The database file
        file: PathBuf,
    },
}

fn run(cli: Cli) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let r = match cli.command {
        Command::Info { file } => commands::info(&file, &mut out),
        Command::Log { file, json } => commands::log(&file, json, &mut out),
        Command::Dump {
            file,
            moment,
            path,
            pretty,
        } => commands::dump(&file, moment, path.as_deref(), pretty, &mut out),
        Command::Load {
            json,
            out: o,
            force,
        } => commands::load(&json, &o, force, &mut out),
        Command::Get {
            file,
            path,
            moment,
            pretty,
            raw,
            canonical,
        } => {
            let form = commands::GetForm {
                pretty,
                raw,
                canonical,
            };
            commands::get(&file, &path, moment, form, &mut out)
        }
        Command::Range {
            file,
            path,
            moment,
            from,
            to,
            prefix,
            limit,
            reverse,
            json,
        } => {
            let opts = range::RangeOpts {
                from,
                to,
                prefix,
                limit,
                reverse,
                json,
            };
            commands::range(&file, &path, moment, &opts, &mut out)
        }
        Command::Put { file, path, value } => {
            let steps = commands::parse_path(&path)?;
            let v = value::parse(&value).map_err(CliError::new)?;
            commands::change(&file, edit::Op::Put(steps, v), cli.wait)
        }
        Command::Remove { file, path } => {
            let steps = commands::parse_path(&path)?;
            commands::change(&file, edit::Op::Remove(steps), cli.wait)
        }
        Command::Diff { file, a, b, json } => {
            commands::diff(&file, a.unwrap_or(-2), b.unwrap_or(-1), json, &mut out)
        }
        Command::Verify { file } => commands::verify(&file, &mut out),
        Command::Compact {
            file,
            out: o,
            keep_last,
            force,
        } => commands::compact(&file, &o, keep_last, force, &mut out),
        Command::Replicate {
            file,
            url,
            once,
            interval,
        } => replication::replicate(&file, &url, once, interval, &mut out),
        Command::Restore {
            url,
            out: o,
            moment,
        } => replication::restore(&url, &o, moment, &mut out),
        Command::Follow {
            url,
            out: o,
            interval,
        } => {
            drop(out);
            return replication::follow(&url, &o, interval);
        }
        Command::Shell { file } => {
            drop(out);
            return shell::run(&file, cli.wait);
        }
    };
    // flush what was printed, even before an error message
    let flushed = out.flush().map_err(CliError::from);
    r.and(flushed)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    open::set_list_family(cli.list_family);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xitdb: error: {e}");
            ExitCode::FAILURE
        }
    }
}
