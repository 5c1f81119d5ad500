//! `HttpTransport` over `wasi:http/outgoing-handler@0.2.12`, `wasi:io/poll` and
//! `wasi:clocks/monotonic-clock`.
//!
//! `send_all` keeps up to `max_in_flight` requests open at once. Each open request is either
//! waiting for its response head (`future-incoming-response`) or reading its body (a non-blocking
//! `input-stream`). One `poll` call waits on all of their pollables together; whatever is ready is
//! advanced, finished requests free their slot and the next queued request is started.
//!
//! Resource rules followed here (the host traps otherwise): a child (a `pollable`, a body's
//! `input-stream`/`output-stream`, a response's `headers`) is always dropped before its parent, and
//! `poll` is never called with an empty list.

use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    self, ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, OutgoingBody, OutgoingRequest,
    Scheme,
};
use wasi::io::poll::{self, Pollable};
use wasi::io::streams::{InputStream, StreamError};

use crate::ports::{Flow, HttpRequest, HttpResponse, HttpTransport, Method, TransportError};
use crate::url::{UrlScheme, split_url};

/// `blocking-write-and-flush` accepts at most 4096 bytes per call.
const WRITE_CHUNK: usize = 4096;
/// Bytes asked for per non-blocking read.
const READ_CHUNK: u64 = 64 * 1024;
/// Reads per turn for one body before the others get a go (4 MiB).
const READS_PER_TURN: usize = 64;
/// Defensive cap on a response body; the host caps further.
const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// Requests begun ahead of time (`start`) at most: each holds a host resource until it is sent.
const MAX_STARTED: usize = 8;

/// The component's HTTP client: `wasi:http` outgoing requests.
#[derive(Default)]
pub struct WasiHttp {
    /// Begun by `start`, not yet taken over by `send_each`; dropped (the host aborts them) with
    /// the client at the end of the call.
    started: Vec<(HttpRequest, Result<FutureIncomingResponse, TransportError>)>,
}

impl WasiHttp {
    pub fn new() -> Self {
        WasiHttp::default()
    }

    /// `request` as already begun by `start`, or begun now.
    fn begin(&mut self, request: &HttpRequest) -> Result<FutureIncomingResponse, TransportError> {
        match self.started.iter().position(|(begun, _)| begun == request) {
            Some(position) => self.started.swap_remove(position).1,
            None => start(request),
        }
    }
}

impl HttpTransport for WasiHttp {
    fn send_all(
        &mut self,
        requests: Vec<HttpRequest>,
        max_in_flight: usize,
    ) -> Vec<Result<HttpResponse, TransportError>> {
        let mut results: Vec<Option<Result<HttpResponse, TransportError>>> = vec![None; requests.len()];
        self.send_each(requests, max_in_flight, &mut |index, result| {
            results[index] = Some(result);
            Flow::Go
        });
        results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| Err(TransportError::Broken("the request was never completed".into())))
            })
            .collect()
    }

    /// Results go to `done` from inside the poll loop: the host keeps receiving the other
    /// responses while the component handles one.
    fn send_each(
        &mut self,
        requests: Vec<HttpRequest>,
        max_in_flight: usize,
        done: &mut dyn FnMut(usize, Result<HttpResponse, TransportError>) -> Flow,
    ) -> Vec<usize> {
        let limit = max_in_flight.max(1);
        let mut queue = requests.into_iter().enumerate();
        let mut open: Vec<Open> = Vec::with_capacity(limit);
        let mut flow = Flow::Go;

        loop {
            // Fill the free slots.
            while open.len() < limit && flow == Flow::Go {
                let Some((index, request)) = queue.next() else {
                    break;
                };
                match self.begin(&request) {
                    Ok(future) => open.push(Open { index, state: State::Waiting(future) }),
                    Err(error) => {
                        if done(index, Err(error)) == Flow::Hold {
                            flow = Flow::Hold;
                        }
                    }
                }
            }
            if open.is_empty() {
                break;
            }

            let mut ready: Vec<usize> = {
                let pollables: Vec<Pollable> = open.iter().map(Open::subscribe).collect();
                let refs: Vec<&Pollable> = pollables.iter().collect();
                poll::poll(&refs).into_iter().map(|i| i as usize).collect()
            }; // the pollables (children of the futures and streams) are dropped here

            // Take the ready ones out from the back so the remaining positions stay valid.
            ready.sort_unstable_by(|a, b| b.cmp(a));
            ready.dedup();
            let mut still_open = Vec::new();
            for position in ready {
                if position >= open.len() {
                    continue;
                }
                let Open { index, state } = open.swap_remove(position);
                match advance(state) {
                    Step::Pending(state) => still_open.push(Open { index, state }),
                    Step::Done(result) => {
                        if done(index, result) == Flow::Hold {
                            flow = Flow::Hold;
                        }
                    }
                }
            }
            open.extend(still_open);
        }
        queue.map(|(index, _)| index).collect()
    }

    fn start(&mut self, request: HttpRequest) {
        if self.started.len() < MAX_STARTED && !self.started.iter().any(|(begun, _)| *begun == request) {
            let begun = start(&request);
            self.started.push((request, begun));
        }
    }

    fn sleep(&mut self, millis: u64) {
        if millis == 0 {
            return;
        }
        let pollable = monotonic_clock::subscribe_duration(millis.saturating_mul(1_000_000));
        pollable.block();
    }

    fn monotonic_millis(&mut self) -> u64 {
        monotonic_clock::now() / 1_000_000
    }
}

