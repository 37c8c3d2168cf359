//! The URLs of many parts of one multipart upload, signed as a batch.
//!
//! Part URLs differ only in `partNumber`, so a batch signs its first part the ordinary way
//! (through the provider's own presigner) and keeps what that signing built: the credential,
//! date, expiry, token and encoded key, in the text the signature covers (the V4 canonical
//! request, the V1 string to sign) and in the URL, both split around the part number, and the
//! signing key (the derived V4 key, the V1 HMAC key) with the hash and HMAC state of the text
//! before the number. Each part then costs one hash of the text after the number (V4), one
//! HMAC and one URL copy; the URLs are those the ordinary presigner makes, byte for byte.
//!
//! The split is used only when `partNumber=<first>` stands exactly once as a parameter in
//! each text; otherwise (a raw V1 key that itself reads `?partNumber=1&`) every part is
//! signed the ordinary way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::{digest, hmac};

use crate::aliyun::oss::{self, V4Options};
use crate::aws::s3;
use crate::credential::Credential;
use crate::encode::{RFC3986_UNRESERVED, hex_lower, percent_encode};
use crate::object::{ObjectRequest, PresignedUrl, UrlParams};
use crate::signing_key::SigningKeyCache;
use crate::time::format_date;
use crate::v4::{self, Stages};

/// The query parameter that numbers a part (OSS and S3 alike).
pub(crate) const PART_NUMBER: &str = "partNumber";

/// Parts of one upload, each with its URL: OSS signature V4.
pub(crate) fn oss_v4(
    credential: &Credential,
    params: &UrlParams<'_>,
    part_numbers: &[u32],
    keys: &SigningKeyCache,
) -> Vec<PresignedUrl> {
    sign_parts(params, part_numbers, |params| {
        let options = V4Options::default();
        let (url, stages) = oss::presign_v4_stages(credential, params, &options, keys);
        let id = (
            &v4::OSS4,
            credential.access_key_secret.as_str(),
            options.product,
        );
        Signed::v4(url, stages, keys, id, params)
    })
}

/// Parts of one upload, each with its URL: S3 SigV4.
pub(crate) fn s3(
    credential: &Credential,
    params: &UrlParams<'_>,
    part_numbers: &[u32],
    keys: &SigningKeyCache,
) -> Vec<PresignedUrl> {
    sign_parts(params, part_numbers, |params| {
        let (url, stages) = s3::presign_stages(credential, params, keys);
        let id = (&v4::AWS4, credential.secret_access_key(), s3::SERVICE);
        Signed::v4(url, stages, keys, id, params)
    })
}

/// Parts of one upload, each with its URL: OSS signature V1.
pub(crate) fn oss_v1(
    credential: &Credential,
    params: &UrlParams<'_>,
    part_numbers: &[u32],
) -> Vec<PresignedUrl> {
    sign_parts(params, part_numbers, |params| {
        let (url, string_to_sign) = oss::presign_v1_stages(credential, params);
        let key = hmac::Key::new(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            credential.access_key_secret.as_bytes(),
        );
        let signature = oss::signature_v1(&credential.access_key_secret, &string_to_sign);
        let signature = percent_encode(&signature, RFC3986_UNRESERVED);
        Signed::new(url, string_to_sign, signature, PartSigner::V1 { key })
    })
}

/// One part signed the ordinary way, with what a batch reuses.
struct Signed {
    url: PresignedUrl,
    /// The text the signature covers: the V4 canonical request, the V1 string to sign.
    text: String,
    /// The signature as the URL ends with it.
    url_signature: String,
    signer: PartSigner,
}

impl Signed {
    fn new(url: PresignedUrl, text: String, url_signature: String, signer: PartSigner) -> Self {
        Self {
            url,
            text,
            url_signature,
            signer,
        }
    }

