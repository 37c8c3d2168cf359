//! Signed JWTs for tests, made with keys generated here and signed by independent
//! implementations (the `rsa`, `p256` and `hmac` crates), so that stsvend's `ring`-based
//! verification is checked against outside signers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac as _;
use p256::ecdsa::signature::Signer as _;
use rsa::pkcs1v15::SigningKey as RsaSigningKey;
use rsa::signature::SignatureEncoding as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

/// The issuer every test token names and every test deployment expects.
pub const ISSUER: &str = "https://issuer.example.com/";
/// The audience every test token names and every test deployment expects.
pub const AUDIENCE: &str = "stsvend-test";
/// A 32-byte HS256 secret.
pub const HS256_SECRET: &str = "hs256-test-secret-0123456789abcdef";

/// An RSA and an EC signing key, generated per test run.
pub struct Keys {
    rsa: rsa::RsaPrivateKey,
    ec: p256::ecdsa::SigningKey,
}

fn part(value: &Value) -> String {
    B64.encode(value.to_string())
}

impl Keys {
    /// A fresh RSA-2048 key (`kid` `rsa-1`) and P-256 key (`kid` `ec-1`).
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        Self {
            rsa: rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key"),
            ec: p256::ecdsa::SigningKey::random(&mut rng),
        }
    }

    /// The public keys as a JWKS document.
    pub fn jwks(&self) -> String {
        let public = self.rsa.to_public_key();
        let point = self.ec.verifying_key().to_encoded_point(false);
        json!({"keys": [
            {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
             "n": B64.encode(public.n().to_bytes_be()), "e": B64.encode(public.e().to_bytes_be())},
            {"kty": "EC", "kid": "ec-1", "crv": "P-256", "use": "sig",
             "x": B64.encode(point.x().expect("x")), "y": B64.encode(point.y().expect("y"))},
        ]})
        .to_string()
    }

    /// The RSA public key's PEM-ish bytes, as an attacker would use them as an HMAC secret.
    pub fn rsa_public_bytes(&self) -> Vec<u8> {
        self.rsa.to_public_key().n().to_bytes_be()
    }

    /// A token signed RS256 with the RSA key.
    pub fn rs256(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", part(header), part(claims));
        let signature = RsaSigningKey::<sha2::Sha256>::new(self.rsa.clone()).sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }

    /// A token signed ES256 with the P-256 key.
    pub fn es256(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", part(header), part(claims));
        let signature: p256::ecdsa::Signature = self.ec.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }
}

/// A token signed HS256 with `secret`.
pub fn hs256_with(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", part(header), part(claims));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("hmac key");
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

/// A token signed HS256 with [`HS256_SECRET`].
pub fn hs256(header: &Value, claims: &Value) -> String {
    hs256_with(HS256_SECRET.as_bytes(), header, claims)
}

/// A token with any header, claims and signature bytes.
pub fn raw(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        part(header),
        part(claims),
        B64.encode(signature)
    )
}

/// The environment of a function binary in `AUTH_MODE=jwt` that accepts [`hs256`] tokens.
pub fn hs256_env() -> Vec<(&'static str, String)> {
    vec![
        ("RUST_LOG", "info".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_HS256_SECRET", HS256_SECRET.to_owned()),
        ("JWT_ISSUER", ISSUER.to_owned()),
        ("JWT_AUDIENCE", AUDIENCE.to_owned()),
    ]
}

/// An `Authorization` value: a valid [`hs256`] token at `now` for `sub` of tenant `tenant`.
pub fn hs256_bearer_of_tenant(sub: &str, tenant: &str, now: u64) -> String {
    let mut claims = claims(sub, now);
    claims["tenant"] = json!(tenant);
    format!("Bearer {}", hs256(&json!({"alg": "HS256"}), &claims))
}

/// Claims that pass every check at `now` (unix seconds), for `sub`.
pub fn claims(sub: &str, now: u64) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600})
}

/// Each way a token can be refused, with the `ErrorCode` stsvend must answer, at `now`.
pub fn refusals(keys: &Keys, now: u64) -> Vec<(&'static str, String, &'static str)> {
    let rs = json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"});
    let good = claims("alice", now);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        change(&mut c);
        c
    };
    let valid = keys.rs256(&rs, &good);
    let mut tampered = valid.clone();
    let flip = tampered.len() - 5;
    tampered.replace_range(
        flip..flip + 1,
        if &valid[flip..flip + 1] == "A" {
            "B"
        } else {
            "A"
        },
    );
    vec![
        (
            "expired",
            keys.rs256(&rs, &with(&|c| c["exp"] = json!(now - 61))),
            "TokenExpired",
        ),
        (
            "not yet valid",
            // Well past the leeway: the binary's clock runs on while the test sends these.
            keys.rs256(&rs, &with(&|c| c["nbf"] = json!(now + 300))),
            "TokenNotYetValid",
        ),
        (
            "wrong issuer",
            keys.rs256(
                &rs,
                &with(&|c| c["iss"] = json!("https://evil.example.com/")),
            ),
            "InvalidIssuer",
        ),
        (
            "wrong audience",
            keys.rs256(&rs, &with(&|c| c["aud"] = json!(["other-app"]))),
            "InvalidAudience",
        ),
        (
            "alg none",
            raw(&json!({"alg": "none", "typ": "JWT"}), &good, b""),
            "UnsupportedAlgorithm",
        ),
        (
            "alg none, no signature part",
            format!("{}.{}.", part(&json!({"alg": "none"})), part(&good)),
            "UnsupportedAlgorithm",
        ),
        (
            "HS256 signed with the RSA public key",
            hs256_with(
                &keys.rsa_public_bytes(),
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &good,
            ),
            "InvalidSignature",
        ),
        ("bad signature", tampered, "InvalidSignature"),
        (
            "ES256 signature under an RS256 header",
            keys.es256(&json!({"alg": "RS256", "kid": "rsa-1"}), &good),
            "InvalidSignature",
        ),
        (
            "unknown kid",
            keys.rs256(&json!({"alg": "RS256", "kid": "rsa-2"}), &good),
            "UnknownKey",
        ),
        ("malformed", "not.a.jwt".to_owned(), "MalformedToken"),
        (
            "two parts",
            format!("{}.{}", part(&rs), part(&good)),
            "MalformedToken",
        ),
        (
            "8 KiB",
            keys.rs256(&rs, &with(&|c| c["pad"] = json!("x".repeat(8192)))),
            "TokenTooLarge",
        ),
        (
            "no sub",
            keys.rs256(
                &rs,
                &with(&|c| {
                    c.as_object_mut().expect("object").remove("sub");
                }),
            ),
            "MissingClaim",
        ),
        (
            "no exp",
            keys.rs256(
                &rs,
                &with(&|c| {
                    c.as_object_mut().expect("object").remove("exp");
                }),
            ),
            "MissingClaim",
        ),
        (
            "RS512",
            keys.rs256(&json!({"alg": "RS512", "kid": "rsa-1"}), &good),
            "UnsupportedAlgorithm",
        ),
    ]
}
