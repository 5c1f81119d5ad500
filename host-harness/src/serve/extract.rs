//! The answers and request pieces every handler shares: JSON answers and errors (`Refusal`),
//! the body read within the route's limit, the `{tenant}` extractor, query strings. Below every
//! handler module (`admin`, `api`, `dead_letters`, `webhooks`) and the router (`routes`), and
//! free of the app's state, so none of them imports another to answer.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub fn json(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).expect("JSON");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub fn error(status: StatusCode, message: &str) -> Response {
    json(status, &json!({"error": message}))
}

pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

/// An error answer, `{"error": message}`, kept small until it is sent (handlers return it in
/// their `Err`).
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    message: String,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal { status, message: message.into(), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = error(self.status, &self.message);
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A 200 with a JSON body.
pub struct Json(pub Value);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        json(StatusCode::OK, &self.0)
    }
}

/// The whole body (within the route's limit, which the layer enforces): 413 past it.
pub async fn read_body(body: Body) -> Result<Bytes, Refusal> {
    axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is over the limit");
            }
            source = s.source();
        }
        Refusal::new(StatusCode::BAD_REQUEST, "the body could not be read")
    })
}

pub fn json_body(bytes: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice(bytes)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))
}

/// The `{tenant}` of the path (decoded), refused (400) unless it is a valid tenant id.
pub struct Tenant(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.body_text()))?;
        match params.get("tenant") {
            Some(t) if crate::tenant::valid_tenant(t) => Ok(Tenant(t.clone())),
            _ => Err(Refusal::new(StatusCode::BAD_REQUEST, "a tenant id is 1-64 letters, digits, - or _")),
        }
    }
}

/// A query string as `application/x-www-form-urlencoded` pairs (`+` is a space).
pub fn query(uri: &axum::http::Uri) -> Vec<(String, String)> {
    uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_plus_as_a_space_and_keep_empty_values() {
        let uri: axum::http::Uri = "/x?failures=1&person=a%2Bb&x&&q=a+b".parse().unwrap();
        assert_eq!(
            query(&uri),
            vec![
                ("failures".into(), "1".into()),
                ("person".into(), "a+b".into()),
                ("x".into(), String::new()),
                ("q".into(), "a b".into())
            ]
        );
    }
}
