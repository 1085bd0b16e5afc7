//! Byte layouts of every RocksDB key and value the engine writes.
//!
//! User keys are stored in an order-preserving, prefix-free encoding so that a user key
//! followed by a revision suffix sorts first by user key, then by revision:
//! every 0x00 byte becomes `00 ff`, and the key ends with `00 00`.
//! All integers in keys are big-endian so byte order is numeric order.

use crate::error::{Error, Result};
use crate::types::KeyValue;

/// Appends the order-preserving encoding of `key` to `out`.
pub fn encode_user_key(key: &[u8], out: &mut Vec<u8>) {
    out.reserve(key.len() + 2);
    for &b in key {
        if b == 0 {
            out.extend_from_slice(&[0, 0xff]);
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Decodes a user key from the front of `buf`; returns it and the number of bytes used.
pub fn decode_user_key(buf: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut key = Vec::with_capacity(buf.len());
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if b != 0 {
            key.push(b);
            i += 1;
            continue;
        }
        match buf.get(i + 1) {
            Some(0xff) => {
                key.push(0);
                i += 2;
            }
            Some(0) => return Ok((key, i + 2)),
            _ => return Err(Error::Corrupted("bad user key encoding".into())),
        }
    }
    Err(Error::Corrupted("unterminated user key".into()))
}

/// The `kv` column family key for one version: encoded user key, then the main revision
/// inverted so that the newest version of a key comes first.
pub fn kv_key(key: &[u8], main_rev: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 10);
    encode_user_key(key, &mut out);
    out.extend_from_slice(&inverted_rev(main_rev));
    out
}

/// The smallest `kv` key of `key`'s versions (its newest possible version).
pub fn kv_key_first(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    encode_user_key(key, &mut out);
    out
}

fn inverted_rev(main_rev: i64) -> [u8; 8] {
    debug_assert!(main_rev >= 0);
    (u64::MAX - main_rev as u64).to_be_bytes()
}

/// Splits a `kv` key into the user key and the main revision.
#[cfg(test)]
pub fn split_kv_key(k: &[u8]) -> Result<(Vec<u8>, i64)> {
    let (key, used) = decode_user_key(k)?;
    let rest = &k[used..];
    let arr: [u8; 8] = rest
        .try_into()
        .map_err(|_| Error::Corrupted("bad kv key length".into()))?;
    Ok((key, (u64::MAX - u64::from_be_bytes(arr)) as i64))
}

/// The encoded user-key part of a `kv` key (without the revision suffix).
pub fn kv_key_user_part(k: &[u8]) -> &[u8] {
    // (Also the `kv` family's prefix extractor: keep it a pure function of the key.)
    &k[..k.len().saturating_sub(8)]
}

/// Whether `k` can be a `kv` key (the prefix extractor's domain: an encoded user key
/// of at least one byte, then 8 revision bytes).
pub fn is_kv_key(k: &[u8]) -> bool {
    k.len() > 8
}

/// The main revision of a `kv` key.
pub fn kv_key_rev(k: &[u8]) -> Result<i64> {
    if k.len() < 10 {
        return Err(Error::Corrupted("short kv key".into()));
    }
    let arr: [u8; 8] = k[k.len() - 8..].try_into().expect("8 bytes");
    Ok((u64::MAX - u64::from_be_bytes(arr)) as i64)
}

/// The `rev` column family key: (main, sub) big-endian, the history in revision order.
pub fn rev_key(main_rev: i64, sub_rev: u32) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&(main_rev as u64).to_be_bytes());
    out[8..].copy_from_slice(&sub_rev.to_be_bytes());
    out
}

pub fn split_rev_key(k: &[u8]) -> Result<(i64, u32)> {
    if k.len() != 12 {
        return Err(Error::Corrupted("bad rev key length".into()));
    }
    let main = u64::from_be_bytes(k[..8].try_into().expect("8 bytes")) as i64;
    let sub = u32::from_be_bytes(k[8..].try_into().expect("4 bytes"));
    Ok((main, sub))
}

/// Lease table keys (`lease` column family).
pub fn lease_key(id: i64) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[0] = b'L';
    out[1..].copy_from_slice(&(id as u64).to_be_bytes());
    out
}

/// The key that records "`key` is attached to lease `id`".
pub fn lease_attach_key(id: i64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + key.len());
    out.push(b'K');
    out.extend_from_slice(&(id as u64).to_be_bytes());
    out.extend_from_slice(key);
    out
}

pub fn lease_attach_prefix(id: i64) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[0] = b'K';
    out[1..].copy_from_slice(&(id as u64).to_be_bytes());
    out
}

