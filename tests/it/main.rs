//! The integration tests, one binary: each module drives the built component through the host
//! against the mocks. One binary rather than one per file because each links wasmtime, and a dozen
//! such links cost minutes of CI and gigabytes of disk.

#[macro_use]
mod support;

mod bad_input;
mod brake;
mod contract;
mod egress;
mod faults;
mod fields;
mod integrations;
mod jco;
mod provision;
mod provisioning;
mod quotas;
mod rig;
mod safety;
mod sandbox;
mod scim2_server;
mod scope;
mod sync;
mod teams;
mod tenancy;
mod variants;
mod webhook;
