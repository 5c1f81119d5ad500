//! The admin page's sessions and the count of failed logins per client: the state `admin.rs`'s
//! handlers and gate keep in the app, free of the app itself.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a login lasts (the cookie's Max-Age too).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

struct Session {
    csrf: String,
    expires: Instant,
}

#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex, from the operating system.
fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("the operating system's random source is readable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    pub fn create(&self) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        let mut sessions = self.sessions.lock().unwrap();
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(id.clone(), Session { csrf: csrf.clone(), expires: now + SESSION_TTL });
        (id, csrf)
    }

    /// The session's CSRF token, if the id names a live session.
    pub fn csrf_of(&self, id: &str) -> Option<String> {
        let sessions = self.sessions.lock().unwrap();
        sessions.get(id).filter(|s| s.expires > Instant::now()).map(|s| s.csrf.clone())
    }

    pub fn end(&self, id: &str) {
        self.sessions.lock().unwrap().remove(id);
    }
}

/// Failed logins (a wrong token at `POST /session` or as a bearer token) a client may make in
/// [`LOGIN_WINDOW`]; past them it gets 429 until the oldest is a window old.
pub const LOGIN_FAILURES: usize = 10;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered at once; past this, those with no failure in the window are forgotten.
const CLIENTS_KEPT: usize = 10_000;

/// Recent failed logins by client: an IPv4 address, or the /64 an IPv6 address is in (one
/// machine usually holds a whole /64).
#[derive(Default)]
pub struct Logins {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Logins {
    fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            },
            v4 => v4,
        }
    }

    /// How long the client must wait, while it is over the limit.
    pub fn retry_after(&self, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap();
        let times = failures.get_mut(&Self::key(ip))?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= LOGIN_WINDOW) {
            times.pop_front();
        }
        (times.len() >= LOGIN_FAILURES).then(|| LOGIN_WINDOW - now.duration_since(times[0]))
    }

    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap();
        if failures.len() >= CLIENTS_KEPT {
            failures.retain(|_, t| t.back().is_some_and(|last| now.duration_since(*last) < LOGIN_WINDOW));
        }
        let times = failures.entry(Self::key(ip)).or_default();
        times.push_back(now);
        if times.len() > LOGIN_FAILURES {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let logins = Logins::default();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..LOGIN_FAILURES {
            logins.failed(a);
        }
        assert!(logins.retry_after(b).is_some_and(|d| d <= LOGIN_WINDOW), "the same /64");
        assert_eq!(logins.retry_after(other), None);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        logins.failed(mapped);
        assert_eq!(Logins::key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(logins.retry_after("192.0.2.7".parse().unwrap()), None, "one failure is under the limit");
    }
}
