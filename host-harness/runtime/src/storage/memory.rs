//! In-memory storage: the backend tests and embedders without a disk use.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::Result;

use super::kv::{KeyPage, Storage, Usage, incremented};

/// In-memory storage, for tests. Lost when dropped.
#[derive(Default)]
pub struct MemoryStorage {
    data: Mutex<BTreeMap<(String, String, String), Vec<u8>>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }
}

fn scope(namespace: &str, bucket: &str, key: &str) -> (String, String, String) {
    (namespace.to_owned(), bucket.to_owned(), key.to_owned())
}

impl Storage for MemoryStorage {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.data.lock().unwrap().get(&scope(namespace, bucket, key)).cloned())
    }

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        self.data.lock().unwrap().insert(scope(namespace, bucket, key), value.to_vec());
        Ok(())
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()> {
        self.data.lock().unwrap().remove(&scope(namespace, bucket, key));
        Ok(())
    }

    fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage> {
        let data = self.data.lock().unwrap();
        let start = cursor.unwrap_or(0) as usize;
        let mut keys: Vec<String> = data
            .range(scope(namespace, bucket, "")..)
            .take_while(|((n, b, _), _)| n == namespace && b == bucket)
            .skip(start)
            .take(limit + 1)
            .map(|((_, _, k), _)| k.clone())
            .collect();
        let more = keys.len() > limit;
        keys.truncate(limit);
        Ok(KeyPage { cursor: more.then_some((start + limit) as u64), keys })
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        let mut data = self.data.lock().unwrap();
        let scoped = scope(namespace, bucket, key);
        let next = incremented(key, data.get(&scoped).map(Vec::as_slice), delta)?;
        data.insert(scoped, next.to_string().into_bytes());
        Ok(next)
    }

    fn usage(&self, namespace: &str) -> Result<Usage> {
        let data = self.data.lock().unwrap();
        let mut usage = Usage::default();
        for ((_, _, k), v) in data.range(scope(namespace, "", "")..).take_while(|((n, _, _), _)| n == namespace) {
            usage.keys += 1;
            usage.bytes += (k.len() + v.len()) as u64;
        }
        Ok(usage)
    }

    fn scopes(&self) -> Result<Vec<(String, String)>> {
        let data = self.data.lock().unwrap();
        let mut scopes: Vec<(String, String)> = data.keys().map(|(n, b, _)| (n.clone(), b.clone())).collect();
        scopes.dedup();
        Ok(scopes)
    }
}
