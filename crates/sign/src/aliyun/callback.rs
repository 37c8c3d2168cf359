//! OSS upload callbacks, built and checked without I/O: the `callback` parameter presign-url
//! pins into an upload, the tag that binds a callback body to what presign-url signed, and the
//! verification of the RSA signature OSS puts on the callback request.
//!
//! # Reference
//! - <https://www.alibabacloud.com/help/en/oss/developer-reference/callback>
//! - Alibaba's verification sample, `aliyun/aliyun-oss-ruby-sdk:rails/aliyun_oss_callback_server.rb`

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use ring::hmac;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::json;

use crate::encode::{Decoding, hex_lower, percent_decode};

/// The only places a callback's public key may be fetched from, compared byte for byte with
/// the start of the decoded `x-oss-pub-key-url`.
pub const PUBLIC_KEY_URL_PREFIXES: [&str; 2] = [
    "http://gosspublic.alicdn.com/",
    "https://gosspublic.alicdn.com/",
];

/// Where OSS publishes the key it signs callbacks with.
pub const PUBLISHED_KEY_URL: &str = "https://gosspublic.alicdn.com/callback_pub_key_v1.pem";

/// `callback_pub_key_v1.pem`, as published at [`PUBLISHED_KEY_URL`] (a 512-bit RSA key), so
/// that the usual callback needs no fetch.
pub const PUBLISHED_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKs/JBGzwUB2aVht4crBx3oIPBLNsjGs
C0fTXv+nvlmklvkcolvpvXLTjaxUHR3W9LXxQ2EHXAJfCB+6H2YF1k8CAwEAAQ==
-----END PUBLIC KEY-----
";

/// The longest decoded `x-oss-pub-key-url` accepted.
const MAX_KEY_URL_BYTES: usize = 512;

/// Why a callback's signature cannot be checked, or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// A required header is missing.
    #[error("the callback has no {0} header")]
    MissingHeader(&'static str),
    /// A header is not base64, or decodes to something unusable.
    #[error("the {0} header is malformed")]
    MalformedHeader(&'static str),
    /// The public-key URL is not on `gosspublic.alicdn.com`.
    #[error("the public-key URL is not on gosspublic.alicdn.com")]
    KeyUrlNotAllowed,
    /// The public key is not an RSA SubjectPublicKeyInfo PEM.
    #[error("the public key cannot be read: {0}")]
    BadPublicKey(String),
    /// The request path has a malformed percent-escape.
    #[error("the request path has a malformed percent-escape")]
    MalformedPath,
    /// The signature does not verify.
    #[error("the callback's signature does not verify")]
    BadSignature,
}

/// The public-key URL named by `x-oss-pub-key-url` (base64), when it starts with one of
/// [`PUBLIC_KEY_URL_PREFIXES`]. Checked before anything is fetched.
pub fn public_key_url(header: &str) -> Result<String, CallbackError> {
    let bytes = BASE64
        .decode(header.trim())
        .map_err(|_| CallbackError::MalformedHeader("x-oss-pub-key-url"))?;
    let url = String::from_utf8(bytes).map_err(|_| CallbackError::KeyUrlNotAllowed)?;
    // Byte for byte on the published host, and only a key file there
    // (`callback_pub_key_v<N>.pem`, no query): any other path would let a caller fill the
    // fetched-key cache with variants.
    let file = PUBLIC_KEY_URL_PREFIXES
        .iter()
        .find_map(|prefix| url.strip_prefix(prefix));
    let allowed = url.len() <= MAX_KEY_URL_BYTES
        && file
            .and_then(|f| f.strip_prefix("callback_pub_key_v"))
            .and_then(|f| f.strip_suffix(".pem"))
            .is_some_and(|n| {
                !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit())
            });
    if allowed {
        Ok(url)
    } else {
        Err(CallbackError::KeyUrlNotAllowed)
    }
}

/// What OSS signs: the percent-decoded path, `?` and the raw query when there is one, `\n`,
/// then the body exactly as received.
///
/// # Format
/// ```text
/// url_decode(path) [ "?" query ] "\n" body
/// ```
pub fn string_to_sign(
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<Vec<u8>, CallbackError> {
    let mut out =
        percent_decode(path.as_bytes(), Decoding::Strict).ok_or(CallbackError::MalformedPath)?;
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    Ok(out)
}

/// An OSS callback public key (RSA, PKCS#1 v1.5 with MD5).
#[derive(Clone)]
pub struct PublicKey(VerifyingKey<md5::Md5>);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicKey(rsa)")
    }
}

