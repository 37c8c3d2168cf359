//! presign-url's own settings, read where presign-url starts (through
//! [`Config::read`]), so that a bad `PRESIGN_METHODS` stops presign-url, not issue-token:
//! what it signs and within which bounds ([`PresignSettings`]), and the upload rules it signs
//! into every upload so that the store enforces them ([`UploadRules`]: create-only, stamped
//! metadata and tags, server-side encryption, the integrity and size a request must bring).
//! Deployment policy, never the client's choice.

use stsvend::{
    Encryption, Error, LIST_OSS, LIST_S3, Provider, Stamp, is_metadata_name, is_tag_key,
    parse_stamps, sign::Scheme, sign::aliyun::oss,
};
use stsvend_host::{
    Config, Env,
    config::{
        ContentDisposition, Profile, content_types, invalid as config, invalid_profile, list,
        slash_entry,
    },
};

/// The `x-oss-process` operations signed when `ALLOWED_PROCESS` is unset: the image operations
/// the seeds use for thumbnails and watermarks. No IMM, video or document processing (billed).
pub(crate) const DEFAULT_ALLOWED_PROCESS: &str = "image/resize,image/crop,image/rotate,image/format,image/quality,image/auto-orient,image/info,image/watermark";

/// What presign-url signs when `PRESIGN_METHODS` is unset: a caller who may read their own
/// files may list them too.
const DEFAULT_PRESIGN_METHODS: &str = "GET,HEAD,PUT,POST,LIST";

/// The largest single PostObject upload OSS accepts: 5 GiB.
const MAX_UPLOAD_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// What presign-url signs, and within which bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PresignSettings {
    /// `PROVIDER` and `SIGNATURE_VERSION`: how URLs and forms are signed.
    pub(crate) scheme: Scheme,
    /// `PRESIGN_MAX_EXPIRES_SECONDS`.
    pub(crate) max_expires_seconds: u64,
    /// What set [`Self::max_expires_seconds`], as `ExpiresCappedBy` names it:
    /// `PRESIGN_MAX_EXPIRES_SECONDS`, or `profile.expires` when the profile's `expires` did.
    pub(crate) max_expires_by: &'static str,
    /// `PRESIGN_METHODS`.
    pub(crate) methods: PresignMethods,
    /// `UPLOAD_MAX_BYTES` (a profile's `max_bytes`): the `content-length-range` maximum of
    /// form policies, and the most an S3 PUT's `contentLength` may be.
    pub(crate) upload_max_bytes: u64,
    /// Whether the deployment set [`Self::upload_max_bytes`] (`UPLOAD_MAX_BYTES` or the
    /// profile's `max_bytes`) rather than took the default: only a size the deployment chose
    /// bounds what a quota'd grant reserves.
    pub(crate) max_bytes_given: bool,
    /// A profile's `min_bytes` (0 without one): the `content-length-range` minimum of form
    /// policies, and the least an S3 PUT's `contentLength` may be.
    pub(crate) min_bytes: u64,
    /// `ALLOWED_CONTENT_TYPES`: `type/subtype` or `type/*` entries; empty means any.
    pub(crate) allowed_content_types: Vec<String>,
    /// `ALLOWED_PROCESS`: the `x-oss-process` operations presign-url signs, `kind/name` or
    /// `kind/*` entries; empty means none.
    pub(crate) allowed_process: Vec<String>,
    /// The upload rules signed into every upload (`UPLOAD_OVERWRITE`, `UPLOAD_METADATA`, ...).
    pub(crate) rules: UploadRules,
}

/// `ExpiresCappedBy` when a profile's `expires` capped the URL's life.
pub(crate) const PROFILE_EXPIRES: &str = "profile.expires";

impl PresignSettings {
    /// Reads presign-url's variables as `config` found them at cold start.
    pub(crate) fn load(config: &Config) -> Result<Self, Error> {
        config.read(|env| Self::read(env, config.provider))
    }

