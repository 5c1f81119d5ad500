//! A tenant's whole sandbox policy in one place: what it may reach, how much it may use, where its
//! data lives. The host reads only this when it builds a store, links HTTP or opens storage.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ip_registry::is_public;

/// One allowed outbound destination: scheme, exact host name (case-insensitive) and port. An
/// `https` entry does not allow `http` to the same host and port.
/// The integration a tenant uses unless it names another: the component `Runtime::new` loads.
pub const DEFAULT_INTEGRATION: &str = "humaans-leapsome";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedHost {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => write!(f, "{}://[{}]:{}", self.scheme.as_str(), self.host, self.port),
            _ => write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port),
        }
    }
}

impl AllowedHost {
    /// `host` without brackets (an IPv6 literal is stored bare, e.g. `::1`).
    pub fn new(scheme: Scheme, host: &str, port: u16) -> Self {
        AllowedHost { scheme, host: host.to_ascii_lowercase(), port }
    }

    /// The scheme, host and port of an `http://` or `https://` URL (default ports 80 and 443).
    /// Parsed by `http::Uri`, so IPv6 literals (`http://[::1]:8081/x`) and user info are handled
    /// the way the request path will see them.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("`{url}` is not a valid absolute URL"))?;
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            Some(other) => return Err(format!("`{url}`: scheme `{other}` is not http or https")),
            None => return Err(format!("`{url}` is not an absolute URL")),
        };
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| format!("`{url}` has no host"))?;
        // `http::Uri` lets a non-numeric port through (and drops it); refuse it here.
        let authority = uri.authority().map_or("", |a| a.as_str());
        let after_host = authority.rsplit_once('@').map_or(authority, |(_, a)| a).get(host.len()..).unwrap_or("");
        let port = match after_host.strip_prefix(':') {
            None if after_host.is_empty() => scheme.default_port(),
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("`{url}`: bad port `{p}`"))?,
            None => return Err(format!("`{url}` has an invalid host")),
        };
        Ok(AllowedHost::new(scheme, bare_host(host), port))
    }

    /// The entry names loopback by itself: an IP literal that is not a public address, or
    /// `localhost`. Only such entries may reach the host's own network (the mocks, a local proxy).
    pub fn names_a_local_address(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| !is_public(ip))
    }
}

