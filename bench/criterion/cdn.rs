//! Time per CDN download URL, in process, next to a bucket's presigned GET:
//! `cargo bench -p stsvend-sign --bench cdn`.
//!
//! Each signs the URL of one key with spaces and CJK (percent-encoded into the path, as every
//! type signs it), URL assembled: Alibaba Cloud CDN types A, B and C (one MD5 each), CloudFront
//! canned-policy URLs (an RSA 2048 signature, or ECDSA P-256), CloudFront cookies, and OSS V4 /
//! S3 presigned GETs of the same key with a temporary key for comparison. The private keys are
//! test keys generated for this bench, nothing else.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use stsvend_sign::{
    Addressing, Credential, Endpoint,
    aliyun::cdn::{AuthType, PrivateKey, UrlSigner},
    aliyun::oss::{self, ObjectRequest, UrlParams},
    aws::cloudfront::{self, HashAlgorithm},
};

/// A throwaway P-256 key (PKCS #8), made for this bench with `openssl genpkey -algorithm EC
/// -pkeyopt ec_paramgen_curve:P-256`; it signs nothing else.
const EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgP2S+b3PP8r2b8vuC
0io/5n8DnMY/SomZlKNMqq9WuXyhRANCAASXTewTysJx1gMjYRADcLaIQJy4cvsK
SytI5RblB/n1p8SjepchF+kvMriy+tcU1lmJ14aM/5Ycio9QALYkvvRm
-----END PRIVATE KEY-----
";

/// A throwaway RSA 2048 key (PKCS #8), made for this bench with `openssl genpkey -algorithm RSA
/// -pkeyopt rsa_keygen_bits:2048`; it signs nothing else.
const RSA_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC5KygC6Ex57lvG
JGV2eRKHx/6Y4mxKjE2Y2YKB5tcg8h+LKn6HrKGmxnOWd0GBAk5ItR0+2cDvhOg6
eskqun8T+zFouwSetjQNM6KaV1MwB/AFBr1bXlmUeQqjjjWokgVNopZXvlYN8Rt+
elhzr2b6P9uZjk2YsCXDD5LM2CXE5Z3DVb1X0iwVejhstlr2EMQsxTgIeFqKZbuB
i3xfdAFtWx1Ue6I4Vvq5FQM+vHLftIBgDb/uUsESKfjdGPpSs3QM5Zw+zNY3EprI
sedpXnkdOyDiSF/aw/YBHxO6pup0375FOyN+78UGfXskKb3MTGSKtIAinN2zIIOs
IBMNFIXpAgMBAAECggEAI42xQ4ml8X1+WpevcaWClNamQGWtRE0XMyOEZvvTT6yd
uONiYxuW+EY/eGMSjTpLnLNF18UIwhSjYGMmEBG6B7SiAolyNCUo7mX9MSRWQTEs
+VIXdp0xlwv8qnXKQME0ynjO5C8UJ94lGM5WAHRr0d4EBMJpjMk5nu/1EGbqLZlS
1zaZMuGUhoMQw+ZyMjWMnoFKCQlMDF/pE/tF9Y5BpUvGMTLdZiqCylzKq2Gu0QDA
yrctU/9E2pdd3/uUp0UgjMmK7XhaiSM0lUcbL7VYTH3xp/lfukq0XaBYqDYDrZFb
V21niisbbqaLQPh+qQ1FKbKKOnliZvlQGvhIsRoh/wKBgQD02G21SsTOlnn4XNsw
ClmfGT1i1JvhaT/F5BOW3wbd3SS70+cxN3dMxdAUW3ti16PlC9xDYWFetOYqi+ep
xnDDH8pn1r4x1qc4DBo2sW9MlmGicOP4mfy8DErqOBkic93NwvAB7gZ0J8/A/uMv
n676EaxbN29OTBCJJoa2wTG7gwKBgQDBmrtEG3Ci24D2NBB3nWftqwO/d+0C3aCF
/9hjx+5zvQWdxbAGqgbP8AsF5LObJp7LvQG6VQE8Pgg9NKvNv5+oOxfvY4uV1K5d
OUmxFqVGGkSnSQ81U0MhAfyxJzH13jfspeFnS0KnrEGZpUaQGIlkmBAHcJUFya0S
+trDdrQhIwKBgQCLf3/KCaZluZAWc/khvtPe9Idn9pA1djyyZ8bNb5Y+888JAKs4
/EwJPq7V2mVLJGcpiX9eGG5cgh6c4QcFUJ1QXp14Wf4U8SJmqWaKAL/T194aqc0J
B9rZ3PsVxQ509aTKpaUOxGmC5mfUoqQXrxgHO+iCM+xDpMzLB1s7ZokKNwKBgC2t
Od1Zs/tYWla79d6irnBuVpYHz01LyKGUuRLhiqqXwAl3KI6J8s2ATrl3OcCzHefn
kc7KW15BLGR0VsxWF27zcjQygi45XWH1MCOtuhSOAgCNxh7IpB/Xfiy1mJ3vbbZR
dJqQMQuqIlgDnGBGybOIBNAciawx5rmBobdX/CuNAoGAX10lovBR8PMV7T8NDr4O
i7kVOM8wOs99LiIxmXa2KnwSX0HEQ6a2p8IID9padhLkjC9mR7dxIQKbFevb3YTJ
SZwOikJXq1PfjmLpWFtUsOBXWLRfO1UeozmW+9epWxSFB8L0sq/PY09IPhmgPuIm
vr3gk2ynVlAVQFVzJb8T1Sc=
-----END PRIVATE KEY-----
";

