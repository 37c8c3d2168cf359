//! Known-answer tests: every case of the repository's `tests/vectors/*.json`, checked stage by stage.
//!
//! The expected values are published ones (or agreed by official SDKs), kept as data with
//! their source; nothing here is computed by the code under test. Every mismatch is reported
//! by case and stage before the test fails.

// Tests read better whole: a table of cases, or one scenario from start to end.
#![allow(clippy::too_many_lines)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use stsvend_sign::{
    AWS4, Credential, OSS4,
    aliyun::{oss, rpc},
};

#[derive(Deserialize)]
struct VectorFile<C> {
    cases: Vec<C>,
}

fn load<C: for<'de> Deserialize<'de>>(name: &str) -> Vec<C> {
    let file: VectorFile<C> = read(name);
    assert!(!file.cases.is_empty(), "{name} has no cases");
    file.cases
}

/// A file of `tests/vectors`, as `T`.
fn read<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!("{}/../../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Collects stage mismatches so that one run shows all of them.
#[derive(Default)]
struct Mismatches(Vec<String>);

impl Mismatches {
    fn check(&mut self, case: &str, stage: &str, expected: &str, actual: &str) {
        if expected != actual {
            self.0.push(format!(
                "{case} / {stage}\n  expected: {expected}\n  actual:   {actual}"
            ));
        }
    }

    fn assert_none(self, file: &str) {
        assert!(
            self.0.is_empty(),
            "{file}: {} mismatches\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

#[derive(Deserialize)]
struct RpcCase {
    name: String,
    source: String,
    method: String,
    access_key_secret: String,
    params: Vec<(String, String)>,
    canonicalized_query_string: String,
    string_to_sign: String,
    signature: String,
}

#[test]
fn aliyun_rpc_v1_vectors_match_stage_by_stage() {
    let cases: Vec<RpcCase> = load("aliyun_rpc_v1.json");
    let mut mismatches = Mismatches::default();
    for case in &cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let canonical = rpc::canonicalized_query_string(&case.params);
        mismatches.check(
            &case.name,
            "canonicalized query string",
            &case.canonicalized_query_string,
            &canonical,
        );
        let string_to_sign = rpc::string_to_sign(&case.method, &canonical);
        mismatches.check(
            &case.name,
            "string to sign",
            &case.string_to_sign,
            &string_to_sign,
        );
        let signature = rpc::signature(&case.access_key_secret, &case.string_to_sign);
        mismatches.check(&case.name, "signature", &case.signature, &signature);
    }
    mismatches.assert_none("aliyun_rpc_v1.json");
}

fn pairs(list: &[(String, String)]) -> Vec<(&str, &str)> {
    list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v)
}

#[derive(Deserialize)]
struct OssV1Case {
    name: String,
    source: String,
    method: String,
    bucket: String,
    key: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    date: String,
    access_key_id: String,
    access_key_secret: String,
    canonicalized_resource: String,
    string_to_sign: String,
    signature: String,
    presigned_url: Option<String>,
}

#[test]
fn oss_v1_vectors_match_stage_by_stage() {
    let cases: Vec<OssV1Case> = load("oss_v1_presign.json");
    let mut mismatches = Mismatches::default();
    for case in &cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let (query, headers) = (pairs(&case.query), pairs(&case.headers));
        let resource = oss::canonicalized_resource(&case.bucket, &case.key, &query);
        mismatches.check(
            &case.name,
            "canonicalized resource",
            &case.canonicalized_resource,
            &resource,
        );
        let string_to_sign = oss::string_to_sign_v1(
            &case.method,
            header(&case.headers, "content-md5"),
            header(&case.headers, "content-type"),
            &case.date,
            &oss::canonicalized_oss_headers(&headers),
            &case.canonicalized_resource,
        );
        mismatches.check(
            &case.name,
            "string to sign",
            &case.string_to_sign,
            &string_to_sign,
        );
        let signature = oss::signature_v1(&case.access_key_secret, &case.string_to_sign);
        mismatches.check(&case.name, "signature", &case.signature, &signature);
        if let Some(expected_url) = &case.presigned_url {
            // The whole URL: the token moves from `query` to the credential.
            let token = query
                .iter()
                .find(|(k, _)| *k == "security-token")
                .map(|(_, v)| (*v).to_owned());
            let own_query: Vec<(&str, &str)> = query
                .iter()
                .copied()
                .filter(|(k, _)| *k != "security-token")
                .collect();
            let credential = Credential::new(&case.access_key_id, &case.access_key_secret, token);
            // Signed at the epoch for `Expires` seconds, so that `Expires` is the case's.
            let expires_in =
                Duration::from_secs(case.date.parse().expect("presigned cases use Expires"));
            let params = oss::UrlParams {
                endpoint: &oss::public_endpoint("cn-hangzhou"),
                region: "cn-hangzhou",
                request: oss::ObjectRequest {
                    method: &case.method,
                    bucket: &case.bucket,
                    key: &case.key,
                    query: &own_query,
                    headers: &headers,
                },
                now: UNIX_EPOCH,
                expires_in,
            };
            let url = oss::presign_v1(&credential, &params).url;
            mismatches.check(&case.name, "presigned URL", expected_url, &url);
        }
    }
    mismatches.assert_none("oss_v1_presign.json");
}

#[derive(Deserialize)]
struct OssV4Case {
    name: String,
    source: String,
    method: String,
    bucket: String,
    key: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    additional_headers: Vec<String>,
    region: String,
    product: String,
    date_time: String,
    expires: u64,
    access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
    canonical_request: Option<String>,
    signature: String,
    presigned_url: Option<String>,
}

/// The instant of a compact `yyyymmddThhmmssZ`.
fn compact_instant(date_time: &str) -> SystemTime {
    let d = date_time;
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    );
    stsvend_sign::parse_iso8601(&iso).expect("date_time")
}

