//! Mock Leapsome SCIM API (`../shared/reference/leapsome-scim.md`): Users under both `/scim/v1`
//! and `/api/scim`, Leapsome's flat PATCH as well as RFC 7644 PatchOp, manager references by id,
//! email or externalId, and an RFC-strict mode for checking a client against a by-the-book server.
//! Where Leapsome's behaviour is unknown, `LeapsomeConfig` has a switch rather than a guess.

mod filter;
mod manager;
mod multi;
mod patch;
mod render;
mod routes;
mod schema;
mod store;

use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};

use serde_json::{Value, json};

use crate::server::{Control, Response, RunningServer, serve};
use routes::Service;
use store::Store;

#[derive(Clone, Debug)]
pub struct LeapsomeConfig {
    /// The bearer token the mock accepts.
    pub token: String,
    /// The organisation's email domains; userName must be an email in one of them. Empty allows
    /// any domain.
    pub email_domains: Vec<String>,
    /// Behave like an RFC 7644 server: PATCH only as PatchOp, manager only as `{value: <id>}`,
    /// RFC-shaped manager read-back and ServiceProviderConfig, unmatched replace filters fail.
    pub strict_rfc: bool,
    /// The most users one list page returns (SPEC: 5000); larger `count`s are clamped.
    pub max_page_size: usize,
    /// SPEC documents a duplicate POST both as 409 and as "201 with `{}`"; this picks the latter.
    pub duplicate_returns_empty_201: bool,
    /// DELETE (undocumented by SPEC) deactivates instead of removing.
    pub delete_deactivates: bool,
    /// A manager reference that matches no user is ignored instead of failing with 400.
    pub unknown_manager_ignored: bool,
    /// PATCH answers 204 without a body instead of 200 with the user.
    pub patch_returns_204: bool,
    /// Status for a present but wrong token: SPEC documents 403; RFC-style servers answer 401.
    pub wrong_token_status: u16,
    /// Store and echo attributes outside Leapsome's schema (nickName, phoneNumbers, …) as an RFC
    /// server would, instead of silently dropping them.
    pub keep_unknown_attributes: bool,
    /// Accept `externalId eq …` list filters (SPEC's description says userName only, its
    /// example shows externalId).
    pub external_id_filter: bool,
    /// Answer an unsupported list filter with the unfiltered list instead of 400 `invalidFilter`
    /// (reference §1.5 leaves open which Leapsome does).
    pub unsupported_filter_ignored: bool,
    /// Reject enterprise `startDate`/`endDate`/`birthday` values that are not `YYYY-MM-DD` (UDEF's
    /// documented format) with 400.
    pub validate_dates: bool,
    /// Which filter values the list accepts: SPEC's example is unquoted, IdPs quote (§1.5). A
    /// form not accepted is an unsupported filter (400 `invalidFilter`, or ignored).
    pub filter_quoting: FilterQuoting,
    /// Every list filter is unsupported (400 `invalidFilter`, or ignored): a server that only
    /// pages through all users.
    pub filters_refused: bool,
    /// How a flat PATCH treats a `name` object with only some parts (UDEF's `UserFullName` marks
    /// givenName and familyName required; what the server does without one is unknown).
    pub partial_name: PartialName,
    /// Whether `emails` can be written: SPEC's write schemas have no `emails`, its read side
    /// shows one work email.
    pub emails_write: EmailsWrite,
    /// The status every `DELETE /Users/{id}` answers (e.g. 404, 405, 501), leaving the user as it
    /// was; SPEC v1.1.3 documents no DELETE. `None`: DELETE works (see `delete_deactivates`).
    pub delete_status: Option<u16>,
}

/// Which quoting of a list filter value (`userName eq "a@b.test"` / `userName eq a@b.test`) the
/// server accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FilterQuoting {
    #[default]
    Both,
    QuotedOnly,
    UnquotedOnly,
}

/// A flat PATCH with `{"name": {"givenName": "X"}}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PartialName {
    /// The parts sent are set, the others kept.
    #[default]
    Merge,
    /// The object replaces the whole name: parts not sent are cleared.
    ReplaceWhole,
    /// 400 unless both givenName and familyName are present.
    Reject,
}

/// What happens to `emails` in a POST, PUT or PATCH.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EmailsWrite {
    /// Stored as sent (Leapsome shows the primary, or else the work, entry).
    #[default]
    Writable,
    /// Silently ignored; the one email read back is always derived from userName.
    IgnoredReadOnly,
    /// 400 when a body writes `emails` at all.
    Rejected,
}

impl Default for LeapsomeConfig {
    fn default() -> Self {
        LeapsomeConfig {
            token: "scim-test-token".into(),
            email_domains: vec!["acme.test".into()],
            strict_rfc: false,
            max_page_size: 5000,
            duplicate_returns_empty_201: false,
            delete_deactivates: false,
            unknown_manager_ignored: false,
            patch_returns_204: false,
            wrong_token_status: 403,
            keep_unknown_attributes: false,
            external_id_filter: true,
            unsupported_filter_ignored: false,
            validate_dates: true,
            filter_quoting: FilterQuoting::Both,
            filters_refused: false,
            partial_name: PartialName::Merge,
            emails_write: EmailsWrite::Writable,
            delete_status: None,
        }
    }
}

impl LeapsomeConfig {
    /// An RFC 7644 server: strict parsing, 401 for any bad token, unknown attributes kept.
    pub fn rfc_strict() -> Self {
        LeapsomeConfig { strict_rfc: true, wrong_token_status: 401, keep_unknown_attributes: true, ..Self::default() }
    }
}

/// A SCIM error (RFC 7644 §3.12), `status` as a string as in SPEC's 404 example.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type, detail: detail.into() }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn response(&self) -> Response {
        let mut body = json!({
            "schemas": [schema::ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        Response::json(self.status, &body).with_content_type(routes::SCIM_JSON)
    }
}

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

    /// Everything stored for a user, removed or not: `{id, removed, created, lastModified,
    /// version, attributes, managerId, additionalManagerIds}`. `attributes` holds what was kept
    /// (Leapsome mode drops attributes outside its schema on write).
    pub fn stored(&self, user_id: &str) -> Option<Value> {
        self.store().stored_json(user_id)
    }
}
