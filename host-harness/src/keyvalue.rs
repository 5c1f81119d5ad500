//! The host's own `wasi:keyvalue/store@0.2.0-draft`, over [`Storage`]. `wasmtime-wasi-keyvalue` is
//! in-memory only and loses writes, so we bind the WIT ourselves (as Spin and wasmCloud do).
//!
//! Tenant scoping happens here: the namespace comes from the host's `Tenant`, never from the guest.
//! Whatever bucket name the guest opens, it lands inside its own tenant's namespace.

use std::sync::atomic::Ordering;

use wasmtime::component::Resource;

use crate::runtime::HostState;

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:keyvalue/imports@0.2.0-draft",
        imports: { default: trappable },
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}

use bindings::wasi::keyvalue::store::{self, Error, KeyResponse};

/// An open bucket: just its name; the tenant comes from the store's `HostState`.
pub struct Bucket {
    name: String,
}

/// Bucket names the guest may open; anything else is `no-such-store`. Longer names are refused so
/// a guest cannot use bucket names as a side channel for unbounded data.
const MAX_BUCKET_NAME: usize = 64;
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
}

impl store::Host for HostState {
    fn open(&mut self, identifier: String) -> wasmtime::Result<Result<Resource<Bucket>, Error>> {
        if identifier.len() > MAX_BUCKET_NAME {
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
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            return Ok(Err(Error::Other(format!(
                "key or value too large (limits: {MAX_KEY_BYTES} bytes per key, {MAX_VALUE_BYTES} per value)"
            ))));
        }
        self.stats.kv_writes.fetch_add(1, Ordering::Relaxed);
        Ok(self.storage.set(&self.tenant.storage_namespace, &name, &key, &value).map_err(storage_error))
    }

    fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> wasmtime::Result<Result<(), Error>> {
        let name = self.bucket_name(&bucket)?;
        self.stats.kv_writes.fetch_add(1, Ordering::Relaxed);
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
