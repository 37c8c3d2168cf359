//! presign-url: presigned URLs and form-upload policies for one object under the caller's
//! prefix.
//!
//! A request goes through named steps: parse, identify, prefix, key, rules, credential,
//! expiry, sign, answer. The request's own shape is `request.rs`, the deployment's rules are
//! `rules.rs`, and the signing is the library's [`Presigner`].

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use stsvend::{Caller, Credential, Error, KeyTemplate};
use stsvend_host::{CallbackSettings, Config};

use crate::settings::PresignSettings;
use ring::rand::{SecureRandom, SystemRandom};
use stsvend::{
    Authenticator, CachedRole, Clock, HttpSender, role_session_name,
    sign::Presigner,
    sign::aliyun::callback::{self, TagScope},
    sign::{KeyCondition, ObjectRequest, PostParams},
    unix_seconds,
};
use stsvend_host::quota::Quotas;
use stsvend_host::response::{self, ApiError};

use crate::answer::{Expiry, Ordered, UrlAnswer};
use crate::cdn::{self, CdnSettings};
use crate::checks;
use crate::companion;
use crate::listing::{self, Listing};
use crate::parts;
use crate::profile::{self, ProfileState};
use crate::quota::{self, Grant};
use crate::request::{self, Ask, Operation};
use crate::upload;

/// Uppy Companion's default key (`getKey`, `${randomUUID()}-${filename}` since uppy#3869).
const COMPANION_KEY: &str = "${uuid}-${filename}";

/// The form upload's `success_action_status`: 201 answers with the object's location.
const SUCCESS_ACTION_STATUS: &str = "201";

/// What every request needs, built once per cold start.
pub struct AppState {
    pub(crate) config: Config,
    /// The upload profiles, in `config.profiles`' order.
    pub(crate) profiles: Vec<ProfileState>,
    clock: Arc<dyn Clock>,
    auth: Authenticator,
    signer: Signer,
    pub(crate) presigner: Presigner,
    /// The transport, for the requests presign-url sends the store itself (Uppy Companion's
    /// multipart routes).
    pub(crate) sender: Arc<dyn HttpSender>,
    /// The key a Companion upload gets when its profile chooses none: Companion's own
    /// default, `${uuid}-${filename}`, under the caller's prefix.
    pub(crate) companion_key: KeyTemplate,
    /// `COMPANION_STS`: whether Companion's `s3/sts` hands out temporary credentials (off by
    /// default: they upload outside every signed rule, as issue-token's do).
    pub(crate) companion_sts: bool,
    /// `UPLOAD_CALLBACK_URL` and `UPLOAD_CALLBACK_SECRET`: the callback pinned into every OSS
    /// upload.
    callback: Option<CallbackSettings>,
    /// `CDN_DOMAIN` and its signing: downloads through the CDN.
    cdn: Option<CdnSettings>,
    /// The quota store, when a profile has a quota or a grant rate.
    quotas: Option<Quotas>,
}

/// Whose key signs.
enum Signer {
    /// The function's own credentials, from their source (refreshed as they age).
    Own(Arc<dyn HttpSender>),
    /// Temporary keys from `AssumeRole` under the caller's session policy, so that a URL can
    /// do no more than the caller could; reused while at least half their life is left.
    Role(Box<RoleSigner>),
}

/// Signing with temporary keys of an assumed role, under each profile's session policy.
struct RoleSigner {
    role: CachedRole,
}

impl AppState {
    /// Reads presign-url's own settings. With `ROLE_ARN`, signs with temporary keys whose
    /// session policy allows the object actions behind `PRESIGN_METHODS` on the caller's
    /// prefix; without it, with the function's own key.
    pub fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn HttpSender>,
    ) -> Result<Self, Error> {
        let settings = PresignSettings::load(&config)?;
        let profiles = profile::load(&config, &settings)?;
        let callback = CallbackSettings::load(&config)?;
        let cdn = CdnSettings::load(&config)?;
        if cdn.is_none()
            && let Some(profile) = config.profiles.list.iter().find(|p| p.cdn)
        {
            return Err(stsvend_host::config::invalid(
                "CDN_DOMAIN",
                format!(
                    "is required: profile {:?} serves its downloads through the CDN (cdn = true)",
                    profile.name
                ),
            ));
        }
        let quotas = Quotas::from_config(&config)?;
        let signer = match &config.sts.role_arn {
            Some(role_arn) => Signer::Role(Box::new(RoleSigner {
                role: CachedRole::new(&config.sts, role_arn, Arc::clone(&sender)),
            })),
            None => Signer::Own(Arc::clone(&sender)),
        };
        let presigner = Presigner::new(
            settings.scheme,
            config.bucket_endpoint.clone(),
            &config.scope.bucket,
            &config.bucket_region,
        );
        Ok(Self {
            auth: Authenticator::new(&config.auth_mode, Arc::clone(&sender), config.sts.timeout)?,
            sender,
            companion_sts: config.read(|env| env.flag("COMPANION_STS", false))?,
            companion_key: KeyTemplate::parse(COMPANION_KEY).map_err(|reason| Error::Config {
                variable: "PROFILES_FILE",
                reason,
            })?,
            config,
            profiles,
            clock,
            signer,
            presigner,
            callback,
            cdn,
            quotas,
        })
    }

    /// The `callback` parameter pinned into an upload of `scope` that expires at `expires`,
    /// when callbacks are configured: record-upload trusts what its body says of the object
    /// because of the tag in it.
    fn callback(&self, scope: TagScope<'_>, expires: SystemTime) -> Option<String> {
        let settings = self.callback.as_ref()?;
        let expires = unix_seconds(expires);
        let tag = callback::tag(&settings.secret, self.presigner.bucket(), scope, expires);
        let body = callback::callback_body(scope, expires, &tag);
        Some(callback::callback_parameter(&settings.url, &body))
    }

    /// The credential that signs for `caller` under `profile`.
    async fn credential(
        &self,
        profile: &ProfileState,
        caller: &Caller,
        prefix: &str,
        now: SystemTime,
    ) -> Result<Credential, Error> {
        let role = match &self.signer {
            Signer::Own(sender) => {
                return self.config.sts.credentials.credential(sender, now).await;
            }
            Signer::Role(role) => role,
        };
        let policy = self
            .config
            .scope
            .render_policy(&profile.session_policy, caller, prefix)?;
        // Reused while more than half their life is left; a URL cannot outlive them.
        let half_life = role.role.duration() / 2;
        role.role.credentials(caller, policy, now, half_life).await
    }
}

