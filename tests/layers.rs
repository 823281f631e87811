//! The layer rule, checked on the sources: imports only go down.
//!
//! The crate is read bottom-up as five layers, one per folder under
//! `src/`:
//!
//! | layer   | files            |
//! |---------|------------------|
//! | format  | `src/format/` and `src/error.rs` |
//! | storage | `src/storage/`   |
//! | tree    | `src/tree/`      |
//! | api     | `src/api/`       |
//! | tools   | `src/tools/`     |
//!
//! A file may use items of its own layer and of every layer below it, never
//! of a layer above. `src/lib.rs` is the root: it declares the layers and
//! re-exports from them, so it may name anything. ARCHITECTURE.md explains
//! why; this test keeps it true.
//!
//! # What is scanned
//!
//! Every `.rs` file under `src/`. In each, the test finds:
//!
//! * `use` declarations (`use crate::a::b;`, `pub use`, groups such as
//!   `use crate::{a::b, c::{d, e}};` spread over several lines, globs,
//!   renames), expanded into one path per leaf;
//! * inline paths anywhere in the code (`crate::tools::diff::Diff`,
//!   `crate::Error::corrupt(..)`, `$crate::..` in macros);
//! * the same through `super::` and `self::`, resolved from the file's
//!   module path.
//!
//! Each path is resolved to a layer by its first segment after `crate`: a
//! layer module (`crate::format::..`), or a name the crate root re-exports
//! (`crate::Database`, `crate::Error`, `crate::diff`). The root's
//! re-exports are read from `src/lib.rs` itself (its `mod` declarations and
//! `use` items), so the test follows lib.rs as it changes. A path that
//! resolves to nothing known is reported too, so the check cannot be
//! dodged by a name the test does not understand.
//!
//! # What is skipped
//!
//! * Comments and doc comments (`//`, `///`, `//!`, `/* */`), and the
//!   contents of string and character literals: a doc link such as
//!   ``[`crate::diff`]`` is not an import.
//! * Everything from the first line that starts with `#[cfg(test)]` to the
//!   end of the file. Unit-test modules may import upward (the tree's tests
//!   build a `crate::Database` to exercise a structure), and by convention
//!   they close the file; code placed after such a line is not checked,
//!   so keep the test module last.
//! * Visibility restrictions (`pub(in crate::api)`), which grant access
//!   rather than import.
//!
//! Paths that do not start with `crate`, `super` or `self` (`std::..`, a
//! dependency, a child module) cannot reach another layer and are ignored.
//!
//! # Known exceptions
//!
//! [`KNOWN_EXCEPTIONS`] lists upward imports that exist today, each with the
//! reason it is tolerated. An entry that no longer matches anything fails
//! the test, so it is removed once the import is fixed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::Path;

/// The layers, bottom-up (the derived order is the layer order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Format,
    Storage,
    Tree,
    Api,
    Tools,
}

impl Layer {
    const ALL: [Layer; 5] = [
        Layer::Format,
        Layer::Storage,
        Layer::Tree,
        Layer::Api,
        Layer::Tools,
    ];

    /// The module (file or folder under `src/`) holding the layer.
    fn module(self) -> &'static str {
        match self {
            Layer::Format => "format",
            Layer::Storage => "storage",
            Layer::Tree => "tree",
            Layer::Api => "api",
            Layer::Tools => "tools",
        }
    }

    fn of_module(name: &str) -> Option<Layer> {
        // the one error enum belongs to the format's layer: its variants
        // name format tags, and every decode returns it
        if name == "error" {
            return Some(Layer::Format);
        }
        Layer::ALL.into_iter().find(|l| l.module() == name)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.module())
    }
}

/// Upward imports tolerated for now: (file under `src/`, path as written,
/// why). Each must still occur, or the test fails. None today.
const KNOWN_EXCEPTIONS: &[(&str, &str, &str)] = &[];

// ------------------------------------------------------------------ lexing

