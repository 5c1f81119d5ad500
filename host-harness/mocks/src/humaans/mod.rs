//! A mock of the Humaans REST API (`shared/reference/humaans-api.md`): the read endpoints a
//! provisioning client needs, over real HTTP on loopback, with bearer tokens and scopes,
//! Feathers-style lists and errors, and an in-memory organisation tests can change while a
//! client is running.
//!
//! Routes (all `GET`, under `/api`): `/me`, `/token-info`, `/people`, `/people/:id`,
//! `/job-roles` (also `$asOf=YYYY-MM-DD`), `/job-roles/:id`, `/companies`, `/companies/:id`,
//! `/locations(/:id)`, `/custom-fields(/:id)`, `/custom-values(/:id)` (custom fields in the shape
//! `Behaviour::custom_fields` says: the reference leaves it open).
//! Other methods on these routes answer 405, other paths 404, both as Feathers errors. Facts the
//! reference leaves open (page sizes, what `public:read` hides) are settings in [`Behaviour`].
//!
//! Each module uses only the ones before it (no import circles): `dates`, `json`, `query` →
//! `model` (the records) → `config` (tokens and `Behaviour`), `store` → `api` (the routes) → this
//! file (`MockHumaans`); `webhook` uses `dates` only.

mod api;
mod config;
pub mod dates;
mod json;
mod model;
mod query;
mod store;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use model::{
    Company, JobRole, Location, Person, STATUS_ACTIVE, STATUS_NEW_HIRE, STATUS_OFFBOARDED, Team, WorkingDay, id_from,
    new_id, splitmix64,
};

use crate::server::{Control, RunningServer, serve};
use api::{Api, Settings, embedded_custom_fields};
pub use config::{ApiToken, Behaviour, CustomFieldsShape, DEFAULT_TOKEN, HumaansConfig, Select};
use dates::now_timestamp;
use store::Store;

/// Everything the mock holds, in list order: to save an organisation and load it again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HumaansSeed {
    pub company: Company,
    pub people: Vec<Person>,
    pub job_roles: Vec<JobRole>,
}

/// A running mock Humaans API. Dropping it stops the server.
pub struct MockHumaans {
    server: RunningServer,
    api: Arc<Api>,
}

