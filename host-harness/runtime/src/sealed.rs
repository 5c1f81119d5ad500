//! Secrets at rest: a [`Storage`] wrapper that seals secret-bearing values with
//! XChaCha20-Poly1305 under the host key, so a copied database file reveals no token. One layer
//! over any backend (SQLite today, PostgreSQL later get it alike).
//!
//! Sealed: the component's `connection` record (both API tokens; see `src/state.rs`) in every
//! namespace, and everything in the host's `secrets` bucket (the key check; the webhook secret).
//! The associated data is the namespace, bucket and key, so a sealed value copied to another
//! tenant or key does not open. Other values (schedules, logs, counters) pass through unchanged:
//! they carry no credentials, and `increment` needs its decimal text.
//!
//! A secret found in plain text (written before sealing existed, restored from an old backup, or
//! written around the host) is sealed where it lies on the read that finds it and reported once
//! (`SealedStorage::with_warn`; stderr by default): never accepted silently, never twice.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::storage::{KeyPage, Storage};

/// The namespace and bucket of host-only secrets (no guest can name `host`).
pub const HOST_NAMESPACE: &str = "host";
pub const SECRETS_BUCKET: &str = "secrets";
/// A sealed known value: tells a wrong key apart from damaged data before any call runs.
const KEY_CHECK: &str = "key-check";
const KEY_CHECK_VALUE: &[u8] = b"host-harness key check v1";
/// Sealed values start with this tag, then the 24-byte nonce, then ciphertext and tag.
const MAGIC: &[u8] = b"hhs1";
const NONCE_LEN: usize = 24;

/// Whether a value is sealed at rest.
pub fn is_secret(namespace: &str, bucket: &str, key: &str) -> bool {
    (bucket.is_empty() && key == "connection") || (namespace == HOST_NAMESPACE && bucket == SECRETS_BUCKET)
}

/// The 32-byte host key.
#[derive(Clone)]
pub struct HostKey([u8; 32]);

impl HostKey {
    pub fn generate() -> Self {
        HostKey(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// 32 bytes as base64 (standard, padded or not) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16)).collect::<Result<Vec<u8>, _>>()?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .map_err(|_| anyhow!("expected 32 bytes as base64 or 64 hex digits"))?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| anyhow!("expected 32 bytes as base64 or 64 hex digits"))?;
        Ok(HostKey(key))
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Reads a key file.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the key file {}", path.display()))?;
        HostKey::parse(&text).with_context(|| format!("the key file {} is not a host key", path.display()))
    }

    /// Writes a new key file, owner-only, refusing to overwrite one.
    pub fn create(path: &Path) -> Result<Self> {
        let key = HostKey::generate();
        key.write(path, false)?;
        Ok(key)
    }

    /// Writes this key to `path` (0600). With `replace`, through a temporary file and a rename.
    pub fn write(&self, path: &Path, replace: bool) -> Result<()> {
        use std::io::Write;
        let target = if replace { path.with_extension(format!("tmp{}", std::process::id())) } else { path.into() };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file =
            options.open(&target).with_context(|| format!("cannot create the key file {}", target.display()))?;
        file.write_all(format!("{}\n", self.to_base64()).as_bytes())?;
        file.sync_all()?;
        if replace {
            std::fs::rename(&target, path)
                .with_context(|| format!("cannot replace the key file {}", path.display()))?;
        }
        Ok(())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

/// Where the key came from, for messages and for `rotate-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The environment variable `HOST_HARNESS_KEY`.
    Env,
    /// A key file; `default` when it is the data directory's own `host.key`.
    File { path: PathBuf, default: bool },
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str("HOST_HARNESS_KEY"),
            KeySource::File { path, .. } => write!(f, "the key file {}", path.display()),
        }
    }
}

/// Where the store reports what an operator must hear about (a secret found in plain text).
pub type Warn = Arc<dyn Fn(&str) + Send + Sync>;

/// Storage that seals secret values (see the module docs).
pub struct SealedStorage {
    inner: Arc<dyn Storage>,
    /// The first key seals; every key is tried to open (more than one only while rotating).
    keys: Vec<HostKey>,
    /// Plaintext secrets already reported (namespace, bucket, key), shared with every view of
    /// the same store (`over`), so a value that cannot be sealed at once is reported only once.
    reported: Arc<Mutex<HashSet<(String, String, String)>>>,
    warn: Warn,
}

