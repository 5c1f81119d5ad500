//! How a mock Humaans starts and behaves: its tokens and company, and one setting per fact the
//! reference leaves open. Above `model` only.

use super::model::{Company, STATUS_ACTIVE};

/// A bearer token the mock accepts: the person it belongs to (`/me`) and its scopes
/// (`public:read`, `private:read`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub token: String,
    pub person_id: Option<String>,
    pub scopes: Vec<String>,
}

impl ApiToken {
    pub fn new(token: &str, person_id: Option<&str>, scopes: &[&str]) -> ApiToken {
        ApiToken {
            token: token.into(),
            person_id: person_id.map(str::to_owned),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// API behaviour the reference does not pin down, so tests can try each reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// Page size without `$limit` (second-hand: 100).
    pub default_limit: usize,
    /// Larger `$limit`s are silently capped to this (second-hand: 250).
    pub max_limit: usize,
    /// The statuses a `public:read`-only token can see (inferred: only `active`).
    pub public_statuses: Vec<String>,
    /// Person fields a `public:read`-only token cannot see (inferred from the scope names).
    pub private_fields: Vec<String>,
    /// Whether private fields are sent as `null` (true) or left out (false) for such a token.
    pub private_fields_as_null: bool,
    /// Whether a `public:read`-only token may read job roles (unknown; job titles are usually
    /// public in a company directory). When false, `/job-roles` answers 403.
    pub public_job_roles: bool,
    /// What `$select` does (inferred from Feathers: honoured).
    pub select: Select,
    /// Where custom field values are (undocumented: reference §3.1 only lists the endpoints).
    pub custom_fields: CustomFieldsShape,
}

/// The plausible shapes of Humaans' custom fields, one switch each. The values are the same
/// (`Person::custom_values`, by field name); only where and how they are served changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CustomFieldsShape {
    /// `/api/custom-fields` (`id`, `name`) and `/api/custom-values` (`personId`,
    /// `customFieldId`, `value`; `?personId=` filters); people carry nothing.
    #[default]
    Endpoints,
    /// On the person: `customFields: [{"name": …, "value": …}]`.
    EmbeddedByName,
    /// On the person: `customFields: [{"customFieldId": …, "value": …}]`, names from
    /// `/api/custom-fields`.
    EmbeddedById,
    /// On the person: `customFields: {"<name>": value}`.
    EmbeddedObject,
    /// No custom fields anywhere: the endpoints answer 404.
    Absent,
}

/// How the API treats `$select[]=field`, which the reference only infers from Feathers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Select {
    /// Only the named fields (and `id`) are returned, as Feathers does.
    #[default]
    Honoured,
    /// Every field is returned, as if `$select` were not there.
    Ignored,
    /// Any request with `$select` is refused: 400 BadRequest.
    Refused,
}

impl Default for Behaviour {
    fn default() -> Self {
        let private = [
            "personalEmail",
            "personalPhoneNumber",
            "formattedPersonalPhoneNumber",
            "gender",
            "birthday",
            "nationality",
            "nationalities",
            "dietaryPreference",
            "foodAllergies",
            "address",
            "city",
            "state",
            "postcode",
            "countryCode",
            "country",
            "employmentEndDate",
            "lastWorkingDay",
            "probationEndDate",
            "turnoverImpact",
            "leavingReason",
            "leavingNote",
            "leavingFileId",
            "taxId",
            "taxCode",
            "calendarFeedToken",
            "payrollProvider",
        ];
        Behaviour {
            default_limit: 100,
            max_limit: 250,
            public_statuses: vec![STATUS_ACTIVE.into()],
            private_fields: private.iter().map(|s| (*s).to_owned()).collect(),
            private_fields_as_null: false,
            public_job_roles: true,
            select: Select::Honoured,
            custom_fields: CustomFieldsShape::default(),
        }
    }
}

/// How a mock starts. Build on `HumaansConfig::default()` with `..` so new knobs do not break
/// callers.
pub struct HumaansConfig {
    pub tokens: Vec<ApiToken>,
    pub company: Company,
    pub behaviour: Behaviour,
}

pub const DEFAULT_TOKEN: &str = "humaans-test-token";

impl Default for HumaansConfig {
    /// One token, [`DEFAULT_TOKEN`], with `private:read` and no person; company "Acme Ltd".
    fn default() -> Self {
        HumaansConfig {
            tokens: vec![ApiToken::new(DEFAULT_TOKEN, None, &["private:read"])],
            company: Company::new("Acme Ltd"),
            behaviour: Behaviour::default(),
        }
    }
}
