//! Configuration, read and validated once at cold start.
//!
//! Values come from the environment (the names in DESIGN.md), and optionally from a seed-style
//! `config.json` named by `CONFIG_FILE`; the environment wins. An empty variable counts as
//! unset, as SAM passes empty optional parameters. A missing or malformed value is an
//! [`Error::Config`] that names the variable, and start-up stops.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::caller::Caller;
use crate::credential::Credential;
use crate::error::Error;
use crate::identity::jwt::Expectations;
use crate::identity::{AuthMode, JwtSettings};
use crate::sign::aliyun::oss;
use crate::sign::aliyun::sts;
use crate::sign::endpoint::{self, Addressing, Endpoint};
use crate::vend::policy::{self, MAX_POLICY_BYTES, PolicyTemplate, PolicyVars};
use crate::vend::prefix::{MAX_SEGMENT_BYTES, PrefixTemplate};

pub use crate::provider::Provider;

/// The OSS signature presign-url uses (`SIGNATURE_VERSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    /// `OSSAccessKeyId` / `Expires` / `Signature` (HMAC-SHA1).
    V1,
    /// `x-oss-signature-version=OSS4-HMAC-SHA256`.
    V4,
}

/// What presign-url may sign (`PRESIGN_METHODS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            _ => false,
        }
    }

    /// The object actions a credential needs to serve these methods: get for GET and HEAD,
    /// put for PUT and POST (plus the multipart actions for PUT), delete for DELETE, in the
    /// provider's names (`oss:GetObject`, `s3:GetObject`, ...).
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
        actions
    }

    fn parse(list: &str) -> Result<Self, Error> {
        let mut methods = Self {
            get: false,
            head: false,
            put: false,
            post: false,
            delete: false,
        };
        for item in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let slot = match item.to_ascii_uppercase().as_str() {
                "GET" => &mut methods.get,
                "HEAD" => &mut methods.head,
                "PUT" => &mut methods.put,
                "POST" => &mut methods.post,
                "DELETE" => &mut methods.delete,
                _ => {
                    return Err(config(
                        "PRESIGN_METHODS",
                        format!("{item:?} is not GET, HEAD, PUT, POST or DELETE"),
                    ));
                }
            };
            *slot = true;
        }
        if methods == Self::parse_none() {
            return Err(config("PRESIGN_METHODS", "names no method"));
        }
        Ok(methods)
    }

    fn parse_none() -> Self {
        Self {
            get: false,
            head: false,
            put: false,
            post: false,
            delete: false,
        }
    }
}

/// Everything a function needs to know, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PROVIDER`.
    pub provider: Provider,
    /// The function's own credentials (`ALIBABA_CLOUD_ACCESS_KEY_ID`, ...).
    pub credential: Credential,
    /// `ROLE_ARN`, the role to assume.
    pub role_arn: Option<String>,
    /// `STS_ENDPOINT`, without a trailing `/`.
    pub sts_endpoint: String,
    /// The region STS requests are signed for (AWS: `AWS_REGION`, else `BUCKET_REGION`).
    pub sts_region: String,
    /// `BUCKET`.
    pub bucket: String,
    /// `BUCKET_REGION`, a bare region id.
    pub bucket_region: String,
    /// `TOKEN_DURATION_SECONDS`, the STS `DurationSeconds`.
    pub token_duration_seconds: u32,
    /// The session-policy template (`POLICY_FILE`).
    pub policy: PolicyTemplate,
    /// `OBJECT_PREFIX`.
    pub object_prefix: PrefixTemplate,
    /// `IMM_PROJECT`.
    pub imm_project: Option<String>,
    /// `AUTH_MODE`, with the `JWT_*` settings in `jwt` mode.
    pub auth_mode: AuthMode,
    /// `CORS_ALLOW_ORIGINS`: browser origins allowed (`*` for any); empty means no CORS.
    pub cors_allow_origins: Vec<String>,
    /// `STS_TIMEOUT_MS`: the deadline for one request's whole STS exchange.
    pub sts_timeout: Duration,
    /// `BIND` and `PORT` (or `FC_SERVER_PORT`): where HTTP mode listens.
    pub listen: SocketAddr,
    /// `BUCKET_ENDPOINT` and `PATH_STYLE`: where presigned URLs point.
    pub bucket_endpoint: Endpoint,
    /// `SIGNATURE_VERSION`.
    pub signature_version: SignatureVersion,
    /// `PRESIGN_MAX_EXPIRES_SECONDS`.
    pub presign_max_expires_seconds: u64,
    /// `PRESIGN_METHODS`.
    pub presign_methods: PresignMethods,
    /// `UPLOAD_MAX_BYTES`: the `content-length-range` maximum of form policies.
    pub upload_max_bytes: u64,
    /// `ALLOWED_CONTENT_TYPES`: `type/subtype` or `type/*` entries; empty means any.
    pub allowed_content_types: Vec<String>,
    /// `ALLOWED_PROCESS`: the `x-oss-process` operations presign-url signs, `kind/name` or
    /// `kind/*` entries; empty means none.
    pub allowed_process: Vec<String>,
}

