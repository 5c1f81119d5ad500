//! Mock Humaans and Leapsome SCIM servers: real HTTP servers on loopback that follow
//! `../shared/reference/`, with a journal of every request, scripted faults and rate limits.

pub mod humaans;
pub mod leapsome;
pub mod org;
pub mod server;

pub use server::{Control, Fault, FaultRule, JournalEntry, RunningServer};
