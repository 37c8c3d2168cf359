//! The upload callback presign-url pins into OSS uploads (`UPLOAD_CALLBACK_URL`,
//! `UPLOAD_CALLBACK_SECRET`) and record-upload verifies: the one setting two functions share.
//! Read only by those two.

use crate::config::Config;
use crate::config::env::config as config_error;
use stsvend::{Error, Provider};

/// The shortest `UPLOAD_CALLBACK_SECRET`, in bytes.
pub const MIN_CALLBACK_SECRET_BYTES: usize = 32;

/// The callback presign-url pins into every OSS upload it signs, and the secret its tags are
/// made with. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackSettings {
    /// `UPLOAD_CALLBACK_URL`: where OSS posts the callback (record-upload).
    pub url: String,
    /// `UPLOAD_CALLBACK_SECRET`.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for CallbackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackSettings")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl CallbackSettings {
    /// Both variables, or neither (`None`); callbacks exist on OSS only.
    pub fn load(config: &Config) -> Result<Option<Self>, Error> {
        let both = config.read(|env| {
            env.both(
                "UPLOAD_CALLBACK_URL",
                "UPLOAD_CALLBACK_SECRET",
                "at least 32 bytes",
            )
        })?;
        let Some((url, secret)) = both else {
            return Ok(None);
        };
        if config.provider != Provider::Aliyun {
            return Err(config_error(
                "UPLOAD_CALLBACK_URL",
                "upload callbacks are an OSS feature; on S3, record-upload takes bucket events",
            ));
        }
        check_callback_url(&url).map_err(|reason| config_error("UPLOAD_CALLBACK_URL", reason))?;
        if secret.len() < MIN_CALLBACK_SECRET_BYTES {
            return Err(config_error(
                "UPLOAD_CALLBACK_SECRET",
                "must be at least 32 bytes",
            ));
        }
        Ok(Some(Self {
            url,
            secret: secret.into_bytes(),
        }))
    }

    /// The path and query OSS signs for this URL: the path as written (record-upload decodes
    /// it as OSS does) and the query, if any.
    pub fn signed_path_and_query(&self) -> (&str, Option<&str>) {
        let after_scheme = self.url.split_once("://").map_or("", |(_, rest)| rest);
        let path_and_query = after_scheme.find('/').map_or("/", |at| &after_scheme[at..]);
        match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        }
    }
}

/// `UPLOAD_CALLBACK_URL`: an absolute `http(s)` URL OSS can post to, one URL (OSS splits
/// `callbackUrl` at `;`), no fragment, no credentials, no blank or control character.
fn check_callback_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} must be an http:// or https:// URL"))?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    if !(scheme == "https" || scheme == "http") || host.is_empty() {
        return Err(format!(
            "{url:?} must be an http:// or https:// URL with a host"
        ));
    }
    if url.contains([';', '#', ' ', '@']) || url.contains(char::is_control) || url.len() > 1024 {
        return Err(format!(
            "{url:?} must be one URL with no ';', '#', '@', blank or control character"
        ));
    }
    Ok(())
}
