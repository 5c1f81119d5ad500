//! Helpers every part of the bench uses: progress lines on stderr, the machine's description, rounding
//! and the median. Imports no other module of the bench, so that any of them may import it.

use serde_json::{Value, json};

pub(super) fn progress(message: impl AsRef<str>) {
    eprintln!("bench: {}", message.as_ref());
}

pub(super) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

pub(super) fn machine() -> Value {
    let os = std::env::consts::OS;
    let arch = std::env::consts::ARCH;
    let kernel = match os {
        "linux" => "Linux",
        "macos" => "Darwin",
        "windows" => "Windows_NT",
        "freebsd" => "FreeBSD",
        other => other,
    };
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": os,
        "arch": arch,
        "uname": format!("{kernel} {arch}"),
        "host_profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

pub(super) fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

pub(super) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
