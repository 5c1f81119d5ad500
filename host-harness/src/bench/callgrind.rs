//! `--callgrind`: one call between callgrind's markers (scripts/callgrind.sh).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use jiff::civil::Date;
use serde_json::json;

use super::common::progress;
use super::rig::{CpuDeadline, Rig};
use super::tally::sync_until_complete;
use crate::cli::CallgrindCall;
use crate::operator::done;
use crate::plugin::api;
use crate::{MemoryStorage, PoolSize, Runtime};

/// Valgrind client requests (`valgrind.h`, `callgrind.h`), x86_64 Linux only: a magic sequence
/// that does nothing on a real CPU and that valgrind's JIT recognises. Elsewhere every request
/// answers its default.
mod valgrind {
    const CALLGRIND: usize = (b'C' as usize) << 24 | (b'T' as usize) << 16;
    pub const TOGGLE_COLLECT: usize = CALLGRIND + 2;
    pub const START_INSTRUMENTATION: usize = CALLGRIND + 4;
    pub const STOP_INSTRUMENTATION: usize = CALLGRIND + 5;
    pub const RUNNING_ON_VALGRIND: usize = 0x1001;

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub fn request(code: usize) -> usize {
        let args: [usize; 6] = [code, 0, 0, 0, 0, 0];
        let mut result: usize = 0;
        // SAFETY: the rotations of rdi add up to 128 bits (rdi unchanged) and `xchg rbx, rbx`
        // changes nothing; valgrind reads `args` and writes its answer to rdx.
        unsafe {
            std::arch::asm!(
                "rol rdi, 3", "rol rdi, 13", "rol rdi, 61", "rol rdi, 51", "xchg rbx, rbx",
                in("rax") args.as_ptr(),
                inout("rdx") result,
                options(nostack),
            );
        }
        result
    }

    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    pub fn request(_code: usize) -> usize {
        0
    }
}

pub(super) async fn callgrind_run(
    component: &Path,
    cache: &Path,
    employees: usize,
    teams: usize,
    call: CallgrindCall,
    today: Date,
) -> Result<()> {
    let on_valgrind = valgrind::request(valgrind::RUNNING_ON_VALGRIND);
    // Compiling (or loading the cached compilation) happens here, outside the measured part.
    let runtime =
        Arc::new(Runtime::new(component, Some(cache), PoolSize { instances: 2, max_memory_bytes: 512 << 20 })?);
    let rig = match call {
        CallgrindCall::SteadySyncTeams => {
            Rig::start_with_teams(&runtime, employees, teams, today, "bench-callgrind", CpuDeadline::Generous).await?
        }
        CallgrindCall::SteadySync | CallgrindCall::Event => {
            let storage = Arc::new(MemoryStorage::new());
            Rig::start(&runtime, employees, today, "bench-callgrind", Some(0), storage, CpuDeadline::Generous).await?
        }
    };
    progress(format!("callgrind: initial sync of {employees} people (not measured)"));
    let initial = sync_until_complete(&rig.plugin).await?;
    if !initial.complete || initial.failed > 0 {
        bail!("the initial sync did not complete cleanly: {:?}", initial.failures);
    }
    if call == CallgrindCall::SteadySyncTeams && initial.teams == 0 {
        bail!("the initial sync kept no teams (is the teams step running?)");
    }
    // One steady sync first, so that nothing done once per process or tenant is measured.
    sync_until_complete(&rig.plugin).await?;
    let repeat: usize = std::env::var("PERF_REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    for _ in 0..repeat {
        sync_until_complete(&rig.plugin).await?;
    }
    let person = match call {
        CallgrindCall::SteadySync | CallgrindCall::SteadySyncTeams => None,
        CallgrindCall::Event => {
            let people = rig.people_with_accounts();
            let person = people.get(people.len() / 2).context("nobody has an account")?.clone();
            rig.humaans.update_person(&person.id, |p| p.last_name = format!("{}-Hopper", p.last_name));
            Some(person.id)
        }
    };
    rig.clear_journals();
    let plugin = rig.plugin.clone();
    // The measured call runs on a thread of its own with a current-thread runtime, so everything
    // it does (guest, host, the HTTP client's tasks) is on the one thread whose collection is
    // toggled; the mocks answer on the main runtime's threads, which are not collected.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let measured = || -> Result<(u32, usize)> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            valgrind::request(valgrind::START_INSTRUMENTATION);
            valgrind::request(valgrind::TOGGLE_COLLECT);
            let outcome = rt.block_on(async {
                match &person {
                    None => done(
                        plugin
                            .sync_all(api::SyncOptions {
                                dry_run: false,
                                max_writes: None,
                                approve_deprovisions: false,
                                repair_teams: false,
                                preview_settings: None,
                            })
                            .await,
                    )
                    .map(|r| (r.writes, r.changes.iter().filter(|c| c.error.is_some()).count())),
                    Some(id) => done(
                        plugin
                            .on_employee_event(&api::EmployeeEvent {
                                id: "callgrind-event".into(),
                                kind: api::EventKind::Updated,
                                person_id: id.clone(),
                                occurred_at: "2026-01-01T00:00:00Z".into(),
                            })
                            .await,
                    )
                    .map(|r| (r.changes.len() as u32, r.changes.iter().filter(|c| c.error.is_some()).count())),
                }
            });
            valgrind::request(valgrind::TOGGLE_COLLECT);
            valgrind::request(valgrind::STOP_INSTRUMENTATION);
            outcome
        };
        let _ = tx.send(measured());
    });
    let (writes, failed) = rx.await.context("the measured call's thread ended")??;
    let requests = rig.requests();
    let report = json!({
        "call": match call {
            CallgrindCall::SteadySync => "steady-sync",
            CallgrindCall::Event => "event",
            CallgrindCall::SteadySyncTeams => "steady-sync-teams",
        },
        "employees": employees,
        "teams": (call == CallgrindCall::SteadySyncTeams).then_some(teams),
        "requests": requests.total(),
        "scim_writes": requests.scim_writes(),
        "writes_or_changes": writes,
        "failed": failed,
        "on_valgrind": on_valgrind > 0,
    });
    if failed > 0 {
        bail!("the measured call failed: {report}");
    }
    println!("{report}");
    Ok(())
}
