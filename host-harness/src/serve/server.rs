//! serve's listener: accepts connections (plain or TLS) up to `--max-connections`, and runs each
//! as an HTTP/1 connection of hyper over the routes (`routes.rs`).
//!
//! What a hostile client cannot do here:
//! - hold a connection without sending a request head: `--header-timeout` (at most 30 s) closes
//!   it, and the same timer runs while a kept-alive connection sits idle between requests (hyper
//!   starts it whenever it waits for a head); a TLS handshake gets the same time;
//! - open connections without bound: each holds one of `--max-connections` permits, taken
//!   before `accept`, so connections over the cap wait in the kernel's listen queue;
//! - make the accept loop spin: an accept error that is not about one connection (out of file
//!   descriptors, out of memory) pauses the loop, doubling from 10 ms to 1 s while it lasts.
//!
//! The request timeout, body limits and the admin gate are the routes' layers; the listener's
//! counters (`HttpMetrics`) are in `metrics.rs`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::app::App;

/// The peer's address, put in every request's extensions (login attempts are counted by it).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

/// hyper's read buffer per connection (its default is ~400 KiB): bounds what a connection that
/// sends an endless head can pin, and is well over any real request head.
const MAX_BUF: usize = 64 << 10;

/// The accept loop's pause after an error, doubling up to [`Backoff::MAX`] while errors last.
#[derive(Default)]
pub struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// The pause before the next accept; `true` with it for the first error of a streak.
    pub fn pause(&mut self) -> (Duration, bool) {
        let first = self.next.is_none();
        let pause = self.next.unwrap_or(Self::FIRST);
        self.next = Some((pause * 2).min(Self::MAX));
        (pause, first)
    }

    pub fn reset(&mut self) {
        self.next = None;
    }
}

/// Errors about the one connection being accepted (it went away first): accept again at once.
fn about_one_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted)
}

/// The TLS set-up of `--tls-cert` and `--tls-key`: rustls with ring, HTTP/1.1 only.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("cannot read the certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("cannot read the private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .with_context(|| format!("{} and {} do not make a certificate and its key", cert.display(), key.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves until the app stops: then no new connection is accepted, and open ones close once
/// the request they are in has its answer.
pub async fn serve(app: Arc<App>, listener: TcpListener, router: Router, tls: Option<TlsAcceptor>) {
    let permits = Arc::new(Semaphore::new(app.config.http.max_connections as usize));
    let mut stopping = app.stopping();
    let mut backoff = Backoff::default();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = stopping.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if about_one_connection(&e) => continue,
                Err(e) => {
                    app.http_metrics.accept_error();
                    let (pause, first) = backoff.pause();
                    if first {
                        tracing::warn!(error = %e, "cannot accept connections; backing off");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => continue,
                        _ = stopping.changed() => return,
                    }
                }
            },
            _ = stopping.changed() => return,
        };
        backoff.reset();
        tokio::spawn(connection(app.clone(), router.clone(), stream, peer, tls.clone(), permit));
    }
}

async fn connection(
    app: Arc<App>,
    router: Router,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    _permit: OwnedSemaphorePermit,
) {
    let _open = app.http_metrics.connection_opened();
    let _ = stream.set_nodelay(true);
    match tls {
        None => http1(&app, router, TokioIo::new(stream), peer).await,
        Some(acceptor) => match tokio::time::timeout(app.config.http.header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => http1(&app, router, TokioIo::new(stream), peer).await,
            Ok(Err(_)) => {}
            Err(_) => app.http_metrics.header_timeout(),
        },
    }
}

async fn http1<I>(app: &App, router: Router, io: I, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ClientAddr(peer));
        router.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(app.config.http.header_timeout).max_buf_size(MAX_BUF);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = app.stopping();
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopping.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result
        && e.is_timeout()
    {
        app.http_metrics.header_timeout();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_a_second_and_starts_again_after_a_success() {
        let mut b = Backoff::default();
        let pauses: Vec<(u128, bool)> = (0..9).map(|_| b.pause()).map(|(d, f)| (d.as_millis(), f)).collect();
        assert_eq!(
            pauses,
            [
                (10, true),
                (20, false),
                (40, false),
                (80, false),
                (160, false),
                (320, false),
                (640, false),
                (1000, false),
                (1000, false)
            ]
        );
        b.reset();
        assert_eq!(b.pause(), (Duration::from_millis(10), true));
    }
}
