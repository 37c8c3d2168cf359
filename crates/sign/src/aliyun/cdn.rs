//! Alibaba Cloud CDN (and DCDN) URL signing, types A, B and C: the signed download URL a CDN
//! node checks against its private key before it serves a file.
//!
//! Every type hashes the URL's path as it is sent: the object key percent-encoded (RFC 3986,
//! `/` kept, upper-case hex), because the documentation asks for URLs to be encoded before they
//! are signed ("If a URL contains Chinese characters, encode the URL by using the UrlEncode()
//! function before you run the code for URL signing") and the node compares the path it
//! receives. A key holding `?`, `#`, `%`, a space or any non-ASCII byte is therefore signed
//! (and sent) as its `%XX` escapes, never as the raw byte.
//!
//! The `timestamp` each type carries is when the node starts counting: it serves the URL until
//! `timestamp` + the validity period configured on the CDN. The documentation lets the signing
//! server move it ("`timestamp` = UNIX timestamp + extended period"); [`UrlSigner::sign`]
//! takes the instant to write, and the caller chooses it.
//!
//! # Reference
//! - Type A: <https://help.aliyun.com/document_detail/85113.html>
//!   (<https://www.alibabacloud.com/help/en/cdn/user-guide/type-a-signing>)
//! - Type B: <https://help.aliyun.com/en/cdn/user-guide/type-b-signing>
//! - Type C: <https://alibabacloud.com/help/en/doc-detail/119860.html>
//!   (DCDN; the CDN page says the same)
//! - The Python examples: <https://www.alibabacloud.com/help/doc-detail/85116.html>

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use md5::{Digest as _, Md5};

use crate::encode::{RFC3986_PATH, hex_lower, percent_encode_into};
use crate::time::format_utc8_minutes;

/// The three URL signing types of Alibaba Cloud CDN that stsvend writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// `?auth_key=<timestamp>-<rand>-<uid>-<md5hash>`.
    A,
    /// `/<YYYYMMDDHHMM>/<md5hash>/path`, the time in UTC+8.
    B,
    /// `/<md5hash>/<hex timestamp>/path`.
    C,
}

impl AuthType {
    /// The instant the node will read from a URL signed at `timestamp`: type B writes whole
    /// minutes, so its seconds are dropped; A and C write whole seconds.
    pub fn written(self, timestamp: SystemTime) -> SystemTime {
        let secs = timestamp
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let secs = match self {
            Self::B => secs - secs % 60,
            Self::A | Self::C => secs,
        };
        UNIX_EPOCH + Duration::from_secs(secs)
    }
}

/// The CDN's private key (the "PrivateKey" of the console's URL signing). `Debug` hides it.
#[derive(Clone)]
pub struct PrivateKey(String);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl PrivateKey {
    /// Reads a key as the console accepts one: 6 to 32 letters and digits (the documentation
    /// asks 16 to 32 for types C and F; its own example key, `aliyuncdnexp1234`, has 16).
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if !(6..=32).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("must be 6 to 32 letters and digits, as the CDN console accepts");
        }
        Ok(Self(text.to_owned()))
    }

    /// The key's text, for the hash.
    fn text(&self) -> &str {
        &self.0
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

/// The URL path of an object key, as the node receives it and every type hashes it: `/` and
/// the key percent-encoded (RFC 3986 unreserved and `/` kept, upper-case hex).
///
/// # Format
/// ```text
/// "/" UriEncode(key, keep "/")
/// ```
pub fn object_path(key: &str) -> String {
    let mut path = String::with_capacity(key.len() + key.len() / 4 + 8);
    path.push('/');
    percent_encode_into(&mut path, key, RFC3986_PATH);
    path
}

/// Lower-case hex MD5 of `parts` concatenated.
fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex_lower(&hasher.finalize())
}

/// Type A's `md5hash`.
///
/// # Format
/// ```text
/// md5hex(URI "-" timestamp "-" rand "-" uid "-" PrivateKey)
/// ```
/// `URI` is the path without its query, `timestamp` decimal Unix seconds.
pub fn type_a_hash(path: &str, timestamp: u64, rand: &str, uid: &str, key: &str) -> String {
    let timestamp = timestamp.to_string();
    md5_hex(&[path, "-", &timestamp, "-", rand, "-", uid, "-", key])
}

