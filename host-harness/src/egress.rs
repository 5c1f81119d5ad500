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

use crate::storage::LeaseClock;
use crate::tenant::{AllowedHost, Tenant, TenantStats};

/// How far an address range reaches, as the IANA special-purpose registries say ("Globally
/// Reachable"), for ranges whose answer hides inside the address: those that carry an IPv4
/// address a gateway will forward to are judged by that IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Global,
    NotGlobal,
    /// The IPv4 address in the last 32 bits: IPv4-compatible (`::/96`, deprecated),
    /// IPv4-mapped (`::ffff:0:0/96`) and NAT64's well-known prefix (`64:ff9b::/96`).
    LastV4,
    /// 6to4 (`2002::/16`): the relay's IPv4 address in bits 16..48.
    SixToFour,
    /// Teredo (`2001::/32`): the server's IPv4 address in bits 32..64 and the client's, inverted,
    /// in the last 32 bits; both must be public.
    Teredo,
}

/// The IANA IPv4 Special-Purpose Address Registry (iana-ipv4-special-registry, as updated
/// 2025), one row per entry, with its "Globally Reachable" column; plus multicast, which is not
/// in that registry but is never a unicast server. The most specific row that contains an address
/// decides; an address in no row is public. "N/A" (deprecated 6to4 relay anycast) counts as not
/// globally reachable.
const V4_REGISTRY: &[([u8; 4], u8, bool)] = &[
    ([0, 0, 0, 0], 8, false),          // "This network" (RFC 791)
    ([0, 0, 0, 0], 32, false),         // "This host on this network" (RFC 1122)
    ([10, 0, 0, 0], 8, false),         // Private-Use (RFC 1918)
    ([100, 64, 0, 0], 10, false),      // Shared Address Space, CGNAT (RFC 6598)
    ([127, 0, 0, 0], 8, false),        // Loopback (RFC 1122)
    ([169, 254, 0, 0], 16, false),     // Link Local, incl. cloud metadata (RFC 3927)
    ([172, 16, 0, 0], 12, false),      // Private-Use (RFC 1918)
    ([192, 0, 0, 0], 24, false),       // IETF Protocol Assignments (RFC 6890)
    ([192, 0, 0, 0], 29, false),       // IPv4 Service Continuity Prefix, DS-Lite (RFC 7335)
    ([192, 0, 0, 8], 32, false),       // IPv4 dummy address (RFC 7600)
    ([192, 0, 0, 9], 32, true),        // Port Control Protocol Anycast (RFC 7723)
    ([192, 0, 0, 10], 32, true),       // Traversal Using Relays around NAT Anycast (RFC 8155)
    ([192, 0, 0, 170], 32, false),     // NAT64/DNS64 Discovery (RFC 7050)
    ([192, 0, 0, 171], 32, false),     // NAT64/DNS64 Discovery (RFC 7050)
    ([192, 0, 2, 0], 24, false),       // Documentation, TEST-NET-1 (RFC 5737)
    ([192, 31, 196, 0], 24, true),     // AS112-v4 (RFC 7535)
    ([192, 52, 193, 0], 24, true),     // AMT (RFC 7450)
    ([192, 88, 99, 0], 24, false),     // Deprecated 6to4 Relay Anycast (RFC 7526): N/A
    ([192, 168, 0, 0], 16, false),     // Private-Use (RFC 1918)
    ([198, 18, 0, 0], 15, false),      // Benchmarking (RFC 2544)
    ([198, 51, 100, 0], 24, false),    // Documentation, TEST-NET-2 (RFC 5737)
    ([203, 0, 113, 0], 24, false),     // Documentation, TEST-NET-3 (RFC 5737)
    ([224, 0, 0, 0], 4, false),        // Multicast (RFC 5771; not in the registry)
    ([240, 0, 0, 0], 4, false),        // Reserved (RFC 1112)
    ([255, 255, 255, 255], 32, false), // Limited Broadcast (RFC 919)
];