/// The query parameter `name` of `url`, as it appears there.
fn url_parameter<'a>(url: &'a str, name: &str) -> &'a str {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or("")
}

/// Each case is signed by the signer presign-url uses (`oss::presign_v4`'s own query and URL
/// assembly), and its canonical request, signature and, where published, whole URL checked.
#[test]
fn oss_v4_vectors_match_stage_by_stage() {
    let cases: Vec<OssV4Case> = load("oss_v4_presign.json");
    let mut mismatches = Mismatches::default();
    for case in &cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let credential = Credential::new(
            &case.access_key_id,
            &case.access_key_secret,
            case.security_token.clone(),
        );
        let additional: Vec<&str> = case.additional_headers.iter().map(String::as_str).collect();
        let params = oss::UrlParams {
            endpoint: &oss::public_endpoint(&case.region),
            region: &case.region,
            request: oss::ObjectRequest {
                method: &case.method,
                bucket: &case.bucket,
                key: &case.key,
                query: &pairs(&case.query),
                headers: &pairs(&case.headers),
            },
            now: compact_instant(&case.date_time),
            expires_in: Duration::from_secs(case.expires),
        };
        let options = oss::V4Options {
            product: &case.product,
            additional_headers: &additional,
        };
        let keys = oss::SigningKeyCache::default();
        let (url, stages) = oss::presign_v4_stages(&credential, &params, &options, &keys);
        if let Some(expected) = &case.canonical_request {
            mismatches.check(
                &case.name,
                "canonical request",
                expected,
                &stages.canonical_request,
            );
        }
        mismatches.check(&case.name, "signature", &case.signature, &stages.signature);
        mismatches.check(
            &case.name,
            "x-oss-signature in the URL",
            &case.signature,
            url_parameter(&url.url, "x-oss-signature"),
        );
        if let Some(expected_url) = &case.presigned_url {
            mismatches.check(&case.name, "presigned URL", expected_url, &url.url);
        }
    }
    mismatches.assert_none("oss_v4_presign.json");
}

#[derive(Deserialize)]
struct PostCase {
    name: String,
    source: String,
    version: String,
    access_key_secret: String,
    date: Option<String>,
    region: Option<String>,
    policy: String,
    policy_base64: String,
    signature: String,
}