    fn read(env: &Env<'_>, provider: Provider) -> Result<Self, Error> {
        // `ALLOWED_PROCESS=` set to empty means no `x-oss-process` at all.
        let process = env.as_set("ALLOWED_PROCESS");
        Ok(Self {
            scheme: scheme(env, provider)?,
            max_expires_seconds: env.number(
                "PRESIGN_MAX_EXPIRES_SECONDS",
                3600,
                1..=oss::V4_MAX_EXPIRES_SECONDS,
                "a whole number of seconds from 1 to 604800 (7 days)",
            )?,
            max_expires_by: "PRESIGN_MAX_EXPIRES_SECONDS",
            methods: PresignMethods::parse(
                &env.text("PRESIGN_METHODS")
                    .unwrap_or_else(|| DEFAULT_PRESIGN_METHODS.to_owned()),
            )?,
            upload_max_bytes: env.number(
                "UPLOAD_MAX_BYTES",
                104_857_600,
                1..=MAX_UPLOAD_BYTES,
                "a byte count from 1 to 5 GiB",
            )?,
            max_bytes_given: env.text("UPLOAD_MAX_BYTES").is_some(),
            allowed_content_types: content_types(
                "ALLOWED_CONTENT_TYPES",
                &env.text("ALLOWED_CONTENT_TYPES").unwrap_or_default(),
            )?,
            allowed_process: process_operations(
                process.as_deref().unwrap_or(DEFAULT_ALLOWED_PROCESS),
            )?,
            min_bytes: 0,
            rules: UploadRules::load(env)?,
        })
    }

    /// These settings (the variables') with the fields `profile` of `file` sets in their
    /// place; a bad value names the file, the profile and the field.
    pub(crate) fn for_profile(&self, profile: &Profile, file: &str) -> Result<Self, Error> {
        let bad = |field: &str, error: Error| {
            let reason = match error {
                Error::Config { reason, .. } => reason,
                other => other.to_string(),
            };
            invalid_profile(file, Some(&profile.name), Some(field), reason)
        };
        let mut out = self.clone();
        if let Some(methods) = &profile.methods {
            out.methods =
                PresignMethods::parse(&methods.join(",")).map_err(|e| bad("methods", e))?;
        }
        if let Some(types) = &profile.content_types {
            // Checked as ALLOWED_CONTENT_TYPES is where the profiles file was read.
            out.allowed_content_types.clone_from(types);
        }
        out.upload_max_bytes = profile.max_bytes.unwrap_or(out.upload_max_bytes);
        out.max_bytes_given |= profile.max_bytes.is_some();
        out.min_bytes = profile.min_bytes.unwrap_or(0);
        if out.min_bytes > out.upload_max_bytes {
            let reason = format!("it is over the largest upload, {}", out.upload_max_bytes);
            return Err(bad("min_bytes", config("min_bytes", reason)));
        }
        if let Some(expires) = profile.expires {
            out.max_expires_seconds = expires;
            out.max_expires_by = PROFILE_EXPIRES;
        }
        let rules = &mut out.rules;
        rules.overwrite = profile.overwrite.unwrap_or(rules.overwrite);
        if let Some(metadata) = &profile.metadata {
            check_metadata_room(metadata).map_err(|e| bad("metadata", e))?;
            rules.metadata.clone_from(metadata);
        }
        if let Some(tagging) = &profile.tagging {
            check_tags(tagging).map_err(|e| bad("tagging", e))?;
            rules.tagging.clone_from(tagging);
        }
        if let Some(encryption) = &profile.server_side_encryption {
            rules.encryption = Some(encryption.clone());
        }
        rules.require_checksum = profile.require_checksum.unwrap_or(rules.require_checksum);
        rules.require_size = rules.require_size || profile.bounds_size();
        rules.content_disposition = profile.content_disposition;
        rules.checked_after = profile.on_violation.is_some();
        Ok(out)
    }
}