/// The `x-oss-process` operations signed when `ALLOWED_PROCESS` is unset: the image operations
/// the seeds use for thumbnails and watermarks. No IMM, video or document processing (billed).
pub const DEFAULT_ALLOWED_PROCESS: &str = "image/resize,image/crop,image/rotate,image/format,image/quality,image/auto-orient,image/info,image/watermark";

/// A seed-style `config.json` (the Alibaba Cloud sample app server's).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SeedConfig {
    #[serde(rename = "AccessKeyID")]
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
    role_arn: Option<String>,
    /// A string (`"900"`) in the seed, a number in some ports of it.
    token_expire_time: Option<Value>,
    policy_file: Option<String>,
}

/// Reads a variable: `Some` only when set and non-empty.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::load(&|name| std::env::var(name).ok())
    }

    /// Reads configuration through `env`, which returns a variable's value. Tests pass a map.
    pub fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        // `OBJECT_PREFIX=` set to empty is the documented empty template (the whole bucket),
        // not "unset": the one variable whose empty value means something.
        let object_prefix_as_set = env("OBJECT_PREFIX");
        // Likewise `ALLOWED_PROCESS=`: no `x-oss-process` at all.
        let allowed_process_as_set = env("ALLOWED_PROCESS");
        let env: Lookup<'_> = &|name| env(name).filter(|v| !v.is_empty());
        let (seed, seed_dir) = match env("CONFIG_FILE") {
            Some(path) => (read_seed_config(Path::new(&path))?, parent_dir(&path)),
            None => (SeedConfig::default(), PathBuf::from(".")),
        };

        let provider = match env("PROVIDER").as_deref() {
            None | Some("aliyun") => Provider::Aliyun,
            Some("aws") => Provider::Aws,
            Some(other) => {
                return Err(config(
                    "PROVIDER",
                    format!("{other:?} is neither aliyun nor aws"),
                ));
            }
        };
        let bucket = env("BUCKET").ok_or_else(|| config("BUCKET", "is required"))?;
        check_bucket(provider, &bucket)?;
        let bucket_region = env("BUCKET_REGION").ok_or_else(|| {
            config(
                "BUCKET_REGION",
                "is required, e.g. cn-hangzhou or us-east-1",
            )
        })?;
        check_region("BUCKET_REGION", &bucket_region)?;

        let (credential, role_arn, sts_region, default_sts) = match provider {
            Provider::Aliyun => {
                let access_key_id = env("ALIBABA_CLOUD_ACCESS_KEY_ID")
                    .or(seed.access_key_id.filter(|v| !v.is_empty()))
                    .ok_or_else(|| {
                        config(
                            "ALIBABA_CLOUD_ACCESS_KEY_ID",
                            "is required (or AccessKeyID in CONFIG_FILE)",
                        )
                    })?;
                let access_key_secret = env("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
                    .or(seed.access_key_secret.filter(|v| !v.is_empty()))
                    .ok_or_else(|| {
                        config(
                            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                            "is required (or AccessKeySecret in CONFIG_FILE)",
                        )
                    })?;
                let credential = Credential::new(
                    access_key_id,
                    access_key_secret,
                    env("ALIBABA_CLOUD_SECURITY_TOKEN"),
                );
                let role_arn = env("ROLE_ARN").or(seed.role_arn.filter(|v| !v.is_empty()));
                (
                    credential,
                    role_arn,
                    bucket_region.clone(),
                    sts::DEFAULT_ENDPOINT.to_owned(),
                )
            }
            Provider::Aws => {
                let access_key_id = env("AWS_ACCESS_KEY_ID")
                    .ok_or_else(|| config("AWS_ACCESS_KEY_ID", "is required"))?;
                let secret = env("AWS_SECRET_ACCESS_KEY")
                    .ok_or_else(|| config("AWS_SECRET_ACCESS_KEY", "is required"))?;
                let credential = Credential::new(access_key_id, secret, env("AWS_SESSION_TOKEN"));
                let region = env("AWS_REGION").unwrap_or_else(|| bucket_region.clone());
                check_region("AWS_REGION", &region)?;
                let default_sts = format!("https://sts.{region}.amazonaws.com");
                (credential, env("ROLE_ARN"), region, default_sts)
            }
        };
        if let Some(arn) = &role_arn {
            check_role_arn(provider, arn)?;
        }

        let sts_endpoint = env("STS_ENDPOINT").unwrap_or(default_sts);
        endpoint::upstream_origin(&sts_endpoint)
            .map_err(|reason| config("STS_ENDPOINT", reason))?;
        let sts_endpoint = sts_endpoint.trim_end_matches('/').to_owned();

        let token_duration_seconds = match env("TOKEN_DURATION_SECONDS") {
            Some(v) => parse_duration_seconds("TOKEN_DURATION_SECONDS", &v)?,
            None => match seed.token_expire_time {
                None => 900,
                Some(Value::String(s)) => parse_duration_seconds("TokenExpireTime", &s)?,
                Some(Value::Number(n)) => {
                    parse_duration_seconds("TokenExpireTime", &n.to_string())?
                }
                Some(_) => return Err(config("TokenExpireTime", "must be a number of seconds")),
            },
        };

        let policy = match (
            env("POLICY_FILE"),
            seed.policy_file.filter(|v| !v.is_empty()),
        ) {
            (Some(path), _) => load_policy("POLICY_FILE", Path::new(&path), &path)?,
            (None, Some(path)) => load_policy("PolicyFile", &seed_dir.join(&path), &path)?,
            (None, None) => PolicyTemplate::bundled(policy::default_template(provider))
                .ok_or_else(|| config("POLICY_FILE", "the bundled default template is missing"))?,
        };

        let object_prefix = PrefixTemplate::parse(
            object_prefix_as_set
                .as_deref()
                .unwrap_or(crate::vend::prefix::DEFAULT_TEMPLATE),
        )?;
        let imm_project = env("IMM_PROJECT");

        let auth_mode = match env("AUTH_MODE").as_deref() {
            None | Some("gateway") => AuthMode::Gateway,
            Some("none") => AuthMode::None,
            Some("jwt") => AuthMode::Jwt(jwt_settings(env)?),
            Some(other) => {
                return Err(config(
                    "AUTH_MODE",
                    format!("{other:?} is not gateway, jwt or none"),
                ));
            }
        };
        let cors_allow_origins = match env("CORS_ALLOW_ORIGINS") {
            None => Vec::new(),
            Some(list) => parse_origins(&list)?,
        };

        let sts_timeout = match env("STS_TIMEOUT_MS") {
            None => Duration::from_millis(3000),
            Some(v) => match v.parse::<u64>() {
                Ok(ms @ 1..=60_000) => Duration::from_millis(ms),
                _ => {
                    return Err(config(
                        "STS_TIMEOUT_MS",
                        format!("{v:?} is not a whole number of milliseconds from 1 to 60000"),
                    ));
                }
            },
        };

        let listen = listen_address(env)?;

        let path_style = match env("PATH_STYLE").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(config(
                    "PATH_STYLE",
                    format!("{other:?} is not true or false"),
                ));
            }
        };
        let (rules, public_host) = match provider {
            Provider::Aliyun => (endpoint::OSS, format!("oss-{bucket_region}.aliyuncs.com")),
            Provider::Aws => (endpoint::S3, format!("s3.{bucket_region}.amazonaws.com")),
        };
        let bucket_endpoint = match env("BUCKET_ENDPOINT") {
            None if path_style => Endpoint::new("https", &public_host, Addressing::PathStyle),
            None => Endpoint::new("https", &public_host, Addressing::VirtualHosted),
            Some(url) => Endpoint::parse(&url, &bucket, path_style, rules)
                .map_err(|reason| config("BUCKET_ENDPOINT", reason))?,
        };
        let signature_version = match (env("SIGNATURE_VERSION").as_deref(), provider) {
            (None | Some("v4"), _) => SignatureVersion::V4,
            (Some("v1"), Provider::Aliyun) => SignatureVersion::V1,
            (Some("v1"), Provider::Aws) => {
                return Err(config(
                    "SIGNATURE_VERSION",
                    "v1 is an OSS signature; S3 URLs are always SigV4",
                ));
            }
            (Some(other), _) => {
                return Err(config(
                    "SIGNATURE_VERSION",
                    format!("{other:?} is not v4 or v1"),
                ));
            }
        };
        let presign_max_expires_seconds = match env("PRESIGN_MAX_EXPIRES_SECONDS") {
            None => 3600,
            Some(v) => match v.parse::<u64>() {
                Ok(s @ 1..=oss::V4_MAX_EXPIRES_SECONDS) => s,
                _ => {
                    return Err(config(
                        "PRESIGN_MAX_EXPIRES_SECONDS",
                        format!("{v:?} is not a whole number of seconds from 1 to 604800 (7 days)"),
                    ));
                }
            },
        };
        let presign_methods = PresignMethods::parse(
            env("PRESIGN_METHODS")
                .as_deref()
                .unwrap_or("GET,HEAD,PUT,POST"),
        )?;
        let upload_max_bytes = match env("UPLOAD_MAX_BYTES") {
            None => 104_857_600,
            Some(v) => match v.parse::<u64>() {
                Ok(n @ 1..=MAX_UPLOAD_BYTES) => n,
                _ => {
                    return Err(config(
                        "UPLOAD_MAX_BYTES",
                        format!("{v:?} is not a byte count from 1 to 5 GiB"),
                    ));
                }
            },
        };
        let allowed_content_types = match env("ALLOWED_CONTENT_TYPES") {
            None => Vec::new(),
            Some(list) => parse_content_types(&list)?,
        };
        let allowed_process = parse_process_operations(
            allowed_process_as_set
                .as_deref()
                .unwrap_or(DEFAULT_ALLOWED_PROCESS),
        )?;

        let config = Self {
            provider,
            credential,
            role_arn,
            sts_endpoint,
            sts_region,
            bucket,
            bucket_region,
            token_duration_seconds,
            policy,
            object_prefix,
            imm_project,
            auth_mode,
            cors_allow_origins,
            sts_timeout,
            listen,
            bucket_endpoint,
            signature_version,
            presign_max_expires_seconds,
            presign_methods,
            upload_max_bytes,
            allowed_content_types,
            allowed_process,
        };
        config.check_policy_fits(&config.policy)?;
        Ok(config)
    }

    /// `ROLE_ARN`, for the functions that cannot work without it.
    pub fn require_role_arn(&self) -> Result<&str, Error> {
        self.role_arn
            .as_deref()
            .ok_or_else(|| config("ROLE_ARN", "is required (or RoleArn in CONFIG_FILE)"))
    }

    /// Renders `template` for `caller`, whose prefix is `prefix`.
    pub fn render_policy(
        &self,
        template: &PolicyTemplate,
        caller: &Caller,
        prefix: &str,
    ) -> Result<String, Error> {
        template.render(&PolicyVars {
            bucket: &self.bucket,
            object_prefix: prefix,
            imm_project: self.imm_project.as_deref(),
            caller,
        })
    }

    /// Renders `template` for the longest identity a caller can bring, so that a template
    /// that is broken, or too large for some caller, stops start-up instead of failing later.
    pub fn check_policy_fits(&self, template: &PolicyTemplate) -> Result<(), Error> {
        let longest = "x".repeat(MAX_SEGMENT_BYTES);
        let mut caller = Caller::with_sub(longest.clone());
        for name in template
            .claim_names()
            .iter()
            .map(String::as_str)
            .chain(self.object_prefix.claim_names())
        {
            caller.claims.insert(name.to_owned(), longest.clone());
        }
        let prefix = self.object_prefix.render(&caller)?;
        let rendered = self.render_policy(template, &caller, &prefix);
        rendered.map(drop).map_err(|e| match e {
            Error::Policy(reason) => config(
                "POLICY_FILE",
                format!("{reason} (checked with a {MAX_SEGMENT_BYTES}-byte caller id; STS allows {MAX_POLICY_BYTES})"),
            ),
            other => other,
        })
    }
}

