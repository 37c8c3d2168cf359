//! `QUOTA_STORE`: where the counts live, parsed and checked at cold start without I/O.
//!
//! The forms are `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS),
//! `dynamodb:TABLE` and `sqlite:PATH`. No error repeats the value: a Redis URL carries a
//! password, so each message names the part that is wrong instead.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

/// Why a `QUOTA_STORE` value was refused at cold start. The text names no password.
#[derive(Debug, thiserror::Error)]
#[error("QUOTA_STORE: {0}")]
pub struct StoreUrlError(pub String);

/// Where the counts live, parsed from `QUOTA_STORE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…`.
    Redis(RedisUrl),
    /// `dynamodb:TABLE`, with `QUOTA_STORE_ENDPOINT` as an optional endpoint override.
    DynamoDb {
        /// The table's name.
        table: String,
    },
    /// `sqlite:PATH`.
    Sqlite(PathBuf),
}

/// A Redis address, its credentials and database. `Debug` and `Display` never show the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// `rediss://`: TLS, the server's certificate checked against the web's roots.
    pub tls: bool,
    /// The host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// The port (6379 when the URL names none).
    pub port: u16,
    /// The ACL user (`AUTH user password`); `None` is the default user.
    pub user: Option<String>,
    /// The password (`AUTH`), percent-decoded.
    pub password: Option<String>,
    /// The database `SELECT`ed after connecting (0 when the URL names none).
    pub db: u32,
}

impl std::fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let user = self.user.as_deref().unwrap_or("");
        let secret = if self.password.is_some() { ":***" } else { "" };
        let at = if self.user.is_some() || self.password.is_some() {
            "@"
        } else {
            ""
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "{scheme}://{user}{secret}{at}{host}:{}/{}",
            self.port, self.db
        )
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// The port a Redis URL without one means.
const REDIS_DEFAULT_PORT: u16 = 6379;

impl StoreUrl {
    /// Parses and checks a `QUOTA_STORE` value (no I/O).
    pub fn parse(value: &str) -> Result<Self, StoreUrlError> {
        if let Some(rest) = value.strip_prefix("redis://") {
            return parse_redis(rest, false).map(Self::Redis);
        }
        if let Some(rest) = value.strip_prefix("rediss://") {
            return parse_redis(rest, true).map(Self::Redis);
        }
        if let Some(table) = value.strip_prefix("dynamodb:") {
            return parse_table(table).map(|table| Self::DynamoDb { table });
        }
        if let Some(path) = value.strip_prefix("sqlite:") {
            return parse_sqlite(path).map(Self::Sqlite);
        }
        Err(refused(
            "expected redis://[user:password@]host:port[/db], rediss://…, dynamodb:TABLE or sqlite:PATH",
        ))
    }
}

fn refused(reason: &str) -> StoreUrlError {
    StoreUrlError(reason.to_owned())
}

/// `[user[:password]@]host[:port][/db]`, after the scheme.
fn parse_redis(rest: &str, tls: bool) -> Result<RedisUrl, StoreUrlError> {
    if rest.contains(['?', '#']) {
        return Err(refused(
            "a Redis URL takes no query or fragment: put the database in the path (/db)",
        ));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let (user, password) = parse_userinfo(userinfo)?;
    let (host, port) = parse_host_port(host_port)?;
    let db = parse_db(path)?;
    Ok(RedisUrl {
        tls,
        host,
        port,
        user,
        password,
        db,
    })
}

/// `user:password`, `:password` or `user`, each percent-decoded.
fn parse_userinfo(
    userinfo: Option<&str>,
) -> Result<(Option<String>, Option<String>), StoreUrlError> {
    let Some(userinfo) = userinfo else {
        return Ok((None, None));
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let user = decode(user, "the user")?.filter(|u| !u.is_empty());
    let password = match password {
        Some(p) => decode(p, "the password")?.filter(|p| !p.is_empty()),
        None => None,
    };
    if user.is_some() && password.is_none() {
        return Err(refused("a Redis user needs a password (user:password@)"));
    }
    Ok((user, password))
}

/// Percent-decodes a URL part into UTF-8 text; `what` names the part in the error.
fn decode(part: &str, what: &str) -> Result<Option<String>, StoreUrlError> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|text| Some(text.into_owned()))
        .map_err(|_| StoreUrlError(format!("{what} in the Redis URL is not UTF-8 once decoded")))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn parse_host_port(host_port: &str) -> Result<(String, u16), StoreUrlError> {
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| refused("an IPv6 host in the Redis URL needs its closing ']'"))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| {
                refused("after an IPv6 host ']' the Redis URL allows only ':port'")
            })?),
        };
        (host, port)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(refused("the Redis URL names no host"));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
    {
        return Err(refused(
            "the Redis host may hold only letters, digits, '-', '.', '_' (or an IPv6 address in [])",
        ));
    }
    let port = match port {
        None => REDIS_DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| refused("the Redis port is not a number from 1 to 65535"))?,
    };
    Ok((host.to_owned(), port))
}

/// The path after the authority: empty, or the database number.
fn parse_db(path: &str) -> Result<u32, StoreUrlError> {
    if path.is_empty() {
        return Ok(0);
    }
    if !path.bytes().all(|b| b.is_ascii_digit()) || path.len() > 9 {
        return Err(refused(
            "the Redis URL's path is the database number (/0 to /999999999)",
        ));
    }
    path.parse()
        .map_err(|_| refused("the Redis database is not a number"))
}

