//! The JSON shapes both functions answer with, and the one mapping from errors to answers.

use std::borrow::Cow;
use std::time::Instant;

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use tracing::{info, warn};

use crate::log::escaped;
use stsvend::{Error, StsRejection, source_chain};

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

/// The room a JSON answer's buffer starts with.
const ANSWER_CAPACITY: usize = 2048;

/// A JSON answer that no cache may keep (it may hold credentials or signed URLs).
pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Serializing these plain structs cannot fail; keep a valid answer if it ever did.
    // Into a buffer sized for a presigned answer (about 1.2 KiB), so that it does not grow
    // by doubling from empty on every request.
    let mut bytes = Vec::with_capacity(ANSWER_CAPACITY);
    let written = serde_json::to_writer(&mut bytes, body).ok();
    // serde_json writes UTF-8 only.
    let text = written.and_then(|()| String::from_utf8(bytes).ok()).unwrap_or_else(|| {
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

/// A refusal or failure, as the caller will see it.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `ErrorCode`.
    pub code: Cow<'static, str>,
    /// The `ErrorMessage`.
    pub message: String,
    /// For the log only: the underlying cause (never a secret; never sent to the caller).
    pub cause: Option<String>,
    /// `Retry-After` seconds for 429 and 503 (STS's own when it sent one, else 1).
    pub retry_after: Option<u64>,
    /// The methods a 405 names in `Allow`: `GET, POST` unless the function serves fewer.
    pub allow: &'static str,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            cause: None,
            retry_after: None,
            allow: "GET, POST",
        }
    }

    /// A 400 with its own code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The longest `Retry-After` this answer may name: a grant rate's window ends when it
    /// ends (up to a day); every other wait is capped at a minute.
    fn max_retry_after(&self) -> u64 {
        if self.code == "GrantRateExceeded" {
            MAX_RATE_RETRY_AFTER_SECONDS
        } else {
            MAX_RETRY_AFTER_SECONDS
        }
    }

    /// The answer, with `Retry-After` on 429 and 503 and `Allow` on 405.
    pub fn into_response(self) -> Response<Body> {
        let mut response = error(self.status, &self.code, &self.message);
        let headers = response.headers_mut();
        match self.status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(
                    RETRY_AFTER,
                    HeaderValue::from(
                        self.retry_after
                            .unwrap_or(1)
                            .clamp(1, self.max_retry_after()),
                    ),
                );
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                headers.insert(ALLOW, HeaderValue::from_static(self.allow));
            }
            _ => {}
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::MissingIdentity => Self::new(
                StatusCode::UNAUTHORIZED,
                "MissingIdentity",
                "the request carries no caller identity; sign in first",
            ),
            Error::TokenRefused { code, reason } => {
                Self::new(StatusCode::UNAUTHORIZED, code, reason)
            }
            Error::UnsafeIdentity { claim, reason } => Self::new(
                StatusCode::FORBIDDEN,
                "InvalidIdentity",
                format!("the caller's {claim} cannot name a storage prefix: {reason}"),
            ),
            Error::StsRejected(rejection) => Self::sts_rejected(rejection),
            Error::StsMalformed { .. } => Self::new(
                StatusCode::BAD_GATEWAY,
                "StsBadResponse",
                "STS answered with something that is not an STS answer",
            ),
            Error::StsTimeout(after) => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "StsTimeout",
                format!("STS did not answer within {} ms", after.as_millis()),
            ),
            Error::StsUnreachable(source) => Self {
                cause: Some(source_chain(&*source)),
                ..Self::new(
                    StatusCode::BAD_GATEWAY,
                    "StsUnreachable",
                    "STS could not be reached",
                )
            },
            Error::CredentialSource {
                source_name,
                reason,
            } => Self {
                cause: Some(format!("{source_name}: {reason}")),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "CredentialsUnavailable",
                    "the token service's own credentials could not be obtained; retry shortly",
                )
            },
            Error::Policy(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "PolicyTooLarge",
                "the session policy for this caller does not fit STS's limit",
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "internal error",
            ),
        }
    }
}

impl ApiError {
    /// STS's refusal, as the caller sees it: the status and fixed sentence of its code
    /// ([`sts_refusal`]), STS's `RequestId`, and STS's `Retry-After`. STS's own message names
    /// accounts, users, roles and the policy: the log keeps it, the caller never sees it.
    fn sts_rejected(rejection: StsRejection) -> Self {
        let (status, sentence) = sts_refusal(&rejection.code, rejection.status);
        let request_id = rejection.request_id.as_deref().unwrap_or("none");
        let message = format!(
            "{sentence} (STS {}, RequestId {request_id})",
            rejection.code
        );
        Self {
            retry_after: rejection.retry_after,
            cause: Some(format!("STS said: {}", rejection.message)),
            ..Self::new(status, rejection.code, message)
        }
    }
}

/// The longest `Retry-After` a caller is told, in seconds, whatever STS said.
pub(crate) const MAX_RETRY_AFTER_SECONDS: u64 = 60;

/// The longest `Retry-After` of a `GrantRateExceeded`: a `N/day` window.
const MAX_RATE_RETRY_AFTER_SECONDS: u64 = 86_400;

/// Fault in the deployment: the caller can do nothing but report it (500).
const MISCONFIGURED: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;

