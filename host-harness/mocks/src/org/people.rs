//! One person: name, unique work email, contact details from their place, status dates, teams.

use std::collections::HashSet;

use super::names::{EMAIL_DOMAIN, FIRST_NAMES, LAST_NAMES, NICKNAMES, ascii_fold};
use super::places::PLACES;
use super::rng::Rng;
use super::tree::{Ctx, Status};
use crate::humaans::dates::{days_from_civil, format_date, timestamp_on};
use crate::humaans::{Person, STATUS_ACTIVE, STATUS_NEW_HIRE, STATUS_OFFBOARDED, Team, WorkingDay};

pub(super) fn make_person(ctx: &Ctx, i: usize, status: Status, rng: &mut Rng, emails: &mut HashSet<String>) -> Person {
    let draft = &ctx.drafts[i];
    let (first, gender) = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let place = rng.weighted(PLACES);

    let base = format!("{}.{}", ascii_fold(first), ascii_fold(last));
    let mut email = format!("{base}@{EMAIL_DOMAIN}");
    let mut n = 2;
    while !emails.insert(email.clone()) {
        email = format!("{base}{n}@{EMAIL_DOMAIN}");
        n += 1;
    }

    let start = ctx.starts[i];
    let leaving_day = match status {
        Status::Offboarded => Some(rng.between(start + 90, ctx.today - 1)),
        Status::Leaving => Some(ctx.today + rng.between(7, 60)),
        _ => None,
    };

    let contract = match draft.depth {
        0 | 1 => "Full time",
        _ => *rng.weighted(&[("Full time", 80), ("Part time", 10), ("Contractor", 10)]),
    };
    let week: &[&str] = if contract == "Part time" {
        &["monday", "tuesday", "wednesday"]
    } else {
        &["monday", "tuesday", "wednesday", "thursday", "friday"]
    };
    let phone = |rng: &mut Rng| {
        let digits: String = (0..place.phone_digits).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
        let e164 = format!("{}{digits}", place.phone_prefix);
        let mut formatted = String::new();
        for (k, c) in e164.chars().enumerate() {
            if place.phone_breaks.contains(&k) {
                formatted.push(' ');
            }
            formatted.push(c);
        }
        (e164, formatted)
    };
    let (work_phone, work_phone_formatted) = phone(rng);
    let personal_phone = rng.percent(60).then(|| phone(rng));

    let created_day = match status {
        Status::NewHire => ctx.today - rng.between(1, 20),
        _ => (start - rng.between(7, 45)).max(ctx.founded),
    };
    let mut updated_day = created_day + rng.between(0, ctx.today - created_day);
    if let (Status::Offboarded, Some(day)) = (status, leaving_day) {
        updated_day = updated_day.max(day - 14).min(ctx.today);
    }

    let mut teams: Vec<Team> = match draft.depth {
        0 | 1 => vec![Team { name: "Leadership".into() }],
        _ => ctx.team(i).map(|t| Team { name: t.into() }).into_iter().collect(),
    };
    if rng.percent(5) {
        teams.push(Team { name: "Social Committee".into() });
    }

    let date = |day: i64| Some(format_date(day));
    Person {
        id: ctx.ids[i].clone(),
        company_id: ctx.company_id.into(),
        first_name: first.into(),
        middle_name: rng.percent(10).then(|| rng.pick(FIRST_NAMES).0.to_owned()),
        last_name: last.into(),
        preferred_name: NICKNAMES
            .iter()
            .find(|(f, _)| *f == first)
            .filter(|_| rng.percent(60))
            .map(|(_, n)| (*n).into()),
        email,
        personal_email: rng.percent(80).then(|| {
            let domain = rng.pick(&["example.com", "example.net", "example.org"]);
            format!("{}{}{}@{domain}", ascii_fold(first), ascii_fold(last), rng.between(1, 99))
        }),
        phone_number: Some(work_phone),
        formatted_phone_number: Some(work_phone_formatted),
        personal_phone_number: personal_phone.as_ref().map(|(e, _)| e.clone()),
        formatted_personal_phone_number: personal_phone.map(|(_, f)| f),
        gender: (!rng.percent(5)).then(|| gender.into()),
        birthday: date(rng.between(days_from_civil(1965, 1, 1), days_from_civil(2003, 12, 31))),
        nationality: Some(place.nationality.into()),
        nationalities: vec![place.nationality.into()],
        spoken_languages: if place.language == "English" {
            vec!["English".into()]
        } else {
            vec![place.language.into(), "English".into()]
        },
        address: Some(format!("{} {}", rng.between(1, 240), rng.pick(place.streets))),
        city: Some(place.city.into()),
        postcode: Some(
            place
                .postcode
                .chars()
                .map(|c| match c {
                    '#' => char::from(b'0' + rng.below(10) as u8),
                    '@' => char::from(b'A' + rng.below(26) as u8),
                    other => other,
                })
                .collect(),
        ),
        state: place.state.map(str::to_owned),
        country_code: Some(place.country_code.into()),
        country: Some(place.country.into()),
        employment_start_date: date(start),
        first_working_day: date(start),
        employment_end_date: leaving_day.and_then(date),
        last_working_day: leaving_day.and_then(date),
        probation_end_date: (start + 182 > ctx.today).then(|| format_date(start + 182)),
        working_days: week.iter().map(|d| WorkingDay { day: (*d).into() }).collect(),
        public_holiday_calendar_id: Some(place.calendar.into()),
        leaving_reason: (status == Status::Offboarded)
            .then(|| (*rng.pick(&["resigned", "dismissed", "redundancy", "contractEnded", "other"])).into()),
        contract_type: Some(contract.into()),
        employee_id: (contract != "Contractor").then(|| format!("E{:05}", i + 1)),
        teams,
        status: match status {
            Status::Active | Status::Leaving => STATUS_ACTIVE,
            Status::NewHire => STATUS_NEW_HIRE,
            Status::Offboarded => STATUS_OFFBOARDED,
        }
        .into(),
        is_verified: status != Status::NewHire,
        role: if draft.depth <= 1 { "admin" } else { "user" }.into(),
        timezone: place.timezone.into(),
        created_at: timestamp_on(&format_date(created_day), 9),
        updated_at: timestamp_on(&format_date(updated_day), 15),
        ..Person::default()
    }
}
