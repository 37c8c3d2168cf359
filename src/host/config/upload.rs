//! The upload-completion settings: the callback presign-url pins into OSS uploads
//! (`UPLOAD_CALLBACK_URL`, `UPLOAD_CALLBACK_SECRET`), and what record-upload does with what it
//! learns (`UPLOAD_WEBHOOK_URL`, `UPLOAD_WEBHOOK_SECRET`, `OSS_CALLBACK_PUBLIC_KEY_FILE`,
//! `RECORD_UPLOAD_MODE`). Read only by the functions that use them.

use crate::error::Error;
use crate::host::config::Config;
use crate::host::config::env::{Env, config as config_error};
use crate::provider::Provider;
use crate::sign::aliyun::callback::PublicKey;
use crate::sign::endpoint::plain_http_allowed;
use crate::sign::webhook::WebhookSecret;

/// The variables read here; [`Config`] keeps their values as set until a function asks.
pub(crate) const VARIABLES: &[&str] = &[
    "UPLOAD_CALLBACK_URL",
    "UPLOAD_CALLBACK_SECRET",
    "UPLOAD_WEBHOOK_URL",
    "UPLOAD_WEBHOOK_SECRET",
    "OSS_CALLBACK_PUBLIC_KEY_FILE",
    "RECORD_UPLOAD_MODE",
];

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
        let lookup = |name: &str| config.deferred(name);
        let env = Env::new(&lookup);
        let Some((url, secret)) = env.both(
            "UPLOAD_CALLBACK_URL",
            "UPLOAD_CALLBACK_SECRET",
            "at least 32 bytes",
        )?
        else {
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

/// Where record-upload delivers records, signed per Standard Webhooks.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `UPLOAD_WEBHOOK_URL`.
    pub url: String,
    /// `UPLOAD_WEBHOOK_SECRET` (`whsec_<base64>`).
    pub secret: WebhookSecret,
}

/// Where record-upload's records come from in HTTP mode (`RECORD_UPLOAD_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordMode {
    /// `callbacks` (default): OSS upload callbacks, over HTTP.
    Callbacks,
    /// `oss-events`: a Function Compute event function behind an OSS trigger; it answers
    /// Function Compute's event invocations only, never a callback.
    OssEvents,
}

/// What record-upload needs besides the common configuration.
#[derive(Debug, Clone)]
pub struct RecordSettings {
    /// The callback presign-url pins, whose tags record-upload checks.
    pub callback: Option<CallbackSettings>,
    /// Where records are delivered, when set.
    pub webhook: Option<WebhookSettings>,
    /// `OSS_CALLBACK_PUBLIC_KEY_FILE`: the one key callbacks must be signed with (no
    /// fetching); `None` for OSS's published key and keys fetched from `gosspublic.alicdn.com`.
    pub pinned_key: Option<PublicKey>,
    /// `RECORD_UPLOAD_MODE`.
    pub mode: RecordMode,
}

impl RecordSettings {
    /// Reads record-upload's variables as `config` found them at cold start.
    pub fn load(config: &Config) -> Result<Self, Error> {
        let lookup = |name: &str| config.deferred(name);
        let env = Env::new(&lookup);
        let mode = env.choice(
            "RECORD_UPLOAD_MODE",
            RecordMode::Callbacks,
            &[
                ("callbacks", RecordMode::Callbacks),
                ("oss-events", RecordMode::OssEvents),
            ],
        )?;
        if mode == RecordMode::OssEvents && !config.function_compute() {
            return Err(config_error(
                "RECORD_UPLOAD_MODE",
                "oss-events answers Function Compute's event invocations only, and FC_FUNCTION_NAME and FC_REGION (which Function Compute sets) are missing: anywhere else, an HTTP caller could send events",
            ));
        }
        if mode == RecordMode::OssEvents && config.provider != Provider::Aliyun {
            return Err(config_error(
                "RECORD_UPLOAD_MODE",
                "oss-events is for Function Compute with PROVIDER=aliyun; S3 events arrive under Lambda",
            ));
        }
        Ok(Self {
            callback: CallbackSettings::load(config)?,
            webhook: webhook(&env)?,
            pinned_key: match env.text("OSS_CALLBACK_PUBLIC_KEY_FILE") {
                None => None,
                Some(path) => Some(pinned_key(&path)?),
            },
            mode,
        })
    }
}

/// `UPLOAD_WEBHOOK_URL` with `UPLOAD_WEBHOOK_SECRET`, or neither.
fn webhook(env: &Env<'_>) -> Result<Option<WebhookSettings>, Error> {
    let Some((url, secret)) = env.both(
        "UPLOAD_WEBHOOK_URL",
        "UPLOAD_WEBHOOK_SECRET",
        "whsec_ and base64",
    )?
    else {
        return Ok(None);
    };
    let secret = WebhookSecret::parse(&secret)
        .map_err(|reason| config_error("UPLOAD_WEBHOOK_SECRET", reason))?;
    let (scheme, rest) = url.split_once("://").unwrap_or(("", ""));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let shape_ok = !host.is_empty()
        && !host.contains('@')
        && !url.contains(char::is_whitespace)
        && (scheme == "https" || (scheme == "http" && plain_http_allowed(host)));
    if !shape_ok {
        return Err(config_error(
            "UPLOAD_WEBHOOK_URL",
            format!(
                "{url:?} must be an https:// URL (http:// only for localhost, a loopback or a private address)"
            ),
        ));
    }
    Ok(Some(WebhookSettings { url, secret }))
}

/// Reads the pinned public key.
fn pinned_key(path: &str) -> Result<PublicKey, Error> {
    let pem = std::fs::read_to_string(path).map_err(|e| {
        config_error(
            "OSS_CALLBACK_PUBLIC_KEY_FILE",
            format!("cannot read {path}: {e}"),
        )
    })?;
    PublicKey::from_pem(&pem)
        .map_err(|e| config_error("OSS_CALLBACK_PUBLIC_KEY_FILE", e.to_string()))
}
