//! Function Compute's per-invocation key: the function role's temporary key, handed to each
//! invocation in `x-fc-*` headers.

use lambda_http::Request;

use crate::credential::Credential;

/// The function role's temporary key that Function Compute hands each invocation
/// (`x-fc-access-key-id`, `x-fc-access-key-secret`, `x-fc-security-token`), fresher than the
/// one the instance started with; `None` unless all three are there (Debian 11 and later
/// custom runtimes no longer send the token, and then the environment's key is used).
///
/// Read only under Function Compute ([`Config::function_compute`](crate::host::config::Config::function_compute)), which generates these headers on every invocation and
/// accepts no request header starting with `x-fc-` from a client, so a client cannot choose
/// the key; and used for that invocation alone, never kept for another.
pub(crate) fn invocation_credential(request: &Request) -> Option<Credential> {
    let header = |name| {
        request
            .headers()
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
