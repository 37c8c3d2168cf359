//! record-upload's per-callback work, in process: `cargo bench --bench callback`.
//!
//! - verifying OSS's signature on a callback (the documentation's example, OSS's published
//!   512-bit key): the key-URL check, the string to sign and RSA PKCS#1 v1.5 with MD5;
//! - checking a pinned callback's tag (HMAC-SHA256 and a constant-time compare).

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{Criterion, criterion_group, criterion_main};
use stsvend_sign::aliyun::callback::{self, PublicKey, TagScope};

fn callbacks(c: &mut Criterion) {
    let key = PublicKey::from_pem(callback::PUBLISHED_KEY_PEM).expect("the published key");
    let key_url = BASE64.encode(callback::PUBLISHED_KEY_URL);
    let authorization =
        "kKQeGTRccDKyHB3H9vF+xYMSrmhMZjzzl2/kdD1ktNVgbWEfYTQG0G2SU/RaHBovRCE8OkQDjC3uG33esH2txA==";
    c.bench_function("oss callback: verify the signature", |b| {
        b.iter(|| {
            callback::public_key_url(black_box(&key_url)).expect("allowed");
            let string_to_sign =
                callback::string_to_sign("/index.php", Some("id=1&index=2"), b"bucket=yonghu-test")
                    .expect("string to sign");
            key.verify(black_box(authorization), &string_to_sign)
                .expect("the documentation's example verifies");
        });
    });
    let secret = b"bench-callback-secret-0123456789abcdef";
    let scope = TagScope::Key("uploads/user-42/holiday photo+1.jpg");
    let tag = callback::tag(secret, "examplebucket", scope, 1_795_338_490);
    c.bench_function("oss callback: check the tag", |b| {
        b.iter(|| {
            assert!(callback::tag_holds(
                secret,
                "examplebucket",
                black_box(scope),
                1_795_338_490,
                black_box(&tag)
            ));
        });
    });
}

criterion_group!(benches, callbacks);
criterion_main!(benches);
