//! Sending an allowed request: resolve the host name here, check every address, and connect to a
//! checked address. Resolving once and connecting to what was checked closes DNS rebinding (a
//! name that answers with a public address for the check and 127.0.0.1 for the connection).
//! Redirects are never followed: hyper's connection-level client hands a 3xx back as it is, so
//! the guest sees it and every request it makes next passes the allow-list again.
//!
//! The connection code follows `wasmtime_wasi_http::default_send_request` (TLS with the webpki
//! roots, HTTP/1.1, the same timeouts); it differs only in connecting to a given address.

use std::future::{Future, poll_fn};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use crate::tenant::{AllowedHost, Tenant, is_public};

/// Why no address may be contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Every address the name resolved to is loopback, private, link-local or unspecified, and
    /// the allow-list entry is a host name, not such an address itself.
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

/// Sends `request` to the first of `addrs` that accepts a connection. `host` is the name for TLS
/// (SNI and certificate check).
pub async fn send(
    mut request: http::Request<WasiBody>,
    options: RequestOptions,
    addrs: Vec<SocketAddr>,
    host: String,
    use_tls: bool,
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

async fn connect_any(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
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
