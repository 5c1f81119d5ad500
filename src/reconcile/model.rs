//! Inputs of the core: the Humaans records it reads (tolerant of null, absent and oddly typed
//! fields), the settings, and the SCIM attributes it manages.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Accepts a string, a number or a boolean as text; null, absent, empty and other JSON as `None`.
/// Real HR data has employee ids typed as numbers and empty strings for "no value".
fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(lenient(d)?.unwrap_or_default())
}

/// A Humaans person (`/api/people/:id`), the fields the integration reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Person {
    #[serde(deserialize_with = "lenient_id")]
    pub id: String,
    #[serde(deserialize_with = "lenient")]
    pub company_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub middle_name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub preferred_name: Option<String>,
    /// Work email.
    #[serde(deserialize_with = "lenient")]
    pub email: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub phone_number: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub timezone: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub contract_type: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub employee_id: Option<String>,
    /// `active`, `newHire` or `offboarded`.
    #[serde(deserialize_with = "lenient")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub employment_start_date: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub last_working_day: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub employment_end_date: Option<String>,
    /// When the Humaans record was made: of two people with one work email, the earlier keeps
    /// the account.
    #[serde(deserialize_with = "lenient")]
    pub created_at: Option<String>,
}

/// A Humaans job role (`/api/job-roles`): a dated entry in a person's role history.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobRole {
    #[serde(deserialize_with = "lenient_id")]
    pub id: String,
    #[serde(deserialize_with = "lenient_id")]
    pub person_id: String,
    #[serde(deserialize_with = "lenient")]
    pub job_title: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub department: Option<String>,
    /// The manager's person id.
    #[serde(deserialize_with = "lenient")]
    pub reporting_to: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub effective_date: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProvisionTiming {
    Immediately,
    OnStartDate,
    DaysBeforeStart(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeprovisionAction {
    Suspend,
    Deactivate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Dialect {
    #[default]
    Leapsome,
    Rfc7644,
}

/// The most people one run may deprovision before all its deprovisions are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeprovisionLimit {
    Count(u32),
    /// Percent (1-100) of the accounts the integration manages.
    Percent(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    pub provisioning: Option<ProvisionTiming>,
    pub deprovisioning: Option<DeprovisionAction>,
    pub dialect: Dialect,
    /// `None`: max(5, 10% of managed accounts).
    #[serde(default)]
    pub deprovision_limit: Option<DeprovisionLimit>,
}

/// Longest lead time `days-before-start` accepts: a year covers any realistic pre-boarding.
pub const MAX_DAYS_BEFORE_START: u16 = 365;

/// The SCIM attributes the integration manages (product.md §3, plus `externalId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Attr {
    UserName,
    Email,
    GivenName,
    MiddleName,
    FamilyName,
    NickName,
    EmployeeNumber,
    Phone,
    Timezone,
    UserType,
    Organization,
    Title,
    Department,
    ExternalId,
}

pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

impl Attr {
    pub const ALL: [Attr; 14] = [
        Attr::UserName,
        Attr::Email,
        Attr::GivenName,
        Attr::MiddleName,
        Attr::FamilyName,
        Attr::NickName,
        Attr::EmployeeNumber,
        Attr::Phone,
        Attr::Timezone,
        Attr::UserType,
        Attr::Organization,
        Attr::Title,
        Attr::Department,
        Attr::ExternalId,
    ];

    /// The attribute's name in logs and reports (SCIM path, enterprise ones unprefixed).
    pub fn name(self) -> &'static str {
        match self {
            Attr::UserName => "userName",
            Attr::Email => "emails",
            Attr::GivenName => "name.givenName",
            Attr::MiddleName => "name.middleName",
            Attr::FamilyName => "name.familyName",
            Attr::NickName => "nickName",
            Attr::EmployeeNumber => "employeeNumber",
            Attr::Phone => "phoneNumbers",
            Attr::Timezone => "timezone",
            Attr::UserType => "userType",
            Attr::Organization => "organization",
            Attr::Title => "title",
            Attr::Department => "department",
            Attr::ExternalId => "externalId",
        }
    }

    pub fn is_enterprise(self) -> bool {
        matches!(self, Attr::EmployeeNumber | Attr::Organization | Attr::Department)
    }
}

/// Attribute values; an absent attribute is empty (and clears the remote value when written).
pub type Profile = BTreeMap<Attr, String>;
