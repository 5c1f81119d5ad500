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
    // A command that ran the tenant (and may have raised or ended an incident) checks for
    // notifications once its answer is printed, whether the run succeeded or not.
    let mut ran: Option<operator::Host> = None;
    // How a successful answer is shown without --json.
    let mut printer: fn(&serde_json::Value) -> std::io::Result<()> = operator::print_summary;
    let output = match cli.command {
        Command::Demo(args) => return demo::run(&global, args).await,
        Command::Mock(args) => return mock_cmd::run(args).await,
        Command::Bench(args) => return bench::run(&global, args).await,
        Command::RotateKey(args) => operator::rotate_key(&host, &args.new_key_file),
        Command::Serve(args) => return serve::run(&host, args.into()).await,
        Command::Connect(args) => {
            let host = ran.insert(operator::Host::open(&host)?);
            operator::connect(host, args.into()).await
        }
        Command::Configure(args) => configure(&operator::Host::open(&host)?, &args).await,
        // Commands that write take the tenant's lease (`Host::leased_plugin`), held to the end.
        Command::SyncAll(args) if args.dry_run => {
            // A plan writes nothing: like serve's, it needs no lease.
            operator::sync_all(&operator::Host::open(&host)?.plugin()?, &(&args).into(), global.json).await
        }
        Command::SyncAll(args) => {
            let host = ran.insert(operator::Host::open(&host)?);
            let (plugin, _lease) = host.leased_plugin().await?;
            operator::sync_all(&plugin, &(&args).into(), global.json).await
        }
        Command::Event(args) => {
            let host = ran.insert(operator::Host::open(&host)?);
            operator::event(host, args.kind.into(), args.person, args.id).await
        }
        Command::Tick(args) => {
            let host = ran.insert(operator::Host::open(&host)?);
            let (plugin, _lease) = host.leased_plugin().await?;
            operator::tick(&plugin, args.now).await
        }
        Command::Status => operator::status_with_inbox(&operator::Host::open(&host)?).await,
        Command::Approve(args) => {
            let host = ran.insert(operator::Host::open(&host)?);
            let (plugin, _lease) = host.leased_plugin().await?;
            operator::approve(&plugin, args.person.as_deref()).await
        }
        Command::Provision(args) if args.dry_run => {
            // A dry run writes nothing: like `sync-all --dry-run`, it needs no lease.
            printer = operator::provision::print_trace;
            operator::provision::provision(&operator::Host::open(&host)?.plugin()?, &args.person, true).await
        }
        Command::Provision(args) => {
            printer = operator::provision::print_trace;
            let host = ran.insert(operator::Host::open(&host)?);
            let (plugin, _lease) = host.leased_plugin().await?;
            operator::provision::provision(&plugin, &args.person, false).await
        }
        Command::Retry(args) => match (&args.event, &args.person) {
            (Some(event), _) => operator::retry_event(&host, event),
            (None, person) => {
                let host = ran.insert(operator::Host::open(&host)?);
                let (plugin, _lease) = host.leased_plugin().await?;
                operator::retry(&plugin, person.as_deref().unwrap_or_default()).await
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
    let printed = match &output {
        Ok(output) if global.json => operator::out(&format!("{}\n", serde_json::to_string_pretty(output)?)),
        Ok(output) => printer(output),
        Err(_) => Ok(()),
    };
    if let Some(host) = &ran {
        for warning in operator::notify::after_command(host).await {
            eprintln!("warning: {warning}");
        }
    }
    printed?;
    output.map(drop)
}

/// `configure`: the component's settings, the host's notification settings, or both.
async fn configure(
    host: &operator::Host,
    args: &host_harness::cli::ConfigureArgs,
) -> anyhow::Result<serde_json::Value> {
    let settings: operator::SettingsChange = args.try_into().map_err(anyhow::Error::msg)?;
    let notifications: operator::notify::NotifyChange = args.into();
    if args.dry_run {
        if !notifications.is_empty() {
            anyhow::bail!(
                "--dry-run previews the integration's settings; notification settings take effect when given"
            );
        }
        return operator::preview_configure(host, &settings).await;
    }
    let mut shown = if settings.is_empty() && !notifications.is_empty() {
        serde_json::json!({"configured": true})
    } else {
        operator::configure(host, settings).await?
    };
    if !notifications.is_empty() {
        shown["notifications"] = operator::notify::configure_tenant(host, &notifications)?;
    }
    Ok(shown)
}
