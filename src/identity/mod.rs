//! Who is asking: the caller's identity from the API gateway's authorizer, from a bearer JWT
//! verified here ([`jwt`]), or anonymous.
//!
//! The gateway's claims are read in `gateway.rs`; the keys of `AUTH_MODE=jwt`, and the
//! fetches of `JWT_JWKS_URL`, are held in `jwks.rs`.

mod gateway;
mod jwks;
pub mod jwt;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_http::Request;
use serde_json::Value;
use tracing::trace;

use self::jwks::JwtKeys;
use self::jwt::Expectations;
use crate::Error;
use crate::caller::{ANONYMOUS, Caller};
use crate::transport::HttpSender;

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
            AuthMode::Jwt(settings) => Some(JwtKeys::new(settings, sender, timeout)?),
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
            keys.set_refetch_interval(interval);
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
            (AuthMode::Gateway, _) => gateway::caller(request).ok_or(Error::MissingIdentity),
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
                    token: Some(token.to_owned()),
                })
            }
            (AuthMode::Jwt(_), None) => Err(Error::MissingIdentity),
        }
    }
}

/// Whether [`claims_as_text`] keeps boolean claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Booleans {
    /// As `true` and `false`.
    Kept,
    /// Left out.
    Dropped,
}

/// Claims as templates read them (`${claim.NAME}`): by name, as text. Strings stay as they
/// are, numbers are written in decimal, booleans become `true` or `false` when `booleans`
/// keeps them; arrays, objects and nulls are left out.
fn claims_as_text(
    claims: impl IntoIterator<Item = (String, Value)>,
    booleans: Booleans,
) -> BTreeMap<String, String> {
    claims
        .into_iter()
        .filter_map(|(name, value)| match value {
            Value::String(s) => Some((name, s)),
            Value::Number(n) => Some((name, n.to_string())),
            Value::Bool(b) if booleans == Booleans::Kept => Some((name, b.to_string())),
            _ => None,
        })
        .collect()
}