impl PublicKey {
    /// Reads a `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo) PEM.
    pub fn from_pem(pem: &str) -> Result<Self, CallbackError> {
        let key = RsaPublicKey::from_public_key_pem(pem.trim())
            .map_err(|e| CallbackError::BadPublicKey(e.to_string()))?;
        Ok(Self(VerifyingKey::new(key)))
    }

    /// Checks `authorization` (base64 of the signature) over `string_to_sign`.
    pub fn verify(&self, authorization: &str, string_to_sign: &[u8]) -> Result<(), CallbackError> {
        let raw = BASE64
            .decode(authorization.trim())
            .map_err(|_| CallbackError::MalformedHeader("authorization"))?;
        let signature =
            Signature::try_from(raw.as_slice()).map_err(|_| CallbackError::BadSignature)?;
        self.0
            .verify(string_to_sign, &signature)
            .map_err(|_| CallbackError::BadSignature)
    }
}

/// What a callback tag vouches for: one key, or any key under a prefix (a `startsWith` form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagScope<'a> {
    /// Exactly this key.
    Key(&'a str),
    /// Any key under this prefix.
    Prefix(&'a str),
}

impl TagScope<'_> {
    /// `key` or `prefix`, as the callback body names the scope.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Key(_) => "key",
            Self::Prefix(_) => "prefix",
        }
    }

    /// The key or the prefix.
    pub fn value(&self) -> &str {
        match self {
            Self::Key(v) | Self::Prefix(v) => v,
        }
    }

    /// Whether `key` is the key, or lies under the prefix.
    pub fn covers(&self, key: &str) -> bool {
        match self {
            Self::Key(k) => *k == key,
            Self::Prefix(p) => key.starts_with(p),
        }
    }
}

/// The tag presign-url writes into a pinned callback body: hex HMAC-SHA256 under
/// `UPLOAD_CALLBACK_SECRET` of the bucket, the scope and the URL's expiry.
///
/// # Format
/// ```text
/// hex(HMAC-SHA256(secret, "stsvend-callback-v1\n" bucket "\n" kind "\n" value "\n" expires))
/// ```
/// Bucket names and keys hold no control character, so `\n` separates them unambiguously.
pub fn tag(secret: &[u8], bucket: &str, scope: TagScope<'_>, expires: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hex_lower(hmac::sign(&key, tag_message(bucket, scope, expires).as_bytes()).as_ref())
}

/// What a tag is made over (see [`tag`]).
fn tag_message(bucket: &str, scope: TagScope<'_>, expires: u64) -> String {
    format!(
        "stsvend-callback-v1\n{bucket}\n{}\n{}\n{expires}",
        scope.kind(),
        scope.value()
    )
}

/// Whether `tag` is the tag for these inputs, compared in constant time.
pub fn tag_holds(
    secret: &[u8],
    bucket: &str,
    scope: TagScope<'_>,
    expires: u64,
    tag: &str,
) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let Some(raw) = hex_decode(tag) else {
        return false;
    };
    hmac::verify(&key, tag_message(bucket, scope, expires).as_bytes(), &raw).is_ok()
}

/// The 32 bytes of a tag written as [`tag`] writes it: 64 lower-case hex digits, nothing else
/// (so that one tag has one spelling).
fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let canonical = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if text.len() != 64 || !text.bytes().all(canonical) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The callback body presign-url pins (`callbackBodyType` `application/json`): OSS's
/// variables, which OSS fills with JSON values, and the constants record-upload checks. The
/// scope's value travels as URL-safe base64, so no `${` in a key can become a variable.
pub fn callback_body(scope: TagScope<'_>, expires: u64, tag: &str) -> String {
    format!(
        concat!(
            r#"{{"bucket":${{bucket}},"object":${{object}},"etag":${{etag}},"size":${{size}},"#,
            r#""mimeType":${{mimeType}},"height":${{imageInfo.height}},"width":${{imageInfo.width}},"#,
            r#""format":${{imageInfo.format}},"crc64":${{crc64}},"#,
            r#""stsvend":{{"scope":"{}","value":"{}","expires":{},"tag":"{}"}}}}"#
        ),
        scope.kind(),
        URL_SAFE_NO_PAD.encode(scope.value()),
        expires,
        tag
    )
}

