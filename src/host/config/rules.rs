//! The upload rules presign-url signs into every upload, so that the store enforces them:
//! create-only (`UPLOAD_OVERWRITE`), stamped metadata and tags (`UPLOAD_METADATA`,
//! `UPLOAD_CLIENT_METADATA`, `UPLOAD_TAGGING`), server-side encryption
//! (`UPLOAD_SERVER_SIDE_ENCRYPTION`), and the integrity and size a request must bring
//! (`UPLOAD_REQUIRE_CHECKSUM`, `UPLOAD_REQUIRE_SIZE`). Deployment policy, never the client's
//! choice.

use crate::error::Error;
use crate::host::config::env::{Env, config};
use crate::vend::stamp::{Encryption, Stamp, is_metadata_name, is_tag_key, parse_stamps};

/// The variables read here.
pub(crate) const VARIABLES: &[&str] = &[
    "UPLOAD_OVERWRITE",
    "UPLOAD_METADATA",
    "UPLOAD_CLIENT_METADATA",
    "UPLOAD_TAGGING",
    "UPLOAD_SERVER_SIDE_ENCRYPTION",
    "UPLOAD_REQUIRE_CHECKSUM",
    "UPLOAD_REQUIRE_SIZE",
];

/// `UPLOAD_METADATA` when unset: who uploaded the object, on the object.
pub const DEFAULT_UPLOAD_METADATA: &str = "uploader=${sub}";

/// The most user metadata S3 keeps per object (names and values), in bytes; OSS keeps 8 KB.
pub const MAX_METADATA_BYTES: usize = 2048;

/// The most tags either store keeps per object.
pub const MAX_TAGS: usize = 10;

/// What every signed upload must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRules {
    /// `UPLOAD_OVERWRITE`: `false` makes every upload create-only.
    pub overwrite: bool,
    /// `UPLOAD_METADATA`: user metadata stamped on every upload.
    pub metadata: Vec<Stamp>,
    /// `UPLOAD_CLIENT_METADATA`: a request may add its own `metadata` entries.
    pub client_metadata: bool,
    /// `UPLOAD_TAGGING`: tags stamped on every upload.
    pub tagging: Vec<Stamp>,
    /// `UPLOAD_SERVER_SIDE_ENCRYPTION`.
    pub encryption: Option<Encryption>,
    /// `UPLOAD_REQUIRE_CHECKSUM`: an upload must name its content's checksum.
    pub require_checksum: bool,
    /// `UPLOAD_REQUIRE_SIZE`: an upload must be bounded in size by the store.
    pub require_size: bool,
}

impl UploadRules {
    /// Reads the rules through `env`.
    pub(crate) fn load(env: &Env<'_>) -> Result<Self, Error> {
        // `UPLOAD_METADATA=` set to empty stamps no metadata.
        let metadata = env.as_set("UPLOAD_METADATA");
        let metadata = parse_stamps(
            metadata.as_deref().unwrap_or(DEFAULT_UPLOAD_METADATA),
            is_metadata_name,
        )
        .map_err(|reason| config("UPLOAD_METADATA", reason))?;
        let longest: usize = metadata
            .iter()
            .map(|s| s.name.len() + s.value.max_len())
            .sum();
        if longest > MAX_METADATA_BYTES / 2 {
            return Err(config(
                "UPLOAD_METADATA",
                format!(
                    "its names and values may reach {longest} bytes; keep them within {} so that S3's 2 KB has room for a client's entries",
                    MAX_METADATA_BYTES / 2
                ),
            ));
        }
        let tagging = parse_stamps(&env.text("UPLOAD_TAGGING").unwrap_or_default(), is_tag_key)
            .map_err(|reason| config("UPLOAD_TAGGING", reason))?;
        if tagging.len() > MAX_TAGS || tagging.iter().any(|t| t.value.max_len() > 256) {
            return Err(config(
                "UPLOAD_TAGGING",
                "the stores keep at most 10 tags per object, each value at most 256 bytes",
            ));
        }
        let encryption = match env.text("UPLOAD_SERVER_SIDE_ENCRYPTION") {
            None => None,
            Some(text) => Some(
                Encryption::parse(&text)
                    .map_err(|reason| config("UPLOAD_SERVER_SIDE_ENCRYPTION", reason))?,
            ),
        };
        Ok(Self {
            overwrite: env.flag("UPLOAD_OVERWRITE", true)?,
            metadata,
            client_metadata: env.flag("UPLOAD_CLIENT_METADATA", false)?,
            tagging,
            encryption,
            require_checksum: env.flag("UPLOAD_REQUIRE_CHECKSUM", false)?,
            require_size: env.flag("UPLOAD_REQUIRE_SIZE", false)?,
        })
    }
}
