//! The tenant's outbound HTTP policy, as a `WasiHttpHooks`: the only egress gate a component has
//! (wasi:http does not go through wasi:sockets). Requests off the allow-list (scheme, host and
//! port) or over the per-call request cap are refused before anything is sent; allowed ones are
//! resolved and address-checked by `egress.rs`, and get clamped timeouts and a response-size cap.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::egress::{self, Refusal};
use crate::storage::LeaseClock;
use crate::tenant::{AllowedHost, Scheme, Tenant, TenantStats};

pub struct TenantHttpHooks {
    pub tenant: Arc<Tenant>,
    pub stats: Arc<TenantStats>,
    /// Requests this call has sent (one store is one call).
    pub sent: u32,
    /// Under a lease (`serve`'s turns, the CLI's commands): writes to other services stop once it
    /// has run out, so a process that paused past its lease cannot write to Leapsome behind the new
    /// holder's back. Checked by `egress::send` just before the request is written.
    pub lease: Option<Arc<LeaseClock>>,
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

fn clamp(asked: Option<Duration>, limit: Duration) -> Option<Duration> {
    Some(asked.map_or(limit, |d| d.min(limit)))
}

impl TenantHttpHooks {
    fn clamped(&self, options: Option<RequestOptions>) -> RequestOptions {
        let asked = options.unwrap_or_default();
        RequestOptions {
            connect_timeout: clamp(asked.connect_timeout, self.tenant.http_connect_timeout),
            first_byte_timeout: clamp(asked.first_byte_timeout, self.tenant.http_first_byte_timeout),
            between_bytes_timeout: clamp(asked.between_bytes_timeout, self.tenant.http_between_bytes_timeout),
        }
    }

    /// The allow-list entry for this URI, if any (scheme, host and port must all match).
    fn allowed(&self, uri: &http::Uri) -> Option<AllowedHost> {
        let scheme = match uri.scheme_str()? {
            s if s.eq_ignore_ascii_case("https") => Scheme::Https,
            s if s.eq_ignore_ascii_case("http") => Scheme::Http,
            _ => return None,
        };
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        self.tenant.allowed(scheme, uri.host()?, port).cloned()
    }

    fn deny(&self, why: String) -> SendFuture {
        self.stats.http_denied.fetch_add(1, Ordering::Relaxed);
        self.stats.note(why);
        Box::new(async { Err(Error::HttpRequestDenied) })
    }
}

impl WasiHttpHooks for TenantHttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let Some(entry) = self.allowed(request.uri()) else {
            // The URI is not echoed: its query could carry something sensitive.
            return self.deny("http request denied: scheme, host or port not on the allow-list".into());
        };
        if self.sent >= self.tenant.max_requests_per_call {
            let cap = self.tenant.max_requests_per_call;
            return self.deny(format!("http request denied: quota of {cap} requests per call reached"));
        }
        let is_write = request.method() != http::Method::GET && request.method() != http::Method::HEAD;
        self.sent += 1;
        let lease = self.lease.clone();
        let options = self.clamped(options);
        let cap = self.tenant.max_response_bytes;
        let tenant = self.tenant.clone();
        let stats = self.stats.clone();
        Box::new(async move {
            let addrs = match egress::addresses(&tenant, &entry).await {
                Ok(addrs) => addrs,
                Err(Refusal::Unresolved) => return Err(Error::DnsError { rcode: None, info_code: None }),
                Err(Refusal::NonPublicAddress) => {
                    stats.http_denied.fetch_add(1, Ordering::Relaxed);
                    stats.note(format!(
                        "http request denied: {} is not a public address (it resolves only to special-purpose addresses)",
                        entry.host
                    ));
                    return Err(Error::DestinationIpProhibited);
                }
            };
            // The lease is judged, and what is really sent counted, once connected: by the gate.
            let gate = egress::Gate { is_write, lease, stats };
            let use_tls = entry.scheme == Scheme::Https;
            let (response, io) = egress::send(request, options, addrs, entry.host.clone(), use_tls, gate).await?;
            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > cap) {
                return Err(Error::HttpResponseBodySize(declared));
            }
            let response =
                response.map(|body| CappedBody { inner: body.boxed_unsync(), remaining: cap, cap }.boxed_unsync());
            Ok((response, Box::new(io) as IoFuture))
        })
    }
}

/// A response body that fails once more than `cap` bytes have arrived.
struct CappedBody {
    inner: WasiBody,
    remaining: u64,
    cap: u64,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(this.cap)))));
                    }
                    this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
