//! Who is asking, once established: the caller's subject and the claims templates may use.
//!
//! The layer that establishes identity produces a [`Caller`]; the layer that vends
//! credentials renders prefixes, policies and session names from it. This module names
//! neither.

use std::collections::BTreeMap;

/// The `sub` every caller gets in `AUTH_MODE=none`.
pub const ANONYMOUS: &str = "anonymous";

/// A caller whose identity has been established.
///
/// `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    /// The subject: a user id from the identity provider, or [`ANONYMOUS`].
    pub sub: String,
    /// The other claims that templates may use as `${claim.NAME}` (strings and numbers).
    pub claims: BTreeMap<String, String>,
    /// The verified bearer token itself (`AUTH_MODE=jwt`), which `STS_ACTION` token
    /// exchanges hand to STS as the caller's web identity.
    pub token: Option<String>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("sub", &self.sub)
            .field("claims", &self.claims)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Caller {
    /// A caller with a subject and no other claims.
    pub fn with_sub(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            claims: BTreeMap::new(),
            token: None,
        }
    }
}