fn cdn(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_337_590);
    let key = "uploads/user-42/holiday photo 照片.jpg";
    let rand = "477b3bbc253f467b8def6711128c7bec";
    for (name, auth) in [
        ("cdn type A: signed URL", AuthType::A),
        ("cdn type B: signed URL", AuthType::B),
        ("cdn type C: signed URL", AuthType::C),
    ] {
        let private = PrivateKey::parse("aliyuncdnexp1234").expect("key");
        let signer = UrlSigner::new(auth, "https://cdn.example.com", private);
        c.bench_function(name, |b| b.iter(|| signer.sign(black_box(key), now, rand)));
    }
    let url = "https://d111111abcdef8.cloudfront.net/uploads/user-42/holiday%20photo%20%E7%85%A7%E7%89%87.jpg";
    let ec = cloudfront::PrivateKey::from_pem(EC_KEY).expect("P-256 key");
    let ec_signer = cloudfront::Signer::new("K2JCJMDEHXQW5F", ec, HashAlgorithm::Sha256);
    c.bench_function("cloudfront: canned URL, ECDSA P-256", |b| {
        b.iter(|| ec_signer.canned_url(black_box(url), 1_795_338_490, [7; 32]))
    });
    {
        let rsa = cloudfront::PrivateKey::from_pem(RSA_KEY).expect("RSA 2048 key");
        let rsa_signer = cloudfront::Signer::new("K2JCJMDEHXQW5F", rsa, HashAlgorithm::Sha1);
        c.bench_function("cloudfront: canned URL, RSA 2048", |b| {
            b.iter(|| rsa_signer.canned_url(black_box(url), 1_795_338_490, [7; 32]))
        });
        c.bench_function("cloudfront: cookies, RSA 2048", |b| {
            b.iter(|| {
                rsa_signer.cookies(
                    black_box("https://d111111abcdef8.cloudfront.net/uploads/user-42/*"),
                    1_795_338_490,
                    [7; 32],
                )
            })
        });
    }
    let temporary = Credential::new(
        "STS.test-vended-key",
        "vended-secret",
        Some(format!("CAIS{}", "x".repeat(600))),
    );
    let request = ObjectRequest {
        method: "GET",
        bucket: "examplebucket",
        key,
        query: &[],
        headers: &[],
    };
    let keys = oss::SigningKeyCache::default();
    let endpoint = oss::public_endpoint("cn-hangzhou");
    let oss_get = UrlParams {
        endpoint: &endpoint,
        region: "cn-hangzhou",
        request,
        now,
        expires_in: Duration::from_secs(900),
    };
    c.bench_function("bucket: OSS V4 presigned GET", |b| {
        b.iter(|| oss::presign_v4(&temporary, black_box(&oss_get), &keys))
    });
    let s3 = Endpoint::new(
        "https",
        "s3.us-east-1.amazonaws.com",
        Addressing::VirtualHosted,
    );
    let s3_get = UrlParams {
        endpoint: &s3,
        region: "us-east-1",
        ..oss_get
    };
    c.bench_function("bucket: S3 presigned GET", |b| {
        b.iter(|| stsvend_sign::aws::s3::presign(&temporary, black_box(&s3_get), &keys))
    });
}

criterion_group!(benches, cdn);
criterion_main!(benches);
