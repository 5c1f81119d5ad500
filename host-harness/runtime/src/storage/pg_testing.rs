//! A throw-away PostgreSQL server for tests, from the machine's own binaries: `initdb` into a temp
//! dir (as the `postgres` user when we are root: the server refuses to run as root), `pg_ctl start`
//! on a free loopback port with its socket in that dir, one fresh database per caller. The server
//! is shared by the tests of one process that overlap in time and stopped (and its dir removed)
//! when the last of them drops its handle.
//!
//! No PostgreSQL installed: `TestPg::start` says so on stderr and returns `None` (the test skips),
//! except under `CI=true`, where it panics: CI must not go green on skipped store tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// One database on a running throw-away server. Keeps the server alive while held.
pub struct TestPg {
    server: Arc<Server>,
    pub url: String,
    pub database: String,
}

struct Server {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());
static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestPg {
    /// A fresh, empty database on the shared server; `None` (after a loud message) where no
    /// PostgreSQL is installed and we are not in CI.
    pub fn start() -> Option<TestPg> {
        let server = {
            let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
            match shared.upgrade() {
                Some(server) => server,
                None => {
                    let bin = match find_bin_dir() {
                        Some(bin) => bin,
                        None => return skip("no PostgreSQL server binaries (initdb, pg_ctl) were found"),
                    };
                    let server = Arc::new(Server::start(bin).unwrap_or_else(|e| panic!("test PostgreSQL: {e}")));
                    *shared = Arc::downgrade(&server);
                    server
                }
            }
        };
        let database = format!("hh_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        server
            .run("createdb", &["-h", "127.0.0.1", "-p", &server.port.to_string(), "-U", "postgres", &database])
            .unwrap_or_else(|e| panic!("test PostgreSQL: {e}"));
        let url = format!("postgres://postgres@127.0.0.1:{}/{database}", server.port);
        Some(TestPg { server, url, database })
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }
}

fn skip<T>(why: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {why}: install PostgreSQL (scripts/setup.sh does) or set PG_BIN");
    }
    // Straight to stderr, not `eprintln!`: the test harness swallows that for passing tests.
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! SKIPPED: {why}; the PostgreSQL tests did not run (scripts/setup.sh installs it) !!!\n"
        );
    });
    None
}

/// `$PG_BIN`, else the newest `/usr/lib/postgresql/*/bin` (Debian's layout), else `pg_ctl` on PATH.
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return has_tools(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).find(|d| has_tools(d)))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    fn start(bin: PathBuf) -> Result<Server, String> {
        let as_postgres = is_root();
        let dir =
            std::env::temp_dir().join(format!("hh-pg-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut server = Server { bin, dir, port: 0, as_postgres };
        if as_postgres {
            // initdb and the server run as `postgres`, which must own the directory.
            let status = Command::new("chown").args(["postgres:postgres", server.dir.to_str().unwrap()]).status();
            if !status.is_ok_and(|s| s.success()) {
                return Err(format!("cannot chown {} to the postgres user", server.dir.display()));
            }
        }
        let data = server.dir.join("data");
        let data = data.to_str().unwrap();
        server
            .run("initdb", &["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])?;
        // A port found free may be taken before the server binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            server.port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                server.port,
                server.dir.display()
            );
            let log = server.dir.join("server.log");
            match server
                .run("pg_ctl", &["-D", data, "-l", log.to_str().unwrap(), "-w", "-t", "60", "-o", &options, "start"])
            {
                Ok(()) => return Ok(server),
                Err(e) => last_error = format!("{e}; {}", std::fs::read_to_string(&log).unwrap_or_default()),
            }
        }
        Err(last_error)
    }

    /// Runs one of the server's tools, as `postgres` when we are root.
    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // The tools' cwd must be readable by `postgres`; the caller's may not be.
        let out = command.args(args).current_dir(&self.dir).output().map_err(|e| format!("cannot run {tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        // `immediate`: the data is thrown away anyway.
        let _ = self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
