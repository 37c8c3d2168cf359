//! Alibaba Cloud OSS: presigned URLs (signature V1 and V4) and browser form-upload
//! (PostObject) policies, built without I/O.
//!
//! Every stage of each algorithm is a function named as OSS names it, so that tests check the
//! stages one by one against the published vectors (`tests/vectors/oss_*.json`).
//!
//! # Reference
//! - V1: <https://www.alibabacloud.com/help/en/oss/developer-reference/ddd-signatures-to-urls>
//! - V4: <https://www.alibabacloud.com/help/en/oss/developer-reference/add-signatures-to-urls>
//! - PostObject: <https://www.alibabacloud.com/help/en/oss/developer-reference/postobject>

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::hmac;
use serde_json::{Value, json};

use crate::credential::Credential;
use crate::encode::{RFC3986_PATH, encoded_len_hint, percent_encode_into};
pub use crate::endpoint::{Addressing, Endpoint};
pub use crate::object::{
    KeyCondition, ObjectRequest, PostForm, PostParams, PresignedUrl, UrlParams, form_conditions,
};
pub use crate::signing_key::SigningKeyCache;
use crate::time::{format_compact, format_date, format_iso8601_millis, unix_seconds};
use crate::v4::{self, EmptyValue, EncodedQuery, Stages};

/// The V4 signature algorithm name.
pub(crate) const V4_ALGORITHM: &str = v4::OSS4.algorithm;

/// The longest a V4 presigned URL may live: 7 days.
pub const V4_MAX_EXPIRES_SECONDS: u64 = 604_800;

/// The product name in a V4 scope.
pub const PRODUCT: &str = "oss";

/// The payload hash of a presigned request.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Query parameters that V1 signs as sub-resources (the list of `oss2`, the fullest of the
/// official SDKs; ALGORITHMS.md §2). Any other parameter rides along unsigned in V1.
pub const V1_SUBRESOURCES: &[&str] = &[
    "acl",
    "append",
    "asyncFetch",
    "bucketInfo",
    "callback",
    "callback-var",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "group",
    "inventory",
    "inventoryId",
    "lifecycle",
    "link",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "qos",
    "qosInfo",
    "referer",
    "regionList",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "resourceGroup",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "styleName",
    "symlink",
    "tagging",
    "transferAcceleration",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-async-process",
    "x-oss-process",
    "x-oss-request-payer",
    "x-oss-traffic-limit",
];

/// The public endpoint of `region`, virtual-hosted: `https://<bucket>.oss-<region>.aliyuncs.com`.
pub fn public_endpoint(region: &str) -> Endpoint {
    Endpoint::new(
        "https",
        &format!("oss-{region}.aliyuncs.com"),
        Addressing::VirtualHosted,
    )
}

/// `key=value&…` for a URL: names and values RFC 3986-encoded, in the order given.
fn url_query(pairs: &[(&str, &str)]) -> EncodedQuery {
    EncodedQuery::new(pairs, 0)
}

// ---------------------------------------------------------------------------------------
// Signature V1
// ---------------------------------------------------------------------------------------

/// The V1 canonicalized resource: bucket, raw key, and the sub-resources among `query`.
///
/// # Format
/// ```text
/// "/" bucket "/" key [ "?" k1[=v1] "&" k2[=v2] ... ]     sub-resources only, raw, sorted by name
/// ```
pub fn canonicalized_resource(bucket: &str, key: &str, query: &[(&str, &str)]) -> String {
    let mut sub: Vec<(&str, &str)> = query
        .iter()
        .copied()
        .filter(|(k, _)| V1_SUBRESOURCES.contains(k))
        .collect();
    sub.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = format!("/{bucket}/{key}");
    for (i, (k, v)) in sub.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

/// The V1 canonicalized OSS headers: every `x-oss-*` header, name lower-cased, sorted.
///
/// # Format
/// ```text
/// name1 ":" value1 "\n" name2 ":" value2 "\n" ...
/// ```
pub fn canonicalized_oss_headers(headers: &[(&str, &str)]) -> String {
    let mut oss: Vec<(String, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), *v))
        .filter(|(n, _)| n.starts_with("x-oss-"))
        .collect();
    oss.sort();
    oss.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
}

/// The V1 string to sign. In a presigned URL the date line is the `Expires` value.
///
/// # Format
/// ```text
/// VERB "\n" Content-MD5 "\n" Content-Type "\n" Expires "\n" CanonicalizedOSSHeaders CanonicalizedResource
/// ```
pub fn string_to_sign_v1(
    method: &str,
    content_md5: &str,
    content_type: &str,
    expires: &str,
    canonicalized_oss_headers: &str,
    canonicalized_resource: &str,
) -> String {
    format!(
        "{method}\n{content_md5}\n{content_type}\n{expires}\n{canonicalized_oss_headers}{canonicalized_resource}"
    )
}