/// Answers one request. Never fails: every refusal is an answer in the documented shape.
pub async fn handle(state: Arc<AppState>, request: Request) -> Response<Body> {
    let started = Instant::now();
    // A path ending in one of Uppy Companion's S3 routes (`…/s3/params`) is a Companion request.
    if let Some(found) = companion::find(request.method(), request.uri().path()) {
        return companion::handle(&state, &request, found, started).await;
    }
    response::finish(presign(&state, &request).await, started, "presigned")
}

async fn presign(
    state: &AppState,
    request: &Request,
) -> Result<(Response<Body>, String), ApiError> {
    let ask = parse(request)?;
    let asker = identify(state, request, ask.profile.as_deref()).await?;
    let who = role_session_name(&asker.caller.sub);
    if ask.operation == Operation::Usage {
        let counted = asker.counted;
        let answer = quota::usage(state.quotas.as_ref(), counted, &asker.caller, asker.now).await?;
        return Ok((answer, who));
    }
    let via_cdn = cdn::applies(&ask, asker.profile.cdn, state.cdn.as_ref())?;
    if let (Some(cdn), Operation::Cookies) = (via_cdn, &ask.operation) {
        let answer = cookies_for_prefix(cdn, asker.profile, &ask, &asker.prefix, asker.now)?;
        return Ok((answer, who));
    }
    if let Operation::List(listing) = &ask.operation {
        let (profile, caller, prefix) = (asker.profile, &asker.caller, &asker.prefix);
        return list(state, profile, &ask, listing, caller, prefix, asker.now).await;
    }
    if let Some(cdn) = via_cdn {
        let answer = download_via_cdn(cdn, &asker, &ask)?;
        return Ok((answer, who));
    }
    let prepared = prepare(state, asker, &ask, None).await?;
    let job = prepared.job(&ask);
    let answer = match ask.operation {
        Operation::Form { starts_with } => form(state, &job, starts_with),
        Operation::Parts {
            ref upload_id,
            ref part_numbers,
        } => {
            let batch = parts::Batch {
                key: &prepared.key,
                upload_id,
                part_numbers,
                headers: signed_headers(&ask),
                profile: &prepared.profile.name,
            };
            parts::answer(
                &state.presigner,
                &batch,
                &prepared.credential,
                prepared.now,
                prepared.expiry,
            )
        }
        ref operation => url(state, &job, operation),
    };
    Ok((answer, role_session_name(&prepared.caller.sub)))
}

/// A request read and allowed: its profile, who asks, the key, the credential that signs, how
/// long the URL lives and what the upload rules add.
pub(crate) struct Prepared<'a> {
    pub(crate) profile: &'a ProfileState,
    pub(crate) caller: Caller,
    pub(crate) key: String,
    /// Whether the server chose the key.
    pub(crate) chosen: bool,
    pub(crate) credential: Credential,
    pub(crate) now: SystemTime,
    pub(crate) expiry: Expiry,
    pub(crate) stamped: Vec<(String, String)>,
}

impl Prepared<'_> {
    /// The signing job for `ask`.
    pub(crate) fn job<'a>(&'a self, ask: &'a Ask) -> Job<'a> {
        Job {
            ask,
            profile: self.profile,
            key: &self.key,
            chosen: self.chosen,
            credential: &self.credential,
            now: self.now,
            expiry: self.expiry,
            stamped: &self.stamped,
        }
    }
}

/// Who asks, under which profile: the steps every request takes first.
pub(crate) struct Asker<'a> {
    /// The profile's signing state.
    pub(crate) profile: &'a ProfileState,
    /// The profile as configured (its quota and rate).
    pub(crate) counted: &'a stsvend_host::config::Profile,
    pub(crate) caller: Caller,
    /// The caller's prefix under the profile.
    pub(crate) prefix: String,
    pub(crate) now: SystemTime,
}

/// Profile, identity, prefix, and the grant counted toward the profile's `grant_rate`: every
/// answer counts one, whatever it signs (429 `GrantRateExceeded` over it).
pub(crate) async fn identify<'a>(
    state: &'a AppState,
    request: &Request,
    profile: Option<&str>,
) -> Result<Asker<'a>, ApiError> {
    let index = state.config.profiles.choose(profile)?;
    let (profile, counted) = (&state.profiles[index], &state.config.profiles.list[index]);
    let now = state.clock.now();
    let caller = state.auth.identify(request, now).await?;
    let prefix = profile.prefix.render(&caller)?;
    if let Some(quotas) = &state.quotas {
        quotas
            .count_grant(counted, &caller, unix_seconds(now))
            .await?;
    }
    Ok(Asker {
        profile,
        counted,
        caller,
        prefix,
        now,
    })
}

/// The named steps every object request goes through after [`identify`]: key (from the
/// profile's template or, for a new object, `default_key` when the profile has none), checks,
/// rules, credential, expiry, and the quota: an upload grant reserves its bound, a later step
/// of a multipart upload is refused while the subject is at or over the quota.
pub(crate) async fn prepare<'a>(
    state: &'a AppState,
    asker: Asker<'a>,
    ask: &Ask,
    default_key: Option<&KeyTemplate>,
) -> Result<Prepared<'a>, ApiError> {
    let Asker {
        profile,
        counted,
        caller,
        prefix,
        now,
    } = asker;
    let random = random_bytes()?;
    let template = profile.key.as_ref().or(default_key);
    let (key, chosen) = profile::key(ask, &prefix, template, now, random)?;
    let settings = &profile.settings;
    checks::check(ask, &key, &prefix, settings)?;
    upload::check(ask, settings)?;
    let stamped = upload::stamped(ask, settings.scheme, &settings.rules, &caller)?;
    let credential = state.credential(profile, &caller, &prefix, now).await?;
    let expiry = checks::expiry(
        ask,
        (settings.max_expires_seconds, settings.max_expires_by),
        Some(&credential),
        now,
    )?;
    if let Some(quotas) = &state.quotas {
        if quota::reserves(&ask.operation) {
            let grant = Grant {
                key: &key,
                bytes: quota::bound(ask, settings, counted)?,
                expires_in: expiry.expires_in,
                now,
            };
            quota::reserve(quotas, counted, &caller, grant).await?;
        } else if quota::continues_upload(&ask.operation) {
            quota::refuse_if_full(quotas, counted, &caller, now).await?;
        }
    }
    Ok(Prepared {
        profile,
        caller,
        key,
        chosen,
        credential,
        now,
        expiry,
        stamped,
    })
}

