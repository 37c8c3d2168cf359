//! The credential cache under a full load of callers: `cargo bench --bench cache`.
//!
//! A cache at its capacity ([`CachedRole::CAPACITY`] entries, one per caller) takes
//! a new caller (a miss that must make room), and answers a caller it holds (a hit). The
//! fetch is ready at once, so the figures are the cache's own work.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use stsvend::{CacheKey, CachedRole, Credential, CredentialCache};

fn key(caller: usize) -> CacheKey {
    CacheKey {
        role_arn: "acs:ram::1234567890123:role/uploader".to_owned(),
        role_session_name: format!("user-{caller}"),
        caller: format!("user-{caller}"),
        policy: format!(
            r#"{{"Statement":[{{"Action":["oss:PutObject","oss:AbortMultipartUpload","oss:ListParts"],"Effect":"Allow","Resource":["acs:oss:*:*:examplebucket/uploads/user-{caller}/*"]}}],"Version":"1"}}"#
        ),
        duration_seconds: 900,
        signed_by: None,
    }
}

fn cache(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let now = UNIX_EPOCH + Duration::from_secs(1_795_337_590);
    let full = CredentialCache::new(CachedRole::CAPACITY);
    // Credentials issued over the last 450 s, so that their expiries differ.
    let issue = |caller: usize| {
        let expires = now + Duration::from_secs(450 + (caller % 450) as u64);
        Credential {
            access_key_id: "STS.test-vended-key".to_owned(),
            access_key_secret: "vended-secret".to_owned(),
            security_token: Some(format!("CAIS{caller:0>600}")),
            expiration: Some(expires),
        }
    };
    runtime.block_on(async {
        for caller in 0..CachedRole::CAPACITY {
            let credential = issue(caller);
            full.get_or_fetch(key(caller), now, |_| true, || async { Ok(credential) })
                .await
                .expect("filled");
        }
    });

    let mut next = CachedRole::CAPACITY;
    c.bench_function("cache: a new caller into a full cache", |b| {
        b.iter(|| {
            next += 1;
            let (key, credential) = (key(next), issue(next));
            runtime.block_on(full.get_or_fetch(key, now, |_| true, || async { Ok(credential) }))
        });
    });
    let held = key(next);
    c.bench_function("cache: a caller it holds", |b| {
        b.iter(|| {
            runtime.block_on(full.get_or_fetch(
                black_box(held.clone()),
                now,
                |_| true,
                || async { unreachable!("a hit") },
            ))
        });
    });
}

criterion_group!(benches, cache);
criterion_main!(benches);
