//! One tenant's mocks for the scale-out runs.

use anyhow::{Context, Result};

use mock_servers::humaans::{HumaansConfig, JobRole, MockHumaans, Person};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

/// People in each tenant of the scale-out runs.
pub(super) const PEOPLE: usize = 100;

/// One tenant's mocks: `PEOPLE` active people, each with a job role.
pub(super) async fn org(people: usize) -> Result<(MockHumaans, MockLeapsome, Vec<String>)> {
    let humaans = MockHumaans::start(HumaansConfig::default()).await.context("cannot start mock Humaans")?;
    let leapsome = MockLeapsome::start(LeapsomeConfig::default()).await.context("cannot start mock Leapsome")?;
    let ids = (0..people)
        .map(|i| {
            let id = humaans.add_person(Person::new("Person", &format!("Number{i}"), &format!("p{i}@acme.test")));
            humaans.add_job_role(JobRole::new(&id, "Engineer", "Engineering", None, "2024-01-01"));
            id
        })
        .collect();
    Ok((humaans, leapsome, ids))
}