/// The IANA IPv6 Special-Purpose Address Registry (iana-ipv6-special-registry, as updated 2025),
/// one row per entry, plus multicast (`ff00::/8`), as for IPv4. Ranges that embed an IPv4
/// address a gateway forwards to are judged by it (NAT64's well-known prefix is globally
/// reachable in the registry, yet `64:ff9b::7f00:1` is 127.0.0.1 on the translator's network).
/// The local-use NAT64 prefix (`64:ff9b:1::/48`, RFC 8215) is not globally reachable, and where
/// its IPv4 address sits depends on the prefix length the local network chose: refused whole.
const V6_REGISTRY: &[([u16; 8], u8, Reach)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, Reach::NotGlobal), // Loopback (RFC 4291)
    ([0, 0, 0, 0, 0, 0, 0, 0], 128, Reach::NotGlobal), // Unspecified (RFC 4291)
    ([0, 0, 0, 0, 0, 0, 0, 0], 96, Reach::LastV4),     // IPv4-compatible (RFC 4291, deprecated)
    ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, Reach::LastV4), // IPv4-mapped (RFC 4291)
    ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, Reach::LastV4), // IPv4-IPv6 Translation (RFC 6052)
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Reach::NotGlobal), // IPv4-IPv6 Translation, local use (RFC 8215)
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Reach::NotGlobal), // Discard-Only (RFC 6666)
    ([0x100, 0, 0, 1, 0, 0, 0, 0], 64, Reach::NotGlobal), // Dummy IPv6 Prefix (RFC 9780)
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Reach::NotGlobal), // IETF Protocol Assignments (RFC 2928)
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Reach::Teredo), // TEREDO (RFC 4380): N/A
    ([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, Reach::Global), // Port Control Protocol Anycast (RFC 7723)
    ([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, Reach::Global), // TURN Anycast (RFC 8155)
    ([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, Reach::Global), // DNS-SD SRP Anycast (RFC 9665)
    ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, Reach::NotGlobal), // Benchmarking (RFC 5180)
    ([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, Reach::Global), // AMT (RFC 7450)
    ([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, Reach::Global), // AS112-v6 (RFC 7535)
    ([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, Reach::NotGlobal), // Deprecated ORCHID (RFC 4843)
    ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, Reach::Global), // ORCHIDv2 (RFC 7343)
    ([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, Reach::Global), // Drone Remote ID (RFC 9374)
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Reach::NotGlobal), // Documentation (RFC 3849)
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, Reach::SixToFour), // 6to4 (RFC 3056): N/A
    ([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, Reach::Global), // Direct Delegation AS112 (RFC 7534)
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Reach::NotGlobal), // Documentation (RFC 9637)
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Reach::NotGlobal), // Segment Routing SIDs (RFC 9602)
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Reach::NotGlobal), // Unique-Local (RFC 4193)
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Reach::NotGlobal), // Link-Local Unicast (RFC 4291)
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Reach::NotGlobal), // Multicast (RFC 4291; not in the registry)
];

/// The most specific row of `registry` containing `address` (as a big-endian integer of `BITS`).
fn most_specific<T: Copy, const BITS: u32>(address: u128, rows: impl Iterator<Item = (u128, u8, T)>) -> Option<T> {
    rows.filter(|&(network, len, _)| {
        let shift = BITS - u32::from(len);
        // A /0 row would shift by the whole width: no such row exists, but stay total.
        len == 0 || (address >> shift) == (network >> shift)
    })
    .max_by_key(|&(_, len, _)| len)
    .map(|(_, _, reach)| reach)
}