pub fn lease_id_from_key(k: &[u8]) -> Result<i64> {
    if k.len() < 9 {
        return Err(Error::Corrupted("short lease key".into()));
    }
    Ok(u64::from_be_bytes(k[1..9].try_into().expect("8 bytes")) as i64)
}

/// Raft log entry key (`raft_log` column family).
pub fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

pub fn log_index(k: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = k
        .try_into()
        .map_err(|_| Error::Corrupted("bad log key".into()))?;
    Ok(u64::from_be_bytes(arr))
}

// ---- varints -------------------------------------------------------------------------

pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn get_uvarint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf
            .get(*pos)
            .ok_or_else(|| Error::Corrupted("truncated varint".into()))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(Error::Corrupted("varint too long".into()))
}

// ---- version records -------------------------------------------------------------------

const FLAG_TOMBSTONE: u8 = 1;

/// One stored version of a key: the `kv` column family value. The main revision is in the
/// RocksDB key; a tombstone records a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub tombstone: bool,
    pub create_revision: i64,
    pub sub_revision: u32,
    pub version: i64,
    pub lease: i64,
    pub value: Vec<u8>,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.value.len() + 16);
        out.push(if self.tombstone { FLAG_TOMBSTONE } else { 0 });
        put_uvarint(&mut out, self.create_revision as u64);
        put_uvarint(&mut out, u64::from(self.sub_revision));
        put_uvarint(&mut out, self.version as u64);
        put_uvarint(&mut out, self.lease as u64);
        out.extend_from_slice(&self.value);
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Record> {
        let flags = *buf
            .first()
            .ok_or_else(|| Error::Corrupted("empty record".into()))?;
        if flags & !FLAG_TOMBSTONE != 0 {
            return Err(Error::Corrupted(format!("unknown record flags {flags:#x}")));
        }
        let mut pos = 1;
        let create_revision = get_uvarint(buf, &mut pos)? as i64;
        let sub = get_uvarint(buf, &mut pos)?;
        let version = get_uvarint(buf, &mut pos)? as i64;
        let lease = get_uvarint(buf, &mut pos)? as i64;
        let sub_revision =
            u32::try_from(sub).map_err(|_| Error::Corrupted("sub revision out of range".into()))?;
        Ok(Record {
            tombstone: flags & FLAG_TOMBSTONE != 0,
            create_revision,
            sub_revision,
            version,
            lease,
            value: buf[pos..].to_vec(),
        })
    }

    pub fn to_kv(&self, key: &[u8], mod_revision: i64) -> KeyValue {
        KeyValue {
            key: key.to_vec(),
            create_revision: self.create_revision,
            mod_revision,
            version: self.version,
            value: self.value.clone(),
            lease: self.lease,
        }
    }

    pub fn into_kv(self, key: Vec<u8>, mod_revision: i64) -> KeyValue {
        KeyValue {
            key,
            create_revision: self.create_revision,
            mod_revision,
            version: self.version,
            value: self.value,
            lease: self.lease,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_key_encoding_preserves_order_and_round_trips() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"\x00",
            b"\x00\x00",
            b"\x00\x01",
            b"a",
            b"a\x00",
            b"a\x00b",
            b"a\x01",
            b"ab",
            b"b",
            b"\xff",
            b"\xff\xff",
        ];
        for w in keys.windows(2) {
            assert!(w[0] < w[1]);
            assert!(
                kv_key(w[0], 5) < kv_key(w[1], 1),
                "{:?} vs {:?}",
                w[0],
                w[1]
            );
        }
        for k in keys {
            let kk = kv_key(k, 42);
            assert_eq!(split_kv_key(&kk).unwrap(), (k.to_vec(), 42));
        }
    }

    #[test]
    fn newer_versions_sort_first() {
        assert!(kv_key(b"k", 10) < kv_key(b"k", 9));
        assert!(kv_key_first(b"k") < kv_key(b"k", i64::MAX));
    }

    #[test]
    fn record_round_trips_and_rejects_garbage() {
        let r = Record {
            tombstone: false,
            create_revision: 7,
            sub_revision: 3,
            version: 2,
            lease: 99,
            value: b"v".to_vec(),
        };
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);
        assert!(matches!(Record::decode(&[]), Err(Error::Corrupted(_))));
        assert!(matches!(Record::decode(&[0x80]), Err(Error::Corrupted(_))));
        assert!(matches!(
            Record::decode(&[0, 0xff]),
            Err(Error::Corrupted(_))
        ));
    }

    #[test]
    fn prefix_end_follows_etcd() {
        use crate::types::prefix_end;
        assert_eq!(prefix_end(b"abc"), b"abd");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
