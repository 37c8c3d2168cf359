//! presign-url: presigned URLs and form-upload policies for one object under the caller's
//! prefix.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use stsvend::aliyun::oss::{self, KeyCondition, ObjectRequest, PostParams};
use stsvend::aliyun::sts::AssumeRoleParams;
use stsvend::cache::{CacheKey, CredentialCache};
use stsvend::config::{Config, SignatureVersion};
use stsvend::credential::Credential;
use stsvend::error::Error;
use stsvend::identity::{self, Caller, role_session_name};
use stsvend::policy::PolicyTemplate;
use stsvend::prefix::check_key;
use stsvend::response::{self, ApiError};
use stsvend::sts_client::StsClient;
use stsvend::time::{Clock, format_iso8601};
use stsvend::transport::HttpSender;

use crate::request::{self, Ask, DEFAULT_EXPIRES_SECONDS, Operation};

/// How many callers' temporary credentials are kept.
const CACHE_CAPACITY: usize = 10_000;

/// The form upload's `success_action_status`: 201 answers with the object's location.
const SUCCESS_ACTION_STATUS: &str = "201";

/// What every request needs, built once per cold start.
pub(crate) struct AppState {
    config: Config,
    clock: Arc<dyn Clock>,
    signer: Signer,
}

/// Whose key signs.
enum Signer {
    /// The function's own key (and `ALIBABA_CLOUD_SECURITY_TOKEN` when set).
    Own,
    /// Temporary keys from `AssumeRole` under the caller's session policy, so that a URL can
    /// do no more than the caller could; reused while at least half their life is left.
    Role {
        role_arn: String,
        policy: PolicyTemplate,
        sts: StsClient,
        cache: CredentialCache,
    },
}

impl AppState {
    /// With `ROLE_ARN`, signs with temporary keys whose session policy allows the object
    /// actions behind `PRESIGN_METHODS` on the caller's prefix; without it, with the
    /// function's own key.
    pub(crate) fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn HttpSender>,
    ) -> Result<Self, Error> {
        let signer = match &config.role_arn {
            Some(role_arn) => {
                let policy = PolicyTemplate::allowing(
                    "presign-url session policy",
                    &config.presign_methods.oss_actions(),
                );
                config.check_policy_fits(&policy)?;
                Signer::Role {
                    role_arn: role_arn.clone(),
                    policy,
                    sts: StsClient::new(&config, sender),
                    cache: CredentialCache::new(CACHE_CAPACITY),
                }
            }
            None => Signer::Own,
        };
        Ok(Self {
            config,
            clock,
            signer,
        })
    }

    /// The credential that signs for `caller`.
    async fn credential(
        &self,
        caller: &Caller,
        prefix: &str,
        now: SystemTime,
    ) -> Result<Credential, Error> {
        let Signer::Role {
            role_arn,
            policy,
            sts,
            cache,
        } = &self.signer
        else {
            return Ok(self.config.credential.clone());
        };
        let policy = self.config.render_policy(policy, &caller.sub, prefix)?;
        let duration_seconds = self.config.token_duration_seconds;
        let half_life = Duration::from_secs(u64::from(duration_seconds) / 2);
        let session = role_session_name(&caller.sub);
        let key = CacheKey {
            role_arn: role_arn.clone(),
            policy: policy.clone(),
            duration_seconds,
        };
        let usable = |c: &Credential| c.expiration.is_some_and(|e| e > now + half_life);
        let fetch = || async {
            let params = AssumeRoleParams {
                role_arn,
                role_session_name: &session,
                policy: Some(&policy),
                duration_seconds,
            };
            sts.assume_role(&params, now).await
        };
        cache.get_or_fetch(key, now, usable, fetch).await
    }
}

/// Name/value pairs serialized as a JSON object in their own order.
struct Ordered<'a>(&'a [(String, String)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A presigned URL, and what the client must send with it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UrlAnswer<'a> {
    status_code: u16,
    method: &'a str,
    #[serde(rename = "URL")]
    url: String,
    headers: Ordered<'a>,
    expiration: String,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_capped_by: Option<&'static str>,
}

/// A form upload: where to POST and the fields to send before the file.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FormAnswer<'a> {
    status_code: u16,
    method: &'a str,
    #[serde(rename = "URL")]
    url: String,
    fields: Ordered<'a>,
    expiration: String,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_capped_by: Option<&'static str>,
}

/// Answers one request. Never fails: every refusal is an answer in the documented shape.
pub(crate) async fn handle(state: Arc<AppState>, request: Request) -> Response<Body> {
    let started = Instant::now();
    response::finish(presign(&state, &request).await, started, "presigned")
}

