//! Talking to a remote service over the host's HTTP: bearer auth, JSON, retries with backoff for
//! transient failures (honouring `Retry-After`), optional pacing to a request rate, and failures
//! classified into the contract's error kinds. Tokens go into headers only, never into errors.

use serde_json::Value;

use crate::error::{AppError, Failure, Service};
use std::collections::VecDeque;

use crate::ports::{Flow, HttpRequest, HttpResponse, HttpTransport, Method, TransportError};

/// Attempts per request for transient failures (first try included).
const MAX_ATTEMPTS: u32 = 4;
const BACKOFF_START_MS: u64 = 250;
const BACKOFF_MAX_MS: u64 = 8_000;
/// The longest `Retry-After` honoured within one call; longer waits end the call (the next
/// tick or sync continues) rather than hold the host.
const RETRY_AFTER_MAX_MS: u64 = 30_000;

/// A request as the services see it, relative to the base URL.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Path and query, already encoded, e.g. `/people?$limit=250`.
    pub path: String,
    pub body: Option<Value>,
    /// Parses the answer into typed records (`Reply::parsed`) instead of a `Value` tree: a tree
    /// of 250 people is large and slow. An `Err` is an unreadable body (retried, for a GET).
    pub parse: Option<Parse>,
}

/// Reads a body straight into what the caller wants, boxed; `Err` when it is not JSON.
pub type Parse = fn(&[u8]) -> Result<Box<dyn std::any::Any>, serde_json::Error>;

impl Call {
    pub fn get(path: impl Into<String>) -> Self {
        Call { method: Method::Get, path: path.into(), body: None, parse: None }
    }
    /// A GET whose answer `parse` reads (`Reply::parsed`); `Reply::json` is `Null`.
    pub fn get_parsed(path: impl Into<String>, parse: Parse) -> Self {
        Call { parse: Some(parse), ..Call::get(path) }
    }
    pub fn with(method: Method, path: impl Into<String>, body: Option<Value>) -> Self {
        Call { method, path: path.into(), body, parse: None }
    }
}

/// A successful answer: status and parsed JSON (`Value::Null` for an empty body), or for a call
/// with its own parser, what that parser made of a non-empty body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub parsed: Option<Box<dyn std::any::Any>>,
}

impl Reply {
    /// What the call's parser made (`None`: an empty body, or another type).
    pub fn take<T: 'static>(&mut self) -> Option<T> {
        self.parsed.take()?.downcast().ok().map(|b| *b)
    }
}

/// Pacing: a token bucket slightly slower than the service's limit and with a small burst, so
/// requests are spread evenly. A full one-second burst would also fit the server's limit on paper,
/// but jitter between our clock and its arrivals then tips it over; even spacing never does.
#[derive(Debug)]
struct Pacer {
    /// Tokens a millisecond.
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<u64>,
}

/// Fraction of the service's limit we use, and the largest burst.
const PACE_MARGIN: f64 = 0.97;
const PACE_BURST: f64 = 4.0;

impl Pacer {
    fn new(per_second: usize) -> Self {
        let burst = PACE_BURST.min(per_second as f64).max(1.0);
        Pacer { rate: per_second as f64 * PACE_MARGIN / 1000.0, burst, tokens: burst, last: None }
    }

    /// How many requests may start now, and otherwise how many milliseconds to wait.
    fn available(&mut self, now: u64) -> Result<usize, u64> {
        let elapsed = self.last.map_or(0, |l| now.saturating_sub(l)) as f64;
        self.last = Some(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 { Ok(self.tokens as usize) } else { Err(((1.0 - self.tokens) / self.rate).ceil() as u64) }
    }

    fn take(&mut self, n: usize) {
        self.tokens -= n as f64;
    }
}

/// One service: base URL, token, pacing and request counting.
pub struct Client {
    pub service: Service,
    base: String,
    token: String,
    content_type: &'static str,
    pacer: Option<Pacer>,
    pub max_in_flight: usize,
    /// Requests sent (retries included), for reports and tests.
    pub requests_sent: u64,
    /// Milliseconds spent waiting (pacing, backoff), which cost the host no CPU.
    pub slept_ms: u64,
    /// The request to send instead of one the service refused (a 4xx other than 401/403), if it
    /// has a known way around that refusal (SCIM: writes without `emails`). Applied here because
    /// every request, whichever module builds it, goes through `send_all`.
    instead_of_refused: Option<fn(&Call, &Failure) -> Option<Call>>,
    /// Paths of the GETs begun by `start` that no `send_each` has taken over yet.
    started: Vec<String>,
}

impl Client {
    pub fn new(service: Service, base: &str, token: &str) -> Self {
        Client {
            service,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            content_type: match service {
                Service::Scim => "application/scim+json",
                Service::Humaans => "application/json",
            },
            pacer: None,
            max_in_flight: 8,
            requests_sent: 0,
            slept_ms: 0,
            instead_of_refused: match service {
                Service::Scim => Some(crate::scim::without_refused_emails),
                Service::Humaans => None,
            },
            started: Vec::new(),
        }
    }

