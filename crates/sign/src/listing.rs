//! A presigned bucket listing (ListObjectsV2) of one prefix: `GET <bucket>/?list-type=2&prefix=…`,
//! the same request on OSS and S3.
//!
//! Whether the URL alone confines the listing to the prefix depends on what the signature
//! covers: OSS V4 and S3 SigV4 sign every query parameter, OSS V1 only its sub-resources, and
//! `prefix` is not one. A V1 listing URL is confined only by a session policy of the key that
//! signed it ([`Scheme::signs_listing_prefix`]).
//!
//! # Reference
//! - OSS: <https://www.alibabacloud.com/help/en/oss/developer-reference/listobjectsv2>
//! - S3: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>

use std::time::{Duration, SystemTime};

use crate::aliyun::oss;
use crate::credential::Credential;
use crate::object::{ObjectRequest, PresignedUrl};
use crate::presign::{Presigner, Scheme};

/// The most keys one ListObjectsV2 page returns, on OSS as on S3.
pub const MAX_KEYS: u32 = 1000;

/// One page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListParams<'a> {
    /// Only keys that start with this are listed (`prefix`).
    pub prefix: &'a str,
    /// List keys after this one (`start-after`).
    pub start_after: Option<&'a str>,
    /// The previous page's `NextContinuationToken` (`continuation-token`).
    pub continuation_token: Option<&'a str>,
    /// At most this many keys, 1 to [`MAX_KEYS`] (`max-keys`).
    pub max_keys: Option<u32>,
}

impl<'a> ListParams<'a> {
    /// The ListObjectsV2 query parameters: `list-type=2`, `prefix`, then the optional ones.
    ///
    /// # Format
    /// ```text
    /// list-type=2 & prefix=P [ & start-after=K ] [ & continuation-token=T ] [ & max-keys=N ]
    /// ```
    pub fn query(&self, max_keys: &'a str) -> Vec<(&'static str, &'a str)> {
        let mut query = vec![("list-type", "2"), ("prefix", self.prefix)];
        if let Some(start_after) = self.start_after {
            query.push(("start-after", start_after));
        }
        if let Some(token) = self.continuation_token {
            query.push(("continuation-token", token));
        }
        if self.max_keys.is_some() {
            query.push(("max-keys", max_keys));
        }
        query
    }
}

impl Scheme {
    /// Whether a URL signed with this scheme binds `prefix`, so that a listing URL cannot be
    /// rewritten to list another prefix: OSS V4 and SigV4 sign every query parameter; OSS V1
    /// signs only its sub-resources ([`oss::V1_SUBRESOURCES`]), which `prefix` is not.
    pub fn signs_listing_prefix(self) -> bool {
        match self {
            Self::OssV4 | Self::S3 => true,
            Self::OssV1 => oss::V1_SUBRESOURCES.contains(&"prefix"),
        }
    }
}

impl Presigner {
    /// A URL that lists one page of `params.prefix` in this presigner's bucket (`GET` on the
    /// bucket's root, no headers to send), signed at `now` and valid for `expires_in`.
    pub fn list(
        &self,
        credential: &Credential,
        params: &ListParams<'_>,
        now: SystemTime,
        expires_in: Duration,
    ) -> PresignedUrl {
        let max_keys = params.max_keys.map(|n| n.to_string()).unwrap_or_default();
        let query = params.query(&max_keys);
        let request = ObjectRequest {
            method: "GET",
            bucket: self.bucket(),
            key: "",
            query: &query,
            headers: &[],
        };
        self.url(credential, request, now, expires_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::oss::{
        Addressing, Endpoint, canonicalized_oss_headers, canonicalized_resource, signature_v1,
        string_to_sign_v1,
    };

    /// 2026-11-22T08:53:10Z.
    const NOW: u64 = 1_795_337_590;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn presigner(scheme: Scheme) -> Presigner {
        let endpoint = Endpoint::new(
            "https",
            "oss-cn-hangzhou.aliyuncs.com",
            Addressing::VirtualHosted,
        );
        Presigner::new(scheme, endpoint, "examplebucket", "cn-hangzhou")
    }

    fn function_key() -> Credential {
        Credential::new("LTAI-function-key", "function-secret", None)
    }

    fn alice(max_keys: Option<u32>) -> ListParams<'static> {
        ListParams {
            prefix: "uploads/alice/",
            start_after: Some("uploads/alice/b.png"),
            continuation_token: None,
            max_keys,
        }
    }

    /// The query of `url`, decoded.
    fn query_of(url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').expect("a query").1;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .expect("UTF-8")
                .into_owned()
        };
        query
            .split('&')
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect()
    }

    fn param<'q>(query: &'q [(String, String)], name: &str) -> &'q str {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| panic!("no {name}"), |(_, v)| v.as_str())
    }

    #[test]
    fn a_listing_url_is_a_get_on_the_bucket_root_with_the_list_parameters() {
        let url = presigner(Scheme::OssV4).list(
            &function_key(),
            &alice(Some(50)),
            at(NOW),
            Duration::from_secs(900),
        );
        assert!(
            url.url.starts_with(
                "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/?list-type=2&prefix=uploads%2Falice%2F&start-after=uploads%2Falice%2Fb.png&max-keys=50&x-oss-signature-version="
            ),
            "{}",
            url.url
        );
        assert_eq!(url.expiration, at(NOW + 900));
    }

    #[test]
    fn v1_does_not_sign_the_prefix_so_a_v1_listing_url_lists_any_prefix() {
        assert!(!Scheme::OssV1.signs_listing_prefix());
        assert!(Scheme::OssV4.signs_listing_prefix() && Scheme::S3.signs_listing_prefix());
        let signed = presigner(Scheme::OssV1).list(
            &function_key(),
            &alice(None),
            at(NOW),
            Duration::from_secs(900),
        );
        let query = query_of(&signed.url);
        let expires = param(&query, "Expires");
        assert_eq!(expires, (NOW + 900).to_string());
        // The request OSS would check after a client rewrote `prefix` to Bob's: what V1 signs
        // of it (the bucket's resource and its sub-resources) is what it signed of Alice's.
        let bob = [
            ("list-type", "2"),
            ("prefix", "uploads/bob/"),
            ("start-after", "uploads/alice/b.png"),
        ];
        let string_to_sign = string_to_sign_v1(
            "GET",
            "",
            "",
            expires,
            &canonicalized_oss_headers(&[]),
            &canonicalized_resource("examplebucket", "", &bob),
        );
        assert_eq!(string_to_sign, "GET\n\n\n1795338490\n/examplebucket/");
        assert_eq!(
            signature_v1("function-secret", &string_to_sign),
            param(&query, "Signature"),
            "the rewritten listing verifies with the original signature"
        );
    }

    #[test]
    fn v4_signs_the_prefix_so_a_rewritten_listing_url_fails() {
        let sign = |prefix| {
            let params = ListParams {
                prefix,
                ..alice(None)
            };
            let url = presigner(Scheme::OssV4).list(
                &function_key(),
                &params,
                at(NOW),
                Duration::from_secs(900),
            );
            param(&query_of(&url.url), "x-oss-signature").to_owned()
        };
        assert_ne!(sign("uploads/alice/"), sign("uploads/bob/"));
    }
}
