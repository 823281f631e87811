//! The in-memory database as a zero-decode wire format: build a database in
//! memory, hand its bytes to a "receiver", which reads them in place.
use xitdb::format::HashKind;
use xitdb::{Database, Error};

fn main() -> Result<(), Error> {
    // SHA-1 keeps the bytes readable by every other xitdb implementation.
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| -> Result<(), Error> {
        let mut root = tx.root_map()?;
        root.put("greeting", "hello")?;
        let mut nums = root.entry("primes")?.array_list()?;
        for p in [2u64, 3, 5, 7, 11] {
            nums.append(p)?;
        }
        Ok(())
    })?;
    let bytes: Vec<u8> = db.into_bytes();
    println!("sending {} bytes", bytes.len());

    // The receiver borrows the bytes: only the 12-byte header is checked.
    let received = Database::from_slice(&bytes)?;
    let root = received.moment(-1)?.as_map()?;
    let greeting = root.require("greeting")?;
    let primes = root.require("primes")?.as_list()?;
    let sum: u64 = primes
        .iter()
        .map(|c| c?.as_u64())
        .sum::<Result<u64, Error>>()?;
    println!("greeting = {}", greeting.as_str()?);
    println!("sum of primes = {sum}");
    assert_eq!(sum, 28);

    // Hostile bytes never crash the reader: they give an error.
    let mut damaged = bytes.clone();
    damaged.truncate(bytes.len() / 2);
    match Database::from_slice(&damaged).and_then(|db| xitdb::json::dump_json(&db)) {
        Ok(_) => println!("damaged copy still readable"),
        Err(e) => println!("damaged copy: {e}"),
    }
    Ok(())
}