/// `AUTH_MODE=jwt`: a key source (`JWT_JWKS_FILE`, `JWT_JWKS_URL` or `JWT_HS256_SECRET`),
/// and the issuer and audience every token must name.
fn jwt_settings(env: Lookup<'_>) -> Result<JwtSettings, Error> {
    let jwks_file = env("JWT_JWKS_FILE");
    let jwks_url = env("JWT_JWKS_URL");
    let hs256_secret = env("JWT_HS256_SECRET");
    if jwks_file.is_none() && jwks_url.is_none() && hs256_secret.is_none() {
        return Err(config(
            "AUTH_MODE",
            "jwt needs JWT_JWKS_FILE, JWT_JWKS_URL or JWT_HS256_SECRET",
        ));
    }
    if let Some(url) = &jwks_url
        && !url.starts_with("https://")
    {
        return Err(config(
            "JWT_JWKS_URL",
            format!("{url:?} must be an https:// URL"),
        ));
    }
    if hs256_secret.as_ref().is_some_and(|s| s.len() < 32) {
        return Err(config(
            "JWT_HS256_SECRET",
            "must be at least 32 bytes (HS256 keys shorter than the hash are weak)",
        ));
    }
    Ok(JwtSettings {
        expect: Expectations {
            issuer: env("JWT_ISSUER")
                .ok_or_else(|| config("JWT_ISSUER", "is required with AUTH_MODE=jwt"))?,
            audience: env("JWT_AUDIENCE")
                .ok_or_else(|| config("JWT_AUDIENCE", "is required with AUTH_MODE=jwt"))?,
        },
        jwks_file,
        jwks_url,
        hs256_secret,
    })
}

