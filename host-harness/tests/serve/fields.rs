//! The settings API's `extra_fields`: a list of `--map`'s words, set by PATCH alone, shown by GET;
//! a wrong shape or a bad custom attribute id is refused (422, naming the key) and changes nothing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_fields_are_a_list_of_words_patched_alone_and_refused_naming_the_key() {
    let (humaans, leapsome) = mocks().await;
    let data = data_dir("fields");
    let serve = start(&data, &["--tick-every", "24h", "--sync-every", "24h"]).await;
    serve.tenant("acme", &humaans, &leapsome).await;
    let path = "/api/tenants/acme/settings";
    let (status, before) = serve.api("GET", path, None).await;
    assert_eq!((status, &before["extra_fields"]), (200, &json!([])), "{before}");

    let words = json!(["location", "gender", "custom:Cost centre=6140868326541a4da586db0b"]);
    let (status, patched) = serve
        .api(
            "PATCH",
            path,
            Some(json!({"extra_fields": ["LOCATION", "gender", "custom:Cost centre=6140868326541A4DA586DB0B"]})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["extra_fields"], words);
    assert_eq!(patched["provisioning"], before["provisioning"], "only what it names");
    for (body, names) in [
        (json!({"extra_fields": "gender"}), "`extra_fields` is a list"),
        (json!({"extra_fields": [1]}), "`extra_fields` is a list"),
        (json!({"extra_fields": ["shoe-size"]}), "`extra_fields`: `shoe-size` is not a field"),
        (json!({"extra_fields": ["custom:Size=6140868326541a4da586"]}), "24 hex digits"),
    ] {
        let (status, answer) = serve.api("PATCH", path, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap_or_default().contains(names), "{body}: {answer}");
    }
    assert_eq!(serve.api("GET", path, None).await.1["extra_fields"], words, "refusals changed nothing");
    let (_, cleared) = serve.api("PATCH", path, Some(json!({"extra_fields": []}))).await;
    assert_eq!(cleared["extra_fields"], json!([]));
    assert_eq!(serve.terminate().await.0, Some(0));
    std::fs::remove_dir_all(data).unwrap();
}
