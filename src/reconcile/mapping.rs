//! Humaans -> SCIM attribute mapping (product.md §3) and the "current job role" rule.

use jiff::civil::Date;

use super::model::{Attr, ExtraField, JobRole, Person, Profile, pairs};

/// The role in effect on `today`: the latest `effectiveDate` not in the future, among roles not
/// ended before today. Roles without a readable effective date never count.
pub fn current_role(roles: &[JobRole], today: Date) -> Option<&JobRole> {
    roles
        .iter()
        .filter_map(|r| Some((parse_date(r.effective_date()?)?, r)))
        .filter(|(effective, r)| {
            *effective <= today && r.end_date().and_then(parse_date).is_none_or(|end| end >= today)
        })
        // max_by_key keeps the last of equal keys: the most recently listed role wins a tie.
        .max_by_key(|(effective, _)| *effective)
        .map(|(_, r)| r)
}

pub fn parse_date(s: &str) -> Option<Date> {
    // Accept `YYYY-MM-DD` and timestamps starting with one.
    let head = s.get(..10)?;
    // `YYYY-MM-DD` only, read directly: this runs for every role of every person, several times
    // a sync, and a format parser (chrono's weighed ~29 KB in the component) also reads shapes
    // like ` 26-12-01` (the year 26) or `-026-12-01`, which are mistakes, not dates (unit test).
    let b = head.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    if b[4] == b'-'
        && b[7] == b'-'
        && let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10))
    {
        return Date::new(y as i16, m as i8, d as i8).ok();
    }
    None
}

/// Why a person cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmappable {
    NoWorkEmail,
    InvalidWorkEmail(String),
}

impl std::fmt::Display for Unmappable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unmappable::NoWorkEmail => f.write_str("no work email in Humaans"),
            Unmappable::InvalidWorkEmail(e) => write!(f, "work email `{e}` is not an email address"),
        }
    }
}

/// The SCIM attributes Leapsome should hold for this person. Empty Humaans values are left out,
/// which clears them remotely. Mapped extra fields (`extra`) are in the profile even when empty
/// (`""`, cleared remotely); unmapped ones are absent, and [`changed_attributes`] leaves an absent
/// extra field as Leapsome holds it.
pub fn desired_profile<'a>(
    person: &'a Person,
    role: Option<&'a JobRole>,
    company_name: Option<&'a str>,
    extra: &[ExtraField],
) -> Result<Profile, Unmappable> {
    let email = person.email().ok_or(Unmappable::NoWorkEmail)?;
    if !is_plausible_email(email) {
        return Err(Unmappable::InvalidWorkEmail(email.to_owned()));
    }
    // Packed once at the end, not once per attribute.
    let mut entries: Vec<(Attr, &str)> = Vec::with_capacity(Attr::ALL.len());
    let mut put = |attr: Attr, value: Option<&'a str>| {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            entries.push((attr, v));
        }
    };
    put(Attr::UserName, Some(email));
    put(Attr::Email, Some(email));
    put(Attr::GivenName, person.first_name());
    put(Attr::MiddleName, person.middle_name());
    put(Attr::FamilyName, person.last_name());
    put(Attr::NickName, person.preferred_name());
    put(Attr::EmployeeNumber, person.employee_id());
    put(Attr::Phone, person.phone_number());
    put(Attr::Timezone, person.timezone());
    put(Attr::UserType, person.contract_type());
    put(Attr::Organization, company_name);
    put(Attr::Title, role.and_then(|r| r.job_title()));
    put(Attr::Department, role.and_then(|r| r.department()));
    put(Attr::ExternalId, Some(person.id()));
    let custom = custom_value(person, extra);
    for field in extra {
        let (attr, value) = match field {
            ExtraField::StartDate => (Attr::StartDate, person.employment_start_date().and_then(date_only)),
            // The employment's end, else the last working day (WIT `end-date`).
            ExtraField::EndDate => {
                (Attr::EndDate, person.employment_end_date().or(person.last_working_day()).and_then(date_only))
            }
            ExtraField::Location => (Attr::Location, person.location().map(str::trim)),
            ExtraField::Gender => (Attr::Gender, person.gender().and_then(leapsome_gender)),
            ExtraField::Birthday => (Attr::Birthday, person.birthday().and_then(date_only)),
            ExtraField::Custom { .. } => continue,
        };
        entries.push((attr, value.unwrap_or("")));
    }
    let mut profile: Profile = entries.into_iter().collect();
    if let Some(custom) = custom {
        profile.insert(Attr::Custom, custom);
    }
    Ok(profile)
}