#[test]
fn oss_post_policy_vectors_match_stage_by_stage() {
    use base64::Engine as _;
    let cases: Vec<PostCase> = load("oss_post_policy.json");
    let mut mismatches = Mismatches::default();
    for case in &cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&case.policy);
        mismatches.check(&case.name, "policy base64", &case.policy_base64, &encoded);
        let signature = match case.version.as_str() {
            "v1" => oss::post_signature_v1(&case.access_key_secret, &case.policy_base64),
            "v4" => {
                let (date, region) = (
                    case.date.as_deref().expect("date"),
                    case.region.as_deref().expect("region"),
                );
                let key = OSS4.signing_key(&case.access_key_secret, date, region, oss::PRODUCT);
                oss::post_signature_v4(&key, &case.policy_base64)
            }
            other => panic!("{}: unknown version {other}", case.name),
        };
        mismatches.check(&case.name, "signature", &case.signature, &signature);
    }
    mismatches.assert_none("oss_post_policy.json");
}

#[derive(Deserialize)]
struct SigV4Case {
    name: String,
    source: String,
    mode: String,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    expires: Option<u64>,
    region: String,
    service: String,
    date_time: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    payload_hash: String,
    canonical_request: String,
    string_to_sign: Option<String>,
    signature: String,
}

#[test]
fn aws_sigv4_vectors_match_stage_by_stage() {
    use stsvend_sign::aws::sigv4;
    let cases: Vec<SigV4Case> = load("aws_sigv4.json");
    let mut mismatches = Mismatches::default();
    for case in &cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let date = &case.date_time[..8];
        let scope = AWS4.scope(date, &case.region, &case.service);
        let credential_param = format!("{}/{scope}", case.access_key_id);
        let expires = case.expires.unwrap_or_default().to_string();
        let mut query = pairs(&case.query);
        let (canonical_headers, signed_headers) = sigv4::canonical_headers(&pairs(&case.headers));
        if case.mode == "query" {
            query.extend([
                ("X-Amz-Algorithm", sigv4::ALGORITHM),
                ("X-Amz-Credential", &credential_param),
                ("X-Amz-Date", &case.date_time),
                ("X-Amz-Expires", &expires),
                ("X-Amz-SignedHeaders", &signed_headers),
            ]);
            if let Some(token) = &case.session_token {
                query.push(("X-Amz-Security-Token", token));
            }
        }
        let canonical_request = sigv4::canonical_request(
            &case.method,
            &sigv4::canonical_uri(&case.path),
            &sigv4::canonical_query_string(&query),
            &canonical_headers,
            &signed_headers,
            &case.payload_hash,
        );
        mismatches.check(
            &case.name,
            "canonical request",
            &case.canonical_request,
            &canonical_request,
        );
        let string_to_sign = AWS4.string_to_sign(&case.date_time, &scope, &case.canonical_request);
        if let Some(expected) = &case.string_to_sign {
            mismatches.check(&case.name, "string to sign", expected, &string_to_sign);
        }
        let key = AWS4.signing_key(&case.secret_access_key, date, &case.region, &case.service);
        mismatches.check(
            &case.name,
            "signature",
            &case.signature,
            &sigv4::signature(&key, &string_to_sign),
        );
    }
    mismatches.assert_none("aws_sigv4.json");
}

/// The S3 presign of the AWS documentation, through the signer presign-url uses
/// (`s3::presign`: the virtual-hosted URL, the `X-Amz-*` query, the signature appended).
#[test]
fn the_s3_documentation_example_presigns_to_its_published_url() {
    use stsvend_sign::{Addressing, Endpoint, aws::s3};
    // The documentation's example, its key and the URL it prints live with the other vectors.
    let example: serde_json::Value = read("aws_s3_doc_examples.json");
    let case: SigV4Case = serde_json::from_value(example["presigned_url"]["case"].clone())
        .expect("aws_s3_doc_examples.json: presigned_url.case");
    let credential = Credential::new(&case.access_key_id, &case.secret_access_key, None);
    let key = case.path.trim_start_matches('/');
    let params = oss::UrlParams {
        endpoint: &Endpoint::new("https", "s3.amazonaws.com", Addressing::VirtualHosted),
        region: &case.region,
        request: oss::ObjectRequest {
            method: &case.method,
            bucket: "examplebucket",
            key,
            query: &[],
            headers: &[],
        },
        now: compact_instant(&case.date_time),
        expires_in: Duration::from_secs(case.expires.expect("a presigned case has expires")),
    };
    let keys = stsvend_sign::SigningKeyCache::default();
    let (url, stages) = s3::presign_stages(&credential, &params, &keys);
    let mut mismatches = Mismatches::default();
    mismatches.check(
        &case.name,
        "canonical request",
        &case.canonical_request,
        &stages.canonical_request,
    );
    mismatches.check(&case.name, "signature", &case.signature, &stages.signature);
    // The full URL as the AWS documentation prints it.
    let expected_url = example["presigned_url"]["url"].as_str().unwrap_or_default();
    mismatches.check(&case.name, "presigned URL", expected_url, &url.url);
    mismatches.assert_none("aws_s3_doc_examples.json");
}

