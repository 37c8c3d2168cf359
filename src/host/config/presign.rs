//! presign-url's own settings, read and validated only where they are used: a bad
//! `PRESIGN_METHODS` stops presign-url from starting, not issue-token.

use crate::error::Error;
use crate::host::config::Config;
use crate::host::config::env::{Env, config, list, slash_entry};
use crate::host::config::rules::UploadRules;
use crate::provider::Provider;
use crate::sign::aliyun::oss;
use crate::sign::presign::Scheme;
use crate::vend::policy::{LIST_OSS, LIST_S3};

/// The `x-oss-process` operations signed when `ALLOWED_PROCESS` is unset: the image operations
/// the seeds use for thumbnails and watermarks. No IMM, video or document processing (billed).
pub const DEFAULT_ALLOWED_PROCESS: &str = "image/resize,image/crop,image/rotate,image/format,image/quality,image/auto-orient,image/info,image/watermark";

/// What presign-url signs when `PRESIGN_METHODS` is unset: a caller who may read their own
/// files may list them too.
const DEFAULT_PRESIGN_METHODS: &str = "GET,HEAD,PUT,POST,LIST";

/// The largest single PostObject upload OSS accepts: 5 GiB.
const MAX_UPLOAD_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// The variables read here; [`Config`] keeps their values as set until presign-url asks.
pub(crate) const VARIABLES: &[&str] = &[
    "SIGNATURE_VERSION",
    "PRESIGN_MAX_EXPIRES_SECONDS",
    "PRESIGN_METHODS",
    "UPLOAD_MAX_BYTES",
    "ALLOWED_CONTENT_TYPES",
    "ALLOWED_PROCESS",
];

/// What presign-url signs, and within which bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignSettings {
    /// `PROVIDER` and `SIGNATURE_VERSION`: how URLs and forms are signed.
    pub scheme: Scheme,
    /// `PRESIGN_MAX_EXPIRES_SECONDS`.
    pub max_expires_seconds: u64,
    /// `PRESIGN_METHODS`.
    pub methods: PresignMethods,
    /// `UPLOAD_MAX_BYTES`: the `content-length-range` maximum of form policies.
    pub upload_max_bytes: u64,
    /// `ALLOWED_CONTENT_TYPES`: `type/subtype` or `type/*` entries; empty means any.
    pub allowed_content_types: Vec<String>,
    /// `ALLOWED_PROCESS`: the `x-oss-process` operations presign-url signs, `kind/name` or
    /// `kind/*` entries; empty means none.
    pub allowed_process: Vec<String>,
    /// The upload rules signed into every upload (`UPLOAD_OVERWRITE`, `UPLOAD_METADATA`, ...).
    pub rules: UploadRules,
}

impl PresignSettings {
    /// Reads presign-url's variables as `config` found them at cold start.
    pub fn load(config: &Config) -> Result<Self, Error> {
        let lookup = |name: &str| config.deferred(name);
        let env = Env::new(&lookup);
        // `ALLOWED_PROCESS=` set to empty means no `x-oss-process` at all.
        let process = env.as_set("ALLOWED_PROCESS");
        Ok(Self {
            scheme: scheme(&env, config.provider)?,
            max_expires_seconds: env.number(
                "PRESIGN_MAX_EXPIRES_SECONDS",
                3600,
                1..=oss::V4_MAX_EXPIRES_SECONDS,
                "a whole number of seconds from 1 to 604800 (7 days)",
            )?,
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
            allowed_content_types: content_types(
                &env.text("ALLOWED_CONTENT_TYPES").unwrap_or_default(),
            )?,
            allowed_process: process_operations(
                process.as_deref().unwrap_or(DEFAULT_ALLOWED_PROCESS),
            )?,
            rules: UploadRules::load(&env)?,
        })
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

/// `ALLOWED_CONTENT_TYPES`: `type/subtype` or `type/*`, each side a token of letters, digits
/// and `!#$^_.+-` (no `&`: under OSS V1 it would join another sub-resource).
fn content_types(value: &str) -> Result<Vec<String>, Error> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$^_.+-".contains(&b);
    list("ALLOWED_CONTENT_TYPES", value, |e| {
        slash_entry(e, token, "type/subtype or type/*")
    })
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
pub struct PresignMethods {
    /// `GET`.
    pub get: bool,
    /// `HEAD`.
    pub head: bool,
    /// `PUT`, which also allows every step of a multipart upload.
    pub put: bool,
    /// `POST`: form-upload policies.
    pub post: bool,
    /// `DELETE`.
    pub delete: bool,
    /// `LIST`: a listing of the caller's own prefix.
    pub list: bool,
}

impl PresignMethods {
    /// Whether `method` (upper case) may be signed.
    pub fn allows(&self, method: &str) -> bool {
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
    /// [`PolicyTemplate::allowing`](crate::vend::policy::PolicyTemplate::allowing) confines to
    /// the caller's prefix.
    pub fn actions(&self, provider: Provider) -> Vec<&'static str> {
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
