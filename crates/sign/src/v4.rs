//! The V4 skeleton OSS V4 and AWS SigV4 share: canonical request, credential scope, string to
//! sign, derived signing key and hex signature. The two differ only in their names (the
//! [`Flavor`]) and in how each canonicalizes its query and headers, which stay with them.
//!
//! # Reference
//! - <https://www.alibabacloud.com/help/en/oss/developer-reference/recommend-to-use-signature-version-4>
//! - <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>

use ring::{digest, hmac};

use crate::encode::{RFC3986_UNRESERVED, hex_lower, hex_lower_into, percent_encode_into};

/// The names one V4 signature uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavor {
    /// The algorithm name, first line of the string to sign.
    pub algorithm: &'static str,
    /// Prepended to the secret to make the first HMAC key.
    pub key_prefix: &'static str,
    /// The scope's last part.
    pub terminator: &'static str,
}

/// OSS V4: `OSS4-HMAC-SHA256`, `aliyun_v4`, `aliyun_v4_request`.
pub const OSS4: Flavor = Flavor {
    algorithm: "OSS4-HMAC-SHA256",
    key_prefix: "aliyun_v4",
    terminator: "aliyun_v4_request",
};

/// AWS SigV4: `AWS4-HMAC-SHA256`, `AWS4`, `aws4_request`.
pub const AWS4: Flavor = Flavor {
    algorithm: "AWS4-HMAC-SHA256",
    key_prefix: "AWS4",
    terminator: "aws4_request",
};

impl Flavor {
    /// The credential scope.
    ///
    /// # Format
    /// ```text
    /// yyyymmdd "/" region "/" service "/" terminator
    /// ```
    pub fn scope(&self, date: &str, region: &str, service: &str) -> String {
        let parts = [date, "/", region, "/", service, "/", self.terminator];
        concat(&parts, 0)
    }

    /// The credential: the access key id and the scope, as `x-oss-credential` and
    /// `X-Amz-Credential` carry it.
    ///
    /// # Format
    /// ```text
    /// AccessKeyId "/" Scope
    /// ```
    pub fn credential(
        &self,
        access_key_id: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> String {
        let parts = [
            access_key_id,
            "/",
            date,
            "/",
            region,
            "/",
            service,
            "/",
            self.terminator,
        ];
        concat(&parts, 0)
    }

    /// The string to sign.
    ///
    /// # Format
    /// ```text
    /// algorithm "\n" yyyymmddThhmmssZ "\n" Scope "\n" hex(SHA256(CanonicalRequest))
    /// ```
    pub fn string_to_sign(&self, date_time: &str, scope: &str, canonical_request: &str) -> String {
        let hash = digest::digest(&digest::SHA256, canonical_request.as_bytes());
        let parts = [self.algorithm, "\n", date_time, "\n", scope, "\n"];
        let mut out = concat(&parts, 2 * hash.as_ref().len());
        hex_lower_into(&mut out, hash.as_ref());
        out
    }

    /// The signing key, derived from the secret for one day, region and service.
    ///
    /// # Format
    /// ```text
    /// HMAC(HMAC(HMAC(HMAC(key_prefix + secret, yyyymmdd), region), service), terminator)
    /// ```
    pub fn signing_key(&self, secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
        let mut key = hmac::Key::new(
            hmac::HMAC_SHA256,
            format!("{}{secret}", self.key_prefix).as_bytes(),
        );
        for part in [date, region, service, self.terminator] {
            key = hmac::Key::new(
                hmac::HMAC_SHA256,
                hmac::sign(&key, part.as_bytes()).as_ref(),
            );
        }
        key
    }
}

/// The canonical request. OSS V4 calls its fifth line `AdditionalHeaders`, SigV4
/// `SignedHeaders`; both end with the hashed payload.
///
/// # Format
/// ```text
/// Method "\n" CanonicalURI "\n" CanonicalQueryString "\n" CanonicalHeaders "\n"
/// SignedHeaders "\n" HashedPayload
/// ```
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query_string: &str,
    canonical_headers: &str,
    signed_headers: &str,
    hashed_payload: &str,
) -> String {
    let lines = [
        canonical_uri,
        canonical_headers,
        signed_headers,
        hashed_payload,
    ];
    canonical_request_with(method, lines, canonical_query_string.len(), |out| {
        out.push_str(canonical_query_string);
    })
}