#[derive(Deserialize)]
struct CallbackCase {
    name: String,
    source: String,
    key_url: String,
    path: String,
    query: Option<String>,
    body: String,
    authorization: String,
    valid: bool,
}

/// OSS's own callbacks verify, and each tampered copy fails, at the stage that should refuse
/// it: the key URL before anything else, then the signature.
#[test]
fn oss_callback_vectors_verify_and_tampered_ones_fail() {
    use base64::Engine as _;
    use stsvend_sign::aliyun::callback::{self, CallbackError, PublicKey};
    let file: serde_json::Value = read("oss_callback.json");
    let pem = file["public_key_pem"].as_str().expect("public_key_pem");
    assert_eq!(
        pem,
        callback::PUBLISHED_KEY_PEM,
        "the bundled key is the published one"
    );
    let key = PublicKey::from_pem(pem).expect("the published key");
    let cases: Vec<CallbackCase> = load("oss_callback.json");
    let mut mismatches = Mismatches::default();
    for case in &cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let header = base64::engine::general_purpose::STANDARD.encode(&case.key_url);
        let outcome = callback::public_key_url(&header).and_then(|_| {
            let string_to_sign =
                callback::string_to_sign(&case.path, case.query.as_deref(), case.body.as_bytes())?;
            key.verify(&case.authorization, &string_to_sign)
        });
        let expected = if case.valid { "valid" } else { "refused" };
        let actual = match outcome {
            Ok(()) => "valid",
            Err(CallbackError::KeyUrlNotAllowed | CallbackError::BadSignature) => "refused",
            Err(other) => panic!("{}: {other}", case.name),
        };
        mismatches.check(&case.name, "verification", expected, actual);
    }
    mismatches.assert_none("oss_callback.json");
}

#[derive(Deserialize)]
struct CdnCase {
    name: String,
    source: String,
    #[serde(rename = "type")]
    auth: String,
    private_key: String,
    origin: String,
    object_key: String,
    timestamp: u64,
    #[serde(default)]
    written_timestamp: Option<String>,
    rand: String,
    md5hash: String,
    url: String,
}

#[test]
fn aliyun_cdn_vectors_match_the_documentations_examples() {
    use stsvend_sign::aliyun::cdn::{self, AuthType, PrivateKey, UrlSigner};
    let cases: Vec<CdnCase> = load("aliyun_cdn.json");
    let mut mismatches = Mismatches::default();
    for case in &cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let at = UNIX_EPOCH + Duration::from_secs(case.timestamp);
        let path = cdn::object_path(&case.object_key);
        let key = &case.private_key;
        let (auth, hash) = match case.auth.as_str() {
            "A" => (
                AuthType::A,
                cdn::type_a_hash(&path, case.timestamp, &case.rand, "0", key),
            ),
            "B" => {
                let written = cdn::type_b_timestamp(at);
                let expected = case.written_timestamp.as_deref().unwrap_or_default();
                mismatches.check(&case.name, "timestamp", expected, &written);
                (AuthType::B, cdn::type_b_hash(key, &written, &path))
            }
            "C" => {
                let written = cdn::type_c_timestamp(at);
                let expected = case.written_timestamp.as_deref().unwrap_or_default();
                mismatches.check(&case.name, "timestamp", expected, &written);
                (AuthType::C, cdn::type_c_hash(key, &path, &written))
            }
            other => panic!("{}: unknown type {other}", case.name),
        };
        mismatches.check(&case.name, "md5hash", &case.md5hash, &hash);
        let signer = UrlSigner::new(auth, &case.origin, PrivateKey::parse(key).expect("key"));
        let url = signer.sign(&case.object_key, at, &case.rand);
        mismatches.check(&case.name, "url", &case.url, &url);
    }
    mismatches.assert_none("aliyun_cdn.json");
}
