//! Configuration, read and validated once at cold start.
//!
//! Values come from the environment (the names the README's configuration table lists), and
//! optionally from a seed-style `config.json` named by `CONFIG_FILE`; the environment wins. An
//! empty variable counts as unset, as SAM passes empty optional parameters. A missing or
//! malformed value is an [`Error::Config`] that names the variable, and start-up stops.
//!
//! [`Config::load`] reads like a table: one line per variable, through the typed readers of
//! `env.rs`, grouped per concern. The variables only one function reads
//! ([`FUNCTION_VARIABLES`]) are kept as set, and each function reads its own where it starts
//! (its crate's `settings.rs`, through [`Config::read`]), so that a bad `PRESIGN_METHODS`
//! cannot stop issue-token. [`CallbackSettings`] stays here: presign-url pins the callback and
//! record-upload verifies it.

mod callback;
mod checks;
mod env;
mod profile;
mod quota;
mod seed;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use self::callback::{CallbackSettings, MIN_CALLBACK_SECRET_BYTES};
pub use self::env::{Env, config as invalid, content_types, list, slash_entry};
pub use self::profile::{
    ContentDisposition, DEFAULT_PROFILE, MAX_PROFILE_BYTES, OnViolation, Profile, Profiles,
    invalid as invalid_profile,
};
pub use self::quota::{ProfileQuota, QuotaSettings};

use self::checks::{
    check_bucket, check_region, check_role_arn, jwt_settings, listen_address,
    parse_duration_seconds, parse_origins,
};
use self::env::config;
use self::seed::{SeedConfig, load_policy};
use stsvend::{
    AuthMode, CredentialProvider, CredentialSource, Error, PolicyTemplate, PrefixTemplate,
    Provider, Scope, StsAction, StsSettings, Variables,
    sign::aliyun::sts,
    sign::{Addressing, Endpoint, OSS_HOSTS, S3_HOSTS, upstream_origin},
};

/// The variables only some functions read, kept as set at cold start for [`Config::read`]:
/// presign-url's (`settings.rs` in its crate), record-upload's (likewise), the upload callback
/// both read ([`CallbackSettings`]), and Function Compute's own. Reading a name not listed here
/// through [`Config::read`] fails every debug build's test that reads it.
pub const FUNCTION_VARIABLES: &[&str] = &[
    // presign-url: what it signs.
    "SIGNATURE_VERSION",
    "PRESIGN_MAX_EXPIRES_SECONDS",
    "PRESIGN_METHODS",
    "UPLOAD_MAX_BYTES",
    "ALLOWED_CONTENT_TYPES",
    "ALLOWED_PROCESS",
    // presign-url: the upload rules signed into every upload.
    "UPLOAD_OVERWRITE",
    "UPLOAD_METADATA",
    "UPLOAD_CLIENT_METADATA",
    "UPLOAD_TAGGING",
    "UPLOAD_SERVER_SIDE_ENCRYPTION",
    "UPLOAD_REQUIRE_CHECKSUM",
    "UPLOAD_REQUIRE_SIZE",
    // presign-url: Uppy Companion's `s3/sts` route.
    "COMPANION_STS",
    // presign-url: downloads through the CDN.
    "CDN_DOMAIN",
    "CDN_AUTH_TYPE",
    "CDN_AUTH_KEY",
    "CDN_AUTH_KEY_BACKUP",
    "CDN_AUTH_TTL_SECONDS",
    "CLOUDFRONT_KEY_PAIR_ID",
    "CLOUDFRONT_PRIVATE_KEY_FILE",
    "CLOUDFRONT_HASH_ALGORITHM",
    // presign-url and record-upload: the pinned callback.
    "UPLOAD_CALLBACK_URL",
    "UPLOAD_CALLBACK_SECRET",
    // record-upload.
    "UPLOAD_WEBHOOK_URL",
    "UPLOAD_WEBHOOK_SECRET",
    "OSS_CALLBACK_PUBLIC_KEY_FILE",
    "RECORD_UPLOAD_MODE",
    // Function Compute sets these.
    "FC_FUNCTION_NAME",
    "FC_REGION",
];

