//! The Humaans objects the mock serves: Person (§3.3), JobRole (§3.4) and Company (§3.5) of
//! `shared/reference/humaans-api.md`, with the wire field names in camelCase.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::dates::now_timestamp;
use super::json::{ObjectWriter, WriteJson};

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_NEW_HIRE: &str = "newHire";
pub const STATUS_OFFBOARDED: &str = "offboarded";

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Team {
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct WorkingDay {
    pub day: String,
}

/// A person as `/api/people` returns them. Nullable fields are `Option` and serialise as `null`.
/// `status` is a string rather than an enum so tests can serve values a client has never seen.
/// Missing fields deserialise to their defaults so seeds can be written by hand.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Person {
    pub id: String,
    pub company_id: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub preferred_name: Option<String>,
    /// Work email.
    pub email: String,
    pub location_id: Option<String>,
    pub remote_city: Option<String>,
    pub remote_region_code: Option<String>,
    pub remote_country_code: Option<String>,
    pub remote_timezone: Option<String>,
    pub personal_email: Option<String>,
    pub phone_number: Option<String>,
    pub formatted_phone_number: Option<String>,
    pub personal_phone_number: Option<String>,
    pub formatted_personal_phone_number: Option<String>,
    pub gender: Option<String>,
    pub birthday: Option<String>,
    pub profile_photo_id: Option<String>,
    pub profile_photo: Option<serde_json::Value>,
    pub nationality: Option<String>,
    pub nationalities: Vec<String>,
    pub spoken_languages: Vec<String>,
    pub dietary_preference: Option<String>,
    pub food_allergies: Vec<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country_code: Option<String>,
    pub country: Option<String>,
    pub bio: Option<String>,
    pub linked_in: Option<String>,
    pub twitter: Option<String>,
    pub github: Option<String>,
    pub employment_start_date: Option<String>,
    pub first_working_day: Option<String>,
    pub employment_end_date: Option<String>,
    pub last_working_day: Option<String>,
    pub probation_end_date: Option<String>,
    pub turnover_impact: Option<String>,
    pub working_days: Vec<WorkingDay>,
    pub public_holiday_calendar_id: Option<String>,
    pub leaving_reason: Option<String>,
    pub leaving_note: Option<String>,
    pub leaving_file_id: Option<String>,
    pub contract_type: Option<String>,
    pub employee_id: Option<String>,
    pub tax_id: Option<String>,
    pub tax_code: Option<String>,
    pub teams: Vec<Team>,
    /// `active`, `newHire` or `offboarded` (see the `STATUS_*` constants).
    pub status: String,
    pub is_verified: bool,
    pub is_work_email_hidden: bool,
    pub is_birthday_hidden: bool,
    pub calendar_feed_token: Option<String>,
    /// The Humaans app permission role, not the job title.
    pub role: String,
    pub seen_documents_at: Option<String>,
    pub source: Option<String>,
    pub source_id: Option<String>,
    pub timezone: String,
    pub payroll_provider: Option<String>,
    pub demo: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Custom field values by field name: served as `Behaviour::custom_fields` says.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub custom_values: std::collections::BTreeMap<String, String>,
    /// `customFields` as served in the mock's shape (kept up to date by `MockHumaans`; never in a
    /// seed).
    #[serde(skip)]
    pub custom_fields: Option<serde_json::Value>,
}

impl Person {
    /// An active full-time member in London who started on 2024-01-01, with a fresh id. The
    /// company id is filled in when the person is added to a mock.
    pub fn new(first: &str, last: &str, email: &str) -> Person {
        let now = now_timestamp();
        Person {
            id: new_id(),
            first_name: first.into(),
            last_name: last.into(),
            email: email.into(),
            employment_start_date: Some("2024-01-01".into()),
            first_working_day: Some("2024-01-01".into()),
            working_days: ["monday", "tuesday", "wednesday", "thursday", "friday"]
                .iter()
                .map(|d| WorkingDay { day: (*d).into() })
                .collect(),
            contract_type: Some("Full time".into()),
            status: STATUS_ACTIVE.into(),
            is_verified: true,
            role: "user".into(),
            timezone: "Europe/London".into(),
            created_at: now.clone(),
            updated_at: now,
            ..Person::default()
        }
    }
}

