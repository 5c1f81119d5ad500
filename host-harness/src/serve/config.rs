//! What serve runs with, in its own types: the CLI makes a [`ServeConfig`] from its flags
//! (`cli::ServeArgs`, where each flag is documented), the demo writes one out. Nothing under
//! `serve/` names the CLI's clap structs; the host and its store come as the operator's
//! `HostConfig`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::log::{LogFormat, LogLevel};

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on (port 0: any free port; the log says which).
    pub listen: SocketAddr,
    /// The admin token (for the API and the admin page's login), at least 16 characters.
    pub admin_token: Option<String>,
    /// A file holding the admin token (instead of `admin_token`).
    pub admin_token_file: Option<PathBuf>,
    /// How often each connected tenant is ticked.
    pub tick_every: Duration,
    /// How often each connected tenant runs a reconciling sync-all.
    pub sync_every: Duration,
    /// Writes per scheduled sync-all call.
    pub max_writes: u32,
    /// Most tenants running a call at once (each tenant runs one call at a time).
    pub workers: u32,
    /// How long a tenant's lease lasts unless renewed (every third of it, while its calls run).
    pub lease_ttl: Duration,
    /// Done inbox items are kept this many days (replays within it are recognised).
    pub keep_days: u32,
    pub log_format: LogFormat,
    pub log_level: LogLevel,
    /// Calls a failing webhook event gets before it is kept as a dead letter.
    pub event_attempts: u32,
    /// The wait before a failed event's second call; each later wait is twice the one before.
    pub event_backoff: Duration,
    pub http: HttpConfig,
}

/// serve's HTTP side: connections, timeouts, TLS.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Most connections open at once; more wait in the listen queue until one closes.
    pub max_connections: u32,
    /// Time a client has to send a request's head (and the TLS handshake before it); also how
    /// long a kept-alive connection may sit idle.
    pub header_timeout: Duration,
    /// Time to answer one request, its body included, before a 408.
    pub request_timeout: Duration,
    /// Serve HTTPS with this certificate chain (PEM) and its key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// A proxy in front ends HTTPS: session cookies are `Secure`, and login attempts are counted
    /// per client as the proxy names it (the last X-Forwarded-For address).
    pub behind_https_proxy: bool,
}