/// The HTTP status for an STS error `Code`, and the fixed sentence a caller is told (never
/// STS's own message). The code's family decides; the status STS used decides only for codes
/// not known here.
pub(crate) fn sts_refusal(code: &str, sts_http_status: u16) -> (StatusCode, &'static str) {
    let family = code.split('.').next().unwrap_or(code);
    match family {
        "Throttling" => (
            StatusCode::TOO_MANY_REQUESTS,
            "STS is throttling credential requests; retry shortly",
        ),
        "ServiceUnavailable" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "STS is unavailable; retry shortly",
        ),
        "InternalError" | "UnknownError" | "InternalFailure" | "IDPCommunicationError" => {
            (StatusCode::BAD_GATEWAY, "STS failed to answer AssumeRole")
        }
        // Our credentials, role, policy or request are wrong: the deployment must change.
        "NoPermission" | "AccessDenied" | "Forbidden" => (
            MISCONFIGURED,
            "the token service may not assume its role: check the role's trust policy and the function's permissions",
        ),
        "EntityNotExist" => (
            MISCONFIGURED,
            "the token service's role does not exist: check ROLE_ARN",
        ),
        "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "InvalidClientTokenId"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => (
            MISCONFIGURED,
            "STS refused the token service's own credentials",
        ),
        "InvalidSecurityToken" | "MissingSecurityToken" | "ExpiredToken" => (
            MISCONFIGURED,
            "STS refused the token service's own security token: it is missing, invalid or expired",
        ),
        "MalformedPolicyDocument" | "PackedPolicyTooLarge" => (
            MISCONFIGURED,
            "STS refused the session policy: check POLICY_FILE",
        ),
        "InvalidParameter"
        | "SignatureNonceUsed"
        | "InvalidTimeStamp"
        | "MissingParameter"
        | "InvalidAction"
        | "RegionDisabledException"
        | "ValidationError"
        | "InvalidParameterValue" => (MISCONFIGURED, MISCONFIGURED_SENTENCE),
        _ if sts_http_status >= 500 => (StatusCode::BAD_GATEWAY, "STS failed to answer AssumeRole"),
        _ => (MISCONFIGURED, MISCONFIGURED_SENTENCE),
    }
}

/// What a caller is told about a deployment fault without a sentence of its own.
const MISCONFIGURED_SENTENCE: &str =
    "the token service is misconfigured: STS refused AssumeRole; its logs say why";

/// Logs the outcome of one request, once, and returns the answer.
///
/// `done` names what succeeded (`"issued credentials"`), `caller` is what the log says about
/// who asked (a session name; never a secret). The caller, the message (which may quote what
/// the caller sent: a field name, a method, a key) and the cause (free text from STS) are
/// logged [`escaped`], so that none of them can end the line or pose as another field.
pub fn finish(
    outcome: Result<(Response<Body>, String), ApiError>,
    started: Instant,
    done: &str,
) -> Response<Body> {
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok((response, caller)) => {
            let status = response.status().as_u16();
            info!(status, caller = %escaped(&caller), elapsed_ms, "{done}");
            response
        }
        Err(e) => {
            let (status, error_code) = (e.status.as_u16(), &e.code);
            let error_message = escaped(&e.message);
            if e.status.is_server_error() || e.status == StatusCode::TOO_MANY_REQUESTS {
                let cause = escaped(e.cause.as_deref().unwrap_or(""));
                warn!(status, %error_code, %error_message, %cause, elapsed_ms, "refused");
            } else {
                info!(status, %error_code, %error_message, elapsed_ms, "refused");
            }
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: &str, message: &str, retry_after: Option<u64>) -> ApiError {
        let mut rejection = StsRejection::new(403, code, message, Some("4C8F-REQUEST"));
        rejection.retry_after = retry_after;
        ApiError::from(Error::StsRejected(rejection))
    }

    #[test]
    fn callers_get_the_code_a_fixed_sentence_and_the_request_id_never_stss_message() {
        let message = "User: arn:aws:iam::123456789012:user/stsvend-fn is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/uploader";
        let e = rejected("AccessDenied", message, None);
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.code, "AccessDenied");
        assert!(!e.message.contains("123456789012"), "{}", e.message);
        assert!(!e.message.contains("arn:"), "{}", e.message);
        assert!(
            e.message.contains("RequestId 4C8F-REQUEST"),
            "{}",
            e.message
        );
        assert!(e.message.contains("trust policy"), "{}", e.message);
        // The log keeps STS's words.
        assert!(e.cause.as_deref().is_some_and(|c| c.contains(message)));
        let throttled = rejected(
            "Throttling.User",
            "Request was denied due to user flow control.",
            None,
        );
        assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            !throttled.message.contains("flow control"),
            "{}",
            throttled.message
        );
    }

    #[test]
    fn a_refused_token_is_401_with_its_own_code_and_sentence() {
        use stsvend::jwt::JwtError;
        for (refusal, code, message) in [
            (JwtError::Expired, "TokenExpired", "the token has expired"),
            (
                JwtError::MissingClaim("sub"),
                "MissingClaim",
                "the token has no valid sub claim",
            ),
        ] {
            let error = Error::from(refusal);
            assert_eq!(
                error.to_string(),
                format!("bearer token refused: {message}")
            );
            let e = ApiError::from(error);
            assert_eq!(
                (e.status, e.code.as_ref(), e.message.as_str()),
                (StatusCode::UNAUTHORIZED, code, message)
            );
        }
    }

    #[test]
    fn retry_after_is_told_within_one_to_sixty_seconds() {
        for (sts_said, told) in [
            (None, "1"),
            (Some(0), "1"),
            (Some(7), "7"),
            (Some(86_400), "60"),
        ] {
            let response = rejected("Throttling.User", "slow down", sts_said).into_response();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[RETRY_AFTER], told, "{sts_said:?}");
        }
    }
}