/// The `callback` parameter: base64 of `{"callbackUrl","callbackBody","callbackBodyType"}`.
pub fn callback_parameter(url: &str, body: &str) -> String {
    let json = json!({
        "callbackUrl": url,
        "callbackBody": body,
        "callbackBodyType": "application/json",
    });
    BASE64.encode(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_gosspublic_key_urls_are_accepted() {
        let b64 = |s: &str| BASE64.encode(s);
        assert_eq!(
            public_key_url(&b64(PUBLISHED_KEY_URL)).as_deref(),
            Ok(PUBLISHED_KEY_URL)
        );
        assert!(
            public_key_url(&b64("http://gosspublic.alicdn.com/callback_pub_key_v1.pem")).is_ok()
        );
        for bad in [
            "https://gosspublic.alicdn.com.evil.example/k.pem",
            "https://evil.example/gosspublic.alicdn.com/k.pem",
            "https://gosspublic.alicdn.com@evil.example/k.pem",
            "HTTPS://gosspublic.alicdn.com/k.pem",
            " https://gosspublic.alicdn.com/k.pem",
            "https://gosspublic.alicdn.com\\@evil.example/",
            "https://gosspublic.alicdn.com/callback_pub_key_v1.pem?x=1",
            "https://gosspublic.alicdn.com/other.pem",
            "https://gosspublic.alicdn.com/callback_pub_key_v.pem",
            "https://gosspublic.alicdn.com/x/callback_pub_key_v1.pem",
            "file:///etc/passwd",
            "",
        ] {
            assert_eq!(
                public_key_url(&b64(bad)),
                Err(CallbackError::KeyUrlNotAllowed),
                "{bad:?}"
            );
        }
        assert_eq!(
            public_key_url("not base64!"),
            Err(CallbackError::MalformedHeader("x-oss-pub-key-url"))
        );
    }

    #[test]
    fn the_path_is_decoded_and_the_query_kept_raw() {
        assert_eq!(
            string_to_sign("/a%20b+c", Some("x=%2F&y=1"), b"body").expect("sts"),
            b"/a b+c?x=%2F&y=1\nbody"
        );
        assert_eq!(string_to_sign("/p", None, b"").expect("sts"), b"/p\n");
        assert_eq!(
            string_to_sign("/p%zz", None, b""),
            Err(CallbackError::MalformedPath)
        );
    }

    #[test]
    fn a_tag_binds_bucket_scope_and_expiry() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let scope = TagScope::Key("uploads/alice/a.jpg");
        let t = tag(secret, "b", scope, 100);
        assert!(tag_holds(secret, "b", scope, 100, &t));
        assert!(!tag_holds(secret, "b2", scope, 100, &t));
        assert!(!tag_holds(secret, "b", scope, 101, &t));
        assert!(!tag_holds(
            secret,
            "b",
            TagScope::Prefix("uploads/alice/a.jpg"),
            100,
            &t
        ));
        assert!(!tag_holds(
            secret,
            "b",
            TagScope::Key("uploads/alice/b.jpg"),
            100,
            &t
        ));
        assert!(!tag_holds(
            b"another secret of thirty-two bytes",
            "b",
            scope,
            100,
            &t
        ));
        assert!(!tag_holds(secret, "b", scope, 100, "zz"));
        assert!(
            !tag_holds(secret, "b", scope, 100, &t.to_ascii_uppercase()),
            "one spelling"
        );
    }

    #[test]
    fn the_pinned_body_is_json_once_oss_fills_it() {
        let body = callback_body(TagScope::Key("uploads/a/${object}\".jpg"), 7, "ab");
        assert!(!body.contains("uploads/a"), "{body}");
        // OSS fills each variable with a JSON value; any value gives valid JSON.
        let filled = body
            .replace("${bucket}", "\"b\"")
            .replace("${object}", "\"k\"")
            .replace("${etag}", "\"E\"")
            .replace("${size}", "3")
            .replace("${mimeType}", "\"image/png\"")
            .replace("${imageInfo.height}", "1")
            .replace("${imageInfo.width}", "2")
            .replace("${imageInfo.format}", "\"png\"")
            .replace("${crc64}", "\"9\"");
        let value: serde_json::Value = serde_json::from_str(&filled).expect("json");
        assert_eq!(value["stsvend"]["scope"], "key");
        assert_eq!(value["stsvend"]["expires"], 7);
        let decoded = URL_SAFE_NO_PAD
            .decode(value["stsvend"]["value"].as_str().expect("value"))
            .expect("b64");
        assert_eq!(decoded, b"uploads/a/${object}\".jpg");
    }
}