/// A DynamoDB table name: 3 to 255 of `a-z A-Z 0-9 _ - .`.
///
/// # Reference
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html>
fn parse_table(table: &str) -> Result<String, StoreUrlError> {
    let valid_chars = table
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if !(3..=255).contains(&table.len()) || !valid_chars {
        return Err(refused(
            "a DynamoDB table name is 3 to 255 of a-z, A-Z, 0-9, '_', '-', '.' (dynamodb:TABLE)",
        ));
    }
    Ok(table.to_owned())
}

/// A file path (relative to the working directory, or absolute).
fn parse_sqlite(path: &str) -> Result<PathBuf, StoreUrlError> {
    if path.is_empty() || path.contains('\0') {
        return Err(refused("sqlite:PATH names no file"));
    }
    if path.ends_with('/') {
        return Err(refused("sqlite:PATH names a directory, not a file"));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis(value: &str) -> RedisUrl {
        match StoreUrl::parse(value) {
            Ok(StoreUrl::Redis(url)) => url,
            other => panic!("{value}: {other:?}"),
        }
    }

    fn refusal(value: &str) -> String {
        match StoreUrl::parse(value) {
            Err(e) => e.to_string(),
            Ok(url) => panic!("{value} was accepted as {url:?}"),
        }
    }

    #[test]
    fn a_bare_redis_url_means_port_6379_database_0_no_auth() {
        let url = redis("redis://cache.internal");
        assert_eq!(
            url,
            RedisUrl {
                tls: false,
                host: "cache.internal".into(),
                port: 6379,
                user: None,
                password: None,
                db: 0
            }
        );
    }

    #[test]
    fn user_password_port_and_database_are_read_and_decoded() {
        let url = redis("rediss://app:p%40ss%3Aw0rd@10.0.0.5:6380/3");
        assert!(url.tls);
        assert_eq!(url.host, "10.0.0.5");
        assert_eq!(url.port, 6380);
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("p@ss:w0rd"));
        assert_eq!(url.db, 3);
    }

    #[test]
    fn a_password_alone_authenticates_the_default_user() {
        let url = redis("redis://:secret@h:1/");
        assert_eq!(url.user, None);
        assert_eq!(url.password.as_deref(), Some("secret"));
        assert_eq!(url.db, 0);
    }

    #[test]
    fn an_ipv6_host_is_read_from_its_brackets() {
        let url = redis("redis://[::1]:7000");
        assert_eq!((url.host.as_str(), url.port), ("::1", 7000));
        assert_eq!(url.to_string(), "redis://[::1]:7000/0");
    }

    #[test]
    fn the_password_never_shows_in_debug_display_or_errors() {
        let url = redis("redis://u:hunter2@h:1/2");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!url.to_string().contains("hunter2"));
        assert!(!format!("{:?}", StoreUrl::Redis(url)).contains("hunter2"));
        for bad in [
            "redis://u:hunter2@h:99999",
            "redis://u:hunter2@h:1/x",
            "redis://u:hunter2@/0",
            "redis://u:hunter2@h:1?db=2",
            "redis://u:hunter2%FF@h:1",
            "rediss://u:hunter2@h h:1",
        ] {
            let message = refusal(bad);
            assert!(message.starts_with("QUOTA_STORE: "), "{message}");
            assert!(!message.contains("hunter2"), "{bad}: {message}");
        }
    }

    #[test]
    fn bad_redis_urls_are_refused_naming_the_part() {
        assert!(refusal("redis://h:0").contains("port"));
        assert!(refusal("redis://h:").contains("port"));
        assert!(refusal("redis://").contains("no host"));
        assert!(refusal("redis://h/db1").contains("database"));
        assert!(refusal("redis://[::1").contains("']'"));
        assert!(refusal("redis://user@h").contains("password"));
        assert!(refusal("redis://h/1234567890").contains("database"));
    }

    #[test]
    fn dynamodb_and_sqlite_forms_are_read() {
        assert_eq!(
            StoreUrl::parse("dynamodb:stsvend-quota").ok(),
            Some(StoreUrl::DynamoDb {
                table: "stsvend-quota".into()
            })
        );
        assert_eq!(
            StoreUrl::parse("sqlite:/var/lib/stsvend/quota.db").ok(),
            Some(StoreUrl::Sqlite("/var/lib/stsvend/quota.db".into()))
        );
        assert_eq!(
            StoreUrl::parse("sqlite:quota.db").ok(),
            Some(StoreUrl::Sqlite("quota.db".into()))
        );
    }

    #[test]
    fn bad_tables_paths_and_schemes_are_refused() {
        assert!(refusal("dynamodb:ab").contains("table name"));
        assert!(refusal("dynamodb:a/b/c").contains("table name"));
        assert!(refusal(&format!("dynamodb:{}", "a".repeat(256))).contains("table name"));
        assert!(refusal("sqlite:").contains("no file"));
        assert!(refusal("sqlite:/tmp/").contains("directory"));
        assert!(refusal("memcached://h:1").contains("expected"));
        assert!(refusal("REDIS://h:1").contains("expected"));
        assert!(refusal("").contains("expected"));
    }
}
