//! CORS, for browsers that call a function directly (HTTP mode, a Lambda Function URL,
//! Function Compute). Behind API Gateway, configure CORS on the gateway instead.
//!
//! - Origins come from `CORS_ALLOW_ORIGINS`; `*` allows any.
//! - A preflight (`OPTIONS`) is answered here, 204, without asking for credentials, and never
//!   reaches the function.
//! - Listed origins get `Access-Control-Allow-Origin` (`*` when the list is `*`); others get no
//!   CORS header at all, so the browser refuses the answer.
//! - `Access-Control-Allow-Credentials` is never sent: callers authenticate with an
//!   `Authorization` header, not cookies, so a wildcard never meets credentials.
//! - Every answer carries `Vary: Origin`, so caches keep one copy per origin.

use std::future::Future;

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ORIGIN, VARY,
};
use http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// The methods a preflight allows: `DELETE` is Uppy Companion's abort (presign-url's
/// `s3/multipart/UPLOADID`); every function refuses the methods it does not serve itself.
const ALLOW_METHODS: &str = "GET, POST, DELETE";

/// The request headers a preflight allows: a caller's token and JSON body, and the headers
/// Uppy's Companion client sends (Companion 6.2.2 allows the same three).
const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Uppy-Versions, Uppy-Auth-Token, Uppy-Credentials-Params";

/// The allowed origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cors {
    origins: Vec<String>,
}

impl Cors {
    /// CORS for `origins`, or `None` when the list is empty (no CORS at all).
    pub(crate) fn new(origins: &[String]) -> Option<Self> {
        (!origins.is_empty()).then(|| Self {
            origins: origins.to_vec(),
        })
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        if self.origins.iter().any(|o| o == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let origin = origin?;
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(text))
            .then(|| origin.clone())
    }

    /// Answers preflights here and adds CORS headers to everything `handler` answers.
    pub(crate) async fn serve<F>(
        &self,
        request: Request,
        handler: impl FnOnce(Request) -> F,
    ) -> Response<Body>
    where
        F: Future<Output = Response<Body>>,
    {
        let origin = request.headers().get(ORIGIN).cloned();
        let allowed = self.allow(origin.as_ref());
        let mut response = if request.method() == Method::OPTIONS {
            let mut preflight = Response::new(Body::Empty);
            *preflight.status_mut() = StatusCode::NO_CONTENT;
            if allowed.is_some() {
                let headers = preflight.headers_mut();
                headers.insert(
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(ALLOW_METHODS),
                );
                headers.insert(
                    ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(ALLOW_HEADERS),
                );
                headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            }
            preflight
        } else {
            handler(request).await
        };
        let headers = response.headers_mut();
        headers.append(VARY, HeaderValue::from_static("Origin"));
        if let Some(allowed) = allowed {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS;

    use super::*;

    fn request(method: Method, origin: Option<&str>) -> Request {
        let mut request = Request::new(Body::Empty);
        *request.method_mut() = method;
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert(ORIGIN, HeaderValue::from_str(origin).expect("origin"));
        }
        request
    }

    async fn answer(cors: &Cors, method: Method, origin: Option<&str>) -> (Response<Body>, bool) {
        let mut called = false;
        let response = cors
            .serve(request(method, origin), |_| {
                called = true;
                async { Response::new(Body::Text("{}".to_owned())) }
            })
            .await;
        (response, called)
    }

    fn header(response: &Response<Body>, name: http::header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    fn assert_no_credentials(response: &Response<Body>) {
        assert_eq!(header(response, ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
    }

    #[tokio::test]
    async fn listed_origins_are_allowed_and_others_get_nothing() {
        let cors = Cors::new(&["https://app.example.com".to_owned()]).expect("cors");
        let (preflight, called) =
            answer(&cors, Method::OPTIONS, Some("https://app.example.com")).await;
        assert!(!called, "a preflight never reaches the function");
        assert_eq!(preflight.status(), 204);
        assert_eq!(
            header(&preflight, ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://app.example.com")
        );
        assert_eq!(
            header(&preflight, ACCESS_CONTROL_ALLOW_METHODS),
            Some("GET, POST, DELETE")
        );
        assert_eq!(
            header(&preflight, ACCESS_CONTROL_ALLOW_HEADERS),
            Some(
                "Authorization, Content-Type, Uppy-Versions, Uppy-Auth-Token, Uppy-Credentials-Params"
            )
        );
        assert_eq!(header(&preflight, VARY), Some("Origin"));
        assert_no_credentials(&preflight);

        let (response, called) = answer(&cors, Method::POST, Some("https://app.example.com")).await;
        assert!(called);
        assert_eq!(
            header(&response, ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://app.example.com")
        );
        assert_eq!(header(&response, VARY), Some("Origin"));

        for origin in [
            Some("https://evil.example.com"),
            Some("https://app.example.com.evil.com"),
            Some("null"),
            None,
        ] {
            for method in [Method::OPTIONS, Method::GET] {
                let (response, _) = answer(&cors, method.clone(), origin).await;
                assert_eq!(
                    header(&response, ACCESS_CONTROL_ALLOW_ORIGIN),
                    None,
                    "{origin:?} {method}"
                );
                assert_eq!(
                    header(&response, ACCESS_CONTROL_ALLOW_METHODS),
                    None,
                    "{origin:?} {method}"
                );
                assert_eq!(header(&response, VARY), Some("Origin"));
            }
        }
    }

    #[tokio::test]
    async fn a_wildcard_never_comes_with_credentials() {
        let cors = Cors::new(&["*".to_owned()]).expect("cors");
        let (response, _) = answer(&cors, Method::GET, Some("https://any.example.org")).await;
        assert_eq!(header(&response, ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
        assert_no_credentials(&response);
        assert!(Cors::new(&[]).is_none());
    }
}
