//! Downloads through the CDN in front of the bucket: `"via":"cdn"` on a GET, or any GET of a
//! profile with `cdn = true`. The request passes the checks a bucket GET passes (the key under
//! the caller's prefix, the profile's methods, `expires` capped); the answer has a bucket GET's
//! shape, with a URL the CDN checks instead of the store.
//!
//! Settings (`CDN_DOMAIN`, `CDN_AUTH_TYPE`, `CDN_AUTH_KEY`, `CDN_AUTH_KEY_BACKUP`,
//! `CDN_AUTH_TTL_SECONDS`) are read at cold start, here, because only presign-url signs for
//! the CDN.
//!
//! Alibaba Cloud CDN counts a URL's life from the timestamp in it: the node serves it until
//! timestamp + the validity period configured on the CDN (`CDN_AUTH_TTL_SECONDS` says what it
//! is). The documentation lets the signing server move the timestamp ("`timestamp` = UNIX
//! timestamp + extended period"), so presign-url writes now + `expires` − TTL: the URL lives
//! exactly the `expires` a bucket GET would (type B's minute rounds it down), and
//! `Expiration` says when the CDN stops serving it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use stsvend::sign::aliyun::cdn::{self as aliyun_cdn, AuthType, UrlSigner};
use stsvend::sign::aws::cloudfront::{self, HashAlgorithm, PrivateKey};
use stsvend::sign::{RFC3986_PATH, hex_lower, percent_encode, upstream_origin};
use stsvend::{Error, unix_seconds};
use stsvend_host::config::invalid as config;
use stsvend_host::response::{self, ApiError};
use stsvend_host::{Config, Env};

use crate::answer::{CookiesAnswer, Expiry, Ordered, UrlAnswer};
use crate::request::{Ask, Operation};

/// `CDN_AUTH_TTL_SECONDS` when unset: the console's default validity period, 1800 s.
const DEFAULT_TTL_SECONDS: u64 = 1800;

/// The longest validity period accepted: one year (31,536,000 s).
const MAX_TTL_SECONDS: u64 = 31_536_000;

/// The CDN's variables, checked.
#[derive(Debug, Clone)]
pub(crate) struct CdnSettings {
    signer: CdnSigner,
}

/// Who signs for the CDN, by `CDN_AUTH_TYPE`.
#[derive(Debug, Clone)]
enum CdnSigner {
    /// Alibaba Cloud CDN, type A, B or C, and the validity period configured on the CDN.
    Aliyun { signer: UrlSigner, ttl_seconds: u64 },
    /// Amazon CloudFront: canned-policy URLs and custom-policy cookies for `origin`.
    CloudFront {
        origin: String,
        signer: cloudfront::Signer,
    },
}

/// `CDN_AUTH_TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Aliyun(AuthType),
    CloudFront,
}

/// The largest private key file read: 16 KiB holds any RSA 2048 or P-256 PEM many times over.
const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

impl CdnSettings {
    /// Reads the CDN's variables as `config` found them; `None` when `CDN_DOMAIN` is unset
    /// (then no other `CDN_*` variable may be set).
    pub(crate) fn load(config: &Config) -> Result<Option<Self>, Error> {
        config.read(Self::read)
    }

    fn read(env: &Env<'_>) -> Result<Option<Self>, Error> {
        let Some(domain) = env.text("CDN_DOMAIN") else {
            let mut set = ["CDN_AUTH_TYPE"]
                .iter()
                .chain(&ALIYUN_VARIABLES)
                .chain(&CLOUDFRONT_VARIABLES);
            return match set.find(|name| env.text(name).is_some()) {
                Some(name) => Err(config(name, "is set, but CDN_DOMAIN is not")),
                None => Ok(None),
            };
        };
        let origin = origin(&domain)?;
        let kind = env.choice(
            "CDN_AUTH_TYPE",
            None,
            &[
                ("A", Some(Kind::Aliyun(AuthType::A))),
                ("B", Some(Kind::Aliyun(AuthType::B))),
                ("C", Some(Kind::Aliyun(AuthType::C))),
                ("cloudfront", Some(Kind::CloudFront)),
            ],
        )?;
        let Some(kind) = kind else {
            return Err(config(
                "CDN_AUTH_TYPE",
                "is required with CDN_DOMAIN: A, B or C (Alibaba Cloud CDN's URL signing types) or cloudfront",
            ));
        };
        let (unused, signer) = match kind {
            Kind::Aliyun(auth) => (&CLOUDFRONT_VARIABLES, aliyun(env, auth, &origin)?),
            Kind::CloudFront => (&ALIYUN_VARIABLES, cloudfront(env, origin)?),
        };
        if let Some(name) = unused.iter().find(|name| env.text(name).is_some()) {
            return Err(config(
                name,
                "does not apply to this CDN_AUTH_TYPE (CDN_AUTH_* are Alibaba Cloud CDN's, CLOUDFRONT_* CloudFront's)",
            ));
        }
        Ok(Some(Self { signer }))
    }
}

