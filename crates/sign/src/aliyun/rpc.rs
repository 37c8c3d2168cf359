//! Alibaba Cloud RPC signature version 1.0 (HMAC-SHA1), as STS `AssumeRole` requires.
//!
//! # Reference
//! <https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism> ("RPC
//! signature"); `alibabacloud_openapi_util.client.Client.get_rpcsignature`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::hmac;

use crate::encode::{RFC3986_UNRESERVED, percent_encode};

/// The canonicalized query string: every parameter but `Signature`, name and value
/// percent-encoded, sorted by encoded name.
///
/// # Format
/// ```text
/// percentEncode(k1) "=" percentEncode(v1) "&" percentEncode(k2) "=" ...
/// ```
/// Empty values are kept as `k=`. The encoding is RFC 3986 ([`RFC3986_UNRESERVED`]).
pub fn canonicalized_query_string<K, V>(params: &[(K, V)]) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| {
            (
                percent_encode(k.as_ref(), RFC3986_UNRESERVED),
                percent_encode(v.as_ref(), RFC3986_UNRESERVED),
            )
        })
        .collect();
    encoded.sort();
    let mut out = String::with_capacity(encoded.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The string to sign: the verb, the encoded path `/`, and the canonicalized query string
/// encoded a second time.
///
/// # Format
/// ```text
/// HTTPMethod "&" percentEncode("/") "&" percentEncode(CanonicalizedQueryString)
/// ```
pub fn string_to_sign(method: &str, canonicalized_query_string: &str) -> String {
    format!(
        "{method}&%2F&{}",
        percent_encode(canonicalized_query_string, RFC3986_UNRESERVED)
    )
}

/// The signature: base64 of HMAC-SHA1 keyed with the secret followed by `&`.
///
/// # Format
/// ```text
/// base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))
/// ```
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let mut key_bytes = Vec::with_capacity(access_key_secret.len() + 1);
    key_bytes.extend_from_slice(access_key_secret.as_bytes());
    key_bytes.push(b'&');
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key_bytes);
    BASE64.encode(hmac::sign(&key, string_to_sign.as_bytes()).as_ref())
}

/// Signs `params` for `method` and returns the form body (or query string) to send:
/// the canonicalized query string followed by `&Signature=…`.
pub(crate) fn signed_query_string<K, V>(
    method: &str,
    params: &[(K, V)],
    access_key_secret: &str,
) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let canonical = canonicalized_query_string(params);
    let signature = signature(access_key_secret, &string_to_sign(method, &canonical));
    format!(
        "{canonical}&Signature={}",
        percent_encode(&signature, RFC3986_UNRESERVED)
    )
}
