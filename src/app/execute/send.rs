//! Writes sent a batch at a time, within the call's time and the host's quota of requests.

use crate::client::{Call, Reply};
use crate::error::AppError;

use super::super::{Env, Session};
use super::Subject;

/// Writes sent per batch: bounds the replies held in memory at once.
const WRITE_BATCH: usize = 256;

/// Sends `work` a batch at a time: `build` makes each call (and what it is for) just before its
/// batch goes, so request bodies and replies (a created user each) never pile up for a whole
/// organisation; `handle` gets each reply in order.
pub(super) fn send_batched<W, M>(
    session: &mut Session,
    env: &mut Env,
    subjects: &mut [Subject],
    work: Vec<W>,
    build: impl Fn(&[Subject], W) -> (Call, M),
    mut handle: impl FnMut(&mut Session, &mut Env, &mut [Subject], M, Result<Reply, AppError>) -> Result<(), AppError>,
) -> Result<u32, AppError> {
    let mut work = work.into_iter();
    loop {
        if work.len() > 0 && session.sent_writes && session.out_of_time(env) {
            // Left to the next call (reported as not complete).
            return Ok(work.len() as u32);
        }
        let (calls, purposes): (Vec<Call>, Vec<M>) =
            work.by_ref().take(WRITE_BATCH).map(|w| build(subjects, w)).unzip();
        if calls.is_empty() {
            return Ok(0);
        }
        session.sent_writes = true;
        let mut denied = 0;
        for (result, purpose) in session.scim.send_all(env.http, calls).into_iter().zip(purposes) {
            match result {
                // The host sends no more requests in this call (its quota per call): nothing was
                // sent, and it is nobody's failure. Left to the next call, like the rest.
                Err(e) if crate::client::is_denied(&e) => denied += 1,
                result => handle(session, env, subjects, purpose, result)?,
            }
        }
        if denied > 0 {
            return Ok(denied + work.len() as u32);
        }
    }
}
