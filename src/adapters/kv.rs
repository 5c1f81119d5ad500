//! `KeyValue` over `wasi:keyvalue/store@0.2.0-draft`.

use crate::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::ports::KeyValue;

/// The tenant's storage: the host's default bucket (`""`), which the host scopes to one tenant.
pub struct WasiKeyValue {
    bucket: store::Bucket,
}

impl WasiKeyValue {
    /// Opens the default bucket.
    pub fn open() -> Result<Self, String> {
        store::open("")
            .map(|bucket| WasiKeyValue { bucket })
            .map_err(|e| format!("opening tenant storage: {}", describe(&e)))
    }
}

impl KeyValue for WasiKeyValue {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.bucket.get(key).map_err(|e| format!("reading `{key}`: {}", describe(&e)))
    }

    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.bucket.set(key, value).map_err(|e| format!("writing `{key}`: {}", describe(&e)))
    }

    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.bucket.delete(key).map_err(|e| format!("deleting `{key}`: {}", describe(&e)))
    }

    fn increment(&mut self, key: &str, delta: u64) -> Result<u64, String> {
        atomics::increment(&self.bucket, key, delta).map_err(|e| format!("incrementing `{key}`: {}", describe(&e)))
    }

    fn list_keys(&mut self) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.bucket.list_keys(cursor).map_err(|e| format!("listing keys: {}", describe(&e)))?;
            keys.extend(page.keys);
            // A cursor that does not move would loop forever on a misbehaving host.
            match page.cursor {
                Some(next) if Some(next) != cursor => cursor = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, String> {
        let mut values = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let found = batch::get_many(&self.bucket, chunk).map_err(|e| format!("reading keys: {}", describe(&e)))?;
            // The draft returns `(key, value)` pairs for found keys; match them back by key so a
            // host that omits missing keys instead of answering `none` still reads correctly.
            let mut by_key: crate::ids::IdMap<String, Vec<u8>> = found.into_iter().flatten().collect();
            values.extend(chunk.iter().map(|k| by_key.remove(k)));
        }
        Ok(values)
    }

    fn set_many(&mut self, entries: &[(String, Vec<u8>)]) -> Result<(), String> {
        for chunk in entries.chunks(BATCH) {
            batch::set_many(&self.bucket, chunk).map_err(|e| format!("writing keys: {}", describe(&e)))?;
        }
        Ok(())
    }

    fn delete_many(&mut self, keys: &[String]) -> Result<(), String> {
        for chunk in keys.chunks(BATCH) {
            batch::delete_many(&self.bucket, chunk).map_err(|e| format!("deleting keys: {}", describe(&e)))?;
        }
        Ok(())
    }
}

/// Keys per batch call: well inside the host's per-call limits, and bounded memory per call.
const BATCH: usize = 1000;

fn describe(error: &store::Error) -> String {
    match error {
        store::Error::NoSuchStore => "no such store".to_owned(),
        store::Error::AccessDenied => "access denied".to_owned(),
        store::Error::Other(message) => message.clone(),
    }
}
