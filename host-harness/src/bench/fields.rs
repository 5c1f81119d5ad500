//! The extra-fields run (issue 24, `--extra-fields`): the main run's organisation with every extra
//! field mapped (start date, end date, place of work, gender, birthday and one custom field), its
//! people spread over a few places of work and each given a custom value, served embedded on the
//! person by name (the shape that costs no request: see `humaans::fill_extras`). The first sync's
//! writes, whether every account holds the values, and steady syncs' writes and requests against
//! the steady floor plus the places of work's pages (the one extra list a sync reads).

use std::sync::Arc;

use anyhow::{Context, Result};
use jiff::civil::Date;
use serde_json::{Value, json};

use super::common::{median, progress, round};
use super::main_run::{Floor, pages};
use super::rig::{CpuDeadline, Rig, Timed, timed_sync};
use crate::operator::done;
use crate::plugin::api;
use crate::{MemoryStorage, Runtime};
use mock_servers::humaans::{CustomFieldsShape, Location};

/// Places of work in the generated organisation (a company's offices).
const LOCATIONS: usize = 12;
const HUMAANS_PAGE: usize = 250;
/// The custom attribute the bench maps its custom field to.
const SIZE_ATTRIBUTE: &str = "6140868326541a4da586db0b";
const SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];

#[derive(Debug, Clone)]
pub(super) struct FieldsRun {
    pub(super) initial: Timed,
    /// Accounts holding the place of work and the custom value they should after the first sync.
    pub(super) accounts_exact: usize,
    pub(super) accounts: usize,
    /// The steady sync with the most requests, and the most writes of any.
    pub(super) steady: Timed,
    pub(super) steady_syncs: usize,
    pub(super) steady_most_writes: u64,
    pub(super) steady_walls: Vec<f64>,
    pub(super) floor: Floor,
}

impl FieldsRun {
    pub(super) fn location_pages(&self) -> usize {
        pages(LOCATIONS, HUMAANS_PAGE)
    }

    /// The steady floor plus the places of work's pages.
    pub(super) fn steady_allowed(&self) -> usize {
        self.floor.requests + self.location_pages()
    }

    pub(super) fn steady_wall_median(&self) -> f64 {
        median(&mut self.steady_walls.clone())
    }

    pub(super) fn first_sync_complete(&self) -> bool {
        let t = &self.initial.totals;
        t.complete && t.failed == 0 && self.accounts_exact == self.accounts
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "fields": ["start-date", "end-date", "location", "gender", "birthday", "custom (embedded by name)"],
            "locations": LOCATIONS,
            "scope": SCOPE_RULE,
            "first_sync": {
                "wall_s": round(self.initial.wall_s, 3),
                "requests": self.initial.requests.to_json(),
                "report": self.initial.totals.to_json(),
                "accounts": self.accounts,
                "accounts_exact": self.accounts_exact,
            },
            "steady_sync": {
                "syncs": self.steady_syncs,
                "most_writes": self.steady_most_writes,
                "requests": self.steady.requests.total(),
                "by_route": self.steady.requests.routes,
                "floor_requests": self.floor.requests,
                "location_pages": self.location_pages(),
                "allowed": self.steady_allowed(),
                "wall_s_median": round(self.steady_wall_median(), 3),
                "runs_wall_s": self.steady_walls.iter().map(|w| round(*w, 3)).collect::<Vec<_>>(),
            },
        })
    }
}

/// The run's scope rule (see `fields_run`).
pub const SCOPE_RULE: &str =
    "location not in (Nowhere) and email-domain != example.invalid and department != \"No such\"";

pub(super) async fn fields_run(
    runtime: &Arc<Runtime>,
    employees: usize,
    steady_syncs: usize,
    today: Date,
) -> Result<FieldsRun> {
    let storage = Arc::new(MemoryStorage::new());
    let rig = Rig::start(runtime, employees, today, "bench-fields", Some(0), storage, CpuDeadline::HostDefault).await?;
    let offices: Vec<(String, String)> = (0..LOCATIONS)
        .map(|i| {
            let label = format!("Office {i}");
            (rig.humaans.add_location(Location::new(&label, "City")), label)
        })
        .collect();
    rig.humaans.set_custom_fields_shape(CustomFieldsShape::EmbeddedByName);
    for (n, person) in rig.humaans.people().iter().enumerate() {
        let office = offices[n % LOCATIONS].0.clone();
        rig.humaans.update_person(&person.id, |p| {
            p.location_id = Some(office);
            p.custom_values.insert("T-Shirt Size".into(), SIZES[n % SIZES.len()].into());
        });
    }
    let status = done(rig.plugin.status().await).context("status")?;
    let settings = status.settings.context("the rig's tenant is configured")?;
    let extra_fields = vec![
        api::ExtraField::StartDate,
        api::ExtraField::EndDate,
        api::ExtraField::Location,
        api::ExtraField::Gender,
        api::ExtraField::Birthday,
        api::ExtraField::Custom(api::CustomField {
            humaans_field: "T-Shirt Size".into(),
            leapsome_attribute: SIZE_ATTRIBUTE.into(),
        }),
    ];
    // A scope rule every person passes, testing what a rule can read (the place of work, the work
    // email's domain, the department): its cost is each person's verdict every sync, and the
    // people must all stay in, so the accounts compared below are everyone's.
    let scope = vec![SCOPE_RULE.to_owned()];
    done(rig.plugin.configure(&api::Settings { extra_fields, scope, ..settings }).await).context("configure")?;

    progress(format!(
        "extra fields: initial sync of {employees} people, every extra field mapped, scope `{SCOPE_RULE}`"
    ));
    let initial = timed_sync(&rig).await.context("the extra-fields run's initial sync")?;
    let (accounts, accounts_exact) = accounts_exact(&rig, &offices);
    progress(format!(
        "extra fields: initial sync {:.2} s, {accounts_exact} of {accounts} accounts exact",
        initial.wall_s
    ));

    let mut runs = Vec::with_capacity(steady_syncs);
    for n in 1..=steady_syncs {
        let run = timed_sync(&rig).await.context("the extra-fields run's steady sync")?;
        progress(format!("extra fields: steady sync {n} of {steady_syncs}: {} requests", run.requests.total()));
        runs.push(run);
    }
    let steady_most_writes =
        runs.iter().map(|r| r.totals.writes.max(r.requests.scim_writes() as u64)).max().unwrap_or(0);
    let steady_walls = runs.iter().map(|r| r.wall_s).collect();
    let steady = runs.into_iter().max_by_key(|r| r.requests.total()).context("no steady sync")?;
    let floor = Floor::of(rig.humaans.people().len(), rig.humaans.seed().job_roles.len(), rig.leapsome.users().len());
    Ok(FieldsRun { initial, accounts_exact, accounts, steady, steady_syncs, steady_most_writes, steady_walls, floor })
}

/// (accounts of people in Humaans, those whose enterprise extension holds the person's place of
/// work and custom value).
fn accounts_exact(rig: &Rig, offices: &[(String, String)]) -> (usize, usize) {
    let mut accounts = 0;
    let mut exact = 0;
    for person in rig.humaans.people() {
        let Some(user) = rig.leapsome.user_by_username(&person.email) else { continue };
        accounts += 1;
        let ext = &user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        let office = offices.iter().find(|(id, _)| Some(id) == person.location_id.as_ref()).map(|(_, l)| l.as_str());
        let size = person.custom_values.get("T-Shirt Size").map(String::as_str);
        if ext["location"].as_str() == office && ext[SIZE_ATTRIBUTE].as_str() == size {
            exact += 1;
        }
    }
    (accounts, exact)
}
