//! Time per signature, in process: `cargo bench --bench signing`.
//!
//! Each benchmark signs one realistic request with fixed inputs (a temporary key with a
//! 600-character token, a key with spaces and `+`), so the figures include encoding and URL
//! assembly, not only the HMAC.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use stsvend::credential::Credential;
use stsvend::sign::aliyun::oss::{self, KeyCondition, ObjectRequest, PostParams, UrlParams};
use stsvend::sign::aliyun::sts::{self, AssumeRoleParams};

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
    let s3 = stsvend::sign::endpoint::Endpoint::new(
        "https",
        "s3.us-east-1.amazonaws.com",
        stsvend::sign::endpoint::Addressing::VirtualHosted,
    );
    let s3_url = url(&s3, "us-east-1");
    c.bench_function("sigv4: S3 presigned PUT", |b| {
        b.iter(|| stsvend::sign::aws::s3::presign(&temporary, black_box(&s3_url), &keys));
    });
    c.bench_function("sigv4: S3 POST policy", |b| {
        b.iter(|| stsvend::sign::aws::s3::post_policy(&temporary, black_box(&post), &keys))
    });
    c.bench_function("oss post v1: form policy", |b| {
        b.iter(|| oss::post_policy_v1(&temporary, black_box(&post)))
    });
}

criterion_group!(benches, signing);
criterion_main!(benches);
