//! The host a command runs in: the durable store opened with its secrets sealed, the runtime
//! with the component, and each tenant's stored policy (egress, URLs).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::leased::{self, HeldLease};
use crate::{
    AllowedHost, HostKey, KeySource, LeaseStore, PoolSize, Runtime, Scheme, SealedStorage, Storage, Tenant,
    TenantPlugin,
};

/// Where a host keeps its store and key, which tenant commands act for, and the component: what
/// the CLI's global flags (or an embedding program) give. Plain data: nothing here knows clap.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Directory of the durable store; `None`: [`default_data_dir`].
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` for a shared PostgreSQL; `None` or `sqlite`: `host.db` in the data directory.
    pub store: Option<String>,
    /// The tenant the commands act for.
    pub tenant: String,
    /// The component file; `None`: the embedded (or workspace-built) one.
    pub component: Option<PathBuf>,
    /// The host key's file; `None`: `host.key` in the data directory (`HOST_HARNESS_KEY` wins).
    pub key_file: Option<PathBuf>,
    /// How long a command waits for the tenant's lease before "tenant busy".
    pub wait: Duration,
    /// What starts the runs of this host's plugins, for the log: `cli` for the command line.
    pub trigger: String,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            data_dir: None,
            store: None,
            tenant: "default".into(),
            component: None,
            key_file: None,
            wait: Duration::from_secs(30),
            trigger: "cli".into(),
        }
    }
}

/// Where the host keeps a tenant's policy: a namespace no guest can name (guests get `tenant/…`).
const HOST_NAMESPACE: &str = "host";
const POLICY_BUCKET: &str = "tenant-policy";

#[derive(Serialize, Deserialize, Default)]
pub struct StoredPolicy {
    /// Where the tenant may send requests: scheme, host and port.
    #[serde(default)]
    pub egress: Vec<AllowedHost>,
    /// The format before egress was checked by scheme: (host, port) pairs. Read as https, and
    /// also http for local entries (loopback literals, `localhost`), which is what `connect`
    /// accepted then; rewritten in the new format by the next `connect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<(String, u16)>,
    /// The URLs given to `connect` (shown by `serve`'s admin page; tokens are never kept here).
    #[serde(default)]
    pub humaans_url: Option<String>,
    #[serde(default)]
    pub scim_url: Option<String>,
}

impl StoredPolicy {
    /// Where the tenant may send requests, whichever format the policy was stored in.
    pub fn entries(&self) -> Vec<AllowedHost> {
        let mut all = self.egress.clone();
        for (host, port) in &self.allowed_hosts {
            let https = AllowedHost::new(Scheme::Https, host, *port);
            if https.names_a_local_address() {
                all.push(AllowedHost::new(Scheme::Http, host, *port));
            }
            all.push(https);
        }
        all
    }
}

pub struct Host {
    pub storage: Arc<dyn Storage>,
    sealed: Arc<SealedStorage>,
    /// The raw store's leases (`serve`: one process runs a tenant at a time).
    pub leases: Arc<dyn LeaseStore>,
    pub runtime: Arc<Runtime>,
    pub config: HostConfig,
}

pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("humaans-leapsome");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/humaans-leapsome"),
        None => PathBuf::from(".humaans-leapsome"),
    }
}

/// Opens the data directory's store with its secrets sealed under the host key; also returns
/// the raw store, for its leases.
pub fn open_storage(config: &HostConfig) -> Result<(SealedStorage, KeySource, Arc<dyn LeaseStore>)> {
    let dir = config.data_dir.clone().unwrap_or_else(default_data_dir);
    let leases = crate::storage::open_store(config.store.as_deref(), &dir)?;
    let raw: Arc<dyn Storage> = leases.clone();
    let (key, source) = host_key(config, &dir, &*raw)?;
    Ok((SealedStorage::open(raw, key, &source)?, source, leases))
}

/// The host key: `HOST_HARNESS_KEY`, else the key file (created on first use, but never for a
/// store that is already sealed: a lost key must be an error, not a fresh key that opens nothing).
fn host_key(config: &HostConfig, dir: &std::path::Path, raw: &dyn Storage) -> Result<(HostKey, KeySource)> {
    if let Some(text) = std::env::var_os("HOST_HARNESS_KEY").filter(|v| !v.is_empty()) {
        let text = text.to_str().ok_or_else(|| anyhow!("HOST_HARNESS_KEY is not valid text"))?;
        return Ok((HostKey::parse(text).context("HOST_HARNESS_KEY")?, KeySource::Env));
    }
    let (path, default) = match &config.key_file {
        Some(path) => (path.clone(), false),
        None => (dir.join("host.key"), true),
    };
    let source = KeySource::File { path: path.clone(), default };
    if path.exists() {
        check_private(&path)?;
        return Ok((HostKey::read(&path)?, source));
    }
    if SealedStorage::is_sealed(raw)? {
        bail!(
            "the key file {} is missing and this data directory's secrets are sealed: pass the key with --key-file or HOST_HARNESS_KEY",
            path.display()
        );
    }
    Ok((HostKey::create(&path)?, source))
}

