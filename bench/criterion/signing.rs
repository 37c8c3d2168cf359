//! Time per signature, in process: `cargo bench --bench signing`.
//!
//! Each benchmark signs one realistic request with fixed inputs (a temporary key with a
//! 600-character token, a key with spaces and `+`), so the figures include encoding and URL
//! assembly, not only the HMAC. `batch_parts` compares 1,000 part URLs signed in one batch
//! with the same 1,000 signed one by one.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use stsvend_sign::{
    Addressing, Credential, Endpoint, Presigner, Scheme,
    aliyun::oss::{self, KeyCondition, ObjectRequest, PostParams, UrlParams},
    aliyun::sts::{self, AssumeRoleParams},
};

fn signing(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_337_590);
    let token = format!("CAIS{}", "x".repeat(600));
    let temporary = Credential::new("STS.test-vended-key", "vended-secret", Some(token));
    let own = Credential::new("LTAI-test-function-key", "function-secret", None);
    let endpoint = oss::public_endpoint("cn-hangzhou");
    let headers = [("Content-Type", "image/jpeg")];
    let request = ObjectRequest {
        method: "PUT",
        bucket: "examplebucket",
        key: "uploads/user-42/holiday photo+1.jpg",
        query: &[],
        headers: &headers,
    };
    let policy = r#"{"Statement":[{"Action":["oss:PutObject","oss:AbortMultipartUpload","oss:ListParts"],"Effect":"Allow","Resource":["acs:oss:*:*:examplebucket/uploads/user-42/*"]}],"Version":"1"}"#;

    c.bench_function("rpc v1: AssumeRole request", |b| {
        let params = AssumeRoleParams {
            role_arn: "acs:ram::1234567890123:role/uploader",
            role_session_name: "user-42",
            policy: Some(policy),
            duration_seconds: 900,
        };
        b.iter(|| {
            sts::assume_role_request(
                black_box("https://sts.aliyuncs.com"),
                &own,
                &params,
                now,
                "0123456789abcdef0123456789abcdef",
            )
        });
    });
    let url = |endpoint, region| UrlParams {
        endpoint,
        region,
        request,
        now,
        expires_in: Duration::from_secs(900),
    };
    let oss_url = url(&endpoint, "cn-hangzhou");
    c.bench_function("oss v1: presigned PUT", |b| {
        b.iter(|| oss::presign_v1(&temporary, black_box(&oss_url)));
    });
    let keys = oss::SigningKeyCache::default();
    c.bench_function("oss v4: presigned PUT", |b| {
        b.iter(|| oss::presign_v4(&temporary, black_box(&oss_url), &keys));
    });
    let post = PostParams {
        bucket: "examplebucket",
        region: "cn-hangzhou",
        key: KeyCondition::Exact("uploads/user-42/holiday photo+1.jpg"),
        min_bytes: 0,
        max_bytes: 104_857_600,
        content_type: Some("image/jpeg"),
        success_action_status: "201",
        expiration: now + Duration::from_secs(900),
        now,
        callback: None,
        pinned: &[],
    };
    c.bench_function("oss post v4: form policy", |b| {
        b.iter(|| oss::post_policy_v4(&temporary, black_box(&post), &keys))
    });
    let s3 = stsvend_sign::Endpoint::new(
        "https",
        "s3.us-east-1.amazonaws.com",
        stsvend_sign::Addressing::VirtualHosted,
    );
    let s3_url = url(&s3, "us-east-1");
    c.bench_function("sigv4: S3 presigned PUT", |b| {
        b.iter(|| stsvend_sign::aws::s3::presign(&temporary, black_box(&s3_url), &keys));
    });
    c.bench_function("sigv4: S3 POST policy", |b| {
        b.iter(|| stsvend_sign::aws::s3::post_policy(&temporary, black_box(&post), &keys))
    });
    c.bench_function("oss post v1: form policy", |b| {
        b.iter(|| oss::post_policy_v1(&temporary, black_box(&post)))
    });
}

/// A part upload with `query`.
fn part_request<'a>(query: &'a [(&'a str, &'a str)]) -> ObjectRequest<'a> {
    ObjectRequest {
        method: "PUT",
        bucket: "examplebucket",
        key: "uploads/user-42/holiday video+1.mp4",
        query,
        headers: &[],
    }
}

/// 1,000 part URLs of one upload: in one batch (`Presigner::part_urls`), and one by one as
/// 1,000 single requests sign them (`Presigner::url` with `partNumber` and `uploadId`).
fn batch_parts(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_337_590);
    let token = format!("CAIS{}", "x".repeat(600));
    let temporary = Credential::new("STS.test-vended-key", "vended-secret", Some(token));
    let upload_id = "0004B9894A22E5B1888A1E29F8236E2D";
    let numbers: Vec<u32> = (1..=1000).collect();
    let s3 = Endpoint::new(
        "https",
        "s3.us-east-1.amazonaws.com",
        Addressing::VirtualHosted,
    );
    for (name, scheme, endpoint, region) in [
        (
            "oss v4",
            Scheme::OssV4,
            oss::public_endpoint("cn-hangzhou"),
            "cn-hangzhou",
        ),
        (
            "oss v1",
            Scheme::OssV1,
            oss::public_endpoint("cn-hangzhou"),
            "cn-hangzhou",
        ),
        ("sigv4 s3", Scheme::S3, s3.clone(), "us-east-1"),
    ] {
        let presigner = Presigner::new(scheme, endpoint, "examplebucket", region);
        let expires_in = Duration::from_secs(900);
        c.bench_function(&format!("{name}: 1,000 part URLs in one batch"), |b| {
            b.iter(|| {
                let shared = [("uploadId", upload_id)];
                presigner.part_urls(
                    &temporary,
                    part_request(&shared),
                    black_box(&numbers),
                    now,
                    expires_in,
                )
            });
        });
        c.bench_function(&format!("{name}: 1,000 single part URLs"), |b| {
            b.iter(|| {
                for number in black_box(&numbers) {
                    let number = number.to_string();
                    let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
                    black_box(presigner.url(&temporary, part_request(&query), now, expires_in));
                }
            });
        });
    }
}

criterion_group!(benches, signing, batch_parts);
criterion_main!(benches);
