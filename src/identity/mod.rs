//! Who is asking: the caller's identity from the API gateway's authorizer, from a bearer JWT
//! verified here, or anonymous.

pub mod jwt;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use lambda_http::aws_lambda_events::apigw::ApiGatewayRequestAuthorizerIamDescription;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use ring::hmac;
use serde_json::Value;
use tracing::{info, trace, warn};

use self::jwt::{Expectations, JwtError, KeySet};
use crate::caller::{ANONYMOUS, Caller};
use crate::error::Error;
use crate::transport::HttpSender;
use crate::transport::SignedRequest;

/// The role session name Cognito identity pools give every user's credentials.
const COGNITO_SESSION_NAME: &str = "CognitoIdentityCredentials";

/// The shortest time between two fetches of `JWT_JWKS_URL` for unknown `kid`s.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// How soon `JWT_JWKS_URL` is fetched again after a failed fetch left no key at all (then
/// twice as long after each further failure, up to [`JWKS_REFETCH_INTERVAL`]).
pub const JWKS_FIRST_RETRY: Duration = Duration::from_secs(1);

/// How callers are identified (`AUTH_MODE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Trust what the API gateway's authorizer attached to the Lambda event: HTTP API JWT
    /// claims, REST API Cognito claims, a Lambda authorizer's `principalId` and context, or
    /// a Function URL's IAM caller.
    Gateway,
    /// Verify an `Authorization: Bearer` JWT here.
    Jwt(JwtSettings),
    /// Everybody is [`ANONYMOUS`]. Must be chosen explicitly.
    None,
}

/// Where `AUTH_MODE=jwt` finds its keys, and what the claims must say. `Debug` does not show
/// the HS256 secret.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// `JWT_ISSUER` and `JWT_AUDIENCE`.
    pub expect: Expectations,
    /// `JWT_JWKS_FILE`, read at start-up.
    pub jwks_file: Option<String>,
    /// `JWT_JWKS_URL`, fetched at cold start and again (rate-limited) for unknown `kid`s.
    pub jwks_url: Option<String>,
    /// `JWT_HS256_SECRET`.
    pub hs256_secret: Option<String>,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("expect", &self.expect)
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Establishes who sent a request, the same way for both functions.
pub struct Authenticator {
    mode: AuthMode,
    jwt: Option<Arc<JwtKeys>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("mode", &self.mode_name())
            .finish_non_exhaustive()
    }
}

/// The key material of `AUTH_MODE=jwt`.
struct JwtKeys {
    expect: Expectations,
    hs256: Option<hmac::Key>,
    keys: RwLock<KeySet>,
    url: Option<String>,
    sender: Arc<dyn HttpSender>,
    timeout: Duration,
    /// Milliseconds between fetches for unknown `kid`s.
    refetch_interval_ms: AtomicU64,
    /// How the last fetches of the JWKS URL went; fetches take this lock one at a time.
    fetches: tokio::sync::Mutex<Fetches>,
}

/// When `JWT_JWKS_URL` was last fetched, and how many fetches in a row have failed.
#[derive(Debug, Default)]
struct Fetches {
    /// When the last fetch ended (Tokio's clock, so tests can pause it).
    last: Option<tokio::time::Instant>,
    /// Failed fetches since the last success.
    failures: u32,
}

impl Fetches {
    /// How long after the last fetch the next may start. While no key is held every caller
    /// is refused, so the URL is tried again soon: 1 s after a failure, then 2, 4, 8 s …,
    /// never more than `interval`. Once keys are held, `interval` (a token naming an unknown
    /// `kid` must not make every request a fetch).
    fn wait(&self, keys_held: bool, interval: Duration) -> Duration {
        if keys_held || self.failures == 0 {
            return interval;
        }
        let doublings = (self.failures - 1).min(31);
        JWKS_FIRST_RETRY
            .saturating_mul(1 << doublings)
            .min(interval)
    }
}