/// Whether a Leapsome custom attribute id is one: 24 hex digits (Leapsome's ids are MongoDB
/// ObjectIds; reference §2.2).
pub fn is_attribute_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Extra fields `configure` accepts: the position (from 0) of the first at fault and why.
pub fn check_extra_fields(fields: &[ExtraField]) -> Result<(), (usize, String)> {
    for (n, field) in fields.iter().enumerate() {
        let ExtraField::Custom { humaans_field, leapsome_attribute } = field else { continue };
        let name = humaans_field.trim();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err((
                n,
                "the Humaans field must be a name of 1 to 200 characters, without control characters".into(),
            ));
        }
        if !is_attribute_id(leapsome_attribute) {
            return Err((
                n,
                format!(
                    "the Leapsome attribute must be its id, 24 hex digits (Leapsome: Users & Teams), got {:?}",
                    leapsome_attribute.chars().take(40).collect::<String>()
                ),
            ));
        }
        let twice = fields[..n].iter().any(|earlier| {
            matches!(earlier, ExtraField::Custom { leapsome_attribute: a, .. } if a.eq_ignore_ascii_case(leapsome_attribute))
        });
        if twice {
            return Err((n, format!("Leapsome attribute {leapsome_attribute} is mapped twice")));
        }
    }
    Ok(())
}

/// `YYYY-MM-DD` of a date or a timestamp (as Leapsome wants its dates); anything else is no date.
fn date_only(s: &str) -> Option<&str> {
    let s = s.trim();
    parse_date(s).map(|_| &s[..10])
}

/// Leapsome's gender (`male`, `female`, `diverse`) for a Humaans value, in any case. A value it
/// does not name (`Prefer not to say`, or anything unforeseen) is no value: Leapsome is not told
/// a guess, and holds no gender Humaans no longer states. (Never logged: personal data.)
pub fn leapsome_gender(humaans: &str) -> Option<&'static str> {
    let g = humaans.trim().to_ascii_lowercase().replace(['-', '_'], " ");
    match g.as_str() {
        "male" | "man" | "m" => Some("male"),
        "female" | "woman" | "f" => Some("female"),
        "diverse" | "non binary" | "nonbinary" | "genderqueer" | "gender fluid" | "genderfluid" | "agender"
        | "other" | "x" | "d" => Some("diverse"),
        _ => None,
    }
}

/// The mapped custom attributes, as [`pairs`] text keyed by Leapsome attribute id (lowercase,
/// sorted), each the person's value of its Humaans field or empty (cleared); `None` when no custom
/// field is mapped, or the person's custom values are unknown. Custom values reach the person as `customFields` text keyed by field name.
fn custom_value(person: &Person, extra: &[ExtraField]) -> Option<String> {
    // Unset: no source of custom values answered (see `humaans::fill_extras`): leave them.
    let held = person.custom_fields()?;
    let mut mapped: Vec<(String, &str)> = extra
        .iter()
        .filter_map(|f| match f {
            ExtraField::Custom { humaans_field, leapsome_attribute } => {
                let value = pairs::get(held, humaans_field).unwrap_or("");
                Some((leapsome_attribute.to_ascii_lowercase(), value))
            }
            _ => None,
        })
        .collect();
    if mapped.is_empty() {
        return None;
    }
    mapped.sort_by(|a, b| a.0.cmp(&b.0));
    mapped.dedup_by(|later, first| later.0 == first.0);
    let mut text = String::new();
    for (id, value) in mapped {
        push_entry(&mut text, &id, value);
    }
    Some(text)
}