/// A request that has been handed to the host and holds a slot.
struct Open {
    /// Position in the caller's `requests`.
    index: usize,
    state: State,
}

enum State {
    /// Sent; waiting for the response head.
    Waiting(FutureIncomingResponse),
    /// The head has arrived; reading the body.
    Reading(BodyReader),
}

impl Open {
    fn subscribe(&self) -> Pollable {
        match &self.state {
            State::Waiting(future) => future.subscribe(),
            State::Reading(reader) => reader.stream.subscribe(),
        }
    }
}

enum Step {
    Pending(State),
    Done(Result<HttpResponse, TransportError>),
}

/// A response whose body is being read.
///
/// Fields drop in declaration order: the stream (a child of the body) goes first, then the body,
/// then the response.
struct BodyReader {
    stream: InputStream,
    body: IncomingBody,
    response: IncomingResponse,
    status: u16,
    headers: Vec<(String, String)>,
    received: Vec<u8>,
}

impl BodyReader {
    fn new(response: IncomingResponse) -> Result<Self, TransportError> {
        let status = response.status();
        let headers: Vec<(String, String)> = {
            let fields = response.headers();
            fields
                .entries()
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), String::from_utf8_lossy(&value).into_owned()))
                .collect()
        }; // `fields` (a child of the response) is dropped here
        let body =
            response.consume().map_err(|()| TransportError::Broken("the response body was already taken".into()))?;
        let stream =
            body.stream().map_err(|()| TransportError::Broken("the response body stream was already taken".into()))?;
        // Sized from `content-length` when the server sends one (never beyond the cap): a body
        // grown by doubling would need up to twice its size (and copies) at its largest.
        let expected = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(MAX_BODY_BYTES);
        Ok(BodyReader { stream, body, response, status, headers, received: Vec::with_capacity(expected) })
    }

    /// Reads what is available without blocking.
    fn advance(mut self) -> Step {
        for _ in 0..READS_PER_TURN {
            match self.stream.read(READ_CHUNK) {
                Ok(chunk) if chunk.is_empty() => return Step::Pending(State::Reading(self)),
                Ok(chunk) => {
                    if self.received.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
                        return Step::Done(Err(TransportError::Broken(format!(
                            "the response body is larger than {} MiB",
                            MAX_BODY_BYTES / (1024 * 1024)
                        ))));
                    }
                    self.received.extend_from_slice(&chunk);
                }
                Err(StreamError::Closed) => return Step::Done(Ok(self.finish())),
                Err(StreamError::LastOperationFailed(error)) => {
                    let mapped = match types::http_error_code(&error) {
                        Some(code) => map_error_code(&code),
                        None => {
                            TransportError::Broken(format!("reading the response body: {}", error.to_debug_string()))
                        }
                    };
                    return Step::Done(Err(mapped));
                }
            }
        }
        // More may be ready right away; the next poll returns at once in that case.
        Step::Pending(State::Reading(self))
    }

    fn finish(self) -> HttpResponse {
        let BodyReader { stream, body, response, status, headers, received } = self;
        drop(stream);
        // Trailers are not used; dropping the future-trailers is enough.
        drop(IncomingBody::finish(body));
        drop(response);
        HttpResponse { status, headers, body: received }
    }
}

