//! Humaans responses as the component reads them: paged lists of people and job roles, one
//! person, a person's roles, the company, the token and its scopes.
#![no_main]

use humaans_leapsome::client::Client;
use humaans_leapsome::error::Service;
use humaans_leapsome::humaans;
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let client = || Client::new(Service::Humaans, "https://app.humaans.io/api", "token");
    let run = |f: &dyn Fn(&mut Client, &mut common::Scripted)| {
        let mut t = common::Scripted::from_bytes(data);
        f(&mut client(), &mut t);
    };
    run(&|c, t| drop(humaans::all_people(c, t, true)));
    run(&|c, t| drop(humaans::all_job_roles(c, t)));
    run(&|c, t| drop(humaans::person(c, t, "p1")));
    run(&|c, t| drop(humaans::job_roles_of(c, t, "p1")));
    run(&|c, t| drop(humaans::company_name(c, t, None)));
    run(&|c, t| drop(humaans::verify_token(c, t)));
    run(&|c, t| drop(humaans::private_read_scope(c, t)));
});
