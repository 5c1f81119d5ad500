//! The component's `sync-all`, run natively against the built-in mocks: a harness to profile its
//! CPU (`perf record`) and heap (peak bytes in use, counted by a wrapping allocator) without
//! wasmtime in the way. Sizes are a 64-bit build's (pointers and `String`s are twice wasm32's),
//! so read the heap figures as proportions; `host-harness bench` measures the real guest.
//!
//! `cargo run --release --example native_sync -- [EMPLOYEES] [STEADY_RUNS]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use humaans_leapsome::app::{self, ConnectInput, Env, SyncOptions};
use humaans_leapsome::ports::{HttpRequest, HttpResponse, HttpTransport, MemoryKeyValue, TransportError};
use humaans_leapsome::reconcile::{DeprovisionAction, Dialect, ProvisionTiming, Settings};
use jiff::Timestamp;
use jiff::tz::Offset;
use mock_servers::humaans::{HumaansConfig, MockHumaans};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

struct Counting;
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the component's thread is counted: the mocks run on the runtime's threads.
    static COUNTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(std::cell::Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Plain HTTP/1.1 over loopback, one request per connection, in order.
struct Loopback {
    started: Instant,
}

impl Loopback {
    fn one(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let broken = |e: std::io::Error| TransportError::Broken(e.to_string());
        let rest = request.url.strip_prefix("http://").ok_or(TransportError::Denied)?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut stream = TcpStream::connect(authority).map_err(|e| TransportError::Unreachable(e.to_string()))?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n",
            request.method.as_str(),
            if path.is_empty() { "/" } else { path }
        );
        for (name, value) in &request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = request.body.as_deref().unwrap_or_default();
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).map_err(broken)?;
        stream.write_all(body).map_err(broken)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(broken)?;
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or(TransportError::Broken("no head".into()))?;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw.split_off(end + 4);
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        Ok(HttpResponse { status, headers, body })
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 4 + size..];
    }
    out
}

impl HttpTransport for Loopback {
    fn send_all(
        &mut self,
        requests: Vec<HttpRequest>,
        _max_in_flight: usize,
    ) -> Vec<Result<HttpResponse, TransportError>> {
        requests.iter().map(|r| self.one(r)).collect()
    }
    fn sleep(&mut self, millis: u64) {
        std::thread::sleep(std::time::Duration::from_millis(millis));
    }
    fn monotonic_millis(&mut self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

fn print_heap(label: &'static str) {
    static LAST: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    if MARKS.load(Ordering::Relaxed) {
        let mut last = LAST.lock().unwrap();
        let since = last.map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e3);
        *last = Some(Instant::now());
        eprintln!(
            "  {label:<32} {since:>8.1} ms since the last mark; in use {:>7.1} MiB, peak so far {:>7.1} MiB",
            IN_USE.load(Ordering::Relaxed) as f64 / 1048576.0,
            PEAK.load(Ordering::Relaxed) as f64 / 1048576.0
        );
    }
}

static MARKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn main() {
    humaans_leapsome::probe::set_hook(print_heap);
    MARKS.store(std::env::var_os("NATIVE_SYNC_MARK_INITIAL").is_some(), Ordering::Relaxed);
    COUNTED.with(|c| c.set(true));
    let mut args = std::env::args().skip(1);
    let employees: usize = args.next().map_or(10_000, |a| a.parse().expect("EMPLOYEES is a number"));
    let steady_runs: usize = args.next().map_or(1, |a| a.parse().expect("STEADY_RUNS is a number"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (humaans, leapsome) = runtime.block_on(async {
        let humaans = MockHumaans::start(HumaansConfig::default()).await.unwrap();
        humaans.load_seed(mock_servers::org::generate_org(
            employees,
            4711,
            &Offset::UTC.to_datetime(Timestamp::now()).date().to_string(),
        ));
        let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await.unwrap();
        (humaans, leapsome)
    });
    let mut http = Loopback { started: Instant::now() };
    let mut kv = MemoryKeyValue::default();
    let mut env = Env { http: &mut http, kv: &mut kv, now: Timestamp::now(), run: Default::default() };
    app::connect(
        &mut env,
        ConnectInput {
            scim_base_url: Some(leapsome.base_url()),
            scim_token: LeapsomeConfig::default().token,
            scim_requests_per_second: Some(0),
            humaans_base_url: Some(humaans.base_url()),
            humaans_token: mock_servers::humaans::DEFAULT_TOKEN.into(),
            humaans_webhook_secret: None,
        },
    )
    .expect("connect");
    let settings = Settings {
        provisioning: Some(ProvisionTiming::Immediately),
        deprovisioning: Some(DeprovisionAction::Suspend),
        dialect: Dialect::Leapsome,
        deprovision_limit: None,
        deprovision_window_minutes: None,
        ..Settings::default()
    };
    app::configure(&mut env, settings).expect("configure");
    let started = Instant::now();
    let mut calls = 0;
    loop {
        calls += 1;
        let before = IN_USE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let report = app::sync_all(&mut env, SyncOptions::default(), None).expect("initial sync");
        eprintln!(
            "initial sync call {calls}: {} writes, heap peak {:.1} MiB above the {:.1} MiB held before",
            report.writes,
            (PEAK.load(Ordering::Relaxed) - before) as f64 / 1048576.0,
            before as f64 / 1048576.0
        );
        if report.complete {
            break;
        }
    }
    eprintln!("initial sync: {calls} calls, {:.2} s", started.elapsed().as_secs_f64());
    for _ in 0..steady_runs {
        MARKS.store(true, Ordering::Relaxed);
        let before = IN_USE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let started = Instant::now();
        let report = app::sync_all(&mut env, SyncOptions::default(), None).expect("steady sync");
        let wall = started.elapsed().as_secs_f64();
        let peak = PEAK.load(Ordering::Relaxed) - before;
        println!(
            "steady sync: {:.3} s, {} writes, heap peak {:.1} MiB above the {:.1} MiB held before",
            wall,
            report.writes,
            peak as f64 / 1048576.0,
            before as f64 / 1048576.0
        );
    }
}
