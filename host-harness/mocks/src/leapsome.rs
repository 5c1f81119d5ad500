//! Mock Leapsome SCIM API (`../shared/reference/leapsome-scim.md`): Users and Groups (teams, §2.6)
//! under both `/scim/v1` and `/api/scim`, Leapsome's flat PATCH as well as RFC 7644 PatchOp, manager references by id,
//! email or externalId, and an RFC-strict mode for checking a client against a by-the-book server.
//! Where Leapsome's behaviour is unknown, `LeapsomeConfig` has a switch rather than a guess.
//!
//! Each module uses only the ones before it in this order (no import circles; checked by reading
//! every `use super::`/`crate::` path):
//! `config` (the switches) → `model` (`ScimError`, `Profile`, `Op`, `Ctx`, `get_ci`, `now`) →
//! `filter` (`attr eq value`) → `schema` (attribute names and paths) → `manager`, `multi` (manager
//! references, multi-valued attributes) → `patch` (every write: POST/PUT bodies, flat PATCH,
//! PatchOp) → `store` (users and their indexes) → `groups` (teams: their store, writes and JSON;
//! members checked against `store`) → `render` (users as GET answers them) → `routes`
//! (HTTP) → this file (`MockLeapsome`). The test module `render_tests` sits with `routes`, whose
//! `Service` it seeds through.

mod config;
mod filter;
mod groups;
mod manager;
mod model;
mod multi;
mod patch;
mod render;
#[cfg(test)]
mod render_tests;
mod routes;
mod schema;
mod store;

use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};

use serde_json::Value;

use crate::server::{Control, RunningServer, serve};
pub use config::{EmailsWrite, FilterQuoting, LeapsomeConfig, PartialName};
use routes::Service;
use store::Store;

pub struct MockLeapsome {
    server: RunningServer,
    service: Arc<Service>,
}

impl MockLeapsome {
    /// Starts on an ephemeral loopback port.
    pub async fn start(config: LeapsomeConfig) -> std::io::Result<MockLeapsome> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(config: LeapsomeConfig, addr: SocketAddr) -> std::io::Result<MockLeapsome> {
        let service = Arc::new(Service::new(config));
        let server = serve(service.clone(), addr).await?;
        service.set_base_url(format!("{}/scim/v1", server.base_url()));
        Ok(MockLeapsome { server, service })
    }

    /// `http://127.0.0.1:PORT/scim/v1`; the same API is also under `/api/scim`.
    pub fn base_url(&self) -> String {
        format!("{}/scim/v1", self.server.base_url())
    }

    pub fn control(&self) -> &Control {
        &self.server.control
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.service.store()
    }

    /// Every user that is not removed, oldest first, as GET would return it.
    pub fn users(&self) -> Vec<Value> {
        let store = self.store();
        store.all().map(|u| self.service.render(u, &store)).collect()
    }

    /// Case-insensitive, like Leapsome's userName (an email).
    pub fn user_by_username(&self, user_name: &str) -> Option<Value> {
        let store = self.store();
        store.by_user_name(user_name).map(|u| self.service.render(u, &store))
    }

    pub fn user_by_external_id(&self, external_id: &str) -> Option<Value> {
        let store = self.store();
        store.by_external_id(external_id).first().map(|u| self.service.render(u, &store))
    }

    /// Inserts a user as if it had existed before provisioning (an invited or JIT account):
    /// the body is read like a POST, but the email-domain rule is not applied. An `id` of 24 hex
    /// digits is kept. Panics on what would be a 4xx otherwise (duplicate userName, unknown manager).
    pub fn seed_user(&self, user: Value) -> String {
        self.service.seed(user).unwrap_or_else(|e| panic!("seed_user: {} {}", e.status, e.detail))
    }

    /// The Leapsome id of the user's manager, as resolved when it was written.
    pub fn manager_id_of(&self, user_id: &str) -> Option<String> {
        self.store().any(user_id).and_then(|u| u.profile.manager.clone())
    }

    /// Every team, oldest first, as an RFC server's GET would show it (with members, whatever the
    /// config: Leapsome's GET hides them).
    pub fn groups(&self) -> Vec<Value> {
        let groups = self.service.groups();
        let all_members = LeapsomeConfig { group_members_returned: true, ..self.service.config().clone() };
        groups.all().map(|g| groups::group(g, &all_members, &self.base_url(), false)).collect()
    }

    /// A team's id by its displayName (compared as the config compares names).
    pub fn group_id(&self, display_name: &str) -> Option<String> {
        self.service.groups().by_name(display_name, self.service.config()).map(|g| g.id.clone())
    }

    /// A team's members as stored (Leapsome user ids, in the order they were added), which
    /// Leapsome's GET never shows. `None` for an unknown team.
    pub fn group_members(&self, group_id: &str) -> Option<Vec<String>> {
        self.service.groups().live(group_id).map(|g| g.members.clone())
    }

    /// Inserts a team as if an admin had made it in Leapsome: `{displayName, externalId?,
    /// members?: [{value}], id?}`, any number of members (the 100-a-request cap is for PATCH), an
    /// `id` of 24 hex digits kept. Panics on what would be a 4xx otherwise (duplicate or too long
    /// name, unknown member).
    pub fn seed_group(&self, group: Value) -> String {
        self.service.seed_group(group).unwrap_or_else(|e| panic!("seed_group: {} {}", e.status, e.detail))
    }

    /// Everything stored for a user, removed or not: `{id, removed, created, lastModified,
    /// version, attributes, managerId, additionalManagerIds}`. `attributes` holds what was kept
    /// (Leapsome mode drops attributes outside its schema on write).
    pub fn stored(&self, user_id: &str) -> Option<Value> {
        self.store().stored_json(user_id)
    }
}
