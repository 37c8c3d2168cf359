//! Amazon CloudFront signed URLs (canned policy) and signed cookies (custom policy), with an
//! RSA 2048 or ECDSA P-256 key of a trusted key group, built without I/O.
//!
//! The policy is compact JSON; its signature (RSA PKCS #1 v1.5 or ECDSA, DER-encoded, over
//! SHA-1, or SHA-256 with `Hash-Algorithm=SHA256`) and a custom policy travel in CloudFront's
//! URL-safe base64: `+` → `-`, `=` → `_`, `/` → `~`.
//!
//! RSA signing blinds its private-key operation with random numbers drawn from a seed the caller
//! passes in (this crate reads no random source); ECDSA is deterministic (RFC 6979).
//!
//! # Reference
//! - <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-canned-policy.html>
//! - <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-setting-signed-cookie-custom-policy.html>
//! - <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/PrivateCFSignatureCodeAndExamples.html>
//!   (SHA-256 and `Hash-Algorithm=SHA256`)
//! - botocore `botocore.signers.CloudFrontSigner`, npm `@aws-sdk/cloudfront-signer`

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use ring::digest;
use ring::hmac;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::traits::PublicKeyParts as _;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};

/// The hash a policy is signed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-1, CloudFront's default.
    Sha1,
    /// SHA-256: the URL (or cookies) also carry `Hash-Algorithm=SHA256`.
    Sha256,
}

/// The DER `DigestInfo` prefix of a SHA-1 digest (RFC 8017, section 9.2, note 1).
const SHA1_DIGEST_INFO: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

/// The DER `DigestInfo` prefix of a SHA-256 digest (RFC 8017, section 9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

impl HashAlgorithm {
    fn digest(self, message: &[u8]) -> digest::Digest {
        let algorithm = match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
        };
        digest::digest(algorithm, message)
    }

    fn pkcs1v15(self) -> Pkcs1v15Sign {
        let (len, prefix): (usize, &[u8]) = match self {
            Self::Sha1 => (20, &SHA1_DIGEST_INFO),
            Self::Sha256 => (32, &SHA256_DIGEST_INFO),
        };
        Pkcs1v15Sign {
            hash_len: Some(len),
            prefix: prefix.into(),
        }
    }
}

/// A key group's private key: RSA 2048 or ECDSA P-256, the two CloudFront takes. `Debug` hides
/// it.
#[derive(Clone)]
pub enum PrivateKey {
    /// RSA, 2048 bits.
    Rsa(Box<RsaPrivateKey>),
    /// ECDSA on P-256.
    Ecdsa(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa(_) => f.write_str("PrivateKey::Rsa(<redacted>)"),
            Self::Ecdsa(_) => f.write_str("PrivateKey::Ecdsa(<redacted>)"),
        }
    }
}

impl PrivateKey {
    /// Reads a PEM private key: PKCS #1 (`RSA PRIVATE KEY`), PKCS #8 (`PRIVATE KEY`, RSA or EC)
    /// or SEC1 (`EC PRIVATE KEY`). An RSA key must have 2048 bits, an EC key be on P-256;
    /// encrypted keys are refused. The error never quotes the key.
    pub fn from_pem(text: &str) -> Result<Self, &'static str> {
        let label = text.trim_start().lines().next().unwrap_or_default().trim();
        let key = match label {
            "-----BEGIN RSA PRIVATE KEY-----" => RsaPrivateKey::from_pkcs1_pem(text)
                .map(|k| Self::Rsa(Box::new(k)))
                .map_err(|_| "is not a readable PKCS #1 RSA private key")?,
            "-----BEGIN EC PRIVATE KEY-----" => p256::SecretKey::from_sec1_pem(text)
                .map(|k| Self::Ecdsa(k.into()))
                .map_err(|_| "is not a readable SEC1 P-256 private key")?,
            "-----BEGIN PRIVATE KEY-----" => match p256::ecdsa::SigningKey::from_pkcs8_pem(text) {
                Ok(key) => Self::Ecdsa(key),
                Err(_) => RsaPrivateKey::from_pkcs8_pem(text)
                    .map(|k| Self::Rsa(Box::new(k)))
                    .map_err(|_| "is not a readable PKCS #8 RSA or P-256 private key")?,
            },
            _ => {
                return Err(
                    "must be an unencrypted PEM private key (RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)",
                );
            }
        };
        if let Self::Rsa(rsa) = &key
            && rsa.size() != 256
        {
            return Err("is an RSA key, but not of 2048 bits, the size CloudFront takes");
        }
        Ok(key)
    }

    /// The signature of `message`: RSA PKCS #1 v1.5 (blinded with numbers drawn from `seed`,
    /// 32 fresh random bytes), or ECDSA as DER (`seed` unused).
    pub fn sign(
        &self,
        message: &[u8],
        hash: HashAlgorithm,
        seed: [u8; 32],
    ) -> Result<Vec<u8>, &'static str> {
        let digest = hash.digest(message);
        match self {
            Self::Rsa(key) => key
                .sign_with_rng(&mut Blinding::new(seed), hash.pkcs1v15(), digest.as_ref())
                .map_err(|_| "the RSA signature failed"),
            Self::Ecdsa(key) => {
                let signature: p256::ecdsa::Signature = key
                    .sign_prehash(digest.as_ref())
                    .map_err(|_| "the ECDSA signature failed")?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
        }
    }
}

