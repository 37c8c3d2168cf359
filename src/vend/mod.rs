//! What one caller may reach, and getting credentials for it: the caller's prefix and the
//! key rules, session-policy templates, session names, the STS client and the credential
//! cache.

pub mod cache;
pub mod policy;
pub mod prefix;
pub mod scope;
pub mod session;
pub mod stamp;
pub mod sts_client;