/// Type B's `md5hash`.
///
/// # Format
/// ```text
/// md5hex(PrivateKey timestamp Path)      timestamp = YYYYMMDDHHMM in UTC+8
/// ```
pub fn type_b_hash(key: &str, timestamp: &str, path: &str) -> String {
    md5_hex(&[key, timestamp, path])
}

/// Type C's `md5hash`.
///
/// # Format
/// ```text
/// md5hex(PrivateKey FileName timestamp)  timestamp = Unix seconds in hexadecimal
/// ```
pub fn type_c_hash(key: &str, path: &str, hex_timestamp: &str) -> String {
    md5_hex(&[key, path, hex_timestamp])
}

/// Type B's timestamp: the minute in UTC+8.
///
/// # Format
/// `YYYYMMDDHHMM`, e.g. `201508150800` for 2015-08-15T00:00:00Z.
pub fn type_b_timestamp(t: SystemTime) -> String {
    format_utc8_minutes(t)
}

/// Type C's timestamp: Unix seconds in upper-case hexadecimal, as the documentation's example
/// writes it (`55CE8100`); the node hashes the text it receives, so the case is the writer's.
pub fn type_c_timestamp(t: SystemTime) -> String {
    format!(
        "{:X}",
        t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    )
}

/// Signs download URLs for one CDN domain with one type and key.
#[derive(Debug, Clone)]
pub struct UrlSigner {
    auth: AuthType,
    /// `https://cdn.example.com`, no path and no trailing `/`.
    origin: String,
    key: PrivateKey,
}

impl UrlSigner {
    /// A signer for `origin` (`scheme://host[:port]`, checked by the caller; a trailing `/`
    /// is dropped).
    pub fn new(auth: AuthType, origin: &str, key: PrivateKey) -> Self {
        Self {
            auth,
            origin: origin.trim_end_matches('/').to_owned(),
            key,
        }
    }

    /// The signing type.
    pub fn auth(&self) -> AuthType {
        self.auth
    }

    /// The signed URL of `object_key`, the node counting from `timestamp`. `rand` is type A's
    /// random value (the documentation recommends a UUID without hyphens: 32 hex digits, which
    /// the caller draws; this crate draws nothing); the other types ignore it. Type A's `uid` is `0`, as the documentation says.
    ///
    /// # Format
    /// ```text
    /// A: origin path "?auth_key=" timestamp "-" rand "-0-" md5hash
    /// B: origin "/" YYYYMMDDHHMM "/" md5hash path
    /// C: origin "/" md5hash "/" HEX path
    /// ```
    pub fn sign(&self, object_key: &str, timestamp: SystemTime, rand: &str) -> String {
        let path = object_path(object_key);
        let key = self.key.text();
        let origin = &self.origin;
        match self.auth {
            AuthType::A => {
                let secs = timestamp
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let hash = type_a_hash(&path, secs, rand, "0", key);
                format!("{origin}{path}?auth_key={secs}-{rand}-0-{hash}")
            }
            AuthType::B => {
                let written = type_b_timestamp(timestamp);
                let hash = type_b_hash(key, &written, &path);
                format!("{origin}/{written}/{hash}{path}")
            }
            AuthType::C => {
                let written = type_c_timestamp(timestamp);
                let hash = type_c_hash(key, &path, &written);
                format!("{origin}/{hash}/{written}{path}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_the_console_would_refuse_are_refused() {
        for bad in [
            "",
            "short",
            "with space in it",
            "ünïcödekey12",
            &"k".repeat(33),
        ] {
            assert!(PrivateKey::parse(bad).is_err(), "{bad:?}");
        }
        let key = PrivateKey::parse("aliyuncdnexp1234").expect("the documentation's key");
        assert_eq!(format!("{key:?}"), "PrivateKey(<redacted>)");
    }

    #[test]
    fn paths_are_encoded_as_sent() {
        assert_eq!(object_path("a/b c.txt"), "/a/b%20c.txt");
        assert_eq!(object_path("a/%2F?#"), "/a/%252F%3F%23");
        assert_eq!(object_path("照片.jpg"), "/%E7%85%A7%E7%89%87.jpg");
    }

    #[test]
    fn type_b_counts_whole_minutes() {
        let t = UNIX_EPOCH + Duration::from_secs(1_439_596_859);
        assert_eq!(
            AuthType::B.written(t),
            UNIX_EPOCH + Duration::from_secs(1_439_596_800)
        );
        assert_eq!(AuthType::A.written(t), t);
    }
}
