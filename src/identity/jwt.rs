//! Bearer JWTs verified in the function (`AUTH_MODE=jwt`), for deployments with no gateway
//! authorizer in front: Function Compute, a container, a Lambda Function URL.
//!
//! The algorithm allow-list is bound to the key material: `RS256` verifies only with an RSA
//! key from the JWKS, `ES256` only with a P-256 key from the JWKS, `HS256` only with
//! `JWT_HS256_SECRET`. So `alg: none`, and an HS256 token "signed" with an RSA public key,
//! are refused by construction. The cryptography is `ring`'s.
//!
//! # Reference
//! RFC 7519 (JWT), RFC 7515 (JWS), RFC 7517 (JWK), RFC 7518 §3 (algorithms).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use ring::{hmac, signature};
use serde::Deserialize;
use serde_json::Value;

use super::{Booleans, claims_as_text};
use crate::Error;

/// The largest token accepted, in bytes: real identity tokens are 1 to 2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8191;

/// How far `exp` and `nbf` may be off (clock skew between the issuer and this function).
pub const LEEWAY: Duration = Duration::from_secs(60);

/// Why a token was refused. Each has its own `ErrorCode` (all 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// No `Authorization: Bearer …` header.
    #[error("no bearer token in the Authorization header")]
    Missing,
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("the token is longer than 8191 bytes")]
    TooLarge,
    /// Not three base64url parts of JSON, or a header stsvend does not understand.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// An algorithm outside the allow-list, or one this deployment has no key for.
    #[error("tokens signed with {0:?} are not accepted here")]
    UnsupportedAlgorithm(String),
    /// No key with the token's `kid` (after refreshing the JWKS, when it comes from a URL).
    #[error("no key matches the token's kid")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still ahead (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not `JWT_ISSUER`.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// `aud` does not include `JWT_AUDIENCE`.
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// A required claim (`sub`, `exp`) is missing or not of its type.
    #[error("the token has no valid {0} claim")]
    MissingClaim(&'static str),
}

impl JwtError {
    /// The `ErrorCode` of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "MissingToken",
            Self::TooLarge => "TokenTooLarge",
            Self::Malformed(_) => "MalformedToken",
            Self::UnsupportedAlgorithm(_) => "UnsupportedAlgorithm",
            Self::UnknownKey => "UnknownKey",
            Self::BadSignature => "InvalidSignature",
            Self::Expired => "TokenExpired",
            Self::NotYetValid => "TokenNotYetValid",
            Self::WrongIssuer => "InvalidIssuer",
            Self::WrongAudience => "InvalidAudience",
            Self::MissingClaim(_) => "MissingClaim",
        }
    }
}

/// A refused token, as the library's error: 401 with this refusal's `ErrorCode` and sentence.
impl From<JwtError> for Error {
    fn from(refusal: JwtError) -> Self {
        Error::TokenRefused {
            code: refusal.code(),
            reason: refusal.to_string(),
        }
    }
}

/// A verification key from a JWKS.
#[derive(Clone)]
enum PublicKey {
    /// `kty: RSA`, for RS256.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// `kty: EC`, `crv: P-256`, for ES256: the uncompressed point `04 || x || y`.
    P256(Vec<u8>),
}