/// One dated entry of a person's job history: title, department and manager (`reportingTo`, a
/// person id). The current role is the one in effect today, not necessarily the one without an
/// `endDate`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct JobRole {
    pub id: String,
    pub company_id: String,
    pub person_id: String,
    pub job_title: String,
    pub department: Option<String>,
    pub reporting_to: Option<String>,
    pub effective_date: String,
    pub end_date: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl JobRole {
    pub fn new(person_id: &str, title: &str, department: &str, reporting_to: Option<&str>, effective: &str) -> JobRole {
        let now = now_timestamp();
        JobRole {
            id: new_id(),
            person_id: person_id.into(),
            job_title: title.into(),
            department: Some(department.into()),
            reporting_to: reporting_to.map(str::to_owned),
            effective_date: effective.into(),
            created_at: now.clone(),
            updated_at: now,
            ..JobRole::default()
        }
    }

    /// Whether the role is in effect on `date` (`YYYY-MM-DD`; the strings compare as dates).
    pub fn in_effect_on(&self, date: &str) -> bool {
        self.effective_date.as_str() <= date && self.end_date.as_deref().is_none_or(|end| end >= date)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Company {
    pub id: String,
    pub name: String,
    pub domains: Vec<String>,
    pub trial_end_date: Option<String>,
    pub status: String,
    pub payment_status: String,
    pub package: String,
    pub is_timesheet_enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Company {
    /// An active, paid-up company with a fresh id.
    pub fn new(name: &str) -> Company {
        Company {
            id: new_id(),
            name: name.into(),
            domains: Vec::new(),
            trial_end_date: None,
            status: "active".into(),
            payment_status: "ok".into(),
            package: "growth".into(),
            is_timesheet_enabled: true,
            created_at: "2020-01-28T08:44:42.000Z".into(),
            updated_at: "2020-01-28T08:44:42.000Z".into(),
        }
    }
}

impl WriteJson for Person {
    fn write_fields(&self, w: &mut ObjectWriter) {
        w.str("id", &self.id);
        w.str("companyId", &self.company_id);
        w.str("firstName", &self.first_name);
        w.opt("middleName", &self.middle_name);
        w.str("lastName", &self.last_name);
        w.opt("preferredName", &self.preferred_name);
        w.str("email", &self.email);
        w.opt("locationId", &self.location_id);
        w.opt("remoteCity", &self.remote_city);
        w.opt("remoteRegionCode", &self.remote_region_code);
        w.opt("remoteCountryCode", &self.remote_country_code);
        w.opt("remoteTimezone", &self.remote_timezone);
        w.opt("personalEmail", &self.personal_email);
        w.opt("phoneNumber", &self.phone_number);
        w.opt("formattedPhoneNumber", &self.formatted_phone_number);
        w.opt("personalPhoneNumber", &self.personal_phone_number);
        w.opt("formattedPersonalPhoneNumber", &self.formatted_personal_phone_number);
        w.opt("gender", &self.gender);
        w.opt("birthday", &self.birthday);
        w.opt("profilePhotoId", &self.profile_photo_id);
        w.value("profilePhoto", &self.profile_photo);
        w.opt("nationality", &self.nationality);
        w.strs("nationalities", &self.nationalities);
        w.strs("spokenLanguages", &self.spoken_languages);
        w.opt("dietaryPreference", &self.dietary_preference);
        w.strs("foodAllergies", &self.food_allergies);
        w.opt("address", &self.address);
        w.opt("city", &self.city);
        w.opt("state", &self.state);
        w.opt("postcode", &self.postcode);
        w.opt("countryCode", &self.country_code);
        w.opt("country", &self.country);
        w.opt("bio", &self.bio);
        w.opt("linkedIn", &self.linked_in);
        w.opt("twitter", &self.twitter);
        w.opt("github", &self.github);
        w.opt("employmentStartDate", &self.employment_start_date);
        w.opt("firstWorkingDay", &self.first_working_day);
        w.opt("employmentEndDate", &self.employment_end_date);
        w.opt("lastWorkingDay", &self.last_working_day);
        w.opt("probationEndDate", &self.probation_end_date);
        w.opt("turnoverImpact", &self.turnover_impact);
        w.objects("workingDays", "day", self.working_days.iter().map(|d| d.day.as_str()));
        w.opt("publicHolidayCalendarId", &self.public_holiday_calendar_id);
        w.opt("leavingReason", &self.leaving_reason);
        w.opt("leavingNote", &self.leaving_note);
        w.opt("leavingFileId", &self.leaving_file_id);
        w.opt("contractType", &self.contract_type);
        w.opt("employeeId", &self.employee_id);
        w.opt("taxId", &self.tax_id);
        w.opt("taxCode", &self.tax_code);
        w.objects("teams", "name", self.teams.iter().map(|t| t.name.as_str()));
        w.str("status", &self.status);
        w.bool("isVerified", self.is_verified);
        w.bool("isWorkEmailHidden", self.is_work_email_hidden);
        w.bool("isBirthdayHidden", self.is_birthday_hidden);
        w.opt("calendarFeedToken", &self.calendar_feed_token);
        w.str("role", &self.role);
        w.opt("seenDocumentsAt", &self.seen_documents_at);
        w.opt("source", &self.source);
        w.opt("sourceId", &self.source_id);
        w.str("timezone", &self.timezone);
        w.opt("payrollProvider", &self.payroll_provider);
        w.bool("demo", self.demo);
        w.str("createdAt", &self.created_at);
        w.str("updatedAt", &self.updated_at);
        w.value_if_some("customFields", &self.custom_fields);
    }
}

/// A place of work (`/api/locations`, reference §3.6: shape unknown; the S4 mock's fields plus
/// `name`, so a client can be tried on each of `label`, `name`, `city`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Location {
    pub id: String,
    pub company_id: String,
    pub label: Option<String>,
    pub name: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub timezone: Option<String>,
}

impl Location {
    /// A place of work with a label (and city), fresh id.
    pub fn new(label: &str, city: &str) -> Location {
        Location { id: new_id(), label: Some(label.into()), city: Some(city.into()), ..Location::default() }
    }
}

impl WriteJson for Location {
    fn write_fields(&self, w: &mut ObjectWriter) {
        w.str("id", &self.id);
        w.str("companyId", &self.company_id);
        w.opt("label", &self.label);
        w.opt("name", &self.name);
        w.opt("city", &self.city);
        w.opt("country", &self.country);
        w.opt("timezone", &self.timezone);
    }
}

/// A custom field (`/api/custom-fields`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CustomField {
    pub id: String,
    pub name: String,
}

impl WriteJson for CustomField {
    fn write_fields(&self, w: &mut ObjectWriter) {
        w.str("id", &self.id);
        w.str("name", &self.name);
    }
}

/// A person's value of a custom field (`/api/custom-values`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CustomValue {
    pub id: String,
    pub person_id: String,
    pub custom_field_id: String,
    pub value: String,
}