    /// Never more than `per_second` requests start in any second (Leapsome: 30/s).
    pub fn paced(mut self, per_second: usize) -> Self {
        self.pacer = Some(Pacer::new(per_second.max(1)));
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn build(&self, call: &Call) -> HttpRequest {
        let mut headers = vec![
            ("authorization".to_owned(), format!("Bearer {}", self.token)),
            ("accept".to_owned(), format!("{}, application/json", self.content_type)),
        ];
        let body = call.body.as_ref().map(|b| {
            headers.push(("content-type".to_owned(), self.content_type.to_owned()));
            serde_json::to_vec(b).expect("JSON serialises")
        });
        HttpRequest { method: call.method, url: format!("{}{}", self.base, call.path), headers, body }
    }

    pub fn send(&mut self, transport: &mut dyn HttpTransport, call: Call) -> Result<Reply, AppError> {
        self.send_all(transport, vec![call]).pop().expect("one result per call")
    }

    /// Begins `call` (a GET) ahead of time: the server prepares the answer while the caller does
    /// other work, and the `send_all`/`send_each` that later sends an equal call takes it over
    /// (paced and counted once, here). A hint only: a paced client with no request to spare
    /// now, or a transport that cannot begin early, sends it when asked instead.
    pub fn start(&mut self, transport: &mut dyn HttpTransport, call: &Call) {
        if call.method != Method::Get || self.started.contains(&call.path) {
            return;
        }
        if let Some(pacer) = self.pacer.as_mut() {
            match pacer.available(transport.monotonic_millis()) {
                Ok(_) => pacer.take(1),
                Err(_) => return,
            }
        }
        self.requests_sent += 1;
        self.started.push(call.path.clone());
        transport.start(self.build(call));
    }

    /// Sends `calls` concurrently (bounded by `max_in_flight` and the pacing), retrying the
    /// transient failures of each; results in input order.
    pub fn send_all(&mut self, transport: &mut dyn HttpTransport, calls: Vec<Call>) -> Vec<Result<Reply, AppError>> {
        let mut results: Vec<Option<Result<Reply, AppError>>> = (0..calls.len()).map(|_| None).collect();
        self.send_each(transport, calls, &mut |index, result| {
            results[index] = Some(result);
            Flow::Go
        });
        results.into_iter().map(|r| r.expect("every call resolved")).collect()
    }

    /// As `send_all`, but each call's final result goes to `on_reply` (with its position in
    /// `calls`) as soon as it is known: a page is read while the next ones arrive. An unpaced
    /// client keeps `max_in_flight` requests open from first to last; a transient failure stops
    /// new starts until the open ones are done, then all that failed are retried together after
    /// the longest backoff any of them asked for. Once `on_reply` says [`Flow::Hold`] (the
    /// caller has what it needs, or cannot go on), nothing more is sent and the calls not yet
    /// answered get no reply.
    pub fn send_each(
        &mut self,
        transport: &mut dyn HttpTransport,
        mut calls: Vec<Call>,
        on_reply: &mut dyn FnMut(usize, Result<Reply, AppError>) -> Flow,
    ) {
        // Still to send: position in `calls`, attempt, and whether `start` began (paced and
        // counted) it already.
        let mut queue: VecDeque<Queued> = (0..calls.len())
            .map(|index| {
                let call = &calls[index];
                let begun = match self.started.iter().position(|p| call.method == Method::Get && *p == call.path) {
                    Some(at) => {
                        self.started.swap_remove(at);
                        true
                    }
                    None => false,
                };
                Queued { index, attempt: 1, begun }
            })
            .collect();
        while !queue.is_empty() {
            let batch = self.next_batch(transport, &mut queue);
            let requests = batch.iter().map(|q| self.build(&calls[q.index])).collect();
            let mut again: Vec<Queued> = Vec::new();
            let mut wait_ms = 0;
            let mut stopped = false;
            let mut answered = vec![false; batch.len()];
            let this = &*self;
            let mut handle = |position: usize, response: Result<HttpResponse, TransportError>| {
                if stopped {
                    return Flow::Hold;
                }
                if std::mem::replace(&mut answered[position], true) {
                    return Flow::Go;
                }
                let queued = batch[position];
                let outcome = this.classify(&calls[queued.index], response);
                if let Outcome::Done(Err(AppError::Upstream(refusal))) = &outcome
                    && let Some(instead) = this.instead_of_refused.and_then(|f| f(&calls[queued.index], refusal))
                {
                    calls[queued.index] = instead;
                    again.push(Queued { begun: false, ..queued });
                    return Flow::Go;
                }
                let result = match outcome {
                    Outcome::Done(result) => result,
                    Outcome::Retry { after_ms, .. }
                        if queued.attempt < MAX_ATTEMPTS && after_ms <= RETRY_AFTER_MAX_MS =>
                    {
                        let backoff = (BACKOFF_START_MS << (queued.attempt - 1)).min(BACKOFF_MAX_MS);
                        wait_ms = wait_ms.max(after_ms.max(backoff));
                        again.push(Queued { index: queued.index, attempt: queued.attempt + 1, begun: false });
                        // A server in trouble gets no more requests until the open ones are done.
                        return Flow::Hold;
                    }
                    Outcome::Retry { error, .. } => Err(error),
                };
                let flow = on_reply(queued.index, result);
                stopped = flow == Flow::Hold;
                flow
            };
            let unsent = transport.send_each(requests, self.max_in_flight, &mut handle);
            // A request the transport neither answered nor handed back was lost: a broken
            // request (retried as one), never a call left without a reply.
            for position in (0..batch.len()).filter(|p| !unsent.contains(p)) {
                handle(position, Err(TransportError::Broken("the request was never completed".into())));
            }
            let sent = batch.iter().enumerate().filter(|(p, q)| !q.begun && !unsent.contains(p)).count();
            self.requests_sent += sent as u64;
            if stopped {
                return;
            }
            // Never started: first again, in their order; then the retries.
            for position in unsent.into_iter().rev() {
                queue.push_front(batch[position]);
            }
            queue.extend(again);
            if !queue.is_empty() && wait_ms > 0 {
                transport.sleep(wait_ms);
                self.slept_ms += wait_ms;
            }
        }
    }

    /// What to hand the transport next: unpaced, the whole queue (it keeps `max_in_flight`
    /// open); paced, what the rate allows now (at least one, waiting for it if need be), up to
    /// `max_in_flight`. Calls begun by `start` were paced then.
    fn next_batch(&mut self, transport: &mut dyn HttpTransport, queue: &mut VecDeque<Queued>) -> Vec<Queued> {
        let Some(pacer) = self.pacer.as_mut() else {
            return queue.drain(..).collect();
        };
        let limit = self.max_in_flight.max(1);
        let mut batch = Vec::new();
        while batch.len() < limit && !queue.is_empty() {
            if queue[0].begun {
                batch.extend(queue.pop_front());
                continue;
            }
            let room = match pacer.available(transport.monotonic_millis()) {
                Ok(n) => n,
                Err(_) if !batch.is_empty() => break,
                Err(wait) => {
                    transport.sleep(wait.max(1));
                    self.slept_ms += wait.max(1);
                    continue;
                }
            };
            let take = room.min(limit - batch.len()).min(queue.iter().take_while(|q| !q.begun).count());
            pacer.take(take);
            batch.extend(queue.drain(..take));
        }
        batch
    }

    fn classify(&self, call: &Call, response: Result<HttpResponse, TransportError>) -> Outcome {
        let service = self.service;
        let fail = |status: Option<u16>, message: String| Failure { service, status, message };
        let response = match response {
            Ok(r) => r,
            Err(TransportError::Denied) => {
                return Outcome::Done(Err(AppError::Transport(fail(None, TransportError::Denied.to_string()))));
            }
            Err(e @ (TransportError::InvalidRequest(_) | TransportError::NotPublic)) => {
                return Outcome::Done(Err(AppError::Transport(fail(None, e.to_string()))));
            }
            Err(e) => return Outcome::Retry { error: AppError::Transport(fail(None, e.to_string())), after_ms: 0 },
        };
        let status = response.status;
        if (200..300).contains(&status) {
            if response.body.iter().all(u8::is_ascii_whitespace) {
                return Outcome::Done(Ok(Reply { status, json: Value::Null, parsed: None }));
            }
            let parsed = match call.parse {
                Some(parse) => parse(&response.body).map(|p| (Value::Null, Some(p))),
                None => serde_json::from_str::<Value>(&crate::json::lossy(&response.body)).map(|json| (json, None)),
            };
            return match parsed {
                Ok((json, parsed)) => Outcome::Done(Ok(Reply { status, json, parsed })),
                Err(e) => {
                    let error = AppError::Transport(fail(
                        Some(status),
                        format!("unreadable response ({}): {e}", content_type(&response)),
                    ));
                    // A cut-off read is worth another try; a write may have happened, so it is not
                    // repeated (the next sync finds and links the account).
                    if call.method == Method::Get {
                        Outcome::Retry { error, after_ms: 0 }
                    } else {
                        Outcome::Done(Err(error))
                    }
                }
            };
        }
        let message = error_message(&response);
        let failure = fail(Some(status), message);
        match status {
            401 | 403 => Outcome::Done(Err(AppError::Unauthorized(failure))),
            // 501 Not Implemented is the server saying it never will: retrying cannot help.
            501 => Outcome::Done(Err(AppError::Upstream(failure))),
            408 | 429 | 500..=599 => {
                let after_ms = response.header("retry-after").map_or(0, retry_after_ms);
                Outcome::Retry { error: AppError::Upstream(failure), after_ms }
            }
            _ => Outcome::Done(Err(AppError::Upstream(failure))),
        }
    }
}

/// A call waiting in `send_each`'s queue.
#[derive(Debug, Clone, Copy)]
struct Queued {
    /// Position in the caller's calls.
    index: usize,
    attempt: u32,
    /// Begun (paced and counted) by `Client::start`.
    begun: bool,
}

enum Outcome {
    Done(Result<Reply, AppError>),
    Retry { error: AppError, after_ms: u64 },
}

fn content_type(r: &HttpResponse) -> &str {
    r.header("content-type").unwrap_or("no content type")
}

/// The service's own message: SCIM `detail`, Feathers `message`, or the start of the body.
fn error_message(r: &HttpResponse) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(&crate::json::lossy(&r.body)) {
        for key in ["detail", "message", "error", "title"] {
            if let Some(m) = v.get(key).and_then(Value::as_str).filter(|m| !m.is_empty()) {
                return m.chars().take(300).collect();
            }
        }
    }
    let text = String::from_utf8_lossy(&r.body);
    let text = text.trim();
    if text.is_empty() {
        format!("HTTP {} with an empty body", r.status)
    } else if text.starts_with('<') {
        format!("HTTP {} with an HTML page ({})", r.status, content_type(r))
    } else {
        text.chars().take(200).collect()
    }
}

/// `Retry-After` seconds in milliseconds, read as `str::parse::<f64>` read them (fractions,
/// exponents, `inf`, `nan`; negative or unreadable: 0) and then `(seconds.max(0.0) * 1000.0) as
/// u64`, but by hand: the library's float parser weighed 19 KB of component, a fiftieth of it.
/// The same float arithmetic as the parser's exact path (Clinger's: a mantissa of at most 2^53
/// and a power of ten of at most 22, one rounding), so the same milliseconds for every value of
/// up to 15 significant digits (`tests::retry_after_is_read_as_the_float_parser_read_it`). A
/// longer mantissa loses its last digits first; that can move the result by a millisecond, and
/// only for a value within a few trillionths of a millisecond boundary. (An HTTP-date is not
/// read, as before: 0, the client's own backoff.)
fn retry_after_ms(value: &str) -> u64 {
    /// Powers of ten an f64 holds exactly.
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];
    let text = value.trim();
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if text.eq_ignore_ascii_case("inf") || text.eq_ignore_ascii_case("infinity") {
        // Infinite milliseconds saturate the cast.
        return if negative { 0 } else { u64::MAX };
    }
    let bytes = text.as_bytes();
    let mut at = 0;
    let (mut mantissa, mut exponent, mut digits) = (0u64, 0i64, 0);
    let mut fraction = false;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if mantissa < u64::MAX / 10 - 1 {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                    exponent -= i64::from(fraction);
                } else if !fraction {
                    // A digit past what fits scales the ones kept.
                    exponent += 1;
                }
            }
            b'.' if !fraction => fraction = true,
            _ => break,
        }
        at += 1;
    }
    // `nan` (any case, either sign) is NaN, which `max(0.0)` makes 0, as it does no number.
    if digits == 0 {
        return 0;
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        at += 1;
        let sign = match bytes.get(at) {
            Some(b'-') => -1,
            Some(b'+') => 1,
            _ => 0,
        };
        at += usize::from(sign != 0);
        let start = at;
        let mut power: i64 = 0;
        while let Some(b @ b'0'..=b'9') = bytes.get(at) {
            // Far past any f64 either way.
            power = (power * 10 + i64::from(b - b'0')).min(1_000_000);
            at += 1;
        }
        if at == start {
            return 0;
        }
        exponent += if sign < 0 { -power } else { power };
    }
    if at != bytes.len() || negative || mantissa == 0 {
        return 0;
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    while mantissa > 1 << 53 {
        mantissa /= 10;
        exponent += 1;
    }
    match exponent {
        // At least 1e23 seconds.
        23.. => u64::MAX,
        // Under 1e-7 seconds.
        ..=-23 => 0,
        0.. => (mantissa as f64 * POW10[exponent as usize] * 1000.0) as u64,
        _ => (mantissa as f64 / POW10[-exponent as usize] * 1000.0) as u64,
    }
}

