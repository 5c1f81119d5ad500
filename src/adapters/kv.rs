//! `KeyValue` over `wasi:keyvalue/store@0.2.0-draft`.

use crate::bindings::wasi::keyvalue::store;
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
}

fn describe(error: &store::Error) -> String {
    match error {
        store::Error::NoSuchStore => "no such store".to_owned(),
        store::Error::AccessDenied => "access denied".to_owned(),
        store::Error::Other(message) => message.clone(),
    }
}
