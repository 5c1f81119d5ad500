//! Extra fields (issue 24): start date, end date, place of work, gender, birthday and Humaans
//! custom fields written to Leapsome's enterprise-extension keys, in both dialects, through the
//! real component against the mocks. A field no longer mapped is left as Leapsome holds it; after a
//! mapping change each affected account is written once, then nothing. Gender and birthday are
//! personal data: never in a log entry, a change names the key only.

use crate::support::*;
use host_harness::TenantPlugin;
use host_harness::api::{self, Dialect, EventKind};
use mock_servers::humaans::{CustomFieldsShape, Location};
use mock_servers::leapsome::LeapsomeConfig;
use serde_json::{Value, json};

const SIZE_ATTRIBUTE: &str = "6140868326541a4da586db0b";

fn custom(field: &str, attribute: &str) -> api::ExtraField {
    api::ExtraField::Custom(api::CustomField { humaans_field: field.into(), leapsome_attribute: attribute.into() })
}

fn every_extra_field() -> Vec<api::ExtraField> {
    vec![
        api::ExtraField::StartDate,
        api::ExtraField::EndDate,
        api::ExtraField::Location,
        api::ExtraField::Gender,
        api::ExtraField::Birthday,
        custom("T-Shirt Size", SIZE_ATTRIBUTE),
    ]
}

fn with_fields(dialect: Dialect, extra_fields: Vec<api::ExtraField>) -> api::Settings {
    api::Settings { extra_fields, ..all_on(dialect) }
}

/// Ada (Berlin, female, a birthday, size M), Bob (London, "Prefer not to say", size L) and Cy
/// (nothing extra). Returns their ids.
fn organisation(rig: &Rig) -> [String; 3] {
    let berlin = rig.humaans.add_location(Location::new("Berlin HQ", "Berlin"));
    // A place of work with no label: its name is read instead (the shape is not documented).
    let london = rig.humaans.add_location(Location {
        name: Some("London Office".into()),
        city: Some("London".into()),
        ..Location::default()
    });
    let ada = hire(rig, "Ada", "Lovelace", "Engineer", "Engineering", None);
    rig.humaans.update_person(&ada, |p| {
        p.location_id = Some(berlin.clone());
        p.gender = Some("Female".into());
        p.birthday = Some("1989-07-28".into());
        p.employment_end_date = Some("2027-06-30".into());
    });
    rig.humaans.set_custom_value(&ada, "T-Shirt Size", Some("M"));
    let bob = hire(rig, "Bob", "Babbage", "Engineer", "Engineering", None);
    rig.humaans.update_person(&bob, |p| {
        p.location_id = Some(london.clone());
        p.gender = Some("Prefer not to say".into());
    });
    rig.humaans.set_custom_value(&bob, "t-shirt size", Some("L"));
    let cy = hire(rig, "Cy", "Clerk", "Engineer", "Engineering", None);
    [ada, bob, cy]
}

/// The enterprise extension of the account with this userName.
fn extension(rig: &Rig, email: &str) -> Value {
    let user = rig.leapsome.user_by_username(email).unwrap_or_else(|| panic!("no account for {email}"));
    user.get(ENTERPRISE).cloned().unwrap_or(Value::Null)
}

