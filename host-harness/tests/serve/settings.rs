//! The settings API: a body of the wrong shape is refused (422, naming the field) and changes
//! nothing; `PUT` replaces every setting (those left out go back to their defaults); `PATCH`
//! changes only the settings it is given.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_of_the_wrong_shape_change_nothing_put_replaces_and_patch_changes_what_it_names() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("settings");
    let serve = start(&data, &["--tick-every", "24h", "--sync-every", "24h"]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    let path = "/api/tenants/acme/settings";
    let (status, before) = serve.api("GET", path, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        before,
        json!({"provisioning": "immediately", "deprovisioning": "suspend", "dialect": "leapsome",
            "deprovision_limit": null, "deprovision_window": null, "teams": false,
            "log_retention": 5000, "scope": [], "out_of_scope": "deprovision", "extra_fields": []})
    );

    // (body, what the refusal must name)
    let refused = [
        (json!({"provisioning": 42}), "`provisioning` must be a string"),
        (json!([]), "a JSON object"),
        (json!("off"), "a JSON object"),
        (json!(null), "a JSON object"),
        (json!({"deprovison_limit": "5"}), "`deprovison_limit` is not a setting"),
        (json!({"provisioning": "immediately", "Dialect": "leapsome"}), "`Dialect` is not a setting"),
        (json!({"provisioning": "sometimes"}), "`provisioning`"),
        (json!({"deprovisioning": true}), "`deprovisioning` must be a string"),
        (json!({"dialect": "scim3"}), "`dialect` is leapsome or rfc7644"),
        (json!({"deprovision_limit": "lots"}), "`deprovision_limit`"),
        (json!({"deprovision_limit": -1}), "`deprovision_limit`"),
        (json!({"deprovision_limit": [5]}), "`deprovision_limit`"),
        (json!({"deprovision_window": "90s"}), "`deprovision_window`"),
        (json!({"deprovision_window": 0}), "`deprovision_window`"),
        (json!({"deprovision_window": "31d"}), "`deprovision_window`"),
        (json!({"deprovision_window": {"hours": 24}}), "`deprovision_window`"),
        // A valid key does not carry an invalid one through.
        (json!({"provisioning": "off", "deprovisioning": "sideways"}), "`deprovisioning`"),
    ];
    for method in ["PUT", "PATCH"] {
        for (body, names) in &refused {
            let (status, answer) = serve.api(method, path, Some(body.clone())).await;
            assert_eq!(status, 422, "{method} {body}: {answer}");
            let message = answer["error"].as_str().unwrap_or_default();
            assert!(message.contains(names), "{method} {body}: {message}");
        }
    }
    let (_, after) = serve.api("GET", path, None).await;
    assert_eq!(after, before, "refused bodies changed nothing");

    // PUT replaces: what it leaves out goes back to its default.
    let (status, put) =
        serve.api("PUT", path, Some(json!({"provisioning": "on-start-date", "deprovision_limit": 3}))).await;
    assert_eq!(status, 200, "{put}");
    let replaced = json!({"provisioning": "on-start-date", "deprovisioning": "off", "dialect": "leapsome",
        "deprovision_limit": "3", "deprovision_window": null, "teams": false,
            "log_retention": 5000, "scope": [], "out_of_scope": "deprovision", "extra_fields": []});
    assert_eq!(put, replaced);
    assert_eq!(serve.api("GET", path, None).await.1, replaced);
    // PATCH changes only what it names.
    let (status, patched) = serve.api("PATCH", path, Some(json!({"deprovisioning": "deactivate"}))).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        patched,
        json!({"provisioning": "on-start-date", "deprovisioning": "deactivate", "dialect": "leapsome",
            "deprovision_limit": "3", "deprovision_window": null, "teams": false,
            "log_retention": 5000, "scope": [], "out_of_scope": "deprovision", "extra_fields": []})
    );
    let (status, patched) =
        serve.api("PATCH", path, Some(json!({"deprovision_limit": "5%", "deprovision_window": "90m"}))).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!((&patched["deprovision_limit"], &patched["deprovision_window"]), (&json!("5%"), &json!("90m")));
    let (_, patched) =
        serve.api("PATCH", path, Some(json!({"deprovision_window": 1440, "deprovision_limit": null}))).await;
    assert_eq!(
        patched,
        json!({"provisioning": "on-start-date", "deprovisioning": "deactivate", "dialect": "leapsome",
            "deprovision_limit": null, "deprovision_window": "24h", "teams": false,
            "log_retention": 5000, "scope": [], "out_of_scope": "deprovision", "extra_fields": []})
    );
    // Teams: a boolean (or "on"/"off"), PATCHed alone.
    let (status, patched) = serve.api("PATCH", path, Some(json!({"teams": true}))).await;
    assert_eq!((status, &patched["teams"], &patched["deprovisioning"]), (200, &json!(true), &json!("deactivate")));
    let (status, patched) = serve.api("PATCH", path, Some(json!({"teams": "off"}))).await;
    assert_eq!((status, &patched["teams"]), (200, &json!(false)));
    let (status, refused) = serve.api("PATCH", path, Some(json!({"teams": "sometimes"}))).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["error"].as_str().unwrap_or_default().contains("`teams`"), "{refused}");
    assert_eq!(serve.api("GET", path, None).await.1, patched, "what the component holds");
    // An empty PATCH changes nothing; an empty PUT is every default.
    assert_eq!(serve.api("PATCH", path, Some(json!({}))).await.1, patched);
    let (_, defaults) = serve.api("PUT", path, Some(json!({}))).await;
    assert_eq!(
        defaults,
        json!({"provisioning": "off", "deprovisioning": "off", "dialect": "leapsome",
            "deprovision_limit": null, "deprovision_window": null, "teams": false,
            "log_retention": 5000, "scope": [], "out_of_scope": "deprovision", "extra_fields": []})
    );
    // Not JSON at all: 400. A tenant that is not connected: 404, after the body was checked.
    let auth = format!("Bearer {ADMIN}");
    assert_eq!(serve.request("PATCH", path, &[("authorization", &auth)], b"{\"provisioning\": ").await.0, 400);
    assert_eq!(serve.api("PATCH", "/api/tenants/nobody/settings", Some(json!({"dialect": "rfc7644"}))).await.0, 404);
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}
