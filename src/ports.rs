//! The two things the component needs from its host, as small traits: the shell is written
//! against these, the wasm adapters (`adapters/`) implement them over raw WASI bindings, and
//! native tests implement them with fakes.

/// An HTTP request the shell wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    /// Absolute URL: `http(s)://host[:port]/path?query`, already percent-encoded.
    pub url: String,
    /// Header name (lower case) and value. `authorization` carries a secret: never log it.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header name (lower case) and value.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why a request got no HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The host refused to send it (not on the tenant's allow-list).
    Denied,
    /// The host refused the destination: its name resolves only to addresses that are not public
    /// (loopback, private, special-purpose). A policy refusal, not a network failure: nothing was
    /// sent and retrying cannot help.
    NotPublic,
    /// Connection refused, DNS failure, TLS failure.
    Unreachable(String),
    /// A timeout (connect, first byte, between bytes).
    TimedOut(String),
    /// The connection broke or the response was cut short / too large.
    Broken(String),
    /// The request could not be built (bad URL).
    InvalidRequest(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Denied => f.write_str("the host denied the request (destination not allowed)"),
            TransportError::NotPublic => {
                f.write_str("not a public address: the host's egress policy refused the destination (nothing was sent)")
            }
            TransportError::Unreachable(m) => write!(f, "unreachable: {m}"),
            TransportError::TimedOut(m) => write!(f, "timed out: {m}"),
            TransportError::Broken(m) => write!(f, "connection failed: {m}"),
            TransportError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
        }
    }
}

/// Whether `send_each` goes on starting the requests it has not started yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Go,
    /// Start no more: the ones open are finished, the rest handed back (a server asking for a
    /// pause should not get the whole queue meanwhile).
    Hold,
}

/// Sends HTTP requests. `send_all` sends up to `max_in_flight` at once and returns the results
/// in the order of `requests`.
pub trait HttpTransport {
    fn send_all(
        &mut self,
        requests: Vec<HttpRequest>,
        max_in_flight: usize,
    ) -> Vec<Result<HttpResponse, TransportError>>;

    /// As `send_all`, but each result goes to `done` (with its position in `requests`) as soon
    /// as it is complete, while the others are still in flight: a page is parsed while the next
    /// ones arrive, and a finished request's slot goes to the next at once. Once `done` says
    /// [`Flow::Hold`], no more are started; returns the positions never started. The default
    /// sends `max_in_flight` at a time, then hands them over in order.
    fn send_each(
        &mut self,
        requests: Vec<HttpRequest>,
        max_in_flight: usize,
        done: &mut dyn FnMut(usize, Result<HttpResponse, TransportError>) -> Flow,
    ) -> Vec<usize> {
        let total = requests.len();
        let mut requests = requests.into_iter();
        let mut sent = 0;
        while sent < total {
            let chunk: Vec<HttpRequest> = requests.by_ref().take(max_in_flight.max(1)).collect();
            let mut flow = Flow::Go;
            for result in self.send_all(chunk, max_in_flight) {
                if done(sent, result) == Flow::Hold {
                    flow = Flow::Hold;
                }
                sent += 1;
            }
            if flow == Flow::Hold {
                break;
            }
        }
        (sent..total).collect()
    }

    /// Begins sending `request` ahead of time: the caller will soon pass `send_each` an equal
    /// request, which then takes over this one instead of sending it again. Meanwhile the server
    /// prepares the response while the caller does other work (reads another list). A hint:
    /// the default does nothing, and the request is sent when asked for.
    fn start(&mut self, _request: HttpRequest) {}

    fn send(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.send_all(vec![request], 1).pop().expect("one result per request")
    }

    /// Blocks for `millis` milliseconds (backoff, pacing).
    fn sleep(&mut self, millis: u64);

    /// Milliseconds on a monotonic clock (for pacing).
    fn monotonic_millis(&mut self) -> u64;
}

/// Tenant storage: a flat key/value namespace the host scopes to this tenant.
///
/// Calls may overlap (two processes, cron during a webhook), so nothing may be kept as one shared
/// value that two calls read, change and write back: per-person records get their own keys, and
/// counters use [`KeyValue::increment`], which the host makes atomic across every caller.
pub trait KeyValue {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String>;
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), String>;
    fn delete(&mut self, key: &str) -> Result<(), String>;

    /// Adds `delta` to the counter at `key` (missing = 0) and returns the new value, atomically
    /// (`wasi:keyvalue/atomics.increment`). `delta = 0` reads the counter.
    fn increment(&mut self, key: &str, delta: u64) -> Result<u64, String>;

    /// Every key in the namespace (`list-keys`, all pages).
    fn list_keys(&mut self) -> Result<Vec<String>, String>;

    /// Several reads in one host call (`wasi:keyvalue/batch.get-many`), in the order asked.
    fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, String> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    /// Several writes in one host call (`wasi:keyvalue/batch.set-many`).
    fn set_many(&mut self, entries: &[(String, Vec<u8>)]) -> Result<(), String> {
        entries.iter().try_for_each(|(k, v)| self.set(k, v))
    }

    /// Several deletes in one host call (`wasi:keyvalue/batch.delete-many`).
    fn delete_many(&mut self, keys: &[String]) -> Result<(), String> {
        keys.iter().try_for_each(|k| self.delete(k))
    }
}

/// A `MemoryKeyValue` whose batch writes go to `on_set_many` instead: native tests that count
/// batches, or slip an overlapping call's write in just after one.
#[cfg(test)]
pub struct BatchHook<'a, F> {
    pub inner: &'a mut MemoryKeyValue,
    pub on_set_many: F,
}

#[cfg(test)]
impl<F: FnMut(&mut MemoryKeyValue, &[(String, Vec<u8>)]) -> Result<(), String>> KeyValue for BatchHook<'_, F> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.inner.get(key)
    }
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.inner.set(key, value)
    }
    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.inner.delete(key)
    }
    fn increment(&mut self, key: &str, delta: u64) -> Result<u64, String> {
        self.inner.increment(key, delta)
    }
    fn list_keys(&mut self) -> Result<Vec<String>, String> {
        self.inner.list_keys()
    }
    fn set_many(&mut self, entries: &[(String, Vec<u8>)]) -> Result<(), String> {
        (self.on_set_many)(self.inner, entries)
    }
}

/// An in-memory `KeyValue` for native tests, counting operations.
#[derive(Debug, Default, Clone)]
pub struct MemoryKeyValue {
    pub data: std::collections::BTreeMap<String, Vec<u8>>,
    pub reads: usize,
    pub writes: usize,
}

impl KeyValue for MemoryKeyValue {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.reads += 1;
        Ok(self.data.get(key).cloned())
    }
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.writes += 1;
        self.data.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.writes += 1;
        self.data.remove(key);
        Ok(())
    }
    fn increment(&mut self, key: &str, delta: u64) -> Result<u64, String> {
        self.writes += 1;
        let current = match self.data.get(key) {
            None => 0,
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| format!("`{key}` does not hold a counter"))?,
        };
        let next = current.checked_add(delta).ok_or_else(|| format!("the counter `{key}` would overflow"))?;
        self.data.insert(key.to_owned(), next.to_string().into_bytes());
        Ok(next)
    }
    fn list_keys(&mut self) -> Result<Vec<String>, String> {
        self.reads += 1;
        Ok(self.data.keys().cloned().collect())
    }
}