/// Alibaba Cloud CDN's settings: the primary and backup keys, the validity period.
fn aliyun(env: &Env<'_>, auth: AuthType, origin: &str) -> Result<CdnSigner, Error> {
    let key = private_key(env, "CDN_AUTH_KEY")?
        .ok_or_else(|| config("CDN_AUTH_KEY", "is required with CDN_AUTH_TYPE A, B or C"))?;
    if let Some(backup) = private_key(env, "CDN_AUTH_KEY_BACKUP")?
        && backup == key
    {
        return Err(config(
            "CDN_AUTH_KEY_BACKUP",
            "is the same as CDN_AUTH_KEY; a backup key is the other key of a rotation",
        ));
    }
    let ttl_seconds = env.number(
        "CDN_AUTH_TTL_SECONDS",
        DEFAULT_TTL_SECONDS,
        1..=MAX_TTL_SECONDS,
        "a whole number of seconds from 1 to 31536000 (one year)",
    )?;
    Ok(CdnSigner::Aliyun {
        signer: UrlSigner::new(auth, origin, key),
        ttl_seconds,
    })
}

/// CloudFront's settings: the key pair ID, the private key (read from its file now, so that a
/// bad key stops cold start), the hash.
fn cloudfront(env: &Env<'_>, origin: String) -> Result<CdnSigner, Error> {
    let id = env.required(
        "CLOUDFRONT_KEY_PAIR_ID",
        "is required with CDN_AUTH_TYPE=cloudfront: the ID of the public key in the distribution's trusted key group (K2JCJMDEHXQW5F)",
    )?;
    if !(1..=64).contains(&id.len())
        || !id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(config(
            "CLOUDFRONT_KEY_PAIR_ID",
            format!(
                "{id:?} is not a CloudFront public key ID (1 to 64 upper-case letters and digits)"
            ),
        ));
    }
    let path = env.required(
        "CLOUDFRONT_PRIVATE_KEY_FILE",
        "is required with CDN_AUTH_TYPE=cloudfront: a PEM file holding the key pair's private key",
    )?;
    let key = read_private_key(&path)?;
    let hash = env.choice(
        "CLOUDFRONT_HASH_ALGORITHM",
        HashAlgorithm::Sha1,
        &[
            ("SHA1", HashAlgorithm::Sha1),
            ("SHA256", HashAlgorithm::Sha256),
        ],
    )?;
    Ok(CdnSigner::CloudFront {
        origin,
        signer: cloudfront::Signer::new(&id, key, hash),
    })
}

