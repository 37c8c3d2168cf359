//! One `AssumeRole` exchange: a fresh nonce, the signed request, the deadline, the answer.
//!
//! The request is built and the answer parsed by the sans-IO [`crate::sign::aliyun::sts`]; this
//! module adds what needs the outside world: randomness and the sender.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ring::rand::{SecureRandom, SystemRandom};

use crate::Credential;
use crate::Provider;
use crate::caller::Caller;
use crate::keyless::{CredentialProvider, invocation_fingerprint};
use crate::sign::SigningKeyCache;
use crate::sign::aliyun::sts::{self, AssumeRoleParams, OidcParams};
use crate::sign::aws::sts::{self as aws_sts, WebIdentityParams};
use crate::sign::hex_lower;
use crate::transport::{HttpSender, SignedRequest};
use crate::vend::cache::{CacheKey, CredentialCache};
use crate::vend::session::role_session_name;
use crate::{Error, StsRejection};

/// The most STS requests one `AssumeRole` makes.
pub const MAX_ATTEMPTS: u32 = 3;

/// The ceiling of the first pause between attempts; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How the role is assumed (`STS_ACTION`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsAction {
    /// `AssumeRole`, signed with the function's own credentials.
    AssumeRole,
    /// AWS `AssumeRoleWithWebIdentity` with the caller's verified token: no credentials of
    /// the function's own.
    WebIdentity,
    /// Alibaba Cloud `AssumeRoleWithOIDC` with the caller's verified token (anonymous).
    Oidc {
        /// `OIDC_PROVIDER_ARN`.
        oidc_provider_arn: String,
    },
}

/// Where and as whom STS is called, and the role to assume.
#[derive(Debug, Clone)]
pub struct StsSettings {
    /// `PROVIDER`.
    pub provider: Provider,
    /// `STS_ENDPOINT`, without a trailing `/`.
    pub endpoint: String,
    /// The region requests are signed for (AWS: `AWS_REGION`, else `BUCKET_REGION`).
    pub region: String,
    /// The function's own credentials, from the source the environment names
    /// (`ALIBABA_CLOUD_ACCESS_KEY_ID`, RRSA, the instance role, ...), refreshed as they age.
    pub credentials: Arc<CredentialProvider>,
    /// `STS_TIMEOUT_MS`: the deadline for one request's whole STS exchange.
    pub timeout: Duration,
    /// `STS_ACTION`: how the role is assumed.
    pub action: StsAction,
    /// `ROLE_ARN`, the role to assume.
    pub role_arn: Option<String>,
    /// `TOKEN_DURATION_SECONDS`, the STS `DurationSeconds`.
    pub duration_seconds: u32,
}

/// Calls STS `AssumeRole` with the function's own credentials, on the configured provider.
pub(super) struct StsClient {
    provider: Provider,
    endpoint: String,
    region: String,
    keys: SigningKeyCache,
    credentials: Arc<CredentialProvider>,
    action: StsAction,
    timeout: Duration,
    sender: Arc<dyn HttpSender>,
    random: SystemRandom,
}

