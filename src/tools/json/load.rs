//! Building a database from its canonical JSON dump.

use crate::api::cursor_mut::CursorMut;
use crate::api::database::{Database, Options};
use crate::api::value::Value;
use crate::error::{Error, Result};
use crate::format::Tag;
use crate::format::{HashKind, Hasher, ListFamily};
use crate::storage::Storage;
use serde_json::Value as Json;

fn bad(msg: impl Into<String>) -> Error {
    Error::Json(msg.into())
}

/// Builds a database from a canonical JSON dump, into empty storage.
///
/// The result has the same header kind, the same moments (one transaction
/// each), and the same structures, hashes, keys and values, so that
/// [`crate::json::dump_json`] of it reproduces the document. Entries are
/// inserted by their recorded hashes, so no key is rehashed.
pub fn load_json<S: Storage>(json: &str, store: S) -> Result<Database<S>> {
    load_json_with(json, store, ListFamily::BTree)
}

/// Like [`load_json`], writing linked lists in `family`: the JSON does not
/// say which layout the database it came from used, so the caller chooses
/// (the current upstream family, [`ListFamily::BTree`], by default).
pub fn load_json_with<S: Storage>(json: &str, store: S, family: ListFamily) -> Result<Database<S>> {
    if !store.is_empty() {
        return Err(Error::InvalidArgument("load_json needs empty storage"));
    }
    let doc: Json = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let header = field(&doc, "header")?;
    let hash_id = field(header, "hash_id")?
        .as_str()
        .ok_or_else(|| bad("hash_id"))?;
    let hash_size = field(header, "hash_size")?
        .as_u64()
        .ok_or_else(|| bad("hash_size"))?;
    let hash = [HashKind::Sha1, HashKind::Blake3]
        .into_iter()
        .find(|k| k.id() == hash_id.as_bytes() && u64::from(k.size()) == hash_size)
        .ok_or_else(|| bad(format!("unsupported hasher {hash_id}/{hash_size}")))?;
    let tag_name = field(header, "tag")?.as_str().ok_or_else(|| bad("tag"))?;
    let tag = Tag::from_name(tag_name).ok_or_else(|| bad(format!("unknown tag {tag_name}")))?;
    let root = field(&doc, "root")?;
    let mut db = Database::open_storage(
        store,
        Options {
            hash,
            list_family: Some(family),
            ..Options::default()
        },
    )?;
    match tag {
        Tag::None => {}
        Tag::ArrayList => {
            let moments = field(root, "array_list")?
                .as_array()
                .ok_or_else(|| bad("history must be an array"))?;
            for m in moments {
                db.transact(|tx| build(tx.root(), m))?;
            }
            if moments.is_empty() {
                db.transact(|tx| tx.root().write(()))?;
                db.truncate_history(0)?;
            }
        }
        t if t.is_hamt() => db.transact_root(|tx| build(tx.root(), root))?,
        t => return Err(bad(format!("tag {t} cannot be a root"))),
    }
    Ok(db)
}

fn field<'a>(v: &'a Json, name: &str) -> Result<&'a Json> {
    v.get(name)
        .ok_or_else(|| bad(format!("missing field {name}")))
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(bad(format!("{s:?} has an odd number of hex digits")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(format!("{s:?} is not hex")))
        })
        .collect()
}

fn float(v: &Json) -> Result<f64> {
    match v {
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(bad("bad float")),
        },
        n => n.as_f64().ok_or_else(|| bad("bad float")),
    }
}

