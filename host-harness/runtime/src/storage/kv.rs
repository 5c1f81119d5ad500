//! The one trait in front of every store backend, and what it answers with.

use anyhow::{Context, Result};

/// A page of keys from `list_keys`, with the cursor of the next page.
pub struct KeyPage {
    pub keys: Vec<String>,
    pub cursor: Option<u64>,
}

/// What a namespace holds, for quotas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub keys: u64,
    pub bytes: u64,
}

/// Durable or in-memory key/value storage shared by every tenant of a host.
pub trait Storage: Send + Sync {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>>;
    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()>;
    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()>;
    /// Keys in order, `limit` at a time; `cursor` is an offset returned by the previous page.
    fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage>;

    /// Adds `delta` to the counter at `key` (a missing key counts from 0) and returns the new
    /// value, atomically with respect to every other caller on the same store, in this process or
    /// another. Counters are stored as decimal text; a value that is not one is an error.
    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64>;

    /// Reads several keys at once; `None` for a missing key, in the order asked.
    fn get_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|k| self.get(namespace, bucket, k)).collect()
    }

    /// Writes several keys; backends that can do so write them all or none.
    fn set_many(&self, namespace: &str, bucket: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        entries.iter().try_for_each(|(k, v)| self.set(namespace, bucket, k, v))
    }

    /// Deletes several keys (missing keys are fine).
    fn delete_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<()> {
        keys.iter().try_for_each(|k| self.delete(namespace, bucket, k))
    }

    /// Keys and bytes (key plus value lengths) a namespace holds, over all its buckets.
    fn usage(&self, namespace: &str) -> Result<Usage>;

    /// The stored length of each value (`None`: missing), in the order asked.
    fn value_sizes(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<u64>>> {
        Ok(self.get_many(namespace, bucket, keys)?.into_iter().map(|v| v.map(|v| v.len() as u64)).collect())
    }

    /// Every (namespace, bucket) holding at least one key: for whole-store maintenance such as
    /// re-sealing secrets under a new host key.
    fn scopes(&self) -> Result<Vec<(String, String)>>;
}

/// The counter after adding `delta` to the stored `value` (absent = 0).
pub(crate) fn incremented(key: &str, value: Option<&[u8]>, delta: u64) -> Result<u64> {
    let current = match value {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .with_context(|| format!("`{key}` does not hold a counter"))?,
    };
    current.checked_add(delta).with_context(|| format!("the counter `{key}` would overflow"))
}
