//! Function Compute's per-invocation key: the function role's temporary key, handed to each
//! invocation in `x-fc-*` headers, read from the request's headers without I/O.

use http::HeaderMap;

use crate::Credential;

/// The function role's temporary key that Function Compute hands each invocation
/// (`x-fc-access-key-id`, `x-fc-access-key-secret`, `x-fc-security-token`), fresher than the
/// one the instance started with; `None` unless all three are there (Debian 11 and later
/// custom runtimes no longer send the token, and then the environment's key is used).
///
/// Read only under Function Compute (the host decides, by the platform's `FC_FUNCTION_NAME` and
/// `FC_REGION`), which generates these headers on every invocation and accepts no request
/// header starting with `x-fc-` from a client, so a client cannot choose the key; and used for
/// that invocation alone ([`with_invocation_credential`](crate::keyless::with_invocation_credential)),
/// never kept for another.
pub fn invocation_credential(headers: &HeaderMap) -> Option<Credential> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Some(Credential::new(
        header("x-fc-access-key-id")?,
        header("x-fc-access-key-secret")?,
        Some(header("x-fc-security-token")?),
    ))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_key_is_taken_only_when_all_three_headers_are_there() {
        let mut headers = HeaderMap::new();
        headers.insert("x-fc-access-key-id", HeaderValue::from_static("STS.fc-key"));
        headers.insert(
            "x-fc-access-key-secret",
            HeaderValue::from_static("fc-secret"),
        );
        assert_eq!(invocation_credential(&headers), None, "no token");
        headers.insert("x-fc-security-token", HeaderValue::from_static(""));
        assert_eq!(invocation_credential(&headers), None, "an empty token");
        headers.insert("x-fc-security-token", HeaderValue::from_static("fc-token"));
        let key = invocation_credential(&headers).expect("all three");
        assert_eq!(key.access_key_id, "STS.fc-key");
        assert_eq!(key.access_key_secret, "fc-secret");
        assert_eq!(key.security_token.as_deref(), Some("fc-token"));
    }
}