/// The extension's keys among the extra fields' (and the custom attribute's), with their values.
fn extras_of(rig: &Rig, email: &str) -> Value {
    let ext = extension(rig, email);
    let keys = ["startDate", "endDate", "location", "gender", "birthday", SIZE_ATTRIBUTE];
    Value::Object(keys.iter().filter_map(|k| Some(((*k).to_owned(), ext.get(*k)?.clone()))).collect())
}

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A request straight to the SCIM mock, as an admin editing Leapsome by hand would make.
async fn by_hand(rig: &Rig, method: &str, path: &str, body: Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let base = rig.leapsome.base_url();
    let authority = base.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let request = format!(
        "{method} /scim/v1{path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {SCIM_TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Humaans requests since the journal was cleared, as `path?query`.
fn humaans_requests(rig: &Rig) -> Vec<String> {
    rig.humaans.control().journal().iter().map(|e| format!("{}?{}", e.path, e.query)).collect()
}

async fn sync(plugin: &TenantPlugin) -> api::SyncReport {
    sync_ok(plugin, false, None).await
}

async fn every_field_is_written_once_and_compared_after(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let [ada, _bob, _cy] = organisation(&rig);
    let plugin = rig.connected("t", with_fields(dialect, every_extra_field())).await;
    let first = sync(&plugin).await;
    assert_eq!((first.created, first.failed), (3, 0), "{first:?}");
    assert_eq!(
        extras_of(&rig, "ada.lovelace@acme.test"),
        json!({"startDate": "2024-01-01", "endDate": "2027-06-30", "location": "Berlin HQ", "gender": "female",
            "birthday": "1989-07-28", SIZE_ATTRIBUTE: "M"})
    );
    // "Prefer not to say" is no gender Leapsome names: none is written. The custom field's name
    // is matched in any case.
    assert_eq!(
        extras_of(&rig, "bob.babbage@acme.test"),
        json!({"startDate": "2024-01-01", "location": "London Office", SIZE_ATTRIBUTE: "L"})
    );
    assert_eq!(extras_of(&rig, "cy.clerk@acme.test"), json!({"startDate": "2024-01-01"}));

    // Steady: nothing written; Humaans' places of work read once, people asked for the fields.
    clear_journals(&rig);
    let steady = sync(&plugin).await;
    assert_eq!((steady.writes, steady.updated), (0, 0), "{steady:?}");
    let reads = humaans_requests(&rig);
    assert_eq!(reads.iter().filter(|r| r.starts_with("/api/locations")).count(), 1, "{reads:?}");
    let people = reads.iter().find(|r| r.starts_with("/api/people?")).expect("people listed");
    for field in ["locationId", "gender", "birthday", "customFields"] {
        assert!(people.contains(&format!("={field}")), "{field} asked for: {people}");
    }

    // Drift made by hand in Leapsome is repaired, once.
    let id = scim_id(&rig, "ada.lovelace@acme.test");
    let edit = match dialect {
        Dialect::Leapsome => json!({"schemas": [CORE, ENTERPRISE], "userName": "ada.lovelace@acme.test",
            ENTERPRISE: {"location": "Paris", SIZE_ATTRIBUTE: "XXL"}}),
        Dialect::Rfc7644 => json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "replace", "path": format!("{ENTERPRISE}:location"), "value": "Paris"},
            {"op": "replace", "path": format!("{ENTERPRISE}:{SIZE_ATTRIBUTE}"), "value": "XXL"}]}),
    };
    assert_eq!(by_hand(&rig, "PATCH", &format!("/Users/{id}"), edit).await, 200);
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test")["location"], "Paris", "edited by hand");
    clear_journals(&rig);
    let repaired = sync(&plugin).await;
    assert_eq!((repaired.updated, repaired.writes), (1, 1), "{repaired:?}");
    let change = repaired.changes.iter().find(|c| c.person_id == ada).expect("Ada's change");
    assert_eq!(change.attributes, ["location", "customAttributes"]);
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test")["location"], "Berlin HQ");
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test")[SIZE_ATTRIBUTE], "M");
    assert_eq!(sync(&plugin).await.writes, 0);
}