fn check_private(path: &std::path::Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!("the key file {} is readable by others: chmod 600 it", path.display());
        }
    }
    Ok(())
}

/// `rotate-key`: re-seals every secret under the key in `--new-key-file`. When the data
/// directory's own key file was in use, it is replaced by the new key, so nothing else changes.
pub fn rotate_key(config: &HostConfig, new_key_file: &Path) -> Result<Value> {
    let (sealed, source, _) = open_storage(config)?;
    let path = new_key_file;
    let new = if path.exists() {
        check_private(path)?;
        HostKey::read(path)?
    } else {
        HostKey::create(path)?
    };
    let (_, count) = sealed.rotate(new.clone())?;
    let next = match &source {
        KeySource::File { path: own, default: true } => {
            new.write(own, true)?;
            format!("{} now holds the new key", own.display())
        }
        KeySource::File { .. } => format!("from now on pass --key-file {}", path.display()),
        KeySource::Env => format!("from now on set HOST_HARNESS_KEY to the key in {}", path.display()),
    };
    Ok(json!({ "rotated_secrets": count, "new_key_file": path.display().to_string(), "next": next }))
}

impl Host {
    pub fn open(config: &HostConfig) -> Result<Host> {
        let dir = config.data_dir.clone().unwrap_or_else(default_data_dir);
        let (sealed, _, leases) = open_storage(config)?;
        let sealed = Arc::new(sealed);
        let storage: Arc<dyn Storage> = sealed.clone();
        let component = match &config.component {
            Some(path) => path.clone(),
            None => crate::component::component_path()?,
        };
        let runtime = Arc::new(Runtime::new(&component, Some(&dir.join("cache")), PoolSize::default())?);
        Ok(Host { storage, sealed, leases, runtime, config: config.clone() })
    }

    /// The tenant's policy; `None` for a tenant that never connected through this host.
    pub fn policy_of(&self, tenant: &str) -> Result<Option<StoredPolicy>> {
        match self.storage.get(HOST_NAMESPACE, POLICY_BUCKET, tenant)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).context("the stored tenant policy is unreadable")?)),
            None => Ok(None),
        }
    }

    pub(crate) fn save_policy(&self, tenant: &str, policy: &StoredPolicy) -> Result<()> {
        self.storage.set(HOST_NAMESPACE, POLICY_BUCKET, tenant, &serde_json::to_vec(policy)?)
    }

    /// Every tenant that connected through this host, in order.
    pub fn tenants(&self) -> Result<Vec<String>> {
        let mut tenants = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.storage.list_keys(HOST_NAMESPACE, POLICY_BUCKET, cursor, 1000)?;
            tenants.extend(page.keys);
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(tenants),
            }
        }
    }

    pub fn plugin_of(&self, tenant: &str, hosts: &[AllowedHost]) -> TenantPlugin {
        let mut policy = Tenant::new(tenant);
        for h in hosts {
            policy = policy.allow(h.clone());
        }
        TenantPlugin::new(self.runtime.clone(), self.storage.clone(), policy)
    }

    /// The store as a holder of `lease` writes it: sealed, and fenced by the lease.
    pub fn fenced_storage(&self, lease: &crate::storage::Lease) -> Arc<dyn Storage> {
        Arc::new(self.sealed.over(self.leases.fenced(lease)))
    }

    /// The `--tenant`'s plugin, its calls one run started by [`HostConfig::trigger`].
    pub fn plugin_with(&self, hosts: &[AllowedHost]) -> TenantPlugin {
        self.plugin_of(&self.config.tenant, hosts).in_run(crate::Run::new(&self.config.trigger))
    }

    pub fn plugin(&self) -> Result<TenantPlugin> {
        let policy = self.policy_of(&self.config.tenant)?.unwrap_or_default();
        Ok(self.plugin_with(&policy.entries()))
    }

    /// The tenant's lease for a command that writes, waited for up to `--wait` ("tenant busy"
    /// after that): one process at a time runs a tenant's calls, CLI and `serve` alike.
    pub async fn lease(&self, tenant: &str) -> Result<HeldLease> {
        HeldLease::acquire(self.leases.clone(), tenant, &leased::holder_name(), leased::DEFAULT_TTL, self.config.wait)
            .await
    }

    /// `plugin` for calls under `held`: its store writes fenced by the lease, its writes to the
    /// services stopped once the lease is lost.
    pub fn under(&self, plugin: &TenantPlugin, held: &HeldLease) -> TenantPlugin {
        plugin.leased(self.fenced_storage(&held.lease), held.clock.clone())
    }

    /// The `--tenant`'s plugin under its lease; keep the lease until the calls are done.
    pub async fn leased_plugin(&self) -> Result<(TenantPlugin, HeldLease)> {
        let held = self.lease(&self.config.tenant).await?;
        Ok((self.under(&self.plugin()?, &held), held))
    }
}
