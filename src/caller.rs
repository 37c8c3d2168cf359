//! Who is asking, once established: the caller's subject and the claims templates may use.
//!
//! The layer that establishes identity produces a [`Caller`]; the layer that vends
//! credentials renders prefixes, policies and session names from it. This module names
//! neither.

use std::collections::BTreeMap;

/// The `sub` every caller gets in `AUTH_MODE=none`.
pub const ANONYMOUS: &str = "anonymous";

/// A caller whose identity has been established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The subject: a user id from the identity provider, or [`ANONYMOUS`].
    pub sub: String,
    /// The other claims that templates may use as `${claim.NAME}` (strings and numbers).
    pub claims: BTreeMap<String, String>,
}

impl Caller {
    /// A caller with a subject and no other claims.
    pub fn with_sub(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            claims: BTreeMap::new(),
        }
    }
}