/// Writes one value given in the canonical JSON form at `cursor`,
/// replacing what is there.
///
/// The form is the one [`crate::tools::json::dump_value`] prints for a value:
/// `null`, `{"uint":N}`, `{"int":N}`, `{"float":X}` (or `"NaN"`,
/// `"Infinity"`, `"-Infinity"`), `{"bytes":"HEX"}` with an optional
/// `"format_tag":"HEX"` (2 bytes), `{"array_list":[VALUE,...]}`,
/// `{"linked_array_list":[VALUE,...]}`, `{"hash_map":[ENTRY,...]}`,
/// `{"hash_set":[ENTRY,...]}`, and `{"counted_hash_map":{"count":N,
/// "entries":[ENTRY,...]}}` / `{"counted_hash_set":{...}}` (the count is
/// not checked). An ENTRY is `{"hash":"HEX","key":VALUE,"value":VALUE}`;
/// set members have no `"value"`. `{"sorted_map":[{"key":{"bytes":"HEX"},
/// "value":VALUE},...]}` and `{"sorted_set":[{"key":{"bytes":"HEX"}},...]}`
/// list their entries in strictly ascending key order (keys out of order or
/// repeated are an error); a missing `"value"` is null.
///
/// Structures are created fresh: an existing structure at `cursor` is
/// replaced, not merged into. Entries are inserted by their hashes, so a
/// dump reproduces them exactly. Beyond what the dump prints, this reader
/// accepts:
///
/// - entries without a `"hash"`: the key is then required and must be
///   bytes, and its bytes are hashed with the database's hasher (as
///   [`crate::MapMut::put`] would);
/// - entries with a `"hash"` but no `"key"` (the key is then null), and map
///   entries without a `"value"` (the value is then null).
///
/// Anything else (booleans, strings or numbers where a value is expected,
/// integers out of range, unknown kinds or fields) is an [`Error::Json`];
/// what was written before the error is left to the transaction to undo.
pub fn write_json_value(cursor: CursorMut<'_>, value: &Json) -> Result<()> {
    build(cursor, value)
}

const NOT_A_VALUE: &str = "a value must be null or an object with one kind, such as \
     {\"int\":5} or {\"hash_map\":[{\"key\":{\"bytes\":\"6b\"},\"value\":null}]}";

/// Writes one canonical VALUE at `cur`, replacing what is there.
fn build(mut cur: CursorMut<'_>, v: &Json) -> Result<()> {
    let obj = match v {
        Json::Null => return cur.write(()),
        Json::Object(o) => o,
        other => return Err(bad(format!("{NOT_A_VALUE}, found {other}"))),
    };
    let (kind, body) = obj
        .iter()
        .find(|(k, _)| k.as_str() != "format_tag")
        .map(|(k, v)| (k.as_str(), v))
        .ok_or_else(|| bad(format!("{NOT_A_VALUE}, found {v}")))?;
    let allowed = if kind == "bytes" { 2 } else { 1 };
    if obj.len() > allowed || (obj.len() == 2 && !obj.contains_key("format_tag")) {
        return Err(bad(format!("{NOT_A_VALUE}, found {v} (too many keys)")));
    }
    let needs = |what: &str| bad(format!("{{\"{kind}\":...}} needs {what}, found {body}"));
    match kind {
        "uint" => cur.write(body.as_u64().ok_or_else(|| needs("an integer 0..2^64-1"))?),
        "int" => cur.write(
            body.as_i64()
                .ok_or_else(|| needs("an integer -2^63..2^63-1"))?,
        ),
        "float" => cur.write(
            float(body).map_err(|_| needs("a number, \"NaN\", \"Infinity\" or \"-Infinity\""))?,
        ),
        "bytes" => {
            let data = unhex(body.as_str().ok_or_else(|| needs("a hex string"))?)?;
            let tag = match obj.get("format_tag") {
                Some(t) => {
                    let t = unhex(
                        t.as_str()
                            .ok_or_else(|| bad("format_tag must be a hex string"))?,
                    )?;
                    Some(<[u8; 2]>::try_from(t).map_err(|_| bad("format_tag must be 2 bytes"))?)
                }
                None => None,
            };
            cur.write(Value::Bytes(&data, tag))
        }
        "array_list" | "linked_array_list" => {
            let list = body.as_array().ok_or_else(|| needs("an array of values"))?;
            cur.write(())?;
            if kind == "array_list" {
                let mut l = cur.array_list()?;
                for item in list {
                    build(l.append_cursor()?, item)?;
                }
            } else {
                let mut l = cur.linked_array_list()?;
                for item in list {
                    build(l.append_cursor()?, item)?;
                }
            }
            Ok(())
        }
        "hash_map" | "hash_set" | "counted_hash_map" | "counted_hash_set" => {
            build_hamt(cur, kind, body)
        }
        "sorted_map" | "sorted_set" => {
            let list = body
                .as_array()
                .ok_or_else(|| needs("an array of entries"))?;
            build_sorted(cur, kind == "sorted_map", list)
        }
        other => Err(bad(format!("unknown value kind {other:?}: {NOT_A_VALUE}"))),
    }
}