fn aad(namespace: &str, bucket: &str, key: &str) -> Vec<u8> {
    [MAGIC, b"\0", namespace.as_bytes(), b"\0", bucket.as_bytes(), b"\0", key.as_bytes()].concat()
}

impl SealedStorage {
    pub fn new(inner: Arc<dyn Storage>, key: HostKey) -> Self {
        let warn: Warn = Arc::new(|line: &str| eprintln!("warning: {line}"));
        SealedStorage { inner, keys: vec![key], reported: Arc::default(), warn }
    }

    /// Reports through `warn` instead of stderr (e.g. `serve`'s log).
    pub fn with_warn(self, warn: Warn) -> Self {
        SealedStorage { warn, ..self }
    }

    /// The same keys over another view of the same data (e.g. the store fenced by a lease).
    pub fn over(&self, inner: Arc<dyn Storage>) -> SealedStorage {
        SealedStorage { inner, keys: self.keys.clone(), reported: self.reported.clone(), warn: self.warn.clone() }
    }

    /// Opens `inner` with `key` and checks it is the key the data was sealed with. A store sealed
    /// for the first time gets the key check and has any plaintext secrets (written before
    /// sealing existed) sealed now.
    pub fn open(inner: Arc<dyn Storage>, key: HostKey, source: &KeySource) -> Result<Self> {
        let sealed = SealedStorage::new(inner, key);
        match sealed.inner.get(HOST_NAMESPACE, SECRETS_BUCKET, KEY_CHECK)? {
            Some(_) => {
                let check = sealed.get(HOST_NAMESPACE, SECRETS_BUCKET, KEY_CHECK).map_err(|_| {
                    anyhow!("{source} does not hold the key this data directory's secrets were sealed with")
                })?;
                if check.as_deref() != Some(KEY_CHECK_VALUE) {
                    bail!("the key check in this data directory is damaged");
                }
            }
            None => {
                sealed.reseal_all()?;
                sealed.set(HOST_NAMESPACE, SECRETS_BUCKET, KEY_CHECK, KEY_CHECK_VALUE)?;
            }
        }
        Ok(sealed)
    }

    /// Whether `inner` holds sealed secrets (a key check), i.e. a key is needed to read it.
    pub fn is_sealed(inner: &dyn Storage) -> Result<bool> {
        Ok(inner.get(HOST_NAMESPACE, SECRETS_BUCKET, KEY_CHECK)?.is_some())
    }

    /// Re-seals every secret under `new`: reads with the current key or `new` (so a rotation cut
    /// short can simply be run again), writes with `new`, and rewrites the key check last.
    /// Returns how many secrets were re-sealed (the key check not counted).
    pub fn rotate(self, new: HostKey) -> Result<(SealedStorage, usize)> {
        let mut keys = vec![new];
        keys.extend(self.keys);
        let rotating = SealedStorage { keys, ..self };
        let count = rotating.reseal_all()?;
        rotating.set(HOST_NAMESPACE, SECRETS_BUCKET, KEY_CHECK, KEY_CHECK_VALUE)?;
        let SealedStorage { mut keys, .. } = rotating;
        keys.truncate(1);
        Ok((SealedStorage { keys, ..rotating }, count))
    }