async fn presign(
    state: &AppState,
    request: &Request,
) -> Result<(Response<Body>, String), ApiError> {
    let ask = match *request.method() {
        Method::GET => request::parse_query(
            request
                .query_string_parameters_ref()
                .into_iter()
                .flat_map(|q| q.iter()),
        ),
        Method::POST => request::parse_json(request.body().as_ref()),
        ref other => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!(
                    "{other} is not supported; send GET with query parameters or POST with a JSON body"
                ),
            ));
        }
    }?;
    let config = &state.config;
    let caller = identity::identify(config.auth_mode, request)?;
    let prefix = config.object_prefix.render(&caller.sub)?;
    let key = checked_key(&ask, &prefix)?;
    let permission = ask.operation.permission();
    if !config.presign_methods.allows(permission) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "MethodNotPermitted",
            format!("this deployment does not presign {permission} (PRESIGN_METHODS)"),
        ));
    }
    check_content_type(&ask, &config.allowed_content_types)?;

    let now = state.clock.now();
    let credential = state.credential(&caller, &prefix, now).await?;
    let (expires_in, capped_by) =
        expiry(&ask, config.presign_max_expires_seconds, &credential, now)?;
    let expiration = format_iso8601(now + Duration::from_secs(expires_in));
    let answer = match ask.operation {
        Operation::Form { starts_with } => {
            let params = PostParams {
                bucket: &config.bucket,
                region: &config.bucket_region,
                key: if starts_with {
                    KeyCondition::StartsWith(&key)
                } else {
                    KeyCondition::Exact(&key)
                },
                max_bytes: config.upload_max_bytes,
                content_type: ask.content_type.as_deref(),
                success_action_status: SUCCESS_ACTION_STATUS,
                expiration: now + Duration::from_secs(expires_in),
                now,
            };
            let form = match config.signature_version {
                SignatureVersion::V4 => oss::post_policy_v4(&credential, &params),
                SignatureVersion::V1 => oss::post_policy_v1(&credential, &params),
            };
            response::json(
                StatusCode::OK,
                &FormAnswer {
                    status_code: 200,
                    method: "POST",
                    url: config.bucket_endpoint.object_url(&config.bucket, ""),
                    fields: Ordered(&form.fields),
                    expiration,
                    expires_in,
                    expires_capped_by: capped_by,
                },
            )
        }
        ref operation => {
            let mut headers = Vec::new();
            if let Some(content_type) = &ask.content_type {
                headers.push(("Content-Type".to_owned(), content_type.clone()));
            }
            if let Some(md5) = &ask.content_md5 {
                headers.push(("Content-MD5".to_owned(), md5.clone()));
            }
            let mut query = operation.query();
            query.extend(ask.overrides.iter().cloned());
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let header_refs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let object = ObjectRequest {
                method: operation.http_method(),
                bucket: &config.bucket,
                key: &key,
                query: &query,
                headers: &header_refs,
            };
            let url = match config.signature_version {
                SignatureVersion::V4 => oss::presign_v4(
                    &config.bucket_endpoint,
                    &credential,
                    &config.bucket_region,
                    &object,
                    now,
                    Duration::from_secs(expires_in),
                ),
                SignatureVersion::V1 => oss::presign_v1(
                    &config.bucket_endpoint,
                    &credential,
                    &object,
                    now + Duration::from_secs(expires_in),
                ),
            };
            response::json(
                StatusCode::OK,
                &UrlAnswer {
                    status_code: 200,
                    method: operation.http_method(),
                    url,
                    headers: Ordered(&headers),
                    expiration,
                    expires_in,
                    expires_capped_by: capped_by,
                },
            )
        }
    };
    Ok((answer, role_session_name(&caller.sub)))
}

/// The key to sign: present (or, for a `startsWith` form, defaulting to the caller's
/// prefix), well-formed, and under the caller's prefix.
fn checked_key(ask: &Ask, prefix: &str) -> Result<String, ApiError> {
    let starts_with = matches!(ask.operation, Operation::Form { starts_with: true });
    let key = match (&ask.key, starts_with) {
        (Some(key), _) => key.clone(),
        (None, true) => prefix.to_owned(),
        (None, false) => return Err(ApiError::bad_request("MissingKey", "key is required")),
    };
    if !(starts_with && key.is_empty()) {
        check_key(&key).map_err(|reason| {
            ApiError::bad_request("InvalidKey", format!("the key cannot be used: {reason}"))
        })?;
    }
    if !key.starts_with(prefix) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "KeyOutsidePrefix",
            format!("the key must start with your prefix {prefix:?}"),
        ));
    }
    Ok(key)
}

/// `ALLOWED_CONTENT_TYPES` (when set) for the requests that set an object's type: the type
/// must be given, and its media type must match an entry (`image/*` matches `image/png`).
fn check_content_type(ask: &Ask, allowed: &[String]) -> Result<(), ApiError> {
    if allowed.is_empty() || !ask.operation.sets_content_type() {
        return Ok(());
    }
    let Some(content_type) = &ask.content_type else {
        return Err(ApiError::bad_request(
            "ContentTypeRequired",
            format!(
                "this deployment accepts only {}; send contentType",
                allowed.join(", ")
            ),
        ));
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let kind = media.split('/').next().unwrap_or("");
    let matches = |entry: &String| *entry == media || entry.strip_suffix("/*") == Some(kind);
    if allowed.iter().any(matches) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ContentTypeNotAllowed",
            format!("{content_type:?} is not among {}", allowed.join(", ")),
        ))
    }
}

/// The URL's lifetime: `expires` (default 900 s), capped by `PRESIGN_MAX_EXPIRES_SECONDS`
/// and by what is left of the signing credential's life. A cap on an explicit `expires` is
/// reported by name.
fn expiry(
    ask: &Ask,
    max: u64,
    credential: &Credential,
    now: SystemTime,
) -> Result<(u64, Option<&'static str>), ApiError> {
    let mut expires_in = ask.expires.unwrap_or(DEFAULT_EXPIRES_SECONDS);
    let mut capped_by = None;
    if expires_in > max {
        expires_in = max;
        capped_by = Some("PRESIGN_MAX_EXPIRES_SECONDS");
    }
    if let Some(expiration) = credential.expiration {
        let left = expiration.duration_since(now).map_or(0, |d| d.as_secs());
        if expires_in > left {
            expires_in = left;
            capped_by = Some("CredentialExpiration");
        }
    }
    if expires_in == 0 {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CredentialExpired",
            "the signing credentials have expired",
        ));
    }
    Ok((expires_in, ask.expires.and(capped_by)))
}
