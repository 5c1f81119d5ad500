//! The reporting tree, laid out before anyone has a name, and what making a person needs to know
//! about their place in it (`Ctx`): title, previous title and team.

use std::collections::VecDeque;

use super::departments::DEPARTMENTS;
use super::rng::Rng;

/// One person while the organisation is being laid out.
pub(super) struct Draft {
    /// Index into `DEPARTMENTS`; `None` for the CEO.
    pub(super) department: Option<usize>,
    pub(super) manager: Option<usize>,
    pub(super) depth: u32,
    pub(super) reports: u32,
}

/// The deepest level that manages anyone: CEO 0, head 1, manager 2, team lead 3, so the
/// longest chain above an individual contributor is four managers. Organisations too large for
/// that at spans of four to eight get one more level, rather than teams of a hundred.
pub(super) fn max_manager_depth(employees: usize) -> u32 {
    if employees > 2500 { 4 } else { 3 }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Active,
    /// Active, with a last working day after `today`.
    Leaving,
    NewHire,
    Offboarded,
}

/// Builds the reporting tree: CEO, one head per department, then everyone else fills their
/// department breadth-first, each manager taking four to eight reports, down to team leads.
/// When every possible manager is full, team leads' teams grow.
pub(super) fn lay_out(employees: usize, rng: &mut Rng) -> Vec<Draft> {
    let mut drafts = Vec::with_capacity(employees);
    if employees == 0 {
        return drafts;
    }
    let deepest_manager = max_manager_depth(employees);
    drafts.push(Draft { department: None, manager: None, depth: 0, reports: 0 });
    let heads = DEPARTMENTS.len().min(employees - 1);
    let mut open: Vec<VecDeque<(usize, u32)>> = vec![VecDeque::new(); heads];
    // Per department, the people at the deepest managing level: the fallback when everyone
    // who could manage has a full team.
    let mut leads: Vec<Vec<usize>> = vec![Vec::new(); heads];
    for (d, queue) in open.iter_mut().enumerate() {
        let index = drafts.len();
        drafts.push(Draft { department: Some(d), manager: Some(0), depth: 1, reports: 0 });
        drafts[0].reports += 1;
        queue.push_back((index, rng.between(4, 7) as u32));
    }
    let weights: Vec<(usize, u64)> = (0..heads).map(|d| (d, DEPARTMENTS[d].weight)).collect();
    while drafts.len() < employees {
        let d = *rng.weighted(&weights);
        if open[d].is_empty() {
            // Every possible manager is full: every team lead takes two more, in turn, so teams
            // grow evenly.
            open[d].extend(leads[d].iter().map(|&lead| (lead, 2)));
        }
        let Some((manager, capacity)) = open[d].front_mut() else {
            unreachable!("a department with a full tree has team leads")
        };
        let manager = *manager;
        *capacity -= 1;
        if *capacity == 0 {
            open[d].pop_front();
        }
        let index = drafts.len();
        let depth = drafts[manager].depth + 1;
        drafts.push(Draft { department: Some(d), manager: Some(manager), depth, reports: 0 });
        drafts[manager].reports += 1;
        if depth == deepest_manager {
            leads[d].push(index);
        }
        if depth <= deepest_manager {
            open[d].push_back((index, rng.between(4, 8) as u32));
        }
    }
    drafts
}

pub(super) struct Ctx<'a> {
    pub(super) today: i64,
    pub(super) founded: i64,
    pub(super) company_id: &'a str,
    pub(super) ids: &'a [String],
    pub(super) drafts: &'a [Draft],
    pub(super) starts: &'a [i64],
    /// Per department, the managers below the head (where someone could move teams to).
    pub(super) team_managers: &'a [Vec<usize>],
}

impl Ctx<'_> {
    pub(super) fn title(&self, i: usize, senior: bool) -> &'static str {
        let draft = &self.drafts[i];
        let Some(d) = draft.department else {
            return "Chief Executive Officer";
        };
        let dept = &DEPARTMENTS[d];
        let (junior, senior_title) = dept.ics[i % dept.ics.len()];
        match (draft.depth, draft.reports > 0) {
            (1, _) => dept.head,
            (2, true) => dept.manager,
            (_, true) => dept.lead,
            _ if senior => senior_title,
            _ => junior,
        }
    }

    /// The title someone held before their current one.
    pub(super) fn previous_title(&self, i: usize) -> &'static str {
        let draft = &self.drafts[i];
        let dept = &DEPARTMENTS[draft.department.expect("the CEO has no previous role")];
        let (junior, senior) = dept.ics[i % dept.ics.len()];
        match (draft.depth, draft.reports > 0) {
            (1, _) => dept.manager,
            (_, true) => senior,
            _ => junior,
        }
    }

    /// The team of everyone under the same department manager (depth 2).
    pub(super) fn team(&self, i: usize) -> Option<&'static str> {
        let mut at = i;
        while self.drafts[at].depth > 2 {
            at = self.drafts[at].manager?;
        }
        let draft = &self.drafts[at];
        let dept = &DEPARTMENTS[draft.department?];
        (draft.depth == 2).then(|| dept.teams[at % dept.teams.len()])
    }
}