async fn a_mapping_change_writes_each_affected_account_once_then_nothing(dialect: Dialect, config: LeapsomeConfig) {
    let rig = Rig::with_leapsome(config).await;
    let [ada, bob, _cy] = organisation(&rig);
    let plugin = rig.connected("t", all_on(dialect)).await;
    assert_eq!(sync(&plugin).await.created, 3);
    // Off by default: nothing extra read or written.
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test"), json!({}));

    // Gender and place of work mapped: Ada and Bob hold one of them (Cy none): two writes.
    plugin
        .configure(&with_fields(dialect, vec![api::ExtraField::Gender, api::ExtraField::Location]))
        .await
        .unwrap()
        .expect("configures");
    clear_journals(&rig);
    let changed = sync(&plugin).await;
    assert_eq!((changed.updated, changed.writes), (2, 2), "{changed:?}");
    let mut touched: Vec<_> = changed.changes.iter().map(|c| (c.person_id.clone(), c.attributes.clone())).collect();
    touched.sort();
    let mut expected = vec![
        (ada.clone(), vec!["location".to_owned(), "gender".to_owned()]),
        (bob.clone(), vec!["location".to_owned()]),
    ];
    expected.sort();
    assert_eq!(touched, expected);
    assert_eq!(sync(&plugin).await.writes, 0, "then nothing");

    // No longer mapped: left as Leapsome holds it, nothing written, even as Humaans changes.
    plugin.configure(&with_fields(dialect, vec![api::ExtraField::Location])).await.unwrap().expect("configures");
    rig.humaans.update_person(&ada, |p| p.gender = Some("Male".into()));
    assert_eq!(sync(&plugin).await.writes, 0);
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test"), json!({"location": "Berlin HQ", "gender": "female"}));

    // Still mapped, changed in Humaans: written by an event too (one place of work read).
    let paris = rig.humaans.add_location(Location::new("Paris", "Paris"));
    rig.humaans.update_person(&ada, |p| p.location_id = Some(paris.clone()));
    clear_journals(&rig);
    let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
    assert_eq!(outcome.changes.len(), 1, "{outcome:?}");
    assert_eq!(outcome.changes[0].attributes, ["location"]);
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test")["location"], "Paris");
    let reads = humaans_requests(&rig);
    assert!(reads.contains(&format!("/api/locations/{paris}?")), "{reads:?}");
    assert_no_full_reads(&rig);
    assert!(!reads.iter().any(|r| r.starts_with("/api/locations?")), "{reads:?}");

    // `none`: nothing extra, nothing cleared.
    plugin.configure(&all_on(dialect)).await.unwrap().expect("configures");
    clear_journals(&rig);
    assert_eq!(sync(&plugin).await.writes, 0);
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test"), json!({"location": "Paris", "gender": "female"}));
    assert!(!humaans_requests(&rig).iter().any(|r| r.contains("locations")), "no place of work read when unmapped");
}

in_both_dialects!(
    every_field_is_written_once_and_compared_after,
    a_mapping_change_writes_each_affected_account_once_then_nothing
);

/// Each plausible shape of Humaans' custom fields reads the same values; with none answering,
/// the mapped attribute is left alone rather than cleared.
#[tokio::test]
async fn custom_fields_are_read_in_every_shape_the_mock_can_serve() {
    for shape in [
        CustomFieldsShape::Endpoints,
        CustomFieldsShape::EmbeddedByName,
        CustomFieldsShape::EmbeddedById,
        CustomFieldsShape::EmbeddedObject,
    ] {
        let rig = Rig::start().await;
        rig.humaans.set_custom_fields_shape(shape);
        let [ada, bob, _cy] = organisation(&rig);
        let plugin =
            rig.connected("t", with_fields(Dialect::Leapsome, vec![custom("T-Shirt Size", SIZE_ATTRIBUTE)])).await;
        let first = sync(&plugin).await;
        assert_eq!(first.created, 3, "{shape:?}: {first:?}");
        assert_eq!(extras_of(&rig, "ada.lovelace@acme.test"), json!({SIZE_ATTRIBUTE: "M"}), "{shape:?}");
        assert_eq!(extras_of(&rig, "bob.babbage@acme.test"), json!({SIZE_ATTRIBUTE: "L"}), "{shape:?}");
        assert_eq!(extras_of(&rig, "cy.clerk@acme.test"), json!({}), "{shape:?}");
        clear_journals(&rig);
        assert_eq!(sync(&plugin).await.writes, 0, "{shape:?}");
        let reads = humaans_requests(&rig);
        let endpoint_reads = reads.iter().filter(|r| r.starts_with("/api/custom-")).count();
        let expected = match shape {
            CustomFieldsShape::Endpoints => 2,
            CustomFieldsShape::EmbeddedById => 1,
            _ => 0,
        };
        assert_eq!(endpoint_reads, expected, "{shape:?}: {reads:?}");

        // A value removed in Humaans is cleared; an event reads one person's values.
        rig.humaans.set_custom_value(&bob, "t-shirt size", None);
        rig.humaans.set_custom_value(&ada, "T-Shirt Size", Some("S"));
        assert_eq!(sync(&plugin).await.writes, 2, "{shape:?}");
        assert_eq!(extras_of(&rig, "bob.babbage@acme.test"), json!({}), "{shape:?}");
        rig.humaans.set_custom_value(&ada, "T-Shirt Size", Some("XL"));
        clear_journals(&rig);
        let outcome = event_ok(&plugin, EventKind::Updated, &ada).await;
        assert_eq!(outcome.changes.len(), 1, "{shape:?}: {outcome:?}");
        assert_eq!(extras_of(&rig, "ada.lovelace@acme.test"), json!({SIZE_ATTRIBUTE: "XL"}), "{shape:?}");
        assert_no_full_reads(&rig);
        if shape == CustomFieldsShape::Endpoints {
            let reads = humaans_requests(&rig);
            assert!(reads.iter().any(|r| r.starts_with(&format!("/api/custom-values?personId={ada}&"))), "{reads:?}");
        }
    }

    // No source answers (the endpoints 404, nothing embedded): Leapsome's value is kept.
    let rig = Rig::start().await;
    let [ada, _bob, _cy] = organisation(&rig);
    let plugin = rig.connected("t", with_fields(Dialect::Leapsome, vec![custom("T-Shirt Size", SIZE_ATTRIBUTE)])).await;
    assert_eq!(sync(&plugin).await.created, 3);
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test"), json!({SIZE_ATTRIBUTE: "M"}));
    rig.humaans.set_custom_fields_shape(CustomFieldsShape::Absent);
    rig.humaans.update_person(&ada, |p| p.preferred_name = Some("Countess".into()));
    let report = sync(&plugin).await;
    assert_eq!((report.updated, report.writes), (1, 1), "the nickname only: {report:?}");
    assert_eq!(report.changes[0].attributes, ["nickName"]);
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test"), json!({SIZE_ATTRIBUTE: "M"}));
}