impl WriteJson for CustomValue {
    fn write_fields(&self, w: &mut ObjectWriter) {
        w.str("id", &self.id);
        w.str("personId", &self.person_id);
        w.str("customFieldId", &self.custom_field_id);
        w.str("value", &self.value);
    }
}

impl WriteJson for JobRole {
    fn write_fields(&self, w: &mut ObjectWriter) {
        w.str("id", &self.id);
        w.str("companyId", &self.company_id);
        w.str("personId", &self.person_id);
        w.str("jobTitle", &self.job_title);
        w.opt("department", &self.department);
        w.opt("reportingTo", &self.reporting_to);
        w.str("effectiveDate", &self.effective_date);
        w.opt("endDate", &self.end_date);
        w.opt("note", &self.note);
        w.str("createdAt", &self.created_at);
        w.str("updatedAt", &self.updated_at);
    }
}

impl WriteJson for Company {
    fn write_fields(&self, w: &mut ObjectWriter) {
        w.str("id", &self.id);
        w.str("name", &self.name);
        w.strs("domains", &self.domains);
        w.opt("trialEndDate", &self.trial_end_date);
        w.str("status", &self.status);
        w.str("paymentStatus", &self.payment_status);
        w.str("package", &self.package);
        w.bool("isTimesheetEnabled", self.is_timesheet_enabled);
        w.str("createdAt", &self.created_at);
        w.str("updatedAt", &self.updated_at);
    }
}

const ID_ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 24-character alphanumeric id like Humaans' own, drawing one character per call of `next`.
pub fn id_from(mut next: impl FnMut() -> u64) -> String {
    (0..24).map(|_| ID_ALPHABET[(next() % 62) as usize] as char).collect()
}

/// A fresh id, unique within the process and unlikely to repeat across processes.
pub fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 32)
    });
    let mut state = base ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    id_from(|| splitmix64(&mut state))
}

/// SplitMix64: a good 64-bit mixer, so consecutive counters give unrelated ids.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::humaans::json::write_object;

    fn hand_written<T: WriteJson>(item: &T) -> serde_json::Value {
        let mut out = String::new();
        write_object(&mut out, item, None);
        serde_json::from_str(&out).expect("valid JSON")
    }

    /// The hand-written output must be exactly serde's, field for field.
    #[test]
    fn hand_written_json_matches_serde() {
        let org = crate::org::generate_org(300, 5, "2025-06-15");
        for person in &org.people {
            assert_eq!(hand_written(person), serde_json::to_value(person).unwrap());
        }
        for role in &org.job_roles {
            assert_eq!(hand_written(role), serde_json::to_value(role).unwrap());
        }
        assert_eq!(hand_written(&org.company), serde_json::to_value(&org.company).unwrap());

        let mut everything = org.people[0].clone();
        everything.profile_photo =
            Some(serde_json::json!({ "id": "x", "variants": { "64": "https://e.test/a \"b\".png" } }));
        everything.middle_name = Some("Quote \" Backslash \\ Newline \n".into());
        everything.food_allergies = vec!["Peanuts".into(), "Shellfish".into()];
        everything.is_birthday_hidden = true;
        everything.demo = true;
        assert_eq!(hand_written(&everything), serde_json::to_value(&everything).unwrap());
        // Field lookups agree with serde too.
        let serde_form = serde_json::to_value(&everything).unwrap();
        // `customFields` is served only (the shape's rendering of `custom_values`), never in a seed;
        // it is written last, so the other fields keep their positions.
        let mut names = crate::humaans::json::field_names::<Person>();
        assert_eq!(names.pop(), Some("customFields"));
        assert_eq!(names.len(), serde_form.as_object().unwrap().len());
        for (i, name) in names.iter().enumerate() {
            assert_eq!(crate::humaans::json::field_value(&everything, i), serde_form[*name], "{name}");
        }
    }
}
