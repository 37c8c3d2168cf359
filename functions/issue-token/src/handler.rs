//! issue-token: temporary STS credentials scoped to the caller's prefix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use stsvend::{
    Authenticator, CachedRole, Clock, Credential, Error, HttpSender, Provider, format_iso8601,
    role_session_name,
    sign::{Decoding, percent_decode},
};
use stsvend_host::{
    config::Config,
    quota::{self, Quotas},
    response::{self, ApiError},
};

/// What every request needs, built once per cold start.
pub(crate) struct AppState {
    config: Config,
    clock: Arc<dyn Clock>,
    auth: Authenticator,
    role: CachedRole,
    /// The quota store, when a profile has a quota or a grant rate.
    quotas: Option<Quotas>,
}

/// The least life a cached token must have left to be handed out: the mobile SDKs refetch
/// when 5 minutes are left and ali-oss every 5 minutes, so at least 6 minutes, and at least
/// half the token's life (so STS is asked at most once per half lifetime per policy).
fn min_life_left(duration: Duration) -> Duration {
    (duration / 2).max(Duration::from_secs(6 * 60))
}

impl AppState {
    /// Checks that `config` has what issue-token needs (a role to assume).
    pub(crate) fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn HttpSender>,
    ) -> Result<Self, Error> {
        let role = CachedRole::new(&config.sts, config.require_role_arn()?, Arc::clone(&sender));
        let auth = Authenticator::new(&config.auth_mode, sender, config.sts.timeout)?;
        let quotas = Quotas::from_config(&config)?;
        Ok(Self {
            config,
            clock,
            auth,
            role,
            quotas,
        })
    }
}

/// The success answer, in the shape the OSS mobile SDKs and ali-oss read; with AWS also the
/// AWS names, so that SDKs' custom credential providers and `credential_process` read it as is.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TokenAnswer<'a> {
    status_code: u16,
    access_key_id: &'a str,
    access_key_secret: &'a str,
    security_token: &'a str,
    expiration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_access_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
}

/// Answers one request. Never fails: every refusal is an answer in the documented shape.
pub(crate) async fn handle(state: Arc<AppState>, request: Request) -> Response<Body> {
    let started = Instant::now();
    response::finish(issue(&state, &request).await, started, "issued credentials")
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
    let asked = profile_asked(request.uri().query().unwrap_or_default())?;
    let profile = &config.profiles.list[config.profiles.choose(asked.as_deref())?];
    let now = state.clock.now();
    let caller = state.auth.identify(request, now).await?;
    let prefix = profile.prefix.render(&caller)?;
    if let Some(quotas) = &state.quotas {
        // Every answer counts toward the rate; credentials upload without a reservation, so a
        // subject with no room left gets none (record-upload settles what they upload).
        let now = stsvend::unix_seconds(now);
        quotas.count_grant(profile, &caller, now).await?;
        if profile.quota.limits_storage() {
            let subject = quota::subject(&profile.quota, &caller)?;
            quotas.refuse_if_full(profile, &subject, now).await?;
        }
    }
    let template = profile.policy.as_ref().unwrap_or(&config.policy);
    let policy = config.scope.render_policy(template, &caller, &prefix)?;
    let session = role_session_name(&caller.sub);

    let min_left = min_life_left(state.role.duration());
    let credential = state
        .role
        .credentials(&caller, policy, now, min_left)
        .await?;
    Ok((answer(&credential, config.provider), session))
}

/// The `profile` query parameter (`?profile=avatar`), as the mobile SDKs send the token URL
/// they were given; every other parameter is left alone, as before profiles. Given twice, or
/// with a malformed percent-escape, it is refused.
fn profile_asked(query: &str) -> Result<Option<String>, ApiError> {
    let mut asked = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "profile" {
            continue;
        }
        let value = percent_decode(value.as_bytes(), Decoding::Form)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                ApiError::bad_request("InvalidRequest", "profile has a malformed percent-escape")
            })?;
        if asked.replace(value).is_some() {
            return Err(ApiError::bad_request(
                "DuplicateField",
                "profile is given more than once",
            ));
        }
    }
    Ok(asked)
}

