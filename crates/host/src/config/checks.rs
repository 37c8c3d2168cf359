//! The shapes configuration values must have: bucket names, regions, role ARNs, origins,
//! durations, the listen address and the JWT settings.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::config::env::{Env, config};
use stsvend::{Error, JwtSettings, Provider, jwt::Expectations};

/// `AUTH_MODE=jwt`: a key source (`JWT_JWKS_FILE`, `JWT_JWKS_URL` or `JWT_HS256_SECRET`),
/// and the issuer and audience every token must name.
pub(crate) fn jwt_settings(env: &Env<'_>) -> Result<JwtSettings, Error> {
    let jwks_file = env.text("JWT_JWKS_FILE");
    let jwks_url = env.text("JWT_JWKS_URL");
    let hs256_secret = env.text("JWT_HS256_SECRET");
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
            issuer: env
                .text("JWT_ISSUER")
                .ok_or_else(|| config("JWT_ISSUER", "is required with AUTH_MODE=jwt"))?,
            audience: env
                .text("JWT_AUDIENCE")
                .ok_or_else(|| config("JWT_AUDIENCE", "is required with AUTH_MODE=jwt"))?,
        },
        jwks_file,
        jwks_url,
        hs256_secret,
    })
}

/// `*`, or origins `scheme://host[:port]` with no path.
pub(crate) fn parse_origins(list: &str) -> Result<Vec<String>, Error> {
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

pub(crate) fn parse_duration_seconds(variable: &'static str, value: &str) -> Result<u32, Error> {
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

pub(crate) fn check_role_arn(provider: Provider, arn: &str) -> Result<(), Error> {
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
pub(crate) fn check_bucket(provider: Provider, bucket: &str) -> Result<(), Error> {
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

pub(crate) fn check_region(variable: &'static str, region: &str) -> Result<(), Error> {
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

pub(crate) fn listen_address(env: &Env<'_>) -> Result<SocketAddr, Error> {
    let ip = match env.text("BIND") {
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(v) => v
            .parse()
            .map_err(|_| config("BIND", format!("{v:?} is not an IP address")))?,
    };
    let (variable, port) = match (env.text("PORT"), env.text("FC_SERVER_PORT")) {
        (Some(p), _) => ("PORT", p),
        (None, Some(p)) => ("FC_SERVER_PORT", p),
        (None, None) => ("PORT", "9000".to_owned()),
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| config(variable, format!("{port:?} is not a port number")))?;
    Ok(SocketAddr::new(ip, port))
}
