//! A rogue tenant's component: it implements the same world as the real integration, and its
//! `tick` misbehaves on purpose, chosen by the `now` argument. The sandbox tests load it into the
//! host next to the real component and check that each misbehaviour ends in a typed error for
//! that call only.
//!
//! | `now` | what the call does |
//! |---|---|
//! | `ok` | returns an empty report (the host still runs this component) |
//! | `loop` | spins forever |
//! | `alloc` | allocates 1 MiB blocks without bound |
//! | `alloc-huge` | asks for one 1 GiB block |
//! | `sleep` | blocks on a one-hour monotonic-clock timer |
//! | `panic` | panics (a trap) |
//! | `recurse` | recurses without bound (wasm's call stack overflows) |
//! | `recurse-shadow` | recurses with a buffer on the shadow stack (which runs off linear memory) |
//! | `http URL…` | sends a GET to each URL; `transport` error listing what happened to each |
//! | `escape PROBE…` | tries raw sockets, DNS, files, environment and stdio (`tcp=ADDR`, `udp=ADDR`, `tcp-listen=ADDR`, `dns=HOST`, `read=PATH`, `list=PATH`, `write=PATH`, `env`, `args`, `cwd`, `stdout`); `transport` error listing what happened |
//! | `hoard KIND N` | makes N host resources (`fields` of 16 KiB, `buckets`, `pollables`) and never drops them |
//! | `storage-write` | writes `rogue-marker` in its own default bucket |
//! | `fill N SIZE` | writes up to N keys `fill/<i>` of SIZE bytes each in its default bucket, stopping at the first error; `storage` error `filled K` or `filled K then error(…)` |
//! | `storage KEY…` | opens other bucket names, lists and reads keys (`KEY…` too), then tries to overwrite and delete them; `storage` error with a report |

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "humaans:integration/provisioning",
        generate_all,
    });
}

use bindings::exports::humaans::integration::integration::{
    ApprovalReport, ConnectReport, Connection, EmployeeEvent, EventOutcome, Guest, IntegrationError, LogPage, LogQuery,
    ProvisionTrace, Service, ServiceFailure, Settings, StatusReport, SyncOptions, SyncReport, TickReport,
    WebhookAccepted, WebhookRefusal,
};
use bindings::wasi::clocks::monotonic_clock;
use bindings::wasi::http::outgoing_handler;
use bindings::wasi::http::types::{ErrorCode, Fields, OutgoingRequest, Scheme};
use bindings::wasi::keyvalue::store;

struct Rogue;

bindings::export!(Rogue with_types_in bindings);

/// Bucket names a guest might try in order to reach another tenant's data.
fn probe_buckets() -> Vec<String> {
    vec![
        String::new(),
        "../tenant/other".into(),
        "tenant/b".into(),
        "tenant/victim".into(),
        "/".into(),
        "..".into(),
        "%2e%2e/tenant/victim".into(),
        "\0tenant/victim".into(),
        "x".repeat(1000),
    ]
}

fn label(bucket: &str) -> String {
    if bucket.len() > 40 { format!("<{} chars>", bucket.len()) } else { format!("{bucket:?}") }
}

fn empty_tick() -> TickReport {
    TickReport { provisioned: 0, deprovisioned: 0, managers_linked: 0, failed: 0, held: 0, waiting: 0, next_due: None }
}

/// Recursion on the wasm call stack alone (no address-taken locals): ends when wasm's stack does.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(depth)
}

/// Recursion with a buffer on Rust's shadow stack in linear memory: ends when that stack runs off
/// the bottom of memory.
#[inline(never)]
fn recurse_shadow(depth: u64, pad: &mut [u64; 64]) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    let mut local = *pad;
    local[(depth % 64) as usize] = depth;
    std::hint::black_box(&mut local);
    recurse_shadow(depth + 1, &mut local).wrapping_add(local[0])
}

fn describe_code(code: &ErrorCode) -> String {
    match code {
        ErrorCode::HttpRequestDenied => "denied".into(),
        other => format!("error {other:?}"),
    }
}

/// Tries one GET; says what happened without ever returning a response body.
fn try_get(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return "unsupported".into(),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    if request.set_scheme(Some(&scheme)).is_err() {
        return "invalid scheme".into();
    }
    if request.set_authority(Some(authority)).is_err() {
        return "invalid authority".into();
    }
    if request.set_path_with_query(Some(path)).is_err() {
        return "invalid path".into();
    }
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(code) => return describe_code(&code),
    };
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => format!("status {}", response.status()),
        Some(Ok(Err(code))) => describe_code(&code),
        Some(Err(())) => "response taken twice".into(),
        None => "no response".into(),
    }
}

