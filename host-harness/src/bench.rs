//! `host-harness bench` (being written).
use anyhow::Result;

pub async fn run(_global: &crate::cli::Global, _args: crate::cli::BenchArgs) -> Result<()> {
    anyhow::bail!("the benchmark is not implemented yet")
}