/// The V1 signature: base64 of HMAC-SHA1 keyed with the secret.
pub fn signature_v1(access_key_secret: &str, string_to_sign: &str) -> String {
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        access_key_secret.as_bytes(),
    );
    BASE64.encode(hmac::sign(&key, string_to_sign.as_bytes()).as_ref())
}

/// A V1 presigned URL valid for `params.expires_in` (`Expires` is absolute). A security token
/// is sent as `security-token` and signed as a sub-resource.
pub fn presign_v1(credential: &Credential, params: &UrlParams<'_>) -> PresignedUrl {
    presign_v1_stages(credential, params).0
}

/// [`presign_v1`], returning the string to sign beside the URL.
pub(crate) fn presign_v1_stages(
    credential: &Credential,
    params: &UrlParams<'_>,
) -> (PresignedUrl, String) {
    let request = &params.request;
    let expiration = params.now + params.expires_in;
    let expires = unix_seconds(expiration).to_string();
    let mut query: Vec<(&str, &str)> = request.query.to_vec();
    if let Some(token) = &credential.security_token {
        query.push(("security-token", token));
    }
    let string_to_sign = string_to_sign_v1(
        request.method,
        request.header("content-md5"),
        request.header("content-type"),
        &expires,
        &canonicalized_oss_headers(request.headers),
        &canonicalized_resource(request.bucket, request.key, &query),
    );
    let signature = signature_v1(&credential.access_key_secret, &string_to_sign);
    query.extend([
        ("OSSAccessKeyId", credential.access_key_id.as_str()),
        ("Expires", &expires),
        ("Signature", &signature),
    ]);
    let url = PresignedUrl {
        url: object_url(params, &url_query(&query)),
        expiration,
    };
    (url, string_to_sign)
}

/// `<endpoint>/<bucket>/<key>?<query>` as the endpoint addresses the bucket, the query
/// already encoded, in its order.
fn object_url(params: &UrlParams<'_>, query: &EncodedQuery) -> String {
    let request = &params.request;
    let mut url = String::with_capacity(
        params
            .endpoint
            .object_url_len_hint(request.bucket, request.key)
            + query.written_len()
            + 1,
    );
    params
        .endpoint
        .object_url_into(&mut url, request.bucket, request.key);
    url.push('?');
    query.write_in_order(&mut url, EmptyValue::BareName);
    url
}

// ---------------------------------------------------------------------------------------
// Signature V4
// ---------------------------------------------------------------------------------------

/// The V4 canonical URI: bucket and key, the key RFC 3986-encoded with `/` kept.
///
/// # Format
/// ```text
/// "/" bucket "/" UriEncode(key)
/// ```
pub fn canonical_uri(bucket: &str, key: &str) -> String {
    let mut out = String::with_capacity(bucket.len() + 2 + encoded_len_hint(key));
    out.push('/');
    out.push_str(bucket);
    out.push('/');
    percent_encode_into(&mut out, key, RFC3986_PATH);
    out
}

/// The V4 canonical query string: every parameter but `x-oss-signature`, name and value
/// RFC 3986-encoded, sorted by encoded name; an empty value is the bare name.
///
/// # Format
/// ```text
/// UriEncode(k1) [ "=" UriEncode(v1) ] "&" ...
/// ```
pub fn canonical_query_string(query: &[(&str, &str)]) -> String {
    let encoded = EncodedQuery::new(query, 0);
    let mut out = String::with_capacity(encoded.written_len());
    encoded.write_sorted(&mut out, EmptyValue::BareName);
    out
}

/// The V4 canonical headers: `x-oss-*`, `content-type`, `content-md5` and the additional
/// headers, names lower-cased, sorted.
///
/// # Format
/// ```text
/// name1 ":" value1 "\n" name2 ":" value2 "\n" ...
/// ```
pub fn canonical_headers(headers: &[(&str, &str)], additional_headers: &[&str]) -> String {
    let mut signed: Vec<(String, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), *v))
        .filter(|(n, _)| {
            n.starts_with("x-oss-")
                || n == "content-type"
                || n == "content-md5"
                || additional_headers.iter().any(|a| a.eq_ignore_ascii_case(n))
        })
        .collect();
    signed.sort();
    signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
}

