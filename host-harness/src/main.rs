//! `host-harness`: the command line over the host library. Parsing in `cli.rs`; every failure
//! ends as one line on stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use host_harness::cli::{Cli, Command};
use host_harness::{bench, demo, mock_cmd, operator};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global.clone();
    let output = match cli.command {
        Command::Demo(args) => return demo::run(&global, args).await,
        Command::Mock(args) => return mock_cmd::run(args).await,
        Command::Bench(args) => return bench::run(&global, args).await,
        Command::Connect(args) => {
            let host = operator::Host::open(&global)?;
            operator::connect(&host, args).await?
        }
        Command::Configure(args) => operator::configure(&operator::Host::open(&global)?, args).await?,
        Command::SyncAll(args) => {
            let host = operator::Host::open(&global)?;
            operator::sync_all(&host.plugin()?, &args, global.json).await?
        }
        Command::Event(args) => operator::event(&operator::Host::open(&global)?, args).await?,
        Command::Tick(args) => operator::tick(&operator::Host::open(&global)?.plugin()?, args.now).await?,
        Command::Logs(args) => {
            let v = operator::logs(&operator::Host::open(&global)?.plugin()?, &args).await?;
            if !global.json {
                operator::print_logs(&v);
                return Ok(());
            }
            v
        }
    };
    if global.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        operator::print_summary(&output);
    }
    Ok(())
}