/// The keys of a JWKS that stsvend can use, by `kid`.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<(Option<String>, PublicKey)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self
            .keys
            .iter()
            .map(|(kid, _)| kid.as_deref().unwrap_or("-"))
            .collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys":[…]}`), keeping the RSA and P-256 signing keys and
    /// skipping the others (encryption keys, other curves). Fails when none is usable.
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let jwks: Jwks =
            serde_json::from_slice(text).map_err(|e| format!("not a JWKS document: {e}"))?;
        let decode = |v: &Option<String>| v.as_deref().and_then(|s| BASE64URL.decode(s).ok());
        let mut keys = Vec::new();
        for jwk in jwks.keys {
            if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
                continue;
            }
            let key = match (jwk.kty.as_str(), jwk.alg.as_deref()) {
                ("RSA", None | Some("RS256")) => match (decode(&jwk.n), decode(&jwk.e)) {
                    (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => PublicKey::Rsa { n, e },
                    _ => continue,
                },
                ("EC", None | Some("ES256")) if jwk.crv.as_deref() == Some("P-256") => {
                    match (decode(&jwk.x), decode(&jwk.y)) {
                        (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                            PublicKey::P256([&[4u8][..], &x, &y].concat())
                        }
                        _ => continue,
                    }
                }
                _ => continue,
            };
            keys.push((jwk.kid, key));
        }
        if keys.is_empty() {
            return Err("the JWKS holds no RS256 or ES256 signing key".to_owned());
        }
        Ok(Self { keys })
    }

    /// The key for a token of algorithm `alg` with `kid`: by `kid`, or the only key of the
    /// right type when the token names none.
    fn find(&self, alg: &str, kid: Option<&str>) -> Option<&PublicKey> {
        let fits = |key: &PublicKey| {
            matches!(
                (alg, key),
                ("RS256", PublicKey::Rsa { .. }) | ("ES256", PublicKey::P256(_))
            )
        };
        let mut candidates = self.keys.iter().filter(|(_, key)| fits(key));
        match kid {
            Some(kid) => candidates
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, key)| key),
            None => {
                let first = candidates.next();
                if candidates.next().is_some() {
                    None
                } else {
                    first.map(|(_, key)| key)
                }
            }
        }
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` is present.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k.as_deref() == Some(kid))
    }
}

/// What `iss` and `aud` must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// `JWT_ISSUER`: `iss` must equal it.
    pub issuer: String,
    /// `JWT_AUDIENCE`: `aud` (a string or an array) must contain it.
    pub audience: String,
}

/// The parts of a token, decoded but not yet verified. `Debug` shows the header only.
pub struct Unverified<'a> {
    /// `alg`.
    pub alg: String,
    /// `kid`.
    pub kid: Option<String>,
    signing_input: &'a str,
    signature: Vec<u8>,
    claims: serde_json::Map<String, Value>,
}

impl std::fmt::Debug for Unverified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unverified")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<Value>,
}

/// Splits and decodes a compact JWS, checking its size and shape only.
pub fn decode(token: &str) -> Result<Unverified<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three dot-separated parts"));
    };
    let header: Header = BASE64URL
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(JwtError::Malformed("the header is not base64url JSON"))?;
    let claims = BASE64URL
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|value| match value {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .ok_or(JwtError::Malformed(
            "the payload is not a base64url JSON object",
        ))?;
    let signature = BASE64URL
        .decode(signature)
        .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    if header.crit.is_some() {
        return Err(JwtError::Malformed(
            "critical header parameters are not supported",
        ));
    }
    let alg = header
        .alg
        .ok_or(JwtError::Malformed("the header has no alg"))?;
    Ok(Unverified {
        alg,
        kid: header.kid,
        signing_input: &token[..token.len() - token.rsplit('.').next().map_or(0, |s| s.len() + 1)],
        signature,
        claims,
    })
}

/// A verified token's claims: `sub`, and every string or number claim by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    /// `sub`.
    pub sub: String,
    /// String and number claims, numbers in decimal.
    pub claims: BTreeMap<String, String>,
}

impl Unverified<'_> {
    /// Verifies the signature with the key the allow-list gives for `alg`, then the claims
    /// at `now`.
    pub fn verify(
        self,
        keys: &KeySet,
        hs256: Option<&hmac::Key>,
        expect: &Expectations,
        now: SystemTime,
    ) -> Result<VerifiedClaims, JwtError> {
        let input = self.signing_input.as_bytes();
        let verified = match self.alg.as_str() {
            "HS256" => {
                let key = hs256.ok_or_else(|| JwtError::UnsupportedAlgorithm(self.alg.clone()))?;
                hmac::verify(key, input, &self.signature).is_ok()
            }
            "RS256" | "ES256" => {
                let key = keys
                    .find(&self.alg, self.kid.as_deref())
                    .ok_or(JwtError::UnknownKey)?;
                match key {
                    PublicKey::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                        .verify(
                            &signature::RSA_PKCS1_2048_8192_SHA256,
                            input,
                            &self.signature,
                        )
                        .is_ok(),
                    PublicKey::P256(point) => signature::UnparsedPublicKey::new(
                        &signature::ECDSA_P256_SHA256_FIXED,
                        point,
                    )
                    .verify(input, &self.signature)
                    .is_ok(),
                }
            }
            other => {
                return Err(JwtError::UnsupportedAlgorithm(
                    other.chars().take(20).collect(),
                ));
            }
        };
        if !verified {
            return Err(JwtError::BadSignature);
        }
        check_claims(self.claims, expect, now)
    }
}

fn check_claims(
    claims: serde_json::Map<String, Value>,
    expect: &Expectations,
    now: SystemTime,
) -> Result<VerifiedClaims, JwtError> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let leeway = LEEWAY.as_secs_f64();
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(JwtError::MissingClaim("exp"))?;
    if now > exp + leeway {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_f64().ok_or(JwtError::MissingClaim("nbf"))?;
        if now + leeway < nbf {
            return Err(JwtError::NotYetValid);
        }
    }
    if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer.as_str()) {
        return Err(JwtError::WrongIssuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == expect.audience,
        Some(Value::Array(auds)) => auds
            .iter()
            .any(|a| a.as_str() == Some(expect.audience.as_str())),
        _ => false,
    };
    if !audience_ok {
        return Err(JwtError::WrongAudience);
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(JwtError::MissingClaim("sub"))?
        .to_owned();
    let claims = claims_as_text(claims, Booleans::Dropped);
    Ok(VerifiedClaims { sub, claims })
}

/// The token in an `Authorization: Bearer <token>` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, JwtError> {
    let value = header.ok_or(JwtError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(JwtError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(JwtError::Missing);
    }
    Ok(token.trim())
}