impl std::fmt::Debug for StsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsClient")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl StsClient {
    /// A client for `settings`' STS endpoint, credentials and deadline.
    pub(super) fn new(settings: &StsSettings, sender: Arc<dyn HttpSender>) -> Self {
        Self {
            provider: settings.provider,
            endpoint: settings.endpoint.clone(),
            region: settings.region.clone(),
            keys: SigningKeyCache::default(),
            credentials: Arc::clone(&settings.credentials),
            action: settings.action.clone(),
            timeout: settings.timeout,
            sender,
            random: SystemRandom::new(),
        }
    }

    /// Assumes the role, signed at `now`. The whole exchange, retries included, ends within
    /// the deadline (`STS_TIMEOUT_MS`): throttling, 5xx answers and connection failures are
    /// tried again, up to [`MAX_ATTEMPTS`] times, after a jittered, doubling pause, when the
    /// pause still fits in the deadline.
    ///
    /// With `STS_ACTION` a token exchange, `caller_token` (the caller's verified bearer token)
    /// is exchanged instead, and the function's own credentials are not used.
    pub(super) async fn assume_role(
        &self,
        params: &AssumeRoleParams<'_>,
        caller_token: Option<&str>,
        now: SystemTime,
    ) -> Result<Credential, Error> {
        let deadline = Instant::now() + self.timeout;
        let mut attempt = 1;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let once = self.attempt(params, caller_token, now);
            let result = match tokio::time::timeout(left, once).await {
                Ok(result) => result,
                Err(_) => Err(Error::StsTimeout(self.timeout)),
            };
            match result {
                Err(error) if attempt < MAX_ATTEMPTS && retryable(&error) => {
                    let pause = self.backoff(attempt);
                    if Instant::now() + pause >= deadline {
                        return Err(error);
                    }
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Full jitter: a random pause up to 100 ms, 200 ms, 400 ms, ... for attempt 1, 2, 3, ...
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(10));
        let mut random = [0u8; 4];
        let fraction = match self.random.fill(&mut random) {
            Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        ceiling.mul_f64(fraction)
    }

    /// One signed request and its answer; each attempt has its own nonce.
    async fn attempt(
        &self,
        params: &AssumeRoleParams<'_>,
        caller_token: Option<&str>,
        now: SystemTime,
    ) -> Result<Credential, Error> {
        let request = match (&self.action, caller_token) {
            (StsAction::AssumeRole, _) => self.signed_request(params, now).await?,
            (exchange, Some(token)) => {
                exchange_request(&self.endpoint, exchange, params, token, now)
            }
            (_, None) => return Err(Error::MissingIdentity),
        };
        let reply = self.sender.send(request).await?;
        let parsed = match self.provider {
            Provider::Aliyun => sts::parse_assume_role_response(reply.status, &reply.body),
            Provider::Aws => aws_sts::parse_assume_role_response(reply.status, &reply.body),
        };
        parsed.map_err(|error| match error {
            Error::StsRejected(rejection) => Error::StsRejected(StsRejection {
                retry_after: reply.retry_after_seconds(now),
                ..rejection
            }),
            other => other,
        })
    }

    /// `AssumeRole` signed with the function's own credential of the moment.
    async fn signed_request(
        &self,
        params: &AssumeRoleParams<'_>,
        now: SystemTime,
    ) -> Result<SignedRequest, Error> {
        let credential = self.credentials.credential(&self.sender, now).await?;
        Ok(match self.provider {
            Provider::Aliyun => {
                let mut nonce = [0u8; 16];
                self.random.fill(&mut nonce).map_err(|_| {
                    Error::StsUnreachable("no randomness for SignatureNonce".into())
                })?;
                sts::assume_role_request(
                    &self.endpoint,
                    &credential,
                    params,
                    now,
                    &hex_lower(&nonce),
                )
            }
            Provider::Aws => aws_sts::assume_role_request(
                &self.endpoint,
                &self.region,
                &credential,
                params,
                now,
                &self.keys,
            ),
        })
    }
}

/// The token exchange `action` names, for the caller's `token`, with the session name, the
/// session policy and the duration of `params`: no credential of the function's own.
fn exchange_request(
    endpoint: &str,
    action: &StsAction,
    params: &AssumeRoleParams<'_>,
    token: &str,
    now: SystemTime,
) -> SignedRequest {
    match action {
        StsAction::Oidc { oidc_provider_arn } => sts::assume_role_with_oidc_request(
            endpoint,
            &OidcParams {
                role_arn: params.role_arn,
                oidc_provider_arn,
                oidc_token: token,
                role_session_name: params.role_session_name,
                policy: params.policy,
                duration_seconds: params.duration_seconds,
            },
            now,
        ),
        StsAction::WebIdentity | StsAction::AssumeRole => {
            aws_sts::assume_role_with_web_identity_request(
                endpoint,
                &WebIdentityParams {
                    role_arn: params.role_arn,
                    role_session_name: params.role_session_name,
                    web_identity_token: token,
                    policy: params.policy,
                    duration_seconds: params.duration_seconds,
                },
            )
        }
    }
}

/// Whether trying again may help: throttling, STS's own 5xx, or the connection.
fn retryable(error: &Error) -> bool {
    match error {
        Error::StsRejected(r) => {
            let family = r.code.split('.').next().unwrap_or("");
            matches!(
                family,
                "Throttling" | "ServiceUnavailable" | "InternalError" | "InternalFailure"
            ) || r.status >= 500
        }
        Error::StsMalformed { status, .. } => *status >= 500,
        Error::StsUnreachable(_) => true,
        _ => false,
    }
}

/// An assumed role whose temporary credentials are cached per caller: a credential is reused
/// only for the same session name and rendered policy, and for the same signer (the key the
/// platform handed the invocation, or the function's own), and concurrent misses for one caller
/// make one STS call.
pub struct CachedRole {
    role_arn: String,
    duration_seconds: u32,
    sts: StsClient,
    cache: CredentialCache,
}

impl std::fmt::Debug for CachedRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedRole")
            .field("role_arn", &self.role_arn)
            .field("entries", &self.cache.len())
            .finish()
    }
}

impl CachedRole {
    /// How many callers' credentials are kept: a full cache of temporary credentials with
    /// tokens of about 700 characters, with their policies, adds about 8 MiB, which keeps the
    /// process within DESIGN.md's 20 MB. Beyond it, a tenth is dropped at a time
    /// ([`CredentialCache`]).
    pub const CAPACITY: usize = 4096;