impl MockHumaans {
    /// Starts on an ephemeral loopback port.
    pub async fn start(config: HumaansConfig) -> std::io::Result<MockHumaans> {
        MockHumaans::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(config: HumaansConfig, addr: SocketAddr) -> std::io::Result<MockHumaans> {
        let settings = Settings { tokens: config.tokens, behaviour: config.behaviour };
        let api = Arc::new(Api::new(settings, Store::new(config.company)));
        let server = serve(api.clone(), addr).await?;
        Ok(MockHumaans { server, api })
    }

    /// `http://127.0.0.1:PORT/api`
    pub fn base_url(&self) -> String {
        format!("{}/api", self.server.base_url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The journal, scripted faults and rate limit.
    pub fn control(&self) -> &Control {
        &self.server.control
    }

    pub fn add_token(&self, token: ApiToken) {
        self.api.settings.write().unwrap().tokens.push(token);
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.api.settings.write().unwrap().behaviour = behaviour;
        self.embed_custom_fields();
    }

    fn custom_fields_shape(&self) -> CustomFieldsShape {
        self.api.settings.read().unwrap().behaviour.custom_fields
    }

    /// Every person's served `customFields` again, after the shape changed.
    fn embed_custom_fields(&self) {
        let shape = self.custom_fields_shape();
        let mut store = self.api.store.write().unwrap();
        for person in store.people_mut() {
            person.custom_fields = embedded_custom_fields(person, shape);
        }
    }

    pub fn company(&self) -> Company {
        self.api.store.read().unwrap().company.clone()
    }

    /// Adds a place of work (`/api/locations`) and returns its id (filled in when empty).
    pub fn add_location(&self, mut location: Location) -> String {
        let mut store = self.api.store.write().unwrap();
        if location.id.is_empty() {
            location.id = new_id();
        }
        location.company_id = store.company.id.clone();
        let id = location.id.clone();
        store.locations.push(location);
        id
    }

    /// Sets (or, with `None`, removes) a person's value of a custom field, by the field's name.
    pub fn set_custom_value(&self, person_id: &str, field: &str, value: Option<&str>) {
        self.update_person(person_id, |p| match value {
            Some(v) => {
                p.custom_values.insert(field.to_owned(), v.to_owned());
            }
            None => {
                p.custom_values.remove(field);
            }
        });
    }

    /// Where custom field values are served (see [`CustomFieldsShape`]).
    pub fn set_custom_fields_shape(&self, shape: CustomFieldsShape) {
        self.api.settings.write().unwrap().behaviour.custom_fields = shape;
        self.embed_custom_fields();
    }

    pub fn set_company_name(&self, name: &str) {
        let mut store = self.api.store.write().unwrap();
        store.company.name = name.into();
        store.company.updated_at = now_timestamp();
    }

    /// Adds a person (or replaces the one with the same id, keeping its place in the list) and
    /// returns the id. An empty id or company id is filled in, as is an empty `createdAt`;
    /// `updatedAt` is set to now.
    pub fn add_person(&self, mut person: Person) -> String {
        let shape = self.custom_fields_shape();
        let mut store = self.api.store.write().unwrap();
        normalise_person(&mut person, &store.company.id);
        person.custom_fields = embedded_custom_fields(&person, shape);
        person.updated_at = now_timestamp();
        let id = person.id.clone();
        store.put_person(person);
        id
    }

    /// Changes a person in place and bumps `updatedAt`. Panics on an unknown id, or if `change`
    /// alters the id (add a new person instead).
    pub fn update_person(&self, id: &str, change: impl FnOnce(&mut Person)) {
        let shape = self.custom_fields_shape();
        let mut store = self.api.store.write().unwrap();
        let person = store.person_mut(id).unwrap_or_else(|| panic!("no person with id {id:?}"));
        change(person);
        person.custom_fields = embedded_custom_fields(person, shape);
        assert_eq!(person.id, id, "update_person must not change the id");
        person.updated_at = now_timestamp();
    }

    /// Marks a person offboarded, leaving on `last_working_day` (`YYYY-MM-DD`), which becomes
    /// both `lastWorkingDay` and `employmentEndDate`. Their job roles are left as they are.
    pub fn offboard(&self, id: &str, last_working_day: &str) {
        self.update_person(id, |p| {
            p.status = STATUS_OFFBOARDED.into();
            p.last_working_day = Some(last_working_day.into());
            p.employment_end_date = Some(last_working_day.into());
        });
    }

    /// Deletes a person and their job roles; nothing happens for an unknown id. Roles of other
    /// people that report to them keep pointing at the deleted id, as they would in Humaans
    /// until someone reassigns them.
    pub fn delete_person(&self, id: &str) {
        self.api.store.write().unwrap().remove_person(id);
    }

    pub fn person(&self, id: &str) -> Option<Person> {
        self.api.store.read().unwrap().person(id).cloned()
    }

    /// Everyone, in list order.
    pub fn people(&self) -> Vec<Person> {
        self.api.store.read().unwrap().people().to_vec()
    }

    /// Adds a job role (or replaces the one with the same id) and returns the id. Empty id,
    /// company id and `createdAt` are filled in; `updatedAt` is set to now.
    pub fn add_job_role(&self, mut role: JobRole) -> String {
        let mut store = self.api.store.write().unwrap();
        normalise_role(&mut role, &store.company.id);
        role.updated_at = now_timestamp();
        let id = role.id.clone();
        store.put_role(role);
        id
    }

    /// Sets a role's `endDate` and bumps its `updatedAt`. Panics on an unknown id.
    pub fn end_job_role(&self, id: &str, end_date: &str) {
        let mut store = self.api.store.write().unwrap();
        let role = store.role_mut(id).unwrap_or_else(|| panic!("no job role with id {id:?}"));
        role.end_date = Some(end_date.into());
        role.updated_at = now_timestamp();
    }

    /// A person's job roles, in the order they were added.
    pub fn job_roles_of(&self, person_id: &str) -> Vec<JobRole> {
        self.api.store.read().unwrap().roles_of(person_id).cloned().collect()
    }

    /// Replaces the company, people and job roles with the seed's. Timestamps are kept (empty
    /// ones are set to now), so a saved organisation loads back unchanged.
    pub fn load_seed(&self, seed: HumaansSeed) {
        let shape = self.custom_fields_shape();
        let mut store = self.api.store.write().unwrap();
        let mut company = seed.company;
        if company.id.is_empty() {
            company.id = new_id();
        }
        let company_id = company.id.clone();
        store.reset(company);
        for mut person in seed.people {
            normalise_person(&mut person, &company_id);
            person.custom_fields = embedded_custom_fields(&person, shape);
            if person.updated_at.is_empty() {
                person.updated_at = person.created_at.clone();
            }
            store.put_person(person);
        }
        for mut role in seed.job_roles {
            normalise_role(&mut role, &company_id);
            if role.updated_at.is_empty() {
                role.updated_at = role.created_at.clone();
            }
            store.put_role(role);
        }
    }

    pub fn seed(&self) -> HumaansSeed {
        let store = self.api.store.read().unwrap();
        HumaansSeed {
            company: store.company.clone(),
            people: store.people().to_vec(),
            job_roles: store.roles().to_vec(),
        }
    }
}

fn normalise_person(person: &mut Person, company_id: &str) {
    if person.id.is_empty() {
        person.id = new_id();
    }
    if person.company_id.is_empty() {
        person.company_id = company_id.into();
    }
    if person.created_at.is_empty() {
        person.created_at = now_timestamp();
    }
}

fn normalise_role(role: &mut JobRole, company_id: &str) {
    if role.id.is_empty() {
        role.id = new_id();
    }
    if role.company_id.is_empty() {
        role.company_id = company_id.into();
    }
    if role.created_at.is_empty() {
        role.created_at = now_timestamp();
    }
}
