//! The bodies of the fuzz targets for what `stsvend-sign` parses: each takes arbitrary bytes,
//! drives one parser of untrusted input, and asserts what must hold whatever the input. This
//! package depends on the signing crate alone (and libFuzzer), so what it fuzzes is that
//! crate's code and nothing of the hosts'.
//!
//! - [`sts_json`], [`sts_xml`]: an STS answer with any status, Alibaba's JSON or AWS's XML.
//!
//! The binaries in `fuzz_targets/` hand them to libFuzzer (`scripts/fuzz`, which runs
//! `cargo fuzz --fuzz-dir crates/sign/fuzz`); `crates/sign/tests/fuzz_seeds.rs` replays the
//! committed seeds (`seeds/<target>/`) through the same functions in `cargo test`.

use stsvend_sign::{Credential, Error};

/// An HTTP status from the first two bytes, and the rest as the body.
fn status_and_body(data: &[u8]) -> Option<(u16, &[u8])> {
    let [high, low, body @ ..] = data else {
        return None;
    };
    Some((100 + u16::from_be_bytes([*high, *low]) % 500, body))
}

/// An Alibaba STS `AssumeRole` answer (JSON) with any status.
pub fn sts_json(data: &[u8]) {
    if let Some((status, body)) = status_and_body(data) {
        check_sts_outcome(
            status,
            stsvend_sign::aliyun::sts::parse_assume_role_response(status, body),
        );
    }
}

/// An AWS STS `AssumeRole` answer (XML) with any status.
pub fn sts_xml(data: &[u8]) {
    if let Some((status, body)) = status_and_body(data) {
        check_sts_outcome(
            status,
            stsvend_sign::aws::sts::parse_assume_role_response(status, body),
        );
    }
}

/// Credentials only from a 2xx answer with every field; an error that can be logged and
/// answered: no control characters, and bounded.
fn check_sts_outcome(status: u16, outcome: Result<Credential, Error>) {
    match outcome {
        Ok(credential) => {
            assert!(
                (200..300).contains(&status),
                "credentials from status {status}"
            );
            assert!(!credential.access_key_id.is_empty());
            assert!(!credential.access_key_secret.is_empty());
            assert!(
                credential
                    .security_token
                    .as_deref()
                    .is_some_and(|t| !t.is_empty())
            );
            assert!(credential.expiration.is_some());
        }
        Err(error) => {
            let shown = error.to_string();
            assert!(
                !shown.chars().any(char::is_control),
                "a control character in {shown:?}"
            );
            assert!(
                shown.chars().count() <= 600,
                "an unbounded error: {shown:?}"
            );
        }
    }
}