fn advance(state: State) -> Step {
    match state {
        State::Waiting(future) => match future.get() {
            None => Step::Pending(State::Waiting(future)),
            Some(Err(())) => Step::Done(Err(TransportError::Broken("the response was already taken".into()))),
            Some(Ok(Err(code))) => Step::Done(Err(map_error_code(&code))),
            Some(Ok(Ok(response))) => {
                drop(future);
                match BodyReader::new(response) {
                    Ok(reader) => reader.advance(),
                    Err(error) => Step::Done(Err(error)),
                }
            }
        },
        State::Reading(reader) => reader.advance(),
    }
}

/// Builds the request, hands it to the host, writes and finishes its body.
fn start(request: &HttpRequest) -> Result<FutureIncomingResponse, TransportError> {
    let url = split_url(&request.url).map_err(TransportError::InvalidRequest)?;

    let mut entries: Vec<(String, Vec<u8>)> =
        request.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec())).collect();
    // A known length lets the host send `content-length` instead of a chunked body.
    if let Some(body) = &request.body
        && !entries.iter().any(|(name, _)| name == "content-length")
    {
        entries.push(("content-length".to_owned(), body.len().to_string().into_bytes()));
    }
    let headers = Fields::from_list(&entries).map_err(|error| header_refused(&entries, &error))?;

    let outgoing = OutgoingRequest::new(headers);
    let invalid = |what: &str| TransportError::InvalidRequest(format!("the host refused the {what}"));
    outgoing.set_method(&wasi_method(request.method)).map_err(|()| invalid("method"))?;
    let scheme = match url.scheme {
        UrlScheme::Http => Scheme::Http,
        UrlScheme::Https => Scheme::Https,
    };
    outgoing.set_scheme(Some(&scheme)).map_err(|()| invalid("scheme"))?;
    outgoing.set_authority(Some(&url.authority)).map_err(|()| invalid("authority"))?;
    outgoing.set_path_with_query(Some(&url.path_with_query)).map_err(|()| invalid("path"))?;

    // Take the body before `handle` consumes the request.
    let body =
        outgoing.body().map_err(|()| TransportError::InvalidRequest("the request body was already taken".into()))?;
    // No request options: the host applies its own (tenant) timeouts, and wasmtime-wasi-http 48
    // keeps a passed options resource alive until the call ends, one table entry per request,
    // which a 10,000-person sync would run out of.
    let future = match outgoing_handler::handle(outgoing, None) {
        Ok(future) => future,
        Err(code) => {
            drop(body);
            return Err(map_error_code(&code));
        }
    };

    let payload = request.body.as_deref().unwrap_or_default();
    if write_body(&body, payload).is_err() {
        // The host has given up on the request (the connection failed or was closed). Dropping
        // the unfinished body aborts it; the future reports why (or the response the server sent
        // early).
        drop(body);
        return Ok(future);
    }
    if let Err(code) = OutgoingBody::finish(body, None) {
        drop(future);
        return Err(map_error_code(&code));
    }
    Ok(future)
}