/// Tries a way out of the sandbox other than `wasi:http`, through Rust's std (which uses
/// `wasi:sockets`, `wasi:filesystem` and `wasi:cli` underneath); says what happened.
fn escape(probe: &str) -> String {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let (kind, target) = probe.split_once('=').unwrap_or((probe, ""));
    let outcome = match kind {
        "tcp" => match std::net::TcpStream::connect(target) {
            Ok(mut stream) => {
                let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
                let mut buf = [0u8; 64];
                format!("connected, read {:?}", stream.read(&mut buf).map_err(|e| e.kind()))
            }
            Err(e) => format!("refused ({:?})", e.kind()),
        },
        "udp" => match std::net::UdpSocket::bind("0.0.0.0:0") {
            Ok(socket) => match socket.send_to(b"rogue", target) {
                Ok(n) => format!("sent {n} bytes"),
                Err(e) => format!("refused ({:?})", e.kind()),
            },
            Err(e) => format!("refused ({:?})", e.kind()),
        },
        "tcp-listen" => match std::net::TcpListener::bind(target) {
            Ok(listener) => format!("listening on {:?}", listener.local_addr()),
            Err(e) => format!("refused ({:?})", e.kind()),
        },
        "dns" => match (target, 80).to_socket_addrs() {
            Ok(addrs) => format!("resolved {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => format!("refused ({:?})", e.kind()),
        },
        "read" => match std::fs::read(target) {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("refused ({:?})", e.kind()),
        },
        "list" => match std::fs::read_dir(target) {
            Ok(entries) => format!("listed {} entries", entries.count()),
            Err(e) => format!("refused ({:?})", e.kind()),
        },
        "write" => match std::fs::write(target, b"rogue") {
            Ok(()) => "written".into(),
            Err(e) => format!("refused ({:?})", e.kind()),
        },
        "env" => {
            format!("{} variables {:?}", std::env::vars().count(), std::env::vars().map(|(k, _)| k).collect::<Vec<_>>())
        }
        "args" => format!("{} arguments", std::env::args().count()),
        "cwd" => format!("{:?}", std::env::current_dir().map_err(|e| e.kind())),
        "stdout" => {
            // Whatever the host does with it, it must not reach the host's own stdout.
            println!("rogue output on stdout");
            eprintln!("rogue output on stderr");
            "printed".into()
        }
        _ => "unknown probe".into(),
    };
    format!("{probe} -> {outcome}")
}

fn keys_of(bucket: &store::Bucket) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = bucket.list_keys(cursor).map_err(|e| format!("{e:?}"))?;
        keys.extend(page.keys);
        match page.cursor {
            Some(next) if keys.len() < 100_000 => cursor = Some(next),
            _ => return Ok(keys),
        }
    }
}

/// One line per bucket: `bucket=<name> open=<ok|error> keys=<…> <key>=<present|absent>…`, then
/// the overwrite and delete attempts.
fn probe_storage(targets: &[&str]) -> String {
    let mut report = Vec::new();
    for name in probe_buckets() {
        let bucket = match store::open(&name) {
            Ok(bucket) => bucket,
            Err(e) => {
                report.push(format!("bucket={} open=error({e:?})", label(&name)));
                continue;
            }
        };
        let mut line = format!("bucket={} open=ok", label(&name));
        match keys_of(&bucket) {
            Ok(keys) => line.push_str(&format!(" keys=[{}]", keys.join(","))),
            Err(e) => line.push_str(&format!(" keys=error({e})")),
        }
        for key in targets {
            let seen = match bucket.get(key) {
                Ok(Some(value)) => format!("present({})", String::from_utf8_lossy(&value)),
                Ok(None) => "absent".into(),
                Err(e) => format!("error({e:?})"),
            };
            line.push_str(&format!(" {key}={seen}"));
        }
        report.push(line);
    }
    // Vandalism: overwrite and delete the keys, in every bucket that opens.
    for name in probe_buckets() {
        if let Ok(bucket) = store::open(&name) {
            for key in targets {
                let _ = bucket.set(key, b"rogue was here");
                let _ = bucket.delete(key);
                let _ = bucket.set(key, b"rogue was here");
            }
        }
    }
    report.join("\n")
}

/// Fills the default bucket until `count` keys are written or a write fails.
fn fill(count: usize, size: usize) -> String {
    let bucket = match store::open("") {
        Ok(bucket) => bucket,
        Err(e) => return format!("open error({e:?})"),
    };
    let value = vec![b'f'; size];
    for i in 0..count {
        if let Err(e) = bucket.set(&format!("fill/{i:05}"), &value) {
            return format!("filled {i} then error({e:?})");
        }
    }
    format!("filled {count}")
}