/// Everything a function needs to know, validated, grouped per concern.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PROVIDER`.
    pub provider: Provider,
    /// `BUCKET_REGION`, a bare region id.
    pub bucket_region: String,
    /// `BUCKET_ENDPOINT` and `PATH_STYLE`: where presigned URLs point.
    pub bucket_endpoint: Endpoint,
    /// `STS_ENDPOINT`, the function's own credentials, `STS_TIMEOUT_MS`, `ROLE_ARN` and
    /// `TOKEN_DURATION_SECONDS`.
    pub sts: StsSettings,
    /// `BUCKET`, `OBJECT_PREFIX` and `IMM_PROJECT`: what a caller may reach.
    pub scope: Scope,
    /// The session-policy template (`POLICY_FILE`).
    pub policy: PolicyTemplate,
    /// `PROFILES_FILE`'s upload profiles, or the one profile `default` the variables form.
    pub profiles: Profiles,
    /// `AUTH_MODE`, with the `JWT_*` settings in `jwt` mode.
    pub auth_mode: AuthMode,
    /// `CORS_ALLOW_ORIGINS`: browser origins allowed (`*` for any); empty means no CORS.
    pub cors_allow_origins: Vec<String>,
    /// `BIND` and `PORT` (or `FC_SERVER_PORT`): where HTTP mode listens.
    pub listen: SocketAddr,
    /// `QUOTA_STORE` and its settings, when a profile has a quota or a grant rate.
    pub quota: Option<QuotaSettings>,
    /// The variables only some functions read ([`FUNCTION_VARIABLES`]), as set; each function
    /// reads its own through [`Config::read`].
    deferred: BTreeMap<&'static str, String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::load(&|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, which returns a variable's value. Tests pass a map.
    pub fn load(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let env = Env::new(lookup);
        let seed = SeedConfig::read(env.text("CONFIG_FILE").as_deref())?;
        let provider = env.choice(
            "PROVIDER",
            Provider::Aliyun,
            &[("aliyun", Provider::Aliyun), ("aws", Provider::Aws)],
        )?;
        let bucket = env.required("BUCKET", "is required")?;
        check_bucket(provider, &bucket)?;
        let bucket_region = env.required(
            "BUCKET_REGION",
            "is required, e.g. cn-hangzhou or us-east-1",
        )?;
        check_region("BUCKET_REGION", &bucket_region)?;
        let mut config = Self {
            provider,
            bucket_endpoint: bucket_endpoint(&env, provider, &bucket, &bucket_region)?,
            sts: sts_settings(&env, &seed, provider, &bucket_region)?,
            policy: policy_template(&env, &seed, provider)?,
            scope: Scope {
                bucket,
                // `OBJECT_PREFIX=` set to empty is the documented empty template (the whole
                // bucket), not "unset".
                object_prefix: PrefixTemplate::parse(
                    env.as_set("OBJECT_PREFIX")
                        .as_deref()
                        .unwrap_or(stsvend::DEFAULT_PREFIX),
                )?,
                imm_project: env.text("IMM_PROJECT"),
            },
            bucket_region,
            profiles: Profiles::from_variables(PrefixTemplate::parse("")?),
            auth_mode: auth_mode(&env)?,
            cors_allow_origins: parse_origins(&env.text("CORS_ALLOW_ORIGINS").unwrap_or_default())?,
            listen: listen_address(&env)?,
            quota: None,
            deferred: FUNCTION_VARIABLES
                .iter()
                .filter_map(|&name| env.as_set(name).map(|value| (name, value)))
                .collect(),
        };
        config.scope.check_policy_fits(&config.policy)?;
        config.profiles = match env.text("PROFILES_FILE") {
            Some(path) => Profiles::read(&path, &config.scope)?,
            None => Profiles::from_variables(config.scope.object_prefix.clone()),
        };
        config.quota = quotas(&env, &mut config.profiles, provider)?;
        if config.sts.action != StsAction::AssumeRole {
            if !matches!(config.auth_mode, AuthMode::Jwt(_)) {
                return Err(env::config(
                    "STS_ACTION",
                    "exchanges the caller's token: it needs AUTH_MODE=jwt",
                ));
            }
            config.require_role_arn()?;
        }
        Ok(config)
    }

    /// `ROLE_ARN`, for the functions that cannot work without it.
    pub fn require_role_arn(&self) -> Result<&str, Error> {
        self.sts
            .role_arn
            .as_deref()
            .ok_or_else(|| config("ROLE_ARN", "is required (or RoleArn in CONFIG_FILE)"))
    }

    /// Whether the function runs as a Function Compute custom runtime: the platform sets
    /// `FC_FUNCTION_NAME` and `FC_REGION` (never set them anywhere else).
    pub fn function_compute(&self) -> bool {
        let set = |name| self.deferred(name).is_some_and(|v| !v.is_empty());
        set("FC_FUNCTION_NAME") && set("FC_REGION")
    }

    /// A variable read only where it is used, as it was set at cold start. Only the names in
    /// [`FUNCTION_VARIABLES`] were kept: reading another would always see it unset, so in a
    /// debug build (every test) that mistake stops the reader at once.
    fn deferred(&self, name: &str) -> Option<String> {
        debug_assert!(
            FUNCTION_VARIABLES.contains(&name),
            "{name} is read through Config::read but is not in FUNCTION_VARIABLES, so it was not kept"
        );
        self.deferred.get(name).cloned()
    }

    /// Reads a function's own variables ([`FUNCTION_VARIABLES`]), as they were set at cold
    /// start, through the typed readers.
    pub fn read<R>(&self, read: impl FnOnce(&Env<'_>) -> R) -> R {
        let lookup = |name: &str| self.deferred(name);
        read(&Env::new(&lookup))
    }
}

