//! The host's own `wasi:keyvalue/store@0.2.0-draft`, over [`Storage`]. `wasmtime-wasi-keyvalue` is
//! in-memory only and loses writes, so we bind the WIT ourselves (as Spin and wasmCloud do).
//!
//! Tenant scoping happens here: the namespace comes from the host's `Tenant`, never from the guest.
//! Whatever bucket name the guest opens, it lands inside its own tenant's namespace.

use std::sync::atomic::Ordering;

use wasmtime::component::Resource;

use crate::bindings::Bucket;
use crate::bindings::keyvalue::wasi::keyvalue::store::{self, Error, KeyResponse};
use crate::bindings::keyvalue::wasi::keyvalue::{atomics, batch};
use crate::host_state::HostState;
use crate::quota::COUNTER_BYTES;

/// Keys per `list-keys` page.
const LIST_PAGE: usize = 1000;
/// Largest key and value a guest may store.
const MAX_KEY_BYTES: usize = 512;
const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;

fn storage_error(e: anyhow::Error) -> Error {
    Error::Other(format!("storage failed: {e:#}"))
}

impl HostState {
    fn bucket_name(&self, bucket: &Resource<Bucket>) -> wasmtime::Result<String> {
        Ok(self.table.get(bucket)?.name.clone())
    }

    /// The outcome of a write the quota admitted; a failed one leaves the usage unknown.
    fn written<T>(&mut self, result: anyhow::Result<T>) -> Result<T, Error> {
        if result.is_err() {
            self.forget_usage();
        }
        result.map_err(storage_error)
    }
}

impl store::Host for HostState {
    /// Only the bucket names in the tenant's policy open (the component uses `""`); anything
    /// else is `no-such-store`, so bucket names are neither a side channel nor a way around the
    /// quota.
    fn open(&mut self, identifier: String) -> wasmtime::Result<Result<Resource<Bucket>, Error>> {
        if !self.tenant.allowed_buckets.contains(&identifier) {
            let shown: String = identifier.chars().take(64).collect();
            self.stats.note(format!("bucket {shown:?} refused: not in the tenant's allowed buckets"));
            return Ok(Err(Error::NoSuchStore));
        }
        Ok(Ok(self.table.push(Bucket { name: identifier })?))
    }
}

impl store::HostBucket for HostState {
    fn get(&mut self, bucket: Resource<Bucket>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let name = self.bucket_name(&bucket)?;
        self.stats.kv_reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.storage.get(&self.tenant.storage_namespace, &name, &key).map_err(storage_error))
    }

    fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let name = self.bucket_name(&bucket)?;
        if let Some(e) = too_large(&key, &value) {
            return Ok(Err(e));
        }
        if let Err(e) = self.admit_writes(&name, &[(&key, value.len() as u64)]) {
            return Ok(Err(e));
        }
        self.stats.kv_writes.fetch_add(1, Ordering::Relaxed);
        Ok(self.written(self.storage.set(&self.tenant.storage_namespace, &name, &key, &value)))
    }

    fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> wasmtime::Result<Result<(), Error>> {
        let name = self.bucket_name(&bucket)?;
        self.stats.kv_writes.fetch_add(1, Ordering::Relaxed);
        self.forget_usage();
        Ok(self.storage.delete(&self.tenant.storage_namespace, &name, &key).map_err(storage_error))
    }

    fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> wasmtime::Result<Result<bool, Error>> {
        let name = self.bucket_name(&bucket)?;
        self.stats.kv_reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.storage.get(&self.tenant.storage_namespace, &name, &key).map(|v| v.is_some()).map_err(storage_error))
    }

    fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> wasmtime::Result<Result<KeyResponse, Error>> {
        let name = self.bucket_name(&bucket)?;
        self.stats.kv_reads.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .storage
            .list_keys(&self.tenant.storage_namespace, &name, cursor, LIST_PAGE)
            .map(|page| KeyResponse { keys: page.keys, cursor: page.cursor })
            .map_err(storage_error))
    }

    fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

fn too_large(key: &str, value: &[u8]) -> Option<Error> {
    (key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES).then(|| {
        Error::Other(format!(
            "key or value too large (limits: {MAX_KEY_BYTES} bytes per key, {MAX_VALUE_BYTES} per value)"
        ))
    })
}

/// Keys one batch call may name: bounds the host memory a single call can make us hold.
const MAX_BATCH_KEYS: usize = 10_000;

fn batch_too_large(count: usize) -> Option<Error> {
    (count > MAX_BATCH_KEYS).then(|| Error::Other(format!("too many keys in one batch (limit: {MAX_BATCH_KEYS})")))
}

/// Counters are atomic across every call and process on the same store: the component takes its
/// log sequence numbers from here, so overlapping calls never share one.
impl atomics::Host for HostState {
    fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: u64) -> wasmtime::Result<Result<u64, Error>> {
        let name = self.bucket_name(&bucket)?;
        if let Some(e) = too_large(&key, &[]) {
            return Ok(Err(e));
        }
        if let Err(e) = self.admit_writes(&name, &[(&key, COUNTER_BYTES)]) {
            return Ok(Err(e));
        }
        self.stats.kv_writes.fetch_add(1, Ordering::Relaxed);
        let result = self.storage.increment(&self.tenant.storage_namespace, &name, &key, delta);
        if let Ok(value) = &result {
            self.settle_counter(*value);
        }
        Ok(self.written(result))
    }
}

impl batch::Host for HostState {
    fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Option<(String, Vec<u8>)>>, Error>> {
        let name = self.bucket_name(&bucket)?;
        if let Some(e) = batch_too_large(keys.len()) {
            return Ok(Err(e));
        }
        self.stats.kv_reads.fetch_add(keys.len() as u64, Ordering::Relaxed);
        Ok(self
            .storage
            .get_many(&self.tenant.storage_namespace, &name, &keys)
            .map(|values| keys.into_iter().zip(values).map(|(k, v)| v.map(|v| (k, v))).collect())
            .map_err(storage_error))
    }

    fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let name = self.bucket_name(&bucket)?;
        if let Some(e) = batch_too_large(key_values.len()) {
            return Ok(Err(e));
        }
        if let Some(e) = key_values.iter().find_map(|(k, v)| too_large(k, v)) {
            return Ok(Err(e));
        }
        let sizes: Vec<(&str, u64)> = key_values.iter().map(|(k, v)| (k.as_str(), v.len() as u64)).collect();
        if let Err(e) = self.admit_writes(&name, &sizes) {
            return Ok(Err(e));
        }
        self.stats.kv_writes.fetch_add(key_values.len() as u64, Ordering::Relaxed);
        Ok(self.written(self.storage.set_many(&self.tenant.storage_namespace, &name, &key_values)))
    }

    fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> wasmtime::Result<Result<(), Error>> {
        let name = self.bucket_name(&bucket)?;
        if let Some(e) = batch_too_large(keys.len()) {
            return Ok(Err(e));
        }
        self.stats.kv_writes.fetch_add(keys.len() as u64, Ordering::Relaxed);
        self.forget_usage();
        Ok(self.storage.delete_many(&self.tenant.storage_namespace, &name, &keys).map_err(storage_error))
    }
}
