//! Helpers shared by the model tests.

use std::fmt;
use xitdb::Error;

/// Why a model run stopped: a database error, a model mismatch, or an
/// abort the test asked for.
#[derive(Debug)]
pub enum Fail {
    Db(Error),
    Mismatch(String),
    Deliberate,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Db(e)
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        Fail::Db(e.into())
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Db(e) => write!(f, "database error: {e} ({e:?})"),
            Fail::Mismatch(m) => f.write_str(m),
            Fail::Deliberate => f.write_str("deliberate abort"),
        }
    }
}