    /// Reads and writes back every secret value, so each ends sealed under the first key. Those
    /// found in plain text are reported in one line.
    fn reseal_all(&self) -> Result<usize> {
        let (mut count, mut plain) = (0, 0);
        for (namespace, bucket) in self.inner.scopes()? {
            let mut cursor = None;
            loop {
                let page = self.inner.list_keys(&namespace, &bucket, cursor, 1000)?;
                for key in page.keys.iter().filter(|k| is_secret(&namespace, &bucket, k) && *k != KEY_CHECK) {
                    if let Some(stored) = self.inner.get(&namespace, &bucket, key)? {
                        let (value, was_plain) = self.unseal(&namespace, &bucket, key, stored)?;
                        self.set(&namespace, &bucket, key, &value)?;
                        count += 1;
                        plain += usize::from(was_plain);
                    }
                }
                match page.cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        if plain > 0 {
            (self.warn)(&format!("{plain} secret(s) were stored in plain text: sealed now"));
        }
        Ok(count)
    }

    /// A secret found in plain text by a read: sealed where it lies, if it still holds what was
    /// read (a writer that replaced it meanwhile, e.g. `connect`, wins; `Storage` has no
    /// compare-and-set, so the re-read narrows that race to the two statements), and reported
    /// once. A store that refuses the write (a lease lost) leaves it for a later read.
    fn seal_found_plaintext(&self, namespace: &str, bucket: &str, key: &str, plain: &[u8]) {
        let sealed = match self.inner.get(namespace, bucket, key) {
            Ok(Some(now)) if now == plain => self
                .seal(namespace, bucket, key, plain)
                .and_then(|sealed| self.inner.set(namespace, bucket, key, &sealed))
                .map(|()| "sealed it now".to_owned()),
            Ok(_) => Ok("it has been replaced since".to_owned()),
            Err(e) => Err(e),
        };
        let id = (namespace.to_owned(), bucket.to_owned(), key.to_owned());
        if !self.reported.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
            return;
        }
        let outcome = sealed.unwrap_or_else(|e| format!("it could not be sealed now ({e:#}); a later read will"));
        (self.warn)(&format!("the secret `{key}` of `{namespace}` was stored in plain text: {outcome}"));
    }

    fn seal(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = aad(namespace, bucket, key);
        let sealed = self.keys[0]
            .cipher()
            .encrypt(&nonce, Payload { msg: value, aad: &aad })
            .map_err(|_| anyhow!("cannot seal `{key}`"))?;
        Ok([MAGIC, nonce.as_slice(), &sealed].concat())
    }

    /// A secret as read: opened, and sealed in place first if it was found in plain text.
    fn open_value(&self, namespace: &str, bucket: &str, key: &str, stored: Vec<u8>) -> Result<Vec<u8>> {
        let (value, was_plain) = self.unseal(namespace, bucket, key, stored)?;
        if was_plain {
            self.seal_found_plaintext(namespace, bucket, key, &value);
        }
        Ok(value)
    }

    /// The plaintext of a stored secret, and whether it was stored in plain text.
    fn unseal(&self, namespace: &str, bucket: &str, key: &str, stored: Vec<u8>) -> Result<(Vec<u8>, bool)> {
        let Some(body) = stored.strip_prefix(MAGIC) else {
            return Ok((stored, true));
        };
        if body.len() < NONCE_LEN {
            bail!("the sealed value `{key}` is damaged");
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let aad = aad(namespace, bucket, key);
        self.keys
            .iter()
            .find_map(|k| k.cipher().decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: &aad }).ok())
            .map(|plain| (plain, false))
            .ok_or_else(|| {
                anyhow!("cannot open the sealed value `{key}`: wrong host key, or the value was moved or damaged")
            })
    }
}

impl Storage for SealedStorage {
    fn get(&self, namespace: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let value = self.inner.get(namespace, bucket, key)?;
        match value {
            Some(v) if is_secret(namespace, bucket, key) => self.open_value(namespace, bucket, key, v).map(Some),
            other => Ok(other),
        }
    }

    fn set(&self, namespace: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        if is_secret(namespace, bucket, key) {
            return self.inner.set(namespace, bucket, key, &self.seal(namespace, bucket, key, value)?);
        }
        self.inner.set(namespace, bucket, key, value)
    }

    fn delete(&self, namespace: &str, bucket: &str, key: &str) -> Result<()> {
        self.inner.delete(namespace, bucket, key)
    }

    fn list_keys(&self, namespace: &str, bucket: &str, cursor: Option<u64>, limit: usize) -> Result<KeyPage> {
        self.inner.list_keys(namespace, bucket, cursor, limit)
    }

    fn increment(&self, namespace: &str, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        if is_secret(namespace, bucket, key) {
            bail!("`{key}` holds a secret, not a counter");
        }
        self.inner.increment(namespace, bucket, key, delta)
    }

