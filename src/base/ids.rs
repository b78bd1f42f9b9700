//! Hashing of ids: the 64-bit hash the raw files carry beside each message id, and SQL has
//! as `id_hash(text)`.

/// xxHash3-64 of an id, as a signed long (Parquet has no unsigned 64-bit type).
pub fn hash_id(id: &str) -> i64 {
    twox_hash::XxHash3_64::oneshot(id.as_bytes()) as i64
}