/// The quotas: the variables' (`QUOTA_BYTES`, ...) on the one profile they form, refused
/// beside a profiles file; then `QUOTA_STORE` and its settings when any profile counts.
fn quotas(
    env: &Env<'_>,
    profiles: &mut Profiles,
    provider: Provider,
) -> Result<Option<QuotaSettings>, Error> {
    if profiles.file.is_some() {
        quota::refuse_variables_with_file(env)?;
    } else if let Some(from_variables) = quota::from_variables(env)? {
        let profile = &mut profiles.list[0];
        if from_variables.limits_storage() {
            from_variables
                .check_subject_in(&profile.prefix)
                .map_err(|reason| config("QUOTA_SUBJECT", format!("{reason} (OBJECT_PREFIX)")))?;
        }
        profile.quota = from_variables;
    }
    let needed = profiles.list.iter().any(|p| p.quota.needs_store());
    QuotaSettings::read(env, needed, provider)
}

/// The function's own credentials, STS's endpoint and region, the role and its duration.
fn sts_settings(
    env: &Env<'_>,
    seed: &SeedConfig,
    provider: Provider,
    bucket_region: &str,
) -> Result<StsSettings, Error> {
    let (role_arn, region, default_endpoint) = match provider {
        Provider::Aliyun => (
            env.text("ROLE_ARN")
                .or_else(|| SeedConfig::text(&seed.role_arn)),
            bucket_region.to_owned(),
            sts::DEFAULT_ENDPOINT.to_owned(),
        ),
        Provider::Aws => {
            let region = env
                .text("AWS_REGION")
                .unwrap_or_else(|| bucket_region.to_owned());
            check_region("AWS_REGION", &region)?;
            let endpoint = format!("https://sts.{region}.amazonaws.com");
            (env.text("ROLE_ARN"), region, endpoint)
        }
    };
    let endpoint = env.text("STS_ENDPOINT").unwrap_or(default_endpoint);
    upstream_origin(&endpoint).map_err(|reason| config("STS_ENDPOINT", reason))?;
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let action = sts_action(env, provider)?;
    let (text, flag) = (|name: &str| env.text(name), |name, on| env.flag(name, on));
    let lent = Variables::new(&text, &flag);
    let source = match provider {
        Provider::Aliyun => stsvend::aliyun_source(lent, seed.key(), &endpoint),
        Provider::Aws => stsvend::aws_source(lent, &endpoint),
    };
    // A token exchange needs no credentials of the function's own.
    let source = match (source, &action) {
        (Err(Error::Config { .. }), StsAction::WebIdentity | StsAction::Oidc { .. }) => {
            CredentialSource::Unneeded
        }
        (source, _) => source?,
    };
    if let Some(arn) = &role_arn {
        check_role_arn(provider, arn)?;
    }
    let duration_seconds = match (
        env.text("TOKEN_DURATION_SECONDS"),
        seed.token_expire_time()?,
    ) {
        (Some(v), _) => parse_duration_seconds("TOKEN_DURATION_SECONDS", &v)?,
        (None, Some(v)) => parse_duration_seconds("TokenExpireTime", &v)?,
        (None, None) => 900,
    };
    let timeout_ms = env.number(
        "STS_TIMEOUT_MS",
        3000,
        1..=60_000,
        "a whole number of milliseconds from 1 to 60000",
    )?;
    let timeout = Duration::from_millis(timeout_ms);
    Ok(StsSettings {
        provider,
        endpoint,
        region,
        credentials: CredentialProvider::new(source, timeout),
        timeout,
        action,
        role_arn,
        duration_seconds,
    })
}