/// [`canonical_request`] in one buffer, its canonical query string written in place by
/// `write_query` (which writes about `query_len` bytes); `lines` are the canonical URI, the
/// canonical headers, the signed (additional) headers and the hashed payload.
pub(crate) fn canonical_request_with(
    method: &str,
    [
        canonical_uri,
        canonical_headers,
        signed_headers,
        hashed_payload,
    ]: [&str; 4],
    query_len: usize,
    write_query: impl FnOnce(&mut String),
) -> String {
    let mut out = concat(
        &[method, "\n", canonical_uri, "\n"],
        query_len + 8 + canonical_headers.len() + signed_headers.len() + hashed_payload.len(),
    );
    write_query(&mut out);
    for part in [
        "\n",
        canonical_headers,
        "\n",
        signed_headers,
        "\n",
        hashed_payload,
    ] {
        out.push_str(part);
    }
    out
}

/// `parts` joined into one `String`, with room for `extra` more bytes.
fn concat(parts: &[&str], extra: usize) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + extra);
    for part in parts {
        out.push_str(part);
    }
    out
}

/// How a canonical query string writes a parameter with an empty value: OSS V4 as the bare
/// name, SigV4 as `name=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmptyValue {
    /// `name` (OSS V4, and OSS URLs).
    BareName,
    /// `name=` (SigV4).
    NameEquals,
}

/// Query parameters RFC 3986-encoded once, into one buffer, so that the canonical query
/// string (sorted) and the URL's query (in the order given) copy the same encoded text: the
/// security token, the longest value, is encoded once per signature.
#[derive(Clone)]
pub(crate) struct EncodedQuery {
    text: String,
    /// Each pair's encoded name `text[start..middle]` and value `text[middle..end]`.
    pairs: Vec<(usize, usize, usize)>,
}

impl EncodedQuery {
    /// `query` encoded, with room for `extra` more bytes and 8 more pairs.
    pub(crate) fn new(query: &[(&str, &str)], extra: usize) -> Self {
        let raw: usize = query.iter().map(|(k, v)| k.len() + v.len()).sum();
        let mut encoded = Self {
            text: String::with_capacity(raw + raw / 4 + extra + 16),
            pairs: Vec::with_capacity(query.len() + 8),
        };
        for (k, v) in query {
            encoded.push(k, v);
        }
        encoded
    }

    /// Appends one pair, encoded.
    pub(crate) fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        percent_encode_into(&mut self.text, name, RFC3986_UNRESERVED);
        let middle = self.text.len();
        percent_encode_into(&mut self.text, value, RFC3986_UNRESERVED);
        self.pairs.push((start, middle, self.text.len()));
    }

    fn pair(&self, (start, middle, end): (usize, usize, usize)) -> (&str, &str) {
        (&self.text[start..middle], &self.text[middle..end])
    }

    /// The encoded pairs, sorted by encoded name then value.
    pub(crate) fn sorted(&self) -> Vec<(&str, &str)> {
        let mut sorted: Vec<(&str, &str)> = self.pairs.iter().map(|&p| self.pair(p)).collect();
        sorted.sort_unstable();
        sorted
    }

    /// The length the pairs take written out, separators included.
    pub(crate) fn written_len(&self) -> usize {
        self.text.len() + 2 * self.pairs.len()
    }

    /// Writes the pairs, in the order given, as `k1=v1&k2…` into `out`.
    pub(crate) fn write_in_order(&self, out: &mut String, empty: EmptyValue) {
        write_pairs(out, self.pairs.iter().map(|&p| self.pair(p)), empty);
    }

    /// Writes the pairs sorted (the canonical query string) into `out`.
    pub(crate) fn write_sorted(&self, out: &mut String, empty: EmptyValue) {
        write_pairs(out, self.sorted(), empty);
    }
}

/// `k1=v1&k2=v2…` of pairs already encoded.
fn write_pairs<'a>(
    out: &mut String,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    empty: EmptyValue,
) {
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        if !v.is_empty() || empty == EmptyValue::NameEquals {
            out.push('=');
            out.push_str(v);
        }
    }
}

/// The signature: hex of HMAC-SHA256 with the signing key.
pub fn signature(signing_key: &hmac::Key, string_to_sign: &str) -> String {
    hex_lower(hmac::sign(signing_key, string_to_sign.as_bytes()).as_ref())
}

/// The stages of one V4 signature, for the known-answer tests. `Debug` shows none of them:
/// the canonical request holds the security token.
#[derive(Clone, PartialEq, Eq)]
pub struct Stages {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

impl std::fmt::Debug for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stages(<redacted>)")
    }
}

impl Stages {
    /// Signs `canonical_request` with `key` under `flavor`, keeping each stage.
    pub fn sign(
        flavor: &Flavor,
        key: &hmac::Key,
        date_time: &str,
        scope: &str,
        canonical_request: String,
    ) -> Self {
        let string_to_sign = flavor.string_to_sign(date_time, scope, &canonical_request);
        let signature = signature(key, &string_to_sign);
        Self {
            canonical_request,
            string_to_sign,
            signature,
        }
    }
}