/// Gender and birthday are personal data: written, but never in a log entry or a report's
/// message; a change names the key only.
#[tokio::test]
async fn personal_data_is_written_but_never_logged() {
    let rig = Rig::start().await;
    let [ada, _bob, _cy] = organisation(&rig);
    let plugin = rig.connected("t", all_on(Dialect::Leapsome)).await;
    sync(&plugin).await;
    plugin
        .configure(&with_fields(Dialect::Leapsome, vec![api::ExtraField::Gender, api::ExtraField::Birthday]))
        .await
        .unwrap()
        .expect("configures");
    let report = sync(&plugin).await;
    let change = report.changes.iter().find(|c| c.person_id == ada).expect("Ada's change");
    assert_eq!(change.attributes, ["gender", "birthday"]);
    assert_eq!(extras_of(&rig, "ada.lovelace@acme.test"), json!({"gender": "female", "birthday": "1989-07-28"}));
    let entries = logs(&plugin, false, None).await;
    assert!(entries.iter().any(|e| e.person_id.as_deref() == Some(ada.as_str())), "Ada's update is logged");
    let text = serde_json::to_string(&format!("{entries:?}{report:?}")).unwrap().to_lowercase();
    for secret in ["1989-07-28", "female", "prefer not to say"] {
        assert!(!text.contains(secret), "{secret} in a log entry or the report");
    }
}

/// A custom mapping whose Leapsome attribute is no 24-hex id is refused by the component, naming
/// the setting, and nothing is saved.
#[tokio::test]
async fn a_custom_mapping_to_no_attribute_id_is_refused_naming_the_setting() {
    let rig = Rig::start().await;
    let plugin = rig.connected("t", with_fields(Dialect::Leapsome, vec![api::ExtraField::Gender])).await;
    let bad = with_fields(Dialect::Leapsome, vec![api::ExtraField::Gender, custom("T-Shirt Size", "not-an-id")]);
    match plugin.configure(&bad).await.unwrap() {
        Err(api::IntegrationError::InvalidInput(f)) => {
            assert_eq!(f.field, "settings.extra-fields[1]");
            assert!(f.message.contains("24 hex digits"), "{}", f.message);
        }
        other => panic!("expected invalid-input, got {other:?}"),
    }
    let status = plugin.status().await.unwrap().unwrap();
    assert_eq!(status.settings.map(|s| s.extra_fields.len()), Some(1), "the settings before stay");
}
