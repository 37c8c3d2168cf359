//! record-upload's own settings: where records go (`UPLOAD_WEBHOOK_URL`,
//! `UPLOAD_WEBHOOK_SECRET`), the callback key (`OSS_CALLBACK_PUBLIC_KEY_FILE`) and what it
//! serves (`RECORD_UPLOAD_MODE`), read where record-upload starts. The pinned callback's
//! settings are the library's ([`CallbackSettings`]): presign-url reads them too.

use stsvend::{
    Error, Provider, Stamp, is_metadata_name, parse_stamps, sign::WebhookSecret,
    sign::aliyun::callback::PublicKey, sign::plain_http_allowed,
};
use stsvend_host::config::{content_types, invalid as config_error};
use stsvend_host::{CallbackSettings, Config, Env};

/// Where record-upload delivers records, signed per Standard Webhooks.
#[derive(Debug, Clone)]
pub(crate) struct WebhookSettings {
    /// `UPLOAD_WEBHOOK_URL`.
    pub(crate) url: String,
    /// `UPLOAD_WEBHOOK_SECRET` (`whsec_<base64>`).
    pub(crate) secret: WebhookSecret,
}

/// Where record-upload's records come from in HTTP mode (`RECORD_UPLOAD_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordMode {
    /// `callbacks` (default): OSS upload callbacks, over HTTP.
    Callbacks,
    /// `oss-events`: a Function Compute event function behind an OSS trigger; it answers
    /// Function Compute's event invocations only, never a callback.
    OssEvents,
    /// `reconcile`: a scheduled function that rewrites every subject's quota usage from a
    /// listing of each quota'd profile's prefix.
    Reconcile,
}

/// What record-upload needs besides the common configuration.
#[derive(Debug, Clone)]
pub(crate) struct RecordSettings {
    /// The callback presign-url pins, whose tags record-upload checks.
    pub(crate) callback: Option<CallbackSettings>,
    /// Where records are delivered, when set.
    pub(crate) webhook: Option<WebhookSettings>,
    /// `OSS_CALLBACK_PUBLIC_KEY_FILE`: the one key callbacks must be signed with (no
    /// fetching); `None` for OSS's published key and keys fetched from `gosspublic.alicdn.com`.
    pub(crate) pinned_key: Option<PublicKey>,
    /// `RECORD_UPLOAD_MODE`.
    pub(crate) mode: RecordMode,
    /// The upload-rule variables set for this deployment, standing for a profile's unset fields.
    pub(crate) profile_defaults: ProfileDefaults,
}

/// The variables that bind what presign-url signs, as record-upload's profile checks read
/// them: each, when set, stands for the field a profile leaves unset (`UPLOAD_MAX_BYTES` for
/// `max_bytes`, `ALLOWED_CONTENT_TYPES` for `content_types`, `UPLOAD_METADATA` for
/// `metadata`), as it does in presign-url. Their defaults when unset do not: the
/// `uploader=${sub}` stamp every presigned upload carries would refuse every upload made with
/// issue-token's credentials, which carry none.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfileDefaults {
    /// `UPLOAD_MAX_BYTES`, when set.
    pub(crate) max_bytes: Option<u64>,
    /// `ALLOWED_CONTENT_TYPES`, when set and not empty.
    pub(crate) content_types: Option<Vec<String>>,
    /// `UPLOAD_METADATA`, when set (set to empty: no stamp).
    pub(crate) metadata: Option<Vec<Stamp>>,
}

impl ProfileDefaults {
    fn read(env: &Env<'_>) -> Result<Self, Error> {
        let max_bytes = match env.as_set("UPLOAD_MAX_BYTES") {
            None => None,
            Some(_) => Some(env.number(
                "UPLOAD_MAX_BYTES",
                0,
                1..=5 * 1024 * 1024 * 1024,
                "a byte count from 1 to 5 GiB",
            )?),
        };
        let content_types = env
            .text("ALLOWED_CONTENT_TYPES")
            .map(|text| content_types("ALLOWED_CONTENT_TYPES", &text))
            .transpose()?;
        let metadata = match env.as_set("UPLOAD_METADATA") {
            None => None,
            Some(text) => Some(
                parse_stamps(&text, is_metadata_name)
                    .map_err(|reason| config_error("UPLOAD_METADATA", reason))?,
            ),
        };
        Ok(Self {
            max_bytes,
            content_types,
            metadata,
        })
    }
}

