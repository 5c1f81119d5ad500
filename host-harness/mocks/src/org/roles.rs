//! A person's job roles and managers: the current role, an older one for the promoted, a
//! scheduled change for a few.

use super::departments::DEPARTMENTS;
use super::rng::Rng;
use super::tree::{Ctx, Status};
use crate::humaans::dates::{format_date, parse_date, timestamp_on};
use crate::humaans::{JobRole, Person};

pub(super) fn make_roles(ctx: &Ctx, i: usize, person: &Person, status: Status, rng: &mut Rng) -> Vec<JobRole> {
    let draft = &ctx.drafts[i];
    let start = parse_date(person.employment_start_date.as_deref().unwrap_or_default()).unwrap_or(ctx.today);
    let department = draft.department.map_or("Executive", |d| DEPARTMENTS[d].name);
    let manager_id = draft.manager.map(|m| ctx.ids[m].clone());
    let senior = rng.percent(35);
    let role =
        |rng: &mut Rng, title: &str, reporting_to: Option<String>, from: i64, until: Option<i64>, created: i64| {
            let created_at = timestamp_on(&format_date(created.min(ctx.today)), 10);
            JobRole {
                id: rng.id(),
                company_id: ctx.company_id.into(),
                person_id: person.id.clone(),
                job_title: title.into(),
                department: Some(department.into()),
                reporting_to,
                effective_date: format_date(from),
                end_date: until.map(format_date),
                note: None,
                created_at: created_at.clone(),
                updated_at: created_at,
            }
        };
    let created = parse_date(&person.created_at[..10]).unwrap_or(start);

    // Promotions need a year of tenure, ending at least a month before today (or departure).
    let tenure_end = match status {
        Status::Offboarded => parse_date(person.last_working_day.as_deref().unwrap_or_default()).unwrap_or(ctx.today),
        _ => ctx.today,
    };
    let promoted = draft.depth > 0 && status != Status::NewHire && tenure_end - start > 400 && rng.percent(15);
    let mut roles = Vec::new();
    let mut current_from = start;
    if promoted {
        let promotion = rng.between(start + 180, tenure_end - 30);
        // Before the promotion they reported one level higher (to their manager's manager, below
        // the CEO), so history never points down the tree and no date has a reporting cycle.
        let earlier_manager = draft
            .manager
            .and_then(|m| ctx.drafts[m].manager)
            .filter(|&g| ctx.drafts[g].depth > 0)
            .map(|g| ctx.ids[g].clone());
        let mut old = role(
            rng,
            ctx.previous_title(i),
            earlier_manager.or_else(|| manager_id.clone()),
            start,
            Some(promotion - 1),
            created,
        );
        old.updated_at = timestamp_on(&format_date(promotion - 7), 11);
        old.note = Some("Promoted".into());
        roles.push(old);
        current_from = promotion;
    }
    let title = if promoted && draft.reports == 0 && draft.depth >= 2 {
        let dept = &DEPARTMENTS[draft.department.unwrap_or_default()];
        dept.ics[i % dept.ics.len()].1
    } else {
        ctx.title(i, senior)
    };
    let current_created = if promoted { current_from - 7 } else { created };
    // A few individual contributors have a change already entered for next month: a
    // promotion, or a move to another team in the department. Only people without reports move,
    // so the future tree has no cycles either.
    let scheduled = draft.depth >= 2 && draft.reports == 0 && status == Status::Active && rng.percent(2);
    let change_day = ctx.today + rng.between(7, 45);
    roles.push(role(
        rng,
        title,
        manager_id.clone(),
        current_from,
        scheduled.then_some(change_day - 1),
        current_created,
    ));
    if scheduled {
        let entered = ctx.today - rng.between(1, 10);
        if let Some(current) = roles.last_mut() {
            current.updated_at = timestamp_on(&format_date(entered), 11);
        }
        let dept = &DEPARTMENTS[draft.department.unwrap_or_default()];
        let (junior, senior_title) = dept.ics[i % dept.ics.len()];
        let (next_title, next_manager) = if title == junior {
            (senior_title, manager_id)
        } else {
            let others: Vec<usize> = draft
                .department
                .map(|d| ctx.team_managers[d].iter().copied().filter(|&m| Some(m) != draft.manager).collect())
                .unwrap_or_default();
            let moved_to = if others.is_empty() { draft.manager } else { Some(*rng.pick(&others)) };
            (title, moved_to.map(|m| ctx.ids[m].clone()))
        };
        let mut next = role(rng, next_title, next_manager, change_day, None, entered);
        next.note = Some("Scheduled change".into());
        roles.push(next);
    }
    roles
}
