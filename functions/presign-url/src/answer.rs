//! What presign-url answers: one URL or form ([`UrlAnswer`]), or every part of a multipart
//! upload ([`PartsAnswer`]), with the lifetime they share ([`Expiry`]). The JSON shapes live
//! here, apart from the steps that fill them, so that no step imports another's answer.

use std::time::{Duration, SystemTime};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use stsvend::format_iso8601;

/// A URL's lifetime, and the setting that shortened an explicit `expires`, if one did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiry {
    /// Seconds from now.
    pub(crate) expires_in: u64,
    /// `PRESIGN_MAX_EXPIRES_SECONDS`, `profile.expires` or `CredentialExpiration`.
    pub(crate) capped_by: Option<&'static str>,
}

/// Name/value pairs serialized as a JSON object in their own order.
pub(crate) struct Ordered<'a>(pub(crate) &'a [(String, String)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A presigned URL, and what the client must send with it; or a form upload, where to POST
/// and the fields to send before the file.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UrlAnswer<'a> {
    pub(crate) status_code: u16,
    pub(crate) method: &'a str,
    #[serde(rename = "URL")]
    pub(crate) url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) headers: Option<Ordered<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fields: Option<Ordered<'a>>,
    pub(crate) expiration: String,
    pub(crate) expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expires_capped_by: Option<&'static str>,
    /// The upload profile the answer was signed under.
    pub(crate) profile: &'a str,
    /// The key the server chose (a profile with a `key` template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<&'a str>,
}

impl<'a> UrlAnswer<'a> {
    /// A 200 answer for `method` at `url` under `profile`, expiring as `expiry` says from
    /// `now`.
    pub(crate) fn new(
        method: &'a str,
        url: String,
        now: SystemTime,
        expiry: Expiry,
        profile: &'a str,
    ) -> Self {
        Self {
            status_code: 200,
            method,
            url,
            headers: None,
            fields: None,
            expiration: format_iso8601(now + Duration::from_secs(expiry.expires_in)),
            expires_in: expiry.expires_in,
            expires_capped_by: expiry.capped_by,
            profile,
            key: None,
        }
    }
}

/// One part's URL and the headers to send with it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Part<'a> {
    pub(crate) part_number: u32,
    #[serde(rename = "URL")]
    pub(crate) url: String,
    pub(crate) headers: Ordered<'a>,
}

/// Every part's URL; `Expiration` and `ExpiresIn` apply to them all.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PartsAnswer<'a> {
    pub(crate) status_code: u16,
    pub(crate) method: &'static str,
    pub(crate) parts: Vec<Part<'a>>,
    pub(crate) expiration: String,
    pub(crate) expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expires_capped_by: Option<&'static str>,
    /// The upload profile the parts were signed under.
    pub(crate) profile: &'a str,
}

/// CloudFront signed cookies for the caller's prefix (`cookies: true`): set them for the CDN's
/// domain, and every file under `Resource` loads until `Expiration`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CookiesAnswer<'a> {
    pub(crate) status_code: u16,
    pub(crate) cookies: Ordered<'a>,
    pub(crate) resource: &'a str,
    pub(crate) expiration: String,
    pub(crate) expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expires_capped_by: Option<&'static str>,
    /// The upload profile the cookies were signed under.
    pub(crate) profile: &'a str,
}

impl<'a> CookiesAnswer<'a> {
    /// A 200 answer with `cookies` for `resource`, expiring as `expiry` says from `now`.
    pub(crate) fn new(
        cookies: &'a [(String, String)],
        resource: &'a str,
        now: SystemTime,
        expiry: Expiry,
        profile: &'a str,
    ) -> Self {
        Self {
            status_code: 200,
            cookies: Ordered(cookies),
            resource,
            expiration: format_iso8601(now + Duration::from_secs(expiry.expires_in)),
            expires_in: expiry.expires_in,
            expires_capped_by: expiry.capped_by,
            profile,
        }
    }
}
