//! What one caller may reach, and getting credentials for it: the caller's prefix and the
//! key rules, session-policy templates, session names, the STS client and the credential
//! cache.

mod cache;
mod key_template;
mod media;
mod policy;
mod prefix;
mod scope;
mod session;
mod stamp;
mod sts_client;

pub use self::cache::{CacheKey, CredentialCache, FAILURE_HOLD, MAX_FAILURE_HOLD};
pub use self::key_template::{KeyParts, KeyTemplate, MAX_FILENAME_BYTES};
pub use self::media::media_type_matches;
pub use self::policy::{
    LIST_OSS, LIST_S3, MAX_POLICY_BYTES, PolicyTemplate, PolicyVars, default_template,
};
pub use self::prefix::{
    DEFAULT_PREFIX, MAX_KEY_BYTES, MAX_SEGMENT_BYTES, PrefixTemplate, check_key, check_segment,
    hides_characters, is_blank_looking, is_invisible, is_variation_selector,
};
pub use self::scope::Scope;
pub use self::session::role_session_name;
pub use self::stamp::{
    Encryption, Stamp, ValueTemplate, is_metadata_name, is_tag_key, parse_stamps,
};
pub use self::sts_client::{CachedRole, MAX_ATTEMPTS, StsAction, StsSettings};