/// Writes `payload` in chunks `blocking-write-and-flush` accepts. The stream, a child of the body,
/// is dropped before returning.
fn write_body(body: &OutgoingBody, payload: &[u8]) -> Result<(), ()> {
    if payload.is_empty() {
        return Ok(());
    }
    let stream = body.write()?;
    for chunk in payload.chunks(WRITE_CHUNK) {
        stream.blocking_write_and_flush(chunk).map_err(|_| ())?;
    }
    Ok(())
}

/// Names the header the host refused (never its value: it may be a secret).
fn header_refused(entries: &[(String, Vec<u8>)], error: &types::HeaderError) -> TransportError {
    let culprit = entries
        .iter()
        .find(|entry| Fields::from_list(std::slice::from_ref(*entry)).is_err())
        .map(|(name, _)| format!(" `{name}`"))
        .unwrap_or_default();
    TransportError::InvalidRequest(format!("the host refused the request header{culprit}: {error:?}"))
}

fn wasi_method(method: Method) -> types::Method {
    match method {
        Method::Get => types::Method::Get,
        Method::Post => types::Method::Post,
        Method::Put => types::Method::Put,
        Method::Patch => types::Method::Patch,
        Method::Delete => types::Method::Delete,
    }
}

/// Maps a `wasi:http` error code to the port's error kinds, with a readable message.
fn map_error_code(code: &ErrorCode) -> TransportError {
    use TransportError::{Broken, Denied, InvalidRequest, NotPublic, TimedOut, Unreachable};
    match code {
        ErrorCode::HttpRequestDenied => Denied,

        ErrorCode::DnsTimeout => TimedOut("DNS lookup timed out".into()),
        ErrorCode::ConnectionTimeout => TimedOut("connect timeout".into()),
        ErrorCode::ConnectionReadTimeout => TimedOut("read timeout".into()),
        ErrorCode::ConnectionWriteTimeout => TimedOut("write timeout".into()),
        ErrorCode::HttpResponseTimeout => TimedOut("no response in time".into()),

        ErrorCode::DnsError(payload) => Unreachable(match (&payload.rcode, payload.info_code) {
            (Some(rcode), _) => format!("DNS error ({rcode})"),
            (None, Some(info)) => format!("DNS error (info code {info})"),
            (None, None) => "DNS error".into(),
        }),
        ErrorCode::DestinationNotFound => Unreachable("destination not found".into()),
        ErrorCode::DestinationUnavailable => Unreachable("destination unavailable".into()),
        // The host's egress policy (wasmtime hosts answer this for addresses they refuse).
        ErrorCode::DestinationIpProhibited => NotPublic,
        ErrorCode::DestinationIpUnroutable => Unreachable("destination IP unroutable".into()),
        ErrorCode::ConnectionRefused => Unreachable("connection refused".into()),
        ErrorCode::ConnectionLimitReached => Unreachable("connection limit reached".into()),
        ErrorCode::TlsProtocolError => Unreachable("TLS protocol error".into()),
        ErrorCode::TlsCertificateError => Unreachable("TLS certificate error".into()),
        ErrorCode::TlsAlertReceived(payload) => Unreachable(match &payload.alert_message {
            Some(message) => format!("TLS alert received: {message}"),
            None => "TLS alert received".into(),
        }),

        ErrorCode::HttpResponseBodySize(_) => Broken("the response body is too large".into()),
        ErrorCode::ConnectionTerminated => Broken("connection terminated".into()),
        ErrorCode::HttpResponseIncomplete => Broken("the response was cut short".into()),
        ErrorCode::HttpProtocolError => Broken("HTTP protocol error".into()),
        ErrorCode::InternalError(Some(message)) => Broken(format!("host error: {message}")),

        ErrorCode::HttpRequestUriInvalid => InvalidRequest("the host refused the URL".into()),
        ErrorCode::HttpRequestUriTooLong => InvalidRequest("the URL is too long".into()),
        ErrorCode::HttpRequestMethodInvalid => InvalidRequest("the host refused the method".into()),

        other => Broken(format!("{other:?}")),
    }
}