impl Authenticator {
    /// Builds the authenticator for `mode`, reading `JWT_JWKS_FILE` now. With `JWT_JWKS_URL`
    /// the first fetch starts at once in the background (inside a Tokio runtime) so that the
    /// first caller does not wait for it; `sender` fetches, within `timeout`.
    pub fn new(
        mode: &AuthMode,
        sender: Arc<dyn HttpSender>,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let jwt = match mode {
            AuthMode::Jwt(settings) => {
                let keys = match &settings.jwks_file {
                    Some(path) => {
                        let text = std::fs::read(path).map_err(|e| Error::Config {
                            variable: "JWT_JWKS_FILE",
                            reason: format!("cannot read {path}: {e}"),
                        })?;
                        KeySet::parse(&text).map_err(|reason| Error::Config {
                            variable: "JWT_JWKS_FILE",
                            reason,
                        })?
                    }
                    None => KeySet::default(),
                };
                let keys = Arc::new(JwtKeys {
                    expect: settings.expect.clone(),
                    hs256: settings
                        .hs256_secret
                        .as_ref()
                        .map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.as_bytes())),
                    keys: RwLock::new(keys),
                    url: settings.jwks_url.clone(),
                    sender,
                    timeout,
                    refetch_interval_ms: AtomicU64::new(JWKS_REFETCH_INTERVAL.as_millis() as u64),
                    fetches: tokio::sync::Mutex::new(Fetches::default()),
                });
                if keys.url.is_some()
                    && let Ok(runtime) = tokio::runtime::Handle::try_current()
                {
                    let keys = Arc::clone(&keys);
                    runtime.spawn(async move { keys.refresh(None).await });
                }
                Some(keys)
            }
            _ => None,
        };
        Ok(Self {
            mode: mode.clone(),
            jwt,
        })
    }

    /// Changes how soon an unknown `kid` may fetch `JWT_JWKS_URL` again (default
    /// [`JWKS_REFETCH_INTERVAL`]). Call before the first request.
    pub fn with_jwks_refetch_interval(self, interval: Duration) -> Self {
        if let Some(keys) = &self.jwt {
            let millis = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
            keys.refetch_interval_ms.store(millis, Ordering::Relaxed);
        }
        self
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            AuthMode::Gateway => "gateway",
            AuthMode::Jwt(_) => "jwt",
            AuthMode::None => "none",
        }
    }

    /// Establishes who sent `request`, at `now`.
    pub async fn identify(&self, request: &Request, now: SystemTime) -> Result<Caller, Error> {
        trace!(auth_mode = self.mode_name(), "identifying the caller");
        match (&self.mode, &self.jwt) {
            (AuthMode::None, _) => Ok(Caller::with_sub(ANONYMOUS)),
            (AuthMode::Gateway, _) => gateway_caller(request).ok_or(Error::MissingIdentity),
            (AuthMode::Jwt(_), Some(keys)) => {
                let header = request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                let token = jwt::bearer(header)?;
                let verified = keys.verify(token, now).await?;
                Ok(Caller {
                    sub: verified.sub,
                    claims: verified.claims,
                })
            }
            (AuthMode::Jwt(_), None) => Err(Error::MissingIdentity),
        }
    }
}

impl JwtKeys {
    async fn verify(&self, token: &str, now: SystemTime) -> Result<jwt::VerifiedClaims, JwtError> {
        let unverified = jwt::decode(token)?;
        let needs_jwks = unverified.alg == "RS256" || unverified.alg == "ES256";
        if needs_jwks && self.url.is_some() {
            let kid = unverified.kid.clone();
            let known = |keys: &KeySet| kid.as_deref().is_none_or(|kid| keys.has_kid(kid));
            let missing = self
                .keys
                .read()
                .map_or(true, |keys| keys.is_empty() || !known(&keys));
            if missing {
                self.refresh(kid.as_deref()).await;
            }
        }
        let keys = self
            .keys
            .read()
            .map(|keys| keys.clone())
            .unwrap_or_default();
        unverified.verify(&keys, self.hs256.as_ref(), &self.expect, now)
    }