    /// A V4 part signed into `url` with `stages`, whose signing key `keys` holds under `id`
    /// (flavor, secret, product or service) for the day and region of `params`.
    fn v4(
        url: PresignedUrl,
        stages: Stages,
        keys: &SigningKeyCache,
        (flavor, secret, service): (&v4::Flavor, &str, &str),
        params: &UrlParams<'_>,
    ) -> Self {
        let date = format_date(params.now);
        let key = keys.get(flavor, secret, &date, params.region, service);
        let signer = PartSigner::v4(key, &stages.string_to_sign);
        Self::new(url, stages.canonical_request, stages.signature, signer)
    }
}

/// How a part's signature is made from its text.
enum PartSigner {
    /// HMAC-SHA256 with the derived key over the string to sign, whose head (algorithm, date
    /// and scope) is already in `head`, followed by the hex SHA-256 of the canonical request.
    V4 { head: hmac::Context },
    /// HMAC-SHA1 with the secret over the string to sign, base64, percent-encoded.
    V1 { key: hmac::Key },
}

impl PartSigner {
    /// V4 signing with `key`, for strings to sign that start as `string_to_sign` does up to
    /// its final hash.
    fn v4(key: hmac::Key, string_to_sign: &str) -> Self {
        let hash_at = string_to_sign.rfind('\n').map_or(0, |at| at + 1);
        let mut head = hmac::Context::with_key(&key);
        head.update(&string_to_sign.as_bytes()[..hash_at]);
        Self::V4 { head }
    }
}

/// Text that differs between the parts of a batch only in the part number.
struct Template<'a> {
    head: &'a str,
    tail: &'a str,
}

impl<'a> Template<'a> {
    /// `text`, made for part `number`, split around the number, when `partNumber=<number>`
    /// stands in it exactly once as a parameter: after `?`, `&` or a line break, and before
    /// `&`, a line break or the end.
    fn around(text: &'a str, number: &str) -> Option<Self> {
        let needle = format!("{PART_NUMBER}={number}");
        let mut found = text.match_indices(&needle).filter(|(at, _)| {
            let before = text[..*at].chars().next_back();
            let after = text[at + needle.len()..].chars().next();
            matches!(before, Some('?' | '&' | '\n')) && matches!(after, None | Some('&' | '\n'))
        });
        let (at, _) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let value = at + needle.len() - number.len();
        Some(Self {
            head: &text[..value],
            tail: &text[value + number.len()..],
        })
    }
}

/// What every part of a batch shares.
struct Batch<'a> {
    text: Template<'a>,
    url: Template<'a>,
    /// For V4, the SHA-256 state after the text's head.
    text_hash: digest::Context,
    signer: &'a PartSigner,
}

impl Batch<'_> {
    /// The URL of part `number`.
    fn url(&self, number: u32) -> String {
        let number = number.to_string();
        let signature = match self.signer {
            PartSigner::V4 { head } => {
                let mut hash = self.text_hash.clone();
                hash.update(number.as_bytes());
                hash.update(self.text.tail.as_bytes());
                let mut mac = head.clone();
                mac.update(hex_lower(hash.finish().as_ref()).as_bytes());
                hex_lower(mac.sign().as_ref())
            }
            PartSigner::V1 { key } => {
                let mut mac = hmac::Context::with_key(key);
                for piece in [self.text.head, &number, self.text.tail] {
                    mac.update(piece.as_bytes());
                }
                percent_encode(&BASE64.encode(mac.sign().as_ref()), RFC3986_UNRESERVED)
            }
        };
        let length = self.url.head.len() + number.len() + self.url.tail.len() + signature.len();
        let mut url = String::with_capacity(length);
        for piece in [self.url.head, &number, self.url.tail, &signature] {
            url.push_str(piece);
        }
        url
    }
}

/// `params` with `partNumber=<number>` as the request's first query parameter, as a single
/// part URL has it.
fn with_part<T>(params: &UrlParams<'_>, number: u32, sign: impl FnOnce(&UrlParams<'_>) -> T) -> T {
    let number = number.to_string();
    let mut query = vec![(PART_NUMBER, number.as_str())];
    query.extend_from_slice(params.request.query);
    let params = UrlParams {
        request: ObjectRequest {
            query: &query,
            ..params.request
        },
        ..*params
    };
    sign(&params)
}