/// Whether the host refused to send a request (`TransportError::Denied`): off its allow-list, or
/// its quota of requests for this call is used up. Nothing was sent.
pub fn is_denied(e: &AppError) -> bool {
    matches!(e, AppError::Transport(f) if f.status.is_none() && f.message == TransportError::Denied.to_string())
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A transport answering from a script, recording requests and sleeps.
    struct Scripted {
        answers: VecDeque<Result<HttpResponse, TransportError>>,
        sent: Vec<HttpRequest>,
        slept: Vec<u64>,
        clock: u64,
    }

    impl HttpTransport for Scripted {
        fn send_all(&mut self, requests: Vec<HttpRequest>, _max: usize) -> Vec<Result<HttpResponse, TransportError>> {
            requests
                .into_iter()
                .map(|r| {
                    self.sent.push(r);
                    self.answers.pop_front().expect("scripted answer")
                })
                .collect()
        }
        fn sleep(&mut self, millis: u64) {
            self.slept.push(millis);
            self.clock += millis;
        }
        fn monotonic_millis(&mut self) -> u64 {
            self.clock
        }
    }

    fn answer(status: u16, body: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, TransportError> {
        Ok(HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    fn scripted(answers: Vec<Result<HttpResponse, TransportError>>) -> Scripted {
        Scripted { answers: answers.into(), sent: vec![], slept: vec![], clock: 0 }
    }

    #[test]
    fn retries_429_honouring_retry_after_then_succeeds() {
        let mut t = scripted(vec![answer(429, "", &[("retry-after", "2")]), answer(200, "{\"ok\":true}", &[])]);
        let mut c = Client::new(Service::Scim, "http://x/scim", "secret-token");
        let r = c.send(&mut t, Call::get("/Users")).unwrap();
        assert_eq!(r.json["ok"], true);
        assert_eq!(t.slept, vec![2000]);
        assert_eq!(t.sent.len(), 2);
        assert_eq!(t.sent[0].headers[0].1, "Bearer secret-token");
    }

    #[test]
    fn permanent_4xx_is_not_retried_and_carries_the_message() {
        let mut t = scripted(vec![answer(400, r#"{"detail":"bad domain","status":"400"}"#, &[])]);
        let mut c = Client::new(Service::Scim, "http://x", "tok");
        let err = c.send(&mut t, Call::get("/Users")).unwrap_err();
        assert_eq!(
            err,
            AppError::Upstream(Failure { service: Service::Scim, status: Some(400), message: "bad domain".into() })
        );
        assert_eq!(t.sent.len(), 1);
    }

    #[test]
    fn a_write_refused_for_emails_is_sent_once_without_them() {
        let refused = r#"{"detail":"emails cannot be written","status":"400"}"#;
        let mut t = scripted(vec![answer(400, refused, &[]), answer(201, r#"{"id":"u1"}"#, &[])]);
        let mut c = Client::new(Service::Scim, "http://x", "tok");
        let body = serde_json::json!({"userName": "a@acme.test", "emails": [{"value": "a@acme.test"}]});
        let r = c.send(&mut t, Call::with(Method::Post, "/Users", Some(body))).unwrap();
        assert_eq!((r.status, &r.json["id"]), (201, &serde_json::json!("u1")));
        let sent: Vec<Value> =
            t.sent.iter().map(|r| serde_json::from_slice(r.body.as_ref().unwrap()).unwrap()).collect();
        assert_eq!(sent[1], serde_json::json!({"userName": "a@acme.test"}));
        assert_eq!(c.requests_sent, 2);

        // Refused again, or refused for something else: the refusal stands.
        let mut t = scripted(vec![answer(400, refused, &[]), answer(400, refused, &[])]);
        let body = serde_json::json!({"userName": "a@acme.test", "emails": []});
        assert!(c.send(&mut t, Call::with(Method::Post, "/Users", Some(body.clone()))).is_err());
        assert_eq!(t.sent.len(), 2);
        let mut t = scripted(vec![answer(400, r#"{"detail":"bad email domain"}"#, &[])]);
        assert!(c.send(&mut t, Call::with(Method::Post, "/Users", Some(body.clone()))).is_err());
        assert_eq!(t.sent.len(), 1);
        let mut t = scripted(vec![answer(400, refused, &[])]);
        let mut humaans = Client::new(Service::Humaans, "http://x", "tok");
        assert!(humaans.send(&mut t, Call::with(Method::Post, "/people", Some(body))).is_err());
        assert_eq!(t.sent.len(), 1);
    }

    #[test]
    fn gives_up_after_max_attempts_with_backoff() {
        let mut t =
            scripted((0..4).map(|_| answer(503, "<html>down</html>", &[("content-type", "text/html")])).collect());
        let mut c = Client::new(Service::Humaans, "http://x", "tok");
        let err = c.send(&mut t, Call::get("/people")).unwrap_err();
        assert!(matches!(&err, AppError::Upstream(f) if f.status == Some(503) && f.message.contains("HTML")));
        assert_eq!(t.slept, vec![250, 500, 1000]);
    }

    #[test]
    fn malformed_json_retried_for_reads_not_writes() {
        let mut t = scripted(vec![answer(200, "{\"trunc", &[]), answer(200, "{}", &[])]);
        let mut c = Client::new(Service::Humaans, "http://x", "tok");
        assert!(c.send(&mut t, Call::get("/people")).is_ok());
        let mut t = scripted(vec![answer(201, "{\"trunc", &[])]);
        assert!(matches!(
            c.send(&mut t, Call::with(Method::Post, "/Users", Some(serde_json::json!({})))),
            Err(AppError::Transport(_))
        ));
    }

    #[test]
    fn unauthorized_names_the_service_and_never_the_token() {
        let mut t = scripted(vec![answer(403, "", &[])]);
        let mut c = Client::new(Service::Scim, "http://x", "very-secret");
        let err = c.send(&mut t, Call::get("/Users")).unwrap_err();
        assert!(matches!(&err, AppError::Unauthorized(f) if f.service == Service::Scim));
        assert!(!format!("{err:?}").contains("very-secret"));
    }

    #[test]
    fn pacing_holds_requests_to_the_rate() {
        let answers = (0..7).map(|_| answer(204, "", &[])).collect();
        let mut t = scripted(answers);
        let mut c = Client::new(Service::Scim, "http://x", "tok").paced(3);
        let calls = (0..7).map(|i| Call::get(format!("/Users/{i}"))).collect();
        let results = c.send_all(&mut t, calls);
        assert!(results.iter().all(Result::is_ok));
        // A burst of 3, then one every 1000 / (3 * 0.97) ms: 4 more take at least 1.37 s, and
        // never run ahead of the rate.
        assert!(t.clock >= 1370 && t.clock < 1500, "{}", t.clock);
    }

    /// A transport that keeps `max_in_flight` open (as `WasiHttp` does), answering by path in the
    /// order begun, and that can begin requests early; records what it was handed.
    struct Streaming {
        answers: std::collections::HashMap<String, VecDeque<Result<HttpResponse, TransportError>>>,
        /// Paths in the order they went out (begun early or sent).
        sent: Vec<String>,
        /// Paths begun by `start`, not yet taken over.
        started: Vec<HttpRequest>,
        /// Sizes of the queues `send_each` was handed.
        handed: Vec<usize>,
        slept: Vec<u64>,
        clock: u64,
    }

    impl Streaming {
        fn new(answers: &[(&str, Vec<Result<HttpResponse, TransportError>>)]) -> Self {
            let answers = answers.iter().map(|(p, a)| (format!("http://x{p}"), a.iter().cloned().collect())).collect();
            Streaming { answers, sent: vec![], started: vec![], handed: vec![], slept: vec![], clock: 0 }
        }
        fn answer(&mut self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
            self.answers.get_mut(&request.url).and_then(VecDeque::pop_front).expect("scripted answer")
        }
    }

    impl HttpTransport for Streaming {
        fn send_all(&mut self, _: Vec<HttpRequest>, _: usize) -> Vec<Result<HttpResponse, TransportError>> {
            unreachable!("the client streams")
        }
        fn send_each(
            &mut self,
            requests: Vec<HttpRequest>,
            max_in_flight: usize,
            done: &mut dyn FnMut(usize, Result<HttpResponse, TransportError>) -> Flow,
        ) -> Vec<usize> {
            self.handed.push(requests.len());
            // Answers come back as soon as sent: `max_in_flight` open means the next starts as
            // each one finishes, which in this serial model is one at a time.
            assert!(max_in_flight >= 1);
            for (index, request) in requests.iter().enumerate() {
                match self.started.iter().position(|r| r == request) {
                    Some(at) => drop(self.started.swap_remove(at)),
                    None => self.sent.push(request.url.trim_start_matches("http://x").to_owned()),
                }
                let answer = self.answer(request);
                if done(index, answer) == Flow::Hold {
                    return (index + 1..requests.len()).collect();
                }
            }
            Vec::new()
        }
        fn start(&mut self, request: HttpRequest) {
            self.sent.push(request.url.trim_start_matches("http://x").to_owned());
            self.started.push(request);
        }
        fn sleep(&mut self, millis: u64) {
            self.slept.push(millis);
            self.clock += millis;
        }
        fn monotonic_millis(&mut self) -> u64 {
            self.clock
        }
    }

    fn ok() -> Result<HttpResponse, TransportError> {
        answer(200, "{}", &[])
    }

    #[test]
    fn a_call_begun_early_is_sent_and_counted_once() {
        let mut t = Streaming::new(&[("/a", vec![ok()]), ("/b", vec![ok()])]);
        let mut c = Client::new(Service::Humaans, "http://x", "tok");
        c.start(&mut t, &Call::get("/b"));
        c.start(&mut t, &Call::get("/b"));
        c.start(&mut t, &Call::with(Method::Post, "/a", None));
        assert_eq!((t.sent.clone(), c.requests_sent), (vec!["/b".to_owned()], 1));
        let replies = c.send_all(&mut t, vec![Call::get("/a"), Call::get("/b")]);
        assert!(replies.iter().all(Result::is_ok));
        assert_eq!((t.sent, c.requests_sent, t.started.len()), (vec!["/b".to_owned(), "/a".to_owned()], 2, 0));
    }

    #[test]
    fn a_paced_client_begins_early_only_what_the_rate_allows_and_never_twice() {
        let mut t = Streaming::new(&[("/0", vec![ok()]), ("/1", vec![ok()]), ("/2", vec![ok()])]);
        // A burst of one: `/0` takes it; `/1` finds none left and is sent when asked instead.
        let mut c = Client::new(Service::Scim, "http://x", "tok").paced(1);
        c.start(&mut t, &Call::get("/0"));
        c.start(&mut t, &Call::get("/1"));
        assert_eq!((t.sent.len(), c.requests_sent), (1, 1));
        let replies = c.send_all(&mut t, (0..3).map(|i| Call::get(format!("/{i}"))).collect());
        assert!(replies.iter().all(Result::is_ok));
        assert_eq!((t.sent, c.requests_sent), (vec!["/0".to_owned(), "/1".to_owned(), "/2".to_owned()], 3));
        // `/0` was paced when begun: the two others waited for the rate, not three.
        assert_eq!(t.slept.len(), 2);
    }

    #[test]
    fn an_unpaced_client_hands_over_the_whole_queue_and_holds_it_for_a_retry() {
        let mut t = Streaming::new(&[
            ("/0", vec![ok()]),
            ("/1", vec![answer(503, "", &[("retry-after", "1")]), ok()]),
            ("/2", vec![ok()]),
            ("/3", vec![ok()]),
        ]);
        let mut c = Client::new(Service::Humaans, "http://x", "tok");
        let mut order = Vec::new();
        c.send_each(&mut t, (0..4).map(|i| Call::get(format!("/{i}"))).collect(), &mut |i, r| {
            order.push((i, r.is_ok()));
            Flow::Go
        });
        // All four handed over at once; the 503 stopped new starts, so /2 and /3 went after the
        // pause, first, and the retry of /1 after them.
        assert_eq!(t.handed, vec![4, 3]);
        assert_eq!(t.sent, ["/0", "/1", "/2", "/3", "/1"]);
        assert_eq!(t.slept, vec![1000]);
        assert_eq!(order, vec![(0, true), (2, true), (3, true), (1, true)]);
        assert_eq!(c.requests_sent, 5);
    }

    #[test]
    fn a_caller_that_holds_gets_nothing_more_sent() {
        let mut t = Streaming::new(&[("/0", vec![ok()]), ("/1", vec![answer(404, "", &[])]), ("/2", vec![ok()])]);
        let mut c = Client::new(Service::Humaans, "http://x", "tok");
        let mut replies = Vec::new();
        c.send_each(&mut t, (0..3).map(|i| Call::get(format!("/{i}"))).collect(), &mut |i, r| {
            replies.push(i);
            if r.is_ok() { Flow::Go } else { Flow::Hold }
        });
        assert_eq!((replies, t.sent, c.requests_sent), (vec![0, 1], vec!["/0".to_owned(), "/1".to_owned()], 2));
    }

    #[test]
    fn the_default_send_each_holds_between_chunks() {
        let mut t = scripted(vec![ok(), answer(500, "", &[]), ok(), ok(), ok()]);
        let mut c = Client::new(Service::Humaans, "http://x", "tok");
        c.max_in_flight = 2;
        let replies = c.send_all(&mut t, (0..4).map(|i| Call::get(format!("/{i}"))).collect());
        assert!(replies.iter().all(Result::is_ok));
        let paths: Vec<&str> = t.sent.iter().map(|r| r.url.trim_start_matches("http://x")).collect();
        // The 500 came in the first chunk of two: the next two wait for the backoff.
        assert_eq!(paths, ["/0", "/1", "/2", "/3", "/1"]);
        assert_eq!(t.slept, vec![250]);
    }

    /// Answers every request but drops the first one handed over: neither answered nor unsent.
    struct LosesOne {
        lost: bool,
        slept: Vec<u64>,
    }

    impl HttpTransport for LosesOne {
        fn send_all(&mut self, _: Vec<HttpRequest>, _: usize) -> Vec<Result<HttpResponse, TransportError>> {
            unreachable!("the client streams")
        }
        fn send_each(
            &mut self,
            requests: Vec<HttpRequest>,
            _: usize,
            done: &mut dyn FnMut(usize, Result<HttpResponse, TransportError>) -> Flow,
        ) -> Vec<usize> {
            for index in 0..requests.len() {
                if !std::mem::replace(&mut self.lost, true) {
                    continue;
                }
                done(index, ok());
            }
            Vec::new()
        }
        fn sleep(&mut self, millis: u64) {
            self.slept.push(millis);
        }
        fn monotonic_millis(&mut self) -> u64 {
            0
        }
    }

    #[test]
    fn a_request_the_transport_loses_is_retried_as_broken() {
        let mut t = LosesOne { lost: false, slept: vec![] };
        let mut c = Client::new(Service::Humaans, "http://x", "tok");
        let replies = c.send_all(&mut t, (0..3).map(|i| Call::get(format!("/{i}"))).collect());
        assert!(replies.iter().all(Result::is_ok));
        assert_eq!((c.requests_sent, t.slept.len()), (4, 1));
    }

    /// `retry_after_ms` against what it replaces, `str::parse::<f64>`: the same milliseconds
    /// wherever the client tells them apart (up to `RETRY_AFTER_MAX_MS`; anything longer gives up).
    #[test]
    fn retry_after_is_read_as_the_float_parser_read_it() {
        fn by_float(value: &str) -> u64 {
            value.trim().parse::<f64>().ok().map(|s| (s.max(0.0) * 1000.0) as u64).unwrap_or(0)
        }
        fn check(value: &str) {
            let (mine, theirs) = (retry_after_ms(value), by_float(value));
            let over = RETRY_AFTER_MAX_MS;
            assert!(mine == theirs || (mine > over && theirs > over), "{value:?}: {mine} against {theirs}");
        }
        let mut checked = 0;
        // Every value to the tenth of a millisecond up to 40 s, with and without a point.
        for whole in 0..=40 {
            check(&whole.to_string());
            check(&format!("{whole}."));
            for places in 1..=4 {
                for fraction in 0..10u32.pow(places) {
                    check(&format!("{whole}.{fraction:0places$}", places = places as usize));
                    checked += 1;
                }
            }
        }
        assert!(checked > 450_000);
        for value in [
            "",
            " ",
            ".",
            "-",
            "+",
            "e",
            ".e1",
            "1e",
            "1e+",
            "1e-",
            "5.",
            ".5",
            "+.5",
            "-.5",
            " 7 ",
            "\t3\n",
            "+2",
            "-2",
            "-0",
            "+0",
            "0.0",
            "00002.50",
            "2.5e0",
            "25E-1",
            "0.0025e3",
            "2500e-3",
            "1e1",
            "3e1",
            "3.0001e1",
            "1e-3",
            "1e-4",
            "9e-4",
            "1.5e-3",
            "0.0015",
            "2.3",
            "4.35",
            "1.005",
            "29.999",
            "30",
            "30.0001",
            "31",
            "1e22",
            "1e23",
            "1e400",
            "1e-400",
            "0e999",
            "1e999999999999",
            "1e-999999999999",
            "inf",
            "-inf",
            "+inf",
            "INF",
            "Infinity",
            "-infinity",
            "infinit",
            "in",
            "nan",
            "NaN",
            "-nan",
            "+nan",
            "nan1",
            "1nan",
            "0x10",
            "1_0",
            "1,5",
            "5.5.5",
            "1e1.5",
            "1 5",
            "++1",
            "+-1",
            "--1",
            "١",
            "Fri, 07 Dec 2026 20:00:00 GMT",
            "1000000000000000000000000e-24",
            "1.000000000000000000000000",
            "0.000000000000000000000000001",
            "123456789012345678901234567890",
            "0.00000000000000000000000000000000000000000000001e50",
        ] {
            check(value);
        }
        // Random text of the characters a number is written with.
        let alphabet = b"0123456789.eE+-in ";
        let mut rng = 7u64;
        let mut next = move |n: u64| {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (rng >> 33) % n
        };
        for _ in 0..200_000 {
            let len = 1 + next(9) as usize;
            let value: String = (0..len).map(|_| alphabet[next(alphabet.len() as u64) as usize] as char).collect();
            check(&value);
        }
        // Random values of up to 15 significant digits, every way of writing them.
        for _ in 0..200_000 {
            let digits = 1 + next(15) as u32;
            let mantissa = next(10u64.pow(digits));
            let exponent = next(30) as i64 - 20;
            check(&format!("{mantissa}e{exponent}"));
            let text = mantissa.to_string();
            let point = next(text.len() as u64 + 1) as usize;
            check(&format!("{}.{}", &text[..point], &text[point..]));
            check(&format!("0.000{text}e{}", exponent + 3));
        }
        // Longer mantissas lose their last digits: at most a millisecond apart.
        for _ in 0..100_000 {
            let value = format!("{}.{}{}", next(31), next(1 << 60), next(1 << 60));
            assert!(retry_after_ms(&value).abs_diff(by_float(&value)) <= 1, "{value}");
        }
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("userName eq \"a+b@x.com\""), "userName%20eq%20%22a%2Bb%40x.com%22");
    }
}