/// `CLOUDFRONT_PRIVATE_KEY_FILE`'s key; an error names the file, never its content.
fn read_private_key(path: &str) -> Result<PrivateKey, Error> {
    let name = "CLOUDFRONT_PRIVATE_KEY_FILE";
    let too_big = std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_KEY_FILE_BYTES);
    if too_big {
        return Err(config(
            name,
            format!("{path:?} is over 16 KiB; it is not one private key"),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| config(name, format!("{path:?} cannot be read: {e}")))?;
    PrivateKey::from_pem(&text).map_err(|reason| config(name, format!("{path:?} {reason}")))
}

/// Alibaba Cloud CDN's variables.
const ALIYUN_VARIABLES: [&str; 3] = [
    "CDN_AUTH_KEY",
    "CDN_AUTH_KEY_BACKUP",
    "CDN_AUTH_TTL_SECONDS",
];

/// CloudFront's variables.
const CLOUDFRONT_VARIABLES: [&str; 3] = [
    "CLOUDFRONT_KEY_PAIR_ID",
    "CLOUDFRONT_PRIVATE_KEY_FILE",
    "CLOUDFRONT_HASH_ALGORITHM",
];

/// `CDN_DOMAIN`: `https://host[:port]` (plain `http://` only for a local stand-in), no path,
/// query, fragment or user information, the host made of letters, digits, `.`, `-` (and an
/// IPv6 literal's `[`, `:`, `]`), so that nothing in it can change what the URL names.
fn origin(domain: &str) -> Result<String, Error> {
    let (scheme, host) = upstream_origin(domain).map_err(|reason| config("CDN_DOMAIN", reason))?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b".-:[]".contains(&b);
    if !host.bytes().all(allowed) {
        return Err(config(
            "CDN_DOMAIN",
            format!("{domain:?} must name a host of letters, digits, '.' and '-' (and a port)"),
        ));
    }
    Ok(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// An Alibaba Cloud CDN key variable, when set.
fn private_key(env: &Env<'_>, name: &'static str) -> Result<Option<aliyun_cdn::PrivateKey>, Error> {
    env.text(name)
        .map(|text| aliyun_cdn::PrivateKey::parse(&text).map_err(|reason| config(name, reason)))
        .transpose()
}

/// The CDN that answers this request, if one does: `"via":"cdn"` (on a deployment with
/// `CDN_DOMAIN`, `cdn`), or a GET of a profile with `cdn = true`. A CDN URL is a plain GET of
/// the object: what it cannot carry is refused, not dropped.
pub(crate) fn applies<'a>(
    ask: &Ask,
    profile_cdn: bool,
    cdn: Option<&'a CdnSettings>,
) -> Result<Option<&'a CdnSettings>, ApiError> {
    let is_get = matches!(ask.operation, Operation::Get | Operation::Cookies);
    let through_cdn = ask.via_cdn || (profile_cdn && is_get) || ask.operation == Operation::Cookies;
    if !through_cdn {
        return Ok(None);
    }
    let cdn = cdn.ok_or_else(not_configured)?;
    if !is_get {
        return Err(ApiError::bad_request(
            "FieldNotApplicable",
            "via: cdn signs downloads only (method GET of one key); uploads, listings and other methods go to the bucket",
        ));
    }
    check_fields(ask)?;
    Ok(Some(cdn))
}

/// The GET-only fields a CDN URL cannot pass on, refused with the reason.
fn check_fields(ask: &Ask) -> Result<(), ApiError> {
    let field = |parameter: &str| match parameter {
        "response-content-type" => "responseContentType",
        "response-content-disposition" => "responseContentDisposition",
        _ => "process",
    };
    match ask.overrides.first() {
        None => Ok(()),
        Some((parameter, _)) => Err(ApiError::bad_request(
            "FieldNotApplicable",
            format!(
                "{} is for bucket URLs only: the CDN caches one copy of each file and signs its path, so it does not pass a download name, type or processing on to the store",
                field(parameter)
            ),
        )),
    }
}

/// `CdnNotConfigured`: a CDN download asked of a deployment without `CDN_DOMAIN`.
fn not_configured() -> ApiError {
    ApiError::bad_request(
        "CdnNotConfigured",
        "this deployment signs no CDN URLs (CDN_DOMAIN is unset); ask without via",
    )
}

impl CdnSettings {
    /// The signed CDN URL of `key`, valid for `expiry` from `now` (shortened to what the CDN
    /// will count), as a bucket GET's answer. `random` is 32 fresh random bytes (type A's
    /// `rand` is the first 16; CloudFront's RSA blinding is seeded with them all).
    pub(crate) fn answer(
        &self,
        key: &str,
        now: SystemTime,
        expiry: Expiry,
        random: [u8; 32],
        profile: &str,
    ) -> Result<Response<Body>, ApiError> {
        let (url, expiry) = match &self.signer {
            CdnSigner::Aliyun {
                signer,
                ttl_seconds,
            } => {
                let (timestamp, expiry) =
                    aliyun_timestamp(signer.auth(), *ttl_seconds, now, expiry)?;
                (
                    signer.sign(key, timestamp, &hex_lower(&random[..16])),
                    expiry,
                )
            }
            CdnSigner::CloudFront { origin, signer } => {
                let url = format!("{origin}/{}", percent_encode(key, RFC3986_PATH));
                let expires = unix_seconds(now) + expiry.expires_in;
                let signed = signer
                    .canned_url(&url, expires, random)
                    .map_err(signing_failed)?;
                (signed, expiry)
            }
        };
        let answer = UrlAnswer {
            headers: Some(Ordered(&[])),
            ..UrlAnswer::new("GET", url, now, expiry, profile)
        };
        Ok(response::json(StatusCode::OK, &answer))
    }
}

impl CdnSettings {
    /// CloudFront cookies for everything under `prefix`: a custom policy whose resource is
    /// `https://CDN/<prefix, percent-encoded>*`. Encoded, a `*` or `?` in the prefix is `%2A`
    /// or `%3F`, never a wildcard. Alibaba Cloud CDN has no cookies: `FieldNotApplicable`.
    pub(crate) fn cookies(
        &self,
        prefix: &str,
        now: SystemTime,
        expiry: Expiry,
        random: [u8; 32],
        profile: &str,
    ) -> Result<Response<Body>, ApiError> {
        let CdnSigner::CloudFront { origin, signer } = &self.signer else {
            return Err(ApiError::bad_request(
                "FieldNotApplicable",
                "cookies are CloudFront's signed cookies (CDN_AUTH_TYPE=cloudfront); Alibaba Cloud CDN signs each URL: ask via: cdn per key",
            ));
        };
        let resource = format!("{origin}/{}*", percent_encode(prefix, RFC3986_PATH));
        let expires = unix_seconds(now) + expiry.expires_in;
        let signed = signer
            .cookies(&resource, expires, random)
            .map_err(signing_failed)?;
        let mut cookies = vec![
            ("CloudFront-Policy".to_owned(), signed.policy),
            ("CloudFront-Signature".to_owned(), signed.signature),
            ("CloudFront-Key-Pair-Id".to_owned(), signed.key_pair_id),
        ];
        if let Some(hash) = signed.hash_algorithm {
            cookies.push(("CloudFront-Hash-Algorithm".to_owned(), hash.to_owned()));
        }
        let answer = CookiesAnswer::new(&cookies, &resource, now, expiry, profile);
        Ok(response::json(StatusCode::OK, &answer))
    }
}

/// A signing failure: the key could not sign (never expected of a key checked at cold start).
fn signing_failed(reason: &'static str) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", reason)
}

/// The timestamp to write so that the CDN serves the URL for `expiry` from `now`
/// (`timestamp` + TTL = now + expires), and the life the CDN will then count: type B writes
/// minutes, which can shorten it by up to 59 s; a life of under a second is refused.
fn aliyun_timestamp(
    auth: AuthType,
    ttl_seconds: u64,
    now: SystemTime,
    expiry: Expiry,
) -> Result<(SystemTime, Expiry), ApiError> {
    // Whole seconds, as the URL writes them: a URL signed at 10.5 s for 600 s ends at 610 s.
    let now = UNIX_EPOCH + Duration::from_secs(unix_seconds(now));
    let ends = now + Duration::from_secs(expiry.expires_in);
    let timestamp = ends
        .checked_sub(Duration::from_secs(ttl_seconds))
        .unwrap_or(UNIX_EPOCH);
    let written = auth.written(timestamp);
    let served_until = written + Duration::from_secs(ttl_seconds);
    let expires_in = served_until.duration_since(now).map_or(0, |d| d.as_secs());
    if expires_in == 0 {
        return Err(ApiError::bad_request(
            "InvalidExpires",
            "CDN_AUTH_TYPE B writes whole minutes; ask expires of at least 60 seconds",
        ));
    }
    Ok((
        written,
        Expiry {
            expires_in,
            capped_by: expiry.capped_by,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<CdnSettings>, Error> {
        let vars: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let lookup = |name: &str| vars.get(name).cloned();
        CdnSettings::read(&Env::new(&lookup))
    }

    fn refusal(vars: &[(&str, &str)]) -> String {
        match read(vars) {
            Err(Error::Config { variable, reason }) => format!("{variable}: {reason}"),
            other => panic!("{vars:?} was not refused: {other:?}"),
        }
    }

    const KEY: (&str, &str) = ("CDN_AUTH_KEY", "aliyuncdnexp1234");

    #[test]
    fn every_bad_cdn_setting_stops_cold_start_naming_its_variable() {
        let domain = |d| ("CDN_DOMAIN", d);
        let a = ("CDN_AUTH_TYPE", "A");
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![a, KEY], "CDN_AUTH_TYPE: is set, but CDN_DOMAIN is not"),
            (
                vec![domain("https://cdn.example.com")],
                "CDN_AUTH_TYPE: is required",
            ),
            (
                vec![
                    domain("https://cdn.example.com"),
                    ("CDN_AUTH_TYPE", "a"),
                    KEY,
                ],
                "CDN_AUTH_TYPE",
            ),
            (
                vec![
                    domain("https://cdn.example.com"),
                    ("CDN_AUTH_TYPE", "D"),
                    KEY,
                ],
                "CDN_AUTH_TYPE",
            ),
            (
                vec![domain("https://cdn.example.com"), a],
                "CDN_AUTH_KEY: is required",
            ),
            (
                vec![domain("https://cdn.example.com"), a, ("CDN_AUTH_KEY", "sh")],
                "CDN_AUTH_KEY: must be",
            ),
            (
                vec![
                    domain("https://cdn.example.com"),
                    a,
                    ("CDN_AUTH_KEY", "key with spaces!"),
                ],
                "CDN_AUTH_KEY",
            ),
            (
                vec![
                    domain("https://cdn.example.com"),
                    a,
                    KEY,
                    ("CDN_AUTH_KEY_BACKUP", "aliyuncdnexp1234"),
                ],
                "CDN_AUTH_KEY_BACKUP: is the same",
            ),
            (
                vec![
                    domain("https://cdn.example.com"),
                    a,
                    KEY,
                    ("CDN_AUTH_KEY_BACKUP", "x"),
                ],
                "CDN_AUTH_KEY_BACKUP: must be",
            ),
            (
                vec![
                    domain("https://cdn.example.com"),
                    a,
                    KEY,
                    ("CDN_AUTH_TTL_SECONDS", "0"),
                ],
                "CDN_AUTH_TTL_SECONDS",
            ),
            (
                vec![
                    domain("https://cdn.example.com"),
                    a,
                    KEY,
                    ("CDN_AUTH_TTL_SECONDS", "-5"),
                ],
                "CDN_AUTH_TTL_SECONDS",
            ),
            (
                vec![domain("cdn.example.com"), a, KEY],
                "CDN_DOMAIN: \"cdn.example.com\" must start with https://",
            ),
            (
                vec![domain("https://cdn.example.com/files"), a, KEY],
                "CDN_DOMAIN",
            ),
            (
                vec![domain("https://cdn.example.com?x=1"), a, KEY],
                "CDN_DOMAIN",
            ),
            (
                vec![domain("https://cdn.example.com#f"), a, KEY],
                "CDN_DOMAIN",
            ),
            (
                vec![domain("https://user:pw@cdn.example.com"), a, KEY],
                "CDN_DOMAIN",
            ),
            (
                vec![domain("http://cdn.example.com"), a, KEY],
                "CDN_DOMAIN: \"http://cdn.example.com\" must be https://",
            ),
            (
                vec![domain("https://cdn.exa\tmple.com"), a, KEY],
                "CDN_DOMAIN",
            ),
            (
                vec![domain("https://cdn.example.com\\evil"), a, KEY],
                "CDN_DOMAIN",
            ),
        ];
        for (vars, expected) in cases {
            let refused = refusal(&vars);
            assert!(refused.starts_with(expected), "{vars:?}: {refused}");
            assert!(
                !refused.contains("aliyuncdnexp1234"),
                "a key in an error: {refused}"
            );
        }
    }

    #[test]
    fn good_settings_read_and_keys_stay_hidden() {
        assert!(read(&[]).expect("no CDN").is_none());
        let settings = read(&[
            ("CDN_DOMAIN", "https://CDN.example.com/"),
            ("CDN_AUTH_TYPE", "B"),
            KEY,
            ("CDN_AUTH_KEY_BACKUP", "aliyuncdnexp5678"),
        ])
        .expect("good")
        .expect("a CDN");
        let shown = format!("{settings:?}");
        assert!(shown.contains("https://cdn.example.com") && shown.contains("ttl_seconds: 1800"));
        assert!(!shown.contains("aliyuncdnexp"), "{shown}");
        let local = read(&[
            ("CDN_DOMAIN", "http://127.0.0.1:8080"),
            ("CDN_AUTH_TYPE", "C"),
            KEY,
        ]);
        assert!(local.expect("a loopback stand-in").is_some());
    }

    #[test]
    fn the_timestamp_makes_the_cdn_serve_exactly_expires() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_337_590);
        let expiry = |expires_in| Expiry {
            expires_in,
            capped_by: None,
        };
        let (a, life) = aliyun_timestamp(AuthType::A, 1800, now, expiry(900)).expect("A");
        assert_eq!(
            a,
            UNIX_EPOCH + Duration::from_secs(1_795_337_590 + 900 - 1800)
        );
        assert_eq!(life.expires_in, 900);
        let (c, life) = aliyun_timestamp(AuthType::C, 600, now, expiry(3600)).expect("C");
        assert_eq!(c, UNIX_EPOCH + Duration::from_secs(1_795_337_590 + 3000));
        assert_eq!(life.expires_in, 3600);
        // 1_795_336_690 is 10 s past a minute: type B loses them.
        let (b, life) = aliyun_timestamp(AuthType::B, 1800, now, expiry(900)).expect("B");
        assert_eq!(b, UNIX_EPOCH + Duration::from_secs(1_795_336_680));
        assert_eq!(life.expires_in, 890);
        let refused = aliyun_timestamp(AuthType::B, 1800, now, expiry(5)).expect_err("B, 5 s");
        assert_eq!(refused.code, "InvalidExpires");
    }
}