/// Parts `part_numbers` of the upload `params` names (its query holds `uploadId`, not
/// `partNumber`), in the order given: the first signed by `sign`, the others from what it
/// built (or each by `sign`, when its texts cannot be split around the number).
fn sign_parts(
    params: &UrlParams<'_>,
    part_numbers: &[u32],
    sign: impl Fn(&UrlParams<'_>) -> Signed,
) -> Vec<PresignedUrl> {
    let Some(&first) = part_numbers.first() else {
        return Vec::new();
    };
    let signed = with_part(params, first, &sign);
    let number = first.to_string();
    let batch = signed
        .url
        .url
        .strip_suffix(&signed.url_signature)
        .and_then(|unsigned| {
            let text = Template::around(&signed.text, &number)?;
            let url = Template::around(unsigned, &number)?;
            let mut text_hash = digest::Context::new(&digest::SHA256);
            text_hash.update(text.head.as_bytes());
            Some(Batch {
                text,
                url,
                text_hash,
                signer: &signed.signer,
            })
        });
    let expiration = signed.url.expiration;
    part_numbers
        .iter()
        .map(|&number| match &batch {
            Some(batch) => PresignedUrl {
                url: batch.url(number),
                expiration,
            },
            None => with_part(params, number, |params| sign(params).url),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::endpoint::{Addressing, Endpoint};
    use crate::presign::{Presigner, Scheme};

    /// 2026-11-22T08:53:10Z.
    const NOW: u64 = 1_795_337_590;
    const KEY: &str = "uploads/anonymous/big file+1.bin";
    const UPLOAD_ID: &str = "0004B9894A22E5B1888A1E29F8236E2D";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn vended() -> Credential {
        Credential::new(
            "STS.test-vended-key",
            "vended-secret",
            Some("CAIS+vended/token==".to_owned()),
        )
    }

    fn presigner(scheme: Scheme) -> Presigner {
        match scheme {
            Scheme::S3 => Presigner::new(
                scheme,
                Endpoint::new(
                    "https",
                    "s3.us-east-1.amazonaws.com",
                    Addressing::VirtualHosted,
                ),
                "examplebucket",
                "us-east-1",
            ),
            _ => Presigner::new(
                scheme,
                oss::public_endpoint("cn-hangzhou"),
                "examplebucket",
                "cn-hangzhou",
            ),
        }
    }

    fn part_urls(
        scheme: Scheme,
        key: &str,
        headers: &[(&str, &str)],
        numbers: &[u32],
    ) -> Vec<String> {
        let request = ObjectRequest {
            method: "PUT",
            bucket: "examplebucket",
            key,
            query: &[("uploadId", UPLOAD_ID)],
            headers,
        };
        presigner(scheme)
            .part_urls(&vended(), request, numbers, now(), Duration::from_secs(900))
            .into_iter()
            .map(|url| url.url)
            .collect()
    }

    fn single_url(scheme: Scheme, key: &str, headers: &[(&str, &str)], number: u32) -> String {
        let number = number.to_string();
        let query = [("partNumber", number.as_str()), ("uploadId", UPLOAD_ID)];
        let request = ObjectRequest {
            method: "PUT",
            bucket: "examplebucket",
            key,
            query: &query,
            headers,
        };
        presigner(scheme)
            .url(&vended(), request, now(), Duration::from_secs(900))
            .url
    }

    /// The URL's signature parameter.
    fn signature(url: &str) -> &str {
        url.rsplit_once("ignature=").map_or("", |(_, s)| s)
    }

    #[test]
    fn batch_signatures_are_those_the_official_sdks_make() {
        // oss2 1.x `Bucket.sign_url` (V4 and V1; alibabacloud-oss-v2 agrees) and botocore's
        // `S3SigV4QueryAuth`, clocks pinned to 2026-11-22T08:53:10Z, 900 s, the same inputs.
        let cases = [
            (
                Scheme::OssV4,
                [
                    "f17cb7125560c19cc4b7a4c746e163b9408127538d60f82232cbaa41cf6dbdad",
                    "005d2e13a46d1ec684deb20e8762f67ae4a086c0b91b494c64946f136507b998",
                ],
            ),
            (
                Scheme::OssV1,
                [
                    "TjaGy2ipKPE%2B%2Fs6Cq66%2BsUiOPpM%3D",
                    "NhUixO5qNnmeHO5ShCCwj20%2FSvg%3D",
                ],
            ),
            (
                Scheme::S3,
                [
                    "0202173a7c0581325b7eceed69299ce81618002e46f6b727e8dc302976a88bb9",
                    "21949336b1353e01987eaeaf46f61d0cde1831fd17beb3795844a25ffe64e714",
                ],
            ),
        ];
        for (scheme, expected) in cases {
            let urls = part_urls(scheme, KEY, &[], &[7, 10_000]);
            let got: Vec<&str> = urls.iter().map(|url| signature(url)).collect();
            assert_eq!(got, expected, "{scheme:?}");
            assert!(
                urls[0].contains("partNumber=7&uploadId=0004B9894A22E5B1888A1E29F8236E2D&"),
                "{}",
                urls[0]
            );
            assert!(
                urls[1].contains("partNumber=10000&uploadId="),
                "{}",
                urls[1]
            );
        }
    }

    #[test]
    fn every_part_url_is_the_url_a_single_presign_makes_for_that_part() {
        let numbers: Vec<u32> = [1, 2, 9, 10, 99, 100, 1_000, 9_999, 10_000].to_vec();
        for scheme in [Scheme::OssV4, Scheme::OssV1, Scheme::S3] {
            for headers in [
                &[][..],
                &[("Content-Type", "video/mp4"), ("x-oss-meta-a", "b")][..],
            ] {
                for key in [
                    KEY,
                    "uploads/anonymous/中文 ~*'()!.mp4",
                    "uploads/anonymous/a&partNumber=1",
                ] {
                    let batch = part_urls(scheme, key, headers, &numbers);
                    let singles: Vec<String> = numbers
                        .iter()
                        .map(|&n| single_url(scheme, key, headers, n))
                        .collect();
                    assert_eq!(batch, singles, "{scheme:?} {key}");
                }
            }
        }
    }

    #[test]
    fn a_v1_key_that_reads_as_a_part_number_is_signed_part_by_part() {
        // The raw V1 resource then holds `?partNumber=3&` twice: no split, each part signed
        // on its own, and still right.
        let key = "uploads/anonymous/a?partNumber=3&b";
        let text = format!("PUT\n\n\n1795338490\n/examplebucket/{key}?partNumber=3&uploadId=U");
        assert!(Template::around(&text, "3").is_none());
        let batch = part_urls(Scheme::OssV1, key, &[], &[3, 4]);
        assert_eq!(
            batch,
            [
                single_url(Scheme::OssV1, key, &[], 3),
                single_url(Scheme::OssV1, key, &[], 4)
            ]
        );
        assert_ne!(signature(&batch[0]), signature(&batch[1]));
    }

    #[test]
    fn a_template_splits_only_at_the_part_number_parameter() {
        let text = "PUT\n/b/k\npartNumber=12&uploadId=xpartNumber=12\nhost:h";
        let template = Template::around(text, "12").expect("one parameter");
        assert_eq!(
            (template.head, template.tail),
            ("PUT\n/b/k\npartNumber=", "&uploadId=xpartNumber=12\nhost:h")
        );
        assert!(Template::around("a?partNumber=123&b", "12").is_none());
        assert!(Template::around("a?partNumber=1&partNumber=1", "1").is_none());
        assert!(Template::around("a?partNumber=1", "1").is_some());
    }

    #[test]
    fn no_part_numbers_sign_nothing() {
        assert!(part_urls(Scheme::OssV4, KEY, &[], &[]).is_empty());
    }
}