/// The random numbers RSA blinding draws: HMAC-SHA256 in counter mode under a caller's fresh
/// 32-byte seed, so that signing reads no random source and cannot fail for want of one.
struct Blinding {
    key: hmac::Key,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Blinding {
    fn new(seed: [u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &seed),
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }
}

impl RngCore for Blinding {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used == self.block.len() {
                let tag = hmac::sign(&self.key, &self.counter.to_be_bytes());
                self.block.copy_from_slice(tag.as_ref());
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Blinding {}

/// CloudFront's URL-safe base64: standard base64 with `+` → `-`, `=` → `_`, `/` → `~`.
pub fn url_safe_base64(bytes: &[u8]) -> String {
    BASE64
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

/// A policy: one statement, the resource, and the time it ends. A canned policy is this text
/// for the exact URL; a custom one may end the resource in `*`. Compact JSON, keys in this
/// order, as CloudFront's documentation writes it.
///
/// # Format
/// ```text
/// {"Statement":[{"Resource":"<resource>","Condition":{"DateLessThan":{"AWS:EpochTime":<expires>}}}]}
/// ```
pub fn policy(resource: &str, expires: u64) -> String {
    let resource = serde_json::Value::String(resource.to_owned());
    format!(
        r#"{{"Statement":[{{"Resource":{resource},"Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

/// Signs for one distribution with one key of its trusted key group.
#[derive(Debug, Clone)]
pub struct Signer {
    key_pair_id: String,
    key: PrivateKey,
    hash: HashAlgorithm,
}

/// The three cookies (four with SHA-256) a browser sends to CloudFront with every request under
/// the policy's resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCookies {
    /// `CloudFront-Policy`: the policy, URL-safe base64.
    pub policy: String,
    /// `CloudFront-Signature`: its signature, URL-safe base64.
    pub signature: String,
    /// `CloudFront-Key-Pair-Id`.
    pub key_pair_id: String,
    /// `CloudFront-Hash-Algorithm`: `SHA256`, when the signature is over SHA-256.
    pub hash_algorithm: Option<&'static str>,
}

impl Signer {
    /// A signer with the public key's ID (`K2JCJMDEHXQW5F`) and its private key.
    pub fn new(key_pair_id: &str, key: PrivateKey, hash: HashAlgorithm) -> Self {
        Self {
            key_pair_id: key_pair_id.to_owned(),
            key,
            hash,
        }
    }

    /// `Hash-Algorithm`'s value, when not SHA-1.
    fn hash_algorithm(&self) -> Option<&'static str> {
        (self.hash == HashAlgorithm::Sha256).then_some("SHA256")
    }

    /// A signed URL with a canned policy: `url` (no query of its own) until `expires` (Unix
    /// seconds). `seed`: 32 fresh random bytes (RSA blinding).
    ///
    /// # Format
    /// ```text
    /// url "?Expires=" expires "&Signature=" b64(sign(policy(url, expires))) "&Key-Pair-Id=" id
    ///     [ "&Hash-Algorithm=SHA256" ]
    /// ```
    pub fn canned_url(
        &self,
        url: &str,
        expires: u64,
        seed: [u8; 32],
    ) -> Result<String, &'static str> {
        let signature = self
            .key
            .sign(policy(url, expires).as_bytes(), self.hash, seed)?;
        let mut out = format!(
            "{url}?Expires={expires}&Signature={}&Key-Pair-Id={}",
            url_safe_base64(&signature),
            self.key_pair_id
        );
        if let Some(hash) = self.hash_algorithm() {
            out.push_str("&Hash-Algorithm=");
            out.push_str(hash);
        }
        Ok(out)
    }

    /// Signed cookies with a custom policy over `resource` (which may end in `*`) until
    /// `expires`. `seed`: 32 fresh random bytes, as for [`Self::canned_url`].
    pub fn cookies(
        &self,
        resource: &str,
        expires: u64,
        seed: [u8; 32],
    ) -> Result<SignedCookies, &'static str> {
        let policy = policy(resource, expires);
        let signature = self.key.sign(policy.as_bytes(), self.hash, seed)?;
        Ok(SignedCookies {
            policy: url_safe_base64(policy.as_bytes()),
            signature: url_safe_base64(&signature),
            key_pair_id: self.key_pair_id.clone(),
            hash_algorithm: self.hash_algorithm(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_safe_alphabet_is_cloudfronts() {
        // Standard base64 of these bytes is "+/+/" (Python's base64.b64encode agrees).
        assert_eq!(url_safe_base64(&[0xfb, 0xff, 0xbf]), "-~-~");
        assert_eq!(url_safe_base64(b"a"), "YQ__");
    }

    /// The canned policy as CloudFront's documentation prints it, for its example URL.
    #[test]
    fn the_policy_is_the_documentations_compact_json() {
        assert_eq!(
            policy(
                "https://d111111abcdef8.cloudfront.net/horizon.jpg?size=large&license=yes",
                1_357_034_400
            ),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/horizon.jpg?size=large&license=yes","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#
        );
        assert_eq!(
            policy("https://cdn/a\"b*", 1),
            r#"{"Statement":[{"Resource":"https://cdn/a\"b*","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}"#
        );
    }

    #[test]
    fn keys_of_other_shapes_are_refused_without_quoting_them() {
        for bad in [
            "",
            "not a key",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
        ] {
            let refused = PrivateKey::from_pem(bad).expect_err(bad);
            assert!(!refused.contains("AAAA"), "{refused}");
        }
    }
}
