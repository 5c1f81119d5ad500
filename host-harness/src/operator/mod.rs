//! The operator commands, as a library: each opens the durable store, loads the tenant's policy
//! and calls the component once (sync-all: until done), answering one JSON value. The CLI and
//! `serve` both call them, each with these plain types (nothing here knows clap or HTTP).
//!
//! `host` (the store, key, runtime and tenant policies), `describe` (answers in words),
//! `settings` (what `configure` takes), `commands` (the commands), `logs` (the log read,
//! filtered, exported and counted), `notify` (notification settings, and the check after each
//! run that queues and delivers messages), `output` (terminal printing).

mod commands;
mod describe;
mod host;
pub mod logs;
pub mod notify;
mod output;
pub mod provision;
pub mod settings;

pub use commands::*;
pub use describe::{describe, done, name_of};
pub use host::{Host, HostConfig, StoredPolicy, default_data_dir, open_storage, rotate_key};
pub use logs::{LogsFormat, LogsQuery, log_json, logs};
pub use output::{out, print_logs, print_summary, table};
pub use settings::{SettingsChange, default_settings, merge_settings, settings_from, settings_json, window_text};
