//! `host-harness`: the command line over the host library. Parsing in `cli.rs`; every failure
//! ends as one line on stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use host_harness::cli::{Cli, Command};
use host_harness::{bench, demo, mock_cmd, operator, serve};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`host-harness logs | head`): nothing left to say.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout with exit code 0. A usage error becomes one line on stderr: clap's
/// own report spans several (the cause, tips that may echo an argument, the usage).
fn usage_error(e: clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let cause = if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        "a subcommand is required".to_owned()
    } else {
        let text = e.render().to_string();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .take_while(|l| !l.starts_with("Usage:"))
            .filter(|l| !l.is_empty() && !l.starts_with("tip:") && !l.starts_with("For more information"))
            .collect();
        lines.join(" ").trim_start_matches("error: ").to_owned()
    };
    eprintln!("error: {cause} (see --help)");
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global.clone();
    let host = global.host_config();
    let output = match cli.command {
        Command::Demo(args) => return demo::run(&global, args).await,
        Command::Mock(args) => return mock_cmd::run(args).await,
        Command::Bench(args) => return bench::run(&global, args).await,
        Command::RotateKey(args) => operator::rotate_key(&host, &args.new_key_file)?,
        Command::Serve(args) => return serve::run(&host, args.into()).await,
        Command::Connect(args) => {
            let host = operator::Host::open(&host)?;
            operator::connect(&host, args.into()).await?
        }
        Command::Configure(args) => operator::configure(&operator::Host::open(&host)?, (&args).into()).await?,
        // Commands that write take the tenant's lease (`Host::leased_plugin`), held to the end.
        Command::SyncAll(args) if args.dry_run => {
            // A plan writes nothing: like serve's, it needs no lease.
            operator::sync_all(&operator::Host::open(&host)?.plugin()?, &(&args).into(), global.json).await?
        }
        Command::SyncAll(args) => {
            let (plugin, _lease) = operator::Host::open(&host)?.leased_plugin().await?;
            operator::sync_all(&plugin, &(&args).into(), global.json).await?
        }
        Command::Event(args) => {
            operator::event(&operator::Host::open(&host)?, args.kind.into(), args.person, args.id).await?
        }
        Command::Tick(args) => {
            let (plugin, _lease) = operator::Host::open(&host)?.leased_plugin().await?;
            operator::tick(&plugin, args.now).await?
        }
        Command::Status => operator::status_with_inbox(&operator::Host::open(&host)?).await?,
        Command::Approve(args) => {
            let (plugin, _lease) = operator::Host::open(&host)?.leased_plugin().await?;
            operator::approve(&plugin, args.person.as_deref()).await?
        }
        Command::Retry(args) => match (&args.event, &args.person) {
            (Some(event), _) => operator::retry_event(&host, event)?,
            (None, person) => {
                let (plugin, _lease) = operator::Host::open(&host)?.leased_plugin().await?;
                operator::retry(&plugin, person.as_deref().unwrap_or_default()).await?
            }
        },
        Command::Logs(args) => {
            use operator::logs::{self, LogsFormat};
            let query: operator::LogsQuery = (&args).into();
            let entries = logs::read_entries(&operator::Host::open(&host)?.plugin()?, &query).await?;
            let json = || serde_json::json!({"entries": entries.iter().map(logs::log_json).collect::<Vec<_>>()});
            match args.format.unwrap_or(if global.json { LogsFormat::Json } else { LogsFormat::Table }) {
                LogsFormat::Table => operator::print_logs(&json())?,
                LogsFormat::Json => operator::out(&format!("{}\n", serde_json::to_string_pretty(&json())?))?,
                LogsFormat::Csv => operator::out(&logs::csv(&entries))?,
                LogsFormat::Jsonl => operator::out(&logs::jsonl(&entries))?,
            }
            return Ok(());
        }
    };
    if global.json {
        operator::out(&format!("{}\n", serde_json::to_string_pretty(&output)?))?;
    } else {
        operator::print_summary(&output)?;
    }
    Ok(())
}