/// Writes a HashMap or HashSet (counted or not) from its entries.
fn build_hamt(mut cur: CursorMut<'_>, kind: &str, body: &Json) -> Result<()> {
    let needs = |what: &str| bad(format!("{{\"{kind}\":...}} needs {what}, found {body}"));
    let counted = kind.starts_with("counted");
    let list = if counted {
        body.get("entries")
    } else {
        Some(body)
    }
    .and_then(Json::as_array)
    .ok_or_else(|| {
        needs(if counted {
            "{\"count\":N,\"entries\":[...]}"
        } else {
            "an array of entries"
        })
    })?;
    let hasher = cur.hasher();
    cur.write(())?;
    if kind.ends_with("set") {
        let mut set = if counted {
            cur.counted_hash_set()?
        } else {
            cur.hash_set()?
        };
        for e in list {
            let e = Entry::read(e, true, &hasher)?;
            let mut entry = set.entry_by_hash(&e.hash)?;
            build(entry.key(), e.key)?;
        }
    } else {
        let mut map = if counted {
            cur.counted_hash_map()?
        } else {
            cur.hash_map()?
        };
        for e in list {
            let e = Entry::read(e, false, &hasher)?;
            let mut entry = map.entry_by_hash(&e.hash)?;
            build(entry.key(), e.key)?;
            build(entry.value(), e.value)?;
        }
    }
    Ok(())
}

/// Writes a sorted map or set from its entries, which must come in
/// strictly ascending key order (as the dump prints them).
fn build_sorted(mut cur: CursorMut<'_>, is_map: bool, list: &[Json]) -> Result<()> {
    cur.write(())?;
    let mut prev: Option<Vec<u8>> = None;
    let mut next_key = |i: usize, e: &Json| -> Result<Vec<u8>> {
        let key = sorted_key(e, is_map).map_err(|e| match e {
            Error::Json(m) => bad(format!("sorted entry {i}: {m}")),
            other => other,
        })?;
        if prev.as_ref().is_some_and(|p| *p >= key) {
            return Err(bad(format!(
                "sorted entry {i}: key {} is not above the key before it (keys must be \
                 strictly ascending)",
                super::dump::hex(&key)
            )));
        }
        prev = Some(key.clone());
        Ok(key)
    };
    if is_map {
        let mut map = cur.sorted_map()?;
        for (i, e) in list.iter().enumerate() {
            let key = next_key(i, e)?;
            build(map.entry(&key)?, e.get("value").unwrap_or(&Json::Null))?;
        }
    } else {
        let mut set = cur.sorted_set()?;
        for (i, e) in list.iter().enumerate() {
            set.insert(next_key(i, e)?)?;
        }
    }
    Ok(())
}

/// The key of a sorted entry `{"key":{"bytes":"HEX"},"value":VALUE}` (no
/// `"value"` for set members), checking its fields.
fn sorted_key(e: &Json, is_map: bool) -> Result<Vec<u8>> {
    let o = e.as_object().ok_or_else(|| {
        bad(format!(
            "an entry must be an object with a \"key\", found {e}"
        ))
    })?;
    if let Some(k) = o
        .keys()
        .find(|k| !(k.as_str() == "key" || (is_map && k.as_str() == "value")))
    {
        return Err(bad(format!("unknown field {k:?}")));
    }
    let key = o.get("key").ok_or_else(|| bad("missing \"key\""))?;
    let hex = key
        .as_object()
        .filter(|k| k.len() == 1)
        .and_then(|k| k.get("bytes"))
        .and_then(Json::as_str)
        .ok_or_else(|| bad(format!("a key must be {{\"bytes\":\"HEX\"}}, found {key}")))?;
    unhex(hex)
}

/// One map entry or set member, checked, with its hash.
struct Entry<'j> {
    hash: Vec<u8>,
    key: &'j Json,
    value: &'j Json,
}

