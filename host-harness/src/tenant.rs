//! A tenant's whole sandbox policy in one place: what it may reach, how much it may use, where its
//! data lives. The host reads only this when it builds a store, links HTTP or opens storage.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// One allowed outbound destination: exact host name (case-insensitive) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    pub host: String,
    pub port: u16,
}

impl AllowedHost {
    pub fn new(host: &str, port: u16) -> Self {
        AllowedHost { host: host.to_ascii_lowercase(), port }
    }

    /// The host and port of an `http://` or `https://` URL (default ports 80 and 443).
    pub fn from_url(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("`{url}` is not an absolute URL"))?;
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "https" => 443,
            "http" => 80,
            other => return Err(format!("`{url}`: scheme `{other}` is not http or https")),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| format!("`{url}`: bad port `{p}`"))?)
            }
            _ => (authority, default_port),
        };
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        Ok(AllowedHost::new(host.trim_start_matches('[').trim_end_matches(']'), port))
    }
}

/// Everything the host enforces for one tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    /// The storage namespace; the guest cannot name any other.
    pub storage_namespace: String,
    /// Outbound HTTP goes only to these (host, port) pairs. Empty denies everything.
    pub allowed_hosts: Vec<AllowedHost>,
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
}

impl Tenant {
    /// Conservative defaults: nothing reachable until hosts are allowed.
    pub fn new(id: &str) -> Self {
        Tenant {
            id: id.to_owned(),
            storage_namespace: format!("tenant/{id}"),
            allowed_hosts: Vec::new(),
            memory_limit_bytes: 256 * 1024 * 1024,
            cpu_deadline: Duration::from_secs(60),
            call_timeout: Duration::from_secs(600),
            http_connect_timeout: Duration::from_secs(10),
            http_first_byte_timeout: Duration::from_secs(30),
            http_between_bytes_timeout: Duration::from_secs(30),
            max_response_bytes: 64 * 1024 * 1024,
            fixed_clock: None,
        }
    }

    pub fn allow(mut self, host: AllowedHost) -> Self {
        if !self.allowed_hosts.contains(&host) {
            self.allowed_hosts.push(host);
        }
        self
    }

    /// Allows the host and port of `url`.
    pub fn allow_url(self, url: &str) -> Result<Self, String> {
        Ok(self.allow(AllowedHost::from_url(url)?))
    }

    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.allowed_hosts.iter().any(|a| a.port == port && a.host.eq_ignore_ascii_case(host))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_from_urls() {
        assert_eq!(
            AllowedHost::from_url("https://api.leapsome.com/scim/v1").unwrap(),
            AllowedHost::new("api.leapsome.com", 443)
        );
        assert_eq!(AllowedHost::from_url("http://127.0.0.1:8080/api").unwrap(), AllowedHost::new("127.0.0.1", 8080));
        assert_eq!(AllowedHost::from_url("HTTP://Example.COM").unwrap(), AllowedHost::new("example.com", 80));
        assert_eq!(AllowedHost::from_url("http://[::1]:9000/x").unwrap(), AllowedHost::new("::1", 9000));
        assert!(AllowedHost::from_url("ftp://x").is_err());
        assert!(AllowedHost::from_url("nohost").is_err());
        assert!(AllowedHost::from_url("http://x:notaport/").is_err());
    }

    #[test]
    fn allow_list_matches_host_and_port_exactly() {
        let t = Tenant::new("t").allow(AllowedHost::new("127.0.0.1", 8080));
        assert!(t.allows("127.0.0.1", 8080));
        assert!(!t.allows("127.0.0.1", 8081));
        assert!(!t.allows("127.0.0.2", 8080));
        assert!(!Tenant::new("empty").allows("127.0.0.1", 8080));
    }
}
