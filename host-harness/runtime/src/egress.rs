//! Sending an allowed request: resolve the host name here, check every address, and connect to a
//! checked address. Resolving once and connecting to what was checked closes DNS rebinding (a
//! name that answers with a public address for the check and 127.0.0.1 for the connection).
//! Redirects are never followed: hyper's connection-level client hands a 3xx back as it is, so
//! the guest sees it and every request it makes next passes the allow-list again.
//!
//! The connection code follows `wasmtime_wasi_http::default_send_request` (TLS with the webpki
//! roots, HTTP/1.1, the same timeouts); it differs in connecting to a given address, and in the
//! last check before the request's bytes are written (`Gate`): a write made under a tenant's lease
//! goes out only while the lease is current, judged after resolving, connecting and the TLS
//! handshake, which can take seconds, so no write leaves a process that lost its lease meanwhile.

use std::future::{Future, poll_fn};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

pub use crate::ip_registry::is_public;
use crate::storage::LeaseClock;
use crate::tenant::{AllowedHost, Tenant, TenantStats};

/// Why no address may be contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Every address the name resolved to is not a public address ([`is_public`]), and the
    /// allow-list entry is a host name, not such an address itself.
    NonPublicAddress,
    /// The name did not resolve.
    Unresolved,
}

/// The addresses `entry` may be reached at: DNS (or the tenant's override) filtered by
/// [`is_public`] unless the entry names a local address itself (an IP literal or `localhost`).
pub async fn addresses(tenant: &Tenant, entry: &AllowedHost) -> Result<Vec<SocketAddr>, Refusal> {
    let port = entry.port;
    let found: Vec<SocketAddr> = if let Ok(ip) = entry.host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else if entry.host == "localhost" {
        // RFC 6761: `localhost` is loopback, never asked of DNS.
        vec![SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port), SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port)]
    } else if let Some(pinned) = tenant.resolve_overrides.get(&entry.host) {
        pinned.iter().map(|ip| SocketAddr::new(*ip, port)).collect()
    } else {
        match tokio::net::lookup_host((entry.host.as_str(), port)).await {
            Ok(addrs) => addrs.collect(),
            Err(_) => return Err(Refusal::Unresolved),
        }
    };
    if found.is_empty() {
        return Err(Refusal::Unresolved);
    }
    if entry.names_a_local_address() {
        return Ok(found);
    }
    let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
    if public.is_empty() { Err(Refusal::NonPublicAddress) } else { Ok(public) }
}

type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, Error>;

/// The note for a write refused because the lease ran out or was lost.
pub const LEASE_LOST: &str = "http request denied: this process no longer holds the tenant's lease";

/// The last check before a request's bytes are written, and what is counted once it passes.
pub struct Gate {
    /// The request may change something (any method but GET and HEAD).
    pub is_write: bool,
    /// The tenant's lease (`serve`'s turns, the CLI's commands): a write goes out only while it
    /// is current.
    pub lease: Option<Arc<LeaseClock>>,
    pub stats: Arc<TenantStats>,
}

impl Gate {
    /// Whether the request may be written now; counts it as sent if so, as denied if not.
    fn pass(&self) -> bool {
        if self.is_write && self.lease.as_ref().is_some_and(|l| !l.is_current()) {
            self.stats.http_denied.fetch_add(1, Ordering::Relaxed);
            self.stats.note(LEASE_LOST.into());
            return false;
        }
        self.stats.http_requests.fetch_add(1, Ordering::Relaxed);
        if self.is_write {
            self.stats.http_writes.fetch_add(1, Ordering::Relaxed);
        }
        true
    }
}