/// [`pairs::push`], keeping an empty value (a mapped attribute to clear).
fn push_entry(text: &mut String, key: &str, value: &str) {
    if !text.is_empty() {
        text.push('\u{1e}');
    }
    text.push_str(key);
    text.push('\u{1f}');
    text.push_str(value.trim());
}

/// The custom attributes of `desired` that differ from `current` ([`pairs`] text, `None` when none
/// does): only those desired count (other custom attributes in Leapsome are not ours); a value
/// `current` does not know (an adopted account whose attributes the server did not return) is
/// written unless it is to be cleared.
fn changed_custom(desired: &str, current: Option<&str>) -> Option<String> {
    let unknown = current.is_some_and(|c| c.starts_with('\u{0}'));
    let mut text = String::new();
    for (id, want) in pairs::entries(desired) {
        let have = current.filter(|_| !unknown).and_then(|c| pairs::get(c, id)).unwrap_or("");
        if want != have && !(unknown && want.is_empty()) {
            push_entry(&mut text, id, want);
        }
    }
    (!text.is_empty()).then_some(text)
}

/// One `@`, something on each side, no spaces or control characters. Leapsome checks the domain.
fn is_plausible_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The parts of `name`, written together (see `changed_attributes`).
const NAME_PARTS: [Attr; 3] = [Attr::GivenName, Attr::MiddleName, Attr::FamilyName];