/// Temporary credentials for the caller under `profile` (Companion's `s3/sts`, with
/// `COMPANION_STS=true`): issue-token's session, `AssumeRole` under the profile's `policy` (else
/// `POLICY_FILE`) rendered for the caller's prefix, for `TOKEN_DURATION_SECONDS`; `None` without
/// `ROLE_ARN` (the function's own key must not leave) or without `COMPANION_STS`. Counted as a
/// grant, and refused while the subject is at or over the quota, as issue-token is.
pub(crate) async fn caller_credential(
    state: &AppState,
    request: &Request,
    profile: Option<&str>,
) -> Result<Option<(Credential, Caller)>, ApiError> {
    let Signer::Role(role) = &state.signer else {
        return Ok(None);
    };
    if !state.companion_sts {
        return Ok(None);
    }
    let asker = identify(state, request, profile).await?;
    if let Some(quotas) = &state.quotas {
        quota::refuse_if_full(quotas, asker.counted, &asker.caller, asker.now).await?;
    }
    let config = &state.config;
    let template = asker.counted.policy.as_ref().unwrap_or(&config.policy);
    let policy = config
        .scope
        .render_policy(template, &asker.caller, &asker.prefix)?;
    // Reused while more than half their life is left, as presign-url's own signing keys are.
    let half_life = role.role.duration() / 2;
    let credential = role
        .role
        .credentials(&asker.caller, policy, asker.now, half_life)
        .await?;
    Ok(Some((credential, asker.caller)))
}

/// A download of `key` through the CDN ([`cdn::applies`] checked it): its life capped as a
/// bucket GET's, signed with the CDN's key (no store credential is needed).
fn download_via_cdn(
    cdn: &CdnSettings,
    asker: &Asker<'_>,
    ask: &Ask,
) -> Result<Response<Body>, ApiError> {
    let (profile, prefix, now) = (asker.profile, &asker.prefix, asker.now);
    let (key, _) = profile::key(ask, prefix, profile.key.as_ref(), now, random_bytes()?)?;
    let settings = &profile.settings;
    checks::check(ask, &key, prefix, settings)?;
    let max = (settings.max_expires_seconds, settings.max_expires_by);
    let expiry = checks::expiry(ask, max, None, now)?;
    cdn.answer(&key, now, expiry, random_seed()?, &profile.name)
}

/// CloudFront cookies for the caller's whole prefix: `GET` must be among the profile's
/// methods, and their life is capped as a bucket GET's.
fn cookies_for_prefix(
    cdn: &CdnSettings,
    profile: &ProfileState,
    ask: &Ask,
    prefix: &str,
    now: SystemTime,
) -> Result<Response<Body>, ApiError> {
    let settings = &profile.settings;
    checks::check_method(ask, settings)?;
    let max = (settings.max_expires_seconds, settings.max_expires_by);
    let expiry = checks::expiry(ask, max, None, now)?;
    cdn.cookies(prefix, now, expiry, random_seed()?, &profile.name)
}

/// 32 bytes from the system's random source: a CDN URL's type A `rand`, CloudFront's RSA
/// blinding.
fn random_seed() -> Result<[u8; 32], ApiError> {
    let mut seed = [0; 32];
    seed[..16].copy_from_slice(&random_bytes()?);
    seed[16..].copy_from_slice(&random_bytes()?);
    Ok(seed)
}

/// 16 bytes from the system's random source, for a server-chosen key's `${uuid}`.
fn random_bytes() -> Result<[u8; 16], ApiError> {
    let mut bytes = [0; 16];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "the system's random source failed",
        )
    })?;
    Ok(bytes)
}

/// The request's fields: a query on GET, a JSON body on POST.
fn parse(request: &Request) -> Result<Ask, ApiError> {
    match *request.method() {
        // The query as sent (HTTP mode, HTTP API and Function URL events carry it raw; for
        // REST API and ALB events lambda_http re-encodes what the gateway decoded).
        Method::GET => request::parse_query(request.uri().query().unwrap_or_default()),
        Method::POST => request::parse_json(request.body().as_ref()),
        ref other => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "{other} is not supported; send GET with query parameters or POST with a JSON body"
            ),
        )),
    }
}

/// One URL or form to sign: what was asked, for which key, with which credential, when and
/// for how long, and what the upload rules add.
pub(crate) struct Job<'a> {
    ask: &'a Ask,
    profile: &'a ProfileState,
    key: &'a str,
    /// Whether the server chose the key (the answer names it).
    chosen: bool,
    credential: &'a Credential,
    now: SystemTime,
    expiry: Expiry,
    /// Headers a URL signs, or fields a form pins, for the upload rules.
    stamped: &'a [(String, String)],
}

/// A form upload policy for the job's key (or any key under it, with `starts_with`).
fn form(state: &AppState, job: &Job<'_>, starts_with: bool) -> Response<Body> {
    let fields = signed_form(state, job, starts_with);
    let answer = UrlAnswer {
        fields: Some(Ordered(&fields)),
        key: job.chosen.then_some(job.key),
        ..UrlAnswer::new(
            "POST",
            state.presigner.form_url(),
            job.now,
            job.expiry,
            &job.profile.name,
        )
    };
    response::json(StatusCode::OK, &answer)
}

/// The fields of the job's form upload, in the order to send them, its policy signed (the callback pinned, where one is
/// configured).
pub(crate) fn signed_form(
    state: &AppState,
    job: &Job<'_>,
    starts_with: bool,
) -> Vec<(String, String)> {
    let Job {
        ask,
        profile,
        key,
        credential,
        now,
        expiry,
        stamped,
        ..
    } = *job;
    let expiration = now + Duration::from_secs(expiry.expires_in);
    let scope = if starts_with {
        TagScope::Prefix(key)
    } else {
        TagScope::Key(key)
    };
    let callback = state.callback(scope, expiration);
    let params = PostParams {
        bucket: state.presigner.bucket(),
        region: &state.config.bucket_region,
        key: if starts_with {
            KeyCondition::StartsWith(key)
        } else {
            KeyCondition::Exact(key)
        },
        min_bytes: profile.settings.min_bytes,
        max_bytes: profile.settings.upload_max_bytes,
        content_type: ask.content_type.as_deref(),
        success_action_status: SUCCESS_ACTION_STATUS,
        expiration,
        now,
        callback: callback.as_deref(),
        pinned: stamped,
    };
    state.presigner.form(credential, &params).fields
}

/// A URL for `operation` on the job's key, and the headers the client must send with it.
fn url(state: &AppState, job: &Job<'_>, operation: &Operation) -> Response<Body> {
    let (url, headers) = signed_url(state, job, operation, &[]);
    let answer = UrlAnswer {
        headers: Some(Ordered(&headers)),
        key: job.chosen.then_some(job.key),
        ..UrlAnswer::new(
            operation.http_method(),
            url,
            job.now,
            job.expiry,
            &job.profile.name,
        )
    };
    response::json(StatusCode::OK, &answer)
}