    /// The role `role_arn`, assumed for `TOKEN_DURATION_SECONDS` with `settings`' STS.
    pub fn new(settings: &StsSettings, role_arn: &str, sender: Arc<dyn HttpSender>) -> Self {
        Self {
            role_arn: role_arn.to_owned(),
            duration_seconds: settings.duration_seconds,
            sts: StsClient::new(settings, sender),
            cache: CredentialCache::new(Self::CAPACITY),
        }
    }

    /// Credentials under `policy` for `caller`: the cached ones while more than `min_left`
    /// of their life remains at `now`, otherwise fresh ones from STS (with `STS_ACTION` a
    /// token exchange, for the caller's own token). Inside an invocation handed a key of its
    /// own ([`crate::keyless::with_invocation_credential`]), only what that same key
    /// obtained is reused.
    pub async fn credentials(
        &self,
        caller: &Caller,
        policy: String,
        now: SystemTime,
        min_left: Duration,
    ) -> Result<Credential, Error> {
        let sub = caller.sub.as_str();
        let session = role_session_name(sub);
        let key = CacheKey {
            role_arn: self.role_arn.clone(),
            role_session_name: session.clone(),
            caller: sub.to_owned(),
            policy: policy.clone(),
            duration_seconds: self.duration_seconds,
            signed_by: invocation_fingerprint(),
        };
        let usable = |c: &Credential| c.expiration.is_some_and(|e| e > now + min_left);
        let fetch = || async {
            let params = AssumeRoleParams {
                role_arn: &self.role_arn,
                role_session_name: &session,
                policy: Some(&policy),
                duration_seconds: self.duration_seconds,
            };
            let token = caller.token.as_deref();
            self.sts.assume_role(&params, token, now).await
        };
        self.cache.get_or_fetch(key, now, usable, fetch).await
    }

    /// `TOKEN_DURATION_SECONDS`.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.duration_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyless::{CredentialSource, with_invocation_credential};
    use crate::transport::CannedSender;
    use crate::{Clock, FixedClock};

    /// A recorded `AssumeRole` success, valid until 2026-11-22T09:53:10Z.
    const ISSUED: &str = r#"{"RequestId":"r","Credentials":{"AccessKeyId":"STS.issued","AccessKeySecret":"s","SecurityToken":"t","Expiration":"2026-11-22T09:53:10Z"}}"#;

    fn role(sts: &Arc<CannedSender>) -> CachedRole {
        let settings = StsSettings {
            provider: Provider::Aliyun,
            endpoint: "http://127.0.0.1:9".to_owned(),
            region: "cn-hangzhou".to_owned(),
            credentials: CredentialProvider::new(
                CredentialSource::Static {
                    credential: Credential::new("LTAI-own", "own-secret", None),
                    origin: "environment".to_owned(),
                },
                Duration::from_secs(3),
            ),
            timeout: Duration::from_secs(3),
            action: StsAction::AssumeRole,
            role_arn: Some("acs:ram::1:role/r".to_owned()),
            duration_seconds: 3600,
        };
        let sender: Arc<dyn HttpSender> = sts.clone();
        CachedRole::new(&settings, "acs:ram::1:role/r", sender)
    }

    /// The `AccessKeyId` each request `sts` received was signed with, in order.
    fn signed_with(sts: &CannedSender) -> Vec<String> {
        sts.sent()
            .iter()
            .map(|request| {
                let form = std::str::from_utf8(&request.body).expect("form");
                form.split('&')
                    .find_map(|pair| pair.strip_prefix("AccessKeyId="))
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_credential_obtained_with_a_handed_key_serves_invocations_handed_that_key_only() {
        let sts = CannedSender::answering(200, ISSUED);
        let role = role(&sts);
        // 2026-11-22T08:53:10Z: the issued credential has an hour left.
        let now = FixedClock::at_unix(1_795_337_590).now();
        let alice = Caller::with_sub("alice");
        let handed =
            |id: &str| Credential::new(id, format!("{id}-secret"), Some(format!("{id}-token")));
        let invocations = [
            (Some(handed("STS.key-a")), vec!["STS.key-a"]),
            (Some(handed("STS.key-b")), vec!["STS.key-a", "STS.key-b"]),
            (None, vec!["STS.key-a", "STS.key-b", "LTAI-own"]),
            // The same key again, and the function's own again: what they obtained is reused.
            (
                Some(handed("STS.key-a")),
                vec!["STS.key-a", "STS.key-b", "LTAI-own"],
            ),
            (None, vec!["STS.key-a", "STS.key-b", "LTAI-own"]),
        ];
        for (n, (key, expected)) in invocations.into_iter().enumerate() {
            let work = role.credentials(&alice, "{}".to_owned(), now, Duration::from_secs(60));
            let got = match key {
                Some(key) => with_invocation_credential(key, work).await,
                None => work.await,
            };
            assert_eq!(got.expect("credentials").access_key_id, "STS.issued");
            assert_eq!(signed_with(&sts), expected, "after invocation {}", n + 1);
        }
    }
}