/// `*`, or origins `scheme://host[:port]` with no path.
fn parse_origins(list: &str) -> Result<Vec<String>, Error> {
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let shape_ok = origin == "*"
                || origin.split_once("://").is_some_and(|(scheme, host)| {
                    (scheme == "https" || scheme == "http")
                        && !host.is_empty()
                        && !host.contains(['/', '?', '#', ' ', '*'])
                });
            if shape_ok {
                Ok(origin.to_owned())
            } else {
                Err(config(
                    "CORS_ALLOW_ORIGINS",
                    format!("{origin:?} is not * or scheme://host[:port]"),
                ))
            }
        })
        .collect()
}

/// The largest single PostObject upload OSS accepts: 5 GiB.
const MAX_UPLOAD_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// `ALLOWED_CONTENT_TYPES`: `type/subtype` or `type/*`, each side a token of letters, digits
/// and `!#$^_.+-` (no `&`: under OSS V1 it would join another sub-resource).
fn parse_content_types(list: &str) -> Result<Vec<String>, Error> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$^_.+-".contains(&b);
    parse_slash_list(
        list,
        "ALLOWED_CONTENT_TYPES",
        token,
        "type/subtype or type/*",
    )
}

/// `ALLOWED_PROCESS`: `kind/name` or `kind/*` (`image/resize`, `style/*`), each side letters,
/// digits, `_` and `-`.
fn parse_process_operations(list: &str) -> Result<Vec<String>, Error> {
    let name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    parse_slash_list(
        list,
        "ALLOWED_PROCESS",
        name,
        "kind/operation or kind/*, e.g. image/resize",
    )
}