/// What a V4 URL may sign beyond what presign-url uses: another product (CloudBox's
/// `oss-cloudbox`) and additional signed headers (`x-oss-additional-headers`).
#[derive(Debug, Clone, Copy)]
pub struct V4Options<'a> {
    /// The product in the scope: `oss`, or `oss-cloudbox`.
    pub product: &'a str,
    /// Headers signed besides `x-oss-*`, `content-type` and `content-md5`: lower case, sorted.
    pub additional_headers: &'a [&'a str],
}

impl Default for V4Options<'_> {
    fn default() -> Self {
        Self {
            product: PRODUCT,
            additional_headers: &[],
        }
    }
}

/// A V4 presigned URL valid for `params.expires_in` (at most 7 days), with the signing key
/// from `keys`.
pub fn presign_v4(
    credential: &Credential,
    params: &UrlParams<'_>,
    keys: &SigningKeyCache,
) -> PresignedUrl {
    presign_v4_stages(credential, params, &V4Options::default(), keys).0
}

/// [`presign_v4`] with `options`, returning the signature's stages beside the URL.
pub fn presign_v4_stages(
    credential: &Credential,
    params: &UrlParams<'_>,
    options: &V4Options<'_>,
    keys: &SigningKeyCache,
) -> (PresignedUrl, Stages) {
    let request = &params.request;
    let date_time = format_compact(params.now);
    let date = &date_time[..8];
    let scope = v4::OSS4.scope(date, params.region, options.product);
    let credential_param = v4::OSS4.credential(
        &credential.access_key_id,
        date,
        params.region,
        options.product,
    );
    let expires_in = params.expires_in.as_secs().min(V4_MAX_EXPIRES_SECONDS);
    let expires = expires_in.to_string();
    let additional = options.additional_headers.join(";");
    let token = credential.security_token.as_deref();
    // Each pair is encoded once, for the canonical query string and again for the URL.
    let mut query = EncodedQuery::new(
        request.query,
        256 + token.map_or(0, str::len) + additional.len(),
    );
    query.push("x-oss-signature-version", V4_ALGORITHM);
    query.push("x-oss-credential", &credential_param);
    query.push("x-oss-date", &date_time);
    query.push("x-oss-expires", &expires);
    if let Some(token) = token {
        query.push("x-oss-security-token", token);
    }
    if !additional.is_empty() {
        query.push("x-oss-additional-headers", &additional);
    }
    // The canonical query string is written in place, into the canonical request's buffer.
    let canonical_request = v4::canonical_request_with(
        request.method,
        [
            &canonical_uri(request.bucket, request.key),
            &canonical_headers(request.headers, options.additional_headers),
            &additional,
            UNSIGNED_PAYLOAD,
        ],
        query.written_len(),
        |out| query.write_sorted(out, EmptyValue::BareName),
    );
    let key = keys.get(
        &v4::OSS4,
        &credential.access_key_secret,
        date,
        params.region,
        options.product,
    );
    let stages = Stages::sign(&v4::OSS4, &key, &date_time, &scope, canonical_request);
    query.push("x-oss-signature", &stages.signature);
    let url = PresignedUrl {
        url: object_url(params, &query),
        expiration: params.now + Duration::from_secs(expires_in),
    };
    (url, stages)
}

// ---------------------------------------------------------------------------------------
// PostObject
// ---------------------------------------------------------------------------------------

/// The V1 form signature: base64 of HMAC-SHA1 over the base64 policy as sent.
pub fn post_signature_v1(access_key_secret: &str, policy_base64: &str) -> String {
    signature_v1(access_key_secret, policy_base64)
}

/// The V4 form signature: hex of HMAC-SHA256 with the signing key over the base64 policy.
pub fn post_signature_v4(signing_key: &hmac::Key, policy_base64: &str) -> String {
    v4::signature(signing_key, policy_base64)
}

fn policy_document(expiration: SystemTime, conditions: Vec<Value>) -> String {
    json!({ "expiration": format_iso8601_millis(expiration), "conditions": conditions }).to_string()
}

/// The OSS form fields that would undo a rule, pinned by `eq` conditions (with the fields to
/// match). OSS checks only the fields a policy names, unlike S3, which refuses any field the
/// policy does not name; so here:
///
/// - `x-oss-content-type` sets the object's type past a pinned `Content-Type`: pinned to the
///   same type, so `ALLOWED_CONTENT_TYPES` holds;
/// - `x-oss-object-acl` could make the object public: pinned to `default` (the bucket's ACL,
///   as when the field is absent).
fn pin_oss_form_fields(
    params: &PostParams<'_>,
    conditions: &mut Vec<Value>,
    fields: &mut Vec<(String, String)>,
) {
    if let Some(content_type) = params.content_type {
        conditions.push(json!({ "x-oss-content-type": content_type }));
        fields.push(("x-oss-content-type".to_owned(), content_type.to_owned()));
    }
    conditions.push(json!({ "x-oss-object-acl": "default" }));
    fields.push(("x-oss-object-acl".to_owned(), "default".to_owned()));
}

