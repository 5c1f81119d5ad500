//! How a mock Leapsome behaves where servers differ or Leapsome's behaviour is unknown: one switch
//! per open question rather than a guess. The bottom of the mock: it imports nothing.

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
    /// PATCH (of a user or a team) answers 204 without a body instead of 200 with the resource.
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
    /// The most teams one `GET /Groups` page returns (SPEC: `count` max 1000); larger `count`s
    /// and a missing one give this many.
    pub max_group_page_size: usize,
    /// `GET /Groups` without `count` answers every team in one page. SPEC's "we return all
    /// results if none is given" (reference §1.5) may speak of the filter or of `count`.
    pub groups_all_without_count: bool,
    /// The most member values one team write may carry (SPEC: "The members array exceeds 100
    /// elements"), counted over the whole body.
    pub max_members_per_patch: usize,
    /// GET answers a team's members as an RFC 7643 server does, instead of SPEC's `members`
    /// with maxItems 0 (always `[]`).
    pub group_members_returned: bool,
    /// A team PATCH also takes an RFC 7644 PatchOp (reference §2.6 infers it: Leapsome is an
    /// Entra gallery and Okta OIN app, and both send PatchOp for groups); off: flat body only.
    pub group_patch_op: bool,
    /// Team names compare exactly in the unique index and the `displayName eq` filter (Leapsome
    /// wants teams "spelled exactly" like the IdP's groups) instead of case-insensitively as RFC
    /// 7643's `caseExact: false` has it; the reference does not say which Leapsome does.
    pub group_names_case_exact: bool,
    /// A team member id that is no Leapsome user is dropped instead of failing the write with 400
    /// (SPEC: members are "The Leapsome ID of a user"; what else happens is unknown).
    pub unknown_member_ignored: bool,
    /// `POST /Groups` keeps `members` (an RFC server) instead of dropping them silently as an
    /// attribute outside SPEC's `GroupDefinition {displayName, externalId}`.
    pub group_create_members: bool,
    /// The status every `DELETE /Groups/{id}` answers, leaving the team as it was: SPEC documents
    /// no DELETE, and the mock answers an undocumented method on a known route with 405. `None`:
    /// DELETE removes the team (204), as an RFC server does.
    pub group_delete_status: Option<u16>,
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
            max_group_page_size: 1000,
            groups_all_without_count: false,
            max_members_per_patch: 100,
            group_members_returned: false,
            group_patch_op: true,
            group_names_case_exact: true,
            unknown_member_ignored: false,
            group_create_members: false,
            group_delete_status: Some(405),
        }
    }
}

impl LeapsomeConfig {
    /// An RFC 7644 server: strict parsing, 401 for any bad token, unknown attributes kept; groups
    /// return their members, take members on POST, compare names case-insensitively and can be
    /// deleted. (The 100-member cap and the 1,000-group page stay: a client tested here still
    /// writes in Leapsome-sized requests.)
    pub fn rfc_strict() -> Self {
        LeapsomeConfig {
            strict_rfc: true,
            wrong_token_status: 401,
            keep_unknown_attributes: true,
            group_members_returned: true,
            group_names_case_exact: false,
            group_create_members: true,
            group_delete_status: None,
            ..Self::default()
        }
    }
}
