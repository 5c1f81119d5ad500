//! `configure --map` through the binary: any subset of the extra fields and custom fields, shown
//! by `configure` and `status`, `none` to clear; a custom attribute id that is no 24-hex id is
//! refused in one line and changes nothing; a sync then writes the mapped fields.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_sets_shows_and_clears_the_extra_fields_and_a_sync_writes_them() {
    let m = mocks(6, 5).await;
    let data = data_dir("fields");
    let d = data.to_str().unwrap();
    let (hu, su) = (m.humaans.base_url(), m.leapsome.base_url());
    hh(&["--data-dir", d, "connect", "--humaans-url", &hu, "--scim-url", &su], &tokens()).await.ok();
    let person = m.humaans.people().into_iter().find(|p| p.status == "active" && p.gender.is_some()).unwrap();
    m.humaans.set_custom_value(&person.id, "T-Shirt Size", Some("M"));

    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(status["settings"]["extra_fields"], serde_json::json!([]), "off by default: {status}");
    let map = "start-date,GENDER,birthday,custom:T-Shirt Size=6140868326541A4DA586DB0B";
    let configured = hh(&["--data-dir", d, "--json", "configure", "--provisioning", "immediately", "--map", map], &[])
        .await
        .ok()
        .unwrap();
    let words = serde_json::json!(["start-date", "gender", "birthday", "custom:T-Shirt Size=6140868326541a4da586db0b"]);
    assert_eq!(configured["extra_fields"], words, "{configured}");
    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(status["settings"]["extra_fields"], words, "{status}");
    let text = hh(&["--data-dir", d, "status"], &[]).await;
    text.ok();
    assert!(text.stdout.contains("custom:T-Shirt Size=6140868326541a4da586db0b"), "{}", text.stdout);

    // A bad id: one line naming the flag's value and what an id is; the settings stay.
    for bad in ["custom:T-Shirt Size=6140868326541a4da586", "custom:Size", "shoe-size"] {
        let line = hh(&["--data-dir", d, "configure", "--map", bad], &[]).await.fails().to_owned();
        assert!(line.contains("--map"), "{line}");
    }
    let line = hh(&["--data-dir", d, "configure", "--map", "custom:Size=zz40868326541a4da586db0b"], &[])
        .await
        .fails()
        .to_owned();
    assert!(line.contains("24 hex digits"), "{line}");
    let status = hh(&["--data-dir", d, "--json", "status"], &[]).await.ok().unwrap();
    assert_eq!(status["settings"]["extra_fields"], words, "unchanged: {status}");

    let synced = hh(&["--data-dir", d, "--json", "sync-all"], &[]).await.ok().unwrap();
    assert!(synced["created"].as_u64().unwrap() > 0, "{synced}");
    let user = m.leapsome.user_by_username(&person.email).expect("an account");
    let ext = &user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ext["6140868326541a4da586db0b"], "M", "{user}");
    assert_eq!(ext["birthday"].as_str(), person.birthday.as_deref(), "{user}");
    assert!(["male", "female", "diverse"].contains(&ext["gender"].as_str().unwrap_or("")), "{user}");
    let again = hh(&["--data-dir", d, "--json", "sync-all"], &[]).await.ok().unwrap();
    assert_eq!(again["writes"], 0, "{again}");

    let cleared = hh(&["--data-dir", d, "--json", "configure", "--map", "none"], &[]).await.ok().unwrap();
    assert_eq!(cleared["extra_fields"], serde_json::json!([]), "{cleared}");
    let after = hh(&["--data-dir", d, "--json", "sync-all"], &[]).await.ok().unwrap();
    assert_eq!(after["writes"], 0, "an unmapped field is left as it is: {after}");
    clean_up(&data);
}
