//! The steady sync's reads sent again by the bench itself: the mocks' share of its wall time.

use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::rig::Rig;
use mock_servers::JournalEntry;
use mock_servers::leapsome::LeapsomeConfig;

/// Sends the GETs of the last sync again — straight from the bench, one at a time, over plain
/// HTTP/1.1 — and returns the wall seconds: what the mocks alone cost, and of that mock Leapsome.
pub(super) async fn replay_reads(rig: &Rig) -> Result<(f64, f64)> {
    let humaans = rig.humaans.control().journal();
    let leapsome = rig.leapsome.control().journal();
    let scim_token = LeapsomeConfig::default().token;
    let reads = |journal: &[JournalEntry]| -> Vec<String> {
        journal
            .iter()
            .filter(|e| e.method == "GET" && !e.path.contains(' '))
            .map(|e| if e.query.is_empty() { e.path.clone() } else { format!("{}?{}", e.path, e.query) })
            .collect()
    };
    let mut seconds = [0.0; 2];
    for (i, (addr, token, targets)) in [
        (rig.humaans.addr(), mock_servers::humaans::DEFAULT_TOKEN, reads(&humaans)),
        (leapsome_addr(rig), scim_token.as_str(), reads(&leapsome)),
    ]
    .into_iter()
    .enumerate()
    {
        let start = Instant::now();
        for target in targets {
            http_get(addr, &target, token).await.with_context(|| format!("replaying GET {target}"))?;
        }
        seconds[i] = start.elapsed().as_secs_f64();
    }
    Ok((seconds[0] + seconds[1], seconds[1]))
}

fn leapsome_addr(rig: &Rig) -> std::net::SocketAddr {
    let url = rig.leapsome.base_url();
    let authority = url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned();
    authority.parse().expect("the mock listens on an IP address")
}

/// One `GET` with `Connection: close`; the whole response is read and dropped.
async fn http_get(addr: std::net::SocketAddr, target: &str, token: &str) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    if !response.starts_with(b"HTTP/1.1 200") {
        bail!("{}", String::from_utf8_lossy(&response[..response.len().min(80)]));
    }
    Ok(())
}
