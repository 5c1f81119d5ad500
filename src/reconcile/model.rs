//! Inputs of the core: the Humaans records it reads (tolerant of null, absent and oddly typed
//! fields), the settings, and the SCIM attributes it manages.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::packed::{Entries, Packed, PackedBuilder};

/// The `visit_*` methods of a lenient visitor (its value an `Option`) for every scalar: a
/// scalar where a record or a list was expected reads as `None`, never as an error.
macro_rules! scalars_are_none {
    () => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}
pub(crate) use scalars_are_none;

/// Reads one field of a record into its builder: a string, a number or a boolean as text (a
/// string trimmed); null, absent, empty and other JSON as no value (clearing one read before).
/// Real HR data has employee ids typed as numbers and empty strings for "no value". Read straight
/// from the parser into the record's one buffer (no `serde_json::Value`, no `String` per value):
/// pages of people are large.
struct Lenient<'b> {
    record: &'b mut PackedBuilder,
    field: u8,
    /// The field is a list of named things (`teams: [{"name": …}]`): read as the names, one per
    /// line, instead of as no value.
    names: bool,
    /// The field holds named values (custom fields: a list of `{name|customFieldId, value}` or an
    /// object keyed by name): read as [`pairs`] text instead of as no value.
    pairs: bool,
}

impl Lenient<'_> {
    fn text(self, text: &str) {
        match text.trim() {
            "" => self.record.clear(self.field),
            text => self.record.set(self.field, text),
        }
    }
}

impl<'de> de::DeserializeSeed<'de> for Lenient<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lenient<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.text(s);
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.text(if b { "true" } else { "false" });
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.text(&n.to_string());
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.text(&n.to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<(), E> {
        // As `serde_json::Number` prints it (`1.0`, not `1`); no number for NaN or infinity.
        match serde_json::Number::from_f64(n) {
            Some(n) => self.text(&n.to_string()),
            None => self.text(""),
        }
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.text("");
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.text("");
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.pairs {
            let mut text = String::new();
            while let Some(NamedValue(key, value)) = seq.next_element::<NamedValue>()? {
                pairs::push(&mut text, &key, &value);
            }
            self.text(&text);
            return Ok(());
        }
        if !self.names {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            self.text("");
            return Ok(());
        }
        let mut names = String::new();
        while let Some(name) = seq.next_element::<NameOf>()? {
            // One name per line: a line break inside a name would split it, so it is a space.
            let name = name.0.trim();
            if !name.is_empty() {
                if !names.is_empty() {
                    names.push('\n');
                }
                names.extend(name.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }));
            }
        }
        self.text(&names);
        Ok(())
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.pairs {
            let mut text = String::new();
            while let Some((key, ScalarText(value))) = map.next_entry::<String, ScalarText>()? {
                pairs::push(&mut text, &key, &value);
            }
            self.text(&text);
            return Ok(());
        }
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        self.text("");
        Ok(())
    }
}

/// Named values packed in one text field: `key US value` entries separated by RS (ASCII unit and
/// record separators, which names and values do not hold). A key is a custom field's name, or
/// `#` and its id when the entry named none.
pub mod pairs {
    const UNIT: char = '\u{1f}';
    const RECORD: char = '\u{1e}';

    /// Appends one entry (an empty key or value is no entry: nothing to map).
    pub fn push(text: &mut String, key: &str, value: &str) {
        let clean = |s: &str| s.trim().replace([UNIT, RECORD], " ");
        let (key, value) = (clean(key), clean(value));
        if key.is_empty() || key == "#" || value.is_empty() {
            return;
        }
        if !text.is_empty() {
            text.push(RECORD);
        }
        text.push_str(&key);
        text.push(UNIT);
        text.push_str(&value);
    }

    /// The entries of `text`.
    pub fn entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
        text.split(RECORD).filter_map(|entry| entry.split_once(UNIT))
    }

    /// The value of `key` (names compared case-insensitively, as an admin types them; the last
    /// of a repeated key).
    pub fn get<'t>(text: &'t str, key: &str) -> Option<&'t str> {
        entries(text).filter(|(k, _)| k.trim().eq_ignore_ascii_case(key.trim())).last().map(|(_, v)| v)
    }
}

/// A scalar as text (numbers and booleans spelled out); anything else empty.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(ScalarText(match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => String::new(),
        }))
    }
}

/// One custom value on a person: `{"name": …, "value": …}`, or `{"customFieldId": …, "value": …}`
/// (keyed `#id`); a name wins over an id. Anything else is no entry.
struct NamedValue(String, String);