/// `SIGNATURE_VERSION` on the configured provider; `v1` exists on OSS only.
fn scheme(env: &Env<'_>, provider: Provider) -> Result<Scheme, Error> {
    let v1 = env.choice("SIGNATURE_VERSION", false, &[("v4", false), ("v1", true)])?;
    match (provider, v1) {
        (Provider::Aliyun, false) => Ok(Scheme::OssV4),
        (Provider::Aliyun, true) => Ok(Scheme::OssV1),
        (Provider::Aws, false) => Ok(Scheme::S3),
        (Provider::Aws, true) => Err(config(
            "SIGNATURE_VERSION",
            "v1 is an OSS signature; S3 URLs are always SigV4",
        )),
    }
}

/// `ALLOWED_PROCESS`: `kind/name` or `kind/*` (`image/resize`, `style/*`), each side letters,
/// digits, `_` and `-`.
fn process_operations(value: &str) -> Result<Vec<String>, Error> {
    let name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    list("ALLOWED_PROCESS", value, |e| {
        slash_entry(e, name, "kind/operation or kind/*, e.g. image/resize")
    })
}

/// What presign-url may sign (`PRESIGN_METHODS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PresignMethods {
    /// `GET`.
    pub(crate) get: bool,
    /// `HEAD`.
    pub(crate) head: bool,
    /// `PUT`, which also allows every step of a multipart upload.
    pub(crate) put: bool,
    /// `POST`: form-upload policies.
    pub(crate) post: bool,
    /// `DELETE`.
    pub(crate) delete: bool,
    /// `LIST`: a listing of the caller's own prefix.
    pub(crate) list: bool,
}

impl PresignMethods {
    /// Whether `method` (upper case) may be signed.
    pub(crate) fn allows(&self, method: &str) -> bool {
        match method {
            "GET" => self.get,
            "HEAD" => self.head,
            "PUT" => self.put,
            "POST" => self.post,
            "DELETE" => self.delete,
            "LIST" => self.list,
            _ => false,
        }
    }

    /// The actions a credential needs to serve these methods: get for GET and HEAD, put for
    /// PUT and POST (plus the multipart actions for PUT), delete for DELETE, in the provider's
    /// names (`oss:GetObject`, `s3:GetObject`, ...); and the bucket's listing action for LIST
    /// (`oss:ListObjects`, `s3:ListBucket`), which
    /// [`PolicyTemplate::allowing`](stsvend::PolicyTemplate::allowing) confines to
    /// the caller's prefix.
    pub(crate) fn actions(&self, provider: Provider) -> Vec<&'static str> {
        let (get, put, multipart, delete) = match provider {
            Provider::Aliyun => (
                "oss:GetObject",
                "oss:PutObject",
                ["oss:AbortMultipartUpload", "oss:ListParts"],
                "oss:DeleteObject",
            ),
            Provider::Aws => (
                "s3:GetObject",
                "s3:PutObject",
                ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "s3:DeleteObject",
            ),
        };
        let mut actions = Vec::new();
        if self.get || self.head {
            actions.push(get);
        }
        if self.put || self.post {
            actions.push(put);
        }
        if self.put {
            actions.extend(multipart);
        }
        if self.delete {
            actions.push(delete);
        }
        if self.list {
            actions.push(match provider {
                Provider::Aliyun => LIST_OSS,
                Provider::Aws => LIST_S3,
            });
        }
        actions
    }

    fn parse(value: &str) -> Result<Self, Error> {
        let mut methods = Self::default();
        for item in list("PRESIGN_METHODS", value, |m| Ok(m.to_ascii_uppercase()))? {
            let slot = match item.as_str() {
                "GET" => &mut methods.get,
                "HEAD" => &mut methods.head,
                "PUT" => &mut methods.put,
                "POST" => &mut methods.post,
                "DELETE" => &mut methods.delete,
                "LIST" => &mut methods.list,
                _ => {
                    return Err(config(
                        "PRESIGN_METHODS",
                        format!("{item:?} is not GET, HEAD, PUT, POST, DELETE or LIST"),
                    ));
                }
            };
            *slot = true;
        }
        if methods == Self::default() {
            return Err(config("PRESIGN_METHODS", "names no method"));
        }
        Ok(methods)
    }
}

