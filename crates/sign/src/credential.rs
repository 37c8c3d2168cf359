//! Access keys: the function's own, and the temporary ones STS vends.

use std::fmt;
use std::time::SystemTime;

use crate::time::format_iso8601;

/// An access key, optionally temporary.
///
/// `Debug` shows the key id and the expiry only: the secret and the security token are never
/// printed, so a credential can sit inside any logged or debugged structure.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// `AccessKeyId` (`STS.…` for temporary Alibaba keys, `ASIA…` for temporary AWS keys).
    pub access_key_id: String,
    /// `AccessKeySecret` / `SecretAccessKey`.
    pub access_key_secret: String,
    /// `SecurityToken` / `SessionToken`, present when the key is temporary.
    pub security_token: Option<String>,
    /// When a temporary key stops working; `None` for a long-lived key.
    pub expiration: Option<SystemTime>,
}

impl Credential {
    /// A long-lived key, or a temporary one when `security_token` is given.
    pub fn new(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
        security_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token,
            expiration: None,
        }
    }
}

impl Credential {
    /// The secret under its AWS name (`SecretAccessKey`).
    pub fn secret_access_key(&self) -> &str {
        &self.access_key_secret
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration.map(format_iso8601))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Clock;
    use crate::time::FixedClock;

    #[test]
    fn debug_never_shows_the_secret_or_the_token() {
        let mut credential = Credential::new(
            "STS.test-vended-key",
            "very-secret-value",
            Some("CAIS+token/with=chars".to_owned()),
        );
        credential.expiration = Some(FixedClock::at_unix(1_428_580_339).now());
        let printed = format!("{credential:?} {credential:#?}");
        assert!(printed.contains("STS.test-vended-key"));
        assert!(printed.contains("2015-04-09T11:52:19Z"));
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(!printed.contains("CAIS+token"), "{printed}");
    }
}