    /// Fetches the JWKS unless the keys held already serve (the `kid`, or with `None` any key),
    /// and not before [`Fetches::wait`] has passed since the last fetch.
    async fn refresh(&self, kid: Option<&str>) {
        let Some(url) = &self.url else { return };
        let mut fetches = self.fetches.lock().await;
        let (held, any_held) = self
            .keys
            .read()
            .map(|keys| {
                let held = match kid {
                    Some(kid) => keys.has_kid(kid),
                    None => !keys.is_empty(),
                };
                (held, !keys.is_empty())
            })
            .unwrap_or((false, false));
        if held {
            return; // fetched while this caller waited, or already loaded
        }
        let interval = Duration::from_millis(self.refetch_interval_ms.load(Ordering::Relaxed));
        let wait = fetches.wait(any_held, interval);
        if fetches.last.is_some_and(|at| at.elapsed() < wait) {
            return;
        }
        let request = SignedRequest {
            method: http::Method::GET,
            url: url.clone(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let fetched = match tokio::time::timeout(self.timeout, self.sender.send(request)).await {
            Ok(Ok(reply)) if reply.status == 200 => KeySet::parse(&reply.body).map_err(|e| {
                (
                    "JwksBadResponse",
                    format!("the JWKS URL's answer is not a usable JWKS: {e}"),
                )
            }),
            Ok(Ok(reply)) => Err((
                "JwksBadResponse",
                format!("the JWKS URL answered HTTP {}", reply.status),
            )),
            Ok(Err(e)) => Err(jwks_fetch_failure(&e)),
            Err(_) => Err((
                "JwksTimeout",
                format!("the JWKS URL did not answer within {:?}", self.timeout),
            )),
        };
        fetches.last = Some(tokio::time::Instant::now());
        match fetched {
            Ok(keys) => {
                fetches.failures = 0;
                info!(url = %url, keys = ?keys, "fetched JWKS");
                if let Ok(mut current) = self.keys.write() {
                    *current = keys;
                }
            }
            Err((code, reason)) => {
                fetches.failures = fetches.failures.saturating_add(1);
                let next_fetch_in = fetches.wait(any_held, interval);
                warn!(
                    url = %url,
                    error_code = code,
                    %reason,
                    ?next_fetch_in,
                    "cannot fetch JWKS; keeping the keys held"
                );
            }
        }
    }
}

/// The `ErrorCode` and wording of a JWKS fetch the sender could not complete. The sender is
/// the one that calls STS, so its errors name STS; a JWKS failure must not read as one.
fn jwks_fetch_failure(error: &Error) -> (&'static str, String) {
    match error {
        Error::StsTimeout(after) => (
            "JwksTimeout",
            format!("the JWKS URL did not answer within {after:?}"),
        ),
        Error::StsMalformed { status, reason } => (
            "JwksBadResponse",
            format!("the JWKS URL answered HTTP {status} with an unreadable body: {reason}"),
        ),
        Error::StsUnreachable(cause) => {
            let mut chain = cause.to_string();
            let mut next = cause.source();
            while let Some(e) = next {
                chain = format!("{chain}: {e}");
                next = e.source();
            }
            (
                "JwksUnreachable",
                format!("the JWKS URL could not be reached: {chain}"),
            )
        }
        other => (
            "JwksUnreachable",
            format!("the JWKS URL could not be fetched: {other}"),
        ),
    }
}

fn string_claims(map: impl IntoIterator<Item = (String, Value)>) -> BTreeMap<String, String> {
    map.into_iter()
        .filter_map(|(name, value)| match value {
            Value::String(s) => Some((name, s)),
            Value::Number(n) => Some((name, n.to_string())),
            Value::Bool(b) => Some((name, b.to_string())),
            _ => None,
        })
        .collect()
}

/// The caller of a request signed with IAM credentials (SigV4).
///
/// The `userId` names an IAM user uniquely, but for an assumed role it is
/// `<RoleId>:<RoleSessionName>`, as distinct as the callers' session names. A Cognito identity
/// pool names every session `CognitoIdentityCredentials`, so all its users share one `userId`;
/// its `identityId` (`us-east-1:7b6c…`, one per identity) is then the caller, and is also
/// the `cognitoIdentityId` claim (with `cognitoIdentityPoolId`). A pool caller without an
/// `identityId` cannot be told apart from the pool's other users, so is refused.
fn iam_caller(iam: &ApiGatewayRequestAuthorizerIamDescription) -> Option<Caller> {
    let present = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let mut claims = BTreeMap::new();
    for (name, value) in [
        ("accountId", &iam.account_id),
        ("userArn", &iam.user_arn),
        ("callerId", &iam.caller_id),
    ] {
        if let Some(value) = present(value) {
            claims.insert(name.to_owned(), value);
        }
    }
    let pool = iam.cognito_identity.as_ref();
    let identity_id = pool.and_then(|pool| present(&pool.identity_id));
    let pool_id = pool.and_then(|pool| present(&pool.identity_pool_id));
    if let Some(pool_id) = &pool_id {
        claims.insert("cognitoIdentityPoolId".to_owned(), pool_id.clone());
    }
    let sub = match identity_id {
        Some(identity_id) => {
            claims.insert("cognitoIdentityId".to_owned(), identity_id.clone());
            identity_id
        }
        None if pool_id.is_some() => return None,
        // Every user of an identity pool signs as this one role session: without the pool's
        // identityId there is no telling them apart.
        None if [&iam.user_id, &iam.caller_id, &iam.user_arn]
            .into_iter()
            .flatten()
            .any(|id| id.ends_with(COGNITO_SESSION_NAME)) =>
        {
            return None;
        }
        None => present(&iam.user_id)?,
    };
    Some(Caller { sub, claims })
}

/// The caller API Gateway (or a Function URL) vouches for.
fn gateway_caller(request: &Request) -> Option<Caller> {
    let caller = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let authorizer = ctx.authorizer.as_ref()?;
            if let Some(jwt) = &authorizer.jwt {
                // HTTP API JWT authorizer: requestContext.authorizer.jwt.claims
                let claims: BTreeMap<String, String> = jwt.claims.clone().into_iter().collect();
                Caller {
                    sub: claims.get("sub")?.clone(),
                    claims,
                }
            } else if !authorizer.fields.is_empty() {
                // HTTP API Lambda authorizer: requestContext.authorizer.lambda
                let claims = string_claims(authorizer.fields.clone());
                let sub = claims
                    .get("sub")
                    .or_else(|| claims.get("principalId"))?
                    .clone();
                Caller { sub, claims }
            } else {
                // Function URL (or HTTP API route) with AWS_IAM auth: requestContext.authorizer.iam
                iam_caller(authorizer.iam.as_ref()?)?
            }
        }
        RequestContext::ApiGatewayV1(ctx) => {
            let fields = &ctx.authorizer.fields;
            if let Some(Value::Object(claims)) = fields.get("claims") {
                // REST API Cognito user-pool authorizer: requestContext.authorizer.claims
                let claims = string_claims(claims.clone());
                Caller {
                    sub: claims.get("sub")?.clone(),
                    claims,
                }
            } else {
                // REST API Lambda authorizer: principalId and its context
                let claims = string_claims(fields.clone());
                Caller {
                    sub: claims.get("principalId")?.clone(),
                    claims,
                }
            }
        }
        _ => return None,
    };
    (!caller.sub.is_empty()).then_some(caller)
}
