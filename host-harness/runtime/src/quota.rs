//! The tenant's storage quota (bytes and keys, from `Tenant`), enforced on every write the guest
//! makes. A call loads its tenant's usage at its first write (one scan of the namespace) and
//! keeps it current from then on (one size lookup per written key); deletes drop it so the next
//! write re-reads it. Calls of one tenant running at once each count from what they read, so
//! together they can overshoot by what they write concurrently; a single call never can.

use std::sync::atomic::Ordering;

use crate::bindings::keyvalue::wasi::keyvalue::store::Error;
use crate::host_state::HostState;

/// The longest decimal text of a counter (`u64::MAX`): what an `increment` is charged up front.
pub(crate) const COUNTER_BYTES: u64 = 20;

impl HostState {
    /// Admits writing `entries` (key, new value length) to `bucket` if the tenant stays within its
    /// quota, or grows no further past it; records the usage the writes will leave.
    pub(crate) fn admit_writes(&mut self, bucket: &str, entries: &[(&str, u64)]) -> Result<(), Error> {
        let namespace = &self.tenant.storage_namespace;
        let before = match self.usage {
            Some(usage) => usage,
            None => self.storage.usage(namespace).map_err(|e| Error::Other(format!("storage failed: {e:#}")))?,
        };
        let keys: Vec<String> = entries.iter().map(|(k, _)| (*k).to_owned()).collect();
        let old = self
            .storage
            .value_sizes(namespace, bucket, &keys)
            .map_err(|e| Error::Other(format!("storage failed: {e:#}")))?;
        let mut after = before;
        for ((key, new_len), old_len) in entries.iter().zip(old) {
            let key_len = key.len() as u64;
            match old_len {
                Some(old_len) => after.bytes = after.bytes.saturating_sub(key_len + old_len),
                None => after.keys += 1,
            }
            after.bytes += key_len + new_len;
        }
        let (max_keys, max_bytes) = (self.tenant.max_storage_keys, self.tenant.max_storage_bytes);
        let refusal = if after.keys > max_keys && after.keys > before.keys {
            Some(format!("quota exceeded: the tenant may store at most {max_keys} keys"))
        } else if after.bytes > max_bytes && after.bytes > before.bytes {
            Some(format!("quota exceeded: the tenant may store at most {max_bytes} bytes"))
        } else {
            None
        };
        if let Some(why) = refusal {
            self.usage = Some(before);
            self.stats.quota_refusals.fetch_add(1, Ordering::Relaxed);
            self.stats
                .note(format!("storage write refused: {why} (holds {} keys, {} bytes)", before.keys, before.bytes));
            return Err(Error::Other(why));
        }
        self.usage = Some(after);
        Ok(())
    }

    /// After an `increment` charged [`COUNTER_BYTES`]: the counter's real length.
    pub(crate) fn settle_counter(&mut self, value: u64) {
        if let Some(usage) = &mut self.usage {
            usage.bytes = usage.bytes.saturating_sub(COUNTER_BYTES - value.to_string().len() as u64);
        }
    }

    /// A write failed or keys were deleted: re-read the usage at the next write.
    pub(crate) fn forget_usage(&mut self) {
        self.usage = None;
    }
}