/// `UPLOAD_METADATA` when unset: who uploaded the object, on the object.
pub(crate) const DEFAULT_UPLOAD_METADATA: &str = "uploader=${sub}";

/// The most user metadata S3 keeps per object (names and values), in bytes; OSS keeps 8 KB.
pub(crate) const MAX_METADATA_BYTES: usize = 2048;

/// The most tags either store keeps per object.
pub(crate) const MAX_TAGS: usize = 10;

/// What every signed upload must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadRules {
    /// `UPLOAD_OVERWRITE`: `false` makes every upload create-only.
    pub(crate) overwrite: bool,
    /// `UPLOAD_METADATA`: user metadata stamped on every upload.
    pub(crate) metadata: Vec<Stamp>,
    /// `UPLOAD_CLIENT_METADATA`: a request may add its own `metadata` entries.
    pub(crate) client_metadata: bool,
    /// `UPLOAD_TAGGING`: tags stamped on every upload.
    pub(crate) tagging: Vec<Stamp>,
    /// `UPLOAD_SERVER_SIDE_ENCRYPTION`.
    pub(crate) encryption: Option<Encryption>,
    /// `UPLOAD_REQUIRE_CHECKSUM`: an upload must name its content's checksum.
    pub(crate) require_checksum: bool,
    /// `UPLOAD_REQUIRE_SIZE`, or a profile's `min_bytes` or `max_bytes`: an upload must be
    /// bounded in size, by the store or, with `checked_after`, by record-upload.
    pub(crate) require_size: bool,
    /// A profile's `content_disposition`: signed into every upload.
    pub(crate) content_disposition: Option<ContentDisposition>,
    /// A profile's `on_violation` is set: record-upload checks each upload against the
    /// profile, so the uploads whose size the store cannot bound (an OSS PUT, a multipart
    /// upload) may be signed.
    pub(crate) checked_after: bool,
}

impl UploadRules {
    /// Reads the rules through `env`.
    fn load(env: &Env<'_>) -> Result<Self, Error> {
        // `UPLOAD_METADATA=` set to empty stamps no metadata.
        let metadata = env.as_set("UPLOAD_METADATA");
        let metadata = parse_stamps(
            metadata.as_deref().unwrap_or(DEFAULT_UPLOAD_METADATA),
            is_metadata_name,
        )
        .map_err(|reason| config("UPLOAD_METADATA", reason))?;
        check_metadata_room(&metadata)?;
        let tagging = parse_stamps(&env.text("UPLOAD_TAGGING").unwrap_or_default(), is_tag_key)
            .map_err(|reason| config("UPLOAD_TAGGING", reason))?;
        check_tags(&tagging)?;
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
            content_disposition: None,
            checked_after: false,
        })
    }
}

/// Stamped metadata must leave room in S3's 2 KB for a client's entries.
fn check_metadata_room(metadata: &[Stamp]) -> Result<(), Error> {
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
    Ok(())
}