/// What a tenant id may be: 1 to 64 ASCII letters, digits, `-` or `_`. The one definition for the
/// CLI, the admin API and the page: an id becomes a storage namespace (`tenant/{id}`), a URL path
/// segment and a log field, so nothing that could separate, escape or traverse is let in.
pub fn valid_tenant(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// [`valid_tenant`] as a command-line value parser; the message does not echo the id (clap
/// names the value it refused).
pub fn parse_tenant_id(id: &str) -> Result<String, String> {
    if valid_tenant(id) { Ok(id.to_owned()) } else { Err("a tenant id is 1-64 letters, digits, - or _".to_owned()) }
}

/// `[::1]` -> `::1`; other hosts unchanged.
pub fn bare_host(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// Everything the host enforces for one tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    /// The integration component this tenant's calls go to (`Runtime::add_integration`); by
    /// default the one `Runtime::new` loads.
    pub integration: String,
    /// The storage namespace; the guest cannot name any other.
    pub storage_namespace: String,
    /// Outbound HTTP goes only to these (scheme, host, port) triples. Empty denies everything.
    pub allowed_hosts: Vec<AllowedHost>,
    /// Fixed addresses for host names, used instead of DNS (like curl's `--resolve`). The address
    /// checks still apply: a name pinned to 127.0.0.1 is refused unless allowed as a local entry.
    pub resolve_overrides: BTreeMap<String, Vec<IpAddr>>,
    /// Largest linear memory the guest may grow to.
    pub memory_limit_bytes: usize,
    /// Time the guest may spend executing wasm in one call (epoch interruption).
    pub cpu_deadline: Duration,
    /// Wall time one call may take, host I/O included.
    pub call_timeout: Duration,
    /// Upper bounds on the timeouts the guest asks for on each request.
    pub http_connect_timeout: Duration,
    pub http_first_byte_timeout: Duration,
    pub http_between_bytes_timeout: Duration,
    /// Largest response body the guest may receive; larger ones fail mid-body.
    pub max_response_bytes: u64,
    /// A fixed wall clock for the guest (tests and demos); `None` is real time.
    pub fixed_clock: Option<std::time::SystemTime>,
    /// Outbound requests one call may send; later ones are denied before anything is sent.
    pub max_requests_per_call: u32,
    /// Storage quota: bytes (keys plus values, all buckets) and keys the tenant may hold.
    pub max_storage_bytes: u64,
    pub max_storage_keys: u64,
    /// Bucket names the guest may open (the component documents `""` only); others are
    /// `no-such-store`.
    pub allowed_buckets: Vec<String>,
    /// Pool instances the tenant may hold at once; more calls wait their turn (within their
    /// call timeout), so one tenant cannot take the whole pool.
    pub max_instances: u32,
}

impl Tenant {
    /// Conservative defaults: nothing reachable until hosts are allowed.
    pub fn new(id: &str) -> Self {
        Tenant {
            id: id.to_owned(),
            integration: DEFAULT_INTEGRATION.to_owned(),
            storage_namespace: format!("tenant/{id}"),
            allowed_hosts: Vec::new(),
            resolve_overrides: BTreeMap::new(),
            memory_limit_bytes: 256 * 1024 * 1024,
            cpu_deadline: Duration::from_secs(60),
            call_timeout: Duration::from_secs(600),
            http_connect_timeout: Duration::from_secs(10),
            http_first_byte_timeout: Duration::from_secs(30),
            http_between_bytes_timeout: Duration::from_secs(30),
            max_response_bytes: 64 * 1024 * 1024,
            fixed_clock: None,
            max_requests_per_call: 50_000,
            max_storage_bytes: 256 * 1024 * 1024,
            max_storage_keys: 1_000_000,
            allowed_buckets: vec![String::new()],
            max_instances: 8,
        }
    }

    pub fn allow(mut self, host: AllowedHost) -> Self {
        if !self.allowed_hosts.contains(&host) {
            self.allowed_hosts.push(host);
        }
        self
    }

    /// Allows the scheme, host and port of `url`.
    pub fn allow_url(self, url: &str) -> Result<Self, String> {
        Ok(self.allow(AllowedHost::from_url(url)?))
    }

    /// The allow-list entry matching a request's scheme, host (brackets optional) and port.
    pub fn allowed(&self, scheme: Scheme, host: &str, port: u16) -> Option<&AllowedHost> {
        let host = bare_host(host);
        self.allowed_hosts.iter().find(|a| a.scheme == scheme && a.port == port && a.host.eq_ignore_ascii_case(host))
    }
}

/// Counters a tenant's calls add to; read them to assert exact request and write counts.
#[derive(Debug, Default)]
pub struct TenantStats {
    pub http_requests: AtomicU64,
    pub http_denied: AtomicU64,
    /// Requests sent that may change something (any method but GET and HEAD): for this
    /// integration, SCIM writes.
    pub http_writes: AtomicU64,
    pub kv_reads: AtomicU64,
    pub kv_writes: AtomicU64,
    /// Largest linear memory any call of this tenant reached.
    pub peak_memory_bytes: AtomicU64,
    /// Storage writes refused by the quota.
    pub quota_refusals: AtomicU64,
    /// Calls of this tenant holding a pool instance now, and the most at once.
    pub instances_in_use: AtomicU64,
    pub peak_instances: AtomicU64,
    /// The host's log of policy refusals for this tenant (newest last, at most [`MAX_NOTES`]).
    pub notes: Mutex<VecDeque<String>>,
}

/// Refusals kept in [`TenantStats::notes`].
pub const MAX_NOTES: usize = 100;

impl TenantStats {
    /// Records a refusal in the tenant's host log (the guest gets a typed error separately).
    pub fn note(&self, line: String) {
        let mut notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        if notes.len() == MAX_NOTES {
            notes.pop_front();
        }
        notes.push_back(line);
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(scheme: Scheme, host: &str, port: u16) -> AllowedHost {
        AllowedHost::new(scheme, host, port)
    }

    #[test]
    fn parses_scheme_host_and_port_from_urls() {
        use Scheme::*;
        let ok = |url: &str| AllowedHost::from_url(url).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok("https://api.leapsome.com/scim/v1"), entry(Https, "api.leapsome.com", 443));
        assert_eq!(ok("http://127.0.0.1:8080/api"), entry(Http, "127.0.0.1", 8080));
        assert_eq!(ok("HTTP://Example.COM"), entry(Http, "example.com", 80));
        assert_eq!(ok("http://[::1]:9000/x"), entry(Http, "::1", 9000));
        assert_eq!(ok("http://[::1]:8081/x"), entry(Http, "::1", 8081));
        assert_eq!(ok("http://[::1]/x"), entry(Http, "::1", 80));
        assert_eq!(ok("https://[fe80::1]"), entry(Https, "fe80::1", 443));
        assert_eq!(ok("http://user:pw@example.com:81/"), entry(Http, "example.com", 81));
        assert!(AllowedHost::from_url("ftp://x").is_err());
        assert!(AllowedHost::from_url("nohost").is_err());
        assert!(AllowedHost::from_url("http://x:notaport/").is_err());
        assert_eq!(ok("http://[::1]:8081/x").to_string(), "http://[::1]:8081");
    }

    #[test]
    fn allow_list_matches_scheme_host_and_port_exactly() {
        let t = Tenant::new("t").allow(entry(Scheme::Https, "api.example.com", 443)).allow(entry(
            Scheme::Http,
            "::1",
            8080,
        ));
        assert!(t.allowed(Scheme::Https, "API.example.com", 443).is_some());
        assert!(t.allowed(Scheme::Http, "api.example.com", 443).is_none(), "https does not allow http");
        assert!(t.allowed(Scheme::Https, "api.example.com", 8443).is_none());
        assert!(t.allowed(Scheme::Http, "[::1]", 8080).is_some());
        assert!(t.allowed(Scheme::Https, "[::1]", 8080).is_none());
        assert!(t.allowed(Scheme::Http, "127.0.0.1", 8080).is_none());
        assert!(Tenant::new("empty").allowed(Scheme::Https, "api.example.com", 443).is_none());
    }

    #[test]
    fn local_entries_are_decided_by_parsing_never_by_prefix() {
        let local = |url: &str| AllowedHost::from_url(url).unwrap().names_a_local_address();
        assert!(local("http://127.0.0.1:1/"));
        assert!(local("http://127.9.9.9/"));
        assert!(local("http://localhost:8081/"));
        assert!(local("http://[::1]:8081/"));
        assert!(local("http://10.0.0.5/"));
        assert!(!local("http://127.evil.example/api"));
        assert!(!local("http://localhost.evil.example/"));
        assert!(!local("http://127.0.0.1.nip.io/"));
        assert!(!local("https://api.leapsome.com/"));
        assert!(!local("https://93.184.216.34/"));
    }

    #[test]
    fn tenant_ids_are_letters_digits_dashes_and_underscores() {
        for good in ["default", "acme", "a", "Acme-2_eu", &"x".repeat(64)] {
            assert!(valid_tenant(good), "{good} refused");
            assert_eq!(parse_tenant_id(good).as_deref(), Ok(good));
        }
        for bad in ["", "bad id/..", "..", "a/b", "a b", "a.b", "tenant\n", "caf\u{e9}", "%2e%2e", &"x".repeat(65)] {
            assert!(!valid_tenant(bad), "{bad:?} accepted");
            assert!(parse_tenant_id(bad).is_err(), "{bad:?} accepted");
        }
    }
}