/// `STS_ACTION`: `AssumeRole` with the function's own credentials (the default), or the
/// caller's verified token exchanged as is (`AssumeRoleWithWebIdentity` on AWS,
/// `AssumeRoleWithOIDC` with `OIDC_PROVIDER_ARN` on Alibaba Cloud).
fn sts_action(env: &Env<'_>, provider: Provider) -> Result<StsAction, Error> {
    match (env.text("STS_ACTION").as_deref(), provider) {
        (None | Some("AssumeRole"), _) => Ok(StsAction::AssumeRole),
        (Some("AssumeRoleWithWebIdentity"), Provider::Aws) => Ok(StsAction::WebIdentity),
        (Some("AssumeRoleWithOIDC"), Provider::Aliyun) => {
            let arn = env.required(
                "OIDC_PROVIDER_ARN",
                "is required with STS_ACTION=AssumeRoleWithOIDC, e.g. acs:ram::1234567890123:oidc-provider/app",
            )?;
            Ok(StsAction::Oidc {
                oidc_provider_arn: arn,
            })
        }
        (Some(other), _) => Err(config(
            "STS_ACTION",
            format!(
                "{other:?} is not AssumeRole or, with {}",
                match provider {
                    Provider::Aws => "PROVIDER=aws, AssumeRoleWithWebIdentity",
                    Provider::Aliyun => "PROVIDER=aliyun, AssumeRoleWithOIDC",
                }
            ),
        )),
    }
}

/// `POLICY_FILE`, else the seed's `PolicyFile` (relative to its folder), else the bundled
/// default for the provider.
fn policy_template(
    env: &Env<'_>,
    seed: &SeedConfig,
    provider: Provider,
) -> Result<PolicyTemplate, Error> {
    match (env.text("POLICY_FILE"), SeedConfig::text(&seed.policy_file)) {
        (Some(path), _) => load_policy("POLICY_FILE", Path::new(&path), &path),
        (None, Some(path)) => load_policy("PolicyFile", &seed.dir.join(&path), &path),
        (None, None) => PolicyTemplate::bundled(stsvend::default_template(provider))
            .ok_or_else(|| config("POLICY_FILE", "the bundled default template is missing")),
    }
}

/// `AUTH_MODE`, with the `JWT_*` settings in `jwt` mode.
fn auth_mode(env: &Env<'_>) -> Result<AuthMode, Error> {
    let jwt = env.choice(
        "AUTH_MODE",
        false,
        &[("gateway", false), ("jwt", true), ("none", false)],
    )?;
    Ok(match env.text("AUTH_MODE").as_deref() {
        _ if jwt => AuthMode::Jwt(jwt_settings(env)?),
        Some("none") => AuthMode::None,
        _ => AuthMode::Gateway,
    })
}