/// The stores keep at most [`MAX_TAGS`] tags per object, each value at most 256 bytes.
fn check_tags(tagging: &[Stamp]) -> Result<(), Error> {
    if tagging.len() > MAX_TAGS || tagging.iter().any(|t| t.value.max_len() > 256) {
        return Err(config(
            "UPLOAD_TAGGING",
            "the stores keep at most 10 tags per object, each value at most 256 bytes",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use stsvend_test_support::config::{load, minimal};

    use super::*;

    /// presign-url's settings, read as presign-url reads them at cold start.
    fn presign(vars: &HashMap<&'static str, String>) -> Result<PresignSettings, Error> {
        load(vars).and_then(|config| PresignSettings::load(&config))
    }

    fn refused_variable(vars: &HashMap<&'static str, String>) -> &'static str {
        match presign(vars) {
            Err(Error::Config { variable, .. }) => variable,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_design() {
        let p = presign(&minimal()).expect("valid");
        assert_eq!(p.scheme, Scheme::OssV4);
        assert_eq!(p.max_expires_seconds, 3600);
        assert!(p.methods.allows("GET") && p.methods.allows("HEAD"));
        assert!(p.methods.allows("PUT") && p.methods.allows("POST"));
        assert!(!p.methods.allows("DELETE"));
        assert!(
            p.methods.allows("LIST"),
            "a caller who may read their files may list them"
        );
        assert_eq!(p.upload_max_bytes, 104_857_600);
        assert!(p.allowed_content_types.is_empty());
    }

    #[test]
    fn presign_settings_are_read() {
        let mut vars = minimal();
        vars.insert("SIGNATURE_VERSION", "v1".to_owned());
        vars.insert("PRESIGN_METHODS", "get, delete".to_owned());
        vars.insert(
            "ALLOWED_CONTENT_TYPES",
            "image/*, Application/PDF".to_owned(),
        );
        let p = presign(&vars).expect("valid");
        assert_eq!(p.scheme, Scheme::OssV1);
        assert!(p.methods.allows("GET") && p.methods.allows("DELETE"));
        assert!(!p.methods.allows("PUT"));
        assert_eq!(p.allowed_content_types, ["image/*", "application/pdf"]);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&str, &str, &str)] = &[
            ("ALLOWED_PROCESS", "video", "ALLOWED_PROCESS"),
            ("SIGNATURE_VERSION", "v2", "SIGNATURE_VERSION"),
            (
                "PRESIGN_MAX_EXPIRES_SECONDS",
                "604801",
                "PRESIGN_MAX_EXPIRES_SECONDS",
            ),
            (
                "PRESIGN_MAX_EXPIRES_SECONDS",
                "-1",
                "PRESIGN_MAX_EXPIRES_SECONDS",
            ),
            ("PRESIGN_METHODS", "GET,PATCH", "PRESIGN_METHODS"),
            ("PRESIGN_METHODS", ",", "PRESIGN_METHODS"),
            ("UPLOAD_MAX_BYTES", "0", "UPLOAD_MAX_BYTES"),
            ("ALLOWED_CONTENT_TYPES", "image", "ALLOWED_CONTENT_TYPES"),
            (
                "ALLOWED_CONTENT_TYPES",
                "image/png;q=1",
                "ALLOWED_CONTENT_TYPES",
            ),
        ];
        for &(name, value, expected) in cases {
            let mut vars = minimal();
            vars.insert(name, value.to_owned());
            assert_eq!(refused_variable(&vars), expected, "{name}={value}");
        }
    }

    #[test]
    fn allowed_process_defaults_to_image_operations_and_empty_means_none() {
        let unset = presign(&minimal()).expect("valid");
        assert!(unset.allowed_process.contains(&"image/resize".to_owned()));
        assert!(
            unset
                .allowed_process
                .contains(&"image/watermark".to_owned())
        );
        assert!(
            unset
                .allowed_process
                .iter()
                .all(|op| op.starts_with("image/"))
        );
        let mut vars = minimal();
        vars.insert("ALLOWED_PROCESS", String::new());
        assert!(presign(&vars).expect("valid").allowed_process.is_empty());
        vars.insert("ALLOWED_PROCESS", "Image/Resize, style/*".to_owned());
        assert_eq!(
            presign(&vars).expect("valid").allowed_process,
            ["image/resize", "style/*"]
        );
        for bad in ["image", "image/resize|sys", "/resize", "image/re size"] {
            vars.insert("ALLOWED_PROCESS", bad.to_owned());
            assert_eq!(refused_variable(&vars), "ALLOWED_PROCESS", "{bad}");
        }
    }

    #[test]
    fn a_profiles_unset_fields_take_the_variables_and_its_set_fields_replace_them() {
        let dir = std::env::temp_dir().join(format!("stsvend-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("profiles.toml");
        std::fs::write(
            &file,
            r#"
[profiles.plain]
prefix = "plain/${sub}/"

[profiles.own]
prefix = "own/${sub}/"
methods = ["GET"]
content_types = ["video/*"]
min_bytes = 10
max_bytes = 20
overwrite = true
content_disposition = "attachment"
metadata = { kind = "own" }
tagging = { stage = "b" }
server_side_encryption = "AES256"
require_checksum = false
expires = 60
on_violation = "report"
"#,
        )
        .expect("write");
        let mut vars = minimal();
        vars.insert("PROFILES_FILE", file.display().to_string());
        vars.insert("PRESIGN_METHODS", "GET,PUT".to_owned());
        vars.insert("ALLOWED_CONTENT_TYPES", "image/*".to_owned());
        vars.insert("UPLOAD_MAX_BYTES", "1000".to_owned());
        vars.insert("UPLOAD_OVERWRITE", "false".to_owned());
        vars.insert("UPLOAD_METADATA", "team=x".to_owned());
        vars.insert("UPLOAD_TAGGING", "stage=a".to_owned());
        vars.insert("UPLOAD_REQUIRE_CHECKSUM", "true".to_owned());
        vars.insert("PRESIGN_MAX_EXPIRES_SECONDS", "300".to_owned());
        let config = load(&vars).expect("config");
        let base = PresignSettings::load(&config).expect("settings");
        let path = file.display().to_string();
        let names: Vec<&str> = config
            .profiles
            .list
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["own", "plain"]);
        let plain = base
            .for_profile(&config.profiles.list[1], &path)
            .expect("plain");
        assert_eq!(plain, base, "no field set: the variables' settings");
        assert!(!plain.rules.require_size && !plain.rules.checked_after);
        let own = base
            .for_profile(&config.profiles.list[0], &path)
            .expect("own");
        assert!(own.methods.allows("GET") && !own.methods.allows("PUT"));
        assert_eq!(own.allowed_content_types, ["video/*"]);
        assert_eq!((own.min_bytes, own.upload_max_bytes), (10, 20));
        assert_eq!(own.max_expires_seconds, 60);
        assert!(own.rules.overwrite && !own.rules.require_checksum);
        assert_eq!(own.rules.metadata.len(), 1);
        assert_eq!(own.rules.metadata[0].name, "kind");
        assert_eq!(own.rules.tagging[0].name, "stage");
        assert_eq!(own.rules.encryption, Some(Encryption::Aes256));
        assert_eq!(
            own.rules.content_disposition,
            Some(ContentDisposition::Attachment)
        );
        assert!(own.rules.require_size && own.rules.checked_after);
        assert_eq!(own.scheme, base.scheme, "what no profile sets stays");
        assert_eq!(own.allowed_process, base.allowed_process);
    }

    #[test]
    fn presign_only_settings_are_checked_only_by_presign_url() {
        for (name, value) in [
            ("PRESIGN_METHODS", "GET,PATCH"),
            ("SIGNATURE_VERSION", "v2"),
            ("UPLOAD_MAX_BYTES", "0"),
            ("ALLOWED_PROCESS", "video"),
        ] {
            let mut vars = minimal();
            vars.insert(name, value.to_owned());
            let config = load(&vars).expect("issue-token starts");
            assert!(
                matches!(PresignSettings::load(&config), Err(Error::Config { variable, .. }) if variable == name),
                "{name}={value}"
            );
        }
    }
}
