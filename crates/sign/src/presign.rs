//! The presign dispatch: one URL or one form upload, signed the way this deployment signs,
//! which is chosen once at cold start as a [`Scheme`].

use std::time::{Duration, SystemTime};

use crate::aliyun::oss;
use crate::aws::s3;
use crate::credential::Credential;
use crate::endpoint::Endpoint;
use crate::object::{ObjectRequest, PostForm, PostParams, PresignedUrl, UrlParams};
use crate::parts;
use crate::provider::Provider;
use crate::signing_key::SigningKeyCache;

/// How URLs and forms are signed: a provider with one of its signature versions, so that an
/// impossible pair (S3 with OSS V1) cannot be written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// OSS, signature V4 (`OSS4-HMAC-SHA256`).
    OssV4,
    /// OSS, signature V1 (`OSSAccessKeyId` / `Expires` / `Signature`).
    OssV1,
    /// S3 and S3-compatible stores, SigV4.
    S3,
}

impl Scheme {
    /// The provider whose store checks these signatures.
    pub fn provider(self) -> Provider {
        match self {
            Self::OssV4 | Self::OssV1 => Provider::Aliyun,
            Self::S3 => Provider::Aws,
        }
    }
}

/// Signs URLs and forms for one bucket with one [`Scheme`], keeping derived V4 signing keys.
#[derive(Debug)]
pub struct Presigner {
    scheme: Scheme,
    endpoint: Endpoint,
    bucket: String,
    region: String,
    keys: SigningKeyCache,
}

impl Presigner {
    /// A presigner for `bucket` in `region`, served at `endpoint`.
    pub fn new(scheme: Scheme, endpoint: Endpoint, bucket: &str, region: &str) -> Self {
        Self {
            scheme,
            endpoint,
            bucket: bucket.to_owned(),
            region: region.to_owned(),
            keys: SigningKeyCache::default(),
        }
    }

    /// The scheme it signs with.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The bucket it signs for.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A URL for `request` (whose bucket is this presigner's), signed at `now` and valid for
    /// `expires_in`.
    pub fn url(
        &self,
        credential: &Credential,
        request: ObjectRequest<'_>,
        now: SystemTime,
        expires_in: Duration,
    ) -> PresignedUrl {
        // OSS V4 signs `x-oss-*`, `Content-Type` and `Content-MD5` by default; any other header
        // the request carries (`Content-Disposition`, an upload rule) is signed as an
        // additional header, so that a client cannot drop or change it.
        let mut additional: Vec<String> = request
            .headers
            .iter()
            .map(|(name, _)| name.to_ascii_lowercase())
            .filter(|name| {
                !name.starts_with("x-oss-") && name != "content-type" && name != "content-md5"
            })
            .collect();
        additional.sort();
        additional.dedup();
        let params = self.params(request, now, expires_in);
        match self.scheme {
            Scheme::OssV4 if !additional.is_empty() => {
                let names: Vec<&str> = additional.iter().map(String::as_str).collect();
                let options = oss::V4Options {
                    additional_headers: &names,
                    ..oss::V4Options::default()
                };
                oss::presign_v4_stages(credential, &params, &options, &self.keys).0
            }
            Scheme::OssV4 => oss::presign_v4(credential, &params, &self.keys),
            Scheme::OssV1 => oss::presign_v1(credential, &params),
            Scheme::S3 => s3::presign(credential, &params, &self.keys),
        }
    }

    /// What signing `request` at `now` for `expires_in` takes, with this presigner's endpoint
    /// and region.
    fn params<'a>(
        &'a self,
        request: ObjectRequest<'a>,
        now: SystemTime,
        expires_in: Duration,
    ) -> UrlParams<'a> {
        UrlParams {
            endpoint: &self.endpoint,
            region: &self.region,
            request,
            now,
            expires_in,
        }
    }

    /// A form upload policy and its fields.
    pub fn form(&self, credential: &Credential, params: &PostParams<'_>) -> PostForm {
        match self.scheme {
            Scheme::OssV4 => oss::post_policy_v4(credential, params, &self.keys),
            Scheme::OssV1 => oss::post_policy_v1(credential, params),
            Scheme::S3 => s3::post_policy(credential, params, &self.keys),
        }
    }

    /// Where a form upload is posted: the bucket's root.
    pub fn form_url(&self) -> String {
        self.endpoint.object_url(&self.bucket, "")
    }
}

impl Presigner {
    /// URLs for parts `part_numbers` of one multipart upload, in the order given, signed
    /// together: `request` is the part request without `partNumber` (its query holds
    /// `uploadId`), and each URL is the one [`Presigner::url`] makes for the request with
    /// `partNumber=<n>` first in its query, at a fraction of the cost (`parts.rs`).
    pub fn part_urls(
        &self,
        credential: &Credential,
        request: ObjectRequest<'_>,
        part_numbers: &[u32],
        now: SystemTime,
        expires_in: Duration,
    ) -> Vec<PresignedUrl> {
        let params = self.params(request, now, expires_in);
        match self.scheme {
            Scheme::OssV4 => parts::oss_v4(credential, &params, part_numbers, &self.keys),
            Scheme::OssV1 => parts::oss_v1(credential, &params, part_numbers),
            Scheme::S3 => parts::s3(credential, &params, part_numbers, &self.keys),
        }
    }
}
