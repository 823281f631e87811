//! `replicate`, `restore` and `follow`: the commit stream through object
//! storage (the `xitdb-replica` crate).

use crate::error::{CliError, Result};
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use xitdb_replica::{Remote, ReplicaError, ReplicateOptions};

impl From<ReplicaError> for CliError {
    fn from(e: ReplicaError) -> Self {
        match e {
            ReplicaError::Xitdb(e) => e.into(),
            e => CliError::new(e.to_string()),
        }
    }
}

fn remote(url: &str) -> Result<Remote> {
    Remote::open(url).map_err(|e| CliError::from(e).context(url))
}

/// Ships FILE's commits to URL (once, or until killed).
pub fn replicate(
    file: &Path,
    url: &str,
    once: bool,
    interval_ms: u64,
    out: &mut dyn Write,
) -> Result<()> {
    let remote = remote(url)?;
    let opts = ReplicateOptions {
        once,
        interval: Duration::from_millis(interval_ms),
        ..ReplicateOptions::default()
    };
    let report = xitdb_replica::replicate(&remote, file, &opts, &|| false, &mut |r| {
        eprintln!(
            "shipped through record {} ({} bytes of database)",
            r.seq, r.file_size
        );
    })
    .map_err(|e| CliError::from(e).in_file(file))?;
    writeln!(
        out,
        "{} records in {} segments ({} bytes); the store is at record {}, {} bytes",
        report.records, report.segments, report.bytes, report.seq, report.file_size
    )?;
    Ok(())
}

/// Rebuilds URL's database into OUT.
pub fn restore(url: &str, file: &Path, moment: Option<u64>, out: &mut dyn Write) -> Result<()> {
    let remote = remote(url)?;
    let r = xitdb_replica::restore(&remote, file, moment)?;
    writeln!(
        out,
        "restored {} moments ({} bytes, record {}, {} records checked, {} bytes downloaded)",
        r.moments, r.head.file_size, r.head.seq, r.records, r.bytes
    )?;
    Ok(())
}

/// Keeps OUT up to date with URL until killed.
pub fn follow(url: &str, file: &Path, interval_ms: u64) -> Result<()> {
    let remote = remote(url)?;
    xitdb_replica::follow(
        &remote,
        file,
        Duration::from_millis(interval_ms),
        &|| false,
        &mut |head| eprintln!("at record {} ({} bytes)", head.seq, head.file_size),
    )?;
    Ok(())
}