impl Guest for Rogue {
    fn connect(_connection: Connection) -> Result<ConnectReport, IntegrationError> {
        Err(IntegrationError::NotConnected)
    }

    fn configure(_settings: Settings) -> Result<(), IntegrationError> {
        Err(IntegrationError::NotConnected)
    }

    fn on_employee_event(event: EmployeeEvent) -> Result<EventOutcome, IntegrationError> {
        Err(IntegrationError::UnknownPerson(event.person_id))
    }

    fn sync_all(_options: SyncOptions) -> Result<SyncReport, IntegrationError> {
        Err(IntegrationError::NotConnected)
    }

    fn tick(now: String) -> Result<TickReport, IntegrationError> {
        let mut words = now.split(' ');
        match words.next().unwrap_or("") {
            "ok" => Ok(empty_tick()),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xA5; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "alloc-huge" => {
                let block = vec![1u8; 1 << 30];
                std::hint::black_box(&block);
                Ok(empty_tick())
            }
            "sleep" => {
                monotonic_clock::subscribe_duration(3_600_000_000_000).block();
                Ok(empty_tick())
            }
            "panic" => panic!("the rogue component panics on purpose"),
            "recurse" => {
                std::hint::black_box(recurse(0));
                Ok(empty_tick())
            }
            "recurse-shadow" => {
                std::hint::black_box(recurse_shadow(0, &mut [0; 64]));
                Ok(empty_tick())
            }
            "http" => {
                let outcomes: Vec<String> = words.map(|url| format!("{url} -> {}", try_get(url))).collect();
                Err(IntegrationError::Transport(ServiceFailure {
                    service: Service::Scim,
                    status: None,
                    message: outcomes.join("\n"),
                }))
            }
            "fill" => {
                let count: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let size: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                Err(IntegrationError::Storage(fill(count, size)))
            }
            "escape" => Err(IntegrationError::Transport(ServiceFailure {
                service: Service::Humaans,
                status: None,
                message: words.map(escape).collect::<Vec<_>>().join("\n"),
            })),
            "hoard" => {
                // Host-side resources the guest never drops: they live in the host's memory, not
                // in the guest's linear memory, so the memory limit does not see them.
                let kind = words.next().unwrap_or("");
                let count: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let value = vec![b'a'; 16 * 1024];
                for i in 0..count {
                    match kind {
                        "fields" => {
                            let fields = Fields::new();
                            if let Err(e) = fields.append("x-rogue", &value) {
                                return Err(IntegrationError::Storage(format!("append {i} refused: {e:?}")));
                            }
                            std::mem::forget(fields);
                        }
                        "buckets" => match store::open("") {
                            Ok(bucket) => std::mem::forget(bucket),
                            Err(e) => return Err(IntegrationError::Storage(format!("open {i} refused: {e:?}"))),
                        },
                        "pollables" => std::mem::forget(monotonic_clock::subscribe_duration(1)),
                        _ => return Err(IntegrationError::Storage("unknown resource".into())),
                    }
                }
                Err(IntegrationError::Storage(format!("hoarded {count} {kind}")))
            }
            "storage-write" => {
                let bucket = store::open("").map_err(|e| IntegrationError::Storage(format!("{e:?}")))?;
                bucket.set("rogue-marker", b"rogue").map_err(|e| IntegrationError::Storage(format!("{e:?}")))?;
                Ok(empty_tick())
            }
            "storage" => {
                let targets: Vec<&str> = words.collect();
                Err(IntegrationError::Storage(probe_storage(&targets)))
            }
            other => Err(IntegrationError::UnknownPerson(other.to_owned())),
        }
    }

    fn read_logs(_query: LogQuery) -> Result<LogPage, IntegrationError> {
        Ok(LogPage { entries: Vec::new(), next_before: None })
    }

    fn retry(_person_id: String) -> Result<(), IntegrationError> {
        Err(IntegrationError::NotConnected)
    }

    fn approve_deprovisions(_person_id: Option<String>) -> Result<ApprovalReport, IntegrationError> {
        Err(IntegrationError::NotConnected)
    }

    fn status() -> Result<StatusReport, IntegrationError> {
        Err(IntegrationError::NotConnected)
    }

    fn provision_person(_person_id: String, _dry_run: bool) -> Result<ProvisionTrace, IntegrationError> {
        Err(IntegrationError::NotConnected)
    }

    fn handle_webhook(_headers: Vec<(String, String)>, _body: Vec<u8>) -> Result<WebhookAccepted, WebhookRefusal> {
        Err(WebhookRefusal::NotConfigured)
    }
}
