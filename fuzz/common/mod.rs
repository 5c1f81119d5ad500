//! A scripted HTTP transport for the fuzz targets: the fuzzer's bytes become the responses.

use humaans_leapsome::ports::{HttpRequest, HttpResponse, HttpTransport, TransportError};

/// Statuses a response can take (the first byte of each chunk picks one).
const STATUSES: [u16; 14] = [200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 503];
/// Requests one run may send; more are answered with a broken connection (keeps runs short).
const MAX_REQUESTS: usize = 64;

pub struct Scripted {
    responses: Vec<HttpResponse>,
    pub sent: Vec<HttpRequest>,
    clock: u64,
}

impl Scripted {
    /// Chunks separated by 0xFF: the first byte of each picks the status, the rest is the body.
    /// Responses are served in order; the last one repeats.
    pub fn from_bytes(data: &[u8]) -> Self {
        let responses = data
            .split(|b| *b == 0xFF)
            .map(|chunk| {
                let (status, body) = match chunk.split_first() {
                    Some((s, body)) => (STATUSES[*s as usize % STATUSES.len()], body.to_vec()),
                    None => (200, Vec::new()),
                };
                let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
                if status == 429 {
                    headers.push(("retry-after".to_owned(), "1".to_owned()));
                }
                HttpResponse { status, headers, body }
            })
            .collect();
        Scripted { responses, sent: Vec::new(), clock: 0 }
    }
}

impl HttpTransport for Scripted {
    fn send_all(&mut self, requests: Vec<HttpRequest>, _max: usize) -> Vec<Result<HttpResponse, TransportError>> {
        requests
            .into_iter()
            .map(|request| {
                self.sent.push(request);
                let n = self.sent.len();
                if n > MAX_REQUESTS {
                    return Err(TransportError::Broken("fuzz request budget spent".into()));
                }
                Ok(self.responses[(n - 1).min(self.responses.len() - 1)].clone())
            })
            .collect()
    }

    fn sleep(&mut self, millis: u64) {
        self.clock += millis;
    }

    fn monotonic_millis(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}