/// Whether an address is globally reachable: not in a special-purpose range the IANA registries
/// mark as not globally reachable (loopback, private, link-local incl. the cloud metadata
/// address, shared/CGNAT, benchmarking, documentation, reserved, discard, ...), nor multicast or
/// broadcast. Addresses that carry an IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4,
/// Teredo) are judged by the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let rows = V4_REGISTRY.iter().map(|&(net, len, global)| (u128::from(u32::from_be_bytes(net)), len, global));
            most_specific::<bool, 32>(u128::from(u32::from(v4)), rows).unwrap_or(true)
        }
        IpAddr::V6(v6) => {
            let rows = V6_REGISTRY.iter().map(|&(net, len, reach)| (u128::from(Ipv6Addr::from(net)), len, reach));
            let bits = u128::from(v6);
            let v4 = |shift: u32| IpAddr::V4(Ipv4Addr::from((bits >> shift) as u32));
            match most_specific::<Reach, 128>(bits, rows).unwrap_or(Reach::Global) {
                Reach::Global => true,
                Reach::NotGlobal => false,
                Reach::LastV4 => is_public(v4(0)),
                Reach::SixToFour => is_public(v4(80)),
                Reach::Teredo => is_public(v4(64)) && is_public(IpAddr::V4(Ipv4Addr::from(!(bits as u32)))),
            }
        }
    }
}

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

    fn v4(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    /// First and last address of every row, each judged as its row says (an inner row, more
    /// specific, wins for its own addresses); and the address just outside the row.
    #[test]
    fn every_row_of_the_ipv4_registry_decides_its_whole_range() {
        for &(net, len, global) in V4_REGISTRY {
            let first = u32::from_be_bytes(net);
            let last = first | (u32::MAX.checked_shr(u32::from(len)).unwrap_or(0));
            for address in [first, last, first + (last - first) / 2] {
                let inner = V4_REGISTRY.iter().any(|&(n, l, _)| {
                    l > len && (address >> (32 - u32::from(l))) == (u32::from_be_bytes(n) >> (32 - u32::from(l)))
                });
                if inner {
                    continue;
                }
                let ip = Ipv4Addr::from(address);
                assert_eq!(is_public(ip.into()), global, "{ip} in {}/{len}", Ipv4Addr::from(net));
            }
        }
    }

    #[test]
    fn ipv4_special_purpose_addresses_are_not_public() {
        for refused in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.8",
            "192.0.0.170",
            "192.0.0.255",
            "192.0.2.10",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "250.1.2.3",
            "255.255.255.254",
            "255.255.255.255",
        ] {
            assert!(!is_public(v4(refused).into()), "{refused} counted as public");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.0.9",
            "192.0.0.10",
            "192.0.1.1",
            "192.31.196.1",
            "192.52.193.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(is_public(v4(public).into()), "{public} counted as not public");
        }
    }

    #[test]
    fn ipv6_special_purpose_addresses_are_not_public() {
        for refused in [
            "::",
            "::1",
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff::1",
            "100::1",
            "100::ffff:ffff:ffff:ffff",
            "100:0:0:1::1",
            "2001:2::1",
            "2001:10::1",
            "2001:1::4",
            "2001:4::1",
            "2001:1ff::1",
            "2001:db8::1",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff::1",
            "3fff:fff:ffff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(!is_public(refused.parse().unwrap()), "{refused} counted as public");
        }
        for public in [
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:1::1",
            "2001:1::2",
            "2001:1::3",
            "2001:3::1",
            "2001:4:112::1",
            "2001:20::1",
            "2001:30::1",
            "2001:200::1",
            "2001:db9::1",
            "2620:4f:8000::1",
            "4000::1",
            "fec0::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} counted as not public");
        }
    }

    /// Every form that carries an IPv4 address, with every IPv4 sample: public exactly when the
    /// IPv4 address is.
    #[test]
    fn addresses_carrying_an_ipv4_address_are_judged_by_it() {
        let samples = [
            "8.8.8.8",
            "93.184.216.34",
            "127.0.0.1",
            "10.0.0.7",
            "169.254.169.254",
            "192.168.1.1",
            "100.64.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "0.0.0.0",
        ];
        type Embed = fn(u32) -> u128;
        let forms: [(&str, Embed); 5] = [
            ("IPv4-compatible ::a.b.c.d", u128::from),
            ("IPv4-mapped ::ffff:a.b.c.d", |ip| 0xffff_0000_0000 | u128::from(ip)),
            ("NAT64 64:ff9b::a.b.c.d", |ip| (0x64_ff9b_u128 << 96) | u128::from(ip)),
            ("6to4 2002:a.b.c.d::1", |ip| (0x2002_u128 << 112) | (u128::from(ip) << 80) | 1),
            // The client's address, inverted; the server a public one.
            ("Teredo, client", |ip| (0x2001_0000_u128 << 96) | (0x0808_0808_u128 << 64) | u128::from(!ip)),
        ];
        for sample in samples {
            let embedded = v4(sample);
            let expected = is_public(embedded.into());
            for (form, make) in &forms {
                let ip = Ipv6Addr::from(make(u32::from(embedded)));
                // `::0.0.0.0` is the unspecified address: not public whatever the rule.
                assert_eq!(is_public(ip.into()), expected, "{form}: {ip} carrying {sample}");
            }
            // Teredo's server address counts as well.
            let teredo = Ipv6Addr::from(
                (0x2001_0000_u128 << 96) | (u128::from(u32::from(embedded)) << 64) | u128::from(!0x0808_0808_u32),
            );
            assert_eq!(is_public(teredo.into()), expected, "Teredo, server: {teredo} carrying {sample}");
        }
        for (text, public) in [
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:8.8.8.8", true),
            ("::127.0.0.1", false),
            ("::8.8.8.8", true),
            ("64:ff9b::127.0.0.1", false),
            ("64:ff9b::10.0.0.1", false),
            ("64:ff9b::8.8.8.8", true),
            ("2002:7f00:1::1", false),
            ("2002:a9fe:a9fe::1", false),
            ("2002:808:808::1", true),
            ("2001:0:808:808::f7f7:f7f7", true),
            ("2001:0:808:808::80ff:fffe", false),
            ("2001:0:7f00:1::f7f7:f7f7", false),
        ] {
            assert_eq!(is_public(text.parse().unwrap()), public, "{text}");
        }
    }
}
