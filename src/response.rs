//! The JSON shapes both functions answer with.

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// The error answer of every function:
/// `{"StatusCode":429,"ErrorCode":"Throttling.User","ErrorMessage":"…"}`, where
/// `StatusCode` equals the HTTP status.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody<'a> {
    /// The HTTP status, repeated for clients that only read the body (the iOS SDK).
    pub status_code: u16,
    /// A stable code a client can act on.
    pub error_code: &'a str,
    /// A sentence for people; never holds a secret.
    pub error_message: &'a str,
}

/// A JSON answer that no cache may keep (it may hold credentials or signed URLs).
pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Serializing these plain structs cannot fail; keep a valid answer if it ever did.
    let text = serde_json::to_string(body).unwrap_or_else(|_| {
        r#"{"StatusCode":500,"ErrorCode":"InternalError","ErrorMessage":"could not write the answer"}"#.to_owned()
    });
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error answer in the shape of [`ErrorBody`].
pub fn error(status: StatusCode, error_code: &str, error_message: &str) -> Response<Body> {
    json(
        status,
        &ErrorBody {
            status_code: status.as_u16(),
            error_code,
            error_message,
        },
    )
}