    fn get_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let values = self.inner.get_many(namespace, bucket, keys)?;
        keys.iter()
            .zip(values)
            .map(|(key, value)| match value {
                Some(v) if is_secret(namespace, bucket, key) => self.open_value(namespace, bucket, key, v).map(Some),
                other => Ok(other),
            })
            .collect()
    }

    fn set_many(&self, namespace: &str, bucket: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        if !entries.iter().any(|(k, _)| is_secret(namespace, bucket, k)) {
            return self.inner.set_many(namespace, bucket, entries);
        }
        let sealed = entries
            .iter()
            .map(|(k, v)| match is_secret(namespace, bucket, k) {
                true => Ok((k.clone(), self.seal(namespace, bucket, k, v)?)),
                false => Ok((k.clone(), v.clone())),
            })
            .collect::<Result<Vec<_>>>()?;
        self.inner.set_many(namespace, bucket, &sealed)
    }

    fn delete_many(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<()> {
        self.inner.delete_many(namespace, bucket, keys)
    }

    fn scopes(&self) -> Result<Vec<(String, String)>> {
        self.inner.scopes()
    }

    // Quotas count what is stored: a sealed value is 44 bytes longer than its plaintext.
    fn usage(&self, namespace: &str) -> Result<crate::storage::Usage> {
        self.inner.usage(namespace)
    }

    fn value_sizes(&self, namespace: &str, bucket: &str, keys: &[String]) -> Result<Vec<Option<u64>>> {
        self.inner.value_sizes(namespace, bucket, keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStorage;

    const TOKEN: &[u8] = b"{\"humaans_token\":\"hu-secret-123\"}";

    fn store() -> Arc<dyn Storage> {
        Arc::new(MemoryStorage::new())
    }

    #[test]
    fn secrets_are_sealed_and_open_only_with_the_key_and_in_place() {
        let raw = store();
        let key = HostKey::generate();
        let sealed = SealedStorage::open(raw.clone(), key.clone(), &KeySource::Env).unwrap();
        sealed.set("tenant/a", "", "connection", TOKEN).unwrap();
        sealed.set("tenant/a", "", "settings", b"plain").unwrap();
        let stored = raw.get("tenant/a", "", "connection").unwrap().unwrap();
        assert!(stored.starts_with(MAGIC) && !stored.windows(6).any(|w| w == b"secret"));
        assert_eq!(raw.get("tenant/a", "", "settings").unwrap().as_deref(), Some(&b"plain"[..]));
        assert_eq!(sealed.get("tenant/a", "", "connection").unwrap().as_deref(), Some(TOKEN));
        assert_eq!(sealed.get_many("tenant/a", "", &["connection".into()]).unwrap(), vec![Some(TOKEN.to_vec())]);

        // Moved to another tenant: does not open.
        raw.set("tenant/b", "", "connection", &stored).unwrap();
        assert!(sealed.get("tenant/b", "", "connection").unwrap_err().to_string().contains("cannot open"));

        // Another key: refused when the store is opened, and value by value.
        let err = SealedStorage::open(raw.clone(), HostKey::generate(), &KeySource::Env).err().unwrap();
        assert_eq!(
            err.to_string(),
            "HOST_HARNESS_KEY does not hold the key this data directory's secrets were sealed with"
        );
        assert!(SealedStorage::new(raw.clone(), HostKey::generate()).get("tenant/a", "", "connection").is_err());
    }

    #[test]
    fn plaintext_secrets_from_before_are_sealed_on_first_open_and_rotation_reseals() {
        let raw = store();
        raw.set("tenant/a", "", "connection", TOKEN).unwrap();
        raw.set("tenant/b", "", "connection", TOKEN).unwrap();
        let old = HostKey::generate();
        let sealed = SealedStorage::open(raw.clone(), old.clone(), &KeySource::Env).unwrap();
        assert!(raw.get("tenant/a", "", "connection").unwrap().unwrap().starts_with(MAGIC));

        let new = HostKey::generate();
        let (rotated, count) = sealed.rotate(new.clone()).unwrap();
        assert_eq!(count, 2);
        assert_eq!(rotated.get("tenant/b", "", "connection").unwrap().as_deref(), Some(TOKEN));
        assert!(SealedStorage::open(raw.clone(), old, &KeySource::Env).is_err(), "the old key no longer opens");
        let reopened = SealedStorage::open(raw, new, &KeySource::Env).unwrap();
        assert_eq!(reopened.get("tenant/a", "", "connection").unwrap().as_deref(), Some(TOKEN));
    }

    /// A store already sealed (its key check present) where a secret turns up in plain text (a
    /// restored backup, a write around the host): the first read seals it in place and reports it;
    /// later reads find it sealed and say nothing.
    fn plaintext_found_later_is_sealed_on_first_read_and_reported_once(raw: Arc<dyn Storage>) {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let sealed = SealedStorage::open(raw.clone(), HostKey::generate(), &KeySource::Env)
            .unwrap()
            .with_warn(Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_owned())));
        raw.set("tenant/a", "", "connection", TOKEN).unwrap();
        raw.set(HOST_NAMESPACE, SECRETS_BUCKET, "webhook/a", b"whsec-plain").unwrap();
        raw.set("tenant/a", "", "settings", b"plain").unwrap();

        for _ in 0..3 {
            assert_eq!(sealed.get("tenant/a", "", "connection").unwrap().as_deref(), Some(TOKEN));
            let many = sealed.get_many(HOST_NAMESPACE, SECRETS_BUCKET, &["webhook/a".into()]).unwrap();
            assert_eq!(many, vec![Some(b"whsec-plain".to_vec())]);
            // A view of the same store (as a lease's fenced view is) shares what was reported.
            let view = sealed.over(raw.clone());
            assert_eq!(view.get("tenant/a", "", "settings").unwrap().as_deref(), Some(&b"plain"[..]));
        }
        for (namespace, bucket, key) in [("tenant/a", "", "connection"), (HOST_NAMESPACE, SECRETS_BUCKET, "webhook/a")]
        {
            let stored = raw.get(namespace, bucket, key).unwrap().unwrap();
            assert!(stored.starts_with(MAGIC), "{key} left in plain text");
            assert!(!stored.windows(6).any(|w| w == b"secret" || w == b"-plain"), "{key}");
        }
        assert_eq!(raw.get("tenant/a", "", "settings").unwrap().as_deref(), Some(&b"plain"[..]), "not a secret");
        let lines = lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("`connection` of `tenant/a` was stored in plain text: sealed it now"), "{lines:?}");
        assert!(lines[1].contains("`webhook/a` of `host` was stored in plain text: sealed it now"), "{lines:?}");
    }

    #[test]
    fn plaintext_found_later_is_sealed_on_first_read_in_memory_and_sqlite() {
        plaintext_found_later_is_sealed_on_first_read_and_reported_once(store());
        let dir = std::env::temp_dir().join(format!("hh-sealed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sqlite = Arc::new(crate::SqliteStorage::open(&dir.join("host.db")).unwrap());
        plaintext_found_later_is_sealed_on_first_read_and_reported_once(sqlite);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// The same on PostgreSQL: sealing sits above every backend.
    #[test]
    fn secrets_are_sealed_on_postgres_and_plaintext_found_later_is_sealed() {
        let Some(pg) = crate::storage::pg_testing::TestPg::start() else { return };
        let raw: Arc<dyn Storage> = Arc::new(crate::PgStorage::connect(&pg.url).unwrap());
        let sealed = SealedStorage::open(raw.clone(), HostKey::generate(), &KeySource::Env).unwrap();
        sealed.set("tenant/pg", "", "connection", TOKEN).unwrap();
        let stored = raw.get("tenant/pg", "", "connection").unwrap().unwrap();
        assert!(stored.starts_with(MAGIC) && !stored.windows(6).any(|w| w == b"secret"));
        assert_eq!(sealed.get("tenant/pg", "", "connection").unwrap().as_deref(), Some(TOKEN));
        assert!(SealedStorage::open(raw.clone(), HostKey::generate(), &KeySource::Env).is_err(), "another key");
        let Some(fresh) = crate::storage::pg_testing::TestPg::start() else { return };
        plaintext_found_later_is_sealed_on_first_read_and_reported_once(Arc::new(
            crate::PgStorage::connect(&fresh.url).unwrap(),
        ));
    }

    #[test]
    fn keys_parse_from_base64_or_hex_only() {
        let key = HostKey::generate();
        assert_eq!(HostKey::parse(&key.to_base64()).unwrap().0, key.0);
        let hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(HostKey::parse(&hex).unwrap().0, key.0);
        for bad in ["", "short", "zz", &"a".repeat(63)] {
            assert!(HostKey::parse(bad).is_err(), "{bad}");
        }
    }
}