/// A comma list of `left/right` or `left/*` entries, lower-cased, each side non-empty and made
/// of bytes `allowed` accepts.
fn parse_slash_list(
    list: &str,
    variable: &'static str,
    allowed: impl Fn(u8) -> bool,
    shape: &str,
) -> Result<Vec<String>, Error> {
    let part = |s: &str| !s.is_empty() && s.bytes().all(&allowed);
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let lower = t.to_ascii_lowercase();
            match lower.split_once('/') {
                Some((left, right)) if part(left) && (right == "*" || part(right)) => Ok(lower),
                _ => Err(config(variable, format!("{t:?} is not {shape}"))),
            }
        })
        .collect()
}

fn config(variable: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        variable,
        reason: reason.into(),
    }
}

fn parent_dir(path: &str) -> PathBuf {
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn read_seed_config(path: &Path) -> Result<SeedConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        config(
            "CONFIG_FILE",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        config(
            "CONFIG_FILE",
            format!("{} is not a valid config.json: {e}", path.display()),
        )
    })
}

/// Reads a policy template from `path`; a bundled template's name works without the file.
fn load_policy(
    variable: &'static str,
    path: &Path,
    as_given: &str,
) -> Result<PolicyTemplate, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            PolicyTemplate::parse(as_given, &text).map_err(|e| config(variable, e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bundled_name = as_given.strip_prefix("policies/").unwrap_or(as_given);
            PolicyTemplate::bundled(bundled_name)
                .ok_or_else(|| config(variable, format!("cannot read {}: {e}", path.display())))
        }
        Err(e) => Err(config(
            variable,
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

fn parse_duration_seconds(variable: &'static str, value: &str) -> Result<u32, Error> {
    match value.trim().parse::<u32>() {
        Ok(s @ 900..=43_200) => Ok(s),
        Ok(s) if s < 900 => Err(config(
            variable,
            format!("{s} is below STS's minimum of 900 seconds"),
        )),
        Ok(s) => Err(config(
            variable,
            format!("{s} is above STS's maximum of 43200 seconds"),
        )),
        Err(_) => Err(config(
            variable,
            format!("{value:?} is not a whole number of seconds"),
        )),
    }
}

fn check_role_arn(provider: Provider, arn: &str) -> Result<(), Error> {
    let (prefix, shape) = match provider {
        Provider::Aliyun => ("acs:ram::", "acs:ram::<account id>:role/<role name>"),
        Provider::Aws => ("arn:aws", "arn:aws:iam::<account id>:role/<role name>"),
    };
    let shape_ok = arn.strip_prefix(prefix).is_some_and(|rest| {
        let rest = match provider {
            // arn:aws:iam::, arn:aws-cn:iam::, arn:aws-us-gov:iam::
            Provider::Aws => rest.split_once(":iam::").map_or("", |(partition, rest)| {
                if partition.is_empty() || partition.starts_with('-') {
                    rest
                } else {
                    ""
                }
            }),
            Provider::Aliyun => rest,
        };
        rest.split_once(":role/").is_some_and(|(account, role)| {
            !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit()) && !role.is_empty()
        })
    });
    if shape_ok {
        Ok(())
    } else {
        Err(config("ROLE_ARN", format!("{arn:?} is not {shape}")))
    }
}

/// Bucket names: 3 to 63 lower-case letters, digits and `-` (and `.` for S3), starting and
/// ending with a letter or digit.
fn check_bucket(provider: Provider, bucket: &str) -> Result<(), Error> {
    let dots = provider == Provider::Aws;
    let ok = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dots && b == b'.')
        })
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(config(
            "BUCKET",
            format!("{bucket:?} is not a valid bucket name (3-63 of a-z 0-9 -)"),
        ))
    }
}

