//! The tool's error: one line of text for stderr, and an exit code.

use std::fmt;
use std::path::Path;

/// Shorthand for results of the tool's functions.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// A failure to report: `xitdb: error: {msg}` on stderr, exit code 1.
#[derive(Debug)]
pub struct CliError {
    msg: String,
    broken_pipe: bool,
}

impl CliError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        CliError {
            msg: msg.into(),
            broken_pipe: false,
        }
    }

    /// Prefixes the message with a file name (`FILE: msg`).
    pub fn in_file(self, path: &Path) -> Self {
        CliError {
            msg: format!("{}: {}", path.display(), self.msg),
            ..self
        }
    }

    /// Prefixes the message with some context (`context: msg`).
    pub fn context(self, what: impl fmt::Display) -> Self {
        CliError {
            msg: format!("{what}: {}", self.msg),
            ..self
        }
    }

    /// True when standard output was closed by its reader (`xitdb dump | head`):
    /// not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl From<xitdb::Error> for CliError {
    fn from(e: xitdb::Error) -> Self {
        match e {
            xitdb::Error::Io(io) => io.into(),
            e => CliError::new(e.to_string()),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        let broken_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
        CliError {
            msg: io_message(&e),
            broken_pipe,
        }
    }
}

/// An I/O error in words, without the `(os error N)` suffix.
fn io_message(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "no such file or directory".into(),
        K::PermissionDenied => "permission denied".into(),
        K::AlreadyExists => "already exists".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
