//! Inputs of the core: the Humaans records it reads (tolerant of null, absent and oddly typed
//! fields), the settings, and the SCIM attributes it manages.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

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

/// Accepts a string, a number or a boolean as text; null, absent, empty and other JSON as `None`.
/// Real HR data has employee ids typed as numbers and empty strings for "no value". Read straight
/// from the parser (no `serde_json::Value` in between): pages of people are large.
struct Lenient;

impl<'de> de::DeserializeSeed<'de> for Lenient {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lenient {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned))
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Some(b.to_string()))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Some(n.to_string()))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Some(n.to_string()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        // As `serde_json::Number` prints it (`1.0`, not `1`).
        Ok(serde_json::Number::from_f64(n).map(|n| n.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A Humaans record read field by field: the fields it names leniently as text ([`Lenient`]),
/// every other field skipped unread, a repeated field keeping its last value (as a JSON object
/// read into a map did). One generic reader serves people and job roles, straight from a page.
pub trait Record: Default {
    /// The JSON names of the fields read, in the order `set` numbers them.
    const FIELDS: &'static [&'static str];
    fn set(&mut self, field: usize, value: Option<String>);
}

/// Which of `R`'s fields a key names (no allocation per key).
struct FieldOf<R>(std::marker::PhantomData<R>);

impl<'de, R: Record> de::DeserializeSeed<'de> for FieldOf<R> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, R: Record> Visitor<'de> for FieldOf<R> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(R::FIELDS.iter().position(|f| *f == key))
    }
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
        let mut record = R::default();
        while let Some(field) = map.next_key_seed(FieldOf::<R>(std::marker::PhantomData))? {
            match field {
                Some(i) => record.set(i, map.next_value_seed(Lenient)?),
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(Some(record))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are_none!();
}

/// `Record` and `Deserialize` for a struct of text fields: `id`-like fields (`String`, empty when
/// absent) and optional ones.
macro_rules! record {
    ($ty:ident { ids: [$($id:ident: $idname:literal),*], texts: [$($field:ident: $name:literal),*] }) => {
        impl Record for $ty {
            const FIELDS: &'static [&'static str] = &[$($idname,)* $($name,)*];
            fn set(&mut self, field: usize, value: Option<String>) {
                let mut i = 0;
                $(
                    if field == i {
                        self.$id = value.unwrap_or_default();
                        return;
                    }
                    i += 1;
                )*
                $(
                    if field == i {
                        self.$field = value;
                        return;
                    }
                    i += 1;
                )*
                let _ = i;
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

/// A Humaans person (`/api/people/:id`), the fields the integration reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    pub id: String,
    pub company_id: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub preferred_name: Option<String>,
    /// Work email.
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub timezone: Option<String>,
    pub contract_type: Option<String>,
    pub employee_id: Option<String>,
    /// `active`, `newHire` or `offboarded`.
    pub status: Option<String>,
    pub employment_start_date: Option<String>,
    pub last_working_day: Option<String>,
    pub employment_end_date: Option<String>,
    /// When the Humaans record was made: of two people with one work email, the earlier keeps
    /// the account.
    pub created_at: Option<String>,
}

record!(Person {
    ids: [id: "id"],
    texts: [
        company_id: "companyId",
        first_name: "firstName",
        middle_name: "middleName",
        last_name: "lastName",
        preferred_name: "preferredName",
        email: "email",
        phone_number: "phoneNumber",
        timezone: "timezone",
        contract_type: "contractType",
        employee_id: "employeeId",
        status: "status",
        employment_start_date: "employmentStartDate",
        last_working_day: "lastWorkingDay",
        employment_end_date: "employmentEndDate",
        created_at: "createdAt"
    ]
});

/// A Humaans job role (`/api/job-roles`): a dated entry in a person's role history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobRole {
    pub id: String,
    pub person_id: String,
    pub job_title: Option<String>,
    pub department: Option<String>,
    /// The manager's person id.
    pub reporting_to: Option<String>,
    pub effective_date: Option<String>,
    pub end_date: Option<String>,
}

record!(JobRole {
    ids: [id: "id", person_id: "personId"],
    texts: [
        job_title: "jobTitle",
        department: "department",
        reporting_to: "reportingTo",
        effective_date: "effectiveDate",
        end_date: "endDate"
    ]
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
///
/// Packed into one allocation: a sync holds two or three profiles per person (what was written,
/// what the service holds, what is wanted) for a whole organisation, and a list of a dozen
/// `String`s takes a dozen allocations and their headers. The bytes are entries in attribute
/// order, each the attribute's index, the value's length (LEB128) and the value; one attribute
/// at most once, so equal profiles have equal bytes. Same JSON (an object in attribute order) as
/// the map it replaces, so stored links read as before.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Profile(Box<[u8]>);

/// Walks a profile's packed entries.
pub struct ProfileIter<'a>(&'a [u8]);

impl<'a> ProfileIter<'a> {
    /// The next entry's attribute index and value bytes.
    fn next_raw(&mut self) -> Option<(u8, &'a [u8])> {
        let (&index, mut rest) = self.0.split_first()?;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let (&byte, tail) = rest.split_first().expect("a packed profile is well formed");
            rest = tail;
            len |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let (value, tail) = rest.split_at(len);
        self.0 = tail;
        Some((index, value))
    }
}

/// Values are packed only from `&str`s (`Profile::pack`), whole: checked again anyway (cheap
/// next to what reads them), rather than trusted with `unsafe`.
fn text(value: &[u8]) -> &str {
    std::str::from_utf8(value).expect("a packed profile holds UTF-8")
}

impl<'a> Iterator for ProfileIter<'a> {
    type Item = (&'static Attr, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        let (index, value) = self.next_raw()?;
        Some((&Attr::ALL[usize::from(index)], text(value)))
    }
}

impl Profile {
    pub fn new() -> Self {
        Profile::default()
    }
    /// Packs entries already in attribute order, each attribute once.
    fn pack<'a>(entries: impl IntoIterator<Item = (Attr, &'a str)>) -> Profile {
        let entries: Vec<(Attr, &str)> = entries.into_iter().collect();
        let size: usize = entries.iter().map(|(_, v)| 1 + 5 + v.len()).sum();
        let mut bytes = Vec::with_capacity(size);
        for (attr, value) in entries {
            bytes.push(attr as u8);
            let mut len = value.len();
            loop {
                let byte = (len & 0x7f) as u8;
                len >>= 7;
                if len == 0 {
                    bytes.push(byte);
                    break;
                }
                bytes.push(byte | 0x80);
            }
            bytes.extend_from_slice(value.as_bytes());
        }
        Profile(bytes.into_boxed_slice())
    }
    /// From entries in any order; of one attribute given twice, the last wins.
    fn from_entries(entries: Vec<(Attr, String)>) -> Profile {
        Profile::pack(Profile::ordered(entries.iter().map(|(a, v)| (*a, v.as_str()))))
    }
    /// In attribute order, the last of each attribute. By insertion: a dozen entries at most, and
    /// a library sort would add kilobytes to the component.
    fn ordered<'a>(entries: impl Iterator<Item = (Attr, &'a str)>) -> Vec<(Attr, &'a str)> {
        let mut ordered: Vec<(Attr, &str)> = Vec::new();
        for (attr, value) in entries {
            match ordered.iter().position(|(a, _)| *a >= attr) {
                Some(i) if ordered[i].0 == attr => ordered[i].1 = value,
                Some(i) => ordered.insert(i, (attr, value)),
                None => ordered.push((attr, value)),
            }
        }
        ordered
    }
    pub fn get(&self, attr: &Attr) -> Option<&str> {
        // Entries are in attribute order: stop at the first one past it, and only the value
        // found is checked as text.
        let wanted = *attr as u8;
        let mut entries = self.iter();
        while let Some((index, value)) = entries.next_raw() {
            if index >= wanted {
                return (index == wanted).then(|| text(value));
            }
        }
        None
    }
    pub fn contains_key(&self, attr: &Attr) -> bool {
        self.get(attr).is_some()
    }
    pub fn insert(&mut self, attr: Attr, value: String) -> Option<String> {
        let old = self.get(&attr).map(str::to_owned);
        let others = self.iter().filter(|(a, _)| **a != attr).map(|(a, v)| (*a, v));
        let mut entries: Vec<(Attr, &str)> = others.collect();
        let at = entries.partition_point(|(a, _)| *a < attr);
        entries.insert(at, (attr, value.as_str()));
        *self = Profile::pack(entries);
        old
    }
    pub fn remove(&mut self, attr: &Attr) -> Option<String> {
        let old = self.get(attr).map(str::to_owned);
        if old.is_some() {
            *self = Profile::pack(self.iter().filter(|(a, _)| *a != attr).map(|(a, v)| (*a, v)));
        }
        old
    }
    pub fn len(&self) -> usize {
        let mut entries = self.iter();
        std::iter::from_fn(|| entries.next_raw()).count()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> ProfileIter<'_> {
        ProfileIter(&self.0)
    }
    pub fn keys(&self) -> impl Iterator<Item = &Attr> {
        let mut entries = self.iter();
        std::iter::from_fn(move || entries.next_raw()).map(|(index, _)| &Attr::ALL[usize::from(index)])
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
            *self = Profile::pack(kept);
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
        Profile::from_entries(iter.into_iter().collect())
    }
}

impl<'a> FromIterator<(Attr, &'a str)> for Profile {
    fn from_iter<I: IntoIterator<Item = (Attr, &'a str)>>(iter: I) -> Self {
        Profile::pack(Profile::ordered(iter.into_iter()))
    }
}

impl<const N: usize> From<[(Attr, String); N]> for Profile {
    fn from(pairs: [(Attr, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl Extend<(Attr, String)> for Profile {
    fn extend<I: IntoIterator<Item = (Attr, String)>>(&mut self, iter: I) {
        let mut entries: Vec<(Attr, String)> = std::mem::take(self).into_iter().collect();
        entries.extend(iter);
        *self = Profile::from_entries(entries);
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