/// The presigned URL for `operation` on the job's key (with `extra` query parameters, such as
/// a listing's page marker), and the headers it signs, which the request must carry.
pub(crate) fn signed_url(
    state: &AppState,
    job: &Job<'_>,
    operation: &Operation,
    extra: &[(&'static str, String)],
) -> (String, Vec<(String, String)>) {
    let Job {
        ask,
        key,
        credential,
        now,
        expiry,
        stamped,
        ..
    } = *job;
    let mut headers = signed_headers(ask);
    headers.extend(stamped.iter().cloned());
    let expires_in = Duration::from_secs(expiry.expires_in);
    let mut query = operation.query();
    query.extend(ask.overrides.iter().cloned());
    query.extend(extra.iter().cloned());
    // The uploads that create an object carry the pinned callback, signed into the URL.
    if matches!(operation, Operation::Put | Operation::Complete { .. })
        && let Some(callback) = state.callback(TagScope::Key(key), now + expires_in)
    {
        query.push(("callback", callback));
    }
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = ObjectRequest {
        method: operation.http_method(),
        bucket: state.presigner.bucket(),
        key,
        query: &query,
        headers: &header_refs,
    };
    let presigned = state.presigner.url(credential, request, now, expires_in);
    (presigned.url, headers)
}

/// A listing of the caller's own prefix, one page as `listing` asks: a GET of the bucket
/// with no headers to send.
async fn list(
    state: &AppState,
    profile: &ProfileState,
    ask: &Ask,
    listing: &Listing,
    caller: &Caller,
    prefix: &str,
    now: SystemTime,
) -> Result<(Response<Body>, String), ApiError> {
    let confined_by_policy = matches!(state.signer, Signer::Role(_));
    let settings = &profile.settings;
    listing::check(listing, prefix, settings, confined_by_policy)?;
    let credential = state.credential(profile, caller, prefix, now).await?;
    let expiry = checks::expiry(
        ask,
        (settings.max_expires_seconds, settings.max_expires_by),
        Some(&credential),
        now,
    )?;
    let expires_in = Duration::from_secs(expiry.expires_in);
    let params = listing.params(prefix);
    let presigned = state.presigner.list(&credential, &params, now, expires_in);
    let answer = UrlAnswer {
        headers: Some(Ordered(&[])),
        ..UrlAnswer::new("GET", presigned.url, now, expiry, &profile.name)
    };
    let answer = response::json(StatusCode::OK, &answer);
    Ok((answer, role_session_name(&caller.sub)))
}

/// The headers a URL signs, which the client must send as given.
pub(crate) fn signed_headers(ask: &Ask) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if let Some(content_type) = &ask.content_type {
        headers.push(("Content-Type".to_owned(), content_type.clone()));
    }
    if let Some(md5) = &ask.content_md5 {
        headers.push(("Content-MD5".to_owned(), md5.clone()));
    }
    if let Some(length) = ask.content_length {
        headers.push(("Content-Length".to_owned(), length.to_string()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use base64::Engine as _;
    use serde_json::{Value, json};
    use stsvend::{CannedSender, FixedClock, sign::aliyun::oss};

    use super::*;

    /// 2026-11-22T08:53:10Z (`date -u -d @1795337590`).
    const NOW: u64 = 1_795_337_590;

    /// A clock a test can move.
    struct TestClock(Mutex<SystemTime>);

    impl Clock for TestClock {
        fn now(&self) -> SystemTime {
            *self.0.lock().expect("lock")
        }
    }

    fn env(extra: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        let mut vars = HashMap::from([
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "LTAI-test-function-key".to_owned(),
            ),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                "function-secret".to_owned(),
            ),
            ("BUCKET", "examplebucket".to_owned()),
            ("BUCKET_REGION", "cn-hangzhou".to_owned()),
            ("AUTH_MODE", "none".to_owned()),
        ]);
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        vars
    }

    fn state_with(
        extra: &[(&'static str, &str)],
        sender: Arc<CannedSender>,
        clock: Arc<dyn Clock>,
    ) -> Arc<AppState> {
        let vars = env(extra);
        let config = Config::load(&|k| vars.get(k).cloned()).expect("config");
        Arc::new(AppState::new(config, clock, sender).expect("state"))
    }

    fn state(extra: &[(&'static str, &str)]) -> Arc<AppState> {
        state_with(
            extra,
            CannedSender::stalled(),
            Arc::new(FixedClock::at_unix(NOW)),
        )
    }

    fn post(body: &str) -> Request {
        let mut request = Request::new(Body::Text(body.to_owned()));
        *request.method_mut() = Method::POST;
        request
    }

    async fn ask(state: &Arc<AppState>, request: Request) -> (u16, Value) {
        let response = handle(Arc::clone(state), request).await;
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(response.body().as_ref()).expect("JSON answer"),
        )
    }

    fn sts_success(expiration: &str) -> String {
        format!(
            r#"{{"RequestId":"r","Credentials":{{"AccessKeyId":"STS.vended","AccessKeySecret":"vended-secret","SecurityToken":"CAIS+vended/token==","Expiration":"{expiration}"}}}}"#
        )
    }

    #[tokio::test]
    async fn every_refusal_has_its_status_and_code() {
        let long_key = format!("uploads/anonymous/{}", "k".repeat(1006));
        /// Extra environment, request body, expected status and `ErrorCode`.
        type Case<'a> = (&'a [(&'static str, &'a str)], String, u16, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                &[],
                r#"{"key":"uploads/bob/x.txt"}"#.to_owned(),
                403,
                "KeyOutsidePrefix",
            ),
            (
                &[],
                r#"{"key":"uploads/anonymous"}"#.to_owned(),
                403,
                "KeyOutsidePrefix",
            ),
            (
                &[],
                r#"{"key":"x.txt","method":"PUT"}"#.to_owned(),
                403,
                "KeyOutsidePrefix",
            ),
            (
                &[],
                r#"{"key":"uploads/bob/","method":"POST","startsWith":true}"#.to_owned(),
                403,
                "KeyOutsidePrefix",
            ),
            (
                &[],
                r#"{"key":"uploads/anonymous/../bob/x"}"#.to_owned(),
                400,
                "InvalidKey",
            ),
            (
                &[],
                r#"{"key":"/uploads/anonymous/x"}"#.to_owned(),
                400,
                "InvalidKey",
            ),
            (
                &[],
                "{\"key\":\"uploads/anonymous/a\\u0001b\"}".to_owned(),
                400,
                "InvalidKey",
            ),
            (&[], format!(r#"{{"key":"{long_key}"}}"#), 400, "InvalidKey"),
            (&[], "{}".to_owned(), 400, "MissingKey"),
            (&[], r#"{"method":"PUT"}"#.to_owned(), 400, "MissingKey"),
            (
                &[],
                r#"{"key":"uploads/anonymous/x","method":"DELETE"}"#.to_owned(),
                403,
                "MethodNotPermitted",
            ),
            (
                &[("PRESIGN_METHODS", "GET")],
                r#"{"key":"uploads/anonymous/x","multipart":"initiate"}"#.to_owned(),
                403,
                "MethodNotPermitted",
            ),
            (
                &[("PRESIGN_METHODS", "GET")],
                r#"{"key":"uploads/anonymous/x","method":"POST"}"#.to_owned(),
                403,
                "MethodNotPermitted",
            ),
            (
                &[("PRESIGN_METHODS", "PUT")],
                r#"{"key":"uploads/anonymous/x"}"#.to_owned(),
                403,
                "MethodNotPermitted",
            ),
            (
                &[("ALLOWED_CONTENT_TYPES", "image/*")],
                r#"{"key":"uploads/anonymous/x","method":"PUT"}"#.to_owned(),
                400,
                "ContentTypeRequired",
            ),
            (
                &[("ALLOWED_CONTENT_TYPES", "image/*")],
                r#"{"key":"uploads/anonymous/x","method":"POST"}"#.to_owned(),
                400,
                "ContentTypeRequired",
            ),
            (
                &[("ALLOWED_CONTENT_TYPES", "image/*")],
                r#"{"key":"uploads/anonymous/x","multipart":"initiate"}"#.to_owned(),
                400,
                "ContentTypeRequired",
            ),
            (
                &[("ALLOWED_CONTENT_TYPES", "image/*,application/pdf")],
                r#"{"key":"uploads/anonymous/x","method":"PUT","contentType":"text/html"}"#
                    .to_owned(),
                403,
                "ContentTypeNotAllowed",
            ),
            (
                &[("ALLOWED_CONTENT_TYPES", "image/png")],
                r#"{"key":"uploads/anonymous/x","responseContentType":"text/html"}"#.to_owned(),
                403,
                "ContentTypeNotAllowed",
            ),
            (
                &[("ALLOWED_CONTENT_TYPES", "image/*")],
                r#"{"key":"uploads/anonymous/x","method":"PUT","contentType":"image/png,text/html"}"#.to_owned(),
                400,
                "InvalidContentType",
            ),
            (
                &[("ALLOWED_CONTENT_TYPES", "image/png")],
                r#"{"key":"uploads/anonymous/x","method":"POST","contentType":"image/svg+xml"}"#
                    .to_owned(),
                403,
                "ContentTypeNotAllowed",
            ),
            (
                &[],
                r#"{"key":"uploads/anonymous/x","size":3}"#.to_owned(),
                400,
                "UnknownField",
            ),
            (
                &[],
                r#"{"key":"uploads/anonymous/x","expires":-1}"#.to_owned(),
                400,
                "InvalidExpires",
            ),
            (
                &[],
                r#"{"key":"uploads/anonymous/x","method":"COPY"}"#.to_owned(),
                400,
                "InvalidMethod",
            ),
            (
                &[],
                r#"{"key":"uploads/anonymous/x","#.to_owned(),
                400,
                "InvalidRequest",
            ),
        ];
        for (extra, body, status, code) in cases {
            let (got, answer) = ask(&state(extra), post(&body)).await;
            assert_eq!(
                (got, answer["ErrorCode"].as_str().unwrap_or("")),
                (status, code),
                "{extra:?} {body}: {answer}"
            );
            assert_eq!(answer["StatusCode"], status);
            assert!(
                answer["ErrorMessage"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    }

    #[tokio::test]
    async fn allowed_content_types_match_by_media_type() {
        let state = state(&[("ALLOWED_CONTENT_TYPES", "image/*,application/pdf")]);
        for content_type in ["image/png", "IMAGE/JPEG", "application/pdf; charset=binary"] {
            let body =
                json!({"key": "uploads/anonymous/x", "method": "PUT", "contentType": content_type})
                    .to_string();
            assert_eq!(ask(&state, post(&body)).await.0, 200, "{content_type}");
        }
        // A GET does not set a type, so the list does not apply.
        assert_eq!(
            ask(&state, post(r#"{"key":"uploads/anonymous/x"}"#))
                .await
                .0,
            200
        );
    }

    #[tokio::test]
    async fn other_http_methods_are_405_and_identity_is_required() {
        for method in [Method::PUT, Method::DELETE, Method::PATCH] {
            let mut request = post("{}");
            *request.method_mut() = method.clone();
            let (status, answer) = ask(&state(&[]), request).await;
            assert_eq!(
                (status, answer["ErrorCode"].as_str()),
                (405, Some("MethodNotAllowed")),
                "{method}"
            );
        }
        let (status, answer) = ask(
            &state(&[("AUTH_MODE", "gateway")]),
            post(r#"{"key":"uploads/x/y"}"#),
        )
        .await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (401, Some("MissingIdentity"))
        );
    }

    #[tokio::test]
    async fn a_gateway_caller_signs_under_their_own_prefix() {
        let path = format!(
            "{}/../../events/apigw-v2-jwt.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event = std::fs::read_to_string(&path).expect("fixture");
        let state = state(&[("AUTH_MODE", "gateway")]);
        for (key, status) in [
            ("uploads/user-42/photo.jpg", 200),
            ("uploads/anonymous/photo.jpg", 403),
        ] {
            let mut request = lambda_http::request::from_str(&event).expect("event");
            *request.method_mut() = Method::POST;
            *request.body_mut() = Body::Text(json!({ "key": key }).to_string());
            assert_eq!(ask(&state, request).await.0, status, "{key}");
        }
    }

    #[tokio::test]
    async fn a_v1_url_signs_exactly_the_sub_resources_presign_url_chose() {
        // The attack: one value that V1 signs exactly as it signs two sub-resources, so the
        // client could split it and be served an image/* upload as text/html.
        let stretched = "inline&response-content-type=text/html";
        assert_eq!(
            oss::canonicalized_resource("b", "k", &[("response-content-disposition", stretched)]),
            oss::canonicalized_resource(
                "b",
                "k",
                &[
                    ("response-content-disposition", "inline"),
                    ("response-content-type", "text/html"),
                ]
            ),
            "V1's canonical resource is ambiguous for such values"
        );
        let v1 = state(&[
            ("SIGNATURE_VERSION", "v1"),
            ("ALLOWED_CONTENT_TYPES", "image/*"),
        ]);
        let key = "uploads/anonymous/a.png";
        for body in [
            json!({"key": key, "responseContentDisposition": stretched}),
            json!({"key": key, "responseContentDisposition": "inline&x-oss-traffic-limit=819200"}),
            json!({"key": key, "responseContentType": "image/png", "responseContentDisposition": "a&versionId=v1"}),
        ] {
            let (status, answer) = ask(&v1, post(&body.to_string())).await;
            assert_eq!(
                (status, answer["ErrorCode"].as_str()),
                (400, Some("InvalidSubResource")),
                "{body}: {answer}"
            );
        }
        // `=` alone re-splits nothing: a download name and a padded watermark are signed.
        for body in [
            json!({"key": key, "responseContentDisposition": "attachment; filename=\"a=b.png\""}),
            json!({"key": key, "process": "image/watermark,image_dXBsb2Fkcy9hbm9ueW1vdXMvYS5wbmc="}),
        ] {
            let (status, answer) = ask(&v1, post(&body.to_string())).await;
            assert_eq!(status, 200, "{body}: {answer}");
        }
        // V4 encodes each value: the same request is signed, as one parameter.
        let v4 = state(&[("ALLOWED_CONTENT_TYPES", "image/*")]);
        let body = json!({"key": key, "responseContentDisposition": stretched});
        let (status, answer) = ask(&v4, post(&body.to_string())).await;
        assert_eq!(status, 200, "{answer}");
        let url = answer["URL"].as_str().expect("URL");
        assert!(
            url.contains(
                "response-content-disposition=inline%26response-content-type%3Dtext%2Fhtml"
            ),
            "{url}"
        );
    }

    #[tokio::test]
    async fn process_is_held_to_allowed_process_and_the_callers_prefix() {
        let key = "uploads/anonymous/a.png";
        let defaults = state(&[]);
        for (process, status, code) in [
            ("image/resize,w_100", 200, None),
            ("video/snapshot,t_0", 403, Some("ProcessNotAllowed")),
            (
                "image/resize,w_1|sys/saveas,o_eA",
                400,
                Some("InvalidProcess"),
            ),
            // base64url("uploads/bob/secret.png")
            (
                "image/watermark,image_dXBsb2Fkcy9ib2Ivc2VjcmV0LnBuZw",
                403,
                Some("KeyOutsidePrefix"),
            ),
            // base64url("uploads/anonymous/logo.png")
            (
                "image/watermark,image_dXBsb2Fkcy9hbm9ueW1vdXMvbG9nby5wbmc",
                200,
                None,
            ),
        ] {
            let body = json!({"key": key, "process": process});
            let (got, answer) = ask(&defaults, post(&body.to_string())).await;
            assert_eq!(
                (got, answer["ErrorCode"].as_str()),
                (status, code),
                "{process}: {answer}"
            );
        }
        let off = state(&[("ALLOWED_PROCESS", "")]);
        let body = json!({"key": key, "process": "image/resize,w_100"});
        let (status, answer) = ask(&off, post(&body.to_string())).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (403, Some("ProcessNotAllowed"))
        );
    }

    #[tokio::test]
    async fn a_get_query_is_read_as_sent_or_refused() {
        let state = state(&[]);
        let get = |target: &str| {
            let mut request = Request::new(Body::Empty);
            *request.uri_mut() = target.parse().expect("uri");
            request
        };
        let (status, answer) = ask(&state, get("/?key=uploads%2Fanonymous%2F%ff.png")).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (400, Some("InvalidRequest"))
        );
        let (status, answer) =
            ask(&state, get("/?key=uploads/anonymous/a&key=uploads/bob/a")).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (400, Some("DuplicateField"))
        );
        let (status, answer) =
            ask(&state, get("/?key=uploads/anonymous/a+b.png&method=HEAD")).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["Method"], "HEAD");
        let url = answer["URL"].as_str().expect("URL");
        assert!(url.contains("/uploads/anonymous/a%20b.png?"), "{url}");
    }

    #[tokio::test]
    async fn the_answer_names_the_headers_to_send_and_the_expiry() {
        let state = state(&[]);
        let body = r#"{"key":"uploads/anonymous/a b+c.png","method":"PUT","contentType":"image/png","contentMd5":"1B2M2Y8AsgTpgAmY7PhCfg=="}"#;
        let (status, answer) = ask(&state, post(body)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["Method"], "PUT");
        assert_eq!(
            answer["Headers"],
            json!({"Content-Type": "image/png", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==", "x-oss-meta-uploader": "anonymous"})
        );
        assert_eq!(answer["Expiration"], "2026-11-22T09:08:10Z");
        assert_eq!(answer["ExpiresIn"], 900);
        assert!(answer.get("ExpiresCappedBy").is_none(), "{answer}");
        let url = answer["URL"].as_str().expect("URL");
        assert!(url.starts_with("https://examplebucket.oss-cn-hangzhou.aliyuncs.com/uploads/anonymous/a%20b%2Bc.png?"), "{url}");
        assert!(
            url.contains("x-oss-date=20261122T085310Z&x-oss-expires=900&"),
            "{url}"
        );

        let (_, answer) = ask(&state, post(r#"{"key":"uploads/anonymous/x"}"#)).await;
        assert_eq!(answer["Headers"], json!({}));
    }

    #[tokio::test]
    async fn an_expiry_over_the_maximum_is_capped_and_says_so() {
        let state = state(&[("PRESIGN_MAX_EXPIRES_SECONDS", "600")]);
        let (_, answer) = ask(
            &state,
            post(r#"{"key":"uploads/anonymous/x","expires":999999}"#),
        )
        .await;
        assert_eq!(answer["ExpiresIn"], 600);
        assert_eq!(answer["ExpiresCappedBy"], "PRESIGN_MAX_EXPIRES_SECONDS");
        assert_eq!(answer["Expiration"], "2026-11-22T09:03:10Z");
        // The default (900) is simply the maximum here: nothing was asked, nothing to report.
        let (_, answer) = ask(&state, post(r#"{"key":"uploads/anonymous/x"}"#)).await;
        assert_eq!(answer["ExpiresIn"], 600);
        assert!(answer.get("ExpiresCappedBy").is_none());
    }

    #[tokio::test]
    async fn with_a_role_urls_are_signed_by_cached_temporary_keys() {
        // The vended keys expire 20 minutes after NOW (2026-11-22T09:13:10Z).
        let sender = CannedSender::answering(200, &sts_success("2026-11-22T09:13:10Z"));
        let clock = Arc::new(TestClock(Mutex::new(FixedClock::at_unix(NOW).now())));
        let state = state_with(
            &[("ROLE_ARN", "acs:ram::1234567890123:role/presigner")],
            sender.clone(),
            clock.clone(),
        );

        let (status, answer) = ask(
            &state,
            post(r#"{"key":"uploads/anonymous/x","expires":3000}"#),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["ExpiresIn"], 1200, "capped by the credential");
        assert_eq!(answer["ExpiresCappedBy"], "CredentialExpiration");
        let url = answer["URL"].as_str().expect("URL");
        assert!(
            url.contains("x-oss-credential=STS.vended%2F20261122%2F"),
            "{url}"
        );
        assert!(
            url.contains("x-oss-security-token=CAIS%2Bvended%2Ftoken%3D%3D"),
            "{url}"
        );

        let sent = sender.sent();
        assert_eq!(sent.len(), 1);
        let form: HashMap<String, String> =
            form_urlencoded::parse(&sent[0].body).into_owned().collect();
        assert_eq!(form["RoleArn"], "acs:ram::1234567890123:role/presigner");
        assert_eq!(form["RoleSessionName"], "anonymous");
        let policy: Value = serde_json::from_str(&form["Policy"]).expect("policy JSON");
        assert_eq!(
            policy["Statement"][0],
            json!({"Effect": "Allow", "Action": ["oss:GetObject", "oss:PutObject", "oss:AbortMultipartUpload", "oss:ListParts"], "Resource": ["acs:oss:*:*:examplebucket/uploads/anonymous/*"]})
        );

        // Reused while more than half of the 900 s duration is left ...
        *clock.0.lock().expect("lock") += Duration::from_secs(700);
        assert_eq!(
            ask(&state, post(r#"{"key":"uploads/anonymous/y"}"#))
                .await
                .0,
            200
        );
        assert_eq!(sender.sent().len(), 1);
        // ... and renewed once less is.
        *clock.0.lock().expect("lock") += Duration::from_secs(100);
        assert_eq!(
            ask(&state, post(r#"{"key":"uploads/anonymous/y"}"#))
                .await
                .0,
            200
        );
        assert_eq!(sender.sent().len(), 2);
    }

    #[tokio::test]
    async fn sts_trouble_reaches_the_caller_in_the_common_shape() {
        let sender = CannedSender::answering(
            400,
            r#"{"RequestId":"r","Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#,
        );
        let state = state_with(
            &[("ROLE_ARN", "acs:ram::1234567890123:role/presigner")],
            sender,
            Arc::new(FixedClock::at_unix(NOW)),
        );
        let (status, answer) = ask(&state, post(r#"{"key":"uploads/anonymous/x"}"#)).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (429, Some("Throttling.User"))
        );
    }

    #[tokio::test]
    async fn a_form_policy_holds_every_condition_and_field() {
        let state = state(&[
            ("UPLOAD_MAX_BYTES", "1048576"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", "CAIS+own/token"),
        ]);
        let body = r#"{"key":"uploads/anonymous/photos/","method":"POST","startsWith":true,"contentType":"image/jpeg","expires":600}"#;
        let response = handle(Arc::clone(&state), post(body)).await;
        assert_eq!(response.status(), 200);
        let raw = std::str::from_utf8(response.body().as_ref())
            .expect("utf-8")
            .to_owned();
        let answer: Value = serde_json::from_str(&raw).expect("JSON");
        assert_eq!(
            answer["URL"],
            "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/"
        );
        let fields = answer["Fields"].as_object().expect("Fields");
        // Sent in this order (the file field goes after them all).
        let order = [
            "key",
            "success_action_status",
            "Content-Type",
            "x-oss-meta-uploader",
            "x-oss-content-type",
            "x-oss-object-acl",
            "policy",
            "x-oss-signature-version",
            "x-oss-credential",
            "x-oss-date",
            "x-oss-signature",
            "x-oss-security-token",
        ];
        assert_eq!(fields.len(), order.len());
        let at: Vec<usize> = order
            .iter()
            .map(|n| raw.find(&format!("\"{n}\":")).expect(n))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{raw}");
        assert_eq!(fields["key"], "uploads/anonymous/photos/${filename}");
        let policy = base64::engine::general_purpose::STANDARD
            .decode(fields["policy"].as_str().expect("policy"))
            .expect("base64");
        let policy: Value = serde_json::from_slice(&policy).expect("policy JSON");
        assert_eq!(
            policy,
            json!({
                "expiration": "2026-11-22T09:03:10.000Z",
                "conditions": [
                    {"x-oss-signature-version": "OSS4-HMAC-SHA256"},
                    {"x-oss-credential": "LTAI-test-function-key/20261122/cn-hangzhou/oss/aliyun_v4_request"},
                    {"x-oss-date": "20261122T085310Z"},
                    {"x-oss-security-token": "CAIS+own/token"},
                    {"bucket": "examplebucket"},
                    ["starts-with", "$key", "uploads/anonymous/photos/"],
                    ["content-length-range", 0, 1_048_576],
                    {"success_action_status": "201"},
                    {"Content-Type": "image/jpeg"},
                    {"x-oss-meta-uploader": "anonymous"},
                    // What OSS would otherwise let extra fields change.
                    {"x-oss-content-type": "image/jpeg"},
                    {"x-oss-object-acl": "default"}
                ]
            })
        );
    }

    const S3: [(&str, &str); 4] = [
        ("PROVIDER", "aws"),
        ("AWS_ACCESS_KEY_ID", "AKIDRULES"),
        ("AWS_SECRET_ACCESS_KEY", "rules-secret"),
        ("BUCKET_REGION", "us-east-1"),
    ];

    #[tokio::test]
    async fn each_upload_rule_is_a_signed_header_or_a_pinned_field_on_each_path() {
        let rules = [
            ("UPLOAD_OVERWRITE", "false"),
            ("UPLOAD_METADATA", "uploader=${sub},app=web"),
            ("UPLOAD_TAGGING", "team=${sub}"),
            ("UPLOAD_SERVER_SIDE_ENCRYPTION", "AES256"),
            ("PRESIGN_METHODS", "GET,PUT,POST"),
        ];
        let key = "uploads/anonymous/a.jpg";
        let oss = state(&rules);
        let with_s3: Vec<(&str, &str)> = rules.iter().chain(S3.iter()).copied().collect();
        let s3 = state(&with_s3);
        let put = json!({"key": key, "method": "PUT"}).to_string();
        let initiate = json!({"key": key, "multipart": "initiate"}).to_string();
        let complete = json!({"key": key, "multipart": "complete", "uploadId": "u1"}).to_string();
        let part =
            json!({"key": key, "method": "PUT", "uploadId": "u1", "partNumber": 1}).to_string();
        let form = json!({"key": key, "method": "POST"}).to_string();
        let headers = |answer: &Value| answer.get("Fields").unwrap_or(&answer["Headers"]).clone();
        let stamped_oss = json!({"x-oss-meta-uploader": "anonymous", "x-oss-meta-app": "web",
            "x-oss-tagging": "team=anonymous", "x-oss-server-side-encryption": "AES256"});
        let cases: Vec<(&Arc<AppState>, &str, Value)> = vec![
            (&oss, &put, json!({"x-oss-forbid-overwrite": "true"})),
            (&oss, &initiate, json!({"x-oss-forbid-overwrite": "true"})),
            (&oss, &complete, json!({"x-oss-forbid-overwrite": "true"})),
            (&oss, &form, json!({"x-oss-forbid-overwrite": "true"})),
            (
                &s3,
                &put,
                json!({"If-None-Match": "*", "x-amz-meta-uploader": "anonymous", "x-amz-meta-app": "web",
                "x-amz-tagging": "team=anonymous", "x-amz-server-side-encryption": "AES256"}),
            ),
            (
                &s3,
                &initiate,
                json!({"x-amz-meta-uploader": "anonymous", "x-amz-server-side-encryption": "AES256"}),
            ),
            (&s3, &complete, json!({"If-None-Match": "*"})),
        ];
        for (state, body, expected) in cases {
            let (status, answer) = ask(state, post(body)).await;
            assert_eq!(status, 200, "{body}: {answer}");
            let carried = headers(&answer);
            for (name, value) in expected.as_object().expect("object") {
                assert_eq!(&carried[name], value, "{body}: {name} in {carried}");
            }
            let creates = !body.contains("complete");
            if Arc::ptr_eq(state, &oss) && creates {
                for (name, value) in stamped_oss.as_object().expect("object") {
                    assert_eq!(&carried[name], value, "{body}: {name}");
                }
            }
        }
        // A part carries none of them; an S3 initiate no If-None-Match (S3 checks it at completion).
        for state in [&oss, &s3] {
            let (_, answer) = ask(state, post(&part)).await;
            assert_eq!(answer["Headers"], json!({}), "{answer}");
        }
        let (_, answer) = ask(&s3, post(&initiate)).await;
        assert!(answer["Headers"].get("If-None-Match").is_none(), "{answer}");
    }

    #[tokio::test]
    async fn rules_a_store_cannot_enforce_are_refused_with_why() {
        let key = "uploads/anonymous/a.jpg";
        let s3 = |extra: &[(&'static str, &'static str)]| {
            let all: Vec<(&str, &str)> = S3.iter().chain(extra.iter()).copied().collect();
            state(&all)
        };
        let cases: Vec<(Arc<AppState>, Value, u16, &str)> = vec![
            (
                s3(&[("UPLOAD_OVERWRITE", "false")]),
                json!({"key": key, "method": "POST"}),
                400,
                "RuleNotEnforceable",
            ),
            (
                state(&[]),
                json!({"key": key, "method": "PUT", "checksumSha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}),
                400,
                "FieldNotApplicable",
            ),
            (
                s3(&[]),
                json!({"key": key, "method": "PUT", "checksumSha256": "AAAA"}),
                400,
                "InvalidChecksum",
            ),
            (
                s3(&[]),
                json!({"key": key, "checksumCrc32": "AAAAAA=="}),
                400,
                "FieldNotApplicable",
            ),
            (
                s3(&[("UPLOAD_REQUIRE_CHECKSUM", "true")]),
                json!({"key": key, "method": "PUT"}),
                400,
                "ChecksumRequired",
            ),
            (
                state(&[("UPLOAD_REQUIRE_CHECKSUM", "true")]),
                json!({"key": key, "method": "POST"}),
                400,
                "ChecksumRequired",
            ),
            (
                state(&[("UPLOAD_REQUIRE_CHECKSUM", "true")]),
                json!({"key": key, "method": "PUT", "uploadId": "u1", "partNumbers": [1, 2]}),
                400,
                "ChecksumRequired",
            ),
            (
                s3(&[("UPLOAD_REQUIRE_SIZE", "true")]),
                json!({"key": key, "method": "PUT"}),
                400,
                "SizeRequired",
            ),
            (
                state(&[("UPLOAD_REQUIRE_SIZE", "true")]),
                json!({"key": key, "method": "PUT"}),
                400,
                "SizeNotEnforceable",
            ),
            (
                s3(&[("UPLOAD_REQUIRE_SIZE", "true")]),
                json!({"key": key, "multipart": "initiate"}),
                400,
                "SizeNotEnforceable",
            ),
            (
                s3(&[("UPLOAD_MAX_BYTES", "1000")]),
                json!({"key": key, "method": "PUT", "contentLength": 1001}),
                400,
                "ContentLengthTooLarge",
            ),
            (
                state(&[]),
                json!({"key": key, "method": "PUT", "metadata": {"album": "x"}}),
                403,
                "ClientMetadataNotAllowed",
            ),
            (
                state(&[("UPLOAD_CLIENT_METADATA", "true")]),
                json!({"key": key, "method": "PUT", "metadata": {"uploader": "mallory"}}),
                400,
                "MetadataNameReserved",
            ),
            (
                state(&[("UPLOAD_CLIENT_METADATA", "true")]),
                json!({"key": key, "method": "PUT", "metadata": {"Album": "x"}}),
                400,
                "InvalidMetadata",
            ),
            (
                state(&[("UPLOAD_CLIENT_METADATA", "true")]),
                json!({"key": key, "method": "PUT", "metadata": {"a": "\u{e9}t\u{e9}"}}),
                400,
                "InvalidMetadata",
            ),
            (
                state(&[("UPLOAD_CLIENT_METADATA", "true")]),
                json!({"key": key, "metadata": {"a": "b"}}),
                400,
                "FieldNotApplicable",
            ),
        ];
        for (state, body, status, code) in cases {
            let (got, answer) = ask(&state, post(&body.to_string())).await;
            assert_eq!(
                (got, answer["ErrorCode"].as_str()),
                (status, Some(code)),
                "{body}: {answer}"
            );
            assert!(
                answer["ErrorMessage"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
        let mut get = Request::new(Body::Empty);
        *get.uri_mut() = "/?key=uploads/anonymous/a.jpg&method=PUT&metadata=x"
            .parse()
            .expect("uri");
        let (status, answer) = ask(&state(&[]), get).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (400, Some("InvalidMetadata")),
            "{answer}"
        );
    }
}
