//! issue-token: temporary STS credentials scoped to the caller's prefix.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use lambda_http::http::{HeaderValue, Method, StatusCode, header::ALLOW, header::RETRY_AFTER};
use lambda_http::{Body, Request, Response};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use stsvend::aliyun::sts::{self, AssumeRoleParams};
use stsvend::config::Config;
use stsvend::credential::Credential;
use stsvend::encode::hex_lower;
use stsvend::error::Error;
use stsvend::identity::{self, role_session_name};
use stsvend::policy::PolicyVars;
use stsvend::response;
use stsvend::time::{Clock, format_iso8601};
use stsvend::transport::HttpSender;
use tracing::{info, warn};

/// What every request needs, built once per cold start.
pub struct AppState {
    config: Config,
    role_arn: String,
    clock: Arc<dyn Clock>,
    sender: Arc<dyn HttpSender>,
    random: SystemRandom,
}

impl AppState {
    /// Checks that `config` has what issue-token needs (a role to assume).
    pub fn new(config: Config, clock: Arc<dyn Clock>, sender: Arc<dyn HttpSender>) -> Result<Self, Error> {
        let role_arn = config.require_role_arn()?.to_owned();
        Ok(Self {
            config,
            role_arn,
            clock,
            sender,
            random: SystemRandom::new(),
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The success answer, in the shape the OSS mobile SDKs and ali-oss read.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TokenAnswer<'a> {
    status_code: u16,
    access_key_id: &'a str,
    access_key_secret: &'a str,
    security_token: &'a str,
    expiration: String,
}

/// A refusal or failure, mapped once to what the caller sees.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    fn into_response(self) -> Response<Body> {
        let mut response = response::error(self.status, &self.code, &self.message);
        match self.status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, POST"));
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
            Error::UnsafeIdentity { claim, reason } => Self::new(
                StatusCode::FORBIDDEN,
                "InvalidIdentity",
                format!("the caller's {claim} cannot name a storage prefix: {reason}"),
            ),
            Error::StsRejected(r) => {
                let status = sts_status(&r.code, r.status);
                let request_id = r.request_id.as_deref().unwrap_or("none");
                let message = match status {
                    StatusCode::TOO_MANY_REQUESTS => format!(
                        "STS is throttling credential requests; retry shortly (STS RequestId {request_id})"
                    ),
                    StatusCode::INTERNAL_SERVER_ERROR => format!(
                        "the token service is misconfigured: STS refused AssumeRole: {} (STS RequestId {request_id})",
                        r.message
                    ),
                    _ => format!("STS failed: {} (STS RequestId {request_id})", r.message),
                };
                Self::new(status, r.code, message)
            }
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
            Error::StsUnreachable(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                "StsUnreachable",
                "STS could not be reached",
            ),
            Error::Policy(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "PolicyTooLarge",
                "the session policy for this caller does not fit STS's limit",
            ),
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error"),
        }
    }
}

/// The HTTP status for an STS error `Code`; the status STS used only decides for codes not
/// known here.
fn sts_status(code: &str, sts_http_status: u16) -> StatusCode {
    let family = code.split('.').next().unwrap_or(code);
    match family {
        "Throttling" => StatusCode::TOO_MANY_REQUESTS,
        "ServiceUnavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "InternalError" | "UnknownError" => StatusCode::BAD_GATEWAY,
        // Our credentials, role, policy or request are wrong: the deployment must change.
        "NoPermission" | "EntityNotExist" | "InvalidAccessKeyId" | "SignatureDoesNotMatch"
        | "InvalidParameter" | "MissingSecurityToken" | "InvalidSecurityToken" | "SignatureNonceUsed"
        | "InvalidTimeStamp" | "MissingParameter" | "Forbidden" | "InvalidAction" => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ if sts_http_status >= 500 => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Answers one request. Never fails: every refusal is an answer in the documented shape.
pub async fn handle(state: &AppState, request: Request) -> Response<Body> {
    let started = Instant::now();
    let outcome = issue(state, &request).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok((response, session)) => {
            info!(status = 200, session = %session, elapsed_ms, "issued credentials");
            response
        }
        Err(e) => {
            if e.status.is_server_error() || e.status == StatusCode::TOO_MANY_REQUESTS {
                warn!(status = e.status.as_u16(), error_code = %e.code, message = %e.message, elapsed_ms, "refused");
            } else {
                info!(status = e.status.as_u16(), error_code = %e.code, elapsed_ms, "refused");
            }
            e.into_response()
        }
    }
}

async fn issue(state: &AppState, request: &Request) -> Result<(Response<Body>, String), ApiError> {
    if request.method() != Method::GET && request.method() != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{} is not supported; use GET or POST", request.method()),
        ));
    }
    let config = &state.config;
    let caller = identity::identify(config.auth_mode, request)?;
    let prefix = config.object_prefix.render(&caller.sub)?;
    let policy = config.policy.render(&PolicyVars {
        bucket: &config.bucket,
        object_prefix: &prefix,
        imm_project: config.imm_project.as_deref(),
        sub: &caller.sub,
    })?;
    let session = role_session_name(&caller.sub);

    let now = state.clock.now();
    let mut nonce = [0u8; 16];
    state
        .random
        .fill(&mut nonce)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "no randomness available"))?;
    let sts_request = sts::assume_role_request(
        &config.sts_endpoint,
        &config.credential,
        &AssumeRoleParams {
            role_arn: &state.role_arn,
            role_session_name: &session,
            policy: Some(&policy),
            duration_seconds: config.token_duration_seconds,
        },
        now,
        &hex_lower(&nonce),
    );
    let reply = tokio::time::timeout(config.sts_timeout, state.sender.send(sts_request))
        .await
        .map_err(|_| Error::StsTimeout(config.sts_timeout))??;
    let credential = sts::parse_assume_role_response(reply.status, &reply.body)?;
    Ok((answer(&credential), session))
}

fn answer(credential: &Credential) -> Response<Body> {
    response::json(
        StatusCode::OK,
        &TokenAnswer {
            status_code: 200,
            access_key_id: &credential.access_key_id,
            access_key_secret: &credential.access_key_secret,
            security_token: credential.security_token.as_deref().unwrap_or_default(),
            // parse_assume_role_response guarantees an expiration; this is STS's own string.
            expiration: credential.expiration.map(format_iso8601).unwrap_or_default(),
        },
    )
}
