//! The crate's [`Error`] as serde's error type, and the paths typed errors
//! carry.
//!
//! An error raised deep inside a value gets its path as it travels up:
//! each map entry adds its key and each list item its index on the way
//! out, so the path costs nothing unless something fails.

use crate::error::Error;
use std::fmt::Display;

impl serde::ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Typed {
            path: String::new(),
            message: msg.to_string(),
        }
    }
}

impl serde::de::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Typed {
            path: String::new(),
            message: msg.to_string(),
        }
    }
}

/// A typed error at the value itself (the path is added on the way out).
pub(crate) fn typed(message: impl Into<String>) -> Error {
    Error::Typed {
        path: String::new(),
        message: message.into(),
    }
}

/// A kind mismatch at the value itself.
pub(crate) fn mismatch(expected: &'static str, found: &'static str) -> Error {
    Error::TypeMismatch {
        path: String::new(),
        expected,
        found,
    }
}

impl Error {
    /// Puts `step` in front of a typed error's path (a dot before a key
    /// that follows); other errors pass unchanged.
    fn prefix_path(mut self, step: &str) -> Error {
        if let Error::TypeMismatch { path, .. } | Error::Typed { path, .. } = &mut self {
            let sep = if path.is_empty() || path.starts_with('[') {
                ""
            } else {
                "."
            };
            *path = format!("{step}{sep}{path}");
        }
        self
    }

    /// The error, seen from the map holding it under `key`.
    pub(crate) fn at_key(self, key: &[u8]) -> Error {
        self.prefix_path(&String::from_utf8_lossy(key))
    }

    /// The error, seen from the list holding it at `index`.
    pub(crate) fn at_index(self, index: u64) -> Error {
        self.prefix_path(&format!("[{index}]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_rust_expressions() {
        let e = mismatch("uint", "bytes")
            .at_key(b"age")
            .at_key(b"ada")
            .at_key(b"users");
        assert_eq!(e.to_string(), "users.ada.age: expected uint, found bytes");
        let e = typed("boom").at_key(b"name").at_index(3).at_key(b"items");
        assert_eq!(e.to_string(), "items[3].name: boom");
        let e = typed("boom").at_index(1).at_index(0);
        assert_eq!(e.to_string(), "[0][1]: boom");
        assert_eq!(typed("boom").to_string(), "(root): boom");
        let io = Error::ReadOnly.at_key(b"k");
        assert!(matches!(io, Error::ReadOnly));
    }
}
