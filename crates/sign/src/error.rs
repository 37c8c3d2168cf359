//! The library's one error type.
//!
//! Messages are lower-case, name what went wrong and where, and never contain a secret, a
//! security token, a signature or a string to sign. Each function maps these once, at its edge,
//! to an HTTP status and an `ErrorCode`.

use std::time::Duration;

/// Everything that can go wrong in stsvend's library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is missing or malformed; start-up stops.
    #[error("{variable}: {reason}")]
    Config {
        /// The environment variable (or `CONFIG_FILE` key) at fault.
        variable: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A session-policy template cannot be used, or a rendered policy is too large.
    #[error("session policy: {0}")]
    Policy(String),

    /// The request carries no caller identity.
    #[error("no caller identity in the request")]
    MissingIdentity,

    /// The bearer token was refused (`AUTH_MODE=jwt`).
    #[error("bearer token refused: {reason}")]
    TokenRefused {
        /// The `ErrorCode` of the refusal (`TokenExpired`, `InvalidSignature`, ...).
        code: &'static str,
        /// Why, in a sentence for the caller (never the token).
        reason: String,
    },

    /// The caller's identity cannot be placed in an object prefix.
    #[error("the caller's {claim} cannot be used in an object prefix: {reason}")]
    UnsafeIdentity {
        /// The claim that was refused (`sub`, ...).
        claim: String,
        /// Why.
        reason: &'static str,
    },

    /// STS answered with an error `Code`.
    #[error("sts refused the request: {}: {}", .0.code, .0.message)]
    StsRejected(StsRejection),

    /// STS (or something in front of it) answered with a body that is not an STS answer.
    #[error("sts answered http {status} with an unreadable body: {reason}")]
    StsMalformed {
        /// The HTTP status of the answer.
        status: u16,
        /// What was wrong with the body.
        reason: &'static str,
    },

    /// STS did not answer within the deadline (`STS_TIMEOUT_MS`).
    #[error("sts did not answer within {0:?}")]
    StsTimeout(Duration),

    /// STS could not be reached (connection refused or reset, DNS, TLS).
    #[error("sts could not be reached")]
    StsUnreachable(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The function's own credentials could not be obtained from their source (the instance
    /// metadata service, the container endpoint, a token file, STS for a web identity).
    #[error("the function's credentials from {source_name}: {reason}")]
    CredentialSource {
        /// The source, in the provider's words (`ECS RAM role`, `IMDS`, ...).
        source_name: &'static str,
        /// What went wrong (never a secret or a token).
        reason: String,
    },
}

impl Error {
    /// A copy of an STS error (rejected, malformed, timed out, unreachable), so that one
    /// failed `AssumeRole` can answer the callers that waited for it; `None` for the others.
    /// An unreachable error keeps its cause's text only.
    pub fn sts_copy(&self) -> Option<Error> {
        Some(match self {
            Error::StsRejected(rejection) => Error::StsRejected(rejection.clone()),
            Error::StsMalformed { status, reason } => Error::StsMalformed {
                status: *status,
                reason,
            },
            Error::StsTimeout(deadline) => Error::StsTimeout(*deadline),
            Error::StsUnreachable(cause) => Error::StsUnreachable(cause.to_string().into()),
            Error::CredentialSource {
                source_name,
                reason,
            } => Error::CredentialSource {
                source_name,
                reason: reason.clone(),
            },
            _ => return None,
        })
    }
}

/// An error answer from STS, as its body states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsRejection {
    /// The HTTP status STS used (informative only: errors are mapped by `code`).
    pub status: u16,
    /// STS's error `Code`, e.g. `Throttling.User`.
    pub code: String,
    /// STS's `Message`, trimmed of control characters and shortened.
    pub message: String,
    /// STS's `RequestId`, for support tickets.
    pub request_id: Option<String>,
    /// STS's `Retry-After`, in seconds, as STS said it (what callers are told is capped
    /// where the answer is written).
    pub retry_after: Option<u64>,
}

/// The longest STS message kept, in characters.
pub(crate) const MAX_STS_MESSAGE_CHARS: usize = 300;

impl StsRejection {
    /// A rejection as STS's answer states it, whichever the provider, cleaned by the one
    /// cleaner (`clean_upstream_message`); `Retry-After` is added by whoever reads the
    /// answer's headers.
    pub fn new(status: u16, code: &str, message: &str, request_id: Option<&str>) -> Self {
        Self {
            status,
            code: clean_upstream_message(code, 100),
            message: clean_upstream_message(message, MAX_STS_MESSAGE_CHARS),
            request_id: request_id.map(|id| clean_upstream_message(id, 100)),
            retry_after: None,
        }
    }
}

/// Where an upstream message starts quoting what the server computed from our request:
/// Alibaba's `SignatureDoesNotMatch` echoes its string to sign (`POST&%2F&AccessKeyId%3D…`),
/// AWS query APIs echo the canonical request and string to sign, both holding the function's
/// key id, security token and the session policy.
const ECHO_MARKERS: [&str; 6] = [
    "string to sign",
    "stringtosign",
    "string-to-sign",
    "canonical string",
    "canonical request",
    "&%2f&",
];

/// Makes a message from upstream (STS) safe to log: cut where it starts echoing a string to
/// sign or a canonical request, control characters dropped, at most `max` characters.
pub(crate) fn clean_upstream_message(message: &str, max: usize) -> String {
    let lower = message.to_ascii_lowercase();
    let cut = ECHO_MARKERS.iter().filter_map(|m| lower.find(m)).min();
    let (kept, removed) = match cut {
        Some(at) => (&message[..at], "[echoed request removed]"),
        None => (message, ""),
    };
    let mut out: String = kept.chars().filter(|c| !c.is_control()).take(max).collect();
    out.push_str(removed);
    out
}

/// `error` and each of its sources, joined by `": "`, for a log line: the outermost error
/// alone often says no more than "error sending request".
pub fn source_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        chain = format!("{chain}: {e}");
        next = e.source();
    }
    chain
}