impl RecordSettings {
    /// Reads record-upload's variables as `config` found them at cold start.
    pub(crate) fn load(config: &Config) -> Result<Self, Error> {
        let (mode, webhook, pinned_key, profile_defaults) = config.read(|env| {
            let mode = env.choice(
                "RECORD_UPLOAD_MODE",
                RecordMode::Callbacks,
                &[
                    ("callbacks", RecordMode::Callbacks),
                    ("oss-events", RecordMode::OssEvents),
                    ("reconcile", RecordMode::Reconcile),
                ],
            )?;
            let pinned_key = match env.text("OSS_CALLBACK_PUBLIC_KEY_FILE") {
                None => None,
                Some(path) => Some(pinned_key(&path)?),
            };
            Ok::<_, Error>((mode, webhook(env)?, pinned_key, ProfileDefaults::read(env)?))
        })?;
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
        if mode == RecordMode::Reconcile
            && !config
                .profiles
                .list
                .iter()
                .any(|p| p.quota.limits_storage())
        {
            return Err(config_error(
                "RECORD_UPLOAD_MODE",
                "reconcile rewrites quota usage, and no profile has a quota (QUOTA_BYTES, quota_bytes, ...)",
            ));
        }
        Ok(Self {
            callback: CallbackSettings::load(config)?,
            webhook,
            pinned_key,
            mode,
            profile_defaults,
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

#[cfg(test)]
mod tests {

    use stsvend_test_support::config::{load, minimal};

    use super::*;

    #[test]
    fn upload_completion_settings_name_their_variable_when_wrong() {
        let secret = "0123456789abcdef0123456789abcdef".to_owned();
        let callback = [
            (
                "UPLOAD_CALLBACK_URL",
                "https://api.example.com/oss-callback".to_owned(),
            ),
            ("UPLOAD_CALLBACK_SECRET", secret.clone()),
        ];
        let webhook = [
            (
                "UPLOAD_WEBHOOK_URL",
                "https://app.example.com/hooks".to_owned(),
            ),
            (
                "UPLOAD_WEBHOOK_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            ),
        ];
        let record = |extra: &[(&'static str, String)]| {
            let mut vars = minimal();
            vars.extend(callback.iter().cloned());
            vars.extend(webhook.iter().cloned());
            vars.extend(extra.iter().cloned());
            load(&vars).and_then(|c| RecordSettings::load(&c))
        };
        let settings = record(&[]).expect("valid");
        assert_eq!(settings.mode, RecordMode::Callbacks);
        assert_eq!(
            settings
                .callback
                .as_ref()
                .map(|c| c.signed_path_and_query()),
            Some(("/oss-callback", None))
        );
        assert!(
            !format!("{settings:?}").contains(&secret),
            "the secret is redacted"
        );
        let cases: &[(&str, &str, &str)] = &[
            ("UPLOAD_CALLBACK_SECRET", "", "UPLOAD_CALLBACK_SECRET"),
            ("UPLOAD_CALLBACK_SECRET", "short", "UPLOAD_CALLBACK_SECRET"),
            ("UPLOAD_CALLBACK_URL", "", "UPLOAD_CALLBACK_URL"),
            (
                "UPLOAD_CALLBACK_URL",
                "https://a.example.com/x;https://b.example.com/",
                "UPLOAD_CALLBACK_URL",
            ),
            (
                "UPLOAD_CALLBACK_URL",
                "ftp://a.example.com/",
                "UPLOAD_CALLBACK_URL",
            ),
            (
                "UPLOAD_WEBHOOK_SECRET",
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "UPLOAD_WEBHOOK_SECRET",
            ),
            ("UPLOAD_WEBHOOK_SECRET", "", "UPLOAD_WEBHOOK_SECRET"),
            (
                "UPLOAD_WEBHOOK_URL",
                "http://app.example.com/hooks",
                "UPLOAD_WEBHOOK_URL",
            ),
            (
                "UPLOAD_WEBHOOK_URL",
                "https://user@app.example.com/",
                "UPLOAD_WEBHOOK_URL",
            ),
            ("RECORD_UPLOAD_MODE", "events", "RECORD_UPLOAD_MODE"),
            ("RECORD_UPLOAD_MODE", "oss-events", "RECORD_UPLOAD_MODE"),
            // Reconcile rewrites quota usage: without a quota there is nothing to rewrite.
            ("RECORD_UPLOAD_MODE", "reconcile", "RECORD_UPLOAD_MODE"),
            (
                "OSS_CALLBACK_PUBLIC_KEY_FILE",
                "/nonexistent/key.pem",
                "OSS_CALLBACK_PUBLIC_KEY_FILE",
            ),
        ];
        for &(name, value, expected) in cases {
            match record(&[(name, value.to_owned())]) {
                Err(Error::Config { variable, .. }) => {
                    assert_eq!(variable, expected, "{name}={value}")
                }
                other => panic!("{name}={value}: {other:?}"),
            }
        }
        let mut aws = minimal();
        aws.extend([
            ("PROVIDER", "aws".to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("BUCKET_REGION", "us-east-1".to_owned()),
            (
                "ROLE_ARN",
                "arn:aws:iam::123456789012:role/uploader".to_owned(),
            ),
        ]);
        aws.extend(callback.iter().cloned());
        let config = load(&aws).expect("the common settings hold");
        assert!(matches!(
            CallbackSettings::load(&config),
            Err(Error::Config {
                variable: "UPLOAD_CALLBACK_URL",
                ..
            })
        ));
    }
}