/// `BUCKET_ENDPOINT` and `PATH_STYLE`: the provider's public endpoint unless overridden.
fn bucket_endpoint(
    env: &Env<'_>,
    provider: Provider,
    bucket: &str,
    region: &str,
) -> Result<Endpoint, Error> {
    let path_style = env.flag("PATH_STYLE", false)?;
    let (rules, public_host) = match provider {
        Provider::Aliyun => (OSS_HOSTS, format!("oss-{region}.aliyuncs.com")),
        Provider::Aws => (S3_HOSTS, format!("s3.{region}.amazonaws.com")),
    };
    let addressing = if path_style {
        Addressing::PathStyle
    } else {
        Addressing::VirtualHosted
    };
    match env.text("BUCKET_ENDPOINT") {
        None => Ok(Endpoint::new("https", &public_host, addressing)),
        Some(url) => Endpoint::parse(&url, bucket, path_style, rules)
            .map_err(|reason| config("BUCKET_ENDPOINT", reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use stsvend::Caller;
    use stsvend_test_support::config::minimal;

    /// The function's own key, as read from the environment or the seed.
    fn own(c: &Config) -> stsvend::Credential {
        c.sts
            .credentials
            .source()
            .static_credential()
            .cloned()
            .expect("a static key")
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
    fn an_empty_object_prefix_is_the_whole_bucket_and_unset_is_the_default() {
        let alice = Caller::with_sub("alice");
        let unset = load(&minimal()).expect("valid");
        assert_eq!(
            unset.scope.object_prefix.render(&alice).expect("prefix"),
            "uploads/alice/"
        );
        let mut vars = minimal();
        vars.insert("OBJECT_PREFIX", String::new());
        let empty = load(&vars).expect("valid");
        assert_eq!(
            empty.scope.object_prefix.render(&alice).expect("prefix"),
            ""
        );
        assert!(!empty.scope.object_prefix.is_per_caller());
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = load(&minimal()).expect("valid");
        assert_eq!(c.provider, Provider::Aliyun);
        assert_eq!(c.sts.endpoint, "https://sts.aliyuncs.com");
        assert_eq!(c.sts.duration_seconds, 900);
        assert_eq!(c.policy.name(), "bucket_write_policy.json");
        assert_eq!(
            c.scope
                .object_prefix
                .render(&Caller::with_sub("bob"))
                .expect("render"),
            "uploads/bob/"
        );
        assert_eq!(c.auth_mode, AuthMode::Gateway);
        assert_eq!(c.sts.timeout, Duration::from_millis(3000));
        assert_eq!(c.listen, "127.0.0.1:9000".parse().expect("addr"));
        assert_eq!(own(&c).security_token, None);
        assert_eq!(
            c.bucket_endpoint,
            stsvend::sign::aliyun::oss::public_endpoint("cn-hangzhou")
        );
    }

    #[test]
    fn the_bucket_endpoint_and_path_style_are_read() {
        let mut vars = minimal();
        vars.insert("BUCKET_ENDPOINT", "http://127.0.0.1:9000".to_owned());
        let c = load(&vars).expect("valid");
        assert_eq!(
            c.bucket_endpoint.object_url("examplebucket", "k"),
            "http://127.0.0.1:9000/examplebucket/k"
        );
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
    #[cfg(debug_assertions)]
    #[should_panic(expected = "not in FUNCTION_VARIABLES")]
    fn a_function_variable_not_kept_at_cold_start_cannot_be_read() {
        let config = load(&minimal()).expect("valid");
        config.read(|env| env.text("PRESIGN_SOMETHING_NEW"));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let mut vars = minimal();
        vars.insert("TOKEN_DURATION_SECONDS", String::new());
        vars.insert("ALIBABA_CLOUD_SECURITY_TOKEN", String::new());
        let c = load(&vars).expect("valid");
        assert_eq!(c.sts.duration_seconds, 900);
        assert_eq!(own(&c).security_token, None);
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
            include_str!("../../../../policies/bucket_read_policy.json"),
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
        assert_eq!(own(&c).access_key_id, "LTAI-test-seed-key");
        assert_eq!(
            c.sts.role_arn.as_deref(),
            Some("acs:ram::1234567890123:role/seed")
        );
        assert_eq!(c.sts.duration_seconds, 1800);
        assert_eq!(c.policy.actions(), ["oss:GetObject", "oss:ListObjects"]);

        vars.insert("TOKEN_DURATION_SECONDS", "3600".to_owned());
        vars.insert("ROLE_ARN", "acs:ram::1234567890123:role/env".to_owned());
        let c = load(&vars).expect("valid");
        assert_eq!(c.sts.duration_seconds, 3600);
        assert_eq!(
            c.sts.role_arn.as_deref(),
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
            ["oss:GetObject", "oss:ListObjects"]
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