/// Blanks out comments and the contents of string and char literals,
/// keeping every newline (so line numbers stay right) and every other
/// character of code in place.
fn strip_comments_and_literals(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let n = c.len();
    let mut out = String::with_capacity(src.len());
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let at = |i: usize| c.get(i).copied();
    let mut i = 0;
    while i < n {
        let ch = c[i];
        let prev = if i > 0 { at(i - 1) } else { None };
        if ch == '/' && at(i + 1) == Some('/') {
            // line comment (also `///` and `//!`)
            while i < n && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == Some('*') {
            // block comment, possibly nested
            let mut depth = 0usize;
            while i < n {
                if c[i] == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if ch == 'r' && matches!(at(i + 1), Some('"' | '#')) && {
            // `r` starts a token, or follows the `b` that starts one
            let before_b = if i >= 2 { at(i - 2) } else { None };
            !prev.is_some_and(is_ident) || prev == Some('b') && !before_b.is_some_and(is_ident)
        } {
            // raw string r"..", r#".."#, br#".."#
            let mut j = i + 1;
            let mut hashes = 0;
            while at(j) == Some('#') {
                hashes += 1;
                j += 1;
            }
            if at(j) != Some('"') {
                // `r#ident` (a raw identifier): plain code
                out.push(ch);
                i += 1;
                continue;
            }
            for _ in i..=j {
                out.push(' ');
            }
            i = j + 1;
            while i < n {
                if c[i] == '"' && (1..=hashes).all(|k| at(i + k) == Some('#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(c[i]));
                i += 1;
            }
        } else if ch == '"' {
            out.push(' ');
            i += 1;
            while i < n {
                if c[i] == '\\' {
                    out.push(' ');
                    if let Some(e) = at(i + 1) {
                        out.push(blank(e));
                    }
                    i += 2;
                } else if c[i] == '"' {
                    out.push(' ');
                    i += 1;
                    break;
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if ch == '\'' {
            if at(i + 1) == Some('\\') {
                // escaped char literal: '\n', '\'', '\u{..}'
                let mut j = i + 3;
                while j < n && c[j] != '\'' && c[j] != '\n' {
                    j += 1;
                }
                for _ in i..=j.min(n - 1) {
                    out.push(' ');
                }
                i = j + 1;
            } else if at(i + 2) == Some('\'') {
                out.push_str("   ");
                i += 3;
            } else {
                // a lifetime or a label
                out.push(ch);
                i += 1;
            }
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

/// Cuts the code at the first line that starts with `#[cfg(test)]`.
fn without_test_code(code: &str) -> &str {
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        if line.trim_start().starts_with("#[cfg(test)]") {
            return &code[..offset];
        }
        offset += line.len();
    }
    code
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok {
    text: String,
    line: usize,
}

impl Tok {
    fn is_ident(&self) -> bool {
        self.text
            .chars()
            .next()
            .is_some_and(|ch| ch.is_alphabetic() || ch == '_')
    }
}

/// Identifiers, `::`, and single punctuation characters (numbers dropped).
fn tokenize(code: &str) -> Vec<Tok> {
    let c: Vec<char> = code.chars().collect();
    let mut toks = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            toks.push(Tok {
                text: c[start..i].iter().collect(),
                line,
            });
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            toks.push(Tok {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            toks.push(Tok {
                text: ch.to_string(),
                line,
            });
            i += 1;
        }
    }
    toks
}

// ----------------------------------------------------------------- parsing

/// One path as written: its segments with their lines, and the name it
/// is imported as (the last segment, or the alias after `as`).
#[derive(Debug, Clone)]
struct UsePath {
    segs: Vec<Tok>,
    alias: Option<String>,
}

impl UsePath {
    fn written(&self) -> String {
        let names: Vec<&str> = self.segs.iter().map(|t| t.text.as_str()).collect();
        names.join("::")
    }
}

/// Parses one use tree at `toks[*i]`, appending each leaf path (prefixed
/// by `prefix`) to `out`.
fn parse_use_tree(toks: &[Tok], i: &mut usize, prefix: &[Tok], out: &mut Vec<UsePath>) {
    let mut segs = prefix.to_vec();
    while let Some(t) = toks.get(*i) {
        match t.text.as_str() {
            "::" => *i += 1, // a leading `::` or a separator
            "{" => {
                *i += 1;
                while let Some(t) = toks.get(*i) {
                    match t.text.as_str() {
                        "}" => {
                            *i += 1;
                            return;
                        }
                        "," => *i += 1,
                        _ => {
                            let before = *i;
                            parse_use_tree(toks, i, &segs, out);
                            if *i == before {
                                *i += 1;
                            }
                        }
                    }
                }
                return;
            }
            "*" => {
                segs.push(t.clone());
                *i += 1;
                out.push(UsePath { segs, alias: None });
                return;
            }
            _ if t.is_ident() => {
                segs.push(t.clone());
                *i += 1;
                if toks.get(*i).is_some_and(|t| t.text == "::") {
                    continue;
                }
                let mut alias = None;
                if toks.get(*i).is_some_and(|t| t.text == "as") {
                    alias = toks.get(*i + 1).map(|t| t.text.clone());
                    *i += 2;
                }
                out.push(UsePath { segs, alias });
                return;
            }
            _ => return,
        }
    }
}

/// Every path the code names: leaves of `use` items, and inline paths
/// starting with `crate`, `super` or `self`.
fn paths_in(toks: &[Tok]) -> Vec<UsePath> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.text == "use" {
            i += 1;
            parse_use_tree(toks, &mut i, &[], &mut out);
            while i < toks.len() && toks[i].text != ";" {
                i += 1;
            }
            continue;
        }
        let rooted = matches!(t.text.as_str(), "crate" | "super" | "self");
        let then_sep = toks.get(i + 1).is_some_and(|n| n.text == "::");
        let after_sep = i > 0 && toks[i - 1].text == "::";
        // `pub(in crate::x)` grants visibility; it imports nothing
        let visibility = i >= 3
            && toks[i - 1].text == "in"
            && toks[i - 2].text == "("
            && toks[i - 3].text == "pub";
        if rooted && then_sep && !after_sep && !visibility {
            let mut segs = vec![t.clone()];
            let mut j = i + 1;
            while toks.get(j).is_some_and(|s| s.text == "::")
                && toks.get(j + 1).is_some_and(Tok::is_ident)
            {
                segs.push(toks[j + 1].clone());
                j += 2;
            }
            out.push(UsePath { segs, alias: None });
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

// -------------------------------------------------------------- resolution

/// What `crate::<name>` means: the layer of each name the crate root
/// declares or re-exports.
#[derive(Debug, Default)]
struct Roots {
    names: BTreeMap<String, Layer>,
}

impl Roots {
    /// Reads the root's `mod` declarations and `use` items (re-exports).
    fn from_lib(lib_rs: &str) -> Result<Roots, String> {
        let cleaned = strip_comments_and_literals(lib_rs);
        let toks = tokenize(without_test_code(&cleaned));
        let mut roots = Roots::default();
        for w in toks.windows(2) {
            if w[0].text == "mod" && w[1].is_ident() {
                if let Some(layer) = Layer::of_module(&w[1].text) {
                    roots.names.insert(w[1].text.clone(), layer);
                }
            }
        }
        let modules = roots.names.clone();
        for p in paths_in(&toks) {
            let mut segs: Vec<&str> = p.segs.iter().map(|t| t.text.as_str()).collect();
            if matches!(segs.first(), Some(&"crate" | &"self")) {
                segs.remove(0);
            }
            let Some(first) = segs.first() else { continue };
            let Some(&layer) = modules.get(*first) else {
                continue; // std, a dependency
            };
            let name = match (&p.alias, segs.last()) {
                (_, Some(&"*")) => {
                    return Err(format!(
                        "src/lib.rs:{}: glob re-export `{}`: the names it brings \
                         to the root cannot be mapped to a layer; re-export them by name",
                        p.segs[0].line,
                        p.written()
                    ))
                }
                (Some(alias), _) => alias.clone(),
                (None, Some(last)) => last.to_string(),
                (None, None) => continue,
            };
            if name == "self" || name == "_" {
                continue;
            }
            roots.names.insert(name, layer);
        }
        Ok(roots)
    }

    fn layer(&self, name: &str) -> Option<Layer> {
        self.names.get(name).copied()
    }
}

/// A file's layer and module path, from its path under `src/`
/// (`api/map.rs` is layer api, module `api::map`). `None` for lib.rs.
fn file_module(rel: &str) -> Result<Option<(Layer, Vec<String>)>, String> {
    let rel = rel.replace('\\', "/");
    if rel == "lib.rs" {
        return Ok(None);
    }
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    let Some(last) = parts.pop() else {
        return Err(format!("src/{rel}: not a source file"));
    };
    let stem = last.strip_suffix(".rs").unwrap_or(&last).to_string();
    if stem != "mod" {
        parts.push(stem);
    }
    let layer = parts
        .first()
        .and_then(|m| Layer::of_module(m))
        .ok_or_else(|| {
            format!(
                "src/{rel}: belongs to no layer (the layers are {}); \
             put it in one, or teach tests/layers.rs the new layer",
                Layer::ALL.map(|l| l.module()).join(", ")
            )
        })?;
    Ok(Some((layer, parts)))
}

/// An import that does not go down (or that cannot be placed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    /// The path as written (`super::..` and groups included).
    path: String,
    from: Layer,
    /// The layer it reaches; `None` when the path resolves to nothing known.
    to: Option<Layer>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to {
            Some(to) => write!(
                f,
                "src/{}:{}: `{}`: the {} layer imports from {}, a higher layer",
                self.file, self.line, self.path, self.from, to
            ),
            None => write!(
                f,
                "src/{}:{}: `{}`: cannot tell which layer this names \
                 (not a layer module, nor a name src/lib.rs re-exports)",
                self.file, self.line, self.path
            ),
        }
    }
}

/// Checks one file: `rel` is its path under `src/`, `source` its text.
fn scan(rel: &str, source: &str, roots: &Roots) -> Result<Vec<Violation>, String> {
    let Some((from, module)) = file_module(rel)? else {
        return Ok(Vec::new()); // the root may import anything
    };
    let cleaned = strip_comments_and_literals(source);
    let toks = tokenize(without_test_code(&cleaned));
    let mut found = Vec::new();
    for p in paths_in(&toks) {
        let Some(first) = p.segs.first() else {
            continue;
        };
        // Resolve to an absolute path below the crate root.
        let mut abs: Vec<String> = match first.text.as_str() {
            "crate" => Vec::new(),
            "self" => module.clone(),
            "super" => module.clone(),
            _ => continue, // std, a dependency, a child module
        };
        let mut rest = &p.segs[1..];
        if first.text == "super" {
            abs.pop();
            while rest.first().is_some_and(|t| t.text == "super") {
                abs.pop();
                rest = &rest[1..];
            }
        }
        abs.extend(rest.iter().map(|t| t.text.clone()));
        let line = rest.first().unwrap_or(first).line;
        let to = match abs.first().map(String::as_str) {
            None | Some("*") | Some("self") => None, // the crate root as a whole
            Some(name) => Layer::of_module(name).or_else(|| roots.layer(name)),
        };
        if to.is_none_or(|to| to > from) {
            found.push(Violation {
                file: rel.to_string(),
                line,
                path: p.written(),
                from,
                to,
            });
        }
    }
    Ok(found)
}

/// Every `.rs` file under `dir`, as paths relative to `base`, sorted.
fn rust_files(base: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(base, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            if let Ok(rel) = path.strip_prefix(base) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(())
}

fn src_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn no_source_file_imports_a_higher_layer() {
    let src = src_dir();
    let roots = Roots::from_lib(&read(&src.join("lib.rs"))).unwrap_or_else(|e| panic!("{e}"));
    let mut files = Vec::new();
    rust_files(&src, &src, &mut files).expect("listing src/");
    assert!(files.len() > 10, "found only {files:?} under src/");

    let mut problems = Vec::new();
    let mut exceptions_seen = vec![false; KNOWN_EXCEPTIONS.len()];
    for rel in &files {
        match scan(rel, &read(&src.join(rel)), &roots) {
            Err(e) => problems.push(e),
            Ok(found) => {
                for v in found {
                    let known = KNOWN_EXCEPTIONS
                        .iter()
                        .position(|&(file, path, _)| file == v.file && path == v.path);
                    match known {
                        Some(k) => exceptions_seen[k] = true,
                        None => problems.push(v.to_string()),
                    }
                }
            }
        }
    }
    for (&(file, path, why), seen) in KNOWN_EXCEPTIONS.iter().zip(exceptions_seen) {
        if !seen {
            problems.push(format!(
                "src/{file}: the known exception `{path}` ({why}) no longer occurs: \
                 remove it from KNOWN_EXCEPTIONS in tests/layers.rs"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "imports must only go down (format and error <- storage <- tree <- api <- tools; \
         see ARCHITECTURE.md):\n{}",
        problems.join("\n")
    );
}

#[test]
fn root_reexports_are_read_from_lib_rs() {
    let roots = Roots::from_lib(&read(&src_dir().join("lib.rs"))).unwrap();
    for layer in Layer::ALL {
        assert_eq!(roots.layer(layer.module()), Some(layer), "mod {layer}");
    }
    assert_eq!(roots.layer("Error"), Some(Layer::Format));
    assert_eq!(roots.layer("Database"), Some(Layer::Api));
}

/// A root like the real one, to feed the scanner synthetic files.
const SYNTHETIC_LIB: &str = r#"
//! Docs that mention `crate::tools` do not count.
mod api;
mod error;
pub mod format;
pub mod storage;
mod tools;
mod tree;

pub use api::database::{Database, Options as Opts};
pub use api::{
    cursor::Cursor,
    map::MapView,
};
pub use error::{Error, Result};
pub use tools::{compact, diff};
"#;

fn synthetic(rel: &str, source: &str) -> Vec<Violation> {
    let roots = Roots::from_lib(SYNTHETIC_LIB).unwrap();
    scan(rel, source, &roots).unwrap()
}

/// (line, path, reached layer) of each violation.
fn summary(found: &[Violation]) -> Vec<(usize, String, Option<Layer>)> {
    found
        .iter()
        .map(|v| (v.line, v.path.clone(), v.to))
        .collect()
}

#[test]
fn synthetic_roots_resolve_renames_and_groups() {
    let roots = Roots::from_lib(SYNTHETIC_LIB).unwrap();
    assert_eq!(roots.layer("Opts"), Some(Layer::Api));
    assert_eq!(roots.layer("Options"), None);
    assert_eq!(roots.layer("MapView"), Some(Layer::Api));
    assert_eq!(roots.layer("Result"), Some(Layer::Format));
    assert_eq!(roots.layer("diff"), Some(Layer::Tools));
    assert_eq!(roots.layer("tree"), Some(Layer::Tree));
    assert!(Roots::from_lib("mod api;\npub use api::*;\n").is_err());
}

#[test]
fn scanner_catches_a_synthetic_upward_import() {
    let found = synthetic("api/cursor.rs", "use crate::tools::diff::Diff;\n");
    assert_eq!(
        summary(&found),
        [(1, "crate::tools::diff::Diff".into(), Some(Layer::Tools))]
    );
    let message = found[0].to_string();
    assert!(message.starts_with("src/api/cursor.rs:1: `crate::tools::diff::Diff`"));
    assert!(message.contains("api layer imports from tools"));
}

#[test]
fn scanner_expands_multi_line_and_nested_groups() {
    let source = "\
use crate::{
    error::Error,
    format::Slot,
    api::{cursor::Cursor, map::MapView},
    storage::{self, Storage as S},
};
";
    let found = synthetic("tree/hamt/mod.rs", source);
    assert_eq!(
        summary(&found),
        [
            (4, "crate::api::cursor::Cursor".into(), Some(Layer::Api)),
            (4, "crate::api::map::MapView".into(), Some(Layer::Api)),
        ]
    );
    // format must not reach storage, even through `self` in a group
    let found = synthetic("format/slot.rs", source);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found
        .iter()
        .any(|v| v.path == "crate::storage::self" && v.line == 5));
}

#[test]
fn scanner_catches_inline_paths_and_root_reexports() {
    let source = "\
fn f() -> crate::Result<()> {
    let d: crate::tools::diff::Diff = todo!();
    let db = crate::Database::memory();
    let _ = crate::diff::diff(a, b);
    Err(crate::Error::ReadOnly)
}
macro_rules! m { () => { $crate::Opts::default() } }
";
    let found = synthetic("tree/bytes.rs", source);
    assert_eq!(
        summary(&found),
        [
            (2, "crate::tools::diff::Diff".into(), Some(Layer::Tools)),
            (3, "crate::Database::memory".into(), Some(Layer::Api)),
            (4, "crate::diff::diff".into(), Some(Layer::Tools)),
            (7, "crate::Opts::default".into(), Some(Layer::Api)),
        ]
    );
    // the same code is fine one layer up, where only tools is higher
    let found = synthetic("api/list.rs", source);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(synthetic("tools/compact.rs", source).is_empty());
}

#[test]
fn scanner_resolves_super_and_self() {
    let found = synthetic(
        "api/map.rs",
        "use super::super::tools::json;\nuse super::cursor::Cursor;\nuse self::inner::X;\n",
    );
    assert_eq!(
        summary(&found),
        [(1, "super::super::tools::json".into(), Some(Layer::Tools))]
    );
    // from a folder's mod.rs, one `super` is the crate root
    let found = synthetic("format/mod.rs", "pub(crate) use super::storage::Storage;\n");
    assert_eq!(
        summary(&found),
        [(1, "super::storage::Storage".into(), Some(Layer::Storage))]
    );
    // `super::*` of a top-level module is the whole root: not placeable
    let found = synthetic("storage/mod.rs", "use super::*;\n");
    assert_eq!(summary(&found), [(1, "super::*".into(), None)]);
}

#[test]
fn scanner_ignores_comments_literals_and_visibility() {
    let source = r##"
// use crate::tools::diff;
/// See [`crate::tools::diff::Diff`] and [`crate::Database`].
//! crate::api::Cursor
/* crate::tools::x /* nested crate::api::y */ still a comment crate::tools::z */
const A: &str = "crate::tools::diff";
const B: &str = r#"crate::api::"quoted" Cursor"#;
const C: &[u8] = br"crate::tools";
const D: char = '"';
const E: char = '\'';
pub(crate) fn f<'a>(x: &'a str) -> &'a str { x }
pub(in crate::api) fn g() {}
use crate::error::Error;
"##;
    assert!(synthetic("format/header.rs", source).is_empty());
    // code after a char literal holding a quote is still code
    let found = synthetic(
        "format/header.rs",
        "const Q: char = '\"'; use crate::api::X;\n",
    );
    assert_eq!(
        summary(&found),
        [(1, "crate::api::X".into(), Some(Layer::Api))]
    );
}

#[test]
fn scanner_skips_test_modules_to_the_end_of_the_file() {
    let source = "\
use crate::error::Error;

#[cfg(test)]
mod tests {
    use crate::Database;
    use crate::tools::verify;
}
";
    assert!(synthetic("tree/linked_list/edit.rs", source).is_empty());
    // a commented-out attribute does not end the scan
    let found = synthetic("tree/access.rs", "// #[cfg(test)]\nuse crate::Database;\n");
    assert_eq!(
        summary(&found),
        [(2, "crate::Database".into(), Some(Layer::Api))]
    );
}

#[test]
fn scanner_reports_paths_it_cannot_place() {
    let found = synthetic("storage/file.rs", "use crate::nowhere::Thing;\n");
    assert_eq!(summary(&found), [(1, "crate::nowhere::Thing".into(), None)]);
    assert!(found[0].to_string().contains("cannot tell which layer"));
    // and files outside every layer are an error, lib.rs excepted
    let roots = Roots::from_lib(SYNTHETIC_LIB).unwrap();
    assert!(scan("macros.rs", "", &roots).is_err());
    assert!(scan("lib.rs", "use crate::tools::diff;", &roots)
        .unwrap()
        .is_empty());
}
