//! `serve` as a real process (this executable) against the mocks, for `host-harness bench`.
//!
//! - Webhook → Leapsome write latency (`--webhooks-per-second R`, alias `--webhook-rate`): signed
//!   `person.created` webhooks at a steady rate over several tenants; latency is from just before
//!   a webhook is sent to the moment mock Leapsome answered the account's `POST /Users` (the
//!   mock's timed journal).
//! - Many tenants (`--tenants M`): M tenants of `--tenant-employees` people (default 50), each with
//!   its own mock Humaans and mock Leapsome, in one `serve`; the scheduler's rounds (`--sync-every`,
//!   `--tick-every`) timed from serve's structured log, per-call instantiation from `/metrics`,
//!   the resident set from `/proc`.
//! - Memory (`--serve` only): the resident set of `serve` just started, idle with 100 tenants in
//!   its store, and after the scheduler ticked all 100.
//!
//! Numbers are measured and printed, never asserted.
//!
//! `process` (a serve process and HTTP to it) is below `webhook` and `tenants`, and is what
//! `bench --scale-out` (`../scale`) starts its processes with.

pub(super) mod process;
mod tenants;
mod webhook;

pub(super) use tenants::{TenantsRun, tenants};
pub(super) use webhook::{run, webhook};