/// Attributes whose values differ between `desired` and `current` (absent counts as empty).
/// Keys of `current` outside `known` are unknown remotely and written when desired is non-empty.
///
/// The name is written whole: when a part is written, every non-empty desired part comes along.
/// Leapsome's `UserFullName` marks givenName and familyName required, and what its flat PATCH
/// does with `{"name": {"givenName": …}}` alone is unknown (merge, clear the other part, or refuse;
/// reference §2.2). Sending the whole name is right under all three, and costs an RFC server one
/// redundant `replace`. (It is decided here because a body is rendered from the changes alone.)
/// A middle name being cleared does not count: `current` may stand for a server that never
/// returns middleName (Leapsome has none), where the caller drops that clear.
pub fn changed_attributes(desired: &Profile, current: &Profile) -> Profile {
    // The extra fields come last: with none mapped (the usual case), they are not looked at (a
    // steady sync diffs every person; each look-up is a scan of the packed profile).
    let article = Attr::ALL.iter().take_while(|a| !a.is_extra());
    let mapped_extras = Attr::ALL.iter().skip_while(|a| !a.is_extra());
    let any_extra = desired.keys().last().is_some_and(|a| a.is_extra());
    let mut changes: Profile = article
        .chain(mapped_extras.filter(|_| any_extra))
        .filter_map(|attr| {
            // An extra field not mapped (absent from `desired`) is left as the account holds it.
            let want = desired.get(attr);
            if attr.is_extra() && want.is_none() {
                return None;
            }
            if *attr == Attr::Custom {
                return changed_custom(want?, current.get(attr)).map(|c| (*attr, c));
            }
            let want = want.unwrap_or("");
            let have = current.get(attr).unwrap_or("");
            // Exact comparison, emails included: a change of case is a rename worth sending.
            (want != have).then(|| (*attr, want.to_owned()))
        })
        .collect();
    let name_written = changes.iter().any(|(attr, want)| match attr {
        Attr::GivenName | Attr::FamilyName => true,
        Attr::MiddleName => !want.is_empty(),
        _ => false,
    });
    if name_written {
        for part in NAME_PARTS {
            if let Some(value) = desired.get(&part).filter(|v| !v.is_empty())
                && !changes.contains_key(&part)
            {
                changes.insert(part, value.to_owned());
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{JobRoleField, JobRoleFields, PersonField, PersonFields};

    fn role(id: &str, title: &str, effective: &str, end: Option<&str>) -> JobRole {
        JobRole::from(JobRoleFields {
            id: id.into(),
            person_id: "p".into(),
            job_title: Some(title.into()),
            department: Some("Eng".into()),
            reporting_to: None,
            effective_date: Some(effective.into()),
            end_date: end.map(Into::into),
        })
    }

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn current_role_is_latest_effective_not_future_not_ended() {
        let roles = vec![
            role("old", "Engineer", "2020-01-01", Some("2023-12-31")),
            role("now", "Senior Engineer", "2024-01-01", None),
            role("future", "Staff Engineer", "2027-01-01", None),
        ];
        assert_eq!(current_role(&roles, d("2026-11-28")).unwrap().id(), "now");
        assert_eq!(current_role(&roles, d("2023-06-01")).unwrap().id(), "old");
        assert_eq!(current_role(&roles, d("2027-01-01")).unwrap().id(), "future");
        assert!(current_role(&roles, d("2019-01-01")).is_none());
    }

    #[test]
    fn role_ending_today_still_counts_and_role_starting_today_wins() {
        let roles = vec![role("a", "A", "2026-01-01", Some("2026-11-28")), role("b", "B", "2026-11-28", None)];
        assert_eq!(current_role(&roles, d("2026-11-28")).unwrap().id(), "b");
        let ended = vec![role("a", "A", "2026-01-01", Some("2026-11-27"))];
        assert!(current_role(&ended, d("2026-11-28")).is_none());
        assert_eq!(current_role(&ended, d("2026-11-27")).unwrap().id(), "a");
    }

    #[test]
    fn roles_without_dates_are_ignored() {
        let mut r = role("x", "X", "2026-01-01", None);
        r.set(JobRoleField::EffectiveDate, None);
        assert!(current_role(&[r], d("2026-11-28")).is_none());
    }

    fn kelsey() -> Person {
        Person::from(PersonFields {
            id: "VMB1yzL5uL8VvNNCJc9rykJz".into(),
            first_name: Some("Kelsey".into()),
            middle_name: None,
            last_name: Some("Wicks".into()),
            preferred_name: Some("Kels".into()),
            email: Some("kelsey@acme.test".into()),
            phone_number: Some("+4479460001".into()),
            timezone: Some("Europe/London".into()),
            contract_type: Some("Full time".into()),
            employee_id: Some("E-7".into()),
            status: Some("active".into()),
            ..PersonFields::default()
        })
    }

    #[test]
    fn maps_all_fourteen_attributes() {
        let r = role("r", "Software Engineer", "2024-01-01", None);
        let mut p = kelsey();
        p.set(PersonField::MiddleName, Some("Ann"));
        let profile = desired_profile(&p, Some(&r), Some("Acme Ltd"), &[]).unwrap();
        let get = |a| profile.get(&a);
        assert_eq!(get(Attr::UserName), Some("kelsey@acme.test"));
        assert_eq!(get(Attr::Email), Some("kelsey@acme.test"));
        assert_eq!(get(Attr::GivenName), Some("Kelsey"));
        assert_eq!(get(Attr::MiddleName), Some("Ann"));
        assert_eq!(get(Attr::FamilyName), Some("Wicks"));
        assert_eq!(get(Attr::NickName), Some("Kels"));
        assert_eq!(get(Attr::EmployeeNumber), Some("E-7"));
        assert_eq!(get(Attr::Phone), Some("+4479460001"));
        assert_eq!(get(Attr::Timezone), Some("Europe/London"));
        assert_eq!(get(Attr::UserType), Some("Full time"));
        assert_eq!(get(Attr::Organization), Some("Acme Ltd"));
        assert_eq!(get(Attr::Title), Some("Software Engineer"));
        assert_eq!(get(Attr::Department), Some("Eng"));
        assert_eq!(get(Attr::ExternalId), Some("VMB1yzL5uL8VvNNCJc9rykJz"));
        assert_eq!(profile.len(), 14);
    }

    #[test]
    fn empty_values_are_absent_and_missing_email_is_refused() {
        let mut p = kelsey();
        p.set(PersonField::PreferredName, Some("   "));
        let profile = desired_profile(&p, None, None, &[]).unwrap();
        assert!(!profile.contains_key(&Attr::NickName));
        assert!(!profile.contains_key(&Attr::Title));
        assert!(!profile.contains_key(&Attr::Organization));
        p.set(PersonField::Email, None);
        assert_eq!(desired_profile(&p, None, None, &[]), Err(Unmappable::NoWorkEmail));
        p.set(PersonField::Email, Some("not an email"));
        assert!(matches!(desired_profile(&p, None, None, &[]), Err(Unmappable::InvalidWorkEmail(_))));
    }

    #[test]
    fn diff_lists_only_changes_and_clears() {
        let p = kelsey();
        let before = desired_profile(&p, None, Some("Acme"), &[]).unwrap();
        let mut changed = p.clone();
        changed.set(PersonField::LastName, Some("Wicks-Smith"));
        changed.set(PersonField::PreferredName, None);
        let after = desired_profile(&changed, None, Some("Acme"), &[]).unwrap();
        let diff = changed_attributes(&after, &before);
        assert_eq!(diff.len(), 3);
        assert_eq!(&diff[&Attr::FamilyName], "Wicks-Smith");
        assert_eq!(&diff[&Attr::GivenName], "Kelsey", "the name is written whole");
        assert_eq!(&diff[&Attr::NickName], "");
        assert!(changed_attributes(&before, &before).is_empty());
    }

    #[test]
    fn any_name_change_writes_every_part_held() {
        let mut p = kelsey();
        p.set(PersonField::MiddleName, Some("Ann"));
        let before = desired_profile(&p, None, None, &[]).unwrap();
        let mut q = p.clone();
        q.set(PersonField::LastName, None);
        let after = desired_profile(&q, None, None, &[]).unwrap();
        // A cleared part is written empty; the parts held come along unchanged.
        let diff = changed_attributes(&after, &before);
        let expected: Profile = [
            (Attr::GivenName, "Kelsey".to_owned()),
            (Attr::MiddleName, "Ann".to_owned()),
            (Attr::FamilyName, String::new()),
        ]
        .into();
        assert_eq!(diff, expected);
        // A middle name set brings the rest; one cleared goes alone.
        let diff = changed_attributes(&before, &desired_profile(&kelsey(), None, None, &[]).unwrap());
        assert_eq!(diff.len(), 3);
        let diff = changed_attributes(&desired_profile(&kelsey(), None, None, &[]).unwrap(), &before);
        assert_eq!(diff, [(Attr::MiddleName, String::new())].into());
        // No name change, no name parts.
        q = p.clone();
        q.set(PersonField::PreferredName, Some("K"));
        let diff = changed_attributes(&desired_profile(&q, None, None, &[]).unwrap(), &before);
        assert_eq!(diff.keys().collect::<Vec<_>>(), vec![&Attr::NickName]);
    }

    #[test]
    fn email_case_change_is_a_change() {
        let p = kelsey();
        let before = desired_profile(&p, None, None, &[]).unwrap();
        let mut q = p.clone();
        q.set(PersonField::Email, Some("Kelsey@acme.test"));
        let after = desired_profile(&q, None, None, &[]).unwrap();
        assert_eq!(changed_attributes(&after, &before).len(), 2);
    }

    fn all_extras() -> Vec<ExtraField> {
        vec![
            ExtraField::StartDate,
            ExtraField::EndDate,
            ExtraField::Location,
            ExtraField::Gender,
            ExtraField::Birthday,
            ExtraField::Custom {
                humaans_field: "T-Shirt Size".into(),
                leapsome_attribute: "6140868326541A4DA586DB0B".into(),
            },
            ExtraField::Custom {
                humaans_field: "Cost centre".into(),
                leapsome_attribute: "0000000000000000000000aa".into(),
            },
        ]
    }

    #[test]
    fn extra_fields_map_to_leapsome_values_only_when_mapped() {
        let mut p = kelsey();
        p.set(PersonField::EmploymentStartDate, Some("2024-01-01T00:00:00.000Z"));
        p.set(PersonField::EmploymentEndDate, Some("not a date"));
        p.set(PersonField::Location, Some(" Berlin "));
        p.set(PersonField::Gender, Some("Female"));
        p.set(PersonField::Birthday, Some("1989-07-28"));
        let mut custom = String::new();
        pairs::push(&mut custom, "t-shirt size", "M");
        p.set(PersonField::CustomFields, Some(&custom));
        let profile = desired_profile(&p, None, None, &all_extras()).unwrap();
        assert_eq!(profile.get(&Attr::StartDate), Some("2024-01-01"));
        assert_eq!(profile.get(&Attr::EndDate), Some(""), "mapped, no readable date: cleared");
        assert_eq!(profile.get(&Attr::Location), Some("Berlin"));
        assert_eq!(profile.get(&Attr::Gender), Some("female"));
        assert_eq!(profile.get(&Attr::Birthday), Some("1989-07-28"));
        // Keyed by lowercase id, sorted; the field not held is empty (cleared).
        let entries: Vec<_> = pairs::entries(profile.get(&Attr::Custom).unwrap()).collect();
        assert_eq!(entries, [("0000000000000000000000aa", ""), ("6140868326541a4da586db0b", "M")]);
        // Nothing mapped: no extra attribute at all (the article's fourteen).
        let plain = desired_profile(&p, None, None, &[]).unwrap();
        assert!(plain.keys().all(|a| !a.is_extra()), "{plain:?}");
        // Custom values unknown (no source answered): the custom attributes are left alone.
        p.set(PersonField::CustomFields, None);
        assert!(!desired_profile(&p, None, None, &all_extras()).unwrap().contains_key(&Attr::Custom));
    }

    #[test]
    fn genders_leapsome_does_not_name_are_no_value() {
        for (humaans, leapsome) in [
            ("Female", Some("female")),
            ("MALE", Some("male")),
            ("woman", Some("female")),
            ("Non-binary", Some("diverse")),
            ("diverse", Some("diverse")),
            ("Prefer not to say", None),
            ("", None),
            ("unicorn", None),
        ] {
            assert_eq!(leapsome_gender(humaans), leapsome, "{humaans}");
        }
    }

    #[test]
    fn an_unmapped_extra_field_is_left_and_a_mapped_one_is_compared() {
        let p = kelsey();
        let current: Profile = [
            (Attr::Gender, "male".to_owned()),
            (Attr::Location, "Paris".to_owned()),
            (Attr::Custom, "0000000000000000000000aa\u{1f}X\u{1e}ffffffffffffffffffffffff\u{1f}theirs".to_owned()),
        ]
        .into();
        let mut want = desired_profile(&p, None, None, &[]).unwrap();
        let base = changed_attributes(&want, &Profile::new());
        // Nothing mapped: Leapsome's extra values are not ours to clear.
        assert!(changed_attributes(&want, &current).keys().all(|a| !a.is_extra()));
        assert_eq!(changed_attributes(&want, &current).len(), base.len());
        // Mapped: gender cleared, location set, one custom attribute written; the attribute we
        // do not map (ffff…) is not touched.
        want.insert(Attr::Gender, String::new());
        want.insert(Attr::Location, "Berlin".into());
        want.insert(Attr::Custom, "0000000000000000000000aa\u{1f}Y".into());
        let diff = changed_attributes(&want, &current);
        assert_eq!(diff.get(&Attr::Gender), Some(""));
        assert_eq!(diff.get(&Attr::Location), Some("Berlin"));
        assert_eq!(diff.get(&Attr::Custom), Some("0000000000000000000000aa\u{1f}Y"));
        // Equal custom values: no change; unknown (adopted, not returned): written unless empty.
        want.insert(Attr::Custom, "0000000000000000000000aa\u{1f}X".into());
        assert!(!changed_attributes(&want, &current).contains_key(&Attr::Custom));
        let unknown: Profile = [(Attr::Custom, "\u{0}unknown".to_owned())].into();
        assert_eq!(changed_attributes(&want, &unknown).get(&Attr::Custom), Some("0000000000000000000000aa\u{1f}X"));
        want.insert(Attr::Custom, "0000000000000000000000aa\u{1f}".into());
        assert!(!changed_attributes(&want, &unknown).contains_key(&Attr::Custom));
    }

    #[test]
    fn custom_mappings_are_checked() {
        let ok = all_extras();
        assert_eq!(check_extra_fields(&ok), Ok(()));
        let custom = |f: &str, id: &str| ExtraField::Custom { humaans_field: f.into(), leapsome_attribute: id.into() };
        let (n, why) =
            check_extra_fields(&[ExtraField::Gender, custom("Size", "6140868326541a4da586db0")]).unwrap_err();
        assert_eq!(n, 1);
        assert!(why.contains("24 hex digits"), "{why}");
        assert_eq!(check_extra_fields(&[custom("Size", "g140868326541a4da586db0b")]).unwrap_err().0, 0);
        assert_eq!(check_extra_fields(&[custom(" ", "6140868326541a4da586db0b")]).unwrap_err().0, 0);
        let twice = [custom("A", "6140868326541a4da586db0b"), custom("B", "6140868326541A4DA586DB0B")];
        assert!(check_extra_fields(&twice).unwrap_err().1.contains("mapped twice"));
    }

    /// `YYYY-MM-DD` read as jiff's ISO 8601 parser reads that shape (and as chrono's `%Y-%m-%d`
    /// did: both were checked here until commit 41b9cfc, when the component left chrono).
    #[test]
    fn dates_read_as_jiff_reads_them_in_ten_characters() {
        let iso_shape =
            |h: &str| h.bytes().enumerate().all(|(i, c)| if i == 4 || i == 7 { c == b'-' } else { c.is_ascii_digit() });
        for s in [
            "2026-12-01",
            "2026-12-01T08:44:42.000Z",
            "2026-02-29",
            "2024-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "2026-01-1",
            "+2026-01-01",
            "0000-01-01",
            "9999-12-31",
            "2026/12/01",
            "abcd-ef-gh",
            "2026-12-0",
            "2026-12-01x",
            " 2026-12-01",
            "２０２６-12-01",
        ] {
            let jiff = s.get(..10).filter(|h| iso_shape(h)).and_then(|h| h.parse::<Date>().ok());
            assert_eq!(parse_date(s), jiff, "{s:?}");
        }
        // Every one- and two-character change of a few dates, from characters that could make
        // another shape (unpadded fields, signs, spaces, other separators). chrono read some of
        // those as dates (` 26-12-01` as the year 26, `-026-12-01` as the year -26): for a start
        // date those are mistakes, not dates, and are left unread.
        let alphabet = "0123456789-+ T:/.";
        for base in ["2026-12-01", "2024-02-29", "0001-01-01", "2026-1-015", "+202-01-01"] {
            for i in 0..10 {
                for a in alphabet.chars() {
                    for j in i..10 {
                        for b in alphabet.chars() {
                            let mut bytes = base.as_bytes().to_vec();
                            bytes[i] = a as u8;
                            bytes[j] = b as u8;
                            let head = String::from_utf8(bytes).unwrap();
                            let jiff = Some(&head).filter(|h| iso_shape(h)).and_then(|h| h.parse::<Date>().ok());
                            assert_eq!(parse_date(&head), jiff, "{head:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn lenient_parsing_of_odd_json() {
        let p: Person = serde_json::from_value(serde_json::json!({
            "id": "x", "employeeId": 1234, "email": "a@b.test", "middleName": null, "phoneNumber": "",
            "firstName": "José", "unknownField": {"nested": true}, "status": "active"
        }))
        .unwrap();
        assert_eq!(p.employee_id(), Some("1234"));
        assert_eq!(p.middle_name(), None);
        assert_eq!(p.phone_number(), None);
        assert_eq!(p.first_name(), Some("José"));
    }
}
