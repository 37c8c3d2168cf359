//! S3 (and S3-compatible stores): presigned URLs and browser POST policies, SigV4, built
//! without I/O.
//!
//! # Reference
//! - <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>
//! - <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html>

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::aws::sigv4::{self, ALGORITHM};
use crate::credential::Credential;
use crate::object::{PostForm, PostParams, PresignedUrl, UrlParams, form_conditions};
use crate::signing_key::SigningKeyCache;
use crate::time::{format_compact, format_date, format_iso8601_millis};
use crate::v4::{self, Stages};

/// The service name in S3 signatures.
pub(crate) const SERVICE: &str = "s3";

/// A presigned URL for `params.request`, valid for `params.expires_in` (at most 7 days). The
/// headers in the request (`Content-Type`, `Content-MD5`, `Content-Length`) are signed and
/// must be sent as given.
pub fn presign(
    credential: &Credential,
    params: &UrlParams<'_>,
    keys: &SigningKeyCache,
) -> PresignedUrl {
    presign_stages(credential, params, keys).0
}

/// [`presign`], returning the signature's stages beside the URL.
pub fn presign_stages(
    credential: &Credential,
    params: &UrlParams<'_>,
    keys: &SigningKeyCache,
) -> (PresignedUrl, Stages) {
    let request = &params.request;
    let host = params.endpoint.host_for(request.bucket);
    let path = params.endpoint.object_path(request.bucket, request.key);
    let signed = sigv4::Request {
        method: request.method,
        host: &host,
        path: &path,
        query: request.query,
        headers: request.headers,
    };
    let context = sigv4::Context {
        region: params.region,
        service: SERVICE,
        now: params.now,
        keys,
    };
    let expires_in = params
        .expires_in
        .min(Duration::from_secs(sigv4::MAX_EXPIRES_SECONDS));
    let origin = params.endpoint.origin_for(request.bucket);
    let (url, stages) = sigv4::presign_url(credential, &signed, &origin, expires_in, &context);
    let url = PresignedUrl {
        url,
        expiration: params.now + expires_in,
    };
    (url, stages)
}

/// A browser POST policy and its fields, SigV4 (`x-amz-algorithm`, `x-amz-credential`,
/// `x-amz-date`, `x-amz-security-token` with a temporary key, `policy`, `x-amz-signature`).
///
/// The policy holds the signer's fields as conditions, as S3 requires, and `fields` holds every
/// field the conditions name.
pub fn post_policy(
    credential: &Credential,
    params: &PostParams<'_>,
    keys: &SigningKeyCache,
) -> PostForm {
    let (date, date_time) = (format_date(params.now), format_compact(params.now));
    let credential_field =
        v4::AWS4.credential(&credential.access_key_id, &date, params.region, SERVICE);
    let mut conditions: Vec<Value> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    form_conditions(params, &mut conditions, &mut fields);
    conditions.push(json!({ "x-amz-algorithm": ALGORITHM }));
    conditions.push(json!({ "x-amz-credential": credential_field }));
    conditions.push(json!({ "x-amz-date": date_time }));
    if let Some(token) = &credential.security_token {
        conditions.push(json!({ "x-amz-security-token": token }));
    }
    let policy =
        json!({ "expiration": format_iso8601_millis(params.expiration), "conditions": conditions })
            .to_string();
    let policy_base64 = BASE64.encode(&policy);
    let key = keys.get(
        &v4::AWS4,
        credential.secret_access_key(),
        &date,
        params.region,
        SERVICE,
    );
    let signature = v4::signature(&key, &policy_base64);
    fields.extend([
        ("policy".to_owned(), policy_base64),
        ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
        ("x-amz-credential".to_owned(), credential_field),
        ("x-amz-date".to_owned(), date_time),
    ]);
    if let Some(token) = &credential.security_token {
        fields.push(("x-amz-security-token".to_owned(), token.clone()));
    }
    fields.push(("x-amz-signature".to_owned(), signature));
    PostForm { fields, policy }
}
