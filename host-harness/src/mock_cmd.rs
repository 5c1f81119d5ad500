//! `host-harness mock`: the mocks, standalone, for trying the operator commands by hand.

use std::net::SocketAddr;

use anyhow::{Context, Result};

use crate::cli::MockArgs;
use mock_servers::humaans::{HumaansConfig, HumaansSeed, MockHumaans};
use mock_servers::leapsome::{LeapsomeConfig, MockLeapsome};

pub async fn run(args: MockArgs) -> Result<()> {
    let seed: HumaansSeed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the seed file {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| {
                format!("{} is not a Humaans seed (JSON {{company, people, jobRoles}})", path.display())
            })?
        }
        None => mock_servers::org::generate_org(
            args.employees,
            2026,
            &jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string(),
        ),
    };
    let people = seed.people.len();
    let humaans =
        MockHumaans::start_on(HumaansConfig::default(), SocketAddr::from(([127, 0, 0, 1], args.humaans_port)))
            .await
            .with_context(|| format!("cannot listen on port {}", args.humaans_port))?;
    humaans.load_seed(seed);
    let config = if args.rfc_strict { LeapsomeConfig::rfc_strict() } else { LeapsomeConfig::default() };
    let leapsome = MockLeapsome::start_on(config, SocketAddr::from(([127, 0, 0, 1], args.scim_port)))
        .await
        .with_context(|| format!("cannot listen on port {}", args.scim_port))?;
    if let Some(n) = args.rate_limit {
        leapsome.control().set_rate_limit(Some(n), Some(1));
    }
    println!(
        "mock Humaans:  {}  ({people} people; token: {})",
        humaans.base_url(),
        mock_servers::humaans::DEFAULT_TOKEN
    );
    println!("mock Leapsome: {}  (token: scim-test-token; email domain acme.test)", leapsome.base_url());
    println!(
        "connect with:\n  HUMAANS_TOKEN={} LEAPSOME_SCIM_TOKEN=scim-test-token host-harness connect --humaans-url {} --scim-url {}",
        mock_servers::humaans::DEFAULT_TOKEN,
        humaans.base_url(),
        leapsome.base_url()
    );
    println!("Ctrl-C stops.");
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    Ok(())
}