fn check_region(variable: &'static str, region: &str) -> Result<(), Error> {
    if let Some(bare) = region.strip_prefix("oss-") {
        return Err(config(
            variable,
            format!("{region:?} is an endpoint label; give the bare region id, e.g. {bare:?}"),
        ));
    }
    let ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(config(
            variable,
            format!("{region:?} is not a region id such as cn-hangzhou or us-east-1"),
        ))
    }
}

fn listen_address(env: Lookup<'_>) -> Result<SocketAddr, Error> {
    let ip = match env("BIND") {
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(v) => v
            .parse()
            .map_err(|_| config("BIND", format!("{v:?} is not an IP address")))?,
    };
    let (variable, port) = match (env("PORT"), env("FC_SERVER_PORT")) {
        (Some(p), _) => ("PORT", p),
        (None, Some(p)) => ("FC_SERVER_PORT", p),
        (None, None) => ("PORT", "9000".to_owned()),
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| config(variable, format!("{port:?} is not a port number")))?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn minimal() -> HashMap<&'static str, String> {
        HashMap::from([
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "LTAI-test-config-key".to_owned(),
            ),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret".to_owned()),
            (
                "ROLE_ARN",
                "acs:ram::1234567890123:role/uploader".to_owned(),
            ),
            ("BUCKET", "examplebucket".to_owned()),
            ("BUCKET_REGION", "cn-hangzhou".to_owned()),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, Error> {
        Config::load(&|k| vars.get(k).cloned())
    }

    fn refused_variable(vars: &HashMap<&'static str, String>) -> &'static str {
        match load(vars) {
            Err(Error::Config { variable, .. }) => variable,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn plain_http_upstreams_are_only_local_stand_ins_or_ip_addresses() {
        for (variable, url) in [
            ("STS_ENDPOINT", "http://127.0.0.1:8080"),
            ("STS_ENDPOINT", "http://localhost:8080"),
            ("STS_ENDPOINT", "http://[::1]:8080"),
            ("BUCKET_ENDPOINT", "http://10.0.0.5:9000"),
            ("BUCKET_ENDPOINT", "http://192.168.1.20:9000"),
            ("BUCKET_ENDPOINT", "http://[fd00::5]:9000"),
            ("BUCKET_ENDPOINT", "http://LOCALHOST:9000"),
            ("STS_ENDPOINT", "http://100.100.100.200"),
            ("BUCKET_ENDPOINT", "https://minio.internal:9000"),
            ("BUCKET_ENDPOINT", "https://203.0.113.9"),
        ] {
            let mut vars = minimal();
            vars.insert(variable, url.to_owned());
            assert!(load(&vars).is_ok(), "{variable}={url}");
        }
        for (variable, url) in [
            ("STS_ENDPOINT", "http://203.0.113.9"),
            ("STS_ENDPOINT", "http://[2001:db8::1]:80"),
            ("STS_ENDPOINT", "http://[::ffff:203.0.113.9]"),
            ("BUCKET_ENDPOINT", "http://8.8.8.8:9000"),
            ("BUCKET_ENDPOINT", "http://172.32.0.1"),
        ] {
            let mut vars = minimal();
            vars.insert(variable, url.to_owned());
            assert_eq!(refused_variable(&vars), variable, "{url}");
        }
        let mut vars = minimal();
        vars.insert("BUCKET_ENDPOINT", "http://LOCALHOST:9000".to_owned());
        assert_eq!(
            load(&vars)
                .expect("valid")
                .bucket_endpoint
                .object_url("examplebucket", "k"),
            "http://LOCALHOST:9000/examplebucket/k",
            "localhost is path-style whatever its case"
        );
    }

    #[test]
    fn allowed_process_defaults_to_image_operations_and_empty_means_none() {
        let unset = load(&minimal()).expect("valid");
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
        assert!(load(&vars).expect("valid").allowed_process.is_empty());
        vars.insert("ALLOWED_PROCESS", "Image/Resize, style/*".to_owned());
        assert_eq!(
            load(&vars).expect("valid").allowed_process,
            ["image/resize", "style/*"]
        );
        for bad in ["image", "image/resize|sys", "/resize", "image/re size"] {
            vars.insert("ALLOWED_PROCESS", bad.to_owned());
            assert_eq!(refused_variable(&vars), "ALLOWED_PROCESS", "{bad}");
        }
    }

    #[test]
    fn an_empty_object_prefix_is_the_whole_bucket_and_unset_is_the_default() {
        let alice = Caller::with_sub("alice");
        let unset = load(&minimal()).expect("valid");
        assert_eq!(
            unset.object_prefix.render(&alice).expect("prefix"),
            "uploads/alice/"
        );
        let mut vars = minimal();
        vars.insert("OBJECT_PREFIX", String::new());
        let empty = load(&vars).expect("valid");
        assert_eq!(empty.object_prefix.render(&alice).expect("prefix"), "");
        assert!(!empty.object_prefix.is_per_caller());
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = load(&minimal()).expect("valid");
        assert_eq!(c.provider, Provider::Aliyun);
        assert_eq!(c.sts_endpoint, "https://sts.aliyuncs.com");
        assert_eq!(c.token_duration_seconds, 900);
        assert_eq!(c.policy.name(), "bucket_write_policy.json");
        assert_eq!(
            c.object_prefix
                .render(&Caller::with_sub("bob"))
                .expect("render"),
            "uploads/bob/"
        );
        assert_eq!(c.auth_mode, AuthMode::Gateway);
        assert_eq!(c.sts_timeout, Duration::from_millis(3000));
        assert_eq!(c.listen, "127.0.0.1:9000".parse().expect("addr"));
        assert_eq!(c.credential.security_token, None);
        assert_eq!(
            c.bucket_endpoint,
            crate::sign::aliyun::oss::public_endpoint("cn-hangzhou")
        );
        assert_eq!(c.signature_version, SignatureVersion::V4);
        assert_eq!(c.presign_max_expires_seconds, 3600);
        assert!(c.presign_methods.allows("GET") && c.presign_methods.allows("HEAD"));
        assert!(c.presign_methods.allows("PUT") && c.presign_methods.allows("POST"));
        assert!(!c.presign_methods.allows("DELETE"));
        assert_eq!(c.upload_max_bytes, 104_857_600);
        assert!(c.allowed_content_types.is_empty());
    }

    #[test]
    fn presign_settings_are_read() {
        let mut vars = minimal();
        vars.insert("BUCKET_ENDPOINT", "http://127.0.0.1:9000".to_owned());
        vars.insert("SIGNATURE_VERSION", "v1".to_owned());
        vars.insert("PRESIGN_METHODS", "get, delete".to_owned());
        vars.insert(
            "ALLOWED_CONTENT_TYPES",
            "image/*, Application/PDF".to_owned(),
        );
        let c = load(&vars).expect("valid");
        assert_eq!(
            c.bucket_endpoint.object_url("examplebucket", "k"),
            "http://127.0.0.1:9000/examplebucket/k"
        );
        assert_eq!(c.signature_version, SignatureVersion::V1);
        assert!(c.presign_methods.allows("GET") && c.presign_methods.allows("DELETE"));
        assert!(!c.presign_methods.allows("PUT"));
        assert_eq!(c.allowed_content_types, ["image/*", "application/pdf"]);
        vars.remove("BUCKET_ENDPOINT");
        vars.insert("PATH_STYLE", "true".to_owned());
        let c = load(&vars).expect("valid");
        assert_eq!(
            c.bucket_endpoint.object_url("examplebucket", "k"),
            "https://oss-cn-hangzhou.aliyuncs.com/examplebucket/k"
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&str, &str, &str)] = &[
            ("TOKEN_DURATION_SECONDS", "899", "TOKEN_DURATION_SECONDS"),
            ("TOKEN_DURATION_SECONDS", "43201", "TOKEN_DURATION_SECONDS"),
            ("TOKEN_DURATION_SECONDS", "15m", "TOKEN_DURATION_SECONDS"),
            ("PROVIDER", "gcp", "PROVIDER"),
            ("AUTH_MODE", "open", "AUTH_MODE"),
            ("ROLE_ARN", "arn:aws:iam::1:role/x", "ROLE_ARN"),
            ("STS_ENDPOINT", "sts.aliyuncs.com", "STS_ENDPOINT"),
            (
                "STS_ENDPOINT",
                "https://sts.aliyuncs.com/path",
                "STS_ENDPOINT",
            ),
            // Plain HTTP only to localhost or an IP literal.
            ("STS_ENDPOINT", "http://sts.aliyuncs.com", "STS_ENDPOINT"),
            ("STS_ENDPOINT", "http://sts.local:8080", "STS_ENDPOINT"),
            (
                "BUCKET_ENDPOINT",
                "http://minio.internal:9000",
                "BUCKET_ENDPOINT",
            ),
            ("ALLOWED_PROCESS", "video", "ALLOWED_PROCESS"),
            ("BUCKET", "Example_Bucket", "BUCKET"),
            ("BUCKET_REGION", "oss-cn-hangzhou", "BUCKET_REGION"),
            ("OBJECT_PREFIX", "uploads/${sub}", "OBJECT_PREFIX"),
            ("POLICY_FILE", "/nonexistent/policy.json", "POLICY_FILE"),
            ("STS_TIMEOUT_MS", "0", "STS_TIMEOUT_MS"),
            ("PORT", "70000", "PORT"),
            ("BIND", "localhost", "BIND"),
            (
                "BUCKET_ENDPOINT",
                "oss-cn-hangzhou.aliyuncs.com",
                "BUCKET_ENDPOINT",
            ),
            ("PATH_STYLE", "yes", "PATH_STYLE"),
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
        for required in [
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "BUCKET",
            "BUCKET_REGION",
        ] {
            let mut vars = minimal();
            vars.remove(required);
            assert_eq!(refused_variable(&vars), required);
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        let mut vars = minimal();
        vars.insert("TOKEN_DURATION_SECONDS", String::new());
        vars.insert("ALIBABA_CLOUD_SECURITY_TOKEN", String::new());
        let c = load(&vars).expect("valid");
        assert_eq!(c.token_duration_seconds, 900);
        assert_eq!(c.credential.security_token, None);
    }

    #[test]
    fn fc_server_port_is_used_when_port_is_unset() {
        let mut vars = minimal();
        vars.insert("FC_SERVER_PORT", "9100".to_owned());
        vars.insert("BIND", "0.0.0.0".to_owned());
        assert_eq!(
            load(&vars).expect("valid").listen,
            "0.0.0.0:9100".parse().expect("addr")
        );
        vars.insert("PORT", "9200".to_owned());
        assert_eq!(load(&vars).expect("valid").listen.port(), 9200);
    }

    #[test]
    fn a_seed_config_json_is_accepted_and_the_environment_wins() {
        let dir = std::env::temp_dir().join(format!("stsvend-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("policy")).expect("mkdir");
        std::fs::write(
            dir.join("policy/bucket_read_policy.txt"),
            include_str!("../../policies/bucket_read_policy.json"),
        )
        .expect("write policy");
        std::fs::write(
            dir.join("config.json"),
            r#"{"AccessKeyID":"LTAI-test-seed-key","AccessKeySecret":"seed-secret","RoleArn":"acs:ram::1234567890123:role/seed","TokenExpireTime":"1800","PolicyFile":"policy/bucket_read_policy.txt"}"#,
        )
        .expect("write config");
        let mut vars = HashMap::from([
            ("CONFIG_FILE", dir.join("config.json").display().to_string()),
            ("BUCKET", "examplebucket".to_owned()),
            ("BUCKET_REGION", "cn-hangzhou".to_owned()),
        ]);
        let c = load(&vars).expect("valid");
        assert_eq!(c.credential.access_key_id, "LTAI-test-seed-key");
        assert_eq!(
            c.role_arn.as_deref(),
            Some("acs:ram::1234567890123:role/seed")
        );
        assert_eq!(c.token_duration_seconds, 1800);
        assert_eq!(c.policy.actions(), ["oss:GetObject"]);

        vars.insert("TOKEN_DURATION_SECONDS", "3600".to_owned());
        vars.insert("ROLE_ARN", "acs:ram::1234567890123:role/env".to_owned());
        let c = load(&vars).expect("valid");
        assert_eq!(c.token_duration_seconds, 3600);
        assert_eq!(
            c.role_arn.as_deref(),
            Some("acs:ram::1234567890123:role/env")
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn bundled_template_names_work_without_the_file() {
        let mut vars = minimal();
        vars.insert("POLICY_FILE", "policies/bucket_read_policy.json".to_owned());
        assert_eq!(
            load(&vars).expect("valid").policy.actions(),
            ["oss:GetObject"]
        );
    }

    #[test]
    fn a_template_too_large_for_a_long_caller_id_stops_start_up() {
        let dir = std::env::temp_dir().join(format!("stsvend-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let resources: Vec<String> = (0..12)
            .map(|i| format!("\"acs:oss:*:*:$BUCKET_NAME/$OBJECT_PREFIX{i}/*\""))
            .collect();
        let text = format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":["oss:GetObject"],"Resource":[{}]}}]}}"#,
            resources.join(",")
        );
        let path = dir.join("big.json");
        std::fs::write(&path, text).expect("write");
        let mut vars = minimal();
        vars.insert("POLICY_FILE", path.display().to_string());
        assert_eq!(refused_variable(&vars), "POLICY_FILE");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
