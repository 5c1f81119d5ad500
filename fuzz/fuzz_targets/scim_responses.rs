//! SCIM responses as the component reads them: listing (paging on the server's `totalResults`),
//! lookup by userName (filters, fallbacks), create, token check, and a single user's shapes.
#![no_main]

use humaans_leapsome::client::Client;
use humaans_leapsome::error::Service;
use humaans_leapsome::reconcile::remote::parse_user;
use humaans_leapsome::scim;
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = parse_user(&value);
    }
    let client = || Client::new(Service::Scim, "https://scim.example/scim/v1", "token");
    let mut t = common::Scripted::from_bytes(data);
    let _ = scim::all_users(&mut client(), &mut t);
    let mut t = common::Scripted::from_bytes(data);
    let _ = scim::find_by_user_name(&mut client(), &mut t, "ada@example.com");
    let mut t = common::Scripted::from_bytes(data);
    let _ = scim::create(&mut client(), &mut t, serde_json::json!({"userName": "ada@example.com"}));
    let mut t = common::Scripted::from_bytes(data);
    let _ = scim::verify_token(&mut client(), &mut t);
});