/// A V4 form upload policy and its fields.
///
/// The policy holds the V4 fields as conditions (`x-oss-signature-version`,
/// `x-oss-credential`, `x-oss-date`, and `x-oss-security-token` with a temporary key), as
/// OSS requires, and `fields` holds every field the conditions name.
pub fn post_policy_v4(
    credential: &Credential,
    params: &PostParams<'_>,
    keys: &SigningKeyCache,
) -> PostForm {
    let (date, date_time) = (format_date(params.now), format_compact(params.now));
    let credential_field =
        v4::OSS4.credential(&credential.access_key_id, &date, params.region, PRODUCT);
    let mut conditions = vec![
        json!({ "x-oss-signature-version": V4_ALGORITHM }),
        json!({ "x-oss-credential": credential_field }),
        json!({ "x-oss-date": date_time }),
    ];
    let mut fields = Vec::new();
    if let Some(token) = &credential.security_token {
        conditions.push(json!({ "x-oss-security-token": token }));
    }
    form_conditions(params, &mut conditions, &mut fields);
    pin_oss_form_fields(params, &mut conditions, &mut fields);
    let policy = policy_document(params.expiration, conditions);
    let policy_base64 = BASE64.encode(&policy);
    let key = keys.get(
        &v4::OSS4,
        &credential.access_key_secret,
        &date,
        params.region,
        PRODUCT,
    );
    let signature = post_signature_v4(&key, &policy_base64);
    fields.extend([
        ("policy".to_owned(), policy_base64),
        (
            "x-oss-signature-version".to_owned(),
            V4_ALGORITHM.to_owned(),
        ),
        ("x-oss-credential".to_owned(), credential_field),
        ("x-oss-date".to_owned(), date_time),
        ("x-oss-signature".to_owned(), signature),
    ]);
    if let Some(token) = &credential.security_token {
        fields.push(("x-oss-security-token".to_owned(), token.clone()));
    }
    PostForm { fields, policy }
}

/// A V1 form upload policy and its fields (`OSSAccessKeyId`, `Signature`, and
/// `x-oss-security-token` with a temporary key).
pub fn post_policy_v1(credential: &Credential, params: &PostParams<'_>) -> PostForm {
    let mut conditions = Vec::new();
    let mut fields = Vec::new();
    form_conditions(params, &mut conditions, &mut fields);
    pin_oss_form_fields(params, &mut conditions, &mut fields);
    let policy = policy_document(params.expiration, conditions);
    let policy_base64 = BASE64.encode(&policy);
    let signature = post_signature_v1(&credential.access_key_secret, &policy_base64);
    fields.extend([
        ("policy".to_owned(), policy_base64),
        (
            "OSSAccessKeyId".to_owned(),
            credential.access_key_id.clone(),
        ),
        ("Signature".to_owned(), signature),
    ]);
    if let Some(token) = &credential.security_token {
        fields.push(("x-oss-security-token".to_owned(), token.clone()));
    }
    PostForm { fields, policy }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_resource_signs_sub_resources_only_raw_and_sorted() {
        let query = [
            ("foo", "bar"),
            ("versionId", "v 1"),
            ("uploads", ""),
            ("acl", ""),
        ];
        assert_eq!(
            canonicalized_resource("b", "dir/a b", &query),
            "/b/dir/a b?acl&uploads&versionId=v 1"
        );
        assert_eq!(canonicalized_resource("b", "k", &[("foo", "bar")]), "/b/k");
    }

    #[test]
    fn cached_signing_keys_equal_derived_ones() {
        let cache = SigningKeyCache::default();
        let message = b"string to sign";
        for (secret, date, region) in [
            ("sk", "20231217", "cn-hangzhou"),
            ("sk", "20231218", "cn-hangzhou"),
            ("sk2", "20231217", "cn-beijing"),
        ] {
            for _ in 0..2 {
                let cached = cache.get(&v4::OSS4, secret, date, region, PRODUCT);
                let derived = v4::OSS4.signing_key(secret, date, region, PRODUCT);
                assert_eq!(
                    hmac::sign(&cached, message).as_ref(),
                    hmac::sign(&derived, message).as_ref()
                );
            }
        }
        assert!(!format!("{cache:?}").contains("sk"), "{cache:?}");
    }
}
