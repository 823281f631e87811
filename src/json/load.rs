//! Building a database from its canonical JSON dump.

use crate::db::{Database, Options};
use crate::error::{Error, Result};
use crate::format::Tag;
use crate::hash::HashKind;
use crate::storage::Storage;
use crate::value::Value;
use crate::write::WriteCursor;
use serde_json::{Map, Value as Json};

fn bad(msg: impl Into<String>) -> Error {
    Error::Json(msg.into())
}

/// Builds a database from a canonical JSON dump, into empty storage.
///
/// The result has the same header kind, the same moments (one transaction
/// each), and the same structures, hashes, keys and values, so that
/// [`crate::dump_json`] of it reproduces the document. Entries are
/// inserted by their recorded hashes, so no key is rehashed.
pub fn load_json<S: Storage>(json: &str, store: S) -> Result<Database<S>> {
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

fn single(obj: &Map<String, Json>) -> Result<(&str, &Json)> {
    obj.iter()
        .next()
        .map(|(k, v)| (k.as_str(), v))
        .ok_or_else(|| bad("empty value object"))
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(bad("odd-length hex"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("bad hex"))
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

/// Writes one canonical VALUE at `cur`, replacing what is there.
fn build(mut cur: WriteCursor<'_>, v: &Json) -> Result<()> {
    let obj = match v {
        Json::Null => return cur.write(()),
        Json::Object(o) => o,
        _ => return Err(bad("a value must be null or an object")),
    };
    let (kind, body) = single(obj)?;
    match kind {
        "uint" => cur.write(body.as_u64().ok_or_else(|| bad("bad uint"))?),
        "int" => cur.write(body.as_i64().ok_or_else(|| bad("bad int"))?),
        "float" => cur.write(float(body)?),
        "bytes" => {
            let data = unhex(body.as_str().ok_or_else(|| bad("bytes must be hex"))?)?;
            let tag = match obj.get("format_tag") {
                Some(t) => {
                    let t = unhex(t.as_str().ok_or_else(|| bad("format_tag must be hex"))?)?;
                    Some(<[u8; 2]>::try_from(t).map_err(|_| bad("format_tag must be 2 bytes"))?)
                }
                None => None,
            };
            cur.write(Value::Bytes(&data, tag))
        }
        "array_list" => {
            cur.write(())?;
            let mut list = cur.array_list()?;
            for item in items(body)? {
                build(list.append_cursor()?, item)?;
            }
            Ok(())
        }
        "linked_array_list" => {
            cur.write(())?;
            let mut list = cur.linked_array_list()?;
            for item in items(body)? {
                build(list.append_cursor()?, item)?;
            }
            Ok(())
        }
        "hash_map" | "hash_set" | "counted_hash_map" | "counted_hash_set" => {
            cur.write(())?;
            let counted = kind.starts_with("counted");
            let entries = if counted {
                field(body, "entries")?
            } else {
                body
            };
            let with_values = kind.ends_with("map");
            let mut map = match kind {
                "hash_map" => cur.hash_map()?,
                "counted_hash_map" => cur.counted_hash_map()?,
                _ => return build_set(cur, kind, entries),
            };
            for e in items(entries)? {
                let hash = unhex(field(e, "hash")?.as_str().ok_or_else(|| bad("hash"))?)?;
                let mut entry = map.entry_by_hash(&hash)?;
                build(entry.key(), field(e, "key")?)?;
                if with_values {
                    build(entry.value(), field(e, "value")?)?;
                }
            }
            Ok(())
        }
        other => Err(bad(format!("unknown value kind {other}"))),
    }
}

fn build_set(cur: WriteCursor<'_>, kind: &str, entries: &Json) -> Result<()> {
    let mut set = if kind == "counted_hash_set" {
        cur.counted_hash_set()?
    } else {
        cur.hash_set()?
    };
    for e in items(entries)? {
        let hash = unhex(field(e, "hash")?.as_str().ok_or_else(|| bad("hash"))?)?;
        let mut entry = set.entry_by_hash(&hash)?;
        build(entry.key(), field(e, "key")?)?;
    }
    Ok(())
}

fn items(v: &Json) -> Result<&Vec<Json>> {
    v.as_array().ok_or_else(|| bad("expected an array"))
}