impl<'j> Entry<'j> {
    fn read(e: &'j Json, is_set: bool, hasher: &Hasher) -> Result<Self> {
        let o = e.as_object().ok_or_else(|| {
            bad(format!(
                "an entry must be an object with a \"key\", found {e}"
            ))
        })?;
        if let Some(k) = o
            .keys()
            .find(|k| !matches!(k.as_str(), "hash" | "key" | "value"))
        {
            return Err(bad(format!("unknown entry field {k:?}")));
        }
        let key = o.get("key").unwrap_or(&Json::Null);
        let value = o.get("value").unwrap_or(&Json::Null);
        if is_set && !value.is_null() {
            return Err(bad("set members have no \"value\""));
        }
        let hash = match o.get("hash") {
            Some(h) => unhex(
                h.as_str()
                    .ok_or_else(|| bad("an entry's hash must be a hex string"))?,
            )?,
            None => {
                let bytes = key.get("bytes").and_then(Json::as_str).ok_or_else(|| {
                    bad(format!(
                        "an entry without a \"hash\" needs bytes as its \"key\", found {key}"
                    ))
                })?;
                hasher.hash(&unhex(bytes)?)?.as_bytes().to_vec()
            }
        };
        Ok(Entry { hash, key, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;
    use crate::tools::json::dump_value;

    fn db() -> Database<MemoryStorage> {
        Database::open_storage(MemoryStorage::new(), Options::default()).unwrap()
    }

    fn written(json: &str) -> Result<String> {
        let v: Json = serde_json::from_str(json).unwrap();
        let mut db = db();
        db.transact(|tx| write_json_value(tx.root(), &v))?;
        dump_value(&db.moment(-1)?)
    }

    #[test]
    fn dumped_values_write_back_to_themselves() {
        for canon in [
            "null",
            r#"{"uint":18446744073709551615}"#,
            r#"{"int":-5}"#,
            r#"{"float":"NaN"}"#,
            r#"{"bytes":"00ff","format_tag":"6a73"}"#,
            r#"{"linked_array_list":[{"uint":1},{"array_list":[]}]}"#,
            r#"{"counted_hash_set":{"count":0,"entries":[]}}"#,
            r#"{"sorted_map":[{"key":{"bytes":""},"value":null},{"key":{"bytes":"00"},"value":{"sorted_set":[{"key":{"bytes":"61"}},{"key":{"bytes":"ff"}}]}},{"key":{"bytes":"01"},"value":{"uint":1}}]}"#,
            r#"{"sorted_set":[]}"#,
        ] {
            assert_eq!(written(canon).unwrap(), canon);
        }
    }

    #[test]
    fn entries_without_a_hash_hash_their_key() {
        let mut db = db();
        db.transact(|tx| -> Result<()> {
            let mut m = tx.root().hash_map()?;
            m.put("k", 1u64)?;
            m.put("a", ())?;
            Ok(())
        })
        .unwrap();
        let expected = dump_value(&db.moment(-1).unwrap()).unwrap();
        let got = written(
            r#"{"hash_map":[{"key":{"bytes":"6b"},"value":{"uint":1}},{"key":{"bytes":"61"}}]}"#,
        )
        .unwrap();
        assert_eq!(got, expected);
        // and the canonical form with hashes writes the same
        assert_eq!(written(&expected).unwrap(), expected);
    }

    #[test]
    fn bad_values_are_json_errors() {
        for bad in [
            "true",
            "5",
            r#"{"uint":-1}"#,
            r#"{"int":18446744073709551615}"#,
            r#"{"name":"x"}"#,
            r#"{"int":5,"uint":3}"#,
            r#"{"bytes":"0"}"#,
            r#"{"bytes":"00","format_tag":"00"}"#,
            r#"{"hash_map":[{"key":{"uint":5},"value":null}]}"#,
            r#"{"hash_map":[{"hash":"00","key":null,"x":1}]}"#,
            r#"{"hash_set":[{"key":{"bytes":"61"},"value":{"uint":1}}]}"#,
            r#"{"counted_hash_map":[]}"#,
            r#"{"sorted_map":{}}"#,
            r#"{"sorted_map":[{"value":null}]}"#,
            r#"{"sorted_map":[{"key":{"uint":1},"value":null}]}"#,
            r#"{"sorted_map":[{"key":{"bytes":"61","format_tag":"0000"},"value":null}]}"#,
            r#"{"sorted_map":[{"key":{"bytes":"6"},"value":null}]}"#,
            r#"{"sorted_map":[{"key":{"bytes":"62"}},{"key":{"bytes":"61"}}]}"#,
            r#"{"sorted_map":[{"key":{"bytes":"61"}},{"key":{"bytes":"61"}}]}"#,
            r#"{"sorted_map":[{"key":{"bytes":"61"},"hash":"00"}]}"#,
            r#"{"sorted_set":[{"key":{"bytes":"61"},"value":null}]}"#,
            r#"{"sorted_set":[{"key":{"bytes":"6161"}},{"key":{"bytes":"61"}}]}"#,
            r#"{"sorted_set":[5]}"#,
        ] {
            assert!(
                matches!(written(bad), Err(Error::Json(_))),
                "{bad}: {:?}",
                written(bad)
            );
        }
    }
}