fn answer(credential: &Credential, provider: Provider) -> Response<Body> {
    let token = credential.security_token.as_deref().unwrap_or_default();
    let aws = provider == Provider::Aws;
    response::json(
        StatusCode::OK,
        &TokenAnswer {
            status_code: 200,
            access_key_id: &credential.access_key_id,
            access_key_secret: &credential.access_key_secret,
            security_token: token,
            // parse_assume_role_response guarantees an expiration; this is STS's own instant.
            expiration: credential
                .expiration
                .map(format_iso8601)
                .unwrap_or_default(),
            version: aws.then_some(1),
            secret_access_key: aws.then_some(credential.secret_access_key()),
            session_token: aws.then_some(token),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use stsvend::{CannedSender, FixedClock, SignedRequest};

    use super::*;

    const FUNCTION_SECRET: &str = "function-secret-do-not-leak";
    /// 2026-11-22T08:53:10Z (`date -u -d @1795337590`).
    const NOW: u64 = 1_795_337_590;

    const STS_SUCCESS: &str = r#"{"RequestId":"6894B13B-6D71-4EF5-88FA-F32781734A7F","AssumedRoleUser":{"Arn":"acs:ram::1234567890123:role/uploader/user-42","AssumedRoleId":"344584339364951186:user-42"},"Credentials":{"AccessKeyId":"STS.test-vended-key","AccessKeySecret":"vended-secret-9aZ","SecurityToken":"CAIS+vended/token==","Expiration":"2026-11-22T09:08:10Z"}}"#;

    fn env(extra: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        let mut vars = HashMap::from([
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "LTAI-test-function-key".to_owned(),
            ),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                FUNCTION_SECRET.to_owned(),
            ),
            (
                "ROLE_ARN",
                "acs:ram::1234567890123:role/uploader".to_owned(),
            ),
            ("BUCKET", "examplebucket".to_owned()),
            ("BUCKET_REGION", "cn-hangzhou".to_owned()),
        ]);
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        vars
    }

    fn state_with(extra: &[(&'static str, &str)], sender: Arc<CannedSender>) -> Arc<AppState> {
        let vars = env(extra);
        let config = Config::load(&|k| vars.get(k).cloned()).expect("config");
        Arc::new(AppState::new(config, Arc::new(FixedClock::at_unix(NOW)), sender).expect("state"))
    }

    fn event(name: &str) -> Request {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).expect("JSON body")
    }

    fn form(request: &SignedRequest) -> BTreeMap<String, String> {
        form_urlencoded::parse(&request.body).into_owned().collect()
    }

    #[tokio::test]
    async fn http_api_jwt_caller_gets_credentials_for_their_prefix() {
        let sender = CannedSender::answering(200, STS_SUCCESS);
        let state = state_with(&[], sender.clone());
        let response = handle(Arc::clone(&state), event("apigw-v2-jwt.json")).await;

        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "no-store");
        // Exactly the seed's keys, in its order, StatusCode an integer, Expiration verbatim.
        assert_eq!(
            std::str::from_utf8(response.body().as_ref()).expect("utf-8"),
            r#"{"StatusCode":200,"AccessKeyId":"STS.test-vended-key","AccessKeySecret":"vended-secret-9aZ","SecurityToken":"CAIS+vended/token==","Expiration":"2026-11-22T09:08:10Z"}"#
        );

        let sent = sender.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, Method::POST);
        assert_eq!(sent[0].url, "https://sts.aliyuncs.com/");
        let params = form(&sent[0]);
        let expect = [
            ("AccessKeyId", "LTAI-test-function-key"),
            ("Action", "AssumeRole"),
            ("DurationSeconds", "900"),
            ("Format", "JSON"),
            ("RoleArn", "acs:ram::1234567890123:role/uploader"),
            ("RoleSessionName", "user-42"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2026-11-22T08:53:10Z"),
            ("Version", "2015-04-01"),
            (
                "Policy",
                r#"{"Statement":[{"Action":["oss:PutObject","oss:AbortMultipartUpload","oss:ListParts"],"Effect":"Allow","Resource":["acs:oss:*:*:examplebucket/uploads/user-42/*"]}],"Version":"1"}"#,
            ),
        ];
        for (name, value) in expect {
            assert_eq!(params.get(name).map(String::as_str), Some(value), "{name}");
        }
        assert_eq!(params["SignatureNonce"].len(), 32);
        assert!(!params.contains_key("SecurityToken"));
        assert_eq!(params.len(), expect.len() + 2, "{params:?}");
    }

    #[tokio::test]
    async fn rest_api_cognito_caller_is_identified_by_the_sub_claim() {
        let sender = CannedSender::answering(200, STS_SUCCESS);
        let state = state_with(&[], sender.clone());
        let response = handle(Arc::clone(&state), event("apigw-rest-cognito.json")).await;
        assert_eq!(response.status(), 200);
        let params = form(&sender.sent()[0]);
        assert!(
            params["Policy"]
                .contains("examplebucket/uploads/7b6c9f1e-3f1a-4bd5-9ad3-5b8ea2e2c2a1/*"),
            "{}",
            params["Policy"]
        );
        // 36 characters: shortened with a stable hash.
        assert!(
            params["RoleSessionName"] == "7b6c9f1e-3f1a-4-YyTygaedD5zHZedl",
            "{}",
            params["RoleSessionName"]
        );
        assert!(params["RoleSessionName"].len() <= 32);
    }

    #[tokio::test]
    async fn no_claims_means_401_and_nothing_reaches_sts() {
        for fixture in [
            "apigw-v2-no-authorizer.json",
            "apigw-rest-no-authorizer.json",
        ] {
            let sender = CannedSender::answering(200, STS_SUCCESS);
            let state = state_with(&[], sender.clone());
            let response = handle(Arc::clone(&state), event(fixture)).await;
            assert_eq!(response.status(), 401, "{fixture}");
            let body = body_json(&response);
            assert_eq!(body["StatusCode"], 401, "{fixture}");
            assert_eq!(body["ErrorCode"], "MissingIdentity", "{fixture}");
            assert!(sender.sent().is_empty(), "{fixture}");
        }
    }

    #[tokio::test]
    async fn a_sub_that_is_not_a_safe_segment_is_403() {
        let sender = CannedSender::answering(200, STS_SUCCESS);
        let state = state_with(&[], sender.clone());
        let text = std::fs::read_to_string(format!(
            "{}/../../events/apigw-v2-jwt.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture")
        .replace(r#""sub": "user-42""#, r#""sub": "user-42/../bob""#);
        let response = handle(
            Arc::clone(&state),
            lambda_http::request::from_str(&text).expect("event"),
        )
        .await;
        assert_eq!(response.status(), 403);
        assert_eq!(body_json(&response)["ErrorCode"], "InvalidIdentity");
        assert!(sender.sent().is_empty());
    }

    #[tokio::test]
    async fn anonymous_mode_and_the_functions_own_token() {
        let sender = CannedSender::answering(200, STS_SUCCESS);
        let state = state_with(
            &[
                ("AUTH_MODE", "none"),
                ("ALIBABA_CLOUD_SECURITY_TOKEN", "CAIS+function/token"),
                ("TOKEN_DURATION_SECONDS", "3600"),
            ],
            sender.clone(),
        );
        let response = handle(Arc::clone(&state), event("apigw-v2-no-authorizer.json")).await;
        assert_eq!(response.status(), 200);
        let params = form(&sender.sent()[0]);
        assert_eq!(params["RoleSessionName"], "anonymous");
        assert_eq!(params["SecurityToken"], "CAIS+function/token");
        assert_eq!(params["DurationSeconds"], "3600");
        assert!(params["Policy"].contains("examplebucket/uploads/anonymous/*"));
    }

    #[tokio::test]
    async fn methods_other_than_get_and_post_are_405() {
        let sender = CannedSender::answering(200, STS_SUCCESS);
        let state = state_with(&[("AUTH_MODE", "none")], sender.clone());
        for method in [Method::PUT, Method::DELETE, Method::PATCH] {
            let mut request = event("apigw-v2-no-authorizer.json");
            *request.method_mut() = method.clone();
            let response = handle(Arc::clone(&state), request).await;
            assert_eq!(response.status(), 405, "{method}");
            assert_eq!(response.headers()["allow"], "GET, POST");
            assert_eq!(body_json(&response)["ErrorCode"], "MethodNotAllowed");
        }
        assert!(sender.sent().is_empty());
    }

    #[tokio::test]
    async fn sts_answers_map_to_the_documented_status_and_code() {
        let cases: &[(u16, &str, u16, &str)] = &[
            (
                400,
                r#"{"RequestId":"r1","Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#,
                429,
                "Throttling.User",
            ),
            (
                403,
                r#"{"RequestId":"r2","Code":"NoPermission","Message":"You are not authorized to do this action. You should be authorized by RAM."}"#,
                500,
                "NoPermission",
            ),
            (
                404,
                r#"{"RequestId":"r3","Code":"EntityNotExist.Role","Message":"The role not exists: acs:ram::1234567890123:role/uploader."}"#,
                500,
                "EntityNotExist.Role",
            ),
            (
                400,
                r#"{"RequestId":"r4","Code":"InvalidParameter.PolicyGrammar","Message":"The parameter Policy has not passed grammar check."}"#,
                500,
                "InvalidParameter.PolicyGrammar",
            ),
            (
                404,
                r#"{"RequestId":"r5","Code":"InvalidAccessKeyId.NotFound","Message":"Specified access key is not found."}"#,
                500,
                "InvalidAccessKeyId.NotFound",
            ),
            (
                500,
                r#"{"RequestId":"r6","Code":"InternalError","Message":"The request processing has failed due to some unknown error."}"#,
                502,
                "InternalError",
            ),
            (
                503,
                r#"{"RequestId":"r7","Code":"ServiceUnavailable","Message":"The request has failed due to a temporary failure of the server."}"#,
                503,
                "ServiceUnavailable",
            ),
            (
                200,
                r#"{"RequestId":"r8","Code":"Throttling","Message":"Request was denied due to flow control."}"#,
                429,
                "Throttling",
            ),
            (500, "", 502, "StsBadResponse"),
            (
                502,
                "<html><head><title>502 Bad Gateway</title></head></html>",
                502,
                "StsBadResponse",
            ),
            (
                200,
                r#"{"RequestId":"r9","Credentials":{"AccessKeyId":"STS.x""#,
                502,
                "StsBadResponse",
            ),
        ];
        for &(sts_status, body, status, code) in cases {
            let state = state_with(&[], CannedSender::answering(sts_status, body));
            let response = handle(Arc::clone(&state), event("apigw-v2-jwt.json")).await;
            assert_eq!(response.status(), status, "{code}");
            let json = body_json(&response);
            assert_eq!(json["StatusCode"], status, "{code}");
            assert_eq!(json["ErrorCode"], code);
            assert_eq!(json.as_object().map(|o| o.len()), Some(3), "{json}");
            assert_eq!(
                response.headers().contains_key("retry-after"),
                status == 429 || status == 503,
                "{code}"
            );
        }
    }

    #[tokio::test]
    async fn tokens_are_reused_per_policy_while_enough_life_is_left() {
        // STS_SUCCESS expires at 09:08:10, 900 s after NOW.
        let sender = CannedSender::answering(200, STS_SUCCESS);
        let state = state_with(&[("AUTH_MODE", "none")], sender.clone());
        for _ in 0..5 {
            assert_eq!(
                handle(Arc::clone(&state), event("apigw-v2-no-authorizer.json"))
                    .await
                    .status(),
                200
            );
        }
        assert_eq!(sender.sent().len(), 1, "one STS call for one policy");

        // Callers with their own prefixes never share a token.
        let sender = CannedSender::answering(200, STS_SUCCESS);
        let state = state_with(&[], sender.clone());
        for sub in ["alice", "bob", "alice", "carol", "bob"] {
            let text = std::fs::read_to_string(format!(
                "{}/../../events/apigw-v2-jwt.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("fixture")
            .replace(r#""sub": "user-42""#, &format!(r#""sub": "{sub}""#));
            assert_eq!(
                handle(
                    Arc::clone(&state),
                    lambda_http::request::from_str(&text).expect("event")
                )
                .await
                .status(),
                200
            );
        }
        let sessions: Vec<String> = sender
            .sent()
            .iter()
            .map(|r| form(r)["RoleSessionName"].clone())
            .collect();
        assert_eq!(sessions, ["alice", "bob", "carol"]);
    }

    #[test]
    fn cached_tokens_keep_room_for_the_clients_refresh() {
        assert_eq!(
            min_life_left(Duration::from_secs(900)),
            Duration::from_secs(450)
        );
        assert_eq!(
            min_life_left(Duration::from_secs(3600)),
            Duration::from_secs(1800)
        );
        // Never less than the SDKs' 5-minute window plus a minute.
        assert!(min_life_left(Duration::from_secs(900)) >= Duration::from_secs(360));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_sts_ends_in_504_at_the_deadline() {
        let state = state_with(&[("STS_TIMEOUT_MS", "1500")], CannedSender::stalled());
        let started = tokio::time::Instant::now();
        let response = handle(Arc::clone(&state), event("apigw-v2-jwt.json")).await;
        assert_eq!(response.status(), 504);
        assert_eq!(body_json(&response)["ErrorCode"], "StsTimeout");
        assert_eq!(started.elapsed(), std::time::Duration::from_millis(1500));
    }

    /// issue-token with a file quota and a grant rate on a SQLite store at `db` (connected as
    /// the host does at cold start), and the store itself, to fill the subject's account.
    async fn quota_state(
        db: &std::path::Path,
        extra: &[(&'static str, &str)],
    ) -> (Arc<AppState>, stsvend_quota::Store) {
        let store_url = format!("sqlite:{}", db.display());
        let mut quota_vars = vec![("QUOTA_STORE", store_url.as_str())];
        quota_vars.extend_from_slice(extra);
        let vars = env(&quota_vars);
        let mut config = Config::load(&|k| vars.get(k).cloned()).expect("config");
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at_unix(NOW));
        let sender = CannedSender::answering(200, STS_SUCCESS);
        let sts = config.sts.clone();
        config
            .quota
            .as_mut()
            .expect("quota settings")
            .connect(&sts, sender.clone(), Arc::clone(&clock))
            .await
            .expect("connects");
        let state = AppState::new(config, clock, sender).expect("state");
        let url = stsvend_quota::StoreUrl::parse(&store_url).expect("url");
        let store = stsvend_quota::Store::connect(&url, Duration::from_secs(5), None)
            .await
            .expect("store");
        (Arc::new(state), store)
    }

    fn store_file(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("stsvend-issue-quota-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(format!("{name}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        path
    }

    #[tokio::test]
    async fn a_subject_at_its_quota_gets_no_credentials() {
        let db = store_file("full");
        let (state, store) = quota_state(&db, &[("QUOTA_FILES", "2")]).await;
        let account = stsvend_quota::Account {
            profile: "default",
            subject: "user-42",
        };
        let object = |key| stsvend_quota::Stored {
            key,
            size: 5,
            etag: "e",
        };
        store
            .settle(account, object("uploads/user-42/a"), NOW)
            .await
            .expect("settle");
        let response = handle(Arc::clone(&state), event("apigw-v2-jwt.json")).await;
        assert_eq!(response.status(), 200, "one file of two: room left");
        store
            .settle(account, object("uploads/user-42/b"), NOW)
            .await
            .expect("settle");
        let response = handle(Arc::clone(&state), event("apigw-v2-jwt.json")).await;
        assert_eq!(response.status(), 403);
        let body = body_json(&response);
        assert_eq!(body["ErrorCode"], "QuotaExceeded");
        assert_eq!(
            body["ErrorMessage"],
            "new credentials would pass the quota of profile \"default\": 2 files stored and 0 reserved of a 2-file quota"
        );
        store
            .remove(account, "uploads/user-42/a", NOW)
            .await
            .expect("remove");
        let response = handle(Arc::clone(&state), event("apigw-v2-jwt.json")).await;
        assert_eq!(response.status(), 200, "a deletion gives room back");
    }

    #[tokio::test]
    async fn every_answer_counts_toward_the_grant_rate() {
        let db = store_file("rate");
        let (state, _) = quota_state(&db, &[("GRANT_RATE", "2/hour")]).await;
        for _ in 0..2 {
            let response = handle(Arc::clone(&state), event("apigw-v2-jwt.json")).await;
            assert_eq!(response.status(), 200);
        }
        let response = handle(Arc::clone(&state), event("apigw-v2-jwt.json")).await;
        assert_eq!(response.status(), 429);
        let seconds: u64 = response.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=3600).contains(&seconds), "{seconds}");
        assert_eq!(body_json(&response)["ErrorCode"], "GrantRateExceeded");
    }
}