impl<'de> Deserialize<'de> for NamedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let text = |key: &str| match value.get(key) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        let key = text("name")
            .filter(|n| !n.trim().is_empty())
            .or_else(|| text("customFieldId").map(|id| format!("#{id}")))
            .unwrap_or_default();
        Ok(NamedValue(key, text("value").unwrap_or_default()))
    }
}

/// The name of one element of a list of named things: `{"name": "Moonshot"}` (Humaans' teams),
/// or a bare string; anything else is no name (empty).
struct NameOf(String);

impl<'de> Deserialize<'de> for NameOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = NameOf;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a named thing")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<NameOf, E> {
                Ok(NameOf(s.to_owned()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<NameOf, A::Error> {
                let mut name = String::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "name" {
                        name = map.next_value::<NameOf>()?.0;
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(NameOf(name))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<NameOf, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(NameOf(String::new()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<NameOf, E> {
                Ok(NameOf(String::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<NameOf, E> {
                Ok(NameOf(String::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<NameOf, E> {
                Ok(NameOf(String::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<NameOf, E> {
                Ok(NameOf(String::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<NameOf, E> {
                Ok(NameOf(String::new()))
            }
        }
        d.deserialize_any(NameVisitor)
    }
}

/// A Humaans record read field by field: the fields it names leniently as text ([`Lenient`]),
/// every other field skipped unread, a repeated field keeping its last value (as a JSON object
/// read into a map did). One generic reader serves people and job roles, straight from a page.
pub trait Record: Sized {
    /// The JSON names of the fields read, numbered by position.
    const FIELDS: &'static [&'static str];
    /// [`FIELDS`](Record::FIELDS) by the length of their names (see [`FieldsByLength`]).
    const BY_LENGTH: FieldsByLength = FieldsByLength::of(Self::FIELDS);
    /// Fields (bit `i`: field `i`) that are lists of named things, read as their names.
    const NAME_LISTS: u32 = 0;
    /// Fields holding named values, read as [`pairs`] text.
    const PAIRS: u32 = 0;
    /// Fields asked for (`$select`) only when a setting needs them (see `humaans::selection`).
    const OPTIONAL: u32 = 0;
    fn from_packed(fields: Packed) -> Self;
}

/// Field names by length, for [`field_number`]: entry `n` has bit `i` set when field `i`'s name
/// is `n` bytes long. Built at compile time.
pub struct FieldsByLength([u32; 32]);

impl FieldsByLength {
    pub const fn of(fields: &[&str]) -> FieldsByLength {
        let mut table = [0u32; 32];
        let mut i = 0;
        while i < fields.len() {
            let len = fields[i].len();
            assert!(i < 32 && len < 32, "at most 32 fields, each named in under 32 bytes");
            table[len] |= 1 << i;
            i += 1;
        }
        FieldsByLength(table)
    }
}

/// Which of `R`'s fields a key names (no allocation per key).
struct FieldOf<R>(std::marker::PhantomData<R>);

impl<'de, R: Record> de::DeserializeSeed<'de> for FieldOf<R> {
    type Value = Option<u8>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, R: Record> Visitor<'de> for FieldOf<R> {
    type Value = Option<u8>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(field_number(R::FIELDS, &R::BY_LENGTH, key))
    }
}

/// Which of `fields` `key` names. Every key of every record of every page comes through here,
/// most of them naming fields not read: only the fields of the key's length are compared, most
/// often none (in wasm, comparing every field, a call or three each, was an eighth of a steady
/// sync).
fn field_number(fields: &[&str], by_length: &FieldsByLength, key: &str) -> Option<u8> {
    let mut candidates = *by_length.0.get(key.len())?;
    while candidates != 0 {
        let i = candidates.trailing_zeros() as usize;
        if fields[i].as_bytes() == key.as_bytes() {
            return Some(i as u8);
        }
        candidates &= candidates - 1;
    }
    None
}

/// Reads a record from a JSON object; `Ok(None)` for any other JSON value (skipped).
pub struct RecordOf<R>(std::marker::PhantomData<R>);

impl<R> RecordOf<R> {
    pub fn new() -> Self {
        RecordOf(std::marker::PhantomData)
    }
}

impl<R> Default for RecordOf<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'de, R: Record> de::DeserializeSeed<'de> for RecordOf<R> {
    type Value = Option<R>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R: Record> Visitor<'de> for RecordOf<R> {
    type Value = Option<R>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut record = PackedBuilder::new();
        while let Some(field) = map.next_key_seed(FieldOf::<R>(std::marker::PhantomData))? {
            match field {
                Some(field) => {
                    let names = R::NAME_LISTS & (1 << field) != 0;
                    let pairs = R::PAIRS & (1 << field) != 0;
                    map.next_value_seed(Lenient { record: &mut record, field, names, pairs })?
                }
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(Some(R::from_packed(record.finish())))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are_none!();
}

/// A record of text fields, [`Packed`] (a sync holds every person and job role of the
/// organisation): `id`-like fields (`""` when absent) and optional ones, read with accessors of
/// their names; `$fields`, a plain struct of the same fields, builds one (`.into()`), and `set`
/// changes one. `Debug` prints as the plain struct did, field by field: fingerprints of a
/// person's record hash that text, and must not change with the representation.
macro_rules! record {
    ($(#[$doc:meta])* $ty:ident, $fields:ident, $field:ident {
        ids: [$($(#[$iddoc:meta])* $id:ident $Id:ident: $idname:literal),*],
        texts: [$($(#[$textdoc:meta])* $text:ident $Text:ident: $name:literal),*],
        lists: [$($(#[$listdoc:meta])* $list:ident $List:ident: $listname:literal),*],
        hidden: [$($(#[$hiddendoc:meta])* $hidden:ident $Hidden:ident: $hiddenname:literal),*],
        pairs: [$($(#[$pairdoc:meta])* $pair:ident $Pair:ident: $pairname:literal),*]
    }) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, Hash)]
        pub struct $ty(Packed);

        #[doc = concat!("The fields of a [`", stringify!($ty), "`], numbered as packed.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $field {
            $($Id,)*
            $($Text,)*
            $($List,)*
            $($Hidden,)*
            $($Pair,)*
        }

        #[doc = concat!("A [`", stringify!($ty), "`] field by field, to build one.")]
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $fields {
            $($(#[$iddoc])* pub $id: String,)*
            $($(#[$textdoc])* pub $text: Option<String>,)*
            $($(#[$listdoc])* pub $list: Option<String>,)*
            $($(#[$hiddendoc])* pub $hidden: Option<String>,)*
            $($(#[$pairdoc])* pub $pair: Option<String>,)*
        }

        impl $ty {
            $($(#[$iddoc])* pub fn $id(&self) -> &str {
                self.0.get($field::$Id as u8).unwrap_or("")
            })*
            $($(#[$textdoc])* pub fn $text(&self) -> Option<&str> {
                self.0.get($field::$Text as u8)
            })*
            $($(#[$listdoc])* pub fn $list(&self) -> Option<&str> {
                self.0.get($field::$List as u8)
            })*
            $($(#[$hiddendoc])* pub fn $hidden(&self) -> Option<&str> {
                self.0.get($field::$Hidden as u8)
            })*
            $($(#[$pairdoc])* pub fn $pair(&self) -> Option<&str> {
                self.0.get($field::$Pair as u8)
            })*
            /// Sets one field (`None`: no value).
            pub fn set(&mut self, field: $field, value: Option<&str>) {
                let mut record = PackedBuilder::from_packed(&self.0);
                match value {
                    Some(value) => record.set(field as u8, value),
                    None => record.clear(field as u8),
                }
                self.0 = record.finish();
            }
        }

        impl From<$fields> for $ty {
            fn from(fields: $fields) -> $ty {
                let mut record = PackedBuilder::new();
                // An empty id is no id (as read): one value, one representation.
                $(if !fields.$id.is_empty() {
                    record.set($field::$Id as u8, &fields.$id);
                })*
                $(if let Some(value) = &fields.$text {
                    record.set($field::$Text as u8, value);
                })*
                $(if let Some(value) = &fields.$list {
                    record.set($field::$List as u8, value);
                })*
                $(if let Some(value) = &fields.$hidden {
                    record.set($field::$Hidden as u8, value);
                })*
                $(if let Some(value) = &fields.$pair {
                    record.set($field::$Pair as u8, value);
                })*
                $ty(record.finish())
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($id), &self.$id()))*
                    $(.field(stringify!($text), &self.$text()))*
                    .finish()
            }
        }

        impl Record for $ty {
            const FIELDS: &'static [&'static str] =
                &[$($idname,)* $($name,)* $($listname,)* $($hiddenname,)* $($pairname,)*];
            const NAME_LISTS: u32 = 0 $(| (1 << $field::$List as u32))*;
            const PAIRS: u32 = 0 $(| (1 << $field::$Pair as u32))*;
            const OPTIONAL: u32 = Self::NAME_LISTS $(| (1 << $field::$Hidden as u32))* | Self::PAIRS;
            fn from_packed(fields: Packed) -> Self {
                $ty(fields)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                de::DeserializeSeed::deserialize(RecordOf::<$ty>::new(), d)?
                    .ok_or_else(|| de::Error::custom(concat!("a ", stringify!($ty), " is a JSON object")))
            }
        }
    };
}

record!(
    /// A Humaans person (`/api/people/:id`), the fields the integration reads.
    Person, PersonFields, PersonField {
    ids: [id Id: "id"],
    texts: [
        company_id CompanyId: "companyId",
        first_name FirstName: "firstName",
        middle_name MiddleName: "middleName",
        last_name LastName: "lastName",
        preferred_name PreferredName: "preferredName",
        /// Work email.
        email Email: "email",
        phone_number PhoneNumber: "phoneNumber",
        timezone Timezone: "timezone",
        contract_type ContractType: "contractType",
        employee_id EmployeeId: "employeeId",
        /// `active`, `newHire` or `offboarded`.
        status Status: "status",
        employment_start_date EmploymentStartDate: "employmentStartDate",
        last_working_day LastWorkingDay: "lastWorkingDay",
        employment_end_date EmploymentEndDate: "employmentEndDate",
        /// When the Humaans record was made: of two people with one work email, the earlier keeps
        /// the account.
        created_at CreatedAt: "createdAt"
    ],
    lists: [
        /// The person's teams (`teams: [{"name": …}]`), one name per line. Not in `Debug`, so
        /// not in the fingerprint: teams are not written to the person's account, and a team
        /// change must not lift the person's backoff.
        teams Teams: "teams"
    ],
    hidden: [
        /// The place of work's id (`/api/locations/:id`).
        location_id LocationId: "locationId",
        /// Personal data: never in `Debug` (nor so in a fingerprint or a log).
        gender Gender: "gender",
        /// Personal data, as `gender`.
        birthday Birthday: "birthday",
        /// The place of work's name: not read from the person (never asked for), filled in from
        /// `locationId` and the company's locations when `location` is mapped.
        location Location: "location"
    ],
    pairs: [
        /// Custom field values embedded on the person ([`pairs`] text), when Humaans sends them
        /// so; or filled in from `/custom-values`.
        custom_fields CustomFields: "customFields"
    ]
});

record!(
    /// A Humaans job role (`/api/job-roles`): a dated entry in a person's role history.
    JobRole, JobRoleFields, JobRoleField {
    ids: [id Id: "id", person_id PersonId: "personId"],
    texts: [
        job_title JobTitle: "jobTitle",
        department Department: "department",
        /// The manager's person id.
        reporting_to ReportingTo: "reportingTo",
        effective_date EffectiveDate: "effectiveDate",
        end_date EndDate: "endDate"
    ],
    lists: [],
    hidden: [],
    pairs: []
});

record!(
    /// A Humaans place of work (`/api/locations`). Its shape is not documented (reference §3.6):
    /// the name is the first of `label`, `name`, `city` that has one.
    Location, LocationFields, LocationField {
    ids: [id Id: "id"],
    texts: [label Label: "label", name Name: "name", city City: "city"],
    lists: [],
    hidden: [],
    pairs: []
});

impl Location {
    pub fn display_name(&self) -> Option<&str> {
        self.label().or(self.name()).or(self.city())
    }
}

record!(
    /// A Humaans custom field (`/api/custom-fields`, undocumented): its id and name.
    CustomFieldDef, CustomFieldDefFields, CustomFieldDefField {
    ids: [id Id: "id"],
    texts: [name Name: "name"],
    lists: [],
    hidden: [],
    pairs: []
});

record!(
    /// A person's value of a custom field (`/api/custom-values`, undocumented).
    CustomValue, CustomValueFields, CustomValueField {
    ids: [id Id: "id", person_id PersonId: "personId", custom_field_id CustomFieldId: "customFieldId"],
    texts: [value Value: "value"],
    lists: [],
    hidden: [],
    pairs: []
});

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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    pub provisioning: Option<ProvisionTiming>,
    pub deprovisioning: Option<DeprovisionAction>,
    pub dialect: Dialect,
    /// `None`: max(5, 10% of managed accounts).
    #[serde(default)]
    pub deprovision_limit: Option<DeprovisionLimit>,
    /// The rolling window the limit counts over, in minutes. `None`: 24 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprovision_window_minutes: Option<u32>,
    /// Humaans teams become Leapsome teams (off by default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub teams: bool,
    /// Log entries kept. `None`: [`crate::logs::DEFAULT_RETENTION`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_retention: Option<u32>,
    /// Scope rules as the operator wrote them (`reconcile::scope` reads them); none: everyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    /// Accounts of people who leave scope are left alone (instead of deprovisioned).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_out_of_scope: bool,
    /// Fields written besides the article's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_fields: Vec<ExtraField>,
}

/// An extra field (WIT `extra-field`), written to Leapsome's enterprise-extension keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtraField {
    StartDate,
    EndDate,
    Location,
    Gender,
    Birthday,
    /// A Humaans custom field (by name) to a Leapsome custom attribute (24 hex digits).
    Custom {
        humaans_field: String,
        leapsome_attribute: String,
    },
}

/// Longest lead time `days-before-start` accepts: a year covers any realistic pre-boarding.
pub const MAX_DAYS_BEFORE_START: u16 = 365;

/// The SCIM attributes the integration manages (product.md §3, plus `externalId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
    /// The extra fields (`Settings::extra_fields`), in Leapsome's enterprise extension. Only
    /// in a desired profile when mapped: an attribute no longer mapped is left as it is.
    StartDate,
    EndDate,
    Location,
    /// Personal data: its value is never logged (a change names the key only).
    Gender,
    /// Personal data, as `Gender`.
    Birthday,
    /// Every mapped custom attribute in one value ([`pairs`] text keyed by the 24-hex attribute
    /// id, sorted): custom attributes are named by settings, not by this enum.
    Custom,
}

pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

impl Attr {
    pub const ALL: [Attr; 20] = [
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
        Attr::StartDate,
        Attr::EndDate,
        Attr::Location,
        Attr::Gender,
        Attr::Birthday,
        Attr::Custom,
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
            Attr::StartDate => "startDate",
            Attr::EndDate => "endDate",
            Attr::Location => "location",
            Attr::Gender => "gender",
            Attr::Birthday => "birthday",
            Attr::Custom => "customAttributes",
        }
    }

    pub fn is_enterprise(self) -> bool {
        matches!(self, Attr::EmployeeNumber | Attr::Organization | Attr::Department) || self.is_extra()
    }

    /// One of the extra fields: written only while mapped.
    pub fn is_extra(self) -> bool {
        self >= Attr::StartDate
    }

    /// The names stored state spells attributes with (serde's variant names), in `ALL`'s order.
    const STORED: [&'static str; 20] = [
        "UserName",
        "Email",
        "GivenName",
        "MiddleName",
        "FamilyName",
        "NickName",
        "EmployeeNumber",
        "Phone",
        "Timezone",
        "UserType",
        "Organization",
        "Title",
        "Department",
        "ExternalId",
        "StartDate",
        "EndDate",
        "Location",
        "Gender",
        "Birthday",
        "Custom",
    ];
    const STORED_BY_LENGTH: FieldsByLength = FieldsByLength::of(&Self::STORED);
}

/// As derived, but matched by length first: a sync reads every stored link's profile, a dozen
/// attribute names each, and the derived match compared them one by one.
impl<'de> Deserialize<'de> for Attr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Attr;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Attr, E> {
                field_number(&Attr::STORED, &Attr::STORED_BY_LENGTH, name)
                    .map(|i| Attr::ALL[usize::from(i)])
                    .ok_or_else(|| E::unknown_variant(name, &Attr::STORED))
            }
        }
        d.deserialize_str(V)
    }
}

/// A set of attributes, one bit each (a sync holds one per account of the organisation).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AttrSet(u32);

impl AttrSet {
    pub fn insert(&mut self, attr: Attr) {
        self.0 |= 1 << attr as u32;
    }
    pub fn contains(&self, attr: &Attr) -> bool {
        self.0 & (1 << *attr as u32) != 0
    }
    /// In attribute order.
    pub fn iter(&self) -> impl Iterator<Item = Attr> + '_ {
        Attr::ALL.into_iter().filter(|a| self.contains(a))
    }
}

impl FromIterator<Attr> for AttrSet {
    fn from_iter<I: IntoIterator<Item = Attr>>(iter: I) -> Self {
        let mut set = AttrSet::default();
        iter.into_iter().for_each(|a| set.insert(a));
        set
    }
}

impl std::fmt::Debug for AttrSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Attribute values; an absent attribute is empty (and clears the remote value when written).
///
/// [`Packed`] (the attribute's index is the field number): a sync holds two or three profiles per
/// person (what was written, what the service holds, what is wanted) for a whole organisation.
/// Same JSON (an object in attribute order) as the map it replaces, so stored links read as
/// before.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Profile(Packed);

/// Walks a profile's entries in attribute order.
pub struct ProfileIter<'a>(Entries<'a>);

impl<'a> Iterator for ProfileIter<'a> {
    type Item = (&'static Attr, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        let (index, value) = self.0.next()?;
        Some((&Attr::ALL[usize::from(index)], value))
    }
}

impl Profile {
    pub fn new() -> Self {
        Profile::default()
    }
    /// Packs entries already in attribute order, each attribute once.
    fn pack(entries: &[(Attr, &str)]) -> Profile {
        Profile(Packed::pack(entries.iter().map(|(a, v)| (*a as u8, *v))))
    }
    /// From entries in any order; of one attribute given twice, the last wins.
    fn from_entries<'a>(entries: impl IntoIterator<Item = (Attr, &'a str)>) -> Profile {
        let mut profile = PackedBuilder::new();
        for (attr, value) in entries {
            profile.set(attr as u8, value);
        }
        Profile(profile.finish())
    }
    pub fn get(&self, attr: &Attr) -> Option<&str> {
        self.0.get(*attr as u8)
    }
    pub fn contains_key(&self, attr: &Attr) -> bool {
        self.get(attr).is_some()
    }
    pub fn insert(&mut self, attr: Attr, value: String) -> Option<String> {
        let old = self.get(&attr).map(str::to_owned);
        let mut profile = PackedBuilder::from_packed(&self.0);
        profile.set(attr as u8, &value);
        self.0 = profile.finish();
        old
    }
    pub fn remove(&mut self, attr: &Attr) -> Option<String> {
        let old = self.get(attr).map(str::to_owned);
        if old.is_some() {
            let mut profile = PackedBuilder::from_packed(&self.0);
            profile.clear(*attr as u8);
            self.0 = profile.finish();
        }
        old
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> ProfileIter<'_> {
        ProfileIter(self.0.entries())
    }
    pub fn keys(&self) -> impl Iterator<Item = &Attr> {
        self.0.fields().map(|index| &Attr::ALL[usize::from(index)])
    }
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(_, v)| v)
    }
    pub fn retain(&mut self, mut keep: impl FnMut(&Attr, &str) -> bool) {
        if self.is_empty() {
            return;
        }
        let kept: Vec<(Attr, &str)> = self.iter().filter(|(a, v)| keep(a, v)).map(|(a, v)| (*a, v)).collect();
        if kept.len() < self.len() {
            *self = Profile::pack(&kept);
        }
    }
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&Attr> for Profile {
    type Output = str;
    fn index(&self, attr: &Attr) -> &str {
        self.get(attr).expect("attribute in profile")
    }
}

impl FromIterator<(Attr, String)> for Profile {
    fn from_iter<I: IntoIterator<Item = (Attr, String)>>(iter: I) -> Self {
        let entries: Vec<(Attr, String)> = iter.into_iter().collect();
        Profile::from_entries(entries.iter().map(|(a, v)| (*a, v.as_str())))
    }
}

impl<'a> FromIterator<(Attr, &'a str)> for Profile {
    fn from_iter<I: IntoIterator<Item = (Attr, &'a str)>>(iter: I) -> Self {
        Profile::from_entries(iter)
    }
}

impl<const N: usize> From<[(Attr, String); N]> for Profile {
    fn from(pairs: [(Attr, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl Extend<(Attr, String)> for Profile {
    fn extend<I: IntoIterator<Item = (Attr, String)>>(&mut self, iter: I) {
        let mut profile = PackedBuilder::from_packed(&self.0);
        for (attr, value) in iter {
            profile.set(attr as u8, &value);
        }
        self.0 = profile.finish();
    }
}

impl IntoIterator for Profile {
    type Item = (Attr, String);
    type IntoIter = std::vec::IntoIter<(Attr, String)>;
    fn into_iter(self) -> Self::IntoIter {
        let entries: Vec<(Attr, String)> = self.iter().map(|(a, v)| (*a, v.to_owned())).collect();
        entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Profile {
    type Item = (&'static Attr, &'a str);
    type IntoIter = ProfileIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Serialize for Profile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Profile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of attributes")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Profile, A::Error> {
                let mut entries: Vec<(Attr, Text<'de>)> = Vec::new();
                while let Some(entry) = map.next_entry::<Attr, Text<'de>>()? {
                    entries.push(entry);
                }
                Ok(entries.iter().map(|(a, t)| (*a, &*t.0)).collect())
            }
        }
        d.deserialize_map(V)
    }
}

/// A value read in place when the input allows it (no escapes in a borrowed buffer): a sync
/// reads every stored link's profile, and each value would otherwise be allocated twice.
struct Text<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod profile_tests {
    use super::{Attr, Profile};

    #[test]
    fn a_packed_profile_reads_back_what_was_put_in_whatever_the_lengths() {
        let long = "x".repeat(200);
        let longer = "é".repeat(20_000);
        let mut p: Profile =
            [(Attr::Title, long.clone()), (Attr::UserName, "a@x".into()), (Attr::Department, String::new())].into();
        assert_eq!(p.get(&Attr::Title), Some(long.as_str()));
        assert_eq!(p.get(&Attr::Department), Some(""));
        assert_eq!(p.get(&Attr::Email), None);
        assert_eq!(p.keys().copied().collect::<Vec<_>>(), [Attr::UserName, Attr::Title, Attr::Department]);
        assert_eq!(p.insert(Attr::Email, longer.clone()), None);
        assert_eq!(p.insert(Attr::UserName, "b@x".into()).as_deref(), Some("a@x"));
        assert_eq!(p.get(&Attr::Email), Some(longer.as_str()));
        assert_eq!(p.len(), 4);
        assert_eq!(p.remove(&Attr::Title), Some(long));
        p.retain(|a, _| *a != Attr::Department);
        assert_eq!(
            p.iter().map(|(a, v)| (*a, v.len())).collect::<Vec<_>>(),
            [(Attr::UserName, 3), (Attr::Email, longer.len())]
        );
        // Equal contents, equal values, whatever order they were given in.
        let q: Profile = [(Attr::Email, longer), (Attr::UserName, "b@x".to_owned())].into();
        assert_eq!(p, q);
        assert!(Profile::new().is_empty() && Profile::new().iter().next().is_none());
    }

    #[test]
    fn of_an_attribute_given_twice_the_last_wins() {
        let p: Profile = [(Attr::Title, "a".to_owned()), (Attr::Title, "b".to_owned())].into();
        assert_eq!(p.get(&Attr::Title), Some("b"));
        let mut q = p.clone();
        q.extend([(Attr::Title, "c".to_owned())]);
        assert_eq!(q.get(&Attr::Title), Some("c"));
    }

    #[test]
    fn json_and_debug_read_as_the_map_it_replaces() {
        let p: Profile = [(Attr::Title, "T\"1".to_owned()), (Attr::UserName, "a@x".to_owned())].into();
        let map: std::collections::BTreeMap<Attr, String> =
            [(Attr::Title, "T\"1".to_owned()), (Attr::UserName, "a@x".to_owned())].into();
        assert_eq!(serde_json::to_string(&p).unwrap(), serde_json::to_string(&map).unwrap());
        assert_eq!(format!("{p:?}"), format!("{map:?}"));
        let back: Profile = serde_json::from_str(&serde_json::to_string(&map).unwrap()).unwrap();
        assert_eq!(back, p);
        // Escaped values (read into a new string) and plain ones (read in place), from bytes and
        // from a `Value`; a non-string value is refused.
        let json = r#"{"Title":"a\"b\u00e9","UserName":"plain","Title":"last"}"#;
        let from_bytes: Profile = serde_json::from_slice(json.as_bytes()).unwrap();
        assert_eq!(from_bytes.get(&Attr::Title), Some("last"));
        assert_eq!(from_bytes.get(&Attr::UserName), Some("plain"));
        let escaped: Profile = serde_json::from_str(r#"{"Title":"a\"b\u00e9"}"#).unwrap();
        assert_eq!(escaped.get(&Attr::Title), Some("a\"bé"));
        let value = serde_json::json!({"Title": "from a value"});
        let from_value: Profile = serde_json::from_value(value).unwrap();
        assert_eq!(from_value.get(&Attr::Title), Some("from a value"));
        assert!(serde_json::from_str::<Profile>(r#"{"Title":1}"#).is_err());
    }
}

#[cfg(test)]
mod record_tests {
    use super::{FieldsByLength, JobRole, Person, PersonField, PersonFields, Record, field_number};

    #[test]
    fn attributes_read_back_as_stored() {
        use super::Attr;
        for attr in Attr::ALL {
            let stored = serde_json::to_string(&attr).unwrap();
            assert_eq!(serde_json::from_str::<Attr>(&stored).unwrap(), attr, "{stored}");
        }
        let wrong = serde_json::from_str::<Attr>("\"userName\"").unwrap_err().to_string();
        assert!(wrong.contains("unknown variant `userName`, expected one of `UserName`"), "{wrong}");
        assert!(serde_json::from_str::<Attr>("3").is_err());
    }

    #[test]
    fn teams_read_as_their_names_one_per_line_and_stay_out_of_debug() {
        let person: Person = serde_json::from_str(
            r#"{"id": "p1", "teams": [{"name": " Moonshot "}, {"name": "Growth\nPod", "id": 7}, "Bare", {"name": 5},
                {}, [], {"name": {"name": "Nested"}}], "email": "a@x.test"}"#,
        )
        .unwrap();
        assert_eq!(person.teams(), Some("Moonshot\nGrowth Pod\nBare\nNested"));
        assert_eq!(person.email(), Some("a@x.test"), "fields after the list still read");
        assert!(!format!("{person:?}").contains("Moonshot"), "teams are not fingerprinted");
        let none: Person = serde_json::from_str(r#"{"id": "p2", "teams": []}"#).unwrap();
        assert_eq!(none.teams(), None);
        let odd: Person = serde_json::from_str(r#"{"id": "p3", "teams": "Moonshot"}"#).unwrap();
        assert_eq!(odd.teams(), Some("Moonshot"), "a single name as text");
    }

    #[test]
    fn a_key_names_its_field_only_when_whole() {
        let fields = Person::FIELDS;
        for (i, name) in fields.iter().enumerate() {
            assert_eq!(field_number(fields, &Person::BY_LENGTH, name), Some(i as u8), "{name}");
        }
        // Same length as a field, or a prefix, or empty, or longer than any name: no field.
        let long = "x".repeat(40);
        for key in ["emaiL", "lastNamf", "last", "lastNameX", "Email", "", "\u{e9}mail", &long] {
            assert_eq!(field_number(fields, &Person::BY_LENGTH, key), None, "{key}");
        }
        // One named twice: the first.
        let twice = ["a", "bb", "a", "b"];
        assert_eq!(field_number(&twice, &FieldsByLength::of(&twice), "a"), Some(0));
        assert_eq!(field_number(&twice, &FieldsByLength::of(&twice), "b"), Some(3));
    }

    #[test]
    fn debug_prints_as_the_plain_structs_did_since_fingerprints_hash_it() {
        // Printed by the derived `Debug` of the structs of `String`s these replaced.
        let person: Person = serde_json::from_str(
            r#"{"id":"p1","firstName":"Zoë","lastName":"Ng \"Q\"","email":"z@x.test","employeeId":7,"status":"active","createdAt":"2020-01-01T00:00:00.000Z"}"#,
        )
        .unwrap();
        let role: JobRole = serde_json::from_str(
            r#"{"id":"r1","personId":"p1","jobTitle":"Eng","reportingTo":"p2","effectiveDate":"2020-01-01"}"#,
        )
        .unwrap();
        assert_eq!(
            format!("{person:?}"),
            r#"Person { id: "p1", company_id: None, first_name: Some("Zoë"), middle_name: None, last_name: Some("Ng \"Q\""), preferred_name: None, email: Some("z@x.test"), phone_number: None, timezone: None, contract_type: None, employee_id: Some("7"), status: Some("active"), employment_start_date: None, last_working_day: None, employment_end_date: None, created_at: Some("2020-01-01T00:00:00.000Z") }"#
        );
        assert_eq!(
            format!("{role:?}"),
            r#"JobRole { id: "r1", person_id: "p1", job_title: Some("Eng"), department: None, reporting_to: Some("p2"), effective_date: Some("2020-01-01"), end_date: None }"#
        );
    }

    #[test]
    fn fields_read_leniently_the_last_of_a_repeated_key_winning() {
        let person: Person = serde_json::from_str(
            r#"{"email":"first@x","firstName":"  Ada  ","lastName":"","email":null,"phoneNumber":{"n":1},
                "employeeId":12.5,"status":true,"timezone":["x"],"id":"p9","other":{"deep":[1,2]},"middleName":"M","middleName":"N"}"#,
        )
        .unwrap();
        assert_eq!(person.id(), "p9");
        assert_eq!(person.first_name(), Some("Ada"));
        assert_eq!(
            (person.last_name(), person.email(), person.phone_number(), person.timezone()),
            (None, None, None, None)
        );
        assert_eq!(
            (person.employee_id(), person.status(), person.middle_name()),
            (Some("12.5"), Some("true"), Some("N"))
        );
        // Built field by field: the same record.
        let built = Person::from(PersonFields {
            id: "p9".into(),
            first_name: Some("Ada".into()),
            employee_id: Some("12.5".into()),
            status: Some("true".into()),
            middle_name: Some("N".into()),
            ..PersonFields::default()
        });
        assert_eq!(built, person);
        let mut changed = built.clone();
        changed.set(PersonField::Email, Some("new@x"));
        changed.set(PersonField::Status, None);
        assert_eq!((changed.email(), changed.status(), changed.first_name()), (Some("new@x"), None, Some("Ada")));
        assert!(serde_json::from_str::<Person>("[1]").is_err());
        assert_eq!(Person::default().id(), "");
    }
}
