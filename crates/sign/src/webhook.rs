//! Standard Webhooks: the signature on each webhook stsvend delivers.
//!
//! # Reference
//! <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::hmac;

/// A webhook signing secret, written `whsec_<base64 of the key bytes>`. `Debug` hides it.
#[derive(Clone)]
pub struct WebhookSecret(hmac::Key);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Reads `whsec_<base64>`; the key must be 24 to 64 bytes, as the specification advises.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let encoded = text
            .strip_prefix("whsec_")
            .ok_or("must start with whsec_")?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| "must be whsec_ followed by base64")?;
        if !(24..=64).contains(&key.len()) {
            return Err("must hold 24 to 64 bytes of key (whsec_ and their base64)");
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }

    /// The `webhook-signature` header value for one message.
    ///
    /// # Format
    /// ```text
    /// "v1," base64(HMAC-SHA256(key, msg_id "." timestamp "." body))
    /// ```
    pub fn sign(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(format!("{msg_id}.{timestamp}.").as_bytes());
        context.update(body);
        format!("v1,{}", BASE64.encode(context.sign().as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// standard-webhooks/standard-webhooks `libraries/python/tests/test_webhooks.py`
    /// (`test_sign_function`).
    #[test]
    fn the_specifications_python_vector_signs() {
        let secret =
            WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_base64_of_a_real_key() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_not base64").is_err());
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("ok");
        assert!(!format!("{secret:?}").contains("MfKQ"));
    }
}