/// Sends `request` to the first of `addrs` that accepts a connection. `host` is the name for TLS
/// (SNI and certificate check). Once connected (and through TLS), `gate` decides whether the
/// request is written at all: refused, the connection is dropped with nothing of it sent, and
/// the answer is `HttpRequestDenied`.
pub async fn send(
    mut request: http::Request<WasiBody>,
    options: RequestOptions,
    addrs: Vec<SocketAddr>,
    host: String,
    use_tls: bool,
    gate: Gate,
) -> Result<(http::Response<ResponseBody>, impl Future<Output = Result<(), Error>> + Send), Error> {
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(600));
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(Duration::from_secs(600));
    let between_bytes_timeout = options.between_bytes_timeout.unwrap_or(Duration::from_secs(600));

    let stream = tokio::time::timeout(connect_timeout, connect_any(&addrs))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let stream: Box<dyn Stream> = if use_tls {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(host).map_err(|_| Error::HttpRequestUriInvalid)?,
        };
        Box::new(connector.connect(name, stream).await.map_err(Error::Tls)?)
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // On the wire the request line carries only the path (absolute form is for proxies).
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    *request.uri_mut() = http::Uri::builder().path_and_query(path).build().map_err(|_| Error::HttpRequestUriInvalid)?;

    // Nothing of the request has been written yet (the handshake above only sets up hyper's
    // state): the last moment to hold a write back.
    if !gate.pass() {
        return Err(Error::HttpRequestDenied);
    }

    let send = async move {
        let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        let mut timeout = tokio::time::interval(between_bytes_timeout.max(Duration::from_nanos(1)));
        timeout.reset();
        Ok::<_, Error>(response.map(|incoming| TimedBody { incoming, timeout }.boxed_unsync()))
    };
    let mut send = pin!(send);
    let mut conn = Some(conn);
    // Drive the connection while waiting for the response head.
    let response = poll_fn(|cx| match send.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(result),
        Poll::Pending => {
            let Some(fut) = conn.as_mut() else { return Poll::Pending };
            let result = ready!(Pin::new(fut).poll(cx));
            conn = None;
            match result {
                Ok(()) => send.as_mut().poll(cx),
                Err(e) => Poll::Ready(Err(Error::from(e))),
            }
        }
    })
    .await?;
    let io = async move {
        match conn {
            None => Ok(()),
            Some(conn) => conn.await.map_err(|e| if e.is_timeout() { Error::HttpResponseTimeout } else { e.into() }),
        }
    };
    Ok((response, io))
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// A connection to the first of `addrs` that accepts one (addresses [`addresses`] checked).
pub async fn connect_any(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The response body, failing when no bytes arrive within the between-bytes timeout.
struct TimedBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(if e.is_timeout() { Error::HttpResponseTimeout } else { e.into() })))
            }
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn post(port: u16) -> http::Request<WasiBody> {
        let body = http_body_util::Full::new(Bytes::from_static(b"{\"userName\":\"a@b.test\"}"))
            .map_err(|never| match never {})
            .boxed_unsync();
        http::Request::post(format!("http://127.0.0.1:{port}/scim/v1/Users")).body(body).unwrap()
    }

    /// The lease is judged after the connection is made, and a lost lease holds the write back:
    /// the server sees a connection and not one byte of the request. The control, with the lease
    /// current, receives the request.
    #[tokio::test]
    async fn a_write_is_held_back_after_connecting_once_the_lease_is_lost() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for lost in [true, false] {
            let stats = Arc::new(TenantStats::default());
            let clock = Arc::new(LeaseClock::new(std::time::Instant::now(), Duration::from_secs(60)));
            if lost {
                clock.lose();
            }
            let gate = Gate { is_write: true, lease: Some(clock), stats: stats.clone() };
            let options = RequestOptions::default();
            let sending = tokio::spawn(async move {
                send(post(addr.port()), options, vec![addr], "127.0.0.1".into(), false, gate).await.map(|(r, _)| r)
            });
            let (mut server, _) = listener.accept().await.expect("the host connects first");
            let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
            if lost {
                assert!(matches!(sending.await.unwrap(), Err(Error::HttpRequestDenied)));
                let mut received = Vec::new();
                server.read_to_end(&mut received).await.unwrap();
                assert_eq!(String::from_utf8_lossy(&received), "", "bytes of a held-back write were sent");
                assert_eq!(
                    (count(&stats.http_requests), count(&stats.http_writes), count(&stats.http_denied)),
                    (0, 0, 1)
                );
                assert_eq!(stats.notes(), [LEASE_LOST]);
            } else {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    head.push(server.read_u8().await.unwrap());
                }
                assert!(head.starts_with(b"POST /scim/v1/Users HTTP/1.1\r\n"), "{}", String::from_utf8_lossy(&head));
                server.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n").await.unwrap();
                assert_eq!(sending.await.unwrap().expect("sent").status(), 201);
                assert_eq!(
                    (count(&stats.http_requests), count(&stats.http_writes), count(&stats.http_denied)),
                    (1, 1, 0)
                );
            }
        }
    }
}
