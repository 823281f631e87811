//! The reference's golden files (`tests/fixtures/golden/*.xdb`, each with
//! its canonical JSON dump beside it).

use std::fs;
use std::path::{Path, PathBuf};

/// The folder of the golden files.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// The golden file `file` (a name with its extension).
pub fn path(file: &str) -> PathBuf {
    dir().join(file)
}

/// Every golden `.xdb` file, sorted; fails if the set looks incomplete.
pub fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xdb"))
        .collect();
    v.sort();
    assert!(v.len() >= 43, "golden fixtures missing: {}", v.len());
    v
}

/// A fixture's name (its file stem).
pub fn name(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The upstream B-tree golden files (`tests/fixtures/golden-btree/`) that
/// hold no LinkedArrayList: sorted maps and sets only.
pub const SORTED_ONLY: &[&str] = &[
    "sorted_map_small",
    "sorted_map_large",
    "sorted_map_keys",
    "sorted_set_basic",
    "sorted_set_large",
    "sorted_map_clone",
    "sorted_remove_all",
];

/// Every upstream B-tree golden `.xdb` file, sorted.
pub fn btree_fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-btree");
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xdb"))
        .collect();
    v.sort();
    assert!(v.len() >= 18, "B-tree golden fixtures missing: {}", v.len());
    v
}

/// The B-tree golden file `file` (a name with its extension).
pub fn btree_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden-btree")
        .join(file)
}
